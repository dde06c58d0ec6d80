using Fluxion.Nn;
using Fluxion.Optim;
using MM = Fluxion.Nn.MixedMode;

namespace Fluxion.Cli.Bench;

/// <summary>
/// One training step (zero grad, forward, loss, gradients, SGD step) in three differentiation modes, on
/// the MLP 784-512-256-10 (ReLU, batch 128) and on a deep narrow network (32 tanh layers of width 64 and
/// a linear head to 10 classes, batch 128), all with cross-entropy:
/// <list type="bullet">
/// <item>reverse: backpropagation (stores the activations of every layer);</item>
/// <item>mixed-exact: reverse-mode body, then Rev2Fwd and the head in exact forward mode with a
/// forward-mode loss (same gradients; the head's Jacobian wrt its parameters and input is carried);</item>
/// <item>forward-gradient: every layer in forward mode with one shared Gaussian direction and a
/// forward-mode loss; no backward pass, no stored activations (an unbiased gradient estimate).</item>
/// </list>
/// The runner reports each step's peak tensor memory ("peak_bytes"); each workload also its time and memory
/// relative to reverse mode.
/// </summary>
public static class MixedBench
{
    /// <summary>Batch size of every workload.</summary>
    public const int Batch = 128;

    /// <summary>Depth and width of the deep narrow network.</summary>
    public const int Depth = 32, Width = 64;

    /// <summary>The workloads.</summary>
    public static IEnumerable<Workload> Workloads()
    {
        Generator.ManualSeed(0);
        var xm = Tensor.Randn(Batch, 784);
        var xd = Tensor.Randn(Batch, Width);
        var y = Tensor.RandInt(0, 10, [Batch]);
        foreach (var (net, x) in new[] { ("mlp", xm), ("deep", xd) })
            foreach (var mode in new[] { "reverse", "mixed-exact", "forward-gradient" })
                yield return Make(net, mode, x, y);
    }

    private static Module[] Body(string net, bool forward)
    {
        var rnd = MM.ForwardMode.Random;
        if (net == "mlp")
            return forward
                ? [new MM.Linear(784, 512, mode: rnd), new MM.ReLU(), new MM.Linear(512, 256, mode: rnd), new MM.ReLU()]
                : [new Linear(784, 512), new ReLU(), new Linear(512, 256), new ReLU()];
        var layers = new List<Module>();
        for (int i = 0; i < Depth; i++)
        {
            layers.Add(forward ? new MM.Linear(Width, Width, mode: rnd) : new Linear(Width, Width));
            layers.Add(forward ? new MM.Tanh() : new Tanh());
        }
        return [.. layers];
    }

    /// <summary>The model of one variant and whether it ends with a forward-mode loss.</summary>
    private static (Module Model, bool ForwardLoss) Build(string net, string mode)
    {
        int hidden = net == "mlp" ? 256 : Width;
        return mode switch
        {
            "reverse" => (new Sequential([.. Body(net, false), new Linear(hidden, 10)]), false),
            "mixed-exact" => (new Sequential([.. Body(net, false), new MM.Rev2Fwd(), new MM.Linear(hidden, 10)]), true),
            _ => (new Sequential([new MM.Rev2Fwd(), .. Body(net, true), new MM.Linear(hidden, 10, mode: MM.ForwardMode.Random)]), true),
        };
    }

    private static Workload Make(string net, string mode, Tensor x, Tensor y)
    {
        Generator.ManualSeed(1);
        var (model, forwardLoss) = Build(net, mode);
        var opt = new SGD(model.Parameters(), lr: 0.01);
        var fl = new MM.CrossEntropyLoss();
        void Step()
        {
            opt.ZeroGrad();
            var logits = model.Forward(x);
            var loss = forwardLoss ? fl.Forward(logits, y) : Losses.CrossEntropy(logits, y);
            loss.Backward();
            opt.Step();
        }
        string name = $"mixed/{net}/{mode}";
        return new Workload(name, Step, r =>
        {
            long peak = r[name].PeakBytes;
            var extra = new Dictionary<string, object> { ["parameters"] = model.ParameterCount() };
            string reverse = $"mixed/{net}/reverse";
            if (name != reverse && r.TryGetValue(reverse, out var rr))
            {
                extra["time_vs_reverse"] = Math.Round(r[name].MedianMs / rr.MedianMs, 3);
                if (rr.PeakBytes > 0 && peak >= 0) extra["memory_vs_reverse"] = Math.Round((double)peak / rr.PeakBytes, 3);
            }
            return extra;
        });
    }
}
