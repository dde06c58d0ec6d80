namespace Fluxion;

/// <summary>
/// Maximum flow / minimum s-t cut on a small directed graph with real capacities (Dinic's algorithm: breadth-first
/// levels, then blocking flows along depth-first augmenting paths). Used by the activation planner of compiled joint
/// graphs (<see cref="CompiledGraph"/>), as PyTorch's min-cut partitioner uses networkx's.
/// </summary>
internal sealed class MaxFlow
{
    /// <summary>A capacity no cut may take.</summary>
    public const double Infinite = double.PositiveInfinity;

    private readonly List<(int To, double Cap)> _edges = [];
    private readonly List<int>[] _adj;
    private int[] _level = [], _next = [];

    /// <summary>A graph of <paramref name="nodes"/> nodes and no edges.</summary>
    public MaxFlow(int nodes)
    {
        _adj = new List<int>[nodes];
        for (int i = 0; i < nodes; i++) _adj[i] = [];
    }

    /// <summary>Adds the edge u -> v with capacity <paramref name="cap"/> (and its zero-capacity reverse for the residual graph).</summary>
    public void Add(int u, int v, double cap)
    {
        _adj[u].Add(_edges.Count);
        _edges.Add((v, cap));
        _adj[v].Add(_edges.Count);
        _edges.Add((u, 0));
    }

    /// <summary>Pushes the maximum flow from <paramref name="s"/> to <paramref name="t"/> and returns the nodes on the
    /// source side of a minimum cut (reachable from s in the residual graph) and the cut's value.</summary>
    public (bool[] SourceSide, double Value) MinCut(int s, int t)
    {
        double flow = 0;
        int n = _adj.Length;
        while (Levels(s, t))
        {
            _next = new int[n];
            double f;
            while ((f = Push(s, t, Infinite)) > 0)
            {
                flow += f;
                if (double.IsPositiveInfinity(flow)) return (Reachable(s), flow);
            }
        }
        return (Reachable(s), flow);
    }

    private bool Levels(int s, int t)
    {
        _level = new int[_adj.Length];
        Array.Fill(_level, -1);
        _level[s] = 0;
        var q = new Queue<int>();
        q.Enqueue(s);
        while (q.Count > 0)
        {
            int u = q.Dequeue();
            foreach (var e in _adj[u])
            {
                var (v, cap) = _edges[e];
                if (cap <= Eps(cap) || _level[v] >= 0) continue;
                _level[v] = _level[u] + 1;
                q.Enqueue(v);
            }
        }
        return _level[t] >= 0;
    }

    private double Push(int u, int t, double limit)
    {
        if (u == t) return limit;
        for (; _next[u] < _adj[u].Count; _next[u]++)
        {
            int e = _adj[u][_next[u]];
            var (v, cap) = _edges[e];
            if (cap <= Eps(cap) || _level[v] != _level[u] + 1) continue;
            double f = Push(v, t, Math.Min(limit, cap));
            if (f <= 0) continue;
            _edges[e] = (v, cap - f);
            var (ru, rcap) = _edges[e ^ 1];
            _edges[e ^ 1] = (ru, rcap + f);
            return f;
        }
        return 0;
    }

    /// <summary>Residual capacities at most this count as saturated (rounding of the subtractions).</summary>
    private static double Eps(double cap) => 1e-9;

    private bool[] Reachable(int s)
    {
        var seen = new bool[_adj.Length];
        var stack = new Stack<int>();
        stack.Push(s);
        seen[s] = true;
        while (stack.Count > 0)
        {
            int u = stack.Pop();
            foreach (var e in _adj[u])
            {
                var (v, cap) = _edges[e];
                if (cap > Eps(cap) && !seen[v]) { seen[v] = true; stack.Push(v); }
            }
        }
        return seen;
    }
}
