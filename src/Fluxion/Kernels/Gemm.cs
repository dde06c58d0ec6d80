using System.Numerics;
using System.Numerics.Tensors;

namespace Fluxion.Kernels;

/// <summary>Dense matrix products. C[m,n] = sum_k A[m,k] B[k,n] on row-major buffers.</summary>
internal static class Gemm
{
    private const int KBlock = 256;

    /// <summary>C = A·B for row-major A (m×k) at <paramref name="aOff"/>, B (k×n) at <paramref name="bOff"/>,
    /// C (m×n) at <paramref name="cOff"/>. Rows of C are computed in parallel when the product is large.</summary>
    public static void MatMul<T>(T[] a, int aOff, T[] b, int bOff, T[] c, int cOff, int m, int k, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        c.AsSpan(cOff, m * n).Clear();
        if (k == 0 || n == 0) return;
        long work = (long)m * n * k;
        if (work < 1 << 18 || m < 4)
        {
            RowBlock(a, aOff, b, bOff, c, cOff, 0, m, k, n);
            return;
        }
        int chunks = Math.Min(Environment.ProcessorCount * 4, m);
        Parallel.For(0, chunks, ch =>
        {
            int r0 = (int)((long)m * ch / chunks), r1 = (int)((long)m * (ch + 1) / chunks);
            RowBlock(a, aOff, b, bOff, c, cOff, r0, r1, k, n);
        });
    }

    private static void RowBlock<T>(T[] a, int aOff, T[] b, int bOff, T[] c, int cOff, int r0, int r1, int k, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int k0 = 0; k0 < k; k0 += KBlock)
        {
            int k1 = Math.Min(k, k0 + KBlock);
            for (int i = r0; i < r1; i++)
            {
                var crow = c.AsSpan(cOff + i * n, n);
                int ai = aOff + i * k;
                for (int p = k0; p < k1; p++)
                {
                    var av = a[ai + p];
                    if (av == T.Zero) continue;
                    TensorPrimitives.MultiplyAdd(b.AsSpan(bOff + p * n, n), av, crow, crow);
                }
            }
        }
    }
}
