using System.Numerics.Tensors;
using Fluxion.Kernels;

namespace Fluxion;

// Neural-network primitives with fused kernels: each op's forward, VJP and JVP side by side.
public partial class Tensor
{
    /// <summary>
    /// Softmax along <paramref name="dim"/>: exp(x − max) / Σ exp(x − max), so large inputs do not
    /// overflow. A slice that is all -inf gives NaN (as PyTorch). VJP: y·(g − Σ g·y).
    /// </summary>
    public Tensor Softmax(int dim)
    {
        var (y, d) = SoftmaxRaw("Softmax", dim, log: false);
        return Op.Tracking(this) ? Op.Record(SoftmaxOp, y, [this], d) : y;
    }

    internal static readonly FusedDef SoftmaxOp = new("Softmax", OpFamily.ReduceScanSort, "softmax")
    {
        FirstOrder = (in OpCtx c, Tensor[] gs, bool[] needs) => SoftmaxGradRaw(gs[0], c.Y, c.A<int>(), log: false) is { } r ? [r] : null,
        FusedDoc = "one pass per row along the last dim (first-order passes)",
        Vjp = (in OpCtx c, Tensor g, int i) => c.Y * (g - (g * c.Y).Sum(c.A<int>(), keepDim: true)),
        Jvp = (in OpCtx c, Tensor?[] t) => t[0] is { } tx ? c.Y * (tx - (tx * c.Y).Sum(c.A<int>() + TangentBatchDims(tx, c.X(0)), keepDim: true)) : null,
        BatchedJvp = true, Saves = OpDef.SaveOutput,
        Batch = BatchRules.AlongDim((x, d) => x.Softmax(d)),
        Samples = () => SoftmaxSamples(x => x.Softmax(-1), x => x.Softmax(0)),
    };

    /// <summary>Samples of a softmax-like op: along the last and the first dim, a transposed view, 1-d and empty rows.</summary>
    private static IEnumerable<OpSample> SoftmaxSamples(Func<Tensor, Tensor> last, Func<Tensor, Tensor> first)
    {
        yield return new("dim -1", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 4)], t => last(t[0]));
        yield return new("dim 0", [OpSamples.Make(OpSamples.Domain.Real, 2, 3, 2, 2)], t => first(t[0]));
        yield return new("noncontiguous", [OpSamples.Make(OpSamples.Domain.Real, 3, 4, 3).T], t => last(t[0]));
        yield return new("1-d", [OpSamples.Make(OpSamples.Domain.Real, 4, 5)], t => first(t[0]));
        yield return new("empty", [OpSamples.Make(OpSamples.Domain.Real, 5, 0, 3)], t => last(t[0]));
    }

    /// <summary>
    /// Log-softmax along <paramref name="dim"/>: (x − max) − log Σ exp(x − max), stable for large
    /// inputs. VJP: g − exp(y)·Σ g.
    /// </summary>
    public Tensor LogSoftmax(int dim)
    {
        var (y, d) = SoftmaxRaw("LogSoftmax", dim, log: true);
        return Op.Tracking(this) ? Op.Record(LogSoftmaxOp, y, [this], d) : y;
    }

    internal static readonly FusedDef LogSoftmaxOp = new("LogSoftmax", OpFamily.ReduceScanSort, "log_softmax")
    {
        FirstOrder = (in OpCtx c, Tensor[] gs, bool[] needs) => SoftmaxGradRaw(gs[0], c.Y, c.A<int>(), log: true) is { } r ? [r] : null,
        FusedDoc = "one pass per row along the last dim (first-order passes)",
        Vjp = (in OpCtx c, Tensor g, int i) => g - c.Y.Exp() * g.Sum(c.A<int>(), keepDim: true),
        Jvp = (in OpCtx c, Tensor?[] t) => t[0] is { } tx ? tx - (c.Y.Exp() * tx).Sum(c.A<int>() + TangentBatchDims(tx, c.X(0)), keepDim: true) : null,
        BatchedJvp = true, Saves = OpDef.SaveOutput,
        Batch = BatchRules.AlongDim((x, d) => x.LogSoftmax(d)),
        Samples = () => SoftmaxSamples(x => x.LogSoftmax(-1), x => x.LogSoftmax(0)),
    };

    /// <summary>
    /// ReLU's backward as one fused op (PyTorch's <c>threshold_backward(g, y, 0)</c>): g where
    /// <paramref name="y"/> &gt; 0, else 0, with <paramref name="y"/> broadcast to g's shape. A select, not a
    /// product: a non-finite g where the unit is off still gives 0. <paramref name="y"/> is only a mask
    /// (its derivative is zero almost everywhere, so it gets no gradient); the op is linear in g, so its
    /// VJP and its JVP are the op itself and it differentiates to any order.
    /// </summary>
    internal static Tensor ReluMask(Tensor g, Tensor y)
    {
        const string name = "ThresholdBackward";
        g.CheckFloat(name);
        CheckSameDType(name, g, y);
        var shape = ShapeUtil.Broadcast(name, g._shape, y._shape);
        if (!ShapeUtil.SameShape(shape, g._shape))
            throw new ShapeMismatchException($"{name}: the mask of shape {ShapeUtil.Format(y.Shape)} must broadcast to the gradient's shape {ShapeUtil.Format(g.Shape)}.");
        var r = EmptyLike(g);
        // the mask as a raw (unrecorded) view broadcast to g's shape; dense spans of both, the storage itself when contiguous
        var yb = ShapeUtil.SameShape(y._shape, g._shape) ? y : new Tensor(y.Storage, g._shape, BroadcastStrides(y, g._shape), y.Offset);
        if (g.DType == DType.Float32) Elementwise.ReluMask(g.DenseSpan<float>(), yb.DenseSpan<float>(), r.Storage.As<float>().AsSpan(0, r.Numel));
        else Elementwise.ReluMask(g.DenseSpan<double>(), yb.DenseSpan<double>(), r.Storage.As<double>().AsSpan(0, r.Numel));
        return Op.Tracking(g, y) ? Op.Record(ThresholdBackwardOp, r, [g, y]) : r;
    }

    // linear in g (input 0), so its VJP and JVP are the op itself; the mask y (input 1, saved) gets no gradient
    internal static readonly OpDef ThresholdBackwardOp = new("ThresholdBackward", OpFamily.NN)
    {
        Vjp = (in OpCtx c, Tensor g, int i) => i == 0 ? ReluMask(g, c.X(1)) : null,
        Jvp = (in OpCtx c, Tensor?[] t) => t[0] is { } tg ? ReluMask(tg, c.X(1)) : null,
        BatchedJvp = true, Saves = 2u,
        Batch = c =>
        {
            // the mask must broadcast to the gradient's shape: give the gradient the batch dim first
            int r = c.MaxRank();
            var g = c.Materialize(0);
            return [ReluMask(BatchRules.PadBatched(g, r), c.Aligned(1, r))];
        },
        Samples = () =>
        [
            new("same shape", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 4)], t => ReluMask(t[0], OpSamples.Make(OpSamples.Domain.Real, 2, 3, 4))),
            new("broadcast mask", [OpSamples.Make(OpSamples.Domain.Real, 3, 3, 4)], t => ReluMask(t[0], OpSamples.Make(OpSamples.Domain.Real, 4, 1, 4))),
            new("noncontiguous", [OpSamples.Make(OpSamples.Domain.Real, 5, 4, 3).T], t => ReluMask(t[0], OpSamples.Make(OpSamples.Domain.Real, 6, 3, 4))),
        ],
    };

    /// <summary>
    /// Cross entropy of logits [N, C] against int64 class indices [N] in one fused op (log-softmax and the
    /// pick of the target's log-probability in a single pass per row, no [N, C] temporaries), as
    /// <c>F.cross_entropy</c> without class weights or label smoothing: loss_i = −log softmax(x_i)[t_i], 0 for
    /// targets equal to <paramref name="ignoreIndex"/>; "mean" divides the sum by the number of non-ignored
    /// targets (NaN when there is none), "sum" sums, "none" returns the [N] losses. The caller has
    /// validated shapes, dtypes and target values.
    /// <para>VJP: g·(softmax(x) − onehot(t)) per non-ignored row (scaled by 1/count for "mean"), itself the
    /// fused op <see cref="CrossEntropyGrad"/>, which differentiates again. JVP: Σ t_x·∂loss/∂x.</para>
    /// </summary>
    internal static Tensor CrossEntropyIndices(Tensor logits, Tensor target, long ignoreIndex, string reduction)
    {
        int n = logits._shape[0], c = logits._shape[1];
        var losses = Empty([n], logits.DType);
        int count = logits.DType == DType.Float32
            ? Reduce.CrossEntropyRows(logits.DenseSpan<float>(), n, c, target.DenseSpan<long>(), ignoreIndex, losses.Storage.As<float>())
            : Reduce.CrossEntropyRows(logits.DenseSpan<double>(), n, c, target.DenseSpan<long>(), ignoreIndex, losses.Storage.As<double>());
        Tensor y;
        if (reduction == "none") y = losses;
        else
        {
            double total = logits.DType == DType.Float32
                ? TensorPrimitives.Sum<float>(losses.Storage.As<float>())
                : TensorPrimitives.Sum<double>(losses.Storage.As<double>());
            y = Scalar(reduction == "mean" ? total / count : total, logits.DType);
        }
        return Op.Tracking(logits) ? Op.Record(CrossEntropyOp, y, [logits, target], new CrossEntropyAttr(ignoreIndex, reduction, count)) : y;
    }

    /// <summary>A batched cross-entropy call's logits and targets as [B·N, C] and [B·N] rows.</summary>
    private static (Tensor X, Tensor T) CrossEntropyRows(BatchCtx c)
    {
        var x = c.Materialize(0);
        int n = x.Shape[1], k = x.Shape[2];
        return (x.Reshape(c.B * n, k), c.Materialize(1).Reshape(c.B * n));
    }

    /// <summary>Each example's number of non-ignored targets, [B], in the logits' dtype (the rows are [B·N] targets).</summary>
    private static Tensor CrossEntropyCounts(BatchCtx c, Tensor rows, long ignoreIndex)
    {
        var dt = c.In[c.In.Length == 2 ? 0 : 1].DType;
        return rows.Reshape(c.B, -1).Ne(Scalar(ignoreIndex, DType.Int64)).To(dt).Sum(1);
    }

    /// <summary>A fused cross entropy's attributes: the ignored class, the reduction and the number of non-ignored targets.</summary>
    private sealed record CrossEntropyAttr(long IgnoreIndex, string Reduction, int Count);

    /// <summary>The fused cross-entropy gradient for inputs (logits, target) of a call with attributes <paramref name="a"/>.</summary>
    private static Tensor CrossEntropyGradOf(Tensor g, in OpCtx c, CrossEntropyAttr a) => CrossEntropyGrad(g, c.X(0), c.X(1), a.IgnoreIndex, a.Reduction, a.Count);

    // inputs: logits and the int64 targets (not differentiable), both saved
    internal static readonly OpDef CrossEntropyOp = new("CrossEntropy", OpFamily.NN, "nn.functional.cross_entropy")
    {
        Vjp = (in OpCtx c, Tensor g, int i) => i == 0 ? CrossEntropyGradOf(g, c, c.A<CrossEntropyAttr>()) : null,
        Jvp = (in OpCtx c, Tensor?[] t) =>
        {
            if (t[0] is not { } tx) return null;
            var a = c.A<CrossEntropyAttr>();
            return (tx * CrossEntropyGradOf(OnesLike(c.Y), c, a)).Sum(a.Reduction == "none" ? new[] { -1 } : new[] { -2, -1 });
        },
        BatchedJvp = true, Saves = 3u, BatchRecomputesAttr = true,
        // the count of non-ignored targets is recomputed from the targets' values
        Replay = (x, a) => [CrossEntropyIndices(x[0], x[1], ((CrossEntropyAttr)a!).IgnoreIndex, ((CrossEntropyAttr)a!).Reduction)],
        Batch = c =>
        {
            // the examples' rows as one [B·N, C] call without reduction, then each example's own reduction
            // (its count of non-ignored targets may differ from the traced example's)
            var a = c.A<CrossEntropyAttr>();
            var (x, t) = CrossEntropyRows(c);
            int n = c.Shape(0)[0];
            var losses = CrossEntropyIndices(x, t, a.IgnoreIndex, "none").Reshape(c.B, n);
            if (a.Reduction == "none") return [losses];
            var sum = losses.Sum(1);
            return [a.Reduction == "sum" ? sum : sum / CrossEntropyCounts(c, t, a.IgnoreIndex)];
        },
        Samples = () => CrossEntropySamples((x, t, ignore, reduction) => CrossEntropyIndices(x, t, ignore, reduction)),
    };

    /// <summary>Cross-entropy samples: [4, 3] logits with targets (one ignored) under each reduction, and a transposed view.</summary>
    private static IEnumerable<OpSample> CrossEntropySamples(Func<Tensor, Tensor, long, string, Tensor> f)
    {
        var target = FromArray(new long[] { 2, 0, 1, 2 });
        var ignored = FromArray(new long[] { 2, -100, 1, 0 });
        yield return new("mean", [OpSamples.Make(OpSamples.Domain.Real, 1, 4, 3)], t => f(t[0], target, -100, "mean"));
        yield return new("sum, one ignored", [OpSamples.Make(OpSamples.Domain.Real, 2, 4, 3)], t => f(t[0], ignored, -100, "sum"));
        yield return new("none, one ignored", [OpSamples.Make(OpSamples.Domain.Real, 3, 4, 3)], t => f(t[0], ignored, -100, "none"));
        yield return new("mean, one ignored, noncontiguous", [OpSamples.Make(OpSamples.Domain.Real, 4, 3, 4).T], t => f(t[0], ignored, -100, "mean"));
    }

    /// <summary>
    /// The gradient of <see cref="CrossEntropyIndices"/> with respect to the logits, fused:
    /// S_i·(softmax(x_i) − onehot(t_i)) with S_i = g/count ("mean"), g ("sum") or g_i ("none"), 0 on ignored rows.
    /// Differentiable in both g (it is linear in g) and x (through the softmax), so gradients of any order follow.
    /// </summary>
    internal static Tensor CrossEntropyGrad(Tensor g, Tensor x, Tensor target, long ignoreIndex, string reduction, int count)
    {
        int n = x._shape[0], c = x._shape[1];
        var gx = Empty([n, c], x.DType);
        double div = reduction == "mean" ? count : 1;
        if (x.DType == DType.Float32)
        {
            var scale = g.DenseSpan<float>().ToArray();
            if (div != 1) TensorPrimitives.Divide(scale, (float)div, scale);
            Reduce.CrossEntropyGradRows(x.DenseSpan<float>(), n, c, target.DenseSpan<long>(), ignoreIndex, scale, gx.Storage.As<float>());
        }
        else
        {
            var scale = g.DenseSpan<double>().ToArray();
            if (div != 1) TensorPrimitives.Divide(scale, div, scale);
            Reduce.CrossEntropyGradRows(x.DenseSpan<double>(), n, c, target.DenseSpan<long>(), ignoreIndex, scale, gx.Storage.As<double>());
        }
        if (!Op.Tracking(g, x)) return gx;
        return Op.Record(CrossEntropyBackwardOp, gx, [g, x, target], new CrossEntropyAttr(ignoreIndex, reduction, count));
    }

    // constants of the targets (input 2): the kept-row mask [n, 1] and the one-hot rows (zero on ignored rows)
    private static Tensor CrossEntropyKeep(in OpCtx c)
    {
        var x = c.X(1);
        int n = x._shape[0];
        long ignore = c.A<CrossEntropyAttr>().IgnoreIndex;
        var m = Zeros([n, 1], x.DType);
        var t = c.X(2).DenseSpan<long>();
        for (int r = 0; r < n; r++) if (t[r] != ignore) m.SetRaw(r, 1);
        return m;
    }

    private static Tensor CrossEntropyOneHotKept(in OpCtx c)
    {
        var x = c.X(1);
        int n = x._shape[0], k = x._shape[1];
        long ignore = c.A<CrossEntropyAttr>().IgnoreIndex;
        var oh = Zeros([n, k], x.DType);
        var t = c.X(2).DenseSpan<long>();
        for (int r = 0; r < n; r++) if (t[r] != ignore) oh.SetRaw(r * k + (int)t[r], 1);
        return oh;
    }

    // per-row scale S as a differentiable function of g (input 0), shape [n, 1]
    private static Tensor CrossEntropyScale(in OpCtx c)
    {
        var a = c.A<CrossEntropyAttr>();
        var g = c.X(0);
        return (a.Reduction == "none" ? g.Unsqueeze(-1) : g / (a.Reduction == "mean" ? a.Count : 1)) * CrossEntropyKeep(c);
    }

    // inputs: the output gradient g, the logits x and the targets (not differentiable), all saved
    internal static readonly OpDef CrossEntropyBackwardOp = new("CrossEntropyBackward", OpFamily.NN)
    {
        Replay = (x, attr) =>
        {
            var a = (CrossEntropyAttr)attr!;
            int count = 0;
            foreach (long t in x[2].DenseSpan<long>()) if (t != a.IgnoreIndex) count++;
            return [CrossEntropyGrad(x[0], x[1], x[2], a.IgnoreIndex, a.Reduction, count)];
        },
        Vjp = (in OpCtx c, Tensor gg, int i) =>
        {
            var a = c.A<CrossEntropyAttr>();
            if (i == 0)
            {
                var d = (c.X(1).Softmax(1) - CrossEntropyOneHotKept(c)) * CrossEntropyKeep(c) * gg;
                return a.Reduction == "none" ? d.Sum(1) : d.Sum() / (a.Reduction == "mean" ? a.Count : 1);
            }
            if (i != 1) return null;
            var p = c.X(1).Softmax(1);
            var u = gg * CrossEntropyScale(c);
            return p * (u - (u * p).Sum(1, keepDim: true));
        },
        Jvp = (in OpCtx c, Tensor?[] t) =>
        {
            var a = c.A<CrossEntropyAttr>();
            Tensor? r = t[0] is { } tg ? CrossEntropyGrad(tg, c.X(1), c.X(2), a.IgnoreIndex, a.Reduction, a.Count) : null;
            if (t[1] is { } tx)
            {
                var p = c.X(1).Softmax(1);
                r = AddTangents(r, CrossEntropyScale(c) * (p * (tx - (tx * p).Sum(1, keepDim: true))));
            }
            return r;
        },
        Saves = 7u, BatchRecomputesAttr = true,
        Batch = c =>
        {
            // per-row scales (g, or g over the example's own count) and one unreduced call over all rows
            var a = c.A<CrossEntropyAttr>();
            var logits = c.Materialize(1);
            int n = logits.Shape[1], k = logits.Shape[2];
            var t = c.Materialize(2).Reshape(c.B * n);
            var g = c.Materialize(0);
            var rows = a.Reduction == "none" ? g
                : (a.Reduction == "mean" ? g / CrossEntropyCounts(c, t, a.IgnoreIndex) : g).Unsqueeze(1).Expand(c.B, n);
            return [CrossEntropyGrad(rows.Reshape(c.B * n), logits.Reshape(c.B * n, k), t, a.IgnoreIndex, "none", c.B * n).Reshape(c.B, n, k)];
        },
        Samples = () => CrossEntropyBackwardSamples(),
    };

    private static IEnumerable<OpSample> CrossEntropyBackwardSamples()
    {
        var target = FromArray(new long[] { 2, 0, 1, 2 });
        var ignored = FromArray(new long[] { 2, -100, 1, 0 });
        yield return new("mean", [OpSamples.Make(OpSamples.Domain.Real, 1), OpSamples.Make(OpSamples.Domain.Real, 2, 4, 3)], t => CrossEntropyGrad(t[0], t[1], target, -100, "mean", 4));
        yield return new("sum, one ignored", [OpSamples.Make(OpSamples.Domain.Real, 3), OpSamples.Make(OpSamples.Domain.Real, 4, 4, 3)], t => CrossEntropyGrad(t[0], t[1], ignored, -100, "sum", 3));
        yield return new("none, one ignored", [OpSamples.Make(OpSamples.Domain.Real, 5, 4), OpSamples.Make(OpSamples.Domain.Real, 6, 4, 3)], t => CrossEntropyGrad(t[0], t[1], ignored, -100, "none", 3));
    }

    /// <summary>The (log-)softmax VJP in one pass per row when <paramref name="dim"/> is the last dim of size &gt; 1 (or every
    /// later dim has size 1) and the gradient matches the output's shape and dtype; else null (the tensor-op VJP runs).</summary>
    private static Tensor? SoftmaxGradRaw(Tensor g, Tensor y, int dim, bool log)
    {
        if (!ShapeUtil.SameShape(g._shape, y._shape) || g.DType != y.DType || y.Rank == 0) return null;
        for (int i = dim + 1; i < y.Rank; i++) if (y._shape[i] != 1) return null;
        int n = y._shape[dim], rows = n == 0 ? 0 : y.Numel / n;
        var r = EmptyLike(y);
        if (y.DType == DType.Float32)
            Reduce.SoftmaxGradRows(DenseArray<float>(g, out int go), go, DenseArray<float>(y, out int yo), yo, r.Storage.As<float>(), rows, n, log);
        else
            Reduce.SoftmaxGradRows(DenseArray<double>(g, out int go), go, DenseArray<double>(y, out int yo), yo, r.Storage.As<double>(), rows, n, log);
        return r;
    }

    /// <summary>Runs the fused (log-)softmax kernel over the dense [outer, n, inner] layout of this tensor.</summary>
    private (Tensor Y, int Dim) SoftmaxRaw(string name, int dim, bool log)
    {
        CheckFloat(name);
        int d = ShapeUtil.WrapDim(name, dim, Rank);
        int outer = 1, n = 1, inner = 1;
        if (Rank > 0)
        {
            for (int i = 0; i < d; i++) outer *= _shape[i];
            n = _shape[d];
            for (int i = d + 1; i < Rank; i++) inner *= _shape[i];
        }
        var y = Empty(ShapeArray, DType);
        var src = DenseSpanArray(out int off);
        if (DType == DType.Float32) Reduce.Softmax((float[])src, off, y.Storage.As<float>(), outer, n, inner, log);
        else Reduce.Softmax((double[])src, off, y.Storage.As<double>(), outer, n, inner, log);
        return (y, d);
    }
}
