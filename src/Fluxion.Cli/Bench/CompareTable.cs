using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Fluxion.Cli.Bench;

/// <summary>
/// The table of <c>bench/compare.sh</c>: from the JSON lines of every side and round (each line a workload result
/// of <c>fluxion bench --json</c>, bench/torch or bench/torchsharp, tagged with <c>"side"</c> and <c>"round"</c>),
/// per workload the median over rounds of each side's per-round median time, and the time ratios
/// Fluxion / other (below 1: Fluxion is faster). One row per workload, whitespace-separated, '-' where a side lacks
/// the workload. Then the memory figures (medians over rounds, MB) and the values that check the sides compute the
/// same (<c>loss</c>, <c>abs_sum</c>, <c>eaten</c>).
/// </summary>
public static class CompareTable
{
    /// <summary>The sides, in column order.</summary>
    public static readonly IReadOnlyList<string> Sides = ["fluxion", "pytorch-1.13", "libtorch-2.10"];

    /// <summary>Header of the time table.</summary>
    public const string Header = "workload fluxion pytorch-1.13 libtorch-2.10 fluxion/pytorch-1.13 fluxion/libtorch-2.10";

    private static readonly string[] CheckFields = ["loss", "abs_sum", "eaten"];

    /// <summary>One parsed line.</summary>
    private sealed record Row(string Side, int Round, string Name, JsonElement Json);

    /// <summary>Formats the tables from JSON lines (lines that do not start with '{' are ignored).</summary>
    public static string Format(IEnumerable<string> jsonLines)
    {
        ArgumentNullException.ThrowIfNull(jsonLines);
        var rows = new List<Row>();
        foreach (var raw in jsonLines)
        {
            var line = raw.Trim();
            if (!line.StartsWith('{')) continue;
            var e = JsonDocument.Parse(line).RootElement.Clone();
            if (!e.TryGetProperty("name", out var n) || !e.TryGetProperty("side", out var s)) continue;
            int round = e.TryGetProperty("round", out var r) && r.ValueKind == JsonValueKind.Number ? r.GetInt32() : 1;
            rows.Add(new Row(s.GetString() ?? "", round, n.GetString() ?? "", e));
        }
        // workloads in order of first appearance, Fluxion's first
        var names = rows.OrderBy(r => Sides.Contains(r.Side) ? Sides.ToList().IndexOf(r.Side) : Sides.Count).Select(r => r.Name).Distinct().ToList();

        double? Med(string name, string side, string field)
        {
            var v = rows.Where(r => r.Name == name && r.Side == side && r.Json.TryGetProperty(field, out var f) && f.ValueKind == JsonValueKind.Number)
                .Select(r => r.Json.GetProperty(field).GetDouble()).ToArray();
            if (v.Length == 0) return null;
            Array.Sort(v);
            return v.Length % 2 == 1 ? v[v.Length / 2] : 0.5 * (v[v.Length / 2 - 1] + v[v.Length / 2]);
        }

        var table = new List<string[]> { Header.Split(' ') };
        foreach (var name in names)
        {
            var t = Sides.Select(side => Med(name, side, "median_ms")).ToArray();
            table.Add([name, Ms(t[0]), Ms(t[1]), Ms(t[2]), Ratio(t[0], t[1]), Ratio(t[0], t[2])]);
        }
        var sb = new StringBuilder();
        Align(sb, table);

        // memory: fresh-process peak RSS growth on every side, and Fluxion's tensor-storage peak
        var mem = new List<string[]> { new[] { "memory_MB" }.Concat(Sides.Select(s => $"{s}-rss")).Append("fluxion-tensor-peak").ToArray() };
        foreach (var name in names)
        {
            var cells = Sides.Select(side => Mb(Med(name, side, "rss_peak_bytes"))).Append(Mb(Med(name, "fluxion", "peak_bytes"))).ToArray();
            if (cells.Any(c => c != "-")) mem.Add([name, .. cells]);
        }
        if (mem.Count > 1)
        {
            sb.AppendLine();
            Align(sb, mem);
        }

        if (names.Any(n => n.StartsWith("ops/", StringComparison.Ordinal))) OpsSummary(sb, names, Med, rows.Select(r => (r.Side, r.Name, r.Json)).ToList());

        // checks: values every side computes from the same initial state
        var checks = new List<string[]>();
        foreach (var name in names)
            foreach (var field in CheckFields)
            {
                if (name.StartsWith("ops/", StringComparison.Ordinal)) continue; // OpsSummary lists the disagreeing ones
                var v = Sides.Select(side => Med(name, side, field)).ToArray();
                if (v.Any(x => x is not null))
                    checks.Add([name, field, .. v.Select(x => x is { } d ? d.ToString("R", CultureInfo.InvariantCulture) : "-")]);
            }
        if (checks.Count > 0)
        {
            sb.AppendLine();
            Align(sb, [["check", "field", .. Sides], .. checks]);
        }
        return sb.ToString();
    }

    /// <summary>
    /// The summary of the op sweep (workloads ops/&lt;op&gt;/&lt;size&gt;/&lt;fwd|fwdbwd&gt;): per size and mode, over the ops
    /// both sides ran, the median of the per-op time ratios Fluxion / other and how many are above 2x (the issue's targets
    /// against LibTorch: median &lt;= 1.0, none above 2), and the ops above 2x; then the cases whose values (abs_sum, Σ|y| of
    /// the forward output on identical inputs) disagree between sides by more than 1e-3 relative (a call that is not the
    /// same), and every skipped case with its side and reason.
    /// </summary>
    private static void OpsSummary(StringBuilder sb, List<string> names, Func<string, string, string, double?> med,
        List<(string Side, string Name, JsonElement Json)> rows)
    {
        var ops = names.Where(n => n.StartsWith("ops/", StringComparison.Ordinal) && n.Split('/').Length >= 4).ToList();
        string Size(string n) => n.Split('/')[^2];
        string Mode(string n) => n.Split('/')[^1];
        sb.AppendLine();
        foreach (var other in Sides.Skip(1))
            foreach (var g in ops.GroupBy(n => (Size: Size(n), Mode: Mode(n))).OrderByDescending(g => int.TryParse(g.Key.Size, out int z) ? z : 0).ThenBy(g => g.Key.Mode == "fwd" ? 0 : 1))
            {
                var ratios = g.Select(n => (Name: n, F: med(n, "fluxion", "median_ms"), O: med(n, other, "median_ms")))
                    .Where(x => x.F is > 0 && x.O is > 0).Select(x => (x.Name, R: x.F!.Value / x.O!.Value)).ToList();
                if (ratios.Count == 0) continue;
                var sorted = ratios.Select(x => x.R).Order().ToArray();
                var above = ratios.Where(x => x.R > 2).OrderByDescending(x => x.R).ToList();
                sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
                    $"ops vs {other}, size {g.Key.Size} {g.Key.Mode}: {ratios.Count} ops, median fluxion/{other} {BenchRunner.Median(sorted):F3}, {above.Count} above 2x{(above.Count > 0 ? ": " + string.Join(", ", above.Select(a => $"{a.Name.Split('/')[1]} {a.R:F1}")) : "")}"));
            }
        // values
        var bad = new List<string>();
        int compared = 0;
        foreach (var n in ops.Where(n => Mode(n) == "fwd"))
        {
            var v = Sides.Select(side => (side, Val: rows.Where(r => r.Side == side && r.Name == n && r.Json.TryGetProperty("abs_sum", out _))
                .Select(r => r.Json.GetProperty("abs_sum")).Select(e => e.ValueKind == JsonValueKind.Number ? e.GetDouble()
                    : e.GetString() switch { "inf" => double.PositiveInfinity, "-inf" => double.NegativeInfinity, _ => double.NaN }).Cast<double?>().FirstOrDefault())).ToList();
            if (v[0].Val is not { } f || v.Skip(1).All(x => x.Val is null)) continue;
            compared++;
            foreach (var (side, val) in v.Skip(1))
                if (val is { } o && !(f == o || (double.IsNaN(f) && double.IsNaN(o)) || Math.Abs(f - o) <= 1e-3 * Math.Max(Math.Abs(f), Math.Abs(o))))
                    bad.Add(string.Create(CultureInfo.InvariantCulture, $"  {n}: fluxion {f:G6}, {side} {o:G6}"));
        }
        sb.AppendLine(CultureInfo.InvariantCulture, $"ops values (abs_sum of the forward output, identical inputs): {compared} cases compared, {bad.Count} disagreements (> 1e-3 relative){(bad.Count > 0 ? ":" : "")}");
        foreach (var b in bad) sb.AppendLine(b);
        // skipped cases
        var skipped = rows.Where(r => r.Name.StartsWith("ops/", StringComparison.Ordinal) && r.Json.TryGetProperty("skipped", out _))
            .Select(r => (r.Side, r.Name, Reason: r.Json.GetProperty("skipped").GetString() ?? "")).Distinct().OrderBy(r => r.Name, StringComparer.Ordinal).ThenBy(r => r.Side).ToList();
        if (skipped.Count > 0)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"ops skipped ({skipped.Count}; '-' in the table):");
            foreach (var (side, name, reason) in skipped) sb.AppendLine(CultureInfo.InvariantCulture, $"  {side} {name}: {reason}");
        }
    }

    private static string Ms(double? v) => v is not { } d ? "-" : d.ToString(d >= 100 ? "F1" : d >= 1 ? "F3" : "F4", CultureInfo.InvariantCulture);

    private static string Ratio(double? a, double? b) => a is { } x && b is { } y && y > 0 ? (x / y).ToString("F3", CultureInfo.InvariantCulture) : "-";

    private static string Mb(double? bytes) => bytes is { } b && b >= 0 ? (b / 1e6).ToString("F2", CultureInfo.InvariantCulture) : "-";

    /// <summary>Left-aligns the first column and right-aligns the others, separated by two spaces.</summary>
    private static void Align(StringBuilder sb, List<string[]> rows)
    {
        int cols = rows.Max(r => r.Length);
        var width = Enumerable.Range(0, cols).Select(c => rows.Max(r => c < r.Length ? r[c].Length : 0)).ToArray();
        foreach (var r in rows)
        {
            var cells = r.Select((cell, c) => c == 0 ? cell.PadRight(width[c]) : cell.PadLeft(width[c]));
            sb.AppendLine(string.Join("  ", cells).TrimEnd());
        }
    }
}
