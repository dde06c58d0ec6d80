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
}
