namespace Fluxion;

/// <summary>A flat managed buffer shared by a tensor and all its views. It carries the version
/// counter that in-place operations bump and that autograd checks for saved tensors.</summary>
/// <remarks>Large buffers (85 KB and up) come from an internal pool and go back to it once the GC finds
/// their storage unreachable, so training loops do not churn the large-object heap, at the price of a
/// higher peak heap (set the environment variable FLUXION_STORAGE_POOL=0 to turn this off).</remarks>
public sealed class Storage
{
    private readonly Array _data;

    /// <summary>Set while the array is pooled: returns it to the pool once this storage is unreachable.</summary>
    private StoragePool.Lease? _lease;

    /// <summary>The backing array: <c>float[]</c>, <c>double[]</c>, <c>long[]</c> or <c>bool[]</c>.
    /// Reading this property hands the array out for good: from then on it is never recycled by the
    /// storage pool, so it stays valid for as long as you hold it, even after the storage is gone.</summary>
    public Array Data
    {
        get
        {
            Escape();
            return _data;
        }
    }

    /// <summary>The backing array for library code that does not keep it beyond the storage's life (unlike
    /// <see cref="Data"/>, it leaves a pooled array pooled). Never wrap it into a second storage: call
    /// <see cref="Escape"/> first.</summary>
    internal Array RawData => _data;

    /// <summary>Element type of <see cref="Data"/>.</summary>
    public DType DType { get; }

    /// <summary>Number of in-place modifications since creation.</summary>
    public int Version { get; private set; }

    /// <summary>Number of elements.</summary>
    public int Length => _data.Length;

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
        DType = dtype;
        AllocationObserver?.Invoke(this);
    }

    private Storage(Array data, DType dtype, bool pooled) : this(data, dtype)
    {
        if (pooled) _lease = new StoragePool.Lease(data, dtype);
    }

    /// <summary>The array leaves this storage's control (it may be kept or wrapped elsewhere): never pool it.</summary>
    internal void Escape()
    {
        var lease = _lease;
        if (lease is null) return;
        _lease = null;
        lease.Cancel();
    }

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
    public long Bytes => (long)_data.Length * DType.ElementSize();

    /// <summary>Marks one in-place modification.</summary>
    internal void BumpVersion() => Version++;

    /// <summary>The data as a typed array (for library code; see <see cref="RawData"/>).</summary>
    internal T[] As<T>() => (T[])_data;
}
