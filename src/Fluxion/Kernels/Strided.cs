namespace Fluxion.Kernels;

/// <summary>
/// Copies between strided views and dense buffers. Dimensions that are laid out back to back are
/// merged first, so the inner loop runs over the longest possible stretch.
/// </summary>
internal static class Strided
{
    /// <summary>Merges adjacent dims that are contiguous with respect to each other in every operand.
    /// Size-1 dims are dropped. Returns the new rank; arrays are rewritten in place.</summary>
    public static int Coalesce(int[] shape, int[][] strides)
    {
        int n = shape.Length;
        int w = 0;
        for (int i = 0; i < n; i++)
        {
            if (shape[i] == 1) continue;
            if (w > 0)
            {
                bool merge = true;
                foreach (var s in strides)
                    if (s[w - 1] != s[i] * shape[i]) { merge = false; break; }
                if (merge)
                {
                    shape[w - 1] *= shape[i];
                    foreach (var s in strides) s[w - 1] = s[i];
                    continue;
                }
            }
            shape[w] = shape[i];
            foreach (var s in strides) s[w] = s[i];
            w++;
        }
        return w;
    }

    /// <summary>Copies the view (shape, strides, offset) of <paramref name="src"/> into the dense <paramref name="dst"/>.</summary>
    public static void Gather<T>(T[] src, int offset, ReadOnlySpan<int> shape, ReadOnlySpan<int> strides, T[] dst) =>
        Copy(src, offset, strides.ToArray(), dst, 0, ShapeUtil.ContiguousStrides(shape), shape.ToArray());

    /// <summary>Copies the view of <paramref name="src"/> into the dense span <paramref name="dst"/> (via a temporary when it is not an array).</summary>
    public static void Gather<T>(T[] src, int offset, ReadOnlySpan<int> shape, ReadOnlySpan<int> strides, Span<T> dst)
    {
        var tmp = new T[dst.Length];
        Gather(src, offset, shape, strides, tmp);
        tmp.CopyTo(dst);
    }

    /// <summary>Writes the dense <paramref name="src"/> into the view (shape, strides, offset) of <paramref name="dst"/>.</summary>
    public static void Scatter<T>(ReadOnlySpan<T> src, T[] dst, int offset, ReadOnlySpan<int> shape, ReadOnlySpan<int> strides)
    {
        var s = src.ToArray();
        Copy(s, 0, ShapeUtil.ContiguousStrides(shape), dst, offset, strides.ToArray(), shape.ToArray());
    }

    /// <summary>Copies between two strided views of the same shape, a row at a time.</summary>
    public static void Copy<T>(T[] src, int srcOffset, int[] srcStrides, T[] dst, int dstOffset, int[] dstStrides, int[] shape)
    {
        ForEachRow(shape, [srcStrides, dstStrides], [srcOffset, dstOffset], (p, n, st) =>
        {
            if (st[0] == 1 && st[1] == 1) src.AsSpan(p[0], n).CopyTo(dst.AsSpan(p[1], n));
            else
                for (int j = 0, a = p[0], b = p[1]; j < n; j++, a += st[0], b += st[1]) dst[b] = src[a];
        });
    }

    /// <summary>
    /// Visits an n-ary strided iteration space row by row: for every position of the outer dims,
    /// calls <paramref name="row"/> with each operand's offset, the row length and each operand's
    /// inner stride. Operands are given as (strides, offset) over a common <paramref name="shape"/>.
    /// </summary>
    public static void ForEachRow(int[] shape, int[][] strides, int[] offsets, RowAction row)
    {
        foreach (var d0 in shape) if (d0 == 0) return;
        var sh = (int[])shape.Clone();
        var st = Array.ConvertAll(strides, s => (int[])s.Clone());
        int rank = Coalesce(sh, st);
        int k = st.Length;
        var p = (int[])offsets.Clone();
        if (rank == 0)
        {
            row(p, 1, new int[k]);
            return;
        }
        int inner = sh[rank - 1];
        var innerStrides = new int[k];
        for (int j = 0; j < k; j++) innerStrides[j] = st[j][rank - 1];
        var idx = new int[rank];
        while (true)
        {
            row(p, inner, innerStrides);
            int d = rank - 2;
            while (d >= 0)
            {
                idx[d]++;
                for (int j = 0; j < k; j++) p[j] += st[j][d];
                if (idx[d] < sh[d]) break;
                for (int j = 0; j < k; j++) p[j] -= st[j][d] * sh[d];
                idx[d] = 0;
                d--;
            }
            if (d < 0) break;
        }
    }

    /// <summary>Callback of <see cref="ForEachRow"/>: operand offsets, row length, operand inner strides.</summary>
    public delegate void RowAction(int[] offsets, int length, int[] innerStrides);
}
