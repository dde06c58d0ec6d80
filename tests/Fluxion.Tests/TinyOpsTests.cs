namespace Fluxion.Tests;

/// <summary>
/// The low-overhead paths for small tensors: the fused first-order backward of elementwise ops (the same
/// derivative rule run on raw values when no graph is recorded) must agree with the differentiable tensor
/// path (taken with createGraph), for float32 and float64, 0-d, small, non-contiguous and large inputs;
/// the engine's reused pass containers must survive nested passes and errors.
/// </summary>
public class TinyOpsTests
{
    /// <summary>Values away from 0 (kinks, poles), with both signs.</summary>
    private static Tensor Input(int[] shape, DType dtype, int seed)
    {
        var g = new Generator(seed);
        int n = shape.Aggregate(1, (a, b) => a * b);
        var v = new double[n];
        for (int i = 0; i < n; i++) v[i] = (0.2 + 1.5 * g.NextDouble()) * (g.NextDouble() < 0.5 ? -1 : 1);
        return Tensor.FromArray(v, shape.Length == 0 ? [] : shape).To(dtype);
    }

    private static Tensor Leaf(Tensor t) => t.Detach().RequiresGrad_();

    /// <summary>Every registry entry that declares a fused first-order backward (<c>fluxion ops</c>' fused_backward column).</summary>
    public static TheoryData<string> FusedEntries()
    {
        var d = new TheoryData<string>();
        foreach (var op in OpRegistry.All)
            if (op.FusedBackward is not null && op.Samples is not null) d.Add(op.Name);
        return d;
    }

    /// <summary>A leaf copy of a sample input in <paramref name="dtype"/> (integer and bool inputs stay as they are).</summary>
    private static Tensor In(Tensor t, DType dtype) => t.DType is DType.Float32 or DType.Float64 ? Leaf(t.To(dtype)) : t;

    /// <summary>Every input tiled along dim 0 so the output passes the raw path's size limit, when all inputs and the
    /// output share one shape of rank &gt;= 1 (the elementwise samples); else null.</summary>
    private static Tensor[]? Large(OpSample s, Tensor y)
    {
        if (y.Rank == 0 || y.Numel == 0 || s.Inputs.Any(t => !t.ShapeArray.SequenceEqual(y.ShapeArray))) return null;
        int k = (Op.RawMaxNumel + 7 + (int)y.Numel - 1) / (int)y.Numel;
        return [.. s.Inputs.Select(t => t.Repeat([k, .. Enumerable.Repeat(1, t.Rank - 1)]))];
    }

    /// <summary>The fused first-order backward (a pass without createGraph) equals the differentiable tensor path (the
    /// same graph differentiated with createGraph) on every sample of every entry that declares one, float32 and float64,
    /// and above the raw path's size limit: gradients of sum(f(x) · w), w random.</summary>
    [Theory]
    [MemberData(nameof(FusedEntries))]
    public void FusedBackwardMatchesTensorPath(string name)
    {
        var def = OpRegistry.Find(name)!;
        int checkedCases = 0;
        foreach (var s in def.Samples!())
        {
            foreach (var dtype in new[] { DType.Float32, DType.Float64 })
            {
                double tol = dtype == DType.Float32 ? 1e-4 : 1e-11;
                var y0 = s.Call([.. s.Inputs.Select(t => In(t, dtype))]);
                foreach (var raw in new[] { s.Inputs, Large(s, y0) })
                {
                    if (raw is null) continue;
                    var xs = raw.Select(t => In(t, dtype)).ToArray();
                    var leaves = xs.Where(t => t.RequiresGrad).ToArray();
                    var y = s.Call(xs);
                    if (!y.RequiresGrad || leaves.Length == 0) continue;
                    var loss = (y * Input(y.ShapeArray, y.DType, 99)).Sum();
                    var fused = Autograd.Grad([loss], leaves, retainGraph: true, allowUnused: true);
                    var viaTensors = Autograd.Grad([loss], leaves, createGraph: true, allowUnused: true);
                    for (int i = 0; i < leaves.Length; i++)
                    {
                        if (fused[i] is null || viaTensors[i] is null) { Assert.True(fused[i] is null && viaTensors[i] is null, $"{name} '{s.Label}' {dtype}: input {i} unused on one path only"); continue; }
                        Assert.False(fused[i]!.RequiresGrad, $"{name} '{s.Label}': the first-order pass recorded a graph");
                        Assert.Equal(viaTensors[i]!.ShapeArray, fused[i]!.ShapeArray);
                        TensorAssert.Close(viaTensors[i]!.ToDoubleArray(), fused[i]!.ToDoubleArray(), rtol: tol, atol: tol, what: $"{name} '{s.Label}' {dtype} n={y.Numel} input {i}");
                    }
                    checkedCases++;
                }
            }
        }
        Assert.True(checkedCases > 0, $"{name}: no sample has a differentiable float input");
    }

    [Fact]
    public void ScalarChainGradientMatchesClosedForm()
    {
        // y = sin(tanh(x * c + c)), the benchmark's step, on float64 0-d tensors
        var x = Tensor.Scalar(0.5, DType.Float64).RequiresGrad_();
        var c = Tensor.Scalar(0.999, DType.Float64);
        var y = ((x * c) + c).Tanh().Sin();
        y.Backward();
        double u = 0.5 * 0.999 + 0.999, t = Math.Tanh(u);
        double expected = Math.Cos(t) * (1 - t * t) * 0.999;
        Assert.Equal(expected, x.Grad!.Item(), 14);
        Assert.Equal(Math.Sin(t), y.Item(), 14);
    }

    [Fact]
    public void SecondOrderThroughScalarOpsStillWorks()
    {
        var x = Tensor.Scalar(0.7, DType.Float64).RequiresGrad_();
        var y = (x * x).Tanh().Sin();
        var g = Autograd.Grad(y, x, createGraph: true);
        var gg = Autograd.Grad(g, x);
        // finite difference of the first derivative
        static double D(double v) { double u = Math.Tanh(v * v); return Math.Cos(u) * (1 - u * u) * 2 * v; }
        double h = 1e-6;
        Assert.Equal((D(0.7 + h) - D(0.7 - h)) / (2 * h), gg.Item(), 6);
        GradCheck.Assert(t => ((t[0] * t[1]).Tanh() / t[1]).Sin() - t[0], [Tensor.Scalar(0.3, DType.Float64), Tensor.Scalar(-0.8, DType.Float64)]);
    }

    [Fact]
    public void ForwardOverReverseOnScalarsKeepsTangents()
    {
        // Hvp runs a first-order backward inside a forward-AD level: the fused path must not drop tangents
        var x = Tensor.Scalar(0.4, DType.Float64);
        var v = Tensor.Scalar(1.0, DType.Float64);
        var hv = Functional.Hvp(t => (t * 2.0).Tanh().Sin(), x, v);
        static double D(double s) { double u = Math.Tanh(2 * s); return Math.Cos(u) * (1 - u * u) * 2; }
        double h = 1e-6;
        Assert.Equal((D(0.4 + h) - D(0.4 - h)) / (2 * h), hv.Item(), 6);
    }

    [Fact]
    public void InPlaceChangeOfASavedScalarIsStillCaught()
    {
        var x = Tensor.Scalar(0.5).RequiresGrad_();
        var h = x * 2.0;
        var y = h.Tanh();       // saves its output
        var z = h.Sin();        // saves its input h
        using (Autograd.NoGrad()) h.AddInPlace(1.0);
        Assert.Throws<InPlaceModificationException>(() => (y + z).Backward());
    }

    [Fact]
    public void HooksAndRetainedGradsSeeScalarGradients()
    {
        var x = Tensor.Scalar(0.5, DType.Float64).RequiresGrad_();
        var h = x.Tanh();
        h.RetainGrad();
        double seen = double.NaN;
        h.RegisterHook(g => { seen = g.Item(); return g * 2.0; });
        var y = h.Sin();
        y.Backward();
        double t = Math.Tanh(0.5);
        Assert.Equal(Math.Cos(t), seen, 14);
        Assert.Equal(Math.Cos(t) * 2, h.Grad!.Item(), 14);
        Assert.Equal(Math.Cos(t) * 2 * (1 - t * t), x.Grad!.Item(), 14);
    }

    [Fact]
    public void EnginePassesSurviveErrorsAndNesting()
    {
        var x = Tensor.Scalar(0.5, DType.Float64).RequiresGrad_();
        var y = (x * 3.0).Sin();
        y.Backward();
        // a second backward through the freed graph fails ...
        Assert.Throws<AutogradException>(() => y.Backward());
        // ... and the next pass on this thread is unaffected
        var z = (x * 3.0).Sin();
        x.Grad = null;
        z.Backward();
        Assert.Equal(3 * Math.Cos(1.5), x.Grad!.Item(), 14);
        // a nested pass (a checkpointed segment recomputed and differentiated inside the outer backward)
        x.Grad = null;
        var w = Checkpoint.Run(t => (t * 3.0).Sin(), x).Tanh();
        w.Backward();
        double s = Math.Sin(1.5);
        Assert.Equal((1 - Math.Tanh(s) * Math.Tanh(s)) * 3 * Math.Cos(1.5), x.Grad!.Item(), 14);
    }

    [Fact]
    public void ConcurrentPassesThroughASharedLeafAgree()
    {
        // passes on two threads meet at x's accumulator: one owns its state, the other falls back to a map
        var x = Tensor.Scalar(0.3, DType.Float64).RequiresGrad_();
        double expected = 2 * Math.Cos(0.6);
        var errors = new int[2];
        var threads = Enumerable.Range(0, 2).Select(k => new Thread(() =>
        {
            for (int i = 0; i < 300; i++)
            {
                var y = (x * 2.0).Sin();
                for (int j = 0; j < 20; j++) y = y + 0.0;
                if (Math.Abs(Autograd.Grad(y, x).Item() - expected) > 1e-14) errors[k]++;
            }
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        Assert.Equal([0, 0], errors);
    }

    [Fact]
    public void ZeroDimBinaryOpsMatchBroadcastKernels()
    {
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
        {
            var a = Tensor.Scalar(1.7, dtype);
            var b = Tensor.Scalar(-0.3, dtype);
            var a1 = a.Reshape(1);
            foreach (var f in new Func<Tensor, Tensor, Tensor>[] { Tensor.Add, Tensor.Sub, Tensor.Mul, Tensor.Div, Tensor.Maximum, Tensor.Minimum, Tensor.Remainder })
            {
                var r = f(a, b);
                Assert.Equal(0, r.Rank);
                Assert.Equal(dtype, r.DType);
                Assert.Equal(f(a1, b).Item(), r.Item());
            }
        }
    }
}
