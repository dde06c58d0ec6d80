using System.Numerics;
using System.Numerics.Tensors;
using Fluxion.Kernels;
using K = Fluxion.Kernels.Elementwise;

namespace Fluxion;

// The binary family beyond the arithmetic operators (PyTorch's binary ufuncs): atan2, hypot, copysign, fmod,
// floor_divide, fmax/fmin, clamp_min/clamp_max with tensor bounds, xlogy, logaddexp(2), heaviside, isclose,
// logical_xor, and the three-operand lerp/addcmul/addcdiv. Values, NaN handling and subgradients follow
// PyTorch's CPU kernels and derivatives.yaml (noted at each op where PyTorch's choice is not the obvious one).
// (The entries are found through the [OpTable] on Tensor's declaration in Elementwise.cs.)
public partial class Tensor
{
    // ---- kernel tables -------------------------------------------------------------------------

    private static class BK<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        // float32 atan2: the float-lane kernel VecMath32.Atan2 (8 lanes); broadcast operands and scalars go through the same
        // register function one lane at a time, so every element gets the same bits whatever the layout
        public static readonly K.BinaryKernel<T> Atan2 = typeof(T) == typeof(float)
            ? (K.BinaryKernel<T>)(object)(K.Ops<float>.FromScalar(Atan2Lane) with { VV = VecMath32.Map2<VecMath32.Atan2F> })
            : K.Ops<T>.FromScalar(T.Atan2);
        private static float Atan2Lane(float a, float b) =>
            System.Runtime.Intrinsics.Vector256.ToScalar(VecMath32.Atan2(System.Runtime.Intrinsics.Vector256.Create(a), System.Runtime.Intrinsics.Vector256.Create(b)));
        public static readonly K.BinaryKernel<T> Hypot = K.Ops<T>.FromScalar(T.Hypot);
        public static readonly K.BinaryKernel<T> CopySign = new(TensorPrimitives.CopySign, TensorPrimitives.CopySign,
            (a, b, d) => { for (int i = 0; i < d.Length; i++) d[i] = T.CopySign(a, b[i]); }, T.CopySign);
        public static readonly K.BinaryKernel<T> FloorDivide = K.Ops<T>.FromScalar(BinaryMath.FloorDivide);
        public static readonly K.BinaryKernel<T> Fmax = Pointwise.Table<T, FmaxFminK<T>>(new(true));
        public static readonly K.BinaryKernel<T> Fmin = Pointwise.Table<T, FmaxFminK<T>>(new(false));
        public static readonly K.BinaryKernel<T> Xlogy = K.Ops<T>.FromScalar(BinaryMath.Xlogy);
        public static readonly K.BinaryKernel<T> Fmod = typeof(T) == typeof(float) ? (K.BinaryKernel<T>)(object)BinaryMath.Fmod32 : (K.BinaryKernel<T>)(object)BinaryMath.Fmod64;
    }

    private static readonly K.BinaryKernel<float> s_heaviside32 = Pointwise.Table<float, HeavisideK<float>>(default);
    private static readonly K.BinaryKernel<double> s_heaviside64 = Pointwise.Table<double, HeavisideK<double>>(default);
    // float32 logaddexp(2): the float-lane kernels of VecMath32 (8 lanes) on same-shape operands; broadcast operands and
    // scalars go through the same register function one lane at a time (the same bits whatever the layout)
    private static readonly K.BinaryKernel<float> s_logAddExp32 = K.Ops<float>.FromScalar(LogAddExpLane) with { VV = VecMath32.Map2<VecMath32.LogAddExpF> };
    private static readonly K.BinaryKernel<double> s_logAddExp64 = K.Ops<double>.FromScalar(BinaryMath.LogAddExp);
    private static readonly K.BinaryKernel<float> s_logAddExp2_32 = K.Ops<float>.FromScalar(LogAddExp2Lane) with { VV = VecMath32.Map2<VecMath32.LogAddExp2F> };
    private static float LogAddExpLane(float a, float b) =>
        System.Runtime.Intrinsics.Vector256.ToScalar(VecMath32.LogAddExp(System.Runtime.Intrinsics.Vector256.Create(a), System.Runtime.Intrinsics.Vector256.Create(b)));
    private static float LogAddExp2Lane(float a, float b) =>
        System.Runtime.Intrinsics.Vector256.ToScalar(VecMath32.LogAddExp2(System.Runtime.Intrinsics.Vector256.Create(a), System.Runtime.Intrinsics.Vector256.Create(b)));
    private static readonly K.BinaryKernel<double> s_logAddExp2_64 = K.Ops<double>.FromScalar(BinaryMath.LogAddExp2);

    /// <summary>
    /// Broadcasting elementwise loop over any element types (scalar per element): out[i] = f(a[i], b[i]) into a new
    /// tensor of <paramref name="outDType"/>. For the integer and bool forms of the non-differentiable ops.
    /// </summary>
    internal static Tensor BinaryAnyRaw<T, TOut>(string op, Tensor a, Tensor b, DType outDType, Func<T, T, TOut> f)
    {
        var shape = ShapeUtil.Broadcast(op, a._shape, b._shape);
        var y = Empty(shape, outDType);
        var sa = BroadcastStrides(a, shape);
        var sb = BroadcastStrides(b, shape);
        T[] da = a.Storage.As<T>(), db = b.Storage.As<T>();
        var dy = y.Storage.As<TOut>();
        Strided.ForEachRow(shape, [sa, sb, ShapeUtil.ContiguousStrides(shape)], [a.Offset, b.Offset, 0], (p, n, s) =>
        {
            int ssa = s[0], ssb = s[1];
            for (int i = 0, ia = p[0], ib = p[1], o = p[2]; i < n; i++, ia += ssa, ib += ssb, o++) dy[o] = f(da[ia], db[ib]);
        });
        return y;
    }

    /// <summary>Integer division by zero is an error in PyTorch (ZeroDivisionError); so it is here.</summary>
    private static void CheckNoZeroDivisor(string op, Tensor b)
    {
        foreach (var v in b.DenseSpan<long>())
            if (v == 0)
                throw new ArgumentException($"{op}: integer division by zero (the int64 divisor of shape {ShapeUtil.Format(b.Shape)} holds a 0). Convert the operands to a float dtype to get IEEE inf/NaN instead.");
    }

    /// <summary>Converts both operands to their result dtype (<see cref="DTypes.ResultType(Tensor, Tensor)"/>), which
    /// must be floating: the float-only binary ops.</summary>
    private static void PromoteFloat(string op, ref Tensor a, ref Tensor b)
    {
        Promote(ref a, ref b);
        a.CheckFloat(op);
        b.CheckFloat(op);
    }

    // ---- atan2 ---------------------------------------------------------------------------------

    internal static readonly BinaryDef<Atan2Rule> Atan2Op = new("Atan2", null, "atan2")
    {
        Saves = 3u, Doc = "atan2(a, b): the angle of the point (b, a), in (-pi, pi]", Batch = BatchRules.Binary(Atan2),
        Samples = () => OpSamples.Binary(Atan2),
    };

    /// <summary>atan2(a/b) -> d/da = b/(a²+b²), d/db = -a/(a²+b²) (NaN at a = b = 0, as PyTorch).</summary>
    [Stateless]
    internal readonly struct Atan2Rule : IBinaryRule
    {
        public bool IdentityA => false;
        public bool IdentityB => false;
        public T Da<T>(T g, T a, T b, T y) where T : IAlgebra<T> => g * b / (a * a + b * b);
        public T Db<T>(T g, T a, T b, T y) where T : IAlgebra<T> => -g * a / (a * a + b * b);
    }

    /// <summary>Elementwise atan2(a, b) with broadcasting: the angle of the point (b, a), with the quadrant from both
    /// signs (PyTorch's <c>atan2</c>).</summary>
    public static Tensor Atan2(Tensor a, Tensor b)
    {
        PromoteFloat("Atan2", ref a, ref b);
        var y = BinaryRaw("Atan2", a, b, BK<float>.Atan2, BK<double>.Atan2);
        return Op.Tracking(a, b) ? Atan2Op.Record(a, b, y) : y;
    }

    /// <summary>atan2(this, other) (see <see cref="Atan2(Tensor, Tensor)"/>).</summary>
    public Tensor Atan2(Tensor other) => Atan2(this, other);

    // ---- hypot ---------------------------------------------------------------------------------

    internal static readonly OpDef HypotOp = new("Hypot", OpFamily.Binary, "hypot")
    {
        // PyTorch: grad·a/result, grad·b/result (NaN at a = b = 0)
        Vjp = (in OpCtx c, Tensor g, int i) => (g * c.X(i) / c.Y).SumTo(c.Shape(i)),
        Jvp = (in OpCtx c, Tensor?[] t) =>
        {
            var s = AddTangents(AlignTangent(t[0], c.X(0), c.Y.Rank) is { } ta ? ta * c.X(0) : null,
                AlignTangent(t[1], c.X(1), c.Y.Rank) is { } tb ? tb * c.X(1) : null);
            return s is null ? null : BroadcastTangent(s / c.Y, c.Y);
        },
        BatchedJvp = true, Saves = 3u | OpDef.SaveOutput, Doc = "sqrt(a² + b²) without overflow", Batch = BatchRules.Binary(Hypot),
        Samples = () => OpSamples.Binary(Hypot),
    };

    /// <summary>Elementwise sqrt(a² + b²) with broadcasting, without intermediate overflow (PyTorch's <c>hypot</c>).</summary>
    public static Tensor Hypot(Tensor a, Tensor b)
    {
        PromoteFloat("Hypot", ref a, ref b);
        var y = BinaryRaw("Hypot", a, b, BK<float>.Hypot, BK<double>.Hypot);
        return Op.Tracking(a, b) ? Op.Record(HypotOp, y, [a, b]) : y;
    }

    /// <summary>hypot(this, other) (see <see cref="Hypot(Tensor, Tensor)"/>).</summary>
    public Tensor Hypot(Tensor other) => Hypot(this, other);

    // ---- copysign ------------------------------------------------------------------------------

    // result/a with 0 where a = 0 (PyTorch's copysign_tensor_self_backward): ±1, piecewise constant, so computed detached
    private static Tensor CopysignRatio(in OpCtx c)
    {
        var a = c.X(0).Detach();
        return Where(a.Eq(0.0), 0.0, c.Y.Detach() / a);
    }

    internal static readonly OpDef CopysignOp = new("Copysign", OpFamily.Binary, "copysign")
    {
        // the sign operand gets a zero gradient (PyTorch: zeros_like(other))
        Vjp = (in OpCtx c, Tensor g, int i) => i == 0 ? (g * CopysignRatio(c)).SumTo(c.Shape(0)) : Zeros(c.Shape(1), g.DType),
        Jvp = (in OpCtx c, Tensor?[] t) => AlignTangent(t[0], c.X(0), c.Y.Rank) is { } ta ? BroadcastTangent(ta * CopysignRatio(c), c.Y) : null,
        BatchedJvp = true, Saves = 1u | OpDef.SaveOutput, Doc = "|a| with the sign (bit) of b", Batch = BatchRules.Binary(Copysign),
        Samples = () => OpSamples.Binary(Copysign, OpSamples.Domain.AwayFromZero, OpSamples.Domain.AwayFromZero),
    };

    /// <summary>Elementwise |a| with the sign bit of b (so -0 and negative NaNs count as negative), with broadcasting
    /// (PyTorch's <c>copysign</c>). d/da = ±1 (0 where a = 0), d/db = 0.</summary>
    public static Tensor Copysign(Tensor a, Tensor b)
    {
        PromoteFloat("Copysign", ref a, ref b);
        var y = BinaryRaw("Copysign", a, b, BK<float>.CopySign, BK<double>.CopySign);
        return Op.Tracking(a, b) ? Op.Record(CopysignOp, y, [a, b]) : y;
    }

    /// <summary>copysign(this, other) (see <see cref="Copysign(Tensor, Tensor)"/>).</summary>
    public Tensor Copysign(Tensor other) => Copysign(this, other);

    /// <summary>copysign(this, sign) with a scalar sign.</summary>
    public Tensor Copysign(double sign) => Copysign(this, ScalarLike(sign));

    // ---- fmod ----------------------------------------------------------------------------------

    // d/db = -trunc(a/b) (PyTorch: -grad * a.div(b, rounding_mode="trunc")), piecewise constant
    private static Tensor FmodDB(in OpCtx c) =>
        -MapRaw("Fmod", c.X(0).Detach() / c.X(1).Detach(), TensorPrimitives.Truncate, TensorPrimitives.Truncate);

    internal static readonly OpDef FmodOp = new("Fmod", OpFamily.Binary, "fmod")
    {
        Vjp = (in OpCtx c, Tensor g, int i) => i == 0 ? g.SumTo(c.Shape(0)) : (g * FmodDB(c)).SumTo(c.Shape(1)),
        Jvp = (in OpCtx c, Tensor?[] t) => BroadcastTangent(AddTangents(AlignTangent(t[0], c.X(0), c.Y.Rank),
            AlignTangent(t[1], c.X(1), c.Y.Rank) is { } tb ? tb * FmodDB(c) : null), c.Y),
        BatchedJvp = true, SavesFor = x => x[1].RequiresGrad ? 3u : 0u, DTypes = DTypeSet.Floats | DTypeSet.Int64,
        Doc = "C's fmod: the remainder of truncated division, with the sign of the dividend", Batch = BatchRules.Binary(Fmod),
        Samples = () => OpSamples.Binary(Fmod, bDomain: OpSamples.Domain.AwayFromZero),
    };

    /// <summary>
    /// C-style remainder with broadcasting: a - trunc(a/b)·b, computed exactly, with the sign of the dividend a
    /// (PyTorch's <c>fmod</c>; <see cref="Remainder(Tensor, Tensor)"/> has the divisor's sign). Float: b = 0 gives NaN;
    /// int64: a zero divisor throws. d/da = 1, d/db = -trunc(a/b).
    /// </summary>
    public static Tensor Fmod(Tensor a, Tensor b)
    {
        Promote(ref a, ref b);
        if (a.DType == DType.Int64)
        {
            CheckNoZeroDivisor("Fmod", b);
            return BinaryAnyRaw<long, long>("Fmod", a, b, DType.Int64, BinaryMath.Fmod);
        }
        PromoteFloat("Fmod", ref a, ref b);
        var y = BinaryRaw("Fmod", a, b, BK<float>.Fmod, BK<double>.Fmod);
        return Op.Tracking(a, b) ? Op.Record(FmodOp, y, [a, b]) : y;
    }

    /// <summary>fmod(this, other) (see <see cref="Fmod(Tensor, Tensor)"/>).</summary>
    public Tensor Fmod(Tensor other) => Fmod(this, other);

    /// <summary>fmod(this, divisor) with a scalar divisor.</summary>
    public Tensor Fmod(double divisor) => Fmod(this, ScalarOperand(divisor));

    /// <summary>fmod(this, divisor) with an integer scalar divisor (an int64 tensor stays int64).</summary>
    public Tensor Fmod(long divisor) => Fmod(this, ScalarOperand(divisor));

    // ---- floor_divide (not differentiable, as the target list has it) ---------------------------

    internal static readonly OpDef FloorDivideOp = new("FloorDivide", OpFamily.Binary, "floor_divide")
    {
        Differentiable = false, DTypes = DTypeSet.Floats | DTypeSet.Int64, Doc = "a // b: division rounded toward -inf (Python's //)",
    };

    /// <summary>
    /// Floor division a // b with broadcasting, rounding toward -inf as Python and PyTorch's <c>floor_divide</c>:
    /// floats follow PyTorch's div_floor (IEEE ±inf/NaN for b = 0, a zero quotient keeps the sign of a/b);
    /// int64 rounds toward -inf and throws on a zero divisor. Not differentiable: the result takes no gradient.
    /// </summary>
    public static Tensor FloorDivide(Tensor a, Tensor b)
    {
        Promote(ref a, ref b);
        if (a.DType == DType.Int64)
        {
            CheckNoZeroDivisor("FloorDivide", b);
            return BinaryAnyRaw<long, long>("FloorDivide", a, b, DType.Int64, BinaryMath.FloorDivide);
        }
        PromoteFloat("FloorDivide", ref a, ref b);
        return BinaryRaw("FloorDivide", a, b, BK<float>.FloorDivide, BK<double>.FloorDivide);
    }

    /// <summary>this // other (see <see cref="FloorDivide(Tensor, Tensor)"/>).</summary>
    public Tensor FloorDivide(Tensor other) => FloorDivide(this, other);

    /// <summary>this // divisor with a scalar divisor.</summary>
    public Tensor FloorDivide(double divisor) => FloorDivide(this, ScalarOperand(divisor));

    /// <summary>this // divisor with an integer scalar divisor (an int64 tensor stays int64).</summary>
    public Tensor FloorDivide(long divisor) => FloorDivide(this, ScalarOperand(divisor));

    // ---- fmax / fmin / clamp_min / clamp_max: select a or b ----------------------------------------

    /// <summary>
    /// An op whose value is a or b elementwise: the gradient goes to a where <paramref name="toA"/>(a, b), to b where
    /// <paramref name="toB"/>(a, b) (neither on NaN for clamp), and the tangent is a's where <paramref name="jvpToA"/>(a, b),
    /// else b's, exactly as PyTorch's derivatives.yaml (whose forward rule differs from the reverse one on ties for fmax).
    /// </summary>
    private static FusedDef SelectDef(string name, string torch, Func<Tensor, Tensor, Tensor> toA, Func<Tensor, Tensor, Tensor> toB,
        Func<Tensor, Tensor, Tensor> jvpToA, Func<Tensor, Tensor, Tensor> call, string doc, bool? fusedMax = null) => new(name, OpFamily.Binary, torch)
    {
        // fmax/fmin on same-shape operands: each gradient in one pass (FmaxFminGradK: PyTorch's masks)
        FirstOrder = (in OpCtx c, Tensor[] g, bool[] needs) =>
        {
            if (fusedMax is not { } max) return null;
            Tensor? ga = null, gb = null;
            if (needs[0] && (ga = BinaryGradRaw(g[0], c.X(0), c.X(1), new FmaxFminGradK<float>(max, true), new FmaxFminGradK<double>(max, true))) is null) return null;
            if (needs[1] && (gb = BinaryGradRaw(g[0], c.X(0), c.X(1), new FmaxFminGradK<float>(max, false), new FmaxFminGradK<double>(max, false))) is null) return null;
            return [ga, gb];
        },
        FusedDoc = fusedMax is null ? null : "one SIMD pass per operand on same-shape operands (first-order passes)",
        Vjp = (in OpCtx c, Tensor g, int i) => Where((i == 0 ? toA : toB)(c.X(0), c.X(1)), g, 0.0).SumTo(c.Shape(i)),
        Jvp = (in OpCtx c, Tensor?[] t) =>
        {
            Tensor? ta = AlignTangent(t[0], c.X(0), c.Y.Rank), tb = AlignTangent(t[1], c.X(1), c.Y.Rank);
            if (ta is null && tb is null) return null;
            var m = jvpToA(c.X(0), c.X(1));
            return BroadcastTangent(ta is null ? Where(m, 0.0, tb!) : tb is null ? Where(m, ta, 0.0) : Where(m, ta, tb), c.Y);
        },
        BatchedJvp = true, Saves = 3u, Doc = doc, Batch = BatchRules.Binary(call),
        Samples = () => OpSamples.Binary(call),
    };

    private static Tensor IsNanMask(Tensor x) => x.Ne(x);

    // fmax: reverse sends ties to a, forward sends ties to b (PyTorch: self >= other vs self > other)
    internal static readonly OpDef FmaxOp = SelectDef("Fmax", "fmax",
        (a, b) => a.Ge(b) | IsNanMask(b), (a, b) => !(a.Ge(b) | IsNanMask(b)), (a, b) => a.Gt(b) | IsNanMask(b), Fmax,
        "max ignoring NaN (NaN only where both are)", fusedMax: true);

    internal static readonly OpDef FminOp = SelectDef("Fmin", "fmin",
        (a, b) => a.Le(b) | IsNanMask(b), (a, b) => !(a.Le(b) | IsNanMask(b)), (a, b) => a.Le(b) | IsNanMask(b), Fmin,
        "min ignoring NaN (NaN only where both are)", fusedMax: false);

    internal static readonly OpDef ClampMinOp = SelectDef("ClampMin", "clamp_min",
        (x, m) => x.Ge(m), (x, m) => x.Lt(m), (x, m) => x.Ge(m), ClampMin, "max(x, min) with a tensor bound; NaN propagates");

    internal static readonly OpDef ClampMaxOp = SelectDef("ClampMax", "clamp_max",
        (x, m) => x.Le(m), (x, m) => x.Gt(m), (x, m) => x.Le(m), ClampMax, "min(x, max) with a tensor bound; NaN propagates");

    /// <summary>Elementwise maximum that ignores NaN (NaN only where both are NaN), with broadcasting (PyTorch's
    /// <c>fmax</c>). Unlike <see cref="Maximum(Tensor, Tensor)"/>, ties send the whole gradient to a (as PyTorch).</summary>
    public static Tensor Fmax(Tensor a, Tensor b)
    {
        PromoteFloat("Fmax", ref a, ref b);
        var y = BinaryRaw("Fmax", a, b, BK<float>.Fmax, BK<double>.Fmax);
        return Op.Tracking(a, b) ? Op.Record(FmaxOp, y, [a, b]) : y;
    }

    /// <summary>Elementwise minimum that ignores NaN, with broadcasting (PyTorch's <c>fmin</c>); ties send the gradient to a.</summary>
    public static Tensor Fmin(Tensor a, Tensor b)
    {
        PromoteFloat("Fmin", ref a, ref b);
        var y = BinaryRaw("Fmin", a, b, BK<float>.Fmin, BK<double>.Fmin);
        return Op.Tracking(a, b) ? Op.Record(FminOp, y, [a, b]) : y;
    }

    /// <summary>fmax(this, other) (see <see cref="Fmax(Tensor, Tensor)"/>).</summary>
    public Tensor Fmax(Tensor other) => Fmax(this, other);

    /// <summary>fmin(this, other) (see <see cref="Fmin(Tensor, Tensor)"/>).</summary>
    public Tensor Fmin(Tensor other) => Fmin(this, other);

    /// <summary>
    /// Clamps x from below by a tensor bound (broadcast): max(x, min), NaN where either is NaN (PyTorch's <c>clamp_min</c>).
    /// The gradient goes to x where x &gt;= min, to min where x &lt; min (neither where a NaN is involved).
    /// </summary>
    public static Tensor ClampMin(Tensor x, Tensor min)
    {
        PromoteFloat("ClampMin", ref x, ref min);
        var y = BinaryRaw("ClampMin", x, min, K.Ops<float>.Maximum, K.Ops<double>.Maximum);
        return Op.Tracking(x, min) ? Op.Record(ClampMinOp, y, [x, min]) : y;
    }

    /// <summary>
    /// Clamps x from above by a tensor bound (broadcast): min(x, max), NaN where either is NaN (PyTorch's <c>clamp_max</c>).
    /// The gradient goes to x where x &lt;= max, to max where x &gt; max.
    /// </summary>
    public static Tensor ClampMax(Tensor x, Tensor max)
    {
        PromoteFloat("ClampMax", ref x, ref max);
        var y = BinaryRaw("ClampMax", x, max, K.Ops<float>.Minimum, K.Ops<double>.Minimum);
        return Op.Tracking(x, max) ? Op.Record(ClampMaxOp, y, [x, max]) : y;
    }

    /// <summary>clamp_min(this, min) (see <see cref="ClampMin(Tensor, Tensor)"/>).</summary>
    public Tensor ClampMin(Tensor min) => ClampMin(this, min);

    /// <summary>clamp_max(this, max) (see <see cref="ClampMax(Tensor, Tensor)"/>).</summary>
    public Tensor ClampMax(Tensor max) => ClampMax(this, max);

    /// <summary>clamp_min with a scalar bound.</summary>
    public Tensor ClampMin(double min) => ClampMin(this, ScalarLike(min));

    /// <summary>clamp_max with a scalar bound.</summary>
    public Tensor ClampMax(double max) => ClampMax(this, ScalarLike(max));

    // ---- xlogy ---------------------------------------------------------------------------------

    private static Tensor XlogyMask(in OpCtx c) => c.X(0).Eq(0.0) & c.X(1).Le(0.0);

    internal static readonly OpDef XlogyOp = new("Xlogy", OpFamily.Binary, "xlogy")
    {
        // PyTorch: self: xlogy(grad, other) masked to 0 where self = 0 and other <= 0; other: grad·self/other
        Vjp = (in OpCtx c, Tensor g, int i) => (i == 0 ? Where(XlogyMask(c), 0.0, Xlogy(g, c.X(1))) : g * c.X(0) / c.X(1)).SumTo(c.Shape(i)),
        Jvp = (in OpCtx c, Tensor?[] t) =>
        {
            Tensor? ta = AlignTangent(t[0], c.X(0), c.Y.Rank), tb = AlignTangent(t[1], c.X(1), c.Y.Rank);
            var s = AddTangents(ta is null ? null : Where(XlogyMask(c), 0.0, Xlogy(ta, c.X(1))), tb is null ? null : tb * c.X(0) / c.X(1));
            return BroadcastTangent(s, c.Y);
        },
        BatchedJvp = true, Saves = 3u, Doc = "x·log(y), 0 where x = 0 (NaN where y is NaN)", Batch = BatchRules.Binary(Xlogy),
        Samples = () => OpSamples.Binary(Xlogy, bDomain: OpSamples.Domain.Positive),
    };

    /// <summary>
    /// Elementwise x·log(y) with broadcasting, 0 where x = 0 (even for y = 0 or inf) and NaN where y is NaN
    /// (PyTorch's <c>xlogy</c>). d/dx = log(y) (0 where x = 0 and y &lt;= 0), d/dy = x/y.
    /// </summary>
    public static Tensor Xlogy(Tensor x, Tensor y)
    {
        PromoteFloat("Xlogy", ref x, ref y);
        var r = BinaryRaw("Xlogy", x, y, BK<float>.Xlogy, BK<double>.Xlogy);
        return Op.Tracking(x, y) ? Op.Record(XlogyOp, r, [x, y]) : r;
    }

    /// <summary>xlogy(this, other) (see <see cref="Xlogy(Tensor, Tensor)"/>).</summary>
    public Tensor Xlogy(Tensor other) => Xlogy(this, other);

    // ---- logaddexp / logaddexp2 ----------------------------------------------------------------

    internal static readonly BinaryDef<LogAddExpRule> LogAddExpOp = new("LogAddExp", null, "logaddexp")
    {
        Family = OpFamily.ShapeIndexCreateOther, Saves = 3u, Doc = "log(e^a + e^b), computed stably", Batch = BatchRules.Binary(LogAddExp),
        Samples = () => OpSamples.Binary(LogAddExp),
    };

    internal static readonly BinaryDef<LogAddExp2Rule> LogAddExp2Op = new("LogAddExp2", null, "logaddexp2")
    {
        Family = OpFamily.ShapeIndexCreateOther, Saves = 3u, Doc = "log2(2^a + 2^b), computed stably", Batch = BatchRules.Binary(LogAddExp2),
        Samples = () => OpSamples.Binary(LogAddExp2),
    };

    /// <summary>d/da log(e^a + e^b) = 1/(1 + e^(b-a)) (PyTorch's form).</summary>
    [Stateless]
    internal readonly struct LogAddExpRule : IBinaryRule
    {
        public bool IdentityA => false;
        public bool IdentityB => false;
        public T Da<T>(T g, T a, T b, T y) where T : IAlgebra<T> => g / (1.0 + T.Exp(b - a));
        public T Db<T>(T g, T a, T b, T y) where T : IAlgebra<T> => g / (1.0 + T.Exp(a - b));
    }

    /// <summary>d/da log2(2^a + 2^b) = 1/(1 + 2^(b-a)).</summary>
    [Stateless]
    internal readonly struct LogAddExp2Rule : IBinaryRule
    {
        public bool IdentityA => false;
        public bool IdentityB => false;
        public T Da<T>(T g, T a, T b, T y) where T : IAlgebra<T> => g / (1.0 + T.Exp((b - a) * Math.Log(2)));
        public T Db<T>(T g, T a, T b, T y) where T : IAlgebra<T> => g / (1.0 + T.Exp((a - b) * Math.Log(2)));
    }

    /// <summary>Elementwise log(e^a + e^b) with broadcasting, computed stably (PyTorch's <c>logaddexp</c>).</summary>
    public static Tensor LogAddExp(Tensor a, Tensor b)
    {
        PromoteFloat("LogAddExp", ref a, ref b);
        var y = BinaryRaw("LogAddExp", a, b, s_logAddExp32, s_logAddExp64);
        return Op.Tracking(a, b) ? LogAddExpOp.Record(a, b, y) : y;
    }

    /// <summary>Elementwise log2(2^a + 2^b) with broadcasting, computed stably (PyTorch's <c>logaddexp2</c>).</summary>
    public static Tensor LogAddExp2(Tensor a, Tensor b)
    {
        PromoteFloat("LogAddExp2", ref a, ref b);
        var y = BinaryRaw("LogAddExp2", a, b, s_logAddExp2_32, s_logAddExp2_64);
        return Op.Tracking(a, b) ? LogAddExp2Op.Record(a, b, y) : y;
    }

    /// <summary>logaddexp(this, other) (see <see cref="LogAddExp(Tensor, Tensor)"/>).</summary>
    public Tensor LogAddExp(Tensor other) => LogAddExp(this, other);

    /// <summary>logaddexp2(this, other) (see <see cref="LogAddExp2(Tensor, Tensor)"/>).</summary>
    public Tensor LogAddExp2(Tensor other) => LogAddExp2(this, other);

    // ---- heaviside, isclose, logical_xor (not differentiable) ------------------------------------

    internal static readonly OpDef HeavisideOp = new("Heaviside", OpFamily.Binary, "heaviside")
    {
        Differentiable = false, DTypes = DTypeSet.All, Doc = "0 for x < 0, values for x = 0, 1 for x > 0",
    };

    internal static readonly OpDef IsCloseOp = new("IsClose", OpFamily.Binary, "isclose")
    {
        Differentiable = false, DTypes = DTypeSet.All, Doc = "|a - b| <= atol + rtol·|b| (or equal), as bool",
    };

    internal static readonly OpDef LogicalXorOp = new("LogicalXor", OpFamily.Binary, "logical_xor")
    {
        Differentiable = false, DTypes = DTypeSet.All, Doc = "exclusive or of the truth values (nonzero is true)",
    };

    /// <summary>
    /// The Heaviside step with broadcasting (PyTorch's <c>heaviside</c>): 0 where x &lt; 0, <paramref name="values"/> where
    /// x = 0 (either sign of zero), 1 where x &gt; 0; a NaN x gives 0, as PyTorch. Float, int64 or bool operands of one dtype;
    /// the result has that dtype and takes no gradient.
    /// </summary>
    public static Tensor Heaviside(Tensor x, Tensor values)
    {
        CheckSameDType("Heaviside", x, values);
        return x.DType switch
        {
            DType.Float32 => BinaryRaw("Heaviside", x, values, s_heaviside32, s_heaviside64),
            DType.Float64 => BinaryRaw("Heaviside", x, values, s_heaviside32, s_heaviside64),
            DType.Int64 => BinaryAnyRaw<long, long>("Heaviside", x, values, DType.Int64, BinaryMath.Heaviside),
            _ => BinaryAnyRaw<bool, bool>("Heaviside", x, values, DType.Bool, (p, v) => p || v),
        };
    }

    /// <summary>heaviside(this, values) (see <see cref="Heaviside(Tensor, Tensor)"/>).</summary>
    public Tensor Heaviside(Tensor values) => Heaviside(this, values);

    /// <summary>heaviside with a scalar value at 0.</summary>
    public Tensor Heaviside(double value) => Heaviside(this, ScalarLike(value));

    /// <summary>
    /// Elementwise closeness with broadcasting, as PyTorch's <c>isclose</c>: true where a == b (so equal infinities), or
    /// where |a - b| is finite and &lt;= <paramref name="atol"/> + |<paramref name="rtol"/>·b| (not symmetric in a and b);
    /// NaNs are close to each other only with <paramref name="equalNan"/>. Float32 is compared in float32, int64 and bool
    /// with the tolerance in float32 (PyTorch's default dtype). Operands of one dtype; returns bool.
    /// </summary>
    public static Tensor IsClose(Tensor a, Tensor b, double rtol = 1e-5, double atol = 1e-8, bool equalNan = false)
    {
        CheckSameDType("IsClose", a, b);
        if (!(rtol >= 0)) throw new ArgumentException($"IsClose: rtol must be >= 0 but got {rtol}.", nameof(rtol));
        if (!(atol >= 0)) throw new ArgumentException($"IsClose: atol must be >= 0 but got {atol}.", nameof(atol));
        bool zero = rtol == 0 && atol == 0;
        float r32 = (float)rtol, a32 = (float)atol;
        return a.DType switch
        {
            DType.Float32 => BinaryAnyRaw<float, bool>("IsClose", a, b, DType.Bool, (p, q) => BinaryMath.IsClose(p, q, r32, a32, equalNan, zero)),
            DType.Float64 => BinaryAnyRaw<double, bool>("IsClose", a, b, DType.Bool, (p, q) => BinaryMath.IsClose(p, q, rtol, atol, equalNan, zero)),
            DType.Int64 => BinaryAnyRaw<long, bool>("IsClose", a, b, DType.Bool, (p, q) => BinaryMath.IsClose(p, q, r32, a32, zero)),
            _ => BinaryAnyRaw<bool, bool>("IsClose", a, b, DType.Bool, (p, q) => BinaryMath.IsClose(p ? 1f : 0f, q ? 1f : 0f, r32, a32, false, zero)),
        };
    }

    /// <summary>isclose(this, other) (see <see cref="IsClose(Tensor, Tensor, double, double, bool)"/>).</summary>
    public Tensor IsClose(Tensor other, double rtol = 1e-5, double atol = 1e-8, bool equalNan = false) => IsClose(this, other, rtol, atol, equalNan);

    /// <summary>The truth value of each element as bool (nonzero and NaN are true).</summary>
    private static Tensor Truth(Tensor t) => t.DType == DType.Bool ? t : CompareRaw<NeCmp>("Logical", t, Scalar(0, t.DType));

    /// <summary>A logical op on truth values: one pass when the dtypes agree, else through bool truth values.</summary>
    private static Tensor Logical<TC>(string op, Tensor a, Tensor b) where TC : struct, ICmp
    {
        if (a.DType == b.DType) return CompareRaw<TC>(op, a, b);
        ShapeUtil.Broadcast(op, a._shape, b._shape);
        return CompareRaw<TC>(op, Truth(a), Truth(b));
    }

    /// <summary>
    /// Elementwise exclusive or of the operands' truth values (nonzero, including NaN, is true) with broadcasting, as
    /// PyTorch's <c>logical_xor</c>; the operands may have any (different) dtypes. Returns bool.
    /// </summary>
    public static Tensor LogicalXor(Tensor a, Tensor b) => Logical<XorCmp>("LogicalXor", a, b);

    /// <summary>logical_xor(this, other) (see <see cref="LogicalXor(Tensor, Tensor)"/>).</summary>
    public Tensor LogicalXor(Tensor other) => LogicalXor(this, other);

    /// <summary>Elementwise and of the truth values (nonzero, including NaN, is true), any dtypes, broadcast, as PyTorch's
    /// <c>logical_and</c>. Returns bool.</summary>
    public static Tensor LogicalAnd(Tensor a, Tensor b) => Logical<AndCmp>("LogicalAnd", a, b);

    /// <summary>Elementwise or of the truth values, any dtypes, broadcast, as PyTorch's <c>logical_or</c>. Returns bool.</summary>
    public static Tensor LogicalOr(Tensor a, Tensor b) => Logical<OrCmp>("LogicalOr", a, b);

    /// <summary>logical_and(this, other) (see <see cref="LogicalAnd(Tensor, Tensor)"/>).</summary>
    public Tensor LogicalAnd(Tensor other) => LogicalAnd(this, other);

    /// <summary>logical_or(this, other) (see <see cref="LogicalOr(Tensor, Tensor)"/>).</summary>
    public Tensor LogicalOr(Tensor other) => LogicalOr(this, other);

    /// <summary>Elementwise not of the truth values (true where the element is 0, false for NaN), any dtype, as PyTorch's
    /// <c>logical_not</c>. Returns bool.</summary>
    public Tensor LogicalNot() => CompareRaw<EqCmp>("LogicalNot", this, Scalar(0, DType));

    /// <summary>Exclusive or of two bool tensors (broadcast); for other dtypes use <see cref="LogicalXor(Tensor, Tensor)"/>.</summary>
    public static Tensor operator ^(Tensor a, Tensor b)
    {
        if (a.DType != DType.Bool || b.DType != DType.Bool)
            throw new DTypeMismatchException($"Xor: the ^ operator needs bool tensors, got {a.DType.Name()} and {b.DType.Name()}. Use LogicalXor for truth values of other dtypes.");
        return CompareRaw<XorCmp>("Xor", a, b);
    }

    // ---- three operands: lerp, addcmul, addcdiv ------------------------------------------------

    internal static readonly OpDef LerpOp = new("Lerp", OpFamily.ShapeIndexCreateOther, "lerp")
    {
        Vjp = (in OpCtx c, Tensor g, int i) => (i switch
        {
            0 => g * (1.0 - c.X(2)),
            1 => g * c.X(2),
            _ => g * (c.X(1) - c.X(0)),
        }).SumTo(c.Shape(i)),
        Jvp = (in OpCtx c, Tensor?[] t) =>
        {
            int r = c.Y.Rank;
            var s = AddTangents(AddTangents(
                AlignTangent(t[0], c.X(0), r) is { } t0 ? t0 * (1.0 - c.X(2)) : null,
                AlignTangent(t[1], c.X(1), r) is { } t1 ? t1 * c.X(2) : null),
                AlignTangent(t[2], c.X(2), r) is { } t2 ? t2 * (c.X(1) - c.X(0)) : null);
            return BroadcastTangent(s, c.Y);
        },
        BatchedJvp = true, Saves = 7u, Doc = "start + weight·(end - start)", Batch = BatchRules.Elementwise((x, _) => Lerp(x[0], x[1], x[2])),
        Samples = () => [.. Ternary(Lerp), .. OpSamples.Binary((s, e) => s.Lerp(e, 0.3)), .. OpSamples.Binary((s, e) => s.Lerp(e, 0.8))],
    };

    /// <summary>
    /// Linear interpolation start + weight·(end - start) with broadcasting over all three operands (PyTorch's <c>lerp</c>,
    /// computed as PyTorch's CPU kernel: from the nearer end, end - (end - start)·(1 - weight) where |weight| &gt;= 0.5, so
    /// lerp(a, b, 1) = b, each with one fused multiply-add).
    /// </summary>
    public static Tensor Lerp(Tensor start, Tensor end, Tensor weight)
    {
        // PyTorch's lerp does not promote: the three operands share one float dtype
        start.CheckFloat("Lerp");
        CheckSameDType("Lerp", start, end);
        CheckSameDType("Lerp", start, weight);
        var shape = ShapeUtil.Broadcast("Lerp", ShapeUtil.Broadcast("Lerp", start._shape, end._shape), weight._shape);
        var y = Empty(shape, start.DType);
        if (!LerpDense(start, end, weight, y))
        {
            if (start.DType == DType.Float32) LerpKernel<float>(start, end, weight, y);
            else LerpKernel<double>(start, end, weight, y);
        }
        return Op.Tracking([start, end, weight]) ? Op.Record(LerpOp, y, [start, end, weight]) : y;
    }

    /// <summary>Lerp's one-pass SIMD path: start and end dense with the output's shape, the weight one element or the same.</summary>
    private static bool LerpDense(Tensor s, Tensor e, Tensor w, Tensor y)
    {
        int n = y.Numel;
        if (n == 0 || !s.IsContiguous || !e.IsContiguous || !w.IsContiguous || !ShapeUtil.SameShape(s._shape, y._shape) || !ShapeUtil.SameShape(e._shape, y._shape)) return false;
        if (w.Numel == 1 && w.Rank <= y.Rank)
        {
            if (y.DType == DType.Float32)
                Pointwise.Map(s.Storage.As<float>(), s.Offset, false, e.Storage.As<float>(), e.Offset, false, y.Storage.As<float>(), 0, n, new LerpK<float>(w.Storage.As<float>()[w.Offset]));
            else
                Pointwise.Map(s.Storage.As<double>(), s.Offset, false, e.Storage.As<double>(), e.Offset, false, y.Storage.As<double>(), 0, n, new LerpK<double>(w.Storage.As<double>()[w.Offset]));
            return true;
        }
        if (!ShapeUtil.SameShape(w._shape, y._shape)) return false;
        if (y.DType == DType.Float32)
            Pointwise.Map(w.Storage.As<float>(), w.Offset, s.Storage.As<float>(), s.Offset, e.Storage.As<float>(), e.Offset, y.Storage.As<float>(), 0, n, default(LerpTensorK<float>));
        else
            Pointwise.Map(w.Storage.As<double>(), w.Offset, s.Storage.As<double>(), s.Offset, e.Storage.As<double>(), e.Offset, y.Storage.As<double>(), 0, n, default(LerpTensorK<double>));
        return true;
    }

    private static void LerpKernel<T>(Tensor s, Tensor e, Tensor w, Tensor y) where T : IFloatingPointIeee754<T>
    {
        var shape = y._shape;
        T[] ds = s.Storage.As<T>(), de = e.Storage.As<T>(), dw = w.Storage.As<T>(), dy = y.Storage.As<T>();
        Strided.ForEachRow(shape, [BroadcastStrides(s, shape), BroadcastStrides(e, shape), BroadcastStrides(w, shape), ShapeUtil.ContiguousStrides(shape)],
            [s.Offset, e.Offset, w.Offset, 0], (p, n, st) =>
            {
                for (int i = 0, i0 = p[0], i1 = p[1], i2 = p[2], o = p[3]; i < n; i++, i0 += st[0], i1 += st[1], i2 += st[2], o++)
                {
                    dy[o] = Pointwise.Lerp(ds[i0], de[i1], dw[i2]);
                }
            });
    }

    /// <summary>lerp(this, end, weight) (see <see cref="Lerp(Tensor, Tensor, Tensor)"/>).</summary>
    public Tensor Lerp(Tensor end, Tensor weight) => Lerp(this, end, weight);

    /// <summary>lerp with a scalar weight.</summary>
    public Tensor Lerp(Tensor end, double weight) => Lerp(this, end, ScalarLike(weight));

    // addcmul/addcdiv: on three same-shape operands of one float dtype, one SIMD pass forward (AddcK) and, in
    // first-order backward, one pass per needed operand (PyTorch's derivatives.yaml); otherwise (broadcasting, mixed
    // dtypes) the composite of add, mul and div, which records those entries.
    private static Tensor AddcGrad(in OpCtx c, Tensor g, int i, bool div)
    {
        double v = c.A<double>();
        Tensor t1 = c.X(1), t2 = c.X(2);
        return i switch
        {
            0 => g,
            1 => div ? g * (v / t2) : g * (t2 * v),
            _ => div ? -g * v * t1 / (t2 * t2) : g * (t1 * v),
        };
    }

    private static FusedDef AddcDef(string name, string torch, bool div) => new(name, OpFamily.ShapeIndexCreateOther, torch)
    {
        Doc = div ? "input + value·t1/t2" : "input + value·t1·t2",
        Vjp = (in OpCtx c, Tensor g, int i) => AddcGrad(c, g, i, div),
        Jvp = (in OpCtx c, Tensor?[] t) =>
        {
            Tensor? r = t[0];
            for (int i = 1; i < 3; i++)
                if (t[i] is { } ti) r = r is null ? AddcGrad(c, ti, i, div) : r + AddcGrad(c, ti, i, div);
            return r;
        },
        FirstOrder = (in OpCtx c, Tensor[] g, bool[] needs) =>
        {
            double v = c.A<double>();
            Tensor gy = g[0], t1 = c.X(1), t2 = c.X(2);
            if (!ShapeUtil.SameShape(gy._shape, t1._shape) || gy.DType != t1.DType) return null;
            Tensor? g1 = null, g2 = null;
            if (needs[1])
                g1 = div ? PointwiseGradRaw(gy, t2, new Kernels.AddcdivGrad1K<float>((float)v), new Kernels.AddcdivGrad1K<double>(v))
                    : PointwiseGradRaw(gy, t2, new Kernels.AddcGradK<float>((float)v), new Kernels.AddcGradK<double>(v));
            if (needs[2])
                g2 = div ? BinaryGradRaw(gy, t1, t2, new Kernels.AddcGradK<float>((float)v), new Kernels.AddcGradK<double>(v))
                    : PointwiseGradRaw(gy, t1, new Kernels.AddcGradK<float>((float)v), new Kernels.AddcGradK<double>(v));
            return [needs[0] ? gy : null, g1, g2];
        },
        FusedDoc = "one SIMD pass per tensor operand (first-order passes)",
        BatchedJvp = true, Saves = 6u,
        Batch = BatchRules.Elementwise((x, a) => div ? x[0].Addcdiv(x[1], x[2], a is double v ? v : 1) : x[0].Addcmul(x[1], x[2], a is double w ? w : 1)),
        Samples = div
            ? () => [.. Ternary((x, a, b) => x.Addcdiv(a, b), c: OpSamples.Domain.AwayFromZero),
                .. Ternary((x, a, b) => x.Addcdiv(a, b, value: 2.5), c: OpSamples.Domain.AwayFromZero)]
            : () => [.. Ternary((x, a, b) => x.Addcmul(a, b)), .. Ternary((x, a, b) => x.Addcmul(a, b, value: -0.5))],
    };

    internal static readonly FusedDef AddcmulOp = AddcDef("Addcmul", "addcmul", div: false);

    internal static readonly FusedDef AddcdivOp = AddcDef("Addcdiv", "addcdiv", div: true);

    /// <summary>The one-pass addcmul/addcdiv on three same-shape operands of one float dtype, else null.</summary>
    private Tensor? AddcFused(Tensor t1, Tensor t2, double value, bool div)
    {
        if (!DType.IsFloatingPoint() || t1.DType != DType || t2.DType != DType
            || !ShapeUtil.SameShape(_shape, t1._shape) || !ShapeUtil.SameShape(_shape, t2._shape)) return null;
        var y = EmptyLike(this);
        int n = Numel;
        if (n > 0)
        {
            if (DType == DType.Float32)
                Pointwise.Map(DenseArray<float>(this, out int xo), xo, DenseArray<float>(t1, out int ao), ao, DenseArray<float>(t2, out int bo), bo,
                    y.Storage.As<float>(), 0, n, new AddcK<float>((float)value, div));
            else
                Pointwise.Map(DenseArray<double>(this, out int xo), xo, DenseArray<double>(t1, out int ao), ao, DenseArray<double>(t2, out int bo), bo,
                    y.Storage.As<double>(), 0, n, new AddcK<double>(value, div));
        }
        return Op.Tracking([this, t1, t2]) ? Op.Record(div ? AddcdivOp : AddcmulOp, y, [this, t1, t2], value) : y;
    }

    /// <summary>this + value·tensor1·tensor2 with broadcasting (PyTorch's <c>addcmul</c>, same rounding order).</summary>
    public Tensor Addcmul(Tensor tensor1, Tensor tensor2, double value = 1) =>
        AddcFused(tensor1, tensor2, value, div: false) ?? this + (value == 1 ? tensor1 : tensor1 * value) * tensor2;

    /// <summary>this + value·tensor1/tensor2 with broadcasting (PyTorch's <c>addcdiv</c>, same rounding order).</summary>
    public Tensor Addcdiv(Tensor tensor1, Tensor tensor2, double value = 1) =>
        AddcFused(tensor1, tensor2, value, div: true) ?? this + (value == 1 ? tensor1 : tensor1 * value) / tensor2;

    /// <summary>Samples of a broadcasting three-operand call (as <see cref="OpSamples.Binary"/>).</summary>
    private static IEnumerable<OpSample> Ternary(Func<Tensor, Tensor, Tensor, Tensor> f,
        OpSamples.Domain a = OpSamples.Domain.Real, OpSamples.Domain b = OpSamples.Domain.Real, OpSamples.Domain c = OpSamples.Domain.Real)
    {
        static Tensor M(OpSamples.Domain d, int seed, params int[] shape) => OpSamples.Make(d, seed, shape);
        Tensor Call(Tensor[] t) => f(t[0], t[1], t[2]);
        yield return new("same shape", [M(a, 1, 3, 4), M(b, 2, 3, 4), M(c, 3, 3, 4)], Call);
        yield return new("broadcast", [M(a, 4, 3, 1), M(b, 5, 4), M(c, 6, 2, 1, 1)], Call);
        yield return new("0-d operand", [M(a, 7, 2, 3), M(b, 8), M(c, 9, 3)], Call);
        yield return new("noncontiguous", [M(a, 10, 4, 3).T, M(b, 11, 3, 4), M(c, 12, 4, 3).T], Call);
        yield return new("0-d", [M(a, 13), M(b, 14), M(c, 15)], Call);
        yield return new("empty", [M(a, 16, 0, 3), M(b, 17, 1, 3), M(c, 18, 3)], Call);
    }
}
