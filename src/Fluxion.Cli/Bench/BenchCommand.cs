using System.Globalization;

namespace Fluxion.Cli.Bench;

/// <summary><c>fluxion bench &lt;name|all&gt; [--json] [--runs N] [--warmup N] [--warmup-s S] [--no-rss] [--breakdown]</c>.</summary>
public static class BenchCommand
{
    /// <summary>Benchmarks by name.</summary>
    public static readonly IReadOnlyDictionary<string, Func<IEnumerable<Workload>>> Suites = new Dictionary<string, Func<IEnumerable<Workload>>>
    {
        ["gemm"] = GemmBench.Workloads,
        ["fma"] = FmaBench.Workloads,
        ["jvp"] = JvpBench.Workloads,
        ["pcn"] = PcnBench.Workloads,
        ["pcn-large"] = PcnBench.LargeWorkloads,
        ["particles"] = ParticlesBench.Workloads,
        ["tiny"] = TinyBench.Workloads,
        ["mlp"] = TrainStepBench.Mlp,
        ["cnn"] = TrainStepBench.Cnn,
        ["lstm"] = LstmBench.Workloads,
        ["mixed"] = MixedBench.Workloads,
        ["vmap"] = VmapBench.Workloads,
        ["memplan"] = MemplanBench.Workloads,
        ["memplan-tiny"] = MemplanBench.TinyWorkloads,
        ["compile"] = CompileBench.Workloads,
        ["ops"] = OpsBench.Workloads,
    };

    /// <summary>Suites too slow for <c>all</c> (minutes per run); run them by name with few runs.</summary>
    public static readonly IReadOnlySet<string> SlowSuites = new HashSet<string> { "pcn-large", "memplan", "ops" };

    /// <summary>Help text.</summary>
    public static string Usage =>
        $"""
        Usage: fluxion bench <{string.Join("|", Suites.Keys)}|ddp|all> [options]

        'all' runs every suite except the slow ones ({string.Join(", ", SlowSuites)}: run those by name, e.g.
        with --runs 2 --warmup 0).

        Runs the workloads of each suite in interleaved rounds (each round runs every workload once) after
        warm-up rounds (at least --warmup rounds and --warmup-s seconds, and with --warmup-s > 0 until the JIT has
        compiled nothing for 1 s, at most 10 s longer: warmup_s and jit_methods_during_runs in the output), and reports per workload the median,
        min and max wall time, allocation and GC collections per run, and two memory figures: the peak of live
        tensor storage during one extra run (peak_bytes) and the peak RSS growth of one run in a fresh child
        process (rss_peak_bytes: VmHWM after resetting it through /proc/self/clear_refs minus VmRSS before; the
        method of bench/torch and bench/torchsharp, so all three sides compare alike).

        'ddp' (not part of 'all') measures data-parallel training over MPI: it launches `mpirun -np 1` and
        `mpirun -np 2` itself (Open MPI needed; one thread per rank): allreduce bandwidth 1 KB..64 MB against
        the same MPI_Allreduce timed from C (needs mpicc), DDP's per-step overhead for the MLP and the CNN, and
        the scaling of samples/s from 1 to 2 ranks (ddp/scaling/<model>, efficiency).

        'fma' measures the CPU's float32 FMA ceiling (a register-only loop of 256-bit FMAs) on 1 thread and on every
        core; 'gemm' runs the same loops in its rounds and reports each product's ceiling_fraction against them.

        'ops' (slow: about 320 ops x 2 sizes x fwd and fwd+bwd, about 1,200 workloads; not in 'all') sweeps every op
        of the registry (`fluxion ops`) that has a PyTorch name: workloads ops/<pytorch_name>/<size>/fwd and .../fwdbwd
        (forward, and forward plus backward against a ones gradient where differentiable), float32. Inputs are scaled
        from the op's registry sample so the largest tensor has about size x size elements (every dim >= 2 of the
        sample mapped to size^(2/r); NN ops scale the batch dim only; values drawn from the sample's own by an integer
        hash, so other frameworks build identical inputs). A sweep this size cannot warm every case up for 3 s, so its
        design is: one global JIT warm-up of 3 s (--warmup-s) running every case at size 32 in turn, then per case
        0.05 s of warm-up (at least one run) and up to --runs runs (default 15) within 0.15 s (at least 3), the two
        modes of an op measured back to back; peak_bytes per case, no rss_peak_bytes; abs_sum (sum of |y|) on the
        fwd lines. Ops that cannot run scaled are listed as skipped, with the reason (stderr; with --json also as JSON
        lines with the fields name and skipped). --spec prints the cases with each one's PyTorch call (the table
        src/Fluxion.Cli/Bench/ops-torch-calls.txt), which bench/torch/ops.py and bench/torchsharp interpret:
        `bash bench/compare.sh ops` runs the three sides from that one spec.

        Options:
          --list         Print the suite names (those of 'all'), one per line.
          --table <file> Print bench/compare.sh's table from its JSON lines (each tagged with "side" and "round").
          --json         One JSON object per workload per line (name, median_ms, min_ms, max_ms, runs, ...).
          --filter <s>   ops: only ops whose Fluxion or PyTorch name contains s (case-insensitive; a,b for several; =s for the exact name s).
                         memplan: only the workloads whose name contains s (same syntax), each with its group's baseline
                         (e.g. --filter loop_binomial runs loop_sqrt and loop_binomial; groups: deep_mlp, reversible, loop).
          --no-scope     ops: run each repetition without a TensorScope (by default each runs inside Tensor.NewScope(), as the
                         LibTorch side runs each inside torch.NewDisposeScope(): its outputs and gradients go back to the
                         storage pool at the end of the run; without, the GC reclaims them). Each line's "scoped" field says which.
          --steps <n>    memplan: the particle loop's steps (default 1000; memplan-tiny: 40).
          --size <n>     ops: only this size (1024 or 32, or any n >= 2; default both).
          --spec         ops: print the cases as JSON lines instead of timing them: names, shapes, value pools, the
                         PyTorch call and Fluxion's abs_sum (the input of bench/torch/ops.py and bench/torchsharp).
          --max-bytes <n>  ddp: largest allreduce buffer in bytes (default 67108864 = 64 MB).
          --breakdown    gemm: where each product's thread time goes (packing B, packing A, micro-kernels, other:
                         region start/join and imbalance) for float32 a @ b at 128..2048 and a @ b.T at 1024, and the
                         micro-kernels' GFLOP/s per thread. mlp, cnn: the training step's time per component
                         (forward and backward GEMMs/convolutions, the rest of forward/backward, loss, optimizer step).
                         --runs sets the timed runs.
          --no-rss       Skip the child processes of rss_peak_bytes.
          --runs <n>     Measured rounds (default 15).
          --warmup <n>   Minimum warm-up rounds (default 3; memplan: 1).
          --warmup-s <s> Minimum warm-up seconds per suite (default 3; memplan: 0).
          -h, --help     Show this help.
        """;

    /// <summary>Runs the command; returns the exit code.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        string? name = null;
        bool json = false;
        int runs = 15, warmup = 3;
        double warmupS = BenchOptions.DefaultWarmupSeconds;
        bool rss = true;
        string? rssChild = null;
        long maxBytes = DdpBench.DefaultMaxBytes;
        bool ddpWorker = false, spec = false, breakdown = false;
        OpsBench.Filter = null;
        OpsBench.Scoped = true;
        MemplanBench.Filter = null;
        MemplanBench.LoopSteps = null;
        BenchRunner.ChildArgs = [];
        bool warmupGiven = false, warmupSGiven = false;
        OpsBench.Sizes = OpsBench.DefaultSizes;
        OpsBench.Skipped = stderr;
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
                case "--no-rss":
                    rss = false;
                    break;
                case BenchRunner.RssChildFlag:
                    if (i + 1 >= args.Length)
                    {
                        stderr.WriteLine($"fluxion bench: {BenchRunner.RssChildFlag} needs a workload name");
                        return 2;
                    }
                    rssChild = args[++i];
                    break;
                case "--warmup-s":
                    if (i + 1 >= args.Length || !double.TryParse(args[i + 1], NumberStyles.Float, CultureInfo.InvariantCulture, out warmupS) || !(warmupS >= 0))
                    {
                        stderr.WriteLine("fluxion bench: --warmup-s needs a number of seconds >= 0");
                        return 2;
                    }
                    warmupSGiven = true;
                    i++;
                    break;
                case "--spec":
                    spec = true;
                    break;
                case "--no-scope":
                    OpsBench.Scoped = false;
                    break;
                case "--breakdown":
                    breakdown = true;
                    break;
                case "--filter":
                    if (i + 1 >= args.Length)
                    {
                        stderr.WriteLine("fluxion bench: --filter needs a substring of an op name");
                        return 2;
                    }
                    OpsBench.Filter = MemplanBench.Filter = args[++i];
                    break;
                case "--size":
                    if (i + 1 >= args.Length || !int.TryParse(args[i + 1], NumberStyles.Integer, CultureInfo.InvariantCulture, out int size) || size < 2)
                    {
                        stderr.WriteLine("fluxion bench: --size needs a whole number >= 2 (e.g. 1024 or 32)");
                        return 2;
                    }
                    OpsBench.Sizes = [size];
                    i++;
                    break;
                case "--steps":
                    if (i + 1 >= args.Length || !int.TryParse(args[i + 1], NumberStyles.Integer, CultureInfo.InvariantCulture, out int loopSteps) || loopSteps < 2)
                    {
                        stderr.WriteLine("fluxion bench: --steps needs a whole number >= 2 (the particle loop's steps in memplan)");
                        return 2;
                    }
                    MemplanBench.LoopSteps = loopSteps;
                    BenchRunner.ChildArgs = ["--steps", args[i + 1]];
                    i++;
                    break;
                case "--list":
                    foreach (var k in Suites.Keys.Where(k => !SlowSuites.Contains(k))) stdout.WriteLine(k);
                    return 0;
                case "--table":
                    if (i + 1 >= args.Length || !File.Exists(args[i + 1]))
                    {
                        stderr.WriteLine("fluxion bench: --table needs a file of JSON lines (bench/compare.sh writes it)");
                        return 2;
                    }
                    stdout.Write(CompareTable.Format(File.ReadLines(args[i + 1])));
                    return 0;
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
                    if (args[i] == "--runs") runs = n; else (warmup, warmupGiven) = (n, true);
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
        if (spec)
        {
            if (name != "ops")
            {
                stderr.WriteLine("fluxion bench: --spec applies to the 'ops' suite only");
                return 2;
            }
            OpsBench.WriteSpec(stdout);
            return 0;
        }
        if (breakdown)
        {
            if (name == "gemm") GemmBench.Breakdown(stdout, json, runs);
            else if (name is "mlp" or "cnn") TrainStepBench.Breakdown(name, stdout, json, runs);
            else
            {
                stderr.WriteLine("fluxion bench: --breakdown applies to gemm, mlp and cnn");
                return 2;
            }
            return 0;
        }
        if (name == "ddp") return DdpBench.Run(json, runs, warmup, maxBytes, ddpWorker, stdout, stderr);
        string[] names;
        if (name == "all") names = [.. Suites.Keys.Where(k => !SlowSuites.Contains(k))];
        else if (Suites.ContainsKey(name)) names = [name];
        else
        {
            stderr.WriteLine($"fluxion bench: unknown benchmark '{name}'; choose one of {string.Join(", ", Suites.Keys)} or all");
            return 2;
        }
        if (name is "memplan" or "memplan-tiny")
        {
            // workloads of seconds each whose figures (evaluation counts, peaks) do not need many rounds: one warm-up round
            // (it JIT-compiles every path) unless asked otherwise
            if (!warmupGiven) warmup = 1;
            if (!warmupSGiven) warmupS = 0;
        }
        if (rssChild is not null)
        {
            MemplanBench.Filter = "=" + rssChild; // build only the child's workload group
            return BenchRunner.RssChild(Suites[names[0]](), rssChild, stdout, stderr);
        }
        var options = new BenchOptions { Runs = runs, Warmup = warmup, WarmupSeconds = warmupS, Rss = rss, Json = json };
        foreach (var suite in names)
        {
            if (suite == "ops") OpsBench.Run(options, stdout);
            else BenchRunner.RunSuite(suite, [.. Suites[suite]()], options, stdout);
        }
        return 0;
    }
}
