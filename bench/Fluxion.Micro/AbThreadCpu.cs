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
///   dotnet run -c Release --project bench/Fluxion.Micro -- ab smallstrip|smallpath [rounds]   (run-by-run alternation, min and median)
///   dotnet run -c Release --project bench/Fluxion.Micro -- ab warmcurve [seconds] [mlp|cnn]
///   dotnet run -c Release --project bench/Fluxion.Micro -- ab spectral [rounds] [n]
///   dotnet run -c Release --project bench/Fluxion.Micro -- ab unary [rounds] [n]
///   dotnet run -c Release --project bench/Fluxion.Micro -- ab composites [rounds] [n]
///   dotnet run -c Release --project bench/Fluxion.Micro -- ab scan [rounds] [n]
///   dotnet run -c Release --project bench/Fluxion.Micro -- ab linalg [rounds] [n]
///   dotnet run -c Release --project bench/Fluxion.Micro -- ab f32 [rounds] [n]
///   dotnet run -c Release --project bench/Fluxion.Micro -- ab lstsq [rounds] [n]
///   dotnet run -c Release --project bench/Fluxion.Micro -- ab fused [rounds] [n]
///   dotnet run -c Release --project bench/Fluxion.Micro -- ab mlpprofile [replays]
///   dotnet run -c Release --project bench/Fluxion.Micro -- ab fusedchain [rounds] [n]   (FusedChainAb.cs)
///   dotnet run -c Release --project bench/Fluxion.Micro -- ab scope [rounds] [n]
///   dotnet run -c Release --project bench/Fluxion.Micro -- ab activations [rounds] [n]
/// lstm: A = step by step (LstmCell per step), B = the fused LstmSequence op; the LSTM alone (forward + backward of a
/// weighted sum of its output) and the whole `fluxion bench lstm` training step. decomp: A = the unblocked LU, Cholesky,
/// Householder QR, LU and triangular solves with n right-hand sides, B = the blocked ones (float64, one n×n matrix). spectral:
/// A = the cyclic-Jacobi eigensolver and SVD Fluxion had before (<see cref="JacobiReference"/>, which always computes the
/// vectors), B = the Householder reduction + implicit QL / Golub–Kahan QR, with and without vectors. unary: A = the former per-element kernels (Math.*,
/// Kernels.Special through a delegate), B = the SIMD ones of Kernels.VecMath, forward on n float32 values in [-0.99, 0.99].
/// composites: A = the tensor-op composites addcmul, soft margin, BCE with logits, KL divergence and PReLU were before
/// (written out here) and the per-element NextNormal loop of randn, B = the fused one-pass entries and the block Box–Muller;
/// forward + backward of each on n float32 elements.
/// f32: A = the float32 kernels evaluated in double lanes (Kernels.VecMath, or TensorPrimitives / Special.Tanh where the op
/// used them), B = the float32-lane kernels of Kernels.VecMath32, forward on n float32 values in [-0.99, 0.99]; below
/// 65536 elements each timed run repeats the kernel to cover about 2^20 elements.
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
            case "linalg":
            {
                // h-la (issue 17): A = before (inverse by an LU solve of the identity; float32 triangular solves in float64; a
                // solve's backward factorizing Aᵀ again), B = after (Decomp.LuInverse skipping L⁻¹'s zeros; the float32 TriSolve;
                // the transposed solve from the forward's LU). float64 n×n unless named float32, n right-hand sides.
                int n = rest.Length > 0 ? rest[0] : 512;
                Console.WriteLine($"linalg A/B (A: before, B: after; see AbThreadCpu.cs), n = {n}, one thread");
                var g = new Generator(3);
                var a = (Tensor.Randn([n, n], DType.Float64, g) + Tensor.Eye(n, dtype: DType.Float64) * Math.Sqrt(n)).ToDoubleArray();
                var at = Tensor.FromArray(a, n, n).MT.Contiguous().ToDoubleArray();
                var lu = a.ToArray();
                var piv = new int[n];
                Decomp.Lu(lu, n, piv);
                var luF = lu.Select(v => (float)v).ToArray();
                var aF = a.Select(v => (float)v).ToArray();
                var (x, w, xF, piv2) = (new double[n * n], new double[n * n], new float[n * n], new int[n]);
                bool after = false;
                Compare(rounds,
                    [
                        ("inverse from lu", () =>
                        {
                            if (after) { Decomp.LuInverse(lu, piv, n, x); return; }
                            Array.Clear(x);
                            for (int i = 0; i < n; i++) x[i * n + i] = 1;
                            Decomp.LuSolve(lu, piv, n, x, n);
                        }),
                        ("trisolve float32", () =>
                        {
                            if (after) { aF.CopyTo(xF, 0); Decomp.TriSolve(luF, n, xF, n, upper: true, unit: false); }
                            else { a.CopyTo(x, 0); Decomp.TriSolve(lu, n, x, n, upper: true, unit: false); }
                        }),
                        ("solve backward", () =>
                        {
                            a.CopyTo(x, 0);
                            if (after) { Decomp.LuSolveTransposed(lu, piv, n, x, n); return; }
                            at.CopyTo(w, 0);
                            Decomp.Lu(w, n, piv2);
                            Decomp.LuSolve(w, piv2, n, x, n);
                        }),
                    ],
                    b => after = b);
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
            case "smallstrip" or "smallpath":
            {
                // issue 22, small GEMMs (h-gemm). smallstrip: the unpacked path (SmallWork raised to 2^25 so 256³ takes it),
                // A = B's column strips read in place, B = strips copied to a contiguous buffer first where the rule of
                // Gemm.SmallRows says so (Gemm.PackSmallStrips). smallpath: A = the packed path (SmallWork 0), B = the
                // unpacked path (SmallWork 2^25). Per shape, A and B alternate run by run (`rounds` × 20 runs each) and
                // the table gives min and median thread CPU time of each side (min: the runs no other process disturbed)
                // and their fractions of the thread's FMA ceiling.
                var shapes = new (int M, int K, int N, string Form)[]
                {
                    (128, 128, 128, "ab"), (192, 192, 192, "ab"), (256, 256, 256, "ab"), (128, 128, 128, "aT"), (256, 256, 256, "aT"),
                    (64, 288, 196, "ab"), (256, 128, 512, "ab"),
                };
                long defaultSmall = Gemm.SmallWork;
                bool strips = what == "smallstrip";
                Action<bool> set = strips
                    ? b => { Gemm.SmallWork = 1L << 25; Gemm.PackSmallStrips = b; }
                    : b => { Gemm.PackSmallStrips = true; Gemm.SmallWork = b ? 1L << 25 : 0; };
                double fma = FmaCeiling();
                Console.WriteLine($"{what} A/B, float32, one thread (see AbThreadCpu.cs for A and B), load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}; " +
                                  $"FMA ceiling of this thread {fma:F1} GFLOP/s");
                Console.WriteLine($"{"workload",-16} {"A min ms",9} {"B min ms",9} {"B/A min",8} {"A med",9} {"B med",9} {"B/A med",8} {"A/ceil",7} {"B/ceil",7}");
                foreach (var sh in shapes)
                {
                    var run = GemmCase(sh.M, sh.K, sh.N, sh.Form);
                    int n = Math.Max(2, rounds) * 20;
                    var ta = new double[n];
                    var tb = new double[n];
                    for (int i = 0; i < 3; i++) { set(false); run(); set(true); run(); }
                    for (int i = 0; i < 2 * n; i++)
                    {
                        bool b = (i & 1) == ((i >> 1) & 1); // B A A B B A A B ...
                        set(b);
                        double t0 = ThreadCpu();
                        run();
                        (b ? tb : ta)[i / 2] = ThreadCpu() - t0;
                    }
                    Array.Sort(ta);
                    Array.Sort(tb);
                    double flop = 2.0 * sh.M * sh.K * sh.N;
                    Console.WriteLine($"{$"{sh.M}x{sh.K}x{sh.N}{sh.Form}",-16} {ta[0] * 1e3,9:F4} {tb[0] * 1e3,9:F4} {tb[0] / ta[0],8:F3} {Median(ta) * 1e3,9:F4} " +
                                      $"{Median(tb) * 1e3,9:F4} {Median(tb) / Median(ta),8:F3} {flop / ta[0] / 1e9 / fma,7:P0} {flop / tb[0] / 1e9 / fma,7:P0}");
                }
                Gemm.SmallWork = defaultSmall;
                Gemm.PackSmallStrips = true;
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
            case "cnnprofile" or "conv": // issue 22, the CNN step (AbConv.cs)
                serial.Dispose();
                return AbConv.Run(what, rounds);
            case "mlpprofile":
                MlpProfile(rounds);
                break;
            case "fusedchain":
                FusedChainAb.Run(rounds, rest);
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
            case "composites":
                Composites(rounds, rest.Length > 0 ? rest[0] : 1 << 20);
                break;
            case "scan":
                ScanAb(rounds, rest.Length > 0 ? rest[0] : 1024);
                break;
            case "f32":
                F32Kernels(rounds, rest.Length > 0 ? rest[0] : 1 << 20);
                break;
            case "scope":
                ScopeAb(rounds, rest.Length > 0 ? rest[0] : 1024);
                break;
            case "shape":
                ShapeAb(rounds, rest.Length > 0 ? rest[0] : 1024);
                break;
            case "lstsq":
                LstsqAb(rounds, rest.Length > 0 ? rest[0] : 256);
                break;
            case "activations":
                ActivationsAb(rounds, rest.Length > 0 ? rest[0] : 1 << 20);
                break;
            case "memtime":
                AbMemplan.MemTime(rounds);
                break;
            case "memmodel":
                AbMemplan.MemModel(rounds, rest.Length > 0 ? rest[0] : 20);
                break;
            case "looppeak":
                AbMemplan.LoopPeak(rounds, rest.Length > 0 ? rest[0] : 784);
                break;
            default:
                Console.Error.WriteLine($"ab: unknown comparison '{what}'; known: shape, lstm, decomp, spectral, prefetch, smallwork, colsouter, warmcurve, unary, composites, scan, smallstrip, smallpath, linalg, f32, fused, mlpprofile, fusedchain, cnnprofile, conv, scope, lstsq, activations, memtime, memmodel, looppeak");
                return 1;
        }
        return 0;
    }

    // ---- lstsq: QR-based least squares and the Cholesky / identity fixes of issue 17, session h-la2 (self-contained block) ----

    /// <summary>lstsq A/B, float32 n×n A and n right-hand sides (the op sweep's shape at n = 1024), no gradient: A = the
    /// pseudo-inverse path Lstsq took before (Pinv(a)·b: the SVD), B = Tensor.Lstsq (blocked Householder QR for full-rank
    /// systems). Also, as a plain timing of the new kernels (same code on both sides): the QR op and a batch of n/8 Cholesky
    /// factorizations of order n/8.</summary>
    private static void LstsqAb(int rounds, int n)
    {
        Console.WriteLine($"lstsq A/B (A: Pinv(a)·b, B: Tensor.Lstsq by QR), n = {n}, float32, one thread");
        var g = new Generator(17);
        var a = Tensor.Randn([n, n], DType.Float32, g);
        var b = Tensor.Randn([n, n], DType.Float32, g);
        int c = Math.Max(2, n / 8);
        var r = Tensor.Randn([c, c, c], DType.Float32, g);
        var spd = (r.MatMul(r.MT) / c + Tensor.Eye(c)).Contiguous();
        bool qr = false;
        using (Autograd.NoGrad())
            Compare(rounds,
                ("lstsq", () => { if (qr) Tensor.Lstsq(a, b); else Tensor.Pinv(a).MatMul(b); }),
                ("qr (same both)", () => Tensor.Qr(a)),
                ("cholesky batch (same both)", () => Tensor.Cholesky(spd)),
                on => qr = on);
    }

    // ---- scan: the scan and flip kernels of issue 16 (self-contained block) -------------------------------------------

    /// <summary>ab scan: float32 [n, n], one thread. A = the former kernels: a cumulative sum one row at a time (one
    /// running double sum), along dim 0 through a transposed copy, that row scan and a copy back into fresh arrays; a flip
    /// of both dims as one copy of the whole run then one reversal. B = Kernels.Scan's row scan (the same loop; an A/A check) and its
    /// lane scan in place (vectorized across the columns), and Strided.Copy's blocked reversed copy.</summary>
    private static void ScanAb(int rounds, int n)
    {
        Console.WriteLine($"scan A/B (A: former row-at-a-time scan, dim 0 via transposed copies, one-pass flip; B: Kernels.Scan rows and lanes, blocked flip), [{n}, {n}] float32, one thread");
        var x = Tensor.Randn([n, n], DType.Float32, new Generator(3)).ToArray<float>();
        var y = new float[n * n];
        bool b = false;
        int[] sh = [n, n], dense = [n, 1], transposed = [1, n], rev = [-n, -1];
        void OldRows(float[] src, float[] dst)
        {
            for (int r = 0; r < n; r++)
            {
                double acc = 0;
                var s = src.AsSpan(r * n, n);
                var d = dst.AsSpan(r * n, n);
                for (int i = 0; i < s.Length; i++) d[i] = (float)(acc += s[i]);
            }
        }
        Compare(rounds,
            [
                ("cumsum last", () => { if (b) Scan.CumSum(x, 0, n, n, y); else OldRows(x, y); }),
                ("cumsum dim 0", () =>
                {
                    if (b) { Scan.CumSumLanes(x, 0, 1, n, n, y); return; }
                    var t = new float[n * n];
                    Strided.Copy(x, 0, transposed, t, 0, dense, sh);
                    var u = new float[n * n];
                    OldRows(t, u);
                    Strided.Copy(u, 0, transposed, y, 0, dense, sh);
                }),
                ("flip both", () =>
                {
                    if (b) { Strided.Copy(x, n * n - 1, rev, y, 0, dense, sh); return; }
                    x.AsSpan().CopyTo(y);
                    y.AsSpan().Reverse();
                }),
            ],
            v => b = v);
    }

    // ---- scope: op-sweep runs without (A) and inside (B) a TensorScope (self-contained block) -------------------------

    /// <summary>ab scope: memory-bound ops of the op sweep on [n, n] float32, one thread, each run as OpsBench.Runner runs it:
    /// A = no scope (outputs and gradients reclaimed by the GC through the storage pool's leases: a gen-0 collection every
    /// few runs, arrays faulted in or cold), B = each run inside Tensor.NewScope() (they go back to the pool at the run's end
    /// and the next run rents the same arrays). Thread CPU time includes the gen-0 collections the allocating thread runs
    /// and its page faults. Also prints gen-0 collections and allocated bytes per run of each side.</summary>
    private static void ScopeAb(int rounds, int n)
    {
        Console.WriteLine($"scope A/B (A: no scope, B: each run inside Tensor.NewScope()), [{n}, {n}] float32, one thread");
        var g = new Generator(5);
        var x = Tensor.Randn([n, n], DType.Float32, g);
        var y = Tensor.Randn([n, n], DType.Float32, g);
        var lx = x.Detach().RequiresGrad_();
        var ly = y.Detach().RequiresGrad_();
        var ones = Tensor.OnesLike(x);
        bool scoped = false;
        (string, Action) Fwd(string name, Func<Tensor> f) => (name + " fwd", () =>
        {
            using var s = scoped ? Tensor.NewScope() : null;
            using (Autograd.NoGrad()) f();
        });
        (string, Action) FwdBwd(string name, Func<Tensor> f) => (name + " fwdbwd", () =>
        {
            using var s = scoped ? Tensor.NewScope() : null;
            f().Backward(ones);
            lx.Grad = null;
            ly.Grad = null;
        });
        (string Name, Action Run)[] ws =
        [
            Fwd("neg", () => x.Neg()), Fwd("abs", () => x.Abs()), Fwd("exp", () => x.Exp()), Fwd("mul", () => x * y),
            Fwd("add", () => x + y), Fwd("sigmoid", () => x.Sigmoid()),
            FwdBwd("neg", () => lx.Neg()), FwdBwd("abs", () => lx.Abs()), FwdBwd("exp", () => lx.Exp()), FwdBwd("mul", () => lx * ly),
            FwdBwd("add", () => lx + ly), FwdBwd("tanh", () => lx.Tanh()),
        ];
        Compare(rounds, ws, b => scoped = b);
        foreach (bool b in new[] { false, true })
        {
            scoped = b;
            const int runs = 50;
            foreach (var w in ws) w.Run();
            int g0 = GC.CollectionCount(0);
            long a0 = GC.GetAllocatedBytesForCurrentThread();
            foreach (var w in ws) for (int k = 0; k < runs; k++) w.Run();
            Console.WriteLine($"{(b ? "B" : "A")}: {(double)(GC.CollectionCount(0) - g0) / (runs * ws.Length):F3} gen-0 collections per run, " +
                $"{(double)(GC.GetAllocatedBytesForCurrentThread() - a0) / (runs * ws.Length) / 1024:F1} KB allocated per run (all workloads)");
        }
    }

    // ---- shape: direct eager kernels of composite shape/creation ops (issue 16 item 5; self-contained block) ----------

    /// <summary>ab shape: float32, one thread, nothing tracked. A = the compositions (Tensor.DirectForwards off; To through
    /// a double[] of every element, as before), B = the direct one-pass kernels. n = the side of the [n, n] outputs.</summary>
    private static void ShapeAb(int rounds, int n)
    {
        Console.WriteLine($"shape A/B (A: compositions, B: direct eager kernels), outputs [{n}, {n}] float32, one thread");
        var g = new Generator(5);
        Tensor x = Tensor.Randn([n, n], DType.Float32, g), a = Tensor.Randn([n], DType.Float32, g), b = Tensor.Randn([n], DType.Float32, g);
        Tensor v = Tensor.Randn([n], DType.Float32, g), row = Tensor.Randn([n], DType.Float32, g);
        bool direct = false;
        (string, Action) W(string name, Func<Tensor> f) => (name, () => f());
        Compare(rounds,
        [
            W("to f32->f64", () => direct ? x.To(DType.Float64) : Tensor.FromDoubles(x.ToDoubleArray(), x.ShapeArray, DType.Float64)),
            W("outer", () => Tensor.Outer(a, b)),
            W("addr", () => Tensor.Addr(x, a, b, 0.5, 2)),
            W("cartesian_prod", () => Tensor.CartesianProd(a, b)),
            W("diag_embed", () => v.DiagEmbed()),
            W("diag_scatter", () => x.DiagonalScatter(v)),
            W("select_scatter", () => x.SelectScatter(row, 0, n / 2)),
        ], bb => { direct = bb; Tensor.DirectForwards = bb; });
    }

    // ---- f32: float32 kernels in double lanes (A) against float32 lanes (B) ----
    private static void F32Kernels(int rounds, int n)
    {
        Console.WriteLine($"f32 A/B (A: float32 evaluated in double lanes / TensorPrimitives, B: float32 lanes, VecMath32), n = {n}, one thread");
        var g = new Generator(2);
        var x = (Tensor.Rand([n], DType.Float32, g) * 1.98 - 0.99).ToArray<float>();
        var y = new float[n];
        int reps = Math.Max(1, (1 << 20) / n);
        bool b32 = false;
        (string, Action) W<FA, FB>(string name) where FA : struct, IVecFunc where FB : struct, IVecFunc32 =>
            (name, () => { for (int r = 0; r < reps; r++) { if (b32) VecMath32.Map<FB>(x, y); else VecMath.Map<FA>(x, y); } });
        (string, Action) S<FB>(string name, SpanMap<float> a) where FB : struct, IVecFunc32 =>
            (name, () => { for (int r = 0; r < reps; r++) { if (b32) VecMath32.Map<FB>(x, y); else a(x, y); } });
        Compare(rounds,
        [
            S<VecMath32.ExpF>("exp", System.Numerics.Tensors.TensorPrimitives.Exp), S<VecMath32.TanhF>("tanh", Special.Tanh),
            S<VecMath32.SigmoidF>("sigmoid", System.Numerics.Tensors.TensorPrimitives.Sigmoid),
            W<VecMath.Exp2F, VecMath32.Exp2F>("exp2"), W<VecMath.Expm1F, VecMath32.Expm1F>("expm1"), W<VecMath.Log1pF, VecMath32.Log1pF>("log1p"),
            W<VecMath.SinhF, VecMath32.SinhF>("sinh"), W<VecMath.CoshF, VecMath32.CoshF>("cosh"), W<VecMath.AtanhF, VecMath32.AtanhF>("atanh"),
            W<VecMath.AtanF, VecMath32.AtanF>("atan"), W<VecMath.AsinF, VecMath32.AsinF>("asin"), W<VecMath.AcosF, VecMath32.AcosF>("acos"),
            W<VecMath.ErfF, VecMath32.ErfF>("erf"), W<VecMath.ErfcF, VecMath32.ErfcF>("erfc"), W<VecMath.ErfinvF, VecMath32.ErfinvF>("erfinv"),
            W<VecMath.GeluF, VecMath32.GeluF>("gelu"),
        ], b => b32 = b);
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

    /// <summary>The <c>ab composites</c> case (see the class summary): A the former tensor-op composites, B the fused entries.</summary>
    private static void Composites(int rounds, int n)
    {
        Console.WriteLine($"composites A/B (A: tensor-op composites, B: fused one-pass entries), n = {n}, float32, fwd+bwd, one thread");
        bool fused = false;
        var g = new Generator(3);
        Tensor x = Tensor.Randn([n], DType.Float32, g), a = Tensor.Randn([n], DType.Float32, g), b = Tensor.Randn([n], DType.Float32, g) + 3.0;
        var p = Tensor.Rand([n], DType.Float32, g);
        var sign = Tensor.Randn([n], DType.Float32, g).Sign();
        var xc = x.Reshape(n / 12, 3, 4);
        var w = Tensor.Rand([3], DType.Float32, g);
        void Bwd(Func<Tensor[], Tensor> f, params Tensor[] ins)
        {
            var xs = ins.Select(t => t.Detach().RequiresGrad_()).ToArray();
            var y = f(xs);
            Autograd.Grad([y.Rank == 0 ? y : y.Sum()], xs);
        }
        static Tensor Softplus(Tensor t) => t.Softplus(1, double.PositiveInfinity);
        (string, Action) W(string name, Func<Tensor[], Tensor> composite, Func<Tensor[], Tensor> one, params Tensor[] ins) =>
            (name, () => Bwd(fused ? one : composite, ins));
        Compare(rounds,
        [
            W("addcmul", t => t[0] + t[1] * 0.5 * t[2], t => t[0].Addcmul(t[1], t[2], 0.5), x, a, b),
            W("soft_margin", t => Softplus(-(t[1] * t[0])).Mean(), t => Losses.SoftMarginLoss(t[0], t[1]), x, sign),
            W("bce_logits", t => ((1.0 - t[1]) * t[0] + Softplus(-t[0])).Mean(), t => Losses.BceWithLogits(t[0], t[1]), x, p),
            W("kl_div", t => (Tensor.Where(t[1].Eq(0.0), 0.0, t[1] * Tensor.Where(t[1].Eq(0.0), 1.0, t[1]).Log()) - t[1] * t[0]).Mean(),
                t => Losses.KlDiv(t[0], t[1]), x, p),
            W("prelu", t => Tensor.Where(t[0].Gt(0.0), t[0], t[1].Reshape(3, 1) * t[0]), t => t[0].Prelu(t[1]), xc, w),
            ("randn", () =>
            {
                if (fused) { Tensor.Randn([n], DType.Float32, g); return; }
                var r = new float[n];
                for (int i = 0; i < n; i++) r[i] = (float)g.NextNormal();
                Tensor.FromArray(r, n);
            }),
        ], on => fused = on);
    }

    // ---- activations: the smooth nn activations, logit and (log-)softmax (issue 16/17, self-contained block) -----------

    /// <summary>ab activations: float32 [n], fwd+bwd (gradient of the sum), one thread. A = the tensor-op composites the
    /// entries were before (written out here; softmax and log-softmax: their tensor-op VJPs y·(g − Σ g·y) and g − e^y·Σ g, on
    /// [n/1024, 1024], taken with createGraph); B = the one-pass entries (one SIMD pass forward, one fused pass backward).</summary>
    private static void ActivationsAb(int rounds, int n)
    {
        Console.WriteLine($"activations A/B (A: tensor-op composites, B: one-pass entries), n = {n}, float32, fwd+bwd, one thread");
        bool fused = false;
        var g = new Generator(4);
        Tensor x = Tensor.Randn([n], DType.Float32, g), u = Tensor.Rand([n], DType.Float32, g) * 0.98 + 0.01;
        var rows = Tensor.Randn([Math.Max(1, n / 1024), Math.Min(n, 1024)], DType.Float32, g);
        void Bwd(Func<Tensor, Tensor> f, Tensor input)
        {
            var t = input.Detach().RequiresGrad_();
            Autograd.Grad([f(t).Sum()], [t]);
        }
        (string, Action) W(string name, Func<Tensor, Tensor> composite, Func<Tensor, Tensor> one, Tensor input) =>
            (name, () => Bwd(fused ? one : composite, input));
        // softmax: A = the op's tensor-op VJP (taken with createGraph), B = its fused first-order pass
        (string, Action) S(string name, Func<Tensor, Tensor> f) => (name, () =>
        {
            var t = rows.Detach().RequiresGrad_();
            Autograd.Grad([(f(t) * rows).Sum()], [t], createGraph: !fused);
        });
        Compare(rounds,
        [
            W("elu", t => Tensor.Where(t.Le(0.0), t.ClampMax(0.0).Expm1(), t), t => t.Elu(), x),
            W("celu", t => Tensor.Where(t.Le(0.0), 1.3 * (t.ClampMax(0.0) / 1.3).Expm1(), t), t => t.Celu(1.3), x),
            W("selu", t => Tensor.SeluScale * Tensor.Where(t.Le(0.0), Tensor.SeluAlpha * t.ClampMax(0.0).Expm1(), t), t => t.Selu(), x),
            W("silu", t => t * t.Sigmoid(), t => t.Silu(), x),
            W("mish", t => t * t.Softplus().Tanh(), t => t.Mish(), x),
            W("softsign", t => t / (t.Abs() + 1.0), t => t.Softsign(), x),
            W("tanhshrink", t => t - t.Tanh(), t => t.Tanhshrink(), x),
            W("logsigmoid", t => -(-t).Softplus(1, double.PositiveInfinity), t => t.LogSigmoid(), x),
            W("logit", t => (t / (1.0 - t)).Log(), t => t.Logit(), u),
            S("softmax", t => t.Softmax(-1)),
            S("log_softmax", t => t.LogSoftmax(-1)),
        ], on => fused = on);
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
