using TorchSharp;
using static TorchSharp.torch;

namespace TorchSharpBench;

/// <summary>
/// `fluxion bench particles` (src/Fluxion.Cli/Bench/ParticlesBench.cs) and bench/torch/particles.py, from the same
/// initial state: "particles/steps_10" and "particles/steps_100" (Fluxion's ParticleSimulation with dense tensor
/// ops: 784 marbles, 8 nodes, 10 eaters, per-kind stiffness and attraction multipliers, eating, gradients for the
/// positions, masses and both multiplier tensors) and "particles/dense_gravity_10" (plain dense gravity, 800
/// particles). TorchSharp 0.107 has no activation checkpointing, so every step is stored ("checkpointed": false;
/// Fluxion and PyTorch checkpoint ⌈√T⌉ segments). Extra fields loss, abs_sum and eaten check that the sides agree.
/// </summary>
public sealed class ParticlesSuite : ISuite
{
    private const int Marbles = 784, Nodes = 8, Eaters = 10, DenseN = 800;
    private const double H = 0.01, Eps = 0.1, EaterRadius = 0.02;

    private static double Frac(double t) => t - Math.Floor(t);

    /// <summary>ParticlesBench.InitialPositions: the R2 sequence mapped to [−1, 1]², in double, rounded to float32.</summary>
    public static Tensor InitialPositions(int n)
    {
        const double g = 1.32471795724474602596;
        double a1 = 1 / g, a2 = 1 / (g * g);
        var p = new float[2 * n];
        for (int i = 0; i < n; i++)
        {
            p[2 * i] = (float)(Frac(0.5 + a1 * (i + 1)) * 2 - 1);
            p[2 * i + 1] = (float)(Frac(0.5 + a2 * (i + 1)) * 2 - 1);
        }
        return torch.tensor(p, [n, 2]);
    }

    /// <summary>ParticlesBench.InitialMasses.</summary>
    public static Tensor InitialMasses(int n)
    {
        var m = new float[n];
        for (int i = 0; i < n; i++) m[i] = (float)((0.5 + Frac(0.5 + (i + 1) * 0.6180339887498949)) / n);
        return torch.tensor(m, [n]);
    }

    private sealed class Simulation
    {
        public readonly int N = Marbles + Nodes + Eaters;
        public readonly Tensor OneHot, Marble, EaterIdx;

        public Simulation()
        {
            var kinds = torch.tensor(Enumerable.Repeat(0L, Marbles).Concat(Enumerable.Repeat(1L, Nodes)).Concat(Enumerable.Repeat(2L, Eaters)).ToArray());
            OneHot = torch.nn.functional.one_hot(kinds, 3).to_type(ScalarType.Float32);
            Marble = kinds.eq(0);
            EaterIdx = torch.arange(Marbles + Nodes, N, dtype: ScalarType.Int64);
        }

        public Tensor Accel(Tensor x, Tensor m, Tensor s, Tensor a, Tensor? alive)
        {
            var d = x.unsqueeze(0) - x.unsqueeze(1);                      // d[i, j] = x_j − x_i
            var r2 = (d * d).sum(-1) + Eps * Eps;
            var stiff = s.matmul(OneHot.t());                               // s[i, kind_j]
            var attract = OneHot.matmul(a.t());                             // a[j, kind_i]
            var w = (1 - stiff) * attract * (m.unsqueeze(1) * m.unsqueeze(0)) * r2.pow(-1.5);
            if (alive is not null) w = w * (alive.unsqueeze(1) * alive.unsqueeze(0));
            var acc = (w.unsqueeze(-1) * d).sum(1) / m.abs().unsqueeze(1);
            return alive is null ? acc : acc * alive.unsqueeze(1);
        }

        public Tensor Initial(Tensor x, Tensor m, Tensor s, Tensor a)
        {
            var acc = Accel(x, m, s, a, null);
            return torch.cat([x, torch.zeros_like(x), acc, acc, torch.zeros(N, 1)], 1);
        }

        public Tensor Step(Tensor state, Tensor m, Tensor s, Tensor a)
        {
            var x = state.narrow(1, 0, 2);
            var v = state.narrow(1, 2, 2);
            var acc = state.narrow(1, 4, 2);
            var tag = state.narrow(1, 8, 1).detach();
            var alive = tag.eq(0).squeeze(1);
            var aliveF = alive.to_type(ScalarType.Float32);
            var dx = H * v + (H * H / 2) * acc;
            if (!alive.all().item<bool>()) dx = dx * aliveF.unsqueeze(1);
            var x1 = x + dx;
            var a1 = Accel(x1, m, s, a, aliveF);
            var v1 = v + (H / 2) * (acc + a1);
            // eating: a discrete decision on the values, in double as Fluxion; the first eater in index order
            var xv = x1.detach().to_type(ScalarType.Float64);
            var diff = xv.unsqueeze(1) - xv.index_select(0, EaterIdx).unsqueeze(0);
            var d2 = (diff * diff).sum(-1);
            var hit = d2.lt(EaterRadius * EaterRadius).logical_and(alive.index_select(0, EaterIdx).unsqueeze(0))
                .logical_and(Marble.logical_and(alive).unsqueeze(1));
            var eaten = hit.any(1);
            var newTag = tag;
            if (eaten.any().item<bool>())
            {
                var first = hit.to_type(ScalarType.Float32).argmax(1);
                var eater = (EaterIdx.index_select(0, first) + 1).to_type(ScalarType.Float32).unsqueeze(1);
                newTag = torch.where(eaten.unsqueeze(1), eater, tag);
            }
            return torch.cat([x1, v1, a1, acc, newTag], 1);
        }

        public Tensor Run(Tensor x, Tensor m, Tensor s, Tensor a, int steps)
        {
            var state = Initial(x, m, s, a);
            for (int t = 0; t < steps; t++) state = Step(state, m, s, a);
            return state;
        }
    }

    private static Tensor DenseGravity(Tensor x0, Tensor m, int steps)
    {
        Tensor Accel(Tensor x)
        {
            var d = x.unsqueeze(0) - x.unsqueeze(1);
            var r2 = (d * d).sum(-1) + Eps * Eps;
            var w = m.unsqueeze(0) * r2.pow(-1.5);
            return (w.unsqueeze(-1) * d).sum(1);
        }
        var xt = x0;
        var vt = torch.zeros_like(x0);
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

    /// <inheritdoc/>
    public IEnumerable<Workload> Workloads()
    {
        var sim = new Simulation();
        int n = sim.N;
        var x = InitialPositions(n).requires_grad_();
        var m = InitialMasses(n).requires_grad_();
        var s = torch.zeros(n, 3).requires_grad_();
        var a = torch.ones(n, 3).requires_grad_();
        var ps = new[] { x, m, s, a };
        foreach (int steps in new[] { 10, 100 })
        {
            yield return new Workload($"particles/steps_{steps}", () =>
            {
                sim.Run(x, m, s, a, steps).narrow(1, 0, 2).sum().backward();
                foreach (var p in ps) p.grad = null;
            }, _ =>
            {
                using var scope = torch.NewDisposeScope();
                using var noGrad = torch.no_grad();
                var final = sim.Run(x, m, s, a, steps);
                var pos = final.narrow(1, 0, 2);
                return new()
                {
                    ["loss"] = (double)pos.sum().item<float>(),
                    ["abs_sum"] = (double)pos.abs().sum().item<float>(),
                    ["eaten"] = final.select(1, 8).ne(0).sum().item<long>(),
                    ["checkpointed"] = false,
                };
            });
        }
        var xd = InitialPositions(DenseN).requires_grad_();
        var md = InitialMasses(DenseN).requires_grad_();
        yield return new Workload("particles/dense_gravity_10", () =>
        {
            DenseGravity(xd, md, 10).sum().backward();
            xd.grad = null;
            md.grad = null;
        }, _ =>
        {
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            var final = DenseGravity(xd, md, 10);
            return new() { ["loss"] = (double)final.sum().item<float>(), ["abs_sum"] = (double)final.abs().sum().item<float>() };
        });
    }
}
