namespace Fluxion;

/// <summary>
/// The reverse pass. Discovers the graph below the roots without recursion, counts each node's
/// incoming edges, and runs every needed node exactly once, when all gradients flowing into it have
/// been summed (latest-created first among ready nodes). With <c>createGraph</c> the backward
/// functions run with grad mode on, so the pass records a graph of its own.
/// </summary>
internal static class Engine
{
    /// <summary>
    /// Runs backward from <paramref name="roots"/> seeded with <paramref name="seeds"/>. When
    /// <paramref name="inputs"/> is null, gradients accumulate into leaves' <see cref="Tensor.Grad"/>;
    /// otherwise the gradients with respect to <paramref name="inputs"/> are returned and no
    /// <c>.Grad</c> is touched.
    /// <para><paramref name="boundary"/> (used by checkpointing to backpropagate through a recomputed
    /// sub-graph only): when positive, nodes with <see cref="Node.Sequence"/> &lt;= boundary, and every
    /// <see cref="AccumulateGrad"/>, belong to an outer graph: the walk does not descend below them, they
    /// never run and their hooks do not fire; gradients reaching them are only captured when they are
    /// <paramref name="inputs"/>.</para>
    /// </summary>
    public static Tensor?[]? Run(Tensor[] roots, Tensor[] seeds, bool retainGraph, bool createGraph, Tensor[]? inputs, bool allowUnused, long boundary = 0)
    {
        bool Outside(Node n) => boundary > 0 && (n.Sequence <= boundary || n is AccumulateGrad);

        // Gradient buffers, keyed by node; one slot per output.
        var buffers = new Dictionary<Node, Tensor?[]>(ReferenceEqualityComparer.Instance);
        var deps = new Dictionary<Node, int>(ReferenceEqualityComparer.Instance);

        void AddToBuffer(Node node, int index, Tensor grad)
        {
            if (!buffers.TryGetValue(node, out var slots))
                buffers[node] = slots = new Tensor?[node.Outputs.Length];
            slots[index] = slots[index] is { } prev ? prev + grad : grad;
        }

        // Discover the graph: iterative DFS, post-order for the "needed" analysis.
        var rootNodes = new List<Node>();
        var order = new List<Node>();
        var visited = new HashSet<Node>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(Node Node, int NextEdge)>();
        foreach (var r in roots)
        {
            var rn = r.GradFn ?? AccumulateGrad.For(r);
            rootNodes.Add(rn);
            if (!visited.Add(rn)) continue;
            deps.TryAdd(rn, 0);
            if (Outside(rn)) continue;
            stack.Push((rn, 0));
            while (stack.Count > 0)
            {
                var (n, i) = stack.Pop();
                if (i < n.Next.Length)
                {
                    stack.Push((n, i + 1));
                    if (n.Next[i] is { } e)
                    {
                        deps[e.Node] = deps.GetValueOrDefault(e.Node) + 1;
                        if (visited.Add(e.Node) && !Outside(e.Node)) stack.Push((e.Node, 0));
                    }
                }
                else order.Add(n);
            }
        }

        // Targets of Autograd.Grad: leaves are captured at their accumulator, non-leaves at their node output.
        Dictionary<Node, List<(int Output, int InputIndex)>>? captures = null;
        Tensor?[]? results = null;
        HashSet<Node>? needed = null;
        if (inputs is not null)
        {
            results = new Tensor?[inputs.Length];
            captures = new(ReferenceEqualityComparer.Instance);
            for (int k = 0; k < inputs.Length; k++)
            {
                var t = inputs[k];
                if (!t.RequiresGrad)
                    throw new AutogradException(
                        $"Autograd.Grad: input {k} (shape {ShapeUtil.Format(t.Shape)}) does not require grad, so it cannot be differentiated with respect to. Set RequiresGrad = true on it before the forward computation.");
                var node = t.IsLeaf ? AccumulateGrad.For(t) : t.GradFn!;
                if (!captures.TryGetValue(node, out var list)) captures[node] = list = new();
                list.Add((t.IsLeaf ? 0 : t.OutputIndex, k));
            }
            // A node must run if some node below it is a capture target or must run itself.
            needed = new HashSet<Node>(ReferenceEqualityComparer.Instance);
            foreach (var n in order)
            {
                foreach (var e in n.Next)
                    if (e is { } edge && (needed.Contains(edge.Node) || captures.ContainsKey(edge.Node)))
                    {
                        needed.Add(n);
                        break;
                    }
            }
        }

        for (int k = 0; k < roots.Length; k++)
            AddToBuffer(rootNodes[k], roots[k].IsLeaf ? 0 : roots[k].OutputIndex, seeds[k]);

        var ready = new PriorityQueue<Node, long>();
        foreach (var rn in rootNodes)
            if (deps[rn] == 0)
            {
                ready.Enqueue(rn, -rn.Sequence);
                deps[rn] = -1; // enqueued
            }

        using (new GradModeScope(createGraph))
        {
            while (ready.Count > 0)
            {
                var node = ready.Dequeue();
                bool outside = Outside(node);
                if (!buffers.Remove(node, out var slots))
                {
                    if (outside) continue;
                    // Reached, but every path into it carried no gradient: release its children.
                    foreach (var e0 in node.Next)
                        if (e0 is { } edge0 && --deps[edge0.Node] == 0) ready.Enqueue(edge0.Node, -edge0.Node.Sequence);
                    continue;
                }

                // Complete the gradient of each output: zero-fill, then hooks and retained grads.
                var grads = new Tensor[slots.Length];
                for (int o = 0; o < slots.Length; o++)
                {
                    var g = slots[o] ?? Tensor.Zeros(node.Outputs[o].Shape, node.Outputs[o].DType);
                    grads[o] = outside ? g : node is AccumulateGrad acc ? (inputs is null ? g : acc.RunLeafHooks(g)) : node.RunOutputHooks(o, g, createGraph);
                }

                if (captures is not null && captures.TryGetValue(node, out var caps))
                    foreach (var (o, k) in caps)
                        results![k] = grads[o];
                if (outside) continue;

                bool run = inputs is null || needed!.Contains(node);
                if (!run)
                {
                    foreach (var e0 in node.Next)
                        if (e0 is { } edge0 && --deps[edge0.Node] == 0) ready.Enqueue(edge0.Node, -edge0.Node.Sequence);
                    continue;
                }

                var needs = new bool[node.Next.Length];
                for (int i = 0; i < needs.Length; i++)
                    needs[i] = node.Next[i] is { } e && (needed is null || needed.Contains(e.Node) || captures!.ContainsKey(e.Node));

                var inGrads = node.Apply(grads, needs);
                if (Anomaly.Enabled) CheckFinite(node, inGrads);
                if (!retainGraph) node.Release();

                for (int i = 0; i < node.Next.Length; i++)
                {
                    if (node.Next[i] is not { } e) continue;
                    if (needs[i] && i < inGrads.Length && inGrads[i] is { } g)
                    {
                        var expected = node.InputShapes[i];
                        if (!ShapeUtil.SameShape(g.Shape, expected))
                            throw new AutogradException(
                                $"{node.Name}: the backward function returned a gradient of shape {ShapeUtil.Format(g.Shape)} for input {i}, which has shape {ShapeUtil.Format(expected)}. " +
                                "A gradient must have exactly its input's shape (reduce broadcast dimensions with SumTo).");
                        AddToBuffer(e.Node, e.OutputIndex, g);
                    }
                    int d = deps[e.Node] - 1;
                    deps[e.Node] = d;
                    if (d == 0) ready.Enqueue(e.Node, -e.Node.Sequence);
                }
            }
        }

        if (results is not null && !allowUnused)
            for (int k = 0; k < results.Length; k++)
                if (results[k] is null)
                    throw new AutogradException(
                        $"Autograd.Grad: input {k} (shape {ShapeUtil.Format(inputs![k].Shape)}) was not used to compute the outputs, so it has no gradient. " +
                        "Pass allowUnused: true to get null for it instead.");
        return results;
    }

    /// <summary>Anomaly mode: the first backward step that produces NaN or Inf raises, naming the op and where it was created.</summary>
    private static void CheckFinite(Node node, Tensor?[] grads)
    {
        for (int i = 0; i < grads.Length; i++)
        {
            if (grads[i] is not { } g || !g.DType.IsFloatingPoint()) continue;
            foreach (var v in g.ToDoubleArray())
            {
                if (double.IsFinite(v)) continue;
                throw new AutogradException(
                    $"Anomaly detected: {node.Name} returned {(double.IsNaN(v) ? "NaN" : "Inf")} values in its gradient for input {i} (shape {ShapeUtil.Format(g.Shape)})." +
                    (node.ForwardTrace is { } trace
                        ? $" The forward call that created this node was:\n{trace}"
                        : " Enable Autograd.DetectAnomaly() around the forward pass as well to see where the op was created."));
            }
        }
    }
}
