using Fluxion.Nn;
using Xunit;

namespace Fluxion.Tests;

/// <summary>
/// The fused LSTM sequence op (<c>Tensor.LstmSequence</c>, one registry entry per layer direction, ∂W_hh as one GEMM) against the
/// step-by-step layer (<c>Tensor.LstmCell</c> per step): values and every gradient, both dtypes, the layer options; gradchecks in
/// float64 (reverse, forward, second order) on tiny sizes; vmap over examples with shared and per-example weights.
/// </summary>
public class LstmSequenceTests
{
    private static (Tensor[] Outs, Tensor?[] Grads) Run(LSTM m, Tensor x, (Tensor, Tensor)? hx, bool fused)
    {
        bool was = Recurrence.FusedLstmSequence;
        Recurrence.FusedLstmSequence = fused;
        try
        {
            var (y, (h, c)) = m.Forward(x, hx);
            var g = new Generator(5);
            var loss = (y * Tensor.Randn(y.ShapeArray, y.DType, g)).Sum() + (h * Tensor.Randn(h.ShapeArray, h.DType, g)).Sum()
                + (c * Tensor.Randn(c.ShapeArray, c.DType, g)).Sum();
            Tensor[] wrt = [x, .. m.Parameters(), .. hx is { } s ? new[] { s.Item1, s.Item2 } : []];
            var grads = Autograd.Grad([loss], wrt);
            return ([y, h, c], grads);
        }
        finally { Recurrence.FusedLstmSequence = was; }
    }

    [Theory]
    [InlineData(DType.Float64, false, false, true, true)]
    [InlineData(DType.Float64, true, true, false, false)]
    [InlineData(DType.Float64, true, false, true, true)]
    [InlineData(DType.Float32, true, false, true, true)]
    [InlineData(DType.Float32, false, true, true, false)]
    public void FusedSequenceMatchesTheStepByStepLayer(DType dt, bool bidirectional, bool batchFirst, bool bias, bool initialState)
    {
        var g = new Generator(3);
        var m = new LSTM(3, 5, numLayers: 2, bias: bias, batchFirst: batchFirst, bidirectional: bidirectional, dtype: dt, generator: g);
        int D = bidirectional ? 2 : 1;
        var x = (batchFirst ? Tensor.Randn([2, 4, 3], dt, g) : Tensor.Randn([4, 2, 3], dt, g)).RequiresGrad_();
        (Tensor, Tensor)? hx = initialState ? (Tensor.Randn([2 * D, 2, 5], dt, g).RequiresGrad_(), Tensor.Randn([2 * D, 2, 5], dt, g).RequiresGrad_()) : null;
        var (o1, g1) = Run(m, x, hx, fused: true);
        var (o2, g2) = Run(m, x, hx, fused: false);
        double tol = dt == DType.Float32 ? 2e-5 : 1e-12;
        for (int i = 0; i < 3; i++) TensorAssert.Close(o2[i], o1[i], tol, tol, $"output {i}");
        Assert.Equal(g2.Length, g1.Length);
        for (int i = 0; i < g1.Length; i++) TensorAssert.Close(g2[i]!, g1[i]!, tol, tol, $"gradient {i}");
    }

    [Fact]
    public void UnbatchedAndSingleStepInputsMatch()
    {
        var m = new LSTM(2, 3, dtype: DType.Float64, generator: new Generator(8));
        foreach (var x in new[] { Tensor.Randn([5, 2], DType.Float64, new Generator(1)), Tensor.Randn([1, 3, 2], DType.Float64, new Generator(2)) })
        {
            var xi = x.RequiresGrad_();
            var (o1, g1) = Run(m, xi, null, fused: true);
            var (o2, g2) = Run(m, xi, null, fused: false);
            for (int i = 0; i < 3; i++) TensorAssert.Close(o2[i], o1[i], 1e-12, 1e-12, $"output {i}");
            for (int i = 0; i < g1.Length; i++) TensorAssert.Close(g2[i]!, g1[i]!, 1e-12, 1e-12, $"gradient {i}");
        }
    }

    [Fact]
    public void LayerGradChecksInFloat64ReverseForwardAndSecondOrder()
    {
        var m = new LSTM(2, 3, numLayers: 2, bidirectional: true, dtype: DType.Float64, generator: new Generator(4));
        var g = new Generator(6);
        Tensor[] inputs = [Tensor.Randn([3, 2, 2], DType.Float64, g), Tensor.Randn([4, 2, 3], DType.Float64, g), Tensor.Randn([4, 2, 3], DType.Float64, g)];
        Func<Tensor[], Tensor> f = t =>
        {
            var (y, (h, c)) = m.Forward(t[0], (t[1], t[2]));
            return Tensor.Cat([y.Reshape(-1), h.Reshape(-1), c.Reshape(-1)], 0);
        };
        GradCheck.Assert(f, inputs, secondOrder: true, forwardMode: true);
    }

    [Fact]
    public void WeightGradientsGradCheckThroughTheOp()
    {
        // the layer's parameters as the gradcheck's inputs: x·W_ihᵀ + b projected, then the sequence op with W_hh
        var g = new Generator(9);
        Tensor[] inputs = [Tensor.Randn([3, 2, 2], DType.Float64, g), Tensor.Randn([12, 2], DType.Float64, g) * 0.5,
            Tensor.Randn([12, 3], DType.Float64, g) * 0.5, Tensor.Randn([12], DType.Float64, g)];
        foreach (bool rev in new[] { false, true })
        {
            Func<Tensor[], Tensor> f = t =>
            {
                var xp = Tensor.Linear(t[0], t[1], t[3]);
                var z = Tensor.Zeros([2, 3], DType.Float64);
                var (y, c) = Tensor.LstmSequence(xp, z, z, t[2], rev);
                return y + c.Square();
            };
            GradCheck.Assert(f, inputs, secondOrder: true, forwardMode: true);
        }
    }

    [Fact]
    public void VmapOverExamplesWithSharedAndPerExampleWeights()
    {
        var g = new Generator(11);
        var xs = Tensor.Randn([4, 3, 2, 8], DType.Float64, g); // 4 examples of xp [T=3, N=2, 4H=8]
        var h0 = Tensor.Randn([2, 2], DType.Float64, g);
        var whh = Tensor.Randn([8, 2], DType.Float64, g);
        var whhs = Tensor.Randn([4, 8, 2], DType.Float64, g);
        Tensor[] F(Tensor xp, Tensor w) { var (y, c) = Tensor.LstmSequence(xp, h0, h0, w, true); return [y, c]; }
        var shared = Functional.Vmap(a => F(a[0], whh), [0])([xs]);
        Assert.True(Functional.LastVmapPlan!.Batched, Functional.LastVmapPlan.Reason);
        var own = Functional.Vmap(a => F(a[0], a[1]), [0, 0])([xs, whhs]);
        for (int b = 0; b < 4; b++)
        {
            var r1 = F(xs.Select(0, b), whh);
            var r2 = F(xs.Select(0, b), whhs.Select(0, b));
            for (int o = 0; o < 2; o++)
            {
                TensorAssert.Close(r1[o], shared[o].Select(0, b), 1e-13, 1e-13, $"shared W_hh, example {b}, output {o}");
                TensorAssert.Close(r2[o], own[o].Select(0, b), 1e-13, 1e-13, $"per-example W_hh, example {b}, output {o}");
            }
        }
    }

    [Fact]
    public void BadShapesThrowNamingTheOp()
    {
        var e = Assert.Throws<ShapeMismatchException>(() => Tensor.LstmSequence(Tensor.Zeros(2, 1, 8), Tensor.Zeros(1, 3), Tensor.Zeros(1, 3), Tensor.Zeros(8, 2), false));
        Assert.Contains("LstmSequence", e.Message);
    }
}
