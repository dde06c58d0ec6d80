using Fluxion.Kernels;

namespace Fluxion;

// More reductions as registry entries: mean (composite of Sum), the logical and counting reductions, the
// NaN-ignoring sums and means, the paired statistics (std/var with the mean, min with max), and entries for
// the existing ArgMax/ArgMin (Reduce.cs).
public partial class Tensor
{
    internal static readonly OpDef MeanOp = new("Mean", OpFamily.ReduceScanSort, "mean")
    {
        CompositeOf = ["Sum", "Div"],
        Doc = "Mean over dims (a sum divided by the count); NaN for an empty reduction.",
        Samples = () => [
            new("all", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 4)], t => t[0].Mean()),
            new("0-d", [OpSamples.Make(OpSamples.Domain.Real, 2)], t => t[0].Mean()),
            new("dim", [OpSamples.Make(OpSamples.Domain.Real, 3, 3, 4)], t => t[0].Mean(1)),
            new("dims keepDim", [OpSamples.Make(OpSamples.Domain.Real, 4, 2, 3, 4)], t => t[0].Mean([0, -1], keepDim: true)),
            new("noncontiguous", [OpSamples.Make(OpSamples.Domain.Real, 5, 4, 3).T], t => t[0].Mean(0)),
            new("empty kept dim", [OpSamples.Make(OpSamples.Domain.Real, 6, 0, 3)], t => t[0].Mean(1)),
        ],
    };

    internal static readonly OpDef ArgMaxOp = new("ArgMax", OpFamily.ReduceScanSort, "argmax") { Differentiable = false, DTypes = DTypeSet.Floats };
    internal static readonly OpDef ArgMinOp = new("ArgMin", OpFamily.ReduceScanSort, "argmin") { Differentiable = false, DTypes = DTypeSet.Floats };

    // ---- all / any / count_nonzero ----------------------------------------------------------------

    internal static readonly OpDef AllOp = new("All", OpFamily.ReduceScanSort, "all") { Differentiable = false, DTypes = DTypeSet.All };
    internal static readonly OpDef AnyOp = new("Any", OpFamily.ReduceScanSort, "any") { Differentiable = false, DTypes = DTypeSet.All };
    internal static readonly OpDef CountNonzeroOp = new("CountNonzero", OpFamily.ReduceScanSort, "count_nonzero") { Differentiable = false, DTypes = DTypeSet.All };

    /// <summary>This tensor as bool: true where nonzero (NaN counts as nonzero, as PyTorch).</summary>
    private Tensor NonzeroMask() => DType == DType.Bool ? this : Ne(0.0);

    private Tensor LogicalReduce(string name, int[]? dims, bool keepDim, bool all)
    {
        var m = NonzeroMask();
        var d = m.ReduceDims(name, dims);
        var (_, outShape) = m.ReduceShapes(d, keepDim);
        var src = m.ReduceLayout<bool>(d, out int rows, out int inner);
        var dst = new bool[rows];
        for (int r = 0; r < rows; r++)
        {
            bool acc = all;
            var row = src.Slice(r * inner, inner);
            for (int i = 0; i < inner && acc == all; i++) acc = row[i];
            dst[r] = acc;
        }
        return Wrap(dst, outShape);
    }

    /// <summary>True (a 0-d bool tensor) when every element is nonzero (PyTorch's <c>all</c>; true for an empty tensor;
    /// NaN counts as nonzero).</summary>
    public Tensor All() => LogicalReduce("All", null, false, all: true);

    /// <summary>Whether every element along <paramref name="dim"/> is nonzero (bool).</summary>
    public Tensor All(int dim, bool keepDim = false) => LogicalReduce("All", [dim], keepDim, all: true);

    /// <summary>Whether every element over <paramref name="dims"/> (all dims when null or empty) is nonzero (bool).</summary>
    public Tensor All(int[]? dims, bool keepDim = false) => LogicalReduce("All", dims, keepDim, all: true);

    /// <summary>True (a 0-d bool tensor) when some element is nonzero (PyTorch's <c>any</c>; false for an empty tensor;
    /// NaN counts as nonzero).</summary>
    public Tensor Any() => LogicalReduce("Any", null, false, all: false);

    /// <summary>Whether some element along <paramref name="dim"/> is nonzero (bool).</summary>
    public Tensor Any(int dim, bool keepDim = false) => LogicalReduce("Any", [dim], keepDim, all: false);

    /// <summary>Whether some element over <paramref name="dims"/> (all dims when null or empty) is nonzero (bool).</summary>
    public Tensor Any(int[]? dims, bool keepDim = false) => LogicalReduce("Any", dims, keepDim, all: false);

    /// <summary>The number of nonzero elements over <paramref name="dims"/> (all dims when null or empty), int64, as
    /// PyTorch's <c>count_nonzero</c> (NaN counts as nonzero).</summary>
    public Tensor CountNonzero(int[]? dims = null)
    {
        if (DType.IsFloatingPoint() && IsContiguous && (dims is null || dims.Length == 0 || ReduceDims("CountNonzero", dims).Length == Rank))
        {
            // all elements of a dense float tensor: one vectorized pass, no mask
            long zeros = DType == DType.Float32 ? Reduce.CountZeros<float>(Storage.As<float>().AsSpan(Offset, Numel)) : Reduce.CountZeros<double>(Storage.As<double>().AsSpan(Offset, Numel));
            return Wrap(new[] { Numel - zeros }, []);
        }
        var m = NonzeroMask();
        var d = m.ReduceDims("CountNonzero", dims);
        var (_, outShape) = m.ReduceShapes(d, false);
        var src = m.ReduceLayout<bool>(d, out int rows, out int inner);
        var dst = new long[rows];
        for (int r = 0; r < rows; r++)
        {
            long c = 0;
            foreach (var b in src.Slice(r * inner, inner)) if (b) c++;
            dst[r] = c;
        }
        return Wrap(dst, outShape);
    }

    /// <summary>The number of nonzero elements along <paramref name="dim"/> (int64).</summary>
    public Tensor CountNonzero(int dim) => CountNonzero([dim]);

    // ---- nansum / nanmean -------------------------------------------------------------------------

    internal static readonly OpDef NanSumOp = new("NanSum", OpFamily.ReduceScanSort, "nansum")
    {
        CompositeOf = ["Where", "Sum"],
        Doc = "Sum treating NaN as zero; NaN elements get a zero gradient.",
        Samples = () => [
            new("all", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 4)], t => t[0].NanSum()),
            new("dim keepDim", [OpSamples.Make(OpSamples.Domain.Real, 2, 3, 4)], t => t[0].NanSum([1], keepDim: true)),
            new("with NaN", [Tensor.FromArray([0.5, double.NaN, -1.5, 2.0, 0.25, double.NaN], 2, 3)], t => t[0].NanSum([0])),
            new("empty", [OpSamples.Make(OpSamples.Domain.Real, 3, 0, 3)], t => t[0].NanSum([0])),
        ],
    };

    internal static readonly OpDef NanMeanOp = new("NanMean", OpFamily.ReduceScanSort, "nanmean")
    {
        CompositeOf = ["Where", "Sum", "Div"],
        Doc = "Mean of the non-NaN elements.",
        Samples = () => [
            new("all", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 4)], t => t[0].NanMean()),
            new("dim", [OpSamples.Make(OpSamples.Domain.Real, 2, 3, 4)], t => t[0].NanMean([-1])),
            new("with NaN", [Tensor.FromArray([0.5, double.NaN, -1.5, 2.0, 0.25, double.NaN], 2, 3)], t => t[0].NanMean([1], keepDim: true)),
        ],
    };

    /// <summary>Sum over <paramref name="dims"/> (all dims when null) treating NaN as zero (PyTorch's <c>nansum</c>); NaN
    /// elements get a zero gradient.</summary>
    public Tensor NanSum(int[]? dims = null, bool keepDim = false)
    {
        CheckFloat("NanSum");
        if (!Op.Tracking(this))
        {
            // no gradient to record: one pass that skips NaN, instead of a mask, a select and a sum
            var d = ReduceDims("NanSum", dims);
            var y = Empty(ReduceShapes(d, keepDim).OutShape, DType);
            if (StagedReduce(d, y, Reduce.ReduceKind.NanSum)) return y;
        }
        return Where(Ne(this), 0.0, this).Sum(dims, keepDim);
    }

    /// <summary>Mean of the non-NaN elements over <paramref name="dims"/> (all dims when null), as PyTorch's <c>nanmean</c>:
    /// NaN where every element is NaN.</summary>
    public Tensor NanMean(int[]? dims = null, bool keepDim = false)
    {
        CheckFloat("NanMean");
        Tensor count;
        using (Autograd.NoGrad()) count = Where(Ne(this), 0.0, 1.0, DType).Sum(dims, keepDim);
        return NanSum(dims, keepDim) / count;
    }

    // ---- std_mean / var_mean / aminmax ------------------------------------------------------------

    internal static readonly OpDef StdMeanOp = new("StdMean", OpFamily.ReduceScanSort, "std_mean")
    {
        CompositeOf = ["Std", "Mean"],
        Samples = () => [
            new("all", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 4)], t => { var (s, m) = t[0].StdMean(); return s + 2.0 * m; }),
            new("dim keepDim", [OpSamples.Make(OpSamples.Domain.Real, 2, 3, 4)], t => { var (s, m) = t[0].StdMean([1], correction: 0, keepDim: true); return s * m; }),
        ],
    };

    internal static readonly OpDef VarMeanOp = new("VarMean", OpFamily.ReduceScanSort, "var_mean")
    {
        CompositeOf = ["Var", "Mean"],
        Samples = () => [
            new("all", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 4)], t => { var (v, m) = t[0].VarMean(); return v + 2.0 * m; }),
            new("dim keepDim", [OpSamples.Make(OpSamples.Domain.Real, 2, 3, 4)], t => { var (v, m) = t[0].VarMean([1], correction: 0, keepDim: true); return v * m; }),
        ],
    };

    internal static readonly OpDef AminmaxOp = new("Aminmax", OpFamily.ReduceScanSort, "aminmax")
    {
        CompositeOf = ["Min", "Max"],
        Doc = "Minimum and maximum at once (differentiable, unlike PyTorch's: each as Amin/Amax).",
        Samples = () => [
            new("all", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 4)], t => { var (lo, hi) = t[0].Aminmax(); return lo + 2.0 * hi; }),
            new("dim", [OpSamples.Make(OpSamples.Domain.Real, 2, 3, 4)], t => { var (lo, hi) = t[0].Aminmax(1, keepDim: true); return lo * hi; }),
        ],
    };

    /// <summary>The standard deviation and the mean over <paramref name="dims"/> (all dims when null), as PyTorch's
    /// <c>std_mean</c> (see <see cref="Std(int[], int, bool)"/>).</summary>
    public (Tensor Std, Tensor Mean) StdMean(int[]? dims = null, int correction = 1, bool keepDim = false) =>
        (Std(dims, correction, keepDim), Mean(dims, keepDim));

    /// <summary>The variance and the mean over <paramref name="dims"/> (all dims when null), as PyTorch's
    /// <c>var_mean</c> (see <see cref="Var(int[], int, bool)"/>).</summary>
    public (Tensor Var, Tensor Mean) VarMean(int[]? dims = null, int correction = 1, bool keepDim = false) =>
        (Var(dims, correction, keepDim), Mean(dims, keepDim));

    /// <summary>The minimum and the maximum over all elements (<paramref name="dim"/> null) or along
    /// <paramref name="dim"/>, as PyTorch's <c>aminmax</c>; NaN propagates, an empty reduction raises. Differentiable
    /// (each as <see cref="Amin(int[], bool)"/>/<see cref="Amax(int[], bool)"/>), where PyTorch's is not.</summary>
    public (Tensor Min, Tensor Max) Aminmax(int? dim = null, bool keepDim = false)
    {
        int[]? dims = dim is { } d ? [d] : null;
        return (Amin(dims, keepDim), Amax(dims, keepDim));
    }
}

// Counting and distinct values (not differentiable): bincount, histc, unique, unique_consecutive.
public partial class Tensor
{
    internal static readonly OpDef BincountOp = new("Bincount", OpFamily.ReduceScanSort, "bincount") { Differentiable = false, DTypes = DTypeSet.Int64 };
    internal static readonly OpDef HistcOp = new("Histc", OpFamily.ReduceScanSort, "histc") { Differentiable = false, DTypes = DTypeSet.Floats };
    internal static readonly OpDef UniqueOp = new("Unique", OpFamily.ReduceScanSort, "unique") { Differentiable = false, DTypes = DTypeSet.Floats | DTypeSet.Int64 | DTypeSet.Bool };
    internal static readonly OpDef UniqueConsecutiveOp = new("UniqueConsecutive", OpFamily.ReduceScanSort, "unique_consecutive") { Differentiable = false, DTypes = DTypeSet.Floats | DTypeSet.Int64 | DTypeSet.Bool };

    /// <summary>
    /// Counts of each value of a 1-d non-negative int64 tensor (PyTorch's <c>bincount</c>): out[v] = how often v occurs,
    /// or the sum of the <paramref name="weights"/> (1-d float, same length; the result takes their dtype) at its
    /// occurrences. The result has max(max + 1, <paramref name="minLength"/>) entries.
    /// </summary>
    public Tensor Bincount(Tensor? weights = null, int minLength = 0)
    {
        const string op = "Bincount";
        if (DType != DType.Int64)
            throw new DTypeMismatchException($"{op}: expected a 1-d int64 tensor of non-negative values but got dtype {DType.Name()} (shape {ShapeUtil.Format(_shape)}). Convert it with To(DType.Int64).");
        if (Rank != 1)
            throw new ShapeMismatchException($"{op}: expected a 1-d tensor but got shape {ShapeUtil.Format(_shape)}. Flatten it first.");
        if (minLength < 0) throw new ArgumentOutOfRangeException(nameof(minLength), $"{op}: minLength must be non-negative, got {minLength}.");
        if (weights is not null)
        {
            weights.CheckFloat(op);
            if (!ShapeUtil.SameShape(weights.Shape, _shape))
                throw new ShapeMismatchException($"{op}: the weights (shape {ShapeUtil.Format(weights.Shape)}) must have the input's shape {ShapeUtil.Format(_shape)}.");
        }
        var v = DenseSpan<long>();
        long max = -1;
        foreach (var e in v)
        {
            if (e < 0) throw new ArgumentException($"{op}: the input must be non-negative, found {e}.");
            max = Math.Max(max, e);
        }
        int n = (int)Math.Max(max + 1, minLength);
        if (weights is null)
        {
            var c = new long[n];
            foreach (var e in v) c[e]++;
            return Wrap(c, [n]);
        }
        var w = weights.ToDoubleArray();
        var s = new double[n];
        for (int i = 0; i < v.Length; i++) s[v[i]] += w[i];
        return FromDoubles(s, [n], weights.DType);
    }

    /// <summary>
    /// A histogram of the elements with <paramref name="bins"/> equal-width bins over [<paramref name="min"/>,
    /// <paramref name="max"/>] (PyTorch's <c>histc</c>), in this tensor's dtype. When min = max the data's own range
    /// is used (widened by 1 on each side if that is a single value too). Elements outside the range are not
    /// counted, nor are NaNs (PyTorch 1.13 puts them in the first bin); the last bin includes max.
    /// </summary>
    public Tensor Histc(int bins = 100, double min = 0, double max = 0)
    {
        const string op = "Histc";
        CheckFloat(op);
        if (bins <= 0) throw new ArgumentOutOfRangeException(nameof(bins), $"{op}: bins must be positive, got {bins}.");
        if (min > max) throw new ArgumentException($"{op}: min ({min}) must not exceed max ({max}).");
        var x = ToDoubleArray();
        bool f32 = DType == DType.Float32;
        double lo = min, hi = max;
        if (lo == hi && x.Length > 0)
        {
            lo = double.PositiveInfinity;
            hi = double.NegativeInfinity;
            foreach (var e in x)
            {
                if (double.IsNaN(e)) { lo = hi = double.NaN; break; }
                lo = Math.Min(lo, e);
                hi = Math.Max(hi, e);
            }
        }
        if (lo == hi)
        {
            lo -= 1;
            hi += 1;
        }
        if (!double.IsFinite(lo) || !double.IsFinite(hi))
            throw new ArgumentException($"{op}: the range [{lo}, {hi}] is not finite; give finite min and max (the data holds NaN or infinity).");
        // bin edges as PyTorch's linspace makes them (from both ends), then the bin by interpolation and a local fix-up
        var edges = new double[bins + 1];
        double step = (hi - lo) / bins;
        for (int i = 0; i <= bins; i++)
        {
            double e = i < (bins + 1) / 2 ? lo + step * i : hi - step * (bins - i);
            edges[i] = f32 ? (float)e : e;
        }
        var counts = new double[bins];
        foreach (var e in x)
        {
            if (!(e >= lo && e <= hi)) continue;
            int pos = (int)((e - lo) / (hi - lo) * bins);
            pos = Math.Clamp(pos, 0, bins - 1);
            if (edges[pos] > e) pos--;
            else if (pos + 1 < bins && edges[pos + 1] <= e) pos++;
            counts[Math.Clamp(pos, 0, bins - 1)]++;
        }
        return FromDoubles(counts, [bins], DType);
    }

    /// <summary>Row r of this tensor laid out as [n, rest] with <paramref name="d"/> first, as doubles (for comparing slices).</summary>
    private double[][] SlicesAlong(int d)
    {
        var moved = Transpose(0, d).Contiguous();
        int n = _shape[d];
        int rest = n == 0 ? 0 : Numel / n;
        var all = moved.Detach().ToDoubleArray();
        var r = new double[n][];
        for (int i = 0; i < n; i++) r[i] = all.AsSpan(i * rest, rest).ToArray();
        return r;
    }

    /// <summary>Ascending order with NaN largest (NaNs equal among themselves), elementwise then by length.</summary>
    private static int CompareSlices(double[] a, double[] b)
    {
        for (int i = 0; i < a.Length; i++)
        {
            double p = a[i], q = b[i];
            bool np = double.IsNaN(p), nq = double.IsNaN(q);
            int c = np || nq ? (np == nq ? 0 : np ? 1 : -1) : p.CompareTo(q);
            if (c != 0) return c;
        }
        return 0;
    }

    /// <summary>The distinct slices in the order given by <paramref name="order"/> with the group of each element.</summary>
    private (Tensor Values, Tensor Inverse, Tensor Counts) GroupSlices(int? dim, int[] order, Func<double[], double[], bool> same)
    {
        int d = dim is { } dd ? ShapeUtil.WrapDim("Unique", dd, Rank) : 0;
        var src = dim is null ? Reshape(Numel) : this;
        var slices = src.Rank == 0 ? [[src.Item()]] : src.SlicesAlong(d);
        var firsts = new List<int>();
        var counts = new List<long>();
        var inverse = new long[slices.Length];
        for (int k = 0; k < order.Length; k++)
        {
            int i = order[k];
            if (k == 0 || !same(slices[order[k - 1]], slices[i]))
            {
                firsts.Add(i);
                counts.Add(0);
            }
            counts[^1]++;
            inverse[i] = firsts.Count - 1;
        }
        var idx = FromArray(firsts.Select(i => (long)i).ToArray(), firsts.Count);
        Tensor values;
        using (Autograd.NoGrad()) values = src.Detach().IndexSelect(dim is null ? 0 : d, idx);
        var invShape = dim is null ? ShapeArray : [_shape[d]];
        return (values, Wrap(inverse, invShape), Wrap(counts.ToArray(), [counts.Count]));
    }

    /// <summary>
    /// The distinct elements (<paramref name="dim"/> null: of the flattened tensor) or distinct slices along
    /// <paramref name="dim"/>, sorted ascending (PyTorch's <c>unique</c>, which sorts on CPU whatever <c>sorted</c> says),
    /// with, for each input element (slice), the position of its value in the result (inverse) and how often each
    /// distinct value occurs (counts). Each NaN is its own value, after every number (PyTorch 1.x's CPU result for
    /// NaN is not a usable reference). Not differentiable.
    /// </summary>
    public (Tensor Values, Tensor Inverse, Tensor Counts) Unique(bool sorted = true, int? dim = null)
    {
        _ = sorted;
        if (dim is not null && Rank == 0)
            throw new ShapeMismatchException("Unique: a 0-d tensor has no dim to take unique slices along; pass dim: null.");
        int d = dim is { } dd ? ShapeUtil.WrapDim("Unique", dd, Rank) : 0;
        var src = dim is null ? Reshape(Numel) : this;
        var slices = src.Rank == 0 ? [[src.Item()]] : src.SlicesAlong(d);
        var order = Enumerable.Range(0, slices.Length).ToArray();
        Array.Sort(order, (i, j) => { int c = CompareSlices(slices[i], slices[j]); return c != 0 ? c : i.CompareTo(j); });
        return GroupSlices(dim, order, (a, b) => a.AsSpan().SequenceEqual(b) && !a.Any(double.IsNaN));
    }

    /// <summary>
    /// Collapses each run of equal consecutive elements (<paramref name="dim"/> null: of the flattened tensor) or
    /// slices along <paramref name="dim"/> to one (PyTorch's <c>unique_consecutive</c>), with, for each input element
    /// (slice), the position of its run in the result (inverse) and the length of each run (counts). NaNs never
    /// equal each other. Not differentiable.
    /// </summary>
    public (Tensor Values, Tensor Inverse, Tensor Counts) UniqueConsecutive(int? dim = null)
    {
        if (dim is not null && Rank == 0)
            throw new ShapeMismatchException("UniqueConsecutive: a 0-d tensor has no dim to take runs along; pass dim: null.");
        int n = dim is { } dd ? _shape[ShapeUtil.WrapDim("UniqueConsecutive", dd, Rank)] : Numel;
        return GroupSlices(dim, Enumerable.Range(0, n).ToArray(), (a, b) => a.AsSpan().SequenceEqual(b) && !a.Any(double.IsNaN));
    }

    internal static readonly OpDef HistogramOp = new("Histogram", OpFamily.ReduceScanSort, "histogram") { Differentiable = false, DTypes = DTypeSet.Floats };

    /// <summary>
    /// A histogram with <paramref name="bins"/> equal-width bins over <paramref name="range"/> (the data's min and max
    /// when null, widened by 0.5 each side if they are equal), as PyTorch's <c>histogram</c>: the (optionally
    /// <paramref name="weight"/>ed) counts and the bin edges. Bins include their left edge, the last one its right edge
    /// too; elements outside the range and NaNs are not counted. With <paramref name="density"/> the result integrates to 1.
    /// </summary>
    public (Tensor Hist, Tensor BinEdges) Histogram(int bins = 100, (double Min, double Max)? range = null, Tensor? weight = null, bool density = false)
    {
        CheckFloat("Histogram");
        if (bins <= 0) throw new ArgumentOutOfRangeException(nameof(bins), $"Histogram: bins must be positive, got {bins}.");
        double lo, hi;
        if (range is { } r) (lo, hi) = r;
        else
        {
            var x = ToDoubleArray().Where(v => !double.IsNaN(v)).ToArray();
            lo = x.Length == 0 ? 0 : x.Min();
            hi = x.Length == 0 ? 0 : x.Max();
        }
        if (lo > hi) throw new ArgumentException($"Histogram: the range's min ({lo}) must not exceed its max ({hi}).");
        if (!double.IsFinite(lo) || !double.IsFinite(hi)) throw new ArgumentException($"Histogram: the range [{lo}, {hi}] is not finite; give a finite range.");
        if (lo == hi)
        {
            lo -= 0.5;
            hi += 0.5;
        }
        bool f32 = DType == DType.Float32;
        var edges = new double[bins + 1];
        double step = (hi - lo) / bins;
        for (int i = 0; i <= bins; i++)
        {
            double e = i < (bins + 1) / 2 ? lo + step * i : hi - step * (bins - i);
            edges[i] = f32 ? (float)e : e;
        }
        return Histogram(FromDoubles(edges, [bins + 1], DType), weight, density);
    }

    /// <summary>A histogram over the given ascending bin <paramref name="binEdges"/> (1-d, at least two), as PyTorch's
    /// <c>histogram(input, bins=tensor)</c> (see <see cref="Histogram(int, ValueTuple{double, double}?, Tensor?, bool)"/>).</summary>
    public (Tensor Hist, Tensor BinEdges) Histogram(Tensor binEdges, Tensor? weight = null, bool density = false)
    {
        CheckFloat("Histogram");
        CheckSameDType("Histogram", this, binEdges);
        if (binEdges.Rank != 1 || binEdges.Numel < 2)
            throw new ShapeMismatchException($"Histogram: the bin edges must be a 1-d tensor of at least 2 values, got shape {ShapeUtil.Format(binEdges.Shape)}.");
        if (weight is not null)
        {
            CheckSameDType("Histogram", this, weight);
            if (!ShapeUtil.SameShape(weight.Shape, _shape))
                throw new ShapeMismatchException($"Histogram: the weight (shape {ShapeUtil.Format(weight.Shape)}) must have the input's shape {ShapeUtil.Format(_shape)}.");
        }
        var e = binEdges.ToDoubleArray();
        int bins = e.Length - 1;
        var x = ToDoubleArray();
        var w = weight?.ToDoubleArray();
        var h = new double[bins];
        for (int i = 0; i < x.Length; i++)
        {
            double v = x[i];
            if (!(v >= e[0] && v <= e[^1])) continue;
            int lo = 0, hi = bins + 1; // upper bound: the first edge above v
            while (lo < hi)
            {
                int mid = (lo + hi) >> 1;
                if (e[mid] <= v) lo = mid + 1;
                else hi = mid;
            }
            int b = Math.Min(lo - 1, bins - 1);
            h[b] += w is null ? 1 : w[i];
        }
        if (density)
        {
            double total = h.Sum();
            for (int b = 0; b < bins; b++) h[b] /= total * (e[b + 1] - e[b]);
        }
        return (FromDoubles(h, [bins], DType), binEdges);
    }
}

// Vector p-norms (norm, dist, renorm), with PyTorch's subgradients: 0 where the norm is 0, an even split among
// the maximal (minimal) entries for p = ±inf, sign(x) for p = 1, nothing for p = 0.
public partial class Tensor
{

    // ∂‖x‖_p/∂x as PyTorch's norm_backward takes it, with y the norm (dims kept), written with tensor ops
    private static Tensor NormDerivative(Tensor x, Tensor y, double p, int[] d)
    {
        if (p == 0) return ZerosLike(x);
        if (p == 1) return x.Sign();
        var zero = y.Eq(0.0);
        var safeY = Where(zero, 1.0, y);
        if (double.IsInfinity(p))
        {
            var m = Where(x.Abs().Eq(y), 1.0, 0.0, x.DType);
            return x.Sign() * m / m.Sum(d, keepDim: true);
        }
        if (p == 2) return Where(zero, 0.0, x / safeY);
        if (p < 1)
        {
            var ax = x.Abs();
            var nz = x.Ne(0.0);
            return Where(nz, x.Sign() * Where(nz, ax, 1.0).Pow(p - 1), 0.0) * y.Pow(1 - p);
        }
        var scaled = p < 2 ? x.Sign() * x.Abs().Pow(p - 1) : x * x.Abs().Pow(p - 2);
        return Where(zero, 0.0, scaled / safeY.Pow(p - 1));
    }

    internal static readonly OpDef DistOp = new("Dist", OpFamily.ReduceScanSort, "dist")
    {
        CompositeOf = ["Sub", "VectorNorm"],
        Samples = () => [
            new("p = 2 broadcast", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 4), OpSamples.Make(OpSamples.Domain.Real, 2, 4)], t => Dist(t[0], t[1])),
            new("p = 1", [OpSamples.Make(OpSamples.Domain.Real, 3, 5), OpSamples.Make(OpSamples.Domain.Real, 4, 5) + 3.0], t => Dist(t[0], t[1], 1)),
        ],
    };

    /// <summary>The p-norm of a − b (broadcast), as PyTorch's <c>dist</c> (see <see cref="Norm(double, int[], bool)"/>).</summary>
    public static Tensor Dist(Tensor a, Tensor b, double p = 2) => (a - b).Norm(p);

    internal static readonly OpDef RenormOp = new("Renorm", OpFamily.ReduceScanSort, "renorm")
    {
        CompositeOf = ["VectorNorm", "Abs", "Where", "Div", "Mul", "Add"],
        Samples = () => [
            new("dim 0", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 4)], t => t[0].Renorm(2, 0, 1.5)),
            new("dim 1 p = 1", [OpSamples.Make(OpSamples.Domain.Real, 2, 3, 4)], t => t[0].Renorm(1, 1, 1.0)),
        ],
    };

    /// <summary>
    /// Each slice along <paramref name="dim"/> whose p-norm exceeds <paramref name="maxNorm"/> scaled down to that norm
    /// (PyTorch's <c>renorm</c>: the factor is maxNorm / (norm + 1e-7)); other slices are unchanged.
    /// </summary>
    public Tensor Renorm(double p, int dim, double maxNorm)
    {
        CheckFloat("Renorm");
        if (p <= 0) throw new ArgumentOutOfRangeException(nameof(p), $"Renorm: p must be positive, got {p}.");
        if (maxNorm < 0) throw new ArgumentOutOfRangeException(nameof(maxNorm), $"Renorm: maxNorm must be non-negative, got {maxNorm}.");
        if (Rank == 0) throw new ShapeMismatchException("Renorm: expects a tensor of at least 1 dim, got a 0-d tensor.");
        int d = ShapeUtil.WrapDim("Renorm", dim, Rank);
        var others = Enumerable.Range(0, Rank).Where(i => i != d).ToArray();
        var norm = others.Length == 0 ? Abs() : Norm(p, others, keepDim: true);
        var factor = Where(norm.Gt(maxNorm), maxNorm / (norm + 1e-7), 1.0);
        return this * factor;
    }
}
