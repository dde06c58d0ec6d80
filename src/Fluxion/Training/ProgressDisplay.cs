using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Fluxion.Training;

/// <summary>
/// The training progress display. On a terminal, one live line per epoch, redrawn about ten times a second:
/// a bar, the percentage of the epoch, the elapsed time and the estimated time to the end of training, the
/// throughput, the loss and metrics so far and the learning rate; it never exceeds the terminal's width (at most
/// <see cref="MaxWidth"/> columns). Without a terminal (CI, a log file, a redirected stream), plain lines: a few
/// per epoch and one summary line per epoch. The summary line is the same in both modes:
/// <c>epoch 3/10  loss 0.4012  acc 85.60%  val loss 0.4420  val acc 84.10%  lr 0.001  4.2 s  2,390 samples/s</c>.
/// </summary>
public sealed class ProgressDisplay : TrainingCallback
{
    private readonly TextWriter _out;
    private readonly Stopwatch _sinceDraw = new();
    private int _linesPerEpoch = 4, _every = 1, _drawn;

    /// <summary>Creates a display writing to <paramref name="output"/> (default: the standard error stream, as
    /// tqdm does, so that standard output keeps only results).</summary>
    /// <param name="output">Where to write.</param>
    /// <param name="interactive">Live redrawn lines (true) or plain lines (false); default: live when
    /// <paramref name="output"/> is the console's error or output stream and that stream is a terminal.</param>
    public ProgressDisplay(TextWriter? output = null, bool? interactive = null)
    {
        _out = output ?? Console.Error;
        Interactive = interactive ?? IsTerminal(_out);
    }

    private static bool IsTerminal(TextWriter w)
    {
        if (Environment.GetEnvironmentVariable("TERM") == "dumb") return false;
        if (ReferenceEquals(w, Console.Error)) return !Console.IsErrorRedirected;
        if (ReferenceEquals(w, Console.Out)) return !Console.IsOutputRedirected;
        return false;
    }

    /// <summary>Whether lines are redrawn in place (a terminal) or written one after another.</summary>
    public bool Interactive { get; }

    /// <summary>The widest a live line gets (default 120 columns; narrower terminals get their own width).</summary>
    public int MaxWidth { get; init; } = 120;

    /// <summary>What validation values are called: "val" (default) prints "val loss" and "val acc"; the
    /// <c>fluxion train</c> command says "test".</summary>
    public string ValidationLabel { get; init; } = "val";

    /// <summary>Plain mode: progress lines per epoch besides the summary line (default 3; 0 for summaries only).</summary>
    public int PlainLinesPerEpoch { get => _linesPerEpoch - 1; init => _linesPerEpoch = Math.Max(0, value) + 1; }

    /// <inheritdoc/>
    public override void OnTrainBegin(Trainer trainer, int startEpoch, int epochs, int batchesPerEpoch)
    {
        _every = Math.Max(1, (batchesPerEpoch + _linesPerEpoch - 1) / _linesPerEpoch);
        _sinceDraw.Restart();
        _drawn = 0;
    }

    /// <inheritdoc/>
    public override void OnBatchEnd(Trainer trainer, BatchProgress p)
    {
        if (Interactive)
        {
            // redraw at most ~10 times a second, and always on the first batch
            if (p.Batch > 1 && _sinceDraw.ElapsedMilliseconds < 100) return;
            _sinceDraw.Restart();
            Draw(LiveLine(p, trainer));
        }
        else if (_linesPerEpoch > 1 && p.Batch % _every == 0 && p.Batch != p.Batches)
        {
            _out.WriteLine("  " + BatchLine(p, trainer));
            _out.Flush();
        }
    }

    /// <inheritdoc/>
    public override void OnEpochEnd(Trainer trainer, EpochResult result)
    {
        var line = EpochLine(result, trainer, ValidationLabel);
        if (Interactive)
        {
            Draw(Fit(line, Width()));
            _out.Write('\n');
            _drawn = 0;
        }
        else _out.WriteLine(line);
        _out.Flush();
    }

    /// <inheritdoc/>
    public override void OnTrainEnd(Trainer trainer, TrainingHistory history)
    {
        if (Interactive && _drawn > 0) { _out.Write('\n'); _drawn = 0; }
        if (history.StopReason is { } why) _out.WriteLine(why);
        _out.Flush();
    }

    private void Draw(string line)
    {
        // carriage return, the line, then erase whatever a longer previous line left (ANSI "erase to end of line")
        _out.Write('\r');
        _out.Write(line);
        _out.Write("\u001b[K");
        _out.Flush();
        _drawn = line.Length;
    }

    private int Width()
    {
        int w = MaxWidth;
        try { if (!Console.IsOutputRedirected && Console.WindowWidth > 0) w = Math.Min(w, Console.WindowWidth); }
        catch (IOException) { }
        catch (PlatformNotSupportedException) { }
        return Math.Max(20, w - 1); // the last column would make some terminals wrap
    }

    private string LiveLine(BatchProgress p, Trainer t)
    {
        const int barWidth = 20;
        int filled = (int)Math.Round(p.Fraction * barWidth);
        var bar = "[" + new string('=', filled) + new string(' ', barWidth - filled) + "]";
        // the most telling parts first (as tqdm orders them), so that a narrow terminal cuts the least useful
        var line = $"epoch {p.Epoch}/{p.Epochs} {bar} {Pct(p.Fraction, "F0")}  {p.Batch}/{p.Batches}  {Time(p.Elapsed)}<{Time(p.Remaining)}  "
            + $"{F(p.SamplesPerSecond, "N0")} samples/s  loss {F(p.Loss, "F4")}" + MetricsText(p.Metrics, t, "") + $"  lr {Lr(p.LearningRate)}";
        return Fit(line, Width());
    }

    /// <summary>A plain progress line: <c>epoch 1/10  batch 40/157  25%  loss 0.6120  acc 78.12%  lr 0.001  1,234 samples/s  elapsed 0:03  eta 0:41</c>.</summary>
    public static string BatchLine(BatchProgress p, Trainer? trainer = null) =>
        $"epoch {p.Epoch}/{p.Epochs}  batch {p.Batch}/{p.Batches}  {Pct(p.Fraction, "F0")}  loss {F(p.Loss, "F4")}" + MetricsText(p.Metrics, trainer, "")
        + $"  lr {Lr(p.LearningRate)}  {F(p.SamplesPerSecond, "N0")} samples/s  elapsed {Time(p.Elapsed)}  eta {Time(p.Remaining)}";

    /// <summary>The summary line of an epoch: <c>epoch 3/10  loss 0.4012  acc 85.60%  val loss 0.4420  val acc 84.10%  lr 0.001  4.2 s  2,390 samples/s</c>.</summary>
    public static string EpochLine(EpochResult r, Trainer? trainer = null, string validationLabel = "val")
    {
        var sb = new StringBuilder($"epoch {r.Epoch}/{r.Epochs}  loss {F(r.Loss, "F4")}");
        sb.Append(MetricsText(r.Metrics.Where(kv => !kv.Key.StartsWith("val_", StringComparison.Ordinal)), trainer, ""));
        if (r.ValidationLoss is { } vl) sb.Append($"  {validationLabel} loss {F(vl, "F4")}");
        sb.Append(MetricsText(r.Metrics.Where(kv => kv.Key.StartsWith("val_", StringComparison.Ordinal)).Select(kv => KeyValuePair.Create(kv.Key[4..], kv.Value)), trainer, validationLabel + " "));
        sb.Append($"  lr {Lr(r.LearningRate)}  {F(r.Duration.TotalSeconds, "F1")} s  {F(r.SamplesPerSecond, "N0")} samples/s");
        return sb.ToString();
    }

    private static string MetricsText(IEnumerable<KeyValuePair<string, double>> metrics, Trainer? t, string prefix)
    {
        var sb = new StringBuilder();
        foreach (var (k, v) in metrics)
        {
            bool pct = t?.Metrics.FirstOrDefault(m => m.Name == k)?.IsPercentage ?? k.EndsWith("acc", StringComparison.Ordinal);
            sb.Append("  ").Append(prefix).Append(k).Append(' ').Append(pct ? Pct(v, "F2") : F(v, "G4"));
        }
        return sb.ToString();
    }

    /// <summary>Cuts <paramref name="line"/> to <paramref name="width"/> characters (marking the cut with "…").</summary>
    internal static string Fit(string line, int width) => line.Length <= width ? line : line[..(width - 1)] + "…";

    private static string F(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);

    private static string Pct(double fraction, string format) => F(100 * fraction, format) + "%";

    private static string Lr(double lr) => F(lr, "G3");

    /// <summary>m:ss, or h:mm:ss from an hour.</summary>
    internal static string Time(TimeSpan t) => t.TotalHours >= 1
        ? $"{(int)t.TotalHours}:{t.Minutes:00}:{t.Seconds:00}"
        : $"{(int)t.TotalMinutes}:{t.Seconds:00}";
}
