using TorchSharp;
using static TorchSharp.torch;

namespace TorchSharpBench;

/// <summary>
/// `fluxion bench pcn` and bench/torch/pcn.py, naive form ("pcn/naive_4096"): float32, B = 64, N_in = N_out = 4096,
/// k = 16, forward plus backward of y = x W + b with W = tri(cdist(P, Q)) / √N_in, tri(d) = (A/p)(p/2 − |(d mod 2p) − p|),
/// p = 0.1, A = 1; gradients for x, P, Q and b (loss Σ y).
/// </summary>
public sealed class PcnSuite : ISuite
{
    /// <inheritdoc/>
    public IEnumerable<Workload> Workloads()
    {
        const int n = 4096, B = 64, K = 16;
        const double period = 0.1, amplitude = 1.0;
        var g = new torch.Generator(0);
        var x = torch.randn(B, n, generator: g);
        var p = (torch.rand(n, K, generator: g) * 2 - 1).requires_grad_();
        var q = (torch.rand(n, K, generator: g) * 2 - 1).requires_grad_();
        var b = (torch.rand(n, generator: g) * 0.2 - 0.1).requires_grad_();
        yield return new Workload($"pcn/naive_{n}", () =>
        {
            var xx = x.detach().requires_grad_();
            var d = torch.cdist(p, q);
            var w = (amplitude / period) * (period / 2 - torch.abs(torch.remainder(d, 2 * period) - period)) / Math.Sqrt(n);
            (xx.matmul(w) + b).sum().backward();
            p.grad = null;
            q.grad = null;
            b.grad = null;
        });
    }
}
