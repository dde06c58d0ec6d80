namespace Fluxion;

/// <summary>
/// A caching allocator for large storage arrays (issue 6: no GC churn in training loops), driven by
/// the GC instead of reference counts. <see cref="Storage.Allocate"/> and
/// <see cref="Storage.AllocateUninitialized"/> rent arrays of at least <see cref="MinBytes"/> here
/// (exact length, per element type); such a storage carries a small finalizable <see cref="Lease"/>
/// that hands its array back once the storage is unreachable (after the first GC that finds it dead,
/// usually a cheap gen-0 one). Big arrays thus recycle without allocating on the large-object heap,
/// whose allocations drive full gen-2 collections.
/// <para>Safety rules. (1) An array returned by a lease is rentable only after one more GC has started
/// (<see cref="GC.CollectionCount"/> of gen 0 moved on): a kernel still reading a raw array whose
/// storage the JIT already considers dead would have to span two collections to see it reused.
/// (2) A storage whose array escapes (the public <see cref="Storage.Data"/>, or an internal
/// <c>DenseArray</c> that may be wrapped into a second storage) cancels its lease: that array is never
/// pooled. (3) The pool holds at most <see cref="CapBytes"/> bytes and <see cref="MaxPerSize"/> arrays
/// per (type, length); at each gen-2 collection it drops arrays that waited a whole gen-2 interval
/// without being rented, and everything when the machine's memory load is high. The cap follows the
/// working set: when an array is dropped because the pool is full, the cap doubles (at most once per
/// gen-0 collection, up to <see cref="MaxCapBytes"/>), and it halves back towards its starting value at a
/// gen-2 collection that leaves the pool less than a quarter full, once four gen-2 collections passed without growth — so a workload whose step hands back
/// more than the starting cap (per-sample gradients of an MLP: 275 MB per call) recycles its arrays
/// instead of allocating them on the large-object heap each call.</para>
/// <para>Arrays only come back at collections, and LOH allocations alone would let a full collection wait
/// for hundreds of MB: so a miss, after <see cref="InduceBytes"/> of pooled storage was handed out since
/// the last collection, runs a (cheap) gen-0 collection itself, which finds the dead op outputs. Arrays of at least
/// <see cref="CollectForBytes"/> (1 MB) do not wait for that: a miss runs one as soon as arrays of its size wait that were
/// handed back since the last collection (the collection makes them rentable), or when none waits but
/// <see cref="SizeLeaseTrigger"/> of its size were handed out since the last one — so a loop of ops on [1024, 1024]
/// float32 tensors whose outputs die at once reuses their arrays (a gen-0 collection every few runs) instead of faulting
/// in fresh 4 MB.</para>
/// <para>Deterministic returns (<see cref="ReturnNow"/>, rentable at once) skip all of this where the library knows a storage
/// is dead: at the end of a <see cref="TensorScope"/> (every storage it owns that was not kept), and in a backward pass for a
/// gradient buffer the pass made and alone held once the node that consumed it returned. Such a storage drops its array
/// (<see cref="Storage.IsReleased"/>), so a stray reader throws instead of seeing the array's next user.</para>
/// <para>Environment: FLUXION_STORAGE_POOL=0 disables it (see <see cref="Enabled"/> for the trade); FLUXION_STORAGE_POOL_MB sets the cap in MB;
/// FLUXION_STORAGE_POOL_INDUCE_MB sets <see cref="InduceBytes"/> in MB.</para>
/// </summary>
internal static class StoragePool
{
    /// <summary>Whether allocations use the pool (environment FLUXION_STORAGE_POOL=0 turns it off; tests may set it).
    /// The trade: leases return arrays only after a collection has seen the storage dead and the finalizer ran,
    /// so the peak heap is higher (`fluxion train`: 100-111 MiB managed heap against 63 MiB without), while big
    /// training steps stop churning the large-object heap (CNN step: 0 gen-2 collections against 0.8, 22 against
    /// 28-31 ms median). A reclaim on weak references at each collection, without finalizers, is the next design.</summary>
    internal static bool Enabled = Environment.GetEnvironmentVariable("FLUXION_STORAGE_POOL") != "0";

    /// <summary>Smallest array (bytes) that is pooled: the large-object-heap threshold. Smaller arrays are
    /// cheap gen-0 allocations; pooling them would promote them and add a finalizer per storage.</summary>
    internal static int MinBytes = 85_000;

    /// <summary>Most bytes the pool keeps now (arrays waiting to be rented; arrays in use are not counted).
    /// Starts at <see cref="BaseCapBytes"/> and adapts between it and <see cref="MaxCapBytes"/>.</summary>
    internal static long CapBytes = DefaultCap();

    /// <summary>The cap the pool starts from and shrinks back to: 256 MB (at most an eighth of the memory the GC
    /// may use), or FLUXION_STORAGE_POOL_MB.</summary>
    internal static long BaseCapBytes = CapBytes;

    /// <summary>Ceiling of the adaptive cap: an eighth of the memory the GC may use, or <see cref="BaseCapBytes"/>
    /// when FLUXION_STORAGE_POOL_MB fixes the cap. Setting it to <see cref="CapBytes"/> turns adaptation off.</summary>
    internal static long MaxCapBytes = DefaultMaxCap();

    private static int s_capGrownAtGen0 = -1, s_capGrownAtGen2;

    /// <summary>Most arrays kept per (element type, length).</summary>
    internal static int MaxPerSize = 128;

    private readonly record struct Entry(Array Array, int Gen0Stamp, int Gen2Stamp);

    private static readonly object s_lock = new();

    /// <summary>Per (element type, length) of at least <see cref="CollectForBytes"/>: the leases since the last collection
    /// started, and how many of them make a miss with nothing of the size waiting run a gen-0 collection.</summary>
    private sealed class SizeLeases
    {
        public int Gen0 = -1, Count, Threshold = SizeLeaseTrigger;
        public bool Induced;
    }

    private static readonly Dictionary<(DType, int), SizeLeases> s_sizeLeases = [];

    /// <summary>Arrays of one size (at least <see cref="CollectForBytes"/>) handed out since the last collection after which
    /// a miss with none of that size in the pool runs a gen-0 collection (doubled, up to 256, each time such a collection
    /// found none of them dead; reset by a hit).</summary>
    internal static int SizeLeaseTrigger = 4;
    private static readonly Dictionary<(DType, int), List<Entry>> s_buckets = [];
    private static long s_pooledBytes;
    private static long s_rents, s_hits, s_returns, s_dropped, s_inducedCount;

    /// <summary>A miss for an array of at least this many bytes runs a gen-0 collection when an array of its size was
    /// handed back since the last one (it becomes rentable once a collection started). 1 MB: a loop of single ops on
    /// [1024, 1024] float32 tensors (4 MB) then reuses its outputs' arrays instead of faulting in fresh ones for about half
    /// of its runs (the sweep's sqrt: 2.1 MB allocated per run, median 4.9 ms against a 0.26 ms minimum); a gen-0
    /// collection of a small heap costs less than faulting in and zeroing 1 MB, and each one this rule runs makes an
    /// array rentable, so the retry that follows it hits.</summary>
    internal static long CollectForBytes = 1L << 20;

    /// <summary>Whether a miss may run a gen-0 collection (tests turn it off to control collections).</summary>
    internal static bool InduceGc = true;

    /// <summary>Pooled bytes handed out since the last collection after which a miss runs a gen-0 collection
    /// (doubled, up to 32 times, while such collections find little dead; reset when they find enough).</summary>
    internal static long InduceBytes = (long.TryParse(Environment.GetEnvironmentVariable("FLUXION_STORAGE_POOL_INDUCE_MB"), out long mb) && mb > 0 ? mb : 32) << 20;

    private static int s_triggerShift; // trigger = InduceBytes << shift

    /// <summary>Managed thread id of the thread that runs the leases' finalizers (-1 until one ran).</summary>
    private static volatile int s_finalizerThread = -1;

    /// <summary>Pooled storages handed out since the last collection after which a miss runs a gen-0 collection
    /// (so a cycle's arrays of one size stay well within <see cref="MaxPerSize"/>).</summary>
    internal static int InduceCount = 48;

    private static long s_leasedSinceGc, s_returnedBytes, s_returnedAtInduce, s_leasesSinceGc;
    private static int s_leaseGen0;
    private static bool s_induced;

    static StoragePool() => _ = new Gen2Trimmer();

    private static long DefaultCap()
    {
        if (long.TryParse(Environment.GetEnvironmentVariable("FLUXION_STORAGE_POOL_MB"), out long mb) && mb >= 0) return mb << 20;
        long avail = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        // 256 MB, but never more than an eighth of the memory the GC may use (containers, small machines)
        return avail > 0 ? Math.Min(256L << 20, avail / 8) : 256L << 20;
    }

    private static long DefaultMaxCap()
    {
        if (Environment.GetEnvironmentVariable("FLUXION_STORAGE_POOL_MB") is { Length: > 0 }) return CapBytes;
        long avail = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        return Math.Max(CapBytes, avail > 0 ? avail / 8 : CapBytes);
    }

    /// <summary>Bytes currently held by the pool.</summary>
    internal static long PooledBytes => Interlocked.Read(ref s_pooledBytes);

    /// <summary>Counters for tests and diagnostics: rent attempts, rents served from the pool, arrays handed back,
    /// arrays dropped (cap, trim), gen-0 collections run on a miss.</summary>
    internal static (long Rents, long Hits, long Returns, long Dropped, long Induced) Stats
    {
        get { lock (s_lock) return (s_rents, s_hits, s_returns, s_dropped, s_inducedCount); }
    }

    /// <summary>True when an array of this size goes through the pool.</summary>
    internal static bool Applies(DType dtype, int length) => Enabled && (long)length * dtype.ElementSize() >= MinBytes;

    /// <summary>A pooled array of exactly <paramref name="length"/> elements of <paramref name="dtype"/>, or null.
    /// Its contents are whatever its last storage left. On a miss, when many pooled bytes were handed out
    /// since the last collection, it runs a gen-0 collection (see <see cref="InduceBytes"/>) and tries again.</summary>
    internal static Array? TryRent(DType dtype, int length)
    {
        var a = TryRentCore(dtype, length, retry: false, out bool collect);
        if (a is null && collect)
        {
            // storages handed out since the last collection are likely dead by now (op outputs, temporaries):
            // a cheap gen-0 collection lets their leases hand the arrays back, and makes those handed back
            // before it rentable (rule 1) — instead of allocating on the LOH until a full collection comes
            GC.Collect(0, GCCollectionMode.Forced, blocking: true);
            // (no GC.WaitForPendingFinalizers here: tried in session 8 against finalizer lag on a loaded machine, it made
            // every induced collection synchronous and a loop of 4 MB ops 1.2-1.4x slower on a quiet one, with gen-0
            // collections every 1-2 runs instead of every 3)
            a = TryRentCore(dtype, length, retry: true, out _);
        }
        return a;
    }

    private static Array? TryRentCore(DType dtype, int length, bool retry, out bool collect)
    {
        collect = false;
        int gen0 = GC.CollectionCount(0);
        long bytes = (long)length * dtype.ElementSize();
        lock (s_lock)
        {
            s_rents++;
            if (gen0 != s_leaseGen0)
            {
                s_leaseGen0 = gen0;
                s_leasedSinceGc = 0;
                s_leasesSinceGc = 0;
            }
            s_leasedSinceGc += bytes;
            s_leasesSinceGc++;
            SizeLeases? sl = null;
            if (InduceGc && !retry && bytes >= CollectForBytes)
            {
                if (!s_sizeLeases.TryGetValue((dtype, length), out sl)) s_sizeLeases[(dtype, length)] = sl = new SizeLeases();
                if (sl.Gen0 != gen0) { sl.Gen0 = gen0; sl.Count = 0; }
                sl.Count++;
            }
            if (s_buckets.TryGetValue((dtype, length), out var list))
            {
                // newest first (LIFO), so surplus arrays sink to the bottom and the gen-2 trim drops them;
                // skip arrays handed back since the last GC started (rule 1 above)
                for (int i = list.Count - 1; i >= 0; i--)
                {
                    var e = list[i];
                    if (e.Gen0Stamp == gen0)
                    {
                        // a big array waits only for the next collection to start (rule 1): a gen-0 collection now
                        // costs far less than faulting in a fresh one (per-sample gradients: 205 MB per call, the
                        // only allocations between calls, so no collection would come on its own)
                        if (InduceGc && bytes >= CollectForBytes) collect = true;
                        continue;
                    }
                    list.RemoveAt(i);
                    s_pooledBytes -= bytes;
                    s_hits++;
                    if (sl is not null) { sl.Threshold = SizeLeaseTrigger; sl.Induced = false; }
                    return e.Array;
                }
            }
            if (sl is not null && !collect)
            {
                // nothing of this size waits at all: when several were handed out since the last collection (a loop of ops
                // whose outputs die at once), a collection finds them; if the last one run for this size found none
                // (they are alive: a workload holding many), wait for twice as many before the next
                if (sl.Induced) sl.Threshold = Math.Min(2 * sl.Threshold, 256);
                sl.Induced = false;
                if (sl.Count >= sl.Threshold)
                {
                    sl.Induced = true;
                    s_inducedCount++;
                    collect = true;
                    return null;
                }
            }
            long trigger = InduceBytes << s_triggerShift;
            if (InduceGc && (s_leasedSinceGc >= trigger || s_leasesSinceGc >= (long)InduceCount << s_triggerShift))
            {
                // adapt: when the last induced collection found little dead, wait for more before the next one
                if (s_induced)
                {
                    long found = s_returnedBytes - s_returnedAtInduce;
                    s_triggerShift = found < trigger / 4 ? Math.Min(s_triggerShift + 1, 5) : 0;
                }
                s_induced = true;
                s_returnedAtInduce = s_returnedBytes;
                s_inducedCount++;
                collect = true;
            }
            return null;
        }
    }

    /// <summary>Takes back an array whose storage died (called by <see cref="Lease"/> finalizers).</summary>
    internal static void Return(Array array, DType dtype) => Return(array, dtype, immediate: false);

    /// <summary>Takes back the array of a storage released deterministically (<see cref="Storage.Release"/>: the end of its
    /// <see cref="TensorScope"/>, or a backward pass's gradient buffer the pass alone held). Rule 1 does not apply: the
    /// releasing thread has finished every op that read the array (kernels return only when their workers are done), and
    /// the storage no longer hands it out, so the array is rentable at once (newest first: the next rent of its size gets
    /// it while it is still in cache).</summary>
    internal static void ReturnNow(Array array, DType dtype) => Return(array, dtype, immediate: true);

    /// <summary>Arrays handed back by <see cref="ReturnNow"/> (for tests and diagnostics).</summary>
    internal static long ImmediateReturns => Interlocked.Read(ref s_immediateReturns);

    private static long s_immediateReturns;

    private static void Return(Array array, DType dtype, bool immediate)
    {
        if (!Enabled) return;
        long bytes = Bytes(array, dtype);
        int gen0Now = GC.CollectionCount(0);
        // an immediate return carries a stamp no collection count equals: rentable now (rule 1 is for finalizer returns)
        var entry = new Entry(array, immediate ? int.MinValue : gen0Now, GC.CollectionCount(2));
        lock (s_lock)
        {
            if (immediate) s_immediateReturns++;
            s_returns++;
            s_returnedBytes += bytes;
            var key = (dtype, array.Length);
            if (!s_buckets.TryGetValue(key, out var list)) s_buckets[key] = list = [];
            if (list.Count < MaxPerSize && s_pooledBytes + bytes > CapBytes && CapBytes < MaxCapBytes && gen0Now != s_capGrownAtGen0)
            {
                // the working set outgrew the cap: follow it (once per collection, so one wave of finalizers
                // handing back a big step's arrays grows the cap by a factor of two at most)
                s_capGrownAtGen0 = gen0Now;
                s_capGrownAtGen2 = entry.Gen2Stamp;
                CapBytes = Math.Min(MaxCapBytes, Math.Max(2 * CapBytes, s_pooledBytes + bytes));
            }
            if (list.Count >= MaxPerSize || s_pooledBytes + bytes > CapBytes)
            {
                s_dropped++;
                return;
            }
            list.Add(entry);
            s_pooledBytes += bytes;
        }
    }

    /// <summary>Drops every pooled array.</summary>
    internal static void Clear()
    {
        lock (s_lock)
        {
            foreach (var list in s_buckets.Values) s_dropped += list.Count;
            s_buckets.Clear();
            s_sizeLeases.Clear();
            s_pooledBytes = 0;
        }
    }

    /// <summary>Drops arrays returned before gen-2 collection number <paramref name="olderThanGen2"/> (they waited a
    /// whole gen-2 interval unused), or all of them when <paramref name="all"/>.</summary>
    internal static void Trim(int olderThanGen2, bool all = false)
    {
        lock (s_lock)
        {
            List<(DType, int)>? empty = null;
            foreach (var (key, list) in s_buckets)
            {
                int removed = list.RemoveAll(e => all || e.Gen2Stamp < olderThanGen2);
                if (removed > 0)
                {
                    s_dropped += removed;
                    s_pooledBytes -= (long)removed * key.Item2 * key.Item1.ElementSize();
                }
                if (list.Count == 0) (empty ??= []).Add(key);
            }
            if (empty is not null) foreach (var k in empty) s_buckets.Remove(k);
        }
    }

    /// <summary>Halves the cap (not below <see cref="BaseCapBytes"/>) when the pool is less than a quarter full and
    /// the cap has not grown for four gen-2 collections (<paramref name="gen2"/> is the current count): called at each
    /// gen-2 collection after the trim, so a cap grown for a big workload returns once the workload is over.</summary>
    internal static void ShrinkCap(int gen2)
    {
        lock (s_lock)
        {
            if (CapBytes > BaseCapBytes && s_pooledBytes < CapBytes / 4 && gen2 - s_capGrownAtGen2 >= 4)
                CapBytes = Math.Max(BaseCapBytes, CapBytes / 2);
        }
    }

    private static long Bytes(Array a, DType dtype) => (long)a.Length * dtype.ElementSize();

    /// <summary>Lives in gen 2 and is finalized (then re-registered) at each gen-2 collection: trims the pool.</summary>
    private sealed class Gen2Trimmer
    {
        ~Gen2Trimmer()
        {
            if (Environment.HasShutdownStarted) return;
            try
            {
                var info = GC.GetGCMemoryInfo();
                bool pressure = info.HighMemoryLoadThresholdBytes > 0 && info.MemoryLoadBytes >= info.HighMemoryLoadThresholdBytes * 9 / 10;
                Trim(GC.CollectionCount(2) - 1, all: pressure);
                ShrinkCap(GC.CollectionCount(2));
            }
            catch
            {
                // a finalizer must never throw
            }
            GC.ReRegisterForFinalize(this);
        }
    }

    /// <summary>Owned by exactly one pooled storage; its finalizer returns the array once that storage is unreachable.</summary>
    internal sealed class Lease(Array array, DType dtype)
    {
        private Array? _array = array;

        /// <summary>The array escaped: never return it.</summary>
        internal void Cancel()
        {
            _array = null;
            GC.SuppressFinalize(this);
        }

        ~Lease()
        {
            s_finalizerThread = Environment.CurrentManagedThreadId;
            var a = _array;
            if (a is null || Environment.HasShutdownStarted) return;
            _array = null;
            Return(a, dtype);
        }
    }
}
