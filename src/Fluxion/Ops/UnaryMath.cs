using System.Numerics.Tensors;
using Fluxion.Kernels;

namespace Fluxion;

// The unary math family (PyTorch's OpInfo "unary" ops): trigonometric and hyperbolic functions and their inverses,
// exponentials and logarithms, rounding, the gamma and error function families, and the float predicates.
// Each entry sits next to its public method. Conventions follow PyTorch: rounding ops have gradient 0 (frac's is 1),
// round is half-to-even, the predicates (isnan, signbit, ...) return bool and are not differentiable.
// Kernels: Kernels.VecMath (SIMD, double precision, a few ulps) for float64 and Kernels.VecMath32 (float32 lanes, a few float ulps) or
// TensorPrimitives where it is as accurate; the rest Math.* (libm) or Kernels.Special per element, on 2 threads for large tensors.
// (the class is marked [OpTable] on its declaration in Elementwise.cs; a second mark on this part would be a duplicate attribute)
public partial class Tensor
{
    /// <summary>A derivative f'(x) of a unary entry built from tensor ops (for the lambda entries below).</summary>
    internal delegate Tensor UnaryDerivative(in OpCtx c);

    /// <summary>A unary entry whose VJP is g·f'(x) and JVP t·f'(x), f' written with differentiable tensor ops;
    /// <paramref name="call"/> runs the op on a tensor with the recorded attribute (the batching rule: elementwise, so any shape).</summary>
    private static OpDef UnaryByDerivative(string name, UnaryDerivative d, Func<Tensor, object?, Tensor> call, uint saves, Func<IEnumerable<OpSample>> samples, params string[] torch) =>
        UnaryByDerivative(name, d, call, saves, samples, DTypeSet.Floats, torch);

    private static OpDef UnaryByDerivative(string name, UnaryDerivative d, Func<Tensor, object?, Tensor> call, uint saves, Func<IEnumerable<OpSample>> samples, DTypeSet dtypes, params string[] torch) =>
        new(name, OpFamily.Unary, torch)
        {
            DTypes = dtypes, Batch = BatchRules.Unary(call),
            Vjp = (in OpCtx c, Tensor g, int i) => g * d(c),
            Jvp = (in OpCtx c, Tensor?[] t) => t[0] is { } tx ? tx * d(c) : null,
            BatchedJvp = true, Saves = saves, Samples = samples,
        };

    private static SpanMap<float> F32(Func<double, double> f) => (s, d) => Special.Map(s, d, f);
    private static SpanMap<double> F64(Func<double, double> f) => (s, d) => Special.Map(s, d, f);

    // ---- trigonometric and hyperbolic ----------------------------------------------------------

    internal static readonly UnaryDef<TanD> TanOp = new("Tan", Uses.Output, (s, d) => VecMath.ViaDouble(s, d, TensorPrimitives.Tan), (s, d) => VecMath.Chunked(s, d, TensorPrimitives.Tan), "tan")
    { Samples = () => OpSamples.Unary(x => x.Tan(), OpSamples.Domain.OpenUnit) };
    internal static readonly UnaryDef<AsinD> AsinOp = new("Asin", Uses.Input, VecMath32.Map<VecMath32.AsinF>, VecMath.Map<VecMath.AsinF>, "asin")
    { Samples = () => OpSamples.Unary(x => x.Asin(), OpSamples.Domain.OpenUnit) };
    internal static readonly UnaryDef<AcosD> AcosOp = new("Acos", Uses.Input, VecMath32.Map<VecMath32.AcosF>, VecMath.Map<VecMath.AcosF>, "acos")
    { Samples = () => OpSamples.Unary(x => x.Acos(), OpSamples.Domain.OpenUnit) };
    internal static readonly UnaryDef<AtanD> AtanOp = new("Atan", Uses.Input, VecMath32.Map<VecMath32.AtanF>, VecMath.Map<VecMath.AtanF>, "atan")
    { Samples = () => OpSamples.Unary(x => x.Atan()) };
    internal static readonly UnaryDef<CoshD> SinhOp = new("Sinh", Uses.Input, VecMath32.Map<VecMath32.SinhF>, VecMath.Map<VecMath.SinhF>, "sinh")
    { Samples = () => OpSamples.Unary(x => x.Sinh()) };
    internal static readonly UnaryDef<SinhD> CoshOp = new("Cosh", Uses.Input, VecMath32.Map<VecMath32.CoshF>, VecMath.Map<VecMath.CoshF>, "cosh")
    { Samples = () => OpSamples.Unary(x => x.Cosh()) };
    internal static readonly UnaryDef<AsinhD> AsinhOp = new("Asinh", Uses.Input, VecMath32.Map<VecMath32.AsinhF>, VecMath.Map<VecMath.AsinhF>, "asinh")
    { Samples = () => OpSamples.Unary(x => x.Asinh()) };
    internal static readonly UnaryDef<AcoshD> AcoshOp = new("Acosh", Uses.Input, VecMath32.Map<VecMath32.AcoshF>, VecMath.Map<VecMath.AcoshF>, "acosh")
    { Samples = () => OpSamples.Unary(x => x.Acosh(), OpSamples.Domain.AboveOne) };
    internal static readonly UnaryDef<AtanhD> AtanhOp = new("Atanh", Uses.Input, VecMath32.Map<VecMath32.AtanhF>, VecMath.Map<VecMath.AtanhF>, "atanh")
    { Samples = () => OpSamples.Unary(x => x.Atanh(), OpSamples.Domain.OpenUnit) };

    /// <summary>Tangent.</summary>
    public Tensor Tan() => TanOp.Call(this);

    /// <summary>Arcsine (NaN outside [-1, 1]; the gradient is infinite at ±1).</summary>
    public Tensor Asin() => AsinOp.Call(this);

    /// <summary>Arccosine (NaN outside [-1, 1]; the gradient is infinite at ±1).</summary>
    public Tensor Acos() => AcosOp.Call(this);

    /// <summary>Arctangent.</summary>
    public Tensor Atan() => AtanOp.Call(this);

    /// <summary>Hyperbolic sine.</summary>
    public Tensor Sinh() => SinhOp.Call(this);

    /// <summary>Hyperbolic cosine.</summary>
    public Tensor Cosh() => CoshOp.Call(this);

    /// <summary>Inverse hyperbolic sine.</summary>
    public Tensor Asinh() => AsinhOp.Call(this);

    /// <summary>Inverse hyperbolic cosine (NaN below 1; the gradient is infinite at 1).</summary>
    public Tensor Acosh() => AcoshOp.Call(this);

    /// <summary>Inverse hyperbolic tangent (±inf at ±1, NaN outside [-1, 1]).</summary>
    public Tensor Atanh() => AtanhOp.Call(this);

    internal static readonly OpDef Deg2radOp = new("Deg2rad", OpFamily.Unary, "deg2rad")
    { CompositeOf = ["Mul"], Samples = () => OpSamples.Unary(x => x.Deg2rad()) };
    internal static readonly OpDef Rad2degOp = new("Rad2deg", OpFamily.Unary, "rad2deg")
    { CompositeOf = ["Mul"], Samples = () => OpSamples.Unary(x => x.Rad2deg()) };

    /// <summary>Degrees to radians: x·π/180.</summary>
    public Tensor Deg2rad() => this * (Math.PI / 180);

    /// <summary>Radians to degrees: x·180/π.</summary>
    public Tensor Rad2deg() => this * (180 / Math.PI);

    /// <summary>Normalized sinc: sin(πx)/(πx), 1 at 0 (where its gradient is 0), as PyTorch's <c>sinc</c>.</summary>
    public Tensor Sinc()
    {
        var y = MapRaw("Sinc", this, F32(Special.Sinc), F64(Special.Sinc));
        return Op.Tracking(this) ? Op.Record(SincOp, y, [this]) : y;
    }

    // d/dx sinc(x) = (cos(πx) - sinc(x))/x; for |x| < 1e-3, where that cancels, its Taylor polynomial
    // -π²x/3 + π⁴x³/30 - π⁶x⁵/840 (0 at 0, and differentiable again: sinc''(0) = -π²/3). The division is by 1 there.
    internal static readonly OpDef SincOp = UnaryByDerivative("Sinc", (in OpCtx c) =>
        {
            var x = c.X(0);
            var small = x.Abs().Lt(1e-3);
            const double p2 = Math.PI * Math.PI;
            var x2 = x * x;
            var taylor = x * (-p2 / 3 + x2 * (p2 * p2 / 30 - x2 * (p2 * p2 * p2 / 840)));
            return Where(small, taylor, ((Math.PI * x).Cos() - c.Y) / Where(small, 1.0, x));
        },
        (x, _) => x.Sinc(), 1u | OpDef.SaveOutput, () => [.. OpSamples.Unary(x => x.Sinc(), OpSamples.Domain.AwayFromZero), .. OpSamples.Unary(x => (x * 1e-3).Sinc())], "sinc");

    // ---- exponentials and logarithms -----------------------------------------------------------

    internal static readonly UnaryDef<Exp2D> Exp2Op = new("Exp2", Uses.Output, VecMath32.Map<VecMath32.Exp2F>, VecMath.Map<VecMath.Exp2F>, "exp2")
    { Samples = () => OpSamples.Unary(x => x.Exp2()) };
    internal static readonly UnaryDef<Expm1D> Expm1Op = new("Expm1", Uses.Output, VecMath32.Map<VecMath32.Expm1F>, VecMath.Map<VecMath.Expm1F>, "expm1")
    { Samples = () => OpSamples.Unary(x => x.Expm1()) };
    internal static readonly UnaryDef<Log2D> Log2Op = new("Log2", Uses.Input, VecMath32.Map<VecMath32.Log2F>, (s, d) => VecMath.Chunked(s, d, TensorPrimitives.Log2), "log2")
    { Register32 = VecMath32.Log2, Samples = () => OpSamples.Unary(x => x.Log2(), OpSamples.Domain.Positive) };
    internal static readonly UnaryDef<Log10D> Log10Op = new("Log10", Uses.Input, VecMath32.Map<VecMath32.Log10F>, (s, d) => VecMath.Chunked(s, d, TensorPrimitives.Log10), "log10")
    { Register32 = VecMath32.Log10, Samples = () => OpSamples.Unary(x => x.Log10(), OpSamples.Domain.Positive) };
    internal static readonly UnaryDef<Log1pD> Log1pOp = new("Log1p", Uses.Input, VecMath32.Map<VecMath32.Log1pF>, VecMath.Map<VecMath.Log1pF>, "log1p")
    { Samples = () => [.. OpSamples.Unary(x => x.Log1p(), OpSamples.Domain.Positive), .. OpSamples.Unary(x => x.Log1p(), OpSamples.Domain.OpenUnit)] };

    /// <summary>2^x.</summary>
    public Tensor Exp2() => Exp2Op.Call(this);

    /// <summary>e^x - 1, accurate for small x.</summary>
    public Tensor Expm1() => Expm1Op.Call(this);

    /// <summary>Base-2 logarithm.</summary>
    public Tensor Log2() => Log2Op.Call(this);

    /// <summary>Base-10 logarithm.</summary>
    public Tensor Log10() => Log10Op.Call(this);

    /// <summary>log(1 + x), accurate for small x (-inf at -1, NaN below).</summary>
    public Tensor Log1p() => Log1pOp.Call(this);

    // one SIMD pass forward (float lanes; float64: the quotient in lanes, libm's log), one fused pass backward
    internal static readonly UnaryDef<LogitD> LogitOp = new("Logit", Uses.Input, null, null, "logit")
    {
        Batch = BatchRules.Unary((x, a) => x.Logit(((LogitD)a!).Eps)),
        Samples = () => [.. OpSamples.Unary(x => x.Logit(), OpSamples.Domain.UnitInterval), .. OpSamples.Unary(x => x.Logit(0.05), OpSamples.Domain.UnitInterval)],
    };

    /// <summary>
    /// log(x/(1 - x)), the inverse of the sigmoid. With <paramref name="eps"/> the input is first clamped to
    /// [eps, 1 - eps] (and the gradient is 0 outside); without it, x outside [0, 1] gives NaN (as PyTorch's <c>logit</c>).
    /// </summary>
    public Tensor Logit(double? eps = null)
    {
        if (eps is { } e && !(e >= 0 && e <= 0.5))
            throw new ArgumentException($"Logit: eps must be in [0, 0.5] (the input is clamped to [eps, 1 - eps]), got {e}. Pass null for no clamping.", nameof(eps));
        double lo = eps ?? 0;
        bool clamp = eps is not null;
        var k32 = new VecMath32.Logit((float)lo, 1f - (float)lo, clamp);
        var k64 = new VecMath.Logit(lo, 1 - lo, clamp);
        var y = MapRaw("Logit", this, (s, d) => VecMath32.MapWith(s, d, k32), (s, d) => VecMath.MapWith(s, d, k64));
        return LogitOp.Record(this, y, new LogitD(lo, clamp));
    }

    /// <summary>PyTorch's logit_backward: 1/(x(1 - x)) on [lo, 1 - lo]; outside, 0 with eps (clamped), NaN without.</summary>
    internal readonly struct LogitD(double lo, bool clamp) : IDerivative
    {
        /// <summary>The call's eps (null: no clamping).</summary>
        public double? Eps => clamp ? lo : null;

        public T Eval<T>(T x, T y) where T : IAlgebra<T>
        {
            var outside = T.ZerosLike(x) + (clamp ? 0.0 : double.NaN);
            return T.IfLt(x, lo, outside, T.IfLt(-x, -(1 - lo), outside, 1.0 / (x * (1.0 - x))));
        }
    }

    // ---- rounding (gradient 0, as PyTorch) -----------------------------------------------------

    internal static readonly UnaryDef<ZeroD> CeilOp = new("Ceil", Uses.None, TensorPrimitives.Ceiling, TensorPrimitives.Ceiling, "ceil")
    { Register32 = System.Runtime.Intrinsics.Vector256.Ceiling, Register64 = System.Runtime.Intrinsics.Vector256.Ceiling, Samples = () => OpSamples.Unary(x => x.Ceil() + x, OpSamples.Domain.AwayFromIntegers) };
    internal static readonly UnaryDef<ZeroD> TruncOp = new("Trunc", Uses.None, TensorPrimitives.Truncate, TensorPrimitives.Truncate, "trunc")
    { Register32 = System.Runtime.Intrinsics.Vector256.Truncate, Register64 = System.Runtime.Intrinsics.Vector256.Truncate, Samples = () => OpSamples.Unary(x => x.Trunc() + x, OpSamples.Domain.AwayFromIntegers) };
    // round's steps are at the half-integers: x - 0.5 for x away from the integers stays away from them
    internal static readonly UnaryDef<ZeroD> RoundOp = new("Round", Uses.None, null, null, "round")
    {
        Batch = BatchRules.Unary((x, a) => x.Round(a is int d ? d : 0)),
        Samples = () => [.. OpSamples.Unary(x => (x - 0.5).Round() + x, OpSamples.Domain.AwayFromIntegers),
            .. OpSamples.Unary(x => (x * 10 + 5).Round(-1) + x, OpSamples.Domain.AwayFromIntegers)], // its steps are where x is an integer
    };
    // frac's derivative is 1: the gradient passes as it is (one SIMD pass forward)
    internal static readonly FusedDef FracOp = PointwiseDef("Frac", OpFamily.Unary, "frac", (g, x, _) => g, (g, x, _) => g, (x, _) => x.Frac(),
        () => OpSamples.Unary(x => x.Frac(), OpSamples.Domain.AwayFromIntegers));

    /// <summary>Smallest integer not below x; its gradient is 0.</summary>
    public Tensor Ceil() => CeilOp.Call(this);

    /// <summary>x rounded toward zero; its gradient is 0.</summary>
    public Tensor Trunc() => TruncOp.Call(this);

    /// <summary>The fractional part x - trunc(x) (with x's sign); its gradient is 1.</summary>
    public Tensor Frac()
    {
        var y = PointwiseRaw("Frac", this, default(Kernels.FracK<float>), default(Kernels.FracK<double>));
        return Op.Tracking(this) ? Op.Record(FracOp, y, [this]) : y;
    }

    /// <summary>
    /// Rounds to the nearest integer, ties to even (as PyTorch's <c>round</c>); with <paramref name="decimals"/> to that
    /// many decimal places (negative: to tens, hundreds, ...), computed as PyTorch does: round(x·10^d)/10^d. The gradient is 0.
    /// </summary>
    public Tensor Round(int decimals = 0)
    {
        Tensor y;
        if (decimals == 0) y = MapRaw("Round", this, (s, d) => TensorPrimitives.Round(s, d), (s, d) => TensorPrimitives.Round(s, d));
        else
        {
            double p = Math.Pow(10, Math.Abs(decimals));
            float pf = (float)p;
            bool up = decimals > 0;
            y = MapRaw("Round", this,
                (s, d) => { for (int i = 0; i < d.Length; i++) d[i] = up ? MathF.Round(s[i] * pf) / pf : MathF.Round(s[i] / pf) * pf; },
                (s, d) => { for (int i = 0; i < d.Length; i++) d[i] = up ? Math.Round(s[i] * p) / p : Math.Round(s[i] / p) * p; });
        }
        return RoundOp.Record(this, y, default, decimals == 0 ? null : decimals);
    }

    // ---- error and gamma functions -------------------------------------------------------------

    internal static readonly UnaryDef<ErfcD> ErfcOp = new("Erfc", Uses.Input, VecMath32.Map<VecMath32.ErfcF>, VecMath.Map<VecMath.ErfcF>, "erfc")
    { Samples = () => OpSamples.Unary(x => x.Erfc()) };
    internal static readonly UnaryDef<ErfinvD> ErfinvOp = new("Erfinv", Uses.Output, VecMath32.Map<VecMath32.ErfinvF>, VecMath.Map<VecMath.ErfinvF>, "erfinv")
    { Samples = () => OpSamples.Unary(x => x.Erfinv(), OpSamples.Domain.OpenUnit) };

    /// <summary>The complementary error function 1 - erf(x), accurate also where it is tiny (large x).</summary>
    public Tensor Erfc() => ErfcOp.Call(this);

    /// <summary>The inverse error function (±inf at ±1, NaN outside [-1, 1]).</summary>
    public Tensor Erfinv() => ErfinvOp.Call(this);

    // float32: double-lane kernels (Kernels.VecMath.Lgamma/Digamma, each float rounded once); float64: Kernels.Special per element.
    // One fused pass backward (lgamma' = digamma, digamma' = trigamma, on the same kernels)
    internal static readonly UnaryDef<LgammaD> LgammaOp = new("Lgamma", Uses.Input, VecMath.Map<VecMath.LgammaF>, F64(Special.Lgamma), "lgamma")
    { Samples = () => [.. OpSamples.Unary(x => x.Lgamma(), OpSamples.Domain.Positive), .. OpSamples.Unary(x => (x - 3.0).Lgamma(), OpSamples.Domain.AwayFromIntegers)] };
    internal static readonly UnaryDef<DigammaD> DigammaOp = new("Digamma", Uses.Input, VecMath.Map<VecMath.DigammaF>, F64(Special.Digamma), "digamma")
    { Samples = () => [.. OpSamples.Unary(x => x.Digamma(), OpSamples.Domain.Positive), .. OpSamples.Unary(x => (x - 3.0).Digamma(), OpSamples.Domain.AwayFromIntegers)] };
    internal static readonly OpDef PolygammaOp = UnaryByDerivative("Polygamma", (in OpCtx c) => c.X(0).Polygamma(c.A<int>() + 1), (x, n) => x.Polygamma((int)n!), 1u,
        () => [.. OpSamples.Unary(x => x.Polygamma(1), OpSamples.Domain.Positive), .. OpSamples.Unary(x => x.Polygamma(2), OpSamples.Domain.Positive)]);

    /// <summary>log|Γ(x)| (+inf at 0 and the negative integers); its gradient is digamma(x).</summary>
    public Tensor Lgamma() => LgammaOp.Call(this);

    /// <summary>The digamma function Γ'(x)/Γ(x) (-inf at +0, +inf at -0, NaN at the negative integers, as PyTorch);
    /// its gradient is polygamma(1, x).</summary>
    public Tensor Digamma() => DigammaOp.Call(this);

    /// <summary>The polygamma function ψ^(n)(x), the n-th derivative of digamma (n = 0 is digamma itself), as
    /// PyTorch's <c>polygamma(n, x)</c>; its gradient is polygamma(n + 1, x).</summary>
    public Tensor Polygamma(int n)
    {
        if (n < 0) throw new ArgumentException($"Polygamma: the order n must be >= 0, got {n}.", nameof(n));
        if (n == 0) return Digamma();
        // trigamma in float32: the double-lane kernel (digamma's fused backward uses it too)
        var y = n == 1 ? MapRaw("Polygamma", this, VecMath.Map<VecMath.TrigammaF>, F64(v => Special.Polygamma(1, v))) : MapRaw("Polygamma", this, v => Special.Polygamma(n, v));
        return Op.Tracking(this) ? Op.Record(PolygammaOp, y, [this], n) : y;
    }

    // ---- identity-like and composites ----------------------------------------------------------

    internal static readonly OpDef PositiveOp = new("Positive", OpFamily.Unary, "positive")
    { CompositeOf = [], DTypes = DTypeSet.Floats | DTypeSet.Int64, Samples = () => OpSamples.Unary(x => x.Positive()) };
    internal static readonly OpDef SquareOp = new("Square", OpFamily.Unary, "square")
    { CompositeOf = ["Mul"], Samples = () => OpSamples.Unary(x => x.Square()) };
    internal static readonly OpDef ReciprocalOp = new("Reciprocal", OpFamily.Unary, "reciprocal")
    { CompositeOf = ["Div"], Samples = () => OpSamples.Unary(x => x.Reciprocal(), OpSamples.Domain.AwayFromZero) };

    /// <summary>The tensor itself (as PyTorch's <c>positive</c>, which returns its input); bool tensors are rejected as there.</summary>
    public Tensor Positive()
    {
        if (DType == DType.Bool)
            throw new DTypeMismatchException($"Positive: the unary + is not defined for bool tensors (shape {ShapeUtil.Format(_shape)}), as in PyTorch. Convert with To(DType.Int64) first.");
        return this;
    }

    /// <summary>x·x.</summary>
    public Tensor Square() => this * this;

    /// <summary>1 / x.</summary>
    public Tensor Reciprocal() => 1.0 / this;

    // the gradient passes where x is finite (one fused pass in first-order backward)
    internal static readonly FusedDef NanToNumOp = PointwiseDef("NanToNum", OpFamily.Unary, "nan_to_num", (g, x, _) => Where(x.IsFinite(), g, 0.0),
        (g, x, _) => PointwiseGradRaw(g, x, default(Kernels.FiniteGradK<float>), default(Kernels.FiniteGradK<double>)),
        (x, a) => { var (nan, pos, neg) = ((double, double, double))a!; return x.NanToNum(nan, pos, neg); },
        () => OpSamples.Unary(x => x.NanToNum()), DTypeSet.All);

    /// <summary>
    /// Replaces NaN by <paramref name="nan"/>, +inf by <paramref name="posinf"/> and -inf by <paramref name="neginf"/>
    /// (by default the dtype's largest and lowest finite values), as PyTorch's <c>nan_to_num</c>. The gradient passes
    /// where x is finite and is 0 elsewhere. Integer and bool tensors are returned as a copy.
    /// </summary>
    public Tensor NanToNum(double nan = 0.0, double? posinf = null, double? neginf = null)
    {
        if (!DType.IsFloatingPoint()) return Clone();
        bool f32 = DType == DType.Float32;
        double pos = posinf ?? (f32 ? float.MaxValue : double.MaxValue), neg = neginf ?? (f32 ? float.MinValue : double.MinValue);
        var y = PointwiseRaw("NanToNum", this, new Kernels.NanToNumK<float>((float)nan, (float)pos, (float)neg), new Kernels.NanToNumK<double>(nan, pos, neg));
        return Op.Tracking(this) ? Op.Record(NanToNumOp, y, [this], (nan, pos, neg)) : y;
    }

    internal static readonly OpDef FillOp = new("Fill", OpFamily.Unary, "fill")
    {
        DTypes = DTypeSet.All,
        Vjp = (in OpCtx c, Tensor g, int i) => i == 0 ? ZerosLike(g) : g.Sum(),
        Jvp = (in OpCtx c, Tensor?[] t) => t[1] is { } tv ? BroadcastTangent(AlignTangent(tv, c.X(1), c.Y.Rank), c.Y) : null,
        BatchedJvp = true,
        Samples = () =>
        [
            new("2-d", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 4), OpSamples.Make(OpSamples.Domain.Real, 2)], t => t[0].Fill(t[1])),
            new("0-d", [OpSamples.Make(OpSamples.Domain.Real, 3), OpSamples.Make(OpSamples.Domain.Real, 4)], t => t[0].Fill(t[1])),
            new("noncontiguous", [OpSamples.Make(OpSamples.Domain.Real, 5, 3, 4).T, OpSamples.Make(OpSamples.Domain.Real, 6)], t => t[0].Fill(t[1])),
            new("empty", [OpSamples.Make(OpSamples.Domain.Real, 7, 0, 3), OpSamples.Make(OpSamples.Domain.Real, 8)], t => t[0].Fill(t[1])),
        ],
    };

    /// <summary>A tensor of this shape and dtype filled with the 0-d <paramref name="value"/> (PyTorch's out-of-place
    /// <c>fill</c>). The gradient flows to <paramref name="value"/> (summed); this tensor's gradient is 0.</summary>
    public Tensor Fill(Tensor value)
    {
        if (value.Rank != 0)
            throw new ShapeMismatchException($"Fill: the value must be a 0-d tensor, got shape {ShapeUtil.Format(value.Shape)} (filling a tensor of shape {ShapeUtil.Format(_shape)}). Reduce or index it to a scalar, or pass a double.");
        if (value.DType != DType) value = value.To(DType);
        var y = Full(ShapeArray, value.Item(), DType);
        if (!DType.IsFloatingPoint()) return y;
        return Op.Record(FillOp, y, [this, value]);
    }

    /// <summary>A tensor of this shape and dtype filled with <paramref name="value"/> (PyTorch's out-of-place <c>fill</c>).</summary>
    public Tensor Fill(double value) => Fill(ScalarLike(value));

    // ---- predicates (bool results, not differentiable) -----------------------------------------

    // recorded only by a tracer (Vmap), whose batching rule is the predicate itself (elementwise)
    private static OpDef Predicate(string name, string torch, Func<Tensor, Tensor> call) =>
        new(name, OpFamily.Unary, torch) { Differentiable = false, DTypes = DTypeSet.All, Batch = BatchRules.Unary(call) };

    internal static readonly OpDef IsNanOp = Predicate("IsNan", "isnan", x => x.IsNan()), IsInfOp = Predicate("IsInf", "isinf", x => x.IsInf()),
        IsFiniteOp = Predicate("IsFinite", "isfinite", x => x.IsFinite()), IsPosInfOp = Predicate("IsPosInf", "isposinf", x => x.IsPosInf()),
        IsNegInfOp = Predicate("IsNegInf", "isneginf", x => x.IsNegInf()), SignbitOp = Predicate("Signbit", "signbit", x => x.Signbit());

    /// <summary>Elementwise test on the values of any dtype, giving a bool tensor of the same shape (noted by an active
    /// tracer as a call of <paramref name="def"/>).</summary>
    private Tensor Test(OpDef def, Kernels.ValueTestKind kind, Func<long, bool> i64, bool forBool)
    {
        var y = TestRaw(kind, i64, forBool);
        if (Tracer.Depth > 0 && Tracer.IsTraced(this)) Tracer.Note(def, [y], [this], null);
        return y;
    }

    private Tensor TestRaw(Kernels.ValueTestKind kind, Func<long, bool> i64, bool forBool)
    {
        var y = Empty(ShapeArray, DType.Bool);
        var d = y.Storage.As<bool>().AsSpan(0, Numel);
        switch (DType)
        {
            // SIMD lane tests narrowed to bool bytes
            case DType.Float64: Kernels.ValueKernels.Test(DenseSpan<double>(), d, new Kernels.ValueTest<double>(kind)); break;
            case DType.Float32: Kernels.ValueKernels.Test(DenseSpan<float>(), d, new Kernels.ValueTest<float>(kind)); break;
            case DType.Int64: { var s = DenseSpan<long>(); for (int i = 0; i < d.Length; i++) d[i] = i64(s[i]); break; }
            default: d.Fill(forBool); break;
        }
        return y;
    }

    /// <summary>True where x is NaN (never for integer and bool tensors).</summary>
    public Tensor IsNan() => Test(IsNanOp, Kernels.ValueTestKind.IsNan, _ => false, false);

    /// <summary>True where x is +inf or -inf.</summary>
    public Tensor IsInf() => Test(IsInfOp, Kernels.ValueTestKind.IsInf, _ => false, false);

    /// <summary>True where x is neither NaN nor infinite (always for integer and bool tensors).</summary>
    public Tensor IsFinite() => Test(IsFiniteOp, Kernels.ValueTestKind.IsFinite, _ => true, true);

    /// <summary>True where x is +inf.</summary>
    public Tensor IsPosInf() => Test(IsPosInfOp, Kernels.ValueTestKind.IsPosInf, _ => false, false);

    /// <summary>True where x is -inf.</summary>
    public Tensor IsNegInf() => Test(IsNegInfOp, Kernels.ValueTestKind.IsNegInf, _ => false, false);

    /// <summary>True where the sign bit is set: negative values, -0.0 and NaNs with the sign bit (as PyTorch's <c>signbit</c>).</summary>
    public Tensor Signbit() => Test(SignbitOp, Kernels.ValueTestKind.Signbit, v => v < 0, false);

    // ---- derivative rules ------------------------------------------------------------------------

    [Stateless] internal readonly struct TanD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => 1.0 + y * y; }
    [Stateless] internal readonly struct AsinD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => T.Pow(1.0 - x * x, -0.5); }
    [Stateless] internal readonly struct AcosD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => -T.Pow(1.0 - x * x, -0.5); }
    [Stateless] internal readonly struct AtanD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => 1.0 / (1.0 + x * x); }
    [Stateless] internal readonly struct SinhD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => T.Sinh(x); }
    [Stateless] internal readonly struct CoshD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => T.Cosh(x); }
    [Stateless] internal readonly struct AsinhD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => T.Pow(x * x + 1.0, -0.5); }
    [Stateless] internal readonly struct AcoshD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => T.Pow(x * x - 1.0, -0.5); }
    [Stateless] internal readonly struct AtanhD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => 1.0 / (1.0 - x * x); }
    [Stateless] internal readonly struct Exp2D : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => Math.Log(2) * y; }
    [Stateless] internal readonly struct Expm1D : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => y + 1.0; }
    [Stateless] internal readonly struct Log2D : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => (1 / Math.Log(2)) / x; }
    [Stateless] internal readonly struct Log10D : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => (1 / Math.Log(10)) / x; }
    [Stateless] internal readonly struct Log1pD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => 1.0 / (x + 1.0); }
    [Stateless] internal readonly struct ErfcD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => -2 / Math.Sqrt(Math.PI) * T.Exp(-(x * x)); }
    [Stateless] internal readonly struct LgammaD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => T.Digamma(x); }
    [Stateless] internal readonly struct DigammaD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => T.Trigamma(x); }
    [Stateless] internal readonly struct ErfinvD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => Math.Sqrt(Math.PI) / 2 * T.Exp(y * y); }
}
