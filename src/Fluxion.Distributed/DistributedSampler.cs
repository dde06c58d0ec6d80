using Fluxion.Data;

namespace Fluxion.Distributed;

/// <summary>
/// Splits a dataset's indices among the ranks of a job (PyTorch's <c>DistributedSampler</c>): every epoch
/// all ranks draw the same permutation from the shared <c>seed</c> plus the epoch (call
/// <see cref="SetEpoch"/> at the start of each epoch, or every epoch repeats the same order), and rank r
/// takes positions r, r + N, r + 2N, ... of it. The shards are disjoint and together cover the dataset.
/// <para>Equal shard sizes: as in PyTorch, when the dataset size is not a multiple of the number of
/// ranks, the permutation is padded by repeating its first elements up to the next multiple (at most
/// N-1 samples are seen twice in an epoch), so every rank runs the same number of batches and no rank
/// waits forever in a collective the others never reach. With <c>dropLast</c> the tail is dropped
/// instead (at most N-1 samples are skipped in an epoch); both are disjoint and complete when the size
/// is a multiple of N.</para>
/// </summary>
public sealed class DistributedSampler
{
    /// <summary>Creates the sampler of rank <paramref name="rank"/> out of <paramref name="numReplicas"/>.</summary>
    /// <param name="datasetCount">Number of samples in the dataset.</param>
    /// <param name="numReplicas">Number of ranks (the job size).</param>
    /// <param name="rank">This rank, 0..numReplicas-1.</param>
    /// <param name="shuffle">Draw a new permutation each epoch (else the identity order).</param>
    /// <param name="seed">The seed shared by all ranks.</param>
    /// <param name="dropLast">Drop the tail instead of padding to a multiple of <paramref name="numReplicas"/>.</param>
    /// <param name="generator">When given, every call of <see cref="Indices"/> draws the next permutation from
    /// this generator, exactly as a shuffling <see cref="DataLoader"/> with the same generator state would
    /// (so N ranks visit the same global batches as one process with that loader, and saving and
    /// restoring the generator's state resumes the sequence), instead of from seed + epoch. Every rank
    /// must hold a generator in the same state.</param>
    public DistributedSampler(int datasetCount, int numReplicas, int rank, bool shuffle = true, long seed = 0, bool dropLast = false, Generator? generator = null)
    {
        _generator = generator;
        ArgumentOutOfRangeException.ThrowIfNegative(datasetCount);
        if (numReplicas <= 0) throw new ArgumentOutOfRangeException(nameof(numReplicas), $"DistributedSampler: numReplicas must be positive, got {numReplicas}.");
        if (rank < 0 || rank >= numReplicas) throw new ArgumentOutOfRangeException(nameof(rank), $"DistributedSampler: rank {rank} is not in 0..{numReplicas - 1}.");
        DatasetCount = datasetCount;
        NumReplicas = numReplicas;
        Rank = rank;
        Shuffle = shuffle;
        Seed = seed;
        DropLast = dropLast;
        NumSamples = dropLast ? datasetCount / numReplicas : (datasetCount + numReplicas - 1) / numReplicas;
    }

    /// <summary>Creates the sampler of this process's rank in <paramref name="group"/>.</summary>
    public DistributedSampler(int datasetCount, ProcessGroup group, bool shuffle = true, long seed = 0, bool dropLast = false, Generator? generator = null)
        : this(datasetCount, (group ?? throw new ArgumentNullException(nameof(group))).Size, group.Rank, shuffle, seed, dropLast, generator) { }

    private readonly Generator? _generator;

    /// <summary>Samples in the dataset.</summary>
    public int DatasetCount { get; }

    /// <summary>Number of ranks sharing the dataset.</summary>
    public int NumReplicas { get; }

    /// <summary>This sampler's rank.</summary>
    public int Rank { get; }

    /// <summary>Whether each epoch draws a new permutation.</summary>
    public bool Shuffle { get; }

    /// <summary>The seed shared by all ranks.</summary>
    public long Seed { get; }

    /// <summary>Whether the tail is dropped instead of padded.</summary>
    public bool DropLast { get; }

    /// <summary>Samples per rank and epoch (the same on every rank).</summary>
    public int NumSamples { get; }

    /// <summary>The epoch whose permutation <see cref="Indices"/> returns.</summary>
    public int Epoch { get; private set; }

    /// <summary>Selects the epoch: the permutation is drawn from seed + epoch (the same on every rank).</summary>
    public void SetEpoch(int epoch) => Epoch = epoch;

    /// <summary>This rank's dataset indices for the current epoch, in visiting order (with a
    /// <c>generator</c>, the next permutation drawn from it).</summary>
    public int[] Indices()
    {
        int n = DatasetCount;
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        if (Shuffle)
        {
            var g = _generator ?? new Generator(Seed + Epoch);
            for (int i = n - 1; i > 0; i--) // Fisher-Yates, as DataLoader shuffles
            {
                int j = (int)g.NextInt64(0, i + 1);
                (order[i], order[j]) = (order[j], order[i]);
            }
        }
        int total = NumSamples * NumReplicas;
        var shard = new int[NumSamples];
        for (int k = 0; k < NumSamples; k++)
        {
            int pos = Rank + k * NumReplicas;
            shard[k] = n == 0 ? 0 : order[pos % n]; // pos >= n only when padding (total > n)
        }
        return total == 0 ? [] : shard;
    }

    /// <summary>A view of <paramref name="dataset"/> holding this rank's samples of the current epoch in
    /// order, to iterate with a <see cref="DataLoader"/> without shuffling.</summary>
    public Dataset Subset(Dataset dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (dataset.Count != DatasetCount)
            throw new ShapeMismatchException($"DistributedSampler.Subset: the sampler was made for {DatasetCount} samples but the dataset has {dataset.Count}; create the sampler with the dataset's Count.");
        return new IndexSubset(dataset, Indices());
    }

    /// <summary>A dataset restricted to (and reordered by) a list of indices.</summary>
    private sealed class IndexSubset(Dataset inner, int[] indices) : Dataset
    {
        public override int Count => indices.Length;

        public override int[] SampleShape => inner.SampleShape;

        public override long CopySample(int index, Span<float> destination) => inner.CopySample(indices[index], destination);
    }
}
