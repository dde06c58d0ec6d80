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

    private static Reduction Red(GoldenArgs a) => a.String("reduction") switch
    {
        "mean" => Reduction.Mean,
        "sum" => Reduction.Sum,
        _ => Reduction.None,
    };

    private static GoldenFamily.OpFn One(Func<Tensor, GoldenArgs, Tensor> f) => (x, a, _) => [f(x[0], a)];

    private static readonly Dictionary<string, GoldenFamily.OpFn> Ops = new()
    {
        ["Elu"] = One((x, a) => x.Elu(a.Double("alpha"))),
        ["Selu"] = One((x, _) => x.Selu()),
        ["Celu"] = One((x, a) => x.Celu(a.Double("alpha"))),
        ["Silu"] = One((x, _) => x.Silu()),
        ["Mish"] = One((x, _) => x.Mish()),
        ["Hardswish"] = One((x, _) => x.Hardswish()),
        ["Hardsigmoid"] = One((x, _) => x.Hardsigmoid()),
        ["Hardtanh"] = One((x, a) => x.Hardtanh(a.Double("min_val"), a.Double("max_val"))),
        ["Relu6"] = One((x, _) => x.Relu6()),
        ["Softsign"] = One((x, _) => x.Softsign()),
        ["Softshrink"] = One((x, a) => x.Softshrink(a.Double("lambd"))),
        ["Hardshrink"] = One((x, a) => x.Hardshrink(a.Double("lambd"))),
        ["Tanhshrink"] = One((x, _) => x.Tanhshrink()),
        ["LogSigmoid"] = One((x, _) => x.LogSigmoid()),
        ["Threshold"] = One((x, a) => x.Threshold(a.Double("threshold"), a.Double("value"))),
        ["RreluEval"] = One((x, a) => x.Rrelu(a.Double("lower"), a.Double("upper"))),
        ["Softmin"] = One((x, a) => x.Softmin(a.Int("dim"))),
        ["Glu"] = One((x, a) => x.Glu(a.Int("dim"))),
        ["Prelu"] = (x, _, _) => [x[0].Prelu(x[1])],
        ["Normalize"] = One((x, a) => x.Normalize(a.Double("p"), a.Int("dim"))),
        ["CosineSimilarity"] = (x, a, _) => [Tensor.CosineSimilarity(x[0], x[1], a.Int("dim"), a.Double("eps"))],
        ["PairwiseDistance"] = (x, a, _) => [Tensor.PairwiseDistance(x[0], x[1], a.Double("p"), a.Double("eps"), a.Bool("keepdim"))],
        ["Pdist"] = (x, a, _) => [Tensor.Pdist(x[0], a.Double("p"))],
        ["PixelShuffle"] = One((x, a) => x.PixelShuffle(a.Int("r"))),
        ["PixelUnshuffle"] = One((x, a) => x.PixelUnshuffle(a.Int("r"))),
        ["Pad"] = One((x, a) => x.Pad(a.Ints("pad")!, a.String("mode") switch
        {
            "reflect" => PadMode.Reflect,
            "replicate" => PadMode.Replicate,
            "circular" => PadMode.Circular,
            _ => PadMode.Constant,
        }, a.Double("value"))),
        ["HuberLoss"] = (x, a, _) => [Losses.HuberLoss(x[0], x[1], Red(a), a.Double("delta"))],
        ["SmoothL1Loss"] = (x, a, _) => [Losses.SmoothL1Loss(x[0], x[1], Red(a), a.Double("beta"))],
        ["BinaryCrossEntropy"] = (x, a, _) => [Losses.BinaryCrossEntropy(x[0], x[1], x.Length > 2 ? x[2] : null, Red(a))],
        ["SoftMarginLoss"] = (x, a, _) => [Losses.SoftMarginLoss(x[0], x[1], Red(a))],
        ["MarginRankingLoss"] = (x, a, _) => [Losses.MarginRankingLoss(x[0], x[1], x[2], a.Double("margin"), Red(a))],
        ["HingeEmbeddingLoss"] = (x, a, _) => [Losses.HingeEmbeddingLoss(x[0], x[1], a.Double("margin"), Red(a))],
        ["CosineEmbeddingLoss"] = (x, a, _) => [Losses.CosineEmbeddingLoss(x[0], x[1], x[2], a.Double("margin"), Red(a))],
        ["TripletMarginLoss"] = (x, a, _) => [Losses.TripletMarginLoss(x[0], x[1], x[2], a.Double("margin"), a.Double("p"), swap: a.Bool("swap"), reduction: Red(a))],
        ["TripletMarginWithDistanceLoss"] = (x, a, _) => [Losses.TripletMarginWithDistanceLoss(x[0], x[1], x[2], null, a.Double("margin"), a.Bool("swap"), Red(a))],
        ["MultiMarginLoss"] = (x, a, _) => [Losses.MultiMarginLoss(x[0], x[1], a.Int("p"), a.Double("margin"), a.Bool("weight") ? x[2] : null, Red(a))],
        ["MultilabelMarginLoss"] = (x, a, _) => [Losses.MultilabelMarginLoss(x[0], x[1], Red(a))],
        ["MultilabelSoftMarginLoss"] = (x, a, _) => [Losses.MultilabelSoftMarginLoss(x[0], x[1], a.Bool("weight") ? x[2] : null, Red(a))],
        ["PoissonNllLoss"] = (x, a, _) => [Losses.PoissonNllLoss(x[0], x[1], a.Bool("log_input"), a.Bool("full"), reduction: Red(a))],
        ["GaussianNllLoss"] = (x, a, _) => [Losses.GaussianNllLoss(x[0], x[1], x[2], a.Bool("full"), a.Has("eps") ? a.Double("eps") : 1e-6, Red(a))],
        ["MseLoss"] = (x, a, _) => [Losses.MseLoss(x[0], x[1], Red(a))],
        ["L1Loss"] = (x, a, _) => [Losses.L1Loss(x[0], x[1], Red(a))],
        ["Conv1d"] = (x, a, _) => [Tensor.Conv1d(x[0], x[1], x.Length > 2 ? x[2] : null, a.Int("stride"), a.Int("padding"), a.Int("dilation"), a.Int("groups"))],
        ["ConvTranspose1d"] = (x, a, _) => [Tensor.ConvTranspose1d(x[0], x[1], x[2], a.Int("stride"), a.Int("padding"), a.Int("output_padding"))],
        ["AvgPool1d"] = (x, a, _) => [Tensor.AvgPool1d(x[0], a.Int("kernel_size"), a.Int("stride"), a.Int("padding"), a.Bool("ceil_mode"), a.Bool("count_include_pad"))],
        ["MaxPool1d"] = (x, a, _) => [Tensor.MaxPool1d(x[0], a.Int("kernel_size"), a.Int("stride"), a.Int("padding"), a.Int("dilation"))],
        ["AdaptiveAvgPool1d"] = (x, a, _) => [Tensor.AdaptiveAvgPool1d(x[0], a.Int("output_size"))],
        ["Bilinear"] = (x, _, _) => [Tensor.Bilinear(x[0], x[1], x[2], x.Length > 3 ? x[3] : null)],
        ["LocalResponseNorm"] = One((x, a) => x.LocalResponseNorm(a.Int("size"), a.Double("alpha"), a.Double("beta"), a.Double("k"))),
        ["UpsampleNearest"] = One((x, a) => x.UpsampleNearest(a.Ints("size"), a.DoubleOrNull("scale_factor"))),
        ["Embedding"] = (x, a, _) => [Embedding.Lookup(x[0], x[1], a.IntOrNull("padding_idx"))],
    };

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
