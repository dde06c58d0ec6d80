using MM = Fluxion.Nn.MixedMode;

namespace Fluxion.Tests;

/// <summary>Forward-mode layers lift ops onto vector forward mode: the tangents come from the ops' own JVPs.</summary>
public class MixedModeLiftTests
{
    private static MM.MixedTensor Mixed(Tensor primal, Tensor tangent) => new(primal, tangent, [], tracking: true);

    [Fact]
    public void ReluGivesZeroForANonFiniteTangentOnAnInactiveUnitAsTheOpDoes()
    {
        var x = Tensor.FromArray([-1.0, 2.0, -3.0], 1, 3);
        var t = Tensor.FromArray([double.NaN, 1.0, double.PositiveInfinity, 5.0, double.NaN, 7.0], 2, 1, 3);
        var y = new MM.ReLU().Forward(Mixed(x, t));
        Assert.Equal(new[] { 0.0, 1.0, 0.0, 0.0, double.NaN, 0.0 }, y.Tangent!.ToArray<double>());
        // the op's JVP, in ordinary forward mode, agrees
        using var level = ForwardAD.Level();
        var (_, ty) = ForwardAD.Unpack(ForwardAD.MakeDual(x, t).Relu());
        Assert.Equal(y.Tangent!.ToArray<double>(), ty!.ToArray<double>());
    }

    [Fact]
    public void LiftedModuleCarriesEveryDirectionThroughTheOpsJvps()
    {
        var x = Tensor.Randn([4, 3], DType.Float64, new Generator(1));
        var t = Tensor.Randn([5, 4, 3], DType.Float64, new Generator(2));
        var lifted = new MM.Lifted(new Nn.Sequential(new Nn.GELU(), new Nn.Tanh()));
        var y = lifted.Forward(Mixed(x, t));
        for (int k = 0; k < 5; k++)
        {
            using var level = ForwardAD.Level();
            var (p, tk) = ForwardAD.Unpack(ForwardAD.MakeDual(x, t[k]).Gelu().Tanh());
            Assert.Equal(p.ToArray<double>(), y.Primal.ToArray<double>());
            var a = tk!.ToArray<double>();
            var b = y.Tangent![k].ToArray<double>();
            for (int i = 0; i < a.Length; i++) Assert.Equal(a[i], b[i], 12);
        }
    }

    [Fact]
    public void SharedTangentsAreBroadcastToTheBatch()
    {
        var x = Tensor.FromArray([0.5, -0.25, 1.5, 2.0], 2, 2);
        var t = Tensor.FromArray([1.0, 2.0, 3.0, 4.0], 2, 1, 2); // [K = 2, 1, 2]: the same for both samples
        var y = new MM.Tanh().Forward(Mixed(x, t));
        Assert.Equal(new[] { 2, 2, 2 }, y.Tangent!.ShapeArray);
        var d = (1.0 - x.Tanh().Square()).ToArray<double>();
        var got = y.Tangent!.ToArray<double>();
        var tv = new[] { 1.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 4.0 };
        for (int i = 0; i < 8; i++) Assert.Equal(tv[i] * d[i % 4], got[i], 12);
    }
}
