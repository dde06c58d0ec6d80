using System.Diagnostics;
using Fluxion.Kernels;

namespace Fluxion;

/// <summary>Where the time of the matrix products run inside <see cref="GemmProfile.Measure"/> went.</summary>
/// <param name="Products">Matrix products (GEMM calls) timed.</param>
/// <param name="MultiplyAdds">Their multiply-adds (m·n·k summed).</param>
/// <param name="WallSeconds">Wall time inside the products.</param>
/// <param name="ThreadSeconds">Wall time times the threads each product used: the thread time they had.</param>
/// <param name="PackBSeconds">Thread time spent packing B into micro-panels.</param>
/// <param name="PackASeconds">Thread time spent packing A into micro-panels.</param>
/// <param name="KernelSeconds">Thread time spent in the register-tiled micro-kernels (the unpacked path's whole compute).</param>
public sealed record GemmBreakdown(long Products, long MultiplyAdds, double WallSeconds, double ThreadSeconds,
                                   double PackBSeconds, double PackASeconds, double KernelSeconds)
{
    /// <summary>Thread time spent neither packing nor computing: starting and joining parallel regions, threads
    /// waiting for the last work item (imbalance), buffer rental, edge tiles' copies.</summary>
    public double OtherSeconds => Math.Max(0, ThreadSeconds - PackBSeconds - PackASeconds - KernelSeconds);

    /// <summary>Throughput of the whole products in GFLOP/s (2 flops per multiply-add).</summary>
    public double GFlops => WallSeconds > 0 ? 2.0 * MultiplyAdds / WallSeconds / 1e9 : 0;

    /// <summary>Throughput of the micro-kernels alone, per thread, in GFLOP/s (compare with one core's FMA ceiling).</summary>
    public double KernelGFlopsPerThread => KernelSeconds > 0 ? 2.0 * MultiplyAdds / KernelSeconds / 1e9 : 0;

    /// <summary>A one-line summary with the fractions of the thread time.</summary>
    public override string ToString() =>
        $"{Products} products, {GFlops:F1} GFLOP/s; thread time: pack B {Frac(PackBSeconds):P1}, pack A {Frac(PackASeconds):P1}, " +
        $"kernel {Frac(KernelSeconds):P1} ({KernelGFlopsPerThread:F1} GFLOP/s per thread), other {Frac(OtherSeconds):P1}";

    /// <summary><paramref name="seconds"/> as a fraction of <see cref="ThreadSeconds"/>.</summary>
    public double Frac(double seconds) => ThreadSeconds > 0 ? seconds / ThreadSeconds : 0;
}

/// <summary>
/// Opt-in time accounting of the matrix-product kernel: how much of a product's thread time goes to packing,
/// to the micro-kernels and to the rest (thread start/join, imbalance). For benchmarks: run one product at a
/// time inside <see cref="Measure"/> (products running concurrently from several caller threads are summed
/// into one account and their thread counts mixed). Off by default; when off it costs one static read per product.
/// </summary>
public static class GemmProfile
{
    private static readonly object Gate = new();

    /// <summary>Runs <paramref name="action"/> with the GEMM timed and returns the breakdown of the products it ran.</summary>
    public static GemmBreakdown Measure(Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        lock (Gate)
        {
            Gemm.Profile.Reset();
            Gemm.Profile.Enabled = true;
            try { action(); }
            finally { Gemm.Profile.Enabled = false; }
            double f = Stopwatch.Frequency;
            return new GemmBreakdown(Gemm.Profile.Calls, Gemm.Profile.MultiplyAdds, Gemm.Profile.WallTicks / f, Gemm.Profile.ThreadTicks / f,
                                     Gemm.Profile.PackBTicks / f, Gemm.Profile.PackATicks / f, Gemm.Profile.KernelTicks / f);
        }
    }
}
