using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace TorchSharpBench;

/// <summary>
/// `fluxion bench jvp`: the MLP 784-512-256-10 (ReLU, batch 128, cross-entropy) as a function of its six parameter
/// tensors: "jvp/primal" (forward without graph) and "jvp/vjp" (forward + gradients of all parameters), each with
/// "ratio_to_primal". TorchSharp 0.107 has no forward-mode AD (no make_dual), so there is no "jvp/jvp" and no
/// forward-over-reverse "jvp/hvp"; "jvp/hvp_rev_over_rev" is the Hessian-vector product by double backward instead
/// (a different algorithm, reported under its own name).
/// </summary>
public sealed class JvpSuite : ISuite
{
    /// <inheritdoc/>
    public IEnumerable<Workload> Workloads()
    {
        torch.manual_seed(0);
        var model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10));
        var ps = model.parameters().Select(p => p.detach().clone()).ToArray();
        var x = torch.randn(128, 784);
        var y = torch.randint(0, 10, [128], dtype: ScalarType.Int64);
        var dirs = ps.Select(p => torch.randn(p.shape)).ToArray();
        Tensor Loss(Tensor[] w)
        {
            var h = (x.matmul(w[0].t()) + w[1]).relu();
            h = (h.matmul(w[2].t()) + w[3]).relu();
            return F.cross_entropy(h.matmul(w[4].t()) + w[5], y);
        }
        static Func<IReadOnlyDictionary<string, Result>, Dictionary<string, object>> Ratio(string name) =>
            r => new() { ["ratio_to_primal"] = Math.Round(r[name].MedianMs / r["jvp/primal"].MedianMs, 3) };
        yield return new Workload("jvp/primal", () =>
        {
            using var _ = torch.no_grad();
            Loss(ps);
        });
        yield return new Workload("jvp/vjp", () =>
        {
            var w = ps.Select(p => p.detach().requires_grad_()).ToArray();
            torch.autograd.grad([Loss(w)], w);
        }, Ratio("jvp/vjp"));
        yield return new Workload("jvp/hvp_rev_over_rev", () =>
        {
            var w = ps.Select(p => p.detach().requires_grad_()).ToArray();
            var g = torch.autograd.grad([Loss(w)], w, retain_graph: true, create_graph: true);
            var dot = (g[0] * dirs[0]).sum();
            for (int i = 1; i < g.Count; i++) dot = dot + (g[i] * dirs[i]).sum();
            torch.autograd.grad([dot], w);
        }, Ratio("jvp/hvp_rev_over_rev"));
    }
}
