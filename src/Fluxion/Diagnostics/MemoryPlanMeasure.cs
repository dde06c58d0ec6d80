using System.Diagnostics;

namespace Fluxion;

/// <summary>Measures a <see cref="MemoryPlan"/> with <see cref="MemoryTracker"/> (here, in Diagnostics, so the planner in
/// Functions does not depend on the layer above it).</summary>
public static class MemoryPlanMeasure
{
    /// <summary>
    /// Runs one forward pass of <paramref name="plan"/>, <paramref name="loss"/> (default: the sum of squares) and its backward pass
    /// under <see cref="MemoryTracker"/>, and reports the peak of live tensor bytes and the wall time.
    /// The parameters' gradients accumulate as in any backward pass.
    /// </summary>
    public static MemoryPlanMeasurement Measure(this MemoryPlan plan, Tensor x, Func<Tensor, Tensor>? loss = null)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(x);
        loss ??= y => y.Square().Sum();
        var sw = new Stopwatch();
        var report = MemoryTracker.Measure(() =>
        {
            sw.Start();
            loss(plan.Forward(x)).Backward();
            sw.Stop();
        });
        // the forward again, its graph kept until the measurement ends: the bytes still alive are what the backward would read
        var (graph, saved) = MemoryTracker.Measure(() => loss(plan.Forward(x)));
        GC.KeepAlive(graph);
        return new MemoryPlanMeasurement(report.PeakBytes, sw.Elapsed.TotalSeconds, saved.LiveBytesAtEnd);
    }
}
