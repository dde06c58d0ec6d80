namespace Fluxion;

/// <summary>Measures a <see cref="MemoryPlan"/> with <see cref="MemoryTracker"/> (here, in Diagnostics, so the planner in
/// Functions does not depend on the layer above it).</summary>
public static class MemoryPlanMeasure
{
    /// <summary>
    /// Runs one forward pass of <paramref name="plan"/>, <paramref name="loss"/> (default: the sum of squares) and its backward
    /// pass under <see cref="MemoryTracker"/> and reports the peak of live tensor bytes; then times untracked passes with the
    /// harness the planner's calibration uses (<c>MemoryPlan.TimePass</c>: one untimed pass, then the median of
    /// <see cref="MemoryPlan.TimingRuns"/> passes whose gradients go to no <c>.Grad</c>), so that the predicted and the
    /// measured time are timed alike. (The tracker confirms each new peak with a full collection, which would dominate
    /// the time of a tracked pass; and the first pass after those collections finds the storage pool empty: timed alone,
    /// as before, it measured 2x a warm pass.) The parameters' gradients accumulate once, as in one backward pass.
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
        // the timed passes, outside the tracker, with the calibration's harness
        var ps = plan.Model.Parameters().Select(p => (Tensor)p).Where(p => p.RequiresGrad).ToList();
        double seconds = MemoryPlan.TimePass(plan.Forward, x, ps, loss);
        return new MemoryPlanMeasurement(report.PeakBytes, seconds, saved.LiveBytesAtEnd);
    }
}
