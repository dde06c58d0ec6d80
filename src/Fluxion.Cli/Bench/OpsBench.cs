using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Fluxion.Cli.Bench;

/// <summary>Whether a case of the op sweep times the forward pass alone or forward plus backward.</summary>
public enum OpsBenchMode
{
    /// <summary>The op's forward call.</summary>
    Forward,
    /// <summary>The forward call, then backward of the output against a ones gradient (gradients for every input).</summary>
    ForwardBackward,
}

/// <summary>One case of the op sweep: an op at one size, its inputs and the calls timed.</summary>
/// <param name="Torch">The op's PyTorch name (as in ops-target.tsv; <c>name:FluxionName</c> for a second entry of the same
/// PyTorch name); the case is named <c>ops/&lt;torch&gt;/&lt;size&gt;/&lt;fwd|fwdbwd&gt;</c>.</param>
/// <param name="Op">Fluxion's name of the op.</param>
/// <param name="Size">The sweep size (1024 or 32: inputs are scaled so the largest tensor has about size² elements).</param>
/// <param name="Label">The registry sample the inputs were scaled from.</param>
/// <param name="Inputs">The scaled inputs.</param>
/// <param name="Call">The op's call (from the registry sample).</param>
/// <param name="Differentiable">Whether forward plus backward is timed too.</param>
/// <param name="Pools">Per input, the sample values its elements were drawn from (so other frameworks can draw alike).</param>
/// <param name="Kind">Per input, how it was built: "draw" (elements drawn from the pool), "spd" (symmetric positive
/// definite: R·Rᵀ/n + I) or "dominant" (drawn, plus n·mean|pool| on the diagonal).</param>
/// <param name="AbsSum">Σ|y| of the forward output on these inputs (the other sides compute it too: a check that they make the same call).</param>
public sealed record OpsBenchCase(string Torch, string Op, int Size, string Label, Tensor[] Inputs, Func<Tensor[], Tensor> Call,
    bool Differentiable, double[][] Pools, string[] Kind, double AbsSum)
{
    /// <summary>The workload name for <paramref name="mode"/>.</summary>
    public string Name(OpsBenchMode mode) => $"ops/{Torch}/{Size}/{(mode == OpsBenchMode.Forward ? "fwd" : "fwdbwd")}";

    /// <summary>The input shapes as "[a,b];[c]".</summary>
    public string Shapes => string.Join(";", Inputs.Select(t => "[" + string.Join(",", t.ShapeArray) + "]"));
}

/// <summary>
/// <c>fluxion bench ops</c>: every op of the registry (the list <c>fluxion ops</c> prints) that has a PyTorch name and
/// sample inputs, on inputs scaled from its registry sample so the largest tensor (input or output) has about
/// 1024×1024 elements, and about 32×32, in float32 (float64 for float64-only ops); forward, and forward plus backward
/// where the op is differentiable.
/// <para>Inputs: non-differentiable elementwise ops, comparisons and predicates the registry gives no samples run on
/// [size, size] inputs with a bench-only call (argmax/argmin/argsort along dim 1, all/any/count_nonzero/nonzero over all).
/// Otherwise the sample with the most elements (preferring "2-d" / "same shape" / "square"; never empty, 0-d or
/// non-contiguous ones) is scaled by mapping every dim size &gt;= 2 of its inputs to T = size^(2/r), r being the
/// number of such dims of its input with the most (or of its output, when that has more: an outer product) (so [3, 4] becomes [1024, 1024] and a matmul stays a matmul); NN ops scale
/// the batch dim only (so conv kernels keep their size). Elements are drawn from the sample's own values (its domain);
/// linear-algebra ops get a symmetric positive-definite matrix where the sample was symmetric, else a diagonally dominant one.
/// Ops whose call does not accept the scaled inputs, or that have no PyTorch name or no samples, are listed as skipped
/// with the reason (on stderr).</para>
/// <para>Timing: a JIT warm-up of <see cref="BenchOptions.WarmupSeconds"/> (3 s by default) runs every case at size 32 in
/// turn (whatever sizes are measured); then each case warms up for <see cref="CaseWarmupSeconds"/> s (at least one run) and
/// is measured for up to the requested runs or <see cref="CaseMeasureSeconds"/> s (at least three runs). With about 1,200
/// workloads per side this keeps the three-way sweep of bench/compare.sh near 15 minutes on 2 cores; bench/torch/ops.py
/// and bench/torchsharp time alike.</para>
/// <para>One source of truth for the three sides: <see cref="WriteSpec"/> prints every case with its inputs (identical on
/// every side: <see cref="PoolIndex"/>) and its PyTorch call (<see cref="TorchCall"/>); the other sides only interpret it,
/// and the forward output's Σ|y| (abs_sum) checks that they made the same call.</para>
/// </summary>
public static class OpsBench
{
    /// <summary>Per-case warm-up (seconds; at least one run).</summary>
    public const double CaseWarmupSeconds = 0.05;

    /// <summary>Per-case measurement time box (seconds; at least three runs).</summary>
    public const double CaseMeasureSeconds = 0.15;

    /// <summary>Only ops whose PyTorch or Fluxion name contains one of these comma-separated substrings
    /// (case-insensitive); null for all.</summary>
    public static string? Filter { get; set; }

    /// <summary>The default sizes: 1024 and 32.</summary>
    public static IReadOnlyList<int> DefaultSizes { get; } = [1024, 32];

    /// <summary>The sizes swept (default <see cref="DefaultSizes"/>).</summary>
    public static IReadOnlyList<int> Sizes { get; set; } = DefaultSizes;

    /// <summary>Where skipped cases are listed (default stderr).</summary>
    public static TextWriter Skipped { get; set; } = Console.Error;

    /// <summary>The <c>ops</c> suite as plain workloads (no time boxes: <c>fluxion bench ops</c> runs <see cref="Run"/>).</summary>
    public static IEnumerable<Workload> Workloads()
    {
        foreach (int size in Sizes)
            foreach (var c in Cases(size, report: true))
            {
                yield return new Workload(c.Name(OpsBenchMode.Forward), Runner(c, OpsBenchMode.Forward), _ => Fields(c));
                if (c.Differentiable) yield return new Workload(c.Name(OpsBenchMode.ForwardBackward), Runner(c, OpsBenchMode.ForwardBackward), _ => Fields(c));
            }
    }

    /// <summary>Runs the sweep (see the class remarks) and prints one line per case, as the other suites
    /// (<see cref="BenchRunner.JsonLine"/>); <paramref name="o"/> gives the global warm-up time (its WarmupSeconds), the
    /// maximum runs per case and the output form.</summary>
    public static void Run(BenchOptions o, TextWriter stdout)
    {
        var warm = Cases(32, report: false).ToList();
        var sw = Stopwatch.StartNew();
        do
            foreach (var c in warm)
            {
                RunOnce(c, OpsBenchMode.Forward);
                if (c.Differentiable) RunOnce(c, OpsBenchMode.ForwardBackward);
            }
        while (sw.Elapsed.TotalSeconds < o.WarmupSeconds && warm.Count > 0);
        warm.Clear();
        var skippedOut = Skipped;
        if (o.Json) Skipped = new SkipLines(stdout, skippedOut);
        try
        {
            MeasureAll(o, stdout);
        }
        finally
        {
            Skipped = skippedOut;
        }
    }

    /// <summary>Writes each "skipped ops/&lt;torch&gt;/&lt;size&gt;: reason" line as a JSON line
    /// <c>{"name": "ops/&lt;torch&gt;/&lt;size&gt;/fwd", "skipped": reason}</c> to stdout (so bench/compare.sh's table
    /// shows the reason) and as text to the usual writer.</summary>
    private sealed class SkipLines(TextWriter json, TextWriter text) : StringWriter
    {
        public override void WriteLine(string? value)
        {
            text.WriteLine(value);
            if (value is null || !value.StartsWith("skipped ", StringComparison.Ordinal)) return;
            int colon = value.IndexOf(": ", StringComparison.Ordinal);
            if (colon < 0) return;
            json.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["name"] = value["skipped ".Length..colon] + "/fwd",
                ["skipped"] = value[(colon + 2)..],
            }));
        }
    }

    private static void MeasureAll(BenchOptions o, TextWriter stdout)
    {
        foreach (int size in Sizes)
            foreach (var c in Cases(size, report: true))
                foreach (var mode in c.Differentiable ? new[] { OpsBenchMode.Forward, OpsBenchMode.ForwardBackward } : [OpsBenchMode.Forward])
                {
                    var r = Measure(c.Name(mode), Runner(c, mode), o.Runs, o.TensorPeak, out double faults);
                    var fields = new Dictionary<string, object>();
                    if (r.PeakBytes >= 0) fields["peak_bytes"] = r.PeakBytes;
                    if (faults >= 0) fields["minflt_per_run"] = Math.Round(faults, 1);
                    foreach (var (k, v) in Fields(c)) fields[k] = v;
                    fields["scoped"] = Scoped;
                    if (mode == OpsBenchMode.Forward && TorchCall.CallText(c.Torch, c.Inputs.Length, out _, out bool check) is var _ && check)
                        fields["abs_sum"] = JsonNumber(c.AbsSum);
                    stdout.WriteLine(o.Json ? BenchRunner.JsonLine(r, fields) : BenchRunner.TableLine(r, fields));
                    stdout.Flush();
                }
    }

    private static Dictionary<string, object> Fields(OpsBenchCase c) => new()
    {
        ["op"] = c.Op,
        ["shapes"] = c.Shapes,
        ["dtype"] = c.Inputs[0].DType.Name(),
    };

    /// <summary>One time-boxed case: warm-up runs for <see cref="CaseWarmupSeconds"/> (at least one), then up to
    /// <paramref name="maxRuns"/> timed runs, stopping after <see cref="CaseMeasureSeconds"/> once three are done.
    /// <paramref name="faultsPerRun"/>: the process's minor page faults per timed run (fresh memory touched: arrays not
    /// reused), -1 where /proc/self/stat is unreadable.</summary>
    private static BenchResult Measure(string name, Action run, int maxRuns, bool tensorPeak, out double faultsPerRun)
    {
        var warm = Stopwatch.StartNew();
        do run(); while (warm.Elapsed.TotalSeconds < CaseWarmupSeconds);
        var times = new List<double>();
        long f0 = MinorFaults();
        long a0 = GC.GetAllocatedBytesForCurrentThread();
        int g0 = GC.CollectionCount(0), g1 = GC.CollectionCount(1), g2 = GC.CollectionCount(2);
        var box = Stopwatch.StartNew();
        var sw = new Stopwatch();
        while (times.Count < Math.Max(1, maxRuns) && (times.Count < Math.Min(3, maxRuns) || box.Elapsed.TotalSeconds < CaseMeasureSeconds))
        {
            sw.Restart();
            run();
            sw.Stop();
            times.Add(sw.Elapsed.TotalMilliseconds);
        }
        int n = times.Count;
        double alloc = (double)(GC.GetAllocatedBytesForCurrentThread() - a0) / n;
        long f1 = MinorFaults();
        faultsPerRun = f0 < 0 || f1 < 0 ? -1 : (double)(f1 - f0) / n;
        double r0 = (double)(GC.CollectionCount(0) - g0) / n, r1 = (double)(GC.CollectionCount(1) - g1) / n, r2 = (double)(GC.CollectionCount(2) - g2) / n;
        var t = times.ToArray();
        Array.Sort(t);
        long peak = tensorPeak ? MemoryTracker.Measure(run).PeakBytes : -1;
        return new BenchResult(name, BenchRunner.Median(t), t[0], t[^1], n, alloc, r0, r1, r2, peak);
    }

    /// <summary>The process's minor page faults so far (field 10 of /proc/self/stat), or -1.</summary>
    private static long MinorFaults()
    {
        try
        {
            var stat = File.ReadAllText("/proc/self/stat");
            var rest = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(rest[7], System.Globalization.CultureInfo.InvariantCulture); // fields from 3 on: minflt is field 10
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            return -1;
        }
    }

    private static void RunOnce(OpsBenchCase c, OpsBenchMode mode) => Runner(c, mode)();

    /// <summary>Whether each run is wrapped in a <see cref="TensorScope"/> (the default; <c>--no-scope</c> turns it off).</summary>
    public static bool Scoped { get; set; } = true;

    /// <summary>One timed repetition: the call, or the call and its backward (input gradients cleared after).
    /// <para>With <see cref="Scoped"/> (the default) each repetition runs inside <see cref="Tensor.NewScope"/>, as the
    /// LibTorch side runs each one inside <c>torch.NewDisposeScope()</c> (bench/torchsharp/Harness.cs): the run's outputs
    /// and gradients go back to the storage pool at its end, so the next run reuses the same cache-warm arrays instead of
    /// waiting for a collection to find them dead. Without it (<c>--no-scope</c>) they are reclaimed by the GC (the storage
    /// pool's leases), as in a program that opens no scope.</para></summary>
    public static Action Runner(OpsBenchCase c, OpsBenchMode mode)
    {
        bool scoped = Scoped;
        if (mode == OpsBenchMode.Forward)
            return () =>
            {
                using var scope = scoped ? Tensor.NewScope("ops bench run") : null;
                using (Autograd.NoGrad()) c.Call(c.Inputs);
            };
        Tensor[] leaves = [.. c.Inputs.Select(t => t.Detach().RequiresGrad_())];
        Tensor? ones = null;
        return () =>
        {
            using var scope = scoped ? Tensor.NewScope("ops bench run") : null;
            var y = c.Call(leaves);
            if (ones is null)
            {
                ones = Tensor.OnesLike(y);
                scope?.Keep(ones); // reused by every run
            }
            y.Backward(ones);
            foreach (var t in leaves) t.Grad = null; // back to the scope: released at its end
        };
    }

    /// <summary>Whether one --filter part selects <paramref name="name"/>: a substring (case-insensitive), or with a
    /// leading '=' the whole name (so "=t" selects t alone, not every op whose name contains a t).</summary>
    private static bool FilterMatches(string part, string name) =>
        part.StartsWith('=') ? name.Equals(part[1..], StringComparison.OrdinalIgnoreCase) : name.Contains(part, StringComparison.OrdinalIgnoreCase);

    /// <summary>The cases at <paramref name="size"/>, in registry order; skipped ops are listed on <see cref="Skipped"/>
    /// when <paramref name="report"/>.</summary>
    public static IEnumerable<OpsBenchCase> Cases(int size, bool report)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var op in OpCatalog.All)
        {
            string torch = op.Torch.Length > 0 ? op.Torch[0] : op.Name;
            // a second entry with the same PyTorch name (pow and its scalar-exponent form) is named torch:Op
            if (!seen.Add(torch)) torch = $"{torch}:{op.Name}";
            if (Filter is { } f && !f.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Any(p =>
                    FilterMatches(p, op.Name) || op.Torch.Any(t => FilterMatches(p, t)))) continue;
            string? reason = null;
            OpsBenchCase? c = null;
            if (op.Torch.Length == 0) reason = "no PyTorch name (an internal op)";
            else
            {
                try { c = Build(op, torch, size, out reason); }
                catch (Exception e) { reason = Reason(e); }
            }
            if (c is null)
            {
                if (report) Skipped.WriteLine($"skipped ops/{torch}/{size}: {reason}");
                continue;
            }
            yield return c;
        }
    }

    private static string Reason(Exception e)
    {
        var msg = e.Message.Split('\n')[0];
        if (msg.Length > 200) msg = msg[..200] + "...";
        return $"its sample call does not run on the scaled inputs ({e.GetType().Name}: {msg})";
    }

    private static readonly string[] Preferred = ["2-d", "same shape", "square"];
    private static readonly string[] Avoided = ["empty", "0-d", "noncontiguous", "non-contiguous", "transposed", "strided"];

    /// <summary>Calls of the non-differentiable ops the registry gives no samples (its samples feed the gradient sweep), on
    /// [size, size] inputs drawn from <see cref="NoSamplePool"/> (so equalities and zeros occur): Fluxion name → (inputs, call).</summary>
    private static readonly Dictionary<string, (int Arity, Func<Tensor[], Tensor> Call)> NoSampleCalls = new()
    {
        ["Eq"] = (2, t => t[0].Eq(t[1])), ["Ne"] = (2, t => t[0].Ne(t[1])), ["Lt"] = (2, t => t[0].Lt(t[1])),
        ["Le"] = (2, t => t[0].Le(t[1])), ["Gt"] = (2, t => t[0].Gt(t[1])), ["Ge"] = (2, t => t[0].Ge(t[1])),
        ["LogicalAnd"] = (2, t => t[0].LogicalAnd(t[1])), ["LogicalOr"] = (2, t => t[0].LogicalOr(t[1])),
        ["LogicalXor"] = (2, t => t[0].LogicalXor(t[1])), ["LogicalNot"] = (1, t => t[0].LogicalNot()),
        ["FloorDivide"] = (2, t => t[0].FloorDivide(t[1])), ["Heaviside"] = (2, t => t[0].Heaviside(t[1])),
        ["IsClose"] = (2, t => t[0].IsClose(t[1])), ["IsFinite"] = (1, t => t[0].IsFinite()), ["IsInf"] = (1, t => t[0].IsInf()),
        ["IsNan"] = (1, t => t[0].IsNan()), ["IsNegInf"] = (1, t => t[0].IsNegInf()), ["IsPosInf"] = (1, t => t[0].IsPosInf()),
        ["Signbit"] = (1, t => t[0].Signbit()), ["All"] = (1, t => t[0].All()), ["Any"] = (1, t => t[0].Any()),
        ["ArgMax"] = (1, t => t[0].ArgMax(1)), ["ArgMin"] = (1, t => t[0].ArgMin(1)), ["Argsort"] = (1, t => t[0].Argsort(1)),
        ["CountNonzero"] = (1, t => t[0].CountNonzero()), ["Nonzero"] = (1, t => t[0].Nonzero()),
        ["ZerosLike"] = (1, t => Tensor.ZerosLike(t[0])), ["OnesLike"] = (1, t => Tensor.OnesLike(t[0])),
        ["FullLike"] = (1, t => Tensor.FullLike(t[0], 2.5)), ["RandLike"] = (1, t => Tensor.RandLike(t[0])),
        ["RandnLike"] = (1, t => Tensor.RandnLike(t[0])),
        ["Equal"] = (2, t => Tensor.Scalar(t[0].Equal(t[1]) ? 1.0 : 0.0)), ["AllClose"] = (2, t => Tensor.Scalar(t[0].AllClose(t[1]) ? 1.0 : 0.0)),
        ["IsIn"] = (2, t => t[0].IsIn(t[1])), ["Histc"] = (1, t => t[0].Histc()),
        ["Unique"] = (1, t => t[0].Unique().Values), ["UniqueConsecutive"] = (1, t => t[0].UniqueConsecutive().Values),
        ["MatrixRank"] = (1, t => Tensor.MatrixRank(t[0])),
    };

    /// <summary>The values the inputs of <see cref="NoSampleCalls"/> are drawn from.</summary>
    private static readonly double[] NoSamplePool = [-2, -1.5, -1, -0.5, 0, 0.25, 0.5, 1, 1.5, 2];

    private static OpsBenchCase? Build(OpInfo op, string torch, int size, out string? reason)
    {
        reason = null;
        if (NoSampleCalls.TryGetValue(op.Name, out var fallback))
        {
            var xs = Enumerable.Range(0, fallback.Arity).Select(i => Draw(NoSamplePool, [size, size], DType.Float32, i)).ToArray();
            return new OpsBenchCase(torch, op.Name, size, "[size, size] (bench)", xs, fallback.Call, false,
                [.. xs.Select(_ => NoSamplePool)], [.. xs.Select(_ => "draw")], AbsSum(fallback.Call(xs)));
        }
        var samples = OpCatalog.SampleCalls(op.Name)
            .Where(s => s.Inputs.Length > 0 && s.Inputs.All(t => t.Numel > 0) && !Avoided.Any(a => s.Label.Contains(a, StringComparison.OrdinalIgnoreCase)))
            .ToList();
        if (samples.Count == 0)
        {
            reason = OpCatalog.SampleCalls(op.Name).Count == 0 ? "no sample inputs in the registry" : "no sample with non-empty tensor inputs";
            return null;
        }
        var s = samples.FirstOrDefault(x => Preferred.Contains(x.Label)) ?? samples.MaxBy(x => x.Inputs.Sum(t => (long)t.Numel))!;
        var dtype = op.DTypes.HasFlag(DTypeSet.Float32) ? DType.Float32 : DType.Float64;
        var small = s.Call(s.Inputs);
        var pools = s.Inputs.Select(t => t.ToDoubleArray().Distinct().ToArray()).ToArray();
        var kinds = new string[s.Inputs.Length];
        var shapes = ScaledShapes(op, s.Inputs, small, size);
        var inputs = new Tensor[s.Inputs.Length];
        for (int i = 0; i < inputs.Length; i++)
        {
            inputs[i] = Draw(pools[i], shapes[i], dtype, i);
            kinds[i] = "draw";
            var x = s.Inputs[i];
            if (op.Family == OpFamily.Linalg && x.Rank >= 2 && x.ShapeArray[^1] == x.ShapeArray[^2] && shapes[i][^1] == shapes[i][^2])
            {
                int n = shapes[i][^1];
                var eye = Tensor.Eye(n, dtype: dtype);
                bool symmetric = (x - x.MT).Abs().Max().Item<double>() <= 1e-12 * (1 + x.Abs().Max().Item<double>());
                if (symmetric)
                {
                    inputs[i] = (inputs[i].MatMul(inputs[i].MT) / n + eye).Contiguous();
                    kinds[i] = "spd";
                }
                else
                {
                    inputs[i] = (inputs[i] + eye * (n * pools[i].Average(Math.Abs))).Contiguous();
                    kinds[i] = "dominant";
                }
            }
        }
        var y = s.Call(inputs); // fails here when the call's attributes do not fit the scaled shapes
        if (y.Numel > 64L * size * size)
        {
            reason = $"the output [{string.Join(",", y.ShapeArray)}] is far larger than size² elements";
            return null;
        }
        bool diff = op.Differentiable && op.Vjp && y.DType.IsFloatingPoint();
        return new OpsBenchCase(torch, op.Name, size, s.Label, inputs, s.Call, diff, pools, kinds, AbsSum(y));
    }

    /// <summary>The scaled shapes of the sample's inputs (see the class summary).</summary>
    private static int[][] ScaledShapes(OpInfo op, Tensor[] inputs, Tensor output, int size)
    {
        long target = (long)size * size;
        if (op.Family == OpFamily.NN)
        {
            // the batch dim only: kernels, channels and attributes keep their sizes
            var first = inputs[0];
            int b0 = first.Rank > 0 ? first.ShapeArray[0] : 1;
            long per = Math.Max(1, first.Numel / Math.Max(1, b0));
            int nb = (int)Math.Max(1, target / per);
            return [.. inputs.Select(t => t.Rank > 0 && t.ShapeArray[0] == b0 && t.Rank == first.Rank ? [nb, .. t.ShapeArray[1..]] : t.ShapeArray)];
        }
        // the tensor with the most dims >= 2 (ties: the most elements) sets T; the output counts only when it has more
        // such dims than every input (an outer product), not when it is a flattened summary (e.g. a 1-d gauge of an SVD)
        static int Dims(Tensor t) => t.ShapeArray.Count(d => d >= 2);
        var largest = inputs.MaxBy(t => (Dims(t), t.Numel))!;
        if (Dims(output) > Dims(largest)) largest = output;
        int r = Math.Max(1, Dims(largest));
        int T = Math.Max(2, (int)Math.Round(Math.Pow(target, 1.0 / r)));
        return [.. inputs.Select(t => t.ShapeArray.Select(d => d >= 2 ? T : d).ToArray())];
    }

    /// <summary>A double as JSON takes it: the number, or "inf", "-inf", "nan" as a string.</summary>
    private static JsonNode JsonNumber(double v) =>
        double.IsFinite(v) ? v : double.IsNaN(v) ? "nan" : v > 0 ? "inf" : "-inf";

    /// <summary>Σ|y| in float64 (a value the other sides compare theirs with).</summary>
    private static double AbsSum(Tensor y) => y.ToDoubleArray().Sum(Math.Abs);

    /// <summary>Which element of the pool element <paramref name="j"/> of input <paramref name="input"/> takes: a hash
    /// every side computes alike in 64-bit integers without overflow, so the three sides get the same inputs:
    /// a = ((j + 1)·48271 + (input + 1)·16807) mod M, b = a² mod M, c = b² mod M, index = c mod n (M = 2³¹ − 1).</summary>
    public static int PoolIndex(long j, int input, int n)
    {
        const long M = 2147483647;
        long a = ((j + 1) * 48271 + (input + 1) * 16807L) % M;
        long b = a * a % M;
        long c = b * b % M;
        return (int)(c % n);
    }

    private static Tensor Draw(double[] pool, int[] shape, DType dtype, int input)
    {
        int n = shape.Aggregate(1, (a, b) => a * b);
        if (dtype == DType.Float32)
        {
            var v = new float[n];
            for (int i = 0; i < n; i++) v[i] = (float)pool[PoolIndex(i, input, pool.Length)];
            return shape.Length == 0 ? Tensor.Scalar(v[0], dtype) : Tensor.FromArray(v, shape);
        }
        var d = new double[n];
        for (int i = 0; i < n; i++) d[i] = pool[PoolIndex(i, input, pool.Length)];
        return shape.Length == 0 ? Tensor.Scalar(d[0], dtype) : Tensor.FromArray(d, shape);
    }

    /// <summary>The cases as JSON lines, everything the other sides (bench/torch/ops.py, bench/torchsharp's OpsSuite) need
    /// to make the identical call: torch (the PyTorch name; workload ops/&lt;torch&gt;/&lt;size&gt;/fwd|fwdbwd), op, family,
    /// size, sample, dtype, shapes, per input its kind ("draw", "spd", "dominant") and value pool (element j of input i
    /// is pool[<see cref="PoolIndex"/>(j, i, n)]), requires_grad (per input, for fwdbwd), differentiable (whether fwdbwd
    /// is timed: backward of the output against ones), abs_sum (Σ|y| of Fluxion's forward output, a check; check false for
    /// random ops, whose values differ), and call: the
    /// PyTorch call as a JSON tree (<see cref="TorchCall"/>) with call_text, its Python form — or, where no call can be
    /// given, call null and call_skip, the reason.</summary>
    public static void WriteSpec(TextWriter o)
    {
        foreach (int size in Sizes)
            foreach (var c in Cases(size, report: true))
            {
                var text = TorchCall.CallText(c.Torch, c.Inputs.Length, out var skip, out bool check);
                JsonNode? call = null;
                if (text is not null)
                {
                    try { call = TorchCall.Parse(text); }
                    catch (FormatException e) { skip = e.Message; text = null; }
                }
                o.WriteLine(new JsonObject
                {
                    ["torch"] = c.Torch,
                    ["op"] = c.Op,
                    ["family"] = OpsCommand.FamilyName(OpCatalog.All.First(i => i.Name == c.Op).Family),
                    ["size"] = c.Size,
                    ["sample"] = c.Label,
                    ["dtype"] = c.Inputs[0].DType.Name(),
                    ["shapes"] = new JsonArray([.. c.Inputs.Select(t => new JsonArray([.. t.ShapeArray.Select(d => (JsonNode)d)]))]),
                    ["kinds"] = new JsonArray([.. c.Kind.Select(k => (JsonNode)k)]),
                    ["pools"] = new JsonArray([.. c.Pools.Select(p => new JsonArray([.. p.Select(v => (JsonNode)v)]))]),
                    ["requires_grad"] = new JsonArray([.. c.Inputs.Select(_ => (JsonNode)c.Differentiable)]),
                    ["differentiable"] = c.Differentiable,
                    ["abs_sum"] = JsonNumber(c.AbsSum),
                    ["check"] = check,
                    ["call"] = call,
                    ["call_text"] = text,
                    ["call_skip"] = skip,
                }.ToJsonString());
            }
    }
}
