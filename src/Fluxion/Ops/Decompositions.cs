using Fluxion.Kernels;

namespace Fluxion;

/// <summary>The result of <see cref="Tensor.Slogdet"/>: the determinant's sign and the log of its absolute value.</summary>
/// <param name="Sign">±1 (0 for a singular matrix); not differentiable.</param>
/// <param name="LogAbsDet">log|det A| (−inf for a singular matrix).</param>
public readonly record struct SlogdetResult(Tensor Sign, Tensor LogAbsDet);

/// <summary>The result of <see cref="Tensor.Eigh"/>: ascending eigenvalues and orthonormal eigenvectors (columns).</summary>
/// <param name="Eigenvalues">[..., n], ascending.</param>
/// <param name="Eigenvectors">[..., n, n], column i belongs to eigenvalue i.</param>
public readonly record struct EighResult(Tensor Eigenvalues, Tensor Eigenvectors);

/// <summary>The result of <see cref="Tensor.Svd"/>: A = U·diag(S)·Vh.</summary>
/// <param name="U">Left singular vectors (columns).</param>
/// <param name="S">Singular values, descending.</param>
/// <param name="Vh">Right singular vectors (rows).</param>
public readonly record struct SvdResult(Tensor U, Tensor S, Tensor Vh);

/// <summary>The result of <see cref="Tensor.Qr"/>: A = Q·R.</summary>
/// <param name="Q">Orthonormal columns.</param>
/// <param name="R">Upper triangular.</param>
public readonly record struct QrResult(Tensor Q, Tensor R);

// Factorizations and what is built on them: inv, det, slogdet, logdet, solve, cholesky (+ solve, inverse),
// solve_triangular, qr, eigh, eigvalsh, svd, svdvals, pinv, matrix_rank, cond, matrix_power, matrix_exp, lstsq,
// tensorinv, tensorsolve. The primitives' rules are written with registered ops (MatMul, Solve, SolveTriangular,
// Inv, ...), so they differentiate again. Kernels: Kernels/Decomp.cs (float64; float32 is factorized in float64).
//
// Spectral derivatives (eigh, svd): the VJPs divide by eigenvalue / squared-singular-value gaps, as PyTorch's do. At
// repeated eigenvalues or singular values the gradient of the vectors is ill-defined; like PyTorch, Fluxion does not
// check and the result holds inf/NaN when the loss depends on the vectors (losses of the values only, e.g. svdvals,
// eigvalsh, are fine). The vectors' signs are a gauge (Fluxion: the largest-magnitude entry of each eigenvector / right
// singular vector is positive; LAPACK's choice may differ), so compare gauge-invariant quantities (U·diag(S)·Vh, V∘V).
public partial class Tensor
{
    private static void NeedMatrix(string op, Tensor a, bool square = true)
    {
        a.CheckFloat(op);
        if (a.Rank < 2 || (square && a._shape[^1] != a._shape[^2]))
            throw new ShapeMismatchException($"{op}: expects {(square ? "square matrices" : "matrices")} [..., {(square ? "n, n" : "m, n")}], got shape {ShapeUtil.Format(a.Shape)}.");
    }

    /// <summary>Runs <paramref name="body"/> for each matrix of the batch, one matrix per chunk, through the kernels' parallel
    /// helper (so a batch inside another parallel region runs serially on its thread).
    /// Below <see cref="BatchParallelWork"/> multiply-adds in all (<paramref name="workPerMatrix"/> per matrix) the batch runs on
    /// the calling thread: no fork for small matrices.</summary>
    private static void ForBatch(int nb, long workPerMatrix, Action<int> body)
    {
        if (nb <= 1 || workPerMatrix < BatchParallelWork / nb)
        {
            for (int b = 0; b < nb; b++) body(b);
            return;
        }
        Kernels.Parallelism.For(nb, nb, Kernels.Parallelism.Available, (b, _, _) => body(b));
    }

    /// <summary>Total multiply-adds from which a batch of factorizations is spread over threads.</summary>
    private const long BatchParallelWork = 1L << 19;

    /// <summary>n³ (the order of a factorization's multiply-adds), for <see cref="ForBatch"/>.</summary>
    private static long Cube(int n) => (long)n * n * n;

    /// <summary>
    /// A forward's LU factors (float64, packed per matrix, pivots 0-based), saved for its backward so that it does not
    /// factorize again: <c>Decomp.LuSolveTransposed</c> for solve, <c>Decomp.LuInverse</c> for det and slogdet. Not saved
    /// while tracing (vmap, compile): a traced program's attributes may not depend on the values.
    /// </summary>
    private sealed record LuSaved(double[] Lu, int[] Piv, int N, bool AnySingular)
    {
        private float[]? _single;

        /// <summary>The factors rounded to float32 (for float32 ops: their solves run in float32), made once.</summary>
        public float[] Single => _single ??= ToSingle(Lu);
    }

    /// <summary>The values rounded to float32.</summary>
    private static float[] ToSingle(ReadOnlySpan<double> d)
    {
        var f = new float[d.Length];
        for (int i = 0; i < f.Length; i++) f[i] = (float)d[i];
        return f;
    }

    /// <summary>True when a backward may use raw kernels on saved factors: a first-order pass (no graph recorded for the
    /// gradient, no tangent, no tracer), so nothing has to differentiate through it.</summary>
    private static bool RawBackward(Tensor g, Tensor a) => !Op.Tracking(g) && !Op.Tracking(a) && Tracer.Depth == 0;

    /// <summary>A⁻ᵀ of every matrix from the saved LU factors (the det / slogdet gradient direction).</summary>
    private static Tensor InvTransposeFromLu(LuSaved s, int[] shape, DType dtype)
    {
        int n = s.N, nb = n == 0 ? 0 : s.Lu.Length / (n * n);
        if (dtype == DType.Float32)
        {
            var lf = s.Single;
            var xf = new float[lf.Length];
            ForBatch(nb, Cube(n), b => Decomp.LuInverse(lf.AsSpan(b * n * n, n * n), s.Piv.AsSpan(b * n, n), n, xf.AsSpan(b * n * n, n * n)));
            return Wrap(xf, shape).MT;
        }
        var x = new double[s.Lu.Length];
        ForBatch(nb, Cube(n), b => Decomp.LuInverse(s.Lu.AsSpan(b * n * n, n * n), s.Piv.AsSpan(b * n, n), n, x.AsSpan(b * n * n, n * n)));
        return MatFromDoubles(x, shape, dtype).MT;
    }

    private static Tensor MatFromDoubles(double[] data, int[] shape, DType dtype)
    {
        var t = shape.Length == 0 ? Scalar(data[0], DType.Float64) : FromArray(data, shape);
        return dtype == DType.Float64 ? t : t.To(dtype);
    }

    /// <summary>Constant lower (or upper) triangular mask of an m×n matrix; the diagonal gets <paramref name="diag"/>.</summary>
    internal static Tensor TriMask(int m, int n, bool upper, double diag, DType dtype)
    {
        var d = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                d[i * n + j] = i == j ? diag : (upper ? j > i : j < i) ? 1 : 0;
        return MatFromDoubles(d, [m, n], dtype);
    }

    private static Tensor Tri(Tensor x, bool upper, double diag = 1) => x * TriMask(x._shape[^2], x._shape[^1], upper, diag, x.DType);

    /// <summary>[..., n] → [..., n, n] with v on the diagonal (composite of Mul).</summary>
    internal static Tensor DiagEmbed(Tensor v) => v.Unsqueeze(-1) * Eye(v._shape[^1], null, v.DType);

    // ---- inv ----

    internal static readonly OpDef InvOp = new("Inv", OpFamily.Linalg, "linalg.inv")
    {
        // the decompositions work on [..., n, n] batches: the vmapped batch is one more leading dim
        Batch = c => [Inv(c.X(0))],
        Doc = "matrix inverse (LU with partial pivoting)",
        Saves = OpDef.SaveOutput,
        Vjp = (in OpCtx c, Tensor g, int i) => { var y = c.Y.MT; return -y.MatMul(g).MatMul(y); },
        Jvp = (in OpCtx c, Tensor?[] t) => t[0] is { } ta ? -c.Y.MatMul(ta).MatMul(c.Y) : null,
        BatchedJvp = true,
        Samples = () => [new("2-d", [WellConditioned(1, 3)], x => Inv(x[0])), new("batched", [WellConditioned(2, 4, 2)], x => Inv(x[0]))],
    };

    /// <summary>A float64 sample matrix (or batch) with a dominant diagonal: well conditioned.</summary>
    internal static Tensor WellConditioned(int seed, int n, params int[] batch)
    {
        var a = OpSamples.Make(OpSamples.Domain.Real, seed, [.. batch, n, n]);
        return (a * 0.5 + Eye(n, null, DType.Float64) * 3).Detach();
    }

    /// <summary>Symmetric positive-definite float64 sample matrix.</summary>
    internal static Tensor Spd(int seed, int n, params int[] batch)
    {
        var a = OpSamples.Make(OpSamples.Domain.Real, seed, [.. batch, n, n]);
        return (a.MatMul(a.MT) + Eye(n, null, DType.Float64) * n).Detach();
    }

    /// <summary>The inverse of each square matrix [..., n, n] (torch.linalg.inv). A singular matrix throws an ArgumentException.</summary>
    public static Tensor Inv(Tensor a)
    {
        NeedMatrix("Inv", a);
        int n = a._shape[^1], nb = ShapeUtil.Numel(a._shape[..^2]);
        var src = a.ToDoubleArray();
        bool single = a.DType == DType.Float32; // float32: the LU in float64 (pivots, singularity), the solves in float32
        var dst = single ? null : new double[src.Length];
        var dstF = single ? new float[src.Length] : null;
        int bad = -1;
        ForBatch(nb, Cube(n), b =>
        {
            var lu = src.AsSpan(b * n * n, n * n);
            var piv = new int[n];
            if (Decomp.Lu(lu, n, piv) == 0 && n > 0) { bad = b; return; }
            if (single) Decomp.LuInverse(ToSingle(lu), piv, n, dstF!.AsSpan(b * n * n, n * n));
            else Decomp.LuInverse(lu, piv, n, dst!.AsSpan(b * n * n, n * n));
        });
        if (bad >= 0) throw new ArgumentException($"Inv: matrix {bad} of the batch (shape {ShapeUtil.Format(a.Shape)}) is singular, so it has no inverse. Use Pinv for a pseudo-inverse.");
        return Op.Record(InvOp, single ? Wrap(dstF!, a.ShapeArray) : MatFromDoubles(dst!, a.ShapeArray, a.DType), [a]);
    }

    /// <summary>The inverse of each square matrix (torch.linalg.inv).</summary>
    public Tensor Inverse() => Inv(this);

    // ---- det / slogdet / logdet ----

    /// <summary>Raw LU determinants: sign and log|det| per matrix.</summary>
    private static (double[] Sign, double[] LogAbs, LuSaved Saved) LuDets(Tensor a)
    {
        int n = a._shape[^1], nb = ShapeUtil.Numel(a._shape[..^2]);
        var src = a.ToDoubleArray();
        var sign = new double[nb];
        var lad = new double[nb];
        var pivs = new int[nb * n];
        ForBatch(nb, Cube(n), b =>
        {
            var lu = src.AsSpan(b * n * n, n * n);
            var piv = pivs.AsSpan(b * n, n);
            int s = Decomp.Lu(lu, n, piv);
            if (s == 0 && n > 0) { sign[b] = 0; lad[b] = double.NegativeInfinity; return; }
            double l = 0;
            double sg = n == 0 ? 1 : s;
            for (int i = 0; i < n; i++)
            {
                double d = lu[i * n + i];
                if (d < 0) sg = -sg;
                l += Math.Log(Math.Abs(d));
            }
            sign[b] = sg;
            lad[b] = l;
        });
        return (sign, lad, new LuSaved(src, pivs, n, sign.Any(v => v == 0)));
    }

    internal static readonly OpDef DetOp = new("Det", OpFamily.Linalg, "linalg.det")
    {
        Batch = c => [Det(c.X(0))],
        Doc = "determinant (LU)",
        Saves = 1 | OpDef.SaveOutput,
        // a first-order pass takes A⁻ᵀ from the forward's LU (saved as the attribute) instead of factorizing again
        Vjp = (in OpCtx c, Tensor g, int i) => (g * c.Y).Unsqueeze(-1).Unsqueeze(-1) *
            (c.Attr is LuSaved { AnySingular: false } s && RawBackward(g, c.X(0)) ? InvTransposeFromLu(s, c.X(0).ShapeArray, c.X(0).DType) : Inv(c.X(0)).MT),
        Jvp = (in OpCtx c, Tensor?[] t) => t[0] is { } ta ? c.Y * (Inv(c.X(0)).MT * ta).Sum([-2, -1]) : null,
        BatchedJvp = true,
        Samples = () => [new("2-d", [WellConditioned(1, 3)], x => Det(x[0])), new("batched", [WellConditioned(2, 2, 3)], x => Det(x[0]))],
    };

    /// <summary>
    /// The determinant of each square matrix [..., n, n] → [...] (torch.linalg.det). Its gradient is det·A⁻ᵀ, so at an
    /// exactly singular matrix the backward throws (PyTorch switches to an SVD-based formula there).
    /// </summary>
    public static Tensor Det(Tensor a)
    {
        NeedMatrix("Det", a);
        var (sign, lad, saved) = LuDets(a);
        var d = new double[sign.Length];
        for (int i = 0; i < d.Length; i++) d[i] = sign[i] * Math.Exp(lad[i]);
        return Op.Record(DetOp, MatFromDoubles(d, a._shape[..^2], a.DType), [a], Tracer.Depth == 0 ? saved : null);
    }

    /// <summary>The determinant of each square matrix (torch.linalg.det).</summary>
    public Tensor Det() => Det(this);

    internal static readonly OpDef LogAbsDetOp = new("LogAbsDet", OpFamily.Linalg, "linalg.slogdet")
    {
        Batch = c => [Slogdet(c.X(0)).LogAbsDet],
        Doc = "log|det A| (the differentiable output of slogdet)",
        Saves = 1,
        Vjp = (in OpCtx c, Tensor g, int i) => g.Unsqueeze(-1).Unsqueeze(-1) *
            (c.Attr is LuSaved { AnySingular: false } s && RawBackward(g, c.X(0)) ? InvTransposeFromLu(s, c.X(0).ShapeArray, c.X(0).DType) : Inv(c.X(0)).MT),
        Jvp = (in OpCtx c, Tensor?[] t) => t[0] is { } ta ? (Inv(c.X(0)).MT * ta).Sum([-2, -1]) : null,
        BatchedJvp = true,
        Samples = () => [new("2-d", [WellConditioned(1, 3) * -1], x => Slogdet(x[0]).LogAbsDet), new("batched", [WellConditioned(2, 2, 3)], x => Slogdet(x[0]).LogAbsDet)],
    };

    /// <summary>Sign and log|det| of each square matrix (torch.linalg.slogdet); only LogAbsDet is differentiable (gradient A⁻ᵀ).</summary>
    public static SlogdetResult Slogdet(Tensor a)
    {
        NeedMatrix("Slogdet", a);
        var (sign, lad, saved) = LuDets(a);
        var batch = a._shape[..^2];
        return new(MatFromDoubles(sign, batch, a.DType), Op.Record(LogAbsDetOp, MatFromDoubles(lad, batch, a.DType), [a], Tracer.Depth == 0 ? saved : null));
    }

    internal static readonly OpDef LogdetOp = new("Logdet", OpFamily.Linalg, "logdet")
    {
        CompositeOf = ["LogAbsDet", "Add"], Doc = "log det A (NaN for det < 0, −inf for det = 0)",
        Samples = () => [new("2-d", [WellConditioned(1, 3)], x => Logdet(x[0]))],
    };

    /// <summary>log det A (torch.logdet): NaN where det &lt; 0, −inf where det = 0.</summary>
    public static Tensor Logdet(Tensor a)
    {
        var (sign, lad) = Slogdet(a);
        return lad + Where(sign.Lt(0), double.NaN, 0.0, a.DType);
    }

    // ---- solve ----

    internal static readonly OpDef SolveOp = new("Solve", OpFamily.Linalg, "linalg.solve")
    {
        // recorded on A and B broadcast to one batch shape, B a matrix: so are their batched forms
        Batch = c => [SolveCore(c.Materialize(0), c.Materialize(1))],
        Doc = "solution X of A·X = B (LU with partial pivoting)",
        Saves = 1 | OpDef.SaveOutput,
        // one solve with Aᵀ shared by both inputs; a first-order pass reuses the forward's LU (the attribute)
        VjpAll = (in OpCtx c, Tensor[] gs, bool[] needs) =>
        {
            var g = gs[0];
            var gb = c.Attr is LuSaved s && RawBackward(g, c.X(0)) && ShapeUtil.SameShape(g.Shape, c.Y.Shape)
                ? SolveTransposedFromLu(s, g, c.X(0).DType)
                : Solve(c.X(0).MT, g);
            return [needs[0] ? -gb.MatMul(c.Y.MT) : null, needs[1] ? gb : null];
        },
        Jvp = (in OpCtx c, Tensor?[] t) =>
        {
            Tensor? r = t[1];
            if (t[0] is { } ta) r = r is null ? -ta.MatMul(c.Y) : r - ta.MatMul(c.Y);
            return r is null ? null : Solve(c.X(0), r);
        },
        BatchedJvp = true,
        Samples = () => [new("matrix", [WellConditioned(1, 3), M(2, 3, 2)], x => Solve(x[0], x[1])),
                         new("vector bcast", [WellConditioned(3, 3, 2), M(4, 3)], x => Solve(x[0], x[1]))],
    };

    /// <summary>
    /// The solution X of A·X = B for square A [..., n, n] (torch.linalg.solve, left=True). B is [..., n, k], or a
    /// vector [n] / [..., n] (when B has one dim fewer than A); batch dims broadcast. A singular A throws.
    /// </summary>
    public static Tensor Solve(Tensor a, Tensor b)
    {
        NeedMatrix("Solve", a);
        b.CheckFloat("Solve");
        CheckSameDType("Solve", a, b);
        int n = a._shape[^1];
        bool vec = b.Rank == 1 || (b.Rank == a.Rank - 1 && ShapeUtil.SameShape(b._shape, a._shape[..^1]));
        var bm = vec ? b.Unsqueeze(-1) : b;
        if (bm.Rank < 2 || bm._shape[^2] != n)
            throw new ShapeMismatchException($"Solve: B must be [..., {n}, k] or [..., {n}] for A of shape {ShapeUtil.Format(a.Shape)}, got {ShapeUtil.Format(b.Shape)}.");
        var batch = ShapeUtil.Broadcast($"Solve (batch dims of {ShapeUtil.Format(a.Shape)} and {ShapeUtil.Format(b.Shape)})", a._shape[..^2], bm._shape[..^2]);
        var ae = ShapeUtil.SameShape(a._shape[..^2], batch) ? a : a.Expand([.. batch, n, n]);
        var be = ShapeUtil.SameShape(bm._shape[..^2], batch) ? bm : bm.Expand([.. batch, n, bm._shape[^1]]);
        var x = SolveCore(ae, be);
        return vec ? x.Squeeze(-1) : x;
    }

    private static Tensor SolveCore(Tensor a, Tensor b)
    {
        int n = a._shape[^1], k = b._shape[^1], nb = ShapeUtil.Numel(a._shape[..^2]);
        var lu = a.ToDoubleArray();
        bool single = a.DType == DType.Float32; // float32: the LU in float64 (pivots, singularity), the solves in float32
        var x = single ? null : b.ToDoubleArray();
        var xf = single ? b.ToArray<float>() : null;
        var pivs = new int[nb * n];
        int bad = -1;
        ForBatch(nb, Cube(n) + (long)n * n * k, i =>
        {
            var m = lu.AsSpan(i * n * n, n * n);
            var piv = pivs.AsSpan(i * n, n);
            if (Decomp.Lu(m, n, piv) == 0 && n > 0) { bad = i; return; }
            if (single) Decomp.LuSolve(ToSingle(m), piv, n, xf!.AsSpan(i * n * k, n * k), k);
            else Decomp.LuSolve(m, piv, n, x!.AsSpan(i * n * k, n * k), k);
        });
        if (bad >= 0) throw new ArgumentException($"Solve: matrix {bad} of A (shape {ShapeUtil.Format(a.Shape)}) is singular; the system has no unique solution. Use Lstsq or Pinv.");
        var y = single ? Wrap(xf!, b.ShapeArray) : MatFromDoubles(x!, b.ShapeArray, a.DType);
        return Op.Tracking(a, b) ? Op.Record(SolveOp, y, [a, b], Tracer.Depth == 0 ? new LuSaved(lu, pivs, n, false) : null) : y;
    }

    /// <summary>The solution of Aᵀ·X = G for every matrix from the forward's saved LU of A (G shaped as the solve's output).</summary>
    private static Tensor SolveTransposedFromLu(LuSaved s, Tensor g, DType dtype)
    {
        int n = s.N, k = g._shape[^1], nb = n == 0 ? 0 : s.Lu.Length / (n * n);
        if (dtype == DType.Float32 && g.DType == DType.Float32)
        {
            var lf = s.Single;
            var xf = g.ToArray<float>();
            ForBatch(nb, (long)n * n * (k + 1), i => Decomp.LuSolveTransposed(lf.AsSpan(i * n * n, n * n), s.Piv.AsSpan(i * n, n), n, xf.AsSpan(i * n * k, n * k), k));
            return Wrap(xf, g.ShapeArray);
        }
        var x = g.ToDoubleArray();
        ForBatch(nb, (long)n * n * (k + 1), i => Decomp.LuSolveTransposed(s.Lu.AsSpan(i * n * n, n * n), s.Piv.AsSpan(i * n, n), n, x.AsSpan(i * n * k, n * k), k));
        return MatFromDoubles(x, g.ShapeArray, dtype);
    }

    // ---- lu ----

    internal static readonly OpDef LuFactorOp = new("LuFactor", OpFamily.Linalg, "linalg.lu_factor", "linalg.lu")
    {
        Doc = "LU with partial pivoting of square matrices (packed L\\U; P from the pivots)",
        Saves = OpDef.SaveOutput,
        Vjp = (in OpCtx c, Tensor g, int i) =>
        {
            var p = c.A<Tensor>();
            var (l, u) = UnpackLu(c.Y);
            var gl = Tri(g, upper: false, diag: 0);
            var gu = Tri(g, upper: true);
            var inner = Tri(l.MT.MatMul(gl), upper: false, diag: 0) + Tri(gu.MatMul(u.MT), upper: true);
            var x = SolveTriangular(l.MT, inner, upper: true, unitriangular: true);
            x = SolveTriangular(u.MT, x, upper: false, left: false);
            return p.MatMul(x);
        },
        Jvp = (in OpCtx c, Tensor?[] t) =>
        {
            if (t[0] is not { } ta) return null;
            var p = c.A<Tensor>();
            var (l, u) = UnpackLu(c.Y);
            var x = SolveTriangular(l, p.MT.MatMul(ta), upper: false, unitriangular: true);
            x = SolveTriangular(u, x, upper: true, left: false);
            return l.MatMul(Tri(x, upper: false, diag: 0)) + Tri(x, upper: true).MatMul(u);
        },
        Samples = () => [new("packed", [M(1, 3, 3)], x => LuFactor(x[0]).LU), new("P L U", [M(2, 2, 4, 4)], x => { var (p, l, u) = Lu(x[0]); return l.MatMul(u) + l * u; })],
    };

    private static (Tensor L, Tensor U) UnpackLu(Tensor lu)
    {
        int n = lu._shape[^1];
        return (Tri(lu, upper: false, diag: 0) + Eye(n, null, lu.DType), Tri(lu, upper: true));
    }

    /// <summary>
    /// LU factorization with partial pivoting of each square matrix (torch.linalg.lu_factor): A = P·L·U packed as LU (L's unit
    /// diagonal implied) and LAPACK's 1-based pivots (int64; PyTorch uses int32). A singular matrix factorizes (zero pivot in U).
    /// Fluxion's LU is for square matrices only.
    /// </summary>
    public static (Tensor LU, Tensor Pivots) LuFactor(Tensor a)
    {
        NeedMatrix("LuFactor", a);
        int n = a._shape[^1];
        var batch = a._shape[..^2];
        int nb = ShapeUtil.Numel(batch);
        var d = a.ToDoubleArray();
        var piv = new int[nb * n];
        var perm = new double[nb * n * n];
        ForBatch(nb, Cube(n), i =>
        {
            var pv = piv.AsSpan(i * n, n);
            Decomp.Lu(d.AsSpan(i * n * n, n * n), n, pv);
            // P with A = P·L·U: rows of the identity permuted as the pivots swapped them
            var order = Enumerable.Range(0, n).ToArray();
            for (int k = 0; k < n; k++) (order[k], order[pv[k]]) = (order[pv[k]], order[k]);
            var pm = perm.AsSpan(i * n * n, n * n);
            for (int k = 0; k < n; k++) pm[order[k] * n + k] = 1;   // (P·L·U) row order[k] = (L·U) row k
        });
        var p = MatFromDoubles(perm, a.ShapeArray, a.DType);
        var lu = Op.Record(LuFactorOp, MatFromDoubles(d, a.ShapeArray, a.DType), [a], p);
        var pivots = MatFromDoubles(piv.Select(v => (double)(v + 1)).ToArray(), [.. batch, n], DType.Float64).To(DType.Int64);
        return (lu, pivots);
    }

    /// <summary>P, L, U with A = P·L·U of each square matrix (torch.linalg.lu; square matrices only). P is a constant.</summary>
    public static (Tensor P, Tensor L, Tensor U) Lu(Tensor a)
    {
        var (lu, piv) = LuFactor(a);
        var (l, u) = UnpackLu(lu);
        return (PermutationFromPivots(piv, a.DType), l, u);
    }

    /// <summary>The permutation matrix P (A = P·L·U) of LAPACK-style 1-based pivots [..., n].</summary>
    private static Tensor PermutationFromPivots(Tensor pivots, DType dtype)
    {
        int n = pivots._shape[^1];
        var batch = pivots._shape[..^1];
        int nb = ShapeUtil.Numel(batch);
        var pv = pivots.ToDoubleArray();
        var perm = new double[nb * n * n];
        for (int i = 0; i < nb; i++)
        {
            var order = Enumerable.Range(0, n).ToArray();
            for (int k = 0; k < n; k++)
            {
                int q = (int)pv[i * n + k] - 1;
                if (q < 0 || q >= n) throw new ArgumentException($"LuSolve: pivot {q + 1} out of range [1, {n}].");
                (order[k], order[q]) = (order[q], order[k]);
            }
            for (int k = 0; k < n; k++) perm[i * n * n + order[k] * n + k] = 1;
        }
        return MatFromDoubles(perm, [.. batch, n, n], dtype);
    }

    internal static readonly OpDef LuSolveOp = new("LuSolve", OpFamily.Linalg, "linalg.lu_solve")
    {
        CompositeOf = ["LuFactor", "SolveTriangular", "MatMul"], Doc = "solves A·X = B from A's LU factorization",
        Samples = () => [new("matrix", [WellConditioned(1, 3), M(2, 3, 2)], x => { var (lu, piv) = LuFactor(x[0]); return LuSolve(lu, piv, x[1]); })],
    };

    /// <summary>The solution of A·X = B from A's LU factorization (torch.linalg.lu_solve with left=True, adjoint=False).</summary>
    public static Tensor LuSolve(Tensor lu, Tensor pivots, Tensor b)
    {
        NeedMatrix("LuSolve", lu);
        if (!Op.Tracking(lu, b) && LuSolveDirect(lu, pivots, b) is { } x) return x;
        var (l, u) = UnpackLu(lu);
        var p = PermutationFromPivots(pivots, lu.DType);
        var y = SolveTriangular(l, p.MT.MatMul(b), upper: false, unitriangular: true);
        return SolveTriangular(u, y, upper: true);
    }

    /// <summary>
    /// <see cref="LuSolve"/> without a derivative to record: the pivots' row swaps and the two triangular solves on the packed
    /// factors (<c>Decomp.LuSolve</c>, float32 in float32), instead of a permutation matrix product and unpacked L and U.
    /// Null when the shapes need broadcasting (the composite handles that).
    /// </summary>
    private static Tensor? LuSolveDirect(Tensor lu, Tensor pivots, Tensor b)
    {
        int n = lu._shape[^1];
        var batch = lu._shape[..^2];
        if (lu.DType != b.DType || b.Rank != lu.Rank || b._shape[^2] != n || pivots.Rank != lu.Rank - 1 || pivots._shape[^1] != n
            || !ShapeUtil.SameShape(batch, b._shape[..^2]) || !ShapeUtil.SameShape(batch, pivots._shape[..^1])) return null;
        int k = b._shape[^1], nb = ShapeUtil.Numel(batch);
        var pv = pivots.ToDoubleArray();
        var piv = new int[pv.Length];
        for (int i = 0; i < piv.Length; i++)
        {
            int q = (int)pv[i] - 1;
            if (q < 0 || q >= n) throw new ArgumentException($"LuSolve: pivot {q + 1} out of range [1, {n}].");
            piv[i] = q;
        }
        if (lu.DType == DType.Float32)
        {
            var lf = lu.ToArray<float>();
            var xf = b.ToArray<float>();
            ForBatch(nb, (long)n * n * k, i => Decomp.LuSolve(lf.AsSpan(i * n * n, n * n), piv.AsSpan(i * n, n), n, xf.AsSpan(i * n * k, n * k), k));
            return Wrap(xf, b.ShapeArray);
        }
        var ld = lu.ToDoubleArray();
        var xd = b.ToDoubleArray();
        ForBatch(nb, (long)n * n * k, i => Decomp.LuSolve(ld.AsSpan(i * n * n, n * n), piv.AsSpan(i * n, n), n, xd.AsSpan(i * n * k, n * k), k));
        return MatFromDoubles(xd, b.ShapeArray, lu.DType);
    }

    // ---- triangular solve ----

    internal static readonly OpDef SolveTriangularOp = new("SolveTriangular", OpFamily.Linalg, "linalg.solve_triangular", "triangular_solve")
    {
        Batch = c =>
        {
            var (upper, unit) = c.A<(bool, bool)>();
            return [SolveTriangular(c.Materialize(0), c.Materialize(1), upper, unitriangular: unit)];
        },
        Doc = "solution of T·X = B for triangular T",
        Saves = 1 | OpDef.SaveOutput,
        Vjp = (in OpCtx c, Tensor g, int i) =>
        {
            var (upper, unit) = c.A<(bool, bool)>();
            var gb = SolveTriangular(c.X(0).MT, g, !upper, unitriangular: unit);
            return i == 1 ? gb : Tri(-gb.MatMul(c.Y.MT), upper, unit ? 0 : 1);
        },
        Jvp = (in OpCtx c, Tensor?[] t) =>
        {
            var (upper, unit) = c.A<(bool, bool)>();
            Tensor? r = t[1];
            if (t[0] is { } ta)
            {
                var p = Tri(ta, upper, unit ? 0 : 1).MatMul(c.Y);
                r = r is null ? -p : r - p;
            }
            return r is null ? null : SolveTriangular(c.X(0), r, upper, unitriangular: unit);
        },
        BatchedJvp = true,
        Samples = () => [new("lower", [WellConditioned(1, 3), M(2, 3, 2)], x => SolveTriangular(x[0], x[1], upper: false)),
                         new("upper right unit", [WellConditioned(3, 3), M(4, 2, 3)], x => SolveTriangular(x[0], x[1], upper: true, left: false, unitriangular: true))],
    };

    /// <summary>
    /// The solution X of T·X = B (left) or X·T = B (right) for triangular T [..., n, n] (torch.linalg.solve_triangular;
    /// only T's upper or lower triangle is read, its diagonal taken as ones when <paramref name="unitriangular"/>).
    /// torch.triangular_solve(b, A, upper, transpose, unitriangular) is <c>SolveTriangular(transpose ? A.MT : A, b, upper ^ transpose)</c>.
    /// </summary>
    public static Tensor SolveTriangular(Tensor a, Tensor b, bool upper, bool left = true, bool unitriangular = false)
    {
        NeedMatrix("SolveTriangular", a);
        b.CheckFloat("SolveTriangular");
        CheckSameDType("SolveTriangular", a, b);
        if (!left) return SolveTriangular(a.MT, b.MT, !upper, true, unitriangular).MT;
        int n = a._shape[^1];
        if (b.Rank < 2 || b._shape[^2] != n)
            throw new ShapeMismatchException($"SolveTriangular: B must be [..., {n}, k] for A of shape {ShapeUtil.Format(a.Shape)}, got {ShapeUtil.Format(b.Shape)}.");
        var batch = ShapeUtil.Broadcast($"SolveTriangular (batch dims of {ShapeUtil.Format(a.Shape)} and {ShapeUtil.Format(b.Shape)})", a._shape[..^2], b._shape[..^2]);
        var ae = ShapeUtil.SameShape(a._shape[..^2], batch) ? a : a.Expand([.. batch, n, n]);
        var be = ShapeUtil.SameShape(b._shape[..^2], batch) ? b : b.Expand([.. batch, n, b._shape[^1]]);
        int k = be._shape[^1], nb = ShapeUtil.Numel(batch);
        if (a.DType == DType.Float32)
        {
            // float32 in float32 (as LAPACK's strsm): the off-diagonal blocks at float32 GEMM speed
            var tf = ae.ToArray<float>();
            var xf = be.ToArray<float>();
            ForBatch(nb, (long)n * n * k, i => Decomp.TriSolve(tf.AsSpan(i * n * n, n * n), n, xf.AsSpan(i * n * k, n * k), k, upper, unitriangular));
            return Op.Record(SolveTriangularOp, Wrap(xf, be.ShapeArray), [ae, be], (upper, unitriangular));
        }
        var t = ae.ToDoubleArray();
        var x = be.ToDoubleArray();
        ForBatch(nb, (long)n * n * k, i => Decomp.TriSolve(t.AsSpan(i * n * n, n * n), n, x.AsSpan(i * n * k, n * k), k, upper, unitriangular));
        return Op.Record(SolveTriangularOp, MatFromDoubles(x, be.ShapeArray, a.DType), [ae, be], (upper, unitriangular));
    }

    // ---- cholesky ----

    internal static readonly OpDef CholeskyOp = new("Cholesky", OpFamily.Linalg, "linalg.cholesky", "cholesky")
    {
        Batch = c => [Cholesky(c.X(0))],
        Doc = "lower Cholesky factor of a symmetric positive-definite matrix (lower triangle read)",
        Saves = OpDef.SaveOutput,
        Vjp = (in OpCtx c, Tensor g, int i) =>
        {
            var l = c.Y;
            var p = Tri(l.MT.MatMul(g), upper: false);
            p = (p + Tri(p, upper: false, diag: 0).MT) * 0.5;
            var s = SolveTriangular(l.MT, p, upper: true);
            return SolveTriangular(l, s, upper: false, left: false);
        },
        Jvp = (in OpCtx c, Tensor?[] t) =>
        {
            if (t[0] is not { } ta) return null;
            var l = c.Y;
            var s = SolveTriangular(l, ta, upper: false);
            s = SolveTriangular(l.MT, s, upper: true, left: false);
            return l.MatMul(Tri(s, upper: false, diag: 0.5));
        },
        BatchedJvp = true,
        Samples = () => [new("spd", [Spd(1, 3)], x => Cholesky(Sym(x[0]))), new("batched", [Spd(2, 3, 2)], x => Cholesky(Sym(x[0])))],
    };

    private static Tensor Sym(Tensor x) => (x + x.MT) * 0.5;

    /// <summary>
    /// The lower Cholesky factor L (A = L·Lᵀ) of each symmetric positive-definite matrix (torch.linalg.cholesky; only the
    /// lower triangle of A is read). <paramref name="upper"/> returns Lᵀ instead (torch.cholesky(upper=True)). A matrix
    /// that is not positive definite throws.
    /// </summary>
    public static Tensor Cholesky(Tensor a, bool upper = false)
    {
        NeedMatrix("Cholesky", a);
        int n = a._shape[^1], nb = ShapeUtil.Numel(a._shape[..^2]);
        var d = a.ToDoubleArray();
        int bad = -1, order = 0;
        ForBatch(nb, Cube(n), i =>
        {
            int r = Decomp.Cholesky(d.AsSpan(i * n * n, n * n), n);
            if (r != 0) { bad = i; order = r; }
        });
        if (bad >= 0)
            throw new ArgumentException($"Cholesky: matrix {bad} of the batch (shape {ShapeUtil.Format(a.Shape)}) is not positive-definite (the leading minor of order {order} is not positive).");
        var l = Op.Record(CholeskyOp, MatFromDoubles(d, a.ShapeArray, a.DType), [a]);
        return upper ? l.MT : l;
    }

    internal static readonly OpDef CholeskySolveOp = new("CholeskySolve", OpFamily.Linalg, "cholesky_solve")
    {
        CompositeOf = ["SolveTriangular"], Doc = "solves A·X = B given A's Cholesky factor",
        Samples = () => [new("lower", [M(1, 3, 2), Spd(2, 3)], x => CholeskySolve(x[0], Cholesky(Sym(x[1]))))],
    };

    /// <summary>The solution of A·X = B given A's Cholesky factor (torch.cholesky_solve(B, L, upper)).</summary>
    public static Tensor CholeskySolve(Tensor b, Tensor factor, bool upper = false)
    {
        var l = upper ? factor.MT : factor;
        return SolveTriangular(l.MT, SolveTriangular(l, b, upper: false), upper: true);
    }

    internal static readonly OpDef CholeskyInverseOp = new("CholeskyInverse", OpFamily.Linalg, "cholesky_inverse")
    {
        CompositeOf = ["SolveTriangular"], Doc = "inverse of A given its Cholesky factor",
        Samples = () => [new("lower", [Spd(1, 3)], x => CholeskyInverse(Cholesky(Sym(x[0]))))],
    };

    /// <summary>A⁻¹ given A's Cholesky factor (torch.cholesky_inverse(L, upper)).</summary>
    public static Tensor CholeskyInverse(Tensor factor, bool upper = false)
    {
        NeedMatrix("CholeskyInverse", factor);
        int n = factor._shape[^1];
        return CholeskySolve(Eye(n, null, factor.DType).Expand(factor.ShapeArray), factor, upper);
    }

    // ---- qr ----

    internal static readonly OpDef QrOp = new("Qr", OpFamily.Linalg, "linalg.qr", "qr")
    {
        Batch = c =>
        {
            var r = Qr(c.X(0));
            return [r.Q, r.R];
        },
        Doc = "reduced QR (Householder); derivatives for m ≥ n",
        Saves = OpDef.SaveOutput,
        VjpAll = (in OpCtx c, Tensor[] g, bool[] needs) =>
        {
            Tensor q = c.Out(0), r = c.Out(1), gq = g[0], gr = g[1];
            if (q._shape[^2] < r._shape[^1])
                throw new NotSupportedException("Qr: the derivative is implemented for m ≥ n (tall or square inputs) only, as PyTorch's for mode='reduced' with m ≥ n.");
            var m = r.MatMul(gr.MT) - gq.MT.MatMul(q);
            var low = Tri(m, upper: false, diag: 0);
            var copyltu = low + low.MT + DiagEmbed(m.DiagonalLast());
            var cm = gq + q.MatMul(copyltu);
            return [SolveTriangular(r, cm.MT, upper: true).MT];
        },
        JvpAll = (in OpCtx c, Tensor?[] t) =>
        {
            if (t[0] is not { } ta) return [null, null];
            Tensor q = c.Out(0), r = c.Out(1);
            if (q._shape[^2] < r._shape[^1]) throw new NotSupportedException("Qr: the derivative is implemented for m ≥ n only.");
            var arinv = SolveTriangular(r, ta, upper: true, left: false);     // dA·R⁻¹
            var cc = q.MT.MatMul(arinv);
            var low = Tri(cc, upper: false, diag: 0);
            var omega = low - low.MT;
            var dq = q.MatMul(omega) + arinv - q.MatMul(cc);
            var dr = (cc - omega).MatMul(r);
            return [dq, dr];
        },
        Samples = () => [new("square", [M(1, 3, 3)], x => QrGauge(x[0])), new("tall batched", [M(2, 2, 4, 3)], x => QrGauge(x[0]))],
    };

    /// <summary>A sample reading both outputs of QR.</summary>
    private static Tensor QrGauge(Tensor a)
    {
        var (q, r) = Qr(a);
        return Cat([q, r], -2);
    }

    /// <summary>
    /// QR decomposition A = Q·R of each matrix [..., m, n] (torch.linalg.qr). Reduced (default): Q [..., m, k], R [..., k, n],
    /// k = min(m, n); <paramref name="complete"/>: Q [..., m, m], R [..., m, n]. Householder with LAPACK's sign convention, so Q and
    /// R agree with PyTorch's. Derivatives are implemented for m ≥ n (reduced, or complete with m = n), as in PyTorch.
    /// </summary>
    public static QrResult Qr(Tensor a, bool complete = false)
    {
        NeedMatrix("Qr", a, square: false);
        int m = a._shape[^2], n = a._shape[^1], k = Math.Min(m, n), qc = complete ? m : k, rr = complete ? m : k;
        var batch = a._shape[..^2];
        int nb = ShapeUtil.Numel(batch);
        var src = a.ToDoubleArray();
        var qd = new double[nb * m * qc];
        var rd = new double[nb * rr * n];
        ForBatch(nb, (long)m * n * k, i => Decomp.Qr(src.AsSpan(i * m * n, m * n), m, n, qd.AsSpan(i * m * qc, m * qc), rd.AsSpan(i * rr * n, rr * n), complete));
        var q = MatFromDoubles(qd, [.. batch, m, qc], a.DType);
        var r = MatFromDoubles(rd, [.. batch, rr, n], a.DType);
        if (complete && m > n)
        {
            if (Op.Tracking(a)) throw new NotSupportedException("Qr: the derivative of the complete QR of a tall matrix is not defined (the extra columns of Q are arbitrary); use the reduced mode.");
            return new(q, r);
        }
        Op.Record(QrOp, [q, r], [a]);
        return new(q, r);
    }

    // ---- eigh ----

    internal static readonly OpDef EighOp = new("Eigh", OpFamily.Linalg, "linalg.eigh")
    {
        Batch = c =>
        {
            var r = Eigh(c.X(0));
            return [r.Eigenvalues, r.Eigenvectors];
        },
        Doc = "symmetric eigen-decomposition (Householder tridiagonalization + implicit QL; lower triangle read)",
        Saves = OpDef.SaveOutput,
        VjpAll = (in OpCtx c, Tensor[] g, bool[] needs) =>
        {
            Tensor l = c.Out(0), v = c.Out(1);
            // eigenvalues only (eigvalsh): V·diag(gL)·Vᵀ, finite also at repeated eigenvalues (as PyTorch)
            if (IsZeroConstant(g[1])) return [v.MatMul(DiagEmbed(g[0])).MatMul(v.MT)];
            var vgv = v.MT.MatMul(g[1]);
            vgv = (vgv - vgv.MT) * 0.5;
            var e = GapMatrix(l);
            var inner = vgv / e + DiagEmbed(g[0]);
            return [v.MatMul(inner).MatMul(v.MT)];
        },
        JvpAll = (in OpCtx c, Tensor?[] t) =>
        {
            if (t[0] is not { } ta) return [null, null];
            Tensor l = c.Out(0), v = c.Out(1);
            var p = v.MT.MatMul(ta).MatMul(v);
            var dl = p.DiagonalLast();
            var f = Tri(p, false, 0) + Tri(p, true, 0);
            var dv = v.MatMul(f / GapMatrix(l));
            return [dl, dv];
        },
        Samples = () => [new("3x3", [M(1, 3, 3)], x => EighGauge(x[0])), new("batched", [M(2, 2, 4, 4)], x => EighGauge(x[0]))],
    };

    /// <summary>E_ij = λ_j − λ_i off the diagonal, 1 on it (differentiable in λ, for higher orders).</summary>
    private static Tensor GapMatrix(Tensor l)
    {
        int n = l._shape[^1];
        return l.Unsqueeze(-2) - l.Unsqueeze(-1) + Eye(n, null, l.DType);
    }

    /// <summary>A gauge-invariant reading of both outputs of Eigh of a symmetrized input.</summary>
    private static Tensor EighGauge(Tensor a)
    {
        var (l, v) = Eigh(a + a.MT);
        return v * v + l.Unsqueeze(-2);
    }

    /// <summary>
    /// Eigenvalues (ascending) and orthonormal eigenvectors of each symmetric matrix [..., n, n] (torch.linalg.eigh, UPLO='L':
    /// only the lower triangle is read). Gradients as PyTorch's (ill-defined at repeated eigenvalues; see the file header).
    /// </summary>
    public static EighResult Eigh(Tensor a)
    {
        NeedMatrix("Eigh", a);
        int n = a._shape[^1];
        var batch = a._shape[..^2];
        int nb = ShapeUtil.Numel(batch);
        var src = a.ToDoubleArray();
        var w = new double[nb * n];
        var v = new double[nb * n * n];
        ForBatch(nb, 8 * Cube(n), i => Decomp.Eigh(src.AsSpan(i * n * n, n * n), n, w.AsSpan(i * n, n), v.AsSpan(i * n * n, n * n)));
        var lt = MatFromDoubles(w, [.. batch, n], a.DType);
        var vt = MatFromDoubles(v, [.. batch, n, n], a.DType);
        Op.Record(EighOp, [lt, vt], [a]);
        return new(lt, vt);
    }

    internal static readonly OpDef EigvalshOp = new("Eigvalsh", OpFamily.Linalg, "linalg.eigvalsh")
    {
        CompositeOf = ["Eigh"], Doc = "eigenvalues of a symmetric matrix",
        Samples = () => [new("3x3", [M(1, 3, 3)], x => Eigvalsh(x[0] + x[0].MT))],
    };

    /// <summary>
    /// The eigenvalues (ascending) of each symmetric matrix (torch.linalg.eigvalsh; lower triangle read). Without a
    /// derivative to record the eigenvectors are not computed; otherwise it is <c>Eigh(a).Eigenvalues</c> (its gradient
    /// V·diag(g)·Vᵀ needs them).
    /// </summary>
    public static Tensor Eigvalsh(Tensor a)
    {
        NeedMatrix("Eigvalsh", a);
        if (Op.Tracking(a)) return Eigh(a).Eigenvalues;
        int n = a._shape[^1];
        var batch = a._shape[..^2];
        int nb = ShapeUtil.Numel(batch);
        var src = a.ToDoubleArray();
        var w = new double[nb * n];
        ForBatch(nb, 8 * Cube(n), i => Decomp.Eigh(src.AsSpan(i * n * n, n * n), n, w.AsSpan(i * n, n), default, vectors: false));
        return MatFromDoubles(w, [.. batch, n], a.DType);
    }

    // ---- svd ----

    internal static readonly OpDef SvdOp = new("Svd", OpFamily.Linalg, "linalg.svd", "svd")
    {
        Batch = c =>
        {
            // full matrices when U or Vh has more than min(m, n) columns or rows
            var s = c.Shape(0);
            int k = Math.Min(s[^2], s[^1]);
            var r = Svd(c.X(0), fullMatrices: c.OutShapes[0][^1] > k || c.OutShapes[2][^2] > k);
            return [r.U, r.S, r.Vh];
        },
        Doc = "singular value decomposition (Householder bidiagonalization + Golub–Kahan QR)",
        Saves = OpDef.SaveOutput,
        VjpAll = (in OpCtx c, Tensor[] g, bool[] needs) => [SvdVjp(c.Out(0), c.Out(1), c.Out(2), g[0], g[1], g[2])],
        JvpAll = (in OpCtx c, Tensor?[] t) =>
        {
            if (t[0] is not { } ta) return [null, null, null];
            Tensor u = c.Out(0), s = c.Out(1), vh = c.Out(2);
            int k = s._shape[^1];
            if (u._shape[^1] != k || vh._shape[^2] != k) throw new NotSupportedException("Svd: forward-mode derivatives need fullMatrices: false for non-square inputs.");
            bool tall = u._shape[^2] >= vh._shape[^1];
            // for a wide matrix work on Aᵀ = V S Uᵀ
            Tensor uu = tall ? u : vh.MT, vv = tall ? vh.MT : u, da = tall ? ta : ta.MT;
            var dp = uu.MT.MatMul(da).MatMul(vv);
            var ds = dp.DiagonalLast();
            var s2 = s * s;
            var f = s2.Unsqueeze(-2) - s2.Unsqueeze(-1);
            f = (Eye(k, null, s.DType) - 1) * -1 / (f + Eye(k, null, s.DType));
            var sr = s.Unsqueeze(-2);  // scales columns
            var sc = s.Unsqueeze(-1);  // scales rows
            var du = uu.MatMul(f * (dp * sr + sc * dp.MT)) + (da.MatMul(vv) - uu.MatMul(uu.MT.MatMul(da).MatMul(vv))) / sr;
            var dv = vv.MatMul(f * (sc * dp + dp.MT * sr)) + (da.MT.MatMul(uu) - vv.MatMul(vv.MT.MatMul(da.MT).MatMul(uu))) / sr;
            return tall ? [du, ds, dv.MT] : [dv, ds, du.MT];
        },
        Samples = () => [new("tall", [M(1, 4, 3)], x => SvdGauge(x[0])), new("wide batched", [M(2, 2, 2, 3)], x => SvdGauge(x[0])),
                         new("values", [M(3, 3, 3)], x => Svd(x[0], fullMatrices: false).S)],
    };

    /// <summary>True for an output gradient that is an all-zero constant (an output the loss does not read: the engine
    /// passes zeros). Only then may a rule skip the terms of that output, as PyTorch does for undefined gradients.</summary>
    private static bool IsZeroConstant(Tensor g) => !g.RequiresGrad && !g.HasTangents && g.ToDoubleArray().All(v => v == 0);

    /// <summary>PyTorch's svd_backward (real case).</summary>
    private static Tensor SvdVjp(Tensor u, Tensor s, Tensor vh, Tensor gu, Tensor gs, Tensor gvh)
    {
        int k = s._shape[^1], m = u._shape[^2], n = vh._shape[^1];
        if (IsZeroConstant(gu) && IsZeroConstant(gvh))
        {
            // singular values only (svdvals): U·diag(gS)·Vh, finite also at repeated singular values (as PyTorch)
            if (u._shape[^1] != k) u = u.Narrow(-1, 0, k);
            if (vh._shape[^2] != k) vh = vh.Narrow(-2, 0, k);
            return u.MatMul(gs.Unsqueeze(-1) * vh);
        }
        if (u._shape[^1] != k) { u = u.Narrow(-1, 0, k); gu = gu.Narrow(-1, 0, k); }
        if (vh._shape[^2] != k) { vh = vh.Narrow(-2, 0, k); gvh = gvh.Narrow(-2, 0, k); }
        var uhgu = u.MT.MatMul(gu);
        uhgu = uhgu - uhgu.MT;
        var vhgv = vh.MatMul(gvh.MT);
        vhgv = vhgv - vhgv.MT;
        var s2 = s * s;
        var e = s2.Unsqueeze(-2) - s2.Unsqueeze(-1) + Eye(k, null, s.DType);
        var ga = (uhgu * s.Unsqueeze(-2) + s.Unsqueeze(-1) * vhgv) / e + DiagEmbed(gs);
        if (m > n)
        {
            ga = u.MatMul(ga);
            var gusinv = gu / s.Unsqueeze(-2);
            ga = ga + gusinv - u.MatMul(u.MT.MatMul(gusinv));
            return ga.MatMul(vh);
        }
        if (m < n)
        {
            ga = ga.MatMul(vh);
            var sinvgvh = gvh / s.Unsqueeze(-1);
            ga = ga + sinvgvh - sinvgvh.MatMul(vh.MT).MatMul(vh);
            return u.MatMul(ga);
        }
        return u.MatMul(ga).MatMul(vh);
    }

    /// <summary>A gauge-invariant reading of the three outputs of Svd.</summary>
    private static Tensor SvdGauge(Tensor a)
    {
        var (u, s, vh) = Svd(a, fullMatrices: false);
        var rec = u.MatMul(DiagEmbed(s * s)).MatMul(vh);  // U S² Vh: invariant under the joint sign flips
        return Cat([rec.Reshape(-1), (u * u).Reshape(-1), (vh * vh).Reshape(-1), s.Reshape(-1)]);
    }

    /// <summary>
    /// Singular value decomposition A = U·diag(S)·Vh of each matrix [..., m, n] (torch.linalg.svd). With
    /// <paramref name="fullMatrices"/> (PyTorch's default) U is [..., m, m] and Vh [..., n, n] (the extra columns / rows
    /// complete an orthonormal basis and get no gradient); otherwise U [..., m, k], Vh [..., k, n], k = min(m, n).
    /// S is descending. Gradients as PyTorch's (ill-defined at repeated or zero singular values when the loss reads U or Vh).
    /// </summary>
    public static SvdResult Svd(Tensor a, bool fullMatrices = true)
    {
        NeedMatrix("Svd", a, square: false);
        int m = a._shape[^2], n = a._shape[^1], k = Math.Min(m, n);
        var batch = a._shape[..^2];
        int nb = ShapeUtil.Numel(batch);
        var src = a.ToDoubleArray();
        int uc = fullMatrices ? m : k, vr = fullMatrices ? n : k;
        var ud = new double[nb * m * uc];
        var sd = new double[nb * k];
        var vd = new double[nb * vr * n];
        ForBatch(nb, 8L * m * n * k, i =>
        {
            var u = new double[m * k];
            var vt = new double[k * n];
            Decomp.Svd(src.AsSpan(i * m * n, m * n), m, n, u, sd.AsSpan(i * k, k), vt);
            var uo = ud.AsSpan(i * m * uc, m * uc);
            var vo = vd.AsSpan(i * vr * n, vr * n);
            if (uc == k) u.CopyTo(uo);
            else CompleteColumns(u, m, k, uo);
            if (vr == k) vt.CopyTo(vo);
            else
            {
                // complete the rows of Vh: the columns of V = Vhᵀ
                var v = new double[n * k];
                for (int r = 0; r < k; r++) for (int j = 0; j < n; j++) v[j * k + r] = vt[r * n + j];
                var full = new double[n * n];
                CompleteColumns(v, n, k, full);
                for (int r = 0; r < n; r++) for (int j = 0; j < n; j++) vo[r * n + j] = full[j * n + r];
            }
        });
        var ut = MatFromDoubles(ud, [.. batch, m, uc], a.DType);
        var st = MatFromDoubles(sd, [.. batch, k], a.DType);
        var vht = MatFromDoubles(vd, [.. batch, vr, n], a.DType);
        Op.Record(SvdOp, [ut, st, vht], [a]);
        return new(ut, st, vht);
    }

    /// <summary>Extends the k orthonormal columns of the m×k matrix q to an orthonormal basis (m×m) via complete QR.</summary>
    private static void CompleteColumns(double[] q, int m, int k, Span<double> dst)
    {
        var qf = new double[m * m];
        var r = new double[m * k];
        Decomp.Qr(q, m, k, qf, r, complete: true);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < m; j++) dst[i * m + j] = j < k ? q[i * k + j] : qf[i * m + j];
    }

    internal static readonly OpDef SvdvalsOp = new("Svdvals", OpFamily.Linalg, "linalg.svdvals")
    {
        CompositeOf = ["Svd"], Doc = "singular values",
        Samples = () => [new("tall", [M(1, 4, 3)], x => Svdvals(x[0]))],
    };

    /// <summary>
    /// The singular values (descending) of each matrix (torch.linalg.svdvals). Without a derivative to record (no grad, no
    /// tangent, not traced) the singular vectors are not computed; otherwise it is <c>Svd(a, fullMatrices: false).S</c>
    /// (its gradient U·diag(g)·Vh needs them).
    /// </summary>
    public static Tensor Svdvals(Tensor a)
    {
        NeedMatrix("Svdvals", a, square: false);
        if (Op.Tracking(a)) return Svd(a, fullMatrices: false).S;
        int m = a._shape[^2], n = a._shape[^1], k = Math.Min(m, n);
        var batch = a._shape[..^2];
        int nb = ShapeUtil.Numel(batch);
        var src = a.ToDoubleArray();
        var sd = new double[nb * k];
        ForBatch(nb, 4L * m * n * k, i => Decomp.Svd(src.AsSpan(i * m * n, m * n), m, n, default, sd.AsSpan(i * k, k), default, vectors: false));
        return MatFromDoubles(sd, [.. batch, k], a.DType);
    }

    // ---- pinv / matrix_rank / cond ----

    internal static readonly OpDef PinvOp = new("Pinv", OpFamily.Linalg, "linalg.pinv", "pinverse")
    {
        CompositeOf = ["Svd", "MatMul", "Div", "Where"], Doc = "Moore–Penrose pseudo-inverse via the SVD",
        Samples = () => [new("tall", [M(1, 4, 3)], x => Pinv(x[0])), new("wide", [M(2, 2, 3)], x => Pinv(x[0]))],
    };

    /// <summary>
    /// The Moore–Penrose pseudo-inverse of each matrix (torch.linalg.pinv / torch.pinverse): V·diag(1/σ)·Uᵀ over the singular
    /// values σ &gt; max(atol, rtol·σ_max); rtol defaults to eps·max(m, n) (or 0 when atol is given), as PyTorch's.
    /// </summary>
    public static Tensor Pinv(Tensor a, double? atol = null, double? rtol = null)
    {
        NeedMatrix("Pinv", a, square: false);
        var (u, s, vh) = Svd(a, fullMatrices: false);
        var tol = RankTol(a, s, atol, rtol);
        var keep = s.Detach().Gt(tol);
        var sinv = Where(keep, 1.0 / Where(keep, s, 1.0), 0.0);
        return vh.MT.MatMul(sinv.Unsqueeze(-1) * u.MT);
    }

    /// <summary>Pseudo-inverse (torch.pinverse).</summary>
    public Tensor Pinverse() => Pinv(this);

    private static Tensor RankTol(Tensor a, Tensor s, double? atol, double? rtol)
    {
        double eps = a.DType == DType.Float32 ? 1.1920928955078125e-07 : 2.220446049250313e-16;
        double r = rtol ?? (atol is > 0 ? 0 : eps * Math.Max(a._shape[^2], a._shape[^1]));
        var smax = s._shape[^1] == 0 ? s.Detach().Sum(-1, keepDim: true) : s.Detach().Narrow(-1, 0, 1);
        var t = smax * r;
        return atol is { } at ? t.ClampMin(at) : t;
    }

    internal static readonly OpDef MatrixRankOp = new("MatrixRank", OpFamily.Linalg, "linalg.matrix_rank")
    {
        Differentiable = false, Doc = "number of singular values above the tolerance (int64)",
    };

    /// <summary>The numerical rank of each matrix (torch.linalg.matrix_rank): the count of singular values &gt; max(atol, rtol·σ_max), int64.</summary>
    public static Tensor MatrixRank(Tensor a, double? atol = null, double? rtol = null)
    {
        NeedMatrix("MatrixRank", a, square: false);
        Tensor s;
        using (Autograd.NoGrad()) s = Svdvals(a.Detach());
        return s.Gt(RankTol(a, s, atol, rtol)).To(DType.Float64).Sum(-1).To(DType.Int64);
    }

    // ---- matrix_power / matrix_exp ----

    internal static readonly OpDef MatrixPowerOp = new("MatrixPower", OpFamily.Linalg, "linalg.matrix_power")
    {
        CompositeOf = ["MatMul", "Inv"], Doc = "integer matrix power by repeated squaring",
        Samples = () => [new("5", [M(1, 3, 3) * 0.5], x => MatrixPower(x[0], 5)), new("-2", [WellConditioned(2, 3)], x => MatrixPower(x[0], -2)),
                         new("0", [M(3, 2, 3, 3)], x => MatrixPower(x[0], 0) * x[0])],
    };

    /// <summary>A^n for integer n of each square matrix (torch.linalg.matrix_power): n = 0 gives the identity, n &lt; 0 powers of the inverse.</summary>
    public static Tensor MatrixPower(Tensor a, int n)
    {
        NeedMatrix("MatrixPower", a);
        if (n == 0)
        {
            // a fresh identity per matrix, as PyTorch's: zeros with the diagonals set (no broadcast copy)
            int d = a._shape[^1];
            var id = Zeros(a.ShapeArray, a.DType);
            int count = d == 0 ? 0 : (int)(id.Numel / ((long)d * d));
            for (int mi = 0; mi < count; mi++)
                for (int i = 0; i < d; i++) id.SetRaw(mi * d * d + i * d + i, 1.0);
            return id;
        }
        var b = n < 0 ? Inv(a) : a;
        int e = Math.Abs(n);
        Tensor? result = null;
        while (true)
        {
            if ((e & 1) != 0) result = result is null ? b : result.MatMul(b);
            e >>= 1;
            if (e == 0) break;
            b = b.MatMul(b);
        }
        return result!;
    }

    internal static readonly OpDef MatrixExpOp = new("MatrixExp", OpFamily.Linalg, "matrix_exp")
    {
        CompositeOf = ["MatMul", "Solve", "Add", "Mul"], Doc = "matrix exponential (scaling and squaring with a [13/13] Padé approximant)",
        Samples = () => [new("3x3", [M(1, 3, 3)], x => MatrixExp(x[0])), new("batched", [M(2, 2, 2, 2) * 3], x => MatrixExp(x[0]))],
    };

    private static readonly double[] Pade13 =
    [
        64764752532480000, 32382376266240000, 7771770303897600, 1187353796428800, 129060195264000, 10559470521600,
        670442572800, 33522128640, 1323241920, 40840800, 960960, 16380, 182, 1,
    ];

    /// <summary>
    /// The matrix exponential of each square matrix (torch.matrix_exp): Higham's scaling and squaring with the [13/13] Padé
    /// approximant, written with MatMul and Solve, so every derivative order follows from theirs. The scaling is chosen per
    /// call from the largest 1-norm in the batch.
    /// </summary>
    public static Tensor MatrixExp(Tensor a)
    {
        NeedMatrix("MatrixExp", a);
        int n = a._shape[^1];
        if (a.Numel == 0) return a * 1.0;
        double norm1 = 0;
        using (Autograd.NoGrad())
            norm1 = a.Detach().Abs().Sum(-2).Amax(-1).ToDoubleArray().Max();
        const double theta13 = 5.371920351148152;
        int sPow = norm1 > theta13 ? (int)Math.Ceiling(Math.Log2(norm1 / theta13)) : 0;
        var x = sPow > 0 ? a * Math.Pow(2, -sPow) : a;
        var id = Eye(n, null, a.DType);
        var b = Pade13;
        var x2 = x.MatMul(x);
        var x4 = x2.MatMul(x2);
        var x6 = x4.MatMul(x2);
        var uIn = x6.MatMul(x6 * b[13] + x4 * b[11] + x2 * b[9]) + x6 * b[7] + x4 * b[5] + x2 * b[3] + id * b[1];
        var u = x.MatMul(uIn);
        var v = x6.MatMul(x6 * b[12] + x4 * b[10] + x2 * b[8]) + x6 * b[6] + x4 * b[4] + x2 * b[2] + id * b[0];
        var r = Solve(v - u, v + u);
        for (int i = 0; i < sPow; i++) r = r.MatMul(r);
        return r;
    }

    /// <summary>The matrix exponential (torch.matrix_exp).</summary>
    public Tensor MatrixExp() => MatrixExp(this);

    // ---- lstsq / tensorinv / tensorsolve ----

    internal static readonly OpDef LstsqOp = new("Lstsq", OpFamily.Linalg, "linalg.lstsq")
    {
        CompositeOf = ["Qr", "SolveTriangular", "MatMul", "Pinv"],
        Doc = "least-squares solution (minimum norm): Householder QR for full-rank systems, the pseudo-inverse otherwise",
        Samples = () => [new("tall", [M(1, 5, 3), M(2, 5, 2)], x => Lstsq(x[0], x[1]))],
    };

    /// <summary>
    /// The least-squares solution X minimizing ‖A·X − B‖ (the minimum-norm one for rank-deficient A) of each system
    /// (the solution of torch.linalg.lstsq; residuals, rank and singular values are not returned: use MatrixRank / Svdvals).
    /// B is [..., m, k] or a vector [m].
    /// </summary>
    public static Tensor Lstsq(Tensor a, Tensor b, double? rcond = null)
    {
        NeedMatrix("Lstsq", a, square: false);
        if (!Op.Tracking(a, b))
        {
            if (LstsqByQr(a, b, rcond) is { } x) return x;
        }
        else if (Tracer.Depth == 0 && LstsqByQrOps(a, b, rcond) is { } y) return y;
        var p = Pinv(a, rtol: rcond);
        return p.MatMul(b);
    }

    /// <summary>Whether <see cref="LstsqByQr"/> / <see cref="LstsqByQrOps"/> take the system: equal dtypes, non-empty, B
    /// a vector [m] for a single A or [..., m, k] with A's batch shape (no broadcasting).</summary>
    private static bool LstsqShapesFit(Tensor a, Tensor b)
    {
        int m = a._shape[^2], n = a._shape[^1];
        bool vec = b.Rank == 1;
        return a.DType == b.DType && m > 0 && n > 0 && (vec ? a.Rank == 2 && b._shape[0] == m
            : b.Rank == a.Rank && b._shape[^2] == m && b._shape[^1] > 0 && ShapeUtil.SameShape(a._shape[..^2], b._shape[..^2]));
    }

    /// <summary>The relative rank tolerance of lstsq: rcond, else eps(dtype)·max(m, n) (PyTorch's default, as <see cref="Pinv"/>'s).</summary>
    private static double LstsqRtol(Tensor a, double? rcond) =>
        rcond ?? (a.DType == DType.Float32 ? 1.1920928955078125e-07 : 2.220446049250313e-16) * Math.Max(a._shape[^2], a._shape[^1]);

    /// <summary>
    /// <see cref="Lstsq"/> with a derivative to record, when every matrix has full rank (by <c>Decomp.FullRankEstimate</c> on
    /// R): written with registered ops, m ≥ n as R⁻¹·(Qᵀ·B) of A = Q·R, m &lt; n as the minimum-norm Q·R⁻ᵀ·B of Aᵀ = Q·R, so
    /// its derivatives are Qr's, SolveTriangular's and MatMul's (every order) instead of the SVD's. Null otherwise.
    /// </summary>
    private static Tensor? LstsqByQrOps(Tensor a, Tensor b, double? rcond)
    {
        if (!LstsqShapesFit(a, b)) return null;
        int m = a._shape[^2], n = a._shape[^1], k = Math.Min(m, n);
        bool tall = m >= n;
        var (q, r) = Qr(tall ? a : a.MT);
        var rd = r.Detach().ToDoubleArray();
        double rtol = LstsqRtol(a, rcond);
        for (int i = 0; i < rd.Length / (k * k); i++)
            if (!Decomp.FullRankEstimate<double>(rd.AsSpan(i * k * k, k * k), k, lower: false, rtol)) return null;
        bool vec = b.Rank == 1;
        var bm = vec ? b.Unsqueeze(-1) : b;
        var x = tall ? SolveTriangular(r, q.MT.MatMul(bm), upper: true) : q.MatMul(SolveTriangular(r.MT, bm, upper: false));
        return vec ? x.Squeeze(-1) : x;
    }

    /// <summary>
    /// <see cref="Lstsq"/> without a derivative to record, when every matrix of the batch has full rank (by
    /// <c>Decomp.FullRankEstimate</c> against the pseudo-inverse's tolerance): a blocked Householder QR per matrix
    /// (<c>Decomp.LstsqFullRank</c>, LAPACK's gels), the same solution as the SVD's without its cost. Null when some matrix may be
    /// rank-deficient or the shapes need broadcasting (the caller then takes the pseudo-inverse).
    /// </summary>
    private static Tensor? LstsqByQr(Tensor a, Tensor b, double? rcond)
    {
        if (!LstsqShapesFit(a, b)) return null;
        int m = a._shape[^2], n = a._shape[^1];
        bool vec = b.Rank == 1;
        int k = vec ? 1 : b._shape[^1];
        var batch = a._shape[..^2];
        int nb = ShapeUtil.Numel(batch);
        double rtol = LstsqRtol(a, rcond);
        var ad = a.ToDoubleArray();
        var bd = b.ToDoubleArray();
        var xd = new double[nb * n * k];
        bool ok = true;
        ForBatch(nb, (long)m * n * Math.Min(m, n) + (long)m * n * k, i =>
        {
            if (Volatile.Read(ref ok) && !Decomp.LstsqFullRank<double>(ad.AsSpan(i * m * n, m * n), m, n, bd.AsSpan(i * m * k, m * k), k, xd.AsSpan(i * n * k, n * k), rtol))
                Volatile.Write(ref ok, false);
        });
        if (!ok) return null;
        return MatFromDoubles(xd, vec ? [n] : [.. batch, n, k], a.DType);
    }

    internal static readonly OpDef TensorinvOp = new("Tensorinv", OpFamily.Linalg, "linalg.tensorinv")
    {
        CompositeOf = ["Inv", "Reshape"], Doc = "inverse of a tensor seen as a matrix",
        Samples = () => [new("4x(2,2)", [WellConditioned(1, 4).Reshape(4, 2, 2)], x => Tensorinv(x[0], 1))],
    };

    /// <summary>The tensor inverse (torch.linalg.tensorinv): A of shape s[:ind] + s[ind:] with equal products, inverted as a matrix; result shape s[ind:] + s[:ind].</summary>
    public static Tensor Tensorinv(Tensor a, int ind = 2)
    {
        a.CheckFloat("Tensorinv");
        if (ind <= 0 || ind > a.Rank) throw new ArgumentException($"Tensorinv: ind = {ind} must be in [1, rank] for shape {ShapeUtil.Format(a.Shape)}.");
        var lhs = a._shape[..ind];
        var rhs = a._shape[ind..];
        int p = ShapeUtil.Numel(lhs), q = ShapeUtil.Numel(rhs);
        if (p != q) throw new ShapeMismatchException($"Tensorinv: the products of the first {ind} dims ({p}) and of the rest ({q}) of {ShapeUtil.Format(a.Shape)} must be equal.");
        return Inv(a.Reshape(p, q)).Reshape([.. rhs, .. lhs]);
    }

    internal static readonly OpDef TensorsolveOp = new("Tensorsolve", OpFamily.Linalg, "linalg.tensorsolve")
    {
        CompositeOf = ["Solve", "Reshape"], Doc = "solves tensordot(A, X, X.ndim) = B",
        Samples = () => [new("(2,3)x6", [WellConditioned(1, 6).Reshape(2, 3, 6), M(2, 2, 3)], x => Tensorsolve(x[0], x[1]))],
    };

    /// <summary>The X with tensordot(A, X, X.ndim) = B (torch.linalg.tensorsolve without dims): X has shape A.shape[B.ndim:].</summary>
    public static Tensor Tensorsolve(Tensor a, Tensor b)
    {
        NeedFloatPair("Tensorsolve", a, b);
        if (b.Rank > a.Rank || !ShapeUtil.SameShape(a._shape[..b.Rank], b._shape))
            throw new ShapeMismatchException($"Tensorsolve: B's shape {ShapeUtil.Format(b.Shape)} must be a leading part of A's {ShapeUtil.Format(a.Shape)}.");
        var xs = a._shape[b.Rank..];
        int p = b.Numel, q = ShapeUtil.Numel(xs);
        if (p != q) throw new ShapeMismatchException($"Tensorsolve: A {ShapeUtil.Format(a.Shape)} does not describe a square system (B has {p} entries, X would have {q}).");
        return Solve(a.Reshape(p, q), b.Reshape(p)).Reshape(xs);
    }
}
