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
///   dotnet run -c Release --project bench/Fluxion.Micro -- ab unary [rounds] [n]
/// lstm: A = step by step (LstmCell per step), B = the fused LstmSequence op; the LSTM alone (forward + backward of a
/// weighted sum of its output) and the whole `fluxion bench lstm` training step. decomp: A = the unblocked LU, Cholesky,
/// Householder QR, B = the blocked ones (float64, one n×n matrix). unary: A = the former per-element kernels (Math.*,
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
        int[] rest = args.Length > 3 ? [.. args[3..].Select(int.Parse)] : [];
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
                Compare(rounds,
                    ("lu", () => { a.CopyTo(w, 0); Decomp.Lu(w, n, piv); }),
                    ("cholesky", () => { s.CopyTo(w, 0); Decomp.Cholesky(w, n); }),
                    ("qr", () => Decomp.Qr(a, n, n, q, r, complete: false)),
                    blocked => Decomp.Blocked = blocked);
                break;
            }
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
                Console.Error.WriteLine($"ab: unknown comparison '{what}'; known: lstm, decomp, unary");
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
}
