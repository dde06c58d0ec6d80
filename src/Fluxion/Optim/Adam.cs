using System.Numerics;
using Fluxion.Kernels;

namespace Fluxion.Optim;

/// <summary>
/// Adam (Kingma and Ba) with optional L2 weight decay, AMSGrad and maximization (PyTorch's
/// <c>torch.optim.Adam</c>): with g = ∇ + λθ, m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g²,
/// θ ← θ − lr/(1−β1ᵗ) · m / (sqrt(v̂)/sqrt(1−β2ᵗ) + ε) where v̂ = v, or its running maximum with AMSGrad.
/// <para>Group options: lr, beta1, beta2, eps, weight_decay, amsgrad (0/1), maximize (0/1).
/// State per parameter: "step", "exp_avg", "exp_avg_sq" and with AMSGrad "max_exp_avg_sq".</para>
/// </summary>
public class Adam : Optimizer
{
    private readonly bool _decoupled;

    /// <summary>Adam over <paramref name="parameters"/> (one group).</summary>
    /// <param name="parameters">The tensors to optimize, e.g. <c>model.Parameters()</c>.</param>
    /// <param name="lr">Learning rate (≥ 0).</param>
    /// <param name="beta1">Decay rate of the first-moment average, in [0, 1).</param>
    /// <param name="beta2">Decay rate of the second-moment average, in [0, 1).</param>
    /// <param name="eps">Term added to the denominator for numerical stability (≥ 0).</param>
    /// <param name="weightDecay">L2 penalty added to the gradient (≥ 0).</param>
    /// <param name="amsgrad">Use the AMSGrad variant (running maximum of the second moment).</param>
    /// <param name="maximize">Maximize the objective instead of minimizing it.</param>
    public Adam(IEnumerable<Tensor> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
        double weightDecay = 0, bool amsgrad = false, bool maximize = false)
        : this(SingleGroup(parameters), lr, beta1, beta2, eps, weightDecay, amsgrad, maximize) { }

    /// <summary>Adam over several parameter groups; the named arguments are the defaults for options a group does not set.</summary>
    public Adam(IEnumerable<ParamGroup> groups, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
        double weightDecay = 0, bool amsgrad = false, bool maximize = false)
        : this("Adam", false, groups, lr, beta1, beta2, eps, weightDecay, amsgrad, maximize) { }

    private protected Adam(string name, bool decoupled, IEnumerable<ParamGroup> groups, double lr, double beta1, double beta2, double eps,
        double weightDecay, bool amsgrad, bool maximize)
        : base(name, groups, new()
        {
            ["lr"] = lr, ["beta1"] = beta1, ["beta2"] = beta2, ["eps"] = eps, ["weight_decay"] = weightDecay,
            ["amsgrad"] = amsgrad ? 1 : 0, ["maximize"] = maximize ? 1 : 0,
        })
    {
        _decoupled = decoupled;
    }

    private const int ExpAvg = 0, ExpAvgSq = 1, MaxExpAvgSq = 2;

    private protected override string[] BufferNames => ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"];

    private protected override bool HasStepCounter => true;

    private protected override IEnumerable<int> RequiredBuffers(IReadOnlyDictionary<string, double> options) =>
        options["amsgrad"] != 0 ? [ExpAvg, ExpAvgSq, MaxExpAvgSq] : [ExpAvg, ExpAvgSq];

    private protected override string? OptionError(string key, double value) => key switch
    {
        "lr" => NonNegative("learning rate lr", value),
        "beta1" => Beta("beta1", value),
        "beta2" => Beta("beta2", value),
        "eps" => NonNegative("epsilon eps", value),
        "weight_decay" => NonNegative("weight_decay", value),
        "amsgrad" or "maximize" => Flag(key, value),
        _ => null,
    };

    /// <inheritdoc/>
    public override void Step()
    {
        foreach (var (group, index, p) in WithGrads())
        {
            var o = group.RawOptions;
            double lr = o["lr"], beta1 = o["beta1"], beta2 = o["beta2"], eps = o["eps"], wd = o["weight_decay"];
            bool amsgrad = o["amsgrad"] != 0, maximize = o["maximize"] != 0;
            var st = StateAt(index);
            st.HasStep = true;
            double step = ++st.Step;
            var m = Buffer(st, ExpAvg, p);
            var v = Buffer(st, ExpAvgSq, p);
            var vmax = amsgrad ? Buffer(st, MaxExpAvgSq, p) : null;
            double bc1 = 1 - Math.Pow(beta1, step), bc2 = 1 - Math.Pow(beta2, step);
            double decay = _decoupled ? 1 - lr * wd : 1, l2 = _decoupled ? 0 : wd;
            var h = new Hyper(decay, l2, beta1, beta2, eps, Math.Sqrt(bc2), lr / bc1, maximize);
            if (p.DType == DType.Float32) Update<float>(p, m, v, vmax, h);
            else Update<double>(p, m, v, vmax, h);
        }
    }

    private readonly record struct Hyper(double Decay, double L2, double Beta1, double Beta2, double Eps, double Bc2Sqrt, double StepSize, bool Maximize);

    private static void Update<T>(Tensor p, Tensor m, Tensor v, Tensor? vmax, in Hyper h) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var grad = p.Grad!;
        if (p.IsContiguous && grad.IsContiguous && m.IsContiguous && v.IsContiguous && (vmax is null || vmax.IsContiguous))
        {
            // the common case: every buffer dense, updated in place (in parallel chunks when large)
            OptimKernels.AdamChunked(p.Storage.As<T>(), p.Offset, grad.Storage.As<T>(), grad.Offset, m.Storage.As<T>(), m.Offset,
                v.Storage.As<T>(), v.Offset, vmax?.Storage.As<T>(), vmax?.Offset ?? 0, p.Numel,
                C<T>(h.Decay), C<T>(h.L2), C<T>(h.Beta1), C<T>(1 - h.Beta1), C<T>(h.Beta2), C<T>(1 - h.Beta2), C<T>(h.Eps),
                C<T>(h.Bc2Sqrt), C<T>(h.StepSize), h.Maximize);
            p.Storage.BumpVersion();
            return;
        }
        var ps = BeginParam<T>(p, out var scratch);
        OptimKernels.Adam(ps, p.Grad!.DenseSpan<T>(), Span<T>(m), Span<T>(v), vmax is null ? default : Span<T>(vmax),
            C<T>(h.Decay), C<T>(h.L2), C<T>(h.Beta1), C<T>(1 - h.Beta1), C<T>(h.Beta2), C<T>(1 - h.Beta2), C<T>(h.Eps),
            C<T>(h.Bc2Sqrt), C<T>(h.StepSize), h.Maximize);
        EndParam(p, scratch);
    }
}

/// <summary>
/// AdamW (Loshchilov and Hutter): Adam with decoupled weight decay, θ ← θ·(1 − lr·λ) before the Adam
/// update (PyTorch's <c>torch.optim.AdamW</c>; weight_decay defaults to 0.01). Options and state as <see cref="Adam"/>.
/// </summary>
public sealed class AdamW : Adam
{
    /// <summary>AdamW over <paramref name="parameters"/> (one group).</summary>
    /// <param name="parameters">The tensors to optimize, e.g. <c>model.Parameters()</c>.</param>
    /// <param name="lr">Learning rate (≥ 0).</param>
    /// <param name="beta1">Decay rate of the first-moment average, in [0, 1).</param>
    /// <param name="beta2">Decay rate of the second-moment average, in [0, 1).</param>
    /// <param name="eps">Term added to the denominator for numerical stability (≥ 0).</param>
    /// <param name="weightDecay">Decoupled weight decay coefficient λ (≥ 0).</param>
    /// <param name="amsgrad">Use the AMSGrad variant.</param>
    /// <param name="maximize">Maximize the objective instead of minimizing it.</param>
    public AdamW(IEnumerable<Tensor> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
        double weightDecay = 1e-2, bool amsgrad = false, bool maximize = false)
        : base("AdamW", true, SingleGroup(parameters), lr, beta1, beta2, eps, weightDecay, amsgrad, maximize) { }

    /// <summary>AdamW over several parameter groups; the named arguments are the defaults for options a group does not set.</summary>
    public AdamW(IEnumerable<ParamGroup> groups, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
        double weightDecay = 1e-2, bool amsgrad = false, bool maximize = false)
        : base("AdamW", true, groups, lr, beta1, beta2, eps, weightDecay, amsgrad, maximize) { }
}
