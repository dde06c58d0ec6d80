using Fluxion.Nn;

namespace Fluxion.Tests;

/// <summary>
/// The nn.functional family added on top of the existing layers: activations, distances, padding, pixel shuffle, dropout
/// variants and losses. Values and gradients against PyTorch (golden/nn_more.json, made by tests/golden/make_nn_more.py),
/// the registry sweep of these entries, and the behaviours golden data cannot pin (randomness, errors).
/// </summary>
public class NnFunctionalTests
{
    /// <summary>The entries this family adds.</summary>
    public static readonly string[] Entries =
    [
        "Elu", "Selu", "Celu", "Silu", "Mish", "Hardswish", "Hardsigmoid", "Hardtanh", "Relu6", "Softsign", "Softshrink", "Hardshrink",
        "Tanhshrink", "LogSigmoid", "Threshold", "Softmin", "Glu", "Prelu", "Rrelu",
        "Normalize", "CosineSimilarity", "PairwiseDistance", "Pdist", "PixelShuffle", "PixelUnshuffle", "Pad",
        "Dropout", "Dropout2d", "Dropout3d", "FeatureAlphaDropout",
        "HuberLoss", "SmoothL1Loss", "GaussianNllLoss", "PoissonNllLoss", "BinaryCrossEntropy", "SoftMarginLoss", "MarginRankingLoss",
        "HingeEmbeddingLoss", "CosineEmbeddingLoss", "TripletMarginLoss", "TripletMarginWithDistanceLoss", "MultiMarginLoss",
        "MultilabelMarginLoss", "MultilabelSoftMarginLoss",
        "MseLoss", "L1Loss", "NllLoss", "KlDiv", "BceWithLogits", "Embedding",
        "Conv1d", "ConvTranspose1d", "AvgPool1d", "MaxPool1d", "AdaptiveAvgPool1d", "Bilinear", "LocalResponseNorm", "UpsampleNearest",
    ];

    public static TheoryData<string> EntryNames() => [.. Entries];

    [Theory]
    [MemberData(nameof(EntryNames))]
    public void SweepOfTheseEntries(string name) => new RegistrySweepTests().GradCheckEverySample(name);
    // ---- golden values and gradients (PyTorch 1.13) ---------------------------------------------------

    /// <summary>The golden ops called through the registry (<see cref="RegistryCall"/>: the entry's public method on Tensor or
    /// Losses, args bound by name), except these: RreluEval is rrelu in eval mode (no entry of that name), the pixel shuffles'
    /// "r" is PyTorch's positional name for Fluxion's upscaleFactor/downscaleFactor, and the embedding lookup is
    /// Embedding.Lookup (a layer's static helper, not a method named after the entry).</summary>
    private static readonly IReadOnlyDictionary<string, GoldenFamily.OpFn> Ops = GoldenFamily.FromRegistry("nn_more", new Dictionary<string, GoldenFamily.OpFn>
    {
        ["RreluEval"] = (x, a, _) => [x[0].Rrelu(a.Double("lower"), a.Double("upper"))],
        ["PixelShuffle"] = (x, a, _) => [x[0].PixelShuffle(a.Int("r"))],
        ["PixelUnshuffle"] = (x, a, _) => [x[0].PixelUnshuffle(a.Int("r"))],
        ["Embedding"] = (x, a, _) => [Embedding.Lookup(x[0], x[1], a.IntOrNull("padding_idx"))],
    });

    public static IEnumerable<object[]> Cases() => GoldenFamily.Cases("nn_more");

    [Fact]
    public void EveryGoldenOpIsMapped() => Assert.Empty(GoldenFamily.Unmapped("nn_more", Ops));

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorch(string id) => GoldenFamily.Run(id, Ops);
    // ---- registry, randomness, modules, errors --------------------------------------------------------

    [Fact]
    public void RegistersTheTorchNames()
    {
        var names = OpRegistry.All.SelectMany(d => d.Torch).ToHashSet();
        foreach (var t in new[] { "elu", "selu", "celu", "silu", "mish", "hardswish", "hardsigmoid", "hardtanh", "relu6", "softsign", "softshrink",
                     "hardshrink", "tanhshrink", "logsigmoid", "threshold", "softmin", "glu", "prelu", "rrelu", "normalize", "cosine_similarity",
                     "pairwise_distance", "pdist", "pixel_shuffle", "pixel_unshuffle", "pad", "dropout", "dropout2d", "dropout3d", "feature_alpha_dropout",
                     "huber_loss", "smooth_l1_loss", "gaussian_nll_loss", "poisson_nll_loss", "binary_cross_entropy", "soft_margin_loss",
                     "margin_ranking_loss", "hinge_embedding_loss", "cosine_embedding_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss",
                     "multi_margin_loss", "multilabel_margin_loss", "multilabel_soft_margin_loss", "mse_loss", "l1_loss", "nll_loss", "kl_div",
                     "binary_cross_entropy_with_logits", "embedding", "one_hot",
                     "conv1d", "conv_transpose1d", "avg_pool1d", "max_pool1d", "adaptive_avg_pool1d", "bilinear", "local_response_norm", "upsample_nearest" })
            Assert.Contains("nn.functional." + t, names);
        Assert.False(OpRegistry.Find("OneHot")!.Differentiable);
    }

    [Fact]
    public void DropoutKeepsTheExpectationAndZeroesWholeChannels()
    {
        var x = Tensor.Ones(200, 50).To(DType.Float64);
        var y = x.Dropout(0.3, generator: new Generator(3)).ToDoubleArray();
        Assert.All(y, v => Assert.True(v == 0 || Math.Abs(v - 1 / 0.7) < 1e-12));
        Assert.InRange(y.Average(), 0.95, 1.05);
        Assert.Same(x, x.Dropout(0.3, training: false));
        var z = Tensor.Ones(8, 6, 3, 3).Dropout2d(0.5, generator: new Generator(4)).ToDoubleArray();
        for (int c = 0; c < 48; c++)
        {
            var ch = z.Skip(c * 9).Take(9).Distinct().ToArray();
            Assert.Single(ch);
            Assert.True(ch[0] == 0 || ch[0] == 2);
        }
        var w = Tensor.Ones(4, 3, 2, 2, 2).Dropout3d(0.5, generator: new Generator(5)).ToDoubleArray();
        for (int c = 0; c < 12; c++) Assert.Single(w.Skip(c * 8).Take(8).Distinct());
        // alpha dropout keeps mean 0 and variance 1 of standard normal inputs (statistically)
        var a = Tensor.Randn([400, 400, 1], DType.Float64, new Generator(6)).FeatureAlphaDropout(0.2, generator: new Generator(7)).ToDoubleArray();
        double mean = a.Average(), var = a.Select(v => (v - mean) * (v - mean)).Average();
        Assert.InRange(mean, -0.05, 0.05);
        Assert.InRange(var, 0.93, 1.07);
    }

    [Fact]
    public void RreluDrawsSlopesInRangeWhileTraining()
    {
        var x = Tensor.Full([1000], -1.0, DType.Float64);
        var y = x.Rrelu(0.1, 0.3, training: true, generator: new Generator(1)).ToDoubleArray();
        Assert.All(y, v => Assert.InRange(v, -0.3, -0.1));
        Assert.True(y.Distinct().Count() > 100);
        Assert.Equal(-0.2, x.Rrelu(0.1, 0.3).ToDoubleArray()[0], 12);
        var m = new RReLU(0.1, 0.3);
        m.Eval();
        Assert.Equal(-0.2, m.Forward(x).ToDoubleArray()[0], 12);
    }

    [Fact]
    public void ModulesCallTheFunctions()
    {
        var x = Tensor.FromArray([-2.0, -0.5, 0.5, 4.0], 4);
        Assert.Equal(x.Elu(0.5).ToDoubleArray(), new ELU(0.5).Forward(x).ToDoubleArray());
        Assert.Equal(x.Relu6().ToDoubleArray(), new ReLU6().Forward(x).ToDoubleArray());
        Assert.Equal(x.Hardtanh(-1, 2).ToDoubleArray(), new Hardtanh(-1, 2).Forward(x).ToDoubleArray());
        var p = new PReLU(1, 0.1, DType.Float64);
        Assert.Equal(-0.2, p.Forward(x).ToDoubleArray()[0], 12);
        Assert.Single(p.Parameters());
        var t = Tensor.FromArray([0.0, 1.0, 0.5, 2.0], 4);
        Assert.Equal(Losses.HuberLoss(x, t, delta: 0.5).Item(), new HuberLoss(delta: 0.5).Forward(x, t).Item());
    }

    [Fact]
    public void BadArgumentsNameTheOp()
    {
        var x = Tensor.Randn(3, 5);
        Assert.Contains("Glu", Assert.Throws<ShapeMismatchException>(() => x.Glu()).Message);
        Assert.Contains("Prelu", Assert.Throws<ShapeMismatchException>(() => x.Prelu(Tensor.Ones(4))).Message);
        Assert.Contains("reflect", Assert.Throws<ArgumentException>(() => x.Pad([5, 0], PadMode.Reflect)).Message);
        Assert.Contains("BinaryCrossEntropy", Assert.Throws<ArgumentException>(() => Losses.BinaryCrossEntropy(x, x.Sigmoid())).Message);
        Assert.Contains("GaussianNllLoss", Assert.Throws<ShapeMismatchException>(() => Losses.GaussianNllLoss(x, x, Tensor.Ones(5))).Message);
        Assert.Contains("PixelShuffle", Assert.Throws<ShapeMismatchException>(() => Tensor.Ones(1, 3, 2, 2).PixelShuffle(2)).Message);
        Assert.Contains("Dropout", Assert.Throws<ArgumentException>(() => x.Dropout(1.5)).Message);
    }
}
