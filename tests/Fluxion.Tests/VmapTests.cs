using Fluxion;
using Fluxion.Nn;
using Xunit;

namespace Fluxion.Tests;

/// <summary>Functional.Vmap: equal to stacking f over the examples, batched through the registry's batching rules,
/// composing with the other transforms, with clear errors for what cannot be vmapped.</summary>
public class VmapTests
{
    private static Tensor R(int seed, params int[] shape)
    {
        var g = new Generator(seed);
        return Tensor.Randn(shape, dtype: DType.Float64, generator: g);
    }

    /// <summary>f applied per example (slices along dim 0) and stacked: the reference.</summary>
    private static Tensor[] Loop(Func<Tensor[], Tensor[]> f, Tensor[] xs, bool[] batched)
    {
        int n = xs.Where((x, i) => batched[i]).First().Shape[0];
        var outs = new List<Tensor>[0];
        for (int b = 0; b < n; b++)
        {
            var ys = f([.. xs.Select((x, i) => batched[i] ? x.Select(0, b) : x)]);
            if (b == 0) outs = [.. ys.Select(_ => new List<Tensor>())];
            for (int o = 0; o < ys.Length; o++) outs[o].Add(ys[o]);
        }
        return [.. outs.Select(l => Tensor.Stack([.. l], 0))];
    }

    // the 2-layer MLP's loss for one example (x [in], y a 0-d class index)
    private static Tensor MlpLoss(Tensor[] p) =>
        Losses.CrossEntropy(Tensor.Linear(Tensor.Linear(p[4], p[0], p[1]).Tanh(), p[2], p[3]).Unsqueeze(0), p[5].Unsqueeze(0));

    private static Tensor[] MlpParams() => [R(1, 16, 8), R(2, 16), R(3, 3, 16), R(4, 3)];

    [Fact]
    public void PerSampleGradientsEqualOneBackwardPerExample()
    {
        var ps = MlpParams();
        var x = R(5, 7, 8);
        var y = Tensor.FromArray(new long[] { 0, 1, 2, 1, 0, 2, 2 });
        Func<Tensor[], Tensor[]> grads = a => Functional.Grad((Tensor[] q) => MlpLoss([.. q, a[4], a[5]]))(a[..4]);
        var batched = Functional.Vmap(grads, [null, null, null, null, 0, 0])([.. ps, x, y]);
        Assert.True(Functional.LastVmapPlan!.Batched, Functional.LastVmapPlan.Reason);
        var loop = Loop(grads, [.. ps, x, y], [false, false, false, false, true, true]);
        for (int k = 0; k < 4; k++)
        {
            Assert.Equal([7, .. ps[k].ShapeArray], batched[k].ShapeArray);
            TensorAssert.Close(loop[k], batched[k], 1e-12, 1e-12, $"per-sample gradient {k}");
        }
    }

    [Fact]
    public void ReluMlpAndMeanReductionPerSample()
    {
        // the fused Linear+ReLU path and a mean squared error (Sub, Mul, Mean) per example
        var w1 = R(1, 6, 4); var b1 = R(2, 6); var w2 = R(3, 2, 6);
        var x = R(4, 5, 4); var t = R(5, 5, 2);
        Func<Tensor[], Tensor[]> g = a => Functional.Grad((Tensor[] q) =>
        {
            var z = Tensor.Linear(Tensor.LinearRelu(a[0], q[0], q[1]), q[2]);
            return (z - a[1]).Square().Mean();
        })([w1, b1, w2]);
        var r = Functional.Vmap(g, [0, 0])([x, t]);
        Assert.True(Functional.LastVmapPlan!.Batched, Functional.LastVmapPlan.Reason);
        var loop = Loop(g, [x, t], [true, true]);
        for (int k = 0; k < 3; k++) TensorAssert.Close(loop[k], r[k], 1e-12, 1e-12, $"gradient {k}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PerSampleGradientsOfACnn(bool maxPool)
    {
        // conv (+bias) → ReLU → pooling → linear → cross entropy, per example [1, 2, 6, 6]
        var w = R(1, 3, 2, 3, 3); var b = R(2, 3); var wl = R(3, 4, 12);
        var x = R(4, 5, 2, 6, 6);
        var y = Tensor.FromArray(new long[] { 0, 3, 1, 2, 3 });
        Func<Tensor[], Tensor[]> g = a => Functional.Grad((Tensor[] q) =>
        {
            var h = Tensor.Conv2d(a[0].Unsqueeze(0), q[0], q[1], padding: 1).Relu();
            h = maxPool ? Tensor.MaxPool2d(h, 3) : Tensor.AvgPool2d(h, 3);
            return Losses.CrossEntropy(Tensor.Linear(h.Flatten(1), q[2]), a[1].Unsqueeze(0));
        })([w, b, wl]);
        var r = Functional.Vmap(g, [0, 0])([x, y]);
        if (!maxPool) Assert.True(Functional.LastVmapPlan!.Batched, Functional.LastVmapPlan.Reason);
        var loop = Loop(g, [x, y], [true, true]);
        for (int k = 0; k < 3; k++) TensorAssert.Close(loop[k], r[k], 1e-12, 1e-12, $"gradient {k}");
    }

    [Fact]
    public void EnsembleOfConvolutionsWithPerExampleWeights()
    {
        // vmap over the weights (model ensembling): each member's own filters on a shared input
        var ws = R(1, 4, 3, 2, 3, 3);
        var bs = R(2, 4, 3);
        var x = R(3, 2, 2, 5, 5);
        Func<Tensor[], Tensor[]> f = a => [Tensor.Conv2d(x, a[0], a[1], stride: 2).Relu()];
        var r = Functional.Vmap(f)([ws, bs]);
        Assert.True(Functional.LastVmapPlan!.Batched, Functional.LastVmapPlan.Reason);
        TensorAssert.Close(Loop(f, [ws, bs], [true, true])[0], r[0], 1e-12, 1e-12, "ensemble");
    }

    [Fact]
    public void PointCloudLayerRunsBatchedAsOneFusedCallAndPerMemberForEnsembles()
    {
        // examples over one layer: one fused call over all examples' rows; the naive layer gives the same values
        var p = R(1, 7, 2);
        var q = R(2, 5, 2);
        var bias = R(3, 5);
        var xs = R(4, 6, 3, 7); // 6 examples, each a batch of 3 rows
        Func<Tensor[], Tensor[]> fused = a => [Fluxion.Models.PointCloudLinear.Apply(a[0], p, q, bias).Tanh()];
        var r = Functional.Vmap(fused)([xs]);
        Assert.True(Functional.LastVmapPlan!.Batched, Functional.LastVmapPlan.Reason);
        TensorAssert.Close(Loop(fused, [xs], [true])[0], r[0], 1e-13, 1e-13, "fused, shared layer");
        Func<Tensor[], Tensor[]> naive = a => [Fluxion.Models.PointCloudLinear.Apply(a[0], p, q, bias, Fluxion.Models.PointCloudMode.Naive).Tanh()];
        TensorAssert.Close(Functional.Vmap(naive)([xs])[0], r[0], 1e-12, 1e-12, "naive, shared layer");

        // an ensemble: per-member positions on a shared input
        var ps = R(5, 4, 7, 2);
        var x = R(6, 3, 7);
        Func<Tensor[], Tensor[]> member = a => [Fluxion.Models.PointCloudLinear.Apply(x, a[0], q, bias)];
        var e = Functional.Vmap(member)([ps]);
        Assert.True(Functional.LastVmapPlan!.Batched, Functional.LastVmapPlan.Reason);
        TensorAssert.Close(Loop(member, [ps], [true])[0], e[0], 1e-13, 1e-13, "ensemble of layers");
    }

    [Fact]
    public void InAndOutDimsOnOtherAxesAndUnbatchedInputs()
    {
        var a = R(1, 3, 5);           // batch on dim 1
        var w = R(2, 3, 4);           // shared
        var c = R(3, 5, 4);           // batch on dim 0
        Func<Tensor[], Tensor[]> f = xs => [(xs[0].MatMul(xs[1]) * xs[2]).Exp(), xs[0].Softmax(0)];
        var r = Functional.Vmap(f, [1, null, 0], [1, 0])([a, w, c]);
        Assert.True(Functional.LastVmapPlan!.Batched, Functional.LastVmapPlan.Reason);
        var loop = Loop(f, [a.Movedim(1, 0), w, c], [true, false, true]);
        TensorAssert.Close(loop[0].Movedim(0, 1), r[0], 1e-12, 1e-12, "output 0 (batch at dim 1)");
        TensorAssert.Close(loop[1], r[1], 1e-12, 1e-12, "output 1");
    }

    [Fact]
    public void NestedVmapIsAPairwiseMap()
    {
        var x = R(1, 4, 3);
        var y = R(2, 5, 3);
        // inner maps over y's rows, outer over x's rows: [4, 5] distances
        Func<Tensor, Tensor> rowDist = xi => Functional.Vmap((Tensor yj) => (xi - yj).Square().Sum().Sqrt())(y);
        var d = Functional.Vmap(rowDist)(x);
        Assert.True(Functional.LastVmapPlan!.Batched, Functional.LastVmapPlan.Reason);
        var expected = (x.Unsqueeze(1) - y.Unsqueeze(0)).Square().Sum(-1).Sqrt();
        TensorAssert.Close(expected, d, 1e-12, 1e-12, "pairwise distances");
    }

    [Fact]
    public void JacobiansAndHessiansThroughVmap()
    {
        var w = R(1, 4, 4);
        Func<Tensor, Tensor> f = x => w.MatMul(x).Tanh();
        var xs = R(2, 3, 4);
        // batched Jacobians: Vmap(JacRev) and Vmap(JacFwd) equal per-example Jacobians
        var jr = Functional.Vmap((Tensor x) => Functional.JacRev(f, x))(xs);
        var jf = Functional.Vmap((Tensor x) => Functional.JacFwd(f, x))(xs);
        for (int b = 0; b < 3; b++)
        {
            var j = Functional.JacFwd(f, xs[b]);
            TensorAssert.Close(j, jr[b], 1e-12, 1e-12, "vmap(jacrev)");
            TensorAssert.Close(j, jf[b], 1e-12, 1e-12, "vmap(jacfwd)");
        }
        // batched Hessians of a scalar function
        Func<Tensor, Tensor> s = x => (w.MatMul(x).Sin() * x).Sum();
        var hs = Functional.Vmap((Tensor x) => Functional.Hessian(s, x))(xs);
        for (int b = 0; b < 3; b++) TensorAssert.Close(Functional.Hessian(s, xs[b]), hs[b], 1e-12, 1e-12, "vmap(hessian)");
    }

    [Fact]
    public void VmapOfJvpAndVjpGivesJacobianColumnsAndRows()
    {
        var w = R(1, 3, 4);
        Func<Tensor, Tensor> f = x => w.MatMul(x).Sigmoid();
        var x0 = R(2, 4);
        var jac = Functional.JacRev(f, x0);
        // columns: J e_i for every basis vector at once
        var cols = Functional.Vmap((Tensor v) => Functional.Jvp(f, x0, v).Jvp)(Tensor.Eye(4, dtype: DType.Float64));
        Assert.True(Functional.LastVmapPlan!.Batched, Functional.LastVmapPlan.Reason);
        TensorAssert.Close(jac.T, cols, 1e-12, 1e-12, "vmap(jvp)");
        // rows: u^T J for every basis cotangent at once
        var rows = Functional.Vmap((Tensor u) => Functional.Vjp(t => f(t[0]), [x0], u).Vjp[0])(Tensor.Eye(3, dtype: DType.Float64));
        Assert.True(Functional.LastVmapPlan!.Batched, Functional.LastVmapPlan.Reason);
        TensorAssert.Close(jac, rows, 1e-12, 1e-12, "vmap(vjp)");
    }

    [Fact]
    public void GradientsFlowThroughAVmappedFunction()
    {
        var w = R(1, 3, 4).RequiresGrad_();
        var xs = R(2, 5, 4);
        var loss = Functional.Vmap((Tensor x) => w.MatMul(x).Tanh().Sum())(xs).Square().Sum();
        var g = Autograd.Grad(loss, w);
        var w2 = w.Detach().RequiresGrad_();
        var reference = w2.MatMul(xs.T).Tanh().Sum(0).Square().Sum();
        TensorAssert.Close(Autograd.Grad(reference, w2), g, 1e-12, 1e-12, "grad of vmap");
    }

    /// <summary>Vmap of f over the batched inputs runs batched and equals the loop (exactly: the same kernels per element).</summary>
    private static void AssertBatchedLikeLoop(Func<Tensor[], Tensor[]> f, Tensor[] xs, bool[] isB, string what, double tol = 0)
    {
        var r = Functional.Vmap(f, [.. isB.Select(b => b ? (int?)0 : null)])(xs);
        Assert.True(Functional.LastVmapPlan!.Batched, $"{what}: {Functional.LastVmapPlan.Reason}");
        var loop = Loop(f, xs, isB);
        for (int o = 0; o < loop.Length; o++)
        {
            Assert.Equal(loop[o].DType, r[o].DType);
            TensorAssert.Close(loop[o], r[o], tol, tol, $"{what}, output {o}");
        }
    }

    [Fact]
    public void PerExampleIndicesBatchTheIndexOps()
    {
        var ids = Tensor.FromArray(new long[] { 0, 4, 2, 2, 1, 3, 3, 0, 1, 4, 1, 2, 0, 0, 4 }, 3, 5);
        var table = R(1, 5, 4);
        // an embedding lookup of per-example ids in a shared table, and a per-example table too
        AssertBatchedLikeLoop(a => [Embedding.Lookup(a[0], a[1])], [table, ids], [false, true], "embedding, shared table");
        AssertBatchedLikeLoop(a => [a[0].IndexSelect(0, a[1])], [R(2, 3, 5, 4), ids], [true, true], "index select, both per example");
        AssertBatchedLikeLoop(a => [a[0].IndexSelect(1, a[1])], [R(3, 4, 5), ids], [false, true], "index select dim 1, shared input");
        var gi = Tensor.FromArray(new long[] { 0, 2, 1, 1, 0, 2, 2, 2, 0, 1, 1, 0 }, 3, 2, 2);
        AssertBatchedLikeLoop(a => [a[0].Gather(1, a[1])], [R(4, 3, 2, 3), gi], [true, true], "gather, both per example");
        AssertBatchedLikeLoop(a => [a[0].ScatterAdd(1, a[1], a[2])], [R(5, 2, 3), gi, R(6, 3, 2, 2)], [false, true, true], "scatter add, per-example index");
        var ai = Tensor.FromArray(new long[] { 1, 1, 0, 2, 0, 2 }, 3, 2);
        AssertBatchedLikeLoop(a => [a[0].IndexAdd(0, a[1], a[2], alpha: 0.5)], [R(7, 3, 3, 2), ai, R(8, 3, 2, 2)], [true, true, true], "index add, per-example index");
        // values computed from the example select the positions: argmax, predicates and conversions are traced
        AssertBatchedLikeLoop(a => [a[0].ArgMax(), a[0].ArgMin(1, keepDim: true), a[0].IsNan().To(DType.Float64) + a[0].Gt(0.0).To(DType.Float64)],
            [R(9, 3, 4, 5)], [true], "argmax, predicates");
    }

    [Fact]
    public void SortsScansReductionsAndElementwiseOpsRunBatchedAndSoDoTheirPerSampleGradients()
    {
        var x = R(10, 4, 3, 5);
        var terms = new (string Name, Func<Tensor, Tensor> F)[]
        {
            ("sort, topk", v => (v.Sort(1).Values * v.Topk(2, 0).Values.Sum()).Sum()), ("max along", v => v.Max(1).Values.Sum()),
            ("amax", v => v.Amax().Square()), ("std", v => v.Std(0).Sum()), ("median along", v => v.Median(0).Values.Sum()),
            ("median", v => v.NanMedian()), ("kthvalue", v => v.Kthvalue(2).Values.Sum()), ("cummax", v => v.Cummax(1).Values.Sum()),
            ("cumprod", v => v.Cumprod(1).Sum()), ("logsumexp", v => v.LogSumExp(1).Sum()), ("norm", v => v.Norm(3, [1]).Sum()),
            ("prod", v => v.Prod(0).Sum()), ("quantile", v => v.Quantile(0.3, 1).Sum()), ("mode", v => v.Mode(1).Values.Sum()),
            ("clamp", v => v.Clamp(-0.5, 0.7).Sum()), ("leaky relu", v => v.LeakyRelu(0.2).Sum()), ("softplus", v => v.Softplus(2, 1.5).Sum()),
            ("elu, celu, selu", v => (v.Elu(0.7) + v.Celu(1.3) + v.Selu()).Sum()), ("mish, logsigmoid", v => (v.Mish() + v.LogSigmoid()).Sum()),
            ("logit", v => v.Sigmoid().Logit(0.05).Sum()), ("round", v => (v.Round(1) * v).Sum()), ("atan2", v => Tensor.Atan2(v, v.Flip([0])).Sum()),
            ("hypot", v => Tensor.Hypot(v, 2.0 * v).Sum()), ("maximum", v => Tensor.Maximum(v, v.Flip([1])).Sum()),
            ("logaddexp", v => Tensor.LogAddExp(v, v * v).Sum()), ("xlogy", v => Tensor.Xlogy(v.Abs(), v.Abs() + 1.0).Sum()),
            ("lerp", v => v.Lerp(v * 3, 0.3).Sum()), ("sinc", v => v.Sinc().Sum()), ("lgamma, polygamma", v => ((v.Abs() + 1.0).Lgamma() + (v.Abs() + 1.0).Polygamma(2)).Sum()),
            ("narrow, select", v => v.Narrow(1, 1, 2).Square().Sum() * v.Select(0, 2).Sum()),
            ("det, inv, solve, cholesky", v =>
            {
                var a = v.MatMul(v.MT) + 3.0 * Tensor.Eye(3, dtype: DType.Float64);
                return Tensor.Det(a) + Tensor.Inv(a).Sum() + Tensor.Solve(a, v).Sum() + Tensor.Cholesky(a).Sum() + Tensor.Slogdet(a).LogAbsDet;
            }),
            ("svd, eigh, qr, cdist", v => Tensor.Svd(v, fullMatrices: false).S.Sum() + Tensor.Eigh(v.MatMul(v.MT)).Eigenvalues.Sum()
                + Tensor.Qr(v.MT).R.Abs().Sum() + Tensor.Cdist(v, v.Flip([0]) * 2.0).Sum()),
            ("matrix norm, renorm", v => Tensor.MatrixNorm(v, MatrixNormKind.Two) + Tensor.MatrixNorm(v, MatrixNormKind.Inf) + v.Renorm(2, 0, 1.0).Sum()),
            ("fmax", v => v.Fmax(v.Flip([1])).Sum()), ("remainder", v => v.Remainder(0.3).Sum()), ("nan to num", v => (v / 0.0).NanToNum(1, 2, 3).Sum() + v.NanToNum().Sum()),
        };
        var failures = new List<string>();
        foreach (var (name, f) in terms)
        {
            try
            {
                AssertBatchedLikeLoop(a => [f(a[0])], [x], [true], $"{name}: values", 1e-12);
                // per-sample gradients: the derivatives gather and scatter at the per-example positions
                AssertBatchedLikeLoop(a => [Functional.Grad(f)(a[0])], [x], [true], $"{name}: per-sample gradients", 1e-12);
            }
            catch (Exception e) { failures.Add($"{name}: {e.Message}"); }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void AnOpWithoutABatchingRuleFallsBackToTheLoop()
    {
        var x = R(1, 4, 6);
        Func<Tensor, Tensor> f = v => Tensor.LuFactor(v.Sort().Values.Reshape(2, 3).MatMul(v.Reshape(3, 2))).LU;
        var r = Functional.Vmap(f)(x);
        Assert.False(Functional.LastVmapPlan!.Batched);
        Assert.Contains("has no batching rule", Functional.LastVmapPlan.Reason);
        TensorAssert.Close(Loop(a => [f(a[0])], [x], [true])[0], r, 0, 0, "fallback");
    }

    [Fact]
    public void DataDependentControlFlowIsAClearError()
    {
        var x = R(1, 4, 3);
        var e = Assert.Throws<VmapException>(() => Functional.Vmap((Tensor v) => v.Sum().Item() > 0 ? v : -v)(x));
        Assert.Contains("Item", e.Message);
        Assert.Contains("Where", e.Message);
    }

    [Fact]
    public void InPlaceWriteIntoASharedTensorIsAClearError()
    {
        var shared = Tensor.Zeros([3], DType.Float64);
        var e = Assert.Throws<VmapException>(() => Functional.Vmap((Tensor v) => shared.AddInPlace(v))(R(1, 4, 3)));
        Assert.Contains("AddInPlace", e.Message);
        Assert.Contains("out-of-place", e.Message);
    }

    private static Sequential SmallMlp(int seed)
    {
        Generator.ManualSeed(seed);
        return new Sequential(new Linear(4, 8, dtype: DType.Float64), new Tanh(), new Linear(8, 3, dtype: DType.Float64));
    }

    [Fact]
    public void FunctionalCallRunsTheModuleWithTheGivenParametersAndRestoresIt()
    {
        var model = SmallMlp(1);
        var other = SmallMlp(2);
        var before = model.Parameters().ToArray();
        var ps = other.NamedParameters().ToDictionary(p => p.Name, p => (Tensor)p.Parameter.Detach());
        var x = R(3, 5, 4);
        TensorAssert.Close(other.Forward(x), Functional.Call(model, ps, x), 0, 0, "output with the other model's parameters");
        Assert.Equal(before, model.Parameters().ToArray()); // the same objects again
        // gradients flow to the given tensors, as the other model's own backward gives them
        var leaves = ps.ToDictionary(kv => kv.Key, kv => kv.Value.Detach().RequiresGrad_());
        var g = Autograd.Grad([Functional.Call(model, leaves, x).Square().Sum()], [.. leaves.Values]);
        other.Forward(x).Square().Sum().Backward();
        var expected = other.Parameters().Select(p => p.Grad!).ToArray();
        for (int k = 0; k < g.Length; k++) TensorAssert.Close(expected[k], g[k], 1e-12, 1e-12, $"gradient {k}");
        Assert.Null(model.Parameters().First().Grad);
        // misuse: unknown names and wrong shapes are clear errors, and the module is left as it was
        Assert.Contains("0.weight", Assert.Throws<ArgumentException>(() => Functional.Call(model, new Dictionary<string, Tensor> { ["w"] = R(1, 8, 4) }, x)).Message);
        Assert.Throws<ShapeMismatchException>(() => Functional.Call(model, new Dictionary<string, Tensor> { ["0.weight"] = R(1, 4, 8) }, x));
        Assert.Equal(before, model.Parameters().ToArray());
    }

    [Fact]
    public void PerSampleGradientsAndEnsemblesOfAModuleThroughCall()
    {
        var model = SmallMlp(1);
        var names = model.NamedParameters().Select(p => p.Name).ToArray();
        var ps = model.Parameters().Select(p => (Tensor)p.Detach()).ToArray();
        var x = R(3, 6, 4);
        var y = Tensor.FromArray(new long[] { 0, 2, 1, 1, 0, 2 });
        Tensor Loss(Tensor[] w, Tensor xi, Tensor yi) =>
            Losses.CrossEntropy(Functional.Call(model, names.Zip(w).ToDictionary(p => p.First, p => p.Second), xi).Unsqueeze(0), yi.Unsqueeze(0));
        Func<Tensor[], Tensor[]> perExample = a => Functional.Grad((Tensor[] w) => Loss(w, a[0], a[1]))(ps);
        var r = Functional.Vmap(perExample, [0, 0])([x, y]);
        Assert.True(Functional.LastVmapPlan!.Batched, Functional.LastVmapPlan.Reason);
        for (int b = 0; b < 6; b++)
        {
            model.ZeroGrad();
            Losses.CrossEntropy(model.Forward(x[b]).Unsqueeze(0), y[b].Unsqueeze(0)).Backward();
            var own = model.Parameters().Select(p => p.Grad!).ToArray();
            for (int k = 0; k < own.Length; k++) TensorAssert.Close(own[k], r[k][b], 1e-12, 1e-12, $"example {b}, parameter {names[k]}");
        }
        // an ensemble of three models evaluated in one batched pass
        var members = new[] { SmallMlp(3), SmallMlp(4), SmallMlp(5) };
        var stacked = Functional.StackModuleState(members);
        var outs = Functional.Vmap((Tensor[] w) => Functional.Call(model, names.Zip(w).ToDictionary(p => p.First, p => p.Second), x))([.. names.Select(n => stacked[n])]);
        Assert.True(Functional.LastVmapPlan!.Batched, Functional.LastVmapPlan.Reason);
        for (int m = 0; m < 3; m++) TensorAssert.Close(members[m].Forward(x), outs[m], 1e-12, 1e-12, $"member {m}");
    }

    [Fact]
    public void BatchNormUnderVmap()
    {
        var x = R(1, 5, 4, 3); // 5 examples of [4, 3]: BatchNorm1d over 4 rows of 3 features
        var bn = new BatchNorm1d(3, dtype: DType.Float64);
        var e = Assert.Throws<VmapException>(() => Functional.Vmap((Tensor v) => bn.Forward(v))(x));
        Assert.Contains("Eval()", e.Message);
        Assert.Contains("trackRunningStats: false", e.Message);
        // evaluation mode: running statistics, the same for every example
        bn.Eval();
        TensorAssert.Close(Loop(a => [bn.Forward(a[0])], [x], [true])[0], Functional.Vmap((Tensor v) => bn.Forward(v))(x), 1e-12, 1e-12, "eval");
        // without running statistics: each example normalized with its own statistics
        var free = new BatchNorm1d(3, trackRunningStats: false, dtype: DType.Float64);
        TensorAssert.Close(Loop(a => [free.Forward(a[0])], [x], [true])[0], Functional.Vmap((Tensor v) => free.Forward(v))(x), 1e-12, 1e-12, "own statistics");
    }

    [Fact]
    public void NormalizationLayersRunBatchedWithPerExampleStatistics()
    {
        var x = R(1, 5, 4, 6);
        var w = R(2, 6); var b = R(3, 6); var gw = R(4, 4); var gb = R(5, 4);
        Func<Tensor[], Tensor[]> f = a => Functional.Grad((Tensor[] q) =>
            (Tensor.GroupNorm(Tensor.LayerNorm(a[0], [6], q[0], q[1]).Unsqueeze(0), 2, q[2], q[3]).Tanh()).Sum())([w, b, gw, gb]);
        var r = Functional.Vmap(f)([x]);
        Assert.True(Functional.LastVmapPlan!.Batched, Functional.LastVmapPlan.Reason);
        var loop = Loop(f, [x], [true]);
        for (int k = 0; k < 4; k++) TensorAssert.Close(loop[k], r[k], 1e-12, 1e-12, $"per-sample gradient {k}");
        var bn = new BatchNorm1d(6, trackRunningStats: false, dtype: DType.Float64);
        TensorAssert.Close(Loop(a => [bn.Forward(a[0])], [x], [true])[0], Functional.Vmap((Tensor v) => bn.Forward(v))(x), 1e-12, 1e-12, "batch statistics per example");
        Assert.True(Functional.LastVmapPlan!.Batched, Functional.LastVmapPlan.Reason);
    }

    [Fact]
    public void RandomnessPolicy()
    {
        var x = Tensor.Ones([6, 50], DType.Float64);
        Func<Tensor, Tensor> drop = v => v.Dropout(0.5, training: true);
        Assert.Throws<VmapException>(() => Functional.Vmap(drop)(x));
        var same = Functional.Vmap(drop, randomness: Randomness.Same)(x);
        for (int b = 1; b < 6; b++) TensorAssert.Close(same[0], same[b], 0, 0, "same mask for every example");
        var diff = Functional.Vmap(drop, randomness: Randomness.Different)(x);
        Assert.False(Functional.LastVmapPlan!.Batched);
        Assert.NotEqual(diff[0].ToArray<double>(), diff[1].ToArray<double>());
    }

    [Fact]
    public void MismatchedBatchSizesAndBadArgumentsAreClearErrors()
    {
        var f = Functional.Vmap((Tensor[] t) => t[0] + t[1]);
        var e = Assert.Throws<ShapeMismatchException>(() => f([R(1, 3, 2), R(2, 4, 2)]));
        Assert.Contains("batch size", e.Message);
        Assert.Throws<ArgumentException>(() => Functional.Vmap((Tensor[] t) => t[0], [null])([R(1, 3)]));
        Assert.Throws<ArgumentException>(() => Functional.Vmap((Tensor[] t) => t[0], [0, 0])([R(1, 3)]));
    }

    [Fact]
    public void ChunksGiveTheSameResult()
    {
        var ps = MlpParams();
        var x = R(5, 7, 8);
        var y = Tensor.FromArray(new long[] { 0, 1, 2, 1, 0, 2, 2 });
        Func<Tensor[], Tensor[]> grads = a => Functional.Grad((Tensor[] q) => MlpLoss([.. q, a[4], a[5]]))(a[..4]);
        var all = Functional.Vmap(grads, [null, null, null, null, 0, 0])([.. ps, x, y]);
        var chunked = Functional.Vmap(grads, [null, null, null, null, 0, 0], chunkSize: 3)([.. ps, x, y]);
        for (int k = 0; k < 4; k++) TensorAssert.Close(all[k], chunked[k], 1e-14, 1e-14, $"chunked gradient {k}");
    }

    /// <summary>Every entry with a batching rule: each of its samples, vmapped over 3 perturbed copies of its float inputs,
    /// equals the loop. Samples whose call uses an op without a rule fall back (counted, and checked as well).</summary>
    [Fact]
    public void EveryBatchingRuleMatchesTheLoopOnItsSamples()
    {
        int batchedRuns = 0, checkedSamples = 0;
        var failures = new List<string>();
        var fallbacks = new List<string>();
        foreach (var def in OpRegistry.All.Where(d => d.HasBatchRule && d.Samples is not null && d.CompositeOf is null))
        {
            foreach (var s in def.Samples!())
            {
                var isB = s.Inputs.Select(t => t.DType.IsFloatingPoint() && t.Numel > 0).ToArray();
                if (!isB.Any(b => b)) continue;
                var xs = s.Inputs.Select((t, i) => isB[i]
                    ? Tensor.Stack([t.Detach(), (t.Detach() * 1.1).Contiguous(), (t.Detach() * 0.9).Contiguous()], 0)
                    : t).ToArray();
                // every other sample maps over the last dim instead of the first
                bool last = (checkedSamples & 1) == 1;
                var inDims = s.Inputs.Select((t, i) => isB[i] ? (int?)(last ? t.Rank : 0) : null).ToArray();
                var moved = xs.Select((t, i) => isB[i] && last ? t.Movedim(0, -1) : t).ToArray();
                try
                {
                    // samples may build constant operands with seeded generators inside the call: the same for every example
                    var r = Functional.Vmap((Tensor[] a) => s.Call(a), inDims, randomness: Randomness.Same)(moved);
                    checkedSamples++;
                    if (Functional.LastVmapPlan!.Batched) batchedRuns++;
                    else fallbacks.Add($"{def.Name} [{s.Label}]: {Functional.LastVmapPlan.Reason}");
                    var loop = Loop(a => [s.Call(a)], xs, isB)[0];
                    if (!ShapeUtil.SameShape(loop.Shape, r.Shape))
                        failures.Add($"{def.Name} [{s.Label}]: shape {ShapeUtil.Format(r.Shape)}, the loop gives {ShapeUtil.Format(loop.Shape)}");
                    else
                    {
                        double[] e = loop.ToDoubleArray(), a = r.ToDoubleArray();
                        for (int k = 0; k < e.Length; k++)
                            if (!(Math.Abs(e[k] - a[k]) <= 1e-9 * (1 + Math.Abs(e[k]))) && !(double.IsNaN(e[k]) && double.IsNaN(a[k])) && e[k] != a[k])
                            {
                                failures.Add($"{def.Name} [{s.Label}]: element {k} is {a[k]}, the loop gives {e[k]}");
                                break;
                            }
                    }
                }
                catch (Exception e) when (e is not Xunit.Sdk.XunitException)
                {
                    failures.Add($"{def.Name} [{s.Label}]: {e.GetType().Name}: {e.Message}");
                }
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.True(batchedRuns >= 575, $"only {batchedRuns} of {checkedSamples} samples ran batched; fell back:\n{string.Join("\n", fallbacks)}");
    }
}
