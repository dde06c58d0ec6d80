using Fluxion.Kernels;
using Fluxion.Nn;

namespace Fluxion.Tests;

/// <summary>
/// The single-pass SIMD piecewise/select ops (Kernels.Pointwise): values and first-order gradients against PyTorch 1.13
/// on edge inputs (NaN, ±inf, ±0, the kinks; PointwiseGolden.cs, made by tests/golden/make_pointwise.py), the fused
/// first-order backward against the tensor-op VJP that create-graph uses, the dense Where path against the strided loop
/// on every layout, and arrays large enough for the threaded chunks.
/// </summary>
public class PointwiseTests
{
    private static readonly Dictionary<string, Func<Tensor, Tensor>> Unary = new()
    {
        ["Hardswish"] = x => x.Hardswish(), ["Hardsigmoid"] = x => x.Hardsigmoid(), ["Hardtanh"] = x => x.Hardtanh(-0.5, 1.5),
        ["Relu6"] = x => x.Relu6(), ["Softshrink"] = x => x.Softshrink(), ["Hardshrink"] = x => x.Hardshrink(),
        ["Threshold"] = x => x.Threshold(0.3, -2), ["LeakyRelu"] = x => x.LeakyRelu(0.2), ["Clamp"] = x => x.Clamp(-0.5, 0.7),
        ["NanToNum"] = x => x.NanToNum(), ["Frac"] = x => x.Frac(),
    };

    private static readonly Dictionary<string, Func<Tensor, Tensor, Reduction, Tensor>> LossFns = new()
    {
        ["MseLoss"] = (a, b, r) => Losses.MseLoss(a, b, r), ["L1Loss"] = (a, b, r) => Losses.L1Loss(a, b, r),
        ["SmoothL1Loss"] = (a, b, r) => Losses.SmoothL1Loss(a, b, r, 0.5), ["HuberLoss"] = (a, b, r) => Losses.HuberLoss(a, b, r, 0.5),
    };

    private static readonly Dictionary<string, Func<Tensor, Tensor>> ValueFns = new()
    {
        ["IsNan"] = x => x.IsNan(), ["IsInf"] = x => x.IsInf(), ["IsFinite"] = x => x.IsFinite(), ["IsPosInf"] = x => x.IsPosInf(),
        ["IsNegInf"] = x => x.IsNegInf(), ["Signbit"] = x => x.Signbit(), ["Heaviside"] = x => x.Heaviside(0.5),
        ["LerpScalar"] = x => x.Lerp(Tensor.FromArray(PointwiseGolden.T, x.Numel).To(x.DType), Tensor.Scalar(0.3, x.DType)),
        ["LerpScalarHigh"] = x => x.Lerp(Tensor.FromArray(PointwiseGolden.T, x.Numel).To(x.DType), Tensor.Scalar(0.8, x.DType)),
        ["LerpTensor"] = x => x.Lerp(Tensor.FromArray(PointwiseGolden.T, x.Numel).To(x.DType),
            Tensor.FromArray([.. Enumerable.Range(0, x.Numel).Select(i => 0.1 * (i % 13) - 0.2)], x.Numel).To(x.DType)),
    };

    public static TheoryData<string, DType> LossCases()
    {
        var d = new TheoryData<string, DType>();
        foreach (var op in LossFns.Keys)
            foreach (var red in new[] { "none", "mean", "sum" })
                foreach (var dt in new[] { DType.Float32, DType.Float64 }) d.Add(op + "/" + red, dt);
        return d;
    }

    public static TheoryData<string, DType> ValueCases()
    {
        var d = new TheoryData<string, DType>();
        foreach (var op in ValueFns.Keys)
            foreach (var dt in new[] { DType.Float32, DType.Float64 }) d.Add(op, dt);
        return d;
    }

    [Theory]
    [MemberData(nameof(LossCases))]
    public void LossesMatchPyTorchOnEdgeValues(string key, DType dt)
    {
        var expected = PointwiseGolden.Expected[(key, dt)];
        var (op, red) = (key.Split('/')[0], key.Split('/')[1]);
        var reduction = red switch { "none" => Reduction.None, "mean" => Reduction.Mean, _ => Reduction.Sum };
        int n = PointwiseGolden.X.Length;
        var g = reduction == Reduction.None ? Tensor.FromArray(PointwiseGolden.G(n), n).To(dt) : Tensor.Scalar(1.5, dt);
        double rtol = dt == DType.Float32 ? 1e-5 : 1e-12;
        foreach (bool createGraph in new[] { false, true })
        {
            var x = Tensor.FromArray(PointwiseGolden.X, n).To(dt).RequiresGrad_();
            var t = Tensor.FromArray(PointwiseGolden.T, n).To(dt).RequiresGrad_();
            var y = LossFns[op](x, t, reduction);
            Match(expected[0], y.Reshape(-1).ToDoubleArray(), rtol, zeroSign: false, $"{key} value");
            var grads = Autograd.Grad([y], [x, t], [g], createGraph: createGraph);
            Match(expected[1], grads[0]!.ToDoubleArray(), rtol, false, $"{key} grad input (createGraph {createGraph})");
            Match(expected[2], grads[1]!.ToDoubleArray(), rtol, false, $"{key} grad target (createGraph {createGraph})");
        }
    }

    [Theory]
    [MemberData(nameof(ValueCases))]
    public void TestsHeavisideAndLerpMatchPyTorchOnEdgeValues(string op, DType dt)
    {
        // PyTorch's NaN has the sign bit clear (.NET's double.NaN has it set: signbit tells them apart)
        var x = Tensor.FromArray([.. PointwiseGolden.X.Select(v => double.IsNaN(v) ? BitConverter.Int64BitsToDouble(0x7FF8000000000000) : v)], PointwiseGolden.X.Length).To(dt);
        var y = ValueFns[op](x);
        Match(PointwiseGolden.Expected[(op, dt)][0], y.ToDoubleArray(), dt == DType.Float32 ? 1e-7 : 1e-15, zeroSign: true, op);
    }

    [Fact]
    public void EqualComparesValuesAsPyTorch()
    {
        foreach (var dt in new[] { DType.Float32, DType.Float64 })
        {
            var a = Tensor.FromArray([.. Enumerable.Range(0, 70).Select(i => i * 0.5)], 70).To(dt);
            Assert.True(a.Equal(a.Clone()));
            Assert.False(a.Equal(Tensor.Cat([a[..69], Tensor.Scalar(-1.0, dt).Reshape(1)], 0)));
            Assert.True(Tensor.FromArray([0.0, 1.0], 2).To(dt).Equal(Tensor.FromArray([-0.0, 1.0], 2).To(dt)));
            Assert.False(Tensor.FromArray([double.NaN], 1).To(dt).Equal(Tensor.FromArray([double.NaN], 1).To(dt)));
            Assert.True(a.Reshape(7, 10).T.Equal(a.Reshape(7, 10).T.Contiguous()));
        }
    }

    private static readonly Dictionary<string, Func<Tensor, Tensor, Tensor>> Binary = new()
    {
        ["Maximum"] = Tensor.Maximum, ["Minimum"] = Tensor.Minimum, ["Fmax"] = Tensor.Fmax, ["Fmin"] = Tensor.Fmin,
    };

    public static TheoryData<string, DType> UnaryCases()
    {
        var d = new TheoryData<string, DType>();
        foreach (var op in Unary.Keys)
            foreach (var dt in new[] { DType.Float32, DType.Float64 }) d.Add(op, dt);
        return d;
    }

    public static TheoryData<string, DType> BinaryCases()
    {
        var d = new TheoryData<string, DType>();
        foreach (var op in Binary.Keys)
            foreach (var dt in new[] { DType.Float32, DType.Float64 }) d.Add(op, dt);
        return d;
    }

    /// <summary>Equal as PyTorch's values: NaN where NaN; the sign of a zero when <paramref name="zeroSign"/>; else within a
    /// relative <paramref name="rtol"/> (gradients: PyTorch's hardsigmoid multiplies by 1f/6f even in float64).</summary>
    private static void Match(double[] expected, double[] actual, double rtol, bool zeroSign, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            string at = $"{what}[{i}]: expected {e:R}, got {a:R}";
            if (double.IsNaN(e)) Assert.True(double.IsNaN(a), at);
            else if (double.IsInfinity(e) || e == 0) Assert.True(e == a && (!zeroSign || double.IsNegative(e) == double.IsNegative(a)), at);
            else Assert.True(Math.Abs(e - a) <= rtol * Math.Abs(e), at);
        }
    }

    [Theory]
    [MemberData(nameof(UnaryCases))]
    public void UnaryMatchesPyTorchOnEdgeValues(string op, DType dt)
    {
        var expected = PointwiseGolden.Expected[(op, dt)];
        int n = PointwiseGolden.X.Length;
        var g = Tensor.FromArray(PointwiseGolden.G(n), n).To(dt);
        double rtol = dt == DType.Float32 ? 1e-6 : 1e-14;
        foreach (bool createGraph in new[] { false, true }) // the fused first-order backward, then the tensor-op VJP
        {
            var x = Tensor.FromArray(PointwiseGolden.X, n).To(dt).RequiresGrad_();
            var y = Unary[op](x);
            Assert.Equal(dt, y.DType);
            Match(expected[0], y.ToDoubleArray(), rtol, zeroSign: true, $"{op} value");
            var gx = Autograd.Grad([y], [x], [g], createGraph: createGraph)[0]!;
            Match(expected[1], gx.ToDoubleArray(), 1e-6, zeroSign: false, $"{op} grad (createGraph {createGraph})");
        }
    }

    [Theory]
    [MemberData(nameof(BinaryCases))]
    public void BinaryMatchesPyTorchOnEdgeValues(string op, DType dt)
    {
        var expected = PointwiseGolden.Expected[(op, dt)];
        int n = PointwiseGolden.A.Length;
        var g = Tensor.FromArray(PointwiseGolden.G(n), n).To(dt);
        // fmax/fmin send ties to a in both of PyTorch's loops; maximum/minimum's vectorized loop gives b, its scalar tail a
        bool zeroSign = op.StartsWith('F');
        foreach (bool createGraph in new[] { false, true })
        {
            var a = Tensor.FromArray(PointwiseGolden.A, n).To(dt).RequiresGrad_();
            var b = Tensor.FromArray(PointwiseGolden.B, n).To(dt).RequiresGrad_();
            var y = Binary[op](a, b);
            Match(expected[0], y.ToDoubleArray(), 0, zeroSign, $"{op} value");
            var grads = Autograd.Grad([y], [a, b], [g], createGraph: createGraph);
            Match(expected[1], grads[0]!.ToDoubleArray(), 0, false, $"{op} grad a (createGraph {createGraph})");
            Match(expected[2], grads[1]!.ToDoubleArray(), 0, false, $"{op} grad b (createGraph {createGraph})");
        }
    }

    [Fact]
    public void MaximumTiesOfSignedZerosGiveTheSecondOperandLikePyTorchsVectorLoop()
    {
        var a = Tensor.FromArray([-0.0, 0.0], 2);
        var b = Tensor.FromArray([0.0, -0.0], 2);
        var mx = Tensor.Maximum(a, b).ToDoubleArray();
        Assert.False(double.IsNegative(mx[0]));
        Assert.True(double.IsNegative(mx[1]));
        var fm = Tensor.Fmax(a, b).ToDoubleArray();
        Assert.True(double.IsNegative(fm[0]));
        Assert.False(double.IsNegative(fm[1]));
    }

    /// <summary>The fused first-order gradients equal the tensor-op VJP's on random inputs with exact ties (broadcast operands
    /// take the VJP), on arrays past the threaded threshold.</summary>
    [Fact]
    public void FusedBackwardEqualsTheTensorOpVjp()
    {
        int n = Pointwise.ParallelThreshold + 1001;
        foreach (var dt in new[] { DType.Float32, DType.Float64 })
        {
            // values on a 0.25 grid hit the kinks (±3, ±0.5, 0) and make ties between the two operands
            var xs = Tensor.RandInt(-32, 33, [n], generator: new Generator(5)).To(dt) * 0.25;
            var x2 = Tensor.RandInt(-32, 33, [n], generator: new Generator(6)).To(dt) * 0.25;
            var g = Tensor.Randn([n], dt, new Generator(7));
            foreach (var (name, f) in Unary)
            {
                var x = xs.Detach().RequiresGrad_();
                var fused = Autograd.Grad([f(x)], [x], [g])[0]!;
                var x1 = xs.Detach().RequiresGrad_();
                var viaOps = Autograd.Grad([f(x1)], [x1], [g], createGraph: true)[0]!;
                Assert.True(fused.Equal(viaOps.Detach()), $"{name} {dt}");
            }
            foreach (var (name, f) in Binary)
            {
                var (a, b) = (xs.Detach().RequiresGrad_(), x2.Detach().RequiresGrad_());
                var fused = Autograd.Grad([f(a, b)], [a, b], [g]);
                var (a1, b1) = (xs.Detach().RequiresGrad_(), x2.Detach().RequiresGrad_());
                var viaOps = Autograd.Grad([f(a1, b1)], [a1, b1], [g], createGraph: true);
                Assert.True(fused[0]!.Equal(viaOps[0]!.Detach()) && fused[1]!.Equal(viaOps[1]!.Detach()), $"{name} {dt}");
            }
        }
    }

    [Fact]
    public void LargeArraysMatchTheScalarDefinitions()
    {
        int n = 3 * Pointwise.ParallelThreshold + 17;
        var x = Tensor.Randn([n], DType.Float64, new Generator(3)) * 4;
        var v = x.ToDoubleArray();
        var y = Tensor.Randn([n], DType.Float64, new Generator(4)) * 4;
        var w = y.ToDoubleArray();
        Assert.Equal(v.Select(t => Math.Min(Math.Max(t, -0.5), 0.7)).ToArray(), x.Clamp(-0.5, 0.7).ToDoubleArray());
        Assert.Equal(v.Select((t, i) => Math.Max(t, w[i])).ToArray(), Tensor.Maximum(x, y).ToDoubleArray());
        Assert.Equal(v.Select((t, i) => t > 0 ? t : w[i]).ToArray(), Tensor.Where(x.Gt(0.0), x, y).ToDoubleArray());
        Assert.Equal(v.Select((t, i) => t - w[i]).ToArray(), (x - y).ToDoubleArray());
        var f = x.To(DType.Float32);
        Assert.Equal(v.Select(t => (float)t).Select(t => (double)(t * MathF.Min(MathF.Max(t + 3f, 0f), 6f) / 6f)).ToArray(), f.Hardswish().ToDoubleArray());
    }

    /// <summary>Where's dense SIMD path against the strided loop (a non-contiguous view forces it) on every operand layout and dtype.</summary>
    [Fact]
    public void WhereDensePathMatchesTheStridedLoop()
    {
        const int n = 37; // a vector body and a tail
        var c = Tensor.Randn([n], DType.Float64, new Generator(1)).Gt(0.0);
        foreach (var dt in new[] { DType.Float32, DType.Float64, DType.Int64, DType.Bool })
        {
            Tensor Make(int seed) => dt == DType.Bool ? Tensor.Randn([n], DType.Float64, new Generator(seed)).Gt(0.0)
                : (Tensor.Randn([n], DType.Float64, new Generator(seed)) * 10).To(dt);
            Tensor a = Make(2), b = Make(3);
            // the strided reference: the same values through a transposed (non-contiguous) [n, 1] view
            Tensor Strided(Tensor t) => t.Reshape(1, n).Expand(2, n).T.Select(1, 0);
            foreach (var (ca, aa, bb) in new[] { (c, a, b), (c, a[0], b), (c, a, b[3]), (c[5], a, b), (c[6], a[1], b), (c, a[0], b[1]) })
            {
                var dense = Tensor.Where(ca, aa, bb);
                var strided = Tensor.Where(ca.Rank == 0 ? ca : Strided(ca), aa.Rank == 0 ? aa : Strided(aa), bb.Rank == 0 ? bb : Strided(bb));
                Assert.Equal(dt, dense.DType);
                Assert.Equal(strided.ToDoubleArray(), dense.ToDoubleArray());
            }
        }
    }

    [Fact]
    public void PiecewiseActivationsAreRegistryEntriesWithAFusedBackward()
    {
        foreach (var name in new[] { "Hardswish", "Hardsigmoid", "Hardtanh", "Softshrink", "Hardshrink", "Threshold", "LeakyRelu", "Clamp", "NanToNum", "Maximum", "Minimum", "Fmax", "Fmin" })
        {
            var def = OpRegistry.Find(name)!;
            Assert.Null(def.CompositeOf);
            Assert.NotNull(def.FusedBackward);
            Assert.NotNull(def.Samples);
        }
        Assert.Equal(["Hardtanh"], OpRegistry.Find("Relu6")!.CompositeOf!);
    }
}
