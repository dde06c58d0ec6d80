namespace Fluxion.Nn;

/// <summary>Loss functions (PyTorch's torch.nn.functional losses). Reduction is "mean", "sum" or "none".</summary>
public static class Losses
{
    internal static Tensor Reduce(string op, Tensor loss, string reduction) => reduction switch
    {
        "mean" => loss.Mean(),
        "sum" => loss.Sum(),
        "none" => loss,
        _ => throw new ArgumentException($"{op}: reduction must be \"mean\", \"sum\" or \"none\", got \"{reduction}\"."),
    };

    /// <summary>Mean squared error.</summary>
    public static Tensor MseLoss(Tensor input, Tensor target, string reduction = "mean")
    {
        if (!ShapeUtil.SameShape(input.Shape, target.Shape))
            throw new ShapeMismatchException($"MseLoss: input shape {ShapeUtil.Format(input.Shape)} and target shape {ShapeUtil.Format(target.Shape)} differ.");
        return Reduce("MseLoss", (input - target).Square(), reduction);
    }

    /// <summary>
    /// Cross entropy between logits [N, C] and int64 class indices [N], through a fused-stable
    /// log-softmax.
    /// </summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor target, string reduction = "mean")
    {
        if (logits.Rank != 2)
            throw new ShapeMismatchException($"CrossEntropy: logits must have shape [N, C], got {ShapeUtil.Format(logits.Shape)}.");
        if (target.DType != DType.Int64)
            throw new DTypeMismatchException($"CrossEntropy: targets must be int64 class indices, got {target.DType.Name()}.");
        if (target.Rank != 1 || target.Size(0) != logits.Size(0))
            throw new ShapeMismatchException($"CrossEntropy: targets must have shape [{logits.Size(0)}] for logits {ShapeUtil.Format(logits.Shape)}, got {ShapeUtil.Format(target.Shape)}.");
        var nll = -logits.LogSoftmax(1).Gather(1, target.Unsqueeze(1)).Squeeze(1);
        return Reduce("CrossEntropy", nll, reduction);
    }
}

/// <summary>Module form of <see cref="Losses.MseLoss"/>.</summary>
public sealed class MSELoss(string reduction = "mean")
{
    /// <summary>Computes the loss.</summary>
    public Tensor Forward(Tensor input, Tensor target) => Losses.MseLoss(input, target, reduction);
}

/// <summary>Module form of <see cref="Losses.CrossEntropy"/>.</summary>
public sealed class CrossEntropyLoss(string reduction = "mean")
{
    /// <summary>Computes the loss.</summary>
    public Tensor Forward(Tensor logits, Tensor target) => Losses.CrossEntropy(logits, target, reduction);
}
