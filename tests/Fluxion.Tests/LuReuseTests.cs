using Fluxion.Kernels;
using Xunit;

namespace Fluxion.Tests;

/// <summary>
/// The LU-based kernels the linalg ops share and the backward rules that reuse the forward's factorization: the inverse
/// from a packed LU (<c>Decomp.LuInverse</c>, the lower-triangular right-hand side skipping its zeros) and the
/// transposed solve (<c>Decomp.LuSolveTransposed</c>) leave small residuals at unblocked and blocked orders with
/// pivoting; the first-order backward of solve, det and slogdet (saved LU, raw kernels) matches the recorded composite rule
/// the createGraph pass takes, passes float64 gradcheck (first and second order), batched; singular inputs still throw.
/// </summary>
public class LuReuseTests
{
    private static double[] Randn(int len, int seed) => Tensor.Randn([len], DType.Float64, new Generator(seed)).ToDoubleArray();

    /// <summary>A general n×n matrix whose first pivot is zero (so the LU must swap rows) and which is well conditioned.</summary>
    private static double[] General(int n, int seed)
    {
        var a = Randn(n * n, seed);
        for (int i = 0; i < n; i++) a[i * n + (i + 1) % n] += 2 * Math.Sqrt(n); // dominant off the diagonal: pivoting swaps rows
        if (n > 1) a[0] = 0;
        return a;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(64)]
    [InlineData(130)]
    [InlineData(200)]
    public void InverseAndTransposedSolveFromTheLuLeaveSmallResiduals(int n)
    {
        var a = General(n, n);
        var lu = a.ToArray();
        var piv = new int[n];
        Assert.NotEqual(0, Decomp.Lu(lu, n, piv));
        if (n > 2) Assert.Contains(piv.Select((p, i) => p != i), x => x);
        var inv = new double[n * n];
        Decomp.LuInverse(lu, piv, n, inv);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < n; p++) s += a[i * n + p] * inv[p * n + j];
                Assert.True(Math.Abs(s - (i == j ? 1 : 0)) <= 1e-12 * n, $"A·A⁻¹ − I at ({i}, {j}): {s - (i == j ? 1 : 0):g3}");
            }
        foreach (int k in new[] { 1, 3, n + 5 })
        {
            var b = Randn(n * k, 7 * n + k);
            var x = b.ToArray();
            Decomp.LuSolveTransposed(lu, piv, n, x, k);
            for (int i = 0; i < n; i++)
                for (int c = 0; c < k; c++)
                {
                    double s = 0;
                    for (int p = 0; p < n; p++) s += a[p * n + i] * x[p * k + c];
                    Assert.True(Math.Abs(s - b[i * k + c]) <= 1e-11 * n, $"Aᵀ·X − B at ({i}, {c}), k = {k}: {s - b[i * k + c]:g3}");
                }
        }
    }

    [Theory]
    [InlineData(130)]
    [InlineData(257)]
    public void LowerRightHandSideSolveMatchesTheFullSolve(int n)
    {
        // L⁻¹ from the identity with the zeros skipped equals the plain solve of the identity
        var t = Randn(n * n, 3 * n);
        for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) t[i * n + j] = j > i ? double.NaN : j == i ? 2 : t[i * n + j] / n;
        var (x1, x2) = (new double[n * n], new double[n * n]);
        for (int i = 0; i < n; i++) x1[i * n + i] = x2[i * n + i] = 1;
        Decomp.TriSolve(t, n, x1, n, upper: false, unit: false);
        Decomp.TriSolve(t, n, x2, n, upper: false, unit: false, lowerRhs: true);
        TensorAssert.CloseToScale(x1, x2, 1e-13, "lowerRhs", minScale: 1);
    }

    /// <summary>The first-order gradient (raw kernels on the saved LU) and the createGraph one (recorded composite rule).</summary>
    private static void FirstOrderMatchesComposite(Func<Tensor[], Tensor> f, Tensor[] inputs, string what)
    {
        Tensor?[] Grads(bool createGraph)
        {
            var xs = inputs.Select(x => x.Detach().RequiresGrad_()).ToArray();
            var y = f(xs);
            var w = Tensor.Randn(y.ShapeArray, y.DType, new Generator(5));
            return Autograd.Grad([(y * w).Sum()], xs, createGraph: createGraph);
        }
        var (raw, composite) = (Grads(false), Grads(true));
        for (int i = 0; i < inputs.Length; i++)
            TensorAssert.CloseToScale(composite[i]!.ToDoubleArray(), raw[i]!.ToDoubleArray(), inputs[i].DType == DType.Float32 ? 1e-4 : 1e-10, $"{what} input {i}", minScale: 1);
    }

    private static Tensor Mat(int seed, DType dtype, params int[] shape)
    {
        int n = shape[^1];
        var a = Tensor.Randn(shape, DType.Float64, new Generator(seed)) + Tensor.Eye(n, dtype: DType.Float64) * (2 * Math.Sqrt(n));
        return a.To(dtype);
    }

    [Theory]
    [InlineData(4, DType.Float64)]
    [InlineData(130, DType.Float64)]
    [InlineData(130, DType.Float32)]
    public void SolveDetSlogdetBackwardReuseTheForwardLu(int n, DType dtype)
    {
        var a = Mat(1, dtype, 3, n, n);
        var b = Tensor.Randn([3, n, 2], DType.Float64, new Generator(2)).To(dtype);
        FirstOrderMatchesComposite(t => Tensor.Solve(t[0], t[1]), [a, b], $"solve n={n}");
        FirstOrderMatchesComposite(t => Tensor.Solve(t[0], t[1]), [a, Tensor.Randn([n], DType.Float64, new Generator(3)).To(dtype)], $"solve vector n={n}");
        var sn = Mat(4, dtype, 2, n, n) * (n <= 4 ? 1.0 : 0.05); // keeps det finite
        FirstOrderMatchesComposite(t => Tensor.Det(t[0]), [sn], $"det n={n}");
        FirstOrderMatchesComposite(t => Tensor.Slogdet(t[0]).LogAbsDet, [a * -1], $"slogdet n={n}");
    }

    [Fact]
    public void GradcheckFirstAndSecondOrder()
    {
        var a = Mat(7, DType.Float64, 2, 4, 4);
        var b = Tensor.Randn([2, 4, 3], DType.Float64, new Generator(8));
        Func<Tensor[], Tensor>[] fs =
        [
            t => Tensor.Solve(t[0], t[1]),
            t => Tensor.Det(t[0]) + t[1].Sum(),
            t => Tensor.Slogdet(t[0]).LogAbsDet + t[1].Sum(),
            t => Tensor.Inv(t[0]).MatMul(t[1]),
        ];
        foreach (var f in fs)
        {
            var r1 = GradCheck.Check(f, [a, b]);
            Assert.True(r1.Passed, r1.Report);
            var r2 = GradCheck.CheckSecondOrder(f, [a, b]);
            Assert.True(r2.Passed, r2.Report);
        }
    }

    [Fact]
    public void InverseOfBatchedAndPivotedMatricesAndSingularInputsThrow()
    {
        foreach (int n in new[] { 3, 130 })
        {
            var a = Tensor.FromArray(General(n, 11).Concat(General(n, 12)).ToArray(), [2, n, n]);
            var r = a.MatMul(Tensor.Inv(a)) - Tensor.Eye(n, dtype: DType.Float64);
            Assert.True(r.Abs().Max().ToDoubleArray()[0] < 1e-10, $"A·inv(A) − I, n = {n}");
            var x = Tensor.Solve(a.To(DType.Float32), Tensor.Ones([2, n, 1]));
            var res = a.To(DType.Float32).MatMul(x) - Tensor.Ones([2, n, 1]);
            Assert.True(res.Abs().Max().ToDoubleArray()[0] < 1e-4, $"float32 A·X − B, n = {n}");
        }
        // float32 triangular solves (float32 kernels) against float64, blocked and unblocked, both triangles, left and right
        foreach (int n in new[] { 20, 130 })
            foreach (bool upper in new[] { false, true })
            {
                var t = Mat(21, DType.Float64, n, n);
                var b = Tensor.Randn([2, n, 3], DType.Float64, new Generator(22));
                var want = Tensor.SolveTriangular(t, b, upper).ToDoubleArray();
                var got = Tensor.SolveTriangular(t.To(DType.Float32), b.To(DType.Float32), upper);
                Assert.Equal(DType.Float32, got.DType);
                TensorAssert.CloseToScale(want, got.ToDoubleArray(), 1e-4, $"float32 solve_triangular n={n} upper={upper}", minScale: 1);
                var wantR = Tensor.SolveTriangular(t, b.MT, upper, left: false).ToDoubleArray();
                var gotR = Tensor.SolveTriangular(t.To(DType.Float32), b.MT.To(DType.Float32), upper, left: false);
                TensorAssert.CloseToScale(wantR, gotR.ToDoubleArray(), 1e-4, $"float32 right solve_triangular n={n} upper={upper}", minScale: 1);
                var inv = Tensor.Inv(t.To(DType.Float32)).ToDoubleArray();
                TensorAssert.CloseToScale(Tensor.Inv(t).ToDoubleArray(), inv, 1e-4, $"float32 inv n={n}", minScale: 1);
            }
        var s = Tensor.FromArray(new double[] { 1, 2, 2, 4 }, [2, 2]);
        Assert.Throws<ArgumentException>(() => Tensor.Inv(s));
        Assert.Throws<ArgumentException>(() => Tensor.Solve(s, Tensor.Ones([2, 1], DType.Float64)));
        // det at a singular matrix: the value is 0, the backward (no saved factorization to use) throws as before
        var sg = s.Detach().RequiresGrad_();
        var d = Tensor.Det(sg);
        Assert.Equal(0, d.Item<double>());
        Assert.Throws<ArgumentException>(() => d.Backward());
    }
}
