using Fluxion.Kernels;

namespace Fluxion;

/// <summary>The fused first-order backward of an entry: all the needed input gradients from raw kernels, or null
/// when this call does not qualify (e.g. broadcast operands), in which case the entry's VJP runs.</summary>
internal delegate Tensor?[]? FirstOrderRule(in OpCtx c, Tensor[] gradOutputs, bool[] needs);

/// <summary>
/// A registry entry with a fused first-order backward: in a first-order pass (no graph recorded, no forward level) its
/// <see cref="FirstOrder"/> rule computes the gradients in one SIMD pass per input; otherwise (create-graph, second
/// order) or when the rule declines, the entry's tensor-op <see cref="OpDef.Vjp"/> runs, differentiable again.
/// </summary>
internal sealed class FusedDef(string name, OpFamily family, params string[] torch) : OpDef(name, family, torch)
{
    /// <summary>The fused rule.</summary>
    public required FirstOrderRule FirstOrder { get; init; }

    /// <summary>When the fused rule applies (shown by <c>fluxion ops</c>).</summary>
    public string? FusedDoc { get; init; } = "one SIMD pass g·f'(x) (first-order passes)";

    public override string? FusedBackward => FusedDoc;

    internal override Tensor?[] Backward(in OpCtx c, Tensor[] gradOutputs, bool[] needs, bool firstOrder, Tensor?[] result)
    {
        if (firstOrder && FirstOrder(c, gradOutputs, needs) is { } r)
        {
            for (int i = 0; i < needs.Length; i++)
                if (needs[i]) result[i] = r[i];
            return result;
        }
        return base.Backward(c, gradOutputs, needs, firstOrder, result);
    }
}

// Raw runners of the Kernels.Pointwise maps on tensors (no autograd: the ops record themselves).
public partial class Tensor
{
    private static T[] DenseArray<T>(Tensor t, out int offset) => (T[])t.DenseSpanArray(out offset);

    /// <summary>y = m(x) elementwise into a new dense tensor (float32 or float64).</summary>
    internal static Tensor PointwiseRaw<TM32, TM64>(string op, Tensor x, TM32 m32, TM64 m64)
        where TM32 : struct, IMap1<float> where TM64 : struct, IMap1<double>
    {
        x.CheckFloat(op);
        var y = EmptyLike(x);
        int n = x.Numel;
        if (n == 0) return y;
        if (x.DType == DType.Float32) Pointwise.Map(DenseArray<float>(x, out int o), o, y.Storage.As<float>(), 0, n, m32);
        else Pointwise.Map(DenseArray<double>(x, out int o), o, y.Storage.As<double>(), 0, n, m64);
        return y;
    }

    /// <summary>The fused gradient m(g, x) of a unary elementwise op into a new dense tensor (g and x of one shape).</summary>
    internal static Tensor PointwiseGradRaw<TM32, TM64>(Tensor g, Tensor x, TM32 m32, TM64 m64)
        where TM32 : struct, IMap2<float> where TM64 : struct, IMap2<double>
    {
        var r = EmptyLike(x);
        int n = x.Numel;
        if (n == 0) return r;
        if (x.DType == DType.Float32)
            Pointwise.Map(DenseArray<float>(g, out int go), go, false, DenseArray<float>(x, out int xo), xo, false, r.Storage.As<float>(), 0, n, m32);
        else
            Pointwise.Map(DenseArray<double>(g, out int go), go, false, DenseArray<double>(x, out int xo), xo, false, r.Storage.As<double>(), 0, n, m64);
        return r;
    }

    /// <summary>The fused gradient m(g, a, b) of a binary elementwise op for one operand, when g, a and b share one shape
    /// and dtype (else null: the caller's tensor-op VJP handles broadcasting).</summary>
    internal static Tensor? BinaryGradRaw<TM32, TM64>(Tensor g, Tensor a, Tensor b, TM32 m32, TM64 m64)
        where TM32 : struct, IMap3<float> where TM64 : struct, IMap3<double>
    {
        if (!ShapeUtil.SameShape(a._shape, b._shape) || !ShapeUtil.SameShape(g._shape, a._shape) || g.DType != a.DType || b.DType != a.DType) return null;
        var r = EmptyLike(a);
        int n = a.Numel;
        if (n == 0) return r;
        if (a.DType == DType.Float32)
            Pointwise.Map(DenseArray<float>(g, out int go), go, DenseArray<float>(a, out int ao), ao, DenseArray<float>(b, out int bo), bo, r.Storage.As<float>(), 0, n, m32);
        else
            Pointwise.Map(DenseArray<double>(g, out int go), go, DenseArray<double>(a, out int ao), ao, DenseArray<double>(b, out int bo), bo, r.Storage.As<double>(), 0, n, m64);
        return r;
    }

    /// <summary>An elementwise unary entry with a scalar attribute: its VJP and JVP are <paramref name="grad"/>(g, x, attr) in
    /// tensor ops (differentiable again), its first-order backward the fused <paramref name="fused"/>(g, x, attr).</summary>
    private static FusedDef PointwiseDef(string name, OpFamily family, string torch, Func<Tensor, Tensor, object?, Tensor> grad,
        Func<Tensor, Tensor, object?, Tensor> fused, Func<Tensor, object?, Tensor> call, Func<IEnumerable<OpSample>> samples, DTypeSet dtypes = DTypeSet.Floats) =>
        new(name, family, torch)
        {
            Vjp = (in OpCtx c, Tensor g, int i) => grad(g, c.X(0), c.Attr),
            Jvp = (in OpCtx c, Tensor?[] t) => t[0] is { } tx ? grad(tx, c.X(0), c.Attr) : null,
            FirstOrder = (in OpCtx c, Tensor[] g, bool[] needs) => [fused(g[0], c.X(0), c.Attr)],
            BatchedJvp = true, Saves = 1u, Samples = samples, DTypes = dtypes,
            Batch = BatchRules.Unary(call),
        };
}

public partial class Tensor
{
    /// <summary>y = m(a, b) elementwise into a new dense tensor (a and b of one shape and float dtype).</summary>
    internal static Tensor BinaryMapRaw<TM32, TM64>(Tensor a, Tensor b, TM32 m32, TM64 m64)
        where TM32 : struct, IMap2<float> where TM64 : struct, IMap2<double>
    {
        var r = EmptyLike(a);
        int n = a.Numel;
        if (n == 0) return r;
        if (a.DType == DType.Float32)
            Pointwise.Map(DenseArray<float>(a, out int ao), ao, false, DenseArray<float>(b, out int bo), bo, false, r.Storage.As<float>(), 0, n, m32);
        else
            Pointwise.Map(DenseArray<double>(a, out int ao), ao, false, DenseArray<double>(b, out int bo), bo, false, r.Storage.As<double>(), 0, n, m64);
        return r;
    }
}
