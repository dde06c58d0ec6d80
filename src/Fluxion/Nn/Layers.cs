using Fluxion.IO;

namespace Fluxion.Nn;

/// <summary>Initialization helpers with PyTorch's defaults.</summary>
public static class Init
{
    /// <summary>Uniform in [-bound, bound].</summary>
    public static Tensor Uniform(int[] shape, double bound, DType dtype = DType.Float32, Generator? generator = null) =>
        Tensor.Uniform(shape, -bound, bound, dtype, generator);

    /// <summary>PyTorch's default for Linear/Conv weights: kaiming_uniform(a = sqrt 5), i.e. U(±1/sqrt(fanIn)).</summary>
    public static Tensor KaimingUniformDefault(int[] shape, int fanIn, DType dtype = DType.Float32, Generator? generator = null) =>
        Uniform(shape, fanIn > 0 ? 1 / Math.Sqrt(fanIn) : 0, dtype, generator);

    /// <summary>
    /// PyTorch's xavier_uniform_ (gain 1): U(±√(6 / (fanIn + fanOut))) with fanIn = shape[1]·receptive field and
    /// fanOut = shape[0]·receptive field (receptive field = the product of the dims after the second).
    /// </summary>
    public static Tensor XavierUniform(int[] shape, DType dtype = DType.Float32, Generator? generator = null)
    {
        if (shape.Length < 2) throw new ArgumentException($"Init.XavierUniform: needs at least 2 dims, got {ShapeUtil.Format(shape)}.", nameof(shape));
        long field = 1;
        for (int i = 2; i < shape.Length; i++) field *= shape[i];
        double fanIn = shape[1] * (double)field, fanOut = shape[0] * (double)field;
        return Uniform(shape, fanIn + fanOut > 0 ? Math.Sqrt(6 / (fanIn + fanOut)) : 0, dtype, generator);
    }
}

/// <summary>y = x Wᵀ + b, with W of shape [out, in] (PyTorch's layout and initialization).</summary>
public sealed class Linear : Module, IFusedRelu, IOnnxExportable
{
    /// <summary>Weight, shape [outFeatures, inFeatures].</summary>
    public Parameter Weight { get; }

    /// <summary>Bias, shape [outFeatures], or null.</summary>
    public Parameter? Bias { get; }

    /// <summary>Input width.</summary>
    public int InFeatures { get; }

    /// <summary>Output width.</summary>
    public int OutFeatures { get; }

    /// <summary>Creates the layer with U(±1/sqrt(in)) weights and bias, as PyTorch.</summary>
    public Linear(int inFeatures, int outFeatures, bool bias = true, DType dtype = DType.Float32, Generator? generator = null)
    {
        if (inFeatures <= 0 || outFeatures <= 0)
            throw new ArgumentException($"Linear: inFeatures and outFeatures must be positive, got {inFeatures} and {outFeatures}.");
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        (Weight, Bias) = AddWeightAndBias([outFeatures, inFeatures], inFeatures, outFeatures, bias, dtype, generator);
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        CheckInput(input);
        return Tensor.Linear(input, Weight, Bias);
    }

    /// <summary>relu(Forward(input)) in one fused op (used by <see cref="Sequential"/> for a Linear followed by a ReLU).</summary>
    Tensor IFusedRelu.ForwardRelu(Tensor input)
    {
        CheckInput(input);
        return Tensor.LinearRelu(input, Weight, Bias);
    }

    private void CheckInput(Tensor input)
    {
        if (input.Rank == 0 || input.Size(-1) != InFeatures)
            throw new ShapeMismatchException($"Linear({InFeatures}, {OutFeatures}): the input's last dim must be {InFeatures}, but the input has shape {ShapeUtil.Format(input.Shape)}.");
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"in_features={InFeatures}, out_features={OutFeatures}, bias={(Bias is not null ? "True" : "False")}";

    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x) => e.Linear(x, Weight, Bias);
}

/// <summary>A layer that can apply a following ReLU inside its own op (<see cref="Sequential"/>'s peephole).</summary>
internal interface IFusedRelu
{
    /// <summary>relu(Forward(input)) as one fused op.</summary>
    Tensor ForwardRelu(Tensor input);
}

/// <summary>Runs modules one after another; children are named "0", "1", ...</summary>
public sealed class Sequential : Module, IOnnxExportable
{
    private readonly Module[] _layers;

    /// <summary>Chains <paramref name="layers"/>.</summary>
    public Sequential(params Module[] layers)
    {
        _layers = layers;
        for (int i = 0; i < layers.Length; i++) RegisterModule(i.ToString(), layers[i]);
    }

    /// <summary>The layers in order.</summary>
    public IReadOnlyList<Module> Layers => _layers;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        var x = input;
        for (int i = 0; i < _layers.Length; i++)
        {
            try
            {
                // Linear or Conv2d then ReLU: one fused op (bias and ReLU applied on the product's output, one masked backward)
                if (_layers[i] is IFusedRelu fused && i + 1 < _layers.Length && _layers[i + 1] is ReLU)
                {
                    x = fused.ForwardRelu(x);
                    i++;
                }
                else x = _layers[i].Forward(x);
            }
            catch (FluxionException e) when (WithPosition(e, i, x) is { } located)
            {
                throw located;
            }
        }
        return x;
    }

    /// <summary>The error <paramref name="e"/> of layer <paramref name="i"/>, of the same type, its message prefixed with
    /// the layer's position, description and input shape (null when the type cannot be rebuilt: then it passes unchanged).</summary>
    private Exception? WithPosition(FluxionException e, int i, Tensor input)
    {
        var layer = _layers[i];
        var what = layer is Sequential ? "Sequential" : layer.ToString();
        var message = $"Sequential: layer {i} of {_layers.Length}, {what}, input {ShapeUtil.Format(input.Shape)}: {e.Message}";
        var ctor = e.GetType().GetConstructor([typeof(string), typeof(Exception)]);
        return ctor?.Invoke([message, e]) as Exception;
    }

    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x)
    {
        foreach (var layer in _layers) x = e.Emit(layer, x);
        return x.Name;
    }
}

/// <summary>Elementwise max(x, 0).</summary>
public sealed class ReLU : Module, IOnnxExportable
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.Relu();

    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x) => e.Unary("Relu", x.Name);
}

/// <summary>Elementwise leaky ReLU.</summary>
public sealed class LeakyReLU(double negativeSlope = 0.01) : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x) => e.Unary("LeakyRelu", x.Name, ("alpha", negativeSlope));

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.LeakyRelu(negativeSlope);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"negative_slope={negativeSlope}";
}

/// <summary>Elementwise GELU (exact, or the tanh approximation).</summary>
/// <param name="approximate">Which form (as PyTorch's <c>approximate</c>).</param>
public sealed class GELU(GeluApproximation approximate = GeluApproximation.None) : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x)
    {
        // opset 17 has no Gelu: 0.5·x·(1 + erf(x/√2)), or 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
        string inner = approximate == GeluApproximation.Tanh
            ? e.Unary("Tanh", e.Node("Mul", [e.Node("Add", [x.Name, e.Node("Mul", [e.Node("Mul", [e.Node("Mul", [x.Name, x.Name]), x.Name]), e.Scalar(0.044715)])]), e.Scalar(Math.Sqrt(2 / Math.PI))]))
            : e.Unary("Erf", e.Node("Div", [x.Name, e.Scalar(Math.Sqrt(2))]));
        return e.Node("Mul", [e.Node("Mul", [x.Name, e.Scalar(0.5)]), e.Node("Add", [inner, e.Scalar(1)])]);
    }

    /// <summary>GELU with PyTorch's mode string ("none" or "tanh").</summary>
    [Obsolete("Use GELU(GeluApproximation).")]
    public GELU(string approximate) : this(approximate switch
    {
        "none" => GeluApproximation.None,
        "tanh" => GeluApproximation.Tanh,
        _ => throw new ArgumentException($"GELU: approximate must be \"none\" or \"tanh\", got \"{approximate}\"."),
    }) { }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.Gelu(approximate);

    /// <inheritdoc/>
    protected override string ExtraRepr() => approximate == GeluApproximation.Tanh ? "approximate='tanh'" : "";
}

/// <summary>Elementwise tanh.</summary>
public sealed class Tanh : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x) => e.Unary("Tanh", x.Name);

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.Tanh();
}

/// <summary>Elementwise logistic sigmoid.</summary>
public sealed class Sigmoid : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x) => e.Unary("Sigmoid", x.Name);

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.Sigmoid();
}

/// <summary>Softmax over <paramref name="dim"/>.</summary>
public sealed class Softmax(int dim) : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x) => e.Unary("Softmax", x.Name, ("axis", (long)dim));

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.Softmax(dim);
}

/// <summary>Flattens dims startDim..endDim (by default all but the batch dim).</summary>
public sealed class Flatten(int startDim = 1, int endDim = -1) : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x) => e.ReshapeBatch(x.Name, x.Sample.Flatten(startDim, endDim).ShapeArray);

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.Flatten(startDim, endDim);
}

/// <summary>
/// Zeroes each element with probability p during training and scales the rest by 1/(1-p); the
/// identity in eval mode. Draws from <see cref="Generator.Default"/> (or the given generator), so
/// checkpoint recomputation that restores the generator state reproduces the same mask.
/// </summary>
public sealed class Dropout : Module, IOnnxExportable
{
    private readonly Generator? _generator;

    /// <summary>Drop probability.</summary>
    public double P { get; }

    /// <summary>Creates the layer.</summary>
    public Dropout(double p = 0.5, Generator? generator = null)
    {
        P = CheckP("Dropout", p);
        _generator = generator;
    }

    /// <summary>Returns <paramref name="p"/>, or throws unless it is in [0, 1] (the message names <paramref name="layer"/>).</summary>
    internal static double CheckP(string layer, double p) =>
        p < 0 || p > 1 ? throw new ArgumentException($"{layer}: p must be in [0, 1], got {p}.") : p;

    /// <summary>The dropout multiplier for <paramref name="x"/> (p &lt; 1): 1/(1 − p) where a uniform draw is ≥ p, else 0.</summary>
    internal static Tensor Scale(Tensor x, double p, Generator? generator) =>
        Tensor.Where(Tensor.Rand(x.ShapeArray, x.DType, generator).Ge(p), 1.0 / (1 - p), 0.0, x.DType);

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        if (!Training || P == 0) return input;
        if (P == 1) return input * 0.0;
        return input * Scale(input, P, _generator);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"p={P}";

    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x) => e.Unary("Identity", x.Name);
}
