using Fluxion.IO;

namespace Fluxion.Nn;

/// <summary>
/// A lookup table of <see cref="NumEmbeddings"/> vectors of size <see cref="EmbeddingDim"/> (PyTorch's
/// nn.Embedding): int64 indices of any shape [*] give vectors of shape [*, EmbeddingDim]. The weight is
/// initialized N(0, 1) as PyTorch; the row <see cref="PaddingIdx"/>, when given, starts at zero and never
/// receives a gradient.
/// </summary>
public sealed class Embedding : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x) => e.Node("Gather", [e.Param(Weight), x.Name], ("axis", 0L));

    /// <summary>The table, shape [NumEmbeddings, EmbeddingDim] (state-dict name "weight").</summary>
    public Parameter Weight { get; }

    /// <summary>Number of rows.</summary>
    public int NumEmbeddings { get; }

    /// <summary>Size of each vector.</summary>
    public int EmbeddingDim { get; }

    /// <summary>The padding row (already made non-negative), or null.</summary>
    public int? PaddingIdx { get; }

    /// <summary>Creates the table with N(0, 1) entries (and a zero padding row).</summary>
    /// <param name="numEmbeddings">Number of rows.</param>
    /// <param name="embeddingDim">Size of each vector.</param>
    /// <param name="paddingIdx">Row whose gradient is always zero; negative values count from the end.</param>
    /// <param name="dtype">Weight dtype.</param>
    /// <param name="generator">Random source for the initialization.</param>
    public Embedding(int numEmbeddings, int embeddingDim, int? paddingIdx = null, DType dtype = DType.Float32, Generator? generator = null)
        : this(InitWeight(numEmbeddings, embeddingDim, paddingIdx, dtype, generator), paddingIdx, requiresGrad: true)
    {
    }

    private Embedding(Tensor weight, int? paddingIdx, bool requiresGrad)
    {
        NumEmbeddings = weight.Size(0);
        EmbeddingDim = weight.Size(1);
        PaddingIdx = NormalizePadding(NumEmbeddings, paddingIdx);
        Weight = AddParameter("weight", weight, requiresGrad);
    }

    private static Tensor InitWeight(int numEmbeddings, int embeddingDim, int? paddingIdx, DType dtype, Generator? generator)
    {
        if (numEmbeddings <= 0 || embeddingDim <= 0)
            throw new ArgumentException($"Embedding: numEmbeddings and embeddingDim must be positive, got {numEmbeddings} and {embeddingDim}.");
        if (!dtype.IsFloatingPoint())
            throw new DTypeMismatchException($"Embedding: the weight dtype must be float32 or float64, got {dtype.Name()}.");
        var w = Tensor.Randn([numEmbeddings, embeddingDim], dtype, generator);
        if (NormalizePadding(numEmbeddings, paddingIdx) is int p)
            using (Autograd.NoGrad()) w.Select(0, p).ZeroInPlace();
        return w;
    }

    private static int? NormalizePadding(int numEmbeddings, int? paddingIdx)
    {
        if (paddingIdx is not int p) return null;
        if (p < -numEmbeddings || p >= numEmbeddings)
            throw new ArgumentOutOfRangeException(nameof(paddingIdx), $"Embedding: paddingIdx {p} must be within [{-numEmbeddings}, {numEmbeddings}) for {numEmbeddings} embeddings.");
        return p < 0 ? p + numEmbeddings : p;
    }

    /// <summary>
    /// A table holding (a copy of) <paramref name="embeddings"/> [n, dim], frozen (no gradient) unless
    /// <paramref name="freeze"/> is false (PyTorch's Embedding.from_pretrained). The padding row is kept as given.
    /// </summary>
    public static Embedding FromPretrained(Tensor embeddings, bool freeze = true, int? paddingIdx = null)
    {
        ArgumentNullException.ThrowIfNull(embeddings);
        if (embeddings.Rank != 2)
            throw new ShapeMismatchException($"Embedding.FromPretrained: embeddings must be 2-D [n, dim], got {ShapeUtil.Format(embeddings.Shape)}.");
        embeddings.CheckFloat("Embedding.FromPretrained");
        Tensor copy;
        using (Autograd.NoGrad()) copy = embeddings.Detach().Clone();
        return new Embedding(copy, paddingIdx, requiresGrad: !freeze);
    }

    /// <summary>
    /// The rows of <paramref name="weight"/> at int64 <paramref name="indices"/> of any shape [*], giving
    /// [*, dim] (PyTorch's F.embedding). Entries equal to <paramref name="paddingIdx"/> (non-negative) pass
    /// no gradient (or tangent) to the weight.
    /// </summary>
    public static Tensor Lookup(Tensor weight, Tensor indices, int? paddingIdx = null)
    {
        const string op = "Embedding";
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(indices);
        if (weight.Rank != 2)
            throw new ShapeMismatchException($"{op}: the weight must be 2-D [num_embeddings, dim], got {ShapeUtil.Format(weight.Shape)}.");
        if (indices.DType != DType.Int64)
            throw new DTypeMismatchException($"{op}: indices must be int64, got {indices.DType.Name()} of shape {ShapeUtil.Format(indices.Shape)}. Convert them with .To(DType.Int64).");
        Tensor.CheckIndexRange(op, indices, weight.Size(0), $"num_embeddings {weight.Size(0)}, weight shape {ShapeUtil.Format(weight.Shape)}");
        var flat = indices.Reshape(-1);
        var rows = weight.IndexSelect(0, flat);
        if (paddingIdx is int p)
        {
            var isPad = flat.Eq(p).Unsqueeze(1);
            rows = Tensor.Where(isPad, rows.Detach(), rows);
        }
        return rows.Reshape([.. indices.ShapeArray, weight.Size(1)]);
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Lookup(Weight, input, PaddingIdx);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"{NumEmbeddings}, {EmbeddingDim}" + (PaddingIdx is int p ? $", padding_idx={p}" : "");
}
