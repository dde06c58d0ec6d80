using System.Diagnostics;
using Fluxion.Data;
using Fluxion.Nn;
using Fluxion.Optim;

namespace Fluxion.Training;

/// <summary>When a <see cref="Trainer"/> steps its learning-rate scheduler.</summary>
public enum SchedulerInterval
{
    /// <summary>Once after every epoch (StepLR, CosineAnnealingLR over epochs).</summary>
    Epoch,
    /// <summary>Once after every optimizer step (OneCycleLR, warm-up schedules).</summary>
    Batch,
}

/// <summary>The numbers of one finished epoch.</summary>
/// <param name="Epoch">The epoch's number, from 1.</param>
/// <param name="Epochs">The total number of epochs of the run.</param>
/// <param name="Loss">The mean training loss over the epoch's samples.</param>
/// <param name="ValidationLoss">The mean validation loss, or null without validation data.</param>
/// <param name="Metrics">Each metric's training value under its name and its validation value under "val_" + its name.</param>
/// <param name="LearningRate">The learning rate of the first parameter group during the epoch's last step.</param>
/// <param name="Duration">The time spent on the epoch's training batches (validation excluded).</param>
/// <param name="Samples">The number of training samples seen.</param>
public sealed record EpochResult(int Epoch, int Epochs, double Loss, double? ValidationLoss, IReadOnlyDictionary<string, double> Metrics,
    double LearningRate, TimeSpan Duration, int Samples)
{
    /// <summary>Training throughput of the epoch.</summary>
    public double SamplesPerSecond => Samples / Math.Max(Duration.TotalSeconds, 1e-9);

    /// <summary>A value by key: "loss", "val_loss", "lr", a metric's name or "val_" + a metric's name; null when absent.</summary>
    public double? Get(string key) => key switch
    {
        "loss" => Loss,
        "val_loss" => ValidationLoss,
        "lr" => LearningRate,
        _ => Metrics.TryGetValue(key, out var v) ? v : null,
    };
}

/// <summary>Progress within an epoch, after each training batch.</summary>
/// <param name="Epoch">The epoch's number, from 1.</param>
/// <param name="Epochs">The total number of epochs of the run.</param>
/// <param name="Batch">The batch's number within the epoch, from 1.</param>
/// <param name="Batches">The number of batches per epoch.</param>
/// <param name="Loss">The mean training loss of the epoch so far.</param>
/// <param name="BatchLoss">The loss of this batch alone.</param>
/// <param name="Metrics">Each metric's training value over the epoch so far.</param>
/// <param name="LearningRate">The learning rate of the first parameter group.</param>
/// <param name="EpochElapsed">Time since the epoch started.</param>
/// <param name="Elapsed">Time since training started.</param>
/// <param name="Remaining">Estimated time until the last epoch ends (at the run's average time per batch).</param>
/// <param name="SamplesPerSecond">Training throughput of the epoch so far.</param>
public sealed record BatchProgress(int Epoch, int Epochs, int Batch, int Batches, double Loss, double BatchLoss, IReadOnlyDictionary<string, double> Metrics,
    double LearningRate, TimeSpan EpochElapsed, TimeSpan Elapsed, TimeSpan Remaining, double SamplesPerSecond)
{
    /// <summary>The fraction of the epoch done, in [0, 1].</summary>
    public double Fraction => Batches == 0 ? 1 : (double)Batch / Batches;
}

/// <summary>The epochs of a <see cref="Trainer.Fit"/> run and why it ended.</summary>
public sealed class TrainingHistory
{
    private readonly List<EpochResult> _epochs = new();

    /// <summary>The finished epochs, in order.</summary>
    public IReadOnlyList<EpochResult> Epochs => _epochs;

    /// <summary>Why training stopped before the last epoch (e.g. early stopping), or null.</summary>
    public string? StopReason { get; internal set; }

    internal void Add(EpochResult r) => _epochs.Add(r);
}

/// <summary>
/// A reusable training loop (Keras' <c>fit</c>, Lightning's trainer): for each epoch it trains on every
/// batch (forward, loss, backward, optimizer step), accumulates the loss and the <see cref="Metrics"/>,
/// steps the <see cref="Scheduler"/>, evaluates on the validation data, and tells the <see cref="Progress"/>
/// display and the <see cref="Callbacks"/> (checkpoints, early stopping, your own).
/// </summary>
/// <example>
/// <code>
/// var trainer = new Trainer(model, new Adam(model.Parameters()), (output, y) => Losses.CrossEntropy(output, y)) { Metrics = { new Accuracy() } };
/// var history = trainer.Fit(trainLoader, epochs: 10, validation: testLoader);
/// </code>
/// </example>
public sealed class Trainer
{
    /// <summary>Creates a trainer of <paramref name="model"/> with <paramref name="optimizer"/> (built over the model's
    /// parameters) and <paramref name="loss"/> (output, target) → scalar, e.g. <c>(o, y) => Losses.CrossEntropy(o, y)</c>.</summary>
    public Trainer(Module model, Optimizer optimizer, Func<Tensor, Tensor, Tensor> loss)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        Optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        Loss = loss ?? throw new ArgumentNullException(nameof(loss));
    }

    /// <summary>The model being trained.</summary>
    public Module Model { get; }

    /// <summary>The optimizer.</summary>
    public Optimizer Optimizer { get; }

    /// <summary>The training loss: (output, target) → a scalar whose <c>Backward()</c> fills the gradients.</summary>
    public Func<Tensor, Tensor, Tensor> Loss { get; }

    /// <summary>The loss reported on validation data (default: <see cref="Loss"/>); e.g. an ordinary loss where the
    /// training loss is a forward-mode one.</summary>
    public Func<Tensor, Tensor, Tensor>? ValidationLoss { get; set; }

    /// <summary>Metrics computed on the training batches and on the validation data.</summary>
    public List<Metric> Metrics { get; } = new();

    /// <summary>Called at the start and end of training, after every batch and after every epoch, in order.</summary>
    public List<TrainingCallback> Callbacks { get; } = new();

    /// <summary>The progress display (default: a <see cref="ProgressDisplay"/> on the standard error stream, live on a
    /// terminal, plain lines otherwise); null for none.</summary>
    public TrainingCallback? Progress { get; set; } = new ProgressDisplay();

    /// <summary>An optional learning-rate scheduler, stepped as <see cref="SchedulerInterval"/> says.</summary>
    public LRScheduler? Scheduler { get; set; }

    /// <summary>When <see cref="Scheduler"/> is stepped. Default: after every epoch.</summary>
    public SchedulerInterval SchedulerInterval { get; set; } = SchedulerInterval.Epoch;

    /// <summary>Compile the whole training step: forward, loss and backward run as one traced joint graph
    /// (<see cref="Functional.Compile(Func{Tensor[], Tensor[]}, CompileOptions?)"/>), replayed for every batch of the same
    /// shape (a last smaller batch gets a graph of its own), with the optimizer's step as its last step
    /// (<see cref="CompileOptions.Optimizer"/>: the optimizer's fused per-parameter kernel). Gradients and parameters equal eager's.</summary>
    public bool Compile { get; set; }

    /// <summary>The history of the current (or last) <see cref="Fit"/>.</summary>
    public TrainingHistory History { get; private set; } = new();

    /// <summary>The validation data of the current <see cref="Fit"/> (null without).</summary>
    public DataLoader? Validation { get; private set; }

    private string? _stopReason;

    /// <summary>Ends training after the current epoch (callbacks such as <see cref="EarlyStopping"/> call it).</summary>
    public void Stop(string reason) => _stopReason = reason;

    private IEnumerable<TrainingCallback> AllCallbacks => Progress is null ? Callbacks : Callbacks.Append(Progress);

    /// <summary>The learning rate of the first parameter group.</summary>
    public double LearningRate => Optimizer.ParamGroups.Count > 0 ? Optimizer.ParamGroups[0].Lr : 0;

    /// <summary>
    /// Trains up to epoch <paramref name="epochs"/> (a total: with <paramref name="startEpoch"/> k, e.g. after
    /// resuming a checkpoint of epoch k, the epochs k+1..epochs run), evaluating on
    /// <paramref name="validation"/> after each epoch when given.
    /// </summary>
    /// <returns>The epochs run and why training stopped early, if it did.</returns>
    public TrainingHistory Fit(DataLoader train, int epochs, DataLoader? validation = null, int startEpoch = 0)
    {
        ArgumentNullException.ThrowIfNull(train);
        if (epochs < 0) throw new ArgumentOutOfRangeException(nameof(epochs), epochs, "Trainer.Fit: epochs must be >= 0.");
        if (startEpoch < 0) throw new ArgumentOutOfRangeException(nameof(startEpoch), startEpoch, "Trainer.Fit: startEpoch must be >= 0.");
        History = new TrainingHistory();
        Validation = validation;
        _stopReason = null;
        var total = Stopwatch.StartNew();
        int batches = train.BatchCount;
        long batchesLeftAtStart = (long)Math.Max(0, epochs - startEpoch) * batches, batchesDone = 0;
        foreach (var c in AllCallbacks) c.OnTrainBegin(this, startEpoch, epochs, batches);
        // the whole step compiled: forward, loss and backward as one joint graph, the optimizer's ZeroGrad and Step around
        // its replay (CompileOptions.Optimizer), so a compiled batch equals eager's ZeroGrad(); Backward(); Step()
        var compiled = Compile ? Functional.Compile(xs =>
        {
            var o = Model.Forward(xs[0]);
            var l = Loss(o, xs[1]);
            l.Backward();
            return [l.Detach(), o.Detach()];
        }, new CompileOptions { Optimizer = Optimizer }) : null;
        for (int epoch = startEpoch + 1; epoch <= epochs && _stopReason is null; epoch++)
        {
            foreach (var c in AllCallbacks) c.OnEpochBegin(this, epoch);
            Model.Train();
            foreach (var m in Metrics) m.Reset();
            var sw = Stopwatch.StartNew();
            double lossSum = 0;
            int seen = 0, b = 0;
            foreach (var (x, y) in train)
            {
                Tensor output, loss;
                if (compiled is not null)
                {
                    var r = compiled.Invoke(x, y);
                    (loss, output) = (r[0], r[1]);
                }
                else
                {
                    output = Model.Forward(x);
                    loss = Loss(output, y);
                    Optimizer.ZeroGrad();
                    loss.Backward();
                    Optimizer.Step();
                }
                if (Scheduler is not null && SchedulerInterval == SchedulerInterval.Batch) Scheduler.Step();
                int n = y.Rank == 0 ? 1 : y.Size(0);
                double batchLoss = loss.Item();
                lossSum += batchLoss * n;
                seen += n;
                b++;
                batchesDone++;
                if (Metrics.Count > 0)
                {
                    var detached = output.Detach();
                    foreach (var m in Metrics) m.Update(detached, y);
                }
                var elapsed = total.Elapsed;
                var remaining = TimeSpan.FromSeconds(elapsed.TotalSeconds / batchesDone * Math.Max(0, batchesLeftAtStart - batchesDone));
                var progress = new BatchProgress(epoch, epochs, b, batches, lossSum / seen, batchLoss, Values(""), LearningRate,
                    sw.Elapsed, elapsed, remaining, seen / Math.Max(sw.Elapsed.TotalSeconds, 1e-9));
                foreach (var c in AllCallbacks) c.OnBatchEnd(this, progress);
            }
            var duration = sw.Elapsed;
            double lr = LearningRate;
            var metrics = new Dictionary<string, double>(Values(""));
            double? valLoss = null;
            if (validation is not null)
            {
                var (vl, vm) = Evaluate(validation);
                valLoss = vl;
                foreach (var (k, v) in vm) metrics["val_" + k] = v;
            }
            if (Scheduler is not null && SchedulerInterval == SchedulerInterval.Epoch) Scheduler.Step();
            var result = new EpochResult(epoch, epochs, lossSum / Math.Max(seen, 1), valLoss, metrics, lr, duration, seen);
            History.Add(result);
            foreach (var c in AllCallbacks) c.OnEpochEnd(this, result);
        }
        History.StopReason = _stopReason;
        foreach (var c in AllCallbacks) c.OnTrainEnd(this, History);
        return History;
    }

    private Dictionary<string, double> Values(string prefix) => Metrics.ToDictionary(m => prefix + m.Name, m => m.Compute());

    /// <summary>The mean loss (<see cref="ValidationLoss"/> or <see cref="Loss"/>) and each metric on
    /// <paramref name="data"/>, in eval mode and without recording a graph; the model is back in training mode after.</summary>
    public (double Loss, IReadOnlyDictionary<string, double> Metrics) Evaluate(DataLoader data)
    {
        ArgumentNullException.ThrowIfNull(data);
        bool wasTraining = Model.Training;
        Model.Eval();
        foreach (var m in Metrics) m.Reset();
        var lossFn = ValidationLoss ?? Loss;
        double lossSum = 0;
        int seen = 0;
        try
        {
            using (Autograd.NoGrad())
                foreach (var (x, y) in data)
                {
                    var output = Model.Forward(x);
                    int n = y.Rank == 0 ? 1 : y.Size(0);
                    lossSum += lossFn(output, y).Item() * n;
                    seen += n;
                    foreach (var m in Metrics) m.Update(output, y);
                }
        }
        finally
        {
            Model.Train(wasTraining);
        }
        return (seen == 0 ? 0 : lossSum / seen, Values(""));
    }
}
