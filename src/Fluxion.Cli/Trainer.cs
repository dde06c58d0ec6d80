using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Fluxion.Data;
using Fluxion.Distributed;
using Fluxion.IO;
using Fluxion.Models;
using Fluxion.Nn;
using Fluxion.Optim;
using Fluxion.Training;
using MM = Fluxion.Nn.MixedMode;

namespace Fluxion.Cli;

/// <summary>Settings of one <c>fluxion train</c> run.</summary>
internal sealed record TrainOptions
{
    public string Model { get; init; } = "mlp";
    public bool ModelGiven { get; init; }
    public string Mode { get; init; } = "reverse";
    public bool ModeGiven { get; init; }
    public int Epochs { get; init; } = 10;
    public int BatchSize { get; init; } = 64;
    public double? Lr { get; init; }
    public string Optimizer { get; init; } = "adam";
    public bool OptimizerGiven { get; init; }
    public string? DataDir { get; init; }
    public string? SavePath { get; init; }
    public string? ResumePath { get; init; }
    public long Seed { get; init; }
    public string? PlotPath { get; init; }
    public string? LogDir { get; init; }
    public int? Limit { get; init; }
    public int[]? Classes { get; init; }
    public bool EpochsGiven { get; init; }
    public bool BatchSizeGiven { get; init; }
    /// <summary>Compile the training step (forward, loss, backward) into a replayed joint graph.</summary>
    public bool Compile { get; init; }
    /// <summary>Data-parallel over the ranks of an MPI job (launched with mpirun); --batch-size is the global batch.</summary>
    public bool Distributed { get; init; }

    public double DefaultLr(string optimizer) => Lr ?? (optimizer == "sgd" ? 0.01 : 1e-3);
}

/// <summary>Statistics of one finished epoch (kept in checkpoints as JSON; <paramref name="TestLoss"/> is absent from older ones).</summary>
internal sealed record EpochStats(int Epoch, double TrainLoss, double TrainAccuracy, double TestAccuracy, double Seconds, double SamplesPerSecond, double? TestLoss = null);

/// <summary>The outcome of a run.</summary>
internal sealed record TrainResult(
    IReadOnlyList<EpochStats> History, double TestAccuracy, long ParameterCount, TimeSpan WallTime,
    long PeakWorkingSetBytes, long PeakManagedBytes, int TrainSamples, int TestSamples, string DataSource, long? DenseParameterCount = null,
    string Mode = "reverse");

/// <summary>Forwards a <see cref="Fluxion.Training.Trainer"/>'s events to delegates (history, peak memory).</summary>
internal sealed class ActionCallback(Action<EpochResult>? onEpoch = null, Action<BatchProgress>? onBatch = null) : TrainingCallback
{
    public override void OnBatchEnd(Fluxion.Training.Trainer trainer, BatchProgress progress) => onBatch?.Invoke(progress);
    public override void OnEpochEnd(Fluxion.Training.Trainer trainer, EpochResult result) => onEpoch?.Invoke(result);
}

/// <summary>The set-up of <c>fluxion train</c>: data, model, optimizer, checkpoints; the loop itself is the library's
/// <see cref="Fluxion.Training.Trainer"/>. The constructor reads the checkpoint, loads the data and builds the model;
/// <see cref="Run"/> trains.</summary>
internal sealed class Trainer
{
    // checkpoint metadata keys
    private const string KeyModel = "fluxion.model", KeyEpoch = "fluxion.epoch", KeySeed = "fluxion.seed",
        KeyLoader = "fluxion.loader_state", KeyHistory = "fluxion.history", KeyMode = "fluxion.mode",
        KeyData = "fluxion.data", KeyLimit = "fluxion.limit";

    /// <summary>The value of <see cref="KeyData"/> for the embedded subset; a directory is recorded as its full path.</summary>
    private const string EmbeddedData = "embedded";

    /// <summary>The CLI's optimizer names and the library's <see cref="Optimizer.Name"/> of each.</summary>
    private static readonly Dictionary<string, string> OptimizerNames = new() { ["adam"] = "Adam", ["sgd"] = "SGD", ["adamw"] = "AdamW" };

    /// <summary>The optimizer for <paramref name="name"/> (adam, adamw, or sgd with momentum 0.9).</summary>
    public static Optimizer BuildOptimizer(string name, IEnumerable<Tensor> parameters, double lr) => name switch
    {
        "adam" => new Adam(parameters, lr: lr),
        "adamw" => new AdamW(parameters, lr: lr),
        "sgd" => new SGD(parameters, lr: lr, momentum: 0.9),
        _ => throw new ArgumentException($"unknown optimizer '{name}'"),
    };

    /// <summary>For a point-cloud model: the parameter count of the dense MLP with the same widths; else null.</summary>
    public static long? DenseParameterCount(Module net) =>
        net.NamedModules().Select(m => m.Module).OfType<PointCloudNetwork>().FirstOrDefault()?.DenseParameterCount;

    /// <summary>
    /// The model in a differentiation mode: "reverse" (backpropagation), "mixed" (reverse-mode body, the
    /// last linear layer in exact forward mode between Rev2Fwd and Fwd2Rev; same gradients) or
    /// "forward-gradient" (every layer in forward mode with one shared random direction, no backward pass;
    /// use with a forward-mode loss). The mixed modes exist for mlp and cnn.
    /// </summary>
    public static Module BuildModel(string name, Generator g, string mode = "reverse")
    {
        if (mode != "reverse" && name is not ("mlp" or "cnn"))
            throw new ArgumentException($"--mode {mode} is available for --model mlp and cnn, not {name}");
        if (mode == "forward-gradient")
        {
            var rnd = MM.ForwardMode.Random;
            return name switch
            {
                "mlp" => new Sequential(new MM.Rev2Fwd(), new MM.Flatten(), new MM.Linear(784, 256, mode: rnd, generator: g), new MM.ReLU(), new MM.Linear(256, 10, mode: rnd, generator: g)),
                _ => new Sequential(new MM.Rev2Fwd(),
                    new MM.Conv2d(1, 16, 3, padding: 1, mode: rnd, generator: g), new MM.ReLU(), new MM.MaxPool2d(2),
                    new MM.Conv2d(16, 32, 3, padding: 1, mode: rnd, generator: g), new MM.ReLU(), new MM.MaxPool2d(2),
                    new MM.Flatten(), new MM.Linear(32 * 7 * 7, 10, mode: rnd, generator: g)),
            };
        }
        bool mixed = mode == "mixed";
        if (!mixed && mode != "reverse") throw new ArgumentException($"unknown mode '{mode}'");
        Module[] Head(int inFeatures) => mixed
            ? [new MM.Rev2Fwd(), new MM.Linear(inFeatures, 10, generator: g), new MM.Fwd2Rev()]
            : [new Linear(inFeatures, 10, generator: g)];
        return name switch
        {
            "mlp" => new Sequential([new Flatten(), new Linear(784, 256, generator: g), new ReLU(), .. Head(256)]),
            // [1,28,28] -> conv 3x3 (16) -> pool -> [16,14,14] -> conv 3x3 (32) -> pool -> [32,7,7] -> linear 10
            "cnn" => new Sequential([
                new Conv2d(1, 16, 3, padding: 1, generator: g), new ReLU(), new MaxPool2d(2),
                new Conv2d(16, 32, 3, padding: 1, generator: g), new ReLU(), new MaxPool2d(2),
                new Flatten(), .. Head(32 * 7 * 7)]),
            // point-cloud network 784-256-10 in R^32 (tuned on the embedded subset: period 0.2, amplitude 4)
            "pcn" => new Sequential(new Flatten(), new PointCloudNetwork([784, 256, 10], k: 32, period: 0.2, amplitude: 4, generator: g)),
            _ => throw new ArgumentException($"unknown model '{name}'"),
        };
    }

    private readonly TrainOptions o;
    private readonly Stopwatch wall = Stopwatch.StartNew();
    private readonly ByteImageDataset train, test;
    private readonly string source, model, optimizerName, mode, data;
    private readonly string? dataDir;
    private readonly MM.CrossEntropyLoss? forwardLoss;
    private readonly int startEpoch;
    private readonly List<EpochStats> history = new();
    private readonly Module net;
    private readonly DataLoader loader;
    private readonly Optimizer opt;
    // data-parallel (--distributed): the replica's wrapper and this rank's share of each epoch
    private readonly DistributedDataParallel? ddp;
    private readonly DistributedSampler? sampler;

    /// <summary>The MPI process group with --distributed (rank 0 alone logs, plots and writes checkpoints); else null.</summary>
    public ProcessGroup? Group { get; }

    /// <summary>Two lines saying what is trained on what, and how.</summary>
    public string Description { get; }

    /// <summary>Things the user should know that do not stop the run (e.g. a resume with nothing left to train).</summary>
    public IReadOnlyList<string> Warnings => warnings;

    private readonly List<string> warnings = new();

    public Trainer(TrainOptions options)
    {
        o = options;
        // resume: read the checkpoint first (it decides the model, the mode, the data and where to start)
        SafeTensorsData? ckpt = null;
        model = o.Model;
        optimizerName = o.Optimizer;
        mode = o.Mode;
        dataDir = o.DataDir is { } given ? Path.GetFullPath(given) : null;
        if (o.ResumePath is { } rp)
        {
            ckpt = SafeTensors.Load(rp);
            if (ckpt.Metadata.TryGetValue(KeyData, out var ckptData))
            {
                string Name(string d) => d == EmbeddedData ? "the embedded subset" : $"Fashion-MNIST from {d}";
                if (o.DataDir is not null && ckptData != dataDir)
                    throw new CheckpointMismatchException($"checkpoint '{rp}' was trained on {Name(ckptData)}, but --data {o.DataDir} was given; "
                        + (ckptData == EmbeddedData ? "drop --data." : $"drop --data or pass --data {ckptData}."));
                if (o.DataDir is null && ckptData != EmbeddedData)
                {
                    if (!Directory.Exists(ckptData))
                        throw new CheckpointMismatchException($"checkpoint '{rp}' was trained on {Name(ckptData)}, which does not exist any more; pass --data with that dataset's directory.");
                    dataDir = ckptData; // continue on the checkpoint's data, as with its model
                }
            }
            var ckptLimit = ckpt.Metadata.TryGetValue(KeyLimit, out var lim) ? lim : null;
            var limit = o.Limit?.ToString(CultureInfo.InvariantCulture);
            if (ckptLimit != limit)
                warnings.Add($"checkpoint '{rp}' was trained on {(ckptLimit is null ? "all" : ckptLimit)} training images, this run uses {(limit ?? "all")}.");
            var ckptMode = ckpt.Metadata.TryGetValue(KeyMode, out var md) ? md : "reverse";
            if (o.ModeGiven && ckptMode != o.Mode)
                throw new CheckpointMismatchException($"checkpoint '{rp}' was trained with --mode {ckptMode}, but --mode {o.Mode} was given; drop --mode or pass --mode {ckptMode}.");
            mode = ckptMode;
            if (ckpt.Metadata.TryGetValue(KeyModel, out var m))
            {
                if (o.ModelGiven && m != o.Model)
                    throw new CheckpointMismatchException($"checkpoint '{rp}' holds a '{m}' model, but --model {o.Model} was given; drop --model or pass --model {m}.");
                model = m;
            }
            if (ckpt.Metadata.TryGetValue(ModelIO.OptimizerKindKey, out var kind) && OptimizerNames.FirstOrDefault(kv => kv.Value == kind).Key is { } cliName)
            {
                if (o.OptimizerGiven && cliName != o.Optimizer)
                    throw new CheckpointMismatchException($"checkpoint '{rp}' holds {kind} optimizer state, but --optimizer {o.Optimizer} was given; drop --optimizer or pass --optimizer {cliName}.");
                optimizerName = cliName;
            }
            if (ckpt.Metadata.TryGetValue(KeyEpoch, out var e) && int.TryParse(e, CultureInfo.InvariantCulture, out var ep)) startEpoch = ep;
            if (ckpt.Metadata.TryGetValue(KeyHistory, out var h))
            {
                try { history.AddRange(JsonSerializer.Deserialize<List<EpochStats>>(h) ?? []); }
                catch (JsonException je) { throw new CheckpointMismatchException($"checkpoint '{rp}': metadata '{KeyHistory}' is malformed ({je.Message}).", je); }
            }
            if (startEpoch >= o.Epochs)
                warnings.Add($"checkpoint '{rp}' is already at epoch {startEpoch} and --epochs is {o.Epochs} (a total, not a count): nothing to train, "
                    + $"so it is only evaluated; pass --epochs {startEpoch + 1} or more to continue training.");
        }

        // data
        data = dataDir ?? EmbeddedData;
        (train, test) = dataDir is { } dir ? FashionMnist.Load(dir) : FashionMnist.LoadEmbedded();
        source = dataDir is null ? "embedded Fashion-MNIST subset" : $"Fashion-MNIST from {dataDir}";
        if (o.Limit is { } n)
        {
            train = train.Take(n, balanced: true);
            test = test.Take(Math.Max(n / 5, 10), balanced: true);
        }
        train = train.WithNormalization(FashionMnist.PixelMean, FashionMnist.PixelStd);
        test = test.WithNormalization(FashionMnist.PixelMean, FashionMnist.PixelStd);

        net = BuildModel(model, new Generator(o.Seed), mode);
        if (mode == "forward-gradient") forwardLoss = new MM.CrossEntropyLoss();
        loader = new DataLoader(train, o.BatchSize, shuffle: true, seed: o.Seed + 1);
        if (o.Compile && (mode != "reverse" || o.Distributed))
            throw new ArgumentException($"--compile compiles the reverse-mode training step of one process; drop it for {(o.Distributed ? "--distributed" : $"--mode {mode}")}");
        if (o.Distributed)
        {
            if (mode != "reverse")
                throw new ArgumentException($"--distributed trains in reverse mode only, not --mode {mode}");
            Group = ProcessGroup.Init();
            if (o.BatchSize % Group.Size != 0)
                throw new ArgumentException($"--batch-size {o.BatchSize} is the global batch of the {Group.Size} ranks and must be a multiple of {Group.Size}, e.g. --batch-size {Math.Max(1, o.BatchSize / Group.Size) * Group.Size}");
            // every rank visits its share (positions rank, rank + N, ...) of the permutation the single-process
            // loader would draw, so the ranks' batches together are its global batches, and the loader's
            // generator state in checkpoints resumes the sequence with any number of ranks
            sampler = new DistributedSampler(train.Count, Group, shuffle: true, generator: loader.Generator);
        }
        opt = BuildOptimizer(optimizerName, net.Parameters(), o.DefaultLr(optimizerName));
        if (ckpt is not null)
        {
            GeneratorState? loaderState = ckpt.Metadata.TryGetValue(KeyLoader, out var ls) ? ParseState(ls, o.ResumePath!) : null;
            ModelIO.Load(net, opt, ckpt, o.ResumePath!); // model and optimizer state, all or nothing
            if (loaderState is { } st) loader.Generator.SetState(st);
            if (o.Lr is { } lr) opt.ParamGroups[0].Lr = lr; // an explicit --lr overrides the checkpoint's
        }
        if (Group is not null) ddp = new DistributedDataParallel(net, Group); // after loading: rank 0's state goes to every rank
        Description = $"{model.ToUpperInvariant()} on the {source}: {train.Count} train / {test.Count} test images, "
            + $"{net.ParameterCount().ToString("N0", CultureInfo.InvariantCulture)} parameters"
            + "\n" // two lines, each well within 120 columns
            + (DenseParameterCount(net) is { } dense ? $"dense MLP of the same widths: {dense.ToString("N0", CultureInfo.InvariantCulture)} parameters; " : "")
            + $"{optimizerName} lr {opt.ParamGroups[0].Lr.ToString(CultureInfo.InvariantCulture)}, "
            + $"batch {o.BatchSize}, seed {o.Seed}" + (mode == "reverse" ? "" : $", {mode} mode")
            + (Group is { } pg ? $", data-parallel on {pg.Size} ranks ({o.BatchSize / pg.Size} per rank)" : "") + (startEpoch > 0 ? $"; resuming after epoch {startEpoch}" : "");
    }

    /// <summary>Trains with the library's loop, reporting to <paramref name="progress"/>.</summary>
    public TrainResult Run(TrainingCallback progress)
    {
        long peakManaged = GC.GetTotalMemory(false);
        if (Group is not null) peakManaged = Math.Max(peakManaged, RunDistributed(progress, Group));
        else
        {
            // the library's loop; the callbacks keep the history, the peak memory, the TensorBoard log and the checkpoint
            var trainer = new Fluxion.Training.Trainer(net, opt,
                forwardLoss is null ? (x, y) => Losses.CrossEntropy(x, y) : (x, y) => forwardLoss.Forward(x, y))
            {
                ValidationLoss = (x, y) => Losses.CrossEntropy(x, y),
                Progress = progress,
                Metrics = { new Accuracy() },
                Compile = o.Compile,
            };
            using var log = o.LogDir is { } logDir ? new TrainLog(logDir, net, Description) : null;
            trainer.Callbacks.Add(new ActionCallback(
                onEpoch: r =>
                {
                    var stats = new EpochStats(r.Epoch, r.Loss, r.Metrics["acc"], r.Metrics["val_acc"], r.Duration.TotalSeconds, r.SamplesPerSecond, r.ValidationLoss);
                    history.Add(stats);
                    log?.Epoch(stats, net);
                },
                onBatch: p =>
                {
                    peakManaged = Math.Max(peakManaged, GC.GetTotalMemory(false));
                    log?.Step((long)(p.Epoch - 1) * p.Batches + p.Batch, p.BatchLoss);
                }));
            if (o.SavePath is { } sp) // after the history callback, so that the checkpoint holds the epoch just done
                trainer.Callbacks.Add(new ModelCheckpoint(sp) { Metadata = _ => CheckpointMetadata() }); // atomic: an interrupted run keeps the previous epoch's
            var testLoader = new DataLoader(test, o.BatchSize * 4);
            trainer.Fit(loader, o.Epochs, testLoader, startEpoch);
        }

        double finalAcc = history.Count > 0 && history[^1].Epoch == o.Epochs && startEpoch < o.Epochs
            ? history[^1].TestAccuracy
            : Evaluate(net, test, o.BatchSize * 4);
        peakManaged = Math.Max(peakManaged, GC.GetTotalMemory(false));
        using var proc = Process.GetCurrentProcess();
        proc.Refresh();
        return new TrainResult(history, finalAcc, net.ParameterCount(), wall.Elapsed, proc.PeakWorkingSet64, peakManaged, train.Count, test.Count, source,
            DenseParameterCount(net), mode);
    }

    /// <summary>
    /// <c>--distributed</c>: each rank trains the <see cref="DistributedDataParallel"/> wrapper on its share of every
    /// global batch (a loop of its own: the library's <see cref="Fluxion.Training.Trainer"/> takes one loader), the
    /// epoch's statistics are summed over the ranks, and rank 0 alone logs and checkpoints. Returns the peak managed heap.
    /// </summary>
    private long RunDistributed(TrainingCallback progress, ProcessGroup group)
    {
        long peakManaged = GC.GetTotalMemory(false);
        int perRank = o.BatchSize / group.Size;
        int batches = (sampler!.NumSamples + perRank - 1) / perRank;
        Module trained = ddp!;
        // the callbacks' view of this run (model, optimizer, learning rate) and the test evaluation; its own Fit is not used
        var context = new Fluxion.Training.Trainer(net, opt, (x, y) => Losses.CrossEntropy(x, y)) { Progress = null, Metrics = { new Accuracy() } };
        var testLoader = new DataLoader(test, o.BatchSize * 4);
        var total = Stopwatch.StartNew();
        progress.OnTrainBegin(context, startEpoch, o.Epochs, batches);
        // TensorBoard events: rank 0 alone writes them (as it alone logs and checkpoints)
        using var log = o.LogDir is { } logDir && group.Rank == 0 ? new TrainLog(logDir, net, Description) : null;
        for (int epoch = startEpoch; epoch < o.Epochs; epoch++)
        {
            net.Train();
            var sw = Stopwatch.StartNew();
            double lossSum = 0;
            long correct = 0, seen = 0;
            int b = 0;
            sampler.SetEpoch(epoch);
            foreach (var (x, y) in new DataLoader(sampler.Subset(train), perRank))
            {
                var logits = trained.Forward(x);
                var loss = forwardLoss is null ? Losses.CrossEntropy(logits, y) : forwardLoss.Forward(logits, y);
                opt.ZeroGrad();
                loss.Backward();
                opt.Step();

                int n = y.Size(0);
                double batchLoss = loss.Item();
                lossSum += batchLoss * n;
                correct += (long)logits.Detach().ArgMax(1).Eq(y).To(DType.Float32).Sum().Item();
                seen += n;
                b++;
                peakManaged = Math.Max(peakManaged, GC.GetTotalMemory(false));
                long done = (long)(epoch - startEpoch) * batches + b, all = (long)(o.Epochs - startEpoch) * batches;
                progress.OnBatchEnd(context, new BatchProgress(epoch + 1, o.Epochs, b, batches, lossSum / seen, batchLoss,
                    new Dictionary<string, double> { ["acc"] = (double)correct / seen }, opt.ParamGroups[0].Lr, sw.Elapsed, total.Elapsed,
                    TimeSpan.FromSeconds(total.Elapsed.TotalSeconds / done * (all - done)), seen / Math.Max(sw.Elapsed.TotalSeconds, 1e-9)));
                log?.Step((long)epoch * batches + b, batchLoss);
            }
            Span<double> sums = [lossSum, correct, seen]; // the epoch's statistics over all ranks
            group.AllReduce(sums);
            (lossSum, correct, seen) = (sums[0], (long)sums[1], (long)sums[2]);
            var duration = sw.Elapsed;
            var (testLoss, testMetrics) = context.Evaluate(testLoader);
            var stats = new EpochStats(epoch + 1, lossSum / Math.Max(seen, 1), (double)correct / Math.Max(seen, 1), testMetrics["acc"],
                duration.TotalSeconds, seen / Math.Max(duration.TotalSeconds, 1e-9), testLoss);
            history.Add(stats);
            progress.OnEpochEnd(context, new EpochResult(epoch + 1, o.Epochs, stats.TrainLoss, testLoss,
                new Dictionary<string, double> { ["acc"] = stats.TrainAccuracy, ["val_acc"] = stats.TestAccuracy }, opt.ParamGroups[0].Lr, duration, (int)seen));
            log?.Epoch(stats, net);
            if (o.SavePath is { } sp && group.IsMain) // rank 0 alone writes checkpoints
            {
                var meta = CheckpointMetadata();
                meta[KeyEpoch] = (epoch + 1).ToString(CultureInfo.InvariantCulture);
                ModelIO.Save(net, opt, sp, meta); // atomic: an interrupted run leaves the previous epoch's checkpoint
            }
        }
        progress.OnTrainEnd(context, new TrainingHistory());
        return peakManaged;
    }

    /// <summary>What a checkpoint records besides the tensors: the model, mode and data it was trained with, the
    /// shuffling state and the history (the epoch is added by <see cref="ModelCheckpoint"/>).</summary>
    private Dictionary<string, string> CheckpointMetadata()
    {
        var meta = new Dictionary<string, string>
        {
            [KeyModel] = model,
            [KeyMode] = mode,
            [KeyData] = data,
            [KeySeed] = o.Seed.ToString(CultureInfo.InvariantCulture),
            [KeyLoader] = FormatState(loader.Generator.GetState()),
            [KeyHistory] = JsonSerializer.Serialize(history),
        };
        if (o.Limit is { } n) meta[KeyLimit] = n.ToString(CultureInfo.InvariantCulture);
        return meta;
    }

    /// <summary>Accuracy of <paramref name="net"/> on <paramref name="data"/> in eval mode, without recording a graph.</summary>
    public static double Evaluate(Module net, Dataset data, int batchSize)
    {
        net.Eval();
        long correct = 0;
        using (Autograd.NoGrad())
            foreach (var (x, y) in new DataLoader(data, batchSize))
                correct += (long)net.Forward(x).ArgMax(1).Eq(y).To(DType.Float32).Sum().Item();
        net.Train();
        return data.Count == 0 ? 0 : (double)correct / data.Count;
    }

    private static string FormatState(GeneratorState s) =>
        string.Join(',', new[] { s.S0, s.S1, s.S2, s.S3 }.Select(v => v.ToString("x16", CultureInfo.InvariantCulture)));

    private static GeneratorState ParseState(string s, string source)
    {
        var p = s.Split(',');
        if (p.Length != 4 || !p.All(x => ulong.TryParse(x, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out _)))
            throw new CheckpointMismatchException($"checkpoint '{source}': metadata '{KeyLoader}' is malformed: '{s}'.");
        var v = p.Select(x => ulong.Parse(x, NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToArray();
        return new GeneratorState(v[0], v[1], v[2], v[3], null);
    }
}
