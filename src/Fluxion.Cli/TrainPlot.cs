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
        int width = 2 * (PanelW + Margin) + Gap + 20, height = Top + PanelH + Margin + 40;
        var sb = new StringBuilder();
        sb.Append($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        sb.Append($"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>\n");
        sb.Append($"<text x=\"{width / 2}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{Esc(title)}</text>\n");

        var epochs = history.Select(h => (double)h.Epoch).ToArray();
        var loss = history.Select(h => h.TrainLoss).ToArray();
        double lossMax = loss.Length == 0 ? 1 : Math.Max(loss.Max() * 1.05, 1e-6);
        Panel(sb, Margin, "loss", "train loss", epochs, [("train loss", loss, "#d62728")], 0, lossMax, pct: false);

        var trainAcc = history.Select(h => 100 * h.TrainAccuracy).ToArray();
        var testAcc = history.Select(h => 100 * h.TestAccuracy).ToArray();
        var all = trainAcc.Concat(testAcc).ToArray();
        double lo = all.Length == 0 ? 0 : Math.Max(0, Math.Floor((all.Min() - 2) / 5) * 5), hi = all.Length == 0 ? 100 : Math.Min(100, Math.Ceiling((all.Max() + 1) / 5) * 5);
        if (hi <= lo) hi = lo + 5;
        Panel(sb, 2 * Margin + PanelW + Gap, "accuracy (%)", "accuracy", epochs, [("train", trainAcc, "#1f77b4"), ("test", testAcc, "#2ca02c")], lo, hi, pct: true);
        sb.Append("</svg>\n");
        return sb.ToString();
    }

    private static void Panel(StringBuilder sb, int x0, string yLabel, string name, double[] xs, (string Name, double[] Ys, string Color)[] series, double yMin, double yMax, bool pct)
    {
        int y0 = Top;
        double xMin = xs.Length == 0 ? 0 : xs.Min(), xMax = xs.Length == 0 ? 1 : xs.Max();
        if (xMax <= xMin) { xMin -= 0.5; xMax += 0.5; }
        string X(double v) => F(x0 + (v - xMin) / (xMax - xMin) * PanelW);
        string Y(double v) => F(y0 + PanelH - (v - yMin) / (yMax - yMin) * PanelH);

        sb.Append($"<g aria-label=\"{Esc(name)}\">\n");
        sb.Append($"<rect x=\"{x0}\" y=\"{y0}\" width=\"{PanelW}\" height=\"{PanelH}\" fill=\"none\" stroke=\"#444\"/>\n");
        for (int i = 0; i <= 5; i++) // y grid and ticks
        {
            double v = yMin + (yMax - yMin) * i / 5;
            sb.Append($"<line x1=\"{x0}\" x2=\"{x0 + PanelW}\" y1=\"{Y(v)}\" y2=\"{Y(v)}\" stroke=\"#ddd\"/>");
            sb.Append($"<text x=\"{x0 - 6}\" y=\"{Y(v)}\" text-anchor=\"end\" dominant-baseline=\"middle\">{F(v, pct ? "F0" : "F3")}</text>\n");
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
                    sb.Append($"<circle cx=\"{X(xs[i])}\" cy=\"{Y(v)}\" r=\"3\" fill=\"{color}\"><title>{Esc(sname)} epoch {F(xs[i], "F0")}: {F(v, pct ? "F2" : "F4")}</title></circle>\n");
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
