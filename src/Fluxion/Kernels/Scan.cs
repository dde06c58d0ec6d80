using System.Numerics;

namespace Fluxion.Kernels;

/// <summary>
/// Scans (cumulative sum, product, extreme, log-sum-exp) along the last dim of a dense [rows, n] layout that starts
/// at an offset of its array; one pass per row, the rows split over the threads for large inputs.
/// </summary>
internal static class Scan
{
    /// <summary>Rows × n from which the rows of a scan are split over the threads.</summary>
    private const long ParallelWork = 1 << 15;

    /// <summary>Runs <paramref name="body"/>(start, end) over the rows, split over the threads for large inputs.</summary>
    internal static void Rows(int rows, int n, Action<int, int> body) => Parallelism.For(rows, (long)rows * Math.Max(n, 1), ParallelWork, body);

    /// <summary>dst[r, i] = Σ_{j ≤ i} x[r, j]. (Four rows interleaved, four running sums, measured 2.7x slower: ab scan.)</summary>
    public static void CumSum<T>(T[] x, int off, int rows, int n, T[] dst) where T : INumber<T> => Rows(rows, n, (r0, r1) =>
    {
        for (int r = r0; r < r1; r++)
        {
            T acc = T.Zero;
            var s = x.AsSpan(off + r * n, n);
            var d = dst.AsSpan(r * n, n);
            for (int i = 0; i < s.Length; i++) d[i] = acc += s[i];
        }
    });

    /// <summary>float32 cumulative sum accumulated in double, each partial sum rounded once (as PyTorch's CPU kernel).</summary>
    public static void CumSum(float[] x, int off, int rows, int n, float[] dst) => Rows(rows, n, (r0, r1) =>
    {
        for (int r = r0; r < r1; r++)
        {
            double acc = 0;
            var s = x.AsSpan(off + r * n, n);
            var d = dst.AsSpan(r * n, n);
            for (int i = 0; i < s.Length; i++) d[i] = (float)(acc += s[i]);
        }
    });

    // ---- scans along a middle dim: a dense [outer, n, inner] layout (inner > 1), vectorized across the inner lanes ----

    /// <summary>Inner lanes one task of a lane scan carries (its float32 accumulators fit in 4 KB of stack).</summary>
    private const int LaneBlock = 512;

    /// <summary>Runs <paramref name="body"/>(o, j0, j1) for every outer position o and block [j0, j1) of inner lanes,
    /// split over the threads for large inputs.</summary>
    private static void LaneBlocks(int outer, int n, int inner, Action<int, int, int> body)
    {
        int blocks = (inner + LaneBlock - 1) / LaneBlock;
        Parallelism.For(outer * blocks, (long)outer * n * inner, ParallelWork, (t0, t1) =>
        {
            for (int t = t0; t < t1; t++)
            {
                int j0 = t % blocks * LaneBlock;
                body(t / blocks, j0, Math.Min(inner, j0 + LaneBlock));
            }
        });
    }

    /// <summary>acc[j] = acc[j] ⊕ x[j] (⊕ = + or ·) in double and d[j] = (float)acc[j]: one row of a float32 lane scan.</summary>
    private static void AccumulateRow(ReadOnlySpan<float> x, Span<double> acc, Span<float> d, bool product)
    {
        int j = 0, w = Vector<float>.Count, h = Vector<double>.Count;
        if (Vector.IsHardwareAccelerated)
            for (; j + w <= x.Length; j += w)
            {
                Vector.Widen(new Vector<float>(x[j..]), out var lo, out var hi);
                var a0 = new Vector<double>(acc[j..]);
                var a1 = new Vector<double>(acc[(j + h)..]);
                a0 = product ? a0 * lo : a0 + lo;
                a1 = product ? a1 * hi : a1 + hi;
                a0.CopyTo(acc[j..]);
                a1.CopyTo(acc[(j + h)..]);
                Vector.Narrow(a0, a1).CopyTo(d[j..]);
            }
        for (; j < x.Length; j++) d[j] = (float)(acc[j] = product ? acc[j] * x[j] : acc[j] + x[j]);
    }

    /// <summary>The float32 lane scan: sums (or products) accumulated in double per lane, as the row kernels.</summary>
    private static void LanesF32(float[] x, int off, int outer, int n, int inner, float[] dst, bool product) => LaneBlocks(outer, n, inner, (o, j0, j1) =>
    {
        int len = j1 - j0, b = o * n * inner + j0;
        Span<double> acc = stackalloc double[len];
        acc.Fill(product ? 1.0 : 0.0);
        for (int i = 0; i < n; i++, b += inner) AccumulateRow(x.AsSpan(off + b, len), acc, dst.AsSpan(b, len), product);
    });

    /// <summary>dst[o, i, j] = Σ_{k ≤ i} x[o, k, j] over a dense [outer, n, inner] layout (float32, accumulated in double).</summary>
    public static void CumSumLanes(float[] x, int off, int outer, int n, int inner, float[] dst) => LanesF32(x, off, outer, n, inner, dst, product: false);

    /// <summary>dst[o, i, j] = Π_{k ≤ i} x[o, k, j] over a dense [outer, n, inner] layout (float32, accumulated in double).</summary>
    public static void CumProdLanes(float[] x, int off, int outer, int n, int inner, float[] dst) => LanesF32(x, off, outer, n, inner, dst, product: true);

    /// <summary>dst[o, i, j] = Σ_{k ≤ i} x[o, k, j] over a dense [outer, n, inner] layout: each row the previous one plus x's.</summary>
    public static void CumSumLanes<T>(T[] x, int off, int outer, int n, int inner, T[] dst) where T : INumber<T> => LaneBlocks(outer, n, inner, (o, j0, j1) =>
    {
        int len = j1 - j0, b = o * n * inner + j0;
        x.AsSpan(off + b, len).CopyTo(dst.AsSpan(b, len));
        for (int i = 1; i < n; i++, b += inner)
            System.Numerics.Tensors.TensorPrimitives.Add<T>(dst.AsSpan(b, len), x.AsSpan(off + b + inner, len), dst.AsSpan(b + inner, len));
    });

    /// <summary>dst[o, i, j] = Π_{k ≤ i} x[o, k, j] over a dense [outer, n, inner] layout: each row the previous one times x's.</summary>
    public static void CumProdLanes<T>(T[] x, int off, int outer, int n, int inner, T[] dst) where T : INumber<T> => LaneBlocks(outer, n, inner, (o, j0, j1) =>
    {
        int len = j1 - j0, b = o * n * inner + j0;
        x.AsSpan(off + b, len).CopyTo(dst.AsSpan(b, len));
        for (int i = 1; i < n; i++, b += inner)
            System.Numerics.Tensors.TensorPrimitives.Multiply<T>(dst.AsSpan(b, len), x.AsSpan(off + b + inner, len), dst.AsSpan(b + inner, len));
    });

    /// <summary>float32 cumulative product accumulated in double (as PyTorch's CPU kernel).</summary>
    public static void CumProd(float[] x, int off, int rows, int n, float[] dst) => Rows(rows, n, (r0, r1) =>
    {
        for (int r = r0; r < r1; r++)
        {
            double acc = 1;
            var s = x.AsSpan(off + r * n, n);
            var d = dst.AsSpan(r * n, n);
            for (int i = 0; i < s.Length; i++) d[i] = (float)(acc *= s[i]);
        }
    });

    /// <summary>dst[r, i] = Π_{j ≤ i} x[r, j].</summary>
    public static void CumProd<T>(T[] x, int off, int rows, int n, T[] dst) where T : INumber<T> => Rows(rows, n, (r0, r1) =>
    {
        for (int r = r0; r < r1; r++)
        {
            T acc = T.One;
            var s = x.AsSpan(off + r * n, n);
            var d = dst.AsSpan(r * n, n);
            for (int i = 0; i < s.Length; i++) d[i] = acc *= s[i];
        }
    });

    /// <summary>
    /// Positions of the running maximum (or minimum) as PyTorch's cummax/cummin: a later element equal to
    /// the running extreme takes over (the last index among ties), a NaN takes over and stays (every
    /// later NaN takes over again).
    /// </summary>
    public static void CumExtremeIndex<T>(T[] x, int off, int rows, int n, bool max, long[] idx) where T : INumber<T> => Rows(rows, n, (r0, r1) =>
    {
        if (n == 0) return;
        for (int r = r0; r < r1; r++)
        {
            var s = x.AsSpan(off + r * n, n);
            var o = idx.AsSpan(r * n, n);
            T best = s[0];
            long bi = 0;
            o[0] = 0;
            bool nan = T.IsNaN(best);
            for (int i = 1; i < s.Length; i++)
            {
                T v = s[i];
                bool vn = T.IsNaN(v);
                if (vn || (!nan && (max ? v >= best : v <= best)))
                {
                    best = v;
                    bi = i;
                    nan |= vn;
                }
                o[i] = bi;
            }
        }
    });

    /// <summary>log(e^a + e^b), exact at infinities: equal infinite arguments give that infinity.</summary>
    private static T LogAddExp<T>(T a, T b) where T : IFloatingPointIeee754<T>
    {
        if (T.IsNaN(a) || T.IsNaN(b)) return T.NaN;
        T lo = T.Min(a, b), hi = T.Max(a, b);
        if (lo == hi && !T.IsFinite(lo)) return a;
        return hi + T.LogP1(T.Exp(lo - hi));
    }

    /// <summary>dst[r, i] = log Σ_{j ≤ i} exp(x[r, j]), accumulated stably.</summary>
    public static void LogCumSumExp<T>(T[] x, int off, int rows, int n, T[] dst) where T : IFloatingPointIeee754<T> => Rows(rows, n, (r0, r1) =>
    {
        for (int r = r0; r < r1; r++)
        {
            T acc = T.NegativeInfinity;
            var s = x.AsSpan(off + r * n, n);
            var d = dst.AsSpan(r * n, n);
            for (int i = 0; i < s.Length; i++) d[i] = acc = LogAddExp(acc, s[i]);
        }
    });
}

/// <summary>Row reductions used by the scan-family ops (product) over a dense [rows, n] layout.</summary>
internal static class ScanReduce
{
    /// <summary>dst[r] = Π_j x[r, j] (1 for an empty row); a single long row is cut into chunks multiplied in
    /// parallel (four running products each), then the chunks' products in order.</summary>
    public static void RowProd<T>(T[] x, int off, int rows, int n, T[] dst) where T : INumber<T>
    {
        if (rows == 1 && n >= 1 << 15)
        {
            const int chunks = 16;
            var part = new T[chunks];
            Parallelism.For(chunks, chunks, Parallelism.Available, (ch, s, e) =>
            {
                int a = off + Parallelism.Start(n, chunks, ch), b = off + Parallelism.Start(n, chunks, ch + 1);
                if (typeof(T) == typeof(float))
                {
                    part[ch] = (T)(object)ProdSimd<float>(((float[])(object)x).AsSpan(a, b - a));
                    return;
                }
                if (typeof(T) == typeof(double))
                {
                    part[ch] = (T)(object)ProdSimd<double>(((double[])(object)x).AsSpan(a, b - a));
                    return;
                }
                T p0 = T.One, p1 = T.One, p2 = T.One, p3 = T.One;
                int i = a;
                for (; i + 4 <= b; i += 4)
                {
                    p0 *= x[i];
                    p1 *= x[i + 1];
                    p2 *= x[i + 2];
                    p3 *= x[i + 3];
                }
                for (; i < b; i++) p0 *= x[i];
                part[ch] = p0 * p1 * (p2 * p3);
            });
            T acc = T.One;
            foreach (var p in part) acc *= p;
            dst[0] = acc;
            return;
        }
        RowProdRows(x, off, rows, n, dst);
    }

    /// <summary>Π x for float/double: four vector accumulators (lane products combined at the end).</summary>
    private static T ProdSimd<T>(ReadOnlySpan<T> x) where T : struct, INumber<T>
    {
        int i = 0, w = Vector<T>.Count;
        T r = T.One;
        if (Vector.IsHardwareAccelerated && x.Length >= 4 * w)
        {
            Vector<T> v0 = Vector<T>.One, v1 = v0, v2 = v0, v3 = v0;
            for (; i <= x.Length - 4 * w; i += 4 * w)
            {
                v0 *= new Vector<T>(x.Slice(i));
                v1 *= new Vector<T>(x.Slice(i + w));
                v2 *= new Vector<T>(x.Slice(i + 2 * w));
                v3 *= new Vector<T>(x.Slice(i + 3 * w));
            }
            var v = v0 * v1 * (v2 * v3);
            for (int k = 0; k < w; k++) r *= v[k];
        }
        for (; i < x.Length; i++) r *= x[i];
        return r;
    }

    private static void RowProdRows<T>(T[] x, int off, int rows, int n, T[] dst) where T : INumber<T> => Scan.Rows(rows, n, (r0, r1) =>
    {
        for (int r = r0; r < r1; r++)
        {
            T acc = T.One;
            var row = x.AsSpan(off + r * n, n);
            for (int i = 0; i < row.Length; i++) acc *= row[i];
            dst[r] = acc;
        }
    });
}
