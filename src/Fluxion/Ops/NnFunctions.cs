namespace Fluxion;

/// <summary>How <see cref="Tensor.Pad(int[], PadMode, double)"/> fills the border (PyTorch's <c>F.pad</c> modes).</summary>
public enum PadMode
{
    /// <summary>A constant value (may also crop with negative pads).</summary>
    Constant,
    /// <summary>Mirror without repeating the edge element (pad &lt; size).</summary>
    Reflect,
    /// <summary>Repeat the edge element.</summary>
    Replicate,
    /// <summary>Wrap around (pad ≤ size).</summary>
    Circular,
}

// Distance, normalization, pixel-shuffle and padding functions of torch.nn.functional, as composites of registered ops.
public partial class Tensor
{
    internal static readonly OpDef NormalizeOp = new("Normalize", OpFamily.NN, "nn.functional.normalize")
    {
        CompositeOf = ["Div", "Pow", "Sum", "ClampMin"],
        Samples = () => [new("p=2 dim 1", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 4)], t => t[0].Normalize()),
            new("p=1 dim 0", [OpSamples.Make(OpSamples.Domain.AwayFromZero, 2, 3, 4)], t => t[0].Normalize(1, 0)),
            new("p=3 dim -1", [OpSamples.Make(OpSamples.Domain.AwayFromZero, 3, 4, 3).T], t => t[0].Normalize(3, -1))],
    };
    internal static readonly OpDef CosineSimilarityOp = new("CosineSimilarity", OpFamily.NN, "nn.functional.cosine_similarity")
    {
        CompositeOf = ["Div", "Mul", "Sum", "Sqrt"],
        Samples = () => [new("2-d", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 4), OpSamples.Make(OpSamples.Domain.Real, 2, 3, 4)], t => CosineSimilarity(t[0], t[1])),
            new("broadcast dim 0", [OpSamples.Make(OpSamples.Domain.Real, 3, 4, 1), OpSamples.Make(OpSamples.Domain.Real, 4, 4, 3)], t => CosineSimilarity(t[0], t[1], 0))],
    };
    internal static readonly OpDef PairwiseDistanceOp = new("PairwiseDistance", OpFamily.NN, "nn.functional.pairwise_distance")
    {
        CompositeOf = ["Sub", "Add", "Pow", "Sum", "Abs"],
        Samples = () => [new("p=2", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 4), OpSamples.Make(OpSamples.Domain.Real, 2, 3, 4)], t => PairwiseDistance(t[0], t[1])),
            new("p=1 keepdim", [OpSamples.Make(OpSamples.Domain.Real, 3, 3, 4), OpSamples.Make(OpSamples.Domain.Real, 4, 4)], t => PairwiseDistance(t[0], t[1], 1, keepDim: true), SecondOrder: false), // |.|'' is 0 a.e. but kinked
            new("p=3", [OpSamples.Make(OpSamples.Domain.Real, 5, 2, 5), OpSamples.Make(OpSamples.Domain.Real, 6, 2, 5)], t => PairwiseDistance(t[0], t[1], 3))],
    };
    internal static readonly OpDef PdistOp = new("Pdist", OpFamily.NN, "nn.functional.pdist")
    {
        CompositeOf = ["IndexSelect", "Sub", "Pow", "Sum", "Abs"],
        Samples = () => [new("p=2", [OpSamples.Make(OpSamples.Domain.Real, 1, 4, 3)], t => Pdist(t[0])),
            new("p=1.5", [OpSamples.Make(OpSamples.Domain.Real, 2, 3, 2)], t => Pdist(t[0], 1.5))],
    };
    internal static readonly OpDef PixelShuffleOp = new("PixelShuffle", OpFamily.NN, "nn.functional.pixel_shuffle")
    {
        CompositeOf = ["Reshape", "Permute"],
        Samples = () => [new("r=2", [OpSamples.Make(OpSamples.Domain.Real, 1, 1, 8, 2, 3)], t => t[0].PixelShuffle(2))],
    };
    internal static readonly OpDef PixelUnshuffleOp = new("PixelUnshuffle", OpFamily.NN, "nn.functional.pixel_unshuffle")
    {
        CompositeOf = ["Reshape", "Permute"],
        Samples = () => [new("r=2", [OpSamples.Make(OpSamples.Domain.Real, 1, 2, 4, 6)], t => t[0].PixelUnshuffle(2))],
    };
    internal static readonly OpDef PadOp = new("Pad", OpFamily.NN, "nn.functional.pad")
    {
        CompositeOf = ["Cat", "Narrow", "IndexSelect"],
        Samples = () => [new("constant", [OpSamples.Make(OpSamples.Domain.Real, 1, 2, 3, 4)], t => t[0].Pad([1, 2, 0, 1], value: 0.5)),
            new("constant crop", [OpSamples.Make(OpSamples.Domain.Real, 2, 3, 4)], t => t[0].Pad([-1, 2])),
            new("reflect", [OpSamples.Make(OpSamples.Domain.Real, 3, 1, 3, 4)], t => t[0].Pad([2, 1, 1, 2], PadMode.Reflect)),
            new("replicate", [OpSamples.Make(OpSamples.Domain.Real, 4, 2, 3)], t => t[0].Pad([2, 3], PadMode.Replicate)),
            new("circular", [OpSamples.Make(OpSamples.Domain.Real, 5, 1, 3, 4)], t => t[0].Pad([1, 2, 3, 0], PadMode.Circular))],
    };

    /// <summary>The p-norm of <paramref name="x"/> along <paramref name="dim"/> (p &gt; 0 finite), from registered ops.</summary>
    internal static Tensor PNorm(Tensor x, double p, int dim, bool keepDim)
    {
        if (!(p > 0) || double.IsInfinity(p))
            throw new ArgumentException($"p-norm: p must be positive and finite, got {p}.", nameof(p));
        if (p == 2) return x.Square().Sum(dim, keepDim).Sqrt();
        if (p == 1) return x.Abs().Sum(dim, keepDim);
        return x.Abs().Pow(p).Sum(dim, keepDim).Pow(1 / p);
    }

    /// <summary>x / max(‖x‖_p, eps) along <paramref name="dim"/> (PyTorch's <c>F.normalize</c>).</summary>
    public Tensor Normalize(double p = 2, int dim = 1, double eps = 1e-12)
    {
        CheckFloat("Normalize");
        return this / PNorm(this, p, dim, true).ClampMin(eps);
    }

    /// <summary>
    /// Cosine similarity along <paramref name="dim"/> of the broadcast inputs (PyTorch 1.13's <c>F.cosine_similarity</c>):
    /// Σ (x1/‖x1‖)(x2/‖x2‖), each norm raised to at least <paramref name="eps"/> (the raise takes no part in the gradient, as PyTorch).
    /// </summary>
    public static Tensor CosineSimilarity(Tensor x1, Tensor x2, int dim = 1, double eps = 1e-8)
    {
        const string op = "CosineSimilarity";
        x1.CheckFloat(op);
        CheckSameDType(op, x1, x2);
        var shape = ShapeUtil.Broadcast(op, x1.ShapeRef, x2.ShapeRef);
        if (!ShapeUtil.SameShape(x1.ShapeRef, shape)) x1 = x1.Expand(shape);
        if (!ShapeUtil.SameShape(x2.ShapeRef, shape)) x2 = x2.Expand(shape);
        // PyTorch 1.13 clamps the norms in place under no_grad, so the norm's backward reads the clamped value:
        // the value is max(‖x‖, eps) and its derivative x/max(‖x‖, eps)
        Tensor N(Tensor x)
        {
            var n = PNorm(x, 2, dim, true);
            var nc = n.ClampMin(eps).Detach();
            var q = x.Square().Sum(dim, true) / (2 * nc);
            return Where(n.Lt(eps), nc + (q - q.Detach()), n);
        }
        return (x1 / N(x1) * (x2 / N(x2))).Sum(dim);
    }

    /// <summary>‖x1 − x2 + eps‖_p over the last dim (PyTorch's <c>F.pairwise_distance</c>).</summary>
    public static Tensor PairwiseDistance(Tensor x1, Tensor x2, double p = 2, double eps = 1e-6, bool keepDim = false)
    {
        x1.CheckFloat("PairwiseDistance");
        CheckSameDType("PairwiseDistance", x1, x2);
        return PNorm(x1 - x2 + eps, p, -1, keepDim);
    }

    /// <summary>
    /// The p-norm distances between the rows of a 2-D <paramref name="input"/> [N, M] for every pair i &lt; j, in row-major
    /// order of the upper triangle: shape [N(N − 1)/2] (PyTorch's <c>F.pdist</c>).
    /// </summary>
    public static Tensor Pdist(Tensor input, double p = 2)
    {
        input.CheckFloat("Pdist");
        if (input.Rank != 2) throw new ShapeMismatchException($"Pdist: the input must be 2-D [N, M], got {ShapeUtil.Format(input.Shape)}.");
        int n = input.Size(0), m = n * (n - 1) / 2, k = 0;
        var a = new long[Math.Max(m, 0)];
        var b = new long[a.Length];
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++) { a[k] = i; b[k] = j; k++; }
        var d = input.IndexSelect(0, FromArray(a, a.Length)) - input.IndexSelect(0, FromArray(b, b.Length));
        return PNorm(d, p, 1, false);
    }

    /// <summary>Rearranges [*, C·r², H, W] into [*, C, H·r, W·r] (PyTorch's <c>F.pixel_shuffle</c>).</summary>
    public Tensor PixelShuffle(int upscaleFactor)
    {
        int r = upscaleFactor;
        if (Rank < 3 || r <= 0 || Size(-3) % (r * r) != 0)
            throw new ShapeMismatchException($"PixelShuffle: the input must be [*, C·r², H, W] with r = {r} > 0, got {ShapeUtil.Format(Shape)}.");
        var batch = ShapeArray[..^3];
        int c = Size(-3) / (r * r), h = Size(-2), w = Size(-1), nb = batch.Length;
        var x = Reshape([.. batch, c, r, r, h, w]);
        int[] perm = [.. Enumerable.Range(0, nb), nb, nb + 3, nb + 1, nb + 4, nb + 2];
        return x.Permute(perm).Reshape([.. batch, c, h * r, w * r]);
    }

    /// <summary>Rearranges [*, C, H·r, W·r] into [*, C·r², H, W] (PyTorch's <c>F.pixel_unshuffle</c>).</summary>
    public Tensor PixelUnshuffle(int downscaleFactor)
    {
        int r = downscaleFactor;
        if (Rank < 3 || r <= 0 || Size(-2) % r != 0 || Size(-1) % r != 0)
            throw new ShapeMismatchException($"PixelUnshuffle: the input must be [*, C, H·r, W·r] with r = {r} > 0, got {ShapeUtil.Format(Shape)}.");
        var batch = ShapeArray[..^3];
        int c = Size(-3), h = Size(-2) / r, w = Size(-1) / r, nb = batch.Length;
        var x = Reshape([.. batch, c, h, r, w, r]);
        int[] perm = [.. Enumerable.Range(0, nb), nb, nb + 2, nb + 4, nb + 1, nb + 3];
        return x.Permute(perm).Reshape([.. batch, c * r * r, h, w]);
    }

    /// <summary>
    /// Pads the trailing dims (PyTorch's <c>F.pad</c>): <paramref name="pad"/> = (last-dim before, last-dim after,
    /// second-to-last before, after, ...). Constant mode fills with <paramref name="value"/> and crops with negative pads;
    /// Reflect mirrors without repeating the edge (pad &lt; size), Replicate repeats the edge, Circular wraps (pad ≤ size).
    /// </summary>
    public Tensor Pad(int[] pad, PadMode mode = PadMode.Constant, double value = 0)
    {
        const string op = "Pad";
        if (pad.Length % 2 != 0 || pad.Length / 2 > Rank)
            throw new ArgumentException($"{op}: pad must hold (before, after) pairs for at most {Rank} trailing dims, got {pad.Length} values for shape {ShapeUtil.Format(Shape)}.", nameof(pad));
        if (mode != PadMode.Constant) CheckFloat(op);
        var x = this;
        for (int i = 0; i < pad.Length / 2; i++)
        {
            int d = Rank - 1 - i, lo = pad[2 * i], hi = pad[2 * i + 1], n = x.Size(d);
            if (lo == 0 && hi == 0) continue;
            if (n + lo + hi < 0)
                throw new ArgumentException($"{op}: padding ({lo}, {hi}) leaves a negative size for dim {d} of size {n}.", nameof(pad));
            if (mode == PadMode.Constant)
            {
                if (lo < 0) { x = x.Narrow(d, -lo, n + lo); n += lo; lo = 0; }
                if (hi < 0) { x = x.Narrow(d, 0, n + hi); hi = 0; }
                var parts = new List<Tensor>(3);
                var s = x.ShapeArray;
                if (lo > 0) { s[d] = lo; parts.Add(Full(s, value, x.DType)); }
                parts.Add(x);
                if (hi > 0) { s[d] = hi; parts.Add(Full(s, value, x.DType)); }
                x = parts.Count == 1 ? x : Cat([.. parts], d);
                continue;
            }
            if (mode == PadMode.Reflect && (lo >= n || hi >= n))
                throw new ArgumentException($"{op}: reflect padding ({lo}, {hi}) must be smaller than the size {n} of dim {d}.", nameof(pad));
            if (mode == PadMode.Circular && (lo > n || hi > n))
                throw new ArgumentException($"{op}: circular padding ({lo}, {hi}) must not exceed the size {n} of dim {d}.", nameof(pad));
            if (n == 0) throw new ArgumentException($"{op}: {mode} padding needs a non-empty dim {d}.", nameof(pad));
            var idx = new long[n + lo + hi];
            for (int j = 0; j < idx.Length; j++)
            {
                int k = j - lo;
                idx[j] = mode switch
                {
                    PadMode.Reflect => k < 0 ? -k : k >= n ? 2 * (n - 1) - k : k,
                    PadMode.Replicate => Math.Clamp(k, 0, n - 1),
                    _ => ((k % n) + n) % n,
                };
            }
            x = x.IndexSelect(d, FromArray(idx, idx.Length));
        }
        return x;
    }
    // ---- dropout (the training-mode masks come from a Generator; samples use a fixed seed per call) ----------------

    internal static readonly OpDef DropoutOp = new("Dropout", OpFamily.NN, "nn.functional.dropout")
    {
        CompositeOf = ["Mul"],
        Samples = () => [new("p=0.4", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 4)], t => t[0].Dropout(0.4, generator: new Generator(7)))],
    };
    internal static readonly OpDef Dropout2dOp = new("Dropout2d", OpFamily.NN, "nn.functional.dropout2d")
    {
        CompositeOf = ["Mul"],
        Samples = () => [new("4-d", [OpSamples.Make(OpSamples.Domain.Real, 1, 2, 3, 2, 2)], t => t[0].Dropout2d(0.5, generator: new Generator(7)))],
    };
    internal static readonly OpDef Dropout3dOp = new("Dropout3d", OpFamily.NN, "nn.functional.dropout3d")
    {
        CompositeOf = ["Mul"],
        Samples = () => [new("5-d", [OpSamples.Make(OpSamples.Domain.Real, 1, 2, 3, 2, 1, 2)], t => t[0].Dropout3d(0.5, generator: new Generator(7)))],
    };
    internal static readonly OpDef FeatureAlphaDropoutOp = new("FeatureAlphaDropout", OpFamily.NN, "nn.functional.feature_alpha_dropout")
    {
        CompositeOf = ["Mul", "Add"],
        Samples = () => [new("4-d", [OpSamples.Make(OpSamples.Domain.Real, 1, 2, 3, 2, 2)], t => t[0].FeatureAlphaDropout(0.3, generator: new Generator(7)))],
    };

    private static double CheckDropoutP(string op, double p) =>
        p >= 0 && p <= 1 ? p : throw new ArgumentException($"{op}: p must be in [0, 1], got {p}.", nameof(p));

    /// <summary>
    /// Dropout (PyTorch's <c>F.dropout</c>): in training, zeroes each element with probability <paramref name="p"/> and scales
    /// the rest by 1/(1 − p), drawing from <paramref name="generator"/> (or <see cref="Generator.Default"/>); otherwise the identity.
    /// </summary>
    public Tensor Dropout(double p = 0.5, bool training = true, Generator? generator = null)
    {
        CheckDropoutP("Dropout", p);
        if (!training || p == 0 || Numel == 0) return this;
        CheckFloat("Dropout");
        if (p == 1) return this * 0.0;
        return this * Where(Rand(ShapeArray, DType, generator).Ge(p), 1.0 / (1 - p), 0.0, DType);
    }

    /// <summary>The shape of a per-channel mask: [N, C, 1, ...] (batched) or [C, 1, ...] (unbatched, <paramref name="batched"/> false).</summary>
    private int[] FeatureNoiseShape(bool batched)
    {
        var s = Enumerable.Repeat(1, Rank).ToArray();
        if (batched) { s[0] = Size(0); s[1] = Size(1); }
        else s[0] = Size(0);
        return s;
    }

    private Tensor FeatureDropout(string op, double p, bool training, Generator? generator, bool batched, bool alpha)
    {
        CheckDropoutP(op, p);
        if (!training || p == 0 || Numel == 0) return this;
        CheckFloat(op);
        if (p == 1) return this * 0.0;
        var keep = Rand(FeatureNoiseShape(batched), DType, generator).Ge(p);
        if (!alpha) return this * Where(keep, 1.0 / (1 - p), 0.0, DType);
        const double a0 = 1.7580993408473766; // SELU's scale·α
        double a = 1 / Math.Sqrt((a0 * a0 * p + 1) * (1 - p));
        var noise = Where(keep, 1.0, 0.0, DType);
        return this * (noise * a) + ((noise - 1.0) * (a0 * a) + a0 * a * p);
    }

    /// <summary>
    /// Channel dropout for [N, C, H, W] inputs (PyTorch 1.13's <c>F.dropout2d</c>): zeroes whole channels with probability
    /// <paramref name="p"/> and scales the rest by 1/(1 − p). As PyTorch 1.13, a 3-D input is read as [N, C, L].
    /// </summary>
    public Tensor Dropout2d(double p = 0.5, bool training = true, Generator? generator = null)
    {
        if (Rank is not (3 or 4)) throw new ShapeMismatchException($"Dropout2d: the input must be [N, C, H, W] (or [N, C, L]), got {ShapeUtil.Format(Shape)}.");
        return FeatureDropout("Dropout2d", p, training, generator, true, false);
    }

    /// <summary>Channel dropout for [N, C, D, H, W] (or unbatched [C, D, H, W]) inputs (PyTorch's <c>F.dropout3d</c>).</summary>
    public Tensor Dropout3d(double p = 0.5, bool training = true, Generator? generator = null)
    {
        if (Rank is not (4 or 5)) throw new ShapeMismatchException($"Dropout3d: the input must be [N, C, D, H, W] or [C, D, H, W], got {ShapeUtil.Format(Shape)}.");
        return FeatureDropout("Dropout3d", p, training, generator, Rank == 5, false);
    }

    /// <summary>
    /// Feature alpha dropout (PyTorch's <c>F.feature_alpha_dropout</c>): whole channels ([N, C, ...]) are set to SELU's
    /// negative saturation value and the result affinely rescaled so that mean and variance are kept.
    /// </summary>
    public Tensor FeatureAlphaDropout(double p = 0.5, bool training = true, Generator? generator = null)
    {
        if (Rank < 2) throw new ShapeMismatchException($"FeatureAlphaDropout: the input must be [N, C, ...], got {ShapeUtil.Format(Shape)}.");
        return FeatureDropout("FeatureAlphaDropout", p, training, generator, true, true);
    }
}
