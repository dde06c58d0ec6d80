using Fluxion.IO;

namespace Fluxion.Nn;

// Modules for the activations of Ops/Activations.cs (PyTorch's torch.nn activation modules).

/// <summary>ELU: x for x &gt; 0, α(eˣ − 1) otherwise. (PyTorch's <c>nn.ELU</c>)</summary>
/// <param name="alpha">As the functional form's argument.</param>
public sealed class ELU(double alpha = 1) : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x) =>
        e.Unary("Elu", x.Name, ("alpha", alpha));

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.Elu(alpha);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"alpha={alpha}";
}

/// <summary>SELU with PyTorch's constants. (PyTorch's <c>nn.SELU</c>)</summary>
public sealed class SELU : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x) =>
        e.Unary("Selu", x.Name);

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.Selu();
}

/// <summary>CELU: max(0, x) + min(0, α(e^(x/α) − 1)). (PyTorch's <c>nn.CELU</c>)</summary>
/// <param name="alpha">As the functional form's argument.</param>
public sealed class CELU(double alpha = 1) : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x) =>
        e.Unary("Celu", x.Name, ("alpha", alpha));

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.Celu(alpha);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"alpha={alpha}";
}

/// <summary>SiLU (swish): x·σ(x). (PyTorch's <c>nn.SiLU</c>)</summary>
public sealed class SiLU : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x) =>
        e.Node("Mul", [x.Name, e.Unary("Sigmoid", x.Name)]);

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.Silu();
}

/// <summary>Mish: x·tanh(softplus(x)). (PyTorch's <c>nn.Mish</c>)</summary>
public sealed class Mish : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x) =>
        e.Node("Mul", [x.Name, e.Unary("Tanh", e.Unary("Softplus", x.Name))]);

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.Mish();
}

/// <summary>Hardswish: x·relu6(x + 3)/6. (PyTorch's <c>nn.Hardswish</c>)</summary>
public sealed class Hardswish : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x) =>
        e.Unary("HardSwish", x.Name);

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.Hardswish();
}

/// <summary>Hardsigmoid: relu6(x + 3)/6. (PyTorch's <c>nn.Hardsigmoid</c>)</summary>
public sealed class Hardsigmoid : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x) =>
        e.Unary("HardSigmoid", x.Name, ("alpha", 1.0 / 6), ("beta", 0.5));

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.Hardsigmoid();
}

/// <summary>Hardtanh: x clamped to [minVal, maxVal]. (PyTorch's <c>nn.Hardtanh</c>)</summary>
/// <param name="minVal">As the functional form's argument.</param>
/// <param name="maxVal">As the functional form's argument.</param>
public sealed class Hardtanh(double minVal = -1, double maxVal = 1) : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x) =>
        e.Node("Clip", [x.Name, e.Scalar(minVal), e.Scalar(maxVal)]);

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.Hardtanh(minVal, maxVal);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"min_val={minVal}, max_val={maxVal}";
}

/// <summary>ReLU6: min(max(x, 0), 6). (PyTorch's <c>nn.ReLU6</c>)</summary>
public sealed class ReLU6 : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x) =>
        e.Node("Clip", [x.Name, e.Scalar(0), e.Scalar(6)]);

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.Relu6();
}

/// <summary>Softsign: x/(1 + |x|). (PyTorch's <c>nn.Softsign</c>)</summary>
public sealed class Softsign : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x) =>
        e.Unary("Softsign", x.Name);

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.Softsign();
}

/// <summary>Softshrink with threshold λ. (PyTorch's <c>nn.Softshrink</c>)</summary>
/// <param name="lambd">As the functional form's argument.</param>
public sealed class Softshrink(double lambd = 0.5) : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x) =>
        e.Unary("Shrink", x.Name, ("lambd", lambd), ("bias", lambd));

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.Softshrink(lambd);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"lambd={lambd}";
}

/// <summary>Hardshrink with threshold λ. (PyTorch's <c>nn.Hardshrink</c>)</summary>
/// <param name="lambd">As the functional form's argument.</param>
public sealed class Hardshrink(double lambd = 0.5) : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x) =>
        e.Unary("Shrink", x.Name, ("lambd", lambd), ("bias", 0.0));

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.Hardshrink(lambd);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"lambd={lambd}";
}

/// <summary>Tanhshrink: x − tanh(x). (PyTorch's <c>nn.Tanhshrink</c>)</summary>
public sealed class Tanhshrink : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x) =>
        e.Node("Sub", [x.Name, e.Unary("Tanh", x.Name)]);

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.Tanhshrink();
}

/// <summary>log σ(x). (PyTorch's <c>nn.LogSigmoid</c>)</summary>
public sealed class LogSigmoid : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x) =>
        e.Unary("Neg", e.Unary("Softplus", e.Unary("Neg", x.Name)));

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.LogSigmoid();
}

/// <summary>Threshold: x where x &gt; threshold, else value. (PyTorch's <c>nn.Threshold</c>)</summary>
/// <param name="threshold">As the functional form's argument.</param>
/// <param name="value">As the functional form's argument.</param>
public sealed class Threshold(double threshold, double value) : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x) =>
        e.Node("Where", [e.Node("Greater", [x.Name, e.Scalar(threshold)]), x.Name, e.Scalar(value)]);

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.Threshold(threshold, value);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"threshold={threshold}, value={value}";
}

/// <summary>Softmin over a dim: softmax(−x). (PyTorch's <c>nn.Softmin</c>)</summary>
/// <param name="dim">As the functional form's argument.</param>
public sealed class Softmin(int dim) : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x) =>
        e.Unary("Softmax", e.Unary("Neg", x.Name), ("axis", (long)dim));

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.Softmin(dim);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"dim={dim}";
}

/// <summary>Gated linear unit over a dim. (PyTorch's <c>nn.GLU</c>)</summary>
/// <param name="dim">As the functional form's argument.</param>
public sealed class GLU(int dim = -1) : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x) =>
        e.Opset >= 18
            ? Gate(e, e.Node("Split", [x.Name], 2, ("axis", (long)dim), ("num_outputs", 2L)))
            : Gate(e, e.Node("Split", [x.Name], 2, ("axis", (long)dim)));

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.Glu(dim);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"dim={dim}";

    private static string Gate(OnnxExporter e, string[] halves) => e.Node("Mul", [halves[0], e.Unary("Sigmoid", halves[1])]);
}

/// <summary>PReLU with a learnable slope, one shared or one per channel (PyTorch's <c>nn.PReLU</c>).</summary>
public sealed class PReLU : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x)
    {
        // one slope per channel of dim 1: shape [C, 1, ..., 1] so that it broadcasts from the right
        var slope = e.Param(Weight);
        if (Weight.Numel > 1 && x.Rank > 2)
            slope = e.Node("Reshape", [slope, e.Ints([Weight.Numel, .. Enumerable.Repeat(1L, x.Rank - 2)])]);
        return e.Node("PRelu", [x.Name, slope]);
    }

    /// <summary>The slopes, shape [numParameters].</summary>
    public Parameter Weight { get; }

    /// <summary>Creates the layer with every slope at <paramref name="init"/>.</summary>
    public PReLU(int numParameters = 1, double init = 0.25, DType dtype = DType.Float32) =>
        Weight = AddParameter("weight", Tensor.Full([numParameters], init, dtype));

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.Prelu(Weight);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"num_parameters={Weight.Numel}";
}

/// <summary>Randomized leaky ReLU: random slopes in [lower, upper] in training, their mean in eval (PyTorch's <c>nn.RReLU</c>).</summary>
/// <param name="lower">Lowest slope.</param>
/// <param name="upper">Highest slope.</param>
/// <param name="generator">Where the training slopes are drawn (default <see cref="Generator.Default"/>).</param>
public sealed class RReLU(double lower = 1.0 / 8, double upper = 1.0 / 3, Generator? generator = null) : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x) =>
        e.Unary("LeakyRelu", x.Name, ("alpha", (lower + upper) / 2));

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.Rrelu(lower, upper, Training, generator);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"lower={lower}, upper={upper}";
}

// ---- loss modules (PyTorch's torch.nn loss classes) ----

/// <summary>Module form of <see cref="Losses.HuberLoss"/> (PyTorch's <c>nn.HuberLoss</c>).</summary>
/// <param name="reduction">Mean, Sum or None.</param>
/// <param name="delta">As the functional form's argument.</param>
public sealed class HuberLoss(Reduction reduction = Reduction.Mean, double delta = 1)
{
    /// <summary>The reduction.</summary>
    public Reduction Reduction { get; } = reduction;

    /// <summary>Computes the loss.</summary>
    public Tensor Forward(Tensor input, Tensor target) => Losses.HuberLoss(input, target, Reduction, delta);
}

/// <summary>Module form of <see cref="Losses.SmoothL1Loss"/> (PyTorch's <c>nn.SmoothL1Loss</c>).</summary>
/// <param name="reduction">Mean, Sum or None.</param>
/// <param name="beta">As the functional form's argument.</param>
public sealed class SmoothL1Loss(Reduction reduction = Reduction.Mean, double beta = 1)
{
    /// <summary>The reduction.</summary>
    public Reduction Reduction { get; } = reduction;

    /// <summary>Computes the loss.</summary>
    public Tensor Forward(Tensor input, Tensor target) => Losses.SmoothL1Loss(input, target, Reduction, beta);
}

/// <summary>Module form of <see cref="Losses.BinaryCrossEntropy"/> (PyTorch's <c>nn.BCELoss</c>).</summary>
/// <param name="reduction">Mean, Sum or None.</param>
/// <param name="weight">As the functional form's argument.</param>
public sealed class BCELoss(Reduction reduction = Reduction.Mean, Tensor? weight = null)
{
    /// <summary>The reduction.</summary>
    public Reduction Reduction { get; } = reduction;

    /// <summary>Computes the loss.</summary>
    public Tensor Forward(Tensor input, Tensor target) => Losses.BinaryCrossEntropy(input, target, weight, Reduction);
}

/// <summary>Module form of <see cref="Losses.SoftMarginLoss"/> (PyTorch's <c>nn.SoftMarginLoss</c>).</summary>
/// <param name="reduction">Mean, Sum or None.</param>
public sealed class SoftMarginLoss(Reduction reduction = Reduction.Mean)
{
    /// <summary>The reduction.</summary>
    public Reduction Reduction { get; } = reduction;

    /// <summary>Computes the loss.</summary>
    public Tensor Forward(Tensor input, Tensor target) => Losses.SoftMarginLoss(input, target, Reduction);
}

/// <summary>Module form of <see cref="Losses.HingeEmbeddingLoss"/> (PyTorch's <c>nn.HingeEmbeddingLoss</c>).</summary>
/// <param name="reduction">Mean, Sum or None.</param>
/// <param name="margin">As the functional form's argument.</param>
public sealed class HingeEmbeddingLoss(Reduction reduction = Reduction.Mean, double margin = 1)
{
    /// <summary>The reduction.</summary>
    public Reduction Reduction { get; } = reduction;

    /// <summary>Computes the loss.</summary>
    public Tensor Forward(Tensor input, Tensor target) => Losses.HingeEmbeddingLoss(input, target, margin, Reduction);
}

/// <summary>Module form of <see cref="Losses.MultiMarginLoss"/> (PyTorch's <c>nn.MultiMarginLoss</c>).</summary>
/// <param name="reduction">Mean, Sum or None.</param>
/// <param name="p">As the functional form's argument.</param>
/// <param name="margin">As the functional form's argument.</param>
/// <param name="weight">As the functional form's argument.</param>
public sealed class MultiMarginLoss(Reduction reduction = Reduction.Mean, int p = 1, double margin = 1, Tensor? weight = null)
{
    /// <summary>The reduction.</summary>
    public Reduction Reduction { get; } = reduction;

    /// <summary>Computes the loss.</summary>
    public Tensor Forward(Tensor input, Tensor target) => Losses.MultiMarginLoss(input, target, p, margin, weight, Reduction);
}

/// <summary>Module form of <see cref="Losses.MultilabelMarginLoss"/> (PyTorch's <c>nn.MultiLabelMarginLoss</c>).</summary>
/// <param name="reduction">Mean, Sum or None.</param>
public sealed class MultiLabelMarginLoss(Reduction reduction = Reduction.Mean)
{
    /// <summary>The reduction.</summary>
    public Reduction Reduction { get; } = reduction;

    /// <summary>Computes the loss.</summary>
    public Tensor Forward(Tensor input, Tensor target) => Losses.MultilabelMarginLoss(input, target, Reduction);
}

/// <summary>Module form of <see cref="Losses.MultilabelSoftMarginLoss"/> (PyTorch's <c>nn.MultiLabelSoftMarginLoss</c>).</summary>
/// <param name="reduction">Mean, Sum or None.</param>
/// <param name="weight">As the functional form's argument.</param>
public sealed class MultiLabelSoftMarginLoss(Reduction reduction = Reduction.Mean, Tensor? weight = null)
{
    /// <summary>The reduction.</summary>
    public Reduction Reduction { get; } = reduction;

    /// <summary>Computes the loss.</summary>
    public Tensor Forward(Tensor input, Tensor target) => Losses.MultilabelSoftMarginLoss(input, target, weight, Reduction);
}

/// <summary>Module form of <see cref="Losses.PoissonNllLoss"/> (PyTorch's <c>nn.PoissonNLLLoss</c>).</summary>
/// <param name="reduction">Mean, Sum or None.</param>
/// <param name="logInput">As the functional form's argument.</param>
/// <param name="full">As the functional form's argument.</param>
/// <param name="eps">As the functional form's argument.</param>
public sealed class PoissonNLLLoss(Reduction reduction = Reduction.Mean, bool logInput = true, bool full = false, double eps = 1e-8)
{
    /// <summary>The reduction.</summary>
    public Reduction Reduction { get; } = reduction;

    /// <summary>Computes the loss.</summary>
    public Tensor Forward(Tensor input, Tensor target) => Losses.PoissonNllLoss(input, target, logInput, full, eps, Reduction);
}

/// <summary>Module form of <see cref="Losses.GaussianNllLoss"/> (PyTorch's <c>nn.GaussianNLLLoss</c>).</summary>
/// <param name="full">Add the constant ½log 2π.</param>
/// <param name="eps">Lower bound of the variance.</param>
/// <param name="reduction">Mean, Sum or None.</param>
public sealed class GaussianNLLLoss(bool full = false, double eps = 1e-6, Reduction reduction = Reduction.Mean)
{
    /// <summary>The reduction.</summary>
    public Reduction Reduction { get; } = reduction;

    /// <summary>Computes the loss.</summary>
    public Tensor Forward(Tensor input, Tensor target, Tensor var) => Losses.GaussianNllLoss(input, target, var, full, eps, Reduction);
}

/// <summary>Module form of <see cref="Losses.TripletMarginLoss"/> (PyTorch's <c>nn.TripletMarginLoss</c>).</summary>
/// <param name="margin">The margin.</param>
/// <param name="p">The norm degree of the pairwise distance.</param>
/// <param name="eps">Added to the difference before the norm.</param>
/// <param name="swap">Use the distance swap.</param>
/// <param name="reduction">Mean, Sum or None.</param>
public sealed class TripletMarginLoss(double margin = 1, double p = 2, double eps = 1e-6, bool swap = false, Reduction reduction = Reduction.Mean)
{
    /// <summary>The reduction.</summary>
    public Reduction Reduction { get; } = reduction;

    /// <summary>Computes the loss.</summary>
    public Tensor Forward(Tensor anchor, Tensor positive, Tensor negative) => Losses.TripletMarginLoss(anchor, positive, negative, margin, p, eps, swap, Reduction);
}

/// <summary>Module form of <see cref="Losses.CosineEmbeddingLoss"/> (PyTorch's <c>nn.CosineEmbeddingLoss</c>).</summary>
/// <param name="margin">The margin for dissimilar pairs.</param>
/// <param name="reduction">Mean, Sum or None.</param>
public sealed class CosineEmbeddingLoss(double margin = 0, Reduction reduction = Reduction.Mean)
{
    /// <summary>The reduction.</summary>
    public Reduction Reduction { get; } = reduction;

    /// <summary>Computes the loss.</summary>
    public Tensor Forward(Tensor input1, Tensor input2, Tensor target) => Losses.CosineEmbeddingLoss(input1, input2, target, margin, Reduction);
}

/// <summary>Module form of <see cref="Losses.MarginRankingLoss"/> (PyTorch's <c>nn.MarginRankingLoss</c>).</summary>
/// <param name="margin">The margin.</param>
/// <param name="reduction">Mean, Sum or None.</param>
public sealed class MarginRankingLoss(double margin = 0, Reduction reduction = Reduction.Mean)
{
    /// <summary>The reduction.</summary>
    public Reduction Reduction { get; } = reduction;

    /// <summary>Computes the loss.</summary>
    public Tensor Forward(Tensor input1, Tensor input2, Tensor target) => Losses.MarginRankingLoss(input1, input2, target, margin, Reduction);
}
