using Fluxion.Kernels;
using Fluxion.Nn;
using Fluxion.Optim;

namespace Fluxion.Micro;

/// <summary>
/// The CNN training step of <c>fluxion bench cnn</c> (issue 22) on one thread, thread CPU time (a Parallelism.Serial scope):
///   dotnet run -c Release --project bench/Fluxion.Micro -- ab cnnprofile [runs]   the step's kernels one by one at the CNN's
///     shapes (conv1 1→32 on 28², conv2 32→64 on 14², batch 64), the per-sample GEMMs alone, and the whole step: where the time goes
///   dotnet run -c Release --project bench/Fluxion.Micro -- ab conv [rounds]       A/B of the convolution kernels and the whole
///     step, A = <see cref="Conv.Variant"/> 0 and no AVX2 pooling (the paths before this change), B = the current default
/// Not a headline figure (see AbThreadCpu).
/// </summary>
internal static class AbConv
{
    private static readonly ConvGeom G1 = new(64, 1, 28, 28, 32, 1, 3, 3, 1, 1, 1, 1, 1, 1);
    private static readonly ConvGeom G2 = new(64, 32, 14, 14, 64, 1, 3, 3, 1, 1, 1, 1, 1, 1);

    /// <summary>Runs the <c>cnnprofile</c> or <c>conv</c> case.</summary>
    public static int Run(string what, int rounds)
    {
        using var serial = Parallelism.Serial();
        var k = new Kernels();
        if (what == "cnnprofile")
        {
            Console.WriteLine($"cnn step pieces, float32, one thread, thread CPU ms (median of {rounds}), load {Load()}");
            foreach (var (name, run) in k.Pieces().Append(("whole step", Step())))
                Console.WriteLine($"{name,-28}{Time(run, rounds),10:F3}");
            return 0;
        }
        int saved = Conv.Variant;
        Console.WriteLine($"conv A/B (A: Conv.Variant 0, B: Conv.Variant {saved}), CNN shapes, float32, one thread");
        var step = Step();
        Compare(rounds, [.. k.ConvPieces(), ("whole step", step)], b => { Conv.Variant = b ? saved : 0; Conv.PoolAvx2 = b; });
        Conv.Variant = saved;
        Conv.PoolAvx2 = true;
        return 0;
    }

    private static string Load() => File.ReadAllText("/proc/loadavg").Split(' ')[0];

    private static double Time(Action run, int n)
    {
        run();
        run();
        var t = new double[n];
        for (int i = 0; i < n; i++)
        {
            double t0 = AbThreadCpu.ThreadCpu();
            run();
            t[i] = AbThreadCpu.ThreadCpu() - t0;
        }
        Array.Sort(t);
        return t[n / 2] * 1e3;
    }

    private static void Compare(int rounds, (string Name, Action Run)[] ws, Action<bool> setB)
    {
        const int perRound = 5;
        var med = ws.Select(_ => (A: new List<double>(), B: new List<double>())).ToArray();
        var min = ws.Select(_ => new[] { double.MaxValue, double.MaxValue }).ToArray();
        foreach (bool b in new[] { false, true }) { setB(b); foreach (var w in ws) { w.Run(); w.Run(); } }
        for (int r = 0; r < rounds; r++)
            foreach (bool b in r % 2 == 0 ? new[] { false, true } : [true, false])
            {
                setB(b);
                for (int i = 0; i < ws.Length; i++)
                {
                    var t = new double[perRound];
                    for (int j = 0; j < perRound; j++)
                    {
                        double t0 = AbThreadCpu.ThreadCpu();
                        ws[i].Run();
                        t[j] = AbThreadCpu.ThreadCpu() - t0;
                    }
                    Array.Sort(t);
                    (b ? med[i].B : med[i].A).Add(t[perRound / 2]);
                    min[i][b ? 1 : 0] = Math.Min(min[i][b ? 1 : 0], t[0]);
                }
            }
        Console.WriteLine($"{"workload",-20}{"A ms",10}{"B ms",10}{"B/A",8}{"A min",10}{"B min",10}{"B/A min",8}   (thread CPU time: median of per-round medians, and minimum; {rounds} rounds of {perRound}, load {Load()})");
        for (int i = 0; i < ws.Length; i++)
        {
            var a = med[i].A.Order().ToArray();
            var bb = med[i].B.Order().ToArray();
            double ma = a[a.Length / 2] * 1e3, mb = bb[bb.Length / 2] * 1e3;
            Console.WriteLine($"{ws[i].Name,-20}{ma,10:F3}{mb,10:F3}{mb / ma,8:F3}{min[i][0] * 1e3,10:F3}{min[i][1] * 1e3,10:F3}{min[i][1] / min[i][0],8:F3}");
        }
    }

    /// <summary>The whole `bench cnn` step (zero grad, forward, loss, backward, Adam).</summary>
    private static Action Step()
    {
        Generator.ManualSeed(0);
        var model = new Sequential(
            new Conv2d(1, 32, 3, padding: 1), new ReLU(), new MaxPool2d(2),
            new Conv2d(32, 64, 3, padding: 1), new ReLU(), new MaxPool2d(2),
            new Flatten(), new Linear(64 * 7 * 7, 128), new ReLU(), new Linear(128, 10));
        var opt = new Adam(model.Parameters(), lr: 1e-3);
        var x = Tensor.Randn(64, 1, 28, 28);
        var y = Tensor.RandInt(0, 10, [64]);
        return () =>
        {
            opt.ZeroGrad();
            Losses.CrossEntropy(model.Forward(x), y).Backward();
            opt.Step();
        };
    }

    /// <summary>Buffers of the CNN's two convolutions and poolings.</summary>
    private sealed class Kernels
    {
        private readonly float[] x1, w1, b1, y1, p1, w2, b2, y2, p2, gy2, gp2, gy1, dx2, dw2, dw1, db, gp1;
        private readonly int[] i1, i2;
        private readonly float[] cols = new float[288 * 196];
        private readonly PoolGeom pg1 = new(28, 28, 14, 14, 2, 2, 2, 2, 0, 0, 1, 1), pg2 = new(14, 14, 7, 7, 2, 2, 2, 2, 0, 0, 1, 1);

        public Kernels()
        {
            var g = new Generator(5);
            float[] R(int n) => Tensor.Randn([n], DType.Float32, g).ToArray<float>();
            x1 = R(64 * 28 * 28);
            w1 = R(32 * 9);
            b1 = R(32);
            y1 = new float[64 * 32 * 784];
            p1 = new float[64 * 32 * 196];
            i1 = new int[p1.Length];
            w2 = R(64 * 288);
            b2 = R(64);
            y2 = new float[64 * 64 * 196];
            p2 = new float[64 * 64 * 49];
            i2 = new int[p2.Length];
            gy2 = R(y2.Length);
            gp2 = R(p2.Length);
            gy1 = R(y1.Length);
            gp1 = R(p1.Length);
            dx2 = new float[p1.Length];
            dw2 = new float[w2.Length];
            dw1 = new float[w1.Length];
            db = new float[64];
            Conv.Forward(x1, 0, w1, 0, b1, 0, y1, G1, relu: true);
            Conv.MaxPool(y1, 0, p1, i1, 64 * 32, pg1);
            Conv.Forward(p1, 0, w2, 0, b2, 0, y2, G2, relu: true);
            Conv.MaxPool(y2, 0, p2, i2, 64 * 64, pg2);
        }

        /// <summary>The convolution kernels (what <c>ab conv</c> compares).</summary>
        public IEnumerable<(string, Action)> ConvPieces() =>
        [
            ("conv1 fwd+relu", () => Conv.Forward(x1, 0, w1, 0, b1, 0, y1, G1, relu: true)),
            ("conv2 fwd+relu", () => Conv.Forward(p1, 0, w2, 0, b2, 0, y2, G2, relu: true)),
            ("conv2 dW", () => Conv.WeightGrad(p1, 0, gy2, 0, dw2, G2)),
            ("conv2 dX", () => Conv.InputGrad(gy2, 0, w2, 0, dx2, G2)),
            ("conv1 dW", () => Conv.WeightGrad(x1, 0, gy1, 0, dw1, G1)),
            ("conv2 im2col x64", () =>
            {
                for (int n = 0; n < 64; n++) Conv.Im2Col<float>(p1, n * 32 * 196, cols, 0, 196, 32, G2);
            }),
            ("conv2 col2im x64", () =>
            {
                for (int n = 0; n < 64; n++) Conv.Col2Im<float>(cols, 0, 196, dx2, n * 32 * 196, 32, G2, clobber: true);
            }),
            ("pool1", () => Conv.MaxPool(y1, 0, p1, i1, 64 * 32, pg1)),
            ("pool2", () => Conv.MaxPool(y2, 0, p2, i2, 64 * 64, pg2)),
        ];

        /// <summary>Every kernel of the step's convolutional part, and the per-sample GEMMs of conv2 alone.</summary>
        public IEnumerable<(string, Action)> Pieces()
        {
            foreach (var p in ConvPieces()) yield return p;
            yield return ("pool2 scatter", () => Conv.MaxPoolScatter(gp2, 0, i2, gy2, 64 * 64, 196, 49));
            yield return ("pool1 scatter", () => Conv.MaxPoolScatter(gp1, 0, i1, gy1, 64 * 32, 784, 196));
            yield return ("conv2 db", () => Conv.BiasGrad(gy2, 0, db, 64, 64, 196));
            yield return ("conv1 db", () => Conv.BiasGrad(gy1, 0, db, 64, 32, 784));
            var c = new float[288 * 196];
            yield return ("gemm 64x288x196 x64", () =>
            {
                for (int n = 0; n < 64; n++) Gemm.MatMul(w2, 0, cols, 0, y2, n * 64 * 196, 64, 288, 196);
            });
            yield return ("gemm aT 288x64x196 x64", () =>
            {
                for (int n = 0; n < 64; n++) Gemm.MatMul(w2, 0, 1, 288, gy2, n * 64 * 196, 196, 1, c, 0, 288, 64, 196);
            });
            yield return ("gemm bT 64x196x288 x64", () =>
            {
                for (int n = 0; n < 64; n++) Gemm.MatMul(gy2, n * 64 * 196, 196, 1, cols, 0, 1, 196, dw2, 0, 64, 196, 288, accumulate: true);
            });
        }
    }
}
