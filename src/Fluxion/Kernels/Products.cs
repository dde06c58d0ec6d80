using System.Numerics;
using System.Numerics.Tensors;

namespace Fluxion.Kernels;

/// <summary>
/// Direct kernels of ops the registry defines as compositions (outer/addr, cartesian_prod): the eager forward writes
/// the result in one pass into one allocation, with the same per-element arithmetic as the composition (so the values
/// are identical); recorded or traced calls still go through the composition, whose entries carry the derivatives.
/// </summary>
internal static class Products
{
    /// <summary>
    /// dst[i, j] = α·(a[i]·b[j]) (+ β·input[i, j]) over the dense row-major [n, m] <paramref name="dst"/>: a[i] at
    /// aOff + i·aStride, b dense (length m), the input seen through broadcast strides (row, column; 0 on broadcast dims).
    /// <paramref name="alpha"/> = 1 skips the scaling, a null <paramref name="input"/> the addition and
    /// <paramref name="beta"/> = 1 the input's scaling. Rows split over the threads for large outputs.
    /// </summary>
    public static void Outer<T>(T[] a, int aOff, int aStride, ReadOnlySpan<T> b, T[] dst, int n, T alpha,
        T[]? input, int inOff, int inRowStride, int inColStride, T beta) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int m = b.Length;
        if (n == 0 || m == 0) return;
        var bArr = b.ToArray();
        Parallelism.For(n, (long)n * m, Strided.ParallelElements, (r0, r1) =>
        {
            var tmp = input is not null && inColStride != 0 && beta != T.One ? new T[m] : null;
            for (int i = r0; i < r1; i++)
            {
                var d = dst.AsSpan(i * m, m);
                TensorPrimitives.Multiply(bArr, a[aOff + i * aStride], d);
                if (alpha != T.One) TensorPrimitives.Multiply(d, alpha, d);
                if (input is null) continue;
                int k = inOff + i * inRowStride;
                if (inColStride == 0)
                    TensorPrimitives.Add(d, beta == T.One ? input[k] : input[k] * beta, d);
                else if (inColStride == 1)
                {
                    var row = input.AsSpan(k, m);
                    if (tmp is null) TensorPrimitives.Add(d, row, d);
                    else
                    {
                        TensorPrimitives.Multiply(row, beta, tmp);
                        TensorPrimitives.Add(d, tmp, d);
                    }
                }
                else
                    for (int j = 0; j < m; j++, k += inColStride) d[j] += beta == T.One ? input[k] : input[k] * beta;
            }
        });
    }

    /// <summary>
    /// The rows of the cartesian product of k vectors into the dense row-major [Π n_i, k] <paramref name="dst"/>: row r holds
    /// (v_0[i_0], ..., v_{k-1}[i_{k-1}]) with (i_0, ..., i_{k-1}) the row-major multi-index of r. Each vector is given as
    /// (array, offset, stride, length).
    /// </summary>
    public static void Cartesian<T>((T[] Data, int Offset, int Stride, int Length)[] vectors, T[] dst)
    {
        int k = vectors.Length;
        long rows = 1;
        foreach (var v in vectors) rows *= v.Length;
        if (rows == 0) return;
        // blocks of rows sharing the leading indices: the last vector runs down the last column of each block
        var (lastData, lastOff, lastStride, nl) = vectors[k - 1];
        int blocks = (int)(rows / nl);
        Parallelism.For(blocks, rows * k, Strided.ParallelElements, (b0, b1) =>
        {
            var idx = new int[k - 1];
            var pv = new T[k - 1];
            for (int c = k - 2, rem = b0; c >= 0; c--)
            {
                idx[c] = rem % vectors[c].Length;
                rem /= vectors[c].Length;
            }
            for (int blk = b0; blk < b1; blk++)
            {
                for (int c = 0; c < k - 1; c++) pv[c] = vectors[c].Data[vectors[c].Offset + idx[c] * vectors[c].Stride];
                int o = blk * nl * k;
                if (k == 2)
                {
                    T v0 = pv[0];
                    for (int j = 0, q = lastOff; j < nl; j++, q += lastStride, o += 2)
                    {
                        dst[o] = v0;
                        dst[o + 1] = lastData[q];
                    }
                }
                else
                    for (int j = 0, q = lastOff; j < nl; j++, q += lastStride, o += k)
                    {
                        for (int c = 0; c < k - 1; c++) dst[o + c] = pv[c];
                        dst[o + k - 1] = lastData[q];
                    }
                for (int c = k - 2; c >= 0 && ++idx[c] == vectors[c].Length; c--) idx[c] = 0;
            }
        });
    }

    /// <summary>
    /// dst[o] = Σ_j a[pa(o) + j·sa]·b[pb(o) + j·sb] for every position o (row-major) of <paramref name="outer"/>, where
    /// pa/pb follow the outer strides: a contraction along one dim of two broadcast operands (linalg.vecdot) without the
    /// full-size product. Unit-stride runs use a SIMD dot product; positions are split over the threads.
    /// </summary>
    public static void RowDots<T>(T[] a, int aOff, int[] aOuter, int sa, T[] b, int bOff, int[] bOuter, int sb, int n, int[] outer, T[] dst)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int count = dst.Length == 0 ? 0 : ShapeUtil.Numel(outer);
        if (count == 0) return;
        int rank = outer.Length;
        Parallelism.For(count, (long)count * n, Strided.ParallelElements, (o0, o1) =>
        {
            var idx = new int[rank];
            int pa = aOff, pb = bOff;
            for (int k = rank - 1, rem = o0; k >= 0; k--)
            {
                idx[k] = rem % outer[k];
                rem /= outer[k];
                pa += idx[k] * aOuter[k];
                pb += idx[k] * bOuter[k];
            }
            for (int o = o0; o < o1; o++)
            {
                if (sa == 1 && sb == 1) dst[o] = TensorPrimitives.Dot(new ReadOnlySpan<T>(a, pa, n), new ReadOnlySpan<T>(b, pb, n));
                else
                {
                    T s = T.Zero;
                    for (int j = 0, x = pa, y = pb; j < n; j++, x += sa, y += sb) s += a[x] * b[y];
                    dst[o] = s;
                }
                for (int k = rank - 1; k >= 0; k--)
                {
                    pa += aOuter[k];
                    pb += bOuter[k];
                    if (++idx[k] < outer[k]) break;
                    pa -= aOuter[k] * outer[k];
                    pb -= bOuter[k] * outer[k];
                    idx[k] = 0;
                }
            }
        });
    }
}
