namespace Fluxion;

/// <summary>
/// Binomial checkpointing (Griewank 1992; Griewank &amp; Walther, "Algorithm 799: Revolve", 2000): how to
/// reverse a loop of l identical steps when at most c states (snapshots, the loop's input included) may be
/// kept at once, with the fewest step evaluations.
/// <para><b>Cost model.</b> Reversing step i needs x_{i−1}; an <i>adjoint step</i> runs step i once with
/// recording from x_{i−1} and backpropagates through it (one step's graph at a time). An <i>advance</i>
/// runs a step without recording. With c snapshots the fewest advances are</para>
/// <para>T(l, c) = r·l − β(c + 1, r − 1), β(c, r) = C(c + r, c),</para>
/// <para>where the repetition number r is the least r with β(c, r) ≥ l (so each step is advanced at most r
/// times); the l − 1 advances of the first sweep are included. The fewest step evaluations in all are
/// T(l, c) + l (<see cref="MinStepEvaluations"/>). The optimal first snapshot position m satisfies
/// T(l, c) = m + T(l − m, c − 1) + T(m, c) (<see cref="Split"/>); applying it recursively gives the
/// schedule <see cref="Checkpoint.Loop(Func{Tensor, Tensor}, Tensor, int, int, LoopStats?)"/> runs.</para>
/// </summary>
public static class BinomialSchedule
{
    /// <summary>β(c, r) = C(c + r, c), saturating at <see cref="long.MaxValue"/>; 0 when r &lt; 0 or c &lt; 0.</summary>
    public static long Beta(int c, int r)
    {
        if (c < 0 || r < 0) return 0;
        // C(c + r, min(c, r)) by the multiplicative formula, exact while it fits
        int k = Math.Min(c, r);
        long n = (long)c + r;
        Int128 v = 1;
        for (int i = 1; i <= k; i++)
        {
            v = v * (n - k + i) / i;
            if (v > long.MaxValue) return long.MaxValue;
        }
        return (long)v;
    }

    /// <summary>The repetition number r: the least r ≥ 0 with β(c, r) ≥ l.</summary>
    public static int Repetitions(long steps, int snapshots)
    {
        Check(steps, snapshots);
        int r = 0;
        while (Beta(snapshots, r) < steps) r++;
        return r;
    }

    /// <summary>T(l, c): the fewest advances (step evaluations without recording) to reverse <paramref name="steps"/> steps with <paramref name="snapshots"/> snapshots.</summary>
    public static long MinAdvances(long steps, int snapshots)
    {
        Check(steps, snapshots);
        if (steps <= 1) return 0;
        int r = Repetitions(steps, snapshots);
        return r * steps - Beta(snapshots + 1, r - 1);
    }

    /// <summary>T(l, c) + l: the fewest step evaluations (advances and recorded adjoint steps) to run and reverse the loop.</summary>
    public static long MinStepEvaluations(long steps, int snapshots) => MinAdvances(steps, snapshots) + steps;

    /// <summary>
    /// An optimal first snapshot position m (1 ≤ m &lt; l) for <paramref name="steps"/> ≥ 2 steps and
    /// <paramref name="snapshots"/> ≥ 2: T(l, c) = m + T(l − m, c − 1) + T(m, c); the largest such m.
    /// </summary>
    public static long Split(long steps, int snapshots)
    {
        if (steps < 2 || snapshots < 2)
            throw new ArgumentOutOfRangeException(nameof(steps), $"BinomialSchedule.Split: needs at least 2 steps and 2 snapshots, got {steps} steps and {snapshots} snapshots.");
        long best = MinAdvances(steps, snapshots);
        // the optimal positions form an interval; for c ≥ l − 1 every state is kept (m = 1 is optimal)
        if (snapshots >= steps - 1) return 1;
        // binary search is not valid in general: scan from the binomial guess downward
        int r = Repetitions(steps, snapshots);
        long hi = Math.Min(steps - 1, Beta(snapshots, r - 1));
        for (long m = hi; m >= 1; m--)
            if (m + MinAdvances(steps - m, snapshots - 1) + MinAdvances(m, snapshots) == best) return m;
        for (long m = steps - 1; m > hi; m--)
            if (m + MinAdvances(steps - m, snapshots - 1) + MinAdvances(m, snapshots) == best) return m;
        throw new InvalidOperationException($"BinomialSchedule.Split: no optimal split found for {steps} steps and {snapshots} snapshots.");
    }

    private static void Check(long steps, int snapshots)
    {
        if (steps < 0) throw new ArgumentOutOfRangeException(nameof(steps), $"BinomialSchedule: steps must be ≥ 0, got {steps}.");
        if (snapshots < 1) throw new ArgumentOutOfRangeException(nameof(snapshots), $"BinomialSchedule: at least one snapshot (the loop's input) is needed, got {snapshots}.");
    }
}

/// <summary>What one <see cref="Checkpoint.Loop(Func{Tensor, Tensor}, Tensor, int, int, LoopStats?)"/> or <see cref="Checkpoint.LoopUntil"/> call did; pass an
/// instance to the call, read it after the backward pass.</summary>
public sealed class LoopStats
{
    /// <summary>Steps the loop ran (l).</summary>
    public int Steps { get; internal set; }

    /// <summary>The snapshot limit c (the loop's input included).</summary>
    public int Snapshots { get; internal set; }

    /// <summary>Step evaluations in the forward pass.</summary>
    public long ForwardEvaluations { get; internal set; }

    /// <summary>Step evaluations in the backward pass (advances and recorded adjoint steps).</summary>
    public long BackwardEvaluations { get; internal set; }

    /// <summary>All step evaluations so far.</summary>
    public long StepEvaluations => ForwardEvaluations + BackwardEvaluations;

    /// <summary>The offline optimum: for a snapshot limit, <see cref="BinomialSchedule.MinStepEvaluations"/> for <see cref="Steps"/>
    /// and <see cref="Snapshots"/>; for a byte budget, the optimum of its <see cref="LoopMemorySchedule"/>.</summary>
    public long OptimalStepEvaluations => Steps == 0 ? 0 : _optimal ?? BinomialSchedule.MinStepEvaluations(Steps, Snapshots);

    private long? _optimal;

    internal void SetOptimal(long? value) => _optimal = value;

    /// <summary>The byte budget of a <see cref="Checkpoint.Loop(Func{Tensor, Tensor}, Tensor, int, long, long, LoopStats?)"/> call (0 for a snapshot limit).</summary>
    public long MemoryBytes { get; internal set; }

    /// <summary>For a byte budget: the peak of the schedule's memory model over the run (held states and recorded steps, see
    /// <see cref="LoopMemorySchedule"/>), in bytes; 0 for a snapshot limit.</summary>
    public long ModeledPeakBytes { get; internal set; }

    /// <summary>Most snapshots held at once (the loop's input included).</summary>
    public int PeakSnapshots { get; internal set; }

    /// <summary>The byte-budget schedule the call ran (its moves: <see cref="LoopMemorySchedule.ToString"/>); null for a snapshot limit.</summary>
    public LoopMemorySchedule? Schedule { get; internal set; }

    /// <summary>A one-line summary.</summary>
    public override string ToString() =>
        $"{Steps} steps, {(MemoryBytes > 0 ? $"{MemoryBytes} B (modeled peak {ModeledPeakBytes} B)" : $"{Snapshots} snapshots")} (peak {PeakSnapshots}): {StepEvaluations} step evaluations ({ForwardEvaluations} forward, {BackwardEvaluations} backward), optimum {OptimalStepEvaluations}";
}

public static partial class Checkpoint
{
    /// <summary>
    /// Runs <paramref name="steps"/> iterations of <paramref name="step"/> from <paramref name="state"/> and
    /// differentiates through them keeping at most <paramref name="snapshots"/> states (the input included)
    /// and one step's graph at a time, with the fewest step evaluations for that memory: the binomial
    /// (Revolve) schedule, <see cref="BinomialSchedule.MinStepEvaluations"/> evaluations in all, forward and
    /// backward. Tensors that <paramref name="step"/> captures and that require grad receive their
    /// gradients (summed over the steps). The state keeps its shape and dtype from step to step.
    /// </summary>
    /// <remarks>
    /// As for <see cref="Run(Func{Tensor[], Tensor[]}, Tensor[])"/>, the step must be deterministic given its
    /// input and the default generator's state (saved with every snapshot), must not modify its input or
    /// captured tensors in place, and must not call Backward itself. The loop is differentiable once: a
    /// backward pass with <c>createGraph: true</c> through it raises when differentiated again. Without
    /// grad mode, or when nothing requires grad, the steps simply run.
    /// </remarks>
    public static Tensor Loop(Func<Tensor, Tensor> step, Tensor state, int steps, int snapshots, LoopStats? stats = null)
    {
        ArgumentNullException.ThrowIfNull(step);
        ArgumentNullException.ThrowIfNull(state);
        if (steps < 0) throw new ArgumentOutOfRangeException(nameof(steps), $"Checkpoint.Loop: steps must be ≥ 0, got {steps}.");
        if (snapshots < 1) throw new ArgumentOutOfRangeException(nameof(snapshots), $"Checkpoint.Loop: at least one snapshot (the loop's input) is needed, got {snapshots}.");
        var run = new LoopRun(step, state, snapshots, stats, "Checkpoint.Loop");
        if (steps == 0 || !run.Differentiable) return run.Plain(steps, null);
        // The first sweep follows the schedule's right spine: advance to each optimal split, keep it.
        long a = 0;
        int c = snapshots;
        var x = state;
        run.Keep(0, state, Generator.Default.GetState(), c);
        while (steps - a > 1)
        {
            if (c < 2)
            {
                // one snapshot left: sweep to x_{l−1}; the segment is recomputed from its start in backward
                x = run.Advance(x, (int)(steps - a - 1));
                break;
            }
            long m = BinomialSchedule.Split(steps - a, c);
            x = run.Advance(x, (int)m);
            a += m;
            c--;
            if (steps - a > 1) run.Keep((int)a, x, Generator.Default.GetState(), c);
        }
        return run.Finish(x, steps);
    }

    /// <summary>
    /// Runs <paramref name="steps"/> iterations of <paramref name="step"/> from <paramref name="state"/> and differentiates
    /// through them within <paramref name="memoryBytes"/>, counting state snapshots (the state's bytes each) and recorded
    /// steps (<paramref name="stepBytes"/> each, see <see cref="MeasureStepBytes"/>), with the fewest step evaluations of
    /// the <see cref="LoopMemorySchedule"/> for that budget: it records runs of steps where their graphs fit and keeps
    /// snapshots elsewhere (with ample memory it records everything; with memory for one recorded step only it is the
    /// binomial schedule). <see cref="LoopStats.OptimalStepEvaluations"/> is the schedule's optimum and
    /// <see cref="LoopStats.ModeledPeakBytes"/> its modeled peak. The same rules as
    /// <see cref="Loop(Func{Tensor, Tensor}, Tensor, int, int, LoopStats?)"/> apply to <paramref name="step"/>.
    /// </summary>
    /// <exception cref="AutogradException">The budget is below 3·(state bytes) + <paramref name="stepBytes"/> (the input, and one recorded
    /// step with its input and output).</exception>
    public static Tensor Loop(Func<Tensor, Tensor> step, Tensor state, int steps, long memoryBytes, long stepBytes, LoopStats? stats = null)
    {
        ArgumentNullException.ThrowIfNull(step);
        ArgumentNullException.ThrowIfNull(state);
        if (steps < 0) throw new ArgumentOutOfRangeException(nameof(steps), $"Checkpoint.Loop: steps must be ≥ 0, got {steps}.");
        if (stepBytes < 0) throw new ArgumentOutOfRangeException(nameof(stepBytes), $"Checkpoint.Loop: stepBytes must be ≥ 0, got {stepBytes}.");
        var schedule = ScheduleFor(steps, memoryBytes, Math.Max(1L, (long)state.Numel * state.DType.ElementSize()), stepBytes);
        var run = new LoopRun(step, state, 0, stats, "Checkpoint.Loop");
        run.UseSchedule(schedule);
        if (steps == 0 || !run.Differentiable) return run.Plain(steps, null);
        return run.RunSchedule(steps);
    }

    /// <summary>
    /// The bytes one recorded step of <paramref name="step"/> adds to a recorded run of steps from <paramref name="state"/>
    /// (for <see cref="Loop(Func{Tensor, Tensor}, Tensor, int, long, long, LoopStats?)"/>): its graph's saved activations,
    /// the tensors that require grad excluded, and the state it received from the previous step when it saves it; the
    /// larger of what the first and the second step of a run add. Runs the step twice with recording (the default
    /// generator's state is restored afterwards).
    /// </summary>
    public static long MeasureStepBytes(Func<Tensor, Tensor> step, Tensor state)
    {
        ArgumentNullException.ThrowIfNull(step);
        ArgumentNullException.ThrowIfNull(state);
        var gen = Generator.Default;
        var rng = gen.GetState();
        try
        {
            var leaf = state.Detach();
            if (leaf.DType.IsFloatingPoint()) leaf.RequiresGrad = true;
            long before = Node.LastSequence;
            long Bytes(Tensor y)
            {
                long bytes = 0;
                foreach (var st in GraphWalk.ActivationStorages([y], before))
                    if (!ReferenceEquals(st, leaf.Storage)) bytes += st.Bytes;
                return bytes;
            }
            Tensor y1, y2;
            using (Autograd.EnableGrad())
            {
                y1 = step(leaf) ?? throw new AutogradException("Checkpoint.MeasureStepBytes: the step returned null.");
                y2 = step(y1) ?? throw new AutogradException("Checkpoint.MeasureStepBytes: the step returned null.");
            }
            long b1 = Bytes(y1);
            return Math.Max(b1, Bytes(y2) - b1);
        }
        finally
        {
            gen.SetState(rng);
        }
    }

    private static readonly Dictionary<(int, long, long, long), LoopMemorySchedule> Schedules = new();

    /// <summary>The schedule for these sizes, cached (the dynamic program takes up to L²·256 operations).</summary>
    private static LoopMemorySchedule ScheduleFor(int steps, long memoryBytes, long stateBytes, long stepBytes)
    {
        var key = (steps, memoryBytes, stateBytes, stepBytes);
        lock (Schedules)
            if (Schedules.TryGetValue(key, out var cached)) return cached;
        var schedule = LoopMemorySchedule.Create(steps, memoryBytes, stateBytes, stepBytes);
        lock (Schedules)
        {
            if (Schedules.Count >= 32) Schedules.Clear();
            Schedules[key] = schedule;
        }
        return schedule;
    }

    /// <summary>
    /// Runs <paramref name="step"/> from <paramref name="state"/> until <paramref name="until"/>(x_i, i)
    /// holds (checked on the input too) or <paramref name="maxSteps"/> steps ran, and differentiates
    /// through the steps keeping at most <paramref name="snapshots"/> states and one step's graph at a time
    /// — online checkpointing, for loops whose length is known only when they end.
    /// </summary>
    /// <remarks>
    /// <para><b>Schedule.</b> Every step runs with recording and only the latest step's graph is kept, so the
    /// last step needs no recomputation. While snapshots are free every state is kept; afterwards, when
    /// state x_j is no longer the newest, the rule keeps the placement of snapshots that would be cheapest
    /// if the loop stopped now: it drops the snapshot (x_j itself included) whose removal leaves the least
    /// backward cost Σ T(L_k, c − k) over the segments between snapshots (ties: the earliest). The backward
    /// pass reverses each segment with the binomial schedule and the snapshots left free.</para>
    /// <para><b>What is optimal.</b> For every loop length l ≤ β(c, 2) = (c + 1)(c + 2)/2 the step
    /// evaluations equal the offline optimum <see cref="BinomialSchedule.MinStepEvaluations"/> for l, as if
    /// l had been known in advance (as Stumm &amp; Walther's online algorithm for repetition number 2); the
    /// test <c>LoopUntilMatchesTheOfflineOptimumUpToBeta2</c> checks it for c = 1..6. Beyond β(c, 2) + 1 the
    /// rule is a heuristic without a proven bound (Stumm &amp; Walther show that no online algorithm stays
    /// optimal for every l): for l ≤ min(β(c, 4), 3000) its evaluations are measured within 10% of the
    /// offline optimum for c = 2 and within 5% for c = 3..8
    /// (<c>OnlinePlacementStaysWithinAMeasuredFactorOfTheOfflineOptimumBeyondBeta2</c>).</para>
    /// </remarks>
    public static Tensor LoopUntil(Func<Tensor, Tensor> step, Tensor state, Func<Tensor, int, bool> until, int snapshots, int maxSteps, LoopStats? stats = null)
    {
        ArgumentNullException.ThrowIfNull(step);
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(until);
        if (maxSteps < 0) throw new ArgumentOutOfRangeException(nameof(maxSteps), $"Checkpoint.LoopUntil: maxSteps must be ≥ 0, got {maxSteps}.");
        if (snapshots < 1) throw new ArgumentOutOfRangeException(nameof(snapshots), $"Checkpoint.LoopUntil: at least one snapshot (the loop's input) is needed, got {snapshots}.");
        var run = new LoopRun(step, state, snapshots, stats, "Checkpoint.LoopUntil");
        if (until(state, 0) || maxSteps == 0) return run.Plain(0, null);
        if (!run.Differentiable) return run.Plain(maxSteps, until);
        var online = new OnlinePlacement(snapshots);
        var gen = Generator.Default;
        var prevRng = gen.GetState();
        var prev = state;
        var x = run.Record(state);
        int i = 1;
        while (i < maxSteps && !until(x, i))
        {
            // x_{i−1} is no longer the newest state: decide whether to keep it
            online.Arrive(i - 1, prev, prevRng);
            prev = x;
            prevRng = gen.GetState();
            x = run.Record(x);
            i++;
        }
        foreach (var (pos, t, rng, free) in online.Placement()) run.Keep(pos, t, rng, free);
        return run.Finish(null, i);
    }

    /// <summary>The online snapshot placement of <see cref="LoopUntil"/>.</summary>
    internal sealed class OnlinePlacement(int snapshots)
    {
        private readonly List<(int Pos, Tensor? X, GeneratorState Rng)> _kept = new();

        /// <summary>Positions currently kept (for tests).</summary>
        internal IReadOnlyList<int> Positions => _kept.ConvertAll(k => k.Pos);

        /// <summary>State x_<paramref name="pos"/> (positions arrive in order from 0) may be kept.</summary>
        internal void Arrive(int pos, Tensor? x, GeneratorState rng)
        {
            _kept.Add((pos, x, rng));
            if (_kept.Count <= snapshots) return;
            int n = pos + 1; // states x_0..x_pos are the ones to reverse from if the loop stopped now
            int drop = -1;
            long best = long.MaxValue;
            var p = new int[_kept.Count - 1];
            for (int d = 1; d < _kept.Count; d++)
            {
                int k = 0;
                for (int j = 0; j < _kept.Count; j++) if (j != d) p[k++] = _kept[j].Pos;
                long cost = Cost(p, n, snapshots);
                if (cost < best) { best = cost; drop = d; }
            }
            _kept.RemoveAt(drop);
        }

        /// <summary>Σ T(L_k, c − k) over the segments between kept positions (states 0..n−1 to reverse).</summary>
        internal static long Cost(IReadOnlyList<int> positions, int n, int snapshots)
        {
            long cost = 0;
            for (int k = 0; k < positions.Count; k++)
            {
                int end = k + 1 < positions.Count ? positions[k + 1] : n;
                cost += BinomialSchedule.MinAdvances(end - positions[k], snapshots - k);
            }
            return cost;
        }

        /// <summary>The kept states with the snapshots each segment may use (its own included).</summary>
        internal IEnumerable<(int Pos, Tensor? X, GeneratorState Rng, int Free)> Placement()
        {
            for (int k = 0; k < _kept.Count; k++) yield return (_kept[k].Pos, _kept[k].X, _kept[k].Rng, snapshots - k);
        }
    }

    /// <summary>One loop call: the step, its captured tensors, the snapshots and the last step's graph.</summary>
    private sealed class LoopRun
    {
        private readonly Func<Tensor, Tensor> _step;
        private readonly Tensor _input;
        private readonly int[] _shape;
        private readonly DType _dtype;
        private readonly int _snapshots;
        private readonly LoopStats _stats;
        private readonly string _name;
        private readonly List<Tensor> _collected = new();
        private readonly List<(int Pos, Tensor X, GeneratorState Rng, int Free)> _spine = new();
        private Tensor? _tapeIn, _tapeOut; // the latest recorded step: its leaf input and output
        private long _tapeBoundary;

        public LoopRun(Func<Tensor, Tensor> step, Tensor input, int snapshots, LoopStats? stats, string name)
        {
            _step = step;
            _input = input;
            _shape = input.ShapeArray;
            _dtype = input.DType;
            _snapshots = snapshots;
            _stats = stats ?? new LoopStats();
            _stats.Snapshots = snapshots;
            _stats.ForwardEvaluations = 0;
            _stats.BackwardEvaluations = 0;
            _stats.PeakSnapshots = 0;
            _stats.Schedule = null;
            _stats.MemoryBytes = 0;
            _stats.ModeledPeakBytes = 0;
            _stats.SetOptimal(null);
            _name = name;
        }

        public bool Differentiable => GradMode.Enabled && !HasActiveTangents([_input]);

        // ---- byte-budget schedules (LoopMemorySchedule): frames to unwind in the backward pass ----

        private abstract record Frame;
        /// <summary>A recorded run of steps: backpropagate from <paramref name="Out"/> to <paramref name="Leaf"/>; releases <paramref name="Charge"/> bytes.</summary>
        private sealed record TapeFrame(Tensor Leaf, Tensor Out, long Boundary, long Charge) : Frame;
        /// <summary>Steps still to reverse from a held state (the schedule's (l, m)).</summary>
        private sealed record HeadFrame(int Steps, int Units, Tensor X, GeneratorState Rng) : Frame;
        /// <summary>Releases a held state's charge once the frames above it are unwound.</summary>
        private sealed record ReleaseFrame(long Charge) : Frame;

        private LoopMemorySchedule? _schedule;
        private Stack<Frame>? _frames;
        private bool _backward;
        private long _live;
        private int _liveStates;

        public void UseSchedule(LoopMemorySchedule schedule)
        {
            _schedule = schedule;
            _stats.Schedule = schedule;
            _stats.MemoryBytes = schedule.MemoryBytes;
            _stats.SetOptimal(schedule.StepEvaluations);
            _stats.ModeledPeakBytes = 0;
        }

        private void Charge(long bytes, int states)
        {
            _live += bytes;
            _liveStates += states;
            _stats.ModeledPeakBytes = Math.Max(_stats.ModeledPeakBytes, _live);
            _stats.PeakSnapshots = Math.Max(_stats.PeakSnapshots, _liveStates);
        }

        /// <summary>The forward pass of a byte-budget schedule: the first sweep, its frames kept for the backward pass.</summary>
        public Tensor RunSchedule(int steps)
        {
            var s = _schedule!;
            _live = 0;
            _liveStates = 0;
            Charge(s.StateBytes, 1);
            _frames = new Stack<Frame>();
            var output = Sweep(steps, s.SpareUnits, _input, Generator.Default.GetState(), _frames);
            _stats.Steps = steps;
            var extras = new List<Tensor>();
            foreach (var t in _collected)
                if (!ReferenceEquals(t, _input) && !extras.Exists(e => ReferenceEquals(e, t))) extras.Add(t);
            _collected.Clear();
            if (!_input.RequiresGrad && extras.Count == 0) { _frames = null; return output; }
            var inputs = new Tensor[1 + extras.Count];
            inputs[0] = _input;
            extras.CopyTo(inputs, 1);
            return new LoopFunction(this, output, steps) { OnceDifferentiable = true }.Apply(inputs)[0];
        }

        /// <summary>Runs the schedule's sweep for (<paramref name="l"/>, <paramref name="m"/>) from the held state
        /// <paramref name="x"/>, pushing what the backward pass unwinds; returns x_l (detached).</summary>
        private Tensor Sweep(int l, int m, Tensor x, GeneratorState rng, Stack<Frame> frames)
        {
            var s = _schedule!;
            var gen = Generator.Default;
            gen.SetState(rng);
            while (true)
            {
                var (move, j, _) = s.Move(l, m);
                switch (move)
                {
                    // charges (the memory model): a recorded run holds its output and steps, and its input unless held already
                    case LoopMove.TapeAll:
                        return Tape(x, l, s.StateBytes + l * s.StepBytes, frames);
                    case LoopMove.AdvanceTape:
                        frames.Push(new HeadFrame(j, m, x, gen.GetState()));
                        return Tape(Step(x, j), l - j, 2 * s.StateBytes + (l - j) * s.StepBytes, frames);
                    case LoopMove.AdvanceHold:
                        frames.Push(new HeadFrame(j, m, x, gen.GetState()));
                        x = Step(x, j);
                        Charge(s.StateBytes, 1);
                        frames.Push(new ReleaseFrame(s.StateBytes));
                        l -= j;
                        m -= s.StateUnits;
                        break;
                    default: // TapeHold: the output x_j is the tail's held input, charged with the recorded run
                        x = Tape(x, j, s.StateBytes + j * s.StepBytes, frames);
                        l -= j;
                        m -= s.StateUnits + j * s.StepUnits;
                        break;
                }
            }
        }

        /// <summary>Advances <paramref name="count"/> steps without recording.</summary>
        private Tensor Step(Tensor x, int count)
        {
            Charge(_schedule!.StateBytes, 0); // the state being advanced
            x = _backward ? BackwardAdvance(x, count) : Advance(x, count);
            _live -= _schedule.StateBytes;
            return x;
        }

        /// <summary>Records <paramref name="count"/> steps from <paramref name="x"/> as one graph and pushes it; returns its output detached.</summary>
        private Tensor Tape(Tensor x, int count, long charge, Stack<Frame> frames)
        {
            var leaf = x.Detach();
            leaf.RequiresGrad = true;
            long boundary = Node.LastSequence;
            Tensor y = leaf;
            if (_backward)
            {
                using (Autograd.EnableGrad())
                    for (int k = 0; k < count; k++) y = Eval(y, k);
            }
            else
            {
                // the captured tensors, step by step (an observation list over the whole run would keep every
                // intermediate of its steps alive until the run ends)
                var seen = new List<Tensor>();
                for (int k = 0; k < count; k++)
                {
                    using (Recording.ObserveInputs(seen))
                    using (ForwardLevels.Suspend(0))
                    using (Autograd.EnableGrad())
                        y = Eval(y, k);
                    foreach (var t in seen)
                        if (!ReferenceEquals(t, leaf) && !(t.GradFn is { } fn && fn.Sequence > boundary) && !_collected.Exists(e => ReferenceEquals(e, t)))
                            _collected.Add(t);
                    seen.Clear();
                }
            }
            if (_backward) _stats.BackwardEvaluations += count;
            else _stats.ForwardEvaluations += count;
            Charge(charge, 0);
            frames.Push(new TapeFrame(leaf, y, boundary, charge));
            return y.Detach();
        }

        /// <summary>The backward pass of a byte-budget schedule: unwinds the frames, sweeping each held head when reached.</summary>
        private Tensor Unwind(Stack<Frame> frames, Tensor g, Tensor[] extras, IReadOnlyList<bool> needs)
        {
            while (frames.Count > 0)
            {
                switch (frames.Pop())
                {
                    case TapeFrame t:
                        g = Adjoint(t.Leaf, t.Out, t.Boundary, g, extras, needs);
                        _live -= t.Charge;
                        break;
                    case ReleaseFrame r:
                        _live -= r.Charge;
                        _liveStates--;
                        break;
                    case HeadFrame h:
                        var sub = new Stack<Frame>();
                        Sweep(h.Steps, h.Units, h.X, h.Rng, sub);
                        g = Unwind(sub, g, extras, needs);
                        break;
                }
            }
            return g;
        }

        /// <summary>No checkpointing: runs the steps as they are (recording as usual).</summary>
        public Tensor Plain(int steps, Func<Tensor, int, bool>? until)
        {
            var x = _input;
            int i = 0;
            while (i < steps && (until is null || i == 0 || !until(x, i)))
            {
                x = Eval(x, i);
                i++;
            }
            _stats.Steps = i;
            _stats.ForwardEvaluations = i;
            return x;
        }

        private Tensor Eval(Tensor x, int i)
        {
            var y = _step(x) ?? throw new AutogradException($"{_name}: the step returned null at step {i + 1}.");
            if (!ShapeUtil.SameShape(y.Shape, _shape) || y.DType != _dtype)
                throw new ShapeMismatchException(
                    $"{_name}: step {i + 1} returned a state of shape {ShapeUtil.Format(y.Shape)} ({y.DType.Name()}) from one of shape {ShapeUtil.Format(_shape)} ({_dtype.Name()}); a loop step must keep the state's shape and dtype.");
            return y;
        }

        /// <summary>Runs <paramref name="count"/> steps without recording (collecting captured tensors).</summary>
        public Tensor Advance(Tensor x, int count)
        {
            var seen = new List<Tensor>();
            using (Recording.CollectInputs(seen))
            using (ForwardLevels.Suspend(0))
                for (int k = 0; k < count; k++)
                {
                    x = Eval(x, k);
                    foreach (var t in seen)
                        if (!_collected.Exists(e => ReferenceEquals(e, t))) _collected.Add(t);
                    seen.Clear();
                }
            _stats.ForwardEvaluations += count;
            return x;
        }

        /// <summary>Runs one step with recording on a leaf copy of <paramref name="x"/>, keeping only this step's graph.</summary>
        public Tensor Record(Tensor x)
        {
            var leaf = x.Detach();
            leaf.RequiresGrad = true;
            long boundary = Node.LastSequence;
            Tensor y;
            var seen = new List<Tensor>();
            using (Recording.ObserveInputs(seen))
            using (ForwardLevels.Suspend(0))
            using (Autograd.EnableGrad())
                y = Eval(leaf, 0);
            // keep only the tensors from outside the step (not its own intermediates, which must not outlive its graph)
            foreach (var t in seen)
                if (!ReferenceEquals(t, leaf) && !(t.GradFn is { } fn && fn.Sequence > boundary) && !_collected.Exists(e => ReferenceEquals(e, t)))
                    _collected.Add(t);
            _tapeIn = leaf;
            _tapeOut = y;
            _tapeBoundary = boundary;
            _stats.ForwardEvaluations++;
            return y.Detach();
        }

        public void Keep(int pos, Tensor? x, GeneratorState rng, int free)
        {
            _spine.Add((pos, (x ?? _input).Detach(), rng, free));
            _stats.PeakSnapshots = Math.Max(_stats.PeakSnapshots, _spine.Count);
        }

        /// <summary>Ends the forward pass: <paramref name="beforeLast"/> (when given) is x_{l−1}, whose step is
        /// recorded now; then the loop's node is built.</summary>
        public Tensor Finish(Tensor? beforeLast, int steps)
        {
            if (beforeLast is not null) Record(beforeLast);
            _stats.Steps = steps;
            // the captured tensors: reported inputs that existed before the loop (not the loop's own states)
            var extras = new List<Tensor>();
            foreach (var t in _collected)
                if (!ReferenceEquals(t, _input) && !extras.Exists(e => ReferenceEquals(e, t))) extras.Add(t);
            _collected.Clear();
            if (!_input.RequiresGrad && extras.Count == 0) return _tapeOut!.Detach();
            var inputs = new Tensor[1 + extras.Count];
            inputs[0] = _input;
            extras.CopyTo(inputs, 1);
            var output = _tapeOut!.Detach();
            return new LoopFunction(this, output, steps) { OnceDifferentiable = true }.Apply(inputs)[0];
        }

        private sealed class LoopFunction(LoopRun run, Tensor output, int steps) : CustomFunction
        {
            private Tensor? _output = output;

            public override string Name => "CheckpointLoop";

            public override Tensor[] Forward(FunctionContext ctx, Tensor[] inputs)
            {
                ctx.SaveForBackward(inputs);
                var o = _output!;
                _output = null;
                return [o];
            }

            public override Tensor?[] Backward(FunctionContext ctx, Tensor[] gradOutputs)
            {
                var saved = ctx.SavedTensors;
                var targets = new Tensor[saved.Count - 1];
                for (int k = 1; k < saved.Count; k++) targets[k - 1] = saved[k];
                var seed = gradOutputs[0];
                // The seed is read by the first recorded run's backpropagation only: release the engine's array slot so that a
                // state-sized gradient does not stay alive through the whole reversal (measured: one more state than √T
                // checkpointing, whose segments each hold only their own seed). Without grad mode (createGraph: false) nothing
                // reads the array after this call.
                if (!GradMode.Enabled) gradOutputs[0] = null!;
                return run.Reverse(seed, targets, steps, ctx.NeedsInputGrad);
            }
        }

        private Tensor?[] _extraGrads = [];

        /// <summary>The backward pass: the last step's graph, then every segment from the last, with the binomial schedule.</summary>
        internal Tensor?[] Reverse(Tensor g, Tensor[] extras, int steps, IReadOnlyList<bool> needs)
        {
            if (_tapeOut is null && _frames is null)
                throw new AutogradException($"{_name}: backward through the loop ran twice; its snapshots are released after the first backward pass (retainGraph is not supported through a checkpointed loop).");
            _extraGrads = new Tensor?[extras.Length];
            var gen = Generator.Default;
            var now = gen.GetState();
            if (_frames is { } frames)
            {
                _frames = null;
                _backward = true;
                try
                {
                    g = Unwind(frames, g, extras, needs);
                }
                finally
                {
                    gen.SetState(now);
                    _backward = false;
                }
            }
            else
            try
            {
                g = Adjoint(_tapeIn!, _tapeOut!, _tapeBoundary, g, extras, needs);
                _tapeIn = _tapeOut = null;
                // segments: the spine's snapshots in order; the states to reverse are x_0..x_{l−2}
                var ends = new int[_spine.Count];
                for (int k = 0; k < ends.Length; k++) ends[k] = k + 1 < ends.Length ? _spine[k + 1].Pos : steps - 1;
                for (int k = _spine.Count - 1; k >= 0; k--)
                {
                    var (pos, x, rng, free) = _spine[k];
                    int end = ends[k];
                    g = ReverseSegment(x, rng, end - pos, free, g, extras, needs, k + 1);
                    _spine.RemoveAt(k);
                }
            }
            finally
            {
                gen.SetState(now);
                _spine.Clear();
            }
            var result = new Tensor?[1 + extras.Length];
            result[0] = needs[0] ? g : null;
            for (int k = 0; k < extras.Length; k++)
                result[k + 1] = needs[k + 1] ? _extraGrads[k] ?? Tensor.ZerosLike(extras[k]) : null;
            return result;
        }

        /// <summary>Reverses <paramref name="length"/> steps from x_a (held), with <paramref name="free"/> snapshots (x_a's included); returns the gradient at x_a.</summary>
        private Tensor ReverseSegment(Tensor xa, GeneratorState rng, int length, int free, Tensor g, Tensor[] extras, IReadOnlyList<bool> needs, int held)
        {
            var gen = Generator.Default;
            _stats.PeakSnapshots = Math.Max(_stats.PeakSnapshots, held);
            if (length == 0) return g;
            if (length == 1 || free < 2)
            {
                for (int i = length; i >= 1; i--)
                {
                    gen.SetState(rng);
                    var x = BackwardAdvance(xa, i - 1);
                    g = RecordAndAdjoint(x, g, extras, needs);
                }
                return g;
            }
            int m = (int)BinomialSchedule.Split(length, free);
            gen.SetState(rng);
            var xm = BackwardAdvance(xa, m);
            var rm = gen.GetState();
            g = ReverseSegment(xm, rm, length - m, free - 1, g, extras, needs, held + 1);
            return ReverseSegment(xa, rng, m, free, g, extras, needs, held);
        }

        private Tensor BackwardAdvance(Tensor x, int count)
        {
            using (Autograd.NoGrad())
                for (int k = 0; k < count; k++) x = Eval(x, k);
            _stats.BackwardEvaluations += count;
            return x;
        }

        private Tensor RecordAndAdjoint(Tensor x, Tensor g, Tensor[] extras, IReadOnlyList<bool> needs)
        {
            var leaf = x.Detach();
            leaf.RequiresGrad = true;
            long boundary = Node.LastSequence;
            Tensor y;
            using (Autograd.EnableGrad()) y = Eval(leaf, 0);
            _stats.BackwardEvaluations++;
            return Adjoint(leaf, y, boundary, g, extras, needs);
        }

        /// <summary>Backpropagates <paramref name="g"/> through one recorded step; accumulates the captured tensors' gradients.</summary>
        private Tensor Adjoint(Tensor leaf, Tensor y, long boundary, Tensor g, Tensor[] extras, IReadOnlyList<bool> needs)
        {
            if (!y.RequiresGrad) return Tensor.ZerosLike(leaf);
            var targets = new Tensor[1 + extras.Length];
            targets[0] = leaf;
            extras.CopyTo(targets, 1);
            Tensor?[] grads;
            using (Autograd.NoGrad())
                grads = Engine.Run([y], [g], retainGraph: false, createGraph: false, targets, allowUnused: true, boundary)!;
            for (int k = 0; k < extras.Length; k++)
                if (needs[k + 1] && grads[k + 1] is { } ge)
                    _extraGrads[k] = _extraGrads[k] is { } acc ? acc + ge : ge;
            return grads[0] ?? Tensor.ZerosLike(leaf);
        }
    }
}
