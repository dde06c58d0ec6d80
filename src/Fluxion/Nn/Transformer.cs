namespace Fluxion.Nn;

/// <summary>The activation of a Transformer layer's feed-forward block (PyTorch's <c>activation</c> string).</summary>
public enum TransformerActivation
{
    /// <summary>ReLU (PyTorch's default).</summary>
    Relu,
    /// <summary>Exact GELU.</summary>
    Gelu,
}

/// <summary>Shared pieces of the Transformer layers.</summary>
internal static class TransformerBlocks
{
    public static Tensor Activate(Tensor x, TransformerActivation a) => a == TransformerActivation.Gelu ? x.Gelu() : x.Relu();

    /// <summary>linear2(dropout(act(linear1(x)))), then dropout2: the feed-forward block.</summary>
    public static Tensor FeedForward(Tensor x, Linear linear1, Dropout dropout, Linear linear2, Dropout dropoutOut, TransformerActivation a) =>
        dropoutOut.Forward(linear2.Forward(dropout.Forward(Activate(linear1.Forward(x), a))));

    /// <summary>Throws unless <paramref name="x"/> is [L, N, E], [N, L, E] or unbatched [L, E] with E = <paramref name="dModel"/>.</summary>
    public static void CheckInput(Module layer, string what, Tensor x, int dModel, bool batchFirst)
    {
        ArgumentNullException.ThrowIfNull(x, what);
        if (x.Rank is not (2 or 3) || x.Size(-1) != dModel)
            throw new ShapeMismatchException($"{layer.GetType().Name}: {what} must be {(batchFirst ? "[N, L, " : "[L, N, ")}{dModel}] (or unbatched [L, {dModel}]) with d_model = {dModel}, got {ShapeUtil.Format(x.Shape)}.");
    }

    public static void CheckArgs(string layer, int dModel, int nhead, int dimFeedforward, double dropout)
    {
        if (dModel <= 0 || nhead <= 0 || dModel % nhead != 0)
            throw new ArgumentException($"{layer}: dModel ({dModel}) must be positive and divisible by nhead ({nhead}).");
        if (dimFeedforward <= 0)
            throw new ArgumentException($"{layer}: dimFeedforward must be positive, got {dimFeedforward}.", nameof(dimFeedforward));
        Nn.Dropout.CheckP(layer, dropout);
    }

    public static string Repr(int dModel, int nhead, int dimFeedforward, double dropout, TransformerActivation activation, bool batchFirst, bool normFirst) =>
        $"d_model={dModel}, nhead={nhead}, dim_feedforward={dimFeedforward}, dropout={dropout}, activation={(activation == TransformerActivation.Gelu ? "gelu" : "relu")}" +
        (batchFirst ? ", batch_first=True" : "") + (normFirst ? ", norm_first=True" : "");
}

/// <summary>
/// One Transformer encoder layer (PyTorch's <c>nn.TransformerEncoderLayer</c>): self-attention then a feed-forward block, each
/// with a residual connection and a LayerNorm, applied after the residual (post-norm, the default) or before the block
/// (<see cref="NormFirst"/>). Shapes: src [L, N, E] ([N, L, E] when <see cref="BatchFirst"/>, or unbatched [L, E]), output the same.
/// Parameters as PyTorch's state dict: self_attn.in_proj_weight, self_attn.in_proj_bias, self_attn.out_proj.{weight,bias},
/// linear1.{weight,bias}, linear2.{weight,bias}, norm1.{weight,bias}, norm2.{weight,bias}.
/// </summary>
public sealed class TransformerEncoderLayer : Module
{
    /// <summary>The self-attention ("self_attn").</summary>
    public MultiheadAttention SelfAttn { get; }

    /// <summary>First feed-forward projection E → dimFeedforward ("linear1").</summary>
    public Linear Linear1 { get; }

    /// <summary>Dropout inside the feed-forward block ("dropout").</summary>
    public Dropout Dropout { get; }

    /// <summary>Second feed-forward projection dimFeedforward → E ("linear2").</summary>
    public Linear Linear2 { get; }

    /// <summary>The norm of the attention block ("norm1").</summary>
    public LayerNorm Norm1 { get; }

    /// <summary>The norm of the feed-forward block ("norm2").</summary>
    public LayerNorm Norm2 { get; }

    /// <summary>Dropout on the attention block's output ("dropout1").</summary>
    public Dropout Dropout1 { get; }

    /// <summary>Dropout on the feed-forward block's output ("dropout2").</summary>
    public Dropout Dropout2 { get; }

    /// <summary>Model width E.</summary>
    public int DModel { get; }

    /// <summary>Attention heads.</summary>
    public int NHead { get; }

    /// <summary>Width of the feed-forward block.</summary>
    public int DimFeedforward { get; }

    /// <summary>Dropout probability of every dropout of the layer (training only).</summary>
    public double DropoutP { get; }

    /// <summary>The feed-forward activation.</summary>
    public TransformerActivation Activation { get; }

    /// <summary>Batched inputs are [N, L, E] instead of [L, N, E].</summary>
    public bool BatchFirst { get; }

    /// <summary>LayerNorm before each block (pre-norm) instead of after the residual sum.</summary>
    public bool NormFirst { get; }

    /// <summary>Creates the layer with PyTorch's arguments and initialization.</summary>
    /// <param name="dModel">E, the model width.</param>
    /// <param name="nhead">Attention heads (must divide E).</param>
    /// <param name="dimFeedforward">Width of the feed-forward block.</param>
    /// <param name="dropout">Dropout probability (attention weights, feed-forward, residual branches); training only.</param>
    /// <param name="activation">Feed-forward activation.</param>
    /// <param name="layerNormEps">The LayerNorms' epsilon.</param>
    /// <param name="batchFirst">Batched inputs are [N, L, E].</param>
    /// <param name="normFirst">Pre-norm instead of post-norm.</param>
    /// <param name="dtype">Parameter dtype.</param>
    /// <param name="generator">Random source for initialization and dropout.</param>
    public TransformerEncoderLayer(int dModel, int nhead, int dimFeedforward = 2048, double dropout = 0.1, TransformerActivation activation = TransformerActivation.Relu,
        double layerNormEps = 1e-5, bool batchFirst = false, bool normFirst = false, DType dtype = DType.Float32, Generator? generator = null)
    {
        TransformerBlocks.CheckArgs("TransformerEncoderLayer", dModel, nhead, dimFeedforward, dropout);
        (DModel, NHead, DimFeedforward, DropoutP, Activation, BatchFirst, NormFirst) = (dModel, nhead, dimFeedforward, dropout, activation, batchFirst, normFirst);
        SelfAttn = RegisterModule("self_attn", new MultiheadAttention(dModel, nhead, dropout, bias: true, batchFirst, dtype, generator));
        Linear1 = RegisterModule("linear1", new Linear(dModel, dimFeedforward, true, dtype, generator));
        Dropout = RegisterModule("dropout", new Dropout(dropout, generator));
        Linear2 = RegisterModule("linear2", new Linear(dimFeedforward, dModel, true, dtype, generator));
        Norm1 = RegisterModule("norm1", new LayerNorm(dModel, layerNormEps, true, dtype));
        Norm2 = RegisterModule("norm2", new LayerNorm(dModel, layerNormEps, true, dtype));
        Dropout1 = RegisterModule("dropout1", new Dropout(dropout, generator));
        Dropout2 = RegisterModule("dropout2", new Dropout(dropout, generator));
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Forward(input, null, null);

    /// <summary>Runs the layer.</summary>
    /// <param name="src">[L, N, E] ([N, L, E] when batch-first) or [L, E].</param>
    /// <param name="srcMask">[L, L] or [N·H, L, L]: bool true = may not attend, or float added to the scores.</param>
    /// <param name="srcKeyPaddingMask">[N, L] ([L] unbatched): bool true = a padding position (ignored as a key), or float added.</param>
    public Tensor Forward(Tensor src, Tensor? srcMask, Tensor? srcKeyPaddingMask = null)
    {
        TransformerBlocks.CheckInput(this, "src", src, DModel, BatchFirst);
        Tensor SelfAttention(Tensor x) => Dropout1.Forward(SelfAttn.Forward(x, x, x, srcKeyPaddingMask, needWeights: false, attnMask: srcMask).Output);
        Tensor FeedForward(Tensor x) => TransformerBlocks.FeedForward(x, Linear1, Dropout, Linear2, Dropout2, Activation);
        var y = src;
        if (NormFirst)
        {
            y = y + SelfAttention(Norm1.Forward(y));
            return y + FeedForward(Norm2.Forward(y));
        }
        y = Norm1.Forward(y + SelfAttention(y));
        return Norm2.Forward(y + FeedForward(y));
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => TransformerBlocks.Repr(DModel, NHead, DimFeedforward, DropoutP, Activation, BatchFirst, NormFirst);
}

/// <summary>
/// One Transformer decoder layer (PyTorch's <c>nn.TransformerDecoderLayer</c>): self-attention over the target, attention over
/// the encoder's output (memory), then a feed-forward block, each with a residual connection and a LayerNorm (post-norm, or pre-norm
/// with <see cref="NormFirst"/>). Shapes: tgt [T, N, E], memory [S, N, E] (batch first when <see cref="BatchFirst"/>, or unbatched
/// [T, E] and [S, E]); output like tgt. Parameters as PyTorch's state dict: self_attn.*, multihead_attn.*, linear1, linear2, norm1,
/// norm2, norm3.
/// </summary>
public sealed class TransformerDecoderLayer : Module
{
    /// <summary>The target's self-attention ("self_attn").</summary>
    public MultiheadAttention SelfAttn { get; }

    /// <summary>The attention over the memory ("multihead_attn").</summary>
    public MultiheadAttention MultiheadAttn { get; }

    /// <summary>First feed-forward projection ("linear1").</summary>
    public Linear Linear1 { get; }

    /// <summary>Dropout inside the feed-forward block ("dropout").</summary>
    public Dropout Dropout { get; }

    /// <summary>Second feed-forward projection ("linear2").</summary>
    public Linear Linear2 { get; }

    /// <summary>The norm of the self-attention block ("norm1").</summary>
    public LayerNorm Norm1 { get; }

    /// <summary>The norm of the memory-attention block ("norm2").</summary>
    public LayerNorm Norm2 { get; }

    /// <summary>The norm of the feed-forward block ("norm3").</summary>
    public LayerNorm Norm3 { get; }

    /// <summary>Dropout on the self-attention block's output ("dropout1").</summary>
    public Dropout Dropout1 { get; }

    /// <summary>Dropout on the memory-attention block's output ("dropout2").</summary>
    public Dropout Dropout2 { get; }

    /// <summary>Dropout on the feed-forward block's output ("dropout3").</summary>
    public Dropout Dropout3 { get; }

    /// <summary>Model width E.</summary>
    public int DModel { get; }

    /// <summary>Attention heads.</summary>
    public int NHead { get; }

    /// <summary>Width of the feed-forward block.</summary>
    public int DimFeedforward { get; }

    /// <summary>Dropout probability of every dropout of the layer (training only).</summary>
    public double DropoutP { get; }

    /// <summary>The feed-forward activation.</summary>
    public TransformerActivation Activation { get; }

    /// <summary>Batched inputs are [N, L, E] instead of [L, N, E].</summary>
    public bool BatchFirst { get; }

    /// <summary>LayerNorm before each block (pre-norm) instead of after the residual sum.</summary>
    public bool NormFirst { get; }

    /// <summary>Creates the layer with PyTorch's arguments and initialization (see <see cref="TransformerEncoderLayer"/>'s constructor).</summary>
    /// <param name="dModel">E, the model width.</param>
    /// <param name="nhead">Attention heads (must divide E).</param>
    /// <param name="dimFeedforward">Width of the feed-forward block.</param>
    /// <param name="dropout">Dropout probability; training only.</param>
    /// <param name="activation">Feed-forward activation.</param>
    /// <param name="layerNormEps">The LayerNorms' epsilon.</param>
    /// <param name="batchFirst">Batched inputs are [N, L, E].</param>
    /// <param name="normFirst">Pre-norm instead of post-norm.</param>
    /// <param name="dtype">Parameter dtype.</param>
    /// <param name="generator">Random source for initialization and dropout.</param>
    public TransformerDecoderLayer(int dModel, int nhead, int dimFeedforward = 2048, double dropout = 0.1, TransformerActivation activation = TransformerActivation.Relu,
        double layerNormEps = 1e-5, bool batchFirst = false, bool normFirst = false, DType dtype = DType.Float32, Generator? generator = null)
    {
        TransformerBlocks.CheckArgs("TransformerDecoderLayer", dModel, nhead, dimFeedforward, dropout);
        (DModel, NHead, DimFeedforward, DropoutP, Activation, BatchFirst, NormFirst) = (dModel, nhead, dimFeedforward, dropout, activation, batchFirst, normFirst);
        SelfAttn = RegisterModule("self_attn", new MultiheadAttention(dModel, nhead, dropout, bias: true, batchFirst, dtype, generator));
        MultiheadAttn = RegisterModule("multihead_attn", new MultiheadAttention(dModel, nhead, dropout, bias: true, batchFirst, dtype, generator));
        Linear1 = RegisterModule("linear1", new Linear(dModel, dimFeedforward, true, dtype, generator));
        Dropout = RegisterModule("dropout", new Dropout(dropout, generator));
        Linear2 = RegisterModule("linear2", new Linear(dimFeedforward, dModel, true, dtype, generator));
        Norm1 = RegisterModule("norm1", new LayerNorm(dModel, layerNormEps, true, dtype));
        Norm2 = RegisterModule("norm2", new LayerNorm(dModel, layerNormEps, true, dtype));
        Norm3 = RegisterModule("norm3", new LayerNorm(dModel, layerNormEps, true, dtype));
        Dropout1 = RegisterModule("dropout1", new Dropout(dropout, generator));
        Dropout2 = RegisterModule("dropout2", new Dropout(dropout, generator));
        Dropout3 = RegisterModule("dropout3", new Dropout(dropout, generator));
    }

    /// <summary>Not available: a decoder layer needs the memory too (<c>Forward(tgt, memory, ...)</c>).</summary>
    public override Tensor Forward(Tensor input) => throw new ArgumentException($"{GetType().Name}: pass the target and the memory: Forward(tgt, memory).");

    /// <summary>Runs the layer.</summary>
    /// <param name="tgt">[T, N, E] ([N, T, E] when batch-first) or [T, E].</param>
    /// <param name="memory">The encoder's output, [S, N, E] ([N, S, E]) or [S, E].</param>
    /// <param name="tgtMask">[T, T] or [N·H, T, T] mask of the self-attention (bool true = may not attend, or float added).</param>
    /// <param name="memoryMask">[T, S] or [N·H, T, S] mask of the memory attention.</param>
    /// <param name="tgtKeyPaddingMask">[N, T] ([T]): bool true = padding.</param>
    /// <param name="memoryKeyPaddingMask">[N, S] ([S]): bool true = padding.</param>
    public Tensor Forward(Tensor tgt, Tensor memory, Tensor? tgtMask = null, Tensor? memoryMask = null, Tensor? tgtKeyPaddingMask = null,
        Tensor? memoryKeyPaddingMask = null)
    {
        TransformerBlocks.CheckInput(this, "tgt", tgt, DModel, BatchFirst);
        TransformerBlocks.CheckInput(this, "memory", memory, DModel, BatchFirst);
        Tensor SelfAttention(Tensor x) => Dropout1.Forward(SelfAttn.Forward(x, x, x, tgtKeyPaddingMask, needWeights: false, attnMask: tgtMask).Output);
        Tensor MemoryAttention(Tensor x) => Dropout2.Forward(MultiheadAttn.Forward(x, memory, memory, memoryKeyPaddingMask, needWeights: false, attnMask: memoryMask).Output);
        Tensor FeedForward(Tensor x) => TransformerBlocks.FeedForward(x, Linear1, Dropout, Linear2, Dropout3, Activation);
        var y = tgt;
        if (NormFirst)
        {
            y = y + SelfAttention(Norm1.Forward(y));
            y = y + MemoryAttention(Norm2.Forward(y));
            return y + FeedForward(Norm3.Forward(y));
        }
        y = Norm1.Forward(y + SelfAttention(y));
        y = Norm2.Forward(y + MemoryAttention(y));
        return Norm3.Forward(y + FeedForward(y));
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => TransformerBlocks.Repr(DModel, NHead, DimFeedforward, DropoutP, Activation, BatchFirst, NormFirst);
}

/// <summary>
/// A stack of <see cref="TransformerEncoderLayer"/>s (PyTorch's <c>nn.TransformerEncoder</c>): <c>numLayers</c> deep copies of
/// the given layer ("layers.0", "layers.1", ...), then an optional final norm ("norm").
/// </summary>
public sealed class TransformerEncoder : Module
{
    private readonly TransformerEncoderLayer[] _layers;

    /// <summary>The layers in order.</summary>
    public IReadOnlyList<TransformerEncoderLayer> Layers => _layers;

    /// <summary>The final norm, or null.</summary>
    public LayerNorm? Norm { get; }

    /// <summary>Stacks <paramref name="numLayers"/> copies of <paramref name="encoderLayer"/> (each starts from its weights, as PyTorch's clones).</summary>
    /// <param name="encoderLayer">The layer to copy (it is not itself part of the stack).</param>
    /// <param name="numLayers">How many layers.</param>
    /// <param name="norm">Optional final LayerNorm.</param>
    public TransformerEncoder(TransformerEncoderLayer encoderLayer, int numLayers, LayerNorm? norm = null)
    {
        ArgumentNullException.ThrowIfNull(encoderLayer);
        if (numLayers <= 0) throw new ArgumentException($"TransformerEncoder: numLayers must be positive, got {numLayers}.", nameof(numLayers));
        _layers = Enumerable.Range(0, numLayers).Select(_ => (TransformerEncoderLayer)encoderLayer.DeepClone()).ToArray();
        RegisterModule("layers", new Sequential(_layers));
        Norm = norm is null ? null : RegisterModule("norm", norm);
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Forward(input, null, null);

    /// <summary>Runs every layer with the same masks (see <see cref="TransformerEncoderLayer.Forward(Tensor, Tensor?, Tensor?)"/>), then the norm.</summary>
    /// <param name="src">The sequence.</param>
    /// <param name="mask">The attention mask of every layer.</param>
    /// <param name="srcKeyPaddingMask">The key padding mask of every layer.</param>
    public Tensor Forward(Tensor src, Tensor? mask, Tensor? srcKeyPaddingMask = null)
    {
        var y = src;
        foreach (var layer in _layers) y = layer.Forward(y, mask, srcKeyPaddingMask);
        return Norm is null ? y : Norm.Forward(y);
    }
}

/// <summary>
/// A stack of <see cref="TransformerDecoderLayer"/>s (PyTorch's <c>nn.TransformerDecoder</c>): <c>numLayers</c> deep copies of
/// the given layer ("layers.0", ...), then an optional final norm ("norm").
/// </summary>
public sealed class TransformerDecoder : Module
{
    private readonly TransformerDecoderLayer[] _layers;

    /// <summary>The layers in order.</summary>
    public IReadOnlyList<TransformerDecoderLayer> Layers => _layers;

    /// <summary>The final norm, or null.</summary>
    public LayerNorm? Norm { get; }

    /// <summary>Stacks <paramref name="numLayers"/> copies of <paramref name="decoderLayer"/>.</summary>
    /// <param name="decoderLayer">The layer to copy.</param>
    /// <param name="numLayers">How many layers.</param>
    /// <param name="norm">Optional final LayerNorm.</param>
    public TransformerDecoder(TransformerDecoderLayer decoderLayer, int numLayers, LayerNorm? norm = null)
    {
        ArgumentNullException.ThrowIfNull(decoderLayer);
        if (numLayers <= 0) throw new ArgumentException($"TransformerDecoder: numLayers must be positive, got {numLayers}.", nameof(numLayers));
        _layers = Enumerable.Range(0, numLayers).Select(_ => (TransformerDecoderLayer)decoderLayer.DeepClone()).ToArray();
        RegisterModule("layers", new Sequential(_layers));
        Norm = norm is null ? null : RegisterModule("norm", norm);
    }

    /// <summary>Not available: a decoder needs the memory too (<c>Forward(tgt, memory, ...)</c>).</summary>
    public override Tensor Forward(Tensor input) => throw new ArgumentException("TransformerDecoder: pass the target and the memory: Forward(tgt, memory).");

    /// <summary>Runs every layer with the same memory and masks (see
    /// <see cref="TransformerDecoderLayer.Forward(Tensor, Tensor, Tensor?, Tensor?, Tensor?, Tensor?)"/>), then the norm.</summary>
    /// <param name="tgt">The target sequence.</param>
    /// <param name="memory">The encoder's output.</param>
    /// <param name="tgtMask">Self-attention mask.</param>
    /// <param name="memoryMask">Memory-attention mask.</param>
    /// <param name="tgtKeyPaddingMask">Target padding.</param>
    /// <param name="memoryKeyPaddingMask">Memory padding.</param>
    public Tensor Forward(Tensor tgt, Tensor memory, Tensor? tgtMask = null, Tensor? memoryMask = null, Tensor? tgtKeyPaddingMask = null,
        Tensor? memoryKeyPaddingMask = null)
    {
        var y = tgt;
        foreach (var layer in _layers) y = layer.Forward(y, memory, tgtMask, memoryMask, tgtKeyPaddingMask, memoryKeyPaddingMask);
        return Norm is null ? y : Norm.Forward(y);
    }
}

/// <summary>
/// The encoder-decoder Transformer (PyTorch's <c>nn.Transformer</c>): an encoder of <c>numEncoderLayers</c> layers with a final
/// LayerNorm ("encoder") and a decoder of <c>numDecoderLayers</c> layers with a final LayerNorm ("decoder"); every parameter with
/// two or more dims Xavier-uniform initialized, as PyTorch's _reset_parameters. Shapes: src [S, N, E], tgt [T, N, E] (batch first
/// when <see cref="BatchFirst"/>, or unbatched); output [T, N, E].
/// </summary>
public sealed class Transformer : Module
{
    /// <summary>The encoder ("encoder").</summary>
    public TransformerEncoder Encoder { get; }

    /// <summary>The decoder ("decoder").</summary>
    public TransformerDecoder Decoder { get; }

    /// <summary>Model width E.</summary>
    public int DModel { get; }

    /// <summary>Attention heads.</summary>
    public int NHead { get; }

    /// <summary>Batched inputs are [N, L, E] instead of [L, N, E].</summary>
    public bool BatchFirst { get; }

    /// <summary>Creates the model with PyTorch's arguments and initialization.</summary>
    /// <param name="dModel">E, the model width.</param>
    /// <param name="nhead">Attention heads (must divide E).</param>
    /// <param name="numEncoderLayers">Encoder layers.</param>
    /// <param name="numDecoderLayers">Decoder layers.</param>
    /// <param name="dimFeedforward">Width of the feed-forward blocks.</param>
    /// <param name="dropout">Dropout probability; training only.</param>
    /// <param name="activation">Feed-forward activation.</param>
    /// <param name="layerNormEps">The LayerNorms' epsilon.</param>
    /// <param name="batchFirst">Batched inputs are [N, L, E].</param>
    /// <param name="normFirst">Pre-norm layers.</param>
    /// <param name="dtype">Parameter dtype.</param>
    /// <param name="generator">Random source for initialization and dropout.</param>
    public Transformer(int dModel = 512, int nhead = 8, int numEncoderLayers = 6, int numDecoderLayers = 6, int dimFeedforward = 2048, double dropout = 0.1,
        TransformerActivation activation = TransformerActivation.Relu, double layerNormEps = 1e-5, bool batchFirst = false, bool normFirst = false,
        DType dtype = DType.Float32, Generator? generator = null)
    {
        (DModel, NHead, BatchFirst) = (dModel, nhead, batchFirst);
        Encoder = RegisterModule("encoder", new TransformerEncoder(
            new TransformerEncoderLayer(dModel, nhead, dimFeedforward, dropout, activation, layerNormEps, batchFirst, normFirst, dtype, generator),
            numEncoderLayers, new LayerNorm(dModel, layerNormEps, true, dtype)));
        Decoder = RegisterModule("decoder", new TransformerDecoder(
            new TransformerDecoderLayer(dModel, nhead, dimFeedforward, dropout, activation, layerNormEps, batchFirst, normFirst, dtype, generator),
            numDecoderLayers, new LayerNorm(dModel, layerNormEps, true, dtype)));
        using (Autograd.NoGrad())
            foreach (var p in Parameters())
                if (p.Rank > 1) p.CopyInPlace(Init.XavierUniform(p.ShapeArray, p.DType, generator));
    }

    /// <summary>Not available: a Transformer needs the source and the target (<c>Forward(src, tgt, ...)</c>).</summary>
    public override Tensor Forward(Tensor input) => throw new ArgumentException("Transformer: pass the source and the target: Forward(src, tgt).");

    /// <summary>Encodes <paramref name="src"/> and decodes <paramref name="tgt"/> against it.</summary>
    /// <param name="src">[S, N, E] ([N, S, E] when batch-first) or [S, E].</param>
    /// <param name="tgt">[T, N, E] ([N, T, E]) or [T, E].</param>
    /// <param name="srcMask">[S, S] encoder self-attention mask.</param>
    /// <param name="tgtMask">[T, T] decoder self-attention mask (e.g. <see cref="GenerateSquareSubsequentMask"/>).</param>
    /// <param name="memoryMask">[T, S] decoder memory-attention mask.</param>
    /// <param name="srcKeyPaddingMask">[N, S]: bool true = source padding.</param>
    /// <param name="tgtKeyPaddingMask">[N, T]: bool true = target padding.</param>
    /// <param name="memoryKeyPaddingMask">[N, S]: bool true = memory padding.</param>
    /// <returns>[T, N, E] ([N, T, E] when batch-first) or [T, E].</returns>
    public Tensor Forward(Tensor src, Tensor tgt, Tensor? srcMask = null, Tensor? tgtMask = null, Tensor? memoryMask = null,
        Tensor? srcKeyPaddingMask = null, Tensor? tgtKeyPaddingMask = null, Tensor? memoryKeyPaddingMask = null)
    {
        TransformerBlocks.CheckInput(this, "src", src, DModel, BatchFirst);
        TransformerBlocks.CheckInput(this, "tgt", tgt, DModel, BatchFirst);
        if (src.Rank != tgt.Rank)
            throw new ShapeMismatchException($"Transformer: src {ShapeUtil.Format(src.Shape)} and tgt {ShapeUtil.Format(tgt.Shape)} must both be batched or both unbatched.");
        int bd = BatchFirst ? 0 : 1;
        if (src.Rank == 3 && src.Size(bd) != tgt.Size(bd))
            throw new ShapeMismatchException($"Transformer: src {ShapeUtil.Format(src.Shape)} and tgt {ShapeUtil.Format(tgt.Shape)} have different batch sizes (dim {bd}).");
        var memory = Encoder.Forward(src, srcMask, srcKeyPaddingMask);
        return Decoder.Forward(tgt, memory, tgtMask, memoryMask, tgtKeyPaddingMask, memoryKeyPaddingMask);
    }

    /// <summary>
    /// The float [size, size] causal mask of PyTorch's <c>Transformer.generate_square_subsequent_mask</c>: −∞ strictly above the
    /// diagonal (future positions), 0 elsewhere; pass it as <c>tgtMask</c>. Its dtype must be the model's.
    /// </summary>
    /// <param name="size">Sequence length.</param>
    /// <param name="dtype">Float dtype of the mask (the inputs' dtype).</param>
    public static Tensor GenerateSquareSubsequentMask(int size, DType dtype = DType.Float32)
    {
        if (size < 0) throw new ArgumentOutOfRangeException(nameof(size), $"Transformer.GenerateSquareSubsequentMask: size must be non-negative, got {size}.");
        return Tensor.Where(Attention.SquareSubsequentMask(size), double.NegativeInfinity, 0.0, dtype);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"d_model={DModel}, nhead={NHead}" + (BatchFirst ? ", batch_first=True" : "");
}
