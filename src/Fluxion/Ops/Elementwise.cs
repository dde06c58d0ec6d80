using System.Numerics.Tensors;
using K = Fluxion.Kernels.Elementwise;

namespace Fluxion;

// Elementwise primitives: forward kernel, VJP and JVP of each op side by side.
// Subgradients at kinks follow PyTorch: Abs'(0) = 0, Relu'(0) = 0, LeakyRelu'(0) = slope,
// Clamp passes the gradient where min <= x <= max (inclusive), Maximum/Minimum split it evenly on ties.
public partial class Tensor
{
    // ---- binary arithmetic ---------------------------------------------------------------------

    /// <summary>Elementwise sum with broadcasting.</summary>
    public static Tensor Add(Tensor a, Tensor b)
    {
        var y = BinaryRaw("Add", a, b, K.Ops<float>.Add, K.Ops<double>.Add);
        return Op.Tracking(a, b) ? RecordAdd(a, b, y) : y;
    }

    // (recording lives in its own method: its lambdas' closure is then only allocated for tracked calls)
    private static Tensor RecordAdd(Tensor a, Tensor b, Tensor y) => Binary("Add", a, b, y, new AddRule(), null);

    /// <summary>Elementwise difference with broadcasting.</summary>
    public static Tensor Sub(Tensor a, Tensor b)
    {
        var y = BinaryRaw("Sub", a, b, K.Ops<float>.Sub, K.Ops<double>.Sub);
        return Op.Tracking(a, b) ? RecordSub(a, b, y) : y;
    }

    private static Tensor RecordSub(Tensor a, Tensor b, Tensor y) => Binary("Sub", a, b, y, new SubRule(), null);

    /// <summary>Expands an aligned tangent (only a broadcast operand had one) to the output's shape, keeping batch dims.</summary>
    private static Tensor? BroadcastTangent(Tensor? t, Tensor y)
    {
        if (t is null) return null;
        int nb = Math.Max(0, t.Rank - y.Rank); // a vector-mode tangent is aligned to [k, ...y's rank]
        return ShapeUtil.SameShape(t.Shape[nb..], y.Shape) ? t : t.Expand([.. t.ShapeArray[..nb], .. y.ShapeArray]);
    }

    /// <summary>Elementwise product with broadcasting.</summary>
    public static Tensor Mul(Tensor a, Tensor b)
    {
        var y = BinaryRaw("Mul", a, b, K.Ops<float>.Mul, K.Ops<double>.Mul);
        return Op.Tracking(a, b) ? RecordMul(a, b, y) : y;
    }

    // save only what the needed gradients read: dL/da reads b, dL/db reads a
    private static Tensor RecordMul(Tensor a, Tensor b, Tensor y) =>
        Binary("Mul", a, b, y, new MulRule(), a.RequiresGrad && b.RequiresGrad ? [a, b] : a.RequiresGrad ? [b] : [a]);

    /// <summary>Elementwise quotient with broadcasting.</summary>
    public static Tensor Div(Tensor a, Tensor b)
    {
        var y = BinaryRaw("Div", a, b, K.Ops<float>.Div, K.Ops<double>.Div);
        return Op.Tracking(a, b) ? RecordDiv(a, b, y) : y;
    }

    private static Tensor RecordDiv(Tensor a, Tensor b, Tensor y) => Binary("Div", a, b, y, new DivRule(), b.RequiresGrad ? [a, b] : [b]);

    // ---- derivative rules of the arithmetic ops (g·∂y/∂a, g·∂y/∂b; written once for tensors and raw scalars) ----

    private readonly struct AddRule : IBinaryRule
    {
        public bool IdentityA => true;
        public bool IdentityB => true;
        public T Da<T>(T g, T a, T b, T y) where T : IAlgebra<T> => g;
        public T Db<T>(T g, T a, T b, T y) where T : IAlgebra<T> => g;
    }

    private readonly struct SubRule : IBinaryRule
    {
        public bool IdentityA => true;
        public bool IdentityB => false;
        public T Da<T>(T g, T a, T b, T y) where T : IAlgebra<T> => g;
        public T Db<T>(T g, T a, T b, T y) where T : IAlgebra<T> => -g;
    }

    private readonly struct MulRule : IBinaryRule
    {
        public bool IdentityA => false;
        public bool IdentityB => false;
        public T Da<T>(T g, T a, T b, T y) where T : IAlgebra<T> => g * b;
        public T Db<T>(T g, T a, T b, T y) where T : IAlgebra<T> => g * a;
    }

    private readonly struct DivRule : IBinaryRule
    {
        public bool IdentityA => false;
        public bool IdentityB => false;
        public T Da<T>(T g, T a, T b, T y) where T : IAlgebra<T> => g / b;
        public T Db<T>(T g, T a, T b, T y) where T : IAlgebra<T> => -g * a / (b * b);
    }

    /// <summary>a raised to the power b, elementwise with broadcasting. d/db uses log(a), taken as 0 where a = 0 (as PyTorch).</summary>
    public static Tensor Pow(Tensor a, Tensor b)
    {
        var y = BinaryRaw("Pow", a, b, K.Ops<float>.Pow, K.Ops<double>.Pow);
        Tensor DA() => Where(b.Eq(0.0), 0.0, b * Pow(a, b - 1.0));
        Tensor DB() => Where(a.Eq(0.0) & b.Ge(0.0), 0.0, y * a.Log());
        return Op.Record("Pow", y, [a, b],
            [g => (g * DA()).SumTo(a._shape), g => (g * DB()).SumTo(b._shape)],
            jvp: t => AddTangents(AlignTangent(t[0], a, y.Rank) is { } ta ? ta * DA() : null, AlignTangent(t[1], b, y.Rank) is { } tb ? tb * DB() : null),
            save: [a, b, y], batchedJvp: true);
    }

    /// <summary>x raised to a scalar power (the gradient is 0 where the exponent is 0).</summary>
    public Tensor Pow(double exponent)
    {
        var x = this;
        var y = MapRaw("Pow", x,
            (s, d) => TensorPrimitives.Pow(s, (float)exponent, d),
            (s, d) => TensorPrimitives.Pow(s, exponent, d));
        return Unary("Pow", x, y, new PowD(exponent), Uses.Input);
    }

    /// <summary>Elementwise maximum with broadcasting; on ties the gradient is split evenly.</summary>
    public static Tensor Maximum(Tensor a, Tensor b) => MinMax("Maximum", a, b, K.Ops<float>.Maximum, K.Ops<double>.Maximum, max: true);

    /// <summary>Elementwise minimum with broadcasting; on ties the gradient is split evenly.</summary>
    public static Tensor Minimum(Tensor a, Tensor b) => MinMax("Minimum", a, b, K.Ops<float>.Minimum, K.Ops<double>.Minimum, max: false);

    private static Tensor MinMax(string name, Tensor a, Tensor b, K.BinaryKernel<float> f32, K.BinaryKernel<double> f64, bool max)
    {
        var y = BinaryRaw(name, a, b, f32, f64);
        // weight of a: 1 where a wins, 0.5 on ties, 0 where b wins
        Tensor WA() => Where(a.Eq(b), Scalar(0.5, a.DType), Where(max ? a.Gt(b) : a.Lt(b), 1.0, 0.0, a.DType));
        return Op.Record(name, y, [a, b],
            [g => (g * WA()).SumTo(a._shape), g => (g * (1.0 - WA())).SumTo(b._shape)],
            jvp: t => AddTangents(AlignTangent(t[0], a, y.Rank) is { } ta ? ta * WA() : null, AlignTangent(t[1], b, y.Rank) is { } tb ? tb * (1.0 - WA()) : null),
            save: [a, b], batchedJvp: true);
    }

    /// <summary>Python-style remainder (the result has the sign of the divisor), as PyTorch's <c>remainder</c>.
    /// d/da = 1, d/db = -floor(a / b).</summary>
    public static Tensor Remainder(Tensor a, Tensor b)
    {
        var y = BinaryRaw("Remainder", a, b, K.Ops<float>.Remainder, K.Ops<double>.Remainder);
        Tensor DB() => -(a / b).Detach().Floor();
        return Op.Record("Remainder", y, [a, b],
            [g => g.SumTo(a._shape), g => (g * DB()).SumTo(b._shape)],
            jvp: t => BroadcastTangent(AddTangents(AlignTangent(t[0], a, y.Rank), AlignTangent(t[1], b, y.Rank) is { } tb ? tb * DB() : null), y),
            save: [a, b], batchedJvp: true);
    }

    /// <summary>Remainder with a scalar divisor (see <see cref="Remainder(Tensor, Tensor)"/>).</summary>
    public Tensor Remainder(double divisor) => Remainder(this, ScalarLike(divisor));

    /// <summary>Sum of two possibly-absent tangents (null means zero).</summary>
    internal static Tensor? AddTangents(Tensor? a, Tensor? b) => a is null ? b : b is null ? a : a + b;

    // ---- operators -----------------------------------------------------------------------------

    /// <summary>Elementwise sum with broadcasting.</summary>
    public static Tensor operator +(Tensor a, Tensor b) => Add(a, b);
    /// <summary>Adds a scalar.</summary>
    public static Tensor operator +(Tensor a, double b) => Add(a, a.ScalarLike(b));
    /// <summary>Adds a scalar.</summary>
    public static Tensor operator +(double a, Tensor b) => Add(b.ScalarLike(a), b);
    /// <summary>Elementwise difference with broadcasting.</summary>
    public static Tensor operator -(Tensor a, Tensor b) => Sub(a, b);
    /// <summary>Subtracts a scalar.</summary>
    public static Tensor operator -(Tensor a, double b) => Sub(a, a.ScalarLike(b));
    /// <summary>Subtracts from a scalar.</summary>
    public static Tensor operator -(double a, Tensor b) => Sub(b.ScalarLike(a), b);
    /// <summary>Elementwise product with broadcasting.</summary>
    public static Tensor operator *(Tensor a, Tensor b) => Mul(a, b);
    /// <summary>Multiplies by a scalar.</summary>
    public static Tensor operator *(Tensor a, double b) => Mul(a, a.ScalarLike(b));
    /// <summary>Multiplies by a scalar.</summary>
    public static Tensor operator *(double a, Tensor b) => Mul(b.ScalarLike(a), b);
    /// <summary>Elementwise quotient with broadcasting.</summary>
    public static Tensor operator /(Tensor a, Tensor b) => Div(a, b);
    /// <summary>Divides by a scalar.</summary>
    public static Tensor operator /(Tensor a, double b) => Div(a, a.ScalarLike(b));
    /// <summary>Divides a scalar by each element.</summary>
    public static Tensor operator /(double a, Tensor b) => Div(b.ScalarLike(a), b);
    /// <summary>Negation.</summary>
    public static Tensor operator -(Tensor a) => a.Neg();
    /// <summary>Python-style remainder (see <see cref="Remainder(Tensor, Tensor)"/>).</summary>
    public static Tensor operator %(Tensor a, Tensor b) => Remainder(a, b);
    /// <summary>Python-style remainder by a scalar.</summary>
    public static Tensor operator %(Tensor a, double b) => Remainder(a, a.ScalarLike(b));

    /// <summary>Elementwise sum with broadcasting.</summary>
    public Tensor Add(Tensor other) => Add(this, other);
    /// <summary>Elementwise difference with broadcasting.</summary>
    public Tensor Sub(Tensor other) => Sub(this, other);
    /// <summary>Elementwise product with broadcasting.</summary>
    public Tensor Mul(Tensor other) => Mul(this, other);
    /// <summary>Elementwise quotient with broadcasting.</summary>
    public Tensor Div(Tensor other) => Div(this, other);
    /// <summary>Elementwise power with broadcasting.</summary>
    public Tensor Pow(Tensor exponent) => Pow(this, exponent);

    // ---- unary ---------------------------------------------------------------------------------

    /// <summary>-x.</summary>
    public Tensor Neg()
    {
        var y = MapRaw("Neg", this, TensorPrimitives.Negate, TensorPrimitives.Negate);
        return Op.Tracking(this) ? RecordNeg(this, y) : y;
    }

    private static Tensor RecordNeg(Tensor x, Tensor y)
    {
        return Op.Record("Neg", y, [x], [g => -g], jvp: t => t[0] is { } tx ? -tx : null, batchedJvp: true);
    }

    /// <summary>e^x.</summary>
    public Tensor Exp() => Unary("Exp", this, MapRaw("Exp", this, TensorPrimitives.Exp, TensorPrimitives.Exp), new ExpD(), Uses.Output);

    /// <summary>Natural logarithm.</summary>
    public Tensor Log() => Unary("Log", this, MapRaw("Log", this, TensorPrimitives.Log, TensorPrimitives.Log), new LogD(), Uses.Input);

    /// <summary>Square root (the gradient at 0 is +inf, as PyTorch's).</summary>
    public Tensor Sqrt() => Unary("Sqrt", this, MapRaw("Sqrt", this, TensorPrimitives.Sqrt, TensorPrimitives.Sqrt), new SqrtD(), Uses.Output);

    /// <summary>1 / sqrt(x).</summary>
    public Tensor Rsqrt() => Unary("Rsqrt", this, MapRaw("Rsqrt", this, TensorPrimitives.ReciprocalSqrt, TensorPrimitives.ReciprocalSqrt), new RsqrtD(), Uses.Output);

    /// <summary>|x|; the subgradient at 0 is 0 (sign(x)), as PyTorch.</summary>
    public Tensor Abs() => Unary("Abs", this, MapRaw("Abs", this, TensorPrimitives.Abs, TensorPrimitives.Abs), new AbsD(), Uses.Input);

    /// <summary>-1, 0 or 1 by the sign of x (0 for 0); its gradient is 0 everywhere.</summary>
    public Tensor Sign() => Unary("Sign", this, MapRaw("Sign", this, v => double.IsNaN(v) ? v : Math.Sign(v)), new ZeroD(), Uses.None);

    /// <summary>Largest integer not above x; its gradient is 0.</summary>
    public Tensor Floor() => Unary("Floor", this, MapRaw("Floor", this, TensorPrimitives.Floor, TensorPrimitives.Floor), new ZeroD(), Uses.None);

    /// <summary>Sine.</summary>
    public Tensor Sin() => Unary("Sin", this, MapRaw("Sin", this, TensorPrimitives.Sin, TensorPrimitives.Sin), new SinD(), Uses.Input);

    /// <summary>Cosine.</summary>
    public Tensor Cos() => Unary("Cos", this, MapRaw("Cos", this, TensorPrimitives.Cos, TensorPrimitives.Cos), new CosD(), Uses.Input);

    /// <summary>Hyperbolic tangent.</summary>
    public Tensor Tanh() => Unary("Tanh", this, MapRaw("Tanh", this, TensorPrimitives.Tanh, TensorPrimitives.Tanh), new TanhD(), Uses.Output);

    /// <summary>Logistic sigmoid 1 / (1 + e^-x).</summary>
    public Tensor Sigmoid() => Unary("Sigmoid", this, MapRaw("Sigmoid", this, TensorPrimitives.Sigmoid, TensorPrimitives.Sigmoid), new SigmoidD(), Uses.Output);

    /// <summary>max(x, 0); the subgradient at 0 is 0.</summary>
    public Tensor Relu()
    {
        var y = MapRaw("Relu", this, (s, d) => TensorPrimitives.Max(s, 0f, d), (s, d) => TensorPrimitives.Max(s, 0.0, d));
        if (!Op.Tracking(this)) return y;
        // backward and forward mode are one select kernel (ReluMask: g where y > 0), itself differentiable
        return Op.Record("Relu", y, [this], [g => ReluMask(g, y)], jvp: t => t[0] is { } tx ? ReluMask(tx, y) : null, save: [y], batchedJvp: true);
    }

    /// <summary>x for x &gt; 0, slope·x otherwise; the gradient at 0 is <paramref name="negativeSlope"/> (as PyTorch).</summary>
    public Tensor LeakyRelu(double negativeSlope = 0.01) => Unary("LeakyRelu", this,
        MapRaw("LeakyRelu", this, v => v > 0 ? v : v * negativeSlope),
        (x, _) => Where(x.Gt(0.0), 1.0, negativeSlope, x.DType), Uses.Input);

    /// <summary>The error function erf(x).</summary>
    public Tensor Erf() => Unary("Erf", this, MapRaw("Erf", this, SpecialFunctions.Erf),
        new ErfD(), Uses.Input);

    /// <summary>
    /// Gaussian error linear unit. <paramref name="approximate"/> "none" is x·Φ(x) with the exact
    /// normal CDF; "tanh" is 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))), as PyTorch's two modes.
    /// </summary>
    public Tensor Gelu(string approximate = "none")
    {
        if (approximate == "tanh")
        {
            double c = Math.Sqrt(2 / Math.PI);
            var x = this;
            return 0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).Tanh());
        }
        if (approximate != "none")
            throw new ArgumentException($"Gelu: approximate must be \"none\" or \"tanh\", got \"{approximate}\".");
        double s2 = Math.Sqrt(2);
        var y = MapRaw("Gelu", this, v => 0.5 * v * (1 + SpecialFunctions.Erf(v / s2)));
        // d/dx x·Φ(x) = Φ(x) + x·φ(x)
        return Unary("Gelu", this, y, new GeluD(), Uses.Input);
    }

    /// <summary>log(1 + e^(βx))/β, linear above <paramref name="threshold"/> (as PyTorch's softplus).</summary>
    public Tensor Softplus(double beta = 1, double threshold = 20)
    {
        var y = MapRaw("Softplus", this, v => v * beta > threshold ? v : (Math.Max(v * beta, 0) + Math.Log(1 + Math.Exp(-Math.Abs(v * beta)))) / beta);
        return Unary("Softplus", this, y,
            (x, _) => Where((x * beta).Gt(threshold), 1.0, 0.0, x.DType) + Where((x * beta).Le(threshold), 1.0, 0.0, x.DType) * (x * beta).Sigmoid(),
            Uses.Input);
    }

    /// <summary>Clamps to [min, max] (either bound may be null). The gradient passes where min &lt;= x &lt;= max.</summary>
    public Tensor Clamp(double? min = null, double? max = null)
    {
        if (min is null && max is null) throw new ArgumentException("Clamp: give at least one of min and max.");
        double lo = min ?? double.NegativeInfinity, hi = max ?? double.PositiveInfinity;
        var y = MapRaw("Clamp", this, v => double.IsNaN(v) ? v : Math.Min(Math.Max(v, lo), hi));
        return Unary("Clamp", this, y, (x, _) => Where(x.Ge(lo) & x.Le(hi), 1.0, 0.0, x.DType), Uses.Input);
    }

    /// <summary>x·x.</summary>
    public Tensor Square() => this * this;

    /// <summary>1 / x.</summary>
    public Tensor Reciprocal() => 1.0 / this;

    // ---- derivative rules of the unary ops (each written once: tensors for VJP/JVP, raw scalars for the fused backward) ----

    private readonly struct PowD(double exponent) : IDerivative
    {
        public T Eval<T>(T x, T y) where T : IAlgebra<T> => exponent == 0 ? T.ZerosLike(x) : exponent * T.Pow(x, exponent - 1);
    }
    private readonly struct ExpD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => y; }
    private readonly struct LogD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => 1.0 / x; }
    private readonly struct SqrtD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => 0.5 / y; }
    private readonly struct RsqrtD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => -0.5 * y * y * y; }
    private readonly struct AbsD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => T.Sign(x); }
    private readonly struct ZeroD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => T.ZerosLike(x); }
    private readonly struct SinD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => T.Cos(x); }
    private readonly struct CosD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => -T.Sin(x); }
    private readonly struct TanhD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => 1.0 - y * y; }
    private readonly struct SigmoidD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => y * (1.0 - y); }
    private readonly struct ErfD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => 2 / Math.Sqrt(Math.PI) * T.Exp(-(x * x)); }
    /// <summary>d/dx x·Φ(x) = Φ(x) + x·φ(x).</summary>
    private readonly struct GeluD : IDerivative
    {
        public T Eval<T>(T x, T y) where T : IAlgebra<T> => 0.5 * (1.0 + T.Erf(x / Math.Sqrt(2))) + x * (1 / Math.Sqrt(2 * Math.PI)) * T.Exp(-0.5 * x * x);
    }

    // ---- selection -----------------------------------------------------------------------------

    /// <summary>Elementwise choice: <paramref name="a"/> where <paramref name="condition"/> is true, else <paramref name="b"/> (broadcast).</summary>
    public static Tensor Where(Tensor condition, Tensor a, Tensor b)
    {
        if (condition.DType != DType.Bool)
            throw new DTypeMismatchException($"Where: the condition must be a bool tensor but has dtype {condition.DType.Name()} (shape {ShapeUtil.Format(condition.Shape)}). Build it with a comparison such as x.Gt(0).");
        CheckSameDType("Where", a, b);
        var shape = ShapeUtil.Broadcast("Where", ShapeUtil.Broadcast("Where", condition._shape, a._shape), b._shape);
        var y = Empty(shape, a.DType);
        var sc = BroadcastStrides(condition, shape);
        var sa = BroadcastStrides(a, shape);
        var sb = BroadcastStrides(b, shape);
        var c = condition.Storage.As<bool>();
        switch (a.DType)
        {
            case DType.Float32: K.Where(c, condition.Offset, sc, a.Storage.As<float>(), a.Offset, sa, b.Storage.As<float>(), b.Offset, sb, y.Storage.As<float>(), shape); break;
            case DType.Float64: K.Where(c, condition.Offset, sc, a.Storage.As<double>(), a.Offset, sa, b.Storage.As<double>(), b.Offset, sb, y.Storage.As<double>(), shape); break;
            case DType.Int64: K.Where(c, condition.Offset, sc, a.Storage.As<long>(), a.Offset, sa, b.Storage.As<long>(), b.Offset, sb, y.Storage.As<long>(), shape); break;
            case DType.Bool: K.Where(c, condition.Offset, sc, a.Storage.As<bool>(), a.Offset, sa, b.Storage.As<bool>(), b.Offset, sb, y.Storage.As<bool>(), shape); break;
        }
        if (!a.DType.IsFloatingPoint()) return y;
        return Op.Record("Where", y, [a, b],
            [g => Where(condition, g, ZerosLike(g)).SumTo(a._shape), g => Where(condition, ZerosLike(g), g).SumTo(b._shape)],
            jvp: t => t[0] is null && t[1] is null ? null
                : Where(condition, AlignTangent(t[0], a, y.Rank) ?? ZerosLike(a), AlignTangent(t[1], b, y.Rank) ?? ZerosLike(b)),
            batchedJvp: true);
    }

    /// <summary>Where with a scalar for the false branch.</summary>
    public static Tensor Where(Tensor condition, Tensor a, double b) => Where(condition, a, a.ScalarLike(b));

    /// <summary>Where with a scalar for the true branch.</summary>
    public static Tensor Where(Tensor condition, double a, Tensor b) => Where(condition, b.ScalarLike(a), b);

    /// <summary>Where with two scalars, producing a tensor of <paramref name="dtype"/> shaped like the condition.</summary>
    public static Tensor Where(Tensor condition, double a, double b, DType dtype = DType.Float32) => Where(condition, Scalar(a, dtype), Scalar(b, dtype));

    // ---- comparisons (not differentiable; produce bool) -----------------------------------------

    /// <summary>Elementwise a &gt; b.</summary>
    public Tensor Gt(Tensor other) => CompareRaw("Gt", this, other, (p, q) => p > q);
    /// <summary>Elementwise a &gt;= b.</summary>
    public Tensor Ge(Tensor other) => CompareRaw("Ge", this, other, (p, q) => p >= q);
    /// <summary>Elementwise a &lt; b.</summary>
    public Tensor Lt(Tensor other) => CompareRaw("Lt", this, other, (p, q) => p < q);
    /// <summary>Elementwise a &lt;= b.</summary>
    public Tensor Le(Tensor other) => CompareRaw("Le", this, other, (p, q) => p <= q);
    /// <summary>Elementwise a == b.</summary>
    public Tensor Eq(Tensor other) => CompareRaw("Eq", this, other, (p, q) => p == q);
    /// <summary>Elementwise a != b.</summary>
    public Tensor Ne(Tensor other) => CompareRaw("Ne", this, other, (p, q) => p != q);
    /// <summary>Elementwise x &gt; v.</summary>
    public Tensor Gt(double v) => Gt(ScalarLike(v));
    /// <summary>Elementwise x &gt;= v.</summary>
    public Tensor Ge(double v) => Ge(ScalarLike(v));
    /// <summary>Elementwise x &lt; v.</summary>
    public Tensor Lt(double v) => Lt(ScalarLike(v));
    /// <summary>Elementwise x &lt;= v.</summary>
    public Tensor Le(double v) => Le(ScalarLike(v));
    /// <summary>Elementwise x == v.</summary>
    public Tensor Eq(double v) => Eq(ScalarLike(v));
    /// <summary>Elementwise x != v.</summary>
    public Tensor Ne(double v) => Ne(ScalarLike(v));

    /// <summary>Logical and of two bool tensors (broadcast).</summary>
    public static Tensor operator &(Tensor a, Tensor b) => BoolOp("And", a, b, (p, q) => p != 0 && q != 0);
    /// <summary>Logical or of two bool tensors (broadcast).</summary>
    public static Tensor operator |(Tensor a, Tensor b) => BoolOp("Or", a, b, (p, q) => p != 0 || q != 0);
    /// <summary>Logical not of a bool tensor.</summary>
    public static Tensor operator !(Tensor a) => BoolOp("Not", a, a, (p, _) => p == 0);

    private static Tensor BoolOp(string op, Tensor a, Tensor b, Func<double, double, bool> f)
    {
        if (a.DType != DType.Bool || b.DType != DType.Bool)
            throw new DTypeMismatchException($"{op}: logical operators need bool tensors, got {a.DType.Name()} and {b.DType.Name()}.");
        return CompareRaw(op, a, b, f);
    }

    // ---- dtype conversion ----------------------------------------------------------------------

    /// <summary>A copy converted to <paramref name="dtype"/> (a new tensor even when the dtype is the same).
    /// Conversions between float types are differentiable.</summary>
    public Tensor To(DType dtype)
    {
        var src = this;
        var y = FromDoubles(ToDoubleArray(), ShapeArray, dtype);
        if (!DType.IsFloatingPoint() || !dtype.IsFloatingPoint()) return y;
        var from = DType;
        return Op.Record("To", y, [src], [g => g.To(from)], jvp: t => t[0]?.To(dtype), batchedJvp: true);
    }

    // ---- in-place ------------------------------------------------------------------------------

    /// <summary>Adds <paramref name="other"/> (broadcast to this shape) into this tensor, in place.</summary>
    public Tensor AddInPlace(Tensor other) => InPlace("AddInPlace", other, Add);

    /// <summary>Adds alpha·<paramref name="other"/> into this tensor, in place.</summary>
    public Tensor AddInPlace(Tensor other, double alpha) => InPlace("AddInPlace", other, (a, b) => a + b * alpha);

    /// <summary>Adds a scalar in place.</summary>
    public Tensor AddInPlace(double value) => InPlace("AddInPlace", ScalarLike(value), Add);

    /// <summary>Subtracts <paramref name="other"/> in place.</summary>
    public Tensor SubInPlace(Tensor other) => InPlace("SubInPlace", other, Sub);

    /// <summary>Multiplies by <paramref name="other"/> in place.</summary>
    public Tensor MulInPlace(Tensor other) => InPlace("MulInPlace", other, Mul);

    /// <summary>Multiplies by a scalar in place.</summary>
    public Tensor MulInPlace(double value) => InPlace("MulInPlace", ScalarLike(value), Mul);

    /// <summary>Divides by <paramref name="other"/> in place.</summary>
    public Tensor DivInPlace(Tensor other) => InPlace("DivInPlace", other, Div);

    /// <summary>Divides by a scalar in place.</summary>
    public Tensor DivInPlace(double value) => InPlace("DivInPlace", ScalarLike(value), Div);

    /// <summary>Clamps in place.</summary>
    public Tensor ClampInPlace(double? min = null, double? max = null) => InPlace("ClampInPlace", this, (a, _) => a.Clamp(min, max));

    /// <summary>Sets every element to <paramref name="value"/>, in place.</summary>
    public Tensor FillInPlace(double value) => InPlace("FillInPlace", ScalarLike(value), (a, v) => (a * 0.0) + v);

    /// <summary>Sets every element to zero, in place.</summary>
    public Tensor ZeroInPlace() => FillInPlace(0);

    /// <summary>Copies <paramref name="src"/> (broadcast to this shape, same dtype) into this tensor, in place.</summary>
    public Tensor CopyInPlace(Tensor src) => InPlace("CopyInPlace", src, (a, s) => a * 0.0 + s);

    /// <summary>Adds into this tensor without autograd (gradient accumulation, optimizer steps).</summary>
    internal void AddInPlaceNoGrad(Tensor other)
    {
        using (Autograd.NoGrad()) AddInPlace(other);
    }

    /// <summary>
    /// The one mechanism behind every in-place op. Without autograd involvement the result is written
    /// into this storage and the version is bumped. When grad mode is on and a tensor requires grad,
    /// the op is recorded against this tensor's previous history, then this tensor takes the new node
    /// as its history (as PyTorch rebases a tensor modified in place).
    /// </summary>
    private Tensor InPlace(string op, Tensor other, Func<Tensor, Tensor, Tensor> compute)
    {
        bool track = GradMode.Enabled && (RequiresGrad || other.RequiresGrad);
        bool forward = ForwardLevels.ActiveCount > 0 && (HasTangents || other.HasTangents);
        if (track)
        {
            if (IsLeaf && RequiresGrad)
                throw new AutogradException(
                    $"{op}: a leaf tensor that requires grad (shape {ShapeUtil.Format(_shape)}) cannot be modified in place while grad mode is on, because its gradient would be lost. " +
                    "Do the update inside using (Autograd.NoGrad()) { ... }, or work on a Clone().");
            if (ViewBase is not null)
                throw new AutogradException(
                    $"{op}: in-place modification of a view (shape {ShapeUtil.Format(_shape)}) that takes part in autograd is not supported. " +
                    "Use out-of-place ops (e.g. Cat or Where) to build the new value.");
        }
        var self = track || forward ? new Tensor(Storage, _shape, _strides, Offset) : this;
        if (track && GradFn is { } fn) self.SetGradFn(fn, OutputIndex);
        if (forward) CopyTangentsTo(self);
        Tensor result;
        using (Autograd.SetGradEnabled(track)) result = compute(self, other);
        if (!ShapeUtil.SameShape(result._shape, _shape))
            throw new ShapeMismatchException(
                $"{op}: the result has shape {ShapeUtil.Format(result.Shape)} but an in-place op cannot change the shape of its target {ShapeUtil.Format(_shape)} (the operand {ShapeUtil.Format(other.Shape)} must broadcast to the target).");
        if (result.DType != DType)
            throw new DTypeMismatchException($"{op}: the result has dtype {result.DType.Name()} but the target has dtype {DType.Name()}.");
        CopyRawFrom(result);
        Storage.BumpVersion();
        if (track && result.GradFn is { } node) SetGradFn(node, result.OutputIndex);
        // forward mode: the modified tensor takes the result's tangents
        if (HasTangents || result.HasTangents)
        {
            _tangents = null;
            result.CopyTangentsTo(this);
        }
        return this;
    }
}
