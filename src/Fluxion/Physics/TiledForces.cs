using System.Runtime.Intrinsics;
using Fluxion.Kernels;

namespace Fluxion.Physics;

/// <summary>
/// The pair forces and their gradients on the tiled kernels of <see cref="PairwiseTiles"/> (O(n²) work,
/// O(n) memory, no change to the kernels). With the force on particle j (the kernels' target) from i (the
/// source) written F_j = −Σ_i C_ij ψ(d_ij) (x_j − x_i), ψ(d) = g(r)/r (r the softened distance) and
/// C_ij = m_i m_j (1 − s[j, kind_i]) a[i, kind_j], the per-pair factor is a sum of K² = 9 rank-one terms
/// C_ij = Σ_{λ,κ} X[(λ,κ), i] G[(λ,κ), j] with X[(λ,κ), i] = m_i a[i, κ] [kind_i = λ] and
/// G[(λ,κ), j] = m_j (1 − s[j, λ]) [kind_j = κ] — exactly the kernels' (xᵀg)_ij with a batch of 9. The
/// forces are then the kernels' target-position gradient with f'(d)/d = ψ(d); the backward pass uses two
/// more kernel calls with batch 9(1 + D) (see <see cref="Backward"/>). Dead particles have zero rows.
/// Where d = 0 (the diagonal, coincident particles) a pair contributes nothing.
/// </summary>
internal sealed class TiledForces
{
    private const int K = 3, B = K * K;
    private readonly double[] _x, _m, _s, _a, _xg, _gg;
    private readonly int[] _kinds;
    private readonly bool[]? _alive;
    private readonly ForceSpec _spec;

    public int N { get; }
    public int Dim { get; }

    public TiledForces(int[] kinds, bool[]? alive, ForceSpec spec, Tensor x, Tensor m, Tensor s, Tensor a)
    {
        N = x.Shape[0];
        Dim = x.Shape[1];
        _kinds = kinds;
        _alive = alive;
        _spec = spec;
        _x = x.ToDoubleArray();
        _m = m.ToDoubleArray();
        _s = s.ToDoubleArray();
        _a = a.ToDoubleArray();
        _xg = new double[B * N];
        _gg = new double[B * N];
        for (int i = 0; i < N; i++)
        {
            if (alive is not null && !alive[i]) continue;
            int kd = kinds[i];
            for (int l = 0; l < K; l++)
                for (int k = 0; k < K; k++)
                {
                    if (kd == l) _xg[(l * K + k) * N + i] = _m[i] * _a[i * K + k];
                    if (kd == k) _gg[(l * K + k) * N + i] = _m[i] * (1 - _s[i * K + l]);
                }
        }
    }

    /// <summary>The forces [n, D] (row-major).</summary>
    public double[] Forces()
    {
        var gq = new double[N * Dim];
        PairwiseTiles.Backward(new Psi(_spec), _xg, _x, _x, _gg, Span<double>.Empty, Span<double>.Empty, gq, B, N, N, Dim);
        for (int i = 0; i < gq.Length; i++) gq[i] = -gq[i];
        return gq;
    }

    /// <summary>
    /// Gradients of L = Σ_j U_j·F_j for x, m, s, a. With ∂L/∂C_ij = −ψ (x_j·U_j − x_i·U_j):
    /// ∂L/∂X[b, i] = −Σ_j (G[b,j] x_j·U_j) ψ + Σ_d x_i^d Σ_j (G[b,j] U_j^d) ψ and
    /// ∂L/∂G[b, j] = −x_j·U_j Σ_i X[b,i] ψ + Σ_d U_j^d Σ_i (X[b,i] x_i^d) ψ (two kernel forward calls with
    /// batch 9(1 + D) and f = ψ); the positions get −U_j Σ_i C_ij ψ + Σ_j C_ij ψ U_j from the same sums, and
    /// −Σ_i C_ij χ ((x_j − x_i)·U_j)(x_j − x_i) (and its mirror) for χ = ψ'(d)/d, from one kernel backward
    /// call whose factor Σ_b X'[b,i] G'[b,j] expands (x_j − x_i)·U_j over 1 + D rank-one terms.
    /// </summary>
    public (double[] Gx, double[] Gm, double[] Gs, double[] Ga) Backward(double[] u)
    {
        int n = N, dim = Dim, bb = B * (1 + dim);
        var xu = new double[n];
        for (int j = 0; j < n; j++)
            for (int d = 0; d < dim; d++) xu[j] += _x[j * dim + d] * u[j * dim + d];
        // sources j → targets i: rows [G·(x·U); G·U^d]
        var wg = new double[bb * n];
        var wx = new double[bb * n];
        for (int b = 0; b < B; b++)
            for (int j = 0; j < n; j++)
            {
                double gv = _gg[b * n + j], xv = _xg[b * n + j];
                wg[b * n + j] = gv * xu[j];
                wx[b * n + j] = xv;
                for (int d = 0; d < dim; d++)
                {
                    wg[((1 + d) * B + b) * n + j] = gv * u[j * dim + d];
                    wx[((1 + d) * B + b) * n + j] = xv * _x[j * dim + d];
                }
            }
        var psi = new Psi(_spec);
        var yg = new double[bb * n]; // yg[(0,b), i] = Σ_j G x·U ψ ; yg[(1+d,b), i] = Σ_j G U^d ψ
        var yx = new double[bb * n]; // yx[(0,b), j] = Σ_i X ψ ; yx[(1+d,b), j] = Σ_i X x^d ψ
        PairwiseTiles.Forward(psi, wg, _x, _x, ReadOnlySpan<double>.Empty, yg, bb, n, n, dim);
        PairwiseTiles.Forward(psi, wx, _x, _x, ReadOnlySpan<double>.Empty, yx, bb, n, n, dim);
        var dX = new double[B * n];
        var dG = new double[B * n];
        var gx = new double[n * dim];
        for (int b = 0; b < B; b++)
            for (int i = 0; i < n; i++)
            {
                double sx = -yg[b * n + i], sg = -xu[i] * yx[b * n + i];
                for (int d = 0; d < dim; d++)
                {
                    sx += _x[i * dim + d] * yg[((1 + d) * B + b) * n + i];
                    sg += u[i * dim + d] * yx[((1 + d) * B + b) * n + i];
                    // explicit ψ terms: as source i: +X[b,i] Σ_j G U ψ; as target i: −U_i G[b,i] Σ_j X ψ
                    gx[i * dim + d] += _xg[b * n + i] * yg[((1 + d) * B + b) * n + i] - u[i * dim + d] * _gg[b * n + i] * yx[b * n + i];
                }
                dX[b * n + i] = sx;
                dG[b * n + i] = sg;
            }
        // χ terms: C'_ij = Σ X'[b,i] G'[b,j], X' = [X; X x^d], G' = [G x·U; −G U^d]
        var xp = wx;
        var gp = new double[bb * n];
        for (int b = 0; b < B; b++)
            for (int j = 0; j < n; j++)
            {
                gp[b * n + j] = _gg[b * n + j] * xu[j];
                for (int d = 0; d < dim; d++) gp[((1 + d) * B + b) * n + j] = -_gg[b * n + j] * u[j * dim + d];
            }
        var gps = new double[n * dim];
        var gqs = new double[n * dim];
        // gq_j = Σ_i C' χ (x_j − x_i), gp_i = Σ_j C' χ (x_i − x_j); L ∋ −Σ C' ψ... ⇒ ∂/∂x_j −gq_j, ∂/∂x_i −gp_i
        PairwiseTiles.Backward(new Chi(_spec), xp, _x, _x, gp, Span<double>.Empty, gps, gqs, bb, n, n, dim);
        for (int i = 0; i < n * dim; i++) gx[i] -= gps[i] + gqs[i];
        var gm = new double[n];
        var gs = new double[n * K];
        var ga = new double[n * K];
        for (int i = 0; i < n; i++)
        {
            if (_alive is not null && !_alive[i]) continue; // a dead particle's factors are constant zeros
            int kd = _kinds[i];
            for (int k = 0; k < K; k++)
            {
                double dx = dX[(kd * K + k) * n + i];
                gm[i] += dx * _a[i * K + k];
                ga[i * K + k] = dx * _m[i];
                double dg = dG[(k * K + kd) * n + i];
                gm[i] += dg * (1 - _s[i * K + k]);
                gs[i * K + k] = -dg * _m[i];
            }
        }
        return (gx, gm, gs, ga);
    }

    /// <summary>g(r) and g'(r) lane-wise for the softened distance r.</summary>
    private static (Vector256<double> G, Vector256<double> DG) Radial(in ForceSpec spec, Vector256<double> r)
    {
        var one = Vector256<double>.One;
        switch (spec.Law)
        {
            case ForceLaw.NewtonianGravity:
            {
                var inv = one / r;
                return (inv * inv, Vector256.Create(-2.0) * inv * inv * inv);
            }
            case ForceLaw.ThresholdGravity:
            {
                var inv = one / r;
                var inside = Vector256.LessThan(r, Vector256.Create(spec.Threshold));
                return (inside & (inv * inv), inside & (Vector256.Create(-2.0) * inv * inv * inv));
            }
            default:
            {
                // 1 − tanh r = 2 / (e^{2r} + 1) for r ≥ 0 (→ 0 without overflow trouble)
                var omt = Vector256.Create(2.0) / (Vector256.Exp(r + r) + one);
                var k = Vector256.Create(spec.K);
                return (k * omt, -k * omt * (Vector256.Create(2.0) - omt));
            }
        }
    }

    private static Vector256<double> Soft(in ForceSpec spec, Vector256<double> d) =>
        Vector256.Sqrt(d * d + Vector256.Create(spec.Softening * spec.Softening));

    /// <summary>Value ψ(d) = g(r)/r (0 at d = 0); Derivative ψ(d)·d, so that the kernels' f'(d)/d is ψ.</summary>
    private readonly struct Psi(ForceSpec spec) : IRadialFunction<double>
    {
        private readonly ForceSpec _spec = spec;

        public Vector256<double> Value(Vector256<double> d)
        {
            var r = Soft(_spec, d);
            var v = Radial(_spec, r).G / r;
            return Vector256.ConditionalSelect(Vector256.Equals(d, Vector256<double>.Zero), Vector256<double>.Zero, v);
        }

        public Vector256<double> Derivative(Vector256<double> d)
        {
            var r = Soft(_spec, d);
            return Radial(_spec, r).G / r * d;
        }
    }

    /// <summary>Derivative χ(d)·d with χ = ψ'(d)/d = (g'(r)/r − g(r)/r²)/r; Value unused (0).</summary>
    private readonly struct Chi(ForceSpec spec) : IRadialFunction<double>
    {
        private readonly ForceSpec _spec = spec;

        public Vector256<double> Value(Vector256<double> d) => Vector256<double>.Zero;

        public Vector256<double> Derivative(Vector256<double> d)
        {
            var r = Soft(_spec, d);
            var (g, dg) = Radial(_spec, r);
            return (dg / r - g / (r * r)) / r * d;
        }
    }
}
