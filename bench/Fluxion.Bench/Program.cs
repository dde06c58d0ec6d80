using System.Diagnostics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Fluxion;
using Fluxion.Cli.Bench;

// Hand-run throughput checks (not unit tests). Usage:
//   dotnet run -c Release --project bench/Fluxion.Bench -- gemm|sgemm [runs] [sizes...]
// Prints the median GFLOP/s over `runs` timed calls (after warm-up) of the public Tensor.MatMul,
// which includes allocating the output, as torch's a @ b does, and of the internal kernel
// (Fluxion.Kernels.Gemm, reached by reflection) into a preallocated output ("raw").
var workload = args.Length > 0 ? args[0] : "gemm";
switch (workload)
{
    case "gemm":
        Gemm(args, quick: false);
        break;
    case "sgemm": // float32 a @ b only (quick)
        Gemm(args, quick: true);
        break;
    default:
        Console.Error.WriteLine($"unknown workload '{workload}'; known: gemm, sgemm");
        return 1;
}
return 0;

static void Gemm(string[] args, bool quick)
{
    int runs = args.Length > 1 ? int.Parse(args[1]) : 10;
    int[] sizes = args.Length > 2 ? args[2..].Select(int.Parse).ToArray() : [512, 1024];
    Console.WriteLine($"cores={Environment.ProcessorCount} avx2={Avx2.IsSupported} fma={Fma.IsSupported} avx512f={Avx512F.IsSupported} vector512={Vector512.IsHardwareAccelerated}");
    foreach (var dtype in quick ? [DType.Float32] : new[] { DType.Float32, DType.Float64 })
        foreach (int s in sizes)
        {
            // the cases of `fluxion bench gemm` (src/Fluxion.Cli/Bench/GemmBench.cs), plus a.T @ b and the raw kernel
            Report($"{dtype} {s}^3 {GemmBench.Label(GemmForm.AB)}", s, runs, GemmBench.Case(dtype, s, GemmForm.AB));
            Report($"{dtype} {s}^3 NN raw kernel", s, runs, GemmBench.Throughput("raw", s, RawGemm(dtype, s)));
            if (dtype == DType.Float32 && !quick)
                foreach (var form in new[] { GemmForm.ABt, GemmForm.AtB })
                    Report($"{dtype} {s}^3 {GemmBench.Label(form)}", s, runs, GemmBench.Case(dtype, s, form));
        }
}

// C = A·B through the internal row-major kernel entry, into a buffer allocated once
static Action RawGemm(DType dtype, int s)
{
    var (a, b) = (Tensor.Randn([s, s], dtype), Tensor.Randn([s, s], dtype));
    var gemm = typeof(Tensor).Assembly.GetType("Fluxion.Kernels.Gemm", throwOnError: true)!
        .GetMethods(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
        .Single(m => m.Name == "MatMul" && m.GetParameters().Length == 9);
    if (a.DType == DType.Float32)
    {
        var (x, y, c) = (a.ToArray<float>(), b.ToArray<float>(), new float[s * s]);
        var f = gemm.MakeGenericMethod(typeof(float)).CreateDelegate<Action<float[], int, float[], int, float[], int, int, int, int>>();
        return () => f(x, 0, y, 0, c, 0, s, s, s);
    }
    else
    {
        var (x, y, c) = (a.ToArray<double>(), b.ToArray<double>(), new double[s * s]);
        var f = gemm.MakeGenericMethod(typeof(double)).CreateDelegate<Action<double[], int, double[], int, double[], int, int, int, int>>();
        return () => f(x, 0, y, 0, c, 0, s, s, s);
    }
}

// Warm-up (>= 0.5 s) and timed runs by BenchRunner, as `fluxion bench`; then the same number of runs again for CPU time.
static void Report(string name, int s, int runs, Workload w)
{
    var r = BenchRunner.Measure(w, warmup: 3, runs);
    var cpu0 = CpuSeconds();
    for (int i = 0; i < runs; i++) w.Run();
    double cpu = (CpuSeconds() - cpu0) / runs;
    double flop = 2.0 * s * s * s;
    Console.WriteLine($"{name,-28} median {GemmBench.GFlops(s, r.MedianMs),7:F1} GFLOP/s  best {GemmBench.GFlops(s, r.MinMs),7:F1} GFLOP/s  ({r.MedianMs:F2} ms; {flop / cpu / 1e9:F1} GFLOP per CPU-s; GCs in {runs} calls: {Math.Round(r.Gen0 * runs)} gen0, {Math.Round(r.Gen2 * runs)} gen2)");
}

// CPU time of the whole process (all threads): separates kernel efficiency from time lost to other processes.
static unsafe double CpuSeconds()
{
    Timespec ts;
    clock_gettime(2 /* CLOCK_PROCESS_CPUTIME_ID */, &ts);
    return ts.Sec + ts.Nsec * 1e-9;
}

[System.Runtime.InteropServices.DllImport("libc")]
static extern unsafe int clock_gettime(int clock, Timespec* ts);

struct Timespec { public long Sec; public long Nsec; }
