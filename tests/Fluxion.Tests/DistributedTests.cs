using System.Diagnostics;
using System.Text;
using Fluxion.Distributed;
using Fluxion.Distributed.Worker;
using Fluxion.IO;
using Fluxion.Nn;

namespace Fluxion.Tests;

/// <summary>Runs programs under <c>mpirun -np 2</c> (Open MPI must be installed: .ci/run calls
/// tools/install-mpi.sh; without mpirun these tests fail and say so).</summary>
internal static class Mpi
{
    public static string Mpirun()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
            if (File.Exists(Path.Combine(dir, "mpirun"))) return Path.Combine(dir, "mpirun");
        Assert.Fail("mpirun (Open MPI) is not installed, so the distributed tests cannot run. Install it with tools/install-mpi.sh "
            + "(apt-get install openmpi-bin libopenmpi-dev); .ci/run does this before the tests.");
        return "";
    }

    public static string Dotnet() => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } p && File.Exists(p) ? p : "dotnet";

    /// <summary>Runs <c>mpirun -np 2 ... dotnet dll args</c>; returns the exit code, the merged output and the seconds it took.</summary>
    public static (int Exit, string Output, double Seconds) Run(string dll, string args, Dictionary<string, string>? env = null, int timeoutSeconds = 180)
    {
        var psi = new ProcessStartInfo(Mpirun(),
            $"-np 2 --oversubscribe --allow-run-as-root --bind-to none \"{Dotnet()}\" \"{dll}\" {args}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // no build servers or terminal niceties in the ranks
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        // containers often forbid the cross-memory attach of Open MPI's shared-memory transport
        psi.Environment["OMPI_MCA_btl_vader_single_copy_mechanism"] = "none";
        foreach (var (k, v) in env ?? []) psi.Environment[k] = v;
        var output = new StringBuilder();
        var sw = Stopwatch.StartNew();
        using var p = new Process { StartInfo = psi };
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        p.Start();
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (!p.WaitForExit(timeoutSeconds * 1000))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            Assert.Fail($"mpirun {args} did not finish within {timeoutSeconds} s (a hang). Output so far:\n{output}");
        }
        p.WaitForExit();
        lock (output) return (p.ExitCode, output.ToString(), sw.Elapsed.TotalSeconds);
    }

    public static string WorkerDll() => Path.Combine(AppContext.BaseDirectory, "Fluxion.Distributed.Worker.dll");
}

[CollectionDefinition("Mpi", DisableParallelization = true)]
public sealed class MpiCollection;

[Collection("Mpi")]
public class DistributedTests
{
    private static double MaxDiff(Module a, Module b) =>
        a.NamedParameters().Zip(b.NamedParameters()).Max(x =>
        {
            Assert.Equal(x.First.Name, x.Second.Name);
            return (x.First.Parameter - x.Second.Parameter).Abs().Max().Item();
        });

    private static Sequential LoadModel(string path)
    {
        var m = DdpScenario.BuildModel(0);
        ModelIO.Load(m, path);
        return m;
    }

    [Fact]
    public void TwoRanksTrainToTheOneProcessParameters_AndCheckpointsMoveBetweenThem()
    {
        var dir = Directory.CreateTempSubdirectory("fluxion-ddp-").FullName;
        try
        {
            // one process, global batch: 20 steps, and a checkpoint after 10 for the 2-rank run to resume
            var reference = DdpScenario.Train(null, 0, DdpScenario.Steps);
            DdpScenario.Train(null, 0, 10, checkpoint: Path.Combine(dir, "single_step10.safetensors"), checkpointAfter: 10);

            var (exit, output, _) = Mpi.Run(Mpi.WorkerDll(), $"equivalence \"{dir}\"");
            Assert.True(exit == 0, $"the 2-rank worker failed (exit {exit}):\n{output}");
            Assert.Contains("rank 0: done", output);
            Assert.Contains("rank 1: done", output);
            Assert.Contains("overlap True", output); // Open MPI gave thread support: buckets reduced during backward

            // 2 ranks x 4 rows (each as 2 micro-batches under NoSync) == 1 process x 8 rows, after 20 steps
            var ddp = LoadModel(Path.Combine(dir, "ddp_final.safetensors"));
            Assert.True(MaxDiff(ddp, reference) < 1e-5, $"2 ranks differ from 1 process by {MaxDiff(ddp, reference)}");
            Assert.True(MaxDiff(ddp, DdpScenario.BuildModel(1000)) > 1e-2, "training did not move the parameters");
            // 1-process checkpoint resumed by 2 ranks
            var resumed2 = LoadModel(Path.Combine(dir, "ddp_resumed_final.safetensors"));
            Assert.True(MaxDiff(resumed2, reference) < 1e-5, $"2 ranks resuming a 1-process checkpoint differ by {MaxDiff(resumed2, reference)}");
            // 2-rank checkpoint (written by rank 0) resumed by 1 process
            var resumed1 = DdpScenario.Train(null, 10, DdpScenario.Steps, resume: Path.Combine(dir, "ddp_step10.safetensors"));
            Assert.True(MaxDiff(resumed1, reference) < 1e-5, $"1 process resuming a 2-rank checkpoint differs by {MaxDiff(resumed1, reference)}");

            // the shards the two ranks drew for 103 samples: complete, disjoint apart from PyTorch's padding
            var shards = File.ReadAllLines(Path.Combine(dir, "shards.txt")).Select(l => l.Split(' ').Select(int.Parse).ToArray()).ToArray();
            Assert.Equal(2, shards.Length);
            Assert.Equal(52, shards[0].Length);
            Assert.Equal(52, shards[1].Length);
            var all = shards[0].Concat(shards[1]).ToList();
            Assert.Equal(Enumerable.Range(0, 103), all.Distinct().Order());
            Assert.Equal(1, all.Count - all.Distinct().Count()); // one padded sample
            var local = new DistributedSampler(103, 2, 1, seed: 5);
            local.SetEpoch(3);
            Assert.Equal(local.Indices(), shards[1]);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void CliTrainDistributedOnTwoRanksMatchesOneProcess()
    {
        var dir = Directory.CreateTempSubdirectory("fluxion-ddp-cli-").FullName;
        try
        {
            string two = Path.Combine(dir, "two.safetensors"), one = Path.Combine(dir, "one.safetensors");
            var cli = Path.Combine(AppContext.BaseDirectory, "Fluxion.Cli.dll");
            var (exit, output, _) = Mpi.Run(cli, $"train --distributed --limit 128 --epochs 2 --plain --save \"{two}\"");
            Assert.True(exit == 0, $"mpirun -np 2 fluxion train --distributed failed (exit {exit}):\n{output}");
            Assert.Contains("data-parallel on 2 ranks (32 per rank)", output);
            // rank 0 alone prints: one summary
            Assert.Equal(1, output.Split('\n').Count(l => l.StartsWith("test accuracy:", StringComparison.Ordinal)));

            var stdout = new StringWriter();
            Assert.Equal(0, Cli.Program.Run(["train", "--limit", "128", "--epochs", "2", "--plain", "--save", one], stdout, new StringWriter()));
            // the ranks' batches are the single-process loader's global batches: same trajectory up to float32 rounding
            var a = SafeTensors.Load(two).Tensors;
            var b = SafeTensors.Load(one).Tensors;
            Assert.Equal(b.Keys.Order(), a.Keys.Order());
            foreach (var (k, t) in b)
                Assert.True((a[k].To(DType.Float64) - t.To(DType.Float64)).Abs().Max().Item() < 1e-4, $"{k} differs");
            foreach (var line in stdout.ToString().Split('\n').Where(l => l.StartsWith("epoch ", StringComparison.Ordinal)))
                Assert.Contains(line[..line.IndexOf("test acc", StringComparison.Ordinal)], output); // loss and train accuracy
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void KilledRankMakesTheOtherExitWithAnError()
    {
        var (exit, output, secs) = Mpi.Run(Mpi.WorkerDll(), "die 3", timeoutSeconds: 60);
        Assert.NotEqual(0, exit);
        Assert.Contains("rank 1 kills itself", output);
        Assert.DoesNotContain("rank 0: done", output);
        // mpirun reports the dead rank and ends rank 0 (which says why), or rank 0's watchdog gives up first
        Assert.True(output.Contains("exited on signal 9") || output.Contains("did not complete within"), output);
        Assert.True(secs < 55, $"took {secs} s");
    }

    [Fact]
    public void HungRankTimesOutWithAClearError()
    {
        var (exit, output, secs) = Mpi.Run(Mpi.WorkerDll(), "hang 3", timeoutSeconds: 60);
        Assert.Equal(ProcessGroup.TimeoutExitCode, exit);
        Assert.Contains("rank 1 stops responding", output);
        Assert.Contains("rank 0/2: AllReduce", output);
        Assert.Contains("did not complete within 3 s; another rank has probably died or hangs", output);
        Assert.DoesNotContain("rank 0: done", output);
        Assert.True(secs < 55, $"took {secs} s");
    }

    [Fact]
    public void MissingMpiIsAClearTypedError()
    {
        var e = Assert.Throws<MpiNotFoundException>(() => MpiNative.Load(["/nonexistent/libmpi.so.40"]));
        Assert.Contains("/nonexistent/libmpi.so.40", e.Message);
        Assert.Contains("apt-get install openmpi-bin libopenmpi-dev", e.Message);
        Assert.Contains(MpiNative.LibraryVariable, e.Message);
    }

    [Theory]
    [InlineData(100, 2)]
    [InlineData(103, 2)]
    [InlineData(103, 3)]
    [InlineData(5, 4)]
    [InlineData(64, 1)]
    public void SamplerShardsAreDisjointCompleteAndReshuffledPerEpoch(int n, int ranks)
    {
        for (int epoch = 0; epoch < 3; epoch++)
        {
            var shards = Enumerable.Range(0, ranks).Select(r =>
            {
                var s = new DistributedSampler(n, ranks, r, seed: 11);
                s.SetEpoch(epoch);
                return s.Indices();
            }).ToArray();
            int per = (n + ranks - 1) / ranks;
            Assert.All(shards, s => Assert.Equal(per, s.Length));
            var all = shards.SelectMany(s => s).ToList();
            Assert.Equal(Enumerable.Range(0, n), all.Distinct().Order()); // complete
            Assert.Equal(per * ranks - n, all.Count - all.Distinct().Count()); // disjoint but for the padding
            // dropLast: disjoint, and complete but for the n % ranks tail
            var dropped = Enumerable.Range(0, ranks).SelectMany(r =>
            {
                var s = new DistributedSampler(n, ranks, r, seed: 11, dropLast: true);
                s.SetEpoch(epoch);
                return s.Indices();
            }).ToList();
            Assert.Equal(dropped.Count, dropped.Distinct().Count());
            Assert.Equal(n - n % ranks, dropped.Count);
        }
        // a new order every epoch, the same order for the same seed and epoch
        var a = new DistributedSampler(n, ranks, 0, seed: 11);
        var b = new DistributedSampler(n, ranks, 0, seed: 11);
        var e0 = a.Indices();
        a.SetEpoch(1);
        Assert.NotEqual(e0, a.Indices());
        Assert.Equal(e0, b.Indices());
    }

    [Fact]
    public void PostAccumulateGradHookSeesTheSummedGradient()
    {
        var w = new Parameter(Tensor.FromArray(new[] { 1.0, 2.0 }, 2));
        var seen = new List<double[]>();
        var remove = w.RegisterPostAccumulateGradHook(p => seen.Add(p.Grad!.ToArray<double>()));
        (w * 3).Sum().Backward();
        (w * w).Sum().Backward();
        remove();
        (w * 5).Sum().Backward();
        Assert.Equal(2, seen.Count);
        Assert.Equal(new[] { 3.0, 3.0 }, seen[0]);
        Assert.Equal(new[] { 5.0, 7.0 }, seen[1]); // accumulated: 3 + 2w
        Assert.Throws<AutogradException>(() => (w * 2).RegisterPostAccumulateGradHook(_ => { }));
    }
}
