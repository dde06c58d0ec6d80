namespace Fluxion;

/// <summary>A flat managed buffer shared by a tensor and all its views. It carries the version
/// counter that in-place operations bump and that autograd checks for saved tensors.</summary>
/// <remarks>Large buffers (85 KB and up) come from an internal pool and go back to it once the GC finds
/// their storage unreachable, so training loops do not churn the large-object heap, at the price of a
/// higher peak heap (set the environment variable FLUXION_STORAGE_POOL=0 to turn this off).</remarks>
/// <para>Inside a <see cref="TensorScope"/> (<see cref="Tensor.NewScope"/>) such buffers go back to the pool when the
/// scope ends, unless kept; a released storage throws a <see cref="TensorReleasedException"/> on every later access
/// to its elements (<see cref="IsReleased"/>).</para>
public sealed class Storage
{
    /// <summary>The array; null once released (<see cref="Release"/>): every accessor checks, so a released storage never
    /// reads or writes an array the pool handed to someone else.</summary>
    private Array? _data;

    private readonly int _length;

    /// <summary>Why the array was released (the scope's name, or the backward pass), for the error message.</summary>
    private string? _releasedBy;

    /// <summary>The scope that releases this storage when it ends (null: none; set only for pooled storages made
    /// while a scope was innermost on the allocating thread).</summary>
    internal TensorScope? Scope;

    /// <summary>While this storage is kept because it is some tensor's <see cref="Tensor.Grad"/>: the scope it was
    /// registered with (it goes back to it when the gradient is cleared or replaced while that scope is open).</summary>
    internal TensorScope? GradScope;

    /// <summary>How many tensors hold this storage as their <see cref="Tensor.Grad"/> (while positive, no scope releases it).</summary>
    internal int GradHolds;

    /// <summary>Set while the array is pooled: returns it to the pool once this storage is unreachable.</summary>
    private StoragePool.Lease? _lease;

    /// <summary>The backing array: <c>float[]</c>, <c>double[]</c>, <c>long[]</c> or <c>bool[]</c>.
    /// Reading this property hands the array out for good: from then on it is never recycled by the
    /// storage pool, so it stays valid for as long as you hold it, even after the storage is gone.</summary>
    public Array Data
    {
        get
        {
            var d = _data ?? throw Released();
            Escape();
            return d;
        }
    }

    /// <summary>The backing array for library code that does not keep it beyond the storage's life (unlike
    /// <see cref="Data"/>, it leaves a pooled array pooled). Never wrap it into a second storage: call
    /// <see cref="Escape"/> first.</summary>
    internal Array RawData
    {
        get
        {
            var d = _data;
            if (d is null) ThrowReleased();
            return d;
        }
    }

    /// <summary>Element type of <see cref="Data"/>.</summary>
    public DType DType { get; }

    /// <summary>Number of in-place modifications since creation.</summary>
    public int Version { get; private set; }

    /// <summary>Number of elements.</summary>
    public int Length => _length;

    /// <summary>True once the storage's array went back to the pool (at the end of the <see cref="TensorScope"/> that
    /// owned it): reading or writing its elements throws a <see cref="TensorReleasedException"/>.</summary>
    public bool IsReleased => _data is null;

    /// <summary>True while the array will go back to the storage pool when this storage dies.</summary>
    internal bool IsPooled => _lease is not null;

    /// <summary>This thread's observer of storage allocations (MemoryTracker subscribes while it measures), or null.</summary>
    [ThreadStatic] internal static Action<Storage>? AllocationObserver;

    private static long s_serial;

    /// <summary>Creation order of storages: every storage created later has a larger one. The backward engine
    /// uses it to tell gradient buffers made during its pass (which it may hand to a leaf's <c>.Grad</c> without
    /// a copy) from everything that existed before (a user's seed gradient, forward values).</summary>
    internal readonly long Serial = Interlocked.Increment(ref s_serial);

    /// <summary>The <see cref="Serial"/> of the most recently created storage.</summary>
    internal static long LastSerial => Interlocked.Read(ref s_serial);

    /// <summary>The backward pass that counts references to this storage in <see cref="GradRefs"/> (0: none; -1: the
    /// storage was seen by a hook or by another pass, so no pass may take it over).</summary>
    internal long GradPass;

    /// <summary>How many gradient buffers of the pass <see cref="GradPass"/> hold this storage (or a view of it).</summary>
    internal int GradRefs;

    internal Storage(Array data, DType dtype)
    {
        _data = data;
        _length = data.Length;
        DType = dtype;
        AllocationObserver?.Invoke(this);
    }

    private Storage(Array data, DType dtype, bool pooled) : this(data, dtype)
    {
        if (!pooled) return;
        _lease = new StoragePool.Lease(data, dtype);
        if (TensorScope.Current is { } scope) scope.Register(this);
    }

    /// <summary>The array leaves this storage's control (it may be kept or wrapped elsewhere): never pool it.</summary>
    internal void Escape()
    {
        var lease = _lease;
        if (lease is null) return;
        _lease = null;
        lease.Cancel();
    }

    /// <summary>Hands the array back to the pool now (when it is pooled and did not escape: otherwise nothing happens) and
    /// makes every later access throw. Only for storages nothing can still read: the end of the scope that owns them
    /// (<see cref="TensorScope"/>), or a backward pass's gradient buffer that the pass alone held.</summary>
    /// <param name="by">Who released it (named in the error message of later accesses).</param>
    /// <returns>Whether the array went back to the pool.</returns>
    internal bool Release(string by)
    {
        var lease = _lease;
        var d = _data;
        if (lease is null || d is null) return false;
        _lease = null;
        _data = null;
        _releasedBy = by;
        Scope = null;
        GradScope = null;
        lease.Cancel();
        StoragePool.ReturnNow(d, DType);
        return true;
    }

    /// <summary>Not released by any scope: kept until the GC finds it unreachable (as without scopes).</summary>
    internal void Keep()
    {
        Scope = null;
        GradScope = null;
    }

    private TensorReleasedException Released() => new(
        $"This tensor's storage ({_length} elements of {DType.Name()}, {Bytes} bytes) was released {_releasedBy} and its memory was reused: " +
        "it can no longer be read or written. Keep a tensor past the end of its scope with scope.Keep(t) or t.MoveToOuterScope() " +
        "(or return it from Tensor.Scoped(...)), or create it before the scope begins.");

    /// <summary>Allocates zero-filled storage.</summary>
    internal static Storage Allocate(DType dtype, int length)
    {
        if (StoragePool.Applies(dtype, length))
        {
            var a = StoragePool.TryRent(dtype, length);
            if (a is not null) Array.Clear(a);
            return new(a ?? NewZeroed(dtype, length), dtype, pooled: true);
        }
        return new(NewZeroed(dtype, length), dtype);
    }

    /// <summary>Allocates storage whose contents the caller will overwrite completely.</summary>
    internal static Storage AllocateUninitialized(DType dtype, int length)
    {
        if (StoragePool.Applies(dtype, length))
        {
            var a = StoragePool.TryRent(dtype, length);
            // bool storages have always come zeroed from here; keep it so
            if (a is not null && dtype == DType.Bool) Array.Clear(a);
            return new(a ?? NewUninitialized(dtype, length), dtype, pooled: true);
        }
        return new(NewUninitialized(dtype, length), dtype);
    }

    private static Array NewZeroed(DType dtype, int length) => dtype switch
    {
        DType.Float32 => new float[length],
        DType.Float64 => new double[length],
        DType.Int64 => new long[length],
        DType.Bool => new bool[length],
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    private static Array NewUninitialized(DType dtype, int length) => dtype switch
    {
        DType.Float32 => GC.AllocateUninitializedArray<float>(length),
        DType.Float64 => GC.AllocateUninitializedArray<double>(length),
        DType.Int64 => GC.AllocateUninitializedArray<long>(length),
        DType.Bool => new bool[length],
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    /// <summary>Size of the buffer in bytes.</summary>
    public long Bytes => (long)_length * DType.ElementSize();

    /// <summary>Marks one in-place modification.</summary>
    internal void BumpVersion() => Version++;

    /// <summary>The data as a typed array (for library code; see <see cref="RawData"/>).</summary>
    internal T[] As<T>()
    {
        var d = _data;
        if (d is null) ThrowReleased();
        return (T[])d;
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private void ThrowReleased() => throw Released();
}
