using System.Globalization;
using System.Runtime.InteropServices;

namespace Fluxion.Distributed;

/// <summary>How <see cref="ProcessGroup.AllReduce(Tensor, ReduceOp)"/> combines the ranks' values.</summary>
public enum ReduceOp
{
    /// <summary>Element-wise sum over the ranks.</summary>
    Sum,
    /// <summary>Element-wise mean over the ranks (the sum divided by <see cref="ProcessGroup.Size"/>); floating point only.</summary>
    Average,
    /// <summary>Element-wise maximum over the ranks.</summary>
    Max,
    /// <summary>Element-wise minimum over the ranks.</summary>
    Min,
}

/// <summary>
/// The processes of an MPI job (PyTorch's default process group, <c>torch.distributed</c> with the MPI
/// backend): every process launched by <c>mpirun -np N</c> has a <see cref="Rank"/> in 0..N-1, and the
/// collectives (<see cref="AllReduce(Tensor, ReduceOp)"/>, <see cref="Broadcast"/>, <see cref="Barrier"/>,
/// <see cref="AllGather"/>) must be called by every rank in the same order. Contiguous float32, float64
/// and int64 tensors are reduced and broadcast in place in their own storage, without a copy.
/// <para>Faults are errors, not hangs: every collective runs under a watchdog, and one that has not
/// completed after <see cref="Timeout"/> (a peer died or hangs) prints which operation on which rank
/// timed out and aborts the whole job (MPI_Abort), so no rank waits forever. MPI errors are returned
/// (MPI_ERRORS_RETURN) and raised as <see cref="DistributedException"/>.</para>
/// <para>MPI (Open MPI 4.x, libmpi.so.40) is loaded by <see cref="Init"/>; when it is missing,
/// <see cref="Init"/> throws <see cref="MpiNotFoundException"/> saying how to install it.</para>
/// </summary>
public sealed unsafe class ProcessGroup : IDisposable
{
    /// <summary>Environment variable giving the default <see cref="Timeout"/> in seconds.</summary>
    public const string TimeoutVariable = "FLUXION_DIST_TIMEOUT";

    /// <summary>Exit code of a process that the watchdog ends.</summary>
    public const int TimeoutExitCode = 70;

    private static readonly object s_initGate = new();
    private static ProcessGroup? s_world;
    private static PosixSignalRegistration? s_sigterm;

    private readonly object _gate = new();
    private readonly Timer _watchdog;
    private string _current = "";
    private bool _disposed;

    private ProcessGroup(int rank, int size, int threadLevel, TimeSpan timeout)
    {
        Rank = rank;
        Size = size;
        ThreadLevel = threadLevel;
        Timeout = timeout;
        _watchdog = new Timer(_ => OnTimeout(), null, System.Threading.Timeout.Infinite, System.Threading.Timeout.Infinite);
    }

    /// <summary>This process's rank, 0..<see cref="Size"/>-1.</summary>
    public int Rank { get; }

    /// <summary>Number of processes in the job.</summary>
    public int Size { get; }

    /// <summary>True on rank 0, the rank that logs, plots and writes checkpoints.</summary>
    public bool IsMain => Rank == 0;

    /// <summary>MPI's thread support level (0 single .. 3 multiple): 2 or more lets
    /// <see cref="DistributedDataParallel"/> reduce gradients on a communication thread while the
    /// backward pass continues.</summary>
    public int ThreadLevel { get; }

    /// <summary>How long one collective may block before the watchdog aborts the job. Default: the
    /// <see cref="TimeoutVariable"/> environment variable in seconds, else 300 s.</summary>
    public TimeSpan Timeout { get; set; }

    /// <summary>The process group of the running job, or null before <see cref="Init"/>.</summary>
    public static ProcessGroup? World => s_world;

    /// <summary>True when this process was started by Open MPI's <c>mpirun</c>.</summary>
    public static bool LaunchedByMpirun => Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") is not null;

    /// <summary>
    /// Initializes MPI (once per process; later calls return the same group) and returns the group of
    /// all processes of the job. A process not started by <c>mpirun</c> forms a group of size 1.
    /// </summary>
    /// <param name="timeout">How long a collective may block (see <see cref="Timeout"/>).</param>
    /// <exception cref="MpiNotFoundException">libmpi.so.40 cannot be loaded.</exception>
    public static ProcessGroup Init(TimeSpan? timeout = null)
    {
        lock (s_initGate)
        {
            if (s_world is { } w)
            {
                if (w._disposed) throw new DistributedException("ProcessGroup.Init: MPI was already finalized in this process (the process group was disposed); MPI cannot be initialized twice, so create the group once and dispose it at the end of the program.");
                if (timeout is { } t) w.Timeout = t;
                return w;
            }
            MpiNative.EnsureLoaded();
            int provided = 0, flag = 0;
            Check("MPI_Initialized", MpiNative.Initialized(&flag));
            if (flag == 0)
                Check("MPI_Init_thread", MpiNative.InitThread(null, null, MpiNative.ThreadMultiple, &provided));
            else
                provided = MpiNative.ThreadSerialized; // initialized by someone else: assume they asked for enough
            Check("MPI_Comm_set_errhandler", MpiNative.CommSetErrhandler(MpiNative.CommWorld, MpiNative.ErrorsReturn));
            int rank = 0, size = 0;
            Check("MPI_Comm_rank", MpiNative.CommRank(MpiNative.CommWorld, &rank));
            Check("MPI_Comm_size", MpiNative.CommSize(MpiNative.CommWorld, &size));
            var world = new ProcessGroup(rank, size, provided, timeout ?? DefaultTimeout());
            int r = rank, n = size;
            // mpirun ends the other ranks with SIGTERM when one fails: say so instead of vanishing silently
            s_sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ =>
                Console.Error.WriteLine($"fluxion distributed: rank {r}/{n} terminated by mpirun (SIGTERM), usually because another rank failed or died; see that rank's error above."));
            s_world = world;
            return world;
        }
    }

    private static TimeSpan DefaultTimeout()
    {
        var s = Environment.GetEnvironmentVariable(TimeoutVariable);
        return s is not null && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var sec) && sec > 0
            ? TimeSpan.FromSeconds(sec)
            : TimeSpan.FromSeconds(300);
    }

    private static void Check(string what, int code)
    {
        if (code != MpiNative.Success)
            throw new DistributedException($"ProcessGroup.Init: {what} failed ({MpiNative.Describe(code)}). Launch the program with mpirun, e.g. `mpirun -np 2 dotnet app.dll`.");
    }

    // ---- collectives on tensors --------------------------------------------------------------

    /// <summary>Reduces <paramref name="tensor"/> over all ranks, in place (every rank gets the result).
    /// A contiguous tensor is reduced in its own storage without a copy. Autograd does not see it.</summary>
    public void AllReduce(Tensor tensor, ReduceOp op = ReduceOp.Sum)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (op == ReduceOp.Average && !tensor.DType.IsFloatingPoint())
            throw new DTypeMismatchException($"ProcessGroup.AllReduce: ReduceOp.Average needs a float32 or float64 tensor, got {tensor.DType.Name()} of shape {ShapeUtil.Format(tensor.Shape)}; use ReduceOp.Sum and divide, or convert with To(DType.Float64).");
        InPlace("AllReduce", tensor, (ptr, count, type) =>
        {
            Collective($"AllReduce({op}) of {count} {tensor.DType.Name()}", () => MpiNative.Allreduce(MpiNative.InPlace, ptr, count, type, MpiOp(op), MpiNative.CommWorld));
            if (op == ReduceOp.Average) Scale(ptr, count, tensor.DType, 1.0 / Size);
        });
    }

    /// <summary>Copies <paramref name="tensor"/> of rank <paramref name="root"/> into the same tensor on every
    /// other rank, in place (every rank must pass a tensor of the same shape and dtype).</summary>
    public void Broadcast(Tensor tensor, int root = 0)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        CheckRoot(root);
        InPlace("Broadcast", tensor, (ptr, count, type) =>
            Collective($"Broadcast of {count} {tensor.DType.Name()} from rank {root}", () => MpiNative.Bcast(ptr, count, type, root, MpiNative.CommWorld)));
    }

    /// <summary>Gathers <paramref name="tensor"/> from every rank into a new tensor of shape [Size, ...shape]
    /// (row r holds rank r's tensor); every rank gets the result. Every rank must pass the same shape and dtype.</summary>
    public Tensor AllGather(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var src = tensor.Contiguous();
        var type = MpiType("AllGather", src);
        var shape = new int[src.Shape.Length + 1];
        shape[0] = Size;
        src.Shape.CopyTo(shape.AsSpan(1));
        var result = Tensor.Zeros(shape, src.DType);
        int count = src.Numel;
        var sh = GCHandle.Alloc(src.Storage.RawData, GCHandleType.Pinned);
        var rh = GCHandle.Alloc(result.Storage.RawData, GCHandleType.Pinned);
        try
        {
            int es = src.DType.ElementSize();
            IntPtr sp = sh.AddrOfPinnedObject() + src.Offset * es, rp = rh.AddrOfPinnedObject();
            Collective($"AllGather of {count} {src.DType.Name()}", () => MpiNative.Allgather(sp, count, type, rp, count, type, MpiNative.CommWorld));
        }
        finally
        {
            sh.Free();
            rh.Free();
        }
        return result;
    }

    /// <summary>Blocks until every rank has called it.</summary>
    public void Barrier() => Collective("Barrier", () => MpiNative.Barrier(MpiNative.CommWorld));

    // ---- collectives on spans (metrics, flat buffers) -----------------------------------------

    /// <summary>Reduces <paramref name="values"/> over all ranks in place.</summary>
    public void AllReduce(Span<double> values, ReduceOp op = ReduceOp.Sum)
    {
        fixed (double* p = values)
        {
            IntPtr ptr = (IntPtr)p;
            int n = values.Length;
            Collective($"AllReduce({op}) of {n} float64", () => MpiNative.Allreduce(MpiNative.InPlace, ptr, n, MpiNative.Double, MpiOp(op), MpiNative.CommWorld));
            if (op == ReduceOp.Average) Scale(ptr, n, DType.Float64, 1.0 / Size);
        }
    }

    /// <summary>Reduces <paramref name="values"/> over all ranks in place.</summary>
    public void AllReduce(Span<float> values, ReduceOp op = ReduceOp.Sum)
    {
        fixed (float* p = values)
        {
            IntPtr ptr = (IntPtr)p;
            int n = values.Length;
            Collective($"AllReduce({op}) of {n} float32", () => MpiNative.Allreduce(MpiNative.InPlace, ptr, n, MpiNative.Float, MpiOp(op), MpiNative.CommWorld));
            if (op == ReduceOp.Average) Scale(ptr, n, DType.Float32, 1.0 / Size);
        }
    }

    /// <summary>Ends the whole job at once (MPI_Abort) with <paramref name="exitCode"/>, after writing
    /// <paramref name="message"/> to standard error.</summary>
    public void Abort(string message, int exitCode = 1)
    {
        Console.Error.WriteLine(message);
        Console.Error.Flush();
        MpiNative.Abort(MpiNative.CommWorld, exitCode);
        Environment.Exit(exitCode);
    }

    /// <summary>Finalizes MPI (collective: every rank must dispose its group). MPI cannot be initialized
    /// again in this process.</summary>
    public void Dispose()
    {
        lock (s_initGate)
        {
            if (_disposed) return;
            _disposed = true;
            _watchdog.Dispose();
            int fin = 0;
            if (MpiNative.Finalized(&fin) == MpiNative.Success && fin == 0) MpiNative.Finalize();
        }
    }

    // ---- plumbing ------------------------------------------------------------------------------

    /// <summary>Runs one MPI call under the group's lock and the watchdog; a non-success code becomes a
    /// <see cref="DistributedException"/>.</summary>
    internal void Collective(string what, Func<int> call)
    {
        lock (_gate)
        {
            if (_disposed) throw new DistributedException($"ProcessGroup: {what} after the group was disposed (MPI is finalized).");
            _current = what;
            _watchdog.Change(Timeout, System.Threading.Timeout.InfiniteTimeSpan);
            int code;
            try
            {
                code = call();
            }
            finally
            {
                _watchdog.Change(System.Threading.Timeout.Infinite, System.Threading.Timeout.Infinite);
            }
            if (code != MpiNative.Success)
                throw new DistributedException($"rank {Rank}/{Size}: {what} failed ({MpiNative.Describe(code)}); another rank has probably died or left the job (see its output).");
        }
    }

    private void OnTimeout()
    {
        Abort($"fluxion distributed: rank {Rank}/{Size}: {_current} did not complete within {Timeout.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture)} s; "
            + $"another rank has probably died or hangs (see its output). Aborting all ranks. (Raise the limit with {TimeoutVariable}=<seconds> if a rank legitimately works that long between collectives.)",
            TimeoutExitCode);
    }

    private void CheckRoot(int root)
    {
        if (root < 0 || root >= Size)
            throw new ArgumentOutOfRangeException(nameof(root), $"ProcessGroup: root rank {root} is not in 0..{Size - 1}.");
    }

    private static IntPtr MpiOp(ReduceOp op) => op switch
    {
        ReduceOp.Sum or ReduceOp.Average => MpiNative.OpSum,
        ReduceOp.Max => MpiNative.OpMax,
        _ => MpiNative.OpMin,
    };

    private static IntPtr MpiType(string op, Tensor t) => t.DType switch
    {
        DType.Float32 => MpiNative.Float,
        DType.Float64 => MpiNative.Double,
        DType.Int64 => MpiNative.Int64,
        _ => throw new DTypeMismatchException($"ProcessGroup.{op}: {t.DType.Name()} tensors (shape {ShapeUtil.Format(t.Shape)}) are not supported; use float32, float64 or int64 (convert with To(...)).")
    };

    /// <summary>Runs <paramref name="body"/> on the tensor's elements in place: directly on its pinned
    /// storage when contiguous, else on a contiguous copy that is copied back.</summary>
    private static void InPlace(string op, Tensor tensor, Action<IntPtr, int, IntPtr> body)
    {
        var type = MpiType(op, tensor);
        var work = tensor.IsContiguous ? tensor : tensor.Clone();
        var h = GCHandle.Alloc(work.Storage.RawData, GCHandleType.Pinned);
        try
        {
            body(h.AddrOfPinnedObject() + work.Offset * work.DType.ElementSize(), work.Numel, type);
        }
        finally
        {
            h.Free();
        }
        if (!ReferenceEquals(work, tensor))
            using (Autograd.NoGrad())
                tensor.Detach().CopyInPlace(work);
        else
            tensor.Storage.BumpVersion();
    }

    private static void Scale(IntPtr ptr, int count, DType dtype, double factor)
    {
        if (dtype == DType.Float32)
        {
            var s = new Span<float>((void*)ptr, count);
            float f = (float)factor;
            for (int i = 0; i < s.Length; i++) s[i] *= f;
        }
        else
        {
            var s = new Span<double>((void*)ptr, count);
            for (int i = 0; i < s.Length; i++) s[i] *= factor;
        }
    }
}
