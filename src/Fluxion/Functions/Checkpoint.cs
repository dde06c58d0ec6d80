using System.Diagnostics;

namespace Fluxion;

/// <summary>
/// Gradient checkpointing (rematerialization): trades compute for memory. A checkpointed function's
/// forward pass records nothing and keeps only its inputs; the backward pass runs the function again
/// with grad enabled and backpropagates through that recomputation.
/// <code>
/// var y = Checkpoint.Run(h => (h.MatMul(w) + b).Tanh(), x);   // w, b captured: their gradients flow too
/// var z = Checkpoint.Sequential(steps, x);                     // sqrt(n) checkpointed segments
/// var plan = Checkpoint.Plan(steps, x, memoryBudgetBytes: 1 &lt;&lt; 20);
/// var out = plan.Run(x);
/// </code>
/// The function must be deterministic given its inputs and the random state: the default generator's
/// state (<see cref="Generator.Default"/>) is saved at the forward pass and restored for the
/// recomputation, so random ops (dropout) draw the same numbers twice.
/// </summary>
public static partial class Checkpoint
{
    /// <summary>
    /// Runs <paramref name="fn"/> on <paramref name="inputs"/> without keeping its intermediate results for
    /// backward; they are recomputed during the backward pass. Tensors that require grad and that
    /// <paramref name="fn"/> uses without receiving them as inputs (captured parameters) are found during
    /// the forward pass and receive their gradients too. Works with <c>createGraph: true</c> (higher
    /// order). Without grad mode, or when inputs carry forward-mode tangents, <paramref name="fn"/> simply
    /// runs (there is nothing to save, or forward mode needs no graph).
    /// </summary>
    /// <remarks>
    /// The forward pass runs <paramref name="fn"/> with grad mode reported on but with recording disabled:
    /// ops build no nodes and only report which of their inputs require grad. <paramref name="fn"/> must
    /// therefore not call Backward/Autograd.Grad itself, and must not modify its inputs or captured tensors
    /// in place (a change to an explicit input during the call is detected; later changes to any saved
    /// input or captured tensor are caught by the usual version check at backward time).
    /// </remarks>
    public static Tensor[] Run(Func<Tensor[], Tensor[]> fn, params Tensor[] inputs)
    {
        ArgumentNullException.ThrowIfNull(fn);
        ArgumentNullException.ThrowIfNull(inputs);
        for (int i = 0; i < inputs.Length; i++)
            if (inputs[i] is null) throw new ArgumentNullException(nameof(inputs), $"Checkpoint.Run: input {i} is null.");
        if (!GradMode.Enabled || HasActiveTangents(inputs)) return fn(inputs);

        var gen = Generator.Default;
        var rng = gen.GetState();
        var versions = Array.ConvertAll(inputs, t => t.Version);
        var collected = new List<Tensor>();
        Tensor[] outputs;
        using (Recording.CollectInputs(collected))
        using (ForwardLevels.Suspend(0))
            outputs = fn(inputs);
        if (outputs is null || outputs.Length == 0)
            throw new AutogradException("Checkpoint.Run: the function returned no outputs; return at least one tensor.");
        for (int i = 0; i < inputs.Length; i++)
            if (inputs[i].Version != versions[i])
                throw new AutogradException(
                    $"Checkpoint.Run: the function modified its input {i} (shape {ShapeUtil.Format(inputs[i].Shape)}) in place; the recomputation in the backward pass would see the modified value. " +
                    "Checkpointed functions must not modify their inputs in place: compute a new tensor instead.");
        if (collected.Count == 0) return outputs; // nothing requires grad: no graph to build
        if (HasActiveTangents(collected))
        {
            // A captured tensor carries a forward-mode tangent: run normally so that forward mode sees it.
            gen.SetState(rng);
            return fn(inputs);
        }

        var extras = new List<Tensor>();
        foreach (var t in collected)
            if (Array.FindIndex(inputs, x => ReferenceEquals(x, t)) < 0 && !extras.Exists(e => ReferenceEquals(e, t)))
                extras.Add(t);
        var all = new Tensor[inputs.Length + extras.Count];
        inputs.CopyTo(all, 0);
        extras.CopyTo(all, inputs.Length);
        return new CheckpointFunction(fn, rng, outputs, inputs.Length).Apply(all);
    }

    /// <summary>Single-input, single-output form of <see cref="Run(Func{Tensor[], Tensor[]}, Tensor[])"/>.</summary>
    public static Tensor Run(Func<Tensor, Tensor> fn, Tensor input)
    {
        ArgumentNullException.ThrowIfNull(fn);
        return Run(xs => [fn(xs[0])], [input])[0];
    }

    /// <summary>
    /// Runs a chain of steps x, steps[0] applied to x, steps[1] applied to that, and so on, split into <paramref name="segments"/>
    /// contiguous segments of (nearly) equal length, ⌈√n⌉ by default. Every segment but the last is
    /// checkpointed; the last one runs normally, since its activations are needed as soon as the backward
    /// pass starts (as PyTorch's checkpoint_sequential). With one segment nothing is checkpointed.
    /// </summary>
    public static Tensor Sequential(IReadOnlyList<Func<Tensor, Tensor>> steps, Tensor x, int? segments = null)
    {
        ArgumentNullException.ThrowIfNull(steps);
        ArgumentNullException.ThrowIfNull(x);
        int n = steps.Count;
        if (n == 0) return x;
        int m = segments ?? (int)Math.Ceiling(Math.Sqrt(n));
        if (m < 1)
            throw new ArgumentOutOfRangeException(nameof(segments), $"Checkpoint.Sequential: segments must be at least 1, got {m}.");
        m = Math.Min(m, n);
        int start = 0;
        for (int s = 0; s < m; s++)
        {
            int count = n / m + (s < n % m ? 1 : 0);
            int from = start;
            x = s < m - 1 ? Run(h => RunSteps(steps, from, count, h), x) : RunSteps(steps, from, count, x);
            start += count;
        }
        return x;
    }

    /// <summary>
    /// Measures the steps on <paramref name="x"/> and chooses which contiguous segments to checkpoint so that
    /// the modeled peak memory stays within <paramref name="memoryBudgetBytes"/> at the least recomputation
    /// cost. See <see cref="CheckpointPlan"/> for the exact cost model.
    /// </summary>
    /// <param name="steps">The chain: x_i is steps[i-1] applied to x_{i-1}.</param>
    /// <param name="x">A representative input (the measurement pass runs the whole chain on it once, one
    /// step's graph at a time; the default generator's state is restored afterwards).</param>
    /// <param name="memoryBudgetBytes">The modeled peak to stay within.</param>
    /// <param name="stepCosts">Optional recomputation cost of each step (any unit) to use instead of the
    /// measured times, e.g. to make the plan reproducible.</param>
    public static CheckpointPlan Plan(IReadOnlyList<Func<Tensor, Tensor>> steps, Tensor x, long memoryBudgetBytes, IReadOnlyList<double>? stepCosts = null)
    {
        ArgumentNullException.ThrowIfNull(steps);
        ArgumentNullException.ThrowIfNull(x);
        int n = steps.Count;
        if (stepCosts is not null && stepCosts.Count != n)
            throw new ArgumentException($"Checkpoint.Plan: {n} steps but {stepCosts.Count} step costs; give one cost per step.", nameof(stepCosts));
        var inner = new long[n];
        var savesInput = new bool[n];
        var savesOutput = new bool[n];
        var outBytes = new long[n + 1];
        var cost = new double[n];
        outBytes[0] = x.Storage.Bytes;

        // Measurement pass: each step alone on a graph-connected copy of its input (so it records and saves
        // exactly what it does inside the chain), one step's graph alive at a time.
        var gen = Generator.Default;
        var rng = gen.GetState();
        try
        {
            var h = x.Detach();
            for (int i = 0; i < n; i++)
            {
                Tensor hin = h;
                if (h.DType.IsFloatingPoint())
                {
                    var leaf = h.Detach();
                    leaf.RequiresGrad = true;
                    using (Autograd.EnableGrad()) hin = leaf.AliasForDual();
                }
                long before = Node.LastSequence;
                var sw = Stopwatch.StartNew();
                Tensor y;
                using (Autograd.EnableGrad()) y = steps[i](hin) ?? throw new AutogradException($"Checkpoint.Plan: step {i} returned null.");
                sw.Stop();
                foreach (var st in GraphWalk.ActivationStorages([y], before))
                {
                    if (ReferenceEquals(st, hin.Storage)) savesInput[i] = true;
                    else if (ReferenceEquals(st, y.Storage)) savesOutput[i] = true;
                    else inner[i] += st.Bytes;
                }
                outBytes[i + 1] = y.Storage.Bytes;
                cost[i] = stepCosts?[i] ?? sw.Elapsed.TotalSeconds;
                h = y.Detach();
            }
        }
        finally
        {
            gen.SetState(rng);
        }
        for (int i = 0; i < n; i++)
        {
            if (!(cost[i] >= 0) || double.IsInfinity(cost[i]))
                throw new ArgumentException($"Checkpoint.Plan: the cost of step {i} is {cost[i]}; costs must be finite and non-negative.", nameof(stepCosts));
            cost[i] = Math.Max(cost[i], CheckpointPlan.MinStepCost);
        }
        return CheckpointPlan.Solve(steps, new CheckpointPlan.Profile(inner, savesInput, savesOutput, outBytes, cost), memoryBudgetBytes);
    }

    internal static Tensor RunSteps(IReadOnlyList<Func<Tensor, Tensor>> steps, int from, int count, Tensor x)
    {
        for (int k = from; k < from + count; k++)
            x = steps[k](x) ?? throw new AutogradException($"Checkpoint: step {k} returned null.");
        return x;
    }

    private static bool HasActiveTangents(IEnumerable<Tensor> ts)
    {
        if (ForwardLevels.ActiveCount == 0) return false;
        foreach (var t in ts) if (t.HasTangents) return true;
        return false;
    }

    /// <summary>
    /// The node of one checkpointed call. Its inputs are the explicit inputs followed by the captured
    /// tensors that require grad; it saves all of them (version-checked) and, in backward, recomputes the
    /// function from the explicit inputs and backpropagates through the recomputed graph only (the engine
    /// stops at nodes that existed before the recomputation).
    /// </summary>
    private sealed class CheckpointFunction : CustomFunction
    {
        private readonly Func<Tensor[], Tensor[]> _fn;
        private readonly GeneratorState _rng;
        private readonly int _explicitCount;
        private readonly int[][] _outShapes;
        private Tensor[]? _outputs;

        public CheckpointFunction(Func<Tensor[], Tensor[]> fn, GeneratorState rng, Tensor[] outputs, int explicitCount)
        {
            _fn = fn;
            _rng = rng;
            _outputs = outputs;
            _explicitCount = explicitCount;
            _outShapes = Array.ConvertAll(outputs, o => o.ShapeArray);
        }

        public override string Name => "Checkpoint";

        public override Tensor[] Forward(FunctionContext ctx, Tensor[] inputs)
        {
            ctx.SaveForBackward(inputs);
            var o = _outputs!;
            _outputs = null; // the node must not keep its outputs alive
            return o;
        }

        public override Tensor?[] Backward(FunctionContext ctx, Tensor[] gradOutputs)
        {
            bool create = GradMode.Enabled; // the backward pass's createGraph
            var inputs = ctx.SavedTensors;
            var needs = ctx.NeedsInputGrad;
            var result = new Tensor?[inputs.Count];

            var gen = Generator.Default;
            var now = gen.GetState();
            long boundary = Node.LastSequence;
            Tensor[] outs;
            gen.SetState(_rng);
            try
            {
                var explicitInputs = new Tensor[_explicitCount];
                for (int i = 0; i < _explicitCount; i++) explicitInputs[i] = inputs[i];
                using (Autograd.EnableGrad()) outs = _fn(explicitInputs);
            }
            finally
            {
                gen.SetState(now);
            }
            if (outs is null || outs.Length != _outShapes.Length)
                throw new AutogradException(
                    $"Checkpoint: the recomputation returned {outs?.Length ?? 0} outputs but the forward pass returned {_outShapes.Length}; a checkpointed function must be deterministic.");
            var roots = new List<Tensor>();
            var seeds = new List<Tensor>();
            for (int o = 0; o < outs.Length; o++)
            {
                if (!ShapeUtil.SameShape(outs[o].Shape, _outShapes[o]))
                    throw new AutogradException(
                        $"Checkpoint: output {o} of the recomputation has shape {ShapeUtil.Format(outs[o].Shape)} but had shape {ShapeUtil.Format(_outShapes[o])} in the forward pass; a checkpointed function must be deterministic.");
                if (!outs[o].RequiresGrad || !outs[o].DType.IsFloatingPoint()) continue;
                roots.Add(outs[o]);
                seeds.Add(gradOutputs[o]);
            }
            // Differentiate with respect to each needed input once (an input passed twice gets its whole gradient at its first position).
            var targets = new List<Tensor>();
            var positions = new List<int>();
            for (int i = 0; i < inputs.Count; i++)
            {
                var t = inputs[i];
                if (!needs[i] || !t.RequiresGrad || targets.Exists(x => ReferenceEquals(x, t))) continue;
                targets.Add(t);
                positions.Add(i);
            }
            if (roots.Count == 0 || targets.Count == 0) return result;
            var grads = Engine.Run(roots.ToArray(), seeds.ToArray(), retainGraph: create, createGraph: create,
                targets.ToArray(), allowUnused: true, boundary)!;
            for (int k = 0; k < targets.Count; k++) result[positions[k]] = grads[k];
            return result;
        }
    }
}

/// <summary>One contiguous run of steps in a <see cref="CheckpointPlan"/>.</summary>
/// <param name="Start">Index of the first step.</param>
/// <param name="Count">Number of steps.</param>
/// <param name="Checkpointed">Whether the segment is checkpointed (recomputed in backward).</param>
public readonly record struct CheckpointSegment(int Start, int Count, bool Checkpointed);

/// <summary>
/// A checkpointing plan for a chain of steps, chosen by <see cref="Checkpoint.Plan"/>; <see cref="Run"/>
/// executes it.
/// <para><b>Measurements.</b> The chain is x_0 = x, x_i = step_i(x_{i-1}) for i = 1..n. Each step is run
/// once alone (with grad, on a graph-connected copy of its input) and the storages its nodes save for
/// backward are sorted out, parameters (leaves that require grad) excluded, as <c>GraphMemory</c>
/// counts them: in_i / out_i tell whether the step saves its input x_{i-1} / its output x_i, and e_i is the
/// bytes of the other storages it saves (its internal activations). o_k is the bytes of x_k's storage
/// and c_k the step's cost (measured forward seconds, or the given costs; at least
/// <see cref="MinStepCost"/>).</para>
/// <para><b>Memory model.</b> A plan splits steps 1..n into contiguous segments, each plain or
/// checkpointed. A plain step keeps what it saves until its backward; a checkpointed segment S = s..t keeps
/// only its input x_{s-1} and recomputes its steps in backward. Each storage is counted once. After the
/// forward pass the retained bytes are</para>
/// <para>M = Σ_{plain i} e_i + Σ_k o_k·[x_k retained], where x_k is retained when step k is plain and out_k,
/// or step k+1 is plain and in_{k+1}, or a checkpointed segment starts at step k+1.</para>
/// <para>When the backward pass reaches a checkpointed segment S = s..t, the later segments are already
/// freed and the earlier ones still held, and the recomputation saves that segment's activations:</para>
/// <para>R(S) = Σ_{plain i&lt;s} e_i + Σ_{k&lt;s-1} o_k·[x_k retained] + o_{s-1} + Σ_{i=s..t} e_i
/// + Σ_{k=s..t-1} o_k·[out_k or in_{k+1}] + o_t·[out_t].</para>
/// <para>The modeled peak is max(M, max over checkpointed S of R(S)); the recomputation cost is the sum of
/// c_i over checkpointed steps. Gradient buffers, the transient memory of a forward pass and the
/// function's own output are not modeled; a chain input that requires grad is counted although
/// <c>GraphMemory</c> treats it as a parameter, so the model errs on the high side.</para>
/// <para><b>Choice.</b> Among the plans with peak ≤ budget, the one with the least recomputation cost
/// (ties: lower peak, then fewer segments), found exactly by dynamic programming over the boundaries
/// 0..n with Pareto sets of labels (retained bytes, peak so far, cost, whether x_i is already retained).
/// When no plan fits, the plan with the smallest modeled peak is returned (ties: least cost) and
/// <see cref="FitsBudget"/> is false — the most memory-saving checkpointing the model knows; with an
/// unlimited budget nothing is checkpointed.</para>
/// </summary>
public sealed class CheckpointPlan
{
    /// <summary>Floor applied to every step cost, so that recomputation is never free.</summary>
    public const double MinStepCost = 1e-9;

    /// <summary>Above this many labels at one boundary the least promising are dropped (the search is then no longer exhaustive).</summary>
    internal const int MaxLabels = 4096;

    /// <summary>The measurements of a chain (see the class remarks for the symbols).</summary>
    internal sealed record Profile(long[] Inner, bool[] SavesInput, bool[] SavesOutput, long[] OutBytes, double[] Cost);

    private readonly IReadOnlyList<Func<Tensor, Tensor>> _steps;
    private readonly Profile _p;

    private CheckpointPlan(IReadOnlyList<Func<Tensor, Tensor>> steps, Profile profile, CheckpointSegment[] segments, long budget, bool fits)
    {
        _steps = steps;
        _p = profile;
        Segments = segments;
        BudgetBytes = budget;
        FitsBudget = fits;
        ExpectedPeakBytes = EstimatePeakBytes(segments);
        RecomputeCost = EstimateRecomputeCost(segments);
        NoCheckpointPeakBytes = steps.Count == 0 ? 0 : EstimatePeakBytes([new CheckpointSegment(0, steps.Count, false)]);
    }

    /// <summary>The segments, in order, covering every step once (step indices are 0-based).</summary>
    public IReadOnlyList<CheckpointSegment> Segments { get; }

    /// <summary>e_i: bytes each step saves for backward besides its input and output (0-based).</summary>
    public IReadOnlyList<long> StepInnerBytes => _p.Inner;

    /// <summary>in_i: whether each step saves its input for backward.</summary>
    public IReadOnlyList<bool> StepSavesInput => _p.SavesInput;

    /// <summary>out_i: whether each step saves its output for backward.</summary>
    public IReadOnlyList<bool> StepSavesOutput => _p.SavesOutput;

    /// <summary>o_0..o_n: bytes of the chain input (index 0) and of each step's output (index i + 1 for 0-based step i).</summary>
    public IReadOnlyList<long> OutputBytes => _p.OutBytes;

    /// <summary>c_i: the cost of each step used by the plan (seconds when measured).</summary>
    public IReadOnlyList<double> StepCosts => _p.Cost;

    /// <summary>The memory budget the plan was made for.</summary>
    public long BudgetBytes { get; }

    /// <summary>Whether the modeled peak is within the budget (false when no plan could fit).</summary>
    public bool FitsBudget { get; }

    /// <summary>The modeled peak bytes of the plan.</summary>
    public long ExpectedPeakBytes { get; }

    /// <summary>The modeled peak without any checkpointing.</summary>
    public long NoCheckpointPeakBytes { get; }

    /// <summary>Total cost of the steps recomputed in backward (same unit as <see cref="StepCosts"/>).</summary>
    public double RecomputeCost { get; }

    /// <summary>Number of checkpointed segments.</summary>
    public int CheckpointCount => Segments.Count(s => s.Checkpointed);

    /// <summary>Runs the chain on <paramref name="x"/> following the plan.</summary>
    public Tensor Run(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        foreach (var s in Segments)
        {
            var seg = s;
            x = seg.Checkpointed
                ? Checkpoint.Run(h => Checkpoint.RunSteps(_steps, seg.Start, seg.Count, h), x)
                : Checkpoint.RunSteps(_steps, seg.Start, seg.Count, x);
        }
        return x;
    }

    /// <summary>The modeled peak bytes of any segmentation of this chain (the formula in the class remarks).</summary>
    public long EstimatePeakBytes(IReadOnlyList<CheckpointSegment> segments)
    {
        int n = _p.Inner.Length;
        var plain = new bool[n + 2];
        var ckptStart = new bool[n + 2];
        int covered = 0;
        foreach (var s in segments)
        {
            if (s.Start != covered || s.Count < 1 || s.Start + s.Count > n)
                throw new ArgumentException($"CheckpointPlan: the segments must cover steps 0..{n - 1} in order without gaps; got {s} after {covered} steps.", nameof(segments));
            for (int i = s.Start; i < s.Start + s.Count; i++) plain[i + 1] = !s.Checkpointed;
            if (s.Checkpointed) ckptStart[s.Start + 1] = true;
            covered += s.Count;
        }
        if (covered != n)
            throw new ArgumentException($"CheckpointPlan: the segments cover {covered} of {n} steps.", nameof(segments));
        // 1-based step i: e = Inner[i-1], in = SavesInput[i-1], out = SavesOutput[i-1]; x_k: OutBytes[k]
        bool Retained(int k) => (k >= 1 && plain[k] && _p.SavesOutput[k - 1]) || (k < n && plain[k + 1] && _p.SavesInput[k]) || (k < n && ckptStart[k + 1]);
        long m = 0;
        for (int i = 1; i <= n; i++) if (plain[i]) m += _p.Inner[i - 1];
        for (int k = 0; k <= n; k++) if (Retained(k)) m += _p.OutBytes[k];
        long peak = m;
        foreach (var seg in segments)
        {
            if (!seg.Checkpointed) continue;
            int s = seg.Start + 1, t = seg.Start + seg.Count;
            long r = _p.OutBytes[s - 1];
            for (int i = 1; i < s; i++) if (plain[i]) r += _p.Inner[i - 1];
            for (int k = 0; k < s - 1; k++) if (Retained(k)) r += _p.OutBytes[k];
            for (int i = s; i <= t; i++) r += _p.Inner[i - 1];
            for (int k = s; k < t; k++) if (_p.SavesOutput[k - 1] || _p.SavesInput[k]) r += _p.OutBytes[k];
            if (_p.SavesOutput[t - 1]) r += _p.OutBytes[t];
            peak = Math.Max(peak, r);
        }
        return peak;
    }

    /// <summary>The recomputation cost of any segmentation of this chain.</summary>
    public double EstimateRecomputeCost(IReadOnlyList<CheckpointSegment> segments)
    {
        double c = 0;
        foreach (var s in segments)
            if (s.Checkpointed)
                for (int i = s.Start; i < s.Start + s.Count; i++) c += _p.Cost[i];
        return c;
    }

    /// <summary>A one-line summary: segments, expected peak against the budget, recomputation cost.</summary>
    public override string ToString() =>
        $"CheckpointPlan: {Segments.Count} segments ({CheckpointCount} checkpointed: " +
        string.Join(", ", Segments.Where(s => s.Checkpointed).Select(s => $"{s.Start}..{s.Start + s.Count - 1}")) +
        $"), expected peak {ExpectedPeakBytes} B (budget {BudgetBytes} B, {(FitsBudget ? "fits" : "does not fit")}; no checkpointing {NoCheckpointPeakBytes} B), recompute cost {RecomputeCost:G4}";

    /// <summary>A partial plan of steps 1..i: bytes retained so far (x_i included when <paramref name="Counted"/>), peak so far, cost.</summary>
    private sealed record Label(long Retained, long Peak, double Cost, int Segments, bool Counted, Label? Previous, CheckpointSegment Segment);

    internal static CheckpointPlan Solve(IReadOnlyList<Func<Tensor, Tensor>> steps, Profile p, long budget)
    {
        int n = p.Inner.Length;
        if (n == 0) return new CheckpointPlan(steps, p, [], budget, budget >= 0);
        var best = Search(p, budget, minimizePeak: false);
        bool fits = best is not null;
        best ??= Search(p, long.MaxValue, minimizePeak: true)!;

        var raw = new List<CheckpointSegment>();
        for (var l = best; l.Previous is not null; l = l.Previous) raw.Add(l.Segment);
        raw.Reverse();
        // merge consecutive plain steps into one segment
        var segments = new List<CheckpointSegment>();
        foreach (var s in raw)
        {
            if (!s.Checkpointed && segments.Count > 0 && !segments[^1].Checkpointed)
                segments[^1] = segments[^1] with { Count = segments[^1].Count + s.Count };
            else segments.Add(s);
        }
        var plan = new CheckpointPlan(steps, p, segments.ToArray(), budget, fits);
        Debug.Assert(plan.ExpectedPeakBytes == best.Peak);
        return plan;
    }

    /// <summary>
    /// Dynamic programming over the boundaries 0..n. From a label at boundary i the next segment is a
    /// single plain step i+1, or a checkpointed run i+1..k for each k. Labels over the budget are dropped,
    /// dominated ones pruned (separately for "x_i retained" or not).
    /// </summary>
    private static Label? Search(Profile p, long budget, bool minimizePeak)
    {
        int n = p.Inner.Length;
        var labels = new List<Label>[n + 1];
        for (int i = 0; i <= n; i++) labels[i] = new();
        labels[0].Add(new Label(0, 0, 0, 0, false, null, default));
        for (int i = 0; i < n; i++)
        {
            foreach (var l in Prune(labels[i], minimizePeak))
            {
                // plain step i+1 (0-based index i)
                long plain = l.Retained + p.Inner[i]
                    + (p.SavesInput[i] && !l.Counted ? p.OutBytes[i] : 0)
                    + (p.SavesOutput[i] ? p.OutBytes[i + 1] : 0);
                long plainPeak = Math.Max(l.Peak, plain);
                if (plainPeak <= budget)
                    labels[i + 1].Add(new Label(plain, plainPeak, l.Cost, l.Segments + 1, p.SavesOutput[i], l, new CheckpointSegment(i, 1, false)));
                // checkpointed steps i+1..k
                long retained = l.Retained + (l.Counted ? 0 : p.OutBytes[i]);
                long inside = 0; // Σ e + interior boundaries saved
                double c = 0;
                for (int k = i + 1; k <= n; k++)
                {
                    inside += p.Inner[k - 1];
                    if (k > i + 1 && (p.SavesOutput[k - 2] || p.SavesInput[k - 1])) inside += p.OutBytes[k - 1];
                    c += p.Cost[k - 1];
                    long recompute = retained + inside + (p.SavesOutput[k - 1] ? p.OutBytes[k] : 0);
                    long peak = Math.Max(l.Peak, Math.Max(retained, recompute));
                    if (peak > budget)
                    {
                        if (retained + inside > budget) break; // only grows with k
                        continue;
                    }
                    labels[k].Add(new Label(retained, peak, l.Cost + c, l.Segments + 1, false, l, new CheckpointSegment(i, k - i, true)));
                }
            }
        }
        Label? best = null;
        foreach (var l in labels[n])
            if (best is null || Better(l, best, minimizePeak)) best = l;
        return best;
    }

    private static bool Better(Label a, Label b, bool minimizePeak)
    {
        if (minimizePeak)
        {
            if (a.Peak != b.Peak) return a.Peak < b.Peak;
            if (a.Cost != b.Cost) return a.Cost < b.Cost;
        }
        else
        {
            if (a.Cost != b.Cost) return a.Cost < b.Cost;
            if (a.Peak != b.Peak) return a.Peak < b.Peak;
        }
        return a.Segments < b.Segments;
    }

    /// <summary>Removes dominated labels (per value of Counted); caps the set at <see cref="MaxLabels"/>.</summary>
    private static List<Label> Prune(List<Label> labels, bool minimizePeak)
    {
        labels.Sort((a, b) => a.Retained != b.Retained ? a.Retained.CompareTo(b.Retained)
            : a.Cost != b.Cost ? a.Cost.CompareTo(b.Cost)
            : a.Peak != b.Peak ? a.Peak.CompareTo(b.Peak) : a.Segments.CompareTo(b.Segments));
        var kept = new List<Label>();
        foreach (var l in labels)
        {
            bool dominated = false;
            foreach (var k in kept)
                if (k.Counted == l.Counted && k.Retained <= l.Retained && k.Cost <= l.Cost && k.Peak <= l.Peak && k.Segments <= l.Segments)
                {
                    dominated = true;
                    break;
                }
            if (!dominated) kept.Add(l);
        }
        if (kept.Count > MaxLabels)
        {
            kept.Sort((a, b) => Better(a, b, minimizePeak) ? -1 : Better(b, a, minimizePeak) ? 1 : 0);
            kept.RemoveRange(MaxLabels, kept.Count - MaxLabels);
        }
        return kept;
    }
}
