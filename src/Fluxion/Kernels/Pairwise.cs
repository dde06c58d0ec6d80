using System.Numerics;
using System.Numerics.Tensors;

namespace Fluxion.Kernels;

/// <summary>Pairwise distances between the rows of two dense matrices, without forming differences.</summary>
internal static class Pairwise
{
    /// <summary>
    /// dst[b, p, r] = ‖a[b, p, :] − c[b, r, :]‖₂ for dense row-major a [batch, P, M] at
    /// <paramref name="aOff"/> and c [batch, R, M] at <paramref name="cOff"/>; dst is [batch, P, R].
    /// Rows of the output are split across threads when the work is large.
    /// </summary>
    public static void EuclideanDistance<T>(T[] a, int aOff, T[] c, int cOff, T[] dst, int batch, int p, int r, int m) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = batch * p;
        Reduce.For(rows, (long)rows * r * Math.Max(m, 1), (r0, r1) =>
        {
            for (int row = r0; row < r1; row++)
            {
                int b = row / p;
                var x = a.AsSpan(aOff + row * m, m);
                var d = dst.AsSpan(row * r, r);
                int cb = cOff + b * r * m;
                if (m == 0) d.Clear();
                else if (m < 16)
                {
                    // short rows (points in 2-D/3-D): a scalar loop beats the vector call overhead
                    for (int j = 0; j < r; j++)
                    {
                        var y = c.AsSpan(cb + j * m, m);
                        T s = T.Zero;
                        for (int k = 0; k < m; k++)
                        {
                            T t = x[k] - y[k];
                            s += t * t;
                        }
                        d[j] = T.Sqrt(s);
                    }
                }
                else
                    for (int j = 0; j < r; j++) d[j] = TensorPrimitives.Distance<T>(x, c.AsSpan(cb + j * m, m));
            }
        });
    }
}
