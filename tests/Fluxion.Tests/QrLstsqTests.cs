using Fluxion.Kernels;
using Xunit;

namespace Fluxion.Tests;

/// <summary>
/// The WY-form Householder QR kernel (<c>Decomp.QrFactor</c> with <c>ApplyQt</c> / <c>ApplyQ</c>, float32 and float64) and the
/// least-squares solve built on it (<see cref="Tensor.Lstsq"/> without a derivative to record: QR for full-rank systems, the
/// pseudo-inverse otherwise): orthogonality and reconstruction residuals, tall / square / wide, batched, against the
/// SVD-based minimum-norm solution, and rank-deficient systems (PyTorch's default rcond = eps·max(m, n): the minimum-norm
/// solution over the singular values above it).
/// </summary>
public class QrLstsqTests
{
    private static double[] Randn(int len, int seed) => Tensor.Randn([len], DType.Float64, new Generator(seed)).ToDoubleArray();

    [Theory]
    [InlineData(150, 70)]
    [InlineData(70, 150)]
    [InlineData(130, 130)]
    [InlineData(5, 3)]
    public void QrFactorIsOrthogonalAndReconstructs(int m, int n)
    {
        var a = Randn(m * n, m + 3 * n);
        Check(a, 1e-12);
        Check(a.Select(v => (float)v).ToArray(), 2e-5);

        void Check<T>(T[] src, double tol) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
        {
            int k = Math.Min(m, n);
            var w = src.ToArray();
            var panels = Decomp.QrFactor(w, m, n);
            // Q (m×k) from the identity, R (k×n) from w's upper triangle
            var q = new T[m * k];
            for (int i = 0; i < k; i++) q[i * k + i] = T.One;
            Decomp.ApplyQ(panels, q, k, k, identity: true);
            var qt = Tensor.FromArray(q.Select(v => double.CreateTruncating(v)).ToArray(), m, k);
            var r = new double[k * n];
            for (int i = 0; i < k; i++) for (int j = i; j < n; j++) r[i * n + j] = double.CreateTruncating(w[i * n + j]);
            var at = Tensor.FromArray(src.Select(v => double.CreateTruncating(v)).ToArray(), m, n);
            TensorAssert.CloseToScale(at.ToDoubleArray(), qt.MatMul(Tensor.FromArray(r, k, n)).ToDoubleArray(), tol, $"QR {m}x{n} {typeof(T).Name}");
            TensorAssert.CloseToScale(Tensor.Eye(k, dtype: DType.Float64).ToDoubleArray(), qt.MT.MatMul(qt).ToDoubleArray(), tol, $"QᵀQ {m}x{n} {typeof(T).Name}", minScale: 1);
            // Qᵀ·(Q·C) = C for a C with m rows
            var c = new T[m * 4];
            for (int i = 0; i < c.Length; i++) c[i] = T.CreateTruncating(Math.Sin(i + 1.0));
            var c0 = c.ToArray();
            Decomp.ApplyQt(panels, c, 4, 4);
            Decomp.ApplyQ(panels, c, 4, 4);
            TensorAssert.CloseToScale(c0.Select(v => double.CreateTruncating(v)).ToArray(), c.Select(v => double.CreateTruncating(v)).ToArray(), tol * 10, "Q·Qᵀ·C", minScale: 1);
        }
    }

    [Theory]
    [InlineData(DType.Float64, 140, 90, 3)]
    [InlineData(DType.Float64, 100, 100, 2)]
    [InlineData(DType.Float64, 60, 150, 5)]
    [InlineData(DType.Float32, 140, 90, 3)]
    [InlineData(DType.Float32, 60, 150, 5)]
    [InlineData(DType.Float32, 7, 4, 2)]
    public void FullRankLstsqMatchesThePseudoInverseSolution(DType dt, int m, int n, int k)
    {
        var a = Tensor.Randn([2, m, n], dt, new Generator(m + n));
        var b = Tensor.Randn([2, m, k], dt, new Generator(m * n));
        var x = Tensor.Lstsq(a, b);
        Assert.Equal(new[] { 2, n, k }, x.ShapeArray);
        Assert.Equal(dt, x.DType);
        var want = Tensor.Pinv(a.To(DType.Float64)).MatMul(b.To(DType.Float64));
        double tol = dt == DType.Float32 ? 1e-4 : 1e-9;
        TensorAssert.CloseToScale(want.ToDoubleArray(), x.ToDoubleArray(), tol, $"lstsq {m}x{n}", minScale: 1);
        // optimality: Aᵀ·(A·X − B) = 0 (tall, square); A·X = B (wide)
        var a64 = a.To(DType.Float64);
        var res = a64.MatMul(x.To(DType.Float64)) - b.To(DType.Float64);
        var g = m >= n ? a64.MT.MatMul(res) : res;
        double scale = a64.Abs().Max().Item<double>() * b.To(DType.Float64).Abs().Max().Item<double>() * Math.Max(m, n);
        Assert.True(g.Abs().Max().Item<double>() <= tol * (1 + scale), $"residual {g.Abs().Max().Item<double>()}");
    }

    [Fact]
    public void VectorRightHandSideAndTheGradientPathAgree()
    {
        var a = Tensor.Randn([9, 4], DType.Float64, new Generator(5));
        var b = Tensor.Randn([9], DType.Float64, new Generator(6));
        var x = Tensor.Lstsq(a, b);
        Assert.Equal(new[] { 4 }, x.ShapeArray);
        var xg = Tensor.Lstsq(a.Detach().RequiresGrad_(), b); // the recorded (pseudo-inverse) path
        TensorAssert.CloseToScale(xg.Detach().ToDoubleArray(), x.ToDoubleArray(), 1e-10, "vector rhs", minScale: 1);
    }

    [Theory]
    [InlineData(DType.Float64, 12, 6)]
    [InlineData(DType.Float32, 12, 6)]
    [InlineData(DType.Float64, 6, 12)]
    [InlineData(DType.Float64, 150, 140)]
    public void RankDeficientSystemsGetTheMinimumNormSolution(DType dt, int m, int n)
    {
        // rank min(m, n) − 2: two columns (tall) or rows (wide) repeat others
        var a0 = Tensor.Randn([m, n], DType.Float64, new Generator(11)).ToDoubleArray();
        if (m >= n)
            for (int i = 0; i < m; i++) { a0[i * n + n - 1] = a0[i * n]; a0[i * n + n - 2] = 2 * a0[i * n + 1]; }
        else
            for (int j = 0; j < n; j++) { a0[(m - 1) * n + j] = a0[j]; a0[(m - 2) * n + j] = -a0[n + j]; }
        var a = Tensor.FromArray(a0, m, n).To(dt);
        var b = Tensor.Randn([m, 3], dt, new Generator(12));
        Assert.Equal(Math.Min(m, n) - 2, (int)Tensor.MatrixRank(a).Item<long>());
        var x = Tensor.Lstsq(a, b);
        var want = Tensor.Pinv(a.To(DType.Float64), rtol: (dt == DType.Float32 ? 1.1920928955078125e-07 : 2.220446049250313e-16) * Math.Max(m, n))
            .MatMul(b.To(DType.Float64));
        TensorAssert.CloseToScale(want.ToDoubleArray(), x.ToDoubleArray(), dt == DType.Float32 ? 1e-4 : 1e-8, "minimum-norm solution", minScale: 1);
        // the factor's rank test declines it
        var w = a.To(DType.Float64).ToDoubleArray();
        bool tall = m >= n;
        var f = tall ? w : Tensor.FromArray(w, m, n).MT.Contiguous().ToDoubleArray();
        int rows = Math.Max(m, n), cols = Math.Min(m, n);
        Decomp.QrFactor(f, rows, cols);
        var r = new double[cols * cols];
        for (int i = 0; i < cols; i++) for (int j = i; j < cols; j++) r[i * cols + j] = f[i * cols + j];
        Assert.False(Decomp.FullRankEstimate<double>(r, cols, lower: false, 2.220446049250313e-16 * rows));
    }

    [Fact]
    public void RankEstimateSeparatesConditionNumbersAroundTheTolerance()
    {
        const int n = 40;
        var q = Tensor.Qr(Tensor.Randn([n, n], DType.Float64, new Generator(21))).Q;
        foreach (var (smin, full) in new[] { (1e-3, true), (1.2e-5, true), (3.8e-6, false), (1e-9, false), (0.0, false) })
        {
            var s = Enumerable.Range(0, n).Select(i => i == n - 1 ? smin : 1.0 + i * 0.1).ToArray();
            var a = q.MatMul(Tensor.FromArray(s, n).Unsqueeze(-1) * Tensor.Qr(Tensor.Randn([n, n], DType.Float64, new Generator(22))).Q.MT);
            var w = a.ToDoubleArray();
            Decomp.QrFactor(w, n, n);
            var r = new double[n * n];
            for (int i = 0; i < n; i++) for (int j = i; j < n; j++) r[i * n + j] = w[i * n + j];
            double ratio = Decomp.RatioEstimate<double>(r, n, lower: false), want = smin / 4.8;
            Assert.True(smin == 0 ? ratio < 1e-12 : ratio >= want * 0.999 && ratio <= want * 1.1, $"σ_min/σ_max estimate {ratio:G4}, true {want:G4}");
            Assert.Equal(full, Decomp.FullRankEstimate<double>(r, n, lower: false, 1e-6));
        }
    }
}
