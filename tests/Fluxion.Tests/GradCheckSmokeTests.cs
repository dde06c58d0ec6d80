namespace Fluxion.Tests;

public class GradCheckSmokeTests
{
    [Fact]
    public void DetectsCorrectAndWrongGradients()
    {
        var x = Tensor.Randn([3, 4], DType.Float64);
        var w = Tensor.Randn([4, 2], DType.Float64);
        GradCheck.Assert(t => t[0].MatMul(t[1]).Tanh(), [x, w]);
        GradCheck.Assert(t => (t[0].T.Sin() * 2.0).Sum(0), [x]);
        // a deliberately wrong gradient (detach in the middle of the product) must fail
        var r = GradCheck.Check(t => t[0] * t[0].Detach(), [x]);
        Assert.False(r.Passed);
    }
}
