using System.Numerics;
using System.Numerics.Tensors;

namespace Fluxion.Kernels;

/// <summary>
/// Blocked Householder QR in the compact WY form (LAPACK's dgeqrf / dlarft / dlarfb), float32 or float64, and what is built
/// on it without forming Q: Qᵀ·C and Q·C (dormqr), and the least-squares solve of full-rank systems (dgels) with a cheap
/// rank test (<see cref="FullRankEstimate"/>) so that rank-deficient systems can take the SVD instead.
/// <para>Each panel of <see cref="BlockSize"/> columns is factorized on a column-major copy, so the reflectors' norms, the
/// updates of the panel's columns and the T factor run over contiguous columns (SIMD dots and AXPYs); the trailing matrix
/// and any C are updated by three GEMMs per panel (<see cref="Gemm"/>).</para>
/// </summary>
internal static partial class Decomp
{
    /// <summary>One panel of a blocked QR: reflectors j0..j0+kb−1, V column-major (rows = m − j0; V(i, jj) at
    /// V[jj·rows + i], unit at i = jj, zero above) and T (kb×kb upper, row-major) with H_{j0}⋯H_{j0+kb−1} = I − V·T·Vᵀ.</summary>
    internal readonly record struct QrPanel<T>(int J0, int Kb, int Rows, T[] V, T[] Tf);

    /// <summary>Householder QR of the row-major m×n <paramref name="w"/> in place: R in its upper triangle (rows
    /// 0..min(m, n)), the reflectors below (as LAPACK's geqrf) and, returned, the panels in WY form. Same sign convention as
    /// <see cref="QrUnblocked"/> (R_jj = −sign(a_jj)·‖x‖; τ = 0 when the column below the diagonal is zero).</summary>
    internal static List<QrPanel<T>> QrFactor<T>(T[] w, int m, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int k = Math.Min(m, n);
        var panels = new List<QrPanel<T>>();
        var work = Array.Empty<T>();
        var work2 = Array.Empty<T>();
        for (int j0 = 0; j0 < k; j0 += BlockSize)
        {
            int kb = Math.Min(BlockSize, k - j0), jend = j0 + kb, rows = m - j0;
            var v = new T[rows * kb];
            for (int i = 0; i < rows; i++)
                for (int jj = 0; jj < kb; jj++) v[jj * rows + i] = w[(j0 + i) * n + j0 + jj];
            var taus = new T[kb];
            for (int jj = 0; jj < kb; jj++)
            {
                var col = v.AsSpan(jj * rows + jj, rows - jj);
                T tau = taus[jj] = ReflectorT(col);
                if (tau == T.Zero) continue;
                var vt = col[1..]; // the reflector's tail (its unit head is implicit: col[0] holds β)
                for (int c = jj + 1; c < kb; c++)
                {
                    var cc = v.AsSpan(c * rows + jj, rows - jj);
                    T s = tau * (cc[0] + TensorPrimitives.Dot<T>(vt, cc[1..]));
                    if (s == T.Zero) continue;
                    cc[0] -= s;
                    TensorPrimitives.MultiplyAdd<T>(vt, -s, cc[1..], cc[1..]);
                }
            }
            // R and the reflectors back into w; V gets its unit diagonal and zeros above
            for (int i = 0; i < rows; i++)
                for (int jj = 0; jj < kb; jj++) w[(j0 + i) * n + j0 + jj] = v[jj * rows + i];
            for (int jj = 0; jj < kb; jj++)
            {
                v.AsSpan(jj * rows, jj).Clear();
                v[jj * rows + jj] = T.One;
            }
            // T (dlarft, forward, columnwise): T[0:i, i] = −τ_i·T[0:i, 0:i]·(V[:, 0:i]ᵀ·v_i)
            var t = new T[kb * kb];
            var tmp = new T[kb];
            for (int i = 0; i < kb; i++)
            {
                T tau = taus[i];
                t[i * kb + i] = tau;
                if (tau == T.Zero || i == 0) continue;
                var vi = v.AsSpan(i * rows + i, rows - i);
                for (int c = 0; c < i; c++) tmp[c] = TensorPrimitives.Dot<T>(v.AsSpan(c * rows + i, rows - i), vi);
                for (int c = 0; c < i; c++)
                {
                    T s = T.Zero;
                    for (int p = c; p < i; p++) s += t[c * kb + p] * tmp[p];
                    t[c * kb + i] = -tau * s;
                }
            }
            var panel = new QrPanel<T>(j0, kb, rows, v, t);
            panels.Add(panel);
            int nc = n - jend;
            if (nc > 0)
            {
                EnsureWork(ref work, ref work2, kb * nc);
                ApplyPanel(panel, w, j0 * n + jend, n, nc, transpose: true, work, work2);
            }
        }
        return panels;
    }

    private static void EnsureWork<T>(ref T[] work, ref T[] work2, int len)
    {
        if (work.Length >= len) return;
        work = new T[len];
        work2 = new T[len];
    }

    /// <summary>LAPACK's dlarfg on a contiguous column: x₀ ← β, x[1..] ← v[1..]; returns τ (0 when x[1..] is zero).</summary>
    private static T ReflectorT<T>(Span<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (x.Length <= 1) return T.Zero;
        var tail = x[1..];
        T xnorm = TensorPrimitives.Norm<T>(tail);
        if (xnorm == T.Zero) return T.Zero;
        T alpha = x[0];
        T beta = -T.CopySign(T.Hypot(alpha, xnorm), alpha);
        T tau = (beta - alpha) / beta;
        TensorPrimitives.Multiply<T>(tail, T.One / (alpha - beta), tail);
        x[0] = beta;
        return tau;
    }

    /// <summary>C ← (I − V·op(T)·Vᵀ)·C for the panel's rows × <paramref name="cols"/> block of <paramref name="c"/> at
    /// <paramref name="cOff"/> (leading dim <paramref name="ldc"/>): op(T) = Tᵀ (<paramref name="transpose"/>) applies the
    /// panel's Hᵀ, T its H.</summary>
    private static void ApplyPanel<T>(in QrPanel<T> p, T[] c, int cOff, int ldc, int cols, bool transpose, T[] work, T[] work2)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int kb = p.Kb, rows = p.Rows;
        // W = Vᵀ·C (kb×cols): Vᵀ(q, i) = V[q·rows + i]
        Gemm.MatMul(p.V, 0, rows, 1, c, cOff, ldc, 1, work, 0, cols, kb, rows, cols, accumulate: false);
        // W2 = −op(T)·W
        if (transpose) Gemm.MatMul(p.Tf, 0, 1, kb, work, 0, cols, 1, work2, 0, cols, kb, kb, cols, accumulate: false);
        else Gemm.MatMul(p.Tf, 0, kb, 1, work, 0, cols, 1, work2, 0, cols, kb, kb, cols, accumulate: false);
        TensorPrimitives.Negate<T>(work2.AsSpan(0, kb * cols), work2.AsSpan(0, kb * cols));
        // C += V·W2: V(i, q) = V[q·rows + i]
        Gemm.MatMul(p.V, 0, 1, rows, work2, 0, cols, 1, c, cOff, ldc, rows, kb, cols, accumulate: true);
    }

    /// <summary>C ← Qᵀ·C for the row-major C (as many rows as Q, <paramref name="cols"/> columns, leading dim
    /// <paramref name="ldc"/>) and the Q of <paramref name="panels"/>: the panels' Hᵀ in order.</summary>
    internal static void ApplyQt<T>(List<QrPanel<T>> panels, T[] c, int ldc, int cols) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (cols == 0) return;
        var (work, work2) = (Array.Empty<T>(), Array.Empty<T>());
        foreach (var p in panels)
        {
            EnsureWork(ref work, ref work2, p.Kb * cols);
            ApplyPanel(p, c, p.J0 * ldc, ldc, cols, transpose: true, work, work2);
        }
    }

    /// <summary>C ← Q·C (see <see cref="ApplyQt"/>): the panels' H from the last. <paramref name="identity"/>: C is the
    /// identity's first columns (forming Q), so each panel skips the columns it leaves untouched.</summary>
    internal static void ApplyQ<T>(List<QrPanel<T>> panels, T[] c, int ldc, int cols, bool identity = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (cols == 0) return;
        var (work, work2) = (Array.Empty<T>(), Array.Empty<T>());
        for (int pi = panels.Count - 1; pi >= 0; pi--)
        {
            var p = panels[pi];
            // forming Q from I: columns < j0 of rows ≥ j0 are still those of the identity (zero), so they are skipped
            int c0 = identity ? Math.Min(p.J0, cols) : 0;
            EnsureWork(ref work, ref work2, p.Kb * (cols - c0));
            ApplyPanel(p, c, p.J0 * ldc + c0, ldc, cols - c0, transpose: false, work, work2);
        }
    }

    /// <summary>Blocked Householder QR (dgeqrf/dorgqr's form) on <see cref="QrFactor{T}"/>: Q accumulated backward by the
    /// panels from the first qc columns of the identity. Same results as <see cref="QrUnblocked"/> up to rounding.</summary>
    internal static void QrBlocked(ReadOnlySpan<double> a, int m, int n, Span<double> q, Span<double> r, bool complete)
    {
        int k = Math.Min(m, n), qc = complete ? m : k;
        var w = a[..(m * n)].ToArray();
        var panels = QrFactor(w, m, n);
        int rrows = complete ? m : k;
        r[..(rrows * n)].Clear();
        for (int i = 0; i < Math.Min(rrows, m); i++)
            for (int c = i; c < n; c++) r[i * n + c] = w[i * n + c];
        var qa = new double[m * qc];
        for (int i = 0; i < qc; i++) qa[i * qc + i] = 1;
        ApplyQ(panels, qa, qc, qc, identity: true);
        qa.AsSpan().CopyTo(q);
    }

    /// <summary>
    /// The least-squares solution of A·X = B for the row-major m×n <paramref name="a"/> and m×k <paramref name="b"/>, written
    /// to the n×k <paramref name="x"/>, when A has full rank min(m, n) by <see cref="FullRankEstimate"/> with relative tolerance
    /// <paramref name="rtol"/>: m ≥ n by QR of A (X = R⁻¹·(Qᵀ·B)[0:n]), m &lt; n the minimum-norm solution by QR of Aᵀ
    /// (X = Q·R⁻ᵀ·B), as LAPACK's dgels. Returns false (x untouched) when A may be rank-deficient or holds non-finite
    /// values: the caller then takes the SVD.
    /// </summary>
    internal static bool LstsqFullRank<T>(ReadOnlySpan<T> a, int m, int n, ReadOnlySpan<T> b, int k, Span<T> x, double rtol)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool tall = m >= n;
        int rows = tall ? m : n, cols = tall ? n : m; // the factorized matrix: A (tall) or Aᵀ
        var w = new T[rows * cols];
        if (tall) a[..(m * n)].CopyTo(w);
        else Transpose(a, m, n, w.AsSpan());
        var panels = QrFactor(w, rows, cols);
        var rt = new T[cols * cols]; // R (tall) or Rᵀ (wide), dense
        for (int i = 0; i < cols; i++)
            for (int j = i; j < cols; j++)
            {
                if (tall) rt[i * cols + j] = w[i * cols + j];
                else rt[j * cols + i] = w[i * cols + j];
            }
        if (!FullRankEstimate(rt, cols, lower: !tall, rtol)) return false;
        if (tall)
        {
            var c = b[..(m * k)].ToArray();
            ApplyQt(panels, c, k, k);
            TriSolveT<T>(rt, n, c.AsSpan(0, n * k), k, upper: true, unit: false, lowerRhs: false);
            c.AsSpan(0, n * k).CopyTo(x);
        }
        else
        {
            var c = new T[n * k];
            b[..(m * k)].CopyTo(c);
            TriSolveT<T>(rt, m, c.AsSpan(0, m * k), k, upper: false, unit: false, lowerRhs: false);
            ApplyQ(panels, c, k, k);
            c.AsSpan().CopyTo(x);
        }
        return true;
    }

    /// <summary>dst (n×m) = srcᵀ for the row-major m×n src.</summary>
    private static void Transpose<T>(ReadOnlySpan<T> src, int m, int n, Span<T> dst)
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) dst[j * m + i] = src[i * n + j];
    }

    /// <summary>
    /// Whether the n×n triangular <paramref name="t"/> (upper, or lower when <paramref name="lower"/>) is safely of full rank
    /// against the relative tolerance <paramref name="rtol"/>: σ_min/σ_max estimated by power and inverse iteration on tᵀ·t
    /// (O(n²) each) must exceed <see cref="RankMargin"/>·rtol. Both estimates err on the side of a larger ratio (σ_max from
    /// below, σ_min from above), which the margin covers; a zero or non-finite diagonal entry gives false.
    /// </summary>
    internal static bool FullRankEstimate<T>(ReadOnlySpan<T> t, int n, bool lower, double rtol) where T : unmanaged, IFloatingPointIeee754<T> =>
        n == 0 || RatioEstimate(t, n, lower) > RankMargin * rtol;

    /// <summary>The estimate of σ_min/σ_max of <see cref="FullRankEstimate"/> (0 for a zero or non-finite entry).</summary>
    internal static double RatioEstimate<T>(ReadOnlySpan<T> t, int n, bool lower) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var d = new double[n * n];
        // work on the upper triangle U (U = t, or tᵀ for a lower t: same singular values)
        for (int i = 0; i < n; i++)
        {
            double di = double.CreateTruncating(t[i * n + i]);
            if (di == 0 || !double.IsFinite(di)) return 0;
            for (int j = i; j < n; j++)
            {
                double v = double.CreateTruncating(lower ? t[j * n + i] : t[i * n + j]);
                if (!double.IsFinite(v)) return 0;
                d[i * n + j] = v;
            }
        }
        var x = new double[n];
        var y = new double[n];
        // a deterministic start with every component present
        for (int i = 0; i < n; i++) x[i] = 1 + 0.5 * Math.Sin(1.7 * i + 0.3);
        double smax = 0;
        for (int it = 0; it < RankIterations; it++)
        {
            Normalize(x);
            UpperMul(d, n, x, y);            // y = U·x
            smax = Math.Max(smax, TensorPrimitives.Norm<double>(y));
            UpperTransposeMul(d, n, y, x);   // x = Uᵀ·y
        }
        for (int i = 0; i < n; i++) x[i] = 1 + 0.5 * Math.Cos(2.3 * i + 0.1);
        double inv = 0; // a lower bound of ‖U⁻¹‖ = 1/σ_min
        for (int it = 0; it < RankIterations; it++)
        {
            Normalize(x);
            x.CopyTo(y, 0);
            UpperTransposeSolve(d, n, y);    // y = U⁻ᵀ·x
            double ny = TensorPrimitives.Norm<double>(y);
            if (!double.IsFinite(ny)) return 0;
            inv = Math.Max(inv, ny);
            Normalize(y);
            UpperSolve(d, n, y);             // x = U⁻¹·y
            double nx = TensorPrimitives.Norm<double>(y);
            if (!double.IsFinite(nx)) return 0;
            inv = Math.Max(inv, nx);
            y.CopyTo(x, 0);
        }
        return smax == 0 || inv == 0 ? 0 : 1 / inv / smax;
    }

    /// <summary>Power / inverse iterations of <see cref="FullRankEstimate"/>.</summary>
    private const int RankIterations = 8;

    /// <summary>Safety factor of <see cref="FullRankEstimate"/> over the tolerance. After <see cref="RankIterations"/> the
    /// estimates are within a few percent unless the start vector is nearly orthogonal to the extreme singular vectors; a
    /// larger margin would send well-posed systems to the SVD (the op sweep's 1024² float32 system has σ_min/σ_max = 1.8 times
    /// PyTorch's default tolerance, and PyTorch's gelsy finds it of full rank).</summary>
    internal const double RankMargin = 1.5;

    private static void Normalize(double[] x)
    {
        double s = TensorPrimitives.Norm<double>(x);
        if (s > 0) TensorPrimitives.Multiply<double>(x, 1 / s, x);
    }

    /// <summary>y = U·x (U upper, row-major n×n).</summary>
    private static void UpperMul(double[] u, int n, double[] x, double[] y)
    {
        for (int i = 0; i < n; i++) y[i] = TensorPrimitives.Dot<double>(u.AsSpan(i * n + i, n - i), x.AsSpan(i, n - i));
    }

    /// <summary>x = Uᵀ·y (U upper): row i of U scaled by y_i into x[i..].</summary>
    private static void UpperTransposeMul(double[] u, int n, double[] y, double[] x)
    {
        Array.Clear(x);
        for (int i = 0; i < n; i++) TensorPrimitives.MultiplyAdd<double>(u.AsSpan(i * n + i, n - i), y[i], x.AsSpan(i, n - i), x.AsSpan(i, n - i));
    }

    /// <summary>y ← U⁻¹·y (back substitution over rows).</summary>
    private static void UpperSolve(double[] u, int n, double[] y)
    {
        for (int i = n - 1; i >= 0; i--)
            y[i] = (y[i] - TensorPrimitives.Dot<double>(u.AsSpan(i * n + i + 1, n - i - 1), y.AsSpan(i + 1, n - i - 1))) / u[i * n + i];
    }

    /// <summary>y ← U⁻ᵀ·y (forward substitution, column form: each solved entry updates the rest by a row of U).</summary>
    private static void UpperTransposeSolve(double[] u, int n, double[] y)
    {
        for (int i = 0; i < n; i++)
        {
            double yi = y[i] /= u[i * n + i];
            if (yi != 0 && i + 1 < n) TensorPrimitives.MultiplyAdd<double>(u.AsSpan(i * n + i + 1, n - i - 1), -yi, y.AsSpan(i + 1, n - i - 1), y.AsSpan(i + 1, n - i - 1));
        }
    }
}
