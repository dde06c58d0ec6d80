namespace Fluxion.Cli.Bench;

/// <summary>Which operand of a square product is read transposed.</summary>
public enum GemmForm
{
    /// <summary><c>a @ b</c>.</summary>
    AB,
    /// <summary><c>a @ b.T</c> (the second operand a transposed view).</summary>
    ABt,
    /// <summary><c>a.T @ b</c> (the first operand a transposed view).</summary>
    AtB,
}

/// <summary>
/// GEMM throughput through the public <see cref="Tensor.MatMul"/> (output allocation included, as torch's
/// <c>a @ b</c>): float32 and float64, n = 512 and 1024, <c>a @ b</c> and <c>a @ b.T</c>. Reports GFLOP/s
/// (2n³ flops per product) from the median and the fastest run. Each case warms up for at least
/// <see cref="WarmupSeconds"/> so every method has reached its final JIT tier. The same cases are in
/// <c>bench/torch/bench.py gemm</c>; <c>bench/Fluxion.Bench</c> reuses them for its GFLOP/s table.
/// </summary>
public static class GemmBench
{
    /// <summary>Minimum warm-up time per case (seconds).</summary>
    public const double WarmupSeconds = 0.5;

    /// <summary>The <c>gemm</c> suite.</summary>
    public static IEnumerable<Workload> Workloads()
    {
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
            foreach (int n in new[] { 512, 1024 })
                foreach (var form in new[] { GemmForm.AB, GemmForm.ABt })
                    yield return Case(dtype, n, form);
    }

    /// <summary>One n×n×n product of random normal matrices, named <c>gemm/&lt;dtype&gt;/&lt;n&gt;/&lt;ab|abT|aTb&gt;</c>.</summary>
    public static Workload Case(DType dtype, int n, GemmForm form)
    {
        var a = Tensor.Randn([n, n], dtype);
        var b = Tensor.Randn([n, n], dtype);
        Action run = form switch
        {
            GemmForm.AB => () => a.MatMul(b),
            GemmForm.ABt => () => a.MatMul(b.T),
            _ => () => a.T.MatMul(b),
        };
        string formName = form switch { GemmForm.AB => "ab", GemmForm.ABt => "abT", _ => "aTb" };
        string name = $"gemm/{dtype.ToString().ToLowerInvariant()}/{n}/{formName}";
        return Throughput(name, n, run);
    }

    /// <summary>A workload that runs one n³ product and reports <c>gflops</c> (median) and <c>gflops_best</c> (fastest run).</summary>
    public static Workload Throughput(string name, int n, Action run) =>
        new(name, run, r => new Dictionary<string, object>
        {
            ["gflops"] = Math.Round(GFlops(n, r[name].MedianMs), 1),
            ["gflops_best"] = Math.Round(GFlops(n, r[name].MinMs), 1),
        }, WarmupSeconds);

    /// <summary>Throughput of one n×n×n product (2n³ flops) that took <paramref name="ms"/> milliseconds.</summary>
    public static double GFlops(int n, double ms) => 2.0 * n * n * n / (ms * 1e-3) / 1e9;

    /// <summary>Human-readable label of a form, as printed by <c>bench/Fluxion.Bench</c> and <c>bench/torch/gemm.py</c>.</summary>
    public static string Label(GemmForm form) => form switch
    {
        GemmForm.AB => "NN",
        GemmForm.ABt => "NT (a @ b.T)",
        _ => "TN (a.T @ b)",
    };
}
