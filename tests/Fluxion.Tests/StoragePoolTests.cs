using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Xunit;
using Xunit.Abstractions;

namespace Fluxion.Tests;

/// <summary>The pool's settings are process-wide: these tests run alone, not next to other test classes.</summary>
[CollectionDefinition("StoragePool", DisableParallelization = true)]
public sealed class StoragePoolCollection;

[Collection("StoragePool")]
public sealed class StoragePoolTests : IDisposable
{
    // lengths no other test uses, so arrays returned here are not rented by anything else
    private const int N = 123_457;

    private readonly bool _enabled = StoragePool.Enabled;
    private readonly long _cap = StoragePool.CapBytes;
    private readonly long _baseCap = StoragePool.BaseCapBytes;
    private readonly long _maxCap = StoragePool.MaxCapBytes;
    private readonly int _perSize = StoragePool.MaxPerSize;
    private readonly bool _induce = StoragePool.InduceGc;
    private readonly long _induceBytes = StoragePool.InduceBytes;

    private readonly ITestOutputHelper _out;

    public StoragePoolTests(ITestOutputHelper output)
    {
        _out = output;
        StoragePool.Enabled = true;
        StoragePool.InduceGc = false; // the tests below run their own collections
        Collect(); // storages left by earlier tests hand their arrays back now, not in the middle of this test
        StoragePool.Clear();
    }

    public void Dispose()
    {
        StoragePool.Enabled = _enabled;
        StoragePool.CapBytes = _cap;
        StoragePool.BaseCapBytes = _baseCap;
        StoragePool.MaxCapBytes = _maxCap;
        StoragePool.MaxPerSize = _perSize;
        StoragePool.InduceGc = _induce;
        StoragePool.InduceBytes = _induceBytes;
        StoragePool.Clear();
    }

    /// <summary>Allocates a storage, fills it, and lets it die; returns its array (held here only to compare identity).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Array Dead(DType dtype, int length, double fill = 1)
    {
        var t = Tensor.Empty([length], dtype);
        Assert.True(t.Storage.IsPooled);
        t.FillRaw(fill);
        return t.Storage.RawData;
    }

    /// <summary>Two collections: the first finds dead storages (their leases hand arrays back), the second makes them rentable.</summary>
    private static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }

    [Fact]
    public void LiveStoragesNeverShareAnArrayUnderInducedCollections()
    {
        // every miss that finds only arrays handed back since the last collection runs one (the rule at its most eager)
        long collectFor = StoragePool.CollectForBytes;
        StoragePool.InduceGc = true;
        StoragePool.CollectForBytes = 0;
        try
        {
            long hits0 = StoragePool.Stats.Hits;
            var live = new Queue<(Tensor T, float V)>();
            for (int i = 0; i < 300; i++)
            {
                var t = Tensor.Empty([N], DType.Float32);
                Assert.True(t.Storage.IsPooled);
                t.FillRaw(i);
                live.Enqueue((t, i));
                if (live.Count > 6) live.Dequeue();
                if (i % 37 == 0) GC.Collect(0);
                var arrays = new HashSet<Array>(ReferenceEqualityComparer.Instance);
                foreach (var (lt, lv) in live)
                {
                    Assert.True(arrays.Add(lt.Storage.RawData), $"step {i}: two live tensors share one array");
                    var a = lt.Storage.As<float>();
                    Assert.Equal(lv, a[0]);
                    Assert.Equal(lv, a[N / 2]);
                    Assert.Equal(lv, a[N - 1]);
                }
            }
            Assert.True(StoragePool.Stats.Hits - hits0 >= 30, $"only {StoragePool.Stats.Hits - hits0} of 300 allocations reused an array");
        }
        finally
        {
            StoragePool.CollectForBytes = collectFor;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void SqrtDropped(Tensor x)
    {
        using (Autograd.NoGrad()) x.Sqrt();
    }

    [Fact]
    public void ALoopOfFourMegabyteOpsReusesItsOutputs()
    {
        // the op sweep's forward loop: each output dies at once; arrays come back at collections, which the pool runs
        // itself when only just-returned arrays of the size wait (CollectForBytes), instead of allocating fresh ones
        StoragePool.InduceGc = true;
        var x = Tensor.Full([1024, 1024], 2.0);
        for (int i = 0; i < 30; i++) SqrtDropped(x);
        long a0 = GC.GetAllocatedBytesForCurrentThread();
        const int Runs = 40;
        for (int i = 0; i < Runs; i++) SqrtDropped(x);
        long perRun = (GC.GetAllocatedBytesForCurrentThread() - a0) / Runs;
        Assert.True(perRun < (3 << 20) / 2, $"{perRun} bytes allocated per run of a 4 MB op: its output arrays are not reused");
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Sec, Nsec;
    }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGettime(int clock, out Timespec ts);

    /// <summary>CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID), in ms; NaN off Linux.</summary>
    private static double ThreadCpuMs()
    {
        try { return ClockGettime(3, out var ts) == 0 ? ts.Sec * 1e3 + ts.Nsec / 1e6 : double.NaN; }
        catch (DllNotFoundException) { return double.NaN; }
        catch (EntryPointNotFoundException) { return double.NaN; }
    }

    /// <summary>Minor page faults of the process so far (/proc/self/stat field 10), or -1.</summary>
    private static long MinorFaults()
    {
        try
        {
            var stat = File.ReadAllText("/proc/self/stat");
            return long.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[7], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (IOException) { return -1; }
    }

    /// <summary>In-process A/B of the collection rule for big arrays (alternating rounds of a loop of 4 MB sqrt outputs that
    /// die at once): the old rule (a miss collects only for arrays of 8 MB or more, no per-size lease trigger) against the
    /// current one. Prints allocated bytes, minor page faults and thread CPU time per run; asserts the current rule reuses.</summary>
    [Fact]
    public void CollectionRuleAbOnFourMegabyteLoop()
    {
        long collectFor = StoragePool.CollectForBytes;
        int sizeTrigger = StoragePool.SizeLeaseTrigger;
        StoragePool.InduceGc = true;
        var x = Tensor.Full([1024, 1024], 2.0);
        var sums = new double[2, 3];
        const int Rounds = 4, Runs = 25;
        try
        {
            for (int round = 0; round < 2 * Rounds; round++)
            {
                int v = round % 2; // 0: old rule, 1: current
                StoragePool.CollectForBytes = v == 0 ? 8L << 20 : collectFor;
                StoragePool.SizeLeaseTrigger = v == 0 ? int.MaxValue : sizeTrigger;
                for (int i = 0; i < 5; i++) SqrtDropped(x);
                long a0 = GC.GetAllocatedBytesForCurrentThread(), f0 = MinorFaults();
                double c0 = ThreadCpuMs();
                for (int i = 0; i < Runs; i++) SqrtDropped(x);
                sums[v, 0] += (double)(GC.GetAllocatedBytesForCurrentThread() - a0) / Runs;
                sums[v, 1] += (double)(MinorFaults() - f0) / Runs;
                sums[v, 2] += (ThreadCpuMs() - c0) / Runs;
            }
        }
        finally
        {
            StoragePool.CollectForBytes = collectFor;
            StoragePool.SizeLeaseTrigger = sizeTrigger;
        }
        for (int v = 0; v < 2; v++)
            _out.WriteLine($"{(v == 0 ? "old rule" : "current ")}: {sums[v, 0] / Rounds / 1e6:F2} MB allocated, {sums[v, 1] / Rounds:F0} minor faults, {sums[v, 2] / Rounds:F3} ms thread CPU per run");
        Assert.True(sums[1, 0] / Rounds < (3 << 20) / 2, $"current rule: {sums[1, 0] / Rounds} bytes allocated per run of a 4 MB op");
    }

    [Fact]
    public void ArrayOfADeadStorageIsReusedWithExactLength()
    {
        var a = Dead(DType.Float32, N);
        Collect();
        var other = Storage.AllocateUninitialized(DType.Float32, N + 1);
        Assert.NotSame(a, other.RawData);
        Assert.Equal(N + 1, other.Length);
        var s = Storage.AllocateUninitialized(DType.Float32, N);
        Assert.Same(a, s.RawData);
        Assert.Equal(N, s.Length);
        Assert.True(s.IsPooled);
    }

    [Fact]
    public void ZeroFilledAllocateClearsAReusedArray()
    {
        var a = Dead(DType.Float64, N, fill: 7);
        Collect();
        var t = Tensor.Zeros([N], DType.Float64);
        Assert.Same(a, t.Storage.RawData);
        Assert.All(t.ToArray<double>(), v => Assert.Equal(0.0, v));
    }

    [Fact]
    public void UninitializedBoolStorageStillComesZeroed()
    {
        var a = Dead(DType.Bool, 4 * N, fill: 1);
        Collect();
        var s = Storage.AllocateUninitialized(DType.Bool, 4 * N);
        Assert.Same(a, s.RawData);
        Assert.DoesNotContain(true, s.As<bool>());
    }

    [Fact]
    public void ArrayOfADeadStorageIsNotRentableBeforeAnotherCollection()
    {
        var a = Dead(DType.Float32, N);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        // handed back, but no collection has started since: a raw reader might still be running
        int gen0 = GC.CollectionCount(0);
        var s = Storage.AllocateUninitialized(DType.Float32, N);
        if (GC.CollectionCount(0) == gen0) Assert.NotSame(a, s.RawData);
        GC.KeepAlive(s);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (Array Array, float[] Held) Escaped()
    {
        var t = Tensor.Full([N], 3.0);
        Assert.True(t.Storage.IsPooled);
        var held = (float[])t.Storage.Data; // public access: the array is the caller's now
        Assert.False(t.Storage.IsPooled);
        return (held, held);
    }

    [Fact]
    public void EscapedDataIsNeverReused()
    {
        var (a, held) = Escaped();
        Collect();
        for (int i = 0; i < 3; i++)
        {
            var t = Tensor.Full([N], -1.0);
            Assert.NotSame(a, t.Storage.RawData);
            GC.KeepAlive(t);
        }
        Collect();
        Assert.All(held, v => Assert.Equal(3f, v));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Array DenseArrayOfDead()
    {
        var t = Tensor.Full([N], 2.0);
        var a = t.DenseArray<float>();
        Assert.False(t.Storage.IsPooled);
        return a;
    }

    [Fact]
    public void DenseArrayOfAWholeStorageEscapesIt()
    {
        var a = DenseArrayOfDead();
        Collect();
        var t = Tensor.Empty([N], DType.Float32);
        Assert.NotSame(a, t.Storage.RawData);
    }

    [Fact]
    public void NoReuseAcrossDTypes()
    {
        var a = Dead(DType.Float32, 2 * N); // same bytes as N doubles and N longs
        Collect();
        Assert.NotSame(a, Storage.AllocateUninitialized(DType.Float64, N).RawData);
        Assert.NotSame(a, Storage.AllocateUninitialized(DType.Int64, N).RawData);
        Assert.NotSame(a, Storage.AllocateUninitialized(DType.Bool, 8 * N).RawData);
        Assert.Same(a, Storage.AllocateUninitialized(DType.Float32, 2 * N).RawData);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void AllocateAndDrop(int count, DType dtype, int length)
    {
        var keep = new Tensor[count];
        for (int i = 0; i < count; i++) keep[i] = Tensor.Empty([length], dtype);
        GC.KeepAlive(keep);
    }

    [Fact]
    public void CapOnBytesAndPerSizeCountIsRespected()
    {
        long bytes = 4L * N;
        StoragePool.CapBytes = StoragePool.MaxCapBytes = 3 * bytes; // a fixed cap (no adaptation)
        AllocateAndDrop(6, DType.Float32, N);
        Collect();
        Assert.Equal(3 * bytes, StoragePool.PooledBytes);

        StoragePool.Clear();
        StoragePool.CapBytes = 100 * bytes;
        StoragePool.MaxPerSize = 2;
        AllocateAndDrop(5, DType.Float32, N);
        Collect();
        Assert.Equal(2 * bytes, StoragePool.PooledBytes);
    }

    [Fact]
    public void CapFollowsAWorkingSetBiggerThanItThenShrinksBack()
    {
        long bytes = 4L * N;
        StoragePool.CapBytes = StoragePool.BaseCapBytes = 2 * bytes;
        StoragePool.MaxCapBytes = 16 * bytes;
        // 6 arrays die in one collection: the cap doubles once (to 4 arrays); it does not shrink at the gen-2
        // collections that follow at once
        AllocateAndDrop(6, DType.Float32, N);
        Collect();
        Assert.Equal(4 * bytes, StoragePool.CapBytes);
        Assert.Equal(4 * bytes, StoragePool.PooledBytes);

        StoragePool.Clear();
        AllocateAndDrop(6, DType.Float32, N); // the next step: the cap follows again (8 arrays), all 6 are kept
        Collect();
        Assert.Equal(8 * bytes, StoragePool.CapBytes);
        Assert.Equal(6 * bytes, StoragePool.PooledBytes);

        StoragePool.Clear();                  // the workload is over: the pool is empty at the next gen-2 collections
        int later = GC.CollectionCount(2) + 4;
        StoragePool.ShrinkCap(later);
        Assert.Equal(4 * bytes, StoragePool.CapBytes);
        StoragePool.ShrinkCap(later);
        StoragePool.ShrinkCap(later);
        Assert.Equal(2 * bytes, StoragePool.CapBytes); // never below the base cap
    }

    [Fact]
    public void TrimDropsArraysThatWaitedAWholeGen2Interval()
    {
        AllocateAndDrop(2, DType.Float32, N);
        Collect();
        Assert.Equal(2 * 4L * N, StoragePool.PooledBytes);
        StoragePool.Trim(GC.CollectionCount(2) - 1);  // returned during this interval: kept
        Assert.Equal(2 * 4L * N, StoragePool.PooledBytes);
        StoragePool.Trim(GC.CollectionCount(2) + 1);  // as if two more gen-2 collections passed
        Assert.Equal(0, StoragePool.PooledBytes);
    }

    [Fact]
    public void DisabledPoolNeitherRentsNorKeeps()
    {
        StoragePool.Enabled = false;
        var t = Tensor.Empty([N], DType.Float32);
        Assert.False(t.Storage.IsPooled);
        GC.KeepAlive(t);
        AllocateAndDrop(3, DType.Float32, N);
        Collect();
        Assert.Equal(0, StoragePool.PooledBytes);
    }

    [Fact]
    public void AMissAfterManyPooledBytesRunsAGen0CollectionAndReuses()
    {
        StoragePool.InduceGc = true;
        StoragePool.InduceBytes = 4L * N * 4;
        var before = StoragePool.Stats;
        for (int i = 0; i < 40; i++)
        {
            AllocateAndDrop(1, DType.Float32, N);
            GC.WaitForPendingFinalizers(); // no collection of its own: only lets the leases of the induced ones run
        }
        var after = StoragePool.Stats;
        Assert.True(after.Induced > before.Induced, $"{before} -> {after}");
        Assert.True(after.Hits > before.Hits, $"{before} -> {after}");
    }

    [Fact]
    public void SmallStoragesAreNotPooled()
    {
        var t = Tensor.Empty([1000], DType.Float32);
        Assert.False(t.Storage.IsPooled);
    }

    [Fact]
    public void OpsOnPooledStoragesGiveTheSameValues()
    {
        var x = Tensor.Arange(0, N, 1, DType.Float64) / N;
        double expected = 0;
        foreach (var v in x.ToArray<double>()) expected += Math.Exp(v) * 2 + 1;
        for (int i = 0; i < 4; i++)
        {
            var y = (x.Exp() * 2 + 1).Sum().Item();
            Assert.Equal(expected, y, 6);
            Collect();
        }
    }

    [Fact]
    public void MemoryTrackerCountsAReusedArrayAsANewAllocation()
    {
        var report = MemoryTracker.Measure(() =>
        {
            for (int i = 0; i < 4; i++)
            {
                AllocateAndDrop(1, DType.Float32, N);
                Collect();
            }
        });
        Assert.Equal(4, report.Allocations);
        Assert.Equal(4 * 4L * N, report.AllocatedBytes);
        Assert.Equal(0, report.LiveBytesAtEnd);
        Assert.True(report.PeakBytes <= 4L * N * 1.06, report.ToString());
    }

    [Fact]
    public void ConcurrentRentAndReturnNeverShareAnArray()
    {
        int[] lengths = [N, N + 7, 2 * N];
        var errors = 0;
        var threads = new Thread[4];
        for (int t = 0; t < threads.Length; t++)
        {
            int id = t + 1;
            threads[t] = new Thread(() =>
            {
                var rng = new Random(id);
                for (int it = 0; it < 150; it++)
                {
                    var s = Storage.AllocateUninitialized(DType.Float32, lengths[rng.Next(lengths.Length)]);
                    var a = s.As<float>();
                    Array.Fill(a, id);
                    if (it % 25 == 0) GC.Collect();
                    Thread.Yield();
                    foreach (var v in a)
                        if (v != id) { Interlocked.Increment(ref errors); break; }
                    GC.KeepAlive(s);
                }
            });
        }
        foreach (var th in threads) th.Start();
        foreach (var th in threads) th.Join();
        Assert.Equal(0, errors);
        var stats = StoragePool.Stats;
        Assert.True(stats.Hits > 0, $"no array was reused: {stats}");
    }
}
