using System.Numerics;

namespace Fluxion.Kernels;

/// <summary>
/// Indexing kernels: strided copies (for Cat), gathers and scatter-adds along one dim. Index values
/// arrive already validated (in range, non-negative); operands are (array, offset, strides) views
/// over a common iteration shape. Copies are generic over any element type; accumulation needs
/// arithmetic (float, double, long).
/// </summary>
internal static class Indexing
{
    /// <summary>dst[view] = src[view]: copies one strided view into another of the same shape.</summary>
    public static void Copy<T>(T[] src, int srcOff, int[] srcStrides, T[] dst, int dstOff, int[] dstStrides, int[] shape) =>
        Strided.Copy(src, srcOff, srcStrides, dst, dstOff, dstStrides, shape);

    /// <summary>
    /// Gathers along <paramref name="dim"/> into the dense <paramref name="dst"/> laid out over
    /// <paramref name="shape"/>: at every position i of that shape,
    /// dst[i] = src[i with i[dim] replaced by index[i]]. <paramref name="srcStrides"/> are the source's
    /// strides (its sizes may exceed <paramref name="shape"/> off <paramref name="dim"/>); the index is a
    /// strided view over <paramref name="shape"/> (stride 0 broadcasts, as IndexSelect's 1-D index does).
    /// </summary>
    public static void Gather<T>(T[] src, int srcOff, int[] srcStrides, int dim,
        long[] index, int idxOff, int[] idxStrides, T[] dst, int[] shape)
    {
        int dimStride = srcStrides[dim];
        var baseStrides = (int[])srcStrides.Clone();
        baseStrides[dim] = 0;
        var dstStrides = ShapeUtil.ContiguousStrides(shape);
        Strided.ForEachRowParallel(shape, [baseStrides, idxStrides, dstStrides], [srcOff, idxOff, 0], (p, n, s) =>
        {
            int ss = s[0], xs = s[1], ds = s[2];
            for (int i = 0, a = p[0], x = p[1], b = p[2]; i < n; i++, a += ss, x += xs, b += ds)
                dst[b] = src[a + (int)index[x] * dimStride];
        });
    }

    /// <summary>
    /// Scatter-add along <paramref name="dim"/> into the dense <paramref name="dst"/> (shape
    /// <paramref name="dstShape"/>): for every position i of <paramref name="shape"/>,
    /// dst[i with i[dim] replaced by index[i]] += alpha·src[i]. Repeated indices accumulate. The index
    /// and source are strided views over <paramref name="shape"/>.
    /// </summary>
    public static void ScatterAdd<T>(T[] dst, int[] dstShape, int dim,
        long[] index, int idxOff, int[] idxStrides, T[] src, int srcOff, int[] srcStrides, int[] shape, T alpha)
        where T : unmanaged, INumberBase<T>
    {
        bool unit = alpha == T.One;
        var dstStrides = ShapeUtil.ContiguousStrides(dstShape);
        int dimStride = dstStrides[dim];
        dstStrides[dim] = 0;
        Strided.ForEachRow(shape, [dstStrides, idxStrides, srcStrides], [0, idxOff, srcOff], (p, n, s) =>
        {
            int ds = s[0], xs = s[1], ss = s[2];
            for (int i = 0, b = p[0], x = p[1], a = p[2]; i < n; i++, b += ds, x += xs, a += ss)
                dst[b + (int)index[x] * dimStride] += unit ? src[a] : alpha * src[a];
        });
    }

    /// <summary>The first element of the strided index view outside [0, <paramref name="size"/>), as
    /// (position in row-major order, value), or null when every element is in range.</summary>
    public static (int Position, long Value)? FindOutOfRange(long[] index, int offset, int[] strides, int[] shape, long size)
    {
        (int, long)? bad = null;
        int pos = 0;
        Strided.ForEachRow(shape, [strides], [offset], (p, n, s) =>
        {
            if (bad is not null) return;
            for (int i = 0, x = p[0]; i < n; i++, x += s[0])
            {
                long v = index[x];
                if ((ulong)v >= (ulong)size)
                {
                    bad = (pos + i, v);
                    return;
                }
            }
            pos += n;
        });
        return bad;
    }

    /// <summary>One-hot rows: dst (zeroed, numClasses wide) gets 1 at column index[i] of row i.</summary>
    public static void OneHot<T>(ReadOnlySpan<long> index, T[] dst, int numClasses, T one)
    {
        for (int i = 0; i < index.Length; i++) dst[i * numClasses + (int)index[i]] = one;
    }
}
