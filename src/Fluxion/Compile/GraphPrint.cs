using System.Globalization;
using System.Text;

namespace Fluxion;

public sealed partial class CompiledGraph
{
    /// <summary>The graph as text: the passes' summary, the inputs, then one line per live call (fused groups bracketed,
    /// each value with its shape, dtype and arena buffer).</summary>
    public string ToText()
    {
        var sb = new StringBuilder();
        var s = Stats;
        sb.AppendLine($"compiled graph: {s.TracedOps} traced ops -> {s.LiveOps} (dead {s.DeadOps}, cse {s.CseMerged}, folded {s.Folded}); " +
            $"{s.FusedGroups} fused groups ({s.FusedOps} ops); arena {s.ArenaBuffers} buffers, {Bytes(s.ArenaBytes)} for {Bytes(s.PlannedBytes)} of values; predicted peak {Bytes(s.PredictedPeakBytes)}" +
            (Joint ? "; joint forward+backward" : "") + (Recording ? "; replays recording autograd" : ""));
        if (Activations is { } ap) sb.AppendLine("  " + ap);
        for (int v = 0; v < Vals.Count; v++)
            if (Vals[v].Kind is { Length: > 0 } k && k != "const" && k != "folded") sb.AppendLine(CultureInfo.InvariantCulture, $"  {Name(v)}: {k} {Desc(v)}");
        int open = -1;
        for (int i = 0; i < Nodes.Count; i++)
        {
            var n = Nodes[i];
            if (n.Dead) continue;
            bool fused = n.Group >= 0 && _groups[n.Group].Members.Count > 1;
            if (fused && open != n.Group)
            {
                sb.AppendLine(CultureInfo.InvariantCulture, $"  fused group {n.Group} {{ one pass over {_groups[n.Group].Numel} elements, {(_groups[n.Group].Generated ? _groups[n.Group].Stages == 1 ? "generated vector loop" : $"{_groups[n.Group].Stages} generated vector loops" : "block interpreter")}");
                open = n.Group;
            }
            string ind = fused ? "    " : "  ";
            var outs = string.Join(", ", n.Out.Where(o => o >= 0).Select(Name));
            sb.AppendLine($"{ind}{outs} = {n.Def.Name}({string.Join(", ", n.In.Select(Name))}){(n.AttrIn >= 0 ? $" attr {Name(n.AttrIn)}" : "")}  " +
                string.Join("; ", n.Out.Where(o => o >= 0).Select(Desc)) + (n.Approximate ? "  (replay not bit-identical to the trace)" : "") + (_inPlace.Contains(n) ? "  (in place over its first input)" : ""));
            if (fused && _groups[n.Group].Last == i)
            {
                sb.AppendLine("  }");
                open = -1;
            }
        }
        sb.AppendLine(CultureInfo.InvariantCulture, $"  return {string.Join(", ", _outVals.Select(Name))}");
        foreach (var (leaf, v, isInput, i) in _gradOuts)
            sb.AppendLine(CultureInfo.InvariantCulture, $"  grad of {(isInput ? $"input {i}" : $"param {ShapeUtil.Format(leaf.Shape)}")} += {Name(v)}");
        return sb.ToString();
    }

    /// <summary>The graph as Graphviz DOT: calls as boxes (fused groups as clusters), values on the edges, arena buffers in the labels.</summary>
    public string ToDot()
    {
        var sb = new StringBuilder();
        sb.AppendLine("digraph compiled {");
        sb.AppendLine("  rankdir=TB; node [fontname=\"Helvetica\", fontsize=10]; edge [fontname=\"Helvetica\", fontsize=9];");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  label=\"{Esc(ToText().Split('\n')[0])}\"; labelloc=t;");
        var used = new HashSet<int>();
        foreach (var n in Nodes) if (!n.Dead) { foreach (var v in n.In) used.Add(v); if (n.AttrIn >= 0) used.Add(n.AttrIn); }
        foreach (var v in _outVals) used.Add(v);
        foreach (var v in used)
            if (Vals[v].Producer < 0 || Nodes[Vals[v].Producer].Dead)
                sb.AppendLine(CultureInfo.InvariantCulture, $"  v{v} [shape=ellipse, label=\"{Esc(Name(v) + " " + (Vals[v].Kind.Length > 0 ? Vals[v].Kind : "") + "\\n" + Desc(v))}\"];");
        foreach (var grp in _groups.Select((g, i) => (g, i)).Where(x => x.g.Members.Count > 1))
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"  subgraph cluster_g{grp.i} {{ label=\"fused group {grp.i} (one pass)\"; style=filled; color=lightblue;");
            foreach (var m in grp.g.Members) sb.AppendLine(CultureInfo.InvariantCulture, $"    n{m};");
            sb.AppendLine("  }");
        }
        for (int i = 0; i < Nodes.Count; i++)
        {
            var n = Nodes[i];
            if (n.Dead) continue;
            var outs = string.Join("\\n", n.Out.Where(o => o >= 0).Select(o => Name(o) + " " + Desc(o)));
            sb.AppendLine(CultureInfo.InvariantCulture, $"  n{i} [shape=box, label=\"{Esc(n.Def.Name)}\\n{Esc(outs)}\"];");
            foreach (var v in n.In.Concat(n.AttrIn >= 0 ? [n.AttrIn] : Array.Empty<int>()))
            {
                var src = Vals[v].Producer is var p && p >= 0 && !Nodes[p].Dead ? $"n{p}" : $"v{v}";
                sb.AppendLine(CultureInfo.InvariantCulture, $"  {src} -> n{i} [label=\"{Name(v)}\"];");
            }
        }
        sb.AppendLine("  out [shape=doubleoctagon, label=\"outputs\"];");
        foreach (var v in _outVals)
            sb.AppendLine(CultureInfo.InvariantCulture, $"  {(Vals[v].Producer is var p && p >= 0 && !Nodes[p].Dead ? $"n{p}" : $"v{v}")} -> out [label=\"{Name(v)}\"];");
        sb.AppendLine("}");
        return sb.ToString();
    }

    /// <summary>The live calls in replay order (for tests and tools): op name, input and output values, fused group (-1: none).</summary>
    public IReadOnlyList<(string Op, int[] Inputs, int[] Outputs, int Group)> Ops =>
        [.. Nodes.Where(n => !n.Dead).Select(n => (n.Def.Name, n.In, n.Out, n.Group >= 0 && _groups[n.Group].Members.Count > 1 ? n.Group : -1))];

    /// <summary>The arena buffer of value <paramref name="value"/>, or -1 when it is not planned.</summary>
    public int BufferOf(int value) => Vals[value].Buffer;

    private static string Name(int v) => "%" + v.ToString(CultureInfo.InvariantCulture);

    private string Desc(int v)
    {
        var val = Vals[v];
        var d = $"{ShapeUtil.Format(val.Shape)} {val.DType.Name()}";
        if (val.Buffer >= 0) d += $" @buf{val.Buffer}";
        else if (val.Escapes) d += " (returned)";
        return d;
    }

    private static string Bytes(long b) => b >= 1 << 20 ? $"{b / (double)(1 << 20):F1} MB" : b >= 1 << 10 ? $"{b / 1024.0:F1} KB" : $"{b} B";

    private static string Esc(string s) => s.Replace("\\n", "\u0001").Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\u0001", "\\n");
}
