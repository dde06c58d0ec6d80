using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using V = System.Runtime.Intrinsics.Vector256<double>;

namespace Fluxion.Kernels;

/// <summary>A unary function on 4 double lanes (the vector kernels of <see cref="VecMath"/>).</summary>
internal interface IVecFunc
{
    /// <summary>f on each lane.</summary>
    static abstract V Eval(V x);
}

/// <summary>A unary function on 4 double lanes with parameters (its fields): the parameterized kernels of <see cref="VecMath"/>.</summary>
internal interface IVecOp
{
    /// <summary>f on each lane.</summary>
    V Eval(V x);
}

/// <summary>
/// SIMD transcendental functions in double precision on <see cref="Vector256{T}"/> lanes, each within a few ulps of the
/// exact value in float64 (tests/VecMathTests check them against Math.* and Kernels.Special), and the drivers that map
/// them over float32 spans (widened to double, rounded once: within an ulp of the correctly rounded float) and float64
/// spans, on 2 threads above <see cref="ParallelMin"/> elements (<see cref="Parallelism"/>). Tails are padded into a
/// vector, so an element's result never depends on its position or on the thread split.
/// <para>The approximations are Chebyshev series fitted with mpmath (50 digits) and evaluated by Clenshaw's recurrence,
/// on top of the runtime's vector exp and log (<see cref="Vector256.Exp(Vector256{double})"/>, within 2 ulps).</para>
/// </summary>
internal static unsafe class VecMath
{
    /// <summary>Elements from which a map runs on the available threads.</summary>
    internal const int ParallelMin = 1 << 15;

    // ---- drivers ---------------------------------------------------------------------------------

    /// <summary>y = f(x) on float32, evaluated in double.</summary>
    public static void Map<F>(ReadOnlySpan<float> x, Span<float> y) where F : struct, IVecFunc
    {
        int n = y.Length;
        if (n >= ParallelMin && Parallelism.Available > 1)
        {
            fixed (float* px = x, py = y)
            {
                nint ax = (nint)px, ay = (nint)py;
                Parallelism.For(n, n, ParallelMin, (s, e) => MapSerial<F>(new ReadOnlySpan<float>((float*)ax + s, e - s), new Span<float>((float*)ay + s, e - s)));
            }
            return;
        }
        MapSerial<F>(x, y);
    }

    /// <summary>y = f(x) on float64.</summary>
    public static void Map<F>(ReadOnlySpan<double> x, Span<double> y) where F : struct, IVecFunc
    {
        int n = y.Length;
        if (n >= ParallelMin && Parallelism.Available > 1)
        {
            fixed (double* px = x, py = y)
            {
                nint ax = (nint)px, ay = (nint)py;
                Parallelism.For(n, n, ParallelMin, (s, e) => MapSerial<F>(new ReadOnlySpan<double>((double*)ax + s, e - s), new Span<double>((double*)ay + s, e - s)));
            }
            return;
        }
        MapSerial<F>(x, y);
    }

    /// <summary>y = f(x) on float32 (evaluated in double) or float64 for a parameterized function.</summary>
    public static void MapWith<F, T>(ReadOnlySpan<T> x, Span<T> y, F f) where F : struct, IVecOp where T : unmanaged
    {
        int n = y.Length;
        fixed (T* px = x, py = y)
        {
            nint ax = (nint)px, ay = (nint)py;
            Parallelism.For(n, n, ParallelMin, (s, e) =>
            {
                if (typeof(T) == typeof(float)) MapSerialWith(new ReadOnlySpan<float>((float*)ax + s, e - s), new Span<float>((float*)ay + s, e - s), f);
                else MapSerialWith(new ReadOnlySpan<double>((double*)ax + s, e - s), new Span<double>((double*)ay + s, e - s), f);
            });
        }
    }

    private static void MapSerialWith<F>(ReadOnlySpan<float> x, Span<float> y, F f) where F : struct, IVecOp
    {
        int n = y.Length, i = 0;
        for (; i + 8 <= n; i += 8)
        {
            var (lo, hi) = Vector256.Widen(Vector256.Create(x.Slice(i, 8)));
            Vector256.Narrow(f.Eval(lo), f.Eval(hi)).CopyTo(y.Slice(i, 8));
        }
        if (i < n)
        {
            Span<float> buf = stackalloc float[8];
            buf.Clear();
            x[i..].CopyTo(buf);
            var (lo, hi) = Vector256.Widen(Vector256.Create((ReadOnlySpan<float>)buf));
            Vector256.Narrow(f.Eval(lo), f.Eval(hi)).CopyTo(buf);
            buf[..(n - i)].CopyTo(y[i..]);
        }
    }

    private static void MapSerialWith<F>(ReadOnlySpan<double> x, Span<double> y, F f) where F : struct, IVecOp
    {
        int n = y.Length, i = 0;
        for (; i + 4 <= n; i += 4) f.Eval(Vector256.Create(x.Slice(i, 4))).CopyTo(y.Slice(i, 4));
        if (i < n)
        {
            Span<double> buf = stackalloc double[4];
            buf.Clear();
            x[i..].CopyTo(buf);
            f.Eval(Vector256.Create((ReadOnlySpan<double>)buf)).CopyTo(buf);
            buf[..(n - i)].CopyTo(y[i..]);
        }
    }

    private static void MapSerial<F>(ReadOnlySpan<float> x, Span<float> y) where F : struct, IVecFunc
    {
        int n = y.Length, i = 0;
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        for (; i + 8 <= n; i += 8)
        {
            var (lo, hi) = Vector256.Widen(Vector256.LoadUnsafe(ref xr, (nuint)i));
            Vector256.Narrow(F.Eval(lo), F.Eval(hi)).StoreUnsafe(ref yr, (nuint)i);
        }
        if (i < n)
        {
            Span<float> buf = stackalloc float[8];
            buf.Clear();
            x[i..].CopyTo(buf);
            var (lo, hi) = Vector256.Widen(Vector256.Create((ReadOnlySpan<float>)buf));
            Vector256.Narrow(F.Eval(lo), F.Eval(hi)).CopyTo(buf);
            buf[..(n - i)].CopyTo(y[i..]);
        }
    }

    private static void MapSerial<F>(ReadOnlySpan<double> x, Span<double> y) where F : struct, IVecFunc
    {
        int n = y.Length, i = 0;
        ref double xr = ref MemoryMarshal.GetReference(x);
        ref double yr = ref MemoryMarshal.GetReference(y);
        for (; i + 4 <= n; i += 4) F.Eval(Vector256.LoadUnsafe(ref xr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
        if (i < n)
        {
            Span<double> buf = stackalloc double[4];
            buf.Clear();
            x[i..].CopyTo(buf);
            F.Eval(Vector256.Create((ReadOnlySpan<double>)buf)).CopyTo(buf);
            buf[..(n - i)].CopyTo(y[i..]);
        }
    }

    /// <summary>Runs a span kernel over chunks of the input, on the available threads above <see cref="ParallelMin"/> elements.</summary>
    public static void Chunked<T>(ReadOnlySpan<T> x, Span<T> y, SpanMap<T> f) where T : unmanaged
    {
        int n = y.Length;
        if (n >= ParallelMin && Parallelism.Available > 1)
        {
            fixed (T* px = x, py = y)
            {
                nint ax = (nint)px, ay = (nint)py;
                Parallelism.For(n, n, ParallelMin, (s, e) => f(new ReadOnlySpan<T>((T*)ax + s, e - s), new Span<T>((T*)ay + s, e - s)));
            }
            return;
        }
        f(x, y);
    }

    /// <summary>A float32 kernel computed by a float64 span kernel (widened in blocks of 256 on the stack, rounded once),
    /// on the available threads above <see cref="ParallelMin"/> elements.</summary>
    public static void ViaDouble(ReadOnlySpan<float> x, Span<float> y, SpanMap<double> f) => Chunked(x, y, (xs, ys) =>
    {
        Span<double> a = stackalloc double[256], b = stackalloc double[256];
        for (int i = 0; i < ys.Length; i += 256)
        {
            int m = Math.Min(256, ys.Length - i);
            System.Numerics.Tensors.TensorPrimitives.ConvertChecked(xs.Slice(i, m), a[..m]);
            f(a[..m], b[..m]);
            System.Numerics.Tensors.TensorPrimitives.ConvertChecked<double, float>(b[..m], ys.Slice(i, m));
        }
    });

    // ---- helpers ---------------------------------------------------------------------------------

    private static V C(double c) => Vector256.Create(c);
    private static readonly V s_sign = Vector256.Create(-0.0);

    /// <summary>|x| with the sign bit of <paramref name="s"/> (so -0 and NaN signs carry through).</summary>
    private static V CopySign(V mag, V s) => (mag & ~s_sign) | (s & s_sign);

    private static V Select(V mask, V a, V b) => Vector256.ConditionalSelect(mask, a, b);

    /// <summary>Σ c_k T_k(s) by Clenshaw's recurrence.</summary>
    private static V Clenshaw(ReadOnlySpan<double> c, V s)
    {
        V b1 = V.Zero, b2 = V.Zero, s2 = s + s;
        for (int k = c.Length - 1; k >= 1; k--)
        {
            var b0 = Vector256.FusedMultiplyAdd(s2, b1, C(c[k]) - b2);
            b2 = b1;
            b1 = b0;
        }
        return Vector256.FusedMultiplyAdd(s, b1, C(c[0]) - b2);
    }

    // ---- exponentials and logarithms -------------------------------------------------------------

    /// <summary>e^x.</summary>
    public static V Exp(V x) => Vector256.Exp(x);

    /// <summary>Natural logarithm.</summary>
    public static V Log(V x) => Vector256.Log(x);

    /// <summary>log(1 + x) (Goldberg: log(u)·x/(u - 1) corrects the rounding of u = 1 + x).</summary>
    public static V Log1p(V x)
    {
        var u = V.One + x;
        var r = Log(u) * (x / (u - V.One));
        r = Select(Vector256.Equals(u, V.One), x, r);
        return Select(Vector256.Equals(x, C(double.PositiveInfinity)), x, r);
    }

    /// <summary>e^x - 1 (Kahan: (u - 1)·x/log(u) with u = e^x; a Taylor polynomial below 1e-5).</summary>
    public static V Expm1(V x)
    {
        var u = Exp(x);
        var r = (u - V.One) * (x / Log(u));
        var small = x + x * x * (C(0.5) + x * (C(1.0 / 6) + x * C(1.0 / 24)));
        r = Select(Vector256.LessThan(Vector256.Abs(x), C(1e-5)), small, r);
        r = Select(Vector256.LessThan(x, C(-40)), C(-1), r);   // e^x below 2^-57: -1 exactly (and u may be subnormal)
        r = Select(Vector256.Equals(u, C(double.PositiveInfinity)), u, r);
        return Select(Vector256.Equals(x, V.Zero), x, r);
    }

    /// <summary>2^x = 2^f·2^n with n = round(x) and f = x - n exact: e^(f·ln 2) for |f| &lt;= 1/2, scaled by two exact
    /// powers of 2 built from their bits (so the result rounds once, also into the subnormals).</summary>
    public static V Exp2(V x)
    {
        var n = Vector256.Round(x);
        var f = x - n;
        var nc = Vector256.ConvertToInt64(Vector256.Min(Vector256.Max(Select(Vector256.Equals(n, n), n, V.Zero), C(-1100)), C(1100)));
        var n1 = Vector256.ShiftRightArithmetic(nc, 1);
        var n2 = nc - n1;
        var p1 = Vector256.ShiftLeft(n1 + Vector256.Create(1023L), 52).AsDouble();
        var p2 = Vector256.ShiftLeft(n2 + Vector256.Create(1023L), 52).AsDouble();
        var r = Exp(f * C(0.6931471805599453)) * p1 * p2;
        r = Select(Vector256.Equals(x, C(double.PositiveInfinity)), x, r);
        return Select(Vector256.Equals(x, C(double.NegativeInfinity)), V.Zero, r);
    }

    // ---- hyperbolic ------------------------------------------------------------------------------

    /// <summary>sinh x = (E + E/(E + 1))/2 with E = expm1|x|; above 700, (e^(|x|/2)/2)·e^(|x|/2) (no overflow of e^|x|).</summary>
    public static V Sinh(V x)
    {
        var a = Vector256.Abs(x);
        var e = Expm1(a);
        var s = C(0.5) * (e + e / (e + V.One));
        var w = Exp(C(0.5) * a);
        s = Select(Vector256.GreaterThan(a, C(700)), C(0.5) * w * w, s);
        return CopySign(s, x);
    }

    /// <summary>cosh x = (e^|x| + e^-|x|)/2; above 700 as <see cref="Sinh"/>.</summary>
    public static V Cosh(V x)
    {
        var a = Vector256.Abs(x);
        var e = Exp(a);
        var c = C(0.5) * (e + V.One / e);
        var w = Exp(C(0.5) * a);
        return Select(Vector256.GreaterThan(a, C(700)), C(0.5) * w * w, c);
    }

    /// <summary>asinh x = log1p(|x| + x²/(1 + √(1 + x²))) with x's sign; log|x| + log 2 above 2^28.</summary>
    public static V Asinh(V x)
    {
        var a = Vector256.Abs(x);
        var a2 = a * a;
        var r = Log1p(a + a2 / (V.One + Vector256.Sqrt(V.One + a2)));
        r = Select(Vector256.GreaterThan(a, C(268435456.0)), Log(a) + C(Math.Log(2)), r);
        return CopySign(r, x);
    }

    /// <summary>acosh x = log1p(t + √(2t + t²)), t = x - 1; log x + log 2 above 2^28; NaN below 1.</summary>
    public static V Acosh(V x)
    {
        var t = x - V.One;
        var r = Log1p(t + Vector256.Sqrt(t + t + t * t));
        r = Select(Vector256.GreaterThan(x, C(268435456.0)), Log(x) + C(Math.Log(2)), r);
        return Select(Vector256.LessThan(x, V.One), C(double.NaN), r);
    }

    /// <summary>atanh x = log1p(2|x|/(1 - |x|))/2 with x's sign (±inf at ±1, NaN beyond).</summary>
    public static V Atanh(V x)
    {
        var a = Vector256.Abs(x);
        return CopySign(C(0.5) * Log1p((a + a) / (V.One - a)), x);
    }

    // ---- inverse trigonometric -------------------------------------------------------------------

    // Chebyshev series in s = 2t - 1 of (atan(x)/x - 1)/t, t = x² on [0, 1]: atan x = x + x·t·Q(t) for |x| <= 1
    private static readonly double[] s_atan =
    [
        -0.266419987676776, 0.05833432343172412, -0.007400369696719647, 0.0010097841993372881, -0.00014397871635652055,
        2.1145126489921075e-05, -3.1723210742546673e-06, 4.836620365460711e-07, -7.467746546814113e-08, 1.1648008968244299e-08,
        -1.8320883708472015e-09, 2.901908277966063e-10, -4.623885312106327e-11, 7.405528668775737e-12, -1.1913544578451367e-12,
        1.9240901443917727e-13, -3.1182710510761944e-14, 5.069240036567732e-15, -8.263694719802867e-16, 1.3504867098170795e-16,
        -2.212023650481746e-17, 3.6306547473813566e-18, -5.970345328847154e-19,
    ];

    private const double PiOver2Hi = 1.5707963267948966, PiOver2Lo = 6.123233995736766e-17;

    /// <summary>atan x: the series on |x| &lt;= 1, π/2 - atan(1/|x|) above, x's sign.</summary>
    public static V Atan(V x)
    {
        var a = Vector256.Abs(x);
        var inv = Vector256.GreaterThan(a, V.One);
        var z = Select(inv, V.One / a, a);
        var t = z * z;
        var r = Vector256.FusedMultiplyAdd(z * t, Clenshaw(s_atan, t + t - V.One), z);
        r = Select(inv, (C(PiOver2Hi) - r) + C(PiOver2Lo), r);
        return CopySign(r, x);
    }

    /// <summary>asin x = atan(x/√((1 - x)(1 + x))) (NaN outside [-1, 1]).</summary>
    public static V Asin(V x) => Atan(x / Vector256.Sqrt((V.One - x) * (V.One + x)));

    /// <summary>acos x = 2·atan(√((1 - x)/(1 + x))) (NaN outside [-1, 1]).</summary>
    public static V Acos(V x)
    {
        var r = Atan(Vector256.Sqrt((V.One - x) / (V.One + x)));
        return r + r;
    }

    // ---- error functions -------------------------------------------------------------------------

    // (2/√π)·(-1)^n/(n!(2n + 1)), n = 0..13: erf x = x·Σ c_n x^2n, used for |x| < 0.5 (the last term is below 1e-19)
    private static readonly double[] s_erfSeries = ErfSeries();

    private static double[] ErfSeries()
    {
        var c = new double[14];
        double f = 1;
        for (int n = 0; n < c.Length; n++)
        {
            if (n > 0) f *= n;
            c[n] = (n % 2 == 0 ? 1 : -1) * 1.1283791670955126 / (f * (2 * n + 1));
        }
        return c;
    }

    // Chebyshev series in t = (x - 2)/(x + 2) of (1 + 2x)·e^(x²)·erfc(x) on [0, ∞) (mpmath; error below 1e-19)
    private static readonly double[] s_erfcx =
    [
        1.1760066555883004, 0.025779673870048207, -0.10659315067778503, 0.03880887957448382, -0.005414899930893725,
        -0.00040815257282372384, 0.00019843768248553527, 9.842532776048127e-06, -7.763265561062859e-06, -7.174001457529682e-07,
        3.140694955581843e-07, 6.188423669546144e-08, -9.890619934492214e-09, -4.59539962251018e-09, -7.180587728177086e-11,
        2.6296183336364044e-10, 4.867734056607904e-11, -8.026804193759018e-12, -4.779133570845298e-12, -4.3470126478464435e-13,
        2.412314273846194e-13, 8.610900521277247e-14, 2.59476489837122e-15, -5.872254381501051e-15, -1.7019328812344317e-15,
        1.387358712117345e-17, 1.4092174407259632e-16, 3.84127549399939e-17, -7.115293125772235e-19, -3.480409461122767e-18,
        -9.926781381246148e-19, -1.3809145558145266e-21, 8.824764845437821e-20,
    ];

    private static V ErfSmall(V a)
    {
        var t = a * a;
        var p = C(s_erfSeries[^1]);
        for (int k = s_erfSeries.Length - 2; k >= 0; k--) p = Vector256.FusedMultiplyAdd(p, t, C(s_erfSeries[k]));
        return a * p;
    }

    /// <summary>e^(-x²) with x² split exactly into hi + lo (FMA): e^(-hi)·(1 - lo).</summary>
    private static V ExpMinusSquare(V a)
    {
        var hi = a * a;
        var lo = Vector256.FusedMultiplyAdd(a, a, -hi);
        return Exp(-hi) * (V.One - lo);
    }

    /// <summary>erfc(a) for a &gt;= 0.5 (finite or +inf): e^(-a²)·S(t)/(1 + 2a).</summary>
    private static V ErfcLarge(V a)
    {
        var b = Vector256.Min(a, C(30));   // erfc(30) underflows; keeps inf out of t
        var t = (b - C(2)) / (b + C(2));
        return ExpMinusSquare(b) * Clenshaw(s_erfcx, t) / (V.One + b + b);
    }

    /// <summary>erf and erfc of a &gt;= 0 (a finite or +inf, not NaN): the series below 0.5, the erfc series above.</summary>
    private static (V Erf, V Erfc) ErfPair(V a)
    {
        var small = Vector256.LessThan(a, C(0.5));
        uint m = Vector256.ExtractMostSignificantBits(small);
        if (m == 0xF) { var e = ErfSmall(a); return (e, V.One - e); }
        var c = ErfcLarge(Select(small, C(0.5), a));
        if (m == 0) return (V.One - c, c);
        var es = ErfSmall(Select(small, a, V.Zero));
        return (Select(small, es, V.One - c), Select(small, V.One - es, c));
    }

    /// <summary>The error function.</summary>
    public static V Erf(V x)
    {
        var (e, _) = ErfPair(Vector256.Abs(x));
        return Select(Vector256.Equals(x, x), CopySign(e, x), x);
    }

    /// <summary>The complementary error function (relative accuracy also deep in the tail).</summary>
    public static V Erfc(V x)
    {
        var (e, c) = ErfPair(Vector256.Abs(x));
        var neg = Vector256.LessThan(x, V.Zero);
        // erfc(-a) = 1 + erf(a)
        return Select(Vector256.Equals(x, x), Select(neg, V.One + e, c), x);
    }

    /// <summary>The inverse error function: Giles' single-precision approximation (2010) refined by Halley steps (cubic; until each is below 5e-7 relative) on
    /// erf (on erfc for |y| &gt; 0.5, where 1 - |y| is exact); ±inf at ±1, NaN outside [-1, 1].</summary>
    public static V Erfinv(V y)
    {
        var ay = Vector256.Abs(y);
        var oneMinus = V.One - ay;
        var w = -Log(oneMinus * (V.One + ay));
        var central = Vector256.LessThan(w, C(5));
        var w1 = w - C(2.5);
        var p1 = C(2.81022636e-08);
        p1 = Vector256.FusedMultiplyAdd(p1, w1, C(3.43273939e-07));
        p1 = Vector256.FusedMultiplyAdd(p1, w1, C(-3.5233877e-06));
        p1 = Vector256.FusedMultiplyAdd(p1, w1, C(-4.39150654e-06));
        p1 = Vector256.FusedMultiplyAdd(p1, w1, C(0.00021858087));
        p1 = Vector256.FusedMultiplyAdd(p1, w1, C(-0.00125372503));
        p1 = Vector256.FusedMultiplyAdd(p1, w1, C(-0.00417768164));
        p1 = Vector256.FusedMultiplyAdd(p1, w1, C(0.246640727));
        p1 = Vector256.FusedMultiplyAdd(p1, w1, C(1.50140941));
        var w2 = Vector256.Sqrt(w) - C(3);
        var p2 = C(-0.000200214257);
        p2 = Vector256.FusedMultiplyAdd(p2, w2, C(0.000100950558));
        p2 = Vector256.FusedMultiplyAdd(p2, w2, C(0.00134934322));
        p2 = Vector256.FusedMultiplyAdd(p2, w2, C(-0.00367342844));
        p2 = Vector256.FusedMultiplyAdd(p2, w2, C(0.00573950773));
        p2 = Vector256.FusedMultiplyAdd(p2, w2, C(-0.0076224613));
        p2 = Vector256.FusedMultiplyAdd(p2, w2, C(0.00943887047));
        p2 = Vector256.FusedMultiplyAdd(p2, w2, C(1.00167406));
        p2 = Vector256.FusedMultiplyAdd(p2, w2, C(2.83297682));
        var inside = Vector256.LessThan(ay, V.One);
        // lanes outside (0, 1) iterate on a harmless value and are overwritten below
        var x = Select(inside, Select(central, p1, p2) * ay, C(0.5));
        var lowHalf = Vector256.LessThanOrEqual(ay, C(0.5));
        // Halley converges cubically: once every step is below 5e-7 relative, the error left is below 1e-17. One or two
        // steps from Giles' guess in float's range; up to 8 where 1 - |y| < 6e-8 (beyond it, where the guess is rougher)
        for (int it = 0; it < 8; it++)
        {
            var (e, c) = ErfPair(x);
            var r = Select(lowHalf, e - ay, oneMinus - c);
            var dx = r / (C(1.1283791670955126) * ExpMinusSquare(x));
            var step = dx / Vector256.FusedMultiplyAdd(x, dx, V.One);
            x -= step;
            if (Vector256.LessThanOrEqualAll(Select(inside, Vector256.Abs(step), V.Zero), C(5e-7) * Vector256.Abs(x))) break;
        }
        x = Select(inside, x, Select(Vector256.Equals(ay, V.One), C(double.PositiveInfinity), C(double.NaN)));
        x = Select(Vector256.Equals(ay, V.Zero), V.Zero, x);
        return CopySign(x, y);
    }

    /// <summary>gelu(x) = x·Φ(x): x·erfc(-x/√2)/2 (accurate in the left tail, where 1 + erf cancels).</summary>
    public static V Gelu(V x) => C(0.5) * x * Erfc(x * C(-0.7071067811865476));

    // ---- sign and powers (the fused backward's algebra) --------------------------------------------

    /// <summary>-1, 0 or 1 by the sign (±0 gives +0, NaN stays NaN), on any float lanes.</summary>
    public static Vector256<T> Sign<T>(Vector256<T> x) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var one = Vector256<T>.One;
        var r = (Vector256.GreaterThan(x, Vector256<T>.Zero) & one) - (Vector256.LessThan(x, Vector256<T>.Zero) & one);
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), r, x);
    }

    /// <summary>x^e: square roots for e = ±1/2, repeated squaring for integer |e| &lt;= 64 (negative bases included),
    /// e^(e·log x) otherwise (NaN for x &lt; 0, as Math.Pow for a non-integer exponent).</summary>
    public static V Pow(V x, double e)
    {
        if (e == 0) return V.One;
        if (e == 0.5) return Vector256.Sqrt(x);
        if (e == -0.5) return V.One / Vector256.Sqrt(x);
        if (e == Math.Floor(e) && Math.Abs(e) <= 64)
        {
            int n = (int)Math.Abs(e);
            V r = V.One, b = x;
            while (true)
            {
                if ((n & 1) != 0) r *= b;
                n >>= 1;
                if (n == 0) break;
                b *= b;
            }
            return e < 0 ? V.One / r : r;
        }
        return Exp(C(e) * Log(x));
    }

    /// <summary>softplus: (max(βx, 0) + log1p(e^-|βx|))/β, x itself where βx &gt; threshold (PyTorch's).</summary>
    internal readonly struct Softplus(double beta, double threshold) : IVecOp
    {
        public V Eval(V x)
        {
            var bx = x * C(beta);
            var r = (Vector256.Max(bx, V.Zero) + Log1p(Exp(-Vector256.Abs(bx)))) / C(beta);
            r = Select(Vector256.Equals(x, x), r, x);
            return Select(Vector256.GreaterThan(bx, C(threshold)), x, r);
        }
    }

    // ---- the gamma family in double lanes (the float32 kernels: each float result rounded once) -------

    /// <summary>sin(π·r) and cos(π·r) for r = x - round(x) (exact): the reflection formulas' periodic part.</summary>
    private static (V Sin, V Cos) SinCosPi(V x)
    {
        var r = (x - Vector256.Round(x)) * C(Math.PI);
        return (Vector256.Sin(r), Vector256.Cos(r));
    }

    /// <summary>log|Γ(x)| to about 1e-15 absolute (enough for float32 results within a few ulps; the float64 op keeps
    /// Special.Lgamma): for x ≥ 0, Stirling's series at z = x + n ≥ 10 minus log of the product x(x + 1)···(x + n - 1);
    /// below 0 the reflection log(π/|sin πx|) - lgamma(1 - x). +inf at 0, the negative integers and ±inf.</summary>
    public static V Lgamma(V x)
    {
        var neg = Vector256.LessThan(x, V.Zero);
        var p = V.One;
        var z = Select(neg, V.One - x, x);
        for (int k = 0; k < 10; k++)   // up to z ≥ 10, p the product of the values left behind
        {
            var lo = Vector256.LessThan(z, C(10));
            if (Vector256.ExtractMostSignificantBits(lo) == 0) break;
            p = Select(lo, p * z, p);
            z = Select(lo, z + V.One, z);
        }
        var iz = V.One / z;
        var iz2 = iz * iz;
        var s = C(1.0 / 12) - iz2 * (C(1.0 / 360) - iz2 * (C(1.0 / 1260) - iz2 * (C(1.0 / 1680) - iz2 * (C(1.0 / 1188) - iz2 * C(691.0 / 360360)))));
        var l = (z - C(0.5)) * (Log(z) - V.One) + C(0.9189385332046728 - 0.5) + s * iz - Log(Vector256.Abs(p));
        var (sin, _) = SinCosPi(x);
        var y = Select(neg, Log(C(Math.PI) / Vector256.Abs(sin)) - l, l);
        y = Select(Vector256.Equals(x, V.One) | Vector256.Equals(x, C(2)), V.Zero, y);   // the zeros, exact (the series leaves ~1e-15)
        y = Select(Vector256.Equals(Vector256.Abs(x), C(double.PositiveInfinity)), C(double.PositiveInfinity), y);
        return Select(Vector256.Equals(x, x), y, x);
    }

    /// <summary>ψ(x) (digamma) to about 1e-15 absolute: for x ≥ 0, the asymptotic series at z = x + n ≥ 10 minus Σ 1/(x + k);
    /// below 0 the reflection ψ(1 - x) - π·cot(πx). As PyTorch: -inf at +0, +inf at -0, NaN at the negative integers and -inf.</summary>
    public static V Digamma(V x)
    {
        var neg = Vector256.LessThan(x, V.Zero);
        var acc = V.Zero;
        var z = Select(neg, V.One - x, x);
        for (int k = 0; k < 10; k++)   // ψ(z) = ψ(z + 1) - 1/z up to z ≥ 10
        {
            var lo = Vector256.LessThan(z, C(10));
            if (Vector256.ExtractMostSignificantBits(lo) == 0) break;
            acc = Select(lo, acc - V.One / z, acc);
            z = Select(lo, z + V.One, z);
        }
        var iz2 = V.One / (z * z);
        var t = iz2 * (C(1.0 / 12) - iz2 * (C(1.0 / 120) - iz2 * (C(1.0 / 252) - iz2 * (C(1.0 / 240) - iz2 * (C(1.0 / 132) - iz2 * (C(691.0 / 32760) - iz2 * C(1.0 / 12)))))));
        var psi = (Log(z) - C(0.5) / z - t) + acc;
        var (sin, cos) = SinCosPi(x);
        var y = Select(neg, psi - C(Math.PI) * cos / sin, psi);
        y = Select(neg & Vector256.Equals(sin, V.Zero), C(double.NaN), y);
        var negZero = Vector256.LessThan(x.AsInt64(), Vector256<long>.Zero).AsDouble();
        y = Select(Vector256.Equals(x, V.Zero), Select(negZero, C(double.PositiveInfinity), C(double.NegativeInfinity)), y);
        return Select(Vector256.Equals(x, x), y, x);
    }

    /// <summary>ψ'(x) (trigamma, polygamma(1, x)) to about 1e-15 relative: for x ≥ 0, the asymptotic series at z = x + n ≥ 10
    /// plus Σ 1/(x + k)²; below 0 the reflection π²/sin²(πx) - ψ'(1 - x). +inf at 0 and the negative integers, 0 at +inf, NaN at -inf.</summary>
    public static V Trigamma(V x)
    {
        var neg = Vector256.LessThan(x, V.Zero);
        var acc = V.Zero;
        var z = Select(neg, V.One - x, x);
        for (int k = 0; k < 10; k++)   // ψ'(z) = ψ'(z + 1) + 1/z² up to z ≥ 10
        {
            var lo = Vector256.LessThan(z, C(10));
            if (Vector256.ExtractMostSignificantBits(lo) == 0) break;
            acc = Select(lo, acc + V.One / (z * z), acc);
            z = Select(lo, z + V.One, z);
        }
        var iz = V.One / z;
        var iz2 = iz * iz;
        var q = C(1.0 / 6) - iz2 * (C(1.0 / 30) - iz2 * (C(1.0 / 42) - iz2 * (C(1.0 / 30) - iz2 * (C(5.0 / 66) - iz2 * (C(691.0 / 2730) - iz2 * C(7.0 / 6))))));
        var psi1 = acc + (iz + iz2 * (C(0.5) + iz * q));
        var (sin, _) = SinCosPi(x);
        var y = Select(neg, C(Math.PI * Math.PI) / (sin * sin) - psi1, psi1);
        return Select(Vector256.Equals(x, x), y, x);
    }

    /// <summary>max(a, b) + log1p(e^-|a - b|) (or log1p(2^-|a - b|)/ln 2 for base 2) on finite or one-infinite lanes
    /// (the float32 logaddexp kernels' double part; the callers fix the both-infinite and NaN lanes).</summary>
    internal static V LogAddExp(V a, V b, bool base2)
    {
        var d = -Vector256.Abs(a - b);
        var l = base2 ? Log1p(Exp2(d)) * C(1 / Math.Log(2)) : Log1p(Exp(d));
        return Vector256.Max(a, b) + l;
    }

    // ---- activations (the float64 kernels of the nn entries) ----------------------------------------

    /// <summary>The logistic sigmoid: 1/(1 + e) for x &gt;= 0, e/(1 + e) below, e = e^-|x|.</summary>
    private static V Sigmoid(V x)
    {
        var e = Exp(-Vector256.Abs(x));
        var r = V.One / (V.One + e);
        return Select(Vector256.LessThan(x, V.Zero), e * r, r);
    }

    /// <summary>SiLU x·σ(x).</summary>
    public static V Silu(V x) => x * Sigmoid(x);

    /// <summary>Mish x·tanh(softplus x) = x·n/(n + 2), n = e·(e + 2), e = e^min(x, 20) (exactly x from 20 on).</summary>
    public static V Mish(V x)
    {
        var e = Exp(Vector256.Min(x, C(20)));
        var n = e * (e + C(2));
        return x * (n / (n + C(2)));
    }

    /// <summary>Softsign x/(1 + |x|).</summary>
    public static V Softsign(V x) => Select(Vector256.Equals(x, x), x / (V.One + Vector256.Abs(x)), x);

    /// <summary>Tanhshrink x - tanh x (tanh by Math.Tanh per lane, the float64 tanh kernel's).</summary>
    public static V Tanhshrink(V x) => Select(Vector256.Equals(x, x), x - Special.Tanh(x), x);

    /// <summary>log σ(x) = min(x, 0) - log1p(e^-|x|).</summary>
    public static V LogSigmoid(V x) => Select(Vector256.LessThan(x, V.Zero), x, V.Zero) - Log1p(Exp(-Vector256.Abs(x)));

    /// <summary>PyTorch's elu family: x ≤ 0 ? negCoef·expm1(x·inScale) : posCoef·x (NaN takes the second branch).</summary>
    internal readonly struct Elu(double negCoef, double posCoef, double inScale) : IVecOp
    {
        /// <inheritdoc/>
        public V Eval(V x) => Select(Vector256.LessThanOrEqual(x, V.Zero), Expm1(x * C(inScale)) * C(negCoef), x * C(posCoef));
    }

    /// <summary>logit log(z/(1 - z)), z = x clamped to [lo, hi] when <paramref name="clamp"/> (NaN passes), as PyTorch
    /// (the quotient in lanes, the log by Math.Log).</summary>
    internal readonly struct Logit(double lo, double hi, bool clamp) : IVecOp
    {
        /// <inheritdoc/>
        public V Eval(V x)
        {
            var z = clamp ? Select(Vector256.LessThan(x, C(lo)), C(lo), Select(Vector256.GreaterThan(x, C(hi)), C(hi), x)) : x;
            var q = z / (V.One - z);
            return Vector256.Create(Math.Log(q[0]), Math.Log(q[1]), Math.Log(q[2]), Math.Log(q[3]));   // libm's log, as PyTorch's
        }
    }

    // ---- IVecFunc adapters (one struct per function, for the generic drivers) ----

    internal struct ExpF : IVecFunc { public static V Eval(V x) => Exp(x); }
    internal struct SinF : IVecFunc { public static V Eval(V x) => Vector256.Sin(x); }
    internal struct CosF : IVecFunc { public static V Eval(V x) => Vector256.Cos(x); }
    internal struct Log1pF : IVecFunc { public static V Eval(V x) => Log1p(x); }
    internal struct Expm1F : IVecFunc { public static V Eval(V x) => Expm1(x); }
    internal struct Exp2F : IVecFunc { public static V Eval(V x) => Exp2(x); }
    internal struct Log2F32 : IVecFunc { public static V Eval(V x) => Log(x) * C(1 / Math.Log(2)); }
    internal struct Log10F32 : IVecFunc { public static V Eval(V x) => Log(x) * C(1 / Math.Log(10)); }
    internal struct SinhF : IVecFunc { public static V Eval(V x) => Sinh(x); }
    internal struct CoshF : IVecFunc { public static V Eval(V x) => Cosh(x); }
    internal struct AsinhF : IVecFunc { public static V Eval(V x) => Asinh(x); }
    internal struct AcoshF : IVecFunc { public static V Eval(V x) => Acosh(x); }
    internal struct AtanhF : IVecFunc { public static V Eval(V x) => Atanh(x); }
    internal struct AtanF : IVecFunc { public static V Eval(V x) => Atan(x); }
    internal struct AsinF : IVecFunc { public static V Eval(V x) => Asin(x); }
    internal struct AcosF : IVecFunc { public static V Eval(V x) => Acos(x); }
    internal struct ErfF : IVecFunc { public static V Eval(V x) => Erf(x); }
    internal struct ErfcF : IVecFunc { public static V Eval(V x) => Erfc(x); }
    internal struct ErfinvF : IVecFunc { public static V Eval(V x) => Erfinv(x); }
    internal struct GeluF : IVecFunc { public static V Eval(V x) => Gelu(x); }
    internal struct LgammaF : IVecFunc { public static V Eval(V x) => Lgamma(x); }
    internal struct DigammaF : IVecFunc { public static V Eval(V x) => Digamma(x); }
    internal struct TrigammaF : IVecFunc { public static V Eval(V x) => Trigamma(x); }
    internal struct SiluF : IVecFunc { public static V Eval(V x) => Silu(x); }
    internal struct MishF : IVecFunc { public static V Eval(V x) => Mish(x); }
    internal struct SoftsignF : IVecFunc { public static V Eval(V x) => Softsign(x); }
    internal struct TanhshrinkF : IVecFunc { public static V Eval(V x) => Tanhshrink(x); }
    internal struct LogSigmoidF : IVecFunc { public static V Eval(V x) => LogSigmoid(x); }

}

/// <summary>A unary function on 8 float32 lanes (the register-level kernels of <see cref="VecMath32"/>).</summary>
internal interface IVecFunc32
{
    /// <summary>f on each lane.</summary>
    static abstract Vector256<float> Eval(Vector256<float> x);
}

/// <summary>
/// SIMD transcendental functions evaluated in float32 lanes (8 per <see cref="Vector256{T}"/>), each within a few float32
/// ulps of the exact value over the whole domain (NaN, ±inf, ±0, subnormals and the domain edges included; the bounds
/// are asserted by tests/VecMath32Tests against the double-precision kernels of <see cref="VecMath"/>), and the driver
/// that maps them over float32 spans (<see cref="Map{F}"/>). The eager float32 kernels loop over exactly these methods,
/// so a compiled (fused) loop that calls them gets the same bits.
/// <para>Exponentials: Cody-Waite reduction x = n·ln2 + r (ln2 split in two, |r| &lt;= ln2/2), a degree-8 Taylor polynomial
/// of e^r - 1, and 2^n applied as two exact powers of two (so results round once, also into the subnormals). Logarithm:
/// x = 2^k·m with m in [√½, √2), log(1 + f) = f - f²/2 + f³·P(f) with Cephes' logf coefficients. atan: the float64
/// kernel's Chebyshev series cut to float precision; erf/erfc: a Taylor series below 0.5 and the float64 kernel's
/// Chebyshev series of e^(x²)·erfc(x)·(1 + 2x) above, with x² split exactly (FMA); erfinv: Giles' single-precision
/// approximation and one Newton step.</para>
/// </summary>
internal static class VecMath32
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> C(float c) => Vector256.Create(c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Sel(Vector256<float> m, Vector256<float> a, Vector256<float> b) => Vector256.ConditionalSelect(m, a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);
    private static Vector256<float> SignBit => Vector256.Create(-0.0f);

    /// <summary>|mag| with the sign bit of <paramref name="s"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> CopySign(Vector256<float> mag, Vector256<float> s) => (mag & ~SignBit) | (s & SignBit);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> IsNaN(Vector256<float> x) => ~Vector256.Equals(x, x);

    /// <summary>True when every lane of the mask is set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool All(Vector256<float> mask) => Vector256.ExtractMostSignificantBits(mask) == 0xFF;

    // ---- driver ----------------------------------------------------------------------------------

    /// <summary>y = F(x) on float32 spans, 8 lanes at a time; the tail is one more vector ending at the last element
    /// (read before anything is written, so x and y may be the same span), or a padded vector below 8 elements. On the
    /// available threads from <see cref="VecMath.ParallelMin"/> elements (below that no thread is forked).</summary>
    public static unsafe void Map<F>(ReadOnlySpan<float> x, Span<float> y) where F : struct, IVecFunc32
    {
        int n = y.Length;
        if (n >= VecMath.ParallelMin && Parallelism.Available > 1)
        {
            fixed (float* px = x, py = y)
            {
                nint ax = (nint)px, ay = (nint)py;
                Parallelism.For(n, n, VecMath.ParallelMin, (s, e) => MapSerial<F>(new ReadOnlySpan<float>((float*)ax + s, e - s), new Span<float>((float*)ay + s, e - s)));
            }
            return;
        }
        MapSerial<F>(x, y);
    }

    internal static void MapSerial<F>(ReadOnlySpan<float> x, Span<float> y) where F : struct, IVecFunc32
    {
        int n = y.Length;
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        if (n < 8)
        {
            if (n == 0) return;
            Span<float> buf = stackalloc float[8];
            buf.Clear();
            x.CopyTo(buf);
            F.Eval(Vector256.Create((ReadOnlySpan<float>)buf)).CopyTo(buf);
            buf[..n].CopyTo(y);
            return;
        }
        var last = Vector256.LoadUnsafe(ref xr, (nuint)(n - 8));
        int i = 0;
        for (; i + 8 <= n; i += 8) F.Eval(Vector256.LoadUnsafe(ref xr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
        if (i < n) F.Eval(last).StoreUnsafe(ref yr, (nuint)(n - 8));
    }

    /// <summary>y = F(a, b) on float32 spans of one length (the binary counterpart of <see cref="Map{F}"/>).</summary>
    public static unsafe void Map2<F>(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y) where F : struct, IVecFunc32x2
    {
        int n = y.Length;
        if (n >= VecMath.ParallelMin && Parallelism.Available > 1)
        {
            fixed (float* pa = a, pb = b, py = y)
            {
                nint aa = (nint)pa, ab = (nint)pb, ay = (nint)py;
                Parallelism.For(n, n, VecMath.ParallelMin, (s, e) => Map2Serial<F>(new ReadOnlySpan<float>((float*)aa + s, e - s), new ReadOnlySpan<float>((float*)ab + s, e - s), new Span<float>((float*)ay + s, e - s)));
            }
            return;
        }
        Map2Serial<F>(a, b, y);
    }

    private static void Map2Serial<F>(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y) where F : struct, IVecFunc32x2
    {
        int n = y.Length;
        ref float ar = ref MemoryMarshal.GetReference(a);
        ref float br = ref MemoryMarshal.GetReference(b);
        ref float yr = ref MemoryMarshal.GetReference(y);
        if (n < 8)
        {
            if (n == 0) return;
            Span<float> ba = stackalloc float[8], bb = stackalloc float[8];
            ba.Clear(); bb.Clear();
            a.CopyTo(ba); b.CopyTo(bb);
            F.Eval(Vector256.Create((ReadOnlySpan<float>)ba), Vector256.Create((ReadOnlySpan<float>)bb)).CopyTo(ba);
            ba[..n].CopyTo(y);
            return;
        }
        var lastA = Vector256.LoadUnsafe(ref ar, (nuint)(n - 8));
        var lastB = Vector256.LoadUnsafe(ref br, (nuint)(n - 8));
        int i = 0;
        for (; i + 8 <= n; i += 8) F.Eval(Vector256.LoadUnsafe(ref ar, (nuint)i), Vector256.LoadUnsafe(ref br, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
        if (i < n) F.Eval(lastA, lastB).StoreUnsafe(ref yr, (nuint)(n - 8));
    }

    // ---- exponentials ------------------------------------------------------------------------------

    private const float Log2E = 1.44269504f, Ln2Hi = 0.693359375f, Ln2Lo = -2.12194440e-4f;

    /// <summary>e^r - 1 for |r| &lt;= ln2/2: r + r²·Σ r^k/(k + 2)!, k = 0..6 (Taylor; truncation below 1e-9 relative).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Expm1Poly(Vector256<float> r)
    {
        var p = C(1f / 40320);
        p = Fma(p, r, C(1f / 5040));
        p = Fma(p, r, C(1f / 720));
        p = Fma(p, r, C(1f / 120));
        p = Fma(p, r, C(1f / 24));
        p = Fma(p, r, C(1f / 6));
        p = Fma(p, r, C(0.5f));
        return Fma(p, r * r, r);
    }

    /// <summary>n = round(x/ln2) and r = x - n·ln2 (two-part ln2; exact first step).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Reduce(Vector256<float> x, out Vector256<float> n)
    {
        n = Vector256.Round(x * C(Log2E));
        var r = Fma(n, C(-Ln2Hi), x);
        return Fma(n, C(-Ln2Lo), r);
    }

    /// <summary>p·2^n for integral n (clamped to [-252, 254]) as two exact powers of two: one rounding, also into the subnormals.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Scale(Vector256<float> p, Vector256<float> n)
    {
        var k = Vector256.ConvertToInt32(Vector256.Min(Vector256.Max(n, C(-252f)), C(254f)));
        var k1 = Vector256.ShiftRightArithmetic(k, 1);
        var k2 = k - k1;
        var s1 = Vector256.ShiftLeft(k1 + Vector256.Create(127), 23).AsSingle();
        var s2 = Vector256.ShiftLeft(k2 + Vector256.Create(127), 23).AsSingle();
        return p * s1 * s2;
    }

    /// <summary>e^x (0 below -104, +inf above 89).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var r = Reduce(x, out var n);
        var y = Scale(Vector256<float>.One + Expm1Poly(r), n);
        y = Sel(Vector256.LessThan(x, C(-104f)), Vector256<float>.Zero, y);
        return Sel(Vector256.GreaterThan(x, C(89f)), C(float.PositiveInfinity), y);
    }

    /// <summary>e^x - 1 = 2^n·(e^r - 1) + (2^n - 1) (exact 2^n - 1 for |n| &lt;= 24; e^x itself beyond 60).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Expm1(Vector256<float> x)
    {
        var r = Reduce(x, out var n);
        var p = Expm1Poly(r);
        var t = Scale(Vector256<float>.One, Vector256.Min(n, C(100f)));
        var y = Fma(t, p, t - Vector256<float>.One);
        if (Vector256.GreaterThanAny(x, C(60f))) y = Sel(Vector256.GreaterThan(x, C(60f)), Scale(Vector256<float>.One + p, n), y);
        y = Sel(Vector256.LessThan(x, C(-20f)), C(-1f), y);
        y = Sel(Vector256.GreaterThan(x, C(89f)), C(float.PositiveInfinity), y);
        return Sel(Vector256.Equals(x, Vector256<float>.Zero), x, y);   // keeps -0
    }

    /// <summary>2^x = 2^f·2^n, n = round(x), f = x - n exact, 2^f by its Taylor series in f (degree 8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp2(Vector256<float> x)
    {
        var n = Vector256.Round(x);
        var f = x - n;
        var p = C(1.321548679014431e-06f);
        p = Fma(p, f, C(1.5252733804059841e-05f));
        p = Fma(p, f, C(0.0001540353039338161f));
        p = Fma(p, f, C(0.0013333558146428443f));
        p = Fma(p, f, C(0.009618129107628477f));
        p = Fma(p, f, C(0.05550410866482158f));
        p = Fma(p, f, C(0.24022650695910072f));
        p = Fma(p, f, C(0.6931471805599453f));
        var y = Scale(Fma(p, f, Vector256<float>.One), n);
        y = Sel(Vector256.LessThan(x, C(-160f)), Vector256<float>.Zero, y);
        return Sel(Vector256.GreaterThan(x, C(130f)), C(float.PositiveInfinity), y);
    }

    // ---- logarithms --------------------------------------------------------------------------------

    /// <summary>The logarithms' reduction: x = 2^e·(1 + f) with 1 + f in [√½, √2) (subnormals scaled first); returns f
    /// and sets <paramref name="tail"/> = f³·P(f), so log(1 + f) = f - f²/2 + tail (Cephes' logf coefficients).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> LogReduce(Vector256<float> x, out Vector256<float> e, out Vector256<float> tail)
    {
        var sub = Vector256.LessThan(x, C(1.17549435e-38f));
        var xs = Sel(sub, x * C(8388608f), x);
        var ix = xs.AsInt32() - Vector256.Create(0x3f3504f3);           // relative to √½'s bits
        var k = Vector256.ShiftRightArithmetic(ix, 23);
        var m = ((ix & Vector256.Create(0x007fffff)) + Vector256.Create(0x3f3504f3)).AsSingle();   // in [√½, √2)
        e = Vector256.ConvertToSingle(k) - (sub & C(23f));
        var f = m - Vector256<float>.One;
        var z = f * f;
        var p = C(7.0376836292e-2f);
        p = Fma(p, f, C(-1.1514610310e-1f));
        p = Fma(p, f, C(1.1676998740e-1f));
        p = Fma(p, f, C(-1.2420140846e-1f));
        p = Fma(p, f, C(1.4249322787e-1f));
        p = Fma(p, f, C(-1.6668057665e-1f));
        p = Fma(p, f, C(2.0000714765e-1f));
        p = Fma(p, f, C(-2.4999993993e-1f));
        p = Fma(p, f, C(3.3333331174e-1f));
        tail = f * z * p;
        return f;
    }

    /// <summary>A logarithm's values at the edges: NaN below 0 and at NaN, -inf at ±0, +inf at +inf.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> LogEdges(Vector256<float> x, Vector256<float> y)
    {
        y = Sel(Vector256.LessThan(x, Vector256<float>.Zero), C(float.NaN), y);
        y = Sel(Vector256.Equals(x, Vector256<float>.Zero), C(float.NegativeInfinity), y);
        y = Sel(Vector256.Equals(x, C(float.PositiveInfinity)), x, y);
        return Sel(IsNaN(x), x, y);
    }

    /// <summary>Natural logarithm (NaN below 0, -inf at ±0, subnormals scaled first).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Log(Vector256<float> x)
    {
        var f = LogReduce(x, out var e, out var y);
        var z = f * f;
        y = Fma(e, C(Ln2Lo), y);
        y = Fma(C(-0.5f), z, y);
        y = f + y;
        y = Fma(e, C(Ln2Hi), y);
        return LogEdges(x, y);
    }

    /// <summary>log2 x = e + log(1 + f)·log2(e) with the exponent e added in the final FMA (exact at the powers of 2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Log2(Vector256<float> x)
    {
        var f = LogReduce(x, out var e, out var tail);
        var l = f + Fma(C(-0.5f), f * f, tail);
        return LogEdges(x, Fma(l, C(1.44269502f), e));
    }

    /// <summary>log10 x = e·log10(2) + log(1 + f)·log10(e), log10(2) split in two (e times the high part exact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Log10(Vector256<float> x)
    {
        var f = LogReduce(x, out var e, out var tail);
        var l = f + Fma(C(-0.5f), f * f, tail);
        return LogEdges(x, Fma(e, C(0.301025390625f), Fma(l, C(0.434294492f), e * C(4.60503907e-06f))));
    }

    /// <summary>log(1 + x) (Goldberg: log(u)·x/(u - 1) corrects the rounding of u = 1 + x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Log1p(Vector256<float> x)
    {
        var u = Vector256<float>.One + x;
        var y = Log(u) * (x / (u - Vector256<float>.One));
        y = Sel(Vector256.Equals(u, Vector256<float>.One), x, y);
        return Sel(Vector256.Equals(x, C(float.PositiveInfinity)), x, y);
    }

    // ---- hyperbolic and logistic -------------------------------------------------------------------

    /// <summary>sinh: x + x·t·P(t) (Taylor, t = x²) below 1, (e - 1/e)/2 with e = e^|x| above, (e^(|x|/2)/2)·e^(|x|/2) above 88.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sinh(Vector256<float> x)
    {
        var a = Vector256.Abs(x);
        var t = x * x;
        var p = C(1f / 6227020800);
        p = Fma(p, t, C(1f / 39916800));
        p = Fma(p, t, C(1f / 362880));
        p = Fma(p, t, C(1f / 5040));
        p = Fma(p, t, C(1f / 120));
        p = Fma(p, t, C(1f / 6));
        var small = Fma(x * t, p, x);
        var small1 = Vector256.LessThan(a, Vector256<float>.One);
        if (All(small1 | IsNaN(x))) return small;
        var e = Exp(a);
        var big = C(0.5f) * e - C(0.5f) / e;
        if (Vector256.GreaterThanAny(a, C(88f)))
        {
            var w = Exp(C(0.5f) * a);
            big = Sel(Vector256.GreaterThan(a, C(88f)), (C(0.5f) * w) * w, big);
        }
        return Sel(small1, small, CopySign(big, x));
    }

    /// <summary>cosh: (e + 1/e)/2 with e = e^|x|; (e^(|x|/2)/2)·e^(|x|/2) above 88.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Cosh(Vector256<float> x)
    {
        var a = Vector256.Abs(x);
        var e = Exp(a);
        var y = C(0.5f) * e + C(0.5f) / e;
        if (Vector256.GreaterThanAny(a, C(88f)))
        {
            var w = Exp(C(0.5f) * a);
            y = Sel(Vector256.GreaterThan(a, C(88f)), (C(0.5f) * w) * w, y);
        }
        return y;
    }

    /// <summary>tanh: x + x·t·P(t) below 0.625 (t = x², P a degree-5 Chebyshev fit, error 2e-9), 1 - 2/(e^2|x| + 1) with
    /// x's sign above.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Tanh(Vector256<float> x)
    {
        var a = Vector256.Abs(x);
        var t = x * x;
        var p = C(0.002292744816178142f);
        p = Fma(p, t, C(-0.008343945515839153f));
        p = Fma(p, t, C(0.02176891865102821f));
        p = Fma(p, t, C(-0.053959259577204544f));
        p = Fma(p, t, C(0.1333330355691574f));
        p = Fma(p, t, C(-0.3333333317214036f));
        var small = Fma(x * t, p, x);
        var isSmall = Vector256.LessThan(a, C(0.625f));
        if (All(isSmall | IsNaN(x))) return CopySign(small, x);
        var big = Vector256<float>.One - C(2f) / (Exp(a + a) + Vector256<float>.One);
        return CopySign(Sel(isSmall | IsNaN(x), small, big), x);   // the sign also for -0
    }

    /// <summary>The logistic sigmoid: 1/(1 + e) for x &gt;= 0, e/(1 + e) below, e = e^-|x| (no overflow; the left tail
    /// stays relative-accurate into the subnormals).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sigmoid(Vector256<float> x)
    {
        var e = Exp(-Vector256.Abs(x));
        var r = Vector256<float>.One / (Vector256<float>.One + e);
        return Sel(Vector256.LessThan(x, Vector256<float>.Zero), e * r, r);
    }

    /// <summary>asinh x = log1p(|x| + x²/(1 + √(1 + x²))) with x's sign; log|x| + log 2 above 2^12.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Asinh(Vector256<float> x)
    {
        var a = Vector256.Abs(x);
        var a2 = a * a;
        var y = Log1p(a + a2 / (Vector256<float>.One + Vector256.Sqrt(Vector256<float>.One + a2)));
        y = Sel(Vector256.GreaterThan(a, C(4096f)), Log(a) + C(0.6931471805599453f), y);
        return CopySign(y, x);
    }

    /// <summary>acosh x = log1p(t + √(2t + t²)), t = x - 1; log x + log 2 above 2^12; NaN below 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Acosh(Vector256<float> x)
    {
        var t = x - Vector256<float>.One;
        var y = Log1p(t + Vector256.Sqrt(t + t + t * t));
        y = Sel(Vector256.GreaterThan(x, C(4096f)), Log(x) + C(0.6931471805599453f), y);
        return Sel(Vector256.LessThan(x, Vector256<float>.One), C(float.NaN), y);
    }

    /// <summary>atanh x = log1p(2|x|/(1 - |x|))/2 with x's sign (±inf at ±1, NaN beyond).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Atanh(Vector256<float> x)
    {
        var a = Vector256.Abs(x);
        return CopySign(C(0.5f) * Log1p((a + a) / (Vector256<float>.One - a)), x);
    }

    // ---- inverse trigonometric -----------------------------------------------------------------------

    /// <summary>Σ c_k T_k(s) by Clenshaw's recurrence (coefficients rounded to float).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Clenshaw(ReadOnlySpan<float> c, Vector256<float> s)
    {
        Vector256<float> b1 = Vector256<float>.Zero, b2 = Vector256<float>.Zero, s2 = s + s;
        for (int k = c.Length - 1; k >= 1; k--)
        {
            var b0 = Fma(s2, b1, C(c[k]) - b2);
            b2 = b1;
            b1 = b0;
        }
        return Fma(s, b1, C(c[0]) - b2);
    }

    // the float64 kernel's series of (atan(x)/x - 1)/x² in s = 2x² - 1, cut where the terms fall below 1e-10
    private static ReadOnlySpan<float> AtanSeries =>
    [
        -0.266419987676776f, 0.05833432343172412f, -0.007400369696719647f, 0.0010097841993372881f, -0.00014397871635652055f,
        2.1145126489921075e-05f, -3.1723210742546673e-06f, 4.836620365460711e-07f, -7.467746546814113e-08f, 1.1648008968244299e-08f,
        -1.8320883708472015e-09f, 2.901908277966063e-10f,
    ];

    /// <summary>atan x: x + x·t·Q(t) on |x| &lt;= 1 (t = x²), π/2 - atan(1/|x|) above, x's sign.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Atan(Vector256<float> x)
    {
        var a = Vector256.Abs(x);
        var inv = Vector256.GreaterThan(a, Vector256<float>.One);
        var z = Sel(inv, Vector256<float>.One / a, a);
        var t = z * z;
        var r = Fma(z * t, Clenshaw(AtanSeries, t + t - Vector256<float>.One), z);
        r = Sel(inv, (C(1.5707963705062866f) - r) + C(-4.3711390001862426e-08f), r);
        return CopySign(r, x);
    }

    /// <summary>asin x = atan(x/√((1 - x)(1 + x))) (NaN outside [-1, 1]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Asin(Vector256<float> x) => Atan(x / Vector256.Sqrt((Vector256<float>.One - x) * (Vector256<float>.One + x)));

    /// <summary>acos x = 2·atan(√((1 - x)/(1 + x))) (NaN outside [-1, 1]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Acos(Vector256<float> x)
    {
        var r = Atan(Vector256.Sqrt((Vector256<float>.One - x) / (Vector256<float>.One + x)));
        return r + r;
    }

    /// <summary>atan2(y, x), the angle of (x, y) in (-π, π] with C's conventions at the signed zeros and infinities.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Atan2(Vector256<float> y, Vector256<float> x)
    {
        var ay = Vector256.Abs(y);
        var ax = Vector256.Abs(x);
        // first quadrant angle of (|x|, |y|): atan(min/max) (or π/2 - it), then reflected by the signs
        var swap = Vector256.GreaterThan(ay, ax);
        var num = Sel(swap, ax, ay);
        var den = Sel(swap, ay, ax);
        var q = num / den;
        // both infinite: the ratio is 1 (π/4); both zero: 0
        var bothInf = Vector256.Equals(ax, C(float.PositiveInfinity)) & Vector256.Equals(ay, C(float.PositiveInfinity));
        q = Sel(bothInf, Vector256<float>.One, q);
        q = Sel(Vector256.Equals(den, Vector256<float>.Zero), Vector256<float>.Zero, q);
        var t = q * q;
        var r = Fma(q * t, Clenshaw(AtanSeries, t + t - Vector256<float>.One), q);
        r = Sel(swap, (C(1.5707963705062866f) - r) + C(-4.3711390001862426e-08f), r);
        // x negative (sign bit set, -0 included): π - r
        var xneg = Vector256.LessThan(x.AsInt32(), Vector256<int>.Zero).AsSingle();
        r = Sel(xneg, (C(3.1415927410125732f) - r) + C(-8.742278000372485e-08f), r);
        r = CopySign(r, y);
        return Sel(IsNaN(x) | IsNaN(y), x + y, r);
    }

    // ---- error functions ---------------------------------------------------------------------------

    /// <summary>erf a for |a| &lt; 0.5: a·Σ c_n a^2n (Taylor, n = 0..8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ErfSmall(Vector256<float> a)
    {
        var t = a * a;
        var p = C(1.1283791670955126f / (40320f * 17));
        p = Fma(p, t, C(-1.1283791670955126f / (5040f * 15)));
        p = Fma(p, t, C(1.1283791670955126f / (720f * 13)));
        p = Fma(p, t, C(-1.1283791670955126f / (120f * 11)));
        p = Fma(p, t, C(1.1283791670955126f / (24f * 9)));
        p = Fma(p, t, C(-1.1283791670955126f / (6f * 7)));
        p = Fma(p, t, C(1.1283791670955126f / (2f * 5)));
        p = Fma(p, t, C(-1.1283791670955126f / 3));
        return Fma(a * t, p, a * C(1.1283791670955126f));
    }

    // the float64 kernel's Chebyshev series of (1 + 2x)·e^(x²)·erfc(x) in (x - 2)/(x + 2), cut below 1e-10
    private static ReadOnlySpan<float> ErfcxSeries =>
    [
        1.1760066555883004f, 0.025779673870048207f, -0.10659315067778503f, 0.03880887957448382f, -0.005414899930893725f,
        -0.00040815257282372384f, 0.00019843768248553527f, 9.842532776048127e-06f, -7.763265561062859e-06f, -7.174001457529682e-07f,
        3.140694955581843e-07f, 6.188423669546144e-08f, -9.890619934492214e-09f, -4.59539962251018e-09f, -7.180587728177086e-11f,
        2.6296183336364044e-10f, 4.867734056607904e-11f,
    ];

    /// <summary>erfc(a + lo) for a &gt;= 0.5 (finite or +inf; lo a tiny correction of the argument, 0 if none):
    /// e^(-(a + lo)²)·S(t)/(1 + 2a), with (a + lo)² split exactly into hi + rest (FMA).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ErfcLarge(Vector256<float> a, Vector256<float> lo)
    {
        var b = Vector256.Min(a, C(11f));   // erfc(11) underflows; keeps inf out of t
        var hi = b * b;
        var rest = Fma(b, b, -hi) + C(2f) * b * lo;
        var t = (b - C(2f)) / (b + C(2f));
        return Exp(-hi) * (Vector256<float>.One - rest) * Clenshaw(ErfcxSeries, t) / (Vector256<float>.One + b + b);
    }

    /// <summary>erf and erfc of a &gt;= 0 (finite or +inf, not NaN).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float> Erf, Vector256<float> Erfc) ErfPair(Vector256<float> a, Vector256<float> lo)
    {
        var small = Vector256.LessThan(a, C(0.5f));
        if (All(small)) { var e = ErfSmall(a); return (e, Vector256<float>.One - e); }
        var c = ErfcLarge(Sel(small, C(0.5f), a), lo);
        if (Vector256.ExtractMostSignificantBits(small) == 0) return (Vector256<float>.One - c, c);
        var es = ErfSmall(Sel(small, a, Vector256<float>.Zero));
        return (Sel(small, es, Vector256<float>.One - c), Sel(small, Vector256<float>.One - es, c));
    }

    /// <summary>The error function.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Erf(Vector256<float> x)
    {
        var (e, _) = ErfPair(Vector256.Abs(x), Vector256<float>.Zero);
        return Sel(IsNaN(x), x, CopySign(e, x));
    }

    /// <summary>The complementary error function (relative accuracy also deep in the tail).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Erfc(Vector256<float> x) => ErfcSplit(x, Vector256<float>.Zero);

    /// <summary>erfc(x + lo), lo a tiny correction of x (the rounding error of a product that produced x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ErfcSplit(Vector256<float> x, Vector256<float> lo)
    {
        var neg = Vector256.LessThan(x, Vector256<float>.Zero);
        var (e, c) = ErfPair(Vector256.Abs(x), Sel(neg, -lo, lo));
        return Sel(IsNaN(x), x, Sel(neg, Vector256<float>.One + e, c));
    }

    /// <summary>gelu(x) = x·erfc(-x/√2)/2, with -x/√2 carried as an exact two-float product (the left tail is relative-accurate).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Gelu(Vector256<float> x)
    {
        const float cHi = 0.7071067690849304f, cLo = 1.210161710447897e-08f;
        var a = x * C(-cHi);
        var lo = Fma(x, C(-cHi), -a) - x * C(cLo);
        lo = Sel(Vector256.LessThan(Vector256.Abs(x), C(16f)), lo, Vector256<float>.Zero);   // erfc's tail has underflowed there (and ±inf would give inf - inf)
        return C(0.5f) * x * ErfcSplit(a, lo);
    }

    /// <summary>The inverse error function: Giles' single-precision approximation (2010) and one Newton step on erf (on erfc
    /// for |y| &gt; 0.5, where 1 - |y| is exact); ±inf at ±1, NaN outside [-1, 1].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Erfinv(Vector256<float> y)
    {
        var ay = Vector256.Abs(y);
        var oneMinus = Vector256<float>.One - ay;
        var w = -Log(oneMinus * (Vector256<float>.One + ay));
        var central = Vector256.LessThan(w, C(5f));
        var w1 = w - C(2.5f);
        var p1 = C(2.81022636e-08f);
        p1 = Fma(p1, w1, C(3.43273939e-07f));
        p1 = Fma(p1, w1, C(-3.5233877e-06f));
        p1 = Fma(p1, w1, C(-4.39150654e-06f));
        p1 = Fma(p1, w1, C(0.00021858087f));
        p1 = Fma(p1, w1, C(-0.00125372503f));
        p1 = Fma(p1, w1, C(-0.00417768164f));
        p1 = Fma(p1, w1, C(0.246640727f));
        p1 = Fma(p1, w1, C(1.50140941f));
        var w2 = Vector256.Sqrt(w) - C(3f);
        var p2 = C(-0.000200214257f);
        p2 = Fma(p2, w2, C(0.000100950558f));
        p2 = Fma(p2, w2, C(0.00134934322f));
        p2 = Fma(p2, w2, C(-0.00367342844f));
        p2 = Fma(p2, w2, C(0.00573950773f));
        p2 = Fma(p2, w2, C(-0.0076224613f));
        p2 = Fma(p2, w2, C(0.00943887047f));
        p2 = Fma(p2, w2, C(1.00167406f));
        p2 = Fma(p2, w2, C(2.83297682f));
        var inside = Vector256.LessThan(ay, Vector256<float>.One);
        var x = Sel(inside, Sel(central, p1, p2) * ay, C(0.5f));
        // one Newton step: the guess is within 4e-7 relative, so the step leaves ~1e-13
        var (e, c) = ErfPair(x, Vector256<float>.Zero);
        var r = Sel(Vector256.LessThanOrEqual(ay, C(0.5f)), e - ay, oneMinus - c);
        var hi = x * x;
        var d = C(1.1283791670955126f) * Exp(-hi) * (Vector256<float>.One - Fma(x, x, -hi));
        x = Sel(Vector256.GreaterThan(ay, C(1e-30f)), x - r / d, ay * C(0.886226925452758f));   // erfinv y = (√π/2)·y + O(y³)
        x = Sel(inside, x, Sel(Vector256.Equals(ay, Vector256<float>.One), C(float.PositiveInfinity), C(float.NaN)));
        x = Sel(Vector256.Equals(ay, Vector256<float>.Zero), Vector256<float>.Zero, x);
        return CopySign(x, y);
    }

    // ---- activations (one pass each; the nn entries' eager kernels and register formulas) ------------

    /// <summary>x·e^x rounded once (the product taken on e^x's mantissa, then scaled): the left tails of silu and mish,
    /// where e^x is subnormal and x·e^x rounded twice would lose up to |x| ulps.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> XExp(Vector256<float> x)
    {
        var r = Reduce(x, out var n);
        return Scale(x * (Vector256<float>.One + Expm1Poly(r)), n);
    }

    /// <summary>SiLU x·σ(x) (σ as <see cref="Sigmoid"/>; x·e^x rounded once below -80).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Silu(Vector256<float> x)
    {
        var y = Sel(IsNaN(x), x, x * Sigmoid(x));   // NaN passes as it is (the same bits inlined or not)
        if (!Vector256.LessThanAny(x, C(-80f))) return y;
        return Sel(Vector256.LessThan(x, C(-80f)) & Vector256.GreaterThan(x, C(-110f)), XExp(x), y);
    }

    /// <summary>Mish x·tanh(softplus x) with tanh(log(1 + e)) = n/(n + 2), n = e·(e + 2), e = e^min(x, 10) (exactly 1
    /// from 10 on in float; relative-accurate in the left tail, no cancellation; x·e^x rounded once below -80).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Mish(Vector256<float> x)
    {
        var e = Exp(Vector256.Min(x, C(10f)));
        var n = e * (e + C(2f));
        var y = Sel(IsNaN(x), x, x * (n / (n + C(2f))));
        if (!Vector256.LessThanAny(x, C(-80f))) return y;
        return Sel(Vector256.LessThan(x, C(-80f)) & Vector256.GreaterThan(x, C(-110f)), XExp(x), y);
    }

    /// <summary>Softsign x/(1 + |x|).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Softsign(Vector256<float> x) => Sel(IsNaN(x), x, x / (Vector256<float>.One + Vector256.Abs(x)));

    // Chebyshev series in s = 2t - 1 of (tanh x - x)/x³, t = x² on [0, 1] (9 terms, relative error 5e-10)
    private static ReadOnlySpan<float> TanhshrinkSeries =>
    [
        -0.28184888577495626f, 0.04712263867721852f, -0.003991759006663984f, 0.000338649928135179f, -2.8735498984766573e-05f,
        2.43835463008546e-06f, -2.0690754783669884e-07f, 1.7557228887410402e-08f, -1.4898261541107516e-09f,
    ];

    /// <summary>Tanhshrink x - tanh x without cancellation: -x·t·Q(t) (t = x², Q the series of (tanh x - x)/x³) below 1;
    /// (|x| - 1) + 2/(e^2|x| + 1) with x's sign from 1 on (both terms non-negative; |x| - 1 exact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Tanhshrink(Vector256<float> x)
    {
        var a = Vector256.Abs(x);
        var t = x * x;
        var small = Sel(IsNaN(x), x, -(x * t) * Clenshaw(TanhshrinkSeries, t + t - Vector256<float>.One));
        var isSmall = Vector256.LessThan(a, Vector256<float>.One) | IsNaN(x);
        if (All(isSmall)) return small;
        var big = CopySign((a - Vector256<float>.One) + C(2f) / (Exp(a + a) + Vector256<float>.One), x);
        return Sel(isSmall, small, big);
    }

    /// <summary>log σ(x) = min(x, 0) - log1p(e^-|x|) (PyTorch's formula; no overflow).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LogSigmoid(Vector256<float> x)
    {
        var m = Sel(Vector256.LessThan(x, Vector256<float>.Zero), x, Vector256<float>.Zero);
        return Sel(IsNaN(x), x, m - Log1p(Exp(-Vector256.Abs(x))));
    }

    /// <summary>PyTorch's elu family: x ≤ 0 ? negCoef·expm1(x·inScale) : posCoef·x (NaN takes the second branch). ELU is
    /// (α, 1, 1), SELU (scale·α, scale, 1), CELU (α, 1, 1/α).</summary>
    internal readonly struct Elu(float negCoef, float posCoef, float inScale) : IVecOp32
    {
        /// <inheritdoc/>
        public Vector256<float> Eval(Vector256<float> x) =>
            Sel(Vector256.LessThanOrEqual(x, Vector256<float>.Zero), Expm1(x * C(inScale)) * C(negCoef), x * C(posCoef));
    }

    /// <summary>logit log(z/(1 - z)) with z = x clamped to [lo, hi] when <paramref name="clamp"/> (NaN passes), as PyTorch.
    /// From z = 1/4 on as log1p(w), w = (2z - 1)/(1 - z) (2z - 1 exact there; Goldberg's correction, one log): no
    /// cancellation around z = 1/2, where log of the rounded quotient would lose all digits.</summary>
    internal readonly struct Logit(float lo, float hi, bool clamp) : IVecOp32
    {
        /// <inheritdoc/>
        public Vector256<float> Eval(Vector256<float> x)
        {
            var z = clamp ? Sel(Vector256.LessThan(x, C(lo)), C(lo), Sel(Vector256.GreaterThan(x, C(hi)), C(hi), x)) : x;
            var den = Vector256<float>.One - z;
            var upper = Vector256.GreaterThanOrEqual(z, C(0.25f));
            var w = (z + z - Vector256<float>.One) / den;
            var u = Sel(upper, Vector256<float>.One + w, z / den);
            var l = Log(u);
            var y = Sel(upper, l * (w / (u - Vector256<float>.One)), l);
            y = Sel(upper & Vector256.Equals(u, Vector256<float>.One), w, y);
            return Sel(Vector256.Equals(w, C(float.PositiveInfinity)), w, y);
        }
    }

    /// <summary>logaddexp log(e^a + e^b) = max + log1p(e^-|a - b|) (PyTorch's formula), evaluated in double lanes and
    /// rounded once (in float the sum cancels where the result is near 0); ±inf when both are that infinity, NaN if either is NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LogAddExp(Vector256<float> a, Vector256<float> b) => LogAddExpVia(a, b, false);

    /// <summary>logaddexp2 log2(2^a + 2^b) = max + log1p(2^-|a - b|)/ln 2 (as <see cref="LogAddExp"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LogAddExp2(Vector256<float> a, Vector256<float> b) => LogAddExpVia(a, b, true);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> LogAddExpVia(Vector256<float> a, Vector256<float> b, bool base2)
    {
        var (alo, ahi) = Vector256.Widen(a);
        var (blo, bhi) = Vector256.Widen(b);
        var y = Vector256.Narrow(VecMath.LogAddExp(alo, blo, base2), VecMath.LogAddExp(ahi, bhi, base2));
        y = Sel(Vector256.Equals(a, b) & Vector256.Equals(Vector256.Abs(a), C(float.PositiveInfinity)), a, y);
        return Sel(IsNaN(a) | IsNaN(b), a + b, y);
    }

    /// <summary>y = f(x) on float32 spans for a parameterized lane function (<see cref="Map{F}"/>'s layout and threads).</summary>
    public static unsafe void MapWith<F>(ReadOnlySpan<float> x, Span<float> y, F f) where F : struct, IVecOp32
    {
        int n = y.Length;
        if (n >= VecMath.ParallelMin && Parallelism.Available > 1)
        {
            fixed (float* px = x, py = y)
            {
                nint ax = (nint)px, ay = (nint)py;
                Parallelism.For(n, n, VecMath.ParallelMin, (s, e) => MapSerialWith(new ReadOnlySpan<float>((float*)ax + s, e - s), new Span<float>((float*)ay + s, e - s), f));
            }
            return;
        }
        MapSerialWith(x, y, f);
    }

    private static void MapSerialWith<F>(ReadOnlySpan<float> x, Span<float> y, F f) where F : struct, IVecOp32
    {
        int n = y.Length;
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        if (n < 8)
        {
            if (n == 0) return;
            Span<float> buf = stackalloc float[8];
            buf.Clear();
            x.CopyTo(buf);
            f.Eval(Vector256.Create((ReadOnlySpan<float>)buf)).CopyTo(buf);
            buf[..n].CopyTo(y);
            return;
        }
        var last = Vector256.LoadUnsafe(ref xr, (nuint)(n - 8));
        int i = 0;
        for (; i + 8 <= n; i += 8) f.Eval(Vector256.LoadUnsafe(ref xr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
        if (i < n) f.Eval(last).StoreUnsafe(ref yr, (nuint)(n - 8));
    }

    // ---- IVecFunc32 adapters (one struct per function, for the generic drivers) ----

    internal struct ExpF : IVecFunc32 { public static Vector256<float> Eval(Vector256<float> x) => Exp(x); }
    internal struct Expm1F : IVecFunc32 { public static Vector256<float> Eval(Vector256<float> x) => Expm1(x); }
    internal struct Exp2F : IVecFunc32 { public static Vector256<float> Eval(Vector256<float> x) => Exp2(x); }
    internal struct LogF : IVecFunc32 { public static Vector256<float> Eval(Vector256<float> x) => Log(x); }
    internal struct Log2F : IVecFunc32 { public static Vector256<float> Eval(Vector256<float> x) => Log2(x); }
    internal struct Log10F : IVecFunc32 { public static Vector256<float> Eval(Vector256<float> x) => Log10(x); }
    internal struct Log1pF : IVecFunc32 { public static Vector256<float> Eval(Vector256<float> x) => Log1p(x); }
    internal struct SinhF : IVecFunc32 { public static Vector256<float> Eval(Vector256<float> x) => Sinh(x); }
    internal struct CoshF : IVecFunc32 { public static Vector256<float> Eval(Vector256<float> x) => Cosh(x); }
    internal struct TanhF : IVecFunc32 { public static Vector256<float> Eval(Vector256<float> x) => Tanh(x); }
    internal struct SigmoidF : IVecFunc32 { public static Vector256<float> Eval(Vector256<float> x) => Sigmoid(x); }
    internal struct AsinhF : IVecFunc32 { public static Vector256<float> Eval(Vector256<float> x) => Asinh(x); }
    internal struct AcoshF : IVecFunc32 { public static Vector256<float> Eval(Vector256<float> x) => Acosh(x); }
    internal struct AtanhF : IVecFunc32 { public static Vector256<float> Eval(Vector256<float> x) => Atanh(x); }
    internal struct AtanF : IVecFunc32 { public static Vector256<float> Eval(Vector256<float> x) => Atan(x); }
    internal struct AsinF : IVecFunc32 { public static Vector256<float> Eval(Vector256<float> x) => Asin(x); }
    internal struct AcosF : IVecFunc32 { public static Vector256<float> Eval(Vector256<float> x) => Acos(x); }
    internal struct ErfF : IVecFunc32 { public static Vector256<float> Eval(Vector256<float> x) => Erf(x); }
    internal struct ErfcF : IVecFunc32 { public static Vector256<float> Eval(Vector256<float> x) => Erfc(x); }
    internal struct ErfinvF : IVecFunc32 { public static Vector256<float> Eval(Vector256<float> x) => Erfinv(x); }
    internal struct GeluF : IVecFunc32 { public static Vector256<float> Eval(Vector256<float> x) => Gelu(x); }
    internal struct SiluF : IVecFunc32 { public static Vector256<float> Eval(Vector256<float> x) => Silu(x); }
    internal struct MishF : IVecFunc32 { public static Vector256<float> Eval(Vector256<float> x) => Mish(x); }
    internal struct SoftsignF : IVecFunc32 { public static Vector256<float> Eval(Vector256<float> x) => Softsign(x); }
    internal struct TanhshrinkF : IVecFunc32 { public static Vector256<float> Eval(Vector256<float> x) => Tanhshrink(x); }
    internal struct LogSigmoidF : IVecFunc32 { public static Vector256<float> Eval(Vector256<float> x) => LogSigmoid(x); }
    internal struct LogAddExpF : IVecFunc32x2 { public static Vector256<float> Eval(Vector256<float> a, Vector256<float> b) => LogAddExp(a, b); }
    internal struct LogAddExp2F : IVecFunc32x2 { public static Vector256<float> Eval(Vector256<float> a, Vector256<float> b) => LogAddExp2(a, b); }
    internal struct Atan2F : IVecFunc32x2 { public static Vector256<float> Eval(Vector256<float> y, Vector256<float> x) => Atan2(y, x); }
}

/// <summary>A unary function on 8 float32 lanes with parameters (its fields): <see cref="VecMath32.MapWith{F}"/>.</summary>
internal interface IVecOp32
{
    /// <summary>f on each lane.</summary>
    Vector256<float> Eval(Vector256<float> x);
}

/// <summary>A binary function on 8 float32 lanes (<see cref="VecMath32.Map2{F}"/>).</summary>
internal interface IVecFunc32x2
{
    /// <summary>f on each pair of lanes.</summary>
    static abstract Vector256<float> Eval(Vector256<float> a, Vector256<float> b);
}
