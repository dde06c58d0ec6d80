using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;

namespace Fluxion.Kernels;

/// <summary>
/// The geometry of a 2-D convolution: input [N, C, H, W], weight [O, C/G, KH, KW], output
/// [N, O, OH, OW], with stride, zero padding and dilation per spatial dim and G groups.
/// </summary>
internal sealed record ConvGeom(int N, int C, int H, int W, int O, int Groups, int KH, int KW,
    int SH, int SW, int PH, int PW, int DH, int DW)
{
    /// <summary>Output height: (H + 2·PH − DH·(KH − 1) − 1) / SH + 1.</summary>
    public int OH => (H + 2 * PH - DH * (KH - 1) - 1) / SH + 1;

    /// <summary>Output width.</summary>
    public int OW => (W + 2 * PW - DW * (KW - 1) - 1) / SW + 1;

    /// <summary>Input channels per group.</summary>
    public int Cg => C / Groups;

    /// <summary>Output channels per group.</summary>
    public int Og => O / Groups;

    /// <summary>Rows of a group's column matrix: Cg·KH·KW.</summary>
    public int K => Cg * KH * KW;

    /// <summary>Output positions per sample: OH·OW.</summary>
    public int L => OH * OW;
}

/// <summary>The geometry of a 2-D pooling window over planes [H, W] giving [OH, OW].</summary>
internal sealed record PoolGeom(int H, int W, int OH, int OW, int KH, int KW, int SH, int SW, int PH, int PW, int DH, int DW);

/// <summary>
/// Convolution by im2col + GEMM, its two adjoints (input gradient = transposed convolution by
/// GEMM + col2im, weight gradient = output-gradient × columnsᵀ), and the pooling kernels.
/// All buffers are dense row-major; work is split over the batch (and planes for pooling).
/// </summary>
internal static class Conv
{
    /// <summary>Splits [0, count) into chunks run in parallel when <paramref name="work"/> is large enough.</summary>
    private static void For(int count, long work, Action<int, int> body) => Reduce.For(count, work, body);

    // ---- im2col / col2im ---------------------------------------------------------------------

    /// <summary>
    /// Writes the column matrix of <paramref name="cg"/> channels of one sample (planes [cg, H, W] at
    /// <paramref name="xOff"/>): row r = (c, i, j) holds, at columns colOff + (oh·OW + ow), the value
    /// x[c, oh·SH − PH + i·DH, ow·SW − PW + j·DW] (0 in the padding); rows are <paramref name="ld"/> apart.
    /// </summary>
    public static void Im2Col<T>(ReadOnlySpan<T> x, int xOff, Span<T> cols, int colOff, int ld, int cg, ConvGeom g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int H = g.H, W = g.W, OH = g.OH, OW = g.OW, L = OH * OW;
        for (int c = 0; c < cg; c++)
        {
            var plane = x.Slice(xOff + c * H * W, H * W);
            for (int i = 0; i < g.KH; i++)
                for (int j = 0; j < g.KW; j++)
                {
                    var row = cols.Slice(((c * g.KH + i) * g.KW + j) * ld + colOff, L);
                    int dj = j * g.DW - g.PW;
                    ValidRange(dj, g.SW, W, OW, out int lo, out int hi);
                    for (int oh = 0; oh < OH; oh++)
                    {
                        var dst = row.Slice(oh * OW, OW);
                        int ih = oh * g.SH - g.PH + i * g.DH;
                        if ((uint)ih >= (uint)H || lo >= hi)
                        {
                            dst.Clear();
                            continue;
                        }
                        dst[..lo].Clear();
                        dst[hi..].Clear();
                        var src = plane.Slice(ih * W);
                        if (g.SW == 1) src.Slice(lo + dj, hi - lo).CopyTo(dst[lo..hi]);
                        else
                            for (int ow = lo; ow < hi; ow++) dst[ow] = src[ow * g.SW + dj];
                    }
                }
        }
    }

    /// <summary>The adjoint of <see cref="Im2Col{T}"/>: adds each column entry back into the input position it was read from.</summary>
    public static void Col2Im<T>(ReadOnlySpan<T> cols, int colOff, int ld, Span<T> x, int xOff, int cg, ConvGeom g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int H = g.H, W = g.W, OH = g.OH, OW = g.OW, L = OH * OW;
        for (int c = 0; c < cg; c++)
        {
            var plane = x.Slice(xOff + c * H * W, H * W);
            for (int i = 0; i < g.KH; i++)
                for (int j = 0; j < g.KW; j++)
                {
                    var row = cols.Slice(((c * g.KH + i) * g.KW + j) * ld + colOff, L);
                    int dj = j * g.DW - g.PW;
                    ValidRange(dj, g.SW, W, OW, out int lo, out int hi);
                    if (lo >= hi) continue;
                    for (int oh = 0; oh < OH; oh++)
                    {
                        int ih = oh * g.SH - g.PH + i * g.DH;
                        if ((uint)ih >= (uint)H) continue;
                        var src = row.Slice(oh * OW, OW);
                        var dst = plane.Slice(ih * W);
                        if (g.SW == 1)
                        {
                            var d = dst.Slice(lo + dj, hi - lo);
                            TensorPrimitives.Add(d, src[lo..hi], d);
                        }
                        else
                            for (int ow = lo; ow < hi; ow++) dst[ow * g.SW + dj] += src[ow];
                    }
                }
        }
    }

    /// <summary>The transposed column matrix: rows rowOff + (oh·OW + ow), each of cg·KH·KW entries (see <see cref="Im2Col{T}"/>).</summary>
    private static void Im2ColT<T>(ReadOnlySpan<T> x, int xOff, Span<T> colsT, int rowOff, int cg, ConvGeom g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int H = g.H, W = g.W, OH = g.OH, OW = g.OW, K = cg * g.KH * g.KW;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++)
            {
                var dst = colsT.Slice((rowOff + oh * OW + ow) * K, K);
                int h0 = oh * g.SH - g.PH, w0 = ow * g.SW - g.PW;
                int r = 0;
                for (int c = 0; c < cg; c++)
                {
                    int planeOff = xOff + c * H * W;
                    for (int i = 0; i < g.KH; i++)
                    {
                        int ih = h0 + i * g.DH;
                        if ((uint)ih >= (uint)H)
                        {
                            dst.Slice(r, g.KW).Clear();
                            r += g.KW;
                            continue;
                        }
                        int rowStart = planeOff + ih * W;
                        for (int j = 0; j < g.KW; j++, r++)
                        {
                            int iw = w0 + j * g.DW;
                            dst[r] = (uint)iw < (uint)W ? x[rowStart + iw] : T.Zero;
                        }
                    }
                }
            }
    }

    /// <summary>The output columns [lo, hi) whose input column ow·stride + offset lies in [0, size).</summary>
    private static void ValidRange(int offset, int stride, int size, int outSize, out int lo, out int hi)
    {
        lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
        int top = size - 1 - offset;
        hi = top < 0 ? 0 : Math.Min(outSize, top / stride + 1);
        if (lo > outSize) lo = outSize;
    }

    // ---- convolution and its adjoints --------------------------------------------------------
    //
    // The batch is processed in chunks of samples whose column matrices sit side by side, so each
    // group takes one large GEMM per chunk ([Og, K]·[K, chunk·L]) and the GEMM kernel decides the
    // threading; im2col/col2im and the layout copies are split over the chunk's samples.

    /// <summary>Upper bound on the elements of a chunk's column buffer (4 MB of float32).</summary>
    private const int MaxColumnElements = 1 << 20;

    private static int ChunkSize(ConvGeom g) => Math.Clamp(MaxColumnElements / Math.Max(1, g.K * g.L), 1, Math.Max(1, g.N));

    /// <summary>Copies a group's [Og, L] slices of samples n0..n0+nc of a [N, O, L] tensor into a dense [Og, nc·L] matrix.</summary>
    private static void GatherGroup<T>(T[] src, int srcOff, T[] dst, int n0, int nc, int grp, ConvGeom g)
    {
        int L = g.L, Og = g.Og, ld = nc * L;
        For(nc, (long)nc * Og * L, (s0, s1) =>
        {
            for (int s = s0; s < s1; s++)
                for (int o = 0; o < Og; o++)
                    Array.Copy(src, srcOff + ((n0 + s) * g.O + grp * Og + o) * L, dst, o * ld + s * L, L);
        });
    }

    /// <summary>y[N, O, OH, OW] = conv(x, w) + b (b may be null). x at xOff, w at wOff, b at bOff; y is overwritten.</summary>
    public static void Forward<T>(T[] x, int xOff, T[] w, int wOff, T[]? b, int bOff, T[] y, ConvGeom g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int K = g.K, L = g.L, Og = g.Og, Cg = g.Cg, HW = g.H * g.W;
        int chunk = ChunkSize(g);
        var cols = ArrayPool<T>.Shared.Rent(K * chunk * L);
        var ybuf = chunk > 1 ? ArrayPool<T>.Shared.Rent(Og * chunk * L) : null;
        for (int n0 = 0; n0 < g.N; n0 += chunk)
        {
            int nc = Math.Min(chunk, g.N - n0), ld = nc * L;
            for (int grp = 0; grp < g.Groups; grp++)
            {
                For(nc, (long)nc * K * L, (s0, s1) =>
                {
                    for (int s = s0; s < s1; s++)
                        Im2Col<T>(x, xOff + ((n0 + s) * g.C + grp * Cg) * HW, cols, s * L, ld, Cg, g);
                });
                if (nc == 1) Gemm.MatMul(w, wOff + grp * Og * K, cols, 0, y, (n0 * g.O + grp * Og) * L, Og, K, L);
                else Gemm.MatMul(w, wOff + grp * Og * K, cols, 0, ybuf!, 0, Og, K, ld);
                For(nc, (long)nc * Og * L, (s0, s1) =>
                {
                    for (int s = s0; s < s1; s++)
                        for (int o = 0; o < Og; o++)
                        {
                            var row = y.AsSpan(((n0 + s) * g.O + grp * Og + o) * L, L);
                            if (nc > 1) ybuf.AsSpan(o * ld + s * L, L).CopyTo(row);
                            if (b is not null) TensorPrimitives.Add(row, b[bOff + grp * Og + o], row);
                        }
                });
            }
        }
        ArrayPool<T>.Shared.Return(cols);
        if (ybuf is not null) ArrayPool<T>.Shared.Return(ybuf);
    }

    /// <summary>
    /// dx[N, C, H, W] = convᵀ(gy, w): the input gradient of a convolution for output gradient gy
    /// [N, O, OH, OW] (the transposed convolution). dx is overwritten.
    /// </summary>
    public static void InputGrad<T>(T[] gy, int gOff, T[] w, int wOff, T[] dx, ConvGeom g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int K = g.K, L = g.L, Og = g.Og, Cg = g.Cg, HW = g.H * g.W;
        // wT[grp] = W_grp^T, [K, Og]
        var wT = new T[g.Groups * K * Og];
        for (int grp = 0; grp < g.Groups; grp++)
            for (int o = 0; o < Og; o++)
                for (int k = 0; k < K; k++)
                    wT[grp * K * Og + k * Og + o] = w[wOff + (grp * Og + o) * K + k];
        dx.AsSpan(0, g.N * g.C * HW).Clear();
        int chunk = ChunkSize(g);
        var cols = ArrayPool<T>.Shared.Rent(K * chunk * L);
        var gbuf = chunk > 1 ? ArrayPool<T>.Shared.Rent(Og * chunk * L) : null;
        for (int n0 = 0; n0 < g.N; n0 += chunk)
        {
            int nc = Math.Min(chunk, g.N - n0), ld = nc * L;
            for (int grp = 0; grp < g.Groups; grp++)
            {
                if (nc == 1) Gemm.MatMul(wT, grp * K * Og, gy, gOff + (n0 * g.O + grp * Og) * L, cols, 0, K, Og, L);
                else
                {
                    GatherGroup(gy, gOff, gbuf!, n0, nc, grp, g);
                    Gemm.MatMul(wT, grp * K * Og, gbuf!, 0, cols, 0, K, Og, ld);
                }
                For(nc, (long)nc * K * L, (s0, s1) =>
                {
                    for (int s = s0; s < s1; s++)
                        Col2Im<T>(cols, s * L, ld, dx, ((n0 + s) * g.C + grp * Cg) * HW, Cg, g);
                });
            }
        }
        ArrayPool<T>.Shared.Return(cols);
        if (gbuf is not null) ArrayPool<T>.Shared.Return(gbuf);
    }

    /// <summary>
    /// dw[O, C/G, KH, KW] = Σ_n gy_n · cols(x_n)ᵀ: the weight gradient of a convolution for input x and
    /// output gradient gy. dw is overwritten.
    /// </summary>
    public static void WeightGrad<T>(T[] x, int xOff, T[] gy, int gOff, T[] dw, ConvGeom g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int K = g.K, L = g.L, Og = g.Og, Cg = g.Cg, HW = g.H * g.W;
        dw.AsSpan(0, g.O * K).Clear();
        int chunk = ChunkSize(g);
        var colsT = ArrayPool<T>.Shared.Rent(K * chunk * L);
        var gbuf = chunk > 1 ? ArrayPool<T>.Shared.Rent(Og * chunk * L) : null;
        var tmp = ArrayPool<T>.Shared.Rent(Og * K);
        for (int n0 = 0; n0 < g.N; n0 += chunk)
        {
            int nc = Math.Min(chunk, g.N - n0), ld = nc * L;
            for (int grp = 0; grp < g.Groups; grp++)
            {
                For(nc, (long)nc * K * L, (s0, s1) =>
                {
                    for (int s = s0; s < s1; s++)
                        Im2ColT<T>(x, xOff + ((n0 + s) * g.C + grp * Cg) * HW, colsT, s * L, Cg, g);
                });
                if (nc == 1) Gemm.MatMul(gy, gOff + (n0 * g.O + grp * Og) * L, colsT, 0, tmp, 0, Og, L, K);
                else
                {
                    GatherGroup(gy, gOff, gbuf!, n0, nc, grp, g);
                    Gemm.MatMul(gbuf!, 0, colsT, 0, tmp, 0, Og, ld, K);
                }
                var acc = dw.AsSpan(grp * Og * K, Og * K);
                TensorPrimitives.Add(acc, tmp.AsSpan(0, Og * K), acc);
            }
        }
        ArrayPool<T>.Shared.Return(colsT);
        ArrayPool<T>.Shared.Return(tmp);
        if (gbuf is not null) ArrayPool<T>.Shared.Return(gbuf);
    }

    /// <summary>Unfold: cols[N, C·KH·KW, L] of x[N, C, H, W] (groups = 1 geometry).</summary>
    public static void Unfold<T>(T[] x, int xOff, T[] cols, ConvGeom g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int K = g.C * g.KH * g.KW, L = g.L, CHW = g.C * g.H * g.W;
        For(g.N, (long)g.N * K * L, (n0, n1) =>
        {
            for (int n = n0; n < n1; n++) Im2Col<T>(x, xOff + n * CHW, cols.AsSpan(n * K * L, K * L), 0, L, g.C, g);
        });
    }

    /// <summary>Fold: x[N, C, H, W] = Σ of cols[N, C·KH·KW, L] into their positions (the adjoint of <see cref="Unfold{T}"/>); x is overwritten.</summary>
    public static void Fold<T>(T[] cols, int cOff, T[] x, ConvGeom g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int K = g.C * g.KH * g.KW, L = g.L, CHW = g.C * g.H * g.W;
        For(g.N, (long)g.N * K * L, (n0, n1) =>
        {
            for (int n = n0; n < n1; n++)
            {
                x.AsSpan(n * CHW, CHW).Clear();
                Col2Im<T>(cols.AsSpan(cOff + n * K * L, K * L), 0, L, x, n * CHW, g.C, g);
            }
        });
    }

    // ---- pooling -----------------------------------------------------------------------------

    /// <summary>
    /// Max pooling over planes [P, H, W] → [P, OH, OW] with −∞ padding; the index of each maximum is
    /// its flat position ih·W + iw in the plane. Scan order is row-major over the window; a larger value
    /// or a NaN replaces the current maximum (so ties keep the first, as PyTorch).
    /// </summary>
    public static void MaxPool<T>(T[] x, int xOff, T[] y, long[] idx, int planes, PoolGeom g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int H = g.H, W = g.W, OH = g.OH, OW = g.OW;
        For(planes, (long)planes * OH * OW * g.KH * g.KW, (p0, p1) =>
        {
            for (int p = p0; p < p1; p++)
            {
                var plane = x.AsSpan(xOff + p * H * W, H * W);
                int yo = p * OH * OW;
                for (int oh = 0; oh < OH; oh++)
                {
                    int h0 = oh * g.SH - g.PH;
                    int i0 = 0;
                    while (h0 + i0 * g.DH < 0) i0++;
                    for (int ow = 0; ow < OW; ow++)
                    {
                        int w0 = ow * g.SW - g.PW;
                        int j0 = 0;
                        while (w0 + j0 * g.DW < 0) j0++;
                        T best = T.NegativeInfinity;
                        long bi = (long)(h0 + i0 * g.DH) * W + (w0 + j0 * g.DW);
                        for (int i = i0; i < g.KH; i++)
                        {
                            int ih = h0 + i * g.DH;
                            if (ih >= H) break;
                            for (int j = j0; j < g.KW; j++)
                            {
                                int iw = w0 + j * g.DW;
                                if (iw >= W) break;
                                T v = plane[ih * W + iw];
                                if (v > best || T.IsNaN(v))
                                {
                                    best = v;
                                    bi = ih * W + iw;
                                }
                            }
                        }
                        y[yo + oh * OW + ow] = best;
                        idx[yo + oh * OW + ow] = bi;
                    }
                }
            }
        });
    }

    /// <summary>
    /// Averaging windows of a pooling: output row oh sums input rows [HStart[oh], HEnd[oh]) and output
    /// column ow sums columns [WStart[ow], WEnd[ow]); the sum is divided by HDiv[oh]·WDiv[ow]
    /// (or by <see cref="Divisor"/> when set).
    /// </summary>
    internal sealed record PoolWindows(int H, int W, int[] HStart, int[] HEnd, int[] WStart, int[] WEnd, int[] HDiv, int[] WDiv, int? Divisor)
    {
        /// <summary>Output height.</summary>
        public int OH => HStart.Length;

        /// <summary>Output width.</summary>
        public int OW => WStart.Length;

        /// <summary>The divisor of output (oh, ow).</summary>
        public int Div(int oh, int ow) => Divisor ?? HDiv[oh] * WDiv[ow];
    }

    /// <summary>y[P, OH, OW] = window averages of x[P, H, W].</summary>
    public static void AvgPool<T>(T[] x, int xOff, T[] y, int planes, PoolWindows win) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int H = win.H, W = win.W, OH = win.OH, OW = win.OW;
        For(planes, (long)planes * H * W * 2, (p0, p1) =>
        {
            for (int p = p0; p < p1; p++)
            {
                var plane = x.AsSpan(xOff + p * H * W, H * W);
                for (int oh = 0; oh < OH; oh++)
                    for (int ow = 0; ow < OW; ow++)
                    {
                        T s = T.Zero;
                        int ws = win.WStart[ow], len = win.WEnd[ow] - ws;
                        if (len > 0)
                            for (int h = win.HStart[oh]; h < win.HEnd[oh]; h++)
                                s += TensorPrimitives.Sum<T>(plane.Slice(h * W + ws, len));
                        y[(p * OH + oh) * OW + ow] = s / T.CreateTruncating(win.Div(oh, ow));
                    }
            }
        });
    }

    /// <summary>The adjoint of <see cref="AvgPool{T}"/>: dx[P, H, W] (overwritten) spreads each g/divisor over its window.</summary>
    public static void AvgPoolAdjoint<T>(T[] gy, int gOff, T[] dx, int planes, PoolWindows win) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int H = win.H, W = win.W, OH = win.OH, OW = win.OW;
        For(planes, (long)planes * H * W * 2, (p0, p1) =>
        {
            for (int p = p0; p < p1; p++)
            {
                var plane = dx.AsSpan(p * H * W, H * W);
                plane.Clear();
                for (int oh = 0; oh < OH; oh++)
                    for (int ow = 0; ow < OW; ow++)
                    {
                        int ws = win.WStart[ow], len = win.WEnd[ow] - ws;
                        if (len <= 0) continue;
                        T v = gy[gOff + (p * OH + oh) * OW + ow] / T.CreateTruncating(win.Div(oh, ow));
                        for (int h = win.HStart[oh]; h < win.HEnd[oh]; h++)
                        {
                            var d = plane.Slice(h * W + ws, len);
                            TensorPrimitives.Add(d, v, d);
                        }
                    }
            }
        });
    }
}
