using Fluxion.Kernels;

namespace Fluxion.Nn;

// The elementwise regression losses (mse, l1, smooth_l1, huber) as entries of their own: the elementwise loss of
// d = input − target in one SIMD pass (Kernels.LossK) then the reduction; in first-order backward each input's gradient
// in one pass (LossGradK: PyTorch's backward formulas); the tensor-op VJP (differentiable again) otherwise.
// (the class is marked [OpTable] on its declaration in LossesMore.cs)
public static partial class Losses
{
    /// <summary>f'(d) of the loss in tensor ops (differentiable again): mse 2d, l1 sign(d) (0 at NaN), smooth_l1 d/β inside β else
    /// sign(d), huber d inside δ else δ·sign(d).</summary>
    private static Tensor LossDerivative(PointwiseLoss kind, double p, Tensor d) => kind switch
    {
        PointwiseLoss.Mse => 2.0 * d,
        PointwiseLoss.L1 => Tensor.Where(d.Gt(0.0), 1.0, 0.0, d.DType) - Tensor.Where(d.Lt(0.0), 1.0, 0.0, d.DType), // 0 at NaN, as PyTorch
        PointwiseLoss.SmoothL1 => Tensor.Where(d.Abs().Lt(p), d / p, d.Sign()),
        _ => Tensor.Where(d.Abs().Lt(p), d, p * d.Sign()),
    };

    /// <summary>Reduces an elementwise (tangent) tensor as the call did.</summary>
    private static Tensor ReduceAs(Tensor e, Reduction reduction) => reduction switch
    {
        Reduction.None => e,
        Reduction.Sum => e.Sum(),
        _ => e.Mean(),
    };

    private static FusedDef LossDef(string name, string torch, PointwiseLoss kind, Func<Tensor, Tensor, Reduction, double, Tensor> call,
        Func<IEnumerable<OpSample>> samples) => new(name, OpFamily.NN, torch)
    {
        Vjp = (in OpCtx c, Tensor g, int i) =>
        {
            var (reduction, p) = c.A<(Reduction, double)>();
            var gi = LossDerivative(kind, p, c.X(0) - c.X(1)) * (reduction == Reduction.Mean ? g / (double)c.X(0).Numel : g);
            return i == 0 ? gi : -gi;
        },
        Jvp = (in OpCtx c, Tensor?[] t) =>
        {
            var (reduction, p) = c.A<(Reduction, double)>();
            Tensor? t0 = t[0], t1 = t[1];
            var td = t0 is null ? (t1 is null ? null : -t1) : t1 is null ? t0 : t0 - t1;
            return td is null ? null : ReduceAs(LossDerivative(kind, p, c.X(0) - c.X(1)) * td, reduction);
        },
        FirstOrder = (in OpCtx c, Tensor[] g, bool[] needs) =>
        {
            var (reduction, p) = c.A<(Reduction, double)>();
            Tensor a = c.X(0), b = c.X(1), gy = g[0];
            if (!ShapeUtil.SameShape(a.Shape, b.Shape) || a.DType != b.DType) return null;
            Tensor? ga = null, gb = null;
            if (reduction == Reduction.None)
            {
                if (needs[0] && (ga = Tensor.BinaryGradRaw(gy, a, b, new LossGradK<float>(kind, (float)p, 1f), new LossGradK<double>(kind, p, 1))) is null) return null;
                if (needs[1] && (gb = Tensor.BinaryGradRaw(gy, a, b, new LossGradK<float>(kind, (float)p, -1f), new LossGradK<double>(kind, p, -1))) is null) return null;
                return [ga, gb];
            }
            // a 0-d gradient: folded into the kernel's scale (the mean's 1/n included)
            double s = gy.Item() / (reduction == Reduction.Mean ? Math.Max(1, a.Numel) : 1);
            if (needs[0]) ga = Tensor.BinaryMapRaw(a, b, new LossGradK<float>(kind, (float)p, (float)s), new LossGradK<double>(kind, p, s));
            if (needs[1]) gb = Tensor.BinaryMapRaw(a, b, new LossGradK<float>(kind, (float)p, (float)-s), new LossGradK<double>(kind, p, -s));
            return [ga, gb];
        },
        FusedDoc = "one SIMD pass per input (first-order passes on same-shape operands)",
        Saves = 3u, Samples = samples,
        Batch = c =>
        {
            var (reduction, p) = c.A<(Reduction, double)>();
            var e = call(c.Materialize(0), c.Materialize(1), Reduction.None, p);
            if (reduction == Reduction.None) return [e];
            var flat = e.Reshape(c.B, -1);
            return [reduction == Reduction.Sum ? flat.Sum(1) : flat.Mean(1)];
        },
    };

    internal static readonly FusedDef MseLossOp = LossDef("MseLoss", "nn.functional.mse_loss", PointwiseLoss.Mse, (a, b, r, _) => MseLoss(a, b, r),
        () => [new("mean", [R(1, 3, 4), R(2, 3, 4)], t => MseLoss(t[0], t[1])),
            new("none", [R(3, 5), R(4, 5)], t => MseLoss(t[0], t[1], Reduction.None)),
            new("sum", [R(5, 2, 3), R(6, 2, 3)], t => MseLoss(t[0], t[1], Reduction.Sum))]);

    internal static readonly FusedDef L1LossOp = LossDef("L1Loss", "nn.functional.l1_loss", PointwiseLoss.L1, (a, b, r, _) => L1Loss(a, b, r),
        () => [new("sum", [R(1, 3, 4), R(2, 3, 4)], t => L1Loss(t[0], t[1], Reduction.Sum), SecondOrder: false), // |.| is kinked
            new("none", [R(3, 5), R(4, 5)], t => L1Loss(t[0], t[1], Reduction.None), SecondOrder: false)]);

    internal static readonly FusedDef HuberLossOp = LossDef("HuberLoss", "nn.functional.huber_loss", PointwiseLoss.Huber, (a, b, r, p) => HuberLoss(a, b, r, p),
        () => [Sample("mean", t => HuberLoss(t[0], t[1]), true, R(1, 3, 4), R(2, 3, 4)),
            Sample("none delta 0.5", t => HuberLoss(t[0], t[1], Reduction.None, 0.5), true, R(3, 5), R(4, 5))]);

    internal static readonly FusedDef SmoothL1LossOp = LossDef("SmoothL1Loss", "nn.functional.smooth_l1_loss", PointwiseLoss.SmoothL1,
        (a, b, r, p) => SmoothL1Loss(a, b, r, p),
        () => [Sample("mean", t => SmoothL1Loss(t[0], t[1]), true, R(1, 3, 4), R(2, 3, 4)),
            Sample("sum beta 0.3", t => SmoothL1Loss(t[0], t[1], Reduction.Sum, 0.3), true, R(3, 5), R(4, 5))]);

    /// <summary>The fused loss on same-dtype float operands of one shape (else null: the caller's composite computes it).</summary>
    private static Tensor? PointwiseLossCall(FusedDef def, PointwiseLoss kind, double p, Tensor input, Tensor target, Reduction reduction)
    {
        if (input.DType != target.DType || !input.DType.IsFloatingPoint() || !ShapeUtil.SameShape(input.Shape, target.Shape)) return null;
        var e = Tensor.BinaryMapRaw(input, target, new LossK<float>(kind, (float)p), new LossK<double>(kind, p));
        Tensor y;
        using (Autograd.NoGrad()) y = ReduceAs(e, reduction);
        return Op.Tracking(input, target) ? Op.Record(def, y, [input, target], (reduction, p)) : y;
    }
}
