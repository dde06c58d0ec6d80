using TorchSharp;
using static TorchSharp.torch;

namespace TorchSharpBench;

/// <summary>
/// `fluxion bench gemm` (src/Fluxion.Cli/Bench/GemmBench.cs): n×n×n products of random normal matrices with the
/// output allocated per call — float32 a @ b at n = 128, 256, 512, 1024, 2048; a @ b.T at 512 and 1024; float64
/// a @ b and a @ b.T at 512 and 1024. Extra fields: gflops (2n³ / median), gflops_best (2n³ / fastest run).
/// </summary>
public sealed class GemmSuite : ISuite
{
    /// <summary>The cases: (dtype name, n, form), in the order of `fluxion bench gemm`.</summary>
    public static IEnumerable<(string DType, int N, string Form)> Cases()
    {
        foreach (int n in new[] { 128, 256, 512, 1024, 2048 })
        {
            yield return ("float32", n, "ab");
            if (n is 512 or 1024) yield return ("float32", n, "abT");
        }
        foreach (int n in new[] { 512, 1024 })
        {
            yield return ("float64", n, "ab");
            yield return ("float64", n, "abT");
        }
    }

    /// <inheritdoc/>
    public IEnumerable<Workload> Workloads()
    {
        foreach (var (dt, n, form) in Cases())
        {
            var type = dt == "float32" ? ScalarType.Float32 : ScalarType.Float64;
            var a = torch.randn(n, n, dtype: type);
            var b = torch.randn(n, n, dtype: type);
            Action run = form == "ab" ? () => a.matmul(b) : () => a.matmul(b.t());
            string name = $"gemm/{dt}/{n}/{form}";
            yield return new Workload(name, run, r => new()
            {
                ["gflops"] = Math.Round(GFlops(n, r[name].MedianMs), 1),
                ["gflops_best"] = Math.Round(GFlops(n, r[name].MinMs), 1),
            });
        }
    }

    /// <summary>Throughput of one n×n×n product (2n³ flops) that took <paramref name="ms"/> milliseconds.</summary>
    public static double GFlops(int n, double ms) => 2.0 * n * n * n / (ms * 1e-3) / 1e9;
}
