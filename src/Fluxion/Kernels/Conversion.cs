using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Fluxion.Kernels;

/// <summary>Converts a dense run of one element type into another.</summary>
internal delegate void SpanConvert<TFrom, TTo>(ReadOnlySpan<TFrom> x, Span<TTo> y);

/// <summary>
/// Element type conversion of dense runs (the kernels of the dtype conversion op): float32 ↔ float64 widen/narrow eight
/// lanes at a time, the other pairs convert per element as C# casts do (float → int64 truncates toward zero,
/// saturating; anything → bool is x != 0; bool → number is 0 or 1). Large runs are split over the threads.
/// </summary>
internal static class Conversion
{
    /// <summary>Elements from which a conversion is split over the threads (as a dense copy: <see cref="Strided.Copy{T}"/>).</summary>
    private const int ParallelElements = 4 * Strided.ParallelElements;

    /// <summary>dst[dstOff + i] = f(src[srcOff + i]) for i in [0, n), chunks over the threads.</summary>
    public static void Dense<TFrom, TTo>(TFrom[] src, int srcOff, TTo[] dst, int dstOff, int n, SpanConvert<TFrom, TTo> f)
    {
        if (n <= 0) return;
        Parallelism.For(n, n, ParallelElements, (s, e) => f(new ReadOnlySpan<TFrom>(src, srcOff + s, e - s), dst.AsSpan(dstOff + s, e - s)));
    }

    /// <summary>The same element type: a copy.</summary>
    public static void Copy<T>(ReadOnlySpan<T> x, Span<T> y) => x.CopyTo(y);

    /// <summary>float32 → int64 (truncating).</summary>
    public static void F32ToI64(ReadOnlySpan<float> x, Span<long> y) { for (int i = 0; i < x.Length; i++) y[i] = (long)x[i]; }
    /// <summary>float64 → int64 (truncating).</summary>
    public static void F64ToI64(ReadOnlySpan<double> x, Span<long> y) { for (int i = 0; i < x.Length; i++) y[i] = (long)x[i]; }
    /// <summary>float32 → bool (x != 0).</summary>
    public static void F32ToBool(ReadOnlySpan<float> x, Span<bool> y) { for (int i = 0; i < x.Length; i++) y[i] = x[i] != 0; }
    /// <summary>float64 → bool (x != 0).</summary>
    public static void F64ToBool(ReadOnlySpan<double> x, Span<bool> y) { for (int i = 0; i < x.Length; i++) y[i] = x[i] != 0; }
    /// <summary>int64 → float32 (rounded to nearest).</summary>
    public static void I64ToF32(ReadOnlySpan<long> x, Span<float> y) { for (int i = 0; i < x.Length; i++) y[i] = x[i]; }
    /// <summary>int64 → float64 (rounded to nearest).</summary>
    public static void I64ToF64(ReadOnlySpan<long> x, Span<double> y) { for (int i = 0; i < x.Length; i++) y[i] = x[i]; }
    /// <summary>int64 → bool (x != 0).</summary>
    public static void I64ToBool(ReadOnlySpan<long> x, Span<bool> y) { for (int i = 0; i < x.Length; i++) y[i] = x[i] != 0; }
    /// <summary>bool → float32 (0 or 1).</summary>
    public static void BoolToF32(ReadOnlySpan<bool> x, Span<float> y) { for (int i = 0; i < x.Length; i++) y[i] = x[i] ? 1f : 0f; }
    /// <summary>bool → float64 (0 or 1).</summary>
    public static void BoolToF64(ReadOnlySpan<bool> x, Span<double> y) { for (int i = 0; i < x.Length; i++) y[i] = x[i] ? 1.0 : 0.0; }
    /// <summary>bool → int64 (0 or 1).</summary>
    public static void BoolToI64(ReadOnlySpan<bool> x, Span<long> y) { for (int i = 0; i < x.Length; i++) y[i] = x[i] ? 1L : 0L; }

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
