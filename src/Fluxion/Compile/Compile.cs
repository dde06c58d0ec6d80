using Fluxion.Nn;

namespace Fluxion;

/// <summary>A function cannot be compiled as written: it reads traced values (data-dependent control flow), gives
/// shapes that depend on values, writes traced values in place into outside tensors, draws random numbers, or uses an
/// op compile cannot replay. The message names the op and the fix.</summary>
public sealed class CompileException : FluxionException
{
    /// <summary>Creates the exception with a message.</summary>
    public CompileException(string message) : base(message) { }
}

/// <summary>What <see cref="Functional.Compile(Func{Tensor[], Tensor[]}, CompileOptions?)"/> does to the traced graph.</summary>
public sealed record CompileOptions
{
    /// <summary>How many traced graphs (one per guard: input shapes, dtypes, requires-grad, grad mode) are kept; the least
    /// recently used one is dropped beyond it.</summary>
    public int CacheSize { get; init; } = 8;

    /// <summary>Common-subexpression elimination: a second call of the same op on the same values with the same attributes reuses the first.</summary>
    public bool Cse { get; init; } = true;

    /// <summary>Elementwise fusion: a chain of elementwise ops runs as one pass over memory, in blocks that fit in the L1 cache.</summary>
    public bool Fuse { get; init; } = true;

    /// <summary>Memory planning: the outputs of fused groups live in a preallocated arena, buffers reused by liveness.</summary>
    public bool PlanMemory { get; init; } = true;

    /// <summary>Treat the parameters (leaves that require grad) as constants: ops that depend only on them are computed
    /// once at compile time (constant folding). For inference; a later change of the parameters is not seen.</summary>
    public bool FreezeParameters { get; init; }

    /// <summary>An optimizer whose step belongs to the compiled training step: every call (traced or replayed) clears
    /// its gradients first (<see cref="Optim.Optimizer.ZeroGrad(bool)"/>), runs the function (whose backward the graph
    /// replays, writing the parameters' gradients) and then applies <see cref="Optim.Optimizer.Step()"/> as the graph's
    /// last step, so a call equals eager's <c>ZeroGrad(); f(x); Step()</c> bit for bit. The step runs the optimizer's
    /// own fused per-parameter kernel (one pass over parameter, gradient and state), not traced ops.</summary>
    public Optim.Optimizer? Optimizer { get; init; }

    /// <summary>Activation memory budget of a joint forward+backward graph, as a fraction of the activation memory the
    /// backward would keep if it stored everything (1 = store all, 0 = recompute all that can be recomputed): the
    /// planner (<see cref="ActivationPlan"/>: minimum cuts of the joint graph, with a greedy eviction sequence as
    /// fallback) keeps some forward values and recomputes the others in the backward, taking the plan of least modeled
    /// recomputation within the budget (cheap ops — elementwise, views, pooling, norms — before GEMM and convolution). Null: store all.
    /// Ignored when <see cref="ActivationBudgetBytes"/> is set.</summary>
    public double? ActivationBudget { get; init; }

    /// <summary>Activation memory budget of a joint graph in bytes (see <see cref="ActivationBudget"/>). Null: use <see cref="ActivationBudget"/>.</summary>
    public long? ActivationBudgetBytes { get; init; }
}

/// <summary>
/// A function compiled by <see cref="Functional.Compile(Func{Tensor[], Tensor[]}, CompileOptions?)"/>: traced on its
/// first inputs into a graph of registry ops, optimized (dead-code and common-subexpression elimination, constant
/// folding of frozen parameters, elementwise fusion, memory planning) and replayed on later calls as a flat list of
/// kernel calls. Guards on the inputs' shapes, dtypes and requires-grad and on the grad mode pick a cached graph or
/// trace again.
/// </summary>
public sealed class CompiledFunction
{
    private readonly Func<Tensor[], Tensor[]> _f;
    private readonly CompileOptions _options;
    private readonly LinkedList<CompiledGraph> _cache = new();

    internal CompiledFunction(Func<Tensor[], Tensor[]> f, CompileOptions options)
    {
        ArgumentNullException.ThrowIfNull(f);
        if (options.ActivationBudget is { } ab && !(ab >= 0))
            throw new ArgumentException($"Compile: ActivationBudget must be a fraction >= 0 (1 = store all), got {ab}.", nameof(options));
        if (options.ActivationBudgetBytes is < 0)
            throw new ArgumentException($"Compile: ActivationBudgetBytes must be >= 0, got {options.ActivationBudgetBytes}.", nameof(options));
        if (options.CacheSize < 1) throw new ArgumentException($"Compile: CacheSize must be at least 1, got {options.CacheSize}.", nameof(options));
        _f = f;
        _options = options;
    }

    /// <summary>Part of the guard beyond the inputs (e.g. a module's training flag).</summary>
    internal Func<long>? ExtraKey { get; init; }

    /// <summary>How many times the function was traced (the first call, then once per guard miss).</summary>
    public int Traces { get; private set; }

    /// <summary>How many traced graphs are cached.</summary>
    public int CachedGraphs => _cache.Count;

    /// <summary>The graph the last call ran (or traced).</summary>
    public CompiledGraph? LastGraph { get; private set; }

    /// <summary>Runs the compiled function. The first call with a given guard traces f (running it eagerly, so its
    /// results are eager results); later calls replay the graph. Gradients that f writes with Backward or
    /// Autograd.Grad into leaves (parameters, inputs) are written by the replay as eager writes them.</summary>
    public Tensor[] Invoke(params Tensor[] inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        for (int i = 0; i < inputs.Length; i++)
            if (inputs[i] is null) throw new ArgumentNullException(nameof(inputs), $"Compile: input {i} is null.");
        if (_options.Optimizer is not { } opt) return InvokeGraph(inputs);
        opt.ZeroGrad();
        var result = InvokeGraph(inputs);
        if (LastGraph is { Joint: false })
            throw new CompileException("Compile: CompileOptions.Optimizer is set but the function computed no gradients (it called neither " +
                "Backward nor Autograd.Grad), so there is no step to take. Call loss.Backward() inside the function, or drop the optimizer option.");
        opt.Step();
        return result;
    }

    private Tensor[] InvokeGraph(Tensor[] inputs)
    {
        bool grad = GradMode.Enabled;
        long extra = ExtraKey?.Invoke() ?? 0;
        for (var n = _cache.First; n is not null; n = n.Next)
        {
            if (!n.Value.Matches(inputs, grad, extra)) continue;
            if (n != _cache.First)
            {
                _cache.Remove(n);
                _cache.AddFirst(n);
            }
            LastGraph = n.Value;
            if (n.Value.Validated) return n.Value.Run(inputs);
            // the second call of a guard traces again and checks that the graph does not depend on the values
            Tensor[] eager;
            CompiledGraph second;
            // a trace builds long-lived state (constants, the arena): no TensorScope releases what it allocates
            using (TensorScope.Suspend()) (second, eager) = CompiledGraph.Trace(_f, inputs, grad, extra, _options, build: false);
            n.Value.Validate(second, inputs);
            return eager;
        }
        CompiledGraph g;
        Tensor[] result;
        using (TensorScope.Suspend()) (g, result) = CompiledGraph.Trace(_f, inputs, grad, extra, _options);
        Traces++;
        _cache.AddFirst(g);
        while (_cache.Count > _options.CacheSize) _cache.RemoveLast();
        LastGraph = g;
        return result;
    }

    /// <summary>Runs the compiled function and returns its first output.</summary>
    public Tensor Call(params Tensor[] inputs) => Invoke(inputs)[0];
}

public static partial class Functional
{
    /// <summary>
    /// Compiles <paramref name="f"/> (as <c>torch.compile</c> / <c>jax.jit</c>): the first call traces f on its inputs into
    /// a static graph of registry ops (parameters it uses are captured by reference), which later calls replay without
    /// dispatch or graph building. When f calls <c>Backward</c> or <c>Autograd.Grad</c>, the backward is traced as ops too
    /// (a joint forward+backward graph) and the replay writes the gradients into the leaves' <c>Grad</c> as eager does.
    /// <para>A new trace happens when the inputs' shapes, dtypes or requires-grad, or the grad mode, differ from every
    /// cached graph. Reading a traced value (<c>Item()</c>: data-dependent control flow), value-dependent shapes, random
    /// numbers and in-place writes into outside tensors raise <see cref="CompileException"/> naming the op.</para>
    /// <para>A compiled function whose outputs need a graph (they require grad and f ran no backward) replays op by op
    /// through the registry, recording the autograd graph; otherwise outputs are plain tensors.</para>
    /// </summary>
    public static CompiledFunction Compile(Func<Tensor[], Tensor[]> f, CompileOptions? options = null) => new(f, options ?? new CompileOptions());

    /// <summary>Compiles a function of several tensors with one output (see <see cref="Compile(Func{Tensor[], Tensor[]}, CompileOptions?)"/>).</summary>
    public static CompiledFunction Compile(Func<Tensor[], Tensor> f, CompileOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(f);
        return new(xs => [f(xs)], options ?? new CompileOptions());
    }

    /// <summary>Compiles a function of one tensor (see <see cref="Compile(Func{Tensor[], Tensor[]}, CompileOptions?)"/>).</summary>
    public static CompiledFunction Compile(Func<Tensor, Tensor> f, CompileOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(f);
        return new(xs => [f(xs[0])], options ?? new CompileOptions());
    }
}
