using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Fluxion.Cli.Bench;

/// <summary>One measured workload: a name and an action run repeatedly after warm-up.</summary>
/// <param name="Name">Stable name printed in the JSON ("jvp/primal", ...).</param>
/// <param name="Run">One repetition.</param>
/// <param name="Extra">Extra JSON fields computed after the runs (e.g. ratios), given all results so far.</param>
/// <param name="WarmupSeconds">Minimum warm-up time: warm-up runs go on past the requested count until this much
/// time has passed (e.g. so a kernel reaches its final JIT tier).</param>
/// <param name="MeasureSeconds">When positive, the workload is time-boxed (sweeps of many cases): warm-up runs go on only
/// until <paramref name="WarmupSeconds"/> has passed (at least one run, whatever the requested count), and measured
/// runs stop once this much time has passed with at least three runs (or the requested count, if smaller).</param>
public sealed record Workload(string Name, Action Run, Func<IReadOnlyDictionary<string, BenchResult>, IReadOnlyDictionary<string, object>>? Extra = null,
    double WarmupSeconds = 0, double MeasureSeconds = 0);

/// <summary>Timing of one workload.</summary>
/// <param name="Name">Workload name.</param>
/// <param name="MedianMs">Median wall time of one run.</param>
/// <param name="MinMs">Fastest run.</param>
/// <param name="MaxMs">Slowest run.</param>
/// <param name="Runs">Number of measured runs.</param>
/// <param name="AllocatedBytesPerRun">Managed bytes allocated per run (mean).</param>
/// <param name="Gen0">Gen-0 collections per run (mean).</param>
/// <param name="Gen1">Gen-1 collections per run (mean).</param>
/// <param name="Gen2">Gen-2 collections per run (mean).</param>
public sealed record BenchResult(string Name, double MedianMs, double MinMs, double MaxMs, int Runs, double AllocatedBytesPerRun, double Gen0, double Gen1, double Gen2);

/// <summary>Runs workloads: warm-up, then repeated timed runs; median, min, max and GC counts.</summary>
public static class BenchRunner
{
    /// <summary>Measures one workload.</summary>
    public static BenchResult Measure(Workload w, int warmup, int runs)
    {
        var warm = Stopwatch.StartNew();
        bool boxed = w.MeasureSeconds > 0;
        for (int i = 0; (!boxed && i < warmup) || (boxed && i == 0) || warm.Elapsed.TotalSeconds < w.WarmupSeconds; i++) w.Run();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var times = new double[runs];
        long alloc0 = GC.GetAllocatedBytesForCurrentThread();
        int g0 = GC.CollectionCount(0), g1 = GC.CollectionCount(1), g2 = GC.CollectionCount(2);
        var sw = new Stopwatch();
        var box = Stopwatch.StartNew();
        for (int i = 0; i < runs; i++)
        {
            sw.Restart();
            w.Run();
            sw.Stop();
            times[i] = sw.Elapsed.TotalMilliseconds;
            if (boxed && i + 1 >= Math.Min(3, runs) && box.Elapsed.TotalSeconds >= w.MeasureSeconds && i + 1 < runs)
            {
                runs = i + 1;
                Array.Resize(ref times, runs);
            }
        }
        long alloc = GC.GetAllocatedBytesForCurrentThread() - alloc0;
        Array.Sort(times);
        double median = runs % 2 == 1 ? times[runs / 2] : 0.5 * (times[runs / 2 - 1] + times[runs / 2]);
        return new BenchResult(w.Name, median, times[0], times[^1], runs, (double)alloc / runs,
            (double)(GC.CollectionCount(0) - g0) / runs, (double)(GC.CollectionCount(1) - g1) / runs, (double)(GC.CollectionCount(2) - g2) / runs);
    }

    /// <summary>Runs the workloads in order and prints each result (JSON lines or a table).</summary>
    public static void RunAll(IEnumerable<Workload> workloads, int warmup, int runs, bool json, TextWriter o)
    {
        var results = new Dictionary<string, BenchResult>();
        foreach (var w in workloads)
        {
            var r = Measure(w, warmup, runs);
            results[w.Name] = r;
            var extra = w.Extra?.Invoke(results) ?? new Dictionary<string, object>();
            if (json)
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
                o.WriteLine(JsonSerializer.Serialize(obj));
            }
            else
            {
                var ex = string.Join("  ", extra.Select(kv => $"{kv.Key}={Convert.ToString(kv.Value, CultureInfo.InvariantCulture)}"));
                o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{r.Name,-24} median {r.MedianMs,9:F3} ms  min {r.MinMs,9:F3}  max {r.MaxMs,9:F3}  runs {r.Runs}  alloc/run {r.AllocatedBytesPerRun / 1e6,8:F2} MB  gen0/run {r.Gen0:F2}  {ex}"));
            }
        }
    }
}
