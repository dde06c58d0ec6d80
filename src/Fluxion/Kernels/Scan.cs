using System.Numerics;

namespace Fluxion.Kernels;

/// <summary>
/// Scans (cumulative sum, product, extreme, log-sum-exp) along the last dim of a dense [rows, n] layout.
/// </summary>
internal static class Scan
{
    /// <summary>dst[r, i] = Σ_{j ≤ i} x[r, j].</summary>
    public static void CumSum<T>(ReadOnlySpan<T> x, int rows, int n, Span<T> dst) where T : INumber<T>
    {
        for (int r = 0; r < rows; r++)
        {
            T acc = T.Zero;
            int o = r * n;
            for (int i = 0; i < n; i++) dst[o + i] = acc += x[o + i];
        }
    }

    /// <summary>float32 cumulative sum accumulated in double, each partial sum rounded once (as PyTorch's CPU kernel).</summary>
    public static void CumSum(ReadOnlySpan<float> x, int rows, int n, Span<float> dst)
    {
        for (int r = 0; r < rows; r++)
        {
            double acc = 0;
            int o = r * n;
            for (int i = 0; i < n; i++) dst[o + i] = (float)(acc += x[o + i]);
        }
    }

    /// <summary>float32 cumulative product accumulated in double (as PyTorch's CPU kernel).</summary>
    public static void CumProd(ReadOnlySpan<float> x, int rows, int n, Span<float> dst)
    {
        for (int r = 0; r < rows; r++)
        {
            double acc = 1;
            int o = r * n;
            for (int i = 0; i < n; i++) dst[o + i] = (float)(acc *= x[o + i]);
        }
    }

    /// <summary>dst[r, i] = Π_{j ≤ i} x[r, j].</summary>
    public static void CumProd<T>(ReadOnlySpan<T> x, int rows, int n, Span<T> dst) where T : INumber<T>
    {
        for (int r = 0; r < rows; r++)
        {
            T acc = T.One;
            int o = r * n;
            for (int i = 0; i < n; i++) dst[o + i] = acc *= x[o + i];
        }
    }

    /// <summary>
    /// Positions of the running maximum (or minimum) as PyTorch's cummax/cummin: a later element equal to
    /// the running extreme takes over (the last index among ties), a NaN takes over and stays (every
    /// later NaN takes over again).
    /// </summary>
    public static void CumExtremeIndex<T>(ReadOnlySpan<T> x, int rows, int n, bool max, Span<long> idx) where T : INumber<T>
    {
        for (int r = 0; r < rows; r++)
        {
            int o = r * n;
            if (n == 0) continue;
            T best = x[o];
            long bi = 0;
            idx[o] = 0;
            for (int i = 1; i < n; i++)
            {
                T v = x[o + i];
                bool take = T.IsNaN(v) || (!T.IsNaN(best) && (max ? v >= best : v <= best));
                if (take)
                {
                    best = v;
                    bi = i;
                }
                idx[o + i] = bi;
            }
        }
    }

    /// <summary>log(e^a + e^b), exact at infinities: equal infinite arguments give that infinity.</summary>
    private static T LogAddExp<T>(T a, T b) where T : IFloatingPointIeee754<T>
    {
        if (T.IsNaN(a) || T.IsNaN(b)) return T.NaN;
        T lo = T.Min(a, b), hi = T.Max(a, b);
        if (lo == hi && !T.IsFinite(lo)) return a;
        return hi + T.LogP1(T.Exp(lo - hi));
    }

    /// <summary>dst[r, i] = log Σ_{j ≤ i} exp(x[r, j]), accumulated stably.</summary>
    public static void LogCumSumExp<T>(ReadOnlySpan<T> x, int rows, int n, Span<T> dst) where T : IFloatingPointIeee754<T>
    {
        for (int r = 0; r < rows; r++)
        {
            T acc = T.NegativeInfinity;
            int o = r * n;
            for (int i = 0; i < n; i++) dst[o + i] = acc = LogAddExp(acc, x[o + i]);
        }
    }
}

/// <summary>Row reductions used by the scan-family ops (product) over a dense [rows, n] layout.</summary>
internal static class ScanReduce
{
    /// <summary>dst[r] = Π_j x[r, j] (1 for an empty row).</summary>
    public static void RowProd<T>(ReadOnlySpan<T> x, int rows, int n, Span<T> dst) where T : INumber<T>
    {
        for (int r = 0; r < rows; r++)
        {
            T acc = T.One;
            var row = x.Slice(r * n, n);
            for (int i = 0; i < n; i++) acc *= row[i];
            dst[r] = acc;
        }
    }
}
