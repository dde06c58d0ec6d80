namespace Fluxion.Nn;

// The connectionist temporal classification loss, a composite of registered ops: the forward (alpha) recursion of Graves
// et al. in log space over the extended label sequence, one step per time frame, differentiated by the engine.
public static partial class Losses
{
    /// <summary>A log-probability that stands for log 0 in the recursion: finite, so that no 0·∞ appears in the gradients.</summary>
    private const double CtcLogZero = -1e30;

    internal static readonly OpDef CtcLossOp = new("CtcLoss", OpFamily.NN, "nn.functional.ctc_loss")
    {
        CompositeOf = ["Gather", "Pad", "Narrow", "Where", "Exp", "Log", "Add", "Mean"],
        Samples = () =>
        [
            Sample("padded targets, mean", t => CtcLoss(t[0].LogSoftmax(2), Tensor.FromArray([1L, 2, 2, 1, 0, 0], 2, 3), [4, 3], [3, 1]), true, R(1, 4, 2, 3)),
            Sample("concatenated targets, repeats, sum", t => CtcLoss(t[0].LogSoftmax(2), Tensor.FromArray([1L, 1, 2], 3), [5, 4], [2, 1], reduction: Reduction.Sum), true, R(2, 5, 2, 4)),
            Sample("unbatched, blank 2, none", t => CtcLoss(t[0], Tensor.FromArray([0L, 1], 2), [3], [2], blank: 2, reduction: Reduction.None), true, R(3, 3, 3)),
        ],
    };

    /// <summary>
    /// The CTC loss (PyTorch's <c>F.ctc_loss</c>): −log of the total probability of all alignments of each target sequence with
    /// the input frames. <paramref name="logProbs"/> [T, N, C] (or [T, C] unbatched) are per-frame log-probabilities (e.g. a
    /// log-softmax); <paramref name="targets"/> int64, padded [N, S] or the N sequences concatenated (1-D); sample n uses its first
    /// <paramref name="inputLengths"/>[n] frames and <paramref name="targetLengths"/>[n] labels (no label may be
    /// <paramref name="blank"/>). Mean divides each loss by its target length (at least 1), then averages over the batch, as
    /// PyTorch. Impossible alignments give +∞ (0 with <paramref name="zeroInfinity"/>, and no gradient).
    /// <para>The gradient is the true derivative with respect to <paramref name="logProbs"/>; PyTorch's kernel returns a
    /// gradient that equals it only after a log-softmax (it assumes one), so compare the two through a log-softmax.</para>
    /// </summary>
    public static Tensor CtcLoss(Tensor logProbs, Tensor targets, int[] inputLengths, int[] targetLengths, int blank = 0,
        Reduction reduction = Reduction.Mean, bool zeroInfinity = false)
    {
        const string op = "CtcLoss";
        ArgumentNullException.ThrowIfNull(logProbs);
        ArgumentNullException.ThrowIfNull(targets);
        CheckReduction(op, reduction);
        logProbs.CheckFloat(op);
        bool unbatched = logProbs.Rank == 2;
        if (logProbs.Rank != 3 && !unbatched)
            throw new ShapeMismatchException($"{op}: logProbs must be [T, N, C] (or [T, C] unbatched), got {ShapeUtil.Format(logProbs.Shape)}.");
        var lp = unbatched ? logProbs.Unsqueeze(1) : logProbs;
        int T = lp.Size(0), N = lp.Size(1), C = lp.Size(2);
        if (inputLengths.Length != N || targetLengths.Length != N)
            throw new ShapeMismatchException($"{op}: inputLengths and targetLengths need one entry per batch element ({N}), got {inputLengths.Length} and {targetLengths.Length}.");
        if (blank < 0 || blank >= C) throw new ArgumentException($"{op}: blank {blank} must be a class index in [0, {C}).", nameof(blank));
        if (targets.DType != DType.Int64) throw new DTypeMismatchException($"{op}: targets must be int64, got {targets.DType.Name()}.");
        var tv = targets.ToArray<long>();
        bool padded = targets.Rank == 2 && !unbatched;
        if (!padded && targets.Rank != 1)
            throw new ShapeMismatchException($"{op}: targets must be [N, S] (padded) or 1-D (concatenated), got {ShapeUtil.Format(targets.Shape)}.");
        int smax = 0, total = 0;
        for (int n = 0; n < N; n++)
        {
            if (inputLengths[n] < 1 || inputLengths[n] > T)
                throw new ArgumentException($"{op}: inputLengths[{n}] = {inputLengths[n]} must be in [1, {T}] (T of logProbs {ShapeUtil.Format(logProbs.Shape)}).", nameof(inputLengths));
            if (targetLengths[n] < 0 || (padded && targetLengths[n] > targets.Size(1)))
                throw new ArgumentException($"{op}: targetLengths[{n}] = {targetLengths[n]} is negative or longer than the targets {ShapeUtil.Format(targets.Shape)}.", nameof(targetLengths));
            smax = Math.Max(smax, targetLengths[n]);
            total += targetLengths[n];
        }
        if (!padded && total > tv.Length)
            throw new ShapeMismatchException($"{op}: the target lengths sum to {total}, but the concatenated targets hold {tv.Length}.");
        // the extended sequences (blank, l1, blank, l2, ..., blank), padded with blanks, and where a state may skip the one before
        int L = 2 * smax + 1;
        var ext = new long[N * L];
        var canSkip = new bool[N * L];
        var init = new bool[N * L];
        var last = new long[N];
        var prev = new long[N];
        var hasPrev = new bool[N];
        int start = 0;
        for (int n = 0; n < N; n++)
        {
            int tl = targetLengths[n];
            for (int s = 0; s < L; s++) ext[n * L + s] = blank;
            for (int j = 0; j < tl; j++)
            {
                long lab = padded ? tv[n * targets.Size(1) + j] : tv[start + j];
                if (lab < 0 || lab >= C || lab == blank)
                    throw new ArgumentException($"{op}: target label {lab} of sample {n} must be a class in [0, {C}) other than the blank ({blank}).", nameof(targets));
                ext[n * L + 2 * j + 1] = lab;
                if (j > 0 && ext[n * L + 2 * j - 1] != lab) canSkip[n * L + 2 * j + 1] = true;
            }
            start += tl;
            init[n * L] = true;
            if (tl > 0) init[n * L + 1] = true;
            last[n] = 2 * tl;
            prev[n] = Math.Max(2 * tl - 1, 0);
            hasPrev[n] = tl > 0;
        }
        var e = lp.Gather(2, Tensor.FromArray(ext, 1, N, L).Expand(T, N, L)); // [T, N, L]: log p of each state's label
        var skip = Tensor.FromArray(canSkip, N, L);
        var alpha = Tensor.Where(Tensor.FromArray(init, N, L), e.Select(0, 0), CtcLogZero);
        int tmax = inputLengths.Max();
        for (int t = 1; t < tmax; t++)
        {
            var a1 = alpha.Pad([1, 0], value: CtcLogZero).Narrow(1, 0, L);
            var a2 = Tensor.Where(skip, alpha.Pad([2, 0], value: CtcLogZero).Narrow(1, 0, L), CtcLogZero);
            var next = LogSumExpOf(alpha, a1, a2) + e.Select(0, t);
            var active = new bool[N];
            for (int n = 0; n < N; n++) active[n] = t < inputLengths[n];
            alpha = Tensor.Where(Tensor.FromArray(active, N, 1), next, alpha);
        }
        var aLast = alpha.Gather(1, Tensor.FromArray(last, N, 1));
        var aPrev = Tensor.Where(Tensor.FromArray(hasPrev, N, 1), alpha.Gather(1, Tensor.FromArray(prev, N, 1)), CtcLogZero);
        var loss = (LogSumExpOf(aLast, aPrev) * -1).Reshape(N);
        Tensor impossible;
        using (Autograd.NoGrad()) impossible = loss.Detach().Gt(-CtcLogZero / 10);
        loss = Tensor.Where(impossible, zeroInfinity ? 0.0 : double.PositiveInfinity, loss);
        if (reduction == Reduction.Mean)
        {
            var div = targetLengths.Select(v => (double)Math.Max(v, 1)).ToArray();
            return (loss / Tensor.FromArray(div, N).To(loss.DType)).Mean();
        }
        if (reduction == Reduction.Sum) return loss.Sum();
        return unbatched ? loss.Squeeze(0) : loss;
    }

    /// <summary>log Σ exp of same-shaped tensors, shifted by their (constant) elementwise maximum.</summary>
    private static Tensor LogSumExpOf(params Tensor[] xs)
    {
        Tensor m;
        using (Autograd.NoGrad())
        {
            m = xs[0].Detach();
            for (int i = 1; i < xs.Length; i++) m = Tensor.Maximum(m, xs[i].Detach());
        }
        Tensor? s = null;
        foreach (var x in xs)
        {
            var term = (x - m).Exp();
            s = s is null ? term : s + term;
        }
        return s!.Log() + m;
    }
}

/// <summary>Module form of <see cref="Losses.CtcLoss"/> (PyTorch's <c>nn.CTCLoss</c>).</summary>
/// <param name="blank">The blank class index.</param>
/// <param name="reduction">Mean, Sum or None.</param>
/// <param name="zeroInfinity">Whether impossible alignments give 0 instead of +∞.</param>
public sealed class CTCLoss(int blank = 0, Reduction reduction = Reduction.Mean, bool zeroInfinity = false)
{
    /// <summary>The blank class index.</summary>
    public int Blank { get; } = blank;

    /// <summary>The reduction.</summary>
    public Reduction Reduction { get; } = reduction;

    /// <summary>Computes the loss.</summary>
    public Tensor Forward(Tensor logProbs, Tensor targets, int[] inputLengths, int[] targetLengths) =>
        Losses.CtcLoss(logProbs, targets, inputLengths, targetLengths, Blank, Reduction, zeroInfinity);
}
