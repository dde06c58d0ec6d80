namespace Fluxion.Physics;

/// <summary>The kind of a particle; it selects the stiffness and attraction multipliers that apply to a pair.</summary>
public enum ParticleKind
{
    /// <summary>A marble: a moving mass that eaters remove.</summary>
    Marble = 0,
    /// <summary>A node: a (usually trainable) mass that shapes the field.</summary>
    Node = 1,
    /// <summary>An eater: removes and counts the marbles that come within its radius.</summary>
    Eater = 2,
}

/// <summary>The radial law f(m_i, m_j, r) of the pairwise force magnitude.</summary>
public enum ForceLaw
{
    /// <summary>m_i m_j / r².</summary>
    NewtonianGravity,
    /// <summary>m_i m_j / r² for r &lt; threshold, 0 beyond.</summary>
    ThresholdGravity,
    /// <summary>m_i m_j (1 − |tanh r|) k.</summary>
    Gratan,
}

/// <summary>
/// A force law with its constants. The distance is softened: r = √(‖x_j − x_i‖² + ε²) with
/// ε = <see cref="Softening"/>, so coincident particles never divide by zero (with ε = 0 a coincident pair
/// simply contributes no force, as its direction is undefined). Nothing produces NaN.
/// </summary>
public readonly record struct ForceSpec(ForceLaw Law = ForceLaw.NewtonianGravity, double Threshold = double.PositiveInfinity, double K = 1.0, double Softening = 1e-3);

/// <summary>
/// Fused pairwise forces F_i = Σ_{j≠i} (1 − s[i, kind_j]) · a[j, kind_i] · m_i m_j g(r_ij) · (x_j − x_i) / r_ij
/// as a registry entry: O(n²) work and O(n) memory (no n×n tensor is formed); the backward pass recomputes
/// every pair. Inputs x [n, D], m [n], s [n, K], a [n, K]; dead particles (alive[i] = false) neither exert
/// nor receive force. Forward, backward and JVP run on the tiled kernels of <c>ParticlePairs</c> (see
/// <see cref="TiledForces"/>); their results are computed with raw arrays, so differentiating them again
/// raises (once differentiable). A scalar pair-loop reference lives in the tests.
/// </summary>
[OpTable]
internal static class PairForces
{
    /// <summary>The system's fixed data: kinds, liveness and the force law.</summary>
    private sealed record System(int[] Kinds, bool[]? Alive, ForceSpec Spec);

    internal static readonly OpDef Op = new("PairForces", OpFamily.Fused)
    {
        VjpAll = (in OpCtx c, Tensor[] g, bool[] needs) => Backward(c, g[0], needs),
        Jvp = (in OpCtx c, Tensor?[] t) => Tangent(c, t),
        Saves = 0b1111, SecondOrder = false,
        Doc = "pairwise particle forces with per-kind multipliers on fused O(n) memory kernels",
        Samples = () =>
        {
            int n = 5;
            var kinds = new[] { 0, 1, 2, 0, 1 };
            Tensor[] Inputs(int seed) =>
            [
                OpSamples.Make(OpSamples.Domain.Real, seed, n, 2), OpSamples.Make(OpSamples.Domain.Positive, seed + 1, n),
                OpSamples.Make(OpSamples.Domain.UnitInterval, seed + 2, n, 3), OpSamples.Make(OpSamples.Domain.Positive, seed + 3, n, 3),
            ];
            return
            [
                new OpSample("gravity", Inputs(1), x => Apply(kinds, null, new ForceSpec(Softening: 0.2), x[0], x[1], x[2], x[3]), SecondOrder: false),
                new OpSample("gratan, dead particle", Inputs(5), x => Apply(kinds, [true, true, false, true, true], new ForceSpec(ForceLaw.Gratan, K: 1.5, Softening: 0.1), x[0], x[1], x[2], x[3]), SecondOrder: false),
            ];
        },
    };

    /// <summary>The forces [n, D] of the system (x, m, s, a), recorded as one node.</summary>
    public static Tensor Apply(int[] kinds, bool[]? alive, ForceSpec spec, Tensor x, Tensor m, Tensor s, Tensor a)
    {
        Tensor f;
        using (Autograd.NoGrad()) f = new TiledForces(kinds, alive, spec, x, m, s, a).Forces();
        return Fluxion.Op.Record(Op, f, [x, m, s, a], new System(kinds, alive, spec));
    }

    /// <inheritdoc cref="Apply(int[], bool[], ForceSpec, Tensor, Tensor, Tensor, Tensor)"/>
    public static Tensor Apply(int[] kinds, bool[]? alive, ForceSpec spec, Tensor[] xmsa) => Apply(kinds, alive, spec, xmsa[0], xmsa[1], xmsa[2], xmsa[3]);

    private static string Again(string what) =>
        $"PairForces is OnceDifferentiable: the {what} of the fused pair forces is computed by fused kernels and cannot be differentiated again " +
        "(double backward, reverse over forward, or nested forward levels). Build the forces from tensor ops for higher-order derivatives.";

    private static Tensor?[] Backward(in OpCtx c, Tensor g, bool[] needs)
    {
        var sys = c.A<System>();
        Tensor[] xmsa = [c.X(0), c.X(1), c.X(2), c.X(3)];
        (Tensor, Tensor, Tensor, Tensor) gs;
        using (Autograd.NoGrad()) gs = new TiledForces(sys.Kinds, sys.Alive, sys.Spec, xmsa[0], xmsa[1], xmsa[2], xmsa[3]).Backward(g);
        Tensor[] all = [gs.Item1, gs.Item2, gs.Item3, gs.Item4];
        var r = new Tensor?[4];
        for (int i = 0; i < 4; i++)
        {
            if (!needs[i]) continue;
            var gi = all[i].DType == xmsa[i].DType ? all[i] : all[i].To(xmsa[i].DType);
            r[i] = GradMode.Enabled ? GraphOps.Guarded(gi, [g, .. xmsa], Again("gradient")) : gi;
        }
        return r;
    }

    private static Tensor? Tangent(in OpCtx c, Tensor?[] t)
    {
        if (t.All(v => v is null)) return null;
        var sys = c.A<System>();
        Tensor[] xmsa = [c.X(0), c.X(1), c.X(2), c.X(3)];
        Tensor tf;
        using (Autograd.NoGrad()) tf = new TiledForces(sys.Kinds, sys.Alive, sys.Spec, xmsa[0], xmsa[1], xmsa[2], xmsa[3]).Jvp(t[0], t[1], t[2], t[3]);
        return GraphOps.Guarded(tf, [.. xmsa, .. t.OfType<Tensor>()], Again("forward-mode derivative (JVP)"));
    }
}
