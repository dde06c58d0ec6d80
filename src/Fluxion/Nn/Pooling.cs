using Fluxion.IO;

namespace Fluxion.Nn;

/// <summary>PyTorch prints a square pooling size as one int and a rectangular one as a pair.</summary>
internal static class PoolRepr
{
    public static string Of(Size2 s) => s.H == s.W ? s.H.ToString() : s.ToString();

    public static string Bool(bool b) => b ? "True" : "False";

    public static void CheckInput(Module m, Tensor input)
    {
        if (input.Rank != 4 && input.Rank != 3)
            throw new ShapeMismatchException($"{m}: expected input [N, C, H, W] (or [C, H, W]), got shape {ShapeUtil.Format(input.Shape)}.");
    }
}

/// <summary>2-D max pooling (PyTorch's <c>nn.MaxPool2d</c>); stride defaults to the kernel size.</summary>
public sealed class MaxPool2d : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x)
    {
        e.RequireRank(this, x, 4, "[N, C, H, W]");
        return e.Unary("MaxPool", x.Name, ("kernel_shape", new long[] { KernelSize.H, KernelSize.W }), ("strides", new long[] { Stride.H, Stride.W }),
            ("pads", new long[] { Padding.H, Padding.W, Padding.H, Padding.W }), ("dilations", new long[] { Dilation.H, Dilation.W }), ("ceil_mode", CeilMode ? 1L : 0L));
    }

    /// <summary>Window size.</summary>
    public Size2 KernelSize { get; }

    /// <summary>Window step.</summary>
    public Size2 Stride { get; }

    /// <summary>Implicit −∞ padding on each side (at most half the kernel).</summary>
    public Size2 Padding { get; }

    /// <summary>Spacing between window elements.</summary>
    public Size2 Dilation { get; }

    /// <summary>Rounds the output size up instead of down.</summary>
    public bool CeilMode { get; }

    /// <summary>Creates the layer.</summary>
    public MaxPool2d(Size2 kernelSize, Size2? stride = null, Size2? padding = null, Size2? dilation = null, bool ceilMode = false)
    {
        KernelSize = kernelSize;
        Stride = stride ?? kernelSize;
        Padding = padding ?? 0;
        Dilation = dilation ?? 1;
        CeilMode = ceilMode;
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        PoolRepr.CheckInput(this, input);
        return Tensor.MaxPool2d(input, KernelSize, Stride, Padding, Dilation, CeilMode);
    }

    /// <summary>The pooled values and the int64 flat indices of the maxima within each input plane.</summary>
    public (Tensor Values, Tensor Indices) ForwardWithIndices(Tensor input)
    {
        PoolRepr.CheckInput(this, input);
        return Tensor.MaxPool2dWithIndices(input, KernelSize, Stride, Padding, Dilation, CeilMode);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() =>
        $"kernel_size={PoolRepr.Of(KernelSize)}, stride={PoolRepr.Of(Stride)}, padding={PoolRepr.Of(Padding)}, dilation={PoolRepr.Of(Dilation)}, ceil_mode={PoolRepr.Bool(CeilMode)}";
}

/// <summary>2-D average pooling (PyTorch's <c>nn.AvgPool2d</c>); stride defaults to the kernel size and the
/// zero padding counts in the divisor unless <see cref="CountIncludePad"/> is false.</summary>
public sealed class AvgPool2d : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x)
    {
        e.RequireRank(this, x, 4, "[N, C, H, W]");
        bool padded = Padding.H > 0 || Padding.W > 0;
        if (DivisorOverride is not null && (CeilMode || (padded && !CountIncludePad)))
            throw e.Unsupported(this, "divisorOverride is exported only without ceilMode and with the padding counted (countIncludePad).");
        var y = e.Unary("AveragePool", x.Name, ("kernel_shape", new long[] { KernelSize.H, KernelSize.W }), ("strides", new long[] { Stride.H, Stride.W }),
            ("pads", new long[] { Padding.H, Padding.W, Padding.H, Padding.W }), ("ceil_mode", CeilMode ? 1L : 0L), ("count_include_pad", CountIncludePad ? 1L : 0L));
        return DivisorOverride is int d ? e.Node("Mul", [y, e.Scalar((double)(KernelSize.H * KernelSize.W) / d)]) : y;
    }

    /// <summary>Window size.</summary>
    public Size2 KernelSize { get; }

    /// <summary>Window step.</summary>
    public Size2 Stride { get; }

    /// <summary>Zero padding on each side (at most half the kernel).</summary>
    public Size2 Padding { get; }

    /// <summary>Rounds the output size up instead of down.</summary>
    public bool CeilMode { get; }

    /// <summary>Whether the zero padding counts in the divisor.</summary>
    public bool CountIncludePad { get; }

    /// <summary>A fixed divisor replacing the window size, or null.</summary>
    public int? DivisorOverride { get; }

    /// <summary>Creates the layer.</summary>
    public AvgPool2d(Size2 kernelSize, Size2? stride = null, Size2? padding = null, bool ceilMode = false, bool countIncludePad = true, int? divisorOverride = null)
    {
        KernelSize = kernelSize;
        Stride = stride ?? kernelSize;
        Padding = padding ?? 0;
        CeilMode = ceilMode;
        CountIncludePad = countIncludePad;
        DivisorOverride = divisorOverride;
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        PoolRepr.CheckInput(this, input);
        return Tensor.AvgPool2d(input, KernelSize, Stride, Padding, CeilMode, CountIncludePad, DivisorOverride);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"kernel_size={PoolRepr.Of(KernelSize)}, stride={PoolRepr.Of(Stride)}, padding={PoolRepr.Of(Padding)}";
}

/// <summary>Adaptive 2-D average pooling to a fixed output size (PyTorch's <c>nn.AdaptiveAvgPool2d</c>).</summary>
public sealed class AdaptiveAvgPool2d(Size2 outputSize) : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x)
    {
        e.RequireRank(this, x, 4, "[N, C, H, W]");
        int h = x.Shape[2], w = x.Shape[3];
        if (OutputSize.H == 1 && OutputSize.W == 1) return e.Unary("GlobalAveragePool", x.Name);
        if (OutputSize.H <= 0 || OutputSize.W <= 0 || h % OutputSize.H != 0 || w % OutputSize.W != 0)
            throw e.Unsupported(this, $"the input's spatial size {h}x{w} must be a multiple of the output size {OutputSize} (then the pooling is a fixed AveragePool).");
        long kh = h / OutputSize.H, kw = w / OutputSize.W;
        return e.Unary("AveragePool", x.Name, ("kernel_shape", new long[] { kh, kw }), ("strides", new long[] { kh, kw }));
    }

    /// <summary>The output's (height, width).</summary>
    public Size2 OutputSize { get; } = outputSize;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        PoolRepr.CheckInput(this, input);
        return Tensor.AdaptiveAvgPool2d(input, OutputSize);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"output_size={PoolRepr.Of(OutputSize)}";
}
