namespace Fluxion.Tests;

/// <summary>Conventions of the elementwise primitives that a gradient check cannot see: subgradients at kinks, ties,
/// signs, reference values, in-place rules. The gradient checks themselves (float64, first and second order, 0-d,
/// broadcast, non-contiguous and empty inputs) are generated from the registry's samples (<see cref="RegistrySweepTests"/>).</summary>
public class ElementwiseTests
{
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
