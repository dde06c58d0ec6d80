namespace Fluxion;

/// <summary>The reverse-mode entry points and grad-mode scopes.</summary>
public static class Autograd
{
    /// <summary>Whether operations on this thread are recorded for backward.</summary>
    public static bool IsGradEnabled => GradMode.Enabled;

    /// <summary>Turns recording off on this thread until the scope is disposed:
    /// <c>using (Autograd.NoGrad()) { ... }</c>.</summary>
    public static GradModeScope NoGrad() => new(false);

    /// <summary>Turns recording on on this thread until the scope is disposed (e.g. inside a NoGrad block).</summary>
    public static GradModeScope EnableGrad() => new(true);

    /// <summary>Sets grad mode on this thread until the scope is disposed.</summary>
    public static GradModeScope SetGradEnabled(bool enabled) => new(enabled);

    /// <summary>
    /// Computes the gradients of <paramref name="outputs"/> with respect to <paramref name="inputs"/>
    /// and returns them (nothing is accumulated into <see cref="Tensor.Grad"/>).
    /// </summary>
    /// <param name="outputs">The differentiated tensors.</param>
    /// <param name="inputs">The tensors to differentiate with respect to; each must require grad.</param>
    /// <param name="gradOutputs">The vector in the vector-Jacobian product, one per output; may be
    /// omitted (or contain null) for scalar outputs, which are seeded with 1.</param>
    /// <param name="retainGraph">Keep the graph's saved tensors for another backward pass.
    /// Defaults to <paramref name="createGraph"/>.</param>
    /// <param name="createGraph">Record the backward pass so the result can be differentiated again.</param>
    /// <param name="allowUnused">Return null for inputs the outputs do not depend on instead of throwing.</param>
    public static Tensor?[] Grad(Tensor[] outputs, Tensor[] inputs, Tensor?[]? gradOutputs = null,
        bool? retainGraph = null, bool createGraph = false, bool allowUnused = false)
    {
        var seeds = Seeds("Autograd.Grad", outputs, gradOutputs);
        return Engine.Run(outputs, seeds, retainGraph ?? createGraph, createGraph, inputs, allowUnused)!;
    }

    /// <summary>Gradient of one output with respect to one input (see the array overload).</summary>
    public static Tensor Grad(Tensor output, Tensor input, Tensor? gradOutput = null,
        bool? retainGraph = null, bool createGraph = false)
        => Grad([output], [input], [gradOutput], retainGraph, createGraph, allowUnused: false)[0]!;

    /// <summary>Backward from several outputs at once, accumulating into leaves' <see cref="Tensor.Grad"/>.</summary>
    public static void Backward(Tensor[] outputs, Tensor?[]? gradOutputs = null, bool? retainGraph = null, bool createGraph = false)
    {
        var seeds = Seeds("Backward", outputs, gradOutputs);
        Engine.Run(outputs, seeds, retainGraph ?? createGraph, createGraph, null, false);
    }

    /// <summary>
    /// Inside this scope the backward pass checks every gradient it computes; the first step that
    /// produces NaN or Inf raises an error naming the op and where it was created.
    /// </summary>
    public static AnomalyScope DetectAnomaly() => new(true);

    private static Tensor[] Seeds(string op, Tensor[] outputs, Tensor?[]? gradOutputs)
    {
        if (gradOutputs is not null && gradOutputs.Length != outputs.Length)
            throw new AutogradException($"{op}: {outputs.Length} outputs but {gradOutputs.Length} gradOutputs; pass one gradient per output.");
        var seeds = new Tensor[outputs.Length];
        for (int i = 0; i < outputs.Length; i++)
        {
            var o = outputs[i];
            if (!o.RequiresGrad)
                throw new AutogradException(
                    $"{op}: output {i} (shape {ShapeUtil.Format(o.Shape)}) does not require grad and has no GradFn, so there is nothing to differentiate. " +
                    "Set RequiresGrad = true on the inputs before computing it, and check that it was not computed inside Autograd.NoGrad().");
            var g = gradOutputs?[i];
            if (g is null)
            {
                if (o.Numel != 1)
                    throw new AutogradException(
                        $"{op}: grad can be implicitly created only for scalar outputs, but output {i} has shape {ShapeUtil.Format(o.Shape)}. " +
                        "Pass a gradient of the same shape (Backward(seed)), or reduce the output first (e.g. y.Sum().Backward()).");
                g = Tensor.OnesLike(o);
            }
            else
            {
                if (!ShapeUtil.SameShape(g.Shape, o.Shape))
                    throw new ShapeMismatchException($"{op}: the gradient for output {i} has shape {ShapeUtil.Format(g.Shape)} but the output has shape {ShapeUtil.Format(o.Shape)}; they must match.");
                Tensor.CheckSameDType(op, o, g);
            }
            seeds[i] = g;
        }
        return seeds;
    }
}

/// <summary>A scope that restores the previous anomaly-detection mode when disposed.</summary>
public readonly struct AnomalyScope : IDisposable
{
    private readonly bool _previous;

    internal AnomalyScope(bool enabled)
    {
        _previous = Anomaly.Enabled;
        Anomaly.Enabled = enabled;
    }

    /// <summary>Restores the previous mode.</summary>
    public void Dispose() => Anomaly.Enabled = _previous;
}

public partial class Tensor
{
    /// <summary>
    /// Computes the gradient of this scalar with respect to the graph leaves and accumulates it into
    /// their <see cref="Grad"/>. Non-scalars need a seed: <see cref="Backward(Tensor, bool?, bool)"/>.
    /// </summary>
    public void Backward() => Autograd.Backward([this]);

    /// <summary>
    /// Backward pass seeded with <paramref name="gradient"/> (same shape as this tensor): accumulates
    /// the vector-Jacobian product into the leaves' <see cref="Grad"/>.
    /// </summary>
    /// <param name="gradient">The seed; null means 1 (scalars only).</param>
    /// <param name="retainGraph">Keep the saved tensors for another backward pass.</param>
    /// <param name="createGraph">Record the backward pass, for higher-order derivatives.</param>
    public void Backward(Tensor? gradient, bool? retainGraph = null, bool createGraph = false)
        => Autograd.Backward([this], [gradient], retainGraph, createGraph);

    /// <summary>Backward of a scalar with options (see <see cref="Backward(Tensor, bool?, bool)"/>).</summary>
    public void Backward(bool retainGraph, bool createGraph = false)
        => Autograd.Backward([this], null, retainGraph, createGraph);
}
