using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Perfolizer.Horology;

// BenchmarkDotNet micro-benchmarks of Fluxion's kernels (results: bench/RESULTS.md).
//   dotnet run -c Release --project bench/Fluxion.Micro                         # everything, about 3-4 minutes
//   dotnet run -c Release --project bench/Fluxion.Micro -- --filter '*Gemm*'    # BenchmarkDotNet's filters (globs on Class.Method)
//   dotnet run -c Release --project bench/Fluxion.Micro -- --list flat          # names only
// One short in-process job (1 launch, 2 warm-up and 5 measured iterations of ~200 ms; no per-benchmark
// project build), with allocations per operation. Quick JIT is off (Fluxion.Micro.csproj), so the
// measured code is fully optimized even when a loaded machine delays tier-up. Any other BenchmarkDotNet option may follow, e.g.
// --job Default for the long, more precise default job.
//   dotnet run -c Release --project bench/Fluxion.Micro -- ab lstm|decomp|spectral|prefetch|smallwork|colsouter|smallstrip|smallpath|warmcurve ...   # in-process A/B on thread CPU time (AbThreadCpu.cs)
if (args.Length > 0 && args[0] == "ab") return Fluxion.Micro.AbThreadCpu.Run(args);
var config = DefaultConfig.Instance
    .AddJob(Job.Default
        .WithToolchain(InProcessEmitToolchain.Instance)
        .WithLaunchCount(1).WithWarmupCount(2).WithIterationCount(5)
        .WithIterationTime(TimeInterval.FromMilliseconds(200))
        .WithId("Short").AsDefault())
    .AddDiagnoser(MemoryDiagnoser.Default);
if (!args.Contains("--filter") && !args.Contains("--list")) args = [.. args, "--filter", "*"];
BenchmarkSwitcher.FromAssembly(typeof(Fluxion.Micro.GemmBenchmarks).Assembly).Run(args, config);
return 0;
