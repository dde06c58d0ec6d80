using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Fluxion.Kernels;

/// <summary>
/// A pair law for <see cref="ParticlePairs{T}"/>: from the squared softened distance r² (&gt; 0) of a pair, the
/// factor φ(r) = g(r)/r of the force along the difference vector and χ(r) = φ'(r)/r (so that
/// ∂(φ e)/∂e = φ I + χ e eᵀ). Implement it on a struct: the loops are generic over it and the JIT inlines it.
/// </summary>
internal interface IPairLaw<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>φ and χ lane-wise for squared distances <paramref name="r2"/> (all lanes &gt; 0).</summary>
    void Eval(Vector256<T> r2, out Vector256<T> phi, out Vector256<T> chi);
}

/// <summary>
/// Pair forces of a particle system with per-kind multipliers, F_i = Σ_{j≠i} c_ij φ(r_ij) (x_j − x_i),
/// c_ij = m_i m_j (1 − s[i, kind_j]) a[j, kind_i], r_ij = √(‖x_j − x_i‖² + ε²), in O(n²) work and O(n)
/// memory, with their reverse-mode gradients and forward-mode tangents. The loops run over row blocks of
/// <see cref="PairwiseTiles.TileRows"/> targets i (distributed over the cores with the scheduler of
/// <see cref="PairwiseTiles"/>) and vectorize over the sources j, read from column arrays (structure of
/// arrays, zero-padded to the vector width). The kind of j enters through three one-hot columns, so
/// (1 − s[i, kind_j]) = Σ_λ (1 − s[i, λ]) [kind_j = λ] is three fused multiply-adds and no pair branches on
/// kinds. Dead particles have zero one-hot columns (they exert nothing) and their rows are skipped (they
/// feel nothing); the pair i = i and pairs at r = 0 (coincident, unsoftened) contribute nothing.
/// Contributions to the sources' gradients go to per-worker column buffers summed at the end.
/// </summary>
internal sealed class ParticlePairs<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The kinds the loops are unrolled for (one-hot columns, three fused multiply-adds per pair): a system
    /// with fewer kinds is passed zero-padded to this many columns (see <see cref="Pad"/>); the number of kinds is the
    /// model's, not the kernel's.</summary>
    public const int K = 3;

    /// <summary>Per-particle columns [n, kinds] (row-major) widened to [n, <see cref="K"/>] with zeros: a padded kind
    /// has no particle (its one-hot column is zero), so its multipliers never enter a pair.</summary>
    public static T[] Pad(T[] v, int n, int kinds)
    {
        if (kinds == K) return v;
        var r = new T[n * K];
        for (int i = 0; i < n; i++) Array.Copy(v, i * kinds, r, i * K, kinds);
        return r;
    }

    /// <summary>Columns [n, <see cref="K"/>] narrowed back to the system's [n, kinds] (the inverse of <see cref="Pad"/>).</summary>
    public static T[] Unpad(T[] v, int n, int kinds)
    {
        if (kinds == K) return v;
        var r = new T[n * kinds];
        for (int i = 0; i < n; i++) Array.Copy(v, i * K, r, i * kinds, kinds);
        return r;
    }

    private readonly int _n, _np, _d;
    private readonly T _eps2;
    private readonly T[] _cols; // [(D + 7), np]: X_0 … X_{D−1}, M, A_0 … A_2, OH_0 … OH_2
    private readonly T[] _x, _m, _s;
    private readonly int[] _kind;
    private readonly bool[]? _alive;

    /// <summary>The system: positions x [n, D], masses m [n], multipliers s, a [n, K] (row-major), kinds in
    /// [0, K), optional liveness, softening ε² (ε = 0 allowed).</summary>
    public ParticlePairs(T[] x, T[] m, T[] s, T[] a, int[] kind, bool[]? alive, int n, int d, double eps2)
    {
        _n = n;
        _d = d;
        _np = (n + Vector256<T>.Count - 1) / Vector256<T>.Count * Vector256<T>.Count;
        _eps2 = T.CreateChecked(eps2);
        _x = x;
        _m = m;
        _s = s;
        _kind = kind;
        _alive = alive;
        _cols = new T[(d + 7) * _np];
        for (int j = 0; j < n; j++)
        {
            for (int c = 0; c < d; c++) _cols[c * _np + j] = x[j * d + c];
            _cols[d * _np + j] = m[j];
            for (int k = 0; k < K; k++) _cols[(d + 1 + k) * _np + j] = a[j * K + k];
            if (alive is null || alive[j]) _cols[(d + 4 + kind[j]) * _np + j] = T.One;
        }
    }

    private bool Alive(int i) => _alive is null || _alive[i];

    private int Blocks => (_n + PairwiseTiles.TileRows - 1) / PairwiseTiles.TileRows;

    private int WorkersFor(int opsPerPair) => PairwiseTiles.Workers(Blocks, (long)_n * _n * opsPerPair);

    /// <summary>Lanes c0 … c0 + width − 1 that are not the diagonal i (all ones unless i is in this chunk).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> OffDiagonal(int i, int c0)
    {
        var all = Vector256<T>.AllBitsSet;
        if ((uint)(i - c0) >= (uint)Vector256<T>.Count) return all;
        return ~Vector256.Equals(Vector256<T>.Indices, Vector256.Create(T.CreateTruncating(i - c0)));
    }

    /// <summary>φ, χ with the r² = 0 lanes (and masked lanes) set to 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Law<TL>(in TL law, Vector256<T> r2, Vector256<T> mask, out Vector256<T> phi, out Vector256<T> chi) where TL : struct, IPairLaw<T>
    {
        var ok = mask & ~Vector256.Equals(r2, Vector256<T>.Zero);
        law.Eval(Vector256.ConditionalSelect(ok, r2, Vector256<T>.One), out phi, out chi);
        phi &= ok;
        chi &= ok;
    }

    /// <summary>The forces [n, D] (row-major), overwritten.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Forces<TL>(TL law, T[] f) where TL : struct, IPairLaw<T>
    {
        Array.Clear(f);
        int d = _d, np = _np;
        if (d == 2)
        {
            PairwiseTiles.Run(WorkersFor(16), Blocks, (_, blk) => ForcesRows2(law, f, blk * PairwiseTiles.TileRows, Math.Min(_n, (blk + 1) * PairwiseTiles.TileRows)));
            return;
        }
        PairwiseTiles.Run(WorkersFor(8 + 4 * d), Blocks, (_, blk) =>
        {
            Span<Vector256<T>> e = stackalloc Vector256<T>[d];
            Span<Vector256<T>> acc = stackalloc Vector256<T>[d];
            ref T C = ref MemoryMarshal.GetArrayDataReference(_cols);
            int i0 = blk * PairwiseTiles.TileRows, i1 = Math.Min(_n, i0 + PairwiseTiles.TileRows);
            for (int i = i0; i < i1; i++)
            {
                if (!Alive(i)) continue;
                int ki = _kind[i];
                var s0 = Vector256.Create(T.One - _s[i * K]);
                var s1 = Vector256.Create(T.One - _s[i * K + 1]);
                var s2 = Vector256.Create(T.One - _s[i * K + 2]);
                var eps2 = Vector256.Create(_eps2);
                acc.Clear();
                for (int c0 = 0; c0 < np; c0 += Vector256<T>.Count)
                {
                    var r2 = eps2;
                    for (int c = 0; c < d; c++)
                    {
                        var ec = Vector256.LoadUnsafe(ref C, (nuint)(c * np + c0)) - Vector256.Create(_x[i * d + c]);
                        e[c] = ec;
                        r2 = PairwiseTiles.Fma(ec, ec, r2);
                    }
                    var sij = PairwiseTiles.Fma(s0, Vector256.LoadUnsafe(ref C, (nuint)((d + 4) * np + c0)),
                        PairwiseTiles.Fma(s1, Vector256.LoadUnsafe(ref C, (nuint)((d + 5) * np + c0)),
                        s2 * Vector256.LoadUnsafe(ref C, (nuint)((d + 6) * np + c0))));
                    var cm = sij * Vector256.LoadUnsafe(ref C, (nuint)((d + 1 + ki) * np + c0)) * Vector256.LoadUnsafe(ref C, (nuint)(d * np + c0));
                    Law(law, r2, OffDiagonal(i, c0), out var phi, out Vector256<T> _);
                    var cp = cm * phi;
                    for (int c = 0; c < d; c++) acc[c] = PairwiseTiles.Fma(cp, e[c], acc[c]);
                }
                for (int c = 0; c < d; c++) f[i * d + c] = _m[i] * Vector256.Sum(acc[c]);
            }
        });
    }

    /// <summary>
    /// Gradients of L = Σ_i U_i·F_i (U [n, D] row-major) for x [n, D], m [n], s [n, K], a [n, K]; outputs
    /// overwritten. Per pair with e = x_j − x_i, w = (1 − s[i, kind_j]) a[j, kind_i] and core = φ U_i·e:
    /// ∂/∂x_j = −∂/∂x_i = w m_i m_j (φ U_i + χ (U_i·e) e); ∂/∂m_i ∋ w m_j core, ∂/∂m_j ∋ w m_i core;
    /// ∂/∂s[i, kind_j] ∋ −a m_i m_j core; ∂/∂a[j, kind_i] ∋ (1 − s) m_i m_j core.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Backward<TL>(TL law, T[] u, T[] gx, T[] gm, T[] gs, T[] ga) where TL : struct, IPairLaw<T>
    {
        int d = _d, np = _np, n = _n, colW = (d + 1 + K) * np; // per-worker columns: GX_0 … GX_{D−1}, GM, GA_0 … GA_2
        int workers = WorkersFor(20 + 8 * d);
        var wcols = new T[workers * colW];
        Array.Clear(gx);
        Array.Clear(gm);
        Array.Clear(gs);
        Array.Clear(ga);
        if (d == 2)
            PairwiseTiles.Run(workers, Blocks, (w, blk) =>
                BackwardRows2(law, u, gx, gm, gs, wcols, w * colW, blk * PairwiseTiles.TileRows, Math.Min(n, (blk + 1) * PairwiseTiles.TileRows)));
        else PairwiseTiles.Run(workers, Blocks, (w, blk) =>
        {
            Span<Vector256<T>> e = stackalloc Vector256<T>[d];
            Span<Vector256<T>> ui = stackalloc Vector256<T>[d];
            Span<Vector256<T>> rgx = stackalloc Vector256<T>[d];
            ref T C = ref MemoryMarshal.GetArrayDataReference(_cols);
            ref T W = ref MemoryMarshal.GetArrayDataReference(wcols);
            W = ref Unsafe.Add(ref W, w * colW);
            int i0 = blk * PairwiseTiles.TileRows, i1 = Math.Min(n, i0 + PairwiseTiles.TileRows);
            var eps2 = Vector256.Create(_eps2);
            for (int i = i0; i < i1; i++)
            {
                if (!Alive(i)) continue;
                int ki = _kind[i];
                T mi = _m[i];
                var s0 = Vector256.Create(T.One - _s[i * K]);
                var s1 = Vector256.Create(T.One - _s[i * K + 1]);
                var s2 = Vector256.Create(T.One - _s[i * K + 2]);
                var miv = Vector256.Create(mi);
                for (int c = 0; c < d; c++) ui[c] = Vector256.Create(u[i * d + c]);
                rgx.Clear();
                Vector256<T> rgm = default, rg0 = default, rg1 = default, rg2 = default;
                for (int c0 = 0; c0 < np; c0 += Vector256<T>.Count)
                {
                    var r2 = eps2;
                    Vector256<T> ue = default;
                    for (int c = 0; c < d; c++)
                    {
                        var ec = Vector256.LoadUnsafe(ref C, (nuint)(c * np + c0)) - Vector256.Create(_x[i * d + c]);
                        e[c] = ec;
                        r2 = PairwiseTiles.Fma(ec, ec, r2);
                        ue = PairwiseTiles.Fma(ui[c], ec, ue);
                    }
                    var oh0 = Vector256.LoadUnsafe(ref C, (nuint)((d + 4) * np + c0));
                    var oh1 = Vector256.LoadUnsafe(ref C, (nuint)((d + 5) * np + c0));
                    var oh2 = Vector256.LoadUnsafe(ref C, (nuint)((d + 6) * np + c0));
                    var sij = PairwiseTiles.Fma(s0, oh0, PairwiseTiles.Fma(s1, oh1, s2 * oh2));
                    var aji = Vector256.LoadUnsafe(ref C, (nuint)((d + 1 + ki) * np + c0));
                    var mj = Vector256.LoadUnsafe(ref C, (nuint)(d * np + c0));
                    Law(law, r2, OffDiagonal(i, c0), out var phi, out var chi);
                    var wv = sij * aji;
                    var core = phi * ue;
                    var wmj = wv * mj;               // w m_j
                    var cc = wmj * miv;              // c = w m_i m_j
                    var cphi = cc * phi;
                    var cchiue = cc * chi * ue;
                    for (int c = 0; c < d; c++)
                    {
                        var ge = PairwiseTiles.Fma(cphi, ui[c], cchiue * e[c]);
                        nuint o = (nuint)(c * np + c0);
                        (Vector256.LoadUnsafe(ref W, o) + ge).StoreUnsafe(ref W, o);
                        rgx[c] += ge;
                    }
                    rgm = PairwiseTiles.Fma(wmj, core, rgm);
                    nuint om = (nuint)(d * np + c0);
                    (Vector256.LoadUnsafe(ref W, om) + wv * miv * core).StoreUnsafe(ref W, om);
                    var amc = aji * mj * core;       // × (−m_i) at the end: ∂/∂s[i, λ]
                    rg0 = PairwiseTiles.Fma(amc, oh0, rg0);
                    rg1 = PairwiseTiles.Fma(amc, oh1, rg1);
                    rg2 = PairwiseTiles.Fma(amc, oh2, rg2);
                    nuint oa = (nuint)((d + 1 + ki) * np + c0);
                    (Vector256.LoadUnsafe(ref W, oa) + sij * mj * miv * core).StoreUnsafe(ref W, oa);
                }
                // row i's sums are its own: no other worker writes them
                for (int c = 0; c < d; c++) gx[i * d + c] -= Vector256.Sum(rgx[c]);
                gm[i] += Vector256.Sum(rgm);
                gs[i * K] = -mi * Vector256.Sum(rg0);
                gs[i * K + 1] = -mi * Vector256.Sum(rg1);
                gs[i * K + 2] = -mi * Vector256.Sum(rg2);
            }
        });
        // the sources' (column) sums: after the loop, so that the rows' sums above are never raced
        for (int w = 0; w < workers; w++)
        {
            int o = w * colW;
            for (int j = 0; j < n; j++)
            {
                for (int c = 0; c < d; c++) gx[j * d + c] += wcols[o + c * np + j];
                gm[j] += wcols[o + d * np + j];
                for (int k = 0; k < K; k++) ga[j * K + k] += wcols[o + (d + 1 + k) * np + j];
            }
        }
    }

    /// <summary><see cref="Forces"/> for rows [i0, i1) in 2-D (differences and sums in registers).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ForcesRows2<TL>(in TL law, T[] f, int i0, int i1) where TL : struct, IPairLaw<T>
    {
        int np = _np;
        T[] x = _x, s = _s, m = _m;
        int[] kind = _kind;
        ref T C = ref MemoryMarshal.GetArrayDataReference(_cols);
        ref T X0 = ref C;
        ref T X1 = ref Unsafe.Add(ref C, np);
        ref T M = ref Unsafe.Add(ref C, 2 * np);
        ref T O0 = ref Unsafe.Add(ref C, 6 * np);
        ref T O1 = ref Unsafe.Add(ref C, 7 * np);
        ref T O2 = ref Unsafe.Add(ref C, 8 * np);
        var eps2 = Vector256.Create(_eps2);
        for (int i = i0; i < i1; i++)
        {
            if (!Alive(i)) continue;
            ref T Ak = ref Unsafe.Add(ref C, (3 + kind[i]) * np);
            var s0 = Vector256.Create(T.One - s[i * K]);
            var s1 = Vector256.Create(T.One - s[i * K + 1]);
            var s2 = Vector256.Create(T.One - s[i * K + 2]);
            var xi0 = Vector256.Create(x[2 * i]);
            var xi1 = Vector256.Create(x[2 * i + 1]);
            Vector256<T> acc0 = default, acc1 = default;
            for (int c0 = 0; c0 < np; c0 += Vector256<T>.Count)
            {
                nuint o = (nuint)c0;
                var e0 = Vector256.LoadUnsafe(ref X0, o) - xi0;
                var e1 = Vector256.LoadUnsafe(ref X1, o) - xi1;
                var r2 = PairwiseTiles.Fma(e0, e0, PairwiseTiles.Fma(e1, e1, eps2));
                var sij = PairwiseTiles.Fma(s0, Vector256.LoadUnsafe(ref O0, o), PairwiseTiles.Fma(s1, Vector256.LoadUnsafe(ref O1, o), s2 * Vector256.LoadUnsafe(ref O2, o)));
                var cm = sij * Vector256.LoadUnsafe(ref Ak, o) * Vector256.LoadUnsafe(ref M, o);
                Law(law, r2, OffDiagonal(i, c0), out var phi, out Vector256<T> _);
                var cp = cm * phi;
                acc0 = PairwiseTiles.Fma(cp, e0, acc0);
                acc1 = PairwiseTiles.Fma(cp, e1, acc1);
            }
            f[2 * i] = m[i] * Vector256.Sum(acc0);
            f[2 * i + 1] = m[i] * Vector256.Sum(acc1);
        }
    }

    /// <summary><see cref="Backward"/> for rows [i0, i1) in 2-D; column sums into wcols[wo …].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void BackwardRows2<TL>(in TL law, T[] u, T[] gx, T[] gm, T[] gs, T[] wcols, int wo, int i0, int i1) where TL : struct, IPairLaw<T>
    {
        int np = _np;
        T[] x = _x, s = _s, m = _m;
        int[] kind = _kind;
        ref T C = ref MemoryMarshal.GetArrayDataReference(_cols);
        ref T X0 = ref C;
        ref T X1 = ref Unsafe.Add(ref C, np);
        ref T M = ref Unsafe.Add(ref C, 2 * np);
        ref T O0 = ref Unsafe.Add(ref C, 6 * np);
        ref T O1 = ref Unsafe.Add(ref C, 7 * np);
        ref T O2 = ref Unsafe.Add(ref C, 8 * np);
        ref T W = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(wcols), wo);
        ref T G0 = ref W;
        ref T G1 = ref Unsafe.Add(ref W, np);
        ref T GM = ref Unsafe.Add(ref W, 2 * np);
        var eps2 = Vector256.Create(_eps2);
        for (int i = i0; i < i1; i++)
        {
            if (!Alive(i)) continue;
            int ki = kind[i];
            ref T Ak = ref Unsafe.Add(ref C, (3 + ki) * np);
            ref T GA = ref Unsafe.Add(ref W, (3 + ki) * np);
            T mi = m[i];
            var miv = Vector256.Create(mi);
            var s0 = Vector256.Create(T.One - s[i * K]);
            var s1 = Vector256.Create(T.One - s[i * K + 1]);
            var s2 = Vector256.Create(T.One - s[i * K + 2]);
            var xi0 = Vector256.Create(x[2 * i]);
            var xi1 = Vector256.Create(x[2 * i + 1]);
            var u0 = Vector256.Create(u[2 * i]);
            var u1 = Vector256.Create(u[2 * i + 1]);
            Vector256<T> rgx0 = default, rgx1 = default, rgm = default, rg0 = default, rg1 = default, rg2 = default;
            for (int c0 = 0; c0 < np; c0 += Vector256<T>.Count)
            {
                nuint o = (nuint)c0;
                var e0 = Vector256.LoadUnsafe(ref X0, o) - xi0;
                var e1 = Vector256.LoadUnsafe(ref X1, o) - xi1;
                var r2 = PairwiseTiles.Fma(e0, e0, PairwiseTiles.Fma(e1, e1, eps2));
                var ue = PairwiseTiles.Fma(u0, e0, u1 * e1);
                var oh0 = Vector256.LoadUnsafe(ref O0, o);
                var oh1 = Vector256.LoadUnsafe(ref O1, o);
                var oh2 = Vector256.LoadUnsafe(ref O2, o);
                var sij = PairwiseTiles.Fma(s0, oh0, PairwiseTiles.Fma(s1, oh1, s2 * oh2));
                var aji = Vector256.LoadUnsafe(ref Ak, o);
                var mj = Vector256.LoadUnsafe(ref M, o);
                Law(law, r2, OffDiagonal(i, c0), out var phi, out var chi);
                var core = phi * ue;
                var wmj = sij * aji * mj;          // w m_j
                var cc = wmj * miv;                 // c = w m_i m_j
                var cphi = cc * phi;
                var cchiue = cc * chi * ue;
                var ge0 = PairwiseTiles.Fma(cphi, u0, cchiue * e0);
                var ge1 = PairwiseTiles.Fma(cphi, u1, cchiue * e1);
                (Vector256.LoadUnsafe(ref G0, o) + ge0).StoreUnsafe(ref G0, o);
                (Vector256.LoadUnsafe(ref G1, o) + ge1).StoreUnsafe(ref G1, o);
                rgx0 += ge0;
                rgx1 += ge1;
                rgm = PairwiseTiles.Fma(wmj, core, rgm);
                var mic = miv * core;
                (Vector256.LoadUnsafe(ref GM, o) + sij * aji * mic).StoreUnsafe(ref GM, o);
                var amc = aji * mj * core;          // × (−m_i) at the end: ∂/∂s[i, λ]
                rg0 = PairwiseTiles.Fma(amc, oh0, rg0);
                rg1 = PairwiseTiles.Fma(amc, oh1, rg1);
                rg2 = PairwiseTiles.Fma(amc, oh2, rg2);
                (Vector256.LoadUnsafe(ref GA, o) + sij * mj * mic).StoreUnsafe(ref GA, o);
            }
            gx[2 * i] -= Vector256.Sum(rgx0);
            gx[2 * i + 1] -= Vector256.Sum(rgx1);
            gm[i] += Vector256.Sum(rgm);
            gs[i * K] = -mi * Vector256.Sum(rg0);
            gs[i * K + 1] = -mi * Vector256.Sum(rg1);
            gs[i * K + 2] = -mi * Vector256.Sum(rg2);
        }
    }

    /// <summary>
    /// The tangent of the forces [n, D] (overwritten) for tangents tx [n, D], tm [n], ts, ta [n, K] (null = 0):
    /// dF_i = Σ_j dc φ e + c (φ de + χ (e·de) e), de = tx_j − tx_i,
    /// dc = m_i m_j (−ts[i, kind_j] a + (1 − s) ta[j, kind_i]) + (1 − s) a (tm_i m_j + m_i tm_j).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Jvp<TL>(TL law, T[]? tx, T[]? tm, T[]? ts, T[]? ta, T[] tf) where TL : struct, IPairLaw<T>
    {
        int d = _d, np = _np, n = _n;
        // tangent columns: TX_0 … TX_{D−1}, TM, TA_0 … TA_2
        var tcols = new T[(d + 1 + K) * np];
        for (int j = 0; j < n; j++)
        {
            if (tx is not null) for (int c = 0; c < d; c++) tcols[c * np + j] = tx[j * d + c];
            if (tm is not null) tcols[d * np + j] = tm[j];
            if (ta is not null) for (int k = 0; k < K; k++) tcols[(d + 1 + k) * np + j] = ta[j * K + k];
        }
        Array.Clear(tf);
        PairwiseTiles.Run(WorkersFor(16 + 8 * d), Blocks, (_, blk) =>
        {
            Span<Vector256<T>> e = stackalloc Vector256<T>[d];
            Span<Vector256<T>> de = stackalloc Vector256<T>[d];
            Span<Vector256<T>> acc = stackalloc Vector256<T>[d];
            ref T C = ref MemoryMarshal.GetArrayDataReference(_cols);
            ref T T = ref MemoryMarshal.GetArrayDataReference(tcols);
            int i0 = blk * PairwiseTiles.TileRows, i1 = Math.Min(n, i0 + PairwiseTiles.TileRows);
            var eps2 = Vector256.Create(_eps2);
            for (int i = i0; i < i1; i++)
            {
                if (!Alive(i)) continue;
                int ki = _kind[i];
                var s0 = Vector256.Create(T.One - _s[i * K]);
                var s1 = Vector256.Create(T.One - _s[i * K + 1]);
                var s2 = Vector256.Create(T.One - _s[i * K + 2]);
                var t0 = Vector256.Create(ts is null ? T.Zero : -ts[i * K]);
                var t1 = Vector256.Create(ts is null ? T.Zero : -ts[i * K + 1]);
                var t2 = Vector256.Create(ts is null ? T.Zero : -ts[i * K + 2]);
                var miv = Vector256.Create(_m[i]);
                var tmi = Vector256.Create(tm is null ? T.Zero : tm[i]);
                acc.Clear();
                for (int c0 = 0; c0 < np; c0 += Vector256<T>.Count)
                {
                    var r2 = eps2;
                    Vector256<T> ede = default;
                    for (int c = 0; c < d; c++)
                    {
                        var ec = Vector256.LoadUnsafe(ref C, (nuint)(c * np + c0)) - Vector256.Create(_x[i * d + c]);
                        var dc = Vector256.LoadUnsafe(ref T, (nuint)(c * np + c0)) - Vector256.Create(tx is null ? T.Zero : tx[i * d + c]);
                        e[c] = ec;
                        de[c] = dc;
                        r2 = PairwiseTiles.Fma(ec, ec, r2);
                        ede = PairwiseTiles.Fma(ec, dc, ede);
                    }
                    var oh0 = Vector256.LoadUnsafe(ref C, (nuint)((d + 4) * np + c0));
                    var oh1 = Vector256.LoadUnsafe(ref C, (nuint)((d + 5) * np + c0));
                    var oh2 = Vector256.LoadUnsafe(ref C, (nuint)((d + 6) * np + c0));
                    var sij = PairwiseTiles.Fma(s0, oh0, PairwiseTiles.Fma(s1, oh1, s2 * oh2));
                    var dsij = PairwiseTiles.Fma(t0, oh0, PairwiseTiles.Fma(t1, oh1, t2 * oh2));
                    var aji = Vector256.LoadUnsafe(ref C, (nuint)((d + 1 + ki) * np + c0));
                    var daji = Vector256.LoadUnsafe(ref T, (nuint)((d + 1 + ki) * np + c0));
                    var mj = Vector256.LoadUnsafe(ref C, (nuint)(d * np + c0));
                    var tmj = Vector256.LoadUnsafe(ref T, (nuint)(d * np + c0));
                    Law(law, r2, OffDiagonal(i, c0), out var phi, out var chi);
                    var wv = sij * aji;
                    var cc = wv * mj * miv;
                    var dcc = PairwiseTiles.Fma(PairwiseTiles.Fma(dsij, aji, sij * daji), mj * miv, wv * PairwiseTiles.Fma(tmi, mj, miv * tmj));
                    var ce = PairwiseTiles.Fma(dcc, phi, cc * chi * ede);
                    var cphi = cc * phi;
                    for (int c = 0; c < d; c++) acc[c] = PairwiseTiles.Fma(ce, e[c], PairwiseTiles.Fma(cphi, de[c], acc[c]));
                }
                for (int c = 0; c < d; c++) tf[i * d + c] = Vector256.Sum(acc[c]);
            }
        });
    }
}
