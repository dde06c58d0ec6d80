using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Fluxion.Cli.Bench;

/// <summary>One measured workload: a name and an action run repeatedly after warm-up.</summary>
/// <param name="Name">Stable name printed in the JSON ("jvp/primal", ...).</param>
/// <param name="Run">One repetition.</param>
/// <param name="Extra">Extra JSON fields computed after the runs (e.g. ratios), given every result of the suite.</param>
/// <param name="WarmupSeconds">Minimum warm-up time of the suite that holds this workload, on top of
/// <see cref="BenchOptions.WarmupSeconds"/> (the larger of the two applies).</param>
public sealed record Workload(string Name, Action Run, Func<IReadOnlyDictionary<string, BenchResult>, IReadOnlyDictionary<string, object>>? Extra = null, double WarmupSeconds = 0);

/// <summary>Timing and memory of one workload.</summary>
/// <param name="Name">Workload name.</param>
/// <param name="MedianMs">Median wall time of one run.</param>
/// <param name="MinMs">Fastest run.</param>
/// <param name="MaxMs">Slowest run.</param>
/// <param name="Runs">Number of measured runs.</param>
/// <param name="AllocatedBytesPerRun">Managed bytes allocated per run (mean).</param>
/// <param name="Gen0">Gen-0 collections per run (mean).</param>
/// <param name="Gen1">Gen-1 collections per run (mean).</param>
/// <param name="Gen2">Gen-2 collections per run (mean).</param>
/// <param name="PeakBytes">Peak of live tensor storage during one extra run (<see cref="MemoryTracker.Measure(Action)"/>;
/// tensors allocated on the calling thread), or -1 when not measured.</param>
/// <param name="WarmupSeconds">Warm-up time the suite took before its timed rounds (see <see cref="BenchOptions.JitQuietSeconds"/>).</param>
/// <param name="JitMethodsDuringRuns">Methods the JIT compiled during the timed rounds (tier-ups, OSR; 0 in steady state), or -1 when not counted.</param>
public sealed record BenchResult(string Name, double MedianMs, double MinMs, double MaxMs, int Runs, double AllocatedBytesPerRun, double Gen0, double Gen1, double Gen2,
    long PeakBytes = -1, double WarmupSeconds = 0, long JitMethodsDuringRuns = -1);

/// <summary>How <see cref="BenchRunner"/> measures.</summary>
public sealed record BenchOptions
{
    /// <summary>Timed rounds (each round runs every workload of the suite once).</summary>
    public int Runs { get; init; } = 15;

    /// <summary>Minimum number of warm-up rounds.</summary>
    public int Warmup { get; init; } = 3;

    /// <summary>Minimum warm-up time in seconds: warm-up rounds go on until both minimums are met (the JIT's tiers,
    /// the storage pool and the thread pool reach their steady state).</summary>
    public double WarmupSeconds { get; init; } = DefaultWarmupSeconds;

    /// <summary>Measure each workload's tensor-storage peak over one extra run ("peak_bytes").</summary>
    public bool TensorPeak { get; init; } = true;

    /// <summary>Measure each workload's fresh-process peak RSS growth in a child process ("rss_peak_bytes").</summary>
    public bool Rss { get; init; } = true;

    /// <summary>One JSON object per line instead of a table.</summary>
    public bool Json { get; init; }

    /// <summary>Default of <see cref="WarmupSeconds"/>.</summary>
    public const double DefaultWarmupSeconds = 3.0;

    /// <summary>When <see cref="WarmupSeconds"/> is positive, warm-up rounds also go on until the JIT compiled no method for
    /// this long (tiered compilation: tier-0, instrumented, tier-1 and OSR versions of the step's methods keep arriving for
    /// seconds, later on a loaded machine), up to <see cref="MaxExtraWarmupSeconds"/> past <see cref="WarmupSeconds"/>.
    /// 0 turns the rule off.</summary>
    public double JitQuietSeconds { get; init; } = 1.0;

    /// <summary>Longest the JIT rule of <see cref="JitQuietSeconds"/> extends the warm-up (seconds).</summary>
    public double MaxExtraWarmupSeconds { get; init; } = 10.0;
}

/// <summary>
/// Runs the workloads of a suite: warm-up rounds (at least the minimum rounds and seconds, and until the JIT has been quiet
/// for <see cref="BenchOptions.JitQuietSeconds"/>), then timed rounds in interleaved order (each round runs every
/// workload once: jvp/primal, jvp/jvp, jvp/vjp, ..., so no workload is timed colder than another); median, min,
/// max, managed allocation and GC counts per run; and two memory figures: the tensor-storage peak
/// ("peak_bytes", <see cref="MemoryTracker"/>) and a fresh process's peak RSS growth ("rss_peak_bytes": a child
/// process <c>fluxion bench &lt;suite&gt; --rss-child &lt;name&gt;</c> builds the suite, resets its peak resident set
/// through /proc/self/clear_refs, reads VmRSS, runs the workload once and reports VmHWM minus that VmRSS — the
/// method of bench/torch/harness.py and bench/torchsharp, so memory is compared the same way on every side).
/// </summary>
public static class BenchRunner
{
    /// <summary>Measures one workload alone (warm-up of <paramref name="warmup"/> runs and the workload's own minimum time).</summary>
    public static BenchResult Measure(Workload w, int warmup, int runs) =>
        MeasureSuite([w], new BenchOptions { Warmup = warmup, Runs = runs, WarmupSeconds = 0, TensorPeak = false, Rss = false })[0];

    /// <summary>Measures the workloads of one suite in interleaved rounds (no memory figures, no output).</summary>
    public static IReadOnlyList<BenchResult> MeasureSuite(IReadOnlyList<Workload> ws, BenchOptions o)
    {
        ArgumentNullException.ThrowIfNull(ws);
        ArgumentNullException.ThrowIfNull(o);
        double warmS = ws.Count == 0 ? 0 : Math.Max(o.WarmupSeconds, ws.Max(w => w.WarmupSeconds));
        var warm = Stopwatch.StartNew();
        bool jitRule = o.WarmupSeconds > 0 && o.JitQuietSeconds > 0;
        long jitCount = System.Runtime.JitInfo.GetCompiledMethodCount();
        double lastJit = 0;
        for (int r = 0; r < o.Warmup || warm.Elapsed.TotalSeconds < warmS
             || (jitRule && warm.Elapsed.TotalSeconds - lastJit < o.JitQuietSeconds && warm.Elapsed.TotalSeconds < warmS + o.MaxExtraWarmupSeconds); r++)
        {
            foreach (var w in ws) w.Run();
            long now = System.Runtime.JitInfo.GetCompiledMethodCount();
            if (now != jitCount) (jitCount, lastJit) = (now, warm.Elapsed.TotalSeconds);
        }
        double warmedS = warm.Elapsed.TotalSeconds;
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long jitBefore = System.Runtime.JitInfo.GetCompiledMethodCount();
        int runs = Math.Max(1, o.Runs);
        var times = ws.Select(_ => new double[runs]).ToArray();
        var alloc = new long[ws.Count];
        var gen = new long[ws.Count, 3];
        var sw = new Stopwatch();
        for (int r = 0; r < runs; r++)
            for (int k = 0; k < ws.Count; k++)
            {
                long a0 = GC.GetAllocatedBytesForCurrentThread();
                int g0 = GC.CollectionCount(0), g1 = GC.CollectionCount(1), g2 = GC.CollectionCount(2);
                sw.Restart();
                ws[k].Run();
                sw.Stop();
                times[k][r] = sw.Elapsed.TotalMilliseconds;
                alloc[k] += GC.GetAllocatedBytesForCurrentThread() - a0;
                gen[k, 0] += GC.CollectionCount(0) - g0;
                gen[k, 1] += GC.CollectionCount(1) - g1;
                gen[k, 2] += GC.CollectionCount(2) - g2;
            }
        long jitDuring = System.Runtime.JitInfo.GetCompiledMethodCount() - jitBefore;
        var results = new BenchResult[ws.Count];
        for (int k = 0; k < ws.Count; k++)
        {
            var t = times[k];
            Array.Sort(t);
            long peak = o.TensorPeak ? MemoryTracker.Measure(ws[k].Run).PeakBytes : -1;
            results[k] = new BenchResult(ws[k].Name, Median(t), t[0], t[^1], runs, (double)alloc[k] / runs,
                (double)gen[k, 0] / runs, (double)gen[k, 1] / runs, (double)gen[k, 2] / runs, peak, warmedS, jitDuring);
        }
        return results;
    }

    /// <summary>Median of sorted values.</summary>
    public static double Median(double[] sorted) =>
        sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : 0.5 * (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]);

    /// <summary>Runs the workloads as one suite without memory figures and prints each result (JSON lines or a
    /// table): for callers outside <c>fluxion bench</c>'s suites, such as the data-parallel ranks.</summary>
    public static void RunAll(IEnumerable<Workload> workloads, int warmup, int runs, bool json, TextWriter o) =>
        RunSuite(null, [.. workloads], new BenchOptions { Warmup = warmup, Runs = runs, WarmupSeconds = 0, TensorPeak = false, Rss = false, Json = json }, o);

    /// <summary>Measures one suite (see the class remarks) and prints one line per workload. With a null
    /// <paramref name="suite"/> name no child process is started (no "rss_peak_bytes").</summary>
    public static void RunSuite(string? suite, IReadOnlyList<Workload> ws, BenchOptions options, TextWriter o)
    {
        var measured = MeasureSuite(ws, options);
        var results = measured.ToDictionary(r => r.Name);
        for (int k = 0; k < ws.Count; k++)
        {
            var r = measured[k];
            var fields = new Dictionary<string, object>();
            if (r.PeakBytes >= 0) fields["peak_bytes"] = r.PeakBytes;
            if (options.Rss && suite is not null) fields["rss_peak_bytes"] = RssInChild(suite, r.Name);
            if (r.WarmupSeconds > 0) fields["warmup_s"] = Math.Round(r.WarmupSeconds, 2);
            if (r.JitMethodsDuringRuns >= 0) fields["jit_methods_during_runs"] = r.JitMethodsDuringRuns;
            foreach (var (key, v) in ws[k].Extra?.Invoke(results) ?? new Dictionary<string, object>()) fields[key] = v;
            o.WriteLine(options.Json ? JsonLine(r, fields) : TableLine(r, fields));
            o.Flush();
        }
    }

    /// <summary>The JSON line of a result: name, median_ms, min_ms, max_ms, runs, allocated_bytes_per_run, gen0..2_per_run, then the extra fields.</summary>
    public static string JsonLine(BenchResult r, IReadOnlyDictionary<string, object> extra)
    {
        var obj = new Dictionary<string, object>
        {
            ["name"] = r.Name,
            ["median_ms"] = Math.Round(r.MedianMs, 4),
            ["min_ms"] = Math.Round(r.MinMs, 4),
            ["max_ms"] = Math.Round(r.MaxMs, 4),
            ["runs"] = r.Runs,
            ["allocated_bytes_per_run"] = Math.Round(r.AllocatedBytesPerRun),
            ["gen0_per_run"] = Math.Round(r.Gen0, 3),
            ["gen1_per_run"] = Math.Round(r.Gen1, 3),
            ["gen2_per_run"] = Math.Round(r.Gen2, 3),
        };
        foreach (var (k, v) in extra) obj[k] = v;
        return JsonSerializer.Serialize(obj);
    }

    /// <summary>The table line of a result (the text form of <see cref="JsonLine"/>).</summary>
    public static string TableLine(BenchResult r, IReadOnlyDictionary<string, object> extra)
    {
        var ex = string.Join("  ", extra.Select(kv => $"{kv.Key}={Convert.ToString(kv.Value, CultureInfo.InvariantCulture)}"));
        return string.Create(CultureInfo.InvariantCulture,
            $"{r.Name,-24} median {r.MedianMs,9:F3} ms  min {r.MinMs,9:F3}  max {r.MaxMs,9:F3}  runs {r.Runs}  alloc/run {r.AllocatedBytesPerRun / 1e6,8:F2} MB  gen0/run {r.Gen0:F2}  gen2/run {r.Gen2:F2}  {ex}");
    }

    /// <summary>Command-line flag of the child process that measures one workload's peak RSS growth.</summary>
    public const string RssChildFlag = "--rss-child";

    /// <summary>Options the peak-RSS child gets too (those that change a suite's workloads, e.g. memplan's <c>--steps</c>).</summary>
    public static IReadOnlyList<string> ChildArgs { get; set; } = [];

    /// <summary>Runs <c>fluxion bench &lt;suite&gt; --rss-child &lt;name&gt;</c> and returns the byte count it prints (-1 if it failed).</summary>
    private static long RssInChild(string suite, string name)
    {
        var self = Environment.ProcessPath ?? "dotnet";
        var psi = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") psi.ArgumentList.Add(typeof(BenchRunner).Assembly.Location);
        foreach (var a in new[] { "bench", suite, RssChildFlag, name }.Concat(ChildArgs)) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"fluxion bench: could not start {self} for the peak-RSS child of {name}");
        var err = p.StandardError.ReadToEndAsync();
        string text = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        var last = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault()?.Trim();
        if (p.ExitCode == 0 && long.TryParse(last, NumberStyles.Integer, CultureInfo.InvariantCulture, out long bytes)) return bytes;
        Console.Error.WriteLine($"fluxion bench: the peak-RSS child of {name} failed (exit {p.ExitCode}): {err.Result}");
        return -1;
    }

    /// <summary>The child's side: builds the suite's workloads, runs the named one once and prints its peak RSS growth in bytes.</summary>
    public static int RssChild(IEnumerable<Workload> suite, string name, TextWriter o, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(suite);
        var w = suite.ToList().FirstOrDefault(w => w.Name == name);
        if (w is null)
        {
            stderr.WriteLine($"fluxion bench: no workload '{name}' in this suite");
            return 2;
        }
        o.WriteLine(PeakRssGrowth(w.Run).ToString(CultureInfo.InvariantCulture));
        return 0;
    }

    /// <summary>Peak resident set during <paramref name="run"/> minus the resident set just before it (Linux: VmHWM,
    /// reset through /proc/self/clear_refs, minus VmRSS).</summary>
    public static long PeakRssGrowth(Action run)
    {
        ArgumentNullException.ThrowIfNull(run);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        File.WriteAllText("/proc/self/clear_refs", "5");
        long before = StatusBytes("VmRSS:");
        run();
        return StatusBytes("VmHWM:") - before;
    }

    private static long StatusBytes(string key) =>
        long.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith(key, StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
}
