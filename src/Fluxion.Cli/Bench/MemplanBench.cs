using Fluxion.Nn;
using Fluxion.Physics;

namespace Fluxion.Cli.Bench;

/// <summary>
/// Memory plans against storing everything, each pair in the same run (float32, forward and backward of
/// the sum of squares, or of the particles' final positions):
/// <list type="bullet">
/// <item><c>memplan/deep_mlp_store_all</c> and <c>memplan/deep_mlp_sqrt</c>: an MLP of 64 Linear+ReLU layers of
/// width 1024, batch 64, stored vs the <see cref="MemoryPlan"/> for a budget of 2/√64 of the store-all peak
/// (about √depth layers' activations): <c>ratio_to_store_all</c> (time), predicted and measured peaks.</item>
/// <item><c>memplan/reversible_plain</c> and <c>memplan/reversible</c>: 64 coupling blocks (f, g: Linear 512→512 +
/// Tanh) run plainly vs as a <see cref="ReversibleSequential"/>: <c>ratio_to_plain</c> (time of forward +
/// backward), and the activation bytes saved for backward at 8 and 64 blocks
/// (<c>activation_bytes_8</c>, <c>activation_bytes_64</c>; the plain network's beside them).</item>
/// <item><c>memplan/loop_sqrt</c>, <c>memplan/loop_binomial</c> and <c>memplan/loop_revolve_10</c>: the particle simulation
/// (784 marbles, 8 nodes, 10 eaters) for 1,000 steps, √T-checkpointed (<see cref="Checkpoint.Sequential"/>); with the
/// <see cref="LoopMemorySchedule"/> for the bytes √T checkpointing holds in the same model (⌈√T⌉ + 1 states and one segment's
/// recorded steps, with the state's bytes and one step's graph bytes measured): <c>step_evals</c> (the step's calls, counted as
/// for √T, the recorded forward included), <c>optimal_step_evals</c> (the schedule's optimum), <c>sqrt_step_evals</c>,
/// the modeled bytes of both (<c>sqrt_model_bytes</c>, <c>model_peak_bytes</c>) and the measured peaks (<c>peak_bytes</c>,
/// <c>sqrt_peak_bytes</c>); and Revolve with 10 snapshots (<see cref="Checkpoint.Loop(Func{Tensor, Tensor}, Tensor, int, int, LoopStats?)"/>).</item>
/// </list>
/// <c>memplan-tiny</c> runs the same workloads at tiny sizes (a smoke test of the command, not a measurement).
/// </summary>
public static class MemplanBench
{
    /// <summary>The workloads at the sizes of the issue.</summary>
    public static IEnumerable<Workload> Workloads() => Make(tiny: false);

    /// <summary>The same workloads at tiny sizes.</summary>
    public static IEnumerable<Workload> TinyWorkloads() => Make(tiny: true);

    /// <summary>
    /// <c>--filter</c>: only the workloads whose name contains one of the comma-separated parts (case-insensitive; <c>=name</c>:
    /// exactly that name, with or without the suite prefix), each with its group's baseline (store-all, the plain network,
    /// √T checkpointing), which its ratios need. A group none of whose workloads is selected builds nothing. Null: all.
    /// </summary>
    public static string? Filter { get; set; }

    private static bool Selected(string name)
    {
        if (Filter is not { } f) return true;
        string shortName = name[(name.IndexOf('/') + 1)..];
        return f.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Any(p =>
            p.StartsWith('=') ? p[1..] == name || p[1..] == shortName : name.Contains(p, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>The tensor peak the runner measured for <paramref name="name"/> (one extra run under <see cref="MemoryTracker"/>), or −1.</summary>
    private static long PeakOf(IReadOnlyDictionary<string, BenchResult> r, string name) => r.TryGetValue(name, out var b) ? b.PeakBytes : -1;

    private static IEnumerable<Workload> Make(bool tiny)
    {
        string prefix = tiny ? "memplan-tiny" : "memplan";
        int snapshots = tiny ? 4 : 10;
        var groups = new (string[] Names, Func<IEnumerable<Workload>> Build)[]
        {
            ([$"{prefix}/deep_mlp_store_all", $"{prefix}/deep_mlp_sqrt"], () => DeepMlp(prefix, tiny)),
            ([$"{prefix}/reversible_plain", $"{prefix}/reversible"], () => ReversibleNet(prefix, tiny)),
            ([$"{prefix}/loop_sqrt", $"{prefix}/loop_binomial", $"{prefix}/loop_revolve_{snapshots}"], () => ParticleLoop(prefix, tiny, snapshots)),
        };
        foreach (var (names, build) in groups)
        {
            var chosen = names.Where(Selected).ToHashSet();
            if (chosen.Count == 0) continue;
            chosen.Add(names[0]); // the baseline the group's ratios are taken against
            foreach (var w in build())
                if (chosen.Contains(w.Name)) yield return w;
        }
    }

    /// <summary>The deep MLP, stored vs planned for about √depth layers' activations; the plan is made (its steps timed) at
    /// the planned workload's first run, so a run of the store-all workload alone does not pay for it.</summary>
    private static IEnumerable<Workload> DeepMlp(string prefix, bool tiny)
    {
        int depth = tiny ? 8 : 64, width = tiny ? 32 : 1024, batch = tiny ? 4 : 64;
        Generator.ManualSeed(0);
        var mlp = new Sequential(Enumerable.Range(0, depth).SelectMany(_ => new Module[] { new Linear(width, width), new ReLU() }).ToArray());
        var xm = Tensor.Randn(batch, width);
        void StoreAll()
        {
            mlp.Forward(xm).Square().Sum().Backward();
            mlp.ZeroGrad();
        }
        // the store-all peak is the same for any step costs: unit costs, no timing
        long storeAllPredicted = MemoryPlan.Create(mlp, xm, long.MaxValue, _ => 1.0).StoreAllPeakBytes;
        long budget = (long)(storeAllPredicted * 2 / Math.Sqrt(depth));
        var plan = new Lazy<MemoryPlan>(() => MemoryPlan.Create(mlp, xm, budget));
        void Planned()
        {
            plan.Value.Forward(xm).Square().Sum().Backward();
            mlp.ZeroGrad();
        }
        string storeName = $"{prefix}/deep_mlp_store_all", sqrtName = $"{prefix}/deep_mlp_sqrt";
        yield return new Workload(storeName, StoreAll, _ => new Dictionary<string, object> { ["predicted_peak_bytes"] = storeAllPredicted });
        yield return new Workload(sqrtName, Planned, r =>
        {
            var extra = new Dictionary<string, object>
            {
                ["budget_bytes"] = budget,
                ["predicted_peak_bytes"] = plan.Value.PredictedPeakBytes,
                ["plan"] = plan.Value.ToString(),
            };
            if (r.TryGetValue(storeName, out var s)) extra["ratio_to_store_all"] = Math.Round(r[sqrtName].MedianMs / s.MedianMs, 3);
            long sp = PeakOf(r, storeName), pp = PeakOf(r, sqrtName);
            if (sp > 0 && pp >= 0) extra["memory_vs_store_all"] = Math.Round((double)pp / sp, 3);
            return extra;
        });
    }

    /// <summary>64 coupling blocks, plain vs reversible.</summary>
    private static IEnumerable<Workload> ReversibleNet(string prefix, bool tiny)
    {
        int half = tiny ? 8 : 512, rb = tiny ? 4 : 64;
        Generator.ManualSeed(0);
        Reversible Block() => new(new Sequential(new Linear(half, half), new Tanh()), new Sequential(new Linear(half, half), new Tanh()));
        var blocks = Enumerable.Range(0, 64).Select(_ => Block()).ToArray();
        var rev = new ReversibleSequential(blocks);
        var plainNet = new Sequential(blocks);
        var xr = Tensor.Randn(rb, 2 * half);
        long Activations(Module m)
        {
            var y = m.Forward(xr);
            return MemoryTracker.SavedForBackward(y).ActivationBytes;
        }
        long act8 = Activations(new ReversibleSequential(blocks.Take(8).ToArray())), act64 = Activations(rev);
        long plain8 = Activations(new Sequential(blocks.Take(8).ToArray())), plain64 = Activations(plainNet);
        void RunPlain()
        {
            plainNet.Forward(xr).Square().Sum().Backward();
            plainNet.ZeroGrad();
        }
        void RunRev()
        {
            rev.Forward(xr).Square().Sum().Backward();
            rev.ZeroGrad();
        }
        string plainName = $"{prefix}/reversible_plain", revName = $"{prefix}/reversible";
        yield return new Workload(plainName, RunPlain, _ => new Dictionary<string, object> { ["activation_bytes_8"] = plain8, ["activation_bytes_64"] = plain64 });
        yield return new Workload(revName, RunRev, r =>
        {
            var extra = new Dictionary<string, object>
            {
                ["activation_bytes_8"] = act8,
                ["activation_bytes_64"] = act64,
                ["stored_blocks"] = rev.LastReport?.StoredBlocks.Count ?? 0,
            };
            if (r.TryGetValue(plainName, out var p)) extra["ratio_to_plain"] = Math.Round(r[revName].MedianMs / p.MedianMs, 3);
            return extra;
        });
    }

    /// <summary>Steps of the particle loop (default: 1,000, tiny: 40); <c>--steps</c> sets it.</summary>
    public static int? LoopSteps { get; set; }

    /// <summary>The exact peak of live tensor storage of one run (<see cref="MemoryTracker"/> without slack: a full collection at
    /// every allocation that could set a new peak), the meter of the loop workloads' memory comparison.</summary>
    private static long ExactPeak(Action run) => MemoryTracker.Measure(run, 0, 0).PeakBytes;

    /// <summary>
    /// The particle loop: √T checkpointing, the byte-budget schedule (<see cref="LoopMemorySchedule"/>), Revolve with a snapshot
    /// count. The schedule's budget is calibrated so that its measured peak does not exceed √T's: the model counts state
    /// snapshots (s bytes) and recorded steps (a bytes, measured), while a run also holds what neither schedule's model
    /// counts (the gradients during the backward pass, the input of the step being evaluated and its temporaries); that
    /// overhead is measured (exact peak minus modeled peak of a run) and taken off √T's measured peak, up to three times,
    /// until the schedule's measured peak is at most √T's (both with the exact meter, <see cref="ExactPeak"/>).
    /// </summary>
    private static IEnumerable<Workload> ParticleLoop(string prefix, bool tiny, int snapshots)
    {
        int marbles = tiny ? 6 : 784, nodes = tiny ? 2 : 8, eaters = tiny ? 2 : 10, steps = LoopSteps ?? (tiny ? 40 : 1000);
        int n = marbles + nodes + eaters;
        var kinds = Enumerable.Repeat(ParticleKind.Marble, marbles).Concat(Enumerable.Repeat(ParticleKind.Node, nodes))
            .Concat(Enumerable.Repeat(ParticleKind.Eater, eaters)).ToArray();
        var sim = new ParticleSimulation(kinds, 2, 0.01, new ForceSpec(ForceLaw.NewtonianGravity, Softening: 0.1), Integrator.VelocityVerlet,
            eaterRadius: Enumerable.Repeat(0.02, n).ToArray());
        var g = new Generator(0);
        var x = Tensor.Uniform([n, 2], -1, 1, DType.Float32, g).RequiresGrad_();
        var v = Tensor.Zeros([n, 2], DType.Float32);
        var m = Tensor.Uniform([n], 0.5 / n, 1.5 / n, DType.Float32, g).RequiresGrad_();
        var s = Tensor.Zeros([n, ParticleSimulation.KindCount], DType.Float32).RequiresGrad_();
        var a = Tensor.Ones([n, ParticleSimulation.KindCount], DType.Float32).RequiresGrad_();
        var ps = new[] { x, m, s, a };
        long sqrtEvals = 0, byteEvals = 0, revolveEvals = 0;
        void Sqrt()
        {
            sqrtEvals = 0;
            var state = sim.InitialState(x, v, m, s, a);
            var fns = Enumerable.Repeat<Func<Tensor, Tensor>>(st => { sqrtEvals++; return sim.Step(st, m, s, a); }, steps).ToList();
            sim.Positions(Checkpoint.Sequential(fns, state)).Sum().Backward();
            foreach (var p in ps) p.Grad = null;
        }
        // the memory model of LoopMemorySchedule: a state snapshot (s bytes) and a recorded step (a bytes, measured)
        var st0 = sim.InitialState(x, v, m, s, a).Detach();
        long stateBytes = (long)st0.Numel * st0.DType.ElementSize();
        long stepBytes = Checkpoint.MeasureStepBytes(st => sim.Step(st, m, s, a), st0);
        int segs = (int)Math.Ceiling(Math.Sqrt(steps));
        long sqrtModelBytes = LoopMemorySchedule.SegmentedPeakBytes(steps, segs, stateBytes, stepBytes);
        long minBudget = 3 * stateBytes + stepBytes;
        var byteStats = new LoopStats();
        long budget = sqrtModelBytes;
        void ByteBudgetAt(long bytes)
        {
            byteEvals = 0;
            var state = sim.InitialState(x, v, m, s, a);
            sim.Positions(Checkpoint.Loop(st => { byteEvals++; return sim.Step(st, m, s, a); }, state, steps, bytes, stepBytes, byteStats)).Sum().Backward();
            foreach (var p in ps) p.Grad = null;
        }
        // the calibration (at the byte-budget workload's first run, so that the other workloads' runs alone do not pay for it)
        long sqrtExact = 0, uncalibratedExact = 0, uncalibratedEvals = 0, calibratedExact = 0;
        int calibrationRuns = 0;
        var calibrated = new Lazy<long>(() =>
        {
            sqrtExact = ExactPeak(Sqrt);
            long bytes = sqrtModelBytes, exact = 0;
            for (int k = 0; k < 4; k++)
            {
                exact = ExactPeak(() => ByteBudgetAt(bytes));
                calibrationRuns++;
                if (k == 0) (uncalibratedExact, uncalibratedEvals) = (exact, byteEvals);
                if (exact <= sqrtExact || k == 3) break;
                long overhead = exact - byteStats.ModeledPeakBytes;
                long next = Math.Max(minBudget, Math.Min(bytes - 1, sqrtExact - overhead));
                if (next == bytes) break;
                bytes = next;
            }
            calibratedExact = exact;
            return bytes;
        });
        void ByteBudget() => ByteBudgetAt(budget = calibrated.Value);
        var stats = new LoopStats();
        void Revolve()
        {
            revolveEvals = 0;
            var state = sim.InitialState(x, v, m, s, a);
            sim.Positions(Checkpoint.Loop(st => { revolveEvals++; return sim.Step(st, m, s, a); }, state, steps, snapshots, stats)).Sum().Backward();
            foreach (var p in ps) p.Grad = null;
        }
        string sqName = $"{prefix}/loop_sqrt", biName = $"{prefix}/loop_binomial", rvName = $"{prefix}/loop_revolve_{snapshots}";
        yield return new Workload(sqName, Sqrt, _ => new Dictionary<string, object>
        {
            ["step_evals"] = sqrtEvals, ["steps"] = steps, ["segments"] = segs,
            ["model_bytes"] = sqrtModelBytes, ["state_bytes"] = stateBytes, ["step_graph_bytes"] = stepBytes,
        });
        yield return new Workload(biName, ByteBudget, r =>
        {
            var extra = new Dictionary<string, object>
            {
                ["step_evals"] = byteEvals,
                ["optimal_step_evals"] = byteStats.OptimalStepEvaluations,
                ["sqrt_step_evals"] = LoopMemorySchedule.SegmentedStepEvaluations(steps, segs),
                ["exact_peak_bytes"] = calibratedExact,
                ["sqrt_exact_peak_bytes"] = sqrtExact,
                ["memory_vs_sqrt"] = Math.Round((double)calibratedExact / sqrtExact, 4),
                ["budget_bytes"] = budget,
                ["model_peak_bytes"] = byteStats.ModeledPeakBytes,
                ["sqrt_model_bytes"] = sqrtModelBytes,
                ["unmodeled_bytes"] = calibratedExact - byteStats.ModeledPeakBytes,
                ["uncalibrated_step_evals"] = uncalibratedEvals,
                ["uncalibrated_exact_peak_bytes"] = uncalibratedExact,
                ["calibration_runs"] = calibrationRuns,
                ["state_bytes"] = stateBytes,
                ["step_graph_bytes"] = stepBytes,
                ["steps"] = steps,
                ["schedule"] = byteStats.Schedule?.ToString() ?? "",
            };
            if (r.TryGetValue(sqName, out var q)) extra["ratio_to_sqrt"] = Math.Round(r[biName].MedianMs / q.MedianMs, 3);
            return extra;
        });
        yield return new Workload(rvName, Revolve, r =>
        {
            var extra = new Dictionary<string, object>
            {
                ["step_evals"] = revolveEvals,
                ["optimal_step_evals"] = BinomialSchedule.MinStepEvaluations(steps, snapshots),
                ["snapshots"] = snapshots,
                ["steps"] = steps,
            };
            if (r.TryGetValue(sqName, out var q)) extra["ratio_to_sqrt"] = Math.Round(r[rvName].MedianMs / q.MedianMs, 3);
            long qp = PeakOf(r, sqName), rp = PeakOf(r, rvName);
            if (qp > 0 && rp >= 0) extra["memory_vs_sqrt"] = Math.Round((double)rp / qp, 3);
            return extra;
        });
    }
}
