namespace Fluxion;

/// <summary>
/// A forward-mode AD level. Dual tensors made inside it carry a tangent tagged with this level, so
/// nested levels never confuse their perturbations. Dispose it to leave the level; tangents of this
/// level can no longer be read afterwards.
/// </summary>
public sealed class DualLevel : IDisposable
{
    private static int s_next;

    /// <summary>Unique id of the level (also its tag on tangents).</summary>
    public int Id { get; } = Interlocked.Increment(ref s_next);

    /// <summary>Vector forward mode: the number k of tangents every dual of this level carries (tangent
    /// shape [k, ...primal shape]); null for ordinary duals. Set by the first <see cref="ForwardAD.MakeDual"/>.</summary>
    public int? BatchSize { get; internal set; }

    /// <summary>Whether any dual has been made at this level (fixes whether it is a vector level).</summary>
    internal bool HasDuals { get; set; }

    /// <summary>True once the level has been disposed.</summary>
    public bool Exited { get; private set; }

    internal DualLevel() { }

    /// <summary>Leaves the level. Levels must be left innermost first.</summary>
    public void Dispose()
    {
        if (Exited) return;
        var stack = ForwardLevels.Stack;
        if (stack.Count == 0 || !ReferenceEquals(stack[^1], this))
            throw new AutogradException($"ForwardAD: level {Id} is being exited while an inner level is still active; dispose nested levels innermost first (use 'using').");
        stack.RemoveAt(stack.Count - 1);
        Exited = true;
    }
}

/// <summary>
/// Forward-mode automatic differentiation with dual tensors:
/// <code>
/// using (var level = ForwardAD.Level())
/// {
///     var xd = ForwardAD.MakeDual(x, v);
///     var (y, jvp) = ForwardAD.Unpack(f(xd));
/// }
/// </code>
/// Each op's JVP rule (beside its VJP) computes the output tangent next to the output value.
/// </summary>
public static class ForwardAD
{
    /// <summary>Enters a new (nested) level; dispose it to leave.</summary>
    public static DualLevel Level()
    {
        var l = new DualLevel();
        ForwardLevels.Stack.Add(l);
        return l;
    }

    /// <summary>The innermost active level, or null.</summary>
    public static DualLevel? CurrentLevel => ForwardLevels.Stack is { Count: > 0 } s ? s[^1] : null;

    /// <summary>A dual tensor with primal <paramref name="primal"/> and tangent <paramref name="tangent"/>
    /// at <paramref name="level"/> (default: the innermost level). The result is differentiable in
    /// reverse mode with respect to both.</summary>
    public static Tensor MakeDual(Tensor primal, Tensor tangent, DualLevel? level = null)
    {
        var l = level ?? CurrentLevel ?? throw new AutogradException(
            "ForwardAD.MakeDual: no forward-AD level is active. Wrap the computation in using (ForwardAD.Level()) { ... }.");
        if (l.Exited) throw new AutogradException($"ForwardAD.MakeDual: level {l.Id} has already been exited.");
        primal.CheckFloat("ForwardAD.MakeDual");
        int? batch = null;
        if (!ShapeUtil.SameShape(primal.Shape, tangent.Shape))
        {
            if (tangent.Rank == primal.Rank + 1 && ShapeUtil.SameShape(tangent.Shape[1..], primal.Shape))
                batch = tangent.Shape[0];
            else
                throw new ShapeMismatchException(
                    $"ForwardAD.MakeDual: the tangent has shape {ShapeUtil.Format(tangent.Shape)} but the primal has shape {ShapeUtil.Format(primal.Shape)}; " +
                    $"a tangent must have its primal's shape, or [k, ...that shape] to carry k directions at once (vector forward mode).");
        }
        if (l.HasDuals && l.BatchSize != batch)
            throw new ShapeMismatchException(
                $"ForwardAD.MakeDual: level {l.Id} carries {(l.BatchSize is { } b ? $"{b} tangents per dual" : "one tangent per dual")}, but this tangent (shape {ShapeUtil.Format(tangent.Shape)}, primal {ShapeUtil.Format(primal.Shape)}) " +
                $"{(batch is { } k ? $"carries {k}" : "carries one")}. All duals of a level carry the same number of directions.");
        l.HasDuals = true;
        l.BatchSize = batch;
        Tensor.CheckSameDType("ForwardAD.MakeDual", primal, tangent);
        Tensor dual;
        using (ForwardLevels.Suspend(0)) dual = primal.AliasForDual();
        primal.CopyTangentsTo(dual, except: l.Id); // tangents of other levels stay (nesting)
        dual.SetTangent(l.Id, tangent);
        return dual;
    }

    /// <summary>Splits a dual tensor into its primal (without the tangent of <paramref name="level"/>) and
    /// that tangent (null when it has none).</summary>
    public static (Tensor Primal, Tensor? Tangent) Unpack(Tensor dual, DualLevel? level = null)
    {
        var l = level ?? CurrentLevel ?? throw new AutogradException(
            "ForwardAD.Unpack: no forward-AD level is active, so there is no tangent to unpack. Unpack inside the using (ForwardAD.Level()) block that made the dual.");
        if (l.Exited)
            throw new AutogradException($"ForwardAD.Unpack: level {l.Id} has already been exited; its tangents are gone. Unpack inside the level's using block.");
        var tangent = dual.TangentAt(l.Id);
        Tensor primal;
        using (ForwardLevels.Suspend(0)) primal = dual.AliasForDual();
        // keep the tangents of other levels on the primal
        dual.CopyTangentsTo(primal, except: l.Id);
        return (primal, tangent);
    }
}

public partial class Tensor
{
    /// <summary>Tangents of forward-AD levels carried by this tensor, keyed by level id.</summary>
    private List<(int Level, Tensor Tangent)>? _tangents;

    internal bool HasTangents => _tangents is { Count: > 0 };

    internal Tensor? TangentAt(int level)
    {
        if (_tangents is null) return null;
        foreach (var (l, t) in _tangents) if (l == level) return t;
        return null;
    }

    internal void SetTangent(int level, Tensor? tangent)
    {
        _tangents?.RemoveAll(p => p.Level == level);
        if (tangent is null) return;
        (_tangents ??= new()).Add((level, tangent));
    }

    internal void CopyTangentsTo(Tensor other, int except = 0)
    {
        if (_tangents is null) return;
        foreach (var (l, t) in _tangents) if (l != except) other.SetTangent(l, t);
    }

    /// <summary>Number of leading vector-mode batch dims of tangent <paramref name="t"/> of primal <paramref name="x"/> (0 or 1).</summary>
    internal static int TangentBatchDims(Tensor t, Tensor x) => t.Rank - x.Rank;

    /// <summary>The vector-mode batch prefix of a tangent's shape (empty for an ordinary tangent).</summary>
    internal static int[] TangentBatchShape(Tensor t, Tensor x) => t.ShapeArray[..TangentBatchDims(t, x)];

    /// <summary>Dims of the primal shifted past the tangent's batch prefix.</summary>
    internal static int[] ShiftDims(int[] dims, Tensor t, Tensor x)
    {
        int nb = TangentBatchDims(t, x);
        return nb == 0 ? dims : Array.ConvertAll(dims, d => d + nb);
    }

    /// <summary>
    /// Aligns the tangent of input <paramref name="x"/> of a broadcasting op with output rank
    /// <paramref name="outRank"/>: size-1 dims go between the vector-mode batch prefix and x's own dims,
    /// so broadcasting lines the tangent up with the output as it lines x up.
    /// </summary>
    internal static Tensor? AlignTangent(Tensor? t, Tensor x, int outRank)
    {
        if (t is null) return null;
        int nb = TangentBatchDims(t, x);
        if (nb == 0 || x.Rank == outRank) return t;
        return t.Reshape([.. t.ShapeArray[..nb], .. Enumerable.Repeat(1, outRank - x.Rank), .. x.ShapeArray]);
    }

    /// <summary>A graph-connected alias (identity op) used by MakeDual/Unpack.</summary>
    internal Tensor AliasForDual()
    {
        var y = new Tensor(Storage, _shape, _strides, Offset) { ViewBase = ViewBase ?? this };
        return Op.Record(GraphOps.Alias, y, [this]);
    }
}
