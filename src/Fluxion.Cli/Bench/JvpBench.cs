using Fluxion.Nn;

namespace Fluxion.Cli.Bench;

/// <summary>
/// Forward-mode costs on a 3-layer MLP (784-512-256-10, batch 128, ReLU, cross-entropy): the primal
/// forward, a JVP of the loss along one random parameter direction, a VJP (forward + backward for all
/// parameters) and a Hessian-vector product (forward over reverse), each also as a ratio to the primal.
/// </summary>
public static class JvpBench
{
    /// <summary>The workloads.</summary>
    public static IEnumerable<Workload> Workloads()
    {
        Generator.ManualSeed(0);
        var model = new Sequential(new Linear(784, 512), new ReLU(), new Linear(512, 256), new ReLU(), new Linear(256, 10));
        var ps = model.Parameters().ToArray();
        var x = Tensor.Randn(128, 784);
        var y = Tensor.RandInt(0, 10, [128]);
        var dirs = ps.Select(p => Tensor.Randn(p.ShapeArray)).ToArray();

        // the loss as a function of the parameters, evaluated with the given parameter tensors
        Tensor Loss(Tensor[] w)
        {
            var h = (x.MatMul(w[0].T) + w[1]).Relu();
            h = (h.MatMul(w[2].T) + w[3]).Relu();
            return Losses.CrossEntropy(h.MatMul(w[4].T) + w[5], y);
        }

        static Dictionary<string, object> Ratio(IReadOnlyDictionary<string, BenchResult> r, string name) =>
            new() { ["ratio_to_primal"] = Math.Round(r[name].MedianMs / r["jvp/primal"].MedianMs, 3) };

        yield return new Workload("jvp/primal", () =>
        {
            using (Autograd.NoGrad()) Loss(ps);
        });
        yield return new Workload("jvp/jvp", () =>
        {
            using (Autograd.NoGrad()) Functional.Jvp(Loss, ps, dirs);
        }, r => Ratio(r, "jvp/jvp"));
        yield return new Workload("jvp/vjp", () =>
        {
            Autograd.Grad([Loss(ps)], ps);
        }, r => Ratio(r, "jvp/vjp"));
        yield return new Workload("jvp/hvp", () =>
        {
            Functional.Hvp(Loss, ps, dirs);
        }, r => Ratio(r, "jvp/hvp"));
    }
}
