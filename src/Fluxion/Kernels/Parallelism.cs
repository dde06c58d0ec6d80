namespace Fluxion.Kernels;

/// <summary>
/// The one parallel helper of the kernels: every chunking loop goes through it. It decides how many threads a
/// kernel may use and respects nesting: a kernel called from inside a parallel region (a chunk of another
/// kernel, or a <see cref="Serial"/> scope) runs on the calling thread, so nested kernels never oversubscribe
/// the cores.
/// </summary>
internal static class Parallelism
{
    /// <summary>Upper bound on the threads a kernel uses (tests and benchmarks may lower it).</summary>
    internal static int MaxThreads = Environment.ProcessorCount;

    [ThreadStatic] private static bool t_inRegion;

    /// <summary>True while the current thread runs a chunk of a parallel region or is inside a <see cref="Serial"/> scope.</summary>
    internal static bool InRegion => t_inRegion;

    /// <summary>The threads available to a kernel started here: 1 inside a region, else min(MaxThreads, cores).</summary>
    internal static int Available => t_inRegion ? 1 : Math.Max(1, Math.Min(MaxThreads, Environment.ProcessorCount));

    /// <summary>Threads for a kernel doing <paramref name="work"/> units that pays for threads from <paramref name="threshold"/> units on.</summary>
    internal static int Threads(long work, long threshold) => work < threshold ? 1 : Available;

    /// <summary>Makes kernels started on this thread run serially until disposed (for callers that are already parallel).</summary>
    internal static SerialScope Serial() => new(true);

    /// <summary>Restores the previous setting on dispose (see <see cref="Serial"/>).</summary>
    internal readonly struct SerialScope : IDisposable
    {
        private readonly bool _prev;

        internal SerialScope(bool on)
        {
            _prev = t_inRegion;
            t_inRegion = on;
        }

        /// <summary>Restores the previous setting.</summary>
        public void Dispose() => t_inRegion = _prev;
    }

    /// <summary>
    /// Runs <paramref name="body"/>(chunk, start, end) over [0, <paramref name="count"/>) cut into
    /// <paramref name="chunks"/> even chunks, on up to <paramref name="threads"/> threads (more chunks than threads
    /// balance the load when another process takes a core). Each chunk runs as a parallel region, so the kernels
    /// it calls stay serial. With one thread, one chunk, or inside a region, the chunks run in order on the
    /// calling thread (still with the same chunk bounds, so per-chunk accumulators see the same split).
    /// </summary>
    internal static void For(int count, int chunks, int threads, Action<int, int, int> body)
    {
        if (count <= 0) return;
        chunks = Math.Max(1, Math.Min(chunks, count));
        if (threads <= 1 || chunks == 1 || t_inRegion)
        {
            for (int ch = 0; ch < chunks; ch++) body(ch, Start(count, chunks, ch), Start(count, chunks, ch + 1));
            return;
        }
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads }, ch =>
        {
            using var region = Serial();
            body(ch, Start(count, chunks, ch), Start(count, chunks, ch + 1));
        });
    }

    /// <summary>Runs <paramref name="body"/>(start, end) over [0, <paramref name="count"/>), split over the available
    /// threads (4 chunks per thread) when <paramref name="work"/> reaches <paramref name="threshold"/>.</summary>
    internal static void For(int count, long work, long threshold, Action<int, int> body)
    {
        int threads = Threads(work, threshold);
        if (count <= 1 || threads <= 1)
        {
            body(0, count);
            return;
        }
        For(count, 4 * threads, threads, (_, s, e) => body(s, e));
    }

    /// <summary>Runs <paramref name="body"/>(worker, item) for every item in [0, <paramref name="items"/>); up to
    /// <paramref name="workers"/> workers claim items one at a time (dynamic balance for uneven items). Serial
    /// (worker 0) with one worker or inside a region.</summary>
    internal static void Dynamic(int workers, int items, Action<int, int> body)
    {
        if (workers <= 1 || items <= 1 || t_inRegion)
        {
            for (int t = 0; t < items; t++) body(0, t);
            return;
        }
        int next = -1;
        Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, w =>
        {
            using var region = Serial();
            for (int t = Interlocked.Increment(ref next); t < items; t = Interlocked.Increment(ref next)) body(w, t);
        });
    }

    /// <summary>Start of chunk <paramref name="ch"/> of <paramref name="chunks"/> over [0, <paramref name="count"/>).</summary>
    internal static int Start(int count, int chunks, int ch) => (int)((long)count * ch / chunks);
}
