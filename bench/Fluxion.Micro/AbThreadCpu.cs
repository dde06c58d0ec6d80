using System.Runtime.InteropServices;
using Fluxion.Kernels;
using Fluxion.Nn;
using Fluxion.Optim;

namespace Fluxion.Micro;

/// <summary>
/// In-process A/B comparisons on thread CPU time (clock_gettime(CLOCK_THREAD_CPUTIME_ID)), for a loaded machine where wall
/// clock means nothing: both variants run in the same process, single-threaded (a Parallelism.Serial scope, so the calling
/// thread's CPU time is all the work), in alternating rounds (A then B, B then A, ...); the table gives each side's median
/// over the rounds of its per-round median, and B/A. Not a headline figure.
///   dotnet run -c Release --project bench/Fluxion.Micro -- ab lstm [rounds] [batch seq hidden layers vocab]
///   dotnet run -c Release --project bench/Fluxion.Micro -- ab decomp [rounds] [n]
///   dotnet run -c Release --project bench/Fluxion.Micro -- ab prefetch|smallwork|colsouter [rounds] [threshold]
///   dotnet run -c Release --project bench/Fluxion.Micro -- ab warmcurve [seconds] [mlp|cnn]
///   dotnet run -c Release --project bench/Fluxion.Micro -- ab spectral [rounds] [n]
///   dotnet run -c Release --project bench/Fluxion.Micro -- ab unary [rounds] [n]
///   dotnet run -c Release --project bench/Fluxion.Micro -- ab fused [rounds] [n]
///   dotnet run -c Release --project bench/Fluxion.Micro -- ab mlpprofile [replays]
/// lstm: A = step by step (LstmCell per step), B = the fused LstmSequence op; the LSTM alone (forward + backward of a
/// weighted sum of its output) and the whole `fluxion bench lstm` training step. decomp: A = the unblocked LU, Cholesky,
/// Householder QR, LU and triangular solves with n right-hand sides, B = the blocked ones (float64, one n×n matrix). spectral:
/// A = the cyclic-Jacobi eigensolver and SVD Fluxion had before (<see cref="JacobiReference"/>, which always computes the
/// vectors), B = the Householder reduction + implicit QL / Golub–Kahan QR, with and without vectors. unary: A = the former per-element kernels (Math.*,
/// Kernels.Special through a delegate), B = the SIMD ones of Kernels.VecMath, forward on n float32 values in [-0.99, 0.99].
/// </summary>
internal static class AbThreadCpu
{
    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec { public long Sec; public long Nsec; }

    [DllImport("libc")]
    private static extern int clock_gettime(int clock, out Timespec ts);

    /// <summary>CPU seconds consumed by the calling thread.</summary>
    public static double ThreadCpu()
    {
        clock_gettime(3 /* CLOCK_THREAD_CPUTIME_ID */, out var ts);
        return ts.Sec + ts.Nsec * 1e-9;
    }

    public static int Run(string[] args)
    {
        string what = args.Length > 1 ? args[1] : "lstm";
        int rounds = args.Length > 2 ? int.Parse(args[2]) : 7;
        int[] rest = args.Length > 3 && what != "warmcurve" ? [.. args[3..].Select(int.Parse)] : [];
        using var serial = Parallelism.Serial();
        switch (what)
        {
            case "lstm":
            {
                int[] s = rest.Length == 5 ? rest : [64, 35, 256, 2, 10_000];
                Console.WriteLine($"lstm A/B (A: step by step, B: fused LstmSequence), batch {s[0]}, seq {s[1]}, hidden {s[2]}, layers {s[3]}, vocab {s[4]}, float32, one thread");
                var (lstmOnly, step) = (LstmOnly(s[0], s[1], s[2], s[3]), TrainStep(s[0], s[1], s[2], s[3], s[4]));
                Compare(rounds, ("lstm fwd+bwd", lstmOnly), ("train step", step), fused => Recurrence.FusedLstmSequence = fused);
                break;
            }
            case "decomp":
            {
                int n = rest.Length > 0 ? rest[0] : 512;
                Console.WriteLine($"decomp A/B (A: unblocked, B: blocked), n = {n}, float64, one thread");
                var g = new Generator(1);
                var a = Tensor.Randn([n, n], DType.Float64, g).ToDoubleArray();
                var spd = Tensor.Randn([n, n], DType.Float64, g);
                var s = (spd.MatMul(spd.MT) + Tensor.Eye(n, dtype: DType.Float64) * n).ToDoubleArray();
                var w = new double[n * n];
                var piv = new int[n];
                var (q, r) = (new double[n * n], new double[n * n]);
                var lu = a.ToArray();
                var lpiv = new int[n];
                Decomp.Lu(lu, n, lpiv);
                var x = new double[n * n];
                Compare(rounds,
                    [
                        ("lu", () => { a.CopyTo(w, 0); Decomp.Lu(w, n, piv); }),
                        ("cholesky", () => { s.CopyTo(w, 0); Decomp.Cholesky(w, n); }),
                        ("qr", () => Decomp.Qr(a, n, n, q, r, complete: false)),
                        ("lu solve n rhs", () => { a.CopyTo(x, 0); Decomp.LuSolve(lu, lpiv, n, x, n); }),
                        ("trisolve n rhs", () => { a.CopyTo(x, 0); Decomp.TriSolve(lu, n, x, n, upper: true, unit: false); }),
                    ],
                    blocked => Decomp.Blocked = blocked);
                break;
            }
            case "prefetch" or "smallwork" or "colsouter":
            {
                // float32 products through the internal entry point into preallocated C, one thread. prefetch: A = the AVX2
                // micro-kernels without, B = with the C tile prefetched (Gemm.PrefetchTiles); smallwork: A = the default
                // unpacked/packed crossover, B = the one given after the rounds (default 2^20); colsouter: the unpacked path
                // A = rows outermost, B = B's column strips outermost when B outgrows L1 (Gemm.ColumnsOuter). Shapes m k n and form (ab,
                // bT: B a transposed view, aT: A a transposed view): squares, the MLP's and the CNN's products. Also prints
                // the FMA ceiling of the thread (thread CPU time) and each case's fraction of it.
                var shapes = new (int M, int K, int N, string Form)[]
                {
                    (128, 128, 128, "ab"), (192, 192, 192, "ab"), (256, 256, 256, "ab"), (1024, 1024, 1024, "ab"), (128, 784, 512, "bT"), (128, 512, 784, "ab"), (512, 128, 784, "aT"),
                    (64, 288, 196, "ab"), (288, 64, 196, "aT"), (64, 196, 288, "bT"), (32, 9, 784, "ab"), (9, 784, 32, "bT"),
                };
                if (what != "prefetch") shapes = [.. shapes.Where(x => (long)x.M * x.K * x.N <= 1L << 23)];
                long threshold = rest.Length > 0 ? rest[0] : 1L << 20, defaultSmall = Gemm.SmallWork;
                Action<bool> set = what switch
                {
                    "prefetch" => b => Gemm.PrefetchTiles = b,
                    "colsouter" => b => Gemm.ColumnsOuter = b,
                    _ => b => Gemm.SmallWork = b ? threshold : defaultSmall,
                };
                Console.WriteLine($"{what} A/B, float32, one thread (see AbThreadCpu.cs for A and B){(what == "smallwork" ? $"; B: SmallWork = {threshold}" : "")}");
                var ws = shapes.Select(sh => (Name: $"{sh.M}x{sh.K}x{sh.N}{sh.Form}", Run: GemmCase(sh.M, sh.K, sh.N, sh.Form))).ToArray();
                Compare(rounds, ws, set);
                double fma = FmaCeiling();
                Console.WriteLine($"FMA ceiling of this thread (thread CPU time): {fma:F1} GFLOP/s; B's fraction of it per case:");
                foreach (var sh in shapes)
                {
                    var run = GemmCase(sh.M, sh.K, sh.N, sh.Form);
                    var t = new double[9];
                    for (int i = 0; i < t.Length; i++) { double t0 = ThreadCpu(); run(); t[i] = ThreadCpu() - t0; }
                    Console.WriteLine($"  {sh.M}x{sh.K}x{sh.N}{sh.Form,-4}{2.0 * sh.M * sh.K * sh.N / Median(t) / 1e9,8:F1} GFLOP/s {2.0 * sh.M * sh.K * sh.N / Median(t) / 1e9 / fma,7:P1}");
                }
                break;
            }
            case "warmcurve":
            {
                // not an A/B: the MLP or CNN training step of `fluxion bench mlp|cnn` run for `rounds` seconds (default 12) on
                // all threads, one line per half second: steps, median wall and process CPU per step, allocation per step,
                // collections, and the JIT's compiled-method count and compile time (is anything still tiering up?)
                rounds = args.Length > 2 ? int.Parse(args[2]) : 12;
                serial.Dispose();
                WarmCurve(args.Length > 3 && args[3] == "cnn", rounds);
                break;
            }
            case "spectral":
            {
                int n = rest.Length > 0 ? rest[0] : 128;
                Console.WriteLine($"spectral A/B (A: cyclic Jacobi as before, B: Householder reduction + implicit QL / Golub–Kahan QR), n = {n}, float64, one thread");
                var g = new Generator(1);
                var a = Tensor.Randn([n, n], DType.Float64, g).ToDoubleArray();
                var (u, sv, vt, w, v) = (new double[n * n], new double[n], new double[n * n], new double[n], new double[n * n]);
                bool useNew = false;
                Compare(rounds,
                    [
                        ("svd", () => { if (useNew) Decomp.Svd(a, n, n, u, sv, vt); else JacobiReference.Svd(a, n, n, u, sv, vt); }),
                        ("svdvals", () => { if (useNew) Decomp.Svd(a, n, n, u, sv, vt, vectors: false); else JacobiReference.Svd(a, n, n, u, sv, vt); }),
                        ("eigh", () => { if (useNew) Decomp.Eigh(a, n, w, v); else JacobiReference.Eigh(a, n, w, v); }),
                        ("eigvalsh", () => { if (useNew) Decomp.Eigh(a, n, w, v, vectors: false); else JacobiReference.Eigh(a, n, w, v); }),
                    ],
                    b => useNew = b);
                break;
            }
            case "fused":
                FusedAb(rounds, rest);
                break;
            case "mlpprofile":
                MlpProfile(rounds);
                break;
            case "unary":
            {
                int n = rest.Length > 0 ? rest[0] : 1 << 20;
                Console.WriteLine($"unary A/B (A: per-element Math.*/Special, B: SIMD VecMath), n = {n}, float32, one thread");
                var g = new Generator(2);
                var x = (Tensor.Rand([n], DType.Float32, g) * 1.98 - 0.99).ToArray<float>();
                var y = new float[n];
                bool simd = false;
                (string, Action) W<F>(string name, Func<double, double> f) where F : struct, IVecFunc =>
                    (name, () => { if (simd) VecMath.Map<F>(x, y); else Special.Map(x, y, f); });
                Compare(rounds, [W<VecMath.ErfF>("erf", Special.Erf), W<VecMath.ErfinvF>("erfinv", Special.Erfinv), W<VecMath.AsinF>("asin", Math.Asin),
                    W<VecMath.AtanhF>("atanh", Math.Atanh), W<VecMath.SinhF>("sinh", Math.Sinh), W<VecMath.Log1pF>("log1p", Special.Log1p)], b => simd = b);
                break;
            }
            default:
                Console.Error.WriteLine($"ab: unknown comparison '{what}'; known: lstm, decomp, spectral, prefetch, smallwork, colsouter, warmcurve, unary");
                return 1;
        }
        return 0;
    }

    private static void Compare(int rounds, (string Name, Action Run) w1, (string Name, Action Run) w2, Action<bool> setB) =>
        Compare(rounds, [w1, w2], setB);

    private static void Compare(int rounds, (string Name, Action Run) w1, (string Name, Action Run) w2, (string Name, Action Run) w3, Action<bool> setB) =>
        Compare(rounds, [w1, w2, w3], setB);

    private static void Compare(int rounds, (string Name, Action Run)[] ws, Action<bool> setB)
    {
        const int perRound = 5;
        var med = ws.Select(_ => (A: new List<double>(), B: new List<double>())).ToArray();
        foreach (bool b in new[] { false, true }) { setB(b); foreach (var w in ws) w.Run(); } // warm-up (JIT)
        for (int r = 0; r < rounds; r++)
            foreach (bool b in r % 2 == 0 ? new[] { false, true } : [true, false])
            {
                setB(b);
                for (int i = 0; i < ws.Length; i++)
                {
                    var t = new double[perRound];
                    for (int k = 0; k < perRound; k++)
                    {
                        double t0 = ThreadCpu();
                        ws[i].Run();
                        t[k] = ThreadCpu() - t0;
                    }
                    (b ? med[i].B : med[i].A).Add(Median(t));
                }
            }
        setB(true);
        Console.WriteLine($"{"workload",-16}{"A ms",10}{"B ms",10}{"B/A",8}   (thread CPU time, {rounds} rounds of {perRound}, load {File.ReadAllText("/proc/loadavg").Split(' ')[0]})");
        for (int i = 0; i < ws.Length; i++)
        {
            double a = Median([.. med[i].A]) * 1e3, bb = Median([.. med[i].B]) * 1e3;
            Console.WriteLine($"{ws[i].Name,-16}{a,10:F2}{bb,10:F2}{bb / a,8:F3}");
        }
    }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out Timespec ts);

    private static double ProcessCpu()
    {
        ClockGetTime(2 /* CLOCK_PROCESS_CPUTIME_ID */, out var ts);
        return ts.Sec + ts.Nsec * 1e-9;
    }

    private static void WarmCurve(bool cnn, int seconds)
    {
        Generator.ManualSeed(0);
        Module model;
        Tensor x, y;
        if (cnn)
        {
            model = new Sequential(
                new Conv2d(1, 32, 3, padding: 1), new ReLU(), new MaxPool2d(2),
                new Conv2d(32, 64, 3, padding: 1), new ReLU(), new MaxPool2d(2),
                new Flatten(), new Linear(64 * 7 * 7, 128), new ReLU(), new Linear(128, 10));
            x = Tensor.Randn(64, 1, 28, 28);
            y = Tensor.RandInt(0, 10, [64]);
        }
        else
        {
            model = new Sequential(new Linear(784, 512), new ReLU(), new Linear(512, 256), new ReLU(), new Linear(256, 10));
            x = Tensor.Randn(128, 784);
            y = Tensor.RandInt(0, 10, [128]);
        }
        var opt = new Adam(model.Parameters(), lr: 1e-3);
        Console.WriteLine($"{(cnn ? "cnn" : "mlp")} step over time (load {File.ReadAllText("/proc/loadavg").Split(' ')[0]})");
        Console.WriteLine($"{"t_s",6}{"steps",7}{"wall_ms",9}{"cpu_ms",9}{"alloc_KB",10}{"gen0",6}{"gen2",6}{"jit_methods",12}{"jit_ms",9}");
        var sw = System.Diagnostics.Stopwatch.StartNew();
        double windowEnd = 0.5;
        var wall = new List<double>();
        var cpu = new List<double>();
        long a0 = GC.GetAllocatedBytesForCurrentThread();
        int g0 = GC.CollectionCount(0), g2 = GC.CollectionCount(2);
        while (sw.Elapsed.TotalSeconds < seconds)
        {
            double t0 = sw.Elapsed.TotalMilliseconds, c0 = ProcessCpu();
            opt.ZeroGrad();
            Losses.CrossEntropy(model.Forward(x), y).Backward();
            opt.Step();
            wall.Add(sw.Elapsed.TotalMilliseconds - t0);
            cpu.Add((ProcessCpu() - c0) * 1e3);
            if (sw.Elapsed.TotalSeconds >= windowEnd)
            {
                long a1 = GC.GetAllocatedBytesForCurrentThread();
                Console.WriteLine($"{windowEnd,6:F1}{wall.Count,7}{Median([.. wall]),9:F2}{Median([.. cpu]),9:F2}{(a1 - a0) / 1024.0 / wall.Count,10:F0}" +
                                  $"{GC.CollectionCount(0) - g0,6}{GC.CollectionCount(2) - g2,6}{System.Runtime.JitInfo.GetCompiledMethodCount(),12}" +
                                  $"{System.Runtime.JitInfo.GetCompilationTime().TotalMilliseconds,9:F0}");
                wall.Clear();
                cpu.Clear();
                a0 = a1;
                g0 = GC.CollectionCount(0);
                g2 = GC.CollectionCount(2);
                windowEnd += 0.5;
            }
        }
    }

    /// <summary>GFLOP/s of a register-only 256-bit FMA loop (12 accumulators) on this thread, median of 9 runs, thread CPU time.</summary>
    private static double FmaCeiling()
    {
        const int iterations = 2_000_000;
        var t = new double[9];
        float sink = 0;
        for (int r = 0; r < t.Length; r++)
        {
            double t0 = ThreadCpu();
            sink += FmaLoop(iterations);
            t[r] = ThreadCpu() - t0;
        }
        return sink == 12345 ? 0 : iterations * 12.0 * 16 / Median(t) / 1e9;
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining | System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static float FmaLoop(int iterations)
    {
        var m = System.Runtime.Intrinsics.Vector256.Create(0.999999f);
        var a = System.Runtime.Intrinsics.Vector256.Create(1e-7f);
        System.Runtime.Intrinsics.Vector256<float> x0 = a, x1 = a, x2 = a, x3 = a, x4 = a, x5 = a, x6 = a, x7 = a, x8 = a, x9 = a, x10 = a, x11 = a;
        for (int i = 0; i < iterations; i++)
        {
            x0 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(x0, m, a); x1 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(x1, m, a);
            x2 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(x2, m, a); x3 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(x3, m, a);
            x4 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(x4, m, a); x5 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(x5, m, a);
            x6 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(x6, m, a); x7 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(x7, m, a);
            x8 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(x8, m, a); x9 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(x9, m, a);
            x10 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(x10, m, a); x11 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(x11, m, a);
        }
        return System.Runtime.Intrinsics.Vector256.Sum(((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7)) + ((x8 + x9) + (x10 + x11)));
    }

    private static Action GemmCase(int m, int k, int n, string form)
    {
        var g = new Generator(3);
        var a = Tensor.Randn([m * k], DType.Float32, g).ToArray<float>();
        var b = Tensor.Randn([k * n], DType.Float32, g).ToArray<float>();
        var c = new float[m * n];
        // bT: b holds Bᵀ (n×k) row-major, as x @ w.T reads a Linear's weight; aT: a holds Aᵀ (k×m)
        return form switch
        {
            "bT" => () => Gemm.MatMul(a, 0, k, 1, b, 0, 1, k, c, 0, m, k, n),
            "aT" => () => Gemm.MatMul(a, 0, 1, m, b, 0, n, 1, c, 0, m, k, n),
            _ => () => Gemm.MatMul(a, 0, k, 1, b, 0, n, 1, c, 0, m, k, n),
        };
    }

    private static double Median(double[] v)
    {
        var s = v.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    private static Action LstmOnly(int batch, int seq, int hidden, int layers)
    {
        var g = new Generator(0);
        var lstm = new LSTM(hidden, hidden, layers, generator: g);
        var x = Tensor.Randn([seq, batch, hidden], DType.Float32, g);
        var wy = Tensor.Randn([seq, batch, hidden], DType.Float32, g);
        return () =>
        {
            foreach (var p in lstm.Parameters()) p.Grad = null;
            (lstm.Forward(x) * wy).Sum().Backward();
        };
    }

    // the workload of `fluxion bench lstm` (src/Fluxion.Cli/Bench/LstmBench.cs)
    private static Action TrainStep(int batch, int seq, int hidden, int layers, int vocab)
    {
        var g = new Generator(0);
        var emb = new Embedding(vocab, hidden, generator: g);
        var lstm = new LSTM(hidden, hidden, layers, generator: g);
        var head = new Linear(hidden, vocab, generator: g);
        var opt = new SGD(emb.Parameters().Concat(lstm.Parameters()).Concat(head.Parameters()), lr: 0.1);
        var x = Tensor.RandInt(0, vocab, [seq, batch], generator: g);
        var y = Tensor.RandInt(0, vocab, [seq * batch], generator: g);
        return () =>
        {
            opt.ZeroGrad();
            var h = lstm.Forward(emb.Forward(x));
            var loss = Losses.CrossEntropy(head.Forward(h.Reshape(seq * batch, hidden)), y);
            loss.Backward();
            opt.Step();
        };
    }

    // ---- fused (issue 19): compiled elementwise groups, block interpreter (A) against generated code (B) ----

    /// <summary>A = every fused group through the block interpreter, B = generated code (<c>FusedCode</c>), on n float32
    /// values (default 2^20): the 20-op chain of <c>bench compile</c> (tanh, sigmoid: the register formulas), 20 cheap ops
    /// (mul, add, sub: the loop's own overhead shows), and the eager chain as the reference (the same in A and B).</summary>
    private static void FusedAb(int rounds, int[] rest)
    {
        int n = rest.Length > 0 ? rest[0] : 1 << 20;
        Console.WriteLine($"fused A/B (A: block interpreter, B: generated loop), n = {n}, float32, one thread");
        Generator.ManualSeed(0);
        var x = Tensor.Randn(n);
        static Tensor Chain(Tensor x)
        {
            var y = x;
            for (int i = 0; i < 4; i++) y = ((y * 0.5).Tanh() - y.Sigmoid()) * y;
            return y;
        }
        static Tensor Cheap(Tensor x)
        {
            var y = x;
            for (int i = 0; i < 5; i++) y = (y * 0.5 + x) * 0.75 - y;
            return y;
        }
        CompiledFunction Make(Func<Tensor, Tensor> f, bool generated)
        {
            CompiledGraph.GeneratedCode = generated;
            try
            {
                var c = Functional.Compile(f);
                c.Call(x);
                c.Call(x);
                return c;
            }
            finally { CompiledGraph.GeneratedCode = true; }
        }
        var (chainA, chainB, cheapA, cheapB) = (Make(Chain, false), Make(Chain, true), Make(Cheap, false), Make(Cheap, true));
        Console.WriteLine($"generated groups: chain {chainB.LastGraph!.GeneratedGroups} (interpreter side {chainA.LastGraph!.GeneratedGroups}), cheap {cheapB.LastGraph!.GeneratedGroups}");
        bool b = false;
        Compare(rounds, [("chain20", () => (b ? chainB : chainA).Call(x)), ("cheap20", () => (b ? cheapB : cheapA).Call(x)), ("chain20 eager", () => Chain(x))], v => b = v);
    }

    /// <summary>Where the compiled MLP step of <c>bench compile</c> spends its thread CPU time (one thread): each replay
    /// step summed over the replays, beside the eager step, the optimizer step and the zeroing of the gradients.</summary>
    private static void MlpProfile(int replays)
    {
        replays = Math.Max(replays, 20);
        Generator.ManualSeed(0);
        var mlp = new Sequential(new Linear(784, 512), new ReLU(), new Linear(512, 256), new ReLU(), new Linear(256, 10));
        var opt = new Adam(mlp.Parameters(), lr: 1e-3);
        var mx = Tensor.Randn(128, 784);
        var my = Tensor.RandInt(0, 10, [128]);
        var step = Functional.Compile((Tensor[] xs) =>
        {
            var loss = Losses.CrossEntropy(mlp.Forward(xs[0]), xs[1]);
            loss.Backward();
            return loss.Detach();
        }, new CompileOptions { Optimizer = opt });
        void Eager()
        {
            opt.ZeroGrad();
            Losses.CrossEntropy(mlp.Forward(mx), my).Backward();
            opt.Step();
        }
        for (int i = 0; i < 10; i++) { step.Call(mx, my); Eager(); }
        double Time(Action a)
        {
            var t = new double[replays];
            for (int k = 0; k < replays; k++) { double t0 = ThreadCpu(); a(); t[k] = ThreadCpu() - t0; }
            return Median(t) * 1e3;
        }
        var g = step.LastGraph!;
        Console.WriteLine($"mlp step, one thread, median of {replays}, thread CPU ms, load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
        Console.WriteLine($"eager step {Time(Eager),8:F3}   compiled step {Time(() => step.Call(mx, my)),8:F3}   Adam step {Time(opt.Step),8:F3}   ZeroGrad {Time(() => opt.ZeroGrad()),8:F3}");
        g.StepSeconds = null;
        CompiledGraph.StepClock = ThreadCpu;
        try { for (int k = 0; k < replays; k++) step.Call(mx, my); }
        finally { CompiledGraph.StepClock = null; }
        var per = g.StepSeconds!.Select((t, k) => (Ms: t * 1e3 / replays, Name: g.StepNames[k], k)).OrderByDescending(p => p.Ms).ToArray();
        Console.WriteLine($"replay steps: {per.Length}, total {per.Sum(p => p.Ms):F3} ms");
        foreach (var p in per.Take(25)) Console.WriteLine($"  {p.Ms,8:F3}  #{p.k,-3} {p.Name}");
    }
}
