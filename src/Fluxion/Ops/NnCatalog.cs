using Fluxion.Nn;

namespace Fluxion;

/// <summary>
/// Registry entries for existing torch.nn.functional-style functions that are composites of registered ops (losses,
/// embedding lookup) or not differentiable (one-hot); each names the PyTorch function its API matches.
/// </summary>
[OpTable]
internal static class NnCatalog
{
    private static Tensor R(int seed, params int[] shape) => OpSamples.Make(OpSamples.Domain.Real, seed, shape);
    private static Tensor L(params long[] v) => Tensor.FromArray(v, v.Length);

    // MseLoss and L1Loss: fused entries of their own (Nn/PointwiseLosses.cs)
    internal static readonly OpDef NllLossOp = new("NllLoss", OpFamily.NN, "nn.functional.nll_loss")
    {
        CompositeOf = ["Gather", "Where", "Mul", "Sum", "Div"],
        Samples = () => [new("mean", [R(1, 3, 4)], t => Losses.NllLoss(t[0], L(0, 3, 2))),
            new("weight ignore", [R(2, 4, 3), OpSamples.Make(OpSamples.Domain.Positive, 3, 3)], t => Losses.NllLoss(t[0], L(0, -100, 2, 1), weight: t[1]))],
    };
    // KlDiv and BceWithLogits: fused entries of their own (Nn/PointwiseLosses.cs)
    internal static readonly OpDef EmbeddingOp = new("Embedding", OpFamily.NN, "nn.functional.embedding")
    {
        CompositeOf = ["IndexSelect", "Where", "Reshape"],
        Samples = () => [new("2-d indices", [R(1, 5, 3)], t => Embedding.Lookup(t[0], Tensor.FromArray([0L, 4, 2, 2, 1, 0], 2, 3)))],
        // (padding_idx rows pass no gradient by convention, which finite differences cannot check: the golden tests pin it)
    };
    internal static readonly OpDef OneHotOp = new("OneHot", OpFamily.NN, "nn.functional.one_hot")
    {
        Differentiable = false, DTypes = DTypeSet.Int64,
        // ops-target.tsv says "grad" only because OpInfo's supports_autograd defaults to true: PyTorch's one_hot takes and
        // returns int64 (its OpInfo lists int64 as the only dtype), so PyTorch never differentiates it either
        Doc = "one-hot of int64 class indices (dtype: DType.Int64 gives PyTorch's int64 result); integer in, so no derivative (PyTorch: int64 only)",
    };
    internal static readonly OpDef EmbeddingBagOp = new("EmbeddingBag", OpFamily.NN, "nn.functional.embedding_bag")
    {
        CompositeOf = ["IndexSelect", "IndexAdd", "ScatterReduce", "Mul", "Div"],
        Samples = () =>
        [
            new("2-d input, mean", [R(1, 5, 3)], t => EmbeddingBag.Bag(t[0], Tensor.FromArray([0L, 4, 2, 2, 1, 0], 2, 3))),
            new("offsets, per-sample weights, sum, empty bag", [R(2, 4, 2), R(3, 5)],
                t => EmbeddingBag.Bag(t[0], Tensor.FromArray([3L, 1, 1, 0, 2], 5), Tensor.FromArray([0L, 2, 2], 3), EmbeddingBagMode.Sum, t[1])),
            new("max, padding index, last offset", [R(4, 4, 3)],
                t => EmbeddingBag.Bag(t[0], Tensor.FromArray([3L, 1, 2, 0, 2], 5), Tensor.FromArray([0L, 3, 5], 3), EmbeddingBagMode.Max, includeLastOffset: true, paddingIdx: 2), SecondOrder: false),
        ],
    };
    // ---- normalization and transposed convolution (Normalization.cs, Conv.cs) ------------------------

    private static Tensor P(int seed, params int[] shape) => OpSamples.Make(OpSamples.Domain.Positive, seed, shape);

    internal static readonly OpDef LayerNormOp = new("LayerNorm", OpFamily.NN, "nn.functional.layer_norm")
    {
        CompositeOf = ["ChannelNorm", "Reshape", "Mul", "Add"],
        Samples = () => [new("affine", [R(1, 2, 3, 4), R(2, 4), R(3, 4)], t => Tensor.LayerNorm(t[0], [4], t[1], t[2])),
            new("two dims", [R(4, 2, 3, 4)], t => Tensor.LayerNorm(t[0], [3, 4]))],
    };
    internal static readonly OpDef GroupNormOp = new("GroupNorm", OpFamily.NN, "nn.functional.group_norm")
    {
        CompositeOf = ["ChannelNorm", "Reshape", "Mul", "Add"],
        Samples = () => [new("2 groups", [R(1, 2, 4, 3), R(2, 4), R(3, 4)], t => Tensor.GroupNorm(t[0], 2, t[1], t[2]))],
    };
    internal static readonly OpDef BatchNormOp = new("BatchNorm", OpFamily.NN, "nn.functional.batch_norm")
    {
        CompositeOf = ["ChannelNorm"],
        Samples = () => [new("training", [R(1, 4, 3, 2), R(2, 3), R(3, 3)], t => Tensor.BatchNorm(t[0], null, null, t[1], t[2], training: true)),
            new("eval", [R(4, 4, 3), R(5, 3), R(6, 3)], t => Tensor.BatchNorm(t[0], R(7, 3), P(8, 3), t[1], t[2], training: false))],
    };
    internal static readonly OpDef InstanceNormOp = new("InstanceNorm", OpFamily.NN, "nn.functional.instance_norm")
    {
        CompositeOf = ["ChannelNorm", "Reshape"],
        Samples = () => [new("affine", [R(1, 2, 3, 5), R(2, 3), R(3, 3)], t => Tensor.InstanceNorm(t[0], weight: t[1], bias: t[2]))],
    };
    internal static readonly OpDef ConvTranspose2dOp = new("ConvTranspose2d", OpFamily.NN, "nn.functional.conv_transpose2d")
    {
        CompositeOf = ["Conv2dInputGrad", "Add"],
        Samples = () => [new("stride 2", [R(1, 1, 2, 3, 3), R(2, 2, 3, 2, 2), R(3, 3)], t => Tensor.ConvTranspose2d(t[0], t[1], t[2], stride: new Size2(2, 2))),
            new("padding", [R(4, 2, 2, 4, 4), R(5, 2, 1, 3, 3)], t => Tensor.ConvTranspose2d(t[0], t[1], padding: new Size2(1, 1)))],
    };
    // PyTorch 1.13's private _scaled_dot_product_attention returns (output, attention weights), as Attention.ScaledDotProduct
    internal static readonly OpDef ScaledDotProductAttentionOp = new("ScaledDotProductAttention", OpFamily.NN, "nn.functional._scaled_dot_product_attention")
    {
        CompositeOf = ["MatMul", "Mul", "Softmax", "Where"],
        Samples = () => [new("batched", [R(1, 2, 3, 4), R(2, 2, 5, 4), R(3, 2, 5, 3)], t => Attention.ScaledDotProduct(t[0], t[1], t[2]).Output),
            new("causal", [R(4, 4, 2), R(5, 4, 2), R(6, 4, 2)], t => Attention.ScaledDotProduct(t[0], t[1], t[2], isCausal: true).Output)],
    };
}
