using Fluxion.Kernels;

namespace Fluxion;

// The activation functions of torch.nn.functional. The piecewise ones (hardswish, hardsigmoid, hardtanh/relu6, softshrink,
// hardshrink, threshold) are entries of their own: one SIMD pass forward, one fused pass backward (FusedDef), values,
// NaN handling and subgradients at the kinks as PyTorch 1.13's scalar CPU kernels (hardtanh/relu6/hardsigmoid/
// softshrink/hardshrink/threshold: 0 on the boundary; hardswish: x/3 + 1/2 on [-3, 3]; a NaN input passes the gradient
// of hardtanh, relu6, softshrink, hardshrink, threshold and hardswish, and zeroes hardsigmoid's). PyTorch's vectorized
// loop (tensors of 16+ elements) differs at NaN and at hardswish's x = 3; the repository's edge goldens are the scalar
// ones. The smooth ones (elu/selu/celu, silu, mish, softsign, tanhshrink, logsigmoid) are UnaryDef entries: one SIMD
// pass each way (float32 in float lanes: Kernels.VecMath32). The rest are composites of registered ops. Samples avoid the kinks.
// (the class is marked [OpTable] on its declaration in Elementwise.cs)
public partial class Tensor
{
    /// <summary>SELU's α (PyTorch's constant).</summary>
    public const double SeluAlpha = 1.6732632423543772848170429916717;

    /// <summary>SELU's scale (PyTorch's constant).</summary>
    public const double SeluScale = 1.0507009873554804934193349852946;

    private static OpDef Act(string name, string torch, string[] of, Func<Tensor, Tensor> f, OpSamples.Domain domain = OpSamples.Domain.Real) =>
        new(name, OpFamily.NN, torch) { CompositeOf = of, Samples = () => OpSamples.Unary(f, domain) };

    // the smooth activations: one SIMD pass forward (Kernels.VecMath32 float lanes, Kernels.VecMath for float64) and one
    // fused pass in first-order backward (UnaryDef: the derivative rule below on raw lanes); the same rule in tensor ops
    // (differentiable again) for create-graph, forward mode and higher order. Float64 register formulas only where the
    // kernel is plain arithmetic or libm per lane: the runtime's Vector256.Exp/Log on doubles are not bit-stable between an
    // inlined loop and a separately jitted call (CompileTests' bit-for-bit check caught silu)
    internal static readonly UnaryDef<EluD> EluOp = new("Elu", Uses.Input, null, null, "nn.functional.elu")
    {
        Family = OpFamily.NN,
        Batch = BatchRules.Unary((x, a) => x.EluFamily(EluOp!, (EluD)a!)),
        Samples = () => [.. OpSamples.Unary(x => x.Elu()), .. OpSamples.Unary(x => x.Elu(0.7))],
    };
    internal static readonly UnaryDef<EluD> SeluOp = new("Selu", Uses.Input, null, null, "nn.functional.selu")
    {
        Family = OpFamily.NN,
        Batch = BatchRules.Unary((x, a) => x.EluFamily(SeluOp!, (EluD)a!)),
        Samples = () => OpSamples.Unary(x => x.Selu()),
    };
    internal static readonly UnaryDef<EluD> CeluOp = new("Celu", Uses.Input, null, null, "nn.functional.celu")
    {
        Family = OpFamily.NN,
        Batch = BatchRules.Unary((x, a) => x.EluFamily(CeluOp!, (EluD)a!)),
        Samples = () => [.. OpSamples.Unary(x => x.Celu()), .. OpSamples.Unary(x => x.Celu(1.7))],
    };
    internal static readonly UnaryDef<SiluD> SiluOp = new("Silu", Uses.Input, VecMath32.Map<VecMath32.SiluF>, VecMath.Map<VecMath.SiluF>, "nn.functional.silu")
    { Family = OpFamily.NN, Register32 = VecMath32.Silu, Samples = () => OpSamples.Unary(x => x.Silu()) };
    internal static readonly UnaryDef<MishD> MishOp = new("Mish", Uses.Input, VecMath32.Map<VecMath32.MishF>, VecMath.Map<VecMath.MishF>, "nn.functional.mish")
    { Family = OpFamily.NN, Register32 = VecMath32.Mish, Samples = () => OpSamples.Unary(x => x.Mish()) };
    // the piecewise activations: one SIMD pass forward (Kernels.Pointwise), one fused pass in first-order backward, and a
    // tensor-op VJP (Where on the input's regions) for create-graph and higher order
    internal static readonly FusedDef HardswishOp = PointwiseDef("Hardswish", OpFamily.NN, "nn.functional.hardswish",
        (g, x, _) => Where(x.Lt(-3.0), 0.0, Where(x.Le(3.0), g * (x / 3.0 + 0.5), g)),
        (g, x, _) => PointwiseGradRaw(g, x, default(HardswishGradK<float>), default(HardswishGradK<double>)),
        (x, _) => x.Hardswish(), () => OpSamples.Unary(x => (x * 3).Hardswish()));
    internal static readonly FusedDef HardsigmoidOp = PointwiseDef("Hardsigmoid", OpFamily.NN, "nn.functional.hardsigmoid",
        (g, x, _) => Where(x.Gt(-3.0) & x.Lt(3.0), g * (1.0 / 6), 0.0),
        (g, x, _) => PointwiseGradRaw(g, x, new BetweenGradK<float>(-3f, 3f, false, 1f / 6), new BetweenGradK<double>(-3, 3, false, 1.0 / 6)),
        (x, _) => x.Hardsigmoid(), () => OpSamples.Unary(x => (x * 3).Hardsigmoid()));
    internal static readonly FusedDef HardtanhOp = PointwiseDef("Hardtanh", OpFamily.NN, "nn.functional.hardtanh",
        (g, x, a) => { var (lo, hi) = ((double, double))a!; return Where(x.Le(lo) | x.Ge(hi), 0.0, g); },
        (g, x, a) =>
        {
            var (lo, hi) = ((double, double))a!;
            return PointwiseGradRaw(g, x, new ZeroedGradK<float>((float)lo, (float)hi, false), new ZeroedGradK<double>(lo, hi, false));
        },
        (x, a) => { var (lo, hi) = ((double, double))a!; return x.Hardtanh(lo, hi); },
        () => [.. OpSamples.Unary(x => x.Hardtanh()), .. OpSamples.Unary(x => (x * 2).Hardtanh(-0.5, 1.5))]);
    internal static readonly OpDef Relu6Op = Act("Relu6", "nn.functional.relu6", ["Hardtanh"], x => (x * 4).Relu6());
    internal static readonly UnaryDef<SoftsignD> SoftsignOp = new("Softsign", Uses.Input, VecMath32.Map<VecMath32.SoftsignF>, VecMath.Map<VecMath.SoftsignF>, "nn.functional.softsign")
    { Family = OpFamily.NN, Register32 = VecMath32.Softsign, Register64 = VecMath.Softsign, Samples = () => OpSamples.Unary(x => x.Softsign(), OpSamples.Domain.AwayFromZero) };
    internal static readonly FusedDef SoftshrinkOp = PointwiseDef("Softshrink", OpFamily.NN, "nn.functional.softshrink",
        (g, x, a) => { double l = (double)a!; return Where(x.Ge(-l) & x.Le(l), 0.0, g); },
        (g, x, a) => { double l = (double)a!; return PointwiseGradRaw(g, x, new ZeroedGradK<float>((float)-l, (float)l, true), new ZeroedGradK<double>(-l, l, true)); },
        (x, a) => x.Softshrink((double)a!),
        () => [.. OpSamples.Unary(x => x.Softshrink()), .. OpSamples.Unary(x => x.Softshrink(0.2))]);
    internal static readonly FusedDef HardshrinkOp = PointwiseDef("Hardshrink", OpFamily.NN, "nn.functional.hardshrink",
        (g, x, a) => { double l = (double)a!; return Where(x.Ge(-l) & x.Le(l), 0.0, g); },
        (g, x, a) => { double l = (double)a!; return PointwiseGradRaw(g, x, new ZeroedGradK<float>((float)-l, (float)l, true), new ZeroedGradK<double>(-l, l, true)); },
        (x, a) => x.Hardshrink((double)a!), () => OpSamples.Unary(x => x.Hardshrink()));
    internal static readonly UnaryDef<TanhshrinkD> TanhshrinkOp = new("Tanhshrink", Uses.Input, VecMath32.Map<VecMath32.TanhshrinkF>, VecMath.Map<VecMath.TanhshrinkF>, "nn.functional.tanhshrink")
    { Family = OpFamily.NN, Register32 = VecMath32.Tanhshrink, Register64 = VecMath.Tanhshrink, Samples = () => OpSamples.Unary(x => x.Tanhshrink()) };
    internal static readonly UnaryDef<LogSigmoidD> LogSigmoidOp = new("LogSigmoid", Uses.Input, VecMath32.Map<VecMath32.LogSigmoidF>, VecMath.Map<VecMath.LogSigmoidF>, "nn.functional.logsigmoid")
    { Family = OpFamily.NN, Register32 = VecMath32.LogSigmoid, Samples = () => OpSamples.Unary(x => (x * 3).LogSigmoid()) };
    internal static readonly FusedDef ThresholdOp = PointwiseDef("Threshold", OpFamily.NN, "nn.functional.threshold",
        (g, x, a) => Where(x.Le((((double, double))a!).Item1), 0.0, g),
        (g, x, a) => { var (th, _) = ((double, double))a!; return PointwiseGradRaw(g, x, new AboveGradK<float>((float)th), new AboveGradK<double>(th)); },
        (x, a) => { var (th, v) = ((double, double))a!; return x.Threshold(th, v); }, () => OpSamples.Unary(x => x.Threshold(0.3, -2)));
    internal static readonly OpDef SoftminOp = new("Softmin", OpFamily.NN, "nn.functional.softmin")
    {
        CompositeOf = ["Neg", "Softmax"],
        Samples = () => [new("2-d dim 1", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 4)], t => t[0].Softmin(1)),
            new("2-d dim 0", [OpSamples.Make(OpSamples.Domain.Real, 2, 3, 4)], t => t[0].Softmin(0))],
    };
    internal static readonly OpDef GluOp = new("Glu", OpFamily.NN, "nn.functional.glu")
    {
        CompositeOf = ["Narrow", "Mul", "Sigmoid"],
        Samples = () => [new("last dim", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 4)], t => t[0].Glu()),
            new("dim 0", [OpSamples.Make(OpSamples.Domain.Real, 2, 4, 3).T], t => t[0].Glu(1))],
    };
    // PReLU: one pass forward (PreluKernel), in first-order backward one pass for the input gradient and one for the weight's
    // terms (then summed per channel); the tensor-op VJP (differentiable again) otherwise. Attribute: (C, inner) of the
    // [outer, C, inner] view of the input (C = 1 for a shared slope).
    private static Tensor PreluSlopes(Tensor x, Tensor w, int ch) => ch == 1 ? w.Reshape() : w.Reshape([-1, .. Enumerable.Repeat(1, x.Rank - 2)]);

    internal static readonly FusedDef PreluOp = new("Prelu", OpFamily.NN, "nn.functional.prelu")
    {
        Vjp = (in OpCtx c, Tensor g, int i) =>
        {
            Tensor x = c.X(0), w = c.X(1), pos = x.Gt(0.0);
            var (ch, inner) = c.A<(int, int)>();
            if (i == 0) return Where(pos, g, PreluSlopes(x, w, ch) * g);
            var terms = Where(pos, 0.0, x * g);
            return terms.Reshape(-1, ch, inner).Sum([0, 2]).Reshape(w.ShapeArray);
        },
        Jvp = (in OpCtx c, Tensor?[] t) =>
        {
            Tensor x = c.X(0), pos = x.Gt(0.0);
            int ch = c.A<(int, int)>().Item1;
            Tensor? r = t[0] is { } tx ? Where(pos, tx, PreluSlopes(x, c.X(1), ch) * tx) : null;
            if (t[1] is { } tw)
            {
                var d = Where(pos, 0.0, PreluSlopes(x, tw, ch) * x);
                r = r is null ? d : r + d;
            }
            return r;
        },
        FirstOrder = (in OpCtx c, Tensor[] gs, bool[] needs) =>
        {
            Tensor x = c.X(0), w = c.X(1), g = gs[0];
            if (!ShapeUtil.SameShape(g._shape, x._shape) || g.DType != x.DType) return null;
            var (ch, inner) = c.A<(int, int)>();
            Tensor? gx = null, gw = null;
            if (needs[0])
            {
                gx = EmptyLike(x);
                if (x.DType == DType.Float32)
                    Kernels.PreluKernel.InputGrad(DenseArray<float>(g, out int go), go, DenseArray<float>(x, out int xo), xo, w.ToArray<float>(), ch, inner, gx.Storage.As<float>(), x.Numel);
                else
                    Kernels.PreluKernel.InputGrad(DenseArray<double>(g, out int go), go, DenseArray<double>(x, out int xo), xo, w.ToArray<double>(), ch, inner, gx.Storage.As<double>(), x.Numel);
            }
            if (needs[1])
            {
                var terms = PointwiseGradRaw(g, x, new Kernels.PreluWeightGradK<float>(), new Kernels.PreluWeightGradK<double>());
                using (Autograd.NoGrad()) gw = terms.Reshape(-1, ch, inner).Sum([0, 2]).Reshape(w.ShapeArray);
            }
            return [gx, gw];
        },
        FusedDoc = "one SIMD pass for the input, one for the weight's terms (first-order passes)",
        Saves = 3u, // (the JVP runs per direction: the weight's tangent is reshaped to its channel layout)
        Batch = c => [BatchPrelu(c.Materialize(0), c.Materialize(1))],
        Samples = () => [
            new("per channel", [OpSamples.Make(OpSamples.Domain.AwayFromZero, 1, 2, 3, 4), OpSamples.Make(OpSamples.Domain.Positive, 2, 3)], t => t[0].Prelu(t[1])),
            new("shared", [OpSamples.Make(OpSamples.Domain.AwayFromZero, 3, 2, 3), OpSamples.Make(OpSamples.Domain.Positive, 4, 1)], t => t[0].Prelu(t[1])),
            new("long rows", [OpSamples.Make(OpSamples.Domain.AwayFromZero, 5, 1, 2, 300), OpSamples.Make(OpSamples.Domain.Positive, 6, 2)], t => t[0].Prelu(t[1]))],
    };

    /// <summary>PReLU of a batch of inputs [B, *x] with a batch of weights [B, *w] (the vmap rule), in tensor ops.</summary>
    private static Tensor BatchPrelu(Tensor x, Tensor w)
    {
        // logical x [*x]: the per-channel slope runs along logical dim 1 = physical dim 2; a shared slope is one per batch row
        var shape = Enumerable.Repeat(1, x.Rank).ToArray();
        shape[0] = w.Size(0);
        if (w.Numel / w.Size(0) != 1) shape[2] = w.Numel / w.Size(0);
        return Where(x.Gt(0.0), x, w.Reshape(shape) * x);
    }

    internal static readonly OpDef RreluOp = Act("Rrelu", "nn.functional.rrelu", ["LeakyRelu", "Where", "Mul"], x => x.Rrelu(), OpSamples.Domain.AwayFromZero);

    /// <summary>ELU: x for x &gt; 0, α·(eˣ − 1) otherwise (PyTorch's <c>F.elu</c>; the gradient at 0 is α, at NaN 1).</summary>
    public Tensor Elu(double alpha = 1) => EluFamily(EluOp, new EluD(alpha, 1, 1));

    /// <summary>SELU: scale·ELU(x, α) with PyTorch's constants <see cref="SeluAlpha"/> and <see cref="SeluScale"/>.</summary>
    public Tensor Selu() => EluFamily(SeluOp, new EluD(SeluScale * SeluAlpha, SeluScale, 1));

    /// <summary>CELU: max(0, x) + min(0, α·(e^(x/α) − 1)) (PyTorch's <c>F.celu</c>).</summary>
    public Tensor Celu(double alpha = 1)
    {
        if (alpha == 0) throw new ArgumentException("Celu: alpha must not be 0 (the negative part is α·(exp(x/α) − 1)).", nameof(alpha));
        return EluFamily(CeluOp, new EluD(alpha, 1, 1 / alpha));
    }

    /// <summary>PyTorch's elu kernel with its coefficients (<see cref="EluD"/>): one SIMD pass, recorded as <paramref name="def"/>.</summary>
    private Tensor EluFamily(UnaryDef<EluD> def, EluD d)
    {
        var k32 = new VecMath32.Elu((float)d.NegCoef, (float)d.PosCoef, (float)d.InScale);
        var k64 = new VecMath.Elu(d.NegCoef, d.PosCoef, d.InScale);
        var y = MapRaw(def.Name, this, (s, o) => VecMath32.MapWith(s, o, k32), (s, o) => VecMath.MapWith(s, o, k64));
        return def.Record(this, y, d);
    }

    /// <summary>SiLU (swish): x·σ(x).</summary>
    public Tensor Silu() => SiluOp.Call(this);

    /// <summary>Mish: x·tanh(softplus(x)).</summary>
    public Tensor Mish() => MishOp.Call(this);

    /// <summary>Hardswish: x·relu6(x + 3)/6 (PyTorch's <c>F.hardswish</c>, with its gradient x/3 + 1/2 on [-3, 3]).</summary>
    public Tensor Hardswish()
    {
        // -inf gives NaN, as PyTorch; the gradient is PyTorch's vectorized kernel's (g from 3 on, NaN at NaN)
        var y = PointwiseRaw("Hardswish", this, default(HardswishK<float>), default(HardswishK<double>));
        return Op.Tracking(this) ? Op.Record(HardswishOp, y, [this]) : y;
    }

    /// <summary>Hardsigmoid: 0 for x ≤ -3, 1 for x ≥ 3, x/6 + 1/2 between (gradient 0 on the boundary, as PyTorch).</summary>
    public Tensor Hardsigmoid()
    {
        // min(max(x + 3, 0), 6)/6 as PyTorch; NaN stays NaN with gradient 0
        var y = PointwiseRaw("Hardsigmoid", this, default(HardsigmoidK<float>), default(HardsigmoidK<double>));
        return Op.Tracking(this) ? Op.Record(HardsigmoidOp, y, [this]) : y;
    }

    /// <summary>Hardtanh: x clamped to [<paramref name="minVal"/>, <paramref name="maxVal"/>], gradient 0 on and outside the boundary (PyTorch's <c>F.hardtanh</c>).</summary>
    public Tensor Hardtanh(double minVal = -1, double maxVal = 1)
    {
        if (!(minVal <= maxVal)) throw new ArgumentException($"Hardtanh: minVal ({minVal}) must not exceed maxVal ({maxVal}).", nameof(minVal));
        // the value is a clamp (NaN and -0 pass); the gradient passes strictly inside (0 at NaN), as PyTorch
        var y = PointwiseRaw("Hardtanh", this, new ClampK<float>((float)minVal, (float)maxVal), new ClampK<double>(minVal, maxVal));
        return Op.Tracking(this) ? Op.Record(HardtanhOp, y, [this], (minVal, maxVal)) : y;
    }

    /// <summary>ReLU6: hardtanh(x, 0, 6).</summary>
    public Tensor Relu6() => Hardtanh(0, 6);

    /// <summary>Softsign: x/(1 + |x|).</summary>
    public Tensor Softsign() => SoftsignOp.Call(this);

    /// <summary>Softshrink: x − λ above λ, x + λ below −λ, 0 between (PyTorch's <c>F.softshrink</c>).</summary>
    public Tensor Softshrink(double lambd = 0.5)
    {
        if (!(lambd >= 0)) throw new ArgumentException($"Softshrink: lambd must be non-negative, got {lambd}.", nameof(lambd));
        var y = PointwiseRaw("Softshrink", this, new SoftshrinkK<float>((float)lambd), new SoftshrinkK<double>(lambd));
        return Op.Tracking(this) ? Op.Record(SoftshrinkOp, y, [this], lambd) : y;
    }

    /// <summary>Hardshrink: x where |x| &gt; λ, else 0 (PyTorch's <c>F.hardshrink</c>).</summary>
    public Tensor Hardshrink(double lambd = 0.5)
    {
        var y = PointwiseRaw("Hardshrink", this, new HardshrinkK<float>((float)lambd), new HardshrinkK<double>(lambd));
        return Op.Tracking(this) ? Op.Record(HardshrinkOp, y, [this], lambd) : y;
    }

    /// <summary>Tanhshrink: x − tanh(x).</summary>
    public Tensor Tanhshrink() => TanhshrinkOp.Call(this);

    /// <summary>log σ(x) = −softplus(−x), stable for any x.</summary>
    public Tensor LogSigmoid() => LogSigmoidOp.Call(this);

    /// <summary>Threshold: x where x &gt; <paramref name="threshold"/>, else <paramref name="value"/> (PyTorch's <c>F.threshold</c>; NaN stays NaN).</summary>
    public Tensor Threshold(double threshold, double value)
    {
        var y = PointwiseRaw("Threshold", this, new ThresholdK<float>((float)threshold, (float)value), new ThresholdK<double>(threshold, value));
        return Op.Tracking(this) ? Op.Record(ThresholdOp, y, [this], (threshold, value)) : y;
    }

    /// <summary>Softmin over <paramref name="dim"/>: softmax(−x).</summary>
    public Tensor Softmin(int dim) => (-this).Softmax(dim);

    /// <summary>Gated linear unit: a·σ(b) where a and b are the halves of x along <paramref name="dim"/> (PyTorch's <c>F.glu</c>).</summary>
    public Tensor Glu(int dim = -1)
    {
        if (Rank == 0) throw new ShapeMismatchException("Glu: the input must have at least one dim, got a 0-d tensor.");
        int d = dim < 0 ? dim + Rank : dim;
        if (d < 0 || d >= Rank) throw new ArgumentOutOfRangeException(nameof(dim), $"Glu: dim {dim} is out of range for a tensor of rank {Rank}.");
        int n = Size(d);
        if (n % 2 != 0)
            throw new ShapeMismatchException($"Glu: the size of dim {dim} must be even (it is halved), got shape {ShapeUtil.Format(Shape)}.");
        return Narrow(d, 0, n / 2) * Narrow(d, n / 2, n / 2).Sigmoid();
    }

    /// <summary>
    /// PReLU: x for x &gt; 0, w·x otherwise, with <paramref name="weight"/> holding one slope or one per channel (dim 1),
    /// as PyTorch's <c>F.prelu</c>.
    /// </summary>
    public Tensor Prelu(Tensor weight)
    {
        CheckFloat("Prelu");
        CheckSameDType("Prelu", this, weight);
        Tensor w;
        if (weight.Numel == 1) w = weight.Reshape();
        else if (Rank >= 2 && weight.Rank == 1 && weight.Size(0) == Size(1))
        {
            var shape = Enumerable.Repeat(1, Rank - 1).ToArray();
            shape[0] = weight.Size(0);
            w = weight.Reshape(shape);
        }
        else
            throw new ShapeMismatchException($"Prelu: weight must have 1 element or one per channel (input dim 1); got weight {ShapeUtil.Format(weight.Shape)} for input {ShapeUtil.Format(Shape)}.");
        int ch = weight.Numel == 1 ? 1 : weight.Numel, n = Numel, inner = ch == 1 ? Math.Max(1, n) : ShapeUtil.Numel(ShapeArray[2..]);
        var y = EmptyLike(this);
        if (n > 0)
        {
            if (DType == DType.Float32)
                Kernels.PreluKernel.Forward(DenseArray<float>(this, out int xo), xo, weight.ToArray<float>(), ch, inner, y.Storage.As<float>(), n);
            else
                Kernels.PreluKernel.Forward(DenseArray<double>(this, out int xo), xo, weight.ToArray<double>(), ch, inner, y.Storage.As<double>(), n);
        }
        return Op.Tracking(this, weight) ? Op.Record(PreluOp, y, [this, weight], (ch, inner)) : y;
    }

    /// <summary>
    /// Randomized leaky ReLU (PyTorch's <c>F.rrelu</c>): in training, each non-positive element is scaled by a slope drawn
    /// uniformly from [<paramref name="lower"/>, <paramref name="upper"/>] (from <paramref name="generator"/>, or
    /// <see cref="Generator.Default"/>); otherwise a leaky ReLU with slope (lower + upper)/2.
    /// </summary>
    public Tensor Rrelu(double lower = 1.0 / 8, double upper = 1.0 / 3, bool training = false, Generator? generator = null)
    {
        if (!(lower <= upper)) throw new ArgumentException($"Rrelu: lower ({lower}) must not exceed upper ({upper}).", nameof(lower));
        if (!training) return LeakyRelu((lower + upper) / 2);
        CheckFloat("Rrelu");
        var slope = Rand(ShapeArray, DType, generator) * (upper - lower) + lower;
        return Where(Le(0.0), slope * this, this);
    }

    // ---- derivative rules of the smooth activations (each written once: tensors for VJP/JVP, lanes for the fused backward) ----

    /// <summary>PyTorch's elu family (elu, selu, celu: y = x ≤ 0 ? negCoef·expm1(x·inScale) : posCoef·x) and its
    /// elu_backward on the input: negCoef·inScale·e^(x·inScale) for x ≤ 0, posCoef otherwise (NaN included).</summary>
    internal readonly struct EluD(double negCoef, double posCoef, double inScale) : IDerivative
    {
        public double NegCoef => negCoef;
        public double PosCoef => posCoef;
        public double InScale => inScale;
        public T Eval<T>(T x, T y) where T : IAlgebra<T> => T.IfLe(x, 0, (negCoef * inScale) * T.Exp(x * inScale), T.ZerosLike(x) + posCoef);
    }

    /// <summary>silu' = σ(x)·(1 + x·(1 - σ(x))) (PyTorch's silu_backward).</summary>
    [Stateless]
    internal readonly struct SiluD : IDerivative
    {
        public T Eval<T>(T x, T y) where T : IAlgebra<T>
        {
            var s = 1.0 / (1.0 + T.Exp(-x));
            return s * (1.0 + x * (1.0 - s));
        }
    }

    /// <summary>mish' = t + x·σ(x)·(1 - t²), t = tanh(softplus x) = n/(n + 2), n = e·(e + 2), e = e^min(x, 20) (PyTorch's
    /// mish_backward; t is 1 in float from 20 on, and the clamp keeps e finite).</summary>
    [Stateless]
    internal readonly struct MishD : IDerivative
    {
        public T Eval<T>(T x, T y) where T : IAlgebra<T>
        {
            var s = 1.0 / (1.0 + T.Exp(-x));
            var e = T.Exp(T.IfLe(x, 20, x, T.ZerosLike(x) + 20.0));
            var n = e * (e + 2.0);
            var t = n / (n + 2.0);
            return t + x * s * (1.0 - t * t);
        }
    }

    /// <summary>softsign' = 1/(1 + |x|)², NaN at ±inf as PyTorch's (its composite x/(1 + |x|) differentiates to inf/inf
    /// there): the x - x term is 0 for finite x.</summary>
    [Stateless]
    internal readonly struct SoftsignD : IDerivative
    {
        public T Eval<T>(T x, T y) where T : IAlgebra<T>
        {
            var a = 1.0 + T.Sign(x) * x;
            return 1.0 / (a * a) + (x - x);
        }
    }

    /// <summary>tanhshrink' = tanh²(x).</summary>
    [Stateless]
    internal readonly struct TanhshrinkD : IDerivative
    {
        public T Eval<T>(T x, T y) where T : IAlgebra<T>
        {
            var t = T.Tanh(x);
            return t * t;
        }
    }

    /// <summary>logsigmoid' = σ(-x) = 1/(1 + eˣ).</summary>
    [Stateless]
    internal readonly struct LogSigmoidD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => 1.0 / (1.0 + T.Exp(x)); }
}
