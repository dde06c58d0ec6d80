namespace Fluxion;

// Products and contractions of the linalg family (torch.mm, bmm, mv, dot, inner, outer, addmm & co., trace,
// kron, cross, block_diag, tensordot, einsum, linalg.vecdot, linalg.multi_dot, cov, corrcoef, linalg.vander).
// All are composites of registered ops (MatMul, Mul, Add, Sum, Reshape, Permute, Slice, Cat, ...): their
// derivatives are those of their parts, so they differentiate to any order in both modes.
// (Entries are found through the [OpTable] on Tensor's declaration in Elementwise.cs.)
public partial class Tensor
{
    private static void NeedRank(string op, Tensor t, string name, params int[] ranks)
    {
        if (Array.IndexOf(ranks, t.Rank) < 0)
            throw new ShapeMismatchException($"{op}: {name} must be {string.Join(" or ", ranks.Select(r => r + "-D"))}, got shape {ShapeUtil.Format(t.Shape)}.");
    }

    private static void NeedInner(string op, Tensor a, Tensor b)
    {
        if (a._shape[^1] != b._shape[^2])
            throw new ShapeMismatchException($"{op}: shapes {ShapeUtil.Format(a.Shape)} and {ShapeUtil.Format(b.Shape)} cannot be multiplied: the inner dimensions differ ({a._shape[^1]} vs {b._shape[^2]}).");
    }

    private static void NeedFloatPair(string op, Tensor a, Tensor b)
    {
        a.CheckFloat(op);
        b.CheckFloat(op);
        CheckSameDType(op, a, b);
    }

    private static Tensor Scaled(Tensor t, double s) => s == 1 ? t : t * s;

    /// <summary>Samples of a two-matrix call for the sweep.</summary>
    private static IEnumerable<OpSample> Two(string label, Tensor a, Tensor b, Func<Tensor, Tensor, Tensor> f) =>
        [new OpSample(label, [a, b], t => f(t[0], t[1]))];

    private static Tensor M(int seed, params int[] shape) => OpSamples.Make(OpSamples.Domain.Real, seed, shape);

    // ---- mm / bmm / mv / dot / vdot / inner / outer ----

    internal static readonly OpDef MmOp = new("Mm", OpFamily.Linalg, "mm")
    {
        CompositeOf = ["MatMul"], Doc = "2-D matrix product",
        Samples = () => Two("2-d", M(1, 3, 4), M(2, 4, 2), Mm).Concat(Two("transposed", M(3, 4, 3).T, M(4, 4, 2), Mm)),
    };

    /// <summary>Product of two 2-D matrices [n, m]·[m, p] (torch.mm; no broadcasting).</summary>
    public static Tensor Mm(Tensor a, Tensor b)
    {
        NeedFloatPair("Mm", a, b);
        NeedRank("Mm", a, "the first operand", 2);
        NeedRank("Mm", b, "the second operand", 2);
        NeedInner("Mm", a, b);
        return MatMul(a, b);
    }

    /// <summary>Product of two 2-D matrices (torch.mm).</summary>
    public Tensor Mm(Tensor other) => Mm(this, other);

    internal static readonly OpDef BmmOp = new("Bmm", OpFamily.Linalg, "bmm")
    {
        CompositeOf = ["MatMul"], Doc = "batched matrix product of 3-D tensors",
        Samples = () => Two("3-d", M(1, 2, 3, 4), M(2, 2, 4, 2), Bmm),
    };

    /// <summary>Batched product [b, n, m]·[b, m, p] → [b, n, p] (torch.bmm; equal batch sizes, no broadcasting).</summary>
    public static Tensor Bmm(Tensor a, Tensor b)
    {
        NeedFloatPair("Bmm", a, b);
        NeedRank("Bmm", a, "the first operand", 3);
        NeedRank("Bmm", b, "the second operand", 3);
        if (a._shape[0] != b._shape[0])
            throw new ShapeMismatchException($"Bmm: batch sizes differ ({ShapeUtil.Format(a.Shape)} vs {ShapeUtil.Format(b.Shape)}); bmm does not broadcast (use MatMul).");
        NeedInner("Bmm", a, b);
        return MatMul(a, b);
    }

    /// <summary>Batched product of 3-D tensors (torch.bmm).</summary>
    public Tensor Bmm(Tensor other) => Bmm(this, other);

    internal static readonly OpDef MvOp = new("Mv", OpFamily.Linalg, "mv")
    {
        CompositeOf = ["MatMul"], Doc = "matrix-vector product",
        Samples = () => Two("2-d·1-d", M(1, 3, 4), M(2, 4), Mv),
    };

    /// <summary>Matrix-vector product [n, m]·[m] → [n] (torch.mv).</summary>
    public static Tensor Mv(Tensor a, Tensor v)
    {
        NeedFloatPair("Mv", a, v);
        NeedRank("Mv", a, "the matrix", 2);
        NeedRank("Mv", v, "the vector", 1);
        return MatMul(a, v);
    }

    /// <summary>Matrix-vector product (torch.mv).</summary>
    public Tensor Mv(Tensor vec) => Mv(this, vec);

    internal static readonly OpDef DotOp = new("Dot", OpFamily.Linalg, "dot", "vdot")
    {
        Doc = "inner product of two 1-D tensors (vdot: the same for real tensors)",
        // the gradients are the other operand scaled by g (no matrix-product backward of [n]·[n])
        Vjp = (in OpCtx c, Tensor g, int i) => g * c.X(1 - i),
        Jvp = (in OpCtx c, Tensor?[] t) =>
        {
            // (ta·b).Sum(-1) also takes a vector-mode tangent [k, n]
            Tensor? r = t[0] is { } ta ? (ta * c.X(1)).Sum(-1) : null;
            if (t[1] is { } tb) r = r is null ? (c.X(0) * tb).Sum(-1) : r + (c.X(0) * tb).Sum(-1);
            return r;
        },
        BatchedJvp = true, Saves = 3u,
        Batch = c => [(c.Materialize(0) * c.Materialize(1)).Sum(-1)],
        Samples = () => Two("1-d", M(1, 5), M(2, 5), Dot).Concat(Two("strided", M(3, 10).Slice(0, 0, null, 2), M(4, 5), Dot)),
    };

    /// <summary>Inner product of two 1-D tensors of equal length, a 0-d result (torch.dot).</summary>
    public static Tensor Dot(Tensor a, Tensor b)
    {
        NeedFloatPair("Dot", a, b);
        NeedRank("Dot", a, "the first operand", 1);
        NeedRank("Dot", b, "the second operand", 1);
        if (a._shape[0] != b._shape[0])
            throw new ShapeMismatchException($"Dot: the operands have different lengths: shapes {ShapeUtil.Format(a._shape)} and {ShapeUtil.Format(b._shape)}.");
        // untracked, or traced (vmap batches the matrix product): the matrix product itself
        if (Tracer.Depth > 0 || !Op.Tracking(a, b)) return MatMul(a, b);
        // the value of the matrix product's [n]·[n] kernel, recorded as one Dot
        Tensor y;
        using (Autograd.NoGrad()) y = MatMul(a.Detach(), b.Detach());
        return Op.Record(DotOp, y, [a, b]);
    }

    /// <summary>Inner product of two 1-D tensors (torch.dot).</summary>
    public Tensor Dot(Tensor other) => Dot(this, other);

    /// <summary>torch.vdot: conj(a)·b; for Fluxion's real tensors the same as <see cref="Dot(Tensor, Tensor)"/>.</summary>
    public static Tensor Vdot(Tensor a, Tensor b) => Dot(a, b);

    internal static readonly OpDef InnerOp = new("Inner", OpFamily.Linalg, "inner")
    {
        CompositeOf = ["MatMul", "Reshape", "Mul"], Doc = "contraction over the last dims",
        Samples = () => Two("2-d·3-d", M(1, 3, 4), M(2, 2, 2, 4), Inner).Concat(Two("1-d", M(3, 4), M(4, 4), Inner)).Concat(Two("0-d", M(5), M(6, 2, 3), Inner)),
    };

    /// <summary>Sum of products over the last dims: result shape a.shape[:-1] + b.shape[:-1] (torch.inner; a 0-d operand multiplies).</summary>
    public static Tensor Inner(Tensor a, Tensor b)
    {
        NeedFloatPair("Inner", a, b);
        if (a.Rank == 0 || b.Rank == 0) return a * b;
        int k = a._shape[^1];
        if (b._shape[^1] != k)
            throw new ShapeMismatchException($"Inner: the last dims differ ({ShapeUtil.Format(a.Shape)} vs {ShapeUtil.Format(b.Shape)}).");
        var r = a.Reshape(-1, k).MatMul(b.Reshape(-1, k).MT);
        return r.Reshape([.. a._shape[..^1], .. b._shape[..^1]]);
    }

    /// <summary>Contraction over the last dims (torch.inner).</summary>
    public Tensor Inner(Tensor other) => Inner(this, other);

    internal static readonly OpDef OuterOp = new("Outer", OpFamily.Linalg, "outer")
    {
        CompositeOf = ["Mul"], Doc = "outer product of two vectors",
        Samples = () => Two("1-d", M(1, 3), M(2, 4), Outer),
    };

    /// <summary>Outer product of two 1-D tensors: [n]⊗[m] → [n, m] (torch.outer / torch.ger).</summary>
    public static Tensor Outer(Tensor a, Tensor b)
    {
        NeedFloatPair("Outer", a, b);
        NeedRank("Outer", a, "the first operand", 1);
        NeedRank("Outer", b, "the second operand", 1);
        if (Eager([a, b])) return OuterRaw(a, b, null, 0, 1);
        return a.Unsqueeze(1) * b.Unsqueeze(0);
    }

    /// <summary>The eager forward of Outer and Addr: α·(a⊗b) (+ β·input broadcast to [n, m]) in one pass into one
    /// allocation, with the composition's arithmetic (a[i]·b[j], then ·α, then + input·β); the recorded paths go through
    /// the composition, whose entries carry the derivatives. Operands are validated by the caller.</summary>
    private static Tensor OuterRaw(Tensor a, Tensor b, Tensor? input, double beta, double alpha)
    {
        int n = a._shape[0], m = b._shape[0];
        var y = Empty([n, m], a.DType);
        int[] inStrides = input is null ? [0, 0] : BroadcastStrides(input, [n, m]);
        int inOff = input?.Offset ?? 0;
        if (a.DType == DType.Float32)
            Kernels.Products.Outer(a.Storage.As<float>(), a.Offset, a._strides[0], b.DenseSpan<float>(), y.Storage.As<float>(), n, (float)alpha,
                input?.Storage.As<float>(), inOff, inStrides[0], inStrides[1], (float)beta);
        else
            Kernels.Products.Outer(a.Storage.As<double>(), a.Offset, a._strides[0], b.DenseSpan<double>(), y.Storage.As<double>(), n, alpha,
                input?.Storage.As<double>(), inOff, inStrides[0], inStrides[1], beta);
        return y;
    }

    /// <summary>Outer product of two vectors (torch.outer).</summary>
    public Tensor Outer(Tensor other) => Outer(this, other);

    // ---- add* ----

    /// <summary>beta·input + alpha·product, where beta = 0 ignores input (its NaN/inf do not propagate), as PyTorch.</summary>
    private static Tensor AddScaled(string op, Tensor input, Tensor product, double beta, double alpha)
    {
        input.CheckFloat(op);
        CheckSameDType(op, input, product);
        var shape = ShapeUtil.Broadcast($"{op} (input {ShapeUtil.Format(input.Shape)} and the product {ShapeUtil.Format(product.Shape)})", input._shape, product._shape);
        if (!ShapeUtil.SameShape(shape, product._shape))
            throw new ShapeMismatchException($"{op}: input of shape {ShapeUtil.Format(input.Shape)} does not broadcast to the product's shape {ShapeUtil.Format(product.Shape)}.");
        var p = Scaled(product, alpha);
        if (beta == 0) return p;
        return Scaled(input, beta) + p;
    }

    internal static readonly OpDef AddmmOp = new("Addmm", OpFamily.Linalg, "addmm")
    {
        CompositeOf = ["MatMul", "Mul", "Add"], Doc = "beta·input + alpha·(m1·m2)",
        Samples = () => [new("bcast", [M(1, 4), M(2, 3, 5), M(3, 5, 4)], t => Addmm(t[0], t[1], t[2], beta: 0.5, alpha: -2)),
                         new("full", [M(4, 3, 4), M(5, 3, 5), M(6, 5, 4)], t => Addmm(t[0], t[1], t[2]))],
    };

    /// <summary>beta·input + alpha·(mat1·mat2) for 2-D mat1, mat2; input broadcasts to the product (torch.addmm; beta = 0 ignores input).</summary>
    public static Tensor Addmm(Tensor input, Tensor mat1, Tensor mat2, double beta = 1, double alpha = 1) =>
        AddScaled("Addmm", input, Mm(mat1, mat2), beta, alpha);

    internal static readonly OpDef AddmvOp = new("Addmv", OpFamily.Linalg, "addmv")
    {
        CompositeOf = ["MatMul", "Mul", "Add"], Doc = "beta·input + alpha·(mat·vec)",
        Samples = () => [new("1-d", [M(1, 3), M(2, 3, 5), M(3, 5)], t => Addmv(t[0], t[1], t[2], beta: 0.5, alpha: 2))],
    };

    /// <summary>beta·input + alpha·(mat·vec) (torch.addmv; beta = 0 ignores input).</summary>
    public static Tensor Addmv(Tensor input, Tensor mat, Tensor vec, double beta = 1, double alpha = 1) =>
        AddScaled("Addmv", input, Mv(mat, vec), beta, alpha);

    internal static readonly OpDef AddrOp = new("Addr", OpFamily.Linalg, "addr")
    {
        CompositeOf = ["Mul", "Add"], Doc = "beta·input + alpha·(vec1⊗vec2)",
        Samples = () => [new("bcast", [M(1, 1, 4), M(2, 3), M(3, 4)], t => Addr(t[0], t[1], t[2], beta: 2, alpha: 0.5))],
    };

    /// <summary>beta·input + alpha·outer(vec1, vec2) (torch.addr; beta = 0 ignores input).</summary>
    public static Tensor Addr(Tensor input, Tensor vec1, Tensor vec2, double beta = 1, double alpha = 1)
    {
        if (Eager([input, vec1, vec2]))
        {
            // eager: the same checks as the composition below, then one pass
            NeedFloatPair("Outer", vec1, vec2);
            NeedRank("Outer", vec1, "the first operand", 1);
            NeedRank("Outer", vec2, "the second operand", 1);
            input.CheckFloat("Addr");
            int[] shape = [vec1._shape[0], vec2._shape[0]];
            CheckSameDType("Addr", input, vec1);
            var b = ShapeUtil.Broadcast($"Addr (input {ShapeUtil.Format(input.Shape)} and the product {ShapeUtil.Format(shape)})", input._shape, shape);
            if (!ShapeUtil.SameShape(b, shape))
                throw new ShapeMismatchException($"Addr: input of shape {ShapeUtil.Format(input.Shape)} does not broadcast to the product's shape {ShapeUtil.Format(shape)}.");
            return OuterRaw(vec1, vec2, beta == 0 ? null : input, beta, alpha);
        }
        return AddScaled("Addr", input, Outer(vec1, vec2), beta, alpha);
    }

    internal static readonly OpDef AddbmmOp = new("Addbmm", OpFamily.Linalg, "addbmm")
    {
        CompositeOf = ["MatMul", "Sum", "Mul", "Add"], Doc = "beta·input + alpha·Σ_b batch1[b]·batch2[b]",
        Samples = () => [new("3-d", [M(1, 3, 4), M(2, 2, 3, 5), M(3, 2, 5, 4)], t => Addbmm(t[0], t[1], t[2], beta: 0.5, alpha: 1.5))],
    };

    /// <summary>beta·input + alpha·Σ_b batch1[b]·batch2[b] (torch.addbmm: the batch products summed; beta = 0 ignores input).</summary>
    public static Tensor Addbmm(Tensor input, Tensor batch1, Tensor batch2, double beta = 1, double alpha = 1) =>
        AddScaled("Addbmm", input, Bmm(batch1, batch2).Sum(0), beta, alpha);

    internal static readonly OpDef BaddbmmOp = new("Baddbmm", OpFamily.Linalg, "baddbmm")
    {
        CompositeOf = ["MatMul", "Mul", "Add"], Doc = "beta·input + alpha·bmm(batch1, batch2)",
        Samples = () => [new("3-d", [M(1, 3, 1), M(2, 2, 3, 5), M(3, 2, 5, 4)], t => Baddbmm(t[0], t[1], t[2], beta: -1, alpha: 0.5))],
    };

    /// <summary>beta·input + alpha·bmm(batch1, batch2) (torch.baddbmm; beta = 0 ignores input).</summary>
    public static Tensor Baddbmm(Tensor input, Tensor batch1, Tensor batch2, double beta = 1, double alpha = 1) =>
        AddScaled("Baddbmm", input, Bmm(batch1, batch2), beta, alpha);

    // ---- trace / diagonal / kron / cross / block_diag ----

    /// <summary>The main diagonal of the last two dims as a strided view of a reshaped tensor ([..., min(m, n)]).</summary>
    internal Tensor DiagonalLast()
    {
        int m = _shape[^2], n = _shape[^1], k = Math.Min(m, n);
        var lead = _shape[..^2];
        if (k == 0) return Reshape([.. lead, m * n]).Slice(-1, 0, 0);
        return Reshape([.. lead, m * n]).Slice(-1, 0, (k - 1) * (n + 1) + 1, n + 1);
    }

    internal static readonly OpDef TraceOp = new("Trace", OpFamily.Linalg, "trace")
    {
        Linear = true,
        CompositeOf = ["Reshape", "Slice", "Sum"], Doc = "sum of the main diagonal of a 2-D tensor",
        Samples = () => [new("square", [M(1, 4, 4)], t => t[0].Trace()), new("wide", [M(2, 3, 5)], t => t[0].Trace()), new("transposed", [M(3, 5, 3).T], t => t[0].Trace())],
    };

    /// <summary>Sum of the main diagonal of a 2-D tensor (torch.trace).</summary>
    public Tensor Trace()
    {
        CheckFloat("Trace");
        NeedRank("Trace", this, "the input", 2);
        return DiagonalLast().Sum();
    }

    internal static readonly OpDef KronOp = new("Kron", OpFamily.Linalg, "kron")
    {
        CompositeOf = ["Mul", "Reshape"], Doc = "Kronecker product",
        Samples = () => Two("2-d", M(1, 2, 3), M(2, 3, 2), Kron).Concat(Two("ranks differ", M(3, 2), M(4, 2, 3), Kron)),
    };

    /// <summary>Kronecker product (torch.kron): the operands' ranks are padded with leading 1s; result dim i is a_i·b_i.</summary>
    public static Tensor Kron(Tensor a, Tensor b)
    {
        NeedFloatPair("Kron", a, b);
        int r = Math.Max(a.Rank, b.Rank);
        int[] sa = [.. Enumerable.Repeat(1, r - a.Rank), .. a._shape], sb = [.. Enumerable.Repeat(1, r - b.Rank), .. b._shape];
        var ia = new int[2 * r];
        var ib = new int[2 * r];
        var o = new int[r];
        for (int d = 0; d < r; d++)
        {
            ia[2 * d] = sa[d]; ia[2 * d + 1] = 1;
            ib[2 * d] = 1; ib[2 * d + 1] = sb[d];
            o[d] = sa[d] * sb[d];
        }
        return (a.Reshape(ia) * b.Reshape(ib)).Reshape(o);
    }

    /// <summary>Kronecker product (torch.kron).</summary>
    public Tensor Kron(Tensor other) => Kron(this, other);

    internal static readonly OpDef CrossOp = new("Cross", OpFamily.Linalg, "cross", "linalg.cross")
    {
        CompositeOf = ["Select", "Mul", "Sub", "Stack"], Doc = "3-vector cross product along a dim (broadcasting)",
        Samples = () => Two("2-d", M(1, 4, 3), M(2, 4, 3), (a, b) => Cross(a, b)).Concat(Two("bcast dim 0", M(3, 3, 1), M(4, 3, 2), (a, b) => Cross(a, b, 0))),
    };

    /// <summary>
    /// Cross product of 3-vectors along <paramref name="dim"/> with broadcasting (torch.linalg.cross; the default dim is -1).
    /// torch.cross's deprecated default (the first dim of size 3) is <see cref="CrossFirst3"/>.
    /// </summary>
    public static Tensor Cross(Tensor a, Tensor b, int dim = -1)
    {
        NeedFloatPair("Cross", a, b);
        var shape = ShapeUtil.Broadcast($"Cross ({ShapeUtil.Format(a.Shape)} and {ShapeUtil.Format(b.Shape)})", a._shape, b._shape);
        int d = dim < 0 ? dim + shape.Length : dim;
        if (d < 0 || d >= shape.Length || a.Rank != shape.Length || b.Rank != shape.Length)
            throw new ShapeMismatchException($"Cross: dim {dim} is out of range, or the ranks differ ({ShapeUtil.Format(a.Shape)} and {ShapeUtil.Format(b.Shape)}); both need the same rank.");
        if (a._shape[d] != 3 || b._shape[d] != 3)
            throw new ShapeMismatchException($"Cross: dim {dim} must have size 3 in both operands, got {ShapeUtil.Format(a.Shape)} and {ShapeUtil.Format(b.Shape)}.");
        Tensor A(int i) => a.Select(d, i);
        Tensor B(int i) => b.Select(d, i);
        return Stack([A(1) * B(2) - A(2) * B(1), A(2) * B(0) - A(0) * B(2), A(0) * B(1) - A(1) * B(0)], d);
    }

    /// <summary>torch.cross without dim: the cross product along the first dim of size 3 (PyTorch's deprecated default).</summary>
    public static Tensor CrossFirst3(Tensor a, Tensor b)
    {
        var shape = ShapeUtil.Broadcast($"Cross ({ShapeUtil.Format(a.Shape)} and {ShapeUtil.Format(b.Shape)})", a._shape, b._shape);
        int d = Array.IndexOf(shape, 3);
        if (d < 0) throw new ShapeMismatchException($"Cross: no dimension of size 3 in {ShapeUtil.Format(shape)}; pass dim.");
        return Cross(a, b, d);
    }

    internal static readonly OpDef BlockDiagOp = new("BlockDiag", OpFamily.Linalg, "block_diag")
    {
        CompositeOf = ["Cat", "Reshape"], Doc = "block-diagonal matrix of 0-, 1- and 2-D tensors",
        Samples = () => [new("mixed", [M(1, 2, 3), M(2), M(3, 4), M(4, 3, 1)], t => BlockDiag(t))],
    };

    /// <summary>The block-diagonal matrix with the given blocks (torch.block_diag): 0-d → 1×1, 1-D [n] → 1×n, 2-D as is.</summary>
    public static Tensor BlockDiag(params Tensor[] tensors)
    {
        if (tensors.Length == 0) return Zeros([1, 0], DType.Float32);
        foreach (var t in tensors)
        {
            t.CheckFloat("BlockDiag");
            CheckSameDType("BlockDiag", tensors[0], t);
            NeedRank("BlockDiag", t, "every block", 0, 1, 2);
        }
        var blocks = tensors.Select(t => t.Rank == 2 ? t : t.Reshape(1, -1)).ToArray();
        int cols = blocks.Sum(b => b._shape[1]), before = 0;
        var dt = tensors[0].DType;
        if (Eager(tensors))
        {
            // eager: zeros with each block copied into its place (no per-row zero pads and cats)
            var z = Zeros([blocks.Sum(b => b._shape[0]), cols], dt);
            int top = 0;
            foreach (var b in blocks)
            {
                if (b.Numel > 0) z.AsStridedRaw(b.ShapeArray, z._strides, top * z._strides[0] + before).CopyRawFrom(b);
                top += b._shape[0];
                before += b._shape[1];
            }
            return z;
        }
        var rows = new List<Tensor>();
        foreach (var b in blocks)
        {
            int r = b._shape[0], c = b._shape[1];
            var parts = new List<Tensor>();
            if (before > 0) parts.Add(Zeros([r, before], dt));
            parts.Add(b);
            if (cols - before - c > 0) parts.Add(Zeros([r, cols - before - c], dt));
            rows.Add(parts.Count == 1 ? b : Cat([.. parts], 1));
            before += c;
        }
        return rows.Count == 1 ? rows[0] : Cat([.. rows], 0);
    }

    // ---- tensordot / vecdot / multi_dot ----

    internal static readonly OpDef TensordotOp = new("Tensordot", OpFamily.Linalg, "tensordot")
    {
        CompositeOf = ["Permute", "Reshape", "MatMul"], Doc = "contraction over given dim pairs",
        Samples = () => Two("dims=2", M(1, 2, 3, 4), M(2, 3, 4, 2), (a, b) => Tensordot(a, b, 2))
            .Concat(Two("pairs", M(3, 3, 2, 4), M(4, 4, 5, 3), (a, b) => Tensordot(a, b, [0, 2], [2, 0]))),
    };

    /// <summary>Contracts the last <paramref name="dims"/> dims of a with the first <paramref name="dims"/> of b (torch.tensordot(a, b, dims=n)).</summary>
    public static Tensor Tensordot(Tensor a, Tensor b, int dims = 2)
    {
        if (dims < 0 || dims > a.Rank || dims > b.Rank)
            throw new ArgumentException($"Tensordot: dims = {dims} must be in [0, min(rank)] for shapes {ShapeUtil.Format(a.Shape)} and {ShapeUtil.Format(b.Shape)}.");
        return Tensordot(a, b, [.. Enumerable.Range(a.Rank - dims, dims)], [.. Enumerable.Range(0, dims)]);
    }

    /// <summary>Contracts dim dimsA[i] of a with dim dimsB[i] of b (torch.tensordot(a, b, dims=(dimsA, dimsB))); the result has a's free dims then b's.</summary>
    public static Tensor Tensordot(Tensor a, Tensor b, int[] dimsA, int[] dimsB)
    {
        NeedFloatPair("Tensordot", a, b);
        if (dimsA.Length != dimsB.Length)
            throw new ArgumentException($"Tensordot: dimsA and dimsB must have the same length, got {dimsA.Length} and {dimsB.Length}.");
        var ca = dimsA.Select(d => ShapeUtil.WrapDim("Tensordot", d, a.Rank)).ToArray();
        var cb = dimsB.Select(d => ShapeUtil.WrapDim("Tensordot", d, b.Rank)).ToArray();
        for (int i = 0; i < ca.Length; i++)
            if (a._shape[ca[i]] != b._shape[cb[i]])
                throw new ShapeMismatchException($"Tensordot: contracted dims differ in size: dim {ca[i]} of {ShapeUtil.Format(a.Shape)} vs dim {cb[i]} of {ShapeUtil.Format(b.Shape)}.");
        var fa = Enumerable.Range(0, a.Rank).Where(d => !ca.Contains(d)).ToArray();
        var fb = Enumerable.Range(0, b.Rank).Where(d => !cb.Contains(d)).ToArray();
        int k = ca.Aggregate(1, (p, d) => p * a._shape[d]);
        int m = fa.Aggregate(1, (p, d) => p * a._shape[d]), n = fb.Aggregate(1, (p, d) => p * b._shape[d]);
        var am = a.Permute([.. fa, .. ca]).Reshape(m, k);
        var bm = b.Permute([.. cb, .. fb]).Reshape(k, n);
        return am.MatMul(bm).Reshape([.. fa.Select(d => a._shape[d]), .. fb.Select(d => b._shape[d])]);
    }

    internal static readonly OpDef VecdotOp = new("Vecdot", OpFamily.Linalg, "linalg.vecdot")
    {
        CompositeOf = ["Mul", "Sum"], Doc = "dot products along a dim with broadcasting",
        Samples = () => Two("bcast", M(1, 3, 4), M(2, 4), (a, b) => Vecdot(a, b)).Concat(Two("dim 0", M(3, 3, 2), M(4, 3, 1), (a, b) => Vecdot(a, b, 0))),
    };

    /// <summary>Dot products of a and b along <paramref name="dim"/> after broadcasting (torch.linalg.vecdot).</summary>
    public static Tensor Vecdot(Tensor a, Tensor b, int dim = -1)
    {
        NeedFloatPair("Vecdot", a, b);
        if (Eager([a, b]))
        {
            // eager: the dot products along the dim without the full-size product (one pass over the operands)
            var shape = ShapeUtil.Broadcast("Vecdot", a._shape, b._shape);
            int d = ShapeUtil.WrapDim("Vecdot", dim, shape.Length);
            int n = shape[d];
            if (n > 1)
            {
                int[] sa = BroadcastStrides(a, shape), sb = BroadcastStrides(b, shape);
                int[] outer = [.. shape[..d], .. shape[(d + 1)..]];
                var y = Empty(outer, a.DType);
                int[] ao = [.. sa[..d], .. sa[(d + 1)..]], bo = [.. sb[..d], .. sb[(d + 1)..]];
                if (a.DType == DType.Float32)
                    Kernels.Products.RowDots(a.Storage.As<float>(), a.Offset, ao, sa[d], b.Storage.As<float>(), b.Offset, bo, sb[d], n, outer, y.Storage.As<float>());
                else
                    Kernels.Products.RowDots(a.Storage.As<double>(), a.Offset, ao, sa[d], b.Storage.As<double>(), b.Offset, bo, sb[d], n, outer, y.Storage.As<double>());
                return y;
            }
        }
        var p = a * b;
        return p.Sum(ShapeUtil.WrapDim("Vecdot", dim, p.Rank));
    }

    internal static readonly OpDef MultiDotOp = new("MultiDot", OpFamily.Linalg, "linalg.multi_dot")
    {
        CompositeOf = ["MatMul"], Doc = "chained matrix product in the cheapest order",
        Samples = () => [new("chain", [M(1, 4), M(2, 4, 2), M(3, 2, 5), M(4, 5, 3)], t => MultiDot(t)),
                         new("matrices", [M(5, 2, 6), M(6, 6, 2), M(7, 2, 3)], t => MultiDot(t))],
    };

    /// <summary>
    /// The product of a chain of matrices (torch.linalg.multi_dot), multiplied in the order of fewest flops
    /// (the classic O(n³) dynamic program). The first operand may be 1-D (a row vector) and the last 1-D (a
    /// column vector); their dims are removed from the result.
    /// </summary>
    public static Tensor MultiDot(params Tensor[] tensors)
    {
        if (tensors.Length < 2) throw new ArgumentException($"MultiDot: needs at least 2 tensors, got {tensors.Length}.");
        for (int i = 0; i < tensors.Length; i++)
        {
            tensors[i].CheckFloat("MultiDot");
            CheckSameDType("MultiDot", tensors[0], tensors[i]);
            NeedRank("MultiDot", tensors[i], $"tensor {i}", i == 0 || i == tensors.Length - 1 ? [1, 2] : [2]);
        }
        bool firstVec = tensors[0].Rank == 1, lastVec = tensors[^1].Rank == 1;
        var ms = tensors.ToArray();
        if (firstVec) ms[0] = ms[0].Unsqueeze(0);
        if (lastVec) ms[^1] = ms[^1].Unsqueeze(1);
        int n = ms.Length;
        var dims = new long[n + 1];
        dims[0] = ms[0]._shape[0];
        for (int i = 0; i < n; i++)
        {
            if (ms[i]._shape[0] != dims[i])
                throw new ShapeMismatchException($"MultiDot: tensor {i - 1} and tensor {i} cannot be multiplied ({ShapeUtil.Format(tensors[i - 1].Shape)}·{ShapeUtil.Format(tensors[i].Shape)}).");
            dims[i + 1] = ms[i]._shape[1];
        }
        var cost = new long[n, n];
        var split = new int[n, n];
        for (int len = 1; len < n; len++)
            for (int i = 0; i + len < n; i++)
            {
                int j = i + len;
                cost[i, j] = long.MaxValue;
                for (int s = i; s < j; s++)
                {
                    long c = cost[i, s] + cost[s + 1, j] + dims[i] * dims[s + 1] * dims[j + 1];
                    if (c < cost[i, j]) { cost[i, j] = c; split[i, j] = s; }
                }
            }
        Tensor Chain(int i, int j) => i == j ? ms[i] : Chain(i, split[i, j]).MatMul(Chain(split[i, j] + 1, j));
        var r = Chain(0, n - 1);
        if (firstVec && lastVec) return r.Reshape();
        if (firstVec) return r.Squeeze(0);
        if (lastVec) return r.Squeeze(1);
        return r;
    }

    // ---- einsum ----

    internal static readonly OpDef EinsumOp = new("Einsum", OpFamily.Linalg, "einsum")
    {
        CompositeOf = ["Permute", "Reshape", "Slice", "Sum", "Expand", "MatMul"], Doc = "Einstein summation (diagonals, ellipsis, broadcasting; cheapest pairwise order)",
        Samples = () =>
        [
            new("ij,jk->ik", [M(1, 3, 4), M(2, 4, 2)], x => Einsum("ij,jk->ik", x)),
            new("ii->i", [M(3, 3, 3)], x => Einsum("ii->i", x)),
            new("bij,bkj->bik", [M(4, 2, 3, 4), M(5, 2, 2, 4)], x => Einsum("bij,bkj->bik", x)),
            new("ellipsis bcast", [M(6, 2, 1, 3, 4), M(7, 5, 4, 2)], x => Einsum("...ij,...jk->...ik", x)),
            new("chain", [M(8, 2, 3), M(9, 3, 4), M(10, 4, 2), M(11, 2)], x => Einsum("ab,bc,cd,d->a", x)),
            new("implicit iij,k", [M(12, 3, 3, 2), M(13, 4)], x => Einsum("iij,k", x)),
        ],
    };

    /// <summary>
    /// Einstein summation (torch.einsum): "ij,jk->ik", implicit outputs ("ij,jk" → the labels seen once, sorted), repeated
    /// labels within an operand (diagonals, "ii->i"), "..." for broadcast batch dims, size-1 broadcasting between operands.
    /// Each operand's private labels are summed first; then pairs are contracted (permute, reshape, one batched MatMul),
    /// always picking the pair whose contraction is cheapest, so chains run in a good order.
    /// </summary>
    public static Tensor Einsum(string equation, params Tensor[] operands)
    {
        string eq = equation.Replace(" ", "");
        int arrow = eq.IndexOf("->", StringComparison.Ordinal);
        string lhs = arrow < 0 ? eq : eq[..arrow];
        var terms = lhs.Split(',');
        if (terms.Length != operands.Length)
            throw new ArgumentException($"Einsum: the equation '{equation}' has {terms.Length} operand(s) but {operands.Length} tensor(s) were given.");
        foreach (var t in operands) { t.CheckFloat("Einsum"); CheckSameDType("Einsum", operands[0], t); }
        // ellipsis dims get private labels \u0100 + k, right-aligned across operands
        int ell = 0;
        for (int i = 0; i < terms.Length; i++)
            if (terms[i].Contains("...")) ell = Math.Max(ell, operands[i].Rank - (terms[i].Length - 3));
        List<char> Expand1(string term, int rank, string where)
        {
            var r = new List<char>();
            int at = term.IndexOf("...", StringComparison.Ordinal);
            string letters = term.Replace("...", "");
            foreach (var ch in letters)
                if (!char.IsAsciiLetter(ch)) throw new ArgumentException($"Einsum: invalid label '{ch}' in {where} of '{equation}' (use letters a-z, A-Z and '...').");
            if (at < 0)
            {
                if (rank >= 0 && letters.Length != rank)
                    throw new ShapeMismatchException($"Einsum: {where} '{term}' of '{equation}' has {letters.Length} labels but the tensor has {rank} dims.");
                r.AddRange(letters);
                return r;
            }
            int e = rank < 0 ? ell : rank - letters.Length;
            if (e < 0) throw new ShapeMismatchException($"Einsum: {where} '{term}' of '{equation}' has more labels than the tensor's {rank} dims.");
            r.AddRange(term[..at]);
            for (int k = ell - e; k < ell; k++) r.Add((char)(0x100 + k));
            r.AddRange(term[(at + 3)..]);
            return r;
        }
        var labels = new List<char>[operands.Length];
        for (int i = 0; i < operands.Length; i++) labels[i] = Expand1(terms[i], operands[i].Rank, $"operand {i}");
        List<char> output;
        if (arrow >= 0) output = Expand1(eq[(arrow + 2)..], -1, "the output");
        else
        {
            var counts = labels.SelectMany(l => l).Where(c => c < 0x100).GroupBy(c => c).Where(g => g.Count() == 1).Select(g => g.Key).Order();
            output = [.. Enumerable.Range(0, ell).Select(k => (char)(0x100 + k)), .. counts];
        }
        if (output.Distinct().Count() != output.Count) throw new ArgumentException($"Einsum: the output of '{equation}' repeats a label.");
        var sizes = new Dictionary<char, int>();
        for (int i = 0; i < operands.Length; i++)
            for (int d = 0; d < labels[i].Count; d++)
            {
                int n = operands[i]._shape[d];
                char c = labels[i][d];
                if (!sizes.TryGetValue(c, out int had) || had == 1) sizes[c] = n;
                else if (n != had && n != 1)
                    throw new ShapeMismatchException($"Einsum: label '{(c < 0x100 ? c.ToString() : "...")}' of '{equation}' has sizes {had} and {n} (operand {i}, shape {ShapeUtil.Format(operands[i].Shape)}).");
            }
        foreach (var c in output)
            if (!sizes.ContainsKey(c)) throw new ArgumentException($"Einsum: output label '{c}' of '{equation}' appears in no operand.");

        var ops = new List<(Tensor T, List<char> L)>();
        for (int i = 0; i < operands.Length; i++)
        {
            var (t, l) = (operands[i], labels[i]);
            // repeated labels: take the diagonal
            while (true)
            {
                int a = -1, b = -1;
                for (int x = 0; x < l.Count && a < 0; x++)
                    for (int y = x + 1; y < l.Count; y++)
                        if (l[x] == l[y]) { a = x; b = y; break; }
                if (a < 0) break;
                if (t._shape[a] != t._shape[b])
                    throw new ShapeMismatchException($"Einsum: the repeated label '{l[a]}' of operand {i} in '{equation}' spans dims of sizes {t._shape[a]} and {t._shape[b]}.");
                var rest = Enumerable.Range(0, l.Count).Where(d => d != a && d != b).ToArray();
                t = t.Permute([.. rest, a, b]).DiagonalLast();
                char c = l[a];
                l = [.. rest.Select(d => l[d]), c];
            }
            ops.Add((t, l));
        }
        bool NeededElsewhere(char c, int skipA, int skipB)
        {
            if (output.Contains(c)) return true;
            for (int k = 0; k < ops.Count; k++)
                if (k != skipA && k != skipB && ops[k].L.Contains(c)) return true;
            return false;
        }
        (Tensor, List<char>) SumPrivate(Tensor t, List<char> l, int self, int other)
        {
            var drop = Enumerable.Range(0, l.Count).Where(d => !NeededElsewhere(l[d], self, other) && !(other >= 0 && ops[other].L.Contains(l[d]))).ToArray();
            if (drop.Length == 0) return (t, l);
            return (t.Sum(drop), [.. Enumerable.Range(0, l.Count).Where(d => !drop.Contains(d)).Select(d => l[d])]);
        }
        for (int i = 0; i < ops.Count; i++)
        {
            var (t, l) = SumPrivate(ops[i].T, ops[i].L, i, -1);
            ops[i] = (t, l);
        }
        while (ops.Count > 1)
        {
            int bi = 0, bj = 1;
            double best = double.MaxValue;
            for (int i = 0; i < ops.Count; i++)
                for (int j = i + 1; j < ops.Count; j++)
                {
                    double cost = ops[i].L.Union(ops[j].L).Aggregate(1.0, (p, c) => p * sizes[c]);
                    if (cost < best) { best = cost; bi = i; bj = j; }
                }
            var (ta, la) = ops[bi];
            var (tb, lb) = ops[bj];
            var batch = la.Where(c => lb.Contains(c) && NeededElsewhere(c, bi, bj)).ToList();
            var con = la.Where(c => lb.Contains(c) && !NeededElsewhere(c, bi, bj)).ToList();
            var fa = la.Where(c => !lb.Contains(c)).ToList();
            var fb = lb.Where(c => !la.Contains(c)).ToList();
            Tensor Arrange(Tensor t, List<char> l, List<char> order)
            {
                var p = t.Permute([.. order.Select(c => l.IndexOf(c))]);
                int[] full = [.. order.Select(c => sizes[c])];
                return ShapeUtil.SameShape(p._shape, full) ? p : p.Expand(full);
            }
            int Prod(List<char> ls) => ls.Aggregate(1, (p, c) => p * sizes[c]);
            var am = Arrange(ta, la, [.. batch, .. fa, .. con]).Reshape(Prod(batch), Prod(fa), Prod(con));
            var bm = Arrange(tb, lb, [.. batch, .. con, .. fb]).Reshape(Prod(batch), Prod(con), Prod(fb));
            var r = am.MatMul(bm).Reshape([.. batch.Select(c => sizes[c]), .. fa.Select(c => sizes[c]), .. fb.Select(c => sizes[c])]);
            ops.RemoveAt(bj);
            ops.RemoveAt(bi);
            ops.Add((r, [.. batch, .. fa, .. fb]));
            int last = ops.Count - 1;
            var (t2, l2) = SumPrivate(ops[last].T, ops[last].L, last, -1);
            ops[last] = (t2, l2);
        }
        var (res, lr) = ops[0];
        var perm = output.Select(c => lr.IndexOf(c)).ToArray();
        if (perm.Any(p => p < 0)) throw new ArgumentException($"Einsum: internal error: a label of the output of '{equation}' was lost.");
        res = perm.Select((p, k) => p == k).All(b => b) && perm.Length == lr.Count ? res : res.Permute(perm);
        int[] want = [.. output.Select(c => sizes[c])];
        return ShapeUtil.SameShape(res._shape, want) ? res : res.Expand(want);
    }

    // ---- cov / corrcoef / vander ----

    internal static readonly OpDef CovOp = new("Cov", OpFamily.Linalg, "cov")
    {
        CompositeOf = ["Mean", "Sub", "MatMul", "Mul"], Doc = "covariance matrix of the rows (variables) over the columns (observations)",
        Samples = () => [new("2-d", [M(1, 3, 6)], t => t[0].Cov()), new("1-d", [M(2, 5)], t => t[0].Cov(correction: 0))],
    };

    /// <summary>
    /// Covariance of the variables (rows) of a 1- or 2-D tensor over its observations (columns) (torch.cov without
    /// weights): (x − mean)(x − mean)ᵀ / (N − correction). A 1-D input is one variable (0-d result).
    /// </summary>
    public Tensor Cov(int correction = 1)
    {
        CheckFloat("Cov");
        NeedRank("Cov", this, "the input", 1, 2);
        var x = Rank == 1 ? Unsqueeze(0) : this;
        int n = x._shape[1];
        var xc = x - x.Mean(1, keepDim: true);
        var c = xc.MatMul(xc.MT) * (1.0 / Math.Max(0, n - correction));
        return Rank == 1 ? c.Reshape() : c;
    }

    internal static readonly OpDef CorrcoefOp = new("Corrcoef", OpFamily.Linalg, "corrcoef")
    {
        CompositeOf = ["Cov", "Sqrt", "Div", "Clamp"], Doc = "Pearson correlation coefficients of the rows",
        Samples = () => [new("2-d", [M(1, 3, 6)], t => t[0].Corrcoef())],
    };

    /// <summary>Pearson correlation coefficients of the rows (torch.corrcoef): cov / sqrt(diag ⊗ diag), clipped to [−1, 1].</summary>
    public Tensor Corrcoef()
    {
        var c = Cov();
        if (c.Rank == 0) return c / c;
        var d = c.DiagonalLast().Sqrt();
        return (c / d.Unsqueeze(1) / d.Unsqueeze(0)).Clamp(-1, 1);
    }

    internal static readonly OpDef VanderOp = new("Vander", OpFamily.Linalg, "linalg.vander")
    {
        CompositeOf = ["Mul", "Stack"], Doc = "Vandermonde matrix with increasing powers",
        Samples = () => [new("1-d", [M(1, 4)], t => Vander(t[0])), new("batched N", [M(2, 2, 3)], t => Vander(t[0], 5))],
    };

    /// <summary>The Vandermonde matrix [..., n, N] with columns x⁰, x¹, ..., x^(N−1) (torch.linalg.vander; N defaults to n).</summary>
    public static Tensor Vander(Tensor x, int? n = null)
    {
        x.CheckFloat("Vander");
        if (x.Rank == 0) throw new ShapeMismatchException("Vander: the input must have at least one dimension, got a 0-d tensor.");
        int cols = n ?? x._shape[^1];
        if (cols < 0) throw new ArgumentException($"Vander: N must be non-negative, got {cols}.");
        if (cols == 0) return Zeros([.. x._shape, 0], x.DType);
        var powers = new Tensor[cols];
        powers[0] = OnesLike(x);
        for (int i = 1; i < cols; i++) powers[i] = i == 1 ? x : powers[i - 1] * x;
        return Stack(powers, -1);
    }
    // ---- norms ----

    /// <summary>Re-inserts the reduced dims (sorted, non-negative) as size-1 dims when the result dropped them.</summary>
    private static Tensor KeepReduced(Tensor t, int[] dims, bool keptDims)
    {
        if (keptDims) return t;
        foreach (var d in dims.Order()) t = t.Unsqueeze(d);
        return t;
    }

    private static int[] NormDims(string op, Tensor x, int[]? dims) =>
        dims is null ? [.. Enumerable.Range(0, x.Rank)] : [.. dims.Select(d => ShapeUtil.WrapDim(op, d, x.Rank)).Distinct().Order()];

    /// <summary>1 where x ≠ 0 (NaN included), 0 elsewhere, with a zero derivative: the count behind the 0-"norm".</summary>
    internal static readonly UnaryDef<ZeroD> NonzeroIndicatorOp = new("NonzeroIndicator", Uses.None, null, null)
    {
        Doc = "1 where x != 0 (NaN counts), zero gradient (the 0-norm's count)",
        Batch = c => [NonzeroIndicatorOp!.Record(c.X(0), c.X(0).Detach().Ne(0).To(c.X(0).DType), default)],
        Samples = () => OpSamples.Unary(x => VectorNorm(x, 0) * x, OpSamples.Domain.AwayFromZero),
    };

    internal static readonly OpDef VectorNormOp = new("VectorNorm", OpFamily.Linalg, "linalg.vector_norm", "norm")
    {
        Doc = "vector p-norm over dims (finite p ≠ 0; ±inf via Amax/Amin, 0 as a count)",
        Saves = 1 | OpDef.SaveOutput,
        Batch = c =>
        {
            var (p, dims, keep) = c.A<(double, int[], bool)>();
            return [BatchRules.ReduceOver(c, dims, keep, (x, d, k) => VectorNorm(x, p, d, k))];
        },
        Vjp = (in OpCtx c, Tensor g, int i) =>
        {
            var (p, dims, keep) = c.A<(double, int[], bool)>();
            var x = c.X(0);
            var y = KeepReduced(c.Y, dims, keep);
            var gk = KeepReduced(g, dims, keep);
            var ys = Where(y.Detach().Eq(0), 1.0, y);
            return gk * NormWeight(x, ys, p);
        },
        Jvp = (in OpCtx c, Tensor?[] t) =>
        {
            if (t[0] is not { } tx) return null;
            var (p, dims, keep) = c.A<(double, int[], bool)>();
            var x = c.X(0);
            var y = KeepReduced(c.Y, dims, keep);
            var ys = Where(y.Detach().Eq(0), 1.0, y);
            return (NormWeight(x, ys, p) * tx).Sum(dims, keepDim: keep);
        },
        Samples = () => [new("2, all", [M(1, 3, 4)], x => VectorNorm(x[0])), new("3, dim 1", [M(2, 3, 4)], x => VectorNorm(x[0], 3, [1])),
                         new("1.5 keepdim", [M(3, 2, 3)], x => VectorNorm(x[0], 1.5, [0], keepDim: true)),
                         new("1", [M(4, 5)], x => VectorNorm(x[0], 1), SecondOrder: false), // |x|: the gradient sign(x) has a zero derivative, FD sees none either except at 0
                         new("inf", [M(5, 2, 4)], x => VectorNorm(x[0], double.PositiveInfinity, [-1]))],
    };

    /// <summary>∂‖x‖_p/∂x = sign(x)·|x|^(p−1) / ‖x‖^(p−1) (with the norm's zeros replaced by 1, so a zero vector gets gradient 0 as in PyTorch).</summary>
    private static Tensor NormWeight(Tensor x, Tensor ys, double p) => p switch
    {
        2 => x / ys,
        1 => x.Sign() + ys * 0,
        _ => x.Sign() * x.Abs().Pow(p - 1) / ys.Pow(p - 1),
    };

    /// <summary>
    /// The vector p-norm (Σ|x|^p)^(1/p) over <paramref name="dims"/> (all elements when null) (torch.linalg.vector_norm; also
    /// torch.norm with a numeric p). p = ±inf: max / min |x| (gradient split among ties); p = 0: the count of non-zeros (no
    /// gradient). The gradient at a zero vector is 0, as PyTorch's.
    /// </summary>
    public static Tensor VectorNorm(Tensor x, double ord = 2, int[]? dims = null, bool keepDim = false)
    {
        x.CheckFloat("VectorNorm");
        var d = NormDims("VectorNorm", x, dims);
        if (double.IsPositiveInfinity(ord)) return x.Abs().Amax(d, keepDim);
        if (double.IsNegativeInfinity(ord)) return x.Abs().Amin(d, keepDim);
        if (ord == 0) return NonzeroIndicatorOp.Record(x, x.Detach().Ne(0).To(x.DType), default).Sum(d, keepDim); // zero gradient, as PyTorch
        if (double.IsNaN(ord)) throw new ArgumentException("VectorNorm: ord must not be NaN.");
        var xd = x.Detach();
        Tensor y;
        using (Autograd.NoGrad())
            y = ord == 2 ? (xd * xd).Sum(d, keepDim).Sqrt() : ord == 1 ? xd.Abs().Sum(d, keepDim) : xd.Abs().Pow(ord).Sum(d, keepDim).Pow(1 / ord);
        return Op.Record(VectorNormOp, y.Detach(), [x], (ord, d, keepDim));
    }

    /// <summary>The vector p-norm over dims (torch.norm with a numeric p; see <see cref="VectorNorm"/>).</summary>
    public Tensor Norm(double p = 2, int[]? dims = null, bool keepDim = false) => VectorNorm(this, p, dims, keepDim);

    internal static readonly OpDef MatrixNormOp = new("MatrixNorm", OpFamily.Linalg, "linalg.matrix_norm")
    {
        CompositeOf = ["VectorNorm", "Abs", "Sum", "Max", "Min", "Svd"], Doc = "matrix norms: Frobenius, nuclear, 1, inf, 2 and their negatives",
        Samples = () => [new("fro", [M(1, 2, 3, 4)], x => MatrixNorm(x[0])), new("nuc", [M(2, 3, 4)], x => MatrixNorm(x[0], MatrixNormKind.Nuclear)),
                         new("1", [M(3, 3, 4)], x => MatrixNorm(x[0], MatrixNormKind.One), SecondOrder: false), // |x| inside: see VectorNorm's sample "1"
                         new("-inf", [M(4, 3, 4)], x => MatrixNorm(x[0], MatrixNormKind.NegInf, keepDim: true), SecondOrder: false),
                         new("2", [M(5, 3, 4)], x => MatrixNorm(x[0], MatrixNormKind.Two))],
    };

    /// <summary>
    /// A matrix norm over the last two dims (torch.linalg.matrix_norm): Frobenius (default), nuclear (Σσ), ±1 (max/min
    /// column abs-sum), ±inf (max/min row abs-sum), ±2 (largest/smallest singular value).
    /// </summary>
    public static Tensor MatrixNorm(Tensor a, MatrixNormKind ord = MatrixNormKind.Frobenius, bool keepDim = false)
    {
        a.CheckFloat("MatrixNorm");
        if (a.Rank < 2) throw new ShapeMismatchException($"MatrixNorm: expects matrices [..., m, n], got shape {ShapeUtil.Format(a.Shape)}.");
        Tensor r = ord switch
        {
            MatrixNormKind.Frobenius => VectorNorm(a, 2, [-2, -1]),
            MatrixNormKind.Nuclear => Svdvals(a).Sum(-1),
            MatrixNormKind.Two => Svdvals(a).Amax(-1),
            MatrixNormKind.NegTwo => Svdvals(a).Amin(-1),
            MatrixNormKind.One => a.Abs().Sum(-2).Amax(-1),
            MatrixNormKind.NegOne => a.Abs().Sum(-2).Amin(-1),
            MatrixNormKind.Inf => a.Abs().Sum(-1).Amax(-1),
            MatrixNormKind.NegInf => a.Abs().Sum(-1).Amin(-1),
            _ => throw new ArgumentOutOfRangeException(nameof(ord)),
        };
        return keepDim ? r.Unsqueeze(-1).Unsqueeze(-1) : r;
    }

    internal static readonly OpDef LinalgNormOp = new("LinalgNorm", OpFamily.Linalg, "linalg.norm")
    {
        CompositeOf = ["VectorNorm", "MatrixNorm"], Doc = "vector or matrix norm by the shape of the call",
        Samples = () => [new("default", [M(1, 3, 4)], x => LinalgNorm(x[0])), new("matrix 2", [M(2, 3, 4)], x => LinalgNorm(x[0], 2))],
    };

    /// <summary>
    /// torch.linalg.norm with a numeric or absent ord: ord null → the 2-norm of all elements (over <paramref name="dims"/> when given);
    /// with ord, a 1-D input (or one dim) gets the vector norm and a 2-D input (or two dims, the last two) the matrix norm of that
    /// order (±1, ±2, ±inf). Frobenius / nuclear: <see cref="MatrixNorm"/>.
    /// </summary>
    public static Tensor LinalgNorm(Tensor x, double? ord = null, int[]? dims = null, bool keepDim = false)
    {
        x.CheckFloat("LinalgNorm");
        if (ord is null) return VectorNorm(x, 2, dims, keepDim);
        bool matrix = dims is { Length: 2 } || (dims is null && x.Rank == 2);
        if (!matrix)
        {
            if (dims is null && x.Rank != 1) throw new ShapeMismatchException($"LinalgNorm: with ord and no dims the input must be 1-D or 2-D, got shape {ShapeUtil.Format(x.Shape)}.");
            return VectorNorm(x, ord.Value, dims, keepDim);
        }
        if (dims is not null && !(ShapeUtil.WrapDim("LinalgNorm", dims[0], x.Rank) == x.Rank - 2 && ShapeUtil.WrapDim("LinalgNorm", dims[1], x.Rank) == x.Rank - 1))
            throw new ArgumentException($"LinalgNorm: matrix norms are computed over the last two dims; move the dims {string.Join(", ", dims)} there with Permute first.");
        var kind = ord.Value switch
        {
            1 => MatrixNormKind.One, -1 => MatrixNormKind.NegOne, 2 => MatrixNormKind.Two, -2 => MatrixNormKind.NegTwo,
            double.PositiveInfinity => MatrixNormKind.Inf, double.NegativeInfinity => MatrixNormKind.NegInf,
            _ => throw new ArgumentException($"LinalgNorm: ord {ord} is not a matrix norm order (use ±1, ±2, ±inf, or MatrixNorm for Frobenius/nuclear)."),
        };
        return MatrixNorm(x, kind, keepDim);
    }

    internal static readonly OpDef CondOp = new("Cond", OpFamily.Linalg, "linalg.cond")
    {
        CompositeOf = ["Svd", "Div", "MatrixNorm", "Inv"], Doc = "condition number",
        Samples = () => [new("2", [M(1, 3, 3)], x => Cond(x[0])), new("fro", [WellConditioned(2, 3)], x => Cond(x[0], MatrixNormKind.Frobenius))],
    };

    /// <summary>The condition number of each matrix (torch.linalg.cond): σ_max/σ_min for the 2-norm (default; any shape), −2: σ_min/σ_max, other kinds ‖A‖·‖A⁻¹‖ (square, invertible).</summary>
    public static Tensor Cond(Tensor a, MatrixNormKind ord = MatrixNormKind.Two)
    {
        a.CheckFloat("Cond");
        if (ord is MatrixNormKind.Two or MatrixNormKind.NegTwo)
        {
            var s = Svdvals(a);
            var big = s.Narrow(-1, 0, 1).Squeeze(-1);
            var small = s.Narrow(-1, s._shape[^1] - 1, 1).Squeeze(-1);
            return ord == MatrixNormKind.Two ? big / small : small / big;
        }
        return MatrixNorm(a, ord) * MatrixNorm(Inv(a), ord);
    }
}

/// <summary>Which matrix norm <see cref="Tensor.MatrixNorm"/> computes (PyTorch's ord values in brackets).</summary>
public enum MatrixNormKind
{
    /// <summary>sqrt(Σ a²) ['fro'].</summary>
    Frobenius,
    /// <summary>Σσ, the sum of the singular values ['nuc'].</summary>
    Nuclear,
    /// <summary>Largest row abs-sum [inf].</summary>
    Inf,
    /// <summary>Smallest row abs-sum [-inf].</summary>
    NegInf,
    /// <summary>Largest column abs-sum [1].</summary>
    One,
    /// <summary>Smallest column abs-sum [-1].</summary>
    NegOne,
    /// <summary>Largest singular value [2].</summary>
    Two,
    /// <summary>Smallest singular value [-2].</summary>
    NegTwo,
}
