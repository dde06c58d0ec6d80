using System.Numerics;
using System.Numerics.Tensors;
using Fluxion.Kernels;

namespace Fluxion;

// One LSTM layer (one direction) over a whole sequence as one registry op, laid out as cuDNN/LibTorch do: the caller
// projects the input for all steps in one GEMM (x·W_ihᵀ + b_ih + b_hh); per step the op runs only h·W_hhᵀ and the fused
// gate math; its backward runs per step only ∂gates·W_hh and the gate math, then the W_hh gradient as one GEMM over the
// whole sequence (the stacked gate gradients against the stacked previous hidden states).
public partial class Tensor
{
    /// <summary>What a call of the LSTM sequence keeps: the direction, and for its fused backward the activated gates
    /// [T, N, 4H] and tanh(c) [T, N, H] (plain values; the tensor-op rules recompute them, so they stay differentiable).</summary>
    private sealed record LstmSequenceAttr(bool Reverse, Tensor? Acts = null, Tensor? TanhC = null);

    internal sealed class LstmSequenceDef() : OpDef("LstmSequence", OpFamily.Fused)
    {
        public override string FusedBackward => "raw loop over the steps (one ∂gates·W_hh GEMM and the gate math each), then ∂W_hh as one GEMM, in first-order passes";

        internal override Tensor?[] Backward(in OpCtx c, Tensor[] gradOutputs, bool[] needs, bool firstOrder, Tensor?[] result)
        {
            if (!firstOrder || c.Attr is not LstmSequenceAttr { Acts: not null } a) return base.Backward(c, gradOutputs, needs, firstOrder, result);
            var r = LstmSequenceBackwardRaw(a, c.X(1), c.X(2), c.X(3), c.Out(0), c.Out(1), gradOutputs[0], gradOutputs[1], needs);
            for (int i = 0; i < 4; i++) result[i] = needs[i] ? r[i] : null;
            return result;
        }
    }

    // inputs: xp [T, N, 4H] (x·W_ihᵀ + biases, gate order i, f, g, o), h0 [N, H], c0 [N, H], W_hh [4H, H];
    // outputs: y [T, N, H] (h of every step) and cs [T, N, H] (c of every step), in time order for either direction
    internal static readonly LstmSequenceDef LstmSequenceOp = new()
    {
        Doc = "one LSTM layer direction over a sequence from the projected input: per step h·W_hhᵀ and the fused cell; ∂W_hh as one GEMM",
        VjpAll = LstmSequenceVjp,
        JvpAll = LstmSequenceJvp,
        Saves = 0b1111u | OpDef.SaveOutput,
        // vmap: with W_hh shared, the examples are more rows of the batch (one GEMM per step for all); a per-example W_hh loops
        Batch = c =>
        {
            bool rev = c.A<LstmSequenceAttr>().Reverse;
            if (c.Batched[3])
                return BatchRules.PerExample(c, (x, _) => { var (y, cs) = LstmSequence(x[0], x[1], x[2], x[3], rev); return [y, cs]; });
            int B = c.B;
            var xpS = c.Shape(0);
            int T = xpS[0], N = xpS[1], G = xpS[2], H = G / 4;
            var xp = c.Materialize(0).Permute(1, 0, 2, 3).Reshape(T, B * N, G);
            var h0 = c.Materialize(1).Reshape(B * N, H);
            var c0 = c.Materialize(2).Reshape(B * N, H);
            var (yy, cc) = LstmSequence(xp, h0, c0, c.X(3), rev);
            return [yy.Reshape(T, B, N, H).Permute(1, 0, 2, 3), cc.Reshape(T, B, N, H).Permute(1, 0, 2, 3)];
        },
        BatchRecomputesAttr = true,
        Samples = () =>
        [
            new("forward y", LstmSequenceSampleInputs(1, 3, 2, 2), t => LstmSequence(t[0], t[1], t[2], t[3], false).Y),
            new("forward c", LstmSequenceSampleInputs(2, 3, 2, 2), t => LstmSequence(t[0], t[1], t[2], t[3], false).C),
            new("reverse y", LstmSequenceSampleInputs(3, 2, 3, 2), t => LstmSequence(t[0], t[1], t[2], t[3], true).Y),
            new("one step", LstmSequenceSampleInputs(4, 1, 2, 3), t => LstmSequence(t[0], t[1], t[2], t[3], false).Y),
        ],
    };

    private static Tensor[] LstmSequenceSampleInputs(int seed, int T, int N, int H) =>
    [
        OpSamples.Make(OpSamples.Domain.Real, 10 * seed, T, N, 4 * H),
        OpSamples.Make(OpSamples.Domain.Real, 10 * seed + 1, N, H),
        OpSamples.Make(OpSamples.Domain.Real, 10 * seed + 2, N, H),
        OpSamples.Make(OpSamples.Domain.Real, 10 * seed + 3, 4 * H, H) * 0.5,
    ];

    /// <summary>
    /// One LSTM layer direction over a sequence: from the projected input <paramref name="xp"/> [T, N, 4H] (x·W_ihᵀ + b_ih +
    /// b_hh for every step, gate chunks i, f, g, o as PyTorch), the initial states <paramref name="h0"/>, <paramref name="c0"/>
    /// [N, H] and <paramref name="whh"/> [4H, H], every step's h and c ([T, N, H] each, in time order; with
    /// <paramref name="reverse"/> the recurrence runs from step T−1 down to 0). One registry op with a fused backward.
    /// </summary>
    internal static (Tensor Y, Tensor C) LstmSequence(Tensor xp, Tensor h0, Tensor c0, Tensor whh, bool reverse)
    {
        const string op = "LstmSequence";
        xp.CheckFloat(op);
        CheckSameDType(op, xp, h0);
        CheckSameDType(op, xp, c0);
        CheckSameDType(op, xp, whh);
        if (xp.Rank != 3 || xp.Size(0) == 0 || h0.Rank != 2 || c0.Rank != 2 || whh.Rank != 2)
            throw new ShapeMismatchException($"{op}: expected xp [T ≥ 1, N, 4H], h0 and c0 [N, H], W_hh [4H, H], got {ShapeUtil.Format(xp.Shape)}, {ShapeUtil.Format(h0.Shape)}, {ShapeUtil.Format(c0.Shape)}, {ShapeUtil.Format(whh.Shape)}.");
        int T = xp.Size(0), N = xp.Size(1), H = h0.Size(1);
        if (xp.Size(2) != 4 * H || h0.Size(0) != N || !ShapeUtil.SameShape(h0.Shape, c0.Shape) || whh.Size(0) != 4 * H || whh.Size(1) != H)
            throw new ShapeMismatchException($"{op}: expected xp [T, N, 4H], h0 and c0 [N, H], W_hh [4H, H] with one N and H, got {ShapeUtil.Format(xp.Shape)}, {ShapeUtil.Format(h0.Shape)}, {ShapeUtil.Format(c0.Shape)}, {ShapeUtil.Format(whh.Shape)}.");
        var (x, h, c) = (xp.Contiguous(), h0.Contiguous(), c0.Contiguous());
        var acts = Empty([T, N, 4 * H], xp.DType);
        var tanhC = Empty([T, N, H], xp.DType);
        var y = Empty([T, N, H], xp.DType);
        var cs = Empty([T, N, H], xp.DType);
        if (xp.DType == DType.Float32)
            LstmSequenceForward<float>(x, h, c, whh, acts, tanhC, y, cs, T, N, H, reverse, Kernels.Special.Tanh);
        else
            LstmSequenceForward<double>(x, h, c, whh, acts, tanhC, y, cs, T, N, H, reverse, Kernels.Special.Tanh);
        if (Op.Tracking([xp, h0, c0, whh])) Op.Record(LstmSequenceOp, [y, cs], [xp, h0, c0, whh], new LstmSequenceAttr(reverse, acts, tanhC));
        return (y, cs);
    }

    private static void LstmSequenceForward<T>(Tensor xp, Tensor h0, Tensor c0, Tensor whh, Tensor acts, Tensor tanhC, Tensor y, Tensor cs,
        int steps, int n, int hid, bool reverse, SpanFn<T> tanh) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int g4 = 4 * hid, gs = n * g4, hs = n * hid;
        var x = xp.Storage.As<T>();
        var (yA, cA, aA, tA) = (y.Storage.As<T>(), cs.Storage.As<T>(), acts.Storage.As<T>(), tanhC.Storage.As<T>());
        var w = whh.Storage.As<T>();
        var gates = new T[gs];
        for (int s = 0; s < steps; s++)
        {
            int t = reverse ? steps - 1 - s : s, tp = reverse ? t + 1 : t - 1;
            Array.Copy(x, xp.Offset + t * gs, gates, 0, gs);
            var (hArr, hOff) = s == 0 ? (h0.Storage.As<T>(), h0.Offset) : (yA, tp * hs);
            // gates += h·W_hhᵀ: B = W_hhᵀ read in place
            Gemm.MatMul(hArr, hOff, hid, 1, w, whh.Offset, whh._strides[1], whh._strides[0], gates, 0, n, hid, g4, accumulate: true);
            ReadOnlySpan<T> cPrev = s == 0 ? c0.Storage.As<T>().AsSpan(c0.Offset, hs) : cA.AsSpan(tp * hs, hs);
            LstmCellForward<T>(gates, cPrev, aA.AsSpan(t * gs, gs), tA.AsSpan(t * hs, hs), yA.AsSpan(t * hs, hs), cA.AsSpan(t * hs, hs), n, hid, tanh);
        }
    }

    /// <summary>First-order backward on raw values: ∂xp, ∂h0, ∂c0, ∂W_hh from ∂y and ∂cs.</summary>
    private static Tensor?[] LstmSequenceBackwardRaw(LstmSequenceAttr a, Tensor h0, Tensor c0, Tensor whh, Tensor y, Tensor cs, Tensor gy, Tensor gc, bool[] needs)
    {
        int T = y.Size(0), N = y.Size(1), H = y.Size(2);
        var dxp = Empty([T, N, 4 * H], y.DType);
        var dh0 = Empty([N, H], y.DType);
        var dc0 = Empty([N, H], y.DType);
        var dw = needs[3] ? Empty([4 * H, H], y.DType) : null;
        var (h, c, gyc, gcc) = (h0.Contiguous(), c0.Contiguous(), gy.Contiguous(), gc.Contiguous());
        if (y.DType == DType.Float32)
            LstmSequenceBackward<float>(a, h, c, whh, y, cs, gyc, gcc, dxp, dh0, dc0, dw, T, N, H);
        else
            LstmSequenceBackward<double>(a, h, c, whh, y, cs, gyc, gcc, dxp, dh0, dc0, dw, T, N, H);
        return [dxp, dh0, dc0, dw];
    }

    private static void LstmSequenceBackward<T>(LstmSequenceAttr a, Tensor h0, Tensor c0, Tensor whh, Tensor y, Tensor cs, Tensor gy, Tensor gc,
        Tensor dxp, Tensor dh0, Tensor dc0, Tensor? dw, int steps, int n, int hid) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int g4 = 4 * hid, gs = n * g4, hs = n * hid;
        bool rev = a.Reverse;
        var (acts, tanhC) = (a.Acts!.Storage.As<T>(), a.TanhC!.Storage.As<T>());
        var (yA, cA, gyA, gcA) = (y.Storage.As<T>(), cs.Storage.As<T>(), gy.Storage.As<T>(), gc.Storage.As<T>());
        var (aOff, tOff, yOff, cOff, gyOff, gcOff) = (a.Acts.Offset, a.TanhC.Offset, y.Offset, cs.Offset, gy.Offset, gc.Offset);
        var dG = dxp.Storage.As<T>();
        var w = whh.Storage.As<T>();
        var carryH = dh0.Storage.As<T>();
        var carryC = dc0.Storage.As<T>();
        Array.Clear(carryH, 0, hs);
        Array.Clear(carryC, 0, hs);
        var dh = new T[hs];
        var dc = new T[hs];
        for (int s = steps - 1; s >= 0; s--)
        {
            int t = rev ? steps - 1 - s : s, tp = rev ? t + 1 : t - 1;
            TensorPrimitives.Add(gyA.AsSpan(gyOff + t * hs, hs), carryH.AsSpan(0, hs), dh);
            TensorPrimitives.Add(gcA.AsSpan(gcOff + t * hs, hs), carryC.AsSpan(0, hs), dc);
            ReadOnlySpan<T> cPrev = s == 0 ? c0.Storage.As<T>().AsSpan(c0.Offset, hs) : cA.AsSpan(cOff + tp * hs, hs);
            LstmCellBackward<T>(acts.AsSpan(aOff + t * gs, gs), tanhC.AsSpan(tOff + t * hs, hs), cPrev, dh, dc, dG.AsSpan(t * gs, gs), carryC.AsSpan(0, hs), n, hid);
            // ∂h_prev = ∂gates·W_hh
            Gemm.MatMul(dG, t * gs, g4, 1, w, whh.Offset, whh._strides[0], whh._strides[1], carryH, 0, n, g4, hid);
        }
        if (dw is null) return;
        // ∂W_hh = Σ_t ∂gates_tᵀ·h_prev(t): the steps whose h_prev is an output row as one GEMM, the step from h0 as another
        var dwA = dw.Storage.As<T>();
        int first = rev ? steps - 1 : 0; // the step that reads h0
        var h0A = h0.Storage.As<T>();
        Gemm.MatMul(dG, first * gs, 1, g4, h0A, h0.Offset, hid, 1, dwA, 0, g4, n, hid);
        if (steps > 1)
        {
            // forward: steps 1..T−1 read y rows 0..T−2; reverse: steps 0..T−2 read y rows 1..T−1
            int gStart = rev ? 0 : 1, yStart = rev ? 1 : 0;
            Gemm.MatMul(dG, gStart * gs, 1, g4, yA, yOff + yStart * hs, hid, 1, dwA, 0, g4, (steps - 1) * n, hid, accumulate: true);
        }
    }

    /// <summary>Each step's previous h and c [T, N, H] (time order) from the outputs and the initial states.</summary>
    private static (Tensor H, Tensor C) LstmSequencePrev(Tensor y, Tensor cs, Tensor h0, Tensor c0, bool rev)
    {
        int T = y.Size(0);
        if (T == 1) return (h0.Unsqueeze(0), c0.Unsqueeze(0));
        return rev
            ? (Cat([y.Narrow(0, 1, T - 1), h0.Unsqueeze(0)], 0), Cat([cs.Narrow(0, 1, T - 1), c0.Unsqueeze(0)], 0))
            : (Cat([h0.Unsqueeze(0), y.Narrow(0, 0, T - 1)], 0), Cat([c0.Unsqueeze(0), cs.Narrow(0, 0, T - 1)], 0));
    }

    private static Tensor?[] LstmSequenceVjp(in OpCtx c, Tensor[] gs, bool[] needs)
    {
        bool rev = c.A<LstmSequenceAttr>().Reverse;
        Tensor xp = c.X(0), h0 = c.X(1), c0 = c.X(2), whh = c.X(3), y = c.Out(0), cs = c.Out(1);
        int T = xp.Size(0), N = xp.Size(1), H = h0.Size(1);
        var (hPrev, cPrev) = LstmSequencePrev(y, cs, h0, c0, rev);
        var (i, f, g, o) = LstmGates(xp + hPrev.MatMul(whh.MT));
        var tc = cs.Tanh();
        var dGs = new Tensor[T];
        Tensor? carryH = null, carryC = null;
        for (int s = T - 1; s >= 0; s--)
        {
            int t = rev ? T - 1 - s : s;
            Tensor it = i.Select(0, t), ft = f.Select(0, t), gt = g.Select(0, t), ot = o.Select(0, t), tct = tc.Select(0, t);
            var dh = carryH is null ? gs[0].Select(0, t) : gs[0].Select(0, t) + carryH;
            var dc = carryC is null ? gs[1].Select(0, t) : gs[1].Select(0, t) + carryC;
            var dct = dc + dh * ot * (1.0 - tct * tct);
            var dG = Cat([dct * gt * it * (1.0 - it), dct * cPrev.Select(0, t) * ft * (1.0 - ft), dct * it * (1.0 - gt * gt), dh * tct * ot * (1.0 - ot)], -1);
            dGs[t] = dG;
            carryH = dG.MatMul(whh);
            carryC = dct * ft;
        }
        var dAll = Stack(dGs, 0);
        var r = new Tensor?[4];
        if (needs[0]) r[0] = dAll;
        if (needs[1]) r[1] = carryH;
        if (needs[2]) r[2] = carryC;
        if (needs[3]) r[3] = dAll.Reshape(T * N, 4 * H).MT.MatMul(hPrev.Reshape(T * N, H));
        return r;
    }

    private static Tensor?[] LstmSequenceJvp(in OpCtx c, Tensor?[] tan)
    {
        bool rev = c.A<LstmSequenceAttr>().Reverse;
        Tensor xp = c.X(0), h0 = c.X(1), c0 = c.X(2), whh = c.X(3), y = c.Out(0), cs = c.Out(1);
        int T = xp.Size(0), H = h0.Size(1);
        var (hPrev, cPrev) = LstmSequencePrev(y, cs, h0, c0, rev);
        var (i, f, g, o) = LstmGates(xp + hPrev.MatMul(whh.MT));
        var tc = cs.Tanh();
        // the parts of the gates' tangents that do not depend on the recurrence, for all steps at once
        Tensor? direct = tan[0];
        if (tan[3] is { } tw)
        {
            var p = hPrev.MatMul(tw.MT);
            direct = direct is null ? p : direct + p;
        }
        var dhs = new Tensor?[T];
        var dcs = new Tensor?[T];
        Tensor? dhPrev = tan[1], dcPrev = tan[2];
        for (int s = 0; s < T; s++)
        {
            int t = rev ? T - 1 - s : s;
            Tensor it = i.Select(0, t), ft = f.Select(0, t), gt = g.Select(0, t), ot = o.Select(0, t), tct = tc.Select(0, t);
            Tensor? dg = direct?.Select(0, t);
            if (dhPrev is not null)
            {
                var p = dhPrev.MatMul(whh.MT);
                dg = dg is null ? p : dg + p;
            }
            Tensor? dc = dcPrev is null ? null : ft * dcPrev;
            Tensor? dO = null;
            if (dg is not null)
            {
                var fromGates = dg.Narrow(-1, H, H) * ft * (1.0 - ft) * cPrev.Select(0, t) + dg.Narrow(-1, 0, H) * it * (1.0 - it) * gt
                    + it * dg.Narrow(-1, 2 * H, H) * (1.0 - gt * gt);
                dc = dc is null ? fromGates : dc + fromGates;
                dO = dg.Narrow(-1, 3 * H, H) * ot * (1.0 - ot);
            }
            Tensor? dh = dc is null ? null : ot * (1.0 - tct * tct) * dc;
            if (dO is not null) dh = dh is null ? dO * tct : dh + dO * tct;
            (dhs[t], dcs[t], dhPrev, dcPrev) = (dh, dc, dh, dc);
        }
        Tensor? StackOrNull(Tensor?[] ts)
        {
            if (ts.All(x => x is null)) return null;
            var z = ZerosLike(h0);
            return Stack([.. ts.Select(x => x ?? z)], 0);
        }
        return [StackOrNull(dhs), StackOrNull(dcs)];
    }
}
