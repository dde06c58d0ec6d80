namespace Fluxion.Kernels;

/// <summary>
/// Scalar special functions in float64 (float32 kernels evaluate them in double and round once), accurate to a
/// few ulps except where the function itself is ill-conditioned (near the zeros of lgamma and digamma on the
/// negative axis). Edge values follow PyTorch (which follows C's libm): lgamma(0) = +inf, digamma(±0) = ∓inf,
/// digamma at negative integers = NaN, erfinv(±1) = ±inf.
/// <para>The tables are values computed to 50 digits with mpmath and rounded to double.</para>
/// </summary>
internal static class Special
{
    private const double TwoOverSqrtPi = 1.1283791670955126;   // 2/√π
    private const double InvSqrtPi = 0.5641895835477563;       // 1/√π
    private const double EulerGamma = 0.5772156649015329;      // γ

    // ---- log1p / expm1 (.NET's double.LogP1 and ExpM1 are log(1 + x) and exp(x) - 1, inaccurate near 0) ----

    /// <summary>log(1 + x), accurate for small x (Goldberg's trick: the rounding of 1 + x is corrected for).</summary>
    public static double Log1p(double x)
    {
        double u = 1.0 + x;
        if (u == 1.0) return x;                 // also keeps -0
        if (double.IsPositiveInfinity(x)) return x;
        return Math.Log(u) * (x / (u - 1.0));   // log(u) is exact up to rounding, x/(u-1) corrects u's rounding
    }

    /// <summary>e^x - 1, accurate for small x (Kahan's trick).</summary>
    public static double Expm1(double x)
    {
        if (x == 0) return x;                   // keeps -0
        if (Math.Abs(x) < 1e-5) return x + x * x * (0.5 + x * (1.0 / 6 + x / 24)); // the trick's log(u) loses accuracy there
        double u = Math.Exp(x);
        if (u == 1.0) return x;
        double um1 = u - 1.0;
        if (um1 == -1.0 || double.IsPositiveInfinity(u)) return um1;
        return um1 * (x / Math.Log(u));
    }

    // ---- tanh (issue 16) ----

    /// <summary>tanh in float64: Math.Tanh (libm). TensorPrimitives.Tanh has relative errors of ~4e-9 near 1e-8, returns
    /// -0 or worse below 1e-18 (tanh(1e-300) came out negative) and is off by 5 to 70 ulps for 1e-2 &lt; |x| &lt; 0.6.</summary>
    public static void Tanh(ReadOnlySpan<double> x, Span<double> y)
    {
        for (int i = 0; i < y.Length; i++) y[i] = Math.Tanh(x[i]);
    }

    /// <summary>tanh in float32 on the calling thread: the register formula <see cref="VecMath32.Tanh"/> (float lanes, within
    /// 2 ulps) over the span, the same bits as the eager op and the compiled fused loops.</summary>
    public static void Tanh(ReadOnlySpan<float> x, Span<float> y) => VecMath32.MapSerial<VecMath32.TanhF>(x, y);

    /// <summary>Math.Tanh on each of the 4 lanes: the float64 kernel's formula as a register formula (compiled fused loops).</summary>
    internal static System.Runtime.Intrinsics.Vector256<double> Tanh(System.Runtime.Intrinsics.Vector256<double> x) =>
        System.Runtime.Intrinsics.Vector256.Create(Math.Tanh(System.Runtime.Intrinsics.Vector256.GetElement(x, 0)), Math.Tanh(System.Runtime.Intrinsics.Vector256.GetElement(x, 1)), Math.Tanh(System.Runtime.Intrinsics.Vector256.GetElement(x, 2)), Math.Tanh(System.Runtime.Intrinsics.Vector256.GetElement(x, 3)));

    // ---- trigonometric helpers with exact argument reduction ----

    /// <summary>sin(πx), with x reduced exactly modulo 2 first (so sinpi of an integer is exactly ±0).</summary>
    public static double SinPi(double x)
    {
        double r = Math.IEEERemainder(x, 2.0);  // exact, in [-1, 1]
        if (r > 0.5) r = 1.0 - r;               // sin(π(1 - r)) = sin(πr); 1 - r exact here
        else if (r < -0.5) r = -1.0 - r;
        return Math.Sin(Math.PI * r);
    }

    /// <summary>tan(πx), with x reduced exactly modulo 1 first.</summary>
    public static double TanPi(double x) => Math.Tan(Math.PI * (x - Math.Round(x)));

    /// <summary>sin(πx)/(πx), 1 at 0 (PyTorch's normalized sinc; sin(πx) with exact reduction, so it is accurate
    /// near the integers too, where PyTorch's sin(fl(πx)) loses digits).</summary>
    public static double Sinc(double x)
    {
        if (x == 0) return 1.0;
        if (double.IsInfinity(x)) return double.NaN; // as sin(inf)/inf
        return SinPi(x) / (Math.PI * x);
    }

    // ---- error functions ----

    /// <summary>erf(x) by its power series for |x| &lt; 0.5 (all terms positive; used where erfc = 1 - erf loses nothing).</summary>
    private static double ErfSmall(double ax)
    {
        double x2 = ax * ax, term = ax, sum = ax;
        for (int n = 1; n < 60; n++)
        {
            term *= 2 * x2 / (2 * n + 1);
            sum += term;
            if (term < sum * 1e-17) break;
        }
        return TwoOverSqrtPi * Math.Exp(-x2) * sum;
    }

    /// <summary>The error function, to about an ulp: its series below |x| = 0.5, 1 - erfc(|x|) above.</summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return x;
        double ax = Math.Abs(x);
        double r = ax < 0.5 ? ErfSmall(ax) : 1.0 - ErfcPositive(ax);
        return double.IsNegative(x) ? -r : r;
    }

    /// <summary>e^(-x²) to about an ulp: x = h + l with h a multiple of 1/16 (so h² is exact), e^(-h²)·e^(-l(x + h)).</summary>
    internal static double ExpMinusSquare(double x)
    {
        x = Math.Abs(x);
        if (x > 40) return 0;
        double h = Math.Floor(x * 16) / 16, l = x - h;
        return Math.Exp(-h * h) * Math.Exp(-l * (x + h));
    }

    // erfc(k/8), k = 0..40: the expansion points of erfc's Taylor series on [0.5, 5)
    private static readonly double[] s_erfcTable =
    [
        1.0, 0.8596837951986662, 0.7236736098317631, 0.5958830905651777, 0.4795001221869535, 0.376759117811582,
        0.28884436634648486, 0.21592493894014034, 0.15729920705028513, 0.11161176829829224, 0.07709987174354177,
        0.051829927217909674, 0.033894853524689274, 0.021556266760016336, 0.013328328780817557, 0.00800994232988003,
        0.004677734981047266, 0.0026540293594823415, 0.0014627165866811518, 0.0007829382178911192, 0.0004069520174449589,
        0.00020537573614121745, 0.00010062192211963683, 4.785483974377341e-05, 2.209049699858544e-05, 9.89673462524562e-06,
        4.302779463675122e-06, 1.8152814274403558e-06, 7.430983723414128e-07, 2.951401925115699e-07, 1.1372725656979665e-07,
        4.2513944082491124e-08, 1.541725790028002e-08, 5.423400799565066e-09, 1.8505741373867425e-09, 6.12483295356936e-10,
        1.9661604415428876e-10, 6.121610513034226e-11, 1.8485047721485312e-11, 5.413406466297941e-12, 1.537459794428035e-12,
    ];

    /// <summary>The complementary error function 1 - erf(x), accurate to a few ulps relative (also deep in the tail,
    /// where 1 - erf(x) would be 0): series for |x| &lt; 0.5, a Taylor expansion about the nearest k/8 on [0.5, 5),
    /// Laplace's continued fraction (evaluated backward) above.</summary>
    public static double Erfc(double x)
    {
        if (double.IsNaN(x)) return x;
        if (x < 0) return 2.0 - ErfcPositive(-x);
        return ErfcPositive(x);
    }

    private static double ErfcPositive(double x)
    {
        if (x < 0.5) return 1.0 - ErfSmall(x);
        if (x < 5)
        {
            // erfc(x0 + h) = erfc(x0) - (2/√π) Σ_k b_k h^(k+1)/(k+1), with b_k the Taylor coefficients of
            // e^(-x²) about x0: b_0 = e^(-x0²), b_1 = -2·x0·b_0, (k+1)·b_(k+1) = -2(x0·b_k + b_(k-1))
            int k = (int)Math.Round(x * 8);
            double x0 = k / 8.0, h = x - x0;
            double bPrev = ExpMinusSquare(x0), b = -2 * x0 * bPrev;
            double s = s_erfcTable[k] - TwoOverSqrtPi * bPrev * h, hp = h;
            for (int n = 1; n < 40; n++)
            {
                hp *= h;
                double t = -TwoOverSqrtPi * b / (n + 1) * hp;
                s += t;
                if (Math.Abs(t) <= Math.Abs(s) * 1e-17) break;
                double next = -2 * (x0 * b + bPrev) / (n + 1);
                bPrev = b;
                b = next;
            }
            return s;
        }
        if (x > 27.3) return 0; // below the smallest subnormal
        // erfc(x) = e^(-x²)/√π / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), 30 levels suffice for x >= 5
        double f = x;
        for (int n = 30; n >= 1; n--) f = x + n * 0.5 / f;
        return ExpMinusSquare(x) * InvSqrtPi / f;
    }

    /// <summary>The inverse error function on [-1, 1] (±inf at ±1, NaN outside): Winitzki's closed-form
    /// approximation (about 1e-3) refined by Halley steps on erf (erfc for |y| &gt; 0.5, where 1 - |y| is exact).</summary>
    public static double Erfinv(double y)
    {
        if (double.IsNaN(y) || Math.Abs(y) > 1) return double.NaN;
        if (y == 0) return y;
        if (Math.Abs(y) == 1) return y * double.PositiveInfinity;
        double ay = Math.Abs(y);
        const double a = 0.147;
        double l = Math.Log((1 - ay) * (1 + ay));
        double c = 2 / (Math.PI * a) + l / 2;
        double x = Math.Sqrt(Math.Max(0, Math.Sqrt(c * c - l / a) - c));
        for (int it = 0; it < 6; it++)
        {
            double r = ay <= 0.5 ? ErfSmallOrSeries(x) - ay : (1 - ay) - ErfcPositive(x);
            double dx = r / (TwoOverSqrtPi * ExpMinusSquare(x));
            double xn = x - dx / (1 + x * dx);   // Halley: f''/f' = -2x for f = erf
            if (xn == x || double.IsNaN(xn)) break;
            x = xn;
        }
        return y < 0 ? -x : x;
    }

    private static double ErfSmallOrSeries(double x) => x < 0.5 ? ErfSmall(x) : 1.0 - ErfcPositive(x);

    // ---- gamma family ----

    // c_k = (-1)^k (ζ(k) - 1)/k, k = 2..41: lgamma(2 + z) = (1 - γ) z + Σ c_k z^k (converges for |z| < 2)
    private static readonly double[] s_lgammaAt2 =
    [
        0.3224670334241132, -0.0673523010531981, 0.020580808427784546, -0.007385551028673986, 0.0028905103307415234,
        -0.001192753911703261, 0.0005096695247430425, -0.00022315475845357939, 9.945751278180853e-05, -4.492623673813314e-05,
        2.050721277567069e-05, -9.439488275268397e-06, 4.374866789907488e-06, -2.039215753801366e-06, 9.55141213040742e-07,
        -4.492469198764566e-07, 2.1207184805554665e-07, -1.0043224823968099e-07, 4.7698101693639804e-08, -2.2711094608943164e-08,
        1.0838659214896955e-08, -5.183475041970047e-09, 2.4836745438024785e-09, -1.1921401405860912e-09, 5.731367241678862e-10,
        -2.7595228851242334e-10, 1.330476437424449e-10, -6.4229645638381e-11, 3.1044247747322276e-11, -1.5021384080754142e-11,
        7.275974480239079e-12, -3.527742476575915e-12, 1.711991790559618e-12, -8.315385841420285e-13, 4.04220052528944e-13,
        -1.9664756310966165e-13, 9.573630387838556e-14, -4.6640760264283744e-14, 2.2737369600659724e-14, -1.1091399470834522e-14,
    ];

    // B_2k for the Stirling and digamma asymptotic series
    private static readonly double[] s_bernoulli =
        [1.0 / 6, -1.0 / 30, 1.0 / 42, -1.0 / 30, 5.0 / 66, -691.0 / 2730, 7.0 / 6, -3617.0 / 510, 43867.0 / 798, -174611.0 / 330];

    /// <summary>lgamma(2 + z) for |z| &lt;= 0.5 (its series; terms fall like 4^-k).</summary>
    private static double LgammaNear2(double z)
    {
        double s = 0;
        for (int k = s_lgammaAt2.Length - 1; k >= 0; k--) s = (s + s_lgammaAt2[k]) * z;
        return z * ((1 - EulerGamma) + s);
    }

    /// <summary>log|Γ(x)|: +inf at 0, the negative integers and ±inf; NaN for NaN.</summary>
    public static double Lgamma(double x)
    {
        if (double.IsNaN(x)) return x;
        if (double.IsInfinity(x)) return double.PositiveInfinity;
        if (x <= 0 && x == Math.Floor(x)) return double.PositiveInfinity;
        double ax = Math.Abs(x);
        if (ax < 1.0 / (1L << 60)) return -Math.Log(ax);
        if (x < -0.5) return Math.Log(Math.PI / Math.Abs(SinPi(x))) - Lgamma(1 - x); // reflection
        if (x < 0.5) return LgammaNear2(x) - Math.Log(ax) - Log1p(x);                // Γ(x) = Γ(x + 2)/(x(x + 1))
        if (x < 1.5) return LgammaNear2(x - 1) - Log1p(x - 1);                       // Γ(x) = Γ(x + 1)/x
        if (x < 2.5) return LgammaNear2(x - 2);
        if (x < 12)
        {
            double p = 1;
            while (x >= 2.5) { x -= 1; p *= x; }                                       // exact subtractions
            return Math.Log(p) + LgammaNear2(x - 2);
        }
        // Stirling: (x - 1/2) log x - x + log(2π)/2 + Σ B_2k / (2k(2k - 1) x^(2k-1))
        double ix = 1 / x, ix2 = ix * ix, s = 0;
        for (int k = 8; k >= 1; k--) s = s * ix2 + s_bernoulli[k - 1] / (2 * k * (2 * k - 1));
        return (x - 0.5) * (Math.Log(x) - 1) + (0.9189385332046728 - 0.5) + s * ix;
    }

    // the positive zero of digamma (hi + lo) and ψ^(k)(x0)/k! = (-1)^(k+1) ζ(k + 1, x0), k = 1..39
    private const double DigammaRootHi = 1.4616321449683622, DigammaRootLo = 9.549995429965697e-17;
    private static readonly double[] s_digammaAtRoot =
    [
        0.9676722454476212, -0.4427631689835921, 0.258499760955651, -0.16394270544240652, 0.10782405069126237,
        -0.07219956125645471, 0.04880428816414311, -0.03316112647484736, 0.022597648232218104, -0.01542476590494896,
        0.010538791616612175, -0.007204534386356869, 0.004926781395729853, -0.003369801655439328, 0.002305126326734928,
        -0.0015769367714301972, 0.0010788252019162967, -0.0007380709389960052, 0.000504953265834602, -0.0003454680251063077,
        0.00023635601564027053, -0.00016170622091974803, 0.0001106337276874741, -7.569179582195066e-05, 5.178575795222081e-05,
        -3.5430070947659604e-05, 2.424006611860132e-05, -1.6584242271854135e-05, 1.134638458466385e-05, -7.762817668462094e-06,
        5.3110609208898636e-06, -3.6336507898010456e-06, 2.486022733129538e-06, -1.7008538854332607e-06, 1.1636675363548843e-06,
        -7.96142543124197e-07, 5.446941930669446e-07, -3.7266161283438227e-07, 2.549626552021554e-07,
    ];

    /// <summary>The digamma function ψ(x) = Γ'(x)/Γ(x), as PyTorch: -inf at +0, +inf at -0, NaN at the negative integers
    /// and -inf, +inf at +inf. On [1, 2) a Taylor series about its positive zero keeps full relative accuracy there;
    /// below, ψ(x) = ψ(x + 1) - 1/x, up to 10 the recurrence down to [1, 2), above the asymptotic series.</summary>
    public static double Digamma(double x)
    {
        if (double.IsNaN(x)) return x;
        if (x == 0) return double.IsNegative(x) ? double.PositiveInfinity : double.NegativeInfinity;
        if (double.IsPositiveInfinity(x)) return x;
        if (x < 0)
        {
            if (x == Math.Floor(x)) return double.NaN;
            return Digamma(1 - x) - Math.PI / TanPi(x);  // reflection ψ(1 - x) - ψ(x) = π cot(πx)
        }
        if (x < 1) return Digamma(x + 1) - 1 / x;           // ψ(x + 1) in [-γ, 0.42], -1/x <= -1: no cancellation
        if (x < 2)
        {
            double h = (x - DigammaRootHi) - DigammaRootLo;  // |h| <= 0.54, the series falls like (h/x0)^k
            double s = 0;
            for (int k = s_digammaAtRoot.Length - 1; k >= 0; k--) s = (s + s_digammaAtRoot[k]) * h;
            return s;
        }
        if (x < 10)
        {
            // ψ(x) = ψ(x - n) + Σ 1/(x - k), x - n in [1, 2) (exact): positive terms added to ψ(x - n), small first
            int n = (int)x - 1;
            double r = 0;
            for (int k = n; k >= 1; k--) r += 1 / (x - k);
            return Digamma(x - n) + r;
        }
        // ψ(x) = log x - 1/(2x) - Σ B_2k / (2k x^(2k))
        double ix2 = 1 / (x * x), t = 0;
        for (int k = 8; k >= 1; k--) t = t * ix2 + s_bernoulli[k - 1] / (2 * k);
        return Math.Log(x) - 0.5 / x - t * ix2;
    }

    /// <summary>The Hurwitz zeta function ζ(s, q) = Σ_k (q + k)^-s for an integer s &gt;= 2 (any real q but the poles
    /// q = 0, -1, -2, ..., where it is +inf): direct sum up to q + N >= 10, then Euler–Maclaurin.</summary>
    public static double HurwitzZeta(int s, double q)
    {
        if (double.IsNaN(q) || double.IsNegativeInfinity(q)) return double.NaN;
        if (double.IsPositiveInfinity(q)) return 0;
        if (q <= 0 && q == Math.Floor(q)) return double.PositiveInfinity;
        int n = q < 10 ? (int)Math.Min(Math.Ceiling(10 - q), 1 << 24) : 0;
        double sum = 0;
        for (int k = 0; k < n; k++) sum += Math.Pow(q + k, -s);
        double a = q + n;
        sum += Math.Pow(a, 1 - s) / (s - 1) + 0.5 * Math.Pow(a, -s);
        // Σ_j B_2j/(2j)! · s(s+1)···(s+2j-2) · a^(-s-2j+1)
        double t = s / 2.0 * Math.Pow(a, -s - 1), ia2 = 1 / (a * a);
        for (int j = 1; j <= s_bernoulli.Length; j++)
        {
            double term = s_bernoulli[j - 1] * t;
            sum += term;
            if (Math.Abs(term) <= Math.Abs(sum) * 1e-17) break;
            t *= (double)(s + 2 * j - 1) * (s + 2 * j) / ((2 * j + 1) * (2 * j + 2)) * ia2;
        }
        return sum;
    }

    /// <summary>The polygamma function ψ^(n)(x), the n-th derivative of digamma (n = 0 is digamma):
    /// (-1)^(n+1) n! ζ(n + 1, x) for n &gt;= 1.</summary>
    public static double Polygamma(int n, double x)
    {
        if (n == 0) return Digamma(x);
        double f = 1;
        for (int k = 2; k <= n; k++) f *= k;
        return (n % 2 == 1 ? f : -f) * HurwitzZeta(n + 1, x);
    }

    // ---- float32 forms (evaluated in double, rounded once) ----

    /// <summary>Applies <paramref name="f"/> elementwise (on the available threads for large spans).</summary>
    public static void Map(ReadOnlySpan<double> x, Span<double> y, Func<double, double> f) => VecMath.Chunked(x, y, (xs, ys) =>
    {
        for (int i = 0; i < ys.Length; i++) ys[i] = f(xs[i]);
    });

    /// <summary>Applies <paramref name="f"/> elementwise in double precision (on the available threads for large spans).</summary>
    public static void Map(ReadOnlySpan<float> x, Span<float> y, Func<double, double> f) => VecMath.Chunked(x, y, (xs, ys) =>
    {
        for (int i = 0; i < ys.Length; i++) ys[i] = (float)f(xs[i]);
    });
}
