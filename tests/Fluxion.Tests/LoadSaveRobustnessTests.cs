using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Fluxion.Cli;
using Fluxion.Data;
using Fluxion.IO;
using Fluxion.Nn;
using Fluxion.Optim;

namespace Fluxion.Tests;

// Issue 21's findings, one region each: loading checkpoints (BatchNorm's int64 buffer, NaN targets,
// model and optimizer committed together), bounded IDX decompression, lone surrogates in safetensors
// headers, overflowing element counts, stale temp files of interrupted saves, and typed index errors.
public class LoadSaveRobustnessTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fluxion-io-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string P(string name) => Path.Combine(_dir, name);

    private static double[][] Values(Module m) => m.StateDict().Values.Select(t => t.ToDoubleArray()).ToArray();

    private static Dictionary<string, double[]> OptimizerValues(Optimizer o)
    {
        var s = o.StateDict();
        var d = s.Tensors.ToDictionary(kv => kv.Key, kv => kv.Value.ToDoubleArray());
        foreach (var (k, v) in s.Scalars) d[k] = [v];
        return d;
    }

    private static Sequential LinearBn(int seed) =>
        new(new Linear(4, 3, generator: new Generator(seed)), new BatchNorm1d(3));

    private static void Train(Module m, Optimizer opt, int steps, int seed)
    {
        var g = new Generator(seed);
        m.Train();
        for (int i = 0; i < steps; i++)
        {
            var loss = m.Forward(Tensor.Randn([6, 4], generator: g)).Square().Mean();
            opt.ZeroGrad();
            loss.Backward();
            opt.Step();
        }
    }

    // ---- 1. a model with BatchNorm loads its own checkpoint; model and optimizer commit together -------

    [Fact]
    public void AModelWithBatchNormLoadsItsOwnCheckpointWithItsOptimizer()
    {
        var a = LinearBn(1);
        var optA = new Adam(a.Parameters(), lr: 0.01);
        Train(a, optA, 3, seed: 5);
        Assert.Equal(DType.Int64, a.StateDict()["1.num_batches_tracked"].DType);
        Assert.Equal(3L, a.StateDict()["1.num_batches_tracked"].ToArray<long>()[0]);
        ModelIO.Save(a, optA, P("bn.safetensors"));

        var b = LinearBn(2);
        var optB = new Adam(b.Parameters(), lr: 0.5);
        ModelIO.Load(b, optB, P("bn.safetensors"));
        Assert.Equal(Values(a), Values(b));
        Assert.Equal(3L, b.StateDict()["1.num_batches_tracked"].ToArray<long>()[0]);
        Assert.Equal(OptimizerValues(optA), OptimizerValues(optB));

        // the model-only path and Module.LoadStateDict copy int64 (and bool) tensors as well
        var c = LinearBn(3);
        ModelIO.Load(c, P("bn.safetensors"));
        Assert.Equal(Values(a), Values(c));
        var d = LinearBn(4);
        d.LoadStateDict(a.StateDict());
        Assert.Equal(Values(a), Values(d));
        var flags = Tensor.FromArray([true, false, true]);
        flags.CopyInPlace(Tensor.FromArray([false, true, false]));
        Assert.Equal([false, true, false], flags.ToArray<bool>());
    }

    [Fact]
    public void AFailingLoadLeavesModelAndOptimizerExactlyAsTheyWere()
    {
        var a = LinearBn(1);
        var optA = new Adam(a.Parameters());
        Train(a, optA, 2, seed: 1);
        ModelIO.Save(a, optA, P("good.safetensors"));

        var m = LinearBn(2);
        var opt = new Adam(m.Parameters(), lr: 0.003);
        Train(m, opt, 1, seed: 2);
        var model0 = Values(m);
        var opt0 = OptimizerValues(opt);

        // the model part does not fit (a corrupt optimizer part, a bad scalar, a wrong model shape): nothing changes
        var file = SafeTensors.Load(P("good.safetensors"));
        var tensors = file.Tensors.ToDictionary();
        tensors["optimizer.state.0.exp_avg"] = Tensor.Zeros(7);
        Assert.Throws<CheckpointMismatchException>(() => ModelIO.Load(m, opt, new SafeTensorsData(tensors, file.Metadata), "x"));
        Assert.Equal(model0, Values(m));
        Assert.Equal(opt0, OptimizerValues(opt));

        tensors = file.Tensors.ToDictionary();
        tensors["1.running_mean"] = Tensor.Zeros(4);
        Assert.Throws<CheckpointMismatchException>(() => ModelIO.Load(m, opt, new SafeTensorsData(tensors, file.Metadata), "x"));
        Assert.Equal(model0, Values(m));
        Assert.Equal(opt0, OptimizerValues(opt));

        tensors = file.Tensors.ToDictionary();
        tensors["1.num_batches_tracked"] = Tensor.Zeros(1); // float32 where the model has int64
        var e = Assert.Throws<CheckpointMismatchException>(() => ModelIO.Load(m, opt, new SafeTensorsData(tensors, file.Metadata), "x"));
        Assert.Contains("num_batches_tracked", e.Message);
        Assert.Equal(model0, Values(m));
        Assert.Equal(opt0, OptimizerValues(opt));
    }

    // ---- 2. loading into NaN/Inf weights overwrites them -----------------------------------------------

    [Fact]
    public void LoadingOverNaNAndInfWeightsRestoresTheCheckpoint()
    {
        var a = LinearBn(1);
        ModelIO.Save(a, P("good.safetensors"));
        var m = LinearBn(2);
        using (Autograd.NoGrad())
        {
            var ps = m.Parameters().ToList();
            ps[0].FillInPlace(double.NaN);
            ps[1].FillInPlace(double.PositiveInfinity);
            m.StateDict()["1.running_var"].FillInPlace(double.NegativeInfinity);
        }
        ModelIO.Load(m, P("good.safetensors"));
        Assert.Equal(Values(a), Values(m));
        Assert.All(Values(m).SelectMany(v => v), v => Assert.True(double.IsFinite(v)));

        // the in-place fills and copies themselves select, they do not compute
        var t = Tensor.FromArray([double.NaN, double.PositiveInfinity, 1.0]);
        t.ZeroInPlace();
        Assert.Equal([0.0, 0.0, 0.0], t.ToDoubleArray());
        t.FillInPlace(double.NaN);
        t.CopyInPlace(Tensor.Scalar(2.5, DType.Float64));
        Assert.Equal([2.5, 2.5, 2.5], t.ToDoubleArray());
    }

    [Fact]
    public void CopyInPlaceStillDifferentiates()
    {
        var x = Tensor.FromArray([1.0, 2.0, 3.0]).RequiresGrad_();
        var s = Tensor.FromArray([10.0]).RequiresGrad_();
        var y = x * 2.0;
        y.CopyInPlace(s);
        (y * Tensor.FromArray([1.0, 2.0, 3.0])).Sum().Backward();
        Assert.Equal([0.0, 0.0, 0.0], x.Grad!.ToDoubleArray());
        Assert.Equal([6.0], s.Grad!.ToDoubleArray());
        var e = Assert.Throws<DTypeMismatchException>(() => Tensor.Zeros(3).CopyInPlace(Tensor.Zeros([3], DType.Int64)));
        Assert.Contains("CopyInPlace", e.Message);
    }

    // ---- 3. IDX: bounded decompression ---------------------------------------------------------------

    private static byte[] Idx(int[] dims, int dataBytes, int extraZeros = 0)
    {
        var ms = new MemoryStream();
        ms.Write([0, 0, 8, (byte)dims.Length]);
        Span<byte> b = stackalloc byte[4];
        foreach (var d in dims)
        {
            BinaryPrimitives.WriteInt32BigEndian(b, d);
            ms.Write(b);
        }
        for (int i = 0; i < dataBytes; i++) ms.WriteByte((byte)(i * 7));
        ms.Write(new byte[extraZeros]);
        return ms.ToArray();
    }

    private static byte[] Gzip(byte[] plain)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.SmallestSize)) gz.Write(plain);
        return ms.ToArray();
    }

    private static long Allocated(Action a)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        a();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    [Fact]
    public void AGzipBombIsRejectedWithoutInflatingIt()
    {
        // header: one element; then 32 MB of zeros that compress to ~32 KB
        var bomb = Gzip(Idx([1], 1, extraZeros: 32 << 20));
        Assert.True(bomb.Length < 64 << 10, $"{bomb.Length}");
        File.WriteAllBytes(P("bomb.gz"), bomb);
        DataFormatException? e = null;
        long bytes = Allocated(() => e = Assert.Throws<DataFormatException>(() => Fluxion.Data.Idx.Read(P("bomb.gz"))));
        Assert.Contains(P("bomb.gz"), e!.Message);
        Assert.Contains("wrong counts", e.Message);
        Assert.True(bytes < 2 << 20, $"allocated {bytes} bytes");

        // a header that claims far more than the compressed file can hold: rejected before allocating
        File.WriteAllBytes(P("claims.gz"), Gzip(Idx([2_000_000_000], 10)));
        bytes = Allocated(() => e = Assert.Throws<DataFormatException>(() => Fluxion.Data.Idx.Read(P("claims.gz"))));
        Assert.Contains(P("claims.gz"), e!.Message);
        Assert.Contains("needs 2000000000 bytes of data", e.Message);
        Assert.True(bytes < 1 << 20, $"allocated {bytes} bytes");

        // a plain file whose size disagrees with its header: rejected before the data is read
        File.WriteAllBytes(P("claims"), Idx([1_000_000_000], 10));
        bytes = Allocated(() => e = Assert.Throws<DataFormatException>(() => Fluxion.Data.Idx.Read(P("claims"))));
        Assert.Contains("truncated data", e!.Message);
        Assert.True(bytes < 1 << 20, $"allocated {bytes} bytes");

        // a good compressed file of 1 MB of data still reads, from a non-seekable stream too
        var good = Idx([1024, 32, 32], 1 << 20);
        var r = Fluxion.Data.Idx.Read(new NonSeekable(Gzip(good)), "pipe");
        Assert.Equal([1024, 32, 32], r.Shape);
        Assert.Equal(good.AsSpan(16).ToArray(), r.Data);
    }

    private sealed class NonSeekable(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
        public override long Position { get => base.Position; set => throw new NotSupportedException(); }
        public override long Seek(long offset, SeekOrigin loc) => throw new NotSupportedException();
        public override long Length => throw new NotSupportedException();
    }

    // ---- 4. lone surrogates in safetensors headers ---------------------------------------------------

    internal static byte[] SafeTensorsFile(string json, byte[] data)
    {
        var header = Encoding.UTF8.GetBytes(json);
        var file = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)header.Length);
        header.CopyTo(file, 8);
        data.CopyTo(file, 8 + header.Length);
        return file;
    }

    [Theory]
    [InlineData("name", """{"\ud800":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""")]
    [InlineData("empty object", """{"\ud800":{}}""")]
    [InlineData("dtype", """{"w":{"dtype":"F3\udc00","shape":[1],"data_offsets":[0,4]}}""")]
    [InlineData("metadata key", """{"__metadata__":{"\udfff":"x"},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""")]
    [InlineData("metadata value", """{"__metadata__":{"k":"a\ud83d"},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""")]
    [InlineData("reversed pair", """{"w\udc00\ud800":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""")]
    public void LoneSurrogateEscapesAreATypedErrorNamingTheFile(string where, string json)
    {
        var path = P(where.Replace(' ', '_') + ".safetensors");
        File.WriteAllBytes(path, SafeTensorsFile(json, new byte[4]));
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensors.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("bad JSON header", e.Message);
        var m = new Sequential(new Linear(1, 1));
        var before = Values(m);
        Assert.Throws<SafeTensorsFormatException>(() => ModelIO.Load(m, path));
        Assert.Equal(before, Values(m));
    }

    [Fact]
    public void TrainResumeReportsALoneSurrogateWithTheFileName()
    {
        var path = P("surrogate.safetensors");
        File.WriteAllBytes(path, SafeTensorsFile("""{"__metadata__":{"fluxion.model":"\ud800"}}""", []));
        var o = new StringWriter();
        var err = new StringWriter();
        int code = Program.Run(["train", "--resume", path, "--limit", "100"], o, err);
        Assert.Equal(1, code);
        Assert.Contains($"safetensors file '{path}'", err.ToString());
        Assert.DoesNotContain("   at ", err.ToString());
    }

    // ---- 5. element counts never overflow silently ---------------------------------------------------

    [Fact]
    public void OverflowingShapesAreATypedErrorNamingTheOp()
    {
        var e = Assert.Throws<ShapeMismatchException>(() => Tensor.Zeros(1 << 30, 1 << 30, 1 << 30));
        Assert.Contains("Zeros", e.Message);
        Assert.Contains("[1073741824, 1073741824, 1073741824]", e.Message);
        Assert.Throws<ShapeMismatchException>(() => Tensor.Zeros(1 << 16, 1 << 16));
        Assert.Throws<ShapeMismatchException>(() => Tensor.Ones([1 << 20, 1 << 20, 1 << 20, 1 << 20], DType.Int64));
        Assert.Contains("Randn", Assert.Throws<ShapeMismatchException>(() => Tensor.Randn(1 << 30, 1 << 30, 4)).Message);
        // empty, but strides that do not fit
        Assert.Throws<ShapeMismatchException>(() => Tensor.Zeros(0, 1 << 30, 1 << 30, 1 << 30));
        Assert.Contains("Reshape", Assert.Throws<ShapeMismatchException>(() => Tensor.Zeros(0).Reshape(0, 1 << 16, 1 << 16)).Message);
        var r = Assert.Throws<ShapeMismatchException>(() => Tensor.Zeros(1).Reshape(1 << 16, 1 << 16));
        Assert.Contains("Reshape", r.Message);
        Assert.Throws<ShapeMismatchException>(() => Tensor.Scalar(1).Expand(1 << 16, 1 << 16));
        // still fine: empty tensors with small dims, large vectors
        Assert.Equal(0, Tensor.Zeros(0, 1 << 10, 1 << 10).Numel);
    }

    [Fact]
    public void IdxShapesThatOverflowNameTheFile()
    {
        File.WriteAllBytes(P("zero-samples"), Idx([0, 1 << 30, 1 << 30, 1 << 30], 0));
        var e = Assert.Throws<DataFormatException>(() => Fluxion.Data.Idx.Read(P("zero-samples")));
        Assert.Contains(P("zero-samples"), e.Message);
        Assert.Contains("too large", e.Message);

        File.WriteAllBytes(P("images"), Idx([0, 1 << 16, 1 << 16], 0));
        File.WriteAllBytes(P("labels"), Idx([0], 0));
        e = Assert.Throws<DataFormatException>(() => Fluxion.Data.Idx.ReadImageDataset(P("images"), P("labels")));
        Assert.Contains(P("images"), e.Message);
    }

    // ---- 6. stale temp files of interrupted saves ----------------------------------------------------

    [Fact]
    public void ASaveRemovesTheTempFilesOfEarlierInterruptedSavesOfTheSameTarget()
    {
        var target = P("ckpt.safetensors");
        string Hex(int i) => new Guid(i, 0, 0, new byte[8]).ToString("N");
        var stale = Enumerable.Range(1, 3).Select(i => P($".ckpt.safetensors.{Hex(i)}.tmp")).ToArray();
        foreach (var f in stale) File.WriteAllBytes(f, new byte[1000]);
        string[] keep =
        [
            P($".other.safetensors.{Hex(4)}.tmp"),     // another target
            P(".ckpt.safetensors.notahexid.tmp"),      // not the save's pattern
            P($".ckpt.safetensors.{Hex(5)}.tmp.bak"),  // not the save's pattern
            P($".ckpt.safetensors.{Hex(0x6abc).ToUpperInvariant()}.tmp"), // Guid "N" is lowercase
            P("ckpt.safetensors.tmp"),
            P("notes.txt"),
        ];
        foreach (var f in keep) File.WriteAllText(f, "keep");
        var live = P($".ckpt.safetensors.{Hex(7)}.tmp"); // a save still writing it: held with FileShare.None
        using (var held = new FileStream(live, FileMode.CreateNew, FileAccess.Write, FileShare.None))
        {
            SafeTensors.Save(target, new Dictionary<string, Tensor> { ["w"] = Tensor.Ones(2) });
            Assert.True(File.Exists(live));
        }
        foreach (var f in stale) Assert.False(File.Exists(f), f);
        foreach (var f in keep) Assert.True(File.Exists(f), f);
        Assert.Equal([1.0, 1.0], SafeTensors.Load(target).Tensors["w"].ToDoubleArray());

        // the next save removes the one that is no longer held
        ModelIO.Save(new Sequential(new Linear(1, 1)), target);
        Assert.False(File.Exists(live));
        Assert.Equal(keep.Append(target).Order(), Directory.GetFiles(_dir).Order());
    }

    // ---- 7. typed index errors; hooks named ---------------------------------------------------------

    public static TheoryData<string, Func<object?>, string[]> IndexErrors => new()
    {
        { "Select", () => Tensor.Zeros(2, 3).Select(1, 3), ["Select", "index 3", "size 3", "[2, 3]"] },
        { "Select negative", () => Tensor.Zeros(2, 3).Select(0, -3), ["Select", "index -3", "size 2"] },
        { "indexer", () => Tensor.Zeros(2, 3)[1, 5], ["Index", "index 5", "dim 1 of size 3", "[2, 3]"] },
        { "indexer from end", () => Tensor.Zeros(2, 3)[.., ^4], ["Index", "index ^4", "dim 1 of size 3"] },
        { "indexer range", () => Tensor.Zeros(2, 3)[.., 1..5], ["Index", "range 1..5", "dim 1 of size 3"] },
        { "Get", () => Tensor.Zeros(2, 3).Get(2, 0), ["Index", "index 2", "dimension 0 of size 2"] },
        { "Gather", () => Tensor.Zeros(2, 2).Gather(1, Tensor.FromArray([0L, 3, 1, 1], 2, 2)), ["Gather", "index 3", "size 2"] },
        { "IndexSelect", () => Tensor.Zeros(2, 2).IndexSelect(0, Tensor.FromArray([0L, -1])), ["IndexSelect", "index -1", "size 2"] },
        { "Embedding", () => new Embedding(3, 4).Forward(Tensor.FromArray([1L, 5])), ["Embedding", "index 5", "num_embeddings 3", "[3, 4]"] },
        { "CrossEntropy", () => Losses.CrossEntropy(Tensor.Zeros(3, 4), Tensor.FromArray([0L, 4, 1])), ["CrossEntropy", "target 4", "4 classes", "[3, 4]"] },
        { "CrossEntropy negative", () => Losses.CrossEntropy(Tensor.Zeros(3, 4), Tensor.FromArray([0L, -2, 1])), ["CrossEntropy", "target -2", "4 classes"] },
    };

    [Theory]
    [MemberData(nameof(IndexErrors))]
    public void IndexErrorsAreFluxionExceptionsNamingOpIndexAndSize(string what, Func<object?> f, string[] parts)
    {
        var e = Assert.Throws<IndexOutOfBoundsException>(() => f());
        Assert.IsAssignableFrom<FluxionException>(e);
        foreach (var p in parts) Assert.True(e.Message.Contains(p), $"{what}: '{p}' not in: {e.Message}");
        Assert.Equal(parts[0].Split(' ')[0], e.Op);
    }

    private static Tensor WrongShape(Tensor g) => Tensor.Zeros(g.Size(0) + 1);

    [Fact]
    public void AHookReturningAWrongShapedGradientIsNamed()
    {
        var leaf = Tensor.FromArray([1.0, 2.0]).RequiresGrad_();
        leaf.RegisterHook(WrongShape);
        var e = Assert.Throws<AutogradException>(() => (leaf * 3.0).Sum().Backward());
        Assert.Contains("WrongShape", e.Message);
        Assert.Contains("[3]", e.Message);
        Assert.Contains("[2]", e.Message);

        var x = Tensor.FromArray([1.0, 2.0]).RequiresGrad_();
        var mid = x * 2.0;
        mid.RegisterHook(g => null);
        mid.RegisterHook(g => g.To(DType.Float32));
        e = Assert.Throws<AutogradException>(() => mid.Sum().Backward());
        Assert.Contains("hook #1", e.Message);
        Assert.Contains("float32", e.Message);
    }
}
