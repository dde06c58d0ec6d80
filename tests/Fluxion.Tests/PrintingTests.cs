namespace Fluxion.Tests;

// Expected strings were produced by PyTorch (repr of the same tensors, default print options), with the dtype
// suffix written as Fluxion names it (dtype=float64 where PyTorch writes dtype=torch.float64).
public class PrintingTests
{
    private static Tensor F(params float[] v) => Tensor.FromArray(v);
    private static Tensor D(params double[] v) => Tensor.FromArray(v);
    private static Tensor Twice(Tensor x) => x + x;

    public static TheoryData<string, string> Cases() => new()
    {
        { "Matrix", "tensor([[1.0000, 2.5000],\n        [3.0000, 4.0000]])" },
        { "IntValued", "tensor([1., 2., 3.])" },
        { "Scalar", "tensor(3.5000)" },
        { "ScalarInt", "tensor(3.)" },
        { "Float64", "tensor([1., 2.], dtype=float64)" },
        { "Float64Frac", "tensor([[ 0.5000, -1.2500]], dtype=float64)" },
        { "Int64", "tensor([ -5,  10, 100])" },
        { "Bool", "tensor([ True, False])" },
        { "Zeros", "tensor([0., 0.])" },
        { "SciSmall", "tensor([1.0000e-05, 1.0000e+00])" },
        { "SciRatio", "tensor([1.0000e+00, 1.0000e+05])" },
        { "SciLarge", "tensor([1.5000e+00, 2.0000e+09])" },
        { "SciTiny", "tensor([5.0000e-01, 5.0000e-05])" },
        { "NotSci", "tensor([0.0010, 0.5000])" },
        { "Negative", "tensor([[ -1.5000,   2.0000],\n        [  3.0000, -40.2500]])" },
        { "NonFinite", "tensor([1.5000,    nan,    inf,   -inf])" },
        { "NonFiniteInt", "tensor([1., nan, -inf])" },
        { "Tie", "tensor([0.0312, 1.0000])" },
        { "TieSci", "tensor([1.0000e+00, 1.0000e+05], dtype=float64)" },
        { "Wrap", "tensor([0.0000, 0.0526, 0.1053, 0.1579, 0.2105, 0.2632, 0.3158, 0.3684, 0.4211,\n        0.4737, 0.5263, 0.5789, 0.6316, 0.6842, 0.7368, 0.7895, 0.8421, 0.8947,\n        0.9474, 1.0000])" },
        { "Arange1001", "tensor([   0.,    1.,    2.,  ...,  998.,  999., 1000.])" },
        { "Arange2000", "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n        1.9990e+03])" },
        { "Int2D", "tensor([[   0,    1,    2,  ...,   27,   28,   29],\n        [  30,   31,   32,  ...,   57,   58,   59],\n        [  60,   61,   62,  ...,   87,   88,   89],\n        ...,\n        [1110, 1111, 1112,  ..., 1137, 1138, 1139],\n        [1140, 1141, 1142,  ..., 1167, 1168, 1169],\n        [1170, 1171, 1172,  ..., 1197, 1198, 1199]])" },
        { "Three", "tensor([[[ 0.,  1.,  2.],\n         [ 3.,  4.,  5.]],\n\n        [[ 6.,  7.,  8.],\n         [ 9., 10., 11.]]])" },
        { "Summ3D", "tensor([[[0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 9.7000e+01,\n          9.8000e+01, 9.9000e+01],\n         [1.0000e+02, 1.0100e+02, 1.0200e+02,  ..., 1.9700e+02,\n          1.9800e+02, 1.9900e+02],\n         [2.0000e+02, 2.0100e+02, 2.0200e+02,  ..., 2.9700e+02,\n          2.9800e+02, 2.9900e+02],\n         ...,\n         [7.0000e+02, 7.0100e+02, 7.0200e+02,  ..., 7.9700e+02,\n          7.9800e+02, 7.9900e+02],\n         [8.0000e+02, 8.0100e+02, 8.0200e+02,  ..., 8.9700e+02,\n          8.9800e+02, 8.9900e+02],\n         [9.0000e+02, 9.0100e+02, 9.0200e+02,  ..., 9.9700e+02,\n          9.9800e+02, 9.9900e+02]],\n\n        [[1.0000e+03, 1.0010e+03, 1.0020e+03,  ..., 1.0970e+03,\n          1.0980e+03, 1.0990e+03],\n         [1.1000e+03, 1.1010e+03, 1.1020e+03,  ..., 1.1970e+03,\n          1.1980e+03, 1.1990e+03],\n         [1.2000e+03, 1.2010e+03, 1.2020e+03,  ..., 1.2970e+03,\n          1.2980e+03, 1.2990e+03],\n         ...,\n         [1.7000e+03, 1.7010e+03, 1.7020e+03,  ..., 1.7970e+03,\n          1.7980e+03, 1.7990e+03],\n         [1.8000e+03, 1.8010e+03, 1.8020e+03,  ..., 1.8970e+03,\n          1.8980e+03, 1.8990e+03],\n         [1.9000e+03, 1.9010e+03, 1.9020e+03,  ..., 1.9970e+03,\n          1.9980e+03, 1.9990e+03]]])" },
        { "Transposed", "tensor([[1., 4.],\n        [2., 5.],\n        [3., 6.]])" },
        { "Empty", "tensor([])" },
        { "Empty2D", "tensor([], size=(2, 0))" },
        { "EmptyInt", "tensor([], dtype=int64)" },
        { "EmptyBool", "tensor([], size=(3, 0), dtype=bool)" },
        { "RequiresGrad", "tensor([1., 2.], requires_grad=True)" },
        { "GradFn", "tensor([2., 4.], grad_fn=<MulBackward0>)" },
        { "GradFnAdd", "tensor([2., 4.], grad_fn=<AddBackward0>)" },
        { "ScalarGrad", "tensor(2., dtype=float64, requires_grad=True)" },
        { "SuffixWrap", "tensor([0.5000, 0.6000, 0.7000, 0.8000, 0.9000, 1.0000, 1.1000, 1.2000, 1.3000,\n        1.4000, 1.5000], dtype=float64, requires_grad=True)" },
        { "SuffixWrap2", "tensor([ 0.5000,  1.5000,  2.5000,  3.5000,  4.5000,  5.5000,  6.5000,  7.5000,\n         8.5000,  9.5000, 10.5000, 11.5000, 12.5000], dtype=float64,\n       requires_grad=True)" },
        { "NegZero", "tensor([-0.0000, 1.5000])" },
        { "Rounding", "tensor([0.1000, 0.2000, 0.3000, 0.3333])" },
        { "SciRound", "tensor([1.0000e-04, 1.0000e+00])" },
        { "BigInts", "tensor([123456789,        -1])" },
        { "BoolMatrix", "tensor([[ True, False],\n        [False, False]])" },
        { "Float32Precise", "tensor([0.1000, 1.7000])" },
    };

    private static Tensor Make(string name) => name switch
    {
        "Matrix" => Tensor.FromArray(new float[,] { { 1f, 2.5f }, { 3f, 4f } }),
        "IntValued" => F(1, 2, 3),
        "Scalar" => Tensor.Scalar(3.5),
        "ScalarInt" => Tensor.Scalar(3),
        "Float64" => D(1, 2),
        "Float64Frac" => Tensor.FromArray([0.5, -1.25], 1, 2),
        "Int64" => Tensor.FromArray(new long[] { -5, 10, 100 }),
        "Bool" => Tensor.FromArray(new[] { true, false }),
        "Zeros" => Tensor.Zeros(2),
        "SciSmall" => F(1e-5f, 1),
        "SciRatio" => F(1, 1e5f),
        "SciLarge" => F(1.5f, 2e9f),
        "SciTiny" => F(0.5f, 0.00005f),
        "NotSci" => F(0.001f, 0.5f),
        "Negative" => Tensor.FromArray(new float[,] { { -1.5f, 2f }, { 3f, -40.25f } }),
        "NonFinite" => F(1.5f, float.NaN, float.PositiveInfinity, float.NegativeInfinity),
        "NonFiniteInt" => F(1, float.NaN, float.NegativeInfinity),
        "Tie" => F(0.03125f, 1),
        "TieSci" => D(1, 100005),
        "Wrap" => Tensor.Linspace(0, 1, 20),
        "Arange1001" => Tensor.Arange(1001),
        "Arange2000" => Tensor.Arange(2000),
        "Int2D" => Tensor.Arange(1200, DType.Int64).Reshape(40, 30),
        "Three" => Tensor.Arange(12).Reshape(2, 2, 3),
        "Summ3D" => Tensor.Arange(2000).Reshape(2, 10, 100),
        "Transposed" => Tensor.FromArray(new float[,] { { 1, 2, 3 }, { 4, 5, 6 } }).T,
        "Empty" => Tensor.Zeros(0),
        "Empty2D" => Tensor.Zeros(2, 0),
        "EmptyInt" => Tensor.Zeros([0], DType.Int64),
        "EmptyBool" => Tensor.Zeros([3, 0], DType.Bool),
        "RequiresGrad" => F(1, 2).RequiresGrad_(),
        "GradFn" => F(1, 2).RequiresGrad_() * 2,
        "GradFnAdd" => Twice(F(1, 2).RequiresGrad_()),
        "ScalarGrad" => Tensor.Scalar(2, DType.Float64).RequiresGrad_(),
        "SuffixWrap" => Tensor.Linspace(0.5, 1.5, 11, DType.Float64).RequiresGrad_(),
        "SuffixWrap2" => Tensor.Arange(0.5, 13.5, 1, DType.Float64).RequiresGrad_(),
        "NegZero" => F(-0f, 1.5f),
        "Rounding" => F(0.1f, 0.2f, 0.30000001f, 1f / 3),
        "SciRound" => F(9.99996e-5f, 1),
        "BigInts" => Tensor.FromArray(new long[] { 123456789, -1 }),
        "BoolMatrix" => Tensor.FromArray(new[] { true, false, false, false }, 2, 2),
        "Float32Precise" => F(0.1f, 1.7f),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorch(string name, string expected) => Assert.Equal(expected, Make(name).ToString());

    // Python's "{:.Nf}" / "{:.Ne}" round the exact binary value, ties to even.
    [Theory]
    [InlineData(0.125, 2, "0.12")]
    [InlineData(0.375, 2, "0.38")]
    [InlineData(2.5, 0, "2")]
    [InlineData(-0.00001, 4, "-0.0000")]
    [InlineData(1e-300, 4, "0.0000")]
    [InlineData(123.456789, 4, "123.4568")]
    [InlineData(9.99995, 2, "10.00")]
    [InlineData(99999.5, 0, "100000")]
    public void FixedMatchesPythonFormat(double v, int decimals, string expected) =>
        Assert.Equal(expected, TensorPrinter.Fixed(v, decimals));

    [Theory]
    [InlineData(0.125, "1.2500e-01")]
    [InlineData(-0.00001, "-1.0000e-05")]
    [InlineData(1e-300, "1.0000e-300")]
    [InlineData(5e-324, "4.9407e-324")]
    [InlineData(9.99995, "1.0000e+01")]
    [InlineData(99999.5, "1.0000e+05")]
    [InlineData(100005.0, "1.0000e+05")]
    [InlineData(1.7976931348623157e308, "1.7977e+308")]
    [InlineData(0.0, "0.0000e+00")]
    public void SciMatchesPythonFormat(double v, string expected) =>
        Assert.Equal(expected, TensorPrinter.Sci(v, 4));

    [Fact]
    public void DetachedAndNoGradResultsHaveNoSuffix()
    {
        var x = F(1, 2).RequiresGrad_();
        Assert.Equal("tensor([2., 4.])", (x * 2).Detach().ToString());
        using (Autograd.NoGrad())
            Assert.Equal("tensor([2., 4.])", (x * 2).ToString());
    }

    [Fact]
    public void GradFnNamesGetPyTorchOverloadSuffix()
    {
        var x = D(1, 2).RequiresGrad_();
        Assert.EndsWith("grad_fn=<SumBackward0>)", x.Sum().ToString());
        Assert.EndsWith("grad_fn=<ExpBackward0>)", x.Exp().ToString());
        Assert.Equal("tensor(3., dtype=float64, grad_fn=<SumBackward0>)", x.Sum().ToString());
    }

    [Fact]
    public void SummarizedViewPrintsOnlyEdges()
    {
        // a strided view over a large buffer: 1001 elements shown as edges only
        var big = Tensor.Arange(2002).Reshape(1001, 2).Select(1, 1);
        Assert.Equal("tensor([1.0000e+00, 3.0000e+00, 5.0000e+00,  ..., 1.9970e+03, 1.9990e+03,\n        2.0010e+03])", big.ToString());
    }
}
