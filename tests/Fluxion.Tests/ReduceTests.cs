namespace Fluxion.Tests;

public class ReduceTests
{
    private static Tensor R(params int[] shape) => Tensor.Randn(shape, DType.Float64, new Generator(shape.Sum() * 7 + shape.Length));
    private static double[] V(Tensor t) => t.ToDoubleArray();

    // ---- Sum over leading / middle dims (row-add kernel, no transposed copy) -------------------

    /// <summary>Σ over dims [d0, d1] of a dense [outer, r, inner] tensor, by element access.</summary>
    private static double[] NaiveMiddleSum(double[] x, int outer, int r, int inner)
    {
        var y = new double[outer * inner];
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < inner; j++)
            {
                double s = 0;
                for (int k = 0; k < r; k++) s += x[(o * r + k) * inner + j];
                y[o * inner + j] = s;
            }
        return y;
    }

    [Theory]
    [InlineData(new[] { 7, 33 }, new[] { 0 }, 1, 7, 33)]
    [InlineData(new[] { 300, 20 }, new[] { 0 }, 1, 300, 20)]        // more rows than one block: blocked summation
    [InlineData(new[] { 2, 3, 5, 40 }, new[] { 1, 2 }, 2, 15, 40)]  // reduced dims in the middle
    [InlineData(new[] { 2, 0, 17 }, new[] { 1 }, 2, 0, 17)]        // empty reduction gives 0
    [InlineData(new[] { 3, 4, 5 }, new[] { 0 }, 1, 3, 20)]          // kept block [4, 5] flattened
    public void SumOverLeadingOrMiddleDimsMatchesNaive(int[] shape, int[] dims, int outer, int r, int inner)
    {
        var x = R(shape);
        var want = NaiveMiddleSum(x.ToArray<double>(), outer, r, inner);
        var y = x.Sum(dims);
        Assert.Equal(want, V(y), new ToleranceComparer(1e-11));
        Assert.Equal(want, V(x.Sum(dims, keepDim: true)), new ToleranceComparer(1e-11));
        // float32: blocked summation keeps long columns accurate
        var x32 = x.To(DType.Float32);
        Assert.Equal(want, V(x32.Sum(dims)), new ToleranceComparer(1e-4));
        // the same sums through the transposed-copy path (non-contiguous input) agree
        var xt = x.MT.Contiguous().MT;
        Assert.Equal(want, V(xt.Sum(dims)), new ToleranceComparer(1e-11));
    }

    [Fact]
    public void SumOverBatchOfLongColumnsKeepsFloat32Accuracy()
    {
        // 100000 rows of 0.1f: a plain running sum in float32 drifts by ~1e-2 relative; the blocked sum stays close
        var x = Tensor.Full([100000, 16], 0.1, DType.Float32);
        foreach (var v in V(x.Sum(0))) Assert.Equal(10000.0, v, 0.5);
        GradCheck.Assert(t => t[0].Sum(0), [R(5, 17)]);
    }

    // ---- Max / Min ------------------------------------------------------------------------------

    [Fact]
    public void FullMaxMinValuesAndTieSplitting()
    {
        var x = Tensor.FromArray([1.0, 3, 3, 2, -1, -1], 2, 3).RequiresGrad_();
        var m = x.Max();
        Assert.Equal(0, m.Rank);
        Assert.Equal(3.0, m.Item());
        m.Backward();
        Assert.Equal([0, 0.5, 0.5, 0, 0, 0], V(x.Grad!));

        var y = Tensor.FromArray([1.0, 3, 3, 2, -1, -1], 2, 3).RequiresGrad_();
        var n = y.Min();
        Assert.Equal(-1.0, n.Item());
        (n * 4.0).Backward();
        Assert.Equal([0, 0, 0, 0, 2, 2], V(y.Grad!));
    }

    [Fact]
    public void AmaxAminSplitTiesPerSlice()
    {
        var x = Tensor.FromArray([1.0, 5, 5, 2, 7, 0], 2, 3).RequiresGrad_();
        var a = x.Amax(-1);
        Assert.Equal([5.0, 7], V(a));
        a.Sum().Backward();
        Assert.Equal([0, 0.5, 0.5, 0, 1, 0], V(x.Grad!));
        var k = x.Detach().Amin([0], keepDim: true);
        Assert.Equal([1, 3], k.ShapeArray);
        Assert.Equal([1.0, 5, 0], V(k));
        Assert.Equal([7.0], V(x.Detach().Amax([0, 1]).Reshape(1)));
    }

    [Fact]
    public void MaxAlongDimValuesIndicesAndGradient()
    {
        var x = Tensor.FromArray([1.0, 4, 4, 2, 9, 9, 9, 0], 2, 4).RequiresGrad_();
        var (v, i) = x.Max(1);
        Assert.Equal([4.0, 9], V(v));
        Assert.Equal(DType.Int64, i.DType);
        Assert.Equal([1L, 0], i.ToArray<long>()); // first occurrence on ties
        v.Backward(Tensor.FromArray([10.0, 20]));
        Assert.Equal([0, 10, 0, 0, 20, 0, 0, 0], V(x.Grad!)); // only the chosen index

        var (mv, mi) = x.Detach().Min(-2, keepDim: true);
        Assert.Equal([1, 4], mv.ShapeArray);
        Assert.Equal([1.0, 4, 4, 0], V(mv));
        Assert.Equal([0L, 0, 0, 1], mi.ToArray<long>());
    }

    [Fact]
    public void MaxAlongDimMatchesNaiveOn3D()
    {
        var x = R(3, 4, 5);
        for (int dim = -3; dim < 3; dim++)
        {
            var (v, i) = x.Max(dim);
            var (nv, ni) = x.Min(dim, keepDim: true);
            int d = dim < 0 ? dim + 3 : dim;
            var shape = x.ShapeArray;
            var outShape = shape.Where((_, k) => k != d).ToArray();
            Assert.Equal(outShape, v.ShapeArray);
            var idx = new int[3];
            for (int a = 0; a < outShape[0]; a++)
                for (int b = 0; b < outShape[1]; b++)
                {
                    double best = double.NegativeInfinity, worst = double.PositiveInfinity;
                    int bi = -1, wi = -1;
                    for (int k = 0; k < shape[d]; k++)
                    {
                        int q = 0;
                        for (int e = 0; e < 3; e++) idx[e] = e == d ? k : (q++ == 0 ? a : b);
                        double val = x.Get(idx);
                        if (val > best) { best = val; bi = k; }
                        if (val < worst) { worst = val; wi = k; }
                    }
                    Assert.Equal(best, v.Get(a, b));
                    Assert.Equal(bi, i.Get(a, b));
                    var kidx = new int[3];
                    int qq = 0;
                    for (int e = 0; e < 3; e++) kidx[e] = e == d ? 0 : (qq++ == 0 ? a : b);
                    Assert.Equal(worst, nv.Get(kidx));
                    Assert.Equal(wi, ni.Get(kidx));
                }
        }
    }

    [Fact]
    public void MaxMinGradCheck()
    {
        var x = R(3, 4);
        GradCheck.Assert(t => t[0].Max(), [x]);
        GradCheck.Assert(t => t[0].Min(), [x]);
        GradCheck.Assert(t => t[0].Max(0).Values, [x]);
        GradCheck.Assert(t => t[0].Min(-1, keepDim: true).Values * t[0].Amax(0, keepDim: true), [x]);
        GradCheck.Assert(t => t[0].Max(1).Values.Square(), [x.T]); // non-contiguous
        var y = R(2, 3, 4);
        GradCheck.Assert(t => t[0].Permute(2, 0, 1).Max(-2, keepDim: true).Values, [y]);
        GradCheck.Assert(t => t[0].Amax([0, 2]).Exp(), [y]);
        GradCheck.Assert(t => t[0].Amin([-1], keepDim: true) * t[0], [y]);
    }

    [Fact]
    public void MaxAlongDimSecondOrderThroughOneHot()
    {
        // d/dx of the gradient of (max x)^2 must be 2 at the chosen index only
        var x = Tensor.FromArray([1.0, 3, 3, 2]).RequiresGrad_();
        var v = x.Max(0).Values;
        var g = Autograd.Grad([v.Square()], [x], createGraph: true)[0]!;
        Assert.Equal([0.0, 6, 0, 0], V(g));
        var h = Autograd.Grad([g.Sum()], [x])[0]!;
        Assert.Equal([0.0, 2, 0, 0], V(h));
    }

    [Fact]
    public void MaxOfScalarAndNaN()
    {
        var s = Tensor.Scalar(2.5, DType.Float64).RequiresGrad_();
        var (v, i) = s.Max(0);
        Assert.Equal(2.5, v.Item());
        Assert.Equal(0, i.Item());
        v.Backward();
        Assert.Equal(1.0, s.Grad!.Item());

        var x = Tensor.FromArray([1.0, double.NaN, 3, double.NaN]);
        Assert.True(double.IsNaN(x.Max().Item()));
        Assert.Equal(1, x.ArgMax().Item());
        Assert.Equal(1, x.Max(0).Indices.Item());
        Assert.True(double.IsNaN(x.Min().Item()));
    }

    [Fact]
    public void ArgMaxArgMin()
    {
        var x = Tensor.FromArray([3.0, 7, 7, 1, 0, 1], 2, 3);
        Assert.Equal(1L, x.ArgMax().Item<long>());
        Assert.Equal(0, x.ArgMax().Rank);
        Assert.Equal([1, 1], x.ArgMax(keepDim: true).ShapeArray);
        Assert.Equal(4, x.ArgMin().Item());
        Assert.Equal([1L, 0], x.ArgMax(1).ToArray<long>());
        Assert.Equal([0L, 1], x.ArgMin(-1).ToArray<long>());
        Assert.Equal([0L, 0, 0], x.ArgMax(0).ToArray<long>());
        Assert.Equal([3], x.ArgMin(0, keepDim: true).ShapeArray.Skip(1).ToArray());
        Assert.Equal([1L, 1, 1], x.ArgMin(0).ToArray<long>());
        Assert.Equal([1L, 0], x.T.ArgMax(0).ToArray<long>()); // non-contiguous
        Assert.False(x.ArgMax(0).RequiresGrad);
    }

    [Fact]
    public void EmptyReductionsThrow()
    {
        var e = Tensor.Zeros([2, 0], DType.Float64);
        Assert.Throws<ShapeMismatchException>(() => e.Max());
        Assert.Throws<ShapeMismatchException>(() => e.Max(1));
        Assert.Throws<ShapeMismatchException>(() => e.ArgMin());
        Assert.Equal([0], e.Amax(0).ShapeArray); // reducing the non-empty dim is fine
        Assert.Throws<DTypeMismatchException>(() => Tensor.Arange(3, DType.Int64).Max());
    }

    // ---- Var / Std ------------------------------------------------------------------------------

    private static double NaiveVar(double[] v, int correction)
    {
        double mean = v.Average();
        return v.Sum(a => (a - mean) * (a - mean)) / (v.Length - correction);
    }

    [Fact]
    public void VarStdValues()
    {
        var x = R(3, 5);
        var rows = Enumerable.Range(0, 3).Select(r => Enumerable.Range(0, 5).Select(c => x.Get(r, c)).ToArray()).ToArray();
        var v1 = V(x.Var(1));
        var s0 = V(x.Std(-1, correction: 0));
        for (int r = 0; r < 3; r++)
        {
            Assert.Equal(NaiveVar(rows[r], 1), v1[r], 12);
            Assert.Equal(Math.Sqrt(NaiveVar(rows[r], 0)), s0[r], 12);
        }
        Assert.Equal(NaiveVar(rows.SelectMany(a => a).ToArray(), 1), x.Var().Item(), 12);
        Assert.Equal([1, 5], x.Var(0, keepDim: true).ShapeArray);
        Assert.Equal([1, 1], x.Std([0, 1], keepDim: true).ShapeArray);
        // non-contiguous input gives the same values
        Assert.Equal(V(x.Var(0)), V(x.T.Contiguous().T.Var(0)));
        Assert.Equal(V(x.Var(0)), V(x.T.Var(1)));
    }

    [Fact]
    public void VarIsNumericallySound()
    {
        // a large offset destroys the one-pass formula E[x²] − E[x]² but not the two-pass one
        var x = Tensor.FromArray([1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16]);
        Assert.Equal(30.0, x.Var().Item(), 9);
        var f = Tensor.FromArray([10000.5f, 10001.5f, 10002.5f]);
        Assert.Equal(1.0, f.Var().Item(), 5);
    }

    [Fact]
    public void VarStdGradCheck()
    {
        var x = R(3, 4);
        GradCheck.Assert(t => t[0].Var(), [x]);
        GradCheck.Assert(t => t[0].Var(1, correction: 0), [x]);
        GradCheck.Assert(t => t[0].Std(-2, keepDim: true), [x]);
        GradCheck.Assert(t => t[0].Std([0, 1], correction: 2), [x.T]);
        var y = R(2, 3, 4);
        GradCheck.Assert(t => t[0].Var([0, 2], keepDim: true) * t[0], [y]);
        GradCheck.Assert(t => t[0].Permute(1, 2, 0).Std(-1), [y]);
    }

    [Fact]
    public void StdGradientIsZeroWhereStdIsZero()
    {
        var x = Tensor.FromArray([2.0, 2, 2, 1, 2, 3], 2, 3).RequiresGrad_();
        var s = x.Std(1);
        Assert.Equal(0.0, s.Get(0));
        var g = Autograd.Grad([s.Sum()], [x], createGraph: true)[0]!;
        var gv = V(g);
        Assert.All(gv, v => Assert.True(double.IsFinite(v)));
        Assert.Equal([0.0, 0, 0], gv.Take(3));
        Assert.Equal(-0.5, gv[3], 12); // (x − mean) / ((N − 1) std) = −1 / (2·1)
        var h = Autograd.Grad([g.Sum()], [x])[0]!;
        Assert.All(V(h), v => Assert.True(double.IsFinite(v)));
    }

    // ---- LogSumExp ------------------------------------------------------------------------------

    [Fact]
    public void LogSumExpValuesAndStability()
    {
        var x = R(3, 4);
        var l = V(x.LogSumExp(1));
        for (int r = 0; r < 3; r++)
            Assert.Equal(Math.Log(Enumerable.Range(0, 4).Sum(c => Math.Exp(x.Get(r, c)))), l[r], 12);
        Assert.Equal([1, 4], x.LogSumExp(0, keepDim: true).ShapeArray);
        Assert.Equal(0, x.LogSumExp([0, 1]).Rank);

        var big = Tensor.FromArray([1000.0, 1000, 999]).RequiresGrad_();
        var lb = big.LogSumExp(0);
        Assert.Equal(1000 + Math.Log(2 + Math.Exp(-1)), lb.Item(), 10);
        lb.Backward();
        double z = 2 + Math.Exp(-1);
        Assert.Equal([1 / z, 1 / z, Math.Exp(-1) / z], V(big.Grad!), new ToleranceComparer(1e-12));
        var bf = Tensor.FromArray([1000f, -1000f, 1000f]);
        Assert.Equal(1000 + Math.Log(2), bf.LogSumExp(0).Item(), 3);
    }

    [Fact]
    public void LogSumExpHandlesInfiniteRows()
    {
        double ninf = double.NegativeInfinity;
        var x = Tensor.FromArray([ninf, ninf, ninf, 0, ninf, 0], 2, 3).RequiresGrad_();
        var l = x.LogSumExp(-1);
        Assert.Equal(ninf, l.Get(0));
        Assert.Equal(Math.Log(2), l.Get(1), 14);
        l.Sum().Backward();
        Assert.Equal([0, 0, 0, 0.5, 0, 0.5], V(x.Grad!));
        Assert.Equal(double.PositiveInfinity, Tensor.FromArray([1.0, double.PositiveInfinity]).LogSumExp(0).Item());
    }

    [Fact]
    public void LogSumExpGradCheck()
    {
        var x = R(3, 4);
        GradCheck.Assert(t => t[0].LogSumExp(1), [x]);
        GradCheck.Assert(t => t[0].LogSumExp(-2, keepDim: true) * t[0], [x.T]);
        var y = R(2, 3, 4);
        GradCheck.Assert(t => t[0].LogSumExp([0, -1]), [y]);
        GradCheck.Assert(t => (t[0] * 50.0).LogSumExp([1], keepDim: true), [y]);
    }

    // ---- forward-mode rules (checked against finite differences) --------------------------------

    [Fact]
    public void JvpRules()
    {
        var x = R(3, 4);
        var y = R(2, 3, 4);
        OpChecks.Jvp("Max", t => t[0].Max(), [x]);
        OpChecks.Jvp("Amin", t => t[0].Amin([0, 2], keepDim: true), [y]);
        OpChecks.Jvp("Max", t => t[0].Max(1).Values, [x]);
        OpChecks.Jvp("Min", t => t[0].Min(-3, keepDim: true).Values, [y]);
        OpChecks.Jvp("Var", t => t[0].Var(1), [y]);
        OpChecks.Jvp("Var", t => t[0].Var([0, 2], correction: 0, keepDim: true), [y]);
        OpChecks.Jvp("Std", t => t[0].Std(0), [x]);
        OpChecks.Jvp("Std", t => t[0].Std(), [y]);
        OpChecks.Jvp("LogSumExp", t => t[0].LogSumExp(-1), [y]);
        OpChecks.Jvp("LogSumExp", t => t[0].LogSumExp([0, 1], keepDim: true), [y]);
    }

    [Fact]
    public void Float32Paths()
    {
        var x = Tensor.Randn(4, 6);
        var xd = x.To(DType.Float64);
        Assert.Equal(V(xd.Max(1).Values), V(x.Max(1).Values).Select(v => v), new ToleranceComparer(1e-6));
        Assert.Equal(xd.Max().Item(), x.Max().Item(), 5);
        Assert.Equal(V(xd.Var(0)), V(x.Var(0)), new ToleranceComparer(1e-5));
        Assert.Equal(V(xd.Std(1)), V(x.Std(1)), new ToleranceComparer(1e-5));
        Assert.Equal(V(xd.LogSumExp(1)), V(x.LogSumExp(1)), new ToleranceComparer(1e-5));
        Assert.Equal(xd.ArgMin(1).ToArray<long>(), x.ArgMin(1).ToArray<long>());
    }
}

/// <summary>Compares doubles within an absolute tolerance (NaN equals NaN, infinities by value).</summary>
internal sealed class ToleranceComparer(double tol) : IEqualityComparer<double>
{
    public bool Equals(double a, double b) => a.Equals(b) || Math.Abs(a - b) <= tol;
    public int GetHashCode(double v) => 0;
}

/// <summary>Forward-mode checks of single ops through real dual tensors.</summary>
internal static class OpChecks
{
    /// <summary>
    /// Checks the JVP of <paramref name="f"/> (named after the op <paramref name="op"/> it exercises) with
    /// <see cref="GradCheck.CheckForward"/>. <paramref name="tangentMask"/> holds some inputs constant (zero tangent).
    /// </summary>
    public static void Jvp(string op, Func<Tensor[], Tensor> f, Tensor[] inputs, bool[]? tangentMask = null, double tol = 1e-6)
    {
        var free = Enumerable.Range(0, inputs.Length).Where(i => tangentMask is null || tangentMask[i]).ToArray();
        Tensor G(Tensor[] t)
        {
            var all = (Tensor[])inputs.Clone();
            for (int j = 0; j < free.Length; j++) all[free[j]] = t[j];
            return f(all);
        }
        var r = GradCheck.CheckForward(G, free.Select(i => inputs[i]).ToArray(), atol: tol, rtol: 1e-4);
        Assert.True(r.Passed, $"{op}: forward-mode check failed: {r.Report}");
    }
}
