using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Fluxion.Kernels;

/// <summary>A comparison written once for scalars and for <see cref="Vector{T}"/> lanes (a mask of all-ones lanes).
/// NaN compares false except under <see cref="NeCmp"/>, as IEEE and PyTorch.</summary>
internal interface ICmp
{
    /// <summary>The comparison of two elements.</summary>
    static abstract bool Eval<T>(T a, T b) where T : IComparisonOperators<T, T, bool>;

    /// <summary>The comparison of two vectors, lane by lane (all bits set where true).</summary>
    static abstract Vector<T> Mask<T>(Vector<T> a, Vector<T> b);
}

/// <summary>a &gt; b.</summary>
internal readonly struct GtCmp : ICmp
{
    public static bool Eval<T>(T a, T b) where T : IComparisonOperators<T, T, bool> => a > b;
    public static Vector<T> Mask<T>(Vector<T> a, Vector<T> b) => Vector.GreaterThan(a, b);
}

/// <summary>a &gt;= b.</summary>
internal readonly struct GeCmp : ICmp
{
    public static bool Eval<T>(T a, T b) where T : IComparisonOperators<T, T, bool> => a >= b;
    public static Vector<T> Mask<T>(Vector<T> a, Vector<T> b) => Vector.GreaterThanOrEqual(a, b);
}

/// <summary>a &lt; b.</summary>
internal readonly struct LtCmp : ICmp
{
    public static bool Eval<T>(T a, T b) where T : IComparisonOperators<T, T, bool> => a < b;
    public static Vector<T> Mask<T>(Vector<T> a, Vector<T> b) => Vector.LessThan(a, b);
}

/// <summary>a &lt;= b.</summary>
internal readonly struct LeCmp : ICmp
{
    public static bool Eval<T>(T a, T b) where T : IComparisonOperators<T, T, bool> => a <= b;
    public static Vector<T> Mask<T>(Vector<T> a, Vector<T> b) => Vector.LessThanOrEqual(a, b);
}

/// <summary>a == b (NaN != NaN; -0 == 0).</summary>
internal readonly struct EqCmp : ICmp
{
    public static bool Eval<T>(T a, T b) where T : IComparisonOperators<T, T, bool> => a == b;
    public static Vector<T> Mask<T>(Vector<T> a, Vector<T> b) => Vector.Equals(a, b);
}

/// <summary>a != b (true where either is NaN).</summary>
internal readonly struct NeCmp : ICmp
{
    public static bool Eval<T>(T a, T b) where T : IComparisonOperators<T, T, bool> => a != b;
    public static Vector<T> Mask<T>(Vector<T> a, Vector<T> b) => ~Vector.Equals(a, b);
}

/// <summary>Logical and of the truth values (nonzero, including NaN, is true; ±0 is false).</summary>
internal readonly struct AndCmp : ICmp
{
    public static bool Eval<T>(T a, T b) where T : IComparisonOperators<T, T, bool> => a != default! && b != default!;
    public static Vector<T> Mask<T>(Vector<T> a, Vector<T> b) => ~Vector.Equals(a, Vector<T>.Zero) & ~Vector.Equals(b, Vector<T>.Zero);
}

/// <summary>Logical or of the truth values.</summary>
internal readonly struct OrCmp : ICmp
{
    public static bool Eval<T>(T a, T b) where T : IComparisonOperators<T, T, bool> => a != default! || b != default!;
    public static Vector<T> Mask<T>(Vector<T> a, Vector<T> b) => ~(Vector.Equals(a, Vector<T>.Zero) & Vector.Equals(b, Vector<T>.Zero));
}

/// <summary>Logical exclusive or of the truth values.</summary>
internal readonly struct XorCmp : ICmp
{
    public static bool Eval<T>(T a, T b) where T : IComparisonOperators<T, T, bool> => (a != default!) != (b != default!);
    public static Vector<T> Mask<T>(Vector<T> a, Vector<T> b) => Vector.Equals(a, Vector<T>.Zero) ^ Vector.Equals(b, Vector<T>.Zero);
}

/// <summary>
/// Kernels of the binary elementwise family that need more than a TensorPrimitives call: SIMD comparisons
/// producing bool bytes, exact fmod/remainder (vectorized, bit-for-bit equal to C's fmod), and the scalar
/// definitions of atan2, hypot, copysign, floor division, fmax/fmin, xlogy, logaddexp, heaviside and isclose
/// with PyTorch's conventions.
/// </summary>
internal static class BinaryMath
{
    // ---- comparisons -------------------------------------------------------------------------

    /// <summary>
    /// dst[i] = cmp(a[i], b[i]) as bool bytes (0/1) for dense operands; an operand of length 1 is a scalar
    /// broadcast over all of dst. Vectorized: Vector&lt;T&gt; compares, masks narrowed to bytes.
    /// </summary>
    public static void CompareDense<T, TC>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<bool> dst)
        where T : unmanaged, IComparisonOperators<T, T, bool> where TC : struct, ICmp
    {
        int n = dst.Length, i = 0;
        bool sa = a.Length == 1 && n != 1, sb = b.Length == 1 && n != 1;
        var d = MemoryMarshal.Cast<bool, byte>(dst);
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported && n >= Vector<byte>.Count)
        {
            ref T ar = ref MemoryMarshal.GetReference(a);
            ref T br = ref MemoryMarshal.GetReference(b);
            ref byte dr = ref MemoryMarshal.GetReference(d);
            Vector<T> a0 = new(a[0]), b0 = new(b[0]);
            int w = Vector<T>.Count, step = Vector<byte>.Count; // elements per byte vector
            for (; i <= n - step; i += step)
            {
                Vector<byte> m;
                if (Unsafe.SizeOf<T>() == 1)
                    m = Vector.AsVectorByte(TC.Mask(sa ? a0 : Vector.LoadUnsafe(ref ar, (nuint)i), sb ? b0 : Vector.LoadUnsafe(ref br, (nuint)i)));
                else if (Unsafe.SizeOf<T>() == 4)
                {
                    var m0 = Vector.AsVectorInt32(TC.Mask(sa ? a0 : Vector.LoadUnsafe(ref ar, (nuint)i), sb ? b0 : Vector.LoadUnsafe(ref br, (nuint)i)));
                    var m1 = Vector.AsVectorInt32(TC.Mask(sa ? a0 : Vector.LoadUnsafe(ref ar, (nuint)(i + w)), sb ? b0 : Vector.LoadUnsafe(ref br, (nuint)(i + w))));
                    var m2 = Vector.AsVectorInt32(TC.Mask(sa ? a0 : Vector.LoadUnsafe(ref ar, (nuint)(i + 2 * w)), sb ? b0 : Vector.LoadUnsafe(ref br, (nuint)(i + 2 * w))));
                    var m3 = Vector.AsVectorInt32(TC.Mask(sa ? a0 : Vector.LoadUnsafe(ref ar, (nuint)(i + 3 * w)), sb ? b0 : Vector.LoadUnsafe(ref br, (nuint)(i + 3 * w))));
                    m = Vector.AsVectorByte(Vector.Narrow(Vector.Narrow(m0, m1), Vector.Narrow(m2, m3)));
                }
                else if (Unsafe.SizeOf<T>() == 8)
                {
                    Vector<int> q0 = Narrow8<T, TC>(ref ar, ref br, a0, b0, sa, sb, i, w),
                        q1 = Narrow8<T, TC>(ref ar, ref br, a0, b0, sa, sb, i + 2 * w, w),
                        q2 = Narrow8<T, TC>(ref ar, ref br, a0, b0, sa, sb, i + 4 * w, w),
                        q3 = Narrow8<T, TC>(ref ar, ref br, a0, b0, sa, sb, i + 6 * w, w);
                    m = Vector.AsVectorByte(Vector.Narrow(Vector.Narrow(q0, q1), Vector.Narrow(q2, q3)));
                }
                else break;
                (m & Vector<byte>.One).StoreUnsafe(ref dr, (nuint)i);
            }
        }
        for (; i < n; i++) d[i] = TC.Eval(a[sa ? 0 : i], b[sb ? 0 : i]) ? (byte)1 : (byte)0;
    }

    /// <summary>Two 8-byte-lane compare masks (elements i .. i + 2w) narrowed to one Vector&lt;int&gt;.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<int> Narrow8<T, TC>(ref T ar, ref T br, Vector<T> a0, Vector<T> b0, bool sa, bool sb, int i, int w)
        where T : unmanaged where TC : struct, ICmp
    {
        var m0 = Vector.AsVectorInt64(TC.Mask(sa ? a0 : Vector.LoadUnsafe(ref ar, (nuint)i), sb ? b0 : Vector.LoadUnsafe(ref br, (nuint)i)));
        var m1 = Vector.AsVectorInt64(TC.Mask(sa ? a0 : Vector.LoadUnsafe(ref ar, (nuint)(i + w)), sb ? b0 : Vector.LoadUnsafe(ref br, (nuint)(i + w))));
        return Vector.Narrow(m0, m1);
    }

    /// <summary>
    /// dst = cmp(a, b) over a broadcast iteration space (strides aligned to <paramref name="shape"/>, 0 on broadcast
    /// dims). <typeparamref name="TS"/> is the storage element type, <typeparamref name="T"/> the type compared
    /// (the same, or byte for bool storage). Rows with unit/zero inner strides take the dense kernel.
    /// </summary>
    public static void CompareStrided<TS, T, TC>(TS[] a, int aOff, int[] aStrides, TS[] b, int bOff, int[] bStrides, bool[] dst, int[] shape)
        where TS : unmanaged where T : unmanaged, IComparisonOperators<T, T, bool> where TC : struct, ICmp
    {
        var outStrides = ShapeUtil.ContiguousStrides(shape);
        Strided.ForEachRow(shape, [aStrides, bStrides, outStrides], [aOff, bOff, 0], (p, n, s) =>
        {
            ReadOnlySpan<T> va = MemoryMarshal.Cast<TS, T>(a.AsSpan()), vb = MemoryMarshal.Cast<TS, T>(b.AsSpan());
            var d = dst.AsSpan(p[2], n);
            int sa = s[0], sb = s[1];
            if ((sa == 1 || sa == 0) && (sb == 1 || sb == 0) && n > 1)
                CompareDense<T, TC>(va.Slice(p[0], sa == 1 ? n : 1), vb.Slice(p[1], sb == 1 ? n : 1), d);
            else
                for (int i = 0, ia = p[0], ib = p[1]; i < n; i++, ia += sa, ib += sb) d[i] = TC.Eval(va[ia], vb[ib]);
        });
    }

    // ---- fmod and remainder (exact) ------------------------------------------------------------

    /// <summary>
    /// C's fmod(a, b) for float32, exact: computed in double as a - trunc(a/b)·b, which is exact when |a/b| &lt; 2^28
    /// (the double quotient then truncates to the true integer part, the product and the difference are exact);
    /// other cases (b = 0, ±inf, NaN, huge quotients) take the runtime's fmod. A zero result has a's sign.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Fmod(float a, float b)
    {
        double q = (double)a / b;
        if (Math.Abs(q) < 268435456.0 && float.IsFinite(b))
        {
            double r = a - Math.Truncate(q) * b;
            return r == 0 ? MathF.CopySign(0f, a) : (float)r;
        }
        return a % b;
    }

    /// <summary>
    /// C's fmod(a, b) for float64, exact: n = trunc(a/b) is the true integer part or one too large in magnitude
    /// (correct rounding of the quotient is monotonic, so never too small) when |a/b| &lt; 2^52; r = fma(-n, b, a) is then
    /// exact, and one step corrects an n one too large. Other cases take the runtime's fmod. A zero result has a's sign.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Fmod(double a, double b)
    {
        double q = a / b;
        if (Math.Abs(q) < 4503599627370496.0 && double.IsFinite(b))
        {
            double r = Math.FusedMultiplyAdd(-Math.Truncate(q), b, a);
            if (r != 0 && (r < 0) != (a < 0)) r += Math.CopySign(b, a);
            return r == 0 ? Math.CopySign(0.0, a) : r;
        }
        return a % b;
    }

    /// <summary>Python-style remainder (sign of the divisor), as PyTorch: fmod, plus b where the signs differ.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Remainder(float a, float b)
    {
        float r = Fmod(a, b);
        return r != 0 && (r < 0) != (b < 0) ? r + b : r;
    }

    /// <inheritdoc cref="Remainder(float, float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Remainder(double a, double b)
    {
        double r = Fmod(a, b);
        return r != 0 && (r < 0) != (b < 0) ? r + b : r;
    }

    /// <summary>dst = fmod(a, b) (or Python remainder when <paramref name="python"/>) over dense float32 operands, an
    /// operand of length 1 broadcast. Vectorized in float lanes with the float64 kernel's argument (n = trunc(a/b) is the
    /// true integer part or one too large in magnitude when |a/b| &lt; 2^23, r = fma(-n, b, a) is then exact, and one step
    /// corrects an n one too large: the quotient only rounds up to an integer when r is within half an ulp of b, where
    /// r - b is exact); lanes outside the exact range are redone one by one.</summary>
    public static void FmodDense(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> dst, bool python)
    {
        int n = dst.Length, i = 0;
        bool sa = a.Length == 1 && n != 1, sb = b.Length == 1 && n != 1;
        if (Vector.IsHardwareAccelerated && n >= Vector<float>.Count)
        {
            ref float ar = ref MemoryMarshal.GetReference(a);
            ref float br = ref MemoryMarshal.GetReference(b);
            ref float dr = ref MemoryMarshal.GetReference(dst);
            Vector<float> a0 = new(a[0]), b0 = new(b[0]);
            var limit = new Vector<float>(8388608f);
            var inf = new Vector<float>(float.PositiveInfinity);
            var negZero = new Vector<float>(-0f);
            for (int w = Vector<float>.Count; i <= n - w; i += w)
            {
                var va = sa ? a0 : Vector.LoadUnsafe(ref ar, (nuint)i);
                var vb = sb ? b0 : Vector.LoadUnsafe(ref br, (nuint)i);
                var q = va / vb;
                var ok = Vector.LessThan(Vector.Abs(q), limit) & Vector.LessThan(Vector.Abs(vb), inf);
                var r = Vector.FusedMultiplyAdd(-Vector.Truncate(q), vb, va);
                var zero = Vector.Equals(r, Vector<float>.Zero);
                // the quotient rounded up to the next integer: one step back
                var over = ~zero & (Vector.LessThan(r, Vector<float>.Zero) ^ Vector.LessThan(va, Vector<float>.Zero));
                r = Vector.ConditionalSelect(over, r + Vector.CopySign(vb, va), r);
                r = Vector.ConditionalSelect(Vector.Equals(r, Vector<float>.Zero), va & negZero, r);
                if (python)
                {
                    var fix = ~Vector.Equals(r, Vector<float>.Zero) & (Vector.LessThan(r, Vector<float>.Zero) ^ Vector.LessThan(vb, Vector<float>.Zero));
                    r = Vector.ConditionalSelect(fix, r + vb, r);
                }
                r.StoreUnsafe(ref dr, (nuint)i);
                if (!Vector.EqualsAll(ok, new Vector<int>(-1)))
                    for (int j = 0; j < w; j++)
                        if (ok[j] == 0) dst[i + j] = python ? Remainder(va[j], vb[j]) : Fmod(va[j], vb[j]);
            }
        }
        for (; i < n; i++)
        {
            float x = a[sa ? 0 : i], y = b[sb ? 0 : i];
            dst[i] = python ? Remainder(x, y) : Fmod(x, y);
        }
    }

    /// <summary>float64 form of <see cref="FmodDense(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, bool)"/> (FMA lanes).</summary>
    public static void FmodDense(ReadOnlySpan<double> a, ReadOnlySpan<double> b, Span<double> dst, bool python)
    {
        int n = dst.Length, i = 0;
        bool sa = a.Length == 1 && n != 1, sb = b.Length == 1 && n != 1;
        if (Vector.IsHardwareAccelerated && n >= Vector<double>.Count)
        {
            ref double ar = ref MemoryMarshal.GetReference(a);
            ref double br = ref MemoryMarshal.GetReference(b);
            ref double dr = ref MemoryMarshal.GetReference(dst);
            Vector<double> a0 = new(a[0]), b0 = new(b[0]);
            var limit = new Vector<double>(4503599627370496.0);
            var inf = new Vector<double>(double.PositiveInfinity);
            var negZero = new Vector<double>(-0.0);
            for (int w = Vector<double>.Count; i <= n - w; i += w)
            {
                var va = sa ? a0 : Vector.LoadUnsafe(ref ar, (nuint)i);
                var vb = sb ? b0 : Vector.LoadUnsafe(ref br, (nuint)i);
                var q = va / vb;
                var ok = Vector.LessThan(Vector.Abs(q), limit) & Vector.LessThan(Vector.Abs(vb), inf);
                var r = Vector.FusedMultiplyAdd(-Vector.Truncate(q), vb, va);
                var zero = Vector.Equals(r, Vector<double>.Zero);
                // the quotient rounded up to the next integer: one step back
                var over = ~zero & (Vector.LessThan(r, Vector<double>.Zero) ^ Vector.LessThan(va, Vector<double>.Zero));
                r = Vector.ConditionalSelect(over, r + Vector.CopySign(vb, va), r);
                r = Vector.ConditionalSelect(Vector.Equals(r, Vector<double>.Zero), va & negZero, r);
                if (python)
                {
                    var fix = ~Vector.Equals(r, Vector<double>.Zero) & (Vector.LessThan(r, Vector<double>.Zero) ^ Vector.LessThan(vb, Vector<double>.Zero));
                    r = Vector.ConditionalSelect(fix, r + vb, r);
                }
                r.StoreUnsafe(ref dr, (nuint)i);
                if (!Vector.EqualsAll(ok, new Vector<long>(-1)))
                    for (int j = 0; j < w; j++)
                        if (ok[j] == 0) dst[i + j] = python ? Remainder(va[j], vb[j]) : Fmod(va[j], vb[j]);
            }
        }
        for (; i < n; i++)
        {
            double x = a[sa ? 0 : i], y = b[sb ? 0 : i];
            dst[i] = python ? Remainder(x, y) : Fmod(x, y);
        }
    }

    /// <summary>Kernel tables of fmod and remainder (float32).</summary>
    public static readonly Elementwise.BinaryKernel<float> Fmod32 = new(
        (a, b, d) => FmodDense(a, b, d, false), (a, b, d) => FmodDense(a, [b], d, false), (a, b, d) => FmodDense([a], b, d, false), Fmod);

    /// <inheritdoc cref="Fmod32"/>
    public static readonly Elementwise.BinaryKernel<float> Remainder32 = new(
        (a, b, d) => FmodDense(a, b, d, true), (a, b, d) => FmodDense(a, [b], d, true), (a, b, d) => FmodDense([a], b, d, true), Remainder);

    /// <summary>Kernel tables of fmod and remainder (float64).</summary>
    public static readonly Elementwise.BinaryKernel<double> Fmod64 = new(
        (a, b, d) => FmodDense(a, b, d, false), (a, b, d) => FmodDense(a, [b], d, false), (a, b, d) => FmodDense([a], b, d, false), Fmod);

    /// <inheritdoc cref="Fmod64"/>
    public static readonly Elementwise.BinaryKernel<double> Remainder64 = new(
        (a, b, d) => FmodDense(a, b, d, true), (a, b, d) => FmodDense(a, [b], d, true), (a, b, d) => FmodDense([a], b, d, true), Remainder);

    // ---- scalar definitions (PyTorch's CPU kernels) --------------------------------------------

    /// <summary>Python floor division a // b for floats, as PyTorch's div_floor_floating: IEEE a/b when b = 0,
    /// else (a - fmod(a, b)) / b stepped down where the signs differ, floored, rounded to the nearer integer; a zero
    /// quotient takes the sign of a/b.</summary>
    public static T FloorDivide<T>(T a, T b) where T : IFloatingPointIeee754<T>
    {
        if (b == T.Zero) return a / b;
        T mod = typeof(T) == typeof(float) ? (T)(object)Fmod((float)(object)a, (float)(object)b) : (T)(object)Fmod((double)(object)a, (double)(object)b);
        T div = (a - mod) / b;
        if (mod != T.Zero && (b < T.Zero) != (mod < T.Zero)) div -= T.One;
        if (div == T.Zero) return T.CopySign(T.Zero, a / b);
        T fl = T.Floor(div);
        if (div - fl > T.CreateTruncating(0.5)) fl += T.One;
        return fl;
    }

    /// <summary>Integer floor division (rounds toward -inf); the caller rejects b = 0. long.MinValue // -1 wraps, as PyTorch.</summary>
    public static long FloorDivide(long a, long b)
    {
        if (b == -1) return unchecked(-a);
        long q = a / b;
        return (a % b != 0) && ((a < 0) != (b < 0)) ? q - 1 : q;
    }

    /// <summary>Integer fmod (sign of the dividend); the caller rejects b = 0.</summary>
    public static long Fmod(long a, long b) => b == -1 ? 0 : a % b;

    /// <summary>max(a, b) ignoring a NaN operand (NaN only when both are), as C's fmax; ties (±0) give a, as PyTorch.</summary>
    public static T Fmax<T>(T a, T b) where T : IFloatingPointIeee754<T> => T.IsNaN(a) ? b : T.IsNaN(b) ? a : (a >= b ? a : b);

    /// <summary>min(a, b) ignoring a NaN operand, as C's fmin; ties (±0) give a, as PyTorch.</summary>
    public static T Fmin<T>(T a, T b) where T : IFloatingPointIeee754<T> => T.IsNaN(a) ? b : T.IsNaN(b) ? a : (a <= b ? a : b);

    /// <summary>x·log(y), 0 where x = 0 unless y is NaN (PyTorch's xlogy).</summary>
    public static T Xlogy<T>(T x, T y) where T : IFloatingPointIeee754<T> => T.IsNaN(y) ? T.NaN : x == T.Zero ? T.Zero : x * T.Log(y);

    /// <summary>log(1 + x), accurate for small x.</summary>
    public static double Log1p(double x)
    {
        double u = 1.0 + x;
        if (u == 1.0) return x;
        if (double.IsInfinity(u)) return Math.Log(u);
        return Math.Log(u) * x / (u - 1.0);
    }

    /// <summary>log(e^a + e^b) computed stably, as PyTorch: equal infinities give themselves, else max + log1p(e^-|a-b|).</summary>
    public static double LogAddExp(double a, double b)
    {
        if (double.IsInfinity(a) && a == b) return a;
        double m = Math.Max(a, b);
        if (double.IsNaN(a) || double.IsNaN(b)) return double.NaN;
        return m + Log1p(Math.Exp(-Math.Abs(a - b)));
    }

    /// <summary>log2(2^a + 2^b) computed stably, as PyTorch.</summary>
    public static double LogAddExp2(double a, double b)
    {
        if (double.IsInfinity(a) && a == b) return a;
        double m = Math.Max(a, b);
        if (double.IsNaN(a) || double.IsNaN(b)) return double.NaN;
        return m + Log1p(Math.Pow(2, -Math.Abs(a - b))) / Math.Log(2);
    }

    /// <summary>Float32 form of <see cref="LogAddExp(double, double)"/> (computed in float, as PyTorch).</summary>
    public static float LogAddExp(float a, float b)
    {
        if (float.IsInfinity(a) && a == b) return a;
        if (float.IsNaN(a) || float.IsNaN(b)) return float.NaN;
        float m = MathF.Max(a, b);
        return m + (float)Log1p(MathF.Exp(-MathF.Abs(a - b)));
    }

    /// <summary>Float32 form of <see cref="LogAddExp2(double, double)"/>.</summary>
    public static float LogAddExp2(float a, float b)
    {
        if (float.IsInfinity(a) && a == b) return a;
        if (float.IsNaN(a) || float.IsNaN(b)) return float.NaN;
        float m = MathF.Max(a, b);
        return m + (float)(Log1p(MathF.Pow(2f, -MathF.Abs(a - b))) / Math.Log(2));
    }

    /// <summary>Heaviside step: 0 for x &lt; 0 (and NaN, as PyTorch), <paramref name="v"/> for x = 0 (either sign), 1 for x &gt; 0.</summary>
    public static T Heaviside<T>(T x, T v) where T : INumber<T> => x == T.Zero ? v : x > T.Zero ? T.One : T.Zero;

    /// <summary>PyTorch's isclose on float32: equal, or (both NaN with <paramref name="equalNan"/>), or a finite
    /// |a - b| &lt;= atol + |rtol·b| computed in float32.</summary>
    public static bool IsClose(float a, float b, float rtol, float atol, bool equalNan, bool zeroTol)
    {
        if (a == b) return true;
        if (equalNan && float.IsNaN(a) && float.IsNaN(b)) return true;
        if (zeroTol) return false;
        float diff = MathF.Abs(a - b);
        return float.IsFinite(diff) && diff <= atol + MathF.Abs(rtol * b);
    }

    /// <summary>PyTorch's isclose on float64.</summary>
    public static bool IsClose(double a, double b, double rtol, double atol, bool equalNan, bool zeroTol)
    {
        if (a == b) return true;
        if (equalNan && double.IsNaN(a) && double.IsNaN(b)) return true;
        if (zeroTol) return false;
        double diff = Math.Abs(a - b);
        return double.IsFinite(diff) && diff <= atol + Math.Abs(rtol * b);
    }

    /// <summary>PyTorch's isclose on int64: the allowed error in float32 (the default dtype), |a - b| in int64 (wrapping), compared in float32.</summary>
    public static bool IsClose(long a, long b, float rtol, float atol, bool zeroTol)
    {
        if (a == b) return true;
        if (zeroTol) return false;
        long diff = unchecked(a - b);
        diff = diff < 0 ? unchecked(-diff) : diff;
        return (float)diff <= atol + MathF.Abs(rtol * (float)b);
    }
}
