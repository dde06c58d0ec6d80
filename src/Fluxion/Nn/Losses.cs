namespace Fluxion.Nn;

/// <summary>How a loss reduces its per-element values (PyTorch's <c>reduction</c> argument).</summary>
public enum Reduction
{
    /// <summary>The mean over all elements (PyTorch's default).</summary>
    Mean,
    /// <summary>The sum over all elements.</summary>
    Sum,
    /// <summary>No reduction: the per-element losses.</summary>
    None,
    /// <summary>The sum divided by the batch size (dim 0); KL divergence only, as PyTorch.</summary>
    BatchMean,
}

/// <summary>
/// Loss functions with PyTorch's semantics (torch.nn.functional and torchvision's focal loss).
/// Reduction is <see cref="Reduction.Mean"/>, <see cref="Reduction.Sum"/> or <see cref="Reduction.None"/> (KL divergence also takes <see cref="Reduction.BatchMean"/>). Every loss is built
/// from differentiable primitives, so gradients of any order and forward-mode tangents come for
/// free, and targets given as float tensors receive gradients too.
/// </summary>
public static partial class Losses
{
    /// <summary>PyTorch's default ignore_index: targets equal to it take no part in the loss.</summary>
    public const int DefaultIgnoreIndex = -100;

    internal static Tensor Reduce(string op, Tensor loss, Reduction reduction) => reduction switch
    {
        Reduction.Mean => loss.Mean(),
        Reduction.Sum => loss.Sum(),
        Reduction.None => loss,
        _ => throw new ArgumentException($"{op}: reduction must be Mean, Sum or None, got {reduction}."),
    };

    private static void CheckReduction(string op, Reduction reduction, bool batchMean = false)
    {
        if (reduction is Reduction.Mean or Reduction.Sum or Reduction.None || (batchMean && reduction == Reduction.BatchMean)) return;
        throw new ArgumentException($"{op}: reduction must be Mean, Sum{(batchMean ? ", BatchMean" : "")} or None, got {reduction}{(reduction == Reduction.BatchMean ? " (BatchMean is KL divergence's only, as in PyTorch)" : "")}.");
    }

    /// <summary>PyTorch's spelling of a reduction ("mean", "sum", "none", "batchmean").</summary>
    internal static string TorchName(this Reduction r) => r switch
    {
        Reduction.Mean => "mean",
        Reduction.Sum => "sum",
        Reduction.None => "none",
        _ => "batchmean",
    };

    private static void CheckSameShape(string op, Tensor input, Tensor target, string targetName = "target")
    {
        if (!ShapeUtil.SameShape(input.Shape, target.Shape))
            throw new ShapeMismatchException($"{op}: input shape {ShapeUtil.Format(input.Shape)} and {targetName} shape {ShapeUtil.Format(target.Shape)} differ; they must be equal.");
    }

    private static void CheckFloatPair(string op, Tensor input, Tensor target)
    {
        input.CheckFloat(op);
        target.CheckFloat(op);
        Tensor.CheckSameDType(op, input, target);
    }

    /// <summary>Checks that <paramref name="w"/> broadcasts to the input's shape without growing it.</summary>
    private static void CheckBroadcastsTo(string op, string name, Tensor w, Tensor input)
    {
        w.CheckFloat(op);
        Tensor.CheckSameDType(op, input, w);
        var b = ShapeUtil.Broadcast(op, w.Shape, input.Shape);
        if (!ShapeUtil.SameShape(b, input.Shape))
            throw new ShapeMismatchException($"{op}: {name} of shape {ShapeUtil.Format(w.Shape)} must broadcast to the input's shape {ShapeUtil.Format(input.Shape)}.");
    }

    // ---- regression ---------------------------------------------------------------------------------

    /// <summary>Mean squared error: reduce((input − target)²).</summary>
    public static Tensor MseLoss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean)
    {
        if (!ShapeUtil.SameShape(input.Shape, target.Shape))
            throw new ShapeMismatchException($"MseLoss: input shape {ShapeUtil.Format(input.Shape)} and target shape {ShapeUtil.Format(target.Shape)} differ.");
        if (reduction is Reduction.Mean or Reduction.Sum or Reduction.None
            && PointwiseLossCall(MseLossOp, Kernels.PointwiseLoss.Mse, 0, input, target, reduction) is { } fused) return fused;
        return Reduce("MseLoss", (input - target).Square(), reduction);
    }

    /// <summary>Mean absolute error: reduce(|input − target|). The subgradient at input = target is 0 (as PyTorch).</summary>
    public static Tensor L1Loss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean)
    {
        const string op = "L1Loss";
        CheckReduction(op, reduction);
        CheckFloatPair(op, input, target);
        CheckSameShape(op, input, target);
        if (PointwiseLossCall(L1LossOp, Kernels.PointwiseLoss.L1, 0, input, target, reduction) is { } fused) return fused;
        return Reduce(op, (input - target).Abs(), reduction);
    }

    // ---- classification -------------------------------------------------------------------------------

    /// <summary>
    /// Cross entropy of logits against class indices or class probabilities, through a fused-stable
    /// log-softmax over the class dim (dim 1, or dim 0 for unbatched [C] logits). As PyTorch's
    /// <c>F.cross_entropy</c>:
    /// <list type="bullet">
    /// <item>logits [N, C], [C] or [N, C, d1, ...]; int64 targets [N], [] or [N, d1, ...] holding class
    /// indices in [0, C) or <paramref name="ignoreIndex"/>; or float targets of the logits' shape holding
    /// class probabilities.</item>
    /// <item>Class indices: loss_i = −w[t_i]·log p_i[t_i] (w = 1 without <paramref name="weight"/>);
    /// ignored targets give 0. "mean" divides the sum by Σ w[t_i] over the non-ignored targets.</item>
    /// <item>Label smoothing ε with class indices: (1 − ε)·nll + (ε/C)·smooth, where
    /// smooth_i = −Σ_c w[c]·log p_i[c] (0 for ignored targets), reduced like the nll term (its "mean"
    /// also divides by Σ w[t_i] over the non-ignored targets).</item>
    /// <item>Probabilities q: the target becomes (1 − ε)·q + ε/C, loss_i = −Σ_c w[c]·q_c·log p_i[c];
    /// "mean" divides by the number of samples N·d1·… (not by the weights). ignore_index does not apply.</item>
    /// </list>
    /// </summary>
    /// <param name="logits">Unnormalized scores.</param>
    /// <param name="target">int64 class indices or float class probabilities (see above).</param>
    /// <param name="reduction">Mean, Sum or None.</param>
    /// <param name="weight">Optional per-class weights, shape [C].</param>
    /// <param name="ignoreIndex">Class-index targets equal to this take no part (default -100).</param>
    /// <param name="labelSmoothing">ε in [0, 1].</param>
    public static Tensor CrossEntropy(Tensor logits, Tensor target, Reduction reduction = Reduction.Mean, Tensor? weight = null,
        int ignoreIndex = DefaultIgnoreIndex, double labelSmoothing = 0)
    {
        const string op = "CrossEntropy";
        CheckReduction(op, reduction);
        logits.CheckFloat(op);
        if (logits.Rank == 0)
            throw new ShapeMismatchException($"CrossEntropy: logits must have shape [N, C], [C] or [N, C, d1, ...], got a 0-d tensor.");
        if (!(labelSmoothing >= 0 && labelSmoothing <= 1))
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), $"{op}: labelSmoothing must be in [0, 1], got {labelSmoothing}.");
        int classDim = logits.Rank == 1 ? 0 : 1;
        int c = logits.Size(classDim);
        CheckClassWeight(op, weight, logits, c);
        if (target.DType.IsFloatingPoint())
        {
            if (!ShapeUtil.SameShape(logits.Shape, target.Shape))
                throw new ShapeMismatchException($"{op}: float targets are class probabilities and must have the logits' shape {ShapeUtil.Format(logits.Shape)}, got {ShapeUtil.Format(target.Shape)}; pass int64 class indices of shape {ShapeUtil.Format(TargetShape(logits))} instead.");
            Tensor.CheckSameDType(op, logits, target);
            if (ignoreIndex >= 0)
                throw new ArgumentException($"{op}: ignoreIndex ({ignoreIndex}) is not supported with probability targets; leave it negative (default {DefaultIgnoreIndex}).", nameof(ignoreIndex));
            var logProbs = logits.LogSoftmax(classDim);
            var q = labelSmoothing > 0 ? target * (1 - labelSmoothing) + labelSmoothing / c : target;
            var prod = logProbs * q;
            if (weight is not null) prod = prod * WeightView(weight, logits.Rank, classDim);
            return reduction switch
            {
                Reduction.Mean => -prod.Sum() / (double)(logits.Numel / Math.Max(c, 1)),
                Reduction.Sum => -prod.Sum(),
                _ => -prod.Sum(classDim),
            };
        }
        CheckClassTarget(op, logits, target, c, ignoreIndex);
        // the common case, [N, C] logits without class weights or smoothing: one fused op (forward and backward)
        if (logits.Rank == 2 && weight is null && labelSmoothing == 0)
            return Tensor.CrossEntropyIndices(logits, target, ignoreIndex, reduction.TorchName());
        var logp = logits.LogSoftmax(classDim);
        var nll = NllCore(logp, target, weight, ignoreIndex, reduction, classDim, out var ignored, out var wSum);
        if (labelSmoothing == 0) return nll;
        var weighted = weight is null ? logp : logp * WeightView(weight, logits.Rank, classDim);
        var smooth = Tensor.Where(ignored, 0.0, -weighted.Sum(classDim));
        var ret = reduction switch
        {
            Reduction.Mean => smooth.Sum() / wSum,
            Reduction.Sum => smooth.Sum(),
            _ => smooth,
        };
        return (1 - labelSmoothing) * nll + ret * (labelSmoothing / c);
    }

    /// <summary>
    /// Negative log-likelihood of log-probabilities <paramref name="input"/> ([N, C], [C] or
    /// [N, C, d1, ...]) at int64 class indices <paramref name="target"/> ([N], [] or [N, d1, ...]), as
    /// PyTorch's <c>F.nll_loss</c>: loss_i = −w[t_i]·input_i[t_i], 0 for targets equal to
    /// <paramref name="ignoreIndex"/>; "mean" divides by Σ w[t_i] over the non-ignored targets (NaN when
    /// every target is ignored, as PyTorch).
    /// </summary>
    public static Tensor NllLoss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean, Tensor? weight = null, int ignoreIndex = DefaultIgnoreIndex)
    {
        const string op = "NllLoss";
        CheckReduction(op, reduction);
        input.CheckFloat(op);
        if (input.Rank == 0)
            throw new ShapeMismatchException($"{op}: input must have shape [N, C], [C] or [N, C, d1, ...], got a 0-d tensor.");
        int classDim = input.Rank == 1 ? 0 : 1;
        int c = input.Size(classDim);
        CheckClassWeight(op, weight, input, c);
        CheckClassTarget(op, input, target, c, ignoreIndex);
        return NllCore(input, target, weight, ignoreIndex, reduction, classDim, out _, out _);
    }

    /// <summary>The shape class-index targets must have for <paramref name="input"/>: input's shape without the class dim.</summary>
    private static int[] TargetShape(Tensor input)
    {
        if (input.Rank == 1) return [];
        var s = input.ShapeArray.ToList();
        s.RemoveAt(1);
        return s.ToArray();
    }

    private static void CheckClassWeight(string op, Tensor? weight, Tensor input, int c)
    {
        if (weight is null) return;
        if (weight.Rank != 1 || weight.Size(0) != c)
            throw new ShapeMismatchException($"{op}: weight must have one entry per class, shape [{c}], got {ShapeUtil.Format(weight.Shape)}.");
        weight.CheckFloat(op);
        Tensor.CheckSameDType(op, input, weight);
    }

    private static void CheckClassTarget(string op, Tensor input, Tensor target, int c, int ignoreIndex)
    {
        if (target.DType != DType.Int64)
            throw new DTypeMismatchException($"{op}: targets must be int64 class indices{(op == "CrossEntropy" ? " or float class probabilities of the logits' shape" : "")}, got {target.DType.Name()} of shape {ShapeUtil.Format(target.Shape)}.");
        var want = TargetShape(input);
        if (!ShapeUtil.SameShape(target.Shape, want))
            throw new ShapeMismatchException($"{op}: for input of shape {ShapeUtil.Format(input.Shape)} the class-index targets must have shape {ShapeUtil.Format(want)}, got {ShapeUtil.Format(target.Shape)}.");
        var t = target.DenseSpan<long>();
        for (int i = 0; i < t.Length; i++)
            if ((t[i] < 0 || t[i] >= c) && t[i] != ignoreIndex)
                throw new IndexOutOfBoundsException(op, t[i], c, null, $"{op}: target {t[i]} (at flat position {i} of the targets of shape {ShapeUtil.Format(target.Shape)}, input shape {ShapeUtil.Format(input.Shape)}) is out of bounds for {c} classes; targets must lie in [0, {c}) or equal ignoreIndex ({ignoreIndex}).");
    }

    /// <summary>The class weights viewed as [1, C, 1, ...] so they broadcast along the class dim.</summary>
    private static Tensor WeightView(Tensor weight, int rank, int classDim)
    {
        var shape = Enumerable.Repeat(1, rank).ToArray();
        shape[classDim] = weight.Size(0);
        return weight.Reshape(shape);
    }

    /// <summary>
    /// The nll term on log-probabilities, reduced; also returns the ignore mask (target shape) and the
    /// "mean" denominator Σ w[t_i] over the non-ignored targets.
    /// </summary>
    private static Tensor NllCore(Tensor logp, Tensor target, Tensor? weight, int ignoreIndex, Reduction reduction, int classDim,
        out Tensor ignored, out Tensor weightSum)
    {
        ignored = target.Eq(ignoreIndex);
        var safe = Tensor.Where(ignored, 0L, target); // ignored entries point at class 0 and are masked below
        var picked = logp.Gather(classDim, safe.Unsqueeze(classDim)).Squeeze(classDim);
        Tensor w = weight is null
            ? Tensor.Where(ignored, 0.0, 1.0, logp.DType)
            : Tensor.Where(ignored, 0.0, weight.IndexSelect(0, safe.Reshape(-1)).Reshape(target.ShapeArray));
        var loss = Tensor.Where(ignored, 0.0, -(picked * w));
        weightSum = w.Sum();
        return reduction switch
        {
            Reduction.Mean => loss.Sum() / weightSum,
            Reduction.Sum => loss.Sum(),
            _ => loss,
        };
    }

    /// <summary>
    /// Binary cross entropy on logits, stable for any logit size (PyTorch's
    /// <c>F.binary_cross_entropy_with_logits</c>):
    /// ℓ = w·[(1 − y)·x + (1 + (p − 1)·y)·log(1 + e^(−x))], with log(1 + e^(−x)) computed as a stable
    /// softplus. <paramref name="posWeight"/> p (broadcast along the last dim, e.g. shape [C]) weighs the
    /// positive term; <paramref name="weight"/> w broadcasts to the input's shape.
    /// </summary>
    public static Tensor BceWithLogits(Tensor input, Tensor target, Reduction reduction = Reduction.Mean, Tensor? weight = null, Tensor? posWeight = null)
    {
        const string op = "BceWithLogits";
        CheckReduction(op, reduction);
        CheckFloatPair(op, input, target);
        CheckSameShape(op, input, target);
        if (weight is not null) CheckBroadcastsTo(op, "weight", weight, input);
        if (posWeight is not null) CheckBroadcastsTo(op, "posWeight", posWeight, input);
        if (weight is null && posWeight is null && LogitLossCall(BceWithLogitsOp, Kernels.LogitLoss.BceWithLogits, input, target, reduction) is { } fused) return fused;
        var loss = BceWithLogitsCore(input, target, posWeight);
        if (weight is not null) loss = loss * weight;
        return Reduce(op, loss, reduction);
    }

    private static Tensor BceWithLogitsCore(Tensor x, Tensor y, Tensor? posWeight)
    {
        // log(1 + e^(-x)) = softplus(-x); no threshold, so the stable form max(v, 0) + log1p(e^-|v|) is used everywhere
        var sp = (-x).Softplus(1, double.PositiveInfinity);
        var logWeight = posWeight is null ? null : (posWeight - 1.0) * y + 1.0;
        return (1.0 - y) * x + (logWeight is null ? sp : logWeight * sp);
    }

    /// <summary>
    /// Kullback–Leibler divergence loss (PyTorch's <c>F.kl_div</c>) with <paramref name="input"/> in log
    /// space: pointwise target·(log target − input), or e^target·(target − input) when
    /// <paramref name="logTarget"/>. Reduction "mean" averages over all elements, "batchmean" divides
    /// the sum by the batch size input.Size(0) (the true KL divergence per sample), "sum", "none".
    /// Zero targets contribute 0 (0·log 0 = 0), with a finite gradient.
    /// </summary>
    public static Tensor KlDiv(Tensor input, Tensor target, Reduction reduction = Reduction.Mean, bool logTarget = false)
    {
        const string op = "KlDiv";
        CheckReduction(op, reduction, batchMean: true);
        CheckFloatPair(op, input, target);
        CheckSameShape(op, input, target);
        if (LogitLossCall(KlDivOp, logTarget ? Kernels.LogitLoss.KlDivLogTarget : Kernels.LogitLoss.KlDiv, input, target, reduction) is { } fused) return fused;
        Tensor loss;
        if (logTarget) loss = target.Exp() * (target - input);
        else
        {
            var zero = target.Eq(0.0);
            var xlogx = Tensor.Where(zero, 0.0, target * Tensor.Where(zero, 1.0, target).Log());
            loss = xlogx - target * input;
        }
        if (reduction == Reduction.BatchMean)
            return input.Rank == 0 ? loss.Sum() : loss.Sum() / (double)input.Size(0);
        return Reduce(op, loss, reduction);
    }

    /// <summary>
    /// Sigmoid focal loss for dense detection (Lin et al. 2017; torchvision's
    /// <c>sigmoid_focal_loss</c>): with p = σ(x), p_t = p·y + (1 − p)(1 − y) and
    /// α_t = α·y + (1 − α)(1 − y), ℓ = α_t·BCEWithLogits(x, y)·(1 − p_t)^γ; α &lt; 0 disables the α_t
    /// factor. The default reduction is None, as torchvision's.
    /// </summary>
    public static Tensor SigmoidFocalLoss(Tensor input, Tensor target, double alpha = 0.25, double gamma = 2, Reduction reduction = Reduction.None)
    {
        const string op = "SigmoidFocalLoss";
        CheckReduction(op, reduction);
        CheckFloatPair(op, input, target);
        CheckSameShape(op, input, target);
        if (!(gamma >= 0)) throw new ArgumentOutOfRangeException(nameof(gamma), $"{op}: gamma must be non-negative, got {gamma}.");
        var p = input.Sigmoid();
        var ce = BceWithLogitsCore(input, target, null);
        var pt = p * target + (1.0 - p) * (1.0 - target);
        var loss = ce * (1.0 - pt).Pow(gamma);
        if (alpha >= 0)
            loss = (alpha * target + (1 - alpha) * (1.0 - target)) * loss;
        return Reduce(op, loss, reduction);
    }
}

/// <summary>Module form of <see cref="Losses.MseLoss"/>.</summary>
public sealed class MSELoss(Reduction reduction = Reduction.Mean)
{
    /// <summary>The reduction.</summary>
    public Reduction Reduction { get; } = reduction;

    /// <summary>Computes the loss.</summary>
    public Tensor Forward(Tensor input, Tensor target) => Losses.MseLoss(input, target, Reduction);
}

/// <summary>Module form of <see cref="Losses.L1Loss"/>.</summary>
public sealed class L1Loss(Reduction reduction = Reduction.Mean)
{
    /// <summary>The reduction.</summary>
    public Reduction Reduction { get; } = reduction;

    /// <summary>Computes the loss.</summary>
    public Tensor Forward(Tensor input, Tensor target) => Losses.L1Loss(input, target, Reduction);
}

/// <summary>Module form of <see cref="Losses.CrossEntropy"/> (PyTorch's nn.CrossEntropyLoss).</summary>
public sealed class CrossEntropyLoss(Reduction reduction = Reduction.Mean, Tensor? weight = null, int ignoreIndex = Losses.DefaultIgnoreIndex, double labelSmoothing = 0)
{
    /// <summary>The reduction.</summary>
    public Reduction Reduction { get; } = reduction;

    /// <summary>Per-class weights [C], or null.</summary>
    public Tensor? Weight { get; } = weight;

    /// <summary>Class-index targets equal to this are ignored.</summary>
    public int IgnoreIndex { get; } = ignoreIndex;

    /// <summary>Label smoothing ε.</summary>
    public double LabelSmoothing { get; } = labelSmoothing;

    /// <summary>Computes the loss.</summary>
    public Tensor Forward(Tensor logits, Tensor target) => Losses.CrossEntropy(logits, target, Reduction, Weight, IgnoreIndex, LabelSmoothing);
}

/// <summary>Module form of <see cref="Losses.NllLoss"/> (PyTorch's nn.NLLLoss).</summary>
public sealed class NLLLoss(Reduction reduction = Reduction.Mean, Tensor? weight = null, int ignoreIndex = Losses.DefaultIgnoreIndex)
{
    /// <summary>The reduction.</summary>
    public Reduction Reduction { get; } = reduction;

    /// <summary>Per-class weights [C], or null.</summary>
    public Tensor? Weight { get; } = weight;

    /// <summary>Targets equal to this are ignored.</summary>
    public int IgnoreIndex { get; } = ignoreIndex;

    /// <summary>Computes the loss.</summary>
    public Tensor Forward(Tensor input, Tensor target) => Losses.NllLoss(input, target, Reduction, Weight, IgnoreIndex);
}

/// <summary>Module form of <see cref="Losses.BceWithLogits"/> (PyTorch's nn.BCEWithLogitsLoss).</summary>
public sealed class BCEWithLogitsLoss(Reduction reduction = Reduction.Mean, Tensor? weight = null, Tensor? posWeight = null)
{
    /// <summary>The reduction.</summary>
    public Reduction Reduction { get; } = reduction;

    /// <summary>Elementwise weights (broadcast to the input), or null.</summary>
    public Tensor? Weight { get; } = weight;

    /// <summary>Weights of the positive term (broadcast along the last dim), or null.</summary>
    public Tensor? PosWeight { get; } = posWeight;

    /// <summary>Computes the loss.</summary>
    public Tensor Forward(Tensor input, Tensor target) => Losses.BceWithLogits(input, target, Reduction, Weight, PosWeight);
}

/// <summary>Module form of <see cref="Losses.KlDiv"/> (PyTorch's nn.KLDivLoss).</summary>
public sealed class KLDivLoss(Reduction reduction = Reduction.Mean, bool logTarget = false)
{
    /// <summary>The reduction (Mean, BatchMean, Sum or None).</summary>
    public Reduction Reduction { get; } = reduction;

    /// <summary>True when the target is given in log space.</summary>
    public bool LogTarget { get; } = logTarget;

    /// <summary>Computes the loss; <paramref name="input"/> holds log-probabilities.</summary>
    public Tensor Forward(Tensor input, Tensor target) => Losses.KlDiv(input, target, Reduction, LogTarget);
}

/// <summary>Module form of <see cref="Losses.SigmoidFocalLoss"/>.</summary>
public sealed class FocalLoss(double alpha = 0.25, double gamma = 2, Reduction reduction = Reduction.None)
{
    /// <summary>Balance between positives (α) and negatives (1 − α); negative disables it.</summary>
    public double Alpha { get; } = alpha;

    /// <summary>Focusing exponent γ.</summary>
    public double Gamma { get; } = gamma;

    /// <summary>The reduction.</summary>
    public Reduction Reduction { get; } = reduction;

    /// <summary>Computes the loss on logits.</summary>
    public Tensor Forward(Tensor input, Tensor target) => Losses.SigmoidFocalLoss(input, target, Alpha, Gamma, Reduction);
}
