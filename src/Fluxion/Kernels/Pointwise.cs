using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Fluxion.Kernels;

/// <summary>An elementwise function of one value, written once for <see cref="Vector{T}"/> lanes and for scalars
/// (a struct: its parameters are fields and the JIT specializes the loop for it).</summary>
internal interface IMap1<T> where T : unmanaged
{
    /// <summary>The function on a vector of lanes.</summary>
    Vector<T> Map(Vector<T> x);

    /// <summary>The function on one value (the loop's tail); the same result as a lane.</summary>
    T Map(T x);
}

/// <summary>An elementwise function of two values (two inputs, or a gradient and an input).</summary>
internal interface IMap2<T> where T : unmanaged
{
    /// <summary>The function on vectors of lanes.</summary>
    Vector<T> Map(Vector<T> a, Vector<T> b);

    /// <summary>The function on one pair of values.</summary>
    T Map(T a, T b);
}

/// <summary>An elementwise function of three values (a gradient and two inputs).</summary>
internal interface IMap3<T> where T : unmanaged
{
    /// <summary>The function on vectors of lanes.</summary>
    Vector<T> Map(Vector<T> g, Vector<T> a, Vector<T> b);

    /// <summary>The function on one triple of values.</summary>
    T Map(T g, T a, T b);
}

/// <summary>
/// Single-pass SIMD loops for the piecewise, comparison and select elementwise ops (min/max, clamp, the hard
/// activations, where) and their fused first-order backward: one read of each operand, one write, no mask tensors.
/// Dense operands; an operand of length 1 is a scalar broadcast over the output. Large arrays are cut into chunks run
/// on the available threads (<see cref="Parallelism"/>).
/// </summary>
internal static class Pointwise
{
    /// <summary>Elements from which a pointwise loop is split over threads (memory-bound: ~0.1 ms of work on one core).</summary>
    internal const int ParallelThreshold = 1 << 17;

    /// <summary>y[yo..] = m(x[xo..]) over n elements.</summary>
    public static void Map<T, TM>(T[] x, int xo, T[] y, int yo, int n, TM m) where T : unmanaged where TM : struct, IMap1<T>
    {
        if (n < ParallelThreshold) Map1Span(x.AsSpan(xo, n), y.AsSpan(yo, n), m);
        else Parallelism.For(n, n, ParallelThreshold, (s, e) => Map1Span(x.AsSpan(xo + s, e - s), y.AsSpan(yo + s, e - s), m));
    }

    /// <summary>y = m(a, b) over n elements; <paramref name="sa"/>/<paramref name="sb"/>: that operand is one element broadcast.</summary>
    public static void Map<T, TM>(T[] a, int ao, bool sa, T[] b, int bo, bool sb, T[] y, int yo, int n, TM m) where T : unmanaged where TM : struct, IMap2<T>
    {
        if (n < ParallelThreshold) Map2Span(a.AsSpan(ao, sa ? 1 : n), b.AsSpan(bo, sb ? 1 : n), y.AsSpan(yo, n), m);
        else
            Parallelism.For(n, n, ParallelThreshold, (s, e) =>
                Map2Span(sa ? a.AsSpan(ao, 1) : a.AsSpan(ao + s, e - s), sb ? b.AsSpan(bo, 1) : b.AsSpan(bo + s, e - s), y.AsSpan(yo + s, e - s), m));
    }

    /// <summary>y = m(g, a, b) over n dense elements of each.</summary>
    public static void Map<T, TM>(T[] g, int go, T[] a, int ao, T[] b, int bo, T[] y, int yo, int n, TM m) where T : unmanaged where TM : struct, IMap3<T>
    {
        if (n < ParallelThreshold) Map3Span(g.AsSpan(go, n), a.AsSpan(ao, n), b.AsSpan(bo, n), y.AsSpan(yo, n), m);
        else
            Parallelism.For(n, n, ParallelThreshold, (s, e) =>
                Map3Span(g.AsSpan(go + s, e - s), a.AsSpan(ao + s, e - s), b.AsSpan(bo + s, e - s), y.AsSpan(yo + s, e - s), m));
    }

    /// <summary>The serial loop of <see cref="Map{T, TM}(T[], int, T[], int, int, TM)"/>.</summary>
    public static void Map1Span<T, TM>(ReadOnlySpan<T> x, Span<T> y, TM m) where T : unmanaged where TM : struct, IMap1<T>
    {
        int n = y.Length, i = 0;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
        {
            ref T xr = ref MemoryMarshal.GetReference(x);
            ref T yr = ref MemoryMarshal.GetReference(y);
            for (int w = Vector<T>.Count; i <= n - w; i += w)
                m.Map(Vector.LoadUnsafe(ref xr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
        }
        for (; i < n; i++) y[i] = m.Map(x[i]);
    }

    /// <summary>The serial loop of the two-operand map (an operand of length 1 broadcast when the output is longer).</summary>
    public static void Map2Span<T, TM>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y, TM m) where T : unmanaged where TM : struct, IMap2<T>
    {
        int n = y.Length, i = 0;
        bool sa = a.Length == 1 && n != 1, sb = b.Length == 1 && n != 1;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported && n >= Vector<T>.Count)
        {
            ref T ar = ref MemoryMarshal.GetReference(a);
            ref T br = ref MemoryMarshal.GetReference(b);
            ref T yr = ref MemoryMarshal.GetReference(y);
            Vector<T> a0 = new(a[0]), b0 = new(b[0]);
            for (int w = Vector<T>.Count; i <= n - w; i += w)
                m.Map(sa ? a0 : Vector.LoadUnsafe(ref ar, (nuint)i), sb ? b0 : Vector.LoadUnsafe(ref br, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
        }
        for (; i < n; i++) y[i] = m.Map(a[sa ? 0 : i], b[sb ? 0 : i]);
    }

    /// <summary>The serial loop of the three-operand map.</summary>
    public static void Map3Span<T, TM>(ReadOnlySpan<T> g, ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y, TM m) where T : unmanaged where TM : struct, IMap3<T>
    {
        int n = y.Length, i = 0;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
        {
            ref T gr = ref MemoryMarshal.GetReference(g);
            ref T ar = ref MemoryMarshal.GetReference(a);
            ref T br = ref MemoryMarshal.GetReference(b);
            ref T yr = ref MemoryMarshal.GetReference(y);
            for (int w = Vector<T>.Count; i <= n - w; i += w)
                m.Map(Vector.LoadUnsafe(ref gr, (nuint)i), Vector.LoadUnsafe(ref ar, (nuint)i), Vector.LoadUnsafe(ref br, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
        }
        for (; i < n; i++) y[i] = m.Map(g[i], a[i], b[i]);
    }

    /// <summary>The broadcast kernel table (<see cref="Elementwise.BinaryKernel{T}"/>) of a two-operand map.</summary>
    public static Elementwise.BinaryKernel<T> Table<T, TM>(TM m) where T : unmanaged where TM : struct, IMap2<T> => new(
        (a, b, d) => Map2Span(a, b, d, m), (a, s, d) => Map2Span(a, [s], d, m), (s, b, d) => Map2Span([s], b, d, m), (x, y) => m.Map(x, y));

    /// <summary>Chunks of a fused map-sum (fixed, so the sum's rounding does not depend on the thread count).</summary>
    private const int SumChunks = 16;

    /// <summary>Σ m(a[i], b[i]) over n dense elements, in one pass (no elementwise tensor): lanes summed in T over blocks
    /// of 64 vectors, the blocks and the chunks in double.</summary>
    public static double SumMap<T, TM>(T[] a, int ao, T[] b, int bo, int n, TM m) where T : unmanaged, INumberBase<T> where TM : struct, IMap2<T>
    {
        if (n < ParallelThreshold) return SumMap2Span<T, TM>(a.AsSpan(ao, n), b.AsSpan(bo, n), m);
        var part = new double[SumChunks];
        Parallelism.For(n, SumChunks, Parallelism.Threads(n, ParallelThreshold), (ch, s, e) => part[ch] = SumMap2Span<T, TM>(a.AsSpan(ao + s, e - s), b.AsSpan(bo + s, e - s), m));
        double t = 0;
        foreach (double p in part) t += p;
        return t;
    }

    /// <summary>The serial loop of <see cref="SumMap{T, TM}"/>.</summary>
    public static double SumMap2Span<T, TM>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, TM m) where T : unmanaged, INumberBase<T> where TM : struct, IMap2<T>
    {
        int n = a.Length, i = 0;
        double total = 0;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
        {
            ref T ar = ref MemoryMarshal.GetReference(a);
            ref T br = ref MemoryMarshal.GetReference(b);
            int w = Vector<T>.Count;
            while (i <= n - w)
            {
                var acc = Vector<T>.Zero;
                for (int end = Math.Min(n - w, i + 64 * w); i <= end; i += w)
                    acc += m.Map(Vector.LoadUnsafe(ref ar, (nuint)i), Vector.LoadUnsafe(ref br, (nuint)i));
                total += double.CreateTruncating(Vector.Sum(acc));
            }
        }
        for (; i < n; i++) total += double.CreateTruncating(m.Map(a[i], b[i]));
        return total;
    }

    // ---- select ---------------------------------------------------------------------------------

    /// <summary>
    /// y = c ? a : b over n elements of dense operands (bool condition bytes; any operand of length 1 broadcast, flagged by
    /// sc/sa/sb). 4- and 8-byte elements take AVX2 lanes (the condition bytes widened to lane masks); others a scalar loop.
    /// </summary>
    public static void Where<T>(bool[] c, int co, bool sc, T[] a, int ao, bool sa, T[] b, int bo, bool sb, T[] y, int n) where T : unmanaged
    {
        if (n < ParallelThreshold) WhereSpan(c.AsSpan(co, sc ? 1 : n), a.AsSpan(ao, sa ? 1 : n), b.AsSpan(bo, sb ? 1 : n), y.AsSpan(0, n));
        else
            Parallelism.For(n, n, ParallelThreshold, (s, e) => WhereSpan(sc ? c.AsSpan(co, 1) : c.AsSpan(co + s, e - s),
                sa ? a.AsSpan(ao, 1) : a.AsSpan(ao + s, e - s), sb ? b.AsSpan(bo, 1) : b.AsSpan(bo + s, e - s), y.AsSpan(s, e - s)));
    }

    /// <summary>The serial loop of <see cref="Where{T}"/>.</summary>
    public static void WhereSpan<T>(ReadOnlySpan<bool> c, ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) where T : unmanaged
    {
        int n = y.Length, i = 0;
        bool sc = c.Length == 1 && n != 1, sa = a.Length == 1 && n != 1, sb = b.Length == 1 && n != 1;
        if (sc)
        {
            var src = c[0] ? a : b;
            if (src.Length == 1 && n != 1) y.Fill(src[0]);
            else src.CopyTo(y);
            return;
        }
        var cb = MemoryMarshal.Cast<bool, byte>(c);
        if (Avx2.IsSupported && (Unsafe.SizeOf<T>() == 4 || Unsafe.SizeOf<T>() == 8))
        {
            ref byte cr = ref MemoryMarshal.GetReference(cb);
            ref T ar = ref MemoryMarshal.GetReference(a);
            ref T br = ref MemoryMarshal.GetReference(b);
            ref T yr = ref MemoryMarshal.GetReference(y);
            Vector256<T> a0 = Vector256.Create(a[0]), b0 = Vector256.Create(b[0]);
            if (Unsafe.SizeOf<T>() == 4)
                for (; i <= n - 8; i += 8)
                {
                    var bytes = Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref cr, i))).AsByte();
                    var off = Vector256.Equals(Avx2.ConvertToVector256Int32(bytes), Vector256<int>.Zero).As<int, T>();
                    Vector256.ConditionalSelect(off, sb ? b0 : Vector256.LoadUnsafe(ref br, (nuint)i), sa ? a0 : Vector256.LoadUnsafe(ref ar, (nuint)i))
                        .StoreUnsafe(ref yr, (nuint)i);
                }
            else
                for (; i <= n - 4; i += 4)
                {
                    var bytes = Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref cr, i))).AsByte();
                    var off = Vector256.Equals(Avx2.ConvertToVector256Int64(bytes), Vector256<long>.Zero).As<long, T>();
                    Vector256.ConditionalSelect(off, sb ? b0 : Vector256.LoadUnsafe(ref br, (nuint)i), sa ? a0 : Vector256.LoadUnsafe(ref ar, (nuint)i))
                        .StoreUnsafe(ref yr, (nuint)i);
                }
        }
        for (; i < n; i++) y[i] = cb[i] != 0 ? a[sa ? 0 : i] : b[sb ? 0 : i];
    }

    // ---- helpers of the maps ----------------------------------------------------------------------

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector<T> IsNan<T>(Vector<T> x) => ~Vector.Equals(x, x);

    /// <summary>x·y + z with one rounding (float and double lanes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector<T> Fma<T>(Vector<T> x, Vector<T> y, Vector<T> z) => typeof(T) == typeof(float)
        ? Vector.FusedMultiplyAdd(x.As<T, float>(), y.As<T, float>(), z.As<T, float>()).As<float, T>()
        : Vector.FusedMultiplyAdd(x.As<T, double>(), y.As<T, double>(), z.As<T, double>()).As<double, T>();

    /// <summary>PyTorch's lerp of one element (its CPU kernel's fused multiply-adds).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static T Lerp<T>(T a, T b, T w) where T : IFloatingPointIeee754<T> =>
        T.Abs(w) < T.CreateTruncating(0.5) ? T.FusedMultiplyAdd(w, b - a, a) : T.FusedMultiplyAdd(a - b, T.One - w, b);

    /// <summary>x below lo takes lo, above hi takes hi; NaN and ±0 pass through (PyTorch's vectorized clamp: min(max(x, lo), hi)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector<T> Clamp<T>(Vector<T> x, Vector<T> lo, Vector<T> hi)
    {
        var r = Vector.ConditionalSelect(Vector.LessThan(x, lo), lo, x);
        return Vector.ConditionalSelect(Vector.GreaterThan(r, hi), hi, r);
    }

    /// <inheritdoc cref="Clamp{T}(Vector{T}, Vector{T}, Vector{T})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static T Clamp<T>(T x, T lo, T hi) where T : IFloatingPointIeee754<T>
    {
        var r = x < lo ? lo : x;
        return r > hi ? hi : r;
    }
}

// ---- the maps (float and double through T) --------------------------------------------------------------

/// <summary>PyTorch's maximum/minimum: NaN if either is NaN, else the larger (smaller); on ties (±0) b, as PyTorch's vectorized kernel.</summary>
internal readonly struct MaxMinK<T>(bool max) : IMap2<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public Vector<T> Map(Vector<T> a, Vector<T> b)
    {
        var r = Vector.ConditionalSelect(max ? Vector.GreaterThan(a, b) : Vector.LessThan(a, b), a, b);
        return Vector.ConditionalSelect(Pointwise.IsNan(a) | Pointwise.IsNan(b), a + b, r);
    }

    public T Map(T a, T b) => T.IsNaN(a) || T.IsNaN(b) ? a + b : (max ? a > b : a < b) ? a : b;
}

/// <summary>C's fmax/fmin as PyTorch: a NaN operand is ignored (NaN only when both are); on ties (±0) a.</summary>
internal readonly struct FmaxFminK<T>(bool max) : IMap2<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public Vector<T> Map(Vector<T> a, Vector<T> b)
    {
        var r = Vector.ConditionalSelect(max ? Vector.GreaterThanOrEqual(a, b) : Vector.LessThanOrEqual(a, b), a, b);
        r = Vector.ConditionalSelect(Pointwise.IsNan(b), a, r);
        return Vector.ConditionalSelect(Pointwise.IsNan(a), b, r);
    }

    public T Map(T a, T b) => T.IsNaN(a) ? b : T.IsNaN(b) ? a : (max ? a >= b : a <= b) ? a : b;
}

/// <summary>Clamp to [lo, hi] (hardtanh, relu6): NaN and -0 pass through, as PyTorch.</summary>
internal readonly struct ClampK<T>(T lo, T hi) : IMap1<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public Vector<T> Map(Vector<T> x) => Pointwise.Clamp(x, new Vector<T>(lo), new Vector<T>(hi));
    public T Map(T x) => Pointwise.Clamp(x, lo, hi);
}

/// <summary>Leaky ReLU: x for x &gt; 0, else slope·x (NaN: slope·NaN).</summary>
internal readonly struct LeakyReluK<T>(T slope) : IMap1<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public Vector<T> Map(Vector<T> x) => Vector.ConditionalSelect(Vector.GreaterThan(x, Vector<T>.Zero), x, x * slope);
    public T Map(T x) => x > T.Zero ? x : x * slope;
}

/// <summary>Hardsigmoid as PyTorch: min(max(x + 3, 0), 6)/6 (NaN stays NaN).</summary>
internal readonly struct HardsigmoidK<T> : IMap1<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private static readonly T Three = T.CreateTruncating(3), Six = T.CreateTruncating(6);
    public Vector<T> Map(Vector<T> x) => Pointwise.Clamp(x + new Vector<T>(Three), Vector<T>.Zero, new Vector<T>(Six)) / new Vector<T>(Six);
    public T Map(T x) => Pointwise.Clamp(x + Three, T.Zero, Six) / Six;
}

/// <summary>Hardswish as PyTorch: x·min(max(x + 3, 0), 6)/6 (-inf gives NaN, as there).</summary>
internal readonly struct HardswishK<T> : IMap1<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private static readonly T Three = T.CreateTruncating(3), Six = T.CreateTruncating(6);
    public Vector<T> Map(Vector<T> x) => x * Pointwise.Clamp(x + new Vector<T>(Three), Vector<T>.Zero, new Vector<T>(Six)) / new Vector<T>(Six);
    public T Map(T x) => x * Pointwise.Clamp(x + Three, T.Zero, Six) / Six;
}

/// <summary>Softshrink: x − λ above λ, x + λ below −λ, else 0 (NaN gives 0, as PyTorch 1.13).</summary>
internal readonly struct SoftshrinkK<T>(T lambd) : IMap1<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public Vector<T> Map(Vector<T> x)
    {
        var l = new Vector<T>(lambd);
        return Vector.ConditionalSelect(Vector.GreaterThan(x, l), x - l, Vector.ConditionalSelect(Vector.LessThan(x, -l), x + l, Vector<T>.Zero));
    }

    public T Map(T x) => x > lambd ? x - lambd : x < -lambd ? x + lambd : T.Zero;
}

/// <summary>Hardshrink: 0 on [−λ, λ], else x (NaN stays NaN).</summary>
internal readonly struct HardshrinkK<T>(T lambd) : IMap1<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public Vector<T> Map(Vector<T> x) =>
        Vector.ConditionalSelect(Vector.GreaterThanOrEqual(x, new Vector<T>(-lambd)) & Vector.LessThanOrEqual(x, new Vector<T>(lambd)), Vector<T>.Zero, x);

    public T Map(T x) => x >= -lambd && x <= lambd ? T.Zero : x;
}

/// <summary>Threshold: value where x ≤ threshold, else x (NaN stays NaN).</summary>
internal readonly struct ThresholdK<T>(T threshold, T value) : IMap1<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public Vector<T> Map(Vector<T> x) => Vector.ConditionalSelect(Vector.LessThanOrEqual(x, new Vector<T>(threshold)), new Vector<T>(value), x);
    public T Map(T x) => x <= threshold ? value : x;
}

/// <summary>nan_to_num: NaN, +inf and -inf replaced.</summary>
internal readonly struct NanToNumK<T>(T nan, T pos, T neg) : IMap1<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public Vector<T> Map(Vector<T> x)
    {
        var r = Vector.ConditionalSelect(Vector.Equals(x, new Vector<T>(T.PositiveInfinity)), new Vector<T>(pos), x);
        r = Vector.ConditionalSelect(Vector.Equals(x, new Vector<T>(T.NegativeInfinity)), new Vector<T>(neg), r);
        return Vector.ConditionalSelect(Pointwise.IsNan(x), new Vector<T>(nan), r);
    }

    public T Map(T x) => T.IsNaN(x) ? nan : T.IsPositiveInfinity(x) ? pos : T.IsNegativeInfinity(x) ? neg : x;
}

// ---- fused first-order backward maps: (g, x) -> g·f'(x), a masked-out lane is 0 even where g is NaN (PyTorch's where) ----

/// <summary>The gradient kept where lo &lt;(=) x &lt;(=) hi, else 0 (clamp: inclusive; hardtanh, relu6: exclusive; NaN: 0).</summary>
internal readonly struct BetweenGradK<T>(T lo, T hi, bool inclusive, T scale) : IMap2<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public Vector<T> Map(Vector<T> g, Vector<T> x)
    {
        Vector<T> l = new(lo), h = new(hi);
        var keep = inclusive ? Vector.GreaterThanOrEqual(x, l) & Vector.LessThanOrEqual(x, h) : Vector.GreaterThan(x, l) & Vector.LessThan(x, h);
        return (g * scale) & keep;
    }

    public T Map(T g, T x) => (inclusive ? x >= lo && x <= hi : x > lo && x < hi) ? g * scale : T.Zero;
}

/// <summary>The gradient zeroed where lo ≤ x ≤ hi (<paramref name="inside"/>: softshrink/hardshrink on [−λ, λ]) or
/// where x ≤ lo or x ≥ hi (hardtanh, relu6), kept elsewhere, NaN included: PyTorch's scalar backward kernels
/// (shrink_backward, hardtanh_backward), which the edge goldens follow (its vectorized loop zeroes NaN instead).</summary>
internal readonly struct ZeroedGradK<T>(T lo, T hi, bool inside) : IMap2<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public Vector<T> Map(Vector<T> g, Vector<T> x)
    {
        Vector<T> l = new(lo), h = new(hi);
        return Vector.AndNot(g, inside ? Vector.GreaterThanOrEqual(x, l) & Vector.LessThanOrEqual(x, h) : Vector.LessThanOrEqual(x, l) | Vector.GreaterThanOrEqual(x, h));
    }

    public T Map(T g, T x) => (inside ? x >= lo && x <= hi : x <= lo || x >= hi) ? T.Zero : g;
}

/// <summary>The gradient kept unless x ≤ threshold (NaN keeps it): threshold.</summary>
internal readonly struct AboveGradK<T>(T threshold) : IMap2<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public Vector<T> Map(Vector<T> g, Vector<T> x) => Vector.AndNot(g, Vector.LessThanOrEqual(x, new Vector<T>(threshold)));
    public T Map(T g, T x) => x <= threshold ? T.Zero : g;
}

/// <summary>Leaky ReLU's gradient: g for x &gt; 0, else slope·g.</summary>
internal readonly struct LeakyReluGradK<T>(T slope) : IMap2<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public Vector<T> Map(Vector<T> g, Vector<T> x) => Vector.ConditionalSelect(Vector.GreaterThan(x, Vector<T>.Zero), g, g * slope);
    public T Map(T g, T x) => x > T.Zero ? g : g * slope;
}

/// <summary>Hardswish's gradient as PyTorch's scalar backward kernel (derivatives.yaml's formula): 0 below −3,
/// g·(x/3 + 1/2) on [−3, 3], g above 3 and at NaN.</summary>
internal readonly struct HardswishGradK<T> : IMap2<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private static readonly T Three = T.CreateTruncating(3), Half = T.CreateTruncating(0.5);

    public Vector<T> Map(Vector<T> g, Vector<T> x)
    {
        Vector<T> three = new(Three);
        var r = Vector.ConditionalSelect(Vector.LessThanOrEqual(x, three), g * (x / three + new Vector<T>(Half)), g);
        return Vector.AndNot(r, Vector.LessThan(x, -three));
    }

    public T Map(T g, T x) => x < -Three ? T.Zero : x <= Three ? g * (x / Three + Half) : g;
}

/// <summary>The gradient kept where x is finite (nan_to_num).</summary>
internal readonly struct FiniteGradK<T> : IMap2<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public Vector<T> Map(Vector<T> g, Vector<T> x) => g & Vector.LessThan(Vector.Abs(x), new Vector<T>(T.PositiveInfinity));
    public T Map(T g, T x) => T.IsFinite(x) ? g : T.Zero;
}

/// <summary>maximum/minimum's gradient for one operand as PyTorch: g/2 on ties, 0 where the other operand wins
/// (<paramref name="zeroWhereLess"/>: where a &lt; b, else where a &gt; b), g elsewhere (NaN included).</summary>
internal readonly struct MaxMinGradK<T>(bool zeroWhereLess) : IMap3<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private static readonly T Half = T.CreateTruncating(0.5);

    public Vector<T> Map(Vector<T> g, Vector<T> a, Vector<T> b)
    {
        var r = Vector.ConditionalSelect(Vector.Equals(a, b), g * Half, g);
        return Vector.AndNot(r, zeroWhereLess ? Vector.LessThan(a, b) : Vector.GreaterThan(a, b));
    }

    public T Map(T g, T a, T b) => (zeroWhereLess ? a < b : a > b) ? T.Zero : a == b ? g * Half : g;
}

/// <summary>fmax/fmin's gradient for one operand as PyTorch: a's where (a ≥ b, or a ≤ b for fmin) or b is NaN, b's elsewhere.</summary>
internal readonly struct FmaxFminGradK<T>(bool max, bool forA) : IMap3<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public Vector<T> Map(Vector<T> g, Vector<T> a, Vector<T> b)
    {
        var toA = (max ? Vector.GreaterThanOrEqual(a, b) : Vector.LessThanOrEqual(a, b)) | Pointwise.IsNan(b);
        return forA ? g & toA : Vector.AndNot(g, toA);
    }

    public T Map(T g, T a, T b) => ((max ? a >= b : a <= b) || T.IsNaN(b)) == forA ? g : T.Zero;
}

/// <summary>A per-element test (a lane mask of all-ones where true) written once for lanes and scalars.</summary>
internal interface ITest<T> where T : unmanaged
{
    /// <summary>The test on a vector of lanes.</summary>
    Vector<T> Mask(Vector<T> x);

    /// <summary>The test on one value.</summary>
    bool Eval(T x);
}

/// <summary>The value tests of <see cref="ValueTest{T}"/>.</summary>
internal enum ValueTestKind { IsNan, IsInf, IsFinite, IsPosInf, IsNegInf, Signbit }

/// <summary>The value tests of isnan/isinf/isfinite/isposinf/isneginf/signbit.</summary>
internal readonly struct ValueTest<T>(ValueTestKind kind) : ITest<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public Vector<T> Mask(Vector<T> x) => kind switch
    {
        ValueTestKind.IsNan => Pointwise.IsNan(x),
        ValueTestKind.IsInf => Vector.Equals(Vector.Abs(x), new Vector<T>(T.PositiveInfinity)),
        ValueTestKind.IsFinite => Vector.LessThan(Vector.Abs(x), new Vector<T>(T.PositiveInfinity)),
        ValueTestKind.IsPosInf => Vector.Equals(x, new Vector<T>(T.PositiveInfinity)),
        ValueTestKind.IsNegInf => Vector.Equals(x, new Vector<T>(T.NegativeInfinity)),
        // the sign bit itself (-0 and NaNs with the bit set included)
        _ => Unsafe.SizeOf<T>() == 4 ? Vector.LessThan(Vector.AsVectorInt32(x), Vector<int>.Zero).As<int, T>()
            : Vector.LessThan(Vector.AsVectorInt64(x), Vector<long>.Zero).As<long, T>(),
    };

    public bool Eval(T x) => kind switch
    {
        ValueTestKind.IsNan => T.IsNaN(x),
        ValueTestKind.IsInf => T.IsInfinity(x),
        ValueTestKind.IsFinite => T.IsFinite(x),
        ValueTestKind.IsPosInf => T.IsPositiveInfinity(x),
        ValueTestKind.IsNegInf => T.IsNegativeInfinity(x),
        _ => T.IsNegative(x),
    };
}

/// <summary>The bool-producing and comparison-free kernels of the elementwise family.</summary>
internal static class ValueKernels
{
    /// <summary>d[i] = test(x[i]) as bool bytes: lane masks narrowed to bytes (4- and 8-byte elements), else scalar.</summary>
    public static void Test<T, TT>(ReadOnlySpan<T> x, Span<bool> dst, TT t) where T : unmanaged where TT : struct, ITest<T>
    {
        int n = dst.Length, i = 0;
        var d = MemoryMarshal.Cast<bool, byte>(dst);
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported && (Unsafe.SizeOf<T>() == 4 || Unsafe.SizeOf<T>() == 8))
        {
            ref T xr = ref MemoryMarshal.GetReference(x);
            ref byte dr = ref MemoryMarshal.GetReference(d);
            int w = Vector<T>.Count, step = Vector<byte>.Count;
            for (; i <= n - step; i += step)
            {
                Vector<byte> m;
                if (Unsafe.SizeOf<T>() == 4)
                {
                    Vector<int> m0 = Vector.AsVectorInt32(t.Mask(Vector.LoadUnsafe(ref xr, (nuint)i))), m1 = Vector.AsVectorInt32(t.Mask(Vector.LoadUnsafe(ref xr, (nuint)(i + w)))),
                        m2 = Vector.AsVectorInt32(t.Mask(Vector.LoadUnsafe(ref xr, (nuint)(i + 2 * w)))), m3 = Vector.AsVectorInt32(t.Mask(Vector.LoadUnsafe(ref xr, (nuint)(i + 3 * w))));
                    m = Vector.AsVectorByte(Vector.Narrow(Vector.Narrow(m0, m1), Vector.Narrow(m2, m3)));
                }
                else
                {
                    Vector<int> q0 = Narrow8(ref xr, i, w, t), q1 = Narrow8(ref xr, i + 2 * w, w, t), q2 = Narrow8(ref xr, i + 4 * w, w, t), q3 = Narrow8(ref xr, i + 6 * w, w, t);
                    m = Vector.AsVectorByte(Vector.Narrow(Vector.Narrow(q0, q1), Vector.Narrow(q2, q3)));
                }
                (m & Vector<byte>.One).StoreUnsafe(ref dr, (nuint)i);
            }
        }
        for (; i < n; i++) d[i] = t.Eval(x[i]) ? (byte)1 : (byte)0;
    }

    /// <summary>Two 8-byte-lane test masks (elements i .. i + 2w) narrowed to one Vector&lt;int&gt;.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<int> Narrow8<T, TT>(ref T xr, int i, int w, TT t) where T : unmanaged where TT : struct, ITest<T> =>
        Vector.Narrow(Vector.AsVectorInt64(t.Mask(Vector.LoadUnsafe(ref xr, (nuint)i))), Vector.AsVectorInt64(t.Mask(Vector.LoadUnsafe(ref xr, (nuint)(i + w)))));

    /// <summary>Whether a and b hold equal values lane by lane (IEEE: NaN equals nothing, -0 equals 0), as PyTorch's equal.</summary>
    public static bool AllEqual<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = a.Length, i = 0;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
        {
            ref T ar = ref MemoryMarshal.GetReference(a);
            ref T br = ref MemoryMarshal.GetReference(b);
            for (int w = Vector<T>.Count; i <= n - w; i += w)
                if (!Vector.EqualsAll(Vector.AsVectorInt64(Vector.Equals(Vector.LoadUnsafe(ref ar, (nuint)i), Vector.LoadUnsafe(ref br, (nuint)i))), new Vector<long>(-1)))
                    return false; // the IEEE lane masks compared as integers
        }
        for (; i < n; i++) if (!(a[i] == b[i])) return false;
        return true;
    }
}

/// <summary>PyTorch's heaviside on floats: 0 for x &lt; 0 and NaN, v for x = ±0, 1 for x &gt; 0.</summary>
internal readonly struct HeavisideK<T> : IMap2<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public Vector<T> Map(Vector<T> x, Vector<T> v) =>
        Vector.ConditionalSelect(Vector.Equals(x, Vector<T>.Zero), v, Vector<T>.One & Vector.GreaterThan(x, Vector<T>.Zero));

    public T Map(T x, T v) => BinaryMath.Heaviside(x, v);
}

/// <summary>PyTorch's lerp with a scalar weight, with its fused multiply-adds: fma(w, end − start, start) when |w| &lt; 1/2,
/// else fma(−(end − start), 1 − w, end).</summary>
internal readonly struct LerpK<T>(T weight) : IMap2<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public Vector<T> Map(Vector<T> a, Vector<T> b) => T.Abs(weight) < T.CreateTruncating(0.5)
        ? Pointwise.Fma(new Vector<T>(weight), b - a, a) : Pointwise.Fma(a - b, new Vector<T>(T.One - weight), b);

    public T Map(T a, T b) => Pointwise.Lerp(a, b, weight);
}

/// <summary>PyTorch's lerp with a tensor weight (same formula, chosen per lane).</summary>
internal readonly struct LerpTensorK<T> : IMap3<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public Vector<T> Map(Vector<T> w, Vector<T> a, Vector<T> b) =>
        Vector.ConditionalSelect(Vector.LessThan(Vector.Abs(w), new Vector<T>(T.CreateTruncating(0.5))), Pointwise.Fma(w, b - a, a), Pointwise.Fma(a - b, Vector<T>.One - w, b));

    public T Map(T w, T a, T b) => Pointwise.Lerp(a, b, w);
}

/// <summary>frac: x − trunc(x) (sign of x; ±inf gives NaN, as PyTorch).</summary>
internal readonly struct FracK<T> : IMap1<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public Vector<T> Map(Vector<T> x) => x - (typeof(T) == typeof(float) ? Vector.Truncate(x.As<T, float>()).As<float, T>() : Vector.Truncate(x.As<T, double>()).As<double, T>());
    public T Map(T x) => x - T.Truncate(x);
}

/// <summary>The elementwise regression losses of d = a − b.</summary>
internal enum PointwiseLoss { Mse, L1, SmoothL1, Huber }

/// <summary>The elementwise loss of d = a − b as PyTorch's kernels compute it (z = |d|): mse d², l1 z, smooth_l1
/// z &lt; β ? ½z²/β : z − ½β, huber z &lt; δ ? ½z² : δ(z − ½δ).</summary>
internal readonly struct LossK<T>(PointwiseLoss kind, T p) : IMap2<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private static readonly T Half = T.CreateTruncating(0.5);

    public Vector<T> Map(Vector<T> a, Vector<T> b)
    {
        var d = a - b;
        var z = Vector.Abs(d);
        return kind switch
        {
            PointwiseLoss.Mse => d * d,
            PointwiseLoss.L1 => z,
            PointwiseLoss.SmoothL1 => Vector.ConditionalSelect(Vector.LessThan(z, new Vector<T>(p)), z * z * Half / new Vector<T>(p), z - new Vector<T>(Half * p)),
            _ => Vector.ConditionalSelect(Vector.LessThan(z, new Vector<T>(p)), z * z * Half, (z - new Vector<T>(Half * p)) * p),
        };
    }

    public T Map(T a, T b)
    {
        T d = a - b, z = T.Abs(d);
        return kind switch
        {
            PointwiseLoss.Mse => d * d,
            PointwiseLoss.L1 => z,
            PointwiseLoss.SmoothL1 => z < p ? Half * z * z / p : z - Half * p,
            _ => z < p ? Half * z * z : p * (z - Half * p),
        };
    }
}

/// <summary>The loss's gradient for a: scale·g·f'(a − b) (g from the 3-operand form, else 1) as PyTorch's backward kernels:
/// mse 2d, l1 sign(d) (0 at NaN), smooth_l1 d/β clamped to ±1, huber d clamped to ±δ (NaN d gives NaN).</summary>
internal readonly struct LossGradK<T>(PointwiseLoss kind, T p, T scale) : IMap2<T>, IMap3<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private static readonly T Two = T.CreateTruncating(2);

    private Vector<T> D(Vector<T> a, Vector<T> b)
    {
        var d = a - b;
        switch (kind)
        {
            case PointwiseLoss.Mse: return d * Two;
            case PointwiseLoss.L1:
            {
                var one = Vector<T>.One;
                // 0 at d = 0 and at NaN, as PyTorch's l1 backward
                return Vector.ConditionalSelect(Vector.GreaterThan(d, Vector<T>.Zero), one, Vector<T>.Zero) - Vector.ConditionalSelect(Vector.LessThan(d, Vector<T>.Zero), one, Vector<T>.Zero);
            }
            case PointwiseLoss.SmoothL1: return Pointwise.Clamp(d / new Vector<T>(p), -Vector<T>.One, Vector<T>.One);
            default: return Pointwise.Clamp(d, new Vector<T>(-p), new Vector<T>(p));
        }
    }

    private T D(T a, T b)
    {
        T d = a - b;
        return kind switch
        {
            PointwiseLoss.Mse => d * Two,
            PointwiseLoss.L1 => d > T.Zero ? T.One : d < T.Zero ? -T.One : T.Zero,
            PointwiseLoss.SmoothL1 => Pointwise.Clamp(d / p, -T.One, T.One),
            _ => Pointwise.Clamp(d, -p, p),
        };
    }

    public Vector<T> Map(Vector<T> a, Vector<T> b) => D(a, b) * scale;
    public T Map(T a, T b) => D(a, b) * scale;
    public Vector<T> Map(Vector<T> g, Vector<T> a, Vector<T> b) => D(a, b) * (g * scale);
    public T Map(T g, T a, T b) => D(a, b) * (g * scale);
}

// ---- addcmul / addcdiv (one pass forward, one pass per operand backward) --------------------------

/// <summary>addcmul x + (v·a)·b and addcdiv x + (v·a)/b (the IMap3 operands are x, a, b), in PyTorch's rounding order.</summary>
internal readonly struct AddcK<T>(T value, bool div) : IMap3<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public Vector<T> Map(Vector<T> x, Vector<T> a, Vector<T> b) => div ? x + a * value / b : x + a * value * b;
    public T Map(T x, T a, T b) => div ? x + value * a / b : x + value * a * b;
}

/// <summary>The gradient of addcmul/addcdiv for a tensor operand: addcmul g·(v·other); addcdiv tensor1 g·(v/t2)
/// (<c>other</c> = t2) and tensor2 −g·v·t1/(t2·t2) (the IMap3 operands are g, t1, t2), as PyTorch's derivatives.</summary>
internal readonly struct AddcGradK<T>(T value) : IMap2<T>, IMap3<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>addcmul: g·(v·other).</summary>
    public Vector<T> Map(Vector<T> g, Vector<T> other) => g * (other * value);
    public T Map(T g, T other) => g * (other * value);
    /// <summary>addcdiv's tensor2: −g·v·t1/(t2·t2).</summary>
    public Vector<T> Map(Vector<T> g, Vector<T> t1, Vector<T> t2) => -g * value * t1 / (t2 * t2);
    public T Map(T g, T t1, T t2) => -g * value * t1 / (t2 * t2);
}

/// <summary>addcdiv's tensor1 gradient g·(v/t2).</summary>
internal readonly struct AddcdivGrad1K<T>(T value) : IMap2<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public Vector<T> Map(Vector<T> g, Vector<T> t2) => g * (new Vector<T>(value) / t2);
    public T Map(T g, T t2) => g * (value / t2);
}

// ---- losses of logits and probabilities (soft margin, BCE with logits, KL divergence) ---------------

/// <summary>The elementwise losses of <see cref="LogitLossK{T}"/> (a = input, b = target).</summary>
internal enum LogitLoss { SoftMargin, BceWithLogits, KlDiv, KlDivLogTarget, PoissonLog }

/// <summary>Vector exp/log and the stable softplus and sigmoid the logit losses share.</summary>
internal static class LogitMath
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Exp<T>(Vector<T> x) => typeof(T) == typeof(float)
        ? Vector.Exp(x.As<T, float>()).As<float, T>() : Vector.Exp(x.As<T, double>()).As<double, T>();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Log<T>(Vector<T> x) => typeof(T) == typeof(float)
        ? Vector.Log(x.As<T, float>()).As<float, T>() : Vector.Log(x.As<T, double>()).As<double, T>();

    /// <summary>log1p(e) for e ≥ 0 accurate at tiny e: log(u)·e/(u − 1) with u = 1 + e (e itself where u rounds to 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Log1pPos<T>(Vector<T> e) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var u = Vector<T>.One + e;
        var um1 = u - Vector<T>.One;
        return Vector.ConditionalSelect(Vector.Equals(um1, Vector<T>.Zero), e, Log(u) * e / um1);
    }

    /// <summary>softplus(z) = max(z, 0) + log1p(e^−|z|) (no overflow).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Softplus<T>(Vector<T> z) where T : unmanaged, IFloatingPointIeee754<T> =>
        Vector.Max(z, Vector<T>.Zero) + Log1pPos(Exp(-Vector.Abs(z)));

    /// <summary>σ(z) from e = e^−|z|: 1/(1 + e) for z ≥ 0, e/(1 + e) below.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Sigmoid<T>(Vector<T> z) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var e = Exp(-Vector.Abs(z));
        var d = Vector<T>.One + e;
        return Vector.ConditionalSelect(Vector.GreaterThanOrEqual(z, Vector<T>.Zero), Vector<T>.One / d, e / d);
    }

    public static T Softplus<T>(T z) where T : IFloatingPointIeee754<T>
    {
        // log1p(e) as the lanes do (.NET's LogP1 is log(1 + e), which loses tiny e)
        T e = T.Exp(-T.Abs(z)), u = T.One + e, um1 = u - T.One;
        return T.Max(z, T.Zero) + (um1 == T.Zero ? e : T.Log(u) * e / um1);
    }

    public static T Sigmoid<T>(T z) where T : IFloatingPointIeee754<T>
    {
        T e = T.Exp(-T.Abs(z));
        return z >= T.Zero ? T.One / (T.One + e) : e / (T.One + e);
    }
}

/// <summary>The elementwise loss of input a and target b: soft margin softplus(−b·a); BCE with logits (1 − b)·a + softplus(−a);
/// KL divergence xlogy(b, b) − b·a (0·log 0 = 0), with a log target e^b·(b − a); Poisson NLL of a log rate e^a − b·a.</summary>
internal readonly struct LogitLossK<T>(LogitLoss kind) : IMap2<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public Vector<T> Map(Vector<T> a, Vector<T> b) => kind switch
    {
        LogitLoss.SoftMargin => LogitMath.Softplus(-(b * a)),
        LogitLoss.BceWithLogits => (Vector<T>.One - b) * a + LogitMath.Softplus(-a),
        LogitLoss.KlDiv => Vector.ConditionalSelect(Vector.Equals(b, Vector<T>.Zero), Vector<T>.Zero, b * LogitMath.Log(b)) - b * a,
        LogitLoss.PoissonLog => LogitMath.Exp(a) - b * a,
        _ => LogitMath.Exp(b) * (b - a),
    };

    public T Map(T a, T b) => kind switch
    {
        LogitLoss.SoftMargin => LogitMath.Softplus(-(b * a)),
        LogitLoss.BceWithLogits => (T.One - b) * a + LogitMath.Softplus(-a),
        LogitLoss.KlDiv => (b == T.Zero ? T.Zero : b * T.Log(b)) - b * a,
        LogitLoss.PoissonLog => T.Exp(a) - b * a,
        _ => T.Exp(b) * (b - a),
    };
}

/// <summary>scale·g·∂ℓ/∂(input or target) of <see cref="LogitLossK{T}"/> (g from the 3-operand form, else 1): soft margin
/// −b·σ(−ab) / −a·σ(−ab); BCE σ(a) − b / −a; KL −b / (b = 0 ? 0 : log b + 1) − a; KL log target −e^b / e^b·(b − a + 1);
/// Poisson (log rate) e^a − b / −a.</summary>
internal readonly struct LogitLossGradK<T>(LogitLoss kind, bool forTarget, T scale) : IMap2<T>, IMap3<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private Vector<T> D(Vector<T> a, Vector<T> b)
    {
        switch (kind)
        {
            case LogitLoss.SoftMargin: return -(forTarget ? a : b) * LogitMath.Sigmoid(-(b * a));
            case LogitLoss.BceWithLogits: return forTarget ? -a : LogitMath.Sigmoid(a) - b;
            case LogitLoss.KlDiv:
                return forTarget ? Vector.ConditionalSelect(Vector.Equals(b, Vector<T>.Zero), Vector<T>.Zero, LogitMath.Log(b) + Vector<T>.One) - a : -b;
            case LogitLoss.PoissonLog: return forTarget ? -a : LogitMath.Exp(a) - b;
            default:
            {
                var e = LogitMath.Exp(b);
                return forTarget ? e * (b - a + Vector<T>.One) : -e;
            }
        }
    }

    private T D(T a, T b) => kind switch
    {
        LogitLoss.SoftMargin => -(forTarget ? a : b) * LogitMath.Sigmoid(-(b * a)),
        LogitLoss.BceWithLogits => forTarget ? -a : LogitMath.Sigmoid(a) - b,
        LogitLoss.KlDiv => forTarget ? (b == T.Zero ? T.Zero : T.Log(b) + T.One) - a : -b,
        LogitLoss.PoissonLog => forTarget ? -a : T.Exp(a) - b,
        _ => forTarget ? T.Exp(b) * (b - a + T.One) : -T.Exp(b),
    };

    public Vector<T> Map(Vector<T> a, Vector<T> b) => D(a, b) * scale;
    public T Map(T a, T b) => D(a, b) * scale;
    public Vector<T> Map(Vector<T> g, Vector<T> a, Vector<T> b) => D(a, b) * (g * scale);
    public T Map(T g, T a, T b) => D(a, b) * (g * scale);
}
