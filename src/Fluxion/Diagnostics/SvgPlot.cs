using System.Globalization;
using System.Text;

namespace Fluxion;

/// <summary>A named series of (x, y) points for <see cref="SvgPlot"/>.</summary>
/// <param name="Name">Legend label.</param>
/// <param name="Points">The points, in drawing order.</param>
public sealed record PlotSeries(string Name, IReadOnlyList<(double X, double Y)> Points)
{
    /// <summary>Line colour (any SVG colour); null takes the next colour of the palette.</summary>
    public string? Color { get; init; }
}

/// <summary>One chart of an <see cref="SvgPlot"/>: axes, labels and lines. Panels are drawn side by side.</summary>
/// <param name="XLabel">X-axis label.</param>
/// <param name="YLabel">Y-axis label.</param>
/// <param name="Series">The lines.</param>
public sealed record PlotPanel(string XLabel, string YLabel, IReadOnlyList<PlotSeries> Series)
{
    /// <summary>Name of the panel's SVG group (its <c>aria-label</c>); null uses <see cref="YLabel"/>.</summary>
    public string? Name { get; init; }

    /// <summary>Logarithmic x axis (points with x ≤ 0 are left out).</summary>
    public bool LogX { get; init; }

    /// <summary>Logarithmic y axis (points with y ≤ 0 are left out).</summary>
    public bool LogY { get; init; }

    /// <summary>A value the linear y axis must include besides the data (e.g. 0 for a loss curve).</summary>
    public double? YInclude { get; init; }

    /// <summary>X positions to label (e.g. the epochs); null: round ticks over the data range.</summary>
    public IReadOnlyList<double>? XTicks { get; init; }

    /// <summary>Width of the plotting area in pixels.</summary>
    public int Width { get; init; } = 440;

    /// <summary>Height of the plotting area in pixels.</summary>
    public int Height { get; init; } = 340;
}

/// <summary>
/// A small dependency-free SVG line chart: one or more panels side by side, each with linear or log
/// axes, round ("nice") ticks on linear axes, a legend to its right and a tooltip on every point.
/// Used by the CLI's plots (<c>fluxion complexity --plot</c>, <c>fluxion train --plot</c>).
/// </summary>
public static class SvgPlot
{
    private static readonly string[] Colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];
    private const int Left = 80, Top = 40, Bottom = 60;

    private static string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);

    private static string Label(double v) =>
        Math.Abs(v) >= 1e4 || (Math.Abs(v) < 1e-2 && v != 0) ? v.ToString("0.#e+0", CultureInfo.InvariantCulture) : v.ToString("0.###", CultureInfo.InvariantCulture);

    /// <summary>Renders the series as a one-panel SVG document.</summary>
    /// <param name="title">Chart title.</param>
    /// <param name="xLabel">X-axis label.</param>
    /// <param name="yLabel">Y-axis label.</param>
    /// <param name="series">The lines.</param>
    /// <param name="logX">Logarithmic x axis (values must be positive).</param>
    /// <param name="logY">Logarithmic y axis (values must be positive).</param>
    public static string Render(string title, string xLabel, string yLabel, IReadOnlyList<PlotSeries> series, bool logX = false, bool logY = false) =>
        Render(title, [new PlotPanel(xLabel, yLabel, series) { LogX = logX, LogY = logY }]);

    /// <summary>Renders panels side by side, under one title, as an SVG document.</summary>
    /// <param name="title">Chart title.</param>
    /// <param name="panels">The panels, left to right.</param>
    public static string Render(string title, IReadOnlyList<PlotPanel> panels)
    {
        int width = panels.Sum(p => Left + p.Width + LegendWidth(p));
        int height = Top + (panels.Count == 0 ? 0 : panels.Max(p => p.Height)) + Bottom;
        var sb = new StringBuilder();
        sb.Append($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n");
        sb.Append($"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>\n");
        sb.Append($"<text x=\"{width / 2}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{Esc(title)}</text>\n");
        int x = 0;
        foreach (var p in panels)
        {
            Panel(sb, x + Left, p);
            x += Left + p.Width + LegendWidth(p);
        }
        return sb.Append("</svg>\n").ToString();
    }

    /// <summary>Writes an SVG document atomically: a temporary file in the same directory, then a rename.</summary>
    public static void Save(string path, string svg)
    {
        var full = Path.GetFullPath(path);
        var tmp = full + ".tmp";
        File.WriteAllText(tmp, svg, new UTF8Encoding(false));
        File.Move(tmp, full, overwrite: true);
    }

    /// <summary>
    /// An axis range with round ticks covering [<paramref name="min"/>, <paramref name="max"/>]: a step of
    /// 1, 2 or 5 times a power of ten giving about five ticks, and the range widened to whole steps.
    /// </summary>
    public static (double Lo, double Hi, double Step) NiceRange(double min, double max)
    {
        if (!double.IsFinite(min) || !double.IsFinite(max)) (min, max) = (0, 1);
        if (max - min < 1e-9) (min, max) = (min - 0.5, max + 0.5);
        double raw = (max - min) / 5, mag = Math.Pow(10, Math.Floor(Math.Log10(raw))), r = raw / mag;
        double step = (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * mag;
        return (Math.Floor(min / step) * step, Math.Ceiling(max / step) * step, step);
    }

    // the legend sits right of the plotting area: a line sample and the name (about 7 px a character)
    private static int LegendWidth(PlotPanel p) => 60 + 7 * (p.Series.Count == 0 ? 0 : p.Series.Max(s => s.Name.Length));

    /// <summary>An axis: where a value lands (0..1 along the axis) and the ticks (value, label).</summary>
    private sealed record Axis(Func<double, double> Pos, List<(double Value, string Label)> Ticks);

    private static Axis MakeAxis(IEnumerable<double> values, bool log, double? include, IReadOnlyList<double>? ticks, bool padLog)
    {
        var v = values.ToList();
        if (log)
        {
            double lo = v.Count > 0 ? v.Min(Math.Log10) : 0, hi = v.Count > 0 ? v.Max(Math.Log10) : 1;
            if (hi - lo < 1e-12) { lo -= 0.5; hi += 0.5; }
            if (padLog) { double pad = (hi - lo) * 0.05; lo -= pad; hi += pad; }
            var t = Enumerable.Range(0, 5).Select(i => lo + (hi - lo) * i / 4).Select(e => (Math.Pow(10, e), Label(Math.Pow(10, e)))).ToList();
            return new Axis(x => (Math.Log10(x) - lo) / (hi - lo), t);
        }
        if (ticks is not null)
        {
            double lo = v.Count > 0 ? v.Min() : 0, hi = v.Count > 0 ? v.Max() : 1;
            if (hi <= lo) { lo -= 0.5; hi += 0.5; }
            return new Axis(x => (x - lo) / (hi - lo), ticks.Select(x => (x, Label(x))).ToList());
        }
        if (include is { } inc) v.Add(inc);
        var (nlo, nhi, step) = NiceRange(v.Count > 0 ? v.Min() : 0, v.Count > 0 ? v.Max() : 1);
        string format = "F" + Math.Max(0, -(int)Math.Floor(Math.Log10(step) + 1e-9));
        int n = (int)Math.Round((nhi - nlo) / step);
        var nice = Enumerable.Range(0, n + 1).Select(i => nlo + i * step).Select(x => (x, x.ToString(format, CultureInfo.InvariantCulture))).ToList();
        return new Axis(x => (x - nlo) / (nhi - nlo), nice);
    }

    private static void Panel(StringBuilder sb, int x0, PlotPanel p)
    {
        int w = p.Width, h = p.Height, y0 = Top;
        bool Valid((double X, double Y) q) => double.IsFinite(q.X) && double.IsFinite(q.Y) && (!p.LogX || q.X > 0) && (!p.LogY || q.Y > 0);
        var pts = p.Series.SelectMany(s => s.Points).Where(Valid).ToList();
        var ax = MakeAxis(pts.Select(q => q.X), p.LogX, null, p.XTicks, padLog: false);
        var ay = MakeAxis(pts.Select(q => q.Y), p.LogY, p.YInclude, null, padLog: true);
        string Px(double v) => F(x0 + ax.Pos(v) * w);
        string Py(double v) => F(y0 + h - ay.Pos(v) * h);

        sb.Append($"<g aria-label=\"{Esc(p.Name ?? p.YLabel)}\">\n");
        foreach (var (v, label) in ay.Ticks)
        {
            sb.Append($"<line x1=\"{x0}\" y1=\"{Py(v)}\" x2=\"{x0 + w}\" y2=\"{Py(v)}\" stroke=\"#eee\"/>\n");
            sb.Append($"<text x=\"{x0 - 6}\" y=\"{Py(v)}\" text-anchor=\"end\" dominant-baseline=\"middle\">{label}</text>\n");
        }
        foreach (var (v, label) in ax.Ticks)
        {
            sb.Append($"<line x1=\"{Px(v)}\" y1=\"{y0}\" x2=\"{Px(v)}\" y2=\"{y0 + h}\" stroke=\"#eee\"/>\n");
            sb.Append($"<text x=\"{Px(v)}\" y=\"{y0 + h + 16}\" text-anchor=\"middle\">{label}</text>\n");
        }
        sb.Append($"<rect x=\"{x0}\" y=\"{y0}\" width=\"{w}\" height=\"{h}\" fill=\"none\" stroke=\"#444\"/>\n"); // the frame, over the grid
        sb.Append($"<text x=\"{x0 + w / 2}\" y=\"{y0 + h + 42}\" text-anchor=\"middle\">{Esc(p.XLabel)}{(p.LogX ? " (log)" : "")}</text>\n");
        int ly = y0 + h / 2, lx = x0 - Left + 18;
        sb.Append($"<text x=\"{lx}\" y=\"{ly}\" text-anchor=\"middle\" transform=\"rotate(-90 {lx} {ly})\">{Esc(p.YLabel)}{(p.LogY ? " (log)" : "")}</text>\n");
        for (int s = 0; s < p.Series.Count; s++)
        {
            var series = p.Series[s];
            var color = series.Color ?? Colors[s % Colors.Length];
            var valid = series.Points.Where(Valid).ToList();
            if (valid.Count > 0)
            {
                sb.Append($"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"");
                sb.AppendJoin(' ', valid.Select(q => $"{Px(q.X)},{Py(q.Y)}"));
                sb.Append("\"/>\n");
                foreach (var q in valid)
                    sb.Append($"<circle cx=\"{Px(q.X)}\" cy=\"{Py(q.Y)}\" r=\"3\" fill=\"{color}\"><title>{Esc(series.Name)}, {Esc(p.XLabel)} {Label(q.X)}: {q.Y.ToString("G5", CultureInfo.InvariantCulture)}</title></circle>\n");
            }
            int legendY = y0 + 10 + s * 20;
            sb.Append($"<line x1=\"{x0 + w + 12}\" y1=\"{legendY}\" x2=\"{x0 + w + 32}\" y2=\"{legendY}\" stroke=\"{color}\" stroke-width=\"2\"/>\n");
            sb.Append($"<text x=\"{x0 + w + 38}\" y=\"{legendY + 4}\">{Esc(series.Name)}</text>\n");
        }
        sb.Append("</g>\n");
    }

    private static string Esc(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&quot;");
}
