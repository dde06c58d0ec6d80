namespace Fluxion.Tests;

/// <summary>
/// The fast paths of the index/scan/shape kernels: scans along a middle dim vectorized across the inner lanes (and the
/// row scan along the last dim), the parallel reversed copy behind Flip, Tensor.UnfoldDim as a strided view,
/// and FillInPlace/ZeroInPlace without a full-size temporary. Each is checked against a plain reference, on dense,
/// non-contiguous, negative-dim, empty and 0-d inputs, and the changed backward by a float64 gradcheck.
/// </summary>
public class IndexScanFastPathTests
{
    private static Tensor R(DType dt, params int[] shape) => Tensor.Randn(shape, dt, new Generator(shape.Sum() * 17 + shape.Length));

    /// <summary>Reference scan along dim <paramref name="d"/> of a dense copy, accumulated in double (as the kernels for
    /// float32; exact for float64 sums in the same order).</summary>
    private static double[] RefScan(Tensor x, int d, bool product)
    {
        var v = x.Contiguous().ToDoubleArray();
        var shape = x.ShapeArray;
        int outer = 1, inner = 1, n = shape[d];
        for (int i = 0; i < d; i++) outer *= shape[i];
        for (int i = d + 1; i < shape.Length; i++) inner *= shape[i];
        var y = new double[v.Length];
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < inner; j++)
            {
                double acc = product ? 1 : 0;
                for (int i = 0; i < n; i++)
                {
                    int p = (o * n + i) * inner + j;
                    acc = product ? acc * v[p] : acc + v[p];
                    y[p] = x.DType == DType.Float32 ? (float)acc : acc;
                }
            }
        return y;
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void CumsumAndCumprodAlongEveryDimMatchTheReference(DType dt)
    {
        // 3-d with an inner extent above one lane block (512) and below, and row counts that are not multiples of 4
        foreach (var shape in new[] { new[] { 3, 7, 530 }, [2, 5, 3], [7, 9], [1030, 3] })
        {
            var x = R(dt, shape);
            for (int d = -shape.Length; d < shape.Length; d++)
            {
                int dd = d < 0 ? d + shape.Length : d;
                Assert.Equal(RefScan(x, dd, false), x.Cumsum(d).ToDoubleArray());
                var xs = x * 0.1 + 1; // products that stay finite
                Assert.Equal(RefScan(xs, dd, true), xs.Cumprod(d).ToDoubleArray());
            }
        }
    }

    [Fact]
    public void LaneScanIsBitIdenticalToTheRowScan()
    {
        // dim 0 of a dense tensor runs the lane kernel; the transposed copy runs the row kernel on the same numbers
        var x = R(DType.Float32, 37, 1029);
        var lanes = x.Cumsum(0).ToArray<float>();
        var rows = x.T.Contiguous().Cumsum(1).T.Contiguous().ToArray<float>();
        Assert.Equal(rows, lanes);
        var p = (x * 0.01f + 1).Cumprod(0).ToArray<float>();
        var pr = (x * 0.01f + 1).T.Contiguous().Cumprod(1).T.Contiguous().ToArray<float>();
        Assert.Equal(pr, p);
    }

    [Fact]
    public void ScansOfInt64NonContiguousEmptyAnd0d()
    {
        var i = Tensor.FromArray(new long[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        Assert.Equal([1L, 2, 3, 5, 7, 9], i.Cumsum(0).ToArray<long>());
        Assert.Equal([1L, 2, 3, 4, 10, 18], i.Cumprod(0).ToArray<long>());
        Assert.Equal([1L, 3, 6, 4, 9, 15], i.Cumsum(-1).ToArray<long>());
        // a transposed (non-contiguous) input along dim 0: [[1, 4], [2, 5], [3, 6]]
        Assert.Equal([1L, 4, 3, 9, 6, 15], i.T.Cumsum(0).ToArray<long>());
        var x = R(DType.Float64, 4, 6).T; // [6, 4] non-contiguous
        Assert.Equal(RefScan(x, 0, false), x.Cumsum(0).ToDoubleArray());
        Assert.Equal(RefScan(x, 1, false), x.Cumsum(-1).ToDoubleArray());
        Assert.Equal([0, 3], Tensor.Zeros([0, 3], DType.Float32).Cumsum(0).ShapeArray);
        Assert.Equal([2, 0], Tensor.Zeros([2, 0], DType.Float32).Cumprod(0).ShapeArray);
        Assert.Equal(2.5, Tensor.Scalar(2.5, DType.Float64).Cumsum(0).Item<double>());
        // cummax along a middle dim goes through the gathered layout: positions as PyTorch (last among ties)
        var m = Tensor.FromArray(new double[] { 1, 5, 3, 5, 2, 0 }, 3, 2);
        Assert.Equal([0L, 0, 1, 1, 1, 1], m.Cummax(0).Indices.ToArray<long>());
    }

    [Fact]
    public void ScanGradientsAlongAMiddleDim()
    {
        var x = R(DType.Float64, 3, 4, 5);
        GradCheck.Assert(t => t[0].Cumsum(1).Sin(), [x]);
        GradCheck.Assert(t => (t[0] * 0.3 + 1).Cumprod(-3), [x]);
    }

    [Fact]
    public void FlipOfEveryDimOfALargeTensor()
    {
        // every dim reversed coalesces into one reversed run: the parallel block copy (blocks of 4096, a partial last one)
        var x = R(DType.Float32, 131, 67);
        var v = x.ToArray<float>();
        var y = x.Flip(0, 1).ToArray<float>();
        for (int k = 0; k < v.Length; k++) Assert.Equal(v[v.Length - 1 - k], y[k]);
        var l = Tensor.Arange(10000, DType.Int64);
        Assert.Equal(Enumerable.Range(0, 10000).Reverse().Select(i => (long)i).ToArray(), l.Flip(-1).ToArray<long>());
        // a flipped view flipped back is the original
        Assert.Equal(v, x.Flip(0, 1).Flip(1, 0).ToArray<float>());
        GradCheck.Assert(t => t[0].Flip(0, 1).Square(), [R(DType.Float64, 3, 5)]);
    }

    /// <summary>PyTorch's unfold: out[..., w, ..., j] = x[..., w·step + j, ...].</summary>
    private static double[] RefUnfold(Tensor x, int d, int size, int step)
    {
        var v = x.Contiguous().ToDoubleArray();
        var shape = x.ShapeArray;
        int outer = 1, inner = 1, n = shape[d], count = (n - size) / step + 1;
        for (int i = 0; i < d; i++) outer *= shape[i];
        for (int i = d + 1; i < shape.Length; i++) inner *= shape[i];
        var y = new List<double>();
        for (int o = 0; o < outer; o++)
            for (int w = 0; w < count; w++)
                for (int j = 0; j < inner; j++)
                    for (int s = 0; s < size; s++) y.Add(v[(o * n + w * step + s) * inner + j]);
        return [.. y];
    }

    [Fact]
    public void UnfoldIsAStridedViewWithPyTorchValues()
    {
        var x = R(DType.Float64, 4, 9, 3);
        foreach (var (dim, size, step) in new[] { (1, 3, 2), (-2, 4, 1), (0, 2, 3), (2, 3, 5), (-1, 1, 1) })
        {
            int d = dim < 0 ? dim + 3 : dim;
            var y = x.UnfoldDim(dim, size, step);
            int[] want = [.. x.ShapeArray, size];
            want[d] = (x.ShapeArray[d] - size) / step + 1;
            Assert.Equal(want, y.ShapeArray);
            Assert.Same(x.Storage, y.Storage); // a view: no copy
            Assert.Equal(RefUnfold(x, d, size, step), y.Contiguous().ToDoubleArray());
        }
        // a view sees later writes to its base
        var b = Tensor.Arange(6, DType.Float64);
        var u = b.UnfoldDim(0, 2, 2);
        using (Autograd.NoGrad()) b.FillInPlace(7);
        Assert.All(u.ToDoubleArray(), v => Assert.Equal(7, v));
        // non-contiguous input, 0-d input, size 0
        var t = R(DType.Float64, 3, 5).T; // [5, 3]
        Assert.Equal(RefUnfold(t, 0, 2, 1), t.UnfoldDim(0, 2, 1).Contiguous().ToDoubleArray());
        Assert.Equal([1], Tensor.Scalar(3.0, DType.Float64).UnfoldDim(0, 1, 1).ShapeArray);
        Assert.Equal([6, 3, 0], R(DType.Float64, 5, 3).UnfoldDim(0, 0, 1).ShapeArray);
        Assert.Throws<ArgumentException>(() => x.UnfoldDim(1, 10, 1));
        Assert.Throws<ArgumentException>(() => x.UnfoldDim(1, 2, 0));
    }

    [Fact]
    public void UnfoldGradientsAddOverlappingWindows()
    {
        // overlapping windows (step < size) accumulate; gaps (step > size) get zero
        var x = Tensor.Arange(7, DType.Float64).RequiresGrad_();
        x.UnfoldDim(0, 3, 2).Sum().Backward();
        Assert.Equal([1.0, 1, 2, 1, 2, 1, 1], x.Grad!.ToDoubleArray());
        var z = Tensor.Arange(7, DType.Float64).RequiresGrad_();
        z.UnfoldDim(0, 2, 3).Sum().Backward();
        Assert.Equal([1.0, 1, 0, 1, 1, 0, 0], z.Grad!.ToDoubleArray());
        GradCheck.Assert(t => t[0].UnfoldDim(1, 3, 2).Square(), [R(DType.Float64, 2, 7, 2)]);
        GradCheck.Assert(t => t[0].UnfoldDim(-1, 2, 1).Sin(), [R(DType.Float64, 4, 3).T]);
        GradCheck.Assert(t => t[0].UnfoldDim(0, 1, 1) * 3, [Tensor.Scalar(0.7, DType.Float64)]);
        // vmap over a batch of inputs: each example unfolded alone
        var xs = R(DType.Float64, 3, 6);
        var v = Functional.Vmap((Tensor t) => t.UnfoldDim(0, 2, 2))(xs);
        Assert.Equal(xs.UnfoldDim(1, 2, 2).ToDoubleArray(), v.ToDoubleArray());
    }

    [Fact]
    public void FillInPlaceWithoutAutogradFillsTheStorageAndBumpsTheVersion()
    {
        var x = R(DType.Float32, 64, 40);
        int v0 = x.Storage.Version;
        using (Autograd.NoGrad()) x.ZeroInPlace();
        Assert.All(x.ToArray<float>(), v => Assert.Equal(0f, v));
        Assert.True(x.Storage.Version > v0);
        // a non-contiguous view: only its elements change
        var m = Tensor.Zeros([3, 4], DType.Float64);
        m.T[1].FillInPlace(2.5); // column 1
        Assert.Equal([0, 2.5, 0, 0, 0, 2.5, 0, 0, 0, 2.5, 0, 0], m.ToDoubleArray());
        var i = Tensor.Zeros([3], DType.Int64);
        i.FillInPlace(4);
        Assert.Equal([4L, 4, 4], i.ToArray<long>());
        var bo = Tensor.Zeros([2], DType.Bool);
        bo.FillInPlace(1);
        Assert.Equal([true, true], bo.ToArray<bool>());
        var s = Tensor.Scalar(1.0, DType.Float64);
        s.ZeroInPlace();
        Assert.Equal(0.0, s.Item<double>());
        // with autograd the fill is recorded: its gradient is zero
        var a = R(DType.Float64, 2, 3).RequiresGrad_();
        var y = (a * 2).ZeroInPlace() + a;
        y.Sum().Backward();
        Assert.All(a.Grad!.ToDoubleArray(), g => Assert.Equal(1.0, g));
    }

    /// <summary>The call without autograd (the plain-copy path) and with it (the composed, differentiable path) agree.</summary>
    private static void SameTrackedAndUntracked(Tensor x, Func<Tensor, Tensor> f)
    {
        double[] plain;
        using (Autograd.NoGrad()) plain = f(x).ToDoubleArray();
        var tracked = f(x.Detach().RequiresGrad_()).ToDoubleArray();
        Assert.Equal(tracked, plain);
    }

    [Fact]
    public void IndexFillAndScatterWithoutAutogradMatchTheRecordedPath()
    {
        var x = R(DType.Float64, 4, 5);
        var xt = R(DType.Float64, 5, 4).T; // non-contiguous
        foreach (var t in new[] { x, xt })
        {
            SameTrackedAndUntracked(t, a => a.IndexFill(1, Tensor.FromArray(new long[] { 0, -1, 2, 0 }), -1.5));
            SameTrackedAndUntracked(t, a => a.IndexFill(-2, Tensor.FromArray(new long[] { 3 }), 2.0));
            // repeated targets along dim 0: the last write (row-major over the index) wins
            var idx = Tensor.FromArray(new long[] { 0, 2, 1, 0, 2, 2, 0, 1 }, 2, 4);
            SameTrackedAndUntracked(t, a => a.Scatter(0, idx, R(DType.Float64, 3, 4)));
            SameTrackedAndUntracked(t, a => a.Scatter(1, Tensor.FromArray(new long[] { 3, 0, 4, 4 }, 2, 2), 0.25));
        }
        var plain = Tensor.Zeros([2, 3], DType.Float64).Scatter(1, Tensor.FromArray(new long[] { 2, 2, 0 }, 1, 3), Tensor.FromArray(new double[] { 1, 2, 3 }, 1, 3));
        Assert.Equal([3.0, 0, 2, 0, 0, 0], plain.ToDoubleArray());
        // int64 and bool keep their dtype; a fill value is cast to it
        var i = Tensor.FromArray(new long[] { 1, 2, 3, 4 }, 2, 2).IndexFill(0, Tensor.FromArray(new long[] { 1 }), 7.9);
        Assert.Equal([1L, 2, 7, 7], i.ToArray<long>());
        var b = Tensor.Zeros([2, 2], DType.Bool).Scatter(1, Tensor.FromArray(new long[] { 1, 0 }, 2, 1), Tensor.FromArray(new[] { true, true }, 2, 1));
        Assert.Equal([false, true, true, false], b.ToArray<bool>());
        // the input is not modified, and empty inputs stay empty
        var before = x.ToDoubleArray();
        _ = x.IndexFill(0, Tensor.FromArray(new long[] { 1 }), 9);
        Assert.Equal(before, x.ToDoubleArray());
        Assert.Equal([0, 3], Tensor.Zeros([0, 3], DType.Float32).IndexFill(1, Tensor.FromArray(new long[] { 1 }), 1).ShapeArray);
    }
}
