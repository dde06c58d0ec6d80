namespace Fluxion.Tests;

public class IndexOpsTests
{
    private static Tensor D(double[] v, params int[] shape) => Tensor.FromArray(v, shape);
    private static Tensor L(long[] v, params int[] shape) => Tensor.FromArray(v, shape);
    private static Tensor R(params int[] shape) => Tensor.Randn(shape, DType.Float64, new Generator(shape.Sum() * 31 + shape.Length));

    private static void Same(double[] want, Tensor got, params int[] shape)
    {
        Assert.Equal(shape, got.ShapeArray);
        var g = got.ToDoubleArray();
        Assert.Equal(want.Length, g.Length);
        for (int i = 0; i < want.Length; i++) Assert.Equal(want[i], g[i], 12);
    }

    // ---- Cat / Stack -------------------------------------------------------------------------------

    [Fact]
    public void CatValuesAlongEachDimIncludingNonContiguous()
    {
        var a = D([1, 2, 3, 4, 5, 6], 2, 3);
        var b = D([7, 8], 2, 1);
        Same([1, 2, 3, 7, 4, 5, 6, 8], Tensor.Cat([a, b], -1), 2, 4);
        Same([1, 2, 3, 4, 5, 6, 1, 2, 3], Tensor.Cat([a, a[..1]], 0), 3, 3);
        // a.T is [3, 2] non-contiguous: rows (1,4), (2,5), (3,6)
        var bt = D([9, 10], 1, 2);
        Same([1, 4, 2, 5, 3, 6, 9, 10], Tensor.Cat([a.T, bt], 0), 4, 2);
        // empty pieces are fine; int64 and bool work too
        Same([1, 2, 3, 4, 5, 6], Tensor.Cat([Tensor.Zeros([2, 0], DType.Float64), a], 1), 2, 3);
        Assert.Equal([1L, 2, 3], Tensor.Cat([L([1], 1), L([2, 3], 2)]).ToArray<long>());
        Assert.Equal([true, false], Tensor.Cat([Tensor.FromArray([true]), Tensor.FromArray([false])]).ToArray<bool>());
    }

    [Fact]
    public void CatGradients()
    {
        var a = R(2, 3);
        var bt = R(2, 4).T;                  // [4, 2] non-contiguous
        GradCheck.Assert(t => Tensor.Cat([t[0], t[1].T, t[0]], -1).Square(), [a, bt]);
        GradCheck.Assert(t => Tensor.Cat([t[0].T, t[1]], 0).Tanh(), [a, bt]);
        // the same tensor twice: gradient accumulates
        var x = Tensor.Ones([3], DType.Float64).RequiresGrad_();
        Tensor.Cat([x, x, x.Narrow(0, 1, 1)]).Sum().Backward();
        Same([2, 3, 2], x.Grad!, 3);
    }

    [Fact]
    public void StackValuesAndGradients()
    {
        var a = D([1, 2, 3], 3);
        var b = D([4, 5, 6], 3);
        Same([1, 2, 3, 4, 5, 6], Tensor.Stack([a, b]), 2, 3);
        Same([1, 4, 2, 5, 3, 6], Tensor.Stack([a, b], -1), 3, 2);
        Assert.Equal([2, 3, 2], Tensor.Stack([R(2, 3), R(2, 3)], 2).ShapeArray);
        GradCheck.Assert(t => Tensor.Stack([t[0], t[1].T], 1).Sin(), [R(2, 3), R(3, 2)]);
        var ex = Assert.Throws<ShapeMismatchException>(() => Tensor.Stack([a, D([1, 2], 2)]));
        Assert.Contains("Stack", ex.Message);
        Assert.Contains("tensor 1", ex.Message);
        Assert.Contains("[2]", ex.Message);
        Assert.Contains("[3]", ex.Message);
    }

    [Fact]
    public void CatErrors()
    {
        var ex = Assert.Throws<ShapeMismatchException>(() => Tensor.Cat([R(2, 3), R(2, 3), R(3, 4)], 1));
        Assert.Contains("Cat", ex.Message);
        Assert.Contains("tensor 2", ex.Message);
        Assert.Contains("[3, 4]", ex.Message);
        Assert.Contains("[2, 3]", ex.Message);
        var ex2 = Assert.Throws<ShapeMismatchException>(() => Tensor.Cat([R(2, 3), R(2)]));
        Assert.Contains("tensor 1", ex2.Message);
        Assert.Contains("rank", ex2.Message);
        var ex3 = Assert.Throws<DTypeMismatchException>(() => Tensor.Cat([R(2), Tensor.Zeros(2)]));
        Assert.Contains("Cat", ex3.Message);
        Assert.Contains("float32", ex3.Message);
        Assert.Contains("float64", ex3.Message);
        Assert.Throws<ArgumentException>(() => Tensor.Cat([]));
        Assert.Throws<ShapeMismatchException>(() => Tensor.Cat([Tensor.Scalar(1), Tensor.Scalar(2)]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Tensor.Cat([R(2, 3)], 2));
    }

    // ---- Gather / ScatterAdd ---------------------------------------------------------------------

    [Fact]
    public void GatherValues()
    {
        var x = D([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], 3, 4);
        Same([1, 1, 8, 6, 11, 11], x.Gather(1, L([0, 0, 3, 1, 2, 2], 3, 2)), 3, 2);
        // dim -2 (= 0); the index is smaller than the input off dim
        Same([9, 2, 1, 6], x.Gather(-2, L([2, 0, 0, 1], 2, 2)), 2, 2);
        // non-contiguous input (x.T is [4, 3]) and non-contiguous index
        var idx = L([0, 1, 2, 2, 0, 1], 2, 3).T;     // [3, 2]: (0,2), (1,0), (2,1)
        Same([1, 9, 6, 2, 11, 7], x.T.Gather(1, idx), 3, 2);
        // int64 and 0-d
        Assert.Equal([30L, 10], L([10, 20, 30], 3).Gather(0, L([2, 0], 2)).ToArray<long>());
        Assert.Equal(5.0, Tensor.Scalar(5.0, DType.Float64).Gather(0, Tensor.Scalar(0, DType.Int64)).Item());
    }

    [Fact]
    public void GatherGradientAccumulatesDuplicates()
    {
        var x = Tensor.Zeros([3, 2], DType.Float64).RequiresGrad_();
        x.Gather(0, L([0, 0, 0, 1, 0, 1], 3, 2)).Sum().Backward();
        Same([3, 1, 0, 2, 0, 0], x.Grad!, 3, 2);

        var idx = L([0, 0, 3, 1, 2, 2], 3, 2);
        GradCheck.Assert(t => t[0].Gather(1, idx).Square(), [R(3, 4)]);
        GradCheck.Assert(t => t[0].Gather(-1, idx).Tanh(), [R(4, 3).T]);   // non-contiguous, negative dim
        GradCheck.Assert(t => t[0].Gather(0, L([1, 1, 1, 0], 2, 2)).Exp(), [R(3, 4)]);
    }

    [Fact]
    public void ScatterAddValues()
    {
        var self = D([1, 1, 1, 1, 1, 1], 2, 3);
        var src = D([10, 20, 30, 40, 50, 60], 2, 3);
        // dim 1 with duplicates: row 0 gets 10+20 at col 0, 30 at col 2; row 1 gets 40 at 1, 50+60 at 2
        Same([31, 1, 31, 1, 41, 111], self.ScatterAdd(1, L([0, 0, 2, 1, 2, 2], 2, 3), src), 2, 3);
        // dim -2, index smaller than src: only src[0, 0..1] and src[1, 0..1] are used (50 and 20 both land at [1, 1])
        Same([41, 1, 1, 11, 71, 1], self.ScatterAdd(-2, L([1, 1, 0, 1], 2, 2), src), 2, 3);
        // non-contiguous src
        Same([1 + 10 + 40, 1, 1, 1, 1, 1], self.ScatterAdd(0, L([0, 0], 2, 1), src.T.Contiguous().T), 2, 3);
        // int64
        Assert.Equal([5L, 0, 2], Tensor.Zeros([3], DType.Int64).ScatterAdd(0, L([0, 2, 0], 3), L([2, 2, 3], 3)).ToArray<long>());
        // self is not modified
        Same([1, 1, 1, 1, 1, 1], self, 2, 3);
    }

    [Fact]
    public void ScatterAddGradients()
    {
        var idx = L([0, 0, 2, 1, 2, 2], 2, 3);
        GradCheck.Assert(t => t[0].ScatterAdd(1, idx, t[1] * t[1]) * t[0], [R(2, 4), R(2, 3)]);
        // index smaller than src (src gradient is zero-padded), non-contiguous src, negative dim
        var small = L([1, 1, 0, 1], 2, 2);
        GradCheck.Assert(t => t[0].ScatterAdd(-2, small, t[1].T).Square(), [R(2, 3), R(3, 3)]);
        var src = Tensor.Ones([2, 3], DType.Float64).RequiresGrad_();
        Tensor.Zeros([2, 3], DType.Float64).ScatterAdd(0, small, src).Backward(D([1, 2, 3, 4, 5, 6], 2, 3));
        Same([4, 5, 0, 1, 5, 0], src.Grad!, 2, 3);
    }

    // ---- IndexSelect / IndexAdd ------------------------------------------------------------------

    [Fact]
    public void IndexSelectValues()
    {
        var x = D([1, 2, 3, 4, 5, 6], 2, 3);
        Same([3, 1, 3, 6, 4, 6], x.IndexSelect(1, L([2, 0, 2], 3)), 2, 3);
        Same([4, 5, 6, 4, 5, 6, 1, 2, 3], x.IndexSelect(-2, L([1, 1, 0], 3)), 3, 3);
        // non-contiguous input and index; 0-d index keeps the dim with size 1; empty index
        Same([3, 6, 1, 4], x.T.IndexSelect(0, L([0, 2, 9, 0], 2, 2).T.Select(0, 1)), 2, 2);
        Same([2, 5], x.IndexSelect(1, Tensor.Scalar(1, DType.Int64)), 2, 1);
        Assert.Equal([2, 0], x.IndexSelect(1, Tensor.Zeros([0], DType.Int64)).ShapeArray);
    }

    [Fact]
    public void IndexSelectAndIndexAddGradients()
    {
        var x = Tensor.Zeros([3], DType.Float64).RequiresGrad_();
        x.IndexSelect(0, L([2, 0, 2, 2], 4)).Sum().Backward();
        Same([1, 0, 3], x.Grad!, 3);

        var idx = L([2, 0, 2], 3);
        GradCheck.Assert(t => t[0].IndexSelect(1, idx).Square(), [R(2, 4)]);
        GradCheck.Assert(t => t[0].IndexSelect(-2, idx).Sin(), [R(4, 3).T]);
        GradCheck.Assert(t => t[0].IndexAdd(0, idx, t[1] * t[1], alpha: -0.5) * t[0], [R(3, 2), R(3, 2)]);
        GradCheck.Assert(t => t[0].IndexAdd(-1, idx, t[1].T).Tanh(), [R(2, 3), R(3, 2)]);
    }

    [Fact]
    public void IndexAddValues()
    {
        var x = D([1, 1, 1, 1, 1, 1], 3, 2);
        var src = D([10, 20, 30, 40, 50, 60], 3, 2);
        Same([81, 101, 1, 1, 11, 21], x.IndexAdd(0, L([2, 0, 0], 3), src), 3, 2);
        Same([1 + 20, 1 + 10, 1 + 40, 1 + 30, 1 + 60, 1 + 50], x.IndexAdd(-1, L([1, 0], 2), src, alpha: 1), 3, 2);
        Same([21, 1, 1, 1, 1, 1], x.IndexAdd(0, L([0], 1), D([10, 0], 1, 2), alpha: 2), 3, 2);
        Assert.Equal([1L, 7], Tensor.Ones([2], DType.Int64).IndexAdd(0, L([1, 1], 2), L([2, 4], 2)).ToArray<long>());
        var ex = Assert.Throws<ShapeMismatchException>(() => x.IndexAdd(0, L([0, 1], 2), src));
        Assert.Contains("IndexAdd", ex.Message);
        Assert.Contains("[3, 2]", ex.Message);
        Assert.Contains("[2, 2]", ex.Message);
    }

    // ---- index errors ----------------------------------------------------------------------------

    [Fact]
    public void IndexDTypeMustBeInt64()
    {
        var x = R(2, 3);
        var fidx = Tensor.Zeros([2, 2], DType.Float32);
        foreach (var (name, act) in new (string, Action)[]
        {
            ("Gather", () => x.Gather(1, fidx)),
            ("ScatterAdd", () => x.ScatterAdd(1, fidx, R(2, 2))),
            ("IndexSelect", () => x.IndexSelect(1, Tensor.Zeros([2], DType.Float32))),
            ("IndexAdd", () => x.IndexAdd(1, Tensor.Zeros([2], DType.Float32), R(2, 2))),
            ("OneHot", () => Tensor.OneHot(fidx, 3)),
        })
        {
            var ex = Assert.Throws<DTypeMismatchException>(act);
            Assert.Contains(name, ex.Message);
            Assert.Contains("int64", ex.Message);
            Assert.Contains("float32", ex.Message);
        }
    }

    [Fact]
    public void OutOfRangeIndicesAreReported()
    {
        var x = R(2, 3);
        var ex = Assert.Throws<IndexOutOfBoundsException>(() => x.Gather(1, L([0, 3, 1, 1], 2, 2)));
        Assert.Contains("Gather", ex.Message);
        Assert.Contains("index 3", ex.Message);
        Assert.Contains("[2, 3]", ex.Message);
        Assert.Contains("[2, 2]", ex.Message);
        var ex2 = Assert.Throws<IndexOutOfBoundsException>(() => x.IndexSelect(0, L([0, -1], 2)));
        Assert.Contains("IndexSelect", ex2.Message);
        Assert.Contains("index -1", ex2.Message);
        Assert.Contains("[2, 3]", ex2.Message);
        var ex3 = Assert.Throws<IndexOutOfBoundsException>(() => x.ScatterAdd(0, L([2], 1, 1), R(1, 1)));
        Assert.Contains("ScatterAdd", ex3.Message);
        var ex4 = Assert.Throws<IndexOutOfBoundsException>(() => x.IndexAdd(1, L([5], 1), R(2, 1)));
        Assert.Contains("IndexAdd", ex4.Message);
        Assert.Throws<IndexOutOfBoundsException>(() => Tensor.OneHot(L([0, 4], 2), 3));
    }

    [Fact]
    public void GatherAndScatterShapeErrors()
    {
        var x = R(2, 3);
        var ex = Assert.Throws<ShapeMismatchException>(() => x.Gather(0, L([0, 1], 2)));
        Assert.Contains("Gather", ex.Message);
        Assert.Contains("[2]", ex.Message);
        Assert.Contains("[2, 3]", ex.Message);
        var ex2 = Assert.Throws<ShapeMismatchException>(() => x.Gather(0, L([0, 0, 0, 0], 1, 4)));
        Assert.Contains("[1, 4]", ex2.Message);
        var ex3 = Assert.Throws<ShapeMismatchException>(() => x.ScatterAdd(0, L([0, 0, 0, 0], 2, 2), R(1, 2)));
        Assert.Contains("ScatterAdd", ex3.Message);
        Assert.Contains("[1, 2]", ex3.Message);
        Assert.Throws<DTypeMismatchException>(() => x.ScatterAdd(0, L([0], 1, 1), Tensor.Zeros(1, 1)));
        Assert.Throws<ShapeMismatchException>(() => x.IndexSelect(0, L([0, 0], 1, 2)));
    }

    // ---- MaskedFill / OneHot / Chunk / Split / Unbind ----------------------------------------------

    [Fact]
    public void MaskedFillValuesAndGradient()
    {
        var x = D([1, -2, 3, -4, 5, -6], 2, 3);
        Same([1, 0, 3, 0, 5, 0], x.MaskedFill(x.Lt(0.0), 0), 2, 3);
        Same([9, 9, 9, 4, 5, 6], D([1, 2, 3, 4, 5, 6], 2, 3).MaskedFill(Tensor.FromArray([true, false], 2, 1), 9), 2, 3);
        var mask = Tensor.FromArray([true, false, true]);
        GradCheck.Assert(t => t[0].MaskedFill(mask, 2.0).Square(), [R(4, 3)]);
        var ex = Assert.Throws<ShapeMismatchException>(() => R(3).MaskedFill(Tensor.FromArray([true, false, true, false, true, false], 2, 3), 0));
        Assert.Contains("MaskedFill", ex.Message);
        Assert.Throws<DTypeMismatchException>(() => x.MaskedFill(Tensor.Zeros(3), 0));
    }

    [Fact]
    public void OneHotValues()
    {
        var oh = Tensor.OneHot(L([2, 0, 1, 2], 2, 2));
        Assert.Equal(DType.Float32, oh.DType);
        Same([0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1], oh, 2, 2, 3);
        Same([0, 1, 0, 0, 1, 0, 0, 0], Tensor.OneHot(L([1, 0], 2), 4, DType.Int64), 2, 4);
        Same([0, 1, 1, 0], Tensor.OneHot(L([1, 0, 2], 3).T.Narrow(0, 0, 2), 2, DType.Float64), 2, 2);
    }

    [Fact]
    public void ChunkSplitUnbind()
    {
        var x = D([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 2, 5);
        var c = x.Chunk(3, -1);                      // sizes 2, 2, 1
        Assert.Equal(3, c.Length);
        Same([0, 1, 5, 6], c[0], 2, 2);
        Same([4, 9], c[2], 2, 1);
        Assert.Equal(2, D([1, 2, 3, 4], 4).Chunk(3).Length); // ceil(4/3)=2 -> two pieces, as PyTorch
        Assert.Equal(3, Tensor.Zeros(0).Chunk(3).Length);
        var s = x.Split(2, 1);
        Assert.Equal([2, 2, 1], Array.ConvertAll(s, t => t.Size(1)));
        Same([2, 3, 4, 7, 8, 9], x.Split([2, 3], -1)[1], 2, 3);
        Assert.Throws<ShapeMismatchException>(() => x.Split([2, 2], 1));
        var u = x.Unbind(1);
        Assert.Equal(5, u.Length);
        Same([3, 8], u[3], 2);
        // chunks rejoined round-trip, and their gradients flow back
        GradCheck.Assert(t => Tensor.Cat(t[0].Chunk(2, 1).Reverse().ToArray(), 1).Square(), [R(2, 5)]);
        GradCheck.Assert(t => Tensor.Stack(t[0].T.Unbind(0), -1) * t[0], [R(3, 2)]);
    }

    [Fact]
    public void VectorForwardModeJacobiansMatchReverseModeWhereOnlySomeInputsCarryTangents()
    {
        // constant bases (no tangent) with a differentiable source: the JVP builds zero tangents with the [k] prefix
        var idx = L([2, 0, 2], 3);
        var sidx = L([1, 0, 1, 3, 3, 2], 2, 3);
        var c = R(2, 4);
        Func<Tensor[], Tensor> f = t => Tensor.Cat([c, c.IndexAdd(1, idx, t[0] * 2.0).Gather(1, sidx), c.ScatterAdd(1, sidx, t[1]).Sin()], 1);
        var xs = new[] { R(2, 3), R(2, 3) };
        var fwd = Functional.JacFwd(f, xs);
        var rev = Functional.JacRev(f, xs);
        for (int i = 0; i < xs.Length; i++)
        {
            Assert.Equal(rev[i].ShapeArray, fwd[i].ShapeArray);
            var a = fwd[i].ToDoubleArray();
            var b = rev[i].ToDoubleArray();
            for (int j = 0; j < a.Length; j++) Assert.Equal(b[j], a[j], 12);
        }
        GradCheck.Assert(f, [R(2, 3), R(2, 3)]);
    }
}
