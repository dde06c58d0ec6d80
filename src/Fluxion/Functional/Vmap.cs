namespace Fluxion;

/// <summary>How <see cref="Functional.Vmap(Func{Tensor[], Tensor[]}, int?[], int[], int?, Randomness)"/> treats random
/// numbers drawn by the function (as torch.func.vmap's <c>randomness</c>).</summary>
public enum Randomness
{
    /// <summary>Drawing random numbers inside the function is an error (the default: it is ambiguous).</summary>
    Error,
    /// <summary>Every example gets the same random numbers.</summary>
    Same,
    /// <summary>Every example gets its own random numbers.</summary>
    Different,
}

/// <summary>How the last <see cref="Functional.Vmap(Func{Tensor[], Tensor[]}, int?[], int[], int?, Randomness)"/> call on this
/// thread ran: batched (every op by its batching rule) or by the per-example loop, and why.</summary>
/// <param name="Batched">True when the function ran once on the whole batch through the entries' batching rules.</param>
/// <param name="Reason">Why it fell back to a loop over the examples (the op without a batching rule, ...), or null.</param>
/// <param name="Ops">How many ops the batched program ran (after dead-code elimination).</param>
public sealed record VmapPlan(bool Batched, string? Reason, int Ops)
{
    /// <summary>True when the call reused the program an earlier call traced (nothing the function captures had changed), without tracing.</summary>
    public bool Reused { get; init; }
}

public static partial class Functional
{
    [ThreadStatic] private static VmapPlan? t_lastVmap;

    /// <summary>How the last Vmap call on this thread ran (for tests and diagnostics).</summary>
    public static VmapPlan? LastVmapPlan => t_lastVmap;

    /// <summary>
    /// Vectorizing map, as JAX's <c>vmap</c> and <c>torch.func.vmap</c>: <paramref name="f"/>, written for one example,
    /// runs over a batch dimension of its inputs. <paramref name="inDims"/>[i] is the batch dim of input i (null: the
    /// input is the same for every example; default: dim 0 of every input); <paramref name="outDims"/>[o] is where
    /// output o gets the batch dim (default 0).
    /// <para>How: f is traced once on one example into a program of registry ops (a backward pass or forward-mode
    /// section inside f is traced as ops too, so <c>Vmap(Grad(loss))</c> gives per-sample gradients), then the program
    /// runs once on the whole batch, each op through its entry's batching rule. When some op of the program has no
    /// rule, or f draws random numbers under <see cref="Randomness.Different"/>, f runs per example instead and the
    /// results are stacked (correct, slower; <see cref="LastVmapPlan"/> says which happened and why).</para>
    /// <para>Vmap composes with every transform (Grad, Vjp, Jvp, JacRev, JacFwd, Hessian, Hvp) in either order and
    /// with itself. Inside f, reading a per-example value (<c>Item()</c>, <c>ToArray()</c>: data-dependent control
    /// flow) or writing one in place into a tensor shared by all examples raises <see cref="VmapException"/>.</para>
    /// </summary>
    /// <param name="f">The function of one example.</param>
    /// <param name="inDims">The batch dim of each input (null entries: not batched).</param>
    /// <param name="outDims">The batch dim of each output in the result.</param>
    /// <param name="chunkSize">Run the batch in chunks of at most this many examples (bounds memory); null: all at once.</param>
    /// <param name="randomness">What random numbers drawn inside f mean (see <see cref="Randomness"/>).</param>
    public static Func<Tensor[], Tensor[]> Vmap(Func<Tensor[], Tensor[]> f, int?[]? inDims = null, int[]? outDims = null,
        int? chunkSize = null, Randomness randomness = Randomness.Error)
    {
        ArgumentNullException.ThrowIfNull(f);
        if (chunkSize is <= 0) throw new ArgumentException($"Vmap: chunkSize must be positive, got {chunkSize}.", nameof(chunkSize));
        // the batched programs of f, reused by later calls while their guard holds (see VmapCache)
        var cache = new VmapCache();
        return xs => VmapCore(f, xs, inDims, outDims, chunkSize, randomness, loopAllowed: true, cache, [f], "")!;
    }

    /// <summary>Vmap of a function of several tensors with one output (see <see cref="Vmap(Func{Tensor[], Tensor[]}, int?[], int[], int?, Randomness)"/>).</summary>
    public static Func<Tensor[], Tensor> Vmap(Func<Tensor[], Tensor> f, int?[]? inDims = null, int outDim = 0,
        int? chunkSize = null, Randomness randomness = Randomness.Error)
    {
        var g = Vmap(xs => new[] { f(xs) }, inDims, [outDim], chunkSize, randomness);
        return xs => g(xs)[0];
    }

    /// <summary>Vmap of a function of one tensor (see <see cref="Vmap(Func{Tensor[], Tensor[]}, int?[], int[], int?, Randomness)"/>).</summary>
    public static Func<Tensor, Tensor> Vmap(Func<Tensor, Tensor> f, int inDim = 0, int outDim = 0,
        int? chunkSize = null, Randomness randomness = Randomness.Error)
    {
        var g = Vmap(xs => new[] { f(xs[0]) }, [inDim], [outDim], chunkSize, randomness);
        return x => g([x])[0];
    }

    /// <summary>Vmap that runs only batched: null when the function would fall back to the per-example loop (the caller
    /// then uses its own vectorized path). For transforms built on Vmap (JacFwd).
    /// <paramref name="cache"/>: where the program is kept for later calls (null: traced every time); it is valid while
    /// <paramref name="guardRoots"/> (what f captures) are unchanged (see <see cref="VmapCache"/>); <paramref name="key"/>
    /// tells apart callers sharing the cache.
    /// <paramref name="identityBasis"/>: xs[0] is the identity matrix (JacFwd's basis directions), which lets the program
    /// skip multiplying by it.</summary>
    internal static Tensor[]? TryVmapBatched(Func<Tensor[], Tensor[]> f, Tensor[] xs, VmapCache? cache = null, object?[]? guardRoots = null, string key = "",
        bool identityBasis = false) =>
        VmapCore(f, xs, null, null, null, Randomness.Error, loopAllowed: false, cache, guardRoots ?? [f], key, identityBasis);

    private static Tensor[]? VmapCore(Func<Tensor[], Tensor[]> f, Tensor[] xs, int?[]? inDims, int[]? outDims, int? chunkSize, Randomness randomness, bool loopAllowed,
        VmapCache? cache, object?[] guardRoots, string key, bool identityBasis = false)
    {
        ArgumentNullException.ThrowIfNull(xs);
        inDims ??= [.. Enumerable.Repeat<int?>(0, xs.Length)];
        if (inDims.Length != xs.Length)
            throw new ArgumentException($"Vmap: {xs.Length} inputs but {inDims.Length} inDims; give one per input (null for an input that is not batched).", nameof(inDims));
        int batch = -1;
        var moved = new Tensor[xs.Length];
        var isB = new bool[xs.Length];
        for (int i = 0; i < xs.Length; i++)
        {
            var x = xs[i] ?? throw new ArgumentNullException(nameof(xs), $"Vmap: input {i} is null.");
            if (inDims[i] is not { } d) { moved[i] = x; continue; }
            if (x.Rank == 0)
                throw new ShapeMismatchException($"Vmap: input {i} is 0-d, so it has no dim {d} to map over; pass null as its in-dim to use it for every example.");
            int dd = ShapeUtil.WrapDim("Vmap", d, x.Rank);
            int n = x.Shape[dd];
            if (batch >= 0 && n != batch)
                throw new ShapeMismatchException($"Vmap: the mapped dims have different sizes: input {i} (shape {ShapeUtil.Format(x.Shape)}) has {n} at dim {d}, an earlier input has {batch}. Every batched input needs the same batch size.");
            batch = n;
            moved[i] = dd == 0 ? x : x.Movedim(dd, 0);
            isB[i] = true;
        }
        if (batch < 0)
            throw new ArgumentException("Vmap: no input is batched (every in-dim is null); give at least one input a batch dim.", nameof(inDims));

        Tensor[] result;
        if (batch == 0 && !loopAllowed) return null;
        if (batch == 0) result = Loop(f, moved, isB, 0, randomness);
        else
        {
            var plan = CachedPlan(f, moved, isB, batch, randomness, cache, guardRoots, key, out var program);
            t_lastVmap = plan;
            if (!plan.Batched && !loopAllowed) return null;
            if (!plan.Batched) result = Loop(f, moved, isB, batch, randomness);
            else if (chunkSize is { } cs && cs < batch)
            {
                var parts = new List<Tensor[]>();
                for (int s = 0; s < batch; s += cs)
                {
                    int len = Math.Min(cs, batch - s);
                    var chunk = moved.Select((m, i) => isB[i] ? m.Narrow(0, s, len) : m).ToArray();
                    parts.Add(program!.Run(chunk, isB, len));
                }
                result = [.. Enumerable.Range(0, parts[0].Length).Select(o => Tensor.Cat([.. parts.Select(p => p[o])], 0))];
            }
            else result = program!.Run(moved, isB, batch, identityBasis ? 0 : -1);
        }
        if (batch == 0) t_lastVmap = new VmapPlan(false, "the batch is empty", 0);

        outDims ??= new int[result.Length];
        if (outDims.Length != result.Length)
            throw new ArgumentException($"Vmap: the function returned {result.Length} outputs but {outDims.Length} outDims were given; give one per output.", nameof(outDims));
        for (int o = 0; o < result.Length; o++)
            if (outDims[o] != 0) result[o] = result[o].Movedim(0, ShapeUtil.WrapDim("Vmap", outDims[o], result[o].Rank));
        return result;
    }

    /// <summary><see cref="Plan"/> through the cache: a cached program whose guard holds, else a trace (kept when it runs
    /// batched and drew no random numbers; the guard is taken before the trace, so a function that changes its own
    /// captured state is traced again at the next call, as it would run again without the cache).</summary>
    private static VmapPlan CachedPlan(Func<Tensor[], Tensor[]> f, Tensor[] moved, bool[] isB, int batch, Randomness randomness,
        VmapCache? cache, object?[] guardRoots, string key, out VmapProgram? program)
    {
        if (cache is null || !VmapCache.Usable) return Plan(f, moved, isB, batch, randomness, out program);
        string k = VmapCache.KeyOf(moved, isB, key);
        if (cache.Find(k, moved, isB, guardRoots) is { } hit)
        {
            program = hit.Program;
            return hit.Plan with { Reused = true };
        }
        var guard = CaptureGuard.Take(guardRoots);
        var plan = Plan(f, moved, isB, batch, randomness, out program);
        if (guard is not null && plan.Batched && program is { UsedRandomness: false }) cache.Add(k, moved, isB, guard, program, plan);
        return plan;
    }

    /// <summary>Traces f on the first (and the last) example and decides whether the batched program can run.</summary>
    private static VmapPlan Plan(Func<Tensor[], Tensor[]> f, Tensor[] moved, bool[] isB, int batch, Randomness randomness, out VmapProgram? program)
    {
        program = VmapProgram.Trace(f, moved, isB, 0);
        if (program.UsedRandomness)
        {
            if (randomness == Randomness.Error)
                throw new VmapException("Vmap: the function draws random numbers (e.g. Dropout, Rand), which is ambiguous per example. " +
                    "Pass randomness: Randomness.Same (one draw shared by every example) or Randomness.Different (independent draws per example), or draw outside and pass the values in.");
            if (randomness == Randomness.Different)
                return new VmapPlan(false, "randomness: Different (each example draws its own numbers)", 0);
        }
        if (program.Missing is { } missing)
            return new VmapPlan(false, $"the op {missing} has no batching rule", 0);
        if (batch > 1)
        {
            // a second trace on another example: a constant that differs between the two was computed from the
            // example's values by an op the tracer did not see, and control flow that differs is data-dependent
            var other = VmapProgram.Trace(f, moved, isB, batch - 1);
            if (program.Difference(other) is { } diff)
                return new VmapPlan(false, diff, 0);
        }
        return new VmapPlan(true, null, program.LiveOps);
    }

    /// <summary>The fallback: f per example (slices stay connected to the inputs' graphs), results stacked.</summary>
    private static Tensor[] Loop(Func<Tensor[], Tensor[]> f, Tensor[] moved, bool[] isB, int batch, Randomness randomness)
    {
        if (batch == 0)
            throw new ShapeMismatchException("Vmap: the batch is empty (size 0), so the function's output shapes are unknown; call it on a non-empty batch.");
        var gen = Generator.Default;
        var start = gen.GetState();
        List<Tensor>[]? outs = null;
        for (int b = 0; b < batch; b++)
        {
            if (randomness == Randomness.Same) gen.SetState(start);
            var ex = moved.Select((m, i) => isB[i] ? m.Select(0, b) : m).ToArray();
            var ys = f(ex);
            outs ??= [.. ys.Select(_ => new List<Tensor>())];
            if (ys.Length != outs.Length)
                throw new VmapException($"Vmap: the function returned {ys.Length} outputs for example {b} but {outs.Length} for example 0; it must return the same number every time.");
            for (int o = 0; o < ys.Length; o++) outs[o].Add(ys[o]);
        }
        return [.. outs!.Select(l => Tensor.Stack([.. l], 0))];
    }
}

/// <summary>A traced function, replayed on a whole batch through the entries' batching rules.</summary>
internal sealed class VmapProgram
{
    private readonly List<TraceNode> _nodes;
    private readonly int[] _inVars;
    private readonly TraceArg[] _outputs;
    private readonly bool[] _live;

    private VmapProgram(List<TraceNode> nodes, int[] inVars, TraceArg[] outputs, bool usedRandomness)
    {
        _nodes = nodes;
        _inVars = inVars;
        _outputs = outputs;
        UsedRandomness = usedRandomness;
        // dead-code elimination: only nodes some output depends on run
        _live = new bool[nodes.Count];
        var needed = new HashSet<int>(outputs.Where(o => o.Var >= 0).Select(o => o.Var));
        for (int n = nodes.Count - 1; n >= 0; n--)
        {
            var node = nodes[n];
            if (!node.Outputs.Any(needed.Contains)) continue;
            _live[n] = true;
            LiveOps++;
            foreach (var a in node.Inputs) if (a.Var >= 0) needed.Add(a.Var);
            if (node.AttrVar >= 0) needed.Add(node.AttrVar);
            if (Missing is null && !node.Def.HasBatchRule) Missing = node.Def.Name;
        }
    }

    /// <summary>The traced function drew random numbers.</summary>
    public bool UsedRandomness { get; }

    /// <summary>The first live op without a batching rule, or null.</summary>
    public string? Missing { get; }

    /// <summary>How many ops the program runs.</summary>
    public int LiveOps { get; }

    /// <summary>Traces f on example <paramref name="b"/> of the batched inputs.</summary>
    public static VmapProgram Trace(Func<Tensor[], Tensor[]> f, Tensor[] moved, bool[] isB, int b)
    {
        using var tracer = Tracer.Begin("Vmap");
        var ex = new Tensor[moved.Length];
        var inVars = new int[moved.Length];
        for (int i = 0; i < moved.Length; i++)
        {
            if (!isB[i]) { ex[i] = moved[i]; inVars[i] = -1; continue; }
            // a fresh tensor (no history): the trace must not reach into the inputs' own graphs
            ex[i] = moved[i].Select(0, b).Detach();
            inVars[i] = tracer.AddInput(ex[i]);
        }
        Tensor[] ys;
        using (Autograd.NoGrad()) ys = f(ex);
        var outs = ys.Select(y => y is null
            ? throw new VmapException("Vmap: the function returned a null output; return a tensor for every output.")
            : tracer.VarOf(y) is var v && v >= 0 ? new TraceArg(v, null) : new TraceArg(-1, y.Detach())).ToArray();
        return new VmapProgram(tracer.Nodes, inVars, outs, tracer.UsedRandomness);
    }

    /// <summary>Why two traces of the same function on different examples differ, or null when they agree.</summary>
    public string? Difference(VmapProgram other)
    {
        if (_nodes.Count != other._nodes.Count || _outputs.Length != other._outputs.Length)
            return "the function runs different ops for different examples (data-dependent control flow)";
        for (int n = 0; n < _nodes.Count; n++)
        {
            TraceNode a = _nodes[n], b = other._nodes[n];
            if (a.Def != b.Def || a.Inputs.Length != b.Inputs.Length || a.OutShapes.Length != b.OutShapes.Length || a.AttrVar != b.AttrVar)
                return $"the function runs different ops for different examples (op {n}: {a.Def.Name} vs {b.Def.Name})";
            for (int o = 0; o < a.OutShapes.Length; o++)
                if (!ShapeUtil.SameShape(a.OutShapes[o], b.OutShapes[o]))
                    return $"{a.Def.Name} gives shapes that depend on the example ({ShapeUtil.Format(a.OutShapes[o])} vs {ShapeUtil.Format(b.OutShapes[o])})";
            if (!_live[n]) continue;
            // attributes computed from the example's values (argmax positions, batch statistics) would be replayed
            // for every example: such an op can only run per example
            if (a.AttrVar < 0 && !a.Def.BatchRecomputesAttr && !SameAttr(a.Attr, b.Attr, 0))
                return $"the attributes of {a.Def.Name} depend on the example's values";
            for (int i = 0; i < a.Inputs.Length; i++)
            {
                TraceArg x = a.Inputs[i], y = b.Inputs[i];
                if (x.Var != y.Var || !SameConstant(x.Const, y.Const))
                    return $"an input of {a.Def.Name} depends on the example's values but was computed by an op the tracer does not see";
            }
        }
        for (int o = 0; o < _outputs.Length; o++)
            if (_outputs[o].Var != other._outputs[o].Var || !SameConstant(_outputs[o].Const, other._outputs[o].Const))
                return $"output {o} depends on the example's values through an op the tracer does not see";
        return null;
    }

    /// <summary>Structural equality of two calls' attributes: values, arrays element by element, records and tuples field by field.</summary>
    internal static bool SameAttr(object? a, object? b, int depth)
    {
        if (ReferenceEquals(a, b)) return true;
        if (a is null || b is null || a.GetType() != b.GetType()) return false;
        if (a is Tensor ta) return SameConstant(ta, (Tensor)b);
        if (a is string || a.GetType().IsPrimitive || a.GetType().IsEnum) return a.Equals(b);
        if (a is Array xa)
        {
            var xb = (Array)b;
            if (xa.Length != xb.Length) return false;
            for (int i = 0; i < xa.Length; i++)
                if (!SameAttr(xa.GetValue(i), xb.GetValue(i), depth + 1)) return false;
            return true;
        }
        if (depth > 4) return a.Equals(b);
        foreach (var f in a.GetType().GetFields(System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic))
            if (!SameAttr(f.GetValue(a), f.GetValue(b), depth + 1)) return false;
        return true;
    }

    internal static bool SameConstant(Tensor? a, Tensor? b)
    {
        if (ReferenceEquals(a, b)) return true;
        if (a is null || b is null || a.DType != b.DType || !ShapeUtil.SameShape(a.Shape, b.Shape)) return false;
        // views of the same memory (e.g. the same weight detached by each trace's Grad) hold the same values
        if (ReferenceEquals(a.Storage, b.Storage) && a.Offset == b.Offset && ShapeUtil.SameShape(a.StridesRef, b.StridesRef)) return true;
        var x = a.ToDoubleArray();
        var y = b.ToDoubleArray();
        for (int i = 0; i < x.Length; i++)
            if (!x[i].Equals(y[i])) return false;
        return true;
    }

    /// <summary>Follows the identity basis through reshapes to [batch, 1] and replaces a product W·e_b (W a constant
    /// [m, batch] matrix) by Wᵀ, so JacFwd's first linear layer is a copy instead of a GEMM; null when not applicable.</summary>
    private static Tensor? IdentityShortcut(TraceNode node, HashSet<int> eye, int batch)
    {
        if (node.Inputs.Length == 0 || node.Outputs.Length != 1 || node.Outputs[0] < 0) return null;
        int[] outShape = node.OutShapes[0];
        if (node.Def.Name == "Reshape" && node.Inputs.Length == 1 && eye.Contains(node.Inputs[0].Var)
            && (outShape is [var a] && a == batch || outShape is [var b, 1] && b == batch))
        {
            eye.Add(node.Outputs[0]);
            return null; // the reshape itself runs as usual
        }
        if (node.Def == Tensor.MatMulOp && node.Inputs.Length == 2 && node.Inputs[0] is { Var: < 0, Const: { Rank: 2 } w }
            && eye.Contains(node.Inputs[1].Var) && outShape is [var m, 1] && w.Shape[0] == m && w.Shape[1] == batch && node.OutDTypes[0] == w.DType)
            return w.MT.Clone().Unsqueeze(-1); // a copy: the result must not alias the weight
        return null;
    }

    /// <summary>Diagnostics (an in-process breakdown by op): called before each op the program runs, and with null after the last.</summary>
    internal static Action<TraceNode?>? ProfileHook;

    /// <summary>Runs the program on the batched inputs (batch at dim 0); every output gets the batch at dim 0.
    /// <paramref name="identityInput"/>: the input (or -1) that the caller built as the identity basis of its logical
    /// shape [batch] (JacFwd's directions): a matrix product of a constant matrix with it is that matrix transposed,
    /// copied instead of multiplied.</summary>
    public Tensor[] Run(Tensor[] moved, bool[] isB, int batch, int identityInput = -1)
    {
        var values = new Dictionary<int, Tensor>();
        for (int i = 0; i < moved.Length; i++)
            if (_inVars[i] >= 0) values[_inVars[i]] = moved[i];
        // the variables known to hold the identity basis, as [batch] or [batch, 1] per example
        HashSet<int>? eye = identityInput >= 0 && _inVars[identityInput] >= 0 && moved[identityInput].Rank == 2 ? [_inVars[identityInput]] : null;
        for (int n = 0; n < _nodes.Count; n++)
        {
            if (!_live[n]) continue;
            var node = _nodes[n];
            ProfileHook?.Invoke(node);
            if (eye is not null && IdentityShortcut(node, eye, batch) is { } shortcut)
            {
                values[node.Outputs[0]] = shortcut;
                continue;
            }
            var ins = new Tensor[node.Inputs.Length];
            var bat = new bool[ins.Length];
            for (int i = 0; i < ins.Length; i++)
            {
                var a = node.Inputs[i];
                if (a.Var >= 0) { ins[i] = values[a.Var]; bat[i] = true; }
                else ins[i] = a.Const!;
            }
            var attr = node.AttrVar >= 0 ? values[node.AttrVar] : node.Attr;
            var outs = node.Def.RunBatch(new BatchCtx(ins, bat, batch, attr, node.OutShapes, node.OutDTypes) { AttrBatched = node.AttrVar >= 0 });
            for (int o = 0; o < node.Outputs.Length; o++)
            {
                if (node.Outputs[o] < 0) continue;
                var y = o < outs.Length ? outs[o] : null;
                int[] want = [batch, .. node.OutShapes[o]];
                if (y is null || !ShapeUtil.SameShape(y.Shape, want))
                    throw new InvalidOperationException(
                        $"Vmap: the batching rule of {node.Def.Name} returned {(y is null ? "no tensor" : $"shape {ShapeUtil.Format(y.Shape)}")} for output {o}; expected {ShapeUtil.Format(want)} (the batch, then the traced shape).");
                values[node.Outputs[o]] = y;
            }
        }
        ProfileHook?.Invoke(null);
        return [.. _outputs.Select(o => o.Var >= 0 ? values[o.Var] : o.Const!.Unsqueeze(0).Expand([batch, .. o.Const!.ShapeArray]))];
    }
}
