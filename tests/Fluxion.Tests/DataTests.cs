using System.Buffers.Binary;
using System.IO.Compression;
using Fluxion.Data;

namespace Fluxion.Tests;

public class DataTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fluxion-data-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // ---- IDX files made in the test ----------------------------------------------------------------

    private static byte[] Idx(byte type, int[] dims, byte[] data, int? ndimOverride = null)
    {
        var b = new byte[4 + 4 * dims.Length + data.Length];
        b[2] = type;
        b[3] = (byte)(ndimOverride ?? dims.Length);
        for (int i = 0; i < dims.Length; i++) BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(4 + 4 * i), dims[i]);
        data.CopyTo(b, 4 + 4 * dims.Length);
        return b;
    }

    private static byte[] Gzip(byte[] plain)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(plain);
        return ms.ToArray();
    }

    private string Write(string name, byte[] bytes)
    {
        var p = Path.Combine(_dir, name);
        File.WriteAllBytes(p, bytes);
        return p;
    }

    private static byte[] Seq(int n) => Enumerable.Range(0, n).Select(i => (byte)(i * 7 % 256)).ToArray();

    [Fact]
    public void IdxReadsPlainAndGzipAlike()
    {
        var bytes = Idx(0x08, [3, 2, 4], Seq(24));
        var plain = Fluxion.Data.Idx.Read(Write("plain", bytes));
        // gzip is detected by magic bytes, not by the file name
        var gz = Fluxion.Data.Idx.Read(Write("compressed-without-suffix", Gzip(bytes)));
        Assert.Equal([3, 2, 4], plain.Shape);
        Assert.Equal(Seq(24), plain.Data);
        Assert.Equal(plain.Shape, gz.Shape);
        Assert.Equal(plain.Data, gz.Data);
    }

    [Fact]
    public void IdxReadsAnImageDatasetScaledToUnitRange()
    {
        var px = Seq(2 * 2 * 3);
        px[0] = 255;
        var ds = Fluxion.Data.Idx.ReadImageDataset(Write("img", Idx(0x08, [2, 2, 3], px)), Write("lab", Gzip(Idx(0x08, [2], [7, 1]))));
        Assert.Equal(2, ds.Count);
        Assert.Equal([1, 2, 3], ds.SampleShape);
        var (x, y) = ds.Get(1);
        Assert.Equal(1, y);
        Assert.Equal([1, 2, 3], x.ShapeArray);
        var xv = x.ToArray<float>();
        for (int i = 0; i < 6; i++) Assert.Equal(px[6 + i] / 255f, xv[i], 6);
        Assert.Equal(1f, ds.Get(0).Input.ToArray<float>()[0]);
        var norm = ds.WithNormalization(0.5, 0.25);
        Assert.Equal((1 - 0.5f) / 0.25f, norm.Get(0).Input.ToArray<float>()[0], 5);
    }

    public static TheoryData<string, byte[], string> MalformedIdx => new()
    {
        { "empty", [], "truncated header" },
        { "short magic", [0, 0, 8], "truncated header" },
        { "bad magic", [0x1f, 0x00, 0x08, 0x01, 0, 0, 0, 0], "bad magic number" },
        { "text file", "hello world, not idx"u8.ToArray(), "bad magic number" },
        { "unsupported type", Idx(0x0D, [1], [0, 0, 0, 0]), "unsupported element type 0x0d" },
        { "zero dims", Idx(0x08, [], []), "bad dimension count 0" },
        { "truncated dims", Idx(0x08, [5], [], ndimOverride: 3), "truncated header" },
        { "truncated data", Idx(0x08, [4, 2, 2], Seq(15)), "truncated data" },
        { "extra data", Idx(0x08, [2], [1, 2, 3]), "wrong counts" },
        { "negative dim", Idx(0x08, [-1], []), "too large" },
        { "corrupt gzip", [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff], "gzip" },
    };

    [Theory]
    [MemberData(nameof(MalformedIdx))]
    public void IdxRejectsMalformedFilesNamingFileAndProblem(string name, byte[] bytes, string problem)
    {
        var path = Write(name.Replace(' ', '_'), bytes);
        var e = Assert.ThrowsAny<DataFormatException>(() => Fluxion.Data.Idx.Read(path));
        Assert.IsAssignableFrom<FluxionException>(e);
        Assert.Contains(path, e.Message);
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void IdxRejectsTruncatedGzipStream()
    {
        var gz = Gzip(Idx(0x08, [100], Seq(100)));
        var path = Write("cut.gz", gz[..(gz.Length - 12)]);
        var e = Assert.Throws<DataFormatException>(() => Fluxion.Data.Idx.Read(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void ImageDatasetRejectsCountMismatchWrongRanksAndBadLabels()
    {
        var img = Write("img", Idx(0x08, [3, 2, 2], Seq(12)));
        var e = Assert.Throws<DataFormatException>(() => Fluxion.Data.Idx.ReadImageDataset(img, Write("lab2", Idx(0x08, [2], [0, 1]))));
        Assert.Contains("count mismatch: 3 images but 2 labels", e.Message);
        Assert.Contains(img, e.Message);

        e = Assert.Throws<DataFormatException>(() => Fluxion.Data.Idx.ReadImageDataset(Write("flat", Idx(0x08, [3, 4], Seq(12))), Write("lab3", Idx(0x08, [3], [0, 1, 2]))));
        Assert.Contains("images must have 3 dimensions", e.Message);

        e = Assert.Throws<DataFormatException>(() => Fluxion.Data.Idx.ReadImageDataset(img, Write("lab2d", Idx(0x08, [3, 1], [0, 1, 2]))));
        Assert.Contains("labels must have 1 dimension", e.Message);

        e = Assert.Throws<DataFormatException>(() => Fluxion.Data.Idx.ReadImageDataset(img, Write("lab12", Idx(0x08, [3], [0, 12, 2]))));
        Assert.Contains("label 12 at index 1 is out of range", e.Message);
    }

    // ---- Fashion-MNIST -------------------------------------------------------------------------------

    [Fact]
    public void EmbeddedFashionMnistIsTheBalancedSubset()
    {
        var (train, test) = FashionMnist.LoadEmbedded();
        Assert.Equal(10_000, train.Count);
        Assert.Equal(2_000, test.Count);
        Assert.Equal([1, 28, 28], train.SampleShape);
        Assert.All(Enumerable.Range(0, 10), c => Assert.Equal(1000, train.Labels.ToArray().Count(l => l == c)));
        Assert.All(Enumerable.Range(0, 10), c => Assert.Equal(200, test.Labels.ToArray().Count(l => l == c)));
        var (x, _) = train.Get(0);
        var v = x.ToArray<float>();
        Assert.All(v, p => Assert.InRange(p, 0f, 1f));
        Assert.InRange(v.Average(), 0.05, 0.8); // an image, not zeros
        Assert.Equal(10, FashionMnist.ClassNames.Count);
    }

    [Fact]
    public void FashionMnistLoadReadsADirectoryAndNamesMissingFiles()
    {
        var dir = Directory.CreateDirectory(Path.Combine(_dir, "fm")).FullName;
        File.WriteAllBytes(Path.Combine(dir, "train-images-idx3-ubyte.gz"), Gzip(Idx(0x08, [2, 28, 28], Seq(2 * 784))));
        File.WriteAllBytes(Path.Combine(dir, "train-labels-idx1-ubyte"), Idx(0x08, [2], [3, 9]));
        File.WriteAllBytes(Path.Combine(dir, "t10k-images-idx3-ubyte"), Idx(0x08, [1, 28, 28], Seq(784)));
        var e = Assert.Throws<FileNotFoundException>(() => FashionMnist.Load(dir));
        Assert.Contains("t10k-labels-idx1-ubyte", e.Message);
        File.WriteAllBytes(Path.Combine(dir, "t10k-labels-idx1-ubyte.gz"), Gzip(Idx(0x08, [1], [5])));
        var (train, test) = FashionMnist.Load(dir);
        Assert.Equal(2, train.Count);
        Assert.Equal(9, train.Get(1).Label);
        Assert.Equal(5, test.Get(0).Label);
        Assert.Throws<DirectoryNotFoundException>(() => FashionMnist.Load(Path.Combine(_dir, "nope")));
    }

    [Fact]
    public void TakeBalancedKeepsEveryClass()
    {
        var (train, _) = FashionMnist.LoadEmbedded();
        var sub = train.Take(100, balanced: true);
        Assert.Equal(100, sub.Count);
        Assert.All(Enumerable.Range(0, 10), c => Assert.Equal(10, sub.Labels.ToArray().Count(l => l == c)));
        Assert.Equal(train.Get(0).Input.ToArray<float>(), sub.Get(0).Input.ToArray<float>());
    }

    // ---- TensorDataset and DataLoader ----------------------------------------------------------------

    private static TensorDataset Numbered(int n) =>
        // sample i has input [i, 10 i, 100 i] and label i
        new(Tensor.FromArray(Enumerable.Range(0, n).SelectMany(i => new[] { i, 10f * i, 100f * i }).ToArray(), n, 3),
            Tensor.FromArray(Enumerable.Range(0, n).Select(i => (long)i).ToArray()));

    [Fact]
    public void TensorDatasetValidatesAndCopies()
    {
        var x = Tensor.Zeros(4, 2);
        var ds = new TensorDataset(x, Tensor.FromArray([0L, 1, 2, 3]));
        x.FillInPlace(5);
        Assert.Equal([0f, 0f], ds.Get(2).Input.ToArray<float>());
        Assert.Throws<DTypeMismatchException>(() => new TensorDataset(x, Tensor.Zeros(4)));
        Assert.Throws<ShapeMismatchException>(() => new TensorDataset(x, Tensor.FromArray([0L, 1])));
        Assert.Throws<DTypeMismatchException>(() => new TensorDataset(Tensor.FromArray([1L, 2]), Tensor.FromArray([0L, 1])));
        Assert.Throws<ArgumentOutOfRangeException>(() => ds.Get(4));
        // float64 and non-contiguous inputs are accepted (converted to a float32 copy)
        var t = new TensorDataset(Tensor.FromArray(new double[] { 1, 2, 3, 4, 5, 6 }, 3, 2).T, Tensor.FromArray([7L, 8]));
        Assert.Equal([1f, 3f, 5f], t.Get(0).Input.ToArray<float>());
    }

    [Fact]
    public void DataLoaderBatchesInOrderWithPartialLastBatch()
    {
        var loader = new DataLoader(Numbered(10), batchSize: 4);
        var batches = loader.ToList();
        Assert.Equal(3, loader.BatchCount);
        Assert.Equal(3, batches.Count);
        Assert.Equal([4, 3], batches[0].Inputs.ShapeArray);
        Assert.Equal(DType.Float32, batches[0].Inputs.DType);
        Assert.Equal(DType.Int64, batches[0].Labels.DType);
        Assert.Equal([2, 3], batches[2].Inputs.ShapeArray);
        Assert.Equal([8L, 9], batches[2].Labels.ToArray<long>());
        Assert.Equal([4f, 40, 400, 5, 50, 500, 6, 60, 600, 7, 70, 700], batches[1].Inputs.ToArray<float>());
    }

    [Fact]
    public void DataLoaderDropLastSkipsTheIncompleteBatch()
    {
        var loader = new DataLoader(Numbered(10), batchSize: 4, dropLast: true);
        Assert.Equal(2, loader.BatchCount);
        Assert.Equal(8, loader.SampleCount);
        Assert.All(loader.ToList(), b => Assert.Equal(4, b.Labels.Size(0)));
        Assert.Equal(2, new DataLoader(Numbered(8), 4, dropLast: true).Count());
        Assert.Empty(new DataLoader(Numbered(3), 4, dropLast: true));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DataLoader(Numbered(3), 0));
    }

    private static long[][] Epochs(DataLoader loader, int epochs) =>
        Enumerable.Range(0, epochs).Select(_ => loader.SelectMany(b => b.Labels.ToArray<long>()).ToArray()).ToArray();

    [Fact]
    public void DataLoaderShuffleIsASeededPermutationThatChangesPerEpoch()
    {
        var a = Epochs(new DataLoader(Numbered(50), 8, shuffle: true, seed: 7), 3);
        var b = Epochs(new DataLoader(Numbered(50), 8, shuffle: true, seed: 7), 3);
        var c = Epochs(new DataLoader(Numbered(50), 8, shuffle: true, seed: 8), 3);
        Assert.Equal(a, b);                                   // same seed: same epochs
        Assert.NotEqual(a[0], c[0]);                          // other seed: other order
        Assert.NotEqual(a[0], a[1]);                          // a new permutation every epoch
        Assert.All(a, e => Assert.Equal(Enumerable.Range(0, 50).Select(i => (long)i), e.Order())); // each a permutation
        Assert.NotEqual(Enumerable.Range(0, 50).Select(i => (long)i), a[0]);
        // inputs travel with their labels
        foreach (var (x, y) in new DataLoader(Numbered(50), 8, shuffle: true, seed: 3))
        {
            var xv = x.ToArray<float>();
            var yv = y.ToArray<long>();
            for (int k = 0; k < yv.Length; k++) Assert.Equal([yv[k], 10f * yv[k], 100f * yv[k]], xv[(3 * k)..(3 * k + 3)]);
        }
    }

    [Fact]
    public void DataLoaderDoesNotTouchTheGlobalGeneratorAndCanBeResumed()
    {
        Generator.ManualSeed(123);
        var expected = Tensor.Rand(3).ToArray<float>();
        Generator.ManualSeed(123);
        var loader = new DataLoader(Numbered(20), 5, shuffle: true, seed: 1);
        _ = Epochs(loader, 1);
        Assert.Equal(expected, Tensor.Rand(3).ToArray<float>());

        // restoring the generator state replays the next epoch's order
        var state = loader.Generator.GetState();
        var next = Epochs(loader, 1)[0];
        loader.Generator.SetState(state);
        Assert.Equal(next, Epochs(loader, 1)[0]);
    }
}
