namespace Fluxion.Tests;

public class LinalgTests
{
    private static Tensor R(params int[] shape) => Tensor.Randn(shape, DType.Float64);

    /// <summary>Plain triple loop, the reference for every product shape.</summary>
    private static double[] Naive(double[] a, double[] b, int m, int k, int n)
    {
        var c = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
                c[i * n + j] = s;
            }
        return c;
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(7, 13, 5)]
    [InlineData(129, 257, 65)]
    public void MatMulMatchesNaive(int m, int k, int n)
    {
        var a = R(m, k);
        var b = R(k, n);
        var want = Naive(a.ToArray<double>(), b.ToArray<double>(), m, k, n);
        var got = a.MatMul(b).ToArray<double>();
        for (int i = 0; i < want.Length; i++) Assert.Equal(want[i], got[i], 1e-10);
        // transposed operands go through the same kernel after packing
        var gotT = a.T.Contiguous().T.MatMul(b.T.Contiguous().T).ToArray<double>();
        for (int i = 0; i < want.Length; i++) Assert.Equal(want[i], gotT[i], 1e-10);
    }

    [Theory]
    [InlineData(new[] { 4 }, new[] { 4 }, new int[0])]
    [InlineData(new[] { 3, 4 }, new[] { 4 }, new[] { 3 })]
    [InlineData(new[] { 4 }, new[] { 4, 5 }, new[] { 5 })]
    [InlineData(new[] { 2, 3, 4 }, new[] { 4, 5 }, new[] { 2, 3, 5 })]
    [InlineData(new[] { 2, 3, 4 }, new[] { 2, 4, 5 }, new[] { 2, 3, 5 })]
    [InlineData(new[] { 2, 1, 3, 4 }, new[] { 5, 4, 2 }, new[] { 2, 5, 3, 2 })]
    [InlineData(new[] { 4 }, new[] { 2, 4, 5 }, new[] { 2, 5 })]
    public void MatMulShapesAndGradients(int[] sa, int[] sb, int[] sy)
    {
        var a = R(sa);
        var b = R(sb);
        Assert.Equal(sy, a.MatMul(b).ShapeArray);
        GradCheck.Assert(t => t[0].MatMul(t[1]), [a, b]);
    }

    [Fact]
    public void MatMulNonContiguousGradCheck()
    {
        GradCheck.Assert(t => t[0].MatMul(t[1]), [R(5, 3).T, R(4, 5).T]);
    }

    [Fact]
    public void MatMulShapeErrorNamesBothShapes()
    {
        var ex = Assert.Throws<ShapeMismatchException>(() => Tensor.Zeros(2, 3).MatMul(Tensor.Zeros(4, 5)));
        Assert.Contains("[2, 3]", ex.Message);
        Assert.Contains("[4, 5]", ex.Message);
    }
}
