using Fluxion.Kernels;
using Xunit;

namespace Fluxion.Tests;

/// <summary>
/// The blocked LU, Cholesky and Householder QR (panel + GEMM trailing update, from <see cref="Decomp.BlockedFrom"/> on) against
/// the unblocked loops they replace there: float64, orders around and past the block size (non-multiples included), tall and
/// wide QR, reduced and complete, singular / non-positive-definite inputs, and batched through the public ops (float32 and
/// float64, each matrix against the unblocked kernel).
/// </summary>
public class BlockedDecompTests
{
    private static double[] Randn(int len, int seed) => Tensor.Randn([len], DType.Float64, new Generator(seed)).ToDoubleArray();

    private static void Close(double[] want, double[] got, double tol, string what) => TensorAssert.CloseToScale(want, got, tol, what, minScale: 1);

    private static double[] Spd(int n, int seed)
    {
        var b = Tensor.Randn([n, n], DType.Float64, new Generator(seed));
        return (b.MatMul(b.MT) + Tensor.Eye(n, dtype: DType.Float64) * n).ToDoubleArray();
    }

    [Theory]
    [InlineData(128)]
    [InlineData(130)]
    [InlineData(200)]
    [InlineData(257)]
    public void LuMatchesTheUnblockedLoop(int n)
    {
        Assert.True(n >= Decomp.BlockedFrom);
        var a = Randn(n * n, n);
        var (w1, w2) = (a.ToArray(), a.ToArray());
        var (p1, p2) = (new int[n], new int[n]);
        int s1 = Decomp.Lu(w1, n, p1), s2 = Decomp.LuUnblocked(w2, n, p2);
        Assert.Equal(s2, s1);
        Assert.Equal(p2, p1);
        Close(w2, w1, 1e-10, $"LU n={n}");
        // a singular matrix (a zero column: an exactly zero pivot) still factorizes and reports 0
        for (int i = 0; i < n; i++) a[i * n + n - 3] = 0;
        Assert.Equal(0, Decomp.LuUnblocked(a.ToArray(), n, p2));
        Assert.Equal(0, Decomp.Lu(a.ToArray(), n, p1));
    }

    [Theory]
    [InlineData(128)]
    [InlineData(191)]
    [InlineData(256)]
    public void CholeskyMatchesTheUnblockedLoop(int n)
    {
        var a = Spd(n, n);
        var (w1, w2) = (a.ToArray(), a.ToArray());
        Assert.Equal(0, Decomp.Cholesky(w1, n));
        Assert.Equal(0, Decomp.CholeskyUnblocked(w2, n));
        Close(w2, w1, 1e-12, $"Cholesky n={n}");
        // not positive definite from order n − 19 on: both report that minor; only the lower triangle is read
        int at = n - 20;
        a[at * n + at] = -1e6;
        var bad = a.ToArray();
        for (int i = 0; i < n; i++) for (int j = i + 1; j < n; j++) bad[i * n + j] = double.NaN;
        Assert.Equal(at + 1, Decomp.Cholesky(bad, n));
        Assert.Equal(at + 1, Decomp.CholeskyUnblocked(a.ToArray(), n));
    }

    [Theory]
    [InlineData(130, 130, false)]
    [InlineData(200, 150, false)]
    [InlineData(200, 150, true)]
    [InlineData(150, 200, false)]
    [InlineData(257, 129, true)]
    public void QrMatchesTheUnblockedLoop(int m, int n, bool complete)
    {
        int k = Math.Min(m, n), qc = complete ? m : k, rr = complete ? m : k;
        var a = Randn(m * n, m + n);
        var (q1, r1, q2, r2) = (new double[m * qc], new double[rr * n], new double[m * qc], new double[rr * n]);
        Decomp.Qr(a, m, n, q1, r1, complete);
        Decomp.QrUnblocked(a, m, n, q2, r2, complete);
        Close(q2, q1, 1e-11, $"Q {m}x{n}");
        Close(r2, r1, 1e-11, $"R {m}x{n}");
    }

    [Theory]
    [InlineData(DType.Float64)]
    [InlineData(DType.Float32)]
    public void BatchedOpsMatchTheUnblockedKernelPerMatrix(DType dt)
    {
        const int n = 131, B = 3;
        var x = Tensor.Randn([B, n, n], dt, new Generator(7));
        var spd = x.MatMul(x.MT) + Tensor.Eye(n, dtype: dt) * n;
        var (lu, _) = Tensor.LuFactor(x);
        var l = Tensor.Cholesky(spd);
        var (q, r) = Tensor.Qr(x);
        double tol = dt == DType.Float32 ? 1e-5 : 1e-10;
        for (int b = 0; b < B; b++)
        {
            var w = x.Select(0, b).ToDoubleArray();
            Decomp.LuUnblocked(w, n, new int[n]);
            Close(w, lu.Select(0, b).ToDoubleArray(), tol, $"LU {b}");
            var s = spd.Select(0, b).ToDoubleArray();
            Decomp.CholeskyUnblocked(s, n);
            Close(s, l.Select(0, b).ToDoubleArray(), tol, $"Cholesky {b}");
            var (qw, rw) = (new double[n * n], new double[n * n]);
            Decomp.QrUnblocked(x.Select(0, b).ToDoubleArray(), n, n, qw, rw, false);
            Close(qw, q.Select(0, b).ToDoubleArray(), tol, $"Q {b}");
            Close(rw, r.Select(0, b).ToDoubleArray(), tol, $"R {b}");
        }
    }

    [Theory]
    [InlineData(130, 1, false, false)]
    [InlineData(200, 7, true, false)]
    [InlineData(257, 130, false, true)]
    [InlineData(129, 64, true, true)]
    public void BlockedTriangularAndLuSolvesLeaveSmallResiduals(int n, int k, bool upper, bool unit)
    {
        // a well-conditioned triangular T (unit or dominant diagonal); the other triangle holds NaNs: it must not be read
        var t = Randn(n * n, n + k);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                if (i == j) t[i * n + j] = unit ? double.NaN : 3;
                else if (upper ? j < i : j > i) t[i * n + j] = double.NaN;
                else t[i * n + j] /= n;
            }
        var b = Randn(n * k, 2 * n + k);
        var x = b.ToArray();
        Decomp.TriSolve(t, n, x, k, upper, unit);
        for (int i = 0; i < n; i++)
            for (int c = 0; c < k; c++)
            {
                double s = (unit ? 1 : t[i * n + i]) * x[i * k + c];
                for (int p = upper ? i + 1 : 0; p < (upper ? n : i); p++) s += t[i * n + p] * x[p * k + c];
                Assert.True(Math.Abs(s - b[i * k + c]) <= 1e-11 * n, $"T·X − B at ({i}, {c}): {s - b[i * k + c]:g3}");
            }
        // LU solve of a general matrix: A·X = B
        var a = Randn(n * n, 3 * n + k);
        for (int i = 0; i < n; i++) a[i * n + i] += 2 * Math.Sqrt(n);
        var lu = a.ToArray();
        var piv = new int[n];
        Assert.NotEqual(0, Decomp.Lu(lu, n, piv));
        var y = b.ToArray();
        Decomp.LuSolve(lu, piv, n, y, k);
        for (int i = 0; i < n; i++)
            for (int c = 0; c < k; c++)
            {
                double s = 0;
                for (int p = 0; p < n; p++) s += a[i * n + p] * y[p * k + c];
                Assert.True(Math.Abs(s - b[i * k + c]) <= 1e-10 * n, $"A·X − B at ({i}, {c}): {s - b[i * k + c]:g3}");
            }
    }
}
