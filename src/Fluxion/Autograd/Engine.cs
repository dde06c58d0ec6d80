using System.Runtime.InteropServices;

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
        // Per-node state of a pass (dependency count and gradient buffer) lives on the node itself while
        // the pass owns it (claimed atomically when discovered, released when the pass ends). When another
        // pass owns a node (a nested pass, e.g. a checkpoint's recomputation inside a backward step, or a
        // pass on another thread through shared leaves) the pass keeps its state in a map instead.
        // The containers are reused across passes on a thread (a nested pass takes fresh ones).
        if (Tracer.Depth > 0) Tracer.NoteBackward();
        var buffers = t_buffers ?? new PassBuffers();
        t_buffers = null;
        try
        {
            var r = Run(new FieldMap(buffers), buffers, roots, seeds, retainGraph, createGraph, inputs, allowUnused, boundary, out bool conflict);
            if (!conflict) return r;
            // the conflict stopped the discovery (nothing ran yet): start over with a clean slate
            buffers.Clear();
            return Run(new DictMap(buffers.State), buffers, roots, seeds, retainGraph, createGraph, inputs, allowUnused, boundary, out _);
        }
        finally
        {
            if (buffers.Clear()) t_buffers = buffers;
        }
    }

    /// <summary>Reusable containers of one pass; the object also identifies the pass that owns a node's state.</summary>
    private sealed class PassBuffers
    {
        public readonly Dictionary<Node, NodeState> State = new(ReferenceEqualityComparer.Instance);
        public readonly List<Node> Claimed = new();
        public readonly Stack<(Node Node, int NextEdge)> Stack = new();
        public readonly ReadyQueue Ready = new();
        public readonly List<Storage> Consumed = new();
        public NodeState Dummy;

        /// <summary>Gives back every node this pass claimed (their state cleared).</summary>
        public void Unclaim()
        {
            foreach (var n in Claimed)
            {
                n.PassState = default;
                Volatile.Write(ref n.PassOwner, null);
            }
            Claimed.Clear();
        }

        /// <summary>Empties the containers (dropping every reference to the graph); false when they grew too big to keep.</summary>
        public bool Clear()
        {
            int n = Math.Max(State.Count, Claimed.Count);
            Unclaim();
            State.Clear();
            Stack.Clear();
            Ready.Clear();
            Consumed.Clear();
            Dummy = default;
            return n <= 1 << 16;
        }
    }

    [ThreadStatic] private static PassBuffers? t_buffers;

    /// <summary>
    /// Nodes ready to run, latest-created first. A chain (the common case: one node ready at a time)
    /// goes through a single slot; the heap is used only when several nodes are ready at once.
    /// </summary>
    private sealed class ReadyQueue
    {
        private readonly PriorityQueue<Node, long> _heap = new();
        private Node? _only; // when set, the heap is empty

        public int Count => _only is null ? _heap.Count : 1;

        public void Enqueue(Node n)
        {
            if (_only is null && _heap.Count == 0)
            {
                _only = n;
                return;
            }
            if (_only is { } o)
            {
                _heap.Enqueue(o, Priority(o));
                _only = null;
            }
            _heap.Enqueue(n, Priority(n));
        }

        /// <summary>Newest node first, as the graph was built; a leaf's gradient accumulator as soon as it is ready (as
        /// PyTorch's AccumulateGrad): an accumulator is created the first time its leaf is used, so by creation order it
        /// would run at another point of the backward in the first pass than in later ones, and a compiled function's
        /// second trace would not match its first.</summary>
        private static long Priority(Node n) => n is AccumulateGrad ? -n.Sequence - (1L << 62) : -n.Sequence;

        public Node Dequeue()
        {
            if (_only is { } o)
            {
                _only = null;
                return o;
            }
            return _heap.Dequeue();
        }

        public void Clear()
        {
            _only = null;
            _heap.Clear();
        }
    }

    /// <summary>Where a pass keeps its per-node state.</summary>
    private interface IStateMap
    {
        /// <summary>The state of a node met during discovery; <paramref name="conflict"/> when this map cannot hold it.</summary>
        ref NodeState GetOrAdd(Node n, out bool existed, out bool conflict);

        /// <summary>The state of a discovered node.</summary>
        ref NodeState Get(Node n);
    }

    /// <summary>State in the nodes' own fields, claimed by compare-and-swap.</summary>
    private readonly struct FieldMap(PassBuffers owner) : IStateMap
    {
        public ref NodeState GetOrAdd(Node n, out bool existed, out bool conflict)
        {
            conflict = false;
            if (ReferenceEquals(n.PassOwner, owner))
            {
                existed = true;
                return ref n.PassState;
            }
            existed = false;
            if (Interlocked.CompareExchange(ref n.PassOwner, owner, null) is null)
            {
                owner.Claimed.Add(n);
                n.PassState = default;
                return ref n.PassState;
            }
            conflict = true;
            return ref owner.Dummy;
        }

        public ref NodeState Get(Node n) => ref n.PassState;
    }

    /// <summary>State in a map keyed by node (used when some node is owned by another pass).</summary>
    private readonly struct DictMap(Dictionary<Node, NodeState> state) : IStateMap
    {
        public ref NodeState GetOrAdd(Node n, out bool existed, out bool conflict)
        {
            conflict = false;
            return ref CollectionsMarshal.GetValueRefOrAddDefault(state, n, out existed);
        }

        public ref NodeState Get(Node n) => ref CollectionsMarshal.GetValueRefOrNullRef(state, n);
    }

    private static Tensor?[]? Run<TMap>(TMap state, PassBuffers buffers, Tensor[] roots, Tensor[] seeds, bool retainGraph, bool createGraph, Tensor[]? inputs, bool allowUnused, long boundary, out bool conflict)
        where TMap : struct, IStateMap
    {
        conflict = false;

        // Discover the graph: iterative DFS (post-order kept only for the "needed" analysis of Autograd.Grad).
        var rootNodes = new Node[roots.Length];
        List<Node>? order = inputs is null ? null : new();
        var stack = buffers.Stack;
        for (int k = 0; k < roots.Length; k++)
        {
            var r = roots[k];
            var rn = r.GradFn ?? AccumulateGrad.For(r);
            rootNodes[k] = rn;
            state.GetOrAdd(rn, out bool seen, out conflict);
            if (conflict) return null;
            if (seen || Outside(rn, boundary)) continue;
            stack.Push((rn, 0));
            while (stack.Count > 0)
            {
                var (n, i) = stack.Pop();
                var next = n.Next;
                if (i < next.Length)
                {
                    stack.Push((n, i + 1));
                    if (next[i] is { } e)
                    {
                        ref var se = ref state.GetOrAdd(e.Node, out bool known, out conflict);
                        if (conflict) return null;
                        se.Deps++;
                        if (!known && !Outside(e.Node, boundary)) stack.Push((e.Node, 0));
                    }
                }
                else order?.Add(n);
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
            foreach (var n in order!)
            {
                foreach (var e in n.Next)
                    if (e is { } edge && (needed.Contains(edge.Node) || captures.ContainsKey(edge.Node)))
                    {
                        needed.Add(n);
                        break;
                    }
            }
        }

        // decided once per pass and told to every node: no graph recorded, no forward level to feed, and no
        // tracer (Vmap) that must see the backward as ops (the fused paths compute on raw values)
        bool firstOrder = !createGraph && ForwardLevels.ActiveCount == 0 && Tracer.Depth == 0;
        // Gradient ownership (a first-order accumulation pass): which gradient storages this pass made and holds once.
        var own = new Ownership(firstOrder && inputs is null && boundary == 0);
        var consumed = buffers.Consumed;

        for (int k = 0; k < roots.Length; k++)
            AddToBuffer(ref state.Get(rootNodes[k]), rootNodes[k], roots[k].IsLeaf ? 0 : roots[k].OutputIndex, seeds[k], own, consumed);

        var ready = buffers.Ready;
        foreach (var rn in rootNodes)
        {
            ref var sr = ref state.Get(rn);
            if (sr.Deps == 0)
            {
                ready.Enqueue(rn);
                sr.Deps = -1; // enqueued
            }
        }

        // Scratch arrays for nodes that only read their arguments during Apply (see Node.BorrowsArguments).
        var grad1 = new Tensor[1];
        var needScratch = new bool[4][];

        using (new GradModeScope(createGraph))
        {
            while (ready.Count > 0)
            {
                var node = ready.Dequeue();
                bool outside = Outside(node, boundary);
                ref var st = ref state.Get(node);
                if (!st.HasGrad)
                {
                    if (outside) continue;
                    // Reached, but every path into it carried no gradient: release its children.
                    ReleaseChildren(state, ready, node);
                    continue;
                }
                var g0 = st.G0;
                var slots = st.Slots;
                st.G0 = null;
                st.Slots = null;
                st.HasGrad = false;

                // a node whose backward runs only library code (a registry entry's rule, a leaf's accumulator): it keeps no
                // reference to its incoming gradients, and what it returns nobody else holds. A user's backward (custom
                // functions, checkpoints) may keep either: its gradients are exposed, never handed over nor released.
                bool trusted = own.Track && Trusted(node);

                // Complete the gradient of each output: zero-fill, then hooks and retained grads.
                int nOut = node.OutputCount;
                bool borrow = node.BorrowsArguments;
                var grads = borrow && nOut == 1 ? grad1 : new Tensor[nOut];
                bool owned = false;
                for (int o = 0; o < nOut; o++)
                {
                    var buffered = slots is null ? (o == 0 ? g0 : null) : slots[o];
                    var g = buffered ?? Tensor.Zeros(node.OutputShape(o), node.OutputDType(o));
                    if (own.Track && buffered is not null)
                    {
                        if (node is AccumulateGrad a0) owned = !a0.HasLeafHooks && own.Owns(buffered);
                        own.Drop(buffered);
                        if (node is AccumulateGrad { HasLeafHooks: true } || !trusted) own.Expose(buffered);
                        else consumed.Add(buffered.Storage);
                    }
                    if (node is AccumulateGrad acc) grads[o] = outside ? g : inputs is null ? g : acc.RunLeafHooks(g);
                    else if (outside || !node.HasOutputHooks) grads[o] = g;
                    else
                    {
                        // a hook or retained grad sees the gradient (and may keep it): never hand it over
                        own.Expose(g);
                        grads[o] = node.RunOutputHooks(o, g, createGraph);
                        own.Expose(grads[o]);
                    }
                }

                if (captures is not null && captures.TryGetValue(node, out var caps))
                    foreach (var (o, k) in caps)
                        results![k] = grads[o];
                if (outside) continue;

                bool run = inputs is null || needed!.Contains(node);
                if (!run)
                {
                    ReleaseChildren(state, ready, node);
                    continue;
                }

                var nextEdges = node.Next;
                int nIn = nextEdges.Length;
                bool[] needs = borrow && nIn < needScratch.Length ? needScratch[nIn] ??= new bool[nIn] : new bool[nIn];
                for (int i = 0; i < nIn; i++)
                    needs[i] = nextEdges[i] is { } e && (needed is null || needed.Contains(e.Node) || captures!.ContainsKey(e.Node));

                var inGrads = node is AccumulateGrad accumulator ? accumulator.Accumulate(grads[0], owned) : node.Apply(grads, needs, firstOrder);
                // a gradient stored as a leaf's .Grad without a copy is the leaf's now
                if (own.Track && node is AccumulateGrad { Variable.Grad: { } stored }) own.Expose(stored);
                if (borrow && nOut == 1) grad1[0] = null!;
                if (Anomaly.Enabled) CheckFinite(node, inGrads);
                if (!retainGraph) node.Release();

                for (int i = 0; i < nIn; i++)
                {
                    if (nextEdges[i] is not { } e) continue;
                    ref var se = ref state.Get(e.Node);
                    if (needs[i] && i < inGrads.Length && inGrads[i] is { } g)
                    {
                        var expected = node.InputShape(i);
                        if (!ShapeUtil.SameShape(g.Shape, expected))
                            throw new AutogradException(
                                $"{node.Name}: the backward function returned a gradient of shape {ShapeUtil.Format(g.Shape)} for input {i}, which has shape {ShapeUtil.Format(expected)}. " +
                                "A gradient must have exactly its input's shape (reduce broadcast dimensions with SumTo).");
                        if (own.Track && !trusted) own.Expose(g);
                        AddToBuffer(ref se, e.Node, e.OutputIndex, g, own, consumed);
                    }
                    if (--se.Deps == 0) ready.Enqueue(e.Node);
                }
                // the gradients this node consumed, and those summed away, that no buffer holds any more go back to the pool
                if (consumed.Count > 0) own.ReleaseDead(consumed);
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

    /// <summary>With a checkpoint boundary: nodes at or below it, and every accumulator, belong to the outer graph.</summary>
    private static bool Outside(Node n, long boundary) => boundary > 0 && (n.Sequence <= boundary || n is AccumulateGrad);

    /// <summary>The state of one node during a pass: inputs still to come, and the gradients summed so far.</summary>
    internal struct NodeState
    {
        /// <summary>Incoming edges whose gradient has not arrived yet (-1 once a root is enqueued).</summary>
        public int Deps;
        /// <summary>Whether some gradient arrived.</summary>
        public bool HasGrad;
        /// <summary>The gradient of a single-output node.</summary>
        public Tensor? G0;
        /// <summary>The gradients of a multi-output node, one slot per output.</summary>
        public Tensor?[]? Slots;
    }

    private static void AddToBuffer(ref NodeState s, Node node, int index, Tensor grad, Ownership own, List<Storage> consumed)
    {
        s.HasGrad = true;
        if (s.Slots is null && index == 0 && node.OutputCount == 1)
        {
            s.G0 = Sum(s.G0, grad, own, consumed);
            return;
        }
        var slots = s.Slots ??= new Tensor?[node.OutputCount];
        slots[index] = Sum(slots[index], grad, own, consumed);
    }

    /// <summary>The buffered gradient <paramref name="prev"/> (null: none yet) plus <paramref name="grad"/>: in place into
    /// <paramref name="prev"/> when this pass owns its storage alone (as PyTorch's input buffer), otherwise a new sum.</summary>
    private static Tensor Sum(Tensor? prev, Tensor grad, Ownership own, List<Storage> consumed)
    {
        if (prev is null)
        {
            own.Hold(grad);
            return grad;
        }
        if (own.Owns(prev) && !prev.RequiresGrad && prev.IsContiguous && prev.DType == grad.DType && ShapeUtil.SameShape(prev.Shape, grad.Shape)
            && !ReferenceEquals(prev.Storage, grad.Storage))
        {
            prev.AddInPlaceNoGrad(grad);
            if (own.Summed(grad)) consumed.Add(grad.Storage);
            return prev;
        }
        own.Drop(prev);
        var sum = prev + grad;
        own.Hold(sum);
        if (own.Track)
        {
            consumed.Add(prev.Storage);
            if (own.Summed(grad)) consumed.Add(grad.Storage);
        }
        return sum;
    }

    /// <summary>Whether the backward function of <paramref name="node"/> is library code that keeps no reference to its
    /// incoming gradients and returns gradients nobody else holds (<see cref="Node.KeepsNoGradients"/>).</summary>
    private static bool Trusted(Node node) => node.KeepsNoGradients;

    private static long s_passIds;

    /// <summary>
    /// Gradient ownership in a first-order accumulation pass (PyTorch steals a gradient whose use count says nobody
    /// else holds it; here storages carry the count). A storage created after the pass started was made by the pass;
    /// the pass counts how many of its gradient buffers hold it (or a view of it). When a leaf's accumulator receives a
    /// gradient whose storage only that buffer holds, it stores it as <c>.Grad</c> without a copy. Storages from before
    /// the pass (a user's seed, forward values, cached constants) are never counted, so never handed over; a storage a
    /// hook or retained grad saw, or that another pass counts, is marked -1 and never handed over either.
    /// </summary>
    private readonly struct Ownership
    {
        private readonly long _pass, _start;

        /// <summary>Whether this pass tracks ownership at all (false: every leaf gradient is cloned).</summary>
        public bool Track { get; }

        public Ownership(bool track)
        {
            Track = track;
            if (!track) return;
            _pass = Interlocked.Increment(ref s_passIds);
            _start = Storage.LastSerial;
        }

        /// <summary>A gradient buffer now holds <paramref name="g"/>.</summary>
        public void Hold(Tensor g)
        {
            if (!Track) return;
            var s = g.Storage;
            if (s.Serial <= _start) return;
            if (s.GradPass == _pass) s.GradRefs++;
            else if (s.GradPass == 0)
            {
                s.GradPass = _pass;
                s.GradRefs = 1;
            }
            else s.GradPass = -1;
        }

        /// <summary>A gradient buffer let go of <paramref name="g"/>.</summary>
        public void Drop(Tensor g)
        {
            if (!Track) return;
            var s = g.Storage;
            if (s.GradPass == _pass) s.GradRefs--;
        }

        /// <summary>Code outside the engine saw <paramref name="g"/>: its storage is never handed over.</summary>
        public void Expose(Tensor g)
        {
            if (Track && g.Storage.Serial > _start) g.Storage.GradPass = -1;
        }

        /// <summary><paramref name="g"/> (made by a trusted node of this pass, never held by a buffer) was summed into a buffer
        /// and is dropped: true when the pass may release its storage once no buffer holds it.</summary>
        public bool Summed(Tensor g)
        {
            if (!Track) return false;
            var s = g.Storage;
            if (s.Serial <= _start) return false;
            if (s.GradPass == 0)
            {
                s.GradPass = _pass;
                s.GradRefs = 0;
            }
            return s.GradPass == _pass;
        }

        /// <summary>Hands back to the storage pool each storage of <paramref name="consumed"/> that this pass made and no
        /// gradient buffer holds any more (not exposed to a hook, a leaf's .Grad or user code), then empties the list.
        /// Only after the node that consumed them returned: every kernel that read them has finished.</summary>
        public void ReleaseDead(List<Storage> consumed)
        {
            foreach (var s in consumed)
                if (s.Serial > _start && s.GradPass == _pass && s.GradRefs == 0 && s.IsPooled)
                    s.Release("by the backward pass that made it (an internal gradient buffer: this should not be reachable; please report it)");
            consumed.Clear();
        }

        /// <summary>Whether exactly one gradient buffer of this pass holds <paramref name="g"/>'s storage, which the pass made.</summary>
        public bool Owns(Tensor g)
        {
            if (!Track) return false;
            var s = g.Storage;
            return s.Serial > _start && s.GradPass == _pass && s.GradRefs == 1;
        }
    }

    /// <summary>Counts down the children of a node that does not run; enqueues those with no gradient left to wait for.</summary>
    private static void ReleaseChildren<TMap>(TMap state, ReadyQueue ready, Node node) where TMap : struct, IStateMap
    {
        foreach (var e0 in node.Next)
            if (e0 is { } edge0 && --state.Get(edge0.Node).Deps == 0)
                ready.Enqueue(edge0.Node);
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
