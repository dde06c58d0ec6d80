using Fluxion.Kernels;

namespace Fluxion.Tests;

/// <summary>
/// The SIMD transcendental kernels (Kernels/VecMath.cs) against scalar references on ~6000 points per function spread
/// over many binades (tiny, subnormal, moderate, huge, near the poles and domain ends): Math.* (glibc, correctly
/// rounded in practice) or Kernels.Special (the scalar series, checked against mpmath in UnaryMathTests). Float64
/// within a few ulps; float32 within the bound of its float-lane kernel (VecMath32Tests), or one float ulp where it is
/// evaluated in double and rounded once. Also: large tensors (the 2-thread path, tails) give the same values as element-by-element calls, and the
/// SIMD fused backward equals the tensor-op VJP.
/// </summary>
public class VecMathTests
{
    private static double Ulps(double actual, double expected)
    {
        if (actual.Equals(expected) && double.IsNegative(actual) == double.IsNegative(expected)) return 0;
        if (double.IsNaN(expected)) return double.IsNaN(actual) ? 0 : double.PositiveInfinity;
        if (double.IsNaN(actual) || double.IsInfinity(actual) || double.IsInfinity(expected)) return double.PositiveInfinity;
        if (actual == expected) return double.PositiveInfinity; // same magnitude, wrong sign of zero
        double ulp = Math.Max(Math.BitIncrement(Math.Abs(expected)) - Math.Abs(expected), double.Epsilon);
        return Math.Abs(actual - expected) / ulp;
    }

    /// <summary>Sample points: signed, log-spaced over [lo, hi], plus the edge values.</summary>
    private static double[] Points(double lo, double hi, bool signed = true)
    {
        var rnd = new Random(7);
        var xs = new List<double> { 0.0, -0.0, double.NaN, double.PositiveInfinity, double.NegativeInfinity, 1.0, -1.0, 0.5, -0.5,
            5e-324, -5e-324, 1e-310, 2.2250738585072014e-308, 1e-300, 1e300, 709.5, -709.5, 711.0, 0.9999999999999999, -0.9999999999999999,
            1.0000000000000002, 0.49999999999999994, 6.0, 27.0, -27.0, 30.0 };
        double l = Math.Log(lo), h = Math.Log(hi);
        for (int i = 0; i < 6000; i++)
        {
            double v = Math.Exp(l + (h - l) * rnd.NextDouble());
            xs.Add(signed && (i & 1) == 1 ? -v : v);
        }
        return [.. xs];
    }

    // (name, float64 bound in ulps, float32 bound in float ulps of the exact value: the VecMath32 kernels' bounds of
    // VecMath32Tests; 1 for the kernels evaluated in double and rounded once)
    public static TheoryData<string, double, double> Cases => new()
    {
        { "asin", 3, 3 }, { "acos", 3, 3 }, { "atan", 3, 2 }, { "sinh", 4, 3 }, { "cosh", 3, 3 }, { "asinh", 4, 3 }, { "acosh", 4, 3 }, { "atanh", 4, 3.5 },
        { "log1p", 3, 3 }, { "expm1", 4, 2 }, { "erf", 4, 3 }, { "erfc", 6, 4.5 }, { "erfinv", 8, 4 }, { "tan", 3, 1 }, { "exp2", 3, 1 }, { "log2", 3, 2 }, { "log10", 3, 2 },
        { "gelu", 8, 4.5 },
    };

    private static (Func<Tensor, Tensor> Op, Func<double, double> Reference, double Lo, double Hi) Case(string name) => name switch
    {
        "asin" => (x => x.Asin(), Math.Asin, 1e-20, 1.0),
        "acos" => (x => x.Acos(), Math.Acos, 1e-20, 1.0),
        "atan" => (x => x.Atan(), Math.Atan, 1e-20, 1e20),
        "sinh" => (x => x.Sinh(), Math.Sinh, 1e-20, 720),
        "cosh" => (x => x.Cosh(), Math.Cosh, 1e-20, 720),
        "asinh" => (x => x.Asinh(), Math.Asinh, 1e-20, 1e300),
        "acosh" => (x => x.Acosh(), Math.Acosh, 1, 1e300),
        "atanh" => (x => x.Atanh(), Math.Atanh, 1e-20, 1.0),
        "log1p" => (x => x.Log1p(), Special.Log1p, 1e-20, 1e300),
        "expm1" => (x => x.Expm1(), Special.Expm1, 1e-20, 720),
        "erf" => (x => x.Erf(), Special.Erf, 1e-20, 8),
        "erfc" => (x => x.Erfc(), Special.Erfc, 1e-20, 27.5),
        "erfinv" => (x => x.Erfinv(), Special.Erfinv, 1e-20, 1.0),
        "tan" => (x => x.Tan(), Math.Tan, 1e-20, 1e6),
        "exp2" => (x => x.Exp2(), v => Math.Pow(2, v), 1e-20, 1100),
        "log2" => (x => x.Log2(), Math.Log2, 1e-300, 1e300),
        "log10" => (x => x.Log10(), Math.Log10, 1e-300, 1e300),
        // the same rounded argument x·(-1/√2) on both sides: erfc's condition number 2a² would otherwise dominate in the tail
        "gelu" => (x => x.Gelu(), v => 0.5 * v * Special.Erfc(v * -0.7071067811865476), 1e-20, 38),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Float64WithinAFewUlpsAndFloat32WithinItsBound(string name, double maxUlps, double maxUlps32)
    {
        var (op, reference, lo, hi) = Case(name);
        bool signed = name is not ("acosh" or "log2" or "log10");
        var xs = Points(lo, hi, signed);
        if (!signed) xs = [.. xs, -1.0, -0.5, 0.0, 0.999];
        var got = op(Tensor.FromArray(xs)).ToArray<double>();
        double worst = 0;
        for (int i = 0; i < xs.Length; i++)
        {
            double want = reference(xs[i]);
            // subnormal results are judged by absolute error (the reference has no more digits there)
            if (Math.Abs(want) < 2.2250738585072014e-308 && Math.Abs(got[i] - want) < 1e-320 && Math.Sign(got[i]) == Math.Sign(want)) continue;
            double u = Ulps(got[i], want);
            worst = Math.Max(worst, u);
            Assert.True(u <= maxUlps, $"{name}({xs[i]:R}) = {got[i]:R}, expected {want:R} ({u:F1} ulps)");
        }
        var xf = xs.Select(v => (float)v).ToArray();
        var gf = op(Tensor.FromArray(xf)).ToArray<float>();
        for (int i = 0; i < xf.Length; i++)
        {
            double want = reference(xf[i]);
            double u = VecMath32Tests.Ulps(gf[i], want);
            Assert.True(u <= maxUlps32, $"{name}(float32 {xf[i]:R}) = {gf[i]:R}, expected {want:R} ({u:F1} float ulps)");
        }
    }

    [Fact]
    public void LargeTensorsAndTailsMatchElementwiseCalls()
    {
        // 2^16 + 5 elements: the 2-thread path with a ragged tail; each value must equal the one-element call
        int n = (1 << 16) + 5;
        var rnd = new Random(3);
        var x = new double[n];
        for (int i = 0; i < n; i++) x[i] = rnd.NextDouble() * 1.98 - 0.99;
        foreach (var f in new Func<Tensor, Tensor>[] { t => t.Erfinv(), t => t.Atanh(), t => t.Asin(), t => t.Erf() })
        {
            var big = f(Tensor.FromArray(x)).ToArray<double>();
            var big32 = f(Tensor.FromArray(x.Select(v => (float)v).ToArray())).ToArray<float>();
            foreach (int i in new[] { 0, 1, 4097, n / 2, n - 3, n - 1 })
            {
                Assert.Equal(f(Tensor.FromArray(new[] { x[i] })).ToArray<double>()[0], big[i]);
                Assert.Equal(f(Tensor.FromArray(new[] { (float)x[i] })).ToArray<float>()[0], big32[i]);
            }
        }
    }

    [Theory]
    [InlineData("asin")]
    [InlineData("erf")]
    [InlineData("erfinv")]
    [InlineData("cosh")]
    [InlineData("gelu")]
    [InlineData("pow")]
    public void SimdFusedBackwardEqualsTheTensorVjp(string name)
    {
        // the fused first-order backward (V32/V64 lanes) against the same rule in tensor ops (a create_graph pass)
        Func<Tensor, Tensor> f = name switch
        {
            "asin" => x => x.Asin(), "erf" => x => x.Erf(), "erfinv" => x => x.Erfinv(), "cosh" => x => x.Cosh(),
            "gelu" => x => x.Gelu(), "pow" => x => x.Pow(2.5), _ => throw new ArgumentException(name),
        };
        var rnd = new Random(5);
        foreach (var dt in new[] { DType.Float64, DType.Float32 })
        {
            var xs = Enumerable.Range(0, 1037).Select(_ => rnd.NextDouble() * 1.9 - 0.95).Select(v => name == "pow" ? Math.Abs(v) : v).ToArray();
            var x1 = Tensor.FromArray(xs).To(dt).RequiresGrad_();
            var g1 = Autograd.Grad(f(x1).Sum(), x1).To(DType.Float64).ToArray<double>();
            var x2 = Tensor.FromArray(xs).To(dt).RequiresGrad_();
            var g2 = Autograd.Grad(f(x2).Sum(), x2, createGraph: true).To(DType.Float64).ToArray<double>();
            double tol = dt == DType.Float64 ? 1e-13 : 1e-5;
            for (int i = 0; i < xs.Length; i++)
                Assert.True(Math.Abs(g1[i] - g2[i]) <= tol * (1 + Math.Abs(g2[i])), $"{name} {dt} at {xs[i]}: fused {g1[i]}, tensor ops {g2[i]}");
        }
    }
}
