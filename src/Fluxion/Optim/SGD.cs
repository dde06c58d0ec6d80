using Fluxion.Kernels;

namespace Fluxion.Optim;

/// <summary>
/// Stochastic gradient descent with optional momentum, dampening, Nesterov momentum, L2 weight decay
/// and maximization (PyTorch's <c>torch.optim.SGD</c>):
/// d = g + λθ; with momentum b ← μb + (1−τ)d (b = d on the first step) and d = d + μb (Nesterov) or d = b;
/// θ ← θ − lr·d.
/// <para>Group options: lr, momentum, dampening, weight_decay, nesterov (0/1), maximize (0/1).
/// State: "momentum_buffer" per parameter (when momentum is non-zero).</para>
/// </summary>
public sealed class SGD : Optimizer
{
    /// <summary>SGD over <paramref name="parameters"/> (one group).</summary>
    /// <param name="parameters">The tensors to optimize, e.g. <c>model.Parameters()</c>.</param>
    /// <param name="lr">Learning rate (≥ 0).</param>
    /// <param name="momentum">Momentum factor μ (≥ 0).</param>
    /// <param name="dampening">Dampening τ for momentum.</param>
    /// <param name="weightDecay">L2 penalty λ (≥ 0).</param>
    /// <param name="nesterov">Use Nesterov momentum (needs momentum &gt; 0 and dampening 0).</param>
    /// <param name="maximize">Maximize the objective instead of minimizing it.</param>
    public SGD(IEnumerable<Tensor> parameters, double lr = 1e-3, double momentum = 0, double dampening = 0,
        double weightDecay = 0, bool nesterov = false, bool maximize = false)
        : this(SingleGroup(parameters), lr, momentum, dampening, weightDecay, nesterov, maximize) { }

    /// <summary>SGD over several parameter groups; the named arguments are the defaults for options a group does not set.</summary>
    public SGD(IEnumerable<ParamGroup> groups, double lr = 1e-3, double momentum = 0, double dampening = 0,
        double weightDecay = 0, bool nesterov = false, bool maximize = false)
        : base("SGD", groups, new()
        {
            ["lr"] = lr, ["momentum"] = momentum, ["dampening"] = dampening, ["weight_decay"] = weightDecay,
            ["nesterov"] = nesterov ? 1 : 0, ["maximize"] = maximize ? 1 : 0,
        }) { }

    private protected override string[] BufferNames => ["momentum_buffer"];

    private protected override string? OptionError(string key, double value) => key switch
    {
        "lr" => NonNegative("learning rate lr", value),
        "momentum" => NonNegative("momentum", value),
        "dampening" => double.IsFinite(value) ? null : $"invalid dampening {Fmt(value)}; it must be finite",
        "weight_decay" => NonNegative("weight_decay", value),
        "nesterov" or "maximize" => Flag(key, value),
        _ => null,
    };

    private protected override string? GroupError(IReadOnlyDictionary<string, double> o) =>
        o["nesterov"] != 0 && (o["momentum"] <= 0 || o["dampening"] != 0)
            ? $"Nesterov momentum requires momentum > 0 and dampening 0 (got momentum {Fmt(o["momentum"])}, dampening {Fmt(o["dampening"])})"
            : null;

    /// <inheritdoc/>
    public override void Step()
    {
        foreach (var (group, index, p) in WithGrads())
        {
            var o = group.RawOptions;
            double lr = o["lr"], momentum = o["momentum"], dampening = o["dampening"], wd = o["weight_decay"];
            bool nesterov = o["nesterov"] != 0, maximize = o["maximize"] != 0;
            Tensor? buf = null;
            bool first = false;
            if (momentum != 0)
            {
                var st = StateAt(index);
                first = st.Buffers[0] is null;
                buf = Buffer(st, 0, p);
            }
            if (p.DType == DType.Float32) Update<float>(p, buf, first, lr, wd, momentum, 1 - dampening, nesterov, maximize);
            else Update<double>(p, buf, first, lr, wd, momentum, 1 - dampening, nesterov, maximize);
        }
    }

    private static void Update<T>(Tensor p, Tensor? buf, bool first, double lr, double wd, double momentum, double oneMinusDampening,
        bool nesterov, bool maximize) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var ps = BeginParam<T>(p, out var scratch);
        OptimKernels.Sgd(ps, p.Grad!.DenseSpan<T>(), buf is null ? default : Span<T>(buf), first,
            C<T>(lr), C<T>(wd), C<T>(momentum), C<T>(oneMinusDampening), nesterov, maximize);
        EndParam(p, scratch);
    }
}
