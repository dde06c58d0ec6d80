using Fluxion;
using Fluxion.Nn;
using Xunit;

namespace Fluxion.Tests;

/// <summary>Functional.Compile and Module.Compile: traced graphs replayed bit for bit as eager (float64), guards and
/// retracing, the joint forward+backward graph, the passes (DCE, CSE, constant folding, fusion, memory planning) and
/// the typed errors for what a static graph cannot replay.</summary>
public class CompileTests
{
    /// <summary>A function over fresh leaf tensors (not module parameters) compiles on its first calls: the leaves'
    /// gradient accumulators are created during the first trace, and the backward must still run its ops in the same
    /// order in the second trace (the check that the graph does not depend on the values compares them op by op).</summary>
    [Fact]
    public void FreshLeavesCompileWithoutAnEagerCallFirst()
    {
        var w1 = Tensor.Randn([16, 16], dtype: DType.Float64, generator: new Generator(1));
        w1.RequiresGrad = true;
        var w2 = Tensor.Randn([16, 16], dtype: DType.Float64, generator: new Generator(2));
        w2.RequiresGrad = true;
        var x = Tensor.Randn([8, 16], dtype: DType.Float64, generator: new Generator(3));
        Tensor F(Tensor x)
        {
            var loss = x.MatMul(w1).Sin().MatMul(w2).Square().Sum();
            loss.Backward();
            return loss;
        }
        var f = Functional.Compile(F);
        var grads = new List<double[]>();
        for (int call = 0; call < 3; call++)
        {
            w1.Grad = null;
            w2.Grad = null;
            f.Call(x);
            grads.Add(w1.Grad!.ToDoubleArray());
        }
        w1.Grad = null;
        w2.Grad = null;
        F(x);
        // equal up to rounding: with the arena, the products' operands sit at other addresses and the GEMM's vector
        // sums may round differently in the last bit (noted in the closing note of session 6)
        var eager = w1.Grad!.ToDoubleArray();
        foreach (var g in grads)
            for (int i = 0; i < eager.Length; i++) Assert.Equal(eager[i], g[i], 1e-12 * Math.Max(1, Math.Abs(eager[i])));
    }

    private static Tensor R(int seed, DType dtype, params int[] shape) => Tensor.Randn(shape, dtype: dtype, generator: new Generator(seed));

    private static void Same(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.Shape.ToArray(), actual.Shape.ToArray());
        Assert.Equal(expected.ToDoubleArray(), actual.ToDoubleArray());
    }

    private static Sequential Mlp() => new(new Linear(8, 16, dtype: DType.Float64, generator: new Generator(1)), new Tanh(),
        new Linear(16, 16, dtype: DType.Float64, generator: new Generator(2)), new ReLU(), new Linear(16, 3, dtype: DType.Float64, generator: new Generator(3)));

    [Fact]
    public void MlpTrainingStepEqualsEagerBitForBit()
    {
        var model = Mlp();
        Tensor Step(Tensor[] xs)
        {
            var loss = Losses.CrossEntropy(model.Forward(xs[0]), xs[1]);
            loss.Backward();
            return loss;
        }
        var compiled = Functional.Compile(Step);
        for (int call = 0; call < 4; call++)
        {
            var x = R(10 + call, DType.Float64, 5, 8);
            var y = Tensor.FromArray(new long[] { 0, 2, 1, call % 3, 2 });
            model.ZeroGrad();
            var eagerLoss = Step([x, y]);
            var eagerGrads = model.Parameters().Select(p => p.Grad!.Clone()).ToArray();
            model.ZeroGrad();
            var loss = compiled.Call(x, y);
            Same(eagerLoss, loss);
            var ps = model.Parameters().ToArray();
            for (int i = 0; i < ps.Length; i++) Same(eagerGrads[i], ps[i].Grad!);
        }
        Assert.Equal(1, compiled.Traces);
        var g = compiled.LastGraph!;
        Assert.True(g.Joint);
        Assert.False(g.Recording);
        Assert.Contains(g.Ops, o => o.Op == "CrossEntropyBackward");
        Assert.DoesNotContain("not bit-identical", g.ToText());
        // gradients accumulate onto existing ones as eager's do
        var before = model.Parameters().First().Grad!.Clone();
        compiled.Call(R(20, DType.Float64, 5, 8), Tensor.FromArray(new long[] { 0, 1, 2, 0, 1 }));
        Assert.NotEqual(before.ToDoubleArray(), model.Parameters().First().Grad!.ToDoubleArray());
    }

    private static Sequential Cnn() => new(new Conv2d(1, 4, 3, padding: 1, dtype: DType.Float64, generator: new Generator(4)), new ReLU(), new MaxPool2d(2),
        new Conv2d(4, 6, 3, dtype: DType.Float64, generator: new Generator(5)), new Tanh(), new Flatten(), new Linear(6 * 2 * 2, 5, dtype: DType.Float64, generator: new Generator(6)));

    [Fact]
    public void CnnForwardEqualsEagerBitForBit()
    {
        var cnn = Cnn();
        var compiled = cnn.Compile();
        using (Autograd.NoGrad())
            for (int call = 0; call < 4; call++)
            {
                var x = R(30 + call, DType.Float64, 2, 1, 8, 8);
                Same(cnn.Forward(x), compiled.Forward(x));
            }
        Assert.Equal(1, compiled.Compiled.Traces);
        Assert.False(compiled.Compiled.LastGraph!.Recording);
        Assert.DoesNotContain("not bit-identical", compiled.Compiled.LastGraph.ToText());
        Assert.Equal(cnn.Parameters().Count(), compiled.Parameters().Count());
    }

    [Fact]
    public void CnnTrainingStepEqualsEagerBitForBit()
    {
        // max pooling's argmax positions are recomputed by the replay and passed on to its backward
        var cnn = Cnn();
        Tensor Step(Tensor[] xs)
        {
            var loss = Losses.CrossEntropy(cnn.Forward(xs[0]), xs[1]);
            loss.Backward();
            return loss;
        }
        var compiled = Functional.Compile(Step);
        for (int call = 0; call < 4; call++)
        {
            var x = R(60 + call, DType.Float64, 3, 1, 8, 8);
            var y = Tensor.FromArray(new long[] { call % 5, 4, 1 });
            cnn.ZeroGrad();
            var eagerLoss = Step([x, y]);
            var eagerGrads = cnn.Parameters().Select(p => p.Grad!.Clone()).ToArray();
            cnn.ZeroGrad();
            Same(eagerLoss, compiled.Call(x, y));
            var ps = cnn.Parameters().ToArray();
            for (int i = 0; i < ps.Length; i++) Same(eagerGrads[i], ps[i].Grad!);
        }
        var g = compiled.LastGraph!;
        Assert.Contains(g.Ops, o => o.Op == "MaxPool2dBackward");
        Assert.DoesNotContain(g.Ops, o => o.Op == "Clone"); // the engine's copies of fresh gradients are elided
        Assert.DoesNotContain("not bit-identical", g.ToText());
    }

    [Fact]
    public void CompiledModuleOutputsCarryTheGraphWhenTheyNeedOne()
    {
        var cnn = Cnn();
        var compiled = cnn.Compile();
        for (int call = 0; call < 2; call++)
        {
            var x = R(40 + call, DType.Float64, 2, 1, 8, 8);
            cnn.ZeroGrad();
            cnn.Forward(x).Square().Sum().Backward();
            var eager = cnn.Parameters().Select(p => p.Grad!.Clone()).ToArray();
            cnn.ZeroGrad();
            var y = compiled.Forward(x);
            Assert.True(y.RequiresGrad);
            y.Square().Sum().Backward();
            var ps = cnn.Parameters().ToArray();
            for (int i = 0; i < ps.Length; i++) Same(eager[i], ps[i].Grad!);
        }
        Assert.True(compiled.Compiled.LastGraph!.Recording);
    }

    [Fact]
    public void GradInsideTheFunctionIsTracedAsOps()
    {
        var w = R(50, DType.Float64, 6, 6);
        Tensor F(Tensor[] xs)
        {
            var x = xs[0].Detach().RequiresGrad_();
            var e = x.MatMul(w).Tanh().Square().Sum();
            return Autograd.Grad(e, x) * 2;
        }
        var compiled = Functional.Compile(F);
        for (int call = 0; call < 4; call++)
        {
            var x = R(51 + call, DType.Float64, 4, 6);
            Same(F([x]), compiled.Call(x));
        }
        Assert.Equal(1, compiled.Traces);
        Assert.True(compiled.LastGraph!.Stats.LiveOps > 4);
    }

    [Fact]
    public void GuardsRetraceOnShapeDTypeAndRequiresGradWithABoundedCache()
    {
        var compiled = Functional.Compile(x => (x.Exp() * 2).Sum(1), new CompileOptions { CacheSize = 2 });
        compiled.Call(R(1, DType.Float64, 3, 4));
        compiled.Call(R(2, DType.Float64, 3, 4));
        Assert.Equal(1, compiled.Traces);
        var wider = R(3, DType.Float64, 3, 5);
        Same((wider.Exp() * 2).Sum(1), compiled.Call(wider));
        Assert.Equal(2, compiled.Traces);
        compiled.Call(R(4, DType.Float64, 3, 4));
        Assert.Equal(2, compiled.Traces);
        var f32 = R(5, DType.Float32, 3, 4);
        Same((f32.Exp() * 2).Sum(1), compiled.Call(f32));
        Assert.Equal(3, compiled.Traces);
        Assert.Equal(2, compiled.CachedGraphs);
        // [3, 5] was least recently used: evicted, traced again
        compiled.Call(R(6, DType.Float64, 3, 5));
        Assert.Equal(4, compiled.Traces);
        compiled.Call(R(7, DType.Float64, 3, 4).RequiresGrad_());
        Assert.Equal(5, compiled.Traces);
    }

    [Fact]
    public void DataDependentControlFlowIsATypedErrorNamingTheOp()
    {
        var item = Functional.Compile(x => x.Sum().Item<double>() > 0 ? x : -x);
        var e = Assert.Throws<CompileException>(() => item.Call(R(1, DType.Float64, 3)));
        Assert.Contains("Item", e.Message);

        var masked = Functional.Compile(x => x.MaskedSelect(x.Gt(0)).Exp());
        masked.Call(Tensor.FromArray(new[] { 1.0, -1, 2 }));
        var e2 = Assert.Throws<CompileException>(() => masked.Call(Tensor.FromArray(new[] { 1.0, 1, 2 })));
        Assert.Contains("IndexSelect", e2.Message);

        var drop = new Sequential(new Linear(4, 4, dtype: DType.Float64), new Dropout(0.5)).Compile();
        var e3 = Assert.Throws<CompileException>(() => drop.Forward(R(2, DType.Float64, 2, 4)));
        Assert.Contains("random", e3.Message);
    }

    [Fact]
    public void DeadCodeAndCommonSubexpressionsAreRemoved()
    {
        var compiled = Functional.Compile(xs =>
        {
            var x = xs[0];
            _ = x.Sin().Cos(); // unused
            return [x.Exp() + x.Exp()];
        });
        var x = R(1, DType.Float64, 4, 5);
        compiled.Invoke(x);
        var s = compiled.LastGraph!.Stats;
        Assert.Equal(5, s.TracedOps);
        Assert.Equal(2, s.DeadOps);
        Assert.Equal(1, s.CseMerged);
        Assert.Equal(2, s.LiveOps);
        Same(x.Exp() + x.Exp(), compiled.Invoke(x)[0]);
    }

    [Fact]
    public void FrozenParametersAreFoldedOnce()
    {
        var w = R(2, DType.Float64, 5, 3).RequiresGrad_();
        Tensor F(Tensor x) => x.MatMul((w.Tanh() * 3).Exp());
        var compiled = Functional.Compile(F, new CompileOptions { FreezeParameters = true });
        var x = R(1, DType.Float64, 4, 5);
        using (Autograd.NoGrad())
        {
            compiled.Call(x);
            var s = compiled.LastGraph!.Stats;
            Assert.Equal(3, s.Folded);
            Assert.Equal(1, s.LiveOps);
            Same(F(x), compiled.Call(x));
        }
    }

    private static Tensor Chain(Tensor x)
    {
        var y = x;
        for (int i = 0; i < 5; i++) y = ((y * 0.5 + 0.25).Tanh() - y.Sigmoid()) * y;
        return y;
    }

    [Fact]
    public void ElementwiseChainsFuseIntoOnePass()
    {
        var compiled = Functional.Compile(Chain);
        // float64: bit for bit; several blocks and a short tail merged into the last block
        var x = R(1, DType.Float64, 3, 2100);
        compiled.Call(x);
        Same(Chain(x), compiled.Call(x));
        var s = compiled.LastGraph!.Stats;
        Assert.True(s.FusedGroups == 1 && s.FusedOps == 30, compiled.LastGraph.ToText());
        Assert.All(compiled.LastGraph.Ops, o => Assert.Equal(0, o.Group));
        // float32: the same kernels per element, stated tolerance 1e-6 relative (in practice equal)
        var x32 = R(2, DType.Float32, 64, 100);
        compiled.Call(x32);
        var eager = Chain(x32).ToDoubleArray();
        var fused = compiled.Call(x32).ToDoubleArray();
        for (int i = 0; i < eager.Length; i++) Assert.True(Math.Abs(eager[i] - fused[i]) <= 1e-6 * Math.Max(1, Math.Abs(eager[i])));
    }

    [Fact]
    public void GeneratedFusedLoopsEqualEager()
    {
        // float64: IEEE-exact ops and Math.Tanh per lane, bit for bit; 3003 elements (a 3-element tail through the padded
        // vector), a scalar operand and a group output read outside the group (y2 feeds the matmul-free reduction)
        Tensor F64(Tensor x)
        {
            var y = (x * 0.5 + 0.25).Tanh() - x.Abs().Sqrt();
            var y2 = y * x / (x + 3);
            return (y2.Floor() + y2.Ceil() - y2.Trunc()) * y2 + y2.Sum();
        }
        var c64 = Functional.Compile(F64);
        var x = R(4, DType.Float64, 3, 1001);
        c64.Call(x);
        c64.Call(x);
        Assert.True(c64.LastGraph!.GeneratedGroups >= 1, c64.LastGraph.ToText());
        for (int call = 0; call < 2; call++)
        {
            var xi = R(5 + call, DType.Float64, 3, 1001) * 3;
            Same(F64(xi), c64.Call(xi));
        }
        // float32: exp, sigmoid and tanh take the formulas of their eager kernels; stated tolerance 1e-6 relative
        // (inputs from 1e-9 to 20 in magnitude: tanh's small-input branch, its quotient and saturation, exp's range)
        Tensor F32(Tensor x) => ((x * 0.5).Tanh() - x.Sigmoid()) * x + (x * 0.25).Exp() / (x.Tanh() + 2);
        var c32 = Functional.Compile(F32);
        var mags = R(6, DType.Float32, 5, 1003);
        var x32 = mags * (R(7, DType.Float32, 5, 1003) * 4 - 9).Exp2();
        c32.Call(x32);
        c32.Call(x32);
        Assert.Equal(1, c32.LastGraph!.GeneratedGroups);
        var eager = F32(x32).ToDoubleArray();
        var fused = c32.Call(x32).ToDoubleArray();
        for (int i = 0; i < eager.Length; i++)
            Assert.True(Math.Abs(eager[i] - fused[i]) <= 1e-6 * Math.Max(1, Math.Abs(eager[i])), $"element {i}: eager {eager[i]}, fused {fused[i]}");
        // the interpreter (GeneratedCode off) gives the same values as the generated loop in float64
        CompiledGraph.GeneratedCode = false;
        try
        {
            var interp = Functional.Compile(F64);
            interp.Call(x);
            interp.Call(x);
            Assert.Equal(0, interp.LastGraph!.GeneratedGroups);
            Same(c64.Call(x), interp.Call(x));
        }
        finally { CompiledGraph.GeneratedCode = true; }
    }

    [Theory]
    [InlineData("sgd")]
    [InlineData("adam")]
    public void OptimizerStepInTheCompiledStepEqualsEagerBitForBit(string name)
    {
        Optim.Optimizer Make(Sequential m) => name == "sgd"
            ? new Optim.SGD(m.Parameters(), lr: 0.05, momentum: 0.9, weightDecay: 1e-3, nesterov: true)
            : new Optim.Adam(m.Parameters(), lr: 1e-2, weightDecay: 1e-3, amsgrad: true);
        var eagerModel = Mlp();
        var model = Mlp();
        var eagerOpt = Make(eagerModel);
        var opt = Make(model);
        Tensor Loss(Sequential m, Tensor[] xs) => Losses.CrossEntropy(m.Forward(xs[0]), xs[1]);
        Tensor Train(Tensor[] xs)
        {
            var loss = Loss(model, xs);
            loss.Backward();
            return loss.Detach();
        }
        Tensor Forward(Tensor[] xs) => Loss(model, xs);
        var step = Functional.Compile(Train, new CompileOptions { Optimizer = opt });
        for (int call = 0; call < 5; call++)
        {
            var x = R(20 + call, DType.Float64, 5, 8);
            var y = Tensor.FromArray(new long[] { 0, 2, 1, call % 3, 2 });
            eagerOpt.ZeroGrad();
            var eagerLoss = Loss(eagerModel, [x, y]);
            eagerLoss.Backward();
            eagerOpt.Step();
            var loss = step.Call(x, y);
            Same(eagerLoss.Detach(), loss);
            foreach (var (pe, pc) in eagerModel.Parameters().Zip(model.Parameters()))
            {
                Same(pe, pc);
                Same(pe.Grad!, pc.Grad!);
            }
        }
        Assert.Equal(1, step.Traces);
        Assert.True(step.LastGraph!.Joint);
        // a function without a backward has no step to take
        var forwardOnly = Functional.Compile(Forward, new CompileOptions { Optimizer = opt });
        var e = Assert.Throws<CompileException>(() => forwardOnly.Call(R(1, DType.Float64, 5, 8), Tensor.FromArray(new long[] { 0, 1, 2, 0, 1 })));
        Assert.Contains("Optimizer", e.Message);
    }

    [Fact]
    public void MemoryPlanningReusesArenaBuffersByLiveness()
    {
        var w = R(3, DType.Float64, 32, 32);
        Tensor F(Tensor x)
        {
            var y = x;
            for (int i = 0; i < 4; i++) y = (y.Tanh() * 2).MatMul(w).Sigmoid().MatMul(w);
            return y.Exp();
        }
        var compiled = Functional.Compile(F);
        var x = R(4, DType.Float64, 16, 32);
        compiled.Call(x);
        var s = compiled.LastGraph!.Stats;
        // known before the first replay
        Assert.True(s.ArenaBuffers >= 1);
        Assert.True(s.ArenaBytes < s.PlannedBytes, $"arena {s.ArenaBytes} vs planned {s.PlannedBytes}");
        Assert.True(s.PredictedPeakBytes >= s.ArenaBytes);
        for (int call = 0; call < 2; call++)
        {
            var xi = R(5 + call, DType.Float64, 16, 32);
            var first = compiled.Call(xi);
            Same(F(xi), first);
            // the returned tensor is not in the arena: a later replay leaves it alone
            var copy = first.Clone();
            compiled.Call(R(9, DType.Float64, 16, 32));
            Same(copy, first);
        }
        Assert.Contains("@buf", compiled.LastGraph.ToText());
        Assert.Contains("digraph", compiled.LastGraph.ToDot());
    }

    /// <summary>Every op whose entry registers a register formula (the static vector function compiled fused loops call)
    /// gets from it the bits its eager kernel gives, in float32 and float64, on values across the float range with the
    /// special ones (±0, ±inf, NaN, tanh's 0.625 switch), 1003 elements (a tail).</summary>
    [Fact]
    public void RegisteredRegisterFormulasEqualTheirEagerKernelsBitForBit()
    {
        var rng = new Random(11);
        double[] specials = [0.0, -0.0, double.PositiveInfinity, double.NegativeInfinity, double.NaN, 0.625, -0.625, 0.6249999, 1e-30, -1e-40, 88.7, -104, 1e300];
        var values = new double[1003];
        for (int i = 0; i < values.Length; i++)
            values[i] = i < specials.Length ? specials[i] : (rng.NextDouble() * 2 - 1) * Math.Pow(2, rng.Next(-40, 8));
        int checkedFormulas = 0;
        foreach (var def in OpRegistry.All)
        {
            if (def.Forward.Register(DType.Float32) is { } f32)
            {
                var x = values.Select(v => (float)v).ToArray();
                var eager = new float[x.Length];
                def.Forward.Kernel<SpanMap<float>>(Device.Cpu, DType.Float32)!(x, eager);
                AssertSameBits(def.Name, x, eager, f32);
                checkedFormulas++;
            }
            if (def.Forward.Register(DType.Float64) is { } f64)
            {
                var x = values.ToArray();
                var eager = new double[x.Length];
                def.Forward.Kernel<SpanMap<double>>(Device.Cpu, DType.Float64)!(x, eager);
                AssertSameBits(def.Name, x, eager, f64);
                checkedFormulas++;
            }
        }
        // exp, sigmoid and tanh in float32; tanh in float64; sqrt, abs, floor, ceil and trunc in both
        Assert.True(checkedFormulas >= 14, $"{checkedFormulas} register formulas registered");

        static void AssertSameBits<T>(string op, T[] x, T[] eager, System.Reflection.MethodInfo formula) where T : unmanaged
        {
            int w = System.Runtime.Intrinsics.Vector256<T>.Count;
            var lanes = new T[w];
            for (int i = 0; i < x.Length; i += w)
            {
                int m = Math.Min(w, x.Length - i);
                Array.Clear(lanes);
                Array.Copy(x, i, lanes, 0, m);
                var r = (System.Runtime.Intrinsics.Vector256<T>)formula.Invoke(null, [System.Runtime.Intrinsics.Vector256.Create(lanes)])!;
                for (int k = 0; k < m; k++)
                {
                    T got = System.Runtime.Intrinsics.Vector256.GetElement(r, k);
                    Assert.True(Bits(got) == Bits(eager[i + k]), $"{op} {typeof(T).Name} at x = {x[i + k]}: eager {eager[i + k]}, register formula {got}");
                }
            }
        }

        static long Bits<T>(T v) => v is float f ? BitConverter.SingleToInt32Bits(f) : BitConverter.DoubleToInt64Bits((double)(object)v!);
    }

    /// <summary>The 20-op chain of <c>bench compile</c> (scale, tanh, sigmoid, subtract, multiply, four times) fused into
    /// one generated loop equals eager bit for bit in float32 too: every op's register formula is the one its eager
    /// kernel loops over. [1024, 1003] values (the padded tail, two threads' halves).</summary>
    [Fact]
    public void Float32GeneratedChainEqualsEagerBitForBit()
    {
        static Tensor Chain20(Tensor x)
        {
            var y = x;
            for (int i = 0; i < 4; i++) y = ((y * 0.5).Tanh() - y.Sigmoid()) * y;
            return y;
        }
        var c = Functional.Compile(Chain20);
        var x = R(12, DType.Float32, 1024, 1003) * 3;
        c.Call(x);
        c.Call(x);
        Assert.Equal(1, c.LastGraph!.GeneratedGroups);
        // several loops (at most FusedCode.FormulasPerStage of the 8 tanh/sigmoid each), y passed between them through scratch blocks
        Assert.True(c.LastGraph.GeneratedStages > 1, c.LastGraph.ToText());
        for (int call = 0; call < 2; call++)
        {
            var xi = R(13 + call, DType.Float32, 1024, 1003) * 3;
            var eager = Chain20(xi).ToArray<float>();
            var fused = c.Call(xi).ToArray<float>();
            for (int i = 0; i < eager.Length; i++)
                Assert.True(BitConverter.SingleToInt32Bits(eager[i]) == BitConverter.SingleToInt32Bits(fused[i]), $"element {i}: eager {eager[i]}, fused {fused[i]}");
        }
    }
}

/// <summary>A float64 chain of six tanh (register formula: Math.Tanh per lane) with arithmetic between them, fused
/// into one generated group of several loops run block by block (values passed between loops through scratch
/// blocks; a group output made in an early loop and read outside), equals eager bit for bit: 3 × 2101 values (three
/// blocks, a 3-element padded tail), then fresh inputs.</summary>
public class FusedStagesTests
{
    private static Tensor R(int seed, params int[] shape) => Tensor.Randn(shape, DType.Float64, new Generator(seed));

    private static (Tensor, Tensor) Chain(Tensor x)
    {
        var y = x;
        Tensor mid = x;
        for (int i = 0; i < 3; i++)
        {
            y = (y * 0.5 + 0.25).Tanh() * y - (y / 3).Tanh();
            if (i == 0) mid = y;
        }
        return (y, mid.Sum());
    }

    [Fact]
    public void Float64GeneratedStagesEqualEagerBitForBit()
    {
        var c = Functional.Compile((Tensor[] xs) => { var (y, s) = Chain(xs[0]); return [y, s]; });
        var x = R(1, 3, 2101) * 2;
        c.Call(x);
        c.Call(x);
        Assert.Equal(1, c.LastGraph!.GeneratedGroups);
        Assert.True(c.LastGraph.GeneratedStages >= 3, c.LastGraph.ToText());
        for (int call = 0; call < 2; call++)
        {
            var xi = R(2 + call, 3, 2101) * 2;
            var (ey, es) = Chain(xi);
            var got = c.Invoke(xi);
            var (a, b) = (ey.ToDoubleArray(), got[0].ToDoubleArray());
            for (int i = 0; i < a.Length; i++)
                Assert.True(BitConverter.DoubleToInt64Bits(a[i]) == BitConverter.DoubleToInt64Bits(b[i]), $"element {i}: eager {a[i]}, fused {b[i]}");
            Assert.Equal(BitConverter.DoubleToInt64Bits(es.ToDoubleArray()[0]), BitConverter.DoubleToInt64Bits(got[1].ToDoubleArray()[0]));
        }
    }
}

/// <summary>The compile features of the CLI: <c>fluxion train --compile</c> (the same run as eager) and <c>fluxion graph --compiled</c>.</summary>
public class CompileCliTests
{
    private static (int Code, string Out) Run(params string[] args)
    {
        var stdout = new StringWriter();
        int code = Cli.Program.Run(args, stdout, new StringWriter());
        return (code, stdout.ToString());
    }

    [Fact]
    public void TrainCompileMatchesEager()
    {
        var (c1, eager) = Run("train", "--limit", "100", "--epochs", "2", "--plain");
        var (c2, compiled) = Run("train", "--limit", "100", "--epochs", "2", "--plain", "--compile");
        Assert.Equal(0, c1);
        Assert.Equal(0, c2);
        string Acc(string s) => s.Split('\n').First(l => l.StartsWith("test accuracy"));
        Assert.Equal(Acc(eager), Acc(compiled));
        // the epochs' mean losses (printed to 4 decimals) agree: the compiled step (optimizer included) is the eager step
        string[] Losses(string s) => [.. s.Split('\n').Where(l => l.StartsWith("epoch ") && !l.Contains("  batch ")).Select(l => l.Split("  ")[1])];
        Assert.Equal(2, Losses(eager).Length);
        Assert.Equal(Losses(eager), Losses(compiled));
    }

    /// <summary><c>Trainer.Compile</c> compiles the whole step, the optimizer's included (CompileOptions.Optimizer): the
    /// per-batch losses of a float32 MLP and CNN under Adam equal eager's within float32 rounding (relative 1e-5 after 12
    /// steps; fused elementwise loops may round differently from the eager kernels), and the parameters after training too.</summary>
    [Theory]
    [InlineData("mlp")]
    [InlineData("cnn")]
    public void TrainerCompileRunsTheOptimizerStepInTheGraph(string name)
    {
        Module Make() => name == "mlp"
            ? new Sequential(new Linear(16, 32, generator: new Generator(1)), new Tanh(), new Linear(32, 16, generator: new Generator(2)), new ReLU(), new Linear(16, 4, generator: new Generator(3)))
            : new Sequential(new Conv2d(1, 4, 3, padding: 1, generator: new Generator(4)), new ReLU(), new MaxPool2d(2), new Flatten(), new Linear(4 * 4 * 4, 4, generator: new Generator(5)));
        var x = Tensor.Randn(name == "mlp" ? [48, 16] : [48, 1, 8, 8], generator: new Generator(6));
        var y = Tensor.RandInt(0, 4, [48], generator: new Generator(7));
        (List<double> Losses, Tensor[] Params) Train(bool compile)
        {
            var model = Make();
            var trainer = new Training.Trainer(model, new Optim.Adam(model.Parameters(), lr: 1e-2), (o, t) => Losses.CrossEntropy(o, t))
            {
                Compile = compile, Progress = null,
            };
            var losses = new Recorder();
            trainer.Callbacks.Add(losses);
            trainer.Fit(new Data.DataLoader(new Data.TensorDataset(x, y), batchSize: 16), epochs: 4);
            return (losses.Values, [.. model.Parameters().Select(p => p.Detach().Clone())]);
        }
        var (eagerLosses, eagerParams) = Train(false);
        var (compiledLosses, compiledParams) = Train(true);
        Assert.Equal(12, eagerLosses.Count);
        Assert.Equal(eagerLosses.Count, compiledLosses.Count);
        for (int i = 0; i < eagerLosses.Count; i++)
            Assert.True(Math.Abs(eagerLosses[i] - compiledLosses[i]) <= 1e-5 * Math.Abs(eagerLosses[i]), $"step {i}: eager {eagerLosses[i]}, compiled {compiledLosses[i]}");
        for (int p = 0; p < eagerParams.Length; p++)
        {
            var (e, c) = (eagerParams[p].ToDoubleArray(), compiledParams[p].ToDoubleArray());
            for (int i = 0; i < e.Length; i++) Assert.True(Math.Abs(e[i] - c[i]) <= 1e-5 * (1 + Math.Abs(e[i])), $"param {p}[{i}]: {e[i]} vs {c[i]}");
        }
    }

    private sealed class Recorder : Training.TrainingCallback
    {
        public readonly List<double> Values = [];
        public override void OnBatchEnd(Training.Trainer trainer, Training.BatchProgress progress) => Values.Add(progress.BatchLoss);
    }

    [Fact]
    public void GraphCompiledPrintsFusedGroupsAndWritesDot()
    {
        var (code, text) = Run("graph", "--compiled", "chain");
        Assert.Equal(0, code);
        Assert.Contains("fused group 0", text);
        var dot = Path.Combine(Path.GetTempPath(), $"fluxion-compiled-{Guid.NewGuid():N}.dot");
        try
        {
            Assert.Equal(0, Run("graph", "--compiled", "mlp", "--out", dot).Code);
            var written = File.ReadAllText(dot);
            Assert.Contains("digraph compiled", written);
            Assert.Contains("CrossEntropyBackward", written);
        }
        finally { File.Delete(dot); }
    }
}
