using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Fluxion.Distributed;
using Fluxion.Nn;
using Fluxion.Optim;

namespace Fluxion.Cli.Bench;

/// <summary>
/// <c>fluxion bench ddp</c>: data-parallel training over MPI. Run without mpirun: it launches the
/// measurements itself, each rank with one thread (DOTNET_PROCESSOR_COUNT=1):
/// <list type="number">
/// <item><c>mpirun -np 1</c>: the single-process baseline, <c>ddp/{mlp,cnn}/step_plain</c> (and the DDP
/// wrapper on one rank, <c>step_ddp</c>: hooks and bucket copies without communication).</item>
/// <item><c>mpirun -np 2</c>: <c>ddp/allreduce/BYTES</c> (float32 in place, 1 KB to 64 MB, with
/// <c>gb_per_s</c>) and the same steps, where <c>step_ddp</c> includes the gradient allreduce.</item>
/// <item>Open MPI's own figures: the same MPI_Allreduce timed from C (<c>ddp/allreduce_c/BYTES</c>,
/// compiled with mpicc); each Fluxion allreduce line gets <c>vs_openmpi_c</c> (time ratio).</item>
/// <item>Derived: <c>ddp/{mlp,cnn}/overhead</c> (DDP step at 2 ranks minus the plain step at 1 rank, same
/// per-rank batch) and <c>ddp/scaling/{mlp,cnn}</c>: samples/s at 1 and 2 ranks and
/// <c>efficiency</c> = samples/s at 2 ranks / (2 × samples/s at 1 rank).</item>
/// </list>
/// The models and per-rank batches are those of <see cref="TrainStepBench"/> (MLP batch 128, CNN batch 64).
/// </summary>
public static class DdpBench
{
    /// <summary>Hidden flag: run as one rank of the measurement job.</summary>
    public const string WorkerFlag = "--ddp-worker";

    /// <summary>Largest allreduce buffer by default (64 MB).</summary>
    public const long DefaultMaxBytes = 64L << 20;

    /// <summary>Runs the benchmark (launcher, or one rank with <paramref name="worker"/>); returns the exit code.</summary>
    public static int Run(bool json, int runs, int warmup, long maxBytes, bool worker, TextWriter stdout, TextWriter stderr)
    {
        if (worker) return RunRank(runs, warmup, maxBytes, stdout);

        var one = Launch(1, runs, warmup, maxBytes, stderr);
        var two = Launch(2, runs, warmup, maxBytes, stderr);
        if (one is null || two is null) return 1;
        var c = RunCReference(runs, warmup, maxBytes, stderr);

        var lines = new List<JsonObject>();
        foreach (var r in one)
        {
            r["ranks"] = 1;
            lines.Add(r);
        }
        foreach (var r in two)
        {
            r["ranks"] = 2;
            var name = (string)r["name"]!;
            if (name.StartsWith("ddp/allreduce/", StringComparison.Ordinal) && c?.FirstOrDefault(x => (string)x["name"]! == name.Replace("allreduce/", "allreduce_c/")) is { } cr)
                r["vs_openmpi_c"] = Math.Round(Median(r) / Median(cr), 3);
            lines.Add(r);
        }
        foreach (var r in c ?? []) lines.Add(r);
        foreach (var (model, batch) in new[] { ("mlp", 128), ("cnn", 64) })
        {
            var plain1 = one.FirstOrDefault(x => (string)x["name"]! == $"ddp/{model}/step_plain");
            var ddp2 = two.FirstOrDefault(x => (string)x["name"]! == $"ddp/{model}/step_ddp");
            if (plain1 is null || ddp2 is null) continue;
            double t1 = Median(plain1), t2 = Median(ddp2);
            lines.Add(new JsonObject
            {
                ["name"] = $"ddp/{model}/overhead",
                ["overhead_ms"] = Math.Round(t2 - t1, 4),
                ["overhead_pct"] = Math.Round(100 * (t2 - t1) / t1, 2),
                ["step_1rank_ms"] = t1,
                ["step_ddp_2ranks_ms"] = t2,
            });
            double sps1 = batch / (t1 / 1e3), sps2 = 2 * batch / (t2 / 1e3);
            lines.Add(new JsonObject
            {
                ["name"] = $"ddp/scaling/{model}",
                ["samples_per_s_1rank"] = Math.Round(sps1, 1),
                ["samples_per_s_2ranks"] = Math.Round(sps2, 1),
                ["efficiency"] = Math.Round(sps2 / (2 * sps1), 4),
                ["batch_per_rank"] = batch,
                ["threads_per_rank"] = 1,
            });
        }
        foreach (var l in lines)
            stdout.WriteLine(json ? l.ToJsonString() : string.Join("  ", l.Select(kv => $"{kv.Key}={kv.Value?.ToJsonString().Trim('"')}")));
        return 0;
    }

    private static double Median(JsonObject o) => o["median_ms"]!.GetValue<double>();

    /// <summary>The allreduce sizes: 1 KB, 4 KB, ..., up to <paramref name="maxBytes"/>.</summary>
    public static IEnumerable<long> Sizes(long maxBytes)
    {
        for (long b = 1024; b <= maxBytes; b *= 4) yield return b;
    }

    private static string[] MpirunPrefix(int ranks)
    {
        var a = new List<string> { "-np", ranks.ToString(CultureInfo.InvariantCulture), "--oversubscribe", "--bind-to", "none" };
        if (Environment.UserName == "root") a.Add("--allow-run-as-root");
        return a.ToArray();
    }

    private static string? Which(string exe) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, exe)).FirstOrDefault(File.Exists);

    /// <summary>Runs <c>mpirun -np ranks fluxion bench ddp --ddp-worker</c>; returns the JSON lines of rank 0, or null on failure.</summary>
    private static List<JsonObject>? Launch(int ranks, int runs, int warmup, long maxBytes, TextWriter stderr)
    {
        var self = Environment.ProcessPath ?? "dotnet";
        var cmd = Path.GetFileNameWithoutExtension(self) == "dotnet" ? new[] { self, typeof(DdpBench).Assembly.Location } : new[] { self };
        var args = MpirunPrefix(ranks).Concat(cmd).Concat(["bench", "ddp", WorkerFlag, "--runs", runs.ToString(CultureInfo.InvariantCulture),
            "--warmup", warmup.ToString(CultureInfo.InvariantCulture), "--max-bytes", maxBytes.ToString(CultureInfo.InvariantCulture)]);
        return RunJsonLines("mpirun", args, stderr);
    }

    private static List<JsonObject>? RunJsonLines(string exe, IEnumerable<string> args, TextWriter stderr)
    {
        var path = Which(exe);
        if (path is null)
        {
            stderr.WriteLine($"fluxion bench ddp: {exe} not found; install Open MPI (tools/install-mpi.sh or `apt-get install openmpi-bin libopenmpi-dev`).");
            return null;
        }
        var psi = new ProcessStartInfo(path) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_PROCESSOR_COUNT"] = "1"; // one thread per rank
        psi.Environment[ProcessGroup.TimeoutVariable] = "3600";
        psi.Environment.TryAdd("OMPI_MCA_btl_vader_single_copy_mechanism", "none"); // containers often forbid cross-memory attach
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var lines = new List<JsonObject>();
        while (p.StandardOutput.ReadLine() is { } line)
        {
            // a rank's first line may start with terminal escapes (mpirun gives the ranks a pty)
            int start = line.IndexOf('{');
            if (start >= 0 && line.EndsWith('}') && JsonNode.Parse(line[start..]) is JsonObject o) lines.Add(o);
        }
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            stderr.WriteLine($"fluxion bench ddp: {exe} {string.Join(' ', psi.ArgumentList)} failed (exit {p.ExitCode}):\n{err.Result}");
            return null;
        }
        return lines;
    }

    /// <summary>Open MPI's own allreduce timings: Bench/mpi_allreduce.c compiled with mpicc and run on 2 ranks (null when mpicc is missing).</summary>
    private static List<JsonObject>? RunCReference(int runs, int warmup, long maxBytes, TextWriter stderr)
    {
        if (Which("mpicc") is not { } mpicc)
        {
            stderr.WriteLine("fluxion bench ddp: mpicc not found (package libopenmpi-dev); skipping Open MPI's own allreduce figures.");
            return null;
        }
        var dir = Directory.CreateTempSubdirectory("fluxion-ddp-bench-").FullName;
        try
        {
            var src = Path.Combine(dir, "mpi_allreduce.c");
            using (var res = typeof(DdpBench).Assembly.GetManifestResourceStream("Fluxion.Cli.Bench.mpi_allreduce.c")!)
            using (var f = File.Create(src))
                res.CopyTo(f);
            var exe = Path.Combine(dir, "mpi_allreduce");
            using (var cc = Process.Start(new ProcessStartInfo(mpicc, ["-O2", "-o", exe, src]) { UseShellExecute = false })!)
            {
                cc.WaitForExit();
                if (cc.ExitCode != 0)
                {
                    stderr.WriteLine("fluxion bench ddp: mpicc failed; skipping Open MPI's own allreduce figures.");
                    return null;
                }
            }
            return RunJsonLines("mpirun", MpirunPrefix(2).Concat([exe, warmup.ToString(CultureInfo.InvariantCulture), runs.ToString(CultureInfo.InvariantCulture)])
                .Concat(Sizes(maxBytes).Select(b => b.ToString(CultureInfo.InvariantCulture))), stderr);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>One rank of the measurement job: every rank runs the same workloads (their collectives
    /// pair up); rank 0 prints the JSON lines.</summary>
    private static int RunRank(int runs, int warmup, long maxBytes, TextWriter stdout)
    {
        using var pg = ProcessGroup.Init();
        var workloads = new List<Workload>();
        if (pg.Size > 1)
            foreach (var bytes in Sizes(maxBytes))
            {
                var buf = new float[bytes / sizeof(float)];
                workloads.Add(new Workload($"ddp/allreduce/{bytes}", () => pg.AllReduce(buf.AsSpan(), ReduceOp.Sum), r => new Dictionary<string, object>
                {
                    ["bytes"] = bytes,
                    ["gb_per_s"] = Math.Round(bytes / (r[$"ddp/allreduce/{bytes}"].MedianMs * 1e6), 4),
                }));
            }
        foreach (var (model, build, batch, shape) in new (string, Func<Module>, int, int[])[]
        {
            ("mlp", () => new Sequential(new Linear(784, 512), new ReLU(), new Linear(512, 256), new ReLU(), new Linear(256, 10)), 128, [128, 784]),
            ("cnn", () => new Sequential(new Conv2d(1, 32, 3, padding: 1), new ReLU(), new MaxPool2d(2), new Conv2d(32, 64, 3, padding: 1), new ReLU(), new MaxPool2d(2),
                new Flatten(), new Linear(64 * 7 * 7, 128), new ReLU(), new Linear(128, 10)), 64, [64, 1, 28, 28]),
        })
        {
            Generator.ManualSeed(pg.Rank);
            var x = Tensor.Randn(shape);
            var y = Tensor.RandInt(0, 10, [batch]);
            var plain = build();
            var plainOpt = new Adam(plain.Parameters(), lr: 1e-3);
            var inner = build();
            var ddp = new DistributedDataParallel(inner, pg);
            var ddpOpt = new Adam(inner.Parameters(), lr: 1e-3);
            double warm = model == "cnn" ? TrainStepBench.CnnWarmupSeconds : 0;
            workloads.Add(new Workload($"ddp/{model}/step_plain", () => Step(plain, plainOpt, x, y), WarmupSeconds: warm));
            // no time-based warm-up here: every rank must run the same number of steps (their collectives pair up)
            workloads.Add(new Workload($"ddp/{model}/step_ddp", () => Step(ddp, ddpOpt, x, y), r => new Dictionary<string, object>
            {
                ["buckets"] = ddp.BucketCount,
                ["overlap"] = ddp.Overlaps,
                ["samples_per_s"] = Math.Round(pg.Size * batch / (r[$"ddp/{model}/step_ddp"].MedianMs / 1e3), 1),
            }));
        }
        // every rank measures (so the collectives pair up); rank 0 reports
        foreach (var w in workloads)
        {
            pg.Barrier();
            BenchRunner.RunAll([w], warmup, runs, json: true, pg.IsMain ? stdout : TextWriter.Null);
        }
        stdout.Flush();
        return 0;
    }

    private static void Step(Module model, Optimizer opt, Tensor x, Tensor y)
    {
        opt.ZeroGrad();
        var loss = Losses.CrossEntropy(model.Forward(x), y);
        loss.Backward();
        opt.Step();
    }
}
