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
        ["Embedding"] = (x, a, _) => [Embedding.Lookup(x[0], x[1], a.IntOrNull("padding_idx"))],
    };

    public static IEnumerable<object[]> Cases() => GoldenFamily.Cases("nn_more");

    [Fact]
    public void EveryGoldenOpIsMapped() => Assert.Empty(GoldenFamily.Unmapped("nn_more", Ops));

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorch(string id) => GoldenFamily.Run(id, Ops);
}
