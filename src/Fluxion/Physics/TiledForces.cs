using System.Runtime.Intrinsics;
using Fluxion.Kernels;

namespace Fluxion.Physics;

/// <summary>
/// The pair forces, their gradients and their tangents on the row-block kernels of
/// <see cref="ParticlePairs"/> (Kernels/PairwiseTiles.cs: O(n²) work, O(n) memory, vectorized over the
/// sources, both cores over blocks of targets, the kinds through one-hot columns). This class only
/// converts the tensors to double arrays and picks the force law's φ(r) = g(r)/r and χ(r) = φ'(r)/r.
/// </summary>
internal sealed class TiledForces
{
    private readonly ParticlePairs _pairs;
    private readonly ForceSpec _spec;

    public int N { get; }
    public int Dim { get; }

    public TiledForces(int[] kinds, bool[]? alive, ForceSpec spec, Tensor x, Tensor m, Tensor s, Tensor a)
    {
        N = x.Shape[0];
        Dim = x.Shape[1];
        _spec = spec;
        _pairs = new ParticlePairs(x.ToDoubleArray(), m.ToDoubleArray(), s.ToDoubleArray(), a.ToDoubleArray(), kinds, alive, N, Dim,
            spec.Softening * spec.Softening);
    }

    /// <summary>The forces [n, D] (row-major).</summary>
    public double[] Forces()
    {
        var f = new double[N * Dim];
        switch (_spec.Law)
        {
            case ForceLaw.NewtonianGravity: _pairs.Forces(new Newton(double.PositiveInfinity), f); break;
            case ForceLaw.ThresholdGravity: _pairs.Forces(new Newton(_spec.Threshold), f); break;
            default: _pairs.Forces(new Gratan(_spec.K), f); break;
        }
        return f;
    }

    /// <summary>Gradients of L = Σ_i U_i·F_i for x, m, s, a (see <see cref="ParticlePairs.Backward"/>).</summary>
    public (double[] Gx, double[] Gm, double[] Gs, double[] Ga) Backward(double[] u)
    {
        int k = ParticlePairs.K;
        double[] gx = new double[N * Dim], gm = new double[N], gs = new double[N * k], ga = new double[N * k];
        switch (_spec.Law)
        {
            case ForceLaw.NewtonianGravity: _pairs.Backward(new Newton(double.PositiveInfinity), u, gx, gm, gs, ga); break;
            case ForceLaw.ThresholdGravity: _pairs.Backward(new Newton(_spec.Threshold), u, gx, gm, gs, ga); break;
            default: _pairs.Backward(new Gratan(_spec.K), u, gx, gm, gs, ga); break;
        }
        return (gx, gm, gs, ga);
    }

    /// <summary>The forces' tangent for tangents of x, m, s, a (null = 0).</summary>
    public double[] Jvp(double[]? tx, double[]? tm, double[]? ts, double[]? ta)
    {
        var tf = new double[N * Dim];
        switch (_spec.Law)
        {
            case ForceLaw.NewtonianGravity: _pairs.Jvp(new Newton(double.PositiveInfinity), tx, tm, ts, ta, tf); break;
            case ForceLaw.ThresholdGravity: _pairs.Jvp(new Newton(_spec.Threshold), tx, tm, ts, ta, tf); break;
            default: _pairs.Jvp(new Gratan(_spec.K), tx, tm, ts, ta, tf); break;
        }
        return tf;
    }

    /// <summary>g = 1/r² (0 for r ≥ threshold): φ = 1/r³, χ = −3/r⁵.</summary>
    private readonly struct Newton(double threshold) : IPairLaw
    {
        private readonly double _t2 = threshold * threshold;

        public void Eval(Vector256<double> r2, out Vector256<double> phi, out Vector256<double> chi)
        {
            var inv = Vector256<double>.One / Vector256.Sqrt(r2);
            var inv2 = inv * inv;
            phi = inv2 * inv;
            chi = Vector256.Create(-3.0) * phi * inv2;
            if (!double.IsPositiveInfinity(_t2))
            {
                var inside = Vector256.LessThan(r2, Vector256.Create(_t2));
                phi &= inside;
                chi &= inside;
            }
        }
    }

    /// <summary>g = k (1 − tanh r) (r ≥ 0): φ = g/r, χ = (g' − φ)/r² with g' = −k (1 − tanh² r).</summary>
    private readonly struct Gratan(double k) : IPairLaw
    {
        private readonly double _k = k;

        public void Eval(Vector256<double> r2, out Vector256<double> phi, out Vector256<double> chi)
        {
            var r = Vector256.Sqrt(r2);
            // 1 − tanh r = 2 / (e^{2r} + 1) (→ 0 without overflow trouble)
            var omt = Vector256.Create(2.0) / (Vector256.Exp(r + r) + Vector256<double>.One);
            var kv = Vector256.Create(_k);
            var g = kv * omt;
            var dg = -kv * omt * (Vector256.Create(2.0) - omt);
            phi = g / r;
            chi = (dg - phi) / r2;
        }
    }
}
