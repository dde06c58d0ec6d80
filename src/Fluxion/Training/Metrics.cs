namespace Fluxion.Training;

/// <summary>
/// A quantity accumulated over the batches of an epoch (training) or of a validation pass: the
/// <see cref="Trainer"/> calls <see cref="Reset"/>, then <see cref="Update"/> once per batch with the
/// model's detached output and the targets, then reads <see cref="Compute"/>.
/// </summary>
public abstract class Metric
{
    /// <summary>The short name shown by the progress display and used as the key in <see cref="EpochResult.Metrics"/>
    /// (validation values get the prefix "val_").</summary>
    public abstract string Name { get; }

    /// <summary>True when the value is a fraction shown as a percentage (e.g. accuracy).</summary>
    public virtual bool IsPercentage => false;

    /// <summary>Forgets the batches seen so far.</summary>
    public abstract void Reset();

    /// <summary>Accumulates one batch.</summary>
    /// <param name="output">The model's output (detached).</param>
    /// <param name="target">The batch's targets.</param>
    public abstract void Update(Tensor output, Tensor target);

    /// <summary>The value over the batches since <see cref="Reset"/> (0 when there were none).</summary>
    public abstract double Compute();
}

/// <summary>Classification accuracy: the fraction of samples whose largest output (over dim 1) is the target class.
/// Name "acc".</summary>
public sealed class Accuracy : Metric
{
    private long _correct, _seen;

    /// <inheritdoc/>
    public override string Name => "acc";

    /// <inheritdoc/>
    public override bool IsPercentage => true;

    /// <inheritdoc/>
    public override void Reset() => (_correct, _seen) = (0, 0);

    /// <inheritdoc/>
    public override void Update(Tensor output, Tensor target)
    {
        if (output.Rank != 2 || target.Rank != 1 || output.Size(0) != target.Size(0))
            throw new ShapeMismatchException($"Accuracy: expected outputs [N, C] and class indices [N], got {ShapeUtil.Format(output.Shape)} and {ShapeUtil.Format(target.Shape)}; use Accuracy with classification outputs only.");
        _correct += (long)output.ArgMax(1).Eq(target).To(DType.Float32).Sum().Item();
        _seen += target.Size(0);
    }

    /// <inheritdoc/>
    public override double Compute() => _seen == 0 ? 0 : (double)_correct / _seen;
}
