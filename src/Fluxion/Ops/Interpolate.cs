namespace Fluxion;

/// <summary>The sampling algorithm of <see cref="Tensor.Interpolate"/> (PyTorch's <c>mode</c> strings).</summary>
public enum InterpolateMode
{
    /// <summary>Nearest neighbour (PyTorch's "nearest"): index ⌊i·scale⌋.</summary>
    Nearest,
    /// <summary>Linear interpolation along the one spatial dim of [N, C, L].</summary>
    Linear,
    /// <summary>Bilinear interpolation of [N, C, H, W].</summary>
    Bilinear,
    /// <summary>Bicubic convolution (a = −0.75, borders clamped) of [N, C, H, W], as PyTorch.</summary>
    Bicubic,
    /// <summary>Trilinear interpolation of [N, C, D, H, W].</summary>
    Trilinear,
    /// <summary>Adaptive average pooling to the output size.</summary>
    Area,
}

/// <summary>How <see cref="Tensor.GridSample"/> reads a sampling point (PyTorch's <c>mode</c>).</summary>
public enum GridSampleMode
{
    /// <summary>Bilinear interpolation of the four neighbours.</summary>
    Bilinear,
    /// <summary>The nearest pixel (rounded half to even); no gradient for the grid.</summary>
    Nearest,
    /// <summary>Bicubic convolution (a = −0.75) of the 4×4 neighbours (4-D input only).</summary>
    Bicubic,
}

/// <summary>What <see cref="Tensor.GridSample"/> reads outside the input (PyTorch's <c>padding_mode</c>).</summary>
public enum GridSamplePadding
{
    /// <summary>Zeros.</summary>
    Zeros,
    /// <summary>The border pixel (the coordinates are clamped).</summary>
    Border,
    /// <summary>The input reflected at its border (the coordinates are reflected, then clamped).</summary>
    Reflection,
}

// interpolate/upsample and grid_sample of torch.nn.functional, composites of registered ops. The linear and cubic modes are
// separable: each spatial dim in turn is resampled as a weighted sum of index-selected slices (2 or 4 taps per output,
// PyTorch's source-index rules and coefficients), so the derivatives are those of IndexSelect, Mul and Add.
public partial class Tensor
{
    private static Tensor RI(int seed, params int[] shape) => OpSamples.Make(OpSamples.Domain.Real, seed, shape);

    internal static readonly OpDef InterpolateOp = new("Interpolate", OpFamily.NN, "nn.functional.interpolate")
    {
        CompositeOf = ["IndexSelect", "Mul", "Add", "AdaptiveAvgPool2d", "UpsampleNearest"],
        Samples = () =>
        [
            new("linear, scale 2", [RI(1, 1, 2, 4)], t => Interpolate(t[0], scaleFactor: [2], mode: InterpolateMode.Linear)),
            new("bilinear, align corners, size", [RI(2, 1, 2, 3, 4)], t => Interpolate(t[0], size: [5, 3], mode: InterpolateMode.Bilinear, alignCorners: true)),
            new("bicubic, scale 1.5", [RI(3, 1, 1, 3, 4)], t => Interpolate(t[0], scaleFactor: [1.5, 1.5], mode: InterpolateMode.Bicubic)),
            new("trilinear, size", [RI(4, 1, 1, 2, 3, 2)], t => Interpolate(t[0], size: [3, 2, 4], mode: InterpolateMode.Trilinear)),
            new("area, downsampling", [RI(5, 1, 2, 5, 4)], t => Interpolate(t[0], size: [2, 3], mode: InterpolateMode.Area)),
            new("nearest", [RI(6, 1, 2, 3)], t => Interpolate(t[0], size: [5])),
        ],
    };
    internal static readonly OpDef UpsampleBilinearOp = new("UpsampleBilinear", OpFamily.NN, "nn.functional.upsample_bilinear")
    {
        CompositeOf = ["Interpolate"],
        Samples = () => [new("scale 2", [RI(1, 1, 2, 2, 3)], t => UpsampleBilinear(t[0], scaleFactor: 2)),
            new("size", [RI(2, 2, 1, 3, 3)], t => UpsampleBilinear(t[0], size: (4, 5)))],
    };
    internal static readonly OpDef GridSampleOp = new("GridSample", OpFamily.NN, "nn.functional.grid_sample")
    {
        CompositeOf = ["Gather", "Mul", "Add", "Where", "Clamp", "Abs", "Fmod"],
        Samples = () =>
        [
            new("bilinear zeros", [RI(1, 1, 2, 3, 4), OpSamples.Make(OpSamples.Domain.UnitInterval, 2, 1, 2, 3, 2) * 2.4 - 1.2], t => GridSample(t[0], t[1])),
            new("bilinear border align", [RI(3, 2, 1, 3, 3), OpSamples.Make(OpSamples.Domain.UnitInterval, 4, 2, 2, 2, 2) * 2.4 - 1.2],
                t => GridSample(t[0], t[1], padding: GridSamplePadding.Border, alignCorners: true)),
            new("bilinear reflection", [RI(5, 1, 1, 4, 3), OpSamples.Make(OpSamples.Domain.UnitInterval, 6, 1, 3, 2, 2) * 2.4 - 1.2],
                t => GridSample(t[0], t[1], padding: GridSamplePadding.Reflection)),
            new("nearest", [RI(7, 1, 2, 3, 3)], t => GridSample(t[0], OpSamples.Make(OpSamples.Domain.UnitInterval, 8, 1, 2, 2, 2) * 1.8 - 0.9, GridSampleMode.Nearest)),
            new("bicubic reflection align", [RI(9, 1, 1, 4, 4), OpSamples.Make(OpSamples.Domain.UnitInterval, 10, 1, 2, 2, 2) * 2.4 - 1.2],
                t => GridSample(t[0], t[1], GridSampleMode.Bicubic, GridSamplePadding.Reflection, alignCorners: true)),
            new("trilinear border", [RI(11, 1, 1, 2, 3, 3), OpSamples.Make(OpSamples.Domain.UnitInterval, 12, 1, 2, 1, 2, 3) * 2.4 - 1.2],
                t => GridSample(t[0], t[1], padding: GridSamplePadding.Border)),
        ],
    };

    /// <summary>
    /// Resamples the spatial dims of [N, C, *spatial] (PyTorch's <c>F.interpolate</c>): to <paramref name="size"/> (one per
    /// spatial dim, or one for all) or by <paramref name="scaleFactor"/> (likewise), with <paramref name="mode"/>: Nearest (any
    /// rank), Linear ([N, C, L]), Bilinear and Bicubic ([N, C, H, W]), Trilinear ([N, C, D, H, W]), Area (adaptive average
    /// pooling, 1 to 3 spatial dims). <paramref name="alignCorners"/> (linear and cubic modes only; default false) maps the
    /// corner pixels' centres onto each other. As PyTorch, a given scale factor is used as is for the source index (not
    /// recomputed from the sizes).
    /// </summary>
    public static Tensor Interpolate(Tensor input, int[]? size = null, double[]? scaleFactor = null, InterpolateMode mode = InterpolateMode.Nearest, bool? alignCorners = null)
    {
        const string op = "Interpolate";
        int nd = input.Rank - 2;
        if (nd < 1 || nd > 3) throw new ShapeMismatchException($"{op}: the input must be [N, C, *spatial] with 1 to 3 spatial dims, got {ShapeUtil.Format(input.Shape)}.");
        if ((size is null) == (scaleFactor is null)) throw new ArgumentException($"{op}: give exactly one of size and scaleFactor.");
        if (size is not null && size.Length != nd && size.Length != 1)
            throw new ArgumentException($"{op}: size must have {nd} entries (one per spatial dim) or 1, got {size.Length}.", nameof(size));
        if (scaleFactor is not null && scaleFactor.Length != nd && scaleFactor.Length != 1)
            throw new ArgumentException($"{op}: scaleFactor must have {nd} entries (one per spatial dim) or 1, got {scaleFactor.Length}.", nameof(scaleFactor));
        int need = mode switch { InterpolateMode.Linear => 1, InterpolateMode.Bilinear or InterpolateMode.Bicubic => 2, InterpolateMode.Trilinear => 3, _ => nd };
        if (need != nd)
            throw new ShapeMismatchException($"{op}: mode {mode} takes an input with {need} spatial dim(s) ({need + 2}-D), got {ShapeUtil.Format(input.Shape)}.");
        bool linearLike = mode is InterpolateMode.Linear or InterpolateMode.Bilinear or InterpolateMode.Bicubic or InterpolateMode.Trilinear;
        if (alignCorners is not null && !linearLike)
            throw new ArgumentException($"{op}: alignCorners only applies to the linear and cubic modes, not {mode}.", nameof(alignCorners));
        input.CheckFloat(op);
        var outSize = new int[nd];
        for (int i = 0; i < nd; i++)
        {
            int n = input.Size(2 + i);
            double? sf = scaleFactor?[scaleFactor.Length == 1 ? 0 : i];
            if (sf is { } f && !(f > 0)) throw new ArgumentException($"{op}: scaleFactor must be positive, got {f}.", nameof(scaleFactor));
            outSize[i] = size is not null ? size[size.Length == 1 ? 0 : i] : (int)Math.Floor(n * sf!.Value);
            if (outSize[i] <= 0) throw new ArgumentException($"{op}: output size {outSize[i]} of spatial dim {i} must be positive.");
        }
        switch (mode)
        {
            case InterpolateMode.Nearest:
                return input.UpsampleNearest(size, scaleFactor);
            case InterpolateMode.Area:
                if (nd == 1) return AdaptiveAvgPool1d(input, outSize[0]);
                if (nd == 2) return AdaptiveAvgPool2d(input, (outSize[0], outSize[1]));
                return AdaptiveAvgPool3d(input, (outSize[0], outSize[1], outSize[2]));
        }
        bool align = alignCorners ?? false;
        var x = input;
        for (int i = 0; i < nd; i++)
        {
            int d = 2 + i, n = input.Size(d), o = outSize[i];
            double? sf = scaleFactor?[scaleFactor.Length == 1 ? 0 : i];
            // PyTorch's area_pixel_compute_scale
            double scale = align ? (o > 1 ? (double)(n - 1) / (o - 1) : 0) : sf is { } f ? 1 / f : (double)n / o;
            x = mode == InterpolateMode.Bicubic ? CubicAxis(x, d, n, o, scale, align) : LinearAxis(x, d, n, o, scale, align);
        }
        return x;
    }

    /// <summary>Bilinear upsampling with aligned corners (PyTorch's <c>F.upsample_bilinear</c>) of [N, C, H, W]: to
    /// <paramref name="size"/> or by <paramref name="scaleFactor"/>.</summary>
    public static Tensor UpsampleBilinear(Tensor input, Size2? size = null, double? scaleFactor = null) =>
        Interpolate(input, size is { } s ? [s.H, s.W] : null, scaleFactor is { } f ? [f] : null, InterpolateMode.Bilinear, alignCorners: true);

    /// <summary>The shape [1, .., o, .., 1] of rank <paramref name="rank"/> with o at <paramref name="dim"/>, for per-position weights.</summary>
    private static int[] AlongDim(int rank, int dim, int o)
    {
        var s = new int[rank];
        Array.Fill(s, 1);
        s[dim] = o;
        return s;
    }

    /// <summary>Σ_taps x.IndexSelect(dim, index[tap]) · weight[tap] (weights broadcast along <paramref name="dim"/>).</summary>
    private static Tensor Taps(Tensor x, int dim, long[][] index, double[][] weight)
    {
        int o = index[0].Length;
        var shape = AlongDim(x.Rank, dim, o);
        Tensor? y = null;
        for (int t = 0; t < index.Length; t++)
        {
            var w = FromArray(weight[t], shape).To(x.DType);
            var term = x.IndexSelect(dim, FromArray(index[t], o)) * w;
            y = y is null ? term : y + term;
        }
        return y!;
    }

    /// <summary>Linear resampling of dim <paramref name="d"/> from <paramref name="n"/> to <paramref name="o"/> (PyTorch's
    /// upsample_linear/bilinear/trilinear source index: negative sources clamp to 0).</summary>
    private static Tensor LinearAxis(Tensor x, int d, int n, int o, double scale, bool align)
    {
        var i0 = new long[o];
        var i1 = new long[o];
        var w0 = new double[o];
        var w1 = new double[o];
        for (int j = 0; j < o; j++)
        {
            double src = align ? scale * j : Math.Max(scale * (j + 0.5) - 0.5, 0);
            int a = Math.Min((int)src, n - 1);
            double l = Math.Min(Math.Max(src - a, 0), 1);
            i0[j] = a;
            i1[j] = a < n - 1 ? a + 1 : a;
            w0[j] = 1 - l;
            w1[j] = l;
        }
        return Taps(x, d, [i0, i1], [w0, w1]);
    }

    /// <summary>Bicubic (cubic convolution, a = −0.75) resampling of dim <paramref name="d"/>, the four taps clamped to the input.</summary>
    private static Tensor CubicAxis(Tensor x, int d, int n, int o, double scale, bool align)
    {
        const double A = -0.75;
        static double C1(double t) => ((A + 2) * t - (A + 3)) * t * t + 1;
        static double C2(double t) => ((A * t - 5 * A) * t + 8 * A) * t - 4 * A;
        var idx = new long[4][];
        var w = new double[4][];
        for (int k = 0; k < 4; k++) { idx[k] = new long[o]; w[k] = new double[o]; }
        for (int j = 0; j < o; j++)
        {
            double src = align ? scale * j : scale * (j + 0.5) - 0.5;
            int f = (int)Math.Floor(src);
            double t = src - f;
            double[] c = [C2(t + 1), C1(t), C1(1 - t), C2(2 - t)];
            for (int k = 0; k < 4; k++)
            {
                idx[k][j] = Math.Clamp(f - 1 + k, 0, n - 1);
                w[k][j] = c[k];
            }
        }
        return Taps(x, d, idx, w);
    }

    /// <summary>
    /// Samples input [N, C, H, W] at the points of <paramref name="grid"/> [N, OH, OW, 2] (PyTorch's <c>F.grid_sample</c>), or a
    /// volume [N, C, D, H, W] at grid [N, OD, OH, OW, 3]: grid[n, ...] = (x, y[, z]) in [−1, 1] normalized coordinates (−1 the
    /// left/top edge, or with <paramref name="alignCorners"/> the centre of the first pixel); output [N, C, *grid's spatial dims].
    /// Bilinear (trilinear for volumes), nearest, or bicubic (2-D only) sampling; differentiable in the input and, except in
    /// nearest mode, in the grid.
    /// </summary>
    public static Tensor GridSample(Tensor input, Tensor grid, GridSampleMode mode = GridSampleMode.Bilinear, GridSamplePadding padding = GridSamplePadding.Zeros, bool alignCorners = false)
    {
        const string op = "GridSample";
        input.CheckFloat(op);
        CheckSameDType(op, input, grid);
        int nd = input.Rank - 2;
        if ((nd != 2 && nd != 3) || grid.Rank != nd + 2 || grid.Size(-1) != nd || grid.Size(0) != input.Size(0))
            throw new ShapeMismatchException($"{op}: expected input [N, C, H, W] with grid [N, OH, OW, 2], or input [N, C, D, H, W] with grid [N, OD, OH, OW, 3] (the same N), got {ShapeUtil.Format(input.Shape)} and {ShapeUtil.Format(grid.Shape)}.");
        if (mode == GridSampleMode.Bicubic && nd != 2) throw new ArgumentException($"{op}: bicubic sampling takes a 4-D input (as PyTorch), got {ShapeUtil.Format(input.Shape)}.", nameof(mode));
        int n = input.Size(0), c = input.Size(1);
        var outSp = grid.ShapeArray[1..^1];
        int count = ShapeUtil.Numel(outSp);
        var sizes = new int[nd]; // per grid component: x reads W, y reads H, z reads D
        for (int a = 0; a < nd; a++) sizes[a] = input.Size(-1 - a);
        var flat = input.Reshape(n, c, -1);
        // the values at integer positions pos[a] [N, *out] (zero outside the input), [N, C, *out]
        Tensor Pixel(Tensor[] pos)
        {
            Tensor? inside = null, lin = null;
            for (int a = nd - 1; a >= 0; a--)
            {
                var ok = pos[a].Ge(0).LogicalAnd(pos[a].Le(sizes[a] - 1));
                inside = inside is null ? ok : inside.LogicalAnd(ok);
                var q = pos[a].Clamp(0, sizes[a] - 1);
                lin = lin is null ? q : lin * sizes[a] + q;
            }
            var v = flat.Gather(2, lin!.To(DType.Int64).Reshape(n, 1, count).Expand(n, c, count)).Reshape([n, c, .. outSp]);
            return Where(inside!.Unsqueeze(1), v, 0.0);
        }
        static Tensor Wt(Tensor t) => t.Unsqueeze(1);
        var u = new Tensor[nd];
        var f = new Tensor[nd];
        for (int a = 0; a < nd; a++)
        {
            u[a] = Unnormalize(grid.Select(-1, a), sizes[a], alignCorners);
            if (mode != GridSampleMode.Bicubic) u[a] = PadCoord(u[a], sizes[a], padding, alignCorners);
            using (Autograd.NoGrad()) f[a] = mode == GridSampleMode.Nearest ? u[a].Detach().Round() : u[a].Detach().Floor();
        }
        if (mode == GridSampleMode.Nearest) return Pixel(f);
        Tensor? y = null;
        if (mode == GridSampleMode.Bicubic)
        {
            // PyTorch: the 4×4 taps around the point, each mapped through the padding, weighted by the cubic convolution (a = −0.75)
            Tensor tx = u[0] - f[0], ty = u[1] - f[1];
            var cx = CubicWeights(tx);
            var cy = CubicWeights(ty);
            for (int j = 0; j < 4; j++)
                for (int i = 0; i < 4; i++)
                {
                    Tensor px, py;
                    using (Autograd.NoGrad())
                    {
                        px = PadCoord(f[0] + (i - 1), sizes[0], padding, alignCorners);
                        py = PadCoord(f[1] + (j - 1), sizes[1], padding, alignCorners);
                    }
                    var term = Pixel([px, py]) * Wt(cx[i] * cy[j]);
                    y = y is null ? term : y + term;
                }
            return y!;
        }
        // bilinear / trilinear: the 2^nd corners, weights Π (t or 1 − t); t carries the grid's gradient
        var tt = new Tensor[nd];
        for (int a = 0; a < nd; a++) tt[a] = u[a] - f[a];
        for (int corner = 0; corner < 1 << nd; corner++)
        {
            var pos = new Tensor[nd];
            Tensor? w = null;
            for (int a = 0; a < nd; a++)
            {
                bool hi = (corner >> a & 1) == 1;
                pos[a] = hi ? f[a] + 1 : f[a];
                var wa = hi ? tt[a] : 1 - tt[a];
                w = w is null ? wa : w * wa;
            }
            var term = Pixel(pos) * Wt(w!);
            y = y is null ? term : y + term;
        }
        return y!;
    }

    /// <summary>The cubic convolution weights (a = −0.75) of the four taps at offsets −1, 0, 1, 2 for fraction t.</summary>
    private static Tensor[] CubicWeights(Tensor t)
    {
        const double A = -0.75;
        static Tensor C1(Tensor x) => ((A + 2) * x - (A + 3)) * x * x + 1;
        static Tensor C2(Tensor x) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
        return [C2(t + 1), C1(t), C1(1 - t), C2(2 - t)];
    }

    /// <summary>PyTorch's grid_sampler_unnormalize: [−1, 1] to pixel coordinates.</summary>
    private static Tensor Unnormalize(Tensor g, int size, bool align) =>
        align ? (g + 1) * (0.5 * (size - 1)) : ((g + 1) * size - 1) * 0.5;

    /// <summary>PyTorch's compute_coordinates: clamp (border), reflect then clamp (reflection), or nothing (zeros).</summary>
    private static Tensor PadCoord(Tensor coord, int size, GridSamplePadding padding, bool align)
    {
        if (padding == GridSamplePadding.Border) return coord.Clamp(0, size - 1);
        if (padding == GridSamplePadding.Reflection)
        {
            coord = align ? Reflect(coord, 0, 2 * (size - 1)) : Reflect(coord, -1, 2 * size - 1);
            return coord.Clamp(0, size - 1);
        }
        return coord;
    }

    /// <summary>PyTorch's reflect_coordinates: reflects <paramref name="x"/> into [twiceLow/2, twiceHigh/2].</summary>
    private static Tensor Reflect(Tensor x, int twiceLow, int twiceHigh)
    {
        if (twiceLow == twiceHigh) return x * 0.0;
        double min = twiceLow / 2.0, span = (twiceHigh - twiceLow) / 2.0;
        var a = (x - min).Abs();
        var extra = a.Fmod(span);
        Tensor evenFlips;
        using (Autograd.NoGrad()) evenFlips = (a.Detach() / span).Floor().Fmod(2).Eq(0);
        return Where(evenFlips, extra + min, (extra * -1) + (span + min));
    }
}
