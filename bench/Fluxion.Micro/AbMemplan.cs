using System.Diagnostics;
using Fluxion.Nn;

namespace Fluxion.Micro;

/// <summary>
/// <c>ab memtime [rounds]</c> (issue 20): why <c>MemoryPlan.Calibrate</c>'s whole store-all pass and
/// <c>MemoryPlanMeasure.Measure</c>'s timed pass of the same plan disagreed. The network of <c>fluxion complexity --budget</c>
/// (16 × (Linear 256 + Tanh), 16 reversible blocks, batch 64); the store-all pass timed in several ways, one thread, in
/// alternating rounds: wall and thread CPU time, median of each way's per-round medians. Not a headline figure.
/// </summary>
internal static class AbMemplan
{
    public static void MemTime(int rounds)
    {
        int n = 32, d = 256, b = 64;
        Generator.ManualSeed(0);
        var layers = new List<Module>();
        for (int i = 0; i < n / 2; i++) { layers.Add(new Linear(d, d, bias: false)); layers.Add(new Tanh()); }
        for (int i = 0; i < n / 2; i++)
            layers.Add(new Reversible(new Sequential(new Linear(d / 2, d / 2, bias: false), new Tanh()), new Sequential(new Linear(d / 2, d / 2, bias: false), new Tanh())));
        var model = new Sequential(layers.ToArray());
        var x = Tensor.Randn(b, d);
        var plan = MemoryPlan.Create(model, x, long.MaxValue);
        var ps = model.Parameters().Select(p => (Tensor)p).Where(p => p.RequiresGrad).ToArray();
        var fns = model.Layers.Select(l => (Func<Tensor, Tensor>)l.Forward).ToArray();
        Console.WriteLine($"memtime: store-all plan {plan}; calibration pass {plan.CalibrationPassSeconds * 1e3:F2} ms (wall, multi-threaded, at planning)");
        Tensor Fns(Tensor h) { foreach (var f in fns) h = f(h); return h; }
        void GradPass(Func<Tensor, Tensor> fwd) { using (Autograd.EnableGrad()) Autograd.Grad([fwd(x).Square().Sum()], ps, allowUnused: true); }
        var ways = new (string Name, Func<(double Wall, double Cpu)> Run)[]
        {
            ("grad fns", () => Timed(() => GradPass(Fns))),
            ("grad plan", () => Timed(() => GradPass(plan.Forward))),
            ("backward plan", () => { var t = Timed(() => plan.Forward(x).Square().Sum().Backward()); model.ZeroGrad(); return t; }),
            ("full GC, grad", () => { GC.Collect(); GC.WaitForPendingFinalizers(); return Timed(() => GradPass(plan.Forward)); }),
            ("tracker, grad", () => { MemoryTracker.Measure(() => plan.Forward(x).Square().Sum().Backward()); model.ZeroGrad(); return Timed(() => GradPass(plan.Forward)); }),
            ("tracker, 2nd", () => { MemoryTracker.Measure(() => plan.Forward(x).Square().Sum().Backward()); model.ZeroGrad(); GradPass(plan.Forward); return Timed(() => GradPass(plan.Forward)); }),
            ("Measure()", () => { double c0 = AbThreadCpu.ThreadCpu(); var m = plan.Measure(x); double c = AbThreadCpu.ThreadCpu() - c0; model.ZeroGrad(); return (m.Seconds * 1e3, double.NaN); }),
        };
        foreach (var w in ways) w.Run();
        foreach (var w in ways)
        {
            // collections and allocation inside the timed pass
            w.Run();
            Console.WriteLine($"  {w.Name,-16} last timed pass: gen0 {_counts.G0}, gen1 {_counts.G1}, gen2 {_counts.G2}, allocated {_counts.Alloc / 1e6:F2} MB");
        }
        var wall = ways.Select(_ => new List<double>()).ToArray();
        var cpu = ways.Select(_ => new List<double>()).ToArray();
        for (int r = 0; r < rounds; r++)
            for (int k0 = 0; k0 < ways.Length; k0++)
            {
                int k = r % 2 == 0 ? k0 : ways.Length - 1 - k0;
                var tw = new double[5];
                var tc = new double[5];
                for (int i = 0; i < 5; i++) (tw[i], tc[i]) = ways[k].Run();
                Array.Sort(tw);
                Array.Sort(tc);
                wall[k].Add(tw[2]);
                cpu[k].Add(tc[2]);
            }
        Console.WriteLine($"{"way",-16}{"wall ms",10}{"cpu ms",10}   ({rounds} rounds of 5, one thread, load {File.ReadAllText("/proc/loadavg").Split(' ')[0]})");
        for (int k = 0; k < ways.Length; k++)
        {
            static double Med(List<double> v) { var a = v.ToArray(); Array.Sort(a); return a[a.Length / 2]; }
            Console.WriteLine($"{ways[k].Name,-16}{Med(wall[k]),10:F2}{Med(cpu[k]),10:F2}");
        }
    }

    private static (int G0, int G1, int G2, long Alloc) _counts;

    private static (double Wall, double Cpu) Timed(Action a)
    {
        int g0 = GC.CollectionCount(0), g1 = GC.CollectionCount(1), g2 = GC.CollectionCount(2);
        long al = GC.GetAllocatedBytesForCurrentThread();
        double c0 = AbThreadCpu.ThreadCpu();
        var sw = Stopwatch.StartNew();
        a();
        sw.Stop();
        _counts = (GC.CollectionCount(0) - g0, GC.CollectionCount(1) - g1, GC.CollectionCount(2) - g2, GC.GetAllocatedBytesForCurrentThread() - al);
        return (sw.Elapsed.TotalMilliseconds, (AbThreadCpu.ThreadCpu() - c0) * 1e3);
    }

    /// <summary>
    /// <c>ab looppeak [steps] [marbles]</c> (issue 20): the particle loop of <c>bench memplan</c> under √T checkpointing and under the
    /// byte-budget schedule at √T's modeled bytes, each measured with one exact meter (<see cref="ExactPeak"/>): the peak of
    /// live tensor storage, and what is alive at that moment (storages by size).
    /// </summary>
    public static void LoopPeak(int steps, int marbles)
    {
        int nodes = 8, eaters = 10, n = marbles + nodes + eaters;
        var kinds = Enumerable.Repeat(Physics.ParticleKind.Marble, marbles).Concat(Enumerable.Repeat(Physics.ParticleKind.Node, nodes))
            .Concat(Enumerable.Repeat(Physics.ParticleKind.Eater, eaters)).ToArray();
        var sim = new Physics.ParticleSimulation(kinds, 2, 0.01, new Physics.ForceSpec(Physics.ForceLaw.NewtonianGravity, Softening: 0.1),
            Physics.Integrator.VelocityVerlet, eaterRadius: Enumerable.Repeat(0.02, n).ToArray());
        var g = new Generator(0);
        var x = Tensor.Uniform([n, 2], -1, 1, DType.Float32, g).RequiresGrad_();
        var v = Tensor.Zeros([n, 2], DType.Float32);
        var m = Tensor.Uniform([n], 0.5 / n, 1.5 / n, DType.Float32, g).RequiresGrad_();
        var s = Tensor.Zeros([n, Physics.ParticleSimulation.KindCount], DType.Float32).RequiresGrad_();
        var a = Tensor.Ones([n, Physics.ParticleSimulation.KindCount], DType.Float32).RequiresGrad_();
        var ps = new[] { x, m, s, a };
        var st0 = sim.InitialState(x, v, m, s, a).Detach();
        long stateBytes = (long)st0.Numel * st0.DType.ElementSize();
        long stepBytes = Checkpoint.MeasureStepBytes(st => sim.Step(st, m, s, a), st0);
        int segs = (int)Math.Ceiling(Math.Sqrt(steps));
        long budget = LoopMemorySchedule.SegmentedPeakBytes(steps, segs, stateBytes, stepBytes);
        Console.WriteLine($"looppeak: {n} particles, {steps} steps; state {stateBytes} B, measured step graph {stepBytes} B; √T: {segs} segments, modeled {budget} B");
        long evals = 0;
        Tensor Step(Tensor st) { evals++; var y = sim.Step(st, m, s, a); Labels[y.Storage.Serial] = $"y{evals}"; return y; }
        var stats = new LoopStats();
        var ways = new (string Name, Action Run)[]
        {
            ("sqrt", () => sim.Positions(Checkpoint.Sequential(Enumerable.Repeat<Func<Tensor, Tensor>>(Step, steps).ToList(), sim.InitialState(x, v, m, s, a))).Sum().Backward()),
            ("schedule", () => sim.Positions(Checkpoint.Loop(Step, sim.InitialState(x, v, m, s, a), steps, budget, stepBytes, stats)).Sum().Backward()),
            ("store all", () => { var h = sim.InitialState(x, v, m, s, a); for (int i = 0; i < steps; i++) h = Step(h); sim.Positions(h).Sum().Backward(); }),
        };
        foreach (var (name, run) in ways)
        {
            evals = 0;
            var (peak, alive) = ExactPeak(() => { run(); foreach (var p in ps) p.Grad = null; });
            var tracker = MemoryTracker.Measure(() => { evals = 0; run(); foreach (var p in ps) p.Grad = null; }).PeakBytes;
            string model = name == "schedule" ? $", modeled peak {stats.ModeledPeakBytes} B ({stats.Schedule})" : "";
            Console.WriteLine($"{name}: {evals} step evaluations; exact peak {peak} B (MemoryTracker {tracker} B){model}");
            Console.WriteLine("  alive at the peak (bytes x count): " + string.Join(", ", alive.OrderByDescending(kv => kv.Key * kv.Value).Select(kv => $"{kv.Key}x{kv.Value}")));
            Console.WriteLine("  at: " + PeakStack);
            Console.WriteLine("  largest storages alive (y<k>: a step's output, in evaluation order; #serial: other): " + PeakStates);
        }
    }

    /// <summary>The exact peak of live tensor storage allocated by <paramref name="run"/> on this thread: a full collection at every
    /// allocation that could set a new peak (slow: for small runs only), and the storages alive at the peak by size.</summary>
    /// <summary>Where the last <see cref="ExactPeak"/> saw its peak (the Fluxion frames of the allocating call).</summary>
    internal static string PeakStack = "";

    /// <summary>Names of storages by serial (the states the steps returned), for the report of what is alive at the peak.</summary>
    internal static readonly Dictionary<long, string> Labels = new();

    private static string PeakStates = "";

    internal static (long Peak, Dictionary<long, int> Alive) ExactPeak(Action run)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var live = new List<(WeakReference<Storage> Ref, long Bytes)>();
        Labels.Clear();
        long bound = 0, peak = 0;
        var alive = new Dictionary<long, int>();
        void Observe(Storage st)
        {
            live.Add((new WeakReference<Storage>(st), st.Bytes));
            bound += st.Bytes;
            if (bound <= peak) return;
            GC.Collect();
            GC.WaitForPendingFinalizers();
            live.RemoveAll(e => !e.Ref.TryGetTarget(out _));
            bound = live.Sum(e => e.Bytes);
            if (bound > peak)
            {
                peak = bound;
                alive = live.GroupBy(e => e.Bytes).ToDictionary(gr => gr.Key, gr => gr.Count());
                PeakStates = string.Join(" ", live.Where(e => e.Bytes == live.Max(q => q.Bytes)).Select(e => e.Ref.TryGetTarget(out var t) ? Labels.GetValueOrDefault(t.Serial, $"#{t.Serial}") : "?"));
                PeakStack = string.Join(" < ", new StackTrace().GetFrames().Select(f => f.GetMethod()).Where(mm => mm?.DeclaringType?.Namespace == "Fluxion" || mm?.DeclaringType?.DeclaringType?.Namespace == "Fluxion")
                    .Select(mm => $"{mm!.DeclaringType!.Name}.{mm.Name}").Take(14));
            }
        }
        Storage.AllocationObserver = Observe;
        try { run(); }
        finally { Storage.AllocationObserver = null; }
        return (peak, alive);
    }

    /// <summary>
    /// <c>ab memmodel [runs] [percent]</c> (issue 20): the table of <c>fluxion complexity --budget</c> (same network, budgets from
    /// store-all down to percent % of it) with the planner's and <c>Measure</c>'s one timing harness on thread CPU time (one
    /// thread), so the time model can be checked on a loaded machine: predicted / measured per plan.
    /// </summary>
    public static void MemModel(int runs, int percent)
    {
        int n = 32, d = 256, b = 64;
        Generator.ManualSeed(0);
        var layers = new List<Module>();
        for (int i = 0; i < n / 2; i++) { layers.Add(new Linear(d, d, bias: false)); layers.Add(new Tanh()); }
        for (int i = 0; i < n / 2; i++)
            layers.Add(new Reversible(new Sequential(new Linear(d / 2, d / 2, bias: false), new Tanh()), new Sequential(new Linear(d / 2, d / 2, bias: false), new Tanh())));
        var model = new Sequential(layers.ToArray());
        var x = Tensor.Randn(b, d);
        MemoryPlan.Clock = AbThreadCpu.ThreadCpu;
        try
        {
            long full = MemoryPlan.Create(model, x, long.MaxValue, _ => 1.0).StoreAllPeakBytes;
            MemoryPlan.Create(model, x, full).Measure(x); // the JIT
            model.ZeroGrad();
            Console.WriteLine($"memmodel: thread CPU time, one thread, median of {runs} Measure() calls, load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
            Console.WriteLine($"{"budget B",12}{"pred ms",9}{"meas ms",9}{"pred/meas",10}  segments");
            double worst = 0;
            for (int k = 0; k < 8; k++)
            {
                long budget = k == 7 ? full * percent / 100 : (long)(full * Math.Pow(percent / 100.0, k / 7.0));
                var plan = MemoryPlan.Create(model, x, budget);
                var t = new double[runs];
                for (int r = 0; r < runs; r++) { t[r] = plan.Measure(x).Seconds; model.ZeroGrad(); }
                Array.Sort(t);
                double meas = t[runs / 2];
                worst = Math.Max(worst, Math.Abs(plan.PredictedSeconds / meas - 1));
                Console.WriteLine($"{budget,12}{plan.PredictedSeconds * 1e3,9:F2}{meas * 1e3,9:F2}{plan.PredictedSeconds / meas,10:F2}  {string.Join(" ", plan.Segments.Select(sg => $"{sg.Mode.ToString()[0]}{sg.Start}-{sg.Start + sg.Count - 1}"))}");
            }
            Console.WriteLine($"worst |pred/meas - 1| = {worst * 100:F0}%");
        }
        finally
        {
            MemoryPlan.Clock = null;
        }
    }
}
