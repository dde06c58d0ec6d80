namespace Fluxion.Tests;

/// <summary>Gradient ownership in the backward engine: a leaf's first gradient is stored without a copy only when
/// the pass made it and nothing else holds it; a user's seed, another leaf's gradient, a hook's or retained
/// gradient is never aliased by <c>.Grad</c>.</summary>
public class GradOwnershipTests
{
    private static Tensor Seed(int n = 12) => Tensor.Linspace(1, 2, n, DType.Float64).Reshape(3, n / 3);

    private static Tensor Leaf() => Tensor.Linspace(-1, 1, 12, DType.Float64).Reshape(3, 4).RequiresGrad_();

    private static void AssertValues(Tensor want, Tensor got)
    {
        Assert.Equal(want.ShapeArray, got.ShapeArray);
        var w = want.Contiguous().ToArray<double>();
        var g = got.Contiguous().ToArray<double>();
        for (int i = 0; i < w.Length; i++) Assert.Equal(w[i], g[i], 12);
    }

    /// <summary>Mutating .Grad in place leaves the seed alone (for ops whose backward passes the seed or a view of it on).</summary>
    [Theory]
    [InlineData("clone")]
    [InlineData("add0")]
    [InlineData("reshape")]
    [InlineData("view")]
    [InlineData("transpose2")]
    [InlineData("leaf")]
    public void SeedIsNeverAliased(string op)
    {
        var x = Leaf();
        var y = op switch
        {
            "clone" => x.Clone(),
            "add0" => x + 0.0,
            "reshape" => x.Reshape(12),
            "view" => x.View(2, 6),
            "transpose2" => x.T.T,
            _ => x,
        };
        var seed = Tensor.Linspace(1, 2, 12, DType.Float64).Reshape(y.ShapeArray);
        var before = seed.Clone();
        y.Backward(seed);
        Assert.NotSame(seed.Storage, x.Grad!.Storage);
        x.Grad.AddInPlace(100.0);
        AssertValues(before, seed);
    }

    [Fact]
    public void TwoLeavesNeverShareAGradient()
    {
        var a = Leaf();
        var b = Leaf();
        ((a + b) * 2.0).Backward(Seed()); // the product's gradient goes to both leaves
        Assert.NotSame(a.Grad!.Storage, b.Grad!.Storage);
        a.Grad.AddInPlace(1.0);
        AssertValues(Seed() * 2.0, b.Grad);
        AssertValues(Seed() * 2.0 + 1.0, a.Grad);

        var c = Leaf();
        (c + c).Backward(Seed()); // the same gradient tensor reaches one leaf twice
        AssertValues(Seed() * 2.0, c.Grad!);
    }

    /// <summary>The backward of neg makes one gradient buffer, which becomes .Grad (no second copy).</summary>
    [Fact]
    public void OwnedGradientIsStoredWithoutACopy()
    {
        var x = Tensor.Linspace(-1, 1, 4096, DType.Float32).Reshape(64, 64).RequiresGrad_();
        var seed = Tensor.OnesLike(x);
        var y = -x;
        int big = 0;
        Storage.AllocationObserver = s => { if (s.Length >= 4096) big++; };
        try { y.Backward(seed); }
        finally { Storage.AllocationObserver = null; }
        Assert.Equal(1, big);
        Assert.True(x.Grad!.IsContiguous);
        Assert.Equal(-1f, x.Grad.ToArray<float>()[17]);
    }

    [Fact]
    public void AccumulatesAcrossBackwardCallsAndRetainedGraphs()
    {
        var x = Leaf();
        (-x).Backward(Seed());
        var first = x.Grad!.Clone();
        (-x).Backward(Seed());
        AssertValues(first * 2.0, x.Grad!);

        var z = Leaf();
        var y = (z * 3.0).Neg();
        y.Backward(Seed(), retainGraph: true);
        y.Backward(Seed());
        AssertValues(Seed() * -6.0, z.Grad!);
    }

    [Fact]
    public void GradientsSummedInOnePassAreRight()
    {
        var x = Leaf();
        var seed = Seed();
        (x * 2.0 + x * 3.0 - x.Neg()).Backward(seed);
        AssertValues(seed * 6.0, x.Grad!);
        AssertValues(Seed(), seed);
    }

    [Fact]
    public void TensorHookThatKeepsTheGradientIsNotAliased()
    {
        var x = Leaf();
        Tensor? kept = null;
        var z = x.Clone(); // its backward passes the gradient on unchanged
        z.RegisterHook(g => { kept = g; return null; });
        (z * 3.0).Backward(Seed());
        var keptBefore = kept!.Clone();
        x.Grad!.AddInPlace(50.0);
        AssertValues(keptBefore, kept);
        AssertValues(Seed() * 3.0 + 50.0, x.Grad);
    }

    [Fact]
    public void LeafHookThatKeepsTheGradientIsNotAliased()
    {
        var x = Leaf();
        Tensor? kept = null;
        x.RegisterHook(g => { kept = g; return null; });
        (x * 3.0).Backward(Seed());
        var keptBefore = kept!.Clone();
        x.Grad!.AddInPlace(50.0);
        AssertValues(keptBefore, kept);

        var w = Leaf();
        w.RegisterHook(g => g * 2.0); // a hook's result is stored
        (w * 3.0).Backward(Seed());
        AssertValues(Seed() * 6.0, w.Grad!);
    }

    [Fact]
    public void RetainedGradDoesNotAliasTheLeafGradient()
    {
        var x = Leaf();
        var z = x.Clone();
        z.RetainGrad();
        (z * 3.0).Backward(Seed());
        Assert.NotSame(z.Grad!.Storage, x.Grad!.Storage);
        x.Grad.AddInPlace(7.0);
        AssertValues(Seed() * 3.0, z.Grad);
    }

    [Fact]
    public void CreateGraphKeepsTheGradientDifferentiable()
    {
        var x = Leaf();
        (x * x).Backward(Seed(), createGraph: true);
        Assert.True(x.Grad!.RequiresGrad);
        AssertValues(x.Detach() * 2.0 * Seed(), x.Grad);
        var g2 = Autograd.Grad([x.Grad.Sum()], [x])[0]!;
        AssertValues(Seed() * 2.0, g2);
    }

    /// <summary>Gradients of views: values, and a leaf's .Grad keeps the leaf's (contiguous) layout.</summary>
    [Fact]
    public void ViewGradientValues()
    {
        var seed34 = Seed();
        var x = Leaf();
        x.T.Backward(seed34.T.Contiguous());
        AssertValues(seed34, x.Grad!);
        Assert.True(x.Grad!.IsContiguous);

        x = Leaf();
        x.Permute(1, 0).Unsqueeze(0).Flatten().Backward(Tensor.Arange(12, DType.Float64));
        AssertValues(Tensor.Arange(12, DType.Float64).Reshape(4, 3).T, x.Grad!);
        Assert.True(x.Grad!.IsContiguous);

        x = Leaf();
        x.Narrow(1, 1, 2).Backward(Tensor.Ones([3, 2], DType.Float64));
        AssertValues(Tensor.FromArray(new double[] { 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0 }).Reshape(3, 4), x.Grad!);

        x = Leaf();
        x.Select(0, 2).Backward(Tensor.Arange(4, DType.Float64));
        AssertValues(Tensor.FromArray(new double[] { 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3 }).Reshape(3, 4), x.Grad!);

        x = Leaf();
        x.Diagonal().Backward(Tensor.FromArray(new double[] { 5, 6, 7 }));
        AssertValues(Tensor.FromArray(new double[] { 5, 0, 0, 0, 0, 6, 0, 0, 0, 0, 7, 0 }).Reshape(3, 4), x.Grad!);

        x = Leaf();
        x.Sum().Backward();
        AssertValues(Tensor.Ones([3, 4], DType.Float64), x.Grad!);
        x.Grad!.AddInPlace(1.0);
        x.Sum().Backward();
        AssertValues(Tensor.Full([3, 4], 3.0, DType.Float64), x.Grad!);
    }
}
