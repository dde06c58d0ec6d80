namespace Fluxion;

/// <summary>The reduction of <see cref="Tensor.ScatterReduce"/> (PyTorch's <c>reduce</c> argument).</summary>
public enum ScatterReduction
{
    /// <summary>Sum of the scattered values.</summary>
    Sum,
    /// <summary>Product of the scattered values.</summary>
    Prod,
    /// <summary>Mean of the scattered values.</summary>
    Mean,
    /// <summary>Maximum of the scattered values (the gradient is shared evenly among ties).</summary>
    Amax,
    /// <summary>Minimum of the scattered values (the gradient is shared evenly among ties).</summary>
    Amin,
}

// Indexing ops beyond the primitives of Index.cs: masked selection and scattering, index_put/fill/copy, scatter
// and scatter_reduce, take, put, repeat_interleave, unfold. All are composites of registered entries
// (IndexSelect, Gather, ScatterAdd, IndexAdd, Where, Reshape, Expand): the positions are worked out on the host
// from the (non-differentiable) index or mask, then the values move through differentiable ops. Writes with
// repeated indices keep the last write (as PyTorch's CPU kernels do).
public partial class Tensor
{
    private static Tensor Longs(long[] v, params int[] shape) => Wrap(v, shape.Length == 0 ? [v.Length] : shape);

    private void CheckMaskFor(string op, Tensor mask)
    {
        ArgumentNullException.ThrowIfNull(mask);
        if (mask.DType != DType.Bool)
            throw new DTypeMismatchException($"{op}: the mask must be a bool tensor but has dtype {mask.DType.Name()} (shape {ShapeUtil.Format(mask._shape)}). Build it with a comparison such as x.Gt(0).");
        var shape = ShapeUtil.Broadcast(op, mask._shape, _shape);
        if (!ShapeUtil.SameShape(shape, _shape))
            throw new ShapeMismatchException($"{op}: the mask (shape {ShapeUtil.Format(mask._shape)}) must broadcast to the input's shape {ShapeUtil.Format(_shape)}, but together they broadcast to {ShapeUtil.Format(shape)}.");
    }

    // ---- masked ----------------------------------------------------------------------------------

    internal static readonly OpDef MaskedSelectOp = Composite("MaskedSelect", ["Expand", "Reshape", "IndexSelect"], ["masked_select"], () =>
    [
        new("same shape", [SampleReal(1, 3, 4)], t => t[0].MaskedSelect(t[0].Detach().Gt(0.0))),
        new("broadcast", [SampleReal(2, 3, 1)], t => t[0].MaskedSelect(FromArray([true, false, true, true], 4))),
    ]);

    /// <summary>The entries where <paramref name="mask"/> (bool; it and the input broadcast together) is true, as a vector in row-major order (PyTorch's <c>masked_select</c>).</summary>
    public Tensor MaskedSelect(Tensor mask)
    {
        ArgumentNullException.ThrowIfNull(mask);
        if (mask.DType != DType.Bool)
            throw new DTypeMismatchException($"MaskedSelect: the mask must be a bool tensor but has dtype {mask.DType.Name()} (shape {ShapeUtil.Format(mask._shape)}).");
        var shape = ShapeUtil.Broadcast("MaskedSelect", mask._shape, _shape);
        var m = mask.Expand(shape).DenseSpan<bool>();
        int count = 0;
        foreach (var b in m) if (b) count++;
        if (Untracked(this))
        {
            // nothing to record: the selected values copied straight into the (pooled) result, no index tensor
            var src = ShapeUtil.SameShape(shape, _shape) ? this : Expand(shape);
            var y = new Tensor(Storage.AllocateUninitialized(DType, count), [count]);
            switch (DType)
            {
                case DType.Float32: SelectMasked(src.DenseSpan<float>(), m, y.Storage.As<float>()); break;
                case DType.Float64: SelectMasked(src.DenseSpan<double>(), m, y.Storage.As<double>()); break;
                case DType.Int64: SelectMasked(src.DenseSpan<long>(), m, y.Storage.As<long>()); break;
                default: SelectMasked(src.DenseSpan<bool>(), m, y.Storage.As<bool>()); break;
            }
            return y;
        }
        var idx = new long[count];
        for (int i = 0, k = 0; k < count; i++) if (m[i]) idx[k++] = i;
        var flat = (ShapeUtil.SameShape(shape, _shape) ? this : Expand(shape)).Reshape(-1);
        return flat.IndexSelect(0, Longs(idx));
    }

    /// <summary>dst[k] = v[i] for the k-th i (in order) where m[i] is true.</summary>
    private static void SelectMasked<T>(ReadOnlySpan<T> v, ReadOnlySpan<bool> m, T[] dst)
    {
        for (int i = 0, k = 0; k < dst.Length; i++) if (m[i]) dst[k++] = v[i];
    }

    internal static readonly OpDef MaskedScatterOp = Composite("MaskedScatter", ["Reshape", "IndexSelect", "Where"], ["masked_scatter"], () =>
    [
        new("2-d", [SampleReal(1, 3, 4), SampleReal(2, 10)], t => t[0].MaskedScatter(t[0].Detach().Gt(0.0), t[1])),
        new("broadcast mask", [SampleReal(3, 2, 3), SampleReal(4, 2, 2)], t => t[0].MaskedScatter(FromArray([true, false, true], 3), t[1])),
    ]);

    /// <summary>A copy with the positions where <paramref name="mask"/> is true filled, in row-major order, by the
    /// first entries of <paramref name="source"/> (PyTorch's <c>masked_scatter</c>).</summary>
    public Tensor MaskedScatter(Tensor mask, Tensor source)
    {
        const string op = "MaskedScatter";
        CheckMaskFor(op, mask);
        ArgumentNullException.ThrowIfNull(source);
        CheckSameDType(op, this, source);
        var m = mask.Expand(_shape).DenseSpan<bool>();
        var idx = new long[m.Length];
        long k = 0;
        for (int i = 0; i < m.Length; i++) if (m[i]) idx[i] = k++;
        if (k > source.Numel)
            throw new ShapeMismatchException($"{op}: the mask selects {k} positions but the source (shape {ShapeUtil.Format(source._shape)}) has only {source.Numel} elements.");
        if (k == 0) return Clone();
        var gathered = source.Reshape(-1).IndexSelect(0, Longs(idx)).Reshape(ShapeArray);
        return Where(mask, gathered, this);
    }

    // ---- index_fill / index_copy / index_put / put -------------------------------------------------

    /// <summary>The index values (1-D or 0-d int64) checked against [-n, n) and wrapped to [0, n).</summary>
    private static long[] IndexValues(string op, Tensor index, int n, string what, bool allowNegative)
    {
        CheckIndexDType(op, index);
        var v = index.DenseSpan<long>().ToArray();
        for (int i = 0; i < v.Length; i++)
        {
            long x = v[i];
            if (x < (allowNegative ? -n : 0) || x >= n)
                throw new IndexOutOfBoundsException(op, x, n, null, $"{op}: index {x} (at flat position {i} of the index of shape {ShapeUtil.Format(index._shape)}) is out of bounds for {what} of size {n}.");
            if (x < 0) v[i] = x + n;
        }
        return v;
    }

    internal static readonly OpDef IndexFillOp = Composite("IndexFill", ["Where"], ["index_fill"], () =>
        [new("dim 1", [SampleReal(1, 3, 4)], t => t[0].IndexFill(1, FromArray([0L, 2, 0]), -1.5))]);

    /// <summary>A copy with the entries at <paramref name="index"/> (int64, negative counts from the end) along <paramref name="dim"/> set to <paramref name="value"/> (PyTorch's <c>index_fill</c>).</summary>
    public Tensor IndexFill(int dim, Tensor index, double value)
    {
        const string op = "IndexFill";
        ArgumentNullException.ThrowIfNull(index);
        CheckIndexVector(op, index);
        int d = WrapIndexDim(op, dim);
        var v = IndexValues(op, index, _shape[d], $"dim {d} (shape {ShapeUtil.Format(_shape)})", allowNegative: true);
        if (Untracked(this))
        {
            // nothing to record: a copy with the selected slices filled (no mask, no full-size select)
            var y = Empty(ShapeArray, DType);
            y.CopyRawFrom(this);
            var sliceShape = ShapeArray;
            sliceShape[d] = 1;
            if (y.Numel > 0)
                foreach (var i in v.Distinct()) y.AsStridedRaw(sliceShape, y._strides, y.Offset + (int)i * y._strides[d]).FillRaw(value);
            return y;
        }
        return Where(DimMask(d, _shape[d], v), ScalarLike(value), this); // a fill: the value takes this dtype
    }

    /// <summary>True when a call on these inputs records nothing (no reverse or forward autograd, no trace): the
    /// index-fill and scatter ops then write a plain copy instead of composing differentiable ops.</summary>
    private static bool Untracked(Tensor a, Tensor? b = null) => Tracer.Depth == 0 && (b is null ? Eager(a) : Eager([a, b]));

    /// <summary>A dense copy of this tensor with flat position <paramref name="pos"/>[i] set to element i (row-major) of
    /// <paramref name="values"/>, or to <paramref name="value"/> (in this dtype) when it is null; later writes win.</summary>
    private Tensor CopyWithWrites(int[] pos, Tensor? values, double value)
    {
        var y = Empty(ShapeArray, DType);
        y.CopyRawFrom(this);
        void Write<T>()
        {
            var dst = y.Storage.As<T>();
            if (values is null)
            {
                T v = ScalarLike(value).ToArray<T>()[0];
                foreach (var p in pos) dst[p] = v;
                return;
            }
            var src = values.Contiguous().ToArray<T>();
            for (int i = 0; i < pos.Length; i++) dst[pos[i]] = src[i];
        }
        switch (DType)
        {
            case DType.Float32: Write<float>(); break;
            case DType.Float64: Write<double>(); break;
            case DType.Int64: Write<long>(); break;
            default: Write<bool>(); break;
        }
        return y;
    }

    internal static readonly OpDef IndexCopyOp = Composite("IndexCopy", ["IndexSelect", "Where"], ["index_copy"], () =>
        [new("dim 1", [SampleReal(1, 3, 4), SampleReal(2, 3, 2)], t => t[0].IndexCopy(1, FromArray([3L, 1]), t[1]))]);

    /// <summary>A copy with <c>Select(dim, index[i])</c> replaced by <c>source.Select(dim, i)</c> (PyTorch's <c>index_copy</c>; with repeated indices the last one wins).</summary>
    public Tensor IndexCopy(int dim, Tensor index, Tensor source)
    {
        const string op = "IndexCopy";
        ArgumentNullException.ThrowIfNull(index);
        ArgumentNullException.ThrowIfNull(source);
        CheckIndexVector(op, index);
        CheckSameDType(op, this, source);
        int d = WrapIndexDim(op, dim);
        int n = _shape[d];
        var v = IndexValues(op, index, n, $"dim {d} (shape {ShapeUtil.Format(_shape)})", allowNegative: false);
        var want = ShapeArray;
        want[d] = v.Length;
        if (!ShapeUtil.SameShape(source._shape, want))
            throw new ShapeMismatchException($"{op}: the source has shape {ShapeUtil.Format(source._shape)} but must have shape {ShapeUtil.Format(want)} (the input's shape {ShapeUtil.Format(_shape)} with dim {d} set to the index length {v.Length}).");
        if (v.Length == 0) return Clone();
        var inv = new long[n];
        for (int i = 0; i < v.Length; i++) inv[v[i]] = i;
        return Where(DimMask(d, n, v), source.IndexSelect(d, Longs(inv)), this);
    }

    internal static readonly OpDef IndexPutOp = Composite("IndexPut", ["Reshape", "Expand", "IndexSelect", "IndexAdd", "Where"], ["index_put"], () =>
    [
        new("two indices", [SampleReal(1, 3, 4), SampleReal(2, 2)], t => t[0].IndexPut([FromArray([0L, 2]), FromArray([1L, -1])], t[1])),
        new("rows accumulate", [SampleReal(3, 3, 4), SampleReal(4, 3, 4)], t => t[0].IndexPut([FromArray([1L, 0, 1])], t[1], accumulate: true)),
        new("broadcast values", [SampleReal(5, 3, 4), SampleReal(6, 4)], t => t[0].IndexPut([FromArray([2L, 0])], t[1])),
        new("bool mask", [SampleReal(7, 2, 3), SampleReal(8)], t => t[0].IndexPut([FromArray([true, false, true, false, false, true], 2, 3)], t[1])),
    ]);

    /// <summary>
    /// Advanced-index assignment (PyTorch's <c>index_put</c>): <paramref name="indices"/> index the leading dims —
    /// int64 tensors broadcast together (negative counts from the end) or a bool mask standing for its nonzero
    /// positions — and <paramref name="values"/> (broadcast to the indexed shape) are written there, or added
    /// when <paramref name="accumulate"/> (repeated indices then accumulate; otherwise the last write wins).
    /// </summary>
    public Tensor IndexPut(Tensor[] indices, Tensor values, bool accumulate = false)
    {
        const string op = "IndexPut";
        ArgumentNullException.ThrowIfNull(indices);
        ArgumentNullException.ThrowIfNull(values);
        CheckSameDType(op, this, values);
        var idx = new List<Tensor>();
        foreach (var t in indices)
        {
            ArgumentNullException.ThrowIfNull(t, nameof(indices));
            if (t.DType == DType.Bool)
            {
                int at = idx.Count;
                if (at + t.Rank > Rank || !ShapeUtil.SameShape(t._shape, _shape.AsSpan(at, t.Rank)))
                    throw new ShapeMismatchException($"{op}: the bool mask of shape {ShapeUtil.Format(t._shape)} does not match dims {at}.. of the input of shape {ShapeUtil.Format(_shape)}.");
                idx.AddRange(t.NonzeroTuple());
            }
            else
            {
                CheckIndexDType(op, t);
                idx.Add(t);
            }
        }
        int k = idx.Count;
        if (k == 0) throw new ArgumentException($"{op}: give at least one index tensor.", nameof(indices));
        if (k > Rank) throw new ShapeMismatchException($"{op}: too many indices ({k}) for a tensor of rank {Rank} (shape {ShapeUtil.Format(_shape)}).");
        var bshape = BroadcastShapes([.. idx.Select(t => t.ShapeArray)]);
        int p = ShapeUtil.Numel(bshape);
        var lin = new long[p];
        for (int j = 0; j < k; j++)
        {
            var v = IndexValues(op, idx[j].Expand(bshape), _shape[j], $"dim {j} (shape {ShapeUtil.Format(_shape)})", allowNegative: true);
            long stride = 1;
            for (int q = j + 1; q < k; q++) stride *= _shape[q];
            for (int i = 0; i < p; i++) lin[i] += v[i] * stride;
        }
        int lead = ShapeUtil.Numel(_shape.AsSpan(0, k));
        var rest = _shape[k..];
        int[] target = [.. bshape, .. rest];
        var vb = ShapeUtil.SameShape(values._shape, target) ? values : values.Expand(target);
        var v2 = vb.Reshape([p, .. rest]);
        var x2 = Reshape([lead, .. rest]);
        if (p == 0) return Clone();
        Tensor y2;
        if (accumulate)
        {
            CheckAccumulable(op);
            y2 = x2.IndexAdd(0, Longs(lin), v2);
        }
        else
        {
            var inv = new long[lead];
            var hit = new bool[lead];
            for (int i = 0; i < p; i++)
            {
                inv[lin[i]] = i;
                hit[lin[i]] = true;
            }
            var mask = Wrap(hit, [lead, .. Enumerable.Repeat(1, rest.Length)]);
            y2 = Where(mask, v2.IndexSelect(0, Longs(inv)), x2);
        }
        return y2.Reshape(ShapeArray);
    }

    internal static readonly OpDef PutOp = Composite("Put", ["IndexPut"], ["put"], () =>
    [
        new("2-d", [SampleReal(1, 3, 4), SampleReal(2, 3)], t => t[0].Put(FromArray([0L, -1, 5]), t[1])),
        new("accumulate", [SampleReal(3, 2, 3), SampleReal(4, 2, 2)], t => t[0].Put(FromArray([1L, 1, 4, 0], 2, 2), t[1], accumulate: true)),
    ]);

    /// <summary>A copy with the flattened entries at <paramref name="index"/> (int64, negative counts from the end) set
    /// to (or, with <paramref name="accumulate"/>, added with) the entries of <paramref name="source"/> (PyTorch's <c>put</c>).</summary>
    public Tensor Put(Tensor index, Tensor source, bool accumulate = false)
    {
        ArgumentNullException.ThrowIfNull(index);
        ArgumentNullException.ThrowIfNull(source);
        if (index.Numel != source.Numel)
            throw new ShapeMismatchException($"Put: the index (shape {ShapeUtil.Format(index._shape)}) and the source (shape {ShapeUtil.Format(source._shape)}) must have the same number of elements.");
        return Reshape(-1).IndexPut([index.Reshape(-1)], source.Reshape(-1), accumulate).Reshape(ShapeArray);
    }

    internal static readonly OpDef TakeOp = Composite("Take", ["Reshape", "IndexSelect"], ["take"], () =>
        [new("2-d index", [SampleReal(1, 3, 4)], t => t[0].Take(FromArray([0L, 11, -1, 5], 2, 2))), new("noncontiguous", [SampleReal(2, 3, 4).T], t => t[0].Take(FromArray([1L, 2])))]);

    /// <summary>The entries of the flattened input at <paramref name="index"/> (int64, negative counts from the end), shaped as the index (PyTorch's <c>take</c>).</summary>
    public Tensor Take(Tensor index)
    {
        ArgumentNullException.ThrowIfNull(index);
        var v = IndexValues("Take", index, Numel, $"the flattened input (shape {ShapeUtil.Format(_shape)})", allowNegative: true);
        return Reshape(-1).IndexSelect(0, Longs(v)).Reshape(index.ShapeArray);
    }

    internal static readonly OpDef TakeAlongDimOp = Composite("TakeAlongDim", ["Expand", "Gather", "Reshape"], ["take_along_dim"], () =>
    [
        new("argsort-like", [SampleReal(1, 3, 4)], t => t[0].TakeAlongDim(FromArray([0L, 3, 1, 2, 2, 0], 3, 2), 1)),
        new("broadcast", [SampleReal(2, 2, 3, 1)], t => t[0].TakeAlongDim(FromArray([0L, 0, 0, 0], 1, 1, 4), 2)),
        new("flattened", [SampleReal(3, 2, 3)], t => t[0].TakeAlongDim(FromArray([5L, 0]))),
    ]);

    /// <summary>
    /// Picks entries along <paramref name="dim"/> at <paramref name="indices"/> (int64), the input and the indices
    /// broadcast against each other off that dim (PyTorch's <c>take_along_dim</c>); without a dim, the flattened
    /// input is indexed by the flattened indices.
    /// </summary>
    public Tensor TakeAlongDim(Tensor indices, int? dim = null)
    {
        const string op = "TakeAlongDim";
        CheckIndexDType(op, indices);
        if (dim is null) return Reshape(-1).Gather(0, indices.Reshape(-1));
        if (indices.Rank != Rank)
            throw new ShapeMismatchException($"{op}: the indices (shape {ShapeUtil.Format(indices._shape)}) must have the input's rank (shape {ShapeUtil.Format(_shape)}).");
        int d = WrapIndexDim(op, dim.Value);
        var xs = ShapeArray;
        var js = indices.ShapeArray;
        xs[d] = 1;
        js[d] = 1;
        var b = ShapeUtil.Broadcast(op, xs, js);
        var bx = (int[])b.Clone();
        bx[d] = _shape[d];
        var bi = (int[])b.Clone();
        bi[d] = indices._shape[d];
        var x = ShapeUtil.SameShape(bx, _shape) ? this : Expand(bx);
        var ix = ShapeUtil.SameShape(bi, indices._shape) ? indices : indices.Expand(bi);
        return x.Gather(d, ix);
    }

    // ---- scatter / scatter_reduce ------------------------------------------------------------------

    /// <summary>For each element of <paramref name="index"/> (row-major), the flat position in this tensor it writes
    /// along <paramref name="d"/>; checks ranks, sizes and bounds as PyTorch's scatter.</summary>
    private int[] ScatterTargets(string op, int d, Tensor index, Tensor? src)
    {
        CheckIndexDType(op, index);
        if (index.Rank != Rank || (src is not null && src.Rank != Rank))
            throw new ShapeMismatchException($"{op}: the input (shape {ShapeUtil.Format(_shape)}), index (shape {ShapeUtil.Format(index._shape)})" +
                (src is null ? "" : $" and src (shape {ShapeUtil.Format(src._shape)})") + " must all have the same rank.");
        for (int k = 0; k < Rank; k++)
        {
            if (src is not null && index._shape[k] > src._shape[k])
                throw new ShapeMismatchException($"{op}: the index (shape {ShapeUtil.Format(index._shape)}) is larger than src (shape {ShapeUtil.Format(src._shape)}) in dim {k}.");
            if (k != d && index._shape[k] > _shape[k])
                throw new ShapeMismatchException($"{op}: the index (shape {ShapeUtil.Format(index._shape)}) is larger than the input (shape {ShapeUtil.Format(_shape)}) in dim {k}; off dim {d} the index may not exceed the input.");
        }
        CheckIndexRange(op, index, index._strides, index._shape, _shape[d], d, $"input shape {ShapeUtil.Format(_shape)}");
        var v = index.DenseSpan<long>();
        var outStrides = ShapeUtil.ContiguousStrides(_shape);
        var ishape = index._shape;
        var pos = new int[v.Length];
        var mi = new int[Rank];
        for (int i = 0; i < v.Length; i++)
        {
            int p = 0;
            for (int k = 0; k < Rank; k++) p += (k == d ? (int)v[i] : mi[k]) * outStrides[k];
            pos[i] = p;
            for (int k = Rank - 1; k >= 0; k--)
            {
                if (++mi[k] < ishape[k]) break;
                mi[k] = 0;
            }
        }
        return pos;
    }

    /// <summary>The part of <paramref name="src"/> the index covers (its leading corner of the index's shape).</summary>
    private static Tensor Corner(Tensor src, Tensor index)
    {
        var r = src;
        for (int k = 0; k < src.Rank; k++)
            if (src._shape[k] != index._shape[k]) r = r.Narrow(k, 0, index._shape[k]);
        return r;
    }

    internal static readonly OpDef ScatterOp = Composite("Scatter", ["Slice", "Where", "ScatterAdd"], ["scatter"], () =>
    [
        new("src", [SampleReal(1, 3, 4), SampleReal(2, 2, 4)], t => t[0].Scatter(0, FromArray([0L, 2, 1, 0, 2, 2, 0, 1], 2, 4), t[1])),
        new("larger src", [SampleReal(3, 3, 4), SampleReal(4, 3, 5)], t => t[0].Scatter(1, FromArray([3L, 0, 1, 2, 2, 0], 3, 2), t[1])),
        new("value", [SampleReal(5, 3, 4)], t => t[0].Scatter(1, FromArray([3L, 0, 1], 3, 1), 0.5)),
    ]);

    /// <summary>A copy with out[index[i][j]][j] = src[i][j] for dim 0 (and so on; PyTorch's <c>scatter</c>). With repeated
    /// targets the last write (row-major over the index) wins.</summary>
    public Tensor Scatter(int dim, Tensor index, Tensor src)
    {
        const string op = "Scatter";
        ArgumentNullException.ThrowIfNull(src);
        CheckSameDType(op, this, src);
        if (Rank == 0) return Reshape(1).Scatter(0, index.Reshape(1), src.Reshape(1)).Reshape();
        int d = ShapeUtil.WrapDim(op, dim, Rank);
        var pos = ScatterTargets(op, d, index, src);
        if (pos.Length == 0) return Clone();
        if (Untracked(this, src)) return CopyWithWrites(pos, Corner(src, index), 0);
        // the targets cleared, then the last write to each added there: two passes over the input and a pass over
        // the index (bool: no addition, so the values are moved by a mask instead)
        var hit = new bool[Numel];
        foreach (var p in pos) hit[p] = true;
        var hitMask = Wrap(hit, ShapeArray);
        var corner = Corner(src, index);
        if (DType == DType.Bool)
        {
            var inv = new long[Numel];
            for (int i = 0; i < pos.Length; i++) inv[pos[i]] = i;
            return Where(hitMask, corner.Reshape(-1).IndexSelect(0, Longs(inv)).Reshape(ShapeArray), this);
        }
        var winner = new bool[pos.Length];
        var seen = new HashSet<int>();
        bool repeated = false;
        for (int i = pos.Length - 1; i >= 0; i--)
        {
            winner[i] = seen.Add(pos[i]);
            repeated |= !winner[i];
        }
        if (repeated) corner = Where(Wrap(winner, index.ShapeArray), corner, ScalarLike(0));
        return Where(hitMask, ScalarLike(0), this).ScatterAdd(d, index, corner);
    }

    /// <summary>A copy with <paramref name="value"/> at out[index[i][j]][j] for dim 0 (and so on; PyTorch's <c>scatter</c> with a scalar).</summary>
    public Tensor Scatter(int dim, Tensor index, double value)
    {
        const string op = "Scatter";
        ArgumentNullException.ThrowIfNull(index);
        if (Rank == 0) return Reshape(1).Scatter(0, index.Reshape(1), value).Reshape();
        int d = ShapeUtil.WrapDim(op, dim, Rank);
        var pos = ScatterTargets(op, d, index, null);
        if (Untracked(this)) return CopyWithWrites(pos, null, value);
        var hit = new bool[Numel];
        foreach (var p in pos) hit[p] = true;
        return Where(Wrap(hit, ShapeArray), ScalarLike(value), this); // a fill: the value takes this dtype
    }

    internal static readonly OpDef ScatterReduceOp = Composite("ScatterReduce", ["ScatterAdd", "Gather", "Where", "Div", "Mul", "Clone"], ["scatter_reduce"], () =>
    [
        new("sum", [SampleReal(1, 3, 4), SampleReal(2, 2, 4)], t => t[0].ScatterReduce(0, ScatterSampleIndex, t[1], ScatterReduction.Sum)),
        new("sum exclude self", [SampleReal(3, 3, 4), SampleReal(4, 2, 4)], t => t[0].ScatterReduce(0, ScatterSampleIndex, t[1], ScatterReduction.Sum, includeSelf: false)),
        new("mean", [SampleReal(5, 3, 4), SampleReal(6, 2, 4)], t => t[0].ScatterReduce(0, ScatterSampleIndex, t[1], ScatterReduction.Mean)),
        new("mean exclude self", [SampleReal(7, 3, 4), SampleReal(8, 2, 4)], t => t[0].ScatterReduce(0, ScatterSampleIndex, t[1], ScatterReduction.Mean, includeSelf: false)),
        new("amax", [SampleReal(9, 3, 4), SampleReal(10, 2, 4)], t => t[0].ScatterReduce(0, ScatterSampleIndex, t[1], ScatterReduction.Amax)),
        new("amin exclude self", [SampleReal(11, 3, 4), SampleReal(12, 2, 4)], t => t[0].ScatterReduce(0, ScatterSampleIndex, t[1], ScatterReduction.Amin, includeSelf: false)),
        new("prod", [SampleReal(13, 3, 4), SampleReal(14, 2, 4)], t => t[0].ScatterReduce(0, ScatterSampleIndex, t[1], ScatterReduction.Prod)),
        new("prod exclude self", [SampleReal(15, 3, 4), SampleReal(16, 2, 4)], t => t[0].ScatterReduce(0, ScatterSampleIndex, t[1], ScatterReduction.Prod, includeSelf: false)),
    ], dtypes: DTypeSet.Floats | DTypeSet.Int64);

    private static Tensor ScatterSampleIndex => FromArray([0L, 2, 0, 0, 2, 2, 0, 1], 2, 4);

    /// <summary>
    /// Reduces the values of <paramref name="src"/> scattered along <paramref name="dim"/> at <paramref name="index"/>
    /// (as <see cref="ScatterAdd"/> places them) into each target position with <paramref name="reduce"/>, together
    /// with the input's own value when <paramref name="includeSelf"/>; positions no index reaches keep the input's
    /// value (PyTorch's <c>scatter_reduce</c>). Gradients follow PyTorch: amax/amin share the gradient evenly among
    /// the values equal to the result; prod's is the product of the other factors.
    /// </summary>
    public Tensor ScatterReduce(int dim, Tensor index, Tensor src, ScatterReduction reduce, bool includeSelf = true)
    {
        const string op = "ScatterReduce";
        ArgumentNullException.ThrowIfNull(src);
        CheckSameDType(op, this, src);
        if (Rank == 0) return Reshape(1).ScatterReduce(0, index.Reshape(1), src.Reshape(1), reduce, includeSelf).Reshape();
        if (reduce is ScatterReduction.Mean or ScatterReduction.Prod) CheckFloat(op);
        CheckAccumulable(op);
        int d = ShapeUtil.WrapDim(op, dim, Rank);
        var pos = ScatterTargets(op, d, index, src);
        var counts = new long[Numel];
        foreach (var p in pos) counts[p]++;
        var hitArr = Array.ConvertAll(counts, c => c > 0);
        var hit = Wrap(hitArr, ShapeArray);
        var s = Corner(src, index);
        var zeros = ZerosLike(this);
        switch (reduce)
        {
            case ScatterReduction.Sum:
                return (includeSelf ? this : Where(hit, ScalarLike(0), this)).ScatterAdd(d, index, s);
            case ScatterReduction.Mean:
            {
                var cnt = Wrap(Array.ConvertAll(counts, c => (double)c + (includeSelf ? 1 : 0)), ShapeArray).To(DType);
                var sum = (includeSelf ? this : zeros).ScatterAdd(d, index, s);
                return Where(hit, sum / Where(hit, cnt, ScalarLike(1)), this);
            }
            case ScatterReduction.Amax:
            case ScatterReduction.Amin:
            {
                bool max = reduce == ScatterReduction.Amax;
                // the result's value, then a differentiable expression equal to it that shares the gradient among ties
                var y = ExtremeRaw(pos, s, max, includeSelf);
                if (!DType.IsFloatingPoint()) return y;
                var eqSelf = (includeSelf ? Eq(y) : Wrap(new bool[Numel], ShapeArray)) & hit;
                var eqSrc = s.Eq(y.Gather(d, index));
                var tieCount = zeros.ScatterAdd(d, index, Where(eqSrc, 1.0, 0.0, DType)) + Where(eqSelf, 1.0, 0.0, DType);
                var picked = Where(eqSelf, this, ScalarLike(0)).ScatterAdd(d, index, Where(eqSrc, s, ScalarLike(0)));
                var nanSafe = Where(tieCount.Gt(0.0), tieCount, ScalarLike(1));
                return Where(hit & tieCount.Gt(0.0), picked / nanSafe, Where(hit, y, this));
            }
            default: // Prod: each factor's gradient is the product of the others, computed without dividing by it
                return ScatterProd(d, index, s, pos, includeSelf);
        }
    }

    /// <summary>The amax/amin of the scattered values (and the input's own when <paramref name="includeSelf"/>) at each
    /// reached position; NaN propagates as in PyTorch. Not differentiable (a value only).</summary>
    private Tensor ExtremeRaw(int[] pos, Tensor s, bool max, bool includeSelf)
    {
        var x = ToDoubleArray();
        var sv = s.ToDoubleArray();
        var y = (double[])x.Clone();
        var seen = new bool[x.Length];
        for (int i = 0; i < pos.Length; i++)
        {
            int p = pos[i];
            double v = sv[i];
            if (!seen[p] && !includeSelf) y[p] = v;
            else if (double.IsNaN(v) || double.IsNaN(y[p])) y[p] = double.NaN;
            else y[p] = max ? Math.Max(y[p], v) : Math.Min(y[p], v);
            seen[p] = true;
        }
        return FromDoubles(y, ShapeArray, DType);
    }

    /// <summary>scatter_reduce with prod: each target gets the product of its factors as a chain of Mul ops over
    /// "rounds" (the j-th value written to each position), so the gradient is PyTorch's (product of the others, also at zeros).</summary>
    private Tensor ScatterProd(int d, Tensor index, Tensor s, int[] pos, bool includeSelf)
    {
        var flatS = s.Reshape(-1);
        var round = new int[pos.Length];
        var seenCount = new int[Numel];
        int rounds = 0;
        for (int i = 0; i < pos.Length; i++)
        {
            round[i] = seenCount[pos[i]]++;
            rounds = Math.Max(rounds, round[i] + 1);
        }
        var hit = Wrap(Array.ConvertAll(seenCount, c => c > 0), ShapeArray);
        Tensor acc = includeSelf ? this : Where(hit, ScalarLike(1), this);
        for (int r = 0; r < rounds; r++)
        {
            var inv = new long[Numel];
            var take = new bool[Numel];
            for (int i = 0; i < pos.Length; i++)
                if (round[i] == r)
                {
                    inv[pos[i]] = i;
                    take[pos[i]] = true;
                }
            var factor = Where(Wrap(take, ShapeArray), flatS.IndexSelect(0, Longs(inv)).Reshape(ShapeArray), ScalarLike(1));
            acc = acc * factor;
        }
        return acc;
    }

    internal static readonly OpDef IndexReduceOp = Composite("IndexReduce", ["ScatterReduce", "Reshape", "Expand"], ["index_reduce"], () =>
    [
        new("prod", [SampleReal(1, 3, 4), SampleReal(2, 3, 3)], t => t[0].IndexReduce(1, FromArray([0L, 2, 0]), t[1], ScatterReduction.Prod)),
        new("mean exclude self", [SampleReal(3, 3, 2), SampleReal(4, 4, 2)], t => t[0].IndexReduce(0, FromArray([2L, 0, 2, 2]), t[1], ScatterReduction.Mean, includeSelf: false)),
        new("amax", [SampleReal(5, 3, 2), SampleReal(6, 2, 2)], t => t[0].IndexReduce(0, FromArray([1L, 1]), t[1], ScatterReduction.Amax)),
    ], dtypes: DTypeSet.Floats | DTypeSet.Int64);

    /// <summary>
    /// Reduces the slices <c>source.Select(dim, i)</c> into <c>Select(dim, index[i])</c> with <paramref name="reduce"/>,
    /// together with the input's own slice when <paramref name="includeSelf"/>; slices no index reaches keep the
    /// input's values (PyTorch's <c>index_reduce</c>, which offers prod, mean, amax and amin; Sum is index_add).
    /// </summary>
    public Tensor IndexReduce(int dim, Tensor index, Tensor source, ScatterReduction reduce, bool includeSelf = true)
    {
        const string op = "IndexReduce";
        ArgumentNullException.ThrowIfNull(index);
        ArgumentNullException.ThrowIfNull(source);
        CheckIndexDType(op, index);
        CheckIndexVector(op, index);
        int d = WrapIndexDim(op, dim);
        var want = ShapeArray;
        want[d] = index.Numel;
        if (!ShapeUtil.SameShape(source._shape, want))
            throw new ShapeMismatchException($"{op}: the source has shape {ShapeUtil.Format(source._shape)} but must have shape {ShapeUtil.Format(want)} (the input's shape {ShapeUtil.Format(_shape)} with dim {d} set to the index length {index.Numel}).");
        var ones = Enumerable.Repeat(1, Rank).ToArray();
        ones[d] = index.Numel;
        return ScatterReduce(d, index.Reshape(ones).Expand(want), source, reduce, includeSelf);
    }

    // ---- repeat_interleave, unfold -----------------------------------------------------------------

    internal static readonly OpDef RepeatInterleaveOp = Composite("RepeatInterleave", ["Reshape", "IndexSelect"], ["repeat_interleave"], () =>
    [
        new("scalar repeats", [SampleReal(1, 2, 3)], t => t[0].RepeatInterleave(2, 1)),
        new("tensor repeats", [SampleReal(2, 3, 2)], t => t[0].RepeatInterleave(FromArray([1L, 0, 3]), 0)),
        new("flattened", [SampleReal(3, 2, 2)], t => t[0].RepeatInterleave(2)),
    ]);

    /// <summary>Repeats each entry <paramref name="repeats"/> times along <paramref name="dim"/> (flattened when null), as PyTorch's <c>repeat_interleave</c>.</summary>
    public Tensor RepeatInterleave(int repeats, int? dim = null)
    {
        if (repeats < 0) throw new ArgumentOutOfRangeException(nameof(repeats), $"RepeatInterleave: repeats must be non-negative, got {repeats}.");
        var x = dim is null ? Reshape(-1) : this;
        int d = dim is null ? 0 : WrapIndexDim("RepeatInterleave", dim.Value);
        return x.RepeatInterleave(Longs(Enumerable.Repeat((long)repeats, x._shape[d]).ToArray()), d);
    }

    /// <summary>Repeats entry i along <paramref name="dim"/> (flattened when null) repeats[i] times (<paramref name="repeats"/>: int64, one per entry or a single value).</summary>
    public Tensor RepeatInterleave(Tensor repeats, int? dim = null)
    {
        const string op = "RepeatInterleave";
        CheckIndexDType(op, repeats);
        var x = dim is null ? Reshape(-1) : this;
        int d = dim is null ? 0 : x.WrapIndexDim(op, dim.Value);
        int n = x._shape[d];
        var r = repeats.DenseSpan<long>().ToArray();
        if (r.Length == 1 && n != 1) r = Enumerable.Repeat(r[0], n).ToArray();
        if (repeats.Rank > 1 || r.Length != n)
            throw new ShapeMismatchException($"{op}: repeats (shape {ShapeUtil.Format(repeats._shape)}) must hold one count per entry of dim {d} (size {n}) or a single count.");
        var idx = new List<long>();
        for (int i = 0; i < n; i++)
        {
            if (r[i] < 0) throw new ArgumentException($"{op}: repeats must be non-negative, got {r[i]} at position {i}.", nameof(repeats));
            for (long j = 0; j < r[i]; j++) idx.Add(i);
        }
        return x.IndexSelect(d, Longs([.. idx]));
    }

    /// <summary>The indices 0, 0, ..., 1, ... with i repeated repeats[i] times (PyTorch's <c>repeat_interleave(repeats)</c>). Not differentiable.</summary>
    public static Tensor RepeatInterleave(Tensor repeats) => Arange(repeats.Numel, DType.Int64).RepeatInterleave(repeats.Reshape(-1), 0);

    /// <summary>The attributes of an <see cref="UnfoldDim"/> call: the dim, window size and step.</summary>
    private sealed record UnfoldAttr(int Dim, int Size, int Step);

    // a strided view: the windows' gradients are added back into zeros (overlapping windows accumulate)
    internal static readonly OpDef UnfoldDimOp = new("UnfoldDim", OpFamily.ShapeIndexCreateOther, "unfold")
    {
        Linear = true,
        DTypes = DTypeSet.All,
        Vjp = (in OpCtx c, Tensor g, int i) => UnfoldBackward(g, c.Shape(0), c.A<UnfoldAttr>()),
        Jvp = (in OpCtx c, Tensor?[] t) =>
            t[0] is { } tx ? tx.UnfoldView(c.A<UnfoldAttr>() with { Dim = c.A<UnfoldAttr>().Dim + TangentBatchDims(tx, c.X(0)) }) : null,
        BatchedJvp = true,
        Doc = "windows along a dim as a strided view (as PyTorch); the gradient adds the windows back",
        Samples = () =>
        [
            new("1-d", [SampleReal(1, 7)], t => t[0].UnfoldDim(0, 3, 2)),
            new("2-d", [SampleReal(2, 3, 5)], t => t[0].UnfoldDim(1, 2, 1)),
            new("first dim, gaps", [SampleReal(3, 7, 2)], t => t[0].UnfoldDim(-2, 2, 3)),
            new("noncontiguous", [SampleReal(4, 4, 3).T], t => t[0].UnfoldDim(1, 3, 1)),
            new("0-d", [SampleReal(5)], t => t[0].UnfoldDim(0, 1, 1)),
        ],
    };

    /// <summary>The windows of <paramref name="size"/> entries, <paramref name="step"/> apart, along <paramref name="dimension"/>:
    /// that dim becomes the window count and a last dim of <paramref name="size"/> is appended (PyTorch's <c>Tensor.unfold</c>).
    /// A view, as in PyTorch: overlapping windows share elements, so do not modify the result in place.</summary>
    public Tensor UnfoldDim(int dimension, int size, int step)
    {
        const string op = "UnfoldDim";
        var x = Rank == 0 ? Reshape(1) : this;
        int d = ShapeUtil.WrapDim(op, dimension, x.Rank);
        int n = x._shape[d];
        if (size < 0 || size > n) throw new ArgumentException($"{op}: size {size} must lie in [0, {n}] (dim {d} of shape {ShapeUtil.Format(_shape)}).", nameof(size));
        if (step <= 0) throw new ArgumentException($"{op}: step must be positive, got {step}.", nameof(step));
        var r = x.UnfoldView(new UnfoldAttr(d, size, step));
        return Rank == 0 ? r.Reshape(size) : r;
    }

    /// <summary>The unfold view (arguments already checked), recorded for autograd.</summary>
    private Tensor UnfoldView(UnfoldAttr a)
    {
        int d = a.Dim, count = (_shape[d] - a.Size) / a.Step + 1;
        int[] shape = [.. _shape, a.Size], strides = [.. _strides, _strides[d]];
        shape[d] = count;
        strides[d] = _strides[d] * a.Step;
        var y = MakeView(shape, strides, Offset);
        return Op.Tracking(this) ? Op.Record(UnfoldDimOp, y, [this], a) : y;
    }

    /// <summary>The gradient of an unfold: the windows of <paramref name="g"/> index-added into zeros of the input's shape
    /// (differentiable; a window position repeated by overlapping windows accumulates).</summary>
    private static Tensor UnfoldBackward(Tensor g, int[] inShape, UnfoldAttr a)
    {
        int d = a.Dim, count = g._shape[d];
        var idx = new long[count * a.Size];
        for (int w = 0; w < count; w++)
            for (int j = 0; j < a.Size; j++) idx[w * a.Size + j] = (long)w * a.Step + j;
        // [.., count, .., size] → [.., count, size, ..] → [.., count·size, ..]
        var gm = g.Movedim(-1, d + 1);
        int[] flat = [.. gm._shape[..d], count * a.Size, .. gm._shape[(d + 2)..]];
        return ZerosIndexAdd(inShape, d, Longs(idx), gm.Reshape(flat));
    }
}
