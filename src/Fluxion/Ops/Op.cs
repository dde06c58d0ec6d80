namespace Fluxion;

/// <summary>A vector-Jacobian product for one input: maps the output's gradient to that input's gradient.</summary>
internal delegate Tensor Vjp(Tensor gradOutput);

/// <summary>A Jacobian-vector product: maps the inputs' tangents (null where zero) to the output's tangent.</summary>
internal delegate Tensor? Jvp(Tensor?[] tangents);

/// <summary>
/// Records differentiable primitives. Every op computes its value with kernels and then calls
/// <see cref="Record"/> with one VJP per input and its JVP, side by side: the single place where
/// the op's derivatives live. VJPs are written with tensor ops, so a backward pass run with
/// createGraph records a graph of its own and higher derivatives follow.
/// </summary>
internal static class Op
{
    /// <summary>True when the op must be recorded: grad mode is on and some input requires grad,
    /// or a forward-AD level is active and some input carries a tangent.</summary>
    public static bool Tracking(Tensor a) => (a.RequiresGrad && GradMode.Enabled) || (a.HasTangents && ForwardLevels.ActiveCount > 0);

    /// <inheritdoc cref="Tracking(Tensor)"/>
    public static bool Tracking(Tensor a, Tensor b) => Tracking(a) || Tracking(b);

    /// <inheritdoc cref="Tracking(Tensor)"/>
    public static bool Tracking(ReadOnlySpan<Tensor> inputs)
    {
        foreach (var t in inputs) if (Tracking(t)) return true;
        return false;
    }

    /// <summary>True when grad mode is on and some input requires grad (a node must be recorded).</summary>
    internal static bool ReverseTracking(Tensor[] inputs)
    {
        if (!GradMode.Enabled) return false;
        foreach (var t in inputs) if (t.RequiresGrad) return true;
        return false;
    }

    /// <summary>Tensors requiring grad reported by recording ops while an input collection is active (see <see cref="CollectInputs"/>).</summary>
    [ThreadStatic] private static List<Tensor>? t_collected;

    /// <summary>
    /// Starts an input collection on this thread (used by checkpointing): until the scope is disposed,
    /// ops that would record a node record nothing and instead report their inputs that require grad
    /// to <paramref name="sink"/>. Scopes nest; the innermost one receives the inputs.
    /// </summary>
    internal static CollectScope CollectInputs(List<Tensor> sink) => new(sink);

    /// <summary>Restores the previous input collection when disposed.</summary>
    internal readonly struct CollectScope : IDisposable
    {
        private readonly List<Tensor>? _previous;

        public CollectScope(List<Tensor> sink)
        {
            _previous = t_collected;
            t_collected = sink;
        }

        public void Dispose() => t_collected = _previous;
    }

    /// <summary>During an input collection: reports <paramref name="inputs"/> that require grad and returns true
    /// (the caller must then not record a node). Otherwise returns false.</summary>
    internal static bool TryCollect(Tensor[] inputs)
    {
        if (t_collected is not { } sink) return false;
        foreach (var t in inputs) if (t.RequiresGrad) sink.Add(t);
        return true;
    }

    /// <summary>
    /// Forward mode: for every active level at which some input has a tangent, computes the output's
    /// tangent with the op's JVP rule. The level (and inner ones) is suspended meanwhile, so the rule's
    /// own ops propagate only outer levels' tangents: nesting without perturbation confusion.
    /// </summary>
    private static void PropagateTangents(string name, Tensor output, Tensor[] inputs, Jvp? jvp)
    {
        if (ForwardLevels.ActiveCount == 0) return;
        PropagateTangents(name, [output], inputs, jvp is null ? null : t => [jvp(t)]);
    }

    /// <summary>
    /// Multi-output form of forward-mode propagation: <paramref name="jvp"/> maps the inputs' tangents
    /// (null where zero) to one tangent per output (null where zero); <paramref name="outputs"/>[o] is
    /// null for an output that takes no tangent (non-differentiable).
    /// </summary>
    internal static void PropagateTangents(string name, Tensor?[] outputs, Tensor[] inputs, Func<Tensor?[], Tensor?[]>? jvp)
    {
        int active = ForwardLevels.ActiveCount;
        if (active == 0) return;
        bool any = false;
        foreach (var t in inputs) any |= t.HasTangents;
        if (!any) return;
        var stack = ForwardLevels.Stack;
        for (int k = 0; k < active; k++)
        {
            int level = stack[k].Id;
            var tangents = new Tensor?[inputs.Length];
            bool has = false;
            for (int i = 0; i < inputs.Length; i++)
            {
                tangents[i] = inputs[i].TangentAt(level);
                has |= tangents[i] is not null;
            }
            if (!has) continue;
            if (jvp is null)
                throw new AutogradException($"{name}: this op has no forward-mode (JVP) rule, so it cannot be used on dual tensors. Give it one (CustomFunction.Jvp for custom ops) or compute this part outside ForwardAD.");
            Tensor?[] tOut;
            using (ForwardLevels.Suspend(k)) tOut = jvp(tangents);
            if (tOut.Length != outputs.Length)
                throw new AutogradException($"{name}: the JVP rule returned {tOut.Length} tangents for {outputs.Length} outputs; return one tangent (or null) per output.");
            for (int o = 0; o < outputs.Length; o++)
            {
                if (outputs[o] is not { } output || tOut[o] is not { } t) continue;
                if (!ShapeUtil.SameShape(t.Shape, output.Shape))
                    throw new AutogradException($"{name}: the JVP rule returned a tangent of shape {ShapeUtil.Format(t.Shape)} for {(outputs.Length == 1 ? "an output" : $"output {o}")} of shape {ShapeUtil.Format(output.Shape)}.");
                output.SetTangent(level, t);
            }
        }
    }

    /// <summary>
    /// Attaches <paramref name="output"/> to a new node when grad mode is on and an input requires grad.
    /// <paramref name="vjps"/>[i] is only called when input i needs a gradient.
    /// <paramref name="save"/> lists the tensors the VJPs read, so in-place changes to them are caught.
    /// <paramref name="jvp"/> is the forward-mode rule (used by forward-mode AD).
    /// </summary>
    public static Tensor Record(string name, Tensor output, Tensor[] inputs, Vjp?[] vjps, Jvp? jvp = null, Tensor[]? save = null)
    {
        PropagateTangents(name, output, inputs, jvp);
        if (!ReverseTracking(inputs) || TryCollect(inputs)) return output;
        var next = new Edge?[inputs.Length];
        var shapes = new int[inputs.Length][];
        for (int i = 0; i < inputs.Length; i++)
        {
            var t = inputs[i];
            shapes[i] = t.ShapeRef;
            if (!t.RequiresGrad || vjps[i] is null) continue;
            next[i] = t.IsLeaf ? new Edge(AccumulateGrad.For(t), 0) : new Edge(t.GradFn!, t.OutputIndex);
        }
        var saved = save is null ? [] : Array.ConvertAll(save, s => new SavedTensor(s, s.Version));
        BackwardFn backward = (grads, needs) =>
        {
            var result = new Tensor?[vjps.Length];
            for (int i = 0; i < vjps.Length; i++)
                if (needs[i]) result[i] = vjps[i]!(grads[0]);
            return result;
        };
        var node = new Node(name + "Backward", next, shapes, [(output.ShapeRef, output.DType)], backward, saved);
        if (Anomaly.Enabled) node.ForwardTrace = Environment.StackTrace;
        output.SetGradFn(node, 0);
        return output;
    }

    /// <summary>Reduces a broadcast gradient back to <paramref name="shape"/> by summing the broadcast dims.</summary>
    public static Tensor SumTo(Tensor g, ReadOnlySpan<int> shape) => g.SumTo(shape);
}

/// <summary>Anomaly detection switch (see <see cref="Autograd.DetectAnomaly"/>).</summary>
internal static class Anomaly
{
    [ThreadStatic] public static bool Enabled;
}
