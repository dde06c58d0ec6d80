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
/// <c>bench/torchsharp</c>; <c>bench/Fluxion.Bench</c> reuses them for its GFLOP/s table. The suite also runs the
/// FMA-ceiling loops of <see cref="FmaBench"/> in the same rounds, and each product reports <c>ceiling_fraction</c>:
/// its median GFLOP/s over the all-cores FMA ceiling measured in the same process (half of it for float64, 4 lanes
/// per 256-bit FMA instead of 8), so efficiency does not depend on the machine's speed of the moment.
/// </summary>
public static class GemmBench
{
    /// <summary>Minimum warm-up time of a case measured alone (seconds; <c>fluxion bench</c> warms a suite up for longer).</summary>
    public const double WarmupSeconds = 0.5;

    /// <summary>The <c>gemm</c> suite.</summary>
    public static IEnumerable<Workload> Workloads()
    {
        foreach (var w in FmaBench.Workloads()) yield return w;
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
        return Throughput(name, n, run, dtype == DType.Float64);
    }

    /// <summary>A workload that runs one n³ product and reports <c>gflops</c> (median) and <c>gflops_best</c> (fastest run),
    /// and, when the suite also measured the all-cores FMA ceiling (<see cref="FmaBench.AllCoresName"/>), <c>ceiling_gflops</c>
    /// and <c>ceiling_fraction</c> (median GFLOP/s over that ceiling; the ceiling halved for float64 when
    /// <paramref name="float64"/>).</summary>
    public static Workload Throughput(string name, int n, Action run, bool float64 = false) =>
        new(name, run, r =>
        {
            var o = new Dictionary<string, object>
            {
                ["gflops"] = Math.Round(GFlops(n, r[name].MedianMs), 1),
                ["gflops_best"] = Math.Round(GFlops(n, r[name].MinMs), 1),
            };
            if (r.TryGetValue(FmaBench.AllCoresName, out var fma))
            {
                double ceiling = FmaBench.FlopsPerThread * Environment.ProcessorCount / (fma.MedianMs * 1e-3) / 1e9 / (float64 ? 2 : 1);
                o["ceiling_gflops"] = Math.Round(ceiling, 1);
                o["ceiling_fraction"] = Math.Round(GFlops(n, r[name].MedianMs) / ceiling, 3);
            }
            return o;
        }, WarmupSeconds);

    /// <summary>Throughput of one n×n×n product (2n³ flops) that took <paramref name="ms"/> milliseconds.</summary>
    public static double GFlops(int n, double ms) => 2.0 * n * n * n / (ms * 1e-3) / 1e9;

    /// <summary>
    /// <c>fluxion bench gemm --breakdown</c>: for float32 <c>a @ b</c> at n = 128 … 2048 and <c>a @ b.T</c> at 1024,
    /// where each product's thread time goes (<see cref="GemmProfile"/>): packing B, packing A, the micro-kernels,
    /// and the rest (parallel-region start/join, threads waiting for the last item). After a warm-up of
    /// <see cref="WarmupSeconds"/> per case, <paramref name="runs"/> products are timed with the profile on.
    /// Columns: GFLOP/s of the products, average threads used, the four fractions of the thread time, and the
    /// micro-kernels' own GFLOP/s per thread and its fraction of one core's FMA ceiling (<see cref="FmaBench"/>, measured
    /// first in the same process).
    /// </summary>
    public static void Breakdown(TextWriter stdout, bool json, int runs)
    {
        var cases = new List<(string Name, int N, Action Run)>();
        foreach (int n in new[] { 128, 256, 512, 1024, 2048 })
            cases.Add(Named(n, GemmForm.AB));
        cases.Add(Named(1024, GemmForm.ABt));
        // one core's FMA ceiling, measured now (the VM's speed varies): the per-thread kernel rate is given as a fraction of it
        var fma = BenchRunner.Measure(FmaBench.Case(1), 3, Math.Max(3, runs));
        double core = FmaBench.FlopsPerThread / (fma.MedianMs * 1e-3) / 1e9;
        if (!json)
        {
            stdout.WriteLine($"one core's FMA ceiling (fma/float32/1thread, measured now): {core:F1} GFLOP/s");
            stdout.WriteLine($"{"workload",-24} {"gflops",8} {"threads",7} {"packB",7} {"packA",7} {"kernel",7} {"other",7} {"kernel_gflops/thread",21} {"of_core",8}");
        }
        else
            stdout.WriteLine(System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["name"] = FmaBench.Name(1), ["gflops"] = Math.Round(core, 1), ["runs"] = Math.Max(3, runs),
            }));
        foreach (var (name, n, run) in cases)
        {
            var sw = System.Diagnostics.Stopwatch.StartNew();
            while (sw.Elapsed.TotalSeconds < WarmupSeconds) run();
            var b = GemmProfile.Measure(() => { for (int r = 0; r < runs; r++) run(); });
            double threads = b.WallSeconds > 0 ? b.ThreadSeconds / b.WallSeconds : 0;
            if (json)
                stdout.WriteLine(System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["name"] = name, ["gflops"] = Math.Round(b.GFlops, 1), ["threads"] = Math.Round(threads, 2),
                    ["pack_b"] = Math.Round(b.Frac(b.PackBSeconds), 4), ["pack_a"] = Math.Round(b.Frac(b.PackASeconds), 4),
                    ["kernel"] = Math.Round(b.Frac(b.KernelSeconds), 4), ["other"] = Math.Round(b.Frac(b.OtherSeconds), 4),
                    ["kernel_gflops_per_thread"] = Math.Round(b.KernelGFlopsPerThread, 1),
                    ["kernel_core_fraction"] = Math.Round(b.KernelGFlopsPerThread / core, 3), ["runs"] = runs,
                }));
            else
                stdout.WriteLine($"{name,-24} {b.GFlops,8:F1} {threads,7:F2} {b.Frac(b.PackBSeconds),7:P1} {b.Frac(b.PackASeconds),7:P1} " +
                                 $"{b.Frac(b.KernelSeconds),7:P1} {b.Frac(b.OtherSeconds),7:P1} {b.KernelGFlopsPerThread,21:F1} {b.KernelGFlopsPerThread / core,8:P1}");
        }

        static (string, int, Action) Named(int n, GemmForm form)
        {
            var w = Case(DType.Float32, n, form);
            return (w.Name, n, w.Run);
        }
    }

    /// <summary>Human-readable label of a form, as printed by <c>bench/Fluxion.Bench</c> and <c>bench/torch/gemm.py</c>.</summary>
    public static string Label(GemmForm form) => form switch
    {
        GemmForm.AB => "NN",
        GemmForm.ABt => "NT (a @ b.T)",
        _ => "TN (a.T @ b)",
    };
}
