namespace Fluxion.Tests;

/// <summary>
/// The row-parallel sort, selection and scan kernels, the parallel and tiled strided copies, and the one-pass
/// scatter/diagonal composites, against plain references: large enough inputs to take the parallel paths, ties,
/// NaN, signed zeros, every dtype, non-contiguous inputs, repeated scatter targets.
/// </summary>
public class SortIndexKernelTests
{
    private static double[] Draw(int n, int seed, int distinct = 0, double nanRate = 0)
    {
        var rng = new Random(seed);
        var v = new double[n];
        for (int i = 0; i < n; i++)
        {
            v[i] = distinct > 0 ? rng.Next(distinct) - distinct / 2 : rng.NextDouble() * 4 - 2;
            if (v[i] == 0 && rng.Next(2) == 0) v[i] = -0.0;
            if (nanRate > 0 && rng.NextDouble() < nanRate) v[i] = double.NaN;
        }
        return v;
    }

    /// <summary>Ascending order with NaN largest (and -0 equal to +0), as PyTorch sorts.</summary>
    private static int Cmp(double a, double b) => double.IsNaN(a) ? (double.IsNaN(b) ? 0 : 1) : double.IsNaN(b) ? -1 : a.CompareTo(b) is var c && a == b ? 0 : c;

    /// <summary>The stable order of each row of a [rows, n] array (LINQ's OrderBy is stable).</summary>
    private static long[] StableOrder(double[] x, int rows, int n, bool descending)
    {
        var r = new long[rows * n];
        var cmp = Comparer<double>.Create(Cmp);
        for (int i = 0; i < rows; i++)
        {
            var pos = Enumerable.Range(0, n);
            var ordered = descending ? pos.OrderByDescending(j => x[i * n + j], cmp) : pos.OrderBy(j => x[i * n + j], cmp);
            int k = 0;
            foreach (var j in ordered) r[i * n + k++] = j;
        }
        return r;
    }

    public static IEnumerable<object[]> DTypes() => [[DType.Float32], [DType.Float64], [DType.Int64]];

    [Theory]
    [MemberData(nameof(DTypes))]
    public void ArgsortIsStableWithTiesNanAndSignedZeros(DType dtype)
    {
        const int rows = 70, n = 300; // 21,000 elements: the parallel path
        var v = Draw(rows * n, 1, distinct: 7, nanRate: dtype == DType.Int64 ? 0 : 0.05);
        var x = Tensor.FromArray(v, rows, n).To(dtype);
        var vx = x.To(DType.Float64).ToArray<double>();
        foreach (bool desc in new[] { false, true })
        {
            var got = x.Argsort(1, descending: desc).ToArray<long>();
            Assert.Equal(StableOrder(vx, rows, n, desc), got);
            // along dim 0 (a transposed layout): the same as sorting the transpose
            var got0 = x.Argsort(0, descending: desc).T.Contiguous().ToArray<long>();
            var xt = x.T.Contiguous().To(DType.Float64).ToArray<double>();
            Assert.Equal(StableOrder(xt, n, rows, desc), got0);
        }
    }

    [Theory]
    [MemberData(nameof(DTypes))]
    public void TopkMatchesTheStableSortHead(DType dtype)
    {
        const int rows = 40, n = 500;
        var v = Draw(rows * n, 2, distinct: 11, nanRate: dtype == DType.Int64 ? 0 : 0.03);
        var x = Tensor.FromArray(v, rows, n).To(dtype);
        var vx = x.To(DType.Float64).ToArray<double>();
        foreach (int k in new[] { 0, 1, 2, 17, 37, n })
            foreach (bool largest in new[] { true, false })
            {
                var (vals, idx) = x.Topk(k, 1, largest);
                Assert.Equal(new[] { rows, k }, vals.ShapeArray);
                var order = StableOrder(vx, rows, n, largest);
                var want = new long[rows * k];
                for (int r = 0; r < rows; r++)
                    for (int i = 0; i < k; i++) want[r * k + i] = order[r * n + i];
                Assert.Equal(want, idx.ToArray<long>());
                Assert.Equal(x.Gather(1, idx).To(DType.Float64).ToArray<double>(), vals.To(DType.Float64).ToArray<double>());
            }
        // along dim 0 of a non-contiguous input
        var (_, i0) = x.T.Topk(3, 0, largest: false);
        var (_, i1) = x.Topk(3, 1, largest: false);
        Assert.Equal(i1.T.Contiguous().ToArray<long>(), i0.Contiguous().ToArray<long>());
    }

    [Theory]
    [MemberData(nameof(DTypes))]
    public void MedianPicksTheStableRankAndKthvalueAgreesOnValues(DType dtype)
    {
        const int rows = 50, n = 401;
        var v = Draw(rows * n, 3, distinct: 9);
        var x = Tensor.FromArray(v, rows, n).To(dtype);
        var vx = x.To(DType.Float64).ToArray<double>();
        var order = StableOrder(vx, rows, n, false);
        var (mv, mi) = x.Median(1);
        var idx = mi.ToArray<long>();
        for (int r = 0; r < rows; r++) Assert.Equal(order[r * n + (n - 1) / 2], idx[r]);
        var (kv, _) = x.Kthvalue((n + 1) / 2, 1);
        Assert.Equal(mv.To(DType.Float64).ToArray<double>(), kv.To(DType.Float64).ToArray<double>());
        if (dtype == DType.Int64) return;
        // NaN: median gives the first NaN, nanmedian the median of the rest
        var w = (double[])v.Clone();
        w[5] = w[9] = double.NaN;
        var y = Tensor.FromArray(w, rows, n).To(dtype);
        Assert.Equal(5L, y.Median(1).Indices.ToArray<long>()[0]);
        var rest = Enumerable.Range(0, n).Where(j => j != 5 && j != 9).ToArray();
        var sortedRest = rest.OrderBy(j => w[j], Comparer<double>.Create(Cmp)).ToArray();
        Assert.Equal((long)sortedRest[(rest.Length - 1) / 2], y.NanMedian(1).Indices.ToArray<long>()[0]);
    }

    [Fact]
    public void ModeOfLongRowsIsTheSmallestMostFrequentValue()
    {
        const int rows = 64, n = 400;
        var v = Draw(rows * n, 4, distinct: 13);
        var x = Tensor.FromArray(v, rows, n);
        var (mv, mi) = x.Mode(1);
        var vals = mv.ToArray<double>();
        var idx = mi.ToArray<long>();
        for (int r = 0; r < rows; r++)
        {
            var row = v.AsSpan(r * n, n).ToArray().Select(a => a == 0 ? 0.0 : a).ToArray();
            var best = row.GroupBy(a => a).OrderByDescending(g => g.Count()).ThenBy(g => g.Key).First();
            Assert.Equal(best.Key, vals[r]);
            Assert.Equal(best.Key, row[idx[r]]);
        }
    }

    [Fact]
    public void ScansRunRowsInParallelWithPyTorchConventions()
    {
        const int rows = 90, n = 400;
        var v = Draw(rows * n, 5, distinct: 5, nanRate: 0.01);
        var x = Tensor.FromArray(v, rows, n);
        var cs = x.Cumsum(1).ToArray<double>();
        var (cmv, cmi) = x.Cummax(1);
        var cmaxIdx = cmi.ToArray<long>();
        var cmaxVal = cmv.ToArray<double>();
        for (int r = 0; r < rows; r++)
        {
            double acc = 0, best = 0;
            long bi = 0;
            for (int i = 0; i < n; i++)
            {
                double a = v[r * n + i];
                acc += a;
                Assert.Equal(acc, cs[r * n + i]);
                if (i == 0 || double.IsNaN(a) || (!double.IsNaN(best) && a >= best))
                {
                    best = a;
                    bi = i;
                }
                Assert.Equal(bi, cmaxIdx[r * n + i]);
                Assert.Equal(best, cmaxVal[r * n + i]);
            }
        }
        // along dim 0 of a transposed view: the same as along dim 1
        TensorAssert.Close(x.Cumprod(1).T, x.T.Cumprod(0), 0, 0);
        TensorAssert.Close(x.LogCumSumExp(1).T, x.T.LogCumSumExp(0), 0, 0);
    }

    [Fact]
    public void ProdGradientWithAndWithoutZerosIsTheProductOfTheOthers()
    {
        foreach (bool zero in new[] { false, true })
        {
            var v = Draw(12, 6).Select(a => a + Math.Sign(a) * 0.5).ToArray();
            if (zero) v[4] = 0;
            var x = Tensor.FromArray(v, 3, 4).RequiresGrad_();
            x.Prod(1).Sum().Backward();
            var g = x.Grad!.ToArray<double>();
            for (int r = 0; r < 3; r++)
                for (int i = 0; i < 4; i++)
                {
                    double others = 1;
                    for (int j = 0; j < 4; j++) if (j != i) others *= v[r * 4 + j];
                    Assert.Equal(others, g[r * 4 + i], 12);
                }
        }
    }

    [Fact]
    public void ProdOfALongRowAndReversedCumsumGradients()
    {
        // a single row long enough to be multiplied in parallel chunks: the value of the sequential product (up to rounding)
        var v = Draw(40_000, 14).Select(a => 1 + a * 1e-3).ToArray();
        double seq = 1;
        foreach (var a in v) seq *= a;
        Assert.Equal(seq, Tensor.FromArray(v, v.Length).Prod().Item<double>(), 1e-9 * Math.Abs(seq));
        var iv = Enumerable.Range(0, 40_000).Select(i => (long)(i % 3 == 0 ? -1 : 1)).ToArray();
        Assert.Equal(iv.Aggregate(1L, (p, a) => p * a), Tensor.FromArray(iv, iv.Length).Prod().Item<long>());
        // cumsum's gradient is the reversed cumulative sum of the output gradient (along dim 0 of a [5, 3])
        var x = Tensor.FromArray(Draw(15, 15), 5, 3).RequiresGrad_();
        var w = Draw(15, 16);
        (x.Cumsum(0) * Tensor.FromArray(w, 5, 3)).Sum().Backward();
        var g = x.Grad!.ToArray<double>();
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 3; j++)
            {
                double want = 0;
                for (int k = i; k < 5; k++) want += w[k * 3 + j];
                Assert.Equal(want, g[i * 3 + j], 12);
            }
    }

    [Fact]
    public void StridedCopiesFlipTransposeAndSliceLargeTensors()
    {
        const int a = 3, b = 150, c = 170; // 76,500 elements: parallel rows and transposed tiles
        var v = Draw(a * b * c, 7);
        var x = Tensor.FromArray(v, a, b, c);
        double At(int i, int j, int k) => v[(i * b + j) * c + k];
        var f = x.Flip(1, 2).ToArray<double>();
        var t = x.Transpose(1, 2).Contiguous().ToArray<double>();
        var p = x.Permute(2, 0, 1).Contiguous().ToArray<double>();
        for (int i = 0; i < a; i++)
            for (int j = 0; j < b; j++)
                for (int k = 0; k < c; k++)
                {
                    Assert.Equal(At(i, b - 1 - j, c - 1 - k), f[(i * b + j) * c + k]);
                    Assert.Equal(At(i, j, k), t[(i * c + k) * b + j]);
                    Assert.Equal(At(i, j, k), p[(k * a + i) * b + j]);
                }
        var r = x.Roll(-5, 2).ToArray<double>();
        for (int k = 0; k < c; k++) Assert.Equal(At(1, 7, (k + 5) % c), r[(1 * b + 7) * c + k]);
        // a gather along dim 1 of a transposed view
        var idx = Tensor.FromArray(Enumerable.Range(0, a * c * 4).Select(q => (long)(q * 37 % b)).ToArray(), a, c, 4);
        var g = x.Transpose(1, 2).Gather(2, idx).ToArray<double>();
        var iv = idx.ToArray<long>();
        for (int q = 0; q < iv.Length; q++) Assert.Equal(At(q / (c * 4), (int)iv[q], q / 4 % c), g[q]);
    }

    [Fact]
    public void ScatterKeepsTheLastWriteAndSendsItsGradientThere()
    {
        var x = Tensor.FromArray(Draw(12, 8), 3, 4).RequiresGrad_();
        var src = Tensor.FromArray(Draw(15, 9), 3, 5).RequiresGrad_();
        var index = Tensor.FromArray(new long[] { 3, 3, 0, 2, 2, 1 }, 3, 2); // row 0 writes column 3 twice
        var y = x.Scatter(1, index, src);
        var xv = x.ToArray<double>();
        var sv = src.ToArray<double>();
        var want = (double[])xv.Clone();
        var iv = index.ToArray<long>();
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 2; j++) want[i * 4 + iv[i * 2 + j]] = sv[i * 5 + j];
        Assert.Equal(want, y.ToArray<double>());
        var w = Tensor.FromArray(Draw(12, 10), 3, 4);
        (y * w).Sum().Backward();
        var wv = w.ToArray<double>();
        var gx = x.Grad!.ToArray<double>();
        var gs = src.Grad!.ToArray<double>();
        for (int q = 0; q < 12; q++)
        {
            bool hit = Enumerable.Range(0, 6).Any(k => k / 2 == q / 4 && iv[k] == q % 4);
            Assert.Equal(hit ? 0 : wv[q], gx[q]);
        }
        // src[0, 0] is overwritten by src[0, 1] (both target column 3): no gradient; src past the index's columns: none
        Assert.Equal(0, gs[0]);
        Assert.Equal(wv[3], gs[1]);
        Assert.Equal(wv[4 + 0], gs[5]);
        Assert.Equal(wv[4 + 2], gs[6]);
        Assert.Equal(0, gs[2]);
    }

    [Fact]
    public void DiagonalScatterDiagEmbedAndSelectScatterWriteOneSlice()
    {
        var x = Tensor.FromArray(Draw(2 * 3 * 4, 11), 2, 3, 4);
        var d = Tensor.FromArray(Draw(2 * 3, 12), 2, 3);
        foreach (int off in new[] { 0, 1, -1 })
        {
            int len = off == -1 ? 2 : 3;
            var s = d.Narrow(1, 0, len).Contiguous();
            var y = x.DiagonalScatter(s, off, 1, 2);
            TensorAssert.Close(s, y.Diagonal(off, 1, 2), 0, 0);
            var cleared = y - x.DiagonalScatter(x.Diagonal(off, 1, 2), off, 1, 2);
            TensorAssert.Close(Tensor.Zeros(2, 3, 4).To(DType.Float64), cleared - cleared.DiagonalScatter(cleared.Diagonal(off, 1, 2), off, 1, 2), 0, 0);
            var e = s.DiagEmbed(off);
            TensorAssert.Close(s, e.Diagonal(off, -2, -1), 0, 0);
            Assert.Equal(e.Abs().Sum().Item<double>(), s.Abs().Sum().Item<double>());
        }
        var row = Tensor.FromArray(Draw(8, 13), 2, 4);
        var sel = x.SelectScatter(row, 1, 1);
        TensorAssert.Close(row, sel.Select(1, 1), 0, 0);
        TensorAssert.Close(x.Select(1, 0), sel.Select(1, 0), 0, 0);
        TensorAssert.Close(x.Select(1, 2), sel.Select(1, 2), 0, 0);
    }
}
