using Fluxion.Nn;

namespace Fluxion.Tests;

public class NormTests
{
    private static Tensor R(int seed, params int[] shape) => Tensor.Randn(shape, DType.Float64, new Generator(seed));

    public static IEnumerable<object[]> GoldenCases() =>
        LayerGolden.CasesFor("BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm", "InstanceNorm2d");

    [Theory]
    [MemberData(nameof(GoldenCases))]
    public void MatchesPyTorch(string id) => LayerGolden.Check(id);

    // ---- gradient checks (float64; first and second order, reverse and forward mode) ----------

    [Fact]
    public void BatchNormGradCheck()
    {
        // training: batch statistics (the running buffers are updated outside autograd)
        GradCheck.Assert(t => Tensor.BatchNorm(t[0], null, null, t[1], t[2], training: true), [R(1, 3, 2, 2, 2), R(2, 2), R(3, 2)]);
        GradCheck.Assert(t => Tensor.BatchNorm(t[0], null, null, training: true, eps: 1e-3), [R(4, 4, 3)]);
        // eval: running statistics
        var rm = R(5, 2);
        var rv = R(6, 2).Abs() + 0.5;
        GradCheck.Assert(t => Tensor.BatchNorm(t[0], rm, rv, t[1], t[2]), [R(7, 2, 2, 3), R(8, 2), R(9, 2)]);
    }

    [Fact]
    public void LayerGroupInstanceNormGradCheck()
    {
        GradCheck.Assert(t => Tensor.LayerNorm(t[0], [4], t[1], t[2]), [R(10, 3, 4), R(11, 4), R(12, 4)]);
        GradCheck.Assert(t => Tensor.LayerNorm(t[0], [2, 3]), [R(13, 2, 2, 3).Transpose(1, 2).Transpose(1, 2)]);
        GradCheck.Assert(t => Tensor.GroupNorm(t[0], 2, t[1], t[2]), [R(14, 2, 4, 3), R(15, 4), R(16, 4)]);
        GradCheck.Assert(t => Tensor.InstanceNorm(t[0], weight: t[1], bias: t[2]), [R(17, 2, 2, 2, 3), R(18, 2), R(19, 2)]);
    }

    // ---- behaviour --------------------------------------------------------------------------

    [Fact]
    public void BatchNormRunningStatsAndEval()
    {
        var bn = new BatchNorm2d(2, dtype: DType.Float64);
        Assert.Equal(new[] { "weight", "bias", "running_mean", "running_var", "num_batches_tracked" }, bn.StateDict().Keys.ToArray());
        var x = R(20, 4, 2, 3, 3) * 2 + 1;
        var y = bn.Forward(x);
        // normalized per channel: mean 0, population variance 1 - eps/(var+eps)
        var m = y.Mean([0, 2, 3]).ToDoubleArray();
        Assert.All(m, v => Assert.InRange(Math.Abs(v), 0, 1e-12));
        var bm = x.Mean([0, 2, 3]).ToDoubleArray();
        var bv = x.Var([0, 2, 3]).ToDoubleArray(); // unbiased
        Assert.Equal(bm.Select(v => 0.1 * v).ToArray(), bn.RunningMean!.ToDoubleArray(), new ToleranceComparer(1e-12));
        Assert.Equal(bv.Select(v => 0.9 + 0.1 * v).ToArray(), bn.RunningVar!.ToDoubleArray(), new ToleranceComparer(1e-12));
        Assert.Equal(1L, bn.NumBatchesTracked!.ToArray<long>()[0]);
        bn.Eval();
        var ye = bn.Forward(x);
        var expected = (x - bn.RunningMean.Reshape(1, 2, 1, 1)) / (bn.RunningVar.Reshape(1, 2, 1, 1) + 1e-5).Sqrt();
        Assert.Equal(expected.ToDoubleArray(), ye.ToDoubleArray(), new ToleranceComparer(1e-12));
        Assert.Equal(1L, bn.NumBatchesTracked.ToArray<long>()[0]);
        // a parameter update does not touch the buffers; gradients reach weight and bias
        bn.Train();
        bn.Forward(x).Square().Sum().Backward();
        Assert.NotNull(bn.Weight!.Grad);
        Assert.NotNull(bn.Bias!.Grad);
        Assert.False(bn.RunningMean.RequiresGrad);
    }

    [Fact]
    public void BatchNormToFloat64MovesBuffersAndKeepsProperties()
    {
        var bn = new BatchNorm1d(3);
        bn.To(DType.Float64);
        Assert.Equal(DType.Float64, bn.RunningMean!.DType);
        Assert.Same(bn.StateDict()["running_mean"], bn.RunningMean);
        Assert.Equal(DType.Int64, bn.NumBatchesTracked!.DType);
        bn.Forward(R(21, 5, 3));
        Assert.NotEqual(0.0, bn.RunningMean.ToDoubleArray().Select(Math.Abs).Sum());
        var copy = (BatchNorm1d)bn.DeepClone();
        Assert.Same(copy.StateDict()["running_var"], copy.RunningVar);
        Assert.NotSame(bn.RunningVar, copy.RunningVar);
    }

    [Fact]
    public void BatchNormWithoutRunningStatsUsesBatchStatsInEval()
    {
        var bn = new BatchNorm1d(2, trackRunningStats: false, affine: false);
        Assert.Empty(bn.StateDict());
        bn.Eval();
        var x = R(22, 5, 2);
        Assert.Equal(((x - x.Mean(0)) / (x.Var(0, correction: 0) + 1e-5).Sqrt()).ToDoubleArray(), bn.Forward(x).ToDoubleArray(), new ToleranceComparer(1e-12));
    }

    [Fact]
    public void NormLayersWorkUnderForwardModeAndSecondOrder()
    {
        var ln = new LayerNorm(4).To(DType.Float64);
        var x = R(23, 2, 4);
        var v = R(24, 2, 4);
        var (_, jvp) = Functional.Jvp(t => ln.Forward(t), x, v);
        var u = R(25, 2, 4);
        var vjp = Functional.Vjp(t => ln.Forward(t[0]), [x], u).Vjp[0];
        // Hessian-vector product of a scalar through the layer (forward over reverse)
        var hv = Functional.Hvp(t => ln.Forward(t).Square().Sum(), x, v);
        Assert.Equal(x.ShapeArray, hv.ShapeArray);
        Assert.Equal((u * jvp).Sum().Item(), (vjp * v).Sum().Item(), 10);
    }

    [Fact]
    public void InstanceNormDefaultsAndTracking()
    {
        var inorm = new InstanceNorm2d(3);
        Assert.Empty(inorm.Parameters());
        Assert.Empty(inorm.StateDict());
        Assert.Equal("InstanceNorm2d(3, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False)", inorm.ToString());
        var x = Tensor.Randn(2, 3, 4, 4);
        var y = inorm.Forward(x);
        Assert.All(y.Mean([2, 3]).ToDoubleArray(), m => Assert.InRange(Math.Abs(m), 0, 1e-6));
        // unbatched input and a channel count that differs (allowed without affine/stats, as PyTorch)
        Assert.Equal([5, 4, 4], inorm.Forward(Tensor.Randn(5, 4, 4)).ShapeArray);
        var affine = new InstanceNorm2d(3, affine: true);
        Assert.Throws<ShapeMismatchException>(() => affine.Forward(Tensor.Randn(2, 4, 3, 3)));
    }

    [Fact]
    public void ReprsFollowPyTorch()
    {
        Assert.Equal("BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)", new BatchNorm2d(16).ToString());
        Assert.Equal("BatchNorm1d(4, eps=0.001, momentum=None, affine=False, track_running_stats=True)", new BatchNorm1d(4, 1e-3, null, affine: false).ToString());
        Assert.Equal("LayerNorm((10,), eps=1e-05, elementwise_affine=True)", new LayerNorm(10).ToString());
        Assert.Equal("LayerNorm((3, 4), eps=1e-05, elementwise_affine=False)", new LayerNorm([3, 4], elementwiseAffine: false).ToString());
        Assert.Equal("GroupNorm(2, 6, eps=1e-05, affine=True)", new GroupNorm(2, 6).ToString());
    }

    [Fact]
    public void ErrorsNameTheLayerAndShapes()
    {
        var bn = new BatchNorm2d(3);
        var e = Assert.Throws<ShapeMismatchException>(() => bn.Forward(Tensor.Zeros(2, 3, 4)));
        Assert.Contains("BatchNorm2d(3", e.Message);
        Assert.Contains("[2, 3, 4]", e.Message);
        e = Assert.Throws<ShapeMismatchException>(() => bn.Forward(Tensor.Zeros(2, 4, 3, 3)));
        Assert.Contains("expected 3 channels", e.Message);
        e = Assert.Throws<ShapeMismatchException>(() => new BatchNorm1d(3).Forward(Tensor.Zeros(1, 3)));
        Assert.Contains("more than 1 value per channel", e.Message);
        e = Assert.Throws<ShapeMismatchException>(() => new LayerNorm([4, 5]).Forward(Tensor.Zeros(2, 5, 4)));
        Assert.Contains("[4, 5]", e.Message);
        Assert.Contains("[2, 5, 4]", e.Message);
        e = Assert.Throws<ShapeMismatchException>(() => new GroupNorm(2, 4).Forward(Tensor.Zeros(2, 6, 3)));
        Assert.Contains("GroupNorm(2, 4", e.Message);
        Assert.Throws<ArgumentException>(() => new GroupNorm(4, 6));
    }
}
