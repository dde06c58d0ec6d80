using Fluxion.IO;

namespace Fluxion.Nn;

/// <summary>Attention helpers: scaled dot-product attention and the functional multi-head attention.</summary>
public static class Attention
{
    /// <summary>
    /// Scaled dot-product attention over the last two dims: weights = softmax(q·kᵀ·scale + mask) along
    /// the key dim, output = weights·v. Shapes: q [..., L, D], k [..., S, D], v [..., S, Dv] (leading
    /// dims broadcast as in MatMul); output [..., L, Dv], weights [..., L, S].
    /// </summary>
    /// <param name="query">Queries [..., L, D].</param>
    /// <param name="key">Keys [..., S, D].</param>
    /// <param name="value">Values [..., S, Dv].</param>
    /// <param name="mask">Optional mask broadcastable to [..., L, S]. A bool mask follows PyTorch's
    /// <c>F.scaled_dot_product_attention</c>: true = the query may attend to that key, false = masked out
    /// (−∞). A float mask is added to the scores. A row with every key masked gives NaN, as PyTorch.</param>
    /// <param name="dropout">Probability of zeroing an attention weight (the rest are scaled by 1/(1 − p));
    /// applied whenever positive, so pass 0 in evaluation.</param>
    /// <param name="isCausal">Also mask keys after the query's position (top-left aligned lower triangle).</param>
    /// <param name="scale">Score scale; 1/√D by default (then q is divided by √D before the product, as PyTorch).</param>
    /// <param name="generator">Random source for dropout.</param>
    /// <returns>The output and the attention weights actually applied (after dropout).</returns>
    public static (Tensor Output, Tensor Weights) ScaledDotProduct(Tensor query, Tensor key, Tensor value, Tensor? mask = null,
        double dropout = 0, bool isCausal = false, double? scale = null, Generator? generator = null)
    {
        const string op = "ScaledDotProduct";
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        query.CheckFloat(op);
        Tensor.CheckSameDType(op, query, key);
        Tensor.CheckSameDType(op, query, value);
        if (query.Rank < 2 || key.Rank < 2 || value.Rank < 2)
            throw new ShapeMismatchException($"{op}: query, key and value need at least 2 dims ([..., L, D], [..., S, D], [..., S, Dv]), got {ShapeUtil.Format(query.Shape)}, {ShapeUtil.Format(key.Shape)}, {ShapeUtil.Format(value.Shape)}.");
        if (query.Size(-1) != key.Size(-1))
            throw new ShapeMismatchException($"{op}: query {ShapeUtil.Format(query.Shape)} and key {ShapeUtil.Format(key.Shape)} must have the same last dim (D).");
        if (key.Size(-2) != value.Size(-2))
            throw new ShapeMismatchException($"{op}: key {ShapeUtil.Format(key.Shape)} and value {ShapeUtil.Format(value.Shape)} must have the same number of positions (dim -2).");
        if (!(dropout >= 0 && dropout <= 1))
            throw new ArgumentOutOfRangeException(nameof(dropout), $"{op}: dropout must be in [0, 1], got {dropout}.");
        int d = query.Size(-1), l = query.Size(-2), s = key.Size(-2);
        var q = scale is double sc ? query * sc : query / Math.Sqrt(d);
        var scores = q.MatMul(key.MT);
        if (mask is not null)
        {
            Tensor additive;
            if (mask.DType == DType.Bool) additive = Tensor.Where(mask, 0.0, double.NegativeInfinity, query.DType);
            else
            {
                Tensor.CheckSameDType(op, query, mask);
                additive = mask;
            }
            var b = ShapeUtil.Broadcast(op, additive.Shape, scores.Shape);
            if (!ShapeUtil.SameShape(b, scores.Shape))
                throw new ShapeMismatchException($"{op}: the mask of shape {ShapeUtil.Format(mask.Shape)} must broadcast to the scores' shape {ShapeUtil.Format(scores.Shape)} ([..., L, S]).");
            scores = scores + additive;
        }
        if (isCausal) scores = scores.MaskedFill(CausalMask(l, s, upper: true), double.NegativeInfinity);
        var weights = scores.Softmax(-1);
        if (dropout > 0)
        {
            if (dropout == 1) weights = weights * 0.0;
            else
            {
                var keep = Tensor.Rand(weights.ShapeArray, weights.DType, generator).Ge(dropout);
                weights = weights * Tensor.Where(keep, 1.0 / (1 - dropout), 0.0, weights.DType);
            }
        }
        return (weights.MatMul(value), weights);
    }

    /// <summary>Bool [l, s]: true strictly above the diagonal (the positions a causal query may not see) when <paramref name="upper"/>.</summary>
    internal static Tensor CausalMask(int l, int s, bool upper)
    {
        var m = new bool[l * s];
        for (int i = 0; i < l; i++)
            for (int j = 0; j < s; j++)
                m[i * s + j] = (j > i) == upper;
        return Tensor.FromArray(m, l, s);
    }

    /// <summary>
    /// A bool [size, size] mask for <see cref="MultiheadAttention"/>'s attnMask that hides future
    /// positions (true strictly above the diagonal), like PyTorch's Transformer.generate_square_subsequent_mask.
    /// </summary>
    public static Tensor SquareSubsequentMask(int size) => CausalMask(size, size, upper: true);

    /// <summary>
    /// Multi-head attention with explicit weights (PyTorch's <c>F.multi_head_attention_forward</c> with a
    /// packed input projection). Shapes (E = embedding dim, H = heads, L target and S source lengths,
    /// N batch): query [L, N, E], key/value [S, N, E] ([N, L, E] and [N, S, E] when
    /// <paramref name="batchFirst"/>), or unbatched [L, E] / [S, E].
    /// </summary>
    /// <param name="query">Queries.</param>
    /// <param name="key">Keys.</param>
    /// <param name="value">Values (same shape as the keys).</param>
    /// <param name="numHeads">H; must divide E.</param>
    /// <param name="inProjWeight">[3E, E]: the q, k and v projections stacked.</param>
    /// <param name="inProjBias">[3E] or null.</param>
    /// <param name="outProjWeight">[E, E].</param>
    /// <param name="outProjBias">[E] or null.</param>
    /// <param name="keyPaddingMask">[N, S] ([S] unbatched): bool true = ignore that key, or float added to the scores.</param>
    /// <param name="needWeights">Return the attention weights.</param>
    /// <param name="attnMask">[L, S] or [N·H, L, S]: bool true = may not attend (−∞), or float added to the scores.</param>
    /// <param name="averageAttnWeights">Average the returned weights over heads ([N, L, S]) instead of per head ([N, H, L, S]).</param>
    /// <param name="dropout">Dropout probability on the attention weights (pass 0 in evaluation).</param>
    /// <param name="batchFirst">Batched inputs are [N, L, E] instead of [L, N, E].</param>
    /// <param name="generator">Random source for dropout.</param>
    /// <returns>The output (shaped like the query) and the weights (null unless <paramref name="needWeights"/>).</returns>
    public static (Tensor Output, Tensor? Weights) MultiheadAttentionForward(Tensor query, Tensor key, Tensor value, int numHeads,
        Tensor inProjWeight, Tensor? inProjBias, Tensor outProjWeight, Tensor? outProjBias,
        Tensor? keyPaddingMask = null, bool needWeights = true, Tensor? attnMask = null, bool averageAttnWeights = true,
        double dropout = 0, bool batchFirst = false, Generator? generator = null)
    {
        const string op = "MultiheadAttention";
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(inProjWeight);
        ArgumentNullException.ThrowIfNull(outProjWeight);
        query.CheckFloat(op);
        bool batched = query.Rank == 3;
        if (query.Rank is not (2 or 3) || key.Rank != query.Rank || value.Rank != query.Rank)
            throw new ShapeMismatchException($"{op}: query, key and value must all be 3-D (batched) or 2-D (unbatched), got {ShapeUtil.Format(query.Shape)}, {ShapeUtil.Format(key.Shape)}, {ShapeUtil.Format(value.Shape)}.");
        if (!ShapeUtil.SameShape(key.Shape, value.Shape))
            throw new ShapeMismatchException($"{op}: key shape {ShapeUtil.Format(key.Shape)} does not match value shape {ShapeUtil.Format(value.Shape)}.");
        int e = query.Size(-1);
        if (numHeads <= 0 || e % numHeads != 0)
            throw new ArgumentException($"{op}: the embedding dim {e} must be divisible by numHeads ({numHeads}).");
        if (key.Size(-1) != e)
            throw new ShapeMismatchException($"{op}: key/value have embedding dim {key.Size(-1)} but the query has {e}.");
        if (inProjWeight.Rank != 2 || inProjWeight.Size(0) != 3 * e || inProjWeight.Size(1) != e)
            throw new ShapeMismatchException($"{op}: inProjWeight must have shape [{3 * e}, {e}], got {ShapeUtil.Format(inProjWeight.Shape)}.");
        if (inProjBias is not null && (inProjBias.Rank != 1 || inProjBias.Size(0) != 3 * e))
            throw new ShapeMismatchException($"{op}: inProjBias must have shape [{3 * e}], got {ShapeUtil.Format(inProjBias.Shape)}.");
        if (outProjWeight.Rank != 2 || outProjWeight.Size(0) != e || outProjWeight.Size(1) != e)
            throw new ShapeMismatchException($"{op}: outProjWeight must have shape [{e}, {e}], got {ShapeUtil.Format(outProjWeight.Shape)}.");
        if (outProjBias is not null && (outProjBias.Rank != 1 || outProjBias.Size(0) != e))
            throw new ShapeMismatchException($"{op}: outProjBias must have shape [{e}], got {ShapeUtil.Format(outProjBias.Shape)}.");

        // to batch-first [N, L, E]
        Tensor ToBatchFirst(Tensor x) => !batched ? x.Unsqueeze(0) : batchFirst ? x : x.Transpose(0, 1);
        bool selfAttention = ReferenceEquals(query, key) && ReferenceEquals(key, value);
        var qIn = ToBatchFirst(query);
        var kIn = selfAttention ? qIn : ToBatchFirst(key);
        var vIn = selfAttention ? qIn : ToBatchFirst(value);
        int n = qIn.Size(0), l = qIn.Size(1), s = kIn.Size(1), h = numHeads, hd = e / numHeads;
        if (kIn.Size(0) != n)
            throw new ShapeMismatchException($"{op}: query {ShapeUtil.Format(query.Shape)} and key {ShapeUtil.Format(key.Shape)} have different batch sizes.");

        Tensor q, k, v;
        if (selfAttention)
        {
            var proj = Project(qIn, inProjWeight, inProjBias);
            var parts = proj.Chunk(3, -1);
            (q, k, v) = (parts[0], parts[1], parts[2]);
        }
        else
        {
            q = Project(qIn, inProjWeight.Narrow(0, 0, e), inProjBias?.Narrow(0, 0, e));
            k = Project(kIn, inProjWeight.Narrow(0, e, e), inProjBias?.Narrow(0, e, e));
            v = Project(vIn, inProjWeight.Narrow(0, 2 * e, e), inProjBias?.Narrow(0, 2 * e, e));
        }
        Tensor Heads(Tensor x, int len) => x.Reshape(n, len, h, hd).Permute(0, 2, 1, 3); // [N, H, len, hd]
        q = Heads(q, l);
        k = Heads(k, s);
        v = Heads(v, s);

        Tensor? mask = null;
        if (attnMask is not null)
        {
            Tensor m = attnMask.Rank switch
            {
                2 when attnMask.Size(0) == l && attnMask.Size(1) == s => attnMask,
                3 when attnMask.Size(0) == n * h && attnMask.Size(1) == l && attnMask.Size(2) == s => attnMask.Reshape(n, h, l, s),
                _ => throw new ShapeMismatchException($"{op}: attnMask must have shape [{l}, {s}] ([L, S]) or [{n * h}, {l}, {s}] ([N·H, L, S]), got {ShapeUtil.Format(attnMask.Shape)}."),
            };
            mask = Additive(op, "attnMask", m, query.DType);
        }
        if (keyPaddingMask is not null)
        {
            var kpm = batched ? keyPaddingMask : keyPaddingMask.Unsqueeze(0);
            if (kpm.Rank != 2 || kpm.Size(0) != n || kpm.Size(1) != s)
                throw new ShapeMismatchException($"{op}: keyPaddingMask must have shape {(batched ? $"[{n}, {s}] ([N, S])" : $"[{s}] ([S])")}, got {ShapeUtil.Format(keyPaddingMask.Shape)}.");
            var add = Additive(op, "keyPaddingMask", kpm, query.DType).Reshape(n, 1, 1, s);
            mask = mask is null ? add : mask + add;
        }

        var (o, w) = ScaledDotProduct(q, k, v, mask, dropout, generator: generator);
        var output = Project(o.Permute(0, 2, 1, 3).Reshape(n, l, e), outProjWeight, outProjBias);
        output = !batched ? output.Squeeze(0) : batchFirst ? output : output.Transpose(0, 1);
        if (!needWeights) return (output, null);
        var weights = averageAttnWeights ? w.Sum(1) / (double)h : w;
        return (output, batched ? weights : weights.Squeeze(0));
    }

    private static Tensor Project(Tensor x, Tensor w, Tensor? b)
    {
        var y = x.MatMul(w.T);
        return b is null ? y : y + b;
    }

    /// <summary>A bool mask (true = masked) as 0/−∞, or a float mask as is.</summary>
    private static Tensor Additive(string op, string name, Tensor mask, DType dtype)
    {
        if (mask.DType == DType.Bool) return Tensor.Where(mask, double.NegativeInfinity, 0.0, dtype);
        if (mask.DType != dtype)
            throw new DTypeMismatchException($"{op}: {name} must be bool or {dtype.Name()} (the query's dtype), got {mask.DType.Name()}.");
        return mask;
    }
}

/// <summary>
/// Multi-head attention (PyTorch's nn.MultiheadAttention with kdim = vdim = embedDim): the inputs are
/// projected by the packed <see cref="InProjWeight"/>, split into heads, combined by scaled dot-product
/// attention and projected by <see cref="OutProj"/>. Parameter names and initialization follow PyTorch:
/// in_proj_weight [3E, E] Xavier-uniform, in_proj_bias zeros, out_proj.weight Linear's default,
/// out_proj.bias zeros.
/// </summary>
public sealed class MultiheadAttention : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x)
    {
        if (!BatchFirst || x.Rank != 3)
            throw e.Unsupported(this, $"the export needs batchFirst: true and a batched [N, L, E] input (dim 0 is the dynamic batch dim); the traced input has shape {ShapeUtil.Format(x.Shape)}.");
        int l = x.Shape[1], e_ = EmbedDim, h = NumHeads, hd = HeadDim;
        // self-attention: the packed projection, split into q, k, v, each [N, L, E] -> [N, H, L, hd]
        var proj = e.Node("MatMul", [x.Name, e.Node("Transpose", [e.Param(InProjWeight)], ("perm", new long[] { 1, 0 }))]);
        if (InProjBias is not null) proj = e.Node("Add", [proj, e.Param(InProjBias)]);
        var qkv = e.Opset >= 18 ? e.Node("Split", [proj], 3, ("axis", -1L), ("num_outputs", 3L)) : e.Node("Split", [proj], 3, ("axis", -1L));
        string Heads(string t, long[] perm) => e.Node("Transpose", [e.Node("Reshape", [t, e.Ints(-1, l, h, hd)])], ("perm", perm));
        var q = e.Node("Div", [Heads(qkv[0], [0, 2, 1, 3]), e.Scalar(Math.Sqrt(hd))]);
        var kT = Heads(qkv[1], [0, 2, 3, 1]);
        var v = Heads(qkv[2], [0, 2, 1, 3]);
        var weights = e.Node("Softmax", [e.Node("MatMul", [q, kT])], ("axis", -1L));
        var o = e.Node("Transpose", [e.Node("MatMul", [weights, v])], ("perm", new long[] { 0, 2, 1, 3 }));
        var merged = e.Node("Reshape", [o, e.Ints(-1, l, e_)]);
        return e.Linear(new OnnxValue(merged, x.Sample), OutProj.Weight, OutProj.Bias);
    }

    private readonly Generator? _generator;

    /// <summary>Embedding dim E.</summary>
    public int EmbedDim { get; }

    /// <summary>Number of heads H.</summary>
    public int NumHeads { get; }

    /// <summary>E / H.</summary>
    public int HeadDim => EmbedDim / NumHeads;

    /// <summary>Dropout probability on the attention weights (training mode only).</summary>
    public double DropoutP { get; }

    /// <summary>Batched inputs are [N, L, E] (true) or [L, N, E] (false, PyTorch's default).</summary>
    public bool BatchFirst { get; }

    /// <summary>Packed q/k/v projection weight [3E, E] ("in_proj_weight").</summary>
    public Parameter InProjWeight { get; }

    /// <summary>Packed q/k/v projection bias [3E] ("in_proj_bias"), or null.</summary>
    public Parameter? InProjBias { get; }

    /// <summary>The output projection ("out_proj").</summary>
    public Linear OutProj { get; }

    /// <summary>Creates the layer.</summary>
    /// <param name="embedDim">E.</param>
    /// <param name="numHeads">H; must divide E.</param>
    /// <param name="dropout">Dropout probability on the attention weights during training.</param>
    /// <param name="bias">Give the projections biases.</param>
    /// <param name="batchFirst">Batched inputs are [N, L, E] instead of [L, N, E].</param>
    /// <param name="dtype">Parameter dtype.</param>
    /// <param name="generator">Random source for initialization and dropout.</param>
    public MultiheadAttention(int embedDim, int numHeads, double dropout = 0, bool bias = true, bool batchFirst = false,
        DType dtype = DType.Float32, Generator? generator = null)
    {
        if (embedDim <= 0 || numHeads <= 0 || embedDim % numHeads != 0)
            throw new ArgumentException($"MultiheadAttention: embedDim ({embedDim}) must be positive and divisible by numHeads ({numHeads}).");
        if (!(dropout >= 0 && dropout <= 1))
            throw new ArgumentOutOfRangeException(nameof(dropout), $"MultiheadAttention: dropout must be in [0, 1], got {dropout}.");
        EmbedDim = embedDim;
        NumHeads = numHeads;
        DropoutP = dropout;
        BatchFirst = batchFirst;
        _generator = generator;
        // Xavier uniform for [3E, E]: fan_in = E, fan_out = 3E
        double bound = Math.Sqrt(6.0 / (embedDim + 3 * embedDim));
        InProjWeight = AddParameter("in_proj_weight", Init.Uniform([3 * embedDim, embedDim], bound, dtype, generator));
        InProjBias = bias ? AddParameter("in_proj_bias", Tensor.Zeros([3 * embedDim], dtype)) : RegisterParameter("in_proj_bias", null);
        OutProj = RegisterModule("out_proj", new Linear(embedDim, embedDim, bias, dtype, generator));
        if (OutProj.Bias is { } ob)
            using (Autograd.NoGrad()) ob.ZeroInPlace();
    }

    /// <summary>Self-attention: query = key = value = <paramref name="input"/>; returns the output only.</summary>
    public override Tensor Forward(Tensor input) => Forward(input, input, input, needWeights: false).Output;

    /// <summary>
    /// Attention of <paramref name="query"/> over <paramref name="key"/>/<paramref name="value"/> (see
    /// <see cref="Attention.MultiheadAttentionForward"/> for shapes and masks). Dropout applies in training mode only.
    /// </summary>
    /// <returns>The output and, when <paramref name="needWeights"/>, the attention weights (averaged over heads
    /// unless <paramref name="averageAttnWeights"/> is false).</returns>
    public (Tensor Output, Tensor? Weights) Forward(Tensor query, Tensor key, Tensor value, Tensor? keyPaddingMask = null,
        bool needWeights = true, Tensor? attnMask = null, bool averageAttnWeights = true) =>
        Attention.MultiheadAttentionForward(query, key, value, NumHeads, InProjWeight, InProjBias, OutProj.Weight, OutProj.Bias,
            keyPaddingMask, needWeights, attnMask, averageAttnWeights, Training ? DropoutP : 0, BatchFirst, _generator);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"embed_dim={EmbedDim}, num_heads={NumHeads}, dropout={DropoutP}, batch_first={(BatchFirst ? "True" : "False")}";
}
