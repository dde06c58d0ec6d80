using System.Text.RegularExpressions;

namespace Fluxion.Tests;

// The README's quick example is copied verbatim (between the README markers below, minus its
// `using Fluxion;` line) into QuickExampleRuns, so it compiles and runs. QuickExampleIsInSync
// checks that the two copies match and that what it prints is what the README's comments say.
public class ReadmeTests
{
    private static void QuickExample()
    {
        // README-BEGIN
        // f(x) = sum(x^3): its gradient is 3x^2, and the gradient of sum(3x^2) is 6x
        var x = Tensor.FromArray([1f, 2f, 3f]).RequiresGrad_();
        var f = x.Pow(3).Sum();
        Console.WriteLine(f);        // tensor(36., grad_fn=<SumBackward0>)

        var g = Autograd.Grad(f, x, createGraph: true);
        Console.WriteLine(g.Detach()); // tensor([ 3., 12., 27.])

        g.Sum().Backward();
        Console.WriteLine(x.Grad);   // tensor([ 6., 12., 18.])
        // README-END
    }

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Fluxion.sln")) && File.Exists(Path.Combine(d.FullName, "README.md")))
                return d.FullName;
        throw new InvalidOperationException("README.md not found above " + AppContext.BaseDirectory);
    }

    private static string[] ReadmeExample()
    {
        var readme = File.ReadAllText(Path.Combine(RepoRoot(), "README.md")).ReplaceLineEndings("\n");
        var m = Regex.Match(readme, "```csharp\n(.*?)```", RegexOptions.Singleline);
        Assert.True(m.Success, "README.md has no ```csharp block");
        return m.Groups[1].Value.TrimEnd('\n').Split('\n');
    }

    private static string[] TestExample()
    {
        var src = File.ReadAllText(Path.Combine(RepoRoot(), "tests", "Fluxion.Tests", "ReadmeTests.cs")).ReplaceLineEndings("\n");
        var lines = src.Split('\n');
        int begin = Array.FindIndex(lines, l => l.Trim() == "// README-BEGIN");
        int end = Array.FindIndex(lines, l => l.Trim() == "// README-END");
        Assert.True(begin >= 0 && end > begin);
        const string indent = "        ";
        return lines[(begin + 1)..end].Select(l => l.StartsWith(indent) ? l[indent.Length..] : l.TrimStart()).ToArray();
    }

    [Fact]
    public void QuickExampleIsInSync()
    {
        var readme = ReadmeExample();
        Assert.Equal("using Fluxion;", readme[0]);
        Assert.Equal("", readme[1]);
        Assert.Equal(string.Join("\n", TestExample()), string.Join("\n", readme[2..]));
    }

    [Fact]
    public void QuickExampleRunsAndPrintsWhatTheReadmeSays()
    {
        var expected = ReadmeExample()
            .Where(l => l.StartsWith("Console.WriteLine("))
            .Select(l => l[(l.IndexOf("// ", StringComparison.Ordinal) + 3)..])
            .ToArray();
        var previous = Console.Out;
        var captured = new StringWriter();
        Console.SetOut(captured);
        try { QuickExample(); }
        finally { Console.SetOut(previous); }
        Assert.Equal(expected, captured.ToString().ReplaceLineEndings("\n").TrimEnd('\n').Split('\n'));
    }
}
