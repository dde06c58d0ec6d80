using System.Globalization;
using System.Text;

namespace Fluxion;

/// <summary>
/// Shows the autograd graph behind a tensor: as an indented text tree (each node once, later
/// occurrences as references) or as Graphviz DOT. Walks iteratively, so very deep graphs are fine.
/// </summary>
public static class GraphExport
{
    private static string Shape(int[] s) => ShapeUtil.Format(s);

    private static string Values(Tensor? t, int max = 6)
    {
        if (t is null) return "none";
        var v = t.ToDoubleArray();
        var shown = v.Take(max).Select(d => d.ToString("G5", CultureInfo.InvariantCulture));
        return "[" + string.Join(", ", shown) + (v.Length > max ? ", ..." : "") + "]";
    }

    /// <summary>Label of a leaf: its name if given, else "leaf".</summary>
    private static string LeafLabel(Tensor v, IReadOnlyDictionary<Tensor, string>? names) =>
        names is not null && names.TryGetValue(v, out var n) ? n : "leaf";

    /// <summary>
    /// The graph below <paramref name="root"/> as an indented tree: one line per node with its output
    /// shape, leaves with their gradients; a node reached a second time is printed as "-> #id".
    /// </summary>
    /// <param name="root">The tensor whose history is shown.</param>
    /// <param name="names">Optional names for leaf tensors.</param>
    public static string ToText(Tensor root, IReadOnlyDictionary<Tensor, string>? names = null)
    {
        var sb = new StringBuilder();
        if (root.GradFn is null)
        {
            sb.Append(LeafLabel(root, names)).Append(' ').Append(Shape(root.ShapeArray))
              .Append(root.RequiresGrad ? $" requires_grad grad={Values(root.Grad)}" : " (no graph)").Append('\n');
            return sb.ToString();
        }
        var ids = new Dictionary<Node, int>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(Node Node, int Depth)>();
        stack.Push((root.GradFn, 0));
        while (stack.Count > 0)
        {
            var (node, depth) = stack.Pop();
            sb.Append(' ', 2 * depth);
            if (ids.TryGetValue(node, out int seen))
            {
                sb.Append("-> #").Append(seen).Append('\n');
                continue;
            }
            int id = ids.Count + 1;
            ids[node] = id;
            if (node is AccumulateGrad acc)
            {
                var v = acc.Variable;
                sb.Append('#').Append(id).Append(' ').Append(LeafLabel(v, names)).Append(' ').Append(Shape(v.ShapeArray))
                  .Append(" grad=").Append(Values(v.Grad)).Append('\n');
                continue;
            }
            sb.Append('#').Append(id).Append(' ').Append(node.Name).Append(' ').Append(Shape(node.Outputs[0].Shape));
            if (node.Released) sb.Append(" (freed)");
            if (node.Saved.Length > 0)
                sb.Append(" saved=").Append(node.Saved.Length).Append(" (").Append(SavedBytes(node).ToString(CultureInfo.InvariantCulture)).Append(" B)");
            sb.Append('\n');
            // push children in reverse so they print in input order
            for (int i = node.Next.Length - 1; i >= 0; i--)
                if (node.Next[i] is { } e) stack.Push((e.Node, depth + 1));
        }
        return sb.ToString();
    }

    private static long SavedBytes(Node node)
    {
        long b = 0;
        foreach (var s in node.Saved) b += (long)s.Tensor.Numel * s.Tensor.DType.ElementSize();
        return b;
    }

    /// <summary>The graph below <paramref name="root"/> in Graphviz DOT: op nodes as boxes, leaves as ellipses
    /// (with their gradients), edges in the direction of the forward computation.</summary>
    public static string ToDot(Tensor root, IReadOnlyDictionary<Tensor, string>? names = null)
    {
        var sb = new StringBuilder("digraph autograd {\n  rankdir=BT;\n  node [fontname=\"Helvetica\", fontsize=10];\n");
        static string Esc(string s) => s.Replace("\\", "\\\\").Replace("\"", "\\\"");
        if (root.GradFn is null)
        {
            sb.Append($"  n0 [shape=ellipse, label=\"{Esc(LeafLabel(root, names))} {Shape(root.ShapeArray)}\"];\n}}\n");
            return sb.ToString();
        }
        var ids = new Dictionary<Node, int>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<Node>();
        int Id(Node n)
        {
            if (!ids.TryGetValue(n, out int id))
            {
                id = ids.Count;
                ids[n] = id;
                stack.Push(n);
            }
            return id;
        }
        int rootId = Id(root.GradFn);
        sb.Append($"  out [shape=plaintext, label=\"output {Shape(root.ShapeArray)}\"];\n  n{rootId} -> out;\n");
        while (stack.Count > 0)
        {
            var node = stack.Pop();
            int id = ids[node];
            if (node is AccumulateGrad acc)
            {
                var v = acc.Variable;
                sb.Append($"  n{id} [shape=ellipse, style=filled, fillcolor=\"#d9ead3\", label=\"{Esc(LeafLabel(v, names))} {Shape(v.ShapeArray)}\\ngrad={Esc(Values(v.Grad, 3))}\"];\n");
                continue;
            }
            sb.Append($"  n{id} [shape=box, style=filled, fillcolor=\"#cfe2f3\", label=\"{Esc(node.Name)}\\n{Shape(node.Outputs[0].Shape)}\"];\n");
            foreach (var e in node.Next)
                if (e is { } edge) sb.Append($"  n{Id(edge.Node)} -> n{id};\n");
        }
        return sb.Append("}\n").ToString();
    }
}
