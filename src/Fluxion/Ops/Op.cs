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
        foreach (var t in inputs)
            if (t.RequiresGrad) return GradMode.Enabled;
        return false;
    }

    /// <inheritdoc cref="ReverseTracking(Tensor[])"/>
    internal static bool ReverseTracking(Tensor a, Tensor b) => (a.RequiresGrad || b.RequiresGrad) && GradMode.Enabled;

    /// <summary>Largest gradient the fused first-order backward of elementwise ops handles with its scalar loop
    /// (where per-op overhead dominates); bigger ones use the vectorized tensor ops.</summary>
    public const int RawMaxNumel = 1024;

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

    /// <inheritdoc cref="TryCollect(Tensor[])"/>
    internal static bool TryCollect(Tensor a, Tensor b)
    {
        if (t_collected is not { } sink) return false;
        if (a.RequiresGrad) sink.Add(a);
        if (b.RequiresGrad) sink.Add(b);
        return true;
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
    private static void PropagateTangents(string name, Tensor output, Tensor[] inputs, Jvp? jvp, bool batched)
    {
        // a tensor carries tangents only while a level is active: test the inputs (fields) before the thread-static level stack
        bool any = false;
        foreach (var t in inputs) any |= t.HasTangents;
        if (!any || ForwardLevels.ActiveCount == 0) return;
        PropagateTangents(name, [output], inputs, jvp is null ? null : t => [jvp(t)], batched);
    }

    /// <summary>
    /// Multi-output form of forward-mode propagation: <paramref name="jvp"/> maps the inputs' tangents
    /// (null where zero) to one tangent per output (null where zero); <paramref name="outputs"/>[o] is
    /// null for an output that takes no tangent (non-differentiable).
    /// <para>Vector forward mode: at a level whose duals carry k tangents at once (tangent shape
    /// [k, ...primal shape]), a rule declared <paramref name="batched"/> receives the [k, ...] tangents and
    /// computes all k directions in one call (it must treat the leading dim as a batch: negative dims,
    /// shapes prefixed with the batch, broadcasting aligned with <see cref="Tensor.AlignTangent"/>).
    /// Other rules are applied per direction and the results stacked.</para>
    /// </summary>
    internal static void PropagateTangents(string name, Tensor?[] outputs, Tensor[] inputs, Func<Tensor?[], Tensor?[]>? jvp, bool batched = false)
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
            int? batch = stack[k].BatchSize;
            Tensor?[] tOut;
            using (ForwardLevels.Suspend(k))
                tOut = batch is { } kb && !batched ? PerDirection(name, outputs, tangents, jvp, kb) : jvp(tangents);
            if (tOut.Length != outputs.Length)
                throw new AutogradException($"{name}: the JVP rule returned {tOut.Length} tangents for {outputs.Length} outputs; return one tangent (or null) per output.");
            for (int o = 0; o < outputs.Length; o++)
            {
                if (outputs[o] is not { } output || tOut[o] is not { } t) continue;
                bool ok = batch is { } kb2
                    ? t.Rank == output.Rank + 1 && t.Shape[0] == kb2 && ShapeUtil.SameShape(t.Shape[1..], output.Shape)
                    : ShapeUtil.SameShape(t.Shape, output.Shape);
                if (!ok)
                    throw new AutogradException($"{name}: the JVP rule returned a tangent of shape {ShapeUtil.Format(t.Shape)} for {(outputs.Length == 1 ? "an output" : $"output {o}")} of shape {ShapeUtil.Format(output.Shape)}" +
                        (batch is { } kb3 ? $" (vector forward mode: expected [{kb3}, ...output shape])." : "."));
                output.SetTangent(level, t);
            }
        }
    }

    /// <summary>Vector-mode fallback for rules not declared batched: one call per direction, results stacked.</summary>
    private static Tensor?[] PerDirection(string name, Tensor?[] outputs, Tensor?[] tangents, Func<Tensor?[], Tensor?[]> jvp, int k)
    {
        var perOutput = new List<Tensor>?[outputs.Length];
        for (int j = 0; j < k; j++)
        {
            var tj = Array.ConvertAll(tangents, t => t?.Select(0, j));
            var r = jvp(tj);
            if (r.Length != outputs.Length)
                throw new AutogradException($"{name}: the JVP rule returned {r.Length} tangents for {outputs.Length} outputs; return one tangent (or null) per output.");
            for (int o = 0; o < outputs.Length; o++)
            {
                if (outputs[o] is not { } output) continue;
                (perOutput[o] ??= new()).Add(r[o] ?? Tensor.ZerosLike(output));
            }
        }
        return Array.ConvertAll(perOutput, l => l is null ? null : Tensor.Stack([.. l], 0));
    }

    /// <summary>
    /// Attaches <paramref name="output"/> to a new node when grad mode is on and an input requires grad.
    /// <paramref name="vjps"/>[i] is only called when input i needs a gradient.
    /// <paramref name="save"/> lists the tensors the VJPs read, so in-place changes to them are caught.
    /// <paramref name="jvp"/> is the forward-mode rule (used by forward-mode AD); <paramref name="batchedJvp"/>
    /// declares that it also handles vector-mode tangents [k, ...] in one call (see PropagateTangents).
    /// </summary>
    public static Tensor Record(string name, Tensor output, Tensor[] inputs, Vjp?[] vjps, Jvp? jvp = null, Tensor[]? save = null, bool batchedJvp = false)
    {
        PropagateTangents(name, output, inputs, jvp, batchedJvp);
        if (!ReverseTracking(inputs) || TryCollect(inputs)) return output;
        var next = new Edge?[inputs.Length];
        var shapes = new int[inputs.Length][];
        for (int i = 0; i < inputs.Length; i++)
        {
            var t = inputs[i];
            shapes[i] = t.ShapeRef;
            if (vjps[i] is not null) next[i] = EdgeTo(t);
        }
        return Attach(new OpNode(name, next, shapes, output, Save(save), vjps), output);
    }

    /// <summary>The edge a gradient for <paramref name="t"/> follows: its accumulator (leaf) or its producing node; null when it does not require grad.</summary>
    internal static Edge? EdgeTo(Tensor t) =>
        !t.RequiresGrad ? null : t.IsLeaf ? new Edge(AccumulateGrad.For(t), 0) : new Edge(t.GradFn!, t.OutputIndex);

    /// <summary>Records the versions of the tensors a node's backward reads.</summary>
    internal static SavedTensor[] Save(Tensor[]? save)
    {
        if (save is null || save.Length == 0) return [];
        var saved = new SavedTensor[save.Length];
        for (int i = 0; i < save.Length; i++) saved[i] = new SavedTensor(save[i], save[i].Version);
        return saved;
    }

    /// <summary>Makes <paramref name="node"/> the history of <paramref name="output"/> (its output 0).</summary>
    internal static Tensor Attach(Node node, Tensor output)
    {
        if (Anomaly.Enabled) node.ForwardTrace = Environment.StackTrace;
        output.SetGradFn(node, 0);
        return output;
    }

    /// <summary>Single-input form of the reverse-mode test: grad mode is on, <paramref name="x"/> requires grad
    /// and no input collection claims it (see <see cref="TryCollect(Tensor[])"/>).</summary>
    internal static bool ShouldRecord(Tensor x)
    {
        if (!x.RequiresGrad || !GradMode.Enabled) return false;
        if (t_collected is { } sink)
        {
            sink.Add(x);
            return false;
        }
        return true;
    }

    /// <summary>Reduces a broadcast gradient back to <paramref name="shape"/> by summing the broadcast dims.</summary>
    public static Tensor SumTo(Tensor g, ReadOnlySpan<int> shape) => g.SumTo(shape);
}

/// <summary>The node of an op recorded by <see cref="Op.Record"/>: one VJP per input, each called with the output's gradient.</summary>
internal sealed class OpNode : Node
{
    private Vjp?[]? _vjps;

    public OpNode(string opName, Edge?[] next, int[][] inputShapes, Tensor output, SavedTensor[] saved, Vjp?[] vjps)
        : base(opName, next, inputShapes, output.ShapeRef, output.DType, saved)
    {
        _vjps = vjps;
    }

    protected override Tensor?[] Backward(Tensor[] gradOutputs, bool[] needs)
    {
        var vjps = _vjps!;
        var g = gradOutputs[0];
        var result = new Tensor?[vjps.Length];
        for (int i = 0; i < vjps.Length; i++)
            if (needs[i]) result[i] = vjps[i]!(g);
        return result;
    }

    public override bool BorrowsArguments => true;

    protected override void OnRelease() => _vjps = null;
}

/// <summary>Anomaly detection switch (see <see cref="Autograd.DetectAnomaly"/>).</summary>
internal static class Anomaly
{
    [ThreadStatic] public static bool Enabled;
}
