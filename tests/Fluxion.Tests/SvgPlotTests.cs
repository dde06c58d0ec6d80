using System.Xml.Linq;

namespace Fluxion.Tests;

public class SvgPlotTests
{
    [Theory]
    [InlineData(0, 1.75, 0, 2, 0.5)]
    [InlineData(38.4, 75.3, 30, 80, 10)]
    [InlineData(0.012, 0.0185, 0.012, 0.02, 0.002)]
    [InlineData(3, 3, 2.4, 3.6, 0.2)] // a flat range is widened to [2.5, 3.5] first
    public void NiceRangeHasRoundStepsCoveringTheData(double min, double max, double lo, double hi, double step)
    {
        var r = SvgPlot.NiceRange(min, max);
        Assert.Equal(step, r.Step, 12);
        Assert.Equal(lo, r.Lo, 9);
        Assert.Equal(hi, r.Hi, 9);
    }

    [Fact]
    public void PanelsAreDrawnSideBySideWithTheirOwnAxes()
    {
        var a = new PlotPanel("epoch", "loss", [new PlotSeries("train <loss>", [(1, 2.0), (2, 1.0), (3, 0.5)]) { Color = "#d62728" }])
        { Name = "train loss", YInclude = 0, XTicks = [1, 2, 3] };
        var b = new PlotPanel("n", "MB", [new PlotSeries("s", [(1, 10.0), (10, 100.0), (-1, 5.0), (100, double.NaN)])]) { LogX = true, LogY = true };
        var doc = XDocument.Parse(SvgPlot.Render("t & u", [a, b]));
        var groups = doc.Root!.Elements().Where(e => e.Name.LocalName == "g").ToList();
        Assert.Equal(["train loss", "MB"], groups.Select(g => g.Attribute("aria-label")!.Value));
        // every valid point is a circle with a tooltip; the log panel drops x <= 0 and NaN
        Assert.Equal(3, groups[0].Elements().Count(e => e.Name.LocalName == "circle"));
        Assert.Equal(2, groups[1].Elements().Count(e => e.Name.LocalName == "circle"));
        Assert.Contains("train <loss>, epoch 2: 1", groups[0].Elements().Where(e => e.Name.LocalName == "circle").Select(e => e.Value));
        // the loss axis starts at the included 0 with round ticks; x ticks are the given epochs
        var labels = groups[0].Elements().Where(e => e.Name.LocalName == "text").Select(e => e.Value).ToList();
        Assert.Contains("0.0", labels);
        Assert.Contains("2.0", labels);
        Assert.Contains("3", labels);
        Assert.Equal("#d62728", groups[0].Elements().First(e => e.Name.LocalName == "polyline").Attribute("stroke")!.Value);
        // the second panel starts right of the first one's legend
        double x0 = double.Parse(groups[1].Elements().First(e => e.Name.LocalName == "rect").Attribute("x")!.Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(x0 > 80 + a.Width);
    }

    [Fact]
    public void SaveWritesTheFileAtomically()
    {
        var path = Path.Combine(Path.GetTempPath(), $"fluxion-svgplot-{Guid.NewGuid():N}.svg");
        try
        {
            SvgPlot.Save(path, SvgPlot.Render("t", "x", "y", [new PlotSeries("s", [(0, 1.0), (1, 2.0)])]));
            Assert.Equal("svg", XDocument.Load(path).Root!.Name.LocalName);
            Assert.False(File.Exists(path + ".tmp"));
        }
        finally { File.Delete(path); }
    }
}
