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

    /// <summary>Elements from which a strided copy or gather is split over the threads.</summary>
    internal const int ParallelElements = 1 << 16;

    /// <summary>Side of the square tiles of a transposing copy (the source's unit-stride dim is not the destination's).</summary>
    private const int Tile = 32;

    /// <summary>
    /// Copies between two strided views of the same shape, a row at a time (rows split over the threads for large
    /// copies; a reversed unit-stride row is copied then reversed in place). When the destination runs along its last
    /// dim and the source along another (a permuted view made contiguous), the copy goes in square tiles so both sides
    /// stay in cache.
    /// </summary>
    public static void Copy<T>(T[] src, int srcOffset, int[] srcStrides, T[] dst, int dstOffset, int[] dstStrides, int[] shape)
    {
        foreach (var d0 in shape) if (d0 == 0) return;
        var sh = (int[])shape.Clone();
        int[][] st = [(int[])srcStrides.Clone(), (int[])dstStrides.Clone()];
        int rank = Coalesce(sh, st);
        if (rank >= 2 && st[1][rank - 1] == 1 && st[0][rank - 1] != 1 && sh[rank - 1] >= 8)
        {
            // a permuted view made contiguous (transpose, movedim, a permutation's gradient): the source runs along dim k
            int k = Array.LastIndexOf(st[0], 1, rank - 2);
            bool distinct = true; // no destination dim of stride 0 (threads must not write one element)
            for (int d = 0; d < rank; d++) distinct &= st[1][d] > 0;
            if (k >= 0 && sh[k] >= 8 && distinct)
            {
                TiledTranspose(src, srcOffset, st[0], dst, dstOffset, st[1], sh, rank, k);
                return;
            }
        }
        if (rank == 0)
        {
            dst[dstOffset] = src[srcOffset];
            return;
        }
        // rows of the last dim, split over the threads; the loop over the rows of a chunk is inline (no call per row:
        // short rows, as in pads and pixel shuffles, cost little more than their elements)
        int n = sh[rank - 1], ss = st[0][rank - 1], ds = st[1][rank - 1], outerRank = rank - 1;
        if (rank == 1 && ss == 1 && ds == 1)
        {
            Parallelism.For(n, n, 4 * ParallelElements, (start, end) => src.AsSpan(srcOffset + start, end - start).CopyTo(dst.AsSpan(dstOffset + start, end - start)));
            return;
        }
        if (rank == 1 && ss == -1 && ds == 1)
        {
            // a reversed run (a flip of every dim of a dense tensor): blocks split over the threads, each copied then
            // reversed in place while in cache
            const int block = 4096;
            Parallelism.For((n + block - 1) / block, n, 4 * ParallelElements, (b0, b1) =>
            {
                for (int b = b0; b < b1; b++)
                {
                    int j0 = b * block, len = Math.Min(block, n - j0);
                    var d = dst.AsSpan(dstOffset + j0, len);
                    src.AsSpan(srcOffset - j0 - len + 1, len).CopyTo(d);
                    d.Reverse();
                }
            });
            return;
        }
        int rows = 1;
        for (int k = 0; k < outerRank; k++) rows *= sh[k];
        int[] sOuter = st[0][..outerRank], dOuter = st[1][..outerRank], shOuter = sh[..outerRank];
        Parallelism.For(rows, (long)rows * n, ParallelElements, (start, end) =>
        {
            var idx = new int[outerRank];
            int a = srcOffset, b = dstOffset;
            for (int k = outerRank - 1, rem = start; k >= 0; k--)
            {
                idx[k] = rem % shOuter[k];
                rem /= shOuter[k];
                a += idx[k] * sOuter[k];
                b += idx[k] * dOuter[k];
            }
            for (int r = start; r < end; r++)
            {
                if (ds == 1 && ss == 1) src.AsSpan(a, n).CopyTo(dst.AsSpan(b, n));
                else if (ds == 1 && ss == -1)
                {
                    var d = dst.AsSpan(b, n);
                    src.AsSpan(a - n + 1, n).CopyTo(d);
                    d.Reverse();
                }
                else
                    for (int j = 0, x = a, y = b; j < n; j++, x += ss, y += ds) dst[y] = src[x];
                for (int k = outerRank - 1; k >= 0; k--)
                {
                    a += sOuter[k];
                    b += dOuter[k];
                    if (++idx[k] < shOuter[k]) break;
                    a -= sOuter[k] * shOuter[k];
                    b -= dOuter[k] * shOuter[k];
                    idx[k] = 0;
                }
            }
        });
    }

    /// <summary>The transposing path of <see cref="Copy{T}"/> on merged dims: dim <paramref name="k"/> has source stride 1,
    /// the last dim destination stride 1; the (k, last) plane is copied in <see cref="Tile"/>² tiles for every position of
    /// the other dims, so both sides touch whole cache lines.</summary>
    private static void TiledTranspose<T>(T[] src, int srcOffset, int[] ss, T[] dst, int dstOffset, int[] ds, int[] sh, int rank, int k)
    {
        int last = rank - 1;
        int rows = sh[k], cols = sh[last];
        int srcCol = ss[last], dstRow = ds[k];
        int tilesI = (rows + Tile - 1) / Tile;
        long outerCount = 1;
        for (int d = 0; d < last; d++) if (d != k) outerCount *= sh[d];
        long total = outerCount * tilesI;
        if (total > int.MaxValue) throw new InvalidOperationException("Strided.Copy: too many tiles.");
        Parallelism.For((int)total, outerCount * rows * cols, ParallelElements, (s, e) =>
        {
            for (int t = s; t < e; t++)
            {
                // offsets of outer position t / tilesI (dims other than k and the last, row-major)
                long q = t / tilesI;
                int ps = srcOffset, pd = dstOffset;
                for (int d = last - 1; d >= 0; d--)
                {
                    if (d == k) continue;
                    int i = (int)(q % sh[d]);
                    q /= sh[d];
                    ps += i * ss[d];
                    pd += i * ds[d];
                }
                int i0 = t % tilesI * Tile, i1 = Math.Min(rows, i0 + Tile);
                for (int j0 = 0; j0 < cols; j0 += Tile)
                {
                    int j1 = Math.Min(cols, j0 + Tile);
                    for (int i = i0; i < i1; i++)
                    {
                        int a = ps + i + j0 * srcCol, b = pd + i * dstRow + j0;
                        for (int j = j0; j < j1; j++, a += srcCol) dst[b++] = src[a];
                    }
                }
            }
        });
    }

    /// <summary>
    /// As <see cref="ForEachRow"/>, with the rows split over the threads (each chunk gets its own offset and stride
    /// arrays) when the space holds at least <see cref="ParallelElements"/> elements: only for row actions that
    /// write disjoint places and keep no state across rows.
    /// </summary>
    public static void ForEachRowParallel(int[] shape, int[][] strides, int[] offsets, RowAction row)
    {
        foreach (var d0 in shape) if (d0 == 0) return;
        var sh = (int[])shape.Clone();
        var st = Array.ConvertAll(strides, s => (int[])s.Clone());
        int rank = Coalesce(sh, st);
        long total = 1;
        for (int k = 0; k < rank; k++) total *= sh[k];
        int outerRank = rank - 1;
        int rows = 1;
        for (int k = 0; k < outerRank; k++) rows *= sh[k];
        if (rank <= 1 || total < ParallelElements || rows < 2 || Parallelism.Available <= 1)
        {
            ForEachRow(sh[..rank], Array.ConvertAll(st, s => s[..rank]), offsets, row);
            return;
        }
        int k2 = st.Length, inner = sh[rank - 1];
        Parallelism.For(rows, total, ParallelElements, (start, end) =>
        {
            var p = new int[k2];
            var innerStrides = new int[k2];
            for (int j = 0; j < k2; j++) innerStrides[j] = st[j][rank - 1];
            var idx = new int[outerRank];
            for (int k = outerRank - 1, rem = start; k >= 0; k--)
            {
                idx[k] = rem % sh[k];
                rem /= sh[k];
            }
            for (int r = start; r < end; r++)
            {
                for (int j = 0; j < k2; j++)
                {
                    int q = offsets[j];
                    for (int k = 0; k < outerRank; k++) q += idx[k] * st[j][k];
                    p[j] = q;
                }
                row(p, inner, innerStrides);
                for (int k = outerRank - 1; k >= 0; k--)
                {
                    if (++idx[k] < sh[k]) break;
                    idx[k] = 0;
                }
            }
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
