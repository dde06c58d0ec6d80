using System.Numerics;
using Fluxion.Kernels;

namespace Fluxion.Optim;

/// <summary>
/// RMSprop (Hinton) as PyTorch's <c>torch.optim.RMSprop</c>: with g = ∇ + λθ, s ← α·s + (1−α)·g²;
/// centered: a ← α·a + (1−α)·g and the denominator is sqrt(s − a²) + ε, else sqrt(s) + ε; with momentum
/// b ← μ·b + g/denominator and θ ← θ − lr·b, else θ ← θ − lr·g/denominator.
/// <para>Group options: lr, alpha, eps, weight_decay, momentum, centered (0/1), maximize (0/1).
/// State per parameter: "step", "square_avg", plus "momentum_buffer" (momentum &gt; 0) and "grad_avg" (centered).</para>
/// </summary>
public sealed class RMSprop : Optimizer
{
    /// <summary>RMSprop over <paramref name="parameters"/> (one group).</summary>
    /// <param name="parameters">The tensors to optimize, e.g. <c>model.Parameters()</c>.</param>
    /// <param name="lr">Learning rate (≥ 0).</param>
    /// <param name="alpha">Smoothing constant α (≥ 0).</param>
    /// <param name="eps">Term added to the denominator for numerical stability (≥ 0).</param>
    /// <param name="weightDecay">L2 penalty (≥ 0).</param>
    /// <param name="momentum">Momentum factor (≥ 0).</param>
    /// <param name="centered">Normalize by an estimate of the gradient's variance instead of its second moment.</param>
    /// <param name="maximize">Maximize the objective instead of minimizing it.</param>
    public RMSprop(IEnumerable<Tensor> parameters, double lr = 1e-2, double alpha = 0.99, double eps = 1e-8, double weightDecay = 0,
        double momentum = 0, bool centered = false, bool maximize = false)
        : this(SingleGroup(parameters), lr, alpha, eps, weightDecay, momentum, centered, maximize) { }

    /// <summary>RMSprop over several parameter groups; the named arguments are the defaults for options a group does not set.</summary>
    public RMSprop(IEnumerable<ParamGroup> groups, double lr = 1e-2, double alpha = 0.99, double eps = 1e-8, double weightDecay = 0,
        double momentum = 0, bool centered = false, bool maximize = false)
        : base("RMSprop", groups, new()
        {
            ["lr"] = lr, ["alpha"] = alpha, ["eps"] = eps, ["weight_decay"] = weightDecay, ["momentum"] = momentum,
            ["centered"] = centered ? 1 : 0, ["maximize"] = maximize ? 1 : 0,
        }) { }

    private const int SquareAvg = 0, MomentumBuffer = 1, GradAvg = 2;

    private protected override string[] BufferNames => ["square_avg", "momentum_buffer", "grad_avg"];

    private protected override bool HasStepCounter => true;

    private protected override IEnumerable<int> RequiredBuffers(IReadOnlyDictionary<string, double> o)
    {
        yield return SquareAvg;
        if (o["momentum"] > 0) yield return MomentumBuffer;
        if (o["centered"] != 0) yield return GradAvg;
    }

    private protected override string? OptionError(string key, double value) => key switch
    {
        "lr" => NonNegative("learning rate lr", value),
        "alpha" => NonNegative("alpha", value),
        "eps" => NonNegative("epsilon eps", value),
        "weight_decay" => NonNegative("weight_decay", value),
        "momentum" => NonNegative("momentum", value),
        "centered" or "maximize" => Flag(key, value),
        _ => null,
    };

    /// <inheritdoc/>
    public override void Step()
    {
        foreach (var (group, index, p) in WithGrads())
        {
            var o = group.RawOptions;
            double lr = o["lr"], alpha = o["alpha"], eps = o["eps"], wd = o["weight_decay"], momentum = o["momentum"];
            bool centered = o["centered"] != 0, maximize = o["maximize"] != 0;
            var st = StateAt(index);
            st.HasStep = true;
            st.Step++;
            var sq = Buffer(st, SquareAvg, p);
            var buf = momentum > 0 ? Buffer(st, MomentumBuffer, p) : null;
            var ga = centered ? Buffer(st, GradAvg, p) : null;
            if (p.DType == DType.Float32) Update<float>(p, sq, ga, buf, lr, alpha, eps, wd, momentum, maximize);
            else Update<double>(p, sq, ga, buf, lr, alpha, eps, wd, momentum, maximize);
        }
    }

    private static void Update<T>(Tensor p, Tensor sq, Tensor? ga, Tensor? buf, double lr, double alpha, double eps, double wd,
        double momentum, bool maximize) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var ps = BeginParam<T>(p, out var scratch);
        OptimKernels.RmsProp(ps, p.Grad!.DenseSpan<T>(), Span<T>(sq), ga is null ? default : Span<T>(ga), buf is null ? default : Span<T>(buf),
            C<T>(lr), C<T>(alpha), C<T>(1 - alpha), C<T>(eps), C<T>(wd), C<T>(momentum), maximize);
        EndParam(p, scratch);
    }
}
