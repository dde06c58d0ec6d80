using Fluxion.Models;
using Fluxion.Nn;

namespace Fluxion.Tests;

// The point-cloud layer: Fused (tiled kernels) against Naive (primitive ops), gradient checks, kinks and
// coincident positions, errors, the network's shared positions, and memory.
public class PointCloudTests
{
    private static Tensor[] Inputs(int batch, int nIn, int nOut, int k, DType dtype, int seed)
    {
        var g = new Generator(seed);
        return
        [
            Tensor.Randn([batch, nIn], dtype, g),
            Tensor.Uniform([nIn, k], -1, 1, dtype, g),
            Tensor.Uniform([nOut, k], -1, 1, dtype, g),
            Tensor.Uniform([nOut], -0.1, 0.1, dtype, g),
        ];
    }

    /// <summary>Output and the gradients for x, p, q, b of Σ seed ⊙ y.</summary>
    private static (double[] Y, double[][] Grads) Run(PointCloudMode mode, Tensor[] inputs, Tensor seed, double period = 0.1, double amplitude = 1.0)
    {
        var xs = inputs.Select(t => t.Detach().Clone().RequiresGrad_()).ToArray();
        var y = PointCloudLinear.Apply(xs[0], xs[1], xs[2], xs[3], mode, period, amplitude);
        var grads = Autograd.Grad([y], xs, [seed]);
        return (y.ToDoubleArray(), grads.Select(t => t!.ToDoubleArray()).ToArray());
    }

    /// <summary>|a − b| ≤ rtol · max(max|b|, tiny) elementwise (relative to the tensor's scale).</summary>
    [Theory]
    [InlineData(1, 5, 3, 2, 1)]       // batch of 1, tiny
    [InlineData(3, 300, 70, 3, 2)]    // not multiples of the 256 × 64 tile
    [InlineData(8, 300, 130, 4, 3)]   // large enough for two workers (per-worker sums reduced)
    [InlineData(2, 17, 65, 16, 4)]    // k = 16 (two float vectors), one row past a tile
    [InlineData(5, 9, 1, 1, 5)]       // one output neuron, k = 1
    public void FusedAgreesWithNaive(int batch, int nIn, int nOut, int k, int seed)
    {
        foreach (var (dtype, rtol) in new[] { (DType.Float64, 1e-10), (DType.Float32, 1e-4) })
        {
            var inputs = Inputs(batch, nIn, nOut, k, dtype, seed);
            var gseed = Tensor.Randn([batch, nOut], dtype, new Generator(seed + 100));
            var naive = Run(PointCloudMode.Naive, inputs, gseed);
            var fused = Run(PointCloudMode.Fused, inputs, gseed);
            TensorAssert.CloseToScale(naive.Y, fused.Y, rtol, $"{dtype} y");
            string[] names = ["grad x", "grad p", "grad q", "grad b"];
            for (int i = 0; i < 4; i++) TensorAssert.CloseToScale(naive.Grads[i], fused.Grads[i], rtol, $"{dtype} {names[i]}");
        }
    }

    [Fact]
    public void FusedAgreesWithNaiveOnRandomSizes()
    {
        var rng = new Random(2024);
        for (int trial = 0; trial < 6; trial++)
        {
            int batch = rng.Next(1, 6), nIn = rng.Next(1, 400), nOut = rng.Next(1, 150), k = rng.Next(1, 20);
            var dtype = trial % 2 == 0 ? DType.Float64 : DType.Float32;
            double rtol = dtype == DType.Float64 ? 1e-10 : 1e-4;
            var inputs = Inputs(batch, nIn, nOut, k, dtype, 300 + trial);
            var gseed = Tensor.Randn([batch, nOut], dtype, new Generator(400 + trial));
            var naive = Run(PointCloudMode.Naive, inputs, gseed);
            var fused = Run(PointCloudMode.Fused, inputs, gseed);
            string size = $"{dtype} B={batch} N_in={nIn} N_out={nOut} k={k}";
            TensorAssert.CloseToScale(naive.Y, fused.Y, rtol, $"{size} y");
            // the naive layer's Cdist takes PyTorch's GEMM form for more than 25 points (d² = ‖p‖² + ‖q‖² − 2p·q), whose float32
            // distances round differently from the fused kernel's differences (both ~4e-7 from the exact ones): a distance that
            // close to a kink of tri (every period/2) takes the other slope there, which changes one row of each position
            // gradient. So in float32 the position gradients may differ in at most one row (k entries) each.
            for (int i = 0; i < 4; i++)
            {
                if (dtype == DType.Float32 && (i == 1 || i == 2))
                {
                    double scale = naive.Grads[i].Max(Math.Abs);
                    int off = naive.Grads[i].Zip(fused.Grads[i], (e, a) => Math.Abs(e - a) > rtol * scale ? 1 : 0).Sum();
                    Assert.True(off <= k, $"{size} grad {i}: {off} entries differ (at most one row of {k} allowed: one kink flip)");
                    Assert.All(fused.Grads[i], v => Assert.True(double.IsFinite(v)));
                }
                else TensorAssert.CloseToScale(naive.Grads[i], fused.Grads[i], rtol, $"{size} grad {i}");
            }
        }
    }

    [Fact]
    public void FusedJvpAgreesWithNaive()
    {
        foreach (var (dtype, rtol) in new[] { (DType.Float64, 1e-10), (DType.Float32, 1e-4) })
        {
            var inputs = Inputs(3, 270, 70, 3, dtype, 7);
            var dirs = inputs.Select((t, i) => Tensor.Randn(t.ShapeArray, dtype, new Generator(50 + i))).ToArray();
            foreach (var which in new[] { new[] { 0, 1, 2, 3 }, new[] { 0 }, new[] { 1 }, new[] { 2 }, new[] { 3 } })
            {
                double[] Tangent(PointCloudMode mode)
                {
                    using var level = ForwardAD.Level();
                    var duals = inputs.Select((t, i) => which.Contains(i) ? ForwardAD.MakeDual(t, dirs[i]) : t).ToArray();
                    var (_, tan) = ForwardAD.Unpack(PointCloudLinear.Apply(duals[0], duals[1], duals[2], duals[3], mode));
                    return tan!.ToDoubleArray();
                }
                TensorAssert.CloseToScale(Tangent(PointCloudMode.Naive), Tangent(PointCloudMode.Fused), rtol, $"{dtype} jvp along inputs [{string.Join(",", which)}]");
            }
        }
    }

    [Fact]
    public void GradCheckNaiveSecondOrder()
    {
        var inputs = Inputs(2, 3, 4, 2, DType.Float64, 11);
        GradCheck.Assert(t => PointCloudLinear.Apply(t[0], t[1], t[2], t[3], PointCloudMode.Naive), inputs, secondOrder: true);
    }

    [Fact]
    public void GradCheckFused()
    {
        var inputs = Inputs(2, 3, 4, 2, DType.Float64, 11);
        GradCheck.Assert(t => PointCloudLinear.Apply(t[0], t[1], t[2], t[3], PointCloudMode.Fused), inputs, secondOrder: false);
        // a larger case (projected Jacobian), tiles and padding included
        var big = Inputs(3, 37, 20, 3, DType.Float64, 12);
        GradCheck.Assert(t => PointCloudLinear.Apply(t[0], t[1], t[2], t[3], PointCloudMode.Fused), big, secondOrder: false);
    }

    [Fact]
    public void FusedIsOnceDifferentiable()
    {
        var xs = Inputs(2, 3, 4, 2, DType.Float64, 13).Select(t => t.RequiresGrad_()).ToArray();
        var y = PointCloudLinear.Apply(xs[0], xs[1], xs[2], xs[3], PointCloudMode.Fused);
        var grads = Autograd.Grad([(y * y).Sum()], [xs[1]], createGraph: true);
        var ex = Assert.ThrowsAny<FluxionException>(() => Autograd.Grad([grads[0]!.Sum()], [xs[1]]));
        Assert.Contains("PointCloudLinearFused", ex.Message);
        Assert.Contains("OnceDifferentiable", ex.Message);

        // the JVP's result cannot be differentiated in reverse mode either
        using var level = ForwardAD.Level();
        var dual = ForwardAD.MakeDual(xs[0], Tensor.OnesLike(xs[0]));
        var (_, tangent) = ForwardAD.Unpack(PointCloudLinear.Apply(dual, xs[1], xs[2], xs[3], PointCloudMode.Fused));
        var ex2 = Assert.ThrowsAny<FluxionException>(() => Autograd.Grad([tangent!.Sum()], [xs[1]]));
        Assert.Contains("PointCloudLinearFused", ex2.Message);
        Assert.Contains("Naive", ex2.Message);
    }

    [Fact]
    public void CoincidentPositionsGiveFiniteGradients()
    {
        foreach (var dtype in new[] { DType.Float64, DType.Float32 })
        {
            var inputs = Inputs(2, 6, 5, 3, dtype, 21);
            // output neuron 1 sits on input neuron 2, output 3 on input 0; and two inputs coincide
            var p = inputs[1].ToDoubleArray();
            var q = inputs[2].ToDoubleArray();
            for (int d = 0; d < 3; d++)
            {
                q[1 * 3 + d] = p[2 * 3 + d];
                q[3 * 3 + d] = p[0 * 3 + d];
                p[4 * 3 + d] = p[5 * 3 + d];
            }
            inputs[1] = Tensor.FromDoubles(p, [6, 3], dtype);
            inputs[2] = Tensor.FromDoubles(q, [5, 3], dtype);
            var gseed = Tensor.Randn([2, 5], dtype, new Generator(3));
            var naive = Run(PointCloudMode.Naive, inputs, gseed);
            var fused = Run(PointCloudMode.Fused, inputs, gseed);
            double rtol = dtype == DType.Float64 ? 1e-10 : 1e-4;
            TensorAssert.CloseToScale(naive.Y, fused.Y, rtol, "y");
            for (int i = 0; i < 4; i++)
            {
                Assert.All(naive.Grads[i], v => Assert.True(double.IsFinite(v)));
                TensorAssert.CloseToScale(naive.Grads[i], fused.Grads[i], rtol, $"grad {i}");
            }
        }
    }

    [Fact]
    public void SubgradientsAtKinksAndAtZeroDistance()
    {
        // one input neuron at the origin; outputs at distance 0 (coincident), p (peak), 2p (trough),
        // p/2 (rising side, slope +A/p) and 3p/2 (falling side, slope −A/p)
        const double p = 0.1;
        foreach (var dtype in new[] { DType.Float64, DType.Float32 })
        {
            var pos = Tensor.Zeros([1, 2], dtype);
            var q = Tensor.FromDoubles([0, 0, p, 0, 2 * p, 0, 0, 0.05, 0, 0.15], [5, 2], dtype);
            var x = Tensor.Ones([1, 1], dtype);
            var b = Tensor.Zeros([5], dtype);
            foreach (var mode in new[] { PointCloudMode.Naive, PointCloudMode.Fused })
            {
                var qq = q.Clone().RequiresGrad_();
                var y = PointCloudLinear.Apply(x, pos, qq, b, mode, p, 1.0);
                // values: tri(0) = −A/2, tri(p) = A/2, tri(2p) = −A/2, tri(0.05) = 0, tri(0.15) = 0 (N_in = 1)
                var yv = y.ToDoubleArray();
                double[] expectY = [-0.5, 0.5, -0.5, 0, 0];
                for (int j = 0; j < 5; j++) Assert.True(Math.Abs(yv[j] - expectY[j]) < 1e-6, $"{mode} {dtype} y[{j}] = {yv[j]}");
                var gq = Autograd.Grad([y.Sum()], [qq])[0]!.ToDoubleArray();
                // ∂tri(‖q‖)/∂q = tri'(d)·q/d: 0 at d = 0; 0 at the peak; +A/p·q/d at the trough; +A/p at 0.05; −A/p at 0.15
                double[] expect = [0, 0, 0, 0, 10, 0, 0, 10, 0, -10];
                for (int i = 0; i < expect.Length; i++)
                    Assert.True(Math.Abs(gq[i] - expect[i]) < 1e-4, $"{mode} {dtype} grad q[{i}] = {gq[i]}, expected {expect[i]}");
            }
        }
    }

    [Fact]
    public void ClearErrorsNameTheLayer()
    {
        var e1 = Assert.Throws<ArgumentException>(() => new PointCloudLinear(4, 3, 0));
        Assert.Contains("PointCloudLinear(4, 3, k=0)", e1.Message);
        var e2 = Assert.Throws<ArgumentException>(() => new PointCloudLinear(4, 3, 2, period: 0));
        Assert.Contains("PointCloudLinear(4, 3, k=2)", e2.Message);
        Assert.Contains("period", e2.Message);
        var layer = new PointCloudLinear(4, 3, 2);
        Assert.Throws<ArgumentException>(() => layer.Period = -1);
        var e3 = Assert.Throws<ShapeMismatchException>(() => layer.Forward(Tensor.Zeros(2, 5)));
        Assert.Contains("PointCloudLinear(4, 3, k=2)", e3.Message);
        Assert.Contains("[2, 5]", e3.Message);
        Assert.Throws<ArgumentException>(() => new PointCloudNetwork([4, 3], 0));
        foreach (var mode in new[] { PointCloudMode.Naive, PointCloudMode.Fused })
            Assert.Throws<ShapeMismatchException>(() => PointCloudLinear.Apply(Tensor.Zeros(2, 3), Tensor.Zeros(4, 2), Tensor.Zeros(3, 2), null, mode));
    }

    [Fact]
    public void LayerInitShapesAndLeadingDims()
    {
        var layer = new PointCloudLinear(6, 4, 3, generator: new Generator(1));
        Assert.Equal([6, 3], layer.InputPositions.ShapeArray);
        Assert.Equal([4, 3], layer.OutputPositions.ShapeArray);
        Assert.All(layer.InputPositions.ToDoubleArray(), v => Assert.InRange(v, -1, 1));
        Assert.All(layer.Bias!.ToDoubleArray(), v => Assert.InRange(v, -0.1, 0.1));
        Assert.Equal(6 * 3 + 4 * 3 + 4, layer.ParameterCount());
        var x = Tensor.Randn([2, 5, 6], DType.Float32, new Generator(2));
        var y = layer.Forward(x);
        Assert.Equal([2, 5, 4], y.ShapeArray);
        layer.Mode = PointCloudMode.Naive;
        TensorAssert.CloseToScale(layer.Forward(x).ToDoubleArray(), y.ToDoubleArray(), 1e-5, "leading dims");
        Assert.Equal([4], layer.Forward(Tensor.Randn([6], DType.Float32)).ShapeArray);
    }

    [Fact]
    public void NetworkSharesPositions()
    {
        var net = new PointCloudNetwork([10, 7, 3], k: 2, generator: new Generator(5));
        Assert.Same(net.Layers[0].OutputPositions, net.Layers[1].InputPositions);
        Assert.Equal((10 + 7 + 3) * 2 + 7 + 3, net.ParameterCount());
        Assert.Equal(10 * 7 + 7 + 7 * 3 + 3, net.DenseParameterCount);
        Assert.Equal(["0.input_positions", "0.output_positions", "0.bias", "1.output_positions", "1.bias"], net.NamedParameters().Select(p => p.Name).ToArray());
        net.To(DType.Float64);
        Assert.Same(net.Layers[0].OutputPositions, net.Layers[1].InputPositions);
        Assert.Equal(DType.Float64, net.Layers[1].InputPositions.DType);
        var clone = (PointCloudNetwork)net.DeepClone();
        Assert.Same(clone.Layers[0].OutputPositions, clone.Layers[1].InputPositions);

        // the shared position gets gradient from both layers, the same in both modes
        var x = Tensor.Randn([4, 10], DType.Float64, new Generator(6));
        double[] SharedGrad(PointCloudMode mode)
        {
            net.Mode = mode;
            net.ZeroGrad();
            net.Forward(x).Square().Sum().Backward();
            return net.Layers[1].InputPositions.Grad!.ToDoubleArray();
        }
        TensorAssert.CloseToScale(SharedGrad(PointCloudMode.Naive), SharedGrad(PointCloudMode.Fused), 1e-10, "shared position grad");
    }

    [Fact]
    public void FusedSavesOnlyInputsAndUsesLittleMemory()
    {
        const int n = 1024, m = 768;
        var inputs = Inputs(4, n, m, 8, DType.Float32, 31).Select(t => t.RequiresGrad_()).ToArray();
        var y = PointCloudLinear.Apply(inputs[0], inputs[1], inputs[2], inputs[3], PointCloudMode.Fused);
        var saved = MemoryTracker.SavedForBackward(y);
        Assert.Equal((4 * n + n * 8 + m * 8) * 4L, saved.SavedBytes);

        long Peak(PointCloudMode mode) => MemoryTracker.Measure(() =>
        {
            var yy = PointCloudLinear.Apply(inputs[0], inputs[1], inputs[2], inputs[3], mode);
            yy.Sum().Backward();
        }).PeakBytes;
        long naive = Peak(PointCloudMode.Naive), fused = Peak(PointCloudMode.Fused);
        Assert.True(naive > n * m * 4 * 3, $"naive peak {naive}");
        // inputs' copies, per-worker sums and two tile buffers per worker: far below one n × m matrix
        Assert.True(fused < n * m * 4 / 2, $"fused peak {fused} bytes (naive {naive})");
    }
}
