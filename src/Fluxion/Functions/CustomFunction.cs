using System.Collections.Concurrent;

namespace Fluxion;

/// <summary>
/// Per-call state of a <see cref="CustomFunction"/>, shared by its <see cref="CustomFunction.Forward"/>,
/// <see cref="CustomFunction.Backward"/> and <see cref="CustomFunction.Jvp"/>: the tensors saved for
/// backward, which outputs are not differentiable, which inputs need a gradient, and any user state.
/// </summary>
public sealed class FunctionContext
{
    private readonly List<Tensor> _toSave = new();
    private SavedTensor[]? _saved;
    private List<Tensor>? _nonDifferentiable;
    private bool[] _needsInputGrad;
    private Dictionary<string, object?>? _state;

    internal FunctionContext(string functionName, bool[] needsInputGrad)
    {
        FunctionName = functionName;
        _needsInputGrad = needsInputGrad;
    }

    /// <summary>The name of the function this context belongs to (its class name by default).</summary>
    public string FunctionName { get; }

    /// <summary>True while <see cref="CustomFunction.Forward"/> runs (saving and marking are allowed).</summary>
    internal bool InForward => _saved is null;

    /// <summary>
    /// Saves tensors (inputs, outputs or intermediates of the forward) for <see cref="CustomFunction.Backward"/>
    /// and <see cref="CustomFunction.Jvp"/>; read them back with <see cref="SavedTensors"/>. Call it in
    /// Forward only (several calls append). Saved tensors are version-checked like those of built-in ops:
    /// modifying one in place before the backward pass makes the backward pass throw
    /// <see cref="InPlaceModificationException"/>. Save inputs and outputs through this method rather than
    /// in <see cref="State"/>, so that in-place changes are caught and higher-order derivatives see them.
    /// </summary>
    public void SaveForBackward(params Tensor[] tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (!InForward)
            throw new AutogradException($"{FunctionName}: SaveForBackward can only be called inside Forward.");
        for (int i = 0; i < tensors.Length; i++)
            _toSave.Add(tensors[i] ?? throw new ArgumentNullException(nameof(tensors), $"{FunctionName}.SaveForBackward: tensor {i} is null."));
    }

    /// <summary>
    /// The tensors given to <see cref="SaveForBackward"/>, in order. After Forward they are checked
    /// against in-place modification on every read.
    /// </summary>
    public IReadOnlyList<Tensor> SavedTensors
    {
        get
        {
            if (_saved is null) return _toSave.ToArray();
            Node.CheckSavedVersions(FunctionName, _saved);
            var r = new Tensor[_saved.Length];
            for (int i = 0; i < r.Length; i++) r[i] = _saved[i].Tensor;
            return r;
        }
    }

    /// <summary>
    /// Marks outputs (tensors returned by Forward) as not differentiable: they do not require grad and
    /// Backward receives zeros for their gradients. Non-floating-point outputs are never differentiable.
    /// Call it in Forward only.
    /// </summary>
    public void MarkNonDifferentiable(params Tensor[] outputs)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        if (!InForward)
            throw new AutogradException($"{FunctionName}: MarkNonDifferentiable can only be called inside Forward.");
        foreach (var t in outputs)
            (_nonDifferentiable ??= new()).Add(t ?? throw new ArgumentNullException(nameof(outputs), $"{FunctionName}.MarkNonDifferentiable: an output is null."));
    }

    /// <summary>
    /// One flag per input: whether a gradient is wanted for it. In Forward (and Jvp): the input requires
    /// grad and grad mode is on. In Backward: the engine's finer answer for this backward pass (an input
    /// that requires grad may still not be needed, e.g. by <c>Autograd.Grad</c> for other inputs).
    /// Backward may return null for inputs whose flag is false.
    /// </summary>
    public IReadOnlyList<bool> NeedsInputGrad => _needsInputGrad;

    /// <summary>Arbitrary user state carried from Forward to Backward/Jvp (e.g. shapes, scalars, flags).</summary>
    public IDictionary<string, object?> State => _state ??= new();

    /// <summary>Reads or writes an entry of <see cref="State"/>.</summary>
    public object? this[string key]
    {
        get => State.TryGetValue(key, out var v) ? v : throw new KeyNotFoundException($"{FunctionName}: no state entry '{key}' was stored on the context.");
        set => State[key] = value;
    }

    /// <summary>Reads an entry of <see cref="State"/> as <typeparamref name="T"/>.</summary>
    public T Get<T>(string key) => this[key] is T v ? v
        : throw new InvalidCastException($"{FunctionName}: state entry '{key}' is not a {typeof(T).Name}.");

    internal bool IsNonDifferentiable(Tensor t)
    {
        if (_nonDifferentiable is null) return false;
        foreach (var m in _nonDifferentiable) if (ReferenceEquals(m, t)) return true;
        return false;
    }

    /// <summary>Ends the forward: checks the marked outputs and records the saved tensors' versions.</summary>
    internal SavedTensor[] Freeze(Tensor[] rawOutputs)
    {
        if (_nonDifferentiable is not null)
            foreach (var m in _nonDifferentiable)
                if (Array.FindIndex(rawOutputs, o => ReferenceEquals(o, m)) < 0)
                    throw new AutogradException(
                        $"{FunctionName}: MarkNonDifferentiable was given a tensor (shape {ShapeUtil.Format(m.Shape)}) that Forward did not return; only outputs can be marked non-differentiable.");
        _saved = _toSave.ConvertAll(s => new SavedTensor(s, s.Version)).ToArray();
        _toSave.Clear();
        return _saved;
    }

    /// <summary>The saved tensors without a version check (for internal anchoring).</summary>
    internal IEnumerable<Tensor> SavedUnchecked => _saved is null ? _toSave : _saved.Select(s => s.Tensor);

    internal void SetNeedsInputGrad(bool[] needs) => _needsInputGrad = needs;
}

/// <summary>
/// A user-defined differentiable operation (PyTorch's <c>torch.autograd.Function</c>). Subclass it,
/// implement <see cref="Forward"/> and <see cref="Backward"/> (and <see cref="Jvp"/> for forward mode),
/// then call <see cref="Apply"/>:
/// <code>
/// sealed class MySoftplus : CustomFunction
/// {
///     public override Tensor[] Forward(FunctionContext ctx, Tensor[] x)
///     {
///         ctx.SaveForBackward(x[0]);
///         return [x[0].Relu() + (-x[0].Abs()).Exp().Add(1.0).Log()];
///     }
///     public override Tensor?[] Backward(FunctionContext ctx, Tensor[] g) => [g[0] * ctx.SavedTensors[0].Sigmoid()];
///     public override Tensor?[] Jvp(FunctionContext ctx, Tensor?[] t) => [t[0] is { } tx ? tx * ctx.SavedTensors[0].Sigmoid() : null];
/// }
/// var y = new MySoftplus().ApplySingle(x);
/// </code>
/// <para>Forward runs with grad mode off (and forward-mode tangents hidden), so it records nothing.
/// Backward runs in the grad mode of the backward pass: with <c>createGraph: true</c> its tensor ops are
/// recorded, so a Backward written with differentiable tensor ops gives correct higher-order
/// derivatives. Set <see cref="OnceDifferentiable"/> when Backward is not differentiable (e.g. computes
/// with raw arrays): differentiating through it twice then raises instead of silently returning wrong
/// second derivatives.</para>
/// </summary>
public abstract class CustomFunction
{
    private static readonly ConcurrentDictionary<Type, bool> s_hasJvp = new();

    /// <summary>The name used in node names and error messages; the class name by default.</summary>
    public virtual string Name => GetType().Name;

    /// <summary>
    /// Declares that <see cref="Backward"/> is not differentiable. A backward pass with
    /// <c>createGraph: true</c> still works (Backward then runs with grad mode off), but differentiating
    /// its result again raises an <see cref="AutogradException"/> naming the function.
    /// </summary>
    public bool OnceDifferentiable { get; init; }

    /// <summary>
    /// Computes the outputs from the inputs (runs with grad mode off). Save what Backward/Jvp need with
    /// <see cref="FunctionContext.SaveForBackward"/>. Do not modify inputs that require grad in place.
    /// </summary>
    public abstract Tensor[] Forward(FunctionContext ctx, Tensor[] inputs);

    /// <summary>
    /// Vector-Jacobian product: given the gradient of each output (zeros for outputs that received no
    /// gradient, or are non-differentiable), returns one gradient per input, of exactly that input's shape
    /// and dtype, or null for inputs that get none (see <see cref="FunctionContext.NeedsInputGrad"/>).
    /// </summary>
    public abstract Tensor?[] Backward(FunctionContext ctx, Tensor[] gradOutputs);

    /// <summary>
    /// Jacobian-vector product for forward mode: given each input's tangent (null means zero), returns one
    /// tangent per output (null means zero). Override it to use the function on dual tensors
    /// (<see cref="ForwardAD"/>); without an override, forward mode raises an error naming the function.
    /// </summary>
    public virtual Tensor?[] Jvp(FunctionContext ctx, Tensor?[] tangents) => throw NoJvp();

    private AutogradException NoJvp() => new(
        $"{Name}: an input carries a forward-mode tangent (ForwardAD dual tensor), but {Name} does not override CustomFunction.Jvp, " +
        "so its forward-mode derivative is unknown. Override Jvp(ctx, tangents) to return one tangent per output, or compute this part outside the ForwardAD level.");

    private bool HasJvp => s_hasJvp.GetOrAdd(GetType(), t =>
        t.GetMethod(nameof(Jvp), [typeof(FunctionContext), typeof(Tensor[])])!.DeclaringType != typeof(CustomFunction));

    /// <summary>Applies a function that returns exactly one output (see <see cref="Apply"/>).</summary>
    public Tensor ApplySingle(params Tensor[] inputs)
    {
        var r = Apply(inputs);
        if (r.Length != 1)
            throw new AutogradException($"{Name}.ApplySingle: Forward returned {r.Length} outputs; use Apply to get all of them.");
        return r[0];
    }

    /// <summary>
    /// Runs <see cref="Forward"/> on <paramref name="inputs"/> and, when grad mode is on and an input requires
    /// grad, records one graph node whose backward is <see cref="Backward"/>; when inputs carry forward-mode
    /// tangents, the outputs' tangents come from <see cref="Jvp"/>. Returns the outputs (differentiable ones
    /// require grad).
    /// </summary>
    public Tensor[] Apply(params Tensor[] inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        string name = Name;
        int n = inputs.Length;
        for (int i = 0; i < n; i++)
            if (inputs[i] is null) throw new ArgumentNullException(nameof(inputs), $"{name}.Apply: input {i} is null.");
        bool grad = GradMode.Enabled;
        var needs = new bool[n];
        var versions = new int[n];
        for (int i = 0; i < n; i++)
        {
            needs[i] = grad && inputs[i].RequiresGrad;
            versions[i] = inputs[i].Version;
        }
        var ctx = new FunctionContext(name, needs);

        Tensor[] raw;
        using (Autograd.NoGrad())
        using (ForwardLevels.Suspend(0))
            raw = Forward(ctx, inputs);
        if (raw is null || raw.Length == 0)
            throw new AutogradException($"{name}.Forward returned no outputs; return at least one tensor.");
        for (int i = 0; i < n; i++)
            if (needs[i] && inputs[i].Version != versions[i])
                throw new AutogradException(
                    $"{name}.Forward modified input {i} (shape {ShapeUtil.Format(inputs[i].Shape)}), which requires grad, in place. " +
                    "A custom function must not modify inputs that take part in autograd; compute a new tensor instead.");

        // Each output must be a distinct tensor object outside any graph: outputs that are inputs, repeat
        // an earlier output, or already belong to a graph become fresh aliases of the same storage.
        var outputs = new Tensor[raw.Length];
        var diff = new bool[raw.Length];
        bool anyDiff = false;
        for (int o = 0; o < raw.Length; o++)
        {
            var t = raw[o] ?? throw new AutogradException($"{name}.Forward returned null for output {o}.");
            bool reused = !t.IsLeaf || t.RequiresGrad || t.HasTangents
                || Array.FindIndex(inputs, x => ReferenceEquals(x, t)) >= 0
                || Array.FindIndex(raw, 0, o, x => ReferenceEquals(x, t)) >= 0;
            outputs[o] = reused ? t.Detach() : t;
            diff[o] = t.DType.IsFloatingPoint() && !ctx.IsNonDifferentiable(t);
            anyDiff |= diff[o];
        }
        var saved = ctx.Freeze(raw);

        // Forward mode: the outputs' tangents from Jvp.
        if (ForwardLevels.ActiveCount > 0 && anyDiff)
        {
            var tangentOutputs = new Tensor?[outputs.Length];
            for (int o = 0; o < outputs.Length; o++) tangentOutputs[o] = diff[o] ? outputs[o] : null;
            Func<Tensor?[], Tensor?[]> jvp = HasJvp ? t => CheckedJvp(ctx, t, outputs.Length) : _ => throw NoJvp();
            Op.PropagateTangents(name, tangentOutputs, inputs, jvp);
        }

        // Reverse mode: one node for all outputs.
        if (!anyDiff || !Op.ReverseTracking(inputs) || Op.TryCollect(inputs)) return outputs;
        var shapes = new int[n][];
        var dtypes = new DType[n];
        for (int i = 0; i < n; i++)
        {
            shapes[i] = inputs[i].ShapeRef;
            dtypes[i] = inputs[i].DType;
        }
        var outMeta = new (int[], DType)[outputs.Length];
        var attached = new Tensor?[outputs.Length];
        for (int o = 0; o < outputs.Length; o++)
        {
            outMeta[o] = (outputs[o].ShapeRef, outputs[o].DType);
            if (diff[o]) attached[o] = outputs[o];
        }
        Tensor[]? anchors = OnceDifferentiable ? Array.FindAll(inputs, t => t.RequiresGrad) : null;
        // the same node type as every op: an OpNode whose entry runs this function's Backward
        var node = new OpNode(EntryFor(name), inputs, attached, new Call(this, ctx, shapes, dtypes, anchors), saved, outMeta);
        if (Anomaly.Enabled) node.ForwardTrace = Environment.StackTrace;
        for (int o = 0; o < outputs.Length; o++)
            if (diff[o]) outputs[o].SetGradFn(node, o);
        return outputs;
    }

    /// <summary>One recorded application: what the backward step needs.</summary>
    private sealed record Call(CustomFunction Function, FunctionContext Ctx, int[][] Shapes, DType[] DTypes, Tensor[]? Anchors);

    private static readonly ConcurrentDictionary<string, OpDef> s_entries = new();

    /// <summary>The (unregistered) op entry of custom functions named <paramref name="name"/>: its VJP runs the
    /// recorded function's <see cref="Backward"/>.</summary>
    private static OpDef EntryFor(string name) => s_entries.GetOrAdd(name, n => new OpDef(n, OpFamily.Fused)
    {
        VjpAll = (in OpCtx c, Tensor[] g, bool[] needs) =>
        {
            var call = c.A<Call>();
            return call.Function.RunBackward(call.Ctx, g, needs, call.Shapes, call.DTypes, call.Anchors);
        },
        Doc = "a user-declared CustomFunction",
    });

    private Tensor?[] CheckedJvp(FunctionContext ctx, Tensor?[] tangents, int outputCount)
    {
        var r = Jvp(ctx, tangents);
        if (r is null || r.Length != outputCount)
            throw new AutogradException(
                $"{Name}.Jvp returned {(r is null ? "null" : $"{r.Length} tangent(s)")} but {Name}.Forward returned {outputCount} output(s); return one tangent (or null for zero) per output, in output order.");
        return r;
    }

    private Tensor?[] RunBackward(FunctionContext ctx, Tensor[] grads, bool[] needs, int[][] shapes, DType[] dtypes, Tensor[]? anchors)
    {
        ctx.SetNeedsInputGrad((bool[])needs.Clone());
        bool guard = OnceDifferentiable && GradMode.Enabled;
        Tensor?[] r;
        if (guard)
            using (Autograd.NoGrad()) r = Backward(ctx, grads);
        else
            r = Backward(ctx, grads);
        if (r is null || r.Length != shapes.Length)
            throw new AutogradException(
                $"{Name}.Backward returned {(r is null ? "null" : $"{r.Length} gradient(s)")} but {Name} was applied to {shapes.Length} input(s); " +
                "return exactly one gradient (or null) per input, in input order.");
        var result = new Tensor?[r.Length];
        for (int i = 0; i < r.Length; i++)
        {
            if (r[i] is not { } g) continue;
            if (!ShapeUtil.SameShape(g.Shape, shapes[i]))
                throw new AutogradException(
                    $"{Name}.Backward returned a gradient of shape {ShapeUtil.Format(g.Shape)} for input {i}, which has shape {ShapeUtil.Format(shapes[i])}. " +
                    "A gradient must have exactly its input's shape (reduce broadcast dimensions with SumTo).");
            if (!needs[i]) continue;
            if (g.DType != dtypes[i])
                throw new AutogradException(
                    $"{Name}.Backward returned a gradient of dtype {g.DType.Name()} for input {i}, which has dtype {dtypes[i].Name()}; convert it with To(...).");
            result[i] = guard ? Guard(g, grads, ctx, anchors!) : g;
        }
        return result;
    }

    /// <summary>
    /// OnceDifferentiable: attaches the (non-differentiable) gradient to a node whose own backward raises,
    /// so differentiating it again fails loudly instead of silently missing terms.
    /// </summary>
    private Tensor Guard(Tensor g, Tensor[] gradOutputs, FunctionContext ctx, Tensor[] inputAnchors)
    {
        var anchors = new List<Tensor>();
        foreach (var t in gradOutputs.Concat(ctx.SavedUnchecked).Concat(inputAnchors))
            if (t.RequiresGrad && !anchors.Exists(a => ReferenceEquals(a, t))) anchors.Add(t);
        string message =
            $"{Name} is marked OnceDifferentiable: its Backward is not differentiable, so a gradient computed through it with createGraph: true cannot be differentiated again " +
            "(that would silently give wrong higher-order derivatives). Write Backward with differentiable tensor ops and drop OnceDifferentiable, or do not differentiate twice through " + Name + ".";
        return GraphOps.Guarded(g.Detach(), anchors, message);
    }
}
