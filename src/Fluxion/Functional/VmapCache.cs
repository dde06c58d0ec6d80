using System.Reflection;

namespace Fluxion;

/// <summary>
/// The batched programs of one vmapped function, reused by later calls instead of tracing the function again (as
/// <see cref="CompiledFunction"/> reuses its graphs). An entry is used only when the call matches its guard: the same
/// inputs' batched-ness, logical shapes, dtypes and requires-grad, the same grad mode, the same unbatched input tensors
/// (identity and version), and a <see cref="CaptureGuard"/> that still holds (nothing the function captures was rebound
/// or written in place). Programs that drew random numbers or could not run batched are never cached; calls inside a
/// trace or a forward-mode level always trace.
/// </summary>
internal sealed class VmapCache
{
    private const int Capacity = 8;

    private sealed record Entry(string Key, Tensor?[] Unbatched, int[] UnbatchedVersions, CaptureGuard Guard, VmapProgram Program, VmapPlan Plan);

    private readonly LinkedList<Entry> _entries = new();

    /// <summary>How many calls reused a cached program.</summary>
    public int Hits { get; private set; }

    /// <summary>How many programs were added (traces that were kept).</summary>
    public int Added { get; private set; }

    /// <summary>Whether a call in the current state may use or fill the cache.</summary>
    public static bool Usable => Tracer.Depth == 0 && ForwardLevels.ActiveCount == 0;

    /// <summary>The guard key of a call (everything but the captured state and the unbatched tensors' identity).</summary>
    public static string KeyOf(Tensor[] moved, bool[] isB, string extra)
    {
        var sb = new System.Text.StringBuilder(extra).Append(GradMode.Enabled ? "|g" : "|n");
        for (int i = 0; i < moved.Length; i++)
        {
            var x = moved[i];
            sb.Append(isB[i] ? "|b" : "|u").Append((int)x.DType).Append(x.RequiresGrad ? 'r' : '-');
            for (int d = isB[i] ? 1 : 0; d < x.Rank; d++) sb.Append(',').Append(x.Shape[d]);
        }
        return sb.ToString();
    }

    /// <summary>The cached program for this call, or null (then the caller traces and may <see cref="Add"/>).</summary>
    public (VmapProgram Program, VmapPlan Plan)? Find(string key, Tensor[] moved, bool[] isB, object?[] roots)
    {
        lock (_entries)
        {
            for (var n = _entries.First; n is not null; n = n.Next)
            {
                var e = n.Value;
                if (e.Key != key) continue;
                bool same = true;
                for (int i = 0; i < moved.Length && same; i++)
                    if (!isB[i]) same = ReferenceEquals(e.Unbatched[i], moved[i]) && moved[i].Version == e.UnbatchedVersions[i];
                if (!same || !e.Guard.Holds(roots))
                {
                    // stale: the function would see other values now
                    _entries.Remove(n);
                    return null;
                }
                if (n != _entries.First)
                {
                    _entries.Remove(n);
                    _entries.AddFirst(n);
                }
                Hits++;
                return (e.Program, e.Plan);
            }
            return null;
        }
    }

    /// <summary>Keeps a validated batched program (guard taken before the trace).</summary>
    public void Add(string key, Tensor[] moved, bool[] isB, CaptureGuard guard, VmapProgram program, VmapPlan plan)
    {
        var unb = new Tensor?[moved.Length];
        var ver = new int[moved.Length];
        for (int i = 0; i < moved.Length; i++)
            if (!isB[i]) { unb[i] = moved[i]; ver[i] = moved[i].Version; }
        lock (_entries)
        {
            _entries.AddFirst(new Entry(key, unb, ver, guard, program, plan));
            Added++;
            while (_entries.Count > Capacity) _entries.RemoveLast();
        }
    }
}

/// <summary>
/// A snapshot of the state a function captures, to tell whether a program traced from it is still valid: the objects
/// reachable from the delegate's target (closure classes, the objects they hold, arrays, nested delegates), each
/// field's and array element's value (references by identity, values by equality, arrays of values by content), and
/// every reachable tensor's version (a write in place bumps it). <see cref="Holds"/> re-reads them all. A closure that
/// reaches too much state (over <see cref="Budget"/> slots, or large value arrays) gets no snapshot and is not cached.
/// Not seen: static fields and state behind unmanaged memory.
/// </summary>
internal sealed class CaptureGuard
{
    /// <summary>How many fields, elements and tensors a snapshot may hold.</summary>
    public const int Budget = 2048;

    private const int MaxValueArray = 4096;

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<Type, FieldInfo[]> s_fields = new();

    private readonly List<(object Holder, FieldInfo Field, object? Value)> _fields = [];
    private readonly List<(object?[] Array, int Index, object? Value)> _elements = [];
    private readonly List<(Array Array, Array Copy)> _valueArrays = [];
    private readonly List<(Tensor Tensor, int Version)> _tensors = [];
    private readonly HashSet<object> _seen = new(ReferenceEqualityComparer.Instance);
    private object?[] _roots = [];

    private int Count => _fields.Count + _elements.Count + _valueArrays.Count + _tensors.Count;

    /// <summary>Snapshots what <paramref name="roots"/> reach; null when it exceeds the budget.</summary>
    public static CaptureGuard? Take(params object?[] roots)
    {
        var g = new CaptureGuard { _roots = [.. roots.Select(r => r is object?[] a ? a.Clone() : r)] };
        foreach (var r in roots)
            if (!g.Walk(r, 0)) return null;
        g._seen.Clear();
        return g;
    }

    private bool Walk(object? o, int depth)
    {
        if (o is null || o is string || o is Type || o is MemberInfo || o is VmapCache || o is CompiledFunction) return true;
        if (o.GetType().IsValueType)
        {
            // a struct held in a field: its fields were compared with it; walk the objects it refers to
            if (o.GetType().IsPrimitive || o.GetType().IsEnum || depth > 16) return true;
            foreach (var f in FieldsOf(o.GetType()))
                if (!f.FieldType.IsValueType || !f.FieldType.IsPrimitive)
                    if (!Walk(f.GetValue(o), depth + 1)) return false;
            return true;
        }
        if (!_seen.Add(o)) return true;
        if (Count > Budget || depth > 16) return false;
        switch (o)
        {
            case Tensor t:
                _tensors.Add((t, t.Version));
                return true;
            case Delegate d:
                foreach (var inner in d.GetInvocationList())
                    if (!Walk(inner.Target, depth + 1)) return false;
                return true;
            case Array a:
                if (a.GetType().GetElementType() is { IsValueType: true } et)
                {
                    if (a.Length > MaxValueArray || a.Rank != 1) return false;
                    _valueArrays.Add((a, (Array)a.Clone()));
                    // structs may refer to objects (a dictionary's entries): walk what they hold
                    if (!et.IsPrimitive && !et.IsEnum)
                        for (int i = 0; i < a.Length; i++)
                            if (!Walk(a.GetValue(i), depth + 1)) return false;
                    return true;
                }
                if (a is not object?[] objs || a.Rank != 1) return false;
                for (int i = 0; i < objs.Length; i++)
                {
                    _elements.Add((objs, i, objs[i]));
                    if (!Walk(objs[i], depth + 1)) return false;
                }
                return true;
            case System.Threading.Thread or System.Threading.Tasks.Task or System.IO.Stream or Generator:
                return true; // identity only (their state is not the function's data; random draws are never cached)
        }
        foreach (var f in FieldsOf(o.GetType()))
        {
            var v = f.GetValue(o);
            _fields.Add((o, f, v));
            if (!Walk(v, depth + 1)) return false;
        }
        return true;
    }

    private static FieldInfo[] FieldsOf(Type type) => s_fields.GetOrAdd(type, static t =>
    {
        var list = new List<FieldInfo>();
        for (var c = t; c is not null && c != typeof(object); c = c.BaseType)
            list.AddRange(c.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly));
        return [.. list];
    });

    /// <summary>True when <paramref name="roots"/> are the snapshot's (the same objects; equal delegates; arrays: the same elements) and every
    /// captured field, element, value array and tensor version is as snapshotted.</summary>
    public bool Holds(object?[] roots)
    {
        if (roots.Length != _roots.Length) return false;
        for (int r = 0; r < roots.Length; r++)
        {
            // a delegate of the same method on the same target (a local function converted again) sees the same state
            if (ReferenceEquals(roots[r], _roots[r]) || roots[r] is Delegate d && d.Equals(_roots[r])) continue;
            if (roots[r] is not object?[] a || _roots[r] is not object?[] b || a.Length != b.Length) return false;
            for (int i = 0; i < a.Length; i++)
                if (!ReferenceEquals(a[i], b[i])) return false;
        }
        foreach (var (t, v) in _tensors)
            if (t.Version != v) return false;
        foreach (var (holder, f, v) in _fields)
            if (!Same(f.GetValue(holder), v)) return false;
        foreach (var (arr, i, v) in _elements)
            if (!ReferenceEquals(arr[i], v)) return false;
        foreach (var (arr, copy) in _valueArrays)
            if (!((System.Collections.IStructuralEquatable)arr).Equals(copy, System.Collections.StructuralComparisons.StructuralEqualityComparer)) return false;
        return true;
    }

    private static bool Same(object? a, object? b) =>
        ReferenceEquals(a, b) || (a is not null && b is not null && a.GetType().IsValueType && a.Equals(b)) || (a is string sa && sa.Equals(b));
}
