namespace Fluxion.Tests;

public class CheckpointTests
{
    /// <summary>A chain of tanh layers h → tanh(h W_i + b_i) with float64 parameters.</summary>
    private sealed class TanhChain
    {
        public readonly Tensor[] W, B;
        public readonly List<Func<Tensor, Tensor>> Steps = new();

        public TanhChain(int n, int width, int seed)
        {
            var gen = new Generator(seed);
            W = new Tensor[n];
            B = new Tensor[n];
            for (int i = 0; i < n; i++)
            {
                using (Autograd.NoGrad())
                {
                    W[i] = Tensor.Randn([width, width], DType.Float64, gen) * (1.2 / Math.Sqrt(width));
                    B[i] = Tensor.Randn([width], DType.Float64, gen) * 0.1;
                }
                W[i].RequiresGrad = true;
                B[i].RequiresGrad = true;
                var (w, b) = (W[i], B[i]);
                Steps.Add(h => (h.MatMul(w) + b).Tanh());
            }
        }

        public IEnumerable<Tensor> Parameters => W.Concat(B);

        /// <summary>Runs <paramref name="forward"/> on a fresh copy of x, backpropagates sum(y²) and returns all gradients (x first).</summary>
        public double[][] Gradients(Tensor x0, Func<Tensor, Tensor> forward)
        {
            foreach (var p in Parameters) p.Grad = null;
            var x = x0.Clone().RequiresGrad_();
            forward(x).Square().Sum().Backward();
            return new[] { x }.Concat(Parameters).Select(p => p.Grad!.ToArray<double>()).ToArray();
        }
    }

    private static void AssertSameGradients(double[][] want, double[][] got, double tol = 1e-12)
    {
        Assert.Equal(want.Length, got.Length);
        for (int k = 0; k < want.Length; k++)
            for (int i = 0; i < want[k].Length; i++)
                Assert.True(Math.Abs(want[k][i] - got[k][i]) <= tol, $"gradient {k}[{i}]: {want[k][i]} vs {got[k][i]}");
    }

    private static Tensor Input(int seed, int batch = 4, int width = 8) => Tensor.Randn([batch, width], DType.Float64, new Generator(seed));

    private static Tensor Plain(IReadOnlyList<Func<Tensor, Tensor>> steps, Tensor x)
    {
        foreach (var s in steps) x = s(x);
        return x;
    }

    [Fact]
    public void CheckpointedChainGivesTheSameGradients()
    {
        var chain = new TanhChain(16, 8, seed: 1);
        var x = Input(2);
        var want = chain.Gradients(x, h => Plain(chain.Steps, h));
        AssertSameGradients(want, chain.Gradients(x, h => Checkpoint.Sequential(chain.Steps, h)));
        AssertSameGradients(want, chain.Gradients(x, h => Checkpoint.Sequential(chain.Steps, h, segments: 3)));
        AssertSameGradients(want, chain.Gradients(x, h => Checkpoint.Sequential(chain.Steps, h, segments: 16)));
        AssertSameGradients(want, chain.Gradients(x, h =>
        {
            foreach (var s in chain.Steps) h = Checkpoint.Run(s, h);
            return h;
        }));
    }

    [Fact]
    public void CheckpointingKeepsFewerSavedTensorsAlive()
    {
        var chain = new TanhChain(16, 8, seed: 3);
        var x = Input(4).RequiresGrad_();
        var plain = GraphMemory.Measure(Plain(chain.Steps, x));
        var seq = GraphMemory.Measure(Checkpoint.Sequential(chain.Steps, x)); // 4 segments, last one plain
        Tensor h = x;
        foreach (var s in chain.Steps) h = Checkpoint.Run(s, h);
        var each = GraphMemory.Measure(h);

        long act = 4 * 8 * sizeof(double); // one [4, 8] float64 activation
        // plain: each step keeps its Tanh output, which the next MatMul saves too (x is a parameter-like leaf)
        Assert.Equal(16 * act, plain.ActivationBytes);
        // 4 segments: inputs of the 2 later checkpointed segments (x excluded), the last segment's input and its 4 outputs
        Assert.Equal((2 + 5) * act, seq.ActivationBytes);
        // each step checkpointed: the 15 intermediate inputs, no gain over plain for a chain whose steps only save their outputs
        Assert.Equal(15 * act, each.ActivationBytes);
        Assert.True(seq.SavedTensors < plain.SavedTensors, $"{seq.SavedTensors} vs {plain.SavedTensors}");
        Assert.True(seq.SavedBytes < plain.SavedBytes);
        Assert.True(seq.Nodes < plain.Nodes);
    }

    [Fact]
    public void RandomOpsAreReplayedIdentically()
    {
        var x = Tensor.FromArray(new[] { 1.0, 2.0, 3.0, 4.0, 5.0 }).RequiresGrad_();
        Generator.ManualSeed(42);
        var y = Checkpoint.Run(h => h * Tensor.Rand([5], DType.Float64), x);
        var afterForward = Tensor.Rand([3], DType.Float64).ToArray<double>();
        y.Sum().Backward();
        // d(sum(x * r))/dx = r, the very numbers drawn in the forward pass
        var r = (y.Detach() / x.Detach()).ToArray<double>();
        var g = x.Grad!.ToArray<double>();
        for (int i = 0; i < 5; i++) Assert.Equal(r[i], g[i], 14);
        // the recomputation did not disturb the generator's stream
        var next = Tensor.Rand([3], DType.Float64).ToArray<double>();
        Generator.ManualSeed(42);
        Tensor.Rand([5], DType.Float64);
        Assert.Equal(Tensor.Rand([3], DType.Float64).ToArray<double>(), afterForward);
        Assert.Equal(Tensor.Rand([3], DType.Float64).ToArray<double>(), next);
    }

    [Fact]
    public void SecondOrderThroughCheckpoint()
    {
        var gen = new Generator(5);
        var x = Tensor.Randn([2, 3], DType.Float64, gen);
        var w = Tensor.Randn([3, 3], DType.Float64, gen);
        // explicit inputs
        GradCheck.Assert(xs => Checkpoint.Run(ys => [(ys[0].MatMul(ys[1]).Tanh() * ys[0]).Sum(1)], xs[0], xs[1])[0], [x, w]);
        // w captured by the closure rather than passed: its first and second derivatives still flow
        GradCheck.Assert(xs => Checkpoint.Run(h => h.MatMul(xs[1]).Sin().MatMul(xs[1]), xs[0]), [x, w]);
        // a checkpointed sequence
        GradCheck.Assert(xs => Checkpoint.Sequential(
            [h => h.MatMul(xs[1]).Tanh(), h => h * xs[0], h => (h + 1.0).Log(), h => h.Square()], xs[0], segments: 2),
            [x.Abs(), w]);
        // function transforms (forward mode falls back to running the function plainly)
        Func<Tensor, Tensor> f = v => (v.Sin() * v).Sum();
        var v0 = Tensor.FromArray(new[] { 0.2, -0.7, 1.3 });
        var hPlain = Functional.Hessian(f, v0).ToArray<double>();
        var hCkpt = Functional.Hessian(v => Checkpoint.Run(u => f(u), v), v0).ToArray<double>();
        AssertSameGradients([hPlain], [hCkpt], 1e-14);
        var jPlain = Functional.JacFwd(v => v.Exp() * v, v0).ToArray<double>();
        var jCkpt = Functional.JacFwd(v => Checkpoint.Run(u => u.Exp() * u, v), v0).ToArray<double>();
        AssertSameGradients([jPlain], [jCkpt], 1e-14);
    }

    [Fact]
    public void CapturedTensorsGetGradientsWithoutTouchingTheOuterGraphTwice()
    {
        var x0 = Tensor.FromArray(new[] { 0.3, -0.6, 1.1 });
        var z0 = Tensor.FromArray(new[] { 1.0, 2.0, -1.0 });
        double[][] Grads(bool checkpoint)
        {
            var x = x0.Clone().RequiresGrad_();
            var z = z0.Clone().RequiresGrad_();
            var h0 = x * 2.0; // a non-leaf of the outer graph, captured together with x itself
            Func<Tensor, Tensor> fn = u => u * h0 + x.Sin() * u;
            var y = checkpoint ? Checkpoint.Run(fn, z * 1.0) : fn(z * 1.0);
            (y.Square().Sum() + h0.Sum()).Backward();
            return [x.Grad!.ToArray<double>(), z.Grad!.ToArray<double>()];
        }
        AssertSameGradients(Grads(false), Grads(true), 1e-14);

        // Autograd.Grad with respect to a captured parameter returns it and leaves .Grad alone
        var chain = new TanhChain(3, 4, seed: 6);
        var xin = Input(7, 2, 4);
        var want = Autograd.Grad(Plain(chain.Steps, xin).Sum(), chain.W[1]);
        var got = Autograd.Grad(Checkpoint.Sequential(chain.Steps, xin, segments: 3).Sum(), chain.W[1]);
        AssertSameGradients([want.ToArray<double>()], [got.ToArray<double>()], 1e-14);
        Assert.Null(chain.W[1].Grad);
        Assert.Null(chain.W[0].Grad);
    }

    [Fact]
    public void DuplicateInputsAndOutputsThatAreInputs()
    {
        var x = Tensor.FromArray(new[] { 1.5, -2.0 }).RequiresGrad_();
        var y = Checkpoint.Run(ys => [ys[0] * ys[1], ys[0]], x, x);
        (y[0].Sum() + 3.0 * y[1].Sum()).Backward();
        Assert.Equal(new[] { 2 * 1.5 + 3, 2 * -2.0 + 3 }, x.Grad!.ToArray<double>());
    }

    [Fact]
    public void NestedCheckpointsAndCustomFunctions()
    {
        var chain = new TanhChain(6, 5, seed: 8);
        var x = Input(9, 3, 5);
        var want = chain.Gradients(x, h => new MySoftplus().ApplySingle(Plain(chain.Steps, h)));
        var got = chain.Gradients(x, h => Checkpoint.Run(u =>
        {
            u = Checkpoint.Sequential(chain.Steps.Take(3).ToList(), u, segments: 3);
            u = Checkpoint.Run(v => Plain(chain.Steps.Skip(3).ToList(), v), u);
            return new MySoftplus().ApplySingle(u);
        }, h));
        AssertSameGradients(want, got);
    }

    [Fact]
    public void InPlaceChangeOfCheckpointInputIsDetected()
    {
        var x = Tensor.FromArray(new[] { 0.5, 1.0 }).RequiresGrad_();
        var h = x * 1.0;
        var y = Checkpoint.Run(u => u.Exp(), h);
        h.AddInPlace(1.0);
        var ex = Assert.Throws<InPlaceModificationException>(() => y.Sum().Backward());
        Assert.Contains("Checkpoint", ex.Message);
    }

    [Fact]
    public void WithoutGradOrWithTangentsTheFunctionJustRuns()
    {
        var x = Tensor.FromArray(new[] { 0.5, 1.0 }).RequiresGrad_();
        using (Autograd.NoGrad()) Assert.False(Checkpoint.Run(u => u.Exp(), x).RequiresGrad);
        var (y, t) = Functional.Jvp(u => Checkpoint.Run(v => v.Exp(), u), x.Detach(), Tensor.FromArray(new[] { 1.0, 2.0 }));
        Assert.Equal(x.Detach().Exp().ToArray<double>(), y.ToArray<double>());
        Assert.Equal((x.Detach().Exp() * Tensor.FromArray(new[] { 1.0, 2.0 })).ToArray<double>(), t.ToArray<double>());
        // nothing requires grad: plain outputs
        Assert.False(Checkpoint.Run(u => u.Exp(), x.Detach()).RequiresGrad);
    }

    // ---- planning ----

    /// <summary>All plans (segmentations × checkpoint flags) of n steps.</summary>
    private static IEnumerable<List<CheckpointSegment>> AllPlans(int n, int start = 0)
    {
        if (start == n)
        {
            yield return new List<CheckpointSegment>();
            yield break;
        }
        for (int count = 1; start + count <= n; count++)
            foreach (bool ck in new[] { false, true })
                foreach (var rest in AllPlans(n, start + count))
                {
                    rest.Insert(0, new CheckpointSegment(start, count, ck));
                    yield return rest;
                }
    }

    private static double Cost(IEnumerable<CheckpointSegment> plan, IReadOnlyList<double> c) =>
        plan.Where(s => s.Checkpointed).Sum(s => Enumerable.Range(s.Start, s.Count).Sum(i => c[i]));

    private static readonly double[] Costs = [3, 1, 4, 1, 5, 9, 2, 6];

    [Fact]
    public void PlanWithHugeBudgetCheckpointsNothing()
    {
        var chain = new TanhChain(8, 8, seed: 10);
        var x = Input(11);
        var plan = Checkpoint.Plan(chain.Steps, x, long.MaxValue, Costs);
        long act = 4 * 8 * sizeof(double);
        Assert.True(plan.FitsBudget);
        Assert.Equal([new CheckpointSegment(0, 8, false)], plan.Segments);
        Assert.Equal(0, plan.RecomputeCost);
        Assert.Equal(plan.NoCheckpointPeakBytes, plan.ExpectedPeakBytes);
        // the measurements: MatMul saves the step's input, Tanh its output, nothing else (parameters excluded)
        Assert.All(plan.OutputBytes, o => Assert.Equal(act, o));
        Assert.All(plan.StepInnerBytes, e => Assert.Equal(0, e));
        Assert.All(plan.StepSavesInput, Assert.True);
        Assert.All(plan.StepSavesOutput, Assert.True);
        Assert.Equal(9 * act, plan.NoCheckpointPeakBytes);
        // the model matches the memory actually held after the forward pass (x does not require grad here)
        Assert.Equal(plan.ExpectedPeakBytes, GraphMemory.Measure(plan.Run(x)).ActivationBytes);
        // measured times (no step costs) also give no checkpointing
        Assert.Equal(0, Checkpoint.Plan(chain.Steps, x, long.MaxValue).CheckpointCount);
    }

    [Fact]
    public void PlanWithTinyBudgetCheckpointsMaximally()
    {
        var chain = new TanhChain(8, 8, seed: 12);
        var x = Input(13);
        var plan = Checkpoint.Plan(chain.Steps, x, 1, Costs);
        Assert.False(plan.FitsBudget);
        // the smallest modeled peak of all plans (brute force), at the least cost among those
        var all = AllPlans(8).ToList();
        long minPeak = all.Min(p => plan.EstimatePeakBytes(p));
        Assert.Equal(minPeak, plan.ExpectedPeakBytes);
        Assert.Equal(all.Where(p => plan.EstimatePeakBytes(p) == minPeak).Min(p => Cost(p, Costs)), plan.RecomputeCost);
        // no less memory than any fixed scheme: every step checkpointed, sqrt(n) segments, one big segment
        Assert.True(plan.ExpectedPeakBytes <= plan.EstimatePeakBytes(Enumerable.Range(0, 8).Select(i => new CheckpointSegment(i, 1, true)).ToList()));
        Assert.True(plan.ExpectedPeakBytes <= plan.EstimatePeakBytes([new(0, 3, true), new(3, 3, true), new(6, 2, false)]));
        Assert.True(plan.ExpectedPeakBytes <= plan.EstimatePeakBytes([new(0, 8, true)]));
        // the last segment is never worth recomputing: its activations are needed as soon as backward starts
        Assert.False(plan.Segments[^1].Checkpointed);
        Assert.True(plan.CheckpointCount >= 2);
        Assert.True(plan.ExpectedPeakBytes < plan.NoCheckpointPeakBytes);
        // and it runs, with the same gradients
        AssertSameGradients(chain.Gradients(x, h => Plain(chain.Steps, h)), chain.Gradients(x, plan.Run));
    }

    [Fact]
    public void PlanRespectsTheBudgetAtLeastCost()
    {
        var chain = new TanhChain(8, 8, seed: 14);
        var x = Input(15);
        var probe = Checkpoint.Plan(chain.Steps, x, 1, Costs);
        var all = AllPlans(8).ToList();
        var want = chain.Gradients(x, h => Plain(chain.Steps, h));
        var budgets = Enumerable.Range(0, 4).Select(k => probe.ExpectedPeakBytes + k * (probe.NoCheckpointPeakBytes - probe.ExpectedPeakBytes) / 4);
        foreach (long budget in budgets)
        {
            var plan = Checkpoint.Plan(chain.Steps, x, budget, Costs);
            Assert.True(plan.FitsBudget);
            Assert.True(plan.ExpectedPeakBytes <= budget);
            Assert.Equal(plan.EstimatePeakBytes(plan.Segments), plan.ExpectedPeakBytes);
            double best = all.Where(p => plan.EstimatePeakBytes(p) <= budget).Min(p => Cost(p, Costs));
            Assert.Equal(best, plan.RecomputeCost);
            Assert.True(plan.RecomputeCost > 0);

            // the memory actually held after the forward pass stays within the model
            var y = plan.Run(x.Clone().RequiresGrad_());
            Assert.True(GraphMemory.Measure(y).ActivationBytes <= plan.ExpectedPeakBytes);
            AssertSameGradients(want, chain.Gradients(x, plan.Run));
        }
    }
}
