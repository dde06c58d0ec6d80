using Fluxion.Kernels;
using Fluxion.Nn;

namespace Fluxion.Tests;

/// <summary>
/// The one-pass composites (addcmul, addcdiv, soft margin, BCE with logits, KL divergence, and the fused sum of the
/// pointwise losses): values and first-order gradients against the tensor-op composites they replace, on arrays past the
/// threaded threshold, in float32 and float64; float64 gradcheck of first and second order; broadcast calls keep the composite.
/// </summary>
public class FusedCompositeTests
{
    private static Tensor R(int seed, DType dt, params int[] shape) => Tensor.Randn(shape, dt, new Generator(seed));

    private static Tensor U(int seed, DType dt, params int[] shape) => Tensor.Rand(shape, dt, new Generator(seed));

    private static void Close(Tensor expected, Tensor actual, double rtol, string what)
    {
        double[] e = expected.ToDoubleArray(), a = actual.ToDoubleArray();
        Assert.Equal(e.Length, a.Length);
        for (int i = 0; i < e.Length; i++)
        {
            if (double.IsNaN(e[i]) || double.IsInfinity(e[i])) { Assert.True(e[i].Equals(a[i]), $"{what}[{i}]: {e[i]} vs {a[i]}"); continue; }
            Assert.True(Math.Abs(e[i] - a[i]) <= rtol * (1 + Math.Abs(e[i])), $"{what}[{i}]: {e[i]} vs {a[i]}");
        }
    }

    /// <summary>Values and gradients of <paramref name="fused"/> against <paramref name="composite"/> (same inputs, same upstream gradient).</summary>
    private static void SameAsComposite(Func<Tensor[], Tensor> fused, Func<Tensor[], Tensor> composite, Tensor[] inputs, double rtol, string what)
    {
        var a = inputs.Select(t => t.Detach().RequiresGrad_()).ToArray();
        var b = inputs.Select(t => t.Detach().RequiresGrad_()).ToArray();
        Tensor ya = fused(a), yb = composite(b);
        Close(yb, ya, rtol, what + " value");
        var g = ya.Rank == 0 ? Tensor.Scalar(1.25, ya.DType) : Tensor.Randn(ya.ShapeArray, ya.DType, new Generator(99));
        var ga = Autograd.Grad([ya], a, [g]);
        var gb = Autograd.Grad([yb], b, [g]);
        for (int i = 0; i < a.Length; i++) Close(gb[i]!, ga[i]!, rtol, $"{what} grad {i}");
        // the create-graph VJP (differentiable again) gives the fused gradients too
        var gc = Autograd.Grad([fused(a)], a, [g], createGraph: true);
        for (int i = 0; i < a.Length; i++) Close(ga[i]!, gc[i]!.Detach(), rtol, $"{what} create-graph grad {i}");
    }

    [Fact]
    public void AddcmulAndAddcdivMatchTheCompositeBitwise()
    {
        int n = Pointwise.ParallelThreshold + 1001;
        foreach (var dt in new[] { DType.Float32, DType.Float64 })
            foreach (double v in new[] { 1.0, -0.5 })
            {
                var (x, a, b) = (R(1, dt, n), R(2, dt, n), R(3, dt, n) + 3.0);
                // values: PyTorch's rounding order (v·a)·b and (v·a)/b, as the composite
                Assert.True(x.Addcmul(a, b, v).Equal(x + (a * v) * b), $"addcmul {dt} {v}");
                Assert.True(x.Addcdiv(a, b, v).Equal(x + (a * v) / b), $"addcdiv {dt} {v}");
                double tol = dt == DType.Float32 ? 1e-6 : 1e-14;
                SameAsComposite(t => t[0].Addcmul(t[1], t[2], v), t => t[0] + t[1] * v * t[2], [x, a, b], tol, $"addcmul {dt}");
                SameAsComposite(t => t[0].Addcdiv(t[1], t[2], v), t => t[0] + t[1] * v / t[2], [x, a, b], tol, $"addcdiv {dt}");
            }
    }

    [Fact]
    public void AddcmulAndAddcdivGradCheckFirstAndSecondOrder()
    {
        var (x, a, b) = (R(4, DType.Float64, 3, 4), R(5, DType.Float64, 3, 4), R(6, DType.Float64, 3, 4) + 4.0);
        GradCheck.Assert(t => t[0].Addcmul(t[1], t[2], 0.7), [x, a, b]);
        GradCheck.Assert(t => t[0].Addcdiv(t[1], t[2], -1.5), [x, a, b]);
        // broadcasting takes the composite
        GradCheck.Assert(t => t[0].Addcdiv(t[1], t[2], 2), [R(7, DType.Float64, 3, 1), R(8, DType.Float64, 4), R(9, DType.Float64, 2, 1, 1) + 4.0]);
    }

    private static readonly Reduction[] Reductions = [Reduction.None, Reduction.Mean, Reduction.Sum];

    /// <summary>The composites the fused logit losses replaced (the previous implementation).</summary>
    private static Tensor Composite(LogitLoss kind, Tensor x, Tensor y, Reduction r)
    {
        Tensor loss = kind switch
        {
            LogitLoss.SoftMargin => (-(y * x)).Softplus(1, double.PositiveInfinity),
            LogitLoss.BceWithLogits => (1.0 - y) * x + (-x).Softplus(1, double.PositiveInfinity),
            LogitLoss.KlDiv => Tensor.Where(y.Eq(0.0), 0.0, y * Tensor.Where(y.Eq(0.0), 1.0, y).Log()) - y * x,
            _ => y.Exp() * (y - x),
        };
        return r switch
        {
            Reduction.None => loss,
            Reduction.Sum => loss.Sum(),
            Reduction.BatchMean => loss.Sum() / (double)x.Size(0),
            _ => loss.Mean(),
        };
    }

    private static Tensor Fused(LogitLoss kind, Tensor x, Tensor y, Reduction r) => kind switch
    {
        LogitLoss.SoftMargin => Losses.SoftMarginLoss(x, y, r),
        LogitLoss.BceWithLogits => Losses.BceWithLogits(x, y, r),
        LogitLoss.KlDiv => Losses.KlDiv(x, y, r),
        _ => Losses.KlDiv(x, y, r, logTarget: true),
    };

    [Fact]
    public void LogitLossesMatchTheCompositeOnLargeArrays()
    {
        int rows = (Pointwise.ParallelThreshold + 1001) / 4;
        foreach (var dt in new[] { DType.Float32, DType.Float64 })
        {
            double tol = dt == DType.Float32 ? 2e-5 : 1e-12;
            var x = R(10, dt, rows, 4) * 4.0;
            var signs = R(11, dt, rows, 4).Sign();
            var probs = U(12, dt, rows, 4);
            // some exact zeros in the KL target (0·log 0 = 0)
            var probsZ = Tensor.Where(probs.Lt(0.1), 0.0, probs);
            foreach (var kind in Enum.GetValues<LogitLoss>())
            {
                var y = kind switch { LogitLoss.SoftMargin => signs, LogitLoss.KlDivLogTarget => R(13, dt, rows, 4), LogitLoss.KlDiv => probsZ, _ => probs };
                Reduction[] rs = kind is LogitLoss.KlDiv or LogitLoss.KlDivLogTarget ? [.. Reductions, Reduction.BatchMean] : Reductions;
                foreach (var r in rs)
                    SameAsComposite(t => Fused(kind, t[0], t[1], r), t => Composite(kind, t[0], t[1], r), [x, y], tol, $"{kind} {r} {dt}");
            }
        }
    }

    [Fact]
    public void LogitLossesGradCheckFirstAndSecondOrder()
    {
        var x = R(20, DType.Float64, 3, 4) * 2.0;
        var p = U(21, DType.Float64, 3, 4) * 0.9 + 0.05;
        foreach (var r in new[] { Reduction.None, Reduction.Mean, Reduction.Sum })
        {
            GradCheck.Assert(t => Losses.SoftMarginLoss(t[0], t[1], r), [x, R(22, DType.Float64, 3, 4)]);
            GradCheck.Assert(t => Losses.BceWithLogits(t[0], t[1], r), [x, p]);
            GradCheck.Assert(t => Losses.KlDiv(t[0], t[1], r), [x, p]);
            GradCheck.Assert(t => Losses.KlDiv(t[0], t[1], r, logTarget: true), [x, R(23, DType.Float64, 3, 4)]);
        }
        GradCheck.Assert(t => Losses.KlDiv(t[0], t[1], Reduction.BatchMean), [x, p]);
    }

    [Fact]
    public void LogitLossesAreStableAtLargeLogits()
    {
        foreach (var dt in new[] { DType.Float32, DType.Float64 })
        {
            var x = Tensor.FromArray(new double[] { -1e4, -50, -1e-30, 0, 1e-30, 50, 1e4 }, 7).To(dt);
            var y = Tensor.FromArray(new double[] { 1, 0, 1, 0.5, 0, 1, 0 }, 7).To(dt);
            var b = Losses.BceWithLogits(x, y, Reduction.None).ToDoubleArray();
            Assert.All(b, v => Assert.True(double.IsFinite(v) && v >= 0));
            Assert.Equal(1e4, b[0], 1e-6 * 1e4);
            Assert.Equal(1e4, b[6], 1e-6 * 1e4);
            // softplus(−50) = e^−50 is kept (log1p at tiny arguments)
            Assert.Equal(Math.Exp(-50), Losses.SoftMarginLoss(Tensor.Scalar(50, dt), Tensor.Scalar(1, dt), Reduction.None).Item(), Math.Exp(-50) * 1e-5);
        }
    }

    [Fact]
    public void PointwiseLossSumsAreFusedAndMatchTheElementwiseSum()
    {
        int n = 3 * Pointwise.ParallelThreshold + 17;
        foreach (var dt in new[] { DType.Float32, DType.Float64 })
        {
            var (a, b) = (R(30, dt, n), R(31, dt, n));
            var e = Losses.MseLoss(a, b, Reduction.None).To(DType.Float64);
            Assert.Equal(e.Sum().Item(), Losses.MseLoss(a, b, Reduction.Sum).Item(), dt == DType.Float32 ? 1e-6 * n : 1e-9);
            Assert.Equal(e.Mean().Item(), Losses.HuberLoss(a, b, Reduction.Mean, 100).Item() * 2, dt == DType.Float32 ? 1e-5 : 1e-12);
            Assert.True(double.IsNaN(Losses.MseLoss(R(1, dt, 0), R(2, dt, 0)).Item()), "mean of nothing is NaN, as PyTorch");
        }
    }

    [Fact]
    public void PreluMatchesTheCompositeOnBothLayouts()
    {
        foreach (var dt in new[] { DType.Float32, DType.Float64 })
        {
            double tol = dt == DType.Float32 ? 1e-6 : 1e-13;
            // short rows (the tiled slope pattern, period 3·5) past the threaded threshold; long rows (one slope per row); a shared slope
            foreach (var (shape, wn) in new (int[], int)[] { ([Pointwise.ParallelThreshold / 15 + 7, 3, 5], 3), ([6, 4, 300], 4), ([50, 7, 3], 1), ([4, 2500], 2500) })
            {
                var x = R(40, dt, shape);
                var w = U(41, dt, wn) - 0.3;
                Tensor Composite(Tensor[] t)
                {
                    var ws = wn == 1 ? t[1].Reshape() : t[1].Reshape([wn, .. Enumerable.Repeat(1, shape.Length - 2)]);
                    return Tensor.Where(t[0].Gt(0.0), t[0], ws * t[0]);
                }
                Assert.True(x.Prelu(w).Equal(Composite([x, w])), $"prelu {dt} {string.Join(",", shape)}");
                SameAsComposite(t => t[0].Prelu(t[1]), Composite, [x, w], tol * Math.Sqrt(x.Numel), $"prelu {dt} {string.Join(",", shape)}");
            }
        }
    }

    [Fact]
    public void PreluGradCheckFirstAndSecondOrder()
    {
        var x = R(42, DType.Float64, 2, 3, 4);
        x = x + x.Sign() * 0.1; // away from the kink
        GradCheck.Assert(t => t[0].Prelu(t[1]), [x, U(43, DType.Float64, 3)]);
        GradCheck.Assert(t => t[0].Prelu(t[1]), [x, U(44, DType.Float64, 1)]);
        GradCheck.Assert(t => t[0].Prelu(t[1]), [R(45, DType.Float64, 2, 2, 260) + 0.05, U(46, DType.Float64, 2)], secondOrder: false);
    }

    [Fact]
    public void RandnKeepsTheNextNormalStream()
    {
        foreach (int n in new[] { 1, 2, 7, 1025, 2048 + 3 })
        {
            var (a, b) = (new Generator(77), new Generator(77));
            a.NextNormal(); // leaves a spare, which the fill must use first
            b.NextNormal();
            var fill = Tensor.Randn([n], DType.Float64, a).ToDoubleArray();
            for (int i = 0; i < n; i++)
            {
                double e = b.NextNormal();
                Assert.True(Math.Abs(e - fill[i]) <= 1e-14 * (1 + Math.Abs(e)), $"n {n} element {i}: {e} vs {fill[i]}");
            }
            // the same state afterwards (a pending spare included)
            Assert.Equal(b.NextNormal(), a.NextNormal(), 1e-14);
            Assert.Equal(b.NextUInt64(), a.NextUInt64());
        }
        var f = Tensor.Randn([4097], DType.Float32, new Generator(5)).ToDoubleArray();
        var g = new Generator(5);
        int differ = f.Count(v => (float)g.NextNormal() != (float)v);
        Assert.True(differ <= 1, $"{differ} float32 values differ from the scalar stream");
        var mean = f.Average();
        Assert.True(Math.Abs(mean) < 0.06 && Math.Abs(f.Select(v => v * v).Average() - 1) < 0.08);
    }
}
