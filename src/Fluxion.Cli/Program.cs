using System.Globalization;
using Spectre.Console;

namespace Fluxion.Cli;

/// <summary>
/// The <c>fluxion</c> command. A small hand-written parser: <c>fluxion &lt;command&gt; [options]</c>.
/// Exit codes: 0 success, 1 a check failed or an error occurred, 2 bad usage or not implemented.
/// </summary>
public static class Program
{
    private const string Usage =
        """
        Usage: fluxion <command> [options]

        Commands:
          demo     Differentiate cosh(x) and tanh(x) at x = ln 2 through the autograd graph,
                   print every node's value and gradient, and check the derivatives.
          train    Train a classifier on Fashion-MNIST (embedded subset) with a live progress bar.
          export   Write a 'train --save' checkpoint as an ONNX model: fluxion export CKPT --onnx FILE.
          complexity  Measure how backprop's time and memory grow with depth, batch and width.
          graph    Print the demo's autograd graph; --out FILE.svg|FILE.dot to export it.
          bench    Run a benchmark: fluxion bench <name|all> [--json].
          ops      List the op registry: what Fluxion differentiates (--json, --markdown).
          fuzz     Fuzz the file readers: fluxion fuzz <safetensors|idx> [--cases N] [--seed S].

        Options:
          -h, --help   Show this help.

        Run 'fluxion <command> --help' for the options of a command.
        """;

    private const string DemoUsage =
        """
        Usage: fluxion demo [options]

        Builds cosh(x) = (e^x + e^-x)/2 and tanh(x) = (e^x - e^-x)/(e^x + e^-x) from primitive ops,
        back-propagates each, prints every node's value and gradient, and checks
        d cosh/dx = sinh(x) and d tanh/dx = 1 - tanh(x)^2. Exits with 1 if a check fails.

        Options:
          --x <value>   Evaluate at this point instead of ln 2.
          --plain       Plain-text output even on a terminal (the default when output is redirected).
          -h, --help    Show this help.
        """;

    /// <summary>Entry point.</summary>
    public static int Main(string[] args) =>
        Run(args, Console.Out, Console.Error, rich: !Console.IsOutputRedirected);

    /// <summary>Runs the command line <paramref name="args"/>, writing to the given streams; returns the exit code.</summary>
    /// <param name="args">The arguments after the program name.</param>
    /// <param name="stdout">Where results go.</param>
    /// <param name="stderr">Where errors and usage after a mistake go.</param>
    /// <param name="rich">Render tables with Spectre.Console (for a terminal) instead of plain text.</param>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, bool rich = false)
    {
        try
        {
            if (args.Length == 0)
            {
                stderr.WriteLine(Usage);
                return 2;
            }
            switch (args[0])
            {
                case "-h" or "--help" or "help":
                    stdout.WriteLine(Usage);
                    return 0;
                case "demo":
                    return RunDemo(args[1..], stdout, stderr, rich);
                case "complexity":
                    return ComplexityCommand.Run(args[1..], stdout, stderr);
                case "graph":
                    return GraphCommand.Run(args[1..], stdout, stderr);
                case "bench":
                    return Bench.BenchCommand.Run(args[1..], stdout, stderr);
                case "train":
                    return TrainCommand.Run(args[1..], stdout, stderr, rich);
                case "export":
                    return ExportCommand.Run(args[1..], stdout, stderr);
                case "ops":
                    return OpsCommand.Run(args[1..], stdout, stderr);
                case "fuzz":
                    return FuzzCommand.Run(args[1..], stdout, stderr);
                default:
                    stderr.WriteLine(args[0].StartsWith('-')
                        ? $"fluxion: unknown option '{args[0]}'"
                        : $"fluxion: unknown command '{args[0]}'");
                    stderr.WriteLine();
                    stderr.WriteLine(Usage);
                    return 2;
            }
        }
        catch (Exception e)
        {
            // no stack traces for users: the message of a Fluxion error says what went wrong and what to do
            stderr.WriteLine($"fluxion: error: {e.Message}");
            return 1;
        }
    }

    private static int RunDemo(string[] args, TextWriter stdout, TextWriter stderr, bool rich)
    {
        double? x = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "-h" or "--help":
                    stdout.WriteLine(DemoUsage);
                    return 0;
                case "--plain":
                    rich = false;
                    break;
                case "--x":
                    if (i + 1 >= args.Length || !double.TryParse(args[i + 1], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v))
                        return UsageError(stderr, "fluxion demo: --x needs a finite number, e.g. --x 0.5", DemoUsage);
                    x = v;
                    i++;
                    break;
                default:
                    return UsageError(stderr, $"fluxion demo: unknown argument '{args[i]}'", DemoUsage);
            }
        }

        var result = Demo.Run(x);
        if (rich) WriteRich(result, stdout);
        else WritePlain(result, stdout);
        return result.Passed ? 0 : 1;
    }

    private static int UsageError(TextWriter stderr, string message, string usage)
    {
        stderr.WriteLine(message);
        stderr.WriteLine();
        stderr.WriteLine(usage);
        return 2;
    }

    private static string Title(DemoResult r) =>
        r.X == Demo.Ln2
            ? $"cosh and tanh at x = ln 2 = {Num(r.X)} through the autograd graph (float64)"
            : $"cosh and tanh at x = {Num(r.X)} through the autograd graph (float64)";

    private static string Num(double v, int decimals = 12) =>
        v.ToString((Math.Abs(v) < 1e6 ? "F" : "E") + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    private static string Num(double? v, int decimals) => v is { } d ? Num(d, decimals) : "-";

    private static readonly string[] Headers = ["node", "grad_fn", "value", "dcosh/dnode", "dtanh/dnode"];

    private static string[] Cells(DemoNode n, int decimals) =>
        [n.Name, n.GradFn ?? "(leaf)", Num(n.Value, decimals), Num(n.DCosh, decimals), Num(n.DTanh, decimals)];

    private static void WritePlain(DemoResult r, TextWriter o)
    {
        o.WriteLine(Title(r));
        o.WriteLine();
        var rows = r.Nodes.Select(n => Cells(n, 12)).Prepend(Headers).ToList();
        var widths = Enumerable.Range(0, Headers.Length).Select(c => rows.Max(row => row[c].Length)).ToArray();
        foreach (var row in rows)
        {
            var cells = row.Select((cell, c) => c < 2 ? cell.PadRight(widths[c]) : cell.PadLeft(widths[c]));
            o.WriteLine(string.Join("  ", cells).TrimEnd());
        }
        o.WriteLine("(dcosh/dnode: gradient of cosh with respect to the node, kept with RetainGrad; '-': cosh does not depend on it)");
        o.WriteLine();
        int w = r.Checks.Max(c => c.Name.Length);
        foreach (var c in r.Checks)
            o.WriteLine($"{(c.Ok ? "OK  " : "FAIL")}  {c.Name.PadRight(w)}  got {Num(c.Actual)}  expected {Num(c.Expected)}  |diff| {Math.Abs(c.Actual - c.Expected).ToString("0.0e+00", CultureInfo.InvariantCulture)}");
        o.WriteLine(r.Passed ? "all checks passed" : "SOME CHECKS FAILED");
    }

    private static void WriteRich(DemoResult r, TextWriter o)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(o) });
        console.MarkupLine($"[bold]{Markup.Escape(Title(r))}[/]");
        var table = new Table().Border(TableBorder.Rounded);
        for (int c = 0; c < Headers.Length; c++)
        {
            var col = new TableColumn(Headers[c]);
            if (c >= 2) col.RightAligned();
            table.AddColumn(col);
        }
        foreach (var n in r.Nodes)
            table.AddRow(Cells(n, 8).Select(s => Markup.Escape(s)).ToArray());
        table.Caption("dcosh/dnode: grad of cosh w.r.t. the node (RetainGrad); -: no dependence");
        console.Write(table);
        var checks = new Table().Border(TableBorder.Rounded)
            .AddColumn("check").AddColumn("identity")
            .AddColumn(new TableColumn("got").RightAligned())
            .AddColumn(new TableColumn("expected").RightAligned())
            .AddColumn(new TableColumn("|diff|").RightAligned());
        foreach (var c in r.Checks)
            checks.AddRow(c.Ok ? "[green]OK[/]" : "[red]FAIL[/]", Markup.Escape(c.Name), Num(c.Actual, 8), Num(c.Expected, 8),
                Math.Abs(c.Actual - c.Expected).ToString("0.0e+00", CultureInfo.InvariantCulture));
        console.Write(checks);
        console.MarkupLine(r.Passed ? "[green]all checks passed[/]" : "[red bold]SOME CHECKS FAILED[/]");
    }
}
