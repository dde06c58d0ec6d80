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
/// <c>a @ b</c>): float32 <c>a @ b</c> at n = 128, 256, 512, 1024 and 2048, float32 <c>a @ b.T</c> at 512 and
/// 1024, float64 <c>a @ b</c> and <c>a @ b.T</c> at 512 and 1024. Reports GFLOP/s (2n³ flops per product) from
/// the median and the fastest run. The same cases are in <c>bench/torch/bench.py gemm</c> and
/// <c>bench/torchsharp</c>; <c>bench/Fluxion.Bench</c> reuses them for its GFLOP/s table.
/// </summary>
public static class GemmBench
{
    /// <summary>Minimum warm-up time of a case measured alone (seconds; <c>fluxion bench</c> warms a suite up for longer).</summary>
    public const double WarmupSeconds = 0.5;

    /// <summary>The <c>gemm</c> suite.</summary>
    public static IEnumerable<Workload> Workloads()
    {
        foreach (int n in new[] { 128, 256, 512, 1024, 2048 })
        {
            yield return Case(DType.Float32, n, GemmForm.AB);
            if (n is 512 or 1024) yield return Case(DType.Float32, n, GemmForm.ABt);
        }
        foreach (int n in new[] { 512, 1024 })
            foreach (var form in new[] { GemmForm.AB, GemmForm.ABt })
                yield return Case(DType.Float64, n, form);
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
