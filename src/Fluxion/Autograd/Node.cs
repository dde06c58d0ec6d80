namespace Fluxion;

/// <summary>Where a gradient goes: output <see cref="OutputIndex"/> of <see cref="Node"/>.</summary>
internal readonly record struct Edge(Node Node, int OutputIndex);

/// <summary>A tensor saved for backward together with the storage version it had when saved.</summary>
internal readonly record struct SavedTensor(Tensor Tensor, int Version);

/// <summary>
/// One recorded operation in the autograd graph: a backward step, the tensors it saved and an edge
/// per differentiable input. Nodes are created by <see cref="Op"/> and run by <see cref="Engine"/>.
/// </summary>
internal class Node
{
    private static long s_sequence;
    private SavedTensor[] _saved;
    private bool _released;
    // Single-output nodes made by ops keep their output's metadata in fields and build the Outputs array
    // and the "...Backward" name only when asked (errors, graph printing). What most nodes never use
    // (a closure, hooks, retained grads, several outputs, a forward trace) lives in a side object.
    private readonly bool _labelIsName;
    private readonly DType _outDType;
    private readonly string _label;
    private readonly int[]? _outShape;
    private Extras? _extras;

    /// <summary>The rarely used parts of a node.</summary>
    private sealed class Extras
    {
        public (int[] Shape, DType DType)[]? Outputs;
        public int[][]? InputShapes;
        public List<Func<Tensor, Tensor?>>?[]? Hooks;
        public List<WeakReference<Tensor>>?[]? Retain;
        public string? ForwardTrace;
    }

    private Extras X => _extras ??= new Extras();

    /// <summary>The backward pass that currently keeps its per-node state in <see cref="PassState"/> (null when none).</summary>
    internal object? PassOwner;

    /// <summary>This node's dependency count and gradient buffer in the pass <see cref="PassOwner"/>.</summary>
    internal Engine.NodeState PassState;

    /// <summary>Name shown in errors and graph printing, e.g. "MulBackward".</summary>
    public string Name => _labelIsName ? _label : _label + "Backward";

    /// <summary>One entry per input: where its gradient goes, or null when it does not require grad.</summary>
    public Edge?[] Next { get; }

    /// <summary>Shape of each input, to check gradient shapes returned by the backward function.</summary>
    public int[][] InputShapes
    {
        get
        {
            if (_extras?.InputShapes is { } s) return s;
            var r = new int[Next.Length][];
            for (int i = 0; i < r.Length; i++) r[i] = InputShape(i);
            return r;
        }
    }

    /// <summary>Shape of input <paramref name="i"/> (a subclass that keeps input shapes in fields overrides this).</summary>
    public virtual int[] InputShape(int i) => _extras!.InputShapes![i];

    /// <summary>Shape and dtype of each output, to zero-fill gradients of unused outputs.</summary>
    public (int[] Shape, DType DType)[] Outputs => _extras?.Outputs ?? [(_outShape!, _outDType)];

    /// <summary>Number of outputs.</summary>
    public int OutputCount => _outShape is not null ? 1 : _extras!.Outputs!.Length;

    /// <summary>Shape of output <paramref name="o"/>.</summary>
    public int[] OutputShape(int o) => _outShape is { } s && o == 0 ? s : Outputs[o].Shape;

    /// <summary>DType of output <paramref name="o"/>.</summary>
    public DType OutputDType(int o) => _outShape is not null && o == 0 ? _outDType : Outputs[o].DType;

    /// <summary>Creation order; later nodes run first when several are ready.</summary>
    public long Sequence { get; }

    /// <summary>True after a backward pass without retainGraph freed the saved tensors.</summary>
    public bool Released => _released && this is not AccumulateGrad;

    /// <summary>The tensors saved for backward (empty after release).</summary>
    public ReadOnlySpan<SavedTensor> Saved => _saved;

    /// <summary>Optional stack trace of the forward call, recorded in anomaly mode.</summary>
    public string? ForwardTrace
    {
        get => _extras?.ForwardTrace;
        set => X.ForwardTrace = value;
    }

    protected Node(string name, Edge?[] next, int[][] inputShapes, (int[], DType)[] outputs, SavedTensor[] saved)
    {
        _label = name;
        _labelIsName = true;
        Next = next;
        _extras = new Extras { InputShapes = inputShapes, Outputs = outputs };
        _saved = saved;
        Sequence = Interlocked.Increment(ref s_sequence);
    }

    /// <summary>A single-output node of op <paramref name="opName"/> (named "<paramref name="opName"/>Backward")
    /// whose backward step is <see cref="Backward"/>, overridden by the subclass. With <paramref name="inputShapes"/>
    /// null the subclass overrides <see cref="InputShape"/>.</summary>
    protected Node(string opName, Edge?[] next, int[][]? inputShapes, int[] outShape, DType outDType, SavedTensor[] saved)
    {
        _label = opName;
        Next = next;
        if (inputShapes is not null) _extras = new Extras { InputShapes = inputShapes };
        _outShape = outShape;
        _outDType = outDType;
        _saved = saved;
        Sequence = Interlocked.Increment(ref s_sequence);
    }

    /// <summary>Runs the backward function. Checks saved-tensor versions first.</summary>
    /// <summary>Sets the saved-tensor records (a subclass that decides what to keep after the base constructor ran).</summary>
    protected void SetSaved(SavedTensor[] saved) => _saved = saved;

    /// <param name="gradOutputs">The gradients of the outputs (zero-filled where none arrived).</param>
    /// <param name="needs">Which inputs need a gradient.</param>
    /// <param name="firstOrder">Told by the engine once per pass: no graph is recorded and no forward-AD level is
    /// active, so a node may use a fused first-order backward.</param>
    public virtual Tensor?[] Apply(Tensor[] gradOutputs, bool[] needs, bool firstOrder)
    {
        if (_released)
            throw new AutogradException(
                $"{Name}: trying to backward through the graph a second time (or to read saved tensors after they were freed). " +
                "The first backward pass released the tensors this node saved. Pass retainGraph: true to the first Backward()/Autograd.Grad() call if you need to backward through the graph again.");
        if (_saved.Length > 0) CheckSavedVersions(Name, _saved);
        return Backward(gradOutputs, needs, firstOrder);
    }

    /// <summary>The backward step proper (after the release and version checks), overridden by <see cref="OpNode"/>
    /// (the accumulator of a leaf overrides <see cref="Apply"/> instead).</summary>
    protected virtual Tensor?[] Backward(Tensor[] gradOutputs, bool[] needs, bool firstOrder) => throw new InvalidOperationException($"{Name} has no backward step.");

    /// <summary>True when <see cref="Apply"/> only reads its argument arrays while it runs (keeps no reference
    /// to them), so the engine may reuse them for the next node. Such a node may also return a
    /// <see cref="ResultScratch"/> array, which its caller must consume before the next Apply on the thread.</summary>
    public virtual bool BorrowsArguments => false;

    /// <summary>True when the backward step is library code that keeps no reference to its incoming gradients (nor to
    /// the gradients it returns, which nobody else holds): the engine may then hand a gradient buffer back to the storage
    /// pool as soon as it is consumed. False (the default) for backward steps that run user code (custom functions,
    /// checkpoints), which may keep either.</summary>
    public virtual bool KeepsNoGradients => false;

    [ThreadStatic] private static Tensor?[]? t_results1, t_results2;

    /// <summary>A per-thread array of <paramref name="n"/> (1 or 2) null slots for the gradients a node with
    /// <see cref="BorrowsArguments"/> returns; valid until the next call on the thread.</summary>
    protected static Tensor?[] ResultScratch(int n)
    {
        var r = n == 1 ? t_results1 ??= new Tensor?[1] : t_results2 ??= new Tensor?[2];
        Array.Clear(r);
        return r;
    }

    /// <summary>Called by <see cref="Release"/>: a subclass drops the tensors its backward step reads.</summary>
    protected virtual void OnRelease() { }

    /// <summary>Throws when a saved tensor was modified in place after it was saved (its storage version moved).</summary>
    public static void CheckSavedVersions(string name, ReadOnlySpan<SavedTensor> saved)
    {
        foreach (var s in saved)
        {
            if (s.Tensor.Version != s.Version)
                throw new InPlaceModificationException(
                    $"{name}: one of the tensors needed for gradient computation (shape {ShapeUtil.Format(s.Tensor.Shape)}, dtype {s.Tensor.DType.Name()}) has been modified by an in-place operation: " +
                    $"it was saved at version {s.Version} and is now at version {s.Tensor.Version}. " +
                    "Use an out-of-place operation instead (e.g. x = x + y rather than x.AddInPlace(y)), or Clone() the tensor before modifying it.");
        }
    }

    /// <summary>The <see cref="Sequence"/> of the most recently created node: every node created later has a larger one.</summary>
    public static long LastSequence => Interlocked.Read(ref s_sequence);

    /// <summary>Frees the saved tensors (and whatever the subclass keeps for its backward step).</summary>
    public void Release()
    {
        _released = true;
        _saved = [];
        OnRelease();
    }

    public void AddHook(int output, Func<Tensor, Tensor?> hook)
    {
        var hooks = X.Hooks ??= new List<Func<Tensor, Tensor?>>?[OutputCount];
        (hooks[output] ??= new()).Add(hook);
    }

    public void RemoveHook(int output, Func<Tensor, Tensor?> hook) => _extras?.Hooks?[output]?.Remove(hook);

    public void AddRetainGrad(int output, Tensor t)
    {
        var retain = X.Retain ??= new List<WeakReference<Tensor>>?[OutputCount];
        (retain[output] ??= new()).Add(new WeakReference<Tensor>(t));
    }

    /// <summary>The gradient a hook returned (null keeps <paramref name="grad"/>), checked to have the shape and dtype
    /// of the gradient it replaces; otherwise an <see cref="AutogradException"/> names the hook.</summary>
    internal static Tensor CheckHookResult(Func<Tensor, Tensor?> hook, int position, Tensor grad, Tensor? result, string tensor)
    {
        if (result is null) return grad;
        if (ShapeUtil.SameShape(result.Shape, grad.Shape) && result.DType == grad.DType) return result;
        string name = hook.Method.DeclaringType is { } t ? $"{t.Name}.{hook.Method.Name}" : hook.Method.Name;
        throw new AutogradException(
            $"RegisterHook: hook #{position} ({name}) on {tensor} of shape {ShapeUtil.Format(grad.Shape)} returned a gradient of shape {ShapeUtil.Format(result.Shape)} " +
            $"and dtype {result.DType.Name()}, but the gradient it replaces has shape {ShapeUtil.Format(grad.Shape)} and dtype {grad.DType.Name()}. " +
            "A hook must return null or a tensor of the same shape and dtype as its argument.");
    }

    /// <summary>Whether some tensor hook or retained grad is registered on an output (they see the gradient, so the
    /// engine treats it as shared).</summary>
    public bool HasOutputHooks => _extras is { } x && (x.Hooks is not null || x.Retain is not null);

    /// <summary>Runs the tensor hooks registered on output <paramref name="output"/>, then stores retained grads.</summary>
    public Tensor RunOutputHooks(int output, Tensor grad, bool createGraph)
    {
        if (_extras is not { } x) return grad;
        if (x.Hooks?[output] is { } hooks)
        {
            var all = hooks.ToArray();
            for (int k = 0; k < all.Length; k++)
                grad = CheckHookResult(all[k], k, grad, all[k](grad), $"output {output} of {Name}");
        }
        if (x.Retain?[output] is { } retain)
            foreach (var w in retain)
                if (w.TryGetTarget(out var t))
                    t.Grad = t.Grad is null ? (createGraph ? grad : grad.Detach()) : (createGraph ? t.Grad + grad : (t.Grad + grad).Detach());
        return grad;
    }
}

/// <summary>The sink node of a leaf that requires grad: adds incoming gradients into <see cref="Tensor.Grad"/>.</summary>
internal sealed class AccumulateGrad : Node
{
    public Tensor Variable { get; }

    public AccumulateGrad(Tensor variable)
        : base("AccumulateGrad", [], [], [(variable.ShapeArray, variable.DType)], [])
    {
        Variable = variable;
    }

    /// <summary>Runs the leaf's hooks on a gradient.</summary>
    public Tensor RunLeafHooks(Tensor grad)
    {
        if (Variable.LeafHooks is { } hooks)
        {
            var all = hooks.ToArray();
            for (int k = 0; k < all.Length; k++)
                grad = CheckHookResult(all[k], k, grad, all[k](grad), "a leaf");
        }
        return grad;
    }

    public override bool BorrowsArguments => true;

    /// <summary>The accumulator copies or adds its gradient into <c>.Grad</c>, or stores it there (the engine then
    /// treats it as the leaf's).</summary>
    public override bool KeepsNoGradients => true;

    /// <summary>Whether the leaf has hooks that see its incoming gradient.</summary>
    public bool HasLeafHooks => Variable.LeafHooks is { Count: > 0 };

    public override Tensor?[] Apply(Tensor[] gradOutputs, bool[] needs, bool firstOrder) => Accumulate(gradOutputs[0], owned: false);

    /// <summary>Adds <paramref name="incoming"/> into the leaf's <see cref="Tensor.Grad"/>. With <paramref name="owned"/> the
    /// engine vouches that nothing else references the gradient's storage (it was made during this backward pass and
    /// no other gradient buffer, hook, retained grad or seed shares it): a first gradient is then stored without a copy
    /// when its layout obeys PyTorch's gradient layout contract (strides of the leaf, or contiguous); otherwise it is
    /// cloned, so <c>.Grad</c> never aliases a user's seed gradient, a forward value or another leaf's gradient.</summary>
    public Tensor?[] Accumulate(Tensor incoming, bool owned)
    {
        var g = RunLeafHooks(incoming);
        var v = Variable;
        bool createGraph = GradMode.Enabled;
        if (v.Grad is null)
            v.Grad = createGraph ? g
                : owned && ReferenceEquals(g, incoming) && !g.RequiresGrad && ObeysLayout(g, v) ? g
                : Materialize(g);
        else if (!createGraph && !v.Grad.RequiresGrad)
            v.Grad.AddInPlaceNoGrad(g);
        else
            v.Grad = v.Grad + g;
        if (v.PostAccumulateHooks is { } post)
            foreach (var h in post.ToArray())
                h(v);
        return [];
    }

    /// <summary>A contiguous copy of <paramref name="g"/> for <c>.Grad</c>; a broadcast of one element (the gradient of
    /// a full sum: an expanded 0-d tensor) is filled rather than copied element by element.</summary>
    private static Tensor Materialize(Tensor g)
    {
        var strides = g.StridesRef;
        bool one = g.Numel > 0;
        for (int d = 0; d < strides.Length && one; d++) one = strides[d] == 0 || g.ShapeRef[d] == 1;
        if (one && g.DType == DType.Float32) return Tensor.Full(g.ShapeArray, g.Storage.As<float>()[g.Offset], DType.Float32);
        if (one && g.DType == DType.Float64) return Tensor.Full(g.ShapeArray, g.Storage.As<double>()[g.Offset], DType.Float64);
        return g.Detach().Clone();
    }

    /// <summary>PyTorch's gradient layout contract: the gradient is stored as is when it is contiguous like the leaf, or
    /// has the leaf's strides (size-1 dims ignored) and covers exactly its elements (dense, no overlap).</summary>
    internal static bool ObeysLayout(Tensor g, Tensor v)
    {
        if (g.IsContiguous) return v.IsContiguous;
        var gs = g.StridesRef;
        var vs = v.StridesRef;
        var shape = g.ShapeRef;
        long span = 1;
        for (int d = 0; d < shape.Length; d++)
        {
            if (shape[d] == 1) continue;
            if (gs[d] != vs[d] || gs[d] <= 0) return false;
            span += (long)(shape[d] - 1) * gs[d];
        }
        return span == g.Numel; // strides positive and the last element at numel - 1: dense and non-overlapping
    }

    /// <summary>The accumulator of a leaf, created once and cached on the tensor.</summary>
    public static AccumulateGrad For(Tensor leaf) => leaf.GradAccumulator ??= new AccumulateGrad(leaf);
}
