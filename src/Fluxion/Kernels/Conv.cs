using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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
    /// <summary>A/B switch (bench/Fluxion.Micro <c>ab conv</c>): 0 = the per-sample-block path as before issue 22's CNN
    /// work, 1 = the current default.</summary>
    internal static int Variant = 1;

    /// <summary>Splits [0, count) into chunks run in parallel when <paramref name="work"/> is large enough.</summary>
    private static void For(int count, long work, Action<int, int> body) => Reduce.For(count, work, body);

    /// <summary>Below this many multiply-adds in total a convolution runs on the calling thread.</summary>
    private const long ParallelWork = 1L << 19;

    /// <summary>
    /// Runs <paramref name="body"/>(chunk, b0, b1) over [0, blocks) split into chunks. With enough blocks
    /// (at least two per thread) and work, the chunks run in parallel, each on one thread with its GEMMs
    /// serial (each chunk is a <see cref="Parallelism"/> region): per-sample products are too small to split, and a worker then
    /// keeps its scratch buffers in its own cache. Otherwise one chunk runs on the calling thread and each
    /// GEMM decides its own threading. Returns the number of chunks.
    /// </summary>
    private static int ForBlocks(int blocks, long workPerBlock, Action<int, int, int> body)
    {
        int chunks = ChunkCount(blocks, workPerBlock);
        // more chunks than threads: dynamic balance when another process takes a core
        Parallelism.For(blocks, chunks, Parallelism.Available, body);
        return chunks;
    }

    /// <summary>The number of chunks <see cref="ForBlocks"/> will use (for per-chunk accumulators).</summary>
    private static int ChunkCount(int blocks, long workPerBlock)
    {
        int threads = Parallelism.Available;
        return blocks >= 2 * threads && threads > 1 && blocks * workPerBlock >= ParallelWork
            ? Math.Min(blocks, 4 * threads) : 1;
    }

    // ---- im2col / col2im ---------------------------------------------------------------------

    /// <summary>
    /// Writes the column matrix of <paramref name="cg"/> channels of one sample (planes [cg, H, W] at
    /// <paramref name="xOff"/>): row r = (c, i, j) holds, at columns colOff + (oh·OW + ow), the value
    /// x[c, oh·SH − PH + i·DH, ow·SW − PW + j·DW] (0 in the padding); rows are <paramref name="ld"/> apart.
    /// </summary>
    /// <remarks>With unit strides and OW = W (e.g. a "same" convolution) the valid part of a row is one
    /// shifted copy of the plane, and only the wrapped-around border columns are zeroed after it.</remarks>
    public static void Im2Col<T>(ReadOnlySpan<T> x, int xOff, Span<T> cols, int colOff, int ld, int cg, ConvGeom g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int H = g.H, W = g.W, OH = g.OH, OW = g.OW, L = OH * OW;
        int KH = g.KH, KW = g.KW, SH = g.SH, SW = g.SW, PH = g.PH, PW = g.PW, DH = g.DH, DW = g.DW;
        bool flat = SH == 1 && SW == 1 && OW == W;
        for (int c = 0; c < cg; c++)
        {
            var plane = x.Slice(xOff + c * H * W, H * W);
            for (int i = 0; i < KH; i++)
            {
                int di = i * DH - PH;
                ValidRange(di, SH, H, OH, out int ohLo, out int ohHi);
                for (int j = 0; j < KW; j++)
                {
                    var row = cols.Slice(((c * KH + i) * KW + j) * ld + colOff, L);
                    int dj = j * DW - PW;
                    ValidRange(dj, SW, W, OW, out int lo, out int hi);
                    if (lo >= hi || ohLo >= ohHi)
                    {
                        row.Clear();
                        continue;
                    }
                    row[..(ohLo * OW)].Clear();
                    row[(ohHi * OW)..].Clear();
                    if (flat)
                    {
                        int start = ohLo * W + lo, end = (ohHi - 1) * W + hi, shift = di * W + dj;
                        plane.Slice(start + shift, end - start).CopyTo(row[start..end]);
                        if (lo > 0 || hi < OW) ZeroBorderColumns(row, W, ohLo, ohHi, lo, hi);
                        continue;
                    }
                    for (int oh = ohLo; oh < ohHi; oh++)
                    {
                        var dst = row.Slice(oh * OW, OW);
                        dst[..lo].Clear();
                        dst[hi..].Clear();
                        var src = plane.Slice((oh * SH + di) * W);
                        if (SW == 1) src.Slice(lo + dj, hi - lo).CopyTo(dst[lo..hi]);
                        else
                            for (int ow = lo; ow < hi; ow++) dst[ow] = src[ow * SW + dj];
                    }
                }
            }
        }
    }

    /// <summary>
    /// The adjoint of <see cref="Im2Col{T}"/>: adds each column entry back into the input position it was
    /// read from. With <paramref name="clobber"/> the columns are scratch and may be modified: then, in the
    /// layout where Im2Col copies whole shifted planes, the padding entries are zeroed and each row is added
    /// with one contiguous vector add.
    /// </summary>
    public static void Col2Im<T>(Span<T> cols, int colOff, int ld, Span<T> x, int xOff, int cg, ConvGeom g, bool clobber = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int H = g.H, W = g.W, OH = g.OH, OW = g.OW, L = OH * OW;
        int KH = g.KH, KW = g.KW, SH = g.SH, SW = g.SW, PH = g.PH, PW = g.PW, DH = g.DH, DW = g.DW;
        bool flat = clobber && SH == 1 && SW == 1 && OW == W;
        for (int c = 0; c < cg; c++)
        {
            var plane = x.Slice(xOff + c * H * W, H * W);
            for (int i = 0; i < KH; i++)
            {
                int di = i * DH - PH;
                ValidRange(di, SH, H, OH, out int ohLo, out int ohHi);
                if (ohLo >= ohHi) continue;
                for (int j = 0; j < KW; j++)
                {
                    var row = cols.Slice(((c * KH + i) * KW + j) * ld + colOff, L);
                    int dj = j * DW - PW;
                    ValidRange(dj, SW, W, OW, out int lo, out int hi);
                    if (lo >= hi) continue;
                    if (flat)
                    {
                        if (lo > 0 || hi < OW) ZeroBorderColumns(row, W, ohLo, ohHi, lo, hi);
                        int start = ohLo * W + lo, end = (ohHi - 1) * W + hi, shift = di * W + dj;
                        var d = plane.Slice(start + shift, end - start);
                        TensorPrimitives.Add(d, row[start..end], d);
                        continue;
                    }
                    for (int oh = ohLo; oh < ohHi; oh++)
                    {
                        var src = row.Slice(oh * OW, OW);
                        var dst = plane.Slice((oh * SH + di) * W);
                        if (SW == 1)
                        {
                            var d = dst.Slice(lo + dj, hi - lo);
                            TensorPrimitives.Add(d, src[lo..hi], d);
                        }
                        else
                            for (int ow = lo; ow < hi; ow++) dst[ow * SW + dj] += src[ow];
                    }
                }
            }
        }
    }

    /// <summary>
    /// Zeroes columns [0, lo) and [hi, W) of rows [ohLo, ohHi) of a column-matrix row laid out as W-wide output rows (the
    /// "same"-layout shortcut of <see cref="Im2Col{T}"/> and <see cref="Col2Im{T}"/>): element stores, not a span per
    /// output row (a 3×3 kernel's border rows zero one element per output row; the spans cost more than the copy).
    /// </summary>
    private static void ZeroBorderColumns<T>(Span<T> row, int W, int ohLo, int ohHi, int lo, int hi) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (ohHi <= ohLo) return;
        if (Variant < 1)
        {
            for (int oh = ohLo; oh < ohHi; oh++)
            {
                row.Slice(oh * W, lo).Clear();
                row.Slice(oh * W + hi, W - hi).Clear();
            }
            return;
        }
        _ = row[(ohHi - 1) * W + W - 1]; // bounds, once
        ref T r = ref MemoryMarshal.GetReference(row);
        for (int oh = ohLo; oh < ohHi; oh++)
        {
            ref T rr = ref Unsafe.Add(ref r, oh * W);
            for (int q = 0; q < lo; q++) Unsafe.Add(ref rr, q) = T.Zero;
            for (int q = hi; q < W; q++) Unsafe.Add(ref rr, q) = T.Zero;
        }
    }

    /// <summary>The output positions [lo, hi) whose input position o·stride + offset lies in [0, size).</summary>
    private static void ValidRange(int offset, int stride, int size, int outSize, out int lo, out int hi)
    {
        lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
        int top = size - 1 - offset;
        hi = top < 0 ? 0 : Math.Min(outSize, top / stride + 1);
        if (lo > outSize) lo = outSize;
    }

    // ---- convolution and its adjoints --------------------------------------------------------
    //
    // The batch is cut into blocks of samples (one sample when it has enough output positions; a few
    // side by side when the maps are small), and the blocks are spread over the threads, each running
    // its GEMMs serially on per-thread scratch: one GEMM per block and group, [Og, K]·[K, nb·L]. A 1×1,
    // stride-1, unpadded convolution reads the input directly as its column matrix. A single-sample
    // block writes its GEMM result straight into the NCHW output; a multi-sample block goes through a
    // scratch [Og, nb·L] matrix. Transposed operands (Wᵀ, columnsᵀ) are strided GEMM operands, never copies.

    /// <summary>Output positions a block should have for an efficient GEMM (samples are grouped below it).</summary>
    private const int MinBlockColumns = 128;

    /// <summary>Upper bound on the elements of a block's column buffer (1 MB of float32).</summary>
    private const int MaxColumnElements = 1 << 18;

    /// <summary>Samples per block.</summary>
    private static int BlockSize(ConvGeom g)
    {
        int L = g.L;
        if (L >= MinBlockColumns) return 1;
        int nb = (MinBlockColumns + L - 1) / L;
        nb = Math.Min(nb, Math.Max(1, MaxColumnElements / Math.Max(1, g.K * L)));
        return Math.Clamp(nb, 1, Math.Max(1, g.N));
    }

    /// <summary>Whether the column matrix of a sample is the input itself (1×1 kernel, unit stride, no padding).</summary>
    private static bool IsPointwise(ConvGeom g) => g.KH == 1 && g.KW == 1 && g.SH == 1 && g.SW == 1 && g.PH == 0 && g.PW == 0;

    /// <summary>y[N, O, OH, OW] = conv(x, w) + b (b may be null). x at xOff, w at wOff, b at bOff; y is overwritten.</summary>
    /// <remarks>With <paramref name="relu"/>, y = max(conv(x, w) + b, 0) (NaN stays NaN), applied to each
    /// output row right after its GEMM while it is in cache.</remarks>
    public static void Forward<T>(T[] x, int xOff, T[] w, int wOff, T[]? b, int bOff, T[] y, ConvGeom g, bool relu = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int K = g.K, L = g.L, Og = g.Og, Cg = g.Cg, C = g.C, O = g.O, HW = g.H * g.W, N = g.N, G = g.Groups;
        int nb = BlockSize(g), blocks = (N + nb - 1) / nb;
        bool direct = IsPointwise(g);
        long work = (long)nb * O * K * L;
        // each group's weight [Og, K] packed once for all blocks (the per-block GEMMs then pack only their columns)
        var pw = PackWeights(w, wOff, g, transposed: false, ChunkCount(blocks, work));
        try
        {
            ForBlocks(blocks, work, (_, b0, b1) =>
            {
                int maxLd = nb * L;
                T[]? cols = direct && nb == 1 ? null : ArrayPool<T>.Shared.Rent(K * maxLd);
                T[]? ybuf = nb > 1 ? ArrayPool<T>.Shared.Rent(Og * maxLd) : null;
                for (int blk = b0; blk < b1; blk++)
                {
                    int n0 = blk * nb, nc = Math.Min(nb, N - n0), ld = nc * L;
                    for (int grp = 0; grp < G; grp++)
                    {
                        T[] src;
                        int srcOff;
                        if (cols is null)
                        {
                            src = x;
                            srcOff = xOff + (n0 * C + grp * Cg) * HW;
                        }
                        else
                        {
                            for (int s = 0; s < nc; s++)
                                Im2Col<T>(x, xOff + ((n0 + s) * C + grp * Cg) * HW, cols, s * L, ld, Cg, g);
                            src = cols;
                            srcOff = 0;
                        }
                        if (nc == 1)
                        {
                            int yo = (n0 * O + grp * Og) * L;
                            if (pw is not null) Gemm.MatMulPacked(pw[grp], src, srcOff, L, 1, y, yo, L, L, accumulate: false);
                            else Gemm.MatMul(w, wOff + grp * Og * K, src, srcOff, y, yo, Og, K, L);
                            if (b is not null || relu)
                                for (int o = 0; o < Og; o++)
                                {
                                    var row = y.AsSpan(yo + o * L, L);
                                    if (b is not null) TensorPrimitives.Add(row, b[bOff + grp * Og + o], row);
                                    if (relu) TensorPrimitives.Max(row, T.Zero, row);
                                }
                            continue;
                        }
                        if (pw is not null) Gemm.MatMulPacked(pw[grp], src, srcOff, ld, 1, ybuf!, 0, ld, ld, accumulate: false);
                        else Gemm.MatMul(w, wOff + grp * Og * K, src, srcOff, ybuf!, 0, Og, K, ld);
                        for (int s = 0; s < nc; s++)
                            for (int o = 0; o < Og; o++)
                            {
                                var row = y.AsSpan(((n0 + s) * O + grp * Og + o) * L, L);
                                var part = ybuf.AsSpan(o * ld + s * L, L);
                                if (b is not null) TensorPrimitives.Add(part, b[bOff + grp * Og + o], row);
                                else part.CopyTo(row);
                                if (relu) TensorPrimitives.Max(row, T.Zero, row);
                            }
                    }
                }
                if (cols is not null) ArrayPool<T>.Shared.Return(cols);
                if (ybuf is not null) ArrayPool<T>.Shared.Return(ybuf);
            });
        }
        finally { Release(pw); }
    }

    /// <summary>
    /// dx[N, C, H, W] = convᵀ(gy, w): the input gradient of a convolution for output gradient gy
    /// [N, O, OH, OW] (the transposed convolution). dx is overwritten.
    /// </summary>
    public static void InputGrad<T>(T[] gy, int gOff, T[] w, int wOff, T[] dx, ConvGeom g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int K = g.K, L = g.L, Og = g.Og, Cg = g.Cg, C = g.C, O = g.O, HW = g.H * g.W, N = g.N, G = g.Groups;
        int nb = BlockSize(g), blocks = (N + nb - 1) / nb;
        bool direct = IsPointwise(g);
        long work = (long)nb * O * K * L;
        // each group's W_grpᵀ [K, Og] packed once for all blocks
        var pw = PackWeights(w, wOff, g, transposed: true, ChunkCount(blocks, work));
        try
        {
            ForBlocks(blocks, work, (_, b0, b1) =>
            {
                int maxLd = nb * L;
                T[]? cols = direct && nb == 1 ? null : ArrayPool<T>.Shared.Rent(K * maxLd);
                T[]? gbuf = nb > 1 ? ArrayPool<T>.Shared.Rent(Og * maxLd) : null;
                for (int blk = b0; blk < b1; blk++)
                {
                    int n0 = blk * nb, nc = Math.Min(nb, N - n0), ld = nc * L;
                    for (int grp = 0; grp < G; grp++)
                    {
                        // B = the group's output gradient [Og, nc·L]
                        T[] gsrc = gy;
                        int gsrcOff = gOff + (n0 * O + grp * Og) * L;
                        if (nc > 1)
                        {
                            for (int s = 0; s < nc; s++)
                                for (int o = 0; o < Og; o++)
                                    Array.Copy(gy, gOff + ((n0 + s) * O + grp * Og + o) * L, gbuf!, o * ld + s * L, L);
                            gsrc = gbuf!;
                            gsrcOff = 0;
                        }
                        // A = W_grpᵀ [K, Og]: element (k, o) at w[(grp·Og + o)·K + k]
                        if (cols is null)
                        {
                            if (pw is not null) Gemm.MatMulPacked(pw[grp], gsrc, gsrcOff, L, 1, dx, (n0 * C + grp * Cg) * HW, L, L, accumulate: false);
                            else Gemm.MatMul(w, wOff + grp * Og * K, 1, K, gsrc, gsrcOff, L, 1, dx, (n0 * C + grp * Cg) * HW, K, Og, L);
                            continue;
                        }
                        if (pw is not null) Gemm.MatMulPacked(pw[grp], gsrc, gsrcOff, ld, 1, cols, 0, ld, ld, accumulate: false);
                        else Gemm.MatMul(w, wOff + grp * Og * K, 1, K, gsrc, gsrcOff, ld, 1, cols, 0, K, Og, ld);
                        for (int s = 0; s < nc; s++)
                        {
                            int xo = ((n0 + s) * C + grp * Cg) * HW;
                            dx.AsSpan(xo, Cg * HW).Clear();
                            Col2Im<T>(cols, s * L, ld, dx, xo, Cg, g, clobber: true);
                        }
                    }
                }
                if (cols is not null) ArrayPool<T>.Shared.Return(cols);
                if (gbuf is not null) ArrayPool<T>.Shared.Return(gbuf);
            });
        }
        finally { Release(pw); }
    }

    /// <summary>
    /// Each group's weight packed once for the per-block products of <see cref="Forward{T}"/> (W_grp [Og, K]) or
    /// <see cref="InputGrad{T}"/> (<paramref name="transposed"/>: W_grpᵀ [K, Og]), or null when the blocks' GEMMs should
    /// take the general entry point: the A/B switch <see cref="Variant"/> is 0, or the blocks run as one chunk on a
    /// thread that could run threads (the GEMMs then split themselves over the cores).
    /// </summary>
    private static PackedLhs<T>[]? PackWeights<T>(T[] w, int wOff, ConvGeom g, bool transposed, int chunks) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (Variant < 1 || (chunks <= 1 && Parallelism.Available > 1)) return null;
        int K = g.K, Og = g.Og;
        var pw = new PackedLhs<T>[g.Groups];
        for (int grp = 0; grp < g.Groups; grp++)
            pw[grp] = transposed ? Gemm.PackLhs(w, wOff + grp * Og * K, 1, K, K, Og) : Gemm.PackLhs(w, wOff + grp * Og * K, K, 1, Og, K);
        return pw;
    }

    /// <summary>Returns packed weights to the pool.</summary>
    private static void Release<T>(PackedLhs<T>[]? pw) where T : unmanaged
    {
        if (pw is null) return;
        foreach (var p in pw) p?.Dispose();
    }

    /// <summary>
    /// dw[O, C/G, KH, KW] = Σ_n gy_n · cols(x_n)ᵀ: the weight gradient of a convolution for input x and
    /// output gradient gy. dw is overwritten.
    /// </summary>
    /// <remarks>Each chunk of blocks accumulates into its own partial sum, added up at the end. When the
    /// kernel is smaller than the output channels (K &lt; Og, e.g. a first layer with one input channel)
    /// the transposed product cols·gyᵀ [K, Og] is formed instead: it fills the GEMM's register tile far
    /// better than [Og, K] with K &lt; 16.</remarks>
    public static void WeightGrad<T>(T[] x, int xOff, T[] gy, int gOff, T[] dw, ConvGeom g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int K = g.K, L = g.L, Og = g.Og, Cg = g.Cg, C = g.C, O = g.O, HW = g.H * g.W, N = g.N, G = g.Groups;
        int nb = BlockSize(g), blocks = (N + nb - 1) / nb;
        bool direct = IsPointwise(g), transposed = K < Og;
        long work = (long)nb * O * K * L;
        int chunks = ChunkCount(blocks, work);
        int size = O * K;
        // partial sums: chunk 0 writes into its own scratch too when transposed (it is [G][K, Og])
        var partials = new T[]?[chunks];
        int used = ForBlocks(blocks, work, (ch, b0, b1) =>
        {
            var acc = ArrayPool<T>.Shared.Rent(size);
            acc.AsSpan(0, size).Clear();
            int maxLd = nb * L;
            T[]? cols = direct && nb == 1 ? null : ArrayPool<T>.Shared.Rent(K * maxLd);
            T[]? gbuf = nb > 1 ? ArrayPool<T>.Shared.Rent(Og * maxLd) : null;
            for (int blk = b0; blk < b1; blk++)
            {
                int n0 = blk * nb, nc = Math.Min(nb, N - n0), ld = nc * L;
                for (int grp = 0; grp < G; grp++)
                {
                    T[] xs = x;
                    int xsOff = xOff + (n0 * C + grp * Cg) * HW;
                    if (cols is not null)
                    {
                        for (int s = 0; s < nc; s++)
                            Im2Col<T>(x, xOff + ((n0 + s) * C + grp * Cg) * HW, cols, s * L, ld, Cg, g);
                        xs = cols;
                        xsOff = 0;
                    }
                    T[] gs = gy;
                    int gsOff = gOff + (n0 * O + grp * Og) * L;
                    if (nc > 1)
                    {
                        for (int s = 0; s < nc; s++)
                            for (int o = 0; o < Og; o++)
                                Array.Copy(gy, gOff + ((n0 + s) * O + grp * Og + o) * L, gbuf!, o * ld + s * L, L);
                        gs = gbuf!;
                        gsOff = 0;
                    }
                    if (transposed) // acc_grp[K, Og] += cols [K, ld] · gyᵀ [ld, Og]
                        Gemm.MatMul(xs, xsOff, ld, 1, gs, gsOff, 1, ld, acc, grp * Og * K, K, ld, Og, accumulate: true);
                    else // acc_grp[Og, K] += gy [Og, ld] · colsᵀ [ld, K]
                        Gemm.MatMul(gs, gsOff, ld, 1, xs, xsOff, 1, ld, acc, grp * Og * K, Og, ld, K, accumulate: true);
                }
            }
            if (cols is not null) ArrayPool<T>.Shared.Return(cols);
            if (gbuf is not null) ArrayPool<T>.Shared.Return(gbuf);
            partials[ch] = acc;
        });
        var sum = partials[0]!;
        for (int ch = 1; ch < used; ch++)
        {
            TensorPrimitives.Add(sum.AsSpan(0, size), partials[ch].AsSpan(0, size), sum.AsSpan(0, size));
            ArrayPool<T>.Shared.Return(partials[ch]!);
        }
        if (!transposed) sum.AsSpan(0, size).CopyTo(dw);
        else
            for (int grp = 0; grp < G; grp++)
                for (int k = 0; k < K; k++)
                    for (int o = 0; o < Og; o++)
                        dw[(grp * Og + o) * K + k] = sum[grp * Og * K + k * Og + o];
        ArrayPool<T>.Shared.Return(sum);
    }

    /// <summary>db[o] = Σ_n Σ_l gy[n, o, l] for gy [N, O, L] at gOff (db overwritten); channels are split over threads.</summary>
    public static void BiasGrad<T>(T[] gy, int gOff, T[] db, int n, int o, int l) where T : unmanaged, IFloatingPointIeee754<T>
    {
        For(o, (long)n * o * l, (o0, o1) =>
        {
            for (int c = o0; c < o1; c++)
            {
                T s = T.Zero;
                for (int i = 0; i < n; i++) s += TensorPrimitives.Sum(new ReadOnlySpan<T>(gy, gOff + (i * o + c) * l, l));
                db[c] = s;
            }
        });
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
    /// or a NaN replaces the current maximum (so ties keep the first, as PyTorch). y and idx are overwritten.
    /// </summary>
    public static void MaxPool<T>(T[] x, int xOff, T[] y, int[] idx, int planes, PoolGeom g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int H = g.H, W = g.W, OH = g.OH, OW = g.OW;
        bool pair = g.KH == 2 && g.KW == 2 && g.SH == 2 && g.SW == 2 && g.PH == 0 && g.PW == 0 && g.DH == 1 && g.DW == 1
            && 2 * OH <= H && 2 * OW <= W; // ceil mode may add a partial window: general path
        For(planes, (long)planes * OH * OW * g.KH * g.KW, (p0, p1) =>
        {
            for (int p = p0; p < p1; p++)
            {
                if (pair && typeof(T) == typeof(float) && Avx512F.IsSupported && Vector512.IsHardwareAccelerated)
                    MaxPool2x2PlaneAvx512(Unsafe.As<float[]>(x), xOff + p * H * W, W, Unsafe.As<T[], float[]>(ref y), idx, p * OH * OW, OH, OW);
                else if (pair && typeof(T) == typeof(float) && Avx2.IsSupported && PoolAvx2)
                    MaxPool2x2PlaneAvx2(Unsafe.As<float[]>(x), xOff + p * H * W, W, Unsafe.As<T[], float[]>(ref y), idx, p * OH * OW, OH, OW);
                else if (pair) MaxPool2x2Plane(x, xOff + p * H * W, W, y, idx, p * OH * OW, OH, OW, 0);
                else MaxPoolPlane(x, xOff + p * H * W, y, idx, p * OH * OW, g);
            }
        });
    }

    /// <summary>One plane of a 2×2, stride-2, unpadded max pooling (the common case): the four candidates
    /// compared in scan order, NaN-propagating as <see cref="MaxPoolPlane{T}"/>.</summary>
    private static void MaxPool2x2Plane<T>(T[] x, int xo, int W, T[] y, int[] idx, int yo, int OH, int OW, int ow0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (ow0 >= OW) return;
        ref T X = ref MemoryMarshal.GetArrayDataReference(x);
        ref T Y = ref MemoryMarshal.GetArrayDataReference(y);
        ref int I = ref MemoryMarshal.GetArrayDataReference(idx);
        _ = x[xo + (2 * OH - 1) * W + 2 * OW - 1]; // bounds, once per plane
        _ = y[yo + OH * OW - 1];
        _ = idx[yo + OH * OW - 1];
        for (int oh = 0; oh < OH; oh++)
        {
            int r0 = 2 * oh * W, o = yo + oh * OW;
            for (int ow = ow0; ow < OW; ow++)
            {
                int q = r0 + 2 * ow;
                T best = Unsafe.Add(ref X, xo + q);
                int bi = q;
                T v = Unsafe.Add(ref X, xo + q + 1);
                if (v > best || T.IsNaN(v)) { best = v; bi = q + 1; }
                v = Unsafe.Add(ref X, xo + q + W);
                if (v > best || T.IsNaN(v)) { best = v; bi = q + W; }
                v = Unsafe.Add(ref X, xo + q + W + 1);
                if (v > best || T.IsNaN(v)) { best = v; bi = q + W + 1; }
                Unsafe.Add(ref Y, o + ow) = best;
                Unsafe.Add(ref I, o + ow) = bi;
            }
        }
    }

    /// <summary>
    /// <see cref="MaxPool2x2Plane{T}"/> for float with AVX-512, 16 outputs at a time: the even and odd
    /// columns of the two input rows are split by permutes, and the four candidates are compared in scan
    /// order with masked selects (the comparisons depend on the data, so branches would mispredict).
    /// </summary>
    private static unsafe void MaxPool2x2PlaneAvx512(float[] x, int xo, int W, float[] y, int[] idx, int yo, int OH, int OW)
    {
        _ = x[xo + (2 * OH - 1) * W + 2 * OW - 1]; // bounds, once per plane
        _ = y[yo + OH * OW - 1];
        _ = idx[yo + OH * OW - 1];
        var even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        var odd = even + Vector512<int>.One;
        var one = Vector512<int>.One;
        var vw = Vector512.Create(W);
        var vw1 = Vector512.Create(W + 1);
        int vec = OW - OW % 16, rem = OW - vec;
        float* tin = stackalloc float[64];
        float* tout = stackalloc float[16];
        int* tidx = stackalloc int[16];
        fixed (float* px0 = x, py = &y[yo])
        fixed (int* pi = &idx[yo])
        {
            float* px = px0 + xo, pend = px0 + x.Length;
            for (int oh = 0; oh < OH; oh++)
            {
                float* r0 = px + 2 * oh * W, r1 = r0 + W;
                for (int ow = 0; ow < OW; ow += 16)
                {
                    float* a = r0 + 2 * ow, b = r1 + 2 * ow;
                    bool tail = ow == vec;
                    if (tail && b + 32 > pend)
                    {
                        // the last rows of the buffer: read the partial window pairs through a scratch copy
                        for (int t = 0; t < 2 * rem; t++) { tin[t] = a[t]; tin[32 + t] = b[t]; }
                        a = tin;
                        b = tin + 32;
                    }
                    var best = Avx512F.PermuteVar16x32x2(Vector512.Load(a), even, Vector512.Load(a + 16));
                    var v = Avx512F.PermuteVar16x32x2(Vector512.Load(a), odd, Vector512.Load(a + 16));
                    var bi = Vector512<int>.Zero;
                    var m = (Vector512.GreaterThan(v, best) | ~Vector512.Equals(v, v)).AsInt32();
                    best = Vector512.ConditionalSelect(m.AsSingle(), v, best);
                    bi = Vector512.ConditionalSelect(m, one, bi);
                    var lo1 = Vector512.Load(b);
                    var hi1 = Vector512.Load(b + 16);
                    v = Avx512F.PermuteVar16x32x2(lo1, even, hi1);
                    m = (Vector512.GreaterThan(v, best) | ~Vector512.Equals(v, v)).AsInt32();
                    best = Vector512.ConditionalSelect(m.AsSingle(), v, best);
                    bi = Vector512.ConditionalSelect(m, vw, bi);
                    v = Avx512F.PermuteVar16x32x2(lo1, odd, hi1);
                    m = (Vector512.GreaterThan(v, best) | ~Vector512.Equals(v, v)).AsInt32();
                    best = Vector512.ConditionalSelect(m.AsSingle(), v, best);
                    bi = Vector512.ConditionalSelect(m, vw1, bi);
                    bi += even + Vector512.Create(2 * oh * W + 2 * ow);
                    if (!tail)
                    {
                        best.Store(py + oh * OW + ow);
                        bi.Store(pi + oh * OW + ow);
                        continue;
                    }
                    best.Store(tout);
                    bi.Store(tidx);
                    for (int t = 0; t < rem; t++)
                    {
                        py[oh * OW + ow + t] = tout[t];
                        pi[oh * OW + ow + t] = tidx[t];
                    }
                }
            }
        }
    }

    /// <summary>A/B switch (bench/Fluxion.Micro <c>ab pool</c>): the 2×2 float pooling uses <see cref="MaxPool2x2PlaneAvx2"/>
    /// where AVX-512 is not accelerated.</summary>
    internal static bool PoolAvx2 = true;

    /// <summary>
    /// <see cref="MaxPool2x2Plane{T}"/> for float with AVX2, 8 outputs at a time: the even and odd columns of the two input
    /// rows split by shuffles, the four candidates compared in scan order with blends (branches on the data mispredict:
    /// the scalar plane took ~60 cycles an output). A row's last vector may run past the row: its extra lanes read the next
    /// input row (or a scratch copy at the end of the buffer) and are written into the next output row, which overwrites
    /// them later; where they would leave the plane (its last row) they go through a scratch tile.
    /// </summary>
    private static unsafe void MaxPool2x2PlaneAvx2(float[] x, int xo, int W, float[] y, int[] idx, int yo, int OH, int OW)
    {
        _ = x[xo + (2 * OH - 1) * W + 2 * OW - 1]; // bounds, once per plane
        _ = y[yo + OH * OW - 1];
        _ = idx[yo + OH * OW - 1];
        var lane2 = Vector256.Create(0, 2, 4, 6, 8, 10, 12, 14);
        var one = Vector256<int>.One;
        var vw = Vector256.Create(W);
        var vw1 = Vector256.Create(W + 1);
        float* tin = stackalloc float[32];
        float* tout = stackalloc float[8];
        int* tidx = stackalloc int[8];
        fixed (float* px0 = x, py = &y[yo])
        fixed (int* pi = &idx[yo])
        {
            float* px = px0 + xo, pend = px0 + x.Length;
            for (int oh = 0; oh < OH; oh++)
            {
                float* r0 = px + 2 * oh * W, r1 = r0 + W;
                for (int ow = 0; ow < OW; ow += 8)
                {
                    float* a = r0 + 2 * ow, b = r1 + 2 * ow;
                    int valid = Math.Min(8, OW - ow);
                    if (b + 16 > pend)
                    {
                        // the buffer's last input row: the valid window pairs through a scratch copy
                        for (int t = 0; t < 2 * valid; t++) { tin[t] = a[t]; tin[16 + t] = b[t]; }
                        a = tin;
                        b = tin + 16;
                    }
                    var lo = Avx.LoadVector256(a);
                    var hi = Avx.LoadVector256(a + 8);
                    // even (x0, x2, ...) and odd (x1, x3, ...) columns: per-lane shuffles, then the 64-bit quarters reordered
                    var best = Avx2.Permute4x64(Avx.Shuffle(lo, hi, 0x88).AsDouble(), 0xD8).AsSingle();
                    var v = Avx2.Permute4x64(Avx.Shuffle(lo, hi, 0xDD).AsDouble(), 0xD8).AsSingle();
                    var m = Avx.Or(Avx.Compare(v, best, FloatComparisonMode.OrderedGreaterThanNonSignaling), Avx.Compare(v, v, FloatComparisonMode.UnorderedNonSignaling));
                    best = Avx.BlendVariable(best, v, m);
                    var bi = Avx2.And(m.AsInt32(), one);
                    lo = Avx.LoadVector256(b);
                    hi = Avx.LoadVector256(b + 8);
                    v = Avx2.Permute4x64(Avx.Shuffle(lo, hi, 0x88).AsDouble(), 0xD8).AsSingle();
                    m = Avx.Or(Avx.Compare(v, best, FloatComparisonMode.OrderedGreaterThanNonSignaling), Avx.Compare(v, v, FloatComparisonMode.UnorderedNonSignaling));
                    best = Avx.BlendVariable(best, v, m);
                    bi = Avx.BlendVariable(bi.AsSingle(), vw.AsSingle(), m).AsInt32();
                    v = Avx2.Permute4x64(Avx.Shuffle(lo, hi, 0xDD).AsDouble(), 0xD8).AsSingle();
                    m = Avx.Or(Avx.Compare(v, best, FloatComparisonMode.OrderedGreaterThanNonSignaling), Avx.Compare(v, v, FloatComparisonMode.UnorderedNonSignaling));
                    best = Avx.BlendVariable(best, v, m);
                    bi = Avx.BlendVariable(bi.AsSingle(), vw1.AsSingle(), m).AsInt32();
                    bi = Avx2.Add(bi, Avx2.Add(lane2, Vector256.Create(2 * oh * W + 2 * ow)));
                    if (oh * OW + ow + 8 <= OH * OW)
                    {
                        Avx.Store(py + oh * OW + ow, best);
                        Avx.Store(pi + oh * OW + ow, bi);
                        continue;
                    }
                    Avx.Store(tout, best);
                    Avx.Store(tidx, bi);
                    for (int t = 0; t < valid; t++)
                    {
                        py[oh * OW + ow + t] = tout[t];
                        pi[oh * OW + ow + t] = tidx[t];
                    }
                }
            }
        }
    }

    /// <summary>One plane of a general max pooling (see <see cref="MaxPool{T}"/>).</summary>
    private static void MaxPoolPlane<T>(T[] x, int xo, T[] y, int[] idx, int yo, PoolGeom g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int H = g.H, W = g.W, OH = g.OH, OW = g.OW, KH = g.KH, KW = g.KW, SH = g.SH, SW = g.SW, DH = g.DH, DW = g.DW;
        var plane = x.AsSpan(xo, H * W);
        for (int oh = 0; oh < OH; oh++)
        {
            int h0 = oh * SH - g.PH;
            int i0 = 0;
            while (h0 + i0 * DH < 0) i0++;
            for (int ow = 0; ow < OW; ow++)
            {
                int w0 = ow * SW - g.PW;
                int j0 = 0;
                while (w0 + j0 * DW < 0) j0++;
                T best = T.NegativeInfinity;
                int bi = (h0 + i0 * DH) * W + (w0 + j0 * DW);
                for (int i = i0; i < KH; i++)
                {
                    int ih = h0 + i * DH;
                    if (ih >= H) break;
                    for (int j = j0; j < KW; j++)
                    {
                        int iw = w0 + j * DW;
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

    /// <summary>
    /// The max pooling's input gradient: dx[P, H·W] (overwritten) is zero except dx[p, idx[p, o]] +=
    /// gy[p, o] for every output o of plane p (indices within a plane may repeat when windows overlap).
    /// </summary>
    public static void MaxPoolScatter<T>(T[] gy, int gOff, int[] idx, T[] dx, int planes, int hw, int ohw) where T : unmanaged, IFloatingPointIeee754<T>
    {
        For(planes, (long)planes * (hw + ohw), (p0, p1) =>
        {
            ref T G = ref MemoryMarshal.GetArrayDataReference(gy);
            ref int I = ref MemoryMarshal.GetArrayDataReference(idx);
            for (int p = p0; p < p1; p++)
            {
                var plane = dx.AsSpan(p * hw, hw);
                plane.Clear();
                ref T D = ref MemoryMarshal.GetReference(plane);
                int o0 = p * ohw;
                for (int o = 0; o < ohw; o++)
                {
                    int i = Unsafe.Add(ref I, o0 + o);
                    if ((uint)i >= (uint)hw) ThrowIndex(i, hw);
                    Unsafe.Add(ref D, i) += Unsafe.Add(ref G, gOff + o0 + o);
                }
            }
        });
    }

    /// <summary>The adjoint of <see cref="MaxPoolScatter{T}"/>: y[p, o] = t[p, idx[p, o]] (y overwritten).</summary>
    public static void MaxPoolGather<T>(T[] t, int tOff, int[] idx, T[] y, int planes, int hw, int ohw) where T : unmanaged, IFloatingPointIeee754<T>
    {
        For(planes, (long)planes * ohw * 2, (p0, p1) =>
        {
            for (int p = p0; p < p1; p++)
            {
                var plane = t.AsSpan(tOff + p * hw, hw);
                int o0 = p * ohw;
                for (int o = 0; o < ohw; o++) y[o0 + o] = plane[idx[o0 + o]];
            }
        });
    }

    private static void ThrowIndex(int i, int hw) =>
        throw new InvalidOperationException($"MaxPool2d: internal index {i} outside a plane of {hw} elements.");

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

    /// <summary>
    /// y[P, OH, OW] = the maximum of x[P, H, W] over each window of <paramref name="win"/> (its divisors unused), idx the flat
    /// position h·W + w of that maximum in the plane. Row-major scan; a larger value or a NaN replaces the current maximum (ties
    /// keep the first, as PyTorch's adaptive max pooling). y and idx are overwritten.
    /// </summary>
    public static void WindowMax<T>(T[] x, int xOff, T[] y, int[] idx, int planes, PoolWindows win) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int H = win.H, W = win.W, OH = win.OH, OW = win.OW;
        For(planes, (long)planes * H * W * 2, (p0, p1) =>
        {
            for (int p = p0; p < p1; p++)
            {
                int xo = xOff + p * H * W;
                for (int oh = 0; oh < OH; oh++)
                    for (int ow = 0; ow < OW; ow++)
                    {
                        T best = T.NegativeInfinity;
                        int bi = win.HStart[oh] * W + win.WStart[ow];
                        for (int h = win.HStart[oh]; h < win.HEnd[oh]; h++)
                            for (int w = win.WStart[ow]; w < win.WEnd[ow]; w++)
                            {
                                T v = x[xo + h * W + w];
                                if (v > best || T.IsNaN(v)) { best = v; bi = h * W + w; }
                            }
                        int o = (p * OH + oh) * OW + ow;
                        y[o] = best;
                        idx[o] = bi;
                    }
            }
        });
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
