using System.Numerics;
using Fluxion.Kernels;

namespace Fluxion;

// Indexing and joining primitives: Cat/Stack, Gather/ScatterAdd, IndexSelect/IndexAdd, and helpers
// built from them (MaskedFill, OneHot, Chunk, Split, Unbind). Each adjoint pair (Gather and
// ScatterAdd, IndexSelect and IndexAdd) is the other's VJP, so higher derivatives follow.
// Index tensors are int64 and, as in PyTorch, must hold non-negative in-range values.
public partial class Tensor
{
    // ---- Cat / Stack -----------------------------------------------------------------------------

    /// <summary>
    /// Concatenates <paramref name="tensors"/> along <paramref name="dim"/> (PyTorch's <c>torch.cat</c>).
    /// All tensors need the same dtype and rank and the same sizes off <paramref name="dim"/>.
    /// The gradient of each input is its slice of the output gradient.
    /// </summary>
    public static Tensor Cat(Tensor[] tensors, int dim = 0)
    {
        CheckTensorList("Cat", tensors);
        var first = tensors[0];
        if (first.Rank == 0)
            throw new ShapeMismatchException("Cat: tensor 0 is 0-d (shape []); zero-dimensional tensors cannot be concatenated. Use Stack, or Unsqueeze(0) them first.");
        int d = ShapeUtil.WrapDim("Cat", dim, first.Rank);
        var starts = new int[tensors.Length];
        int total = 0;
        for (int i = 0; i < tensors.Length; i++)
        {
            var t = tensors[i];
            if (t.Rank != first.Rank)
                throw new ShapeMismatchException(
                    $"Cat: tensor {i} has shape {ShapeUtil.Format(t._shape)} (rank {t.Rank}) but tensor 0 has shape {ShapeUtil.Format(first._shape)} (rank {first.Rank}); all tensors must have the same rank.");
            for (int k = 0; k < first.Rank; k++)
                if (k != d && t._shape[k] != first._shape[k])
                    throw new ShapeMismatchException(
                        $"Cat: tensor {i} has shape {ShapeUtil.Format(t._shape)} but tensor 0 has shape {ShapeUtil.Format(first._shape)}; sizes must match except in the concatenation dim {d} (they differ in dim {k}: {t._shape[k]} vs {first._shape[k]}).");
            starts[i] = total;
            total += t._shape[d];
        }
        var shape = first.ShapeArray;
        shape[d] = total;
        var y = Empty(shape, first.DType);
        for (int i = 0; i < tensors.Length; i++)
        {
            var t = tensors[i];
            if (t.Numel == 0) continue;
            CopyRaw(t, y.Storage, starts[i] * y._strides[d], y._strides);
        }
        // a copy of the caller's array: the node keeps (and trims) its own
        return Op.Tracking(tensors) ? Op.Record(CatOp, y, (Tensor[])tensors.Clone(), new CatAttr(d, starts)) : y;
    }

    /// <summary>Cat's attributes: the dim and where each input starts along it.</summary>
    private sealed record CatAttr(int Dim, int[] Starts);

    internal static readonly OpDef CatOp = new("Cat", OpFamily.ShapeIndexCreateOther, "cat")
    {
        Linear = true,
        Vjp = (in OpCtx c, Tensor g, int i) => g.Narrow(c.A<CatAttr>().Dim, c.A<CatAttr>().Starts[i], c.Shape(i)[c.A<CatAttr>().Dim]),
        Jvp = (in OpCtx c, Tensor?[] t) =>
        {
            int j = Array.FindIndex(t, x => x is not null);
            if (j < 0) return null;
            // vector forward mode: every tangent carries the same [k] prefix; zeros get it too
            var inputs = c.Inputs;
            var batch = TangentBatchShape(t[j]!, inputs[j]!);
            var tangents = new Tensor[inputs.Length];
            for (int i = 0; i < inputs.Length; i++) tangents[i] = t[i] ?? ZerosTangent(batch, inputs[i]!);
            return Cat(tangents, c.A<CatAttr>().Dim + batch.Length);
        },
        BatchedJvp = true,
        Samples = () =>
        [
            new("dim 0", [OpSamples.Make(OpSamples.Domain.Real, 1, 2, 3), OpSamples.Make(OpSamples.Domain.Real, 2, 1, 3)], t => Cat(t, 0)),
            new("dim -1, three inputs, noncontiguous", [OpSamples.Make(OpSamples.Domain.Real, 3, 2, 2), OpSamples.Make(OpSamples.Domain.Real, 4, 3, 2).T, OpSamples.Make(OpSamples.Domain.Real, 5, 2, 1)], t => Cat(t, -1)),
            new("stack", [OpSamples.Make(OpSamples.Domain.Real, 6, 3), OpSamples.Make(OpSamples.Domain.Real, 7, 3)], t => Stack(t, 1)),
            new("empty input", [OpSamples.Make(OpSamples.Domain.Real, 8, 0, 3), OpSamples.Make(OpSamples.Domain.Real, 9, 2, 3)], t => Cat(t, 0)),
        ],
    };

    /// <summary>
    /// Stacks equally shaped tensors along a new dim <paramref name="dim"/> (PyTorch's <c>torch.stack</c>);
    /// <paramref name="dim"/> may range over [-rank-1, rank].
    /// </summary>
    public static Tensor Stack(Tensor[] tensors, int dim = 0)
    {
        CheckTensorList("Stack", tensors);
        var first = tensors[0];
        for (int i = 1; i < tensors.Length; i++)
            if (!ShapeUtil.SameShape(tensors[i]._shape, first._shape))
                throw new ShapeMismatchException(
                    $"Stack: tensor {i} has shape {ShapeUtil.Format(tensors[i]._shape)} but tensor 0 has shape {ShapeUtil.Format(first._shape)}; Stack needs tensors of one shape (use Cat to join along an existing dim).");
        int d = dim < 0 ? dim + first.Rank + 1 : dim;
        if (d < 0 || d > first.Rank)
            throw new ArgumentOutOfRangeException(nameof(dim), $"Stack: dim {dim} is out of range for stacking tensors of shape {ShapeUtil.Format(first._shape)} (expected a dim in [{-first.Rank - 1}, {first.Rank}]).");
        return Cat(Array.ConvertAll(tensors, t => t.Unsqueeze(d)), d);
    }

    private static void CheckTensorList(string op, Tensor[] tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (tensors.Length == 0) throw new ArgumentException($"{op}: expects a non-empty array of tensors.", nameof(tensors));
        for (int i = 0; i < tensors.Length; i++)
        {
            if (tensors[i] is null) throw new ArgumentNullException(nameof(tensors), $"{op}: tensor {i} is null.");
            if (tensors[i].DType != tensors[0].DType)
                throw new DTypeMismatchException(
                    $"{op}: tensor {i} has dtype {tensors[i].DType.Name()} (shape {ShapeUtil.Format(tensors[i]._shape)}) but tensor 0 has dtype {tensors[0].DType.Name()} (shape {ShapeUtil.Format(tensors[0]._shape)}); convert with To(...) first.");
        }
    }

    /// <summary>Copies <paramref name="src"/> into the view (src's shape, <paramref name="strides"/>, <paramref name="offset"/>) of <paramref name="dst"/>.</summary>
    private static void CopyRaw(Tensor src, Storage dst, int offset, int[] strides)
    {
        switch (src.DType)
        {
            case DType.Float32: Indexing.Copy(src.Storage.As<float>(), src.Offset, src._strides, dst.As<float>(), offset, strides, src._shape); break;
            case DType.Float64: Indexing.Copy(src.Storage.As<double>(), src.Offset, src._strides, dst.As<double>(), offset, strides, src._shape); break;
            case DType.Int64: Indexing.Copy(src.Storage.As<long>(), src.Offset, src._strides, dst.As<long>(), offset, strides, src._shape); break;
            case DType.Bool: Indexing.Copy(src.Storage.As<bool>(), src.Offset, src._strides, dst.As<bool>(), offset, strides, src._shape); break;
        }
    }

    // ---- Gather / ScatterAdd -----------------------------------------------------------------------

    /// <summary>
    /// Gathers values along <paramref name="dim"/> (PyTorch's <c>torch.gather</c>):
    /// out[i][j][k] = x[index[i][j][k]][j][k] for dim 0, and so on. <paramref name="index"/> is int64 with
    /// the input's rank, no larger than the input off <paramref name="dim"/>; the output has its shape.
    /// The gradient scatter-adds into zeros, so repeated indices accumulate.
    /// </summary>
    public Tensor Gather(int dim, Tensor index)
    {
        const string op = "Gather";
        CheckIndexDType(op, index);
        if (Rank == 0 && index.Rank == 0)
        {
            ShapeUtil.WrapDim(op, dim, 0);
            return Reshape(1).Gather(0, index.Reshape(1)).Reshape();
        }
        if (index.Rank != Rank)
            throw new ShapeMismatchException(
                $"{op}: the index (shape {ShapeUtil.Format(index._shape)}) must have the same rank as the input (shape {ShapeUtil.Format(_shape)}), got {index.Rank} vs {Rank}.");
        int d = ShapeUtil.WrapDim(op, dim, Rank);
        for (int k = 0; k < Rank; k++)
            if (k != d && index._shape[k] > _shape[k])
                throw new ShapeMismatchException(
                    $"{op}: the index (shape {ShapeUtil.Format(index._shape)}) is larger than the input (shape {ShapeUtil.Format(_shape)}) in dim {k} ({index._shape[k]} > {_shape[k]}); off dim {d} the index may not exceed the input.");
        CheckIndexRange(op, index, index._strides, index._shape, _shape[d], d, $"input shape {ShapeUtil.Format(_shape)}");
        return GatherCore(d, index);
    }

    private Tensor GatherCore(int d, Tensor index)
    {
        var shape = index.ShapeArray;
        var y = Empty(shape, DType);
        GatherRaw(this, d, index, index._strides, y, shape);
        // the index rides along as a non-differentiable input, saved (and version-checked) for backward
        return Op.Tracking(this, index) ? Op.Record(GatherOp, y, [this, index], d) : y;
    }

    internal static readonly OpDef GatherOp = new("Gather", OpFamily.ShapeIndexCreateOther, "gather")
    {
        Vjp = (in OpCtx c, Tensor g, int i) => i == 0 ? ZerosScatterAdd(c.Shape(0), c.A<int>(), c.X(1), g) : null,
        Jvp = (in OpCtx c, Tensor?[] t) => t[0] is { } tx ? tx.GatherCore(c.A<int>() + TangentBatchDims(tx, c.X(0)), BatchIndex(c.X(1), TangentBatchShape(tx, c.X(0)))) : null,
        BatchedJvp = true, Saves = 2u,
        // input and index both with the batch (an unbatched one expanded, without copying): one gather along the shifted dim
        Batch = c => [c.Materialize(0).Gather(BatchCtx.PhysDim(c.A<int>(), c.Rank(0)), c.Materialize(1))],
        Samples = () =>
        [
            new("dim 0, repeated indices", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 4)], t => t[0].Gather(0, FromArray(new long[] { 0, 2, 1, 0, 2, 2, 0, 1 }, 2, 4))),
            new("dim 1, smaller index", [OpSamples.Make(OpSamples.Domain.Real, 2, 3, 4).T], t => t[0].Gather(1, FromArray(new long[] { 2, 0, 1, 1 }, 2, 2))),
            new("0-d", [OpSamples.Make(OpSamples.Domain.Real, 3)], t => t[0].Gather(0, FromArray(new long[] { 0 }).Reshape())),
        ],
    };

    /// <summary>
    /// Out-of-place scatter-add (PyTorch's <c>scatter_add</c>): a copy of this tensor with
    /// out[index[i][j][k]][j][k] += src[i][j][k] for dim 0, and so on; repeated indices accumulate.
    /// <paramref name="index"/> is int64 with the same rank, no larger than <paramref name="src"/> in any
    /// dim and no larger than this tensor off <paramref name="dim"/>. Gradients: g for this tensor,
    /// g.Gather(dim, index) for <paramref name="src"/>.
    /// </summary>
    public Tensor ScatterAdd(int dim, Tensor index, Tensor src)
    {
        const string op = "ScatterAdd";
        CheckIndexDType(op, index);
        ArgumentNullException.ThrowIfNull(src);
        CheckSameDType(op, this, src);
        CheckAccumulable(op);
        if (Rank == 0 && index.Rank == 0 && src.Rank == 0)
        {
            ShapeUtil.WrapDim(op, dim, 0);
            return Reshape(1).ScatterAdd(0, index.Reshape(1), src.Reshape(1)).Reshape();
        }
        if (index.Rank != Rank || src.Rank != Rank)
            throw new ShapeMismatchException(
                $"{op}: the input (shape {ShapeUtil.Format(_shape)}), index (shape {ShapeUtil.Format(index._shape)}) and src (shape {ShapeUtil.Format(src._shape)}) must all have the same rank.");
        int d = ShapeUtil.WrapDim(op, dim, Rank);
        for (int k = 0; k < Rank; k++)
        {
            if (index._shape[k] > src._shape[k])
                throw new ShapeMismatchException(
                    $"{op}: the index (shape {ShapeUtil.Format(index._shape)}) is larger than src (shape {ShapeUtil.Format(src._shape)}) in dim {k} ({index._shape[k]} > {src._shape[k]}).");
            if (k != d && index._shape[k] > _shape[k])
                throw new ShapeMismatchException(
                    $"{op}: the index (shape {ShapeUtil.Format(index._shape)}) is larger than the input (shape {ShapeUtil.Format(_shape)}) in dim {k} ({index._shape[k]} > {_shape[k]}); off dim {d} the index may not exceed the input.");
        }
        CheckIndexRange(op, index, index._strides, index._shape, _shape[d], d, $"input shape {ShapeUtil.Format(_shape)}");
        return ScatterAddCore(d, index, src);
    }

    private Tensor ScatterAddCore(int d, Tensor index, Tensor src)
    {
        var y = Empty(ShapeArray, DType);
        y.CopyRawFrom(this);
        ScatterAddRaw(y, d, index, index._strides, src, index._shape, 1);
        // inputs: self, src and the index (non-differentiable, saved for backward)
        return Op.Tracking([this, src, index]) ? Op.Record(ScatterAddOp, y, [this, src, index], d) : y;
    }

    /// <summary>Zeros of <paramref name="shape"/> with <paramref name="src"/> scatter-added along <paramref name="d"/> at
    /// <paramref name="index"/> (Gather's VJP): the zeros are written once, not copied (the recorded base input is a
    /// broadcast zero, which needs no gradient).</summary>
    private static Tensor ZerosScatterAdd(int[] shape, int d, Tensor index, Tensor src)
    {
        var y = Zeros(shape, src.DType);
        ScatterAddRaw(y, d, index, index._strides, src, index._shape, 1);
        return Op.Tracking([src, index]) ? Op.Record(ScatterAddOp, y, [ZeroView(shape, src.DType), src, index], d) : y;
    }

    /// <summary>Zeros of <paramref name="shape"/> with <paramref name="source"/> index-added along <paramref name="d"/>
    /// (IndexSelect's VJP; see <see cref="ZerosScatterAdd"/>).</summary>
    private static Tensor ZerosIndexAdd(int[] shape, int d, Tensor index, Tensor source)
    {
        var y = Zeros(shape, source.DType);
        var idxStrides = new int[shape.Length];
        idxStrides[d] = VectorStrides(index)[0];
        ScatterAddRaw(y, d, index, idxStrides, source, source._shape, 1);
        return Op.Tracking([source, index]) ? Op.Record(IndexAddOp, y, [ZeroView(shape, source.DType), source, index], new IndexAddAttr(d, 1)) : y;
    }

    /// <summary>A zero of <paramref name="dtype"/> broadcast (stride 0, one element stored) to <paramref name="shape"/>.</summary>
    private static Tensor ZeroView(int[] shape, DType dtype) =>
        ShapeUtil.Numel(shape) == 0 ? Zeros(shape, dtype) : Zeros(Enumerable.Repeat(1, shape.Length).ToArray(), dtype).Expand(shape);

    internal static readonly OpDef ScatterAddOp = new("ScatterAdd", OpFamily.ShapeIndexCreateOther, "scatter_add")
    {
        Vjp = (in OpCtx c, Tensor g, int i) => i switch
        {
            0 => g,
            1 => PadTo(g.GatherCore(c.A<int>(), c.X(2)), c.Shape(1)),
            _ => null,
        },
        Jvp = (in OpCtx c, Tensor?[] t) => (t[0], t[1]) switch
        {
            (null, null) => null,
            ({ } ts, null) => ts,
            (var ts, { } tsrc) => (ts ?? ZerosTangent(TangentBatchShape(tsrc, c.X(1)), c.X(0)))
                .ScatterAddCore(c.A<int>() + TangentBatchDims(tsrc, c.X(1)), BatchIndex(c.X(2), TangentBatchShape(tsrc, c.X(1))), tsrc),
        },
        BatchedJvp = true, Saves = 4u,
        Batch = c => [c.Materialize(0).ScatterAdd(BatchCtx.PhysDim(c.A<int>(), c.Rank(0)), c.Materialize(2), c.Materialize(1))],
        Samples = () =>
        [
            new("dim 0, repeated indices", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 4), OpSamples.Make(OpSamples.Domain.Real, 2, 2, 4)],
                t => t[0].ScatterAdd(0, FromArray(new long[] { 0, 2, 1, 0, 2, 2, 0, 1 }, 2, 4), t[1])),
            new("dim 1, src larger than the index", [OpSamples.Make(OpSamples.Domain.Real, 3, 3, 4).T, OpSamples.Make(OpSamples.Domain.Real, 4, 3, 4)],
                t => t[0].ScatterAdd(1, FromArray(new long[] { 2, 0, 1, 1 }, 2, 2), t[1])),
        ],
    };

    /// <summary>A zero tangent for <paramref name="x"/> with the vector-mode prefix <paramref name="batch"/> (empty: x's own shape).</summary>
    private static Tensor ZerosTangent(int[] batch, Tensor x) => batch.Length == 0 ? ZerosLike(x) : Zeros([.. batch, .. x._shape], x.DType);

    /// <summary>An index tensor broadcast (without copying) over a vector-mode tangent prefix <paramref name="batch"/>.</summary>
    private static Tensor BatchIndex(Tensor index, int[] batch)
    {
        if (batch.Length == 0) return index;
        var ones = new int[batch.Length];
        Array.Fill(ones, 1);
        return index.Reshape([.. ones, .. index._shape]).Expand([.. batch, .. index._shape]);
    }

    /// <summary>Zero-pads <paramref name="g"/> at the end of each dim up to <paramref name="shape"/> (differentiable).</summary>
    private static Tensor PadTo(Tensor g, int[] shape)
    {
        for (int k = 0; k < shape.Length; k++)
        {
            if (g._shape[k] == shape[k]) continue;
            var s = g.ShapeArray;
            s[k] = shape[k];
            g = SliceBackward(g, s, k, 0, 1);
        }
        return g;
    }

    // ---- IndexSelect / IndexAdd --------------------------------------------------------------------

    /// <summary>
    /// The entries at <paramref name="index"/> (1-D int64) along <paramref name="dim"/>, in that order
    /// (PyTorch's <c>index_select</c>); the output has index.Numel entries in that dim. The gradient
    /// index-adds into zeros, so repeated indices accumulate.
    /// </summary>
    public Tensor IndexSelect(int dim, Tensor index)
    {
        const string op = "IndexSelect";
        CheckIndexDType(op, index);
        CheckIndexVector(op, index);
        int d = WrapIndexDim(op, dim);
        CheckIndexRange(op, index, VectorStrides(index), [index.Numel], _shape[d], d, $"input shape {ShapeUtil.Format(_shape)}");
        return IndexSelectCore(d, index);
    }

    private Tensor IndexSelectCore(int d, Tensor index)
    {
        var shape = ShapeArray;
        shape[d] = index.Numel;
        var idxStrides = new int[Rank];
        idxStrides[d] = VectorStrides(index)[0];
        var y = Empty(shape, DType);
        GatherRaw(this, d, index, idxStrides, y, shape);
        // the index rides along as a non-differentiable input, saved (and version-checked) for backward
        return Op.Tracking(this, index) ? Op.Record(IndexSelectOp, y, [this, index], d) : y;
    }

    internal static readonly OpDef IndexSelectOp = new("IndexSelect", OpFamily.ShapeIndexCreateOther, "index_select")
    {
        Vjp = (in OpCtx c, Tensor g, int i) => i == 0 ? ZerosIndexAdd(c.Shape(0), c.A<int>(), c.X(1), g) : null,
        Jvp = (in OpCtx c, Tensor?[] t) => t[0] is { } tx ? tx.IndexSelectCore(c.A<int>() + TangentBatchDims(tx, c.X(0)), c.X(1)) : null,
        BatchedJvp = true, Saves = 2u,
        Batch = IndexSelectBatch,
        Samples = () =>
        [
            new("dim 0, repeated indices", [OpSamples.Make(OpSamples.Domain.Real, 1, 4, 3)], t => t[0].IndexSelect(0, FromArray(new long[] { 2, 0, 2 }))),
            new("dim -1, noncontiguous", [OpSamples.Make(OpSamples.Domain.Real, 2, 4, 3).T], t => t[0].IndexSelect(-1, FromArray(new long[] { 3, 1 }))),
            new("0-d index", [OpSamples.Make(OpSamples.Domain.Real, 3, 3, 2)], t => t[0].IndexSelect(0, FromArray(new long[] { 1 }).Reshape())),
        ],
    };

    /// <summary>
    /// Out-of-place index-add (PyTorch's <c>index_add</c>): a copy of this tensor with
    /// out.Select(dim, index[i]) += alpha · source.Select(dim, i); repeated indices accumulate.
    /// <paramref name="index"/> is 1-D int64; <paramref name="source"/> has this tensor's shape except
    /// index.Numel entries in <paramref name="dim"/>. Gradients: g for this tensor, alpha·g.IndexSelect(dim, index) for the source.
    /// </summary>
    public Tensor IndexAdd(int dim, Tensor index, Tensor source, double alpha = 1)
    {
        const string op = "IndexAdd";
        CheckIndexDType(op, index);
        CheckIndexVector(op, index);
        ArgumentNullException.ThrowIfNull(source);
        CheckSameDType(op, this, source);
        CheckAccumulable(op);
        if (DType == DType.Int64 && alpha != Math.Floor(alpha))
            throw new ArgumentException($"{op}: alpha must be an integer for an int64 tensor, got {alpha}.", nameof(alpha));
        int d = WrapIndexDim(op, dim);
        bool ok = source.Rank == Rank;
        for (int k = 0; ok && k < Rank; k++) ok = source._shape[k] == (k == d ? index.Numel : _shape[k]);
        if (!ok)
        {
            var want = ShapeArray;
            want[d] = index.Numel;
            throw new ShapeMismatchException(
                $"{op}: the source has shape {ShapeUtil.Format(source._shape)} but must have shape {ShapeUtil.Format(want)}: the input's shape {ShapeUtil.Format(_shape)} with dim {d} set to the index length {index.Numel} (index shape {ShapeUtil.Format(index._shape)}).");
        }
        CheckIndexRange(op, index, VectorStrides(index), [index.Numel], _shape[d], d, $"input shape {ShapeUtil.Format(_shape)}");
        return IndexAddCore(d, index, source, alpha);
    }

    private Tensor IndexAddCore(int d, Tensor index, Tensor source, double alpha)
    {
        var y = Empty(ShapeArray, DType);
        y.CopyRawFrom(this);
        var idxStrides = new int[Rank];
        idxStrides[d] = VectorStrides(index)[0];
        ScatterAddRaw(y, d, index, idxStrides, source, source._shape, alpha);
        // inputs: self, source and the index (non-differentiable, saved for backward)
        return Op.Tracking([this, source, index]) ? Op.Record(IndexAddOp, y, [this, source, index], new IndexAddAttr(d, alpha)) : y;
    }

    /// <summary>
    /// IndexSelect's batching rule. One index for every example: one index-select along the shifted dim. A per-example
    /// index into a shared input (an embedding lookup of per-example ids): one index-select with all the examples' indices,
    /// the batch then split off and moved first. Both per example: a gather with the index spread along the dim.
    /// </summary>
    private static Tensor?[] IndexSelectBatch(BatchCtx c)
    {
        int d = c.A<int>(), r = c.Rank(0);
        if (r == 0) return BatchRules.PerExample(c, (x, _) => [x[0].IndexSelect(d, x[1])]);
        var index = c.X(1);
        if (!c.Batched[1]) return [c.X(0).IndexSelect(BatchCtx.PhysDim(d, r), index)];
        int n = index.Numel / c.B;
        if (!c.Batched[0])
        {
            var y = c.X(0).IndexSelect(d, index.Reshape(-1));
            var split = y.ShapeArray.ToList();
            split[d] = n;
            split.Insert(d, c.B);
            return [y.Reshape([.. split]).Movedim(d, 0)];
        }
        var x0 = c.X(0);
        var shape = x0.ShapeArray;
        shape[d + 1] = n;
        var ones = Enumerable.Repeat(1, r + 1).ToArray();
        ones[0] = c.B;
        ones[d + 1] = n;
        return [x0.Gather(d + 1, index.Reshape(ones).Expand(shape))];
    }

    /// <summary>IndexAdd's attributes.</summary>
    private sealed record IndexAddAttr(int Dim, double Alpha);

    internal static readonly OpDef IndexAddOp = new("IndexAdd", OpFamily.ShapeIndexCreateOther, "index_add")
    {
        Vjp = (in OpCtx c, Tensor g, int i) =>
        {
            if (i != 1) return i == 0 ? g : null;
            var a = c.A<IndexAddAttr>();
            var r = g.IndexSelectCore(a.Dim, c.X(2));
            return a.Alpha == 1 ? r : r * a.Alpha;
        },
        Jvp = (in OpCtx c, Tensor?[] t) => (t[0], t[1]) switch
        {
            (null, null) => null,
            ({ } ts, null) => ts,
            (var ts, { } tsrc) => (ts ?? ZerosTangent(TangentBatchShape(tsrc, c.X(1)), c.X(0)))
                .IndexAddCore(c.A<IndexAddAttr>().Dim + TangentBatchDims(tsrc, c.X(1)), c.X(2), tsrc, c.A<IndexAddAttr>().Alpha),
        },
        BatchedJvp = true, Saves = 4u,
        Batch = c =>
        {
            var a = c.A<IndexAddAttr>();
            // one index for every example: one index-add along the shifted dim; a per-example index: per example
            if (c.Batched[2] || c.Rank(0) == 0)
                return BatchRules.PerExample(c, (x, _) => [x[0].IndexAdd(a.Dim, x[2], x[1], a.Alpha)]);
            return [c.Materialize(0).IndexAdd(BatchCtx.PhysDim(a.Dim, c.Rank(0)), c.X(2), c.Materialize(1), a.Alpha)];
        },
        Samples = () =>
        [
            new("dim 0, repeated indices", [OpSamples.Make(OpSamples.Domain.Real, 1, 4, 3), OpSamples.Make(OpSamples.Domain.Real, 2, 3, 3)],
                t => t[0].IndexAdd(0, FromArray(new long[] { 2, 0, 2 }), t[1])),
            new("dim 1, alpha 2, noncontiguous", [OpSamples.Make(OpSamples.Domain.Real, 3, 3, 4).T, OpSamples.Make(OpSamples.Domain.Real, 4, 4, 2)],
                t => t[0].IndexAdd(1, FromArray(new long[] { 1, 0 }), t[1], alpha: 2)),
        ],
    };

    // ---- helpers built from the primitives -----------------------------------------------------------

    /// <summary>
    /// A copy with <paramref name="value"/> where <paramref name="mask"/> (bool, broadcastable to this
    /// shape) is true (PyTorch's <c>masked_fill</c>). The gradient is zero at the filled positions.
    /// </summary>
    public Tensor MaskedFill(Tensor mask, double value)
    {
        ArgumentNullException.ThrowIfNull(mask);
        if (mask.DType != DType.Bool)
            throw new DTypeMismatchException(
                $"MaskedFill: the mask must be a bool tensor but has dtype {mask.DType.Name()} (shape {ShapeUtil.Format(mask._shape)}). Build it with a comparison such as x.Gt(0).");
        var shape = ShapeUtil.Broadcast("MaskedFill", mask._shape, _shape);
        if (!ShapeUtil.SameShape(shape, _shape))
            throw new ShapeMismatchException(
                $"MaskedFill: the mask (shape {ShapeUtil.Format(mask._shape)}) must broadcast to the input's shape {ShapeUtil.Format(_shape)}, but together they broadcast to {ShapeUtil.Format(shape)}.");
        return Where(mask, ScalarLike(value), this); // a fill: the value takes this dtype, as PyTorch
    }

    /// <summary>
    /// One-hot encoding of int64 class indices: a tensor of shape indices.shape + [numClasses] (float32 by
    /// default) with 1 at each index. When <paramref name="numClasses"/> is -1 it is max(indices) + 1.
    /// Not differentiable.
    /// </summary>
    public static Tensor OneHot(Tensor indices, int numClasses = -1, DType dtype = DType.Float32)
    {
        const string op = "OneHot";
        CheckIndexDType(op, indices);
        var idx = indices.DenseSpan<long>();
        if (numClasses == -1)
        {
            if (idx.Length == 0)
                throw new ArgumentException($"{op}: cannot infer the number of classes from an empty tensor (shape {ShapeUtil.Format(indices._shape)}); pass numClasses.", nameof(numClasses));
            long max = 0;
            foreach (var v in idx) max = Math.Max(max, v);
            if (max >= int.MaxValue) throw new ArgumentException($"{op}: the largest index {max} is too large for a class count.", nameof(indices));
            numClasses = (int)max + 1;
        }
        else if (numClasses < 0)
            throw new ArgumentOutOfRangeException(nameof(numClasses), $"{op}: numClasses must be non-negative or -1 (infer), got {numClasses}.");
        CheckIndexRange(op, indices, indices._strides, indices._shape, numClasses, -1, $"numClasses {numClasses}");
        var shape = new int[indices.Rank + 1];
        indices._shape.CopyTo(shape, 0);
        shape[^1] = numClasses;
        var y = Zeros(shape, dtype);
        switch (dtype)
        {
            case DType.Float32: Indexing.OneHot(idx, y.Storage.As<float>(), numClasses, 1f); break;
            case DType.Float64: Indexing.OneHot(idx, y.Storage.As<double>(), numClasses, 1d); break;
            case DType.Int64: Indexing.OneHot(idx, y.Storage.As<long>(), numClasses, 1L); break;
            case DType.Bool: Indexing.OneHot(idx, y.Storage.As<bool>(), numClasses, true); break;
        }
        return y;
    }

    /// <summary>
    /// Splits into at most <paramref name="chunks"/> views along <paramref name="dim"/>, each of
    /// ceil(size / chunks) entries except possibly a smaller last one (PyTorch's <c>chunk</c>; fewer
    /// pieces may come back).
    /// </summary>
    public Tensor[] Chunk(int chunks, int dim = 0)
    {
        if (chunks <= 0) throw new ArgumentOutOfRangeException(nameof(chunks), $"Chunk: chunks must be positive, got {chunks}.");
        int d = WrapIndexDim("Chunk", dim);
        int n = _shape[d];
        if (n == 0)
        {
            var sizes = new int[chunks];
            return Split(sizes, d);
        }
        return Split((n + chunks - 1) / chunks, d);
    }

    /// <summary>
    /// Splits into views of <paramref name="splitSize"/> entries along <paramref name="dim"/>; the last
    /// may be smaller (PyTorch's <c>split</c> with an int).
    /// </summary>
    public Tensor[] Split(int splitSize, int dim = 0)
    {
        int d = WrapIndexDim("Split", dim);
        int n = _shape[d];
        if (splitSize < 0 || (splitSize == 0 && n != 0))
            throw new ArgumentOutOfRangeException(nameof(splitSize), $"Split: splitSize must be positive (0 only for an empty dim), got {splitSize} for dim {d} of size {n} (shape {ShapeUtil.Format(_shape)}).");
        int count = splitSize == 0 ? 1 : Math.Max((n + splitSize - 1) / splitSize, 1);
        var sizes = new int[count];
        for (int i = 0; i < count; i++) sizes[i] = Math.Min(splitSize, n - i * splitSize);
        return SplitCore(d, sizes);
    }

    /// <summary>Splits into views with the given <paramref name="sizes"/> (summing to the dim's size) along <paramref name="dim"/>.</summary>
    public Tensor[] Split(int[] sizes, int dim = 0)
    {
        ArgumentNullException.ThrowIfNull(sizes);
        int d = WrapIndexDim("Split", dim);
        long sum = 0;
        foreach (var s in sizes)
        {
            if (s < 0) throw new ArgumentOutOfRangeException(nameof(sizes), $"Split: sizes must be non-negative, got {ShapeUtil.Format(sizes)}.");
            sum += s;
        }
        if (sum != _shape[d])
            throw new ShapeMismatchException($"Split: sizes {ShapeUtil.Format(sizes)} sum to {sum} but dim {d} has size {_shape[d]} (shape {ShapeUtil.Format(_shape)}).");
        return SplitCore(d, (int[])sizes.Clone());
    }

    /// <summary>Consecutive views along dim <paramref name="d"/> (wrapped) of <paramref name="sizes"/> (non-negative, summing
    /// to the dim's size). One op with every piece as an output, as <see cref="Unbind"/>: the backward writes the pieces'
    /// gradients into one buffer once (a Cat), instead of one zero tensor of the whole input per piece, then their sum.</summary>
    internal Tensor[] SplitCore(int d, int[] sizes)
    {
        var r = new Tensor[sizes.Length];
        int start = 0;
        for (int i = 0; i < sizes.Length; i++)
        {
            var shape = ShapeArray;
            shape[d] = sizes[i];
            r[i] = MakeView(shape, (int[])_strides.Clone(), Offset + start * _strides[d]);
            start += sizes[i];
        }
        if (r.Length > 0 && Op.Tracking(this)) Op.Record(SplitOp, r, [this], new SplitAttr(d, sizes));
        return r;
    }

    /// <summary>Split's attributes: the dim and the pieces' sizes along it.</summary>
    private sealed record SplitAttr(int Dim, int[] Sizes);

    // outputs: consecutive pieces along dim; linear, so its vector-mode JVP is also its batching rule
    internal static readonly OpDef SplitOp = new("Split", OpFamily.ShapeIndexCreateOther, "split", "split_with_sizes")
    {
        Linear = true, DTypes = DTypeSet.All,
        VjpAll = (in OpCtx c, Tensor[] gs, bool[] needs) => [Cat(gs, c.A<SplitAttr>().Dim)],
        JvpAll = (in OpCtx c, Tensor?[] t) => t[0] is { } tx
            ? tx.SplitCore(c.A<SplitAttr>().Dim + TangentBatchDims(tx, c.X(0)), c.A<SplitAttr>().Sizes)
            : new Tensor?[c.A<SplitAttr>().Sizes.Length],
        BatchedJvp = true,
        Samples = () =>
        [
            new("size", [OpSamples.Make(OpSamples.Domain.Real, 1, 5, 2)], t => Cat(Array.ConvertAll(t[0].Split(2), p => p.Reshape(-1)), 0)),
            new("sizes", [OpSamples.Make(OpSamples.Domain.Real, 2, 2, 6)], t => Cat(Array.ConvertAll(t[0].Split([1, 3, 2], 1), p => p.Reshape(-1)), 0)),
            new("some pieces, noncontiguous", [OpSamples.Make(OpSamples.Domain.Real, 3, 4, 5).T], t => { var u = t[0].Split([2, 0, 2], -1); return u[0] * u[2]; }),
            new("one piece", [OpSamples.Make(OpSamples.Domain.Real, 4, 3, 2)], t => t[0].Split(2, 1)[0].Exp()),
        ],
    };

    /// <summary>The slices along <paramref name="dim"/>, with that dim removed (views; PyTorch's <c>unbind</c>). One op with
    /// every slice as an output, so the backward stacks the slices' gradients once (per-slice selects would each scatter
    /// into a zero tensor of the whole input: quadratic in the number of slices, as in a recurrence over time steps).</summary>
    public Tensor[] Unbind(int dim = 0)
    {
        int d = WrapIndexDim("Unbind", dim);
        var r = new Tensor[_shape[d]];
        int[] shape = [.. _shape[..d], .. _shape[(d + 1)..]];
        int[] strides = [.. _strides[..d], .. _strides[(d + 1)..]];
        for (int i = 0; i < r.Length; i++) r[i] = MakeView((int[])shape.Clone(), (int[])strides.Clone(), Offset + i * _strides[d]);
        if (r.Length > 0 && Op.Tracking(this)) Op.Record(UnbindOp, r, [this], d);
        return r;
    }

    // outputs: the slices along dim (the attribute); linear, so its vector-mode JVP is also its batching rule
    internal static readonly OpDef UnbindOp = new("Unbind", OpFamily.ShapeIndexCreateOther, "unbind")
    {
        Linear = true, DTypes = DTypeSet.All,
        VjpAll = (in OpCtx c, Tensor[] gs, bool[] needs) => [Stack(gs, c.A<int>())],
        JvpAll = (in OpCtx c, Tensor?[] t) => t[0] is { } tx ? tx.Unbind(c.A<int>() + TangentBatchDims(tx, c.X(0))) : new Tensor?[c.X(0)._shape[c.A<int>()]],
        BatchedJvp = true,
        Samples = () =>
        [
            new("dim 1", [OpSamples.Make(OpSamples.Domain.Real, 1, 2, 3)], t => Stack(t[0].Unbind(1))),
            new("some slices", [OpSamples.Make(OpSamples.Domain.Real, 2, 4, 2)], t => { var u = t[0].Unbind(0); return u[1] * u[3]; }),
            new("noncontiguous, one slice", [OpSamples.Make(OpSamples.Domain.Real, 3, 3, 1).T], t => t[0].Unbind(0)[0].Exp()),
        ],
    };

    // ---- checks and dispatch ----------------------------------------------------------------------

    private static void CheckIndexDType(string op, Tensor index)
    {
        ArgumentNullException.ThrowIfNull(index);
        if (index.DType != DType.Int64)
            throw new DTypeMismatchException(
                $"{op}: the index must be an int64 tensor but has dtype {index.DType.Name()} (shape {ShapeUtil.Format(index._shape)}). Convert it with To(DType.Int64).");
    }

    private static void CheckIndexVector(string op, Tensor index)
    {
        if (index.Rank > 1)
            throw new ShapeMismatchException($"{op}: the index must be 1-D but has shape {ShapeUtil.Format(index._shape)}. Flatten() it first.");
    }

    /// <summary>Strides of a 0-d or 1-D index viewed as a vector.</summary>
    private static int[] VectorStrides(Tensor index) => [index.Rank == 1 ? index._strides[0] : 0];

    private int WrapIndexDim(string op, int dim)
    {
        if (Rank == 0)
            throw new ShapeMismatchException($"{op}: the input is 0-d (shape []) and has no dim to index; Reshape(1) it first.");
        return ShapeUtil.WrapDim(op, dim, Rank);
    }

    private void CheckAccumulable(string op)
    {
        if (DType == DType.Bool)
            throw new DTypeMismatchException($"{op}: cannot add into a bool tensor (shape {ShapeUtil.Format(_shape)}); convert it with To(...) first.");
    }

    /// <summary>Throws when an element of <paramref name="index"/> (int64, any shape) is outside [0, <paramref name="size"/>);
    /// <paramref name="context"/> describes what is indexed (e.g. the weight's shape).</summary>
    internal static void CheckIndexRange(string op, Tensor index, int size, string context) =>
        CheckIndexRange(op, index, index._strides, index._shape, size, -1, context);

    /// <summary>Throws when an element of the index view is outside [0, <paramref name="size"/>).</summary>
    private static void CheckIndexRange(string op, Tensor index, int[] strides, int[] shape, int size, int dim, string context)
    {
        if (Indexing.FindOutOfRange(index.Storage.As<long>(), index.Offset, strides, shape, size) is not { } bad) return;
        string where = dim >= 0 ? $"dim {dim} with size {size}" : $"size {size}";
        throw new IndexOutOfBoundsException(op, bad.Value, size, dim >= 0 ? dim : null,
            $"{op}: index {bad.Value} (at flat position {bad.Position} of the index of shape {ShapeUtil.Format(index._shape)}) is out of bounds for {where} ({context}); indices must lie in [0, {size}).");
    }

    private static void GatherRaw(Tensor src, int d, Tensor index, int[] idxStrides, Tensor dst, int[] shape)
    {
        var idx = index.Storage.As<long>();
        switch (src.DType)
        {
            case DType.Float32: Indexing.Gather(src.Storage.As<float>(), src.Offset, src._strides, d, idx, index.Offset, idxStrides, dst.Storage.As<float>(), shape); break;
            case DType.Float64: Indexing.Gather(src.Storage.As<double>(), src.Offset, src._strides, d, idx, index.Offset, idxStrides, dst.Storage.As<double>(), shape); break;
            case DType.Int64: Indexing.Gather(src.Storage.As<long>(), src.Offset, src._strides, d, idx, index.Offset, idxStrides, dst.Storage.As<long>(), shape); break;
            case DType.Bool: Indexing.Gather(src.Storage.As<bool>(), src.Offset, src._strides, d, idx, index.Offset, idxStrides, dst.Storage.As<bool>(), shape); break;
        }
    }

    /// <summary>Scatter-adds alpha·src (a strided view iterated over <paramref name="shape"/>) into the dense <paramref name="dst"/>.</summary>
    private static void ScatterAddRaw(Tensor dst, int d, Tensor index, int[] idxStrides, Tensor src, int[] shape, double alpha)
    {
        switch (dst.DType)
        {
            case DType.Float32: Run<float>(); break;
            case DType.Float64: Run<double>(); break;
            case DType.Int64: Run<long>(); break;
            default: throw new DTypeMismatchException($"ScatterAdd: dtype {dst.DType.Name()} is not supported.");
        }

        void Run<T>() where T : unmanaged, INumberBase<T> =>
            Indexing.ScatterAdd(dst.Storage.As<T>(), dst._shape, d, index.Storage.As<long>(), index.Offset, idxStrides,
                src.Storage.As<T>(), src.Offset, src._strides, shape, T.CreateTruncating(alpha));
    }
}
