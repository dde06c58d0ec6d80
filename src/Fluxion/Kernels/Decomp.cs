using System.Numerics;
using System.Numerics.Tensors;

namespace Fluxion.Kernels;

/// <summary>
/// Dense matrix factorizations on row-major float64 buffers, one matrix at a time (the op layer loops over the
/// batch, in parallel, and converts float32 in and out; float32 inputs are factorized in float64, which is at
/// least as accurate as LAPACK's single-precision routines). LU with partial pivoting, Cholesky, triangular
/// solves, Householder QR (LAPACK's sign convention: R_ii = −sign(a_ii)·‖x‖, so Q and R match dgeqrf/dorgqr);
/// the symmetric eigenproblem and the SVD are in DecompSpectral.cs (Householder reduction, then implicit-shift QL / QR).
/// <para>LU, Cholesky and QR are blocked from <see cref="BlockedFrom"/> on, as LAPACK's dgetrf/dpotrf/dgeqrf: an unblocked
/// factorization of a panel of <see cref="BlockSize"/> columns, then the trailing matrix updated by one GEMM (<see cref="Gemm"/>,
/// packed and SIMD; QR in the compact WY form I − V·T·Vᵀ); smaller matrices take the unblocked loops.</para>
/// </summary>
internal static partial class Decomp
{
    /// <summary>Panel width of the blocked factorizations.</summary>
    internal const int BlockSize = 64;

    /// <summary>From this order (min(m, n) for QR) on, LU, Cholesky and QR run blocked.</summary>
    internal const int BlockedFrom = 128;

    /// <summary>False forces the unblocked loops at every size (for in-process A/B comparisons only).</summary>
    internal static bool Blocked = true;

    private static bool UseBlocked(int n) => Blocked && n >= BlockedFrom;

    /// <summary>Runs <paramref name="f"/> on a dense array copy of <paramref name="a"/> (the GEMM takes arrays) and copies it back.</summary>
    private static T OnArray<T>(Span<double> a, int len, Func<double[], T> f)
    {
        var w = System.Buffers.ArrayPool<double>.Shared.Rent(len);
        try
        {
            a[..len].CopyTo(w);
            var r = f(w);
            w.AsSpan(0, len).CopyTo(a);
            return r;
        }
        finally { System.Buffers.ArrayPool<double>.Shared.Return(w); }
    }

    /// <summary>In-place LU with partial pivoting of the n×n matrix a (L unit lower, U upper, packed). piv[i] is the
    /// row swapped with row i at step i (LAPACK's ipiv, 0-based). Returns the permutation's sign (±1), or 0 when singular
    /// (a zero pivot; the factorization is still completed).</summary>
    public static int Lu(Span<double> a, int n, Span<int> piv)
    {
        if (!UseBlocked(n)) return LuUnblocked(a, n, piv);
        var p = new int[n];
        int r = OnArray(a, n * n, w => LuBlocked(w, n, p));
        p.CopyTo(piv);
        return r;
    }

    /// <summary>Partial pivoting at step <paramref name="k"/> of an LU factorization of the row-major n×n
    /// <paramref name="a"/>: the row at or below k with the largest |a[i, k]| is swapped with row k (whole rows; the
    /// determinant's <paramref name="sign"/> flips on a swap). Returns the pivot row.</summary>
    private static int Pivot(Span<double> a, int n, int k, ref int sign)
    {
        int p = k;
        double best = Math.Abs(a[k * n + k]);
        for (int i = k + 1; i < n; i++)
        {
            double v = Math.Abs(a[i * n + k]);
            if (v > best) { best = v; p = i; }
        }
        if (p != k)
        {
            for (int j = 0; j < n; j++) (a[k * n + j], a[p * n + j]) = (a[p * n + j], a[k * n + j]);
            sign = -sign;
        }
        return p;
    }

    /// <summary>The unblocked right-looking LU (see <see cref="Lu"/>).</summary>
    internal static int LuUnblocked(Span<double> a, int n, Span<int> piv)
    {
        int sign = 1;
        bool singular = false;
        for (int k = 0; k < n; k++)
        {
            piv[k] = Pivot(a, n, k, ref sign);
            double d = a[k * n + k];
            if (d == 0) { singular = true; continue; }
            var rk = a.Slice(k * n + k + 1, n - k - 1);
            for (int i = k + 1; i < n; i++)
            {
                double f = a[i * n + k] /= d;
                if (f == 0 || rk.Length == 0) continue;
                var ri = a.Slice(i * n + k + 1, rk.Length);
                TensorPrimitives.MultiplyAdd(rk, -f, ri, ri);
            }
        }
        return singular ? 0 : sign;
    }

    /// <summary>Solves A X = B in place in b (n×k) from the packed LU of A and its pivots: the row swaps, then the unit lower
    /// and the upper triangular solves (<c>TriSolve</c>, blocked for large n).</summary>
    public static void LuSolve(ReadOnlySpan<double> lu, ReadOnlySpan<int> piv, int n, Span<double> b, int k) => LuSolveT(lu, piv, n, b, k);

    /// <summary>As the float64 overload, in float32 (the factors rounded from a float64 LU): a float32 solve at float32 GEMM speed.</summary>
    public static void LuSolve(ReadOnlySpan<float> lu, ReadOnlySpan<int> piv, int n, Span<float> b, int k) => LuSolveT(lu, piv, n, b, k);

    private static void LuSolveT<T>(ReadOnlySpan<T> lu, ReadOnlySpan<int> piv, int n, Span<T> b, int k) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < n; i++)
        {
            if (piv[i] == i) continue;
            Span<T> x = b.Slice(i * k, k), y = b.Slice(piv[i] * k, k);
            for (int j = 0; j < k; j++) (x[j], y[j]) = (y[j], x[j]);
        }
        TriSolveT(lu, n, b, k, upper: false, unit: true, lowerRhs: false);
        TriSolveT(lu, n, b, k, upper: true, unit: false, lowerRhs: false);
    }

    /// <summary>Solves Aᵀ X = B in place in b (n×k) from the packed LU of A and its pivots (A = Pᵀ·L·U, so Aᵀ = Uᵀ·Lᵀ·P): the
    /// lower solve with Uᵀ, the unit upper solve with Lᵀ (<c>TriSolve</c> on the transposed factors), then the row swaps
    /// in reverse order. The backward of a solve reuses the forward's factorization this way instead of factorizing Aᵀ.</summary>
    public static void LuSolveTransposed(ReadOnlySpan<double> lu, ReadOnlySpan<int> piv, int n, Span<double> b, int k) => LuSolveTransposedT(lu, piv, n, b, k);

    /// <summary>As the float64 overload, in float32.</summary>
    public static void LuSolveTransposed(ReadOnlySpan<float> lu, ReadOnlySpan<int> piv, int n, Span<float> b, int k) => LuSolveTransposedT(lu, piv, n, b, k);

    private static void LuSolveTransposedT<T>(ReadOnlySpan<T> lu, ReadOnlySpan<int> piv, int n, Span<T> b, int k) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var lt = System.Buffers.ArrayPool<T>.Shared.Rent(Math.Max(1, n * n));
        try
        {
            Transpose(lu, lt, n);
            TriSolveT<T>(lt, n, b, k, upper: false, unit: false, lowerRhs: false);
            TriSolveT<T>(lt, n, b, k, upper: true, unit: true, lowerRhs: false);
        }
        finally { System.Buffers.ArrayPool<T>.Shared.Return(lt); }
        for (int i = n - 1; i >= 0; i--)
        {
            if (piv[i] == i) continue;
            Span<T> x = b.Slice(i * k, k), y = b.Slice(piv[i] * k, k);
            for (int j = 0; j < k; j++) (x[j], y[j]) = (y[j], x[j]);
        }
    }

    /// <summary>dst = srcᵀ for the n×n row-major src (tiles of 32×32, so both sides stay in cache).</summary>
    private static void Transpose<T>(ReadOnlySpan<T> src, Span<T> dst, int n)
    {
        const int Tile = 32;
        for (int i0 = 0; i0 < n; i0 += Tile)
            for (int j0 = 0; j0 < n; j0 += Tile)
            {
                int i1 = Math.Min(n, i0 + Tile), j1 = Math.Min(n, j0 + Tile);
                for (int i = i0; i < i1; i++)
                    for (int j = j0; j < j1; j++) dst[j * n + i] = src[i * n + j];
            }
    }

    /// <summary>The inverse of A (n×n, written to <paramref name="x"/>) from its packed LU and pivots: A⁻¹ = U⁻¹·L⁻¹·P.
    /// L⁻¹ is solved from the identity exploiting that it stays lower triangular (a third of a full solve), then U⁻¹·L⁻¹ by
    /// the upper solve, then P as column swaps in reverse pivot order: 2n³ flops with the LU instead of 8n³/3.</summary>
    public static void LuInverse(ReadOnlySpan<double> lu, ReadOnlySpan<int> piv, int n, Span<double> x) => LuInverseT(lu, piv, n, x);

    /// <summary>As the float64 overload, in float32.</summary>
    public static void LuInverse(ReadOnlySpan<float> lu, ReadOnlySpan<int> piv, int n, Span<float> x) => LuInverseT(lu, piv, n, x);

    private static void LuInverseT<T>(ReadOnlySpan<T> lu, ReadOnlySpan<int> piv, int n, Span<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        x[..(n * n)].Clear();
        for (int i = 0; i < n; i++) x[i * n + i] = T.One;
        TriSolveT(lu, n, x, n, upper: false, unit: true, lowerRhs: true);
        TriSolveT(lu, n, x, n, upper: true, unit: false, lowerRhs: false);
        for (int i = n - 1; i >= 0; i--)
        {
            int p = piv[i];
            if (p == i) continue;
            for (int r = 0; r < n; r++) (x[r * n + i], x[r * n + p]) = (x[r * n + p], x[r * n + i]);
        }
    }

    /// <summary>Lower Cholesky factor of the symmetric n×n matrix a (only its lower triangle is read), in place;
    /// the strict upper triangle is zeroed. Returns the order (1-based) of the first non-positive leading minor, or 0.</summary>
    public static int Cholesky(Span<double> a, int n) => UseBlocked(n) ? OnArray(a, n * n, w => CholeskyBlocked(w, n)) : CholeskyUnblocked(a, n);

    /// <summary>The unblocked left-looking Cholesky (see <see cref="Cholesky"/>).</summary>
    internal static int CholeskyUnblocked(Span<double> a, int n)
    {
        // rows of L are contiguous in the row-major buffer: every inner product is one SIMD dot
        for (int j = 0; j < n; j++)
        {
            var lj = a.Slice(j * n, j);
            double s = a[j * n + j] - TensorPrimitives.Dot<double>(lj, lj);
            if (!(s > 0)) return j + 1;
            double d = Math.Sqrt(s);
            a[j * n + j] = d;
            for (int i = j + 1; i < n; i++)
                a[i * n + j] = (a[i * n + j] - TensorPrimitives.Dot<double>(a.Slice(i * n, j), lj)) / d;
        }
        for (int i = 0; i < n; i++) a.Slice(i * n + i + 1, n - i - 1).Clear();
        return 0;
    }

    /// <summary>Solves T X = B in place in b (n×k) for the triangular n×n t (lower or upper; unit diagonal assumed when
    /// <paramref name="unit"/>; only that triangle is read). From <see cref="BlockedFrom"/> on it runs blocked (dtrsm's form): per
    /// block of <see cref="BlockSize"/> rows the contribution of the rows already solved is subtracted by one GEMM, then the
    /// diagonal block is solved row by row. <paramref name="lowerRhs"/> (lower t only, k = n): B is lower triangular (e.g. the
    /// identity) and so is X, so the zeros above the diagonal are skipped (a third of the flops).</summary>
    public static void TriSolve(ReadOnlySpan<double> t, int n, Span<double> b, int k, bool upper, bool unit, bool lowerRhs = false) =>
        TriSolveT(t, n, b, k, upper, unit, lowerRhs);

    /// <summary>As the float64 overload, in float32 (float32 GEMM for the off-diagonal blocks).</summary>
    public static void TriSolve(ReadOnlySpan<float> t, int n, Span<float> b, int k, bool upper, bool unit, bool lowerRhs = false) =>
        TriSolveT(t, n, b, k, upper, unit, lowerRhs);

    private static void TriSolveT<T>(ReadOnlySpan<T> t, int n, Span<T> b, int k, bool upper, bool unit, bool lowerRhs) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (n == 0 || k == 0) return;
        if (lowerRhs && (upper || k != n)) throw new ArgumentException("TriSolve: lowerRhs needs a lower t and a square B.");
        if (!UseBlocked(n))
        {
            TriSolveRows(t, n, b, k, 0, n, upper, unit, lowerRhs);
            return;
        }
        var ta = System.Buffers.ArrayPool<T>.Shared.Rent(n * n);
        var xa = System.Buffers.ArrayPool<T>.Shared.Rent(n * k);
        var tmp = System.Buffers.ArrayPool<T>.Shared.Rent(BlockSize * k);
        try
        {
            t[..(n * n)].CopyTo(ta);
            b[..(n * k)].CopyTo(xa);
            int nblocks = (n + BlockSize - 1) / BlockSize;
            for (int bi = 0; bi < nblocks; bi++)
            {
                // lower: blocks top-down, the solved rows are 0..i0; upper: bottom-up, the solved rows are i1..n
                int i0 = upper ? Math.Max(0, n - (bi + 1) * BlockSize) : bi * BlockSize;
                int i1 = upper ? n - bi * BlockSize : Math.Min(n, i0 + BlockSize), rows = i1 - i0;
                int s0 = upper ? i1 : 0, sl = upper ? n - i1 : i0;
                if (sl > 0)
                {
                    // B[i0..i1] −= T[i0..i1, s0..s0+sl]·X[s0..s0+sl] (lowerRhs: the solved rows are zero from column i0 on)
                    int w = lowerRhs ? i0 : k;
                    Gemm.MatMul(ta, i0 * n + s0, n, 1, xa, s0 * k, k, 1, tmp, 0, w, rows, sl, w, accumulate: false);
                    if (w == k)
                    {
                        var blk = xa.AsSpan(i0 * k, rows * k);
                        TensorPrimitives.Subtract(blk, tmp.AsSpan(0, rows * k), blk);
                    }
                    else
                        for (int r = 0; r < rows; r++)
                        {
                            var br = xa.AsSpan((i0 + r) * k, w);
                            TensorPrimitives.Subtract(br, tmp.AsSpan(r * w, w), br);
                        }
                }
                TriSolveRows<T>(ta, n, xa, k, i0, i1, upper, unit, lowerRhs);
            }
            xa.AsSpan(0, n * k).CopyTo(b);
        }
        finally
        {
            System.Buffers.ArrayPool<T>.Shared.Return(ta);
            System.Buffers.ArrayPool<T>.Shared.Return(xa);
            System.Buffers.ArrayPool<T>.Shared.Return(tmp);
        }
    }

    /// <summary>The rows i0..i1 of a triangular solve whose other rows are already accounted for: lower forward, upper backward.</summary>
    private static void TriSolveRows<T>(ReadOnlySpan<T> t, int n, Span<T> b, int k, int i0, int i1, bool upper, bool unit, bool lowerRhs = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int step = 0; step < i1 - i0; step++)
        {
            int i = upper ? i1 - 1 - step : i0 + step;
            int w = lowerRhs ? Math.Min(k, i + 1) : k; // lowerRhs: row i (and every row above it) is zero from column i + 1 on
            var bi = b.Slice(i * k, w);
            int p0 = upper ? i + 1 : i0, p1 = upper ? i1 : i;
            for (int p = p0; p < p1; p++)
            {
                T f = t[i * n + p];
                if (f != T.Zero) TensorPrimitives.MultiplyAdd(b.Slice(p * k, w), -f, bi, bi);
            }
            if (!unit) TensorPrimitives.Divide(bi, t[i * n + i], bi);
        }
    }

    /// <summary>Reduced Householder QR of the m×n matrix a: q (m×k) and r (k×n), k = min(m, n); with
    /// <paramref name="complete"/> q is m×m and r m×n.</summary>
    public static void Qr(ReadOnlySpan<double> a, int m, int n, Span<double> q, Span<double> r, bool complete)
    {
        if (UseBlocked(Math.Min(m, n))) QrBlocked(a, m, n, q, r, complete);
        else QrUnblocked(a, m, n, q, r, complete);
    }

    /// <summary>The unblocked Householder QR (see <see cref="Qr"/>).</summary>
    internal static void QrUnblocked(ReadOnlySpan<double> a, int m, int n, Span<double> q, Span<double> r, bool complete)
    {
        int k = Math.Min(m, n), qc = complete ? m : k;
        var w = a.ToArray();
        var vs = new double[k][];
        var taus = new double[k];
        for (int j = 0; j < k; j++)
        {
            double alpha = w[j * n + j], norm2 = 0;
            for (int i = j + 1; i < m; i++) norm2 += w[i * n + j] * w[i * n + j];
            var v = new double[m - j];
            v[0] = 1;
            if (norm2 == 0) { taus[j] = 0; vs[j] = v; continue; }
            double beta = -Math.CopySign(Math.Sqrt(alpha * alpha + norm2), alpha);
            taus[j] = (beta - alpha) / beta;
            double scale = 1 / (alpha - beta);
            for (int i = j + 1; i < m; i++) v[i - j] = w[i * n + j] * scale;
            vs[j] = v;
            // apply H = I − τ v vᵀ to the trailing columns
            for (int c = j; c < n; c++)
            {
                double s = 0;
                for (int i = j; i < m; i++) s += v[i - j] * w[i * n + c];
                s *= taus[j];
                for (int i = j; i < m; i++) w[i * n + c] -= s * v[i - j];
            }
        }
        int rr = complete ? m : k;
        r.Slice(0, rr * n).Clear();
        for (int i = 0; i < Math.Min(rr, m); i++)
            for (int c = i; c < n; c++) r[i * n + c] = w[i * n + c];
        // Q = H_0 ⋯ H_{k−1} applied to the first qc columns of the identity
        q.Slice(0, m * qc).Clear();
        for (int i = 0; i < qc; i++) q[i * qc + i] = 1;
        for (int j = k - 1; j >= 0; j--)
        {
            var v = vs[j];
            for (int c = 0; c < qc; c++)
            {
                double s = 0;
                for (int i = j; i < m; i++) s += v[i - j] * q[i * qc + c];
                s *= taus[j];
                if (s != 0) for (int i = j; i < m; i++) q[i * qc + c] -= s * v[i - j];
            }
        }
    }

    /// <summary>Blocked LU with partial pivoting (dgetrf's right-looking form) of the n×n row-major <paramref name="a"/>: per
    /// panel of <see cref="BlockSize"/> columns an unblocked LU (row swaps over full rows), U₁₂ = L₁₁⁻¹·A₁₂, then
    /// A₂₂ −= L₂₁·U₁₂ as one GEMM.</summary>
    internal static int LuBlocked(double[] a, int n, Span<int> piv)
    {
        int sign = 1;
        bool singular = false;
        var negL = new double[n * BlockSize];
        var pc = new double[n * BlockSize];
        for (int k0 = 0; k0 < n; k0 += BlockSize)
        {
            int kb = Math.Min(BlockSize, n - k0), kend = k0 + kb;
            singular |= LuPanel(a, n, k0, kb, pc, piv, ref sign);
            int nc = n - kend;
            if (nc == 0) continue;
            // U₁₂ = L₁₁⁻¹·A₁₂ (unit lower triangular solve on the panel's rows)
            for (int i = k0 + 1; i < kend; i++)
            {
                var ri = a.AsSpan(i * n + kend, nc);
                for (int p = k0; p < i; p++)
                {
                    double f = a[i * n + p];
                    if (f != 0) TensorPrimitives.MultiplyAdd(a.AsSpan(p * n + kend, nc), -f, ri, ri);
                }
            }
            // A₂₂ −= L₂₁·U₁₂
            for (int r = 0; r < nc; r++)
                TensorPrimitives.Negate(a.AsSpan((kend + r) * n + k0, kb), negL.AsSpan(r * kb, kb));
            Gemm.MatMul(negL, 0, kb, 1, a, k0 * n + kend, n, 1, a, kend * n + kend, n, nc, kb, nc, accumulate: true);
        }
        return singular ? 0 : sign;
    }

    /// <summary>The unblocked LU of the panel a[k0.., k0..k0+kb] (partial pivoting; row swaps applied to whole rows of
    /// <paramref name="a"/>), on a column-major copy <paramref name="pc"/> so that the pivot search, the scaling and the rank-1
    /// updates run over contiguous columns (one long SIMD call per column instead of one short one per row). Returns true
    /// when a pivot is exactly zero.</summary>
    private static bool LuPanel(double[] a, int n, int k0, int kb, double[] pc, Span<int> piv, ref int sign)
    {
        int rows = n - k0, kend = k0 + kb;
        bool singular = false;
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < kb; j++) pc[j * rows + r] = a[(k0 + r) * n + k0 + j];
        for (int kk = 0; kk < kb; kk++)
        {
            var col = pc.AsSpan(kk * rows + kk, rows - kk);
            int p = kk;
            double best = Math.Abs(col[0]);
            for (int i = 1; i < col.Length; i++)
            {
                double v = Math.Abs(col[i]);
                if (v > best) { best = v; p = kk + i; }
            }
            piv[k0 + kk] = k0 + p;
            if (p != kk)
            {
                for (int j = 0; j < kb; j++) (pc[j * rows + kk], pc[j * rows + p]) = (pc[j * rows + p], pc[j * rows + kk]);
                int r1 = (k0 + kk) * n, r2 = (k0 + p) * n;
                for (int j = 0; j < k0; j++) (a[r1 + j], a[r2 + j]) = (a[r2 + j], a[r1 + j]);
                for (int j = kend; j < n; j++) (a[r1 + j], a[r2 + j]) = (a[r2 + j], a[r1 + j]);
                sign = -sign;
            }
            double d = pc[kk * rows + kk];
            if (d == 0) { singular = true; continue; }
            var below = pc.AsSpan(kk * rows + kk + 1, rows - kk - 1);
            TensorPrimitives.Divide(below, d, below);
            for (int jj = kk + 1; jj < kb; jj++)
            {
                double u = pc[jj * rows + kk];
                if (u == 0) continue;
                var cj = pc.AsSpan(jj * rows + kk + 1, below.Length);
                TensorPrimitives.MultiplyAdd(below, -u, cj, cj);
            }
        }
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < kb; j++) a[(k0 + r) * n + k0 + j] = pc[j * rows + r];
        return singular;
    }

    /// <summary>Blocked lower Cholesky (dpotrf's right-looking form) of the n×n row-major <paramref name="a"/> (lower triangle
    /// read): per panel the diagonal block by the unblocked loop, L₂₁ = A₂₁·L₁₁⁻ᵀ, then the lower part of A₂₂ −= L₂₁·L₂₁ᵀ by
    /// GEMMs over column blocks. The strict upper triangle is zeroed.</summary>
    internal static int CholeskyBlocked(double[] a, int n)
    {
        var negL = new double[n * BlockSize];
        for (int k0 = 0; k0 < n; k0 += BlockSize)
        {
            int kb = Math.Min(BlockSize, n - k0), kend = k0 + kb;
            // the panel: diagonal block and L₂₁, column by column (the columns before k0 were already subtracted)
            for (int j = k0; j < kend; j++)
            {
                var lj = a.AsSpan(j * n + k0, j - k0);
                double s = a[j * n + j] - TensorPrimitives.Dot(lj, lj);
                if (!(s > 0)) return j + 1;
                double d = Math.Sqrt(s);
                a[j * n + j] = d;
                for (int i = j + 1; i < n; i++)
                    a[i * n + j] = (a[i * n + j] - TensorPrimitives.Dot(a.AsSpan(i * n + k0, j - k0), lj)) / d;
            }
            int nr = n - kend;
            if (nr == 0) break;
            for (int r = 0; r < nr; r++)
                TensorPrimitives.Negate(a.AsSpan((kend + r) * n + k0, kb), negL.AsSpan(r * kb, kb));
            // A₂₂[j0.., j0..j0+jb] −= L₂₁[j0..]·L₂₁[j0..j0+jb]ᵀ for each column block (the lower part and the diagonal blocks)
            for (int j0 = kend; j0 < n; j0 += BlockSize)
            {
                int jb = Math.Min(BlockSize, n - j0);
                Gemm.MatMul(negL, (j0 - kend) * kb, kb, 1, a, j0 * n + k0, 1, n, a, j0 * n + j0, n, n - j0, kb, jb, accumulate: true);
            }
        }
        for (int i = 0; i < n; i++) a.AsSpan(i * n + i + 1, n - i - 1).Clear();
        return 0;
    }
}
