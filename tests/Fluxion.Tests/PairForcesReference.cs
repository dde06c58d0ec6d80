using Fluxion.Physics;

namespace Fluxion.Tests;

/// <summary>
/// The scalar reference of the fused pair forces (<see cref="PairForces"/>): plain pair loops in float64, as a
/// user-declared custom function. Pairwise forces F_i = Σ_{j≠i} (1 − s[i, kind_j]) · a[j, kind_i] · m_i m_j g(r_ij) · (x_j − x_i) / r_ij
/// as one graph node: O(n²) work and O(n) memory (no n×n tensor is formed); the backward pass recomputes
/// every pair. Inputs x [n, D], m [n], s [n, K], a [n, K]; dead particles (alive[i] = false) neither exert
/// nor receive force. The backward pass is computed with raw arrays, hence once differentiable.
/// </summary>
public sealed class ScalarPairForces : CustomFunction
{
    private readonly int[] _kinds;
    private readonly bool[]? _alive;
    private readonly ForceSpec _spec;

    /// <summary>The reference for the given system.</summary>
    public ScalarPairForces(int[] kinds, bool[]? alive, ForceSpec spec)
    {
        _kinds = kinds;
        _alive = alive;
        _spec = spec;
        OnceDifferentiable = true;
    }

    /// <inheritdoc/>
    public override string Name => "ScalarPairForces";

    private bool Alive(int i) => _alive is null || _alive[i];

    /// <summary>g(r) (the law without the masses) and g'(r), written by hand for the reference (the fused kernels take
    /// theirs from Physics/TiledForces.cs's laws).</summary>
    private static (double G, double DG) Radial(ForceSpec spec, double r) => spec.Law switch
    {
        ForceLaw.NewtonianGravity => (1 / (r * r), -2 / (r * r * r)),
        ForceLaw.ThresholdGravity => r < spec.Threshold ? (1 / (r * r), -2 / (r * r * r)) : (0, 0),
        _ => (spec.K * (1 - Math.Tanh(r)), -spec.K * (1 - Math.Tanh(r) * Math.Tanh(r))),
    };

    /// <summary>Visits every live ordered pair (i, j ≠ i) with e = x_j − x_i, r (softened), φ = g/r and φ'.</summary>
    private void ForEachPair(double[] x, int n, int dim, double[] e, Action<int, int, double, double, double> body)
    {
        double eps2 = _spec.Softening * _spec.Softening;
        for (int i = 0; i < n; i++)
        {
            if (!Alive(i)) continue;
            for (int j = 0; j < n; j++)
            {
                if (j == i || !Alive(j)) continue;
                double r2 = eps2;
                for (int d = 0; d < dim; d++)
                {
                    e[d] = x[j * dim + d] - x[i * dim + d];
                    r2 += e[d] * e[d];
                }
                if (r2 == 0) continue; // coincident and unsoftened: no defined direction, no force
                double r = Math.Sqrt(r2);
                var (g, dg) = Radial(_spec, r);
                double phi = g / r, dphi = dg / r - g / r2;
                body(i, j, r, phi, dphi);
            }
        }
    }

    /// <inheritdoc/>
    public override Tensor[] Forward(FunctionContext ctx, Tensor[] inputs)
    {
        var (xt, mt, st, at) = (inputs[0], inputs[1], inputs[2], inputs[3]);
        ctx.SaveForBackward(xt, mt, st, at);
        int n = xt.Shape[0], dim = xt.Shape[1], nk = st.Shape[1];
        double[] x = xt.ToDoubleArray(), m = mt.ToDoubleArray(), s = st.ToDoubleArray(), a = at.ToDoubleArray();
        var f = new double[n * dim];
        var e = new double[dim];
        ForEachPair(x, n, dim, e, (i, j, r, phi, dphi) =>
        {
            double c = (1 - s[i * nk + _kinds[j]]) * a[j * nk + _kinds[i]] * m[i] * m[j] * phi;
            for (int d = 0; d < dim; d++) f[i * dim + d] += c * e[d];
        });
        return [Tensor.FromDoubles(f, [n, dim], xt.DType)];
    }

    /// <summary>
    /// Forward mode: for tangents (tx, tm, ts, ta) (null = 0) the force tangent
    /// dF_i = Σ_j dc_ij φ e_ij + c_ij φ de_ij + c_ij φ'(r) (e_ij·de_ij / r) e_ij with de_ij = tx_j − tx_i and
    /// dc_ij = m_i m_j (−ts[i, kind_j] a[j, kind_i] + (1 − s[i, kind_j]) ta[j, kind_i]) + (1 − s) a (tm_i m_j + m_i tm_j).
    /// </summary>
    public override Tensor?[] Jvp(FunctionContext ctx, Tensor?[] tangents)
    {
        var sv = ctx.SavedTensors;
        var (xt, mt, st, at) = (sv[0], sv[1], sv[2], sv[3]);
        if (tangents.All(t => t is null)) return [null];
        int n = xt.Shape[0], dim = xt.Shape[1], nk = st.Shape[1];
        double[] x = xt.ToDoubleArray(), m = mt.ToDoubleArray(), s = st.ToDoubleArray(), a = at.ToDoubleArray();
        double[] Or0(Tensor? t, int len) => t is null ? new double[len] : t.ToDoubleArray();
        double[] tx = Or0(tangents[0], n * dim), tm = Or0(tangents[1], n), ts = Or0(tangents[2], n * nk), ta = Or0(tangents[3], n * nk);
        var f = new double[n * dim];
        var e = new double[dim];
        ForEachPair(x, n, dim, e, (i, j, r, phi, dphi) =>
        {
            int si = i * nk + _kinds[j], aj = j * nk + _kinds[i];
            double w = (1 - s[si]) * a[aj], mm = m[i] * m[j];
            double dc = mm * (-ts[si] * a[aj] + (1 - s[si]) * ta[aj]) + w * (tm[i] * m[j] + m[i] * tm[j]);
            double ede = 0;
            for (int d = 0; d < dim; d++) ede += e[d] * (tx[j * dim + d] - tx[i * dim + d]);
            double c = w * mm, ce = dc * phi + c * dphi * ede / r;
            for (int d = 0; d < dim; d++) f[i * dim + d] += ce * e[d] + c * phi * (tx[j * dim + d] - tx[i * dim + d]);
        });
        return [Tensor.FromDoubles(f, [n, dim], xt.DType)];
    }

    /// <inheritdoc/>
    public override Tensor?[] Backward(FunctionContext ctx, Tensor[] gradOutputs)
    {
        var sv = ctx.SavedTensors;
        var (xt, mt, st, at) = (sv[0], sv[1], sv[2], sv[3]);
        int n = xt.Shape[0], dim = xt.Shape[1], nk = st.Shape[1];
        var nd = ctx.NeedsInputGrad;
        double[] u = gradOutputs[0].ToDoubleArray();
        double[] x = xt.ToDoubleArray(), m = mt.ToDoubleArray(), s = st.ToDoubleArray(), a = at.ToDoubleArray();
        double[] gx = new double[n * dim], gm = new double[n], gs = new double[n * nk], ga = new double[n * nk];
        var e = new double[dim];
        ForEachPair(x, n, dim, e, (i, j, r, phi, dphi) =>
        {
            double ue = 0;
            for (int d = 0; d < dim; d++) ue += u[i * dim + d] * e[d];
            int si = i * nk + _kinds[j], aj = j * nk + _kinds[i];
            double w = (1 - s[si]) * a[aj], mm = m[i] * m[j], wm = w * mm;
            // ∂(U_i·F_i)/∂e = w m_i m_j (φ U_i + φ' (U_i·e) e / r); e = x_j − x_i
            for (int d = 0; d < dim; d++)
            {
                double ge = wm * (phi * u[i * dim + d] + dphi * ue * e[d] / r);
                gx[j * dim + d] += ge;
                gx[i * dim + d] -= ge;
            }
            double core = phi * ue;
            gm[i] += w * m[j] * core;
            gm[j] += w * m[i] * core;
            gs[si] -= a[aj] * mm * core;
            ga[aj] += (1 - s[si]) * mm * core;
        });
        return
        [
            nd[0] ? Tensor.FromDoubles(gx, [n, dim], xt.DType) : null,
            nd[1] ? Tensor.FromDoubles(gm, [n], mt.DType) : null,
            nd[2] ? Tensor.FromDoubles(gs, [n, nk], st.DType) : null,
            nd[3] ? Tensor.FromDoubles(ga, [n, nk], at.DType) : null,
        ];
    }
}
