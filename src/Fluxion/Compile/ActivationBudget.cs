namespace Fluxion;

/// <summary>
/// What the activation-memory planner of a joint forward+backward graph chose (see <see cref="CompileOptions.ActivationBudget"/>).
/// </summary>
/// <param name="StoreAllBytes">Bytes of the forward values the backward reads when every one is kept (distinct memory; the
/// saved activations of the graph as traced; returned values and the inputs and parameters are not counted).</param>
/// <param name="BudgetBytes">The budget for the kept values (<see cref="StoreAllBytes"/> when no budget was given).</param>
/// <param name="SavedBytes">Bytes the plan keeps for the backward (the rest is recomputed there).</param>
/// <param name="FitsBudget">Whether <see cref="SavedBytes"/> is within the budget (false when even recomputing everything
/// recomputable keeps more).</param>
/// <param name="StoredValues">Forward values read by the backward that the plan keeps.</param>
/// <param name="RecomputedValues">Forward values read by the backward that the plan recomputes there.</param>
/// <param name="RecomputedOps">Forward calls run again in the backward (each just before the first backward call that reads its result).</param>
/// <param name="RecomputeCost">Modeled cost of those calls, as a fraction of the modeled cost of the forward (the model: one
/// unit per element for elementwise ops, about half a unit per multiply-add for GEMM and convolution, two per element read
/// or written for other ops, views free).</param>
/// <param name="Recomputed">The recomputed ops, by name, in the order the backward runs them.</param>
public sealed record ActivationPlan(long StoreAllBytes, long BudgetBytes, long SavedBytes, bool FitsBudget, int StoredValues, int RecomputedValues,
    int RecomputedOps, double RecomputeCost, IReadOnlyList<string> Recomputed)
{
    /// <summary>Which planner made the chosen plan: "store all" (no budget, or the budget holds everything), "min-cut"
    /// (a minimum cut of the joint graph, see <see cref="CompileOptions.ActivationBudget"/>) or "greedy" (the greedy
    /// eviction sequence, kept as a fallback where it finds a cheaper plan within the budget than every cut).</summary>
    public string Method { get; init; } = "store all";

    /// <summary>How many distinct min-cut partitions the planner found over its range of prices per kept byte (0 without a budget).</summary>
    public int MinCutPlans { get; init; }

    /// <summary>One line: kept bytes against budget and store-all, and what is recomputed.</summary>
    public override string ToString() =>
        $"activations ({Method}): keeps {SavedBytes} B of {StoreAllBytes} B (budget {BudgetBytes} B, {(FitsBudget ? "fits" : "does not fit")}); " +
        $"recomputes {RecomputedValues} values with {RecomputedOps} ops ({RecomputeCost:P1} of the forward's modeled cost)" +
        (Recomputed.Count > 0 ? $": {string.Join(", ", Recomputed)}" : "");
}

public sealed partial class CompiledGraph
{
    /// <summary>The trace's call count when its first backward pass began (the start of the backward part), or -1.</summary>
    private int _backwardStart = -1;

    /// <summary>Calls replayed in place over their dying first input (see <see cref="PlanInPlace"/>).</summary>
    private readonly HashSet<GNode> _inPlace = new(ReferenceEqualityComparer.Instance);

    /// <summary>What the activation-memory planner kept and recomputed (joint graphs only; null otherwise).</summary>
    public ActivationPlan? Activations { get; private set; }

    /// <summary>Cost per multiply-add of GEMM-like ops relative to one element of an elementwise op.</summary>
    private const double GemmCostPerMac = 0.5;

    /// <summary>For each value, the value whose memory it shares (through views), by the calls' aliases.</summary>
    private int[] AliasRoots()
    {
        var root = new int[Vals.Count];
        for (int v = 0; v < root.Length; v++) root[v] = v;
        foreach (var n in Nodes)
        {
            if (n.Dead || n.Aliases is null) continue;
            for (int o = 0; o < n.Out.Length; o++)
                if (n.Out[o] >= 0 && n.Aliases[o] >= 0) root[n.Out[o]] = root[n.In[n.Aliases[o]]];
        }
        return root;
    }

    /// <summary>The modeled cost of one call (see <see cref="ActivationPlan.RecomputeCost"/>): views are free, elementwise
    /// ops cost one per element, GEMM and convolution <see cref="GemmCostPerMac"/> per multiply-add, others two per element
    /// read or written (pooling, norms, reductions, gathers).</summary>
    private double OpCost(GNode n)
    {
        double outNumel = 0;
        for (int o = 0; o < n.Out.Length; o++)
            if (n.Out[o] >= 0) outNumel += ShapeUtil.Numel(Vals[n.Out[o]].Shape);
        if (n.Aliases is { } al && al.All(a => a >= 0)) return 1;
        string name = n.Def.Name;
        if (n.Def.Forward.Kind(Device.Cpu, DType.Float32) == KernelKind.Kernel || n.Def.Family is OpFamily.Unary or OpFamily.Binary) return Math.Max(1, outNumel);
        bool conv = name.Contains("Conv", StringComparison.Ordinal);
        if (n.In.Length >= 2 && (conv || n.Def.Family == OpFamily.Linalg || name.Contains("Linear", StringComparison.Ordinal) || name.Contains("MatMul", StringComparison.Ordinal)))
        {
            var a = Vals[n.In[0]].Shape;
            var b = Vals[n.In[1]].Shape;
            // the multiply-adds per output element: a convolution's weight elements per output channel, else the first operand's last dim
            double inner = conv && b.Length > 1 ? ShapeUtil.Numel(b) / (double)Math.Max(1, b[0]) : a.Length > 0 ? a[^1] : 1;
            return Math.Max(1, GemmCostPerMac * outNumel * Math.Max(1, inner));
        }
        double inNumel = 0;
        foreach (var i in n.In) inNumel += ShapeUtil.Numel(Vals[i].Shape);
        return 2 * Math.Max(1, inNumel + outNumel);
    }

    /// <summary>
    /// The activation-memory planner of a joint graph (issue 19, as the activation-memory-budget partitioner of PyTorch's
    /// compiler). The saved activations are the forward values the backward part reads; a plan keeps some forward values
    /// and recomputes the others in the backward from kept values, inputs and parameters (through the chain of forward
    /// calls that made them; the cost model <see cref="OpCost"/> makes elementwise ops, views, pooling and norms cheap and
    /// GEMM and convolution expensive). Two planners propose plans: the minimum cuts of the joint graph
    /// (<see cref="MinCutPlans"/>, one per price of a kept byte: each the plan of least bytes-times-price plus recomputation)
    /// and, as a fallback, a greedy sequence from storing all that evicts one value at a time, the one with the most
    /// bytes freed per unit of added recomputation. Plans that would raise the modeled peak of the replay
    /// (<see cref="SimulatePeak"/>) are dropped (the greedy also skips evictions that free no memory during the backward).
    /// The budget takes the plan of least recomputation within it (<see cref="ActivationPlan.Method"/> says whose). The
    /// graph is then rewritten: each recomputed call is cloned just before the first backward call that needs it, and the
    /// backward reads the clones, so the forward's values die at their last forward use.
    /// </summary>
    private void PlanActivations(CompileOptions options)
    {
        if (!Joint || Recording || _backwardStart < 0) return;
        int start = Math.Min(_backwardStart, Nodes.Count);
        var root = AliasRoots();
        bool IsFwd(int v) => Vals[v].Producer >= 0 && Vals[v].Producer < start && !Nodes[Vals[v].Producer].Dead && Vals[v].Const is null;
        var pinned = new HashSet<int>();
        foreach (var v in _outVals) pinned.Add(root[v]);
        foreach (var gr in _gradOuts) pinned.Add(root[gr.Val]);

        // the saved activations: forward values read by the backward (returned ones excepted: they live to the end anyway)
        var candidates = new SortedSet<int>();
        for (int k = start; k < Nodes.Count; k++)
        {
            var n = Nodes[k];
            if (n.Dead) continue;
            foreach (var v in n.In) if (IsFwd(v) && !pinned.Contains(root[v])) candidates.Add(v);
            if (n.AttrIn >= 0 && IsFwd(n.AttrIn) && !pinned.Contains(root[n.AttrIn])) candidates.Add(n.AttrIn);
        }
        var cost = new Dictionary<int, double>();
        double Cost(int k) => cost.TryGetValue(k, out var c) ? c : cost[k] = OpCost(Nodes[k]);
        double forwardCost = 0;
        for (int k = 0; k < start; k++) if (!Nodes[k].Dead) forwardCost += Cost(k);

        long Mem(HashSet<int> stored)
        {
            long m = 0;
            foreach (var r in stored.Select(v => root[v]).Distinct()) m += Vals[r].Bytes;
            return m;
        }
        // the forward values to recompute (and their calls) when only `stored` is kept: a value whose memory is kept (itself
        // or a view sharing it), an input, a parameter, a constant or a returned value is available as is
        (SortedSet<int> Vals, SortedSet<int> Calls, double Cost) Closure(HashSet<int> stored)
        {
            var storedRoots = new HashSet<int>(stored.Select(v => root[v]));
            bool Available(int u) => !IsFwd(u) || pinned.Contains(root[u]) || storedRoots.Contains(root[u]);
            var vals = new SortedSet<int>();
            var calls = new SortedSet<int>();
            var stack = new Stack<int>(candidates.Where(v => !Available(v)));
            while (stack.Count > 0)
            {
                int v = stack.Pop();
                if (!vals.Add(v)) continue;
                int p = Vals[v].Producer;
                if (!calls.Add(p)) continue;
                var n = Nodes[p];
                foreach (var u in n.In) if (!Available(u)) stack.Push(u);
                if (n.AttrIn >= 0 && !Available(n.AttrIn)) stack.Push(n.AttrIn);
            }
            return (vals, calls, calls.Sum(Cost));
        }

        // the greedy sequence of plans, from storing all
        var current = new HashSet<int>(candidates);
        long storeAll = Mem(current);
        var (curPeak, curArea) = SimulatePeak(start, root, [], []);
        var sequence = new List<(HashSet<int> Stored, long Mem, double Cost, long Peak)> { (current, storeAll, 0, curPeak) };
        if (options.ActivationBudget is not null || options.ActivationBudgetBytes is not null)
            while (current.Count > 0)
            {
                var (_, curMem, curCost, _) = sequence[^1];
                (HashSet<int> Stored, long Mem, double Cost, long Peak)? best = null;
                double bestRatio = double.NegativeInfinity;
                long bestPeak = 0, bestArea = 0;
                // values sharing memory (views of one another) are kept or evicted together
                foreach (var r in current.Select(v => root[v]).Distinct().Order())
                {
                    var next = new HashSet<int>(current.Where(v => root[v] != r));
                    long mem = Mem(next);
                    if (mem >= curMem) continue;
                    var (cv, cc, c) = Closure(next);
                    double ratio = (curMem - mem) / Math.Max(c - curCost, 1e-9);
                    if (ratio <= bestRatio) continue;
                    // an eviction that would raise the replay's peak (recomputed values alive longer than the kept ones) is skipped
                    // and so is one that frees nothing in the backward (a value recomputed as soon as the backward starts)
                    var (peak, area) = SimulatePeak(start, root, cv, cc);
                    if (peak > curPeak || area >= curArea) continue;
                    bestRatio = ratio;
                    best = (next, mem, c, peak);
                    bestPeak = peak;
                    bestArea = area;
                }
                if (best is not { } b) break;
                current = b.Stored;
                curPeak = bestPeak;
                curArea = bestArea;
                sequence.Add(b);
            }
        long budget = options.ActivationBudgetBytes ?? (options.ActivationBudget is { } f ? (long)Math.Floor(f * storeAll) : storeAll);
        // the candidate plans: the greedy sequence and the min-cut plans (those that do not raise the modeled peak above
        // storing all), chained from the most bytes kept to the least, each kept only if its modeled peak is no higher than
        // the previous one's; the budget takes the plan of least recomputation within it (ties: fewer bytes kept), else the
        // one keeping least. A smaller budget thus never gets a plan with more bytes kept or a higher modeled peak.
        var plans = sequence.Select((s, i) => (s.Stored, s.Mem, s.Cost, s.Peak, Method: i == 0 ? "store all" : "greedy")).ToList();
        int minCuts = 0;
        if (options.ActivationBudget is not null || options.ActivationBudgetBytes is not null)
        {
            long storeAllPeak = sequence[0].Peak;
            var cuts = MinCutPlans(candidates, IsFwd, pinned, root, Cost);
            minCuts = cuts.Count;
            foreach (var stored in cuts)
            {
                long mem = Mem(stored);
                var (cv, cc, c) = Closure(stored);
                if (plans.Any(p => p.Mem == mem && Math.Abs(p.Cost - c) <= 1e-9 * Math.Max(1, c))) continue;
                long peak = SimulatePeak(start, root, cv, cc).Peak;
                if (peak > storeAllPeak) continue;
                plans.Add((stored, mem, c, peak, "min-cut"));
            }
        }
        var chain = new List<(HashSet<int> Stored, long Mem, double Cost, long Peak, string Method)>();
        foreach (var p in plans.OrderByDescending(p => p.Mem).ThenBy(p => p.Cost))
            if (chain.Count == 0 || p.Peak <= chain[^1].Peak) chain.Add(p);
        var within = chain.Where(p => p.Mem <= budget).OrderBy(p => p.Cost).ThenBy(p => p.Mem).ToList();
        bool fits = within.Count > 0;
        var chosen = fits ? within[0] : chain[^1];
        var (recomputeVals, recomputeCalls, _) = Closure(chosen.Stored);
        var names = Rewrite(start, recomputeVals, recomputeCalls);
        Activations = new ActivationPlan(storeAll, budget, chosen.Mem, fits, candidates.Count(v => !recomputeVals.Contains(v)),
            candidates.Count(recomputeVals.Contains), recomputeCalls.Count, forwardCost > 0 ? recomputeCalls.Sum(Cost) / forwardCost : 0, names)
        {
            Method = chosen.Method,
            MinCutPlans = minCuts,
        };
    }

    /// <summary>
    /// The min-cut partitions of the forward (as PyTorch's min-cut partitioner over the joint graph), one per price λ of a
    /// kept byte over a geometric range: each forward value v is an edge v_in -> v_out of capacity λ·bytes(v) (keeping
    /// it; a view's is infinite: its root is kept instead), the source reaches v_in with capacity the modeled cost of
    /// the call that makes v (recomputing it), v_out reaches the inputs of the calls that read v with infinite capacity,
    /// and the values the backward reads reach the sink. A minimum cut then keeps the values whose edge it cuts and
    /// recomputes those whose source edge it cuts: the plan of least λ·(bytes kept) + (cost recomputed), so every plan
    /// is Pareto-optimal in (bytes kept, recomputation) under the cost model, and a higher λ keeps fewer bytes.
    /// Inputs, parameters, constants and returned values are available as is (no node).
    /// </summary>
    private List<HashSet<int>> MinCutPlans(SortedSet<int> candidates, Func<int, bool> isFwd, HashSet<int> pinned, int[] root, Func<int, double> cost)
    {
        var fwd = Enumerable.Range(0, Vals.Count).Where(v => isFwd(v) && !pinned.Contains(root[v])).ToArray();
        var index = new Dictionary<int, int>();
        for (int i = 0; i < fwd.Length; i++) index[fwd[i]] = i;
        int s = 2 * fwd.Length, t = s + 1;
        var plans = new List<HashSet<int>>();
        var seen = new HashSet<string>();
        double totalBytes = Math.Max(1, fwd.Sum(v => (double)Vals[v].Bytes)), totalCost = Math.Max(1, fwd.Select(v => Vals[v].Producer).Distinct().Sum(cost));
        // λ from "bytes are free" (keep everything) to "bytes are dear" (recompute everything), in steps of 10^(1/8)
        double lo = 1e-3 / totalBytes, hi = 1e3 * totalCost;
        for (double lambda = lo; lambda <= hi; lambda *= Math.Pow(10, 0.125))
        {
            var net = new MaxFlow(t + 1);
            foreach (var v in fwd)
            {
                int i = index[v];
                net.Add(2 * i, 2 * i + 1, root[v] == v ? lambda * Vals[v].Bytes : MaxFlow.Infinite);
                var n = Nodes[Vals[v].Producer];
                net.Add(s, 2 * i, cost(Vals[v].Producer));
                foreach (var u in n.In) if (index.TryGetValue(u, out int j)) net.Add(2 * j + 1, 2 * i, MaxFlow.Infinite);
                if (n.AttrIn >= 0 && index.TryGetValue(n.AttrIn, out int a)) net.Add(2 * a + 1, 2 * i, MaxFlow.Infinite);
                if (candidates.Contains(v)) net.Add(2 * i + 1, t, MaxFlow.Infinite);
            }
            var (side, _) = net.MinCut(s, t);
            var stored = new HashSet<int>(fwd.Where(v => side[2 * index[v]] && !side[2 * index[v] + 1]));
            if (seen.Add(string.Join(",", stored.Order()))) plans.Add(stored);
        }
        return plans;
    }

    /// <summary>Where each recomputed call goes: the index of the backward call before which it runs (the first backward
    /// call that reads one of its results, directly or through other recomputed calls).</summary>
    private Dictionary<int, int> Schedule(int start, SortedSet<int> vals, SortedSet<int> calls)
    {
        // where each recomputed value is first needed: its first backward reader, or before the clone that reads it
        var first = new Dictionary<int, int>();
        for (int k = Nodes.Count - 1; k >= start; k--)
        {
            var n = Nodes[k];
            if (n.Dead) continue;
            foreach (var v in n.In) if (vals.Contains(v)) first[v] = k;
            if (n.AttrIn >= 0 && vals.Contains(n.AttrIn)) first[n.AttrIn] = k;
        }
        var callFirst = new Dictionary<int, int>();
        foreach (var p in calls.Reverse())
        {
            var n = Nodes[p];
            int at = int.MaxValue;
            foreach (var o in n.Out) if (o >= 0 && first.TryGetValue(o, out int f)) at = Math.Min(at, f);
            callFirst[p] = at;
            foreach (var u in n.In) if (vals.Contains(u)) first[u] = Math.Min(first.GetValueOrDefault(u, int.MaxValue), at);
            if (n.AttrIn >= 0 && vals.Contains(n.AttrIn)) first[n.AttrIn] = Math.Min(first.GetValueOrDefault(n.AttrIn, int.MaxValue), at);
        }
        return callFirst;
    }

    /// <summary>The peak of a replay after <see cref="Rewrite"/> with these recomputed values and calls, modeled without
    /// the arena and fusion (every value alive from its call to its last reader; views share their root's bytes; returned
    /// values live to the end): the planner's guide for not trading kept activations for a higher peak.</summary>
    private (long Peak, long Area) SimulatePeak(int start, int[] root, SortedSet<int> vals, SortedSet<int> calls)
    {
        var callFirst = Schedule(start, vals, calls);
        var entries = new List<(int[] In, int[] Out, int[]? Aliases, int[] Orig)>();
        int backwardEntry = -1;
        var isClone = new List<bool>();
        var map = new Dictionary<int, int>();
        int next = Vals.Count;
        var origOf = new List<int>();
        int Map(int v) => map.TryGetValue(v, out int c) ? c : v;
        for (int k = 0; k < Nodes.Count; k++)
        {
            if (k >= start && backwardEntry < 0) backwardEntry = entries.Count;
            if (k >= start)
                foreach (var p in calls)
                {
                    if (callFirst[p] != k) continue;
                    var src = Nodes[p];
                    var outs = new int[src.Out.Length];
                    for (int o = 0; o < outs.Length; o++)
                    {
                        outs[o] = -1;
                        if (src.Out[o] < 0 || !vals.Contains(src.Out[o])) continue;
                        outs[o] = next++;
                        origOf.Add(src.Out[o]);
                    }
                    var ins = src.In.Select(Map).Append(src.AttrIn >= 0 ? Map(src.AttrIn) : -1).ToArray();
                    for (int o = 0; o < outs.Length; o++) if (outs[o] >= 0) map[src.Out[o]] = outs[o];
                    entries.Add((ins, outs, src.Aliases, src.Out));
                    isClone.Add(true);
                }
            var n = Nodes[k];
            if (n.Dead) continue;
            var nin = (k >= start ? n.In.Select(Map) : n.In).Append(n.AttrIn >= 0 ? (k >= start ? Map(n.AttrIn) : n.AttrIn) : -1).ToArray();
            entries.Add((nin, n.Out, n.Aliases, n.Out));
            isClone.Add(false);
        }
        int total = next;
        long Bytes(int v) => v < Vals.Count ? Vals[v].Bytes : Vals[origOf[v - Vals.Count]].Bytes;
        var r = new int[total];
        for (int v = 0; v < total; v++) r[v] = v < Vals.Count ? root[v] : v;
        var made = new int[total];
        Array.Fill(made, -1);
        var last = new int[total];
        Array.Fill(last, -1);
        for (int e = 0; e < entries.Count; e++)
        {
            var (ins, outs, aliases, _) = entries[e];
            for (int o = 0; o < outs.Length; o++)
            {
                if (outs[o] < 0) continue;
                if (aliases is not null && aliases[o] >= 0) r[outs[o]] = r[ins[aliases[o]]];
                else made[outs[o]] = e;
            }
            foreach (var v in ins) if (v >= 0) last[r[v]] = Math.Max(last[r[v]], e);
        }
        foreach (var v in _outVals) last[r[v]] = entries.Count;
        foreach (var gr in _gradOuts) last[r[gr.Val]] = entries.Count;
        var delta = new long[entries.Count + 2];
        for (int v = 0; v < total; v++)
        {
            if (made[v] < 0 || r[v] != v) continue;
            delta[made[v]] += Bytes(v);
            delta[Math.Max(made[v], last[v]) + 1] -= Bytes(v);
        }
        long live = 0, peak = 0, area = 0;
        for (int e = 0; e < delta.Length; e++)
        {
            live += delta[e];
            peak = Math.Max(peak, live);
            // the memory-time area of the backward, over the original calls (a clone's own step is not a longer backward)
            if (backwardEntry >= 0 && e >= backwardEntry && e < entries.Count && !isClone[e]) area += live;
        }
        return (peak, area);
    }

    /// <summary>Clones the forward calls <paramref name="calls"/> into the backward part (each just before the first
    /// backward call that reads, directly or through other clones, one of its results) and makes the backward read the
    /// clones' results instead of <paramref name="vals"/>. Returns the clones' op names in order.</summary>
    private List<string> Rewrite(int start, SortedSet<int> vals, SortedSet<int> calls)
    {
        var names = new List<string>();
        if (calls.Count == 0) return names;
        var callFirst = Schedule(start, vals, calls);
        var map = new Dictionary<int, int>();
        int Map(int v) => map.TryGetValue(v, out int c) ? c : v;
        var list = new List<GNode>(Nodes.Count + calls.Count);
        var newIndex = new int[Nodes.Count];
        for (int k = 0; k < Nodes.Count; k++)
        {
            if (k >= start)
                foreach (var p in calls.Where(p => callFirst[p] == k))
                {
                    var src = Nodes[p];
                    var outs = new int[src.Out.Length];
                    for (int o = 0; o < outs.Length; o++)
                    {
                        outs[o] = -1;
                        if (src.Out[o] < 0 || !vals.Contains(src.Out[o])) continue;
                        var sv = Vals[src.Out[o]];
                        outs[o] = Vals.Count;
                        Vals.Add(new Val { Shape = sv.Shape, DType = sv.DType, Root = Vals.Count });
                    }
                    var clone = new GNode
                    {
                        Def = src.Def, In = [.. src.In.Select(Map)], Attr = src.Attr, AttrIn = src.AttrIn >= 0 ? Map(src.AttrIn) : -1,
                        Out = outs, Aliases = src.Aliases, Shapes = src.Shapes, DTypes = src.DTypes, AttrFrom = src.AttrFrom,
                        Mode = src.Mode, Traced = src.Traced,
                    };
                    for (int o = 0; o < outs.Length; o++) if (outs[o] >= 0) map[src.Out[o]] = outs[o];
                    list.Add(clone);
                    names.Add(src.Def.Name);
                }
            var n = Nodes[k];
            if (k >= start)
            {
                for (int i = 0; i < n.In.Length; i++) n.In[i] = Map(n.In[i]);
                if (n.AttrIn >= 0) n.AttrIn = Map(n.AttrIn);
            }
            newIndex[k] = list.Count;
            list.Add(n);
        }
        Nodes.Clear();
        Nodes.AddRange(list);
        for (int k = 0; k < Nodes.Count; k++)
        {
            var n = Nodes[k];
            if (n.AttrFrom >= 0) n.AttrFrom = newIndex[n.AttrFrom];
            foreach (var o in n.Out) if (o >= 0) Vals[o].Producer = k;
        }
        return names;
    }

    /// <summary>
    /// Moves ReLU's mask before max pooling's backward: <c>ThresholdBackward(MaxPool2dBackward(gy), r)</c>, where the pooling
    /// was <c>p = MaxPool2d(r)</c>, becomes <c>MaxPool2dBackward(ThresholdBackward(gy, p))</c>. The scatter puts each gy[j] at
    /// the argmax idx[j] and p[j] = r[idx[j]], so masking gy[j] by p[j] &gt; 0 before the scatter masks exactly the positions
    /// that r &gt; 0 masks after it (bit for bit: a masked entry is +0 either way, and an unmasked sum adds the same terms
    /// in the same order). The backward then reads the pooled p (a quarter of r for 2x2 windows, and kept anyway for the
    /// next layer's weight gradient) instead of r: in a CNN's Conv-ReLU-MaxPool blocks the [N, C, H, W] activation dies in
    /// the forward, and the mask runs on the small gradient. Returns how many pairs were rewritten.
    /// </summary>
    private int MaskBeforePoolScatter()
    {
        var uses = UseCounts();
        int rewritten = 0;
        for (int t = 0; t < Nodes.Count; t++)
        {
            var tn = Nodes[t];
            if (tn.Dead || tn.Def != Tensor.ThresholdBackwardOp || tn.In.Length != 2 || tn.AttrIn >= 0 || tn.Out.Length != 1 || tn.Out[0] < 0) continue;
            int g = tn.In[0], r = tn.In[1];
            int b = Vals[g].Producer;
            if (b < 0 || b >= t || uses[g] != 1 || Vals[g].Const is not null) continue;
            var bn = Nodes[b];
            if (bn.Dead || bn.Def != Tensor.MaxPool2dBackwardOp || bn.In.Length != 1 || bn.AttrIn >= 0 || bn.AttrFrom < 0 || bn.Aliases is not null) continue;
            var mn = Nodes[bn.AttrFrom];
            if (mn.Dead || mn.Def != Tensor.MaxPool2dOp || mn.In.Length != 1 || mn.In[0] != r || mn.Out.Length != 1 || mn.Out[0] < 0) continue;
            int gy = bn.In[0], p = mn.Out[0];
            if (!ShapeUtil.SameShape(Vals[gy].Shape, Vals[p].Shape) || !ShapeUtil.SameShape(Vals[r].Shape, Vals[g].Shape)
                || Vals[gy].DType != Vals[p].DType || Vals[r].DType != Vals[g].DType) continue;
            // the masked small gradient: a new value made where the scatter ran; the scatter moves to the mask's place
            int gm = Vals.Count;
            Vals.Add(new Val { Shape = Vals[gy].Shape, DType = Vals[gy].DType, Root = gm });
            (Tensor?[] Inputs, Tensor?[] Outputs, object? Attr)? maskTraced = null, scatterTraced = null;
            if (bn.Traced is { } bt && mn.Traced is { } mt && tn.Traced is { } tt && bt.Inputs[0] is { } gyT && mt.Outputs[0] is { } pT)
            {
                Tensor gmT;
                using (Autograd.NoGrad()) gmT = Tensor.ReluMask(gyT, pT);
                maskTraced = ([gyT, pT], [gmT], null);
                scatterTraced = ([gmT], tt.Outputs, bt.Attr);
            }
            Nodes[b] = new GNode
            {
                Def = Tensor.ThresholdBackwardOp, In = [gy, p], Out = [gm], Shapes = [Vals[gy].Shape], DTypes = [Vals[gy].DType],
                Mode = tn.Mode, Traced = maskTraced,
            };
            Nodes[t] = new GNode
            {
                Def = bn.Def, In = [gm], Attr = bn.Attr, AttrFrom = bn.AttrFrom, Out = tn.Out, Shapes = tn.Shapes, DTypes = tn.DTypes,
                Mode = bn.Mode, Traced = scatterTraced,
            };
            Vals[gm].Producer = b;
            Vals[tn.Out[0]].Producer = t;
            Vals[g].Producer = -1;
            uses[g] = 0;
            uses[r]--;
            uses[p]++;
            rewritten++;
        }
        return rewritten;
    }

    /// <summary>
    /// In-place reuse outside the arena: ReLU's backward (<c>ThresholdBackward(g, y)</c>) writes its result over g when
    /// g is a fresh intermediate (made by a call of the graph, not a view, not returned, not an arena buffer) that no
    /// later call reads — in a CNN's backward the [N, C, H, W] gradient coming out of max pooling's backward, so the
    /// masked gradient takes no memory of its own. The call then counts as a view of g for liveness.
    /// </summary>
    private void PlanInPlace(bool plan)
    {
        if (!plan) return;
        var root = AliasRoots();
        var pos = new int[Nodes.Count];
        for (int k = 0; k < Nodes.Count; k++) pos[k] = Nodes[k].Group >= 0 ? _groups[Nodes[k].Group].Last : k;
        var last = new int[Vals.Count];
        Array.Fill(last, -1);
        for (int k = 0; k < Nodes.Count; k++)
        {
            var n = Nodes[k];
            if (n.Dead) continue;
            foreach (var v in n.In) last[root[v]] = Math.Max(last[root[v]], pos[k]);
            if (n.AttrIn >= 0) last[root[n.AttrIn]] = Math.Max(last[root[n.AttrIn]], pos[k]);
        }
        foreach (var v in _outVals) last[root[v]] = int.MaxValue;
        foreach (var gr in _gradOuts) last[root[gr.Val]] = int.MaxValue;
        for (int k = 0; k < Nodes.Count; k++)
        {
            var n = Nodes[k];
            if (n.Dead || n.Group >= 0 || n.Def != Tensor.ThresholdBackwardOp || n.In.Length != 2 || n.AttrIn >= 0 || n.Out[0] < 0) continue;
            int g = n.In[0], y = n.In[1];
            var gv = Vals[g];
            if (root[g] != g || root[y] == g || gv.Const is not null || gv.Producer < 0 || Nodes[gv.Producer].Dead || Nodes[gv.Producer].Group >= 0) continue;
            if (last[g] != k || gv.DType is not (DType.Float32 or DType.Float64) || !ShapeUtil.SameShape(gv.Shape, n.Shapes[0]) || !ShapeUtil.SameShape(Vals[y].Shape, n.Shapes[0])) continue;
            n.Aliases = [0];
            _inPlace.Add(n);
        }
    }

    /// <summary>The replay step of an in-place call (see <see cref="PlanInPlace"/>), or null for other calls.</summary>
    private Action<Tensor?[]>? InPlaceStep(GNode n)
    {
        if (!_inPlace.Contains(n)) return null;
        int gi = n.In[0], yi = n.In[1], o = n.Out[0];
        var shape = n.Shapes[0];
        return vals =>
        {
            var g = vals[gi]!;
            var y = vals[yi]!;
            if (!g.IsContiguous || !y.IsContiguous || !ShapeUtil.SameShape(g.ShapeRef, shape) || !ShapeUtil.SameShape(y.ShapeRef, shape) || ReferenceEquals(g.Storage, y.Storage))
            {
                vals[o] = Tensor.ReluMask(g, y);
                return;
            }
            int len = g.Numel;
            if (g.DType == DType.Float32)
            {
                var d = g.Storage.As<float>().AsSpan(g.Offset, len);
                Kernels.Elementwise.ReluMask<float>(d, y.DenseSpan<float>(), d);
            }
            else
            {
                var d = g.Storage.As<double>().AsSpan(g.Offset, len);
                Kernels.Elementwise.ReluMask<double>(d, y.DenseSpan<double>(), d);
            }
            vals[o] = g;
        };
    }

    /// <summary>
    /// Replays the graph once on <paramref name="inputs"/> (gradients are computed but not written into the leaves) and
    /// returns the peak of tensor memory the replay held: the arena plus the distinct storages of the intermediates it
    /// referenced, counted after every step. Kernels' own scratch is not counted (<see cref="MemoryTracker"/> sees
    /// it). Equal to <see cref="CompileStats.PredictedPeakBytes"/> when the liveness model is right.
    /// </summary>
    public long MeasurePeakBytes(params Tensor[] inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (!Matches(inputs, GradMode.Enabled, _extra))
            throw new CompileException("CompiledGraph.MeasurePeakBytes: the inputs do not match this graph's guard (shapes, dtypes, requires-grad, grad mode); pass inputs like the traced ones.");
        var arena = new HashSet<Storage>(ReferenceEqualityComparer.Instance);
        foreach (var t in _planned) if (t is not null) arena.Add(t.Storage);
        long arenaBytes = arena.Sum(s => s.Bytes);
        var vals = (Tensor?[])_template.Clone();
        for (int i = 0; i < inputs.Length; i++) vals[_inVals[i]] = inputs[i];
        foreach (var (leaf, v) in _params) vals[v] = leaf;
        var made = Enumerable.Range(0, Vals.Count).Where(v => Vals[v].Producer >= 0 && Vals[v].Const is null && !_inVals.Contains(v)).ToArray();
        var seen = new HashSet<Storage>(ReferenceEqualityComparer.Instance);
        long peak = 0;
        void Count()
        {
            seen.Clear();
            long live = 0;
            foreach (var v in made)
                if (vals[v] is { } t && !arena.Contains(t.Storage) && seen.Add(t.Storage)) live += t.Storage.Bytes;
            peak = Math.Max(peak, live);
        }
        if (Recording)
            foreach (var step in _steps) { step(vals); Count(); }
        else
            using (Autograd.NoGrad())
                foreach (var step in _steps) { step(vals); Count(); }
        return arenaBytes + peak;
    }
}
