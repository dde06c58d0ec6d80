using Fluxion;
using Fluxion.Nn;
using Xunit;

namespace Fluxion.Tests;

/// <summary>The activation-memory budget of compiled joint graphs (issue 19 item 4): gradients bit-identical to the
/// unplanned graph (float64), the predicted peak equal to the replay's measured peak, kept bytes monotone in the budget
/// and the peak never above storing all, min-cut plans, cheap ops recomputed before GEMMs, and ReLU's backward in place.</summary>
public class ActivationBudgetTests
{
    private static Tensor R(int seed, params int[] shape) => Tensor.Randn(shape, dtype: DType.Float64, generator: new Generator(seed));

    private static Sequential Mlp() => new(new Linear(8, 32, dtype: DType.Float64, generator: new Generator(1)), new Tanh(),
        new Linear(32, 32, dtype: DType.Float64, generator: new Generator(2)), new Sigmoid(), new Linear(32, 32, dtype: DType.Float64, generator: new Generator(7)), new ReLU(),
        new Linear(32, 3, dtype: DType.Float64, generator: new Generator(3)));

    private static Sequential Cnn() => new(new Conv2d(1, 4, 3, padding: 1, dtype: DType.Float64, generator: new Generator(4)), new ReLU(), new MaxPool2d(2),
        new Conv2d(4, 6, 3, padding: 1, dtype: DType.Float64, generator: new Generator(5)), new Tanh(), new MaxPool2d(2), new Flatten(),
        new Linear(6 * 2 * 2, 5, dtype: DType.Float64, generator: new Generator(6)));

    private static CompiledFunction Step(Module model, CompileOptions? options) => Functional.Compile((Tensor[] xs) =>
    {
        var loss = Losses.CrossEntropy(model.Forward(xs[0]), xs[1]);
        loss.Backward();
        return loss;
    }, options);

    /// <summary>Runs the step at each budget (three calls: trace, check, replay) and checks gradients, peaks and monotonicity.</summary>
    private static void Sweep(Module model, Tensor x, Tensor y)
    {
        double?[] budgets = [null, 1.0, 0.5, 0.25, 0.0];
        double[][]? reference = null;
        long storeAllPeak = long.MaxValue, lastSaved = long.MaxValue;
        foreach (var b in budgets)
        {
            var step = Step(model, b is null ? null : new CompileOptions { ActivationBudget = b });
            double[][] grads = [];
            for (int call = 0; call < 3; call++)
            {
                model.ZeroGrad();
                step.Call(x, y);
                grads = [.. model.Parameters().Select(p => p.Grad!.ToDoubleArray())];
            }
            reference ??= grads;
            for (int i = 0; i < grads.Length; i++) Assert.Equal(reference[i], grads[i]);
            var g = step.LastGraph!;
            var plan = g.Activations!;
            Assert.NotNull(plan);
            Assert.DoesNotContain("not bit-identical", g.ToText());
            long measured = g.MeasurePeakBytes(x, y);
            Assert.True(g.Stats.PredictedPeakBytes == measured, $"budget {b}: predicted {g.Stats.PredictedPeakBytes} B, measured {measured} B\n{g.ToText()}");
            Assert.True(plan.SavedBytes <= lastSaved, $"budget {b}: kept {plan.SavedBytes} B after {lastSaved} B\n{plan}");
            // the planner drops plans that raise the modeled peak above storing all (a tighter budget may take a plan with more
            // recomputation and a higher peak than a looser one's, but never above storing all)
            Assert.True(measured <= storeAllPeak, $"budget {b}: peak {measured} B above store-all's {storeAllPeak} B\n{g.ToText()}");
            if (b is null) Assert.Equal(0, plan.RecomputedOps);
            if (b == 0.0) Assert.True(plan.RecomputedOps > 0 && plan.SavedBytes < plan.StoreAllBytes, plan.ToString());
            if (b is null) storeAllPeak = measured;
            lastSaved = plan.SavedBytes;
        }
    }

    [Fact]
    public void MlpBudgetSweepKeepsGradientsAndLowersThePeak()
    {
        var x = R(11, 16, 8);
        var y = Tensor.FromArray(new long[] { 0, 2, 1, 0, 2, 1, 1, 0, 0, 2, 1, 0, 2, 1, 1, 0 });
        Sweep(Mlp(), x, y);
    }

    [Fact]
    public void CnnBudgetSweepKeepsGradientsAndLowersThePeak()
    {
        var x = R(12, 3, 1, 8, 8);
        var y = Tensor.FromArray(new long[] { 4, 0, 2 });
        Sweep(Cnn(), x, y);
    }

    private static void Close(double[] expected, double[] actual) => TensorAssert.Close(expected, actual, rtol: 1e-12, atol: 1e-12, what: "gradient");

    [Fact]
    public void CheapOpsAreRecomputedBeforeGemms()
    {
        var w1 = R(1, 16, 16);
        w1.RequiresGrad = true;
        var w2 = R(2, 16, 16);
        w2.RequiresGrad = true;
        Tensor F(Tensor x)
        {
            // the backward reads a (sin's derivative), b (the second product's weight gradient) and c (the square's)
            var a = x.MatMul(w1);
            var b = a.Sin();
            var c = b.MatMul(w2);
            var loss = c.Square().Sum();
            loss.Backward();
            return loss;
        }
        var x = R(3, 8, 16);
        // one eager call first: the leaves' gradient accumulators exist, so every traced call runs the backward alike
        F(x);
        long bytes = 8 * 16 * sizeof(double);
        var eagerGrads = new List<double[]>();
        foreach (var (budget, recomputed) in new (long, string[])[] { (3 * bytes, []), (2 * bytes, ["Sin"]) })
        {
            var f = Functional.Compile(F, new CompileOptions { ActivationBudgetBytes = budget });
            w1.Grad = null;
            w2.Grad = null;
            f.Call(x);
            w1.Grad = null;
            w2.Grad = null;
            f.Call(x);
            w1.Grad = null;
            w2.Grad = null;
            f.Call(x);
            var plan = f.LastGraph!.Activations!;
            Assert.Equal(3 * bytes, plan.StoreAllBytes);
            Assert.Equal(recomputed, plan.Recomputed.ToArray());
            Assert.True(plan.FitsBudget);
            // (equal up to rounding, not bit for bit: the arena places the products' operands at other addresses, and the
            // GEMM's vectorized sums depend on alignment — the same happens without any recomputation)
            if (eagerGrads.Count == 0) eagerGrads.AddRange([w1.Grad!.ToDoubleArray(), w2.Grad!.ToDoubleArray()]);
            else
            {
                Close(eagerGrads[0], w1.Grad!.ToDoubleArray());
                Close(eagerGrads[1], w2.Grad!.ToDoubleArray());
            }
        }
        // with one value's room, a GEMM must be recomputed too; with none, everything
        var tight = Functional.Compile(F, new CompileOptions { ActivationBudgetBytes = bytes });
        tight.Call(x);
        Assert.Contains("MatMul", tight.LastGraph!.Activations!.Recomputed);
        Assert.Equal(bytes, tight.LastGraph.Activations.SavedBytes);
        Assert.Contains("activations (", tight.LastGraph.ToText());
    }

    /// <summary>Compiles the CNN step with and without memory planning and checks, over three calls, that both write
    /// bit-identical parameter gradients (float64); returns both compiled steps.</summary>
    private static (CompiledFunction Planned, CompiledFunction Unplanned) PlannedAndUnplannedAgree(Sequential cnn, Tensor x, Tensor y)
    {
        var planned = Step(cnn, null);
        var unplanned = Step(cnn, new CompileOptions { PlanMemory = false });
        for (int call = 0; call < 3; call++)
        {
            cnn.ZeroGrad();
            unplanned.Call(x, y);
            var expected = cnn.Parameters().Select(p => p.Grad!.ToDoubleArray()).ToArray();
            cnn.ZeroGrad();
            planned.Call(x, y);
            Assert.Equal(expected, cnn.Parameters().Select(p => p.Grad!.ToDoubleArray()).ToArray());
        }
        return (planned, unplanned);
    }

    [Fact]
    public void ReluBackwardRunsInPlaceAndBadBudgetsAreRejected()
    {
        var cnn = Cnn();
        var x = R(13, 3, 1, 8, 8);
        var y = Tensor.FromArray(new long[] { 1, 3, 2 });
        var (planned, unplanned) = PlannedAndUnplannedAgree(cnn, x, y);
        // the gradient out of max pooling's backward is masked in place (its memory is not needed again)
        Assert.Contains("ThresholdBackward", planned.LastGraph!.ToText().Split('\n').Single(l => l.Contains("in place over its first input")));
        Assert.DoesNotContain("in place", unplanned.LastGraph!.ToText());
        Assert.Equal(planned.LastGraph.Stats.PredictedPeakBytes, planned.LastGraph.MeasurePeakBytes(x, y));
        Assert.Throws<ArgumentException>(() => Functional.Compile((Tensor t) => t, new CompileOptions { ActivationBudget = -0.5 }));
        Assert.Throws<ArgumentException>(() => Functional.Compile((Tensor t) => t, new CompileOptions { ActivationBudgetBytes = -1 }));
    }

    /// <summary>ReLU's mask moves before max pooling's backward (it reads the pooled output, not the ReLU's): the
    /// [N, C, H, W] activation of a Conv-ReLU-MaxPool block is no saved activation of the compiled step, the gradients
    /// stay bit-identical to the unplanned graph (float64), and the compiled step keeps less than eager's backward.</summary>
    [Fact]
    public void ReluMaskMovesBeforeThePoolScatter()
    {
        var cnn = Cnn();
        var x = R(14, 3, 1, 8, 8);
        var y = Tensor.FromArray(new long[] { 0, 4, 2 });
        var (planned, unplanned) = PlannedAndUnplannedAgree(cnn, x, y);
        var lines = planned.LastGraph!.ToText().Split('\n');
        // the first block: %r = Conv2dRelu(...), %p = MaxPool2d(%r); the mask reads %p and runs before the scatter
        string Out(string line) => line.Trim().Split(' ')[0];
        var pool = lines.First(l => l.Contains("= MaxPool2d("));
        var mask = lines.Single(l => l.Contains("= ThresholdBackward(") && l.Contains($", {Out(pool)})"));
        var scatter = lines.Single(l => l.Contains($"= MaxPool2dBackward({Out(mask)})"));
        Assert.True(Array.IndexOf(lines, mask) < Array.IndexOf(lines, scatter));
        Assert.DoesNotContain(lines, l => l.Contains("= ThresholdBackward(") && l.Contains(", %4)"));
        Assert.DoesNotContain("not bit-identical", planned.LastGraph.ToText());
        // the ReLU output [3, 4, 8, 8] float64 is no longer kept for the backward; the unplanned graph keeps it
        Assert.Equal(3 * 4 * 8 * 8 * sizeof(double), unplanned.LastGraph!.Activations!.StoreAllBytes - planned.LastGraph.Activations!.StoreAllBytes);
        Assert.Equal(planned.LastGraph.Stats.PredictedPeakBytes, planned.LastGraph.MeasurePeakBytes(x, y));
    }

    /// <summary>The max-flow behind the min-cut planner on the textbook network (CLRS figure 26.1): flow 23, and the
    /// source side of the minimum cut is {s, v1, v2, v4}; infinite capacities are never cut.</summary>
    [Fact]
    public void MaxFlowFindsTheMinimumCut()
    {
        var net = new MaxFlow(6);
        foreach (var (u, v, c) in new[] { (0, 1, 16.0), (0, 2, 13), (1, 3, 12), (2, 1, 4), (2, 4, 14), (3, 2, 9), (3, 5, 20), (4, 3, 7), (4, 5, 4) })
            net.Add(u, v, c);
        var (side, value) = net.MinCut(0, 5);
        Assert.Equal(23, value, 9);
        Assert.Equal(new[] { true, true, true, false, true, false }, side);
        var inf = new MaxFlow(4);
        inf.Add(0, 1, 5);
        inf.Add(1, 2, MaxFlow.Infinite);
        inf.Add(0, 2, 1);
        inf.Add(2, 3, MaxFlow.Infinite);
        var (side2, value2) = inf.MinCut(0, 3);
        Assert.Equal(6, value2, 9);
        Assert.Equal(new[] { true, false, false, false }, side2);
    }

    /// <summary>The budget takes the plan of least modeled recomputation within it, from the min-cut plans and the greedy
    /// ones: along a sweep the kept bytes never grow and the recomputation never shrinks as the budget falls, every
    /// plan says which planner made it, and the min-cut planner proposes plans.</summary>
    [Fact]
    public void BudgetTakesTheCheapestPlanWithinIt()
    {
        var model = Mlp();
        var x = R(15, 16, 8);
        var y = Tensor.FromArray(new long[] { 0, 2, 1, 0, 2, 1, 1, 0, 0, 2, 1, 0, 2, 1, 1, 0 });
        double lastCost = -1;
        long lastSaved = long.MaxValue;
        foreach (var b in new[] { 1.0, 0.75, 0.5, 0.25, 0.0 })
        {
            var step = Step(model, new CompileOptions { ActivationBudget = b });
            step.Call(x, y);
            var plan = step.LastGraph!.Activations!;
            Assert.True(plan.MinCutPlans > 0, plan.ToString());
            Assert.Contains(plan.Method, new[] { "store all", "min-cut", "greedy" });
            Assert.True(plan.SavedBytes <= lastSaved && plan.RecomputeCost >= lastCost - 1e-12, $"budget {b}: {plan}");
            if (b == 1.0) Assert.Equal("store all", plan.Method);
            lastSaved = plan.SavedBytes;
            lastCost = plan.RecomputeCost;
        }
    }

    [Fact]
    public void MemoryPlanTakesATracedGraph()
    {
        var model = Mlp();
        var x = R(21, 16, 8);
        var y = Tensor.FromArray(new long[] { 0, 2, 1, 0, 2, 1, 1, 0, 0, 2, 1, 0, 2, 1, 1, 0 });
        Tensor[] Step(Tensor[] xs)
        {
            var loss = Losses.CrossEntropy(model.Forward(xs[0]), xs[1]);
            loss.Backward();
            return [loss];
        }
        var all = MemoryPlan.Create(Step, [x, y], long.MaxValue);
        var tight = MemoryPlan.Create(Step, [x, y], 0);
        Assert.True(all.FitsBudget);
        Assert.Equal(all.Activations.StoreAllBytes, all.Activations.SavedBytes);
        Assert.True(tight.Activations.SavedBytes < all.Activations.SavedBytes, tight.ToString());
        Assert.True(tight.PredictedPeakBytes <= all.PredictedPeakBytes, $"{tight}\n{all}");
        model.ZeroGrad();
        all.Step.Invoke(x, y);
        var expected = model.Parameters().Select(p => p.Grad!.ToDoubleArray()).ToArray();
        model.ZeroGrad();
        var m = tight.Measure(x, y);
        Assert.Equal(expected, model.Parameters().Select(p => p.Grad!.ToDoubleArray()).ToArray());
        Assert.Equal(tight.PredictedPeakBytes, m.PeakBytes);
        Assert.Equal(tight.Activations.SavedBytes, m.SavedBytes);
    }

    [Fact]
    public void MemoryPlanTimesStepsRepeatedlyAndCountsForwardModeTangents()
    {
        var model = new Sequential(new Linear(4, 8, dtype: DType.Float64, generator: new Generator(1)), new Tanh(), new Sigmoid(),
            new Linear(8, 2, dtype: DType.Float64, generator: new Generator(2)));
        var x = R(5, 3, 4);
        var plan = MemoryPlan.Create(model, x, long.MaxValue);
        Assert.NotNull(plan.StepBackwardSeconds);
        Assert.All(plan.StepForwardSeconds, t => Assert.True(t > 0));
        Assert.True(plan.PredictedSeconds >= plan.StepForwardSeconds.Sum() + plan.StepBackwardSeconds!.Sum());
        // the forward-mode candidate carries 8 directions per sample through Tanh and Sigmoid: [8, 3, 8] float64 in and out
        var fwd = plan.Candidates.Single(c => c.Segments.Any(s => s.Mode == SegmentMode.Forward));
        Assert.Equal(8L * (3 * 8 * 8 + 3 * 8 * 8), fwd.ForwardTransientBytes);
        Assert.All(plan.Candidates.Where(c => c != fwd), c => Assert.Equal(0, c.ForwardTransientBytes));
        var given = MemoryPlan.Create(model, x, 0, stepCosts: _ => 1.0);
        Assert.Null(given.StepBackwardSeconds);
    }
}
