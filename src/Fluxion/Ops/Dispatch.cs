using System.Numerics;
using Fluxion.Kernels;

namespace Fluxion;

/// <summary>Span forms of unary kernels, one per float type.</summary>
internal delegate void SpanMap<T>(ReadOnlySpan<T> x, Span<T> y);

/// <summary>Which of an elementwise op's tensors its derivative reads (so in-place changes to them are caught).</summary>
internal enum Uses { None, Input, Output, Both }

public partial class Tensor
{
    /// <summary>Runs a unary float kernel on a dense copy of the input (or the storage itself when contiguous).</summary>
    internal static Tensor MapRaw(string op, Tensor x, SpanMap<float> f32, SpanMap<double> f64)
    {
        x.CheckFloat(op);
        var y = EmptyLike(x);
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

    /// <summary>Broadcasting comparison producing a bool tensor (float, int64 or bool operands of one dtype).</summary>
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

    /// <summary>
    /// An elementwise op declared by its derivative f'(x): the VJP is g·f'(x) and the JVP t·f'(x),
    /// both from the one <paramref name="derivative"/> (written with tensor ops, so differentiable again).
    /// </summary>
    internal static Tensor Unary(string name, Tensor x, Tensor y, Func<Tensor, Tensor, Tensor> derivative, Uses uses)
    {
        Tensor[]? save = uses switch { Uses.Input => [x], Uses.Output => [y], Uses.Both => [x, y], _ => null };
        return Op.Record(name, y, [x],
            [g => g * derivative(x, y)],
            jvp: t => t[0] is { } tx ? tx * derivative(x, y) : null,
            save: save, batchedJvp: true);
    }
}

/// <summary>Scalar special functions used by kernels.</summary>
internal static class SpecialFunctions
{
    /// <summary>The error function, accurate to about 1e-15 (series below |x| = 3, continued fraction above).</summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return double.NaN;
        double ax = Math.Abs(x);
        if (ax < 3.0)
        {
            // erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n 2^n x^(2n+1) / (1*3*...*(2n+1)); every term positive.
            double x2 = ax * ax, term = ax, sum = ax;
            for (int n = 1; n < 200; n++)
            {
                term *= 2 * x2 / (2 * n + 1);
                sum += term;
                if (term < sum * 1e-17) break;
            }
            double r = 2 / Math.Sqrt(Math.PI) * Math.Exp(-x2) * sum;
            return x < 0 ? -r : r;
        }
        double erfc = Erfc(ax);
        return x < 0 ? erfc - 1 : 1 - erfc;
    }

    /// <summary>Complementary error function for x &gt;= 3 by the Laplace continued fraction (modified Lentz).</summary>
    private static double Erfc(double x)
    {
        if (x > 27) return 0;
        // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))))
        const double tiny = 1e-300;
        double f = x, c = x, d = 0;
        for (int n = 1; n < 500; n++)
        {
            double an = n * 0.5;
            d = x + an * d;
            if (Math.Abs(d) < tiny) d = tiny;
            c = x + an / c;
            if (Math.Abs(c) < tiny) c = tiny;
            d = 1 / d;
            double delta = c * d;
            f *= delta;
            if (Math.Abs(delta - 1) < 1e-16) break;
        }
        return Math.Exp(-x * x) / Math.Sqrt(Math.PI) / f;
    }
}
