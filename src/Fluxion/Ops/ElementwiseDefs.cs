namespace Fluxion;

/// <summary>Which of an elementwise op's tensors its derivative reads (so in-place changes to them are caught).</summary>
internal enum Uses { None, Input, Output, Both }

public partial class Tensor
{
    /// <summary>The fused first-order VJP g·f'(x, y) of a unary op, element by element on raw values (no graph, one
    /// allocation): 8 float32 or 4 float64 lanes at a time (<see cref="V32"/>, <see cref="V64"/>; the tail padded into a
    /// vector), on the available threads from <see cref="Kernels.VecMath.ParallelMin"/> elements.</summary>
    internal static unsafe Tensor RawUnaryVjp<TD>(Tensor g, Tensor? x, Tensor? y, TD d, Uses uses) where TD : struct, IDerivative
    {
        var r = EmptyLike(g);
        int n = g.Numel;
        if (n == 0) return r;
        bool readX = uses is Uses.Input or Uses.Both, readY = uses is Uses.Output or Uses.Both;
        if (g.DType == DType.Float32)
        {
            var gs = g.DenseSpan<float>();
            var xs = readX ? x!.DenseSpan<float>() : gs;
            var ys = readY ? y!.DenseSpan<float>() : gs;
            var rs = r.Storage.As<float>().AsSpan(0, n);
            fixed (float* pg = gs, px = xs, py = ys, pr = rs)
            {
                nint ag = (nint)pg, ax = (nint)px, ay = (nint)py, ar = (nint)pr;
                Kernels.Parallelism.For(n, n, Kernels.VecMath.ParallelMin, (s, e) => VjpRange(d, (float*)ag, (float*)ax, (float*)ay, (float*)ar, s, e));
            }
        }
        else
        {
            var gs = g.DenseSpan<double>();
            var xs = readX ? x!.DenseSpan<double>() : gs;
            var ys = readY ? y!.DenseSpan<double>() : gs;
            var rs = r.Storage.As<double>().AsSpan(0, n);
            fixed (double* pg = gs, px = xs, py = ys, pr = rs)
            {
                nint ag = (nint)pg, ax = (nint)px, ay = (nint)py, ar = (nint)pr;
                Kernels.Parallelism.For(n, n, Kernels.VecMath.ParallelMin, (s, e) => VjpRange(d, (double*)ag, (double*)ax, (double*)ay, (double*)ar, s, e));
            }
        }
        return r;
    }

    private static unsafe void VjpRange<TD>(TD d, float* g, float* x, float* y, float* r, int s, int e) where TD : struct, IDerivative
    {
        int i = s;
        for (; i + 8 <= e; i += 8)
        {
            var v = d.Eval(new V32(System.Runtime.Intrinsics.Vector256.Load(x + i)), new V32(System.Runtime.Intrinsics.Vector256.Load(y + i))).V;
            System.Runtime.Intrinsics.Vector256.Store(System.Runtime.Intrinsics.Vector256.Load(g + i) * v, r + i);
        }
        if (i < e)
        {
            float* bx = stackalloc float[8], by = stackalloc float[8], bg = stackalloc float[8];
            for (int k = 0; k < 8; k++) { bool inside = i + k < e; bx[k] = inside ? x[i + k] : 0; by[k] = inside ? y[i + k] : 0; bg[k] = inside ? g[i + k] : 0; }
            var v = System.Runtime.Intrinsics.Vector256.Load(bg) * d.Eval(new V32(System.Runtime.Intrinsics.Vector256.Load(bx)), new V32(System.Runtime.Intrinsics.Vector256.Load(by))).V;
            for (int k = 0; i + k < e; k++) r[i + k] = v[k];
        }
    }

    private static unsafe void VjpRange<TD>(TD d, double* g, double* x, double* y, double* r, int s, int e) where TD : struct, IDerivative
    {
        int i = s;
        for (; i + 4 <= e; i += 4)
        {
            var v = d.Eval(new V64(System.Runtime.Intrinsics.Vector256.Load(x + i)), new V64(System.Runtime.Intrinsics.Vector256.Load(y + i))).V;
            System.Runtime.Intrinsics.Vector256.Store(System.Runtime.Intrinsics.Vector256.Load(g + i) * v, r + i);
        }
        if (i < e)
        {
            double* bx = stackalloc double[4], by = stackalloc double[4], bg = stackalloc double[4];
            for (int k = 0; k < 4; k++) { bool inside = i + k < e; bx[k] = inside ? x[i + k] : 0; by[k] = inside ? y[i + k] : 0; bg[k] = inside ? g[i + k] : 0; }
            var v = System.Runtime.Intrinsics.Vector256.Load(bg) * d.Eval(new V64(System.Runtime.Intrinsics.Vector256.Load(bx)), new V64(System.Runtime.Intrinsics.Vector256.Load(by))).V;
            for (int k = 0; i + k < e; k++) r[i + k] = v[k];
        }
    }

    /// <summary>The fused first-order VJP of a binary op for one input (<paramref name="forA"/>), on same-shape dense operands.</summary>
    internal static unsafe Tensor RawBinaryVjp<TR>(Tensor g, Tensor? a, Tensor? b, Tensor? y, TR rule, bool forA) where TR : struct, IBinaryRule
    {
        // the rule reads only what its entry saved; the others are stood in for by g (never read). 8 float32 or 4 float64
        // lanes at a time (V32, V64: the same IEEE operations as one element at a time, so the same bits), the tail element
        // by element (R32, R64); large tensors are cut into chunks on the available threads.
        var r = EmptyLike(g);
        int n = g.Numel;
        if (n == 0) return r;
        if (g.DType == DType.Float32)
        {
            var gs = g.DenseSpan<float>();
            var xa = a is null ? gs : a.DenseSpan<float>();
            var xb = b is null ? gs : b.DenseSpan<float>();
            var ys = y is null ? gs : y.DenseSpan<float>();
            var rs = r.Storage.As<float>().AsSpan(0, n);
            fixed (float* pg = gs, pa = xa, pb = xb, py = ys, pr = rs)
            {
                nint ag = (nint)pg, aa = (nint)pa, ab = (nint)pb, ay = (nint)py, ar = (nint)pr;
                Kernels.Parallelism.For(n, n, Kernels.Pointwise.ParallelThreshold, (s, e) =>
                    BinaryVjpRange(rule, forA, (float*)ag, (float*)aa, (float*)ab, (float*)ay, (float*)ar, s, e));
            }
        }
        else
        {
            var gs = g.DenseSpan<double>();
            var xa = a is null ? gs : a.DenseSpan<double>();
            var xb = b is null ? gs : b.DenseSpan<double>();
            var ys = y is null ? gs : y.DenseSpan<double>();
            var rs = r.Storage.As<double>().AsSpan(0, n);
            fixed (double* pg = gs, pa = xa, pb = xb, py = ys, pr = rs)
            {
                nint ag = (nint)pg, aa = (nint)pa, ab = (nint)pb, ay = (nint)py, ar = (nint)pr;
                Kernels.Parallelism.For(n, n, Kernels.Pointwise.ParallelThreshold, (s, e) =>
                    BinaryVjpRange(rule, forA, (double*)ag, (double*)aa, (double*)ab, (double*)ay, (double*)ar, s, e));
            }
        }
        return r;
    }

    private static unsafe void BinaryVjpRange<TR>(TR rule, bool forA, float* g, float* a, float* b, float* y, float* r, int s, int e) where TR : struct, IBinaryRule
    {
        int i = s;
        for (; i + 8 <= e; i += 8)
        {
            V32 gi = new(System.Runtime.Intrinsics.Vector256.Load(g + i)), ai = new(System.Runtime.Intrinsics.Vector256.Load(a + i));
            V32 bi = new(System.Runtime.Intrinsics.Vector256.Load(b + i)), yi = new(System.Runtime.Intrinsics.Vector256.Load(y + i));
            System.Runtime.Intrinsics.Vector256.Store((forA ? rule.Da(gi, ai, bi, yi) : rule.Db(gi, ai, bi, yi)).V, r + i);
        }
        for (; i < e; i++)
        {
            R32 gi = new(g[i]), ai = new(a[i]), bi = new(b[i]), yi = new(y[i]);
            r[i] = (forA ? rule.Da(gi, ai, bi, yi) : rule.Db(gi, ai, bi, yi)).V;
        }
    }

    private static unsafe void BinaryVjpRange<TR>(TR rule, bool forA, double* g, double* a, double* b, double* y, double* r, int s, int e) where TR : struct, IBinaryRule
    {
        int i = s;
        for (; i + 4 <= e; i += 4)
        {
            V64 gi = new(System.Runtime.Intrinsics.Vector256.Load(g + i)), ai = new(System.Runtime.Intrinsics.Vector256.Load(a + i));
            V64 bi = new(System.Runtime.Intrinsics.Vector256.Load(b + i)), yi = new(System.Runtime.Intrinsics.Vector256.Load(y + i));
            System.Runtime.Intrinsics.Vector256.Store((forA ? rule.Da(gi, ai, bi, yi) : rule.Db(gi, ai, bi, yi)).V, r + i);
        }
        for (; i < e; i++)
        {
            R64 gi = new(g[i]), ai = new(a[i]), bi = new(b[i]), yi = new(y[i]);
            r[i] = (forA ? rule.Da(gi, ai, bi, yi) : rule.Db(gi, ai, bi, yi)).V;
        }
    }
}

/// <summary>
/// Registry entry of an elementwise op declared by its derivative f'(x, y) (an <see cref="IDerivative"/>, written
/// once): the VJP is g·f'(x, y) and the JVP t·f'(x, y) in differentiable tensor ops; in a first-order pass
/// the same rule runs fused on raw SIMD lanes (<see cref="Tensor.RawUnaryVjp{TD}"/>): one pass, one allocation, no
/// graph bookkeeping (a rule of k tensor ops would cost k passes and k allocations). A derivative with parameters
/// (e.g. the exponent of a power) is passed per call as the call's attribute.
/// </summary>
internal sealed class UnaryDef<TD> : OpDef where TD : struct, IDerivative
{
    private readonly SpanMap<float>? _f32;
    private readonly SpanMap<double>? _f64;
    private readonly Uses _uses;

    /// <summary>Whether <typeparamref name="TD"/> has no fields (then no per-call attribute is boxed); looked up once per type.</summary>
    private static readonly bool s_stateless = typeof(TD).IsDefined(typeof(StatelessAttribute), false);

    /// <summary>Whether the derivative is identically zero (<see cref="Tensor.ZeroD"/>).</summary>
    private static readonly bool s_zero = typeof(TD) == typeof(Tensor.ZeroD);

    /// <summary>An entry whose forward kernels are <paramref name="f32"/> and <paramref name="f64"/> (null when the
    /// op computes its value itself and calls <see cref="Record"/>).</summary>
    public UnaryDef(string name, Uses uses, SpanMap<float>? f32, SpanMap<double>? f64, params string[] torch)
        : base(name, OpFamily.Unary, torch)
    {
        // the family's kernels go in the entry's table; the CPU ones are resolved from it once, here
        if (f32 is not null) KernelSlots.Set(Device.Cpu, DType.Float32, f32);
        if (f64 is not null) KernelSlots.Set(Device.Cpu, DType.Float64, f64);
        _f32 = KernelSlots.Kernel<SpanMap<float>>(Device.Cpu, DType.Float32);
        _f64 = KernelSlots.Kernel<SpanMap<double>>(Device.Cpu, DType.Float64);
        _uses = uses;
        BatchedJvp = true;
        // an op whose derivative reads nothing still keeps its input (for the zeros' shape)
        Saves = uses switch { Uses.Output => SaveOutput, Uses.Both => 1u | SaveOutput, _ => 1u };
    }

    /// <summary>The float32 register formula: a static method computing the float32 kernel's value on 8 lanes, bit for
    /// bit (the kernel should loop over it, e.g. <see cref="Kernels.VecMath32.Map{F}"/>); compiled fused loops call it.</summary>
    public Func<System.Runtime.Intrinsics.Vector256<float>, System.Runtime.Intrinsics.Vector256<float>>? Register32
    {
        get => null;
        init { if (value is not null) KernelSlots.SetRegister(DType.Float32, value.Method); }
    }

    /// <summary>The float64 register formula: a static method computing the float64 kernel's value on 4 lanes, bit for bit.</summary>
    public Func<System.Runtime.Intrinsics.Vector256<double>, System.Runtime.Intrinsics.Vector256<double>>? Register64
    {
        get => null;
        init { if (value is not null) KernelSlots.SetRegister(DType.Float64, value.Method); }
    }

    public override bool HasVjp => true;
    public override bool HasJvp => true;
    public override string FusedBackward => "SIMD raw loop (8 float32 / 4 float64 lanes), every first-order pass";

    /// <summary>Runs the op on <paramref name="x"/>.</summary>
    public Tensor Call(Tensor x) => Record(x, Tensor.MapRaw(Name, x, _f32!, _f64!), default);

    /// <summary>Elementwise: the batched input goes through the op as it is (entries computing their value themselves declare <see cref="OpDef.Batch"/>).</summary>
    public override bool HasBatchRule => _f32 is not null || Batch is not null;

    internal override Tensor?[] RunBatch(BatchCtx c) => Batch is { } b ? b(c) : [Call(c.X(0))];

    /// <summary>Records a call whose value <paramref name="y"/> the caller computed; a stateless derivative's entry may
    /// record <paramref name="extra"/> as its attribute (what its batching rule needs, e.g. Round's decimals).</summary>
    public Tensor Record(Tensor x, Tensor y, TD d, object? extra = null)
    {
        object? attr = s_stateless ? extra : d;
        if (Tracer.Depth > 0) Tracer.Note(this, [y], [x], attr);
        if (Op.ForwardTracking(x))
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
        // a zero derivative (floor, sign, ...): PyTorch's zeros_like(grad), without the product
        result[0] = firstOrder && s_zero ? Tensor.ZerosLike(g)
            : firstOrder ? Tensor.RawUnaryVjp(g, x, y, d, _uses)
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
    private Kernels.Elementwise.BinaryKernel<float>? _f32;
    private Kernels.Elementwise.BinaryKernel<double>? _f64;

    /// <summary>An entry; <paramref name="savesFor"/> says which operands the needed gradients read.</summary>
    public BinaryDef(string name, Func<Tensor[], uint>? savesFor, params string[] torch) : base(name, OpFamily.Binary, torch)
    {
        BatchedJvp = true;
        SavesFor = savesFor;
    }

    /// <summary>Rules of plain arithmetic (no transcendental call per element): their one-pass raw loop beats the chain of
    /// tensor ops at any size (Div's ∂/∂b is 4 tensor passes), so they take it on large same-shape operands too.</summary>
    private static readonly bool s_arithmetic = typeof(TR) == typeof(Tensor.MulRule) || typeof(TR) == typeof(Tensor.DivRule)
        || typeof(TR) == typeof(Tensor.SubRule) || typeof(TR) == typeof(Tensor.Atan2Rule);

    public override bool HasVjp => true;
    public override bool HasJvp => true;
    public override string FusedBackward => s_arithmetic
        ? "raw loop, first-order passes on same-shape operands (threads on large ones)"
        : $"raw loop, first-order passes on same-shape operands up to {Op.RawMaxNumel} elements";

    /// <summary>The float kernels (float32, float64) when the op's value is exactly <c>BinaryRaw</c> with them (<see cref="Run"/>):
    /// they go in the entry's table (compile's fusion reads them there) and are resolved from it once, here.</summary>
    public (Kernels.Elementwise.BinaryKernel<float> F32, Kernels.Elementwise.BinaryKernel<double> F64)? Kernels
    {
        get => _f32 is null || _f64 is null ? null : (_f32, _f64);
        init
        {
            if (value is not { } k) return;
            KernelSlots.Set(Device.Cpu, DType.Float32, k.F32);
            KernelSlots.Set(Device.Cpu, DType.Float64, k.F64);
            _f32 = KernelSlots.Kernel<Kernels.Elementwise.BinaryKernel<float>>(Device.Cpu, DType.Float32);
            _f64 = KernelSlots.Kernel<Kernels.Elementwise.BinaryKernel<double>>(Device.Cpu, DType.Float64);
        }
    }

    /// <summary>The op's value on two float tensors of one dtype (after promotion): its table's kernel with broadcasting.</summary>
    public Tensor Run(Tensor a, Tensor b) => Tensor.BinaryRaw(Name, a, b, _f32!, _f64!);

    /// <summary>Records a call whose value <paramref name="y"/> the caller computed.</summary>
    public Tensor Record(Tensor a, Tensor b, Tensor y)
    {
        if (Tracer.Depth > 0) Tracer.Note(this, [y], [a, b], null);
        if (Op.ForwardTracking(a, b))
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
        bool raw = firstOrder && (g.Numel <= Op.RawMaxNumel || s_arithmetic) && ShapeUtil.SameShape(sa, sb);
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
