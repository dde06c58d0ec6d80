using System.Reflection;

namespace Fluxion.Data;

/// <summary>
/// Fashion-MNIST (Zalando Research, MIT licence): 28x28 grey images of clothing in 10 classes.
/// <see cref="LoadEmbedded"/> returns the fixed, class-balanced subset shipped in the assembly (and package)
/// <c>Fluxion.Datasets</c> (10,000 training and 2,000 test images; see tools/make_fashion_subset.py);
/// <see cref="Load"/> reads the full set from a directory of IDX files.
/// Samples have shape [1, 28, 28] and values in [0, 1] (use <see cref="ByteImageDataset.WithNormalization"/> to normalize).
/// </summary>
public static class FashionMnist
{
    /// <summary>The class names, by label.</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>Mean pixel value of the Fashion-MNIST training set on the [0, 1] scale.</summary>
    public const double PixelMean = 0.2860;

    /// <summary>Standard deviation of the pixel values of the Fashion-MNIST training set on the [0, 1] scale.</summary>
    public const double PixelStd = 0.3530;

    private const string ResourcePrefix = "Fluxion.Data.Embedded.";

    /// <summary>The assembly (and NuGet package) that holds the embedded subset, so that the core library stays small.</summary>
    public const string DatasetsAssembly = "Fluxion.Datasets";

    /// <summary>
    /// The embedded subset: 10,000 training images (1,000 per class) and 2,000 test images (200 per class).
    /// The images live in the assembly <c>Fluxion.Datasets</c> (package <c>Fluxion.Datasets</c>), which the
    /// application must reference.
    /// </summary>
    /// <exception cref="FluxionException">The application does not reference the assembly Fluxion.Datasets.</exception>
    /// <exception cref="DataFormatException">Fluxion.Datasets lacks the data.</exception>
    public static (ByteImageDataset Train, ByteImageDataset Test) LoadEmbedded()
    {
        Assembly asm;
        try { asm = Assembly.Load(new AssemblyName(DatasetsAssembly)); }
        catch (FileNotFoundException e)
        {
            throw new FluxionException($"FashionMnist.LoadEmbedded: the embedded subset lives in the assembly '{DatasetsAssembly}', which this application does not reference; add it (dotnet add package {DatasetsAssembly}, or a project reference to src/{DatasetsAssembly}), or read the full dataset with FashionMnist.Load(directory).", e);
        }
        return (LoadEmbeddedSplit(asm, "train"), LoadEmbeddedSplit(asm, "t10k"));
    }

    private static ByteImageDataset LoadEmbeddedSplit(Assembly asm, string prefix)
    {
        string images = $"{prefix}-images-idx3-ubyte.gz", labels = $"{prefix}-labels-idx1-ubyte.gz";
        using var i = OpenResource(asm, images);
        using var l = OpenResource(asm, labels);
        return Idx.ReadImageDataset(i, "embedded:" + images, l, "embedded:" + labels);
    }

    private static Stream OpenResource(Assembly asm, string file) =>
        asm.GetManifestResourceStream(ResourcePrefix + file)
        ?? throw new DataFormatException($"FashionMnist.LoadEmbedded: the embedded resource '{file}' is missing from {asm.GetName().Name}; rebuild or reinstall {DatasetsAssembly}.");

    /// <summary>
    /// Reads the full dataset from <paramref name="directory"/>, which must hold the four original files
    /// <c>train-images-idx3-ubyte</c>, <c>train-labels-idx1-ubyte</c>, <c>t10k-images-idx3-ubyte</c> and
    /// <c>t10k-labels-idx1-ubyte</c>, each plain or with a <c>.gz</c> suffix (Debian's package
    /// <c>dataset-fashion-mnist</c> installs them under /usr/share/datasets/fashion-mnist). The same layout
    /// as MNIST, so this reads MNIST too.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    /// <exception cref="FileNotFoundException">One of the four files is missing.</exception>
    /// <exception cref="DataFormatException">A file is malformed.</exception>
    public static (ByteImageDataset Train, ByteImageDataset Test) Load(string directory)
    {
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"FashionMnist.Load: directory '{directory}' does not exist.");
        return (Idx.ReadImageDataset(Find(directory, "train-images-idx3-ubyte"), Find(directory, "train-labels-idx1-ubyte")),
                Idx.ReadImageDataset(Find(directory, "t10k-images-idx3-ubyte"), Find(directory, "t10k-labels-idx1-ubyte")));
    }

    private static string Find(string directory, string baseName)
    {
        foreach (var name in new[] { baseName, baseName + ".gz" })
        {
            var p = Path.Combine(directory, name);
            if (File.Exists(p)) return p;
        }
        throw new FileNotFoundException($"FashionMnist.Load: '{directory}' has neither '{baseName}' nor '{baseName}.gz' (expected the four IDX files train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, plain or .gz).", Path.Combine(directory, baseName));
    }
}
