using System.Numerics.Tensors;
using K = Fluxion.Kernels.Elementwise;
using KC = Fluxion.Kernels.Conversion;

namespace Fluxion;

// Elementwise primitives: forward kernel, VJP and JVP of each op side by side.
// Subgradients at kinks follow PyTorch: Abs'(0) = 0, Relu'(0) = 0, LeakyRelu'(0) = slope,
// Clamp passes the gradient where min <= x <= max (inclusive), Maximum/Minimum split it evenly on ties.
/// <summary>The two forms of <see cref="Tensor.Gelu(GeluApproximation)"/>, as PyTorch's <c>approximate</c> argument.</summary>
public enum GeluApproximation
{
    /// <summary>x·Φ(x) with the exact normal CDF.</summary>
    None,
    /// <summary>The tanh approximation.</summary>
    Tanh,
}

[OpTable]
public partial class Tensor
{
    // ---- binary arithmetic ---------------------------------------------------------------------

    internal static readonly BinaryDef<AddRule> AddOp = new("Add", null, "add") { DTypes = DTypeSet.All, Kernels = (K.Ops<float>.Add, K.Ops<double>.Add), Batch = BatchRules.Binary(Add), Samples = () => OpSamples.Binary((a, b) => a + b) };
    internal static readonly BinaryDef<SubRule> SubOp = new("Sub", null, "sub") { DTypes = DTypeSet.Floats | DTypeSet.Int64, Kernels = (K.Ops<float>.Sub, K.Ops<double>.Sub), Batch = BatchRules.Binary(Sub), Samples = () => OpSamples.Binary((a, b) => a - b) };
    // save only what the needed gradients read: dL/da reads b, dL/db reads a
    internal static readonly BinaryDef<MulRule> MulOp = new("Mul", x => (x[0].RequiresGrad ? 2u : 0) | (x[1].RequiresGrad ? 1u : 0), "mul")
    { DTypes = DTypeSet.All, Kernels = (K.Ops<float>.Mul, K.Ops<double>.Mul), Batch = BatchRules.Binary(Mul), Samples = () => OpSamples.Binary((a, b) => a * b) };
    internal static readonly BinaryDef<DivRule> DivOp = new("Div", x => x[1].RequiresGrad ? 3u : 2u, "div", "true_divide")
    { DTypes = DTypeSet.All, Kernels = (K.Ops<float>.Div, K.Ops<double>.Div), Batch = BatchRules.Binary(Div), Samples = () => OpSamples.Binary((a, b) => a / b, bDomain: OpSamples.Domain.AwayFromZero) };

    /// <summary>Elementwise sum with broadcasting.</summary>
    public static Tensor Add(Tensor a, Tensor b)
    {
        Promote(ref a, ref b);
        if (!a.DType.IsFloatingPoint()) return IntegerArithmetic("Add", a, b);
        var y = AddOp.Run(a, b);
        return Op.Tracking(a, b) ? AddOp.Record(a, b, y) : y;
    }

    internal static readonly OpDef RsubOp = new("Rsub", OpFamily.Binary, "rsub")
    {
        CompositeOf = ["Sub", "Mul"],
        Samples = () => [.. OpSamples.Binary((a, b) => Rsub(a, b)), .. OpSamples.Binary((a, b) => Rsub(a, b, alpha: 2.5))],
    };

    /// <summary>PyTorch's <c>rsub</c>: <paramref name="other"/> − <paramref name="alpha"/>·<paramref name="input"/> (subtraction with the operands reversed).</summary>
    public static Tensor Rsub(Tensor input, Tensor other, double alpha = 1) => alpha == 1 ? other - input : other - alpha * input;

    /// <summary>Elementwise difference with broadcasting.</summary>
    public static Tensor Sub(Tensor a, Tensor b)
    {
        Promote(ref a, ref b);
        if (!a.DType.IsFloatingPoint()) return IntegerArithmetic("Sub", a, b);
        var y = SubOp.Run(a, b);
        return Op.Tracking(a, b) ? SubOp.Record(a, b, y) : y;
    }

    /// <summary>Expands an aligned tangent (only a broadcast operand had one) to the output's shape, keeping batch dims.</summary>
    internal static Tensor? BroadcastTangent(Tensor? t, Tensor y)
    {
        if (t is null) return null;
        int nb = Math.Max(0, t.Rank - y.Rank); // a vector-mode tangent is aligned to [k, ...y's rank]
        return ShapeUtil.SameShape(t.Shape[nb..], y.Shape) ? t : t.Expand([.. t.ShapeArray[..nb], .. y.ShapeArray]);
    }

    /// <summary>Elementwise product with broadcasting.</summary>
    public static Tensor Mul(Tensor a, Tensor b)
    {
        Promote(ref a, ref b);
        if (!a.DType.IsFloatingPoint()) return IntegerArithmetic("Mul", a, b);
        var y = MulOp.Run(a, b);
        return Op.Tracking(a, b) ? MulOp.Record(a, b, y) : y;
    }

    /// <summary>Elementwise quotient with broadcasting (true division: int64 and bool operands give float32, as PyTorch).</summary>
    public static Tensor Div(Tensor a, Tensor b)
    {
        Promote(ref a, ref b);
        if (!a.DType.IsFloatingPoint())
        {
            a = a.To(DType.Float32);
            b = b.To(DType.Float32);
        }
        var y = DivOp.Run(a, b);
        return Op.Tracking(a, b) ? DivOp.Record(a, b, y) : y;
    }

    /// <summary>
    /// Add, Sub and Mul of two int64 or two bool tensors (after promotion; not differentiable), as PyTorch: int64
    /// arithmetic wraps around on overflow; on bool, Add is logical or and Mul logical and, and Sub is an error.
    /// </summary>
    private static Tensor IntegerArithmetic(string op, Tensor a, Tensor b)
    {
        if (a.DType == DType.Int64)
            return op switch
            {
                "Add" => BinaryAnyRaw<long, long>(op, a, b, DType.Int64, static (p, q) => unchecked(p + q)),
                "Sub" => BinaryAnyRaw<long, long>(op, a, b, DType.Int64, static (p, q) => unchecked(p - q)),
                _ => BinaryAnyRaw<long, long>(op, a, b, DType.Int64, static (p, q) => unchecked(p * q)),
            };
        return op switch
        {
            "Add" => BinaryAnyRaw<bool, bool>(op, a, b, DType.Bool, static (p, q) => p | q),
            "Mul" => BinaryAnyRaw<bool, bool>(op, a, b, DType.Bool, static (p, q) => p & q),
            _ => throw new DTypeMismatchException(
                $"{op}: subtraction of two bool tensors (shapes {ShapeUtil.Format(a.Shape)} and {ShapeUtil.Format(b.Shape)}) is not supported, as in PyTorch. " +
                "Use LogicalXor (the ^ operator) for the truth-value difference, or convert with To(DType.Int64) first."),
        };
    }

    // ---- derivative rules of the arithmetic ops (g·∂y/∂a, g·∂y/∂b; written once for tensors and raw scalars) ----

    [Stateless]
    internal readonly struct AddRule : IBinaryRule
    {
        public bool IdentityA => true;
        public bool IdentityB => true;
        public T Da<T>(T g, T a, T b, T y) where T : IAlgebra<T> => g;
        public T Db<T>(T g, T a, T b, T y) where T : IAlgebra<T> => g;
    }

    [Stateless]
    internal readonly struct SubRule : IBinaryRule
    {
        public bool IdentityA => true;
        public bool IdentityB => false;
        public T Da<T>(T g, T a, T b, T y) where T : IAlgebra<T> => g;
        public T Db<T>(T g, T a, T b, T y) where T : IAlgebra<T> => -g;
    }

    [Stateless]
    internal readonly struct MulRule : IBinaryRule
    {
        public bool IdentityA => false;
        public bool IdentityB => false;
        public T Da<T>(T g, T a, T b, T y) where T : IAlgebra<T> => g * b;
        public T Db<T>(T g, T a, T b, T y) where T : IAlgebra<T> => g * a;
    }

    [Stateless]
    internal readonly struct DivRule : IBinaryRule
    {
        public bool IdentityA => false;
        public bool IdentityB => false;
        public T Da<T>(T g, T a, T b, T y) where T : IAlgebra<T> => g / b;
        public T Db<T>(T g, T a, T b, T y) where T : IAlgebra<T> => -g * a / (b * b);
    }

    // d/da = b·a^(b-1) (0 where b = 0); d/db = y·log(a), taken as 0 where a = 0 and b >= 0 (as PyTorch)
    private static Tensor PowDA(in OpCtx c) => Where(c.X(1).Eq(0.0), 0.0, c.X(1) * Pow(c.X(0), c.X(1) - 1.0));
    private static Tensor PowDB(in OpCtx c) => Where(c.X(0).Eq(0.0) & c.X(1).Ge(0.0), 0.0, c.Y * c.X(0).Log());

    internal static readonly OpDef PowOp = new("Pow", OpFamily.Binary, "pow", "float_power")
    {
        Vjp = (in OpCtx c, Tensor g, int i) => (g * (i == 0 ? PowDA(c) : PowDB(c))).SumTo(c.Shape(i)),
        Jvp = (in OpCtx c, Tensor?[] t) => AddTangents(
            AlignTangent(t[0], c.X(0), c.Y.Rank) is { } ta ? ta * PowDA(c) : null,
            AlignTangent(t[1], c.X(1), c.Y.Rank) is { } tb ? tb * PowDB(c) : null),
        BatchedJvp = true, Saves = 3u | OpDef.SaveOutput,
        Batch = BatchRules.Binary(Pow),
        Samples = () => OpSamples.Binary(Pow, aDomain: OpSamples.Domain.Positive),
    };

    /// <summary>a raised to the power b, elementwise with broadcasting. d/db uses log(a), taken as 0 where a = 0 (as PyTorch).</summary>
    public static Tensor Pow(Tensor a, Tensor b)
    {
        Promote(ref a, ref b);
        var y = BinaryRaw("Pow", a, b, K.Ops<float>.Pow, K.Ops<double>.Pow);
        return Op.Record(PowOp, y, [a, b]);
    }

    internal static readonly UnaryDef<PowD> PowScalarOp = new("PowScalar", Uses.Input, null, null, "pow")
    {
        Batch = BatchRules.Unary((x, a) => x.Pow(((PowD)a!).Exponent)),
        Samples = () => [.. OpSamples.Unary(x => x.Pow(3)), .. OpSamples.Unary(x => x.Pow(0.5), OpSamples.Domain.Positive), .. OpSamples.Unary(x => x.Pow(-1.5), OpSamples.Domain.Positive)],
    };

    /// <summary>x raised to a scalar power (the gradient is 0 where the exponent is 0).</summary>
    public Tensor Pow(double exponent)
    {
        // PyTorch's special exponents (its pow_tensor_scalar kernels): products, sqrt, rsqrt, reciprocal; SIMD, 2 threads
        var y = exponent switch
        {
            2 => MapRaw("Pow", this, (s, d) => Kernels.VecMath.Chunked(s, d, (a, r) => TensorPrimitives.Multiply(a, a, r)), (s, d) => Kernels.VecMath.Chunked(s, d, (a, r) => TensorPrimitives.Multiply(a, a, r))),
            3 => MapRaw("Pow", this, (s, d) => Kernels.VecMath.Chunked(s, d, (a, r) => { TensorPrimitives.Multiply(a, a, r); TensorPrimitives.Multiply(r, a, r); }),
                (s, d) => Kernels.VecMath.Chunked(s, d, (a, r) => { TensorPrimitives.Multiply(a, a, r); TensorPrimitives.Multiply(r, a, r); })),
            0.5 => MapRaw("Pow", this, (s, d) => Kernels.VecMath.Chunked(s, d, TensorPrimitives.Sqrt), (s, d) => Kernels.VecMath.Chunked(s, d, TensorPrimitives.Sqrt)),
            -0.5 => MapRaw("Pow", this, (s, d) => Kernels.VecMath.Chunked(s, d, TensorPrimitives.ReciprocalSqrt), (s, d) => Kernels.VecMath.Chunked(s, d, TensorPrimitives.ReciprocalSqrt)),
            -1 => MapRaw("Pow", this, (s, d) => Kernels.VecMath.Chunked(s, d, (a, r) => TensorPrimitives.Divide(1f, a, r)), (s, d) => Kernels.VecMath.Chunked(s, d, (a, r) => TensorPrimitives.Divide(1.0, a, r))),
            _ => MapRaw("Pow", this,
                (s, d) => Kernels.VecMath.Chunked(s, d, (a, r) => TensorPrimitives.Pow(a, (float)exponent, r)),
                (s, d) => Kernels.VecMath.Chunked(s, d, (a, r) => TensorPrimitives.Pow(a, exponent, r))),
        };
        return PowScalarOp.Record(this, y, new PowD(exponent));
    }

    /// <summary>Elementwise maximum with broadcasting; on ties the gradient is split evenly.</summary>
    public static Tensor Maximum(Tensor a, Tensor b) => MinMax("Maximum", a, b, K.Ops<float>.Maximum, K.Ops<double>.Maximum, max: true);

    /// <summary>Elementwise minimum with broadcasting; on ties the gradient is split evenly.</summary>
    public static Tensor Minimum(Tensor a, Tensor b) => MinMax("Minimum", a, b, K.Ops<float>.Minimum, K.Ops<double>.Minimum, max: false);

    // PyTorch's derivatives.yaml: where(a == b, g/2, g), zeroed where the other operand wins (a < b for maximum's a,
    // a > b for its b; the reverse for minimum); a NaN comparison zeroes nothing, so both operands get g there
    private static bool MinMaxZeroWhereLess(bool max, int input) => max == (input == 0);

    private static Tensor MinMaxGrad(Tensor g, Tensor a, Tensor b, bool zeroWhereLess) =>
        Where(zeroWhereLess ? a.Lt(b) : a.Gt(b), 0.0, Where(a.Eq(b), g * 0.5, g));

    private static FusedDef MinMaxDef(string name, string torch, bool max) => new(name, OpFamily.Binary, torch)
    {
        Vjp = (in OpCtx c, Tensor g, int i) => MinMaxGrad(g, c.X(0), c.X(1), MinMaxZeroWhereLess(max, i)).SumTo(c.Shape(i)),
        Jvp = (in OpCtx c, Tensor?[] t) => BroadcastTangent(AddTangents(
            AlignTangent(t[0], c.X(0), c.Y.Rank) is { } ta ? MinMaxGrad(ta, c.X(0), c.X(1), MinMaxZeroWhereLess(max, 0)) : null,
            AlignTangent(t[1], c.X(1), c.Y.Rank) is { } tb ? MinMaxGrad(tb, c.X(0), c.X(1), MinMaxZeroWhereLess(max, 1)) : null), c.Y),
        FirstOrder = (in OpCtx c, Tensor[] g, bool[] needs) =>
        {
            Tensor? ga = null, gb = null;
            bool za = MinMaxZeroWhereLess(max, 0), zb = MinMaxZeroWhereLess(max, 1);
            if (needs[0] && (ga = BinaryGradRaw(g[0], c.X(0), c.X(1), new Kernels.MaxMinGradK<float>(za), new Kernels.MaxMinGradK<double>(za))) is null) return null;
            if (needs[1] && (gb = BinaryGradRaw(g[0], c.X(0), c.X(1), new Kernels.MaxMinGradK<float>(zb), new Kernels.MaxMinGradK<double>(zb))) is null) return null;
            return [ga, gb];
        },
        FusedDoc = "one SIMD pass per operand on same-shape operands (first-order passes)",
        BatchedJvp = true, Saves = 3u,
        Batch = BatchRules.Binary(max ? Maximum : Minimum),
        Samples = () => OpSamples.Binary(max ? Maximum : Minimum),
    };

    internal static readonly FusedDef MaximumOp = MinMaxDef("Maximum", "maximum", max: true);
    internal static readonly FusedDef MinimumOp = MinMaxDef("Minimum", "minimum", max: false);

    private static Tensor MinMax(string name, Tensor a, Tensor b, K.BinaryKernel<float> f32, K.BinaryKernel<double> f64, bool max)
    {
        Promote(ref a, ref b);
        var y = BinaryRaw(name, a, b, f32, f64);
        return Op.Record(max ? MaximumOp : MinimumOp, y, [a, b]);
    }

    private static Tensor RemainderDB(in OpCtx c) => -(c.X(0) / c.X(1)).Detach().Floor();

    internal static readonly OpDef RemainderOp = new("Remainder", OpFamily.Binary, "remainder")
    {
        Vjp = (in OpCtx c, Tensor g, int i) => i == 0 ? g.SumTo(c.Shape(0)) : (g * RemainderDB(c)).SumTo(c.Shape(1)),
        Jvp = (in OpCtx c, Tensor?[] t) => BroadcastTangent(AddTangents(AlignTangent(t[0], c.X(0), c.Y.Rank),
            AlignTangent(t[1], c.X(1), c.Y.Rank) is { } tb ? tb * RemainderDB(c) : null), c.Y),
        BatchedJvp = true, Saves = 3u, DTypes = DTypeSet.Floats | DTypeSet.Int64,
        Batch = BatchRules.Binary(Remainder),
        Samples = () => OpSamples.Binary(Remainder, bDomain: OpSamples.Domain.AwayFromZero),
    };

    /// <summary>Python-style remainder (the result has the sign of the divisor), as PyTorch's <c>remainder</c>
    /// (float: exact, b = 0 gives NaN; int64: a zero divisor throws). d/da = 1, d/db = -floor(a / b).</summary>
    public static Tensor Remainder(Tensor a, Tensor b)
    {
        Promote(ref a, ref b);
        if (a.DType == DType.Int64 && b.DType == DType.Int64)
        {
            CheckNoZeroDivisor("Remainder", b);
            return BinaryAnyRaw<long, long>("Remainder", a, b, DType.Int64, static (p, q) =>
            {
                long r = Kernels.BinaryMath.Fmod(p, q);
                return r != 0 && (r < 0) != (q < 0) ? r + q : r;
            });
        }
        var y = BinaryRaw("Remainder", a, b, K.Ops<float>.Remainder, K.Ops<double>.Remainder);
        return Op.Record(RemainderOp, y, [a, b]);
    }

    /// <summary>Remainder with a scalar divisor (see <see cref="Remainder(Tensor, Tensor)"/>).</summary>
    public Tensor Remainder(double divisor) => Remainder(this, ScalarOperand(divisor));

    /// <summary>Remainder with an integer scalar divisor (an int64 tensor stays int64).</summary>
    public Tensor Remainder(long divisor) => Remainder(this, ScalarOperand(divisor));

    /// <summary>Sum of two possibly-absent tangents (null means zero).</summary>
    internal static Tensor? AddTangents(Tensor? a, Tensor? b) => a is null ? b : b is null ? a : a + b;

    // ---- operators -----------------------------------------------------------------------------
    // A scalar operand takes part in type promotion by category only (DTypes): a double never widens a float tensor,
    // and an integer tensor with a double gives float32; a long (an int literal) keeps an int64 tensor int64.

    /// <summary>Elementwise sum with broadcasting.</summary>
    public static Tensor operator +(Tensor a, Tensor b) => Add(a, b);
    /// <summary>Adds a scalar.</summary>
    public static Tensor operator +(Tensor a, double b) => Add(a, a.ScalarOperand(b));
    /// <summary>Adds a scalar.</summary>
    public static Tensor operator +(double a, Tensor b) => Add(b.ScalarOperand(a), b);
    /// <summary>Elementwise difference with broadcasting.</summary>
    public static Tensor operator -(Tensor a, Tensor b) => Sub(a, b);
    /// <summary>Subtracts a scalar.</summary>
    public static Tensor operator -(Tensor a, double b) => Sub(a, a.ScalarOperand(b));
    /// <summary>Subtracts from a scalar.</summary>
    public static Tensor operator -(double a, Tensor b) => Sub(b.ScalarOperand(a), b);
    /// <summary>Elementwise product with broadcasting.</summary>
    public static Tensor operator *(Tensor a, Tensor b) => Mul(a, b);
    /// <summary>Multiplies by a scalar.</summary>
    public static Tensor operator *(Tensor a, double b) => Mul(a, a.ScalarOperand(b));
    /// <summary>Multiplies by a scalar.</summary>
    public static Tensor operator *(double a, Tensor b) => Mul(b.ScalarOperand(a), b);
    /// <summary>Elementwise quotient with broadcasting.</summary>
    public static Tensor operator /(Tensor a, Tensor b) => Div(a, b);
    /// <summary>Divides by a scalar.</summary>
    public static Tensor operator /(Tensor a, double b) => Div(a, a.ScalarOperand(b));
    /// <summary>Divides a scalar by each element.</summary>
    public static Tensor operator /(double a, Tensor b) => Div(b.ScalarOperand(a), b);
    /// <summary>Adds an integer scalar (which counts as int64 in type promotion: an int64 tensor stays int64).</summary>
    public static Tensor operator +(Tensor a, long b) => Add(a, a.ScalarOperand(b));
    /// <summary>Adds an integer scalar.</summary>
    public static Tensor operator +(long a, Tensor b) => Add(b.ScalarOperand(a), b);
    /// <summary>Subtracts an integer scalar.</summary>
    public static Tensor operator -(Tensor a, long b) => Sub(a, a.ScalarOperand(b));
    /// <summary>Subtracts from an integer scalar.</summary>
    public static Tensor operator -(long a, Tensor b) => Sub(b.ScalarOperand(a), b);
    /// <summary>Multiplies by an integer scalar.</summary>
    public static Tensor operator *(Tensor a, long b) => Mul(a, a.ScalarOperand(b));
    /// <summary>Multiplies by an integer scalar.</summary>
    public static Tensor operator *(long a, Tensor b) => Mul(b.ScalarOperand(a), b);
    /// <summary>Divides by an integer scalar (true division: an int64 tensor gives float32).</summary>
    public static Tensor operator /(Tensor a, long b) => Div(a, a.ScalarOperand(b));
    /// <summary>Divides an integer scalar by each element.</summary>
    public static Tensor operator /(long a, Tensor b) => Div(b.ScalarOperand(a), b);
    /// <summary>Negation.</summary>
    public static Tensor operator -(Tensor a) => a.Neg();
    /// <summary>Python-style remainder (see <see cref="Remainder(Tensor, Tensor)"/>).</summary>
    public static Tensor operator %(Tensor a, Tensor b) => Remainder(a, b);
    /// <summary>Python-style remainder by a scalar.</summary>
    public static Tensor operator %(Tensor a, double b) => Remainder(a, a.ScalarOperand(b));
    /// <summary>Python-style remainder by an integer scalar (an int64 tensor stays int64).</summary>
    public static Tensor operator %(Tensor a, long b) => Remainder(a, a.ScalarOperand(b));

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

    internal static readonly OpDef NegOp = new("Neg", OpFamily.Unary, "neg")
    {
        Linear = true,
        Vjp = (in OpCtx c, Tensor g, int i) => -g,
        Jvp = (in OpCtx c, Tensor?[] t) => t[0] is { } tx ? -tx : null,
        BatchedJvp = true,
        Samples = () => OpSamples.Unary(x => -x),
    };

    /// <summary>-x.</summary>
    public Tensor Neg()
    {
        var y = MapRaw("Neg", this, TensorPrimitives.Negate, TensorPrimitives.Negate);
        return Op.Tracking(this) ? Op.Record(NegOp, y, [this]) : y;
    }

    internal static readonly UnaryDef<ExpD> ExpOp = new("Exp", Uses.Output, Kernels.VecMath32.Map<Kernels.VecMath32.ExpF>, (s, d) => Kernels.VecMath.Chunked(s, d, TensorPrimitives.Exp), "exp") { Register32 = Kernels.VecMath32.Exp, Samples = () => OpSamples.Unary(x => x.Exp()) };
    internal static readonly UnaryDef<LogD> LogOp = new("Log", Uses.Input, (s, d) => Kernels.VecMath.Chunked(s, d, TensorPrimitives.Log), (s, d) => Kernels.VecMath.Chunked(s, d, TensorPrimitives.Log), "log") { Samples = () => OpSamples.Unary(x => x.Log(), OpSamples.Domain.Positive) };
    internal static readonly UnaryDef<SqrtD> SqrtOp = new("Sqrt", Uses.Output, TensorPrimitives.Sqrt, TensorPrimitives.Sqrt, "sqrt") { Register32 = System.Runtime.Intrinsics.Vector256.Sqrt, Register64 = System.Runtime.Intrinsics.Vector256.Sqrt, Samples = () => OpSamples.Unary(x => x.Sqrt(), OpSamples.Domain.Positive) };
    internal static readonly UnaryDef<RsqrtD> RsqrtOp = new("Rsqrt", Uses.Output, TensorPrimitives.ReciprocalSqrt, TensorPrimitives.ReciprocalSqrt, "rsqrt") { Samples = () => OpSamples.Unary(x => x.Rsqrt(), OpSamples.Domain.Positive) };
    internal static readonly UnaryDef<AbsD> AbsOp = new("Abs", Uses.Input, TensorPrimitives.Abs, TensorPrimitives.Abs, "abs") { Register32 = System.Runtime.Intrinsics.Vector256.Abs, Register64 = System.Runtime.Intrinsics.Vector256.Abs, Samples = () => OpSamples.Unary(x => x.Abs(), OpSamples.Domain.AwayFromZero) };
    internal static readonly UnaryDef<ZeroD> SignOp = new("Sign", Uses.None, (s, d) => MapSign(s, d), (s, d) => MapSign(s, d), "sign", "sgn") { Samples = () => OpSamples.Unary(x => x.Sign() * x, OpSamples.Domain.AwayFromZero) };
    internal static readonly UnaryDef<ZeroD> FloorOp = new("Floor", Uses.None, TensorPrimitives.Floor, TensorPrimitives.Floor, "floor") { Register32 = System.Runtime.Intrinsics.Vector256.Floor, Register64 = System.Runtime.Intrinsics.Vector256.Floor, Samples = () => OpSamples.Unary(x => x.Floor() + x, OpSamples.Domain.AwayFromIntegers) };
    // float64 sin/cos: Vector256.Sin/Cos through VecMath.Map, not TensorPrimitives.Sin/Cos, whose float64 results change in the
    // last bit when the JIT re-tiers its code (the same input gave different bits on later calls in one process)
    internal static readonly UnaryDef<SinD> SinOp = new("Sin", Uses.Input, (s, d) => Kernels.VecMath.Chunked(s, d, TensorPrimitives.Sin), Kernels.VecMath.Map<Kernels.VecMath.SinF>, "sin") { Samples = () => OpSamples.Unary(x => x.Sin()) };
    internal static readonly UnaryDef<CosD> CosOp = new("Cos", Uses.Input, (s, d) => Kernels.VecMath.Chunked(s, d, TensorPrimitives.Cos), Kernels.VecMath.Map<Kernels.VecMath.CosF>, "cos") { Samples = () => OpSamples.Unary(x => x.Cos()) };
    // float32: Kernels.VecMath32 (float lanes, a few ulps); float64 tanh: Math.Tanh (TensorPrimitives.Tanh is inaccurate for small |x|, Kernels.Special.Tanh says how; issue 16)
    internal static readonly UnaryDef<TanhD> TanhOp = new("Tanh", Uses.Output, Kernels.VecMath32.Map<Kernels.VecMath32.TanhF>, (s, d) => Kernels.VecMath.Chunked(s, d, Kernels.Special.Tanh), "tanh") { Register32 = Kernels.VecMath32.Tanh, Register64 = Kernels.Special.Tanh, Samples = () => OpSamples.Unary(x => x.Tanh()) };
    internal static readonly UnaryDef<SigmoidD> SigmoidOp = new("Sigmoid", Uses.Output, Kernels.VecMath32.Map<Kernels.VecMath32.SigmoidF>, (s, d) => Kernels.VecMath.Chunked(s, d, TensorPrimitives.Sigmoid), "sigmoid") { Register32 = Kernels.VecMath32.Sigmoid, Samples = () => OpSamples.Unary(x => x.Sigmoid()) };
    internal static readonly UnaryDef<ErfD> ErfOp = new("Erf", Uses.Input, Kernels.VecMath32.Map<Kernels.VecMath32.ErfF>, Kernels.VecMath.Map<Kernels.VecMath.ErfF>, "erf") { Samples = () => OpSamples.Unary(x => x.Erf()) };
    internal static readonly UnaryDef<GeluD> GeluOp = new("Gelu", Uses.Input, Kernels.VecMath32.Map<Kernels.VecMath32.GeluF>, Kernels.VecMath.Map<Kernels.VecMath.GeluF>, "nn.functional.gelu")
    {
        Family = OpFamily.NN, Samples = () => [.. OpSamples.Unary(x => x.Gelu()), .. OpSamples.Unary(x => x.Gelu(GeluApproximation.Tanh))] };

    // sign as PyTorch: (0 < x) - (x < 0), so ±0 gives +0 and NaN stays NaN. Vector lanes (T.Sign is a call that
    // throws on NaN: 50x slower than the SIMD elementwise ops on [1024, 1024])
    private static void MapSign<T>(ReadOnlySpan<T> s, Span<T> d) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        int i = 0, n = d.Length;
        if (System.Numerics.Vector.IsHardwareAccelerated && System.Numerics.Vector<T>.IsSupported)
        {
            var one = System.Numerics.Vector<T>.One;
            var zero = System.Numerics.Vector<T>.Zero;
            for (int w = System.Numerics.Vector<T>.Count; i <= n - w; i += w)
            {
                var x = new System.Numerics.Vector<T>(s.Slice(i, w));
                var r = System.Numerics.Vector.ConditionalSelect(System.Numerics.Vector.GreaterThan(x, zero), one, zero)
                    - System.Numerics.Vector.ConditionalSelect(System.Numerics.Vector.LessThan(x, zero), one, zero);
                System.Numerics.Vector.ConditionalSelect(System.Numerics.Vector.Equals(x, x), r, x).CopyTo(d.Slice(i, w));
            }
        }
        for (; i < n; i++) d[i] = T.IsNaN(s[i]) ? s[i] : s[i] > T.Zero ? T.One : s[i] < T.Zero ? -T.One : T.Zero;
    }

    /// <summary>e^x.</summary>
    public Tensor Exp() => ExpOp.Call(this);

    /// <summary>Natural logarithm.</summary>
    public Tensor Log() => LogOp.Call(this);

    /// <summary>Square root (the gradient at 0 is +inf, as PyTorch's).</summary>
    public Tensor Sqrt() => SqrtOp.Call(this);

    /// <summary>1 / sqrt(x).</summary>
    public Tensor Rsqrt() => RsqrtOp.Call(this);

    /// <summary>|x|; the subgradient at 0 is 0 (sign(x)), as PyTorch.</summary>
    public Tensor Abs() => AbsOp.Call(this);

    /// <summary>-1, 0 or 1 by the sign of x (0 for 0); its gradient is 0 everywhere.</summary>
    public Tensor Sign() => SignOp.Call(this);

    /// <summary>Largest integer not above x; its gradient is 0.</summary>
    public Tensor Floor() => FloorOp.Call(this);

    /// <summary>Sine.</summary>
    public Tensor Sin() => SinOp.Call(this);

    /// <summary>Cosine.</summary>
    public Tensor Cos() => CosOp.Call(this);

    /// <summary>Hyperbolic tangent.</summary>
    public Tensor Tanh() => TanhOp.Call(this);

    /// <summary>Logistic sigmoid 1 / (1 + e^-x).</summary>
    public Tensor Sigmoid() => SigmoidOp.Call(this);

    /// <summary>The error function erf(x).</summary>
    public Tensor Erf() => ErfOp.Call(this);

    // backward and forward mode are one select kernel (ReluMask: g where y > 0), itself differentiable
    internal static readonly OpDef ReluOp = new("Relu", OpFamily.NN, "nn.functional.relu")
    {
        Vjp = (in OpCtx c, Tensor g, int i) => ReluMask(g, c.Y),
        Jvp = (in OpCtx c, Tensor?[] t) => t[0] is { } tx ? ReluMask(tx, c.Y) : null,
        BatchedJvp = true, Saves = OpDef.SaveOutput,
        Batch = BatchRules.Unary(x => x.Relu()),
        Samples = () => OpSamples.Unary(x => x.Relu(), OpSamples.Domain.AwayFromZero),
    };

    /// <summary>max(x, 0); the subgradient at 0 is 0.</summary>
    public Tensor Relu()
    {
        var y = MapRaw("Relu", this, (s, d) => TensorPrimitives.Max(s, 0f, d), (s, d) => TensorPrimitives.Max(s, 0.0, d));
        return Op.Tracking(this) ? Op.Record(ReluOp, y, [this]) : y;
    }

    /// <summary>An elementwise op whose derivative f'(x) depends on the call's scalar attribute(s): VJP g·f'(x), JVP t·f'(x);
    /// <paramref name="call"/> runs the op on a tensor with the recorded attribute(s) (the batching rule: elementwise, so any shape).</summary>
    private static OpDef ScaledByDerivative(string name, OpFamily family, Func<Tensor, object, Tensor> derivative, Func<Tensor, object, Tensor> call,
        Func<IEnumerable<OpSample>> samples, params string[] torch) =>
        new(name, family, torch)
        {
            Vjp = (in OpCtx c, Tensor g, int i) => g * derivative(c.X(0), c.Attr!),
            Jvp = (in OpCtx c, Tensor?[] t) => t[0] is { } tx ? tx * derivative(c.X(0), c.Attr!) : null,
            BatchedJvp = true, Saves = 1u, Samples = samples,
            Batch = BatchRules.Unary((x, a) => call(x, a!)),
        };

    internal static readonly FusedDef LeakyReluOp = PointwiseDef("LeakyRelu", OpFamily.NN, "nn.functional.leaky_relu",
        (g, x, slope) => Where(x.Gt(0.0), g, g * (double)slope!),
        (g, x, slope) => PointwiseGradRaw(g, x, new Kernels.LeakyReluGradK<float>((float)(double)slope!), new Kernels.LeakyReluGradK<double>((double)slope!)),
        (x, slope) => x.LeakyRelu((double)slope!), () => OpSamples.Unary(x => x.LeakyRelu(0.2), OpSamples.Domain.AwayFromZero));

    /// <summary>x for x &gt; 0, slope·x otherwise; the gradient at 0 is <paramref name="negativeSlope"/> (as PyTorch).</summary>
    public Tensor LeakyRelu(double negativeSlope = 0.01)
    {
        // float32 computes in float32 with the slope rounded, as PyTorch
        var y = PointwiseRaw("LeakyRelu", this, new Kernels.LeakyReluK<float>((float)negativeSlope), new Kernels.LeakyReluK<double>(negativeSlope));
        return Op.Tracking(this) ? Op.Record(LeakyReluOp, y, [this], negativeSlope) : y;
    }

    /// <summary>
    /// Gaussian error linear unit. <see cref="GeluApproximation.None"/> is x·Φ(x) with the exact normal CDF;
    /// <see cref="GeluApproximation.Tanh"/> is 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))), as PyTorch's two modes.
    /// </summary>
    public Tensor Gelu(GeluApproximation approximate = GeluApproximation.None)
    {
        if (approximate == GeluApproximation.Tanh)
        {
            double c = Math.Sqrt(2 / Math.PI);
            var x = this;
            return 0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).Tanh());
        }
        return GeluOp.Call(this);
    }

    /// <summary>Gelu with PyTorch's mode string ("none" or "tanh").</summary>
    [Obsolete("Use Gelu(GeluApproximation).")]
    public Tensor Gelu(string approximate) => approximate switch
    {
        "none" => Gelu(GeluApproximation.None),
        "tanh" => Gelu(GeluApproximation.Tanh),
        _ => throw new ArgumentException($"Gelu: approximate must be \"none\" or \"tanh\", got \"{approximate}\"."),
    };

    // one SIMD kernel each way (VecMath.Softplus; the fused backward of SoftplusD) instead of a dozen tensor passes
    internal static readonly UnaryDef<SoftplusD> SoftplusOp = new("Softplus", Uses.Input, null, null, "nn.functional.softplus")
    {
        Family = OpFamily.NN,
        Batch = BatchRules.Unary((x, a) => { var d = (SoftplusD)a!; return x.Softplus(d.Beta, d.Threshold); }),
        Samples = () => [.. OpSamples.Unary(x => x.Softplus()), .. OpSamples.Unary(x => x.Softplus(2, 1.5), OpSamples.Domain.AwayFromZero)],
    };

    /// <summary>log(1 + e^(βx))/β, linear above <paramref name="threshold"/> (as PyTorch's softplus).</summary>
    public Tensor Softplus(double beta = 1, double threshold = 20)
    {
        var sp = new Kernels.VecMath.Softplus(beta, threshold);
        var y = MapRaw("Softplus", this, (s, d) => Kernels.VecMath.MapWith(s, d, sp), (s, d) => Kernels.VecMath.MapWith(s, d, sp));
        return SoftplusOp.Record(this, y, new SoftplusD(beta, threshold));
    }

    // PyTorch's clamp_backward: the gradient where min <= x <= max (inclusive), 0 elsewhere and at NaN
    internal static readonly FusedDef ClampOp = PointwiseDef("Clamp", OpFamily.ShapeIndexCreateOther, "clamp",
        (g, x, a) => { var (lo, hi) = ((double, double))a!; return Where(x.Ge(lo) & x.Le(hi), g, 0.0); },
        (g, x, a) =>
        {
            var (lo, hi) = ((double, double))a!;
            return PointwiseGradRaw(g, x, new Kernels.BetweenGradK<float>((float)lo, (float)hi, true, 1f), new Kernels.BetweenGradK<double>(lo, hi, true, 1));
        },
        (x, a) => { var (lo, hi) = ((double, double))a!; return x.Clamp(lo, hi); },
        () => OpSamples.Unary(x => (x * 2.5).Clamp(-0.5, 0.7), OpSamples.Domain.Small));

    /// <summary>Clamps to [min, max] (either bound may be null). The gradient passes where min &lt;= x &lt;= max.</summary>
    public Tensor Clamp(double? min = null, double? max = null)
    {
        if (min is null && max is null) throw new ArgumentException("Clamp: give at least one of min and max.");
        double lo = min ?? double.NegativeInfinity, hi = max ?? double.PositiveInfinity;
        var y = PointwiseRaw("Clamp", this, new Kernels.ClampK<float>((float)lo, (float)hi), new Kernels.ClampK<double>(lo, hi));
        return Op.Tracking(this) ? Op.Record(ClampOp, y, [this], (lo, hi)) : y;
    }

    // ---- derivative rules of the unary ops (each written once: tensors for VJP/JVP, raw scalars for the fused backward) ----

    internal readonly struct PowD(double exponent) : IDerivative
    {
        public double Exponent => exponent;
        public T Eval<T>(T x, T y) where T : IAlgebra<T> => exponent == 0 ? T.ZerosLike(x) : exponent * T.Pow(x, exponent - 1);
    }
    /// <summary>softplus' = σ(βx) at or below the threshold, 1 above it (PyTorch's softplus_backward).</summary>
    internal readonly struct SoftplusD(double beta, double threshold) : IDerivative
    {
        public double Beta => beta;
        public double Threshold => threshold;

        public T Eval<T>(T x, T y) where T : IAlgebra<T>
        {
            var bx = beta * x;
            var above = T.Above(bx, threshold);
            return above + (1.0 - above) / (1.0 + T.Exp(-bx));
        }
    }
    [Stateless] internal readonly struct ExpD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => y; }
    [Stateless] internal readonly struct LogD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => 1.0 / x; }
    [Stateless] internal readonly struct SqrtD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => 0.5 / y; }
    [Stateless] internal readonly struct RsqrtD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => -0.5 * y * y * y; }
    [Stateless] internal readonly struct AbsD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => T.Sign(x); }
    [Stateless] internal readonly struct ZeroD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => T.ZerosLike(x); }
    [Stateless] internal readonly struct SinD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => T.Cos(x); }
    [Stateless] internal readonly struct CosD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => -T.Sin(x); }
    [Stateless] internal readonly struct TanhD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => 1.0 - y * y; }
    [Stateless] internal readonly struct SigmoidD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => y * (1.0 - y); }
    [Stateless] internal readonly struct ErfD : IDerivative { public T Eval<T>(T x, T y) where T : IAlgebra<T> => 2 / Math.Sqrt(Math.PI) * T.Exp(-(x * x)); }
    /// <summary>d/dx x·Φ(x) = Φ(x) + x·φ(x).</summary>
    [Stateless]
    internal readonly struct GeluD : IDerivative
    {
        public T Eval<T>(T x, T y) where T : IAlgebra<T> => 0.5 * (1.0 + T.Erf(x / Math.Sqrt(2))) + x * (1 / Math.Sqrt(2 * Math.PI)) * T.Exp(-0.5 * x * x);
    }

    // ---- selection -----------------------------------------------------------------------------

    /// <summary>Elementwise choice: <paramref name="a"/> where <paramref name="condition"/> is true, else <paramref name="b"/> (broadcast).</summary>
    public static Tensor Where(Tensor condition, Tensor a, Tensor b)
    {
        if (condition.DType != DType.Bool)
            throw new DTypeMismatchException($"Where: the condition must be a bool tensor but has dtype {condition.DType.Name()} (shape {ShapeUtil.Format(condition.Shape)}). Build it with a comparison such as x.Gt(0).");
        Promote(ref a, ref b);
        var shape = ShapeUtil.Broadcast("Where", ShapeUtil.Broadcast("Where", condition._shape, a._shape), b._shape);
        var y = Empty(shape, a.DType);
        if (WhereDense(condition, a, b, y)) return RecordWhere(condition, a, b, y);
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
        return RecordWhere(condition, a, b, y);
    }

    /// <summary>Where's one-pass SIMD path: each of the condition and the branches is dense with the output's shape or a
    /// single element. False when the layout needs the strided loop.</summary>
    private static bool WhereDense(Tensor condition, Tensor a, Tensor b, Tensor y)
    {
        int n = y.Numel;
        static bool Ok(Tensor t, Tensor y) => t.IsContiguous && (t.Numel == 1 ? t.Rank <= y.Rank : ShapeUtil.SameShape(t._shape, y._shape));
        if (n == 0 || !Ok(condition, y) || !Ok(a, y) || !Ok(b, y)) return false;
        bool sc = condition.Numel == 1 && n != 1, sa = a.Numel == 1 && n != 1, sb = b.Numel == 1 && n != 1;
        var c = condition.Storage.As<bool>();
        switch (a.DType)
        {
            case DType.Float32: Kernels.Pointwise.Where(c, condition.Offset, sc, a.Storage.As<float>(), a.Offset, sa, b.Storage.As<float>(), b.Offset, sb, y.Storage.As<float>(), n); break;
            case DType.Float64: Kernels.Pointwise.Where(c, condition.Offset, sc, a.Storage.As<double>(), a.Offset, sa, b.Storage.As<double>(), b.Offset, sb, y.Storage.As<double>(), n); break;
            case DType.Int64: Kernels.Pointwise.Where(c, condition.Offset, sc, a.Storage.As<long>(), a.Offset, sa, b.Storage.As<long>(), b.Offset, sb, y.Storage.As<long>(), n); break;
            default: Kernels.Pointwise.Where(c, condition.Offset, sc, a.Storage.As<bool>(), a.Offset, sa, b.Storage.As<bool>(), b.Offset, sb, y.Storage.As<bool>(), n); break;
        }
        return true;
    }

    private static Tensor RecordWhere(Tensor condition, Tensor a, Tensor b, Tensor y)
    {
        if (!a.DType.IsFloatingPoint())
        {
            // not differentiable, but a tracer (Vmap) sees it: WhereOp's batching rule takes any dtype
            if (Tracer.Depth > 0) Tracer.Note(WhereOp, [y], [a, b], condition);
            return y;
        }
        return Op.Record(WhereOp, y, [a, b], condition);
    }

    internal static readonly OpDef WhereOp = new("Where", OpFamily.ShapeIndexCreateOther, "where")
    {
        DTypes = DTypeSet.All,
        Vjp = (in OpCtx c, Tensor g, int i) => (i == 0 ? Where(c.A<Tensor>(), g, 0.0) : Where(c.A<Tensor>(), 0.0, g)).SumTo(c.Shape(i)),
        Jvp = (in OpCtx c, Tensor?[] t) => t[0] is null && t[1] is null ? null
            : Where(c.A<Tensor>(), AlignTangent(t[0], c.X(0), c.Y.Rank) ?? ZerosLike(c.X(0)), AlignTangent(t[1], c.X(1), c.Y.Rank) ?? ZerosLike(c.X(1))),
        BatchedJvp = true,
        Batch = c =>
        {
            // the condition (the attribute) may be batched as well: align all three to the output's logical rank
            var cond = c.A<Tensor>();
            int r = Math.Max(c.MaxRank(), c.AttrBatched ? cond.Rank - 1 : cond.Rank);
            return [Where(c.AttrBatched ? BatchRules.PadBatched(cond, r) : cond, c.Aligned(0, r), c.Aligned(1, r))];
        },
        Samples = () => OpSamples.Binary((a, b) => Where((a - b).Gt(0.0), a, b)),
    };

    /// <summary>Where with a scalar for the false branch: the result has the tensor's dtype, or float32 for an int64 or
    /// bool tensor (type promotion, see <see cref="DTypes"/>).</summary>
    public static Tensor Where(Tensor condition, Tensor a, double b) => Where(condition, a, a.ScalarOperand(b));

    /// <summary>Where with a scalar for the true branch: the result has the tensor's dtype, or float32 for an int64 or
    /// bool tensor (type promotion, see <see cref="DTypes"/>).</summary>
    public static Tensor Where(Tensor condition, double a, Tensor b) => Where(condition, b.ScalarOperand(a), b);

    /// <summary>Where with an integer scalar for the false branch: the result has the tensor's dtype (int64 for a bool tensor).</summary>
    public static Tensor Where(Tensor condition, Tensor a, long b) => Where(condition, a, a.ScalarOperand(b));

    /// <summary>Where with an integer scalar for the true branch: the result has the tensor's dtype (int64 for a bool tensor).</summary>
    public static Tensor Where(Tensor condition, long a, Tensor b) => Where(condition, b.ScalarOperand(a), b);

    /// <summary>Where with two scalars, producing a tensor of <paramref name="dtype"/> shaped like the condition.</summary>
    public static Tensor Where(Tensor condition, double a, double b, DType dtype = DType.Float32) => Where(condition, Scalar(a, dtype), Scalar(b, dtype));

    // ---- comparisons (not differentiable; produce bool) -----------------------------------------

    // the comparisons are traced through their kernel's entry (Dispatch.CompareRaw); these catalog entries' rules do the same
    private static OpDef Comparison(string name, string torch) =>
        new(name, torch == "logical_not" ? OpFamily.Unary : OpFamily.Binary, torch)
        {
            Differentiable = false, DTypes = DTypeSet.All,
            Batch = BatchRules.Elementwise((x, _) => name switch
            {
                "Gt" => x[0].Gt(x[1]), "Ge" => x[0].Ge(x[1]), "Lt" => x[0].Lt(x[1]), "Le" => x[0].Le(x[1]),
                "Eq" => x[0].Eq(x[1]), "Ne" => x[0].Ne(x[1]),
                "LogicalAnd" => LogicalAnd(x[0], x[1]), "LogicalOr" => LogicalOr(x[0], x[1]), _ => x[0].LogicalNot(),
            }),
        };

    internal static readonly OpDef GtOp = Comparison("Gt", "gt"), GeOp = Comparison("Ge", "ge"), LtOp = Comparison("Lt", "lt"),
        LeOp = Comparison("Le", "le"), EqOp = Comparison("Eq", "eq"), NeOp = Comparison("Ne", "ne"),
        AndOp = Comparison("LogicalAnd", "logical_and"), OrOp = Comparison("LogicalOr", "logical_or"), NotOp = Comparison("LogicalNot", "logical_not");

    /// <summary>Elementwise a &gt; b.</summary>
    public Tensor Gt(Tensor other) => CompareRaw<Kernels.GtCmp>("Gt", this, other);
    /// <summary>Elementwise a &gt;= b.</summary>
    public Tensor Ge(Tensor other) => CompareRaw<Kernels.GeCmp>("Ge", this, other);
    /// <summary>Elementwise a &lt; b.</summary>
    public Tensor Lt(Tensor other) => CompareRaw<Kernels.LtCmp>("Lt", this, other);
    /// <summary>Elementwise a &lt;= b.</summary>
    public Tensor Le(Tensor other) => CompareRaw<Kernels.LeCmp>("Le", this, other);
    /// <summary>Elementwise a == b.</summary>
    public Tensor Eq(Tensor other) => CompareRaw<Kernels.EqCmp>("Eq", this, other);
    /// <summary>Elementwise a != b.</summary>
    public Tensor Ne(Tensor other) => CompareRaw<Kernels.NeCmp>("Ne", this, other);
    /// <summary>Elementwise x &gt; v.</summary>
    public Tensor Gt(double v) => ScalarCompare<Kernels.GtCmp>("Gt", v);
    /// <summary>Elementwise x &gt;= v.</summary>
    public Tensor Ge(double v) => ScalarCompare<Kernels.GeCmp>("Ge", v);
    /// <summary>Elementwise x &lt; v.</summary>
    public Tensor Lt(double v) => ScalarCompare<Kernels.LtCmp>("Lt", v);
    /// <summary>Elementwise x &lt;= v.</summary>
    public Tensor Le(double v) => ScalarCompare<Kernels.LeCmp>("Le", v);
    /// <summary>Elementwise x == v.</summary>
    public Tensor Eq(double v) => ScalarCompare<Kernels.EqCmp>("Eq", v);
    /// <summary>Elementwise x != v.</summary>
    public Tensor Ne(double v) => ScalarCompare<Kernels.NeCmp>("Ne", v);

    /// <summary>Compares with a scalar in this tensor's dtype (float32 rounds v, as PyTorch does with a Python number);
    /// an int64 or bool tensor against a value its dtype cannot hold (0.5, NaN, 1e30) is compared as float64 instead of
    /// truncating the value (PyTorch promotes to its default float32; the results agree wherever float32 holds the values).</summary>
    private Tensor ScalarCompare<TC>(string op, double v) where TC : struct, Kernels.ICmp
    {
        bool exact = DType.IsFloatingPoint()
            || (DType == DType.Int64 && v == Math.Floor(v) && v >= -9.2233720368547758E18 && v < 9.2233720368547758E18)
            || (DType == DType.Bool && (v == 0 || v == 1));
        return exact ? CompareRaw<TC>(op, this, ScalarLike(v)) : CompareRaw<TC>(op, To(DType.Float64), Scalar(v, DType.Float64));
    }

    /// <summary>Logical and of two bool tensors (broadcast); <see cref="LogicalAnd(Tensor, Tensor)"/> takes any dtypes.</summary>
    public static Tensor operator &(Tensor a, Tensor b) => BoolOp<Kernels.AndCmp>("And", a, b);
    /// <summary>Logical or of two bool tensors (broadcast); <see cref="LogicalOr(Tensor, Tensor)"/> takes any dtypes.</summary>
    public static Tensor operator |(Tensor a, Tensor b) => BoolOp<Kernels.OrCmp>("Or", a, b);
    /// <summary>Logical not of a bool tensor; <see cref="LogicalNot()"/> takes any dtype.</summary>
    public static Tensor operator !(Tensor a) => BoolOp<Kernels.EqCmp>("Not", a, Scalar(0, DType.Bool));

    private static Tensor BoolOp<TC>(string op, Tensor a, Tensor b) where TC : struct, Kernels.ICmp
    {
        if (a.DType != DType.Bool || b.DType != DType.Bool)
            throw new DTypeMismatchException($"{op}: logical operators need bool tensors, got {a.DType.Name()} and {b.DType.Name()}. Use LogicalAnd/LogicalOr/LogicalNot for the truth values of other dtypes.");
        return CompareRaw<TC>(op, a, b);
    }

    // ---- dtype conversion ----------------------------------------------------------------------

    /// <summary>A copy converted to <paramref name="dtype"/> (a new tensor even when the dtype is the same).
    /// Conversions between float types are differentiable.</summary>
    public Tensor To(DType dtype)
    {
        var src = this;
        var y = ConvertRaw(dtype);
        if (!DType.IsFloatingPoint() || !dtype.IsFloatingPoint())
        {
            // not differentiable, but a tracer (Vmap) sees it: its batching rule is the conversion itself
            if (Tracer.Depth > 0 && Tracer.IsTraced(this)) Tracer.Note(ToOp, [y], [src], (From: DType, To: dtype));
            return y;
        }
        return Op.Record(ToOp, y, [src], (From: DType, To: dtype));
    }

    /// <summary>A new dense tensor of <paramref name="dtype"/> holding this tensor's values converted (no autograd): one
    /// pass from a contiguous source into pooled storage (a strided source is made dense first).</summary>
    internal Tensor ConvertRaw(DType dtype)
    {
        int n = Numel;
        var x = this;
        if (!IsContiguous)
        {
            x = new Tensor(Storage.AllocateUninitialized(DType, n), _shape, ShapeUtil.ContiguousStrides(_shape), 0);
            x.CopyRawFrom(this);
            if (dtype == DType) return x;
        }
        var y = new Tensor(Storage.AllocateUninitialized(dtype, n), _shape, x._strides, 0);
        var (s, d, o) = (x.Storage.RawData, y.Storage.RawData, x.Offset);
        switch (x.DType, dtype)
        {
            case (DType.Float32, DType.Float64): KC.Dense((float[])s, o, (double[])d, 0, n, KC.Widen); break;
            case (DType.Float64, DType.Float32): KC.Dense((double[])s, o, (float[])d, 0, n, KC.Narrow); break;
            case (DType.Float32, DType.Float32): KC.Dense((float[])s, o, (float[])d, 0, n, KC.Copy); break;
            case (DType.Float64, DType.Float64): KC.Dense((double[])s, o, (double[])d, 0, n, KC.Copy); break;
            case (DType.Int64, DType.Int64): KC.Dense((long[])s, o, (long[])d, 0, n, KC.Copy); break;
            case (DType.Bool, DType.Bool): KC.Dense((bool[])s, o, (bool[])d, 0, n, KC.Copy); break;
            case (DType.Float32, DType.Int64): KC.Dense((float[])s, o, (long[])d, 0, n, KC.F32ToI64); break;
            case (DType.Float64, DType.Int64): KC.Dense((double[])s, o, (long[])d, 0, n, KC.F64ToI64); break;
            case (DType.Float32, DType.Bool): KC.Dense((float[])s, o, (bool[])d, 0, n, KC.F32ToBool); break;
            case (DType.Float64, DType.Bool): KC.Dense((double[])s, o, (bool[])d, 0, n, KC.F64ToBool); break;
            case (DType.Int64, DType.Float32): KC.Dense((long[])s, o, (float[])d, 0, n, KC.I64ToF32); break;
            case (DType.Int64, DType.Float64): KC.Dense((long[])s, o, (double[])d, 0, n, KC.I64ToF64); break;
            case (DType.Int64, DType.Bool): KC.Dense((long[])s, o, (bool[])d, 0, n, KC.I64ToBool); break;
            case (DType.Bool, DType.Float32): KC.Dense((bool[])s, o, (float[])d, 0, n, KC.BoolToF32); break;
            case (DType.Bool, DType.Float64): KC.Dense((bool[])s, o, (double[])d, 0, n, KC.BoolToF64); break;
            default: KC.Dense((bool[])s, o, (long[])d, 0, n, KC.BoolToI64); break;
        }
        return y;
    }

    internal static readonly OpDef ToOp = new("To", OpFamily.ShapeIndexCreateOther, "to")
    {
        Vjp = (in OpCtx c, Tensor g, int i) => g.To(c.A<(DType From, DType To)>().From),
        Jvp = (in OpCtx c, Tensor?[] t) => t[0]?.To(c.A<(DType From, DType To)>().To),
        BatchedJvp = true, Linear = true,
        Samples = () => OpSamples.Unary(x => x.To(DType.Float64)),
    };

    // ---- in-place ------------------------------------------------------------------------------

    /// <summary>Adds <paramref name="other"/> (broadcast to this shape) into this tensor, in place.</summary>
    public Tensor AddInPlace(Tensor other) => InPlace("AddInPlace", other, Add);

    /// <summary>Adds alpha·<paramref name="other"/> into this tensor, in place.</summary>
    public Tensor AddInPlace(Tensor other, double alpha) => InPlace("AddInPlace", other, (a, b) => a + b * alpha);

    /// <summary>Adds a scalar in place.</summary>
    public Tensor AddInPlace(double value) => InPlace("AddInPlace", ScalarOperand(value), Add);

    /// <summary>Adds an integer scalar in place.</summary>
    public Tensor AddInPlace(long value) => InPlace("AddInPlace", ScalarOperand(value), Add);

    /// <summary>Subtracts <paramref name="other"/> in place.</summary>
    public Tensor SubInPlace(Tensor other) => InPlace("SubInPlace", other, Sub);

    /// <summary>Multiplies by <paramref name="other"/> in place.</summary>
    public Tensor MulInPlace(Tensor other) => InPlace("MulInPlace", other, Mul);

    /// <summary>Multiplies by a scalar in place.</summary>
    public Tensor MulInPlace(double value) => InPlace("MulInPlace", ScalarOperand(value), Mul);

    /// <summary>Multiplies by an integer scalar in place.</summary>
    public Tensor MulInPlace(long value) => InPlace("MulInPlace", ScalarOperand(value), Mul);

    /// <summary>Divides by <paramref name="other"/> in place.</summary>
    public Tensor DivInPlace(Tensor other) => InPlace("DivInPlace", other, Div);

    /// <summary>Divides by a scalar in place.</summary>
    public Tensor DivInPlace(double value) => InPlace("DivInPlace", ScalarOperand(value), Div);

    /// <summary>Clamps in place.</summary>
    public Tensor ClampInPlace(double? min = null, double? max = null) => InPlace("ClampInPlace", this, (a, _) => a.Clamp(min, max));

    /// <summary>Sets every element to <paramref name="value"/>, in place.</summary>
    public Tensor FillInPlace(double value)
    {
        // nothing to record or trace: fill the storage directly (no full-size result computed, then copied)
        if (Tracer.Depth == 0 && !HasTangents && !Op.ReverseTracking(this))
        {
            FillRaw(value);
            Storage.BumpVersion();
            return this;
        }
        return InPlace("FillInPlace", ScalarLike(value), TakeSecond);
    }

    /// <summary>Sets every element to zero, in place.</summary>
    public Tensor ZeroInPlace() => FillInPlace(0);

    /// <summary>Copies <paramref name="src"/> (broadcast to this shape, same dtype) into this tensor, in place.
    /// The values are copied, not computed: NaN or Inf in this tensor do not leak into the result, and every
    /// dtype (int64 and bool included) is supported.</summary>
    public Tensor CopyInPlace(Tensor src)
    {
        ArgumentNullException.ThrowIfNull(src);
        if (src.DType != DType)
            throw new DTypeMismatchException(
                $"CopyInPlace: the source has dtype {src.DType.Name()} (shape {ShapeUtil.Format(src.Shape)}) but the target has dtype {DType.Name()} (shape {ShapeUtil.Format(_shape)}); convert it with src.To({DType}) first.");
        if (src.Rank > Rank || !ShapeUtil.SameShape(ShapeUtil.Broadcast("CopyInPlace", _shape, src._shape), _shape))
            throw new ShapeMismatchException(
                $"CopyInPlace: the source of shape {ShapeUtil.Format(src.Shape)} cannot be broadcast to the target's shape {ShapeUtil.Format(_shape)}.");
        return InPlace("CopyInPlace", src, TakeSecond);
    }

    /// <summary>The second operand broadcast against the first, selected (not computed) so that the first's values,
    /// NaN included, cannot leak in; as a Where it passes a zero gradient to the first and the gradient to the second.</summary>
    private static Tensor TakeSecond(Tensor a, Tensor b) => Where(Scalar(0, DType.Bool), a, b);

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
        bool track = Op.ReverseTracking(this, other);
        bool forward = Op.ForwardTracking(this, other);
        if (Tracer.Depth > 0) Tracer.CheckInPlace(op, this, other);
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
        if (Tracer.Depth > 0 && !ReferenceEquals(self, this)) Tracer.Alias(this, self);
        if (track && GradFn is { } fn) self.SetGradFn(fn, OutputIndex);
        if (forward) CopyTangentsTo(self);
        Tensor result;
        using (Autograd.SetGradEnabled(track)) result = compute(self, other);
        if (!ShapeUtil.SameShape(result._shape, _shape))
            throw new ShapeMismatchException(
                $"{op}: the result has shape {ShapeUtil.Format(result.Shape)} but an in-place op cannot change the shape of its target {ShapeUtil.Format(_shape)} (the operand {ShapeUtil.Format(other.Shape)} must broadcast to the target).");
        if (result.DType != DType)
        {
            // PyTorch writes the promoted result back in the target's dtype where the cast is allowed
            if (!DTypes.CanCast(result.DType, DType))
                throw new DTypeMismatchException(
                    $"{op}: result type {result.DType.Name()} can't be cast to the desired output type {DType.Name()} (the target of shape {ShapeUtil.Format(_shape)}; " +
                    $"the operand has dtype {other.DType.Name()}), as in PyTorch. Convert the target first, e.g. x = x.To(DType.{result.DType}), or use the out-of-place op.");
            using (Autograd.SetGradEnabled(track)) result = result.To(DType);
        }
        CopyRawFrom(result);
        Storage.BumpVersion();
        if (Tracer.Depth > 0) Tracer.Rebind(this, result);
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
