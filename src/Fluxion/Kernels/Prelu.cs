using System.Numerics;

namespace Fluxion.Kernels;

/// <summary>PReLU with the slope as an operand: x for x &gt; 0, else s·x (NaN: s·NaN), as PyTorch.</summary>
internal readonly struct PreluK<T> : IMap2<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public Vector<T> Map(Vector<T> x, Vector<T> s) => Vector.ConditionalSelect(Vector.GreaterThan(x, Vector<T>.Zero), x, x * s);
    public T Map(T x, T s) => x > T.Zero ? x : x * s;
}

/// <summary>PReLU's input gradient with the slope as an operand (g, x, s): g for x &gt; 0, else s·g.</summary>
internal readonly struct PreluGradK<T> : IMap3<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public Vector<T> Map(Vector<T> g, Vector<T> x, Vector<T> s) => Vector.ConditionalSelect(Vector.GreaterThan(x, Vector<T>.Zero), g, g * s);
    public T Map(T g, T x, T s) => x > T.Zero ? g : g * s;
}

/// <summary>PReLU's weight gradient terms (g, x): 0 for x &gt; 0, else x·g (summed per channel by the caller).</summary>
internal readonly struct PreluWeightGradK<T> : IMap2<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public Vector<T> Map(Vector<T> g, Vector<T> x) => Vector.ConditionalSelect(Vector.GreaterThan(x, Vector<T>.Zero), Vector<T>.Zero, x * g);
    public T Map(T g, T x) => x > T.Zero ? T.Zero : x * g;
}

/// <summary>
/// PReLU over dense [outer, C, inner] data with one slope per channel, one pass: rows of at least
/// <see cref="RowMin"/> elements take the one-slope map per row; shorter rows a slope pattern (the channel slopes, each
/// repeated inner times, tiled to about <see cref="PatternTarget"/> elements) read alongside the data in blocks that start
/// at a channel-0 boundary, so the map stays SIMD whatever the layout.
/// </summary>
internal static class PreluKernel
{
    /// <summary>Row length from which the per-row map is used.</summary>
    internal const int RowMin = 256;

    /// <summary>Target length of the tiled slope pattern.</summary>
    private const int PatternTarget = 4096;

    /// <summary>The slope pattern of one period (C·inner) tiled to a multiple of it near <see cref="PatternTarget"/>.</summary>
    private static T[] Pattern<T>(ReadOnlySpan<T> w, int c, int inner)
    {
        int period = c * inner, reps = Math.Max(1, PatternTarget / period);
        var p = new T[period * reps];
        for (int j = 0; j < p.Length; j++) p[j] = w[j % period / inner];
        return p;
    }

    /// <summary>y = prelu(x) over n = outer·C·inner dense elements (w: C slopes).</summary>
    public static void Forward<T>(T[] x, int xo, T[] w, int c, int inner, T[] y, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (n == 0) return;
        if (inner >= RowMin)
        {
            int rows = n / inner;
            Parallelism.For(rows, n, Pointwise.ParallelThreshold, (r0, r1) =>
            {
                for (int r = r0; r < r1; r++)
                    Pointwise.Map1Span(x.AsSpan(xo + r * inner, inner), y.AsSpan(r * inner, inner), new LeakyReluK<T>(w[r % c]));
            });
            return;
        }
        var p = Pattern<T>(w, c, inner);
        int len = p.Length, blocks = (n + len - 1) / len;
        Parallelism.For(blocks, n, Pointwise.ParallelThreshold, (b0, b1) =>
        {
            for (int b = b0; b < b1; b++)
            {
                int s = b * len, m = Math.Min(len, n - s);
                Pointwise.Map2Span<T, PreluK<T>>(x.AsSpan(xo + s, m), p.AsSpan(0, m), y.AsSpan(s, m), default);
            }
        });
    }

    /// <summary>gx = prelu's input gradient over n dense elements (g and x of one layout).</summary>
    public static void InputGrad<T>(T[] g, int go, T[] x, int xo, T[] w, int c, int inner, T[] gx, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (n == 0) return;
        if (inner >= RowMin)
        {
            int rows = n / inner;
            Parallelism.For(rows, n, Pointwise.ParallelThreshold, (r0, r1) =>
            {
                for (int r = r0; r < r1; r++)
                    Pointwise.Map2Span(g.AsSpan(go + r * inner, inner), x.AsSpan(xo + r * inner, inner), gx.AsSpan(r * inner, inner), new LeakyReluGradK<T>(w[r % c]));
            });
            return;
        }
        var p = Pattern<T>(w, c, inner);
        int len = p.Length, blocks = (n + len - 1) / len;
        Parallelism.For(blocks, n, Pointwise.ParallelThreshold, (b0, b1) =>
        {
            for (int b = b0; b < b1; b++)
            {
                int s = b * len, m = Math.Min(len, n - s);
                Pointwise.Map3Span<T, PreluGradK<T>>(g.AsSpan(go + s, m), x.AsSpan(xo + s, m), p.AsSpan(0, m), gx.AsSpan(s, m), default);
            }
        });
    }
}
