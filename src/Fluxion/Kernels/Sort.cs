using System.Numerics;

namespace Fluxion.Kernels;

/// <summary>
/// Sorting and selection along the last dim of a dense [rows, n] layout. NaN orders above every number
/// (as PyTorch and NumPy); equal values keep their original order unless a routine says otherwise.
/// </summary>
internal static class Sort
{
    /// <summary>Ascending order with NaN largest: -1, 0 or 1.</summary>
    private static int CompareNanLast<T>(T a, T b) where T : INumber<T>
    {
        bool na = T.IsNaN(a), nb = T.IsNaN(b);
        if (na || nb) return na == nb ? 0 : na ? 1 : -1;
        return a < b ? -1 : a > b ? 1 : 0;
    }

    /// <summary>Stable argsort of each row: idx[r, :] lists the positions of row r in ascending (or descending)
    /// order, NaN counted as the largest value and equal values in their original order.</summary>
    public static void ArgSort<T>(ReadOnlySpan<T> x, int rows, int n, bool descending, Span<long> idx) where T : INumber<T>
    {
        var row = new T[n];
        var perm = new int[n];
        for (int r = 0; r < rows; r++)
        {
            x.Slice(r * n, n).CopyTo(row);
            for (int i = 0; i < n; i++) perm[i] = i;
            // a total order (value, then position) makes the unstable Array.Sort produce the stable result
            Array.Sort(perm, (i, j) =>
            {
                int c = CompareNanLast(row[i], row[j]);
                if (descending) c = -c;
                return c != 0 ? c : i.CompareTo(j);
            });
            for (int i = 0; i < n; i++) idx[r * n + i] = perm[i];
        }
    }

    /// <summary>
    /// The position of the k-th smallest element (0-based <paramref name="k"/>) of each row, NaN largest, chosen
    /// as PyTorch's CPU kthvalue chooses among equal values: Sedgewick's quickselect with a median-of-three pivot
    /// over (value, position) pairs.
    /// </summary>
    public static void KthIndex<T>(ReadOnlySpan<T> x, int rows, int n, int k, Span<long> idx) where T : INumber<T>
    {
        var v = new T[n];
        var p = new long[n];
        // "a is above b": greater, or NaN over a number
        static bool Above(T a, T b) => (T.IsNaN(a) && !T.IsNaN(b)) || a > b;
        for (int r = 0; r < rows; r++)
        {
            x.Slice(r * n, n).CopyTo(v);
            for (int i = 0; i < n; i++) p[i] = i;
            void Swap(int i, int j)
            {
                (v[i], v[j]) = (v[j], v[i]);
                (p[i], p[j]) = (p[j], p[i]);
            }
            int lo = 0, hi = n - 1;
            while (hi > lo)
            {
                if (hi == lo + 1)
                {
                    if (Above(v[lo], v[hi])) Swap(lo, hi);
                    break;
                }
                // the median of v[lo], v[mid], v[hi] becomes the pivot at lo, with v[lo + 1] <= pivot <= v[hi]
                Swap((lo + hi) >> 1, lo + 1);
                if (Above(v[lo + 1], v[hi])) Swap(lo + 1, hi);
                if (Above(v[lo], v[hi])) Swap(lo, hi);
                if (Above(v[lo + 1], v[lo])) Swap(lo + 1, lo);
                int i = lo + 1, j = hi;
                T pivot = v[lo];
                while (true)
                {
                    do i++; while (Above(pivot, v[i]));
                    do j--; while (Above(v[j], pivot));
                    if (j < i) break;
                    Swap(i, j);
                }
                Swap(lo, j);
                if (j <= k) lo = i;
                if (j >= k) hi = j - 1;
            }
            idx[r] = p[k];
        }
    }

    /// <summary>
    /// The lower median of each row and its position, as PyTorch: the element of rank (m − 1) / 2 in the order
    /// (value, position) among the m counted elements. <paramref name="ignoreNan"/> false: a row holding a NaN
    /// gives its first NaN; true: NaNs are not counted (a row of NaNs only gives its first NaN).
    /// </summary>
    public static void MedianIndex<T>(ReadOnlySpan<T> x, int rows, int n, bool ignoreNan, Span<long> idx) where T : INumber<T>
    {
        var perm = new long[n];
        for (int r = 0; r < rows; r++)
        {
            var row = x.Slice(r * n, n);
            int nan = -1, nanCount = 0;
            for (int i = 0; i < n; i++)
                if (T.IsNaN(row[i]))
                {
                    if (nan < 0) nan = i;
                    nanCount++;
                }
            if (nan >= 0 && (!ignoreNan || nanCount == n))
            {
                idx[r] = nan;
                continue;
            }
            ArgSort(row, 1, n, false, perm);
            idx[r] = perm[(n - nanCount - 1) / 2];
        }
    }

    /// <summary>
    /// The most frequent value of each row (the smallest one among equally frequent values) and a position of it,
    /// as PyTorch's CPU mode: the rows are sorted by value (for rows of up to 16 elements with the same insertion
    /// sort, so NaNs land where PyTorch puts them) and the last position of the winning run is reported.
    /// </summary>
    public static void ModeIndex<T>(ReadOnlySpan<T> x, int rows, int n, Span<long> idx) where T : INumber<T>
    {
        var v = new T[n];
        var p = new long[n];
        var perm = new long[n];
        for (int r = 0; r < rows; r++)
        {
            var row = x.Slice(r * n, n);
            if (n <= 16)
            {
                // straight insertion sort with the plain "<" of the values (a NaN compares false both ways)
                row.CopyTo(v);
                for (int i = 0; i < n; i++) p[i] = i;
                for (int i = 1; i < n; i++)
                {
                    T vi = v[i];
                    long pi = p[i];
                    if (vi < v[0])
                    {
                        for (int j = i; j > 0; j--)
                        {
                            v[j] = v[j - 1];
                            p[j] = p[j - 1];
                        }
                        v[0] = vi;
                        p[0] = pi;
                    }
                    else
                    {
                        int j = i;
                        while (vi < v[j - 1])
                        {
                            v[j] = v[j - 1];
                            p[j] = p[j - 1];
                            j--;
                        }
                        v[j] = vi;
                        p[j] = pi;
                    }
                }
            }
            else
            {
                ArgSort(row, 1, n, false, perm);
                for (int i = 0; i < n; i++)
                {
                    p[i] = perm[i];
                    v[i] = row[(int)perm[i]];
                }
            }
            long best = 0;
            int bestFreq = 0, freq = 0;
            for (int i = 0; i < n; i++)
            {
                freq++;
                if (i == n - 1 || v[i] != v[i + 1])
                {
                    if (freq > bestFreq)
                    {
                        best = p[i];
                        bestFreq = freq;
                    }
                    freq = 0;
                }
            }
            idx[r] = best;
        }
    }

    /// <summary>
    /// For each of <paramref name="values"/>, the insertion position in the ascending <paramref name="sorted"/> (read
    /// through <paramref name="sorter"/> when given), by binary search with PyTorch's comparisons: left
    /// (<paramref name="right"/> false) moves past s while !(s &gt;= v), right while !(s &gt; v), so a NaN value goes
    /// past every element and a NaN element is passed over.
    /// </summary>
    public static void SearchSorted<T>(ReadOnlySpan<T> sorted, ReadOnlySpan<long> sorter, ReadOnlySpan<T> values, bool right, Span<long> dst) where T : INumber<T>
    {
        int n = sorted.Length;
        bool useSorter = sorter.Length == n && n > 0;
        for (int k = 0; k < values.Length; k++)
        {
            T v = values[k];
            int lo = 0, hi = n;
            while (lo < hi)
            {
                int mid = lo + ((hi - lo) >> 1);
                T s = useSorter ? sorted[(int)sorter[mid]] : sorted[mid];
                bool past = right ? !(s > v) : !(s >= v);
                if (past) lo = mid + 1;
                else hi = mid;
            }
            dst[k] = lo;
        }
    }
}
