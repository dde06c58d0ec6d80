using Fluxion.Nn;
using MM = Fluxion.Nn.MixedMode;

namespace Fluxion.Tests;

public class MixedModeTests
{
    private static void CopyParameters(Module from, Module to)
    {
        var src = from.Parameters().ToArray();
        var dst = to.Parameters().ToArray();
        Assert.Equal(src.Length, dst.Length);
        using (Autograd.NoGrad())
            for (int i = 0; i < src.Length; i++) dst[i].CopyInPlace(src[i]);
    }

    private static void AssertSameGradients(Module reverse, Module mixed, double rtol, double atol)
    {
        var r = reverse.NamedParameters().ToArray();
        var m = mixed.Parameters().ToArray();
        for (int i = 0; i < r.Length; i++) TensorAssert.Close(r[i].Parameter.Grad!, m[i].Grad, rtol, atol, r[i].Name);
    }

    // ---- (a) Exact mode equals reverse mode -----------------------------------------------------------

    private static Sequential ReverseConvNet(DType dt) => new(
        new Nn.Conv2d(1, 2, 3, padding: 1, dtype: dt), new Nn.Tanh(),
        new Nn.Conv2d(2, 3, 3, padding: 1, dtype: dt), new Nn.Dropout(0.3, new Generator(7)), new Nn.ReLU(),
        new Nn.AvgPool2d(2), new Nn.MaxPool2d(2), new Nn.Flatten(), new Nn.Linear(12, 2, dtype: dt));

    private static Sequential MixedConvNet(DType dt, bool fwd2rev) => new(
        [new MM.Rev2Fwd(),
        new MM.Conv2d(1, 2, 3, padding: 1, dtype: dt), new MM.Tanh(),
        new MM.Conv2d(2, 3, 3, padding: 1, dtype: dt), new MM.Dropout(0.3, new Generator(7)), new MM.ReLU(),
        new MM.AvgPool2d(2), new MM.MaxPool2d(2), new MM.Flatten(), new MM.Linear(12, 2, dtype: dt),
        .. fwd2rev ? new Module[] { new MM.Fwd2Rev() } : []]);

    [Theory]
    [InlineData(DType.Float32, true)]
    [InlineData(DType.Float32, false)]
    [InlineData(DType.Float64, true)]
    [InlineData(DType.Float64, false)]
    public void ExactModeConvNetEqualsReverseMode(DType dt, bool fwd2rev)
    {
        Generator.ManualSeed(3);
        var rev = ReverseConvNet(dt);
        var mixed = MixedConvNet(dt, fwd2rev);
        CopyParameters(rev, mixed);
        var x = Tensor.Randn([3, 1, 8, 8], dt);
        var target = Tensor.Randn([3, 2], dt);

        var yRev = rev.Forward(x);
        Losses.MseLoss(yRev, target).Backward();

        var yMixed = mixed.Forward(x);
        var loss = fwd2rev ? Losses.MseLoss(yMixed, target) : new MM.MSELoss().Forward(yMixed, target);
        loss.Backward();

        double rtol = dt == DType.Float32 ? 1e-4 : 1e-10, atol = dt == DType.Float32 ? 1e-5 : 1e-10;
        TensorAssert.Close(yRev.Detach(), yMixed.Detach(), rtol, atol, "output");
        AssertSameGradients(rev, mixed, rtol, atol);
        // every parameter is carried exactly: 20 + 57 + 26 directions
        var h = x;
        foreach (var layer in mixed.Layers.Take(10)) h = layer.Forward(h);
        Assert.Equal(20 + 57 + 26, MM.MixedTensor.Of(h)!.Directions);
    }

    [Fact]
    public void ExactModeWithGroupsAndStrideEqualsReverseMode()
    {
        Generator.ManualSeed(4);
        var rev = new Sequential(new Nn.Conv2d(4, 6, (3, 2), stride: 2, padding: 1, dilation: (1, 2), groups: 2, dtype: DType.Float64), new Nn.Sigmoid(), new Nn.Flatten());
        var mixed = new Sequential(new MM.Rev2Fwd(), new MM.Conv2d(4, 6, (3, 2), stride: 2, padding: 1, dilation: (1, 2), groups: 2, dtype: DType.Float64), new MM.Sigmoid(), new MM.Flatten());
        CopyParameters(rev, mixed);
        var x = Tensor.Randn([2, 4, 7, 6], DType.Float64);
        var y = rev.Forward(x);
        var target = Tensor.Randn(y.ShapeArray, DType.Float64);
        Losses.MseLoss(y, target, Reduction.Sum).Backward();
        new MM.MSELoss(Reduction.Sum).Forward(mixed.Forward(x), target).Backward();
        AssertSameGradients(rev, mixed, 1e-10, 1e-10);
    }

    // ---- (b) reverse -> Rev2Fwd -> forward -> Fwd2Rev -> loss -------------------------------------------

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void Rev2FwdAndFwd2RevEqualReverseMode(int batch)
    {
        Generator.ManualSeed(5);
        var rev = new Sequential(new Nn.Linear(4, 6, dtype: DType.Float64), new Nn.Tanh(), new Nn.Linear(6, 3, dtype: DType.Float64), new Nn.Linear(3, 2, dtype: DType.Float64));
        var mixed = new Sequential(new Nn.Linear(4, 6, dtype: DType.Float64), new MM.Rev2Fwd(), new MM.Tanh(), new MM.Linear(6, 3, dtype: DType.Float64), new MM.Fwd2Rev(), new Nn.Linear(3, 2, dtype: DType.Float64));
        CopyParameters(rev, mixed);
        var x = Tensor.Randn([batch, 4], DType.Float64).RequiresGrad_();
        var x2 = x.Detach().RequiresGrad_();
        var target = Tensor.Randn([batch, 2], DType.Float64);
        Losses.MseLoss(rev.Forward(x), target).Backward();
        Losses.MseLoss(mixed.Forward(x2), target).Backward();
        AssertSameGradients(rev, mixed, 1e-10, 1e-12);
        TensorAssert.Close(x.Grad!, x2.Grad, 1e-10, 1e-12, "input");
    }

    [Fact]
    public void ConvSectionBetweenReverseLayersEqualsReverseMode()
    {
        Generator.ManualSeed(8);
        const DType dt = DType.Float64;
        var rev = new Sequential(
            new Nn.Conv2d(2, 3, 3, padding: 1, dtype: dt), new Nn.Tanh(),
            new Nn.Conv2d(3, 2, 3, dtype: dt), new Nn.ReLU(), new Nn.MaxPool2d(2, stride: 1), new Nn.AvgPool2d(2), new Nn.Flatten(),
            new Nn.Linear(2 * 2 * 2, 3, dtype: dt));
        var mixed = new Sequential(
            new Nn.Conv2d(2, 3, 3, padding: 1, dtype: dt), new MM.Rev2Fwd(), new MM.Tanh(),
            new MM.Conv2d(3, 2, 3, dtype: dt), new MM.ReLU(), new MM.MaxPool2d(2, stride: 1), new MM.AvgPool2d(2), new MM.Flatten(), new MM.Fwd2Rev(),
            new Nn.Linear(2 * 2 * 2, 3, dtype: dt));
        CopyParameters(rev, mixed);
        var x = Tensor.Randn([3, 2, 7, 7], dt);
        var target = Tensor.Randn([3, 3], dt);
        Losses.MseLoss(rev.Forward(x), target).Backward();
        Losses.MseLoss(mixed.Forward(x), target).Backward();
        AssertSameGradients(rev, mixed, 1e-10, 1e-12);
    }

    [Fact]
    public void SeveralSectionsAndAForwardLossEqualReverseMode()
    {
        Generator.ManualSeed(6);
        const DType dt = DType.Float32;
        var rev = new Sequential(
            new Nn.Linear(5, 8, dtype: dt), new Nn.ReLU(), new Nn.Linear(8, 8, dtype: dt), new Nn.Tanh(),
            new Nn.Linear(8, 6, dtype: dt), new Nn.Sigmoid(), new Nn.Linear(6, 4, dtype: dt));
        var mixed = new Sequential(
            new MM.Rev2Fwd(), new MM.Linear(5, 8, dtype: dt), new MM.ReLU(), new MM.Fwd2Rev(),
            new Nn.Linear(8, 8, dtype: dt), new Nn.Tanh(),
            new MM.Rev2Fwd(), new MM.Linear(8, 6, dtype: dt), new MM.Sigmoid(), new MM.Fwd2Rev(),
            new MM.Rev2Fwd(), new MM.Linear(6, 4, dtype: dt));
        CopyParameters(rev, mixed);
        var x = Tensor.Randn(7, 5);
        var y = Tensor.RandInt(0, 4, [7]);
        Losses.CrossEntropy(rev.Forward(x), y).Backward();
        new MM.CrossEntropyLoss().Forward(mixed.Forward(x), y).Backward();
        AssertSameGradients(rev, mixed, 1e-4, 1e-5);
    }

    // ---- (c), (d) random directions -------------------------------------------------------------------

    private static double[] Flat(IEnumerable<Tensor?> ts) => ts.SelectMany(t => t!.ToDoubleArray()).ToArray();

    private static double Cosine(double[] a, double[] b)
    {
        double ab = 0, aa = 0, bb = 0;
        for (int i = 0; i < a.Length; i++) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
        return ab / Math.Sqrt(aa * bb);
    }

    /// <summary>The exact gradient and <paramref name="m"/> estimates with the given mode on a small tanh network.</summary>
    private static (double[] Exact, List<double[]> Estimates) Estimates(MM.ForwardMode mode, int m, int inF, int hidden, int seed)
    {
        Generator.ManualSeed(seed);
        var net = new Sequential(new MM.Rev2Fwd(), new MM.Linear(inF, hidden, dtype: DType.Float64), new MM.Tanh(), new MM.Linear(hidden, 1, dtype: DType.Float64));
        var x = Tensor.Randn([8, inF], DType.Float64);
        var target = Tensor.Randn([8, 1], DType.Float64);
        var loss = new MM.MSELoss();
        var ps = net.Parameters().ToArray();
        loss.Forward(net.Forward(x), target).Backward();
        var exact = Flat(ps.Select(p => p.Grad));
        foreach (var l in net.Layers.OfType<MM.Linear>()) l.Mode = mode;
        var estimates = new List<double[]>();
        for (int i = 0; i < m; i++)
        {
            net.ZeroGrad();
            loss.Forward(net.Forward(x), target).Backward();
            estimates.Add(Flat(ps.Select(p => p.Grad)));
        }
        return (exact, estimates);
    }

    private static double[] Mean(List<double[]> xs)
    {
        var m = new double[xs[0].Length];
        foreach (var x in xs) for (int i = 0; i < m.Length; i++) m[i] += x[i] / xs.Count;
        return m;
    }

    [Theory]
    [InlineData(MM.ForwardModeKind.Random)]
    [InlineData(MM.ForwardModeKind.Rademacher)]
    public void RandomDirectionsAreUnbiased(MM.ForwardModeKind kind)
    {
        var mode = kind == MM.ForwardModeKind.Random ? MM.ForwardMode.Random : MM.ForwardMode.Rademacher;
        var (exact, est) = Estimates(mode, 2000, 2, 3, 11); // 13 parameters, one shared direction
        Assert.True(Cosine(Mean(est), exact) >= 0.99, $"cosine {Cosine(Mean(est), exact)}");
        // a single estimate is far from the gradient (it lies along one direction)
        Assert.True(Cosine(est[0], exact) < 0.95);
    }

    [Fact]
    public void MultiTangentVarianceFallsAsOneOverK()
    {
        var variance = new Dictionary<int, double>();
        foreach (int k in new[] { 1, 2, 4, 8 })
        {
            var (exact, est) = Estimates(MM.ForwardMode.MultiTangent(k), 300, 6, 8, 12); // 65 parameters
            double norm2 = exact.Sum(v => v * v);
            variance[k] = est.Average(e => e.Select((v, i) => (v - exact[i]) * (v - exact[i])).Sum()) / norm2;
        }
        foreach (int k in new[] { 2, 4, 8 })
        {
            double ratio = variance[1] / variance[k];
            Assert.True(ratio > 0.6 * k && ratio < 1.6 * k, $"Var(1)/Var({k}) = {ratio:F2} (variances {string.Join(", ", variance.Select(kv => $"{kv.Key}: {kv.Value:F1}"))})");
        }
    }

    [Fact]
    public void ExactAndRandomLayersMixInOneSection()
    {
        Generator.ManualSeed(16);
        const DType dt = DType.Float64;
        var rev = new Sequential(new Nn.Linear(3, 4, dtype: dt), new Nn.Tanh(), new Nn.Linear(4, 4, dtype: dt), new Nn.Tanh(), new Nn.Linear(4, 2, dtype: dt));
        var mixed = new Sequential(new MM.Rev2Fwd(), new MM.Linear(3, 4, dtype: dt), new MM.Tanh(),
            new MM.Linear(4, 4, mode: MM.ForwardMode.Random, dtype: dt), new MM.Tanh(), new MM.Linear(4, 2, mode: MM.ForwardMode.MultiTangent(3), dtype: dt));
        CopyParameters(rev, mixed);
        var x = Tensor.Randn([5, 3], dt);
        var target = Tensor.Randn([5, 2], dt);
        Losses.MseLoss(rev.Forward(x), target).Backward();
        var y = mixed.Forward(x);
        Assert.Equal(16 + 1 + 3, MM.MixedTensor.Of(y)!.Directions); // exact block, then one shared Random and one MultiTangent(3) group
        new MM.MSELoss().Forward(y, target).Backward();
        var r = rev.Parameters().ToArray();
        var m = mixed.Parameters().ToArray();
        // the exact layer's gradients stay exact; the random layers get estimates of the right shape
        TensorAssert.Close(r[0].Grad!, m[0].Grad, 1e-10, 1e-12, "0.weight");
        TensorAssert.Close(r[1].Grad!, m[1].Grad, 1e-10, 1e-12, "0.bias");
        for (int i = 2; i < r.Length; i++) Assert.Equal(r[i].ShapeArray, m[i].Grad!.ShapeArray);
    }

    [Fact]
    public void RandomInputDirectionsReachReverseLayersUnbiased()
    {
        Generator.ManualSeed(13);
        const DType dt = DType.Float64;
        var first = new Nn.Linear(2, 3, dtype: dt);
        var net = new Sequential(first, new MM.Rev2Fwd(MM.ForwardMode.Random), new MM.Tanh(), new MM.Linear(3, 1, dtype: dt));
        var x = Tensor.Randn([4, 2], dt);
        var target = Tensor.Randn([4, 1], dt);
        var exactNet = new Sequential(new Nn.Linear(2, 3, dtype: dt), new Nn.Tanh(), new Nn.Linear(3, 1, dtype: dt));
        CopyParameters(net, exactNet);
        Losses.MseLoss(exactNet.Forward(x), target).Backward();
        var exact = Flat(exactNet.Parameters().Select(p => p.Grad));
        var est = new List<double[]>();
        for (int i = 0; i < 1500; i++)
        {
            net.ZeroGrad();
            new MM.MSELoss().Forward(net.Forward(x), target).Backward();
            est.Add(Flat(net.Parameters().Select(p => p.Grad)));
        }
        // the forward-mode Linear is exact; the reverse-mode Linear before Rev2Fwd gets an unbiased estimate
        Assert.True(Cosine(Mean(est), exact) >= 0.99, $"cosine {Cosine(Mean(est), exact)}");
    }

    // ---- forward-only training, inference, misuse -----------------------------------------------------

    [Fact]
    public void FullyForwardNetworkTrains()
    {
        Generator.ManualSeed(14);
        var net = new Sequential(new MM.Rev2Fwd(), new MM.Linear(4, 16, mode: MM.ForwardMode.MultiTangent(4)), new MM.Tanh(), new MM.Linear(16, 3, mode: MM.ForwardMode.MultiTangent(4)));
        var x = Tensor.Randn(32, 4);
        var y = x.Narrow(1, 0, 3).ArgMax(1);
        var opt = new Fluxion.Optim.Adam(net.Parameters(), lr: 0.03);
        var loss = new MM.CrossEntropyLoss();
        double first = 0, last = 0;
        for (int i = 0; i < 150; i++)
        {
            opt.ZeroGrad();
            var l = loss.Forward(net.Forward(x), y);
            // the gradients are known at the end of the forward pass: the loss carries its directional derivatives
            Assert.Equal(4, MM.MixedTensor.Of(l)!.Directions);
            l.Backward();
            opt.Step();
            if (i == 0) first = l.Item();
            last = l.Item();
        }
        Assert.True(last < 0.5 * first, $"loss {first} -> {last}");
    }

    [Fact]
    public void InferenceComputesOnlyValues()
    {
        Generator.ManualSeed(15);
        var rev = new Sequential(new Nn.Linear(3, 4), new Nn.ReLU(), new Nn.Linear(4, 2));
        var mixed = new Sequential(new MM.Rev2Fwd(), new MM.Linear(3, 4), new MM.ReLU(), new MM.Linear(4, 2), new MM.Fwd2Rev());
        CopyParameters(rev, mixed);
        var x = Tensor.Randn(5, 3);
        using (Autograd.NoGrad())
        {
            var y = mixed.Forward(x);
            Assert.False(y.RequiresGrad);
            TensorAssert.Close(rev.Forward(x), y, 1e-6, 1e-6, "output");
            Assert.Null(MM.MixedTensor.Of(mixed.Layers[3].Forward(mixed.Layers[2].Forward(mixed.Layers[1].Forward(mixed.Layers[0].Forward(x)))))!.Tangent);
        }
    }

    [Fact]
    public void MisuseRaisesClearErrors()
    {
        var x = Tensor.Randn(2, 3);
        var e1 = Assert.Throws<AutogradException>(() => new MM.Fwd2Rev().Forward(x));
        Assert.Contains("Fwd2Rev", e1.Message);
        Assert.Contains("carries no forward-mode tangents", e1.Message);

        var e2 = Assert.Throws<AutogradException>(() => new MM.Linear(3, 2).Forward(x));
        Assert.Contains("MixedMode.Linear", e2.Message);
        Assert.Contains("Rev2Fwd", e2.Message);

        var e3 = Assert.Throws<AutogradException>(() => new Sequential(new Nn.Linear(3, 3), new MM.Tanh()).Forward(x));
        Assert.Contains("MixedMode.Tanh", e3.Message);

        // a forward-mode output used by reverse-mode ops without Fwd2Rev: the backward pass says what to do
        var net = new Sequential(new MM.Rev2Fwd(), new MM.Linear(3, 2));
        var loss = Losses.MseLoss(net.Forward(x), Tensor.Zeros(2, 2));
        var e4 = Assert.Throws<AutogradException>(() => loss.Backward());
        Assert.Contains("Fwd2Rev", e4.Message);

        var e5 = Assert.Throws<AutogradException>(() => new MM.Rev2Fwd().Forward(new MM.Rev2Fwd().Forward(x)));
        Assert.Contains("already a forward-mode tensor", e5.Message);
    }

    // ---- fluxion train --mode, fluxion bench mixed -----------------------------------------------------

    private static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Fluxion.Cli.Program.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    private static double[] EpochLosses(string output) =>
        System.Text.RegularExpressions.Regex.Matches(output, @"^epoch \d+/\d+  loss (\S+)", System.Text.RegularExpressions.RegexOptions.Multiline)
            .Select(m => double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    [Fact]
    public void TrainModes()
    {
        string[] common = ["train", "--epochs", "1", "--limit", "200", "--plain"];
        var reverse = Cli([.. common, "--mode", "reverse"]);
        var mixed = Cli([.. common, "--mode", "mixed"]);
        Assert.True(mixed.Code == 0, mixed.Err);
        Assert.Contains("mixed mode", mixed.Out);
        // mixed mode computes the same gradients: the same loss curve up to rounding
        Assert.True(Math.Abs(EpochLosses(reverse.Out)[0] - EpochLosses(mixed.Out)[0]) < 1e-3, reverse.Out + mixed.Out);
        var fg = Cli([.. common, "--mode", "forward-gradient", "--model", "cnn", "--limit", "100"]);
        Assert.True(fg.Code == 0, fg.Err);
        Assert.Contains("forward-gradient mode", fg.Out);
        Assert.Single(EpochLosses(fg.Out));
        var bad = Cli("train", "--mode", "backward");
        Assert.Equal(2, bad.Code);
        Assert.Contains("--mode needs one of: reverse, mixed, forward-gradient", bad.Err);
    }

    [Fact]
    public void BenchMixedReportsTimeAndPeakMemory()
    {
        var (code, output, err) = Cli("bench", "mixed", "--json", "--runs", "1", "--warmup", "0", "--warmup-s", "0", "--no-rss");
        Assert.True(code == 0, err);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(6, lines.Length);
        foreach (var line in lines)
        {
            var d = System.Text.Json.JsonDocument.Parse(line).RootElement;
            Assert.StartsWith("mixed/", d.GetProperty("name").GetString());
            Assert.True(d.GetProperty("median_ms").GetDouble() > 0);
            Assert.True(d.GetProperty("peak_bytes").GetInt64() > 0);
        }
        // with no stored activations, forward-gradient on the deep narrow network needs less memory than backpropagation
        // (about half: 0.503 since reverse's tanh backward is one fused SIMD pass, without the temporaries of 1 - y²)
        var deep = lines.Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).First(d => d.GetProperty("name").GetString() == "mixed/deep/forward-gradient");
        Assert.True(deep.GetProperty("memory_vs_reverse").GetDouble() < 0.6);
    }
}
