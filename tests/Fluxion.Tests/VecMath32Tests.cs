using System.Runtime.Intrinsics;
using Fluxion.Kernels;

namespace Fluxion.Tests;

/// <summary>
/// The float32-native kernels of Kernels.VecMath32 against double-precision references (Math.*, Kernels.Special,
/// glibc-accurate) on a dense sweep: about a million float bit patterns spread evenly over the whole float line (every
/// binade, subnormals, ±0, ±inf and NaN included) plus the domain edges. The maximum error is asserted in float32 ulps of
/// the exact value (subnormal results: ulps of the smallest subnormal).
/// </summary>
public class VecMath32Tests
{
    /// <summary>The sweep: bit patterns k·4093 (mod 2^32) and the edge values.</summary>
    private static float[] Sweep()
    {
        var xs = new List<float>
        {
            0f, -0f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, 1f, -1f, 0.5f, -0.5f, float.Epsilon, -float.Epsilon,
            1.17549435e-38f, -1.17549435e-38f, float.MaxValue, float.MinValue, 88.72283f, 88.72284f, -87.33654f, -103.97f, -104f,
            0.99999994f, -0.99999994f, 1.0000001f, 0.625f, -0.625f, 0.62499994f, 128f, 127.99999f, -149f, -150f, 9f, 10f, 11f,
            3.8f, -3.8f, 0.347f, 0.3466f, 89f, 60f, 40f, 4096f, 4097f, 1e-30f, 2e-30f,
        };
        for (long k = 0; k < (1L << 32); k += 4093) xs.Add(BitConverter.UInt32BitsToSingle((uint)k));
        return [.. xs];
    }

    private static readonly float[] s_sweep = Sweep();

    /// <summary>Error of <paramref name="y"/> against the exact <paramref name="r"/> in float ulps at r (∞ for a wrong
    /// NaN, infinity or sign of zero).</summary>
    internal static double Ulps(float y, double r)
    {
        if (double.IsNaN(r)) return float.IsNaN(y) ? 0 : double.PositiveInfinity;
        if (float.IsNaN(y)) return double.PositiveInfinity;
        float rf = (float)r;
        if (y == rf && float.IsNegative(y) == float.IsNegative(rf)) return 0;
        if (float.IsInfinity(y)) return double.PositiveInfinity;
        if (r == 0 && y == 0) return double.PositiveInfinity;   // wrong sign of zero
        int e = r == 0 ? -126 : Math.Max((int)Math.Floor(Math.Log2(Math.Abs(r))), -126);
        double ulp = Math.ScaleB(1.0, e - 23);
        return Math.Abs(y - r) / ulp;
    }

    private static float[] Run<F>(float[] x) where F : struct, IVecFunc32
    {
        var y = new float[x.Length];
        VecMath32.Map<F>(x, y);
        return y;
    }

    // bounds: the measured maximum (in brackets) rounded up with some margin
    public static TheoryData<string, double> Cases => new()
    {
        { "exp", 1.5 /* 0.94 */ }, { "expm1", 2 /* 1.34 */ }, { "exp2", 1 /* 0.76 */ }, { "log", 1 /* 0.73 */ }, { "log1p", 3 /* 2.22 */ },
        { "sinh", 3 /* 2.12 */ }, { "cosh", 3 /* 2.12 */ }, { "tanh", 2 /* 1.23 */ }, { "sigmoid", 3 /* 2.27 */ }, { "asinh", 3 /* 2.43 */ },
        { "acosh", 3 /* 2.15 */ }, { "atanh", 3.5 /* 2.80 */ }, { "atan", 2 /* 1.34 */ }, { "asin", 3 /* 2.07 */ }, { "acos", 3 /* 2.13 */ },
        { "erf", 3 /* 2.27 */ }, { "erfc", 4.5 /* 3.86 */ }, { "erfinv", 4 /* 2.97 */ }, { "gelu", 4.5 },
        { "silu", 4 }, { "mish", 4 }, { "softsign", 2 }, { "tanhshrink", 4 }, { "logsigmoid", 3 }, { "elu", 3 }, { "selu", 3 },
        { "celu", 4 }, { "logit", 4 }, { "logit_eps", 4 }, { "log2", 2 }, { "log10", 2 },
        { "lgamma", 4 }, { "digamma", 4 }, { "trigamma", 4 },
    };

    /// <summary>A float32 kernel evaluated in double lanes (Kernels.VecMath's float driver: widened, rounded once).</summary>
    private static float[] RunD<F>(float[] x) where F : struct, IVecFunc
    {
        var y = new float[x.Length];
        VecMath.Map<F>(x, y);
        return y;
    }

    /// <summary>ψ'(x) by Special (its Hurwitz zeta), reflected below 0 (a direct sum there would take |x| terms).</summary>
    private static double TrigammaRef(double v)
    {
        if (v >= 0 || double.IsNaN(v)) return Special.Polygamma(1, v);
        if (double.IsNegativeInfinity(v)) return double.NaN;
        if (v == Math.Floor(v)) return double.PositiveInfinity;
        double s = Special.SinPi(v);
        return Math.PI * Math.PI / (s * s) - Special.Polygamma(1, 1 - v);
    }

    private static float[] RunWith<F>(float[] x, F f) where F : struct, IVecOp32
    {
        var y = new float[x.Length];
        VecMath32.MapWith(x, y, f);
        return y;
    }

    /// <summary>x - tanh x, by its series below 0.1 (where the double difference would cancel).</summary>
    private static double TanhshrinkRef(double v)
    {
        if (Math.Abs(v) >= 0.1) return v - Math.Tanh(v);
        double t = v * v;
        return v * t * (1.0 / 3 - t * (2.0 / 15 - t * (17.0 / 315 - t * (62.0 / 2835 - t * (1382.0 / 155925 - t * (21844.0 / 6081075))))));
    }

    private static double EluRef(double v, double negCoef, double posCoef, double inScale) => v <= 0 ? negCoef * Special.Expm1(v * inScale) : posCoef * v;

    private static double LogitRef(double v, double lo, double hi) { double z = v < lo ? lo : v > hi ? hi : v; return Math.Log(z / (1 - z)); }

    private static (float[] Got, Func<double, double> Reference) Case(string name, float[] x) => name switch
    {
        "exp" => (Run<VecMath32.ExpF>(x), Math.Exp),
        "expm1" => (Run<VecMath32.Expm1F>(x), Special.Expm1),
        "exp2" => (Run<VecMath32.Exp2F>(x), v => Math.Pow(2, v)),
        "log" => (Run<VecMath32.LogF>(x), Math.Log),
        "log1p" => (Run<VecMath32.Log1pF>(x), Special.Log1p),
        "sinh" => (Run<VecMath32.SinhF>(x), Math.Sinh),
        "cosh" => (Run<VecMath32.CoshF>(x), Math.Cosh),
        "tanh" => (Run<VecMath32.TanhF>(x), Math.Tanh),
        "sigmoid" => (Run<VecMath32.SigmoidF>(x), v => 1 / (1 + Math.Exp(-v))),
        "asinh" => (Run<VecMath32.AsinhF>(x), Math.Asinh),
        "acosh" => (Run<VecMath32.AcoshF>(x), Math.Acosh),
        "atanh" => (Run<VecMath32.AtanhF>(x), Math.Atanh),
        "atan" => (Run<VecMath32.AtanF>(x), Math.Atan),
        "asin" => (Run<VecMath32.AsinF>(x), Math.Asin),
        "acos" => (Run<VecMath32.AcosF>(x), Math.Acos),
        "erf" => (Run<VecMath32.ErfF>(x), Special.Erf),
        "erfc" => (Run<VecMath32.ErfcF>(x), Special.Erfc),
        "erfinv" => (Run<VecMath32.ErfinvF>(x), Special.Erfinv),
        "gelu" => (Run<VecMath32.GeluF>(x), v => 0.5 * v * Special.Erfc(v * -0.7071067811865476)),
        "log2" => (Run<VecMath32.Log2F>(x), Math.Log2),
        "lgamma" => (RunD<VecMath.LgammaF>(x), Special.Lgamma),
        "digamma" => (RunD<VecMath.DigammaF>(x), Special.Digamma),
        "trigamma" => (RunD<VecMath.TrigammaF>(x), TrigammaRef),
        "log10" => (Run<VecMath32.Log10F>(x), Math.Log10),
        "silu" => (Run<VecMath32.SiluF>(x), v => v / (1 + Math.Exp(-v))),
        "mish" => (Run<VecMath32.MishF>(x), v => v * Math.Tanh(Special.Log1p(Math.Exp(v)))),
        "softsign" => (Run<VecMath32.SoftsignF>(x), v => v / (1 + Math.Abs(v))),
        "tanhshrink" => (Run<VecMath32.TanhshrinkF>(x), TanhshrinkRef),
        "logsigmoid" => (Run<VecMath32.LogSigmoidF>(x), v => Math.Min(v, 0) - Special.Log1p(Math.Exp(-Math.Abs(v)))),
        "elu" => (RunWith(x, new VecMath32.Elu(1f, 1f, 1f)), v => EluRef(v, 1, 1, 1)),
        "selu" => (RunWith(x, new VecMath32.Elu((float)(Tensor.SeluScale * Tensor.SeluAlpha), (float)Tensor.SeluScale, 1f)),
            v => EluRef(v, (float)(Tensor.SeluScale * Tensor.SeluAlpha), (float)Tensor.SeluScale, 1)),
        "celu" => (RunWith(x, new VecMath32.Elu(1.7f, 1f, 1f / 1.7f)), v => EluRef(v, 1.7f, 1, 1 / 1.7)),
        "logit" => (RunWith(x, new VecMath32.Logit(0f, 1f, false)), v => LogitRef(v, double.NegativeInfinity, double.PositiveInfinity)),
        "logit_eps" => (RunWith(x, new VecMath32.Logit(1e-6f, 1f - 1e-6f, true)), v => LogitRef(v, 1e-6f, 1f - 1e-6f)),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void WithinAFewFloatUlpsOverTheWholeLine(string name, double maxUlps)
    {
        var x = s_sweep;
        var (got, reference) = Case(name, x);
        double worst = 0;
        float worstAt = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double u = Ulps(got[i], reference(x[i]));
            if (u > worst) { worst = u; worstAt = x[i]; }
        }
        Assert.True(worst <= maxUlps, $"{name}: {worst:F2} float ulps at {worstAt:R} (got {got[Array.IndexOf(x, worstAt)]:R}, exact {reference(worstAt):R}); bound {maxUlps}");
    }

    [Fact]
    public void Atan2WithinTwoUlpsWithCsConventions()
    {
        var rnd = new Random(11);
        var special = new[] { 0f, -0f, 1f, -1f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, float.Epsilon, 1e30f, -1e-30f };
        int n = 400_000;
        var a = new float[n + special.Length * special.Length];
        var b = new float[a.Length];
        for (int i = 0; i < n; i++)
        {
            a[i] = BitConverter.UInt32BitsToSingle((uint)rnd.NextInt64(0, 1L << 32));
            b[i] = BitConverter.UInt32BitsToSingle((uint)rnd.NextInt64(0, 1L << 32));
        }
        for (int i = 0; i < special.Length; i++)
            for (int j = 0; j < special.Length; j++) { a[n + i * special.Length + j] = special[i]; b[n + i * special.Length + j] = special[j]; }
        var y = new float[a.Length];
        VecMath32.Map2<VecMath32.Atan2F>(a, b, y);
        for (int i = 0; i < a.Length; i++)
        {
            double u = Ulps(y[i], Math.Atan2(a[i], b[i]));
            Assert.True(u <= 2, $"atan2({a[i]:R}, {b[i]:R}) = {y[i]:R}, exact {Math.Atan2(a[i], b[i]):R} ({u:F2} ulps)");
        }
    }

    /// <summary>logaddexp and logaddexp2 on random float pairs (both spread over ±64 and over the whole line) and the
    /// special values, against the double formula.</summary>
    [Theory]
    [InlineData(false, 2.0)]
    [InlineData(true, 2.0)]
    public void LogAddExpWithinAFewUlps(bool base2, double maxUlps)
    {
        var rnd = new Random(5);
        var special = new[] { 0f, -0f, 1f, -1f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, 100f, -100f, 1e-30f };
        int n = 200_000;
        var a = new float[2 * n + special.Length * special.Length];
        var b = new float[a.Length];
        for (int i = 0; i < n; i++) { a[i] = (float)(rnd.NextDouble() * 128 - 64); b[i] = (float)(rnd.NextDouble() * 128 - 64); }
        for (int i = n; i < 2 * n; i++)
        {
            a[i] = BitConverter.UInt32BitsToSingle((uint)rnd.NextInt64(0, 1L << 32));
            b[i] = BitConverter.UInt32BitsToSingle((uint)rnd.NextInt64(0, 1L << 32));
        }
        for (int i = 0; i < special.Length; i++)
            for (int j = 0; j < special.Length; j++) { a[2 * n + i * special.Length + j] = special[i]; b[2 * n + i * special.Length + j] = special[j]; }
        var y = new float[a.Length];
        if (base2) VecMath32.Map2<VecMath32.LogAddExp2F>(a, b, y);
        else VecMath32.Map2<VecMath32.LogAddExpF>(a, b, y);
        double worst = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double r = base2 ? BinaryMath.LogAddExp2((double)a[i], b[i]) : BinaryMath.LogAddExp((double)a[i], b[i]);
            double u = Ulps(y[i], r);
            worst = Math.Max(worst, u);
            Assert.True(u <= maxUlps, $"logaddexp{(base2 ? "2" : "")}({a[i]:R}, {b[i]:R}) = {y[i]:R}, exact {r:R} ({u:F2} ulps)");
        }
    }

    [Fact]
    public void TailsAndShortSpansMatchTheFullVectorPath()
    {
        // every length 1..40 (padded vector, overlapping last vector) and in place: the same bits as a long span's
        var x = new float[40];
        var rnd = new Random(2);
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rnd.NextDouble() * 6 - 3);
        var full = Run<VecMath32.ErfF>(x);
        for (int n = 1; n <= 40; n++)
        {
            var y = new float[n];
            VecMath32.Map<VecMath32.ErfF>(x.AsSpan(0, n), y);
            Assert.Equal(full[..n], y);
            var inPlace = x[..n];
            VecMath32.Map<VecMath32.ErfF>(inPlace, inPlace);
            Assert.Equal(full[..n], inPlace);
        }
    }
}
