using Fluxion.IO;

namespace Fluxion.Nn;

/// <summary>
/// 2-D convolution layer (PyTorch's <c>nn.Conv2d</c>): input [N, inChannels, H, W] (or [inChannels, H, W])
/// to [N, outChannels, OH, OW]. Weight [outChannels, inChannels/groups, kH, kW] and bias [outChannels]
/// are initialized U(±1/sqrt(fanIn)) with fanIn = inChannels/groups·kH·kW (PyTorch's kaiming_uniform(a = √5)).
/// Zero padding.
/// </summary>
public sealed class Conv2d : Module, IFusedRelu, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x)
    {
        e.RequireRank(this, x, 4, "[N, C, H, W]");
        string[] inputs = Bias is null ? [x.Name, e.Param(Weight)] : [x.Name, e.Param(Weight), e.Param(Bias)];
        return e.Node("Conv", inputs, ("kernel_shape", new long[] { KernelSize.H, KernelSize.W }), ("strides", new long[] { Stride.H, Stride.W }),
            ("pads", new long[] { Padding.H, Padding.W, Padding.H, Padding.W }), ("dilations", new long[] { Dilation.H, Dilation.W }), ("group", (long)Groups));
    }

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
        var c = ConvSpec.Create("Conv2d", inChannels, outChannels, kernelSize, stride, padding, dilation, groups, checkSteps: true);
        (InChannels, OutChannels, KernelSize, Stride, Padding, Dilation, Groups) = c;
        (Weight, Bias) = AddWeightAndBias(c.WeightShape(transposed: false), c.FanIn(transposed: false), outChannels, bias, dtype, generator);
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        ConvSpec.CheckInput(this, InChannels, input);
        return Tensor.Conv2d(input, Weight, Bias, Stride, Padding, Dilation, Groups);
    }

    /// <summary>relu(Forward(input)) as one fused op: bias and ReLU applied on the convolution's output rows
    /// while in cache, one masked backward (for <see cref="Sequential"/> to use on a Conv2d followed by a ReLU).</summary>
    Tensor IFusedRelu.ForwardRelu(Tensor input)
    {
        ConvSpec.CheckInput(this, InChannels, input);
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
public sealed class ConvTranspose2d : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x)
    {
        e.RequireRank(this, x, 4, "[N, C, H, W]");
        string[] inputs = Bias is null ? [x.Name, e.Param(Weight)] : [x.Name, e.Param(Weight), e.Param(Bias)];
        return e.Node("ConvTranspose", inputs, ("kernel_shape", new long[] { KernelSize.H, KernelSize.W }), ("strides", new long[] { Stride.H, Stride.W }),
            ("pads", new long[] { Padding.H, Padding.W, Padding.H, Padding.W }), ("dilations", new long[] { Dilation.H, Dilation.W }),
            ("output_padding", new long[] { OutputPadding.H, OutputPadding.W }), ("group", (long)Groups));
    }

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
        var c = ConvSpec.Create("ConvTranspose2d", inChannels, outChannels, kernelSize, stride, padding, dilation, groups, checkSteps: false);
        (InChannels, OutChannels, KernelSize, Stride, Padding, Dilation, Groups) = c;
        OutputPadding = outputPadding ?? 0;
        (Weight, Bias) = AddWeightAndBias(c.WeightShape(transposed: true), c.FanIn(transposed: true), outChannels, bias, dtype, generator);
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        ConvSpec.CheckInput(this, InChannels, input);
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

/// <summary>The hyper-parameters shared by the convolution layers (<see cref="Conv2d"/>, <see cref="ConvTranspose2d"/>,
/// <see cref="MixedMode.Conv2d"/>): defaults, validation with the layer's name in the message, weight layout.</summary>
internal readonly record struct ConvSpec(int InChannels, int OutChannels, Size2 KernelSize, Size2 Stride, Size2 Padding, Size2 Dilation, int Groups)
{
    /// <summary>Validates the arguments and applies the defaults (stride 1, padding 0, dilation 1);
    /// <paramref name="checkSteps"/> also requires a positive stride and dilation and a non-negative padding.</summary>
    public static ConvSpec Create(string layer, int inChannels, int outChannels, Size2 kernelSize, Size2? stride, Size2? padding, Size2? dilation,
        int groups, bool checkSteps)
    {
        if (inChannels <= 0 || outChannels <= 0)
            throw new ArgumentException($"{layer}: inChannels and outChannels must be positive, got {inChannels} and {outChannels}.");
        if (groups <= 0 || inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"{layer}: inChannels ({inChannels}) and outChannels ({outChannels}) must be divisible by groups ({groups}).");
        if (kernelSize.H <= 0 || kernelSize.W <= 0) throw new ArgumentException($"{layer}: kernelSize must be positive, got {kernelSize}.");
        var c = new ConvSpec(inChannels, outChannels, kernelSize, stride ?? 1, padding ?? 0, dilation ?? 1, groups);
        if (checkSteps && (c.Stride.H <= 0 || c.Stride.W <= 0 || c.Padding.H < 0 || c.Padding.W < 0 || c.Dilation.H <= 0 || c.Dilation.W <= 0))
            throw new ArgumentException($"{layer}: stride {c.Stride} and dilation {c.Dilation} must be positive and padding {c.Padding} non-negative.");
        return c;
    }

    /// <summary>Weight shape: [out, in/groups, kH, kW], or [in, out/groups, kH, kW] for a transposed convolution.</summary>
    public int[] WeightShape(bool transposed) => transposed
        ? [InChannels, OutChannels / Groups, KernelSize.H, KernelSize.W]
        : [OutChannels, InChannels / Groups, KernelSize.H, KernelSize.W];

    /// <summary>PyTorch's fan-in of the weight (the second weight dim times the kernel area).</summary>
    public int FanIn(bool transposed) => (transposed ? OutChannels : InChannels) / Groups * KernelSize.H * KernelSize.W;

    /// <summary>Throws unless <paramref name="input"/> is [N, inChannels, H, W] or [inChannels, H, W].</summary>
    public static void CheckInput(Module m, int inChannels, Tensor input)
    {
        if ((input.Rank != 4 && input.Rank != 3) || input.Size(-3) != inChannels)
            throw new ShapeMismatchException(
                $"{m}: expected input [N, {inChannels}, H, W] (or [{inChannels}, H, W]), got shape {ShapeUtil.Format(input.Shape)}.");
    }
}
