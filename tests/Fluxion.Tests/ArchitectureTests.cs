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
            "Tracer", "ForwardAD", "Functional", "Module", "Parameter", "Optimizer", "MemoryTracker", "GraphMemory",
            // model knowledge lives with the models (the triangle wave with the point-cloud layer, the kinds with the particles)
            "TriangleWave", "PointCloudLinear", "ParticleKind", "ForceSpec", "ParticleModel"];
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
        // Diagnostics among them: Storage reports allocations through a hook (Storage.AllocationObserver) that MemoryTracker sets
        string[] above = ["Functional", "Vmap", "VmapProgram", "Checkpoint", "CustomFunction", "Module", "Parameter", "Sequential", "Optimizer",
            "SafeTensors", "Trainer", .. DeclaredIn("Diagnostics")];
        var found = Uses("Tensors", above).Concat(Uses("Autograd", above)).ToList();
        Assert.True(found.Count == 0, string.Join("\n", found));
    }

    /// <summary>The top-level type names a folder declares (classes, records, structs, enums, interfaces; nested types such as
    /// GraphMemory.Stats are not names of the layer).</summary>
    private static string[] DeclaredIn(string folder) =>
        [.. Directory.EnumerateFiles(Path.Combine(Src, folder), "*.cs", SearchOption.AllDirectories)
            .SelectMany(f => Regex.Matches(Code(f), @"^(?:(?:public|internal|sealed|static|abstract|readonly|partial|file)\s+)*(?:class|record(?:\s+struct)?|struct|enum|interface)\s+([A-Z]\w+)", RegexOptions.Multiline).Select(m => m.Groups[1].Value))
            .Distinct()];

    [Fact]
    public void AutogradKnowsNothingOfTheOpsLayer()
    {
        // Anomaly mode, forward levels and recording observers live in Autograd; the registry (Ops) is above it. Tensor is one
        // class split over both folders (its op methods are in Ops), and the tracer keeps the OpDef of each recorded call as an
        // opaque handle (it reads no member of it: Compile replays the entries), so those two names are allowed.
        var ops = DeclaredIn("Ops").Except(["Tensor", "OpDef"]).ToArray();
        var found = Uses("Autograd", ops).Concat(Uses("Tensors", ops)).ToList();
        Assert.True(found.Count == 0, string.Join("\n", found));
        var tracer = Code(Path.Combine(Src, "Autograd", "Tracing.cs"));
        Assert.False(Regex.IsMatch(tracer, @"\b[Dd]ef\.\w"), "Autograd/Tracing.cs reads a member of an OpDef");
    }

    [Fact]
    public void FunctionsKnowNothingOfDiagnostics()
    {
        // checkpoint planning reads the core's graph walk (Autograd/GraphWalk.cs); measuring a memory plan is Diagnostics' job
        var found = Uses("Functions", DeclaredIn("Diagnostics"));
        Assert.True(found.Count == 0, string.Join("\n", found));
    }
}
