using System.Text.RegularExpressions;

namespace Fluxion.Tests;

// Each ```csharp block of the README is copied verbatim (between the README-BEGIN n / README-END n
// markers below, minus its `using` lines) into Example{n}, so it compiles and runs. The tests check
// that the copies match and that what each prints is what the README's comments say.
public class ReadmeTests
{
    private static void Example0()
    {
        // README-BEGIN 0
        // f(x) = sum(x^3): its gradient is 3x^2, and the gradient of sum(3x^2) is 6x
        var x = Tensor.FromArray([1f, 2f, 3f]).RequiresGrad_();
        var f = x.Pow(3).Sum();
        Console.WriteLine(f);        // tensor(36., grad_fn=<SumBackward0>)

        var g = Autograd.Grad(f, x, createGraph: true);
        Console.WriteLine(g.Detach()); // tensor([ 3., 12., 27.])

        g.Sum().Backward();
        Console.WriteLine(x.Grad);   // tensor([ 6., 12., 18.])
        // README-END 0
    }

    private static void Example1()
    {
        // README-BEGIN 1
        // Rosenbrock's function, minimal at (1, 1)
        static Tensor Rosen(Tensor x) => (1.0 - x[0]).Square() + 100.0 * (x[1] - x[0].Square()).Square();

        var x = Tensor.FromArray([1.0, 1.0]);
        Console.WriteLine(Functional.Grad(Rosen)(x));   // tensor([0., 0.], dtype=torch.float64)
        var h = Functional.Hessian(Rosen, x);          // forward-over-reverse
        Console.WriteLine(h[0]);                        // tensor([ 802., -400.], dtype=torch.float64)

        using (var level = ForwardAD.Level())
        {
            // one forward pass carries the directional derivative along v = (1, 2)
            var xd = ForwardAD.MakeDual(Tensor.FromArray([0.5, 0.5]), Tensor.FromArray([1.0, 2.0]));
            var (y, dy) = ForwardAD.Unpack(Rosen(xd));
            Console.WriteLine(dy);                      // tensor(49., dtype=torch.float64)
        }
        // README-END 1
    }

    private static void Example2()
    {
        // README-BEGIN 2
        Generator.ManualSeed(0);
        var x = Tensor.Linspace(-1, 1, 64).Reshape(64, 1);
        var y = (3.0 * x).Sin();
        var model = new Fluxion.Nn.Sequential(new Fluxion.Nn.Linear(1, 32), new Fluxion.Nn.Tanh(), new Fluxion.Nn.Linear(32, 1));
        var opt = new Fluxion.Optim.Adam(model.Parameters(), lr: 0.02);
        for (int step = 0; step < 300; step++)
        {
            opt.ZeroGrad();
            Fluxion.Nn.Losses.MseLoss(model.Forward(x), y).Backward();
            opt.Step();
        }
        Console.WriteLine(Fluxion.Nn.Losses.MseLoss(model.Forward(x), y).Item() < 1e-3);   // True
        // README-END 2
    }

    private static void Example3()
    {
        // README-BEGIN 3
        var w = Tensor.Randn([10, 5], DType.Float64, new Generator(1));
        var x = Tensor.Randn([32, 5], DType.Float64, new Generator(2));
        var y = Tensor.Randn([32, 10], DType.Float64, new Generator(3));
        // the gradient of one example's loss with respect to w, mapped over the 32 examples
        var perSample = Functional.Vmap((Tensor[] a) => Functional.Grad((Tensor wi) => Fluxion.Nn.Losses.MseLoss(wi.MatMul(a[0]), a[1]))(w), inDims: [0, 0]);
        var g = perSample([x, y]);
        Console.WriteLine(string.Join("x", g.ShapeArray));   // 32x10x5
        Console.WriteLine(Functional.LastVmapPlan!.Batched); // True
        // README-END 3
    }

    internal static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Fluxion.sln")) && File.Exists(Path.Combine(d.FullName, "README.md")))
                return d.FullName;
        throw new InvalidOperationException("README.md not found above " + AppContext.BaseDirectory);
    }

    private static readonly Action[] Examples = [Example0, Example1, Example2, Example3];

    /// <summary>The body of README code block n (its leading using lines and blank line removed).</summary>
    private static string[] ReadmeExample(int n)
    {
        var readme = File.ReadAllText(Path.Combine(RepoRoot(), "README.md")).ReplaceLineEndings("\n");
        var blocks = Regex.Matches(readme, "```csharp\n(.*?)```", RegexOptions.Singleline);
        Assert.Equal(Examples.Length, blocks.Count);
        var lines = blocks[n].Groups[1].Value.TrimEnd('\n').Split('\n');
        int i = 0;
        while (i < lines.Length && lines[i].StartsWith("using ", StringComparison.Ordinal)) i++;
        Assert.True(i > 0 && lines[i] == "", $"README block {n} must start with its using lines and a blank line");
        return lines[(i + 1)..];
    }

    private static string[] TestExample(int n)
    {
        var src = File.ReadAllText(Path.Combine(RepoRoot(), "tests", "Fluxion.Tests", "ReadmeTests.cs")).ReplaceLineEndings("\n");
        var lines = src.Split('\n');
        int begin = Array.FindIndex(lines, l => l.Trim() == $"// README-BEGIN {n}");
        int end = Array.FindIndex(lines, l => l.Trim() == $"// README-END {n}");
        Assert.True(begin >= 0 && end > begin);
        const string indent = "        ";
        return lines[(begin + 1)..end].Select(l => l.StartsWith(indent) ? l[indent.Length..] : l.TrimStart()).ToArray();
    }

    /// <summary>README lines may use the short names its using lines import; the test copy spells some out.</summary>
    private static string Normalize(string line) =>
        line.Replace("Fluxion.Nn.", "").Replace("Fluxion.Optim.", "");

    public static TheoryData<int> Blocks => new() { 0, 1, 2, 3 };

    [Theory]
    [MemberData(nameof(Blocks))]
    public void ExampleIsInSync(int n)
    {
        Assert.Equal(string.Join("\n", TestExample(n).Select(Normalize)), string.Join("\n", ReadmeExample(n)));
    }

    [Theory]
    [MemberData(nameof(Blocks))]
    public void ExampleRunsAndPrintsWhatTheReadmeSays(int n)
    {
        var expected = ReadmeExample(n)
            .Where(l => l.TrimStart().StartsWith("Console.WriteLine("))
            .Select(l => l[(l.IndexOf("// ", StringComparison.Ordinal) + 3)..])
            .ToArray();
        var previous = Console.Out;
        var captured = new StringWriter();
        Console.SetOut(captured);
        try { Examples[n](); }
        finally { Console.SetOut(previous); }
        Assert.Equal(expected, captured.ToString().ReplaceLineEndings("\n").TrimEnd('\n').Split('\n'));
    }
}
