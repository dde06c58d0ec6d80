using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Fluxion.Kernels;

/// <summary>
/// Dtype conversion of dense runs (the kernel of <see cref="Tensor.To(DType)"/>): float32 ↔ float64 widen/narrow
/// eight lanes at a time, the other pairs convert per element as C# casts do (float → int64 truncates toward zero,
/// saturating; anything → bool is x != 0; bool → number is 0 or 1). Large runs are split over the threads.
/// </summary>
internal static class Conversion
{
    /// <summary>Elements from which a conversion is split over the threads (as a dense copy: <see cref="Strided.Copy{T}"/>).</summary>
    private const int ParallelElements = 4 * Strided.ParallelElements;

    /// <summary>dst[dstOff + i] = convert(src[srcOff + i]) for i in [0, n); <paramref name="src"/> holds <paramref name="from"/>
    /// elements and <paramref name="dst"/> <paramref name="to"/> elements.</summary>
    public static void Dense(Array src, int srcOff, DType from, Array dst, int dstOff, DType to, int n)
    {
        if (n <= 0) return;
        Parallelism.For(n, n, ParallelElements, (s, e) => Run(src, srcOff + s, from, dst, dstOff + s, to, e - s));
    }

    private static void Run(Array src, int so, DType from, Array dst, int d, DType to, int n)
    {
        switch (from, to)
        {
            case (DType.Float32, DType.Float64): Widen(((float[])src).AsSpan(so, n), ((double[])dst).AsSpan(d, n)); return;
            case (DType.Float64, DType.Float32): Narrow(((double[])src).AsSpan(so, n), ((float[])dst).AsSpan(d, n)); return;
            case (DType.Float32, DType.Float32): ((float[])src).AsSpan(so, n).CopyTo(((float[])dst).AsSpan(d, n)); return;
            case (DType.Float64, DType.Float64): ((double[])src).AsSpan(so, n).CopyTo(((double[])dst).AsSpan(d, n)); return;
            case (DType.Int64, DType.Int64): ((long[])src).AsSpan(so, n).CopyTo(((long[])dst).AsSpan(d, n)); return;
            case (DType.Bool, DType.Bool): ((bool[])src).AsSpan(so, n).CopyTo(((bool[])dst).AsSpan(d, n)); return;
        }
        switch (from)
        {
            case DType.Float32:
            {
                var x = ((float[])src).AsSpan(so, n);
                if (to == DType.Int64) { var y = ((long[])dst).AsSpan(d, n); for (int i = 0; i < n; i++) y[i] = (long)x[i]; }
                else { var y = ((bool[])dst).AsSpan(d, n); for (int i = 0; i < n; i++) y[i] = x[i] != 0; }
                return;
            }
            case DType.Float64:
            {
                var x = ((double[])src).AsSpan(so, n);
                if (to == DType.Int64) { var y = ((long[])dst).AsSpan(d, n); for (int i = 0; i < n; i++) y[i] = (long)x[i]; }
                else { var y = ((bool[])dst).AsSpan(d, n); for (int i = 0; i < n; i++) y[i] = x[i] != 0; }
                return;
            }
            case DType.Int64:
            {
                var x = ((long[])src).AsSpan(so, n);
                switch (to)
                {
                    case DType.Float32: { var y = ((float[])dst).AsSpan(d, n); for (int i = 0; i < n; i++) y[i] = x[i]; break; }
                    case DType.Float64: { var y = ((double[])dst).AsSpan(d, n); for (int i = 0; i < n; i++) y[i] = x[i]; break; }
                    default: { var y = ((bool[])dst).AsSpan(d, n); for (int i = 0; i < n; i++) y[i] = x[i] != 0; break; }
                }
                return;
            }
            default:
            {
                var x = ((bool[])src).AsSpan(so, n);
                switch (to)
                {
                    case DType.Float32: { var y = ((float[])dst).AsSpan(d, n); for (int i = 0; i < n; i++) y[i] = x[i] ? 1f : 0f; break; }
                    case DType.Float64: { var y = ((double[])dst).AsSpan(d, n); for (int i = 0; i < n; i++) y[i] = x[i] ? 1.0 : 0.0; break; }
                    default: { var y = ((long[])dst).AsSpan(d, n); for (int i = 0; i < n; i++) y[i] = x[i] ? 1L : 0L; break; }
                }
                return;
            }
        }
    }

    /// <summary>float32 → float64 (exact), 8 lanes at a time.</summary>
    public static void Widen(ReadOnlySpan<float> x, Span<double> y)
    {
        int n = x.Length, i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref float xr = ref MemoryMarshal.GetReference(x);
            ref double yr = ref MemoryMarshal.GetReference(y);
            for (; i <= n - 8; i += 8)
            {
                var (lo, hi) = Vector256.Widen(Vector256.LoadUnsafe(ref xr, (nuint)i));
                lo.StoreUnsafe(ref yr, (nuint)i);
                hi.StoreUnsafe(ref yr, (nuint)(i + 4));
            }
        }
        for (; i < n; i++) y[i] = x[i];
    }

    /// <summary>float64 → float32 (rounded to nearest), 8 lanes at a time.</summary>
    public static void Narrow(ReadOnlySpan<double> x, Span<float> y)
    {
        int n = x.Length, i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref double xr = ref MemoryMarshal.GetReference(x);
            ref float yr = ref MemoryMarshal.GetReference(y);
            for (; i <= n - 8; i += 8)
                Vector256.Narrow(Vector256.LoadUnsafe(ref xr, (nuint)i), Vector256.LoadUnsafe(ref xr, (nuint)(i + 4))).StoreUnsafe(ref yr, (nuint)i);
        }
        for (; i < n; i++) y[i] = (float)x[i];
    }
}
