using System.Globalization;
using Fluxion.Training;

namespace Fluxion.Cli;

/// <summary><c>fluxion train</c>: option parsing and output.</summary>
internal static class TrainCommand
{
    public const string Usage =
        """
        Usage: fluxion train [options]

        Trains a classifier on Fashion-MNIST (by default the subset embedded in the library: 10,000
        training and 2,000 test images) with a live progress bar, then prints the test accuracy, the
        parameter count, the wall time and the peak memory.

        Options:
          --model <mlp|cnn|pcn|particles>
                                      mlp: 784-256-10 with ReLU; cnn: two 3x3 conv layers (16, 32 channels)
                                      with ReLU and 2x2 max pooling, then a linear layer; pcn: a point-cloud
                                      network 784-256-10 (neurons at learned positions in R^32, weights a
                                      triangle wave of their distances; fused kernels); particles: a
                                      differentiable particle simulation on two classes (images pooled to
                                      14x14 become marbles; trainable nodes steer them to one eater per
                                      class; defaults --epochs 3 --batch-size 16 --lr 0.02). Default: mlp.
          --classes <a,b>             particles only: the two class indices to tell apart. Default: 0,1.
          --mode <reverse|mixed|forward-gradient>
                                      reverse: backpropagation. mixed: the last linear layer in exact forward
                                      mode (Rev2Fwd/Fwd2Rev glue; same gradients). forward-gradient: every layer
                                      in forward mode with one random direction, no backward pass (an unbiased
                                      but noisy gradient estimate). mlp and cnn only. Default: reverse.
          --epochs <n>                Total number of epochs (a resumed run continues up to it). Default: 10.
          --batch-size <n>            Mini-batch size. Default: 64.
          --lr <x>                    Learning rate. Default: 0.001 (adam, adamw), 0.01 (sgd).
          --optimizer <adam|sgd|adamw>  Adam, SGD with momentum 0.9, or AdamW (weight decay 0.01). Default: adam.
          --data <dir>                Read the full Fashion-MNIST (or MNIST) IDX files from <dir> instead,
                                      e.g. /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist).
          --save <file>               Write a safetensors checkpoint after every epoch (atomically).
          --resume <file>             Continue from a checkpoint written by --save (model, optimizer state,
                                      shuffling state); the model and optimizer come from the checkpoint.
          --seed <n>                  Seed for initialization and shuffling. Default: 0.
          --plot <file>               Write an SVG chart of loss and accuracy per epoch.
          --logdir <dir>              Write TensorBoard event files to <dir>: loss per step, loss and accuracy
                                      per epoch, histograms of parameters and gradients, the run's settings
                                      and the model graph (tensorboard --logdir <dir>).
          --distributed               Data-parallel training over the ranks of an MPI job: run under
                                      `mpirun -np N fluxion train --distributed ...` (Open MPI). --batch-size
                                      is the global batch (each rank takes batch/N); rank 0 alone prints,
                                      plots and writes the checkpoint, which any number of ranks can resume.
          --compile                   Compile the whole training step (forward, loss, backward and the optimizer's
                                      step) into a static graph replayed for every batch (Functional.Compile with
                                      CompileOptions.Optimizer; same losses as eager within float32 rounding).
          --plain                     Plain-text progress lines even on a terminal (the default when output is redirected).
          -h, --help                  Show this help.
        """;

    private static readonly string[] Models = ["mlp", "cnn", "pcn", "particles"];
    private static readonly string[] Optimizers = ["adam", "sgd", "adamw"];
    private static readonly string[] Modes = ["reverse", "mixed", "forward-gradient"];

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, bool rich)
    {
        var o = new TrainOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string? Value() => i + 1 < args.Length ? args[++i] : null;
            switch (a)
            {
                case "-h" or "--help":
                    stdout.WriteLine(Usage);
                    return 0;
                case "--plain":
                    rich = false;
                    break;
                case "--distributed":
                    o = o with { Distributed = true };
                    break;
                case "--compile":
                    o = o with { Compile = true };
                    break;
                case "--model":
                {
                    var v = Value();
                    if (v is null || !Models.Contains(v)) return Bad(stderr, $"--model needs one of: {string.Join(", ", Models)}{Got(v)}");
                    o = o with { Model = v, ModelGiven = true };
                    break;
                }
                case "--mode":
                {
                    var v = Value();
                    if (v is null || !Modes.Contains(v)) return Bad(stderr, $"--mode needs one of: {string.Join(", ", Modes)}{Got(v)}");
                    o = o with { Mode = v, ModeGiven = true };
                    break;
                }
                case "--optimizer":
                {
                    var v = Value();
                    if (v is null || !Optimizers.Contains(v)) return Bad(stderr, $"--optimizer needs one of: {string.Join(", ", Optimizers)}{Got(v)}");
                    o = o with { Optimizer = v, OptimizerGiven = true };
                    break;
                }
                case "--epochs":
                {
                    var v = Value();
                    if (!PositiveInt(v, out var n)) return Bad(stderr, $"--epochs needs a positive integer, e.g. --epochs 5{Got(v)}");
                    o = o with { Epochs = n, EpochsGiven = true };
                    break;
                }
                case "--batch-size":
                {
                    var v = Value();
                    if (!PositiveInt(v, out var n)) return Bad(stderr, $"--batch-size needs a positive integer, e.g. --batch-size 128{Got(v)}");
                    o = o with { BatchSize = n, BatchSizeGiven = true };
                    break;
                }
                case "--limit": // hidden: train on the first n (class-balanced) images, test on n/5; for tests
                {
                    var v = Value();
                    if (!PositiveInt(v, out var n)) return Bad(stderr, $"--limit needs a positive integer{Got(v)}");
                    o = o with { Limit = n };
                    break;
                }
                case "--classes":
                {
                    var v = Value();
                    var parts = v?.Split(',') ?? [];
                    var cs = parts.Select(p => int.TryParse(p, NumberStyles.Integer, CultureInfo.InvariantCulture, out var c) && c >= 0 && c < 10 ? c : -1).ToArray();
                    if (cs.Length != 2 || cs.Contains(-1) || cs[0] == cs[1]) return Bad(stderr, $"--classes needs two different class indices in 0..9, e.g. --classes 0,1{Got(v)}");
                    o = o with { Classes = cs };
                    break;
                }
                case "--lr":
                {
                    var v = Value();
                    if (v is null || !double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var lr) || !double.IsFinite(lr) || lr <= 0)
                        return Bad(stderr, $"--lr needs a positive number, e.g. --lr 0.001{Got(v)}");
                    o = o with { Lr = lr };
                    break;
                }
                case "--seed":
                {
                    var v = Value();
                    if (v is null || !long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var s))
                        return Bad(stderr, $"--seed needs an integer, e.g. --seed 42{Got(v)}");
                    o = o with { Seed = s };
                    break;
                }
                case "--data":
                {
                    var v = Value();
                    if (string.IsNullOrEmpty(v)) return Bad(stderr, "--data needs a directory holding the Fashion-MNIST IDX files");
                    if (!Directory.Exists(v)) return Bad(stderr, $"--data: directory '{v}' does not exist");
                    o = o with { DataDir = v };
                    break;
                }
                case "--save":
                {
                    var v = Value();
                    if (string.IsNullOrEmpty(v)) return Bad(stderr, "--save needs a file name, e.g. --save model.safetensors");
                    var dir = Path.GetDirectoryName(Path.GetFullPath(v));
                    if (dir is not null && !Directory.Exists(dir)) return Bad(stderr, $"--save: directory '{dir}' does not exist");
                    o = o with { SavePath = v };
                    break;
                }
                case "--resume":
                {
                    var v = Value();
                    if (string.IsNullOrEmpty(v)) return Bad(stderr, "--resume needs a checkpoint file written by --save");
                    if (!File.Exists(v)) return Bad(stderr, $"--resume: file '{v}' does not exist");
                    o = o with { ResumePath = v };
                    break;
                }
                case "--plot":
                {
                    var v = Value();
                    if (string.IsNullOrEmpty(v)) return Bad(stderr, "--plot needs a file name, e.g. --plot curve.svg");
                    var dir = Path.GetDirectoryName(Path.GetFullPath(v));
                    if (dir is not null && !Directory.Exists(dir)) return Bad(stderr, $"--plot: directory '{dir}' does not exist");
                    o = o with { PlotPath = v };
                    break;
                }
                case "--logdir":
                {
                    var v = Value();
                    if (string.IsNullOrEmpty(v)) return Bad(stderr, "--logdir needs a directory, e.g. --logdir runs/mlp");
                    o = o with { LogDir = v };
                    break;
                }
                default:
                    return Bad(stderr, a.StartsWith('-') ? $"unknown option '{a}'" : $"unexpected argument '{a}'");
            }
        }

        if (o.Mode != "reverse" && o.Model is "pcn" or "particles")
            return Bad(stderr, $"--mode {o.Mode} is available for --model mlp and cnn only");
        if (o.Classes is not null && o.Model != "particles")
            return Bad(stderr, "--classes is available for --model particles only");
        if (o.Distributed && o.Model == "particles")
            return Bad(stderr, "--distributed is available for --model mlp, cnn and pcn");
        string description;
        IReadOnlyList<string> warnings = [];
        Func<TrainingCallback, TrainResult> train;
        Distributed.ProcessGroup? group = null;
        if (o.Model == "particles")
        {
            if (o.SavePath is not null || o.ResumePath is not null || o.LogDir is not null)
                return Bad(stderr, "--save, --resume and --logdir are not available for --model particles");
            o = o with { Epochs = o.EpochsGiven ? o.Epochs : 3, BatchSize = o.BatchSizeGiven ? o.BatchSize : 16 };
            var pt = new ParticleTrainer(o);
            (description, train) = (pt.Description, pt.Run);
        }
        else
        {
            var trainer = new Trainer(o);
            (description, train, warnings, group) = (trainer.Description, trainer.Run, trainer.Warnings, trainer.Group);
            if (group is { IsMain: false })
            {
                // the other ranks train in step with rank 0 and stay silent
                train(new SilentProgress());
                group.Dispose();
                return 0;
            }
        }
        foreach (var w in warnings) stderr.WriteLine($"fluxion train: warning: {w}");
        stdout.WriteLine(description);
        // the library's progress display: a live line on a terminal (rich output to the console), plain lines otherwise
        bool live = rich && ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected;
        var result = train(new ProgressDisplay(stdout, live) { ValidationLabel = "test" });

        if (o.PlotPath is { } plot)
            TrainPlot.Write(plot, result.History, $"fluxion train --model {o.Model}{(result.Mode == "reverse" ? "" : " --mode " + result.Mode)} ({result.DataSource})");
        WriteSummary(stdout, result, o);
        group?.Dispose(); // MPI_Finalize, with the other ranks
        return 0;
    }

    private static string Got(string? v) => v is null ? "" : $" (got '{v}')";

    private static bool PositiveInt(string? v, out int n) =>
        int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out n) && n > 0;

    private static int Bad(TextWriter stderr, string message)
    {
        stderr.WriteLine($"fluxion train: {message}");
        stderr.WriteLine("Run 'fluxion train --help' for the options.");
        return 2;
    }

    private static string MiB(long bytes) => (bytes / (1024.0 * 1024.0)).ToString("F1", CultureInfo.InvariantCulture) + " MiB";

    private static void WriteSummary(TextWriter o, TrainResult r, TrainOptions opt)
    {
        o.WriteLine();
        o.WriteLine($"test accuracy:   {(100 * r.TestAccuracy).ToString("F2", CultureInfo.InvariantCulture)}% ({r.TestSamples} test images)");
        o.WriteLine($"parameters:      {r.ParameterCount.ToString("N0", CultureInfo.InvariantCulture)}"
            + (r.DenseParameterCount is { } dense ? $" (a dense MLP of the same widths has {dense.ToString("N0", CultureInfo.InvariantCulture)})" : ""));
        o.WriteLine($"wall time:       {r.WallTime.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture)} s");
        o.WriteLine($"peak memory:     {MiB(r.PeakWorkingSetBytes)} working set, {MiB(r.PeakManagedBytes)} managed heap");
        if (opt.SavePath is { } s) o.WriteLine($"checkpoint:      {s}");
        if (opt.PlotPath is { } p) o.WriteLine($"plot:            {p}");
    }

    /// <summary>No output (the ranks other than 0 of a --distributed run).</summary>
    private sealed class SilentProgress : TrainingCallback;
}
