using Fluxion.Nn;

namespace Fluxion.Tests;

public class MemoryPlanTests
{
    private static Sequential Model()
    {
        var gen = new Generator(31);
        Reversible Rev() => new(new Sequential(new Linear(2, 2, dtype: DType.Float64, generator: gen), new Tanh()),
            new Sequential(new Linear(2, 2, dtype: DType.Float64, generator: gen), new Tanh()));
        return new Sequential(new Linear(4, 4, dtype: DType.Float64, generator: gen), new Tanh(), Rev(), Rev(), Rev(), new Tanh(), new Sigmoid(),
            new Linear(4, 4, dtype: DType.Float64, generator: gen), new Tanh(), new Linear(4, 4, dtype: DType.Float64, generator: gen));
    }

    private static double[][] Gradients(Module model, Tensor x0, Func<Tensor, Tensor> forward)
    {
        foreach (var p in model.Parameters()) p.Grad = null;
        var x = x0.Clone().RequiresGrad_();
        forward(x).Square().Sum().Backward();
        return new[] { x.Grad!.ToDoubleArray() }.Concat(model.Parameters().Select(p => p.Grad!.ToDoubleArray())).ToArray();
    }

    [Fact]
    public void EveryPlanGivesTheGradientsOfStoringEverything()
    {
        var model = Model();
        var x0 = Tensor.Randn([3, 4], DType.Float64, new Generator(32));
        var want = Gradients(model, x0, model.Forward);
        var modes = new HashSet<SegmentMode>();
        foreach (long budget in new long[] { 0, 600, 1500, long.MaxValue })
        {
            var plan = MemoryPlan.Create(model, x0, budget, stepCosts: _ => 1.0);
            Assert.Contains(plan, plan.Candidates);
            if (plan.FitsBudget) Assert.True(plan.PredictedPeakBytes <= budget, plan.ToString());
            foreach (var p in plan.Candidates)
            {
                var got = Gradients(model, x0, p.Forward);
                for (int k = 0; k < want.Length; k++) TensorAssert.Close(want[k], got[k], 1e-10, 1e-12, $"{p}: gradient {k}");
                foreach (var s in p.Segments) modes.Add(s.Mode);
                Assert.Equal(model.Layers.Count, p.Segments.Sum(s => s.Count));
            }
        }
        Assert.Equal(Enum.GetValues<SegmentMode>().Length, modes.Count); // store, recompute, invert and forward all ran
    }

    [Fact]
    public void ATighterBudgetNeverPredictsAHigherPeak()
    {
        var model = Model();
        var x0 = Tensor.Randn([3, 4], DType.Float64, new Generator(33));
        var all = MemoryPlan.Create(model, x0, long.MaxValue, stepCosts: _ => 1.0);
        var tight = MemoryPlan.Create(model, x0, 0, stepCosts: _ => 1.0);
        // unlimited: nothing is recomputed (with equal unit costs, a forward-mode or inverted run costs no
        // predicted time beyond storing and may be kept for its smaller peak)
        Assert.DoesNotContain(all.Segments, s => s.Mode == SegmentMode.Recompute);
        Assert.True(all.PredictedPeakBytes <= all.StoreAllPeakBytes, all.ToString());
        var storeOnly = all.Candidates.Single(c => c.Segments.All(s => s.Mode == SegmentMode.Store));
        Assert.Equal(storeOnly.StoreAllPeakBytes, storeOnly.PredictedPeakBytes);
        Assert.True(tight.PredictedPeakBytes < all.PredictedPeakBytes, $"{tight}\n{all}");
        Assert.True(tight.PredictedSeconds > all.PredictedSeconds, $"{tight}\n{all}");
        var m = tight.Measure(x0.Clone().RequiresGrad_());
        Assert.True(m.PeakBytes > 0 && m.Seconds > 0);
        // what the plan controls, measured: the tighter plan leaves fewer bytes alive for the backward
        var mAll = all.Measure(x0.Clone().RequiresGrad_());
        Assert.True(m.SavedBytes > 0 && m.SavedBytes < mAll.SavedBytes, $"saved {m.SavedBytes} B (tight) vs {mAll.SavedBytes} B (store all)");
    }

    [Fact]
    public void ComplexityBudgetPrintsTheParetoTableAndWritesAnSvg()
    {
        var svg = Path.Combine(Path.GetTempPath(), $"fluxion-memplan-{Guid.NewGuid():N}.svg");
        var (o, e) = (new StringWriter(), new StringWriter());
        try
        {
            Assert.Equal(0, Fluxion.Cli.Program.Run(["complexity", "--budget", "100%", "--small", "--runs", "1", "--plot", svg], o, e));
            var text = o.ToString();
            Assert.Contains("meas peak B", text);
            Assert.Contains("*", text); // at least one Pareto-optimal row
            Assert.StartsWith("<svg", File.ReadAllText(svg));
        }
        finally
        {
            File.Delete(svg);
        }
        Assert.Equal(2, Fluxion.Cli.Program.Run(["complexity", "--budget", "lots"], new StringWriter(), e));
        Assert.Contains("--budget takes a byte count or a percentage", e.ToString());
    }
}
