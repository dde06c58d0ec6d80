using Fluxion.Nn;

namespace Fluxion.Tests;

public class ConvTests
{
    private static Tensor R(int seed, params int[] shape) => Tensor.Randn(shape, DType.Float64, new Generator(seed));

    /// <summary>Tie-free values (gaps ≥ 0.1) for max pooling: a shuffled grid plus a small jitter.</summary>
    private static Tensor Distinct(int seed, params int[] shape)
    {
        int n = ShapeUtil.Numel(shape);
        var rng = new Random(seed);
        var v = Enumerable.Range(0, n).Select(i => (i - n / 2.0) * 0.3).OrderBy(_ => rng.Next()).Select(x => x + rng.NextDouble() * 0.05).ToArray();
        return Tensor.FromArray(v, shape);
    }

    public static IEnumerable<object[]> GoldenCases() =>
        LayerGolden.CasesFor("Conv2d", "ConvTranspose2d", "Unfold", "Fold", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d");

    [Theory]
    [MemberData(nameof(GoldenCases))]
    public void MatchesPyTorch(string id) => LayerGolden.Check(id);

    [Fact]
    public void EveryLayerGoldenCaseHasALayer()
    {
        var unknown = Golden.Load(LayerGolden.Family).Select(c => c.Op).Distinct().Where(op => !LayerGolden.Known.Contains(op)).ToList();
        Assert.True(unknown.Count == 0, "layer golden ops without a Fluxion layer: " + string.Join(", ", unknown));
    }

    // ---- gradient checks (float64; first and second order, reverse and forward mode) ----------

    public static IEnumerable<object[]> ConvConfigs() =>
    [
        // N, C, H, W, O, kH, kW, stride, padding, dilation, groups, bias
        [1, 2, 4, 4, 2, 2, 2, 1, 0, 1, 1, true],
        [2, 2, 5, 4, 3, 3, 2, 2, 1, 1, 1, true],
        [1, 2, 6, 5, 2, 2, 2, 1, 1, 2, 1, false],
        [1, 4, 4, 4, 4, 2, 2, 1, 0, 1, 2, true],
        [1, 3, 4, 3, 3, 3, 3, 2, 1, 1, 3, true],
        [2, 3, 3, 3, 2, 1, 1, 1, 0, 1, 1, true],
    ];

    [Theory]
    [MemberData(nameof(ConvConfigs))]
    public void Conv2dGradCheck(int n, int c, int h, int w, int o, int kh, int kw, int stride, int padding, int dilation, int groups, bool bias)
    {
        var inputs = new List<Tensor> { R(1, n, c, h, w), R(2, o, c / groups, kh, kw) };
        if (bias) inputs.Add(R(3, o));
        GradCheck.Assert(x => Tensor.Conv2d(x[0], x[1], bias ? x[2] : null, stride, padding, dilation, groups), [.. inputs]);
    }

    [Fact]
    public void Conv2dGradCheckRectangularAndNonContiguous()
    {
        // rectangular stride/padding/dilation; the input is a transposed (non-contiguous) view
        var x = R(4, 1, 2, 5, 6).Transpose(2, 3);
        GradCheck.Assert(t => Tensor.Conv2d(t[0], t[1], t[2], stride: (2, 1), padding: (0, 1), dilation: (1, 2)), [x, R(5, 2, 2, 2, 2), R(6, 2)]);
    }

    [Fact]
    public void ConvTranspose2dGradCheck()
    {
        GradCheck.Assert(t => Tensor.ConvTranspose2d(t[0], t[1], t[2], stride: 2, padding: 1, outputPadding: 1), [R(7, 1, 2, 3, 3), R(8, 2, 2, 3, 3), R(9, 2)]);
        GradCheck.Assert(t => Tensor.ConvTranspose2d(t[0], t[1], null, stride: (1, 2), groups: 2, dilation: (2, 1)), [R(10, 1, 4, 2, 3), R(11, 4, 1, 2, 2)]);
    }

    [Fact]
    public void UnfoldFoldGradCheck()
    {
        GradCheck.Assert(t => Tensor.Unfold(t[0], (2, 3), dilation: (1, 2), padding: 1, stride: (2, 1)), [R(12, 1, 2, 4, 5)]);
        // Fold of the matching geometry: output 4x5, blocks (3·5 = 15 positions) for kernel 2x2, padding 1, stride (2, 1)
        GradCheck.Assert(t => Tensor.Fold(t[0], (4, 5), 2, padding: 1, stride: (2, 1)), [R(13, 1, 8, 18)]);
    }

    [Fact]
    public void PoolingGradCheck()
    {
        GradCheck.Assert(t => Tensor.MaxPool2d(t[0], 2), [Distinct(14, 1, 2, 4, 4)]);
        GradCheck.Assert(t => Tensor.MaxPool2d(t[0], 3, stride: (2, 1), padding: 1, dilation: (1, 2), ceilMode: true), [Distinct(15, 1, 2, 5, 6)]);
        GradCheck.Assert(t => Tensor.AvgPool2d(t[0], 3, stride: 2, padding: 1), [R(16, 1, 2, 5, 5)]);
        GradCheck.Assert(t => Tensor.AvgPool2d(t[0], (3, 2), stride: 2, padding: 1, ceilMode: true, countIncludePad: false), [R(17, 1, 2, 5, 4)]);
        GradCheck.Assert(t => Tensor.AvgPool2d(t[0], 2, stride: 1, divisorOverride: 3), [R(18, 1, 1, 4, 4)]);
        GradCheck.Assert(t => Tensor.AdaptiveAvgPool2d(t[0], (3, 2)), [R(19, 2, 2, 5, 5)]);
    }

    [Fact]
    public void SecondOrderThroughAConvNetMatchesFiniteDifferences()
    {
        // conv → tanh → max pool → conv → avg pool: mixed second derivatives in x and both weights
        GradCheck.Assert(t =>
        {
            var y = Tensor.Conv2d(t[0], t[1], padding: 1).Tanh().MaxPool2d(2);
            return Tensor.Conv2d(y, t[2], groups: 1).AdaptiveAvgPool2d(1);
        }, [R(20, 1, 2, 4, 4), R(21, 2, 2, 3, 3), R(22, 3, 2, 1, 1)]);
    }

    // ---- behaviour --------------------------------------------------------------------------

    [Fact]
    public void FusedConvMatchesUnfoldMatMulComposite()
    {
        var x = R(23, 2, 4, 7, 6);
        var w = R(24, 6, 2, 3, 2);
        var y = Tensor.Conv2d(x, w, stride: (2, 1), padding: 1, dilation: (1, 2), groups: 2);
        // composite per group: W_g [O/G, C/G·kH·kW] @ unfold(x_g) [N, C/G·kH·kW, L]
        var parts = new List<Tensor>();
        for (int g = 0; g < 2; g++)
        {
            var cols = Tensor.Unfold(x.Slice(1, 2 * g, 2 * g + 2), (3, 2), dilation: (1, 2), padding: 1, stride: (2, 1));
            parts.Add(w.Slice(0, 3 * g, 3 * g + 3).Reshape(3, -1).MatMul(cols));
        }
        var expected = Tensor.Cat([.. parts], 1).Reshape(y.ShapeArray);
        Assert.Equal(expected.ToDoubleArray(), y.ToDoubleArray(), new ToleranceComparer(1e-12));
    }

    [Fact]
    public void ConvTransposeIsTheAdjointOfConv()
    {
        // <conv(x, w), u> = <x, convT(u, w)> for the same geometry
        var x = R(25, 2, 3, 7, 6);
        var w = R(26, 4, 3, 3, 2);
        var y = Tensor.Conv2d(x, w, stride: 2, padding: (1, 0), dilation: (1, 2));
        var u = R(27, y.ShapeArray);
        int oph = 7 - ((y.Size(2) - 1) * 2 - 2 + 2 + 1), opw = 6 - ((y.Size(3) - 1) * 2 + 2 * 1 + 1);
        var xt = Tensor.ConvTranspose2d(u, w, stride: 2, padding: (1, 0), outputPadding: (oph, opw), dilation: (1, 2));
        Assert.Equal(x.ShapeArray, xt.ShapeArray);
        Assert.Equal((y * u).Sum().Item(), (x * xt).Sum().Item(), 10);
    }

    [Fact]
    public void MaxPoolIndicesAndTies()
    {
        var x = Tensor.FromArray([1.0, 3, 3, 0, 2, 3, 1, 1, 0, 0, 5, 5, 0, 0, 5, 5], 1, 1, 4, 4).RequiresGrad_();
        var (v, idx) = Tensor.MaxPool2dWithIndices(x, 2);
        Assert.Equal([3.0, 3, 0, 5], v.ToDoubleArray());
        Assert.Equal([1L, 2, 8, 10], idx.ToArray<long>());
        v.Sum().Backward();
        Assert.Equal([0.0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0], x.Grad!.ToDoubleArray());
        // NaN wins
        var n = Tensor.FromArray([1.0, double.NaN, 2, 0], 1, 1, 2, 2);
        Assert.True(double.IsNaN(Tensor.MaxPool2d(n, 2).Item()));
    }

    [Fact]
    public void UnbatchedInputsWork()
    {
        var x = R(28, 3, 5, 5);
        var w = R(29, 2, 3, 3, 3);
        Assert.Equal(Tensor.Conv2d(x.Unsqueeze(0), w).Squeeze(0).ToDoubleArray(), Tensor.Conv2d(x, w).ToDoubleArray());
        Assert.Equal([3, 2, 2], Tensor.MaxPool2d(x, 2).ShapeArray);
        Assert.Equal([3, 1, 1], Tensor.AdaptiveAvgPool2d(x, 1).ShapeArray);
    }

    [Fact]
    public void Float32ConvMatchesFloat64()
    {
        var x = R(30, 3, 8, 9, 9);
        var w = R(31, 16, 8, 3, 3);
        var b = R(32, 16);
        var y64 = Tensor.Conv2d(x, w, b, padding: 1);
        var y32 = Tensor.Conv2d(x.To(DType.Float32), w.To(DType.Float32), b.To(DType.Float32), padding: 1);
        Assert.Equal(y64.ToDoubleArray(), y32.ToDoubleArray(), new ToleranceComparer(1e-4));
    }

    [Fact]
    public void Conv2dLayerInitAndRepr()
    {
        var conv = new Conv2d(4, 6, 3, stride: 2, padding: 1, groups: 2, generator: new Generator(1));
        Assert.Equal([6, 2, 3, 3], conv.Weight.ShapeArray);
        double bound = 1 / Math.Sqrt(2 * 3 * 3);
        Assert.All(conv.Weight.ToDoubleArray(), v => Assert.InRange(Math.Abs(v), 0, bound));
        Assert.All(conv.Bias!.ToDoubleArray(), v => Assert.InRange(Math.Abs(v), 0, bound));
        Assert.True(conv.Weight.ToDoubleArray().Max(Math.Abs) > bound * 0.8);
        Assert.Equal(new[] { "weight", "bias" }, conv.NamedParameters().Select(p => p.Name).ToArray());
        Assert.Equal("Conv2d(4, 6, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), groups=2)", conv.ToString());
        Assert.Equal("MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)", new MaxPool2d(2).ToString());
        Assert.Equal("AvgPool2d(kernel_size=3, stride=(2, 1), padding=1)", new AvgPool2d(3, stride: (2, 1), padding: 1).ToString());
        Assert.Equal("AdaptiveAvgPool2d(output_size=1)", new AdaptiveAvgPool2d(1).ToString());
        Assert.Equal([2, 6, 4, 4], conv.Forward(Tensor.Randn(2, 4, 8, 8)).ShapeArray);
    }

    [Fact]
    public void SmallCnnTrainsOneStep()
    {
        var net = new Sequential(new Conv2d(1, 4, 3, padding: 1, generator: new Generator(2)), new BatchNorm2d(4), new ReLU(), new MaxPool2d(2),
            new Conv2d(4, 8, 3, generator: new Generator(3)), new ReLU(), new AdaptiveAvgPool2d(1), new Flatten(), new Linear(8, 3, generator: new Generator(4)));
        var x = Tensor.Randn([5, 1, 8, 8], DType.Float32, new Generator(5));
        var target = Tensor.FromArray([0L, 1, 2, 1, 0], 5);
        var loss0 = Losses.CrossEntropy(net.Forward(x), target);
        loss0.Backward();
        using (Autograd.NoGrad())
            foreach (var p in net.Parameters()) p.SubInPlace(p.Grad! * 0.1);
        var loss1 = Losses.CrossEntropy(net.Forward(x), target);
        Assert.True(loss1.Item() < loss0.Item(), $"loss {loss0.Item()} -> {loss1.Item()}");
    }

    // ---- errors -------------------------------------------------------------------------------

    [Fact]
    public void ErrorsNameTheLayerAndShapes()
    {
        var conv = new Conv2d(3, 6, 5);
        var e = Assert.Throws<ShapeMismatchException>(() => conv.Forward(Tensor.Zeros(2, 4, 10, 10)));
        Assert.Contains("Conv2d(3, 6, kernel_size=(5, 5)", e.Message);
        Assert.Contains("[2, 4, 10, 10]", e.Message);
        e = Assert.Throws<ShapeMismatchException>(() => conv.Forward(Tensor.Zeros(3, 10)));
        Assert.Contains("[3, 10]", e.Message);
        e = Assert.Throws<ShapeMismatchException>(() => conv.Forward(Tensor.Zeros(1, 3, 3, 3)));
        Assert.Contains("smaller than the dilated kernel", e.Message);
        e = Assert.Throws<ShapeMismatchException>(() => Tensor.Conv2d(Tensor.Zeros(1, 4, 5, 5), Tensor.Zeros(3, 2, 3, 3), groups: 2));
        Assert.Contains("divisible by groups", e.Message);
        e = Assert.Throws<ShapeMismatchException>(() => Tensor.Conv2d(Tensor.Zeros(1, 3, 5, 5), Tensor.Zeros(2, 3, 3, 3), Tensor.Zeros(3)));
        Assert.Contains("bias", e.Message);
        Assert.Throws<DTypeMismatchException>(() => Tensor.Conv2d(Tensor.Zeros(1, 3, 5, 5), Tensor.Zeros([2, 3, 3, 3], DType.Float64)));
        var pe = Assert.Throws<ArgumentException>(() => Tensor.MaxPool2d(Tensor.Zeros(1, 1, 4, 4), 2, padding: 2));
        Assert.Contains("half the kernel", pe.Message);
        e = Assert.Throws<ShapeMismatchException>(() => new MaxPool2d(2).Forward(Tensor.Zeros(4, 4)));
        Assert.Contains("MaxPool2d(kernel_size=2", e.Message);
        e = Assert.Throws<ShapeMismatchException>(() => Tensor.MaxPool2d(Tensor.Zeros(1, 1, 1, 1), 2));
        Assert.Contains("too small", e.Message);
        e = Assert.Throws<ShapeMismatchException>(() => Tensor.Fold(Tensor.Zeros(1, 8, 10), (4, 5), 2));
        Assert.Contains("blocks", e.Message);
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(2, true)]
    public void HessianByForwardOverReverseMatchesReverseOverReverse(int groups, bool relu)
    {
        // JacFwd(Grad(f)) runs the vector-mode JVPs of Conv2d and of its adjoint ops (input, weight and bias
        // gradients), k directions at once; JacRev(Grad(f)) is the reference
        var x = R(30, 2, 4, 4, 3);
        var w = R(31, 4, 4 / groups, 3, 3);
        var b = R(32, 4);
        var flat = Tensor.Cat([x.Reshape(-1), w.Reshape(-1), b.Reshape(-1)]);
        int nx = x.Numel, nw = w.Numel;
        Tensor F(Tensor p)
        {
            var xi = p.Narrow(0, 0, nx).Reshape(x.ShapeArray);
            var wi = p.Narrow(0, nx, nw).Reshape(w.ShapeArray);
            var bi = p.Narrow(0, nx + nw, 4);
            var y = relu ? Tensor.Conv2dRelu(xi, wi, bi, padding: 1, groups: groups)
                         : Tensor.Conv2d(xi, wi, bi, stride: 2, padding: 1, groups: groups);
            return (y * y.Tanh()).Sum();
        }
        var hf = Functional.JacFwd(Functional.Grad(F), flat).ToDoubleArray();
        var hr = Functional.JacRev(Functional.Grad(F), flat).ToDoubleArray();
        Assert.Equal(hr.Length, hf.Length);
        for (int i = 0; i < hr.Length; i++) Assert.Equal(hr[i], hf[i], 9);
    }
}
