namespace Fluxion;

/// <summary>
/// Records calls of registry entries (<see cref="OpDef"/>). Every op computes its value with kernels and then
/// calls <see cref="Record(OpDef, Tensor, Tensor[], object?)"/> with its entry, which holds its VJP and JVP:
/// the single place where the op's derivatives live. VJPs are written with tensor ops, so a backward pass run
/// with createGraph records a graph of its own and higher derivatives follow.
/// </summary>
internal static class Op
{
    /// <summary>True when the op must be recorded: grad mode is on and some input requires grad,
    /// or a forward-AD level is active and some input carries a tangent.</summary>
    public static bool Tracking(Tensor a) => ReverseTracking(a) || ForwardTracking(a)
        || (Tracer.Depth > 0 && Tracer.IsTraced(a));

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

    /// <inheritdoc cref="ReverseTracking(Tensor[])"/>
    internal static bool ReverseTracking(Tensor a) => a.RequiresGrad && GradMode.Enabled;

    /// <summary>Largest gradient the fused first-order backward of elementwise ops handles with its scalar loop
    /// (where per-op overhead dominates); bigger ones use the vectorized tensor ops.</summary>
    public const int RawMaxNumel = 1024;

    /// <inheritdoc cref="Recording.TryCollect(Tensor, Tensor)"/>
    internal static bool TryCollect(Tensor a, Tensor b) => Recording.TryCollect(a, b);

    /// <inheritdoc cref="Recording.TryCollect(Tensor[])"/>
    internal static bool TryCollect(Tensor[] inputs) => Recording.TryCollect(inputs);

    /// <summary>
    /// Forward mode: for every active level at which some input has a tangent, computes the output
    /// tangents with <paramref name="jvp"/>: it maps the inputs' tangents (null where zero) to one tangent
    /// per output (null where zero); <paramref name="outputs"/>[o] is null for an output that takes no
    /// tangent (non-differentiable). The level (and inner ones) is suspended meanwhile, so the rule's own
    /// ops propagate only outer levels' tangents: nesting without perturbation confusion.
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

    /// <summary>True when some input carries a tangent at an active forward-AD level.</summary>
    internal static bool ForwardTracking(Tensor[] inputs)
    {
        bool any = false;
        foreach (var t in inputs) any |= t.HasTangents;
        return any && ForwardLevels.ActiveCount > 0;
    }

    /// <inheritdoc cref="ForwardTracking(Tensor[])"/>
    internal static bool ForwardTracking(Tensor a) => a.HasTangents && ForwardLevels.ActiveCount > 0;

    /// <inheritdoc cref="ForwardTracking(Tensor[])"/>
    internal static bool ForwardTracking(Tensor a, Tensor b) => (a.HasTangents || b.HasTangents) && ForwardLevels.ActiveCount > 0;

    /// <summary>
    /// Records one call of the registry entry <paramref name="def"/> whose value <paramref name="output"/> the
    /// caller computed from <paramref name="inputs"/> (with the call's <paramref name="attr"/>ibutes): forward
    /// mode computes the output's tangents with the entry's JVP, and, when grad mode is on and an input
    /// requires grad, one node is recorded whose backward runs the entry's VJP.
    /// The node takes ownership of <paramref name="inputs"/> (pass a fresh array): entries the rules do not read are cleared.
    /// </summary>
    public static Tensor Record(OpDef def, Tensor output, Tensor[] inputs, object? attr = null)
    {
        if (Tracer.Depth > 0) Tracer.Note(def, [output], inputs, attr);
        if (ForwardTracking(inputs)) PropagateDef(def, [output], inputs, attr);
        if (!ReverseTracking(inputs) || TryCollect(inputs)) return output;
        if (!def.HasVjp) throw def.NoVjp();
        return Attach(new OpNode(def, inputs, output, attr), output);
    }

    /// <summary>
    /// Multi-output form of <see cref="Record(OpDef, Tensor, Tensor[], object?)"/>: <paramref name="outputs"/>[o] is
    /// null for an output that is not differentiable (e.g. the indices of a max); the rest share one node.
    /// </summary>
    public static void Record(OpDef def, Tensor?[] outputs, Tensor[] inputs, object? attr = null)
    {
        if (Tracer.Depth > 0) Tracer.Note(def, outputs, inputs, attr);
        if (ForwardTracking(inputs)) PropagateDef(def, outputs, inputs, attr);
        if (!ReverseTracking(inputs) || TryCollect(inputs)) return;
        if (!def.HasVjp) throw def.NoVjp();
        var node = new OpNode(def, inputs, outputs, attr);
        if (Anomaly.Enabled) node.ForwardTrace = Environment.StackTrace;
        for (int o = 0; o < outputs.Length; o++)
            outputs[o]?.SetGradFn(node, o);
    }

    private static void PropagateDef(OpDef def, Tensor?[] outputs, Tensor[] inputs, object? attr)
    {
        if (!def.HasJvp) throw def.NoJvp();
        var ctx = new OpCtx(inputs, outputs.Length == 1 ? outputs[0] : null, outputs.Length == 1 ? null : outputs, attr);
        PropagateTangents(def.Name, outputs, inputs, t => def.Tangents(ctx, t), def.HasBatchedJvp);
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
    /// and no recording observer claims it (see <see cref="Recording.TryCollect(Tensor[])"/>).</summary>
    internal static bool ShouldRecord(Tensor x) => ReverseTracking(x) && !Recording.TryCollect(x);

    /// <summary>Reduces a broadcast gradient back to <paramref name="shape"/> by summing the broadcast dims.</summary>
    public static Tensor SumTo(Tensor g, ReadOnlySpan<int> shape) => g.SumTo(shape);
}

/// <summary>
/// The one node type of the graph: a recorded call of a registry entry (<see cref="OpDef"/>). It keeps the
/// tensors the entry's rules read (the others are dropped at once), the call's attributes, and runs the
/// entry's VJP; the engine tells it whether the pass is first-order, so the entry may take its fused path.
/// </summary>
internal sealed class OpNode : Node
{
    private readonly OpDef _def;
    private Tensor?[]? _inputs;
    private Tensor? _output;
    private Tensor?[]? _outputs;
    private object? _attr;
    private readonly int[]? _shape0, _shape1;

    /// <summary>A single-output call.</summary>
    public OpNode(OpDef def, Tensor[] inputs, Tensor output, object? attr)
        : base(def.Name, Edges(inputs), inputs.Length <= 2 ? null : Shapes(inputs), output.ShapeRef, output.DType, [])
    {
        _def = def;
        _attr = attr;
        if (inputs.Length > 0) _shape0 = inputs[0].ShapeRef;
        if (inputs.Length > 1) _shape1 = inputs[1].ShapeRef;
        uint mask = def.SaveMask(inputs);
        SetSaved(Keep(inputs, output, null, mask));
        if ((mask & OpDef.SaveOutput) != 0) _output = output;
    }

    /// <summary>A multi-output call (null outputs are not differentiable). With <paramref name="saved"/> the caller
    /// keeps what its rules read itself (in <paramref name="attr"/>) and gives the version records to check;
    /// <paramref name="outputMeta"/> gives every output's shape and dtype (non-differentiable ones included).</summary>
    public OpNode(OpDef def, Tensor[] inputs, Tensor?[] outputs, object? attr, SavedTensor[]? saved = null, (int[], DType)[]? outputMeta = null)
        : base(def.Name + "Backward", Edges(inputs), Shapes(inputs), outputMeta ?? Array.ConvertAll(outputs, o => (o?.ShapeRef ?? [], o?.DType ?? DType.Float32)), [])
    {
        _def = def;
        _attr = attr;
        if (saved is not null)
        {
            SetSaved(saved);
            return;
        }
        uint mask = def.SaveMask(inputs);
        SetSaved(Keep(inputs, null, outputs, mask));
        if ((mask & OpDef.SaveOutput) != 0) _outputs = outputs;
    }

    private static Edge?[] Edges(Tensor[] inputs)
    {
        var next = new Edge?[inputs.Length];
        for (int i = 0; i < inputs.Length; i++) next[i] = Op.EdgeTo(inputs[i]);
        return next;
    }

    private static int[][] Shapes(Tensor[] inputs)
    {
        var shapes = new int[inputs.Length][];
        for (int i = 0; i < inputs.Length; i++) shapes[i] = inputs[i].ShapeRef;
        return shapes;
    }

    /// <summary>Keeps the saved inputs (the caller's array, others nulled) and returns their version records.</summary>
    private SavedTensor[] Keep(Tensor[] inputs, Tensor? output, Tensor?[]? outputs, uint mask)
    {
        int n = 0;
        for (int i = 0; i < inputs.Length; i++) if ((mask & (1u << Math.Min(i, 30))) != 0) n++;
        bool outSaved = (mask & OpDef.SaveOutput) != 0;
        int nOut = !outSaved ? 0 : output is not null ? 1 : outputs!.Count(o => o is not null);
        if (n + nOut == 0)
        {
            // nothing saved: keep the caller's array (the rules see only shapes), emptied
            Array.Clear(inputs);
            _inputs = inputs;
            return [];
        }
        var saved = new SavedTensor[n + nOut];
        int k = 0;
        for (int i = 0; i < inputs.Length; i++)
        {
            if ((mask & (1u << Math.Min(i, 30))) != 0) saved[k++] = new SavedTensor(inputs[i], inputs[i].Version);
            else inputs[i] = null!;
        }
        _inputs = inputs;
        if (outSaved)
        {
            if (output is not null) saved[k++] = new SavedTensor(output, output.Version);
            else foreach (var o in outputs!) if (o is not null) saved[k++] = new SavedTensor(o, o.Version);
        }
        return saved;
    }

    /// <summary>The registry entry this node is a call of.</summary>
    public OpDef Def => _def;

    private int _keepsNoGradients; // 0: not decided yet, 1: yes, 2: no

    /// <summary>A registry entry's rule, except the fused family (whose entries include custom functions and
    /// checkpoints, which run user code); entries made at run time (custom functions) are not in the registry.</summary>
    public override bool KeepsNoGradients
    {
        get
        {
            if (_keepsNoGradients == 0)
                _keepsNoGradients = _def.Family != OpFamily.Fused && ReferenceEquals(OpRegistry.Find(_def.Name), _def) ? 1 : 2;
            return _keepsNoGradients == 1;
        }
    }

    protected override Tensor?[] Backward(Tensor[] gradOutputs, bool[] needs, bool firstOrder)
    {
        var result = _inputs is { Length: <= 2 } ? ResultScratch(Math.Max(1, _inputs.Length)) : new Tensor?[needs.Length];
        return _def.Backward(new OpCtx(_inputs ?? [], _output, _outputs, _attr, this), gradOutputs, needs, firstOrder, result);
    }

    public override bool BorrowsArguments => _inputs is not null && OutputCount == 1 && Next.Length <= 2;

    public override int[] InputShape(int i) => i == 0 && _shape0 is not null ? _shape0 : i == 1 && _shape1 is not null ? _shape1 : base.InputShape(i);

    protected override void OnRelease()
    {
        _inputs = null;
        _output = null;
        _outputs = null;
        _attr = null;
    }
}
