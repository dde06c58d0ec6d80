using System.Text.Json;

namespace Fluxion.Tests;

/// <summary><c>fluxion bench ops</c>: names, modes, scaled shapes, skips with reasons, and the spec for the other sides.</summary>
public class OpsBenchTests
{
    private static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Fluxion.Cli.Program.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    [Fact]
    public void SweepNamesModesAndShapes()
    {
        // "sub" matches sub, rsub (differentiable: fwd and fwdbwd); "Eq" runs the bench-only call of a comparison (fwd only)
        var (code, output, err) = Cli("bench", "ops", "--json", "--size", "8", "--filter", "sub", "--runs", "2", "--warmup-s", "0");
        Assert.True(code == 0, err);
        var rows = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var names = rows.Select(r => r.GetProperty("name").GetString()).ToList();
        Assert.Contains("ops/sub/8/fwd", names);
        Assert.Contains("ops/sub/8/fwdbwd", names);
        var sub = rows.First(r => r.GetProperty("name").GetString() == "ops/sub/8/fwd");
        Assert.Equal("[8,8];[8,8]", sub.GetProperty("shapes").GetString());
        Assert.Equal("float32", sub.GetProperty("dtype").GetString());
        Assert.True(sub.GetProperty("median_ms").GetDouble() > 0);
        Assert.InRange(sub.GetProperty("runs").GetInt32(), 1, 2);

        var eq = Cli("bench", "ops", "--json", "--size", "8", "--filter", "eq", "--runs", "1", "--warmup-s", "0");
        Assert.True(eq.Code == 0, eq.Err);
        Assert.Contains("\"name\":\"ops/eq/8/fwd\"", eq.Out);
        Assert.DoesNotContain("ops/eq/8/fwdbwd", eq.Out);
        // an op the sweep cannot run is listed with its reason, not dropped
        Assert.Contains("skipped ops/equal/8: no sample inputs in the registry", eq.Err);
    }

    [Fact]
    public void SpecListsScaledInputs()
    {
        var (code, output, err) = Cli("bench", "ops", "--spec", "--size", "64", "--filter", "matmul");
        Assert.True(code == 0, err);
        var spec = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement)
            .First(r => r.GetProperty("torch").GetString() == "matmul");
        // a matmul stays a matmul: every dim >= 2 of the sample maps to the size
        var shapes = spec.GetProperty("shapes").EnumerateArray().Select(s => s.EnumerateArray().Select(d => d.GetInt32()).ToArray()).ToArray();
        Assert.All(shapes, s => Assert.All(s, d => Assert.True(d == 64 || d == 1, $"dim {d}")));
        Assert.True(spec.GetProperty("differentiable").GetBoolean());
        Assert.Equal(shapes.Length, spec.GetProperty("pools").GetArrayLength());
        Assert.Equal(2, Cli("bench", "tiny", "--spec").Code);
    }
}
