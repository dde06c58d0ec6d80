namespace Fluxion;

/// <summary>One argument of a traced call: a traced value (<see cref="Var"/> &gt;= 0) or a constant tensor.</summary>
internal readonly record struct TraceArg(int Var, Tensor? Const);

/// <summary>One recorded call of a registry entry: its inputs, attributes and the shapes of its outputs.</summary>
/// <remarks>A tensor attribute (e.g. the condition of a Where) is traced like an input: <see cref="AttrVar"/> is its variable, or -1.</remarks>
internal sealed record TraceNode(OpDef Def, TraceArg[] Inputs, object? Attr, int AttrVar, int[] Outputs, int[][] OutShapes, DType[] OutDTypes)
{
    /// <summary>For each output, the input whose memory it shares (a view of it), or -1; null when no output is a view.</summary>
    public int[]? Aliases { get; init; }

    /// <summary>Compile's mode only: the call's input and output tensors as traced (to check the replay against).</summary>
    public (Tensor?[] Inputs, Tensor?[] Outputs, object? Attr)? Values { get; init; }
}

/// <summary>
/// Records the registry calls that depend on chosen input tensors, as a flat program (the trace): the basis of
/// <see cref="Functional.Vmap(Func{Tensor[], Tensor[]}, int?[], int[], int?, Randomness)"/>, which replays the
/// program with each entry's batching rule. Every op reaches the tracer through <see cref="Op.Record(OpDef, Tensor, Tensor[], object?)"/>
/// (or the elementwise entries' own Record), whatever the grad mode, so a backward pass or a forward-mode
/// section run inside the traced function is recorded too: differentiation happens while tracing, and the
/// program holds the derivative as ordinary ops. Tracers nest (vmap of vmap); each keeps its own variables.
/// <para>What cannot be traced is an error, not a silent constant: reading a traced value
/// (<see cref="Tensor.Item()"/>, <see cref="Tensor.Get(int[])"/>) and in-place writes of traced values into
/// untraced tensors raise <see cref="VmapException"/>; drawing random numbers is noted for the randomness policy.</para>
/// </summary>
internal sealed class Tracer : IDisposable
{
    [ThreadStatic] private static List<Tracer>? t_stack;
    [ThreadStatic] private static int t_depth;

    /// <summary>How many tracers are active on this thread (0 on the fast path of every op).</summary>
    public static int Depth => t_depth;

    private readonly Dictionary<Tensor, int> _vars = new(ReferenceEqualityComparer.Instance);
    private int _nextVar;

    /// <summary>The recorded calls, in execution order.</summary>
    public List<TraceNode> Nodes { get; } = [];

    /// <summary>The name of the transform, for error messages ("Vmap").</summary>
    public string Transform { get; }

    /// <summary>Set when the traced function drew random numbers (the first op that did).</summary>
    public bool UsedRandomness { get; private set; }

    /// <summary>Compile's mode: a leaf that requires grad (a parameter) met as an op's input becomes an input of the
    /// trace (read by reference at every replay) instead of a constant.</summary>
    public bool CaptureLeaves { get; }

    /// <summary>The leaves captured as inputs (<see cref="CaptureLeaves"/>), in order of first use, with their variables
    /// and the gradients they held before (the trace starts them at null; the caller restores them).</summary>
    public List<(Tensor Leaf, int Var, Tensor? OldGrad)> Captured { get; } = [];

    /// <summary>How many calls were recorded when the first backward pass inside the trace began (the start of the
    /// backward part of a joint forward+backward trace), or -1 when none ran.</summary>
    public int BackwardStart { get; private set; } = -1;

    /// <summary>Called by the engine when a backward pass begins: marks <see cref="BackwardStart"/> on every active tracer that has none.</summary>
    public static void NoteBackward()
    {
        if (t_depth == 0) return;
        foreach (var t in t_stack!)
            if (t.BackwardStart < 0) t.BackwardStart = t.Nodes.Count;
    }

    private Tracer(string transform, bool captureLeaves)
    {
        Transform = transform;
        CaptureLeaves = captureLeaves;
    }

    /// <summary>Starts tracing on this thread; dispose to stop. <paramref name="captureLeaves"/>: see <see cref="CaptureLeaves"/>.</summary>
    public static Tracer Begin(string transform, bool captureLeaves = false)
    {
        var t = new Tracer(transform, captureLeaves);
        (t_stack ??= []).Add(t);
        t_depth = t_stack.Count;
        return t;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        var s = t_stack!;
        int i = s.LastIndexOf(this);
        if (i >= 0) s.RemoveAt(i);
        t_depth = s.Count;
    }

    /// <summary>Makes <paramref name="t"/> an input of the trace; returns its variable.</summary>
    public int AddInput(Tensor t)
    {
        int v = _nextVar++;
        _vars[t] = v;
        return v;
    }

    /// <summary>The variable of <paramref name="t"/>, or -1 when it is not traced here.</summary>
    public int VarOf(Tensor t) => _vars.TryGetValue(t, out int v) ? v : -1;

    /// <summary>True when this tracer traces <paramref name="t"/> or would capture it as an input.</summary>
    private bool Sees(Tensor t) => _vars.ContainsKey(t) || (CaptureLeaves && t.RequiresGrad && t.IsLeaf);

    /// <summary>The variable of <paramref name="t"/>, capturing a parameter on first use; -1 when it is a constant.</summary>
    private int VarOrCapture(Tensor t)
    {
        if (_vars.TryGetValue(t, out int v)) return v;
        if (!(CaptureLeaves && t.RequiresGrad && t.IsLeaf)) return -1;
        v = AddInput(t);
        Captured.Add((t, v, t.Grad));
        t.Grad = null;
        return v;
    }

    /// <summary>True when an active tracer is Compile's (it captures leaves).</summary>
    public static bool Compiling
    {
        get
        {
            if (t_depth == 0) return false;
            foreach (var tr in t_stack!) if (tr.CaptureLeaves) return true;
            return false;
        }
    }

    /// <summary>True when an active tracer traces <paramref name="t"/>.</summary>
    public static bool IsTraced(Tensor t)
    {
        if (t_depth == 0) return false;
        foreach (var tr in t_stack!)
            if (tr.Sees(t)) return true;
        return false;
    }

    /// <summary>Records a call of <paramref name="def"/> in every active tracer that traces one of its inputs.</summary>
    public static void Note(OpDef def, Tensor?[] outputs, Tensor[] inputs, object? attr)
    {
        foreach (var tr in t_stack!)
        {
            bool any = attr is Tensor ta && tr._vars.ContainsKey(ta);
            foreach (var x in inputs)
                if (x is not null && tr.Sees(x)) { any = true; break; }
            if (any) tr.Add(def, outputs, inputs, attr);
        }
    }

    private void Add(OpDef def, Tensor?[] outputs, Tensor[] inputs, object? attr)
    {
        var args = new TraceArg[inputs.Length];
        for (int i = 0; i < inputs.Length; i++)
            args[i] = inputs[i] is { } x && VarOrCapture(x) is var v && v >= 0 ? new TraceArg(v, null) : new TraceArg(-1, inputs[i]);
        var outs = new int[outputs.Length];
        int[]? aliases = null;
        var shapes = new int[outputs.Length][];
        var dtypes = new DType[outputs.Length];
        for (int o = 0; o < outputs.Length; o++)
        {
            if (outputs[o] is not { } y) { outs[o] = -1; shapes[o] = []; continue; }
            outs[o] = _nextVar++;
            _vars[y] = outs[o];
            shapes[o] = y.ShapeArray;
            dtypes[o] = y.DType;
            for (int i = 0; i < inputs.Length; i++)
                if (inputs[i] is { } x && ReferenceEquals(x.Storage, y.Storage))
                {
                    aliases ??= [.. Enumerable.Repeat(-1, outputs.Length)];
                    aliases[o] = i;
                    break;
                }
        }
        int attrVar = attr is Tensor at && _vars.TryGetValue(at, out int av) ? av : -1;
        Nodes.Add(new TraceNode(def, args, attr, attrVar, outs, shapes, dtypes)
        {
            Aliases = aliases,
            Values = CaptureLeaves ? ((Tensor?[])inputs.Clone(), (Tensor?[])outputs.Clone(), attr) : null,
        });
    }

    /// <summary><paramref name="alias"/> holds the same value as <paramref name="source"/> (a detached copy, a
    /// new leaf): it takes the source's variable in every tracer that traces the source.</summary>
    public static void Alias(Tensor source, Tensor alias)
    {
        foreach (var tr in t_stack!)
            if (tr._vars.TryGetValue(source, out int v)) tr._vars[alias] = v;
    }

    /// <summary>An in-place op wrote <paramref name="result"/>'s value into <paramref name="target"/>.</summary>
    public static void Rebind(Tensor target, Tensor result)
    {
        foreach (var tr in t_stack!)
        {
            if (tr._vars.TryGetValue(result, out int v)) tr._vars[target] = v;
            else if (tr._vars.ContainsKey(target)) tr._vars.Remove(target);
        }
    }

    /// <summary>Raises when an in-place op would write a traced value into a tensor that is not traced (it has no
    /// batch dimension to hold one value per example).</summary>
    public static void CheckInPlace(string op, Tensor target, Tensor other)
    {
        foreach (var tr in t_stack!)
            if (!tr._vars.ContainsKey(target) && tr._vars.ContainsKey(other))
                throw tr.CaptureLeaves ? new CompileException(
                    $"Compile: the in-place op {op} writes a traced value (shape {ShapeUtil.Format(other.Shape)}) into a tensor from outside the compiled function (shape {ShapeUtil.Format(target.Shape)}); " +
                    "a replay would not repeat that write. Return the value as an output instead, or use the out-of-place form (e.g. a + b instead of a.AddInPlace(b)).")
                : new VmapException(
                    $"{tr.Transform}: the in-place op {op} writes a value that differs per example (shape {ShapeUtil.Format(other.Shape)}) into a tensor that is the same for every example " +
                    $"(shape {ShapeUtil.Format(target.Shape)}), which has no batch dimension to hold it. Use the out-of-place form (e.g. a + b instead of a.AddInPlace(b)).");
    }

    /// <summary>Raises when the traced function reads the value of a traced tensor (data-dependent control flow).</summary>
    public static Tensor CheckRead(string op, Tensor t)
    {
        foreach (var tr in t_stack!)
            if (tr._vars.ContainsKey(t))
                throw tr.CaptureLeaves ? new CompileException(
                    $"Compile: {op} reads the value of a traced tensor (shape {ShapeUtil.Format(t.Shape)}), so the function's control flow or shapes would depend on the data, which a compiled graph cannot replay. " +
                    "Keep values in tensors (Where(cond, a, b) instead of an if on a value, masks instead of value-dependent shapes), or read the value outside the compiled function.")
                : new VmapException(
                    $"{tr.Transform}: {op} reads the value of a tensor that differs per example (shape {ShapeUtil.Format(t.Shape)}), so the function's control flow or shapes would depend on the data. " +
                    "Inside Vmap keep values in tensors: use Where(cond, a, b) instead of an if on a value, masks instead of value-dependent shapes, or run a loop over the examples yourself.");
        return t;
    }

    /// <summary>Notes a draw of random numbers (for the randomness policy).</summary>
    public static void NoteRandom()
    {
        foreach (var tr in t_stack!) tr.UsedRandomness = true;
    }
}

/// <summary>A function cannot be transformed by <see cref="Functional.Vmap(Func{Tensor[], Tensor[]}, int?[], int[], int?, Randomness)"/>
/// as written: it reads per-example values (data-dependent control flow), writes them in place into shared tensors,
/// or draws random numbers under <see cref="Randomness.Error"/>. The message names the op and the fix.</summary>
public sealed class VmapException : FluxionException
{
    /// <summary>Creates the exception with a message.</summary>
    public VmapException(string message) : base(message) { }
}
