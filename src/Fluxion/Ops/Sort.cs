using SortK = Fluxion.Kernels.Sort;

namespace Fluxion;

/// <summary>How <see cref="Tensor.Quantile(double, int?, bool, QuantileInterpolation)"/> picks a value when the
/// quantile falls between two sorted elements (PyTorch's <c>interpolation</c> argument).</summary>
public enum QuantileInterpolation
{
    /// <summary>Linear interpolation between the two neighbours (the default).</summary>
    Linear,
    /// <summary>The lower neighbour.</summary>
    Lower,
    /// <summary>The higher neighbour.</summary>
    Higher,
    /// <summary>The mean of the two neighbours.</summary>
    Midpoint,
    /// <summary>The nearer neighbour (an exact half rounds to the even rank).</summary>
    Nearest,
}

// Sorting and selection along one dim. NaN orders above every number (as PyTorch). The values of every
// selecting op are the input gathered at the selected positions, so gradients flow to those positions
// (entries composed of Gather); the positions themselves are int64 and not differentiable.
public partial class Tensor
{
    /// <summary>The positions that sort each row along <paramref name="d"/> (stable), int64 of this shape (traced for Vmap).</summary>
    private Tensor ArgsortCore(int d, bool descending) => TracePositions(ArgsortRaw(d, descending), d, (t, dd) => t.ArgsortCore(dd, descending));

    /// <summary>The positions that sort each row along <paramref name="d"/>, untraced.</summary>
    private Tensor ArgsortRaw(int d, bool descending) => DType switch
    {
        DType.Float32 => ScanIndexCore<float>(d, (s, f, r, n, o) => SortK.ArgSort(s, f, r, n, descending, o)),
        DType.Float64 => ScanIndexCore<double>(d, (s, f, r, n, o) => SortK.ArgSort(s, f, r, n, descending, o)),
        _ => ScanIndexCore<long>(d, (s, f, r, n, o) => SortK.ArgSort(s, f, r, n, descending, o)),
    };

    /// <summary>One position per row along <paramref name="d"/> from a row kernel, shaped as the reduction with the dim kept (traced for Vmap).</summary>
    private Tensor RowPositions(int d, Func<int, RowIndexKernel<float>> f32, Func<int, RowIndexKernel<double>> f64, Func<int, RowIndexKernel<long>> i64)
    {
        var keep = Rank == 0 ? [] : ReduceShapes([d], true).KeepShape;
        var idx = DType switch
        {
            DType.Float32 => RowIndexCore(d, keep, f32(0)),
            DType.Float64 => RowIndexCore(d, keep, f64(0)),
            _ => RowIndexCore(d, keep, i64(0)),
        };
        return TracePositions(idx, d, (t, dd) => t.RowPositions(dd, f32, f64, i64));
    }

    /// <summary>
    /// Notes <paramref name="positions"/>, computed from this tensor's values by a kernel along <paramref name="d"/>, as one
    /// traced call whose batching rule reruns <paramref name="compute"/>(x, dim) on the batch: so Vmap sees where the
    /// selecting ops (sort, topk, kthvalue, median, mode, cummax, max along a dim) take their values from, and batches them.
    /// </summary>
    private Tensor TracePositions(Tensor positions, int d, Func<Tensor, int, Tensor> compute)
    {
        if (Tracer.Depth > 0 && Tracer.IsTraced(this)) Tracer.Note(PositionsTrace.Def, [positions], [this], (d, compute));
        return positions;
    }

    /// <summary>The trace entry of <see cref="TracePositions"/> (not registered, not differentiable): its attribute is
    /// (dim, computation), and its batching rule reruns the computation along the dim shifted past the batch.</summary>
    private static class PositionsTrace
    {
        public static readonly OpDef Def = new("Positions", OpFamily.ReduceScanSort)
        {
            // the rule reruns the computation on the batch: the closure (a new one per trace) is not compared
            Differentiable = false, DTypes = DTypeSet.All, BatchRecomputesAttr = true,
            Batch = c =>
            {
                var (d, f) = c.A<(int, Func<Tensor, int, Tensor>)>();
                return [BatchRules.Along(c, d, f)];
            },
        };
    }

    /// <summary>The input gathered at one position per row (<paramref name="idxKeep"/>, the dim kept), and the positions,
    /// with the dim dropped unless <paramref name="keepDim"/>.</summary>
    private (Tensor Values, Tensor Indices) SelectAlong(int d, Tensor idxKeep, bool keepDim)
    {
        var v = Gather(d, idxKeep);
        if (keepDim || Rank == 0) return (v, idxKeep);
        return (v.Squeeze(d), idxKeep.Squeeze(d));
    }

    /// <summary>Size along <paramref name="d"/> (1 for a 0-d tensor).</summary>
    private int SizeAlong(int d) => Rank == 0 ? 1 : _shape[d];

    private void CheckNonEmptyAlong(string op, int d)
    {
        if (SizeAlong(d) == 0)
            throw new ShapeMismatchException($"{op}: cannot reduce over dim {d} of size 0 (shape {ShapeUtil.Format(_shape)}): there is no element to select. Reduce over a non-empty dim.");
    }

    // ---- sort / argsort / msort -------------------------------------------------------------------

    internal static readonly OpDef SortOp = new("Sort", OpFamily.ReduceScanSort, "sort")
    {
        DTypes = DTypeSet.Floats | DTypeSet.Int64, CompositeOf = ["Gather"],
        Doc = "Sorted values and their positions (stable); the values gather the input.",
        // (no ties: sort is not differentiable there, and a finite difference splits what the gradient gives one position)
        Samples = () => ScanSamples(x => x.Sort().Values, x => x.Sort(0, descending: true).Values),
    };

    internal static readonly OpDef ArgsortOp = new("Argsort", OpFamily.ReduceScanSort, "argsort") { Differentiable = false, DTypes = DTypeSet.Floats | DTypeSet.Int64 };

    internal static readonly OpDef MsortOp = new("Msort", OpFamily.ReduceScanSort, "msort")
    {
        DTypes = DTypeSet.Floats | DTypeSet.Int64, CompositeOf = ["Sort"],
        Samples = () => ScanSamples(x => x.Msort(), x => x.Msort()),
    };

    /// <summary>
    /// Sorts along <paramref name="dim"/> (PyTorch's <c>sort</c>): the sorted values and, for each, its position in
    /// the input (int64). NaN sorts as the largest value. The sort is always stable (equal values keep their input
    /// order, descending too), which is one valid outcome of PyTorch's <paramref name="stable"/> = false. The gradient
    /// of each value flows to its position.
    /// </summary>
    public (Tensor Values, Tensor Indices) Sort(int dim = -1, bool descending = false, bool stable = false)
    {
        _ = stable;
        CheckOrderable("Sort");
        int d = ShapeUtil.WrapDim("Sort", dim, Rank);
        var idx = ArgsortCore(d, descending);
        return (Gather(d, idx), idx);
    }

    /// <summary>The positions that sort the tensor along <paramref name="dim"/> (int64; PyTorch's <c>argsort</c>), as
    /// <see cref="Sort(int, bool, bool)"/> orders them (stable; NaN largest). Not differentiable.</summary>
    public Tensor Argsort(int dim = -1, bool descending = false, bool stable = false)
    {
        _ = stable;
        CheckOrderable("Argsort");
        return ArgsortCore(ShapeUtil.WrapDim("Argsort", dim, Rank), descending);
    }

    /// <summary>The values sorted along dim 0 (PyTorch's <c>msort</c>).</summary>
    public Tensor Msort() => Sort(0).Values;

    // ---- topk -------------------------------------------------------------------------------------

    internal static readonly OpDef TopkOp = new("Topk", OpFamily.ReduceScanSort, "topk")
    {
        DTypes = DTypeSet.Floats | DTypeSet.Int64, CompositeOf = ["Gather"],
        Doc = "The k largest (or smallest) values and their positions; the values gather the input.",
        Samples = () => [
            new("1-d", [OpSamples.Make(OpSamples.Domain.Real, 1, 7)], t => t[0].Topk(3).Values),
            new("2-d dim 0 smallest", [OpSamples.Make(OpSamples.Domain.Real, 2, 5, 3)], t => t[0].Topk(2, 0, largest: false).Values),
            new("noncontiguous", [OpSamples.Make(OpSamples.Domain.Real, 3, 4, 3).T], t => t[0].Topk(4).Values),
            new("0-d", [OpSamples.Make(OpSamples.Domain.Real, 4)], t => t[0].Topk(1).Values),
            new("k = 0", [OpSamples.Make(OpSamples.Domain.Real, 5, 2, 3)], t => t[0].Topk(0).Values),
        ],
    };

    /// <summary>
    /// The <paramref name="k"/> largest (or, with <paramref name="largest"/> false, smallest) values along
    /// <paramref name="dim"/> and their positions (int64), as PyTorch's <c>topk</c>. NaN counts as the largest value.
    /// The values come sorted (largest first, or smallest first); among equal values the earlier position comes first
    /// (PyTorch leaves that order unspecified). The gradient of each value flows to its position.
    /// </summary>
    public (Tensor Values, Tensor Indices) Topk(int k, int dim = -1, bool largest = true, bool sorted = true)
    {
        _ = sorted;
        CheckOrderable("Topk");
        int d = ShapeUtil.WrapDim("Topk", dim, Rank);
        int n = SizeAlong(d);
        if (k < 0 || k > n)
            throw new ArgumentOutOfRangeException(nameof(k), $"Topk: k = {k} is out of range for dim {dim} of size {n} (shape {ShapeUtil.Format(_shape)}); pick k in [0, {n}].");
        if (Rank == 0)
        {
            if (k != 1) return (Reshape(1).Narrow(0, 0, 0), Zeros([0], DType.Int64));
            var order = ArgsortCore(d, descending: largest);
            return (Gather(d, order), order);
        }
        var idx = TopkPositions(d, k, largest);
        return (Gather(d, idx), idx);
    }

    /// <summary>The positions of the <paramref name="k"/> largest (or smallest) values along <paramref name="d"/>, in
    /// order, by selection (int64, the dim of size k; traced for Vmap).</summary>
    private Tensor TopkPositions(int d, int k, bool largest)
    {
        var shape = ShapeArray;
        shape[d] = k;
        Tensor Run<T>() where T : System.Numerics.INumber<T>
        {
            var s = AlongLayout<T>(d, out int rows, out int n, out int off);
            var dst = new long[rows * k];
            SortK.TopK(s, off, rows, n, k, largest, dst);
            return FromAlongLayout(dst, shape, d);
        }
        var idx = DType switch
        {
            DType.Float32 => Run<float>(),
            DType.Float64 => Run<double>(),
            _ => Run<long>(),
        };
        return TracePositions(idx, d, (t, dd) => t.TopkPositions(dd, k, largest));
    }

    // ---- kthvalue ---------------------------------------------------------------------------------

    internal static readonly OpDef KthvalueOp = new("Kthvalue", OpFamily.ReduceScanSort, "kthvalue")
    {
        DTypes = DTypeSet.Floats | DTypeSet.Int64, CompositeOf = ["Gather", "Reshape"],
        Doc = "The k-th smallest value and its position; the value gathers the input.",
        Samples = () => [
            new("1-d", [OpSamples.Make(OpSamples.Domain.Real, 1, 7)], t => t[0].Kthvalue(3).Values),
            new("2-d dim 0 keepDim", [OpSamples.Make(OpSamples.Domain.Real, 2, 5, 3)], t => t[0].Kthvalue(5, 0, keepDim: true).Values),
            new("noncontiguous", [OpSamples.Make(OpSamples.Domain.Real, 3, 4, 3).T], t => t[0].Kthvalue(1).Values),
            new("0-d", [OpSamples.Make(OpSamples.Domain.Real, 4)], t => t[0].Kthvalue(1).Values),
        ],
    };

    /// <summary>
    /// The <paramref name="k"/>-th smallest value (1-based) along <paramref name="dim"/> and its position (int64), as
    /// PyTorch's <c>kthvalue</c>: NaN counts as the largest value, and among equal values the position is the one
    /// PyTorch's CPU quickselect picks. The gradient flows to that position.
    /// </summary>
    public (Tensor Values, Tensor Indices) Kthvalue(int k, int dim = -1, bool keepDim = false)
    {
        CheckOrderable("Kthvalue");
        int d = ShapeUtil.WrapDim("Kthvalue", dim, Rank);
        int n = SizeAlong(d);
        if (k < 1 || k > n)
            throw new ArgumentOutOfRangeException(nameof(k), $"Kthvalue: k = {k} is out of range for dim {dim} of size {n} (shape {ShapeUtil.Format(_shape)}); pick k in [1, {n}].");
        var idx = RowPositions(d,
            _ => (s, f, r, m, o) => SortK.KthIndex(s, f, r, m, k - 1, o),
            _ => (s, f, r, m, o) => SortK.KthIndex(s, f, r, m, k - 1, o),
            _ => (s, f, r, m, o) => SortK.KthIndex(s, f, r, m, k - 1, o));
        return SelectAlong(d, idx, keepDim);
    }

    // ---- median / nanmedian -----------------------------------------------------------------------

    // weight of each element in the gradient of a full median: 1/count on the elements equal to the result
    // (the NaNs when it is NaN), 0 elsewhere, as PyTorch's evenly_distribute_backward; a constant of x
    private static Tensor EvenWeights(Tensor x, Tensor y)
    {
        var xd = x.Detach();
        var yd = y.Detach();
        var m = Where(yd.Ne(yd), xd.Ne(xd), xd.Eq(yd));
        var w = Where(m, 1.0, 0.0, x.DType);
        return w / w.Sum();
    }

    private static Tensor SumAllTangent(Tensor t, Tensor x)
    {
        int nb = TangentBatchDims(t, x);
        return nb == 0 ? t.Sum() : t.Reshape([.. t.ShapeArray[..nb], -1]).Sum(nb);
    }

    private static OpDef MedianDef(string name, string torch) => new(name, OpFamily.ReduceScanSort, torch)
    {
        DTypes = DTypeSet.Floats | DTypeSet.Int64,
        Doc = "Lower median (of all elements: gradient split evenly among the elements equal to it; along a dim: value and position).",
        Vjp = (in OpCtx c, Tensor g, int i) => g * EvenWeights(c.X(0), c.Y),
        Jvp = (in OpCtx c, Tensor?[] t) => t[0] is { } tx ? SumAllTangent(tx * EvenWeights(c.X(0), c.Y), c.X(0)) : null,
        BatchedJvp = true, Saves = 1u | OpDef.SaveOutput,
        // the median of each example's elements: along the flattened example (an empty one gives NaN, as MedianAll)
        Batch = c =>
        {
            var flat = c.X(0).Reshape(c.B, -1);
            if (flat.Shape[1] == 0) return [Full([c.B], double.NaN, flat.DType)];
            return [torch == "median" ? flat.Median(1).Values : flat.NanMedian(1).Values];
        },
        Samples = () => [
            new("all, odd", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 3)], t => torch == "median" ? t[0].Median() : t[0].NanMedian()),
            new("all, even", [OpSamples.Make(OpSamples.Domain.Real, 2, 4)], t => torch == "median" ? t[0].Median() : t[0].NanMedian()),
            // at a tie the even split is the central difference's answer; the second derivative is not (it jumps)
            new("all, ties", [Tensor.FromArray([0.3, 1.2, 0.3, -0.4], 4)], t => torch == "median" ? t[0].Median() : t[0].NanMedian(), SecondOrder: false),
            new("0-d", [OpSamples.Make(OpSamples.Domain.Real, 3)], t => torch == "median" ? t[0].Median() : t[0].NanMedian()),
            new("dim", [OpSamples.Make(OpSamples.Domain.Real, 4, 3, 5)], t => torch == "median" ? t[0].Median(1).Values : t[0].NanMedian(1).Values),
            new("dim 0 keepDim noncontiguous", [OpSamples.Make(OpSamples.Domain.Real, 5, 4, 3).T], t => torch == "median" ? t[0].Median(0, keepDim: true).Values : t[0].NanMedian(0, keepDim: true).Values),
        ],
    };

    internal static readonly OpDef MedianOp = MedianDef("Median", "median");
    internal static readonly OpDef NanMedianOp = MedianDef("NanMedian", "nanmedian");

    private Tensor MedianAll(string name, bool ignoreNan)
    {
        CheckOrderable(name);
        Tensor y;
        if (Numel == 0) y = Full([], double.NaN, DType);
        else
        {
            var flat = Reshape(Numel);
            var idx = flat.RowPositions(0,
                _ => (s, f, r, m, o) => SortK.MedianIndex(s, f, r, m, ignoreNan, o),
                _ => (s, f, r, m, o) => SortK.MedianIndex(s, f, r, m, ignoreNan, o),
                _ => (s, f, r, m, o) => SortK.MedianIndex(s, f, r, m, ignoreNan, o));
            using (Autograd.NoGrad()) y = flat.Detach().Gather(0, idx).Reshape();
        }
        return DType.IsFloatingPoint() ? Op.Record(ignoreNan ? NanMedianOp : MedianOp, y, [this]) : y;
    }

    private (Tensor Values, Tensor Indices) MedianAlong(string name, int dim, bool keepDim, bool ignoreNan)
    {
        CheckOrderable(name);
        int d = ShapeUtil.WrapDim(name, dim, Rank);
        CheckNonEmptyAlong(name, d);
        var idx = RowPositions(d,
            _ => (s, f, r, m, o) => SortK.MedianIndex(s, f, r, m, ignoreNan, o),
            _ => (s, f, r, m, o) => SortK.MedianIndex(s, f, r, m, ignoreNan, o),
            _ => (s, f, r, m, o) => SortK.MedianIndex(s, f, r, m, ignoreNan, o));
        return SelectAlong(d, idx, keepDim);
    }

    /// <summary>
    /// The lower median of all elements (a 0-d tensor; for an even count the smaller of the two middle values), as
    /// PyTorch's <c>median()</c>: NaN if any element is NaN, NaN for an empty tensor. The gradient is split evenly among
    /// the elements equal to the median.
    /// </summary>
    public Tensor Median() => MedianAll("Median", ignoreNan: false);

    /// <summary>
    /// The lower median along <paramref name="dim"/> and its position (int64), as PyTorch's <c>median(dim)</c>: a row
    /// with a NaN gives NaN at its first NaN; among equal values the position is that of the stable sort. The gradient
    /// flows to that position.
    /// </summary>
    public (Tensor Values, Tensor Indices) Median(int dim, bool keepDim = false) => MedianAlong("Median", dim, keepDim, ignoreNan: false);

    /// <summary>The lower median of the non-NaN elements (PyTorch's <c>nanmedian()</c>); NaN when all are NaN. The
    /// gradient is split evenly among the elements equal to it.</summary>
    public Tensor NanMedian() => MedianAll("NanMedian", ignoreNan: true);

    /// <summary>The lower median of the non-NaN elements along <paramref name="dim"/> and its position
    /// (PyTorch's <c>nanmedian(dim)</c>); a row of NaNs gives NaN at its first position.</summary>
    public (Tensor Values, Tensor Indices) NanMedian(int dim, bool keepDim = false) => MedianAlong("NanMedian", dim, keepDim, ignoreNan: true);

    // ---- mode -------------------------------------------------------------------------------------

    internal static readonly OpDef ModeOp = new("Mode", OpFamily.ReduceScanSort, "mode")
    {
        DTypes = DTypeSet.Floats | DTypeSet.Int64, CompositeOf = ["Gather", "Reshape"],
        Doc = "Most frequent value along a dim and a position of it; the value gathers the input.",
        Samples = () => [
            // distinct values (a perturbed repeated value would change the mode): the smallest value wins
            new("dim", [OpSamples.Make(OpSamples.Domain.Real, 2, 3, 4)], t => t[0].Mode(1).Values),
            new("dim 0 keepDim", [OpSamples.Make(OpSamples.Domain.Real, 3, 3, 2)], t => t[0].Mode(0, keepDim: true).Values),
            new("0-d", [OpSamples.Make(OpSamples.Domain.Real, 1)], t => t[0].Mode().Values),
        ],
    };

    /// <summary>
    /// The most frequent value along <paramref name="dim"/> (the smallest among equally frequent ones) and a position
    /// of it (int64), as PyTorch's <c>mode</c>; for rows of up to 16 elements the position is PyTorch's (the last
    /// occurrence for NaN-free rows). The gradient flows to that position.
    /// </summary>
    public (Tensor Values, Tensor Indices) Mode(int dim = -1, bool keepDim = false)
    {
        CheckOrderable("Mode");
        int d = ShapeUtil.WrapDim("Mode", dim, Rank);
        CheckNonEmptyAlong("Mode", d);
        var idx = RowPositions(d,
            _ => SortK.ModeIndex<float>,
            _ => SortK.ModeIndex<double>,
            _ => SortK.ModeIndex<long>);
        return SelectAlong(d, idx, keepDim);
    }

    // ---- quantile / nanquantile -------------------------------------------------------------------

    internal static readonly OpDef QuantileOp = new("Quantile", OpFamily.ReduceScanSort, "quantile")
    {
        CompositeOf = ["Sort", "Gather", "Expand", "Where", "Mul", "Add", "Sub"],
        Doc = "Quantiles (linear interpolation by default) of the sorted values.",
        Samples = () => QuantileSamples(ignoreNan: false),
    };

    internal static readonly OpDef NanQuantileOp = new("NanQuantile", OpFamily.ReduceScanSort, "nanquantile")
    {
        CompositeOf = ["Sort", "Gather", "Expand", "Where", "Mul", "Add", "Sub"],
        Doc = "Quantiles of the non-NaN values.",
        Samples = () => QuantileSamples(ignoreNan: true),
    };

    private static IEnumerable<OpSample> QuantileSamples(bool ignoreNan)
    {
        Tensor Q(Tensor x, double q, int? dim = null, bool keepDim = false, QuantileInterpolation m = QuantileInterpolation.Linear) =>
            ignoreNan ? x.NanQuantile(q, dim, keepDim, m) : x.Quantile(q, dim, keepDim, m);
        yield return new("all", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 4)], t => Q(t[0], 0.3));
        yield return new("dim", [OpSamples.Make(OpSamples.Domain.Real, 2, 3, 5)], t => Q(t[0], 0.7, 1));
        yield return new("dim 0 keepDim noncontiguous", [OpSamples.Make(OpSamples.Domain.Real, 3, 4, 3).T], t => Q(t[0], 0.45, 0, keepDim: true));
        yield return new("q tensor", [OpSamples.Make(OpSamples.Domain.Real, 4, 2, 6)], t => ignoreNan
            ? t[0].NanQuantile(Tensor.FromArray([0.1, 0.5, 0.95], 3), -1)
            : t[0].Quantile(Tensor.FromArray([0.1, 0.5, 0.95], 3), -1));
        yield return new("midpoint", [OpSamples.Make(OpSamples.Domain.Real, 5, 7)], t => Q(t[0], 0.4, m: QuantileInterpolation.Midpoint));
        yield return new("lower", [OpSamples.Make(OpSamples.Domain.Real, 6, 7)], t => Q(t[0], 0.4, m: QuantileInterpolation.Lower));
        yield return new("nearest", [OpSamples.Make(OpSamples.Domain.Real, 7, 7)], t => Q(t[0], 0.4, m: QuantileInterpolation.Nearest));
        yield return new("0-d", [OpSamples.Make(OpSamples.Domain.Real, 8)], t => Q(t[0], 0.5, 0));
        // q takes a gradient too (linear interpolation): ∂/∂q = (upper − lower)·(n − 1)
        yield return new("q differentiable", [OpSamples.Make(OpSamples.Domain.Real, 9, 2, 6), Tensor.FromArray([0.13, 0.52, 0.91], 3)], t => ignoreNan
            ? t[0].NanQuantile(t[1], -1)
            : t[0].Quantile(t[1], -1));
    }

    /// <summary>
    /// The <paramref name="q"/>-quantile over all elements (<paramref name="dim"/> null, the tensor flattened) or along
    /// <paramref name="dim"/>, as PyTorch's <c>quantile</c>: the sorted values at rank q·(n − 1), interpolated as
    /// <paramref name="interpolation"/> says (linear by default, as PyTorch's lerp). A row holding a NaN gives NaN.
    /// The gradient flows to the (one or two) sorted elements used, weighted as the interpolation weights them, and
    /// (linear interpolation, q a tensor that requires grad) to q, as PyTorch's.
    /// </summary>
    public Tensor Quantile(double q, int? dim = null, bool keepDim = false, QuantileInterpolation interpolation = QuantileInterpolation.Linear) =>
        QuantileCore("Quantile", Scalar(q, DType.IsFloatingPoint() ? DType : DType.Float32), dim, keepDim, interpolation, ignoreNan: false);

    /// <summary>Quantiles for each of the values of <paramref name="q"/> (0-d or 1-d, same dtype as the input); a 1-d
    /// <paramref name="q"/> adds a leading dim of its length to the result (see <see cref="Quantile(double, int?, bool, QuantileInterpolation)"/>).</summary>
    public Tensor Quantile(Tensor q, int? dim = null, bool keepDim = false, QuantileInterpolation interpolation = QuantileInterpolation.Linear) =>
        QuantileCore("Quantile", q, dim, keepDim, interpolation, ignoreNan: false);

    /// <summary>The quantile of the non-NaN values (PyTorch's <c>nanquantile</c>); NaN for a row of NaNs only
    /// (see <see cref="Quantile(double, int?, bool, QuantileInterpolation)"/>).</summary>
    public Tensor NanQuantile(double q, int? dim = null, bool keepDim = false, QuantileInterpolation interpolation = QuantileInterpolation.Linear) =>
        QuantileCore("NanQuantile", Scalar(q, DType.IsFloatingPoint() ? DType : DType.Float32), dim, keepDim, interpolation, ignoreNan: true);

    /// <summary>Quantiles of the non-NaN values for each of the values of <paramref name="q"/> (see <see cref="Quantile(Tensor, int?, bool, QuantileInterpolation)"/>).</summary>
    public Tensor NanQuantile(Tensor q, int? dim = null, bool keepDim = false, QuantileInterpolation interpolation = QuantileInterpolation.Linear) =>
        QuantileCore("NanQuantile", q, dim, keepDim, interpolation, ignoreNan: true);

    private Tensor QuantileCore(string name, Tensor q, int? dim, bool keepDim, QuantileInterpolation mode, bool ignoreNan)
    {
        CheckFloat(name);
        if (q.DType != DType)
            throw new DTypeMismatchException($"{name}: q has dtype {q.DType.Name()} but the input has dtype {DType.Name()} (shape {ShapeUtil.Format(_shape)}); give q the input's dtype with q.To({DType}).");
        if (q.Rank > 1)
            throw new ShapeMismatchException($"{name}: q must be a scalar or a 1-d tensor, got shape {ShapeUtil.Format(q.Shape)}. Flatten it first.");
        if (Numel == 0)
            throw new ShapeMismatchException($"{name}: the input (shape {ShapeUtil.Format(_shape)}) must be non-empty.");
        var qs = q.ToDoubleArray();
        foreach (var v in qs)
            if (!(v >= 0 && v <= 1))
                throw new ArgumentOutOfRangeException(nameof(q), $"{name}: q must be in the range [0, 1] but got {v}.");

        // sorted rows [..., n] and the result's shape without q's dim
        Tensor sorted;
        int[] outShape;
        if (dim is null)
        {
            sorted = Reshape(Numel).Sort(0).Values;
            outShape = keepDim ? Enumerable.Repeat(1, Rank).ToArray() : [];
        }
        else if (Rank == 0)
        {
            ShapeUtil.WrapDim(name, dim.Value, 0);
            sorted = Reshape(1);
            outShape = [];
        }
        else
        {
            int d = ShapeUtil.WrapDim(name, dim.Value, Rank);
            sorted = Unsqueeze(-1).Transpose(d, -1).Sort(-1).Values; // the dim moved last, a 1 in its place
            outShape = ReduceShapes([d], keepDim).OutShape;
        }
        int n = sorted.Shape[^1];
        var rowShape = sorted.ShapeArray[..^1];
        int rows = ShapeUtil.Numel(rowShape);
        var data = sorted.Detach().Contiguous().ToDoubleArray();
        int nq = qs.Length;
        bool f32 = DType == DType.Float32;
        var below = new long[nq * rows];
        var above = new long[nq * rows];
        var weight = new double[nq * rows];
        var free = new bool[nq * rows];     // the rank is q·last (linear in q): q's gradient flows through the weight
        var lastOf = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            int valid = 0;
            bool nan = false;
            for (int i = 0; i < n; i++)
                if (double.IsNaN(data[r * n + i])) nan = true;
                else valid++;
            for (int j = 0; j < nq; j++)
            {
                // the rank in the input's precision, as PyTorch computes it on tensors of that dtype
                int last = ignoreNan ? valid - 1 : n - 1;
                lastOf[r] = last;
                double rank = f32 ? (double)((float)qs[j] * (float)last) : qs[j] * last;
                free[j * rows + r] = mode == QuantileInterpolation.Linear && !(ignoreNan && rank < 0) && !(!ignoreNan && nan);
                if (ignoreNan && rank < 0) rank = 0;
                if (!ignoreNan && nan) rank = n - 1;
                rank = mode switch
                {
                    QuantileInterpolation.Lower => Math.Floor(rank),
                    QuantileInterpolation.Higher => Math.Ceiling(rank),
                    QuantileInterpolation.Nearest => Math.Round(rank, MidpointRounding.ToEven),
                    _ => rank,
                };
                int k = j * rows + r;
                below[k] = (long)Math.Floor(rank);
                above[k] = (long)Math.Ceiling(rank);
                weight[k] = mode == QuantileInterpolation.Midpoint ? 0.5 : f32 ? (float)(rank - below[k]) : rank - below[k];
            }
        }
        int[] idxShape = [nq, .. rowShape, 1];
        var expanded = sorted.Unsqueeze(0).Expand([nq, .. sorted.ShapeArray]);
        var lo = expanded.Gather(-1, FromArray(below, idxShape));
        Tensor result = lo;
        if (mode is QuantileInterpolation.Linear or QuantileInterpolation.Midpoint)
        {
            var hi = expanded.Gather(-1, FromArray(above, idxShape));
            var w = FromDoubles(weight, idxShape, DType);
            if (mode == QuantileInterpolation.Linear && Op.Tracking(q))
            {
                // the same weight as a function of q (rank q·last minus its floor), so q gets PyTorch's gradient
                int[] qShape = [nq, .. Enumerable.Repeat(1, rowShape.Length + 1)];
                var lastT = FromDoubles(lastOf, [1, .. rowShape, 1], DType);
                var wq = q.Reshape(qShape) * lastT - FromDoubles(Array.ConvertAll(below, b => (double)b), idxShape, DType);
                w = Where(Wrap(free, idxShape), wq, w);
            }
            // PyTorch's lerp: from the nearer end, so weight 1 gives exactly the upper value
            var diff = hi - lo;
            result = Where(w.Lt(0.5), lo + w * diff, hi - diff * (1.0 - w));
        }
        return q.Rank == 0 ? result.Reshape(outShape) : result.Reshape([nq, .. outShape]);
    }
}

// Searching sorted sequences (not differentiable): searchsorted and bucketize.
public partial class Tensor
{
    internal static readonly OpDef SearchSortedOp = new("SearchSorted", OpFamily.ReduceScanSort, "searchsorted") { Differentiable = false, DTypes = DTypeSet.Floats | DTypeSet.Int64 };
    internal static readonly OpDef BucketizeOp = new("Bucketize", OpFamily.ReduceScanSort, "bucketize") { Differentiable = false, DTypes = DTypeSet.Floats | DTypeSet.Int64 };

    /// <summary>
    /// The positions (int64) at which <paramref name="values"/> would be inserted into <paramref name="sortedSequence"/>
    /// to keep it sorted, as PyTorch's <c>searchsorted</c>: the first such position, or with <paramref name="right"/>
    /// the last. A 1-d sequence serves every value; otherwise the sequence's leading dims must equal the values' and
    /// each row of values searches its own row. <paramref name="sorter"/> (int64, the sequence's shape) gives the
    /// positions that sort an unsorted sequence (e.g. from <see cref="Argsort"/>). NaN counts as the largest value.
    /// </summary>
    public static Tensor SearchSorted(Tensor sortedSequence, Tensor values, bool right = false, Tensor? sorter = null)
    {
        const string op = "SearchSorted";
        sortedSequence.CheckOrderable(op);
        CheckSameDType(op, sortedSequence, values);
        if (sortedSequence.Rank == 0)
            throw new ShapeMismatchException($"{op}: the sorted sequence must have at least one dim, got a 0-d tensor. Reshape it to [1].");
        bool shared = sortedSequence.Rank == 1;
        if (!shared && (values.Rank != sortedSequence.Rank || !ShapeUtil.SameShape(values.Shape[..^1], sortedSequence.Shape[..^1])))
            throw new ShapeMismatchException(
                $"{op}: the sorted sequence (shape {ShapeUtil.Format(sortedSequence.Shape)}) and the values (shape {ShapeUtil.Format(values.Shape)}) must have the same leading dims (all but the last), or the sequence must be 1-d.");
        if (sorter is not null)
        {
            if (sorter.DType != DType.Int64)
                throw new DTypeMismatchException($"{op}: the sorter must be int64 (positions, e.g. from Argsort), got {sorter.DType.Name()}.");
            if (!ShapeUtil.SameShape(sorter.Shape, sortedSequence.Shape))
                throw new ShapeMismatchException($"{op}: the sorter (shape {ShapeUtil.Format(sorter.Shape)}) must have the sorted sequence's shape {ShapeUtil.Format(sortedSequence.Shape)}.");
            long n = sortedSequence.Shape[^1];
            foreach (var p in sorter.DenseSpan<long>())
                if (p < 0 || p >= n) throw new ArgumentOutOfRangeException(nameof(sorter), $"{op}: sorter position {p} is out of range for a last dim of size {n}.");
        }
        int len = sortedSequence.Shape[^1];
        int rows = shared ? 1 : ShapeUtil.Numel(sortedSequence.Shape[..^1]);
        int per = shared ? values.Numel : (values.Rank == 0 ? 1 : values.Shape[^1]);
        var dst = new long[values.Numel];
        var srt = sorter?.DenseSpan<long>().ToArray() ?? [];
        void Run<T>() where T : System.Numerics.INumber<T>
        {
            var s = sortedSequence.DenseSpan<T>();
            var v = values.DenseSpan<T>();
            for (int r = 0; r < rows; r++)
                SortK.SearchSorted(s.Slice(r * len, len), srt.Length == 0 ? [] : srt.AsSpan(r * len, len), v.Slice(r * per, per), right, dst.AsSpan(r * per, per));
        }
        switch (sortedSequence.DType)
        {
            case DType.Float32: Run<float>(); break;
            case DType.Float64: Run<double>(); break;
            default: Run<long>(); break;
        }
        return Wrap(dst, values.ShapeArray);
    }

    /// <summary>
    /// The bucket of each element of <paramref name="input"/> among the ascending 1-d <paramref name="boundaries"/>
    /// (int64), as PyTorch's <c>bucketize</c>: the number of boundaries below the element (at or below it with
    /// <paramref name="right"/>), so boundaries[i − 1] &lt; x ≤ boundaries[i] gives i (with right: boundaries[i − 1] ≤ x &lt; boundaries[i]).
    /// </summary>
    public static Tensor Bucketize(Tensor input, Tensor boundaries, bool right = false)
    {
        if (boundaries.Rank != 1)
            throw new ShapeMismatchException($"Bucketize: the boundaries must be 1-d, got shape {ShapeUtil.Format(boundaries.Shape)}.");
        return SearchSorted(boundaries, input, right);
    }
}
