using Fluxion.Kernels;

namespace Fluxion;

// Pairwise primitives. Cdist computes distances with a fused kernel (no [P, R, M] difference tensor);
// its VJP and JVP are written with matrix products, so they stay O(P·R + (P + R)·M) in memory too.
public partial class Tensor
{
    /// <summary>
    /// Pairwise Euclidean distances between the rows of <paramref name="x1"/> [..., P, M] and
    /// <paramref name="x2"/> [..., R, M]: the result is [..., P, R] with batch dims broadcast.
    /// Where a distance is 0 its gradient is 0 (as PyTorch's <c>cdist</c>).
    /// </summary>
    public static Tensor Cdist(Tensor x1, Tensor x2)
    {
        x1.CheckFloat("Cdist");
        x2.CheckFloat("Cdist");
        CheckSameDType("Cdist", x1, x2);
        if (x1.Rank < 2 || x2.Rank < 2)
            throw new ShapeMismatchException($"Cdist: both inputs need at least 2 dims ([..., P, M] and [..., R, M]), got shapes {ShapeUtil.Format(x1.Shape)} and {ShapeUtil.Format(x2.Shape)}. Unsqueeze(0) a single point set.");
        if (x1._shape[^1] != x2._shape[^1])
            throw new ShapeMismatchException($"Cdist: the points have different sizes, {x1._shape[^1]} in {ShapeUtil.Format(x1.Shape)} and {x2._shape[^1]} in {ShapeUtil.Format(x2.Shape)}; the last dims must match.");
        var batch = ShapeUtil.Broadcast("Cdist", x1._shape[..^2], x2._shape[..^2]);
        var a = ShapeUtil.SameShape(x1._shape[..^2], batch) ? x1 : x1.Expand([.. batch, x1._shape[^2], x1._shape[^1]]);
        var b = ShapeUtil.SameShape(x2._shape[..^2], batch) ? x2 : x2.Expand([.. batch, x2._shape[^2], x2._shape[^1]]);
        return CdistCore(a, b, batch);
    }

    /// <summary>The primitive over equal batch shapes.</summary>
    private static Tensor CdistCore(Tensor a, Tensor b, int[] batch)
    {
        int p = a._shape[^2], r = b._shape[^2], m = a._shape[^1];
        int nb = ShapeUtil.Numel(batch);
        var y = Empty([.. batch, p, r], a.DType);
        var ad = a.DenseSpanArray(out int aOff);
        var bd = b.DenseSpanArray(out int bOff);
        if (a.DType == DType.Float32) Pairwise.EuclideanDistance((float[])ad, aOff, (float[])bd, bOff, y.Storage.As<float>(), nb, p, r, m);
        else Pairwise.EuclideanDistance((double[])ad, aOff, (double[])bd, bOff, y.Storage.As<double>(), nb, p, r, m);
        return Op.Tracking(a, b) ? Op.Record(CdistOp, y, [a, b]) : y;
    }

    // 1/d, and 0 where d = 0; the inner Where keeps the division finite so higher orders stay finite
    private static Tensor CdistInvD(in OpCtx c)
    {
        var zero = c.Y.Eq(0.0);
        return Where(zero, 0.0, 1.0 / Where(zero, 1.0, c.Y));
    }

    // ∂d[p,r]/∂a[p,:] = (a[p] − b[r]) / d, so with G = g/d:
    // grad a = a · Σ_r G − G b,  grad b = b · Σ_p G − Gᵀ a. Written with broadcasting ops: a [k] tangent prefix rides along.
    internal static readonly OpDef CdistOp = new("Cdist", OpFamily.ShapeIndexCreateOther, "cdist")
    {
        // recorded on point sets broadcast to one batch shape: so are their batched forms
        Batch = c => [Cdist(c.Materialize(0), c.Materialize(1))],
        Vjp = (in OpCtx c, Tensor g, int i) =>
        {
            Tensor a = c.X(0), b = c.X(1), gd = g * CdistInvD(c);
            return i == 0 ? a * gd.Sum(-1, keepDim: true) - gd.MatMul(b) : b * gd.Sum(-2).Unsqueeze(-1) - gd.MT.MatMul(a);
        },
        Jvp = (in OpCtx c, Tensor?[] t) =>
        {
            // Σ_m (ta[p] − tb[r])·(a[p] − b[r]) expanded into row dots and matrix products
            Tensor a = c.X(0), b = c.X(1);
            Tensor? num = null;
            if (t[0] is { } ta) num = (ta * a).Sum(-1, keepDim: true) - ta.MatMul(b.MT);
            if (t[1] is { } tb) num = AddTangents(num, (tb * b).Sum(-1).Unsqueeze(-2) - a.MatMul(tb.MT));
            return num is null ? null : num * CdistInvD(c);
        },
        BatchedJvp = true, Saves = 3u | OpDef.SaveOutput,
        Samples = () =>
        [
            new("2-d", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 2), OpSamples.Make(OpSamples.Domain.Real, 2, 4, 2)], t => Cdist(t[0], t[1])),
            new("batch broadcast", [OpSamples.Make(OpSamples.Domain.Real, 3, 2, 3, 3), OpSamples.Make(OpSamples.Domain.Real, 4, 1, 2, 3)], t => Cdist(t[0], t[1])),
            new("noncontiguous", [OpSamples.Make(OpSamples.Domain.Real, 5, 2, 3).T, OpSamples.Make(OpSamples.Domain.Real, 6, 2, 2).T], t => Cdist(t[0], t[1])),
        ],
    };
}
