namespace Fluxion.Tests;

/// <summary>Gradient checks (float64, first and second order) for every elementwise primitive,
/// over several shapes, with broadcasting and non-contiguous inputs.</summary>
public class ElementwiseTests
{
    private static Tensor R(params int[] shape) => Tensor.Randn(shape, DType.Float64);

    /// <summary>Values in [lo, hi] with random signs when <paramref name="signed"/> (away from kinks at 0).</summary>
    private static Tensor Away(int[] shape, double lo, double hi, bool signed = true)
    {
        var g = new Generator(shape.Sum() + 7);
        var n = shape.Aggregate(1, (a, b) => a * b);
        var v = new double[n];
        for (int i = 0; i < n; i++)
        {
            v[i] = lo + (hi - lo) * g.NextDouble();
            if (signed && g.NextDouble() < 0.5) v[i] = -v[i];
        }
        return Tensor.FromArray(v, shape);
    }

    public static TheoryData<string> UnaryNames => new()
    {
        "Neg", "Exp", "Log", "Sqrt", "Rsqrt", "Abs", "Sin", "Cos", "Tanh", "Sigmoid", "Relu", "LeakyRelu",
        "Gelu", "GeluTanh", "Softplus", "Clamp", "Erf", "PowScalar", "PowHalf", "Square", "Reciprocal", "Sign",
    };

    private static (Func<Tensor, Tensor> F, Tensor X) Unary(string name, int[] shape) => name switch
    {
        "Neg" => (x => -x, R(shape)),
        "Exp" => (x => x.Exp(), R(shape)),
        "Log" => (x => x.Log(), Away(shape, 0.2, 3, signed: false)),
        "Sqrt" => (x => x.Sqrt(), Away(shape, 0.2, 3, signed: false)),
        "Rsqrt" => (x => x.Rsqrt(), Away(shape, 0.2, 3, signed: false)),
        "Abs" => (x => x.Abs(), Away(shape, 0.1, 2)),
        "Sin" => (x => x.Sin(), R(shape)),
        "Cos" => (x => x.Cos(), R(shape)),
        "Tanh" => (x => x.Tanh(), R(shape)),
        "Sigmoid" => (x => x.Sigmoid(), R(shape)),
        "Relu" => (x => x.Relu(), Away(shape, 0.1, 2)),
        "LeakyRelu" => (x => x.LeakyRelu(0.2), Away(shape, 0.1, 2)),
        "Gelu" => (x => x.Gelu(), R(shape)),
        "GeluTanh" => (x => x.Gelu(GeluApproximation.Tanh), R(shape)),
        "Softplus" => (x => x.Softplus(), R(shape)),
        "Clamp" => (x => (x * 2.5).Clamp(-0.5, 0.7), Away(shape, 0.05, 0.4)),
        "Erf" => (x => x.Erf(), R(shape)),
        "PowScalar" => (x => x.Pow(3), R(shape)),
        "PowHalf" => (x => x.Pow(0.5), Away(shape, 0.2, 3, signed: false)),
        "Square" => (x => x.Square(), R(shape)),
        "Reciprocal" => (x => x.Reciprocal(), Away(shape, 0.3, 2)),
        "Sign" => (x => x.Sign() * x, Away(shape, 0.1, 2)),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(UnaryNames))]
    public void UnaryGradCheck(string name)
    {
        foreach (var shape in new[] { new int[0], [5], [3, 4] })
        {
            var (f, x) = Unary(name, shape);
            GradCheck.Assert(t => f(t[0]), [x]);
        }
        // non-contiguous input: a transposed view
        var (f2, x2) = Unary(name, [4, 3]);
        GradCheck.Assert(t => f2(t[0]), [x2.T]);
    }

    [Fact]
    public void ClampPassesGradientInsideInclusiveBounds()
    {
        var x = Tensor.FromArray(new[] { -1.0, -0.5, 0.0, 0.7, 2.0 }).RequiresGrad_();
        x.Clamp(-0.5, 0.7).Sum().Backward();
        Assert.Equal(new[] { 0.0, 1, 1, 1, 0 }, x.Grad!.ToArray<double>());
    }

    [Fact]
    public void KinkSubgradientsMatchPyTorch()
    {
        var x = Tensor.FromArray(new[] { 0.0, 0.0, 0.0 }).RequiresGrad_();
        (x.Abs() + x.Relu() + x.LeakyRelu(0.1)).Sum().Backward();
        // Abs'(0) = 0, Relu'(0) = 0, LeakyRelu'(0) = slope
        Assert.All(x.Grad!.ToArray<double>(), v => Assert.Equal(0.1, v, 12));
    }

    public static TheoryData<string> BinaryNames => new() { "Add", "Sub", "Mul", "Div", "Pow", "Maximum", "Minimum", "Remainder", "Where" };

    private static Tensor Binary(string name, Tensor a, Tensor b) => name switch
    {
        "Add" => a + b,
        "Sub" => a - b,
        "Mul" => a * b,
        "Div" => a / b,
        "Pow" => a.Pow(b),
        "Maximum" => Tensor.Maximum(a, b),
        "Minimum" => Tensor.Minimum(a, b),
        "Remainder" => a % b,
        "Where" => Tensor.Where(a.Detach().Gt(0.0), a, b),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(BinaryNames))]
    public void BinaryGradCheckWithBroadcasting(string name)
    {
        var shapes = new (int[] A, int[] B)[] { ([3, 4], [3, 4]), ([3, 4], [4]), ([2, 1, 4], [3, 1]), ([], [3]), ([3, 1], [1, 4]) };
        foreach (var (sa, sb) in shapes)
        {
            // positive bases for Pow, separated values for Maximum/Minimum, divisors away from 0
            var a = name == "Pow" ? Away(sa, 0.5, 2, signed: false) : Away(sa, 0.5, 2);
            var b = name is "Maximum" or "Minimum" ? Away(sb, 0.1, 0.4) + 1.0 : Away(sb, 0.5, 1.5);
            if (name == "Remainder") { a = Away(sa, 0.1, 0.4) + 2.0; b = Away(sb, 0.6, 0.9, signed: false); }
            GradCheck.Assert(t => Binary(name, t[0], t[1]), [a, b]);
        }
        // non-contiguous operands
        var an = (name == "Pow" ? Away([4, 3], 0.5, 2, signed: false) : Away([4, 3], 0.5, 2)).T;
        var bn = name == "Remainder" ? Away([4, 3], 0.6, 0.9, signed: false).T : Away([4, 3], 0.6, 1.5).T;
        if (name == "Remainder") an = (Away([4, 3], 0.1, 0.4) + 2.0).T;
        GradCheck.Assert(t => Binary(name, t[0], t[1]), [an, bn]);
    }

    [Fact]
    public void MaximumSplitsGradientEvenlyOnTies()
    {
        var a = Tensor.FromArray(new[] { 1.0, 2.0, 3.0 }).RequiresGrad_();
        var b = Tensor.FromArray(new[] { 1.0, 1.0, 4.0 }).RequiresGrad_();
        Tensor.Maximum(a, b).Sum().Backward();
        Assert.Equal(new[] { 0.5, 1, 0 }, a.Grad!.ToArray<double>());
        Assert.Equal(new[] { 0.5, 0, 1 }, b.Grad!.ToArray<double>());
    }

    [Fact]
    public void RemainderHasTheSignOfTheDivisor()
    {
        var a = Tensor.FromArray(new[] { 5.0, -5.0, 5.0, -5.0 });
        var b = Tensor.FromArray(new[] { 3.0, 3.0, -3.0, -3.0 });
        Assert.Equal(new[] { 2.0, 1, -1, -2 }, (a % b).ToArray<double>());
    }

    [Fact]
    public void ErfMatchesReferenceValues()
    {
        var x = Tensor.FromArray(new[] { 0.0, 0.5, 1.0, 2.0, 3.5, -1.0 });
        var want = new[] { 0.0, 0.5204998778130465, 0.8427007929497149, 0.9953222650189527, 0.9999992569016276, -0.8427007929497149 };
        var got = x.Erf().ToArray<double>();
        for (int i = 0; i < want.Length; i++) Assert.InRange(Math.Abs(want[i] - got[i]), 0, 1e-14);
    }

    [Fact]
    public void InPlaceOnNonLeafRebasesHistory()
    {
        var x = Tensor.FromArray(new[] { 1.0, 2.0 }).RequiresGrad_();
        var y = x * 3.0;
        y.AddInPlace(1.0);
        y.MulInPlace(2.0);
        y.Sum().Backward();
        Assert.Equal(new[] { 6.0, 6 }, x.Grad!.ToArray<double>());
        Assert.Equal(new[] { 8.0, 14 }, y.Detach().ToArray<double>());
    }

    [Fact]
    public void InPlaceOnLeafOutsideNoGradThrows()
    {
        var w = Tensor.Ones(3).RequiresGrad_();
        Assert.Throws<AutogradException>(() => w.AddInPlace(1.0));
        using (Autograd.NoGrad()) w.AddInPlace(1.0);
        Assert.Equal(new[] { 2f, 2, 2 }, w.ToArray<float>());
    }

    [Fact]
    public void SignOnTheVectorPathAndTheTail()
    {
        // (0 < x) − (x < 0) as PyTorch: ±0 → +0, NaN stays NaN, infinities and subnormals keep their sign; 37 elements
        // cover whole vectors and a scalar tail in both dtypes
        double[] special = [0.0, -0.0, double.NaN, double.PositiveInfinity, double.NegativeInfinity, 5e-324, -5e-324, 1e-40, -1e-40, 3.5, -2.0];
        var v = Enumerable.Range(0, 37).Select(i => special[i % special.Length] * (i >= special.Length ? 1.5 : 1)).ToArray();
        static double Want(double x) => double.IsNaN(x) ? double.NaN : (x > 0 ? 1 : 0) - (x < 0 ? 1 : 0);
        var got64 = Tensor.FromArray(v, v.Length).Sign().ToArray<double>();
        var got32 = Tensor.FromArray(v.Select(x => (float)x).ToArray(), v.Length).Sign().ToArray<float>();
        for (int i = 0; i < v.Length; i++)
        {
            double w64 = Want(v[i]), w32 = Want((float)v[i]);
            // bitwise (so -0 is caught), NaN against NaN
            Assert.True(BitConverter.DoubleToInt64Bits(w64) == BitConverter.DoubleToInt64Bits(got64[i]) || double.IsNaN(w64) && double.IsNaN(got64[i]),
                $"float64 sign({v[i]:R}) = {got64[i]:R}, want {w64}");
            Assert.True(BitConverter.SingleToInt32Bits((float)w32) == BitConverter.SingleToInt32Bits(got32[i]) || double.IsNaN(w32) && float.IsNaN(got32[i]),
                $"float32 sign({(float)v[i]:R}) = {got32[i]:R}, want {w32}");
        }
        Assert.Equal(-1.0, got64[4]);
        Assert.True(double.IsNaN(got64[2]) && float.IsNaN(got32[2]));
    }
}
