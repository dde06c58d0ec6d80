namespace Fluxion.Nn;

/// <summary>
/// 3-D convolution layer (PyTorch's <c>nn.Conv3d</c>): input [N, inChannels, D, H, W] (or without N) to [N, outChannels, OD, OH, OW].
/// Weight [outChannels, inChannels/groups, kD, kH, kW] and bias [outChannels] are U(±1/sqrt(fanIn)), fanIn = inChannels/groups·kD·kH·kW,
/// as PyTorch. Zero padding.
/// </summary>
public sealed class Conv3d : Module
{
    /// <summary>Weight, shape [outChannels, inChannels/groups, kD, kH, kW].</summary>
    public Parameter Weight { get; }

    /// <summary>Bias, shape [outChannels], or null.</summary>
    public Parameter? Bias { get; }

    /// <summary>Input channels.</summary>
    public int InChannels { get; }

    /// <summary>Output channels.</summary>
    public int OutChannels { get; }

    /// <summary>Kernel size.</summary>
    public Size3 KernelSize { get; }

    /// <summary>Stride.</summary>
    public Size3 Stride { get; }

    /// <summary>Zero padding on each side.</summary>
    public Size3 Padding { get; }

    /// <summary>Spacing between kernel elements.</summary>
    public Size3 Dilation { get; }

    /// <summary>Number of channel groups.</summary>
    public int Groups { get; }

    /// <summary>Creates the layer with PyTorch's default initialization.</summary>
    public Conv3d(int inChannels, int outChannels, Size3 kernelSize, Size3? stride = null, Size3? padding = null, Size3? dilation = null,
        int groups = 1, bool bias = true, DType dtype = DType.Float32, Generator? generator = null)
    {
        Conv3dSpec.Check("Conv3d", inChannels, outChannels, kernelSize, groups);
        (InChannels, OutChannels, KernelSize, Stride, Padding, Dilation, Groups) = (inChannels, outChannels, kernelSize, stride ?? 1, padding ?? 0, dilation ?? 1, groups);
        (Weight, Bias) = AddWeightAndBias([outChannels, inChannels / groups, kernelSize.D, kernelSize.H, kernelSize.W],
            inChannels / groups * kernelSize.D * kernelSize.H * kernelSize.W, outChannels, bias, dtype, generator);
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        Conv3dSpec.CheckInput(this, InChannels, input);
        return Tensor.Conv3d(input, Weight, Bias, Stride, Padding, Dilation, Groups);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => Conv3dSpec.Repr(InChannels, OutChannels, KernelSize, Stride, Padding, Dilation, null, Groups, Bias is not null);
}

/// <summary>
/// 3-D transposed convolution layer (PyTorch's <c>nn.ConvTranspose3d</c>): input [N, inChannels, D, H, W] to [N, outChannels, OD, OH, OW]
/// with OD = (D − 1)·stride − 2·padding + dilation·(kD − 1) + outputPadding + 1. Weight [inChannels, outChannels/groups, kD, kH, kW];
/// weight and bias U(±1/sqrt(outChannels/groups·kD·kH·kW)) as PyTorch.
/// </summary>
public sealed class ConvTranspose3d : Module
{
    /// <summary>Weight, shape [inChannels, outChannels/groups, kD, kH, kW].</summary>
    public Parameter Weight { get; }

    /// <summary>Bias, shape [outChannels], or null.</summary>
    public Parameter? Bias { get; }

    /// <summary>Input channels.</summary>
    public int InChannels { get; }

    /// <summary>Output channels.</summary>
    public int OutChannels { get; }

    /// <summary>Kernel size.</summary>
    public Size3 KernelSize { get; }

    /// <summary>Stride.</summary>
    public Size3 Stride { get; }

    /// <summary>Padding removed from each side of the output.</summary>
    public Size3 Padding { get; }

    /// <summary>Extra size added to one side of the output (smaller than the stride).</summary>
    public Size3 OutputPadding { get; }

    /// <summary>Spacing between kernel elements.</summary>
    public Size3 Dilation { get; }

    /// <summary>Number of channel groups.</summary>
    public int Groups { get; }

    /// <summary>Creates the layer with PyTorch's default initialization.</summary>
    public ConvTranspose3d(int inChannels, int outChannels, Size3 kernelSize, Size3? stride = null, Size3? padding = null, Size3? outputPadding = null,
        int groups = 1, bool bias = true, Size3? dilation = null, DType dtype = DType.Float32, Generator? generator = null)
    {
        Conv3dSpec.Check("ConvTranspose3d", inChannels, outChannels, kernelSize, groups);
        (InChannels, OutChannels, KernelSize, Stride, Padding, OutputPadding, Dilation, Groups) =
            (inChannels, outChannels, kernelSize, stride ?? 1, padding ?? 0, outputPadding ?? 0, dilation ?? 1, groups);
        (Weight, Bias) = AddWeightAndBias([inChannels, outChannels / groups, kernelSize.D, kernelSize.H, kernelSize.W],
            outChannels / groups * kernelSize.D * kernelSize.H * kernelSize.W, outChannels, bias, dtype, generator);
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        Conv3dSpec.CheckInput(this, InChannels, input);
        return Tensor.ConvTranspose3d(input, Weight, Bias, Stride, Padding, OutputPadding, Groups, Dilation);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => Conv3dSpec.Repr(InChannels, OutChannels, KernelSize, Stride, Padding, Dilation, OutputPadding, Groups, Bias is not null);
}

/// <summary>Validation and printing shared by the 3-D convolution layers.</summary>
internal static class Conv3dSpec
{
    public static void Check(string layer, int inChannels, int outChannels, Size3 k, int groups)
    {
        if (inChannels <= 0 || outChannels <= 0)
            throw new ArgumentException($"{layer}: inChannels and outChannels must be positive, got {inChannels} and {outChannels}.");
        if (groups <= 0 || inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"{layer}: inChannels ({inChannels}) and outChannels ({outChannels}) must be divisible by groups ({groups}).");
        if (k.D <= 0 || k.H <= 0 || k.W <= 0) throw new ArgumentException($"{layer}: kernelSize must be positive, got {k}.");
    }

    public static void CheckInput(Module m, int inChannels, Tensor input)
    {
        if ((input.Rank != 5 && input.Rank != 4) || input.Size(-4) != inChannels)
            throw new ShapeMismatchException($"{m}: expected input [N, {inChannels}, D, H, W] (or [{inChannels}, D, H, W]), got shape {ShapeUtil.Format(input.Shape)}.");
    }

    public static string Repr(int cin, int cout, Size3 k, Size3 s, Size3 p, Size3 d, Size3? op, int groups, bool bias)
    {
        var sb = new System.Text.StringBuilder($"{cin}, {cout}, kernel_size={k}, stride={s}");
        if (p != new Size3(0, 0, 0)) sb.Append($", padding={p}");
        if (d != new Size3(1, 1, 1)) sb.Append($", dilation={d}");
        if (op is { } o && o != new Size3(0, 0, 0)) sb.Append($", output_padding={o}");
        if (groups != 1) sb.Append($", groups={groups}");
        if (!bias) sb.Append(", bias=False");
        return sb.ToString();
    }

    /// <summary>PyTorch prints a cubic size as one int and another as a triple.</summary>
    public static string Of(Size3 s) => s.D == s.H && s.H == s.W ? s.D.ToString() : s.ToString();
}

/// <summary>3-D max pooling (PyTorch's <c>nn.MaxPool3d</c>); stride defaults to the kernel size.</summary>
/// <param name="kernelSize">Window size.</param>
/// <param name="stride">Window step (default: the kernel size).</param>
/// <param name="padding">Implicit −∞ padding on each side (at most half the kernel).</param>
/// <param name="dilation">Spacing between window elements.</param>
/// <param name="ceilMode">Rounds the output size up instead of down.</param>
public sealed class MaxPool3d(Size3 kernelSize, Size3? stride = null, Size3? padding = null, Size3? dilation = null, bool ceilMode = false) : Module
{
    /// <summary>Window size.</summary>
    public Size3 KernelSize { get; } = kernelSize;

    /// <summary>Window step.</summary>
    public Size3 Stride { get; } = stride ?? kernelSize;

    /// <summary>Padding on each side.</summary>
    public Size3 Padding { get; } = padding ?? 0;

    /// <summary>Spacing between window elements.</summary>
    public Size3 Dilation { get; } = dilation ?? 1;

    /// <summary>Rounds the output size up instead of down.</summary>
    public bool CeilMode { get; } = ceilMode;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Tensor.MaxPool3d(input, KernelSize, Stride, Padding, Dilation, CeilMode);

    /// <inheritdoc/>
    protected override string ExtraRepr() =>
        $"kernel_size={Conv3dSpec.Of(KernelSize)}, stride={Conv3dSpec.Of(Stride)}, padding={Conv3dSpec.Of(Padding)}, dilation={Conv3dSpec.Of(Dilation)}, ceil_mode={PoolRepr.Bool(CeilMode)}";
}

/// <summary>3-D average pooling (PyTorch's <c>nn.AvgPool3d</c>); stride defaults to the kernel size.</summary>
/// <param name="kernelSize">Window size.</param>
/// <param name="stride">Window step (default: the kernel size).</param>
/// <param name="padding">Zero padding on each side (at most half the kernel).</param>
/// <param name="ceilMode">Rounds the output size up instead of down.</param>
/// <param name="countIncludePad">Whether the zero padding counts in the divisor.</param>
/// <param name="divisorOverride">A fixed divisor, or null.</param>
public sealed class AvgPool3d(Size3 kernelSize, Size3? stride = null, Size3? padding = null, bool ceilMode = false, bool countIncludePad = true, int? divisorOverride = null) : Module
{
    /// <summary>Window size.</summary>
    public Size3 KernelSize { get; } = kernelSize;

    /// <summary>Window step.</summary>
    public Size3 Stride { get; } = stride ?? kernelSize;

    /// <summary>Padding on each side.</summary>
    public Size3 Padding { get; } = padding ?? 0;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Tensor.AvgPool3d(input, KernelSize, Stride, Padding, ceilMode, countIncludePad, divisorOverride);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"kernel_size={Conv3dSpec.Of(KernelSize)}, stride={Conv3dSpec.Of(Stride)}, padding={Conv3dSpec.Of(Padding)}";
}

/// <summary>Adaptive 3-D average pooling to a fixed output size (PyTorch's <c>nn.AdaptiveAvgPool3d</c>).</summary>
/// <param name="outputSize">The output's (depth, height, width).</param>
public sealed class AdaptiveAvgPool3d(Size3 outputSize) : Module
{
    /// <summary>The output's (depth, height, width).</summary>
    public Size3 OutputSize { get; } = outputSize;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Tensor.AdaptiveAvgPool3d(input, OutputSize);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"output_size={Conv3dSpec.Of(OutputSize)}";
}

/// <summary>Adaptive 1-D max pooling to a fixed length (PyTorch's <c>nn.AdaptiveMaxPool1d</c>).</summary>
/// <param name="outputSize">The output length.</param>
public sealed class AdaptiveMaxPool1d(int outputSize) : Module
{
    /// <summary>The output length.</summary>
    public int OutputSize { get; } = outputSize;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Tensor.AdaptiveMaxPool1d(input, OutputSize);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"output_size={OutputSize}";
}

/// <summary>Adaptive 2-D max pooling to a fixed output size (PyTorch's <c>nn.AdaptiveMaxPool2d</c>).</summary>
/// <param name="outputSize">The output's (height, width).</param>
public sealed class AdaptiveMaxPool2d(Size2 outputSize) : Module
{
    /// <summary>The output's (height, width).</summary>
    public Size2 OutputSize { get; } = outputSize;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Tensor.AdaptiveMaxPool2d(input, OutputSize);

    /// <summary>The pooled values and the int64 flat indices of the maxima within each input plane.</summary>
    public (Tensor Values, Tensor Indices) ForwardWithIndices(Tensor input) => Tensor.AdaptiveMaxPool2dWithIndices(input, OutputSize);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"output_size={PoolRepr.Of(OutputSize)}";
}

/// <summary>Adaptive 3-D max pooling to a fixed output size (PyTorch's <c>nn.AdaptiveMaxPool3d</c>).</summary>
/// <param name="outputSize">The output's (depth, height, width).</param>
public sealed class AdaptiveMaxPool3d(Size3 outputSize) : Module
{
    /// <summary>The output's (depth, height, width).</summary>
    public Size3 OutputSize { get; } = outputSize;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Tensor.AdaptiveMaxPool3d(input, OutputSize);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"output_size={Conv3dSpec.Of(OutputSize)}";
}

/// <summary>1-D max unpooling (PyTorch's <c>nn.MaxUnpool1d</c>): call <see cref="Forward(Tensor, Tensor, int?)"/> with the pooling's indices.</summary>
/// <param name="kernelSize">The pooling's kernel size.</param>
/// <param name="stride">The pooling's stride (default: the kernel size).</param>
/// <param name="padding">The pooling's padding.</param>
public sealed class MaxUnpool1d(int kernelSize, int? stride = null, int padding = 0) : Module
{
    /// <summary>Not supported: unpooling needs the indices (use the two-argument overload).</summary>
    public override Tensor Forward(Tensor input) => throw new ArgumentException($"{this}: pass the indices of the max pooling: Forward(input, indices).");

    /// <summary>Unpools <paramref name="input"/> at <paramref name="indices"/> (see <see cref="Tensor.MaxUnpool1d"/>).</summary>
    public Tensor Forward(Tensor input, Tensor indices, int? outputSize = null) => Tensor.MaxUnpool1d(input, indices, kernelSize, stride, padding, outputSize);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"kernel_size={kernelSize}, stride={stride ?? kernelSize}, padding={padding}";
}

/// <summary>2-D max unpooling (PyTorch's <c>nn.MaxUnpool2d</c>): call <see cref="Forward(Tensor, Tensor, Size2?)"/> with the pooling's indices.</summary>
/// <param name="kernelSize">The pooling's kernel size.</param>
/// <param name="stride">The pooling's stride (default: the kernel size).</param>
/// <param name="padding">The pooling's padding.</param>
public sealed class MaxUnpool2d(Size2 kernelSize, Size2? stride = null, Size2? padding = null) : Module
{
    /// <summary>Not supported: unpooling needs the indices (use the two-argument overload).</summary>
    public override Tensor Forward(Tensor input) => throw new ArgumentException($"{this}: pass the indices of the max pooling: Forward(input, indices).");

    /// <summary>Unpools <paramref name="input"/> at <paramref name="indices"/> (see <see cref="Tensor.MaxUnpool2d"/>).</summary>
    public Tensor Forward(Tensor input, Tensor indices, Size2? outputSize = null) => Tensor.MaxUnpool2d(input, indices, kernelSize, stride, padding, outputSize);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"kernel_size={PoolRepr.Of(kernelSize)}, stride={PoolRepr.Of(stride ?? kernelSize)}, padding={PoolRepr.Of(padding ?? 0)}";
}

/// <summary>3-D max unpooling (PyTorch's <c>nn.MaxUnpool3d</c>): call <see cref="Forward(Tensor, Tensor, Size3?)"/> with the pooling's indices.</summary>
/// <param name="kernelSize">The pooling's kernel size.</param>
/// <param name="stride">The pooling's stride (default: the kernel size).</param>
/// <param name="padding">The pooling's padding.</param>
public sealed class MaxUnpool3d(Size3 kernelSize, Size3? stride = null, Size3? padding = null) : Module
{
    /// <summary>Not supported: unpooling needs the indices (use the two-argument overload).</summary>
    public override Tensor Forward(Tensor input) => throw new ArgumentException($"{this}: pass the indices of the max pooling: Forward(input, indices).");

    /// <summary>Unpools <paramref name="input"/> at <paramref name="indices"/> (see <see cref="Tensor.MaxUnpool3d"/>).</summary>
    public Tensor Forward(Tensor input, Tensor indices, Size3? outputSize = null) => Tensor.MaxUnpool3d(input, indices, kernelSize, stride, padding, outputSize);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"kernel_size={Conv3dSpec.Of(kernelSize)}, stride={Conv3dSpec.Of(stride ?? kernelSize)}, padding={Conv3dSpec.Of(padding ?? 0)}";
}

/// <summary>Upsampling of [N, C, *spatial] (PyTorch's <c>nn.Upsample</c>): to <paramref name="size"/> or by
/// <paramref name="scaleFactor"/> with <paramref name="mode"/> (see <see cref="Tensor.Interpolate"/>).</summary>
/// <param name="size">The output's spatial size (one per spatial dim, or one for all), or null.</param>
/// <param name="scaleFactor">The scale of every spatial dim, or null.</param>
/// <param name="mode">The interpolation.</param>
/// <param name="alignCorners">Aligns the corner pixels (linear and cubic modes).</param>
public sealed class Upsample(int[]? size = null, double? scaleFactor = null, InterpolateMode mode = InterpolateMode.Nearest, bool? alignCorners = null) : Module
{
    /// <summary>The interpolation.</summary>
    public InterpolateMode Mode { get; } = mode;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Tensor.Interpolate(input, size, scaleFactor is { } f ? [f] : null, Mode, alignCorners);

    /// <inheritdoc/>
    protected override string ExtraRepr() =>
        (size is not null ? $"size={(size.Length == 1 ? size[0].ToString() : "(" + string.Join(", ", size) + ")")}" : $"scale_factor={scaleFactor:0.0##}") + $", mode='{Mode.ToString().ToLowerInvariant()}'";
}

/// <summary>Bilinear upsampling with aligned corners (PyTorch's <c>nn.UpsamplingBilinear2d</c>) of [N, C, H, W].</summary>
/// <param name="size">The output's (height, width), or null.</param>
/// <param name="scaleFactor">The scale of both spatial dims, or null.</param>
public sealed class UpsamplingBilinear2d(Size2? size = null, double? scaleFactor = null) : Module
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Tensor.UpsampleBilinear(input, size, scaleFactor);

    /// <inheritdoc/>
    protected override string ExtraRepr() => (size is { } s ? $"size={PoolRepr.Of(s)}" : $"scale_factor={scaleFactor:0.0##}") + ", mode='bilinear'";
}
