namespace Fluxion.Tests;

public class DemoTests
{
    private static DemoNode Node(DemoResult r, string name) => r.Nodes.Single(n => n.Name == name);

    [Fact]
    public void ValuesAndGradientsAtLn2AreTheClosedForms()
    {
        var r = Demo.Run();
        Assert.True(r.Passed);
        Assert.Equal(Math.Log(2), r.X);
        Assert.Equal(4, r.Checks.Count);
        Assert.All(r.Checks, c => Assert.True(c.Ok, c.Name));

        // at ln 2: e^x = 2, e^-x = 1/2, cosh = 5/4, tanh = 3/5, sinh = 3/4, 1 - tanh^2 = 16/25
        var x = Node(r, "x");
        Assert.Null(x.GradFn);
        Assert.Equal(0.75, x.DCosh!.Value, 14);
        Assert.Equal(0.64, x.DTanh!.Value, 14);
        Assert.Equal(2.0, Node(r, "e^x").Value, 14);
        Assert.Equal(0.5, Node(r, "e^-x").Value, 14);
        Assert.Equal(1.25, Node(r, "cosh = s / 2").Value, 14);
        Assert.Equal(0.6, Node(r, "tanh = d / s").Value, 14);
        Assert.Equal("ExpBackward", Node(r, "e^x").GradFn);

        // retained intermediate gradients: d tanh / d s = -d/s^2 = -0.24, d tanh / d d = 1/s = 0.4
        Assert.Equal(-0.24, Node(r, "s = e^x + e^-x").DTanh!.Value, 14);
        Assert.Equal(0.4, Node(r, "d = e^x - e^-x").DTanh!.Value, 14);
        Assert.Equal(0.5, Node(r, "s = e^x + e^-x").DCosh!.Value, 14);

        // an output does not depend on the other output's private nodes: no gradient reaches them
        Assert.Null(Node(r, "d = e^x - e^-x").DCosh);
        Assert.Null(Node(r, "tanh = d / s").DCosh);
        Assert.Null(Node(r, "cosh = s / 2").DTanh);
        Assert.Equal(1.0, Node(r, "cosh = s / 2").DCosh);
    }

    [Theory]
    [InlineData(-1.5)]
    [InlineData(0.0)]
    [InlineData(3.0)]
    public void ChecksHoldAtOtherPoints(double x)
    {
        var r = Demo.Run(x);
        Assert.True(r.Passed, string.Join("; ", r.Checks.Select(c => $"{c.Name}: {c.Actual} vs {c.Expected}")));
        Assert.Equal(Math.Sinh(x), r.Checks.Single(c => c.Name.StartsWith("d cosh")).Actual, 12);
    }

    [Fact]
    public void AFailingCheckIsReported()
    {
        var r = Demo.Run(tolerance: -1); // nothing can be within a negative tolerance
        Assert.False(r.Passed);
        Assert.All(r.Checks, c => Assert.False(c.Ok));
    }
}
