namespace Fluxion;

// The 1-D convolution and pooling functions of torch.nn.functional, computed exactly by the 2-D kernels on a
// height-1 view ([N, C, L] -> [N, C, 1, L], kernels [.., k] -> [.., 1, k], stride/padding/dilation (1, s)/(0, p)/(1, d)).
public partial class Tensor
{
    private static OpSample Sample1d(string label, Func<Tensor[], Tensor> call, bool secondOrder, params Tensor[] inputs) => new(label, inputs, call, secondOrder);
    private static Tensor R1(int seed, params int[] shape) => OpSamples.Make(OpSamples.Domain.Real, seed, shape);

    internal static readonly OpDef Conv1dOp = new("Conv1d", OpFamily.NN, "nn.functional.conv1d")
    {
        CompositeOf = ["Conv2d", "Unsqueeze", "Squeeze"],
        Samples = () => [Sample1d("bias stride", t => Conv1d(t[0], t[1], t[2], stride: 2, padding: 1), true, R1(1, 2, 4, 7), R1(2, 3, 4, 3), R1(3, 3)),
            Sample1d("unbatched groups dilation", t => Conv1d(t[0], t[1], groups: 2, dilation: 2), true, R1(4, 4, 8), R1(5, 2, 2, 2))],
    };
    internal static readonly OpDef ConvTranspose1dOp = new("ConvTranspose1d", OpFamily.NN, "nn.functional.conv_transpose1d")
    {
        CompositeOf = ["ConvTranspose2d", "Unsqueeze", "Squeeze"],
        Samples = () => [Sample1d("stride output padding", t => ConvTranspose1d(t[0], t[1], t[2], stride: 2, padding: 1, outputPadding: 1), true, R1(1, 2, 3, 4), R1(2, 3, 2, 3), R1(3, 2))],
    };
    internal static readonly OpDef AvgPool1dOp = new("AvgPool1d", OpFamily.NN, "nn.functional.avg_pool1d")
    {
        CompositeOf = ["AvgPool2d", "Unsqueeze", "Squeeze"],
        Samples = () => [Sample1d("padded", t => AvgPool1d(t[0], 3, 2, 1), true, R1(1, 2, 3, 7)),
            Sample1d("ceil exclude pad", t => AvgPool1d(t[0], 2, 2, 1, ceilMode: true, countIncludePad: false), true, R1(2, 3, 6))],
    };
    internal static readonly OpDef MaxPool1dOp = new("MaxPool1d", OpFamily.NN, "nn.functional.max_pool1d")
    {
        CompositeOf = ["MaxPool2d", "Unsqueeze", "Squeeze"],
        Samples = () => [Sample1d("stride", t => MaxPool1d(t[0], 3, 2), true, R1(1, 2, 3, 9))],
    };
    internal static readonly OpDef AdaptiveAvgPool1dOp = new("AdaptiveAvgPool1d", OpFamily.NN, "nn.functional.adaptive_avg_pool1d")
    {
        CompositeOf = ["AdaptiveAvgPool2d", "Unsqueeze", "Squeeze"],
        Samples = () => [Sample1d("7 -> 3", t => AdaptiveAvgPool1d(t[0], 3), true, R1(1, 2, 3, 7))],
    };

    private static Tensor To2d(string op, Tensor input)
    {
        if (input.Rank is not (2 or 3))
            throw new ShapeMismatchException($"{op}: the input must be [N, C, L] or unbatched [C, L], got {ShapeUtil.Format(input.Shape)}.");
        return input.Unsqueeze(-2);
    }

    private static Tensor Weight2d(string op, Tensor weight)
    {
        if (weight.Rank != 3) throw new ShapeMismatchException($"{op}: the weight must be 3-D [.., .., k], got {ShapeUtil.Format(weight.Shape)}.");
        return weight.Unsqueeze(2);
    }

    /// <summary>
    /// 1-D convolution (PyTorch's <c>F.conv1d</c>): input [N, C, L] (or [C, L]), weight [O, C/groups, k], optional bias [O];
    /// output [N, O, (L + 2·padding − dilation·(k − 1) − 1)/stride + 1]. Zero padding.
    /// </summary>
    public static Tensor Conv1d(Tensor input, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, int dilation = 1, int groups = 1) =>
        Conv2d(To2d("Conv1d", input), Weight2d("Conv1d", weight), bias, (1, stride), (0, padding), (1, dilation), groups).Squeeze(-2);

    /// <summary>
    /// 1-D transposed convolution (PyTorch's <c>F.conv_transpose1d</c>): input [N, Cin, L] (or [Cin, L]), weight
    /// [Cin, Cout/groups, k], optional bias [Cout]; output length (L − 1)·stride − 2·padding + dilation·(k − 1) + outputPadding + 1.
    /// </summary>
    public static Tensor ConvTranspose1d(Tensor input, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, int outputPadding = 0, int groups = 1, int dilation = 1) =>
        ConvTranspose2d(To2d("ConvTranspose1d", input), Weight2d("ConvTranspose1d", weight), bias, (1, stride), (0, padding), (0, outputPadding), groups, (1, dilation)).Squeeze(-2);

    /// <summary>1-D average pooling (PyTorch's <c>F.avg_pool1d</c>) of [N, C, L] (or [C, L]); stride defaults to the kernel size.</summary>
    public static Tensor AvgPool1d(Tensor input, int kernelSize, int? stride = null, int padding = 0, bool ceilMode = false, bool countIncludePad = true) =>
        AvgPool2d(To2d("AvgPool1d", input), (1, kernelSize), (1, stride ?? kernelSize), (0, padding), ceilMode, countIncludePad).Squeeze(-2);

    /// <summary>1-D max pooling (PyTorch's <c>F.max_pool1d</c>) of [N, C, L] (or [C, L]); stride defaults to the kernel size.</summary>
    public static Tensor MaxPool1d(Tensor input, int kernelSize, int? stride = null, int padding = 0, int dilation = 1, bool ceilMode = false) =>
        MaxPool2d(To2d("MaxPool1d", input), (1, kernelSize), (1, stride ?? kernelSize), (0, padding), (1, dilation), ceilMode).Squeeze(-2);

    /// <summary>1-D adaptive average pooling (PyTorch's <c>F.adaptive_avg_pool1d</c>) of [N, C, L] (or [C, L]) to length <paramref name="outputSize"/>.</summary>
    public static Tensor AdaptiveAvgPool1d(Tensor input, int outputSize) =>
        AdaptiveAvgPool2d(To2d("AdaptiveAvgPool1d", input), (1, outputSize)).Squeeze(-2);
    internal static readonly OpDef BilinearOp = new("Bilinear", OpFamily.NN, "nn.functional.bilinear")
    {
        CompositeOf = ["MatMul", "Permute", "Reshape", "Mul", "Sum", "Add"],
        Samples = () => [Sample1d("bias", t => Bilinear(t[0], t[1], t[2], t[3]), true, R1(1, 3, 2), R1(2, 3, 4), R1(3, 5, 2, 4), R1(4, 5)),
            Sample1d("batch dims", t => Bilinear(t[0], t[1], t[2]), true, R1(5, 2, 2, 3), R1(6, 2, 2, 2), R1(7, 3, 3, 2))],
    };

    /// <summary>
    /// Bilinear map (PyTorch's <c>F.bilinear</c>): y[.., o] = Σ_ij x1[.., i]·W[o, i, j]·x2[.., j] + b[o], with inputs
    /// [*, in1] and [*, in2], weight [out, in1, in2] and optional bias [out].
    /// </summary>
    public static Tensor Bilinear(Tensor input1, Tensor input2, Tensor weight, Tensor? bias = null)
    {
        const string op = "Bilinear";
        input1.CheckFloat(op);
        CheckSameDType(op, input1, input2);
        CheckSameDType(op, input1, weight);
        if (weight.Rank != 3 || input1.Rank < 1 || input2.Rank != input1.Rank || input1.Size(-1) != weight.Size(1) || input2.Size(-1) != weight.Size(2)
            || !ShapeUtil.SameShape(input1.ShapeArray[..^1], input2.ShapeArray[..^1]) || (bias is not null && (bias.Rank != 1 || bias.Size(0) != weight.Size(0))))
            throw new ShapeMismatchException($"{op}: expected inputs [*, in1] and [*, in2], weight [out, in1, in2] and bias [out]; got {ShapeUtil.Format(input1.Shape)}, {ShapeUtil.Format(input2.Shape)}, {ShapeUtil.Format(weight.Shape)}{(bias is null ? "" : ", " + ShapeUtil.Format(bias.Shape))}.");
        int o = weight.Size(0), i1 = weight.Size(1), i2 = weight.Size(2);
        var lead = input1.ShapeArray[..^1];
        var x1 = input1.Reshape(-1, i1);
        var x2 = input2.Reshape(-1, i2);
        var t = x1.MatMul(weight.Permute(1, 0, 2).Reshape(i1, o * i2)).Reshape(-1, o, i2);
        var y = (t * x2.Unsqueeze(1)).Sum(-1);
        if (bias is not null) y = y + bias;
        return y.Reshape([.. lead, o]);
    }
}
