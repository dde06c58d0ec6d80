using System.Diagnostics;

namespace Fluxion.Cli;

/// <summary><c>fluxion graph [--out FILE.dot|.gv|.svg|.png|.pdf]</c>: the demo graph (tanh(x) = (e^x - e^-x)/(e^x + e^-x) at x = ln 2)
/// as text, and as Graphviz DOT or an image rendered from it.</summary>
public static class GraphCommand
{
    /// <summary>Help text.</summary>
    public const string Usage =
        """
        Usage: fluxion graph [--compiled <chain|mlp|cnn>] [--out FILE]

        Builds tanh(x) = (e^x - e^-x)/(e^x + e^-x) at x = ln 2, back-propagates, and prints the
        autograd graph as an indented tree. With --compiled, prints instead the graph Functional.Compile
        makes of a small workload after its passes: chain (20 elementwise ops on [64, 64], one fused
        group), mlp (the training step of a 784-32-10 MLP, batch 8: forward, loss and backward as one
        joint graph) or cnn (the step of a small CNN): every op with its fused group and the arena
        buffer of every planned value. The extension of --out decides the format: FILE.dot or
        FILE.gv is Graphviz DOT; FILE.svg, FILE.png or FILE.pdf is rendered from the DOT with Graphviz's
        'dot' when installed (apt-get install graphviz), and otherwise FILE.dot is written next to it
        with the command that renders it. Other extensions are refused.
        """;

    /// <summary>The image formats rendered with Graphviz (the extension is the format's name).</summary>
    private static readonly string[] ImageFormats = ["svg", "png", "pdf"];

    /// <summary>Runs the command; returns the exit code.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        string? outPath = null, compiled = null;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] is "-h" or "--help") { stdout.WriteLine(Usage); return 0; }
            if (args[i] == "--compiled" && i + 1 < args.Length && args[i + 1] is "chain" or "mlp" or "cnn") { compiled = args[++i]; continue; }
            if (args[i] == "--out" && i + 1 < args.Length) { outPath = args[++i]; continue; }
            stderr.WriteLine($"fluxion graph: unknown or incomplete argument '{args[i]}'\n\n{Usage}");
            return 2;
        }
        var ext = outPath is null ? "" : Path.GetExtension(outPath).TrimStart('.').ToLowerInvariant();
        bool isDot = ext is "dot" or "gv";
        if (outPath is not null && !isDot && !ImageFormats.Contains(ext))
        {
            stderr.WriteLine($"fluxion graph: --out {outPath}: unknown format '{(ext.Length == 0 ? "(no extension)" : "." + ext)}'; "
                + "use .dot or .gv for Graphviz DOT, or .svg, .png or .pdf for an image rendered by Graphviz.");
            return 2;
        }
        string dot;
        if (compiled is not null)
        {
            var g = CompiledExample(compiled);
            stdout.Write(g.ToText());
            if (outPath is null) return 0;
            dot = g.ToDot();
        }
        else
        {
            var x = Tensor.Scalar(Math.Log(2), DType.Float64).RequiresGrad_();
            var ep = x.Exp();
            var en = (-x).Exp();
            var y = (ep - en) / (ep + en);
            y.Backward(retainGraph: true);
            var names = new Dictionary<Tensor, string> { [x] = "x" };
            stdout.WriteLine($"tanh(ln 2) = {y.Item():G12}; d/dx = {x.Grad!.Item():G12} (1 - tanh^2 = {1 - y.Item() * y.Item():G12})");
            stdout.Write(GraphExport.ToText(y, names));
            if (outPath is null) return 0;
            dot = GraphExport.ToDot(y, names);
        }
        if (isDot)
        {
            WriteAtomic(outPath, dot);
            stdout.WriteLine($"wrote {outPath}");
            return 0;
        }
        var dotPath = Path.ChangeExtension(outPath, ".dot");
        WriteAtomic(dotPath, dot);
        try
        {
            var psi = new ProcessStartInfo("dot", ["-T" + ext, dotPath, "-o", outPath]) { RedirectStandardError = true, UseShellExecute = false };
            using var p = Process.Start(psi)!;
            string err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0)
            {
                stderr.WriteLine($"fluxion graph: dot failed: {err.Trim()}");
                return 1;
            }
            stdout.WriteLine($"wrote {outPath} (and {dotPath})");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            stdout.WriteLine($"Graphviz 'dot' is not installed: wrote {dotPath}. Render it with: dot -T{ext} {dotPath} -o {outPath} (apt-get install graphviz).");
        }
        return 0;
    }

    /// <summary>The compiled graph of a small workload (see <see cref="Usage"/>).</summary>
    private static CompiledGraph CompiledExample(string name)
    {
        Generator.ManualSeed(0);
        if (name == "chain")
        {
            var f = Functional.Compile(Bench.CompileBench.Chain);
            f.Call(Tensor.Randn(64, 64));
            return f.LastGraph!;
        }
        Nn.Module model = name == "mlp"
            ? new Nn.Sequential(new Nn.Linear(784, 32), new Nn.ReLU(), new Nn.Linear(32, 10))
            : new Nn.Sequential(new Nn.Conv2d(1, 4, 3, padding: 1), new Nn.ReLU(), new Nn.MaxPool2d(2), new Nn.Flatten(), new Nn.Linear(4 * 14 * 14, 10));
        var step = Functional.Compile((Tensor[] xs) =>
        {
            var loss = Nn.Losses.CrossEntropy(model.Forward(xs[0]), xs[1]);
            loss.Backward();
            return loss.Detach();
        });
        step.Call(name == "mlp" ? Tensor.Randn(8, 784) : Tensor.Randn(8, 1, 28, 28), Tensor.RandInt(0, 10, [8]));
        return step.LastGraph!;
    }

    private static void WriteAtomic(string path, string text)
    {
        var full = Path.GetFullPath(path);
        var tmp = full + ".tmp";
        File.WriteAllText(tmp, text);
        File.Move(tmp, full, overwrite: true);
    }
}
