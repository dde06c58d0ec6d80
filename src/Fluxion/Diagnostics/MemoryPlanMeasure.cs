using System.Diagnostics;

namespace Fluxion;

/// <summary>Measures a <see cref="MemoryPlan"/> with <see cref="MemoryTracker"/> (here, in Diagnostics, so the planner in
/// Functions does not depend on the layer above it).</summary>
public static class MemoryPlanMeasure
{
    /// <summary>
    /// Runs one forward pass of <paramref name="plan"/>, <paramref name="loss"/> (default: the sum of squares) and its backward
    /// pass under <see cref="MemoryTracker"/> and reports the peak of live tensor bytes; then times an untracked pass
    /// (the tracker confirms each new peak with a full collection, which would dominate the time of a tracked
    /// pass). The parameters' gradients accumulate once, as in one backward pass: the timed pass's contribution is
    /// taken back.
    /// </summary>
    public static MemoryPlanMeasurement Measure(this MemoryPlan plan, Tensor x, Func<Tensor, Tensor>? loss = null)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(x);
        loss ??= y => y.Square().Sum();
        var report = MemoryTracker.Measure(() => loss(plan.Forward(x)).Backward());
        // the forward again, its graph kept until the measurement ends: the bytes still alive are what the backward would read
        var (graph, saved) = MemoryTracker.Measure(() => loss(plan.Forward(x)));
        GC.KeepAlive(graph);
        graph = null!;
        // the timed pass, outside the tracker; the gradients it adds are restored afterwards
        var grads = plan.Model.Parameters().Select(p => (Tensor)p).Append(x).Distinct().Select(t => (Tensor: t, Grad: t.Grad?.Clone())).ToList();
        var sw = Stopwatch.StartNew();
        loss(plan.Forward(x)).Backward();
        sw.Stop();
        foreach (var (t, g) in grads) t.Grad = g;
        return new MemoryPlanMeasurement(report.PeakBytes, sw.Elapsed.TotalSeconds, saved.LiveBytesAtEnd);
    }
}
