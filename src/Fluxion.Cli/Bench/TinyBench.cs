using System.Diagnostics;

namespace Fluxion.Cli.Bench;

/// <summary>
/// Per-op overhead: a chain of 1,000 ops on 0-d float32 tensors (alternating mul, add, tanh, sin),
/// forward with graph recording and backward. Reports microseconds per op.
/// <para>Each run takes about a millisecond, so the runner's few warm-up runs end long before the JIT
/// has promoted the library's hot paths to optimized code (tiered compilation starts counting calls
/// only after ~100 ms without new compilations). The suite therefore first drives every workload for
/// at least <see cref="JitWarmupIterations"/> times and <see cref="JitWarmupMs"/> of wall time, so the figures are steady-state costs, as in a training loop.</para>
/// </summary>
public static class TinyBench
{
    /// <summary>Number of ops in the chain.</summary>
    public const int Ops = 1000;

    /// <summary>Wall time spent driving the workloads before measuring, for the JIT to reach its optimized tier.</summary>
    public const int JitWarmupMs = 1000;

    /// <summary>Minimum number of warm-up iterations (each runs every workload once), however long they take.</summary>
    public const int JitWarmupIterations = 300;

    /// <summary>The workloads.</summary>
    public static IEnumerable<Workload> Workloads()
    {
        var x = Tensor.Scalar(0.5).RequiresGrad_();
        var c = Tensor.Scalar(0.999);

        Tensor Chain()
        {
            var y = x;
            for (int i = 0; i < Ops / 4; i++) y = ((y * c) + c).Tanh().Sin();
            return y;
        }

        void ForwardNoGrad()
        {
            using var _ = Autograd.NoGrad();
            Chain();
        }

        void AddChain()
        {
            var y = x;
            for (int i = 0; i < Ops; i++) y = y + c;
            y.Backward();
            x.Grad = null;
        }

        void FullChain()
        {
            Chain().Backward();
            x.Grad = null;
        }

        static Dictionary<string, object> PerOp(IReadOnlyDictionary<string, BenchResult> r, string name) =>
            new() { ["us_per_op"] = Math.Round(r[name].MedianMs * 1000 / Ops, 3) };

        var sw = Stopwatch.StartNew();
        for (int i = 0; i < JitWarmupIterations || sw.ElapsedMilliseconds < JitWarmupMs; i++)
        {
            ForwardNoGrad();
            AddChain();
            FullChain();
        }

        yield return new Workload("tiny/forward_nograd", ForwardNoGrad, r => PerOp(r, "tiny/forward_nograd"));
        yield return new Workload("tiny/forward_graph", () => Chain(), r => PerOp(r, "tiny/forward_graph"));
        // additions only: their backward passes the gradient through untouched, so this is the engine's own cost per node
        yield return new Workload("tiny/add_chain1000", AddChain, r => PerOp(r, "tiny/add_chain1000"));
        yield return new Workload("tiny/chain1000", FullChain, r => PerOp(r, "tiny/chain1000"));
    }
}
