using Xunit;

namespace Fluxion.Tests;

/// <summary>The staged reductions over non-adjacent dims (sum, mean, amax, amin, nansum), the vectorized count_nonzero,
/// the tiled copy of permuted views, and the gradients of views (issue 16, item 5): values against plain loops, on
/// contiguous, non-contiguous and empty inputs.</summary>
public sealed class StagedReduceCopyTests
{
    private static double[] Values(int n, int seed, double nanEvery = 0, double zeroEvery = 0)
    {
        var rng = new Random(seed);
        var v = new double[n];
        for (int i = 0; i < n; i++)
        {
            v[i] = Math.Round(rng.NextDouble() * 8 - 4, 3);
            if (zeroEvery > 0 && i % (int)zeroEvery == 0) v[i] = i % 2 == 0 ? 0.0 : -0.0;
            if (nanEvery > 0 && i % (int)nanEvery == 1) v[i] = double.NaN;
        }
        return v;
    }

    /// <summary>Reference reduction of a row-major [A, B, C] array over dims 0 and 2 (kept: B).</summary>
    private static double[] RefOver02(double[] x, int a, int b, int c, Func<double, double, double> f, double init)
    {
        var r = new double[b];
        for (int j = 0; j < b; j++)
        {
            double acc = init;
            for (int i = 0; i < a; i++)
                for (int k = 0; k < c; k++) acc = f(acc, x[(i * b + j) * c + k]);
            r[j] = acc;
        }
        return r;
    }

    private static double NanMax(double a, double b) => double.IsNaN(a) || double.IsNaN(b) ? double.NaN : Math.Max(a, b);
    private static double NanMin(double a, double b) => double.IsNaN(a) || double.IsNaN(b) ? double.NaN : Math.Min(a, b);

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void ReductionsOverNonAdjacentDimsMatchLoops(DType dtype)
    {
        const int A = 5, B = 17, C = 19;
        var v = Values(A * B * C, 1);
        var x = Tensor.FromArray(v, A, B, C).To(dtype);
        double tol = dtype == DType.Float32 ? 1e-3 : 1e-10;
        TensorAssert.Close(RefOver02(v, A, B, C, (p, q) => p + q, 0), x.Sum([0, 2]).To(DType.Float64).ToArray<double>(), tol, tol);
        TensorAssert.Close(RefOver02(v, A, B, C, (p, q) => p + q, 0).Select(s => s / (A * C)).ToArray(),
            x.Mean([0, -1], keepDim: true).To(DType.Float64).ToArray<double>(), tol, tol);
        Assert.Equal([1, B, 1], x.Mean([0, -1], keepDim: true).ShapeArray);
        TensorAssert.Close(RefOver02(v, A, B, C, NanMax, double.NegativeInfinity), x.Amax([0, 2]).To(DType.Float64).ToArray<double>(), tol, tol);
        TensorAssert.Close(RefOver02(v, A, B, C, NanMin, double.PositiveInfinity), x.Amin([0, 2]).To(DType.Float64).ToArray<double>(), tol, tol);
        // the same reductions on a non-contiguous view (general path) agree
        var xt = Tensor.FromArray(v, A, B, C).To(dtype).Transpose(0, 2).Contiguous().Transpose(0, 2);
        Assert.False(xt.IsContiguous);
        TensorAssert.Close(x.Sum([0, 2]).To(DType.Float64).ToArray<double>(), xt.Sum([0, 2]).To(DType.Float64).ToArray<double>(), tol, tol);
        TensorAssert.Close(x.Amax([0, 2]).To(DType.Float64).ToArray<double>(), xt.Amax([0, 2]).To(DType.Float64).ToArray<double>(), 0);
    }

    [Fact]
    public void StagedReductionsOfFourDimsAndNaN()
    {
        // [3, 20, 4, 18] over dims 0 and 2: reduced, kept, reduced, kept (two middle passes)
        int[] s = [3, 20, 4, 18];
        var v = Values(3 * 20 * 4 * 18, 2, nanEvery: 97);
        var x = Tensor.FromArray(v, s);
        var sum = x.Sum([0, 2]).ToArray<double>();
        var max = x.Amax([0, 2]).ToArray<double>();
        for (int j = 0; j < 20; j++)
            for (int l = 0; l < 18; l++)
            {
                double acc = 0, m = double.NegativeInfinity;
                for (int i = 0; i < 3; i++)
                    for (int k = 0; k < 4; k++)
                    {
                        double e = v[((i * 20 + j) * 4 + k) * 18 + l];
                        acc += e;
                        m = NanMax(m, e);
                    }
                Assert.Equal(acc, sum[j * 18 + l], 9);
                Assert.Equal(m, max[j * 18 + l]);
            }
        Assert.Contains(sum, double.IsNaN);
    }

    [Fact]
    public void ReductionsOfEmptyAndZeroDimInputs()
    {
        var e = Tensor.Zeros(4, 0, 3);
        Assert.Equal([4, 3], e.Sum([1]).ShapeArray);
        Assert.All(e.Sum([1]).ToArray<float>(), v => Assert.Equal(0f, v));
        Assert.Equal(0f, e.Sum().ToArray<float>()[0]);
        Assert.Equal(0f, e.NanSum().ToArray<float>()[0]);
        Assert.Equal(0L, e.CountNonzero().ToArray<long>()[0]);
        Assert.Throws<ShapeMismatchException>(() => e.Amax([1]));
        var z = Tensor.FromArray([2.5], []);
        Assert.Equal(2.5, z.Sum().ToArray<double>()[0]);
        Assert.Equal(2.5, z.Amax().ToArray<double>()[0]);
    }

    [Fact]
    public void NanSumWithoutGradientMatchesLoops()
    {
        var v = Values(40 * 37, 3, nanEvery: 5);
        var x = Tensor.FromArray(v, 40, 37);
        double all = v.Where(d => !double.IsNaN(d)).Sum();
        Assert.Equal(all, x.NanSum().ToArray<double>()[0], 9);
        Assert.Equal(all, x.To(DType.Float32).NanSum().ToArray<float>()[0], 1);
        var rows = x.NanSum([1]).ToArray<double>();
        var cols = x.NanSum([0]).ToArray<double>();
        for (int i = 0; i < 40; i++) Assert.Equal(Enumerable.Range(0, 37).Select(j => v[i * 37 + j]).Where(d => !double.IsNaN(d)).Sum(), rows[i], 9);
        for (int j = 0; j < 37; j++) Assert.Equal(Enumerable.Range(0, 40).Select(i => v[i * 37 + j]).Where(d => !double.IsNaN(d)).Sum(), cols[j], 9);
        // with a gradient the composite runs: NaN elements get a zero gradient
        var xg = Tensor.FromArray(v, 40, 37).RequiresGrad_();
        Assert.Equal(all, xg.NanSum().Item(), 9);
        xg.NanSum().Backward();
        var g = xg.Grad!.ToArray<double>();
        for (int i = 0; i < v.Length; i++) Assert.Equal(double.IsNaN(v[i]) ? 0.0 : 1.0, g[i]);
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void CountNonzeroCountsNaNAndNotSignedZeros(DType dtype)
    {
        var v = Values(1000 * 3 + 7, 4, nanEvery: 11, zeroEvery: 13);
        long expected = v.Count(d => d != 0 || double.IsNaN(d));
        var x = Tensor.FromArray(v, v.Length).To(dtype);
        Assert.Equal(expected, x.CountNonzero().ToArray<long>()[0]);
        Assert.Equal(expected, x.Reshape(1, v.Length).CountNonzero([0, 1]).ToArray<long>()[0]);
        // non-contiguous: the general path
        var y = Tensor.FromArray(v[..3000], 3, 1000).To(dtype).T;
        Assert.Equal(v[..3000].Count(d => d != 0 || double.IsNaN(d)), y.CountNonzero().ToArray<long>()[0]);
    }

    /// <summary>Row-major elements of a permuted view, by index arithmetic.</summary>
    private static double[] PermutedRef(double[] v, int[] shape, int[] perm)
    {
        int r = shape.Length;
        var inStrides = new int[r];
        for (int d = r - 1, s = 1; d >= 0; s *= shape[d], d--) inStrides[d] = s;
        var outShape = perm.Select(p => shape[p]).ToArray();
        var result = new double[v.Length];
        var idx = new int[r];
        for (int n = 0; n < v.Length; n++)
        {
            int off = 0;
            for (int d = 0; d < r; d++) off += idx[d] * inStrides[perm[d]];
            result[n] = v[off];
            for (int d = r - 1; d >= 0; d--)
            {
                if (++idx[d] < outShape[d]) break;
                idx[d] = 0;
            }
        }
        return result;
    }

    [Theory]
    [InlineData(new[] { 40, 33, 17 }, new[] { 2, 0, 1 })]
    [InlineData(new[] { 40, 33, 17 }, new[] { 2, 1, 0 })]
    [InlineData(new[] { 9, 70, 65 }, new[] { 0, 2, 1 })]
    [InlineData(new[] { 3, 4, 50, 45 }, new[] { 3, 1, 0, 2 })]
    [InlineData(new[] { 300, 1100 }, new[] { 1, 0 })]
    public void ContiguousCopyOfPermutedViewsMatchesIndexArithmetic(int[] shape, int[] perm)
    {
        int n = shape.Aggregate(1, (a, b) => a * b);
        var v = Values(n, 5);
        var expected = PermutedRef(v, shape, perm);
        var x = Tensor.FromArray(v, shape);
        Assert.Equal(expected, x.Permute(perm).Contiguous().ToArray<double>());
        Assert.Equal(expected.Select(d => (float)d).ToArray(), x.To(DType.Float32).Permute(perm).Contiguous().ToArray<float>());
        Assert.Equal(expected.Select(d => (long)(d * 1000)).ToArray(), (x * 1000).To(DType.Int64).Permute(perm).Contiguous().ToArray<long>());
        Assert.Equal(expected.Select(d => d > 0).ToArray(), x.Gt(0.0).Permute(perm).Contiguous().ToArray<bool>());
    }

    [Fact]
    public void CopiesIntoStridedAndFromExpandedViews()
    {
        var v = Values(64 * 40, 6);
        var src = Tensor.FromArray(v, 64, 40);
        // destination a transposed view: CopyInPlace writes through it
        var dst = Tensor.Zeros([40, 64], DType.Float64).T;
        dst.CopyInPlace(src);
        Assert.Equal(v, dst.Contiguous().ToArray<double>());
        // an expanded source (stride 0) made contiguous
        var row = Tensor.FromArray(v[..40], 1, 40).Expand(64, 40).T.Contiguous().ToArray<double>();
        for (int i = 0; i < 40; i++)
            for (int j = 0; j < 64; j++) Assert.Equal(v[i], row[i * 64 + j]);
        // a large plain copy (split across threads)
        var big = Tensor.Arange(0, 1 << 19, 1, DType.Float64);
        Assert.Equal(big.ToArray<double>(), big.Clone().ToArray<double>());
    }

    [Fact]
    public void GradientsOfViewsAreTheSeedMovedBackDense()
    {
        int[] shape = [6, 10, 12];
        var v = Values(6 * 10 * 12, 7);
        var cases = new (string Name, Func<Tensor, Tensor> F)[]
        {
            ("transpose", t => t.Transpose(0, 2)),
            ("permute", t => t.Permute(2, 0, 1)),
            ("movedim", t => t.Movedim(0, -1)),
            ("mT", t => t.MT),
            ("unsqueeze", t => t.Unsqueeze(1)),
            ("flatten", t => t.Flatten()),
            ("slice", t => t.Slice(2, 1, 9, 2)),
            ("narrow", t => t.Narrow(1, 2, 5)),
            ("select", t => t.Select(1, 3)),
            ("diagonal", t => t.Diagonal(0, 1, 2)),
        };
        foreach (var (name, f) in cases)
        {
            var x = Tensor.FromArray(v, shape).RequiresGrad_();
            var y = f(x);
            var seed = Tensor.FromArray(Values(y.Numel, 8), y.ShapeArray);
            y.Backward(seed);
            // reference: the same view of a tensor numbering the input's elements tells where each seed value goes
            var pos = f(Tensor.Arange(0, v.Length, 1, DType.Float64).Reshape(shape)).Contiguous().ToArray<double>();
            var expected = new double[v.Length];
            var s = seed.ToArray<double>();
            for (int i = 0; i < pos.Length; i++) expected[(int)pos[i]] += s[i];
            Assert.True(x.Grad!.IsContiguous, name);
            Assert.Equal(shape, x.Grad.ShapeArray);
            Assert.Equal(expected, x.Grad.ToArray<double>());
            // the seed is untouched, and a second backward accumulates without writing into it
            var seedCopy = seed.ToArray<double>();
            f(x).Backward(seed);
            Assert.Equal(seedCopy, seed.ToArray<double>());
            Assert.Equal(expected.Select(e => 2 * e).ToArray(), x.Grad.ToArray<double>());
        }
    }
}
