namespace Fluxion;

/// <summary>A flat managed buffer shared by a tensor and all its views. It carries the version
/// counter that in-place operations bump and that autograd checks for saved tensors.</summary>
public sealed class Storage
{
    /// <summary>The backing array: <c>float[]</c>, <c>double[]</c>, <c>long[]</c> or <c>bool[]</c>.</summary>
    public Array Data { get; }

    /// <summary>Element type of <see cref="Data"/>.</summary>
    public DType DType { get; }

    /// <summary>Number of in-place modifications since creation.</summary>
    public int Version { get; private set; }

    /// <summary>Number of elements.</summary>
    public int Length => Data.Length;

    internal Storage(Array data, DType dtype)
    {
        Data = data;
        DType = dtype;
        if (MemoryTracker.IsActive) MemoryTracker.OnAllocate(this);
    }

    /// <summary>Allocates zero-filled storage.</summary>
    internal static Storage Allocate(DType dtype, int length) => new(dtype switch
    {
        DType.Float32 => new float[length],
        DType.Float64 => new double[length],
        DType.Int64 => new long[length],
        DType.Bool => new bool[length],
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    }, dtype);

    /// <summary>Allocates storage whose contents the caller will overwrite completely.</summary>
    internal static Storage AllocateUninitialized(DType dtype, int length) => new(dtype switch
    {
        DType.Float32 => GC.AllocateUninitializedArray<float>(length),
        DType.Float64 => GC.AllocateUninitializedArray<double>(length),
        DType.Int64 => GC.AllocateUninitializedArray<long>(length),
        DType.Bool => new bool[length],
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    }, dtype);

    /// <summary>Size of the buffer in bytes.</summary>
    public long Bytes => (long)Data.Length * DType.ElementSize();

    /// <summary>Marks one in-place modification.</summary>
    internal void BumpVersion() => Version++;

    /// <summary>The data as a typed array.</summary>
    internal T[] As<T>() => (T[])Data;
}
