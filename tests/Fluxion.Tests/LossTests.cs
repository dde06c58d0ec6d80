using Fluxion.Nn;

namespace Fluxion.Tests;

public class LossTests
{
    /// <summary>The golden losses of golden/losses.json called through the registry (<see cref="RegistryCall"/>: Losses' method
    /// named after the entry, reductions and flags bound by name, "weight": true taking the next input), except the sigmoid
    /// focal loss, which is torchvision's and has no registry entry.</summary>
    private static readonly IReadOnlyDictionary<string, GoldenFamily.OpFn> Ops = GoldenFamily.FromRegistry("losses", new Dictionary<string, GoldenFamily.OpFn>
    {
        ["SigmoidFocalLoss"] = (x, a, _) => [Losses.SigmoidFocalLoss(x[0], x[1], a.Double("alpha"), a.Double("gamma"), Enum.Parse<Reduction>(a.String("reduction"), ignoreCase: true))],
    });

    public static IEnumerable<object[]> Cases() => GoldenFamily.Cases("losses");

    [Fact]
    public void EveryGoldenLossIsMapped() => Assert.Empty(GoldenFamily.Unmapped("losses", Ops));

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorch(string id) => GoldenFamily.Run(id, Ops);

    // ---- gradient checks (float64; first and second order; forward mode) --------------------------

    private static Tensor R(int seed, params int[] shape) => Tensor.Randn(shape, DType.Float64, new Generator(seed));
    private static Tensor U(int seed, double lo, double hi, params int[] shape) => Tensor.Uniform(shape, lo, hi, DType.Float64, new Generator(seed));
    private static Tensor Idx(params long[] v) => Tensor.FromArray(v, v.Length);

    [Fact]
    public void GradCheckRegression()
    {
        foreach (var r in new[] { Reduction.Mean, Reduction.Sum, Reduction.None })
        {
            GradCheck.Assert(x => Losses.MseLoss(x[0], x[1], r), [R(1, 3, 4), R(2, 3, 4)]);
            GradCheck.Assert(x => Losses.L1Loss(x[0], x[1], r), [R(3, 3, 4), R(4, 3, 4) + 5.0]); // |diff| away from 0
        }
    }

    [Fact]
    public void GradCheckCrossEntropyWithClassIndices()
    {
        var t = Idx(2, -100, 0, 4, 1, 2);
        var w = U(5, 0.3, 2.0, 5);
        foreach (var r in new[] { Reduction.Mean, Reduction.Sum, Reduction.None })
        {
            GradCheck.Assert(x => Losses.CrossEntropy(x[0], t, r), [R(6, 6, 5)]);
            GradCheck.Assert(x => Losses.CrossEntropy(x[0], t, r, weight: w, labelSmoothing: 0.2), [R(7, 6, 5)]);
        }
        // [N, C, d] logits, a custom ignore index, and the class weights as a differentiable input
        var t3 = Tensor.FromArray(new long[] { 0, 3, 1, 3, 2, 4 }, 2, 3);
        GradCheck.Assert(x => Losses.CrossEntropy(x[0], t3, Reduction.Mean, weight: x[1], ignoreIndex: 3, labelSmoothing: 0.1), [R(8, 2, 5, 3), U(9, 0.3, 2, 5)]);
        // unbatched
        GradCheck.Assert(x => Losses.CrossEntropy(x[0], Tensor.FromArray(new long[] { 2 }).Reshape(), labelSmoothing: 0.3), [R(10, 5)]);
    }

    [Fact]
    public void GradCheckCrossEntropyWithProbabilities()
    {
        var w = U(11, 0.3, 2.0, 4);
        foreach (var r in new[] { Reduction.Mean, Reduction.Sum, Reduction.None })
            GradCheck.Assert(x => Losses.CrossEntropy(x[0], x[1].Softmax(1), r, weight: w, labelSmoothing: 0.1), [R(12, 3, 4), R(13, 3, 4)]);
        GradCheck.Assert(x => Losses.CrossEntropy(x[0], x[1].Softmax(1)), [R(14, 2, 4, 3), R(15, 2, 4, 3)]);
    }

    [Fact]
    public void GradCheckNll()
    {
        var t = Idx(1, 0, -100, 3);
        foreach (var r in new[] { Reduction.Mean, Reduction.Sum, Reduction.None })
            GradCheck.Assert(x => Losses.NllLoss(x[0].LogSoftmax(1), t, r, weight: x[1]), [R(16, 4, 4), U(17, 0.3, 2, 4)]);
    }

    [Fact]
    public void GradCheckBceWithLogits()
    {
        foreach (var r in new[] { Reduction.Mean, Reduction.Sum, Reduction.None })
        {
            GradCheck.Assert(x => Losses.BceWithLogits(x[0], x[1], r), [R(18, 3, 4) * 3.0, U(19, 0, 1, 3, 4)]);
            GradCheck.Assert(x => Losses.BceWithLogits(x[0], x[1], r, weight: x[2], posWeight: x[3]),
                [R(20, 3, 4) * 3.0, U(21, 0, 1, 3, 4), U(22, 0.2, 2, 3, 1), U(23, 0.2, 3, 4)]);
        }
    }

    [Fact]
    public void GradCheckKlDiv()
    {
        foreach (var r in new[] { Reduction.Mean, Reduction.Sum, Reduction.None, Reduction.BatchMean })
        {
            GradCheck.Assert(x => Losses.KlDiv(x[0].LogSoftmax(1), x[1], r), [R(24, 3, 4), U(25, 0.05, 1, 3, 4)]);
            GradCheck.Assert(x => Losses.KlDiv(x[0].LogSoftmax(1), x[1], r, logTarget: true), [R(26, 3, 4), R(27, 3, 4)]);
        }
    }

    [Fact]
    public void GradCheckSigmoidFocalLoss()
    {
        foreach (var (alpha, gamma, r) in new[] { (0.25, 2.0, Reduction.None), (-1.0, 2.0, Reduction.Mean), (0.6, 1.5, Reduction.Sum), (0.25, 0.0, Reduction.Mean) })
            GradCheck.Assert(x => Losses.SigmoidFocalLoss(x[0], x[1], alpha, gamma, r), [R(28, 3, 4) * 2.0, U(29, 0.05, 0.95, 3, 4)]);
    }

    // ---- semantics -----------------------------------------------------------------------------------

    [Fact]
    public void ExistingSignaturesStillWork()
    {
        var x = Tensor.FromArray(new float[] { 1, 2, 3, 0, 0, 5 }, 2, 3);
        var t = Idx(2, 0);
        double expect = (-Math.Log(Math.Exp(3) / (Math.Exp(1) + Math.Exp(2) + Math.Exp(3))) - Math.Log(1 / (2 + Math.Exp(5)))) / 2;
        Assert.Equal(expect, Losses.CrossEntropy(x, t).Item(), 5);
        Assert.Equal(expect * 2, Losses.CrossEntropy(x, t, Reduction.Sum).Item(), 5);
        Assert.Equal(expect, new CrossEntropyLoss().Forward(x, t).Item(), 5);
        Assert.Equal(expect * 2, new CrossEntropyLoss(Reduction.Sum).Forward(x, t).Item(), 5);
        Assert.Equal(4.0, new MSELoss(Reduction.Sum).Forward(Tensor.Ones(2, 2), Tensor.Zeros(2, 2)).Item());
    }

    [Fact]
    public void ModuleWrappersMatchFunctions()
    {
        var x = R(30, 4, 3);
        var t = Idx(0, 2, -100, 1);
        var w = U(31, 0.5, 2, 3);
        var p = R(32, 4, 3).Softmax(1);
        Assert.Equal(Losses.CrossEntropy(x, t, Reduction.Sum, w, -100, 0.1).Item(), new CrossEntropyLoss(Reduction.Sum, w, labelSmoothing: 0.1).Forward(x, t).Item());
        Assert.Equal(Losses.NllLoss(x.LogSoftmax(1), t, weight: w).Item(), new NLLLoss(weight: w).Forward(x.LogSoftmax(1), t).Item());
        Assert.Equal(Losses.L1Loss(x, p).Item(), new L1Loss().Forward(x, p).Item());
        Assert.Equal(Losses.BceWithLogits(x, p, posWeight: w).Item(), new BCEWithLogitsLoss(posWeight: w).Forward(x, p).Item());
        Assert.Equal(Losses.KlDiv(x.LogSoftmax(1), p, Reduction.BatchMean).Item(), new KLDivLoss(Reduction.BatchMean).Forward(x.LogSoftmax(1), p).Item());
        Assert.Equal(Losses.SigmoidFocalLoss(x, p, 0.3, 1.0, Reduction.Sum).Item(), new FocalLoss(0.3, 1.0, Reduction.Sum).Forward(x, p).Item());
    }

    [Fact]
    public void CrossEntropyIgnoresTargetsAndNormalizesByTheirWeights()
    {
        var x = R(33, 4, 3).RequiresGrad_();
        var w = Tensor.FromArray([0.5, 2.0, 1.0], 3);
        var t = Idx(1, -100, 2, 1);
        var loss = Losses.CrossEntropy(x, t, weight: w);
        var logp = x.Detach().LogSoftmax(1);
        double num = -(2.0 * logp.Get(0, 1) + 1.0 * logp.Get(2, 2) + 2.0 * logp.Get(3, 1));
        Assert.Equal(num / 5.0, loss.Item(), 12);
        loss.Backward();
        Assert.All(x.Grad!.Select(0, 1).ToDoubleArray(), g => Assert.Equal(0.0, g));
        // every target ignored: mean is 0/0 = NaN (as PyTorch), sum is 0
        var all = Idx(-100, -100);
        Assert.True(double.IsNaN(Losses.CrossEntropy(R(34, 2, 3), all).Item()));
        Assert.Equal(0.0, Losses.CrossEntropy(R(34, 2, 3), all, Reduction.Sum).Item());
        Assert.Equal(new[] { 0.0, 0.0 }, Losses.CrossEntropy(R(34, 2, 3), all, Reduction.None, labelSmoothing: 0.2).ToDoubleArray());
    }

    [Fact]
    public void CrossEntropyIsStableForHugeLogits()
    {
        var x = Tensor.FromArray(new float[] { 1e4f, 0, -1e4f, 500, 501, 502 }, 2, 3).RequiresGrad_();
        var loss = Losses.CrossEntropy(x, Idx(0, 2), labelSmoothing: 0.1);
        Assert.True(double.IsFinite(loss.Item()));
        loss.Backward();
        Assert.All(x.Grad!.ToDoubleArray(), g => Assert.True(double.IsFinite(g)));
        var b = Losses.BceWithLogits(Tensor.FromArray(new float[] { -1e4f, 1e4f }), Tensor.FromArray(new float[] { 1, 0 }), Reduction.None);
        Assert.Equal(new[] { 1e4, 1e4 }, b.ToDoubleArray());
    }

    [Fact]
    public void KlDivIsZeroForEqualDistributionsAndHandlesZeroTargets()
    {
        var p = R(35, 3, 4).Softmax(1);
        Assert.Equal(0.0, Losses.KlDiv(p.Log(), p, Reduction.Sum).Item(), 12);
        Assert.Equal(0.0, Losses.KlDiv(p.Log(), p.Log(), Reduction.Sum, logTarget: true).Item(), 12);
        var t = Tensor.FromArray([0.0, 1.0], 1, 2).RequiresGrad_();
        var x = Tensor.FromArray([-1.0, -2.0], 1, 2);
        var loss = Losses.KlDiv(x, t, Reduction.Sum);
        Assert.Equal(2.0, loss.Item(), 12);
        loss.Backward();
        Assert.True(t.Grad!.ToDoubleArray().All(double.IsFinite));
    }

    [Fact]
    public void FocalLossWithGammaZeroAndNoAlphaIsBce()
    {
        var x = R(36, 3, 4);
        var y = U(37, 0, 1, 3, 4);
        Assert.Equal(Losses.BceWithLogits(x, y).Item(), Losses.SigmoidFocalLoss(x, y, alpha: -1, gamma: 0, reduction: Reduction.Mean).Item(), 12);
    }

    [Fact]
    public void BadArgumentsThrowWithClearMessages()
    {
        var x = R(38, 3, 4);
        var ex = Assert.Throws<IndexOutOfBoundsException>(() => Losses.CrossEntropy(x, Idx(0, 4, 1)));
        Assert.Contains("target 4", ex.Message);
        Assert.Throws<ShapeMismatchException>(() => Losses.CrossEntropy(x, Idx(0, 1)));
        Assert.Throws<ShapeMismatchException>(() => Losses.CrossEntropy(x, R(1, 3, 5)));
        Assert.Throws<ShapeMismatchException>(() => Losses.CrossEntropy(x, Idx(0, 1, 2), weight: Tensor.Ones([3], DType.Float64)));
        Assert.Throws<ArgumentException>(() => Losses.CrossEntropy(x, R(1, 3, 4), ignoreIndex: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Losses.CrossEntropy(x, Idx(0, 1, 2), labelSmoothing: 1.5));
        Assert.Throws<ArgumentException>(() => Losses.CrossEntropy(x, Idx(0, 1, 2), (Reduction)17));
        Assert.Throws<DTypeMismatchException>(() => Losses.NllLoss(x, R(1, 3)));
        Assert.Throws<ShapeMismatchException>(() => Losses.BceWithLogits(x, R(1, 4, 3)));
        Assert.Throws<ShapeMismatchException>(() => Losses.BceWithLogits(x, R(1, 3, 4), posWeight: R(2, 5)));
        Assert.Throws<ArgumentException>(() => Losses.KlDiv(x, x, (Reduction)17));
        Assert.Throws<ArgumentException>(() => Losses.MseLoss(x, x, Reduction.BatchMean)); // KL divergence only, as PyTorch
        Assert.Throws<ShapeMismatchException>(() => Losses.L1Loss(x, R(1, 4)));
    }

    // ---- estimators ------------------------------------------------------------------------------------

    [Fact]
    public void StraightThroughHasHardValueAndSoftGradient()
    {
        var soft = R(40, 3, 4).RequiresGrad_();
        var hard = soft.Detach().Gt(0.0);
        var y = Estimators.StraightThrough(hard, soft);
        Assert.Equal(hard.To(DType.Float64).ToDoubleArray(), y.ToDoubleArray());
        var w = R(41, 3, 4);
        (y * w).Sum().Backward();
        Assert.Equal(w.ToDoubleArray(), soft.Grad!.ToDoubleArray());
    }

    [Fact]
    public void GumbelSoftmaxSamplesFollowTheSoftmax()
    {
        var logits = Tensor.FromArray([1.0, 0.0, -1.0, 0.5], 1, 4);
        var p = logits.Softmax(-1).ToDoubleArray();
        var gen = new Generator(7);
        var counts = new double[4];
        const int draws = 4000;
        var batch = logits.Expand(draws, 4).Contiguous();
        var y = Estimators.GumbelSoftmax(batch, tau: 0.5, hard: true, generator: gen);
        var v = y.ToDoubleArray();
        for (int i = 0; i < draws; i++)
        {
            Assert.Equal(1.0, v.Skip(4 * i).Take(4).Sum());
            for (int c = 0; c < 4; c++) counts[c] += v[4 * i + c];
        }
        for (int c = 0; c < 4; c++)
            Assert.True(Math.Abs(counts[c] / draws - p[c]) < 0.03, $"class {c}: frequency {counts[c] / draws}, softmax {p[c]}");
        // soft samples are distributions; the same generator state gives the same sample
        var s1 = Estimators.GumbelSoftmax(batch, dim: 1, generator: new Generator(3));
        var s2 = Estimators.GumbelSoftmax(batch, dim: 1, generator: new Generator(3));
        Assert.Equal(s1.ToDoubleArray(), s2.ToDoubleArray());
        Assert.All(s1.Sum(1).ToDoubleArray(), s => Assert.Equal(1.0, s, 12));
    }

    [Fact]
    public void HardGumbelSoftmaxGradientIsTheSoftGradient()
    {
        var logits = R(43, 2, 5).RequiresGrad_();
        var w = R(44, 2, 5);
        var hard = Estimators.GumbelSoftmax(logits, tau: 0.7, hard: true, generator: new Generator(9));
        (hard * w).Sum().Backward();
        var gHard = logits.Grad!.ToDoubleArray();
        logits.Grad = null;
        var soft = Estimators.GumbelSoftmax(logits, tau: 0.7, hard: false, generator: new Generator(9));
        (soft * w).Sum().Backward();
        Assert.Equal(logits.Grad!.ToDoubleArray(), gHard, new ToleranceComparer(1e-14));
        // differentiable in the logits for a fixed draw (first and second order, forward mode)
        GradCheck.Assert(x => Estimators.GumbelSoftmax(x[0], tau: 0.7, generator: new Generator(5)), [R(45, 2, 3)]);
    }
}
