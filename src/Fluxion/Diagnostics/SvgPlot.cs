using System.Globalization;
using System.Text;

namespace Fluxion;

/// <summary>A named series of (x, y) points for <see cref="SvgPlot"/>.</summary>
/// <param name="Name">Legend label.</param>
/// <param name="Points">The points, in drawing order.</param>
public sealed record PlotSeries(string Name, IReadOnlyList<(double X, double Y)> Points);

/// <summary>A small dependency-free SVG line chart (linear or log axes), for the CLI's plots.</summary>
public static class SvgPlot
{
    private static readonly string[] Colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];

    private static string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);

    private static string Label(double v) =>
        Math.Abs(v) >= 1e4 || (Math.Abs(v) < 1e-2 && v != 0) ? v.ToString("0.#e+0", CultureInfo.InvariantCulture) : v.ToString("0.###", CultureInfo.InvariantCulture);

    /// <summary>Renders the series as an SVG document.</summary>
    /// <param name="title">Chart title.</param>
    /// <param name="xLabel">X-axis label.</param>
    /// <param name="yLabel">Y-axis label.</param>
    /// <param name="series">The lines.</param>
    /// <param name="logX">Logarithmic x axis (values must be positive).</param>
    /// <param name="logY">Logarithmic y axis (values must be positive).</param>
    public static string Render(string title, string xLabel, string yLabel, IReadOnlyList<PlotSeries> series, bool logX = false, bool logY = false)
    {
        const int W = 720, H = 440, L = 80, R = 200, T = 40, B = 60;
        var pts = series.SelectMany(s => s.Points).Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y) && (!logX || p.X > 0) && (!logY || p.Y > 0)).ToList();
        double Tx(double v) => logX ? Math.Log10(v) : v;
        double Ty(double v) => logY ? Math.Log10(v) : v;
        double x0 = pts.Count > 0 ? pts.Min(p => Tx(p.X)) : 0, x1 = pts.Count > 0 ? pts.Max(p => Tx(p.X)) : 1;
        double y0 = pts.Count > 0 ? pts.Min(p => Ty(p.Y)) : 0, y1 = pts.Count > 0 ? pts.Max(p => Ty(p.Y)) : 1;
        if (x1 - x0 < 1e-12) { x0 -= 0.5; x1 += 0.5; }
        if (y1 - y0 < 1e-12) { y0 -= 0.5; y1 += 0.5; }
        double pad = (y1 - y0) * 0.05;
        y0 -= pad;
        y1 += pad;
        double Px(double v) => L + (Tx(v) - x0) / (x1 - x0) * (W - L - R);
        double Py(double v) => H - B - (Ty(v) - y0) / (y1 - y0) * (H - T - B);
        var sb = new StringBuilder();
        sb.Append($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n");
        sb.Append($"<rect width=\"{W}\" height=\"{H}\" fill=\"white\"/>\n");
        sb.Append($"<text x=\"{W / 2}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{Esc(title)}</text>\n");
        sb.Append($"<rect x=\"{L}\" y=\"{T}\" width=\"{W - L - R}\" height=\"{H - T - B}\" fill=\"none\" stroke=\"#444\"/>\n");
        for (int i = 0; i <= 4; i++)
        {
            double tx = x0 + (x1 - x0) * i / 4, ty = y0 + (y1 - y0) * i / 4;
            double vx = logX ? Math.Pow(10, tx) : tx, vy = logY ? Math.Pow(10, ty) : ty;
            double px = L + (W - L - R) * i / 4.0, py = H - B - (H - T - B) * i / 4.0;
            sb.Append($"<line x1=\"{F(px)}\" y1=\"{T}\" x2=\"{F(px)}\" y2=\"{H - B}\" stroke=\"#eee\"/>\n");
            sb.Append($"<line x1=\"{L}\" y1=\"{F(py)}\" x2=\"{W - R}\" y2=\"{F(py)}\" stroke=\"#eee\"/>\n");
            sb.Append($"<text x=\"{F(px)}\" y=\"{H - B + 16}\" text-anchor=\"middle\">{Label(vx)}</text>\n");
            sb.Append($"<text x=\"{L - 6}\" y=\"{F(py + 4)}\" text-anchor=\"end\">{Label(vy)}</text>\n");
        }
        sb.Append($"<text x=\"{(W - R + L) / 2}\" y=\"{H - 18}\" text-anchor=\"middle\">{Esc(xLabel)}{(logX ? " (log)" : "")}</text>\n");
        sb.Append($"<text x=\"18\" y=\"{(H - B + T) / 2}\" text-anchor=\"middle\" transform=\"rotate(-90 18 {(H - B + T) / 2})\">{Esc(yLabel)}{(logY ? " (log)" : "")}</text>\n");
        for (int s = 0; s < series.Count; s++)
        {
            var color = Colors[s % Colors.Length];
            var valid = series[s].Points.Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y) && (!logX || p.X > 0) && (!logY || p.Y > 0)).ToList();
            if (valid.Count > 0)
            {
                sb.Append($"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"");
                sb.AppendJoin(' ', valid.Select(p => $"{F(Px(p.X))},{F(Py(p.Y))}"));
                sb.Append("\"/>\n");
                foreach (var p in valid) sb.Append($"<circle cx=\"{F(Px(p.X))}\" cy=\"{F(Py(p.Y))}\" r=\"3\" fill=\"{color}\"/>\n");
            }
            int ly = T + 10 + s * 20;
            sb.Append($"<line x1=\"{W - R + 12}\" y1=\"{ly}\" x2=\"{W - R + 32}\" y2=\"{ly}\" stroke=\"{color}\" stroke-width=\"2\"/>\n");
            sb.Append($"<text x=\"{W - R + 38}\" y=\"{ly + 4}\">{Esc(series[s].Name)}</text>\n");
        }
        return sb.Append("</svg>\n").ToString();
    }

    private static string Esc(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
}
