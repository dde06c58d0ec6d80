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
        (a, b, d) => Map2Span(a, b, d, m), (a, s, d) => Map2Span(a, [s], d, m), (s, b, d) => Map2Span([s], b, d, m), m.Map);

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

/// <summary>The gradient kept where |x| &gt; λ (x &gt; λ or x &lt; −λ; NaN: 0): softshrink and hardshrink.</summary>
internal readonly struct OutsideGradK<T>(T lambd) : IMap2<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public Vector<T> Map(Vector<T> g, Vector<T> x) =>
        g & (Vector.GreaterThan(x, new Vector<T>(lambd)) | Vector.LessThan(x, new Vector<T>(-lambd)));

    public T Map(T g, T x) => x > lambd || x < -lambd ? g : T.Zero;
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

/// <summary>Hardswish's gradient as PyTorch's vectorized kernel: 0 below −3, g from 3 on, g·(x/3 + 1/2) between (NaN: NaN).</summary>
internal readonly struct HardswishGradK<T> : IMap2<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private static readonly T Three = T.CreateTruncating(3), Half = T.CreateTruncating(0.5);

    public Vector<T> Map(Vector<T> g, Vector<T> x)
    {
        Vector<T> three = new(Three);
        var r = Vector.ConditionalSelect(Vector.GreaterThanOrEqual(x, three), g, g * (x / three + new Vector<T>(Half)));
        return Vector.AndNot(r, Vector.LessThan(x, -three));
    }

    public T Map(T g, T x) => x < -Three ? T.Zero : x >= Three ? g : g * (x / Three + Half);
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
