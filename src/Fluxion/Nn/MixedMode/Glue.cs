namespace Fluxion.Nn.MixedMode;

/// <summary>
/// Starts a forward-mode section: hands a plain tensor (data, or the output of reverse-mode layers) to
/// forward-mode layers. When the input requires grad, it becomes a "parameter" of the section: in
/// <see cref="ForwardMode.Exact"/> mode (the default) it contributes one basis direction per element of a
/// sample, shared by all samples (tangent block eye(D) as [D, 1, ...sample]; valid since forward-mode
/// layers never mix samples), so the carried tangents hold each sample's Jacobian wrt its input; in the
/// random modes it contributes k random directions per sample. The gradient wrt the input then reaches
/// the reverse-mode layers before it when the section's <see cref="Fwd2Rev"/> (or forward-mode loss) is
/// differentiated. With grad mode off (inference) only primal values flow through the section.
/// </summary>
public sealed class Rev2Fwd : Module
{
    /// <summary>Creates the glue; <paramref name="mode"/> says how the input is differentiated (default Exact).</summary>
    public Rev2Fwd(ForwardMode? mode = null, Generator? generator = null)
    {
        Mode = mode ?? ForwardMode.Exact;
        DirectionGenerator = generator;
    }

    /// <summary>How the input is differentiated when it requires grad.</summary>
    public ForwardMode Mode { get; set; }

    /// <summary>Generator for random directions (default: the thread's default generator).</summary>
    public Generator? DirectionGenerator { get; set; }

    /// <summary>The carrier of a mixed tensor whose primal is <paramref name="input"/>.</summary>
    public override Tensor Forward(Tensor input)
    {
        const string name = "MixedMode.Rev2Fwd";
        if (MixedTensor.Of(input) is not null)
            throw new AutogradException($"{name}: the input (shape {ShapeUtil.Format(input.Shape)}) is already a forward-mode tensor; remove this Rev2Fwd (forward-mode layers can follow each other directly).");
        if (input.Rank == 0)
            throw new ShapeMismatchException($"{name}: the input must be batched (dim 0 is the batch), got a 0-d tensor.");
        input.CheckFloat(name);
        bool tracking = GradMode.Enabled;
        Tensor primal;
        using (Autograd.NoGrad()) primal = input.Detach();
        if (!tracking || !input.RequiresGrad)
            return new MixedTensor(primal, null, [], tracking).ToCarrier(name);
        MixedTensor m;
        using (Autograd.NoGrad())
        {
            if (!Mode.IsRandom)
            {
                int d = input.Numel / Math.Max(input.Size(0), 1);
                var tangent = Tensor.Eye(d, dtype: input.DType).Reshape([d, 1, .. input.ShapeArray[1..]]);
                m = new MixedTensor(primal, tangent, [new ExactInputGroup(0, input)], true);
            }
            else
            {
                var v = Mode.SamplePerSample(input.ShapeArray, input.DType, DirectionGenerator);
                m = new MixedTensor(primal, v, [new RandomGroup(0, Mode.Tangents, [new RandomBlock(input, () => v, true, name)])], true);
            }
        }
        return m.ToCarrier(name);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"mode={Mode}";
}

/// <summary>
/// Ends a forward-mode section: hands its output to ordinary reverse-mode layers. The result is the
/// primal, attached to one node whose backward, given the incoming gradient G, contracts the carried
/// tangents with it (tₖ = ⟨G, Tₖ⟩, one matrix product) and turns them into the gradient of every
/// forward-mode parameter (exact, or the random-direction estimate) and of the section's input
/// (<see cref="Rev2Fwd"/>), so the reverse-mode layers before the section get theirs too.
/// </summary>
public sealed class Fwd2Rev : Module
{
    /// <summary>The primal of the mixed tensor carried by <paramref name="input"/>, differentiable in reverse mode.</summary>
    public override Tensor Forward(Tensor input)
    {
        const string name = "MixedMode.Fwd2Rev";
        var m = MixedTensor.Of(input) ?? throw new AutogradException(
            $"{name}: the input (shape {ShapeUtil.Format(input.Shape)}) carries no forward-mode tangents: it is not the output of a forward-mode layer " +
            "(or of Rev2Fwd). Fwd2Rev goes after the last forward-mode layer of a section; remove it here, or make the layers before it " +
            "forward-mode ones (Fluxion.Nn.MixedMode) with a Rev2Fwd in front of them.");
        if (m.IsLoss)
            throw new AutogradException($"{name}: the input is the output of a forward-mode loss, which is already differentiable: call loss.Backward() on it directly.");
        Tensor value;
        using (Autograd.NoGrad()) value = m.Primal.Detach();
        if (!m.Tracking || m.Tangent is null) return value;
        return m.AttachGradients(value, g =>
        {
            using (Autograd.NoGrad()) return m.Contract(g);
        });
    }
}

/// <summary>The shared machinery of the forward-mode losses.</summary>
internal static class ForwardLoss
{
    /// <summary>
    /// The loss of the forward-mode output <paramref name="input"/>. Its directional derivatives
    /// tₖ = ⟨∂L/∂y, Tₖ⟩ are computed right away (∂L/∂y from the loss's own derivative rule, a function
    /// of the final activation only), so the gradients are known when the forward pass ends; the returned
    /// scalar's <c>Backward()</c> only writes them (no data-flow reversal through the network).
    /// </summary>
    public static Tensor Apply(string name, Tensor input, Tensor target, Reduction reduction, Func<Tensor, Tensor, Tensor> loss)
    {
        var m = MixedTensor.Require(input, name);
        if (reduction is not (Reduction.Mean or Reduction.Sum))
            throw new ArgumentException($"{name}: reduction {reduction} gives no scalar loss to differentiate; forward-mode losses need Reduction.Mean or Reduction.Sum (or end the section with Fwd2Rev and use a reverse-mode loss).");
        if (!m.Tracking || m.Tangent is null)
        {
            using (Autograd.NoGrad()) return loss(m.Primal, target);
        }
        Tensor l, g;
        using (Autograd.EnableGrad())
        {
            var y = m.Primal.Detach().RequiresGrad_();
            l = loss(y, target);
            g = Autograd.Grad(l, y);
        }
        Tensor t;
        Tensor? tps;
        using (Autograd.NoGrad()) (t, tps) = m.Contract(g);
        var value = l.Detach();
        var lm = new MixedTensor(value, t, m.Groups, true) { PerSampleTangent = tps, IsLoss = true };
        var result = lm.AttachGradients(value, G =>
        {
            using (Autograd.NoGrad()) return (t * G, tps is null ? null : tps * G);
        });
        lm.Register(result);
        return result;
    }
}

/// <summary>
/// Forward-mode mean squared error (as <see cref="Nn.MSELoss"/>, reductions Mean and Sum). Ends a
/// forward-mode section: the returned scalar holds the loss, and its <c>Backward()</c> writes the
/// gradients already obtained from the tangents (a network entirely in forward mode trains this way).
/// </summary>
public sealed class MSELoss(Reduction reduction = Reduction.Mean)
{
    /// <summary>The reduction.</summary>
    public Reduction Reduction { get; } = reduction;

    /// <summary>The loss of the forward-mode output <paramref name="input"/> against <paramref name="target"/>.</summary>
    public Tensor Forward(Tensor input, Tensor target) =>
        ForwardLoss.Apply("MixedMode.MSELoss", input, target, Reduction, (y, t) => Losses.MseLoss(y, t, Reduction));
}

/// <summary>
/// Forward-mode cross entropy (as <see cref="Nn.CrossEntropyLoss"/>: class indices or probabilities,
/// weights, ignore index, label smoothing; reductions Mean and Sum). Ends a forward-mode section
/// like <see cref="MSELoss"/>.
/// </summary>
public sealed class CrossEntropyLoss(Reduction reduction = Reduction.Mean, Tensor? weight = null, int ignoreIndex = Losses.DefaultIgnoreIndex, double labelSmoothing = 0)
{
    /// <summary>The reduction.</summary>
    public Reduction Reduction { get; } = reduction;

    /// <summary>Per-class weights [C], or null.</summary>
    public Tensor? Weight { get; } = weight;

    /// <summary>Class-index targets equal to this are ignored.</summary>
    public int IgnoreIndex { get; } = ignoreIndex;

    /// <summary>Label smoothing ε.</summary>
    public double LabelSmoothing { get; } = labelSmoothing;

    /// <summary>The loss of the forward-mode logits <paramref name="logits"/> against <paramref name="target"/>.</summary>
    public Tensor Forward(Tensor logits, Tensor target) =>
        ForwardLoss.Apply("MixedMode.CrossEntropyLoss", logits, target, Reduction,
            (y, t) => Losses.CrossEntropy(y, t, Reduction, Weight, IgnoreIndex, LabelSmoothing));
}
