using System.Diagnostics;
using Fluxion.IO;
using Fluxion.Nn;

namespace Fluxion.Distributed.Worker;

/// <summary>Entry point: <c>worker equivalence DIR</c>, <c>worker die STEP</c> or <c>worker hang STEP</c>.</summary>
public static class Program
{
    /// <summary>Runs one scenario under mpirun; exit code 0 when it passes.</summary>
    public static int Main(string[] args)
    {
        using var pg = ProcessGroup.Init();
        try
        {
            switch (args[0])
            {
                case "equivalence":
                    Equivalence(pg, args[1]);
                    break;
                case "die":
                {
                    int at = int.Parse(args[1]);
                    DdpScenario.Train(pg, 0, 100_000, beforeStep: s =>
                    {
                        // a short watchdog only from here on: a slow start on a loaded machine is no fault
                        if (s == at) pg.Timeout = TimeSpan.FromSeconds(10);
                        if (s == at && pg.Rank == 1)
                        {
                            Console.Error.WriteLine($"worker: rank 1 kills itself (SIGKILL) before step {s}");
                            Console.Error.Flush();
                            Process.GetCurrentProcess().Kill();
                        }
                    });
                    break;
                }
                case "hang":
                {
                    int at = int.Parse(args[1]);
                    DdpScenario.Train(pg, 0, 100_000, beforeStep: s =>
                    {
                        if (s == at) pg.Timeout = TimeSpan.FromSeconds(3);
                        if (s == at && pg.Rank == 1)
                        {
                            Console.Error.WriteLine($"worker: rank 1 stops responding before step {s}");
                            Console.Error.Flush();
                            Thread.Sleep(TimeSpan.FromMinutes(2));
                        }
                    });
                    break;
                }
                default:
                    throw new ArgumentException($"unknown scenario '{args[0]}'");
            }
            Console.WriteLine($"rank {pg.Rank}: done");
            return 0;
        }
        catch (Exception e)
        {
            pg.Abort($"worker: rank {pg.Rank}: {e.GetType().Name}: {e.Message}", 1);
            return 1;
        }
    }

    private static void Equivalence(ProcessGroup pg, string dir)
    {
        // 20 steps from scratch with 2 micro-batches per step (NoSync), a checkpoint after 10
        var a = DdpScenario.Train(pg, 0, DdpScenario.Steps, checkpoint: Path.Combine(dir, "ddp_step10.safetensors"), checkpointAfter: 10, accumulate: 2);
        if (pg.IsMain) ModelIO.Save(a, Path.Combine(dir, "ddp_final.safetensors"));
        // resume the single-process checkpoint (written by the test) for the last 10 steps
        var b = DdpScenario.Train(pg, 10, DdpScenario.Steps, resume: Path.Combine(dir, "single_step10.safetensors"));
        if (pg.IsMain) ModelIO.Save(b, Path.Combine(dir, "ddp_resumed_final.safetensors"));
        // the replicas agree
        foreach (var (name, p) in a.NamedParameters())
        {
            var all = pg.AllGather(p.Detach());
            if ((all[0] - all[1]).Abs().Max().Item() != 0) throw new DistributedException($"replicas differ in {name}");
        }
        // the synchronous path (each bucket reduced in the hook that fills it) gives the same parameters
        var sync = DdpScenario.Train(pg, 0, DdpScenario.Steps, accumulate: 2, overlap: false);
        foreach (var ((name, p), (_, q)) in a.NamedParameters().Zip(sync.NamedParameters()))
            if ((p - q).Abs().Max().Item() != 0) throw new DistributedException($"overlapped and synchronous reduction differ in {name}");
        // a parameter without a gradient is an error at the next forward pass, not a hang
        var unused = new DistributedDataParallel(new Sequential(new Linear(2, 2, dtype: DType.Float64), new ParallelHead()), pg);
        unused.Forward(Tensor.Ones([1, 2], DType.Float64)).Sum().Backward();
        try
        {
            unused.Forward(Tensor.Ones([1, 2], DType.Float64));
            throw new InvalidOperationException("no error for an unused parameter");
        }
        catch (DistributedException e) when (e.Message.Contains("produced no gradient for 1 parameter(s) (1.weight)"))
        {
        }
        // buffers follow rank 0 at every training forward pass
        var bn = new BatchNorm1d(3, dtype: DType.Float64);
        using (Autograd.NoGrad()) bn.NamedBuffers().First().Buffer.FillInPlace(pg.Rank + 1);
        var ddp = new DistributedDataParallel(new Sequential(bn), pg);
        using (Autograd.NoGrad()) bn.NamedBuffers().First().Buffer.FillInPlace(10 * (pg.Rank + 1)); // diverge again
        ddp.Forward(Tensor.Ones([4, 3], DType.Float64));
        var means = pg.AllGather(bn.NamedBuffers().First().Buffer);
        if ((means[0] - means[1]).Abs().Max().Item() != 0) throw new DistributedException("BatchNorm running_mean differs between the ranks after a forward pass");
        // the shards of a sampler over 103 samples, epoch 3: gathered and written by rank 0
        var sampler = new DistributedSampler(103, pg, seed: 5);
        sampler.SetEpoch(3);
        var idx = sampler.Indices();
        var gathered = pg.AllGather(Tensor.FromArray(idx.Select(i => (long)i).ToArray(), idx.Length));
        if (pg.IsMain)
            File.WriteAllLines(Path.Combine(dir, "shards.txt"), Enumerable.Range(0, pg.Size).Select(r => string.Join(' ', gathered[r].ToArray<long>())));
        Console.WriteLine($"rank {pg.Rank}/{pg.Size}: thread level {pg.ThreadLevel}, overlap {ddp.Overlaps}");
    }

    /// <summary>A layer whose weight takes no part in the output.</summary>
    private sealed class ParallelHead : Module
    {
        public ParallelHead() => AddParameter("weight", Tensor.Ones([2], DType.Float64));

        public override Tensor Forward(Tensor input) => input;
    }
}
