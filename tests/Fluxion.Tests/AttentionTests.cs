using Fluxion.Nn;

namespace Fluxion.Tests;

public class AttentionTests
{
    private static Dictionary<string, Tensor> Dict(params (string Name, Tensor Value)[] entries) => entries.ToDictionary(e => e.Name, e => e.Value);

    /// <summary>Fluxion call per golden op of golden/attention.json; module parameters are loaded from the stored arrays.</summary>
    private static readonly Dictionary<string, GoldenFamily.OpFn> Ops = new()
    {
        ["Embedding"] = (x, a, gradWrt) =>
        {
            var m = new Embedding(x[0].Size(0), x[0].Size(1), a.IntOrNull("padding_idx"), x[0].DType);
            m.LoadStateDict(Dict(("weight", x[0])));
            gradWrt[0] = m.Weight;
            return [m.Forward(x[1])];
        },
        ["MultiheadAttention"] = (x, a, gradWrt) =>
        {
            bool bias = a.Bool("bias"), self = a.Bool("self");
            var m = new MultiheadAttention(a.Int("embed_dim"), a.Int("num_heads"), bias: bias, batchFirst: a.Bool("batch_first"), dtype: x[0].DType);
            int i = self ? 1 : 3;
            var names = bias ? new[] { "in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias" } : ["in_proj_weight", "out_proj.weight"];
            var state = new Dictionary<string, Tensor>();
            var mine = m.StateDict();
            foreach (var n in names)
            {
                state[n] = x[i];
                gradWrt[i++] = mine[n];
            }
            m.LoadStateDict(state);
            var am = a.Has("attn_mask") ? x[i++] : null;
            var kpm = a.Has("key_padding_mask") ? x[i++] : null;
            var (q, k, v) = self ? (x[0], x[0], x[0]) : (x[0], x[1], x[2]);
            var (o, w) = m.Forward(q, k, v, keyPaddingMask: kpm, needWeights: true, attnMask: am, averageAttnWeights: a.Bool("average"));
            return [o, w!];
        },
        ["ScaledDotProduct"] = (x, a, _) =>
        {
            var (o, w) = Attention.ScaledDotProduct(x[0], x[1], x[2], a.Has("mask") ? x[3] : null, isCausal: a.Bool("is_causal"));
            return [o, w];
        },
        ["SinusoidalPE"] = (x, a, _) =>
            [new SinusoidalPositionalEncoding(x[0].Size(-1), a.Int("max_len"), batchFirst: a.Bool("batch_first"), dtype: x[0].DType).Forward(x[0])],
        ["LearnedPE"] = (x, a, gradWrt) =>
        {
            var m = new LearnedPositionalEncoding(x[1].Size(0), x[1].Size(1), batchFirst: a.Bool("batch_first"), dtype: x[1].DType);
            m.LoadStateDict(Dict(("weight", x[1])));
            gradWrt[1] = m.Weight;
            return [m.Forward(x[0])];
        },
    };

    public static IEnumerable<object[]> Cases() => GoldenFamily.Cases("attention");

    [Fact]
    public void EveryGoldenAttentionOpIsMapped() => Assert.Empty(GoldenFamily.Unmapped("attention", Ops));

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorch(string id) => GoldenFamily.Run(id, Ops);

    private static Tensor R(int seed, params int[] shape) => Tensor.Randn(shape, DType.Float64, new Generator(seed));

    // ---- Embedding ---------------------------------------------------------------------------------------

    [Fact]
    public void EmbeddingLooksUpRowsForIndicesOfAnyShape()
    {
        var m = new Embedding(5, 3, dtype: DType.Float64, generator: new Generator(1));
        var idx = Tensor.FromArray(new long[] { 4, 0, 4, 2, 1, 3 }, 2, 1, 3);
        var y = m.Forward(idx);
        Assert.Equal(new[] { 2, 1, 3, 3 }, y.ShapeArray);
        Assert.Equal(m.Weight.Select(0, 2).ToDoubleArray(), y[1, 0, 0].ToDoubleArray());
        Assert.Equal(new[] { 3 }, m.Forward(Tensor.FromArray(new long[] { 1 }).Reshape()).ShapeArray);
        Assert.Equal(new[] { "weight" }, m.NamedParameters().Select(p => p.Name).ToArray());
        Assert.Throws<DTypeMismatchException>(() => m.Forward(Tensor.Zeros(2)));
        Assert.Throws<IndexOutOfBoundsException>(() => m.Forward(Tensor.FromArray(new long[] { 5 })));
        GradCheck.Assert(x => Embedding.Lookup(x[0], idx), [R(2, 5, 3)]);
    }

    [Fact]
    public void EmbeddingInitIsStandardNormalWithZeroPaddingRow()
    {
        var m = new Embedding(400, 50, paddingIdx: -2, generator: new Generator(3));
        Assert.Equal(398, m.PaddingIdx);
        Assert.All(m.Weight.Select(0, 398).ToDoubleArray(), v => Assert.Equal(0.0, v));
        var w = m.Weight.ToDoubleArray();
        double mean = w.Average(), std = Math.Sqrt(w.Select(v => (v - mean) * (v - mean)).Average());
        Assert.True(Math.Abs(mean) < 0.02 && Math.Abs(std - 1) < 0.03, $"mean {mean}, std {std}");
        Assert.Throws<ArgumentOutOfRangeException>(() => new Embedding(4, 2, paddingIdx: 4));
    }

    [Fact]
    public void PaddingRowGetsNoGradient()
    {
        var m = new Embedding(4, 2, paddingIdx: 1, dtype: DType.Float64, generator: new Generator(4));
        using (Autograd.NoGrad()) m.Weight.Select(0, 1).FillInPlace(0.5); // a non-zero padding row is still returned as is
        var idx = Tensor.FromArray(new long[] { 1, 2, 1, 0, 2 }, 5);
        var y = m.Forward(idx);
        Assert.Equal(new[] { 0.5, 0.5 }, y[0].ToDoubleArray());
        (y * R(5, 5, 2)).Sum().Backward();
        var g = m.Weight.Grad!;
        Assert.Equal(new[] { 0.0, 0.0 }, g.Select(0, 1).ToDoubleArray());
        Assert.NotEqual(0.0, g.Select(0, 2).Abs().Sum().Item());
        Assert.Equal(new[] { 0.0, 0.0 }, g.Select(0, 3).ToDoubleArray());
        // the other rows still check out (padding entries are constants for the non-padding rows)
        GradCheck.Assert(x => Embedding.Lookup(x[0], idx, paddingIdx: 1) * Tensor.FromArray(new[] { 0.0, 1, 0, 1, 1 }, 5, 1), [R(6, 4, 2)]);
    }

    [Fact]
    public void FromPretrainedIsFrozenByDefault()
    {
        var w = R(7, 3, 2);
        var m = Embedding.FromPretrained(w);
        Assert.False(m.Weight.RequiresGrad);
        Assert.Equal(w.ToDoubleArray(), m.Weight.ToDoubleArray());
        Assert.True(Embedding.FromPretrained(w, freeze: false).Weight.RequiresGrad);
    }

    // ---- scaled dot-product attention ----------------------------------------------------------------------

    [Fact]
    public void ScaledDotProductMatchesTheFormula()
    {
        var q = R(10, 2, 3, 4);
        var k = R(11, 2, 5, 4);
        var v = R(12, 2, 5, 2);
        var (o, w) = Attention.ScaledDotProduct(q, k, v);
        var expectW = (q.MatMul(k.MT) / 2.0).Softmax(-1);
        Assert.Equal(expectW.ToDoubleArray(), w.ToDoubleArray(), new ToleranceComparer(1e-14));
        Assert.Equal(expectW.MatMul(v).ToDoubleArray(), o.ToDoubleArray(), new ToleranceComparer(1e-14));
        // bool mask: true = attend; masked keys get weight 0
        var keep = Tensor.FromArray(new[] { true, false, true, true, false }, 5);
        var (_, wm) = Attention.ScaledDotProduct(q, k, v, keep);
        Assert.All(wm.Slice(-1, 1, 2).ToDoubleArray(), x => Assert.Equal(0.0, x));
        Assert.All(wm.Sum(-1).ToDoubleArray(), x => Assert.Equal(1.0, x, 12));
        // causal: query i sees keys 0..i
        var (_, wc) = Attention.ScaledDotProduct(R(13, 4, 2), R(14, 4, 2), R(15, 4, 3), isCausal: true);
        for (int i = 0; i < 4; i++)
            for (int j = i + 1; j < 4; j++) Assert.Equal(0.0, wc.Get(i, j));
        Assert.Throws<ShapeMismatchException>(() => Attention.ScaledDotProduct(q, R(1, 2, 5, 3), v));
        Assert.Throws<ShapeMismatchException>(() => Attention.ScaledDotProduct(q, k, v, Tensor.Zeros([4, 5], DType.Float64)));
    }

    [Fact]
    public void GradCheckScaledDotProduct()
    {
        var mask = R(16, 3, 4) * 0.5;
        GradCheck.Assert(x => Attention.ScaledDotProduct(x[0], x[1], x[2], mask).Output, [R(17, 3, 2), R(18, 4, 2), R(19, 4, 2)]);
        GradCheck.Assert(x => Attention.ScaledDotProduct(x[0], x[1], x[2], isCausal: true).Weights, [R(20, 3, 2), R(21, 3, 2), R(22, 3, 1)]);
    }

    [Fact]
    public void AttentionDropoutZeroesAndRescalesWeights()
    {
        var q = R(23, 50, 4);
        var (_, w0) = Attention.ScaledDotProduct(q, q, q);
        var (_, w) = Attention.ScaledDotProduct(q, q, q, dropout: 0.5, generator: new Generator(1));
        var a = w0.ToDoubleArray();
        var b = w.ToDoubleArray();
        int zeros = 0;
        for (int i = 0; i < a.Length; i++)
        {
            if (b[i] == 0) zeros++;
            else Assert.Equal(2 * a[i], b[i], 12);
        }
        Assert.InRange(zeros, a.Length * 0.4, a.Length * 0.6);
    }

    // ---- multi-head attention ---------------------------------------------------------------------------------

    [Fact]
    public void MultiheadAttentionHasPyTorchParametersAndInit()
    {
        var m = new MultiheadAttention(8, 2, generator: new Generator(1));
        Assert.Equal(new[] { "in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias" }, m.NamedParameters().Select(p => p.Name).ToArray());
        Assert.Equal(new[] { 24, 8 }, m.InProjWeight.ShapeArray);
        Assert.All(m.InProjBias!.ToDoubleArray(), v => Assert.Equal(0.0, v));
        Assert.All(m.OutProj.Bias!.ToDoubleArray(), v => Assert.Equal(0.0, v));
        double bound = Math.Sqrt(6.0 / (8 + 24));
        var w = m.InProjWeight.ToDoubleArray();
        Assert.All(w, v => Assert.InRange(v, -bound, bound));
        Assert.True(w.Max() > 0.8 * bound && w.Min() < -0.8 * bound);
        Assert.All(m.OutProj.Weight.ToDoubleArray(), v => Assert.InRange(v, -1 / Math.Sqrt(8), 1 / Math.Sqrt(8)));
        var nb = new MultiheadAttention(4, 4, bias: false);
        Assert.Equal(new[] { "in_proj_weight", "out_proj.weight" }, nb.NamedParameters().Select(p => p.Name).ToArray());
        Assert.Throws<ArgumentException>(() => new MultiheadAttention(6, 4));
    }

    [Fact]
    public void MultiheadAttentionLayoutsAgree()
    {
        var m = new MultiheadAttention(4, 2, dtype: DType.Float64, generator: new Generator(2));
        var x = R(30, 3, 2, 4); // [L, N, E]
        var (o, w) = m.Forward(x, x, x);
        Assert.Equal(new[] { 3, 2, 4 }, o.ShapeArray);
        Assert.Equal(new[] { 2, 3, 3 }, w!.ShapeArray);
        Assert.Equal(o.ToDoubleArray(), m.Forward(x).ToDoubleArray());
        // the same weights with batch-first inputs
        var bf = new MultiheadAttention(4, 2, batchFirst: true, dtype: DType.Float64);
        bf.LoadStateDict(m.StateDict());
        var (obf, wbf) = bf.Forward(x.Transpose(0, 1), x.Transpose(0, 1), x.Transpose(0, 1));
        Assert.Equal(o.Transpose(0, 1).ToDoubleArray(), obf.ToDoubleArray(), new ToleranceComparer(1e-14));
        Assert.Equal(w.ToDoubleArray(), wbf!.ToDoubleArray(), new ToleranceComparer(1e-14));
        // unbatched equals a batch of one; cross attention through separate projections equals self attention
        var x0 = x.Select(1, 0);
        var (ou, wu) = m.Forward(x0, x0, x0);
        Assert.Equal(o.Select(1, 0).ToDoubleArray(), ou.ToDoubleArray(), new ToleranceComparer(1e-14));
        Assert.Equal(w.Select(0, 0).ToDoubleArray(), wu!.ToDoubleArray(), new ToleranceComparer(1e-14));
        var (oc, _) = m.Forward(x, x.Clone(), x.Clone());
        Assert.Equal(o.ToDoubleArray(), oc.ToDoubleArray(), new ToleranceComparer(1e-14));
        var (_, wh) = m.Forward(x, x, x, averageAttnWeights: false);
        Assert.Equal(new[] { 2, 2, 3, 3 }, wh!.ShapeArray);
        Assert.Equal(w.ToDoubleArray(), wh.Mean(1).ToDoubleArray(), new ToleranceComparer(1e-14));
        Assert.Null(m.Forward(x, x, x, needWeights: false).Weights);
    }

    [Fact]
    public void MaskedKeysDoNotInfluenceTheOutput()
    {
        var m = new MultiheadAttention(4, 2, batchFirst: true, dtype: DType.Float64, generator: new Generator(3));
        var q = R(31, 2, 3, 4);
        var kv = R(32, 2, 5, 4);
        var kpm = Tensor.FromArray(new[] { false, false, true, false, true, false, false, false, false, true }, 2, 5);
        var causal = Attention.SquareSubsequentMask(5).Slice(0, 0, 3); // [3, 5] bool, true = hidden
        var (o, w) = m.Forward(q, kv, kv, keyPaddingMask: kpm, attnMask: causal);
        // change the values at the masked keys: nothing changes
        var kv2 = kv + Tensor.Where(kpm.Unsqueeze(-1), 7.0, 0.0, DType.Float64);
        var (o2, _) = m.Forward(q, kv2, kv2, keyPaddingMask: kpm, attnMask: causal);
        Assert.Equal(o.ToDoubleArray(), o2.ToDoubleArray(), new ToleranceComparer(1e-13));
        Assert.Equal(0.0, w!.Get(0, 1, 2));
        Assert.Equal(0.0, w.Get(1, 2, 4));
        Assert.Equal(0.0, w.Get(0, 0, 1)); // causal
        // a float mask of 0 / -inf is the same as the bool mask
        var additive = Tensor.Where(causal, double.NegativeInfinity, 0.0, DType.Float64);
        var (o3, _) = m.Forward(q, kv, kv, keyPaddingMask: kpm, attnMask: additive);
        Assert.Equal(o.ToDoubleArray(), o3.ToDoubleArray());
        Assert.Throws<ShapeMismatchException>(() => m.Forward(q, kv, kv, attnMask: Tensor.Zeros([3, 4], DType.Float64)));
        Assert.Throws<ShapeMismatchException>(() => m.Forward(q, kv, kv, keyPaddingMask: Tensor.Zeros([2, 4], DType.Bool)));
    }

    [Fact]
    public void GradCheckMultiheadAttention()
    {
        var am = Tensor.FromArray(new[] { false, true, false, false, false, true }, 2, 3);
        var kpm = Tensor.FromArray(new[] { false, false, true, false, false, false }, 2, 3);
        // query [L=2, N=2, E=4], key/value [S=3, N=2, E=4], 2 heads; all weights are inputs
        GradCheck.Assert(x => Attention.MultiheadAttentionForward(x[0], x[1], x[2], 2, x[3], x[4], x[5], x[6],
                keyPaddingMask: kpm, attnMask: am).Output,
            [R(40, 2, 2, 4), R(41, 3, 2, 4), R(42, 3, 2, 4), R(43, 12, 4) * 0.5, R(44, 12) * 0.2, R(45, 4, 4) * 0.5, R(46, 4) * 0.2]);
        // self attention (packed projection) and the averaged weights
        GradCheck.Assert(x => Attention.MultiheadAttentionForward(x[0], x[0], x[0], 2, x[1], null, x[2], null, batchFirst: true).Weights!,
            [R(47, 1, 3, 4), R(48, 12, 4) * 0.5, R(49, 4, 4) * 0.5]);
        // the module with respect to its input
        var m = new MultiheadAttention(4, 2, dtype: DType.Float64, generator: new Generator(5));
        GradCheck.Assert(x => m.Forward(x[0]), [R(50, 2, 1, 4)]);
    }

    [Fact]
    public void MultiheadAttentionDropoutOnlyInTraining()
    {
        var m = new MultiheadAttention(4, 2, dropout: 0.5, dtype: DType.Float64, generator: new Generator(6));
        var x = R(51, 5, 2, 4);
        var a = m.Forward(x).ToDoubleArray();
        var b = m.Forward(x).ToDoubleArray();
        Assert.NotEqual(a, b);
        m.Eval();
        Assert.Equal(m.Forward(x).ToDoubleArray(), m.Forward(x).ToDoubleArray());
    }

    // ---- positional encodings -----------------------------------------------------------------------------------

    [Fact]
    public void SinusoidalTableFollowsTheFormula()
    {
        var pe = SinusoidalPositionalEncoding.Table(10, 6, DType.Float64);
        for (int pos = 0; pos < 10; pos++)
            for (int i = 0; i < 3; i++)
            {
                double angle = pos / Math.Pow(10000, 2.0 * i / 6);
                Assert.Equal(Math.Sin(angle), pe.Get(pos, 2 * i), 12);
                Assert.Equal(Math.Cos(angle), pe.Get(pos, 2 * i + 1), 12);
            }
        var m = new SinusoidalPositionalEncoding(6, maxLen: 10);
        Assert.Equal(new[] { "pe" }, m.StateDict().Keys.ToArray());
        Assert.Empty(m.Parameters());
        Assert.Throws<ShapeMismatchException>(() => m.Forward(Tensor.Zeros(11, 1, 6)));
        Assert.Throws<ShapeMismatchException>(() => m.Forward(Tensor.Zeros(3, 1, 5)));
        var m64 = new SinusoidalPositionalEncoding(6, maxLen: 10, dtype: DType.Float64);
        GradCheck.Assert(x => m64.Forward(x[0]), [R(60, 3, 2, 6)]);
    }

    [Fact]
    public void LearnedPositionalEncodingAddsTrainableRows()
    {
        var m = new LearnedPositionalEncoding(8, 4, batchFirst: true, dtype: DType.Float64, generator: new Generator(7));
        Assert.Equal(new[] { "weight" }, m.NamedParameters().Select(p => p.Name).ToArray());
        var w = m.Weight.ToDoubleArray();
        double std = Math.Sqrt(w.Select(v => v * v).Average());
        Assert.InRange(std, 0.01, 0.03);
        var x = R(61, 2, 3, 4);
        var y = m.Forward(x);
        Assert.Equal((x.Select(0, 1) + m.Weight.Narrow(0, 0, 3)).ToDoubleArray(), y.Select(0, 1).ToDoubleArray());
        y.Sum().Backward();
        Assert.Equal(2.0, m.Weight.Grad!.Get(2, 1));
        Assert.Equal(0.0, m.Weight.Grad!.Get(3, 1));
        GradCheck.Assert(xs => m.Forward(xs[0]), [R(62, 2, 3, 4)]);
    }
}
