using Fluxion.Nn;

namespace Fluxion.Tests;

/// <summary>
/// The one-pass activation, special-function and loss entries (elu/selu/celu, silu, mish, softsign, tanhshrink,
/// logsigmoid, logit, lgamma, digamma, poisson_nll_loss): registry entries with a fused first-order backward (so the
/// registry sweep and TinyOpsTests' fused-equals-tensor-path theory cover them), float32 values and gradients within a few
/// float ulps of float64's, and PyTorch's conventions at the edges (x = 0, NaN, ±inf, eps, alpha).
/// </summary>
public class ActivationEntryTests
{
    public static TheoryData<string> Entries => new()
    {
        "Elu", "Selu", "Celu", "Silu", "Mish", "Softsign", "Tanhshrink", "LogSigmoid", "Logit", "Lgamma", "Digamma", "PoissonNllLoss",
        "Softmax", "LogSoftmax",
    };

    [Theory]
    [MemberData(nameof(Entries))]
    public void IsAnEntryWithAFusedBackward(string name)
    {
        var def = OpRegistry.Find(name);
        Assert.NotNull(def);
        Assert.Null(def!.CompositeOf);
        Assert.NotNull(def.FusedBackward);
        Assert.NotNull(def.Samples);
    }

    private static readonly (string Name, Func<Tensor, Tensor> F, double Lo, double Hi)[] s_unary =
    [
        ("elu", x => x.Elu(0.7), -12, 6), ("selu", x => x.Selu(), -12, 6), ("celu", x => x.Celu(1.7), -12, 6),
        ("silu", x => x.Silu(), -30, 30), ("mish", x => x.Mish(), -30, 30), ("softsign", x => x.Softsign(), -50, 50),
        ("tanhshrink", x => x.Tanhshrink(), -6, 6), ("logsigmoid", x => x.LogSigmoid(), -40, 40),
        ("logit", x => x.Logit(), 0.001, 0.99), ("logit eps", x => x.Logit(0.05), -0.2, 1.2),
        ("lgamma", x => x.Lgamma(), -4.9, 12), ("digamma", x => x.Digamma(), -4.9, 12), ("trigamma", x => x.Polygamma(1), -4.9, 12),
    ];

    public static TheoryData<string> UnaryNames()
    {
        var d = new TheoryData<string>();
        foreach (var c in s_unary) d.Add(c.Name);
        return d;
    }

    /// <summary>float32 (the float-lane kernels, the fused backward on lanes) against float64 on a grid of 4001 points
    /// (offset off the integers, where lgamma and digamma have poles): values and gradients of sum(f(x)·w).</summary>
    [Theory]
    [MemberData(nameof(UnaryNames))]
    public void Float32MatchesFloat64(string name)
    {
        var (_, f, lo, hi) = s_unary.First(c => c.Name == name);
        int n = 4001;
        // float inputs (so both runs see the same points; poles and kinks are avoided by the offset or measured relatively)
        var xs = Enumerable.Range(0, n).Select(i => (double)(float)(lo + (hi - lo) * i / (n - 1) + 1e-3 * Math.PI)).ToArray();
        var w = Enumerable.Range(0, n).Select(i => Math.Sin(i * 0.37)).ToArray();
        var x64 = Tensor.FromArray(xs).RequiresGrad_();
        var x32 = Tensor.FromArray(xs).To(DType.Float32).Detach().RequiresGrad_();
        var y64 = f(x64);
        var y32 = f(x32);
        (y64 * Tensor.FromArray(w)).Sum().Backward();
        (y32 * Tensor.FromArray(w).To(DType.Float32)).Sum().Backward();
        double[] a = y64.ToDoubleArray(), b = y32.ToDoubleArray(), ga = x64.Grad!.ToDoubleArray(), gb = x32.Grad!.ToDoubleArray();
        var xf = x32.ToDoubleArray();
        for (int i = 0; i < n; i++)
        {
            // the float64 value at the float32 input, so only the float32 evaluation's error is measured
            double exact = f(Tensor.FromArray([xf[i]])).ToDoubleArray()[0];
            if (double.IsNaN(exact)) { Assert.True(double.IsNaN(b[i]), $"{name}({xf[i]:R}): float32 {b[i]:R}, float64 NaN"); continue; }
            Assert.True(Math.Abs(b[i] - exact) <= 8 * 6e-8 * Math.Abs(exact) + 1e-30, $"{name}({xf[i]:R}): float32 {b[i]:R}, float64 {exact:R}");
            Assert.True(Math.Abs(gb[i] - ga[i]) <= 1e-4 * (Math.Abs(ga[i]) + Math.Abs(w[i])), $"{name}' at {xs[i]:R}: float32 {gb[i]:R}, float64 {ga[i]:R}");
        }
    }

    private static double[] Grad(Func<Tensor, Tensor> f, double[] xs)
    {
        var x = Tensor.FromArray(xs).RequiresGrad_();
        f(x).Sum().Backward();
        return x.Grad!.ToDoubleArray();
    }

    [Fact]
    public void EluFamilyFollowsPyTorchAtZeroNaNAndInfinity()
    {
        double nan = double.NaN, inf = double.PositiveInfinity;
        double[] xs = [0.0, -0.0, nan, inf, -inf];
        // elu_backward on the input: x <= 0 takes the negative branch (α·e^0 = α at 0); NaN takes the positive one
        Assert.Equal([0.7, 0.7, 1.0, 1.0, 0.0], Grad(x => x.Elu(0.7), xs));
        Assert.Equal([1.0, 1.0, 1.0, 1.0, 0.0], Grad(x => x.Celu(1.7), xs));
        var gs = Grad(x => x.Selu(), xs);
        Assert.Equal(Tensor.SeluScale * Tensor.SeluAlpha, gs[0], 14);
        Assert.Equal(Tensor.SeluScale, gs[2], 14);
        var y = Tensor.FromArray(xs).Elu(0.7).ToDoubleArray();
        Assert.Equal(0.0, y[0]);
        Assert.True(double.IsNegative(y[1]), "elu(-0) keeps the sign (0.7·expm1(-0))");
        Assert.True(double.IsNaN(y[2]));
        Assert.Equal([inf, -0.7], y[3..]);
        Assert.Throws<ArgumentException>(() => Tensor.FromArray([1.0]).Celu(0));
    }

    [Fact]
    public void SmoothActivationsFollowPyTorchAtTheEdges()
    {
        double nan = double.NaN, inf = double.PositiveInfinity;
        double[] xs = [0.0, inf, -inf, nan];
        Assert.Equal(0.5, Grad(x => x.Silu(), xs)[0]);                               // σ(0)·(1 + 0) = 1/2
        Assert.True(Grad(x => x.Silu(), xs)[1..].All(double.IsNaN), "silu' at ±inf is σ·(1 + x·(1 - σ)) = NaN, as PyTorch's");
        Assert.Equal(1.0, Grad(x => x.Softsign(), xs)[0]);
        Assert.True(Grad(x => x.Softsign(), xs)[1..].All(double.IsNaN), "softsign' at ±inf is NaN, as PyTorch's composite");
        Assert.Equal([0.0, 1.0, 1.0], Grad(x => x.Tanhshrink(), xs)[..3]);
        Assert.Equal([0.5, 0.0, 1.0], Grad(x => x.LogSigmoid(), xs)[..3]);
        Assert.Equal(0.6, Grad(x => x.Mish(), xs)[0], 15);                           // tanh(log 2) = 3/5
        var ls = Tensor.FromArray(xs).LogSigmoid().ToDoubleArray();
        Assert.Equal(-Math.Log(2), ls[0], 15);
        Assert.Equal([0.0, -inf], ls[1..3]);
        Assert.Equal([0.0, inf], Tensor.FromArray(xs).Mish().ToDoubleArray()[..2]);
        // float32: the left tails stay relative-accurate (x·e^x rounded once)
        var t = Tensor.FromArray([-95f, -100f]).Silu().ToArray<float>();
        Assert.Equal((float)(-95 * Math.Exp(-95)), t[0]);
        Assert.Equal((float)(-100 * Math.Exp(-100)), t[1]);
    }

    [Fact]
    public void LogitFloat32IsAccurateAroundOneHalf()
    {
        // log(x/(1 - x)) rounded in float loses all digits near 1/2; the kernel's log1p form does not
        float[] xs = [0.5f, MathF.BitIncrement(0.5f), MathF.BitDecrement(0.5f), 0.5000005f, 0.4999995f];
        var y = Tensor.FromArray(xs).Logit().ToArray<float>();
        for (int i = 0; i < xs.Length; i++)
        {
            double exact = Math.Log(xs[i] / (1.0 - xs[i]));
            Assert.True(Math.Abs(y[i] - exact) <= 2e-7 * Math.Abs(exact), $"logit({xs[i]:R}) = {y[i]:R}, exact {exact:R}");
        }
        var e = Tensor.FromArray([0.0f, 1.0f, -0.5f, 1.5f]).Logit(0.1).ToArray<float>();
        Assert.Equal(MathF.Log(0.1f / 0.9f), e[0], 6);
        Assert.True(Math.Abs(e[1] + e[0]) < 1e-5, $"logit(0.9f) = {e[1]}, logit(0.1f) = {e[0]}");   // 1 - 0.1f rounds to 0.9f
    }

    [Fact]
    public void GammaFamilyFloat32AtTheEdges()
    {
        float inf = float.PositiveInfinity;
        var lg = Tensor.FromArray([1f, 2f, 0f, -0f, -1f, -2f, inf, -inf]).Lgamma().ToArray<float>();
        Assert.Equal([0f, 0f, inf, inf, inf, inf, inf, inf], lg);
        var dg = Tensor.FromArray([0f, -0f, -1f, inf, -inf]).Digamma().ToArray<float>();
        Assert.Equal(float.NegativeInfinity, dg[0]);
        Assert.Equal(inf, dg[1]);
        Assert.True(float.IsNaN(dg[2]) && float.IsNaN(dg[4]));
        Assert.Equal(inf, dg[3]);
        var tg = Tensor.FromArray([0f, -1f, inf]).Polygamma(1).ToArray<float>();
        Assert.Equal([inf, inf, 0f], tg);
    }

    [Fact]
    public void PoissonNllLossFusedMatchesTheComposite()
    {
        var g = new Generator(9);
        foreach (var dt in new[] { DType.Float32, DType.Float64 })
            foreach (var r in new[] { Reduction.Mean, Reduction.Sum, Reduction.None })
            {
                var x = (Tensor.Randn([37, 29], dt, g) * 2).RequiresGrad_();
                var t = (Tensor.Rand([37, 29], dt, g) * 5).RequiresGrad_();
                var fused = Losses.PoissonNllLoss(x, t, reduction: r);
                var x2 = x.Detach().RequiresGrad_();
                var t2 = t.Detach().RequiresGrad_();
                var e = x2.Exp() - t2 * x2;
                var composite = r == Reduction.Mean ? e.Mean() : r == Reduction.Sum ? e.Sum() : e;
                double tol = dt == DType.Float32 ? 2e-5 : 1e-12;
                TensorAssert.Close(composite.ToDoubleArray(), fused.ToDoubleArray(), rtol: tol, atol: tol, what: $"poisson {dt} {r}");
                var w = Tensor.RandLike(fused, g);
                (fused * w).Sum().Backward();
                (composite * w).Sum().Backward();
                TensorAssert.Close(x2.Grad!.ToDoubleArray(), x.Grad!.ToDoubleArray(), rtol: tol, atol: tol, what: $"poisson input grad {dt} {r}");
                TensorAssert.Close(t2.Grad!.ToDoubleArray(), t.Grad!.ToDoubleArray(), rtol: tol, atol: tol, what: $"poisson target grad {dt} {r}");
            }
        GradCheck.Assert(ts => Losses.PoissonNllLoss(ts[0], ts[1]), [Tensor.Randn([3, 4], DType.Float64, g), Tensor.Rand([3, 4], DType.Float64, g) * 3]);
    }

    [Fact]
    public void SoftmaxFusedBackwardMatchesTheTensorVjpOnLongRows()
    {
        var g = new Generator(10);
        foreach (bool log in new[] { false, true })
        {
            var x = Tensor.Randn([64, 1024], DType.Float32, g);
            var w = Tensor.Randn([64, 1024], DType.Float32, g);
            Tensor F(Tensor t) => log ? t.LogSoftmax(-1) : t.Softmax(-1);
            var a = x.Detach().RequiresGrad_();
            var fused = Autograd.Grad([(F(a) * w).Sum()], [a])[0]!;
            var b = x.Detach().RequiresGrad_();
            var viaTensors = Autograd.Grad([(F(b) * w).Sum()], [b], createGraph: true)[0]!;
            TensorAssert.Close(viaTensors.ToDoubleArray(), fused.ToDoubleArray(), rtol: 1e-4, atol: 1e-6, what: log ? "log_softmax" : "softmax");
        }
    }
}
