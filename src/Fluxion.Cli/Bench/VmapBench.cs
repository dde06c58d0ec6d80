using Fluxion.Nn;

namespace Fluxion.Cli.Bench;

/// <summary>
/// Vmap (issue 18): per-sample gradients of the 784-512-256-10 ReLU MLP for a batch of 128 — <c>Vmap(Grad(loss))</c>
/// against a loop of 128 single-example backward passes — and the Jacobians of a 256→256 tanh MLP (two layers)
/// through vmap against the implementations without it: JacRev as one batched backward against one backward per
/// output row, JacFwd (Vmap over Jvp) against vector forward mode.
/// </summary>
public static class VmapBench
{
    /// <summary>The workloads.</summary>
    public static IEnumerable<Workload> Workloads()
    {
        Generator.ManualSeed(0);
        var model = new Sequential(new Linear(784, 512), new ReLU(), new Linear(512, 256), new ReLU(), new Linear(256, 10));
        var ps = model.Parameters().ToArray();
        var x = Tensor.Randn(128, 784);
        var y = Tensor.RandInt(0, 10, [128]);

        // the loss of one example (x [784], y 0-d) as a function of the parameters
        static Tensor Loss(Tensor[] w, Tensor xi, Tensor yi)
        {
            var h = Tensor.Linear(xi, w[0], w[1]).Relu();
            h = Tensor.Linear(h, w[2], w[3]).Relu();
            return Losses.CrossEntropy(Tensor.Linear(h, w[4], w[5]).Unsqueeze(0), yi.Unsqueeze(0));
        }
        Tensor[] PerExample(Tensor[] a) => Functional.Grad((Tensor[] w) => Loss(w, a[0], a[1]))(ps);
        var perSample = Functional.Vmap(PerExample, [0, 0]);

        yield return new Workload("vmap/per_sample_loop", () =>
        {
            // like for like: the per-sample gradients end up stacked, [128, ...parameter shape], as Vmap returns them
            var each = new Tensor[128][];
            for (int b = 0; b < 128; b++) each[b] = PerExample([x[b], y[b]]);
            for (int k = 0; k < ps.Length; k++) Tensor.Stack([.. each.Select(g => g[k])], 0);
        });
        yield return new Workload("vmap/per_sample_grads", () => perSample([x, y]), r =>
        {
            perSample([x, y]); // the runner interleaves the suite's workloads: the last vmap plan must be this one's
            return new Dictionary<string, object>
            {
                ["ratio_to_loop"] = Math.Round(r["vmap/per_sample_grads"].MedianMs / r["vmap/per_sample_loop"].MedianMs, 3),
                ["batched"] = Functional.LastVmapPlan?.Batched ?? false,
            };
        });

        var w1 = Tensor.Randn(256, 256) * (1 / 16.0);
        var w2 = Tensor.Randn(256, 256) * (1 / 16.0);
        var x0 = Tensor.Randn(256);
        Tensor F(Tensor v) => w2.MatMul(w1.MatMul(v).Tanh()).Tanh();
        var eyeRows = Enumerable.Range(0, 256).Select(o => Tensor.Eye(256)[o].Contiguous()).ToArray();

        yield return new Workload("vmap/jacrev_rows", () =>
        {
            // one VJP per output element (JacRev without vmap)
            var xt = x0.Detach().RequiresGrad_();
            var yv = F(xt);
            var rows = new Tensor[256];
            for (int o = 0; o < 256; o++)
                rows[o] = Autograd.Grad([yv], [xt], [eyeRows[o]], retainGraph: true)[0]!;
            Tensor.Stack(rows, 0);
        });
        yield return new Workload("vmap/jacrev", () => Functional.JacRev(F, x0), r => new Dictionary<string, object>
        {
            ["ratio_to_before"] = Math.Round(r["vmap/jacrev"].MedianMs / r["vmap/jacrev_rows"].MedianMs, 3),
        });
        var eye = Tensor.Eye(256);
        yield return new Workload("vmap/jacfwd_vector_mode", () =>
        {
            // JacFwd before vmap: the 256 basis directions as one [256, 256] vector-mode tangent
            using var level = ForwardAD.Level();
            ForwardAD.Unpack(F(ForwardAD.MakeDual(x0, eye, level)), level);
        });
        yield return new Workload("vmap/jacfwd", () => Functional.JacFwd(F, x0), r => new Dictionary<string, object>
        {
            ["ratio_to_before"] = Math.Round(r["vmap/jacfwd"].MedianMs / r["vmap/jacfwd_vector_mode"].MedianMs, 3),
        });
    }
}
