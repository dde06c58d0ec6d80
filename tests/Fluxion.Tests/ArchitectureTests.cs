using System.Text.RegularExpressions;
using Xunit;

namespace Fluxion.Tests;

/// <summary>
/// The layers of ../shared/DESIGN.md, checked on the source: Kernels (raw compute over spans, shape arithmetic, the
/// raw RNG) know nothing of tensors, autograd or anything above; the core (Tensors + Autograd, which holds the
/// tracer as a recording observer) knows nothing of the layers built on it (functional transforms, modules,
/// optimizers, diagnostics, IO).
/// </summary>
public class ArchitectureTests
{
    private static string Src => Path.Combine(ReadmeTests.RepoRoot(), "src", "Fluxion");

    /// <summary>The code of a C# file without comments and string literals.</summary>
    private static string Code(string path)
    {
        var s = File.ReadAllText(path);
        s = Regex.Replace(s, @"/\*.*?\*/", " ", RegexOptions.Singleline);
        s = Regex.Replace(s, @"//[^\n]*", " ");
        s = Regex.Replace(s, @"\$?@?""(?:[^""\\\n]|\\.)*""", "\"\"");
        return s;
    }

    private static List<string> Uses(string folder, string[] forbidden)
    {
        var found = new List<string>();
        foreach (var f in Directory.EnumerateFiles(Path.Combine(Src, folder), "*.cs", SearchOption.AllDirectories))
        {
            var code = Code(f);
            foreach (var name in forbidden)
                if (Regex.IsMatch(code, $@"\b{name}\b")) found.Add($"{folder}/{Path.GetFileName(f)} uses {name}");
        }
        return found;
    }

    [Fact]
    public void KernelsKnowNothingOfTensorsAutogradOrAbove()
    {
        string[] above = ["Tensor", "Storage", "StoragePool", "Generator", "DType", "OpDef", "OpCtx", "OpNode", "Node", "GradMode", "Autograd",
            "Tracer", "ForwardAD", "Functional", "Module", "Parameter", "Optimizer", "MemoryTracker", "GraphMemory"];
        var found = Uses("Kernels", above);
        Assert.True(found.Count == 0, string.Join("\n", found));
    }

    [Fact]
    public void EveryParallelLoopGoesThroughTheKernelsHelper()
    {
        // one parallel helper (Kernels/Parallelism.cs) for every chunking loop, so nested regions run serially
        var found = new List<string>();
        foreach (var f in Directory.EnumerateFiles(Src, "*.cs", SearchOption.AllDirectories))
        {
            if (Path.GetFileName(f) == "Parallelism.cs") continue;
            var code = Code(f);
            foreach (var pattern in new[] { @"\bParallel\.(For|ForEach|Invoke)\b", @"\bTask\.(Run|Factory)\b", @"\bnew\s+Thread\s*\(", @"\bThreadPool\." })
                if (Regex.IsMatch(code, pattern)) found.Add($"{Path.GetRelativePath(Src, f)} matches {pattern}");
        }
        Assert.True(found.Count == 0, "use Kernels.Parallelism instead:\n" + string.Join("\n", found));
    }

    [Fact]
    public void TheCoreKnowsNothingOfTheLayersAboveIt()
    {
        string[] above = ["Functional", "Vmap", "VmapProgram", "Checkpoint", "CustomFunction", "Module", "Parameter", "Sequential", "Optimizer",
            "MemoryTracker", "GraphMemory", "GradCheck", "SafeTensors", "Trainer"];
        var found = Uses("Tensors", above).Concat(Uses("Autograd", above)).ToList();
        Assert.True(found.Count == 0, string.Join("\n", found));
    }
}
