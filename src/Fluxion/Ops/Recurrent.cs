using System.Numerics;
using System.Numerics.Tensors;

namespace Fluxion;

// The fused LSTM cell update used by LSTM and LSTMCell: one op per time step instead of a dozen small ones.
public partial class Tensor
{
    /// <summary>What a call of the LSTM cell keeps for its backward: the activated gates (σ(i), σ(f), tanh(g), σ(o)) and tanh(c'),
    /// plain values (the tensor-op rules recompute them from the inputs, so they stay differentiable).</summary>
    private sealed record LstmCellAttr(Tensor Acts, Tensor TanhC);

    internal sealed class LstmCellDef() : OpDef("LstmCell", OpFamily.Fused)
    {
        public override string FusedBackward => "raw loop over the gates in first-order passes";

        internal override Tensor?[] Backward(in OpCtx c, Tensor[] gradOutputs, bool[] needs, bool firstOrder, Tensor?[] result)
        {
            if (!firstOrder || c.Attr is not LstmCellAttr a) return base.Backward(c, gradOutputs, needs, firstOrder, result);
            var (dg, dc) = LstmCellBackwardRaw(a, c.X(1), gradOutputs[0], gradOutputs[1]);
            result[0] = needs[0] ? dg : null;
            result[1] = needs[1] ? dc : null;
            return result;
        }
    }

    // inputs: gates [..., 4H] (pre-activation, PyTorch's order i, f, g, o) and c [..., H]; outputs h' and c'
    internal static readonly LstmCellDef LstmCellOp = new()
    {
        Doc = "LSTM cell update (h', c') from the pre-activation gates (i, f, g, o) and the cell state, in one pass",
        VjpAll = LstmCellVjp,
        JvpAll = LstmCellJvp,
        Saves = 3u | OpDef.SaveOutput,
        // vmap: the cell works row by row over any leading dims, so the batch is one more of them (the saved activations are recomputed)
        Batch = c =>
        {
            var (h, cc) = LstmCell(c.Materialize(0).Contiguous(), c.Materialize(1).Contiguous());
            return [h, cc];
        },
        BatchRecomputesAttr = true,
        Samples = () =>
        [
            new("rows", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 8), OpSamples.Make(OpSamples.Domain.Real, 2, 3, 2)], t => LstmCellSample(t, 0)),
            new("h of 1-d", [OpSamples.Make(OpSamples.Domain.Real, 3, 12), OpSamples.Make(OpSamples.Domain.Real, 4, 3)], t => LstmCellSample(t, 0)),
            new("c'", [OpSamples.Make(OpSamples.Domain.Real, 5, 2, 2, 4), OpSamples.Make(OpSamples.Domain.Real, 6, 2, 2, 1)], t => LstmCellSample(t, 1)),
        ],
    };

    private static Tensor LstmCellSample(Tensor[] t, int output)
    {
        var (h, c) = LstmCell(t[0], t[1]);
        return output == 0 ? h : c;
    }

    /// <summary>
    /// The LSTM cell update from pre-activation gates <paramref name="gates"/> [..., 4H] (x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh, chunks
    /// i, f, g, o as PyTorch) and the cell state <paramref name="c"/> [..., H]: c' = σ(f)·c + σ(i)·tanh(g), h' = σ(o)·tanh(c'),
    /// computed in one pass (one registry op, with a fused backward).
    /// </summary>
    internal static (Tensor H, Tensor C) LstmCell(Tensor gates, Tensor c)
    {
        const string op = "LstmCell";
        gates.CheckFloat(op);
        CheckSameDType(op, gates, c); // a fused kernel: one float dtype, as PyTorch's LSTM
        if (gates.Rank == 0 || gates.Rank != c.Rank || gates.Size(-1) != 4 * c.Size(-1) || !ShapeUtil.SameShape(gates.Shape[..^1], c.Shape[..^1]))
            throw new ShapeMismatchException($"{op}: the gates must be [..., 4H] and the cell state [..., H] with the same leading dims, got {ShapeUtil.Format(gates.Shape)} and {ShapeUtil.Format(c.Shape)}.");
        int hid = c.Size(-1), rows = c.Numel / Math.Max(hid, 1);
        if (hid == 0) rows = 0;
        var acts = Empty(gates.ShapeArray, gates.DType);
        var tanhC = Empty(c.ShapeArray, c.DType);
        var h2 = Empty(c.ShapeArray, c.DType);
        var c2 = Empty(c.ShapeArray, c.DType);
        if (gates.DType == DType.Float32)
            LstmCellForward(gates.DenseSpan<float>(), c.DenseSpan<float>(), acts.Storage.As<float>(), tanhC.Storage.As<float>(), h2.Storage.As<float>(), c2.Storage.As<float>(), rows, hid, Kernels.Special.Tanh);
        else
            LstmCellForward(gates.DenseSpan<double>(), c.DenseSpan<double>(), acts.Storage.As<double>(), tanhC.Storage.As<double>(), h2.Storage.As<double>(), c2.Storage.As<double>(), rows, hid, Kernels.Special.Tanh);
        if (Op.Tracking(gates, c)) Op.Record(LstmCellOp, [h2, c2], [gates, c], new LstmCellAttr(acts, tanhC));
        return (h2, c2);
    }

    private delegate void SpanFn<T>(ReadOnlySpan<T> x, Span<T> y);

    private static void LstmCellForward<T>(ReadOnlySpan<T> gates, ReadOnlySpan<T> c, Span<T> acts, Span<T> tanhC, Span<T> h2, Span<T> c2, int rows, int hid, SpanFn<T> tanh)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = rows * hid;
        TensorPrimitives.Sigmoid(gates[..(4 * n)], acts[..(4 * n)]);
        for (int r = 0; r < rows; r++)
        {
            int g0 = r * 4 * hid, s0 = r * hid;
            var a = acts.Slice(g0, 4 * hid);
            tanh(gates.Slice(g0 + 2 * hid, hid), a.Slice(2 * hid, hid));
            var ci = c.Slice(s0, hid);
            var co = c2.Slice(s0, hid);
            // rounded as σ(f)·c + σ(i)·tanh(g) in the unfused ops
            for (int j = 0; j < hid; j++) co[j] = a[hid + j] * ci[j] + a[j] * a[2 * hid + j];
        }
        tanh(c2[..n], tanhC[..n]);
        for (int r = 0; r < rows; r++)
            TensorPrimitives.Multiply(acts.Slice(r * 4 * hid + 3 * hid, hid), tanhC.Slice(r * hid, hid), h2.Slice(r * hid, hid));
    }

    /// <summary>First-order backward on raw values: ∂gates [..., 4H] and ∂c from ∂h' and ∂c'.</summary>
    private static (Tensor Gates, Tensor C) LstmCellBackwardRaw(LstmCellAttr a, Tensor c, Tensor gh, Tensor gc)
    {
        int hid = c.Size(-1), rows = hid == 0 ? 0 : c.Numel / hid;
        var dg = Empty(a.Acts.ShapeArray, c.DType);
        var dc = Empty(c.ShapeArray, c.DType);
        if (c.DType == DType.Float32)
            LstmCellBackward(a.Acts.DenseSpan<float>(), a.TanhC.DenseSpan<float>(), c.DenseSpan<float>(), gh.DenseSpan<float>(), gc.DenseSpan<float>(), dg.Storage.As<float>(), dc.Storage.As<float>(), rows, hid);
        else
            LstmCellBackward(a.Acts.DenseSpan<double>(), a.TanhC.DenseSpan<double>(), c.DenseSpan<double>(), gh.DenseSpan<double>(), gc.DenseSpan<double>(), dg.Storage.As<double>(), dc.Storage.As<double>(), rows, hid);
        return (dg, dc);
    }

    private static void LstmCellBackward<T>(ReadOnlySpan<T> acts, ReadOnlySpan<T> tanhC, ReadOnlySpan<T> c, ReadOnlySpan<T> gh, ReadOnlySpan<T> gc, Span<T> dg, Span<T> dc, int rows, int hid)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int r = 0; r < rows; r++)
        {
            var a = acts.Slice(r * 4 * hid, 4 * hid);
            var d = dg.Slice(r * 4 * hid, 4 * hid);
            int s0 = r * hid;
            for (int j = 0; j < hid; j++)
            {
                T si = a[j], sf = a[hid + j], tg = a[2 * hid + j], so = a[3 * hid + j], tc = tanhC[s0 + j], dh = gh[s0 + j];
                T dct = gc[s0 + j] + dh * so * (T.One - tc * tc);
                d[j] = dct * tg * si * (T.One - si);
                d[hid + j] = dct * c[s0 + j] * sf * (T.One - sf);
                d[2 * hid + j] = dct * si * (T.One - tg * tg);
                d[3 * hid + j] = dh * tc * so * (T.One - so);
                dc[s0 + j] = dct * sf;
            }
        }
    }

    /// <summary>The activated gates as tensor ops on the input (differentiable again): σ(i), σ(f), tanh(g), σ(o).</summary>
    private static (Tensor I, Tensor F, Tensor G, Tensor O) LstmGates(Tensor gates)
    {
        int hid = gates.Size(-1) / 4;
        return (gates.Narrow(-1, 0, hid).Sigmoid(), gates.Narrow(-1, hid, hid).Sigmoid(), gates.Narrow(-1, 2 * hid, hid).Tanh(), gates.Narrow(-1, 3 * hid, hid).Sigmoid());
    }

    private static Tensor?[] LstmCellVjp(in OpCtx c, Tensor[] gs, bool[] needs)
    {
        var (i, f, g, o) = LstmGates(c.X(0));
        var tc = c.Out(1).Tanh();
        var dct = gs[1] + gs[0] * o * (1.0 - tc * tc);
        var r = new Tensor?[2];
        if (needs[0])
            r[0] = Cat([dct * g * i * (1.0 - i), dct * c.X(1) * f * (1.0 - f), dct * i * (1.0 - g * g), gs[0] * tc * o * (1.0 - o)], -1);
        if (needs[1]) r[1] = dct * f;
        return r;
    }

    private static Tensor?[] LstmCellJvp(in OpCtx c, Tensor?[] t)
    {
        var (i, f, g, o) = LstmGates(c.X(0));
        var tc = c.Out(1).Tanh();
        Tensor? dc2 = t[1] is { } tcIn ? f * tcIn : null;
        Tensor? dO = null;
        if (t[0] is { } tg)
        {
            int hid = c.X(1).Size(-1);
            var di = tg.Narrow(-1, 0, hid) * i * (1.0 - i);
            var df = tg.Narrow(-1, hid, hid) * f * (1.0 - f);
            var dgg = tg.Narrow(-1, 2 * hid, hid) * (1.0 - g * g);
            dO = tg.Narrow(-1, 3 * hid, hid) * o * (1.0 - o);
            var fromGates = df * c.X(1) + di * g + i * dgg;
            dc2 = dc2 is null ? fromGates : dc2 + fromGates;
        }
        if (dc2 is null) return [null, null];
        var dh = o * (1.0 - tc * tc) * dc2;
        if (dO is not null) dh = dh + dO * tc;
        return [dh, dc2];
    }
}
