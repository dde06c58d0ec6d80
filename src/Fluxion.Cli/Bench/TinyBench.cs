namespace Fluxion.Cli.Bench;

/// <summary>
/// Per-op overhead: a chain of 1,000 ops on 0-d float32 tensors (alternating mul, add, tanh, sin),
/// forward with graph recording and backward. Reports microseconds per op. Each run takes about a millisecond:
/// the runner's warm-up (at least 3 s of interleaved rounds by default) lets the JIT promote the library's hot
/// paths to optimized code first, so the figures are steady-state costs, as in a training loop.
/// </summary>
public static class TinyBench
{
    /// <summary>Number of ops in the chain.</summary>
    public const int Ops = 1000;

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

        yield return new Workload("tiny/forward_nograd", ForwardNoGrad, r => PerOp(r, "tiny/forward_nograd"));
        yield return new Workload("tiny/forward_graph", () => Chain(), r => PerOp(r, "tiny/forward_graph"));
        // additions only: their backward passes the gradient through untouched, so this is the engine's own cost per node
        yield return new Workload("tiny/add_chain1000", AddChain, r => PerOp(r, "tiny/add_chain1000"));
        yield return new Workload("tiny/chain1000", FullChain, r => PerOp(r, "tiny/chain1000"));
    }
}
