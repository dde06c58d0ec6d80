namespace Fluxion.Tests;

public class GraphExportTests
{
    [Fact]
    public void TextTreePrintsSharedNodesOnceAndLeafGradients()
    {
        var x = Tensor.FromArray(new[] { 0.5 }).RequiresGrad_();
        var e = x.Exp();
        var y = e * e + e;
        y.Sum().Backward(retainGraph: true);
        var text = GraphExport.ToText(y, new Dictionary<Tensor, string> { [x] = "x" });
        Assert.Contains("AddBackward [1]", text);
        Assert.Contains("ExpBackward [1]", text);
        Assert.Equal(1, text.Split('\n').Count(l => l.Contains("ExpBackward")));
        Assert.Contains("-> #", text);
        Assert.Contains("x [1] grad=[", text);
    }

    [Fact]
    public void DotExportIsWellFormed()
    {
        var x = Tensor.Randn(2, 3).RequiresGrad_();
        var y = x.Tanh().Sum();
        var dot = GraphExport.ToDot(y);
        Assert.StartsWith("digraph autograd {", dot);
        Assert.EndsWith("}\n", dot);
        Assert.Contains("TanhBackward", dot);
        Assert.Contains("SumBackward", dot);
        Assert.Equal(dot.Count(c => c == '{'), dot.Count(c => c == '}'));
    }

    [Fact]
    public void DeepGraphsDoNotOverflowTheStack()
    {
        var x = Tensor.Scalar(1.0).RequiresGrad_();
        var y = x;
        for (int i = 0; i < 20000; i++) y = y + 1.0;
        Assert.Equal(20001, GraphExport.ToText(y).Count(c => c == '\n'));
    }

    [Fact]
    public void AnomalyModeNamesTheOpThatProducedNaN()
    {
        var x = Tensor.FromArray(new[] { 0.0, 1.0 }).RequiresGrad_();
        using (Autograd.DetectAnomaly())
        {
            var y = x.Sqrt().Sum();  // d sqrt/dx at 0 is inf
            var ex = Assert.Throws<AutogradException>(() => y.Backward());
            Assert.Contains("SqrtBackward", ex.Message);
            Assert.Contains("Inf", ex.Message);
            Assert.Contains("GraphExportTests", ex.Message); // the forward stack trace
        }
        // outside anomaly mode the same backward just produces inf
        x.Sqrt().Sum().Backward();
        Assert.True(double.IsPositiveInfinity(x.Grad!.Get(0)));
    }
}

public class GraphCommandTests
{
    [Fact]
    public void GraphCommandWritesDot()
    {
        var path = Path.Combine(Path.GetTempPath(), $"fluxion-graph-{Guid.NewGuid():N}.dot");
        var o = new StringWriter();
        int code = Fluxion.Cli.Program.Run(["graph", "--out", path], o, new StringWriter());
        Assert.Equal(0, code);
        Assert.Contains("d/dx = 0.64", o.ToString());
        Assert.StartsWith("digraph autograd {", File.ReadAllText(path));
        File.Delete(path);
    }

    [Fact]
    public void BenchRejectsUnknownNames()
    {
        var e = new StringWriter();
        Assert.Equal(2, Fluxion.Cli.Program.Run(["bench", "nope"], new StringWriter(), e));
        Assert.Contains("unknown benchmark", e.ToString());
    }
}
