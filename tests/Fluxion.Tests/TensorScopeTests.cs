using Fluxion.Nn;
using Fluxion.Optim;
using Xunit;

namespace Fluxion.Tests;

/// <summary>Deterministic reuse of pooled storages: <see cref="TensorScope"/> and the backward pass's release of gradient
/// buffers it alone held. Shares the pool's process-wide settings, so it runs in the StoragePool collection (alone).</summary>
[Collection("StoragePool")]
public sealed class TensorScopeTests : IDisposable
{
    // [1024, 1024] float32: 4 MB, the op sweep's size
    private const int S = 1024;

    private readonly bool _enabled = StoragePool.Enabled;
    private readonly bool _induce = StoragePool.InduceGc;

    public TensorScopeTests()
    {
        StoragePool.Enabled = true;
        StoragePool.InduceGc = true;
    }

    public void Dispose()
    {
        StoragePool.Enabled = _enabled;
        StoragePool.InduceGc = _induce;
    }

    private static Tensor Input(int n = S, DType dtype = DType.Float32, int seed = 1) =>
        Tensor.Randn([n, n], dtype, new Generator(seed));

    /// <summary>Allocates many tensors of <paramref name="like"/>'s size in scopes, filled with 7: reuses every released array.</summary>
    private static void Churn(Tensor like, int rounds = 20)
    {
        for (int r = 0; r < rounds; r++)
            using (Tensor.NewScope("churn"))
                for (int k = 0; k < 4; k++) Tensor.Full(like.ShapeArray, 7.0, like.DType);
    }

    [Fact]
    public void TheNextRunRentsTheSameArray()
    {
        var x = Input();
        Array first;
        using (Tensor.NewScope())
        {
            var y = x.Neg();
            first = y.Storage.RawData;
        }
        using (Tensor.NewScope())
        {
            var y = x.Neg();
            Assert.Same(first, y.Storage.RawData);
            Assert.Equal(-x.ToArray<float>()[12345], y.ToArray<float>()[12345]);
        }
    }

    [Fact]
    public void AHundredScopedOpsOnFourMegabyteTensorsRunNoCollection()
    {
        var x = Input();
        var w = Input(seed: 2).RequiresGrad_();
        for (int i = 0; i < 3; i++) Step(); // warm: the pool holds the arrays of one step
        int gen0 = GC.CollectionCount(0);
        long induced = StoragePool.Stats.Induced, hits = StoragePool.Stats.Hits;
        for (int i = 0; i < 100; i++) Step();
        Assert.Equal(0, GC.CollectionCount(0) - gen0);
        Assert.Equal(0, StoragePool.Stats.Induced - induced);
        Assert.True(StoragePool.Stats.Hits - hits >= 400, $"hits: {StoragePool.Stats.Hits - hits}");

        void Step()
        {
            using var scope = Tensor.NewScope("loop");
            var y = (x.Abs() * w).Exp();
            y.Backward(Tensor.OnesLike(y));
            w.Grad = null;
        }
    }

    [Fact]
    public void ReleasedTensorsThrowNamingTheScope()
    {
        var x = Input();
        Tensor y, view;
        using (Tensor.NewScope("step 7"))
        {
            y = x.Exp();
            view = y.Reshape(S * S);
        }
        Assert.True(y.Storage.IsReleased);
        var e = Assert.Throws<TensorReleasedException>(() => y.ToArray<float>());
        Assert.Contains("'step 7'", e.Message);
        Assert.Contains("Keep", e.Message);
        Assert.Contains("MoveToOuterScope", e.Message);
        Assert.Throws<TensorReleasedException>(() => view.Sum());
        Assert.Throws<TensorReleasedException>(() => y.AddInPlace(x));
        Assert.Throws<TensorReleasedException>(() => y.Storage.Data);
        Assert.Throws<TensorReleasedException>(() => y.MoveToOuterScope());
        // the array went to someone else: the released tensor must not see it
        using (Tensor.NewScope()) Assert.Throws<TensorReleasedException>(() => (Tensor.Full([S, S], 3.0) + y).Sum());
    }

    [Fact]
    public void BackwardThroughAGraphThatOutlivedItsScopeThrows()
    {
        var w = Input().RequiresGrad_();
        Tensor loss;
        using (Tensor.NewScope("forward")) loss = w.Exp().Sum(); // Exp saves its 4 MB output, released here
        Churn(w);
        var e = Assert.Throws<TensorReleasedException>(() => loss.Backward());
        Assert.Contains("'forward'", e.Message);
        Assert.Null(w.Grad);
    }

    [Fact]
    public void EveryWayToKeepATensorKeepsItsValues()
    {
        var x = Input();
        var leaf = Input(seed: 3).RequiresGrad_();
        Tensor kept, moved, scoped, grad, escapedTensor, fromWorker = null!, nested;
        Array escaped;
        Linear lin;
        SGD opt;
        using (var outer = Tensor.NewScope("outer"))
        {
            using (var scope = Tensor.NewScope("inner"))
            {
                kept = scope.Keep(x * 2);
                moved = (x * 3).MoveToOuterScope();   // to "outer", released there
                nested = Tensor.Scoped(() => x * 4);  // returned into "inner"
                nested.MoveToOuterScope();            // and on to "outer"
                scoped = Tensor.Scoped(() => x * 5, "scoped");
                scope.Keep(scoped);
                (leaf * x).Sum().Backward();          // .Grad keeps it
                grad = leaf.Grad!;
                escapedTensor = x * 6;
                escaped = escapedTensor.Storage.Data; // handed out: never released
                var worker = new Thread(() => fromWorker = x * 7); // another thread's storages belong to no scope
                worker.Start();
                worker.Join();
                lin = new Linear(S, S);               // parameters are kept
                opt = new SGD(lin.Parameters(), lr: 0.1, momentum: 0.9);
                lin.Forward(x).Sum().Backward();
                opt.Step();                           // the momentum buffers are kept
                opt.ZeroGrad();                       // the gradients go back to the scope
            }
            Assert.False(moved.Storage.IsReleased);
            Assert.False(nested.Storage.IsReleased);
            Churn(x);
            Assert.Equal((x * 3).ToArray<float>(), moved.ToArray<float>());
            Assert.Equal((x * 4).ToArray<float>(), nested.ToArray<float>());
        }
        Assert.True(moved.Storage.IsReleased);
        Assert.True(nested.Storage.IsReleased);
        Churn(x);
        var xs = x.ToArray<float>();
        Assert.Equal((x * 2).ToArray<float>(), kept.ToArray<float>());
        Assert.Equal((x * 5).ToArray<float>(), scoped.ToArray<float>());
        Assert.Same(grad, leaf.Grad);
        Assert.Equal(xs, grad.ToArray<float>());
        Assert.Equal((x * 6).ToArray<float>(), escapedTensor.ToArray<float>());
        Assert.Equal((x * 6).ToArray<float>(), (float[])escaped);
        Assert.Equal((x * 7).ToArray<float>(), fromWorker.ToArray<float>());
        // the module and the optimizer work on: a second step outside any scope
        var w0 = lin.Weight.ToArray<float>();
        lin.Forward(x).Sum().Backward();
        opt.Step();
        Assert.NotEqual(w0, lin.Weight.ToArray<float>());
        Assert.All(lin.Weight.ToArray<float>(), v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void AnExceptionInsideTheScopeStillReleasesAndKeepsWhatWasKept()
    {
        var x = Input();
        Tensor lost = null!, kept = null!;
        Assert.Throws<InvalidOperationException>(Body);
        void Body()
        {
            using var scope = Tensor.NewScope();
            lost = x * 2;
            kept = scope.Keep(x * 3);
            throw new InvalidOperationException("boom");
        }
        Assert.True(lost.Storage.IsReleased);
        Churn(x);
        Assert.Equal((x * 3).ToArray<float>(), kept.ToArray<float>());
        Assert.Null(TensorScope.Current);
    }

    [Fact]
    public void DisposingAnOuterScopeEndsTheInnerOnesAndOnlyItsThreadMayEndIt()
    {
        var x = Input();
        var outer = Tensor.NewScope("outer");
        var inner = Tensor.NewScope("inner");
        var y = x * 2;
        Exception? fromOther = null;
        var t = new Thread(() => { try { outer.Dispose(); } catch (Exception e) { fromOther = e; } });
        t.Start();
        t.Join();
        Assert.IsAssignableFrom<FluxionException>(fromOther);
        Assert.False(outer.IsDisposed);
        outer.Dispose();
        Assert.True(inner.IsDisposed);
        Assert.True(y.Storage.IsReleased);
        Assert.Null(TensorScope.Current);
    }

    [Fact]
    public void GradientsEqualUnscopedRunsInFloat64()
    {
        // a graph with fan-out (x used three times) and a shared weight: the backward pass sums and releases buffers
        var x0 = Input(400, DType.Float64, 4);
        var a = Input(400, DType.Float64, 5);
        double[] Run(bool scoped, out double[] gw)
        {
            var x = x0.Detach().RequiresGrad_();
            var w = a.Detach().RequiresGrad_();
            using (scoped ? Tensor.NewScope() : null)
            {
                var h = (x * w).Tanh() + x.Exp() * w;
                var loss = (h * h + x).Sum() + h.MatMul(x).Sin().Sum();
                loss.Backward();
            }
            gw = w.Grad!.ToArray<double>();
            return x.Grad!.ToArray<double>();
        }
        StoragePool.Enabled = false;
        var gx0 = Run(false, out var gw0);
        StoragePool.Enabled = true;
        long before = StoragePool.ImmediateReturns;
        var gx1 = Run(false, out var gw1);
        Assert.True(StoragePool.ImmediateReturns > before, "the backward pass released none of its gradient buffers");
        for (int i = 0; i < 3; i++)
        {
            var gx2 = Run(true, out var gw2);
            Churn(x0);
            Assert.Equal(gx0, gx2);
            Assert.Equal(gw0, gw2);
        }
        Assert.Equal(gx0, gx1);
        Assert.Equal(gw0, gw1);
    }

    [Fact]
    public void HooksRetainedGradsAndRetainGraphKeepTheirGradients()
    {
        var x = Input(400, DType.Float64, 6);
        var w = Input(400, DType.Float64, 7).RequiresGrad_();
        Tensor? seen = null;
        var h = (x * w).Exp();
        h.RegisterHook(g => { seen = g; return null; });
        var m = h * x;
        m.RetainGrad();
        var loss = (m * 2).Sum();
        loss.Backward(retainGraph: true);
        var g1 = w.Grad!.ToArray<double>();
        Churn(x);
        Assert.All(m.Grad!.ToArray<double>(), v => Assert.Equal(2.0, v));
        Assert.Equal((x * 2).ToArray<double>(), seen!.ToArray<double>());
        loss.Backward();
        Churn(x);
        var g2 = w.Grad!.ToArray<double>();
        for (int i = 0; i < g1.Length; i += 997) Assert.Equal(2 * g1[i], g2[i], 12);
    }

    [Fact]
    public void ACompiledFunctionTracedInsideAScopeRunsInLaterScopes()
    {
        var x = Input(600);
        var f = Functional.Compile((Tensor t) => (t * 2 + 1).Tanh() * t);
        var want = ((x * 2 + 1).Tanh() * x).ToArray<float>();
        for (int i = 0; i < 5; i++)
        {
            using (Tensor.NewScope($"call {i}"))
                Assert.Equal(want, f.Call(x).ToArray<float>());
            Churn(x, 2);
        }
    }
}
