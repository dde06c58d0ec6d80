namespace Fluxion.Nn;

/// <summary>
/// Gradient estimators for discrete choices: the straight-through estimator and Gumbel-softmax
/// sampling (PyTorch's <c>F.gumbel_softmax</c>).
/// </summary>
public static class Estimators
{
    /// <summary>
    /// Straight-through estimator: the value of <paramref name="hard"/> with the gradient of
    /// <paramref name="soft"/>, i.e. hard + soft − soft.Detach(). It is computed as
    /// hard + (soft − soft.Detach()), whose value is exactly <paramref name="hard"/> (for finite soft
    /// values). A non-float <paramref name="hard"/> (e.g. bool or int64) is converted to soft's dtype.
    /// </summary>
    public static Tensor StraightThrough(Tensor hard, Tensor soft)
    {
        ArgumentNullException.ThrowIfNull(hard);
        ArgumentNullException.ThrowIfNull(soft);
        soft.CheckFloat("StraightThrough");
        if (!hard.DType.IsFloatingPoint()) hard = hard.To(soft.DType);
        return hard + (soft - soft.Detach());
    }

    /// <summary>
    /// A sample from the Gumbel-softmax (concrete) distribution, as PyTorch's <c>F.gumbel_softmax</c>:
    /// y = softmax((logits + g) / τ) along <paramref name="dim"/>, with g ~ Gumbel(0, 1) drawn from
    /// <paramref name="generator"/> (or <see cref="Generator.Default"/>). With <paramref name="hard"/>
    /// the value is the one-hot vector of argmax y (exactly), differentiated as y (straight through).
    /// </summary>
    /// <param name="logits">Unnormalized log-probabilities.</param>
    /// <param name="tau">Temperature τ &gt; 0.</param>
    /// <param name="hard">Return one-hot samples with straight-through gradients.</param>
    /// <param name="dim">The category dim.</param>
    /// <param name="generator">Random source for the Gumbel noise.</param>
    public static Tensor GumbelSoftmax(Tensor logits, double tau = 1, bool hard = false, int dim = -1, Generator? generator = null)
    {
        const string op = "GumbelSoftmax";
        ArgumentNullException.ThrowIfNull(logits);
        logits.CheckFloat(op);
        if (!(tau > 0)) throw new ArgumentOutOfRangeException(nameof(tau), $"{op}: tau must be positive, got {tau}.");
        int d = ShapeUtil.WrapDim(op, dim, logits.Rank);
        var g = generator ?? Generator.Default;
        var noise = new double[logits.Numel];
        for (int i = 0; i < noise.Length; i++)
        {
            // u in (0, 1) strictly, so -log(-log u) is finite
            double u = g.NextDouble() + 0.5 / (1UL << 53);
            noise[i] = -Math.Log(-Math.Log(u));
        }
        var gumbels = Tensor.FromDoubles(noise, logits.ShapeArray, logits.DType);
        var ySoft = ((logits + gumbels) / tau).Softmax(d);
        if (!hard) return ySoft;
        Tensor yHard;
        using (Autograd.NoGrad())
        {
            var index = ySoft.Detach().ArgMax(d, keepDim: true);
            yHard = Tensor.Zeros(logits.ShapeArray, logits.DType).ScatterAdd(d, index, Tensor.Ones(index.ShapeArray, logits.DType));
        }
        return StraightThrough(yHard, ySoft);
    }
}
