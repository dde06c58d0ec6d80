using System.Globalization;
using Fluxion.IO;
using Fluxion.Nn;
using Fluxion.Optim;

namespace Fluxion.Distributed.Worker;

/// <summary>
/// The training run the distributed tests compare: a float64 MLP 6-16-3 (tanh) fitted by Adam to a
/// fixed random regression problem with a global batch of 8 rows per step. Without a process group the
/// whole global batch goes through one model; with one, rank r of N takes rows r·8/N .. (r+1)·8/N of
/// each global batch through a <see cref="DistributedDataParallel"/> replica, so both runs must reach
/// the same parameters.
/// </summary>
public static class DdpScenario
{
    /// <summary>Rows per step over all ranks.</summary>
    public const int GlobalBatch = 8;

    /// <summary>Number of steps of the full run.</summary>
    public const int Steps = 20;

    /// <summary>The model; <paramref name="seed"/> picks its initialization.</summary>
    public static Sequential BuildModel(long seed)
    {
        var g = new Generator(seed);
        return new Sequential(new Linear(6, 16, dtype: DType.Float64, generator: g), new Tanh(), new Linear(16, 3, dtype: DType.Float64, generator: g));
    }

    /// <summary>Inputs [steps·8, 6] and targets [steps·8, 3], the same on every rank.</summary>
    public static (Tensor X, Tensor Y) Data(int steps)
    {
        // one generator each, so the first rows do not depend on the number of steps
        var x = Tensor.Randn([steps * GlobalBatch, 6], DType.Float64, new Generator(7));
        var y = Tensor.Randn([steps * GlobalBatch, 3], DType.Float64, new Generator(8));
        return (x, y);
    }

    /// <summary>
    /// Trains steps <paramref name="start"/>..<paramref name="end"/>-1 and returns the (unwrapped) model.
    /// </summary>
    /// <param name="group">Null for one process with the global batch; else data-parallel over the group.</param>
    /// <param name="start">First step (0, or the step stored in <paramref name="resume"/>).</param>
    /// <param name="end">Step to stop before.</param>
    /// <param name="resume">Checkpoint (model and Adam state) to start from, or null.</param>
    /// <param name="checkpoint">Where rank 0 writes a checkpoint after step <paramref name="checkpointAfter"/>, or null.</param>
    /// <param name="checkpointAfter">Number of steps done when the checkpoint is written.</param>
    /// <param name="accumulate">Micro-batches per step per rank (all but the last under NoSync).</param>
    /// <param name="beforeStep">Called with the step index before each step (fault injection).</param>
    /// <param name="overlap">Reduce gradient buckets on the communication thread (else in the hooks).</param>
    public static Sequential Train(ProcessGroup? group, int start, int end, string? resume = null, string? checkpoint = null, int checkpointAfter = -1,
        int accumulate = 1, Action<int>? beforeStep = null, bool overlap = true)
    {
        int rank = group?.Rank ?? 0, size = group?.Size ?? 1;
        // every rank starts from a different initialization: DistributedDataParallel must broadcast rank 0's
        var model = BuildModel(1000 + rank);
        var opt = new Adam(model.Parameters(), lr: 0.01);
        if (resume is not null) ModelIO.Load(model, opt, resume);
        Module net = group is null ? model : new DistributedDataParallel(model, group, bucketCapMb: 0.0005, overlap: overlap);
        var (x, y) = Data(end);
        int local = GlobalBatch / size, micro = local / accumulate;
        for (int step = start; step < end; step++)
        {
            beforeStep?.Invoke(step);
            opt.ZeroGrad();
            for (int m = 0; m < accumulate; m++)
            {
                int row = step * GlobalBatch + rank * local + m * micro;
                var loss = Losses.MseLoss(net.Forward(x.Narrow(0, row, micro)), y.Narrow(0, row, micro)) / accumulate;
                if (m < accumulate - 1 && net is DistributedDataParallel ddp)
                    using (ddp.NoSync()) loss.Backward();
                else
                    loss.Backward();
            }
            opt.Step();
            if (step + 1 == checkpointAfter && checkpoint is not null && rank == 0)
                ModelIO.Save(model, opt, checkpoint, new Dictionary<string, string> { ["step"] = (step + 1).ToString(CultureInfo.InvariantCulture) });
        }
        return model;
    }
}
