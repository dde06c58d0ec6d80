using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Fluxion.Cli.Bench;

/// <summary>
/// The CPU's float32 FMA ceiling, measured: a register-only loop of 256-bit fused multiply-adds (12 independent
/// accumulators, more than FMA latency × FMA ports on current x86 cores, no memory operands) on one thread and on
/// every core (<see cref="Environment.ProcessorCount"/> threads, each running the same loop). Workloads
/// <c>fma/float32/1thread</c> and <c>fma/float32/&lt;P&gt;threads</c> report <c>gflops</c>. The VM this project is
/// measured on changes speed through the day, so GEMM efficiency is given against the ceiling measured in the same
/// process: <c>fluxion bench gemm</c> includes these workloads in its rounds and reports each product's
/// <c>ceiling_fraction</c> (see <see cref="GemmBench"/>). Without AVX2+FMA the loop uses <see cref="Vector256"/>
/// multiply and add (no ceiling of any kernel this project has).
/// </summary>
public static class FmaBench
{
    /// <summary>Loop iterations per thread and run (each iteration: 12 FMAs of 8 lanes, 192 flops).</summary>
    public const int Iterations = 4_000_000;

    /// <summary>Flops per thread and run.</summary>
    public const double FlopsPerThread = Iterations * 12.0 * 8 * 2;

    /// <summary>Name of the workload on <paramref name="threads"/> threads.</summary>
    public static string Name(int threads) => threads == 1 ? "fma/float32/1thread" : $"fma/float32/{threads}threads";

    /// <summary>Name of the all-cores workload (the ceiling <see cref="GemmBench"/> compares against).</summary>
    public static string AllCoresName => Name(Environment.ProcessorCount);

    /// <summary>The <c>fma</c> suite: one thread, and every core when there is more than one.</summary>
    public static IEnumerable<Workload> Workloads()
    {
        yield return Case(1);
        if (Environment.ProcessorCount > 1) yield return Case(Environment.ProcessorCount);
    }

    /// <summary>The loop on <paramref name="threads"/> threads, reporting <c>gflops</c> (median run) and <c>gflops_best</c>.</summary>
    public static Workload Case(int threads)
    {
        string name = Name(threads);
        double flops = FlopsPerThread * threads;
        return new Workload(name, () => Run(threads, Iterations), r => new Dictionary<string, object>
        {
            ["gflops"] = Math.Round(flops / (r[name].MedianMs * 1e-3) / 1e9, 1),
            ["gflops_best"] = Math.Round(flops / (r[name].MinMs * 1e-3) / 1e9, 1),
            ["threads"] = threads,
        }, 0.5);
    }

    /// <summary>Sink of the loops' results (so the JIT keeps them).</summary>
    public static float Sink;

    /// <summary>Runs the loop <paramref name="iterations"/> times on each of <paramref name="threads"/> threads (the calling
    /// thread and threads - 1 thread-pool threads).</summary>
    public static void Run(int threads, int iterations)
    {
        if (threads <= 1)
        {
            Sink += Loop(iterations, 1e-7f);
            return;
        }
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            float s = Loop(iterations, 1e-7f * (t + 1));
            lock (typeof(FmaBench)) Sink += s;
        });
    }

    /// <summary>The register loop: 12 accumulators, each x ← x·m + a per iteration.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Loop(int iterations, float seed)
    {
        var m = Vector256.Create(0.999999f);
        var a = Vector256.Create(seed);
        Vector256<float> x0 = a, x1 = a * 2, x2 = a * 3, x3 = a * 4, x4 = a * 5, x5 = a * 6,
                         x6 = a * 7, x7 = a * 8, x8 = a * 9, x9 = a * 10, x10 = a * 11, x11 = a * 12;
        if (Fma.IsSupported)
        {
            for (int i = 0; i < iterations; i++)
            {
                x0 = Fma.MultiplyAdd(x0, m, a); x1 = Fma.MultiplyAdd(x1, m, a);
                x2 = Fma.MultiplyAdd(x2, m, a); x3 = Fma.MultiplyAdd(x3, m, a);
                x4 = Fma.MultiplyAdd(x4, m, a); x5 = Fma.MultiplyAdd(x5, m, a);
                x6 = Fma.MultiplyAdd(x6, m, a); x7 = Fma.MultiplyAdd(x7, m, a);
                x8 = Fma.MultiplyAdd(x8, m, a); x9 = Fma.MultiplyAdd(x9, m, a);
                x10 = Fma.MultiplyAdd(x10, m, a); x11 = Fma.MultiplyAdd(x11, m, a);
            }
        }
        else
        {
            for (int i = 0; i < iterations; i++)
            {
                x0 = x0 * m + a; x1 = x1 * m + a; x2 = x2 * m + a; x3 = x3 * m + a;
                x4 = x4 * m + a; x5 = x5 * m + a; x6 = x6 * m + a; x7 = x7 * m + a;
                x8 = x8 * m + a; x9 = x9 * m + a; x10 = x10 * m + a; x11 = x11 * m + a;
            }
        }
        var s = ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7)) + ((x8 + x9) + (x10 + x11));
        return Vector256.Sum(s);
    }
}
