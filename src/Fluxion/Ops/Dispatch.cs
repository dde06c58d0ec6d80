using System.Numerics;
using Fluxion.Kernels;

namespace Fluxion;

/// <summary>Span forms of unary kernels, one per float type.</summary>
internal delegate void SpanMap<T>(ReadOnlySpan<T> x, Span<T> y);

/// <summary>Which of an elementwise op's tensors its derivative reads (so in-place changes to them are caught).</summary>
internal enum Uses { None, Input, Output, Both }

public partial class Tensor : IAlgebra<Tensor>
{
    /// <summary>Runs a unary float kernel on a dense copy of the input (or the storage itself when contiguous).</summary>
    internal static Tensor MapRaw(string op, Tensor x, SpanMap<float> f32, SpanMap<double> f64)
    {
        x.CheckFloat(op);
        var y = EmptyLike(x);
        if (x.Numel == 0) return y; // some TensorPrimitives kernels reject empty spans
        if (x.DType == DType.Float32) f32(x.DenseSpan<float>(), y.Storage.As<float>());
        else f64(x.DenseSpan<double>(), y.Storage.As<double>());
        return y;
    }

    /// <summary>Runs a unary float kernel given as a per-element function.</summary>
    internal static Tensor MapRaw(string op, Tensor x, Func<double, double> f) => MapRaw(op, x,
        (s, d) => { for (int i = 0; i < d.Length; i++) d[i] = (float)f(s[i]); },
        (s, d) => { for (int i = 0; i < d.Length; i++) d[i] = f(s[i]); });

    /// <summary>A new dense tensor with <paramref name="x"/>'s shape and dtype, to be overwritten completely.
    /// Shares x's (immutable) shape array, and its strides when x is contiguous: no per-op shape allocations.</summary>
    internal static Tensor EmptyLike(Tensor x) =>
        new(Storage.AllocateUninitialized(x.DType, x.Numel), x._shape, x.IsContiguous ? x._strides : ShapeUtil.ContiguousStrides(x._shape), 0);

    /// <summary>Strides of <paramref name="t"/> as seen through broadcasting to <paramref name="shape"/> (0 on broadcast dims).</summary>
    internal static int[] BroadcastStrides(Tensor t, int[] shape)
    {
        var r = new int[shape.Length];
        int off = shape.Length - t.Rank;
        for (int i = 0; i < t.Rank; i++)
            r[off + i] = t._shape[i] == 1 && shape[off + i] != 1 ? 0 : t._strides[i];
        return r;
    }

    /// <summary>Broadcasting binary float kernel.</summary>
    internal static Tensor BinaryRaw(string op, Tensor a, Tensor b, Elementwise.BinaryKernel<float> f32, Elementwise.BinaryKernel<double> f64)
    {
        a.CheckFloat(op);
        b.CheckFloat(op);
        CheckSameDType(op, a, b);
        // 0-d operands (scalars): one element, no layout logic
        if (a._shape.Length == 0 && b._shape.Length == 0)
        {
            var y1 = new Tensor(Storage.AllocateUninitialized(a.DType, 1), a._shape, a._strides, 0);
            if (a.DType == DType.Float32) y1.Storage.As<float>()[0] = f32.Scalar(a.Storage.As<float>()[a.Offset], b.Storage.As<float>()[b.Offset]);
            else y1.Storage.As<double>()[0] = f64.Scalar(a.Storage.As<double>()[a.Offset], b.Storage.As<double>()[b.Offset]);
            return y1;
        }
        // fast paths: dense operands of one shape, or a dense operand and a one-element one
        if (a.IsContiguous && b.IsContiguous)
        {
            Tensor? y0 = null;
            if (ShapeUtil.SameShape(a._shape, b._shape)) y0 = EmptyLike(a);
            else if (b.Numel == 1 && b.Rank <= a.Rank) y0 = EmptyLike(a);
            else if (a.Numel == 1 && a.Rank <= b.Rank) y0 = EmptyLike(b);
            if (y0 is not null)
            {
                if (a.DType == DType.Float32) Dense(f32, a, b, y0);
                else Dense(f64, a, b, y0);
                return y0;
            }
        }
        var shape = ShapeUtil.Broadcast(op, a._shape, b._shape);
        var y = Empty(shape, a.DType);
        var sa = BroadcastStrides(a, shape);
        var sb = BroadcastStrides(b, shape);
        if (a.DType == DType.Float32)
            Elementwise.Binary(f32, a.Storage.As<float>(), a.Offset, sa, b.Storage.As<float>(), b.Offset, sb, y.Storage.As<float>(), shape);
        else
            Elementwise.Binary(f64, a.Storage.As<double>(), a.Offset, sa, b.Storage.As<double>(), b.Offset, sb, y.Storage.As<double>(), shape);
        return y;
    }

    private static void Dense<T>(Elementwise.BinaryKernel<T> k, Tensor a, Tensor b, Tensor y)
    {
        int n = y.Numel;
        var d = y.Storage.As<T>().AsSpan(0, n);
        var sa = a.Storage.As<T>();
        var sb = b.Storage.As<T>();
        if (a.Numel == n && b.Numel == n) k.VV(sa.AsSpan(a.Offset, n), sb.AsSpan(b.Offset, n), d);
        else if (b.Numel == 1) k.VS(sa.AsSpan(a.Offset, n), sb[b.Offset], d);
        else k.SV(sa[a.Offset], sb.AsSpan(b.Offset, n), d);
    }

    /// <summary>
    /// Broadcasting comparison producing a bool tensor (float, int64 or bool operands of one dtype), compared in the
    /// operands' own type (int64 exactly). Dense same-shape operands, or a dense operand and a one-element one, take
    /// the SIMD kernel; other layouts go row by row (rows with unit or zero strides still SIMD).
    /// </summary>
    internal static Tensor CompareRaw<TC>(string op, Tensor a, Tensor b) where TC : struct, ICmp
    {
        CheckSameDType(op, a, b);
        if (a.IsContiguous && b.IsContiguous)
        {
            int[]? dense = ShapeUtil.SameShape(a._shape, b._shape) ? a._shape
                : b.Numel == 1 && b.Rank <= a.Rank ? a._shape
                : a.Numel == 1 && a.Rank <= b.Rank ? b._shape : null;
            if (dense is not null)
            {
                var y0 = Empty(dense, DType.Bool);
                var d = y0.Storage.As<bool>().AsSpan(0, y0.Numel);
                switch (a.DType)
                {
                    case DType.Float32: BinaryMath.CompareDense<float, TC>(a.DenseSpan<float>(), b.DenseSpan<float>(), d); break;
                    case DType.Float64: BinaryMath.CompareDense<double, TC>(a.DenseSpan<double>(), b.DenseSpan<double>(), d); break;
                    case DType.Int64: BinaryMath.CompareDense<long, TC>(a.DenseSpan<long>(), b.DenseSpan<long>(), d); break;
                    case DType.Bool:
                        BinaryMath.CompareDense<byte, TC>(System.Runtime.InteropServices.MemoryMarshal.Cast<bool, byte>(a.DenseSpan<bool>()),
                            System.Runtime.InteropServices.MemoryMarshal.Cast<bool, byte>(b.DenseSpan<bool>()), d);
                        break;
                }
                return y0;
            }
        }
        var shape = ShapeUtil.Broadcast(op, a._shape, b._shape);
        var y = Empty(shape, DType.Bool);
        var sa = BroadcastStrides(a, shape);
        var sb = BroadcastStrides(b, shape);
        var dst = y.Storage.As<bool>();
        switch (a.DType)
        {
            case DType.Float32: BinaryMath.CompareStrided<float, float, TC>(a.Storage.As<float>(), a.Offset, sa, b.Storage.As<float>(), b.Offset, sb, dst, shape); break;
            case DType.Float64: BinaryMath.CompareStrided<double, double, TC>(a.Storage.As<double>(), a.Offset, sa, b.Storage.As<double>(), b.Offset, sb, dst, shape); break;
            case DType.Int64: BinaryMath.CompareStrided<long, long, TC>(a.Storage.As<long>(), a.Offset, sa, b.Storage.As<long>(), b.Offset, sb, dst, shape); break;
            case DType.Bool: BinaryMath.CompareStrided<bool, byte, TC>(a.Storage.As<bool>(), a.Offset, sa, b.Storage.As<bool>(), b.Offset, sb, dst, shape); break;
        }
        return y;
    }

    /// <summary>Broadcasting elementwise predicate given as a function of the values as doubles (the logical operators).</summary>
    internal static Tensor CompareRaw(string op, Tensor a, Tensor b, Func<double, double, bool> cmp)
    {
        CheckSameDType(op, a, b);
        var shape = ShapeUtil.Broadcast(op, a._shape, b._shape);
        var y = Empty(shape, DType.Bool);
        var sa = BroadcastStrides(a, shape);
        var sb = BroadcastStrides(b, shape);
        var dst = y.Storage.As<bool>();
        switch (a.DType)
        {
            case DType.Float32: Elementwise.Compare<float>((p, q) => cmp(p, q), a.Storage.As<float>(), a.Offset, sa, b.Storage.As<float>(), b.Offset, sb, dst, shape); break;
            case DType.Float64: Elementwise.Compare<double>(cmp, a.Storage.As<double>(), a.Offset, sa, b.Storage.As<double>(), b.Offset, sb, dst, shape); break;
            case DType.Int64: Elementwise.Compare<long>((p, q) => cmp(p, q), a.Storage.As<long>(), a.Offset, sa, b.Storage.As<long>(), b.Offset, sb, dst, shape); break;
            case DType.Bool: Elementwise.Compare<bool>((p, q) => cmp(p ? 1 : 0, q ? 1 : 0), a.Storage.As<bool>(), a.Offset, sa, b.Storage.As<bool>(), b.Offset, sb, dst, shape); break;
        }
        return y;
    }

    /// <summary>A 0-d tensor of this tensor's dtype holding <paramref name="v"/>, for scalar operands.</summary>
    internal Tensor ScalarLike(double v) => Scalar(v, DType);

    /// <summary>The fused first-order VJP g·f'(x, y) of a unary op, element by element on raw values (no graph, one allocation).</summary>
    internal static Tensor RawUnaryVjp<TD>(Tensor g, Tensor? x, Tensor? y, TD d, Uses uses) where TD : struct, IDerivative
    {
        var r = EmptyLike(g);
        bool readX = uses is Uses.Input or Uses.Both, readY = uses is Uses.Output or Uses.Both;
        if (g.DType == DType.Float32)
        {
            var gs = g.DenseSpan<float>();
            var xs = readX ? x!.DenseSpan<float>() : gs;
            var ys = readY ? y!.DenseSpan<float>() : gs;
            var rs = r.Storage.As<float>().AsSpan(0, gs.Length);
            for (int i = 0; i < rs.Length; i++) rs[i] = gs[i] * d.Eval(new R32(xs[i]), new R32(ys[i])).V;
        }
        else
        {
            var gs = g.DenseSpan<double>();
            var xs = readX ? x!.DenseSpan<double>() : gs;
            var ys = readY ? y!.DenseSpan<double>() : gs;
            var rs = r.Storage.As<double>().AsSpan(0, gs.Length);
            for (int i = 0; i < rs.Length; i++) rs[i] = gs[i] * d.Eval(new R64(xs[i]), new R64(ys[i])).V;
        }
        return r;
    }

    /// <summary>The fused first-order VJP of a binary op for one input (<paramref name="forA"/>), on same-shape dense operands.</summary>
    internal static Tensor RawBinaryVjp<TR>(Tensor g, Tensor? a, Tensor? b, Tensor? y, TR rule, bool forA) where TR : struct, IBinaryRule
    {
        // the rule reads only what its entry saved; the others are stood in for by g (never read)
        var r = EmptyLike(g);
        if (g.DType == DType.Float32)
        {
            ReadOnlySpan<float> gs = g.DenseSpan<float>(), xa = (a ?? g).DenseSpan<float>(), xb = (b ?? g).DenseSpan<float>(), ys = (y ?? g).DenseSpan<float>();
            var rs = r.Storage.As<float>().AsSpan(0, gs.Length);
            for (int i = 0; i < rs.Length; i++)
                rs[i] = (forA ? rule.Da(new R32(gs[i]), new R32(xa[i]), new R32(xb[i]), new R32(ys[i])) : rule.Db(new R32(gs[i]), new R32(xa[i]), new R32(xb[i]), new R32(ys[i]))).V;
        }
        else
        {
            ReadOnlySpan<double> gs = g.DenseSpan<double>(), xa = (a ?? g).DenseSpan<double>(), xb = (b ?? g).DenseSpan<double>(), ys = (y ?? g).DenseSpan<double>();
            var rs = r.Storage.As<double>().AsSpan(0, gs.Length);
            for (int i = 0; i < rs.Length; i++)
                rs[i] = (forA ? rule.Da(new R64(gs[i]), new R64(xa[i]), new R64(xb[i]), new R64(ys[i])) : rule.Db(new R64(gs[i]), new R64(xa[i]), new R64(xb[i]), new R64(ys[i]))).V;
        }
        return r;
    }

    // IAlgebra<Tensor>: the arithmetic operators are the public ones; the functions map to the differentiable ops.
    static Tensor IAlgebra<Tensor>.Exp(Tensor x) => x.Exp();
    static Tensor IAlgebra<Tensor>.Sin(Tensor x) => x.Sin();
    static Tensor IAlgebra<Tensor>.Cos(Tensor x) => x.Cos();
    static Tensor IAlgebra<Tensor>.Sinh(Tensor x) => x.Sinh();
    static Tensor IAlgebra<Tensor>.Cosh(Tensor x) => x.Cosh();
    static Tensor IAlgebra<Tensor>.Sign(Tensor x) => x.Sign();
    static Tensor IAlgebra<Tensor>.Erf(Tensor x) => x.Erf();
    static Tensor IAlgebra<Tensor>.Pow(Tensor x, double exponent) => x.Pow(exponent);
    static Tensor IAlgebra<Tensor>.ZerosLike(Tensor x) => ZerosLike(x);
}

/// <summary>
/// The arithmetic an elementwise derivative rule may use. Implemented by <see cref="Tensor"/> (differentiable
/// ops, for VJPs/JVPs that can be differentiated again) and by the raw scalars <see cref="R32"/> and
/// <see cref="R64"/> (for the fused first-order backward), so each rule is written once.
/// Constants are doubles; on float32 they are rounded to float first, as <c>x.ScalarLike(c)</c> does.
/// </summary>
internal interface IAlgebra<T> where T : IAlgebra<T>
{
    static abstract T operator +(T a, T b);
    static abstract T operator -(T a, T b);
    static abstract T operator *(T a, T b);
    static abstract T operator /(T a, T b);
    static abstract T operator -(T a);
    static abstract T operator +(double a, T b);
    static abstract T operator -(double a, T b);
    static abstract T operator *(double a, T b);
    static abstract T operator /(double a, T b);
    static abstract T operator +(T a, double b);
    static abstract T operator -(T a, double b);
    static abstract T operator *(T a, double b);
    static abstract T operator /(T a, double b);
    static abstract T Exp(T x);
    static abstract T Sin(T x);
    static abstract T Cos(T x);
    static abstract T Sinh(T x);
    static abstract T Cosh(T x);
    /// <summary>-1, 0 or 1 (NaN stays NaN).</summary>
    static abstract T Sign(T x);
    static abstract T Erf(T x);
    static abstract T Pow(T x, double exponent);
    static abstract T ZerosLike(T x);
}

/// <summary>The derivative f'(x, y) of an elementwise op y = f(x), written once for every <see cref="IAlgebra{T}"/>.</summary>
internal interface IDerivative
{
    /// <summary>f'(x) given the input <paramref name="x"/> and the output <paramref name="y"/>.</summary>
    T Eval<T>(T x, T y) where T : IAlgebra<T>;
}

/// <summary>
/// The derivative rule of a binary elementwise op y = f(a, b), written once for every <see cref="IAlgebra{T}"/>:
/// the output gradient (or tangent) <c>g</c> times ∂y/∂a and times ∂y/∂b, at y's (broadcast) shape.
/// </summary>
internal interface IBinaryRule
{
    /// <summary>True when g·∂y/∂a is g itself (e.g. addition): nothing to compute.</summary>
    bool IdentityA { get; }

    /// <summary>True when g·∂y/∂b is g itself.</summary>
    bool IdentityB { get; }

    /// <summary>g·∂y/∂a.</summary>
    T Da<T>(T g, T a, T b, T y) where T : IAlgebra<T>;

    /// <summary>g·∂y/∂b.</summary>
    T Db<T>(T g, T a, T b, T y) where T : IAlgebra<T>;
}

/// <summary>A float32 value under <see cref="IAlgebra{T}"/> (float arithmetic, constants rounded to float).</summary>
internal readonly struct R32(float v) : IAlgebra<R32>
{
    public readonly float V = v;
    public static R32 operator +(R32 a, R32 b) => new(a.V + b.V);
    public static R32 operator -(R32 a, R32 b) => new(a.V - b.V);
    public static R32 operator *(R32 a, R32 b) => new(a.V * b.V);
    public static R32 operator /(R32 a, R32 b) => new(a.V / b.V);
    public static R32 operator -(R32 a) => new(-a.V);
    public static R32 operator +(double a, R32 b) => new((float)a + b.V);
    public static R32 operator -(double a, R32 b) => new((float)a - b.V);
    public static R32 operator *(double a, R32 b) => new((float)a * b.V);
    public static R32 operator /(double a, R32 b) => new((float)a / b.V);
    public static R32 operator +(R32 a, double b) => new(a.V + (float)b);
    public static R32 operator -(R32 a, double b) => new(a.V - (float)b);
    public static R32 operator *(R32 a, double b) => new(a.V * (float)b);
    public static R32 operator /(R32 a, double b) => new(a.V / (float)b);
    public static R32 Exp(R32 x) => new(MathF.Exp(x.V));
    public static R32 Sin(R32 x) => new(MathF.Sin(x.V));
    public static R32 Cos(R32 x) => new(MathF.Cos(x.V));
    public static R32 Sinh(R32 x) => new(MathF.Sinh(x.V));
    public static R32 Cosh(R32 x) => new(MathF.Cosh(x.V));
    public static R32 Sign(R32 x) => new(float.IsNaN(x.V) ? x.V : MathF.Sign(x.V));
    public static R32 Erf(R32 x) => new((float)Special.Erf(x.V));
    public static R32 Pow(R32 x, double exponent) => new(MathF.Pow(x.V, (float)exponent));
    public static R32 ZerosLike(R32 x) => new(0f);
}

/// <summary>A float64 value under <see cref="IAlgebra{T}"/>.</summary>
internal readonly struct R64(double v) : IAlgebra<R64>
{
    public readonly double V = v;
    public static R64 operator +(R64 a, R64 b) => new(a.V + b.V);
    public static R64 operator -(R64 a, R64 b) => new(a.V - b.V);
    public static R64 operator *(R64 a, R64 b) => new(a.V * b.V);
    public static R64 operator /(R64 a, R64 b) => new(a.V / b.V);
    public static R64 operator -(R64 a) => new(-a.V);
    public static R64 operator +(double a, R64 b) => new(a + b.V);
    public static R64 operator -(double a, R64 b) => new(a - b.V);
    public static R64 operator *(double a, R64 b) => new(a * b.V);
    public static R64 operator /(double a, R64 b) => new(a / b.V);
    public static R64 operator +(R64 a, double b) => new(a.V + b);
    public static R64 operator -(R64 a, double b) => new(a.V - b);
    public static R64 operator *(R64 a, double b) => new(a.V * b);
    public static R64 operator /(R64 a, double b) => new(a.V / b);
    public static R64 Exp(R64 x) => new(Math.Exp(x.V));
    public static R64 Sin(R64 x) => new(Math.Sin(x.V));
    public static R64 Cos(R64 x) => new(Math.Cos(x.V));
    public static R64 Sinh(R64 x) => new(Math.Sinh(x.V));
    public static R64 Cosh(R64 x) => new(Math.Cosh(x.V));
    public static R64 Sign(R64 x) => new(double.IsNaN(x.V) ? x.V : Math.Sign(x.V));
    public static R64 Erf(R64 x) => new(Special.Erf(x.V));
    public static R64 Pow(R64 x, double exponent) => new(Math.Pow(x.V, exponent));
    public static R64 ZerosLike(R64 x) => new(0.0);
}

/// <summary>
/// Registry entry of an elementwise op declared by its derivative f'(x, y) (an <see cref="IDerivative"/>, written
/// once): the VJP is g·f'(x, y) and the JVP t·f'(x, y) in differentiable tensor ops; in a first-order pass on
/// small tensors (up to <see cref="Op.RawMaxNumel"/> elements, where per-op overhead dominates) the same rule
/// runs fused on raw values: one pass, one allocation, no graph bookkeeping. A derivative with parameters
/// (e.g. the exponent of a power) is passed per call as the call's attribute.
/// </summary>
internal sealed class UnaryDef<TD> : OpDef where TD : struct, IDerivative
{
    private readonly SpanMap<float>? _f32;
    private readonly SpanMap<double>? _f64;
    private readonly Uses _uses;

    /// <summary>An entry whose forward kernels are <paramref name="f32"/> and <paramref name="f64"/> (null when the
    /// op computes its value itself and calls <see cref="Record"/>).</summary>
    public UnaryDef(string name, Uses uses, SpanMap<float>? f32, SpanMap<double>? f64, params string[] torch)
        : base(name, OpFamily.Unary, torch)
    {
        _f32 = f32;
        _f64 = f64;
        _uses = uses;
        BatchedJvp = true;
        // an op whose derivative reads nothing still keeps its input (for the zeros' shape)
        Saves = uses switch { Uses.Output => SaveOutput, Uses.Both => 1u | SaveOutput, _ => 1u };
    }

    public override bool HasVjp => true;
    public override bool HasJvp => true;
    public override string FusedBackward => $"raw loop, first-order passes up to {Op.RawMaxNumel} elements";

    /// <summary>Runs the op on <paramref name="x"/>.</summary>
    public Tensor Call(Tensor x) => Record(x, Tensor.MapRaw(Name, x, _f32!, _f64!), default);

    /// <summary>Records a call whose value <paramref name="y"/> the caller computed.</summary>
    public Tensor Record(Tensor x, Tensor y, TD d)
    {
        object? attr = typeof(TD).IsDefined(typeof(StatelessAttribute), false) ? null : d;
        if (x.HasTangents && ForwardLevels.ActiveCount > 0)
            Op.PropagateTangents(Name, [y], [x], t => [t[0] is { } tx ? tx * d.Eval(x, y) : null], batched: true);
        if (Op.ShouldRecord(x)) Op.Attach(new OpNode(this, [x], y, attr), y);
        return y;
    }

    internal override Tensor?[] Backward(in OpCtx c, Tensor[] gradOutputs, bool[] needs, bool firstOrder, Tensor?[] result)
    {
        if (!needs[0]) return result;
        var g = gradOutputs[0];
        var d = c.Attr is TD td ? td : default;
        Tensor? x = c.Inputs[0], y = (Saves & SaveOutput) != 0 ? c.Y : null;
        result[0] = firstOrder && g.Numel <= Op.RawMaxNumel
            ? Tensor.RawUnaryVjp(g, x, y, d, _uses)
            : g * d.Eval(x!, y!);
        return result;
    }

    internal override Tensor?[] Tangents(in OpCtx c, Tensor?[] tangents)
    {
        var d = c.Attr is TD td ? td : default;
        return [tangents[0] is { } tx ? tx * d.Eval(c.X(0), c.Y) : null];
    }
}

/// <summary>Marks an <see cref="IDerivative"/> or <see cref="IBinaryRule"/> struct without fields (no per-call attribute needed).</summary>
[AttributeUsage(AttributeTargets.Struct)]
internal sealed class StatelessAttribute : Attribute;

/// <summary>
/// Registry entry of a broadcasting binary elementwise op declared by its rule (<see cref="IBinaryRule"/>: g·∂y/∂a and
/// g·∂y/∂b, written once): the VJPs reduce them to each input's shape, the JVP is their sum applied to the tangents,
/// and in a first-order pass on small same-shape operands the rule runs fused on raw values.
/// </summary>
internal sealed class BinaryDef<TR> : OpDef where TR : struct, IBinaryRule
{
    /// <summary>An entry; <paramref name="savesFor"/> says which operands the needed gradients read.</summary>
    public BinaryDef(string name, Func<Tensor[], uint>? savesFor, params string[] torch) : base(name, OpFamily.Binary, torch)
    {
        BatchedJvp = true;
        SavesFor = savesFor;
    }

    public override bool HasVjp => true;
    public override bool HasJvp => true;
    public override string FusedBackward => $"raw loop, first-order passes on same-shape operands up to {Op.RawMaxNumel} elements";

    /// <summary>Records a call whose value <paramref name="y"/> the caller computed.</summary>
    public Tensor Record(Tensor a, Tensor b, Tensor y)
    {
        if ((a.HasTangents || b.HasTangents) && ForwardLevels.ActiveCount > 0)
        {
            var rule = default(TR);
            Op.PropagateTangents(Name, [y], [a, b], t =>
            [
                Tensor.BroadcastTangent(Tensor.AddTangents(
                    Tensor.AlignTangent(t[0], a, y.Rank) is { } ta ? (rule.IdentityA ? ta : rule.Da(ta, a, b, y)) : null,
                    Tensor.AlignTangent(t[1], b, y.Rank) is { } tb ? (rule.IdentityB ? tb : rule.Db(tb, a, b, y)) : null), y),
            ], batched: true);
        }
        if (Op.ReverseTracking(a, b) && !Op.TryCollect(a, b))
            Op.Attach(new OpNode(this, [a, b], y, null), y);
        return y;
    }

    internal override Tensor?[] Backward(in OpCtx c, Tensor[] gradOutputs, bool[] needs, bool firstOrder, Tensor?[] result)
    {
        var rule = default(TR);
        Tensor? a = c.Inputs[0], b = c.Inputs[1];
        var g = gradOutputs[0];
        int[] sa = c.Shape(0), sb = c.Shape(1);
        bool raw = firstOrder && g.Numel <= Op.RawMaxNumel && ShapeUtil.SameShape(sa, sb);
        if (needs[0])
            result[0] = rule.IdentityA ? g.SumTo(sa)
                : raw ? Tensor.RawBinaryVjp(g, a, b, null, rule, forA: true) : rule.Da(g, a!, b!, null!).SumTo(sa);
        if (needs[1])
            result[1] = rule.IdentityB ? g.SumTo(sb)
                : raw ? Tensor.RawBinaryVjp(g, a, b, null, rule, forA: false) : rule.Db(g, a!, b!, null!).SumTo(sb);
        return result;
    }

    internal override Tensor?[] Tangents(in OpCtx c, Tensor?[] tangents) => throw new InvalidOperationException("BinaryDef propagates in Record.");
}
