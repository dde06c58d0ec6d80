using System.Globalization;
using System.Text;

namespace Fluxion;

/// <summary>What the graph passes of one compiled graph did.</summary>
/// <param name="TracedOps">Ops recorded by the trace.</param>
/// <param name="LiveOps">Ops the replay runs (after the passes).</param>
/// <param name="DeadOps">Ops removed by dead-code elimination (no output depends on them).</param>
/// <param name="CseMerged">Ops removed by common-subexpression elimination.</param>
/// <param name="Folded">Ops computed once at compile time (constant folding).</param>
/// <param name="FusedGroups">Groups of two or more elementwise ops that run as one pass over memory.</param>
/// <param name="FusedOps">Ops inside those groups.</param>
/// <param name="ArenaBuffers">Buffers of the preallocated arena.</param>
/// <param name="ArenaBytes">Bytes of the arena (allocated once, before the first replay).</param>
/// <param name="PlannedBytes">Bytes the planned values would take without sharing buffers (the arena's saving is the difference).</param>
/// <param name="PredictedPeakBytes">Predicted peak of a replay: the arena plus the most bytes of other intermediates alive at once.</param>
public sealed record CompileStats(int TracedOps, int LiveOps, int DeadOps, int CseMerged, int Folded, int FusedGroups, int FusedOps,
    int ArenaBuffers, long ArenaBytes, long PlannedBytes, long PredictedPeakBytes);

/// <summary>
/// One traced and optimized graph of a <see cref="CompiledFunction"/>: the guard it was traced under, its ops after the
/// passes, the fused groups, the buffer of every planned value, and the flat list of steps a replay runs.
/// </summary>
public sealed partial class CompiledGraph
{
    /// <summary>A value of the graph: an input, a captured parameter, a constant or an op's output.</summary>
    internal sealed class Val
    {
        public int[] Shape = [];
        public DType DType;
        public Tensor? Const;
        public string Kind = "";  // "input i", "param", "const", "folded", or "" (an op's output)
        public int Producer = -1;
        public int Root;          // the value whose memory this one shares (itself unless a view)
        public int Buffer = -1;   // arena buffer, or -1
        public bool Escapes;      // returned (or a view of a returned value): fresh memory every replay
        public long Bytes => (long)ShapeUtil.Numel(Shape) * DType.ElementSize();
    }

    /// <summary>How a call outside the fused groups is replayed.</summary>
    internal enum ReplayMode : byte
    {
        /// <summary>The entry's replay rule.</summary>
        Rule,
        /// <summary>The batching rule with no input batched.</summary>
        Unbatched,
        /// <summary>The batching rule on a batch of one (every input with a leading dim of 1).</summary>
        BatchOfOne,
        /// <summary>A linear op (f(x) = J·x): its JVP applied to the inputs themselves.</summary>
        LinearJvp,
    }

    /// <summary>One op of the graph.</summary>
    internal sealed class GNode
    {
        public required OpDef Def;
        public required int[] In;
        public object? Attr;
        public int AttrIn = -1;
        public required int[] Out;
        public int[]? Aliases;
        public required int[][] Shapes;
        public required DType[] DTypes;
        public bool Dead;
        public bool Folded;
        public int Group = -1;
        /// <summary>The call whose replay recomputes this call's attribute (the traced attribute is the same object), or -1.</summary>
        public int AttrFrom = -1;
        /// <summary>How the replay computes the call (chosen by checking it against the traced values).</summary>
        public ReplayMode Mode;
        /// <summary>No replay mode reproduced the traced values bit for bit.</summary>
        public bool Approximate;
        /// <summary>The traced inputs, outputs and attribute (dropped once the replay is chosen).</summary>
        public (Tensor?[] Inputs, Tensor?[] Outputs, object? Attr)? Traced;
    }

    internal readonly List<Val> Vals = [];
    internal readonly List<GNode> Nodes = [];
    private int[] _inVals = [];
    private (Tensor Leaf, int Val)[] _params = [];
    private int[] _outVals = [];
    private (Tensor Leaf, int Val, bool IsInput, int Input)[] _gradOuts = [];

    // guard
    private (int[] Shape, DType DType, bool RequiresGrad)[] _guard = [];
    private (int[] Shape, DType DType, bool RequiresGrad)[] _paramGuard = [];
    private bool _gradMode;
    private long _extra;

    /// <summary>True when the replay records the autograd graph (outputs need one and f ran no backward).</summary>
    public bool Recording { get; private set; }

    /// <summary>True when f ran a backward pass: the graph holds forward and backward, and writes gradients.</summary>
    public bool Joint { get; private set; }

    /// <summary>What the passes did.</summary>
    public CompileStats Stats { get; private set; } = null!;

    internal bool Matches(Tensor[] inputs, bool grad, long extra)
    {
        if (grad != _gradMode || extra != _extra || inputs.Length != _guard.Length) return false;
        for (int i = 0; i < inputs.Length; i++)
        {
            var (shape, dtype, rg) = _guard[i];
            var x = inputs[i];
            if (x.DType != dtype || x.RequiresGrad != rg || !ShapeUtil.SameShape(x.ShapeRef, shape)) return false;
        }
        for (int i = 0; i < _params.Length; i++)
        {
            var (shape, dtype, rg) = _paramGuard[i];
            var p = _params[i].Leaf;
            if (p.DType != dtype || p.RequiresGrad != rg || !ShapeUtil.SameShape(p.ShapeRef, shape)) return false;
        }
        return true;
    }

    // ---- tracing --------------------------------------------------------------------------------------------

    /// <summary>Traces f on <paramref name="inputs"/> (running it eagerly) and builds the optimized graph.</summary>
    internal static (CompiledGraph, Tensor[]) Trace(Func<Tensor[], Tensor[]> f, Tensor[] inputs, bool grad, long extra, CompileOptions options, bool build = true)
    {
        var tracer = Tracer.Begin("Compile", captureLeaves: true);
        var inVars = new int[inputs.Length];
        var inputLeaves = new List<(Tensor Leaf, int Var, Tensor? OldGrad, int Input)>();
        Tensor[] ys;
        bool ok = false;
        try
        {
            for (int i = 0; i < inputs.Length; i++)
            {
                var x = inputs[i];
                int v = tracer.VarOf(x);
                if (v < 0)
                {
                    v = tracer.AddInput(x);
                    if (x.RequiresGrad && x.IsLeaf)
                    {
                        inputLeaves.Add((x, v, x.Grad, i));
                        x.Grad = null;
                    }
                }
                inVars[i] = v;
            }
            ys = f(inputs) ?? throw new CompileException("Compile: the function returned null; return an array of tensors.");
            ok = true;
        }
        finally
        {
            tracer.Dispose();
            if (!ok)
            {
                foreach (var (leaf, _, old, _) in inputLeaves) leaf.Grad = old;
                foreach (var (leaf, _, old) in tracer.Captured) leaf.Grad = old;
            }
        }

        var g = new CompiledGraph { _gradMode = grad, _extra = extra, _backwardStart = tracer.BackwardStart };
        var outs = new TraceArg[ys.Length];
        var grads = new List<(Tensor Leaf, TraceArg Arg, bool IsInput, int Input)>();
        var newGrads = new List<(Tensor Leaf, Tensor? Old, Tensor? New)>();
        foreach (var (leaf, _, old, _) in inputLeaves) newGrads.Add((leaf, old, leaf.Grad));
        foreach (var (leaf, _, old) in tracer.Captured) newGrads.Add((leaf, old, leaf.Grad));
        try
        {
            if (tracer.UsedRandomness)
                throw new CompileException("Compile: the function draws random numbers (e.g. Dropout in training mode, Rand, Randn); a replay would repeat the traced draw. " +
                    "Call module.Eval() for inference, or draw the random tensor outside and pass it as an input.");
            foreach (var (leaf, v, _) in tracer.Captured)
                if (tracer.VarOf(leaf) != v)
                    throw new CompileException($"Compile: the function modifies a parameter of shape {ShapeUtil.Format(leaf.Shape)} in place (an optimizer step?), which a replay would not repeat. " +
                        "Run the optimizer step outside the compiled function (compile the forward, loss and backward), or pass the optimizer as CompileOptions.Optimizer.");
            for (int o = 0; o < ys.Length; o++)
            {
                var y = ys[o] ?? throw new CompileException($"Compile: the function returned a null output {o}; return a tensor for every output.");
                int v = tracer.VarOf(y);
                outs[o] = v >= 0 ? new TraceArg(v, null) : new TraceArg(-1, y);
            }
            foreach (var (leaf, _, _, i) in inputLeaves)
                if (leaf.Grad is { } gr) grads.Add((leaf, Arg(tracer, gr), true, i));
            foreach (var (leaf, _, _) in tracer.Captured)
                if (leaf.Grad is { } gr) grads.Add((leaf, Arg(tracer, gr), false, -1));
        }
        finally
        {
            // the leaves' gradients as eager leaves them: the traced call's gradients accumulated onto the old ones
            foreach (var (leaf, old, nw) in newGrads)
            {
                leaf.Grad = old;
                if (nw is not null && ok) Accumulate(leaf, nw);
            }
        }
        g.Joint = grads.Count > 0;
        g.Recording = grad && !g.Joint && ys.Any(y => y.RequiresGrad);
        g._guard = [.. inputs.Select(x => (x.ShapeArray, x.DType, x.RequiresGrad))];
        g._paramGuard = [.. tracer.Captured.Select(c => (c.Leaf.ShapeArray, c.Leaf.DType, c.Leaf.RequiresGrad))];
        g._trace = [.. tracer.Nodes.Select(n => n with { Values = null })];
        g._eagerOutputs = ys;
        g._eagerGrads = [.. newGrads.Where(e => e.New is not null).Select(e => (e.Leaf, e.New!))];
        g._traceOuts = outs;
        if (build) g.Build(tracer, inputs, inVars, outs, grads, options);
        return (g, ys);

        static TraceArg Arg(Tracer t, Tensor x) => t.VarOf(x) is var v && v >= 0 ? new TraceArg(v, null) : new TraceArg(-1, x);
    }

    private List<TraceNode> _trace = [];
    private TraceArg[] _traceOuts = [];

    /// <summary>True once a second trace (on the second call's inputs) agreed with this one.</summary>
    internal bool Validated { get; set; }

    /// <summary>
    /// Compares this graph's trace with a second trace of the same function on other inputs of the same guard: an op
    /// that differs, an attribute or constant input that differs (computed from the input values by code the tracer
    /// does not see, e.g. MaskedSelect's positions) or a shape that differs means the function's graph depends on
    /// the values, which a static graph cannot replay: a <see cref="CompileException"/> names the op.
    /// </summary>
    internal void Validate(CompiledGraph other, Tensor[] inputs)
    {
        if (Difference(other) is { } diff)
        {
            // the engine may run independent backward calls in another order on a later call (the leaves' accumulators
            // exist by then): the same calls in another order are checked by value instead
            bool reordered = _trace.Count == other._trace.Count &&
                _trace.Select(n => n.Def.Name).Order().SequenceEqual(other._trace.Select(n => n.Def.Name).Order());
            if (!reordered || !SameResults(other, inputs)) throw new CompileException(diff);
        }
        _trace = [];
        _eagerOutputs = [];
        _eagerGrads = [];
        Validated = true;
    }

    /// <summary>Whether replaying this graph on <paramref name="inputs"/> gives exactly the outputs and gradients of the
    /// eager call traced as <paramref name="other"/>.</summary>
    private bool SameResults(CompiledGraph other, Tensor[] inputs)
    {
        var (outs, grads) = RunCore(inputs);
        if (outs.Length != other._eagerOutputs.Length) return false;
        for (int o = 0; o < outs.Length; o++)
            if (!SameValues(other._eagerOutputs[o], outs[o])) return false;
        if (grads.Length != other._eagerGrads.Count) return false;
        foreach (var (target, g) in grads)
        {
            var (_, eager) = other._eagerGrads.FirstOrDefault(e => ReferenceEquals(e.Leaf, target));
            if (eager is null || !SameValues(eager, g)) return false;
        }
        return true;
    }

    private Tensor[] _eagerOutputs = [];
    private List<(Tensor Leaf, Tensor Grad)> _eagerGrads = [];

    /// <summary>The first difference between this trace and <paramref name="other"/> (as a CompileException message), or null.</summary>
    private string? Difference(CompiledGraph other)
    {
        const string fix = " A static graph cannot replay that: keep values in tensors (Where instead of an if on a value, masks instead of " +
            "MaskedSelect/Nonzero and other value-dependent shapes), or run this part outside the compiled function.";
        List<TraceNode> a = _trace, b = other._trace;
        var recomputed = new HashSet<object>(ReferenceEqualityComparer.Instance);
        for (int k = 0; k < Math.Min(a.Count, b.Count); k++)
        {
            TraceNode x = a[k], y = b[k];
            if (x.Def.ReplayAttr is not null && x.Attr is not null) recomputed.Add(x.Attr);
            if (x.Def != y.Def || x.Inputs.Length != y.Inputs.Length || x.AttrVar != y.AttrVar)
                return ($"Compile: the function runs different ops for different inputs (op {k}: {x.Def.Name} on the first call, {y.Def.Name} on the second): its control flow depends on the values." + fix);
            for (int o = 0; o < x.OutShapes.Length; o++)
                if (!ShapeUtil.SameShape(x.OutShapes[o], y.OutShapes[o]))
                    return ($"Compile: {x.Def.Name} gives shape {ShapeUtil.Format(x.OutShapes[o])} on the first call and {ShapeUtil.Format(y.OutShapes[o])} on the second: its output shape depends on the input values." + fix);
            for (int i = 0; i < x.Inputs.Length; i++)
                if (x.Inputs[i].Var != y.Inputs[i].Var || !VmapProgram.SameConstant(x.Inputs[i].Const, y.Inputs[i].Const))
                    return ($"Compile: input {i} of {x.Def.Name} (shape {ShapeUtil.Format((x.Inputs[i].Const ?? y.Inputs[i].Const)?.ShapeArray ?? [])}) depends on the input values but was computed by code the tracer does not see (e.g. MaskedSelect or Nonzero positions)." + fix);
            if (x.AttrVar < 0 && x.Def.Replay is null && x.Def.ReplayAttr is null && !x.Def.BatchRecomputesAttr && !(x.Attr is not null && recomputed.Contains(x.Attr)) && !VmapProgram.SameAttr(x.Attr, y.Attr, 0))
                return ($"Compile: the attributes of {x.Def.Name} depend on the input values." + fix);
        }
        if (a.Count != b.Count)
            return ($"Compile: the function runs {a.Count} ops on the first call and {b.Count} on the second: its control flow depends on the values." + fix);
        for (int o = 0; o < _traceOuts.Length; o++)
            if (_traceOuts[o].Var != other._traceOuts[o].Var || !VmapProgram.SameConstant(_traceOuts[o].Const, other._traceOuts[o].Const))
                return ($"Compile: output {o} depends on the input values through code the tracer does not see." + fix);
        return null;
    }

    /// <summary>Writes a replayed gradient into a leaf as the engine's AccumulateGrad does in a first-order pass.</summary>
    private static void Accumulate(Tensor leaf, Tensor g)
    {
        if (leaf.Grad is null) leaf.Grad = g;
        else if (!leaf.Grad.RequiresGrad) leaf.Grad.AddInPlaceNoGrad(g);
        else leaf.Grad = leaf.Grad + g;
    }

    private void Build(Tracer tracer, Tensor[] inputs, int[] inVars, TraceArg[] outs, List<(Tensor Leaf, TraceArg Arg, bool IsInput, int Input)> grads, CompileOptions options)
    {
        // variables keep their numbers; constants are appended (one value per distinct tensor)
        int nVars = 0;
        foreach (var v in inVars) nVars = Math.Max(nVars, v + 1);
        foreach (var n in tracer.Nodes) foreach (var o in n.Outputs) nVars = Math.Max(nVars, o + 1);
        for (int v = 0; v < nVars; v++) Vals.Add(new Val { Root = v });
        var consts = new Dictionary<Tensor, int>(ReferenceEqualityComparer.Instance);
        int Const(Tensor t)
        {
            if (consts.TryGetValue(t, out int id)) return id;
            id = Vals.Count;
            Vals.Add(new Val { Shape = t.ShapeArray, DType = t.DType, Const = t, Kind = "const", Root = id });
            consts[t] = id;
            return id;
        }
        _inVals = inVars;
        for (int i = 0; i < inputs.Length; i++)
        {
            var val = Vals[inVars[i]];
            val.Shape = inputs[i].ShapeArray;
            val.DType = inputs[i].DType;
            val.Kind = $"input {i}";
        }
        _params = [.. tracer.Captured.Select(c => (c.Leaf, c.Var))];
        foreach (var (leaf, v) in _params)
        {
            Vals[v].Shape = leaf.ShapeArray;
            Vals[v].DType = leaf.DType;
            Vals[v].Kind = "param";
        }
        var attrMakers = new Dictionary<object, int>(ReferenceEqualityComparer.Instance);
        foreach (var t in tracer.Nodes)
        {
            var n = new GNode
            {
                Def = t.Def,
                In = [.. t.Inputs.Select(a => a.Var >= 0 ? a.Var : Const(a.Const!))],
                Attr = t.AttrVar >= 0 ? null : t.Attr,
                AttrIn = t.AttrVar,
                Out = t.Outputs,
                Aliases = t.Aliases,
                Shapes = t.OutShapes,
                DTypes = t.OutDTypes,
                Traced = t.Values,
                Mode = t.Def.Replay is not null || t.Def.ReplayAttr is not null ? ReplayMode.Rule : ReplayMode.Unbatched,
            };
            if (t.Attr is { } at && !at.GetType().IsValueType && at is not string && attrMakers.TryGetValue(at, out int maker)) n.AttrFrom = maker;
            if (t.Def.ReplayAttr is not null && t.Attr is { } made) attrMakers.TryAdd(made, Nodes.Count);
            for (int o = 0; o < n.Out.Length; o++)
            {
                if (n.Out[o] < 0) continue;
                var val = Vals[n.Out[o]];
                val.Shape = t.OutShapes[o];
                val.DType = t.OutDTypes[o];
                val.Producer = Nodes.Count;
            }
            Nodes.Add(n);
        }
        _outVals = [.. outs.Select(a => a.Var >= 0 ? a.Var : Const(a.Const!))];
        _gradOuts = [.. grads.Select(gr => (gr.Leaf, gr.Arg.Var >= 0 ? gr.Arg.Var : Const(gr.Arg.Const!), gr.IsInput, gr.Input))];

        int traced = Nodes.Count;
        int cse = options.Cse ? CommonSubexpressions() : 0;
        int folded = FoldConstants(options.FreezeParameters);
        int dead = EliminateDeadCode();
        dead += ElideCopies();
        if (options.PlanMemory && !Recording) MaskBeforePoolScatter();
        PlanActivations(options);
        var (groups, fusedOps) = options.Fuse && !Recording ? FuseElementwise() : (0, 0);
        ChooseReplays();
        PlanInPlace(options.PlanMemory && !Recording);
        var (buffers, arena, planned, peak) = PlanMemory(options.PlanMemory && !Recording);
        Stats = new CompileStats(traced, Nodes.Count(n => !n.Dead), dead, cse, folded, groups, fusedOps, buffers, arena, planned, peak);
        BuildSteps();
    }

    // ---- passes ---------------------------------------------------------------------------------------------

    /// <summary>Common-subexpression elimination: a call of the same op on the same values with equal attributes as an
    /// earlier call is dropped and its outputs read the earlier call's. Returns how many calls were merged.</summary>
    private int CommonSubexpressions()
    {
        var rep = new int[Vals.Count];
        for (int v = 0; v < rep.Length; v++) rep[v] = v;
        var seen = new Dictionary<int, List<GNode>>();
        int merged = 0;
        foreach (var n in Nodes)
        {
            for (int i = 0; i < n.In.Length; i++) n.In[i] = rep[n.In[i]];
            if (n.AttrIn >= 0) n.AttrIn = rep[n.AttrIn];
            var h = new HashCode();
            h.Add(n.Def);
            h.Add(n.AttrIn);
            foreach (var i in n.In) h.Add(i);
            int key = h.ToHashCode();
            if (!seen.TryGetValue(key, out var list)) seen[key] = list = [];
            var same = list.FirstOrDefault(m => m.Def == n.Def && m.AttrIn == n.AttrIn && m.In.AsSpan().SequenceEqual(n.In)
                && m.Out.Length == n.Out.Length && VmapProgram.SameAttr(m.Attr, n.Attr, 0));
            if (same is null)
            {
                list.Add(n);
                continue;
            }
            for (int o = 0; o < n.Out.Length; o++)
                if (n.Out[o] >= 0 && same.Out[o] >= 0) rep[n.Out[o]] = same.Out[o];
            n.Dead = true;
            merged++;
        }
        for (int o = 0; o < _outVals.Length; o++) _outVals[o] = rep[_outVals[o]];
        for (int k = 0; k < _gradOuts.Length; k++) _gradOuts[k].Val = rep[_gradOuts[k].Val];
        return merged;
    }

    /// <summary>Constant folding: a call whose inputs are all constants (and, with frozen parameters, parameters) is
    /// computed once now; its outputs become constants. Returns how many calls were folded.</summary>
    private int FoldConstants(bool frozen)
    {
        int folded = 0;
        bool IsConst(int v) => Vals[v].Const is not null || (frozen && Vals[v].Kind == "param");
        Tensor ValueOf(int v) => Vals[v].Const ?? _params.First(p => p.Val == v).Leaf;
        foreach (var n in Nodes)
        {
            if (n.Dead || !n.In.All(IsConst) || (n.AttrIn >= 0 && !IsConst(n.AttrIn))) continue;
            ChooseReplay(n);
            Tensor?[] ys;
            using (Autograd.NoGrad())
                ys = RunGeneric(n, [.. n.In.Select(ValueOf)], n.AttrIn >= 0 ? ValueOf(n.AttrIn) : n.Attr);
            n.Traced = null;
            for (int o = 0; o < n.Out.Length; o++)
            {
                if (n.Out[o] < 0) continue;
                var val = Vals[n.Out[o]];
                val.Const = ys[o]!.Detach();
                val.Kind = "folded";
                val.Producer = -1;
            }
            n.Dead = true;
            n.Folded = true;
            folded++;
        }
        return folded;
    }

    /// <summary>Dead-code elimination: only calls some output (or written gradient) depends on stay. Returns how many were removed.</summary>
    private int EliminateDeadCode()
    {
        var needed = new bool[Vals.Count];
        foreach (var v in _outVals) needed[v] = true;
        foreach (var gr in _gradOuts) needed[gr.Val] = true;
        int dead = 0;
        for (int k = Nodes.Count - 1; k >= 0; k--)
        {
            var n = Nodes[k];
            if (n.Dead) continue;
            if (!n.Out.Any(o => o >= 0 && needed[o]))
            {
                n.Dead = true;
                dead++;
                continue;
            }
            foreach (var i in n.In) needed[i] = true;
            if (n.AttrIn >= 0) needed[n.AttrIn] = true;
            if (n.AttrFrom >= 0)
                foreach (var o in Nodes[n.AttrFrom].Out) if (o >= 0) needed[o] = true;
        }
        return dead;
    }

    /// <summary>How many live calls read each value (as an input or an attribute input), plus one for each graph output and
    /// each gradient the graph returns.</summary>
    private int[] UseCounts()
    {
        var uses = new int[Vals.Count];
        foreach (var n in Nodes)
        {
            if (n.Dead) continue;
            foreach (var v in n.In) uses[v]++;
            if (n.AttrIn >= 0) uses[n.AttrIn]++;
        }
        foreach (var v in _outVals) uses[v]++;
        foreach (var gr in _gradOuts) uses[gr.Val]++;
        return uses;
    }

    /// <summary>Copy elision: a Clone of a value made inside the graph, not a view and read by nothing else, is the value
    /// itself (e.g. the copy the engine makes of a fresh gradient before writing it into a leaf). Returns how many were removed.</summary>
    private int ElideCopies()
    {
        var uses = UseCounts();
        var rep = new int[Vals.Count];
        for (int v = 0; v < rep.Length; v++) rep[v] = v;
        int elided = 0;
        foreach (var n in Nodes)
        {
            if (n.Dead) continue;
            for (int i = 0; i < n.In.Length; i++) n.In[i] = rep[n.In[i]];
            if (n.Def != Tensor.CloneOp || n.Out[0] < 0) continue;
            int x = n.In[0];
            var producer = Vals[x].Producer;
            if (uses[x] != 1 || producer < 0 || Nodes[producer].Dead || Nodes[producer].Aliases is not null || Vals[x].Const is not null) continue;
            rep[n.Out[0]] = x;
            n.Dead = true;
            elided++;
        }
        for (int o = 0; o < _outVals.Length; o++) _outVals[o] = rep[_outVals[o]];
        for (int k = 0; k < _gradOuts.Length; k++) _gradOuts[k].Val = rep[_gradOuts[k].Val];
        return elided;
    }

    // ---- replay ---------------------------------------------------------------------------------------------

    private Action<Tensor?[]>[] _steps = [];

    /// <summary>The attributes recomputed by the current replay, by call (see <see cref="OpDef.ReplayAttr"/>).</summary>
    private object?[] _attrs = [];
    private Tensor?[] _template = [];

    /// <summary>Replays the graph on <paramref name="inputs"/>.</summary>
    internal Tensor[] Run(Tensor[] inputs)
    {
        var (result, grads) = RunCore(inputs);
        foreach (var (target, g) in grads) Accumulate(target, g);
        return result;
    }

    /// <summary>Replays the graph: the outputs, and the gradients to write (leaf or input, value).</summary>
    private (Tensor[] Outputs, (Tensor Target, Tensor Grad)[] Grads) RunCore(Tensor[] inputs)
    {
        var vals = (Tensor?[])_template.Clone();
        for (int i = 0; i < inputs.Length; i++) vals[_inVals[i]] = inputs[i];
        foreach (var (leaf, v) in _params) vals[v] = leaf;
        if (Recording) RunSteps(vals);
        else
            using (Autograd.NoGrad())
                RunSteps(vals);
        var result = new Tensor[_outVals.Length];
        for (int o = 0; o < result.Length; o++) result[o] = vals[_outVals[o]]!;
        var grads = new (Tensor, Tensor)[_gradOuts.Length];
        for (int k = 0; k < grads.Length; k++)
        {
            var (leaf, v, isInput, i) = _gradOuts[k];
            grads[k] = (isInput ? inputs[i] : leaf, _template[v] is { } c ? c.Clone() : vals[v]!);
        }
        return (result, grads);
    }

    private void RunSteps(Tensor?[] vals)
    {
        if (StepClock is not { } clock)
        {
            foreach (var step in _steps) step(vals);
            return;
        }
        var seconds = StepSeconds ??= new double[_steps.Length];
        for (int k = 0; k < _steps.Length; k++)
        {
            double t0 = clock();
            _steps[k](vals);
            seconds[k] += clock() - t0;
        }
    }

    /// <summary>Profiling (A/B harnesses): when set, every replay adds each step's time by this clock (e.g. the thread's
    /// CPU time) to <see cref="StepSeconds"/>, the steps named by <see cref="StepNames"/>.</summary>
    internal static Func<double>? StepClock;

    /// <summary>The time of each replay step summed over the replays run while <see cref="StepClock"/> was set.</summary>
    internal double[]? StepSeconds;

    /// <summary>What each replay step runs: an op's name, or a fused group with its ops.</summary>
    internal string[] StepNames { get; private set; } = [];

    /// <summary>The flat list of steps: one per fused group (at its last member) or per other live call.</summary>
    private void BuildSteps()
    {
        var names = new List<string>();
        _template = new Tensor?[Vals.Count];
        _attrs = new object?[Nodes.Count];
        for (int v = 0; v < Vals.Count; v++) _template[v] = Vals[v].Const;
        var steps = new List<Action<Tensor?[]>>();
        for (int k = 0; k < Nodes.Count; k++)
        {
            var n = Nodes[k];
            if (n.Dead) continue;
            if (n.Group >= 0)
            {
                if (_groups[n.Group].Last != k) continue;
                steps.Add(_groups[n.Group].Step(this));
                names.Add($"group {n.Group}: {string.Join(' ', _groups[n.Group].Members.Select(m => Nodes[m].Def.Name))}");
            }
            else
            {
                steps.Add(InPlaceStep(n) ?? GenericStep(n, k));
                names.Add(n.Def.Name);
            }
            if (k < _dropAt.Length && _dropAt[k] is { } drop)
            {
                int[] d = [.. drop];
                steps.Add(vals => { foreach (var v in d) vals[v] = null; });
                names.Add("(drop)");
            }
        }
        _steps = [.. steps];
        StepNames = [.. names];
    }

    /// <summary>A call replayed through its registry entry (see <see cref="ChooseReplays"/>).</summary>
    private Action<Tensor?[]> GenericStep(GNode n, int index)
    {
        int[] ins = n.In, outs = n.Out;
        int attrIn = n.AttrIn, attrFrom = n.AttrFrom;
        bool makesAttr = n.Def.ReplayAttr is not null;
        var attrs = _attrs;
        return vals =>
        {
            var xs = new Tensor[ins.Length];
            for (int i = 0; i < xs.Length; i++) xs[i] = vals[ins[i]]!;
            var attr = attrIn >= 0 ? vals[attrIn] : attrFrom >= 0 ? attrs[attrFrom] : n.Attr;
            var ys = makesAttr ? RunGeneric(n, xs, attr, out attrs[index]) : RunGeneric(n, xs, attr);
            for (int o = 0; o < outs.Length; o++)
            {
                if (outs[o] < 0) continue;
                var y = ys[o]!;
                // memory planning assumed the traced layout: a result that shares an input's memory where the traced one
                // did not is copied (an arena buffer is reused once its value's last reader has run)
                if (n.Aliases is not { } al || al[o] < 0)
                    foreach (var x in xs)
                        if (ReferenceEquals(x.Storage, y.Storage)) { y = y.Clone(); break; }
                vals[outs[o]] = y;
            }
        };
    }

    /// <summary>
    /// Chooses how each live call outside the fused groups is replayed, by running it on the traced inputs and comparing
    /// with the traced outputs bit for bit: the entry's replay rule if it has one, else its batching rule with no batched
    /// input (most rules then call the op itself), else its batching rule on a batch of one. A call none of them
    /// reproduces exactly keeps the first that runs and is marked approximate (shown by <see cref="ToText"/>).
    /// </summary>
    private void ChooseReplays()
    {
        foreach (var n in Nodes)
        {
            if (!n.Dead && n.Group < 0) ChooseReplay(n);
            n.Traced = null;
        }
    }

    private static void ChooseReplay(GNode n)
    {
        {
            if (n.Traced is not { } t) return;
            if (n.Def.Replay is null && n.Def.ReplayAttr is null && !n.Def.HasBatchRule)
                throw new CompileException($"Compile: the op {n.Def.Name} cannot be replayed yet (its registry entry has neither a replay rule nor a batching rule). " +
                    "Compute it outside the compiled function, or run the function eagerly.");
            ReplayMode[] modes = n.Def.Replay is not null || n.Def.ReplayAttr is not null ? [ReplayMode.Rule]
                : n.Def.Linear && n.Def.HasJvp ? [ReplayMode.LinearJvp, ReplayMode.Unbatched, ReplayMode.BatchOfOne]
                : [ReplayMode.Unbatched, ReplayMode.BatchOfOne];
            ReplayMode? first = null;
            foreach (var mode in modes)
            {
                n.Mode = mode;
                Tensor?[] ys;
                try
                {
                    using (Autograd.NoGrad()) ys = RunGeneric(n, [.. t.Inputs.Select(x => x!)], t.Attr);
                }
                catch (Exception e) when (e is FluxionException or ArgumentException or InvalidOperationException or IndexOutOfRangeException or NullReferenceException)
                {
                    continue;
                }
                first ??= mode;
                if (Enumerable.Range(0, n.Out.Length).All(o => n.Out[o] < 0 || SameValues(t.Outputs[o]!, ys[o]!))) { first = null; break; }
            }
            if (first is { } f)
            {
                n.Mode = f;
                n.Approximate = true;
            }
        }
    }

    private static bool SameValues(Tensor a, Tensor b)
    {
        if (a.DType != b.DType || !ShapeUtil.SameShape(a.ShapeRef, b.ShapeRef)) return false;
        var x = a.ToDoubleArray();
        var y = b.ToDoubleArray();
        for (int i = 0; i < x.Length; i++)
            if (!x[i].Equals(y[i])) return false;
        return true;
    }

    private static Tensor?[] RunGeneric(GNode n, Tensor[] xs, object? attr) => RunGeneric(n, xs, attr, out _);

    /// <summary>Runs one call on concrete inputs; checks the outputs' shapes against the trace. <paramref name="newAttr"/>:
    /// the attribute recomputed by a <see cref="OpDef.ReplayAttr"/> rule (else the one given).</summary>
    private static Tensor?[] RunGeneric(GNode n, Tensor[] xs, object? attr, out object? newAttr)
    {
        Tensor?[] ys;
        newAttr = attr;
        if (n.Mode == ReplayMode.Rule && n.Def.ReplayAttr is { } ra) (ys, newAttr) = ra(xs, attr);
        else if (n.Mode == ReplayMode.Rule) ys = n.Def.Replay!(xs, attr);
        else if (n.Mode == ReplayMode.LinearJvp)
            ys = n.Def.Tangents(new OpCtx(xs, null, null, attr), [.. xs.Select(x => x.DType.IsFloatingPoint() ? x : null)]);
        else if (n.Mode == ReplayMode.Unbatched) ys = n.Def.RunBatch(new BatchCtx(xs, new bool[xs.Length], 1, attr, n.Shapes, n.DTypes));
        else
        {
            var b = new bool[xs.Length];
            Array.Fill(b, true);
            bool attrBatched = attr is Tensor;
            ys = n.Def.RunBatch(new BatchCtx([.. xs.Select(x => x.Unsqueeze(0))], b, 1, attr is Tensor at ? at.Unsqueeze(0) : attr, n.Shapes, n.DTypes) { AttrBatched = attrBatched });
        }
        var result = new Tensor?[n.Out.Length];
        for (int o = 0; o < n.Out.Length; o++)
        {
            if (n.Out[o] < 0) continue;
            var y = o < ys.Length ? ys[o] : null;
            var want = n.Shapes[o];
            // a batching rule may give the (size-1) batch dim back
            if (y is not null && y.Rank == want.Length + 1 && y.Shape[0] == 1 && ShapeUtil.SameShape(y.ShapeRef.AsSpan(1), want)) y = y.Select(0, 0);
            if (y is null || !ShapeUtil.SameShape(y.ShapeRef, want))
                throw new CompileException($"Compile: {n.Def.Name} gave {(y is null ? "no tensor" : $"shape {ShapeUtil.Format(y.Shape)}")} for output {o} on replay, but {ShapeUtil.Format(want)} when traced: " +
                    "its output shape depends on the input values (e.g. a mask's count of true entries), which a static graph cannot replay. Keep shapes fixed (Where instead of MaskedSelect), or run this part eagerly.");
            result[o] = y;
        }
        return result;
    }
}
