using System.Globalization;
using Fluxion.IO;

namespace Fluxion.Training;

/// <summary>Hooks into a <see cref="Trainer"/>'s loop; override the events you need. The progress display,
/// checkpoints and early stopping are callbacks.</summary>
public abstract class TrainingCallback
{
    /// <summary>Before the first epoch.</summary>
    /// <param name="trainer">The trainer.</param>
    /// <param name="startEpoch">The number of epochs already done (a resumed run), 0 for a fresh one.</param>
    /// <param name="epochs">The total number of epochs.</param>
    /// <param name="batchesPerEpoch">The number of training batches per epoch.</param>
    public virtual void OnTrainBegin(Trainer trainer, int startEpoch, int epochs, int batchesPerEpoch) { }

    /// <summary>Before each epoch (numbered from 1).</summary>
    public virtual void OnEpochBegin(Trainer trainer, int epoch) { }

    /// <summary>After each training batch's optimizer step.</summary>
    public virtual void OnBatchEnd(Trainer trainer, BatchProgress progress) { }

    /// <summary>After each epoch's validation.</summary>
    public virtual void OnEpochEnd(Trainer trainer, EpochResult result) { }

    /// <summary>After the last epoch, or after an early stop.</summary>
    public virtual void OnTrainEnd(Trainer trainer, TrainingHistory history) { }
}

/// <summary>Whether a monitored value improves by going down (a loss) or up (an accuracy).</summary>
public enum MonitorMode
{
    /// <summary>Lower is better.</summary>
    Min,
    /// <summary>Higher is better.</summary>
    Max,
}

/// <summary>Tracks the best value of a monitored key of <see cref="EpochResult.Get"/>.</summary>
internal sealed class Monitor(string key, MonitorMode mode, double minDelta)
{
    public string Key { get; } = key;
    public double? Best { get; private set; }
    public int BestEpoch { get; private set; }

    /// <summary>Reads the key (a Fluxion error naming the available keys when absent) and returns whether it improved on the best.</summary>
    public bool Update(EpochResult r, string who)
    {
        var v = r.Get(Key) ?? throw new FluxionException(
            $"{who}: the epoch results have no '{Key}' (they have loss, lr{string.Concat(r.Metrics.Keys.Select(k => ", " + k))}"
            + (r.ValidationLoss is null ? "; 'val_' keys need validation data: pass validation to Trainer.Fit" : "") + ").");
        bool better = Best is not { } b || (mode == MonitorMode.Min ? v < b - minDelta : v > b + minDelta);
        if (better) (Best, BestEpoch) = (v, r.Epoch);
        return better;
    }
}

/// <summary>
/// Stops training when <c>monitor</c> (default "val_loss") has not improved by more than <c>minDelta</c> for
/// <c>patience</c> epochs (Keras' and Lightning's <c>EarlyStopping</c>).
/// </summary>
/// <param name="monitor">A key of <see cref="EpochResult.Get"/>: "loss", "val_loss", "acc", "val_acc", ...</param>
/// <param name="patience">Epochs without improvement before stopping.</param>
/// <param name="mode">Whether lower or higher is better; default: <see cref="MonitorMode.Max"/> for keys ending in
/// "acc" or "accuracy", <see cref="MonitorMode.Min"/> otherwise.</param>
/// <param name="minDelta">The least change that counts as an improvement.</param>
public sealed class EarlyStopping(string monitor = "val_loss", int patience = 3, MonitorMode? mode = null, double minDelta = 0) : TrainingCallback
{
    private readonly Monitor _monitor = new(monitor, mode ?? DefaultMode(monitor), minDelta);
    private int _wait;

    internal static MonitorMode DefaultMode(string key) =>
        key.EndsWith("acc", StringComparison.Ordinal) || key.EndsWith("accuracy", StringComparison.Ordinal) ? MonitorMode.Max : MonitorMode.Min;

    /// <summary>The best value seen, or null before the first epoch.</summary>
    public double? Best => _monitor.Best;

    /// <summary>The epoch of the best value.</summary>
    public int BestEpoch => _monitor.BestEpoch;

    /// <inheritdoc/>
    public override void OnTrainBegin(Trainer trainer, int startEpoch, int epochs, int batchesPerEpoch) => _wait = 0;

    /// <inheritdoc/>
    public override void OnEpochEnd(Trainer trainer, EpochResult result)
    {
        if (_monitor.Update(result, "EarlyStopping")) { _wait = 0; return; }
        if (++_wait >= patience)
            trainer.Stop($"early stopping: {monitor} has not improved for {patience} epoch{(patience == 1 ? "" : "s")} "
                + $"(best {_monitor.Best!.Value.ToString("G4", CultureInfo.InvariantCulture)} at epoch {_monitor.BestEpoch})");
    }
}

/// <summary>
/// Saves the model and the optimizer state (<see cref="ModelIO.Save(Nn.Module, Optim.Optimizer?, string, IReadOnlyDictionary{string, string}?)"/>,
/// safetensors, atomically) to <c>path</c> after every epoch, or only when <c>monitor</c> improved. The metadata records
/// "fluxion.epoch" and whatever <see cref="Metadata"/> adds.
/// </summary>
/// <param name="path">The checkpoint file (rewritten each time).</param>
/// <param name="monitor">When set (e.g. "val_loss"), save only the epochs that improve it.</param>
/// <param name="mode">Whether lower or higher is better (default as <see cref="EarlyStopping"/>).</param>
public sealed class ModelCheckpoint(string path, string? monitor = null, MonitorMode? mode = null) : TrainingCallback
{
    private readonly Monitor? _monitor = monitor is null ? null : new(monitor, mode ?? EarlyStopping.DefaultMode(monitor), 0);

    /// <summary>The checkpoint file.</summary>
    public string Path { get; } = path;

    /// <summary>Extra metadata for the epoch being saved (e.g. the model's name, the data it was trained on).</summary>
    public Func<EpochResult, IReadOnlyDictionary<string, string>>? Metadata { get; init; }

    /// <summary>The epoch last saved (0: none yet).</summary>
    public int SavedEpoch { get; private set; }

    /// <inheritdoc/>
    public override void OnEpochEnd(Trainer trainer, EpochResult result)
    {
        if (_monitor is not null && !_monitor.Update(result, "ModelCheckpoint")) return;
        var meta = new Dictionary<string, string> { ["fluxion.epoch"] = result.Epoch.ToString(CultureInfo.InvariantCulture) };
        if (Metadata?.Invoke(result) is { } extra)
            foreach (var (k, v) in extra) meta[k] = v;
        ModelIO.Save(trainer.Model, trainer.Optimizer, Path, meta);
        SavedEpoch = result.Epoch;
    }
}
