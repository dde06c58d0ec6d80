using Fluxion.Nn;

namespace Fluxion.Tests;

/// <summary>
/// The remaining nn.functional ops: 3-D convolutions and poolings, adaptive max poolings, max unpooling, interpolate and
/// upsample_bilinear, grid_sample, embedding_bag and ctc_loss. Values and gradients against PyTorch 1.13
/// (golden/nn_more2.json, made by tests/golden/make_nn_more2.py), the registry sweep of these entries, the modules, errors.
/// </summary>
public class NnMore2Tests
{
    /// <summary>The entries this family adds.</summary>
    public static readonly string[] Entries =
    [
        "Conv3d", "ConvTranspose3d", "MaxPool3d", "AvgPool3d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d",
        "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d", "Interpolate", "UpsampleBilinear", "GridSample", "EmbeddingBag", "CtcLoss",
    ];

    public static TheoryData<string> EntryNames() => [.. Entries];

    [Theory]
    [MemberData(nameof(EntryNames))]
    public void SweepOfTheseEntries(string name) => new RegistrySweepTests().GradCheckEverySample(name);

    // ---- golden values and gradients (PyTorch 1.13) ---------------------------------------------------

    private static Reduction Red(GoldenArgs a) => Enum.Parse<Reduction>(a.String("reduction"), ignoreCase: true);

    /// <summary>The golden ops called through the registry (<see cref="RegistryCall"/>: the entry's public method, args bound
    /// by name, tuples as Size2/Size3), except five: a recurrent module built from the case and loaded with its parameters,
    /// CTC loss on log-softmaxed inputs, the EmbeddingBag module's function, AdaptiveMaxPool2d's with-indices form (not an
    /// entry of its own), and GridSample, whose padding parameter PyTorch spells padding_mode.</summary>
    private static readonly IReadOnlyDictionary<string, GoldenFamily.OpFn> Ops = GoldenFamily.FromRegistry("nn_more2", new Dictionary<string, GoldenFamily.OpFn>
    {
        ["EmbeddingBag"] = (x, a, _) => [EmbeddingBag.Bag(x[0], x[1], x.Length > 2 ? x[2] : null, Enum.Parse<EmbeddingBagMode>(a.String("mode"), ignoreCase: true),
            x.Length > 3 ? x[3] : null, a.Bool("include_last_offset"), a.IntOrNull("padding_idx"))],
        ["AdaptiveMaxPool2dWithIndices"] = (x, a, _) =>
        {
            var (v, i) = Tensor.AdaptiveMaxPool2dWithIndices(x[0], (a.Ints("output_size")![0], a.Ints("output_size")![1]));
            return [v, i];
        },
        ["GridSample"] = (x, a, _) => [Tensor.GridSample(x[0], x[1], Enum.Parse<GridSampleMode>(a.String("mode"), ignoreCase: true),
            Enum.Parse<GridSamplePadding>(a.String("padding_mode"), ignoreCase: true), a.Bool("align_corners"))],
        ["Recurrent"] = Recurrent,
        ["CtcLoss"] = (x, a, _) => [Losses.CtcLoss(x[0].LogSoftmax(2), x[1], a.Ints("input_lengths")!, a.Ints("target_lengths")!, a.Int("blank"), Red(a), a.Bool("zero_infinity"))],
    });

    /// <summary>A recurrent layer or cell built from the case's args with the case's parameters loaded (state-dict names), run on
    /// x[0] and the optional states; gradients of the parameter inputs are taken with respect to the module's parameters.</summary>
    private static Tensor[] Recurrent(Tensor[] x, GoldenArgs a, Tensor?[] gradWrt)
    {
        string kind = a.String("kind");
        int inSize = a.Int("input_size"), hid = a.Int("hidden_size"), ns = a.Int("states");
        int layers = a.IntOrNull("num_layers") ?? 1;
        bool bias = !a.Has("bias") || a.Bool("bias"), bf = a.Has("batch_first") && a.Bool("batch_first"), bi = a.Has("bidirectional") && a.Bool("bidirectional");
        var dt = x[0].DType;
        Module m = kind switch
        {
            "RNN" => new RNN(inSize, hid, layers, a.Has("nonlinearity") && a.String("nonlinearity") == "relu" ? RnnNonlinearity.Relu : RnnNonlinearity.Tanh, bias, bf, 0, bi, dt),
            "LSTM" => new LSTM(inSize, hid, layers, bias, bf, 0, bi, dt),
            "GRU" => new GRU(inSize, hid, layers, bias, bf, 0, bi, dt),
            "RNNCell" => new RNNCell(inSize, hid, bias, dtype: dt),
            "LSTMCell" => new LSTMCell(inSize, hid, bias, dt),
            _ => new GRUCell(inSize, hid, bias, dt),
        };
        var names = a.Strings("params")!;
        var state = new Dictionary<string, Tensor>();
        for (int i = 0; i < names.Length; i++) state[names[i]] = x[1 + ns + i];
        m.LoadStateDict(state);
        var mine = m.StateDict();
        for (int i = 0; i < names.Length; i++) gradWrt[1 + ns + i] = mine[names[i]];
        Tensor? s0 = ns > 0 ? x[1] : null, s1 = ns > 1 ? x[2] : null;
        switch (m)
        {
            case RNN r: { var (y, h) = r.Forward(x[0], s0); return [y, h]; }
            case GRU g: { var (y, h) = g.Forward(x[0], s0); return [y, h]; }
            case LSTM l: { var (y, (h, c)) = l.Forward(x[0], s0 is null ? null : (s0, s1!)); return [y, h, c]; }
            case LSTMCell lc: { var (h, c) = lc.Forward(x[0], s0 is null ? null : (s0, s1!)); return [h, c]; }
            case RNNCell rc: return [rc.Forward(x[0], s0)];
            default: return [((GRUCell)m).Forward(x[0], s0)];
        }
    }

    public static IEnumerable<object[]> Cases() => GoldenFamily.Cases("nn_more2");

    [Fact]
    public void EveryGoldenOpIsMapped() => Assert.Empty(GoldenFamily.Unmapped("nn_more2", Ops));

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorch(string id) => GoldenFamily.Run(id, Ops);

    // ---- registry, modules, errors --------------------------------------------------------------------

    [Fact]
    public void RegistersTheTorchNames()
    {
        var names = OpRegistry.All.SelectMany(d => d.Torch).ToHashSet();
        foreach (var t in new[] { "conv3d", "conv_transpose3d", "max_pool3d", "avg_pool3d", "adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d",
                     "adaptive_max_pool3d", "max_unpool1d", "max_unpool2d", "max_unpool3d", "interpolate", "upsample_bilinear", "grid_sample", "embedding_bag", "ctc_loss" })
            Assert.Contains("nn.functional." + t, names);
    }

    [Fact]
    public void AdaptiveMaxPoolingBatchesUnderVmap()
    {
        var xs = OpSamples.Make(OpSamples.Domain.Real, 3, 4, 2, 5, 7);
        Func<Tensor[], Tensor[]> f = a => [Tensor.AdaptiveMaxPool2d(a[0].Unsqueeze(0), (2, 3)).Exp()];
        var r = Functional.Vmap(f)([xs])[0];
        Assert.True(Functional.LastVmapPlan!.Batched, Functional.LastVmapPlan.Reason);
        var loop = Tensor.Stack(Enumerable.Range(0, 4).Select(k => f([xs.Select(0, k)])[0]).ToArray(), 0);
        TensorAssert.Close(loop, r, 1e-12, 1e-12, "vmap");
    }

    [Fact]
    public void UnpoolingInvertsPoolingAtTheMaxima()
    {
        var x = Tensor.Arange(0, 24, dtype: DType.Float64).Reshape(1, 1, 4, 6);
        var (y, idx) = Tensor.MaxPool2dWithIndices(x, 2);
        var u = Tensor.MaxUnpool2d(y, idx, 2);
        Assert.Equal([1, 1, 4, 6], u.ShapeArray);
        Assert.Equal(y.Sum().Item(), u.Sum().Item());
        Assert.Equal(y.ToDoubleArray(), Tensor.MaxPool2d(u, 2).ToDoubleArray());
    }

    [Fact]
    public void ModulesForwardAsTheFunctions()
    {
        var g = new Generator(5);
        var x = Tensor.Randn([1, 2, 4, 4, 4], DType.Float32, g);
        var conv = new Conv3d(2, 3, (2, 3, 3), padding: 1, generator: g);
        Assert.Equal(["weight", "bias"], conv.NamedParameters().Select(p => p.Name).ToArray());
        Assert.Equal([3, 2, 2, 3, 3], conv.Weight.ShapeArray);
        Assert.Equal(Tensor.Conv3d(x, conv.Weight, conv.Bias, 1, 1).ToDoubleArray(), conv.Forward(x).ToDoubleArray());
        var convT = new ConvTranspose3d(2, 4, 2, stride: 2, groups: 2, generator: g);
        Assert.Equal([2, 2, 2, 2, 2], convT.Weight.ShapeArray);
        Assert.Equal([1, 4, 8, 8, 8], convT.Forward(x).ShapeArray);
        Assert.Equal([1, 2, 2, 2, 2], new MaxPool3d(2).Forward(x).ShapeArray);
        Assert.Equal([1, 2, 2, 2, 2], new AvgPool3d(3, stride: 2, padding: 1).Forward(x).ShapeArray);
        Assert.Equal([1, 2, 1, 2, 3], new AdaptiveAvgPool3d((1, 2, 3)).Forward(x).ShapeArray);
        Assert.Equal([1, 2, 1, 2, 3], new AdaptiveMaxPool3d((1, 2, 3)).Forward(x).ShapeArray);
        Assert.Equal([2, 3, 3], new AdaptiveMaxPool2d(3).Forward(x.Select(0, 0).Select(1, 0)).ShapeArray);
        Assert.Equal([2, 4, 2], new AdaptiveMaxPool1d(2).Forward(x.Select(0, 0).Select(1, 0)).ShapeArray);
        Assert.Equal([1, 2, 8, 8, 8], new Upsample(scaleFactor: 2, mode: InterpolateMode.Trilinear).Forward(x).ShapeArray);
        Assert.Equal([1, 2, 6, 6], new UpsamplingBilinear2d(size: (6, 6)).Forward(x.Select(2, 0)).ShapeArray);
        var bag = new EmbeddingBag(10, 3, EmbeddingBagMode.Sum, generator: g);
        Assert.Equal([2, 3], bag.Forward(Tensor.FromArray([1L, 2, 3, 4], 2, 2)).ShapeArray);
        Assert.Equal("EmbeddingBag(10, 3, mode='sum')", bag.ToString());
        var ctc = new CTCLoss();
        var lp = Tensor.Randn([5, 1, 3], DType.Float64, g).LogSoftmax(2);
        Assert.Equal(Losses.CtcLoss(lp, Tensor.FromArray([1L, 2], 1, 2), [5], [2]).Item(), ctc.Forward(lp, Tensor.FromArray([1L, 2], 1, 2), [5], [2]).Item());
    }

    [Fact]
    public void OneDimensionalAndShuffleModulesForwardAsTheFunctions()
    {
        var g = new Generator(6);
        var x = Tensor.Randn([2, 4, 9], DType.Float32, g);
        var conv = new Conv1d(4, 6, 3, stride: 2, padding: 1, groups: 2, generator: g);
        Assert.Equal([6, 2, 3], conv.Weight.ShapeArray);
        Assert.True(conv.Weight.Abs().Amax().Item() <= 1 / Math.Sqrt(6));
        Assert.Equal(Tensor.Conv1d(x, conv.Weight, conv.Bias, 2, 1, 1, 2).ToDoubleArray(), conv.Forward(x).ToDoubleArray());
        Assert.Equal("Conv1d(4, 6, kernel_size=(3,), stride=(2,), padding=(1,), groups=2)", conv.ToString());
        var convT = new ConvTranspose1d(4, 2, 3, stride: 2, outputPadding: 1, generator: g);
        Assert.Equal([4, 2, 3], convT.Weight.ShapeArray);
        Assert.Equal([2, 2, 20], convT.Forward(x).ShapeArray);
        Assert.Equal([2, 4, 4], new MaxPool1d(2).Forward(x).ShapeArray);
        Assert.Equal([2, 4, 5], new AvgPool1d(3, 2, 1).Forward(x).ShapeArray);
        Assert.Equal([2, 4, 3], new AdaptiveAvgPool1d(3).Forward(x).ShapeArray);
        var img = Tensor.Randn([1, 8, 2, 3], DType.Float32, g);
        Assert.Equal(img.ToDoubleArray(), new PixelUnshuffle(2).Forward(new PixelShuffle(2).Forward(img)).ToDoubleArray());
        var d2 = new Dropout2d(0.5, new Generator(1));
        Assert.NotEqual(img.ToDoubleArray(), d2.Forward(img).ToDoubleArray());
        d2.Eval();
        Assert.Same(img, d2.Forward(img));
        Assert.Equal([1, 8, 2, 3, 1], new Dropout3d(0.2).Forward(img.Unsqueeze(-1)).ShapeArray);
        var bil = new Bilinear(3, 2, 5, generator: g);
        Assert.Equal(["weight", "bias"], bil.NamedParameters().Select(p => p.Name).ToArray());
        Tensor a = Tensor.Randn([4, 3], DType.Float32, g), b = Tensor.Randn([4, 2], DType.Float32, g);
        Assert.Equal(Tensor.Bilinear(a, b, bil.Weight, bil.Bias).ToDoubleArray(), bil.Forward(a, b).ToDoubleArray());
    }

    [Fact]
    public void CtcLossOfAnImpossibleAlignmentIsInfinite()
    {
        var lp = Tensor.Randn([2, 1, 3], DType.Float64, new Generator(1)).LogSoftmax(2);
        var t = Tensor.FromArray([1L, 1], 1, 2); // a repeated label needs a blank between: 3 frames
        Assert.True(double.IsPositiveInfinity(Losses.CtcLoss(lp, t, [2], [2], reduction: Reduction.Sum).Item()));
        Assert.Equal(0, Losses.CtcLoss(lp, t, [2], [2], reduction: Reduction.Sum, zeroInfinity: true).Item());
    }

    [Fact]
    public void BadInputsNameTheOp()
    {
        var x = Tensor.Zeros(1, 2, 3, 3);
        Assert.Contains("Conv3d", Assert.Throws<ShapeMismatchException>(() => Tensor.Conv3d(x, Tensor.Zeros(1, 2, 1, 1, 1))).Message);
        Assert.Contains("MaxPool3d", Assert.Throws<ArgumentException>(() => Tensor.MaxPool3d(Tensor.Zeros(1, 2, 4, 4, 4), 2, padding: (2, 0, 0))).Message);
        Assert.Contains("AvgPool3d", Assert.Throws<ShapeMismatchException>(() => Tensor.AvgPool3d(Tensor.Zeros(1, 2, 1, 4, 4), 2)).Message);
        Assert.Contains("Interpolate", Assert.Throws<ShapeMismatchException>(() => Tensor.Interpolate(x, size: [4, 4], mode: InterpolateMode.Trilinear)).Message);
        Assert.Contains("MaxUnpool2d", Assert.Throws<ShapeMismatchException>(() => Tensor.MaxUnpool2d(x, Tensor.Full([1, 2, 3, 3], 99, DType.Int64), 2)).Message);
        Assert.Contains("GridSample", Assert.Throws<ShapeMismatchException>(() => Tensor.GridSample(x, Tensor.Zeros(1, 2, 2, 3))).Message);
        Assert.Contains("EmbeddingBag", Assert.Throws<ArgumentException>(() => EmbeddingBag.Bag(Tensor.Zeros(3, 2), Tensor.FromArray([0L, 1], 2),
            Tensor.FromArray([0L], 1), EmbeddingBagMode.Mean, Tensor.Zeros(2))).Message);
        Assert.Contains("CtcLoss", Assert.Throws<ArgumentException>(() => Losses.CtcLoss(Tensor.Zeros(3, 1, 4), Tensor.FromArray([0L], 1, 1), [3], [1])).Message);
    }
}

/// <summary>The recurrent layers beyond the golden cases: PyTorch's parameter layout and init, cloning, dropout between layers,
/// errors, and a small LSTM sequence classifier that trains.</summary>
public class RecurrentTests
{
    [Fact]
    public void ParametersAreNamedAndShapedAsPyTorch()
    {
        var m = new LSTM(3, 4, numLayers: 2, bidirectional: true, generator: new Generator(1));
        var ps = m.NamedParameters().ToArray();
        string[] expected = [.. new[] { "_l0", "_l0_reverse", "_l1", "_l1_reverse" }.SelectMany(s => new[] { "weight_ih" + s, "weight_hh" + s, "bias_ih" + s, "bias_hh" + s })];
        Assert.Equal(expected, ps.Select(p => p.Name).ToArray());
        Assert.Equal([16, 3], ps[0].Parameter.ShapeArray);
        Assert.Equal([16, 4], ps[1].Parameter.ShapeArray);
        Assert.Equal([16, 8], ps[8].Parameter.ShapeArray); // layer 1 reads both directions
        Assert.All(ps, p => Assert.True(p.Parameter.Abs().Amax().Item() <= 0.5)); // U(±1/√hidden)
        Assert.Equal(["weight_ih", "weight_hh"], new GRUCell(2, 3, bias: false).NamedParameters().Select(p => p.Name).ToArray());
        Assert.Equal("LSTM(3, 4, num_layers=2, bidirectional=True)", m.ToString());
    }

    [Fact]
    public void ClonesAndDtypeCopiesRunTheirOwnParameters()
    {
        var m = new GRU(2, 3, numLayers: 2, batchFirst: true, generator: new Generator(2));
        var x = Tensor.Randn([2, 4, 2], DType.Float32, new Generator(3));
        var y = m.Forward(x).ToDoubleArray();
        var c = (GRU)m.DeepClone();
        Assert.Equal(y, c.Forward(x).ToDoubleArray());
        using (Autograd.NoGrad()) c.Parameters().First().FillInPlace(0.0);
        Assert.Equal(y, m.Forward(x).ToDoubleArray());
        Assert.NotEqual(y, c.Forward(x).ToDoubleArray());
        var d = m.To(DType.Float64);
        Assert.Equal(DType.Float64, ((GRU)d).Forward(x.To(DType.Float64)).DType);
    }

    [Fact]
    public void DropoutActsBetweenLayersInTrainingOnly()
    {
        var m = new RNN(2, 5, numLayers: 2, dropout: 0.5, generator: new Generator(4));
        var x = Tensor.Randn([3, 2, 2], DType.Float32, new Generator(5));
        var a = m.Forward(x).ToDoubleArray();
        var b = m.Forward(x).ToDoubleArray();
        Assert.NotEqual(a, b);
        m.Eval();
        Assert.Equal(m.Forward(x).ToDoubleArray(), m.Forward(x).ToDoubleArray());
    }

    [Fact]
    public void BadShapesNameTheLayer()
    {
        var m = new LSTM(3, 4);
        Assert.Contains("LSTM", Assert.Throws<ShapeMismatchException>(() => m.Forward(Tensor.Zeros(5, 2, 2))).Message);
        Assert.Contains("h0", Assert.Throws<ShapeMismatchException>(() => m.Forward(Tensor.Zeros(5, 2, 3), (Tensor.Zeros(2, 2, 4), Tensor.Zeros(1, 2, 4)))).Message);
        Assert.Contains("RNNCell", Assert.Throws<ShapeMismatchException>(() => new RNNCell(3, 4).Forward(Tensor.Zeros(2, 4))).Message);
    }

    /// <summary>An LSTM reads a sequence of ±1 values and a linear head tells whether the first one was +1 (it must carry it
    /// through the later, distracting steps): the training loss falls well below chance.</summary>
    [Fact]
    public void LstmSequenceClassifierTrains()
    {
        var g = new Generator(7);
        var lstm = new LSTM(1, 8, batchFirst: true, generator: g);
        var head = new Linear(8, 2, generator: g);
        var x = Tensor.Randn([32, 6, 1], DType.Float32, g).Sign();
        var labels = x.Select(1, 0).Select(1, 0).Gt(0.0).To(DType.Int64);
        var opt = new Fluxion.Optim.Adam(lstm.Parameters().Concat(head.Parameters()), lr: 0.05);
        double first = 0, last = 0;
        for (int step = 0; step < 60; step++)
        {
            opt.ZeroGrad();
            var (_, (h, _)) = lstm.Forward(x, null);
            var loss = Losses.CrossEntropy(head.Forward(h.Select(0, 0)), labels);
            loss.Backward();
            opt.Step();
            if (step == 0) first = loss.Item();
            last = loss.Item();
        }
        Assert.InRange(first, 0.5, 1.0);
        Assert.True(last < 0.1, $"loss {first} -> {last}");
    }
}
