using System.Numerics;
using System.Runtime.InteropServices;
using System.Numerics.Tensors;

namespace Fluxion.Kernels;

/// <summary>Elementwise kernels over dense or strided spans. Float kernels are generic over
/// float/double; the JIT specializes each instantiation.</summary>
internal static class Elementwise
{
    public delegate void SpanVV<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> d);
    public delegate void SpanVS<T>(ReadOnlySpan<T> a, T b, Span<T> d);
    public delegate void SpanSV<T>(T a, ReadOnlySpan<T> b, Span<T> d);

    /// <summary>Binary kernel table for one op: vector-vector, vector-scalar, scalar-vector and scalar forms.</summary>
    public sealed record BinaryKernel<T>(SpanVV<T> VV, SpanVS<T> VS, SpanSV<T> SV, Func<T, T, T> Scalar);

    /// <summary>
    /// out[i] = op(a[ia], b[ib]) over a broadcast iteration space. <paramref name="aStrides"/> and
    /// <paramref name="bStrides"/> are already aligned to <paramref name="shape"/> (0 on broadcast dims).
    /// </summary>
    public static void Binary<T>(BinaryKernel<T> k, T[] a, int aOff, int[] aStrides, T[] b, int bOff, int[] bStrides, T[] dst, int[] shape)
    {
        var outStrides = ShapeUtil.ContiguousStrides(shape);
        Strided.ForEachRow(shape, [aStrides, bStrides, outStrides], [aOff, bOff, 0], (p, n, s) =>
        {
            var d = dst.AsSpan(p[2], n);
            int sa = s[0], sb = s[1];
            if (sa == 1 && sb == 1) k.VV(a.AsSpan(p[0], n), b.AsSpan(p[1], n), d);
            else if (sa == 1 && sb == 0) k.VS(a.AsSpan(p[0], n), b[p[1]], d);
            else if (sa == 0 && sb == 1) k.SV(a[p[0]], b.AsSpan(p[1], n), d);
            else
            {
                var f = k.Scalar;
                for (int i = 0, ia = p[0], ib = p[1]; i < n; i++, ia += sa, ib += sb) d[i] = f(a[ia], b[ib]);
            }
        });
    }

    /// <summary>Ternary select: dst = cond ? a : b over a broadcast iteration space.</summary>
    public static void Where<T>(bool[] c, int cOff, int[] cStrides, T[] a, int aOff, int[] aStrides, T[] b, int bOff, int[] bStrides, T[] dst, int[] shape) where T : unmanaged
    {
        var outStrides = ShapeUtil.ContiguousStrides(shape);
        Strided.ForEachRow(shape, [cStrides, aStrides, bStrides, outStrides], [cOff, aOff, bOff, 0], (p, n, s) =>
        {
            int sc = s[0], sa = s[1], sb = s[2];
            if ((uint)sc <= 1 && (uint)sa <= 1 && (uint)sb <= 1 && s[3] == 1)
            {
                // dense or broadcast (stride 0) rows: the SIMD select (a broadcast condition copies or fills the row)
                Pointwise.WhereSpan(c.AsSpan(p[0], sc == 0 ? 1 : n), new ReadOnlySpan<T>(a, p[1], sa == 0 ? 1 : n),
                    new ReadOnlySpan<T>(b, p[2], sb == 0 ? 1 : n), dst.AsSpan(p[3], n));
                return;
            }
            for (int i = 0, ic = p[0], ia = p[1], ib = p[2], o = p[3]; i < n; i++, ic += sc, ia += sa, ib += sb, o++)
                dst[o] = c[ic] ? a[ia] : b[ib];
        });
    }

    // ---- fused neural-network kernels ------------------------------------------------------------

    /// <summary>ReLU's backward as a select: dst[i] = y[i] &gt; 0 ? g[i] : 0 (PyTorch's threshold_backward:
    /// a NaN gradient where the unit is off still gives 0; a NaN <paramref name="y"/> gives 0). One pass, no mask tensor.</summary>
    public static void ReluMask<T>(ReadOnlySpan<T> g, ReadOnlySpan<T> y, Span<T> dst) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = dst.Length, i = 0;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
        {
            ref T gr = ref MemoryMarshal.GetReference(g);
            ref T yr = ref MemoryMarshal.GetReference(y);
            ref T dr = ref MemoryMarshal.GetReference(dst);
            for (int w = Vector<T>.Count; i <= n - w; i += w)
            {
                var yv = Vector.LoadUnsafe(ref yr, (nuint)i);
                var gv = Vector.LoadUnsafe(ref gr, (nuint)i);
                Vector.BitwiseAnd(gv, Vector.GreaterThan(yv, Vector<T>.Zero)).StoreUnsafe(ref dr, (nuint)i);
            }
        }
        for (; i < n; i++) dst[i] = y[i] > T.Zero ? g[i] : T.Zero;
    }

    /// <summary>Writes <paramref name="bias"/> (length n) into each of the <paramref name="rows"/> rows of the dense
    /// row-major <paramref name="dst"/>: the starting value of an addmm-style product that accumulates into it.</summary>
    public static void FillRows<T>(ReadOnlySpan<T> bias, Span<T> dst, int rows, int n)
    {
        for (int r = 0; r < rows; r++) bias.CopyTo(dst.Slice(r * n, n));
    }

    /// <summary>In-place max(x, 0) (NaN stays NaN, as <see cref="TensorPrimitives.Max{T}(ReadOnlySpan{T}, T, Span{T})"/>).</summary>
    public static void ReluInPlace<T>(Span<T> x) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Max(x, T.Zero, x);

    // ---- Kernel tables -------------------------------------------------------------------------

    public static class Ops<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static readonly BinaryKernel<T> Add = new(TensorPrimitives.Add, TensorPrimitives.Add, (a, b, d) => TensorPrimitives.Add(b, a, d), (a, b) => a + b);
        public static readonly BinaryKernel<T> Sub = new(TensorPrimitives.Subtract, TensorPrimitives.Subtract, TensorPrimitives.Subtract, (a, b) => a - b);
        public static readonly BinaryKernel<T> Mul = new(TensorPrimitives.Multiply, TensorPrimitives.Multiply, (a, b, d) => TensorPrimitives.Multiply(b, a, d), (a, b) => a * b);
        public static readonly BinaryKernel<T> Div = new(TensorPrimitives.Divide, TensorPrimitives.Divide, TensorPrimitives.Divide, (a, b) => a / b);
        /// <summary>PyTorch's maximum: NaN if either operand is; SIMD (<see cref="MaxMinK{T}"/>).</summary>
        public static readonly BinaryKernel<T> Maximum = Pointwise.Table<T, MaxMinK<T>>(new(true));
        /// <summary>PyTorch's minimum: NaN if either operand is; SIMD.</summary>
        public static readonly BinaryKernel<T> Minimum = Pointwise.Table<T, MaxMinK<T>>(new(false));
        public static readonly BinaryKernel<T> Pow = new(TensorPrimitives.Pow, TensorPrimitives.Pow, TensorPrimitives.Pow, T.Pow);
        /// <summary>Python-style remainder: the result has the sign of the divisor (PyTorch's remainder); exact and
        /// vectorized (see <see cref="BinaryMath.FmodDense(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, bool)"/>).</summary>
        public static readonly BinaryKernel<T> Remainder = typeof(T) == typeof(float)
            ? (BinaryKernel<T>)(object)BinaryMath.Remainder32 : (BinaryKernel<T>)(object)BinaryMath.Remainder64;

        public static BinaryKernel<T> FromScalar(Func<T, T, T> f) => new(
            (a, b, d) => { for (int i = 0; i < d.Length; i++) d[i] = f(a[i], b[i]); },
            (a, b, d) => { for (int i = 0; i < d.Length; i++) d[i] = f(a[i], b); },
            (a, b, d) => { for (int i = 0; i < d.Length; i++) d[i] = f(a, b[i]); },
            f);
    }
}
