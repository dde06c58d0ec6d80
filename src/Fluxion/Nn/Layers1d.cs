namespace Fluxion.Nn;

/// <summary>
/// 1-D convolution layer (PyTorch's <c>nn.Conv1d</c>): input [N, inChannels, L] (or [inChannels, L]) to [N, outChannels, OL].
/// Weight [outChannels, inChannels/groups, k] and bias [outChannels] are U(±1/sqrt(inChannels/groups·k)) as PyTorch. Zero padding.
/// </summary>
public sealed class Conv1d : Module
{
    /// <summary>Weight, shape [outChannels, inChannels/groups, kernelSize].</summary>
    public Parameter Weight { get; }

    /// <summary>Bias, shape [outChannels], or null.</summary>
    public Parameter? Bias { get; }

    /// <summary>Input channels.</summary>
    public int InChannels { get; }

    /// <summary>Output channels.</summary>
    public int OutChannels { get; }

    /// <summary>Kernel size.</summary>
    public int KernelSize { get; }

    /// <summary>Stride.</summary>
    public int Stride { get; }

    /// <summary>Zero padding on each side.</summary>
    public int Padding { get; }

    /// <summary>Spacing between kernel elements.</summary>
    public int Dilation { get; }

    /// <summary>Number of channel groups.</summary>
    public int Groups { get; }

    /// <summary>Creates the layer with PyTorch's default initialization.</summary>
    public Conv1d(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, int dilation = 1, int groups = 1, bool bias = true,
        DType dtype = DType.Float32, Generator? generator = null)
    {
        Conv3dSpec.Check("Conv1d", inChannels, outChannels, (1, 1, kernelSize), groups);
        (InChannels, OutChannels, KernelSize, Stride, Padding, Dilation, Groups) = (inChannels, outChannels, kernelSize, stride, padding, dilation, groups);
        (Weight, Bias) = AddWeightAndBias([outChannels, inChannels / groups, kernelSize], inChannels / groups * kernelSize, outChannels, bias, dtype, generator);
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        Layer1d.CheckInput(this, InChannels, input);
        return Tensor.Conv1d(input, Weight, Bias, Stride, Padding, Dilation, Groups);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => Layer1d.Repr(InChannels, OutChannels, KernelSize, Stride, Padding, Dilation, 0, Groups, Bias is not null);
}

/// <summary>
/// 1-D transposed convolution layer (PyTorch's <c>nn.ConvTranspose1d</c>): input [N, inChannels, L] to [N, outChannels, OL] with
/// OL = (L − 1)·stride − 2·padding + dilation·(k − 1) + outputPadding + 1. Weight [inChannels, outChannels/groups, k]; weight and
/// bias U(±1/sqrt(outChannels/groups·k)) as PyTorch.
/// </summary>
public sealed class ConvTranspose1d : Module
{
    /// <summary>Weight, shape [inChannels, outChannels/groups, kernelSize].</summary>
    public Parameter Weight { get; }

    /// <summary>Bias, shape [outChannels], or null.</summary>
    public Parameter? Bias { get; }

    /// <summary>Input channels.</summary>
    public int InChannels { get; }

    /// <summary>Output channels.</summary>
    public int OutChannels { get; }

    /// <summary>Kernel size.</summary>
    public int KernelSize { get; }

    /// <summary>Stride.</summary>
    public int Stride { get; }

    /// <summary>Padding removed from each side of the output.</summary>
    public int Padding { get; }

    /// <summary>Extra size added to one side of the output (smaller than the stride).</summary>
    public int OutputPadding { get; }

    /// <summary>Spacing between kernel elements.</summary>
    public int Dilation { get; }

    /// <summary>Number of channel groups.</summary>
    public int Groups { get; }

    /// <summary>Creates the layer with PyTorch's default initialization.</summary>
    public ConvTranspose1d(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, int outputPadding = 0, int groups = 1,
        bool bias = true, int dilation = 1, DType dtype = DType.Float32, Generator? generator = null)
    {
        Conv3dSpec.Check("ConvTranspose1d", inChannels, outChannels, (1, 1, kernelSize), groups);
        (InChannels, OutChannels, KernelSize, Stride, Padding, OutputPadding, Dilation, Groups) =
            (inChannels, outChannels, kernelSize, stride, padding, outputPadding, dilation, groups);
        (Weight, Bias) = AddWeightAndBias([inChannels, outChannels / groups, kernelSize], outChannels / groups * kernelSize, outChannels, bias, dtype, generator);
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        Layer1d.CheckInput(this, InChannels, input);
        return Tensor.ConvTranspose1d(input, Weight, Bias, Stride, Padding, OutputPadding, Groups, Dilation);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => Layer1d.Repr(InChannels, OutChannels, KernelSize, Stride, Padding, Dilation, OutputPadding, Groups, Bias is not null);
}

/// <summary>Validation and printing shared by the 1-D layers.</summary>
internal static class Layer1d
{
    public static void CheckInput(Module m, int inChannels, Tensor input)
    {
        if ((input.Rank != 3 && input.Rank != 2) || input.Size(-2) != inChannels)
            throw new ShapeMismatchException($"{m}: expected input [N, {inChannels}, L] (or [{inChannels}, L]), got shape {ShapeUtil.Format(input.Shape)}.");
    }

    public static string Repr(int cin, int cout, int k, int s, int p, int d, int op, int groups, bool bias)
    {
        var sb = new System.Text.StringBuilder($"{cin}, {cout}, kernel_size=({k},), stride=({s},)");
        if (p != 0) sb.Append($", padding=({p},)");
        if (d != 1) sb.Append($", dilation=({d},)");
        if (op != 0) sb.Append($", output_padding=({op},)");
        if (groups != 1) sb.Append($", groups={groups}");
        if (!bias) sb.Append(", bias=False");
        return sb.ToString();
    }
}

/// <summary>1-D max pooling (PyTorch's <c>nn.MaxPool1d</c>); stride defaults to the kernel size.</summary>
/// <param name="kernelSize">Window size.</param>
/// <param name="stride">Window step (default: the kernel size).</param>
/// <param name="padding">Implicit −∞ padding on each side (at most half the kernel).</param>
/// <param name="dilation">Spacing between window elements.</param>
/// <param name="ceilMode">Rounds the output size up instead of down.</param>
public sealed class MaxPool1d(int kernelSize, int? stride = null, int padding = 0, int dilation = 1, bool ceilMode = false) : Module
{
    /// <summary>Window size.</summary>
    public int KernelSize { get; } = kernelSize;

    /// <summary>Window step.</summary>
    public int Stride { get; } = stride ?? kernelSize;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Tensor.MaxPool1d(input, KernelSize, Stride, padding, dilation, ceilMode);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"kernel_size={KernelSize}, stride={Stride}, padding={padding}, dilation={dilation}, ceil_mode={PoolRepr.Bool(ceilMode)}";
}

/// <summary>1-D average pooling (PyTorch's <c>nn.AvgPool1d</c>); stride defaults to the kernel size.</summary>
/// <param name="kernelSize">Window size.</param>
/// <param name="stride">Window step (default: the kernel size).</param>
/// <param name="padding">Zero padding on each side (at most half the kernel).</param>
/// <param name="ceilMode">Rounds the output size up instead of down.</param>
/// <param name="countIncludePad">Whether the zero padding counts in the divisor.</param>
public sealed class AvgPool1d(int kernelSize, int? stride = null, int padding = 0, bool ceilMode = false, bool countIncludePad = true) : Module
{
    /// <summary>Window size.</summary>
    public int KernelSize { get; } = kernelSize;

    /// <summary>Window step.</summary>
    public int Stride { get; } = stride ?? kernelSize;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Tensor.AvgPool1d(input, KernelSize, Stride, padding, ceilMode, countIncludePad);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"kernel_size=({KernelSize},), stride=({Stride},), padding=({padding},)";
}

/// <summary>Adaptive 1-D average pooling to a fixed length (PyTorch's <c>nn.AdaptiveAvgPool1d</c>).</summary>
/// <param name="outputSize">The output length.</param>
public sealed class AdaptiveAvgPool1d(int outputSize) : Module
{
    /// <summary>The output length.</summary>
    public int OutputSize { get; } = outputSize;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Tensor.AdaptiveAvgPool1d(input, OutputSize);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"output_size={OutputSize}";
}

/// <summary>Rearranges [N, C·r², H, W] into [N, C, H·r, W·r] (PyTorch's <c>nn.PixelShuffle</c>).</summary>
/// <param name="upscaleFactor">r.</param>
public sealed class PixelShuffle(int upscaleFactor) : Module
{
    /// <summary>r.</summary>
    public int UpscaleFactor { get; } = upscaleFactor;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.PixelShuffle(UpscaleFactor);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"upscale_factor={UpscaleFactor}";
}

/// <summary>Rearranges [N, C, H·r, W·r] into [N, C·r², H, W] (PyTorch's <c>nn.PixelUnshuffle</c>).</summary>
/// <param name="downscaleFactor">r.</param>
public sealed class PixelUnshuffle(int downscaleFactor) : Module
{
    /// <summary>r.</summary>
    public int DownscaleFactor { get; } = downscaleFactor;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.PixelUnshuffle(DownscaleFactor);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"downscale_factor={DownscaleFactor}";
}

/// <summary>Zeroes whole channels of [N, C, H, W] with probability p in training and scales the rest by 1/(1 − p)
/// (PyTorch's <c>nn.Dropout2d</c>); the identity in eval mode.</summary>
/// <param name="p">The drop probability.</param>
/// <param name="generator">Random source (default: <see cref="Generator.Default"/>).</param>
public sealed class Dropout2d(double p = 0.5, Generator? generator = null) : Module
{
    /// <summary>The drop probability.</summary>
    public double P { get; } = p;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.Dropout2d(P, Training, generator);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"p={P}, inplace=False";
}

/// <summary>Zeroes whole channels of [N, C, D, H, W] with probability p in training and scales the rest by 1/(1 − p)
/// (PyTorch's <c>nn.Dropout3d</c>); the identity in eval mode.</summary>
/// <param name="p">The drop probability.</param>
/// <param name="generator">Random source (default: <see cref="Generator.Default"/>).</param>
public sealed class Dropout3d(double p = 0.5, Generator? generator = null) : Module
{
    /// <summary>The drop probability.</summary>
    public double P { get; } = p;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.Dropout3d(P, Training, generator);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"p={P}, inplace=False";
}

/// <summary>
/// Bilinear layer (PyTorch's <c>nn.Bilinear</c>): y = x1ᵀ·W·x2 + b with weight [out, in1, in2] and bias [out], both
/// U(±1/sqrt(in1)) as PyTorch. Call <see cref="Forward(Tensor, Tensor)"/> with the two inputs.
/// </summary>
public sealed class Bilinear : Module
{
    /// <summary>Weight, shape [outFeatures, in1Features, in2Features].</summary>
    public Parameter Weight { get; }

    /// <summary>Bias, shape [outFeatures], or null.</summary>
    public Parameter? Bias { get; }

    /// <summary>Creates the layer with PyTorch's default initialization.</summary>
    public Bilinear(int in1Features, int in2Features, int outFeatures, bool bias = true, DType dtype = DType.Float32, Generator? generator = null)
    {
        if (in1Features <= 0 || in2Features <= 0 || outFeatures <= 0)
            throw new ArgumentException($"Bilinear: the feature sizes must be positive, got {in1Features}, {in2Features}, {outFeatures}.");
        double k = 1 / Math.Sqrt(in1Features);
        Weight = AddParameter("weight", Init.Uniform([outFeatures, in1Features, in2Features], k, dtype, generator));
        Bias = bias ? AddParameter("bias", Init.Uniform([outFeatures], k, dtype, generator)) : RegisterParameter("bias", null);
    }

    /// <summary>Not supported: the layer takes two inputs (use <see cref="Forward(Tensor, Tensor)"/>).</summary>
    public override Tensor Forward(Tensor input) => throw new ArgumentException($"{this}: pass both inputs: Forward(input1, input2).");

    /// <summary>x1ᵀ·W·x2 + b for inputs [*, in1] and [*, in2].</summary>
    public Tensor Forward(Tensor input1, Tensor input2) => Tensor.Bilinear(input1, input2, Weight, Bias);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"in1_features={Weight.Size(1)}, in2_features={Weight.Size(2)}, out_features={Weight.Size(0)}, bias={PoolRepr.Bool(Bias is not null)}";
}
