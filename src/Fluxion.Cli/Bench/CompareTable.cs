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

        // checks: values every side computes from the same initial state
        var checks = new List<string[]>();
        foreach (var name in names)
            foreach (var field in CheckFields)
            {
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
