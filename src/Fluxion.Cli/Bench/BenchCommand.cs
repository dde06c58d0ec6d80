using System.Globalization;

namespace Fluxion.Cli.Bench;

/// <summary><c>fluxion bench &lt;name|all&gt; [--json] [--runs N] [--warmup N]</c>.</summary>
public static class BenchCommand
{
    /// <summary>Benchmarks by name.</summary>
    public static readonly IReadOnlyDictionary<string, Func<IEnumerable<Workload>>> Suites = new Dictionary<string, Func<IEnumerable<Workload>>>
    {
        ["gemm"] = GemmBench.Workloads,
        ["jvp"] = JvpBench.Workloads,
        ["pcn"] = PcnBench.Workloads,
        ["pcn-large"] = PcnBench.LargeWorkloads,
        ["particles"] = ParticlesBench.Workloads,
        ["tiny"] = TinyBench.Workloads,
        ["mlp"] = TrainStepBench.Mlp,
        ["cnn"] = TrainStepBench.Cnn,
        ["mixed"] = MixedBench.Workloads,
        ["vmap"] = VmapBench.Workloads,
        ["compile"] = CompileBench.Workloads,
    };

    /// <summary>Suites too slow for <c>all</c> (minutes per run); run them by name with few runs.</summary>
    public static readonly IReadOnlySet<string> SlowSuites = new HashSet<string> { "pcn-large" };

    /// <summary>Help text.</summary>
    public static string Usage =>
        $"""
        Usage: fluxion bench <{string.Join("|", Suites.Keys)}|ddp|all> [options]

        'all' runs every suite except the slow ones ({string.Join(", ", SlowSuites)}: run those by name, e.g.
        with --runs 2 --warmup 0).

        Runs each workload of the benchmark after warm-up and reports median, min and max wall time,
        allocation and GC collections per run.

        'ddp' (not part of 'all') measures data-parallel training over MPI: it launches `mpirun -np 1` and
        `mpirun -np 2` itself (Open MPI needed; one thread per rank): allreduce bandwidth 1 KB..64 MB against
        the same MPI_Allreduce timed from C (needs mpicc), DDP's per-step overhead for the MLP and the CNN, and
        the scaling of samples/s from 1 to 2 ranks (ddp/scaling/<model>, efficiency).

        Options:
          --json         One JSON object per workload per line (name, median_ms, min_ms, max_ms, runs, ...).
          --max-bytes <n>  ddp: largest allreduce buffer in bytes (default 67108864 = 64 MB).
          --runs <n>     Measured runs per workload (default 15).
          --warmup <n>   Warm-up runs per workload (default 3; gemm also warms up for >= 0.5 s).
          -h, --help     Show this help.
        """;

    /// <summary>Runs the command; returns the exit code.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        string? name = null;
        bool json = false;
        int runs = 15, warmup = 3;
        long maxBytes = DdpBench.DefaultMaxBytes;
        bool ddpWorker = false;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "-h" or "--help":
                    stdout.WriteLine(Usage);
                    return 0;
                case "--json":
                    json = true;
                    break;
                case DdpBench.WorkerFlag:
                    ddpWorker = true;
                    break;
                case "--max-bytes":
                    if (i + 1 >= args.Length || !long.TryParse(args[i + 1], NumberStyles.Integer, CultureInfo.InvariantCulture, out maxBytes) || maxBytes < 1024)
                    {
                        stderr.WriteLine("fluxion bench: --max-bytes needs a whole number >= 1024");
                        return 2;
                    }
                    i++;
                    break;
                case "--runs" or "--warmup":
                    if (i + 1 >= args.Length || !int.TryParse(args[i + 1], NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) || n < (args[i] == "--runs" ? 1 : 0))
                    {
                        stderr.WriteLine($"fluxion bench: {args[i]} needs a whole number ({(args[i] == "--runs" ? ">= 1" : ">= 0")})");
                        return 2;
                    }
                    if (args[i] == "--runs") runs = n; else warmup = n;
                    i++;
                    break;
                default:
                    if (args[i].StartsWith('-') || name is not null)
                    {
                        stderr.WriteLine($"fluxion bench: unknown argument '{args[i]}'\n\n{Usage}");
                        return 2;
                    }
                    name = args[i];
                    break;
            }
        }
        if (name is null)
        {
            stderr.WriteLine($"fluxion bench: name a benchmark\n\n{Usage}");
            return 2;
        }
        if (name == "ddp") return DdpBench.Run(json, runs, warmup, maxBytes, ddpWorker, stdout, stderr);
        IEnumerable<Workload> workloads;
        if (name == "all") workloads = Suites.Where(s => !SlowSuites.Contains(s.Key)).SelectMany(s => s.Value());
        else if (Suites.TryGetValue(name, out var suite)) workloads = suite();
        else
        {
            stderr.WriteLine($"fluxion bench: unknown benchmark '{name}'; choose one of {string.Join(", ", Suites.Keys)} or all");
            return 2;
        }
        BenchRunner.RunAll(workloads, warmup, runs, json, stdout);
        return 0;
    }
}
