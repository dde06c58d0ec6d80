using System.Numerics;

namespace Fluxion.Kernels;

/// <summary>
/// Sorting and selection along the last dim of a dense [rows, n] layout. NaN orders above every number
/// (as PyTorch and NumPy); equal values keep their original order unless a routine says otherwise.
/// </summary>
internal static class Sort
{
    /// <summary>Rows × n from which the rows of a sort or selection are split over the threads.</summary>
    private const long ParallelWork = 1 << 14;

    /// <summary>Runs <paramref name="body"/>(start, end) over the rows, split over the threads for large inputs.</summary>
    private static void Rows(int rows, int n, Action<int, int> body) => Parallelism.For(rows, (long)rows * Math.Max(n, 1), ParallelWork, body);

    /// <summary>
    /// An unsigned key whose order is the ascending order of the values with NaN largest: the IEEE bits with the sign
    /// flipped (negative values all bits flipped), -0 taken as +0 and every NaN as the one largest key; int64 offset by
    /// 2^63. float keys use the low 32 bits. <paramref name="descending"/> complements the key (NaN then comes first).
    /// </summary>
    private static ulong Key<T>(T v, bool descending) where T : INumber<T>
    {
        ulong k;
        if (typeof(T) == typeof(float))
        {
            float f = (float)(object)v;
            uint b;
            if (float.IsNaN(f)) b = uint.MaxValue;
            else if (f == 0) b = 0x80000000u;
            else
            {
                uint u = BitConverter.SingleToUInt32Bits(f);
                b = (u & 0x80000000u) != 0 ? ~u : u | 0x80000000u;
            }
            return descending ? ~b : b;
        }
        if (typeof(T) == typeof(double))
        {
            double f = (double)(object)v;
            if (double.IsNaN(f)) k = ulong.MaxValue;
            else if (f == 0) k = 0x8000000000000000ul;
            else
            {
                ulong u = BitConverter.DoubleToUInt64Bits(f);
                k = (u & 0x8000000000000000ul) != 0 ? ~u : u | 0x8000000000000000ul;
            }
        }
        else k = (ulong)(long.CreateTruncating(v) ^ long.MinValue);
        return descending ? ~k : k;
    }

    /// <summary>Packs each element of a row with its position: key in the high half, position in the low one, so the
    /// order of the packed values is (value, position) — a total order, which makes any sort stable and any selection
    /// pick the earliest of equal values. float packs into 64 bits, double and int64 into 128.</summary>
    private static void Pack<T, P>(ReadOnlySpan<T> row, bool descending, Span<P> dst) where T : INumber<T> where P : IBinaryInteger<P>
    {
        int shift = typeof(P) == typeof(ulong) ? 32 : 64;
        for (int i = 0; i < row.Length; i++) dst[i] = (P.CreateTruncating(Key(row[i], descending)) << shift) | P.CreateTruncating((uint)i);
    }

    /// <summary>The position packed by <see cref="Pack{T, P}"/>.</summary>
    private static long Position<P>(P p) where P : IBinaryInteger<P> => (long)uint.CreateTruncating(p);

    /// <summary>
    /// Rearranges <paramref name="a"/> so its first <paramref name="k"/> elements are its k smallest (in no order):
    /// quickselect with a median-of-three pivot (elements distinct, as packed values are).
    /// </summary>
    private static void SelectSmallest<P>(Span<P> a, int k) where P : IBinaryInteger<P>
    {
        int lo = 0, hi = a.Length - 1;
        if (k <= 0 || k >= a.Length) return;
        while (hi - lo > 16)
        {
            int mid = lo + ((hi - lo) >> 1);
            if (a[mid] < a[lo]) (a[mid], a[lo]) = (a[lo], a[mid]);
            if (a[hi] < a[lo]) (a[hi], a[lo]) = (a[lo], a[hi]);
            if (a[hi] < a[mid]) (a[hi], a[mid]) = (a[mid], a[hi]);
            P pivot = a[mid];
            int i = lo, j = hi;
            while (i <= j)
            {
                while (a[i] < pivot) i++;
                while (pivot < a[j]) j--;
                if (i <= j)
                {
                    (a[i], a[j]) = (a[j], a[i]);
                    i++;
                    j--;
                }
            }
            // [lo, j] <= pivot <= [i, hi]; the k-th smallest (index k - 1) lies in the part holding it
            if (k - 1 <= j) hi = j;
            else if (k - 1 >= i) lo = i;
            else return;
        }
        a.Slice(lo, hi - lo + 1).Sort();
    }

    /// <summary>Stable argsort of each row of the dense [rows, n] layout at <paramref name="off"/>: idx[r, :] lists the
    /// positions of row r in ascending (or descending) order, NaN counted as the largest value and equal values in
    /// their original order. Rows run in parallel.</summary>
    public static void ArgSort<T>(T[] x, int off, int rows, int n, bool descending, long[] idx) where T : INumber<T>
    {
        if (typeof(T) == typeof(float)) ArgSort<T, ulong>(x, off, rows, n, descending, idx);
        else ArgSort<T, UInt128>(x, off, rows, n, descending, idx);
    }

    private static void ArgSort<T, P>(T[] x, int off, int rows, int n, bool descending, long[] idx) where T : INumber<T> where P : IBinaryInteger<P>
    {
        Rows(rows, n, (r0, r1) =>
        {
            var buf = new P[n];
            for (int r = r0; r < r1; r++)
            {
                Pack<T, P>(x.AsSpan(off + r * n, n), descending, buf);
                buf.AsSpan().Sort();
                var o = idx.AsSpan(r * n, n);
                for (int i = 0; i < n; i++) o[i] = Position(buf[i]);
            }
        });
    }

    /// <summary>The positions of the <paramref name="k"/> largest (or smallest) values of each row, in that order
    /// (NaN largest; among equal values the earlier position first, and the earliest are the ones kept), into
    /// idx[rows, k]: a selection then a sort of the k kept. Rows run in parallel.</summary>
    public static void TopK<T>(T[] x, int off, int rows, int n, int k, bool largest, long[] idx) where T : INumber<T>
    {
        if (typeof(T) == typeof(float)) TopK<T, ulong>(x, off, rows, n, k, largest, idx);
        else TopK<T, UInt128>(x, off, rows, n, k, largest, idx);
    }

    private static void TopK<T, P>(T[] x, int off, int rows, int n, int k, bool largest, long[] idx) where T : INumber<T> where P : IBinaryInteger<P>
    {
        if (k == 0) return;
        Rows(rows, n, (r0, r1) =>
        {
            var buf = new P[n];
            for (int r = r0; r < r1; r++)
            {
                Pack<T, P>(x.AsSpan(off + r * n, n), largest, buf);
                SelectSmallest<P>(buf, k);
                var head = buf.AsSpan(0, k);
                head.Sort();
                for (int i = 0; i < k; i++) idx[r * k + i] = Position(head[i]);
            }
        });
    }

    /// <summary>
    /// The position of the k-th smallest element (0-based <paramref name="k"/>) of each row, NaN largest, chosen
    /// as PyTorch's CPU kthvalue chooses among equal values: Sedgewick's quickselect with a median-of-three pivot
    /// over (value, position) pairs. Rows run in parallel.
    /// </summary>
    public static void KthIndex<T>(T[] x, int off, int rows, int n, int k, long[] idx) where T : INumber<T>
    {
        // "a is above b": greater, or NaN over a number
        static bool Above(T a, T b) => (T.IsNaN(a) && !T.IsNaN(b)) || a > b;
        Rows(rows, n, (r0, r1) =>
        {
            var v = new T[n];
            var p = new long[n];
            void Swap(int i, int j)
            {
                (v[i], v[j]) = (v[j], v[i]);
                (p[i], p[j]) = (p[j], p[i]);
            }
            for (int r = r0; r < r1; r++)
            {
                x.AsSpan(off + r * n, n).CopyTo(v);
                for (int i = 0; i < n; i++) p[i] = i;
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
        });
    }

    /// <summary>
    /// The lower median of each row and its position, as PyTorch: the element of rank (m − 1) / 2 in the order
    /// (value, position) among the m counted elements (found by selection). <paramref name="ignoreNan"/> false: a row
    /// holding a NaN gives its first NaN; true: NaNs are not counted (a row of NaNs only gives its first NaN).
    /// </summary>
    public static void MedianIndex<T>(T[] x, int off, int rows, int n, bool ignoreNan, long[] idx) where T : INumber<T>
    {
        if (typeof(T) == typeof(float)) MedianIndex<T, ulong>(x, off, rows, n, ignoreNan, idx);
        else MedianIndex<T, UInt128>(x, off, rows, n, ignoreNan, idx);
    }

    private static void MedianIndex<T, P>(T[] x, int off, int rows, int n, bool ignoreNan, long[] idx) where T : INumber<T> where P : IBinaryInteger<P>
    {
        Rows(rows, n, (r0, r1) =>
        {
            var buf = new P[n];
            for (int r = r0; r < r1; r++)
            {
                var row = x.AsSpan(off + r * n, n);
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
                int rank = (n - nanCount - 1) / 2;
                Pack<T, P>(row, false, buf);
                SelectSmallest<P>(buf, rank + 1);
                // the largest of the rank + 1 smallest
                P best = buf[0];
                for (int i = 1; i <= rank; i++) if (buf[i] > best) best = buf[i];
                idx[r] = Position(best);
            }
        });
    }

    /// <summary>
    /// The most frequent value of each row (the smallest one among equally frequent values) and a position of it,
    /// as PyTorch's CPU mode: the rows are sorted by value (for rows of up to 16 elements with the same insertion
    /// sort, so NaNs land where PyTorch puts them) and the last position of the winning run is reported. Rows run in
    /// parallel.
    /// </summary>
    public static void ModeIndex<T>(T[] x, int off, int rows, int n, long[] idx) where T : INumber<T>
    {
        Rows(rows, n, (r0, r1) =>
        {
            var v = new T[n];
            var p = new long[n];
            var perm = new long[n];
            for (int r = r0; r < r1; r++)
            {
                var row = x.AsSpan(off + r * n, n);
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
                    using (Parallelism.Serial()) ArgSort(x, off + r * n, 1, n, false, perm);
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
        });
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
