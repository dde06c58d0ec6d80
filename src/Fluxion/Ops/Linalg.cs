using System.Numerics;
using Fluxion.Kernels;

namespace Fluxion;

// Matrix products. MatMul follows torch.matmul: 1-D operands are promoted (and the added dim
// removed afterwards), batch dims broadcast. The primitive is a batched product of equal batch
// shapes; its VJP is written with MatMul itself, so it differentiates to any order.
public partial class Tensor
{
    /// <summary>Matrix product with PyTorch's rules: dot for 1-D·1-D, matrix-vector, batched and broadcast products.</summary>
    public Tensor MatMul(Tensor other) => MatMul(this, other);

    /// <summary>Matrix product with PyTorch's rules (see the instance overload).</summary>
    public static Tensor MatMul(Tensor a, Tensor b)
    {
        a.CheckFloat("MatMul");
        b.CheckFloat("MatMul");
        CheckSameDType("MatMul", a, b);
        if (a.Rank == 0 || b.Rank == 0)
            throw new ShapeMismatchException($"MatMul: both operands need at least one dimension, got shapes {ShapeUtil.Format(a.Shape)} and {ShapeUtil.Format(b.Shape)}. Use Mul (*) for scalars.");
        if (a.Rank == 1 && b.Rank == 1)
        {
            CheckInner(a, b, a._shape[0], b._shape[0]);
            return MatMul(a.Unsqueeze(0), b.Unsqueeze(1)).Reshape();
        }
        if (a.Rank == 1) return MatMul(a.Unsqueeze(0), b).Squeeze(-2);
        if (b.Rank == 1) return MatMul(a, b.Unsqueeze(1)).Squeeze(-1);
        CheckInner(a, b, a._shape[^1], b._shape[^2]);
        if (b.Rank == 2 && a.Rank > 2 && a.ViewStrides([ShapeUtil.Numel(a._shape[..^1]), a._shape[^1]]) is not null)
        {
            // fold a's batch dims into rows (a view, no copy): one large 2-D product instead of many small ones.
            // Layouts that cannot be folded without a copy (e.g. a batched .MT) take the batched path below.
            var lead = a._shape[..^1];
            var r = MatMul2(a.Reshape(ShapeUtil.Numel(lead), a._shape[^1]), b); // explicit rows: -1 is ambiguous for an empty inner dim
            return r.Reshape([.. lead, b._shape[^1]]);
        }
        if (a.Rank == 2 && b.Rank == 2) return MatMul2(a, b);
        var batch = ShapeUtil.Broadcast($"MatMul (batch dims of {ShapeUtil.Format(a.Shape)} and {ShapeUtil.Format(b.Shape)})", a._shape[..^2], b._shape[..^2]);
        var ae = a.Expand([.. batch, a._shape[^2], a._shape[^1]]);
        var be = b.Expand([.. batch, b._shape[^2], b._shape[^1]]);
        return BatchedMatMul(ae, be);
    }

    private static void CheckInner(Tensor a, Tensor b, int ka, int kb)
    {
        if (ka != kb)
            throw new ShapeMismatchException(
                $"MatMul: shapes {ShapeUtil.Format(a.Shape)} and {ShapeUtil.Format(b.Shape)} cannot be multiplied: the inner dimensions differ ({ka} vs {kb}). " +
                "The last dim of the first operand must equal the second-to-last dim of the second (transpose one with .MT or .T?).");
    }

    /// <summary>The 2-D primitive. Any strided layout (transposed, sliced, stepped) goes to the kernel as is:
    /// the GEMM absorbs the strides while packing, so no dense copy is made.</summary>
    private static Tensor MatMul2(Tensor a, Tensor b)
    {
        int m = a._shape[0], k = a._shape[1], n = b._shape[1];
        var y = Empty([m, n], a.DType);
        if (a.DType == DType.Float32)
            Gemm.MatMul(a.Storage.As<float>(), a.Offset, a._strides[0], a._strides[1],
                        b.Storage.As<float>(), b.Offset, b._strides[0], b._strides[1], y.Storage.As<float>(), 0, m, k, n);
        else
            Gemm.MatMul(a.Storage.As<double>(), a.Offset, a._strides[0], a._strides[1],
                        b.Storage.As<double>(), b.Offset, b._strides[0], b._strides[1], y.Storage.As<double>(), 0, m, k, n);
        return RecordMatMul(y, a, b);
    }

    /// <summary>The batched primitive: equal batch shapes [..., m, k]·[..., k, n]. Operands may be strided or
    /// broadcast (stride-0 batch dims from Expand); each matrix is read in place.</summary>
    private static Tensor BatchedMatMul(Tensor a, Tensor b)
    {
        var batch = a._shape[..^2];
        int m = a._shape[^2], k = a._shape[^1], n = b._shape[^1];
        int nb = ShapeUtil.Numel(batch);
        var y = Empty([.. batch, m, n], a.DType);
        if (nb > 0)
        {
            var aOffs = BatchOffsets(a, batch);
            var bOffs = BatchOffsets(b, batch);
            if (a.DType == DType.Float32)
                Gemm.MatMulBatched(a.Storage.As<float>(), aOffs, a._strides[^2], a._strides[^1],
                                   b.Storage.As<float>(), bOffs, b._strides[^2], b._strides[^1], y.Storage.As<float>(), 0, m, k, n, nb);
            else
                Gemm.MatMulBatched(a.Storage.As<double>(), aOffs, a._strides[^2], a._strides[^1],
                                   b.Storage.As<double>(), bOffs, b._strides[^2], b._strides[^1], y.Storage.As<double>(), 0, m, k, n, nb);
        }
        return RecordMatMul(y, a, b);
    }

    /// <summary>Storage offset of each matrix of <paramref name="t"/> over its leading (batch) dims, in row-major batch order.</summary>
    private static int[] BatchOffsets(Tensor t, int[] batch)
    {
        var offs = new int[ShapeUtil.Numel(batch)];
        var idx = new int[batch.Length];
        int off = t.Offset;
        for (int i = 0; i < offs.Length; i++)
        {
            offs[i] = off;
            for (int d = batch.Length - 1; d >= 0; d--)
            {
                off += t._strides[d];
                if (++idx[d] < batch[d]) break;
                off -= t._strides[d] * batch[d];
                idx[d] = 0;
            }
        }
        return offs;
    }

    private static Tensor RecordMatMul(Tensor y, Tensor a, Tensor b) => Op.Tracking(a, b) ? Op.Record(MatMulOp, y, [a, b]) : y;

    // the 2-D and batched primitive (equal batch shapes); each input's gradient reads the other input only
    internal static readonly OpDef MatMulOp = new("MatMul", OpFamily.Linalg, "matmul")
    {
        Vjp = (in OpCtx c, Tensor g, int i) => i == 0 ? g.MatMul(c.X(1).MT) : c.X(0).MT.MatMul(g),
        Jvp = (in OpCtx c, Tensor?[] t) => AddTangents(t[0]?.MatMul(c.X(1)), t[1] is { } tb ? c.X(0).MatMul(tb) : null),
        BatchedJvp = true,
        Batch = c => [BatchRules.MatMul(c.X(0), c.Batched[0], c.X(1), c.Batched[1], c.B)],
        SavesFor = x => x[0].RequiresGrad && x[1].RequiresGrad ? 3u : x[0].RequiresGrad ? 2u : 1u,
        Samples = () =>
        [
            new("2-d", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 4), OpSamples.Make(OpSamples.Domain.Real, 2, 4, 2)], t => MatMul(t[0], t[1])),
            new("batched, broadcast", [OpSamples.Make(OpSamples.Domain.Real, 3, 2, 1, 3, 4), OpSamples.Make(OpSamples.Domain.Real, 4, 3, 4, 2)], t => MatMul(t[0], t[1])),
            new("folded batch", [OpSamples.Make(OpSamples.Domain.Real, 5, 2, 3, 4), OpSamples.Make(OpSamples.Domain.Real, 6, 4, 2)], t => MatMul(t[0], t[1])),
            new("vector·vector", [OpSamples.Make(OpSamples.Domain.Real, 7, 4), OpSamples.Make(OpSamples.Domain.Real, 8, 4)], t => MatMul(t[0], t[1])),
            new("matrix·vector", [OpSamples.Make(OpSamples.Domain.Real, 9, 3, 4), OpSamples.Make(OpSamples.Domain.Real, 10, 4)], t => MatMul(t[0], t[1])),
            new("vector·batched matrix", [OpSamples.Make(OpSamples.Domain.Real, 15, 3), OpSamples.Make(OpSamples.Domain.Real, 16, 2, 3, 4)], t => MatMul(t[0], t[1])),
            new("noncontiguous", [OpSamples.Make(OpSamples.Domain.Real, 11, 4, 3).T, OpSamples.Make(OpSamples.Domain.Real, 12, 2, 4).T], t => MatMul(t[0], t[1])),
            new("empty inner", [OpSamples.Make(OpSamples.Domain.Real, 13, 3, 0), OpSamples.Make(OpSamples.Domain.Real, 14, 0, 2)], t => MatMul(t[0], t[1])),
        ],
    };

    /// <summary>
    /// Affine map y = x·Wᵀ + b (PyTorch's <c>F.linear</c>) as one fused op: the output is initialized with
    /// the bias rows and the GEMM accumulates into it (addmm), so no separate bias-add pass or temporary.
    /// <paramref name="input"/> is [..., in] (any leading dims, or 1-D [in]), <paramref name="weight"/>
    /// [out, in], <paramref name="bias"/> [out] or null; the result is [..., out]. Any strided layout is
    /// read in place. VJPs: ∂x = g·W, ∂W = gᵀ·x (rows flattened), ∂b = Σ_rows g.
    /// </summary>
    public static Tensor Linear(Tensor input, Tensor weight, Tensor? bias = null) => LinearCore("Linear", input, weight, bias, relu: false);

    /// <summary>
    /// relu(x·Wᵀ + b) fused: the addmm of <see cref="Linear(Tensor, Tensor, Tensor?)"/> followed by an in-place
    /// ReLU on the output (no pre-activation tensor is kept). The backward masks the gradient once
    /// (<see cref="ReluMask"/>) and feeds it to the three products of Linear's backward.
    /// </summary>
    internal static Tensor LinearRelu(Tensor input, Tensor weight, Tensor? bias) => LinearCore("LinearRelu", input, weight, bias, relu: true);

    private static Tensor LinearCore(string name, Tensor input, Tensor weight, Tensor? bias, bool relu)
    {
        input.CheckFloat(name);
        weight.CheckFloat(name);
        CheckSameDType(name, input, weight);
        if (weight.Rank != 2)
            throw new ShapeMismatchException($"{name}: weight must be 2-D [out, in], got shape {ShapeUtil.Format(weight.Shape)}.");
        int outF = weight._shape[0], inF = weight._shape[1];
        if (input.Rank == 0 || input._shape[^1] != inF)
            throw new ShapeMismatchException($"{name}: the input's last dim must equal the weight's in-features {inF} (weight {ShapeUtil.Format(weight.Shape)}), but the input has shape {ShapeUtil.Format(input.Shape)}.");
        if (bias is not null)
        {
            bias.CheckFloat(name);
            CheckSameDType(name, input, bias);
            if (bias.Rank != 1 || bias._shape[0] != outF)
                throw new ShapeMismatchException($"{name}: bias must have shape [{outF}] (one entry per output feature), got {ShapeUtil.Format(bias.Shape)}.");
        }
        var lead = input._shape[..^1];
        int rows = ShapeUtil.Numel(lead);
        // the input as a [rows, in] matrix without copying: its row stride (any layout for rank <= 2)
        int rowStride, colStride = input._strides[^1];
        if (input.Rank == 1) rowStride = 0;
        else if (input.Rank == 2) rowStride = input._strides[0];
        else if (input.ViewStrides([rows, inF]) is { } vs) { rowStride = vs[0]; colStride = vs[1]; }
        else
        {
            // leading dims that do not fold into one (e.g. a permuted batch): the unfused composition
            var z = input.MatMul(weight.MT);
            if (bias is not null) z += bias;
            return relu ? z.Relu() : z;
        }
        var y = Empty([.. lead, outF], input.DType);
        if (input.DType == DType.Float32) LinearForward<float>(input, rowStride, colStride, weight, bias, y, rows, inF, outF, relu);
        else LinearForward<double>(input, rowStride, colStride, weight, bias, y, rows, inF, outF, relu);

        Tensor[] inputs = bias is null ? [input, weight] : [input, weight, bias];
        return Op.Tracking(inputs) ? Op.Record(relu ? LinearReluOp : LinearOp, y, inputs) : y;
    }

    /// <summary>A [..., width] tensor as [rows, width] (a view when possible).</summary>
    private static Tensor Rows(Tensor t, int width) => t.Rank == 2 ? t : t.Reshape(-1, width);

    /// <summary>Linear's VJP for input <paramref name="i"/> (x, W, b) given the (for ReLU: already masked) output gradient z.</summary>
    private static Tensor LinearVjp(in OpCtx c, Tensor z, int i)
    {
        var w = c.Shape(1);
        return i switch
        {
            0 => z.MatMul(c.X(1)),
            1 => Rows(z, w[0]).MT.MatMul(Rows(c.X(0), w[1])),
            _ => Rows(z, w[0]).Sum(0),
        };
    }

    /// <summary>The bias of a Linear call (input 2), or null.</summary>
    private static Tensor? LinearBias(in OpCtx c) => c.Inputs.Length > 2 ? c.X(2) : null;

    // inputs x, W and optionally b; the shapes come from them, so no attributes. VJPs: ∂x = g·W, ∂W = gᵀ·x, ∂b = Σ_rows g.
    internal static readonly OpDef LinearOp = new("Linear", OpFamily.NN, "nn.functional.linear")
    {
        Vjp = LinearVjp,
        Jvp = (in OpCtx c, Tensor?[] t) => LinearTangent(t, c.X(0), c.X(1), LinearBias(c), c.Y, relu: false),
        BatchedJvp = true, Saves = 3u,
        Batch = c => [LinearBatch(c, relu: false)],
        Samples = () => LinearSamples(Linear),
    };

    // ReLU: the masked gradient is computed once and shared by the three VJPs
    internal static readonly OpDef LinearReluOp = new("LinearRelu", OpFamily.Fused)
    {
        VjpAll = (in OpCtx c, Tensor[] gs, bool[] needs) =>
        {
            var z = ReluMask(gs[0], c.Y);
            var r = new Tensor?[needs.Length];
            for (int i = 0; i < needs.Length; i++)
                if (needs[i]) r[i] = LinearVjp(c, z, i);
            return r;
        },
        Jvp = (in OpCtx c, Tensor?[] t) => LinearTangent(t, c.X(0), c.X(1), LinearBias(c), c.Y, relu: true),
        BatchedJvp = true, Saves = 3u | OpDef.SaveOutput,
        Batch = c => [LinearBatch(c, relu: true)],
        Samples = () => LinearSamples(LinearRelu),
    };

    /// <summary>Linear's batching rule: one fused call when only the input is batched (the examples are rows),
    /// otherwise per-example weights (ensembles) through a batched matrix product.</summary>
    private static Tensor LinearBatch(BatchCtx c, bool relu)
    {
        bool hasBias = c.In.Length > 2;
        if (!c.Batched[1] && !(hasBias && c.Batched[2]))
            return relu ? LinearRelu(c.X(0), c.X(1), hasBias ? c.X(2) : null) : Linear(c.X(0), c.X(1), hasBias ? c.X(2) : null);
        var z = BatchRules.MatMul(c.X(0), c.Batched[0], c.X(1).MT, c.Batched[1], c.B);
        if (hasBias)
        {
            int r = Math.Max(c.Rank(0), 1);
            z += c.Batched[2] ? BatchRules.PadBatched(c.X(2), r) : c.X(2);
        }
        return relu ? z.Relu() : z;
    }

    private static IEnumerable<OpSample> LinearSamples(Func<Tensor, Tensor, Tensor?, Tensor> f)
    {
        yield return new("bias", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 4), OpSamples.Make(OpSamples.Domain.Real, 2, 5, 4), OpSamples.Make(OpSamples.Domain.Real, 3, 5)], t => f(t[0], t[1], t[2]));
        yield return new("no bias, 3-d input", [OpSamples.Make(OpSamples.Domain.Real, 4, 2, 3, 4), OpSamples.Make(OpSamples.Domain.Real, 5, 5, 4)], t => f(t[0], t[1], null));
        yield return new("1-d input", [OpSamples.Make(OpSamples.Domain.Real, 6, 4), OpSamples.Make(OpSamples.Domain.Real, 7, 3, 4), OpSamples.Make(OpSamples.Domain.Real, 8, 3)], t => f(t[0], t[1], t[2]));
        yield return new("noncontiguous", [OpSamples.Make(OpSamples.Domain.Real, 9, 4, 3).T, OpSamples.Make(OpSamples.Domain.Real, 10, 4, 5).T], t => f(t[0], t[1], null));
    }

    /// <summary>Linear's JVP: t_x·Wᵀ + x·t_Wᵀ + t_b (then masked by the output for ReLU), for ordinary and vector-mode tangents.</summary>
    private static Tensor? LinearTangent(Tensor?[] t, Tensor x, Tensor w, Tensor? bias, Tensor y, bool relu)
    {
        Tensor? tx = t[0], tw = t[1], tb = t.Length > 2 ? t[2] : null;
        int[] prefix = tx is not null ? TangentBatchShape(tx, x) : tw is not null ? TangentBatchShape(tw, w) : tb is not null ? TangentBatchShape(tb, bias!) : [];
        Tensor? tz = tx?.MatMul(w.MT);
        if (tw is not null)
        {
            if (prefix.Length == 0) tz = AddTangents(tz, x.MatMul(tw.MT));
            else
            {
                // [k, rows, out] from the flattened input, then the input's leading dims back
                var x2 = x.Rank == 2 ? x : x.Reshape(-1, w._shape[1]);
                var p = x2.MatMul(tw.MT);
                tz = AddTangents(tz, p.Reshape([.. prefix, .. y._shape]));
            }
        }
        if (tb is not null) tz = AddTangents(tz, AlignTangent(tb, bias!, y.Rank));
        if (tz is null) return null;
        int[] want = [.. prefix, .. y._shape];
        if (!ShapeUtil.SameShape(tz._shape, want)) tz = tz.Expand(want);
        return relu ? ReluMask(tz, y) : tz;
    }

    private static void LinearForward<T>(Tensor x, int rowStride, int colStride, Tensor w, Tensor? b, Tensor y, int rows, int inF, int outF, bool relu)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var dst = y.Storage.As<T>();
        if (b is not null) Elementwise.FillRows(b.DenseSpan<T>(), dst.AsSpan(0, rows * outF), rows, outF);
        // B = Wᵀ read in place: element (p, j) of B is W[j, p]
        Gemm.MatMul(x.Storage.As<T>(), x.Offset, rowStride, colStride,
                    w.Storage.As<T>(), w.Offset, w._strides[1], w._strides[0], dst, 0, rows, inF, outF, accumulate: b is not null);
        if (relu) Elementwise.ReluInPlace(dst.AsSpan(0, rows * outF));
    }

    /// <summary>The storage array when this tensor is contiguous (with its offset), else a dense copy at offset 0.</summary>
    internal Array DenseSpanArray(out int offset)
    {
        if (IsContiguous)
        {
            offset = Offset;
            return Storage.RawData;
        }
        offset = 0;
        return DType switch
        {
            DType.Float32 => DenseSpan<float>().ToArray(),
            DType.Float64 => DenseSpan<double>().ToArray(),
            DType.Int64 => DenseSpan<long>().ToArray(),
            _ => DenseSpan<bool>().ToArray(),
        };
    }
}
