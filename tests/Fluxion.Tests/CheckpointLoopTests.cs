namespace Fluxion.Tests;

public class CheckpointLoopTests
{
    /// <summary>T(l, c) by dynamic programming over every first split (brute force over schedules).</summary>
    private static long[,] DpAdvances(int maxL, int maxC)
    {
        var t = new long[maxL + 1, maxC + 1];
        for (int c = 1; c <= maxC; c++)
            for (int l = 2; l <= maxL; l++)
            {
                if (c == 1) { t[l, c] = (long)l * (l - 1) / 2; continue; }
                long best = long.MaxValue;
                for (int m = 1; m < l; m++) best = Math.Min(best, m + t[l - m, c - 1] + t[m, c]);
                t[l, c] = best;
            }
        return t;
    }

    private static long Choose(int n, int k)
    {
        long v = 1;
        for (int i = 1; i <= k; i++) v = v * (n - k + i) / i;
        return v;
    }

    /// <summary>A float64 step h → tanh(h W + b) + 0.5 h with captured W, b that require grad; counts its calls (also LoopMemoryScheduleTests').</summary>
    internal sealed class CountedStep
    {
        public readonly Tensor W, B;
        public int Calls;

        public CountedStep(int width, int seed)
        {
            var gen = new Generator(seed);
            using (Autograd.NoGrad())
            {
                W = Tensor.Randn([width, width], DType.Float64, gen) * (0.9 / Math.Sqrt(width));
                B = Tensor.Randn([width], DType.Float64, gen) * 0.1;
            }
            W.RequiresGrad = true;
            B.RequiresGrad = true;
        }

        public Tensor Step(Tensor h)
        {
            Calls++;
            return (h.MatMul(W) + B).Tanh() + 0.5 * h;
        }

        public double[][] Gradients(Tensor x0, Func<Tensor, Tensor> run)
        {
            W.Grad = null;
            B.Grad = null;
            var x = x0.Clone().RequiresGrad_();
            run(x).Square().Sum().Backward();
            return [x.Grad!.ToArray<double>(), W.Grad!.ToArray<double>(), B.Grad!.ToArray<double>()];
        }
    }

    private static Tensor PlainLoop(Func<Tensor, Tensor> step, Tensor x, int steps)
    {
        for (int i = 0; i < steps; i++) x = step(x);
        return x;
    }

    private static void AssertSame(double[][] want, double[][] got)
    {
        for (int k = 0; k < want.Length; k++) TensorAssert.Close(want[k], got[k], 1e-12, 1e-12, $"gradient {k}");
    }

    [Fact]
    public void BinomialFormulaEqualsTheDynamicProgramOverAllSplits()
    {
        var dp = DpAdvances(60, 7);
        for (int c = 1; c <= 7; c++)
            for (int l = 1; l <= 60; l++)
                Assert.True(dp[l, c] == BinomialSchedule.MinAdvances(l, c), $"T({l}, {c}): dp {dp[l, c]} formula {BinomialSchedule.MinAdvances(l, c)}");
        // every split chosen by the schedule is optimal
        for (int c = 2; c <= 7; c++)
            for (int l = 2; l <= 60; l++)
            {
                long m = BinomialSchedule.Split(l, c);
                Assert.Equal(dp[l, c], m + dp[l - m, c - 1] + dp[m, c]);
            }
    }

    [Fact]
    public void FiveHundredStepsWithFourSnapshotsTakeTheBinomialMinimum()
    {
        // r = 9: β(4, 8) = C(12, 4) = 495 < 500 ≤ β(4, 9) = C(13, 4) = 715; T = 9·500 − C(13, 5) = 3213
        Assert.Equal(9, BinomialSchedule.Repetitions(500, 4));
        long expected = 9 * 500 - Choose(13, 5) + 500;
        Assert.Equal(3713, expected);
        var s = new CountedStep(3, 1);
        var stats = new LoopStats();
        var x = Tensor.Randn([2, 3], DType.Float64, new Generator(2)).RequiresGrad_();
        Checkpoint.Loop(s.Step, x, 500, 4, stats).Sum().Backward();
        Assert.Equal(expected, s.Calls);
        Assert.Equal(expected, stats.StepEvaluations);
        Assert.Equal(expected, stats.OptimalStepEvaluations);
        Assert.True(stats.PeakSnapshots <= 4, stats.ToString());
    }

    [Fact]
    public void SmallLoopsTakeExactlyTheMinimumAndKeepAtMostTheSnapshots()
    {
        var dp = DpAdvances(24, 5);
        for (int c = 1; c <= 5; c++)
            for (int l = 1; l <= 24; l++)
            {
                var s = new CountedStep(2, 3);
                var stats = new LoopStats();
                var x = Tensor.Randn([1, 2], DType.Float64, new Generator(l)).RequiresGrad_();
                Checkpoint.Loop(s.Step, x, l, c, stats).Sum().Backward();
                Assert.True(dp[l, c] + l == s.Calls, $"l = {l}, c = {c}: {s.Calls} evaluations, optimum {dp[l, c] + l}");
                Assert.True(stats.PeakSnapshots <= c, $"l = {l}, c = {c}: {stats}");
            }
    }

    [Fact]
    public void LoopGradientsEqualStoringEverything()
    {
        var s = new CountedStep(4, 5);
        var x0 = Tensor.Randn([3, 4], DType.Float64, new Generator(6));
        var want = s.Gradients(x0, x => PlainLoop(s.Step, x, 37));
        foreach (int c in new[] { 1, 2, 3, 8, 40 })
            AssertSame(want, s.Gradients(x0, x => Checkpoint.Loop(s.Step, x, 37, c)));
    }

    [Fact]
    public void LoopReplaysTheRandomStateOfEveryStep()
    {
        var w = Tensor.Full([3], 0.7, DType.Float64).RequiresGrad_();
        Tensor Step(Tensor h) => (h * w).Sin() + 0.1 * Tensor.Randn([3], DType.Float64);
        Generator.ManualSeed(11);
        var x = Tensor.Ones([3], DType.Float64).RequiresGrad_();
        PlainLoop(Step, x, 20).Sum().Backward();
        var want = new[] { x.Grad!.ToArray<double>(), w.Grad!.ToArray<double>() };
        w.Grad = null;
        Generator.ManualSeed(11);
        var x2 = Tensor.Ones([3], DType.Float64).RequiresGrad_();
        Checkpoint.Loop(Step, x2, 20, 3).Sum().Backward();
        AssertSame(want, [x2.Grad!.ToArray<double>(), w.Grad!.ToArray<double>()]);
    }

    [Fact]
    public void LoopUntilStopsAtTheEventWithTheSameGradients()
    {
        var s = new CountedStep(3, 7);
        var x0 = Tensor.Randn([2, 3], DType.Float64, new Generator(8));
        // the event: the first state whose sum exceeds a threshold reached after some steps
        int stopAt = -1;
        bool Until(Tensor h, int i)
        {
            if (i == 29) { stopAt = i; return true; }
            return false;
        }
        var want = s.Gradients(x0, x => PlainLoop(s.Step, x, 29));
        var stats = new LoopStats();
        AssertSame(want, s.Gradients(x0, x => Checkpoint.LoopUntil(s.Step, x, Until, 4, 1000, stats)));
        Assert.Equal(29, stopAt);
        Assert.Equal(29, stats.Steps);
        Assert.True(stats.PeakSnapshots <= 4, stats.ToString());
        // maxSteps caps the loop
        var capped = new LoopStats();
        AssertSame(s.Gradients(x0, x => PlainLoop(s.Step, x, 10)), s.Gradients(x0, x => Checkpoint.LoopUntil(s.Step, x, (_, _) => false, 3, 10, capped)));
        Assert.Equal(10, capped.Steps);
    }

    [Fact]
    public void LoopUntilKeepsNoStepIntermediatesAlive()
    {
        long Live(int steps)
        {
            var s = new CountedStep(8, 12);
            var x = Tensor.Randn([16, 8], DType.Float64, new Generator(13)).RequiresGrad_();
            var (y, r) = MemoryTracker.Measure(() => Checkpoint.LoopUntil(s.Step, x, (_, i) => i == steps, 4, 10_000));
            GC.KeepAlive(y);
            return r.LiveBytesAtEnd;
        }
        long few = Live(12), many = Live(120);
        Assert.True(many < 2 * few, $"live after the forward pass: {few} B for 12 steps, {many} B for 120");
    }

    [Fact]
    public void LoopUntilMatchesTheOfflineOptimumUpToBeta2()
    {
        for (int c = 1; c <= 6; c++)
        {
            long beta2 = BinomialSchedule.Beta(c, 2);
            for (int l = 1; l <= beta2; l++)
            {
                var s = new CountedStep(2, 9);
                var stats = new LoopStats();
                var x = Tensor.Randn([1, 2], DType.Float64, new Generator(l)).RequiresGrad_();
                Checkpoint.LoopUntil(s.Step, x, (_, i) => i == l, c, 10_000, stats).Sum().Backward();
                Assert.True(stats.OptimalStepEvaluations == s.Calls, $"l = {l}, c = {c}: {s.Calls} evaluations, offline optimum {stats.OptimalStepEvaluations}");
                Assert.True(stats.PeakSnapshots <= c, stats.ToString());
            }
        }
    }

    [Fact]
    public void OnlinePlacementStaysWithinAMeasuredFactorOfTheOfflineOptimumBeyondBeta2()
    {
        // Beyond β(c, 2) the online rule is a heuristic: this records how far it is from the offline optimum
        // (the backward advances predicted by the placement, plus the forward sweep and the adjoint steps).
        double worst = 1;
        for (int c = 2; c <= 8; c++)
        {
            var online = new Checkpoint.OnlinePlacement(c);
            long upTo = Math.Min(BinomialSchedule.Beta(c, 4), 3000);
            for (int l = 2; l <= upTo; l++)
            {
                online.Arrive(l - 2, null, default);
                long evals = l + (l - 1) + Checkpoint.OnlinePlacement.Cost(online.Positions, l - 1, c);
                long optimum = BinomialSchedule.MinStepEvaluations(l, c);
                Assert.True(evals >= optimum, $"l = {l}, c = {c}: {evals} below the optimum {optimum}");
                if (l <= BinomialSchedule.Beta(c, 2)) Assert.Equal(optimum, evals);
                worst = Math.Max(worst, (double)evals / optimum);
            }
        }
        Assert.True(worst <= 1.10 + 1e-9, $"worst online/offline ratio {worst:F3}");
    }

    [Fact]
    public void LoopRejectsAStepThatChangesTheShape()
    {
        var x = Tensor.Ones([2], DType.Float64).RequiresGrad_();
        var e = Assert.Throws<ShapeMismatchException>(() => Checkpoint.Loop(h => Tensor.Cat([h, h], 0), x, 5, 2));
        Assert.Contains("Checkpoint.Loop", e.Message);
    }

    /// <summary>Two marbles, a node and a fixed eater ahead of the first marble (float64, everything requires grad).</summary>
    private static (Physics.ParticleSimulation Sim, Tensor[] Inputs) MarbleAndEater()
    {
        var kinds = new[] { Physics.ParticleKind.Marble, Physics.ParticleKind.Marble, Physics.ParticleKind.Node, Physics.ParticleKind.Eater };
        var sim = new Physics.ParticleSimulation(kinds, 2, 0.05, new Physics.ForceSpec(Softening: 0.1),
            eaterRadius: [0, 0, 0, 0.3], fixedParticles: [false, false, false, true]);
        var x = Tensor.FromArray(new double[] { 0, 0, 0, 2, 2, 2, 1, 0 }, 4, 2);
        var v = Tensor.FromArray(new double[] { 1.5, 0, 0, 0, 0, 0, 0, 0 }, 4, 2);
        var m = Tensor.Ones([4], DType.Float64);
        var st = Tensor.Full([4, 3], 0.1, DType.Float64);
        var a = Tensor.Full([4, 3], 0.5, DType.Float64);
        return (sim, [x, v, m, st, a]);
    }

    [Fact]
    public void ParticleRunUntilAMarbleIsEatenHasThePlainGradients()
    {
        var (sim, inputs) = MarbleAndEater();
        (double[][] Grads, int Steps) Run(bool online)
        {
            var xs = inputs.Select(t => t.Clone().RequiresGrad_()).ToArray();
            var state = sim.InitialState(xs[0], xs[1], xs[2], xs[3], xs[4]);
            int steps;
            if (online) (state, steps) = sim.ContinueUntilEaten(state, xs[2], xs[3], xs[4], maxSteps: 200, snapshots: 3);
            else
            {
                steps = 0;
                while (steps < 200 && sim.EatenBy(state)[0] < 0)
                {
                    state = sim.Step(state, xs[2], xs[3], xs[4]);
                    steps++;
                }
            }
            (sim.Positions(state).Square().Sum() + sim.Velocities(state).Sum()).Backward();
            return (xs.Select(t => t.Grad!.ToDoubleArray()).ToArray(), steps);
        }
        var (want, plainSteps) = Run(false);
        var (got, onlineSteps) = Run(true);
        Assert.InRange(plainSteps, 3, 199); // the marble is eaten within the run
        Assert.Equal(plainSteps, onlineSteps);
        AssertSame(want, got);
    }

    [Fact]
    public void ParticleRunWithBinomialSnapshotsHasThePlainGradients()
    {
        var (sim, inputs) = MarbleAndEater();
        double[][] Grads(int? snapshots, bool checkpoint)
        {
            var xs = inputs.Select(t => t.Clone().RequiresGrad_()).ToArray();
            var state = sim.Run(xs[0], xs[1], xs[2], xs[3], xs[4], 25, checkpoint, snapshots);
            sim.Positions(state).Square().Sum().Backward();
            return xs.Select(t => t.Grad!.ToDoubleArray()).ToArray();
        }
        AssertSame(Grads(null, false), Grads(3, true));
    }
}
