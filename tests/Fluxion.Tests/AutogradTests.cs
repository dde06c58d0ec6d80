namespace Fluxion.Tests;

public class AutogradTests
{
    private static Tensor D(params double[] v) => Tensor.FromArray(v);

    [Fact]
    public void TanhFromExpsSumsEachPathOnce()
    {
        var x = Tensor.Linspace(-2, 2, 9, DType.Float64).RequiresGrad_();
        var ep = x.Exp();
        var en = (-x).Exp();
        var y = (ep - en) / (ep + en);
        y.Sum().Backward();
        var expected = x.Detach().Tanh();
        var want = (1.0 - expected * expected).ToArray<double>();
        var got = x.Grad!.ToArray<double>();
        for (int i = 0; i < want.Length; i++) Assert.Equal(want[i], got[i], 12);
    }

    [Fact]
    public void PolynomialDerivativesToFourthOrder()
    {
        var x = Tensor.Linspace(-3, 3, 25, DType.Float64).RequiresGrad_();
        var f = x.Pow(4) - 2 * x.Pow(3) + 3 * x.Pow(2) - 4 * x + 5;
        var d1 = Autograd.Grad([f.Sum()], [x], createGraph: true)[0]!;
        var d2 = Autograd.Grad([d1.Sum()], [x], createGraph: true)[0]!;
        var d3 = Autograd.Grad([d2.Sum()], [x], createGraph: true)[0]!;
        var d4 = Autograd.Grad([d3.Sum()], [x], createGraph: true)[0]!;
        var xs = x.ToArray<double>();
        for (int i = 0; i < xs.Length; i++)
        {
            double v = xs[i];
            Assert.Equal(4 * v * v * v - 6 * v * v + 6 * v - 4, d1.Get(i), 9);
            Assert.Equal(12 * v * v - 12 * v + 6, d2.Get(i), 9);
            Assert.Equal(24 * v - 12, d3.Get(i), 9);
            Assert.Equal(24, d4.Get(i), 9);
        }
    }

    [Fact]
    public void LongChainBackpropagatesWithoutRecursion()
    {
        var x = Tensor.Scalar(1.0, DType.Float64).RequiresGrad_();
        var y = x;
        for (int i = 0; i < 100_000; i++) y = y * 1.0000001;
        y.Backward();
        Assert.Equal(Math.Pow(1.0000001, 100_000), x.Grad!.Item(), 9);
    }

    [Fact]
    public void MatMulGradientMatchesClosedForm()
    {
        var a = Tensor.Randn([3, 4], DType.Float64).RequiresGrad_();
        var b = Tensor.Randn([4, 5], DType.Float64).RequiresGrad_();
        a.MatMul(b).Sum().Backward();
        var ga = Tensor.Ones([3, 5], DType.Float64).MatMul(b.Detach().T);
        Assert.Equal(ga.ToArray<double>(), a.Grad!.ToArray<double>());
    }
}
