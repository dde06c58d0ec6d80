namespace Fluxion.Tests;

/// <summary>
/// The direct eager kernels of composite shape/creation ops (issue 16 item 5): To's one-pass conversion, Outer/Addr,
/// CartesianProd, DiagEmbed, DiagonalScatter and SelectScatter written in one pass into one allocation when nothing is
/// tracked. Each is checked bit for bit against the composition it bypasses (<see cref="Tensor.DirectForwards"/> off on
/// this thread) on dense, non-contiguous, broadcast, negative-dim, float64, int64 and bool inputs where the op allows,
/// and the tracked path (the composition, which carries the derivatives) still gives the same values.
/// </summary>
public class DirectShapeKernelTests
{
    private static Tensor R(DType dt, int seed, params int[] shape) => Tensor.Randn(shape, dt, new Generator(seed));

    /// <summary>The call with the direct kernels, then with the composition only; both must agree exactly.</summary>
    private static void SameAsComposition(Func<Tensor> call, string what)
    {
        var direct = call();
        Tensor composed;
        Tensor.DirectForwards = false;
        try
        {
            composed = call();
        }
        finally
        {
            Tensor.DirectForwards = true;
        }
        Assert.Equal(composed.DType, direct.DType);
        Assert.True(ShapeUtil.SameShape(composed.Shape, direct.Shape), $"{what}: shape {ShapeUtil.Format(direct.Shape)}, the composition gives {ShapeUtil.Format(composed.Shape)}");
        TensorAssert.Close(composed, direct, 0, 0, what);
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void OuterAndAddrMatchTheComposition(DType dt)
    {
        var a = R(dt, 1, 37);
        var b = R(dt, 2, 53);
        var aStrided = R(dt, 3, 37, 2).Select(1, 1); // stride 2
        var bStrided = R(dt, 4, 53 * 3).Slice(0, 0, null, 3); // stride 3
        SameAsComposition(() => Tensor.Outer(a, b), "outer");
        SameAsComposition(() => Tensor.Outer(aStrided, bStrided), "outer strided");
        SameAsComposition(() => Tensor.Outer(a.Flip(0), b), "outer reversed");
        foreach (var input in new[] { R(dt, 5, 37, 53), R(dt, 6, 53), R(dt, 7, 37, 1), R(dt, 8), R(dt, 9, 53, 37).T })
        {
            string s = ShapeUtil.Format(input.Shape);
            SameAsComposition(() => Tensor.Addr(input, a, b), $"addr {s}");
            SameAsComposition(() => Tensor.Addr(input, aStrided, bStrided, beta: 0.5, alpha: -2), $"addr {s} scaled");
            SameAsComposition(() => Tensor.Addr(input, a, b, beta: 1, alpha: 3), $"addr {s} alpha");
        }
        // beta = 0 ignores the input (its NaN does not propagate)
        var nan = Tensor.Full([37, 53], double.NaN, dt);
        var y = Tensor.Addr(nan, a, b, beta: 0);
        Assert.DoesNotContain(y.ToDoubleArray(), double.IsNaN);
        SameAsComposition(() => Tensor.Addr(nan, a, b, beta: 0, alpha: 0.25), "addr beta 0");
    }

    [Fact]
    public void OuterAndAddrLargeRunOverThreads()
    {
        var a = R(DType.Float32, 11, 300);
        var b = R(DType.Float32, 12, 400);
        var input = R(DType.Float32, 13, 300, 400);
        SameAsComposition(() => Tensor.Outer(a, b), "outer 300x400");
        SameAsComposition(() => Tensor.Addr(input, a, b, 2, 0.5), "addr 300x400");
    }

    [Fact]
    public void AddrKeepsTheCompositionsErrors()
    {
        var a = R(DType.Float32, 1, 3);
        var b = R(DType.Float32, 2, 4);
        Assert.Throws<ShapeMismatchException>(() => Tensor.Addr(R(DType.Float32, 3, 3, 5), a, b));
        Assert.Throws<DTypeMismatchException>(() => Tensor.Addr(R(DType.Float64, 3, 3, 4), a, b));
        Assert.Throws<ShapeMismatchException>(() => Tensor.Addr(R(DType.Float32, 3, 3, 4), R(DType.Float32, 4, 3, 1), b));
        Assert.Throws<DTypeMismatchException>(() => Tensor.Outer(a, R(DType.Float64, 5, 4)));
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    [InlineData(DType.Int64)]
    [InlineData(DType.Bool)]
    public void CartesianProdMatchesTheComposition(DType dt)
    {
        Tensor V(int seed, int n) => dt switch
        {
            DType.Int64 => Tensor.RandInt(-50, 50, [n], DType.Int64, new Generator(seed)),
            DType.Bool => Tensor.RandInt(0, 2, [n], DType.Bool, new Generator(seed)),
            _ => R(dt, seed, n),
        };
        SameAsComposition(() => Tensor.CartesianProd(V(1, 5), V(2, 7)), "two");
        SameAsComposition(() => Tensor.CartesianProd(V(3, 3), V(4, 1), V(5, 4)), "three");
        SameAsComposition(() => Tensor.CartesianProd(V(6, 8).Flip(0), V(7, 12).Slice(0, 1, null, 2)), "strided");
        SameAsComposition(() => Tensor.CartesianProd(V(8, 3), V(9, 0)), "empty");
        SameAsComposition(() => Tensor.CartesianProd(V(10, 300), V(11, 250)), "large");
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    [InlineData(DType.Int64)]
    public void DiagonalWritesMatchTheComposition(DType dt)
    {
        Tensor X(int seed, params int[] shape) => dt == DType.Int64 ? Tensor.RandInt(-9, 9, shape, DType.Int64, new Generator(seed)) : R(dt, seed, shape);
        SameAsComposition(() => X(1, 5).DiagEmbed(), "diag_embed 1-d");
        SameAsComposition(() => X(2, 3, 4).DiagEmbed(2), "diag_embed offset");
        SameAsComposition(() => X(3, 3, 4).DiagEmbed(-1, 0, 2), "diag_embed dims");
        SameAsComposition(() => X(4, 4, 3).T.DiagEmbed(1, -1, -3), "diag_embed negative dims, noncontiguous");
        SameAsComposition(() => X(5, 2, 3).Diag(-2), "diag");
        var m = X(6, 4, 5);
        SameAsComposition(() => m.DiagonalScatter(X(7, 4)), "diagonal_scatter");
        SameAsComposition(() => m.DiagonalScatter(X(8, 3), 2), "diagonal_scatter offset");
        SameAsComposition(() => m.T.DiagonalScatter(X(9, 3), -2), "diagonal_scatter noncontiguous");
        SameAsComposition(() => X(10, 3, 2, 4).DiagonalScatter(X(11, 2, 2), -1, 0, -1), "diagonal_scatter dims");
        SameAsComposition(() => X(12, 3, 4).SelectScatter(X(13, 4), 0, 1), "select_scatter");
        SameAsComposition(() => X(14, 2, 3, 4).SelectScatter(X(15, 2, 3), -1, -1), "select_scatter last");
        SameAsComposition(() => X(16, 4, 3).T.SelectScatter(X(17, 4).Flip(0), 0, -3), "select_scatter noncontiguous");
    }

    [Fact]
    public void TrackedCallsStillGoThroughTheComposition()
    {
        var x = R(DType.Float64, 1, 3, 4).RequiresGrad_();
        var y = x.DiagEmbed(1);
        Assert.NotNull(y.GradFnName);
        TensorAssert.Close(x.Detach().DiagEmbed(1), y, 0, 0, "tracked diag_embed");
        var a = R(DType.Float64, 2, 3).RequiresGrad_();
        var b = R(DType.Float64, 3, 4);
        var o = Tensor.Addr(R(DType.Float64, 4, 4), a, b, 0.5, 2);
        o.Sum().Backward();
        TensorAssert.Close((b.Sum() * 2).Expand(3), a.Grad, 1e-12, 1e-12, "addr gradient");
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    [InlineData(DType.Int64)]
    [InlineData(DType.Bool)]
    public void ToConvertsEveryPair(DType from)
    {
        var src = from switch
        {
            DType.Float32 or DType.Float64 => Tensor.FromArray(new[] { 0.0, -0.0, 1.5, -2.75, 3e9, -3e9, double.NaN, double.PositiveInfinity, 1e-40, 7.0, 0.1, -1e20, 123456789.123 }).To(from),
            DType.Int64 => Tensor.FromArray(new long[] { 0, 1, -1, long.MaxValue, long.MinValue, 16777217, 9007199254740993, -5, 42, 3, 8, 9, 10 }),
            _ => Tensor.FromArray(new[] { true, false, true, true, false, false, true, false, true, true, false, true, false }),
        };
        foreach (var x in new[] { src, src.Flip(0), src.Slice(0, 1, null, 2) })
            foreach (var to in new[] { DType.Float32, DType.Float64, DType.Int64, DType.Bool })
            {
                if (to == DType.Int64 && from.IsFloatingPoint()) continue; // NaN/inf/out-of-range casts: checked on finite values below
                var y = x.To(to);
                Assert.Equal(to, y.DType);
                Assert.True(y.IsContiguous);
                var v = x.ToDoubleArray();
                var got = y.ToDoubleArray();
                for (int i = 0; i < v.Length; i++)
                {
                    double want = to switch
                    {
                        DType.Float32 => from == DType.Int64 ? (float)x.ToArray<long>()[i] : (float)v[i],
                        DType.Float64 => v[i],
                        DType.Int64 => v[i],
                        _ => v[i] != 0 ? 1 : 0,
                    };
                    if (from == DType.Int64 && to == DType.Int64) want = x.ToArray<long>()[i];
                    Assert.True(want.Equals(got[i]), $"{from}->{to} [{i}]: {got[i]:R}, want {want:R}");
                }
            }
        if (from.IsFloatingPoint())
        {
            var f = Tensor.FromArray(new[] { 1.9, -1.9, 0.5, -0.5, 1e6 + 0.75, -3.0, 2.0, 1234.5, 8.25 }).To(from);
            var t = f.To(DType.Int64).ToArray<long>();
            Assert.Equal(new long[] { 1, -1, 0, 0, 1000000, -3, 2, 1234, 8 }, t);
        }
    }

    [Fact]
    public void ToWidensAndNarrowsLargeRunsExactly()
    {
        var x = R(DType.Float64, 5, 513, 517); // > the parallel threshold, odd length (vector tail)
        var f = x.To(DType.Float32);
        var xa = x.ToArray<double>();
        var fa = f.ToArray<float>();
        for (int i = 0; i < xa.Length; i++) Assert.Equal((float)xa[i], fa[i]);
        var back = f.T.To(DType.Float64); // strided source
        TensorAssert.Close(f.T.Contiguous().To(DType.Float64), back, 0, 0, "transposed widen");
        var d = f.To(DType.Float64).ToArray<double>();
        for (int i = 0; i < fa.Length; i++) Assert.Equal((double)fa[i], d[i]);
        var g = f.RequiresGrad_();
        g.To(DType.Float64).Sum().Backward();
        Assert.Equal(DType.Float32, g.Grad!.DType);
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void VecdotMatchesTheComposition(DType dt)
    {
        double tol = dt == DType.Float32 ? 1e-5 : 1e-12;
        void Check(Func<Tensor> call, string what)
        {
            var direct = call();
            Tensor.DirectForwards = false;
            try { TensorAssert.Close(call(), direct, tol, tol, what); }
            finally { Tensor.DirectForwards = true; }
        }
        var a = R(dt, 1, 30, 40);
        Check(() => Tensor.Vecdot(a, R(dt, 2, 40)), "bcast last");
        Check(() => Tensor.Vecdot(a, R(dt, 3, 30, 1), 0), "dim 0");
        Check(() => Tensor.Vecdot(a.T, R(dt, 4, 40, 30), -2), "noncontiguous, negative dim");
        Check(() => Tensor.Vecdot(R(dt, 5, 2, 3, 4), R(dt, 6, 3, 1), 1), "middle dim");
        Check(() => Tensor.Vecdot(R(dt, 7, 300, 300), R(dt, 8, 300, 300)), "large");
        Check(() => Tensor.Vecdot(R(dt, 9, 3, 1), R(dt, 10, 3, 1)), "length 1");
        Check(() => Tensor.Vecdot(R(dt, 11, 0, 4), R(dt, 12, 4)), "empty");
    }

    [Fact]
    public void DotRecordsOneOpWithTheOperandsAsGradients()
    {
        var a = R(DType.Float64, 1, 7).RequiresGrad_();
        var b = R(DType.Float64, 2, 14).Slice(0, 0, null, 2).Detach().RequiresGrad_();
        var y = Tensor.Dot(a, b);
        Assert.Equal("DotBackward", y.GradFnName);
        TensorAssert.Close(Tensor.Dot(a.Detach(), b.Detach()), y, 0, 0, "dot value");
        (y * 3.0).Backward();
        TensorAssert.Close(b.Detach() * 3.0, a.Grad, 1e-14, 1e-14, "grad a");
        TensorAssert.Close(a.Detach() * 3.0, b.Grad, 1e-14, 1e-14, "grad b");
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void ExtremeBackwardMatchesTheFormula(DType dt)
    {
        // ties (the gradient split evenly), a NaN group, non-contiguous input, several dims, keepDim
        var x = Tensor.FromArray(new double[] { 1, 3, 3, 2, double.NaN, 0, 5, 5, 5, -1, 4, 4 }, 3, 4).To(dt);
        foreach (var (input, f) in new (Tensor, Func<Tensor, Tensor>)[]
        {
            (x, t => t.Amax(1)), (x, t => t.Amin(0, keepDim: true)), (x.T, t => t.Amax(0)), (x, t => t.Amax()),
            (R(dt, 3, 4, 5, 6).Transpose(0, 2), t => t.Amin([0, 2])), (R(dt, 4, 2, 3), t => t.Max()),
        })
        {
            var xi = input.Detach().RequiresGrad_();
            var y = f(xi);
            var seed = R(dt, 5, y.ShapeArray);
            var fast = Autograd.Grad([y], [xi], [seed], retainGraph: true)[0]!;
            var formula = Autograd.Grad([y], [xi], [seed.Detach().RequiresGrad_()], createGraph: true)[0]!; // a tracked g: the tensor formula
            TensorAssert.Close(formula.Detach(), fast, 0, 0, "amax/amin gradient");
        }
    }

    [Fact]
    public void SplitIsOneOpWhoseBackwardJoinsThePieces()
    {
        var x = R(DType.Float64, 1, 5, 6).RequiresGrad_();
        var parts = x.Chunk(3, 1);
        Assert.Equal(3, parts.Length);
        Assert.All(parts, p => Assert.Equal("SplitBackward", p.GradFnName));
        (parts[0] * 2.0 + parts[2] * parts[2]).Sum().Backward();
        var want = Tensor.Cat([Tensor.Full([5, 2], 2.0, DType.Float64), Tensor.Zeros([5, 2], DType.Float64), x.Detach().Narrow(1, 4, 2) * 2.0], 1);
        TensorAssert.Close(want, x.Grad, 1e-14, 1e-14, "chunk gradient");
        // tensor_split by indices: a partition is one Split, overlapping indices fall back to slices
        var v = R(DType.Float64, 2, 9);
        var byIndex = v.TensorSplit([2, -3, 100]);
        Assert.Equal([2, 4, 3, 0], byIndex.Select(p => p.Shape[0]).ToArray());
        TensorAssert.Close(v.Narrow(0, 2, 4), byIndex[1], 0, 0, "piece");
        var overlap = v.TensorSplit([5, 2]);
        Assert.Equal([5, 0, 7], overlap.Select(p => p.Shape[0]).ToArray());
        TensorAssert.Close(v.Slice(0, 2), overlap[2], 0, 0, "overlapping piece");
        // forward mode through the pieces
        using var level = ForwardAD.Level();
        var t = R(DType.Float64, 3, 5, 6);
        var dual = ForwardAD.MakeDual(x.Detach(), t);
        var tp = ForwardAD.Unpack(dual.Split([1, 4, 1], 1)[1]).Tangent;
        TensorAssert.Close(t.Narrow(1, 1, 4), tp, 0, 0, "split tangent");
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void BlockDiagMatchesTheComposition(DType dt)
    {
        Tensor[] mixed = [R(dt, 1, 2, 3), R(dt, 2), R(dt, 3, 4), R(dt, 4, 3, 1).T, R(dt, 5, 0, 2)], large = [R(dt, 6, 300, 200), R(dt, 7, 100, 250)];
        var one = R(dt, 8, 3, 3);
        SameAsComposition(() => Tensor.BlockDiag(mixed), "mixed");
        SameAsComposition(() => Tensor.BlockDiag(large), "large");
        SameAsComposition(() => Tensor.BlockDiag(one), "one");
    }

    [Fact]
    public void RollGradientIsTheOppositeRoll()
    {
        var x = R(DType.Float64, 1, 4, 5).RequiresGrad_();
        var w = R(DType.Float64, 2, 4, 5);
        (x.Roll([1, -2], [0, 1]) * w).Sum().Backward();
        TensorAssert.Close(w.Roll([-1, 2], [0, 1]), x.Grad, 0, 0, "roll gradient");
        TensorAssert.Close(x.Detach().Roll(3), x.Detach().Flatten().Roll([3], [0]).Reshape(4, 5), 0, 0, "flat roll");
    }

    [Fact]
    public void DiffStepsMatchTheSliceComposition()
    {
        static Tensor Composed(Tensor x, int n, int d, Tensor? pre, Tensor? app)
        {
            if (pre is not null || app is not null) x = Tensor.Cat([.. pre is null ? Array.Empty<Tensor>() : [pre], x, .. app is null ? Array.Empty<Tensor>() : [app]], d);
            for (int k = 0; k < n && x.Shape[d] > 0; k++) x = x.Slice(d, 1) - x.Slice(d, 0, -1);
            return x;
        }
        foreach (var (n, dim, withPads) in new[] { (1, -1, false), (2, 0, false), (1, 1, true), (3, -2, true), (5, 0, false) })
        {
            var x0 = R(DType.Float64, n * 7 + dim, 4, 5).T;
            var pre = withPads ? R(DType.Float64, 1, 5, 4).Narrow(dim < 0 ? dim + 2 : dim, 0, 1) : null;
            var app = withPads ? R(DType.Float64, 2, 5, 4).Narrow(dim < 0 ? dim + 2 : dim, 0, 2) : null;
            int d = dim < 0 ? dim + 2 : dim;
            var x = x0.Detach().RequiresGrad_();
            var y = x.Diff(n, dim, pre, app);
            var want = Composed(x0, n, d, pre, app);
            TensorAssert.Close(want, y, 1e-14, 1e-14, $"diff n={n} dim={dim}");
            var w = R(DType.Float64, 9, y.ShapeArray);
            var g = Autograd.Grad([(y * w).Sum()], [x])[0];
            var xc = x0.Detach().RequiresGrad_();
            var gc = Autograd.Grad([(Composed(xc, n, d, pre, app) * w).Sum()], [xc], allowUnused: true)[0] ?? Tensor.ZerosLike(x0);
            TensorAssert.Close(gc, g, 1e-13, 1e-13, $"diff gradient n={n} dim={dim}");
        }
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    [InlineData(DType.Int64)]
    [InlineData(DType.Bool)]
    public void MaskedSelectMatchesTheComposition(DType dt)
    {
        var x = R(DType.Float64, 1, 6, 7).To(dt);
        var mask = R(DType.Float64, 2, 6, 7).Gt(0.0);
        var row = R(DType.Float64, 3, 7).Gt(0.0);
        SameAsComposition(() => x.MaskedSelect(mask), "same shape");
        SameAsComposition(() => x.T.MaskedSelect(mask.T), "noncontiguous");
        SameAsComposition(() => x.MaskedSelect(row), "broadcast mask");
        SameAsComposition(() => x.Select(0, 1).MaskedSelect(mask), "broadcast input");
        SameAsComposition(() => x.MaskedSelect(Tensor.Zeros([6, 7], DType.Bool)), "none");
    }
}
