using Fluxion.Nn;
using Fluxion.Optim;

namespace Fluxion.Tests;

/// <summary>
/// The Transformer layers (encoder/decoder layers, stacks, the full model) and LSTM with proj_size against PyTorch 1.13
/// (golden/nn_layers.json, made by tests/golden/make_nn_layers.py): each case loads the PyTorch module's state dict (strict:
/// the parameter names must match) and compares the outputs and the gradients of the inputs and of every parameter. Also
/// the masks, initialization, errors, and a small LSTM sequence classifier that trains.
/// </summary>
public class NnLayersTests
{
    private const string Family = "nn_layers";

    private static TransformerActivation Act(GoldenArgs a) => a.String("activation") == "gelu" ? TransformerActivation.Gelu : TransformerActivation.Relu;

    /// <summary>The module built from the case's args, with the case's parameters loaded; gradients of the parameter inputs are
    /// taken with respect to the module's parameters. Returns the module and a lookup of the mask inputs by PyTorch name.</summary>
    private static (T Module, Func<string, Tensor?> Mask) Load<T>(T m, Tensor[] x, GoldenArgs a, Tensor?[] gradWrt, int data) where T : Module
    {
        var names = a.Strings("params")!;
        var masks = a.Strings("masks")!;
        int first = data + masks.Length;
        var state = new Dictionary<string, Tensor>();
        for (int i = 0; i < names.Length; i++) state[names[i]] = x[first + i];
        m.LoadStateDict(state); // strict: PyTorch's names, all of them
        var mine = m.StateDict();
        for (int i = 0; i < names.Length; i++) gradWrt[first + i] = mine[names[i]];
        return (m, n => Array.IndexOf(masks, n) is var k and >= 0 ? x[data + k] : null);
    }

    private static TransformerEncoderLayer EncoderLayer(GoldenArgs a) =>
        new(a.Int("d_model"), a.Int("nhead"), a.Int("dim_feedforward"), 0, Act(a), a.Double("layer_norm_eps"), a.Bool("batch_first"), a.Bool("norm_first"), DType.Float64);

    private static TransformerDecoderLayer DecoderLayer(GoldenArgs a) =>
        new(a.Int("d_model"), a.Int("nhead"), a.Int("dim_feedforward"), 0, Act(a), a.Double("layer_norm_eps"), a.Bool("batch_first"), a.Bool("norm_first"), DType.Float64);

    private static LayerNorm? FinalNorm(GoldenArgs a) => a.Bool("final_norm") ? new LayerNorm(a.Int("d_model"), dtype: DType.Float64) : null;

    private static readonly Dictionary<string, GoldenFamily.OpFn> Ops = new()
    {
        ["TransformerEncoderLayer"] = (x, a, w) =>
        {
            var (m, mask) = Load(EncoderLayer(a), x, a, w, 1);
            return [m.Forward(x[0], mask("src_mask"), mask("src_key_padding_mask"))];
        },
        ["TransformerEncoder"] = (x, a, w) =>
        {
            var (m, mask) = Load(new TransformerEncoder(EncoderLayer(a), a.Int("num_layers"), FinalNorm(a)), x, a, w, 1);
            return [m.Forward(x[0], mask("mask"), mask("src_key_padding_mask"))];
        },
        ["TransformerDecoderLayer"] = (x, a, w) =>
        {
            var (m, mask) = Load(DecoderLayer(a), x, a, w, 2);
            return [m.Forward(x[0], x[1], mask("tgt_mask"), mask("memory_mask"), mask("tgt_key_padding_mask"), mask("memory_key_padding_mask"))];
        },
        ["TransformerDecoder"] = (x, a, w) =>
        {
            var (m, mask) = Load(new TransformerDecoder(DecoderLayer(a), a.Int("num_layers"), FinalNorm(a)), x, a, w, 2);
            return [m.Forward(x[0], x[1], mask("tgt_mask"), mask("memory_mask"), mask("tgt_key_padding_mask"), mask("memory_key_padding_mask"))];
        },
        ["Transformer"] = (x, a, w) =>
        {
            var t = new Transformer(a.Int("d_model"), a.Int("nhead"), a.Int("num_encoder_layers"), a.Int("num_decoder_layers"), a.Int("dim_feedforward"), 0,
                Act(a), a.Double("layer_norm_eps"), a.Bool("batch_first"), a.Bool("norm_first"), DType.Float64);
            var (m, mask) = Load(t, x, a, w, 2);
            return [m.Forward(x[0], x[1], mask("src_mask"), mask("tgt_mask"), mask("memory_mask"), mask("src_key_padding_mask"),
                mask("tgt_key_padding_mask"), mask("memory_key_padding_mask"))];
        },
        ["LSTM"] = (x, a, w) =>
        {
            int ns = a.Int("states");
            var lstm = new LSTM(a.Int("input_size"), a.Int("hidden_size"), a.IntOrNull("num_layers") ?? 1, !a.Has("bias") || a.Bool("bias"),
                a.Has("batch_first") && a.Bool("batch_first"), 0, a.Has("bidirectional") && a.Bool("bidirectional"), DType.Float64, projSize: a.Int("proj_size"));
            var names = a.Strings("params")!;
            lstm.LoadStateDict(names.Select((n, i) => (n, x[1 + ns + i])).ToDictionary(p => p.n, p => p.Item2));
            var mine = lstm.StateDict();
            for (int i = 0; i < names.Length; i++) w[1 + ns + i] = mine[names[i]];
            var (y, (h, c)) = lstm.Forward(x[0], ns > 0 ? (x[1], x[2]) : null);
            return [y, h, c];
        },
    };

    public static IEnumerable<object[]> Cases() => GoldenFamily.Cases(Family);

    [Fact]
    public void EveryGoldenOpIsMapped() => Assert.Empty(GoldenFamily.Unmapped(Family, Ops));

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorch(string id) => GoldenFamily.Run(id, Ops);

    [Fact]
    public void SquareSubsequentMaskIsPyTorchs()
    {
        var m = Transformer.GenerateSquareSubsequentMask(3, DType.Float64);
        double inf = double.NegativeInfinity;
        Assert.Equal([0, inf, inf, 0, 0, inf, 0, 0, 0], m.ToDoubleArray());
        Assert.Equal(DType.Float32, Transformer.GenerateSquareSubsequentMask(2).DType);
    }

    [Fact]
    public void ParameterNamesAreTorchsAndXavierInitialized()
    {
        var t = new Transformer(8, 2, 1, 1, 16, generator: new Generator(3));
        var names = t.NamedParameters().Select(p => p.Name).ToArray();
        Assert.Contains("encoder.layers.0.self_attn.in_proj_weight", names);
        Assert.Contains("encoder.norm.weight", names);
        Assert.Contains("decoder.layers.0.multihead_attn.out_proj.bias", names);
        Assert.Contains("decoder.layers.0.norm3.bias", names);
        Assert.Contains("decoder.layers.0.linear2.weight", names);
        Assert.Equal(3 * 8 * 8 + 24 + 8 * 8 + 8 + 16 * 8 + 16 + 8 * 16 + 8 + 4 * 8, t.Encoder.Layers[0].ParameterCount());
        double bound = Math.Sqrt(6.0 / (8 + 16));
        var w = t.Encoder.Layers[0].Linear1.Weight;
        Assert.True(w.Abs().Amax().Item() <= bound);
        Assert.True(w.Abs().Amax().Item() > bound / 2);
        // the copies of the stack start equal but are separate parameters
        var enc = new TransformerEncoder(new TransformerEncoderLayer(8, 2, 16), 2);
        Assert.Equal(enc.Layers[0].Linear1.Weight.ToDoubleArray(), enc.Layers[1].Linear1.Weight.ToDoubleArray());
        Assert.NotSame(enc.Layers[0].Linear1.Weight, enc.Layers[1].Linear1.Weight);
        Assert.Equal(2 * enc.Layers[0].ParameterCount(), enc.ParameterCount());
    }

    [Fact]
    public void ErrorsNameTheLayerAndShapes()
    {
        var layer = new TransformerEncoderLayer(8, 2, 16);
        var e = Assert.Throws<ShapeMismatchException>(() => layer.Forward(Tensor.Zeros([3, 2, 6])));
        Assert.Contains("TransformerEncoderLayer", e.Message);
        Assert.Contains("[3, 2, 6]", e.Message);
        Assert.Throws<ArgumentException>(() => new TransformerEncoderLayer(8, 3));
        var t = new Transformer(8, 2, 1, 1, 16);
        var b = Assert.Throws<ShapeMismatchException>(() => t.Forward(Tensor.Zeros([4, 2, 8]), Tensor.Zeros([3, 5, 8])));
        Assert.Contains("batch", b.Message);
        Assert.Throws<ArgumentException>(() => new LSTM(3, 4, projSize: 4));
        var lstm = new LSTM(3, 4, projSize: 2);
        var s = Assert.Throws<ShapeMismatchException>(() => lstm.Forward(Tensor.Zeros([5, 2, 3]), (Tensor.Zeros([1, 2, 4]), Tensor.Zeros([1, 2, 4]))));
        Assert.Contains("[1, 2, 2]", s.Message);
        Assert.Equal("LSTM(3, 4, proj_size=2)", lstm.ToString());
    }

    [Fact]
    public void DecoderCausalMaskMakesEarlyOutputsIgnoreLaterTargets()
    {
        var g = new Generator(11);
        var t = new Transformer(8, 2, 1, 2, 16, dropout: 0, batchFirst: true, dtype: DType.Float64, generator: g);
        var src = Tensor.Randn([2, 5, 8], DType.Float64, g);
        var tgt = Tensor.Randn([2, 4, 8], DType.Float64, g);
        var mask = Transformer.GenerateSquareSubsequentMask(4, DType.Float64);
        var y1 = t.Forward(src, tgt, tgtMask: mask);
        var tgt2 = tgt.Clone();
        using (Autograd.NoGrad()) tgt2.Narrow(1, 3, 1).CopyInPlace(Tensor.Randn([2, 1, 8], DType.Float64, g));
        var y2 = t.Forward(src, tgt2, tgtMask: mask);
        TensorAssert.Close(y1.Narrow(1, 0, 3), y2.Narrow(1, 0, 3), 1e-12, 1e-12, "positions before the changed one");
        Assert.True((y1.Narrow(1, 3, 1) - y2.Narrow(1, 3, 1)).Abs().Amax().Item() > 1e-6);
    }

    [Fact]
    public void DropoutAppliesInTrainingOnlyAndStateDictsRoundTrip()
    {
        var g = new Generator(5);
        var layer = new TransformerEncoderLayer(8, 2, 16, dropout: 0.3, activation: TransformerActivation.Gelu, generator: g);
        var x = Tensor.Randn([3, 2, 8], DType.Float32, g);
        Assert.NotEqual(layer.Forward(x).ToDoubleArray(), layer.Forward(x).ToDoubleArray());
        layer.Eval();
        var y = layer.Forward(x);
        Assert.Equal(y.ToDoubleArray(), layer.Forward(x).ToDoubleArray());
        var copy = new TransformerEncoderLayer(8, 2, 16, dropout: 0.3, activation: TransformerActivation.Gelu);
        copy.LoadStateDict(layer.StateDict());
        copy.Eval();
        Assert.Equal(y.ToDoubleArray(), copy.Forward(x).ToDoubleArray());
        Assert.Contains("(self_attn): MultiheadAttention", layer.ToString());
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void FusedLstmCellMatchesTheUnfusedOps(DType dt)
    {
        var g = new Generator(21);
        var gates = Tensor.Randn([5, 12], dt, g).RequiresGrad_();
        var c = Tensor.Randn([5, 3], dt, g).RequiresGrad_();
        var (h2, c2) = Tensor.LstmCell(gates, c);
        var ch = gates.Chunk(4, -1);
        var c2Ref = ch[1].Sigmoid() * c + ch[0].Sigmoid() * ch[2].Tanh();
        var h2Ref = ch[3].Sigmoid() * c2Ref.Tanh();
        double tol = dt == DType.Float32 ? 1e-6 : 1e-14; // float32: the SIMD and scalar sigmoid of the strided chunks round differently
        TensorAssert.Close(c2Ref, c2, tol, tol, "c'");
        TensorAssert.Close(h2Ref, h2, tol, tol, "h'");
        var wh = Tensor.Randn([5, 3], dt, g);
        var wc = Tensor.Randn([5, 3], dt, g);
        var fused = Autograd.Grad([(h2 * wh).Sum() + (c2 * wc).Sum()], [gates, c]);
        var plain = Autograd.Grad([(h2Ref * wh).Sum() + (c2Ref * wc).Sum()], [gates, c]);
        TensorAssert.Close(plain[0]!, fused[0]!, tol, tol, "d gates");
        TensorAssert.Close(plain[1]!, fused[1]!, tol, tol, "d c");
    }

    [Fact]
    public void LstmBenchStepRunsAndLearnsAtTinySizes()
    {
        var step = Fluxion.Cli.Bench.LstmBench.Make(batch: 4, seq: 5, hidden: 16, layers: 2, vocab: 30);
        double first = step();
        double last = first;
        for (int i = 0; i < 30; i++) last = step();
        Assert.True(last < first - 0.05, $"loss {first} -> {last}");
        Assert.Contains("lstm", Fluxion.Cli.Bench.BenchCommand.Suites.Keys);
    }

    /// <summary>An embedding + LSTM + linear classifier learns which of 4 tokens came first in a sequence of 6 (the answer has to
    /// be carried through the recurrence), from chance (25%) to at least 90% in a few hundred Adam steps.</summary>
    [Fact]
    public void LstmSequenceClassifierTrains()
    {
        var g = new Generator(7);
        var emb = new Embedding(4, 8, generator: g);
        var lstm = new LSTM(8, 16, batchFirst: true, generator: g);
        var head = new Linear(16, 4, generator: g);
        var opt = new Adam(emb.Parameters().Concat(lstm.Parameters()).Concat(head.Parameters()), lr: 0.02);
        Tensor Logits(Tensor tokens) => head.Forward(lstm.Forward(emb.Forward(tokens)).Select(1, -1));
        var rng = new Random(3);
        (Tensor X, Tensor Y) Batch(int n)
        {
            var xs = new long[n * 6];
            var ys = new long[n];
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j < 6; j++) xs[i * 6 + j] = rng.Next(4);
                ys[i] = xs[i * 6];
            }
            return (Tensor.FromArray(xs, n, 6), Tensor.FromArray(ys, n));
        }
        for (int step = 0; step < 150; step++)
        {
            var (x, y) = Batch(32);
            var loss = Losses.CrossEntropy(Logits(x), y);
            opt.ZeroGrad();
            loss.Backward();
            opt.Step();
        }
        var (tx, ty) = Batch(256);
        using (Autograd.NoGrad())
        {
            var pred = Logits(tx).ArgMax(-1);
            double acc = pred.Eq(ty).To(DType.Float64).Mean().Item();
            Assert.True(acc >= 0.9, $"accuracy {acc}");
        }
    }
}
