namespace Fluxion;

// Local response normalization and nearest-neighbour upsampling (torch.nn.functional), composites of registered ops.
public partial class Tensor
{
    internal static readonly OpDef LocalResponseNormOp = new("LocalResponseNorm", OpFamily.NN, "nn.functional.local_response_norm")
    {
        CompositeOf = ["Mul", "Pad", "Narrow", "Add", "Pow", "Div"],
        Samples = () => [new("3-d size 3", [OpSamples.Make(OpSamples.Domain.Real, 1, 2, 5, 3)], t => t[0].LocalResponseNorm(3, alpha: 0.5)),
            new("4-d size 2", [OpSamples.Make(OpSamples.Domain.Real, 2, 1, 4, 2, 2)], t => t[0].LocalResponseNorm(2, 0.3, 0.6, 2))],
    };
    internal static readonly OpDef UpsampleNearestOp = new("UpsampleNearest", OpFamily.NN, "nn.functional.upsample_nearest")
    {
        CompositeOf = ["IndexSelect"],
        Samples = () => [new("size", [OpSamples.Make(OpSamples.Domain.Real, 1, 1, 2, 3, 2)], t => t[0].UpsampleNearest(size: [5, 3])),
            new("scale", [OpSamples.Make(OpSamples.Domain.Real, 2, 1, 2, 3)], t => t[0].UpsampleNearest(scaleFactor: 2))],
    };

    /// <summary>
    /// Local response normalization across channels (PyTorch's <c>F.local_response_norm</c>) of [N, C, ...]:
    /// x / (k + α/n·Σ x²)^β, the sum over the n = <paramref name="size"/> neighbouring channels (zero-padded, size/2 before).
    /// </summary>
    public Tensor LocalResponseNorm(int size, double alpha = 1e-4, double beta = 0.75, double k = 1)
    {
        const string op = "LocalResponseNorm";
        CheckFloat(op);
        if (Rank < 3) throw new ShapeMismatchException($"{op}: the input must be [N, C, ...] with at least 3 dims, got {ShapeUtil.Format(Shape)}.");
        if (size <= 0) throw new ArgumentException($"{op}: size must be positive, got {size}.", nameof(size));
        if (Numel == 0) return this;
        int c = Size(1);
        var pad = new int[2 * (Rank - 1)];
        pad[^2] = size / 2;
        pad[^1] = (size - 1) / 2;
        var p = (this * this).Pad(pad);
        var sum = p.Narrow(1, 0, c);
        for (int j = 1; j < size; j++) sum = sum + p.Narrow(1, j, c);
        return this / (sum / size * alpha + k).Pow(beta);
    }

    /// <summary>
    /// Nearest-neighbour upsampling of the spatial dims of [N, C, *spatial] (PyTorch's <c>F.upsample_nearest</c>, i.e.
    /// <c>interpolate(mode="nearest")</c>): to <paramref name="size"/> (one per spatial dim) or by <paramref name="scaleFactor"/>;
    /// output index i reads input index min(floor(i·scale), in − 1), scale = in/out (or 1/scaleFactor), in float32 as PyTorch.
    /// </summary>
    public Tensor UpsampleNearest(int[]? size = null, double? scaleFactor = null) =>
        UpsampleNearest(size, scaleFactor is { } f ? [f] : null);

    /// <summary><see cref="UpsampleNearest(int[], double?)"/> with one scale factor per spatial dim (or one for all).</summary>
    internal Tensor UpsampleNearest(int[]? size, double[]? scaleFactors)
    {
        const string op = "UpsampleNearest";
        if (Rank < 3) throw new ShapeMismatchException($"{op}: the input must be [N, C, *spatial], got {ShapeUtil.Format(Shape)}.");
        if ((size is null) == (scaleFactors is null)) throw new ArgumentException($"{op}: give exactly one of size and scaleFactor.");
        int nd = Rank - 2;
        if (size is not null && size.Length != nd && size.Length != 1)
            throw new ArgumentException($"{op}: size must have {nd} entries (one per spatial dim) or 1, got {size.Length}.", nameof(size));
        if (scaleFactors is not null && (scaleFactors.Length != nd && scaleFactors.Length != 1 || scaleFactors.Any(sf => !(sf > 0))))
            throw new ArgumentException($"{op}: scaleFactor must be positive, one per spatial dim or one for all, got [{string.Join(", ", scaleFactors)}].", nameof(scaleFactors));
        var x = this;
        for (int i = 0; i < nd; i++)
        {
            int d = 2 + i, n = Size(d);
            double sfi = scaleFactors is null ? 0 : scaleFactors[scaleFactors.Length == 1 ? 0 : i];
            int o = size is not null ? size[size.Length == 1 ? 0 : i] : (int)Math.Floor(n * sfi);
            if (o <= 0) throw new ArgumentException($"{op}: output size {o} of spatial dim {i} must be positive.");
            float scale = size is not null ? (float)n / o : (float)(1.0 / sfi);
            var idx = new long[o];
            for (int j = 0; j < o; j++)
                idx[j] = o == n ? j : o == 2 * n ? j >> 1 : Math.Min((long)MathF.Floor(j * scale), n - 1);
            x = x.IndexSelect(d, FromArray(idx, o));
        }
        return x;
    }
}
