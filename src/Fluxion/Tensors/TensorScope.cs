namespace Fluxion;

/// <summary>
/// A region of code whose tensors hand their memory back to the storage pool deterministically when it ends (TorchSharp's
/// <c>DisposeScope</c>, PyTorch's caching allocator freeing a tensor with its last reference): open one with
/// <see cref="Tensor.NewScope"/> around a step of a loop,
/// <code>
/// using (var scope = Tensor.NewScope())
/// {
///     var loss = model.Forward(x).Sub(y).Square().Mean();
///     loss.Backward();
///     optimizer.Step();
///     optimizer.ZeroGrad();
/// }
/// </code>
/// and the next step reuses the same cache-warm buffers, without waiting for a garbage collection to find them dead.
/// <para>Which storages: those of at least 85 KB (the pooled ones; smaller ones are cheap for the GC) allocated on this
/// thread while the scope is the innermost one open on it. Storages made on other threads (a kernel's workers, a data
/// loader's) belong to no scope. At <see cref="Dispose"/> each such storage goes back to the pool unless it was kept:
/// <list type="bullet">
/// <item><see cref="Keep(Tensor)"/> keeps a tensor's storage for good (the GC reclaims it later, as without scopes);
/// <see cref="Tensor.MoveToOuterScope"/> hands it to the enclosing scope instead; <see cref="Tensor.Scoped(Func{Tensor}, string?)"/>
/// runs a function in a scope and returns its result kept in the enclosing one.</item>
/// <item>Library code keeps what it stores in long-lived places by itself: a gradient stored into a tensor's
/// <see cref="Tensor.Grad"/> (while it stays there: a gradient cleared or replaced while its scope is still open, e.g. by
/// <c>optimizer.ZeroGrad()</c>, goes back to the scope), module parameters and buffers, optimizer state, a compiled
/// function's constants and arena.</item>
/// <item>A storage whose array was handed out (<see cref="Storage.Data"/>) is never released.</item>
/// </list></para>
/// <para>Safety: a released storage drops its array, so every later read or write of a tensor on it (a view, a saved
/// tensor of an autograd graph that outlived the scope, a tensor kept in a field) throws a
/// <see cref="TensorReleasedException"/> naming the scope; it never sees an array the pool handed to someone else. A
/// scope belongs to the thread that opened it: another thread must not use its tensors while it ends.</para>
/// <para>Scopes nest; disposing one ends the inner ones still open. A scope keeps the storages it owns alive until it
/// ends: open one per step of a loop, not around the whole loop.</para>
/// </summary>
public sealed class TensorScope : IDisposable
{
    [ThreadStatic] private static TensorScope? t_current;

    private static long s_ids;

    private readonly List<Storage> _storages = new();
    private readonly int _thread;
    private readonly string _releasedBy;
    private bool _disposed;

    /// <summary>The innermost scope open on this thread, or null.</summary>
    internal static TensorScope? Current => t_current;

    /// <summary>The scope's name (the one given to <see cref="Tensor.NewScope"/>, or "#n"): errors about its tensors name it.</summary>
    public string Name { get; }

    /// <summary>The scope that was innermost when this one opened (null: none).</summary>
    public TensorScope? Outer { get; }

    /// <summary>Whether the scope has ended.</summary>
    public bool IsDisposed => _disposed;

    /// <summary>Arrays this scope has handed back to the pool so far.</summary>
    public int ReleasedCount { get; private set; }

    internal TensorScope(string? name)
    {
        Name = name ?? $"#{Interlocked.Increment(ref s_ids)}";
        Outer = t_current;
        _thread = Environment.CurrentManagedThreadId;
        _releasedBy = $"at the end of tensor scope '{Name}' (Tensor.NewScope)";
        t_current = this;
    }

    /// <summary>A storage was allocated while this scope was innermost: it releases it at its end unless kept.</summary>
    internal void Register(Storage s)
    {
        s.Scope = this;
        _storages.Add(s);
    }

    /// <summary>Keeps <paramref name="t"/>'s storage (and so every view of it) past the end of its scope, for good: the GC
    /// reclaims it once unreachable, as without scopes. Returns <paramref name="t"/>.</summary>
    public Tensor Keep(Tensor t)
    {
        ArgumentNullException.ThrowIfNull(t);
        t.Storage.Keep();
        return t;
    }

    /// <summary>Keeps every tensor of <paramref name="tensors"/> (see <see cref="Keep(Tensor)"/>).</summary>
    public void Keep(params Tensor[] tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        foreach (var t in tensors) Keep(t);
    }

    /// <summary>Hands <paramref name="s"/> from its scope to that scope's outer one (kept for good when there is none).</summary>
    internal static void MoveToOuter(Storage s)
    {
        if (s.IsReleased) _ = s.RawData; // throws the released error
        var sc = s.Scope ?? s.GradScope;
        if (sc is null) return;
        var outer = sc.Outer;
        while (outer is { _disposed: true }) outer = outer.Outer;
        if (s.Scope is not null)
        {
            if (outer is null) s.Keep();
            else outer.Register(s);
        }
        else
        {
            // held as a gradient: it goes back to the outer scope instead when the gradient is cleared
            s.GradScope = outer;
            outer?._storages.Add(s);
        }
    }

    /// <summary>Storage <paramref name="s"/> was stored as some tensor's <see cref="Tensor.Grad"/>: kept while it stays there.</summary>
    internal static void HoldAsGrad(Storage s)
    {
        s.GradHolds++;
        if (s.Scope is { } sc)
        {
            s.GradScope = sc;
            s.Scope = null;
        }
    }

    /// <summary>Storage <paramref name="s"/> stopped being some tensor's <see cref="Tensor.Grad"/>: when nothing else holds it
    /// as a gradient and its scope is still open, it goes back to that scope.</summary>
    internal static void DropAsGrad(Storage s)
    {
        if (s.GradHolds > 0) s.GradHolds--;
        if (s.GradHolds == 0 && s.GradScope is { _disposed: false } gs && s.Scope is null)
        {
            s.Scope = gs;
            s.GradScope = null;
        }
    }

    /// <summary>Ends the scope (and the inner scopes still open): every storage it owns that was not kept goes back to the
    /// storage pool, and tensors on it throw <see cref="TensorReleasedException"/> from then on.</summary>
    /// <exception cref="FluxionException">Called on another thread than the one that opened the scope.</exception>
    public void Dispose()
    {
        if (_disposed) return;
        if (Environment.CurrentManagedThreadId != _thread)
            throw new FluxionException(
                $"TensorScope.Dispose: tensor scope '{Name}' was opened on thread {_thread} but is being ended on thread {Environment.CurrentManagedThreadId}. " +
                "A scope belongs to the thread that opened it: end it there (a using block does).");
        // inner scopes still open (disposed out of order) end first
        for (var c = t_current; c is not null && c != this; c = t_current)
        {
            if (!IsInner(c)) break;
            c.Dispose();
        }
        if (t_current == this) t_current = Outer;
        _disposed = true;
        int released = 0;
        foreach (var s in _storages)
        {
            if (ReferenceEquals(s.Scope, this))
            {
                if (s.Release(_releasedBy)) released++;
                else s.Scope = null;
            }
            else if (ReferenceEquals(s.GradScope, this)) s.GradScope = null; // still some tensor's .Grad: kept for good
        }
        ReleasedCount += released;
        _storages.Clear();
    }

    private bool IsInner(TensorScope c)
    {
        for (var o = c.Outer; o is not null; o = o.Outer)
            if (o == this) return true;
        return false;
    }

    /// <summary>Stops registering storages on this thread until disposed (library code that builds long-lived state: a
    /// compiled function's arena, an optimizer's buffers).</summary>
    internal static Suspension Suspend() => new(t_current, suspend: true);

    /// <summary>Restores the innermost scope that <see cref="Suspend"/> set aside.</summary>
    internal readonly struct Suspension : IDisposable
    {
        private readonly TensorScope? _saved;
        private readonly bool _active;

        internal Suspension(TensorScope? saved, bool suspend)
        {
            _saved = saved;
            _active = suspend && saved is not null;
            if (_active) t_current = null;
        }

        /// <summary>Restores the scope.</summary>
        public void Dispose()
        {
            if (_active) t_current = _saved;
        }
    }
}

public partial class Tensor
{
    /// <summary>Opens a <see cref="TensorScope"/> on this thread (TorchSharp's <c>torch.NewDisposeScope()</c>): the storages
    /// of at least 85 KB allocated on this thread until it is disposed go back to the storage pool at its end, except those
    /// kept (<see cref="TensorScope.Keep(Tensor)"/>, <see cref="MoveToOuterScope"/>, gradients in <see cref="Grad"/>,
    /// parameters, optimizer state). Use it in a <c>using</c> block around one step of a loop.</summary>
    /// <param name="name">A name for error messages (default "#n").</param>
    public static TensorScope NewScope(string? name = null) => new(name);

    /// <summary>Runs <paramref name="body"/> in a new <see cref="TensorScope"/> and returns its result, whose storage is
    /// handed to the enclosing scope (kept for good when there is none); everything else the body allocated goes back to
    /// the pool.</summary>
    /// <param name="body">The computation.</param>
    /// <param name="name">The scope's name (for error messages).</param>
    public static Tensor Scoped(Func<Tensor> body, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(body);
        using var scope = new TensorScope(name);
        var r = body();
        r?.MoveToOuterScope();
        return r!;
    }

    /// <summary>Runs <paramref name="body"/> in a new <see cref="TensorScope"/> and returns its results, each handed to the
    /// enclosing scope (see <see cref="Scoped(Func{Tensor}, string?)"/>).</summary>
    /// <param name="body">The computation.</param>
    /// <param name="name">The scope's name (for error messages).</param>
    public static Tensor[] Scoped(Func<Tensor[]> body, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(body);
        using var scope = new TensorScope(name);
        var r = body();
        if (r is not null) foreach (var t in r) t?.MoveToOuterScope();
        return r!;
    }

    /// <summary>Hands this tensor's storage (shared by its views) from the scope that would release it to the enclosing
    /// scope, or keeps it for good when that scope is the outermost (TorchSharp's <c>MoveToOuterDisposeScope</c>). Does
    /// nothing for a tensor in no scope. Returns this tensor.</summary>
    /// <exception cref="TensorReleasedException">The storage was already released.</exception>
    public Tensor MoveToOuterScope()
    {
        TensorScope.MoveToOuter(Storage);
        return this;
    }
}
