using Fluxion.Physics;

namespace Fluxion.Cli.Bench;

/// <summary>
/// The differentiable particle simulation, forward plus backward, float32, 2-D, from an initial state every side
/// computes the same way (<see cref="InitialPositions"/>, <see cref="InitialMasses"/>), so bench/torch/particles.py
/// and bench/torchsharp run exactly these workloads and print the same <c>loss</c>:
/// <list type="bullet">
/// <item>"particles/steps_10" and "particles/steps_100": <see cref="ParticleSimulation"/> with 784 marbles, 8 nodes
/// and 10 eaters (802 particles; eater radius 0.02), Newtonian gravity with softening 0.1, velocity Verlet, h = 0.01,
/// stiffness multipliers s = 0 and attraction multipliers a = 1 (trainable), at rest; loss Σ final positions,
/// gradients for the initial positions, the masses and both multiplier tensors; the checkpointed
/// <see cref="ParticleSimulation.Run"/> (⌈√T⌉ segments, the last one stored).</item>
/// <item>"particles/dense_gravity_10": plain dense gravity with tensor ops (the workload bench/torch/particles.py
/// ran before): 800 particles, all pairs as [n, n, 2] differences, a_i = Σ_j m_j (x_j − x_i) / (r² + ε²)^{3/2},
/// ε = 0.1, velocity Verlet h = 0.01, 10 steps, every step stored; loss Σ final positions, gradients for the
/// initial positions and the masses.</item>
/// </list>
/// Extra fields: <c>loss</c> (Σ final positions), <c>abs_sum</c> (Σ |final positions|) and, for the simulation,
/// <c>eaten</c> (marbles eaten), computed once from the initial state: the check that the sides compute the same.
/// </summary>
public static class ParticlesBench
{
    /// <summary>Marbles, nodes and eaters of the simulation workloads.</summary>
    public const int Marbles = 784, Nodes = 8, Eaters = 10;

    /// <summary>Particles of the dense-gravity workload.</summary>
    public const int DenseParticles = 800;

    /// <summary>Time step, softening and eater radius.</summary>
    public const double H = 0.01, Softening = 0.1, EaterRadius = 0.02;

    /// <summary>Initial positions [n, 2] in [−1, 1]²: the R2 low-discrepancy sequence (x_i = frac(0.5 + (i + 1)/g),
    /// y_i = frac(0.5 + (i + 1)/g²), g the plastic number), mapped by 2t − 1, computed in double and rounded to float32.</summary>
    public static float[] InitialPositions(int n)
    {
        const double g = 1.32471795724474602596;
        double a1 = 1 / g, a2 = 1 / (g * g);
        var p = new float[2 * n];
        for (int i = 0; i < n; i++)
        {
            p[2 * i] = (float)(Frac(0.5 + a1 * (i + 1)) * 2 - 1);
            p[2 * i + 1] = (float)(Frac(0.5 + a2 * (i + 1)) * 2 - 1);
        }
        return p;
    }

    /// <summary>Initial masses [n] in [0.5/n, 1.5/n): m_i = (0.5 + frac(0.5 + (i + 1) · 0.6180339887498949)) / n, rounded to float32.</summary>
    public static float[] InitialMasses(int n)
    {
        var m = new float[n];
        for (int i = 0; i < n; i++) m[i] = (float)((0.5 + Frac(0.5 + (i + 1) * 0.6180339887498949)) / n);
        return m;
    }

    private static double Frac(double t) => t - Math.Floor(t);

    /// <summary>The workloads.</summary>
    public static IEnumerable<Workload> Workloads()
    {
        int n = Marbles + Nodes + Eaters;
        var kinds = Enumerable.Repeat(ParticleKind.Marble, Marbles).Concat(Enumerable.Repeat(ParticleKind.Node, Nodes))
            .Concat(Enumerable.Repeat(ParticleKind.Eater, Eaters)).ToArray();
        var radius = Enumerable.Repeat(EaterRadius, n).ToArray();
        var sim = new ParticleSimulation(kinds, 2, H, new ForceSpec(ForceLaw.NewtonianGravity, Softening: Softening), Integrator.VelocityVerlet, eaterRadius: radius);
        var x = Tensor.FromArray(InitialPositions(n), n, 2).RequiresGrad_();
        var v = Tensor.Zeros([n, 2], DType.Float32);
        var m = Tensor.FromArray(InitialMasses(n), n).RequiresGrad_();
        var s = Tensor.Zeros([n, ParticleSimulation.KindCount], DType.Float32).RequiresGrad_();
        var a = Tensor.Ones([n, ParticleSimulation.KindCount], DType.Float32).RequiresGrad_();
        var ps = new[] { x, m, s, a };

        void Step(int steps)
        {
            sim.Positions(sim.Run(x, v, m, s, a, steps)).Sum().Backward();
            foreach (var p in ps) p.Grad = null;
        }

        foreach (int steps in new[] { 10, 100 })
        {
            yield return new Workload($"particles/steps_{steps}", () => Step(steps), _ =>
            {
                using var noGrad = Autograd.NoGrad();
                var final = sim.Run(x, v, m, s, a, steps);
                var pos = sim.Positions(final);
                return new Dictionary<string, object>
                {
                    ["loss"] = pos.Sum().Item(),
                    ["abs_sum"] = pos.Abs().Sum().Item(),
                    ["eaten"] = sim.EatenCounts(final).Sum(),
                };
            });
        }

        var xd = Tensor.FromArray(InitialPositions(DenseParticles), DenseParticles, 2).RequiresGrad_();
        var md = Tensor.FromArray(InitialMasses(DenseParticles), DenseParticles).RequiresGrad_();
        yield return new Workload("particles/dense_gravity_10", () =>
        {
            DenseGravity(xd, md, 10).Sum().Backward();
            xd.Grad = null;
            md.Grad = null;
        }, _ =>
        {
            using var noGrad = Autograd.NoGrad();
            var final = DenseGravity(xd, md, 10);
            return new Dictionary<string, object> { ["loss"] = final.Sum().Item(), ["abs_sum"] = final.Abs().Sum().Item() };
        });
    }

    /// <summary>The final positions after <paramref name="steps"/> velocity-Verlet steps of dense all-pairs gravity from rest.</summary>
    public static Tensor DenseGravity(Tensor x0, Tensor m, int steps)
    {
        Tensor Accel(Tensor x)
        {
            var d = x.Unsqueeze(0) - x.Unsqueeze(1);                 // d[i, j] = x_j − x_i
            var r2 = (d * d).Sum(2) + Softening * Softening;
            var w = m.Unsqueeze(0) * r2.Pow(-1.5);                   // the diagonal has d = 0
            return (w.Unsqueeze(2) * d).Sum(1);
        }
        var xt = x0;
        var vt = Tensor.ZerosLike(x0);
        var at = Accel(xt);
        for (int t = 0; t < steps; t++)
        {
            xt = xt + H * vt + 0.5 * H * H * at;
            var a1 = Accel(xt);
            vt = vt + 0.5 * H * (at + a1);
            at = a1;
        }
        return xt;
    }
}
