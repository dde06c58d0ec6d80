namespace Fluxion.Cli;

/// <summary>An SVG chart of a training run (drawn by <see cref="SvgPlot"/>): train and test loss (left) and accuracy (right)
/// per epoch; the title names the model, the mode and the data.</summary>
internal static class TrainPlot
{
    public static void Write(string path, IReadOnlyList<EpochStats> history, string title) =>
        SvgPlot.Save(path, Render(history, title));

    public static string Render(IReadOnlyList<EpochStats> history, string title)
    {
        // label every epoch, or every k-th one so that there are at most ten labels
        int step = Math.Max(1, (int)Math.Ceiling(history.Count / 10.0));
        var ticks = history.Where((_, i) => i % step == 0).Select(h => (double)h.Epoch).ToList();
        PlotSeries Series(string name, string color, Func<EpochStats, double> y) =>
            new(name, history.Select(h => ((double)h.Epoch, y(h))).ToList()) { Color = color };
        var lossSeries = new List<PlotSeries> { Series("train", "#d62728", h => h.TrainLoss) };
        // the test loss of every epoch (checkpoints written before it was recorded lack it for their epochs)
        var tested = history.Where(h => h.TestLoss is not null).ToList();
        if (tested.Count > 0)
            lossSeries.Add(new PlotSeries("test", tested.Select(h => ((double)h.Epoch, h.TestLoss!.Value)).ToList()) { Color = "#9467bd" });
        var loss = new PlotPanel("epoch", "loss", lossSeries)
        { Name = "loss", YInclude = 0, XTicks = ticks, Width = 420, Height = 300 };
        var accuracy = new PlotPanel("epoch", "accuracy (%)",
            [Series("train", "#1f77b4", h => 100 * h.TrainAccuracy), Series("test", "#2ca02c", h => 100 * h.TestAccuracy)])
        { Name = "accuracy", XTicks = ticks, Width = 420, Height = 300 };
        return SvgPlot.Render(title, [loss, accuracy]);
    }
}
