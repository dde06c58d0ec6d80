using Fluxion.Kernels;

namespace Fluxion;

// Reductions over dims (keepDim as PyTorch). VJPs broadcast the output gradient back.
public partial class Tensor
{
    /// <summary>The reduced dims of a reduction, sorted and de-duplicated; null or empty means all dims.</summary>
    internal int[] ReduceDims(string op, int[]? dims)
    {
        if (dims is null || dims.Length == 0) return Enumerable.Range(0, Rank).ToArray();
        var set = new SortedSet<int>();
        foreach (var d in dims)
            if (!set.Add(ShapeUtil.WrapDim(op, d, Rank)))
                throw new ArgumentException($"{op}: dim {d} appears more than once in {ShapeUtil.Format(dims)}.");
        return Rank == 0 ? [] : [.. set];
    }

    /// <summary>Output shapes of a reduction: with the reduced dims kept as 1, and as requested.</summary>
    internal (int[] KeepShape, int[] OutShape) ReduceShapes(int[] dims, bool keepDim)
    {
        var keep = ShapeArray;
        foreach (var d in dims) keep[d] = 1;
        var outShape = keepDim ? keep : _shape.Where((_, i) => Array.IndexOf(dims, i) < 0).ToArray();
        return (keep, outShape);
    }

    /// <summary>
    /// Lays the input out densely as [rows, inner] with the reduced dims last (inner = their total
    /// size), so a reduction is a per-row loop. Returns a dense copy or the storage itself.
    /// </summary>
    internal ReadOnlySpan<T> ReduceLayout<T>(int[] dims, out int rows, out int inner)
    {
        inner = 1;
        foreach (var d in dims) inner *= _shape[d];
        rows = inner == 0 ? 0 : Numel / Math.Max(inner, 1);
        if (inner == 0) rows = ShapeUtil.Numel(ReduceShapes(dims, true).KeepShape);
        var perm = Enumerable.Range(0, Rank).Where(i => Array.IndexOf(dims, i) < 0).Concat(dims).ToArray();
        var sh = Array.ConvertAll(perm, i => _shape[i]);
        var st = Array.ConvertAll(perm, i => _strides[i]);
        var data = Storage.As<T>();
        if (ShapeUtil.IsContiguous(sh, st)) return data.AsSpan(Offset, Numel);
        var dst = new T[Numel];
        Strided.Gather(data, Offset, sh, st, dst);
        return dst;
    }

    /// <summary>Reduces this tensor, when contiguous and floating-point, over the sorted <paramref name="dims"/> into the fresh
    /// <paramref name="y"/> by <see cref="Reduce.TryStaged"/> (passes over contiguous memory, no transposed copy); false,
    /// with nothing written, when that does not apply (the caller takes its general path).</summary>
    internal bool StagedReduce(int[] dims, Tensor y, Reduce.ReduceKind kind)
    {
        if (!IsContiguous || y.Offset != 0) return false;
        var reduced = new bool[Rank];
        foreach (var d in dims) reduced[d] = true;
        return DType switch
        {
            DType.Float32 => Reduce.TryStaged(Storage.As<float>(), Offset, _shape, reduced, y.Storage.As<float>(), kind, MiddleMinInner),
            DType.Float64 => Reduce.TryStaged(Storage.As<double>(), Offset, _shape, reduced, y.Storage.As<double>(), kind, MiddleMinInner),
            _ => false,
        };
    }

    /// <summary>Below this many kept trailing elements per row, a middle-dim reduction is done by rows
    /// on a transposed copy instead (vector adds over very short rows do not pay).</summary>
    private const int MiddleMinInner = 16;

    /// <summary>
    /// True when this tensor is contiguous and the (sorted) reduced <paramref name="dims"/> form one block of
    /// consecutive dims followed by kept dims of at least <see cref="MiddleMinInner"/> elements: the data is then
    /// a dense [outer, r, inner] layout reduced over its middle dim.
    /// </summary>
    private bool MiddleLayout(int[] dims, out int outer, out int r, out int inner)
    {
        outer = r = inner = 1;
        if (dims.Length == 0 || !IsContiguous) return false;
        for (int i = 1; i < dims.Length; i++) if (dims[i] != dims[i - 1] + 1) return false;
        for (int i = 0; i < dims[0]; i++) outer *= _shape[i];
        for (int i = dims[0]; i <= dims[^1]; i++) r *= _shape[i];
        for (int i = dims[^1] + 1; i < Rank; i++) inner *= _shape[i];
        return inner >= MiddleMinInner;
    }

    /// <summary>Sums a tangent of <paramref name="x"/> over the primal's dims <paramref name="d"/>, past any
    /// vector-mode batch prefix; an empty <paramref name="d"/> (a 0-d primal) sums nothing.</summary>
    private static Tensor SumTangent(Tensor t, int[] d, Tensor x, bool keepDim) =>
        d.Length == 0 ? t : t.Sum(ShiftDims(d, t, x), keepDim);

    /// <summary>Sum of all elements (a 0-d tensor).</summary>
    public Tensor Sum() => Sum(null, false);

    /// <summary>Sum over one dim.</summary>
    public Tensor Sum(int dim, bool keepDim = false) => Sum([dim], keepDim);

    /// <summary>Sum over <paramref name="dims"/> (all dims when null). int64 and bool tensors sum to int64 (as PyTorch,
    /// wrapping around on overflow; not differentiable).</summary>
    public Tensor Sum(int[]? dims, bool keepDim = false)
    {
        if (!DType.IsFloatingPoint()) return IntegerSum(dims, keepDim);
        var d = ReduceDims("Sum", dims);
        var (keep, outShape) = ReduceShapes(d, keepDim);
        var y = Empty(outShape, DType);
        if (MiddleLayout(d, out int outer, out int r, out int kept))
        {
            // reduced dims followed by kept ones (e.g. Sum(0) of [N, C]): add whole rows, no transposed copy
            if (DType == DType.Float32) Reduce.MiddleSum(Storage.As<float>().AsSpan(Offset, Numel), outer, r, kept, y.Storage.As<float>());
            else Reduce.MiddleSum(Storage.As<double>().AsSpan(Offset, Numel), outer, r, kept, y.Storage.As<double>());
        }
        else if (StagedReduce(d, y, Reduce.ReduceKind.Sum)) { }
        else if (DType == DType.Float32)
            Reduce.RowSum(ReduceLayout<float>(d, out int rows, out int inner), rows, inner, y.Storage.As<float>());
        else
            Reduce.RowSum(ReduceLayout<double>(d, out int rows, out int inner), rows, inner, y.Storage.As<double>());
        return Op.Tracking(this) ? Op.Record(SumOp, y, [this], new ReduceAttr(d, keep, keepDim)) : y;
    }

    /// <summary>The sum of an int64 or bool tensor, in int64.</summary>
    private Tensor IntegerSum(int[]? dims, bool keepDim)
    {
        var x = DType == DType.Int64 ? this : To(DType.Int64);
        var d = x.ReduceDims("Sum", dims);
        var outShape = x.ReduceShapes(d, keepDim).OutShape;
        var y = Zeros(outShape, DType.Int64);
        var src = x.ReduceLayout<long>(d, out int rows, out int inner);
        var dst = y.Storage.As<long>();
        for (int r = 0; r < rows; r++)
        {
            long acc = 0;
            foreach (var v in src.Slice(r * inner, inner)) acc = unchecked(acc + v);
            dst[r] = acc;
        }
        return y;
    }

    /// <summary>A reduction's attributes: the reduced dims (sorted), the input shape with them kept as 1, and keepDim.</summary>
    private sealed record ReduceAttr(int[] Dims, int[] Keep, bool KeepDim);

    internal static readonly OpDef SumOp = new("Sum", OpFamily.ReduceScanSort, "sum")
    {
        Linear = true, DTypes = DTypeSet.All,
        Vjp = (in OpCtx c, Tensor g, int i) => g.Reshape(c.A<ReduceAttr>().Keep).Expand(c.Shape(0)),
        Jvp = (in OpCtx c, Tensor?[] t) => t[0] is { } tx ? SumTangent(tx, c.A<ReduceAttr>().Dims, c.X(0), c.A<ReduceAttr>().KeepDim) : null,
        BatchedJvp = true,
        Samples = () => ReduceSamples((x, d, k) => x.Sum(d, k)),
    };

    /// <summary>Samples of a reduction over dims: all dims, one dim (kept), two dims of a 3-d tensor, a transposed view, a 0-d input.</summary>
    private static IEnumerable<OpSample> ReduceSamples(Func<Tensor, int[]?, bool, Tensor> f, OpSamples.Domain domain = OpSamples.Domain.Real, bool empty = true, bool zeroD = true)
    {
        yield return new("all dims", [OpSamples.Make(domain, 1, 3, 4)], t => f(t[0], null, false));
        yield return new("dim 1 keepDim", [OpSamples.Make(domain, 2, 3, 4)], t => f(t[0], [1], true));
        yield return new("dims 0, 2", [OpSamples.Make(domain, 3, 2, 3, 4)], t => f(t[0], [0, 2], false));
        yield return new("noncontiguous dim -1", [OpSamples.Make(domain, 4, 4, 3).T], t => f(t[0], [-1], false));
        if (zeroD) yield return new("0-d", [OpSamples.Make(domain, 5)], t => f(t[0], null, false));
        if (empty) yield return new("empty kept dim", [OpSamples.Make(domain, 6, 0, 3)], t => f(t[0], [1], false));
    }

    /// <summary>Mean of all elements (a 0-d tensor).</summary>
    public Tensor Mean() => Mean(null, false);

    /// <summary>Mean over one dim.</summary>
    public Tensor Mean(int dim, bool keepDim = false) => Mean([dim], keepDim);

    /// <summary>Mean over <paramref name="dims"/> (all dims when null).</summary>
    public Tensor Mean(int[]? dims, bool keepDim = false)
    {
        var d = ReduceDims("Mean", dims);
        int n = 1;
        foreach (var i in d) n *= _shape[i];
        return Sum(d, keepDim) / n;
    }

    // ---- max / min -----------------------------------------------------------------------------

    /// <summary>Largest element (a 0-d tensor); NaN propagates. On ties the gradient is split evenly
    /// among the maximal elements, as PyTorch's <c>max()</c>.</summary>
    public Tensor Max() => Extreme("Max", null, false, max: true);

    /// <summary>Smallest element (a 0-d tensor); NaN propagates. On ties the gradient is split evenly
    /// among the minimal elements, as PyTorch's <c>min()</c>.</summary>
    public Tensor Min() => Extreme("Min", null, false, max: false);

    /// <summary>Maximum over <paramref name="dims"/> (all dims when null or empty); the gradient is
    /// split evenly among tied maxima (PyTorch's <c>amax</c>).</summary>
    public Tensor Amax(int[]? dims = null, bool keepDim = false) => Extreme("Amax", dims, keepDim, max: true);

    /// <summary>Maximum over one dim, gradient split evenly among ties (see <see cref="Amax(int[], bool)"/>).</summary>
    public Tensor Amax(int dim, bool keepDim = false) => Amax([dim], keepDim);

    /// <summary>Minimum over <paramref name="dims"/> (all dims when null or empty); the gradient is
    /// split evenly among tied minima (PyTorch's <c>amin</c>).</summary>
    public Tensor Amin(int[]? dims = null, bool keepDim = false) => Extreme("Amin", dims, keepDim, max: false);

    /// <summary>Minimum over one dim, gradient split evenly among ties (see <see cref="Amin(int[], bool)"/>).</summary>
    public Tensor Amin(int dim, bool keepDim = false) => Amin([dim], keepDim);

    private Tensor Extreme(string name, int[]? dims, bool keepDim, bool max)
    {
        CheckFloat(name);
        var d = ReduceDims(name, dims);
        var (keep, outShape) = ReduceShapes(d, keepDim);
        CheckNonEmptyReduction(name, d);
        var y = Empty(outShape, DType);
        if (StagedReduce(d, y, max ? Reduce.ReduceKind.Max : Reduce.ReduceKind.Min)) { }
        else if (DType == DType.Float32)
            Reduce.RowExtreme(ReduceLayout<float>(d, out int rows, out int inner), rows, inner, max, y.Storage.As<float>());
        else
            Reduce.RowExtreme(ReduceLayout<double>(d, out int rows, out int inner), rows, inner, max, y.Storage.As<double>());
        return Op.Tracking(this) ? Op.Record(max ? MaxOp : MinOp, y, [this], new ReduceAttr(d, keep, keepDim)) : y;
    }

    // weight of each element: 1/count on the elements equal to the extreme (NaN matching NaN), 0 elsewhere;
    // a constant of x, so the VJP is linear in g and differentiates again
    private static Tensor ExtremeWeight(in OpCtx c)
    {
        var a = c.A<ReduceAttr>();
        var xd = c.X(0).Detach();
        var yk = c.Y.Detach().Reshape(a.Keep);
        var m = (xd.Eq(yk) | (xd.Ne(xd) & yk.Ne(yk))).To(xd.DType);
        return m / m.Sum(a.Dims, keepDim: true);
    }

    /// <summary>g·ExtremeWeight(c) computed directly (see <see cref="Kernels.ReduceBackward.ExtremeGrad{T}"/>): a dense
    /// tensor shaped like the input.</summary>
    private static Tensor ExtremeGradRaw(in OpCtx c, Tensor g)
    {
        var a = c.A<ReduceAttr>();
        var x = c.X(0);
        var y = c.Y;
        var shape = x._shape;
        var gk = g.DType == x.DType ? g.Reshape(a.Keep).Contiguous() : g.Reshape(a.Keep).To(x.DType);
        var yk = y.IsContiguous ? y : y.Contiguous();
        var keepStrides = ShapeUtil.ContiguousStrides(a.Keep);
        for (int k = 0; k < shape.Length; k++) if (a.Keep[k] == 1 && shape[k] != 1) keepStrides[k] = 0;
        var dx = new Tensor(Storage.AllocateUninitialized(x.DType, x.Numel), x.ShapeArray);
        if (dx.Numel == 0) return dx;
        int groups = yk.Numel;
        if (x.DType == DType.Float32)
            Kernels.ReduceBackward.ExtremeGrad(x.Storage.As<float>(), x.Offset, x._strides, yk.Storage.As<float>(), yk.Offset,
                gk.Storage.As<float>(), gk.Offset, groups, keepStrides, shape, dx.Storage.As<float>());
        else
            Kernels.ReduceBackward.ExtremeGrad(x.Storage.As<double>(), x.Offset, x._strides, yk.Storage.As<double>(), yk.Offset,
                gk.Storage.As<double>(), gk.Offset, groups, keepStrides, shape, dx.Storage.As<double>());
        return dx;
    }

    private static OpDef ExtremeDef(string name, bool max, params string[] torch) => new(name, OpFamily.ReduceScanSort, torch)
    {
        Vjp = (in OpCtx c, Tensor g, int i) => !Op.Tracking(g) && Tracer.Depth == 0 && c.X(0).DType.IsFloatingPoint()
            ? ExtremeGradRaw(c, g) // first order: the same values in two passes, no mask/count tensors
            : g.Reshape(c.A<ReduceAttr>().Keep) * ExtremeWeight(c),
        Jvp = (in OpCtx c, Tensor?[] t) => t[0] is { } tx ? SumTangent(tx * ExtremeWeight(c), c.A<ReduceAttr>().Dims, c.X(0), c.A<ReduceAttr>().KeepDim) : null,
        BatchedJvp = true, Saves = 1u | OpDef.SaveOutput,
        Batch = c => [BatchRules.ReduceOver(c, c.A<ReduceAttr>().Dims, c.A<ReduceAttr>().KeepDim, max ? (x, d, k) => x.Amax(d, k) : (x, d, k) => x.Amin(d, k))],
        Samples = () => ReduceSamples(max ? (x, d, k) => x.Amax(d, k) : (x, d, k) => x.Amin(d, k), empty: false),
    };

    internal static readonly OpDef MaxOp = ExtremeDef("Max", max: true, "max", "amax");
    internal static readonly OpDef MinOp = ExtremeDef("Min", max: false, "min", "amin");

    private void CheckNonEmptyReduction(string name, int[] dims)
    {
        foreach (var i in dims)
            if (_shape[i] == 0)
                throw new ShapeMismatchException(
                    $"{name}: cannot reduce over dim {i} of size 0 (shape {ShapeUtil.Format(_shape)}): the result has no identity element. Reduce over non-empty dims only.");
        if (dims.Length == Rank && Numel == 0)
            throw new ShapeMismatchException($"{name}: cannot reduce an empty tensor (shape {ShapeUtil.Format(_shape)}).");
    }

    /// <summary>Maximum along <paramref name="dim"/> with the position of the first maximum (int64).
    /// NaN propagates. The gradient flows to that position only.</summary>
    public (Tensor Values, Tensor Indices) Max(int dim, bool keepDim = false) => ExtremeAlong("Max", dim, keepDim, max: true);

    /// <summary>Minimum along <paramref name="dim"/> with the position of the first minimum (int64).
    /// NaN propagates. The gradient flows to that position only.</summary>
    public (Tensor Values, Tensor Indices) Min(int dim, bool keepDim = false) => ExtremeAlong("Min", dim, keepDim, max: false);

    private (Tensor Values, Tensor Indices) ExtremeAlong(string name, int dim, bool keepDim, bool max)
    {
        CheckFloat(name);
        var d = ReduceDims(name, [dim]); // empty for a 0-d tensor
        var (keep, outShape) = ReduceShapes(d, keepDim);
        CheckNonEmptyReduction(name, d);
        var values = Empty(outShape, DType);
        var indices = Empty(outShape, DType.Int64);
        if (DType == DType.Float32)
            Reduce.RowArgExtreme(ReduceLayout<float>(d, out int rows, out int inner), rows, inner, max, values.Storage.As<float>(), indices.Storage.As<long>());
        else
            Reduce.RowArgExtreme(ReduceLayout<double>(d, out int rows, out int inner), rows, inner, max, values.Storage.As<double>(), indices.Storage.As<long>());
        // the indices ride along as a second, non-differentiable input: saved (and version-checked) for backward
        if (Tracer.Depth > 0) indices = TracePositions(indices, d.Length == 0 ? 0 : d[0], (t, dd) => t.ExtremeAlong(name, dd, keepDim, max).Indices);
        var v = Op.Tracking(this) ? Op.Record(max ? MaxAlongOp : MinAlongOp, values, [this, indices], new ReduceAttr(d, keep, keepDim)) : values;
        return (v, indices);
    }

    // one-hot of the chosen positions (input 1, the indices), shaped like x: the gradient goes there only
    private static Tensor ExtremeAlongMask(in OpCtx c) => OneHotAlong(c.X(1), c.A<ReduceAttr>().Keep, c.A<ReduceAttr>().Dims, c.Shape(0));

    private static OpDef ExtremeAlongDef(string name, bool max) => new(name, OpFamily.ReduceScanSort)
    {
        Vjp = (in OpCtx c, Tensor g, int i) => i == 0 ? Where(ExtremeAlongMask(c), g.Reshape(c.A<ReduceAttr>().Keep), 0.0) : null,
        Jvp = (in OpCtx c, Tensor?[] t) => t[0] is { } tx ? SumTangent(Where(ExtremeAlongMask(c), tx, 0.0), c.A<ReduceAttr>().Dims, c.X(0), c.A<ReduceAttr>().KeepDim) : null,
        BatchedJvp = true, Saves = 2u,
        // the values along the shifted dim (the positions, input 1, are the traced call's own output)
        Batch = c => [BatchRules.Along(c, c.A<ReduceAttr>().Dims is [var d, ..] ? d : 0, (x, dd) => x.ExtremeAlong(max ? "Max" : "Min", dd, c.A<ReduceAttr>().KeepDim, max).Values)],
        Samples = () => ExtremeAlongSamples(max),
    };

    private static IEnumerable<OpSample> ExtremeAlongSamples(bool max)
    {
        Tensor F(Tensor x, int dim, bool keepDim) => max ? x.Max(dim, keepDim).Values : x.Min(dim, keepDim).Values;
        yield return new("dim 0", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 4)], t => F(t[0], 0, false));
        yield return new("dim -1 keepDim", [OpSamples.Make(OpSamples.Domain.Real, 2, 2, 3, 4)], t => F(t[0], -1, true));
        yield return new("noncontiguous", [OpSamples.Make(OpSamples.Domain.Real, 3, 4, 3).T], t => F(t[0], 1, false));
        yield return new("0-d", [OpSamples.Make(OpSamples.Domain.Real, 4)], t => F(t[0], 0, false));
    }

    internal static readonly OpDef MaxAlongOp = ExtremeAlongDef("MaxAlong", max: true);
    internal static readonly OpDef MinAlongOp = ExtremeAlongDef("MinAlong", max: false);

    /// <summary>A bool tensor of <paramref name="inShape"/> that is true where the position along the
    /// reduced dim (<paramref name="d"/>: one dim, or none for a 0-d input) equals the index.</summary>
    private static Tensor OneHotAlong(Tensor indices, int[] keep, int[] d, int[] inShape)
    {
        var s = new int[inShape.Length];
        Array.Fill(s, 1);
        int n = 1;
        if (d.Length > 0) n = s[d[0]] = inShape[d[0]];
        return Arange(n, DType.Int64).Reshape(s).Eq(indices.Reshape(keep)).Expand(inShape);
    }

    /// <summary>Position of the largest element (int64): in the flattened tensor when <paramref name="dim"/>
    /// is null, else along <paramref name="dim"/>. First occurrence on ties; a NaN counts as the largest.
    /// Not differentiable.</summary>
    public Tensor ArgMax(int? dim = null, bool keepDim = false) => ArgExtreme("ArgMax", dim, keepDim, max: true);

    /// <summary>Position of the smallest element (int64), as <see cref="ArgMax"/>.</summary>
    public Tensor ArgMin(int? dim = null, bool keepDim = false) => ArgExtreme("ArgMin", dim, keepDim, max: false);

    private Tensor ArgExtreme(string name, int? dim, bool keepDim, bool max)
    {
        CheckFloat(name);
        int[] d, outShape;
        int rows, inner;
        if (dim is null)
        {
            d = ReduceDims(name, null);
            CheckNonEmptyReduction(name, d);
            outShape = keepDim ? Enumerable.Repeat(1, Rank).ToArray() : [];
            rows = 1;
            inner = Numel;
        }
        else
        {
            d = ReduceDims(name, [dim.Value]);
            CheckNonEmptyReduction(name, d);
            outShape = ReduceShapes(d, keepDim).OutShape;
            inner = d.Length == 0 ? 1 : _shape[d[0]];
            rows = inner == 0 ? 0 : Numel / inner;
        }
        var idx = Empty(outShape, DType.Int64);
        if (DType == DType.Float32)
            Reduce.RowArgExtreme(dim is null ? DenseSpan<float>() : ReduceLayout<float>(d, out rows, out inner), rows, inner, max, [], idx.Storage.As<long>());
        else
            Reduce.RowArgExtreme(dim is null ? DenseSpan<double>() : ReduceLayout<double>(d, out rows, out inner), rows, inner, max, [], idx.Storage.As<long>());
        if (Tracer.Depth == 0) return idx;
        if (dim is not null) return TracePositions(idx, d.Length == 0 ? 0 : d[0], (t, dd) => t.ArgExtreme(name, dd, keepDim, max));
        // over all of each example's elements: its positions in the flattened example
        return TracePositions(idx, 0, (t, _) => t.Reshape(t.Shape[0], -1).ArgExtreme(name, 1, false, max).Reshape([t.Shape[0], .. outShape]));
    }

    // ---- variance / standard deviation ----------------------------------------------------------

    /// <summary>
    /// Variance over <paramref name="dims"/> (all dims when null): Σ(x − mean)² / max(0, N − correction),
    /// computed in two passes for accuracy. correction = 1 is the unbiased estimate, 0 the population variance.
    /// </summary>
    public Tensor Var(int[]? dims = null, int correction = 1, bool keepDim = false) => VarStd("Var", dims, correction, keepDim, std: false);

    /// <summary>Variance over one dim (see <see cref="Var(int[], int, bool)"/>).</summary>
    public Tensor Var(int dim, int correction = 1, bool keepDim = false) => Var([dim], correction, keepDim);

    /// <summary>
    /// Standard deviation over <paramref name="dims"/> (all dims when null): the square root of
    /// <see cref="Var(int[], int, bool)"/>. Where it is 0 the gradient is 0 (as PyTorch).
    /// </summary>
    public Tensor Std(int[]? dims = null, int correction = 1, bool keepDim = false) => VarStd("Std", dims, correction, keepDim, std: true);

    /// <summary>Standard deviation over one dim (see <see cref="Std(int[], int, bool)"/>).</summary>
    public Tensor Std(int dim, int correction = 1, bool keepDim = false) => Std([dim], correction, keepDim);

    private Tensor VarStd(string name, int[]? dims, int correction, bool keepDim, bool std)
    {
        CheckFloat(name);
        if (correction < 0) throw new ArgumentOutOfRangeException(nameof(correction), $"{name}: correction must be non-negative, got {correction}.");
        var d = ReduceDims(name, dims);
        var (keep, outShape) = ReduceShapes(d, keepDim);
        var y = Empty(outShape, DType);
        if (DType == DType.Float32)
            Reduce.RowVar(ReduceLayout<float>(d, out int rows, out int inner), rows, inner, correction, std, y.Storage.As<float>());
        else
            Reduce.RowVar(ReduceLayout<double>(d, out int rows, out int inner), rows, inner, correction, std, y.Storage.As<double>());
        int n = 1;
        foreach (var i in d) n *= _shape[i];
        double dof = Math.Max(0, n - correction);
        return Op.Tracking(this) ? Op.Record(std ? StdOp : VarOp, y, [this], new VarAttr(d, keep, keepDim, dof)) : y;
    }

    /// <summary>Var/Std attributes: a reduction's, and the divisor N − correction (at least 0).</summary>
    private sealed record VarAttr(int[] Dims, int[] Keep, bool KeepDim, double Dof);

    // d var / dx = 2 (x − mean) / (N − correction); the mean is taken with tensor ops so it differentiates again
    private static Tensor DVar(in OpCtx c)
    {
        var a = c.A<VarAttr>();
        var x = c.X(0);
        return (x - x.Mean(a.Dims, keepDim: true)) * (2.0 / a.Dof);
    }

    // d std = d var / (2 std), taken as 0 where std = 0 (a safe denominator keeps higher orders finite)
    private static Tensor StdScale(in OpCtx c, Tensor g)
    {
        var yk = c.Y.Reshape(c.A<VarAttr>().Keep);
        var zero = yk.Eq(0.0);
        return Where(zero, 0.0, g / (2.0 * Where(zero, 1.0, yk)));
    }

    internal static readonly OpDef VarOp = new("Var", OpFamily.ReduceScanSort, "var")
    {
        Vjp = (in OpCtx c, Tensor g, int i) => g.Reshape(c.A<VarAttr>().Keep) * DVar(c),
        Jvp = (in OpCtx c, Tensor?[] t) => t[0] is { } tx ? SumTangent(tx * DVar(c), c.A<VarAttr>().Dims, c.X(0), c.A<VarAttr>().KeepDim) : null,
        BatchedJvp = true, Saves = 1u,
        Batch = c => [VarStdBatch(c, std: false)],
        Samples = () => [.. ReduceSamples((x, d, k) => x.Var(d, 1, k), empty: false, zeroD: false), new OpSample("correction 0", [OpSamples.Make(OpSamples.Domain.Real, 7, 3, 4)], t => t[0].Var([1], correction: 0))],
    };

    internal static readonly OpDef StdOp = new("Std", OpFamily.ReduceScanSort, "std")
    {
        Vjp = (in OpCtx c, Tensor g, int i) => StdScale(c, g.Reshape(c.A<VarAttr>().Keep)) * DVar(c),
        Jvp = (in OpCtx c, Tensor?[] t) => t[0] is { } tx
            ? StdScale(c, SumTangent(tx * DVar(c), c.A<VarAttr>().Dims, c.X(0), keepDim: true)).Reshape([.. TangentBatchShape(tx, c.X(0)), .. c.Y.ShapeRef])
            : null,
        BatchedJvp = true, Saves = 1u | OpDef.SaveOutput,
        Batch = c => [VarStdBatch(c, std: true)],
        Samples = () => [.. ReduceSamples((x, d, k) => x.Std(d, 1, k), empty: false, zeroD: false), new OpSample("correction 0", [OpSamples.Make(OpSamples.Domain.Real, 7, 3, 4)], t => t[0].Std([1], correction: 0))],
    };

    /// <summary>Var/Std's batching rule: the correction is N − Dof (the divisor recorded), N counted in the example's shape.</summary>
    private static Tensor VarStdBatch(BatchCtx c, bool std)
    {
        var a = c.A<VarAttr>();
        var shape = c.Shape(0);
        int n = 1;
        foreach (var i in a.Dims) n *= shape[i];
        int correction = (int)Math.Round(n - a.Dof);
        return BatchRules.ReduceOver(c, a.Dims, a.KeepDim, (x, d, k) => std ? x.Std(d, correction, k) : x.Var(d, correction, k));
    }

    // ---- log-sum-exp ---------------------------------------------------------------------------

    /// <summary>
    /// log Σ exp(x) over <paramref name="dims"/>, computed stably by shifting with the maximum. The
    /// gradient is the softmax over those dims. A slice that is all -inf gives -inf and a zero gradient.
    /// </summary>
    public Tensor LogSumExp(int[] dims, bool keepDim = false)
    {
        CheckFloat("LogSumExp");
        var d = ReduceDims("LogSumExp", dims);
        var (keep, outShape) = ReduceShapes(d, keepDim);
        var y = Empty(outShape, DType);
        if (DType == DType.Float32)
            Reduce.RowLogSumExp(ReduceLayout<float>(d, out int rows, out int inner), rows, inner, y.Storage.As<float>());
        else
            Reduce.RowLogSumExp(ReduceLayout<double>(d, out int rows, out int inner), rows, inner, y.Storage.As<double>());
        return Op.Tracking(this) ? Op.Record(LogSumExpOp, y, [this], new ReduceAttr(d, keep, keepDim)) : y;
    }

    // softmax weights exp(x − lse); where lse = -inf (every element -inf) they are exp(-inf) = 0
    private static Tensor LogSumExpWeight(in OpCtx c)
    {
        var yk = c.Y.Reshape(c.A<ReduceAttr>().Keep);
        return (c.X(0) - Where(yk.Eq(double.NegativeInfinity), 0.0, yk)).Exp();
    }

    internal static readonly OpDef LogSumExpOp = new("LogSumExp", OpFamily.ReduceScanSort, "logsumexp")
    {
        Vjp = (in OpCtx c, Tensor g, int i) => g.Reshape(c.A<ReduceAttr>().Keep) * LogSumExpWeight(c),
        Jvp = (in OpCtx c, Tensor?[] t) => t[0] is { } tx ? SumTangent(tx * LogSumExpWeight(c), c.A<ReduceAttr>().Dims, c.X(0), c.A<ReduceAttr>().KeepDim) : null,
        BatchedJvp = true, Saves = 1u | OpDef.SaveOutput,
        Batch = c => [BatchRules.ReduceOver(c, c.A<ReduceAttr>().Dims, c.A<ReduceAttr>().KeepDim, (x, d, k) => x.LogSumExp(d, k))],
        Samples = () => ReduceSamples((x, d, k) => x.LogSumExp(d ?? [], k)),
    };

    /// <summary>log Σ exp(x) over one dim (see <see cref="LogSumExp(int[], bool)"/>).</summary>
    public Tensor LogSumExp(int dim, bool keepDim = false) => LogSumExp([dim], keepDim);
}
