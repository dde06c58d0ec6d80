using System.Numerics;
using Fluxion.Kernels;

namespace Fluxion;

/// <summary>Span forms of unary kernels, one per float type.</summary>
internal delegate void SpanMap<T>(ReadOnlySpan<T> x, Span<T> y);

/// <summary>Raw kernel dispatch shared by the elementwise ops: dense and broadcast paths, one kernel per dtype.</summary>
public partial class Tensor
{
    /// <summary>Runs a unary float kernel on a dense copy of the input (or the storage itself when contiguous).</summary>
    /// <remarks>The kernels must be elementwise (each output element depends on its input element only).</remarks>
    internal static Tensor MapRaw(string op, Tensor x, SpanMap<float> f32, SpanMap<double> f64)
    {
        x.CheckFloat(op);
        var y = EmptyLike(x);
        if (x.Numel == 0) return y; // some TensorPrimitives kernels reject empty spans
        // every kernel given here is elementwise, so large inputs run in chunks on the available threads (a kernel that
        // splits itself runs serially inside a chunk: Parallelism respects nesting)
        if (x.DType == DType.Float32) Kernels.VecMath.Chunked(x.DenseSpan<float>(), y.Storage.As<float>(), f32);
        else Kernels.VecMath.Chunked(x.DenseSpan<double>(), y.Storage.As<double>(), f64);
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
        int ao = a.Offset, bo = b.Offset;
        bool vv = a.Numel == n && b.Numel == n, vs = !vv && b.Numel == 1;
        if (n < Pointwise.ParallelThreshold)
        {
            if (vv) k.VV(sa.AsSpan(ao, n), sb.AsSpan(bo, n), d);
            else if (vs) k.VS(sa.AsSpan(ao, n), sb[bo], d);
            else k.SV(sa[ao], sb.AsSpan(bo, n), d);
            return;
        }
        // large: chunks on the available threads (the kernels are elementwise)
        var dy = y.Storage.As<T>();
        Parallelism.For(n, n, Pointwise.ParallelThreshold, (s, e) =>
        {
            if (vv) k.VV(sa.AsSpan(ao + s, e - s), sb.AsSpan(bo + s, e - s), dy.AsSpan(s, e - s));
            else if (vs) k.VS(sa.AsSpan(ao + s, e - s), sb[bo], dy.AsSpan(s, e - s));
            else k.SV(sa[ao], sb.AsSpan(bo + s, e - s), dy.AsSpan(s, e - s));
        });
    }

    /// <summary>
    /// Broadcasting comparison producing a bool tensor (float, int64 or bool operands of one dtype), compared in the
    /// operands' own type (int64 exactly). Dense same-shape operands, or a dense operand and a one-element one, take
    /// the SIMD kernel; other layouts go row by row (rows with unit or zero strides still SIMD).
    /// </summary>
    internal static Tensor CompareRaw<TC>(string op, Tensor a, Tensor b) where TC : struct, ICmp
    {
        Promote(ref a, ref b); // compared in the operands' result dtype, as PyTorch
        var r = CompareRawCore<TC>(op, a, b);
        if (Tracer.Depth > 0 && (Tracer.IsTraced(a) || Tracer.IsTraced(b))) Tracer.Note(CompareDef<TC>.Def, [r], [a, b], op);
        return r;
    }

    /// <summary>The trace entry of the comparisons of one kind (not registered: the named comparison entries describe them
    /// in the catalog); its batching rule is the comparison itself on aligned operands.</summary>
    private static class CompareDef<TC> where TC : struct, ICmp
    {
        public static readonly OpDef Def = new("Compare" + typeof(TC).Name, OpFamily.Binary)
        {
            Differentiable = false, DTypes = DTypeSet.All,
            Batch = BatchRules.Elementwise((x, op) => CompareRawCore<TC>((string)op!, x[0], x[1])),
        };
    }

    private static Tensor CompareRawCore<TC>(string op, Tensor a, Tensor b) where TC : struct, ICmp
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
}
