using System.Collections;

namespace Fluxion.Data;

/// <summary>
/// Iterates over a <see cref="Dataset"/> in mini-batches (PyTorch's <c>DataLoader</c>). Each batch is
/// (inputs [B, ...sample shape] float32, labels [B] int64), built by copying samples straight into one
/// freshly allocated batch buffer (no tensor per sample). With <c>shuffle</c>, every enumeration
/// (epoch) draws a new permutation from the loader's own <see cref="Generator"/>, so a given seed
/// gives the same sequence of epochs on every run and does not disturb the global generator.
/// </summary>
public sealed class DataLoader : IEnumerable<(Tensor Inputs, Tensor Labels)>
{
    private readonly Dataset _dataset;
    private readonly int[] _sampleShape;
    private readonly int _sampleSize;

    /// <summary>Creates a loader.</summary>
    /// <param name="dataset">The samples.</param>
    /// <param name="batchSize">Samples per batch (the last batch may be smaller unless <paramref name="dropLast"/>).</param>
    /// <param name="shuffle">Visit the samples in a new random order every epoch.</param>
    /// <param name="dropLast">Skip the last batch when it is smaller than <paramref name="batchSize"/>.</param>
    /// <param name="seed">Seed of the loader's own generator for shuffling (ignored without <paramref name="shuffle"/>).</param>
    public DataLoader(Dataset dataset, int batchSize, bool shuffle = false, bool dropLast = false, long seed = 0)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (batchSize <= 0)
            throw new ArgumentOutOfRangeException(nameof(batchSize), $"DataLoader: batch size must be positive, got {batchSize}.");
        _dataset = dataset;
        _sampleShape = dataset.SampleShape;
        _sampleSize = ShapeUtil.Numel(_sampleShape);
        BatchSize = batchSize;
        Shuffle = shuffle;
        DropLast = dropLast;
        Generator = new Generator(seed);
    }

    /// <summary>The dataset iterated over.</summary>
    public Dataset Dataset => _dataset;

    /// <summary>Samples per batch.</summary>
    public int BatchSize { get; }

    /// <summary>True when each epoch visits the samples in a new random order.</summary>
    public bool Shuffle { get; }

    /// <summary>True when an incomplete last batch is skipped.</summary>
    public bool DropLast { get; }

    /// <summary>The generator that draws the permutations; its state can be saved and restored to resume an epoch sequence.</summary>
    public Generator Generator { get; }

    /// <summary>Number of batches per epoch.</summary>
    public int BatchCount => DropLast ? _dataset.Count / BatchSize : (_dataset.Count + BatchSize - 1) / BatchSize;

    /// <summary>Number of samples per epoch (excluding a dropped last batch).</summary>
    public int SampleCount => DropLast ? BatchCount * BatchSize : _dataset.Count;

    /// <summary>The sample order of the next epoch (draws from <see cref="Generator"/> when shuffling).</summary>
    private int[] NextOrder()
    {
        int n = _dataset.Count;
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        if (Shuffle)
            for (int i = n - 1; i > 0; i--) // Fisher-Yates
            {
                int j = (int)Generator.NextInt64(0, i + 1);
                (order[i], order[j]) = (order[j], order[i]);
            }
        return order;
    }

    /// <summary>Enumerates one epoch of batches.</summary>
    public IEnumerator<(Tensor Inputs, Tensor Labels)> GetEnumerator()
    {
        var order = NextOrder(); // drawn when the epoch starts, as PyTorch's sampler does
        return Batches(order);
    }

    private IEnumerator<(Tensor Inputs, Tensor Labels)> Batches(int[] order)
    {
        int count = SampleCount;
        for (int start = 0; start < count; start += BatchSize)
        {
            int b = Math.Min(BatchSize, count - start);
            var x = GC.AllocateUninitializedArray<float>(b * _sampleSize);
            var y = new long[b];
            for (int k = 0; k < b; k++)
                y[k] = _dataset.CopySample(order[start + k], x.AsSpan(k * _sampleSize, _sampleSize));
            var shape = new int[_sampleShape.Length + 1];
            shape[0] = b;
            _sampleShape.CopyTo(shape, 1);
            yield return (Tensor.Wrap(x, shape), Tensor.Wrap(y, [b]));
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
