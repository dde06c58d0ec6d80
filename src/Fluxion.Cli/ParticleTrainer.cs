using System.Diagnostics;
using System.Globalization;
using Fluxion.Data;
using Fluxion.Optim;
using Fluxion.Physics;
using Fluxion.Training;

namespace Fluxion.Cli;

/// <summary>
/// <c>fluxion train --model particles</c>: a <see cref="ParticleModel"/> (trainable nodes, one eater per class)
/// learns to tell two Fashion-MNIST classes apart. Each image is downsampled to 14 × 14 (2 × 2 average
/// pooling of the [0, 1] pixels), its non-zero pixels become marbles (mass = pixel value, scaled by
/// <see cref="MassScale"/>), the simulation runs <see cref="Steps"/> checkpointed steps and the loss of
/// <see cref="ParticleModel.Loss"/> (closest marble to the target eater, with a velocity look-ahead, the
/// wrong-eater penalty and a contrastive margin against the other eater's closest marble) is backpropagated through every step into the nodes' initial positions,
/// velocities, masses and multipliers. Gradients are summed over a mini-batch of images, then one
/// optimizer step and <see cref="ParticleModel.ClampMultipliers"/>. The predicted class is
/// <see cref="ParticleModel.Predict"/>: the eater that ate the most marbles, ties (e.g. none eaten)
/// broken by the eater whose closest live marble is nearest.
/// </summary>
internal sealed class ParticleTrainer
{
    /// <summary>Nodes of the model.</summary>
    public const int Nodes = 8;

    /// <summary>Integration steps per image.</summary>
    public const int Steps = 12;

    /// <summary>Marble mass = pooled pixel value × this.</summary>
    public const double MassScale = 0.02;

    /// <summary>Velocity look-ahead of the loss.</summary>
    public const double Mu = 0.3;

    /// <summary>Margin of the contrastive term of the loss (see <see cref="ParticleModel.Loss"/>).</summary>
    public const double Margin = 0.5;

    /// <summary>The default pair of classes (indices into <see cref="FashionMnist.ClassNames"/>).</summary>
    public static readonly int[] DefaultClasses = [0, 1];

    private readonly TrainOptions o;
    private readonly Stopwatch wall = Stopwatch.StartNew();
    private readonly List<(double[] Image, int Label)> train, test;
    private readonly ParticleModel net;
    private readonly Optimizer opt;
    private readonly string source;
    private readonly int[] classes;
    private readonly List<EpochStats> history = new();

    /// <summary>One line saying what is trained on what.</summary>
    public string Description { get; }

    /// <summary>Number of mini-batches per epoch.</summary>
    public int BatchesPerEpoch => (train.Count + o.BatchSize - 1) / o.BatchSize;

    public ParticleTrainer(TrainOptions options)
    {
        o = options;
        classes = o.Classes ?? DefaultClasses;
        var (tr, te) = o.DataDir is { } dir ? FashionMnist.Load(dir) : FashionMnist.LoadEmbedded();
        source = o.DataDir is null ? "embedded Fashion-MNIST subset" : $"Fashion-MNIST from {o.DataDir}";
        int? limit = o.Limit;
        train = Select(tr, limit);
        test = Select(te, limit is { } l ? Math.Max(l / 5, 10) : null);
        net = new ParticleModel(Nodes, classes.Length, steps: Steps, dt: 0.05, eaterRadius: 0.3,
            force: new ForceSpec(ForceLaw.Gratan, K: 1, Softening: 0.05), generator: new Generator(o.Seed));
        opt = Trainer.BuildOptimizer(o.Optimizer, net.Parameters(), Lr);
        var names = string.Join(" vs ", classes.Select(c => $"{c} {FashionMnist.ClassNames[c]}"));
        Description = $"PARTICLES on the {source}, classes {names}: {train.Count} train / {test.Count} test images (14x14)\n"
            + $"{net.ParameterCount().ToString("N0", CultureInfo.InvariantCulture)} parameters ({Nodes} nodes, {classes.Length} eaters, {Steps} steps), "
            + $"{o.Optimizer} lr {Lr.ToString(CultureInfo.InvariantCulture)}, batch {o.BatchSize}, seed {o.Seed}";
    }

    private double Lr => o.Lr ?? 0.02;

    /// <summary>The images of the chosen classes (labels mapped to 0..classes−1), pooled to 14 × 14; at most
    /// <paramref name="limit"/> of them, balanced over the classes.</summary>
    private List<(double[], int)> Select(ByteImageDataset data, int? limit)
    {
        data = data.WithNormalization(0, 1);
        int per = limit is { } l ? (l + classes.Length - 1) / classes.Length : int.MaxValue, total = limit ?? int.MaxValue;
        var seen = new int[classes.Length];
        var list = new List<(double[], int)>();
        var buf = new float[data.SampleShape.Aggregate(1, (a, b) => a * b)];
        var labels = data.Labels;
        for (int i = 0; i < data.Count && list.Count < total; i++)
        {
            int c = Array.IndexOf(classes, (int)labels[i]);
            if (c < 0 || seen[c] >= per) continue;
            seen[c]++;
            data.CopySample(i, buf);
            list.Add((Pool(buf), c));
        }
        return list;
    }

    /// <summary>2 × 2 average pooling of a 28 × 28 image to 14 × 14, times <see cref="MassScale"/>.</summary>
    internal static double[] Pool(ReadOnlySpan<float> px)
    {
        var r = new double[14 * 14];
        for (int y = 0; y < 14; y++)
            for (int x = 0; x < 14; x++)
            {
                int p = 2 * y * 28 + 2 * x;
                r[y * 14 + x] = (px[p] + px[p + 1] + px[p + 28] + px[p + 29]) / 4.0 * MassScale;
            }
        return r;
    }

    private static Tensor Image(double[] img) => Tensor.FromArray(img, 14, 14);

    /// <summary>Trains (a loop of its own: one simulation per image), reporting to <paramref name="progress"/>.</summary>
    public TrainResult Run(TrainingCallback progress)
    {
        long peakManaged = GC.GetTotalMemory(false);
        // the callbacks' view of this run (model, optimizer, learning rate); its own Fit is not used
        var context = new Fluxion.Training.Trainer(net, opt, (x, _) => x) { Progress = null };
        var total = Stopwatch.StartNew();
        progress.OnTrainBegin(context, 0, o.Epochs, BatchesPerEpoch);
        var g = new Generator(o.Seed + 1);
        var order = Enumerable.Range(0, train.Count).ToArray();
        for (int epoch = 0; epoch < o.Epochs; epoch++)
        {
            for (int i = order.Length - 1; i > 0; i--)
            {
                int j = (int)g.NextInt64(0, i + 1);
                (order[i], order[j]) = (order[j], order[i]);
            }
            var sw = Stopwatch.StartNew();
            double lossSum = 0;
            long correct = 0, seen = 0;
            for (int b = 0; b < BatchesPerEpoch; b++)
            {
                opt.ZeroGrad();
                double batchLossSum = 0;
                int start = b * o.BatchSize, count = Math.Min(o.BatchSize, order.Length - start);
                for (int k = 0; k < count; k++)
                {
                    var (img, label) = train[order[start + k]];
                    var run = net.Simulate(Image(img));
                    var loss = net.Loss(run, label, Mu, Margin);
                    (loss / count).Backward();
                    lossSum += loss.Item();
                    batchLossSum += loss.Item();
                    if (net.Predict(run) == label) correct++;
                    seen++;
                }
                opt.Step();
                net.ClampMultipliers();
                peakManaged = Math.Max(peakManaged, GC.GetTotalMemory(false));
                long done = (long)epoch * BatchesPerEpoch + b + 1, all = (long)o.Epochs * BatchesPerEpoch;
                progress.OnBatchEnd(context, new BatchProgress(epoch + 1, o.Epochs, b + 1, BatchesPerEpoch, lossSum / seen, batchLossSum / count,
                    new Dictionary<string, double> { ["acc"] = (double)correct / seen }, opt.ParamGroups[0].Lr, sw.Elapsed, total.Elapsed,
                    TimeSpan.FromSeconds(total.Elapsed.TotalSeconds / done * (all - done)), seen / Math.Max(sw.Elapsed.TotalSeconds, 1e-9)));
            }
            double secs = sw.Elapsed.TotalSeconds;
            var stats = new EpochStats(epoch + 1, lossSum / Math.Max(seen, 1), (double)correct / Math.Max(seen, 1), Evaluate(), secs, seen / Math.Max(secs, 1e-9));
            history.Add(stats);
            progress.OnEpochEnd(context, new EpochResult(epoch + 1, o.Epochs, stats.TrainLoss, null,
                new Dictionary<string, double> { ["acc"] = stats.TrainAccuracy, ["val_acc"] = stats.TestAccuracy },
                opt.ParamGroups[0].Lr, sw.Elapsed, (int)seen));
        }
        progress.OnTrainEnd(context, new TrainingHistory());
        double finalAcc = history.Count > 0 ? history[^1].TestAccuracy : Evaluate();
        peakManaged = Math.Max(peakManaged, GC.GetTotalMemory(false));
        using var proc = Process.GetCurrentProcess();
        proc.Refresh();
        return new TrainResult(history, finalAcc, net.ParameterCount(), wall.Elapsed, proc.PeakWorkingSet64, peakManaged, train.Count, test.Count, source);
    }

    /// <summary>Test accuracy (no graph recorded).</summary>
    public double Evaluate()
    {
        if (test.Count == 0) return 0;
        int correct = 0;
        using (Autograd.NoGrad())
            foreach (var (img, label) in test)
                if (net.Predict(net.Simulate(Image(img))) == label) correct++;
        return (double)correct / test.Count;
    }
}
