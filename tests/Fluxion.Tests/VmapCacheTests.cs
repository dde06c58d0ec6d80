using Fluxion;
using Xunit;

namespace Fluxion.Tests;

/// <summary>Vmap's program cache: a later call reuses the traced program only while nothing the function sees changed
/// (shapes, dtypes, unbatched inputs, captured variables, captured tensors' contents); random draws and fallbacks are
/// never reused. Each test compares against the per-example loop, so a stale program would show.</summary>
public class VmapCacheTests
{
    private static Tensor R(int seed, params int[] shape) => Tensor.Randn(shape, dtype: DType.Float64, generator: new Generator(seed));

    /// <summary>f per example, stacked.</summary>
    private static Tensor Loop(Func<Tensor, Tensor> f, Tensor x) => Tensor.Stack([.. Enumerable.Range(0, x.Shape[0]).Select(b => f(x.Select(0, b)))], 0);

    [Fact]
    public void ASecondCallWithTheSameShapesReusesTheProgram()
    {
        var w = R(1, 4, 3);
        Func<Tensor, Tensor> f = v => w.MatMul(v).Tanh();
        var vf = Functional.Vmap(f);
        var x = R(2, 5, 3);
        var first = vf(x);
        Assert.True(Functional.LastVmapPlan!.Batched);
        Assert.False(Functional.LastVmapPlan.Reused);
        var second = vf(x);
        Assert.True(Functional.LastVmapPlan.Reused);
        TensorAssert.Close(first, second, 0, 0, "reused program");
        // another batch size reuses it too; new values of the batched input are read
        var x2 = R(3, 7, 3);
        TensorAssert.Close(Loop(f, x2), vf(x2), 1e-12, 1e-12, "new batch");
        Assert.True(Functional.LastVmapPlan.Reused);
        // another logical shape, another dtype: traced again
        var x3 = R(4, 5, 3, 2);
        TensorAssert.Close(Loop(f, x3), vf(x3), 1e-12, 1e-12, "other shape");
        Assert.False(Functional.LastVmapPlan.Reused);
        var g = Functional.Vmap((Tensor v) => (v * 2).Sum());
        g(x);
        g(x);
        Assert.True(Functional.LastVmapPlan.Reused);
        var r32 = g(x.To(DType.Float32));
        Assert.False(Functional.LastVmapPlan.Reused);
        Assert.Equal(DType.Float32, r32.DType);
    }

    [Fact]
    public void AReboundCapturedTensorIsSeen()
    {
        var w = R(1, 4, 3);
        var vf = Functional.Vmap((Tensor v) => (w * 2).MatMul(v));
        var x = R(2, 5, 3);
        vf(x);
        vf(x);
        Assert.True(Functional.LastVmapPlan!.Reused);
        w = R(9, 4, 3);
        TensorAssert.Close(Loop(v => (w * 2).MatMul(v), x), vf(x), 1e-12, 1e-12, "after rebinding w");
        Assert.False(Functional.LastVmapPlan.Reused);
        // a captured tensor of another shape
        w = R(10, 6, 3);
        var r = vf(x);
        Assert.Equal([5, 6], r.ShapeArray);
        TensorAssert.Close(Loop(v => (w * 2).MatMul(v), x), r, 1e-12, 1e-12, "after a new shape");
        Assert.False(Functional.LastVmapPlan.Reused);
        vf(x);
        Assert.True(Functional.LastVmapPlan.Reused);
    }

    [Fact]
    public void AnInPlaceWriteToACapturedTensorIsSeen()
    {
        // w * 2 is computed outside the batched program (it does not depend on the example): a stale copy would show
        var w = R(1, 4, 3);
        var ws = new[] { R(5, 4) };
        Func<Tensor, Tensor> f = v => (w * 2).MatMul(v) + ws[0].Exp();
        var vf = Functional.Vmap(f);
        var x = R(2, 5, 3);
        vf(x);
        w.MulInPlace(3.0);
        TensorAssert.Close(Loop(f, x), vf(x), 1e-12, 1e-12, "after w *= 3");
        Assert.False(Functional.LastVmapPlan!.Reused);
        ws[0].AddInPlace(1.0);
        TensorAssert.Close(Loop(f, x), vf(x), 1e-12, 1e-12, "after ws[0] += 1");
        Assert.False(Functional.LastVmapPlan.Reused);
        // an element of a captured array replaced
        ws[0] = R(6, 4);
        TensorAssert.Close(Loop(f, x), vf(x), 1e-12, 1e-12, "after ws[0] = new");
        Assert.False(Functional.LastVmapPlan.Reused);
        vf(x);
        Assert.True(Functional.LastVmapPlan.Reused);
    }

    [Fact]
    public void CapturedNumbersAndUnbatchedInputsAreSeen()
    {
        double scale = 2;
        var vf = Functional.Vmap((Tensor[] t) => t[0] * Tensor.Scalar(scale, DType.Float64) + t[1].Sin(), [0, null]);
        var x = R(2, 5, 3);
        var u = R(3, 3);
        vf([x, u]);
        vf([x, u]);
        Assert.True(Functional.LastVmapPlan!.Reused);
        scale = 5;
        TensorAssert.Close(x * 5 + u.Sin(), vf([x, u]), 1e-12, 1e-12, "after scale = 5");
        Assert.False(Functional.LastVmapPlan.Reused);
        // another unbatched tensor, then the same one written in place
        var u2 = R(4, 3);
        TensorAssert.Close(x * 5 + u2.Sin(), vf([x, u2]), 1e-12, 1e-12, "other unbatched input");
        Assert.False(Functional.LastVmapPlan.Reused);
        u2.AddInPlace(1.0);
        TensorAssert.Close(x * 5 + u2.Sin(), vf([x, u2]), 1e-12, 1e-12, "unbatched input written in place");
        Assert.False(Functional.LastVmapPlan.Reused);
    }

    [Fact]
    public void RandomDrawsAndFallbacksAreNeverReused()
    {
        var x = Tensor.Ones([6, 200], DType.Float64);
        var same = Functional.Vmap((Tensor v) => v.Dropout(0.5, training: true), randomness: Randomness.Same);
        var a = same(x);
        var b = same(x);
        Assert.False(Functional.LastVmapPlan!.Reused);
        for (int k = 1; k < 6; k++) TensorAssert.Close(b[0], b[k], 0, 0, "one mask for every example");
        Assert.NotEqual(a[0].ToArray<double>(), b[0].ToArray<double>()); // a new draw per call, as without the cache
        var diff = Functional.Vmap((Tensor v) => v.Dropout(0.5, training: true), randomness: Randomness.Different);
        diff(x);
        var d = diff(x);
        Assert.False(Functional.LastVmapPlan.Batched);
        Assert.False(Functional.LastVmapPlan.Reused);
        Assert.NotEqual(d[0].ToArray<double>(), d[1].ToArray<double>());
        Assert.Throws<VmapException>(() => Functional.Vmap((Tensor v) => v.Dropout(0.5, training: true))(x));
    }

    [Fact]
    public void AFunctionThatChangesItsCapturedStateRunsEveryCall()
    {
        int calls = 0;
        var vf = Functional.Vmap((Tensor v) => { calls++; return v * 2; });
        var x = R(2, 5, 3);
        vf(x);
        int afterFirst = calls;
        vf(x);
        Assert.False(Functional.LastVmapPlan!.Reused);
        Assert.True(calls > afterFirst);
    }

    [Fact]
    public void JacFwdReusesItsProgramAndSeesNewWeightsAndPoints()
    {
        var w1 = R(1, 6, 5) * 0.3;
        var w2 = R(2, 4, 6) * 0.3;
        Func<Tensor, Tensor> f = v => w2.MatMul(w1.MatMul(v).Tanh()).Tanh();
        var x0 = R(3, 5);
        var j1 = Functional.JacFwd(f, x0);
        TensorAssert.Close(Functional.JacRev(f, x0), j1, 1e-12, 1e-12, "first");
        var j2 = Functional.JacFwd(f, x0);
        Assert.True(Functional.LastVmapPlan!.Reused);
        TensorAssert.Close(j1, j2, 0, 0, "reused");
        w1.MulInPlace(2.0);
        TensorAssert.Close(Functional.JacRev(f, x0), Functional.JacFwd(f, x0), 1e-12, 1e-12, "after w1 *= 2");
        x0.AddInPlace(0.5);
        TensorAssert.Close(Functional.JacRev(f, x0), Functional.JacFwd(f, x0), 1e-12, 1e-12, "after x0 += 0.5");
        var x1 = R(4, 5);
        TensorAssert.Close(Functional.JacRev(f, x1), Functional.JacFwd(f, x1), 1e-12, 1e-12, "another point");
        // a local function converts to a new delegate at every call: still the same function
        Tensor G(Tensor v) => w1.MatMul(v.Sin());
        Functional.JacFwd(G, x1);
        TensorAssert.Close(Functional.JacRev(G, x1), Functional.JacFwd(G, x1), 1e-12, 1e-12, "local function");
        Assert.True(Functional.LastVmapPlan!.Reused);
        w2 = R(5, 3, 6);
        var j = Functional.JacFwd(f, x1);
        Assert.Equal([3, 5], j.ShapeArray);
        TensorAssert.Close(Functional.JacRev(f, x1), j, 1e-12, 1e-12, "w2 rebound to another shape");
    }
}
