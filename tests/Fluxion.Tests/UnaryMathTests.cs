using System.Globalization;
using System.Text.Json;
using Fluxion.Kernels;

namespace Fluxion.Tests;

/// <summary>
/// Values of the unary math ops (UnaryMath.cs, Kernels/Special.cs) against exact references: C#'s Math.* (libm) for
/// the elementary functions, mpmath at 50 digits (golden/unary.json, made by tests/golden/make_unary.py) for the
/// special functions, and hand-computed PyTorch conventions at the edges (0, -0, ±inf, NaN, ties, domain ends).
/// Gradients are checked by the registry sweep; here only the conventions at special points.
/// </summary>
public class UnaryMathTests
{
    private static readonly double[] Edges = [0.0, -0.0, double.PositiveInfinity, double.NegativeInfinity, double.NaN,
        1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 1e-300, -1e-300, 1e300, -1e300, 0.999, -0.999, 1.001, 3.7, -3.7, 5e-324];

    private static double[] Run(Func<Tensor, Tensor> f, double[] xs) => f(Tensor.FromArray(xs)).ToArray<double>();

    private static float[] Run32(Func<Tensor, Tensor> f, float[] xs) => f(Tensor.FromArray(xs)).ToArray<float>();

    /// <summary>Same double, bit for bit up to the NaN payload (so the sign of zero counts).</summary>
    private static bool Same(double a, double b) => double.IsNaN(a) ? double.IsNaN(b) : a.Equals(b) && double.IsNegative(a) == double.IsNegative(b);

    private static void AssertSame(string what, double[] xs, double[] expected, double[] actual)
    {
        for (int i = 0; i < xs.Length; i++)
            Assert.True(Same(expected[i], actual[i]), $"{what}({xs[i].ToString("R", CultureInfo.InvariantCulture)}) = {actual[i]:R}, expected {expected[i]:R}");
    }

    public static TheoryData<string> MathNames => new()
    {
        "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Log2", "Log10", "Exp2",
        "Ceil", "Trunc", "Round", "Tanh",
    };

    private static (Func<Tensor, Tensor> Op, Func<double, double> Reference) MathCase(string name) => name switch
    {
        "Tan" => (x => x.Tan(), Math.Tan),
        "Asin" => (x => x.Asin(), Math.Asin),
        "Acos" => (x => x.Acos(), Math.Acos),
        "Atan" => (x => x.Atan(), Math.Atan),
        "Sinh" => (x => x.Sinh(), Math.Sinh),
        "Cosh" => (x => x.Cosh(), Math.Cosh),
        "Asinh" => (x => x.Asinh(), Math.Asinh),
        "Acosh" => (x => x.Acosh(), Math.Acosh),
        "Atanh" => (x => x.Atanh(), Math.Atanh),
        "Log2" => (x => x.Log2(), Math.Log2),
        "Log10" => (x => x.Log10(), Math.Log10),
        "Exp2" => (x => x.Exp2(), v => Math.Pow(2, v)),
        "Ceil" => (x => x.Ceil(), Math.Ceiling),
        "Trunc" => (x => x.Trunc(), Math.Truncate),
        "Round" => (x => x.Round(), v => Math.Round(v, MidpointRounding.ToEven)),
        "Tanh" => (x => x.Tanh(), Math.Tanh),
        _ => throw new ArgumentException(name),
    };

    /// <summary>At the edge values: the rounding ops equal libm's (Math.*) bit for bit; the transcendental ones (SIMD
    /// kernels, Kernels.VecMath) give libm's special values exactly (±0 with its sign, ±inf, NaN, the domain ends) and are
    /// within 3 ulps elsewhere (VecMathTests checks thousands of points); float32 within a float ulp of libm's value
    /// rounded to float (tanh, whose float32 kernel is TensorPrimitives' for |x| &gt;= 0.625, within 3 ulps there).</summary>
    [Theory]
    [MemberData(nameof(MathNames))]
    public void ElementaryFunctionsMatchMathAtTheEdges(string name)
    {
        var (op, reference) = MathCase(name);
        bool exact = name is "Ceil" or "Trunc" or "Round" or "Tanh";
        var got64 = Run(op, Edges);
        for (int i = 0; i < Edges.Length; i++)
        {
            double want = reference(Edges[i]);
            bool special = want == 0 || !double.IsFinite(want);
            bool ok = Same(want, got64[i]) || (!exact && !special && Ulps(got64[i], want) <= 3);
            Assert.True(ok, $"{name}({Edges[i].ToString("R", CultureInfo.InvariantCulture)}) = {got64[i]:R}, expected {want:R}");
        }
        var xs = Edges.Select(v => (float)v).ToArray();
        var got = Run32(op, xs);
        for (int i = 0; i < xs.Length; i++)
        {
            float want = (float)reference(xs[i]);
            float ulp = MathF.BitIncrement(Math.Abs(want)) - Math.Abs(want);
            bool special = want == 0 || !float.IsFinite(want);
            bool ok = Same(want, got[i]) || (!exact && !special && Math.Abs(got[i] - want) <= ulp)
                || (name == "Tanh" && Math.Abs(xs[i]) >= 0.625f && Math.Abs(got[i] - want) <= 3 * ulp);
            Assert.True(ok, $"{name}(float32 {xs[i]:R}) = {got[i]:R}, expected {want:R}");
        }
    }

    // ---- special functions against mpmath ------------------------------------------------------

    private static readonly Lazy<Dictionary<string, (double[] X, double[] Y)>> s_ref = new(() =>
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Golden.Directory, "unary.json")));
        var r = new Dictionary<string, (double[], double[])>();
        static double P(string s) => s switch
        {
            "inf" => double.PositiveInfinity, "-inf" => double.NegativeInfinity, "nan" => double.NaN,
            _ => double.Parse(s, CultureInfo.InvariantCulture),
        };
        foreach (var f in doc.RootElement.GetProperty("functions").EnumerateObject())
        {
            var pairs = f.Value.EnumerateArray().Select(p => (P(p[0].GetString()!), P(p[1].GetString()!))).ToArray();
            r[f.Name] = (pairs.Select(p => p.Item1).ToArray(), pairs.Select(p => p.Item2).ToArray());
        }
        return r;
    });

    private static double Ulps(double actual, double expected)
    {
        if (Same(actual, expected) || actual == expected) return 0;
        if (double.IsNaN(actual) || double.IsNaN(expected) || double.IsInfinity(actual) || double.IsInfinity(expected)) return double.PositiveInfinity;
        double ulp = Math.Max(Math.BitIncrement(Math.Abs(expected)) - Math.Abs(expected), double.Epsilon);
        return Math.Abs(actual - expected) / ulp;
    }

    public static TheoryData<string, int> SpecialCases => new()
    {
        { "lgamma_pos", 4 }, { "digamma_pos", 4 }, { "trigamma", 64 }, { "tetragamma", 64 }, { "erfc", 6 }, { "erf", 2 },
        { "erfinv", 6 }, { "log1p", 2 }, { "expm1", 3 }, { "softplus", 2 }, { "sinc", 4 },
    };

    private static Func<Tensor, Tensor> SpecialOp(string name) => name switch
    {
        "lgamma_pos" or "lgamma_neg" => x => x.Lgamma(),
        "digamma_pos" or "digamma_neg" => x => x.Digamma(),
        "trigamma" => x => x.Polygamma(1),
        "tetragamma" => x => x.Polygamma(2),
        "erfc" => x => x.Erfc(),
        "erf" => x => x.Erf(),
        "erfinv" => x => x.Erfinv(),
        "log1p" => x => x.Log1p(),
        "expm1" => x => x.Expm1(),
        "softplus" => x => x.Softplus(),
        "sinc" => x => x.Sinc(),
        _ => throw new ArgumentException(name),
    };

    /// <summary>Float64 special functions are within a few ulps of the correctly rounded value (trigamma and
    /// tetragamma, only used as derivatives, within 64: their Euler–Maclaurin sums cancel on the negative axis). Subnormal results are judged by absolute error.</summary>
    [Theory]
    [MemberData(nameof(SpecialCases))]
    public void SpecialFunctionsAreAccurateToAFewUlps(string name, int maxUlps)
    {
        var (xs, want) = s_ref.Value[name];
        var got = Run(SpecialOp(name), xs);
        for (int i = 0; i < xs.Length; i++)
        {
            double u = Ulps(got[i], want[i]);
            bool subnormal = Math.Abs(want[i]) < 2.2250738585072014e-308 && Math.Abs(got[i] - want[i]) < 1e-320;
            Assert.True(u <= maxUlps || subnormal, $"{name}({xs[i]:R}) = {got[i]:R}, mpmath gives {want[i]:R} ({u:F1} ulps)");
        }
    }

    /// <summary>On the negative axis lgamma and digamma are computed by reflection, which cancels near their zeros:
    /// there the error is small against the size of the terms, not against the result.</summary>
    [Theory]
    [InlineData("lgamma_neg")]
    [InlineData("digamma_neg")]
    public void NegativeAxisByReflection(string name)
    {
        var (xs, want) = s_ref.Value[name];
        var got = Run(SpecialOp(name), xs);
        for (int i = 0; i < xs.Length; i++)
        {
            double scale = 1 + Math.Abs(want[i]) + Math.Log(1 + Math.Abs(xs[i]));
            Assert.True(Math.Abs(got[i] - want[i]) <= 1e-14 * scale * Math.Max(1, 1 / Math.Abs(Special.SinPi(xs[i]))),
                $"{name}({xs[i]:R}) = {got[i]:R}, mpmath gives {want[i]:R}");
        }
    }

    [Fact]
    public void GammaFamilyEdgesFollowPyTorch()
    {
        double inf = double.PositiveInfinity, nan = double.NaN;
        double[] xs = [0.0, -0.0, -1.0, -2.0, inf, -inf, nan, 1.0, 2.0];
        AssertSame("Lgamma", xs, [inf, inf, inf, inf, inf, inf, nan, 0.0, 0.0], Run(x => x.Lgamma(), xs));
        AssertSame("Digamma", xs, [-inf, inf, nan, nan, inf, nan, nan, -0.5772156649015329, 0.42278433509846713], Run(x => x.Digamma(), xs));
        Assert.Equal(-Math.Log(1e-300), Run(x => x.Lgamma(), [1e-300])[0], 12);
        Assert.Equal(Math.PI * Math.PI / 6, Run(x => x.Polygamma(1), [1.0])[0], 14);
        AssertSame("Polygamma(1)", [0.0, inf, nan], [inf, 0.0, nan], Run(x => x.Polygamma(1), [0.0, inf, nan]));
        Assert.Equal(Run(x => x.Digamma(), [3.3]), Run(x => x.Polygamma(0), [3.3]));
        // float32 goes through double
        Assert.Equal((float)Special.Lgamma(0.1), Run32(x => x.Lgamma(), [0.1f])[0]);
    }

    [Fact]
    public void ErrorFunctionEdges()
    {
        double inf = double.PositiveInfinity, nan = double.NaN;
        double[] xs = [0.0, -0.0, inf, -inf, nan, 30.0, -30.0];
        AssertSame("Erfc", xs, [1.0, 1.0, 0.0, 2.0, nan, 0.0, 2.0], Run(x => x.Erfc(), xs));
        AssertSame("Erf", xs, [0.0, -0.0, 1.0, -1.0, nan, 1.0, -1.0], Run(x => x.Erf(), xs));
        double[] ys = [0.0, -0.0, 1.0, -1.0, 1.5, -1.0000001, nan];
        AssertSame("Erfinv", ys, [0.0, -0.0, inf, -inf, nan, nan, nan], Run(x => x.Erfinv(), ys));
        // erfinv inverts erf
        double[] v = [-0.99, -0.3, 1e-8, 0.2, 0.7, 0.999999];
        var back = Tensor.FromArray(v).Erfinv().Erf().ToArray<double>();
        for (int i = 0; i < v.Length; i++) Assert.Equal(v[i], back[i], 14);
    }

    [Fact]
    public void Log1pAndExpm1Edges()
    {
        double inf = double.PositiveInfinity, nan = double.NaN;
        double[] xs = [0.0, -0.0, inf, -inf, nan, -1.0, -2.0, 1e-300, -1e-300];
        AssertSame("Log1p", xs, [0.0, -0.0, inf, nan, nan, -inf, nan, 1e-300, -1e-300], Run(x => x.Log1p(), xs));
        AssertSame("Expm1", xs, [0.0, -0.0, inf, -1.0, nan, Math.Exp(-1) - 1, Math.Exp(-2) - 1, 1e-300, -1e-300], Run(x => x.Expm1(), xs));
        Assert.True(Math.Abs(Run(x => x.Log1p(), [1e-10])[0] - (1e-10 - 5e-21)) < 1e-25);
    }

    // ---- rounding ------------------------------------------------------------------------------

    [Fact]
    public void RoundIsHalfToEvenWithDecimalsAsPyTorch()
    {
        double[] xs = [0.5, 1.5, 2.5, -0.5, -2.5, 2.4999, -0.0, 3.5];
        AssertSame("Round", xs, [0.0, 2.0, 2.0, -0.0, -2.0, 2.0, -0.0, 4.0], Run(x => x.Round(), xs));
        AssertSame("Round(2)", [1.2345, 0.125, -1.005], [1.23, 0.12, Math.Round(-1.005 * 100) / 100], Run(x => x.Round(2), [1.2345, 0.125, -1.005]));
        AssertSame("Round(-2)", [1234.5, 1250.0, -1350.0], [1200.0, 1200.0, -1400.0], Run(x => x.Round(-2), [1234.5, 1250.0, -1350.0]));
        Assert.Equal([MathF.Round(0.125f * 100f) / 100f, MathF.Round(1.2345f * 100f) / 100f], Run32(x => x.Round(2), [0.125f, 1.2345f]));
    }

    [Fact]
    public void FracKeepsTheSignAndTruncCeilGoTheRightWay()
    {
        double inf = double.PositiveInfinity, nan = double.NaN;
        double[] xs = [2.75, -2.75, 0.0, -0.0, inf, -inf, nan, 1e300];
        AssertSame("Frac", xs, [0.75, -0.75, 0.0, 0.0, nan, nan, nan, 0.0], Run(x => x.Frac(), xs));
        AssertSame("Trunc", xs, [2.0, -2.0, 0.0, -0.0, inf, -inf, nan, 1e300], Run(x => x.Trunc(), xs));
        AssertSame("Ceil", [-0.5, 0.2, -2.0], [-0.0, 1.0, -2.0], Run(x => x.Ceil(), [-0.5, 0.2, -2.0]));
    }

    [Fact]
    public void RoundingGradientsAreZeroAndFracsIsOne()
    {
        foreach (var (name, f, g) in new (string, Func<Tensor, Tensor>, double)[]
                 { ("Round", x => x.Round(), 0), ("Round(1)", x => x.Round(1), 0), ("Trunc", x => x.Trunc(), 0), ("Ceil", x => x.Ceil(), 0), ("Frac", x => x.Frac(), 1) })
        {
            var x = Tensor.FromArray([0.5, 1.5, -2.3, 0.0]).RequiresGrad_();
            f(x).Sum().Backward();
            Assert.True(x.Grad!.ToArray<double>().All(v => v == g), $"{name}: gradient {string.Join(", ", x.Grad!.ToArray<double>())}, expected {g}");
        }
    }

    // ---- logit, sinc, nan_to_num ---------------------------------------------------------------

    [Fact]
    public void LogitWithoutEpsIsInfiniteAtTheEndsAndNaNOutside()
    {
        double inf = double.PositiveInfinity, nan = double.NaN;
        double[] xs = [0.0, -0.0, 1.0, 0.5, -0.1, 1.1, nan, 0.25, inf, -inf];
        AssertSame("Logit", xs, [-inf, -inf, inf, 0.0, nan, nan, nan, Math.Log(0.25 / 0.75), nan, nan], Run(x => x.Logit(), xs));
        var t = Tensor.FromArray([0.25, -0.1, 1.1, 0.0]).RequiresGrad_();
        t.Logit().Sum().Backward();
        var g = t.Grad!.ToArray<double>();
        Assert.Equal(1 / (0.25 * 0.75), g[0], 14);
        Assert.True(double.IsNaN(g[1]) && double.IsNaN(g[2]), "outside [0, 1] the gradient is NaN as PyTorch's");
        Assert.Equal(double.PositiveInfinity, g[3]);
    }

    [Fact]
    public void LogitWithEpsClampsAndZeroesTheGradientOutside()
    {
        double[] xs = [0.05, 0.1, 0.5, 0.95, -3.0, double.NaN];
        double l = Math.Log(0.1 / 0.9);
        var y = Run(x => x.Logit(0.1), xs);
        Assert.Equal(l, y[0], 15);
        Assert.Equal(l, y[1], 15);
        Assert.Equal(-l, y[3], 14);
        Assert.Equal(l, y[4], 15);
        Assert.True(double.IsNaN(y[5]));
        var t = Tensor.FromArray([0.05, 0.1, 0.5, 0.9, 0.95]).RequiresGrad_();
        t.Logit(0.1).Sum().Backward();
        var g = t.Grad!.ToArray<double>();
        double[] want = [0.0, 1 / 0.09, 4.0, 1 / 0.09, 0.0]; // the bounds are inside (inclusive), as PyTorch's
        for (int i = 0; i < want.Length; i++) Assert.True(Math.Abs(g[i] - want[i]) < 1e-12, $"gradient at {i}: {g[i]}, expected {want[i]}");
        Assert.Throws<ArgumentException>(() => Tensor.FromArray([0.5]).Logit(0.7));
        Assert.Throws<ArgumentException>(() => Tensor.FromArray([0.5]).Logit(-0.1));
    }

    [Fact]
    public void SincIsOneAtZeroWithZeroGradient()
    {
        double[] xs = [0.0, -0.0, 1.0, 0.5, double.PositiveInfinity, double.NaN];
        var y = Run(x => x.Sinc(), xs);
        Assert.Equal([1.0, 1.0], y[..2]);
        Assert.True(Math.Abs(y[2]) < 1e-16);
        Assert.Equal(2 / Math.PI, y[3], 15);
        Assert.True(double.IsNaN(y[4]) && double.IsNaN(y[5]));
        var t = Tensor.FromArray([0.0, 0.5]).RequiresGrad_();
        t.Sinc().Sum().Backward();
        var g = t.Grad!.ToArray<double>();
        Assert.Equal(0.0, g[0]);
        Assert.Equal(-4 / Math.PI, g[1], 14); // (cos(π/2) - 2/π)/0.5
        Assert.Equal(1f, Run32(x => x.Sinc(), [0f])[0]);
        // second order at 0: sinc''(0) = -π²/3; near 0 the gradient keeps its relative accuracy (no cancellation)
        var z = Tensor.FromArray([0.0, 1e-6]).RequiresGrad_();
        var d1 = Autograd.Grad([z.Sinc().Sum()], [z], createGraph: true)[0]!;
        var d2 = Autograd.Grad([d1.Sum()], [z])[0]!.ToArray<double>();
        Assert.Equal(-Math.PI * Math.PI / 3, d2[0], 12);
        double p2 = Math.PI * Math.PI, want = 1e-6 * (-p2 / 3 + p2 * p2 / 30 * 1e-12), got = d1.ToArray<double>()[1];
        Assert.True(Math.Abs(got - want) <= 1e-14 * Math.Abs(want), $"sinc'(1e-6) = {got:R}, expected {want:R}");
    }

    [Fact]
    public void NanToNumDefaultsAndGradient()
    {
        double[] xs = [double.NaN, double.PositiveInfinity, double.NegativeInfinity, 1.5, -0.0];
        AssertSame("NanToNum", xs, [0.0, double.MaxValue, double.MinValue, 1.5, -0.0], Run(x => x.NanToNum(), xs));
        AssertSame("NanToNum(1, 2, -3)", xs, [1.0, 2.0, -3.0, 1.5, -0.0], Run(x => x.NanToNum(1, 2, -3), xs));
        var f = Run32(x => x.NanToNum(), xs.Select(v => (float)v).ToArray());
        Assert.Equal([0f, float.MaxValue, float.MinValue, 1.5f], f[..4]);
        var t = Tensor.FromArray(xs).RequiresGrad_();
        t.NanToNum().Sum().Backward();
        Assert.Equal([0.0, 0.0, 0.0, 1.0, 1.0], t.Grad!.ToArray<double>());
        var i = Tensor.FromArray([1L, -2L]);
        Assert.Equal([1L, -2L], i.NanToNum().ToArray<long>());
    }

    // ---- predicates ----------------------------------------------------------------------------

    [Fact]
    public void PredicatesReturnBoolForEveryDType()
    {
        double[] xs = [0.0, -0.0, 1.0, -1.0, double.PositiveInfinity, double.NegativeInfinity, double.NaN, -double.NaN];
        bool[] B(Func<Tensor, Tensor> f, Tensor x)
        {
            var y = f(x);
            Assert.Equal(DType.Bool, y.DType);
            Assert.False(y.RequiresGrad);
            return y.ToArray<bool>();
        }
        foreach (var dt in new[] { DType.Float64, DType.Float32 })
        {
            var x = Tensor.FromArray(xs).To(dt).RequiresGrad_(dt == DType.Float64);
            Assert.Equal([false, false, false, false, false, false, true, true], B(t => t.IsNan(), x));
            Assert.Equal([false, false, false, false, true, true, false, false], B(t => t.IsInf(), x));
            Assert.Equal([true, true, true, true, false, false, false, false], B(t => t.IsFinite(), x));
            Assert.Equal([false, false, false, false, true, false, false, false], B(t => t.IsPosInf(), x));
            Assert.Equal([false, false, false, false, false, true, false, false], B(t => t.IsNegInf(), x));
            var sb = B(t => t.Signbit(), x);
            Assert.Equal([false, true, false, true, false, true], sb[..6]);
            Assert.Equal(double.IsNegative(-double.NaN), sb[7]);
        }
        var ints = Tensor.FromArray([0L, -3L, 5L]);
        Assert.Equal([false, false, false], B(t => t.IsNan(), ints));
        Assert.Equal([true, true, true], B(t => t.IsFinite(), ints));
        Assert.Equal([false, true, false], B(t => t.Signbit(), ints));
        var bools = Tensor.FromArray([true, false]);
        Assert.Equal([false, false], B(t => t.IsInf(), bools));
        Assert.Equal([true, true], B(t => t.IsFinite(), bools));
        Assert.Equal([false, false], B(t => t.Signbit(), bools));
        // non-contiguous and empty
        var m = Tensor.FromArray([1.0, double.NaN, 3.0, 4.0], 2, 2).T;
        Assert.Equal([false, false, true, false], B(t => t.IsNan(), m));
        Assert.Empty(B(t => t.IsNan(), Tensor.Zeros([0, 3], DType.Float64)));
        Assert.Equal([true, false, false, true], B(t => t.LogicalNot(), Tensor.FromArray([0.0, double.NaN, 2.0, -0.0])));
        Assert.Equal([false, true], B(t => t.LogicalNot(), Tensor.FromArray([3L, 0L])));
        Assert.Equal([false, true], B(t => t.LogicalNot(), bools));
        foreach (var name in new[] { "IsNan", "IsInf", "IsFinite", "IsPosInf", "IsNegInf", "Signbit" })
            Assert.False(OpRegistry.Find(name)!.Differentiable);
    }

    // ---- fill, positive, composites ------------------------------------------------------------

    [Fact]
    public void FillIsOutOfPlaceAndItsGradientGoesToTheValue()
    {
        var x = Tensor.FromArray([1.0, 2.0, 3.0, 4.0], 2, 2).RequiresGrad_();
        var v = Tensor.Scalar(2.5, DType.Float64).RequiresGrad_();
        var y = x.Fill(v);
        Assert.Equal([2.5, 2.5, 2.5, 2.5], y.ToArray<double>());
        Assert.Equal([1.0, 2.0, 3.0, 4.0], x.ToArray<double>());
        (y * Tensor.FromArray([1.0, 2.0, 3.0, 4.0], 2, 2)).Sum().Backward();
        Assert.Equal(10.0, v.Grad!.Item());
        Assert.Equal([0.0, 0.0, 0.0, 0.0], x.Grad!.ToArray<double>());
        Assert.Equal([7L, 7L], Tensor.FromArray([1L, 2L]).Fill(7).ToArray<long>());
        Assert.Equal([-1.5f], Tensor.FromArray([1f]).Fill(-1.5).ToArray<float>());
        Assert.Throws<ShapeMismatchException>(() => x.Fill(Tensor.FromArray([1.0, 2.0])));
    }

    [Fact]
    public void PositiveIsTheInputItselfAndSquareReciprocalAreComposites()
    {
        var x = Tensor.FromArray([1.0, -2.0]);
        Assert.Same(x, x.Positive());
        Assert.Throws<DTypeMismatchException>(() => Tensor.FromArray([true]).Positive());
        Assert.Equal(["Mul"], OpRegistry.Find("Square")!.CompositeOf!);
        Assert.Equal(["Div"], OpRegistry.Find("Reciprocal")!.CompositeOf!);
        Assert.Equal([1.0, 4.0], x.Square().ToArray<double>());
        Assert.Equal([1.0, -0.5], x.Reciprocal().ToArray<double>());
        Assert.Equal([Math.PI, -Math.PI / 2], Tensor.FromArray([180.0, -90.0]).Deg2rad().ToArray<double>());
        Assert.Equal([180.0, -90.0], Tensor.FromArray([Math.PI, -Math.PI / 2]).Rad2deg().ToArray<double>().Select(v => Math.Round(v, 12)).ToArray());
    }

    [Fact]
    public void BadInputsNameTheOp()
    {
        var i = Tensor.FromArray([1L, 2L]);
        var e = Assert.Throws<DTypeMismatchException>(() => i.Asin());
        Assert.Contains("Asin", e.Message);
        Assert.Contains("Lgamma", Assert.Throws<DTypeMismatchException>(() => i.Lgamma()).Message);
        Assert.Contains("Polygamma", Assert.Throws<ArgumentException>(() => Tensor.FromArray([1.0]).Polygamma(-1)).Message);
    }

    /// <summary>Every unary torch name of the target list is claimed by an entry.</summary>
    [Fact]
    public void EveryUnaryTorchNameIsRegistered()
    {
        string[] unary =
        [
            "abs", "acos", "acosh", "asin", "asinh", "atan", "atanh", "ceil", "cos", "cosh", "deg2rad", "digamma", "erf", "erfc",
            "erfinv", "exp", "exp2", "expm1", "fill", "floor", "frac", "isfinite", "isinf", "isnan", "isneginf", "isposinf",
            "lgamma", "log", "log10", "log1p", "log2", "logical_not", "logit", "nan_to_num", "neg", "positive", "rad2deg",
            "reciprocal", "round", "rsqrt", "sgn", "sigmoid", "sign", "signbit", "sin", "sinc", "sinh", "sqrt", "square", "tan",
            "tanh", "trunc",
        ];
        var claimed = OpRegistry.All.SelectMany(d => d.Torch).ToHashSet();
        var missing = unary.Where(n => !claimed.Contains(n)).ToList();
        Assert.True(missing.Count == 0, "unclaimed: " + string.Join(", ", missing));
    }

    // ---- issue 16: softplus and tanh precision -------------------------------------------------

    [Fact]
    public void SoftplusKeepsPrecisionFarBelowZero()
    {
        double[] xs = [-20.5, -30, -37, -40, -300, -700];
        var y = Run(x => x.Softplus(), xs);
        for (int i = 0; i < xs.Length; i++)
        {
            double want = Math.Exp(xs[i]); // log1p(e^x) = e^x(1 - e^x/2 + ...): e^x to within 1e-9 relative here
            Assert.True(Math.Abs(y[i] - want) <= 1e-8 * want, $"Softplus({xs[i]}) = {y[i]:R}, expected ~{want:R}");
        }
        var f = Run32(x => x.Softplus(), [-30f, -90f]);
        Assert.Equal((float)Math.Exp(-30), f[0]);
        Assert.Equal((float)Math.Exp(-90), f[1]); // a float32 subnormal, still not 0
    }

    [Fact]
    public void SoftplusMatchesPyTorchBelowMinus20()
    {
        // torch.nn.functional.softplus in float64 (PyTorch 1.13: log1p(exp(x)) below the threshold), to 1 ulp
        double[] xs = [-20.5, -30, -37, -50, -100, -700, -745];
        double[] torch = [1.2501528656053015e-09, 9.357622968839737e-14, 8.533047625744066e-17, 1.9287498479639178e-22,
            3.720075976020836e-44, 9.85967654375977e-305, 5e-324];
        var y = Run(x => x.Softplus(), xs);
        for (int i = 0; i < xs.Length; i++)
            Assert.True(Math.Abs(y[i] - torch[i]) <= Math.BitIncrement(torch[i]) - torch[i], $"Softplus({xs[i]}) = {y[i]:R}, PyTorch gives {torch[i]:R}");
        // tiny tanh inputs are returned exactly (tanh x = x(1 - x²/3): x itself below 1e-8), signs kept
        double[] tiny = [1e-10, -1e-10, 1e-300, -1e-300, 5e-324, -0.0];
        AssertSame("Tanh", tiny, tiny, Run(x => x.Tanh(), tiny));
    }

    [Fact]
    public void TanhFloat64MatchesMathTanhEverywhere()
    {
        var xs = new List<double> { 1e-300, -1e-300, 1e-10, -1e-10, 5e-324, -0.0, 0.0, 1e-5, 0.3, 0.55, 1, 5, 19, 20, 25, -25, 710, double.NaN, double.PositiveInfinity, double.NegativeInfinity };
        var g = new Generator(16);
        for (int i = 0; i < 2000; i++) xs.Add((g.NextDouble() < 0.5 ? -1 : 1) * Math.Pow(10, -12 + 13.5 * g.NextDouble()));
        var a = xs.ToArray();
        AssertSame("Tanh", a, a.Select(Math.Tanh).ToArray(), Run(x => x.Tanh(), a));
    }

    [Fact]
    public void TanhFloat32KeepsTheSignAndRelativeAccuracyOfTinyInputs()
    {
        float[] xs = [1e-10f, -1e-10f, 1e-30f, -1e-38f, 1e-44f, 3e-4f, -0f];
        var y = Run32(x => x.Tanh(), xs);
        for (int i = 0; i < xs.Length; i++)
        {
            double want = Math.Tanh(xs[i]);
            Assert.True(Math.Abs(y[i] - want) <= 2e-7 * Math.Abs(want) + 1e-45, $"Tanh(float32 {xs[i]:R}) = {y[i]:R}, expected {want:R}");
            Assert.Equal(float.IsNegative(xs[i]), float.IsNegative(y[i]));
        }
    }
}
