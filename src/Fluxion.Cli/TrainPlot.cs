using System.Globalization;
using System.Text;

namespace Fluxion.Cli;

/// <summary>A hand-written SVG chart of a training run: loss (left) and accuracy (right) per epoch.</summary>
internal static class TrainPlot
{
    private const int PanelW = 420, PanelH = 300, Margin = 50, Gap = 40, Top = 40;

    public static void Write(string path, IReadOnlyList<EpochStats> history, string title)
    {
        var svg = Render(history, title);
        // atomic like checkpoints: a temp file in the same directory, then a rename
        var full = Path.GetFullPath(path);
        var tmp = full + ".tmp";
        File.WriteAllText(tmp, svg, new UTF8Encoding(false));
        File.Move(tmp, full, overwrite: true);
    }

    public static string Render(IReadOnlyList<EpochStats> history, string title)
    {
        int width = 2 * (PanelW + Margin) + Gap + 20, height = Top + PanelH + 50;
        var sb = new StringBuilder();
        sb.Append($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        sb.Append($"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>\n");
        sb.Append($"<text x=\"{width / 2}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{Esc(title)}</text>\n");

        var epochs = history.Select(h => (double)h.Epoch).ToArray();
        var loss = history.Select(h => h.TrainLoss).ToArray();
        Panel(sb, Margin, "loss", "train loss", epochs, [("train loss", loss, "#d62728")], Nice(0, loss.Length == 0 ? 1 : loss.Max()));

        var trainAcc = history.Select(h => 100 * h.TrainAccuracy).ToArray();
        var testAcc = history.Select(h => 100 * h.TestAccuracy).ToArray();
        var all = trainAcc.Concat(testAcc).ToArray();
        Panel(sb, 2 * Margin + PanelW + Gap, "accuracy (%)", "accuracy", epochs, [("train", trainAcc, "#1f77b4"), ("test", testAcc, "#2ca02c")],
            Nice(all.Length == 0 ? 0 : all.Min(), all.Length == 0 ? 100 : all.Max()));
        sb.Append("</svg>\n");
        return sb.ToString();
    }

    /// <summary>An axis range with round ticks: a step of 1, 2 or 5 times a power of ten, about five ticks.</summary>
    private static (double Lo, double Hi, double Step) Nice(double min, double max)
    {
        if (!double.IsFinite(min) || !double.IsFinite(max)) (min, max) = (0, 1);
        if (max - min < 1e-9) (min, max) = (min - 0.5, max + 0.5);
        double raw = (max - min) / 5, mag = Math.Pow(10, Math.Floor(Math.Log10(raw))), r = raw / mag;
        double step = (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * mag;
        return (Math.Floor(min / step) * step, Math.Ceiling(max / step) * step, step);
    }

    private static void Panel(StringBuilder sb, int x0, string yLabel, string name, double[] xs, (string Name, double[] Ys, string Color)[] series, (double Lo, double Hi, double Step) axis)
    {
        var (yMin, yMax, yStep) = axis;
        string tickFormat = "F" + Math.Max(0, -(int)Math.Floor(Math.Log10(yStep) + 1e-9));
        int y0 = Top;
        double xMin = xs.Length == 0 ? 0 : xs.Min(), xMax = xs.Length == 0 ? 1 : xs.Max();
        if (xMax <= xMin) { xMin -= 0.5; xMax += 0.5; }
        string X(double v) => F(x0 + (v - xMin) / (xMax - xMin) * PanelW);
        string Y(double v) => F(y0 + PanelH - (v - yMin) / (yMax - yMin) * PanelH);

        sb.Append($"<g aria-label=\"{Esc(name)}\">\n");
        sb.Append($"<rect x=\"{x0}\" y=\"{y0}\" width=\"{PanelW}\" height=\"{PanelH}\" fill=\"none\" stroke=\"#444\"/>\n");
        int ticks = (int)Math.Round((yMax - yMin) / yStep);
        for (int i = 0; i <= ticks; i++) // y grid and ticks
        {
            double v = yMin + i * yStep;
            sb.Append($"<line x1=\"{x0}\" x2=\"{x0 + PanelW}\" y1=\"{Y(v)}\" y2=\"{Y(v)}\" stroke=\"#ddd\"/>");
            sb.Append($"<text x=\"{x0 - 6}\" y=\"{Y(v)}\" text-anchor=\"end\" dominant-baseline=\"middle\">{F(v, tickFormat)}</text>\n");
        }
        int step = Math.Max(1, (int)Math.Ceiling(xs.Length / 10.0));
        for (int i = 0; i < xs.Length; i += step) // x ticks at epochs
            sb.Append($"<text x=\"{X(xs[i])}\" y=\"{y0 + PanelH + 16}\" text-anchor=\"middle\">{F(xs[i], "F0")}</text>\n");
        sb.Append($"<text x=\"{x0 + PanelW / 2}\" y=\"{y0 + PanelH + 34}\" text-anchor=\"middle\">epoch</text>\n");
        sb.Append($"<text x=\"{x0 - 38}\" y=\"{y0 + PanelH / 2}\" text-anchor=\"middle\" transform=\"rotate(-90 {x0 - 38} {y0 + PanelH / 2})\">{Esc(yLabel)}</text>\n");
        int legendY = y0 + 14;
        foreach (var (sname, ys, color) in series)
        {
            if (ys.Length > 0)
            {
                var pts = string.Join(' ', ys.Select((v, i) => $"{X(xs[i])},{Y(v)}"));
                sb.Append($"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{pts}\"/>\n");
                foreach (var (v, i) in ys.Select((v, i) => (v, i)))
                    sb.Append($"<circle cx=\"{X(xs[i])}\" cy=\"{Y(v)}\" r=\"3\" fill=\"{color}\"><title>{Esc(sname)} epoch {F(xs[i], "F0")}: {F(v, "G5")}</title></circle>\n");
            }
            sb.Append($"<line x1=\"{x0 + PanelW - 110}\" x2=\"{x0 + PanelW - 90}\" y1=\"{legendY}\" y2=\"{legendY}\" stroke=\"{color}\" stroke-width=\"2\"/>");
            sb.Append($"<text x=\"{x0 + PanelW - 85}\" y=\"{legendY}\" dominant-baseline=\"middle\">{Esc(sname)}</text>\n");
            legendY += 16;
        }
        sb.Append("</g>\n");
    }

    private static string F(double v, string f = "F1") => v.ToString(f, CultureInfo.InvariantCulture);

    private static string Esc(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&quot;");
}
