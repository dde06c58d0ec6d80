namespace Fluxion.Tests;

/// <summary>
/// The low-overhead paths for small tensors: the fused first-order backward of elementwise ops (the same
/// derivative rule run on raw values when no graph is recorded) must agree with the differentiable tensor
/// path (taken with createGraph), for float32 and float64, 0-d, small, non-contiguous and large inputs;
/// the engine's reused pass containers must survive nested passes and errors.
/// </summary>
public class TinyOpsTests
{
    public static TheoryData<string> UnaryNames => new()
    {
        "Exp", "Log", "Sqrt", "Rsqrt", "Abs", "Sign", "Floor", "Sin", "Cos", "Tanh", "Sigmoid", "Erf", "Gelu", "Pow", "Pow0", "Neg",
    };

    private static Tensor ApplyUnary(string name, Tensor x) => name switch
    {
        "Exp" => x.Exp(),
        "Log" => x.Abs().Log(),
        "Sqrt" => x.Abs().Sqrt(),
        "Rsqrt" => x.Abs().Rsqrt(),
        "Abs" => x.Abs(),
        "Sign" => x.Sign(),
        "Floor" => x.Floor(),
        "Sin" => x.Sin(),
        "Cos" => x.Cos(),
        "Tanh" => x.Tanh(),
        "Sigmoid" => x.Sigmoid(),
        "Erf" => x.Erf(),
        "Gelu" => x.Gelu(),
        "Pow" => x.Abs().Pow(2.5),
        "Pow0" => x.Pow(0),
        "Neg" => -x,
        _ => throw new ArgumentException(name),
    };

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

    /// <summary>First-order gradient of sum(f(x) * w) by the fused path (no graph) and by the tensor path (createGraph).</summary>
    private static (double[] Fused, double[] Tensor) BothPaths(Func<Tensor, Tensor> f, Tensor x)
    {
        var w = Input(f(x).ShapeArray, x.DType, 99);
        var fused = Autograd.Grad((f(x) * w).Sum(), x);
        var viaTensors = Autograd.Grad((f(x) * w).Sum(), x, createGraph: true);
        Assert.False(fused.RequiresGrad);
        Assert.Equal(x.ShapeArray, fused.ShapeArray);
        return (fused.ToDoubleArray(), viaTensors.ToDoubleArray());
    }

    [Theory]
    [MemberData(nameof(UnaryNames))]
    public void FusedUnaryBackwardMatchesTensorPath(string name)
    {
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
        {
            double rtol = dtype == DType.Float32 ? 1e-5 : 1e-12;
            // 0-d, small, non-contiguous (a transposed view), and above the fused path's size limit
            var inputs = new[]
            {
                Leaf(Input([], dtype, 1)),
                Leaf(Input([3, 4], dtype, 2)),
                Leaf(Input([4, 5], dtype, 3)),
                Leaf(Input([Op.RawMaxNumel + 7], dtype, 4)),
            };
            foreach (var x0 in inputs)
            {
                var x = x0;
                Func<Tensor, Tensor> f = x0.Rank == 2 && x0.Size(0) == 4 ? t => ApplyUnary(name, t.T) : t => ApplyUnary(name, t);
                var (fused, viaTensors) = BothPaths(f, x);
                TensorAssert.Close(viaTensors, fused, rtol: rtol, atol: rtol);
            }
        }
    }

    [Theory]
    [InlineData("Add")]
    [InlineData("Sub")]
    [InlineData("Mul")]
    [InlineData("Div")]
    public void FusedBinaryBackwardMatchesTensorPath(string name)
    {
        Func<Tensor, Tensor, Tensor> op = name switch
        {
            "Add" => (a, b) => a + b,
            "Sub" => (a, b) => a - b,
            "Mul" => (a, b) => a * b,
            _ => (a, b) => a / b,
        };
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
        {
            double rtol = dtype == DType.Float32 ? 1e-6 : 1e-13;
            foreach (var (sa, sb) in new (int[], int[])[] { ([], []), ([2, 3], [2, 3]), ([2, 3], [3]), ([], [4]), ([5, 1], [1, 4]) })
            {
                var a = Leaf(Input(sa, dtype, 5));
                var b = Leaf(Input(sb, dtype, 6));
                var y = op(a, b);
                var w = Input(y.ShapeArray, dtype, 7);
                var fused = Autograd.Grad([(op(a, b) * w).Sum()], [a, b]);
                var viaTensors = Autograd.Grad([(op(a, b) * w).Sum()], [a, b], createGraph: true);
                for (int i = 0; i < 2; i++)
                {
                    Assert.Equal(viaTensors[i]!.ShapeArray, fused[i]!.ShapeArray);
                    TensorAssert.Close(viaTensors[i]!.ToDoubleArray(), fused[i]!.ToDoubleArray(), rtol: rtol, atol: rtol);
                }
            }
        }
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
