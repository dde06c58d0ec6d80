using System.Text.RegularExpressions;

namespace Fluxion.Tests;

// Each ```csharp block of the README is copied verbatim (between the README-BEGIN n / README-END n
// markers below, minus its `using` lines) into Example{n}, so it compiles and runs; a block's type
// declarations (after its statements) go into a second README-BEGIN n / README-END n pair, as nested
// types. The tests check that the copies match and that what each prints is what the README's comments say.
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
        Console.WriteLine(Functional.Grad(Rosen)(x));   // tensor([0., 0.], dtype=float64)
        var h = Functional.Hessian(Rosen, x);          // forward-over-reverse
        Console.WriteLine(h[0]);                        // tensor([ 802., -400.], dtype=float64)

        using (var level = ForwardAD.Level())
        {
            // one forward pass carries the directional derivative along v = (1, 2)
            var xd = ForwardAD.MakeDual(Tensor.FromArray([0.5, 0.5]), Tensor.FromArray([1.0, 2.0]));
            var (y, dy) = ForwardAD.Unpack(Rosen(xd));
            Console.WriteLine(dy);                      // tensor(49., dtype=float64)
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

    private static void Example4()
    {
        // README-BEGIN 4
        var net = new TinyNet(hidden: 16);
        Console.WriteLine(string.Join(", ", net.NamedParameters().Select(p => $"{p.Name} {string.Join("x", p.Parameter.Size())}")));   // fc1.weight 16x1, fc1.bias 16, head.weight 1x16, head.bias 1
        // README-END 4
    }

    // README-BEGIN 4
    class TinyNet(int hidden) : Fluxion.Nn.Module
    {
        private readonly Fluxion.Nn.Linear _fc1 = new(1, hidden);
        public Fluxion.Nn.Linear Head { get; } = new(hidden, 1);

        public override Tensor Forward(Tensor x) => Head.Forward(_fc1.Forward(x).Tanh());
    }
    // README-END 4

    private static void Example5()
    {
        // README-BEGIN 5
        Generator.ManualSeed(0);
        var (train, test) = Fluxion.Data.FashionMnist.LoadEmbedded();   // in the package Fluxion.Datasets
        var model = new Fluxion.Nn.Sequential(new Fluxion.Nn.Flatten(), new Fluxion.Nn.Linear(784, 128), new Fluxion.Nn.ReLU(), new Fluxion.Nn.Linear(128, 10));
        var trainer = new Fluxion.Training.Trainer(model, new Fluxion.Optim.Adam(model.Parameters(), lr: 1e-3), (output, y) => Fluxion.Nn.Losses.CrossEntropy(output, y))
        {
            Metrics = { new Fluxion.Training.Accuracy() },
            Callbacks = { new Fluxion.Training.EarlyStopping("val_loss", patience: 2) },
        };
        var history = trainer.Fit(new Fluxion.Data.DataLoader(train.Take(2000), 64, shuffle: true), epochs: 3, validation: new Fluxion.Data.DataLoader(test, 500));
        Console.WriteLine(history.Epochs[^1].Metrics["val_acc"] > 0.7);   // True
        // README-END 5
    }

    internal static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Fluxion.sln")) && File.Exists(Path.Combine(d.FullName, "README.md")))
                return d.FullName;
        throw new InvalidOperationException("README.md not found above " + AppContext.BaseDirectory);
    }

    private static readonly Action[] Examples = [Example0, Example1, Example2, Example3, Example4, Example5];

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

    /// <summary>The test's copy of block n: each README-BEGIN n / README-END n segment with its marker's
    /// indentation removed, the segments separated by a blank line.</summary>
    private static string[] TestExample(int n)
    {
        var src = File.ReadAllText(Path.Combine(RepoRoot(), "tests", "Fluxion.Tests", "ReadmeTests.cs")).ReplaceLineEndings("\n");
        var lines = src.Split('\n');
        var result = new List<string>();
        for (int from = 0; ;)
        {
            int begin = Array.FindIndex(lines, from, l => l.Trim() == $"// README-BEGIN {n}");
            if (begin < 0) break;
            int end = Array.FindIndex(lines, begin, l => l.Trim() == $"// README-END {n}");
            Assert.True(end > begin);
            var indent = lines[begin][..(lines[begin].Length - lines[begin].TrimStart().Length)];
            if (result.Count > 0) result.Add("");
            result.AddRange(lines[(begin + 1)..end].Select(l => l.StartsWith(indent) ? l[indent.Length..] : l.TrimStart()));
            from = end + 1;
        }
        Assert.NotEmpty(result);
        return result.ToArray();
    }

    /// <summary>README lines may use the short names its using lines import; the test copy spells some out.</summary>
    private static string Normalize(string line) =>
        line.Replace("Fluxion.Nn.", "").Replace("Fluxion.Optim.", "").Replace("Fluxion.Training.", "").Replace("Fluxion.Data.", "");

    public static TheoryData<int> Blocks => new() { 0, 1, 2, 3, 4, 5 };

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
        var (previous, previousError) = (Console.Out, Console.Error);
        var captured = new StringWriter();
        Console.SetOut(captured);
        Console.SetError(new StringWriter()); // the training progress display (block 5)
        try { Examples[n](); }
        finally { Console.SetOut(previous); Console.SetError(previousError); }
        Assert.Equal(expected, captured.ToString().ReplaceLineEndings("\n").TrimEnd('\n').Split('\n'));
    }
}
