using System.Runtime.CompilerServices;

namespace Fluxion;

/// <summary>What <see cref="MemoryTracker.Measure(Action)"/> saw.</summary>
/// <param name="PeakBytes">Peak of live tensor storage allocated inside the measured action (bytes still reachable).</param>
/// <param name="LiveBytesAtEnd">Tensor storage allocated inside the action and still reachable when it returned.</param>
/// <param name="AllocatedBytes">All tensor storage allocated inside the action, reachable or not.</param>
/// <param name="Allocations">Number of storages allocated.</param>
public sealed record MemoryReport(long PeakBytes, long LiveBytesAtEnd, long AllocatedBytes, long Allocations)
{
    /// <summary>A one-line summary in MB.</summary>
    public override string ToString() =>
        $"peak {PeakBytes / 1e6:F2} MB, live at end {LiveBytesAtEnd / 1e6:F2} MB, allocated {AllocatedBytes / 1e6:F2} MB in {Allocations} storages";
}

/// <summary>What the graph behind a tensor keeps alive for backward (see <see cref="MemoryTracker.SavedForBackward"/>).</summary>
/// <param name="SavedBytes">Bytes of distinct storages saved by the graph's nodes (parameters included).</param>
/// <param name="ActivationBytes">The same without the storages of leaves that require grad (parameters).</param>
/// <param name="Nodes">Number of nodes in the graph.</param>
/// <param name="BytesByOp">Saved bytes by op name; sums to <paramref name="SavedBytes"/>.</param>
public sealed record SavedMemoryReport(long SavedBytes, long ActivationBytes, int Nodes, IReadOnlyDictionary<string, long> BytesByOp)
{
    /// <summary>A summary in MB, then the saved bytes of each op, largest first, one per line:
    /// <c>saved for backward 0.52 MB (activations 0.26 MB) in 5 nodes</c>, <c>  mm  0.26 MB</c>, ...</summary>
    public override string ToString()
    {
        var sb = new System.Text.StringBuilder(string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"saved for backward {SavedBytes / 1e6:F2} MB (activations {ActivationBytes / 1e6:F2} MB) in {Nodes} nodes"));
        int width = BytesByOp.Count == 0 ? 0 : BytesByOp.Keys.Max(k => k.Length);
        foreach (var (op, bytes) in BytesByOp.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal))
            sb.Append('\n').Append("  ").Append(op.PadRight(width)).Append("  ")
              .Append((bytes / 1e6).ToString("F2", System.Globalization.CultureInfo.InvariantCulture)).Append(" MB");
        return sb.ToString();
    }
}

/// <summary>
/// Measures the tensor memory an action uses: live bytes, their peak and total allocation. Every
/// storage allocated while a measurement runs gets a ticket whose finalizer reports its release, so
/// the live figure counts exactly the storages that are still reachable once the GC has run. The peak
/// only ever takes confirmed values: when the live figure exceeds the peak by more than
/// <see cref="Slack"/> (plus <see cref="AbsoluteSlack"/>), a full collection confirms it. The reported
/// peak thus never counts garbage, and misses the true peak by at most that slack. Outside a measurement the cost is one static read per allocation.
/// </summary>
public static class MemoryTracker
{
    /// <summary>Relative slack before a new peak is confirmed by a full collection.</summary>
    public const double Slack = 0.05;

    /// <summary>Absolute slack (bytes) added to <see cref="Slack"/>, so tiny allocations do not each force a collection.</summary>
    public const long AbsoluteSlack = 1024;

    [ThreadStatic] private static Session? t_session;

    /// <summary>True while a measurement runs on this thread (allocations made by other threads are not counted).</summary>
    public static bool IsActive => t_session is not null;

    /// <summary>The counters of one measurement; tickets refer to it, so measurements on different threads stay apart.</summary>
    private sealed class Session(double slack, long absoluteSlack)
    {
        public readonly double Slack = slack;
        public readonly long AbsoluteSlack = absoluteSlack;
        public long Live, Peak, Allocated, Count;
        public readonly ConditionalWeakTable<Storage, Ticket> Tickets = new();
        public volatile bool Finished;
    }

    private sealed class Ticket(Session session, long bytes)
    {
        ~Ticket()
        {
            if (!session.Finished) Interlocked.Add(ref session.Live, -bytes);
        }
    }

    internal static void OnAllocate(Storage s)
    {
        var session = t_session;
        if (session is null) return;
        long bytes = s.Bytes;
        session.Tickets.Add(s, new Ticket(session, bytes));
        session.Allocated += bytes;
        session.Count++;
        long live = Interlocked.Add(ref session.Live, bytes);
        if (live <= session.Peak * (1 + session.Slack) + session.AbsoluteSlack) return;
        // a possible new peak: confirm it with a full collection, so only storages still reachable count
        GC.Collect();
        GC.WaitForPendingFinalizers();
        session.Peak = Math.Max(session.Peak, Interlocked.Read(ref session.Live));
    }

    /// <summary>Runs <paramref name="action"/> and reports the tensor memory it allocated on this thread. Measurements do not nest.</summary>
    public static MemoryReport Measure(Action action) => Measure(action, Slack, AbsoluteSlack);

    /// <summary>
    /// <see cref="Measure(Action)"/> with the slack given: a new peak is confirmed by a full collection when the live
    /// figure exceeds the peak by more than <paramref name="slack"/> (relative) plus <paramref name="absoluteSlack"/> bytes.
    /// With 0 and 0 the peak is exact (every allocation that could set a new peak runs a full collection: slow, for
    /// comparing the peaks of runs that differ by less than the default slack).
    /// </summary>
    public static MemoryReport Measure(Action action, double slack, long absoluteSlack)
    {
        ArgumentNullException.ThrowIfNull(action);
        if (!(slack >= 0) || absoluteSlack < 0)
            throw new ArgumentOutOfRangeException(nameof(slack), $"MemoryTracker.Measure: the slack must be ≥ 0, got {slack} and {absoluteSlack} bytes.");
        if (t_session is not null) throw new InvalidOperationException("MemoryTracker.Measure: measurements do not nest; one is already running on this thread.");
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var session = new Session(slack, absoluteSlack);
        t_session = session;
        Storage.AllocationObserver = OnAllocate;
        try
        {
            action();
        }
        finally
        {
            t_session = null;
            Storage.AllocationObserver = null;
        }
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long live = Interlocked.Read(ref session.Live);
        session.Finished = true;
        return new MemoryReport(Math.Max(session.Peak, live), live, session.Allocated, session.Count);
    }

    /// <summary>
    /// The memory the graph behind <paramref name="output"/> keeps for its backward pass: bytes of the
    /// distinct storages its nodes saved, in total and grouped by op. Deterministic (it counts buffers,
    /// not GC state), so tests can assert it exactly.
    /// </summary>
    public static SavedMemoryReport SavedForBackward(Tensor output)
    {
        var stats = GraphMemory.Measure(output);
        return new SavedMemoryReport(stats.SavedBytes, stats.ActivationBytes, stats.Nodes, GraphMemory.SavedBytesByOp([output]));
    }

    /// <summary>Runs <paramref name="f"/>, returns its result and reports the tensor memory it used (the
    /// result is still alive at the end, so it counts in <see cref="MemoryReport.LiveBytesAtEnd"/>).</summary>
    public static (T Result, MemoryReport Report) Measure<T>(Func<T> f)
    {
        T result = default!;
        var report = Measure(() => { result = f(); });
        GC.KeepAlive(result);
        return (result, report);
    }
}
