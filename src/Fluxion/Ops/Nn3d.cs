using Fluxion.Kernels;

namespace Fluxion;

/// <summary>A size for the three spatial dims (depth, height, width) of a 3-D convolution or pooling;
/// an <c>int</c> n converts to (n, n, n) and a tuple (d, h, w) to (d, h, w), as PyTorch's int-or-triple arguments.</summary>
/// <param name="D">Depth (the third-to-last dim).</param>
/// <param name="H">Height (the second-to-last dim).</param>
/// <param name="W">Width (the last dim).</param>
public readonly record struct Size3(int D, int H, int W)
{
    /// <summary>(n, n, n).</summary>
    public static implicit operator Size3(int n) => new(n, n, n);

    /// <summary>(d, h, w).</summary>
    public static implicit operator Size3((int D, int H, int W) t) => new(t.D, t.H, t.W);

    /// <summary>The (height, width) part.</summary>
    public Size2 HW => new(H, W);

    /// <summary>"(d, h, w)", as PyTorch prints a triple.</summary>
    public override string ToString() => $"({D}, {H}, {W})";
}

// The 3-D convolutions and poolings, the adaptive max poolings and max unpooling of torch.nn.functional. The 3-D ops are
// computed by the 2-D primitives: a 3-D convolution is a sum over the kernel's depth taps of 2-D convolutions of strided
// depth slices (a transposed one places each tap's 2-D transposed convolution at its depth offset), and a 3-D pooling is
// a pooling over (H, W) followed by a pooling over D (box windows are separable: max of maxes, and average divisors are
// products of per-axis counts). Adaptive max pooling is one primitive (window argmax) whose VJP and JVP are the
// max pooling's scatter/gather adjoint pair; max unpooling scatters into zeros.
public partial class Tensor
{
    private static OpSample S3(string label, Func<Tensor[], Tensor> call, params Tensor[] inputs) => new(label, inputs, call);
    private static Tensor R3(int seed, params int[] shape) => OpSamples.Make(OpSamples.Domain.Real, seed, shape);

    internal static readonly OpDef Conv3dOp = new("Conv3d", OpFamily.NN, "nn.functional.conv3d")
    {
        CompositeOf = ["Conv2d", "Pad", "Slice", "Permute", "Reshape", "Add"],
        Samples = () => [S3("padding stride bias", t => Conv3d(t[0], t[1], t[2], stride: (2, 1, 2), padding: 1), R3(1, 1, 2, 4, 3, 4), R3(2, 2, 2, 2, 2, 2), R3(3, 2)),
            S3("unbatched groups dilation", t => Conv3d(t[0], t[1], groups: 2, dilation: (2, 1, 1)), R3(4, 2, 5, 3, 3), R3(5, 2, 1, 2, 2, 2))],
    };
    internal static readonly OpDef ConvTranspose3dOp = new("ConvTranspose3d", OpFamily.NN, "nn.functional.conv_transpose3d")
    {
        CompositeOf = ["ConvTranspose2d", "Pad", "Permute", "Reshape", "Add"],
        Samples = () => [S3("stride output padding bias", t => ConvTranspose3d(t[0], t[1], t[2], stride: 2, padding: (1, 0, 1), outputPadding: (1, 0, 1)), R3(1, 1, 2, 2, 2, 3), R3(2, 2, 2, 2, 2, 2), R3(3, 2)),
            S3("unbatched groups dilation", t => ConvTranspose3d(t[0], t[1], groups: 2, dilation: (2, 1, 1)), R3(4, 2, 3, 2, 2), R3(5, 2, 1, 2, 1, 2))],
    };
    internal static readonly OpDef MaxPool3dOp = new("MaxPool3d", OpFamily.NN, "nn.functional.max_pool3d")
    {
        CompositeOf = ["MaxPool2d", "Reshape"],
        Samples = () => [S3("kernel 2", t => MaxPool3d(t[0], 2), R3(1, 1, 2, 4, 4, 5)),
            S3("unbatched padding stride ceil", t => MaxPool3d(t[0], (3, 2, 2), stride: (2, 1, 2), padding: (1, 0, 1), ceilMode: true), R3(2, 2, 5, 3, 4))],
    };
    internal static readonly OpDef AvgPool3dOp = new("AvgPool3d", OpFamily.NN, "nn.functional.avg_pool3d")
    {
        CompositeOf = ["AvgPool2d", "Reshape"],
        Samples = () => [S3("kernel 2", t => AvgPool3d(t[0], 2), R3(1, 1, 2, 4, 4, 5)),
            S3("padding ceil exclude pad", t => AvgPool3d(t[0], 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false), R3(2, 1, 1, 4, 5, 4)),
            S3("unbatched divisor override", t => AvgPool3d(t[0], (2, 2, 1), stride: 1, divisorOverride: 3), R3(3, 2, 3, 3, 2))],
    };
    internal static readonly OpDef AdaptiveAvgPool3dOp = new("AdaptiveAvgPool3d", OpFamily.NN, "nn.functional.adaptive_avg_pool3d")
    {
        CompositeOf = ["AdaptiveAvgPool2d", "Reshape"],
        Samples = () => [S3("[3, 5, 4] to (2, 3, 2)", t => AdaptiveAvgPool3d(t[0], (2, 3, 2)), R3(1, 1, 2, 3, 5, 4)),
            S3("unbatched upsampling", t => AdaptiveAvgPool3d(t[0], 3), R3(2, 2, 2, 2, 3))],
    };
    internal static readonly OpDef AdaptiveMaxPool1dOp = new("AdaptiveMaxPool1d", OpFamily.NN, "nn.functional.adaptive_max_pool1d")
    {
        CompositeOf = ["AdaptiveMaxPool2d", "Unsqueeze", "Squeeze"],
        Samples = () => [S3("7 -> 3", t => AdaptiveMaxPool1d(t[0], 3), R3(1, 2, 3, 7)), S3("unbatched 3 -> 5", t => AdaptiveMaxPool1d(t[0], 5), R3(2, 2, 3))],
    };
    internal static readonly OpDef AdaptiveMaxPool3dOp = new("AdaptiveMaxPool3d", OpFamily.NN, "nn.functional.adaptive_max_pool3d")
    {
        CompositeOf = ["AdaptiveMaxPool2d", "Reshape"],
        Samples = () => [S3("[3, 5, 4] to (2, 3, 2)", t => AdaptiveMaxPool3d(t[0], (2, 3, 2)), R3(1, 1, 2, 3, 5, 4)),
            S3("unbatched", t => AdaptiveMaxPool3d(t[0], 2), R3(2, 2, 3, 3, 3))],
    };

    /// <summary>A 2×2 max pooling of a fixed [1, 2, 4, 6] input with its indices, for the samples.</summary>
    private static Tensor[] UnpoolSample2d()
    {
        var (y, idx) = MaxPool2dWithIndices(R3(30, 1, 2, 4, 6), 2);
        return [y, idx];
    }

    internal static readonly OpDef MaxUnpool1dOp = new("MaxUnpool1d", OpFamily.NN, "nn.functional.max_unpool1d")
    {
        CompositeOf = ["Scatter", "Reshape"],
        Samples = () => [S3("kernel 2", t => MaxUnpool1d(t[0], FromArray([1L, 2, 5, 6, 0, 3, 4, 7], 1, 2, 4), 2), R3(1, 1, 2, 4)),
            S3("unbatched output size", t => MaxUnpool1d(t[0], FromArray([0L, 3, 5], 1, 3), 2, outputSize: 7), R3(2, 1, 3))],
    };
    internal static readonly OpDef MaxUnpool2dOp = new("MaxUnpool2d", OpFamily.NN, "nn.functional.max_unpool2d")
    {
        CompositeOf = ["Scatter", "Reshape"],
        Samples = () =>
        {
            var idx = UnpoolSample2d()[1];
            return [S3("indices of a 2x2 max pool", t => MaxUnpool2d(t[0], idx, 2), R3(1, 1, 2, 2, 3)),
                S3("unbatched output size", t => MaxUnpool2d(t[0], idx.Squeeze(0), 2, outputSize: (5, 7)), R3(2, 2, 2, 3))];
        },
    };
    internal static readonly OpDef MaxUnpool3dOp = new("MaxUnpool3d", OpFamily.NN, "nn.functional.max_unpool3d")
    {
        CompositeOf = ["Scatter", "Reshape"],
        Samples = () => [S3("kernel 2", t => MaxUnpool3d(t[0], FromArray([0L, 9, 22, 31], 1, 1, 2, 1, 2), 2), R3(1, 1, 1, 2, 1, 2))],
    };

    // ---- 3-D convolution ---------------------------------------------------------------------------------

    /// <summary>Adds a leading batch dim to an unbatched (rank-4) input of a 3-D op; rank 5 passes through.</summary>
    private static (Tensor X, bool Unbatched) Batched3d(string op, Tensor input)
    {
        if (input.Rank == 5) return (input, false);
        if (input.Rank == 4) return (input.Unsqueeze(0), true);
        throw new ShapeMismatchException($"{op}: expected a 5-D input [N, C, D, H, W] (or 4-D [C, D, H, W] without batch), got shape {ShapeUtil.Format(input.Shape)}.");
    }

    /// <summary>
    /// 3-D convolution (PyTorch's <c>F.conv3d</c>, a cross-correlation): input [N, C, D, H, W] (or [C, D, H, W]), weight
    /// [O, C/groups, KD, KH, KW], optional bias [O]; output [N, O, OD, OH, OW] with
    /// OD = (D + 2·padding − dilation·(KD − 1) − 1) / stride + 1 (likewise OH, OW). Zero padding.
    /// </summary>
    public static Tensor Conv3d(Tensor input, Tensor weight, Tensor? bias = null, Size3? stride = null, Size3? padding = null, Size3? dilation = null, int groups = 1)
    {
        const string op = "Conv3d";
        var (x, unbatched) = Batched3d(op, input);
        Size3 s = stride ?? 1, p = padding ?? 0, d = dilation ?? 1;
        CheckFloatPair(op, x, weight);
        if (weight.Rank != 5)
            throw new ShapeMismatchException($"{op}: the weight must have shape [out_channels, in_channels/groups, kD, kH, kW], got {ShapeUtil.Format(weight.Shape)}.");
        if (s.D <= 0 || p.D < 0 || d.D <= 0) throw new ArgumentException($"{op}: stride {s} and dilation {d} must be positive and padding {p} non-negative.");
        int n = x.Size(0), c = x.Size(1), depth = x.Size(2), h = x.Size(3), w = x.Size(4), o = weight.Size(0), kd = weight.Size(2);
        if (groups <= 0 || c % groups != 0 || weight.Size(1) * groups != c)
            throw new ShapeMismatchException($"{op}: the input (shape {ShapeUtil.Format(x.Shape)}) has {c} channels, but the weight (shape {ShapeUtil.Format(weight.Shape)}) with groups = {groups} expects {weight.Size(1) * groups}.");
        int od = (depth + 2 * p.D - d.D * (kd - 1) - 1) / s.D + 1;
        if (kd == 0 || depth + 2 * p.D < d.D * (kd - 1) + 1)
            throw new ShapeMismatchException($"{op}: the padded input depth {depth + 2 * p.D} is smaller than the dilated kernel depth {d.D * (kd - 1) + 1}; input {ShapeUtil.Format(x.Shape)}, weight {ShapeUtil.Format(weight.Shape)}.");
        if (bias is not null && (bias.Rank != 1 || bias.Size(0) != o))
            throw new ShapeMismatchException($"{op}: the bias must have shape [{o}] (out_channels), got {ShapeUtil.Format(bias.Shape)}.");
        var xp = p.D > 0 ? x.Pad([0, 0, 0, 0, p.D, p.D]) : x;
        Tensor? y = null;
        for (int k = 0; k < kd; k++)
        {
            // the depth slices this tap reads, folded into the batch: [N·OD, C, H, W]
            var xs = xp.Slice(2, k * d.D, k * d.D + (od - 1) * s.D + 1, s.D).Permute(0, 2, 1, 3, 4).Reshape(n * od, c, h, w);
            var yk = Conv2d(xs, weight.Select(2, k), null, s.HW, p.HW, d.HW, groups);
            y = y is null ? yk : y + yk;
        }
        var r = y!.Reshape(n, od, o, y.Size(2), y.Size(3)).Permute(0, 2, 1, 3, 4);
        if (bias is not null) r = r + bias.Reshape(1, o, 1, 1, 1);
        return unbatched ? r.Squeeze(0) : r;
    }

    /// <summary>
    /// 3-D transposed convolution (PyTorch's <c>F.conv_transpose3d</c>, the adjoint of <see cref="Conv3d"/> in its input):
    /// input [N, Cin, D, H, W] (or [Cin, D, H, W]), weight [Cin, Cout/groups, KD, KH, KW], optional bias [Cout]; output depth
    /// (D − 1)·stride − 2·padding + dilation·(KD − 1) + outputPadding + 1 (likewise height and width).
    /// </summary>
    public static Tensor ConvTranspose3d(Tensor input, Tensor weight, Tensor? bias = null, Size3? stride = null, Size3? padding = null, Size3? outputPadding = null, int groups = 1, Size3? dilation = null)
    {
        const string op = "ConvTranspose3d";
        var (x, unbatched) = Batched3d(op, input);
        Size3 s = stride ?? 1, p = padding ?? 0, op3 = outputPadding ?? 0, d = dilation ?? 1;
        CheckFloatPair(op, x, weight);
        if (weight.Rank != 5)
            throw new ShapeMismatchException($"{op}: the weight must have shape [in_channels, out_channels/groups, kD, kH, kW], got {ShapeUtil.Format(weight.Shape)}.");
        int n = x.Size(0), cin = x.Size(1), depth = x.Size(2), kd = weight.Size(2);
        if (weight.Size(0) != cin)
            throw new ShapeMismatchException($"{op}: the input (shape {ShapeUtil.Format(x.Shape)}) has {cin} channels, but the weight (shape {ShapeUtil.Format(weight.Shape)}) expects {weight.Size(0)}.");
        if (s.D <= 0 || p.D < 0 || d.D <= 0 || op3.D < 0 || op3.D >= s.D)
            throw new ArgumentException($"{op}: stride {s} and dilation {d} must be positive, padding {p} non-negative and outputPadding {op3} smaller than the stride.");
        int od = (depth - 1) * s.D - 2 * p.D + d.D * (kd - 1) + op3.D + 1;
        if (od <= 0) throw new ShapeMismatchException($"{op}: the output depth {od} for input {ShapeUtil.Format(x.Shape)} with kernel depth {kd} is not positive.");
        var x2 = x.Permute(0, 2, 1, 3, 4).Reshape(n * depth, cin, x.Size(3), x.Size(4));
        Tensor? y = null;
        for (int k = 0; k < kd; k++)
        {
            var yk = ConvTranspose2d(x2, weight.Select(2, k), null, s.HW, p.HW, op3.HW, groups, d.HW);
            int cout = yk.Size(1), oh = yk.Size(2), ow = yk.Size(3);
            var y5 = yk.Reshape(n, depth, cout, oh, ow);
            if (s.D > 1) // input depth i lands at full position i·stride: interleave stride − 1 zero planes
                y5 = y5.Unsqueeze(2).Pad([0, 0, 0, 0, 0, 0, 0, s.D - 1]).Reshape(n, depth * s.D, cout, oh, ow);
            // full position i·stride + k·dilation is output position that − padding (negative pads crop)
            int before = k * d.D - p.D;
            var placed = y5.Pad([0, 0, 0, 0, 0, 0, before, od - before - y5.Size(1)]);
            y = y is null ? placed : y + placed;
        }
        var r = y!.Permute(0, 2, 1, 3, 4);
        if (bias is not null)
        {
            if (bias.Rank != 1 || bias.Size(0) != r.Size(1))
                throw new ShapeMismatchException($"{op}: the bias must have shape [{r.Size(1)}] (out_channels), got {ShapeUtil.Format(bias.Shape)}.");
            r = r + bias.Reshape(1, -1, 1, 1, 1);
        }
        return unbatched ? r.Squeeze(0) : r;
    }

    // ---- 3-D pooling -------------------------------------------------------------------------------------

    /// <summary>Validates a 3-D pooling's window arguments (the 2-D passes check the rest) so errors name the 3-D op.</summary>
    private static void CheckPool3d(string op, Tensor x, Size3 k, Size3 s, Size3 p, Size3 d)
    {
        x.CheckFloat(op);
        if (k.D <= 0 || k.H <= 0 || k.W <= 0 || s.D <= 0 || s.H <= 0 || s.W <= 0 || d.D <= 0 || d.H <= 0 || d.W <= 0)
            throw new ArgumentException($"{op}: kernelSize {k}, stride {s} and dilation {d} must be positive.");
        if (p.D < 0 || p.H < 0 || p.W < 0 || p.D > k.D / 2 || p.H > k.H / 2 || p.W > k.W / 2)
            throw new ArgumentException($"{op}: padding {p} must be non-negative and at most half the kernel size {k}.");
        int[] n = [x.Size(2), x.Size(3), x.Size(4)], kk = [k.D, k.H, k.W], pp = [p.D, p.H, p.W], dd = [d.D, d.H, d.W];
        for (int i = 0; i < 3; i++)
            if (n[i] + 2 * pp[i] < dd[i] * (kk[i] - 1) + 1)
                throw new ShapeMismatchException($"{op}: the input {ShapeUtil.Format(x.Shape)} padded by {p} is smaller than the (dilated) window {k} (dilation {d}).");
    }

    /// <summary>
    /// 3-D max pooling (PyTorch's <c>F.max_pool3d</c>) over input [N, C, D, H, W] (or [C, D, H, W]); stride defaults to the
    /// kernel size; padding counts as −∞ and is at most half the kernel. The gradient goes to each window's maximum (the
    /// first in (d, h, w) order on ties, as PyTorch).
    /// </summary>
    public static Tensor MaxPool3d(Tensor input, Size3 kernelSize, Size3? stride = null, Size3? padding = null, Size3? dilation = null, bool ceilMode = false)
    {
        const string op = "MaxPool3d";
        var (x, unbatched) = Batched3d(op, input);
        Size3 s = stride ?? kernelSize, p = padding ?? 0, d = dilation ?? 1;
        CheckPool3d(op, x, kernelSize, s, p, d);
        int n = x.Size(0), c = x.Size(1), depth = x.Size(2);
        // (H, W) windows per depth slice, then depth windows (the max of maxes; ties keep the lowest depth, then row-major)
        var a = MaxPool2d(x.Reshape(n, c * depth, x.Size(3), x.Size(4)), kernelSize.HW, s.HW, p.HW, d.HW, ceilMode);
        int oh = a.Size(2), ow = a.Size(3);
        var b = MaxPool2d(a.Reshape(n, c, depth, oh * ow), (kernelSize.D, 1), (s.D, 1), (p.D, 0), (d.D, 1), ceilMode);
        var y = b.Reshape(n, c, b.Size(2), oh, ow);
        return unbatched ? y.Squeeze(0) : y;
    }

    /// <summary>
    /// 3-D average pooling (PyTorch's <c>F.avg_pool3d</c>) over input [N, C, D, H, W] (or [C, D, H, W]); stride defaults to the
    /// kernel size. Each window's sum is divided by its size including the zero padding (countIncludePad, the default), by
    /// the number of real input elements, or by <paramref name="divisorOverride"/>.
    /// </summary>
    public static Tensor AvgPool3d(Tensor input, Size3 kernelSize, Size3? stride = null, Size3? padding = null, bool ceilMode = false, bool countIncludePad = true, int? divisorOverride = null)
    {
        const string op = "AvgPool3d";
        var (x, unbatched) = Batched3d(op, input);
        Size3 s = stride ?? kernelSize, p = padding ?? 0;
        CheckPool3d(op, x, kernelSize, s, p, 1);
        if (divisorOverride is <= 0) throw new ArgumentException($"{op}: divisorOverride must be positive, got {divisorOverride}.");
        int n = x.Size(0), c = x.Size(1), depth = x.Size(2);
        // the divisors are products of per-axis counts, so the (H, W) average of the depth average is the 3-D average;
        // with a divisor override the first pass sums (divisor 1) and the second divides by the override
        var a = AvgPool2d(x.Reshape(n, c * depth, x.Size(3), x.Size(4)), kernelSize.HW, s.HW, p.HW, ceilMode, countIncludePad, divisorOverride is null ? null : 1);
        int oh = a.Size(2), ow = a.Size(3);
        var b = AvgPool2d(a.Reshape(n, c, depth, oh * ow), (kernelSize.D, 1), (s.D, 1), (p.D, 0), ceilMode, countIncludePad, divisorOverride);
        var y = b.Reshape(n, c, b.Size(2), oh, ow);
        return unbatched ? y.Squeeze(0) : y;
    }

    /// <summary>Adaptive 3-D average pooling (PyTorch's <c>F.adaptive_avg_pool3d</c>): input [N, C, D, H, W] (or [C, D, H, W]) to
    /// [N, C, outputSize.D, outputSize.H, outputSize.W], windows as <see cref="AdaptiveAvgPool2d(Tensor, Size2)"/> per axis.</summary>
    public static Tensor AdaptiveAvgPool3d(Tensor input, Size3 outputSize)
    {
        const string op = "AdaptiveAvgPool3d";
        var (x, unbatched) = Batched3d(op, input);
        int n = x.Size(0), c = x.Size(1), depth = x.Size(2);
        var a = AdaptiveAvgPool2d(x.Reshape(n, c * depth, x.Size(3), x.Size(4)), outputSize.HW);
        int oh = a.Size(2), ow = a.Size(3);
        var y = AdaptiveAvgPool2d(a.Reshape(n, c, depth, oh * ow), (outputSize.D, oh * ow)).Reshape(n, c, outputSize.D, oh, ow);
        return unbatched ? y.Squeeze(0) : y;
    }

    // ---- adaptive max pooling ----------------------------------------------------------------------------

    /// <summary>
    /// Adaptive 2-D max pooling (PyTorch's <c>F.adaptive_max_pool2d</c>): input [N, C, H, W] (or [C, H, W]) to
    /// [N, C, outputSize.H, outputSize.W]; output row i takes the maximum over input rows ⌊i·H/OH⌋ .. ⌈(i + 1)·H/OH⌉ − 1,
    /// and likewise for columns. The gradient goes to each window's maximum (the first on ties).
    /// </summary>
    public static Tensor AdaptiveMaxPool2d(Tensor input, Size2 outputSize)
    {
        var (y, _, unbatched) = AdaptiveMaxCore(input, outputSize);
        return unbatched ? y.Squeeze(0) : y;
    }

    /// <summary>Adaptive 2-D max pooling that also returns the int64 flat positions (ih·W + iw) of the maxima within each input plane,
    /// as PyTorch's <c>return_indices=True</c>.</summary>
    public static (Tensor Values, Tensor Indices) AdaptiveMaxPool2dWithIndices(Tensor input, Size2 outputSize)
    {
        var (y, idx, unbatched) = AdaptiveMaxCore(input, outputSize);
        var idx64 = new long[idx.Length];
        for (int i = 0; i < idx.Length; i++) idx64[i] = idx[i];
        var it = Wrap(idx64, y.ShapeArray);
        return unbatched ? (y.Squeeze(0), it.Squeeze(0)) : (y, it);
    }

    private static (Tensor Values, int[] Indices, bool Unbatched) AdaptiveMaxCore(Tensor input, Size2 outputSize)
    {
        const string op = "AdaptiveMaxPool2d";
        var (x, unbatched) = Batched(op, input, "input");
        x.CheckFloat(op);
        var win = AdaptiveWindows(op, x, outputSize);
        int n = x._shape[0], c = x._shape[1];
        var y = Empty([n, c, win.OH, win.OW], x.DType);
        var idx = GC.AllocateUninitializedArray<int>(n * c * win.OH * win.OW);
        var xa = x.DenseSpanArray(out int xo);
        if (x.DType == DType.Float32) Conv.WindowMax((float[])xa, xo, y.Storage.As<float>(), idx, n * c, win);
        else Conv.WindowMax((double[])xa, xo, y.Storage.As<double>(), idx, n * c, win);
        if (Op.Tracking(x)) y = Op.Record(AdaptiveMaxPool2dOp, y, [x], new MaxPoolIndex(idx, n, c, win.H, win.W, win.OH, win.OW));
        return (y, idx, unbatched);
    }

    // the attribute holds the argmax positions: the VJP and JVP are the max pooling's scatter/gather adjoint pair
    internal static readonly OpDef AdaptiveMaxPool2dOp = new("AdaptiveMaxPool2d", OpFamily.NN, "nn.functional.adaptive_max_pool2d")
    {
        Vjp = (in OpCtx c, Tensor gy, int i) => MaxPoolScatter(gy, c.A<MaxPoolIndex>()),
        Jvp = (in OpCtx c, Tensor?[] t) => t[0] is { } tx ? MaxPoolGatherDirections(tx, c.A<MaxPoolIndex>()) : null,
        BatchedJvp = true, BatchRecomputesAttr = true,
        Batch = c =>
        {
            // the examples folded into N and pooled again (each example's own argmax positions)
            var p = c.A<MaxPoolIndex>();
            var (y, _, _) = AdaptiveMaxCore(c.X(0).Reshape(c.B * p.N, p.C, p.H, p.W), (p.OH, p.OW));
            return [y.Reshape(c.B, p.N, p.C, p.OH, p.OW)];
        },
        Samples = () =>
        [
            new("[5, 7] to (3, 4)", [R3(1, 1, 2, 5, 7)], t => AdaptiveMaxPool2d(t[0], (3, 4))),
            new("unbatched, upsampling, noncontiguous", [R3(2, 2, 3, 2).Transpose(1, 2)], t => AdaptiveMaxPool2d(t[0], 3)),
        ],
    };

    /// <summary>Adaptive 1-D max pooling (PyTorch's <c>F.adaptive_max_pool1d</c>) of [N, C, L] (or [C, L]) to length <paramref name="outputSize"/>.</summary>
    public static Tensor AdaptiveMaxPool1d(Tensor input, int outputSize) =>
        AdaptiveMaxPool2d(To2d("AdaptiveMaxPool1d", input), (1, outputSize)).Squeeze(-2);

    /// <summary>Adaptive 3-D max pooling (PyTorch's <c>F.adaptive_max_pool3d</c>): input [N, C, D, H, W] (or [C, D, H, W]) to
    /// [N, C, outputSize.D, outputSize.H, outputSize.W]; windows per axis as <see cref="AdaptiveMaxPool2d(Tensor, Size2)"/>.</summary>
    public static Tensor AdaptiveMaxPool3d(Tensor input, Size3 outputSize)
    {
        const string op = "AdaptiveMaxPool3d";
        var (x, unbatched) = Batched3d(op, input);
        int n = x.Size(0), c = x.Size(1), depth = x.Size(2);
        var a = AdaptiveMaxPool2d(x.Reshape(n, c * depth, x.Size(3), x.Size(4)), outputSize.HW);
        int oh = a.Size(2), ow = a.Size(3);
        var y = AdaptiveMaxPool2d(a.Reshape(n, c, depth, oh * ow), (outputSize.D, oh * ow)).Reshape(n, c, outputSize.D, oh, ow);
        return unbatched ? y.Squeeze(0) : y;
    }

    // ---- max unpooling -----------------------------------------------------------------------------------

    /// <summary>
    /// The partial inverse of a max pooling (PyTorch's <c>F.max_unpool1d/2d/3d</c>): zeros of the output's spatial size with
    /// input[n, c, i] written at position indices[n, c, i] (flat within each output plane). The default output size per
    /// spatial dim is (in − 1)·stride − 2·padding + kernel. Where indices repeat (overlapping pooling windows) the last write wins
    /// and only it receives the gradient (PyTorch passes the gradient to every duplicate).
    /// </summary>
    private static Tensor MaxUnpool(string op, Tensor input, Tensor indices, int[] kernel, int[] stride, int[] padding, int[]? outputSize)
    {
        int nd = kernel.Length;
        input.CheckFloat(op);
        if (input.Rank != nd + 2 && input.Rank != nd + 1)
            throw new ShapeMismatchException($"{op}: expected an input [N, C, *{nd} spatial dims] (or without the batch dim), got shape {ShapeUtil.Format(input.Shape)}.");
        if (indices.DType != DType.Int64 || !ShapeUtil.SameShape(indices.ShapeArray, input.ShapeArray))
            throw new ShapeMismatchException($"{op}: the indices must be int64 of the input's shape {ShapeUtil.Format(input.Shape)} (as returned by the max pooling with indices), got {indices.DType} {ShapeUtil.Format(indices.Shape)}.");
        bool unbatched = input.Rank == nd + 1;
        var x = unbatched ? input.Unsqueeze(0) : input;
        var ix = unbatched ? indices.Unsqueeze(0) : indices;
        var outSize = new int[nd];
        for (int i = 0; i < nd; i++)
        {
            if (kernel[i] <= 0 || stride[i] <= 0 || padding[i] < 0)
                throw new ArgumentException($"{op}: kernelSize, stride must be positive and padding non-negative, got kernel {string.Join("x", kernel)}, stride {string.Join("x", stride)}, padding {string.Join("x", padding)}.");
            outSize[i] = outputSize?[i] ?? (x.Size(2 + i) - 1) * stride[i] - 2 * padding[i] + kernel[i];
            if (outSize[i] <= 0) throw new ArgumentException($"{op}: the output size {outSize[i]} of spatial dim {i} must be positive.");
        }
        int n = x.Size(0), c = x.Size(1), plane = ShapeUtil.Numel(outSize);
        var flatIdx = ix.Reshape(n, c, -1);
        foreach (long v in flatIdx.ToArray<long>())
            if (v < 0 || v >= plane)
                throw new ShapeMismatchException($"{op}: index {v} lies outside the output plane of {plane} elements (output size {string.Join("x", outSize)}); pass the outputSize of the pooled input.");
        var y = Zeros([n, c, plane], x.DType).Scatter(2, flatIdx, x.Reshape(n, c, -1)).Reshape([n, c, .. outSize]);
        return unbatched ? y.Squeeze(0) : y;
    }

    /// <summary>1-D max unpooling (PyTorch's <c>F.max_unpool1d</c>) of [N, C, L] (or [C, L]) with the int64 indices of
    /// <see cref="MaxPool1d"/>; output length <paramref name="outputSize"/> or (L − 1)·stride − 2·padding + kernelSize.</summary>
    public static Tensor MaxUnpool1d(Tensor input, Tensor indices, int kernelSize, int? stride = null, int padding = 0, int? outputSize = null) =>
        MaxUnpool("MaxUnpool1d", input, indices, [kernelSize], [stride ?? kernelSize], [padding], outputSize is { } o ? [o] : null);

    /// <summary>2-D max unpooling (PyTorch's <c>F.max_unpool2d</c>) of [N, C, H, W] (or [C, H, W]) with the int64 indices of
    /// <see cref="MaxPool2dWithIndices"/>; stride defaults to the kernel size.</summary>
    public static Tensor MaxUnpool2d(Tensor input, Tensor indices, Size2 kernelSize, Size2? stride = null, Size2? padding = null, Size2? outputSize = null)
    {
        Size2 s = stride ?? kernelSize, p = padding ?? 0;
        return MaxUnpool("MaxUnpool2d", input, indices, [kernelSize.H, kernelSize.W], [s.H, s.W], [p.H, p.W], outputSize is { } o ? [o.H, o.W] : null);
    }

    /// <summary>3-D max unpooling (PyTorch's <c>F.max_unpool3d</c>) of [N, C, D, H, W] (or [C, D, H, W]) with int64 flat
    /// indices into each output volume; stride defaults to the kernel size.</summary>
    public static Tensor MaxUnpool3d(Tensor input, Tensor indices, Size3 kernelSize, Size3? stride = null, Size3? padding = null, Size3? outputSize = null)
    {
        Size3 s = stride ?? kernelSize, p = padding ?? 0;
        return MaxUnpool("MaxUnpool3d", input, indices, [kernelSize.D, kernelSize.H, kernelSize.W], [s.D, s.H, s.W], [p.D, p.H, p.W],
            outputSize is { } o ? [o.D, o.H, o.W] : null);
    }
}
