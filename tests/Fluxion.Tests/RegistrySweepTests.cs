namespace Fluxion.Tests;

/// <summary>
/// The test sweep generated from the op registry: every entry's sample calls (float64; 0-d, non-contiguous,
/// broadcast and empty inputs among them) are gradient-checked in reverse mode, forward mode and vector
/// forward mode against central finite differences, first and second order, as far as the entry declares.
/// </summary>
public class RegistrySweepTests
{
    /// <summary>Every entry with sample calls.</summary>
    public static TheoryData<string> OpsWithSamples()
    {
        var d = new TheoryData<string>();
        foreach (var op in OpRegistry.All)
            if (op.Samples is not null) d.Add(op.Name);
        return d;
    }

    [Theory]
    [MemberData(nameof(OpsWithSamples))]
    public void GradCheckEverySample(string name)
    {
        var def = OpRegistry.Find(name)!;
        Assert.True(def.Differentiable, $"{name}: non-differentiable entries need no gradient samples");
        int n = 0;
        foreach (var s in def.Samples!())
        {
            try
            {
                GradCheck.Assert(s.Call, s.Inputs, secondOrder: def.SecondOrder && s.SecondOrder, forwardMode: def.HasJvp);
            }
            catch (GradCheckException e)
            {
                throw new GradCheckException($"{name}, sample '{s.Label}': {e.Message}");
            }
            n++;
        }
        Assert.True(n > 0, $"{name}: the entry's Samples yield nothing");
    }

    /// <summary>Every differentiable entry carries samples, except the graph plumbing of <see cref="GraphOps"/> (a guard that
    /// raises, the end of a forward-mode section), which their own tests cover.</summary>
    [Fact]
    public void EveryDifferentiableEntryHasSamples()
    {
        var callSite = typeof(GraphOps).GetFields(System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Public)
            .Select(f => f.GetValue(null)).OfType<OpDef>().ToHashSet();
        var missing = OpRegistry.All.Where(d => d.Differentiable && d.Samples is null && !callSite.Contains(d)).Select(d => d.Name).ToList();
        Assert.True(missing.Count == 0, "entries without samples: " + string.Join(", ", missing));
    }

    [Fact]
    public void NamesAreUniqueAndEveryEntryDeclaresItsModes()
    {
        var all = OpRegistry.All;
        Assert.Equal(all.Count, all.Select(d => d.Name).Distinct().Count());
        foreach (var d in all)
        {
            if (d.Differentiable) Assert.True(d.HasVjp, $"{d.Name}: a differentiable entry must declare a VJP");
            else Assert.False(d.HasVjp || d.HasJvp, $"{d.Name}: a non-differentiable entry declares no rules");
        }
    }

    [Fact]
    public void NonDifferentiableOpsSayWhyWhenAskedForAGradient()
    {
        var x = Tensor.FromArray([1.0, 2.0]).RequiresGrad_();
        var b = x.Gt(1.5);
        Assert.False(b.RequiresGrad);
        Assert.Throws<AutogradException>(() => b.Backward());
    }
}

/// <summary><c>fluxion ops</c> prints the registry.</summary>
public class OpsCommandTests
{
    private static (int Code, string Out) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Fluxion.Cli.Program.Run(args, o, e);
        return (code, o.ToString() + e.ToString());
    }

    [Fact]
    public void JsonHasOneObjectPerOpWithTheDesignFields()
    {
        var (code, text) = Run("ops", "--json");
        Assert.Equal(0, code);
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(OpRegistry.All.Count, lines.Length);
        foreach (var line in lines)
        {
            using var doc = System.Text.Json.JsonDocument.Parse(line);
            var r = doc.RootElement;
            foreach (var field in new[] { "name", "torch", "dtypes", "vjp", "jvp", "batched_jvp", "vmap", "fused_backward", "second_order" })
                Assert.True(r.TryGetProperty(field, out _), $"missing {field} in {line}");
        }
        var tanh = lines.Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).Single(r => r.GetProperty("name").GetString() == "Tanh");
        Assert.Contains("tanh", tanh.GetProperty("torch").EnumerateArray().Select(t => t.GetString()));
        Assert.True(tanh.GetProperty("vjp").GetBoolean() && tanh.GetProperty("jvp").GetBoolean() && tanh.GetProperty("batched_jvp").GetBoolean());
        var gt = lines.Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).Single(r => r.GetProperty("name").GetString() == "Gt");
        Assert.False(gt.GetProperty("differentiable").GetBoolean());
    }

    [Fact]
    public void DocsOpsTableIsTheRegistry()
    {
        // docs/ops.md (linked from the README) is `fluxion ops --markdown`; regenerate it when an op is added:
        //   dotnet run -c Release --project src/Fluxion.Cli -- ops --markdown > docs/ops.md
        var path = Path.Combine(ReadmeTests.RepoRoot(), "docs", "ops.md");
        var (_, md) = Run("ops", "--markdown");
        Assert.True(File.ReadAllText(path).ReplaceLineEndings("\n") == md.ReplaceLineEndings("\n"),
            "docs/ops.md is out of date: regenerate it with `dotnet run -c Release --project src/Fluxion.Cli -- ops --markdown > docs/ops.md`.");
    }

    [Fact]
    public void MarkdownAndFamilyFilter()
    {
        var (code, md) = Run("ops", "--markdown");
        Assert.Equal(0, code);
        Assert.Contains("| Tanh | `tanh` | unary |", md);
        var (code2, unary) = Run("ops", "--family", "unary");
        Assert.Equal(0, code2);
        Assert.Contains("Tanh", unary);
        Assert.DoesNotContain("MatMul", unary);
        Assert.Equal(2, Run("ops", "--family", "nope").Code);
        Assert.Equal(2, Run("ops", "--bogus").Code);
    }
}
