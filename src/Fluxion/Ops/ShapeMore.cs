namespace Fluxion;

/// <summary>How <see cref="Tensor.Meshgrid(Tensor[], MeshgridIndexing)"/> lays out its grids (PyTorch's <c>indexing</c> argument).</summary>
public enum MeshgridIndexing
{
    /// <summary>Matrix indexing: output i varies along dim i (the grids have shape [n0, n1, ...]).</summary>
    Ij,
    /// <summary>Cartesian indexing: the first two dims are swapped (the grids have shape [n1, n0, ...]).</summary>
    Xy,
}

// Shape ops beyond the primitives of Shape.cs: flips and rolls, repeats, triangles and diagonals, stacking and
// splitting helpers, padding, grids. Flip is a primitive (its VJP and JVP are flips); the rest are composites of
// registered entries, so their derivatives are those entries'.
// (Tensor is marked [OpTable] in Elementwise.cs.)
public partial class Tensor
{
    private static Tensor SampleReal(int seed, params int[] shape) => OpSamples.Make(OpSamples.Domain.Real, seed, shape);

    /// <summary>Whether composite ops called on untracked inputs (no grad, no tangents, no tracer) take their direct
    /// eager kernels (one pass into one allocation) instead of the composition; on by default. Per thread: tests and
    /// the in-process A/B (bench/Fluxion.Micro <c>ab shape</c>) turn it off to run the composition on the same inputs.</summary>
    [ThreadStatic] private static bool t_compositionOnly;

    /// <summary>See <see cref="t_compositionOnly"/>: false runs the compositions even when nothing is tracked.</summary>
    internal static bool DirectForwards
    {
        get => !t_compositionOnly;
        set => t_compositionOnly = !value;
    }

    /// <summary>True when a composite op may take its direct eager kernel: <see cref="DirectForwards"/> and no input tracked.</summary>
    internal static bool Eager(ReadOnlySpan<Tensor> inputs) => !t_compositionOnly && !Op.Tracking(inputs);

    /// <inheritdoc cref="Eager(ReadOnlySpan{Tensor})"/>
    internal static bool Eager(Tensor a) => !t_compositionOnly && !Op.Tracking(a);

    private static OpDef Composite(string name, string[] of, string[] torch, Func<IEnumerable<OpSample>>? samples,
        OpFamily family = OpFamily.ShapeIndexCreateOther, DTypeSet dtypes = DTypeSet.All) =>
        new(name, family, torch) { CompositeOf = of, Samples = samples, DTypes = dtypes };

    private int[] WrapDims(string op, int[] dims)
    {
        var d = new int[dims.Length];
        var seen = new bool[Math.Max(Rank, 1)];
        for (int i = 0; i < dims.Length; i++)
        {
            d[i] = ShapeUtil.WrapDim(op, dims[i], Rank);
            if (seen[d[i]]) throw new ArgumentException($"{op}: dim {dims[i]} appears more than once in {ShapeUtil.Format(dims)} (shape {ShapeUtil.Format(_shape)}).");
            seen[d[i]] = true;
        }
        return d;
    }

    // ---- Flip ------------------------------------------------------------------------------------

    internal static readonly OpDef FlipOp = new("Flip", OpFamily.ShapeIndexCreateOther, "flip")
    {
        Linear = true,
        DTypes = DTypeSet.All,
        Vjp = (in OpCtx c, Tensor g, int i) => g.FlipCore(c.A<int[]>()),
        Jvp = (in OpCtx c, Tensor?[] t) => t[0] is { } tx ? tx.FlipCore(ShiftDims(c.A<int[]>(), tx, c.X(0))) : null,
        BatchedJvp = true,
        Samples = () =>
        [
            new("1-d", [SampleReal(1, 5)], t => t[0].Flip(0)),
            new("2-d both", [SampleReal(2, 3, 4)], t => t[0].Flip(0, -1)),
            new("noncontiguous", [SampleReal(3, 4, 3).T], t => t[0].Flip(1)),
            new("3-d middle", [SampleReal(4, 2, 3, 2)], t => t[0].Flip(1)),
            new("0-d", [SampleReal(5)], t => t[0].Flip()),
            new("empty", [SampleReal(6, 0, 3)], t => t[0].Flip(0, 1)),
        ],
    };

    /// <summary>A copy with the order of the entries reversed along each of <paramref name="dims"/> (PyTorch's <c>flip</c>).</summary>
    public Tensor Flip(params int[] dims)
    {
        ArgumentNullException.ThrowIfNull(dims);
        return FlipCore(Rank == 0 ? [] : WrapDims("Flip", dims));
    }

    private Tensor FlipCore(int[] dims)
    {
        var strides = (int[])_strides.Clone();
        int offset = Offset;
        foreach (var d in dims)
        {
            if (_shape[d] > 0) offset += (_shape[d] - 1) * _strides[d];
            strides[d] = -strides[d];
        }
        var y = Empty(ShapeArray, DType);
        if (Numel > 0) y.CopyRawFrom(AsStridedRaw(_shape, strides, offset));
        return Op.Record(FlipOp, y, [this], dims);
    }

    internal static readonly OpDef FlipLrOp = Composite("FlipLr", ["Flip"], ["fliplr"], () => [new("2-d", [SampleReal(1, 3, 4)], t => t[0].FlipLr()), new("3-d", [SampleReal(2, 2, 3, 2)], t => t[0].FlipLr())]);
    internal static readonly OpDef FlipUdOp = Composite("FlipUd", ["Flip"], ["flipud"], () => [new("1-d", [SampleReal(1, 4)], t => t[0].FlipUd()), new("2-d", [SampleReal(2, 3, 4)], t => t[0].FlipUd())]);

    /// <summary>Flips the columns (dim 1; the tensor needs rank &gt;= 2), as PyTorch's <c>fliplr</c>.</summary>
    public Tensor FlipLr() => Rank < 2
        ? throw new ShapeMismatchException($"FlipLr: the input must have at least 2 dims but has shape {ShapeUtil.Format(_shape)}; use Flip(0) for a vector.")
        : Flip(1);

    /// <summary>Flips the rows (dim 0; the tensor needs rank &gt;= 1), as PyTorch's <c>flipud</c>.</summary>
    public Tensor FlipUd() => Rank < 1
        ? throw new ShapeMismatchException("FlipUd: the input must have at least 1 dim but is 0-d.")
        : Flip(0);

    // ---- Roll / Rot90 ----------------------------------------------------------------------------

    internal static readonly OpDef RollOp = Composite("Roll", ["Split", "Cat", "Reshape", "Clone"], ["roll"], () =>
    [
        new("1-d", [SampleReal(1, 5)], t => t[0].Roll(2, 0)),
        new("flattened", [SampleReal(2, 3, 4)], t => t[0].Roll(-5)),
        new("two dims", [SampleReal(3, 3, 4).T], t => t[0].Roll([1, -7], [0, 1])),
    ]);

    /// <summary>
    /// Rolls the entries by <paramref name="shift"/> along <paramref name="dim"/> (entries pushed past the end come
    /// back at the start); without a dim the tensor is flattened, rolled and given its shape back (PyTorch's <c>roll</c>).
    /// </summary>
    public Tensor Roll(int shift, int? dim = null) => dim is { } d ? Roll([shift], [d]) : Roll([shift], []);

    /// <summary>Rolls by shifts[i] along dims[i] (<paramref name="dims"/> empty: flattened, as PyTorch's <c>roll</c>).</summary>
    public Tensor Roll(int[] shifts, int[] dims)
    {
        ArgumentNullException.ThrowIfNull(shifts);
        ArgumentNullException.ThrowIfNull(dims);
        if (dims.Length == 0)
        {
            if (shifts.Length != 1) throw new ArgumentException($"Roll: without dims exactly one shift is expected, got {shifts.Length}.", nameof(shifts));
            return Flatten().Roll(shifts, [0]).Reshape(ShapeArray);
        }
        if (shifts.Length != dims.Length)
            throw new ArgumentException($"Roll: {shifts.Length} shifts given for {dims.Length} dims; give one shift per dim.", nameof(shifts));
        var r = this;
        for (int i = 0; i < dims.Length; i++)
        {
            int d = ShapeUtil.WrapDim("Roll", dims[i], Rank);
            int n = _shape[d];
            if (n == 0) continue;
            int s = ((shifts[i] % n) + n) % n;
            if (s == 0) continue;
            // one Split and one Cat: the backward joins the two pieces' gradients in one buffer (no zero pads summed)
            var parts = r.SplitCore(d, [n - s, s]);
            r = Cat([parts[1], parts[0]], d);
        }
        return ReferenceEquals(r, this) ? Clone() : r;
    }

    internal static readonly OpDef Rot90Op = Composite("Rot90", ["Flip", "Permute", "Clone"], ["rot90"], () =>
    [
        new("k=1", [SampleReal(1, 3, 4)], t => t[0].Rot90()),
        new("k=2", [SampleReal(2, 3, 4)], t => t[0].Rot90(2)),
        new("k=-1 dims", [SampleReal(3, 2, 3, 4)], t => t[0].Rot90(-1, 2, 0)),
    ]);

    /// <summary>Rotates by 90° <paramref name="k"/> times in the plane of dims (<paramref name="dim0"/>, <paramref name="dim1"/>),
    /// from the first towards the second (PyTorch's <c>rot90</c>).</summary>
    public Tensor Rot90(int k = 1, int dim0 = 0, int dim1 = 1)
    {
        if (Rank < 2) throw new ShapeMismatchException($"Rot90: the input must have at least 2 dims but has shape {ShapeUtil.Format(_shape)}.");
        int a = ShapeUtil.WrapDim("Rot90", dim0, Rank), b = ShapeUtil.WrapDim("Rot90", dim1, Rank);
        if (a == b) throw new ArgumentException($"Rot90: the two dims must differ, got {dim0} and {dim1}.");
        return (((k % 4) + 4) % 4) switch
        {
            1 => Flip(b).Transpose(a, b),
            2 => Flip(a, b),
            3 => Flip(a).Transpose(a, b),
            _ => Clone(),
        };
    }

    // ---- Repeat / Tile ---------------------------------------------------------------------------

    internal static readonly OpDef RepeatOp = Composite("Repeat", ["Reshape", "Expand", "Clone"], ["repeat"], () =>
    [
        new("2-d", [SampleReal(1, 2, 3)], t => t[0].Repeat(2, 3)),
        new("new dims", [SampleReal(2, 3)], t => t[0].Repeat(2, 1, 2)),
        new("noncontiguous", [SampleReal(3, 3, 2).T], t => t[0].Repeat(1, 2)),
        new("0-d", [SampleReal(4)], t => t[0].Repeat(3)),
    ]);

    /// <summary>Repeats the tensor repeats[i] times along dim i (leading extra repeats add dims), as PyTorch's <c>repeat</c>.</summary>
    public Tensor Repeat(params int[] repeats)
    {
        ArgumentNullException.ThrowIfNull(repeats);
        if (repeats.Length < Rank)
            throw new ArgumentException($"Repeat: {repeats.Length} repeats given for a tensor of rank {Rank} (shape {ShapeUtil.Format(_shape)}); give at least one per dim.", nameof(repeats));
        foreach (var r in repeats)
            if (r < 0) throw new ArgumentException($"Repeat: repeats must be non-negative, got {ShapeUtil.Format(repeats)}.", nameof(repeats));
        int pad = repeats.Length - Rank;
        var shape = new int[repeats.Length];
        for (int i = 0; i < shape.Length; i++) shape[i] = i < pad ? 1 : _shape[i - pad];
        var inter = new int[2 * shape.Length];
        var expanded = new int[2 * shape.Length];
        var outShape = new int[shape.Length];
        for (int i = 0; i < shape.Length; i++)
        {
            inter[2 * i] = 1;
            inter[2 * i + 1] = shape[i];
            expanded[2 * i] = repeats[i];
            expanded[2 * i + 1] = shape[i];
            outShape[i] = repeats[i] * shape[i];
        }
        var y = Reshape(inter).Expand(expanded).Reshape(outShape);
        return ReferenceEquals(y.Storage, Storage) ? y.Clone() : y;
    }

    internal static readonly OpDef TileOp = Composite("Tile", ["Repeat"], ["tile"], () =>
    [
        new("fewer reps", [SampleReal(1, 2, 3)], t => t[0].Tile(2)),
        new("more reps", [SampleReal(2, 3)], t => t[0].Tile(2, 2)),
    ]);

    /// <summary>Repeats the tensor as <see cref="Repeat"/>, but fewer reps than dims are padded with leading ones (PyTorch's <c>tile</c>).</summary>
    public Tensor Tile(params int[] dims)
    {
        ArgumentNullException.ThrowIfNull(dims);
        if (dims.Length >= Rank) return Repeat(dims);
        return Repeat([.. Enumerable.Repeat(1, Rank - dims.Length), .. dims]);
    }

    // ---- Tril / Triu -----------------------------------------------------------------------------

    internal static readonly OpDef TrilOp = Composite("Tril", ["Where"], ["tril"], () =>
    [
        new("square", [SampleReal(1, 4, 4)], t => t[0].Tril()),
        new("offset", [SampleReal(2, 2, 3, 4)], t => t[0].Tril(1)),
        new("negative offset", [SampleReal(3, 4, 3).T], t => t[0].Tril(-1)),
    ]);

    internal static readonly OpDef TriuOp = Composite("Triu", ["Where"], ["triu"], () =>
    [
        new("square", [SampleReal(1, 4, 4)], t => t[0].Triu()),
        new("offset", [SampleReal(2, 2, 3, 4)], t => t[0].Triu(1)),
        new("negative offset", [SampleReal(3, 4, 3).T], t => t[0].Triu(-2)),
    ]);

    /// <summary>The lower triangle of the last two dims (entries with col - row &lt;= <paramref name="diagonal"/>); the rest is 0 (PyTorch's <c>tril</c>).</summary>
    public Tensor Tril(int diagonal = 0) => Triangle("Tril", diagonal, lower: true);

    /// <summary>The upper triangle of the last two dims (entries with col - row &gt;= <paramref name="diagonal"/>); the rest is 0 (PyTorch's <c>triu</c>).</summary>
    public Tensor Triu(int diagonal = 0) => Triangle("Triu", diagonal, lower: false);

    private Tensor Triangle(string op, int k, bool lower)
    {
        if (Rank < 2) throw new ShapeMismatchException($"{op}: the input must have at least 2 dims (a matrix or a batch of them) but has shape {ShapeUtil.Format(_shape)}.");
        int n = _shape[^2], m = _shape[^1];
        var mask = new bool[n * m];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++)
                mask[i * m + j] = lower ? j - i <= k : j - i >= k;
        return Where(Wrap(mask, [n, m]), this, ScalarLike(0));
    }

    // ---- Movedim ---------------------------------------------------------------------------------

    internal static readonly OpDef MovedimOp = Composite("Movedim", ["Permute"], ["movedim"], () =>
    [
        new("one", [SampleReal(1, 2, 3, 4)], t => t[0].Movedim(0, -1)),
        new("two", [SampleReal(2, 2, 3, 4)], t => t[0].Movedim([0, 1], [2, 0])),
    ]);

    /// <summary>Moves dim <paramref name="source"/> to position <paramref name="destination"/>, keeping the others in order (PyTorch's <c>movedim</c>; a view).</summary>
    public Tensor Movedim(int source, int destination) => Movedim([source], [destination]);

    /// <summary>Moves dims source[i] to positions destination[i]; the other dims keep their order in the remaining places (a view).</summary>
    public Tensor Movedim(int[] source, int[] destination)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        if (source.Length != destination.Length)
            throw new ArgumentException($"Movedim: {source.Length} source dims but {destination.Length} destination dims; give the same number.", nameof(destination));
        var src = WrapDims("Movedim", source);
        var dst = WrapDims("Movedim", destination);
        var perm = new int[Rank];
        Array.Fill(perm, -1);
        var used = new bool[Rank];
        for (int i = 0; i < src.Length; i++)
        {
            perm[dst[i]] = src[i];
            used[src[i]] = true;
        }
        int next = 0;
        for (int p = 0; p < Rank; p++)
        {
            if (perm[p] >= 0) continue;
            while (used[next]) next++;
            perm[p] = next++;
        }
        return Permute(perm);
    }

    // ---- diagonals -------------------------------------------------------------------------------

    /// <summary>Length of the diagonal with <paramref name="offset"/> of an n1 × n2 matrix.</summary>
    private static int DiagLength(int n1, int n2, int offset) => Math.Max(0, offset >= 0 ? Math.Min(n1, n2 - offset) : Math.Min(n1 + offset, n2));

    /// <summary>Places <paramref name="src"/> [..., L] on the diagonal <paramref name="offset"/> of <paramref name="baseMatrices"/>
    /// [..., n1, n2] (dense; zeros when null), whose diagonal must hold zeros: a scatter-add of src into the flattened
    /// matrices (bool through Cat/Slice/Reshape), so differentiable with src's gradient the diagonal of the output's.</summary>
    private static Tensor DiagEmbedCore(Tensor src, int n1, int n2, int offset, Tensor? baseMatrices = null)
    {
        var batch = src._shape[..^1];
        int len = src._shape[^1];
        int start = offset >= 0 ? offset : -offset * n2;
        if (src.DType != DType.Bool)
        {
            var pos = new long[len];
            for (int i = 0; i < len; i++) pos[i] = start + (long)i * (n2 + 1);
            var ones = Enumerable.Repeat(1, batch.Length).ToArray();
            var idx = Wrap(pos, [.. ones, len]).Expand([.. batch, len]);
            var flatBase = baseMatrices is null ? Zeros([.. batch, n1 * n2], src.DType) : baseMatrices.Reshape([.. batch, n1 * n2]);
            return flatBase.ScatterAdd(-1, idx, src).Reshape([.. batch, n1, n2]);
        }
        var flat = Cat([src.Unsqueeze(-1), Zeros([.. batch, len, n2], src.DType)], -1).Reshape([.. batch, len * (n2 + 1)]);
        int total = start + len * (n2 + 1), want = n1 * n2;
        var parts = new List<Tensor>();
        if (start > 0) parts.Add(Zeros([.. batch, start], src.DType));
        parts.Add(flat);
        if (total < want) parts.Add(Zeros([.. batch, want - total], src.DType));
        var all = parts.Count > 1 ? Cat([.. parts], -1) : flat;
        if (total > want) all = all.Narrow(-1, 0, want);
        var embedded = all.Reshape([.. batch, n1, n2]);
        return baseMatrices is null ? embedded : Where(DiagMask(n1, n2, offset, len), embedded, baseMatrices);
    }

    /// <summary>A bool [n1, n2] matrix, true on the diagonal <paramref name="offset"/> (of <paramref name="len"/> entries).</summary>
    private static Tensor DiagMask(int n1, int n2, int offset, int len)
    {
        var mask = new bool[n1 * n2];
        for (int i = 0; i < len; i++) mask[offset >= 0 ? i * n2 + i + offset : (i - offset) * n2 + i] = true;
        return Wrap(mask, [n1, n2]);
    }

    internal static readonly OpDef DiagonalOp = new("Diagonal", OpFamily.ShapeIndexCreateOther, "diagonal")
    {
        Linear = true,
        DTypes = DTypeSet.All,
        // the adjoint of taking a diagonal is writing it into zeros; that write's own adjoint is this op again
        Vjp = (in OpCtx c, Tensor g, int i) =>
        {
            var (o, a, b) = c.A<(int, int, int)>();
            if (!Op.Tracking(g) && Tracer.Depth == 0)
            {
                // first order, nothing tracing: write g straight onto the diagonal of zeros (one strided copy, no composite)
                var y = Zeros(c.Shape(i), g.DType);
                y.DiagonalCore(o, a, b).CopyRawFrom(g);
                return y;
            }
            var shape = c.Shape(i);
            var d = DiagEmbedCore(g, shape[a], shape[b], o); // zeros with g on the diagonal, the matrix dims last
            int r = shape.Length;
            return d.Movedim([r - 2, r - 1], [a, b]);
        },
        Jvp = (in OpCtx c, Tensor?[] t) =>
        {
            if (t[0] is not { } tx) return null;
            var (o, a, b) = c.A<(int, int, int)>();
            int nb = TangentBatchDims(tx, c.X(0));
            return tx.DiagonalCore(o, a + nb, b + nb);
        },
        BatchedJvp = true,
        Samples = () =>
        [
            new("square", [SampleReal(1, 4, 4)], t => t[0].Diagonal()),
            new("offset", [SampleReal(2, 3, 4)], t => t[0].Diagonal(1)),
            new("negative offset batched", [SampleReal(3, 2, 4, 3)], t => t[0].Diagonal(-1, 1, 2)),
            new("dims reversed noncontiguous", [SampleReal(4, 3, 2, 4).Transpose(0, 2)], t => t[0].Diagonal(0, 2, 0)),
            new("empty", [SampleReal(5, 2, 3)], t => t[0].Diagonal(4)),
        ],
    };

    /// <summary>
    /// The diagonal with <paramref name="offset"/> (above the main one when positive) of the matrices in dims
    /// (<paramref name="dim1"/>, <paramref name="dim2"/>): those dims are removed and the diagonal is appended as the
    /// last dim (PyTorch's <c>diagonal</c>; a view).
    /// </summary>
    public Tensor Diagonal(int offset = 0, int dim1 = 0, int dim2 = 1)
    {
        if (Rank < 2) throw new ShapeMismatchException($"Diagonal: the input must have at least 2 dims but has shape {ShapeUtil.Format(_shape)}.");
        var d = WrapDims("Diagonal", [dim1, dim2]);
        return DiagonalCore(offset, d[0], d[1]);
    }

    private Tensor DiagonalCore(int offset, int a, int b)
    {
        var y = DiagonalView(offset, a, b);
        return Op.Record(DiagonalOp, y, [this], (offset, a, b));
    }

    /// <summary>The diagonal view of <see cref="DiagonalCore"/> (dims already wrapped), not recorded.</summary>
    private Tensor DiagonalView(int offset, int a, int b)
    {
        int len = DiagLength(_shape[a], _shape[b], offset);
        var shape = new List<int>();
        var strides = new List<int>();
        for (int k = 0; k < Rank; k++)
            if (k != a && k != b)
            {
                shape.Add(_shape[k]);
                strides.Add(_strides[k]);
            }
        shape.Add(len);
        strides.Add(_strides[a] + _strides[b]);
        int off = Offset + (len == 0 ? 0 : offset >= 0 ? offset * _strides[b] : -offset * _strides[a]);
        return MakeView([.. shape], [.. strides], off);
    }

    internal static readonly OpDef DiagEmbedOp = Composite("DiagEmbed", ["Cat", "Reshape", "Slice", "Permute", "Expand", "ScatterAdd"], ["diag_embed"], () =>
    [
        new("1-d", [SampleReal(1, 3)], t => t[0].DiagEmbed()),
        new("batched offset", [SampleReal(2, 2, 3)], t => t[0].DiagEmbed(1)),
        new("dims", [SampleReal(3, 2, 3)], t => t[0].DiagEmbed(-1, 0, 2)),
    ]);

    /// <summary>
    /// Matrices whose diagonal <paramref name="offset"/> holds the last dim of the input, in dims
    /// (<paramref name="dim1"/>, <paramref name="dim2"/>) of the output (rank + 1); the rest is 0 (PyTorch's <c>diag_embed</c>).
    /// </summary>
    public Tensor DiagEmbed(int offset = 0, int dim1 = -2, int dim2 = -1)
    {
        if (Rank < 1) throw new ShapeMismatchException("DiagEmbed: the input must have at least 1 dim but is 0-d.");
        int outRank = Rank + 1;
        int a = ShapeUtil.WrapDim("DiagEmbed", dim1, outRank), b = ShapeUtil.WrapDim("DiagEmbed", dim2, outRank);
        if (a == b) throw new ArgumentException($"DiagEmbed: the two dims must differ, got {dim1} and {dim2}.");
        int m = _shape[^1] + Math.Abs(offset);
        if (Eager(this))
        {
            // eager: zeros with one strided copy onto the diagonal (no index tensor, no scatter)
            var z = Zeros([.. _shape[..^1], m, m], DType);
            z.DiagonalView(offset, outRank - 2, outRank - 1).CopyRawFrom(this);
            return a == outRank - 2 && b == outRank - 1 ? z : z.Movedim([outRank - 2, outRank - 1], [a, b]);
        }
        var y = DiagEmbedCore(this, m, m, offset);
        return a == outRank - 2 && b == outRank - 1 ? y : y.Movedim([outRank - 2, outRank - 1], [a, b]);
    }

    internal static readonly OpDef DiagOp = Composite("Diag", ["Diagonal", "DiagEmbed"], ["diag"], () =>
    [
        new("vector", [SampleReal(1, 3)], t => t[0].Diag()),
        new("vector offset", [SampleReal(2, 3)], t => t[0].Diag(-2)),
        new("matrix", [SampleReal(3, 3, 4)], t => t[0].Diag(1)),
    ]);

    /// <summary>For a vector: the square matrix with it on diagonal <paramref name="diagonal"/>; for a matrix: that diagonal as a vector (PyTorch's <c>diag</c>).</summary>
    public Tensor Diag(int diagonal = 0) => Rank switch
    {
        1 => DiagEmbed(diagonal),
        2 => Diagonal(diagonal),
        _ => throw new ShapeMismatchException($"Diag: the input must be a vector or a matrix but has shape {ShapeUtil.Format(_shape)}; use DiagEmbed or Diagonal for batches."),
    };

    internal static readonly OpDef DiagFlatOp = Composite("DiagFlat", ["Reshape", "DiagEmbed"], ["diagflat"], () =>
    [
        new("matrix", [SampleReal(1, 2, 2)], t => t[0].DiagFlat()),
        new("offset", [SampleReal(2, 3)], t => t[0].DiagFlat(1)),
    ]);

    /// <summary>The square matrix with the flattened input on diagonal <paramref name="offset"/> (PyTorch's <c>diagflat</c>).</summary>
    public Tensor DiagFlat(int offset = 0) => Flatten().DiagEmbed(offset);

    internal static readonly OpDef DiagonalScatterOp = Composite("DiagonalScatter", ["Permute", "Cat", "Reshape", "Slice", "Where", "Expand", "ScatterAdd"], ["diagonal_scatter"], () =>
    [
        new("square", [SampleReal(1, 3, 3), SampleReal(2, 3)], t => t[0].DiagonalScatter(t[1])),
        new("offset dims", [SampleReal(3, 3, 2, 4), SampleReal(4, 2, 2)], t => t[0].DiagonalScatter(t[1], -1, 0, 2)),
    ]);

    /// <summary>A copy with the diagonal that <see cref="Diagonal"/> (same arguments) would return replaced by <paramref name="src"/> (PyTorch's <c>diagonal_scatter</c>).</summary>
    public Tensor DiagonalScatter(Tensor src, int offset = 0, int dim1 = 0, int dim2 = 1)
    {
        ArgumentNullException.ThrowIfNull(src);
        CheckSameDType("DiagonalScatter", this, src);
        if (Rank < 2) throw new ShapeMismatchException($"DiagonalScatter: the input must have at least 2 dims but has shape {ShapeUtil.Format(_shape)}.");
        var d = WrapDims("DiagonalScatter", [dim1, dim2]);
        int n1 = _shape[d[0]], n2 = _shape[d[1]];
        var xm = Movedim(d, [Rank - 2, Rank - 1]);
        int len = DiagLength(n1, n2, offset);
        int[] want = [.. xm._shape[..^2], len];
        if (!ShapeUtil.SameShape(src._shape, want))
            throw new ShapeMismatchException($"DiagonalScatter: src has shape {ShapeUtil.Format(src._shape)} but the diagonal (offset {offset}, dims {dim1} and {dim2}) of the input of shape {ShapeUtil.Format(_shape)} has shape {ShapeUtil.Format(want)}.");
        if (Eager([this, src]))
        {
            // eager: a dense copy with src copied onto its diagonal
            var c = new Tensor(Storage.AllocateUninitialized(DType, Numel), ShapeArray);
            c.CopyRawFrom(this);
            c.DiagonalView(offset, d[0], d[1]).CopyRawFrom(src);
            return c;
        }
        // the diagonal cleared, then src added there
        var cleared = Where(DiagMask(n1, n2, offset, len), ScalarLike(0), xm);
        var y = DiagEmbedCore(src, n1, n2, offset, cleared);
        return y.Movedim([Rank - 2, Rank - 1], d);
    }

    internal static readonly OpDef SelectScatterOp = Composite("SelectScatter", ["Slice", "Reshape", "Cat"], ["select_scatter"], () =>
    [
        new("2-d", [SampleReal(1, 3, 4), SampleReal(2, 4)], t => t[0].SelectScatter(t[1], 0, 1)),
        new("last dim", [SampleReal(3, 2, 3, 4), SampleReal(4, 2, 3)], t => t[0].SelectScatter(t[1], -1, -1)),
    ]);

    /// <summary>A copy with the slice <c>Select(dim, index)</c> replaced by <paramref name="src"/> (PyTorch's <c>select_scatter</c>).</summary>
    public Tensor SelectScatter(Tensor src, int dim, int index)
    {
        ArgumentNullException.ThrowIfNull(src);
        CheckSameDType("SelectScatter", this, src);
        int d = WrapIndexDim("SelectScatter", dim);
        int n = _shape[d];
        if (index < -n || index >= n)
            throw new IndexOutOfBoundsException("SelectScatter", index, n, d, $"SelectScatter: index {index} is out of range for dim {dim} of size {n} (shape {ShapeUtil.Format(_shape)}).");
        if (index < 0) index += n;
        var want = _shape.Where((_, k) => k != d).ToArray();
        if (!ShapeUtil.SameShape(src._shape, want))
            throw new ShapeMismatchException($"SelectScatter: src has shape {ShapeUtil.Format(src._shape)} but Select({dim}, {index}) of the input of shape {ShapeUtil.Format(_shape)} has shape {ShapeUtil.Format(want)}.");
        if (Eager([this, src]))
        {
            // eager: a dense copy with src copied into the slice
            var c = new Tensor(Storage.AllocateUninitialized(DType, Numel), ShapeArray);
            c.CopyRawFrom(this);
            var st = c._strides.Where((_, k) => k != d).ToArray();
            c.AsStridedRaw(want, st, index * c._strides[d]).CopyRawFrom(src);
            return c;
        }
        // the slabs before and after the slice around src: one copy of each element
        var parts = new List<Tensor>(3);
        if (index > 0) parts.Add(Narrow(d, 0, index));
        parts.Add(src.Unsqueeze(d));
        if (index < n - 1) parts.Add(Narrow(d, index + 1, n - index - 1));
        return Cat([.. parts], d);
    }

    /// <summary>A bool tensor of rank <see cref="Rank"/>, true at the given positions of dim <paramref name="d"/> (size 1 elsewhere, for broadcasting).</summary>
    private Tensor DimMask(int d, int n, IEnumerable<long> positions)
    {
        var m = new bool[n];
        foreach (var p in positions) m[p] = true;
        var shape = Enumerable.Repeat(1, Rank).ToArray();
        shape[d] = n;
        return Wrap(m, shape);
    }

    // ---- at-least-nd, stacking -------------------------------------------------------------------

    internal static readonly OpDef AtLeast1dOp = Composite("AtLeast1d", ["Reshape"], ["atleast_1d"], () => [new("0-d", [SampleReal(1)], t => t[0].AtLeast1d()), new("2-d", [SampleReal(2, 2, 3)], t => t[0].AtLeast1d())]);
    internal static readonly OpDef AtLeast2dOp = Composite("AtLeast2d", ["Reshape"], ["atleast_2d"], () => [new("0-d", [SampleReal(1)], t => t[0].AtLeast2d()), new("1-d", [SampleReal(2, 3)], t => t[0].AtLeast2d())]);
    internal static readonly OpDef AtLeast3dOp = Composite("AtLeast3d", ["Reshape"], ["atleast_3d"], () =>
        [new("0-d", [SampleReal(1)], t => t[0].AtLeast3d()), new("1-d", [SampleReal(2, 3)], t => t[0].AtLeast3d()), new("2-d", [SampleReal(3, 2, 3)], t => t[0].AtLeast3d())]);

    /// <summary>This tensor, as a 1-element vector when 0-d (PyTorch's <c>atleast_1d</c>).</summary>
    public Tensor AtLeast1d() => Rank == 0 ? Reshape(1) : this;

    /// <summary>This tensor with leading size-1 dims added up to rank 2 (PyTorch's <c>atleast_2d</c>).</summary>
    public Tensor AtLeast2d() => Rank switch { 0 => Reshape(1, 1), 1 => Unsqueeze(0), _ => this };

    /// <summary>This tensor raised to rank 3 as PyTorch's <c>atleast_3d</c>: [] → [1, 1, 1], [n] → [1, n, 1], [m, n] → [m, n, 1].</summary>
    public Tensor AtLeast3d() => Rank switch { 0 => Reshape(1, 1, 1), 1 => Reshape(1, _shape[0], 1), 2 => Unsqueeze(2), _ => this };

    internal static readonly OpDef HStackOp = Composite("HStack", ["Cat", "Reshape"], ["hstack"], () =>
        [new("1-d", [SampleReal(1, 3), SampleReal(2, 2)], t => HStack(t)), new("2-d", [SampleReal(3, 2, 3), SampleReal(4, 2, 1)], t => HStack(t))]);
    internal static readonly OpDef VStackOp = Composite("VStack", ["Cat", "Reshape"], ["vstack"], () =>
        [new("1-d", [SampleReal(1, 3), SampleReal(2, 3)], t => VStack(t)), new("2-d", [SampleReal(3, 2, 3), SampleReal(4, 1, 3)], t => VStack(t))]);
    internal static readonly OpDef DStackOp = Composite("DStack", ["Cat", "Reshape"], ["dstack"], () =>
        [new("1-d", [SampleReal(1, 3), SampleReal(2, 3)], t => DStack(t)), new("2-d", [SampleReal(3, 2, 3), SampleReal(4, 2, 3)], t => DStack(t))]);
    internal static readonly OpDef ColumnStackOp = Composite("ColumnStack", ["Cat", "Reshape"], ["column_stack"], () =>
        [new("mixed", [SampleReal(1, 3), SampleReal(2, 3, 2), SampleReal(3, 3)], t => ColumnStack(t))]);

    /// <summary>Concatenates horizontally: along dim 0 for vectors, dim 1 otherwise (0-d inputs become vectors; PyTorch's <c>hstack</c>).</summary>
    public static Tensor HStack(params Tensor[] tensors)
    {
        CheckTensorList("HStack", tensors);
        var t = Array.ConvertAll(tensors, x => x.AtLeast1d());
        return Cat(t, t[0].Rank == 1 ? 0 : 1);
    }

    /// <summary>Concatenates vertically along dim 0 after raising each input to rank 2 (PyTorch's <c>vstack</c>).</summary>
    public static Tensor VStack(params Tensor[] tensors)
    {
        CheckTensorList("VStack", tensors);
        return Cat(Array.ConvertAll(tensors, x => x.AtLeast2d()), 0);
    }

    /// <summary>Concatenates depth-wise along dim 2 after raising each input to rank 3 (PyTorch's <c>dstack</c>).</summary>
    public static Tensor DStack(params Tensor[] tensors)
    {
        CheckTensorList("DStack", tensors);
        return Cat(Array.ConvertAll(tensors, x => x.AtLeast3d()), 2);
    }

    /// <summary>Concatenates along dim 1, vectors (and 0-d tensors) taken as columns (PyTorch's <c>column_stack</c>).</summary>
    public static Tensor ColumnStack(params Tensor[] tensors)
    {
        CheckTensorList("ColumnStack", tensors);
        return Cat(Array.ConvertAll(tensors, x => x.Rank <= 1 ? x.Reshape(x.Numel, 1) : x), 1);
    }

    // ---- splitting -------------------------------------------------------------------------------

    private static Tensor CatFlat(Tensor[] parts) => Cat(Array.ConvertAll(parts, p => p.Reshape(-1)), 0);

    internal static readonly OpDef TensorSplitOp = Composite("TensorSplit", ["Split", "Slice"], ["tensor_split"], () =>
    [
        new("sections", [SampleReal(1, 7, 2)], t => CatFlat(t[0].TensorSplit(3))),
        new("indices", [SampleReal(2, 2, 6)], t => CatFlat(t[0].TensorSplit([1, 4, 3], 1))),
    ]);

    /// <summary>Splits into <paramref name="sections"/> views along <paramref name="dim"/>; the first size % sections get one extra entry (PyTorch's <c>tensor_split</c>).</summary>
    public Tensor[] TensorSplit(int sections, int dim = 0)
    {
        if (sections <= 0) throw new ArgumentOutOfRangeException(nameof(sections), $"TensorSplit: sections must be positive, got {sections}.");
        int d = WrapIndexDim("TensorSplit", dim);
        int n = _shape[d], q = n / sections, r = n % sections;
        var sizes = new int[sections];
        for (int i = 0; i < sections; i++) sizes[i] = q + (i < r ? 1 : 0);
        return SplitCore(d, sizes);
    }

    /// <summary>Splits along <paramref name="dim"/> before each of <paramref name="indices"/> (Python slice semantics:
    /// pieces [0, i0), [i0, i1), ..., [ik, end); PyTorch's <c>tensor_split</c> with indices).</summary>
    public Tensor[] TensorSplit(int[] indices, int dim = 0)
    {
        ArgumentNullException.ThrowIfNull(indices);
        int d = WrapIndexDim("TensorSplit", dim);
        // indices that cut the dim into consecutive pieces (after Python's clamping) make one Split
        int n = _shape[d], last = 0;
        var sizes = new int[indices.Length + 1];
        bool partition = true;
        for (int i = 0; i <= indices.Length && partition; i++)
        {
            int e = i < indices.Length ? Math.Clamp(indices[i] < 0 ? indices[i] + n : indices[i], 0, n) : n;
            partition = e >= last;
            sizes[i] = e - last;
            last = e;
        }
        if (partition) return SplitCore(d, sizes);
        var parts = new Tensor[indices.Length + 1];
        int? prev = 0;
        for (int i = 0; i <= indices.Length; i++)
        {
            int? end = i < indices.Length ? indices[i] : null;
            parts[i] = Slice(d, prev, end);
            prev = end;
        }
        return parts;
    }

    private Tensor[] SplitEven(string op, int sections, int dim)
    {
        if (sections <= 0 || _shape[dim] % sections != 0)
            throw new ArgumentException($"{op}: dim {dim} of size {_shape[dim]} (shape {ShapeUtil.Format(_shape)}) cannot be split into {sections} equal sections; pass split indices instead.", nameof(sections));
        return TensorSplit(sections, dim);
    }

    internal static readonly OpDef HSplitOp = Composite("HSplit", ["Split", "Slice"], ["hsplit"], () =>
        [new("sections", [SampleReal(1, 2, 4)], t => CatFlat(t[0].HSplit(2))), new("indices 1-d", [SampleReal(2, 5)], t => CatFlat(t[0].HSplit([2, 3])))]);
    internal static readonly OpDef VSplitOp = Composite("VSplit", ["Split", "Slice"], ["vsplit"], () =>
        [new("sections", [SampleReal(1, 4, 2)], t => CatFlat(t[0].VSplit(2))), new("indices", [SampleReal(2, 5, 2)], t => CatFlat(t[0].VSplit([1, 3])))]);
    internal static readonly OpDef DSplitOp = Composite("DSplit", ["Split", "Slice"], ["dsplit"], () =>
        [new("sections", [SampleReal(1, 2, 1, 4)], t => CatFlat(t[0].DSplit(2))), new("indices", [SampleReal(2, 1, 2, 5)], t => CatFlat(t[0].DSplit([3])))]);

    /// <summary>Splits into equal sections along dim 1 (dim 0 for a vector), as PyTorch's <c>hsplit</c>.</summary>
    public Tensor[] HSplit(int sections) => SplitEven("HSplit", sections, HDim("HSplit", 1));
    /// <summary>Splits before <paramref name="indices"/> along dim 1 (dim 0 for a vector), as PyTorch's <c>hsplit</c>.</summary>
    public Tensor[] HSplit(int[] indices) => TensorSplit(indices, HDim("HSplit", 1));
    /// <summary>Splits into equal sections along dim 0 (rank &gt;= 2), as PyTorch's <c>vsplit</c>.</summary>
    public Tensor[] VSplit(int sections) => SplitEven("VSplit", sections, HDim("VSplit", 2));
    /// <summary>Splits before <paramref name="indices"/> along dim 0 (rank &gt;= 2), as PyTorch's <c>vsplit</c>.</summary>
    public Tensor[] VSplit(int[] indices) => TensorSplit(indices, HDim("VSplit", 2));
    /// <summary>Splits into equal sections along dim 2 (rank &gt;= 3), as PyTorch's <c>dsplit</c>.</summary>
    public Tensor[] DSplit(int sections) => SplitEven("DSplit", sections, HDim("DSplit", 3));
    /// <summary>Splits before <paramref name="indices"/> along dim 2 (rank &gt;= 3), as PyTorch's <c>dsplit</c>.</summary>
    public Tensor[] DSplit(int[] indices) => TensorSplit(indices, HDim("DSplit", 3));

    /// <summary>The dim hsplit (minRank 1), vsplit (2) and dsplit (3) split along, after checking the rank.</summary>
    private int HDim(string op, int minRank)
    {
        if (Rank < minRank) throw new ShapeMismatchException($"{op}: the input must have at least {minRank} dim(s) but has shape {ShapeUtil.Format(_shape)}.");
        return minRank switch { 1 => Rank == 1 ? 0 : 1, 2 => 0, _ => 2 };
    }

    // ---- reshapes ------------------------------------------------------------------------------

    internal static readonly OpDef UnflattenOp = Composite("Unflatten", ["Reshape"], ["unflatten"], () =>
        [new("inferred", [SampleReal(1, 2, 6)], t => t[0].Unflatten(1, [3, -1]))]);
    internal static readonly OpDef RavelOp = Composite("Ravel", ["Reshape", "Clone"], ["ravel"], () =>
        [new("noncontiguous", [SampleReal(1, 3, 2).T], t => t[0].Ravel()), new("0-d", [SampleReal(2)], t => t[0].Ravel())]);
    internal static readonly OpDef NarrowCopyOp = Composite("NarrowCopy", ["Slice", "Clone"], ["narrow_copy"], () =>
        [new("2-d", [SampleReal(1, 3, 4)], t => t[0].NarrowCopy(1, 1, 2))]);
    internal static readonly OpDef ViewAsOp = Composite("ViewAs", ["Reshape"], ["view_as"], () =>
        [new("2-d", [SampleReal(1, 2, 6)], t => t[0].ViewAs(Zeros(3, 4)))]);
    internal static readonly OpDef ReshapeAsOp = Composite("ReshapeAs", ["Reshape", "Clone"], ["reshape_as"], () =>
        [new("noncontiguous", [SampleReal(1, 3, 4).T], t => t[0].ReshapeAs(Zeros(2, 6)))]);

    /// <summary>Splits dim <paramref name="dim"/> into dims of <paramref name="sizes"/> (one may be -1), as PyTorch's <c>unflatten</c>.</summary>
    public Tensor Unflatten(int dim, params int[] sizes)
    {
        ArgumentNullException.ThrowIfNull(sizes);
        int d = WrapIndexDim("Unflatten", dim);
        if (sizes.Length == 0) throw new ArgumentException("Unflatten: sizes must not be empty.", nameof(sizes));
        int known = 1, infer = -1;
        for (int i = 0; i < sizes.Length; i++)
            if (sizes[i] == -1) infer = i; else known *= sizes[i];
        var s = (int[])sizes.Clone();
        if (infer >= 0 && known != 0) s[infer] = _shape[d] / known;
        if (ShapeUtil.Numel(s) != _shape[d] || s.Count(v => v == -1) > 0)
            throw new ShapeMismatchException($"Unflatten: sizes {ShapeUtil.Format(sizes)} do not multiply to the size {_shape[d]} of dim {dim} (shape {ShapeUtil.Format(_shape)}).");
        return Reshape([.. _shape[..d], .. s, .. _shape[(d + 1)..]]);
    }

    /// <summary>The elements as a vector (a view when possible, else a copy; PyTorch's <c>ravel</c>).</summary>
    public Tensor Ravel() => Reshape(-1);

    /// <summary>A copy of <c>Narrow(dim, start, length)</c> (PyTorch's <c>narrow_copy</c>).</summary>
    public Tensor NarrowCopy(int dim, int start, int length) => Narrow(dim, start, length).Clone();

    /// <summary>A view with the shape of <paramref name="other"/> (PyTorch's <c>view_as</c>).</summary>
    public Tensor ViewAs(Tensor other) => View(other.ShapeArray);

    /// <summary>The elements with the shape of <paramref name="other"/> (a view when possible; PyTorch's <c>reshape_as</c>).</summary>
    public Tensor ReshapeAs(Tensor other) => Reshape(other.ShapeArray);

    // ---- padding -------------------------------------------------------------------------------

    internal static readonly OpDef ConstantPadNdOp = Composite("ConstantPadNd", ["Cat", "Slice"], ["constant_pad_nd"], () =>
    [
        new("last dim", [SampleReal(1, 2, 3)], t => t[0].ConstantPadNd([1, 2], 0.5)),
        new("two dims crop", [SampleReal(2, 3, 4)], t => t[0].ConstantPadNd([-1, 1, 2, 0])),
    ]);

    /// <summary>
    /// Pads with <paramref name="value"/>: pad[2i] entries before and pad[2i+1] after dim (rank - 1 - i), so the
    /// pairs run from the last dim backwards; negative amounts crop (PyTorch's <c>constant_pad_nd</c>).
    /// </summary>
    public Tensor ConstantPadNd(int[] pad, double value = 0)
    {
        ArgumentNullException.ThrowIfNull(pad);
        if (pad.Length % 2 != 0 || pad.Length / 2 > Rank)
            throw new ArgumentException($"ConstantPadNd: pad must hold (before, after) pairs for at most {Rank} dims (shape {ShapeUtil.Format(_shape)}), got {ShapeUtil.Format(pad)}.", nameof(pad));
        var r = this;
        for (int i = 0; i < pad.Length / 2; i++)
        {
            int d = Rank - 1 - i, before = pad[2 * i], after = pad[2 * i + 1];
            int n = r._shape[d];
            if (n + before + after < 0 || n + Math.Min(before, 0) + Math.Min(after, 0) < 0)
                throw new ArgumentException($"ConstantPadNd: padding {before}, {after} of dim {d} of size {n} (shape {ShapeUtil.Format(_shape)}) leaves a negative size.", nameof(pad));
            if (before < 0 || after < 0)
            {
                int lo = Math.Max(0, -before), hi = Math.Max(0, -after);
                r = r.Narrow(d, lo, n - lo - hi);
            }
            if (before > 0 || after > 0)
            {
                var parts = new List<Tensor>();
                var s = r.ShapeArray;
                if (before > 0) { s[d] = before; parts.Add(Full(s, value, DType)); }
                parts.Add(r);
                if (after > 0) { s = r.ShapeArray; s[d] = after; parts.Add(Full(s, value, DType)); }
                r = Cat([.. parts], d);
            }
        }
        return ReferenceEquals(r, this) ? Clone() : r;
    }

    // ---- broadcasting, grids -------------------------------------------------------------------

    internal static readonly OpDef BroadcastTensorsOp = Composite("BroadcastTensors", ["Expand"], ["broadcast_tensors"], () =>
        [new("two", [SampleReal(1, 3, 1), SampleReal(2, 4)], t => CatFlat(BroadcastTensors(t)))]);

    internal static readonly OpDef BroadcastShapesOp = new("BroadcastShapes", OpFamily.ShapeIndexCreateOther, "broadcast_shapes") { Differentiable = false, DTypes = DTypeSet.All };

    /// <summary>The shape the given shapes broadcast to (PyTorch's <c>broadcast_shapes</c>).</summary>
    public static int[] BroadcastShapes(params int[][] shapes)
    {
        ArgumentNullException.ThrowIfNull(shapes);
        int[] s = [];
        foreach (var x in shapes) s = ShapeUtil.Broadcast("BroadcastShapes", s, x);
        return s;
    }

    /// <summary>The inputs expanded to their common broadcast shape (views; PyTorch's <c>broadcast_tensors</c>).</summary>
    public static Tensor[] BroadcastTensors(params Tensor[] tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var shape = BroadcastShapes(Array.ConvertAll(tensors, t => t.ShapeArray));
        return Array.ConvertAll(tensors, t => t.Expand(shape));
    }

    internal static readonly OpDef MeshgridOp = Composite("Meshgrid", ["Reshape", "Expand"], ["meshgrid"], () =>
    [
        new("ij", [SampleReal(1, 3), SampleReal(2, 2)], t => Stack(Meshgrid(t))),
        new("xy", [SampleReal(3, 3), SampleReal(4, 2), SampleReal(5)], t => Stack(Meshgrid(t, MeshgridIndexing.Xy))),
    ]);

    /// <summary>Grids from 0-d or 1-D inputs: output i holds input i varying along its dim (PyTorch's <c>meshgrid</c>; views).</summary>
    public static Tensor[] Meshgrid(Tensor[] tensors, MeshgridIndexing indexing = MeshgridIndexing.Ij)
    {
        CheckTensorList("Meshgrid", tensors);
        foreach (var t in tensors)
            if (t.Rank > 1) throw new ShapeMismatchException($"Meshgrid: every input must be 0-d or 1-D, got shape {ShapeUtil.Format(t._shape)}.");
        var ts = (Tensor[])tensors.Clone();
        bool swap = indexing == MeshgridIndexing.Xy && ts.Length >= 2;
        if (swap) (ts[0], ts[1]) = (ts[1], ts[0]);
        var shape = Array.ConvertAll(ts, t => t.Numel);
        var r = new Tensor[ts.Length];
        for (int i = 0; i < ts.Length; i++)
        {
            var s = Enumerable.Repeat(1, ts.Length).ToArray();
            s[i] = shape[i];
            r[i] = ts[i].Reshape(s).Expand(shape);
        }
        if (swap) (r[0], r[1]) = (r[1], r[0]);
        return r;
    }

    internal static readonly OpDef CartesianProdOp = Composite("CartesianProd", ["Meshgrid", "Reshape", "Cat"], ["cartesian_prod"], () =>
        [new("two", [SampleReal(1, 3), SampleReal(2, 2)], t => CartesianProd(t)), new("one", [SampleReal(3, 3)], t => CartesianProd(t))]);

    /// <summary>The Cartesian product of 1-D inputs as rows [n0·n1·..., k] (a single input is returned as is; PyTorch's <c>cartesian_prod</c>).</summary>
    public static Tensor CartesianProd(params Tensor[] tensors)
    {
        CheckTensorList("CartesianProd", tensors);
        foreach (var t in tensors)
            if (t.Rank != 1) throw new ShapeMismatchException($"CartesianProd: every input must be 1-D, got shape {ShapeUtil.Format(t._shape)}.");
        if (tensors.Length == 1) return tensors[0];
        if (Eager(tensors)) return CartesianProdRaw(tensors);
        return Stack(Array.ConvertAll(Meshgrid(tensors), g => g.Reshape(-1)), 1);
    }

    /// <summary>CartesianProd's eager forward: the rows written in one pass into one allocation (no meshgrid, no per-input
    /// copies, no cat); the recorded path above carries the derivatives.</summary>
    private static Tensor CartesianProdRaw(Tensor[] tensors)
    {
        long rows = 1;
        foreach (var t in tensors) rows *= t._shape[0];
        if (rows > int.MaxValue / tensors.Length)
            throw new ShapeMismatchException($"CartesianProd: the product has {rows} rows of {tensors.Length}, more elements than a tensor holds.");
        var y = Empty([(int)rows, tensors.Length], tensors[0].DType);
        switch (y.DType)
        {
            case DType.Float32: Kernels.Products.Cartesian(CartesianVectors<float>(tensors), y.Storage.As<float>()); break;
            case DType.Float64: Kernels.Products.Cartesian(CartesianVectors<double>(tensors), y.Storage.As<double>()); break;
            case DType.Int64: Kernels.Products.Cartesian(CartesianVectors<long>(tensors), y.Storage.As<long>()); break;
            default: Kernels.Products.Cartesian(CartesianVectors<bool>(tensors), y.Storage.As<bool>()); break;
        }
        return y;
    }

    private static (T[], int, int, int)[] CartesianVectors<T>(Tensor[] tensors) =>
        Array.ConvertAll(tensors, t => (t.Storage.As<T>(), t.Offset, t._strides[0], t._shape[0]));


    internal static readonly OpDef CombinationsOp = Composite("Combinations", ["IndexSelect", "Cat"], ["combinations"], () =>
        [new("r=2", [SampleReal(1, 4)], t => t[0].Combinations()), new("r=3 with replacement", [SampleReal(2, 3)], t => t[0].Combinations(3, withReplacement: true))]);

    /// <summary>The length-<paramref name="r"/> combinations of the entries of a vector, as rows [count, r] in
    /// lexicographic order of positions (PyTorch's <c>combinations</c>).</summary>
    public Tensor Combinations(int r = 2, bool withReplacement = false)
    {
        if (Rank != 1) throw new ShapeMismatchException($"Combinations: the input must be 1-D but has shape {ShapeUtil.Format(_shape)}.");
        if (r < 0) throw new ArgumentOutOfRangeException(nameof(r), $"Combinations: r must be non-negative, got {r}.");
        if (r == 0) return Empty([0], DType);
        int n = _shape[0];
        var cols = new List<long>[r];
        for (int k = 0; k < r; k++) cols[k] = [];
        var cur = new int[r];
        void Rec(int k, int from)
        {
            if (k == r)
            {
                for (int j = 0; j < r; j++) cols[j].Add(cur[j]);
                return;
            }
            for (int i = from; i < n; i++)
            {
                cur[k] = i;
                Rec(k + 1, withReplacement ? i : i + 1);
            }
        }
        Rec(0, 0);
        return Stack(Array.ConvertAll(cols, c => IndexSelect(0, Wrap(c.ToArray(), [c.Count]))), 1);
    }

    // ---- whole-tensor comparisons (not differentiable) -----------------------------------------------

    internal static readonly OpDef AllCloseOp = new("AllClose", OpFamily.ShapeIndexCreateOther, "allclose") { Differentiable = false, DTypes = DTypeSet.All };
    internal static readonly OpDef EqualOp = new("Equal", OpFamily.ShapeIndexCreateOther, "equal") { Differentiable = false, DTypes = DTypeSet.All };
    internal static readonly OpDef IsInOp = new("IsIn", OpFamily.ShapeIndexCreateOther, "isin") { Differentiable = false, DTypes = DTypeSet.All };

    /// <summary>
    /// True when every |this - other| &lt;= atol + rtol·|other| after broadcasting (infinities must match exactly;
    /// NaNs count as equal only with <paramref name="equalNan"/>), as PyTorch's <c>allclose</c>.
    /// </summary>
    public bool AllClose(Tensor other, double rtol = 1e-5, double atol = 1e-8, bool equalNan = false)
    {
        ArgumentNullException.ThrowIfNull(other);
        var shape = ShapeUtil.Broadcast("AllClose", _shape, other._shape);
        var a = Expand(shape).Detach().ToDoubleArray();
        var b = other.Expand(shape).Detach().ToDoubleArray();
        for (int i = 0; i < a.Length; i++)
        {
            double x = a[i], y = b[i];
            if (x == y) continue;
            if (double.IsNaN(x) || double.IsNaN(y))
            {
                if (equalNan && double.IsNaN(x) && double.IsNaN(y)) continue;
                return false;
            }
            if (double.IsInfinity(x) || double.IsInfinity(y) || !(Math.Abs(x - y) <= atol + rtol * Math.Abs(y))) return false;
        }
        return true;
    }

    /// <summary>True when <paramref name="other"/> has this tensor's shape and the same values (NaN equals nothing), as PyTorch's <c>equal</c>.</summary>
    public bool Equal(Tensor other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (!ShapeUtil.SameShape(_shape, other._shape)) return false;
        if (DType == DType.Int64 && other.DType == DType.Int64)
            return DenseSpan<long>().SequenceEqual(other.DenseSpan<long>());
        // one SIMD pass over same-dtype floats (no float64 copies)
        if (DType == other.DType && DType == DType.Float32) return Kernels.ValueKernels.AllEqual(DenseSpan<float>(), other.DenseSpan<float>());
        if (DType == other.DType && DType == DType.Float64) return Kernels.ValueKernels.AllEqual(DenseSpan<double>(), other.DenseSpan<double>());
        var a = ToDoubleArray();
        var b = other.ToDoubleArray();
        for (int i = 0; i < a.Length; i++) if (!(a[i] == b[i])) return false;
        return true;
    }

    /// <summary>A bool tensor of this shape: whether each entry occurs in <paramref name="testElements"/> (negated with <paramref name="invert"/>), as PyTorch's <c>isin</c>.</summary>
    public Tensor IsIn(Tensor testElements, bool invert = false)
    {
        ArgumentNullException.ThrowIfNull(testElements);
        var r = new bool[Numel];
        if (DType == DType.Int64 && testElements.DType == DType.Int64)
        {
            var set = new HashSet<long>(testElements.DenseSpan<long>().ToArray());
            var v = DenseSpan<long>();
            for (int i = 0; i < r.Length; i++) r[i] = set.Contains(v[i]) != invert;
        }
        else
        {
            var set = new HashSet<double>(testElements.ToDoubleArray().Where(x => !double.IsNaN(x)).Select(x => x == 0 ? 0.0 : x));
            var v = ToDoubleArray();
            for (int i = 0; i < r.Length; i++) r[i] = (!double.IsNaN(v[i]) && set.Contains(v[i] == 0 ? 0.0 : v[i])) != invert;
        }
        return Wrap(r, ShapeArray);
    }

    // ---- index tensors (not differentiable) ------------------------------------------------------

    internal static readonly OpDef TrilIndicesOp = new("TrilIndices", OpFamily.ShapeIndexCreateOther, "tril_indices") { Differentiable = false, DTypes = DTypeSet.Int64 };
    internal static readonly OpDef TriuIndicesOp = new("TriuIndices", OpFamily.ShapeIndexCreateOther, "triu_indices") { Differentiable = false, DTypes = DTypeSet.Int64 };
    internal static readonly OpDef NonzeroOp = new("Nonzero", OpFamily.ShapeIndexCreateOther, "nonzero", "argwhere") { Differentiable = false, DTypes = DTypeSet.All };

    /// <summary>The (row, col) indices of the lower triangle (col - row &lt;= <paramref name="offset"/>) of a
    /// rows × cols matrix, as an int64 [2, count] tensor in row-major order (PyTorch's <c>tril_indices</c>).</summary>
    public static Tensor TrilIndices(int rows, int cols, int offset = 0) => TriIndices("TrilIndices", rows, cols, offset, lower: true);

    /// <summary>The (row, col) indices of the upper triangle (col - row &gt;= <paramref name="offset"/>), as an int64 [2, count] tensor (PyTorch's <c>triu_indices</c>).</summary>
    public static Tensor TriuIndices(int rows, int cols, int offset = 0) => TriIndices("TriuIndices", rows, cols, offset, lower: false);

    private static Tensor TriIndices(string op, int rows, int cols, int offset, bool lower)
    {
        if (rows < 0 || cols < 0) throw new ArgumentOutOfRangeException(nameof(rows), $"{op}: rows and cols must be non-negative, got {rows} and {cols}.");
        var r = new List<long>();
        var c = new List<long>();
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                if (lower ? j - i <= offset : j - i >= offset)
                {
                    r.Add(i);
                    c.Add(j);
                }
        return Wrap([.. r, .. c], [2, r.Count]);
    }

    /// <summary>The indices of the non-zero (true) entries as an int64 [count, rank] tensor in row-major order (PyTorch's <c>nonzero</c>). Not differentiable.</summary>
    public Tensor Nonzero()
    {
        return DType switch
        {
            DType.Float32 => NonzeroOf<float>(),
            DType.Float64 => NonzeroOf<double>(),
            DType.Int64 => NonzeroOf<long>(),
            _ => NonzeroOf<bool>(),
        };
    }

    /// <summary><see cref="Nonzero"/> on the typed elements: a count, then one pass writing the coordinates (an odometer, no division).</summary>
    private Tensor NonzeroOf<T>() where T : IEquatable<T>
    {
        var v = DenseSpan<T>();
        T zero = default!; // Equals: -0 equals 0, NaN is not 0
        int count = 0;
        foreach (var a in v) if (!a.Equals(zero)) count++;
        int rank = Rank;
        if ((long)count * rank > int.MaxValue)
            throw new ShapeMismatchException($"Nonzero: {count} non-zero entries of a rank-{rank} tensor need more coordinates than a tensor holds.");
        // pooled storage, written completely (no fresh 8-byte-per-coordinate array faulted in per call)
        var y = new Tensor(Storage.AllocateUninitialized(DType.Int64, count * rank), [count, rank]);
        var idx = y.Storage.As<long>();
        var at = new long[rank];
        for (int p = 0, w = 0; p < v.Length; p++)
        {
            var a = v[p];
            if (!a.Equals(zero))
            {
                for (int k = 0; k < rank; k++) idx[w + k] = at[k];
                w += rank;
            }
            for (int k = rank - 1; k >= 0; k--)
            {
                if (++at[k] < _shape[k]) break;
                at[k] = 0;
            }
        }
        return y;
    }

    /// <summary>The indices of the non-zero entries, one int64 vector per dim (PyTorch's <c>nonzero(as_tuple=True)</c>).</summary>
    public Tensor[] NonzeroTuple()
    {
        var nz = Nonzero();
        if (Rank == 0) return [Wrap(new long[nz._shape[0]], [nz._shape[0]])];
        return Enumerable.Range(0, Rank).Select(k => nz.Select(1, k).Contiguous()).ToArray();
    }

    /// <summary>The indices of the non-zero entries as an int64 [count, rank] tensor (PyTorch's <c>argwhere</c>, the same as <see cref="Nonzero"/>).</summary>
    public Tensor Argwhere() => Nonzero();
}
