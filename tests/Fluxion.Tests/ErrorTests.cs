namespace Fluxion.Tests;

// Misuse raises a Fluxion exception of the right type whose message names the op, the shapes,
// dtypes or versions involved, and the fix.
public class ErrorTests
{
    private static Tensor F(params float[] v) => Tensor.FromArray(v);
    private static Tensor D(params double[] v) => Tensor.FromArray(v);

    private static void Contains(string message, params string[] parts)
    {
        foreach (var p in parts) Assert.Contains(p, message);
    }

    [Fact]
    public void BroadcastMismatchNamesOpAndBothShapes()
    {
        var a = Tensor.Zeros(2, 3);
        var b = Tensor.Zeros(4, 2);
        var e = Assert.Throws<ShapeMismatchException>(() => a + b);
        Contains(e.Message, "Add", "[2, 3]", "[4, 2]", "broadcast");
        e = Assert.Throws<ShapeMismatchException>(() => a * Tensor.Zeros(2));
        Contains(e.Message, "Mul", "[2, 3]", "[2]");
    }

    [Fact]
    public void MatMulMismatchNamesBothShapes()
    {
        var e = Assert.Throws<ShapeMismatchException>(() => Tensor.Zeros(2, 3).MatMul(Tensor.Zeros(2, 3)));
        Contains(e.Message, "MatMul", "[2, 3]", "inner dimensions differ (3 vs 2)");
        e = Assert.Throws<ShapeMismatchException>(() => Tensor.Zeros(5, 2, 3).MatMul(Tensor.Zeros(4, 3, 2)));
        Contains(e.Message, "MatMul", "[5, 2, 3]", "[4, 3, 2]", "batch");
        e = Assert.Throws<ShapeMismatchException>(() => Tensor.Zeros(3).MatMul(Tensor.Zeros(4)));
        Contains(e.Message, "MatMul", "[3]", "[4]");
    }

    [Fact]
    public void BackwardOnNonScalarNeedsASeed()
    {
        var x = F(1, 2, 3).RequiresGrad_();
        var y = x * 2;
        var e = Assert.Throws<AutogradException>(() => y.Backward());
        Contains(e.Message, "scalar", "[3]", "Backward(seed)", "Sum()");
        y.Backward(Tensor.OnesLike(y)); // with a seed it works
        Assert.Equal([2f, 2f, 2f], x.Grad!.ToArray<float>());
    }

    [Fact]
    public void BackwardOnTensorWithoutGradIsExplained()
    {
        var e = Assert.Throws<AutogradException>(() => F(1, 2).Sum().Backward());
        Contains(e.Message, "does not require grad", "RequiresGrad = true");
    }

    [Fact]
    public void SecondBackwardThroughFreedGraphAsksForRetainGraph()
    {
        var x = F(1, 2).RequiresGrad_();
        var y = (x * x).Sum();
        y.Backward();
        var e = Assert.Throws<AutogradException>(() => y.Backward());
        Contains(e.Message, "second time", "retainGraph: true");

        // retainGraph keeps it usable
        var z = (x * x).Sum();
        z.Backward(retainGraph: true);
        z.Backward();
    }

    [Fact]
    public void SavedTensorModifiedInPlaceNamesOpAndVersions()
    {
        var x = F(1, 2).RequiresGrad_();
        var w = F(3, 4);
        var y = (x * w).Sum(); // MulBackward saves w
        w.MulInPlace(2);
        var e = Assert.Throws<InPlaceModificationException>(() => y.Backward());
        Contains(e.Message, "MulBackward", "modified by an in-place operation", "version 0", "version 1", "Clone()");

        var a = (x * 1).Exp(); // ExpBackward saves its output
        a.AddInPlace(1);
        a.AddInPlace(1);
        e = Assert.Throws<InPlaceModificationException>(() => a.Sum().Backward());
        Contains(e.Message, "ExpBackward", "version 0", "version 2");
        Assert.IsAssignableFrom<AutogradException>(e);
    }

    [Fact]
    public void RequiresGradOnIntegerTensorIsRejected()
    {
        var i = Tensor.FromArray(new long[] { 1, 2 });
        var e = Assert.Throws<DTypeMismatchException>(() => i.RequiresGrad = true);
        Contains(e.Message, "RequiresGrad", "floating-point", "int64", "To(DType.Float32)");
        var b = Tensor.FromArray(new[] { true });
        e = Assert.Throws<DTypeMismatchException>(() => b.RequiresGrad_());
        Contains(e.Message, "bool");
        i.RequiresGrad = false; // turning it off is harmless
    }

    [Fact]
    public void MixedFloatDTypesPromoteInElementwiseOpsButNotInMatMul()
    {
        Assert.Equal(DType.Float64, (F(1, 2) + D(1, 2)).DType); // type promotion, as PyTorch
        var e = Assert.Throws<DTypeMismatchException>(() => Tensor.Zeros([2, 2], DType.Float64).MatMul(Tensor.Zeros(2, 2)));
        Contains(e.Message, "MatMul", "float64", "float32", "To(");
    }

    [Fact]
    public void GradOfNonLeafIsNullUnlessRetained()
    {
        var x = D(1, 2).RequiresGrad_();
        var h = x * 3;
        var y = (h * h).Sum();
        y.Backward(retainGraph: true);
        Assert.Null(h.Grad);
        Assert.False(h.IsLeaf);
        Assert.Equal([18.0, 36.0], x.Grad!.ToArray<double>());

        h.RetainGrad();
        y.Backward();
        Assert.Equal([6.0, 12.0], h.Grad!.ToArray<double>()); // dy/dh = 2h
        Assert.Equal([36.0, 72.0], x.Grad!.ToArray<double>()); // accumulated twice
    }

    [Fact]
    public void SettingRequiresGradOnNonLeafIsRejected()
    {
        var y = F(1).RequiresGrad_() * 2;
        var e = Assert.Throws<AutogradException>(() => y.RequiresGrad = false);
        Contains(e.Message, "leaf", "MulBackward", "Detach()");
    }
}
