namespace Fluxion.Micro;

/// <summary>
/// The cyclic-Jacobi symmetric eigensolver and one-sided Jacobi SVD that Fluxion's kernels used before the Householder
/// reduction + implicit QL / Golub–Kahan QR (kept verbatim here only as side A of <c>ab spectral</c>).
/// </summary>
internal static class JacobiReference
{
    /// <summary>Eigen-decomposition of the symmetric n×n matrix a (lower triangle read) by cyclic Jacobi: eigenvalues
    /// ascending in w, orthonormal eigenvectors as the columns of v (n×n). Each eigenvector's sign is fixed so that
    /// its entry of largest magnitude is positive (a deterministic gauge; PyTorch's LAPACK gauge may differ).</summary>
    public static void Eigh(ReadOnlySpan<double> a, int n, Span<double> w, Span<double> v)
    {
        var s = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++) s[i * n + j] = s[j * n + i] = a[i * n + j];
        var u = new double[n * n];
        for (int i = 0; i < n; i++) u[i * n + i] = 1;
        for (int sweep = 0; sweep < 100; sweep++)
        {
            double off = 0, diag = 0;
            for (int i = 0; i < n; i++)
            {
                diag += s[i * n + i] * s[i * n + i];
                for (int j = i + 1; j < n; j++) off += s[i * n + j] * s[i * n + j];
            }
            if (off <= 1e-34 * diag || off == 0) break;
            for (int p = 0; p < n - 1; p++)
                for (int q = p + 1; q < n; q++)
                {
                    double apq = s[p * n + q];
                    if (apq == 0) continue;
                    double app = s[p * n + p], aqq = s[q * n + q];
                    double theta = (aqq - app) / (2 * apq);
                    double t = Math.CopySign(1, theta) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    if (double.IsInfinity(theta * theta)) t = 1 / (2 * theta);
                    double c = 1 / Math.Sqrt(t * t + 1), sn = t * c;
                    for (int k = 0; k < n; k++)
                    {
                        double skp = s[k * n + p], skq = s[k * n + q];
                        s[k * n + p] = c * skp - sn * skq;
                        s[k * n + q] = sn * skp + c * skq;
                    }
                    for (int k = 0; k < n; k++)
                    {
                        double spk = s[p * n + k], sqk = s[q * n + k];
                        s[p * n + k] = c * spk - sn * sqk;
                        s[q * n + k] = sn * spk + c * sqk;
                    }
                    for (int k = 0; k < n; k++)
                    {
                        double ukp = u[k * n + p], ukq = u[k * n + q];
                        u[k * n + p] = c * ukp - sn * ukq;
                        u[k * n + q] = sn * ukp + c * ukq;
                    }
                }
        }
        var order = Enumerable.Range(0, n).OrderBy(i => s[i * n + i]).ToArray();
        for (int c = 0; c < n; c++)
        {
            int src = order[c];
            w[c] = s[src * n + src];
            int big = 0;
            for (int i = 1; i < n; i++) if (Math.Abs(u[i * n + src]) > Math.Abs(u[big * n + src])) big = i;
            double sg = u[big * n + src] < 0 ? -1 : 1;
            for (int i = 0; i < n; i++) v[i * n + c] = sg * u[i * n + src];
        }
    }

    /// <summary>Reduced SVD of the m×n matrix a by one-sided Jacobi: u (m×k), s (k, descending), vt (k×n), k = min(m, n).
    /// Each pair of singular vectors is signed so that v's entry of largest magnitude is positive.</summary>
    public static void Svd(ReadOnlySpan<double> a, int m, int n, Span<double> u, Span<double> s, Span<double> vt)
    {
        if (m < n)
        {
            // SVD of aᵀ: aᵀ = U' S V'ᵀ → a = V' S U'ᵀ
            var at = new double[n * m];
            for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) at[j * m + i] = a[i * n + j];
            var u2 = new double[n * m];
            var vt2 = new double[m * m];
            Svd(at, n, m, u2, s, vt2);
            // u = V' (m×m) = vt2ᵀ; vt = U'ᵀ (m×n)
            for (int i = 0; i < m; i++) for (int j = 0; j < m; j++) u[i * m + j] = vt2[j * m + i];
            for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) vt[i * n + j] = u2[j * m + i];
            return;
        }
        // m >= n: orthogonalize the columns of W = A V
        var wcol = new double[n][];
        for (int j = 0; j < n; j++) { wcol[j] = new double[m]; for (int i = 0; i < m; i++) wcol[j][i] = a[i * n + j]; }
        var vcol = new double[n][];
        for (int j = 0; j < n; j++) { vcol[j] = new double[n]; vcol[j][j] = 1; }
        for (int sweep = 0; sweep < 100; sweep++)
        {
            bool rotated = false;
            for (int p = 0; p < n - 1; p++)
                for (int q = p + 1; q < n; q++)
                {
                    double alpha = 0, beta = 0, gamma = 0;
                    var wp = wcol[p];
                    var wq = wcol[q];
                    for (int i = 0; i < m; i++) { alpha += wp[i] * wp[i]; beta += wq[i] * wq[i]; gamma += wp[i] * wq[i]; }
                    if (gamma == 0 || Math.Abs(gamma) <= 1e-17 * Math.Sqrt(alpha * beta)) continue;
                    rotated = true;
                    double zeta = (beta - alpha) / (2 * gamma);
                    double t = Math.CopySign(1, zeta) / (Math.Abs(zeta) + Math.Sqrt(1 + zeta * zeta));
                    if (double.IsInfinity(zeta * zeta)) t = 1 / (2 * zeta);
                    double c = 1 / Math.Sqrt(1 + t * t), sn = c * t;
                    for (int i = 0; i < m; i++)
                    {
                        double x = wp[i], y = wq[i];
                        wp[i] = c * x - sn * y;
                        wq[i] = sn * x + c * y;
                    }
                    var vp = vcol[p];
                    var vq = vcol[q];
                    for (int i = 0; i < n; i++)
                    {
                        double x = vp[i], y = vq[i];
                        vp[i] = c * x - sn * y;
                        vq[i] = sn * x + c * y;
                    }
                }
            if (!rotated) break;
        }
        var norms = new double[n];
        for (int j = 0; j < n; j++) { double q = 0; for (int i = 0; i < m; i++) q += wcol[j][i] * wcol[j][i]; norms[j] = Math.Sqrt(q); }
        var order = Enumerable.Range(0, n).OrderByDescending(j => norms[j]).ToArray();
        for (int c = 0; c < n; c++)
        {
            int src = order[c];
            s[c] = norms[src];
            var vv = vcol[src];
            int big = 0;
            for (int i = 1; i < n; i++) if (Math.Abs(vv[i]) > Math.Abs(vv[big])) big = i;
            double sg = vv[big] < 0 ? -1 : 1;
            for (int i = 0; i < n; i++) vt[c * n + i] = sg * vv[i];
            if (norms[src] > 0)
                for (int i = 0; i < m; i++) u[i * n + c] = sg * wcol[src][i] / norms[src];
            else
                for (int i = 0; i < m; i++) u[i * n + c] = 0;
        }
        // columns of zero singular values: complete u to an orthonormal set (Gram–Schmidt against the unit vectors)
        for (int c = 0; c < n; c++)
        {
            if (s[c] > 0) continue;
            for (int e = 0; e < m; e++)
            {
                var cand = new double[m];
                cand[e] = 1;
                for (int o = 0; o < n; o++)
                {
                    if (o == c || (s[o] == 0 && o > c)) continue;
                    double d = 0;
                    for (int i = 0; i < m; i++) d += u[i * n + o] * cand[i];
                    for (int i = 0; i < m; i++) cand[i] -= d * u[i * n + o];
                }
                double nn = Math.Sqrt(cand.Sum(x => x * x));
                if (nn < 1e-8) continue;
                for (int i = 0; i < m; i++) u[i * n + c] = cand[i] / nn;
                break;
            }
        }
    }
}
