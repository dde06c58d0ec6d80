namespace Fluxion;

/// <summary>
/// Deterministic accounting of the memory an autograd graph keeps alive for its backward pass: the
/// tensors saved by its nodes (<see cref="Node.Saved"/>). Bytes are counted per distinct
/// <see cref="Storage"/> (a saved view holds its whole buffer; a buffer saved by several nodes counts
/// once). The walk itself is the core's (<see cref="GraphWalk"/>, which checkpoint planning reads); this class is used by
/// tests and tools.
/// </summary>
internal static class GraphMemory
{
    /// <summary>What a graph walk found.</summary>
    /// <param name="Nodes">Nodes visited (excluding leaf accumulators).</param>
    /// <param name="SavedTensors">Saved-tensor entries over those nodes (not deduplicated).</param>
    /// <param name="SavedBytes">Bytes of the distinct storages of all saved tensors.</param>
    /// <param name="ActivationBytes">Like <paramref name="SavedBytes"/> but without storages of the graph's
    /// leaves that require grad (parameters, reached through their accumulators): memory that exists
    /// whether or not a graph is recorded.</param>
    internal readonly record struct Stats(int Nodes, int SavedTensors, long SavedBytes, long ActivationBytes);

    /// <summary>Walks the whole graph below <paramref name="roots"/>.</summary>
    public static Stats Measure(params Tensor[] roots) => Measure(roots, 0);

    /// <summary>
    /// Walks the graph below <paramref name="roots"/>, visiting only nodes created after
    /// <paramref name="afterSequence"/> (<see cref="Node.Sequence"/> greater than it); older nodes are
    /// neither counted nor descended into, but parameters reached from visited nodes are still known.
    /// </summary>
    public static Stats Measure(Tensor[] roots, long afterSequence)
    {
        var (nodes, entries, saved, parameters) = GraphWalk.Saved(roots, afterSequence);
        long total = 0, activations = 0;
        foreach (var st in saved)
        {
            total += st.Bytes;
            if (!parameters.Contains(st)) activations += st.Bytes;
        }
        return new Stats(nodes, entries, total, activations);
    }

    /// <summary>
    /// Saved bytes grouped by the op of the node that saved them (node name without "Backward"); a
    /// storage saved by several nodes is attributed to the one created last (the first met walking back
    /// from the roots in creation order), so the groups add up to <see cref="Stats.SavedBytes"/>.
    /// </summary>
    public static SortedDictionary<string, long> SavedBytesByOp(Tensor[] roots)
    {
        var nodes = new List<Node>();
        var visited = new HashSet<Node>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<Node>();
        foreach (var r in roots)
            if (r.GradFn is { } fn && visited.Add(fn)) stack.Push(fn);
        while (stack.Count > 0)
        {
            var n = stack.Pop();
            nodes.Add(n);
            foreach (var e in n.Next)
                if (e is { } edge && edge.Node is not AccumulateGrad && visited.Add(edge.Node)) stack.Push(edge.Node);
        }
        nodes.Sort((a, b) => b.Sequence.CompareTo(a.Sequence));
        var seen = new HashSet<Storage>(ReferenceEqualityComparer.Instance);
        var byOp = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach (var n in nodes)
            foreach (var sv in n.Saved)
                if (seen.Add(sv.Tensor.Storage))
                {
                    var op = n.Name.EndsWith("Backward", StringComparison.Ordinal) ? n.Name[..^"Backward".Length] : n.Name;
                    byOp[op] = byOp.GetValueOrDefault(op) + sv.Tensor.Storage.Bytes;
                }
        return byOp;
    }
}
