using System.Runtime.InteropServices;

namespace Fluxion.Distributed;

/// <summary>
/// A thin binding of the part of MPI's C API that Fluxion uses, resolved at run time from Open MPI's
/// libmpi.so.40 (MPI.NET 1.4.0 binds MS-MPI's msmpi.dll with integer handles, which Open MPI does not
/// have). Open MPI's handles (MPI_Comm, MPI_Datatype, MPI_Op, MPI_Errhandler) are pointers to exported
/// global objects such as <c>ompi_mpi_comm_world</c>, so they are the addresses of those symbols.
/// </summary>
internal static unsafe class MpiNative
{
    /// <summary>Environment variable naming the MPI library to load instead of libmpi.so.40.</summary>
    public const string LibraryVariable = "FLUXION_MPI_LIBRARY";

    public const int Success = 0;
    public const int ThreadSingle = 0, ThreadFunneled = 1, ThreadSerialized = 2, ThreadMultiple = 3;
    public static readonly IntPtr InPlace = 1; // MPI_IN_PLACE is ((void *) 1) in Open MPI

    private static readonly object s_gate = new();
    private static bool s_loaded;

    public static IntPtr CommWorld, Float, Double, Int64, Byte, OpSum, OpMax, OpMin, ErrorsReturn;

    public static delegate* unmanaged<int*, int> Initialized;
    public static delegate* unmanaged<int*, int> Finalized;
    public static delegate* unmanaged<int*, byte***, int, int*, int> InitThread;
    public static delegate* unmanaged<int> Finalize;
    public static delegate* unmanaged<IntPtr, int*, int> CommRank;
    public static delegate* unmanaged<IntPtr, int*, int> CommSize;
    public static delegate* unmanaged<IntPtr, IntPtr, int, IntPtr, IntPtr, IntPtr, int> Allreduce;
    public static delegate* unmanaged<IntPtr, int, IntPtr, int, IntPtr, int> Bcast;
    public static delegate* unmanaged<IntPtr, int> Barrier;
    public static delegate* unmanaged<IntPtr, int, IntPtr, IntPtr, int, IntPtr, IntPtr, int> Allgather;
    public static delegate* unmanaged<IntPtr, int, int> Abort;
    public static delegate* unmanaged<IntPtr, IntPtr, int> CommSetErrhandler;
    public static delegate* unmanaged<int, byte*, int*, int> ErrorString;

    /// <summary>The library names tried in order (the environment variable's first when set).</summary>
    public static string[] Candidates()
    {
        var env = Environment.GetEnvironmentVariable(LibraryVariable);
        return string.IsNullOrEmpty(env) ? ["libmpi.so.40", "libmpi.so", "libmpi"] : [env];
    }

    /// <summary>Loads MPI once (later calls return at once); throws <see cref="MpiNotFoundException"/> when it cannot.</summary>
    public static void EnsureLoaded()
    {
        lock (s_gate)
        {
            if (s_loaded) return;
            Load(Candidates());
            s_loaded = true;
        }
    }

    /// <summary>Loads the first of <paramref name="candidates"/> that opens and binds every function.</summary>
    internal static void Load(string[] candidates)
    {
        IntPtr lib = IntPtr.Zero;
        var errors = new List<string>();
        foreach (var name in candidates)
        {
            lib = OpenGlobal(name, out var error);
            if (lib != IntPtr.Zero) break;
            errors.Add($"{name}: {error}");
        }
        if (lib == IntPtr.Zero)
            throw new MpiNotFoundException(
                "Fluxion.Distributed: could not load the MPI library (tried " + string.Join("; ", errors) + "). "
                + "Install Open MPI 4.x, e.g. `sudo apt-get install openmpi-bin libopenmpi-dev` (or run tools/install-mpi.sh), "
                + $"or point {LibraryVariable} at your libmpi.so, and launch the program with mpirun.");

        IntPtr Sym(string s) => NativeLibrary.TryGetExport(lib, s, out var p) ? p
            : throw new MpiNotFoundException($"Fluxion.Distributed: the MPI library has no symbol '{s}'; Fluxion.Distributed needs Open MPI 4.x (libmpi.so.40), whose handles are the addresses of ompi_mpi_* objects. Install openmpi-bin and libopenmpi-dev, or set {LibraryVariable} to Open MPI's libmpi.so.40.");

        CommWorld = Sym("ompi_mpi_comm_world");
        Float = Sym("ompi_mpi_float");
        Double = Sym("ompi_mpi_double");
        Int64 = Sym("ompi_mpi_int64_t");
        Byte = Sym("ompi_mpi_byte");
        OpSum = Sym("ompi_mpi_op_sum");
        OpMax = Sym("ompi_mpi_op_max");
        OpMin = Sym("ompi_mpi_op_min");
        ErrorsReturn = Sym("ompi_mpi_errors_return");
        Initialized = (delegate* unmanaged<int*, int>)Sym("MPI_Initialized");
        Finalized = (delegate* unmanaged<int*, int>)Sym("MPI_Finalized");
        InitThread = (delegate* unmanaged<int*, byte***, int, int*, int>)Sym("MPI_Init_thread");
        Finalize = (delegate* unmanaged<int>)Sym("MPI_Finalize");
        CommRank = (delegate* unmanaged<IntPtr, int*, int>)Sym("MPI_Comm_rank");
        CommSize = (delegate* unmanaged<IntPtr, int*, int>)Sym("MPI_Comm_size");
        Allreduce = (delegate* unmanaged<IntPtr, IntPtr, int, IntPtr, IntPtr, IntPtr, int>)Sym("MPI_Allreduce");
        Bcast = (delegate* unmanaged<IntPtr, int, IntPtr, int, IntPtr, int>)Sym("MPI_Bcast");
        Barrier = (delegate* unmanaged<IntPtr, int>)Sym("MPI_Barrier");
        Allgather = (delegate* unmanaged<IntPtr, int, IntPtr, IntPtr, int, IntPtr, IntPtr, int>)Sym("MPI_Allgather");
        Abort = (delegate* unmanaged<IntPtr, int, int>)Sym("MPI_Abort");
        CommSetErrhandler = (delegate* unmanaged<IntPtr, IntPtr, int>)Sym("MPI_Comm_set_errhandler");
        ErrorString = (delegate* unmanaged<int, byte*, int*, int>)Sym("MPI_Error_string");
    }

    /// <summary>MPI's text for an error code.</summary>
    public static string Describe(int code)
    {
        var buf = stackalloc byte[1024];
        int len = 0;
        if (ErrorString is null || ErrorString(code, buf, &len) != Success) return $"MPI error {code}";
        return $"MPI error {code}: " + System.Text.Encoding.ASCII.GetString(buf, Math.Clamp(len, 0, 1024));
    }

    private const int RtldNow = 2, RtldGlobal = 0x100;

    /// <summary>Opens a library with RTLD_GLOBAL on Linux: Open MPI's plugins (dlopened by libmpi itself)
    /// resolve libmpi's symbols from the global namespace, as mpi4py does it.</summary>
    private static IntPtr OpenGlobal(string name, out string error)
    {
        error = "";
        if (OperatingSystem.IsLinux() && Dlopen() is var dlopen && dlopen is not null)
        {
            IntPtr h;
            fixed (byte* p = System.Text.Encoding.UTF8.GetBytes(name + "\0"))
                h = dlopen(p, RtldNow | RtldGlobal);
            if (h != IntPtr.Zero) return h;
            error = "not found or not loadable";
            return IntPtr.Zero;
        }
        if (NativeLibrary.TryLoad(name, out var lib)) return lib;
        error = "not found";
        return IntPtr.Zero;
    }

    private static delegate* unmanaged<byte*, int, IntPtr> Dlopen()
    {
        foreach (var libc in new[] { "libc.so.6", "libdl.so.2" })
            if (NativeLibrary.TryLoad(libc, out var h) && NativeLibrary.TryGetExport(h, "dlopen", out var f))
                return (delegate* unmanaged<byte*, int, IntPtr>)f;
        return null;
    }
}
