using CountedStep = Fluxion.Tests.CheckpointLoopTests.CountedStep;

namespace Fluxion.Tests;

/// <summary>The byte-budget loop schedule (<see cref="LoopMemorySchedule"/>): its dynamic program against Revolve's binomial
/// formula and against a brute-force simulation of every schedule of its move set, and the executor's gradients.</summary>
public class LoopMemoryScheduleTests
{
    /// <summary>A schedule tree of the move set: A is the tail (AdvanceHold, TapeHold) or the head (AdvanceTape), B the head of AdvanceHold.</summary>
    private sealed record Tree(LoopMove Move, int J, Tree? A, Tree? B);

    /// <summary>Every schedule tree for l steps (all moves, all j).</summary>
    private static List<Tree>[] AllTrees(int maxL)
    {
        var trees = new List<Tree>[maxL + 1];
        trees[1] = [new Tree(LoopMove.TapeAll, 1, null, null)];
        for (int l = 2; l <= maxL; l++)
        {
            var list = new List<Tree> { new(LoopMove.TapeAll, l, null, null) };
            for (int j = 1; j < l; j++)
            {
                foreach (var h in trees[j]) list.Add(new Tree(LoopMove.AdvanceTape, j, h, null));
                foreach (var t in trees[l - j])
                    foreach (var h in trees[j]) list.Add(new Tree(LoopMove.AdvanceHold, j, t, h));
                foreach (var t in trees[l - j]) list.Add(new Tree(LoopMove.TapeHold, j, t, null));
            }
            trees[l] = list;
        }
        return trees;
    }

    /// <summary>
    /// Runs a schedule on positions, independently of the dynamic program's bookkeeping: the states alive (by position:
    /// the input, held snapshots, every recorded run's input and output until it is backpropagated, the state being
    /// advanced) cost s each, the recorded steps not yet backpropagated a each. Returns the evaluations and the peak.
    /// </summary>
    private sealed class Simulator(long s, long a)
    {
        private readonly Dictionary<int, int> _alive = new();
        private readonly HashSet<int> _taped = new();
        public long Evaluations, Peak;

        private void Acquire(int pos)
        {
            _alive[pos] = _alive.GetValueOrDefault(pos) + 1;
            Peak = Math.Max(Peak, s * _alive.Count + a * _taped.Count);
        }

        private void Release(int pos)
        {
            if (--_alive[pos] == 0) _alive.Remove(pos);
        }

        private abstract record Undo;
        private sealed record UndoTape(int From, int Count) : Undo;
        private sealed record UndoHold(int Pos) : Undo;
        private sealed record Head(Tree T, int From, int Steps) : Undo;

        public (long Evaluations, long Peak) Run(Tree t, int steps)
        {
            Acquire(0);
            var stack = new Stack<Undo>();
            Sweep(t, 0, steps, stack);
            Unwind(stack);
            Release(0);
            Assert.Empty(_alive);
            Assert.Empty(_taped);
            return (Evaluations, Peak);
        }

        private void Advance(int from, int count)
        {
            Acquire(from + count); // the state being advanced (its last position)
            Evaluations += count;
        }

        private void Tape(int from, int count, Stack<Undo> stack)
        {
            Acquire(from);
            for (int i = 1; i <= count; i++) _taped.Add(from + i);
            Evaluations += count;
            Acquire(from + count);
            stack.Push(new UndoTape(from, count));
        }

        private void Sweep(Tree t, int p, int l, Stack<Undo> stack)
        {
            switch (t.Move)
            {
                case LoopMove.TapeAll:
                    Tape(p, l, stack);
                    break;
                case LoopMove.AdvanceTape:
                    stack.Push(new Head(t.A!, p, t.J));
                    Advance(p, t.J);
                    Tape(p + t.J, l - t.J, stack);
                    Release(p + t.J); // the advanced state is now the recorded run's input
                    break;
                case LoopMove.AdvanceHold:
                    stack.Push(new Head(t.B!, p, t.J));
                    Advance(p, t.J); // now held as the tail's input
                    stack.Push(new UndoHold(p + t.J));
                    Sweep(t.A!, p + t.J, l - t.J, stack);
                    break;
                default:
                    Tape(p, t.J, stack);
                    Sweep(t.A!, p + t.J, l - t.J, stack);
                    break;
            }
        }

        private void Unwind(Stack<Undo> stack)
        {
            while (stack.Count > 0)
                switch (stack.Pop())
                {
                    case UndoTape u:
                        for (int i = 1; i <= u.Count; i++) Assert.True(_taped.Remove(u.From + i));
                        Release(u.From);
                        Release(u.From + u.Count);
                        break;
                    case UndoHold h:
                        Release(h.Pos);
                        break;
                    case Head h:
                        var sub = new Stack<Undo>();
                        Sweep(h.T, h.From, h.Steps, sub);
                        Unwind(sub);
                        break;
                }
        }
    }

    /// <summary>The tree the dynamic program chose.</summary>
    private static Tree Chosen(LoopMemorySchedule s, int l, int m)
    {
        var (mv, j, _) = s.Move(l, m);
        return mv switch
        {
            LoopMove.TapeAll => new Tree(mv, l, null, null),
            LoopMove.AdvanceTape => new Tree(mv, j, Chosen(s, j, m), null),
            LoopMove.AdvanceHold => new Tree(mv, j, Chosen(s, l - j, m - s.StateUnits), Chosen(s, j, m)),
            _ => new Tree(mv, j, Chosen(s, l - j, m - s.StateUnits - j * s.StepUnits), null),
        };
    }

    [Fact]
    public void DynamicProgramIsOptimalOverEveryScheduleOfItsMoveSet()
    {
        const int maxL = 7;
        var trees = AllTrees(maxL);
        foreach (var (s, a) in new[] { (1, 1), (2, 1), (1, 2), (3, 2), (1, 0), (2, 5) })
            for (int l = 1; l <= maxL; l++)
            {
                var sims = trees[l].Select(t => new Simulator(s, a).Run(t, l)).ToList();
                for (int e = 0; e <= 14; e++)
                {
                    long budget = 3L * s + a + e;
                    long brute = sims.Where(r => r.Peak <= budget).Min(r => r.Evaluations);
                    var sched = LoopMemorySchedule.FromUnits(l, e, s, a);
                    Assert.True(brute == sched.StepEvaluations, $"l={l} s={s} a={a} E={e}: brute force {brute}, dynamic program {sched.StepEvaluations}");
                    // the chosen schedule takes what the program says and fits the budget; the modeled peak is the simulated one
                    var (evals, peak) = new Simulator(s, a).Run(Chosen(sched, l, e), l);
                    Assert.Equal(sched.StepEvaluations, evals);
                    Assert.True(peak <= budget, $"l={l} s={s} a={a} E={e}: peak {peak} > budget {budget}");
                    Assert.Equal(peak, sched.ModeledPeakBytes);
                }
            }
    }

    [Fact]
    public void WithOneRecordedStepAtATimeItIsTheBinomialSchedule()
    {
        for (int c = 1; c <= 6; c++)
            for (int l = 1; l <= 40; l++)
                Assert.Equal(BinomialSchedule.MinStepEvaluations(l, c), LoopMemorySchedule.RevolveEvaluations(l, c));
        Assert.Equal(BinomialSchedule.MinStepEvaluations(500, 4), LoopMemorySchedule.RevolveEvaluations(500, 4));
    }

    [Fact]
    public void WithMemoryForEveryStepItRecordsEverything()
    {
        var s = LoopMemorySchedule.Create(200, 3 * 100 + 200 * 40L, 100, 40);
        Assert.Equal(200, s.StepEvaluations);
        Assert.Equal(LoopMove.TapeAll, s.Move(200, s.SpareUnits).Move);
        Assert.True(s.ModeledPeakBytes <= s.MemoryBytes);
    }

    /// <summary>√T checkpointing (Checkpoint.Sequential) in the same model: segment k's recomputation holds the inputs of
    /// segments 0..k, its output and its steps' graphs.</summary>
    private static long SqrtPeak(int steps, long s, long a)
    {
        int m = (int)Math.Ceiling(Math.Sqrt(steps));
        long peak = 0;
        for (int k = 0; k < m; k++)
        {
            int len = steps / m + (k < steps % m ? 1 : 0);
            peak = Math.Max(peak, (k + 2) * s + len * a);
        }
        return peak;
    }

    [Fact]
    public void AtTheMemoryOfSqrtCheckpointingItTakesNoMoreEvaluationsAndFewerWhenAStepRecordsLessThanAState()
    {
        // a ≤ s (the particle simulation's case): √T's equal split is not balanced, the schedule takes fewer; a ≫ s: √T is the
        // schedule's optimum or near it, the schedule never takes more (√T is one of its schedules when the units are exact)
        foreach (var (steps, s, a, fewer) in new[] { (100, 1000L, 660L, true), (200, 1000L, 1000L, true), (1000, 28872L, 19200L, true), (150, 1000L, 3000L, false) })
        {
            int m = (int)Math.Ceiling(Math.Sqrt(steps));
            long sqrtEvals = LoopMemorySchedule.SegmentedStepEvaluations(steps, m);
            Assert.Equal(2L * steps - steps / m, sqrtEvals);
            var sched = LoopMemorySchedule.Create(steps, LoopMemorySchedule.SegmentedPeakBytes(steps, m, s, a), s, a);
            Assert.True(fewer ? sched.StepEvaluations < sqrtEvals : sched.StepEvaluations <= sqrtEvals, $"{steps} steps, s={s}, a={a}: {sched.StepEvaluations} vs √T {sqrtEvals} ({sched})");
            Assert.True(sched.ModeledPeakBytes <= sched.MemoryBytes);
        }
        Assert.Equal(SqrtPeak(150, 1000, 3000), LoopMemorySchedule.SegmentedPeakBytes(150, 13, 1000, 3000));
    }

    [Fact]
    public void RejectsABudgetBelowOneRecordedStep()
    {
        var ex = Assert.Throws<AutogradException>(() => LoopMemorySchedule.Create(10, 3 * 100 + 39, 100, 40));
        Assert.Contains("3·100 + 40", ex.Message);
    }

    [Fact]
    public void ByteBudgetLoopReplaysTheRandomState()
    {
        var w = Tensor.Full([3], 0.7, DType.Float64).RequiresGrad_();
        Tensor Step(Tensor h) => (h * w).Sin() + 0.1 * Tensor.Randn([3], DType.Float64);
        Generator.ManualSeed(9);
        var x = Tensor.Ones([3], DType.Float64).RequiresGrad_();
        var plain = x;
        for (int i = 0; i < 25; i++) plain = Step(plain);
        plain.Square().Sum().Backward();
        var want = new[] { x.Grad!.ToArray<double>(), w.Grad!.ToArray<double>() };
        w.Grad = null;
        Generator.ManualSeed(9);
        var x2 = Tensor.Ones([3], DType.Float64).RequiresGrad_();
        long s = 3 * 8, a = Checkpoint.MeasureStepBytes(Step, x2);
        Checkpoint.Loop(Step, x2, 25, 3 * s + a + 4 * s + 3 * a, a).Square().Sum().Backward();
        TensorAssert.Close(want[0], x2.Grad!.ToArray<double>(), 1e-12, 1e-12, "input gradient");
        TensorAssert.Close(want[1], w.Grad!.ToArray<double>(), 1e-12, 1e-12, "captured gradient");
    }
}
