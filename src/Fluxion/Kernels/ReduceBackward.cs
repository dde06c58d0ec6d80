using System.Numerics;

namespace Fluxion.Kernels;

/// <summary>First-order backward kernels of reductions (the registry's VJP formulas computed in one or two passes when
/// the incoming gradient is not itself tracked).</summary>
internal static class ReduceBackward
{
    /// <summary>
    /// The gradient of amax/amin: dx[i] = g[k]·(1/count[k]) where x[i] equals the extreme y[k] of its group k (NaN
    /// matching NaN), g[k]·0 elsewhere, count[k] being the number of such ties. x is a strided view over
    /// <paramref name="shape"/>; y and g are dense over the kept shape, seen through <paramref name="keepStrides"/>
    /// (0 on the reduced dims); dx is dense over <paramref name="shape"/>. The arithmetic is the formula's
    /// (weights 1/count in T, then times g), so the values are identical.
    /// </summary>
    public static void ExtremeGrad<T>(T[] x, int xOff, int[] xStrides, T[] y, int yOff, T[] g, int gOff, int groups,
        int[] keepStrides, int[] shape, T[] dx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var count = new int[groups];
        Strided.ForEachRow(shape, [xStrides, keepStrides], [xOff, 0], (p, n, s) =>
        {
            int xs = s[0], ks = s[1];
            for (int i = 0, a = p[0], k = p[1]; i < n; i++, a += xs, k += ks)
            {
                T xv = x[a], yv = y[yOff + k];
                if (xv == yv || (T.IsNaN(xv) && T.IsNaN(yv))) count[k]++;
            }
        });
        var inv = new T[groups];
        for (int k = 0; k < groups; k++) inv[k] = T.One / T.CreateTruncating(count[k]);
        var dxStrides = ShapeUtil.ContiguousStrides(shape);
        Strided.ForEachRow(shape, [xStrides, keepStrides, dxStrides], [xOff, 0, 0], (p, n, s) =>
        {
            int xs = s[0], ks = s[1], ds = s[2];
            for (int i = 0, a = p[0], k = p[1], o = p[2]; i < n; i++, a += xs, k += ks, o += ds)
            {
                T xv = x[a], yv = y[yOff + k];
                bool hit = xv == yv || (T.IsNaN(xv) && T.IsNaN(yv));
                dx[o] = g[gOff + k] * (hit ? inv[k] : T.Zero);
            }
        });
    }
}
