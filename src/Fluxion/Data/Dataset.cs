namespace Fluxion.Data;

/// <summary>A finite, indexable collection of items of any type (PyTorch's map-style <c>Dataset</c>).</summary>
/// <typeparam name="TItem">The type of one item.</typeparam>
public interface IDataset<out TItem>
{
    /// <summary>Number of items.</summary>
    int Count { get; }

    /// <summary>The item at <paramref name="index"/> (0 &lt;= index &lt; <see cref="Count"/>).</summary>
    TItem Get(int index);
}

/// <summary>
/// A supervised classification dataset: each item is an input tensor of a fixed shape
/// (<see cref="SampleShape"/>) and an integer class label. <see cref="DataLoader"/> batches it by
/// copying each sample straight into the batch buffer through <see cref="CopySample"/>, so no tensor
/// is allocated per sample; derived classes should override <see cref="CopySample"/> with a direct copy.
/// </summary>
public abstract class Dataset : IDataset<(Tensor Input, long Label)>
{
    /// <summary>Number of samples.</summary>
    public abstract int Count { get; }

    /// <summary>The shape of one input (e.g. [1, 28, 28] for an MNIST image).</summary>
    public abstract int[] SampleShape { get; }

    /// <summary>Number of elements of one input.</summary>
    public int SampleSize => ShapeUtil.Numel(SampleShape);

    /// <summary>The sample at <paramref name="index"/> as a new float32 tensor of shape <see cref="SampleShape"/> and its label.
    /// Convenient for inspection; training code should go through <see cref="DataLoader"/>.</summary>
    public virtual (Tensor Input, long Label) Get(int index)
    {
        var x = new float[SampleSize];
        long y = CopySample(index, x);
        return (Tensor.Wrap(x, SampleShape), y);
    }

    /// <summary>Writes the input of sample <paramref name="index"/> (row-major, float32) into
    /// <paramref name="destination"/> (length <see cref="SampleSize"/>) and returns its label.</summary>
    public abstract long CopySample(int index, Span<float> destination);

    /// <summary>Throws a clear error when <paramref name="index"/> is out of range.</summary>
    protected void CheckIndex(int index)
    {
        if ((uint)index >= (uint)Count)
            throw new ArgumentOutOfRangeException(nameof(index), $"{GetType().Name}: index {index} is out of range for a dataset of {Count} samples.");
    }
}

/// <summary>
/// A dataset over two tensors: inputs [N, ...] (any floating dtype; kept as a float32 copy) and
/// int64 labels [N] (PyTorch's <c>TensorDataset(x, y)</c> for classification).
/// </summary>
public sealed class TensorDataset : Dataset
{
    private readonly float[] _inputs;
    private readonly long[] _labels;
    private readonly int[] _sampleShape;
    private readonly int _sampleSize;

    /// <summary>Creates the dataset; the tensors are copied, so later changes to them do not affect it.</summary>
    /// <param name="inputs">Inputs with the sample index first: [N, ...], float32 or float64.</param>
    /// <param name="labels">Class labels, int64, shape [N].</param>
    public TensorDataset(Tensor inputs, Tensor labels)
    {
        if (inputs.Rank < 1)
            throw new ShapeMismatchException($"TensorDataset: inputs must have the sample index as first dimension ([N, ...]), got shape {ShapeUtil.Format(inputs.Shape)}.");
        if (!inputs.DType.IsFloatingPoint())
            throw new DTypeMismatchException($"TensorDataset: inputs must be float32 or float64, got {inputs.DType.Name()}; convert with To(DType.Float32).");
        if (labels.DType != DType.Int64)
            throw new DTypeMismatchException($"TensorDataset: labels must be int64 class indices, got {labels.DType.Name()}; convert with To(DType.Int64).");
        if (labels.Rank != 1 || labels.Size(0) != inputs.Size(0))
            throw new ShapeMismatchException($"TensorDataset: labels must have shape [{inputs.Size(0)}] to match inputs {ShapeUtil.Format(inputs.Shape)}, got {ShapeUtil.Format(labels.Shape)}.");
        var x = inputs.Detach();
        _inputs = (x.DType == DType.Float32 ? x : x.To(DType.Float32)).DenseSpan<float>().ToArray();
        _labels = labels.Detach().DenseSpan<long>().ToArray();
        _sampleShape = inputs.ShapeArray[1..];
        _sampleSize = ShapeUtil.Numel(_sampleShape);
    }

    /// <inheritdoc/>
    public override int Count => _labels.Length;

    /// <inheritdoc/>
    public override int[] SampleShape => (int[])_sampleShape.Clone();

    /// <inheritdoc/>
    public override long CopySample(int index, Span<float> destination)
    {
        CheckIndex(index);
        _inputs.AsSpan(index * _sampleSize, _sampleSize).CopyTo(destination);
        return _labels[index];
    }
}

/// <summary>
/// Images stored as unsigned bytes (as in IDX files), converted on the fly to float32
/// <c>(pixel / 255 - Mean) / Std</c>. Each sample has shape [channels, height, width].
/// </summary>
public sealed class ByteImageDataset : Dataset
{
    private readonly byte[] _pixels;
    private readonly byte[] _labels;
    private readonly int[] _sampleShape;
    private readonly int _sampleSize;
    private readonly float _scale, _shift;

    /// <summary>Creates the dataset over raw pixel bytes (row-major, sample after sample) and labels.</summary>
    /// <param name="pixels">N * channels * height * width bytes.</param>
    /// <param name="labels">N labels.</param>
    /// <param name="sampleShape">The shape of one image, e.g. [1, 28, 28].</param>
    /// <param name="mean">Subtracted after scaling to [0, 1].</param>
    /// <param name="std">Divides after subtracting the mean; must be positive.</param>
    public ByteImageDataset(byte[] pixels, byte[] labels, int[] sampleShape, double mean = 0, double std = 1)
    {
        if (!(std > 0) || !double.IsFinite(std) || !double.IsFinite(mean))
            throw new ArgumentException($"ByteImageDataset: std must be a positive finite number and mean finite, got mean {mean}, std {std}.");
        _sampleSize = ShapeUtil.Numel(sampleShape);
        if ((long)_sampleSize * labels.Length != pixels.Length)
            throw new ArgumentException($"ByteImageDataset: {pixels.Length} pixel bytes do not hold {labels.Length} images of shape {ShapeUtil.Format(sampleShape)}.");
        _pixels = pixels;
        _labels = labels;
        _sampleShape = (int[])sampleShape.Clone();
        Mean = mean;
        Std = std;
        _scale = (float)(1.0 / (255.0 * std));
        _shift = (float)(-mean / std);
    }

    /// <summary>The mean subtracted from each pixel after scaling to [0, 1].</summary>
    public double Mean { get; }

    /// <summary>The standard deviation each pixel is divided by after subtracting <see cref="Mean"/>.</summary>
    public double Std { get; }

    /// <summary>The same images with a different normalization (the pixel bytes are shared, not copied).</summary>
    public ByteImageDataset WithNormalization(double mean, double std) => new(_pixels, _labels, _sampleShape, mean, std);

    /// <summary>The label of every sample, in order.</summary>
    public ReadOnlySpan<byte> Labels => _labels;

    /// <inheritdoc/>
    public override int Count => _labels.Length;

    /// <inheritdoc/>
    public override int[] SampleShape => (int[])_sampleShape.Clone();

    /// <inheritdoc/>
    public override long CopySample(int index, Span<float> destination)
    {
        CheckIndex(index);
        var src = _pixels.AsSpan(index * _sampleSize, _sampleSize);
        destination = destination[.._sampleSize];
        for (int i = 0; i < src.Length; i++) destination[i] = src[i] * _scale + _shift;
        return _labels[index];
    }

    /// <summary>The first <paramref name="count"/> samples (or all, if fewer) as a new dataset sharing no state with this one
    /// except the normalization. With <paramref name="balanced"/>, takes samples in order while keeping at most
    /// ceil(count / classes) per class, so every class is represented.</summary>
    public ByteImageDataset Take(int count, bool balanced = false)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), "ByteImageDataset.Take: count must be non-negative.");
        count = Math.Min(count, Count);
        var keep = new List<int>(count);
        if (!balanced) for (int i = 0; i < count; i++) keep.Add(i);
        else
        {
            int classes = _labels.Length == 0 ? 1 : _labels.Max() + 1;
            int perClass = (count + classes - 1) / classes;
            var seen = new int[classes];
            for (int i = 0; i < Count && keep.Count < count; i++)
                if (seen[_labels[i]]++ < perClass) keep.Add(i);
        }
        var px = new byte[keep.Count * _sampleSize];
        var lb = new byte[keep.Count];
        for (int k = 0; k < keep.Count; k++)
        {
            _pixels.AsSpan(keep[k] * _sampleSize, _sampleSize).CopyTo(px.AsSpan(k * _sampleSize));
            lb[k] = _labels[keep[k]];
        }
        return new ByteImageDataset(px, lb, _sampleShape, Mean, Std);
    }
}
