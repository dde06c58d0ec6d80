using TorchSharp;
using static TorchSharp.torch;

namespace TorchSharpBench;

/// <summary>`fluxion bench tiny`: chains of 1,000 ops on 0-d float32 tensors (mul, add, tanh, sin): forward without
/// graph, forward with graph, 1,000 additions forward + backward, the full chain forward + backward; "us_per_op".</summary>
public sealed class TinySuite : ISuite
{
    /// <summary>Ops per chain.</summary>
    public const int Ops = 1000;

    /// <inheritdoc/>
    public IEnumerable<Workload> Workloads()
    {
        var x = torch.tensor(0.5f).requires_grad_();
        var c = torch.tensor(0.999f);
        Tensor Chain()
        {
            var y = x;
            for (int i = 0; i < Ops / 4; i++) y = ((y * c) + c).tanh().sin();
            return y;
        }
        static Func<IReadOnlyDictionary<string, Result>, Dictionary<string, object>> PerOp(string name) =>
            r => new() { ["us_per_op"] = Math.Round(r[name].MedianMs * 1000 / Ops, 3) };
        yield return new Workload("tiny/forward_nograd", () =>
        {
            using var _ = torch.no_grad();
            Chain();
        }, PerOp("tiny/forward_nograd"));
        yield return new Workload("tiny/forward_graph", () => Chain(), PerOp("tiny/forward_graph"));
        yield return new Workload("tiny/add_chain1000", () =>
        {
            var y = x;
            for (int i = 0; i < Ops; i++) y = y + c;
            y.backward();
            x.grad = null;
        }, PerOp("tiny/add_chain1000"));
        yield return new Workload("tiny/chain1000", () =>
        {
            Chain().backward();
            x.grad = null;
        }, PerOp("tiny/chain1000"));
    }
}
