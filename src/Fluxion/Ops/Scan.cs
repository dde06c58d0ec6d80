using Fluxion.Kernels;

namespace Fluxion;

/// <summary>A kernel over the rows of a dense [rows, n] layout (starting at an offset of its array) writing one value per element or per row.</summary>
internal delegate void RowKernel<T>(T[] x, int offset, int rows, int n, T[] dst);

/// <summary>A kernel over the rows of a dense [rows, n] layout (starting at an offset of its array) writing int64 positions.</summary>
internal delegate void RowIndexKernel<T>(T[] x, int offset, int rows, int n, long[] dst);

/// <summary>A scan along the middle dim of a dense [outer, n, inner] layout (starting at an offset of its array), inner > 1.</summary>
internal delegate void LaneKernel<T>(T[] x, int offset, int outer, int n, int inner, T[] dst);

// Scans along one dim (cumsum, cumprod, cummax, cummin, logcumsumexp) and the product reduction.
// Conventions follow PyTorch: dims wrap, a 0-d input is a one-element row, cumsum/cumprod of int64
// (and bool) give int64, cummax/cummin report the last position among ties and a NaN takes over.
// (Tensor is marked [OpTable] in Elementwise.cs; the attribute may appear only once.)
public partial class Tensor
{
    // ---- layout helpers for ops along one dim -----------------------------------------------------

    /// <summary>The input as a dense [rows, n] layout with <paramref name="d"/> last (a 0-d tensor is one row of one):
    /// the storage array itself at <paramref name="offset"/> when it is laid out so, else a dense copy (offset 0).</summary>
    internal T[] AlongLayout<T>(int d, out int rows, out int n, out int offset)
    {
        var data = Storage.As<T>();
        offset = Offset;
        if (Rank == 0)
        {
            rows = n = 1;
            return data;
        }
        n = _shape[d];
        rows = 1;
        for (int i = 0; i < Rank; i++) if (i != d) rows *= _shape[i];
        var perm = new int[Rank];
        for (int i = 0, k = 0; i < Rank; i++) if (i != d) perm[k++] = i;
        perm[^1] = d;
        var sh = Array.ConvertAll(perm, i => _shape[i]);
        var st = Array.ConvertAll(perm, i => _strides[i]);
        if (ShapeUtil.IsContiguous(sh, st)) return data;
        var dst = new T[Numel];
        Strided.Gather(data, Offset, sh, st, dst);
        offset = 0;
        return dst;
    }

    /// <summary>A tensor of <paramref name="shape"/> from data laid out densely with dim <paramref name="d"/> moved last.</summary>
    internal static Tensor FromAlongLayout<T>(T[] data, int[] shape, int d)
    {
        if (shape.Length == 0 || d == shape.Length - 1) return Wrap(data, shape);
        var dst = new T[data.Length];
        Strided.Gather(data, 0, shape, AlongLayoutStrides(shape, d), dst);
        return Wrap(dst, (int[])shape.Clone());
    }

    /// <summary>The strides, over <paramref name="shape"/>, of a dense layout with dim <paramref name="d"/> moved last.</summary>
    private static int[] AlongLayoutStrides(int[] shape, int d)
    {
        var moved = new int[shape.Length];
        int k = 0;
        for (int i = 0; i < shape.Length; i++) if (i != d) moved[k++] = shape[i];
        moved[^1] = shape[d];
        var ms = ShapeUtil.ContiguousStrides(moved);
        var st = new int[shape.Length];
        k = 0;
        for (int i = 0; i < shape.Length; i++) if (i != d) st[i] = ms[k++];
        st[d] = ms[^1];
        return st;
    }

    /// <summary>
    /// Runs an elementwise-along-<paramref name="d"/> kernel into a new (pooled) tensor of this shape and dtype
    /// <paramref name="outType"/> (default: this dtype). Along the last dim (or any dim with a dense input and a
    /// <paramref name="lanes"/> kernel, which scans the [outer, n, inner] layout in place) no copy is made; otherwise the
    /// input is gathered with <paramref name="d"/> last and the result scattered back.
    /// </summary>
    private Tensor AlongCore<T, TOut>(int d, DType outType, Action<T[], int, int, int, TOut[]> kernel, Action<T[], int, int, int, int, TOut[]>? lanes)
    {
        var y = Empty(ShapeArray, outType);
        var dst = y.Storage.As<TOut>();
        if (Numel == 0) return y;
        if (lanes is not null && Rank > 1 && d < Rank - 1 && IsContiguous)
        {
            int outer = 1, inner = 1;
            for (int i = 0; i < d; i++) outer *= _shape[i];
            for (int i = d + 1; i < Rank; i++) inner *= _shape[i];
            lanes(Storage.As<T>(), Offset, outer, _shape[d], inner, dst);
            return y;
        }
        var s = AlongLayout<T>(d, out int rows, out int n, out int off);
        if (Rank == 0 || d == Rank - 1)
        {
            kernel(s, off, rows, n, dst);
            return y;
        }
        var tmp = new TOut[rows * n];
        kernel(s, off, rows, n, tmp);
        Strided.Gather(tmp, 0, _shape, AlongLayoutStrides(_shape, d), dst);
        return y;
    }

    /// <summary>Runs an elementwise-along-<paramref name="d"/> kernel; the result has this tensor's shape and dtype.</summary>
    private Tensor ScanCore<T>(int d, RowKernel<T> kernel, LaneKernel<T>? lanes = null) =>
        AlongCore<T, T>(d, DType, kernel.Invoke, lanes is null ? null : lanes.Invoke);

    /// <summary>Runs a position kernel along <paramref name="d"/> (one position per element); int64 of this shape.</summary>
    private Tensor ScanIndexCore<T>(int d, RowIndexKernel<T> kernel) => AlongCore<T, long>(d, DType.Int64, kernel.Invoke, null);

    /// <summary>Runs a per-row kernel along <paramref name="d"/> writing one value per row, shaped <paramref name="outShape"/>.</summary>
    private Tensor RowReduceCore<T>(int d, int[] outShape, RowKernel<T> kernel)
    {
        var s = AlongLayout<T>(d, out int rows, out int n, out int off);
        var dst = new T[rows];
        kernel(s, off, rows, n, dst);
        return Wrap(dst, outShape);
    }

    /// <summary>Runs a per-row position kernel along <paramref name="d"/> (one position per row), shaped <paramref name="outShape"/>.</summary>
    private Tensor RowIndexCore<T>(int d, int[] outShape, RowIndexKernel<T> kernel)
    {
        var s = AlongLayout<T>(d, out int rows, out int n, out int off);
        var dst = new long[rows];
        kernel(s, off, rows, n, dst);
        return Wrap(dst, outShape);
    }

    /// <summary>Checks this tensor is float32, float64 or int64 (the dtypes of the ordering ops).</summary>
    internal void CheckOrderable(string op)
    {
        if (DType == DType.Bool)
            throw new DTypeMismatchException($"{op}: expected a float32, float64 or int64 tensor but got dtype bool with shape {ShapeUtil.Format(_shape)}. Convert it with To(DType.Int64).");
    }

    /// <summary>This tensor reversed along <paramref name="d"/> (differentiable; a 0-d tensor is returned as is).</summary>
    internal Tensor ReverseAlong(int d) => Rank == 0 || _shape[d] <= 1 ? this : FlipCore([d]);

    /// <summary>Σ_{j ≥ i} along <paramref name="d"/>: the adjoint of <see cref="Cumsum"/>.</summary>
    internal Tensor ReverseCumsum(int d) => Rank == 0 ? this : ReverseAlong(d).Cumsum(d).ReverseAlong(d);

    /// <summary>True when some element is exactly zero.</summary>
    private bool HasZero()
    {
        switch (DType)
        {
            case DType.Float32: foreach (var v in DenseSpan<float>()) if (v == 0) return true; return false;
            case DType.Float64: foreach (var v in DenseSpan<double>()) if (v == 0) return true; return false;
            default: return true;
        }
    }

    /// <summary>Sums a tangent over the primal's dim <paramref name="d"/> past any vector-mode batch prefix.</summary>
    private static Tensor SumAlongTangent(Tensor t, int d, Tensor x, bool keepDim) =>
        x.Rank == 0 ? t : t.Sum(d + TangentBatchDims(t, x), keepDim);

    // ---- cumsum -----------------------------------------------------------------------------------

    internal static readonly OpDef CumsumOp = new("Cumsum", OpFamily.ReduceScanSort, "cumsum")
    {
        Linear = true,
        DTypes = DTypeSet.All,
        Doc = "Cumulative sum along a dim; VJP is the reversed cumulative sum.",
        Vjp = (in OpCtx c, Tensor g, int i) => g.ReverseCumsum(c.A<int>()),
        Jvp = (in OpCtx c, Tensor?[] t) => t[0] is { } tx ? (c.X(0).Rank == 0 ? tx : tx.Cumsum(c.A<int>() + TangentBatchDims(tx, c.X(0)))) : null,
        BatchedJvp = true,
        Samples = () => ScanSamples(x => x.Cumsum(-1), x => x.Cumsum(0)),
    };

    /// <summary>
    /// Cumulative sum along <paramref name="dim"/>: y[..., i, ...] = Σ_{j ≤ i} x[..., j, ...] (PyTorch's <c>cumsum</c>).
    /// int64 and bool inputs give int64. The gradient is the reversed cumulative sum of the output gradient.
    /// </summary>
    public Tensor Cumsum(int dim)
    {
        int d = ShapeUtil.WrapDim("Cumsum", dim, Rank);
        if (DType == DType.Bool) return To(DType.Int64).Cumsum(d);
        var y = DType switch
        {
            DType.Float32 => ScanCore<float>(d, Scan.CumSum, Scan.CumSumLanes),
            DType.Float64 => ScanCore<double>(d, Scan.CumSum, Scan.CumSumLanes),
            _ => ScanCore<long>(d, Scan.CumSum, Scan.CumSumLanes),
        };
        return DType.IsFloatingPoint() ? Op.Record(CumsumOp, y, [this], d) : y;
    }

    // ---- cumprod ----------------------------------------------------------------------------------

    // Gradient of y = cumprod(x), exact with zeros and to every order: with k the first zero of a row,
    //   before k: revcumsum(g·y)/x (x ≠ 0 there);
    //   at k: revcumsum(g·y'), y' the cumprod of x with that zero replaced by 1 (the products of the others);
    //   after k: x_k · (the same gradient for x with x_k replaced by 1), 0 in value since every product through
    //            those positions holds x_k, but carrying its derivative in x_k (the recursion ends: one zero fewer).
    // Written with tensor ops, so it differentiates again.
    private static Tensor CumprodVjp(Tensor x, Tensor y, Tensor g, int d)
    {
        if (x.Rank == 0) return g;
        if (!x.HasZero()) return (g * y).ReverseCumsum(d) / x;
        var z = x.Eq(0.0);
        var cz = Where(z, 1.0, 0.0, x.DType).Cumsum(d);
        var before = cz.Eq(0.0);
        var first = z & cz.Eq(1.0);
        var replaced = Where(first, 1.0, x);
        var others = replaced.Cumprod(d);
        var xk = Where(first, x, 0.0).Sum(d, keepDim: true);
        var after = xk * CumprodVjp(replaced, others, g, d);
        return Where(before, (g * y).ReverseCumsum(d) / Where(before, x, 1.0), Where(first, (g * others).ReverseCumsum(d), after));
    }

    // dy_i = Σ_{j ≤ i} t_j Π_{k ≤ i, k ≠ j} x_k: y·cumsum(t/x) over the positions before the first zero, plus the
    // first zero's tangent times the product of the others from there on
    private static Tensor CumprodJvp(Tensor x, Tensor y, Tensor t, int d)
    {
        if (x.Rank == 0) return t;
        int dt = d + TangentBatchDims(t, x);
        if (!x.HasZero()) return y * (t / x).Cumsum(dt);
        var z = x.Eq(0.0);
        var cz = Where(z, 1.0, 0.0, x.DType).Cumsum(d);
        var before = cz.Eq(0.0);
        var first = z & cz.Eq(1.0);
        var others = Where(first, 1.0, x).Cumprod(d);
        var tz = Where(first, t, 0.0).Sum(dt, keepDim: true);
        return y * Where(before, t / Where(before, x, 1.0), 0.0).Cumsum(dt) + Where(cz.Ge(1.0), tz * others, 0.0);
    }

    internal static readonly OpDef CumprodOp = new("Cumprod", OpFamily.ReduceScanSort, "cumprod")
    {
        DTypes = DTypeSet.All,
        Doc = "Cumulative product along a dim; the gradient is exact where the input has zeros.",
        Vjp = (in OpCtx c, Tensor g, int i) => CumprodVjp(c.X(0), c.Y, g, c.A<int>()),
        Jvp = (in OpCtx c, Tensor?[] t) => t[0] is { } tx ? CumprodJvp(c.X(0), c.Y, tx, c.A<int>()) : null,
        BatchedJvp = true, Saves = 1u | OpDef.SaveOutput,
        Batch = BatchRules.AlongDim((x, d) => x.Cumprod(d)),
        Samples = () => [
            .. ScanSamples(x => x.Cumprod(-1), x => x.Cumprod(0), OpSamples.Domain.AwayFromZero),
            new("one zero", [Tensor.FromArray([0.7, -1.3, 0.0, 0.9, 1.1, 0.0, 1.4, 0.8, -0.6, 1.2], 2, 5)], t => t[0].Cumprod(1)),
            new("zero first", [Tensor.FromArray([0.0, 1.5, -0.8, 0.6], 4)], t => t[0].Cumprod(0)),
            new("two zeros", [Tensor.FromArray([1.3, 0.0, 0.7, 0.0, 0.9], 5)], t => t[0].Cumprod(0)),
        ],
    };

    /// <summary>
    /// Cumulative product along <paramref name="dim"/>: y[..., i, ...] = Π_{j ≤ i} x[..., j, ...] (PyTorch's <c>cumprod</c>).
    /// int64 and bool inputs give int64. The gradient is exact where the input holds zeros (as PyTorch's).
    /// </summary>
    public Tensor Cumprod(int dim)
    {
        int d = ShapeUtil.WrapDim("Cumprod", dim, Rank);
        if (DType == DType.Bool) return To(DType.Int64).Cumprod(d);
        var y = DType switch
        {
            DType.Float32 => ScanCore<float>(d, Scan.CumProd, Scan.CumProdLanes),
            DType.Float64 => ScanCore<double>(d, Scan.CumProd, Scan.CumProdLanes),
            _ => ScanCore<long>(d, Scan.CumProd, Scan.CumProdLanes),
        };
        return DType.IsFloatingPoint() ? Op.Record(CumprodOp, y, [this], d) : y;
    }

    // ---- cummax / cummin --------------------------------------------------------------------------

    internal static readonly OpDef CummaxOp = new("Cummax", OpFamily.ReduceScanSort, "cummax")
    {
        DTypes = DTypeSet.Floats | DTypeSet.Int64, CompositeOf = ["Gather"],
        Doc = "Running maximum and its position; the values gather the input at the positions.",
        Samples = () => ScanSamples(x => x.Cummax(-1).Values, x => x.Cummax(0).Values),
    };

    internal static readonly OpDef CumminOp = new("Cummin", OpFamily.ReduceScanSort, "cummin")
    {
        DTypes = DTypeSet.Floats | DTypeSet.Int64, CompositeOf = ["Gather"],
        Doc = "Running minimum and its position; the values gather the input at the positions.",
        Samples = () => ScanSamples(x => x.Cummin(-1).Values, x => x.Cummin(0).Values),
    };

    /// <summary>
    /// Running maximum along <paramref name="dim"/> and where it was taken (int64), as PyTorch's <c>cummax</c>:
    /// among equal values the later position takes over, and a NaN takes over and propagates. The gradient of
    /// each value flows to its position.
    /// </summary>
    public (Tensor Values, Tensor Indices) Cummax(int dim) => CumExtreme("Cummax", dim, max: true);

    /// <summary>Running minimum along <paramref name="dim"/> and its position (int64), as PyTorch's <c>cummin</c>
    /// (see <see cref="Cummax(int)"/> for ties and NaN).</summary>
    public (Tensor Values, Tensor Indices) Cummin(int dim) => CumExtreme("Cummin", dim, max: false);

    private (Tensor Values, Tensor Indices) CumExtreme(string name, int dim, bool max)
    {
        CheckOrderable(name);
        int d = ShapeUtil.WrapDim(name, dim, Rank);
        var idx = CumExtremePositions(d, max);
        return (Gather(d, idx), idx);
    }

    /// <summary>Where the running extreme along <paramref name="d"/> was taken (int64, traced for Vmap).</summary>
    private Tensor CumExtremePositions(int d, bool max)
    {
        var idx = DType switch
        {
            DType.Float32 => ScanIndexCore<float>(d, (s, f, r, n, o) => Scan.CumExtremeIndex(s, f, r, n, max, o)),
            DType.Float64 => ScanIndexCore<double>(d, (s, f, r, n, o) => Scan.CumExtremeIndex(s, f, r, n, max, o)),
            _ => ScanIndexCore<long>(d, (s, f, r, n, o) => Scan.CumExtremeIndex(s, f, r, n, max, o)),
        };
        return TracePositions(idx, d, (t, dd) => t.CumExtremePositions(dd, max));
    }

    // ---- logcumsumexp -----------------------------------------------------------------------------

    /// <summary>log of a sign-split part of <paramref name="v"/>: log|v| where v has that sign, the lowest finite value
    /// elsewhere (finite, so no inf − inf appears; the inner Where keeps the log's derivative finite).</summary>
    private static Tensor LogPart(Tensor v, bool positive)
    {
        var m = positive ? v.Gt(0.0) : v.Lt(0.0);
        double lowest = v.DType == DType.Float32 ? float.MinValue : double.MinValue;
        return Where(m, Where(m, positive ? v : -v, 1.0).Log(), lowest);
    }

    // d x_j of y_i = exp(x_j − y_i) for j ≤ i. The sums are taken in the log domain on the positive and negative
    // parts of the gradient (as PyTorch), so large inputs do not overflow.
    private static Tensor LogCumSumExpVjp(Tensor x, Tensor y, Tensor g, int d)
    {
        if (x.Rank == 0) return g;
        Tensor Part(bool positive) => ((LogPart(g, positive) - y).ReverseAlong(d).LogCumSumExp(d).ReverseAlong(d) + x).Exp();
        return Part(true) - Part(false);
    }

    private static Tensor LogCumSumExpJvp(Tensor x, Tensor y, Tensor t, int d)
    {
        if (x.Rank == 0) return t;
        int dt = d + TangentBatchDims(t, x);
        Tensor Part(bool positive) => ((LogPart(t, positive) + x).LogCumSumExp(dt) - y).Exp();
        return Part(true) - Part(false);
    }

    internal static readonly OpDef LogCumSumExpOp = new("LogCumSumExp", OpFamily.ReduceScanSort, "logcumsumexp")
    {
        Doc = "log Σ_{j ≤ i} exp(x_j) along a dim, accumulated stably.",
        Vjp = (in OpCtx c, Tensor g, int i) => LogCumSumExpVjp(c.X(0), c.Y, g, c.A<int>()),
        Jvp = (in OpCtx c, Tensor?[] t) => t[0] is { } tx ? LogCumSumExpJvp(c.X(0), c.Y, tx, c.A<int>()) : null,
        BatchedJvp = true, Saves = 1u | OpDef.SaveOutput,
        Batch = BatchRules.AlongDim((x, d) => x.LogCumSumExp(d)),
        Samples = () => ScanSamples(x => x.LogCumSumExp(-1), x => (3.0 * x).LogCumSumExp(0)),
    };

    /// <summary>
    /// log Σ_{j ≤ i} exp(x_j) along <paramref name="dim"/> (PyTorch's <c>logcumsumexp</c>), accumulated stably;
    /// -inf entries contribute nothing and +inf gives +inf.
    /// </summary>
    public Tensor LogCumSumExp(int dim)
    {
        CheckFloat("LogCumSumExp");
        int d = ShapeUtil.WrapDim("LogCumSumExp", dim, Rank);
        var y = DType == DType.Float32 ? ScanCore<float>(d, Scan.LogCumSumExp) : ScanCore<double>(d, Scan.LogCumSumExp);
        return Op.Record(LogCumSumExpOp, y, [this], d);
    }

    // ---- prod -------------------------------------------------------------------------------------

    /// <summary>Π_{k ≠ i} x_k along <paramref name="d"/> for every i: exclusive products from the left and the right,
    /// so zeros need no division (the gradient of a product, exact with zeros).</summary>
    private static Tensor ProdOthers(Tensor x, int d)
    {
        if (x.Rank == 0) return OnesLike(x);
        int n = x._shape[d];
        if (n <= 1) return OnesLike(x);
        var os = x.ShapeArray;
        os[d] = 1;
        var ones = Ones(os, x.DType);
        var left = Cat([ones, x.Narrow(d, 0, n - 1)], d).Cumprod(d);
        var right = Cat([x.Narrow(d, 1, n - 1), ones], d).ReverseAlong(d).Cumprod(d).ReverseAlong(d);
        return left * right;
    }

    internal static readonly OpDef ProdOp = new("Prod", OpFamily.ReduceScanSort, "prod")
    {
        DTypes = DTypeSet.All,
        Doc = "Product over a dim or all elements; the gradient is the product of the others (exact with zeros).",
        // without zeros the product of the others is y / x (one pass, as PyTorch's prod_backward); with zeros the
        // exclusive left and right products
        Vjp = (in OpCtx c, Tensor g, int i) =>
        {
            var (d, keepDim) = c.A<(int, bool)>();
            var x = c.X(0);
            var gk = keepDim || x.Rank == 0 ? g : g.Unsqueeze(d);
            if (x.DType.IsFloatingPoint() && !x.HasZero())
                return gk * (keepDim || x.Rank == 0 ? c.Y : c.Y.Unsqueeze(d)) / x;
            return gk * ProdOthers(x, d);
        },
        Jvp = (in OpCtx c, Tensor?[] t) =>
        {
            if (t[0] is not { } tx) return null;
            var (d, keepDim) = c.A<(int, bool)>();
            return SumAlongTangent(tx * ProdOthers(c.X(0), d), d, c.X(0), keepDim);
        },
        BatchedJvp = true, Saves = 1u | OpDef.SaveOutput,
        Batch = c =>
        {
            var (d, keepDim) = c.A<(int, bool)>();
            return [BatchRules.Along(c, d, (x, dd) => x.Prod(dd, keepDim))];
        },
        Samples = () => [
            new("all", [OpSamples.Make(OpSamples.Domain.AwayFromZero, 1, 3, 4)], t => t[0].Prod()),
            new("0-d", [OpSamples.Make(OpSamples.Domain.AwayFromZero, 2)], t => t[0].Prod()),
            new("dim", [OpSamples.Make(OpSamples.Domain.AwayFromZero, 3, 3, 4)], t => t[0].Prod(1)),
            new("dim keepDim noncontiguous", [OpSamples.Make(OpSamples.Domain.AwayFromZero, 4, 4, 3).T], t => t[0].Prod(0, keepDim: true)),
            new("0-d dim", [OpSamples.Make(OpSamples.Domain.AwayFromZero, 5)], t => t[0].Prod(-1)),
            new("one zero", [Tensor.FromArray([0.7, 0.0, 1.3, -0.9, 1.1, 0.8], 2, 3)], t => t[0].Prod(1)),
            new("two zeros", [Tensor.FromArray([0.0, 1.2, 0.0, -0.7], 4)], t => t[0].Prod()),
            new("empty", [OpSamples.Make(OpSamples.Domain.Real, 6, 2, 0)], t => t[0].Prod(1)),
        ],
    };

    /// <summary>Product of all elements (a 0-d tensor; 1 for an empty tensor), as PyTorch's <c>prod</c>. The
    /// gradient of each element is the product of the others, exact where there are zeros.</summary>
    public Tensor Prod() => Reshape(Numel).Prod(0);

    /// <summary>Product over <paramref name="dim"/> (PyTorch's <c>prod(dim, keepdim)</c>); int64 and bool inputs give int64.
    /// The gradient of each element is the product of the others along the dim, exact where there are zeros.</summary>
    public Tensor Prod(int dim, bool keepDim = false)
    {
        int d = ShapeUtil.WrapDim("Prod", dim, Rank);
        if (DType == DType.Bool) return To(DType.Int64).Prod(d, keepDim);
        var outShape = Rank == 0 ? [] : ReduceShapes([d], keepDim).OutShape;
        var y = DType switch
        {
            DType.Float32 => RowReduceCore<float>(d, outShape, ScanReduce.RowProd),
            DType.Float64 => RowReduceCore<double>(d, outShape, ScanReduce.RowProd),
            _ => RowReduceCore<long>(d, outShape, ScanReduce.RowProd),
        };
        return DType.IsFloatingPoint() ? Op.Record(ProdOp, y, [this], (d, keepDim)) : y;
    }

    // ---- diff / trapezoid / cumulative_trapezoid ---------------------------------------------------

    internal static readonly OpDef DiffOp = new("Diff", OpFamily.ReduceScanSort, "diff")
    {
        Doc = "n-th forward difference along a dim (each order one recorded step; prepend/append joined by Cat).",
        Linear = true,
        Vjp = (in OpCtx c, Tensor g, int i) => DiffAdjoint(g, c.A<int>()),
        Jvp = (in OpCtx c, Tensor?[] t) => t[0] is { } tx ? tx.DiffStep(c.A<int>() + TangentBatchDims(tx, c.X(0))) : null,
        BatchedJvp = true,
        Samples = () => [
            new("1-d", [OpSamples.Make(OpSamples.Domain.Real, 1, 6)], t => t[0].Diff()),
            new("n = 2 dim 0", [OpSamples.Make(OpSamples.Domain.Real, 2, 5, 3)], t => t[0].Diff(2, 0)),
            new("prepend append", [OpSamples.Make(OpSamples.Domain.Real, 3, 3, 4), OpSamples.Make(OpSamples.Domain.Real, 4, 3, 1), OpSamples.Make(OpSamples.Domain.Real, 5, 3, 2)],
                t => t[0].Diff(1, -1, t[1], t[2])),
            new("noncontiguous", [OpSamples.Make(OpSamples.Domain.Real, 6, 4, 3).T], t => t[0].Diff()),
            new("n past the length", [OpSamples.Make(OpSamples.Domain.Real, 7, 2, 3)], t => t[0].Diff(4)),
        ],
    };

    /// <summary>
    /// The <paramref name="n"/>-th forward difference along <paramref name="dim"/> (PyTorch's <c>diff</c>):
    /// out[i] = x[i + 1] − x[i], applied n times, after <paramref name="prepend"/> and <paramref name="append"/> (same
    /// rank, the other dims equal) are concatenated along the dim. Each application shortens the dim by one (to 0 at least).
    /// </summary>
    public Tensor Diff(int n = 1, int dim = -1, Tensor? prepend = null, Tensor? append = null)
    {
        CheckFloat("Diff");
        if (Rank == 0) throw new ShapeMismatchException("Diff: expects a tensor of at least 1 dim, got a 0-d tensor. Reshape it to [1].");
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), $"Diff: n must be non-negative, got {n}.");
        int d = ShapeUtil.WrapDim("Diff", dim, Rank);
        var x = this;
        if (prepend is not null || append is not null)
            x = Cat([.. prepend is null ? Array.Empty<Tensor>() : [prepend], this, .. append is null ? Array.Empty<Tensor>() : [append]], d);
        for (int k = 0; k < n && x._shape[d] > 0; k++)
            x = x.DiffStep(d);
        return x;
    }

    /// <summary>One forward difference along <paramref name="d"/> (size > 0): x[1:] − x[:-1] as one recorded step, so the
    /// backward is one padded difference of g (no zero-padded gradient per slice, summed). Under a tracer (Vmap) the
    /// slices and the subtraction themselves.</summary>
    private Tensor DiffStep(int d)
    {
        if (Tracer.Depth > 0) return Slice(d, 1) - Slice(d, 0, -1);
        var x = Detach();
        Tensor y;
        using (Autograd.NoGrad()) y = x.Slice(d, 1) - x.Slice(d, 0, -1);
        return Op.Tracking(this) ? Op.Record(DiffOp, y, [this], d) : y;
    }

    /// <summary>The adjoint of <see cref="DiffStep"/>: dx_i = g_{i-1} − g_i with g_{-1} = g_m = 0, i.e. the backward
    /// differences of g padded with one zero on each side (differentiable: Cat, Slice, Sub).</summary>
    private static Tensor DiffAdjoint(Tensor g, int d)
    {
        var zs = g.ShapeArray;
        zs[d] = 1;
        var z = Zeros(zs, g.DType);
        var p = Cat([z, g, z], d);
        return p.Slice(d, 0, -1) - p.Slice(d, 1);
    }

    internal static readonly OpDef TrapezoidOp = new("Trapezoid", OpFamily.ReduceScanSort, "trapezoid", "trapz")
    {
        CompositeOf = ["Sum", "Slice", "Reshape", "Diff", "Sub", "Add", "Mul"],
        Doc = "Trapezoidal rule along a dim, with spacing dx or sample points x.",
        Samples = () => [
            new("dx", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 5)], t => Trapezoid(t[0], dx: 0.5)),
            new("x 1-d dim 0", [OpSamples.Make(OpSamples.Domain.Real, 2, 4, 3), OpSamples.Make(OpSamples.Domain.Real, 3, 4)], t => Trapezoid(t[0], t[1], 0)),
            new("x same shape", [OpSamples.Make(OpSamples.Domain.Real, 4, 2, 5), OpSamples.Make(OpSamples.Domain.Real, 5, 2, 5)], t => Trapz(t[0], t[1])),
            new("empty dim", [OpSamples.Make(OpSamples.Domain.Real, 6, 2, 0)], t => Trapezoid(t[0])),
        ],
    };

    internal static readonly OpDef CumulativeTrapezoidOp = new("CumulativeTrapezoid", OpFamily.ReduceScanSort, "cumulative_trapezoid")
    {
        CompositeOf = ["Cumsum", "Slice", "Diff", "Add", "Mul"],
        Doc = "Running trapezoidal rule along a dim.",
        Samples = () => [
            new("dx", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 5)], t => CumulativeTrapezoid(t[0], dx: 0.5)),
            new("x 1-d dim 0", [OpSamples.Make(OpSamples.Domain.Real, 2, 4, 3), OpSamples.Make(OpSamples.Domain.Real, 3, 4)], t => CumulativeTrapezoid(t[0], t[1], 0)),
        ],
    };

    /// <summary>Sample points <paramref name="x"/> lined up with <paramref name="y"/> along <paramref name="d"/> (a 1-d x runs along the dim).</summary>
    private static Tensor TrapezoidPoints(string op, Tensor y, Tensor x, int d)
    {
        if (x.Rank == 1)
        {
            if (x.Shape[0] != y.Shape[d])
                throw new ShapeMismatchException($"{op}: a 1-d x (length {x.Shape[0]}) must have the length of y's dim {d} (shape {ShapeUtil.Format(y.Shape)}).");
            var s = Enumerable.Repeat(1, y.Rank).ToArray();
            s[d] = x.Shape[0];
            return x.Reshape(s);
        }
        return x;
    }

    private static int TrapezoidDim(string op, Tensor y, int dim)
    {
        y.CheckFloat(op);
        if (y.Rank == 0) throw new ShapeMismatchException($"{op}: y must have at least 1 dim, got a 0-d tensor.");
        return ShapeUtil.WrapDim(op, dim, y.Rank);
    }

    /// <summary>∫ y along <paramref name="dim"/> by the trapezoidal rule with uniform spacing <paramref name="dx"/>
    /// (PyTorch's <c>trapezoid(y, dx=dx, dim=dim)</c>); 0 over an empty dim.</summary>
    public static Tensor Trapezoid(Tensor y, double dx = 1, int dim = -1)
    {
        int d = TrapezoidDim("Trapezoid", y, dim);
        if (y.Shape[d] == 0) return y.Sum(d);
        return (y.Sum(d) - (y.Select(d, 0) + y.Select(d, -1)) * 0.5) * dx;
    }

    /// <summary>∫ y along <paramref name="dim"/> by the trapezoidal rule at the sample points <paramref name="x"/> (1-d along
    /// the dim, or broadcasting with y), as PyTorch's <c>trapezoid(y, x, dim=dim)</c>.</summary>
    public static Tensor Trapezoid(Tensor y, Tensor x, int dim = -1)
    {
        int d = TrapezoidDim("Trapezoid", y, dim);
        if (y.Shape[d] == 0) return y.Sum(d);
        var xs = TrapezoidPoints("Trapezoid", y, x, d);
        var h = xs.DiffStep(d);
        return (h * (y.Slice(d, 0, -1) + y.Slice(d, 1))).Sum(d) / 2.0;
    }

    /// <summary>PyTorch's older name of <see cref="Trapezoid(Tensor, double, int)"/>.</summary>
    public static Tensor Trapz(Tensor y, double dx = 1, int dim = -1) => Trapezoid(y, dx, dim);

    /// <summary>PyTorch's older name of <see cref="Trapezoid(Tensor, Tensor, int)"/>.</summary>
    public static Tensor Trapz(Tensor y, Tensor x, int dim = -1) => Trapezoid(y, x, dim);

    /// <summary>The running trapezoidal integral along <paramref name="dim"/> with spacing <paramref name="dx"/>
    /// (PyTorch's <c>cumulative_trapezoid</c>): one element fewer along the dim.</summary>
    public static Tensor CumulativeTrapezoid(Tensor y, double dx = 1, int dim = -1)
    {
        int d = TrapezoidDim("CumulativeTrapezoid", y, dim);
        if (y.Shape[d] == 0) return y;
        return (dx / 2.0 * (y.Slice(d, 0, -1) + y.Slice(d, 1))).Cumsum(d);
    }

    /// <summary>The running trapezoidal integral along <paramref name="dim"/> at the sample points <paramref name="x"/>
    /// (PyTorch's <c>cumulative_trapezoid(y, x)</c>).</summary>
    public static Tensor CumulativeTrapezoid(Tensor y, Tensor x, int dim = -1)
    {
        int d = TrapezoidDim("CumulativeTrapezoid", y, dim);
        if (y.Shape[d] == 0) return y;
        var xs = TrapezoidPoints("CumulativeTrapezoid", y, x, d);
        var h = xs.DiffStep(d);
        return (h * (y.Slice(d, 0, -1) + y.Slice(d, 1))).Cumsum(d) / 2.0;
    }

    internal static readonly OpDef GradientOp = new("Gradient", OpFamily.ReduceScanSort, "gradient")
    {
        CompositeOf = ["Slice", "Sub", "Div", "Mul", "Add", "Cat"],
        Doc = "Finite-difference derivative estimates along each dim (central inside, one-sided at the edges).",
        Samples = () => [
            new("1-d", [OpSamples.Make(OpSamples.Domain.Real, 1, 6)], t => t[0].Gradient()[0]),
            new("2-d both dims", [OpSamples.Make(OpSamples.Domain.Real, 2, 4, 5)], t => { var g = t[0].Gradient(0.5); return g[0] + 2.0 * g[1]; }),
            new("edge order 2 dim 1", [OpSamples.Make(OpSamples.Domain.Real, 3, 3, 4)], t => t[0].Gradient([2.0], [1], edgeOrder: 2)[0]),
            new("coordinates edge order 2", [OpSamples.Make(OpSamples.Domain.Real, 4, 5)], t => t[0].Gradient([Tensor.FromArray([0.0, 0.5, 1.5, 1.75, 3.0], 5)], edgeOrder: 2)[0]),
        ],
    };

    /// <summary>
    /// Estimates of ∂x/∂(each dim) from samples with uniform <paramref name="spacing"/> (PyTorch's <c>gradient</c>):
    /// central differences inside, one-sided differences of first (or, with <paramref name="edgeOrder"/> 2, second)
    /// order at the ends. One result per dim of <paramref name="dims"/> (all dims when null).
    /// </summary>
    public Tensor[] Gradient(double spacing = 1, int[]? dims = null, int edgeOrder = 1) =>
        Gradient(Enumerable.Repeat(spacing, dims?.Length ?? Rank).ToArray(), dims, edgeOrder);

    /// <summary>Validates a <c>gradient</c> call and returns its (wrapped, distinct) dims; <paramref name="given"/> spacings
    /// or coordinate tensors must match them one to one.</summary>
    private int[] GradientDims(int[]? dims, int edgeOrder, int given, string what, string orElse)
    {
        const string op = "Gradient";
        CheckFloat(op);
        if (edgeOrder is not (1 or 2)) throw new ArgumentOutOfRangeException(nameof(edgeOrder), $"{op}: edgeOrder must be 1 or 2, got {edgeOrder}.");
        if (Rank == 0) throw new ShapeMismatchException($"{op}: expects a tensor of at least 1 dim, got a 0-d tensor.");
        var ds = dims is null ? Enumerable.Range(0, Rank).ToArray() : dims.Select(d => ShapeUtil.WrapDim(op, d, Rank)).ToArray();
        if (ds.Distinct().Count() != ds.Length) throw new ArgumentException($"{op}: a dim appears more than once in {ShapeUtil.Format(dims!)}.");
        if (given != ds.Length)
            throw new ArgumentException($"{op}: {given} {what} given for {ds.Length} dims; give one per dim{orElse}.");
        return ds;
    }

    /// <summary>As <see cref="Gradient(double, int[], int)"/> with one spacing per dim of <paramref name="dims"/> (all dims when null).</summary>
    public Tensor[] Gradient(double[] spacing, int[]? dims = null, int edgeOrder = 1)
    {
        const string op = "Gradient";
        var ds = GradientDims(dims, edgeOrder, spacing.Length, "spacings", " (or a single number)");
        var result = new Tensor[ds.Length];
        for (int k = 0; k < ds.Length; k++)
        {
            int d = ds[k];
            if (_shape[d] < edgeOrder + 1)
                throw new ShapeMismatchException($"{op}: dim {d} has size {_shape[d]} (shape {ShapeUtil.Format(_shape)}) but edge order {edgeOrder} needs at least {edgeOrder + 1} samples.");
            double h = spacing[k];
            Tensor S(int? a, int? b) => Slice(d, a, b);
            var center = (S(2, null) - S(0, -2)) / h;
            Tensor first, last;
            if (edgeOrder == 1)
            {
                first = (S(1, 2) - S(0, 1)) / h;
                last = (S(-1, null) - S(-2, -1)) / h;
            }
            else
            {
                first = (-1.5 * S(0, 1) + 2.0 * S(1, 2) - 0.5 * S(2, 3)) / h;
                last = (0.5 * S(-3, -2) - 2.0 * S(-2, -1) + 1.5 * S(-1, null)) / h;
            }
            result[k] = Cat([first, center / 2.0, last], d);
        }
        return result;
    }

    /// <summary>
    /// As <see cref="Gradient(double, int[], int)"/> for samples at the given <paramref name="coordinates"/> (one 1-d
    /// tensor per dim of <paramref name="dims"/>, all dims when null, each as long as its dim; treated as constants):
    /// second-order accurate differences for uneven spacing inside, one-sided ones of order <paramref name="edgeOrder"/>
    /// at the ends, as PyTorch's <c>gradient(input, spacing=[tensors])</c>.
    /// </summary>
    public Tensor[] Gradient(Tensor[] coordinates, int[]? dims = null, int edgeOrder = 1)
    {
        const string op = "Gradient";
        var ds = GradientDims(dims, edgeOrder, coordinates.Length, "coordinate tensors", "");
        var result = new Tensor[ds.Length];
        for (int k = 0; k < ds.Length; k++)
        {
            int d = ds[k], n = _shape[d];
            if (coordinates[k].Rank != 1 || coordinates[k].Numel != n)
                throw new ShapeMismatchException($"{op}: the coordinates for dim {d} must be 1-d of length {n}, got shape {ShapeUtil.Format(coordinates[k].Shape)}.");
            if (n < edgeOrder + 1)
                throw new ShapeMismatchException($"{op}: dim {d} has size {n} (shape {ShapeUtil.Format(_shape)}) but edge order {edgeOrder} needs at least {edgeOrder + 1} samples.");
            var x = coordinates[k].ToDoubleArray();
            var h = new double[n - 1];
            for (int i = 0; i < n - 1; i++) h[i] = x[i + 1] - x[i];
            var shape = Enumerable.Repeat(1, Rank).ToArray();
            shape[d] = n - 2;
            var ca = new double[n - 2];
            var cb = new double[n - 2];
            var cc = new double[n - 2];
            for (int i = 0; i < n - 2; i++)
            {
                double h1 = h[i], h2 = h[i + 1];
                ca[i] = -h2 / (h1 * (h1 + h2));
                cb[i] = (h2 - h1) / (h1 * h2);
                cc[i] = h1 / (h2 * (h1 + h2));
            }
            Tensor C(double[] v) => FromDoubles(v, shape, DType);
            Tensor S(int? a, int? b) => Slice(d, a, b);
            var center = C(ca) * S(0, -2) + C(cb) * S(1, -1) + C(cc) * S(2, null);
            Tensor first, last;
            if (edgeOrder == 1)
            {
                first = (S(1, 2) - S(0, 1)) / h[0];
                last = (S(-1, null) - S(-2, -1)) / h[^1];
            }
            else
            {
                double h0 = h[0], h1 = h[1], hl = h[^1], hm = h[^2];
                first = -(2.0 * h0 + h1) / (h0 * (h0 + h1)) * S(0, 1) + (h0 + h1) / (h0 * h1) * S(1, 2) + -h0 / (h1 * (h0 + h1)) * S(2, 3);
                last = hl / (hm * (hl + hm)) * S(-3, -2) + -(hl + hm) / (hl * hm) * S(-2, -1) + (2.0 * hl + hm) / (hl * (hl + hm)) * S(-1, null);
            }
            result[k] = Cat([first, center, last], d);
        }
        return result;
    }

    // ---- samples ----------------------------------------------------------------------------------

    /// <summary>Samples of an op along one dim: 0-d, 1-d, 2-d along the last and the first dim, a transposed view, an empty tensor.</summary>
    internal static IEnumerable<OpSample> ScanSamples(Func<Tensor, Tensor> last, Func<Tensor, Tensor> first, OpSamples.Domain domain = OpSamples.Domain.Real, bool secondOrder = true)
    {
        Tensor L(Tensor[] t) => last(t[0]);
        Tensor F(Tensor[] t) => first(t[0]);
        yield return new("0-d", [OpSamples.Make(domain, 1)], L, secondOrder);
        yield return new("1-d", [OpSamples.Make(domain, 2, 6)], L, secondOrder);
        yield return new("2-d last dim", [OpSamples.Make(domain, 3, 3, 5)], L, secondOrder);
        yield return new("2-d first dim", [OpSamples.Make(domain, 4, 4, 3)], F, secondOrder);
        yield return new("noncontiguous", [OpSamples.Make(domain, 5, 4, 3).T], L, secondOrder);
        yield return new("empty", [OpSamples.Make(domain, 6, 2, 0)], L, secondOrder);
    }
}
