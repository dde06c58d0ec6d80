namespace Fluxion.Tests;

public class ShapeOpsTests
{
    private static Tensor R(params int[] shape) => Tensor.Randn(shape, DType.Float64);

    [Fact]
    public void ViewsShareStorageAndBumpVersionsTogether()
    {
        var x = Tensor.Arange(12).Reshape(3, 4);
        var t = x.T;
        Assert.False(t.IsContiguous);
        Assert.Same(x.Storage, t.Storage);
        Assert.Equal(x.Get(1, 2), t.Get(2, 1));
        int v = x.Version;
        t.Select(0, 1).FillInPlace(-1);
        Assert.Equal(v + 1, x.Version);
        Assert.Equal(-1, x.Get(2, 1));
    }

    [Fact]
    public void ReshapeOfNonContiguousCopiesAndViewThrows()
    {
        var t = Tensor.Arange(6).Reshape(2, 3).T;
        Assert.Throws<ShapeMismatchException>(() => t.View(6));
        Assert.Equal(new float[] { 0, 3, 1, 4, 2, 5 }, t.Reshape(-1).ToArray<float>());
    }

    [Fact]
    public void IndexingMatchesPyTorchSemantics()
    {
        var x = Tensor.Arange(24).Reshape(2, 3, 4);
        Assert.Equal(new[] { 3, 4 }, x[1].ShapeArray);
        Assert.Equal(new[] { 2, 2 }, x[.., 1..3, 0].ShapeArray);
        Assert.Equal(23, x[^1, ^1, ^1].Item());
        Assert.Equal(new[] { 2, 3 }, x[TensorIndex.Ellipsis, 2].ShapeArray);
        Assert.Equal(new[] { 2, 1, 3, 4 }, x[.., TensorIndex.NewAxis].ShapeArray);
        Assert.Equal(new float[] { 1, 3 }, x[0, 0].Slice(0, 1, null, 2).ToArray<float>());
    }

    /// <summary>The views and reductions that are registry entries (Reshape, Permute, Transpose, Expand, Slice, Select,
    /// Narrow, Squeeze, Unsqueeze, Flatten, Sum, Mean) are gradient-checked on their registry samples
    /// (<see cref="RegistrySweepTests"/>); these three are not ops of their own: the indexer (a chain of Slice/Select),
    /// Contiguous of a permuted view, and SumTo (broadcasting's reverse).</summary>
    [Fact]
    public void IndexerContiguousAndSumToGradCheck()
    {
        Func<Tensor, Tensor>[] calls =
        [
            x => x[.., 1.., ^1].Square(),
            x => x.Permute(1, 0, 2).Contiguous().Square(),
            x => x.SumTo([3, 1]).Square(),
        ];
        foreach (var f in calls)
        {
            GradCheck.Assert(t => f(t[0]), [R(2, 3, 4)]);
            // non-contiguous input with the same logical shape
            GradCheck.Assert(t => f(t[0]), [R(4, 3, 2).Permute(2, 1, 0)]);
        }
    }

    [Fact]
    public void SliceGradientPlacesValuesAtSlicedPositions()
    {
        var x = Tensor.Zeros([6], DType.Float64).RequiresGrad_();
        x.Slice(0, 1, 6, 2).Sum().Backward();
        Assert.Equal(new[] { 0.0, 1, 0, 1, 0, 1 }, x.Grad!.ToArray<double>());
    }
}
