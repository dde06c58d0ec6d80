using Fluxion.Nn;

namespace Fluxion.Tests;

/// <summary>The planner's time model calibrated to whole passes (<see cref="MemoryPlan.Calibrate"/>), with fake times: no timing.</summary>
public class MemoryPlanCalibrationTests
{
    [Fact]
    public void CalibrationScalesTheStepsToTheWholePasses()
    {
        var t = new MemoryPlan.StepTimings([1, 2, 3, 2], [2, 2, 4, 0], PassForward: 16, PassForwardBackward: 40, PassRecomputeOne: 56, PassRecomputeEach: 62);
        var (f, b, rho, o) = MemoryPlan.Calibrate(t);
        Assert.Equal(new[] { 2.0, 4, 6, 4 }, f);   // k_f = 16 / 8
        Assert.Equal(new[] { 6.0, 6, 12, 0 }, b);  // k_b = (40 − 16) / 8
        Assert.Equal(1.0, rho, 12);                // (56 − 40) / 16
        Assert.Equal(2.0, o, 12);                  // (62 − 56) / (4 − 1)
        Assert.Equal(t.PassForwardBackward, f.Sum() + b.Sum(), 12);
        // missing whole-pass measurements leave the step times as measured
        var (f0, b0, rho0, o0) = MemoryPlan.Calibrate(t with { PassForward = 0, PassForwardBackward = 0, PassRecomputeOne = 0, PassRecomputeEach = 0 });
        Assert.Equal(t.Forward, f0);
        Assert.Equal(t.Backward, b0);
        Assert.Equal(1.0, rho0);
        Assert.Equal(0.0, o0);
        // a recomputation cheaper than measured noise never counts negative
        Assert.Equal(0.0, MemoryPlan.Calibrate(t with { PassRecomputeOne = 30 }).RecomputeFactor);
    }

    /// <summary>Every layer takes 1 (forward) and 2 (backward) alone; whole passes take 3x that, recomputing adds 2.5x a forward, and
    /// each checkpointed segment beyond the first 0.5.</summary>
    private sealed class FakeTimer : MemoryPlan.IStepTimer
    {
        public MemoryPlan.StepTimings Time(Sequential model, List<(int Start, int Count, SegmentMode Kind)> steps, Func<Tensor, Tensor>[] fns, Tensor sample)
        {
            var f = steps.Select(s => (double)s.Count).ToArray();
            var b = steps.Select(s => 2.0 * s.Count).ToArray();
            double pf = 3 * f.Sum(), pfb = pf + 3 * b.Sum();
            return new MemoryPlan.StepTimings(f, b, pf, pfb, pfb + 2.5 * pf, pfb + 2.5 * pf + 0.5 * (steps.Count - 1));
        }
    }

    [Fact]
    public void PredictedTimeIsTheCalibratedPassPlusTheCalibratedRecomputation()
    {
        var gen = new Generator(5);
        var model = new Sequential(Enumerable.Range(0, 12).Select(_ => (Module)new Linear(8, 8, dtype: DType.Float64, generator: gen)).ToArray());
        var x = Tensor.Randn([4, 8], DType.Float64, new Generator(6));
        var timer = new FakeTimer();
        var storeAll = MemoryPlan.Create(model, x, long.MaxValue, null, timer);
        Assert.Equal(3 * 12 + 3 * 24, storeAll.PredictedSeconds, 9); // the measured store-all pass
        Assert.Equal(2.5, storeAll.RecomputeFactor, 12);
        Assert.Equal(0.5, storeAll.SegmentOverheadSeconds, 12);
        var tight = MemoryPlan.Create(model, x, storeAll.StoreAllPeakBytes / 3, null, timer);
        int recomputed = tight.Segments.Where(s => s.Mode == SegmentMode.Recompute).Sum(s => s.Count);
        Assert.True(recomputed > 0, tight.ToString());
        // each recomputed layer adds ρ times its calibrated forward time (3 · 1), each checkpointed segment beyond the first 0.5
        int segments = tight.Segments.Count(s => s.Mode == SegmentMode.Recompute);
        Assert.True(segments >= 1);
        double predicted = tight.PredictedSeconds - (3 * 12 + 3 * 24 + 2.5 * 3 * recomputed);
        Assert.True(predicted >= -1e-9 && predicted <= 0.5 * (recomputed - 1) + 1e-9 && Math.Abs(predicted / 0.5 - Math.Round(predicted / 0.5)) < 1e-9,
            $"{tight}: overhead part {predicted}");
        Assert.True(tight.PredictedSeconds > storeAll.PredictedSeconds);
    }

    [Fact]
    public void MeasureTimesAPlanWithTheCalibrationsHarness()
    {
        // a load-independent clock: the bytes this thread allocated so far, so a pass "takes" what it allocates; the store-all
        // plan's predicted time is its calibration pass, and Measure, timing the same passes with the same harness, agrees
        // (up to the few bytes the plan's runner allocates beyond the bare chain)
        var gen = new Generator(5);
        var model = new Sequential(Enumerable.Range(0, 6).SelectMany(_ => new Module[] { new Linear(8, 8, dtype: DType.Float64, generator: gen), new Tanh() }).ToArray());
        var x = Tensor.Randn([4, 8], DType.Float64, new Generator(6));
        MemoryPlan.Clock = () => GC.GetAllocatedBytesForCurrentThread();
        try
        {
            var plan = MemoryPlan.Create(model, x, long.MaxValue);
            Assert.All(plan.Segments, s => Assert.Equal(SegmentMode.Store, s.Mode));
            var m = plan.Measure(x);
            Assert.True(m.Seconds > 0);
            Assert.Equal(plan.CalibrationPassSeconds!.Value, plan.PredictedSeconds, 6);
            Assert.InRange(m.Seconds / plan.PredictedSeconds, 0.95, 1.05);
        }
        finally
        {
            MemoryPlan.Clock = null;
        }
    }
}
