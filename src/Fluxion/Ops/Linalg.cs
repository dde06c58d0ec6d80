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
            var r = MatMul2(a.Reshape(-1, a._shape[^1]), b);
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

    private static Tensor RecordMatMul(Tensor y, Tensor a, Tensor b)
    {
        if (!Op.Tracking(a, b)) return y;
        Tensor[] save = a.RequiresGrad && b.RequiresGrad ? [a, b] : a.RequiresGrad ? [b] : [a];
        return Op.Record("MatMul", y, [a, b],
            [g => g.MatMul(b.MT), g => a.MT.MatMul(g)],
            jvp: t => AddTangents(t[0]?.MatMul(b), t[1] is { } tb ? a.MatMul(tb) : null),
            save: save, batchedJvp: true);
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
