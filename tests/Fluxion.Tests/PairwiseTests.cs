namespace Fluxion.Tests;

public class PairwiseTests
{
    private static Tensor R(int seed, params int[] shape) => Tensor.Randn(shape, DType.Float64, new Generator(seed));
    private static double[] V(Tensor t) => t.ToDoubleArray();
    private static double MaxAbsDiff(Tensor a, Tensor b) => V(a).Zip(V(b), (p, q) => Math.Abs(p - q)).Max();

    private static double[] Naive(Tensor a, Tensor b)
    {
        // a [B, P, M], b [B, R, M] (same B)
        int nb = a.Size(0), p = a.Size(1), r = b.Size(1), m = a.Size(2);
        var d = new List<double>();
        for (int k = 0; k < nb; k++)
            for (int i = 0; i < p; i++)
                for (int j = 0; j < r; j++)
                {
                    double s = 0;
                    for (int c = 0; c < m; c++)
                    {
                        double t = a.Get(k, i, c) - b.Get(k, j, c);
                        s += t * t;
                    }
                    d.Add(Math.Sqrt(s));
                }
        return [.. d];
    }

    [Fact]
    public void ValuesMatchNaive()
    {
        var cmp = new ToleranceComparer(1e-12);
        var a = R(1, 4, 3);
        var b = R(2, 5, 3);
        var d = Tensor.Cdist(a, b);
        Assert.Equal([4, 5], d.ShapeArray);
        Assert.Equal(Naive(a.Unsqueeze(0), b.Unsqueeze(0)), V(d), cmp);

        var a3 = R(3, 2, 4, 20); // long rows take the vector path
        var b3 = R(4, 2, 6, 20);
        var d3 = Tensor.Cdist(a3, b3);
        Assert.Equal([2, 4, 6], d3.ShapeArray);
        Assert.Equal(Naive(a3, b3), V(d3), cmp);

        // broadcast batch: [2, 4, 3] with [5, 3] and [1, 5, 3]
        var a2 = R(5, 2, 4, 3);
        var exp = Naive(a2, b.Unsqueeze(0).Expand(2, 5, 3));
        Assert.Equal(exp, V(Tensor.Cdist(a2, b)), cmp);
        Assert.Equal(exp, V(Tensor.Cdist(a2, b.Unsqueeze(0))), cmp);

        // non-contiguous inputs and float32
        var at = R(6, 3, 4).T;
        Assert.Equal(Naive(at.Contiguous().Unsqueeze(0), b.Unsqueeze(0)), V(Tensor.Cdist(at, b)), cmp);
        Assert.Equal(V(d), V(Tensor.Cdist(a.To(DType.Float32), b.To(DType.Float32))), new ToleranceComparer(1e-5));
    }

    [Fact]
    public void LargeInputsUseTheParallelPathCorrectly()
    {
        var a = R(30, 2, 64, 20);
        var b = R(31, 2, 70, 20);
        var want = (a.Unsqueeze(2) - b.Unsqueeze(1)).Square().Sum(-1).Sqrt();
        Assert.True(MaxAbsDiff(want, Tensor.Cdist(a, b)) < 1e-12);
        var a3 = R(32, 300, 3);
        var b3 = R(33, 200, 3);
        var want3 = (a3.Unsqueeze(1) - b3.Unsqueeze(0)).Square().Sum(-1).Sqrt();
        Assert.True(MaxAbsDiff(want3, Tensor.Cdist(a3, b3)) < 1e-12);
    }

    [Fact]
    public void MatMulPathMatchesTheDifferences()
    {
        // P > 25 or R > 25 takes the ‖a‖² + ‖b‖² − 2ab GEMM form (PyTorch's compute mode); R ≤ 25 and P ≤ 25 the direct one
        var a = R(40, 40, 16);
        var b = R(41, 30, 16);
        // coincident and nearly coincident points: recomputed from their differences (exact 0, full accuracy)
        a = a.IndexPut([Tensor.FromArray([0L, 1, 2], 3)], b.Narrow(0, 0, 3));
        a = a.IndexPut([Tensor.FromArray([3L], 1)], b.Narrow(0, 5, 1) + 1e-9);
        var want = (a.Unsqueeze(1) - b.Unsqueeze(0)).Square().Sum(-1).Sqrt();
        var d = Tensor.Cdist(a, b);
        for (int i = 0; i < 40; i++)
            for (int j = 0; j < 30; j++)
                Assert.True(Math.Abs(d.Get(i, j) - want.Get(i, j)) <= 1e-13 * Math.Max(1, want.Get(i, j)), $"d[{i},{j}] = {d.Get(i, j):R}, want {want.Get(i, j):R}");
        for (int i = 0; i < 3; i++) Assert.Equal(0.0, d.Get(i, i));
        Assert.Equal(want.Get(3, 5), d.Get(3, 5), 1e-15);
        // a small set on one side only still takes the GEMM form (P = 26, R = 3)
        Assert.True(MaxAbsDiff(Tensor.Cdist(a.Narrow(0, 0, 26), b.Narrow(0, 0, 3)), want.Narrow(0, 0, 26).Narrow(1, 0, 3)) < 1e-13);
        // float32: within float accuracy of the float64 distances
        var d32 = Tensor.Cdist(a.To(DType.Float32), b.To(DType.Float32)).To(DType.Float64);
        Assert.True(MaxAbsDiff(d32, want) < 2e-5 * V(want).Max(), $"float32 error {MaxAbsDiff(d32, want)}");
        for (int i = 0; i < 3; i++) Assert.Equal(0.0, d32.Get(i, i));
        // batched, with a broadcast batch dim
        var a3 = R(42, 2, 30, 5);
        var b3 = R(43, 1, 27, 5);
        var want3 = (a3.Unsqueeze(2) - b3.Unsqueeze(1)).Square().Sum(-1).Sqrt();
        Assert.True(MaxAbsDiff(want3, Tensor.Cdist(a3, b3)) < 1e-13);
    }

    [Fact]
    public void MatMulPathSelfDistanceNonFiniteAndGradients()
    {
        // self-distances: the diagonal is exactly 0 and its gradient contributes nothing, as on the direct path
        var x = R(44, 30, 3).RequiresGrad_();
        var self = Tensor.Cdist(x, x);
        for (int i = 0; i < 30; i++) Assert.Equal(0.0, self.Get(i, i));
        self.Sum().Backward();
        var xs = x.Detach();
        for (int i = 0; i < 30; i += 7)
            for (int c = 0; c < 3; c++)
            {
                double want = 0;
                for (int j = 0; j < 30; j++)
                    if (j != i) want += 2 * (xs.Get(i, c) - xs.Get(j, c)) / self.Get(i, j);
                Assert.Equal(want, x.Grad!.Get(i, c), 10);
            }
        // NaN and infinite coordinates give what the differences give (NaN, inf), not the formula's inf − inf
        var a = R(45, 28, 2);
        a = a.IndexPut([Tensor.FromArray([0L], 1)], Tensor.FromArray([double.NaN, 0], 1, 2));
        a = a.IndexPut([Tensor.FromArray([1L], 1)], Tensor.FromArray([double.PositiveInfinity, 0], 1, 2));
        var b = R(46, 4, 2);
        var d = Tensor.Cdist(a, b);
        var wantD = (a.Unsqueeze(1) - b.Unsqueeze(0)).Square().Sum(-1).Sqrt();
        Assert.Equal(V(wantD), V(d), new ToleranceComparer(1e-13));
        // gradients (first and second order) through the GEMM form
        GradCheck.Assert(t => Tensor.Cdist(t[0], t[1]), [R(47, 27, 3), R(48, 4, 3)]);
        GradCheck.Assert(t => Tensor.Cdist(t[0], t[1]).Square().Sum(-1), [R(49, 3, 2), R(50, 26, 2)]);
    }

    [Fact]
    public void ShapeErrors()
    {
        Assert.Throws<ShapeMismatchException>(() => Tensor.Cdist(Tensor.Zeros(3), Tensor.Zeros(2, 3)));
        Assert.Throws<ShapeMismatchException>(() => Tensor.Cdist(Tensor.Zeros(2, 3), Tensor.Zeros(2, 4)));
        Assert.Throws<ShapeMismatchException>(() => Tensor.Cdist(Tensor.Zeros(2, 2, 3), Tensor.Zeros(3, 2, 3)));
        Assert.Throws<DTypeMismatchException>(() => Tensor.Cdist(Tensor.Zeros(2, 3), Tensor.Zeros([2, 3], DType.Float64)));
    }

    [Fact]
    public void GradCheck2DAnd3D()
    {
        GradCheck.Assert(t => Tensor.Cdist(t[0], t[1]), [R(7, 3, 2), R(8, 4, 2)]);
        GradCheck.Assert(t => Tensor.Cdist(t[0], t[1]).Square(), [R(9, 2, 3, 4), R(10, 2, 2, 4)]);
        // non-contiguous inputs and a permuted view inside f
        GradCheck.Assert(t => Tensor.Cdist(t[0], t[1].Permute(1, 0)), [R(11, 4, 3).T, R(12, 4, 2)]);
        // broadcast batch
        GradCheck.Assert(t => Tensor.Cdist(t[0], t[1]), [R(13, 2, 2, 3), R(14, 3, 3)]);
        // the same tensor on both sides (diagonal d = 0 is excluded by construction: x differs from 2x)
        GradCheck.Assert(t => Tensor.Cdist(t[0], t[0] * 2.0), [R(15, 3, 2)]);
    }

    [Fact]
    public void ZeroDistanceHasZeroFiniteGradient()
    {
        var a = Tensor.FromArray([0.0, 0, 3, 4], 2, 2).RequiresGrad_();
        var b = Tensor.FromArray([0.0, 0], 1, 2).RequiresGrad_();
        var d = Tensor.Cdist(a, b);
        Assert.Equal([0.0, 5], V(d));
        var ga = Autograd.Grad([d.Sum()], [a, b], createGraph: true);
        // d(0,0) = 0 contributes nothing; d(1,0) = 5 gives (a1 − b0)/5
        Assert.Equal([0, 0, 0.6, 0.8], V(ga[0]!), new ToleranceComparer(1e-15));
        Assert.Equal([-0.6, -0.8], V(ga[1]!), new ToleranceComparer(1e-15));
        var h = Autograd.Grad([ga[0]!.Sum() + ga[1]!.Sum()], [a, b]);
        Assert.All(V(h[0]!).Concat(V(h[1]!)), v => Assert.True(double.IsFinite(v)));

        // self-distance: the whole diagonal is 0 and the gradient stays finite
        var x = R(16, 4, 3).RequiresGrad_();
        var self = Tensor.Cdist(x, x);
        for (int i = 0; i < 4; i++) Assert.Equal(0.0, self.Get(i, i));
        self.Sum().Backward();
        Assert.All(V(x.Grad!), v => Assert.True(double.IsFinite(v)));
        // the diagonal contributes nothing: gradient of Σ_{i≠j} d_ij = 2 Σ_j (x_i − x_j)/d_ij
        var xs = x.Detach();
        for (int i = 0; i < 4; i++)
            for (int c = 0; c < 3; c++)
            {
                double want = 0;
                for (int j = 0; j < 4; j++)
                    if (j != i) want += 2 * (xs.Get(i, c) - xs.Get(j, c)) / self.Get(i, j);
                Assert.Equal(want, x.Grad!.Get(i, c), 12);
            }
    }

    [Fact]
    public void JvpRule()
    {
        OpChecks.Jvp("Cdist", t => Tensor.Cdist(t[0], t[1]), [R(17, 3, 4), R(18, 5, 4)]);
        OpChecks.Jvp("Cdist", t => Tensor.Cdist(t[0], t[1]), [R(19, 2, 3, 2), R(20, 2, 4, 2)]);
        OpChecks.Jvp("Cdist", t => Tensor.Cdist(t[0], t[1]), [R(21, 3, 4), R(22, 5, 4)], tangentMask: [true, false]);
        OpChecks.Jvp("Cdist", t => Tensor.Cdist(t[0], t[1]), [R(23, 3, 4), R(24, 5, 4)], tangentMask: [false, true]);
    }
}
