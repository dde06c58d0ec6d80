namespace Fluxion;

// Creation and sampling ops beyond Creation.cs. As in PyTorch they take no gradient (logspace, the *_like
// samplers, multinomial), except bernoulli, whose gradient with respect to the probabilities is zero, and normal(mean, std),
// differentiable by reparameterization.
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

    /// <summary>The standard normal draws ε of one <see cref="Normal(Tensor, Tensor, Generator?)"/> call (out = mean + std·ε).</summary>
    private sealed record NormalDraw(Tensor Eps);

    /// <summary>
    /// Reparameterized normal samples (as <c>torch.distributions.Normal(mean, std).rsample()</c>): out = mean + std·ε with
    /// ε drawn once, so ∂out/∂mean = 1 and ∂out/∂std = ε = (out − mean)/std. The rules read the draw ε (the call's attribute),
    /// not the inputs, so std = 0 gives no 0/0. (PyTorch 1.13's <c>torch.normal</c> returns zero gradients instead.)
    /// </summary>
    internal static readonly OpDef NormalOp = new("Normal", OpFamily.ShapeIndexCreateOther, "normal")
    {
        Vjp = (in OpCtx c, Tensor g, int i) => (i == 0 ? g : g * c.A<NormalDraw>().Eps).SumTo(c.Shape(i)),
        Jvp = (in OpCtx c, Tensor?[] t) =>
        {
            var eps = c.A<NormalDraw>().Eps;
            var s = AddTangents(AlignTangent(t[0], c.X(0), eps.Rank), AlignTangent(t[1], c.X(1), eps.Rank) is { } ts ? ts * eps : null);
            return s is null ? null : BroadcastTangent(s, c.Y);
        },
        BatchedJvp = true,
        Saves = 0,
        Doc = "normal samples mean + std·ε, reparameterized (gradients 1 and ε; PyTorch 1.13's torch.normal gives 0)",
        // a fixed generator makes the draw a smooth function of (mean, std)
        Samples = () =>
        [
            new("same shape", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 4), OpSamples.Make(OpSamples.Domain.Positive, 2, 3, 4)],
                t => Normal(t[0], t[1], new Generator(7))),
            new("broadcast", [OpSamples.Make(OpSamples.Domain.Real, 3, 2, 3), OpSamples.Make(OpSamples.Domain.Positive, 4, 3)],
                t => Normal(t[0], t[1], new Generator(8))),
            new("0-d std", [OpSamples.Make(OpSamples.Domain.Real, 5, 4), OpSamples.Make(OpSamples.Domain.Positive, 6)],
                t => Normal(t[0], t[1], new Generator(9))),
            new("empty", [OpSamples.Make(OpSamples.Domain.Real, 7, 0, 3), OpSamples.Make(OpSamples.Domain.Positive, 8, 3)],
                t => Normal(t[0], t[1], new Generator(10))),
        ],
    };

    /// <summary>
    /// Normal samples with elementwise means <paramref name="mean"/> and standard deviations <paramref name="std"/> (broadcast
    /// together; PyTorch's <c>torch.normal(mean, std)</c>). Differentiable by reparameterization, as
    /// <c>torch.distributions.Normal(mean, std).rsample()</c>: out = mean + std·ε, so the gradient with respect to the mean is 1
    /// and with respect to std is ε = (out − mean)/std. (PyTorch 1.13's <c>torch.normal</c> itself returns zero gradients.)
    /// </summary>
    /// <exception cref="ArgumentException">Some standard deviation is negative or NaN.</exception>
    public static Tensor Normal(Tensor mean, Tensor std, Generator? generator = null)
    {
        const string op = "Normal";
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(std);
        PromoteFloat(op, ref mean, ref std);
        var shape = ShapeUtil.Broadcast(op, mean._shape, std._shape);
        var s = std.ToDoubleArray();
        for (int i = 0; i < s.Length; i++)
            if (!(s[i] >= 0))
                throw new ArgumentException($"{op}: every standard deviation must be non-negative, got {s[i]} at flat position {i} of std (shape {ShapeUtil.Format(std._shape)}).", nameof(std));
        var eps = Randn(shape, mean.DType, generator);
        // raw kernels: the value is computed once, the call recorded once (no Mul/Add nodes or trace entries)
        var scaled = BinaryRaw(op, std, eps, Kernels.Elementwise.Ops<float>.Mul, Kernels.Elementwise.Ops<double>.Mul);
        var y = BinaryRaw(op, mean, scaled, Kernels.Elementwise.Ops<float>.Add, Kernels.Elementwise.Ops<double>.Add);
        return Op.Tracking(mean, std) ? Op.Record(NormalOp, y, [mean, std], new NormalDraw(eps)) : y;
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
