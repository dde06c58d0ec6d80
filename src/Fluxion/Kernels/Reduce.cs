using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;

namespace Fluxion.Kernels;

/// <summary>
/// Row reductions over a dense [rows, inner] layout, and the fused normalizations (softmax,
/// log-softmax) over a dense [outer, n, inner] layout where n is the normalized dim.
/// </summary>
internal static class Reduce
{
    /// <summary>Below this many elements a kernel stays on the calling thread.</summary>
    private const int ParallelThreshold = 1 << 16;

    /// <summary>Runs <paramref name="body"/>(start, end) over [0, count), split across threads (<see cref="Parallelism"/>) when
    /// <paramref name="work"/> (elements touched) is large enough to pay for it.</summary>
    public static void For(int count, long work, Action<int, int> body) => Parallelism.For(count, work, ParallelThreshold, body);

    public static void RowSum<T>(ReadOnlySpan<T> x, int rows, int inner, Span<T> dst) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int r = 0; r < rows; r++) dst[r] = TensorPrimitives.Sum(x.Slice(r * inner, inner));
    }

    /// <summary>Rows summed per block before the block total joins the running column sums: keeps the
    /// rounding error of long columns near that of a two-level (blocked) summation.</summary>
    private const int ColumnBlock = 128;

    /// <summary>
    /// Sums over the middle dim of a dense [outer, r, inner] layout:
    /// dst[o, j] = Σ_k x[o, k, j]. Vectorized along the contiguous inner dim (whole rows added at once), so
    /// reducing leading dims (e.g. a bias gradient Σ over the batch) needs no transposed copy.
    /// </summary>
    public static void MiddleSum<T>(ReadOnlySpan<T> x, int outer, int r, int inner, Span<T> dst) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T[]? rented = r > ColumnBlock ? ArrayPool<T>.Shared.Rent(inner) : null;
        for (int o = 0; o < outer; o++)
        {
            var acc = dst.Slice(o * inner, inner);
            var src = x.Slice(o * r * inner, r * inner);
            if (r == 0) { acc.Clear(); continue; }
            if (rented is null) { BlockSum(src, r, inner, acc); continue; }
            var part = rented.AsSpan(0, inner);
            BlockSum(src[..(ColumnBlock * inner)], ColumnBlock, inner, acc);
            for (int k0 = ColumnBlock; k0 < r; k0 += ColumnBlock)
            {
                int len = Math.Min(ColumnBlock, r - k0);
                BlockSum(src.Slice(k0 * inner, len * inner), len, inner, part);
                TensorPrimitives.Add<T>(acc, part, acc);
            }
        }
        if (rented is not null) ArrayPool<T>.Shared.Return(rented);
    }

    /// <summary>dst = Σ over the <paramref name="r"/> (&gt; 0) rows of length <paramref name="inner"/> of <paramref name="x"/>.</summary>
    private static void BlockSum<T>(ReadOnlySpan<T> x, int r, int inner, Span<T> dst) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (r == 1) { x[..inner].CopyTo(dst); return; }
        TensorPrimitives.Add(x[..inner], x.Slice(inner, inner), dst);
        for (int k = 2; k < r; k++) TensorPrimitives.Add<T>(dst, x.Slice(k * inner, inner), dst);
    }

    /// <summary>What <see cref="TryStaged"/> computes: a sum, a sum skipping NaN (<c>nansum</c>), the largest or the smallest
    /// element (NaN propagating).</summary>
    internal enum ReduceKind { Sum, NanSum, Max, Min }

    /// <summary>
    /// Reduces the dense row-major <paramref name="x"/> (from <paramref name="xOff"/>) of <paramref name="shape"/> over the
    /// dims flagged in <paramref name="reduced"/> into <paramref name="dst"/> (the kept dims in order), in passes that read
    /// contiguous memory only: dims of the same kind are merged, trailing reduced dims are reduced per row (threads split the
    /// rows), and a reduced block followed by kept dims by whole-row vector operations (as <see cref="MiddleSum{T}"/>); each
    /// pass leaves a smaller intermediate. So a reduction over non-adjacent dims (dims 0 and 2 of [A, B, C]) needs no
    /// transposed copy of the input. Returns false, having written nothing, when the input is empty, when a row pass would
    /// run over rows shorter than <paramref name="minInner"/>, or when a <see cref="ReduceKind.NanSum"/> would start with a
    /// row pass (the caller then takes its general path).
    /// </summary>
    public static bool TryStaged<T>(T[] x, int xOff, ReadOnlySpan<int> shape, ReadOnlySpan<bool> reduced, T[] dst, ReduceKind kind, int minInner)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var sizes = new List<int>();
        var red = new List<bool>();
        long n = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            n *= shape[i];
            if (shape[i] == 1) continue;
            if (sizes.Count > 0 && red[^1] == reduced[i]) sizes[^1] *= shape[i];
            else { sizes.Add(shape[i]); red.Add(reduced[i]); }
        }
        if (n == 0) return false;
        // plan the passes: (outer, r, inner) with inner == 1 for a row pass
        var passes = new List<(int Outer, int R, int Inner)>();
        var ps = new List<int>(sizes);
        var pr = new List<bool>(red);
        while (pr.Contains(true))
        {
            if (pr[^1])
            {
                int rows = 1;
                for (int i = 0; i < ps.Count - 1; i++) rows *= ps[i];
                passes.Add((rows, ps[^1], 1));
                ps.RemoveAt(ps.Count - 1);
                pr.RemoveAt(pr.Count - 1);
                continue;
            }
            int j = pr.LastIndexOf(true), outer = 1, inner = 1;
            for (int i = 0; i < j; i++) outer *= ps[i];
            for (int i = j + 1; i < ps.Count; i++) inner *= ps[i];
            if (inner < minInner || (kind == ReduceKind.NanSum && passes.Count == 0)) return false;
            passes.Add((outer, ps[j], inner));
            // the kept blocks on either side of the removed one merge
            if (j > 0) { ps[j - 1] *= ps[j + 1]; ps.RemoveRange(j, 2); pr.RemoveRange(j, 2); }
            else { ps.RemoveAt(j); pr.RemoveAt(j); }
        }
        if (passes.Count == 0)
        {
            Array.Copy(x, xOff, dst, 0, (int)n);
            return true;
        }
        T[]? a = null, b = null;
        var src = x;
        int srcOff = xOff;
        for (int k = 0; k < passes.Count; k++)
        {
            var (outer, r, inner) = passes[k];
            T[] to;
            if (k == passes.Count - 1) to = dst;
            else
            {
                int len = outer * inner;
                ref T[]? buf = ref (src == a ? ref b : ref a);
                if (buf is null || buf.Length < len)
                {
                    if (buf is not null) ArrayPool<T>.Shared.Return(buf);
                    buf = ArrayPool<T>.Shared.Rent(len);
                }
                to = buf;
            }
            var pk = k == 0 ? kind : kind == ReduceKind.NanSum ? ReduceKind.Sum : kind;
            if (inner == 1) RowPass(src, srcOff, outer, r, to, pk);
            else if (pk == ReduceKind.Sum) MiddleSum<T>(src.AsSpan(srcOff, outer * r * inner), outer, r, inner, to.AsSpan(0, outer * inner));
            else MiddleExtreme(src.AsSpan(srcOff, outer * r * inner), outer, r, inner, pk == ReduceKind.Max, to.AsSpan(0, outer * inner));
            src = to;
            srcOff = 0;
        }
        if (a is not null) ArrayPool<T>.Shared.Return(a);
        if (b is not null) ArrayPool<T>.Shared.Return(b);
        return true;
    }

    /// <summary>One row pass of <see cref="TryStaged"/>: dst[i] = reduce(x[off + i·inner .. + inner]), rows split across threads.</summary>
    private static void RowPass<T>(T[] x, int off, int rows, int inner, T[] dst, ReduceKind kind) where T : unmanaged, IFloatingPointIeee754<T>
    {
        const int Chunk = 1 << 16;
        if (rows == 1 && inner >= 4 * Chunk && Parallelism.Threads(inner, ParallelThreshold) > 1)
        {
            // one long row (a full reduction): partial results of chunks on the threads, then their reduction
            int chunks = (inner + Chunk - 1) / Chunk;
            var part = new T[chunks];
            For(chunks, inner, (s, e) =>
            {
                for (int c = s; c < e; c++)
                {
                    var seg = new ReadOnlySpan<T>(x, off + c * Chunk, Math.Min(Chunk, inner - c * Chunk));
                    part[c] = ReduceRow(seg, kind);
                }
            });
            dst[0] = ReduceRow<T>(part, kind == ReduceKind.NanSum ? ReduceKind.Sum : kind);
            return;
        }
        For(rows, (long)rows * inner, (s, e) =>
        {
            for (int i = s; i < e; i++)
                dst[i] = ReduceRow(new ReadOnlySpan<T>(x, off + i * inner, inner), kind);
        });
    }

    private static T ReduceRow<T>(ReadOnlySpan<T> row, ReduceKind kind) where T : unmanaged, IFloatingPointIeee754<T> => kind switch
    {
        ReduceKind.Sum => TensorPrimitives.Sum(row),
        ReduceKind.NanSum => NanSum(row),
        ReduceKind.Max => TensorPrimitives.Max(row),
        _ => TensorPrimitives.Min(row),
    };

    /// <summary>dst[o, j] = max (or min) over k of x[o, k, j] for the dense [outer, r, inner] <paramref name="x"/> (r &gt; 0); NaN propagates.</summary>
    public static void MiddleExtreme<T>(ReadOnlySpan<T> x, int outer, int r, int inner, bool max, Span<T> dst) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int o = 0; o < outer; o++)
        {
            var acc = dst.Slice(o * inner, inner);
            var src = x.Slice(o * r * inner, r * inner);
            src[..inner].CopyTo(acc);
            for (int k = 1; k < r; k++)
            {
                if (max) TensorPrimitives.Max<T>(acc, src.Slice(k * inner, inner), acc);
                else TensorPrimitives.Min<T>(acc, src.Slice(k * inner, inner), acc);
            }
        }
    }

    /// <summary>Σ of the elements of <paramref name="x"/> that are not NaN (vectorized).</summary>
    public static T NanSum<T>(ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0;
        T s = T.Zero;
        if (Vector.IsHardwareAccelerated && x.Length >= 4 * Vector<T>.Count)
        {
            var acc = Vector<T>.Zero;
            for (; i <= x.Length - Vector<T>.Count; i += Vector<T>.Count)
            {
                var v = new Vector<T>(x.Slice(i, Vector<T>.Count));
                acc += Vector.ConditionalSelect(Vector.Equals(v, v), v, Vector<T>.Zero);
            }
            s = Vector.Sum(acc);
        }
        for (; i < x.Length; i++) if (!T.IsNaN(x[i])) s += x[i];
        return s;
    }

    /// <summary>How many elements of <paramref name="x"/> equal zero (±0; NaN is not zero), vectorized.</summary>
    public static long CountZeros<T>(ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        long count = 0;
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            // per-lane counts in T stay exact below 2^24 per chunk and lane
            const int Chunk = 1 << 20;
            while (x.Length - i >= Vector<T>.Count)
            {
                int end = i + Math.Min(Chunk, (x.Length - i) / Vector<T>.Count * Vector<T>.Count);
                var acc = Vector<T>.Zero;
                for (; i < end; i += Vector<T>.Count)
                    acc += Vector.ConditionalSelect(Vector.Equals(new Vector<T>(x.Slice(i, Vector<T>.Count)), Vector<T>.Zero), Vector<T>.One, Vector<T>.Zero);
                count += long.CreateTruncating(Vector.Sum(acc));
            }
        }
        for (; i < x.Length; i++) if (x[i] == T.Zero) count++;
        return count;
    }

    /// <summary>Largest (or smallest) element of each row; NaN propagates. Rows must be non-empty.</summary>
    public static void RowExtreme<T>(ReadOnlySpan<T> x, int rows, int inner, bool max, Span<T> dst) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int r = 0; r < rows; r++)
        {
            var row = x.Slice(r * inner, inner);
            dst[r] = max ? TensorPrimitives.Max(row) : TensorPrimitives.Min(row);
        }
    }

    /// <summary>
    /// Position (and value) of the largest (or smallest) element of each row: the first occurrence
    /// on ties; a NaN wins over every number (the first NaN), as PyTorch. Rows must be non-empty.
    /// <paramref name="values"/> may be empty when only the indices are wanted.
    /// </summary>
    public static void RowArgExtreme<T>(ReadOnlySpan<T> x, int rows, int inner, bool max, Span<T> values, Span<long> indices) where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool wantValues = !values.IsEmpty;
        for (int r = 0; r < rows; r++)
        {
            var row = x.Slice(r * inner, inner);
            int best = 0;
            T bv = row[0];
            if (!T.IsNaN(bv))
            {
                for (int j = 1; j < row.Length; j++)
                {
                    T v = row[j];
                    if (T.IsNaN(v)) { best = j; bv = v; break; }
                    if (max ? v > bv : v < bv) { best = j; bv = v; }
                }
            }
            indices[r] = best;
            if (wantValues) values[r] = bv;
        }
    }

    /// <summary>
    /// Variance of each row with <paramref name="correction"/> (divisor max(0, inner - correction)),
    /// by the corrected two-pass algorithm: mean first, then the squared deviations, minus the
    /// rounding error of the mean. <paramref name="sqrt"/> gives the standard deviation instead.
    /// </summary>
    public static void RowVar<T>(ReadOnlySpan<T> x, int rows, int inner, int correction, bool sqrt, Span<T> dst) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T n = T.CreateTruncating(inner);
        T dof = T.CreateTruncating(Math.Max(0, inner - correction));
        var buf = ArrayPool<T>.Shared.Rent(Math.Max(inner, 1));
        var tmp = buf.AsSpan(0, inner);
        for (int r = 0; r < rows; r++)
        {
            var row = x.Slice(r * inner, inner);
            T mean = TensorPrimitives.Sum(row) / n;
            TensorPrimitives.Subtract(row, mean, tmp);
            T comp = TensorPrimitives.Sum<T>(tmp);
            T ss = TensorPrimitives.SumOfSquares<T>(tmp) - comp * comp / n;
            if (ss < T.Zero) ss = T.Zero;
            T v = ss / dof;
            dst[r] = sqrt ? T.Sqrt(v) : v;
        }
        ArrayPool<T>.Shared.Return(buf);
    }

    /// <summary>
    /// log Σ exp(x) of each row, shifted by the row maximum for stability. A row whose maximum is
    /// infinite is not shifted (so all -inf gives -inf and any +inf gives +inf); an empty row gives -inf.
    /// </summary>
    public static void RowLogSumExp<T>(ReadOnlySpan<T> x, int rows, int inner, Span<T> dst) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (inner == 0)
        {
            dst[..rows].Fill(T.NegativeInfinity);
            return;
        }
        var buf = ArrayPool<T>.Shared.Rent(inner);
        var tmp = buf.AsSpan(0, inner);
        for (int r = 0; r < rows; r++)
        {
            var row = x.Slice(r * inner, inner);
            T m = TensorPrimitives.Max(row);
            if (T.IsInfinity(m)) m = T.Zero;
            TensorPrimitives.Subtract(row, m, tmp);
            TensorPrimitives.Exp<T>(tmp, tmp);
            dst[r] = T.Log(TensorPrimitives.Sum<T>(tmp)) + m;
        }
        ArrayPool<T>.Shared.Return(buf);
    }

    /// <summary>
    /// Cross entropy of each row of dense logits [rows, c] against class indices, fused: loss_r =
    /// log Σ exp(x_r − m) − (x_r[t_r] − m) with m the row maximum (the log-softmax's own rounding), 0 for a
    /// row whose target is <paramref name="ignoreIndex"/>. Returns the number of rows not ignored.
    /// Targets must already be valid (in [0, c) or ignored).
    /// </summary>
    public static int CrossEntropyRows<T>(ReadOnlySpan<T> x, int rows, int c, ReadOnlySpan<long> target, long ignoreIndex, Span<T> loss)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int count = 0;
        T[]? rented = c > 256 ? ArrayPool<T>.Shared.Rent(c) : null;
        Span<T> tmp = rented is null ? stackalloc T[Math.Max(c, 1)] : rented.AsSpan(0, c);
        tmp = tmp[..c];
        for (int r = 0; r < rows; r++)
        {
            long t = target[r];
            if (t == ignoreIndex) { loss[r] = T.Zero; continue; }
            count++;
            var row = x.Slice(r * c, c);
            T m = TensorPrimitives.Max(row);
            TensorPrimitives.Subtract(row, m, tmp);
            T shifted = tmp[(int)t];
            TensorPrimitives.Exp<T>(tmp, tmp);
            loss[r] = T.Log(TensorPrimitives.Sum<T>(tmp)) - shifted;
        }
        if (rented is not null) ArrayPool<T>.Shared.Return(rented);
        return count;
    }

    /// <summary>
    /// Cross entropy's gradient with respect to the logits, fused: dst_r = s_r·(softmax(x_r) − onehot(t_r)),
    /// with s_r = <paramref name="scale"/>[r] (or <paramref name="scale"/>[0] for every row when it has one
    /// element); rows whose target is <paramref name="ignoreIndex"/> get 0.
    /// </summary>
    public static void CrossEntropyGradRows<T>(ReadOnlySpan<T> x, int rows, int c, ReadOnlySpan<long> target, long ignoreIndex,
        ReadOnlySpan<T> scale, Span<T> dst) where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool perRow = scale.Length == rows && rows != 1;
        for (int r = 0; r < rows; r++)
        {
            var d = dst.Slice(r * c, c);
            long t = target[r];
            if (t == ignoreIndex) { d.Clear(); continue; }
            var row = x.Slice(r * c, c);
            T s = perRow ? scale[r] : scale[0];
            T m = TensorPrimitives.Max(row);
            TensorPrimitives.Subtract(row, m, d);
            TensorPrimitives.Exp<T>(d, d);
            TensorPrimitives.Multiply(d, s / TensorPrimitives.Sum<T>(d), d);
            d[(int)t] -= s;
        }
    }

    /// <summary>
    /// Softmax (or log-softmax when <paramref name="log"/>) along the middle dim of a dense
    /// [outer, n, inner] layout, shifted by the maximum along that dim. A slice that is all -inf
    /// gives NaN, as PyTorch.
    /// </summary>
    public static void Softmax<T>(T[] x, int xOff, T[] dst, int outer, int n, int inner, bool log) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (n == 0 || inner == 0) return;
        int block = n * inner;
        For(outer, (long)outer * block, (o0, o1) =>
        {
            if (inner == 1)
                for (int o = o0; o < o1; o++) SoftmaxRow(x.AsSpan(xOff + o * n, n), dst.AsSpan(o * n, n), log);
            else
            {
                var m = new T[inner];
                var s = new T[inner];
                for (int o = o0; o < o1; o++) SoftmaxColumns(x.AsSpan(xOff + o * block, block), dst.AsSpan(o * block, block), n, inner, m, s, log);
            }
        });
    }

    /// <summary>
    /// The first-order VJP of softmax (or log-softmax when <paramref name="log"/>) along the last dim of a dense
    /// [rows, n] layout, one pass per row on the gradient <paramref name="g"/> and the saved output <paramref name="y"/>:
    /// softmax g_x = y·(g − Σ g·y), log-softmax g_x = g − e^y·Σ g.
    /// </summary>
    public static void SoftmaxGradRows<T>(T[] g, int gOff, T[] y, int yOff, T[] dst, int rows, int n, bool log) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (n == 0 || rows == 0) return;
        For(rows, (long)rows * n, (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
            {
                var gr = g.AsSpan(gOff + r * n, n);
                var yr = y.AsSpan(yOff + r * n, n);
                var d = dst.AsSpan(r * n, n);
                if (log)
                {
                    T s = TensorPrimitives.Sum<T>(gr);
                    TensorPrimitives.Exp<T>(yr, d);
                    TensorPrimitives.MultiplyAdd<T>(d, -s, gr, d);
                }
                else
                {
                    T s = TensorPrimitives.Dot<T>(gr, yr);
                    TensorPrimitives.Subtract<T>(gr, s, d);
                    TensorPrimitives.Multiply<T>(d, yr, d);
                }
            }
        });
    }

    private static void SoftmaxRow<T>(ReadOnlySpan<T> row, Span<T> d, bool log) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T m = TensorPrimitives.Max(row);
        TensorPrimitives.Subtract(row, m, d);
        TensorPrimitives.Exp<T>(d, d);
        T sum = TensorPrimitives.Sum<T>(d);
        if (log)
        {
            // (x - m) - log Σ exp(x - m): subtracting the two parts separately keeps large inputs exact
            TensorPrimitives.Subtract(row, m, d);
            TensorPrimitives.Subtract(d, T.Log(sum), d);
        }
        else
            TensorPrimitives.Divide(d, sum, d);
    }

    /// <summary>Softmax over n rows of length inner (the normalized dim is the row index): vectorized across columns.</summary>
    private static void SoftmaxColumns<T>(ReadOnlySpan<T> x, Span<T> d, int n, int inner, Span<T> m, Span<T> s, bool log) where T : unmanaged, IFloatingPointIeee754<T>
    {
        x[..inner].CopyTo(m);
        for (int j = 1; j < n; j++) TensorPrimitives.Max(m, x.Slice(j * inner, inner), m);
        s.Clear();
        for (int j = 0; j < n; j++)
        {
            var dj = d.Slice(j * inner, inner);
            TensorPrimitives.Subtract(x.Slice(j * inner, inner), m, dj);
            TensorPrimitives.Exp<T>(dj, dj);
            TensorPrimitives.Add<T>(s, dj, s);
        }
        if (log)
        {
            TensorPrimitives.Log<T>(s, s);
            for (int j = 0; j < n; j++)
            {
                var dj = d.Slice(j * inner, inner);
                TensorPrimitives.Subtract(x.Slice(j * inner, inner), m, dj);
                TensorPrimitives.Subtract<T>(dj, s, dj);
            }
        }
        else
            for (int j = 0; j < n; j++) TensorPrimitives.Divide<T>(d.Slice(j * inner, inner), s, d.Slice(j * inner, inner));
    }
}
