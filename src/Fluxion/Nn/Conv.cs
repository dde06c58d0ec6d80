namespace Fluxion.Nn;

/// <summary>
/// 2-D convolution layer (PyTorch's <c>nn.Conv2d</c>): input [N, inChannels, H, W] (or [inChannels, H, W])
/// to [N, outChannels, OH, OW]. Weight [outChannels, inChannels/groups, kH, kW] and bias [outChannels]
/// are initialized U(±1/sqrt(fanIn)) with fanIn = inChannels/groups·kH·kW (PyTorch's kaiming_uniform(a = √5)).
/// Zero padding.
/// </summary>
public sealed class Conv2d : Module, IFusedRelu
{
    /// <summary>Weight, shape [outChannels, inChannels/groups, kH, kW].</summary>
    public Parameter Weight { get; }

    /// <summary>Bias, shape [outChannels], or null.</summary>
    public Parameter? Bias { get; }

    /// <summary>Input channels.</summary>
    public int InChannels { get; }

    /// <summary>Output channels.</summary>
    public int OutChannels { get; }

    /// <summary>Kernel size (height, width).</summary>
    public Size2 KernelSize { get; }

    /// <summary>Stride.</summary>
    public Size2 Stride { get; }

    /// <summary>Zero padding on each side.</summary>
    public Size2 Padding { get; }

    /// <summary>Spacing between kernel elements.</summary>
    public Size2 Dilation { get; }

    /// <summary>Number of channel groups.</summary>
    public int Groups { get; }

    /// <summary>Creates the layer with PyTorch's default initialization.</summary>
    public Conv2d(int inChannels, int outChannels, Size2 kernelSize, Size2? stride = null, Size2? padding = null, Size2? dilation = null,
        int groups = 1, bool bias = true, DType dtype = DType.Float32, Generator? generator = null)
    {
        if (inChannels <= 0 || outChannels <= 0)
            throw new ArgumentException($"Conv2d: inChannels and outChannels must be positive, got {inChannels} and {outChannels}.");
        if (groups <= 0 || inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"Conv2d: inChannels ({inChannels}) and outChannels ({outChannels}) must be divisible by groups ({groups}).");
        if (kernelSize.H <= 0 || kernelSize.W <= 0) throw new ArgumentException($"Conv2d: kernelSize must be positive, got {kernelSize}.");
        InChannels = inChannels;
        OutChannels = outChannels;
        KernelSize = kernelSize;
        Stride = stride ?? 1;
        Padding = padding ?? 0;
        Dilation = dilation ?? 1;
        Groups = groups;
        if (Stride.H <= 0 || Stride.W <= 0 || Padding.H < 0 || Padding.W < 0 || Dilation.H <= 0 || Dilation.W <= 0)
            throw new ArgumentException($"Conv2d: stride {Stride} and dilation {Dilation} must be positive and padding {Padding} non-negative.");
        int fanIn = inChannels / groups * kernelSize.H * kernelSize.W;
        Weight = AddParameter("weight", Init.KaimingUniformDefault([outChannels, inChannels / groups, kernelSize.H, kernelSize.W], fanIn, dtype, generator));
        Bias = bias ? AddParameter("bias", Init.Uniform([outChannels], 1 / Math.Sqrt(fanIn), dtype, generator)) : RegisterParameter("bias", null);
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        if ((input.Rank != 4 && input.Rank != 3) || input.Size(-3) != InChannels)
            throw new ShapeMismatchException(
                $"{this}: expected input [N, {InChannels}, H, W] (or [{InChannels}, H, W]), got shape {ShapeUtil.Format(input.Shape)}.");
        return Tensor.Conv2d(input, Weight, Bias, Stride, Padding, Dilation, Groups);
    }

    /// <summary>relu(Forward(input)) as one fused op: bias and ReLU applied on the convolution's output rows
    /// while in cache, one masked backward (for <see cref="Sequential"/> to use on a Conv2d followed by a ReLU).</summary>
    Tensor IFusedRelu.ForwardRelu(Tensor input)
    {
        if ((input.Rank != 4 && input.Rank != 3) || input.Size(-3) != InChannels)
            throw new ShapeMismatchException(
                $"{this}: expected input [N, {InChannels}, H, W] (or [{InChannels}, H, W]), got shape {ShapeUtil.Format(input.Shape)}.");
        return Tensor.Conv2dRelu(input, Weight, Bias, Stride, Padding, Dilation, Groups);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => ConvRepr.Format(InChannels, OutChannels, KernelSize, Stride, Padding, Dilation, null, Groups, Bias is not null);
}

/// <summary>
/// 2-D transposed convolution layer (PyTorch's <c>nn.ConvTranspose2d</c>), the input-gradient of a
/// convolution: input [N, inChannels, H, W] to [N, outChannels, OH, OW] with
/// OH = (H − 1)·stride − 2·padding + dilation·(kH − 1) + outputPadding + 1. Weight [inChannels,
/// outChannels/groups, kH, kW]; weight and bias are U(±1/sqrt(outChannels/groups·kH·kW)) as PyTorch.
/// </summary>
public sealed class ConvTranspose2d : Module
{
    /// <summary>Weight, shape [inChannels, outChannels/groups, kH, kW].</summary>
    public Parameter Weight { get; }

    /// <summary>Bias, shape [outChannels], or null.</summary>
    public Parameter? Bias { get; }

    /// <summary>Input channels.</summary>
    public int InChannels { get; }

    /// <summary>Output channels.</summary>
    public int OutChannels { get; }

    /// <summary>Kernel size.</summary>
    public Size2 KernelSize { get; }

    /// <summary>Stride.</summary>
    public Size2 Stride { get; }

    /// <summary>Padding removed from each side of the output.</summary>
    public Size2 Padding { get; }

    /// <summary>Extra size added to one side of the output (smaller than the stride).</summary>
    public Size2 OutputPadding { get; }

    /// <summary>Spacing between kernel elements.</summary>
    public Size2 Dilation { get; }

    /// <summary>Number of channel groups.</summary>
    public int Groups { get; }

    /// <summary>Creates the layer with PyTorch's default initialization.</summary>
    public ConvTranspose2d(int inChannels, int outChannels, Size2 kernelSize, Size2? stride = null, Size2? padding = null, Size2? outputPadding = null,
        int groups = 1, bool bias = true, Size2? dilation = null, DType dtype = DType.Float32, Generator? generator = null)
    {
        if (inChannels <= 0 || outChannels <= 0)
            throw new ArgumentException($"ConvTranspose2d: inChannels and outChannels must be positive, got {inChannels} and {outChannels}.");
        if (groups <= 0 || inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"ConvTranspose2d: inChannels ({inChannels}) and outChannels ({outChannels}) must be divisible by groups ({groups}).");
        if (kernelSize.H <= 0 || kernelSize.W <= 0) throw new ArgumentException($"ConvTranspose2d: kernelSize must be positive, got {kernelSize}.");
        InChannels = inChannels;
        OutChannels = outChannels;
        KernelSize = kernelSize;
        Stride = stride ?? 1;
        Padding = padding ?? 0;
        OutputPadding = outputPadding ?? 0;
        Dilation = dilation ?? 1;
        Groups = groups;
        int fanIn = outChannels / groups * kernelSize.H * kernelSize.W;
        Weight = AddParameter("weight", Init.KaimingUniformDefault([inChannels, outChannels / groups, kernelSize.H, kernelSize.W], fanIn, dtype, generator));
        Bias = bias ? AddParameter("bias", Init.Uniform([outChannels], 1 / Math.Sqrt(fanIn), dtype, generator)) : RegisterParameter("bias", null);
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        if ((input.Rank != 4 && input.Rank != 3) || input.Size(-3) != InChannels)
            throw new ShapeMismatchException(
                $"{this}: expected input [N, {InChannels}, H, W] (or [{InChannels}, H, W]), got shape {ShapeUtil.Format(input.Shape)}.");
        return Tensor.ConvTranspose2d(input, Weight, Bias, Stride, Padding, OutputPadding, Groups, Dilation);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => ConvRepr.Format(InChannels, OutChannels, KernelSize, Stride, Padding, Dilation, OutputPadding, Groups, Bias is not null);
}

/// <summary>PyTorch's extra_repr of convolution layers.</summary>
internal static class ConvRepr
{
    public static string Format(int cin, int cout, Size2 k, Size2 s, Size2 p, Size2 d, Size2? op, int groups, bool bias)
    {
        var sb = new System.Text.StringBuilder($"{cin}, {cout}, kernel_size={k}, stride={s}");
        if (p != new Size2(0, 0)) sb.Append($", padding={p}");
        if (d != new Size2(1, 1)) sb.Append($", dilation={d}");
        if (op is { } o && o != new Size2(0, 0)) sb.Append($", output_padding={o}");
        if (groups != 1) sb.Append($", groups={groups}");
        if (!bias) sb.Append(", bias=False");
        return sb.ToString();
    }
}
