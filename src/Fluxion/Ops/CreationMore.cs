namespace Fluxion;

// Creation and sampling ops beyond Creation.cs. As in PyTorch they take no gradient (logspace, the *_like
// samplers, multinomial), except bernoulli, whose gradient with respect to the probabilities is zero.
public partial class Tensor
{
    internal static readonly OpDef LogspaceOp = new("Logspace", OpFamily.ShapeIndexCreateOther, "logspace") { Differentiable = false, DTypes = DTypeSet.All };
    internal static readonly OpDef RandLikeOp = new("RandLike", OpFamily.ShapeIndexCreateOther, "rand_like") { Differentiable = false, DTypes = DTypeSet.Floats };
    internal static readonly OpDef RandnLikeOp = new("RandnLike", OpFamily.ShapeIndexCreateOther, "randn_like") { Differentiable = false, DTypes = DTypeSet.Floats };
    internal static readonly OpDef RandIntLikeOp = new("RandIntLike", OpFamily.ShapeIndexCreateOther, "randint_like") { Differentiable = false, DTypes = DTypeSet.Floats | DTypeSet.Int64 };
    internal static readonly OpDef MultinomialOp = new("Multinomial", OpFamily.ShapeIndexCreateOther, "multinomial") { Differentiable = false, DTypes = DTypeSet.Floats };

    /// <summary><paramref name="steps"/> values <paramref name="base"/>^v for v evenly spaced from <paramref name="start"/> to <paramref name="end"/> inclusive (PyTorch's <c>logspace</c>).</summary>
    public static Tensor Logspace(double start, double end, int steps, double @base = 10, DType dtype = DType.Float32)
    {
        var v = Linspace(start, end, steps, DType.Float64).ToDoubleArray();
        return FromDoubles(Array.ConvertAll(v, e => Math.Pow(@base, e)), [steps], dtype);
    }

    /// <summary>Uniform samples in [0, 1) with the shape and dtype of <paramref name="t"/> (PyTorch's <c>rand_like</c>).</summary>
    public static Tensor RandLike(Tensor t, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(t);
        t.CheckFloat("RandLike");
        return Rand(t.ShapeArray, t.DType, generator);
    }

    /// <summary>Standard normal samples with the shape and dtype of <paramref name="t"/> (PyTorch's <c>randn_like</c>).</summary>
    public static Tensor RandnLike(Tensor t, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(t);
        t.CheckFloat("RandnLike");
        return Randn(t.ShapeArray, t.DType, generator);
    }

    /// <summary>Uniform integers in [<paramref name="low"/>, <paramref name="high"/>) with the shape and dtype of <paramref name="t"/> (PyTorch's <c>randint_like</c>).</summary>
    public static Tensor RandIntLike(Tensor t, long low, long high, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(t);
        if (high <= low) throw new ArgumentException($"RandIntLike: high ({high}) must be greater than low ({low}).", nameof(high));
        if (t.DType == DType.Bool) throw new DTypeMismatchException("RandIntLike: a bool tensor cannot hold random integers; pass a float or int64 tensor.");
        return RandInt(low, high, t.ShapeArray, t.DType, generator);
    }

    /// <summary>The probabilities' gradient of a Bernoulli draw is zero (as in PyTorch).</summary>
    internal static readonly OpDef BernoulliOp = new("Bernoulli", OpFamily.ShapeIndexCreateOther, "bernoulli")
    {
        Vjp = (in OpCtx c, Tensor g, int i) => Zeros(c.Shape(i), g.DType),
        Jvp = (in OpCtx c, Tensor?[] t) => null,
        BatchedJvp = true,
        // a fixed generator makes the draw a step function of p; the samples keep p away from the drawn uniforms
        Samples = () =>
        [
            new("probabilities", [OpSamples.Make(OpSamples.Domain.UnitInterval, 1, 3, 4)], t => t[0].Bernoulli(new Generator(7)) * t[0]),
        ],
    };

    /// <summary>Draws 1 with probability p (each entry of this tensor, in [0, 1]) and 0 otherwise, in this tensor's dtype
    /// (PyTorch's <c>bernoulli</c>; the gradient with respect to p is zero).</summary>
    public Tensor Bernoulli(Generator? generator = null)
    {
        CheckFloat("Bernoulli");
        var p = ToDoubleArray();
        var g = generator ?? Generator.Default;
        var v = new double[p.Length];
        for (int i = 0; i < p.Length; i++)
        {
            if (!(p[i] >= 0 && p[i] <= 1))
                throw new ArgumentException($"Bernoulli: probabilities must lie in [0, 1], got {p[i]} at flat position {i} (shape {ShapeUtil.Format(_shape)}).");
            v[i] = g.NextDouble() < p[i] ? 1 : 0;
        }
        return Op.Record(BernoulliOp, FromDoubles(v, ShapeArray, DType), [this]);
    }

    /// <summary>
    /// Draws <paramref name="numSamples"/> category indices (int64) from the non-negative weights of each row (a vector
    /// or a matrix of rows), with or without <paramref name="replacement"/> (PyTorch's <c>multinomial</c>). Not differentiable.
    /// </summary>
    public Tensor Multinomial(int numSamples, bool replacement = false, Generator? generator = null)
    {
        const string op = "Multinomial";
        CheckFloat(op);
        if (Rank is < 1 or > 2) throw new ShapeMismatchException($"{op}: the weights must be a vector or a matrix of rows but have shape {ShapeUtil.Format(_shape)}.");
        if (numSamples <= 0) throw new ArgumentOutOfRangeException(nameof(numSamples), $"{op}: numSamples must be positive, got {numSamples}.");
        int rows = Rank == 1 ? 1 : _shape[0], n = _shape[^1];
        if (!replacement && numSamples > n)
            throw new ArgumentException($"{op}: cannot draw {numSamples} samples without replacement from {n} categories.", nameof(numSamples));
        var w = ToDoubleArray();
        var g = generator ?? Generator.Default;
        var r = new long[rows * numSamples];
        var row = new double[n];
        for (int i = 0; i < rows; i++)
        {
            double total = 0;
            int positive = 0;
            for (int j = 0; j < n; j++)
            {
                double x = w[i * n + j];
                if (!(x >= 0) || double.IsInfinity(x)) throw new ArgumentException($"{op}: weights must be finite and non-negative, got {x} (row {i}, category {j}).");
                row[j] = x;
                total += x;
                if (x > 0) positive++;
            }
            if (total <= 0) throw new ArgumentException($"{op}: the weights of row {i} sum to zero; at least one must be positive.");
            if (!replacement && positive < numSamples)
                throw new ArgumentException($"{op}: row {i} has {positive} categories of positive weight, fewer than the {numSamples} samples to draw without replacement.");
            for (int k = 0; k < numSamples; k++)
            {
                double u = g.NextDouble() * total, acc = 0;
                int pick = -1;
                for (int j = 0; j < n; j++)
                {
                    if (row[j] <= 0) continue;
                    acc += row[j];
                    pick = j;
                    if (u < acc) break;
                }
                r[i * numSamples + k] = pick;
                if (!replacement)
                {
                    total -= row[pick];
                    row[pick] = 0;
                }
            }
        }
        return Wrap(r, Rank == 1 ? [numSamples] : [rows, numSamples]);
    }
}
