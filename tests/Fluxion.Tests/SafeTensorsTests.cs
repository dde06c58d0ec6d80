using System.Buffers.Binary;
using System.Text;
using Fluxion.IO;
using Fluxion.Nn;
using Fluxion.Optim;

namespace Fluxion.Tests;

// Safetensors reading/writing, ModelIO checkpoints, and PyTorch interop:
// - golden/torch_mlp.safetensors and golden/torch_tensors.safetensors were written from PyTorch by
//   tests/golden/make_safetensors.py and are read here;
// - golden/fluxion_written.safetensors is this writer's output (WriterOutputMatchesTheCommittedFile keeps
//   it byte-identical); tests/golden/check_safetensors.py reads it with PyTorch and checks every value.
//   That script was run by hand (it printed "OK: ...: 7 tensors and the metadata match"); CI has no Python.
public class SafeTensorsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fluxion-st-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string P(string name) => Path.Combine(_dir, name);

    private static Dictionary<string, Tensor> Sample()
    {
        var f32 = Tensor.Arange(12).Reshape(3, 4) * 0.5 - 1;
        return new()
        {
            ["f32"] = f32,
            ["f32_t"] = f32.T, // non-contiguous view: written row-major
            ["f64"] = Tensor.FromArray([0.1, -1e300, double.Epsilon, double.PositiveInfinity]),
            ["i64"] = Tensor.FromArray([-3L, 0, 1L << 40, long.MaxValue]),
            ["mask"] = Tensor.FromArray([true, false, true], 1, 3),
            ["scalar"] = Tensor.Scalar(3.25),
            ["empty"] = Tensor.Zeros(0, 2),
        };
    }

    private static readonly Dictionary<string, string> SampleMeta = new() { ["producer"] = "fluxion", ["note"] = "golden" };

    private static void AssertSame(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.DType, actual.DType);
        Assert.Equal(expected.ShapeArray, actual.ShapeArray);
        Assert.Equal(expected.ToDoubleArray(), actual.ToDoubleArray());
    }

    [Fact]
    public void RoundTripKeepsEveryDTypeShapeValueAndMetadata()
    {
        var t = Sample();
        SafeTensors.Save(P("a.safetensors"), t, SampleMeta);
        var back = SafeTensors.Load(P("a.safetensors"));
        Assert.Equal(t.Keys.Order(), back.Tensors.Keys.Order());
        foreach (var (k, v) in t) AssertSame(v, back.Tensors[k]);
        Assert.Equal(SampleMeta.OrderBy(kv => kv.Key), back.Metadata.OrderBy(kv => kv.Key));

        // layout: data section 8-aligned, header padded with spaces, 8-byte dtypes first
        var bytes = File.ReadAllBytes(P("a.safetensors"));
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0UL, (8 + n) % 8);
        var header = Encoding.UTF8.GetString(bytes, 8, (int)n);
        Assert.StartsWith("{\"__metadata__\":{", header);
        Assert.EndsWith("}", header.TrimEnd(' '));
        Assert.True(header.IndexOf("\"f64\"", StringComparison.Ordinal) < header.IndexOf("\"f32\"", StringComparison.Ordinal));
        Assert.Contains("\"dtype\":\"BOOL\"", header);
        // no temp file left behind
        Assert.Single(Directory.GetFiles(_dir));
    }

    [Fact]
    public void WriterOutputMatchesTheCommittedFile()
    {
        SafeTensors.Save(P("w.safetensors"), Sample(), SampleMeta);
        var written = File.ReadAllBytes(P("w.safetensors"));
        if (Environment.GetEnvironmentVariable("FLUXION_WRITE_GOLDEN") == "1")
            File.WriteAllBytes(Path.Combine(RepoRoot(), "tests", "golden", "fluxion_written.safetensors"), written);
        Assert.Equal(File.ReadAllBytes(Path.Combine(Golden.Directory, "fluxion_written.safetensors")), written);
    }

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Fluxion.sln"))) return d.FullName;
        throw new InvalidOperationException("repository root not found");
    }

    [Fact]
    public void ReadsPyTorchWrittenTensorsOfEveryDType()
    {
        var f = SafeTensors.Load(Path.Combine(Golden.Directory, "torch_tensors.safetensors"));
        Assert.StartsWith("torch ", f.Metadata["producer"]);
        AssertSame(Tensor.FromArray(new[,] { { 1.5, -2.25, 1e-300 }, { 3.0, double.PositiveInfinity, -0.0 } }), f.Tensors["f64"]);
        Assert.True(double.IsNegative(f.Tensors["f64"].ToArray<double>()[5]));
        AssertSame(Tensor.FromArray([-3L, 0, 1L << 40, long.MaxValue]), f.Tensors["i64"]);
        AssertSame(Tensor.FromArray([true, false, false, true], 2, 2), f.Tensors["mask"]);
        AssertSame(Tensor.Scalar(3.25), f.Tensors["scalar"]);
        AssertSame(Tensor.Zeros(0, 3), f.Tensors["empty"]);
        Assert.Equal([5, 4], f.Tensors["input"].ShapeArray);
    }

    [Fact]
    public void LoadsAPyTorchStateDictAndReproducesItsOutput()
    {
        var model = new Sequential(new Linear(4, 3), new ReLU(), new Linear(3, 2));
        var meta = ModelIO.Load(model, Path.Combine(Golden.Directory, "torch_mlp.safetensors"));
        Assert.Equal("pt", meta["format"]);
        var io = SafeTensors.Load(Path.Combine(Golden.Directory, "torch_tensors.safetensors")).Tensors;
        var y = model.Forward(io["input"]).ToArray<float>();
        var expected = io["output"].ToArray<float>();
        Assert.Equal(10, y.Length);
        for (int i = 0; i < y.Length; i++) Assert.Equal(expected[i], y[i], 5);
    }

    // ---- malformed files -----------------------------------------------------------------------------

    private static byte[] File_(string json, byte[] data, ulong? headerLength = null, bool pad = true)
    {
        var h = Encoding.UTF8.GetBytes(json);
        if (pad && h.Length % 8 != 0) h = [.. h, .. Enumerable.Repeat((byte)' ', 8 - h.Length % 8)];
        var b = new byte[8 + h.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(b, headerLength ?? (ulong)h.Length);
        h.CopyTo(b, 8);
        data.CopyTo(b, 8 + h.Length);
        return b;
    }

    private static string T(string name, string dtype, string shape, long begin, long end) =>
        $"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":[{begin},{end}]}}";

    public static TheoryData<string, byte[], string> Malformed => new()
    {
        { "empty file", [], "truncated file" },
        { "7 bytes", [1, 2, 3, 4, 5, 6, 7], "truncated file" },
        { "header beyond file", File_("{}", [], headerLength: 1000), "goes beyond the end of the file" },
        { "huge header length", File_("{}", [], headerLength: ulong.MaxValue), "goes beyond the end of the file" },
        { "not json", File_("{not json", []), "bad JSON header" },
        { "not an object", File_("[1, 2]", []), "must start with '{'" },
        { "duplicate key", File_("{" + T("a", "F32", "[1]", 0, 4) + "," + T("a", "F32", "[1]", 0, 4) + "}", new byte[4]), "bad JSON header" },
        { "invalid utf8", [.. File_("{}", [])[..8], (byte)'{', 0xff, 0xfe, (byte)'}', 32, 32, 32, 32], "bad JSON header" },
        { "unknown dtype", File_("{" + T("a", "Q7", "[1]", 0, 4) + "}", new byte[4]), "unknown dtype \"Q7\"" },
        { "unsupported dtype", File_("{" + T("a", "F16", "[2]", 0, 4) + "}", new byte[4]), "dtype F16 is not supported" },
        { "offsets out of range", File_("{" + T("a", "F32", "[2]", 0, 8) + "}", new byte[4]), "out of range" },
        { "offsets reversed", File_("{" + T("a", "F32", "[0]", 4, 0) + "}", new byte[4]), "end before they begin" },
        { "shape vs bytes", File_("{" + T("a", "F32", "[3]", 0, 8) + "}", new byte[8]), "needs 12 bytes" },
        { "overlap", File_("{" + T("a", "F32", "[2]", 0, 8) + "," + T("b", "F32", "[2]", 4, 12) + "}", new byte[12]), "overlap" },
        { "gap", File_("{" + T("a", "F32", "[1]", 0, 4) + "," + T("b", "F32", "[1]", 8, 12) + "}", new byte[12]), "do not cover" },
        { "not starting at 0", File_("{" + T("a", "F32", "[1]", 4, 8) + "}", new byte[8]), "do not cover" },
        { "trailing bytes", File_("{" + T("a", "F32", "[1]", 0, 4) + "}", new byte[6]), "do not cover" },
        { "negative shape", File_("{" + T("a", "F32", "[-1]", 0, 0) + "}", []), "non-negative" },
        { "missing dtype", File_("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[4]), "no \"dtype\"" },
        { "bad offsets", File_("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", new byte[4]), "data_offsets must be [begin, end]" },
        { "metadata not strings", File_("{\"__metadata__\":{\"k\":1}}", []), "must be a string" },
        { "entry not object", File_("{\"a\":3}", []), "must be an object" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void LoadRejectsMalformedFilesNamingFileAndProblem(string name, byte[] bytes, string problem)
    {
        var path = P(name.Replace(' ', '_') + ".safetensors");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensors.Load(path));
        Assert.IsAssignableFrom<FluxionException>(e);
        Assert.Contains(path, e.Message);
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void UnpaddedHeadersAndEmptyFilesAreAccepted()
    {
        // other writers may skip the padding; the reader does not require it
        File.WriteAllBytes(P("u"), File_("{" + T("a", "I64", "[1]", 0, 8) + "}", BitConverter.GetBytes(42L), pad: false));
        Assert.Equal(42L, SafeTensors.Load(P("u")).Tensors["a"].Item<long>());
        SafeTensors.Save(P("e"), new Dictionary<string, Tensor>());
        Assert.Empty(SafeTensors.Load(P("e")).Tensors);
    }

    [Fact]
    public void SaveRejectsBadNames()
    {
        Assert.Throws<ArgumentException>(() => SafeTensors.Save(P("x"), new Dictionary<string, Tensor> { [""] = Tensor.Zeros(1) }));
        Assert.Throws<ArgumentException>(() => SafeTensors.Save(P("x"), new Dictionary<string, Tensor> { ["__metadata__"] = Tensor.Zeros(1) }));
        Assert.False(File.Exists(P("x")));
    }

    // ---- atomicity -----------------------------------------------------------------------------------

    [Fact]
    public void AFailedSaveLeavesTheOldFileIntactAndNoTempFile()
    {
        var path = P("ckpt.safetensors");
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["w"] = Tensor.Ones(3) });
        var before = File.ReadAllBytes(path);
        SafeTensors.BeforeCommit = tmp =>
        {
            if (Path.GetDirectoryName(tmp) == _dir) throw new IOException("disk full (simulated)");
        };
        try
        {
            var e = Assert.Throws<IOException>(() => SafeTensors.Save(path, new Dictionary<string, Tensor> { ["w"] = Tensor.Zeros(1000) }));
            Assert.Contains("simulated", e.Message);
        }
        finally { SafeTensors.BeforeCommit = null; }
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(_dir));

        // into a directory that does not exist: an error, nothing written
        Assert.Throws<DirectoryNotFoundException>(() => SafeTensors.Save(P("no/such/dir/x.safetensors"), new Dictionary<string, Tensor>()));
        // over an existing file: replaced
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["w"] = Tensor.Zeros(2) });
        Assert.Equal([0.0, 0.0], SafeTensors.Load(path).Tensors["w"].ToDoubleArray());
    }

    // ---- ModelIO -------------------------------------------------------------------------------------

    private static Sequential Mlp(int seed, int hidden = 5) =>
        new(new Linear(3, hidden, generator: new Generator(seed)), new ReLU(), new Linear(hidden, 2, generator: new Generator(seed + 100)));

    private static double[][] Values(Module m) => m.StateDict().Values.Select(t => t.ToDoubleArray()).ToArray();

    [Fact]
    public void ModelIORoundTripsAModule()
    {
        var a = Mlp(1);
        ModelIO.Save(a, P("m.safetensors"), new Dictionary<string, string> { ["epoch"] = "3" });
        var b = Mlp(2);
        Assert.NotEqual(Values(a), Values(b));
        var meta = ModelIO.Load(b, P("m.safetensors"));
        Assert.Equal(Values(a), Values(b));
        Assert.Equal("3", meta["epoch"]);
        Assert.Equal("pt", meta["format"]);
        Assert.Equal(["0.bias", "0.weight", "2.bias", "2.weight"], SafeTensors.Load(P("m.safetensors")).Tensors.Keys.Order());
    }

    [Fact]
    public void AFailedLoadLeavesTheModelUnchanged()
    {
        ModelIO.Save(Mlp(1, hidden: 4), P("other-shape.safetensors"));
        var m = Mlp(2);
        var before = Values(m);

        var e = Assert.Throws<CheckpointMismatchException>(() => ModelIO.Load(m, P("other-shape.safetensors")));
        Assert.Contains("'0.weight': shape [4, 3] in the file, [5, 3] in the model", e.Message);
        Assert.Contains("nothing was loaded", e.Message);
        Assert.Contains(P("other-shape.safetensors"), e.Message);
        Assert.Equal(before, Values(m));

        // dtype mismatch: a float64 copy of the model
        ModelIO.Save(Mlp(3).To(DType.Float64), P("f64.safetensors"));
        e = Assert.Throws<CheckpointMismatchException>(() => ModelIO.Load(m, P("f64.safetensors")));
        Assert.Contains("dtype float64 in the file, float32 in the model", e.Message);
        Assert.Equal(before, Values(m));

        // missing and unexpected keys
        var sd = Mlp(4).StateDict().ToDictionary();
        sd.Remove("2.bias");
        sd["extra"] = Tensor.Zeros(1);
        SafeTensors.Save(P("keys.safetensors"), sd);
        e = Assert.Throws<CheckpointMismatchException>(() => ModelIO.Load(m, P("keys.safetensors")));
        Assert.Contains("missing key '2.bias'", e.Message);
        Assert.Contains("unexpected key 'extra'", e.Message);
        Assert.Equal(before, Values(m));
        ModelIO.Load(m, P("keys.safetensors"), strict: false); // non-strict: loads what fits
        Assert.Equal(sd["0.weight"].ToDoubleArray(), m.StateDict()["0.weight"].ToDoubleArray());
        Assert.Equal(before[m.StateDict().Keys.ToList().IndexOf("2.bias")], m.StateDict()["2.bias"].ToDoubleArray());

        // a corrupt file: format error, model unchanged
        var m2 = Mlp(5);
        var before2 = Values(m2);
        ModelIO.Save(Mlp(6), P("cut.safetensors"));
        var bytes = File.ReadAllBytes(P("cut.safetensors"));
        File.WriteAllBytes(P("cut.safetensors"), bytes[..^4]);
        Assert.Throws<SafeTensorsFormatException>(() => ModelIO.Load(m2, P("cut.safetensors")));
        Assert.Equal(before2, Values(m2));
    }

    // ---- ModelIO with optimizer state ----------------------------------------------------------------

    private static void TrainSteps(Module m, Optimizer opt, int steps, int seed)
    {
        var g = new Generator(seed);
        for (int i = 0; i < steps; i++)
        {
            var x = Tensor.Randn([4, 3], generator: g);
            var loss = m.Forward(x).Square().Mean();
            opt.ZeroGrad();
            loss.Backward();
            opt.Step();
        }
    }

    [Fact]
    public void ModelAndOptimizerStateRoundTripExactly()
    {
        var a = Mlp(1);
        var optA = new Adam(a.Parameters(), lr: 0.01);
        TrainSteps(a, optA, 3, seed: 10);
        ModelIO.Save(a, optA, P("c.safetensors"), new Dictionary<string, string> { ["epoch"] = "1" });
        var file = SafeTensors.Load(P("c.safetensors"));
        Assert.Contains("optimizer.state.0.exp_avg", file.Tensors.Keys);
        Assert.Equal("3", file.Metadata["optimizer.state.0.step"]);
        Assert.Equal("0.01", file.Metadata["optimizer.param_groups.0.lr"]);
        Assert.Equal("Adam", file.Metadata[ModelIO.OptimizerKindKey]);

        var b = Mlp(2);
        var optB = new Adam(b.Parameters(), lr: 0.5);
        ModelIO.Load(b, optB, P("c.safetensors"));
        Assert.Equal(0.01, optB.ParamGroups[0].Lr);
        // continuing both gives identical parameters: the moments and step counts came back
        TrainSteps(a, optA, 2, seed: 20);
        TrainSteps(b, optB, 2, seed: 20);
        Assert.Equal(Values(a), Values(b));

        // a model-only load ignores the optimizer part
        var c = Mlp(3);
        ModelIO.Load(c, P("c.safetensors"));
    }

    [Fact]
    public void AnOptimizerMismatchLeavesModelAndOptimizerUnchanged()
    {
        var a = Mlp(1);
        var adam = new Adam(a.Parameters());
        TrainSteps(a, adam, 1, seed: 1);
        ModelIO.Save(a, adam, P("adam.safetensors"));
        ModelIO.Save(a, P("model-only.safetensors"));

        var m = Mlp(2);
        var before = Values(m);
        var sgd = new SGD(m.Parameters(), lr: 0.1, momentum: 0.9);
        var e = Assert.Throws<CheckpointMismatchException>(() => ModelIO.Load(m, sgd, P("adam.safetensors")));
        Assert.Contains("holds Adam optimizer state, but the optimizer is SGD", e.Message);
        Assert.Equal(before, Values(m));

        e = Assert.Throws<CheckpointMismatchException>(() => ModelIO.Load(m, new Adam(m.Parameters()), P("model-only.safetensors")));
        Assert.Contains("holds no optimizer state", e.Message);
        Assert.Equal(before, Values(m));

        // an optimizer over fewer parameters: the optimizer's own all-or-nothing check, reported as a mismatch
        var partial = new Adam(m.Parameters().Take(2));
        e = Assert.Throws<CheckpointMismatchException>(() => ModelIO.Load(m, partial, P("adam.safetensors")));
        Assert.Contains("the optimizer state does not fit", e.Message);
        Assert.Equal(before, Values(m));
        Assert.Empty(partial.StateTensors());

        Assert.Throws<ArgumentException>(() => ModelIO.Save(m, adam, P("x"), new Dictionary<string, string> { ["optimizer.x"] = "1" }));
    }
}
