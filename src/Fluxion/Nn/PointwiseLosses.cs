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
        var y = MapReduce(input, target, reduction, new LossK<float>(kind, (float)p), new LossK<double>(kind, p));
        return Op.Tracking(input, target) ? Op.Record(def, y, [input, target], (reduction, p)) : y;
    }

    /// <summary>The elementwise loss m(input, target) reduced as asked: None the elementwise tensor; Sum, Mean and BatchMean
    /// (÷ size(0)) one fused pass summing in double, no elementwise tensor.</summary>
    private static Tensor MapReduce<TM32, TM64>(Tensor input, Tensor target, Reduction reduction, TM32 m32, TM64 m64)
        where TM32 : struct, IMap2<float> where TM64 : struct, IMap2<double>
    {
        if (reduction == Reduction.None) return Tensor.BinaryMapRaw(input, target, m32, m64);
        int n = input.Numel;
        double sum = n == 0 ? 0 : input.DType == DType.Float32
            ? Pointwise.SumMap((float[])input.DenseSpanArray(out int ao), ao, (float[])target.DenseSpanArray(out int bo), bo, n, m32)
            : Pointwise.SumMap((double[])input.DenseSpanArray(out int ao2), ao2, (double[])target.DenseSpanArray(out int bo2), bo2, n, m64);
        return Tensor.Scalar(sum / ReductionDivisor(input, reduction), input.DType);
    }

    /// <summary>What the sum is divided by: Mean the element count (NaN when empty, as PyTorch), BatchMean size(0) (1 for 0-d), Sum 1.</summary>
    private static double ReductionDivisor(Tensor input, Reduction reduction) => reduction switch
    {
        Reduction.Mean => input.Numel,
        Reduction.BatchMean => input.Rank == 0 ? 1 : input.Size(0),
        _ => 1,
    };

    // ---- soft margin, BCE with logits, KL divergence: the elementwise loss and its reduction in one pass (LogitLossK), in
    // first-order backward each input's gradient in one pass (LogitLossGradK); the tensor-op VJP otherwise

    /// <summary>∂ℓ/∂input (i = 0) or ∂ℓ/∂target (i = 1) elementwise in tensor ops (differentiable again).</summary>
    private static Tensor LogitLossDerivative(LogitLoss kind, Tensor x, Tensor y, int i)
    {
        switch (kind)
        {
            case LogitLoss.SoftMargin: return -((i == 0 ? y : x) * (-(y * x)).Sigmoid());
            case LogitLoss.BceWithLogits: return i == 0 ? x.Sigmoid() - y : -x;
            case LogitLoss.PoissonLog: return i == 0 ? x.Exp() - y : -x;
            case LogitLoss.KlDiv:
            {
                if (i == 0) return -y;
                var zero = y.Eq(0.0);
                return Tensor.Where(zero, 0.0, Tensor.Where(zero, 1.0, y).Log() + 1.0) - x;
            }
            default:
            {
                var e = y.Exp();
                return i == 0 ? -e : e * (y - x + 1.0);
            }
        }
    }

    /// <summary>Reduces an elementwise (tangent) tensor as the call did (BatchMean: the sum ÷ size(0)).</summary>
    private static Tensor ReduceLike(Tensor e, Tensor input, Reduction reduction) =>
        reduction == Reduction.BatchMean ? e.Sum() / ReductionDivisor(input, reduction) : ReduceAs(e, reduction);

    /// <summary>An entry of the logit losses; its attribute is (reduction, kind) (KL divergence: both target forms).</summary>
    private static FusedDef LogitLossDef(string name, string torch, Func<Tensor, Tensor, Reduction, LogitLoss, Tensor> call,
        Func<IEnumerable<OpSample>> samples) => new(name, OpFamily.NN, torch)
    {
        Vjp = (in OpCtx c, Tensor g, int i) =>
        {
            var (reduction, kind) = c.A<(Reduction, LogitLoss)>();
            var gs = reduction is Reduction.Mean or Reduction.BatchMean ? g / ReductionDivisor(c.X(0), reduction) : g;
            return LogitLossDerivative(kind, c.X(0), c.X(1), i) * gs;
        },
        Jvp = (in OpCtx c, Tensor?[] t) =>
        {
            var (reduction, kind) = c.A<(Reduction, LogitLoss)>();
            Tensor? e = null;
            for (int i = 0; i < 2; i++)
                if (t[i] is { } ti)
                {
                    var d = LogitLossDerivative(kind, c.X(0), c.X(1), i) * ti;
                    e = e is null ? d : e + d;
                }
            return e is null ? null : ReduceLike(e, c.X(0), reduction);
        },
        FirstOrder = (in OpCtx c, Tensor[] g, bool[] needs) =>
        {
            var (reduction, kind) = c.A<(Reduction, LogitLoss)>();
            Tensor a = c.X(0), b = c.X(1), gy = g[0];
            Tensor? ga = null, gb = null;
            if (reduction == Reduction.None)
            {
                if (needs[0] && (ga = Tensor.BinaryGradRaw(gy, a, b, new LogitLossGradK<float>(kind, false, 1f), new LogitLossGradK<double>(kind, false, 1))) is null) return null;
                if (needs[1] && (gb = Tensor.BinaryGradRaw(gy, a, b, new LogitLossGradK<float>(kind, true, 1f), new LogitLossGradK<double>(kind, true, 1))) is null) return null;
                return [ga, gb];
            }
            double s = gy.Item() / ReductionDivisor(a, reduction);
            if (needs[0]) ga = Tensor.BinaryMapRaw(a, b, new LogitLossGradK<float>(kind, false, (float)s), new LogitLossGradK<double>(kind, false, s));
            if (needs[1]) gb = Tensor.BinaryMapRaw(a, b, new LogitLossGradK<float>(kind, true, (float)s), new LogitLossGradK<double>(kind, true, s));
            return [ga, gb];
        },
        FusedDoc = "one SIMD pass per input (first-order passes)",
        Saves = 3u, Samples = samples,
        Batch = c =>
        {
            var (reduction, kind) = c.A<(Reduction, LogitLoss)>();
            var e = call(c.Materialize(0), c.Materialize(1), Reduction.None, kind);
            if (reduction == Reduction.None) return [e];
            var flat = e.Reshape(c.B, -1);
            return [reduction switch
            {
                Reduction.Sum => flat.Sum(1),
                Reduction.Mean => flat.Mean(1),
                _ => flat.Sum(1) / (e.Rank >= 2 ? e.Size(1) : 1),
            }];
        },
    };

    /// <summary>The fused logit loss on same-dtype float operands of one shape (else null: the caller's composite computes it).</summary>
    private static Tensor? LogitLossCall(FusedDef def, LogitLoss kind, Tensor input, Tensor target, Reduction reduction)
    {
        if (input.DType != target.DType || !input.DType.IsFloatingPoint() || !ShapeUtil.SameShape(input.Shape, target.Shape)) return null;
        var y = MapReduce(input, target, reduction, new LogitLossK<float>(kind), new LogitLossK<double>(kind));
        return Op.Tracking(input, target) ? Op.Record(def, y, [input, target], (reduction, kind)) : y;
    }

    internal static readonly FusedDef SoftMarginLossOp = LogitLossDef("SoftMarginLoss", "nn.functional.soft_margin_loss", (a, b, r, _) => SoftMarginLoss(a, b, r),
        () => [Sample("mean", t => SoftMarginLoss(t[0], t[1]), true, R(1, 2, 3), R(2, 2, 3)),
            Sample("none", t => SoftMarginLoss(t[0], t[1], Reduction.None), true, R(3, 4), R(4, 4))]);

    internal static readonly FusedDef BceWithLogitsOp = LogitLossDef("BceWithLogits", "nn.functional.binary_cross_entropy_with_logits", (a, b, r, _) => BceWithLogits(a, b, r),
        () => [new("mean", [R(1, 3, 4), OpSamples.Make(OpSamples.Domain.UnitInterval, 2, 3, 4)], t => BceWithLogits(t[0], t[1])),
            new("none", [R(7, 2, 3), OpSamples.Make(OpSamples.Domain.UnitInterval, 8, 2, 3)], t => BceWithLogits(t[0], t[1], Reduction.None)),
            new("weights", [R(3, 2, 3), OpSamples.Make(OpSamples.Domain.UnitInterval, 4, 2, 3), OpSamples.Make(OpSamples.Domain.Positive, 5, 3),
                OpSamples.Make(OpSamples.Domain.Positive, 6, 3)], t => BceWithLogits(t[0], t[1], Reduction.Sum, t[2], t[3]))]);

    internal static readonly FusedDef KlDivOp = LogitLossDef("KlDiv", "nn.functional.kl_div", (a, b, r, k) => KlDiv(a, b, r, logTarget: k == LogitLoss.KlDivLogTarget),
        () => [new("batchmean", [R(1, 3, 4), OpSamples.Make(OpSamples.Domain.UnitInterval, 2, 3, 4)], t => KlDiv(t[0], t[1], Reduction.BatchMean)),
            new("log target", [R(3, 2, 3), R(4, 2, 3)], t => KlDiv(t[0], t[1], Reduction.Sum, logTarget: true)),
            new("none", [R(5, 2, 3), OpSamples.Make(OpSamples.Domain.UnitInterval, 6, 2, 3)], t => KlDiv(t[0], t[1], Reduction.None)),
            new("log target mean", [R(7, 2, 3), R(8, 2, 3)], t => KlDiv(t[0], t[1], Reduction.Mean, logTarget: true))]);
}
