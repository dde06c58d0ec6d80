using Fluxion.Kernels;
using Xunit;

namespace Fluxion.Tests;

/// <summary>
/// The symmetric eigensolver and the SVD (Householder reduction, then implicit-shift QL / Golub–Kahan QR): residual and
/// orthogonality to a few ulps·n·‖A‖ on random, ill-conditioned, rank-deficient, repeated-eigenvalue and NaN inputs; known
/// spectra recovered; values-only paths equal to the values of the full decomposition; empty and batched float32 / float64
/// inputs through the public ops.
/// </summary>
public class SpectralDecompTests
{
    private const double Eps = 2.220446049250313e-16;

    private static double[] Randn(int len, int seed) => Tensor.Randn([len], DType.Float64, new Generator(seed)).ToDoubleArray();

    /// <summary>A random orthogonal n×n matrix (the Q of a Gaussian matrix).</summary>
    private static double[] Orthogonal(int n, int seed)
    {
        var q = new double[n * n];
        Decomp.Qr(Randn(n * n, seed), n, n, q, new double[n * n], complete: false);
        return q;
    }

    /// <summary>Q·diag(λ)·Qᵀ.</summary>
    private static double[] WithSpectrum(double[] lambda, int seed)
    {
        int n = lambda.Length;
        var q = Orthogonal(n, seed);
        var a = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < n; p++) s += q[i * n + p] * lambda[p] * q[j * n + p];
                a[i * n + j] = s;
            }
        return a;
    }

    private static double MaxAbs(double[] x) => x.Length == 0 ? 0 : x.Max(Math.Abs);

    /// <summary>max |(QᵀQ − I)_ij| over the columns of the rows×cols matrix q.</summary>
    private static double OrthoError(double[] q, int rows, int cols)
    {
        double err = 0;
        for (int a = 0; a < cols; a++)
            for (int b = 0; b < cols; b++)
            {
                double s = 0;
                for (int i = 0; i < rows; i++) s += q[i * cols + a] * q[i * cols + b];
                err = Math.Max(err, Math.Abs(s - (a == b ? 1 : 0)));
            }
        return err;
    }

    private static void CheckEigh(double[] a, int n, double[] w, double[] v, double tolUlps = 20)
    {
        double norm = Math.Max(MaxAbs(a) * n, 1e-300);
        for (int c = 1; c < n; c++) Assert.True(w[c] >= w[c - 1], $"eigenvalues not ascending at {c}");
        // A·v_c − λ_c·v_c
        double res = 0;
        for (int i = 0; i < n; i++)
            for (int c = 0; c < n; c++)
            {
                double s = -w[c] * v[i * n + c];
                for (int p = 0; p < n; p++) s += a[i * n + p] * v[p * n + c];
                res = Math.Max(res, Math.Abs(s));
            }
        Assert.True(res <= tolUlps * n * Eps * norm, $"eigh residual {res:g3} vs ‖A‖ {norm:g3} (n={n})");
        Assert.True(OrthoError(v, n, n) <= tolUlps * n * Eps, $"eigenvectors not orthonormal: {OrthoError(v, n, n):g3}");
        for (int c = 0; c < n; c++)
        {
            int big = 0;
            for (int i = 1; i < n; i++) if (Math.Abs(v[i * n + c]) > Math.Abs(v[big * n + c])) big = i;
            Assert.True(v[big * n + c] > 0, "gauge: the largest entry of each eigenvector is positive");
        }
    }

    private static void CheckSvd(double[] a, int m, int n, double[] u, double[] s, double[] vt, double tolUlps = 30)
    {
        int k = Math.Min(m, n);
        double norm = Math.Max(MaxAbs(a) * Math.Max(m, n), 1e-300);
        for (int c = 1; c < k; c++) Assert.True(s[c] <= s[c - 1] && s[c] >= 0, $"singular values not descending / negative at {c}");
        double res = 0;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double r = -a[i * n + j];
                for (int p = 0; p < k; p++) r += u[i * k + p] * s[p] * vt[p * n + j];
                res = Math.Max(res, Math.Abs(r));
            }
        Assert.True(res <= tolUlps * Math.Max(m, n) * Eps * norm, $"svd residual {res:g3} vs ‖A‖ {norm:g3} ({m}x{n})");
        Assert.True(OrthoError(u, m, k) <= tolUlps * Math.Max(m, n) * Eps, $"U not orthonormal: {OrthoError(u, m, k):g3}");
        var v = new double[n * k];
        for (int p = 0; p < k; p++) for (int j = 0; j < n; j++) v[j * k + p] = vt[p * n + j];
        Assert.True(OrthoError(v, n, k) <= tolUlps * Math.Max(m, n) * Eps, $"V not orthonormal: {OrthoError(v, n, k):g3}");
    }

    private static (double[] W, double[] V) Eigh(double[] a, int n)
    {
        var w = new double[n];
        var v = new double[n * n];
        Decomp.Eigh(a, n, w, v);
        var w2 = new double[n];
        Decomp.Eigh(a, n, w2, default, vectors: false);
        Assert.Equal(w, w2);  // the values-only path runs the same iteration on the values
        return (w, v);
    }

    private static (double[] U, double[] S, double[] Vt) Svd(double[] a, int m, int n)
    {
        int k = Math.Min(m, n);
        var (u, s, vt) = (new double[m * k], new double[k], new double[k * n]);
        Decomp.Svd(a, m, n, u, s, vt);
        var s2 = new double[k];
        Decomp.Svd(a, m, n, default, s2, default, vectors: false);
        Assert.Equal(s, s2);
        return (u, s, vt);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(32)]
    [InlineData(97)]
    public void EighOfRandomSymmetricMatrices(int n)
    {
        var a = Randn(n * n, n);
        for (int i = 0; i < n; i++) for (int j = 0; j < i; j++) a[j * n + i] = double.NaN;  // only the lower triangle is read
        var sym = a.ToArray();
        for (int i = 0; i < n; i++) for (int j = i + 1; j < n; j++) sym[i * n + j] = sym[j * n + i];
        var (w, v) = Eigh(a, n);
        CheckEigh(sym, n, w, v);
    }

    [Fact]
    public void EighRecoversKnownSpectraRepeatedAndIllConditioned()
    {
        double[][] spectra =
        [
            [-2, 1, 1, 1, 3, 3, 7, 7, 7, 7],                                 // repeated eigenvalues
            [.. Enumerable.Range(0, 12).Select(i => Math.Pow(10, -i))],      // condition 1e11
            [0, 0, 0, 1, 2, 0, 0, 5],                                        // rank deficient
            [.. Enumerable.Repeat(4.0, 9)],                                  // a multiple of the identity
        ];
        for (int t = 0; t < spectra.Length; t++)
        {
            var lambda = spectra[t];
            int n = lambda.Length;
            var a = WithSpectrum(lambda, 10 + t);
            var (w, v) = Eigh(a, n);
            CheckEigh(a, n, w, v);
            var want = lambda.OrderBy(x => x).ToArray();
            for (int i = 0; i < n; i++)
                Assert.True(Math.Abs(w[i] - want[i]) <= 50 * n * Eps * MaxAbs(lambda), $"spectrum {t}: λ{i} = {w[i]} vs {want[i]}");
        }
        // already diagonal / tridiagonal inputs
        var diag = new double[] { 3, 0, 0, 0, 1, 0, 0, 0, 2 };
        var (wd, vd) = Eigh(diag, 3);
        Assert.Equal(new double[] { 1, 2, 3 }, wd);
        CheckEigh(diag, 3, wd, vd);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(5, 3)]
    [InlineData(3, 5)]
    [InlineData(8, 8)]
    [InlineData(40, 17)]
    [InlineData(17, 40)]
    [InlineData(90, 90)]
    public void SvdOfRandomMatrices(int m, int n)
    {
        var a = Randn(m * n, m * 100 + n);
        var (u, s, vt) = Svd(a, m, n);
        CheckSvd(a, m, n, u, s, vt);
        // gauge: the largest entry of each right singular vector is positive (of each left one for a wide matrix)
        int k = Math.Min(m, n);
        for (int c = 0; c < k; c++)
        {
            var vec = m >= n ? vt.AsSpan(c * n, n).ToArray() : Enumerable.Range(0, m).Select(i => u[i * k + c]).ToArray();
            Assert.True(vec[Array.IndexOf(vec, vec.MaxBy(Math.Abs))] > 0);
        }
    }

    [Fact]
    public void SvdRecoversKnownSingularValuesRankDeficientAndIllConditioned()
    {
        int m = 14, n = 10;
        double[][] sigmas =
        [
            [.. Enumerable.Range(0, 10).Select(i => Math.Pow(10, -1.2 * i))],  // condition 1e10.8
            [5, 5, 5, 2, 2, 1, 0, 0, 0, 0],                                    // repeated and rank 6
            [.. Enumerable.Repeat(0.0, 10)],                                   // zero matrix
        ];
        for (int t = 0; t < sigmas.Length; t++)
        {
            var sig = sigmas[t];
            var q1 = Orthogonal(m, 20 + t);
            var q2 = Orthogonal(n, 30 + t);
            var a = new double[m * n];
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double acc = 0;
                    for (int p = 0; p < n; p++) acc += q1[i * m + p] * sig[p] * q2[j * n + p];
                    a[i * n + j] = acc;
                }
            foreach (bool transpose in new[] { false, true })
            {
                var x = a;
                int rm = m, rn = n;
                if (transpose)
                {
                    x = new double[n * m];
                    for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) x[j * m + i] = a[i * n + j];
                    (rm, rn) = (n, m);
                }
                var (u, s, vt) = Svd(x, rm, rn);
                CheckSvd(x, rm, rn, u, s, vt);
                for (int i = 0; i < n; i++)
                    Assert.True(Math.Abs(s[i] - sig[i]) <= 50 * m * Eps * Math.Max(sig[0], 1e-300), $"case {t}: σ{i} = {s[i]} vs {sig[i]}");
            }
        }
    }

    [Fact]
    public void NonFiniteInputsGiveNaNsWithoutHanging()
    {
        var a = Randn(16, 3);
        a[5] = double.NaN;
        var (w, v) = (new double[4], new double[16]);
        Decomp.Eigh(a, 4, w, v);
        Assert.All(w, x => Assert.True(double.IsNaN(x)));
        var (u, s, vt) = (new double[16], new double[4], new double[16]);
        a[5] = double.PositiveInfinity;
        Decomp.Svd(a, 4, 4, u, s, vt);
        Assert.All(s, x => Assert.True(double.IsNaN(x)));
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void BatchedAndEmptyThroughThePublicOps(DType dtype)
    {
        double tol = dtype == DType.Float32 ? 2e-5 : 1e-12;
        var a = Tensor.Randn([3, 2, 6, 4], dtype, new Generator(5));
        var (u, s, vh) = Tensor.Svd(a, fullMatrices: false);
        Assert.Equal(new[] { 3, 2, 6, 4 }, u.ShapeArray);
        var rec = u.MatMul(s.Unsqueeze(-1) * vh);
        Assert.True((rec - a).Abs().Amax().ToDoubleArray()[0] <= tol * 10);
        Assert.Equal(s.ToDoubleArray(), Tensor.Svdvals(a).ToDoubleArray());
        var full = Tensor.Svd(a.MT);
        Assert.Equal(new[] { 3, 2, 4, 4 }, full.U.ShapeArray);
        Assert.Equal(new[] { 3, 2, 6, 6 }, full.Vh.ShapeArray);
        var vvt = full.Vh.MatMul(full.Vh.MT) - Tensor.Eye(6, null, dtype);
        Assert.True(vvt.Abs().Amax().ToDoubleArray()[0] <= tol * 10);

        var sym = a.MatMul(a.MT);  // [3, 2, 6, 6], rank 4
        var (l, v) = Tensor.Eigh(sym);
        var back = v.MatMul(l.Unsqueeze(-1) * v.MT);
        Assert.True((back - sym).Abs().Amax().ToDoubleArray()[0] <= tol * 100);
        Assert.Equal(l.ToDoubleArray(), Tensor.Eigvalsh(sym).ToDoubleArray());

        Assert.Equal(new[] { 0, 5 }, Tensor.Eigvalsh(Tensor.Zeros([0, 5, 5], dtype)).ShapeArray);
        Assert.Equal(new[] { 0 }, Tensor.Eigh(Tensor.Zeros([0, 0], dtype)).Eigenvalues.ShapeArray);
        Assert.Equal(new[] { 2, 0 }, Tensor.Svdvals(Tensor.Zeros([2, 3, 0], dtype)).ShapeArray);
        var e = Tensor.Svd(Tensor.Zeros([3, 0], dtype));
        Assert.Equal(new[] { 3, 3 }, e.U.ShapeArray);
        Assert.Equal(new[] { 0, 0 }, e.Vh.ShapeArray);
    }

    [Fact]
    public void LargerMatricesStayAccurate()
    {
        // through the values-only and the vector paths at an order where the reductions dominate
        int n = 160;
        var a = Randn(n * n, 77);
        var (u, s, vt) = Svd(a, n, n);
        CheckSvd(a, n, n, u, s, vt);
        var sym = a.ToArray();
        for (int i = 0; i < n; i++) for (int j = i + 1; j < n; j++) sym[i * n + j] = sym[j * n + i];
        var (w, v) = Eigh(sym, n);
        CheckEigh(sym, n, w, v);
    }
}
