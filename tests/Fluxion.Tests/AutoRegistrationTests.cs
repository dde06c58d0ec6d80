using Fluxion.Nn;
using Fluxion.Optim;

namespace Fluxion.Tests;

// A Module subclass's Module and Parameter fields and auto-properties register themselves (PyTorch's
// __setattr__), under snake_case names in declaration order; explicit registration keeps its names.
public class AutoRegistrationTests
{
    private sealed class TinyNet : Module
    {
        private readonly Linear _fc1 = new(4, 8);
        public Linear OutProj { get; } = new(8, 3);
        public Parameter Scale { get; } = new(Tensor.Ones(3));
        private readonly Tensor _notAParameter = Tensor.Zeros(2);   // a plain tensor: neither parameter nor buffer
        private readonly Linear[] _inAnArray = [new Linear(2, 2)];   // arrays are not searched

        public override Tensor Forward(Tensor input) => OutProj.Forward(_fc1.Forward(input).Relu()) * Scale + _notAParameter.Sum() * 0 + _inAnArray.Length * 0;
    }

    private sealed class Explicit : Module
    {
        private readonly Linear _body;
        public Parameter Temperature { get; }

        public Explicit()
        {
            _body = RegisterModule("encoder", new Linear(2, 2));
            Temperature = RegisterParameter("tau", new Parameter(Tensor.Ones(1)))!;
        }

        public override Tensor Forward(Tensor input) => _body.Forward(input) / Temperature;
    }

    [Fact]
    public void FieldsAndAutoPropertiesRegisterInDeclarationOrderUnderSnakeCaseNames()
    {
        var net = new TinyNet();
        // a module's own parameters come before its children's, as in PyTorch
        Assert.Equal(["scale", "fc1.weight", "fc1.bias", "out_proj.weight", "out_proj.bias"], net.NamedParameters().Select(p => p.Name));
        Assert.Equal(4 * 8 + 8 + 8 * 3 + 3 + 3, net.ParameterCount());
        Assert.Equal("TinyNet(\n  (fc1): Linear(in_features=4, out_features=8, bias=True)\n  (out_proj): Linear(in_features=8, out_features=3, bias=True)\n)", net.ToString());
        Assert.Equal(["scale", "fc1.weight", "fc1.bias", "out_proj.weight", "out_proj.bias"], net.StateDict().Keys);
    }

    [Fact]
    public void ExplicitRegistrationKeepsItsNameAndIsNotListedTwice()
    {
        var net = new Explicit();
        Assert.Equal(["tau", "encoder.weight", "encoder.bias"], net.NamedParameters().Select(p => p.Name));
        Assert.Equal(["encoder"], net.NamedChildren().Select(c => c.Name));
    }

    [Fact]
    public void ACustomModuleTrainsAndClones()
    {
        Generator.ManualSeed(1);
        var net = new TinyNet();
        var opt = new Adam(net.Parameters(), lr: 0.05);
        var x = Tensor.Randn(16, 4);
        var y = Tensor.Randn(16, 3);
        double first = Losses.MseLoss(net.Forward(x), y).Item();
        for (int i = 0; i < 50; i++)
        {
            opt.ZeroGrad();
            Losses.MseLoss(net.Forward(x), y).Backward();
            opt.Step();
        }
        Assert.True(Losses.MseLoss(net.Forward(x), y).Item() < first);

        var copy = (TinyNet)net.DeepClone();
        Assert.Equal(net.NamedParameters().Select(p => p.Name), copy.NamedParameters().Select(p => p.Name));
        Assert.NotSame(net.OutProj.Weight, copy.OutProj.Weight);
        Assert.Same(copy.OutProj.Weight, copy.NamedParameters().Single(p => p.Name == "out_proj.weight").Parameter);
        net.To(DType.Float64);
        Assert.Equal(DType.Float64, net.OutProj.Weight.DType);
        Assert.All(net.Parameters(), p => Assert.Equal(DType.Float64, p.DType));
    }

    [Theory]
    [InlineData("_fc1", "fc1")]
    [InlineData("<Fc1>k__BackingField", "fc1")]
    [InlineData("<OutProj>k__BackingField", "out_proj")]
    [InlineData("_outProj", "out_proj")]
    [InlineData("out_proj", "out_proj")]
    [InlineData("HTTPServer", "http_server")]
    [InlineData("Conv2d", "conv2d")]
    [InlineData("Layer2Norm", "layer2_norm")]
    public void NamesFollowPyTorchConventions(string field, string name) => Assert.Equal(name, Module.PyTorchName(field));

    private sealed class Unregistered : Module
    {
        private readonly List<Linear> _layers = [new Linear(2, 2)];
        public override Tensor Forward(Tensor input) => _layers[0].Forward(input);
    }

    [Fact]
    public void AnOptimizerWithoutParametersAsksWhetherTheLayersWereRegistered()
    {
        var e = Assert.Throws<ArgumentException>(() => new Adam(new Unregistered().Parameters(), lr: 0.01));
        Assert.Contains("were the layers registered?", e.Message);
        Assert.Contains("Sequential", e.Message);
    }
}
