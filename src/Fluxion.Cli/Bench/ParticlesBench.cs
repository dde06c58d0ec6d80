using Fluxion.Physics;

namespace Fluxion.Cli.Bench;

/// <summary>
/// The differentiable particle simulation (<see cref="ParticleSimulation"/>), forward plus backward, float32,
/// 2-D: 784 marbles, 8 nodes and 10 eaters (802 particles), Newtonian gravity with softening 0.1, velocity
/// Verlet, h = 0.01; loss Σ final positions, gradients for the initial positions, masses and both multiplier
/// tensors. "particles/steps_10" and "particles/steps_100" use the checkpointed <see cref="ParticleSimulation.Run"/>
/// (O(√T) saved states). Each reports its peak extra tensor memory (<see cref="MemoryTracker.Measure(Action)"/>
/// over one extra run: "peak_bytes").
/// </summary>
public static class ParticlesBench
{
    /// <summary>The workloads (10 and 100 steps).</summary>
    public static IEnumerable<Workload> Workloads()
    {
        const int marbles = 784, nodes = 8, eaters = 10;
        int n = marbles + nodes + eaters;
        var kinds = Enumerable.Repeat(ParticleKind.Marble, marbles).Concat(Enumerable.Repeat(ParticleKind.Node, nodes))
            .Concat(Enumerable.Repeat(ParticleKind.Eater, eaters)).ToArray();
        var radius = Enumerable.Repeat(0.02, n).ToArray();
        var sim = new ParticleSimulation(kinds, 2, 0.01, new ForceSpec(ForceLaw.NewtonianGravity, Softening: 0.1), Integrator.VelocityVerlet, eaterRadius: radius);
        var g = new Generator(0);
        var x = Tensor.Uniform([n, 2], -1, 1, DType.Float32, g).RequiresGrad_();
        var v = Tensor.Zeros([n, 2], DType.Float32);
        var m = Tensor.Uniform([n], 0.5 / n, 1.5 / n, DType.Float32, g).RequiresGrad_();
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
                new Dictionary<string, object> { ["peak_bytes"] = MemoryTracker.Measure(() => Step(steps)).PeakBytes });
        }
    }
}
