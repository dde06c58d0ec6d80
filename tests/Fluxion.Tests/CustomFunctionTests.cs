namespace Fluxion.Tests;

/// <summary>softplus(x) = log(1 + e^x), computed stably; derivative sigmoid(x).</summary>
internal sealed class MySoftplus : CustomFunction
{
    public override Tensor[] Forward(FunctionContext ctx, Tensor[] inputs)
    {
        var x = inputs[0];
        ctx.SaveForBackward(x);
        return [x.Relu() + ((-x.Abs()).Exp() + 1.0).Log()];
    }

    public override Tensor?[] Backward(FunctionContext ctx, Tensor[] g) => [g[0] * ctx.SavedTensors[0].Sigmoid()];

    public override Tensor?[] Jvp(FunctionContext ctx, Tensor?[] t) => [t[0] is { } tx ? tx * ctx.SavedTensors[0].Sigmoid() : null];
}

/// <summary>
/// Triangle wave tri(d, A) = (A/p)(p/2 - |(d mod 2p) - p|) with amplitude A a (broadcast) tensor input and
/// period parameter p a plain number carried on the function object.
/// </summary>
internal sealed class TriangleWave(double p) : CustomFunction
{
    private Tensor Phase(Tensor d) => d % (2 * p) - p;

    public override Tensor[] Forward(FunctionContext ctx, Tensor[] inputs)
    {
        var (d, a) = (inputs[0], inputs[1]);
        ctx.SaveForBackward(d, a);
        return [a * ((p / 2 - Phase(d).Abs()) / p)];
    }

    public override Tensor?[] Backward(FunctionContext ctx, Tensor[] g)
    {
        var d = ctx.SavedTensors[0];
        var a = ctx.SavedTensors[1];
        var m = Phase(d);
        Tensor? gd = ctx.NeedsInputGrad[0] ? g[0] * a * (-m.Sign() / p) : null;
        Tensor? ga = ctx.NeedsInputGrad[1] ? (g[0] * ((p / 2 - m.Abs()) / p)).SumTo(a.Shape) : null;
        return [gd, ga];
    }

    public override Tensor?[] Jvp(FunctionContext ctx, Tensor?[] t)
    {
        var d = ctx.SavedTensors[0];
        var a = ctx.SavedTensors[1];
        var m = Phase(d);
        Tensor? r = null;
        if (t[0] is { } td) r = td * a * (-m.Sign() / p);
        if (t[1] is { } ta) r = r is null ? ta * ((p / 2 - m.Abs()) / p) : r + ta * ((p / 2 - m.Abs()) / p);
        return [r];
    }
}

/// <summary>exp, saving its output: second order differentiates through the saved output's own node.</summary>
internal sealed class MyExp : CustomFunction
{
    public override Tensor[] Forward(FunctionContext ctx, Tensor[] inputs)
    {
        var y = inputs[0].Exp();
        ctx.SaveForBackward(y);
        return [y];
    }

    public override Tensor?[] Backward(FunctionContext ctx, Tensor[] g) => [g[0] * ctx.SavedTensors[0]];

    public override Tensor?[] Jvp(FunctionContext ctx, Tensor?[] t) => [t[0] is { } tx ? tx * ctx.SavedTensors[0] : null];
}

/// <summary>Two outputs: (sin x, cos x).</summary>
internal sealed class SinCos : CustomFunction
{
    public override Tensor[] Forward(FunctionContext ctx, Tensor[] inputs)
    {
        ctx.SaveForBackward(inputs[0]);
        return [inputs[0].Sin(), inputs[0].Cos()];
    }

    public override Tensor?[] Backward(FunctionContext ctx, Tensor[] g)
    {
        var x = ctx.SavedTensors[0];
        return [g[0] * x.Cos() - g[1] * x.Sin()];
    }

    public override Tensor?[] Jvp(FunctionContext ctx, Tensor?[] t)
    {
        var x = ctx.SavedTensors[0];
        return t[0] is { } tx ? [tx * x.Cos(), -(tx * x.Sin())] : [null, null];
    }
}

/// <summary>clamp(x, -1, 1) plus its "inside" mask (float, marked non-differentiable) and a bool sign output.</summary>
internal sealed class ClampWithMask : CustomFunction
{
    public Tensor[]? LastGradOutputs;

    public override Tensor[] Forward(FunctionContext ctx, Tensor[] inputs)
    {
        var x = inputs[0];
        var mask = (x.Ge(-1.0) & x.Le(1.0)).To(x.DType);
        ctx.MarkNonDifferentiable(mask);
        ctx.SaveForBackward(mask);
        return [x.Clamp(-1, 1), mask, x.Gt(0.0)];
    }

    public override Tensor?[] Backward(FunctionContext ctx, Tensor[] g)
    {
        LastGradOutputs = g;
        return [g[0] * ctx.SavedTensors[0]];
    }
}

/// <summary>y = factor·x·w with the factor carried as user state; records NeedsInputGrad.</summary>
internal sealed class ScaledProduct : CustomFunction
{
    public bool[]? ForwardNeeds, BackwardNeeds;

    public override Tensor[] Forward(FunctionContext ctx, Tensor[] inputs)
    {
        ForwardNeeds = ctx.NeedsInputGrad.ToArray();
        ctx["factor"] = 3.0;
        ctx.State["shape"] = inputs[0].ShapeArray;
        ctx.SaveForBackward(inputs[0], inputs[1]);
        return [inputs[0] * inputs[1] * 3.0];
    }

    public override Tensor?[] Backward(FunctionContext ctx, Tensor[] g)
    {
        BackwardNeeds = ctx.NeedsInputGrad.ToArray();
        Assert.Equal(ctx.Get<int[]>("shape"), g[0].ShapeArray);
        double f = ctx.Get<double>("factor");
        var (x, w) = (ctx.SavedTensors[0], ctx.SavedTensors[1]);
        // returns both gradients even when one is not needed: the unneeded one is ignored
        return [g[0] * w * f, g[0] * x * f];
    }
}

internal sealed class WrongCount : CustomFunction
{
    public override Tensor[] Forward(FunctionContext ctx, Tensor[] inputs) => [inputs[0] * 2.0];
    public override Tensor?[] Backward(FunctionContext ctx, Tensor[] g) => [g[0] * 2.0, g[0]];
}

internal sealed class WrongShape : CustomFunction
{
    public override Tensor[] Forward(FunctionContext ctx, Tensor[] inputs) => [inputs[0] * 2.0];
    public override Tensor?[] Backward(FunctionContext ctx, Tensor[] g) => [(g[0] * 2.0).Sum(0)];
}

/// <summary>A square whose backward uses raw arrays (not differentiable): marked OnceDifferentiable.</summary>
internal sealed class RawSquare : CustomFunction
{
    public RawSquare() => OnceDifferentiable = true;

    public override Tensor[] Forward(FunctionContext ctx, Tensor[] inputs)
    {
        ctx.SaveForBackward(inputs[0]);
        return [inputs[0] * inputs[0]];
    }

    public override Tensor?[] Backward(FunctionContext ctx, Tensor[] g)
    {
        var x = ctx.SavedTensors[0].ToArray<double>();
        var gg = g[0].ToArray<double>();
        return [Tensor.FromArray(x.Select((v, i) => 2 * v * gg[i]).ToArray(), ctx.SavedTensors[0].ShapeArray)];
    }
}

/// <summary>The identity: Forward returns its input object itself.</summary>
internal sealed class Identity : CustomFunction
{
    public override Tensor[] Forward(FunctionContext ctx, Tensor[] inputs) => [inputs[0], inputs[0]];
    public override Tensor?[] Backward(FunctionContext ctx, Tensor[] g) => [g[0] + g[1]];
    public override Tensor?[] Jvp(FunctionContext ctx, Tensor?[] t) => [t[0], t[0]];
}

public class CustomFunctionTests
{
    private static Tensor D(params double[] v) => Tensor.FromArray(v);

    [Fact]
    public void SoftplusMatchesBuiltinAndPassesGradCheck()
    {
        var x = D(-3.0, -0.7, 0.2, 1.5, 4.0);
        var y = new MySoftplus().ApplySingle(x);
        var want = x.Softplus().ToArray<double>();
        var got = y.ToArray<double>();
        for (int i = 0; i < want.Length; i++) Assert.Equal(want[i], got[i], 12);
        Assert.Equal("MySoftplusBackward", new MySoftplus().ApplySingle(D(1.0).RequiresGrad_()).GradFnName);

        // reverse (first and second order) and forward mode
        GradCheck.Assert(xs => new MySoftplus().ApplySingle(xs[0]), [x]);
        // composed with built-in ops and used twice
        GradCheck.Assert(xs => { var f = new MySoftplus(); return f.ApplySingle(f.ApplySingle(xs[0] * xs[1]) - xs[1]); },
            [Tensor.Randn([2, 3], DType.Float64, new Generator(1)), Tensor.Randn([2, 3], DType.Float64, new Generator(2))]);
    }

    [Fact]
    public void TriangleWaveValuesAndGradCheck()
    {
        const double p = 1.5, amp = 2.0;
        double[] dv = [0.4, 1.0, 2.2, 3.7, -0.8, 5.1];
        var d = D(dv);
        var a = Tensor.FromArray(new[] { amp }, 1);
        var y = new TriangleWave(p).ApplySingle(d, a).ToArray<double>();
        for (int i = 0; i < dv.Length; i++)
        {
            double m = dv[i] - 2 * p * Math.Floor(dv[i] / (2 * p));
            Assert.Equal(amp / p * (p / 2 - Math.Abs(m - p)), y[i], 12);
        }
        var fn = new TriangleWave(p);
        GradCheck.Assert(xs => fn.ApplySingle(xs[0], xs[1]), [d, a]);
        // the wave alone, and composed (so that second order mixes d and A through the backward's ops)
        GradCheck.Assert(xs => fn.ApplySingle(xs[0], xs[1]) * xs[0], [d, a]);
        GradCheck.Assert(xs => fn.ApplySingle(xs[0].Reshape(2, 3), xs[1]).Square().Sum(), [d, Tensor.FromArray(new[] { 0.5, -1.5, 1.0 }, 3)]);
    }

    [Fact]
    public void SavedOutputGivesCorrectSecondOrder()
    {
        GradCheck.Assert(xs => new MyExp().ApplySingle(xs[0] * 0.5), [D(-1.0, 0.3, 1.2)]);
        var x = D(0.7).RequiresGrad_();
        var g = Autograd.Grad(new MyExp().ApplySingle(x * x), x, createGraph: true);
        var h = Autograd.Grad(g, x);
        // d²/dx² e^{x²} = (2 + 4x²) e^{x²}
        Assert.Equal((2 + 4 * 0.49) * Math.Exp(0.49), h.Item(), 12);
    }

    [Fact]
    public void MultipleOutputs()
    {
        var x = D(0.3, -1.1, 2.0);
        var outs = new SinCos().Apply(x.RequiresGrad_());
        Assert.Equal(2, outs.Length);
        Assert.Same(outs[0].GradFnName, outs[1].GradFnName);
        Assert.Equal("SinCosBackward", outs[0].GradFnName);
        GradCheck.Assert(xs => { var o = new SinCos().Apply(xs[0]); return o[0] * 2.0 + o[1] * o[0]; }, [x.Detach()]);
        // only one output used: the other's gradient is zero-filled
        GradCheck.Assert(xs => new SinCos().Apply(xs[0])[1], [x.Detach()]);
        var x2 = D(0.5).RequiresGrad_();
        new SinCos().Apply(x2)[1].Backward();
        Assert.Equal(-Math.Sin(0.5), x2.Grad!.Item(), 14);
    }

    [Fact]
    public void NonDifferentiableOutputs()
    {
        var fn = new ClampWithMask();
        var x = D(-2.0, -0.5, 0.5, 3.0).RequiresGrad_();
        var outs = fn.Apply(x);
        Assert.True(outs[0].RequiresGrad);
        Assert.False(outs[1].RequiresGrad);
        Assert.False(outs[2].RequiresGrad);
        Assert.Equal(DType.Bool, outs[2].DType);
        Assert.Equal(new[] { 0.0, 1, 1, 0 }, outs[1].ToArray<double>());
        outs[0].Sum().Backward();
        Assert.Equal(new[] { 0.0, 1, 1, 0 }, x.Grad!.ToArray<double>());
        // the backward received zeros for the non-differentiable outputs
        Assert.Equal(new[] { 0.0, 0, 0, 0 }, fn.LastGradOutputs![1].ToArray<double>());
        Assert.Equal(DType.Bool, fn.LastGradOutputs[2].DType);
        var ex = Assert.Throws<AutogradException>(() => outs[1].Sum().Backward());
        Assert.Contains("does not require grad", ex.Message);
    }

    [Fact]
    public void NeedsInputGradAndUserState()
    {
        var fn = new ScaledProduct();
        var x = D(1.0, 2.0).RequiresGrad_();
        var w = D(3.0, 4.0);
        var y = fn.ApplySingle(x, w);
        Assert.Equal(new[] { true, false }, fn.ForwardNeeds);
        y.Sum().Backward();
        Assert.Equal(new[] { true, false }, fn.BackwardNeeds);
        Assert.Equal(new[] { 9.0, 12.0 }, x.Grad!.ToArray<double>());
        Assert.Null(w.Grad);

        // Autograd.Grad for w only: the engine does not need x's gradient
        var x2 = D(1.0, 2.0).RequiresGrad_();
        var w2 = D(3.0, 4.0).RequiresGrad_();
        var gw = Autograd.Grad(fn.ApplySingle(x2, w2).Sum(), w2);
        Assert.Equal(new[] { false, true }, fn.BackwardNeeds);
        Assert.Equal(new[] { 3.0, 6.0 }, gw.ToArray<double>());
        Assert.Null(x2.Grad);

        // under NoGrad nothing is recorded
        using (Autograd.NoGrad()) Assert.False(fn.ApplySingle(x2, w2).RequiresGrad);
        Assert.Equal(new[] { false, false }, fn.ForwardNeeds);
    }

    [Fact]
    public void WrongNumberOfGradientsNamesTheFunction()
    {
        var x = D(1.0, 2.0).RequiresGrad_();
        var ex = Assert.Throws<AutogradException>(() => new WrongCount().ApplySingle(x).Sum().Backward());
        Assert.Contains("WrongCount", ex.Message);
        Assert.Contains("2 gradient(s)", ex.Message);
        Assert.Contains("1 input(s)", ex.Message);
    }

    [Fact]
    public void WrongGradientShapeNamesFunctionInputAndShapes()
    {
        var x = Tensor.Ones([2, 3], DType.Float64).RequiresGrad_();
        var ex = Assert.Throws<AutogradException>(() => new WrongShape().ApplySingle(x).Sum().Backward());
        Assert.Contains("WrongShape", ex.Message);
        Assert.Contains("input 0", ex.Message);
        Assert.Contains("[3]", ex.Message);
        Assert.Contains("[2, 3]", ex.Message);
    }

    [Fact]
    public void MissingJvpRaisesNamingTheFunction()
    {
        var ex = Assert.Throws<AutogradException>(() =>
            Functional.Jvp(x => new WrongCount().ApplySingle(x), D(1.0), D(1.0)));
        Assert.Contains("WrongCount", ex.Message);
        Assert.Contains("Jvp", ex.Message);
        // without tangents forward-AD levels do not matter
        using (ForwardAD.Level()) Assert.Equal(2.0, new WrongCount().ApplySingle(D(1.0)).Item());
    }

    [Fact]
    public void ForwardModeUsesJvp()
    {
        var x = D(-0.4, 0.9);
        var v = D(1.0, -2.0);
        var (y, t) = Functional.Jvp(z => new MySoftplus().ApplySingle(z), x, v);
        var (yb, tb) = Functional.Jvp(z => z.Softplus(), x, v);
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal(yb.ToArray<double>()[i], y.ToArray<double>()[i], 12);
            Assert.Equal(tb.ToArray<double>()[i], t.ToArray<double>()[i], 12);
        }
        // multi-output JVP
        using var level = ForwardAD.Level();
        var outs = new SinCos().Apply(ForwardAD.MakeDual(x, v));
        Assert.Equal(x.Cos().Mul(v).ToArray<double>(), ForwardAD.Unpack(outs[0]).Tangent!.ToArray<double>());
        Assert.Equal((-(x.Sin() * v)).ToArray<double>(), ForwardAD.Unpack(outs[1]).Tangent!.ToArray<double>());
    }

    [Fact]
    public void OnceDifferentiableRaisesOnSecondDerivative()
    {
        var x = D(1.5, -2.0).RequiresGrad_();
        // first order works, also with createGraph when the result is not differentiated again
        var g = Autograd.Grad(new RawSquare().ApplySingle(x).Sum(), x);
        Assert.Equal(new[] { 3.0, -4.0 }, g.ToArray<double>());
        var g2 = Autograd.Grad(new RawSquare().ApplySingle(x).Sum(), x, createGraph: true);
        Assert.Equal(new[] { 3.0, -4.0 }, g2.ToArray<double>());
        Assert.True(g2.RequiresGrad);
        var ex = Assert.Throws<AutogradException>(() => Autograd.Grad(g2.Sum(), x));
        Assert.Contains("RawSquare", ex.Message);
        Assert.Contains("OnceDifferentiable", ex.Message);
        // a differentiable backward gives the right second derivative instead
        var h = Autograd.Grad(Autograd.Grad(new MySoftplus().ApplySingle(x).Sum(), x, createGraph: true).Sum(), x);
        var s = x.Detach().Sigmoid();
        Assert.Equal((s * (1.0 - s)).ToArray<double>(), h.ToArray<double>());
    }

    [Fact]
    public void InPlaceModificationOfSavedTensorIsDetected()
    {
        var x = D(0.5, 1.0).RequiresGrad_();
        var h = x * 2.0;
        var y = new MySoftplus().ApplySingle(h);
        h.AddInPlace(1.0);
        var ex = Assert.Throws<InPlaceModificationException>(() => y.Sum().Backward());
        Assert.Contains("MySoftplus", ex.Message);

        // also a saved tensor that does not require grad
        var w = D(3.0, 4.0);
        var y2 = new ScaledProduct().ApplySingle(x, w);
        w.MulInPlace(2.0);
        Assert.Throws<InPlaceModificationException>(() => y2.Sum().Backward());
    }

    [Fact]
    public void OutputsThatAreInputsBecomeFreshAliases()
    {
        var x = D(1.0, 2.0).RequiresGrad_();
        var outs = new Identity().Apply(x);
        Assert.NotSame(x, outs[0]);
        Assert.NotSame(outs[0], outs[1]);
        Assert.True(x.IsLeaf);
        (outs[0] * 3.0 + outs[1]).Sum().Backward();
        Assert.Equal(new[] { 4.0, 4.0 }, x.Grad!.ToArray<double>());
        GradCheck.Assert(xs => new Identity().Apply(xs[0])[1] * xs[0], [D(0.5, -1.0)]);
    }

    [Fact]
    public void CustomFunctionComposesWithFunctionalTransforms()
    {
        // Hessian (forward over reverse: tangents flow through the user Backward's ops) of sum(softplus(x)) is diag(sigmoid'(x))
        var x = D(-0.3, 0.8);
        var hess = Functional.Hessian(z => new MySoftplus().ApplySingle(z).Sum(), x);
        var s = x.Sigmoid().ToArray<double>();
        Assert.Equal(s[0] * (1 - s[0]), hess.Get(0, 0), 12);
        Assert.Equal(s[1] * (1 - s[1]), hess.Get(1, 1), 12);
        Assert.Equal(0.0, hess.Get(0, 1), 12);
    }
}
