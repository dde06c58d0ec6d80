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
        if (UseMatMul(p, r, m))
        {
            EuclideanDistanceMatMul(a, aOff, c, cOff, dst, batch, p, r, m);
            return;
        }
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

    /// <summary>Whether the distances are computed through a matrix product (PyTorch's default compute mode,
    /// <c>use_mm_for_euclid_dist_if_necessary</c>: when P &gt; 25 or R &gt; 25).</summary>
    public static bool UseMatMul(int p, int r, int m) => m > 0 && (p > 25 || r > 25);

    /// <summary>
    /// The distances as PyTorch computes them for large sets: d² = ‖a_p‖² + ‖c_r‖² − 2·a_p·c_r with the cross term one
    /// GEMM per batch. Where cancellation would cost accuracy (d² &lt; 2^-10·(‖a_p‖² + ‖c_r‖²): points much closer together
    /// than their norms, coincident ones included) the pair is recomputed from its differences, so those distances, the
    /// exact 0 of coincident points and hence the gradient convention (0 where d = 0) are the direct kernel's; elsewhere the
    /// relative error of d stays within about 2^9·eps.
    /// </summary>
    public static void EuclideanDistanceMatMul<T>(T[] a, int aOff, T[] c, int cOff, T[] dst, int batch, int p, int r, int m) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var an = new T[batch * p];
        var cn = new T[batch * r];
        for (int i = 0; i < an.Length; i++) an[i] = TensorPrimitives.SumOfSquares<T>(a.AsSpan(aOff + i * m, m));
        for (int i = 0; i < cn.Length; i++) cn[i] = TensorPrimitives.SumOfSquares<T>(c.AsSpan(cOff + i * m, m));
        for (int b = 0; b < batch; b++)
        {
            // dst_b = a_b · c_bᵀ (c_b read transposed through its strides)
            Gemm.MatMul(a, aOff + b * p * m, m, 1, c, cOff + b * r * m, 1, m, dst, b * p * r, p, m, r);
        }
        T tau = T.CreateTruncating(1.0 / 1024), two = T.CreateTruncating(2);
        int rows = batch * p;
        Reduce.For(rows, (long)rows * r, (r0, r1) =>
        {
            for (int row = r0; row < r1; row++)
            {
                var d = dst.AsSpan(row * r, r);
                var cnb = new ReadOnlySpan<T>(cn, row / p * r, r);
                T ar = an[row];
                int j = 0;
                if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
                {
                    Vector<T> va = new(ar), vt = new(tau), v2 = new(two);
                    for (int w = Vector<T>.Count; j <= r - w; j += w)
                    {
                        var vc = new Vector<T>(cnb.Slice(j, w));
                        var sum = va + vc;
                        var sq = sum - v2 * new Vector<T>(d.Slice(j, w));
                        if (Vector.GreaterThanOrEqualAll(sq, vt * sum)) Vector.SquareRoot(sq).CopyTo(d.Slice(j, w));
                        else
                            for (int k = j; k < j + w; k++) d[k] = Finish(a, aOff + row * m, c, cOff + (row / p * r + k) * m, m, ar, cnb[k], d[k], tau);
                    }
                }
                for (; j < r; j++) d[j] = Finish(a, aOff + row * m, c, cOff + (row / p * r + j) * m, m, ar, cnb[j], d[j], tau);
            }
        });
    }

    /// <summary>One distance from its norms and dot product, or from the differences where cancellation would cost accuracy
    /// (or the formula gives NaN: infinite coordinates).</summary>
    private static T Finish<T>(T[] a, int ai, T[] c, int ci, int m, T an, T cn, T dot, T tau) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T sum = an + cn, sq = sum - (dot + dot);
        if (sq >= tau * sum) return T.Sqrt(sq);
        T s = T.Zero;
        for (int k = 0; k < m; k++)
        {
            T t = a[ai + k] - c[ci + k];
            s += t * t;
        }
        return T.Sqrt(s);
    }
}
