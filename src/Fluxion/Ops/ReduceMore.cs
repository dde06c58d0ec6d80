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
