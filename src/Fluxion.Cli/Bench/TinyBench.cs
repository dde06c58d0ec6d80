namespace Fluxion.Cli.Bench;

/// <summary>
/// Per-op overhead: a chain of 1,000 ops on 0-d float32 tensors (alternating mul, add, tanh, sin),
/// forward with graph recording and backward. Reports microseconds per op.
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
        yield return new Workload("tiny/forward_nograd", () =>
        {
            using var _ = Autograd.NoGrad();
            var y = x;
            for (int i = 0; i < Ops / 4; i++) y = ((y * c) + c).Tanh().Sin();
        }, r => new Dictionary<string, object> { ["us_per_op"] = Math.Round(r["tiny/forward_nograd"].MedianMs * 1000 / Ops, 3) });
        yield return new Workload("tiny/forward_graph", () =>
        {
            var y = x;
            for (int i = 0; i < Ops / 4; i++) y = ((y * c) + c).Tanh().Sin();
        }, r => new Dictionary<string, object> { ["us_per_op"] = Math.Round(r["tiny/forward_graph"].MedianMs * 1000 / Ops, 3) });
        // additions only: their backward passes the gradient through untouched, so this is the engine's own cost per node
        yield return new Workload("tiny/add_chain1000", () =>
        {
            var y = x;
            for (int i = 0; i < Ops; i++) y = y + c;
            y.Backward();
            x.Grad = null;
        }, r => new Dictionary<string, object> { ["us_per_op"] = Math.Round(r["tiny/add_chain1000"].MedianMs * 1000 / Ops, 3) });
        yield return new Workload("tiny/chain1000", () =>
        {
            var y = x;
            for (int i = 0; i < Ops / 4; i++) y = ((y * c) + c).Tanh().Sin();
            y.Backward();
            x.Grad = null;
        }, r => new Dictionary<string, object> { ["us_per_op"] = Math.Round(r["tiny/chain1000"].MedianMs * 1000 / Ops, 3) });
    }
}
