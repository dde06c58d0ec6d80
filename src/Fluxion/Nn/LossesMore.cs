namespace Fluxion.Nn;

// More losses of torch.nn.functional (PyTorch 1.13 semantics and defaults), each a composite of registered ops with its
// registry entry next to it. Label-like targets (±1, class indices) are not differentiated in PyTorch; here float
// targets still get their (mathematical) gradients, as the other losses of this class.
[OpTable]
public static partial class Losses
{
    private static OpSample Sample(string label, Func<Tensor[], Tensor> call, bool secondOrder, params Tensor[] inputs) => new(label, inputs, call, secondOrder);
    private static Tensor R(int seed, params int[] shape) => OpSamples.Make(OpSamples.Domain.Real, seed, shape);
    private static Tensor U(int seed, params int[] shape) => OpSamples.Make(OpSamples.Domain.UnitInterval, seed, shape);
    private static Tensor P(int seed, params int[] shape) => OpSamples.Make(OpSamples.Domain.Positive, seed, shape);
    private static Tensor Signs(params double[] v) => Tensor.FromArray(v, v.Length);

    private static void CheckPair(string op, Tensor input, Tensor target)
    {
        CheckFloatPair(op, input, target);
        CheckSameShape(op, input, target);
    }

    // ---- regression ---------------------------------------------------------------------------------

    /// <summary>Huber loss (PyTorch's <c>F.huber_loss</c>): ½d² where |d| &lt; δ, else δ(|d| − ½δ), d = input − target.</summary>
    public static Tensor HuberLoss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean, double delta = 1)
    {
        const string op = "HuberLoss";
        CheckReduction(op, reduction);
        CheckPair(op, input, target);
        if (!(delta > 0)) throw new ArgumentException($"{op}: delta must be positive, got {delta}.", nameof(delta));
        if (PointwiseLossCall(HuberLossOp, Kernels.PointwiseLoss.Huber, delta, input, target, reduction) is { } fused) return fused;
        var d = input - target;
        var a = d.Abs();
        return Reduce(op, Tensor.Where(a.Lt(delta), 0.5 * d * d, delta * (a - 0.5 * delta)), reduction);
    }

    /// <summary>Smooth L1 loss (PyTorch's <c>F.smooth_l1_loss</c>): ½d²/β where |d| &lt; β, else |d| − ½β; β = 0 is the L1 loss.</summary>
    public static Tensor SmoothL1Loss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean, double beta = 1)
    {
        const string op = "SmoothL1Loss";
        CheckReduction(op, reduction);
        CheckPair(op, input, target);
        if (!(beta >= 0)) throw new ArgumentException($"{op}: beta must be non-negative, got {beta}.", nameof(beta));
        if (beta == 0) return L1Loss(input, target, reduction);
        if (PointwiseLossCall(SmoothL1LossOp, Kernels.PointwiseLoss.SmoothL1, beta, input, target, reduction) is { } fused) return fused;
        var d = input - target;
        var a = d.Abs();
        return Reduce(op, Tensor.Where(a.Lt(beta), 0.5 / beta * d * d, a - 0.5 * beta), reduction);
    }

    internal static readonly OpDef GaussianNllLossOp = new("GaussianNllLoss", OpFamily.NN, "nn.functional.gaussian_nll_loss")
    {
        CompositeOf = ["Sub", "Square", "Div", "Log", "Add", "Mean"],
        Samples = () => [Sample("same shape", t => GaussianNllLoss(t[0], t[1], t[2]), true, R(1, 3, 4), R(2, 3, 4), P(3, 3, 4)),
            Sample("var per sample full", t => GaussianNllLoss(t[0], t[1], t[2], full: true, reduction: Reduction.Sum), true, R(4, 3, 4), R(5, 3, 4), P(6, 3))],
    };

    /// <summary>The least and greatest element of a float tensor in one SIMD pass each (NaN if any element is NaN, unless
    /// <paramref name="ignoreNaN"/>: then NaN elements are skipped); (+inf, -inf) when empty.</summary>
    private static (double Min, double Max) MinMax(Tensor t, bool ignoreNaN)
    {
        if (t.Numel == 0) return (double.PositiveInfinity, double.NegativeInfinity);
        if (t.DType == DType.Float32)
        {
            var s = t.DenseSpan<float>();
            return ignoreNaN ? (System.Numerics.Tensors.TensorPrimitives.MinNumber(s), System.Numerics.Tensors.TensorPrimitives.MaxNumber(s))
                : (System.Numerics.Tensors.TensorPrimitives.Min(s), System.Numerics.Tensors.TensorPrimitives.Max(s));
        }
        var d = t.DType == DType.Float64 ? t.DenseSpan<double>() : t.ToDoubleArray();
        return ignoreNaN ? (System.Numerics.Tensors.TensorPrimitives.MinNumber(d), System.Numerics.Tensors.TensorPrimitives.MaxNumber(d))
            : (System.Numerics.Tensors.TensorPrimitives.Min(d), System.Numerics.Tensors.TensorPrimitives.Max(d));
    }

    /// <summary>
    /// Gaussian negative log-likelihood (PyTorch's <c>F.gaussian_nll_loss</c>): ½(log v + (input − target)²/v) (+ ½log 2π when
    /// <paramref name="full"/>), with the variance v of the input's shape, of its shape without the last dim, or with last dim 1.
    /// v is raised to at least <paramref name="eps"/> without that taking part in the gradient (as PyTorch); negative v throws.
    /// </summary>
    public static Tensor GaussianNllLoss(Tensor input, Tensor target, Tensor var, bool full = false, double eps = 1e-6, Reduction reduction = Reduction.Mean)
    {
        const string op = "GaussianNllLoss";
        CheckReduction(op, reduction);
        CheckFloatPair(op, input, target);
        var.CheckFloat(op);
        Tensor.CheckSameDType(op, input, var);
        if (!ShapeUtil.SameShape(var.Shape, input.Shape))
        {
            var inLead = input.ShapeArray[..Math.Max(input.Rank - 1, 0)];
            if (input.Rank >= 1 && ShapeUtil.SameShape(var.ShapeArray, inLead)) var = var.Unsqueeze(-1);
            else if (!(input.Rank >= 1 && var.Rank == input.Rank && var.Size(-1) == 1 && ShapeUtil.SameShape(var.ShapeArray[..^1], inLead)))
                throw new ShapeMismatchException($"{op}: var of shape {ShapeUtil.Format(var.Shape)} must have the input's shape {ShapeUtil.Format(input.Shape)}, that shape without the last dim, or last dim 1.");
        }
        if (MinMax(var, ignoreNaN: true).Min < 0) throw new ArgumentException($"{op}: var has negative entries.", nameof(var));
        var v = var + (var.ClampMin(eps) - var).Detach();
        var loss = 0.5 * (v.Log() + (input - target).Square() / v);
        if (full) loss = loss + 0.5 * Math.Log(2 * Math.PI);
        return Reduce(op, loss, reduction);
    }

    // the log-rate form without Stirling's term is a fused logit loss (one pass forward, one per input backward); the rest composites
    internal static readonly FusedDef PoissonNllLossOp = LogitLossDef("PoissonNllLoss", "nn.functional.poisson_nll_loss", (a, b, r, _) => PoissonNllLoss(a, b, reduction: r),
        () => [Sample("log input", t => PoissonNllLoss(t[0], t[1]), true, R(1, 3, 4), P(2, 3, 4)),
            Sample("log input none", t => PoissonNllLoss(t[0], t[1], reduction: Reduction.None), true, R(5, 2, 3), P(6, 2, 3)),
            Sample("rate full", t => PoissonNllLoss(t[0], t[1], logInput: false, full: true, reduction: Reduction.None), true, P(3, 6), P(4, 6))]);

    /// <summary>
    /// Poisson negative log-likelihood (PyTorch's <c>F.poisson_nll_loss</c>): e^input − target·input with
    /// <paramref name="logInput"/>, else input − target·log(input + eps); <paramref name="full"/> adds Stirling's term
    /// target·log target − target + ½log(2π·target) where target &gt; 1.
    /// </summary>
    public static Tensor PoissonNllLoss(Tensor input, Tensor target, bool logInput = true, bool full = false, double eps = 1e-8, Reduction reduction = Reduction.Mean)
    {
        const string op = "PoissonNllLoss";
        CheckReduction(op, reduction);
        CheckPair(op, input, target);
        if (logInput && !full && LogitLossCall(PoissonNllLossOp, Kernels.LogitLoss.PoissonLog, input, target, reduction) is { } fused) return fused;
        var loss = logInput ? input.Exp() - target * input : input - target * (input + eps).Log();
        if (full)
        {
            var small = target.Le(1.0);
            var t = Tensor.Where(small, 2.0, target); // masked entries see a safe value (no NaN in the gradient)
            var stirling = t * t.Log() - t + 0.5 * (2 * Math.PI * t).Log();
            loss = loss + Tensor.Where(small, 0.0, stirling);
        }
        return Reduce(op, loss, reduction);
    }

    // ---- binary classification ------------------------------------------------------------------------

    internal static readonly OpDef BinaryCrossEntropyOp = new("BinaryCrossEntropy", OpFamily.NN, "nn.functional.binary_cross_entropy")
    {
        CompositeOf = ["Log", "ClampMin", "Mul", "Sub", "Mean"],
        Samples = () => [Sample("mean", t => BinaryCrossEntropy(t[0], t[1]), true, U(1, 3, 4), U(2, 3, 4)),
            Sample("weight none", t => BinaryCrossEntropy(t[0], t[1], t[2], Reduction.None), true, U(3, 2, 3), U(4, 2, 3), P(5, 3))],
    };

    /// <summary>
    /// Binary cross entropy on probabilities (PyTorch's <c>F.binary_cross_entropy</c>):
    /// −w·(t·log x + (1 − t)·log(1 − x)), each log clamped below at −100 as PyTorch; <paramref name="weight"/> broadcasts to the input.
    /// </summary>
    public static Tensor BinaryCrossEntropy(Tensor input, Tensor target, Tensor? weight = null, Reduction reduction = Reduction.Mean)
    {
        const string op = "BinaryCrossEntropy";
        CheckReduction(op, reduction);
        CheckPair(op, input, target);
        if (weight is not null) CheckBroadcastsTo(op, "weight", weight, input);
        if (MinMax(input, ignoreNaN: false) is var (lo, hi) && !(lo >= 0 && hi <= 1))   // NaN fails, as PyTorch's check
            throw new ArgumentException($"{op}: every input element must be a probability in [0, 1]; for logits use BceWithLogits.", nameof(input));
        var loss = -(target * input.Log().ClampMin(-100) + (1.0 - target) * (1.0 - input).Log().ClampMin(-100));
        if (weight is not null) loss = loss * weight;
        return Reduce(op, loss, reduction);
    }

    /// <summary>Soft margin loss (PyTorch's <c>F.soft_margin_loss</c>): log(1 + e^(−target·input)), computed stably.</summary>
    public static Tensor SoftMarginLoss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean)
    {
        const string op = "SoftMarginLoss";
        CheckReduction(op, reduction);
        CheckPair(op, input, target);
        if (LogitLossCall(SoftMarginLossOp, Kernels.LogitLoss.SoftMargin, input, target, reduction) is { } fused) return fused;
        return Reduce(op, (-(target * input)).Softplus(1, double.PositiveInfinity), reduction);
    }

    internal static readonly OpDef MarginRankingLossOp = new("MarginRankingLoss", OpFamily.NN, "nn.functional.margin_ranking_loss")
    {
        CompositeOf = ["Sub", "Mul", "ClampMin", "Mean"],
        Samples = () => [Sample("margin 0.2", t => MarginRankingLoss(t[0], t[1], Signs(1, -1, 1, -1, 1), 0.2), false, R(1, 5), R(2, 5))], // piecewise linear
    };

    /// <summary>Margin ranking loss (PyTorch's <c>F.margin_ranking_loss</c>): max(0, −y·(x1 − x2) + margin), broadcasting.</summary>
    public static Tensor MarginRankingLoss(Tensor input1, Tensor input2, Tensor target, double margin = 0, Reduction reduction = Reduction.Mean)
    {
        const string op = "MarginRankingLoss";
        CheckReduction(op, reduction);
        CheckFloatPair(op, input1, input2);
        CheckFloatPair(op, input1, target);
        return Reduce(op, (-target * (input1 - input2) + margin).ClampMin(0.0), reduction);
    }

    internal static readonly OpDef HingeEmbeddingLossOp = new("HingeEmbeddingLoss", OpFamily.NN, "nn.functional.hinge_embedding_loss")
    {
        CompositeOf = ["Sub", "ClampMin", "Where", "Add", "Mean"],
        Samples = () => [Sample("mean", t => HingeEmbeddingLoss(t[0], Signs(1, -1, -1, 1, -1)), false, OpSamples.Make(OpSamples.Domain.Positive, 1, 5) * 0.5)],
    };

    /// <summary>
    /// Hinge embedding loss (PyTorch's <c>F.hinge_embedding_loss</c>): x where y = 1, max(0, margin − x) where y = −1
    /// (elements with other labels get both terms, as PyTorch).
    /// </summary>
    public static Tensor HingeEmbeddingLoss(Tensor input, Tensor target, double margin = 1, Reduction reduction = Reduction.Mean)
    {
        const string op = "HingeEmbeddingLoss";
        CheckReduction(op, reduction);
        CheckFloatPair(op, input, target);
        var marginTerm = Tensor.Where(target.Ne(1.0), (margin - input).ClampMin(0.0), 0.0);
        var selfTerm = Tensor.Where(target.Ne(-1.0), input, 0.0);
        return Reduce(op, marginTerm + selfTerm, reduction);
    }

    internal static readonly OpDef CosineEmbeddingLossOp = new("CosineEmbeddingLoss", OpFamily.NN, "nn.functional.cosine_embedding_loss")
    {
        CompositeOf = ["Mul", "Sum", "Sqrt", "Div", "ClampMin", "Where", "Mean"],
        Samples = () => [Sample("batched", t => CosineEmbeddingLoss(t[0], t[1], Signs(1, -1, 1, -1), -0.9), true, R(1, 4, 3), R(2, 4, 3)),
            Sample("unbatched", t => CosineEmbeddingLoss(t[0], t[1], Tensor.Scalar(1.0, DType.Float64)), true, R(3, 5), R(4, 5))],
    };

    /// <summary>
    /// Cosine embedding loss (PyTorch's <c>F.cosine_embedding_loss</c>) on [N, D] (or [D]) inputs and ±1 targets [N] (or []):
    /// 1 − cos(x1, x2) where y = 1, max(0, cos − margin) where y = −1; cos = Σx1x2/√((Σx1² + ε)(Σx2² + ε)), ε = 1e-12.
    /// </summary>
    public static Tensor CosineEmbeddingLoss(Tensor input1, Tensor input2, Tensor target, double margin = 0, Reduction reduction = Reduction.Mean)
    {
        const string op = "CosineEmbeddingLoss";
        CheckReduction(op, reduction);
        CheckPair(op, input1, input2);
        if (input1.Rank is not (1 or 2) || target.Rank != input1.Rank - 1 || (input1.Rank == 2 && target.Size(0) != input1.Size(0)))
            throw new ShapeMismatchException($"{op}: inputs must be [N, D] with targets [N], or [D] with a 0-d target; got inputs {ShapeUtil.Format(input1.Shape)} and target {ShapeUtil.Format(target.Shape)}.");
        int dim = input1.Rank - 1;
        const double epsilon = 1e-12;
        var prod = (input1 * input2).Sum(dim);
        var m1 = (input1 * input1).Sum(dim) + epsilon;
        var m2 = (input2 * input2).Sum(dim) + epsilon;
        var cos = prod / (m1 * m2).Sqrt();
        var loss = Tensor.Where(target.Eq(1.0), 1.0 - cos, 0.0) + Tensor.Where(target.Eq(-1.0), (cos - margin).ClampMin(0.0), 0.0);
        return Reduce(op, loss, reduction);
    }

    // ---- triplets ------------------------------------------------------------------------------------------

    internal static readonly OpDef TripletMarginLossOp = new("TripletMarginLoss", OpFamily.NN, "nn.functional.triplet_margin_loss")
    {
        CompositeOf = ["PairwiseDistance", "Minimum", "ClampMin", "Mean"],
        Samples = () => [Sample("p=2", t => TripletMarginLoss(t[0], t[1], t[2], margin: 3), true, R(1, 4, 3), R(2, 4, 3), R(3, 4, 3)),
            Sample("p=3 swap", t => TripletMarginLoss(t[0], t[1], t[2], margin: 3, p: 3, swap: true, reduction: Reduction.Sum), true, R(4, 4, 3), R(5, 4, 3), R(6, 4, 3))],
    };

    /// <summary>
    /// Triplet margin loss (PyTorch's <c>F.triplet_margin_loss</c>): max(0, margin + d(a, p) − d(a, n)) with the pairwise p-norm
    /// distance d (plus eps); with <paramref name="swap"/> d(a, n) is replaced by min(d(a, n), d(p, n)).
    /// </summary>
    public static Tensor TripletMarginLoss(Tensor anchor, Tensor positive, Tensor negative, double margin = 1, double p = 2, double eps = 1e-6,
        bool swap = false, Reduction reduction = Reduction.Mean) =>
        TripletMarginWithDistanceLoss(anchor, positive, negative, (a, b) => Tensor.PairwiseDistance(a, b, p, eps), margin, swap, reduction, "TripletMarginLoss");

    internal static readonly OpDef TripletMarginWithDistanceLossOp = new("TripletMarginWithDistanceLoss", OpFamily.NN, "nn.functional.triplet_margin_with_distance_loss")
    {
        CompositeOf = ["PairwiseDistance", "Minimum", "ClampMin", "Mean"],
        Samples = () => [Sample("default distance", t => TripletMarginWithDistanceLoss(t[0], t[1], t[2], margin: 3), true, R(1, 4, 3), R(2, 4, 3), R(3, 4, 3)),
            Sample("cosine distance swap", t => TripletMarginWithDistanceLoss(t[0], t[1], t[2], (a, b) => 1.0 - Tensor.CosineSimilarity(a, b), 1.5, true), true, R(4, 4, 3), R(5, 4, 3), R(6, 4, 3))],
    };

    /// <summary>
    /// Triplet margin loss with a custom distance (PyTorch's <c>F.triplet_margin_with_distance_loss</c>):
    /// max(0, margin + d(a, p) − d(a, n)), d = <paramref name="distanceFunction"/> or the pairwise Euclidean distance.
    /// </summary>
    public static Tensor TripletMarginWithDistanceLoss(Tensor anchor, Tensor positive, Tensor negative, Func<Tensor, Tensor, Tensor>? distanceFunction = null,
        double margin = 1, bool swap = false, Reduction reduction = Reduction.Mean) =>
        TripletMarginWithDistanceLoss(anchor, positive, negative, distanceFunction, margin, swap, reduction, "TripletMarginWithDistanceLoss");

    private static Tensor TripletMarginWithDistanceLoss(Tensor anchor, Tensor positive, Tensor negative, Func<Tensor, Tensor, Tensor>? distance,
        double margin, bool swap, Reduction reduction, string op)
    {
        CheckReduction(op, reduction);
        if (!(margin > 0)) throw new ArgumentException($"{op}: margin must be positive, got {margin}.", nameof(margin));
        CheckFloatPair(op, anchor, positive);
        CheckFloatPair(op, anchor, negative);
        distance ??= (a, b) => Tensor.PairwiseDistance(a, b);
        var dPos = distance(anchor, positive);
        var dNeg = distance(anchor, negative);
        if (swap) dNeg = Tensor.Minimum(dNeg, distance(positive, negative));
        return Reduce(op, (margin + dPos - dNeg).ClampMin(0.0), reduction);
    }

    // ---- multi-class / multi-label margins ------------------------------------------------------------------

    internal static readonly OpDef MultiMarginLossOp = new("MultiMarginLoss", OpFamily.NN, "nn.functional.multi_margin_loss")
    {
        CompositeOf = ["Gather", "Sub", "Relu", "Mul", "Sum", "Mean"],
        Samples = () => [Sample("p=1", t => MultiMarginLoss(t[0], Tensor.FromArray([0L, 2, 1], 3)), false, R(1, 3, 4)), // piecewise linear
            Sample("p=2 weight margin", t => MultiMarginLoss(t[0], Tensor.FromArray([3L, 0], 2), 2, 0.5, t[1], Reduction.None), true, R(2, 2, 4), P(3, 4))],
    };

    /// <summary>
    /// Multi-class margin loss (PyTorch's <c>F.multi_margin_loss</c>) on [N, C] (or [C]) scores and int64 classes [N] (or []):
    /// Σ_{i≠y} w[y]·max(0, margin − x[y] + x[i])^p / C, p ∈ {1, 2}.
    /// </summary>
    public static Tensor MultiMarginLoss(Tensor input, Tensor target, int p = 1, double margin = 1, Tensor? weight = null, Reduction reduction = Reduction.Mean)
    {
        const string op = "MultiMarginLoss";
        CheckReduction(op, reduction);
        input.CheckFloat(op);
        if (p is not (1 or 2)) throw new ArgumentException($"{op}: p must be 1 or 2, got {p}.", nameof(p));
        if (input.Rank is not (1 or 2)) throw new ShapeMismatchException($"{op}: input must be [N, C] or [C], got {ShapeUtil.Format(input.Shape)}.");
        var x = input.Rank == 1 ? input.Unsqueeze(0) : input;
        int c = x.Size(1);
        CheckClassWeight(op, weight, x, c);
        CheckClassTarget(op, x, target.Rank == 0 ? target.Reshape(1) : target, c, int.MinValue);
        var t = target.Reshape(-1, 1);
        var z = (margin - x.Gather(1, t) + x).Relu();
        if (p == 2) z = z * z;
        var notTarget = Tensor.OneHot(target.Reshape(-1), c, x.DType).Neg() + 1.0;
        var loss = (z * notTarget).Sum(1) / (double)c;
        if (weight is not null) loss = loss * weight.IndexSelect(0, target.Reshape(-1));
        if (input.Rank == 1) loss = loss.Reshape();
        return Reduce(op, loss, reduction);
    }

    internal static readonly OpDef MultilabelMarginLossOp = new("MultilabelMarginLoss", OpFamily.NN, "nn.functional.multilabel_margin_loss")
    {
        CompositeOf = ["Unsqueeze", "Sub", "Relu", "Mul", "Sum", "Mean"],
        Samples = () => [Sample("batched", t => MultilabelMarginLoss(t[0], Tensor.FromArray([3L, 0, -1, 1, 1, 2, -1, 0], 2, 4)), false, R(1, 2, 4))], // piecewise linear
    };

    /// <summary>
    /// Multi-label margin loss (PyTorch's <c>F.multilabel_margin_loss</c>) on [N, C] (or [C]) scores and int64 targets of the
    /// same shape listing each sample's classes up to the first −1: Σ_{j ∈ targets} Σ_{i ∉ targets} max(0, 1 − (x[j] − x[i])) / C.
    /// </summary>
    public static Tensor MultilabelMarginLoss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean)
    {
        const string op = "MultilabelMarginLoss";
        CheckReduction(op, reduction);
        input.CheckFloat(op);
        if (input.Rank is not (1 or 2)) throw new ShapeMismatchException($"{op}: input must be [N, C] or [C], got {ShapeUtil.Format(input.Shape)}.");
        if (target.DType != DType.Int64 || !ShapeUtil.SameShape(target.Shape, input.Shape))
            throw new ShapeMismatchException($"{op}: target must be int64 of the input's shape {ShapeUtil.Format(input.Shape)}, got {target.DType.Name()} {ShapeUtil.Format(target.Shape)}.");
        var x = input.Rank == 1 ? input.Unsqueeze(0) : input;
        int n = x.Size(0), c = x.Size(1);
        var tv = target.DenseSpan<long>().ToArray();
        var w = new double[n * c * c]; // w[s, j, i]: how often j is listed × (i is not a target)
        for (int s = 0; s < n; s++)
        {
            var isTarget = new bool[c];
            var listed = new List<int>();
            for (int k = 0; k < c; k++)
            {
                long j = tv[s * c + k];
                if (j == -1) break;
                if (j < 0 || j >= c) throw new IndexOutOfBoundsException(op, j, c, null, $"{op}: target {j} of sample {s} is out of range for {c} classes (end the list with -1).");
                isTarget[j] = true;
                listed.Add((int)j);
            }
            foreach (int j in listed)
                for (int i = 0; i < c; i++)
                    if (!isTarget[i]) w[(s * c + j) * c + i] += 1;
        }
        var weights = Tensor.FromArray(w, n, c, c).To(x.DType);
        var z = (1.0 - x.Unsqueeze(2) + x.Unsqueeze(1)).Relu(); // z[s, j, i] = 1 − (x[j] − x[i])
        var loss = (z * weights).Sum([1, 2]) / (double)c;
        if (input.Rank == 1) loss = loss.Reshape();
        return Reduce(op, loss, reduction);
    }

    internal static readonly OpDef MultilabelSoftMarginLossOp = new("MultilabelSoftMarginLoss", OpFamily.NN, "nn.functional.multilabel_soft_margin_loss")
    {
        CompositeOf = ["LogSigmoid", "Mul", "Sum", "Mean"],
        Samples = () => [Sample("mean", t => MultilabelSoftMarginLoss(t[0], t[1]), true, R(1, 3, 4), U(2, 3, 4)),
            Sample("weight none", t => MultilabelSoftMarginLoss(t[0], t[1], t[2], Reduction.None), true, R(3, 2, 3), U(4, 2, 3), P(5, 3))],
    };

    /// <summary>
    /// Multi-label soft margin loss (PyTorch's <c>F.multilabel_soft_margin_loss</c>): per sample
    /// −mean_c w_c·(y_c·log σ(x_c) + (1 − y_c)·log σ(−x_c)) over the last dim, then reduced over the samples.
    /// </summary>
    public static Tensor MultilabelSoftMarginLoss(Tensor input, Tensor target, Tensor? weight = null, Reduction reduction = Reduction.Mean)
    {
        const string op = "MultilabelSoftMarginLoss";
        CheckReduction(op, reduction);
        CheckPair(op, input, target);
        if (input.Rank == 0) throw new ShapeMismatchException($"{op}: input must have a class dim, got a 0-d tensor.");
        var loss = -(target * input.LogSigmoid() + (1.0 - target) * (-input).LogSigmoid());
        if (weight is not null) { CheckBroadcastsTo(op, "weight", weight, input); loss = loss * weight; }
        loss = loss.Sum(-1) / (double)input.Size(-1);
        return Reduce(op, loss, reduction);
    }
}
