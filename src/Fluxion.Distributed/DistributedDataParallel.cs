using System.Collections.Concurrent;
using Fluxion.Nn;

namespace Fluxion.Distributed;

/// <summary>
/// Data-parallel training (PyTorch's <c>DistributedDataParallel</c>): every rank holds a replica of
/// <see cref="Module"/>, runs forward and backward on its own part of the global batch, and the
/// gradients are averaged over the ranks during the backward pass, so after <c>loss.Backward()</c> every
/// rank holds the same gradient and the same optimizer step keeps the replicas identical. With a mean
/// loss over B local samples on each of N ranks, that gradient is the one of the mean loss over the
/// global batch of N·B samples.
/// <list type="bullet">
/// <item>The constructor broadcasts the parameters and buffers of rank 0 to every rank (and checks that
/// all ranks hold the same architecture).</item>
/// <item>Gradients are reduced in buckets (about <c>bucketCapMb</c> MB each, the first one 1 MB; the
/// parameters in reverse registration order, which is roughly the order the backward pass produces
/// them). A post-accumulate-grad hook on every parameter
/// (<see cref="Tensor.RegisterPostAccumulateGradHook"/>) copies its gradient into its bucket; a full
/// bucket is handed to a communication thread that averages it (MPI_Allreduce) while the backward pass
/// goes on computing the next gradients; buckets are launched in bucket order on every rank. The hook
/// of the last parameter waits for all buckets and writes the averaged gradients back into
/// <see cref="Tensor.Grad"/>. When MPI provides no thread support (level below serialized) or
/// <c>overlap</c> is false, each bucket is reduced synchronously in the hook that fills it.</item>
/// <item>Inside a <see cref="NoSync"/> scope gradients only accumulate locally (gradient accumulation);
/// the first backward pass after the scope averages the accumulated gradients.</item>
/// <item>In training mode, every forward pass first broadcasts the buffers (e.g. BatchNorm's running
/// statistics) of rank 0 to all ranks, as PyTorch's <c>broadcast_buffers=True</c>.</item>
/// </list>
/// Every parameter that requires grad must receive a gradient in every backward pass outside
/// <see cref="NoSync"/> (there is no <c>find_unused_parameters</c>); the next forward pass raises a
/// <see cref="DistributedException"/> naming the ones that did not. Checkpoints: save and load
/// <see cref="Module"/> (the wrapped model), so a checkpoint written by any number of ranks loads into
/// a plain model and the other way round; <see cref="Nn.Module.StateDict"/> of this wrapper prefixes the
/// names with "module." as PyTorch's does.
/// </summary>
public sealed class DistributedDataParallel : Nn.Module
{
    private readonly Bucket[] _buckets;
    private readonly Dictionary<Tensor, (int Bucket, int Slot)> _where = new(ReferenceEqualityComparer.Instance);
    private readonly string[] _names;
    private readonly bool _broadcastBuffers;
    private readonly bool _overlap;
    private BlockingCollection<Bucket>? _queue;
    private int _noSync;
    private int _nextLaunch, _readyParams;

    /// <summary>Wraps <paramref name="module"/> and broadcasts its parameters and buffers from rank 0.</summary>
    /// <param name="module">The model; every rank must build the same architecture.</param>
    /// <param name="group">The process group; default <see cref="ProcessGroup.World"/> (call <see cref="ProcessGroup.Init"/> first).</param>
    /// <param name="bucketCapMb">Bucket size in MB (PyTorch's bucket_cap_mb).</param>
    /// <param name="broadcastBuffers">Broadcast rank 0's buffers at every forward pass in training mode.</param>
    /// <param name="overlap">Reduce buckets on a communication thread during the backward pass.</param>
    public DistributedDataParallel(Nn.Module module, ProcessGroup? group = null, double bucketCapMb = 25, bool broadcastBuffers = true, bool overlap = true)
    {
        ArgumentNullException.ThrowIfNull(module);
        if (!(bucketCapMb > 0)) throw new ArgumentOutOfRangeException(nameof(bucketCapMb), $"DistributedDataParallel: bucketCapMb must be positive, got {bucketCapMb}.");
        Group = group ?? ProcessGroup.World
            ?? throw new DistributedException("DistributedDataParallel: no process group; call ProcessGroup.Init() first (and launch the program with mpirun -np N).");
        Module = RegisterModule("module", module);
        _broadcastBuffers = broadcastBuffers;
        _overlap = overlap && Group.ThreadLevel >= MpiNative.ThreadSerialized;

        var named = module.NamedParameters().Where(p => p.Parameter.RequiresGrad).ToList();
        foreach (var (name, p) in named)
            if (p.DType is not (DType.Float32 or DType.Float64))
                throw new DTypeMismatchException($"DistributedDataParallel: parameter '{name}' is {p.DType.Name()}; only float32 and float64 parameters can be trained data-parallel.");
        CheckSameArchitecture(named.Select(p => (Tensor)p.Parameter).ToList());
        SyncParametersAndBuffers();

        // buckets: reverse registration order, one dtype per bucket, the first one small to start early
        named.Reverse();
        _names = named.Select(p => p.Name).ToArray();
        var buckets = new List<Bucket>();
        List<(Tensor P, int Index)> current = new();
        long bytes = 0, cap = 1 << 20;
        for (int i = 0; i < named.Count; i++)
        {
            var p = named[i].Parameter;
            if (current.Count > 0 && (current[0].P.DType != p.DType || bytes >= cap))
            {
                buckets.Add(new Bucket(current));
                current = new();
                bytes = 0;
                cap = (long)(bucketCapMb * (1 << 20));
            }
            current.Add((p, i));
            bytes += (long)p.Numel * p.DType.ElementSize();
        }
        if (current.Count > 0) buckets.Add(new Bucket(current));
        _buckets = buckets.ToArray();
        for (int b = 0; b < _buckets.Length; b++)
            for (int s = 0; s < _buckets[b].Params.Length; s++)
            {
                var p = _buckets[b].Params[s];
                _where[p] = (b, s);
                p.RegisterPostAccumulateGradHook(OnGradReady);
            }
    }

    /// <summary>The wrapped model (save and load this one in checkpoints).</summary>
    public Nn.Module Module { get; }

    /// <summary>The process group the gradients are averaged over.</summary>
    public ProcessGroup Group { get; }

    /// <summary>Number of gradient buckets.</summary>
    public int BucketCount => _buckets.Length;

    /// <summary>True when buckets are reduced on a communication thread while the backward pass runs.</summary>
    public bool Overlaps => _overlap;

    /// <summary>Runs the wrapped model, after broadcasting rank 0's buffers in training mode.</summary>
    public override Tensor Forward(Tensor input)
    {
        if (_readyParams > 0)
        {
            var missing = _buckets.SelectMany((b, bi) => b.Params.Select((p, s) => (b, s, p))).Where(x => !x.b.Marked[x.s]).Select(x => Name(x.p)).ToList();
            ResetReduction();
            throw new DistributedException($"DistributedDataParallel: the previous backward pass produced no gradient for {missing.Count} parameter(s) ({string.Join(", ", missing.Take(10))}), so their gradients were not averaged over the ranks. Every trainable parameter must take part in the loss of every step; freeze unused ones (RequiresGrad = false) before wrapping the model.");
        }
        if (_broadcastBuffers && Training) BroadcastBuffers();
        return Module.Forward(input);
    }

    /// <summary>Suspends gradient averaging until the returned scope is disposed: backward passes inside
    /// only accumulate gradients locally (PyTorch's <c>no_sync()</c>, for gradient accumulation); the first
    /// backward pass after the scope averages the accumulated gradients.</summary>
    public IDisposable NoSync()
    {
        _noSync++;
        return new Scope(this);
    }

    private sealed class Scope(DistributedDataParallel owner) : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            owner._noSync--;
        }
    }

    private string Name(Tensor p)
    {
        var (b, s) = _where[p];
        return _names[_buckets[b].Indices[s]];
    }

    /// <summary>Broadcasts the wrapped model's parameters and buffers from rank 0.</summary>
    private void SyncParametersAndBuffers()
    {
        using var _ = Autograd.NoGrad();
        foreach (var p in Module.Parameters()) Group.Broadcast(p, 0);
        BroadcastBuffers();
    }

    private void BroadcastBuffers()
    {
        foreach (var (_, b) in Module.NamedBuffers())
            if (b.DType is DType.Float32 or DType.Float64 or DType.Int64)
                Group.Broadcast(b, 0);
    }

    private void CheckSameArchitecture(List<Tensor> ps)
    {
        long count = ps.Count, numel = ps.Sum(p => (long)p.Numel), shapeHash = 17;
        foreach (var p in ps)
            foreach (var d in p.Shape) shapeHash = unchecked(shapeHash * 31 + d);
        Span<double> lo = [count, numel, shapeHash % 1_000_003], hi = [count, numel, shapeHash % 1_000_003];
        Group.AllReduce(lo, ReduceOp.Min);
        Group.AllReduce(hi, ReduceOp.Max);
        if (!lo.SequenceEqual(hi))
            throw new DistributedException($"DistributedDataParallel: the ranks hold different models (rank {Group.Rank}: {count} trainable parameters, {numel} elements; over all ranks {lo[0]}..{hi[0]} parameters, {lo[1]}..{hi[1]} elements). Build the same architecture on every rank.");
    }

    /// <summary>Post-accumulate hook of every trainable parameter.</summary>
    private void OnGradReady(Tensor p)
    {
        if (_noSync > 0) return;
        var (bi, slot) = _where[p];
        var bucket = _buckets[bi];
        if (bucket.Marked[slot])
            throw new DistributedException($"DistributedDataParallel: parameter '{Name(p)}' received a second gradient before the reduction of the previous backward pass finished. Run one forward and one backward pass through the DistributedDataParallel wrapper per step.");
        bucket.Marked[slot] = true;
        bucket.CopyIn(slot, p.Grad!);
        _readyParams++;
        if (--bucket.Pending == 0)
            while (_nextLaunch < _buckets.Length && _buckets[_nextLaunch].Pending == 0)
                Launch(_buckets[_nextLaunch++]);
        if (_nextLaunch == _buckets.Length) Finish();
    }

    private void Launch(Bucket b)
    {
        if (!_overlap)
        {
            b.Reduce(Group);
            return;
        }
        b.Done.Reset();
        b.Error = null;
        if (_queue is null)
        {
            _queue = new BlockingCollection<Bucket>();
            var q = _queue;
            var group = Group;
            new Thread(() =>
            {
                foreach (var item in q.GetConsumingEnumerable())
                {
                    try { item.Reduce(group); }
                    catch (Exception e) { item.Error = e; }
                    item.Done.Set();
                }
            }) { IsBackground = true, Name = "fluxion-ddp-allreduce" }.Start();
        }
        _queue.Add(b);
    }

    /// <summary>Waits for every bucket and writes the averaged gradients back.</summary>
    private void Finish()
    {
        try
        {
            foreach (var b in _buckets)
            {
                if (_overlap) b.Done.Wait();
                if (b.Error is { } e) throw new DistributedException($"DistributedDataParallel: averaging the gradients failed on rank {Group.Rank}: {e.Message}", e);
            }
            foreach (var b in _buckets) b.CopyOut();
        }
        finally
        {
            ResetReduction();
        }
    }

    private void ResetReduction()
    {
        foreach (var b in _buckets) b.Reset();
        _nextLaunch = 0;
        _readyParams = 0;
    }

    /// <summary>A group of same-dtype parameters whose gradients are averaged by one MPI_Allreduce of a flat buffer.</summary>
    private sealed class Bucket
    {
        public readonly Tensor[] Params;
        public readonly int[] Indices, Offsets;
        public readonly bool[] Marked;
        public readonly float[]? F32;
        public readonly double[]? F64;
        public readonly ManualResetEventSlim Done = new(true);
        public int Pending;
        public Exception? Error;

        public Bucket(List<(Tensor P, int Index)> members)
        {
            Params = members.Select(m => m.P).ToArray();
            Indices = members.Select(m => m.Index).ToArray();
            Offsets = new int[Params.Length];
            int total = 0;
            for (int i = 0; i < Params.Length; i++)
            {
                Offsets[i] = total;
                total += Params[i].Numel;
            }
            if (Params[0].DType == DType.Float32) F32 = new float[total];
            else F64 = new double[total];
            Marked = new bool[Params.Length];
            Pending = Params.Length;
        }

        public void Reset()
        {
            Array.Clear(Marked);
            Pending = Params.Length;
        }

        public void CopyIn(int slot, Tensor grad)
        {
            var g = grad.Contiguous();
            Array.Copy(g.Storage.RawData, g.Offset, (Array?)F32 ?? F64!, Offsets[slot], g.Numel);
        }

        public void Reduce(ProcessGroup group)
        {
            if (F32 is not null) group.AllReduce(F32.AsSpan(), ReduceOp.Average);
            else group.AllReduce(F64.AsSpan(), ReduceOp.Average);
        }

        public void CopyOut()
        {
            Array flat = (Array?)F32 ?? F64!;
            for (int i = 0; i < Params.Length; i++)
            {
                var p = Params[i];
                var g = p.Grad!;
                if (g.IsContiguous && !g.RequiresGrad)
                {
                    Array.Copy(flat, Offsets[i], g.Storage.RawData, g.Offset, g.Numel);
                    g.Storage.BumpVersion();
                }
                else
                {
                    var fresh = Tensor.Zeros(p.ShapeArray, p.DType);
                    Array.Copy(flat, Offsets[i], fresh.Storage.RawData, 0, fresh.Numel);
                    p.Grad = fresh;
                }
            }
        }
    }
}
