using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using TorchSharp;

namespace TorchSharpBench;

/// <summary>One measured workload: a name (as `fluxion bench` prints it) and one repetition.</summary>
/// <param name="Name">Workload name, e.g. "gemm/float32/1024/ab".</param>
/// <param name="Run">One repetition (run inside a dispose scope, so its tensors are freed at once).</param>
/// <param name="Extra">Extra JSON fields computed after the suite's timed rounds, given every result of the suite.</param>
public sealed record Workload(string Name, Action Run, Func<IReadOnlyDictionary<string, Result>, Dictionary<string, object>>? Extra = null);

/// <summary>Timing of one workload.</summary>
public sealed record Result(string Name, double MedianMs, double MinMs, double MaxMs, int Runs, double AllocatedBytesPerRun, double Gen0, double Gen1, double Gen2);

/// <summary>Command-line options shared by every suite.</summary>
public sealed class Options
{
    /// <summary>Timed rounds (each round runs every workload of the suite once).</summary>
    public int Runs = 15;
    /// <summary>Minimum number of warm-up rounds.</summary>
    public int Warmup = 3;
    /// <summary>Minimum warm-up time in seconds (rounds go on until both minimums are met).</summary>
    public double WarmupSeconds = 3.0;
    /// <summary>Intra-op threads (the machine's 2 cores).</summary>
    public int Threads = 2;
    /// <summary>Measure the fresh-process peak RSS growth of every workload (one child process per workload).</summary>
    public bool Rss = true;
}

/// <summary>A suite: builds its workloads (inputs allocated once, outside the timed runs).</summary>
public interface ISuite
{
    /// <summary>The workloads, built once per process.</summary>
    IEnumerable<Workload> Workloads();
}

/// <summary>
/// The runner, as `fluxion bench`'s (src/Fluxion.Cli/Bench/BenchRunner.cs): the workloads of a suite run in
/// interleaved rounds (each round runs each workload once), warm-up rounds until both --warmup rounds and
/// --warmup-s seconds have passed, then --runs timed rounds; median, min, max, managed allocation and GC counts
/// per run; and the fresh-process peak RSS growth "rss_peak_bytes" (bench/torch/harness.py's method): a child
/// process builds the suite, resets its peak (/proc/self/clear_refs), reads VmRSS, runs the workload once and
/// reports VmHWM minus that VmRSS.
/// </summary>
public static class Runner
{
    /// <summary>Median of a sorted array.</summary>
    public static double Median(double[] sorted) =>
        sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : 0.5 * (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]);

    private static void Once(Action run)
    {
        using var scope = torch.NewDisposeScope();
        run();
    }

    /// <summary>Runs the suite and prints one JSON line per workload.</summary>
    public static void Run(string suite, ISuite s, Options o, TextWriter output)
    {
        var ws = s.Workloads().ToList();
        var warm = Stopwatch.StartNew();
        for (int r = 0; r < o.Warmup || warm.Elapsed.TotalSeconds < o.WarmupSeconds; r++)
            foreach (var w in ws) Once(w.Run);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var times = ws.Select(_ => new double[o.Runs]).ToArray();
        var alloc = new long[ws.Count];
        var gen = new int[ws.Count, 3];
        var sw = new Stopwatch();
        for (int r = 0; r < o.Runs; r++)
            for (int k = 0; k < ws.Count; k++)
            {
                long a0 = GC.GetAllocatedBytesForCurrentThread();
                int g0 = GC.CollectionCount(0), g1 = GC.CollectionCount(1), g2 = GC.CollectionCount(2);
                sw.Restart();
                Once(ws[k].Run);
                sw.Stop();
                times[k][r] = sw.Elapsed.TotalMilliseconds;
                alloc[k] += GC.GetAllocatedBytesForCurrentThread() - a0;
                gen[k, 0] += GC.CollectionCount(0) - g0;
                gen[k, 1] += GC.CollectionCount(1) - g1;
                gen[k, 2] += GC.CollectionCount(2) - g2;
            }
        var results = new Dictionary<string, Result>();
        for (int k = 0; k < ws.Count; k++)
        {
            var t = times[k];
            Array.Sort(t);
            results[ws[k].Name] = new Result(ws[k].Name, Median(t), t[0], t[^1], o.Runs, (double)alloc[k] / o.Runs,
                (double)gen[k, 0] / o.Runs, (double)gen[k, 1] / o.Runs, (double)gen[k, 2] / o.Runs);
        }
        foreach (var w in ws)
        {
            var r = results[w.Name];
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
                ["impl"] = "torchsharp-0.107.0/libtorch-2.10.0",
                ["threads"] = torch.get_num_threads(),
            };
            if (o.Rss) obj["rss_peak_bytes"] = RssInChild(suite, w.Name, o);
            if (w.Extra is not null) foreach (var (k, v) in w.Extra(results)) obj[k] = v;
            output.WriteLine(JsonSerializer.Serialize(obj));
            output.Flush();
        }
    }

    /// <summary>Runs `&lt;self&gt; &lt;suite&gt; --rss-child &lt;name&gt;` and returns the byte count it prints (-1 if it failed).</summary>
    private static long RssInChild(string suite, string name, Options o)
    {
        var self = Environment.ProcessPath ?? "dotnet";
        var psi = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") psi.ArgumentList.Add(typeof(Runner).Assembly.Location);
        foreach (var a in new[] { suite, "--rss-child", name, "--threads", o.Threads.ToString(CultureInfo.InvariantCulture) }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string outText = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        var last = outText.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault();
        if (p.ExitCode == 0 && long.TryParse(last, NumberStyles.Integer, CultureInfo.InvariantCulture, out long bytes)) return bytes;
        Console.Error.WriteLine($"tsbench: the peak-RSS child of {name} failed (exit {p.ExitCode}): {stderr.Result}");
        return -1;
    }

    /// <summary>The child's side: builds the suite, runs the named workload once and prints its peak RSS growth in bytes.</summary>
    public static int RssChild(ISuite s, string name, TextWriter output)
    {
        var w = s.Workloads().FirstOrDefault(w => w.Name == name);
        if (w is null)
        {
            Console.Error.WriteLine($"tsbench: no workload '{name}' in this suite");
            return 2;
        }
        output.WriteLine(PeakRssGrowth(() => Once(w.Run)));
        return 0;
    }

    /// <summary>Peak resident set during <paramref name="run"/> minus the resident set before it (VmHWM reset through clear_refs).</summary>
    public static long PeakRssGrowth(Action run)
    {
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
