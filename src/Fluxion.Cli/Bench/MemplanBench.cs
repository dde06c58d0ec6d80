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

    private static readonly Dictionary<string, long> Peaks = new();

    private static long Peak(string name, Action run)
    {
        long p = MemoryTracker.Measure(run).PeakBytes;
        Peaks[name] = p;
        return p;
    }

    private static IEnumerable<Workload> Make(bool tiny)
    {
        string prefix = tiny ? "memplan-tiny" : "memplan";
        // deep MLP
        int depth = tiny ? 8 : 64, width = tiny ? 32 : 1024, batch = tiny ? 4 : 64;
        Generator.ManualSeed(0);
        var mlp = new Sequential(Enumerable.Range(0, depth).SelectMany(_ => new Module[] { new Linear(width, width), new ReLU() }).ToArray());
        var xm = Tensor.Randn(batch, width);
        void StoreAll()
        {
            mlp.Forward(xm).Square().Sum().Backward();
            mlp.ZeroGrad();
        }
        var probe = MemoryPlan.Create(mlp, xm, long.MaxValue);
        long budget = (long)(probe.StoreAllPeakBytes * 2 / Math.Sqrt(depth));
        var plan = MemoryPlan.Create(mlp, xm, budget);
        void Planned()
        {
            plan.Forward(xm).Square().Sum().Backward();
            mlp.ZeroGrad();
        }
        string storeName = $"{prefix}/deep_mlp_store_all", sqrtName = $"{prefix}/deep_mlp_sqrt";
        yield return new Workload(storeName, StoreAll, _ => new Dictionary<string, object> { ["peak_bytes"] = Peak(storeName, StoreAll), ["predicted_peak_bytes"] = probe.StoreAllPeakBytes });
        yield return new Workload(sqrtName, Planned, r =>
        {
            var extra = new Dictionary<string, object>
            {
                ["peak_bytes"] = Peak(sqrtName, Planned),
                ["budget_bytes"] = budget,
                ["predicted_peak_bytes"] = plan.PredictedPeakBytes,
                ["plan"] = plan.ToString(),
            };
            if (r.TryGetValue(storeName, out var s)) extra["ratio_to_store_all"] = Math.Round(r[sqrtName].MedianMs / s.MedianMs, 3);
            if (Peaks.TryGetValue(storeName, out var sp) && sp > 0) extra["memory_vs_store_all"] = Math.Round((double)Peaks[sqrtName] / sp, 3);
            return extra;
        });

        // reversible network
        int half = tiny ? 8 : 512, rb = tiny ? 4 : 64;
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
        yield return new Workload(plainName, RunPlain, _ => new Dictionary<string, object> { ["peak_bytes"] = Peak(plainName, RunPlain), ["activation_bytes_8"] = plain8, ["activation_bytes_64"] = plain64 });
        yield return new Workload(revName, RunRev, r =>
        {
            var extra = new Dictionary<string, object>
            {
                ["peak_bytes"] = Peak(revName, RunRev),
                ["activation_bytes_8"] = act8,
                ["activation_bytes_64"] = act64,
                ["stored_blocks"] = rev.LastReport?.StoredBlocks.Count ?? 0,
            };
            if (r.TryGetValue(plainName, out var p)) extra["ratio_to_plain"] = Math.Round(r[revName].MedianMs / p.MedianMs, 3);
            return extra;
        });

        // particle loop
        int marbles = tiny ? 6 : 784, nodes = tiny ? 2 : 8, eaters = tiny ? 2 : 10, steps = tiny ? 40 : 1000, snapshots = tiny ? 4 : 10;
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
        var byteStats = new LoopStats();
        void ByteBudget()
        {
            byteEvals = 0;
            var state = sim.InitialState(x, v, m, s, a);
            sim.Positions(Checkpoint.Loop(st => { byteEvals++; return sim.Step(st, m, s, a); }, state, steps, sqrtModelBytes, stepBytes, byteStats)).Sum().Backward();
            foreach (var p in ps) p.Grad = null;
        }
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
            ["peak_bytes"] = Peak(sqName, Sqrt), ["step_evals"] = sqrtEvals, ["steps"] = steps, ["segments"] = segs,
            ["model_bytes"] = sqrtModelBytes, ["state_bytes"] = stateBytes, ["step_graph_bytes"] = stepBytes,
        });
        yield return new Workload(biName, ByteBudget, r =>
        {
            var schedule = LoopMemorySchedule.Create(steps, sqrtModelBytes, stateBytes, stepBytes);
            var extra = new Dictionary<string, object>
            {
                ["peak_bytes"] = Peak(biName, ByteBudget),
                ["step_evals"] = byteEvals,
                ["optimal_step_evals"] = byteStats.OptimalStepEvaluations,
                ["sqrt_step_evals"] = LoopMemorySchedule.SegmentedStepEvaluations(steps, segs),
                ["budget_bytes"] = sqrtModelBytes,
                ["model_peak_bytes"] = byteStats.ModeledPeakBytes,
                ["sqrt_model_bytes"] = sqrtModelBytes,
                ["state_bytes"] = stateBytes,
                ["step_graph_bytes"] = stepBytes,
                ["steps"] = steps,
                ["schedule"] = schedule.ToString(),
            };
            if (r.TryGetValue(sqName, out var q)) extra["ratio_to_sqrt"] = Math.Round(r[biName].MedianMs / q.MedianMs, 3);
            if (Peaks.TryGetValue(sqName, out var qp) && qp > 0)
            {
                extra["sqrt_peak_bytes"] = qp;
                extra["memory_vs_sqrt"] = Math.Round((double)Peaks[biName] / qp, 3);
            }
            return extra;
        });
        yield return new Workload(rvName, Revolve, r =>
        {
            var extra = new Dictionary<string, object>
            {
                ["peak_bytes"] = Peak(rvName, Revolve),
                ["step_evals"] = revolveEvals,
                ["optimal_step_evals"] = BinomialSchedule.MinStepEvaluations(steps, snapshots),
                ["snapshots"] = snapshots,
                ["steps"] = steps,
            };
            if (r.TryGetValue(sqName, out var q)) extra["ratio_to_sqrt"] = Math.Round(r[rvName].MedianMs / q.MedianMs, 3);
            if (Peaks.TryGetValue(sqName, out var qp) && qp > 0) extra["memory_vs_sqrt"] = Math.Round((double)Peaks[rvName] / qp, 3);
            return extra;
        });
    }
}
