using Fluxion.Nn;
using Fluxion.Optim;

namespace Fluxion.Cli.Bench;

/// <summary>
/// Training steps as in the performance issue: the MLP 784-512-256-10 (batch 128) and the CNN
/// conv3x3(32, pad 1)-ReLU-maxpool2-conv3x3(64, pad 1)-ReLU-maxpool2-fc128-ReLU-fc10 (batch 64, 1x28x28),
/// each with Adam and cross-entropy: zero grad, forward, loss, backward, step.
/// </summary>
public static class TrainStepBench
{
    /// <summary>The MLP step.</summary>
    public static IEnumerable<Workload> Mlp()
    {
        var (model, opt, x, y) = MlpSetup();
        yield return new Workload("mlp/train_step", () => Step(model, opt, x, y));
    }

    /// <summary>Minimum warm-up time of the CNN step (seconds): with the default 3 warm-up steps the measured
    /// steps still ran tier-0 JIT code and missed the storage pool (median ≈ 2× the steady state, 22 MB
    /// allocated per step instead of ≈ 3); 1 s was not enough either (tier-up competes with the step for
    /// the 2 cores). <c>bench/torch/bench.py cnn</c> warms up as long.</summary>
    public const double CnnWarmupSeconds = 3.0;

    /// <summary>The CNN step.</summary>
    public static IEnumerable<Workload> Cnn()
    {
        var (model, opt, x, y) = CnnSetup();
        yield return new Workload("cnn/train_step", () => Step(model, opt, x, y), WarmupSeconds: CnnWarmupSeconds);
    }

    private static (Module, Optimizer, Tensor, Tensor) MlpSetup()
    {
        Generator.ManualSeed(0);
        var model = new Sequential(new Linear(784, 512), new ReLU(), new Linear(512, 256), new ReLU(), new Linear(256, 10));
        var opt = new Adam(model.Parameters(), lr: 1e-3);
        var x = Tensor.Randn(128, 784);
        var y = Tensor.RandInt(0, 10, [128]);
        return (model, opt, x, y);
    }

    private static (Module, Optimizer, Tensor, Tensor) CnnSetup()
    {
        Generator.ManualSeed(0);
        var model = new Sequential(
            new Conv2d(1, 32, 3, padding: 1), new ReLU(), new MaxPool2d(2),
            new Conv2d(32, 64, 3, padding: 1), new ReLU(), new MaxPool2d(2),
            new Flatten(), new Linear(64 * 7 * 7, 128), new ReLU(), new Linear(128, 10));
        var opt = new Adam(model.Parameters(), lr: 1e-3);
        var x = Tensor.Randn(64, 1, 28, 28);
        var y = Tensor.RandInt(0, 10, [64]);
        return (model, opt, x, y);
    }

    /// <summary>
    /// <c>fluxion bench mlp|cnn --breakdown</c>: the training step cut into its phases, each timed on its own
    /// (median over <paramref name="runs"/> steps after <see cref="CnnWarmupSeconds"/> of warm-up): zero_grad,
    /// forward, loss, backward, optimizer step (wall ms), and within forward and backward the time inside the
    /// matrix products (<see cref="GemmProfile"/>; convolutions run as im2col + GEMM, so their GEMMs count here
    /// and their im2col/col2im in the rest). <c>gemm_ms</c> is the summed duration of the GEMM calls: for GEMMs
    /// called from inside a parallel region (the convolutions' batch blocks) it is thread time, which can exceed
    /// the phase's wall time on 2 cores; <c>gemm_gflops</c> is the products' flops over that time.
    /// </summary>
    public static void Breakdown(string suite, TextWriter stdout, bool json, int runs)
    {
        var (model, opt, x, y) = suite == "cnn" ? CnnSetup() : MlpSetup();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (sw.Elapsed.TotalSeconds < CnnWarmupSeconds) Step(model, opt, x, y);
        var phases = new[] { "zero_grad", "forward", "forward_gemm", "loss", "backward", "backward_gemm", "optimizer_step", "step_total" };
        var samples = phases.ToDictionary(p => p, _ => new List<double>());
        double fwdFlops = 0, bwdFlops = 0;
        for (int r = 0; r < runs; r++)
        {
            long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            opt.ZeroGrad();
            long t1 = System.Diagnostics.Stopwatch.GetTimestamp();
            Tensor? logits = null;
            var fg = GemmProfile.Measure(() => logits = model.Forward(x));
            long t2 = System.Diagnostics.Stopwatch.GetTimestamp();
            var loss = Losses.CrossEntropy(logits!, y);
            long t3 = System.Diagnostics.Stopwatch.GetTimestamp();
            var bg = GemmProfile.Measure(loss.Backward);
            long t4 = System.Diagnostics.Stopwatch.GetTimestamp();
            opt.Step();
            long t5 = System.Diagnostics.Stopwatch.GetTimestamp();
            double Ms(long a, long b) => (b - a) * 1000.0 / System.Diagnostics.Stopwatch.Frequency;
            samples["zero_grad"].Add(Ms(t0, t1));
            samples["forward"].Add(Ms(t1, t2));
            samples["forward_gemm"].Add(fg.WallSeconds * 1000);
            samples["loss"].Add(Ms(t2, t3));
            samples["backward"].Add(Ms(t3, t4));
            samples["backward_gemm"].Add(bg.WallSeconds * 1000);
            samples["optimizer_step"].Add(Ms(t4, t5));
            samples["step_total"].Add(Ms(t0, t5));
            fwdFlops = 2.0 * fg.MultiplyAdds;
            bwdFlops = 2.0 * bg.MultiplyAdds;
        }
        double Median(List<double> l) { l.Sort(); return l[l.Count / 2]; }
        var med = phases.ToDictionary(p => p, p => Median(samples[p]));
        double total = med["step_total"];
        foreach (var p in phases)
        {
            double gflops = p == "forward_gemm" ? fwdFlops / (med[p] * 1e6) : p == "backward_gemm" ? bwdFlops / (med[p] * 1e6) : double.NaN;
            if (json)
            {
                var o = new Dictionary<string, object> { ["name"] = $"{suite}/breakdown/{p}", ["median_ms"] = Math.Round(med[p], 4), ["fraction_of_step"] = Math.Round(med[p] / total, 4), ["runs"] = runs };
                if (!double.IsNaN(gflops)) o["gemm_gflops"] = Math.Round(gflops, 1);
                stdout.WriteLine(System.Text.Json.JsonSerializer.Serialize(o));
            }
            else
                stdout.WriteLine($"{suite + "/breakdown/" + p,-32} {med[p],9:F3} ms {med[p] / total,7:P1}{(double.IsNaN(gflops) ? "" : $"  {gflops,6:F1} GFLOP/s")}");
        }
    }

    private static void Step(Module model, Optimizer opt, Tensor x, Tensor y)
    {
        opt.ZeroGrad();
        var loss = Losses.CrossEntropy(model.Forward(x), y);
        loss.Backward();
        opt.Step();
    }
}
