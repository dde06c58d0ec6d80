namespace Fluxion;

/// <summary>
/// Walks of the autograd graph below some roots: the storages its nodes saved for backward (<see cref="Node.Saved"/>),
/// and those of the leaves requiring grad met on the way. Core knowledge, read by checkpoint planning (Functions) and
/// by the memory accounting of <c>GraphMemory</c> (Diagnostics).
/// </summary>
internal static class GraphWalk
{
    /// <summary>The distinct storages saved by the nodes below <paramref name="roots"/> created after
    /// <paramref name="afterSequence"/>, without those of leaves that require grad (parameters): the activations.</summary>
    public static HashSet<Storage> ActivationStorages(Tensor[] roots, long afterSequence = 0)
    {
        var (_, _, saved, parameters) = Saved(roots, afterSequence);
        saved.ExceptWith(parameters);
        return saved;
    }

    /// <summary>
    /// Walks the graph below <paramref name="roots"/>, visiting only nodes created after <paramref name="afterSequence"/>
    /// (<see cref="Node.Sequence"/> greater than it); older nodes are neither counted nor descended into, but parameters
    /// reached from visited nodes are still known. Returns the nodes visited (leaf accumulators excluded), the saved-tensor
    /// entries over them, the distinct storages they saved, and the storages of the leaves requiring grad met.
    /// </summary>
    public static (int Nodes, int Entries, HashSet<Storage> Saved, HashSet<Storage> Parameters) Saved(Tensor[] roots, long afterSequence)
    {
        var visited = new HashSet<Node>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<Node>();
        var saved = new HashSet<Storage>(ReferenceEqualityComparer.Instance);
        var parameters = new HashSet<Storage>(ReferenceEqualityComparer.Instance);
        int nodes = 0, entries = 0;

        void Visit(Node n)
        {
            if (n is AccumulateGrad acc)
            {
                parameters.Add(acc.Variable.Storage);
                return;
            }
            if (n.Sequence <= afterSequence || !visited.Add(n)) return;
            stack.Push(n);
        }

        foreach (var r in roots)
        {
            if (r.GradFn is { } fn) Visit(fn);
            else if (r.RequiresGrad) parameters.Add(r.Storage);
        }
        while (stack.Count > 0)
        {
            var n = stack.Pop();
            nodes++;
            foreach (var s in n.Saved)
            {
                entries++;
                saved.Add(s.Tensor.Storage);
            }
            foreach (var e in n.Next)
                if (e is { } edge) Visit(edge.Node);
        }
        return (nodes, entries, saved, parameters);
    }
}
