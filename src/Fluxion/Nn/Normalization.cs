using System.Globalization;
using Fluxion.IO;

namespace Fluxion.Nn;

/// <summary>Formats numbers in module descriptions as Python prints them (1e-05, 0.1).</summary>
internal static class NormRepr
{
    public static string Num(double v) => v.ToString(CultureInfo.InvariantCulture).Replace("E", "e");

    public static string Bool(bool b) => b ? "True" : "False";
}

/// <summary>The parameters and buffers the normalization layers share, registered under PyTorch's names.</summary>
public abstract partial class Module
{
    /// <summary>Registers "weight" (ones) and "bias" (zeros) of <paramref name="shape"/>, or both absent when not <paramref name="affine"/>.</summary>
    private protected (Parameter? Weight, Parameter? Bias) AddAffine(int[] shape, bool affine, DType dtype) => affine
        ? (AddParameter("weight", Tensor.Ones(shape, dtype)), AddParameter("bias", Tensor.Zeros(shape, dtype)))
        : (RegisterParameter("weight", null), RegisterParameter("bias", null));

    /// <summary>Registers the buffers "running_mean" [C] (zeros), "running_var" [C] (ones) and "num_batches_tracked"
    /// (0-d int64 zero) when <paramref name="track"/>; all null otherwise.</summary>
    private protected (Tensor? Mean, Tensor? Var, Tensor? NumBatchesTracked) AddRunningStats(int numFeatures, bool track, DType dtype) => track
        ? (RegisterBuffer("running_mean", Tensor.Zeros([numFeatures], dtype)), RegisterBuffer("running_var", Tensor.Ones([numFeatures], dtype)),
            RegisterBuffer("num_batches_tracked", Tensor.Zeros([], DType.Int64)))
        : (null, null, null);
}

/// <summary>
/// Batch normalization over the channel dim 1 (PyTorch's <c>_BatchNorm</c>): in training mode each
/// channel is standardized with the batch mean and (population) variance and the buffers
/// "running_mean"/"running_var" are updated with momentum (unbiased variance), "num_batches_tracked"
/// counts the steps; in eval mode the running statistics are used. Affine weight (ones) and bias (zeros).
/// </summary>
public abstract class BatchNormBase : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x)
    {
        if (!TrackRunningStats)
            throw e.Unsupported(this, "without running statistics it normalizes with the batch's own statistics; the export covers the inference form (trackRunningStats: true).");
        return e.Node("BatchNormalization", [x.Name, Weight is null ? e.Filled(NumFeatures, 1) : e.Param(Weight), Bias is null ? e.Filled(NumFeatures, 0) : e.Param(Bias),
            e.Param(RunningMean!), e.Param(RunningVar!)], ("epsilon", Eps));
    }

    /// <summary>Number of channels C.</summary>
    public int NumFeatures { get; }

    /// <summary>Added to the variance for stability.</summary>
    public double Eps { get; }

    /// <summary>Weight of the new statistics in the running average; null for a cumulative average.</summary>
    public double? Momentum { get; }

    /// <summary>Whether the layer has learnable weight and bias.</summary>
    public bool Affine { get; }

    /// <summary>Whether running statistics are kept (and used in eval mode).</summary>
    public bool TrackRunningStats { get; }

    /// <summary>Per-channel scale (ones initially), or null when not affine.</summary>
    public Parameter? Weight { get; }

    /// <summary>Per-channel shift (zeros initially), or null when not affine.</summary>
    public Parameter? Bias { get; }

    /// <summary>Running mean buffer [C] (zeros initially), or null when not tracking.</summary>
    public Tensor? RunningMean { get; }

    /// <summary>Running variance buffer [C] (ones initially), or null when not tracking.</summary>
    public Tensor? RunningVar { get; }

    /// <summary>Number of training batches seen (0-d int64), or null when not tracking.</summary>
    public Tensor? NumBatchesTracked { get; }

    /// <summary>Creates the layer with PyTorch's defaults.</summary>
    protected BatchNormBase(int numFeatures, double eps, double? momentum, bool affine, bool trackRunningStats, DType dtype)
    {
        if (numFeatures <= 0) throw new ArgumentException($"{GetType().Name}: numFeatures must be positive, got {numFeatures}.");
        if (eps < 0) throw new ArgumentException($"{GetType().Name}: eps must be non-negative, got {eps}.");
        NumFeatures = numFeatures;
        Eps = eps;
        Momentum = momentum;
        Affine = affine;
        TrackRunningStats = trackRunningStats;
        (Weight, Bias) = AddAffine([numFeatures], affine, dtype);
        (RunningMean, RunningVar, NumBatchesTracked) = AddRunningStats(numFeatures, trackRunningStats, dtype);
    }

    /// <summary>The input ranks this layer accepts, and how to describe them in errors.</summary>
    protected abstract (int[] Ranks, string Layout) ExpectedInput { get; }

    /// <summary>Resets the running statistics to mean 0, variance 1 and zero batches.</summary>
    public void ResetRunningStats()
    {
        if (!TrackRunningStats) return;
        using (Autograd.NoGrad())
        {
            RunningMean!.ZeroInPlace();
            RunningVar!.FillInPlace(1);
            NumBatchesTracked!.SetRaw(NumBatchesTracked.Offset, 0);
        }
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        var (ranks, layout) = ExpectedInput;
        if (!ranks.Contains(input.Rank))
            throw new ShapeMismatchException($"{this}: expected {layout} input, got shape {ShapeUtil.Format(input.Shape)}.");
        if (input.Size(1) != NumFeatures)
            throw new ShapeMismatchException($"{this}: expected {NumFeatures} channels in dim 1 of the input, got shape {ShapeUtil.Format(input.Shape)}.");
        double factor = 0;
        if (Training && TrackRunningStats)
        {
            var nbt = NumBatchesTracked!;
            double count = nbt.GetRaw(nbt.Offset) + 1;
            nbt.SetRaw(nbt.Offset, count);
            factor = Momentum ?? 1 / count;
        }
        bool useBatchStats = Training || !TrackRunningStats;
        bool passRunning = !Training || TrackRunningStats;
        return Tensor.BatchNorm(input, passRunning ? RunningMean : null, passRunning ? RunningVar : null, Weight, Bias, useBatchStats, factor, Eps);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() =>
        $"{NumFeatures}, eps={NormRepr.Num(Eps)}, momentum={(Momentum is { } m ? NormRepr.Num(m) : "None")}, affine={NormRepr.Bool(Affine)}, track_running_stats={NormRepr.Bool(TrackRunningStats)}";
}

/// <summary>Batch normalization of [N, C] or [N, C, L] inputs (PyTorch's <c>nn.BatchNorm1d</c>).</summary>
public sealed class BatchNorm1d(int numFeatures, double eps = 1e-5, double? momentum = 0.1, bool affine = true, bool trackRunningStats = true, DType dtype = DType.Float32)
    : BatchNormBase(numFeatures, eps, momentum, affine, trackRunningStats, dtype)
{
    /// <inheritdoc/>
    protected override (int[] Ranks, string Layout) ExpectedInput => ([2, 3], $"a 2-D [N, {NumFeatures}] or 3-D [N, {NumFeatures}, L]");
}

/// <summary>Batch normalization of [N, C, H, W] inputs (PyTorch's <c>nn.BatchNorm2d</c>).</summary>
public sealed class BatchNorm2d(int numFeatures, double eps = 1e-5, double? momentum = 0.1, bool affine = true, bool trackRunningStats = true, DType dtype = DType.Float32)
    : BatchNormBase(numFeatures, eps, momentum, affine, trackRunningStats, dtype)
{
    /// <inheritdoc/>
    protected override (int[] Ranks, string Layout) ExpectedInput => ([4], $"a 4-D [N, {NumFeatures}, H, W]");
}

/// <summary>
/// Layer normalization over the trailing <see cref="NormalizedShape"/> dims (PyTorch's <c>nn.LayerNorm</c>):
/// y = (x − mean)/sqrt(var + eps)·weight + bias with per-element weight (ones) and bias (zeros) of that shape.
/// </summary>
public sealed class LayerNorm : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x)
    {
        var scale = Weight is null ? e.Node("Reshape", [e.Filled(NormalizedShape.Aggregate(1, (a, b) => a * b), 1), e.Ints(NormalizedShape.Select(d => (long)d).ToArray())]) : e.Param(Weight);
        string[] inputs = Bias is null ? [x.Name, scale] : [x.Name, scale, e.Param(Bias)];
        return e.Node("LayerNormalization", inputs, ("axis", (long)-NormalizedShape.Length), ("epsilon", Eps));
    }

    /// <summary>The trailing dims normalized over.</summary>
    public int[] NormalizedShape { get; }

    /// <summary>Added to the variance for stability.</summary>
    public double Eps { get; }

    /// <summary>Per-element scale, or null without elementwise affine.</summary>
    public Parameter? Weight { get; }

    /// <summary>Per-element shift, or null without elementwise affine.</summary>
    public Parameter? Bias { get; }

    /// <summary>Creates the layer.</summary>
    public LayerNorm(int[] normalizedShape, double eps = 1e-5, bool elementwiseAffine = true, DType dtype = DType.Float32)
    {
        if (normalizedShape.Length == 0 || normalizedShape.Any(d => d <= 0))
            throw new ArgumentException($"LayerNorm: normalizedShape must be non-empty with positive dims, got {ShapeUtil.Format(normalizedShape)}.");
        NormalizedShape = (int[])normalizedShape.Clone();
        Eps = eps;
        (Weight, Bias) = AddAffine(NormalizedShape, elementwiseAffine, dtype);
    }

    /// <summary>Normalizes over the last dim of size <paramref name="normalizedSize"/>.</summary>
    public LayerNorm(int normalizedSize, double eps = 1e-5, bool elementwiseAffine = true, DType dtype = DType.Float32)
        : this([normalizedSize], eps, elementwiseAffine, dtype) { }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        int k = NormalizedShape.Length;
        if (input.Rank < k || !ShapeUtil.SameShape(input.Shape[(input.Rank - k)..], NormalizedShape))
            throw new ShapeMismatchException($"{this}: expected an input whose trailing dims are {ShapeUtil.Format(NormalizedShape)}, got shape {ShapeUtil.Format(input.Shape)}.");
        return Tensor.LayerNorm(input, NormalizedShape, Weight, Bias, Eps);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() =>
        $"({string.Join(", ", NormalizedShape)}{(NormalizedShape.Length == 1 ? "," : "")}), eps={NormRepr.Num(Eps)}, elementwise_affine={NormRepr.Bool(Weight is not null)}";
}

/// <summary>
/// Group normalization (PyTorch's <c>nn.GroupNorm</c>): the channels of [N, C, *] are split into
/// <see cref="NumGroups"/> groups, each (sample, group) is standardized, then per-channel weight (ones)
/// and bias (zeros) apply.
/// </summary>
public sealed class GroupNorm : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x)
    {
        // [N, C, *] -> [N, G, C/G·*], instance-normalized per (sample, group), back to [N, C, *], then the per-channel affine
        var groups = e.Node("Reshape", [x.Name, e.Ints(0, NumGroups, -1)]);
        var normed = e.Node("InstanceNormalization", [groups, e.Filled(NumGroups, 1), e.Filled(NumGroups, 0)], ("epsilon", Eps));
        var y = e.ReshapeBatch(normed, x.Shape);
        var channelShape = e.Ints([NumChannels, .. Enumerable.Repeat(1L, x.Rank - 2)]);
        if (Weight is not null) y = e.Node("Mul", [y, e.Node("Reshape", [e.Param(Weight), channelShape])]);
        if (Bias is not null) y = e.Node("Add", [y, e.Node("Reshape", [e.Param(Bias), channelShape])]);
        return y;
    }

    /// <summary>Number of channel groups.</summary>
    public int NumGroups { get; }

    /// <summary>Number of channels C.</summary>
    public int NumChannels { get; }

    /// <summary>Added to the variance for stability.</summary>
    public double Eps { get; }

    /// <summary>Per-channel scale, or null when not affine.</summary>
    public Parameter? Weight { get; }

    /// <summary>Per-channel shift, or null when not affine.</summary>
    public Parameter? Bias { get; }

    /// <summary>Creates the layer.</summary>
    public GroupNorm(int numGroups, int numChannels, double eps = 1e-5, bool affine = true, DType dtype = DType.Float32)
    {
        if (numGroups <= 0 || numChannels <= 0 || numChannels % numGroups != 0)
            throw new ArgumentException($"GroupNorm: numChannels ({numChannels}) must be divisible by numGroups ({numGroups}), both positive.");
        NumGroups = numGroups;
        NumChannels = numChannels;
        Eps = eps;
        (Weight, Bias) = AddAffine([numChannels], affine, dtype);
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        if (input.Rank < 2 || input.Size(1) != NumChannels)
            throw new ShapeMismatchException($"{this}: expected input [N, {NumChannels}, *], got shape {ShapeUtil.Format(input.Shape)}.");
        return Tensor.GroupNorm(input, NumGroups, Weight, Bias, Eps);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"{NumGroups}, {NumChannels}, eps={NormRepr.Num(Eps)}, affine={NormRepr.Bool(Weight is not null)}";
}

/// <summary>
/// Instance normalization of [N, C, H, W] (or [C, H, W]) inputs (PyTorch's <c>nn.InstanceNorm2d</c>):
/// each (sample, channel) plane is standardized over H·W. By default no affine parameters and no
/// running statistics; with <c>trackRunningStats</c> the buffers are kept as in BatchNorm (batch-averaged)
/// and used in eval mode.
/// </summary>
public sealed class InstanceNorm2d : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x)
    {
        e.RequireRank(this, x, 4, "[N, C, H, W]");
        int c = x.Shape[1];
        var scale = Weight is null ? e.Filled(c, 1) : e.Param(Weight);
        var bias = Bias is null ? e.Filled(c, 0) : e.Param(Bias);
        return RunningMean is not null // eval with running statistics: a batch norm by the stored statistics
            ? e.Node("BatchNormalization", [x.Name, scale, bias, e.Param(RunningMean), e.Param(RunningVar!)], ("epsilon", Eps))
            : e.Node("InstanceNormalization", [x.Name, scale, bias], ("epsilon", Eps));
    }

    /// <summary>Number of channels C.</summary>
    public int NumFeatures { get; }

    /// <summary>Added to the variance for stability.</summary>
    public double Eps { get; }

    /// <summary>Weight of the new statistics in the running average.</summary>
    public double Momentum { get; }

    /// <summary>Per-channel scale, or null when not affine (the default).</summary>
    public Parameter? Weight { get; }

    /// <summary>Per-channel shift, or null when not affine.</summary>
    public Parameter? Bias { get; }

    /// <summary>Running mean buffer [C], or null when not tracking (the default).</summary>
    public Tensor? RunningMean { get; }

    /// <summary>Running variance buffer [C], or null when not tracking.</summary>
    public Tensor? RunningVar { get; }

    /// <summary>The 0-d int64 batch counter PyTorch registers with the running statistics (never advanced by
    /// instance normalization, as in PyTorch), or null when not tracking.</summary>
    public Tensor? NumBatchesTracked { get; }

    /// <summary>Creates the layer with PyTorch's defaults (affine false, no running statistics).</summary>
    public InstanceNorm2d(int numFeatures, double eps = 1e-5, double momentum = 0.1, bool affine = false, bool trackRunningStats = false, DType dtype = DType.Float32)
    {
        if (numFeatures <= 0) throw new ArgumentException($"InstanceNorm2d: numFeatures must be positive, got {numFeatures}.");
        NumFeatures = numFeatures;
        Eps = eps;
        Momentum = momentum;
        (Weight, Bias) = AddAffine([numFeatures], affine, dtype);
        (RunningMean, RunningVar, NumBatchesTracked) = AddRunningStats(numFeatures, trackRunningStats, dtype);
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        if (input.Rank != 4 && input.Rank != 3)
            throw new ShapeMismatchException($"{this}: expected a 4-D [N, C, H, W] (or 3-D [C, H, W]) input, got shape {ShapeUtil.Format(input.Shape)}.");
        bool unbatched = input.Rank == 3;
        var x = unbatched ? input.Unsqueeze(0) : input;
        // as PyTorch: a channel-count mismatch is an error only when parameters or buffers depend on it
        if (x.Size(1) != NumFeatures && (Weight is not null || RunningMean is not null))
            throw new ShapeMismatchException($"{this}: expected {NumFeatures} channels, got input of shape {ShapeUtil.Format(input.Shape)}.");
        bool useInputStats = Training || RunningMean is null;
        var y = Tensor.InstanceNorm(x, RunningMean, RunningVar, Weight, Bias, useInputStats, Momentum, Eps);
        return unbatched ? y.Squeeze(0) : y;
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() =>
        $"{NumFeatures}, eps={NormRepr.Num(Eps)}, momentum={NormRepr.Num(Momentum)}, affine={NormRepr.Bool(Weight is not null)}, track_running_stats={NormRepr.Bool(RunningMean is not null)}";
}
