namespace Fluxion.Nn;

/// <summary>How <see cref="EmbeddingBag"/> reduces the vectors of one bag (PyTorch's <c>mode</c>).</summary>
public enum EmbeddingBagMode
{
    /// <summary>The (optionally per-sample weighted) sum.</summary>
    Sum,
    /// <summary>The mean (PyTorch's default).</summary>
    Mean,
    /// <summary>The elementwise maximum.</summary>
    Max,
}

/// <summary>
/// Sums, averages or takes the maximum of bags of embedding vectors without materializing the per-index vectors' tensor
/// shape (PyTorch's <c>nn.EmbeddingBag</c>): weight [NumEmbeddings, EmbeddingDim] (state-dict name "weight"), initialized
/// N(0, 1) as PyTorch (the padding row at zero).
/// </summary>
public sealed class EmbeddingBag : Module
{
    /// <summary>The table, shape [NumEmbeddings, EmbeddingDim].</summary>
    public Parameter Weight { get; }

    /// <summary>Number of rows.</summary>
    public int NumEmbeddings { get; }

    /// <summary>Size of each vector.</summary>
    public int EmbeddingDim { get; }

    /// <summary>The reduction over a bag.</summary>
    public EmbeddingBagMode Mode { get; }

    /// <summary>The padding row (excluded from every bag), or null.</summary>
    public int? PaddingIdx { get; }

    /// <summary>Whether the offsets carry a final entry (the end of the last bag), as CSR row pointers.</summary>
    public bool IncludeLastOffset { get; }

    /// <summary>Creates the table with N(0, 1) entries (and a zero padding row).</summary>
    public EmbeddingBag(int numEmbeddings, int embeddingDim, EmbeddingBagMode mode = EmbeddingBagMode.Mean, bool includeLastOffset = false,
        int? paddingIdx = null, DType dtype = DType.Float32, Generator? generator = null)
    {
        if (numEmbeddings <= 0 || embeddingDim <= 0)
            throw new ArgumentException($"EmbeddingBag: numEmbeddings and embeddingDim must be positive, got {numEmbeddings} and {embeddingDim}.");
        if (!dtype.IsFloatingPoint()) throw new DTypeMismatchException($"EmbeddingBag: the weight dtype must be float32 or float64, got {dtype.Name()}.");
        (NumEmbeddings, EmbeddingDim, Mode, IncludeLastOffset) = (numEmbeddings, embeddingDim, mode, includeLastOffset);
        PaddingIdx = NormalizePadding("EmbeddingBag", numEmbeddings, paddingIdx);
        var w = Tensor.Randn([numEmbeddings, embeddingDim], dtype, generator);
        if (PaddingIdx is int p)
            using (Autograd.NoGrad()) w.Select(0, p).ZeroInPlace();
        Weight = AddParameter("weight", w);
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Bag(Weight, input, null, Mode, null, IncludeLastOffset, PaddingIdx);

    /// <summary>The bags of <paramref name="input"/> (see <see cref="Bag"/>).</summary>
    public Tensor Forward(Tensor input, Tensor? offsets, Tensor? perSampleWeights = null) =>
        Bag(Weight, input, offsets, Mode, perSampleWeights, IncludeLastOffset, PaddingIdx);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"{NumEmbeddings}, {EmbeddingDim}, mode='{Mode.ToString().ToLowerInvariant()}'" + (PaddingIdx is int p ? $", padding_idx={p}" : "");

    private static int? NormalizePadding(string op, int numEmbeddings, int? paddingIdx)
    {
        if (paddingIdx is not int p) return null;
        if (p < -numEmbeddings || p >= numEmbeddings)
            throw new ArgumentOutOfRangeException(nameof(paddingIdx), $"{op}: paddingIdx {p} must be within [{-numEmbeddings}, {numEmbeddings}) for {numEmbeddings} embeddings.");
        return p < 0 ? p + numEmbeddings : p;
    }

    /// <summary>
    /// PyTorch's <c>F.embedding_bag</c>: reduces the rows of <paramref name="weight"/> [num, dim] at the int64 indices of each bag
    /// to one vector, giving [bags, dim]. A 2-D <paramref name="input"/> [B, L] holds B bags of L indices (no offsets); a 1-D input
    /// holds the bags one after another, bag b starting at <paramref name="offsets"/>[b] (offsets[0] = 0; with
    /// <paramref name="includeLastOffset"/> the offsets also give the end of the last bag). <paramref name="perSampleWeights"/>
    /// (input's shape, Sum mode only) scale each vector. Indices equal to <paramref name="paddingIdx"/> are left out (of the count
    /// too); an empty bag gives zeros. Max mode passes the gradient to every maximal entry equally on ties (PyTorch: to one of them).
    /// </summary>
    public static Tensor Bag(Tensor weight, Tensor input, Tensor? offsets = null, EmbeddingBagMode mode = EmbeddingBagMode.Mean,
        Tensor? perSampleWeights = null, bool includeLastOffset = false, int? paddingIdx = null)
    {
        const string op = "EmbeddingBag";
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(input);
        weight.CheckFloat(op);
        if (weight.Rank != 2) throw new ShapeMismatchException($"{op}: the weight must be 2-D [num_embeddings, dim], got {ShapeUtil.Format(weight.Shape)}.");
        if (input.DType != DType.Int64 || (offsets is not null && offsets.DType != DType.Int64))
            throw new DTypeMismatchException($"{op}: input and offsets must be int64, got {input.DType.Name()}{(offsets is null ? "" : " and " + offsets.DType.Name())}. Convert them with .To(DType.Int64).");
        int num = weight.Size(0), dim = weight.Size(1);
        int? pad = NormalizePadding(op, num, paddingIdx);
        var idx = input.ToArray<long>();
        int[] bagOf = new int[idx.Length];
        int bags;
        if (input.Rank == 2)
        {
            if (offsets is not null) throw new ArgumentException($"{op}: a 2-D input [B, L] ({ShapeUtil.Format(input.Shape)}) holds fixed-size bags: pass no offsets.", nameof(offsets));
            bags = input.Size(0);
            int l = input.Size(1);
            for (int i = 0; i < idx.Length; i++) bagOf[i] = i / l;
        }
        else if (input.Rank == 1)
        {
            if (offsets is null || offsets.Rank != 1)
                throw new ShapeMismatchException($"{op}: a 1-D input ({ShapeUtil.Format(input.Shape)}) needs 1-D int64 offsets (the start of each bag).");
            var off = offsets.ToArray<long>();
            bags = includeLastOffset ? off.Length - 1 : off.Length;
            if (bags < 0 || (off.Length > 0 && off[0] != 0))
                throw new ArgumentException($"{op}: offsets must start at 0{(includeLastOffset ? " and hold at least one entry" : "")}, got [{string.Join(", ", off)}].", nameof(offsets));
            for (int b = 0; b < off.Length; b++)
                if (off[b] > idx.Length || (b > 0 && off[b] < off[b - 1]))
                    throw new ArgumentException($"{op}: offsets must be non-decreasing and at most the input length {idx.Length}, got [{string.Join(", ", off)}].", nameof(offsets));
            for (int b = 0; b < bags; b++)
            {
                long end = b + 1 < off.Length ? off[b + 1] : idx.Length;
                for (long i = off[b]; i < end; i++) bagOf[i] = b;
            }
            if (includeLastOffset && off.Length > 0 && off[^1] < idx.Length)
                for (long i = off[^1]; i < idx.Length; i++) bagOf[i] = -1; // past the last bag's end: ignored, as PyTorch
        }
        else throw new ShapeMismatchException($"{op}: the input must be 1-D (with offsets) or 2-D [B, L], got {ShapeUtil.Format(input.Shape)}.");
        if (perSampleWeights is not null)
        {
            if (mode != EmbeddingBagMode.Sum) throw new ArgumentException($"{op}: perSampleWeights are only supported in Sum mode, got {mode}.", nameof(perSampleWeights));
            if (!ShapeUtil.SameShape(perSampleWeights.ShapeArray, input.ShapeArray) || perSampleWeights.DType != weight.DType)
                throw new ShapeMismatchException($"{op}: perSampleWeights must have the input's shape {ShapeUtil.Format(input.Shape)} and the weight's dtype, got {perSampleWeights.DType.Name()} {ShapeUtil.Format(perSampleWeights.Shape)}.");
        }
        var keptIdx = new List<long>();
        var keptPos = new List<long>();
        var keptBag = new List<long>();
        var count = new double[bags];
        for (int i = 0; i < idx.Length; i++)
        {
            if (idx[i] < 0 || idx[i] >= num)
                throw new ShapeMismatchException($"{op}: index {idx[i]} is out of range for {num} embeddings.");
            if (bagOf[i] < 0 || idx[i] == pad) continue;
            keptIdx.Add(idx[i]);
            keptPos.Add(i);
            keptBag.Add(bagOf[i]);
            count[bagOf[i]]++;
        }
        int k = keptIdx.Count;
        var rows = weight.IndexSelect(0, Tensor.FromArray([.. keptIdx], k));
        if (perSampleWeights is not null) rows = rows * perSampleWeights.Reshape(-1).IndexSelect(0, Tensor.FromArray([.. keptPos], k)).Unsqueeze(1);
        var bagT = Tensor.FromArray([.. keptBag], k);
        var zeros = Tensor.Zeros([bags, dim], weight.DType);
        if (mode == EmbeddingBagMode.Max)
            return zeros.ScatterReduce(0, bagT.Unsqueeze(1).Expand(k, dim), rows, ScatterReduction.Amax, includeSelf: false);
        var sum = zeros.IndexAdd(0, bagT, rows);
        if (mode == EmbeddingBagMode.Sum) return sum;
        for (int b = 0; b < bags; b++) count[b] = Math.Max(count[b], 1);
        return sum / Tensor.FromArray(count, bags, 1).To(weight.DType);
    }
}
