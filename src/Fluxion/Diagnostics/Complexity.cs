using System.Diagnostics;

namespace Fluxion;

/// <summary>The five ways of running the n-layer tanh network that the complexity analyzer compares.</summary>
public enum ComplexityCase
{
    /// <summary>Forward pass inside NoGrad: no graph. Memory O(b·d).</summary>
    Inference,
    /// <summary>Forward pass recording the graph (kept alive at the end). Memory O(n·b·d).</summary>
    ForwardWithGraph,
    /// <summary>Forward and backward, every W_i requiring grad. Memory O(n·b·d + n·d²).</summary>
    AllGradients,
    /// <summary>Forward and backward with only W_1 requiring grad. Memory O(n·b·d + d²).</summary>
    FirstLayerOnly,
    /// <summary>As <see cref="FirstLayerOnly"/>, with the chain checkpointed in √n segments. Memory O(√n·b·d + d²).</summary>
    Checkpointed,
}

/// <summary>The size parameter a sweep varies.</summary>
public enum SweepParameter
{
    /// <summary>Depth: number of layers.</summary>
    N,
    /// <summary>Batch size.</summary>
    B,
    /// <summary>Width.</summary>
    D,
}

/// <summary>A sweep: the values of one parameter and the fixed sizes of the other two.</summary>
/// <param name="Parameter">The swept parameter.</param>
/// <param name="Values">Its values.</param>
/// <param name="N">Depth when not swept.</param>
/// <param name="B">Batch when not swept.</param>
/// <param name="D">Width when not swept.</param>
public sealed record SweepConfig(SweepParameter Parameter, int[] Values, int N, int B, int D);

/// <summary>One measurement: a case at one size.</summary>
/// <param name="Case">Which computation.</param>
/// <param name="N">Depth.</param>
/// <param name="B">Batch.</param>
/// <param name="D">Width.</param>
/// <param name="PeakBytes">Peak tensor bytes allocated by the run beyond the weights and the input.</param>
/// <param name="MedianMs">Median wall time.</param>
public sealed record ComplexityPoint(ComplexityCase Case, int N, int B, int D, long PeakBytes, double MedianMs);

/// <summary>A fitted growth exponent for one case over one sweep, with the exponent the model predicts.</summary>
/// <param name="Case">Which computation.</param>
/// <param name="Parameter">Which size was swept.</param>
/// <param name="MemoryExponent">Fitted slope of log(peak bytes) against log(size).</param>
/// <param name="ExpectedMemoryExponent">Slope of the case's memory model (unit constants) fitted over the same sizes.</param>
/// <param name="TimeExponent">Fitted slope of log(time) against log(size).</param>
/// <param name="ExpectedTimeExponent">The model's time exponent: time is O(n·b·d²) in every case.</param>
/// <param name="Points">The measurements the fit used.</param>
public sealed record ComplexityFit(ComplexityCase Case, SweepParameter Parameter, double MemoryExponent, double ExpectedMemoryExponent,
    double TimeExponent, double ExpectedTimeExponent, IReadOnlyList<ComplexityPoint> Points);

/// <summary>
/// The complexity analyzer: runs the network z_i = W_i x_i, x_{i+1} = tanh(z_i) (W_i ∈ R^{d×d}, a
/// batch x ∈ R^{d×b}) in each <see cref="ComplexityCase"/>, sweeps n, b and d one at a time,
/// measures peak extra memory (<see cref="MemoryTracker"/>) and time, and fits each growth exponent by
/// log-log least squares. The expected memory exponent of a sweep is the slope of the case's
/// asymptotic formula (unit constants) fitted over the same sizes, so a sweep where two terms compete
/// (n·b·d against n·d²) expects the intermediate slope it really has.
/// </summary>
public static class Complexity
{
    /// <summary>The memory model of a case (unit constants), in elements.</summary>
    public static double MemoryModel(ComplexityCase c, double n, double b, double d) => c switch
    {
        ComplexityCase.Inference => b * d,
        ComplexityCase.ForwardWithGraph => n * b * d,
        ComplexityCase.AllGradients => n * b * d + n * d * d,
        ComplexityCase.FirstLayerOnly => n * b * d + d * d,
        ComplexityCase.Checkpointed => Math.Sqrt(n) * b * d + d * d,
        _ => throw new ArgumentOutOfRangeException(nameof(c)),
    };

    /// <summary>
    /// The sweeps of the analyzer. Each is chosen so that in every case one term of the memory model
    /// dominates over the whole range (n·b·d against n·d² or d²), so the fitted exponent measures that
    /// term's growth rather than where the two cross: n and b sweeps use b ≫ d, the d sweep d ≫ n·b.
    /// <paramref name="small"/> gives the sizes the tests use (a few seconds).
    /// </summary>
    public static SweepConfig[] DefaultSweeps(bool small = false) => small
        ?
        [
            new(SweepParameter.N, [4, 8, 16, 32, 64], 0, 256, 16),
            new(SweepParameter.B, [128, 256, 512, 1024, 2048], 16, 0, 16),
            new(SweepParameter.D, [64, 128, 256, 512], 4, 4, 0),
        ]
        :
        [
            new(SweepParameter.N, [4, 8, 16, 32, 64, 128], 0, 512, 32),
            new(SweepParameter.B, [256, 512, 1024, 2048, 4096], 16, 0, 32),
            new(SweepParameter.D, [64, 128, 256, 512, 1024], 4, 4, 0),
        ];

    /// <summary>Runs <paramref name="sweep"/> for one case and fits the exponents.</summary>
    public static ComplexityFit Sweep(ComplexityCase c, SweepConfig sweep, int timedRuns = 3) =>
        Sweep(c, sweep.Parameter, sweep.Values, sweep.N, sweep.B, sweep.D, timedRuns);

    /// <summary>The asymptotic memory formula of a case, for display.</summary>
    public static string MemoryFormula(ComplexityCase c) => c switch
    {
        ComplexityCase.Inference => "O(b d)",
        ComplexityCase.ForwardWithGraph => "O(n b d)",
        ComplexityCase.AllGradients => "O(n b d + n d^2)",
        ComplexityCase.FirstLayerOnly => "O(n b d + d^2)",
        ComplexityCase.Checkpointed => "O(sqrt(n) b d + d^2)",
        _ => "",
    };

    /// <summary>Measures one case at one size: peak extra memory, and median time over <paramref name="timedRuns"/> runs.</summary>
    public static ComplexityPoint Measure(ComplexityCase c, int n, int b, int d, int timedRuns = 3, int seed = 0)
    {
        var gen = new Generator(seed);
        double scale = 1 / Math.Sqrt(d);
        var ws = Enumerable.Range(0, n).Select(_ => Tensor.Randn([d, d], DType.Float32, gen) * scale).Select(w => w.Detach()).ToArray();
        var x = Tensor.Randn([d, b], DType.Float32, gen);
        for (int i = 0; i < n; i++)
            ws[i].RequiresGrad = c switch
            {
                ComplexityCase.Inference => false,
                ComplexityCase.FirstLayerOnly or ComplexityCase.Checkpointed => i == 0,
                _ => true,
            };

        object? Run()
        {
            switch (c)
            {
                case ComplexityCase.Inference:
                {
                    using var _ = Autograd.NoGrad();
                    var h = x;
                    foreach (var w in ws) h = w.MatMul(h).Tanh();
                    return h;
                }
                case ComplexityCase.ForwardWithGraph:
                {
                    var h = x;
                    foreach (var w in ws) h = w.MatMul(h).Tanh();
                    return h; // the caller keeps it alive, and with it the graph
                }
                case ComplexityCase.Checkpointed:
                {
                    var steps = ws.Select(w => (Func<Tensor, Tensor>)(h => w.MatMul(h).Tanh())).ToList();
                    Checkpoint.Sequential(steps, x).Sum().Backward();
                    return null;
                }
                default:
                {
                    var h = x;
                    foreach (var w in ws) h = w.MatMul(h).Tanh();
                    h.Sum().Backward();
                    return null;
                }
            }
        }

        void Reset()
        {
            foreach (var w in ws) w.Grad = null;
        }

        Run();
        Reset(); // warm-up (JIT)
        var (kept, report) = MemoryTracker.Measure(Run);
        GC.KeepAlive(kept);
        kept = null;
        Reset();
        var times = new double[Math.Max(1, timedRuns)];
        var sw = new Stopwatch();
        for (int r = 0; r < times.Length; r++)
        {
            sw.Restart();
            var o = Run();
            sw.Stop();
            GC.KeepAlive(o);
            Reset();
            times[r] = sw.Elapsed.TotalMilliseconds;
        }
        Array.Sort(times);
        return new ComplexityPoint(c, n, b, d, report.PeakBytes, times[times.Length / 2]);
    }

    /// <summary>Slope of the least-squares line through (log x, log y).</summary>
    public static double LogLogSlope(IReadOnlyList<double> xs, IReadOnlyList<double> ys)
    {
        int m = xs.Count;
        double mx = xs.Average(Math.Log), my = ys.Average(v => Math.Log(Math.Max(v, 1e-12)));
        double sxy = 0, sxx = 0;
        for (int i = 0; i < m; i++)
        {
            double dx = Math.Log(xs[i]) - mx;
            sxy += dx * (Math.Log(Math.Max(ys[i], 1e-12)) - my);
            sxx += dx * dx;
        }
        return sxy / sxx;
    }

    /// <summary>Sweeps one parameter over <paramref name="values"/> (the others fixed at n, b, d) for one case and fits the exponents.</summary>
    public static ComplexityFit Sweep(ComplexityCase c, SweepParameter p, IReadOnlyList<int> values, int n, int b, int d, int timedRuns = 3)
    {
        var pts = new List<ComplexityPoint>();
        foreach (var v in values)
        {
            var (nn, bb, dd) = p switch { SweepParameter.N => (v, b, d), SweepParameter.B => (n, v, d), _ => (n, b, v) };
            pts.Add(Measure(c, nn, bb, dd, timedRuns));
        }
        var xs = values.Select(v => (double)v).ToList();
        var model = pts.Select(q => MemoryModel(c, q.N, q.B, q.D)).ToList();
        double expectedTime = p == SweepParameter.D ? 2 : 1;
        return new ComplexityFit(c, p,
            LogLogSlope(xs, pts.Select(q => (double)q.PeakBytes).ToList()),
            LogLogSlope(xs, model),
            LogLogSlope(xs, pts.Select(q => q.MedianMs).ToList()),
            expectedTime, pts);
    }
}
