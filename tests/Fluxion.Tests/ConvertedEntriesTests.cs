namespace Fluxion.Tests;

/// <summary>
/// The ops whose rules moved from call-site closures into their registry entries keep their node names,
/// their saved-tensor checks (index tensors ride along as saved non-differentiable inputs) and what they do not save.
/// </summary>
public class ConvertedEntriesTests
{
    private static Tensor R(int seed, params int[] shape) => Tensor.Randn(shape, DType.Float64, new Generator(seed));

    [Fact]
    public void NodeNamesAreTheEntryNamePlusBackward()
    {
        var x = R(1, 2, 3).RequiresGrad_();
        var idx = Tensor.FromArray(new long[] { 0, 2, 1, 0, 1, 1 }, 2, 3);
        Assert.Equal("SumBackward", x.Sum().GradFnName);
        Assert.Equal("MaxAlongBackward", x.Max(1).Values.GradFnName);
        Assert.Equal("GatherBackward", x.Gather(1, idx).GradFnName);
        Assert.Equal("ReshapeBackward", x.Reshape(6).GradFnName);
        Assert.Equal("PermuteBackward", x.T.GradFnName);
        Assert.Equal("CatBackward", Tensor.Cat([x, x], 0).GradFnName);
        Assert.Equal("LinearBackward", Tensor.Linear(x, R(2, 4, 3)).GradFnName);
        Assert.Equal("ChannelNormBackward", Tensor.LayerNorm(x, [3]).GradFn!.Next[0]!.Value.Node.Name);
        Assert.Equal("Conv2dBackward", Tensor.Conv2d(R(3, 1, 1, 3, 3).RequiresGrad_(), R(4, 1, 1, 2, 2)).GradFnName);
    }

    [Fact]
    public void SavedIndexModifiedInPlaceIsCaught()
    {
        var x = R(5, 3, 4).RequiresGrad_();
        var (v, i) = x.Max(1);
        i.Storage.BumpVersion(); // as an in-place write into the indices would
        var e = Assert.Throws<InPlaceModificationException>(() => v.Sum().Backward());
        Assert.Contains("MaxAlongBackward", e.Message);

        var idx = Tensor.FromArray(new long[] { 0, 2 });
        var y = x.IndexSelect(0, idx);
        idx.Storage.BumpVersion();
        Assert.Throws<InPlaceModificationException>(() => y.Sum().Backward());
    }

    [Fact]
    public void UnreadInputsAreNotVersionChecked()
    {
        // Sum reads nothing in backward; BatchNorm with only a bias reads x (not the bias)
        var x = R(6, 4, 3).RequiresGrad_();
        var s = x.Sum();
        using (Autograd.NoGrad()) x.AddInPlace(1.0);
        s.Backward();
        Assert.Equal(Enumerable.Repeat(1.0, 12), x.Grad!.ToDoubleArray());

        var b = R(7, 3).RequiresGrad_();
        var y = Tensor.BatchNorm(R(8, 4, 3).RequiresGrad_(), null, null, null, b, training: true);
        using (Autograd.NoGrad()) b.AddInPlace(1.0);
        y.Sum().Backward();
        Assert.Equal(Enumerable.Repeat(4.0, 3), b.Grad!.ToDoubleArray());
    }
}
