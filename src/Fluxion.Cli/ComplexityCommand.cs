using System.Diagnostics;
using System.Globalization;

namespace Fluxion.Cli;

/// <summary><c>fluxion complexity [--plot FILE.svg] [--small] [--runs N] [--budget BYTES|PERCENT%]</c>: the backprop complexity analyzer.</summary>
public static class ComplexityCommand
{
    /// <summary>Help text.</summary>
    public const string Usage =
        """
        Usage: fluxion complexity [options]

        Runs the n-layer network z_i = W_i x_i, x_{i+1} = tanh(z_i) (W_i: d x d, batch x: d x b) in five ways:
        inference without a graph, forward with a graph, forward+backward for all W_i, forward+backward for
        W_1 only, and the checkpointed version of the latter. Sweeps n, b and d one at a time, measures peak
        extra memory (beyond the weights) and time, fits each exponent by log-log regression and prints
        fitted against expected growth.

        Options:
          --plot <file.svg>   Write an SVG plot of memory against n for the five cases.
          --small             Smaller sizes, for a quick check (the default sizes take a few seconds on two cores).
          --runs <n>          Timed runs per size (default 3; the median is used).
          --budget <b>        Instead: memory plans (MemoryPlan) for the network of n/2 tanh layers followed by
                              n/2 reversible coupling blocks, under budgets from storing everything down to <b>
                              (bytes, or a percentage of the store-all peak such as 20%): prints the table
                              budget -> segments, predicted and measured peak, predicted and measured time of a
                              forward+backward pass, marks the Pareto-optimal rows (measured time vs measured
                              peak) and writes an SVG of it (--plot, default memplan-pareto.svg).
          -h, --help          Show this help.
        """;

    /// <summary>Runs the command; returns the exit code.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        string? plot = null;
        bool small = false;
        int runs = 3;
        string? budget = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "-h" or "--help": stdout.WriteLine(Usage); return 0;
                case "--small": small = true; break;
                case "--plot" when i + 1 < args.Length: plot = args[++i]; break;
                case "--budget" when i + 1 < args.Length: budget = args[++i]; break;
                case "--runs" when i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.Integer, CultureInfo.InvariantCulture, out runs) && runs >= 1: i++; break;
                default:
                    stderr.WriteLine($"fluxion complexity: unknown or incomplete argument '{args[i]}'\n\n{Usage}");
                    return 2;
            }
        }
        if (budget is not null) return Budget(budget, small, runs, plot ?? "memplan-pareto.svg", stdout, stderr);
        var sw = Stopwatch.StartNew();
        var fits = new List<ComplexityFit>();
        foreach (var sweep in Complexity.DefaultSweeps(small))
        {
            string fixedSizes = sweep.Parameter switch
            {
                SweepParameter.N => $"b={sweep.B}, d={sweep.D}",
                SweepParameter.B => $"n={sweep.N}, d={sweep.D}",
                _ => $"n={sweep.N}, b={sweep.B}",
            };
            stdout.WriteLine($"sweep {sweep.Parameter.ToString().ToLowerInvariant()} over {string.Join(", ", sweep.Values)} ({fixedSizes})");
            foreach (var c in Enum.GetValues<ComplexityCase>())
                fits.Add(Complexity.Sweep(c, sweep, runs));
        }
        stdout.WriteLine();
        stdout.WriteLine($"{"case",-18} {"memory model",-22} {"sweep",5} {"mem fitted",10} {"mem expected",12} {"time fitted",11} {"time expected",13}");
        foreach (var f in fits.OrderBy(f => f.Case).ThenBy(f => f.Parameter))
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{f.Case,-18} {Complexity.MemoryFormula(f.Case),-22} {f.Parameter.ToString().ToLowerInvariant(),5} {f.MemoryExponent,10:F2} {f.ExpectedMemoryExponent,12:F2} {f.TimeExponent,11:F2} {f.ExpectedTimeExponent,13:F2}"));
        stdout.WriteLine();
        stdout.WriteLine("memory: peak tensor bytes allocated by the run beyond the weights and input (MemoryTracker); expected: slope of the model over the same sizes.");
        stdout.WriteLine("time: O(n b d^2) in every case; small sizes are overhead-bound, so fitted time exponents fall short of it there.");
        if (plot is not null)
        {
            var series = fits.Where(f => f.Parameter == SweepParameter.N)
                .Select(f => new PlotSeries($"{f.Case} ({f.MemoryExponent:F2})", f.Points.Select(p => ((double)p.N, p.PeakBytes / 1e6)).ToList()))
                .ToList();
            var nSweep = Complexity.DefaultSweeps(small).First(s => s.Parameter == SweepParameter.N);
            var svg = SvgPlot.Render($"Peak extra memory against depth n (b={nSweep.B}, d={nSweep.D})", "n (layers)", "peak extra memory (MB)", series, logX: true, logY: true);
            SvgPlot.Save(plot, svg);
            stdout.WriteLine($"wrote {plot}");
        }
        stdout.WriteLine($"total time {sw.Elapsed.TotalSeconds:F1} s");
        return 0;
    }

    /// <summary><c>--budget</c>: the Pareto table of memory plans.</summary>
    private static int Budget(string spec, bool small, int runs, string plot, TextWriter stdout, TextWriter stderr)
    {
        int n = small ? 8 : 32, d = small ? 32 : 256, b = small ? 8 : 64;
        Generator.ManualSeed(0);
        var layers = new List<Nn.Module>();
        for (int i = 0; i < n / 2; i++)
        {
            layers.Add(new Nn.Linear(d, d, bias: false));
            layers.Add(new Nn.Tanh());
        }
        for (int i = 0; i < n - n / 2; i++)
            layers.Add(new Nn.Reversible(new Nn.Sequential(new Nn.Linear(d / 2, d / 2, bias: false), new Nn.Tanh()),
                new Nn.Sequential(new Nn.Linear(d / 2, d / 2, bias: false), new Nn.Tanh())));
        var model = new Nn.Sequential(layers.ToArray());
        var x = Tensor.Randn(b, d);
        var storeAll = MemoryPlan.Create(model, x, long.MaxValue);
        long full = storeAll.StoreAllPeakBytes;
        long target;
        if (spec.EndsWith('%') && double.TryParse(spec[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out double pct) && pct > 0 && pct <= 100)
            target = (long)(full * pct / 100);
        else if (!long.TryParse(spec, NumberStyles.Integer, CultureInfo.InvariantCulture, out target) || target < 0)
        {
            stderr.WriteLine($"fluxion complexity: --budget takes a byte count or a percentage such as 20%, got '{spec}'.");
            return 2;
        }
        stdout.WriteLine($"network: {n / 2} x (Linear {d}x{d} + Tanh), then {n - n / 2} reversible blocks (f, g: Linear {d / 2}x{d / 2} + Tanh); batch {b}; store-all predicted peak {full} B");
        var budgets = new List<long>();
        const int points = 8;
        for (int k = 0; k < points; k++)
        {
            double f = Math.Pow((double)Math.Max(target, 1) / full, k / (double)(points - 1));
            budgets.Add(k == points - 1 ? target : (long)(full * f));
        }
        var rows = new List<(long Budget, MemoryPlan Plan, long Peak, double Seconds, long Saved)>();
        // one throwaway plan and pass first: the planner times each layer once, and the first timings would include the JIT
        MemoryPlan.Create(model, x, budgets[0]).Measure(x);
        model.ZeroGrad();
        foreach (var budget in budgets.Distinct())
        {
            var plan = MemoryPlan.Create(model, x, budget);
            var times = new List<double>();
            long peak = 0, saved = 0;
            for (int r = 0; r < runs; r++)
            {
                var m = plan.Measure(x);
                model.ZeroGrad();
                times.Add(m.Seconds);
                peak = Math.Max(peak, m.PeakBytes);
                saved = Math.Max(saved, m.SavedBytes);
            }
            times.Sort();
            rows.Add((budget, plan, peak, times[times.Count / 2], saved));
        }
        stdout.WriteLine();
        stdout.WriteLine($"{"budget B",12} {"fits",4} {"pred peak B",12} {"meas saved B",12} {"meas peak B",12} {"pred ms",9} {"meas ms",9} {"pred/meas",9} {"pareto",6}  segments");
        foreach (var row in rows)
        {
            // Pareto over what the plan trades: the bytes the forward leaves for the backward against the time
            bool pareto = !rows.Any(o => o.Saved <= row.Saved && o.Seconds <= row.Seconds && (o.Saved < row.Saved || o.Seconds < row.Seconds));
            string segs = string.Join(" ", row.Plan.Segments.Select(sg => $"{sg.Mode.ToString()[0]}{sg.Start}-{sg.Start + sg.Count - 1}"));
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{row.Budget,12} {(row.Plan.FitsBudget ? "yes" : "no"),4} {row.Plan.PredictedPeakBytes,12} {row.Saved,12} {row.Peak,12} {row.Plan.PredictedSeconds * 1e3,9:F2} {row.Seconds * 1e3,9:F2} {row.Plan.PredictedSeconds / row.Seconds,9:F2} {(pareto ? "*" : ""),6}  {segs}"));
        }
        // the time model against the measurement: the worst relative error, and the order of plans whose measured times differ by > 20%
        double worst = rows.Max(r => Math.Abs(r.Plan.PredictedSeconds / r.Seconds - 1));
        int pairs = 0, agree = 0;
        for (int i = 0; i < rows.Count; i++)
            for (int j = i + 1; j < rows.Count; j++)
            {
                double lo = Math.Min(rows[i].Seconds, rows[j].Seconds), hi = Math.Max(rows[i].Seconds, rows[j].Seconds);
                if (hi <= 1.2 * lo) continue;
                pairs++;
                if (Math.Sign(rows[i].Seconds - rows[j].Seconds) == Math.Sign(rows[i].Plan.PredictedSeconds - rows[j].Plan.PredictedSeconds)) agree++;
            }
        stdout.WriteLine();
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"time model: predicted within {worst * 100:F0}% of measured on every row (target 25%); of {pairs} pairs of plans whose measured times differ by > 20%, {agree} are ordered the same by the prediction."));
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"calibration (store-all plan): measured whole pass {storeAll.CalibrationPassSeconds * 1e3:F2} ms, recompute factor {storeAll.RecomputeFactor:F2}, {storeAll.SegmentOverheadSeconds * 1e3:F3} ms per further checkpointed segment (per-step times are scaled to whole passes, see MemoryPlan.Calibrate)."));
        stdout.WriteLine();
        stdout.WriteLine("segments: S store, R recompute, I invert (reversible), F forward mode; layer ranges of the Sequential.");
        stdout.WriteLine("meas saved: tensor bytes the forward leaves alive for the backward (what the plan controls; pareto is over it and meas ms); meas peak: MemoryTracker peak of live tensor bytes over a forward+backward pass (weights excluded, gradients included); pred peak: the planner's model of saved activations.");
        var series = new List<PlotSeries>
        {
            new("measured", rows.Select(r => (r.Saved / 1e6, r.Seconds * 1e3)).OrderBy(p => p.Item1).ToList()),
            new("predicted", rows.Select(r => (r.Plan.PredictedPeakBytes / 1e6, r.Plan.PredictedSeconds * 1e3)).OrderBy(p => p.Item1).ToList()),
        };
        SvgPlot.Save(plot, SvgPlot.Render($"Memory plans: time against saved activations (n={n}, d={d}, b={b})", "saved for backward (MB)", "forward+backward time (ms)", series));
        stdout.WriteLine($"wrote {plot}");
        return 0;
    }
}
