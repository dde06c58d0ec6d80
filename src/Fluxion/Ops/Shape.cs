namespace Fluxion;

// Shape primitives. Views share storage with their input; each op's VJP and JVP sit beside it.
public partial class Tensor
{
    /// <summary>A view over the same storage; remembers the viewed tensor for in-place checks.</summary>
    private Tensor MakeView(int[] shape, int[] strides, int offset) =>
        new(Storage, shape, strides, offset) { ViewBase = ViewBase ?? this };

    private int[] InferShape(string op, int[] shape)
    {
        var s = (int[])shape.Clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == -1)
            {
                if (infer >= 0) throw new ShapeMismatchException($"{op}: only one dimension can be -1 in {ShapeUtil.Format(shape)}.");
                infer = i;
            }
            else if (s[i] < 0) throw new ShapeMismatchException($"{op}: invalid dimension {s[i]} in {ShapeUtil.Format(shape)}.");
            else known = Math.Min(known * s[i], (long)int.MaxValue + 1); // saturate: no overflow, still unequal to any numel
        }
        int n = Numel;
        if (infer >= 0)
        {
            if (known == 0 || n % known != 0)
                throw new ShapeMismatchException($"{op}: shape {ShapeUtil.Format(shape)} is invalid for input of shape {ShapeUtil.Format(_shape)} ({n} elements).");
            s[infer] = (int)(n / known);
        }
        else if (known != n)
            throw new ShapeMismatchException($"{op}: shape {ShapeUtil.Format(shape)} ({(known > int.MaxValue ? "more than " + int.MaxValue : known)} elements) is invalid for input of shape {ShapeUtil.Format(_shape)} ({n} elements).");
        ShapeUtil.CheckedNumel(op, s); // an empty tensor's new dims must still have strides that fit
        return s;
    }

    /// <summary>Strides for viewing this tensor with <paramref name="shape"/> without copying, or null if impossible.</summary>
    private int[]? ViewStrides(int[] shape)
    {
        if (IsContiguous) return ShapeUtil.ContiguousStrides(shape);
        // General case (as PyTorch's computeStride): match chunks of old dims that are contiguous among themselves.
        var oldShape = _shape;
        var oldStrides = _strides;
        var newStrides = new int[shape.Length];
        if (Numel == 0) return ShapeUtil.ContiguousStrides(shape);
        int viewD = shape.Length - 1;
        int chunkBaseStride = oldStrides.Length > 0 ? oldStrides[^1] : 1;
        long tensorNumel = 1, viewNumel = 1;
        for (int tensorD = oldShape.Length - 1; tensorD >= 0; tensorD--)
        {
            tensorNumel *= oldShape[tensorD];
            if (tensorD == 0 || (oldShape[tensorD - 1] != 1 && oldStrides[tensorD - 1] != tensorNumel * chunkBaseStride))
            {
                while (viewD >= 0 && (viewNumel < tensorNumel || shape[viewD] == 1))
                {
                    newStrides[viewD] = (int)(viewNumel * chunkBaseStride);
                    viewNumel *= shape[viewD];
                    viewD--;
                }
                if (viewNumel != tensorNumel) return null;
                if (tensorD > 0)
                {
                    chunkBaseStride = oldStrides[tensorD - 1];
                    tensorNumel = 1;
                    viewNumel = 1;
                }
            }
        }
        if (viewD != -1) return null;
        return newStrides;
    }

    /// <summary>A view with a new shape (one dim may be -1). Throws when the layout does not allow a view; use <see cref="Reshape"/> then.</summary>
    public Tensor View(params int[] shape)
    {
        var s = InferShape("View", shape);
        var strides = ViewStrides(s) ?? throw new ShapeMismatchException(
            $"View: a tensor of shape {ShapeUtil.Format(_shape)} with strides {ShapeUtil.Format(_strides)} cannot be viewed as {ShapeUtil.Format(s)} without copying. Use Reshape(...) or call Contiguous() first.");
        return ReshapeOp(s, strides);
    }

    /// <summary>The same elements with a new shape (one dim may be -1): a view when possible, otherwise a copy.</summary>
    public Tensor Reshape(params int[] shape)
    {
        var s = InferShape("Reshape", shape);
        var strides = ViewStrides(s);
        if (strides is null) return Contiguous().ReshapeOp(s, ShapeUtil.ContiguousStrides(s));
        return ReshapeOp(s, strides);
    }

    private Tensor ReshapeOp(int[] shape, int[] strides)
    {
        var y = MakeView(shape, strides, Offset);
        return Op.Tracking(this) ? Op.Record(ReshapeDef, y, [this]) : y;
    }

    // the shapes are the input's and the output's: no attributes
    internal static readonly OpDef ReshapeDef = new("Reshape", OpFamily.ShapeIndexCreateOther, "reshape")
    {
        Linear = true,
        Vjp = (in OpCtx c, Tensor g, int i) => g.Reshape(c.Shape(0)),
        Jvp = (in OpCtx c, Tensor?[] t) => t[0] is { } tx ? tx.Reshape([.. TangentBatchShape(tx, c.X(0)), .. c.Y.ShapeRef]) : null,
        BatchedJvp = true,
        Samples = () =>
        [
            new("[3, 4] to [2, 6]", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 4)], t => t[0].Reshape(2, -1)),
            new("noncontiguous (copy)", [OpSamples.Make(OpSamples.Domain.Real, 2, 4, 3).T], t => t[0].Reshape(12)),
            new("view", [OpSamples.Make(OpSamples.Domain.Real, 3, 2, 3, 4)], t => t[0].View(6, 4)),
            new("0-d to [1, 1]", [OpSamples.Make(OpSamples.Domain.Real, 4)], t => t[0].Reshape(1, 1)),
            new("unsqueeze, squeeze, flatten", [OpSamples.Make(OpSamples.Domain.Real, 5, 2, 1, 3)], t => t[0].Squeeze(1).Unsqueeze(0).Flatten()),
            new("empty", [OpSamples.Make(OpSamples.Domain.Real, 6, 0, 3)], t => t[0].Reshape(3, 0)),
        ],
    };

    /// <summary>Flattens dims <paramref name="startDim"/>..<paramref name="endDim"/> into one.</summary>
    public Tensor Flatten(int startDim = 0, int endDim = -1)
    {
        if (Rank == 0) return Reshape(1);
        int s = ShapeUtil.WrapDim("Flatten", startDim, Rank), e = ShapeUtil.WrapDim("Flatten", endDim, Rank);
        if (s > e) throw new ArgumentException($"Flatten: startDim ({startDim}) must not come after endDim ({endDim}).");
        var shape = new List<int>();
        for (int i = 0; i < s; i++) shape.Add(_shape[i]);
        int m = 1;
        for (int i = s; i <= e; i++) m *= _shape[i];
        shape.Add(m);
        for (int i = e + 1; i < Rank; i++) shape.Add(_shape[i]);
        return Reshape([.. shape]);
    }

    /// <summary>Reorders the dimensions (a view).</summary>
    public Tensor Permute(params int[] dims)
    {
        if (dims.Length != Rank)
            throw new ShapeMismatchException($"Permute: {dims.Length} dims given for a tensor of rank {Rank} (shape {ShapeUtil.Format(_shape)}).");
        var d = new int[Rank];
        var seen = new bool[Rank];
        for (int i = 0; i < Rank; i++)
        {
            d[i] = ShapeUtil.WrapDim("Permute", dims[i], Rank);
            if (seen[d[i]]) throw new ShapeMismatchException($"Permute: dim {dims[i]} repeats in {ShapeUtil.Format(dims)} (input shape {ShapeUtil.Format(_shape)}); give each dim exactly once.");
            seen[d[i]] = true;
        }
        var y = MakeView(Array.ConvertAll(d, i => _shape[i]), Array.ConvertAll(d, i => _strides[i]), Offset);
        if (!Op.Tracking(this)) return y;
        var inv = new int[Rank];
        for (int i = 0; i < Rank; i++) inv[d[i]] = i;
        return Op.Record(PermuteOp, y, [this], inv);
    }

    // the attribute is the inverse permutation (the VJP's); the JVP inverts it back
    internal static readonly OpDef PermuteOp = new("Permute", OpFamily.ShapeIndexCreateOther, "permute")
    {
        Linear = true,
        Vjp = (in OpCtx c, Tensor g, int i) => g.Permute(c.A<int[]>()),
        Jvp = (in OpCtx c, Tensor?[] t) =>
        {
            if (t[0] is not { } tx) return null;
            var inv = c.A<int[]>();
            var d = new int[inv.Length];
            for (int k = 0; k < inv.Length; k++) d[inv[k]] = k;
            return tx.Permute([.. Enumerable.Range(0, TangentBatchDims(tx, c.X(0))), .. ShiftDims(d, tx, c.X(0))]);
        },
        BatchedJvp = true,
        Samples = () =>
        [
            new("3-d", [OpSamples.Make(OpSamples.Domain.Real, 1, 2, 3, 4)], t => t[0].Permute(2, 0, 1)),
            new("transpose", [OpSamples.Make(OpSamples.Domain.Real, 2, 3, 4)], t => t[0].T),
            new("noncontiguous", [OpSamples.Make(OpSamples.Domain.Real, 3, 4, 3).T], t => t[0].Permute(1, 0)),
            new("0-d", [OpSamples.Make(OpSamples.Domain.Real, 4)], t => t[0].Permute()),
            new("empty", [OpSamples.Make(OpSamples.Domain.Real, 5, 0, 3)], t => t[0].Permute(1, 0)),
        ],
    };

    /// <summary>Swaps two dimensions (a view).</summary>
    public Tensor Transpose(int dim0, int dim1)
    {
        if (Rank < 2 && dim0 is 0 or -1 && dim1 is 0 or -1) return Permute(Rank == 0 ? [] : [0]);
        var p = Enumerable.Range(0, Rank).ToArray();
        int a = ShapeUtil.WrapDim("Transpose", dim0, Rank), b = ShapeUtil.WrapDim("Transpose", dim1, Rank);
        (p[a], p[b]) = (p[b], p[a]);
        return Permute(p);
    }

    /// <summary>The dims in reverse order (PyTorch's <c>.T</c>): the transpose of a matrix; rank 0 and 1 are returned as
    /// views unchanged; for batched matrices <see cref="MT"/> is usually what is meant.</summary>
    public Tensor T => Rank == 2 ? Transpose(0, 1) : Permute(Enumerable.Range(0, Rank).Reverse().ToArray());

    /// <summary>Transposes the last two dims (batched matrix transpose).</summary>
    public Tensor MT => Rank < 2
        ? throw new ShapeMismatchException($"MT: expects a tensor of rank >= 2 but got shape {ShapeUtil.Format(_shape)}.")
        : Transpose(-2, -1);

    /// <summary>Broadcasts to <paramref name="shape"/> (a view with stride 0 on the expanded dims; -1 keeps a dim).</summary>
    public Tensor Expand(params int[] shape)
    {
        if (shape.Length < Rank)
            throw new ShapeMismatchException($"Expand: the target shape {ShapeUtil.Format(shape)} has fewer dims than the tensor {ShapeUtil.Format(_shape)}.");
        var s = new int[shape.Length];
        var st = new int[shape.Length];
        int off = shape.Length - Rank;
        for (int i = 0; i < shape.Length; i++)
        {
            int src = i - off;
            int want = shape[i];
            if (src < 0)
            {
                if (want < 0) throw new ShapeMismatchException($"Expand: -1 is not allowed for the new leading dim {i} in {ShapeUtil.Format(shape)}.");
                s[i] = want;
                st[i] = 0;
                continue;
            }
            int have = _shape[src];
            if (want == -1 || want == have)
            {
                s[i] = have;
                st[i] = _strides[src];
            }
            else if (have == 1)
            {
                s[i] = want;
                st[i] = 0;
            }
            else
                throw new ShapeMismatchException($"Expand: the size {have} of dim {src} of shape {ShapeUtil.Format(_shape)} cannot be expanded to {want} (target {ShapeUtil.Format(shape)}); only size-1 dims can be expanded.");
        }
        ShapeUtil.CheckedNumel("Expand", s);
        var y = MakeView(s, st, Offset);
        return Op.Tracking(this) ? Op.Record(ExpandOp, y, [this]) : y;
    }

    // the shapes are the input's and the output's: no attributes
    internal static readonly OpDef ExpandOp = new("Expand", OpFamily.ShapeIndexCreateOther, "expand", "broadcast_to")
    {
        Linear = true,
        Vjp = (in OpCtx c, Tensor g, int i) => g.SumTo(c.Shape(0)),
        Jvp = (in OpCtx c, Tensor?[] t) => t[0] is { } tx ? AlignTangent(tx, c.X(0), c.Y.Rank)!.Expand([.. TangentBatchShape(tx, c.X(0)), .. c.Y.ShapeRef]) : null,
        BatchedJvp = true,
        Samples = () =>
        [
            new("[3, 1] to [2, 3, 4]", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 1)], t => t[0].Expand(2, 3, 4)),
            new("-1 keeps a dim", [OpSamples.Make(OpSamples.Domain.Real, 2, 1, 4)], t => t[0].Expand(3, -1)),
            new("0-d", [OpSamples.Make(OpSamples.Domain.Real, 3)], t => t[0].Expand(2, 2)),
            new("noncontiguous", [OpSamples.Make(OpSamples.Domain.Real, 4, 1, 3).T], t => t[0].Expand(3, 5)),
            new("to empty", [OpSamples.Make(OpSamples.Domain.Real, 5, 1, 3)], t => t[0].Expand(0, 3)),
        ],
    };

    /// <summary>Expands to the shape of <paramref name="other"/>.</summary>
    public Tensor ExpandAs(Tensor other) => Expand(other.ShapeArray);

    /// <summary>Inserts a size-1 dim at <paramref name="dim"/> (a view).</summary>
    public Tensor Unsqueeze(int dim)
    {
        int d = dim < 0 ? dim + Rank + 1 : dim;
        if (d < 0 || d > Rank) throw new ArgumentOutOfRangeException(nameof(dim), $"Unsqueeze: dim {dim} is out of range for a tensor of rank {Rank} (expected [{-Rank - 1}, {Rank}]).");
        var s = new List<int>(_shape);
        s.Insert(d, 1);
        return Reshape([.. s]);
    }

    /// <summary>Removes size-1 dims: all of them, or only <paramref name="dim"/> when given (a no-op if it is not 1).</summary>
    public Tensor Squeeze(int? dim = null)
    {
        var s = new List<int>();
        int only = dim is { } dd ? ShapeUtil.WrapDim("Squeeze", dd, Rank) : -1;
        for (int i = 0; i < Rank; i++)
            if (!(_shape[i] == 1 && (only < 0 || only == i))) s.Add(_shape[i]);
        return Reshape([.. s]);
    }

    /// <summary>Elements start, start+step, ... below end along <paramref name="dim"/> (a view). Bounds are clamped as in Python slicing; negative values count from the end.</summary>
    public Tensor Slice(int dim, int? start = null, int? end = null, int step = 1)
    {
        int d = ShapeUtil.WrapDim("Slice", dim, Rank);
        if (Rank == 0) throw new ShapeMismatchException("Slice: cannot slice a 0-d tensor.");
        if (step <= 0) throw new ArgumentException($"Slice: step must be positive, got {step}.");
        int n = _shape[d];
        int s0 = start ?? 0, e0 = end ?? n;
        if (s0 < 0) s0 += n;
        if (e0 < 0) e0 += n;
        s0 = Math.Clamp(s0, 0, n);
        e0 = Math.Clamp(e0, s0, n);
        int len = (e0 - s0 + step - 1) / step;
        var shape = ShapeArray;
        shape[d] = len;
        var strides = (int[])_strides.Clone();
        strides[d] *= step;
        var y = MakeView(shape, strides, Offset + s0 * _strides[d]);
        return Op.Tracking(this) ? Op.Record(SliceOp, y, [this], new SliceAttr(d, s0, e0, step)) : y;
    }

    /// <summary>A slice along <paramref name="Dim"/>: positions <paramref name="Start"/>, +<paramref name="Step"/>, ... below <paramref name="End"/> (bounds already clamped).</summary>
    private sealed record SliceAttr(int Dim, int Start, int End, int Step);

    internal static readonly OpDef SliceOp = new("Slice", OpFamily.ShapeIndexCreateOther, "slice")
    {
        Linear = true,
        Vjp = (in OpCtx c, Tensor g, int i) => SliceBackward(g, c.Shape(0), c.A<SliceAttr>().Dim, c.A<SliceAttr>().Start, c.A<SliceAttr>().Step),
        Jvp = (in OpCtx c, Tensor?[] t) =>
        {
            if (t[0] is not { } tx) return null;
            var a = c.A<SliceAttr>();
            return tx.Slice(a.Dim + TangentBatchDims(tx, c.X(0)), a.Start, a.End, a.Step);
        },
        BatchedJvp = true,
        Samples = () =>
        [
            new("step 2", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 7)], t => t[0].Slice(1, 1, 6, 2)),
            new("negative bounds", [OpSamples.Make(OpSamples.Domain.Real, 2, 5, 3)], t => t[0].Slice(0, -4, -1)),
            new("select, narrow", [OpSamples.Make(OpSamples.Domain.Real, 3, 4, 5)], t => t[0].Select(1, 2).Narrow(0, 1, 2)),
            new("noncontiguous", [OpSamples.Make(OpSamples.Domain.Real, 4, 4, 3).T], t => t[0].Slice(1, 1, 3)),
            new("empty slice", [OpSamples.Make(OpSamples.Domain.Real, 5, 3, 4)], t => t[0].Slice(1, 2, 2)),
        ],
    };

    /// <summary>Length elements from start along dim (a view).</summary>
    public Tensor Narrow(int dim, int start, int length)
    {
        int d = ShapeUtil.WrapDim("Narrow", dim, Rank);
        if (start < 0) start += _shape[d];
        if (start < 0 || length < 0 || start + length > _shape[d])
            throw new ArgumentOutOfRangeException(nameof(start), $"Narrow: start {start} and length {length} do not fit in dim {dim} of size {_shape[d]} (shape {ShapeUtil.Format(_shape)}).");
        return Slice(d, start, start + length);
    }

    /// <summary>The slice at <paramref name="index"/> along <paramref name="dim"/>, with that dim removed (a view).</summary>
    public Tensor Select(int dim, int index)
    {
        int d = ShapeUtil.WrapDim("Select", dim, Rank);
        int n = _shape[d];
        if (index < -n || index >= n)
            throw new IndexOutOfBoundsException("Select", index, n, d, $"Select: index {index} is out of range for dim {dim} of size {n} (shape {ShapeUtil.Format(_shape)}); indices must lie in [{-n}, {n}).");
        if (index < 0) index += n;
        return Slice(d, index, index + 1).Squeeze(d);
    }

    /// <summary>Adjoint of Slice: places <paramref name="g"/> into zeros of <paramref name="inShape"/> at the sliced positions.</summary>
    private static Tensor SliceBackward(Tensor g, int[] inShape, int dim, int start, int step)
    {
        var y = Zeros(inShape, g.DType);
        var strides = (int[])y._strides.Clone();
        strides[dim] *= step;
        var region = y.AsStridedRaw(g.ShapeArray, strides, start * y._strides[dim]);
        region.CopyRawFrom(g);
        if (!Op.Tracking(g)) return y;
        int end = start + g._shape[dim] * step;
        return Op.Record(SliceScatterOp, y, [g], new SliceAttr(dim, start, Math.Min(end, inShape[dim]), step));
    }

    // the adjoint of Slice, linear: its VJP is the slice, its JVP itself
    internal static readonly OpDef SliceScatterOp = new("SliceScatter", OpFamily.ShapeIndexCreateOther, "slice_scatter")
    {
        Linear = true, // (its JVP, applied to the batch, is its batching rule: per-sample gradients through slices)
        Vjp = (in OpCtx c, Tensor g, int i) => g.Slice(c.A<SliceAttr>().Dim, c.A<SliceAttr>().Start, c.A<SliceAttr>().End, c.A<SliceAttr>().Step),
        Jvp = (in OpCtx c, Tensor?[] t) =>
        {
            if (t[0] is not { } tg) return null;
            var a = c.A<SliceAttr>();
            return SliceBackward(tg, [.. TangentBatchShape(tg, c.X(0)), .. c.Y.ShapeRef], a.Dim + TangentBatchDims(tg, c.X(0)), a.Start, a.Step);
        },
        BatchedJvp = true,
        Samples = () =>
        [
            new("rows 1, 3 of [5, 4]", [OpSamples.Make(OpSamples.Domain.Real, 1, 2, 4)], t => SliceBackward(t[0], [5, 4], 0, 1, 2)),
            new("columns 2.. of [3, 6]", [OpSamples.Make(OpSamples.Domain.Real, 2, 3, 4)], t => SliceBackward(t[0], [3, 6], 1, 2, 1)),
            new("noncontiguous", [OpSamples.Make(OpSamples.Domain.Real, 3, 2, 3).T], t => SliceBackward(t[0], [3, 4], 1, 0, 2)),
        ],
    };

    /// <summary>
    /// Basic indexing as in PyTorch: integers select (and drop the dim), ranges slice, <c>..</c> is a
    /// full slice, <see cref="TensorIndex.Ellipsis"/> stands for the remaining dims and
    /// <see cref="TensorIndex.NewAxis"/> inserts a size-1 dim. Example: <c>x[0, 1..3]</c>, <c>x[.., ^1]</c>.
    /// </summary>
    [System.Runtime.CompilerServices.IndexerName("Slot")]
    public Tensor this[params TensorIndex[] indices]
    {
        get
        {
            int consumed = 0, ellipses = 0;
            foreach (var ix in indices)
            {
                if (ix.Kind == TensorIndex.IndexKind.Ellipsis) ellipses++;
                else if (ix.Kind != TensorIndex.IndexKind.NewAxis) consumed++;
            }
            if (ellipses > 1) throw new ArgumentException("Index: at most one Ellipsis is allowed.");
            if (consumed > Rank) throw new ShapeMismatchException($"Index: too many indices ({consumed}) for a tensor of rank {Rank} (shape {ShapeUtil.Format(_shape)}).");
            var r = this;
            int dim = 0, source = 0; // dim of r, and of this tensor
            foreach (var ix in indices)
            {
                switch (ix.Kind)
                {
                    case TensorIndex.IndexKind.Single:
                    case TensorIndex.IndexKind.Int:
                    {
                        int n = r._shape[dim];
                        int i = ix.Kind == TensorIndex.IndexKind.Int ? ix.Int : ix.Index.IsFromEnd ? n - ix.Index.Value : ix.Index.Value;
                        if (ix.Kind == TensorIndex.IndexKind.Int ? i < -n || i >= n : i < 0 || i >= n) // ^k from the end: 1 <= k <= n
                        {
                            string shown = ix.Kind == TensorIndex.IndexKind.Int ? $"{i}" : $"{ix.Index}";
                            throw new IndexOutOfBoundsException("Index", i, n, source,
                                $"Index: index {shown} is out of range for dim {source} of size {n} (shape {ShapeUtil.Format(_shape)}); indices must lie in [{-n}, {n}).");
                        }
                        r = r.Select(dim, i);
                        source++;
                        break;
                    }
                    case TensorIndex.IndexKind.Range:
                    {
                        int n = r._shape[dim], start = ix.Range.Start.GetOffset(n), end = ix.Range.End.GetOffset(n);
                        if (start < 0 || end > n || start > end)
                            throw new IndexOutOfBoundsException("Index", start < 0 || start > n ? start : end, n, source,
                                $"Index: range {ix.Range} is out of range for dim {source} of size {n} (shape {ShapeUtil.Format(_shape)}); a range must satisfy 0 <= start <= end <= {n}.");
                        r = r.Slice(dim, start, end);
                        dim++;
                        source++;
                        break;
                    }
                    case TensorIndex.IndexKind.NewAxis:
                        r = r.Unsqueeze(dim);
                        dim++;
                        break;
                    case TensorIndex.IndexKind.Ellipsis:
                        dim += Rank - consumed;
                        source += Rank - consumed;
                        break;
                }
            }
            return ReferenceEquals(r, this) ? Alias() : r;
        }
    }

    /// <summary>A view of the whole tensor (a new tensor object, same storage, in the graph).</summary>
    private Tensor Alias() => ReshapeOp(ShapeArray, (int[])_strides.Clone());

    /// <summary>This tensor when already contiguous; otherwise a dense copy (differentiable).</summary>
    public Tensor Contiguous() => IsContiguous ? this : Clone();

    /// <summary>A dense copy (differentiable; the gradient passes unchanged).</summary>
    public Tensor Clone()
    {
        var y = Empty(ShapeArray, DType);
        y.CopyRawFrom(this);
        return Op.Tracking(this) ? Op.Record(CloneOp, y, [this]) : y;
    }

    internal static readonly OpDef CloneOp = new("Clone", OpFamily.ShapeIndexCreateOther, "clone", "contiguous")
    {
        Linear = true,
        Vjp = (in OpCtx c, Tensor g, int i) => g,
        Jvp = (in OpCtx c, Tensor?[] t) => t[0],
        BatchedJvp = true,
        Samples = () =>
        [
            new("2-d", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 4)], t => t[0].Clone()),
            new("noncontiguous (Contiguous)", [OpSamples.Make(OpSamples.Domain.Real, 2, 4, 3).T], t => t[0].Contiguous()),
            new("0-d", [OpSamples.Make(OpSamples.Domain.Real, 3)], t => t[0].Clone()),
            new("empty", [OpSamples.Make(OpSamples.Domain.Real, 4, 0, 3)], t => t[0].Clone()),
        ],
    };

    /// <summary>Sums broadcast dims so the result has <paramref name="shape"/> (the adjoint of broadcasting).</summary>
    public Tensor SumTo(ReadOnlySpan<int> shape)
    {
        if (ShapeUtil.SameShape(_shape, shape)) return this;
        int lead = Rank - shape.Length;
        if (lead < 0)
            throw new ShapeMismatchException($"SumTo: cannot reduce shape {ShapeUtil.Format(_shape)} to the larger-rank shape {ShapeUtil.Format(shape)}.");
        var dims = new List<int>();
        for (int i = 0; i < lead; i++) dims.Add(i);
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] == 1 && _shape[lead + i] != 1) dims.Add(lead + i);
            else if (shape[i] != _shape[lead + i])
                throw new ShapeMismatchException($"SumTo: shape {ShapeUtil.Format(_shape)} does not broadcast from {ShapeUtil.Format(shape)}.");
        }
        var target = shape.ToArray();
        var r = dims.Count > 0 ? Sum([.. dims], keepDim: true) : this;
        return r.Reshape(target);
    }
}

/// <summary>One entry of a tensor index: an integer, an <see cref="System.Index"/>, a <see cref="System.Range"/>,
/// <see cref="Ellipsis"/> or <see cref="NewAxis"/>. Converted implicitly, so <c>x[1, .., ^1]</c> works.</summary>
public readonly struct TensorIndex
{
    internal enum IndexKind { Int, Single, Range, Ellipsis, NewAxis }

    internal IndexKind Kind { get; }
    internal int Int { get; }
    internal Index Index { get; }
    internal Range Range { get; }

    private TensorIndex(IndexKind kind, int i = 0, Index index = default, Range range = default)
    {
        Kind = kind;
        Int = i;
        Index = index;
        Range = range;
    }

    /// <summary>Stands for as many full slices as needed (Python's <c>...</c>).</summary>
    public static TensorIndex Ellipsis { get; } = new(IndexKind.Ellipsis);

    /// <summary>Inserts a size-1 dim (Python's <c>None</c>).</summary>
    public static TensorIndex NewAxis { get; } = new(IndexKind.NewAxis);

    /// <summary>Selects one position (negative counts from the end).</summary>
    public static implicit operator TensorIndex(int i) => new(IndexKind.Int, i);

    /// <summary>Selects one position, possibly from the end (<c>^1</c>).</summary>
    public static implicit operator TensorIndex(Index i) => new(IndexKind.Single, index: i);

    /// <summary>Slices a range (<c>1..3</c>, <c>..</c>).</summary>
    public static implicit operator TensorIndex(Range r) => new(IndexKind.Range, range: r);
}
