using Fluxion.Models;

namespace Fluxion.Cli.Bench;

/// <summary>
/// The point-cloud layer, forward plus backward (gradients for x, both position sets and the bias), float32,
/// B = 64, N_in = N_out = 4096, k = 16: <see cref="PointCloudMode.Naive"/> (materialized distance and weight
/// matrices) against <see cref="PointCloudMode.Fused"/> (tiled kernels). The runner reports each workload's peak
/// tensor memory ("peak_bytes"); the fused one also its ratios to the naive time and memory. The large workload (N_in = N_out = 65,536, where
/// one dense distance matrix would take 16 GiB) is the separate suite <c>pcn-large</c>; run it with few runs
/// (e.g. <c>--runs 2 --warmup 0</c>).
/// </summary>
public static class PcnBench
{
    /// <summary>Batch size.</summary>
    public const int Batch = 64;

    /// <summary>Position dimension.</summary>
    public const int K = 16;

    /// <summary>The 4096-neuron workloads (Naive and Fused).</summary>
    public static IEnumerable<Workload> Workloads()
    {
        const int n = 4096;
        var inputs = Inputs(n, n);
        foreach (var mode in new[] { PointCloudMode.Naive, PointCloudMode.Fused })
        {
            string name = $"pcn/{mode.ToString().ToLowerInvariant()}_{n}";
            yield return new Workload(name, () => Step(inputs, mode), r =>
            {
                var extra = new Dictionary<string, object>();
                if (mode == PointCloudMode.Fused && r.TryGetValue($"pcn/naive_{n}", out var naive))
                {
                    extra["time_ratio_to_naive"] = Math.Round(r[name].MedianMs / naive.MedianMs, 4);
                    if (naive.PeakBytes > 0) extra["peak_ratio_to_naive"] = Math.Round((double)r[name].PeakBytes / naive.PeakBytes, 4);
                }
                return extra;
            });
        }
    }

    /// <summary>The fused layer at N_in = N_out = 65,536 (forward plus backward).</summary>
    public static IEnumerable<Workload> LargeWorkloads()
    {
        const int n = 65536;
        var inputs = Inputs(n, n);
        yield return new Workload($"pcn/fused_{n}", () => Step(inputs, PointCloudMode.Fused), _ =>
        {
            using var proc = System.Diagnostics.Process.GetCurrentProcess();
            proc.Refresh();
            // the whole process (runtime, inputs, gradients, scratch): the peak resident set so far
            return new Dictionary<string, object> { ["process_peak_working_set_bytes"] = proc.PeakWorkingSet64 };
        });
    }

    private static Tensor[] Inputs(int nIn, int nOut)
    {
        var g = new Generator(0);
        return
        [
            Tensor.Randn([Batch, nIn], DType.Float32, g),
            Tensor.Uniform([nIn, K], -1, 1, DType.Float32, g).RequiresGrad_(),
            Tensor.Uniform([nOut, K], -1, 1, DType.Float32, g).RequiresGrad_(),
            Tensor.Uniform([nOut], -0.1, 0.1, DType.Float32, g).RequiresGrad_(),
        ];
    }

    /// <summary>Forward, then backward of Σ y (x also requires grad, as inside a network).</summary>
    private static void Step(Tensor[] inputs, PointCloudMode mode)
    {
        var x = inputs[0].Detach().RequiresGrad_();
        var y = PointCloudLinear.Apply(x, inputs[1], inputs[2], inputs[3], mode);
        y.Sum().Backward();
        for (int i = 1; i < 4; i++) inputs[i].Grad = null;
    }
}
