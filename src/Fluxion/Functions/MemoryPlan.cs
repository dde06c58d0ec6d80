using System.Diagnostics;
using Fluxion.Nn;

namespace Fluxion;

/// <summary>How a <see cref="MemoryPlan"/> runs one segment of layers.</summary>
public enum SegmentMode
{
    /// <summary>Plain reverse mode: the layers keep what they save for backward.</summary>
    Store,
    /// <summary>Checkpointed: only the segment's input is kept; the layers run again in backward (<see cref="Checkpoint.Run(Func{Tensor, Tensor}, Tensor)"/>).</summary>
    Recompute,
    /// <summary>A run of <see cref="Reversible"/> blocks as a <see cref="ReversibleSequential"/>: inputs reconstructed from outputs in backward.</summary>
    Invert,
    /// <summary>A run of layers without trainable parameters in a forward-mode section (Rev2Fwd, Lifted layers, Fwd2Rev): the
    /// input's Jacobian is carried forward (one direction per input element of a sample) and no activations are kept.</summary>
    Forward,
}

/// <summary>One contiguous run of layers in a <see cref="MemoryPlan"/>.</summary>
/// <param name="Start">Index of the first layer in the Sequential.</param>
/// <param name="Count">Number of layers.</param>
/// <param name="Mode">How the run is executed.</param>
public readonly record struct MemorySegment(int Start, int Count, SegmentMode Mode);

/// <summary>What <see cref="MemoryPlanMeasure.Measure"/> measured: one forward and backward pass.</summary>
/// <param name="PeakBytes">Peak live tensor bytes during the pass (<see cref="MemoryTracker"/>), parameter gradients and
/// transients included (in a small network the gradients alone may set it, whatever the plan).</param>
/// <param name="Seconds">Time of one forward and backward pass run outside the tracker: the median of <see cref="MemoryPlan.TimingRuns"/>
/// passes after an untimed one, the harness of the planner's calibration (so the predicted and the measured time compare alike).</param>
/// <param name="SavedBytes">Tensor bytes the forward pass left alive for the backward (saved activations, checkpoints,
/// carried tangents): what the plan controls, measured on a second forward pass whose graph is then dropped.</param>
public sealed record MemoryPlanMeasurement(long PeakBytes, double Seconds, long SavedBytes);

/// <summary>
/// One memory plan for a <see cref="Sequential"/> under a byte budget: each segment of layers is stored,
/// recomputed (checkpointed), inverted (a run of reversible blocks) or run in forward mode (a run of layers
/// without trainable parameters whose input has at most <see cref="MaxForwardDirections"/> elements per sample).
/// <para><b>How it chooses.</b> The candidate step lists are: every layer a step; runs of
/// <see cref="Reversible"/> blocks merged into one <see cref="ReversibleSequential"/> step; runs of
/// parameter-free layers merged into one forward-mode step; both. For each, <see cref="Checkpoint.Plan"/>
/// measures every step on the sample (the bytes its graph saves, split into its input, its output and the
/// rest, and its forward time) and chooses, by its exact dynamic program, which contiguous steps to
/// checkpoint so that the modeled peak fits the budget at the least recomputation. The plan kept is the
/// candidate that fits with the least predicted time (if none fits: the smallest predicted peak). The
/// checkpointing model, its one dynamic program and its measurements live in <see cref="CheckpointPlan"/>;
/// this class only adds the two other ways to avoid storing.</para>
/// <para><b>Predicted time</b>: Σ f_i + Σ b_i + ρ·(the recomputed steps' f_i), over each step's forward time f_i and
/// backward time b_i, measured by <see cref="Create(Sequential, Tensor, long, Func{int, double}?)"/> on the sample (one warm-up run, then the median of
/// <see cref="TimingRuns"/> runs) and calibrated to whole passes of the candidate (<see cref="Calibrate"/>: the store-all
/// prediction is the measured store-all pass, ρ the measured cost of recomputing; compare with
/// <see cref="MemoryPlanMeasure.Measure"/>'s wall time). With given step costs (tests) the
/// model is 3·Σ c_i plus the recomputed c_i plus half of each inverted step's c_i. <b>Predicted peak</b>:
/// <see cref="CheckpointPlan.ExpectedPeakBytes"/> (saved activations only, a forward-mode section's carried tangents
/// counted as its saved bytes) plus the largest temporary tangents of a forward-mode section
/// (<see cref="ForwardTransientBytes"/>); <see cref="MemoryPlanMeasure.Measure"/> reports the real peak of live tensors, gradients and
/// transients included. A traced graph (a compiled training step) is planned by
/// <see cref="Create(Func{Tensor[], Tensor[]}, Tensor[], long)"/> instead.</para>
/// <para>Every plan computes the same function and the same gradients as storing everything (up to the
/// rounding of reversible reconstruction; exactly in float64 tests).</para>
/// </summary>
public sealed partial class MemoryPlan
{
    /// <summary>Forward-mode segments are considered only where a sample's input to the segment has at most this many elements (the number of carried directions).</summary>
    public const int MaxForwardDirections = 64;

    private readonly Sequential _model;

    /// <summary>The planned model (for <see cref="MemoryPlanMeasure.Measure"/>).</summary>
    internal Sequential Model => _model;
    private readonly List<(int Start, int Count, SegmentMode Kind)> _steps;
    private readonly CheckpointPlan _plan;
    private readonly Func<Tensor, Tensor>[] _fns;

    private MemoryPlan(Sequential model, List<(int Start, int Count, SegmentMode Kind)> steps, Func<Tensor, Tensor>[] fns, CheckpointPlan plan,
        double[]? backwardSeconds = null, long forwardTransientBytes = 0, double recomputeFactor = 1, double? passSeconds = null, double segmentOverhead = 0)
    {
        RecomputeFactor = recomputeFactor;
        SegmentOverheadSeconds = segmentOverhead;
        CalibrationPassSeconds = passSeconds;
        _model = model;
        _steps = steps;
        _fns = fns;
        _plan = plan;
        var segs = new List<MemorySegment>();
        foreach (var cs in plan.Segments)
            for (int k = cs.Start; k < cs.Start + cs.Count; k++)
            {
                var (start, count, kind) = _steps[k];
                var mode = cs.Checkpointed ? SegmentMode.Recompute : kind;
                if (segs.Count > 0 && segs[^1].Mode == mode && mode is SegmentMode.Store or SegmentMode.Recompute && segs[^1].Start + segs[^1].Count == start)
                    segs[^1] = segs[^1] with { Count = segs[^1].Count + count };
                else segs.Add(new MemorySegment(start, count, mode));
            }
        Segments = segs;
        double forward = plan.StepCosts.Sum();
        if (backwardSeconds is not null)
        {
            // measured: every step's forward and backward (a reversible run's backward reconstructs, a forward-mode
            // section's backward is its product with the carried Jacobian), plus the checkpointed steps run again
            StepBackwardSeconds = backwardSeconds;
            PredictedSeconds = forward + backwardSeconds.Sum() + recomputeFactor * plan.RecomputeCost + segmentOverhead * Math.Max(plan.CheckpointCount - 1, 0);
        }
        else
        {
            double invert = 0;
            for (int k = 0; k < _steps.Count; k++)
                if (_steps[k].Kind == SegmentMode.Invert && !IsCheckpointed(k)) invert += plan.StepCosts[k] / 2;
            PredictedSeconds = 3 * forward + plan.RecomputeCost + invert;
        }
        ForwardTransientBytes = forwardTransientBytes;
    }

    /// <summary>Repeated runs per step when <see cref="Create(Sequential, Tensor, long, Func{int, double}?)"/> times the steps (after one warm-up run); the median is used.</summary>
    public const int TimingRuns = 5;

    /// <summary>The forward time of each step in seconds: the median of <see cref="TimingRuns"/> warm runs of the step alone,
    /// scaled so that the steps sum to a measured whole forward pass (see <see cref="Calibrate"/>); or the costs given to
    /// <see cref="Create(Sequential, Tensor, long, Func{int, double}?)"/>.</summary>
    public IReadOnlyList<double> StepForwardSeconds => _plan.StepCosts;

    /// <summary>The time of one recomputed step relative to its forward time (<see cref="StepForwardSeconds"/>): measured from a whole
    /// pass with all steps in one checkpointed segment (see <see cref="Calibrate"/>); 1 when costs were given.</summary>
    public double RecomputeFactor { get; }

    /// <summary>The time each checkpointed segment beyond the first adds (seconds; see <see cref="Calibrate"/>); 0 when costs were given.</summary>
    public double SegmentOverheadSeconds { get; }

    /// <summary>The measured whole forward and backward pass of this candidate's steps, all stored (seconds), to which the step
    /// times were calibrated; null when costs were given.</summary>
    public double? CalibrationPassSeconds { get; }

    /// <summary>The backward time of each step in seconds (median of <see cref="TimingRuns"/> warm runs: the gradients of the
    /// step's input and parameters for a ones seed, scaled as <see cref="Calibrate"/> says), or null when costs were given.</summary>
    public IReadOnlyList<double>? StepBackwardSeconds { get; }

    /// <summary>The largest temporary memory of a forward-mode segment: its carried tangents [directions, ...] of one
    /// layer's input and output alive at once (counted in <see cref="PredictedPeakBytes"/> on top of the saved bytes).</summary>
    public long ForwardTransientBytes { get; }

    private bool IsCheckpointed(int step) => _plan.Segments.Any(s => s.Checkpointed && step >= s.Start && step < s.Start + s.Count);

    /// <summary>The segments in order, covering every layer once.</summary>
    public IReadOnlyList<MemorySegment> Segments { get; }

    /// <summary>The budget the plan was made for.</summary>
    public long BudgetBytes => _plan.BudgetBytes;

    /// <summary>Whether the predicted peak fits the budget.</summary>
    public bool FitsBudget => _plan.FitsBudget && PredictedPeakBytes <= BudgetBytes;

    /// <summary>The predicted peak of saved activations (the checkpointing model over the measured steps), plus the
    /// largest temporary tangents of a forward-mode segment (<see cref="ForwardTransientBytes"/>).</summary>
    public long PredictedPeakBytes => _plan.ExpectedPeakBytes + ForwardTransientBytes;

    /// <summary>The predicted peak when every layer stores (the same model).</summary>
    public long StoreAllPeakBytes { get; private set; }

    /// <summary>The predicted time of one forward and backward pass, in seconds (see the class remarks).</summary>
    public double PredictedSeconds { get; }

    /// <summary>The other candidates the planner compared (each planned for the same budget; this plan among them).</summary>
    public IReadOnlyList<MemoryPlan> Candidates { get; private set; } = [];

    /// <summary>
    /// Measures <paramref name="model"/> on <paramref name="sample"/> and chooses the plan for
    /// <paramref name="budgetBytes"/> (see the class remarks). <paramref name="stepCosts"/> replaces the
    /// measured forward time of every layer (same unit for all; for reproducible plans in tests).
    /// </summary>
    public static MemoryPlan Create(Sequential model, Tensor sample, long budgetBytes, Func<int, double>? stepCosts = null) =>
        Create(model, sample, budgetBytes, stepCosts, MeasuredTimer.Instance);

    /// <summary><see cref="Create(Sequential, Tensor, long, Func{int, double}?)"/> with the times taken from <paramref name="timer"/> (tests give fake ones).</summary>
    internal static MemoryPlan Create(Sequential model, Tensor sample, long budgetBytes, Func<int, double>? stepCosts, IStepTimer timer)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(sample);
        var layers = model.Layers;
        if (layers.Count == 0)
            throw new ArgumentException("MemoryPlan.Create: the Sequential has no layers; there is nothing to plan.", nameof(model));
        bool hasRev = layers.Any(l => l is Reversible);
        // per-sample size of every layer's input (the directions a forward-mode section starting there carries)
        var directions = new int[layers.Count];
        var inBytes = new long[layers.Count];
        var outBytes = new long[layers.Count];
        using (Autograd.NoGrad())
        {
            var h = sample;
            for (int i = 0; i < layers.Count; i++)
            {
                directions[i] = h.Rank == 0 ? 1 : h.Numel / Math.Max(h.Size(0), 1);
                inBytes[i] = (long)h.Numel * h.DType.ElementSize();
                h = layers[i].Forward(h);
                outBytes[i] = (long)h.Numel * h.DType.ElementSize();
            }
        }
        bool hasFree = FreeRuns(layers).Any(r => directions[r.Start] <= MaxForwardDirections);
        var variants = new List<(bool Inv, bool Fwd)> { (false, false) };
        if (hasRev) variants.Add((true, false));
        if (hasFree) variants.Add((false, true));
        if (hasRev && hasFree) variants.Add((true, true));
        var plans = new List<MemoryPlan>();
        long storeAll = 0;
        foreach (var (inv, fwd) in variants)
        {
            var steps = Steps(layers, inv, fwd ? directions : null);
            var fns = steps.Select(s => Function(model, s)).ToArray();
            double[]? backward = null;
            IReadOnlyList<double>? costs;
            double rho = 1, overhead = 0;
            double? pass = null;
            if (stepCosts is null)
            {
                var timings = timer.Time(model, steps, fns, sample);
                var (f, b, r, o) = Calibrate(timings);
                costs = f;
                backward = b;
                rho = r;
                overhead = o;
                pass = timings.PassForwardBackward;
            }
            else costs = steps.Select(s => Enumerable.Range(s.Start, s.Count).Sum(stepCosts)).ToList();
            var cp = Checkpoint.Plan(fns, sample, budgetBytes, costs);
            // a forward-mode section's temporary tangents: [directions, ...] of one layer's input and output at once
            long transient = 0;
            if (fwd)
                foreach (var st in steps.Where(st => st.Kind == SegmentMode.Forward))
                    for (int i = st.Start; i < st.Start + st.Count; i++)
                        transient = Math.Max(transient, (long)directions[st.Start] * (inBytes[i] + outBytes[i]));
            if (fwd)
            {
                // a forward-mode section keeps its tangents [D, ...output] for backward (in Fwd2Rev's closure,
                // which the graph walk does not see): count them as the step's own saved bytes
                var inner = cp.StepInnerBytes.ToArray();
                for (int k = 0; k < steps.Count; k++)
                    if (steps[k].Kind == SegmentMode.Forward) inner[k] += (long)directions[steps[k].Start] * cp.OutputBytes[k + 1];
                cp = CheckpointPlan.Solve(fns, new CheckpointPlan.Profile(inner, cp.StepSavesInput.ToArray(), cp.StepSavesOutput.ToArray(),
                    cp.OutputBytes.ToArray(), cp.StepCosts.ToArray()), budgetBytes);
            }
            var plan = new MemoryPlan(model, steps, fns, cp, backward, transient, rho, pass, overhead);
            if (!inv && !fwd) storeAll = cp.NoCheckpointPeakBytes;
            plans.Add(plan);
        }
        foreach (var p in plans)
        {
            p.StoreAllPeakBytes = storeAll;
            p.Candidates = plans;
        }
        var fitting = plans.Where(p => p.FitsBudget).ToList();
        return fitting.Count > 0
            ? fitting.OrderBy(p => p.PredictedSeconds).ThenBy(p => p.PredictedPeakBytes).First()
            : plans.OrderBy(p => p.PredictedPeakBytes).ThenBy(p => p.PredictedSeconds).First();
    }

    /// <summary>
    /// Calibrates the per-step times to whole passes: the sum of warm per-step medians misses what a whole pass costs
    /// (allocation, caches, the engine's bookkeeping), so the forward times are scaled by k_f = P_f / Σ f_i and the
    /// backward times by k_b = (P_fb − P_f) / Σ b_i, where P_f and P_fb are a measured whole forward pass and a whole
    /// forward and backward pass with every step stored: the calibrated store-all prediction is P_fb. The recompute
    /// factor ρ = (P_1 − P_fb) / (k_f·Σ f_i), from a whole pass P_1 with all n steps in one checkpointed segment, is the
    /// time a recomputed step adds per unit of its calibrated forward time (one checkpoint's overhead included; ≥ 0),
    /// and o = (P_n − P_1) / (n − 1), from a pass P_n with every step a checkpointed segment of its own, what each
    /// further checkpointed segment adds: a plan with k checkpointed segments is predicted
    /// Σ f_i + Σ b_i + ρ·Σ_recomputed f_i + o·(k − 1), exact at the three measured passes. Missing measurements (0)
    /// leave the factors at 1 (ρ = 1, o = 0).
    /// </summary>
    internal static (double[] Forward, double[] Backward, double RecomputeFactor, double SegmentOverhead) Calibrate(StepTimings t)
    {
        double sf = t.Forward.Sum(), sb = t.Backward.Sum();
        double kf = sf > 0 && t.PassForward > 0 ? t.PassForward / sf : 1;
        double backwardPass = t.PassForwardBackward - t.PassForward;
        double kb = sb > 0 && t.PassForward > 0 && backwardPass > 0 ? backwardPass / sb : 1;
        double rho = t.PassRecomputeOne > 0 && t.PassForwardBackward > 0 && sf > 0 ? Math.Max(0, (t.PassRecomputeOne - t.PassForwardBackward) / (kf * sf)) : 1;
        int n = t.Forward.Length;
        double o = n > 1 && t.PassRecomputeOne > 0 && t.PassRecomputeEach > 0 ? Math.Max(0, (t.PassRecomputeEach - t.PassRecomputeOne) / (n - 1)) : 0;
        return (t.Forward.Select(v => v * kf).ToArray(), t.Backward.Select(v => v * kb).ToArray(), rho, o);
    }

    /// <summary>What the planner measured for one candidate's steps (seconds): each step's forward and backward alone, and
    /// whole passes (forward; forward and backward with every step stored; the same with all steps in one checkpointed
    /// segment, and with every step a checkpointed segment of its own).</summary>
    internal sealed record StepTimings(double[] Forward, double[] Backward, double PassForward, double PassForwardBackward, double PassRecomputeOne, double PassRecomputeEach);

    /// <summary>Where the planner's times come from.</summary>
    internal interface IStepTimer
    {
        /// <summary>Times one candidate's steps on the sample.</summary>
        StepTimings Time(Sequential model, List<(int Start, int Count, SegmentMode Kind)> steps, Func<Tensor, Tensor>[] fns, Tensor sample);
    }

    /// <summary>Measured times: <see cref="TimeSteps"/> and <see cref="TimePasses"/>.</summary>
    private sealed class MeasuredTimer : IStepTimer
    {
        public static readonly MeasuredTimer Instance = new();

        public StepTimings Time(Sequential model, List<(int Start, int Count, SegmentMode Kind)> steps, Func<Tensor, Tensor>[] fns, Tensor sample)
        {
            var (f, b) = TimeSteps(model, steps, fns, sample);
            var (pf, pfb, p1, pn) = TimePasses(model, fns, sample);
            return new StepTimings(f, b, pf, pfb, p1, pn);
        }
    }

    /// <summary>
    /// Times whole passes of the steps on the sample with <see cref="TimePass"/> (the harness <see cref="MemoryPlanMeasure.Measure"/>
    /// uses too): the forward with recording; the forward, the sum of squares and its gradients for the parameters; the
    /// same with all steps in one checkpointed segment, and with every step checkpointed alone.
    /// </summary>
    internal static (double Forward, double ForwardBackward, double RecomputeOne, double RecomputeEach) TimePasses(Sequential model, Func<Tensor, Tensor>[] fns, Tensor sample)
    {
        var ps = model.Parameters().Select(p => (Tensor)p).Where(p => p.RequiresGrad).ToList();
        Tensor All(Tensor h)
        {
            foreach (var fn in fns) h = fn(h);
            return h;
        }
        Tensor One(Tensor h) => Checkpoint.Run(All, h);
        Tensor Each(Tensor h)
        {
            foreach (var fn in fns) h = Checkpoint.Run(fn, h);
            return h;
        }
        return (TimePass(All, sample, ps, null, backward: false), TimePass(All, sample, ps, null), TimePass(One, sample, ps, null), TimePass(Each, sample, ps, null));
    }

    [ThreadStatic] private static Func<double>? t_clock;

    /// <summary>This thread's clock of the planner's and <see cref="MemoryPlanMeasure.Measure"/>'s timings, in seconds; null (the
    /// default): wall time. An A/B harness on a loaded machine sets thread CPU time; tests set a deterministic count.</summary>
    internal static Func<double>? Clock { get => t_clock; set => t_clock = value; }

    private static double Now() => t_clock is { } c ? c() : Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency;

    /// <summary>
    /// The one timing harness of the planner's whole passes (<see cref="Calibrate"/>) and of <see cref="MemoryPlanMeasure.Measure"/>,
    /// so that a prediction and its measurement are timed alike: a pass is <paramref name="forward"/> on the sample with
    /// recording, <paramref name="loss"/> (default: the sum of squares) and, when <paramref name="backward"/>, its gradients for
    /// <paramref name="parameters"/> (or the sample when there are none) by <c>Autograd.Grad</c>, so no <c>.Grad</c> is written;
    /// one untimed pass first (the JIT, and the storage pool refilled: a pass right after <see cref="MemoryTracker"/>'s full
    /// collections finds the pool empty and allocates every large array afresh — measured 2x the thread CPU time of a warm
    /// pass), then the median of <see cref="TimingRuns"/> timed passes. The random generator is restored afterwards.
    /// </summary>
    internal static double TimePass(Func<Tensor, Tensor> forward, Tensor sample, IReadOnlyList<Tensor> parameters, Func<Tensor, Tensor>? loss, bool backward = true)
    {
        loss ??= y => y.Square().Sum();
        var gen = Generator.Default;
        var rng = gen.GetState();
        double Pass()
        {
            var x = sample.Detach();
            if (parameters.Count == 0 && x.DType.IsFloatingPoint()) x.RequiresGrad = true;
            Tensor[] targets = parameters.Count > 0 ? [.. parameters] : [x];
            double t0 = Now();
            Tensor h;
            using (Autograd.EnableGrad()) h = forward(x);
            if (backward && h.RequiresGrad)
            {
                Tensor l;
                using (Autograd.EnableGrad()) l = loss(h);
                Autograd.Grad([l], targets, allowUnused: true);
            }
            return Now() - t0;
        }
        try
        {
            var t = new double[TimingRuns];
            Pass();
            for (int r = 0; r < TimingRuns; r++) t[r] = Pass();
            Array.Sort(t);
            return t[TimingRuns / 2];
        }
        finally
        {
            gen.SetState(rng);
        }
    }

    /// <summary>
    /// Times every step's forward and backward on its input (the sample run through the steps before it): one warm-up
    /// run (the JIT), then the median of <see cref="TimingRuns"/> runs. The backward is <c>Autograd.Grad</c> of
    /// the step's output (ones seed) for its input and its layers' parameters, so no gradient is written. The random
    /// generator is restored afterwards.
    /// </summary>
    internal static (double[] Forward, double[] Backward) TimeSteps(Sequential model, List<(int Start, int Count, SegmentMode Kind)> steps, Func<Tensor, Tensor>[] fns, Tensor sample)
    {
        var forward = new double[steps.Count];
        var backward = new double[steps.Count];
        var gen = Generator.Default;
        var rng = gen.GetState();
        try
        {
            var h = sample.Detach();
            for (int k = 0; k < steps.Count; k++)
            {
                var ps = model.Layers.Skip(steps[k].Start).Take(steps[k].Count).SelectMany(l => l.Parameters()).Select(p => (Tensor)p).Where(p => p.RequiresGrad).ToList();
                var f = new double[TimingRuns];
                var b = new double[TimingRuns];
                Tensor y = h;
                for (int run = -1; run < TimingRuns; run++)
                {
                    var x = h.Detach();
                    if (x.DType.IsFloatingPoint()) x.RequiresGrad = true;
                    double t0 = Now();
                    using (Autograd.EnableGrad()) y = fns[k](x);
                    double tf = Now() - t0, tb = 0;
                    var targets = (x.RequiresGrad ? new[] { x } : []).Concat(ps).ToArray();
                    if (y.RequiresGrad && targets.Length > 0)
                    {
                        var seed = Tensor.OnesLike(y);
                        t0 = Now();
                        Autograd.Grad([y], targets, [seed], allowUnused: true);
                        tb = Now() - t0;
                    }
                    if (run >= 0) { f[run] = tf; b[run] = tb; }
                }
                Array.Sort(f);
                Array.Sort(b);
                forward[k] = f[TimingRuns / 2];
                backward[k] = b[TimingRuns / 2];
                h = y.Detach();
            }
        }
        finally
        {
            gen.SetState(rng);
        }
        return (forward, backward);
    }

    /// <summary>Runs the model on <paramref name="x"/> following the plan.</summary>
    public Tensor Forward(Tensor x) => _plan.Run(x);

    /// <summary>The plan's segments, predicted peak and time on one line.</summary>
    public override string ToString() =>
        $"MemoryPlan: {string.Join(", ", Segments.Select(s => $"{s.Mode} {s.Start}..{s.Start + s.Count - 1}"))}; predicted peak {PredictedPeakBytes} B " +
        $"(budget {BudgetBytes} B, {(FitsBudget ? "fits" : "does not fit")}; store-all {StoreAllPeakBytes} B), predicted time {PredictedSeconds * 1e3:F2} ms";

    private static bool IsFree(Module m) => m is not Reversible && !m.Parameters().Any(p => p.RequiresGrad);

    private static IEnumerable<(int Start, int Count)> FreeRuns(IReadOnlyList<Module> layers)
    {
        int i = 0;
        while (i < layers.Count)
        {
            if (!IsFree(layers[i])) { i++; continue; }
            int j = i;
            while (j < layers.Count && IsFree(layers[j])) j++;
            yield return (i, j - i);
            i = j;
        }
    }

    private static List<(int Start, int Count, SegmentMode Kind)> Steps(IReadOnlyList<Module> layers, bool invert, int[]? directions)
    {
        bool forward = directions is not null;
        var steps = new List<(int Start, int Count, SegmentMode Kind)>();
        int i = 0;
        while (i < layers.Count)
        {
            int j = i;
            if (invert && layers[i] is Reversible)
            {
                while (j < layers.Count && layers[j] is Reversible) j++;
                steps.Add((i, j - i, SegmentMode.Invert));
            }
            else if (forward && IsFree(layers[i]) && directions![i] <= MaxForwardDirections)
            {
                while (j < layers.Count && IsFree(layers[j])) j++;
                steps.Add((i, j - i, SegmentMode.Forward));
            }
            else
            {
                j = i + 1;
                steps.Add((i, 1, SegmentMode.Store));
            }
            i = j;
        }
        return steps;
    }

    private static Func<Tensor, Tensor> Function(Sequential model, (int Start, int Count, SegmentMode Kind) step)
    {
        var layers = model.Layers.Skip(step.Start).Take(step.Count).ToArray();
        switch (step.Kind)
        {
            case SegmentMode.Invert:
                var chain = new ReversibleSequential(layers.Cast<Reversible>().ToArray());
                return chain.Forward;
            case SegmentMode.Forward:
                var section = new Sequential([new Nn.MixedMode.Rev2Fwd(), .. layers.Select(l => (Module)new Nn.MixedMode.Lifted(l)), new Nn.MixedMode.Fwd2Rev()]);
                return section.Forward;
            default:
                var layer = layers[0];
                return layer.Forward;
        }
    }
}
