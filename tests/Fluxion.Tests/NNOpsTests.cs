using Fluxion.Nn;
namespace Fluxion.Tests;

public class NNOpsTests
{
    private static Tensor R(params int[] shape) => Tensor.Randn(shape, DType.Float64, new Generator(shape.Sum() * 13 + 1));
    private static double[] V(Tensor t) => t.ToDoubleArray();
    private static double MaxAbsDiff(Tensor a, Tensor b) => V(a).Zip(V(b), (p, q) => Math.Abs(p - q)).Max();

    /// <summary>Naive softmax along dim d of a rank-3 tensor, by element access.</summary>
    private static double[] NaiveSoftmax(Tensor x, int d, bool log)
    {
        var shape = x.ShapeArray;
        var r = new double[x.Numel];
        var idx = new int[3];
        int q = 0;
        for (idx[0] = 0; idx[0] < shape[0]; idx[0]++)
            for (idx[1] = 0; idx[1] < shape[1]; idx[1]++)
                for (idx[2] = 0; idx[2] < shape[2]; idx[2]++)
                {
                    var j = (int[])idx.Clone();
                    double sum = 0;
                    for (j[d] = 0; j[d] < shape[d]; j[d]++) sum += Math.Exp(x.Get(j));
                    r[q++] = log ? x.Get(idx) - Math.Log(sum) : Math.Exp(x.Get(idx)) / sum;
                }
        return r;
    }

    [Fact]
    public void SoftmaxAndLogSoftmaxMatchNaiveAlongEveryDim()
    {
        var x = R(3, 4, 5);
        var cmp = new ToleranceComparer(1e-13);
        for (int dim = -3; dim < 3; dim++)
        {
            int d = dim < 0 ? dim + 3 : dim;
            Assert.Equal(NaiveSoftmax(x, d, false), V(x.Softmax(dim)), cmp);
            Assert.Equal(NaiveSoftmax(x, d, true), V(x.LogSoftmax(dim)), cmp);
            Assert.Equal(V(x.Sum(dim).Exp() * 0.0 + 1.0), V(x.Softmax(dim).Sum(dim)), cmp);
        }
        // non-contiguous input
        var p = x.Permute(2, 0, 1);
        Assert.Equal(V(p.Contiguous().Softmax(1)), V(p.Softmax(1)), cmp);
        Assert.Equal(V(p.Contiguous().LogSoftmax(-1)), V(p.LogSoftmax(-1)), cmp);
        // 0-d and float32
        Assert.Equal(1.0, Tensor.Scalar(3.0, DType.Float64).Softmax(0).Item());
        var f = x.To(DType.Float32);
        Assert.Equal(V(x.Softmax(1)), V(f.Softmax(1)), new ToleranceComparer(1e-6));
        Assert.Equal(V(x.LogSoftmax(2)), V(f.LogSoftmax(2)), new ToleranceComparer(1e-5));
    }

    [Fact]
    public void LargeValuesStayFinite()
    {
        var x = Tensor.FromArray([1000.0, 1001, 1002, -1000, 0, 1000], 2, 3).RequiresGrad_();
        var s = x.Softmax(-1);
        double z = 1 + Math.Exp(1) + Math.Exp(2);
        Assert.Equal([1 / z, Math.Exp(1) / z, Math.Exp(2) / z], V(s).Take(3), new ToleranceComparer(1e-14));
        var ls = x.LogSoftmax(1);
        Assert.Equal([-Math.Log(z), 1 - Math.Log(z), 2 - Math.Log(z)], V(ls).Take(3), new ToleranceComparer(1e-12));
        Assert.Equal(-2000.0, ls.Get(1, 0), 10);
        (s * s).Sum().Backward();
        Assert.All(V(x.Grad!), g => Assert.True(double.IsFinite(g)));
        var xf = Tensor.FromArray([1000f, 1001f, 1002f]);
        Assert.Equal(1 / z, xf.Softmax(0).Get(0), 6);
        Assert.Equal(-Math.Log(z), xf.LogSoftmax(0).Get(0), 5);
        // along a non-last dim too
        Assert.All(V(x.Detach().Softmax(0)), v => Assert.True(double.IsFinite(v)));
    }

    [Fact]
    public void MaskedEntriesGetZeroProbabilityAndFiniteGradients()
    {
        double ninf = double.NegativeInfinity;
        var x = Tensor.FromArray([0.0, ninf, 0, 0], 2, 2).RequiresGrad_();
        var s = x.Softmax(0);
        Assert.Equal([0.5, 0, 0.5, 1], V(s));
        var w = Tensor.FromArray([1.0, 2, 3, 4], 2, 2);
        (s * w).Sum().Backward();
        Assert.Equal([-0.5, 0, 0.5, 0], V(x.Grad!));
        // a slice that is all -inf gives NaN, as PyTorch
        Assert.True(double.IsNaN(Tensor.FromArray([ninf, ninf]).Softmax(0).Get(1)));
        // log-softmax: the masked entry stays -inf and passes g through (g − exp(y)·Σg with exp(-inf) = 0)
        var x2 = Tensor.FromArray([0.0, ninf, 0]).RequiresGrad_();
        var ls = x2.LogSoftmax(0);
        Assert.Equal(ninf, ls.Get(1));
        ls.Backward(Tensor.FromArray([1.0, 1, 1]));
        Assert.Equal([-0.5, 1, -0.5], V(x2.Grad!), new ToleranceComparer(1e-15));
    }

    [Fact]
    public void SoftmaxGradCheck()
    {
        var x = R(2, 3, 4);
        GradCheck.Assert(t => t[0].Softmax(-1), [x]);
        GradCheck.Assert(t => t[0].Softmax(1), [x]);
        GradCheck.Assert(t => t[0].Softmax(0) * t[0], [x]);
        GradCheck.Assert(t => t[0].Permute(2, 0, 1).Softmax(-2), [x]);
        var m = R(3, 5);
        GradCheck.Assert(t => t[0].Softmax(0), [m.T]); // non-contiguous input
    }

    [Fact]
    public void LogSoftmaxGradCheck()
    {
        var x = R(2, 3, 4);
        GradCheck.Assert(t => t[0].LogSoftmax(-1), [x]);
        GradCheck.Assert(t => t[0].LogSoftmax(0).Square(), [x]);
        GradCheck.Assert(t => t[0].Permute(1, 2, 0).LogSoftmax(1), [x]);
        var m = R(3, 5);
        GradCheck.Assert(t => (t[0] * 10.0).LogSoftmax(1), [m.T]);
    }

    [Fact]
    public void LargeInputsUseTheParallelPathsCorrectly()
    {
        var x = Tensor.Randn([2, 300, 120], DType.Float64, new Generator(5));
        foreach (var dim in new[] { 1, 2 })
        {
            var e = (x - x.Amax(dim, keepDim: true)).Exp();
            Assert.True(MaxAbsDiff(e / e.Sum(dim, keepDim: true), x.Softmax(dim)) < 1e-12);
            Assert.True(MaxAbsDiff(x - x.LogSumExp(dim, keepDim: true), x.LogSoftmax(dim)) < 1e-12);
        }
    }

    [Fact]
    public void JvpRules()
    {
        var x = R(2, 3, 4);
        for (int d = -3; d < 3; d++)
        {
            int dim = d;
            OpChecks.Jvp("Softmax", t => t[0].Softmax(dim), [x]);
            OpChecks.Jvp("LogSoftmax", t => t[0].LogSoftmax(dim), [x]);
        }
    }

    // ---- ReLU backward (ThresholdBackward) -----------------------------------------------------

    [Fact]
    public void ReluMaskSelectsTheGradientWhereTheOutputIsPositive()
    {
        var g = Tensor.FromArray(new[] { 1.0, double.NaN, 3.0, -4.0, 5.0, double.PositiveInfinity }, [2, 3]);
        var y = Tensor.FromArray(new[] { 0.5, 0.0, -1.0, 2.0, double.NaN, 0.0 }, [2, 3]);
        // a select, as PyTorch's threshold_backward: the unit that is off passes 0 even for NaN/Inf gradients
        Assert.Equal(new[] { 1.0, 0, 0, -4.0, 0, 0 }, V(Tensor.ReluMask(g, y)));
        // float32 through the SIMD path (longer than a vector) matches g * (y > 0)
        var g32 = Tensor.Randn([3, 37], DType.Float32, new Generator(5));
        var y32 = Tensor.Randn([3, 37], DType.Float32, new Generator(6));
        Assert.Equal(V(g32 * y32.Gt(0.0).To(DType.Float32)), V(Tensor.ReluMask(g32, y32)));
        // non-contiguous operands and a mask broadcast along a leading dim
        var gt = R(5, 4).T;
        var ym = R(4, 5);
        Assert.Equal(V(gt * ym.Gt(0.0).To(DType.Float64)), V(Tensor.ReluMask(gt, ym)));
        var gb = R(2, 4, 5);
        Assert.Equal(V(gb * ym.Gt(0.0).To(DType.Float64)), V(Tensor.ReluMask(gb, ym)));
        Assert.Throws<ShapeMismatchException>(() => Tensor.ReluMask(R(4, 5), R(2, 4, 5)));
    }

    [Fact]
    public void ReluMaskGradCheck()
    {
        // linear in g; the mask gets no gradient (inputs away from 0 so finite differences see 0 too)
        var y = R(3, 4);
        y = Tensor.Where(y.Abs().Lt(0.1), 0.5, y);
        GradCheck.Assert(t => Tensor.ReluMask(t[0], t[1]), [R(4, 3).T, y]);
        GradCheck.Assert(t => Tensor.ReluMask(t[0] * t[0], t[1]).Sum(), [R(3, 4), y]);
    }

    // ---- fused cross entropy ------------------------------------------------------------------

    /// <summary>The unfused composition: log-softmax, then the nll pick (with ignore_index and reductions).</summary>
    private static Tensor CrossEntropyRef(Tensor x, Tensor t, Reduction reduction, int ignoreIndex) =>
        Fluxion.Nn.Losses.NllLoss(x.LogSoftmax(1), t, reduction, ignoreIndex: ignoreIndex);

    [Theory]
    [InlineData(Reduction.Mean)]
    [InlineData(Reduction.Sum)]
    [InlineData(Reduction.None)]
    public void FusedCrossEntropyMatchesTheCompositionToSecondOrder(Reduction reduction)
    {
        var t = Tensor.FromArray(new long[] { 2, 0, 4, 1, 4, 3 });
        var ti = Tensor.FromArray(new long[] { 2, -100, 4, 1, -100, 3 });
        foreach (var (target, ignore) in new[] { (t, -100), (ti, -100), (t, 4) })
        {
            var x = (R(6, 5) * 3).Detach().RequiresGrad_();
            var fused = Tensor.CrossEntropyIndices(x, target, ignore, reduction.TorchName());
            var plain = CrossEntropyRef(x, target, reduction, ignore);
            Assert.Equal(V(plain), V(fused), new ToleranceComparer(1e-13));
            Assert.Equal(V(fused), V(Fluxion.Nn.Losses.CrossEntropy(x, target, reduction, ignoreIndex: ignore)));
            var seed = reduction == Reduction.None ? R(6) : Tensor.Scalar(0.7, DType.Float64);
            var g1 = Autograd.Grad([fused], [x], [seed], createGraph: true)[0]!;
            var g2 = Autograd.Grad([plain], [x], [seed], createGraph: true)[0]!;
            Assert.Equal(V(g2), V(g1), new ToleranceComparer(1e-13));
            var probe = R(5, 6).T;
            var h1 = Autograd.Grad([(g1 * probe).Sum()], [x])[0]!;
            var h2 = Autograd.Grad([(g2 * probe).Sum()], [x])[0]!;
            Assert.Equal(V(h2), V(h1), new ToleranceComparer(1e-12));
        }
        // float32: the fused kernel against the composition
        var x32 = Tensor.Randn([9, 13], DType.Float32, new Generator(3)) * 4;
        var t32 = Tensor.RandInt(0, 13, [9], generator: new Generator(4));
        Assert.Equal(V(CrossEntropyRef(x32, t32, reduction, -100)), V(Tensor.CrossEntropyIndices(x32, t32, -100, reduction.TorchName())), new ToleranceComparer(2e-6));
    }

    [Theory]
    [InlineData(Reduction.Mean)]
    [InlineData(Reduction.Sum)]
    [InlineData(Reduction.None)]
    public void FusedCrossEntropyGradCheck(Reduction reduction)
    {
        var t = Tensor.FromArray(new long[] { 1, -100, 0, 3, 3 });
        GradCheck.Assert(x => Tensor.CrossEntropyIndices(x[0], t, -100, reduction.TorchName()), [R(5, 4)]);
        GradCheck.Assert(x => Tensor.CrossEntropyIndices(x[0], t, -100, reduction.TorchName()), [R(4, 5).T]);
        // the backward op on its own: differentiable in the incoming gradient and the logits (first and second order, JVP)
        var g = reduction == Reduction.None ? R(5) : Tensor.Scalar(1.3, DType.Float64);
        GradCheck.Assert(x => Tensor.CrossEntropyGrad(x[0], x[1], t, -100, reduction.TorchName(), 4), [g, R(5, 4)]);
    }

    [Fact]
    public void FusedCrossEntropyAllIgnoredGivesNaNMeanAndZeroGradient()
    {
        var x = R(3, 4).Detach().RequiresGrad_();
        var t = Tensor.FromArray(new long[] { -100, -100, -100 });
        var loss = Tensor.CrossEntropyIndices(x, t, -100, Reduction.Mean.TorchName());
        Assert.True(double.IsNaN(loss.Item()));
        loss.Backward();
        Assert.All(V(x.Grad!), v => Assert.Equal(0.0, v));
        Assert.Equal(0.0, Tensor.CrossEntropyIndices(x, t, -100, Reduction.Sum.TorchName()).Item());
    }
}
