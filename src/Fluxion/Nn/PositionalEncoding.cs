using Fluxion.IO;

namespace Fluxion.Nn;

/// <summary>Shared input handling of the positional encodings: which dim is the sequence.</summary>
internal static class PositionalInput
{
    /// <summary>
    /// The encoding table rows [L, dModel] shaped to broadcast against <paramref name="x"/>: inputs are
    /// [L, N, dModel] ([N, L, dModel] when batchFirst) or unbatched [L, dModel].
    /// </summary>
    public static Tensor Align(string op, Tensor x, Tensor table, bool batchFirst)
    {
        int maxLen = table.Size(0), dModel = table.Size(1);
        if (x.Rank is not (2 or 3) || x.Size(-1) != dModel)
            throw new ShapeMismatchException($"{op}: the input must be [L, N, {dModel}]{(batchFirst ? " ([N, L, dModel] with batchFirst)" : "")} or [L, {dModel}], got {ShapeUtil.Format(x.Shape)}.");
        int seqDim = x.Rank == 3 && batchFirst ? 1 : 0;
        int l = x.Size(seqDim);
        if (l > maxLen)
            throw new ShapeMismatchException($"{op}: the sequence length {l} (input shape {ShapeUtil.Format(x.Shape)}) exceeds maxLen {maxLen}.");
        var rows = table.Narrow(0, 0, l); // [L, dModel]
        return x.Rank == 3 && !batchFirst ? rows.Unsqueeze(1) : rows;
    }

    /// <summary>ONNX: x + the table's first L rows, for a batch-first [N, L, dModel] input.</summary>
    public static string ExportOnnx(Module m, OnnxExporter e, OnnxValue x, Tensor table, bool batchFirst)
    {
        if (!batchFirst || x.Rank != 3)
            throw e.Unsupported(m, $"the export needs batchFirst: true and a batched [N, L, dModel] input (dim 0 is the dynamic batch dim); the traced input has shape {ShapeUtil.Format(x.Shape)}.");
        var rows = e.Node("Slice", [e.Param(table), e.Ints(0), e.Ints(x.Shape[1]), e.Ints(0)]);
        if (table.DType != e.FloatType) rows = e.Node("Cast", [rows], ("to", e.FloatType == DType.Float64 ? 11L : 1L));
        return e.Node("Add", [x.Name, rows]);
    }
}

/// <summary>
/// Fixed sinusoidal positional encoding ("Attention is all you need"):
/// PE[pos, 2i] = sin(pos / 10000^(2i/dModel)), PE[pos, 2i+1] = cos(pos / 10000^(2i/dModel)), added to the
/// input, followed by dropout. The table is the buffer "pe" [maxLen, dModel].
/// </summary>
public sealed class SinusoidalPositionalEncoding : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x) => PositionalInput.ExportOnnx(this, e, x, Pe, BatchFirst);

    /// <summary>Model width.</summary>
    public int DModel { get; }

    /// <summary>Longest supported sequence.</summary>
    public int MaxLen { get; }

    /// <summary>Batched inputs are [N, L, dModel] (true) or [L, N, dModel] (false).</summary>
    public bool BatchFirst { get; }

    /// <summary>The encoding table [maxLen, dModel].</summary>
    public Tensor Pe => NamedBuffers().First(b => b.Name == "pe").Buffer;

    private readonly Dropout _dropout;

    /// <summary>Creates the encoding table.</summary>
    /// <param name="dModel">Model width.</param>
    /// <param name="maxLen">Longest supported sequence.</param>
    /// <param name="dropout">Dropout probability applied after the addition (training mode).</param>
    /// <param name="batchFirst">Batched inputs are [N, L, dModel].</param>
    /// <param name="dtype">Table dtype.</param>
    /// <param name="generator">Random source for dropout.</param>
    public SinusoidalPositionalEncoding(int dModel, int maxLen = 5000, double dropout = 0, bool batchFirst = false,
        DType dtype = DType.Float32, Generator? generator = null)
    {
        if (dModel <= 0 || maxLen <= 0)
            throw new ArgumentException($"SinusoidalPositionalEncoding: dModel and maxLen must be positive, got {dModel} and {maxLen}.");
        DModel = dModel;
        MaxLen = maxLen;
        BatchFirst = batchFirst;
        RegisterBuffer("pe", Table(maxLen, dModel, dtype));
        _dropout = RegisterModule("dropout", new Dropout(dropout, generator));
    }

    /// <summary>The [maxLen, dModel] table, computed in float64.</summary>
    public static Tensor Table(int maxLen, int dModel, DType dtype = DType.Float32)
    {
        var pe = new double[maxLen * dModel];
        for (int i = 0; i < dModel; i += 2)
        {
            double divTerm = Math.Exp(i * -(Math.Log(10000.0) / dModel));
            for (int pos = 0; pos < maxLen; pos++)
            {
                double a = pos * divTerm;
                pe[pos * dModel + i] = Math.Sin(a);
                if (i + 1 < dModel) pe[pos * dModel + i + 1] = Math.Cos(a);
            }
        }
        return Tensor.FromDoubles(pe, [maxLen, dModel], dtype);
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        var pe = Pe;
        if (pe.DType != input.DType) pe = pe.To(input.DType);
        return _dropout.Forward(input + PositionalInput.Align("SinusoidalPositionalEncoding", input, pe, BatchFirst));
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"d_model={DModel}, max_len={MaxLen}";
}

/// <summary>
/// Learned absolute positional embeddings: a trainable table "weight" [maxLen, dModel] (initialized
/// N(0, initStd²), 0.02 by default as BERT/GPT-2) whose first L rows are added to the input, followed by dropout.
/// </summary>
public sealed class LearnedPositionalEncoding : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x) => PositionalInput.ExportOnnx(this, e, x, Weight, BatchFirst);

    /// <summary>The table [maxLen, dModel].</summary>
    public Parameter Weight { get; }

    /// <summary>Model width.</summary>
    public int DModel { get; }

    /// <summary>Longest supported sequence.</summary>
    public int MaxLen { get; }

    /// <summary>Batched inputs are [N, L, dModel] (true) or [L, N, dModel] (false).</summary>
    public bool BatchFirst { get; }

    private readonly Dropout _dropout;

    /// <summary>Creates the table.</summary>
    /// <param name="maxLen">Longest supported sequence.</param>
    /// <param name="dModel">Model width.</param>
    /// <param name="dropout">Dropout probability applied after the addition (training mode).</param>
    /// <param name="batchFirst">Batched inputs are [N, L, dModel].</param>
    /// <param name="initStd">Standard deviation of the initial entries.</param>
    /// <param name="dtype">Table dtype.</param>
    /// <param name="generator">Random source for initialization and dropout.</param>
    public LearnedPositionalEncoding(int maxLen, int dModel, double dropout = 0, bool batchFirst = false, double initStd = 0.02,
        DType dtype = DType.Float32, Generator? generator = null)
    {
        if (dModel <= 0 || maxLen <= 0)
            throw new ArgumentException($"LearnedPositionalEncoding: dModel and maxLen must be positive, got {dModel} and {maxLen}.");
        DModel = dModel;
        MaxLen = maxLen;
        BatchFirst = batchFirst;
        Weight = AddParameter("weight", Tensor.Randn([maxLen, dModel], dtype, generator) * initStd);
        _dropout = RegisterModule("dropout", new Dropout(dropout, generator));
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) =>
        _dropout.Forward(input + PositionalInput.Align("LearnedPositionalEncoding", input, Weight, BatchFirst));

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"max_len={MaxLen}, d_model={DModel}";
}
