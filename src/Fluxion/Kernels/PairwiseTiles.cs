using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Fluxion.Kernels;

/// <summary>
/// A function f(d) of the Euclidean distance d between two points, evaluated on a vector of distances.
/// Implement it on a struct: the tile loops of <see cref="PairwiseTiles"/> are generic over it, so the JIT
/// specializes and inlines it (a struct may carry parameters such as a period or a scale in fields).
/// </summary>
internal interface IRadialFunction<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>f(d) for each lane (d ≥ 0).</summary>
    Vector256<T> Value(Vector256<T> d);

    /// <summary>f'(d) for each lane (the chosen subgradient where f has a kink).</summary>
    Vector256<T> Derivative(Vector256<T> d);
}

/// <summary>
/// Pairwise interactions of two point sets computed tile by tile, in O(n) memory for O(n²) work: no
/// N×M matrix is ever formed. With points p_i (i &lt; N) and q_j (j &lt; M) in R^k, d_ij = ‖p_i − q_j‖ and a
/// radial function f (<see cref="IRadialFunction{T}"/>), the kernels compute
/// <list type="bullet">
/// <item><see cref="Forward"/>: y[b, j] = Σ_i x[b, i] f(d_ij) + bias[j] (a matrix product with an implicit
/// weight matrix W_ij = f(d_ij));</item>
/// <item><see cref="Backward"/>: for an output gradient g, the gradients of Σ g⊙y: gx = g Wᵀ, and for the
/// positions gp_i = Σ_j c_ij (p_i − q_j), gq_j = Σ_i c_ij (q_j − p_i) with c_ij = (xᵀg)_ij f'(d_ij) / d_ij;</item>
/// <item><see cref="Jvp"/>: the directional derivative of y for tangents of x, p and q.</item>
/// </list>
/// The work is split into tiles of <see cref="TileRows"/> target points j by <see cref="TileCols"/> source
/// points i: each tile's distances (and weights) are built in a small per-thread buffer, used by small
/// matrix products (<see cref="Gemm.SmallProduct"/>: unpacked, register-blocked) and discarded; the backward pass recomputes them. Target tiles are distributed over
/// the cores dynamically; contributions to per-source sums (gx, gp) go to per-worker buffers summed at
/// the end. Where d = 0 (coincident points) the distance's derivative is taken as 0 (as PyTorch's
/// <c>cdist</c>), so nothing is divided by zero. With b = 1, x = 1 and p = q the same kernels give
/// potentials (Σ_j f(d_ij)) and forces (the position gradients) of a particle system.
/// All scratch memory (O(B·(N + M) + k·(N + M) + tile) per worker) is taken from the caller's allocator on
/// the calling thread, so a memory tracker on that thread sees it.
/// </summary>
internal static class PairwiseTiles
{
    /// <summary>Target points (j) per tile.</summary>
    public const int TileRows = 64;

    /// <summary>Source points (i) per tile; a multiple of every vector width.</summary>
    public const int TileCols = 256;

    /// <summary>Below this many multiply-adds a call runs on the calling thread only.</summary>
    private const long ParallelThreshold = 1 << 20;

    private static int Pad(int n, int v) => (n + v - 1) / v * v;

    private static T[] Alloc<T>(Func<int, T[]>? alloc, int length) => length == 0 ? [] : alloc is null ? new T[length] : alloc(length);

    // ---- drivers ----------------------------------------------------------------------------------

    /// <summary>
    /// y[b, j] = Σ_i x[b, i] f(‖p_i − q_j‖) + bias[j]. Dense row-major x [batch, n], p [n, k], q [m, k],
    /// y [batch, m] (overwritten); <paramref name="bias"/> is empty or [m].
    /// </summary>
    public static void Forward<T, TF>(TF f, ReadOnlySpan<T> x, ReadOnlySpan<T> p, ReadOnlySpan<T> q, ReadOnlySpan<T> bias, Span<T> y,
        int batch, int n, int m, int k, Func<int, T[]>? alloc = null)
        where T : unmanaged, IFloatingPointIeee754<T> where TF : struct, IRadialFunction<T>
    {
        if (batch == 0 || m == 0) return;
        if (n == 0)
        {
            for (int b = 0; b < batch; b++)
                if (bias.IsEmpty) y.Slice(b * m, m).Clear(); else bias.CopyTo(y.Slice(b * m, m));
            return;
        }
        int v = Vector256<T>.Count, np = Pad(n, v), bp = Pad(batch, v), tc = Math.Min(TileCols, np);
        var pt = TransposePadded(p, n, k, np, alloc);
        var qr = Copy(q, alloc);
        var xt = TransposePadded(x, batch, n, bp, alloc, rows: np);
        var yt = Alloc(alloc, m * bp);
        int tiles = (m + TileRows - 1) / TileRows;
        int workers = Workers(tiles, (long)n * m * (batch + k));
        var wbuf = Alloc(alloc, workers * TileRows * tc);

        Run(workers, tiles, (w, tile) =>
        {
            int j0 = tile * TileRows, rows = Math.Min(TileRows, m - j0), wo = w * TileRows * tc;
            yt.AsSpan(j0 * bp, rows * bp).Clear();
            for (int i0 = 0; i0 < n; i0 += tc)
            {
                int cols = Math.Min(tc, n - i0), colsP = Pad(cols, v);
                DistanceTile(qr, j0, rows, k, pt, np, i0, colsP, wbuf, wo, tc);
                for (int r = 0; r < rows; r++) ApplyValue(f, wbuf, wo + r * tc, colsP);
                Gemm.SmallProduct(wbuf, wo, tc, 1, xt, i0 * bp, bp, yt, j0 * bp, bp, rows, cols, bp, Gemm.Store.Add);
            }
        });
        for (int b = 0; b < batch; b++)
        {
            var yrow = y.Slice(b * m, m);
            for (int j = 0; j < m; j++) yrow[j] = yt[j * bp + b];
            if (!bias.IsEmpty) for (int j = 0; j < m; j++) yrow[j] += bias[j];
        }
    }

    /// <summary>
    /// Gradients of L = Σ_bj g[b, j] y[b, j] for y of <see cref="Forward"/>: gx [batch, n] = g Wᵀ,
    /// gp [n, k] and gq [m, k] (the positions' gradients). Pass an empty span for an output that is not
    /// wanted (the position gradients cost one more product per tile and share their work). Outputs are
    /// overwritten. Where d_ij = 0 the pair contributes nothing to gp and gq.
    /// </summary>
    public static void Backward<T, TF>(TF f, ReadOnlySpan<T> x, ReadOnlySpan<T> p, ReadOnlySpan<T> q, ReadOnlySpan<T> g,
        Span<T> gx, Span<T> gp, Span<T> gq, int batch, int n, int m, int k, Func<int, T[]>? alloc = null)
        where T : unmanaged, IFloatingPointIeee754<T> where TF : struct, IRadialFunction<T>
    {
        bool needX = !gx.IsEmpty, needPos = !gp.IsEmpty || !gq.IsEmpty;
        gx.Clear();
        gp.Clear();
        gq.Clear();
        if (batch == 0 || n == 0 || m == 0 || !(needX || needPos)) return;
        int v = Vector256<T>.Count, np = Pad(n, v), kp = Pad(k, v), tc = Math.Min(TileCols, np), tileSize = TileRows * tc;
        var pt = TransposePadded(p, n, k, np, alloc);
        var qr = Copy(q, alloc);
        var ga = needX ? Copy(g, alloc) : [];
        T[] pr = [], xp = [], gt = [], gqs = [], rsum = [], gpt = [], csum = [], cbuf = [], gxw = [];
        int tiles = (m + TileRows - 1) / TileRows;
        int workers = Workers(tiles, (long)n * m * (2 * batch + 3 * k));
        var dbuf = Alloc(alloc, workers * tileSize);
        if (needPos)
        {
            pr = Alloc(alloc, np * kp);
            pr.AsSpan().Clear();
            for (int i = 0; i < n; i++) p.Slice(i * k, k).CopyTo(pr.AsSpan(i * kp, k));
            gt = TransposePadded(g, batch, m, batch, alloc); // [m, batch]: rows of A in the gᵀx products
            xp = Alloc(alloc, batch * np);
            xp.AsSpan().Clear();
            for (int b = 0; b < batch; b++) x.Slice(b * n, n).CopyTo(xp.AsSpan(b * np, n));
            gqs = Alloc(alloc, m * kp);
            gqs.AsSpan().Clear();
            rsum = Alloc(alloc, m);
            rsum.AsSpan().Clear();
            gpt = Alloc(alloc, workers * k * np);
            gpt.AsSpan().Clear();
            csum = Alloc(alloc, workers * np);
            csum.AsSpan().Clear();
            cbuf = Alloc(alloc, workers * tileSize);
        }
        if (needX)
        {
            gxw = Alloc(alloc, workers * batch * np);
            gxw.AsSpan().Clear();
        }

        Run(workers, tiles, (w, tile) =>
        {
            int j0 = tile * TileRows, rows = Math.Min(TileRows, m - j0), wo = w * tileSize;
            for (int i0 = 0; i0 < n; i0 += tc)
            {
                int cols = Math.Min(tc, n - i0), colsP = Pad(cols, v);
                DistanceTile(qr, j0, rows, k, pt, np, i0, colsP, dbuf, wo, tc);
                // c = (gᵀ x)[J, I] ⊙ f'(d)/d and w = f(d), row by row
                if (needPos) Gemm.SmallProduct(gt, j0 * batch, batch, 1, xp, i0, np, cbuf, wo, tc, rows, batch, colsP, Gemm.Store.Assign);
                for (int r = 0; r < rows; r++)
                {
                    if (needPos) rsum[j0 + r] += ApplyCoefficient(f, dbuf, cbuf, wo + r * tc, colsP, csum, w * np + i0);
                    if (needX) ApplyValue(f, dbuf, wo + r * tc, colsP);
                }
                // gx[:, I] += g[:, J] W[J, I]
                if (needX) Gemm.SmallProduct(ga, j0, m, 1, dbuf, wo, tc, gxw, w * batch * np + i0, np, batch, rows, colsP, Gemm.Store.Add);
                if (needPos)
                {
                    // gp[I] += p ⊙ colsum(c) − cᵀ q[J] (kept transposed [k, n]);  gq[J] += q ⊙ rowsum(c) − c p[I]
                    Gemm.SmallProduct(qr, j0 * k, 1, k, cbuf, wo, tc, gpt, w * k * np + i0, np, k, rows, colsP, Gemm.Store.Subtract);
                    Gemm.SmallProduct(cbuf, wo, tc, 1, pr, i0 * kp, kp, gqs, j0 * kp, kp, rows, cols, kp, Gemm.Store.Subtract);
                }
            }
        });

        if (needX)
            for (int b = 0; b < batch; b++)
            {
                var row = gx.Slice(b * n, n);
                for (int w = 0; w < workers; w++) Add(row, gxw.AsSpan(w * batch * np + b * np, n));
            }
        if (!gp.IsEmpty)
            for (int i = 0; i < n; i++)
            {
                T s = T.Zero;
                for (int w = 0; w < workers; w++) s += csum[w * np + i];
                for (int d = 0; d < k; d++)
                {
                    T acc = p[i * k + d] * s;
                    for (int w = 0; w < workers; w++) acc += gpt[w * k * np + d * np + i];
                    gp[i * k + d] = acc;
                }
            }
        if (!gq.IsEmpty)
            for (int j = 0; j < m; j++)
                for (int d = 0; d < k; d++) gq[j * k + d] = gqs[j * kp + d] + q[j * k + d] * rsum[j];
    }

    /// <summary>
    /// Forward-mode derivative of <see cref="Forward"/> without the bias: ty[b, j] = Σ_i tx[b, i] f(d_ij)
    /// + x[b, i] f'(d_ij) (p_i − q_j)·(tp_i − tq_j) / d_ij, for tangents tx [batch, n], tp [n, k], tq [m, k]
    /// (an empty span is a zero tangent). ty [batch, m] is overwritten.
    /// </summary>
    public static void Jvp<T, TF>(TF f, ReadOnlySpan<T> x, ReadOnlySpan<T> p, ReadOnlySpan<T> q,
        ReadOnlySpan<T> tx, ReadOnlySpan<T> tp, ReadOnlySpan<T> tq, Span<T> ty, int batch, int n, int m, int k, Func<int, T[]>? alloc = null)
        where T : unmanaged, IFloatingPointIeee754<T> where TF : struct, IRadialFunction<T>
    {
        ty.Clear();
        bool hasX = !tx.IsEmpty, hasPos = !tp.IsEmpty || !tq.IsEmpty;
        if (batch == 0 || n == 0 || m == 0 || !(hasX || hasPos)) return;
        int v = Vector256<T>.Count, np = Pad(n, v), bp = Pad(batch, v), tc = Math.Min(TileCols, np), tileSize = TileRows * tc;
        var pt = TransposePadded(p, n, k, np, alloc);
        var qr = Copy(q, alloc);
        T[] tpt = [], tqr = [], xt = [], txt = [], sbuf = [];
        if (hasPos)
        {
            if (tp.IsEmpty)
            {
                tpt = Alloc(alloc, k * np);
                tpt.AsSpan().Clear();
            }
            else tpt = TransposePadded(tp, n, k, np, alloc);
            tqr = Alloc(alloc, m * k);
            if (tq.IsEmpty) tqr.AsSpan().Clear(); else tq.CopyTo(tqr);
            xt = TransposePadded(x, batch, n, bp, alloc, rows: np);
        }
        if (hasX) txt = TransposePadded(tx, batch, n, bp, alloc, rows: np);
        var yt = Alloc(alloc, m * bp);
        int tiles = (m + TileRows - 1) / TileRows;
        int workers = Workers(tiles, (long)n * m * (2 * batch + 2 * k));
        var dbuf = Alloc(alloc, workers * tileSize);
        if (hasPos) sbuf = Alloc(alloc, workers * tileSize);

        Run(workers, tiles, (w, tile) =>
        {
            int j0 = tile * TileRows, rows = Math.Min(TileRows, m - j0), wo = w * tileSize;
            yt.AsSpan(j0 * bp, rows * bp).Clear();
            for (int i0 = 0; i0 < n; i0 += tc)
            {
                int cols = Math.Min(tc, n - i0), colsP = Pad(cols, v);
                if (hasPos) DistanceDotTile(qr, tqr, j0, rows, k, pt, tpt, np, i0, colsP, dbuf, sbuf, wo, tc);
                else DistanceTile(qr, j0, rows, k, pt, np, i0, colsP, dbuf, wo, tc);
                for (int r = 0; r < rows; r++)
                {
                    if (hasPos) ApplyTangent(f, dbuf, sbuf, wo + r * tc, colsP);
                    if (hasX) ApplyValue(f, dbuf, wo + r * tc, colsP);
                }
                if (hasX) Gemm.SmallProduct(dbuf, wo, tc, 1, txt, i0 * bp, bp, yt, j0 * bp, bp, rows, cols, bp, Gemm.Store.Add);
                if (hasPos) Gemm.SmallProduct(sbuf, wo, tc, 1, xt, i0 * bp, bp, yt, j0 * bp, bp, rows, cols, bp, Gemm.Store.Add);
            }
        });
        for (int b = 0; b < batch; b++)
            for (int j = 0; j < m; j++) ty[b * m + j] = yt[j * bp + b];
    }

    // ---- scheduling -------------------------------------------------------------------------------

    /// <summary>Number of workers for <paramref name="tiles"/> tiles and the given amount of work.</summary>
    internal static int Workers(int tiles, long work) => Math.Max(1, Math.Min(Parallelism.Threads(work, ParallelThreshold), tiles));

    /// <summary>Runs body(worker, tile) for every tile; workers claim tiles one at a time (dynamic balance).</summary>
    internal static void Run(int workers, int tiles, Action<int, int> body) => Parallelism.Dynamic(workers, tiles, body);

    // ---- layouts ----------------------------------------------------------------------------------

    private static T[] Copy<T>(ReadOnlySpan<T> s, Func<int, T[]>? alloc)
    {
        var a = Alloc(alloc, s.Length);
        s.CopyTo(a);
        return a;
    }

    /// <summary>a [rows0, cols] row-major → [cols, ld] with zero padding (columns beyond rows0 and rows beyond cols up to <paramref name="rows"/>).</summary>
    private static T[] TransposePadded<T>(ReadOnlySpan<T> a, int rows0, int cols, int ld, Func<int, T[]>? alloc, int rows = -1)
    {
        if (rows < 0) rows = cols;
        var t = Alloc(alloc, rows * ld);
        t.AsSpan().Clear();
        for (int r = 0; r < rows0; r++)
            for (int c = 0; c < cols; c++) t[c * ld + r] = a[r * cols + c];
        return t;
    }

    private static void Add<T>(Span<T> dst, ReadOnlySpan<T> src) where T : unmanaged, IFloatingPointIeee754<T> =>
        System.Numerics.Tensors.TensorPrimitives.Add(dst, src, dst);

    // ---- vector helpers ---------------------------------------------------------------------------

    /// <summary>a·b + c, fused where the hardware has FMA.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<T> Fma<T>(Vector256<T> a, Vector256<T> b, Vector256<T> c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
            return Vector256.FusedMultiplyAdd(a.As<T, float>(), b.As<T, float>(), c.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double))
            return Vector256.FusedMultiplyAdd(a.As<T, double>(), b.As<T, double>(), c.As<T, double>()).As<double, T>();
        return a * b + c;
    }

    /// <summary>Lane-wise floor.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<T> Floor<T>(Vector256<T> a) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return Vector256.Floor(a.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector256.Floor(a.As<T, double>()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }

    /// <summary>Lane-wise sign: −1, 0 or 1 (0 for ±0 and NaN).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<T> Sign<T>(Vector256<T> a) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var one = Vector256<T>.One;
        return (Vector256.GreaterThan(a, Vector256<T>.Zero) & one) - (Vector256.LessThan(a, Vector256<T>.Zero) & one);
    }

    /// <summary>f'(d)/d, and 0 where d = 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Coefficient<T, TF>(in TF f, Vector256<T> d) where T : unmanaged, IFloatingPointIeee754<T> where TF : struct, IRadialFunction<T>
    {
        var zero = Vector256.Equals(d, Vector256<T>.Zero);
        return Vector256.ConditionalSelect(zero, Vector256<T>.Zero, f.Derivative(d) / Vector256.ConditionalSelect(zero, Vector256<T>.One, d));
    }

    // ---- tile element passes ----------------------------------------------------------------------

    /// <summary>buf[off .. off + count] = f(buf[...]) (count a multiple of the vector width).</summary>
    private static void ApplyValue<T, TF>(in TF f, T[] buf, int off, int count) where T : unmanaged, IFloatingPointIeee754<T> where TF : struct, IRadialFunction<T>
    {
        ref T b = ref MemoryMarshal.GetArrayDataReference(buf);
        for (int c = 0; c < count; c += Vector256<T>.Count)
        {
            nuint o = (nuint)(off + c);
            f.Value(Vector256.LoadUnsafe(ref b, o)).StoreUnsafe(ref b, o);
        }
    }

    /// <summary>c *= f'(d)/d over one row; adds the results to colSums and returns their sum.</summary>
    private static T ApplyCoefficient<T, TF>(in TF f, T[] dist, T[] cbuf, int off, int count, T[] colSums, int colOff)
        where T : unmanaged, IFloatingPointIeee754<T> where TF : struct, IRadialFunction<T>
    {
        ref T d = ref MemoryMarshal.GetArrayDataReference(dist);
        ref T c = ref MemoryMarshal.GetArrayDataReference(cbuf);
        ref T s = ref MemoryMarshal.GetArrayDataReference(colSums);
        var acc = Vector256<T>.Zero;
        for (int i = 0; i < count; i += Vector256<T>.Count)
        {
            nuint o = (nuint)(off + i), so = (nuint)(colOff + i);
            var cv = Vector256.LoadUnsafe(ref c, o) * Coefficient<T, TF>(f, Vector256.LoadUnsafe(ref d, o));
            cv.StoreUnsafe(ref c, o);
            acc += cv;
            (Vector256.LoadUnsafe(ref s, so) + cv).StoreUnsafe(ref s, so);
        }
        return Vector256.Sum(acc);
    }

    /// <summary>s *= f'(d)/d over one row (the weight tangent from the dot products s).</summary>
    private static void ApplyTangent<T, TF>(in TF f, T[] dist, T[] sbuf, int off, int count) where T : unmanaged, IFloatingPointIeee754<T> where TF : struct, IRadialFunction<T>
    {
        ref T d = ref MemoryMarshal.GetArrayDataReference(dist);
        ref T s = ref MemoryMarshal.GetArrayDataReference(sbuf);
        for (int i = 0; i < count; i += Vector256<T>.Count)
        {
            nuint o = (nuint)(off + i);
            (Vector256.LoadUnsafe(ref s, o) * Coefficient<T, TF>(f, Vector256.LoadUnsafe(ref d, o))).StoreUnsafe(ref s, o);
        }
    }

    // ---- distance tiles ---------------------------------------------------------------------------

    /// <summary>
    /// dst[off + r·ld + c] = ‖q[j0 + r] − p[i0 + c]‖ for r &lt; rows, c &lt; colsP (a multiple of the vector
    /// width), from q rows [m, k] and p transposed [k, np] (zero-padded columns). Differences are formed
    /// exactly (no ‖p‖² + ‖q‖² − 2p·q), so coincident points give exactly 0.
    /// </summary>
    internal static void DistanceTile<T>(T[] q, int j0, int rows, int k, T[] pt, int np, int i0, int colsP, T[] dst, int off, int ld)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int v = Vector256<T>.Count;
        ref T Q = ref MemoryMarshal.GetArrayDataReference(q);
        ref T P = ref MemoryMarshal.GetArrayDataReference(pt);
        ref T D = ref MemoryMarshal.GetArrayDataReference(dst);
        int r = 0;
        for (; r + 4 <= rows; r += 4)
        {
            ref T q0 = ref Unsafe.Add(ref Q, (j0 + r) * k);
            ref T q1 = ref Unsafe.Add(ref q0, k);
            ref T q2 = ref Unsafe.Add(ref q1, k);
            ref T q3 = ref Unsafe.Add(ref q2, k);
            for (int c = 0; c < colsP; c += v)
            {
                Vector256<T> a0 = default, a1 = default, a2 = default, a3 = default;
                ref T pc = ref Unsafe.Add(ref P, i0 + c);
                for (int d = 0; d < k; d++)
                {
                    var pv = Vector256.LoadUnsafe(ref pc, (nuint)(d * np));
                    var e0 = Vector256.Create(Unsafe.Add(ref q0, d)) - pv;
                    var e1 = Vector256.Create(Unsafe.Add(ref q1, d)) - pv;
                    var e2 = Vector256.Create(Unsafe.Add(ref q2, d)) - pv;
                    var e3 = Vector256.Create(Unsafe.Add(ref q3, d)) - pv;
                    a0 = Fma(e0, e0, a0);
                    a1 = Fma(e1, e1, a1);
                    a2 = Fma(e2, e2, a2);
                    a3 = Fma(e3, e3, a3);
                }
                nuint o = (nuint)(off + r * ld + c);
                Vector256.Sqrt(a0).StoreUnsafe(ref D, o);
                Vector256.Sqrt(a1).StoreUnsafe(ref D, o + (nuint)ld);
                Vector256.Sqrt(a2).StoreUnsafe(ref D, o + (nuint)(2 * ld));
                Vector256.Sqrt(a3).StoreUnsafe(ref D, o + (nuint)(3 * ld));
            }
        }
        for (; r < rows; r++)
        {
            ref T q0 = ref Unsafe.Add(ref Q, (j0 + r) * k);
            for (int c = 0; c < colsP; c += v)
            {
                Vector256<T> a0 = default;
                ref T pc = ref Unsafe.Add(ref P, i0 + c);
                for (int d = 0; d < k; d++)
                {
                    var e0 = Vector256.Create(Unsafe.Add(ref q0, d)) - Vector256.LoadUnsafe(ref pc, (nuint)(d * np));
                    a0 = Fma(e0, e0, a0);
                }
                Vector256.Sqrt(a0).StoreUnsafe(ref D, (nuint)(off + r * ld + c));
            }
        }
    }

    /// <summary>
    /// As <see cref="DistanceTile"/>, and also the dot products s[r, c] = (q_j − p_i)·(tq_j − tp_i) of the
    /// position differences with their tangents (tq rows [m, k], tp transposed [k, np]).
    /// </summary>
    internal static void DistanceDotTile<T>(T[] q, T[] tq, int j0, int rows, int k, T[] pt, T[] tpt, int np, int i0, int colsP, T[] dst, T[] sdst, int off, int ld)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int v = Vector256<T>.Count;
        ref T Q = ref MemoryMarshal.GetArrayDataReference(q);
        ref T TQ = ref MemoryMarshal.GetArrayDataReference(tq);
        ref T P = ref MemoryMarshal.GetArrayDataReference(pt);
        ref T TP = ref MemoryMarshal.GetArrayDataReference(tpt);
        ref T D = ref MemoryMarshal.GetArrayDataReference(dst);
        ref T S = ref MemoryMarshal.GetArrayDataReference(sdst);
        for (int r = 0; r < rows; r++)
        {
            ref T q0 = ref Unsafe.Add(ref Q, (j0 + r) * k);
            ref T t0 = ref Unsafe.Add(ref TQ, (j0 + r) * k);
            for (int c = 0; c < colsP; c += v)
            {
                Vector256<T> a = default, s = default;
                ref T pc = ref Unsafe.Add(ref P, i0 + c);
                ref T tc = ref Unsafe.Add(ref TP, i0 + c);
                for (int d = 0; d < k; d++)
                {
                    var e = Vector256.Create(Unsafe.Add(ref q0, d)) - Vector256.LoadUnsafe(ref pc, (nuint)(d * np));
                    var te = Vector256.Create(Unsafe.Add(ref t0, d)) - Vector256.LoadUnsafe(ref tc, (nuint)(d * np));
                    a = Fma(e, e, a);
                    s = Fma(e, te, s);
                }
                nuint o = (nuint)(off + r * ld + c);
                Vector256.Sqrt(a).StoreUnsafe(ref D, o);
                s.StoreUnsafe(ref S, o);
            }
        }
    }
}
