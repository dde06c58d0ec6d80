using Fluxion.Nn;

namespace Fluxion.Tests;

public class ModuleTests
{
    private sealed class Mlp : Module
    {
        public Linear Fc1 { get; }
        public Linear Fc2 { get; }

        public Mlp()
        {
            Fc1 = RegisterModule("fc1", new Linear(3, 4));
            Fc2 = RegisterModule("fc2", new Linear(4, 2));
        }

        public override Tensor Forward(Tensor input) => Fc2.Forward(Fc1.Forward(input).Relu());
    }

    [Fact]
    public void NamesAndCountsFollowPyTorch()
    {
        var m = new Sequential(new Linear(3, 4), new ReLU(), new Linear(4, 2, bias: false));
        Assert.Equal(new[] { "0.weight", "0.bias", "2.weight" }, m.NamedParameters().Select(p => p.Name).ToArray());
        Assert.Equal(3 * 4 + 4 + 4 * 2, m.ParameterCount());
        Assert.Equal(new[] { 4, 3 }, m.StateDict()["0.weight"].ShapeArray);
    }

    [Fact]
    public void ParameterExposedThroughPropertyKeepsItsGradient()
    {
        var m = new Mlp();
        var x = Tensor.Randn(5, 3);
        m.Forward(x).Sum().Backward();
        Assert.NotNull(m.Fc1.Weight.Grad);
        Assert.Same(m.Fc1.Weight, m.Parameters().First());
        m.ZeroGrad();
        Assert.Null(m.Fc1.Weight.Grad);
        m.Forward(x).Sum().Backward();
        Assert.NotNull(m.Fc1.Weight.Grad);
    }

    [Fact]
    public void DeepCloneIsIndependentAndTrainable()
    {
        var m = new Mlp();
        var c = (Mlp)m.DeepClone();
        Assert.NotSame(m.Fc1.Weight, c.Fc1.Weight);
        Assert.Same(c.Fc1.Weight, c.Parameters().First());
        Assert.Equal(m.Fc1.Weight.ToArray<float>(), c.Fc1.Weight.ToArray<float>());
        using (Autograd.NoGrad()) c.Fc1.Weight.AddInPlace(1.0);
        Assert.NotEqual(m.Fc1.Weight.ToArray<float>(), c.Fc1.Weight.ToArray<float>());
        c.Forward(Tensor.Randn(2, 3)).Sum().Backward();
        Assert.NotNull(c.Fc1.Weight.Grad);
        Assert.Null(m.Fc1.Weight.Grad);
    }

    [Fact]
    public void FailedLoadLeavesModelUnchanged()
    {
        var m = new Mlp();
        var before = m.Fc1.Weight.ToArray<float>();
        var bad = m.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.Detach().Clone() + 1.0);
        bad["fc2.bias"] = Tensor.Zeros(3);
        var ex = Assert.Throws<ShapeMismatchException>(() => m.LoadStateDict(bad));
        Assert.Contains("fc2.bias", ex.Message);
        Assert.Equal(before, m.Fc1.Weight.ToArray<float>());
        var good = m.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.Detach().Clone() + 1.0);
        m.LoadStateDict(good);
        Assert.Equal(before.Select(v => v + 1f).ToArray(), m.Fc1.Weight.ToArray<float>());
    }

    [Fact]
    public void TrainEvalSwitchesDropout()
    {
        var m = new Sequential(new Dropout(0.5));
        var x = Tensor.Ones(1000);
        var y = m.Forward(x).ToArray<float>();
        Assert.Contains(0f, y);
        Assert.Contains(2f, y);
        m.Eval();
        Assert.All(m.Forward(x).ToArray<float>(), v => Assert.Equal(1f, v));
    }

    [Fact]
    public void ResettingBetweenEpochsNeverBreaksBackward()
    {
        var m = new Mlp();
        var x = Tensor.Randn(4, 3);
        for (int epoch = 0; epoch < 3; epoch++)
        {
            m.ZeroGrad();
            var loss = m.Forward(x).Square().Mean();
            loss.Backward();
            using (Autograd.NoGrad())
                foreach (var p in m.Parameters()) p.SubInPlace(p.Grad! * 0.1);
        }
        Assert.NotNull(m.Fc2.Bias!.Grad);
    }

    [Fact]
    public void SequentialFusesLinearReluAndMatchesTheLayerByLayerComposition()
    {
        var gen = new Generator(7);
        var l1 = new Linear(6, 5, dtype: DType.Float64, generator: gen);
        var l2 = new Linear(5, 4, bias: false, dtype: DType.Float64, generator: gen);
        var l3 = new Linear(4, 3, dtype: DType.Float64, generator: gen);
        var seq = new Sequential(l1, new ReLU(), l2, new ReLU(), new Tanh(), l3, new ReLU());
        var x = Tensor.Randn([8, 6], DType.Float64, new Generator(8));
        var y = seq.Forward(x);
        Assert.Equal("LinearReluBackward", y.GradFn!.Name);
        // reference: each layer's own op, unfused
        var r = l1.Forward(x).Relu();
        r = l2.Forward(r).Relu().Tanh();
        r = l3.Forward(r).Relu();
        Assert.Equal(r.ToDoubleArray(), y.ToDoubleArray(), new ToleranceComparer(1e-13));
        var ps = seq.Parameters().ToArray();
        var g1 = Autograd.Grad([y.Square().Sum()], ps);
        var g2 = Autograd.Grad([r.Square().Sum()], ps);
        for (int k = 0; k < ps.Length; k++) Assert.Equal(g2[k]!.ToDoubleArray(), g1[k]!.ToDoubleArray(), new ToleranceComparer(1e-12));
    }

    [Fact]
    public void SequentialFusesConv2dReluAndMatchesTheLayerByLayerComposition()
    {
        var gen = new Generator(9);
        var c1 = new Conv2d(2, 3, 3, padding: 1, dtype: DType.Float64, generator: gen);
        var c2 = new Conv2d(3, 2, 3, stride: 2, bias: false, dtype: DType.Float64, generator: gen);
        var seq = new Sequential(c1, new ReLU(), new MaxPool2d(2), c2, new ReLU());
        var x = Tensor.Randn([2, 2, 8, 8], DType.Float64, new Generator(10));
        var y = seq.Forward(x);
        Assert.NotEqual("ReluBackward", y.GradFn!.Name);
        var r = c2.Forward(new MaxPool2d(2).Forward(c1.Forward(x).Relu())).Relu();
        Assert.Equal(r.ToDoubleArray(), y.ToDoubleArray(), new ToleranceComparer(1e-13));
        var ps = seq.Parameters().ToArray();
        var g1 = Autograd.Grad([y.Square().Sum()], ps);
        var g2 = Autograd.Grad([r.Square().Sum()], ps);
        for (int k = 0; k < ps.Length; k++) Assert.Equal(g2[k]!.ToDoubleArray(), g1[k]!.ToDoubleArray(), new ToleranceComparer(1e-12));
    }
}
