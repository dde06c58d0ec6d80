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

    public static TheoryData<string> Names => new() { "Reshape", "Permute", "Transpose", "Expand", "Slice", "SliceStep", "Select", "Narrow", "Squeeze", "Unsqueeze", "Flatten", "Index", "Contiguous", "SumTo", "Sum", "SumKeep", "Mean", "MeanDims" };

    private static Tensor Apply(string name, Tensor x) => name switch
    {
        "Reshape" => x.Reshape(4, -1).Sin(),
        "Permute" => x.Permute(2, 0, 1) * Tensor.Arange(4, DType.Float64).Reshape(4, 1, 1),
        "Transpose" => x.Transpose(0, 2).Exp(),
        "Expand" => x.Narrow(1, 0, 1).Expand(3, 2, 3, 4).Square(),
        "Slice" => x.Slice(2, 1, 3).Square(),
        "SliceStep" => x.Slice(2, 0, null, 2).Square(),
        "Select" => x.Select(1, -1).Square(),
        "Narrow" => x.Narrow(0, 1, 1).Square(),
        "Squeeze" => x.Narrow(0, 0, 1).Squeeze().Square(),
        "Unsqueeze" => x.Unsqueeze(1).Square(),
        "Flatten" => x.Flatten(1).Square(),
        "Index" => x[.., 1.., ^1].Square(),
        "Contiguous" => x.Permute(1, 0, 2).Contiguous().Square(),
        "SumTo" => x.SumTo([3, 1]).Square(),
        "Sum" => x.Square().Sum(),
        "SumKeep" => x.Square().Sum(-1, keepDim: true),
        "Mean" => x.Square().Mean(0),
        "MeanDims" => x.Square().Mean([0, 2], keepDim: true),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Names))]
    public void GradCheck2(string name)
    {
        GradCheck.Assert(t => Apply(name, t[0]), [R(2, 3, 4)]);
        // non-contiguous input with the same logical shape
        GradCheck.Assert(t => Apply(name, t[0]), [R(4, 3, 2).Permute(2, 1, 0)]);
    }

    [Fact]
    public void SliceGradientPlacesValuesAtSlicedPositions()
    {
        var x = Tensor.Zeros([6], DType.Float64).RequiresGrad_();
        x.Slice(0, 1, 6, 2).Sum().Backward();
        Assert.Equal(new[] { 0.0, 1, 0, 1, 0, 1 }, x.Grad!.ToArray<double>());
    }
}
