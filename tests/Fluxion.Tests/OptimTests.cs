using System.Text.Json;
using Fluxion.Nn;
using Fluxion.Optim;

namespace Fluxion.Tests;

/// <summary>Optimizers, schedulers and gradient clipping against PyTorch (golden/optim.json), state dicts and errors.</summary>
public class OptimTests
{
    private const double Tol = 1e-5;

    private static readonly string[] OptimizerOps = ["SGD", "Adam", "AdamW", "RMSprop", "LBFGS"];
    private static readonly string[] SchedulerOps = ["StepLR", "CosineAnnealingLR", "OneCycleLR"];

    public static IEnumerable<object[]> Cases(params string[] ops) =>
        Golden.Load("optim").Where(c => ops.Contains(c.Op)).Select(c => new object[] { c.Id });

    public static IEnumerable<object[]> OptimizerCases() => Cases(OptimizerOps);
    public static IEnumerable<object[]> SchedulerCases() => Cases(SchedulerOps);
    public static IEnumerable<object[]> ClipCases() => Cases("ClipGradNorm", "ClipGradValue");

    private static void AssertClose(GoldenTensor expected, double[] actual, string what) =>
        Golden.AssertClose(what, expected, actual, rtol: Tol, atol: Tol);

    private static JsonElement Json(GoldenArgs args) => JsonDocument.Parse(args.ToString()).RootElement;

    private static double Num(JsonElement o, string key, double fallback) =>
        o.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : fallback;

    private static bool Bool(JsonElement o, string key) => o.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.True;

    // ---- the shared problem ----------------------------------------------------------------------

    /// <summary>loss = 0.5·sum(w·(A@w)) − sum(bq·w) + 0.05·sum(w⁴) + mean((X@Wᵀ + b − Y)²).</summary>
    private static Tensor Loss(Tensor[] data, Tensor w, Tensor W, Tensor b)
    {
        var (a, bq, x, y) = (data[0], data[1], data[2], data[3]);
        return 0.5 * (w * a.MatMul(w)).Sum() - (bq * w).Sum() + 0.05 * w.Pow(4).Sum() + (x.MatMul(W.MT) + b - y).Square().Mean();
    }

    private sealed class Problem
    {
        public required Tensor[] Data;
        public required Tensor[] Params;  // w, W, b
        public Tensor Loss() => OptimTests.Loss(Data, Params[0], Params[1], Params[2]);
        public Func<Tensor> Closure(Optimizer opt) => () =>
        {
            opt.ZeroGrad();
            var l = Loss();
            l.Backward();
            return l;
        };
    }

    private static Problem MakeProblem(GoldenCase c)
    {
        var inputs = c.Inputs.Select(i => i.Value.ToTensor()).ToArray();
        return new Problem { Data = inputs[..4], Params = inputs[4..].Select(t => t.RequiresGrad_()).ToArray() };
    }

    private static Optimizer MakeOptimizer(string op, Tensor[] ps, JsonElement h, JsonElement groups)
    {
        IEnumerable<ParamGroup> G()
        {
            if (groups.ValueKind == JsonValueKind.Null) return [new ParamGroup(ps)];
            var opts = groups.EnumerateArray().Select(g => g.EnumerateObject().Select(p => KeyValuePair.Create(p.Name, p.Value.GetDouble())).ToList()).ToArray();
            return [new ParamGroup([ps[0], ps[1]], options: opts[0]), new ParamGroup([ps[2]], options: opts[1])];
        }
        return op switch
        {
            "SGD" => new SGD(G(), lr: Num(h, "lr", 1e-3), momentum: Num(h, "momentum", 0), dampening: Num(h, "dampening", 0),
                weightDecay: Num(h, "weight_decay", 0), nesterov: Bool(h, "nesterov"), maximize: Bool(h, "maximize")),
            "Adam" => new Adam(G(), lr: Num(h, "lr", 1e-3), beta1: Num(h, "beta1", 0.9), beta2: Num(h, "beta2", 0.999), eps: Num(h, "eps", 1e-8),
                weightDecay: Num(h, "weight_decay", 0), amsgrad: Bool(h, "amsgrad"), maximize: Bool(h, "maximize")),
            "AdamW" => new AdamW(G(), lr: Num(h, "lr", 1e-3), beta1: Num(h, "beta1", 0.9), beta2: Num(h, "beta2", 0.999), eps: Num(h, "eps", 1e-8),
                weightDecay: Num(h, "weight_decay", 1e-2), amsgrad: Bool(h, "amsgrad"), maximize: Bool(h, "maximize")),
            "RMSprop" => new RMSprop(G(), lr: Num(h, "lr", 1e-2), alpha: Num(h, "alpha", 0.99), eps: Num(h, "eps", 1e-8),
                weightDecay: Num(h, "weight_decay", 0), momentum: Num(h, "momentum", 0), centered: Bool(h, "centered"), maximize: Bool(h, "maximize")),
            "LBFGS" => new LBFGS(ps, lr: Num(h, "lr", 1), maxIter: (int)Num(h, "max_iter", 20), historySize: (int)Num(h, "history_size", 100),
                lineSearchFn: h.TryGetProperty("line_search_fn", out var ls) && ls.ValueKind == JsonValueKind.String ? ls.GetString() : null),
            _ => throw new ArgumentException(op),
        };
    }

    private static LRScheduler MakeScheduler(Optimizer opt, string name, JsonElement k)
    {
        int? I(string key) => k.TryGetProperty(key, out var v) ? v.GetInt32() : null;
        return name switch
        {
            "StepLR" => new StepLR(opt, I("step_size")!.Value, gamma: Num(k, "gamma", 0.1)),
            "CosineAnnealingLR" => new CosineAnnealingLR(opt, I("T_max")!.Value, etaMin: Num(k, "eta_min", 0)),
            "OneCycleLR" => new OneCycleLR(opt,
                k.GetProperty("max_lr") is { ValueKind: JsonValueKind.Array } arr ? arr.EnumerateArray().Select(v => v.GetDouble()).ToArray()
                    : Enumerable.Repeat(k.GetProperty("max_lr").GetDouble(), opt.ParamGroups.Count).ToArray(),
                totalSteps: I("total_steps"), epochs: I("epochs"), stepsPerEpoch: I("steps_per_epoch"),
                pctStart: Num(k, "pct_start", 0.3),
                annealStrategy: k.TryGetProperty("anneal_strategy", out var a) ? a.GetString()! : "cos",
                cycleMomentum: !k.TryGetProperty("cycle_momentum", out var cm) || cm.GetBoolean(),
                baseMomentum: Num(k, "base_momentum", 0.85), maxMomentum: Num(k, "max_momentum", 0.95),
                divFactor: Num(k, "div_factor", 25), finalDivFactor: Num(k, "final_div_factor", 1e4),
                threePhase: k.TryGetProperty("three_phase", out var tp) && tp.GetBoolean()),
            _ => throw new ArgumentException(name),
        };
    }

    /// <summary>Runs a golden optimizer case: returns the trajectories (per parameter, flattened) and the losses.</summary>
    private static (List<double>[] Traj, List<double> Losses) Run(GoldenCase c, Problem pr, Optimizer opt, LRScheduler? sched, int steps)
    {
        var traj = pr.Params.Select(p => p.ToDoubleArray().ToList()).ToArray();
        var losses = new List<double>();
        var closure = pr.Closure(opt);
        for (int s = 0; s < steps; s++)
        {
            double loss;
            if (c.Op == "LBFGS") loss = opt.Step(closure).Item();
            else
            {
                loss = closure().Item();
                opt.Step();
            }
            losses.Add(loss);
            sched?.Step();
            for (int k = 0; k < pr.Params.Length; k++) traj[k].AddRange(pr.Params[k].ToDoubleArray());
        }
        return (traj, losses);
    }

    [Theory]
    [MemberData(nameof(OptimizerCases))]
    public void TrajectoryMatchesPyTorch(string id)
    {
        var c = Golden.Get(id);
        var args = Json(c.Args);
        var pr = MakeProblem(c);
        var opt = MakeOptimizer(c.Op, pr.Params, args.GetProperty("hyper"), args.GetProperty("groups"));
        var schedSpec = args.GetProperty("scheduler");
        var sched = schedSpec.ValueKind == JsonValueKind.Null ? null : MakeScheduler(opt, schedSpec.GetProperty("name").GetString()!, schedSpec);
        var (traj, losses) = Run(c, pr, opt, sched, args.GetProperty("steps").GetInt32());
        string[] names = ["w", "W", "b"];
        for (int k = 0; k < 3; k++) AssertClose(c.Outputs[k], traj[k].ToArray(), $"{id} {names[k]}");
        AssertClose(c.Outputs[3], losses.ToArray(), $"{id} loss");
    }

    [Theory]
    [MemberData(nameof(SchedulerCases))]
    public void SchedulerMatchesPyTorch(string id)
    {
        var c = Golden.Get(id);
        var args = Json(c.Args);
        var lrs = args.GetProperty("lrs").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        var ps = lrs.Select(_ => Tensor.Zeros(1).RequiresGrad_()).ToArray();
        var groups = ps.Zip(lrs, (p, lr) => new ParamGroup([p], lr: lr)).ToArray();
        bool sgd = args.GetProperty("optimizer").GetString() == "SGD";
        Optimizer opt = sgd ? new SGD(groups, lr: lrs[0], momentum: args.GetProperty("momentum").GetDouble()) : new Adam(groups, lr: lrs[0]);
        var sched = MakeScheduler(opt, c.Op, args.GetProperty("kwargs"));
        int steps = args.GetProperty("steps").GetInt32();
        var lrSeq = lrs.Select(_ => new List<double>()).ToArray();
        var mSeq = lrs.Select(_ => new List<double>()).ToArray();
        void Record()
        {
            var last = sched.GetLastLr();
            for (int g = 0; g < lrs.Length; g++)
            {
                lrSeq[g].Add(last[g]);
                Assert.Equal(last[g], opt.ParamGroups[g].Lr);
                mSeq[g].Add(opt.ParamGroups[g][sgd ? "momentum" : "beta1"]);
            }
        }
        Record();
        for (int s = 0; s < steps; s++)
        {
            opt.Step();
            sched.Step();
            Record();
        }
        AssertClose(c.Outputs[0], lrSeq.SelectMany(x => x).ToArray(), id + " lr");
        AssertClose(c.Outputs[1], mSeq.SelectMany(x => x).ToArray(), id + " momentum");
    }

    [Theory]
    [MemberData(nameof(ClipCases))]
    public void ClippingMatchesPyTorch(string id)
    {
        var c = Golden.Get(id);
        var ps = c.Inputs.Select(i =>
        {
            var g = i.Value.ToTensor();
            var p = Tensor.Zeros(g.ShapeArray, g.DType).RequiresGrad_();
            p.Grad = g;
            return p;
        }).ToArray();
        if (c.Op == "ClipGradNorm")
        {
            double nt = Json(c.Args).GetProperty("norm_type") is { ValueKind: JsonValueKind.String } ? double.PositiveInfinity : c.Args.Double("norm_type");
            double total = Clipping.ClipGradNorm(ps, c.Args.Double("max_norm"), nt);
            AssertClose(c.Outputs[^1], [total], id + " total norm");
        }
        else Clipping.ClipGradValue(ps, c.Args.Double("clip_value"));
        for (int k = 0; k < ps.Length; k++) AssertClose(c.Outputs[k], ps[k].Grad!.ToDoubleArray(), $"{id} grad {k}");
    }

    [Fact]
    public void GoldenFileCoversEveryOptimizerAndScheduler()
    {
        var ops = Golden.Load("optim").Select(c => c.Op).ToHashSet();
        foreach (var op in OptimizerOps.Concat(SchedulerOps).Append("ClipGradNorm").Append("ClipGradValue")) Assert.Contains(op, ops);
    }

    // ---- state dicts -----------------------------------------------------------------------------

    public static IEnumerable<object[]> RoundTripCases() =>
        new[] { "SGD.nesterov", "SGD.groups", "Adam.amsgrad", "Adam.f32", "AdamW.decay_amsgrad", "RMSprop.centered_momentum_wd", "LBFGS.strong_wolfe", "LBFGS.fixed_step" }
            .Select(n => new object[] { "optim/" + n });

    [Theory]
    [MemberData(nameof(RoundTripCases))]
    public void StateDictRoundTripContinuesIdentically(string id)
    {
        var c = Golden.Get(id);
        var args = Json(c.Args);
        var h = args.GetProperty("hyper");
        var groups = args.GetProperty("groups");

        var a = MakeProblem(c);
        var optA = MakeOptimizer(c.Op, a.Params, h, groups);
        Run(c, a, optA, null, 4);
        var saved = optA.StateDict();
        var tensorsBefore = saved.Tensors.ToDictionary(kv => kv.Key, kv => kv.Value.ToDoubleArray());
        Assert.NotEmpty(saved.Tensors);
        Assert.Contains("param_groups.0.lr", saved.Scalars.Keys);

        // a fresh optimizer over copies of the current parameters, loaded from the saved state
        var b = new Problem { Data = a.Data, Params = a.Params.Select(p => p.Detach().Clone().RequiresGrad_()).ToArray() };
        var optB = MakeOptimizer(c.Op, b.Params, h, groups);
        optB.LoadStateDict(saved);
        Assert.Equal(saved.Scalars.OrderBy(kv => kv.Key), optB.StateScalars().OrderBy(kv => kv.Key));

        var (ta, la) = Run(c, a, optA, null, 4);
        var (tb, lb) = Run(c, b, optB, null, 4);
        Assert.Equal(la, lb);
        for (int k = 0; k < 3; k++) Assert.Equal(ta[k], tb[k]);
        // the exported state was a snapshot, unaffected by the later steps
        foreach (var (key, t) in saved.Tensors) Assert.Equal(tensorsBefore[key], t.ToDoubleArray());
    }

    [Fact]
    public void StateKeysFollowPyTorchNames()
    {
        var p = Tensor.FromArray(new[] { 1.0, 2.0 }, 2).RequiresGrad_();
        var q = Tensor.FromArray(new[] { 3.0 }, 1).RequiresGrad_();
        var opt = new Adam([new ParamGroup([p]), new ParamGroup([q], lr: 0.5)], lr: 0.1, amsgrad: true);
        Assert.Empty(opt.StateTensors());
        p.Grad = Tensor.FromArray(new[] { 0.5, -0.5 }, 2);
        opt.Step();  // q has no gradient: no state for it
        Assert.Equal(new[] { "state.0.exp_avg", "state.0.exp_avg_sq", "state.0.max_exp_avg_sq" }, opt.StateTensors().Keys.Order().ToArray());
        var s = opt.StateScalars();
        Assert.Equal(1, s["state.0.step"]);
        Assert.False(s.ContainsKey("state.1.step"));
        Assert.Equal(0.1, s["param_groups.0.lr"]);
        Assert.Equal(0.5, s["param_groups.1.lr"]);
        Assert.Equal(1, s["param_groups.1.amsgrad"]);
        Assert.Equal(0.9, s["param_groups.1.beta1"]);
        Assert.Equal(1, s["param_groups.1.num_params"]);
    }

    [Fact]
    public void FailedLoadChangesNothingAndListsEveryProblem()
    {
        var p = Tensor.FromArray(new[] { 1.0, 2.0 }, 2).RequiresGrad_();
        var opt = new Adam([p], lr: 0.1);
        p.Grad = Tensor.FromArray(new[] { 0.5, -0.5 }, 2);
        opt.Step();
        var before = opt.StateDict();

        var other = new Adam([Tensor.Zeros([2], DType.Float64).RequiresGrad_()], lr: 0.7);
        other.Parameters[0].Grad = Tensor.FromArray(new[] { 1.0, 1.0 }, 2);
        other.Step();
        other.Step();
        var good = other.StateDict();
        var tensors = good.Tensors.ToDictionary();
        tensors["state.0.exp_avg"] = Tensor.Zeros([3], DType.Float64);        // wrong shape
        tensors["state.0.bogus"] = Tensor.Zeros([2], DType.Float64);          // unknown buffer
        var scalars = good.Scalars.ToDictionary();
        scalars["param_groups.0.beta2"] = 1.5;                                  // invalid option
        scalars.Remove("state.0.step");                                         // missing counter
        var ex = Assert.Throws<ArgumentException>(() => opt.LoadStateDict(tensors, scalars));
        Assert.Contains("nothing was loaded", ex.Message);
        Assert.Contains("shape", ex.Message);
        Assert.Contains("bogus", ex.Message);
        Assert.Contains("beta2", ex.Message);
        Assert.Contains("state.0.step is missing", ex.Message);

        var after = opt.StateDict();
        Assert.Equal(before.Scalars.OrderBy(kv => kv.Key), after.Scalars.OrderBy(kv => kv.Key));
        foreach (var (k, t) in before.Tensors) Assert.Equal(t.ToDoubleArray(), after.Tensors[k].ToDoubleArray());

        // the good state loads, including the other optimizer's lr
        opt.LoadStateDict(good);
        Assert.Equal(0.7, opt.ParamGroups[0].Lr);
        Assert.Equal(2, opt.StateScalars()["state.0.step"]);

        // a state from a different grouping is rejected
        var twoGroups = new Adam([new ParamGroup([Tensor.Zeros(2).RequiresGrad_()]), new ParamGroup([Tensor.Zeros(2).RequiresGrad_()])]);
        Assert.Contains("parameter group", Assert.Throws<ArgumentException>(() => twoGroups.LoadStateDict(good)).Message);
    }

    [Fact]
    public void LoadedFloat64StateIsCastToFloat32Parameters()
    {
        var p64 = Tensor.FromArray(new[] { 1.0, -2.0 }, 2).RequiresGrad_();
        var o64 = new SGD([p64], lr: 0.1, momentum: 0.9);
        p64.Grad = Tensor.FromArray(new[] { 0.25, 0.5 }, 2);
        o64.Step();
        var p32 = Tensor.FromArray(new[] { 1f, -2f }, 2).RequiresGrad_();
        var o32 = new SGD([p32], lr: 0.1, momentum: 0.9);
        o32.LoadStateDict(o64.StateDict());
        Assert.Equal(DType.Float32, o32.StateTensors()["state.0.momentum_buffer"].DType);
        Assert.Equal(new[] { 0.25, 0.5 }, o32.StateTensors()["state.0.momentum_buffer"].ToDoubleArray());
    }

    [Fact]
    public void SchedulerStateDictRoundTrip()
    {
        var p = Tensor.Zeros(1).RequiresGrad_();
        var opt = new SGD([p], lr: 0.1);
        var s = new CosineAnnealingLR(opt, 6, etaMin: 0.01);
        for (int i = 0; i < 3; i++) s.Step();
        var saved = s.StateDict();
        var optState = opt.StateDict();
        var expected = new List<double>();
        for (int i = 0; i < 5; i++) { s.Step(); expected.Add(s.GetLastLr()[0]); }

        var p2 = Tensor.Zeros(1).RequiresGrad_();
        var opt2 = new SGD([p2], lr: 0.1);
        opt2.LoadStateDict(optState);
        var s2 = new CosineAnnealingLR(opt2, 6, etaMin: 0.01, lastEpoch: 3);
        s2.LoadStateDict(saved);
        opt2.LoadStateDict(optState);
        var got = new List<double>();
        for (int i = 0; i < 5; i++) { s2.Step(); got.Add(s2.GetLastLr()[0]); }
        Assert.Equal(expected, got);
        Assert.Throws<ArgumentException>(() => s2.LoadStateDict(new Dictionary<string, double> { ["last_epoch"] = 1 }));
    }

    // ---- behaviour -------------------------------------------------------------------------------

    [Fact]
    public void StepAllocatesNothingOnceStateExists()
    {
        var ps = new[] { Tensor.Randn(64, 33).RequiresGrad_(), Tensor.Randn(33).RequiresGrad_() };
        foreach (var p in ps) p.Grad = Tensor.Randn(p.ShapeArray);
        Optimizer[] opts =
        [
            new Adam(ps, lr: 1e-3, weightDecay: 0.1, amsgrad: true), new AdamW(ps), new SGD(ps, lr: 0.1, momentum: 0.9, nesterov: true),
            new RMSprop(ps, momentum: 0.5, centered: true),
        ];
        foreach (var opt in opts)
        {
            for (int i = 0; i < 3; i++) opt.Step();  // warm up: state and JIT
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 50; i++) opt.Step();
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated < 1024, $"{opt.Name}: {allocated} bytes allocated in 50 steps");
        }
    }

    [Fact]
    public void ChunkedParallelAdamIsBitIdenticalToTheSerialKernel()
    {
        // larger than the parallel threshold, an odd size (a ragged last chunk and a scalar tail)
        int n = Fluxion.Kernels.OptimKernels.ParallelThreshold + 1001;
        var p = Tensor.Randn([n], DType.Float32, new Generator(1)).RequiresGrad_();
        var grads = Enumerable.Range(0, 3).Select(i => Tensor.Randn([n], DType.Float32, new Generator(2 + i))).ToArray();
        var opt = new Adam([p], lr: 0.01, weightDecay: 0.1, amsgrad: true, maximize: true);
        var want = p.ToArray<float>();
        float[] m = new float[n], v = new float[n], vmax = new float[n];
        for (int step = 1; step <= 3; step++)
        {
            p.Grad = grads[step - 1];
            opt.Step();
            double bc1 = 1 - Math.Pow(0.9, step), bc2 = 1 - Math.Pow(0.999, step);
            Fluxion.Kernels.OptimKernels.Adam<float>(want, grads[step - 1].ToArray<float>(), m, v, vmax,
                1f, 0.1f, 0.9f, (float)(1 - 0.9), 0.999f, (float)(1 - 0.999), 1e-8f, (float)Math.Sqrt(bc2), (float)(0.01 / bc1), true);
            Assert.Equal(want, p.ToArray<float>());
        }
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void SimdAndScalarPathsAgree(DType dtype)
    {
        // one 37-element parameter (SIMD main loop + tail) against 37 one-element parameters (scalar loop only)
        const int n = 37;
        var init = Tensor.Randn([n], dtype, new Generator(5));
        var grads = Enumerable.Range(0, 4).Select(i => Tensor.Randn([n], dtype, new Generator(10 + i))).ToArray();
        Func<IEnumerable<Tensor>, Optimizer>[] makers =
        [
            ps => new Adam(ps, lr: 0.01, weightDecay: 0.1, amsgrad: true, maximize: true),
            ps => new AdamW(ps, lr: 0.01, eps: 1e-3),
            ps => new SGD(ps, lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.05),
            ps => new SGD(ps, lr: 0.1, momentum: 0.5, dampening: 0.2, maximize: true),
            ps => new RMSprop(ps, lr: 0.01, momentum: 0.5, centered: true, weightDecay: 0.1),
            ps => new RMSprop(ps, lr: 0.01),
        ];
        foreach (var make in makers)
        {
            var big = init.Clone().Detach().RequiresGrad_();
            var smalls = Enumerable.Range(0, n).Select(i => init.Select(0, i).Reshape(1).Clone().Detach().RequiresGrad_()).ToArray();
            var o1 = make([big]);
            var o2 = make(smalls);
            foreach (var g in grads)
            {
                big.Grad = g;
                for (int i = 0; i < n; i++) smalls[i].Grad = g.Select(0, i).Reshape(1).Clone().Detach();
                o1.Step();
                o2.Step();
            }
            Assert.Equal(smalls.Select(s => s.ToDoubleArray()[0]).ToArray(), big.ToDoubleArray());
        }
    }

    [Fact]
    public void UpdatesReachNonContiguousParametersAndBumpVersions()
    {
        var baseT = Tensor.FromArray(new double[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        var view = baseT.MT.RequiresGrad_();  // a non-contiguous leaf over baseT's storage
        var plain = baseT.MT.Contiguous().Detach().RequiresGrad_();
        var g = Tensor.FromArray(new double[] { 0.1, -0.2, 0.3, -0.4, 0.5, -0.6 }, 3, 2);
        view.Grad = g;
        plain.Grad = g.Clone();
        int v0 = view.Version;
        var o1 = new Adam([view], lr: 0.1);
        var o2 = new Adam([plain], lr: 0.1);
        for (int i = 0; i < 3; i++) { o1.Step(); o2.Step(); }
        Assert.Equal(plain.ToDoubleArray(), view.ToDoubleArray());
        Assert.Equal(plain.MT.ToDoubleArray(), baseT.ToDoubleArray());
        Assert.True(view.Version > v0);
    }

    [Fact]
    public void WorksWithModuleParametersAndTrainsALinearModel()
    {
        var model = new Linear(3, 1);
        var x = Tensor.Randn(32, 3);
        var y = x.MatMul(Tensor.FromArray(new[] { 1f, -2f, 0.5f }, 3, 1)) + 0.3f;
        var opt = new Adam(model.Parameters(), lr: 0.05);
        double first = 0, last = 0;
        for (int i = 0; i < 150; i++)
        {
            opt.ZeroGrad();
            var loss = (model.Forward(x) - y).Square().Mean();
            loss.Backward();
            Clipping.ClipGradNorm(model.Parameters(), 10.0);
            opt.Step();
            if (i == 0) first = loss.Item();
            last = loss.Item();
        }
        Assert.True(last < first * 1e-2, $"loss {first} -> {last}");
    }

    [Fact]
    public void ZeroGradAndParamGroups()
    {
        var a = Tensor.Ones(2).RequiresGrad_();
        var b = Tensor.Ones(2).RequiresGrad_();
        var opt = new SGD([a], lr: 0.5);
        opt.AddParamGroup(new ParamGroup([b], lr: 0.25));
        Assert.Equal(2, opt.ParamGroups.Count);
        Assert.Equal(0.25, opt.ParamGroups[1].Lr);
        Assert.Equal(0, opt.ParamGroups[1]["momentum"]);  // default filled in
        (a * 2).Sum().Backward();
        (b * 2).Sum().Backward();
        opt.Step();
        Assert.Equal(new[] { 0f, 0f }, a.ToArray<float>());
        Assert.Equal(new[] { 0.5f, 0.5f }, b.ToArray<float>());
        opt.ZeroGrad(setToNone: false);
        Assert.Equal(new[] { 0f, 0f }, a.Grad!.ToArray<float>());
        opt.ZeroGrad();
        Assert.Null(a.Grad);
        Assert.Null(b.Grad);
        opt.Step();  // no gradients: nothing happens
        Assert.Equal(new[] { 0.5f, 0.5f }, b.ToArray<float>());
    }

    [Fact]
    public void ClosureStepReturnsTheLoss()
    {
        var w = Tensor.FromArray(new[] { 2.0 }, 1).RequiresGrad_();
        var opt = new SGD([w], lr: 0.25);
        var loss = opt.Step(() =>
        {
            opt.ZeroGrad();
            var l = w.Square().Sum();
            l.Backward();
            return l;
        });
        Assert.Equal(4.0, loss.Item());
        Assert.Equal(1.0, w.Item());  // 2 - 0.25 * 4
    }

    [Fact]
    public void LbfgsMinimizesRosenbrock()
    {
        var xy = Tensor.FromArray(new[] { -1.5, 2.0 }, 2).RequiresGrad_();
        var opt = new LBFGS([xy], lr: 1, maxIter: 100, historySize: 10, lineSearchFn: "strong_wolfe");
        Tensor F()
        {
            var x = xy.Select(0, 0);
            var y = xy.Select(0, 1);
            return (1 - x).Square() + 100 * (y - x.Square()).Square();
        }
        for (int i = 0; i < 5; i++)
            opt.Step(() =>
            {
                opt.ZeroGrad();
                var l = F();
                l.Backward();
                return l;
            });
        Assert.Equal(1.0, xy.Get(0), 4);
        Assert.Equal(1.0, xy.Get(1), 4);
    }

    [Fact]
    public void ClipGradNormEdgeCases()
    {
        Assert.Equal(0, Clipping.ClipGradNorm([Tensor.Zeros(2).RequiresGrad_()], 1.0));  // no gradients
        var p = Tensor.Zeros(2).RequiresGrad_();
        p.Grad = Tensor.FromArray(new[] { float.NaN, 1f }, 2);
        Assert.True(double.IsNaN(Clipping.ClipGradNorm([p], 1.0)));
        Assert.Throws<ArithmeticException>(() => Clipping.ClipGradNorm([p], 1.0, errorIfNonfinite: true));
        // non-contiguous gradient
        var q = Tensor.Zeros([2, 2], DType.Float64).RequiresGrad_();
        q.Grad = Tensor.FromArray(new[] { 3.0, 0.0, 4.0, 0.0 }, 2, 2).MT;
        Assert.Equal(5.0, Clipping.ClipGradNorm([q], 1.0), 12);
        Assert.Equal(new[] { 0.6, 0.8, 0, 0 }, q.Grad.ToDoubleArray().Select(v => Math.Round(v, 6)).ToArray());
    }

    // ---- errors ----------------------------------------------------------------------------------

    [Fact]
    public void InvalidHyperparametersThrowClearErrors()
    {
        Tensor[] P() => [Tensor.Zeros(2).RequiresGrad_()];
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(P(), lr: -1));
        Assert.Contains("Adam: invalid learning rate lr -1", e.Message);
        Assert.Contains("beta1", Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(P(), beta1: 1.0)).Message);
        Assert.Contains("beta2", Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW(P(), beta2: -0.1)).Message);
        Assert.Contains("eps", Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(P(), eps: -1e-8)).Message);
        Assert.Contains("weight_decay", Assert.Throws<ArgumentOutOfRangeException>(() => new SGD(P(), weightDecay: -1)).Message);
        Assert.Contains("momentum", Assert.Throws<ArgumentOutOfRangeException>(() => new SGD(P(), momentum: -0.5)).Message);
        Assert.Contains("alpha", Assert.Throws<ArgumentOutOfRangeException>(() => new RMSprop(P(), alpha: -1)).Message);
        Assert.Contains("learning rate", Assert.Throws<ArgumentOutOfRangeException>(() => new SGD(P(), lr: double.NaN)).Message);
        Assert.Contains("Nesterov", Assert.Throws<ArgumentException>(() => new SGD(P(), lr: 0.1, nesterov: true)).Message);
        Assert.Contains("history_size", Assert.Throws<ArgumentOutOfRangeException>(() => new LBFGS(P(), historySize: 0)).Message);
        Assert.Contains("strong_wolfe", Assert.Throws<ArgumentException>(() => new LBFGS(P(), lineSearchFn: "backtracking")).Message);

        var opt = new SGD(P(), lr: 0.1);
        var ge = Assert.Throws<ArgumentOutOfRangeException>(() => opt.ParamGroups[0].Lr = -0.5);
        Assert.Contains("parameter group 0", ge.Message);
        Assert.Equal(0.1, opt.ParamGroups[0].Lr);
        Assert.Throws<ArgumentOutOfRangeException>(() => opt.ParamGroups[0]["nesterov"] = 2);
        Assert.Contains("unknown option 'betas'", Assert.Throws<ArgumentException>(
            () => new SGD([new ParamGroup(P(), options: [KeyValuePair.Create("betas", 0.9)])])).Message);
        Assert.Throws<KeyNotFoundException>(() => opt.ParamGroups[0]["nope"]);
    }

    [Fact]
    public void InvalidParametersThrowClearErrors()
    {
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => new SGD(Array.Empty<ParamGroup>())).Message);
        Assert.Contains("no parameters", Assert.Throws<ArgumentException>(() => new Adam(Array.Empty<Tensor>())).Message);
        var p = Tensor.Zeros(2).RequiresGrad_();
        Assert.Contains("more than once", Assert.Throws<ArgumentException>(() => new SGD([p, p])).Message);
        Assert.Contains("more than once", Assert.Throws<ArgumentException>(() => new SGD([new ParamGroup([p]), new ParamGroup([p])])).Message);
        Assert.Contains("not a leaf", Assert.Throws<AutogradException>(() => new SGD([p * 2])).Message);
        Assert.Contains("int64", Assert.Throws<DTypeMismatchException>(() => new SGD([Tensor.Arange(3, DType.Int64)])).Message);
        var lbfgs = new LBFGS([p]);
        Assert.Contains("closure", Assert.Throws<InvalidOperationException>(() => lbfgs.Step()).Message);
        Assert.Contains("several parameter groups", Assert.Throws<ArgumentException>(
            () => lbfgs.AddParamGroup(new ParamGroup([Tensor.Zeros(1).RequiresGrad_()]))).Message);
        Assert.Contains("one-element", Assert.Throws<ArgumentException>(() => lbfgs.Step(() =>
        {
            var l = p * 3;
            l.Sum().Backward();
            return l;
        })).Message);
    }

    [Fact]
    public void InvalidSchedulerAndClippingArgumentsThrow()
    {
        var p = Tensor.Zeros(1).RequiresGrad_();
        var sgd = new SGD([p], lr: 0.1, momentum: 0.9);
        Assert.Throws<ArgumentOutOfRangeException>(() => new StepLR(sgd, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CosineAnnealingLR(sgd, 0));
        Assert.Throws<ArgumentException>(() => new OneCycleLR(sgd, 0.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new OneCycleLR(sgd, 0.5, totalSteps: 10, pctStart: 1.5));
        Assert.Throws<ArgumentException>(() => new OneCycleLR(sgd, 0.5, totalSteps: 10, annealStrategy: "exp"));
        Assert.Contains("cycleMomentum", Assert.Throws<ArgumentException>(() => new OneCycleLR(new LBFGS([p]), 0.5, totalSteps: 10)).Message);
        Assert.Contains("initial_lr", Assert.Throws<ArgumentException>(() => new StepLR(new SGD([Tensor.Zeros(1).RequiresGrad_()]), 2, lastEpoch: 5)).Message);
        var oc = new OneCycleLR(sgd, 0.5, totalSteps: 3);
        for (int i = 0; i < 3; i++) oc.Step();
        var ex = Assert.Throws<InvalidOperationException>(() => oc.Step());
        Assert.Contains("totalSteps = 3", ex.Message);
        Assert.Equal(3, oc.LastEpoch);  // a failed step changes nothing

        Assert.Throws<ArgumentOutOfRangeException>(() => Clipping.ClipGradNorm([p], -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Clipping.ClipGradNorm([p], 1, normType: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Clipping.ClipGradValue([p], -1));
    }
}
