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
        // equal up to rounding: the two products see different layouts (the seed gradient is an expanded
        // scalar), so the GEMM may sum in a different order
        var want = ga.ToArray<double>();
        var got = a.Grad!.ToArray<double>();
        for (int i = 0; i < want.Length; i++) Assert.Equal(want[i], got[i], 1e-12);
    }

    [Fact]
    public void GradAccumulatesAcrossBackwardCalls()
    {
        var x = Tensor.FromArray(new[] { 2.0 }).RequiresGrad_();
        (x * x).Sum().Backward();
        (x * 3.0).Sum().Backward();
        Assert.Equal(7.0, x.Grad!.Item());
    }

    [Fact]
    public void NonLeafGradIsNullUnlessRetained()
    {
        var x = Tensor.FromArray(new[] { 1.0, 2.0 }).RequiresGrad_();
        var y = x * 2.0;
        var z = y * 3.0;
        z.RetainGrad();
        (z * z).Sum().Backward();
        Assert.Null(y.Grad);
        Assert.Equal(new[] { 12.0, 24.0 }, z.Grad!.ToArray<double>());
        Assert.True(y.Grad is null && !y.IsLeaf);
    }

    [Fact]
    public void HooksSeeAndReplaceGradients()
    {
        var x = Tensor.FromArray(new[] { 1.0, 2.0 }).RequiresGrad_();
        Tensor? seen = null;
        x.RegisterHook(g => g * 10.0);
        var y = x * x;
        var remove = y.RegisterHook(g => { seen = g; return null; });
        y.Sum().Backward();
        Assert.Equal(new[] { 1.0, 1.0 }, seen!.ToArray<double>());
        Assert.Equal(new[] { 20.0, 40.0 }, x.Grad!.ToArray<double>());
        remove();
    }

    [Fact]
    public void NoGradScopesAreNestedAndThreadLocal()
    {
        var x = Tensor.Ones(2).RequiresGrad_();
        using (Autograd.NoGrad())
        {
            Assert.False((x * 2.0).RequiresGrad);
            using (Autograd.EnableGrad()) Assert.True((x * 2.0).RequiresGrad);
            bool other = false;
            var t = new Thread(() => other = (x * 2.0).RequiresGrad);
            t.Start();
            t.Join();
            Assert.True(other);
            Assert.False(Autograd.IsGradEnabled);
        }
        Assert.True(Autograd.IsGradEnabled);
    }

    [Fact]
    public void GradWithRespectToNonLeafAndUnusedInputs()
    {
        var x = Tensor.FromArray(new[] { 1.0, 2.0 }).RequiresGrad_();
        var u = Tensor.FromArray(new[] { 5.0 }).RequiresGrad_();
        var h = x.Exp();
        var y = (h * h).Sum();
        var g = Autograd.Grad([y], [h, u], allowUnused: true);
        Assert.Equal((2.0 * h.Detach()).ToArray<double>(), g[0]!.ToArray<double>());
        Assert.Null(g[1]);
        Assert.Null(x.Grad);
        Assert.Throws<AutogradException>(() => Autograd.Grad([(x * 2.0).Sum()], [u]));
    }

    [Fact]
    public void DetachCutsTheGraph()
    {
        var x = Tensor.FromArray(new[] { 3.0 }).RequiresGrad_();
        var y = x * x.Detach();
        y.Sum().Backward();
        Assert.Equal(3.0, x.Grad!.Item());
    }

    [Fact]
    public void BackwardWithSeedAndMultipleRoots()
    {
        var x = Tensor.FromArray(new[] { 1.0, 2.0 }).RequiresGrad_();
        var y = x * 2.0;
        y.Backward(Tensor.FromArray(new[] { 1.0, 10.0 }));
        Assert.Equal(new[] { 2.0, 20.0 }, x.Grad!.ToArray<double>());
        x.Grad = null;
        var a = x.Sum();
        var b = (x * x).Sum();
        Autograd.Backward([a, b]);
        Assert.Equal(new[] { 3.0, 5.0 }, x.Grad!.ToArray<double>());
    }

    [Fact]
    public void UnneededBranchesAreNotDifferentiated()
    {
        // W2 does not require grad: its MatMul backward must not compute a gradient for it,
        // and Autograd.Grad for x alone must not run nodes that only lead to w.
        var x = Tensor.Randn([4, 3], DType.Float64).RequiresGrad_();
        var w = Tensor.Randn([3, 3], DType.Float64).RequiresGrad_();
        int calls = 0;
        var w2 = w * 2.0;
        w2.RegisterHook(g => { calls++; return null; });
        var y = x.MatMul(w2).Tanh().Sum();
        Autograd.Grad([y], [x], retainGraph: true);
        Assert.Equal(0, calls);
        Autograd.Grad([y], [w]);
        Assert.Equal(1, calls);
    }
}
