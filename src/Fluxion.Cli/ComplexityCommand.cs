using System.Diagnostics;
using System.Globalization;

namespace Fluxion.Cli;

/// <summary><c>fluxion complexity [--plot FILE.svg] [--small] [--runs N]</c>: the backprop complexity analyzer.</summary>
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
          -h, --help          Show this help.
        """;

    /// <summary>Runs the command; returns the exit code.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        string? plot = null;
        bool small = false;
        int runs = 3;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "-h" or "--help": stdout.WriteLine(Usage); return 0;
                case "--small": small = true; break;
                case "--plot" when i + 1 < args.Length: plot = args[++i]; break;
                case "--runs" when i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.Integer, CultureInfo.InvariantCulture, out runs) && runs >= 1: i++; break;
                default:
                    stderr.WriteLine($"fluxion complexity: unknown or incomplete argument '{args[i]}'\n\n{Usage}");
                    return 2;
            }
        }
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
}
