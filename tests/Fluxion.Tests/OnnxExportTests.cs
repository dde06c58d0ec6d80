using Fluxion.IO;
using Fluxion.Models;
using Fluxion.Nn;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Fluxion.Tests;

/// <summary>Models exported with <see cref="ModelIO.ExportOnnx"/> run in ONNX Runtime with Fluxion's outputs
/// (float32, within 1e-5 relative to max(1, |value|)), at a batch size other than the traced one.</summary>
public class OnnxExportTests
{
    private static string TempFile() => Path.Combine(Path.GetTempPath(), $"fluxion-onnx-{Guid.NewGuid():N}.onnx");

    /// <summary>Runs the ONNX file on <paramref name="x"/> and returns the output's shape and values.</summary>
    internal static (int[] Shape, float[] Values) RunOrt(string path, Tensor x)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        using var session = new InferenceSession(path, options);
        var input = x.DType == DType.Int64
            ? NamedOnnxValue.CreateFromTensor("input", new DenseTensor<long>(x.ToArray<long>(), x.ShapeArray))
            : NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(x.ToArray<float>(), x.ShapeArray));
        using var results = session.Run([input]);
        var r = results.Single(v => v.Name == "output").AsTensor<float>();
        return (r.Dimensions.ToArray(), r.ToArray());
    }

    /// <summary>Exports <paramref name="model"/> traced on <paramref name="sample"/>, runs it in ONNX Runtime on
    /// <paramref name="test"/> and compares with Fluxion's eval-mode output.</summary>
    /// <remarks>With the environment variable FLUXION_ONNX_DIR set, the file is kept there as <paramref name="name"/>.onnx
    /// (for tools/onnx_check.py).</remarks>
    internal static void AssertMatches(Module model, Tensor sample, Tensor test, int opset = 17, string? name = null)
    {
        string? keep = Environment.GetEnvironmentVariable("FLUXION_ONNX_DIR") is { Length: > 0 } dir && name is not null
            ? Path.Combine(dir, name + ".onnx") : null;
        string path = keep ?? TempFile();
        try
        {
            bool training = model.Training;
            ModelIO.ExportOnnx(model, sample, path, opset);
            Assert.Equal(training, model.Training); // the export restores the mode
            AssertFileMatches(model, path, test);
        }
        finally
        {
            if (keep is null) File.Delete(path);
        }
    }

    internal static void AssertFileMatches(Module model, string path, Tensor test)
    {
        var (shape, got) = RunOrt(path, test);
        model.Eval();
        Tensor expected;
        using (Autograd.NoGrad()) expected = model.Forward(test);
        model.Train();
        Assert.Equal(expected.ShapeArray, shape);
        var want = expected.ToArray<float>();
        if (want.Length > 4) // the comparison means something only if the outputs vary
            Assert.True(want.Max() - want.Min() > 1e-3, $"{path}: the outputs are (nearly) constant");
        for (int i = 0; i < want.Length; i++)
            Assert.True(Math.Abs(got[i] - want[i]) <= 1e-5 * Math.Max(1, Math.Abs(want[i])),
                $"{path}: element {i}: ONNX Runtime {got[i]}, Fluxion {want[i]}");
    }

    private static Tensor Randn(Generator g, params int[] shape) => Tensor.Randn(shape, DType.Float32, g);

    [Fact]
    public void Mlp_MatchesOnnxRuntime_AtAnotherBatchSize()
    {
        var g = new Generator(1);
        var model = new Sequential(new Flatten(), new Linear(784, 256, generator: g), new ReLU(), new Linear(256, 10, generator: g));
        AssertMatches(model, Randn(g, 2, 1, 28, 28), Randn(g, 5, 1, 28, 28), name: "mlp");
    }

    [Fact]
    public void Cnn_MatchesOnnxRuntime_AtAnotherBatchSize()
    {
        var g = new Generator(2);
        var model = new Sequential(
            new Conv2d(1, 16, 3, padding: 1, generator: g), new ReLU(), new MaxPool2d(2),
            new Conv2d(16, 32, 3, padding: 1, generator: g), new ReLU(), new MaxPool2d(2),
            new Flatten(), new Linear(32 * 7 * 7, 10, generator: g));
        AssertMatches(model, Randn(g, 1, 1, 28, 28), Randn(g, 3, 1, 28, 28), name: "cnn");
    }

    [Fact]
    public void PointCloudNetwork_MatchesOnnxRuntime_AtAnotherBatchSize()
    {
        var g = new Generator(3);
        var model = new Sequential(new Flatten(), new PointCloudNetwork([64, 32, 10], k: 8, period: 0.2, amplitude: 4, generator: g));
        AssertMatches(model, Randn(g, 2, 1, 8, 8), Randn(g, 4, 1, 8, 8), name: "pointcloud");
    }

    /// <summary>A model with every supported image and vector layer (the normalization layers with trained running statistics).</summary>
    private static Sequential EveryLayer(Generator g) => new(
        new Conv2d(3, 4, 3, padding: 1, generator: g), new BatchNorm2d(4), new ReLU(),
        new MaxPool2d(2, ceilMode: true),
        new ConvTranspose2d(4, 6, 3, stride: 2, padding: 1, outputPadding: 1, generator: g),
        new GroupNorm(2, 6), new InstanceNorm2d(6, affine: true, trackRunningStats: true), new InstanceNorm2d(6),
        new AvgPool2d(2, padding: 1, countIncludePad: false), new AvgPool2d(2, divisorOverride: 3), new AdaptiveAvgPool2d(1),
        new PReLU(6), new Conv2d(6, 6, 1, generator: g), new AdaptiveAvgPool2d(1),
        new Flatten(), new Linear(6, 12, generator: g), new BatchNorm1d(12), new LayerNorm(12), new Dropout(0.3),
        new ELU(0.8), new SELU(), new CELU(0.7), new SiLU(), new Mish(), new Hardswish(), new Hardsigmoid(), new Hardtanh(-0.5, 0.8),
        new ReLU6(), new Softsign(), new Softshrink(0.1), new Hardshrink(0.05), new Tanhshrink(), new LogSigmoid(), new Threshold(-0.7, 0.25),
        new LeakyReLU(0.2), new GELU(), new GELU(GeluApproximation.Tanh), new Tanh(), new Sigmoid(), new RReLU(), new PReLU(),
        new GLU(), new Softmin(1), new Linear(6, 4, generator: g), new Softmax(-1));

    [Theory]
    [InlineData(17)]
    [InlineData(18)]
    [InlineData(21)]
    public void EverySupportedLayer_MatchesOnnxRuntime(int opset)
    {
        var g = new Generator(4);
        var model = EveryLayer(g);
        using (Autograd.NoGrad())
            for (int i = 0; i < 3; i++) model.Forward(Randn(g, 4, 3, 8, 8) * 2.0 + 0.5); // running statistics away from 0 and 1
        AssertMatches(model, Randn(g, 2, 3, 8, 8), Randn(g, 5, 3, 8, 8), opset, $"every_layer_opset{opset}");
    }

    [Theory]
    [InlineData(17)]
    [InlineData(18)]
    public void EachActivation_MatchesOnnxRuntime(int opset)
    {
        Module[] acts = [new ReLU(), new LeakyReLU(0.2), new GELU(), new GELU(GeluApproximation.Tanh), new Tanh(), new Sigmoid(), new Softmax(1),
            new ELU(0.8), new SELU(), new CELU(0.7), new SiLU(), new Mish(), new Hardswish(), new Hardsigmoid(), new Hardtanh(-0.5, 0.8),
            new ReLU6(), new Softsign(), new Softshrink(0.3), new Hardshrink(0.3), new Tanhshrink(), new LogSigmoid(), new Threshold(0.1, -2),
            new Softmin(1), new GLU(1), new PReLU(8, 0.1), new RReLU(), new Dropout(0.5)];
        var g = new Generator(5);
        int k = 0;
        foreach (var act in acts)
        {
            var model = new Sequential(new Linear(3, 8, generator: g), act);
            AssertMatches(model, Randn(g, 2, 3), Randn(g, 7, 3) * 4.0, opset, $"activation_{act.GetType().Name}_{k++}_opset{opset}");
        }
    }

    [Fact]
    public void SequenceModel_EmbeddingPositionalEncodingsAttention_MatchesOnnxRuntime()
    {
        var g = new Generator(6);
        var model = new Sequential(
            new Embedding(20, 8, generator: g), new LearnedPositionalEncoding(10, 8, batchFirst: true, initStd: 0.5, generator: g),
            new SinusoidalPositionalEncoding(8, 10, batchFirst: true), new MultiheadAttention(8, 2, batchFirst: true, generator: g),
            new LayerNorm(8), new Linear(8, 5, generator: g));
        var tokens = (Tensor.Rand([2, 6], DType.Float32, g) * 19.99).Floor().To(DType.Int64);
        var other = (Tensor.Rand([5, 6], DType.Float32, g) * 19.99).Floor().To(DType.Int64);
        AssertMatches(model, tokens, other, name: "sequence");
    }

    private sealed class Custom : Module
    {
        public override Tensor Forward(Tensor input) => input * 2.0;
    }

    [Fact]
    public void UnsupportedModule_IsATypedErrorNamingItAndTheSupportedOnes_AndWritesNothing()
    {
        var path = TempFile();
        var model = new Sequential(new Linear(3, 4), new Custom());
        var e = Assert.Throws<OnnxExportException>(() => ModelIO.ExportOnnx(model, Tensor.Zeros([1, 3]), path));
        Assert.Contains("Custom", e.Message);
        Assert.Contains("'1'", e.Message);
        Assert.Contains("Supported modules", e.Message);
        Assert.False(File.Exists(path));

        var seqFirst = new MultiheadAttention(4, 2);
        var e2 = Assert.Throws<OnnxExportException>(() => ModelIO.ExportOnnx(seqFirst, Tensor.Zeros([3, 1, 4]), path));
        Assert.Contains("batchFirst", e2.Message);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void Initializers_AreNamedByStateDictKeys()
    {
        var model = new Sequential(new Linear(3, 4), new BatchNorm1d(4), new PointCloudNetwork([4, 5, 2], k: 2));
        var path = TempFile();
        try
        {
            ModelIO.ExportOnnx(model, Tensor.Zeros([1, 3]), path);
            using var session = new InferenceSession(path);
            Assert.Equal("batch", session.InputMetadata["input"].SymbolicDimensions[0]);
            Assert.Equal("batch", session.OutputMetadata["output"].SymbolicDimensions[0]);
            var bytes = File.ReadAllBytes(path);
            foreach (var key in model.StateDict().Keys.Where(k => !k.EndsWith("num_batches_tracked")))
                Assert.True(Contains(bytes, System.Text.Encoding.UTF8.GetBytes(key)), $"initializer '{key}' missing");
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static bool Contains(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle) >= 0;
}
