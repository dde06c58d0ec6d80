namespace Fluxion.Tests;

/// <summary>
/// The fast convolution and pooling paths (per-sample blocks in parallel, grouped small-map blocks, the
/// pointwise and "same"-layout im2col/col2im shortcuts, the transposed weight-gradient product, the 2×2
/// max-pooling kernels) against plain loop references, in float32 and float64.
/// </summary>
public class ConvKernelTests
{
    private static double[] Rand(int seed, int n)
    {
        var rng = new Random(seed);
        var a = new double[n];
        for (int i = 0; i < n; i++) a[i] = rng.NextDouble() * 2 - 1;
        return a;
    }

    private sealed record Geo(int N, int C, int H, int W, int O, int KH, int KW, int SH, int SW, int PH, int PW, int DH, int DW, int G)
    {
        public int OH => (H + 2 * PH - DH * (KH - 1) - 1) / SH + 1;
        public int OW => (W + 2 * PW - DW * (KW - 1) - 1) / SW + 1;
    }

    /// <summary>y, dx, dw, db of a convolution by the definition, for output gradient gy.</summary>
    private static (double[] Y, double[] Dx, double[] Dw, double[] Db) Reference(Geo g, double[] x, double[] w, double[] b, double[] gy)
    {
        int cg = g.C / g.G, og = g.O / g.G, oh = g.OH, ow = g.OW;
        var y = new double[g.N * g.O * oh * ow];
        var dx = new double[x.Length];
        var dw = new double[w.Length];
        var db = new double[g.O];
        for (int n = 0; n < g.N; n++)
            for (int o = 0; o < g.O; o++)
            {
                int grp = o / og;
                for (int i = 0; i < oh; i++)
                    for (int j = 0; j < ow; j++)
                    {
                        int yi = ((n * g.O + o) * oh + i) * ow + j;
                        double s = b[o], gv = gy[yi];
                        db[o] += gv;
                        for (int c = 0; c < cg; c++)
                            for (int ki = 0; ki < g.KH; ki++)
                                for (int kj = 0; kj < g.KW; kj++)
                                {
                                    int ih = i * g.SH - g.PH + ki * g.DH, iw = j * g.SW - g.PW + kj * g.DW;
                                    if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                                    int xi = ((n * g.C + grp * cg + c) * g.H + ih) * g.W + iw;
                                    int wi = ((o * cg + c) * g.KH + ki) * g.KW + kj;
                                    s += x[xi] * w[wi];
                                    dx[xi] += gv * w[wi];
                                    dw[wi] += gv * x[xi];
                                }
                        y[yi] = s;
                    }
            }
        return (y, dx, dw, db);
    }

    public static IEnumerable<object[]> Geometries() =>
    [
        // N, C, H, W, O, KH, KW, SH, SW, PH, PW, DH, DW, G
        [64, 1, 28, 28, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1], // the benchmark's first layer (K < O: transposed weight grad)
        [16, 8, 14, 14, 12, 3, 3, 1, 1, 1, 1, 1, 1, 1], // "same" layout, parallel over samples
        [1, 3, 9, 11, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1],    // batch 1, odd sizes
        [5, 4, 9, 7, 6, 3, 2, 2, 2, 1, 0, 1, 1, 2],     // stride 2, groups, rectangular kernel
        [3, 2, 10, 9, 4, 3, 3, 1, 1, 2, 2, 2, 2, 1],    // dilation with "same" width (flat im2col path with dilation)
        [2, 2, 8, 8, 3, 3, 3, 1, 1, 0, 0, 1, 1, 1],     // valid convolution (OW < W)
        [9, 6, 7, 7, 5, 1, 1, 1, 1, 0, 0, 1, 1, 1],     // pointwise, small maps: multi-sample blocks
        [4, 6, 16, 12, 8, 1, 1, 1, 1, 0, 0, 1, 1, 2],   // pointwise, one sample per block, groups
        [11, 3, 5, 5, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1],    // small maps: several samples per block, ragged last block
        [12, 4, 6, 5, 8, 2, 3, 2, 1, 1, 1, 1, 2, 4],    // everything at once, depthwise-like groups
        [2, 2, 3, 3, 2, 5, 5, 1, 1, 2, 2, 1, 1, 1],     // kernel larger than the map (padding only rows)
    ];

    [Theory]
    [MemberData(nameof(Geometries))]
    public void ConvMatchesTheDefinition(int n, int c, int h, int w, int o, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, int groups)
    {
        var g = new Geo(n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, groups);
        var xs = Rand(1, n * c * h * w);
        var ws = Rand(2, o * (c / groups) * kh * kw);
        var bs = Rand(3, o);
        var gys = Rand(4, n * o * g.OH * g.OW);
        var (ry, rdx, rdw, rdb) = Reference(g, xs, ws, bs, gys);
        foreach (var (dtype, tol) in new[] { (DType.Float64, 1e-12), (DType.Float32, 2e-4) })
        {
            var x = Tensor.FromArray(xs, n, c, h, w).To(dtype).RequiresGrad_();
            var wt = Tensor.FromArray(ws, o, c / groups, kh, kw).To(dtype).RequiresGrad_();
            var b = Tensor.FromArray(bs, o).To(dtype).RequiresGrad_();
            var y = Tensor.Conv2d(x, wt, b, (sh, sw), (ph, pw), (dh, dw), groups);
            Assert.Equal(ry, y.ToDoubleArray(), new ToleranceComparer(tol));
            var grads = Autograd.Grad([y], [x, wt, b], [Tensor.FromArray(gys, y.ShapeArray).To(dtype)]);
            Assert.Equal(rdx, grads[0]!.ToDoubleArray(), new ToleranceComparer(tol));
            Assert.Equal(rdw, grads[1]!.ToDoubleArray(), new ToleranceComparer(tol * 10));
            Assert.Equal(rdb, grads[2]!.ToDoubleArray(), new ToleranceComparer(tol * 10));
        }
    }

    /// <summary>On one thread every geometry takes the path with the weights packed once (Conv.PackWeights), which the
    /// two-thread runs above take only where the blocks run in parallel.</summary>
    [Theory]
    [MemberData(nameof(Geometries))]
    public void ConvOnOneThreadMatchesTheDefinition(int n, int c, int h, int w, int o, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, int groups)
    {
        using var serial = Fluxion.Kernels.Parallelism.Serial();
        ConvMatchesTheDefinition(n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, groups);
    }

    [Fact]
    public void ConvOfNonContiguousViewsMatchesTheDefinition()
    {
        var g = new Geo(6, 3, 9, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1);
        var xs = Rand(5, 6 * 3 * 8 * 9);
        var ws = Rand(6, 4 * 3 * 3 * 3);
        // x is stored [N, C, W, H] and transposed; w is stored [C, O, KH, KW] and permuted
        var x = Tensor.FromArray(xs, 6, 3, 8, 9).Transpose(2, 3).RequiresGrad_();
        var wt = Tensor.FromArray(ws, 3, 4, 3, 3).Permute(1, 0, 2, 3).RequiresGrad_();
        var xd = x.Contiguous().ToDoubleArray();
        var wd = wt.Contiguous().ToDoubleArray();
        var gys = Rand(7, 6 * 4 * 9 * 8);
        var (ry, rdx, rdw, _) = Reference(g, xd, wd, new double[4], gys);
        var y = Tensor.Conv2d(x, wt, padding: 1);
        Assert.Equal(ry, y.ToDoubleArray(), new ToleranceComparer(1e-12));
        // a non-contiguous output gradient too (an expanded-then-sliced view would be; here a transpose)
        var gy = Tensor.FromArray(gys, 6, 4, 9, 8).Transpose(2, 3).Contiguous().Transpose(2, 3);
        var grads = Autograd.Grad([y], [x, wt], [gy]);
        Assert.Equal(rdx, grads[0]!.ToDoubleArray(), new ToleranceComparer(1e-12));
        Assert.Equal(rdw, grads[1]!.ToDoubleArray(), new ToleranceComparer(1e-11));
    }

    [Fact]
    public void GradCheckOnFastPathShapes()
    {
        static Tensor R(int seed, params int[] shape) => Tensor.Randn(shape, DType.Float64, new Generator(seed));
        // first-layer shape (K < O, transposed weight grad; "same" im2col), parallel over 8 samples
        GradCheck.Assert(t => Tensor.Conv2d(t[0], t[1], t[2], padding: 1), [R(40, 8, 1, 5, 5), R(41, 6, 1, 3, 3), R(42, 6)], secondOrder: false);
        // pointwise over small maps: multi-sample blocks
        GradCheck.Assert(t => Tensor.Conv2d(t[0], t[1], t[2]), [R(43, 5, 3, 3, 3), R(44, 2, 3, 1, 1), R(45, 2)]);
    }

    /// <summary>Max pooling by the definition: scan the window row-major, a larger value or a NaN replaces the maximum.</summary>
    private static (double[] Y, long[] Idx) PoolReference(double[] x, int planes, int h, int w, int k, int s, int oh, int ow)
    {
        var y = new double[planes * oh * ow];
        var idx = new long[y.Length];
        for (int p = 0; p < planes; p++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                {
                    double best = double.NegativeInfinity;
                    long bi = -1;
                    for (int a = 0; a < k; a++)
                        for (int b = 0; b < k; b++)
                        {
                            int ih = i * s + a, iw = j * s + b;
                            if (ih >= h || iw >= w) continue;
                            double v = x[(p * h + ih) * w + iw];
                            if (bi < 0 || v > best || double.IsNaN(v)) { best = v; bi = ih * w + iw; }
                        }
                    y[(p * oh + i) * ow + j] = best;
                    idx[(p * oh + i) * ow + j] = bi;
                }
        return (y, idx);
    }

    [Theory]
    [InlineData(3, 2, 28, 28, false)]  // the benchmark's shape: 14 outputs a row (vector tail only)
    [InlineData(2, 3, 9, 70, false)]   // 35 outputs a row: two 16-wide vectors and a tail; odd height
    [InlineData(1, 2, 6, 66, true)]    // ceil mode on even sizes
    [InlineData(2, 1, 7, 35, true)]    // ceil mode adds a partial last window: general path
    [InlineData(3, 4, 14, 14, false)]  // the benchmark's second pooling: 7 outputs a row (AVX2: one 8-lane vector, spilling into the next row)
    [InlineData(2, 3, 6, 3, false)]    // one output a row: the AVX2 spill must stay inside the plane
    [InlineData(2, 2, 5, 17, false)]   // odd sizes: the last input row and column are in no window
    public void MaxPool2x2MatchesTheDefinition(int n, int c, int h, int w, bool ceil)
    {
        int oh = ceil ? (h + 1) / 2 : h / 2, ow = ceil ? (w + 1) / 2 : w / 2;
        var rng = new Random(h * w);
        // coarse values: many ties; some NaNs and infinities
        var xs = new double[n * c * h * w];
        for (int i = 0; i < xs.Length; i++)
        {
            int r = rng.Next(40);
            xs[i] = r == 0 ? double.NaN : r == 1 ? double.NegativeInfinity : r == 2 ? double.PositiveInfinity : rng.Next(4);
        }
        // a window that is all -inf
        for (int a = 0; a < 2; a++) for (int b = 0; b < 2; b++) xs[a * w + b] = double.NegativeInfinity;
        var (ry, ridx) = PoolReference(xs, n * c, h, w, 2, 2, oh, ow);
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
        {
            var x = Tensor.FromArray(xs, n, c, h, w).To(dtype).RequiresGrad_();
            var (y, idx) = Tensor.MaxPool2dWithIndices(x, 2, ceilMode: ceil);
            Assert.Equal(ry, y.ToDoubleArray());
            Assert.Equal(ridx, idx.ToArray<long>());
            // backward: the output gradient lands at the argmax positions
            var gys = Rand(8, y.Numel);
            var dx = Autograd.Grad([y], [x], [Tensor.FromArray(gys, y.ShapeArray).To(dtype)])[0]!.ToDoubleArray();
            var expected = new double[xs.Length];
            for (int p = 0; p < n * c; p++)
                for (int o = 0; o < oh * ow; o++)
                    expected[p * h * w + ridx[p * oh * ow + o]] += gys[p * oh * ow + o];
            Assert.Equal(expected, dx, new ToleranceComparer(1e-6));
        }
    }

    [Fact]
    public void MaxPoolBackwardIsDifferentiableAndForwardModeWorks()
    {
        // double backward through the scatter (its VJP is the gather) and the JVP (the gather)
        var x = Tensor.FromArray(Enumerable.Range(0, 2 * 3 * 6 * 6).Select(i => Math.Sin(i * 1.7) * 5).ToArray(), 2, 3, 6, 6);
        GradCheck.Assert(t => Tensor.MaxPool2d(t[0], 2), [x]);
        GradCheck.Assert(t => Tensor.MaxPool2d(t[0], 3, stride: 1, padding: 1), [x]);
        // overlapping windows: an element that is the max of several windows gets their summed gradient
        var ones = Tensor.Ones([1, 1, 3, 3], DType.Float64).RequiresGrad_();
        var y = Tensor.MaxPool2d(ones * Tensor.FromArray([0.0, 0, 0, 0, 1, 0, 0, 0, 0], 1, 1, 3, 3), 2, stride: 1);
        y.Sum().Backward();
        Assert.Equal([0.0, 0, 0, 0, 4, 0, 0, 0, 0], ones.Grad!.ToDoubleArray());
    }

    [Fact]
    public void UnfoldAndFoldWithTheSameLayoutMatchTheDefinition()
    {
        // "same" geometry takes the flat im2col path in Unfold; Fold must not modify its input
        var xs = Rand(9, 2 * 3 * 5 * 6);
        var x = Tensor.FromArray(xs, 2, 3, 5, 6);
        var cols = Tensor.Unfold(x, 3, padding: 1);
        var cd = cols.ToDoubleArray();
        for (int n = 0; n < 2; n++)
            for (int c = 0; c < 3; c++)
                for (int i = 0; i < 3; i++)
                    for (int j = 0; j < 3; j++)
                        for (int oh = 0; oh < 5; oh++)
                            for (int ow = 0; ow < 6; ow++)
                            {
                                int ih = oh - 1 + i, iw = ow - 1 + j;
                                double e = ih < 0 || ih >= 5 || iw < 0 || iw >= 6 ? 0 : xs[((n * 3 + c) * 5 + ih) * 6 + iw];
                                Assert.Equal(e, cd[((n * 27) + (c * 9 + i * 3 + j)) * 30 + oh * 6 + ow]);
                            }
        var before = cols.ToDoubleArray();
        var folded = Tensor.Fold(cols, (5, 6), 3, padding: 1);
        Assert.Equal(before, cols.ToDoubleArray());
        // fold(unfold(x)) = x times the number of windows covering each position
        var count = Tensor.Fold(Tensor.Unfold(Tensor.OnesLike(x), 3, padding: 1), (5, 6), 3, padding: 1);
        Assert.Equal((x * count).ToDoubleArray(), folded.ToDoubleArray(), new ToleranceComparer(1e-12));
    }

    [Theory]
    [InlineData(DType.Float64, true)]
    [InlineData(DType.Float32, true)]
    [InlineData(DType.Float64, false)]
    public void FusedConvReluMatchesReluOfConv(DType dtype, bool bias)
    {
        var layer = new Nn.Conv2d(3, 5, 3, padding: 1, bias: bias, dtype: dtype, generator: new Generator(50));
        var x = Tensor.Randn([6, 3, 7, 9], dtype, new Generator(51)).RequiresGrad_();
        var gy = Tensor.Randn([6, 5, 7, 9], dtype, new Generator(52));
        // a non-finite gradient where the unit is off must give 0 (a select, not a product), as threshold_backward
        var gyd = gy.ToDoubleArray();
        var y = ((Nn.IFusedRelu)layer).ForwardRelu(x);
        var yd = y.ToDoubleArray();
        int off = Array.FindIndex(yd, v => v == 0);
        gyd[off] = double.PositiveInfinity;
        gy = Tensor.FromArray(gyd, gy.ShapeArray).To(dtype);
        var reference = layer.Forward(x).Relu();
        double tol = dtype == DType.Float64 ? 1e-12 : 1e-5;
        Assert.Equal(reference.ToDoubleArray(), yd, new ToleranceComparer(tol));
        var ps = bias ? new[] { x, layer.Weight, layer.Bias! } : new[] { x, layer.Weight };
        var expected = Autograd.Grad([reference], ps, [Tensor.Where(reference.Gt(0.0), gy, Tensor.ZerosLike(gy))]);
        var actual = Autograd.Grad([y], ps, [gy]);
        for (int i = 0; i < ps.Length; i++)
            Assert.Equal(expected[i]!.ToDoubleArray(), actual[i]!.ToDoubleArray(), new ToleranceComparer(tol * 100));
    }

    [Fact]
    public void FusedConvReluGradCheck()
    {
        static Tensor R(int seed, params int[] shape) => Tensor.Randn(shape, DType.Float64, new Generator(seed));
        // first and second order, reverse and forward mode; stride 2 and groups too
        GradCheck.Assert(t => Tensor.Conv2dRelu(t[0], t[1], t[2], padding: 1), [R(53, 2, 2, 4, 4), R(54, 3, 2, 3, 3), R(55, 3)]);
        GradCheck.Assert(t => Tensor.Conv2dRelu(t[0], t[1], null, stride: 2, groups: 2), [R(56, 1, 4, 5, 5), R(57, 2, 2, 2, 2)]);
        // unbatched input
        GradCheck.Assert(t => Tensor.Conv2dRelu(t[0], t[1], t[2]), [R(58, 2, 4, 3), R(59, 2, 2, 2, 2), R(60, 2)], secondOrder: false);
    }
}
