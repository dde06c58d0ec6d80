using Fluxion.Nn;
using Fluxion.Optim;

namespace Fluxion.Cli.Bench;

/// <summary>
/// Compile (issue 19), each workload eager and compiled in the same run: a chain of 20 elementwise ops on a
/// [1024, 1024] float32 tensor, and the MLP and CNN training steps of <see cref="TrainStepBench"/> (forward, loss and
/// backward compiled as one joint graph, with the Adam step as its last step through <see cref="CompileOptions.Optimizer"/>). <c>ratio_to_eager</c> is the compiled median
/// time over the eager one; <c>peak_ratio_to_eager</c> the peak of live tensor memory during one step (MemoryTracker;
/// the compiled step's preallocated arena counted in) over eager's.
/// </summary>
public static class CompileBench
{
    /// <summary>The workloads.</summary>
    public static IEnumerable<Workload> Workloads()
    {
        Generator.ManualSeed(0);
        var x = Tensor.Randn(1024, 1024);
        var chain = Functional.Compile(Chain);
        foreach (var w in Pair("compile/elementwise_chain", () => Chain(x), () => chain.Call(x), chain)) yield return w;

        var mlp = new Sequential(new Linear(784, 512), new ReLU(), new Linear(512, 256), new ReLU(), new Linear(256, 10));
        var mlpOpt = new Adam(mlp.Parameters(), lr: 1e-3);
        var mx = Tensor.Randn(128, 784);
        var my = Tensor.RandInt(0, 10, [128]);
        var mlpStep = StepOf(mlp, mlpOpt);
        foreach (var w in Pair("compile/mlp_step", () => Eager(mlp, mlpOpt, mx, my), () => mlpStep.Call(mx, my), mlpStep)) yield return w;

        var cnn = new Sequential(
            new Conv2d(1, 32, 3, padding: 1), new ReLU(), new MaxPool2d(2),
            new Conv2d(32, 64, 3, padding: 1), new ReLU(), new MaxPool2d(2),
            new Flatten(), new Linear(64 * 7 * 7, 128), new ReLU(), new Linear(128, 10));
        var cnnOpt = new Adam(cnn.Parameters(), lr: 1e-3);
        var cx = Tensor.Randn(64, 1, 28, 28);
        var cy = Tensor.RandInt(0, 10, [64]);
        var cnnStep = StepOf(cnn, cnnOpt);
        foreach (var w in Pair("compile/cnn_step", () => Eager(cnn, cnnOpt, cx, cy), () => cnnStep.Call(cx, cy), cnnStep, TrainStepBench.CnnWarmupSeconds))
            yield return w;
        foreach (var w in BudgetSweep("compile/cnn_step", cnn, cnnOpt, cx, cy)) yield return w;
    }

    /// <summary>The activation-memory budget sweep of the CNN step (issue 19): the step compiled with a budget of 100, 50
    /// and 25 % of the eager activation memory (the bytes eager's backward keeps, <see cref="MemoryTracker.SavedForBackward"/>;
    /// <see cref="CompileOptions.ActivationBudgetBytes"/>), named <c>compile/cnn_step_budget_100</c>, <c>_50</c>, <c>_25</c>,
    /// then with 50 and 25 % of the compiled graph's own store-all activations (<see cref="CompileOptions.ActivationBudget"/>;
    /// smaller than eager's, since the graph passes already drop some), named <c>compile/cnn_step_graph_budget_50</c>,
    /// <c>_25</c>: budget -> time, measured peak (against the eager step <c>compile/cnn_step_eager</c>).</summary>
    private static IEnumerable<Workload> BudgetSweep(string baseName, Module model, Optimizer opt, Tensor x, Tensor y)
    {
        long eagerActivations;
        using (Autograd.EnableGrad())
            eagerActivations = MemoryTracker.SavedForBackward(Losses.CrossEntropy(model.Forward(x), y)).ActivationBytes;
        foreach (var (percent, ofGraph) in new[] { (100, false), (50, false), (25, false), (50, true), (25, true) })
        {
            var step = ofGraph ? StepOf(model, opt, percent / 100.0) : StepOf(model, opt, budgetBytes: eagerActivations * percent / 100);
            string name = $"{baseName}_{(ofGraph ? "graph_" : "")}budget_{percent}";
            void Run() => step.Call(x, y);
            Run();
            Run();
            yield return new Workload(name, Run, r =>
            {
                var g = step.LastGraph!;
                long eagerPeak = MemoryTracker.Measure(() => Eager(model, opt, x, y)).PeakBytes;
                long trackedPeak = MemoryTracker.Measure(Run).PeakBytes + g.Stats.ArenaBytes;
                long replayPeak = g.MeasurePeakBytes(x, y);
                var a = g.Activations!;
                return new Dictionary<string, object>
                {
                    ["budget"] = percent / 100.0,
                    ["budget_of"] = ofGraph ? "compiled store-all activations" : "eager activations",
                    ["budget_bytes"] = a.BudgetBytes,
                    ["ratio_to_eager"] = Math.Round(r[name].MedianMs / r[baseName + "_eager"].MedianMs, 3),
                    ["peak_ratio_to_eager"] = Math.Round(trackedPeak / (double)Math.Max(1, eagerPeak), 3),
                    ["peak_bytes"] = trackedPeak,
                    ["eager_peak_bytes"] = eagerPeak,
                    ["replay_peak_bytes"] = replayPeak,
                    ["predicted_peak_bytes"] = g.Stats.PredictedPeakBytes,
                    ["eager_activation_bytes"] = eagerActivations,
                    ["kept_activation_bytes"] = a.SavedBytes,
                    ["store_all_activation_bytes"] = a.StoreAllBytes,
                    ["recomputed_ops"] = a.RecomputedOps,
                };
            }, TrainStepBench.CnnWarmupSeconds);
        }
    }

    /// <summary>20 elementwise ops: four rounds of scale, tanh, sigmoid, subtract and multiply.</summary>
    internal static Tensor Chain(Tensor x)
    {
        var y = x;
        for (int i = 0; i < 4; i++) y = ((y * 0.5).Tanh() - y.Sigmoid()) * y;
        return y;
    }

    private static CompiledFunction StepOf(Module model, Optimizer opt, double? budget = null, long? budgetBytes = null) => Functional.Compile((Tensor[] xs) =>
    {
        var loss = Losses.CrossEntropy(model.Forward(xs[0]), xs[1]);
        loss.Backward();
        return loss.Detach();
    }, new CompileOptions { Optimizer = opt, ActivationBudget = budget, ActivationBudgetBytes = budgetBytes });

    private static void Eager(Module model, Optimizer opt, Tensor x, Tensor y)
    {
        opt.ZeroGrad();
        Losses.CrossEntropy(model.Forward(x), y).Backward();
        opt.Step();
    }

    /// <summary>The eager workload, then the compiled one with its ratios to eager (time and peak memory).</summary>
    private static IEnumerable<Workload> Pair(string name, Action eager, Action compiled, CompiledFunction f, double warmup = 0)
    {
        // the first call traces, the second traces again to check the graph does not depend on the values: replays follow
        compiled();
        compiled();
        yield return new Workload(name + "_eager", eager, WarmupSeconds: warmup);
        yield return new Workload(name, compiled, r =>
        {
            long eagerPeak = MemoryTracker.Measure(eager).PeakBytes;
            var s = f.LastGraph!.Stats;
            long compiledPeak = MemoryTracker.Measure(compiled).PeakBytes + s.ArenaBytes;
            return new Dictionary<string, object>
            {
                ["ratio_to_eager"] = Math.Round(r[name].MedianMs / r[name + "_eager"].MedianMs, 3),
                ["peak_ratio_to_eager"] = Math.Round(compiledPeak / (double)Math.Max(1, eagerPeak), 3),
                ["peak_bytes"] = compiledPeak,
                ["eager_peak_bytes"] = eagerPeak,
                ["predicted_peak_bytes"] = s.PredictedPeakBytes,
                ["arena_bytes"] = s.ArenaBytes,
                ["ops"] = s.LiveOps,
                ["fused_groups"] = s.FusedGroups,
                ["fused_ops"] = s.FusedOps,
            };
        }, warmup);
    }
}
