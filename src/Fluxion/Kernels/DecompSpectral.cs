using System.Numerics;
using System.Numerics.Tensors;

namespace Fluxion.Kernels;

/// <summary>
/// The symmetric eigenproblem and the SVD, LAPACK's way: a Householder reduction to tridiagonal (dsytrd) or bidiagonal
/// (dgebrd) form, then implicit-shift QL (EISPACK's tql2, Wilkinson shift) on the tridiagonal matrix or Golub–Kahan implicit-shift
/// QR (LINPACK's dsvdc) on the bidiagonal one. Both are backward stable: the computed values are exact for a matrix within a
/// few ulps·‖A‖ of the input, as LAPACK's. Values only (<c>vectors: false</c>) cost O(n³) for the reduction and O(n²) for the
/// iteration; the vectors accumulate the reflectors and then the rotations. All the inner loops run over contiguous rows
/// (the vectors are kept transposed, one per row), SIMD through <see cref="TensorPrimitives"/> and <see cref="Vector{T}"/>.
/// </summary>
internal static partial class Decomp
{
    /// <summary>
    /// Eigen-decomposition of the symmetric n×n matrix a (lower triangle read): eigenvalues ascending in w; with
    /// <paramref name="vectors"/> the orthonormal eigenvectors as the columns of v (n×n), each signed so that its entry of
    /// largest magnitude is positive (a deterministic gauge; PyTorch's LAPACK gauge may differ). A non-finite input gives NaNs.
    /// </summary>
    public static void Eigh(ReadOnlySpan<double> a, int n, Span<double> w, Span<double> v, bool vectors = true)
    {
        if (n == 0) return;
        var s = new double[n * n];
        bool finite = true;
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++)
            {
                double x = a[i * n + j];
                s[i * n + j] = s[j * n + i] = x;
                if (!double.IsFinite(x)) finite = false;
            }
        if (!finite)
        {
            w[..n].Fill(double.NaN);
            if (vectors) v[..(n * n)].Fill(double.NaN);
            return;
        }
        var d = new double[n];
        var e = new double[n];
        var tau = new double[n];
        Tridiagonalize(s, n, d, e, tau);
        var zt = vectors ? TridiagonalQt(s, n, tau) : null;
        TridiagonalQl(d, e, n, zt);
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Array.Sort(d, order);  // ascending; ties keep no particular order (the values are equal)
        d.CopyTo(w);
        if (zt is null) return;
        for (int c = 0; c < n; c++)
        {
            var row = zt.AsSpan(order[c] * n, n);
            double sg = GaugeSign(row);
            for (int i = 0; i < n; i++) v[i * n + c] = sg * row[i];
        }
    }

    /// <summary>+1 or −1: the sign that makes the first entry of largest magnitude of <paramref name="x"/> positive.</summary>
    private static double GaugeSign(ReadOnlySpan<double> x)
    {
        int big = 0;
        for (int i = 1; i < x.Length; i++) if (Math.Abs(x[i]) > Math.Abs(x[big])) big = i;
        return x.Length > 0 && x[big] < 0 ? -1 : 1;
    }

    /// <summary>
    /// The Householder reflector H = I − τ·v·vᵀ (v₀ = 1) with H·x = β·e₀, LAPACK's dlarfg: on return x₀ = β and x[1..] = v[1..].
    /// τ = 0 (H = I) when x[1..] is zero.
    /// </summary>
    private static double Reflector(Span<double> x)
    {
        if (x.Length <= 1) return 0;
        var tail = x[1..];
        double xnorm = TensorPrimitives.Norm(tail);
        if (xnorm == 0) return 0;
        double alpha = x[0];
        double beta = -Math.CopySign(double.Hypot(alpha, xnorm), alpha);
        double tau = (beta - alpha) / beta;
        TensorPrimitives.Multiply(tail, 1 / (alpha - beta), tail);
        x[0] = beta;
        return tau;
    }

    /// <summary>
    /// Reduces the full symmetric n×n <paramref name="s"/> to tridiagonal form T = Qᵀ·S·Q (dsytd2's algorithm on the full
    /// matrix, so every update runs over contiguous rows): diagonal in d, off-diagonal (between i and i+1) in e (e[n−1] = 0).
    /// Reflector k (acting on indices k+1..n−1, unit at k+1) is left in row k of s from column k+2 on, its τ in tau[k].
    /// <para>One pass over the trailing matrix per step instead of two: step k's rank-2 update of row k+1 comes first, which
    /// gives step k+1's reflector; then each further row is updated and, while in cache, dotted with that reflector (step k+1's
    /// matrix-vector product). Same arithmetic as the two-pass form, half the memory traffic.</para>
    /// </summary>
    private static void Tridiagonalize(double[] s, int n, double[] d, double[] e, double[] tau)
    {
        var v = new double[n];
        var p = new double[n];
        var vn = new double[n];
        var pn = new double[n];
        int state = 0; // step k's reflector: 0 not yet computed, 1 computed with τ = 0 (skip), 2 computed with its S₂₂·v in p
        for (int k = 0; k < n - 1; k++)
        {
            int len = n - k - 1, o = k + 1;
            var vv = v.AsSpan(0, len);
            var pp = p.AsSpan(0, len);
            if (state == 0)
            {
                d[k] = s[k * n + k];
                var x = s.AsSpan(k * n + o, len);
                double t0 = tau[k] = Reflector(x);
                e[k] = x[0];
                if (t0 == 0) continue;
                vv[0] = 1;
                x[1..].CopyTo(vv[1..]);
                for (int i = 0; i < len; i++) pp[i] = t0 * TensorPrimitives.Dot(s.AsSpan((o + i) * n + o, len), vv);
            }
            else if (state == 1) { state = 0; continue; }
            double t = tau[k];
            // w = p − (τ/2)(pᵀv)·v, S₂₂ −= v·wᵀ + w·vᵀ
            double alpha = -0.5 * t * TensorPrimitives.Dot(pp, vv);
            TensorPrimitives.MultiplyAdd(vv, alpha, pp, pp);
            var row0 = s.AsSpan(o * n + o, len);
            TensorPrimitives.MultiplyAdd(pp, -vv[0], row0, row0);
            TensorPrimitives.MultiplyAdd(vv, -pp[0], row0, row0);
            // step k + 1's reflector from the updated row k + 1
            double tn = 0;
            int lenN = len - 1;
            if (lenN >= 1)
            {
                d[o] = s[o * n + o];
                var xn = s.AsSpan(o * n + o + 1, lenN);
                tn = tau[o] = Reflector(xn);
                e[o] = xn[0];
                if (tn != 0)
                {
                    vn[0] = 1;
                    xn[1..].CopyTo(vn.AsSpan(1, lenN - 1));
                }
            }
            var vnn = vn.AsSpan(0, Math.Max(0, lenN));
            for (int i = 1; i < len; i++)
            {
                var row = s.AsSpan((o + i) * n + o, len);
                TensorPrimitives.MultiplyAdd(pp, -vv[i], row, row);
                TensorPrimitives.MultiplyAdd(vv, -pp[i], row, row);
                if (tn != 0) pn[i - 1] = tn * TensorPrimitives.Dot(row[1..], vnn);
            }
            if (lenN >= 1)
            {
                state = tn != 0 ? 2 : 1;
                (v, vn) = (vn, v);
                (p, pn) = (pn, p);
            }
        }
        d[n - 1] = s[(n - 1) * n + n - 1];
        e[n - 1] = 0;
    }

    /// <summary>Qᵀ = H_{n−3}⋯H₀ (n×n) of <see cref="Tridiagonalize"/>: row r of the result is column r of Q.</summary>
    private static double[] TridiagonalQt(double[] s, int n, double[] tau)
    {
        var q = new double[n * n];
        for (int i = 0; i < n; i++) q[i * n + i] = 1;
        var v = new double[n];
        for (int k = n - 2; k >= 0; k--)
        {
            double t = tau[k];
            if (t == 0) continue;
            int o = k + 1, len = n - o;
            var vv = v.AsSpan(0, len);
            vv[0] = 1;
            s.AsSpan(k * n + o + 1, len - 1).CopyTo(vv[1..]);
            // Qᵀ ← Qᵀ·H_k: only rows ≥ k+1 have entries in columns ≥ k+1 yet
            ReflectRows(q, n, o, n, o, vv, t);
        }
        return q;
    }

    /// <summary>Applies the reflector H = I − t·v·vᵀ from the right to rows [<paramref name="r0"/>, <paramref name="r1"/>)
    /// of the row-major matrix <paramref name="q"/> (leading dimension <paramref name="ld"/>), columns from
    /// <paramref name="c0"/> on: row ← row − t·(row·v)·vᵀ.</summary>
    private static void ReflectRows(double[] q, int ld, int r0, int r1, int c0, ReadOnlySpan<double> v, double t)
    {
        for (int r = r0; r < r1; r++)
        {
            var row = q.AsSpan(r * ld + c0, v.Length);
            double f = -t * TensorPrimitives.Dot(row, v);
            if (f != 0) TensorPrimitives.MultiplyAdd(v, f, row, row);
        }
    }

    /// <summary>(x, y) ← (c·x − s·y, s·x + c·y) elementwise: a plane rotation of two rows.</summary>
    private static void Rotate(Span<double> x, Span<double> y, double c, double s)
    {
        int i = 0, w = Vector<double>.Count;
        if (Vector.IsHardwareAccelerated)
        {
            var vc = new Vector<double>(c);
            var vs = new Vector<double>(s);
            for (; i <= x.Length - w; i += w)
            {
                var a = new Vector<double>(x[i..]);
                var b = new Vector<double>(y[i..]);
                (vc * a - vs * b).CopyTo(x[i..]);
                (vs * a + vc * b).CopyTo(y[i..]);
            }
        }
        for (; i < x.Length; i++)
        {
            double a = x[i], b = y[i];
            x[i] = c * a - s * b;
            y[i] = s * a + c * b;
        }
    }

    /// <summary>
    /// Eigenvalues of the symmetric tridiagonal matrix (diagonal d, off-diagonal e[i] between i and i+1, e[n−1] = 0) by
    /// implicit QL with Wilkinson shifts (EISPACK's tql2), in place in d (unordered); e is destroyed. With
    /// <paramref name="zt"/> (n×n, initially Qᵀ) its rows are rotated along, ending as the eigenvectors of Q·T·Qᵀ.
    /// </summary>
    private static void TridiagonalQl(double[] d, double[] e, int n, double[]? zt)
    {
        const double eps = 2.220446049250313e-16;
        double f = 0, tst1 = 0;
        for (int l = 0; l < n; l++)
        {
            tst1 = Math.Max(tst1, Math.Abs(d[l]) + Math.Abs(e[l]));
            int m = l;
            while (m < n - 1 && Math.Abs(e[m]) > eps * tst1) m++;
            if (m > l)
            {
                int iter = 0;
                do
                {
                    double g = d[l];
                    double p = (d[l + 1] - g) / (2 * e[l]);
                    double r = double.Hypot(p, 1);
                    if (p < 0) r = -r;
                    d[l] = e[l] / (p + r);
                    d[l + 1] = e[l] * (p + r);
                    double dl1 = d[l + 1];
                    double h = g - d[l];
                    for (int i = l + 2; i < n; i++) d[i] -= h;
                    f += h;
                    p = d[m];
                    double c = 1, c2 = 1, c3 = 1, el1 = e[l + 1], s = 0, s2 = 0;
                    for (int i = m - 1; i >= l; i--)
                    {
                        c3 = c2;
                        c2 = c;
                        s2 = s;
                        g = c * e[i];
                        h = c * p;
                        r = double.Hypot(p, e[i]);
                        e[i + 1] = s * r;
                        s = e[i] / r;
                        c = p / r;
                        p = c * d[i] - s * g;
                        d[i + 1] = h + s * (c * g + s * d[i]);
                        if (zt is not null) Rotate(zt.AsSpan(i * n, n), zt.AsSpan((i + 1) * n, n), c, s);
                    }
                    p = -s * s2 * c3 * el1 * e[l] / dl1;
                    e[l] = s * p;
                    d[l] = c * p;
                }
                while (Math.Abs(e[l]) > eps * tst1 && ++iter < 100);
            }
            d[l] += f;
            e[l] = 0;
        }
    }

    /// <summary>
    /// Reduced SVD of the m×n matrix a: s (k = min(m, n), descending) and, with <paramref name="vectors"/>, u (m×k) and vt
    /// (k×n). Householder bidiagonalization, then Golub–Kahan implicit-shift QR on the bidiagonal matrix. Each pair of
    /// singular vectors is signed so that the largest-magnitude entry of v (of u for a wide matrix) is positive. A non-finite
    /// input gives NaNs.
    /// </summary>
    public static void Svd(ReadOnlySpan<double> a, int m, int n, Span<double> u, Span<double> s, Span<double> vt, bool vectors = true)
    {
        int k = Math.Min(m, n);
        if (k == 0) return;
        // the tall problem T (bm×bn, bm ≥ bn) is A or Aᵀ; w holds Tᵀ (bn×bm, row j = column j of T)
        bool tall = m >= n;
        int bm = Math.Max(m, n), bn = k;
        var w = new double[bn * bm];
        bool finite = true;
        if (tall)
        {
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) w[j * m + i] = a[i * n + j];
        }
        else a[..(m * n)].CopyTo(w);
        foreach (var x in w) if (!double.IsFinite(x)) { finite = false; break; }
        if (!finite)
        {
            s[..k].Fill(double.NaN);
            if (vectors) { u[..(m * k)].Fill(double.NaN); vt[..(k * n)].Fill(double.NaN); }
            return;
        }
        var d = new double[bn];
        var e = new double[bn];
        var tauL = new double[bn];
        var tauR = new double[bn];
        var vr = new double[bn * bn];
        Bidiagonalize(w, bn, bm, d, e, tauL, vr, tauR);
        double[]? ut = null, vtt = null;
        if (vectors)
        {
            ut = BidiagonalUt(w, bn, bm, tauL);
            vtt = BidiagonalVt(vr, bn, tauR);
        }
        BidiagonalQr(d, e, bn, bm, ut, vtt);
        var order = new int[bn];
        for (int i = 0; i < bn; i++) order[i] = i;
        var neg = new double[bn];
        for (int i = 0; i < bn; i++) neg[i] = -d[i];
        Array.Sort(neg, order);
        for (int c = 0; c < bn; c++) s[c] = -neg[c];
        if (ut is null || vtt is null) return;
        for (int c = 0; c < bn; c++)
        {
            var ur = ut.AsSpan(order[c] * bm, bm);
            var vrow = vtt.AsSpan(order[c] * bn, bn);
            double sg = GaugeSign(vrow);
            if (tall)
            {
                for (int i = 0; i < m; i++) u[i * k + c] = sg * ur[i];
                for (int j = 0; j < n; j++) vt[c * n + j] = sg * vrow[j];
            }
            else
            {
                // A = Tᵀ = V_T·S·U_Tᵀ: u = V_T (m×m), vt = U_Tᵀ (m×n)
                for (int i = 0; i < m; i++) u[i * k + c] = sg * vrow[i];
                for (int j = 0; j < n; j++) vt[c * n + j] = sg * ur[j];
            }
        }
    }

    /// <summary>
    /// Householder bidiagonalization (dgebd2) of the tall bm×bn matrix T given transposed in <paramref name="w"/> (bn×bm):
    /// Hᵀ·T·G = B upper bidiagonal, diagonal in d, superdiagonal in e (e[bn−1] = 0). Left reflector k (on rows k.., unit at k) is
    /// left in row k of w from column k+1 on (τ in tauL); right reflector k (on columns k+1.., unit at k+1) in row k of
    /// <paramref name="vr"/> (bn×bn) from column k+1 on (τ in tauR).
    /// </summary>
    private static void Bidiagonalize(double[] w, int bn, int bm, double[] d, double[] e, double[] tauL, double[] vr, double[] tauR)
    {
        var v = new double[bm];
        var z = new double[bm];
        var y = new double[bn];
        bool leftDone = false; // step k's left reflector already computed and applied by step k − 1's fused pass
        for (int k = 0; k < bn; k++)
        {
            // left: column k of T below the diagonal = row k of w from column k
            int len = bm - k;
            if (!leftDone)
            {
                var x = w.AsSpan(k * bm + k, len);
                double t = tauL[k] = Reflector(x);
                d[k] = x[0];
                if (t != 0 && k < bn - 1)
                {
                    var vv = v.AsSpan(0, len);
                    vv[0] = 1;
                    x[1..].CopyTo(vv[1..]);
                    ReflectRows(w, bm, k + 1, bn, k, vv, t);
                }
            }
            leftDone = false;
            if (k >= bn - 1) { e[k] = 0; continue; }
            // right: row k of T right of the diagonal = column k of w from row k+1 (strided)
            int rl = bn - k - 1;
            var yy = y.AsSpan(0, rl);
            for (int jj = 0; jj < rl; jj++) yy[jj] = w[(k + 1 + jj) * bm + k];
            double tr = tauR[k] = Reflector(yy);
            e[k] = yy[0];
            var ur = vr.AsSpan(k * bn + k + 1, rl);
            yy.CopyTo(ur);
            ur[0] = 1;
            if (tr == 0) continue;
            // rows i > k of T: T[i, k+1..] −= τ·(T[i, k+1..]·u)·uᵀ, i.e. on w: z = Σ u_j·w[k+1+j, k+1..], w[k+1+j, k+1..] −= τ·u_j·z
            int cl = bm - k - 1;
            var zz = z.AsSpan(0, cl);
            zz.Clear();
            for (int jj = 0; jj < rl; jj++) TensorPrimitives.MultiplyAdd(w.AsSpan((k + 1 + jj) * bm + k + 1, cl), ur[jj], zz, zz);
            // the update, fused with step k + 1's left reflector (one pass over the rows instead of two): row k + 1 first,
            // which gives that reflector; each further row is then reflected while in cache (ReflectRows' arithmetic)
            double tn = 0;
            var vn = v.AsSpan(0, cl);
            for (int jj = 0; jj < rl; jj++)
            {
                var row = w.AsSpan((k + 1 + jj) * bm + k + 1, cl);
                TensorPrimitives.MultiplyAdd(zz, -tr * ur[jj], row, row);
                if (jj == 0)
                {
                    tn = tauL[k + 1] = Reflector(row);
                    d[k + 1] = row[0];
                    leftDone = true;
                    if (tn != 0)
                    {
                        vn[0] = 1;
                        row[1..].CopyTo(vn[1..]);
                    }
                }
                else if (tn != 0)
                {
                    double f = -tn * TensorPrimitives.Dot(row, vn);
                    if (f != 0) TensorPrimitives.MultiplyAdd(vn, f, row, row);
                }
            }
        }
    }

    /// <summary>U_Tᵀ = [I 0]·H_{bn−1}⋯H₀ (bn×bm) of <see cref="Bidiagonalize"/>: row r is column r of U_T.</summary>
    private static double[] BidiagonalUt(double[] w, int bn, int bm, double[] tauL)
    {
        var q = new double[bn * bm];
        for (int i = 0; i < bn; i++) q[i * bm + i] = 1;
        var v = new double[bm];
        for (int k = bn - 1; k >= 0; k--)
        {
            double t = tauL[k];
            if (t == 0) continue;
            int len = bm - k;
            var vv = v.AsSpan(0, len);
            vv[0] = 1;
            w.AsSpan(k * bm + k + 1, len - 1).CopyTo(vv[1..]);
            ReflectRows(q, bm, k, bn, k, vv, t);
        }
        return q;
    }

    /// <summary>V_Tᵀ = G_{bn−2}⋯G₀ (bn×bn) of <see cref="Bidiagonalize"/>: row r is column r of V_T.</summary>
    private static double[] BidiagonalVt(double[] vr, int bn, double[] tauR)
    {
        var q = new double[bn * bn];
        for (int i = 0; i < bn; i++) q[i * bn + i] = 1;
        for (int k = bn - 2; k >= 0; k--)
        {
            double t = tauR[k];
            if (t == 0) continue;
            int o = k + 1, len = bn - o;
            var vv = vr.AsSpan(k * bn + o, len);
            ReflectRows(q, bn, o, bn, o, vv, t);
        }
        return q;
    }

    /// <summary>
    /// Singular values of the upper bidiagonal bn×bn matrix (diagonal s, superdiagonal e, e[bn−1] = 0) by Golub–Kahan
    /// implicit-shift QR with deflation and splitting (LINPACK's dsvdc, as in JAMA), in place in s (non-negative, unordered).
    /// With <paramref name="ut"/> (bn×bm) and <paramref name="vt"/> (bn×bn), whose rows are the left and right vectors, the
    /// rotations are applied to them.
    /// </summary>
    private static void BidiagonalQr(double[] s, double[] e, int bn, int bm, double[]? ut, double[]? vt)
    {
        const double eps = 2.220446049250313e-16, tiny = 1.6033346880071782e-291;  // 2^-52, 2^-966
        int p = bn, iter = 0;
        while (p > 0)
        {
            int k, kase;
            for (k = p - 2; k >= -1; k--)
            {
                if (k == -1) break;
                if (Math.Abs(e[k]) <= tiny + eps * (Math.Abs(s[k]) + Math.Abs(s[k + 1]))) { e[k] = 0; break; }
            }
            if (k == p - 2) kase = 4;
            else
            {
                int ks;
                for (ks = p - 1; ks >= k; ks--)
                {
                    if (ks == k) break;
                    double t = (ks != p ? Math.Abs(e[ks]) : 0) + (ks != k + 1 ? Math.Abs(e[ks - 1]) : 0);
                    if (Math.Abs(s[ks]) <= tiny + eps * t) { s[ks] = 0; break; }
                }
                if (ks == k) kase = 3;
                else if (ks == p - 1) kase = 1;
                else { kase = 2; k = ks; }
            }
            k++;
            if (kase == 3 && ++iter > 75 * bn) { kase = 4; k = p - 1; }  // no convergence (not seen for finite input): stop iterating
            switch (kase)
            {
                case 1:
                {
                    // deflate a negligible s[p−1]
                    double f = e[p - 2];
                    e[p - 2] = 0;
                    for (int j = p - 2; j >= k; j--)
                    {
                        double t = double.Hypot(s[j], f), cs = s[j] / t, sn = f / t;
                        s[j] = t;
                        if (j != k) { f = -sn * e[j - 1]; e[j - 1] = cs * e[j - 1]; }
                        if (vt is not null) Rotate(vt.AsSpan(j * bn, bn), vt.AsSpan((p - 1) * bn, bn), cs, -sn);
                    }
                    break;
                }
                case 2:
                {
                    // split at a negligible s[k−1]
                    double f = e[k - 1];
                    e[k - 1] = 0;
                    for (int j = k; j < p; j++)
                    {
                        double t = double.Hypot(s[j], f), cs = s[j] / t, sn = f / t;
                        s[j] = t;
                        f = -sn * e[j];
                        e[j] = cs * e[j];
                        if (ut is not null) Rotate(ut.AsSpan(j * bm, bm), ut.AsSpan((k - 1) * bm, bm), cs, -sn);
                    }
                    break;
                }
                case 3:
                {
                    // one implicit-shift QR step on the block k..p−1
                    double scale = Math.Max(Math.Max(Math.Max(Math.Max(Math.Abs(s[p - 1]), Math.Abs(s[p - 2])), Math.Abs(e[p - 2])), Math.Abs(s[k])), Math.Abs(e[k]));
                    double sp = s[p - 1] / scale, spm1 = s[p - 2] / scale, epm1 = e[p - 2] / scale, sk = s[k] / scale, ek = e[k] / scale;
                    double b = ((spm1 + sp) * (spm1 - sp) + epm1 * epm1) / 2;
                    double c = sp * epm1 * (sp * epm1);
                    double shift = 0;
                    if (b != 0 || c != 0)
                    {
                        shift = Math.Sqrt(b * b + c);
                        if (b < 0) shift = -shift;
                        shift = c / (b + shift);
                    }
                    double f = (sk + sp) * (sk - sp) + shift;
                    double g = sk * ek;
                    for (int j = k; j < p - 1; j++)
                    {
                        double t = double.Hypot(f, g), cs = f / t, sn = g / t;
                        if (j != k) e[j - 1] = t;
                        f = cs * s[j] + sn * e[j];
                        e[j] = cs * e[j] - sn * s[j];
                        g = sn * s[j + 1];
                        s[j + 1] = cs * s[j + 1];
                        if (vt is not null) Rotate(vt.AsSpan(j * bn, bn), vt.AsSpan((j + 1) * bn, bn), cs, -sn);
                        t = double.Hypot(f, g);
                        cs = f / t;
                        sn = g / t;
                        s[j] = t;
                        f = cs * e[j] + sn * s[j + 1];
                        s[j + 1] = -sn * e[j] + cs * s[j + 1];
                        g = sn * e[j + 1];
                        e[j + 1] = cs * e[j + 1];
                        if (ut is not null) Rotate(ut.AsSpan(j * bm, bm), ut.AsSpan((j + 1) * bm, bm), cs, -sn);
                    }
                    e[p - 2] = f;
                    break;
                }
                default:
                {
                    // converged: make s[k] non-negative
                    if (s[k] <= 0)
                    {
                        s[k] = s[k] < 0 ? -s[k] : 0;
                        if (vt is not null) TensorPrimitives.Negate(vt.AsSpan(k * bn, bn), vt.AsSpan(k * bn, bn));
                    }
                    iter = 0;
                    p--;
                    break;
                }
            }
        }
    }
}
