using Fluxion.Kernels;

namespace Fluxion;

/// <summary>A size for the two spatial dims (height, width) of a 2-D convolution or pooling;
/// an <c>int</c> n converts to (n, n) and a tuple (h, w) to (h, w), as PyTorch's int-or-pair arguments.</summary>
/// <param name="H">Height (the second-to-last dim).</param>
/// <param name="W">Width (the last dim).</param>
public readonly record struct Size2(int H, int W)
{
    /// <summary>(n, n).</summary>
    public static implicit operator Size2(int n) => new(n, n);

    /// <summary>(h, w).</summary>
    public static implicit operator Size2((int H, int W) t) => new(t.H, t.W);

    /// <summary>"(h, w)", as PyTorch prints a pair.</summary>
    public override string ToString() => $"({H}, {W})";
}

// Convolution and pooling. Conv2d is a fused primitive (im2col + GEMM) with two adjoint primitives,
// Conv2dInputGrad (the transposed convolution) and Conv2dWeightGrad; the three ops' VJPs are written
// with one another, so every order of derivative stays on the fast kernels. Unfold/Fold and the
// average poolings are linear adjoint pairs; max pooling's VJP scatter-adds through its indices.
public partial class Tensor
{
    // ---- convolution -------------------------------------------------------------------------

    /// <summary>
    /// 2-D convolution (PyTorch's <c>conv2d</c>, a cross-correlation): input [N, C, H, W] (or unbatched
    /// [C, H, W]), weight [O, C/groups, KH, KW], optional bias [O]; output [N, O, OH, OW] with
    /// OH = (H + 2·padding − dilation·(KH − 1) − 1) / stride + 1. Zero padding.
    /// </summary>
    public static Tensor Conv2d(Tensor input, Tensor weight, Tensor? bias = null, Size2? stride = null, Size2? padding = null, Size2? dilation = null, int groups = 1)
    {
        const string op = "Conv2d";
        var (x, unbatched) = Batched(op, input, "input");
        var g = ConvGeometry(op, x, weight, bias, stride ?? 1, padding ?? 0, dilation ?? 1, groups);
        var y = Conv2dCore(x, weight, bias, g);
        return unbatched ? y.Squeeze(0) : y;
    }

    /// <summary>2-D convolution of this tensor (see the static <see cref="Conv2d(Tensor, Tensor, Tensor?, Size2?, Size2?, Size2?, int)"/>).</summary>
    public Tensor Conv2d(Tensor weight, Tensor? bias = null, Size2? stride = null, Size2? padding = null, Size2? dilation = null, int groups = 1) =>
        Conv2d(this, weight, bias, stride, padding, dilation, groups);

    /// <summary>
    /// 2-D transposed convolution (PyTorch's <c>conv_transpose2d</c>, the adjoint of <see cref="Conv2d(Tensor, Tensor, Tensor?, Size2?, Size2?, Size2?, int)"/>
    /// in its input): input [N, Cin, H, W] (or [Cin, H, W]), weight [Cin, Cout/groups, KH, KW], optional bias
    /// [Cout]; output [N, Cout, OH, OW] with OH = (H − 1)·stride − 2·padding + dilation·(KH − 1) + outputPadding + 1.
    /// </summary>
    public static Tensor ConvTranspose2d(Tensor input, Tensor weight, Tensor? bias = null, Size2? stride = null, Size2? padding = null, Size2? outputPadding = null, int groups = 1, Size2? dilation = null)
    {
        const string op = "ConvTranspose2d";
        var (x, unbatched) = Batched(op, input, "input");
        Size2 s = stride ?? 1, p = padding ?? 0, op2 = outputPadding ?? 0, d = dilation ?? 1;
        CheckFloatPair(op, x, weight);
        if (weight.Rank != 4)
            throw new ShapeMismatchException($"{op}: the weight must have shape [in_channels, out_channels/groups, kH, kW], got {ShapeUtil.Format(weight.Shape)}.");
        if (groups <= 0) throw new ArgumentException($"{op}: groups must be positive, got {groups}.");
        int cin = x._shape[1];
        if (weight._shape[0] != cin || cin % groups != 0)
            throw new ShapeMismatchException(
                $"{op}: the input (shape {ShapeUtil.Format(x.Shape)}) has {cin} channels, but the weight (shape {ShapeUtil.Format(weight.Shape)}) expects {weight._shape[0]}" +
                (cin % groups != 0 ? $" and {cin} is not divisible by groups = {groups}." : "."));
        CheckWindowArgs(op, s, p, d);
        if (op2.H < 0 || op2.W < 0 || op2.H >= s.H || op2.W >= s.W)
            throw new ArgumentException($"{op}: outputPadding {op2} must be non-negative and smaller than the stride {s}.");
        int cout = weight._shape[1] * groups;
        int kh = weight._shape[2], kw = weight._shape[3];
        int hc = (x._shape[2] - 1) * s.H - 2 * p.H + d.H * (kh - 1) + op2.H + 1;
        int wc = (x._shape[3] - 1) * s.W - 2 * p.W + d.W * (kw - 1) + op2.W + 1;
        if (hc <= 0 || wc <= 0)
            throw new ShapeMismatchException($"{op}: the output size ({hc}, {wc}) for input {ShapeUtil.Format(x.Shape)} with kernel ({kh}, {kw}), stride {s}, padding {p} and dilation {d} is not positive.");
        if (bias is not null && (bias.Rank != 1 || bias._shape[0] != cout))
            throw new ShapeMismatchException($"{op}: the bias must have shape [{cout}] (out_channels), got {ShapeUtil.Format(bias.Shape)}.");
        if (bias is not null) CheckSameDType(op, x, bias);
        var g = new ConvGeom(x._shape[0], cout, hc, wc, cin, groups, kh, kw, s.H, s.W, p.H, p.W, d.H, d.W);
        var y = ConvInputGrad(x, weight, g);
        if (bias is not null) y += bias.Reshape(1, cout, 1, 1);
        return unbatched ? y.Squeeze(0) : y;
    }

    /// <summary>Adds a leading batch dim to an unbatched (rank-3) input; rank 4 passes through.</summary>
    private static (Tensor X, bool Unbatched) Batched(string op, Tensor input, string what)
    {
        if (input.Rank == 4) return (input, false);
        if (input.Rank == 3) return (input.Unsqueeze(0), true);
        throw new ShapeMismatchException($"{op}: expected a 4-D {what} [N, C, H, W] (or 3-D [C, H, W] without batch), got shape {ShapeUtil.Format(input.Shape)}.");
    }

    private static void CheckFloatPair(string op, Tensor x, Tensor w)
    {
        x.CheckFloat(op);
        w.CheckFloat(op);
        CheckSameDType(op, x, w);
    }

    private static void CheckWindowArgs(string op, Size2 stride, Size2 padding, Size2 dilation)
    {
        if (stride.H <= 0 || stride.W <= 0) throw new ArgumentException($"{op}: stride must be positive, got {stride}.");
        if (padding.H < 0 || padding.W < 0) throw new ArgumentException($"{op}: padding must be non-negative, got {padding}.");
        if (dilation.H <= 0 || dilation.W <= 0) throw new ArgumentException($"{op}: dilation must be positive, got {dilation}.");
    }

    private static ConvGeom ConvGeometry(string op, Tensor x, Tensor w, Tensor? b, Size2 s, Size2 p, Size2 d, int groups)
    {
        CheckFloatPair(op, x, w);
        if (w.Rank != 4)
            throw new ShapeMismatchException($"{op}: the weight must have shape [out_channels, in_channels/groups, kH, kW], got {ShapeUtil.Format(w.Shape)}.");
        if (groups <= 0) throw new ArgumentException($"{op}: groups must be positive, got {groups}.");
        int c = x._shape[1], o = w._shape[0];
        if (c % groups != 0 || o % groups != 0)
            throw new ShapeMismatchException($"{op}: in_channels ({c}) and out_channels ({o}) must both be divisible by groups ({groups}); input {ShapeUtil.Format(x.Shape)}, weight {ShapeUtil.Format(w.Shape)}.");
        if (w._shape[1] * groups != c)
            throw new ShapeMismatchException(
                $"{op}: the input (shape {ShapeUtil.Format(x.Shape)}) has {c} channels, but the weight (shape {ShapeUtil.Format(w.Shape)}) with groups = {groups} expects {w._shape[1] * groups}.");
        CheckWindowArgs(op, s, p, d);
        int kh = w._shape[2], kw = w._shape[3];
        if (kh == 0 || kw == 0) throw new ShapeMismatchException($"{op}: the kernel size ({kh}, {kw}) must be positive (weight {ShapeUtil.Format(w.Shape)}).");
        int effH = d.H * (kh - 1) + 1, effW = d.W * (kw - 1) + 1;
        if (x._shape[2] + 2 * p.H < effH || x._shape[3] + 2 * p.W < effW)
            throw new ShapeMismatchException(
                $"{op}: the padded input ({x._shape[2] + 2 * p.H}, {x._shape[3] + 2 * p.W}) is smaller than the dilated kernel ({effH}, {effW}); input {ShapeUtil.Format(x.Shape)}, weight {ShapeUtil.Format(w.Shape)}, padding {p}, dilation {d}.");
        if (b is not null)
        {
            if (b.Rank != 1 || b._shape[0] != o)
                throw new ShapeMismatchException($"{op}: the bias must have shape [{o}] (out_channels), got {ShapeUtil.Format(b.Shape)}.");
            CheckSameDType(op, x, b);
        }
        return new ConvGeom(x._shape[0], c, x._shape[2], x._shape[3], o, groups, kh, kw, s.H, s.W, p.H, p.W, d.H, d.W);
    }

    /// <summary>
    /// relu(conv2d(input, weight, bias)) as one fused op (used by <see cref="Nn.Sequential"/> for a Conv2d followed by a ReLU): the
    /// bias and the ReLU are applied to each output row right after its GEMM, and no pre-activation tensor
    /// is kept. VJPs: the output gradient masked where the output is positive (<see cref="ReluMask"/>,
    /// computed once per backward and shared by the three inputs), then the convolution's VJPs.
    /// </summary>
    internal static Tensor Conv2dRelu(Tensor input, Tensor weight, Tensor? bias = null, Size2? stride = null, Size2? padding = null, Size2? dilation = null, int groups = 1)
    {
        const string op = "Conv2d";
        var (x, unbatched) = Batched(op, input, "input");
        var g = ConvGeometry(op, x, weight, bias, stride ?? 1, padding ?? 0, dilation ?? 1, groups);
        var y = Conv2dReluCore(x, weight, bias, g);
        return unbatched ? y.Squeeze(0) : y;
    }

    /// <summary>The fused convolution + ReLU primitive on validated arguments (one output tensor: no pre-activation is kept).</summary>
    private static Tensor Conv2dReluCore(Tensor x, Tensor w, Tensor? b, ConvGeom g)
    {
        var y = Empty([g.N, g.O, g.OH, g.OW], x.DType);
        ConvForwardRaw(x, w, b, y, g, relu: true);
        Tensor[] inputs = b is null ? [x, w] : [x, w, b];
        return Op.Tracking(inputs) ? Op.Record(Conv2dReluOp, y, inputs, g) : y;
    }

    // the output gradient masked once where the output (saved: the fused op's own output) is positive, then the convolution's VJPs
    internal static readonly OpDef Conv2dReluOp = new("Conv2dRelu", OpFamily.Fused)
    {
        VjpAll = (in OpCtx c, Tensor[] gs, bool[] needs) =>
        {
            var m = ReluMask(gs[0], c.Y);
            var r = new Tensor?[needs.Length];
            for (int i = 0; i < needs.Length; i++)
                if (needs[i]) r[i] = ConvVjp(c, m, i);
            return r;
        },
        Jvp = (in OpCtx c, Tensor?[] t) => ConvTangent(t, c.X(0), c.X(1), c.A<ConvGeom>(), c.Y._shape) is { } r ? ReluMask(r, c.Y) : null,
        BatchedJvp = true, SavesFor = x => BilinearSaves(x) | OpDef.SaveOutput,
        Batch = c => [ConvBatch(c, relu: true)],
        Samples = () => ConvSamples((x, w, b, s, p, d, groups) => Conv2dRelu(x, w, b, s, p, d, groups)),
    };

    /// <summary>Runs the forward convolution kernel for the dtype.</summary>
    private static void ConvForwardRaw(Tensor x, Tensor w, Tensor? b, Tensor y, ConvGeom g, bool relu)
    {
        var xa = x.DenseSpanArray(out int xo);
        var wa = w.DenseSpanArray(out int wo);
        int bo = 0;
        var ba = b?.DenseSpanArray(out bo);
        if (x.DType == DType.Float32) Conv.Forward((float[])xa, xo, (float[])wa, wo, (float[]?)ba, bo, y.Storage.As<float>(), g, relu);
        else Conv.Forward((double[])xa, xo, (double[])wa, wo, (double[]?)ba, bo, y.Storage.As<double>(), g, relu);
    }

    /// <summary>The convolution primitive on validated arguments. VJPs: Conv2dInputGrad, Conv2dWeightGrad, Σ over (N, OH, OW).</summary>
    private static Tensor Conv2dCore(Tensor x, Tensor w, Tensor? b, ConvGeom g)
    {
        var y = Empty([g.N, g.O, g.OH, g.OW], x.DType);
        ConvForwardRaw(x, w, b, y, g, relu: false);
        Tensor[] inputs = b is null ? [x, w] : [x, w, b];
        return Op.Tracking(inputs) ? Op.Record(Conv2dOp, y, inputs, g) : y;
    }

    /// <summary>The convolution's VJP for input <paramref name="i"/> (x, w, b) given the output gradient <paramref name="gy"/>.</summary>
    private static Tensor ConvVjp(in OpCtx c, Tensor gy, int i) => i switch
    {
        0 => ConvInputGrad(gy, c.X(1), c.A<ConvGeom>()),
        1 => ConvWeightGrad(c.X(0), gy, c.A<ConvGeom>()),
        _ => ConvBiasGrad(gy),
    };

    // inputs x, w and optionally b; the attribute is the geometry
    internal static readonly OpDef Conv2dOp = new("Conv2d", OpFamily.NN, "nn.functional.conv2d")
    {
        Vjp = ConvVjp,
        Jvp = (in OpCtx c, Tensor?[] t) => ConvTangent(t, c.X(0), c.X(1), c.A<ConvGeom>(), c.Y._shape),
        BatchedJvp = true, SavesFor = BilinearSaves,
        Batch = c => [ConvBatch(c, relu: false)],
        Samples = () => ConvSamples((x, w, b, s, p, d, groups) => Conv2d(x, w, b, s, p, d, groups)),
    };

    // ---- batching rules (vmap) -----------------------------------------------------------------
    // A batch of examples over the same weights folds into the convolution's N; per-example weights (ensembles,
    // per-sample weight gradients) fold into the channels as groups: B·groups groups of the examples side by side.

    /// <summary>[B, N, C, H, W] as [N, B·C, H, W] (the examples side by side as channel groups).</summary>
    private static Tensor ExamplesAsChannels(Tensor x) => x.Transpose(0, 1).Reshape([x._shape[1], x._shape[0] * x._shape[2], .. x._shape[3..]]);

    /// <summary>[N, B·O, ...] back to [B, N, O, ...].</summary>
    private static Tensor ChannelsAsExamples(Tensor y, int b) => y.Reshape([y._shape[0], b, y._shape[1] / b, .. y._shape[2..]]).Transpose(0, 1);

    /// <summary>The geometry of <paramref name="g"/> with <paramref name="b"/> examples as channel groups.</summary>
    private static ConvGeom AsGroups(ConvGeom g, int b) => g with { C = b * g.C, O = b * g.O, Groups = b * g.Groups };

    private static Tensor ConvBatch(BatchCtx c, bool relu)
    {
        var g = c.A<ConvGeom>();
        int b = c.B;
        bool hasBias = c.In.Length > 2;
        Tensor y;
        if (!c.Batched[1] && !(hasBias && c.Batched[2]))
        {
            var x = c.X(0);
            var xf = x.Reshape([b * g.N, .. x._shape[2..]]);
            // the fused kernel when ReLU follows: one output tensor, not a convolution's and then a ReLU's (a compiled
            // graph replays Conv2dRelu through this rule; two [N, O, OH, OW] tensors would raise its peak)
            y = relu ? Conv2dReluCore(xf, c.X(1), hasBias ? c.X(2) : null, g with { N = b * g.N })
                : Conv2dCore(xf, c.X(1), hasBias ? c.X(2) : null, g with { N = b * g.N });
            return y.Reshape([b, g.N, .. y._shape[1..]]);
        }
        else
        {
            var w = c.Materialize(1);
            var bias = hasBias ? c.Materialize(2).Reshape(b * g.O) : null;
            y = ChannelsAsExamples(Conv2dCore(ExamplesAsChannels(c.Materialize(0)), w.Reshape([b * g.O, .. w._shape[2..]]), bias, AsGroups(g, b) with { N = g.N }), b);
        }
        return relu ? y.Relu() : y;
    }

    /// <summary>Convolution samples: padding with bias, stride and dilation with groups, an unbatched input, a transposed weight view.</summary>
    private static IEnumerable<OpSample> ConvSamples(Func<Tensor, Tensor, Tensor?, Size2?, Size2?, Size2?, int, Tensor> f)
    {
        yield return new("padding 1, bias", [OpSamples.Make(OpSamples.Domain.Real, 1, 2, 2, 4, 4), OpSamples.Make(OpSamples.Domain.Real, 2, 3, 2, 3, 3), OpSamples.Make(OpSamples.Domain.Real, 3, 3)],
            t => f(t[0], t[1], t[2], null, 1, null, 1));
        yield return new("stride 2, dilation (1, 2), groups 2", [OpSamples.Make(OpSamples.Domain.Real, 4, 1, 4, 5, 6), OpSamples.Make(OpSamples.Domain.Real, 5, 4, 2, 2, 2)],
            t => f(t[0], t[1], null, 2, null, (1, 2), 2));
        yield return new("unbatched, noncontiguous weight", [OpSamples.Make(OpSamples.Domain.Real, 6, 2, 4, 3), OpSamples.Make(OpSamples.Domain.Real, 7, 2, 2, 2, 2).Transpose(2, 3), OpSamples.Make(OpSamples.Domain.Real, 8, 2)],
            t => f(t[0], t[1], t[2], null, (0, 1), null, 1));
    }

    /// <summary>
    /// The tangent of conv(x, w) + b for tangents t = [tx, tw, tb?] (null where zero). In vector forward mode
    /// each tangent carries a [k] prefix: the k input directions are folded into the batch (one convolution),
    /// the weight directions are folded into the output channels when groups = 1 (one convolution, then the
    /// channel blocks moved to the front), else taken one by one.
    /// </summary>
    private static Tensor? ConvTangent(Tensor?[] t, Tensor x, Tensor w, ConvGeom g, int[] yShape)
    {
        Tensor? r = null;
        if (t[0] is { } tx)
            r = tx.Rank == 4 ? Conv2dCore(tx, w, null, g) : FoldDirections(tx, tf => Conv2dCore(tf, w, null, g with { N = tf._shape[0] }));
        if (t[1] is { } tw)
        {
            Tensor rw;
            if (tw.Rank == 4) rw = Conv2dCore(x, tw, null, g);
            else if (g.Groups == 1)
            {
                int k = tw._shape[0];
                var stacked = Conv2dCore(x, tw.Reshape([k * g.O, .. tw._shape[2..]]), null, g with { O = k * g.O }); // [N, k·O, OH, OW]
                rw = stacked.Reshape(g.N, k, g.O, g.OH, g.OW).Transpose(0, 1);
            }
            else rw = EachDirection(tw, twj => Conv2dCore(x, twj, null, g));
            r = AddTangents(r, rw);
        }
        if (t.Length > 2 && t[2] is { } tb)
        {
            int[] bshape = tb.Rank == 1 ? [1, g.O, 1, 1] : [tb._shape[0], 1, g.O, 1, 1];
            r = r is null ? tb.Reshape(bshape).Expand([.. bshape[..^4], .. yShape]) : r + tb.Reshape(bshape);
        }
        return r;
    }

    /// <summary>Vector forward mode: applies <paramref name="f"/>, linear in its batch dim, to a [k, N, ...] tangent
    /// at once by folding k into N, and splits the result's batch back into [k, N, ...].</summary>
    private static Tensor FoldDirections(Tensor t, Func<Tensor, Tensor> f)
    {
        int k = t._shape[0];
        var r = f(t.Reshape([k * t._shape[1], .. t._shape[2..]]));
        return r.Reshape([k, r._shape[0] / k, .. r._shape[1..]]);
    }

    /// <summary>Vector forward mode: applies <paramref name="f"/> to each direction of a [k, ...] tangent and stacks the results.</summary>
    private static Tensor EachDirection(Tensor t, Func<Tensor, Tensor> f)
    {
        var parts = new Tensor[t._shape[0]];
        for (int j = 0; j < parts.Length; j++) parts[j] = f(t.Select(0, j));
        return Stack(parts, 0);
    }

    /// <summary>
    /// The bias gradient of a convolution: Σ of gy [N, O, OH, OW] over (N, OH, OW), shape [O], summed in
    /// place (a general <c>Sum([0, 2, 3])</c> would first copy gy into a reduction layout). Linear; VJP:
    /// the output gradient broadcast back to [N, O, OH, OW].
    /// </summary>
    private static Tensor ConvBiasGrad(Tensor gy)
    {
        int n = gy._shape[0], o = gy._shape[1], l = gy._shape[2] * gy._shape[3];
        var db = Empty([o], gy.DType);
        var ga = gy.DenseSpanArray(out int go);
        if (gy.DType == DType.Float32) Conv.BiasGrad((float[])ga, go, db.Storage.As<float>(), n, o, l);
        else Conv.BiasGrad((double[])ga, go, db.Storage.As<double>(), n, o, l);
        return Op.Tracking(gy) ? Op.Record(Conv2dBiasGradOp, db, [gy]) : db;
    }

    // linear; the shapes are the input's and the output's: no attributes
    internal static readonly OpDef Conv2dBiasGradOp = new("Conv2dBiasGrad", OpFamily.NN)
    {
        Linear = true,
        Replay = (x, _) => [ConvBiasGrad(x[0])],
        Vjp = (in OpCtx c, Tensor g, int i) => g.Reshape(1, c.Shape(0)[1], 1, 1).Expand(c.Shape(0)),
        Jvp = (in OpCtx c, Tensor?[] t) => t[0] is { } tg ? tg.Rank == 4 ? ConvBiasGrad(tg) : tg.Sum([1, 3, 4]) : null,
        BatchedJvp = true,
        Samples = () =>
        [
            new("[2, 3, 4, 5]", [OpSamples.Make(OpSamples.Domain.Real, 1, 2, 3, 4, 5)], t => ConvBiasGrad(t[0])),
            new("noncontiguous", [OpSamples.Make(OpSamples.Domain.Real, 2, 2, 3, 5, 4).Transpose(2, 3)], t => ConvBiasGrad(t[0])),
        ],
    };

    /// <summary>What a bilinear op's VJPs read: each input's gradient needs the other input.</summary>
    private static uint BilinearSaves(Tensor[] x) => x[0].RequiresGrad && x[1].RequiresGrad ? 3u : x[0].RequiresGrad ? 2u : 1u;

    /// <summary>A convolution geometry for samples: input [1, 2, 5, 5] (or <paramref name="n"/> batches), 3 output channels, a 3×3 kernel, stride 2, padding 1.</summary>
    private static ConvGeom SampleGeom(int n = 1) => new(n, 2, 5, 5, 3, 1, 3, 3, 2, 2, 1, 1, 1, 1);

    /// <summary>
    /// The input gradient of a convolution with geometry <paramref name="g"/>: convᵀ(gy, w), shape
    /// [N, C, H, W] (the transposed convolution). Bilinear; VJPs: conv(gg, w) for gy and
    /// Conv2dWeightGrad(gg, gy) for w.
    /// </summary>
    private static Tensor ConvInputGrad(Tensor gy, Tensor w, ConvGeom g)
    {
        var dx = Empty([g.N, g.C, g.H, g.W], gy.DType);
        var ga = gy.DenseSpanArray(out int go);
        var wa = w.DenseSpanArray(out int wo);
        if (gy.DType == DType.Float32) Conv.InputGrad((float[])ga, go, (float[])wa, wo, dx.Storage.As<float>(), g);
        else Conv.InputGrad((double[])ga, go, (double[])wa, wo, dx.Storage.As<double>(), g);
        return Op.Tracking(gy, w) ? Op.Record(Conv2dInputGradOp, dx, [gy, w], g) : dx;
    }

    // inputs gy and w, bilinear; the attribute is the geometry
    internal static readonly OpDef Conv2dInputGradOp = new("Conv2dInputGrad", OpFamily.NN)
    {
        Vjp = (in OpCtx c, Tensor gg, int i) => i == 0 ? Conv2dCore(gg, c.X(1), null, c.A<ConvGeom>()) : ConvWeightGrad(gg, c.X(0), c.A<ConvGeom>()),
        Jvp = (in OpCtx c, Tensor?[] t) =>
        {
            Tensor gy = c.X(0), w = c.X(1);
            var g = c.A<ConvGeom>();
            return AddTangents(
                t[0] is { } tg ? tg.Rank == 4 ? ConvInputGrad(tg, w, g) : FoldDirections(tg, tf => ConvInputGrad(tf, w, g with { N = tf._shape[0] })) : null,
                t[1] is { } tw ? tw.Rank == 4 ? ConvInputGrad(gy, tw, g) : EachDirection(tw, twj => ConvInputGrad(gy, twj, g)) : null);
        },
        BatchedJvp = true, SavesFor = BilinearSaves,
        Batch = c =>
        {
            var g = c.A<ConvGeom>();
            int b = c.B;
            if (!c.Batched[1])
            {
                var gy = c.X(0);
                var dx = ConvInputGrad(gy.Reshape([b * g.N, .. gy._shape[2..]]), c.X(1), g with { N = b * g.N });
                return [dx.Reshape([b, g.N, .. dx._shape[1..]])];
            }
            var w = c.X(1);
            return [ChannelsAsExamples(ConvInputGrad(ExamplesAsChannels(c.Materialize(0)), w.Reshape([b * g.O, .. w._shape[2..]]), AsGroups(g, b)), b)];
        },
        Samples = () =>
        [
            new("stride 2, padding 1", [OpSamples.Make(OpSamples.Domain.Real, 1, 2, 3, 3, 3), OpSamples.Make(OpSamples.Domain.Real, 2, 3, 2, 3, 3)], t => ConvInputGrad(t[0], t[1], SampleGeom(2))),
            new("conv_transpose2d, groups 2, output padding", [OpSamples.Make(OpSamples.Domain.Real, 3, 1, 4, 3, 3), OpSamples.Make(OpSamples.Domain.Real, 4, 4, 1, 2, 2), OpSamples.Make(OpSamples.Domain.Real, 5, 2)],
                t => ConvTranspose2d(t[0], t[1], t[2], stride: 2, outputPadding: 1, groups: 2)),
        ],
    };

    /// <summary>
    /// The weight gradient of a convolution with geometry <paramref name="g"/> for input x and output
    /// gradient gy, shape [O, C/groups, KH, KW]. Bilinear; VJPs: Conv2dInputGrad(gy, gg) for x and
    /// conv(x, gg) for gy.
    /// </summary>
    private static Tensor ConvWeightGrad(Tensor x, Tensor gy, ConvGeom g)
    {
        var dw = Empty([g.O, g.Cg, g.KH, g.KW], x.DType);
        var xa = x.DenseSpanArray(out int xo);
        var ga = gy.DenseSpanArray(out int go);
        if (x.DType == DType.Float32) Conv.WeightGrad((float[])xa, xo, (float[])ga, go, dw.Storage.As<float>(), g);
        else Conv.WeightGrad((double[])xa, xo, (double[])ga, go, dw.Storage.As<double>(), g);
        return Op.Tracking(x, gy) ? Op.Record(Conv2dWeightGradOp, dw, [x, gy], g) : dw;
    }

    // inputs x and gy, bilinear; the attribute is the geometry
    internal static readonly OpDef Conv2dWeightGradOp = new("Conv2dWeightGrad", OpFamily.NN)
    {
        Vjp = (in OpCtx c, Tensor gg, int i) => i == 0 ? ConvInputGrad(c.X(1), gg, c.A<ConvGeom>()) : Conv2dCore(c.X(0), gg, null, c.A<ConvGeom>()),
        Jvp = (in OpCtx c, Tensor?[] t) =>
        {
            Tensor x = c.X(0), gy = c.X(1);
            var g = c.A<ConvGeom>();
            return AddTangents(
                t[0] is { } tx ? tx.Rank == 4 ? ConvWeightGrad(tx, gy, g) : EachDirection(tx, txj => ConvWeightGrad(txj, gy, g)) : null,
                t[1] is { } tg ? tg.Rank == 4 ? ConvWeightGrad(x, tg, g) : EachDirection(tg, tgj => ConvWeightGrad(x, tgj, g)) : null);
        },
        BatchedJvp = true, SavesFor = BilinearSaves,
        Batch = c =>
        {
            // per-example weight gradients: the examples as B·groups channel groups, one convolution-gradient pass
            var g = c.A<ConvGeom>();
            int b = c.B;
            var dw = ConvWeightGrad(ExamplesAsChannels(c.Materialize(0)), ExamplesAsChannels(c.Materialize(1)), AsGroups(g, b));
            return [dw.Reshape([b, g.O, .. dw._shape[1..]])];
        },
        Samples = () =>
        [
            new("stride 2, padding 1", [OpSamples.Make(OpSamples.Domain.Real, 1, 2, 2, 5, 5), OpSamples.Make(OpSamples.Domain.Real, 2, 2, 3, 3, 3)], t => ConvWeightGrad(t[0], t[1], SampleGeom(2))),
            new("noncontiguous", [OpSamples.Make(OpSamples.Domain.Real, 3, 1, 2, 5, 5).Transpose(2, 3), OpSamples.Make(OpSamples.Domain.Real, 4, 1, 3, 3, 3)], t => ConvWeightGrad(t[0], t[1], SampleGeom())),
        ],
    };

    // ---- unfold / fold -----------------------------------------------------------------------

    /// <summary>
    /// Extracts sliding blocks (PyTorch's <c>F.unfold</c>, im2col): input [N, C, H, W] (or [C, H, W]) gives
    /// [N, C·KH·KW, L] where column l = (oh, ow) holds the (zero-padded) window at that output position,
    /// rows ordered (c, i, j). The adjoint of <see cref="Fold"/>.
    /// </summary>
    public static Tensor Unfold(Tensor input, Size2 kernelSize, Size2? dilation = null, Size2? padding = null, Size2? stride = null)
    {
        const string op = "Unfold";
        var (x, unbatched) = Batched(op, input, "input");
        x.CheckFloat(op);
        Size2 d = dilation ?? 1, p = padding ?? 0, s = stride ?? 1;
        CheckWindowArgs(op, s, p, d);
        if (kernelSize.H <= 0 || kernelSize.W <= 0) throw new ArgumentException($"{op}: kernelSize must be positive, got {kernelSize}.");
        var g = new ConvGeom(x._shape[0], x._shape[1], x._shape[2], x._shape[3], 1, 1, kernelSize.H, kernelSize.W, s.H, s.W, p.H, p.W, d.H, d.W);
        if (g.OH <= 0 || g.OW <= 0 || x._shape[2] + 2 * p.H < d.H * (kernelSize.H - 1) + 1 || x._shape[3] + 2 * p.W < d.W * (kernelSize.W - 1) + 1)
            throw new ShapeMismatchException($"{op}: no complete block of size {kernelSize} (dilation {d}) fits in the input {ShapeUtil.Format(x.Shape)} with padding {p}.");
        var y = UnfoldCore(x, g);
        return unbatched ? y.Squeeze(0) : y;
    }

    /// <summary>
    /// Sums sliding blocks back into an image (PyTorch's <c>F.fold</c>, col2im): input [N, C·KH·KW, L]
    /// (or [C·KH·KW, L]) gives [N, C, outputSize.H, outputSize.W]; overlapping entries add up. The adjoint of <see cref="Unfold"/>.
    /// </summary>
    public static Tensor Fold(Tensor input, Size2 outputSize, Size2 kernelSize, Size2? dilation = null, Size2? padding = null, Size2? stride = null)
    {
        const string op = "Fold";
        input.CheckFloat(op);
        bool unbatched = input.Rank == 2;
        if (input.Rank != 3 && !unbatched)
            throw new ShapeMismatchException($"{op}: expected a 3-D input [N, C·kH·kW, L] (or 2-D without batch), got shape {ShapeUtil.Format(input.Shape)}.");
        var x = unbatched ? input.Unsqueeze(0) : input;
        Size2 d = dilation ?? 1, p = padding ?? 0, s = stride ?? 1;
        CheckWindowArgs(op, s, p, d);
        if (kernelSize.H <= 0 || kernelSize.W <= 0) throw new ArgumentException($"{op}: kernelSize must be positive, got {kernelSize}.");
        int kk = kernelSize.H * kernelSize.W;
        if (x._shape[1] % kk != 0)
            throw new ShapeMismatchException($"{op}: the input's dim 1 ({x._shape[1]}, input {ShapeUtil.Format(input.Shape)}) must be divisible by the kernel area {kernelSize.H}·{kernelSize.W} = {kk}.");
        var g = new ConvGeom(x._shape[0], x._shape[1] / kk, outputSize.H, outputSize.W, 1, 1, kernelSize.H, kernelSize.W, s.H, s.W, p.H, p.W, d.H, d.W);
        if (outputSize.H <= 0 || outputSize.W <= 0 || g.OH <= 0 || g.OW <= 0 || g.L != x._shape[2])
            throw new ShapeMismatchException(
                $"{op}: the input has {x._shape[2]} blocks (input {ShapeUtil.Format(input.Shape)}), but an output of size {outputSize} with kernel {kernelSize}, dilation {d}, padding {p} and stride {s} has {Math.Max(0, g.OH) * Math.Max(0, g.OW)}.");
        var y = FoldCore(x, g);
        return unbatched ? y.Squeeze(0) : y;
    }

    private static Tensor UnfoldCore(Tensor x, ConvGeom g)
    {
        var y = Empty([g.N, g.C * g.KH * g.KW, g.L], x.DType);
        var xa = x.DenseSpanArray(out int xo);
        if (x.DType == DType.Float32) Conv.Unfold((float[])xa, xo, y.Storage.As<float>(), g);
        else Conv.Unfold((double[])xa, xo, y.Storage.As<double>(), g);
        return Op.Tracking(x) ? Op.Record(UnfoldOp, y, [x], g) : y;
    }

    // linear adjoint pair with Fold; the attribute is the geometry
    internal static readonly OpDef UnfoldOp = new("Unfold", OpFamily.NN, "nn.functional.unfold")
    {
        Vjp = (in OpCtx c, Tensor g, int i) => FoldCore(g, c.A<ConvGeom>()),
        Jvp = (in OpCtx c, Tensor?[] t) => t[0] is { } tx ? UnfoldCore(tx, c.A<ConvGeom>()) : null,
        Samples = () =>
        [
            new("kernel 2, padding 1, stride 2", [OpSamples.Make(OpSamples.Domain.Real, 1, 2, 2, 4, 5)], t => Unfold(t[0], 2, padding: 1, stride: 2)),
            new("unbatched, dilation, noncontiguous", [OpSamples.Make(OpSamples.Domain.Real, 2, 2, 5, 5).Transpose(1, 2)], t => Unfold(t[0], (2, 3), dilation: 2)),
        ],
    };

    private static Tensor FoldCore(Tensor cols, ConvGeom g)
    {
        var y = Empty([g.N, g.C, g.H, g.W], cols.DType);
        var ca = cols.DenseSpanArray(out int co);
        if (cols.DType == DType.Float32) Conv.Fold((float[])ca, co, y.Storage.As<float>(), g);
        else Conv.Fold((double[])ca, co, y.Storage.As<double>(), g);
        return Op.Tracking(cols) ? Op.Record(FoldOp, y, [cols], g) : y;
    }

    internal static readonly OpDef FoldOp = new("Fold", OpFamily.NN)
    {
        Vjp = (in OpCtx c, Tensor g, int i) => UnfoldCore(g, c.A<ConvGeom>()),
        Jvp = (in OpCtx c, Tensor?[] t) => t[0] is { } tc ? FoldCore(tc, c.A<ConvGeom>()) : null,
        Samples = () =>
        [
            new("overlapping blocks", [OpSamples.Make(OpSamples.Domain.Real, 1, 2, 8, 18)], t => Fold(t[0], (4, 5), 2, padding: 1, stride: (2, 1))),
            new("unbatched", [OpSamples.Make(OpSamples.Domain.Real, 2, 4, 6)], t => Fold(t[0], (3, 4), 2)),
        ],
    };

    // ---- pooling -----------------------------------------------------------------------------

    /// <summary>PyTorch's pooling output size: ⌊(n + 2p − d(k − 1) − 1 (+ s − 1 when ceil)) / s⌋ + 1, minus one
    /// when ceil mode would start the last window in the right padding.</summary>
    private static int PoolOutSize(int n, int k, int p, int s, int d, bool ceil)
    {
        int num = n + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0);
        int o = (int)Math.Floor((double)num / s) + 1;
        if (ceil && (o - 1) * s >= n + p) o--;
        return o;
    }

    private static PoolGeom PoolGeometry(string op, Tensor x, Size2 k, Size2 s, Size2 p, Size2 d, bool ceil)
    {
        if (k.H <= 0 || k.W <= 0) throw new ArgumentException($"{op}: kernelSize must be positive, got {k}.");
        CheckWindowArgs(op, s, p, d);
        if (p.H > k.H / 2 || p.W > k.W / 2)
            throw new ArgumentException($"{op}: padding {p} must be at most half the kernel size {k}.");
        int h = x._shape[2], w = x._shape[3];
        int oh = PoolOutSize(h, k.H, p.H, s.H, d.H, ceil), ow = PoolOutSize(w, k.W, p.W, s.W, d.W, ceil);
        if (oh <= 0 || ow <= 0)
            throw new ShapeMismatchException($"{op}: the output size ({oh}, {ow}) is too small for input {ShapeUtil.Format(x.Shape)} with kernel {k}, stride {s}, padding {p} and dilation {d}.");
        return new PoolGeom(h, w, oh, ow, k.H, k.W, s.H, s.W, p.H, p.W, d.H, d.W);
    }

    /// <summary>
    /// 2-D max pooling (PyTorch's <c>max_pool2d</c>) over input [N, C, H, W] (or [C, H, W]); stride defaults
    /// to the kernel size; padding counts as −∞ and is at most half the kernel. The gradient goes to the
    /// position of each window's maximum (the first one on ties, as PyTorch) and accumulates where windows overlap.
    /// </summary>
    public static Tensor MaxPool2d(Tensor input, Size2 kernelSize, Size2? stride = null, Size2? padding = null, Size2? dilation = null, bool ceilMode = false)
    {
        var (y, _, unbatched) = MaxPoolCore(input, kernelSize, stride, padding, dilation, ceilMode);
        return unbatched ? y.Squeeze(0) : y;
    }

    /// <summary>2-D max pooling of this tensor (see the static overload).</summary>
    public Tensor MaxPool2d(Size2 kernelSize, Size2? stride = null, Size2? padding = null, Size2? dilation = null, bool ceilMode = false) =>
        MaxPool2d(this, kernelSize, stride, padding, dilation, ceilMode);

    /// <summary>
    /// Max pooling that also returns the int64 indices of the maxima (flat positions ih·W + iw within
    /// each input plane, as PyTorch's <c>return_indices=True</c>).
    /// </summary>
    public static (Tensor Values, Tensor Indices) MaxPool2dWithIndices(Tensor input, Size2 kernelSize, Size2? stride = null, Size2? padding = null, Size2? dilation = null, bool ceilMode = false)
    {
        var (y, idx, unbatched) = MaxPoolCore(input, kernelSize, stride, padding, dilation, ceilMode);
        var idx64 = new long[idx.Length];
        for (int i = 0; i < idx.Length; i++) idx64[i] = idx[i];
        var it = Wrap(idx64, y.ShapeArray);
        return unbatched ? (y.Squeeze(0), it.Squeeze(0)) : (y, it);
    }

    /// <summary>
    /// Max pooling of a batched or unbatched input: the (batched) values, the int32 plane indices of the
    /// maxima (private to the graph: the VJP and JVP capture them, so no tensor needs saving) and whether
    /// the input was unbatched. VJP: <see cref="MaxPoolScatter"/>; JVP: <see cref="MaxPoolGather"/>.
    /// </summary>
    private static (Tensor Values, int[] Indices, bool Unbatched) MaxPoolCore(Tensor input, Size2 kernelSize, Size2? stride, Size2? padding, Size2? dilation, bool ceilMode, PoolGeom? geometry = null)
    {
        const string op = "MaxPool2d";
        var (x, unbatched) = Batched(op, input, "input");
        x.CheckFloat(op);
        var pg = geometry ?? PoolGeometry(op, x, kernelSize, stride ?? kernelSize, padding ?? 0, dilation ?? 1, ceilMode);
        int n = x._shape[0], c = x._shape[1];
        var y = Empty([n, c, pg.OH, pg.OW], x.DType);
        var idx = GC.AllocateUninitializedArray<int>(n * c * pg.OH * pg.OW);
        var xa = x.DenseSpanArray(out int xo);
        if (x.DType == DType.Float32) Conv.MaxPool((float[])xa, xo, y.Storage.As<float>(), idx, n * c, pg);
        else Conv.MaxPool((double[])xa, xo, y.Storage.As<double>(), idx, n * c, pg);
        if (Op.Tracking(x)) y = Op.Record(MaxPool2dOp, y, [x], new MaxPoolIndex(idx, n, c, pg.H, pg.W, pg.OH, pg.OW) { Geometry = pg });
        return (y, idx, unbatched);
    }

    // the attribute holds the argmax positions (private to the graph, so nothing needs saving)
    internal static readonly OpDef MaxPool2dOp = new("MaxPool2d", OpFamily.NN, "nn.functional.max_pool2d")
    {
        Vjp = (in OpCtx c, Tensor gy, int i) => MaxPoolScatter(gy, c.A<MaxPoolIndex>()),
        Jvp = (in OpCtx c, Tensor?[] t) => t[0] is { } tx ? MaxPoolGatherDirections(tx, c.A<MaxPoolIndex>()) : null,
        BatchedJvp = true, BatchRecomputesAttr = true,
        ReplayAttr = (x, a) =>
        {
            var p = (MaxPoolIndex)a!;
            var pg = p.Geometry!;
            var (y, idx, _) = MaxPoolCore(x[0], (pg.KH, pg.KW), (pg.SH, pg.SW), (pg.PH, pg.PW), (pg.DH, pg.DW), false, pg);
            return ([y], p with { Index = idx });
        },
        Batch = c =>
        {
            // the examples folded into N and pooled again (each example's own argmax positions)
            var p = c.A<MaxPoolIndex>();
            var pg = p.Geometry!;
            var x = c.X(0).Reshape(c.B * p.N, p.C, p.H, p.W);
            var (y, _, _) = MaxPoolCore(x, (pg.KH, pg.KW), (pg.SH, pg.SW), (pg.PH, pg.PW), (pg.DH, pg.DW), false, pg);
            return [y.Reshape(c.B, p.N, p.C, p.OH, p.OW)];
        },
        Samples = () =>
        [
            new("kernel 2", [OpSamples.Make(OpSamples.Domain.Real, 1, 2, 2, 4, 5)], t => MaxPool2d(t[0], 2)),
            new("overlapping, padding, ceil mode", [OpSamples.Make(OpSamples.Domain.Real, 2, 1, 2, 6, 5)], t => MaxPool2d(t[0], 3, stride: 2, padding: 1, ceilMode: true)),
            new("unbatched, dilation, noncontiguous", [OpSamples.Make(OpSamples.Domain.Real, 3, 2, 5, 6).Transpose(1, 2)], t => MaxPool2d(t[0], 2, stride: 1, dilation: 2)),
        ],
    };

    /// <summary>Argmax positions of a 3×3, stride 2, padding 1 max pooling of a fixed [2, 2, 5, 5] input, for the adjoint ops' samples.</summary>
    private static MaxPoolIndex SampleMaxPoolIndex()
    {
        var x = OpSamples.Make(OpSamples.Domain.Real, 20, 2, 2, 5, 5);
        var (y, idx, _) = MaxPoolCore(x, 3, 2, 1, null, false);
        return new MaxPoolIndex(idx, 2, 2, 5, 5, y.Shape[2], y.Shape[3]);
    }

    /// <summary>The argmax positions of a max pooling of [N, C, H, W] into [N, C, OH, OW] (flat within each plane).</summary>
    private sealed record MaxPoolIndex(int[] Index, int N, int C, int H, int W, int OH, int OW)
    {
        /// <summary>The pooling's geometry (kept for the batching rule, which pools again).</summary>
        public PoolGeom? Geometry { get; init; }

        /// <summary>The same positions for a batch of k copies (k·N samples), for vector-mode tangents.</summary>
        public MaxPoolIndex Repeat(int k)
        {
            var idx = new int[Index.Length * k];
            for (int j = 0; j < k; j++) Index.CopyTo(idx, j * Index.Length);
            return this with { Index = idx, N = N * k };
        }
    }

    /// <summary><see cref="MaxPoolGather"/> of a tangent [N, C, H, W] or of k vector-mode directions [k, N, C, H, W] in one call.</summary>
    private static Tensor MaxPoolGatherDirections(Tensor t, MaxPoolIndex p)
    {
        if (t.Rank == 4) return MaxPoolGather(t, p);
        int k = t._shape[0];
        return MaxPoolGather(t.Reshape(k * p.N, p.C, p.H, p.W), p.Repeat(k)).Reshape(k, p.N, p.C, p.OH, p.OW);
    }

    /// <summary>The max pooling's input gradient, zeros with gy scatter-added at the argmax positions; linear in gy,
    /// its VJP is <see cref="MaxPoolGather"/>.</summary>
    private static Tensor MaxPoolScatter(Tensor gy, MaxPoolIndex p)
    {
        var dx = Empty([p.N, p.C, p.H, p.W], gy.DType);
        var ga = gy.DenseSpanArray(out int go);
        if (gy.DType == DType.Float32) Conv.MaxPoolScatter((float[])ga, go, p.Index, dx.Storage.As<float>(), p.N * p.C, p.H * p.W, p.OH * p.OW);
        else Conv.MaxPoolScatter((double[])ga, go, p.Index, dx.Storage.As<double>(), p.N * p.C, p.H * p.W, p.OH * p.OW);
        return Op.Tracking(gy) ? Op.Record(MaxPool2dBackwardOp, dx, [gy], p) : dx;
    }

    internal static readonly OpDef MaxPool2dBackwardOp = new("MaxPool2dBackward", OpFamily.NN)
    {
        Replay = (x, a) => [MaxPoolScatter(x[0], (MaxPoolIndex)a!)],
        Vjp = (in OpCtx c, Tensor gg, int i) => MaxPoolGather(gg, c.A<MaxPoolIndex>()),
        Jvp = (in OpCtx c, Tensor?[] t) => t[0] is { } tg ? MaxPoolScatter(tg, c.A<MaxPoolIndex>()) : null,
        Samples = () => [new("overlapping windows", [OpSamples.Make(OpSamples.Domain.Real, 1, 2, 2, 3, 3)], t => MaxPoolScatter(t[0], SampleMaxPoolIndex()))],
    };

    /// <summary>The values of t [N, C, H, W] at the argmax positions, [N, C, OH, OW]; linear in t, its VJP is
    /// <see cref="MaxPoolScatter"/>.</summary>
    private static Tensor MaxPoolGather(Tensor t, MaxPoolIndex p)
    {
        var y = Empty([p.N, p.C, p.OH, p.OW], t.DType);
        var ta = t.DenseSpanArray(out int to);
        if (t.DType == DType.Float32) Conv.MaxPoolGather((float[])ta, to, p.Index, y.Storage.As<float>(), p.N * p.C, p.H * p.W, p.OH * p.OW);
        else Conv.MaxPoolGather((double[])ta, to, p.Index, y.Storage.As<double>(), p.N * p.C, p.H * p.W, p.OH * p.OW);
        return Op.Tracking(t) ? Op.Record(MaxPool2dGatherOp, y, [t], p) : y;
    }

    internal static readonly OpDef MaxPool2dGatherOp = new("MaxPool2dGather", OpFamily.NN)
    {
        Replay = (x, a) => [MaxPoolGather(x[0], (MaxPoolIndex)a!)],
        Vjp = (in OpCtx c, Tensor gy, int i) => MaxPoolScatter(gy, c.A<MaxPoolIndex>()),
        Jvp = (in OpCtx c, Tensor?[] t) => t[0] is { } tg ? MaxPoolGather(tg, c.A<MaxPoolIndex>()) : null,
        Samples = () => [new("overlapping windows", [OpSamples.Make(OpSamples.Domain.Real, 1, 2, 2, 5, 5)], t => MaxPoolGather(t[0], SampleMaxPoolIndex()))],
    };

    /// <summary>
    /// 2-D average pooling (PyTorch's <c>avg_pool2d</c>) over input [N, C, H, W] (or [C, H, W]); stride
    /// defaults to the kernel size. Each window's sum is divided by its size including the zero padding
    /// (countIncludePad, the default), by the number of real input elements, or by <paramref name="divisorOverride"/>.
    /// </summary>
    public static Tensor AvgPool2d(Tensor input, Size2 kernelSize, Size2? stride = null, Size2? padding = null, bool ceilMode = false, bool countIncludePad = true, int? divisorOverride = null)
    {
        const string op = "AvgPool2d";
        var (x, unbatched) = Batched(op, input, "input");
        x.CheckFloat(op);
        var y = WindowPool(adaptive: false, x, AvgPoolWindows(op, x, kernelSize, stride, padding, ceilMode, countIncludePad, divisorOverride));
        return unbatched ? y.Squeeze(0) : y;
    }

    /// <summary>The windows of an average pooling of x [N, C, H, W] (see <see cref="AvgPool2d(Tensor, Size2, Size2?, Size2?, bool, bool, int?)"/>).</summary>
    private static Conv.PoolWindows AvgPoolWindows(string op, Tensor x, Size2 kernelSize, Size2? stride, Size2? padding, bool ceilMode, bool countIncludePad, int? divisorOverride)
    {
        if (divisorOverride is <= 0) throw new ArgumentException($"{op}: divisorOverride must be positive, got {divisorOverride}.");
        var pg = PoolGeometry(op, x, kernelSize, stride ?? kernelSize, padding ?? 0, 1, ceilMode);
        static void Axis(int n, int o, int k, int s, int p, bool includePad, out int[] start, out int[] end, out int[] div)
        {
            start = new int[o];
            end = new int[o];
            div = new int[o];
            for (int i = 0; i < o; i++)
            {
                int a = i * s - p, b = Math.Min(a + k, n + p);
                int padded = b - a;
                a = Math.Max(a, 0);
                b = Math.Min(b, n);
                start[i] = a;
                end[i] = Math.Max(a, b);
                // an empty window gives 0 (its divisor only has to be nonzero)
                div[i] = b <= a ? 1 : includePad ? padded : b - a;
            }
        }
        Axis(pg.H, pg.OH, pg.KH, pg.SH, pg.PH, countIncludePad, out var hs, out var he, out var hd);
        Axis(pg.W, pg.OW, pg.KW, pg.SW, pg.PW, countIncludePad, out var ws, out var we, out var wd);
        return new Conv.PoolWindows(pg.H, pg.W, hs, he, ws, we, hd, wd, divisorOverride);
    }

    /// <summary>2-D average pooling of this tensor (see the static overload).</summary>
    public Tensor AvgPool2d(Size2 kernelSize, Size2? stride = null, Size2? padding = null, bool ceilMode = false, bool countIncludePad = true, int? divisorOverride = null) =>
        AvgPool2d(this, kernelSize, stride, padding, ceilMode, countIncludePad, divisorOverride);

    /// <summary>
    /// Adaptive 2-D average pooling (PyTorch's <c>adaptive_avg_pool2d</c>): input [N, C, H, W] (or [C, H, W])
    /// to [N, C, outputSize.H, outputSize.W]; output row i averages input rows ⌊i·H/OH⌋ ..
    /// ⌈(i + 1)·H/OH⌉ − 1, and likewise for columns.
    /// </summary>
    public static Tensor AdaptiveAvgPool2d(Tensor input, Size2 outputSize)
    {
        const string op = "AdaptiveAvgPool2d";
        var (x, unbatched) = Batched(op, input, "input");
        x.CheckFloat(op);
        var y = WindowPool(adaptive: true, x, AdaptiveWindows(op, x, outputSize));
        return unbatched ? y.Squeeze(0) : y;
    }

    /// <summary>The windows of an adaptive average pooling of x [N, C, H, W] to <paramref name="outputSize"/>.</summary>
    private static Conv.PoolWindows AdaptiveWindows(string op, Tensor x, Size2 outputSize)
    {
        if (outputSize.H <= 0 || outputSize.W <= 0) throw new ArgumentException($"{op}: outputSize must be positive, got {outputSize}.");
        int h = x._shape[2], w = x._shape[3];
        if (h == 0 || w == 0) throw new ShapeMismatchException($"{op}: the input {ShapeUtil.Format(x.Shape)} has an empty spatial dim.");
        static void Axis(int n, int o, out int[] start, out int[] end, out int[] div)
        {
            start = new int[o];
            end = new int[o];
            div = new int[o];
            for (int i = 0; i < o; i++)
            {
                start[i] = (int)((long)i * n / o);
                end[i] = (int)(((long)(i + 1) * n + o - 1) / o);
                div[i] = end[i] - start[i];
            }
        }
        Axis(h, outputSize.H, out var hs, out var he, out var hd);
        Axis(w, outputSize.W, out var ws, out var we, out var wd);
        return new Conv.PoolWindows(h, w, hs, he, ws, we, hd, wd, null);
    }

    /// <summary>2-D adaptive average pooling of this tensor (see the static overload).</summary>
    public Tensor AdaptiveAvgPool2d(Size2 outputSize) => AdaptiveAvgPool2d(this, outputSize);

    /// <summary>The linear window-average primitive; its VJP is its adjoint <see cref="WindowPoolAdjoint"/>.</summary>
    private static Tensor WindowPool(bool adaptive, Tensor x, Conv.PoolWindows win)
    {
        int n = x._shape[0], c = x._shape[1];
        var y = Empty([n, c, win.OH, win.OW], x.DType);
        var xa = x.DenseSpanArray(out int xo);
        if (x.DType == DType.Float32) Conv.AvgPool((float[])xa, xo, y.Storage.As<float>(), n * c, win);
        else Conv.AvgPool((double[])xa, xo, y.Storage.As<double>(), n * c, win);
        return Op.Tracking(x) ? Op.Record(adaptive ? AdaptiveAvgPool2dOp : AvgPool2dOp, y, [x], win) : y;
    }

    /// <summary>The adjoint of <see cref="WindowPool"/> (the average pooling's input gradient); its VJP is the pooling.</summary>
    private static Tensor WindowPoolAdjoint(bool adaptive, Tensor gy, Conv.PoolWindows win)
    {
        int n = gy._shape[0], c = gy._shape[1];
        var dx = Empty([n, c, win.H, win.W], gy.DType);
        var ga = gy.DenseSpanArray(out int go);
        if (gy.DType == DType.Float32) Conv.AvgPoolAdjoint((float[])ga, go, dx.Storage.As<float>(), n * c, win);
        else Conv.AvgPoolAdjoint((double[])ga, go, dx.Storage.As<double>(), n * c, win);
        return Op.Tracking(gy) ? Op.Record(adaptive ? AdaptiveAvgPool2dBackwardOp : AvgPool2dBackwardOp, dx, [gy], win) : dx;
    }

    // the window pooling and its adjoint are linear and each other's VJP; the attribute is the windows
    private static OpDef WindowPoolDef(string name, bool adaptive, bool adjoint, Func<IEnumerable<OpSample>> samples, params string[] torch) => new(name, OpFamily.NN, torch)
    {
        Vjp = (in OpCtx c, Tensor g, int i) => adjoint ? WindowPool(adaptive, g, c.A<Conv.PoolWindows>()) : WindowPoolAdjoint(adaptive, g, c.A<Conv.PoolWindows>()),
        // linear per plane: a vector-mode tangent [k, N, C, H, W] pools as a batch of k·N
        Jvp = (in OpCtx c, Tensor?[] t) =>
        {
            if (t[0] is not { } tx) return null;
            var win = c.A<Conv.PoolWindows>();
            return FoldDirections(tx, c.X(0).Rank, v => adjoint ? WindowPoolAdjoint(adaptive, v, win) : WindowPool(adaptive, v, win));
        },
        BatchedJvp = true, Linear = true,
        Samples = samples,
    };

    /// <summary>Applies a per-sample linear 4-d op <paramref name="f"/> to a tangent that may carry a leading vector-mode
    /// direction dim ([k, N, C, H, W] for a primal of rank <paramref name="primalRank"/> = 4): the directions are folded
    /// into the batch for one call, then unfolded.</summary>
    private static Tensor FoldDirections(Tensor t, int primalRank, Func<Tensor, Tensor> f)
    {
        if (t.Rank == primalRank) return f(t);
        int k = t._shape[0], n = t._shape[1];
        var y = f(t.Reshape([k * n, .. t.ShapeArray[2..]]));
        return y.Reshape([k, n, .. y.ShapeArray[1..]]);
    }

    private static Conv.PoolWindows SampleAvgWindows() =>
        AvgPoolWindows("AvgPool2d", Empty([1, 1, 5, 6], DType.Float64), 3, 2, 1, true, false, null);

    internal static readonly OpDef AvgPool2dOp = WindowPoolDef("AvgPool2d", adaptive: false, adjoint: false, () =>
    [
        new("kernel 2", [OpSamples.Make(OpSamples.Domain.Real, 1, 2, 2, 4, 5)], t => AvgPool2d(t[0], 2)),
        new("overlapping, padding, ceil mode, excluding padding", [OpSamples.Make(OpSamples.Domain.Real, 2, 1, 2, 5, 6)], t => AvgPool2d(t[0], 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false)),
        new("unbatched, divisor override, noncontiguous", [OpSamples.Make(OpSamples.Domain.Real, 3, 2, 5, 4).Transpose(1, 2)], t => AvgPool2d(t[0], (2, 3), stride: 1, divisorOverride: 5)),
    ], "nn.functional.avg_pool2d");

    internal static readonly OpDef AvgPool2dBackwardOp = WindowPoolDef("AvgPool2dBackward", adaptive: false, adjoint: true, () =>
    [
        new("overlapping, padding, ceil mode", [OpSamples.Make(OpSamples.Domain.Real, 1, 2, 1, 3, 4)], t => WindowPoolAdjoint(false, t[0], SampleAvgWindows())),
    ]);

    internal static readonly OpDef AdaptiveAvgPool2dOp = WindowPoolDef("AdaptiveAvgPool2d", adaptive: true, adjoint: false, () =>
    [
        new("[5, 7] to (3, 4)", [OpSamples.Make(OpSamples.Domain.Real, 1, 2, 2, 5, 7)], t => AdaptiveAvgPool2d(t[0], (3, 4))),
        new("unbatched, upsampling, noncontiguous", [OpSamples.Make(OpSamples.Domain.Real, 2, 2, 3, 2).Transpose(1, 2)], t => AdaptiveAvgPool2d(t[0], 4)),
    ], "nn.functional.adaptive_avg_pool2d");

    internal static readonly OpDef AdaptiveAvgPool2dBackwardOp = WindowPoolDef("AdaptiveAvgPool2dBackward", adaptive: true, adjoint: true, () =>
    [
        new("[5, 7] from (3, 4)", [OpSamples.Make(OpSamples.Domain.Real, 1, 2, 2, 3, 4)], t => WindowPoolAdjoint(true, t[0], AdaptiveWindows("AdaptiveAvgPool2d", Empty([1, 1, 5, 7], DType.Float64), (3, 4)))),
    ]);
}
