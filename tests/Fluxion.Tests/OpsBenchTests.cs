using System.Text.Json;
using System.Text.Json.Nodes;
using Fluxion.Cli.Bench;

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
        // an op the sweep cannot run is listed with its reason, not dropped (with --json also as a JSON line)
        var zeros = Cli("bench", "ops", "--json", "--size", "8", "--filter", "zeros", "--runs", "1", "--warmup-s", "0");
        Assert.True(zeros.Code == 0, zeros.Err);
        Assert.Contains("skipped ops/zeros/8: no sample inputs in the registry", zeros.Err);
        Assert.Contains("{\"name\":\"ops/zeros/8/fwd\",\"skipped\":\"no sample inputs in the registry\"}", zeros.Out);
        Assert.Contains("\"name\":\"ops/zeros_like/8/fwd\"", zeros.Out);
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

    [Fact]
    public void TorchCallParsesThePythonFormIntoTheTree()
    {
        var t = TorchCall.Parse("torch.add(*torch.aminmax(x0), alpha=2.0)");
        Assert.Equal("torch.add", (string?)t["call"]);
        Assert.Equal("torch.aminmax", (string?)t["args"]![0]!["star"]!["call"]);
        Assert.Equal(2.0, (double)t["kwargs"]!["alpha"]!["float"]!);
        var m = TorchCall.Parse("x0.expand(3, -1)[0].mT");
        Assert.Equal("mT", (string?)m["attr"]);
        Assert.Equal(0, (long)m["of"]!["item"]!);
        var call = m["of"]!["of"]!;
        Assert.Equal(".expand", (string?)call["call"]);
        Assert.Equal(0, (int)call["args"]![0]!["in"]!);
        Assert.Equal(-1, (long)call["args"]![2]!);
        var g = TorchCall.Parse("torch.gather(x1, 0, long([[0, 2], [1, 0]]), out=None)");
        Assert.Equal("int64", (string?)g["args"]![2]!["dtype"]);
        Assert.Equal(2, g["args"]![2]!["tensor"]!.AsArray().Count);
        Assert.Null(g["kwargs"]!["out"]);
        var d = TorchCall.Parse("flatcat(torch.split(x0.to(torch.float64), (1, 2), dim=1))");
        Assert.Equal("flatcat", (string?)d["call"]);
        Assert.Equal("float64", (string?)d["args"]![0]!["args"]![0]!["args"]![1]!["dtype"]);
        Assert.Equal("'x'", TorchCall.Parse("torch.einsum('x', x0)")["args"]![0]!.ToJsonString().Replace("\"", "'"));
        Assert.Throws<FormatException>(() => TorchCall.Parse("numpy.sum(x0)"));
        Assert.Throws<FormatException>(() => TorchCall.Parse("torch.sum(x0"));
        Assert.Throws<FormatException>(() => TorchCall.Parse("torch.sum(dim=1, x0)"));
    }

    [Fact]
    public void PoolIndexIsTheHashTheOtherSidesCompute()
    {
        // bench/torch/ops.py and bench/torchsharp's OpsSuite compute the same (values from the Python formula)
        Assert.Equal([2, 5, 5, 6, 4, 2, 7, 4], Enumerable.Range(0, 8).Select(j => OpsBench.PoolIndex(j, 0, 10)));
        Assert.Equal([0, 0, 1, 4, 4, 4, 4, 0], Enumerable.Range(0, 8).Select(j => OpsBench.PoolIndex(j, 1, 7)));
        Assert.Equal(2, OpsBench.PoolIndex(1048575, 2, 12));
    }

    [Fact]
    public void SpecCarriesEveryCallAndTheTableNamesOnlyRealCases()
    {
        var (code, output, err) = Cli("bench", "ops", "--spec", "--size", "32");
        Assert.True(code == 0, err);
        var cases = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        Assert.True(cases.Count > 250, $"{cases.Count} cases");
        foreach (var c in cases)
        {
            // a call, or the table's reason; never a call text that does not parse
            Assert.True(c["call"] is not null || c["call_skip"] is not null, (string?)c["torch"]);
            Assert.False(((string?)c["call_skip"] ?? "").StartsWith("torch call", StringComparison.Ordinal), (string?)c["call_skip"]);
            Assert.Equal(c["shapes"]!.AsArray().Count, c["requires_grad"]!.AsArray().Count);
            Assert.NotNull(c["abs_sum"]);
        }
        var names = cases.Select(c => (string)c["torch"]!).ToHashSet();
        Assert.Equal(names.Count, cases.Count); // unique workload names (pow:PowScalar)
        var stale = TorchCall.Table.Keys.Where(k => !names.Contains(k)).ToList();
        Assert.True(stale.Count == 0, "ops-torch-calls.txt names no case: " + string.Join(", ", stale));
        var abs = cases.First(c => (string)c["torch"]! == "abs");
        Assert.Equal("torch.abs(x0)", (string?)abs["call_text"]);
    }

    [Fact]
    public void CompareTableSummarizesTheSweep()
    {
        string L(string side, string name, double ms, double? absSum = null) =>
            $"{{\"side\":\"{side}\",\"round\":1,\"name\":\"{name}\",\"median_ms\":{ms}{(absSum is { } a ? $",\"abs_sum\":{a}" : "")}}}";
        var lines = new[]
        {
            L("fluxion", "ops/abs/1024/fwd", 1.0, 10), L("libtorch-2.10", "ops/abs/1024/fwd", 2.0, 10),
            L("fluxion", "ops/exp/1024/fwd", 3.0, 5), L("libtorch-2.10", "ops/exp/1024/fwd", 1.0, 6),
            L("fluxion", "ops/sin/1024/fwd", 1.0), L("libtorch-2.10", "ops/sin/1024/fwd", 1.0),
            L("fluxion", "ops/abs/1024/fwdbwd", 1.0), L("pytorch-1.13", "ops/abs/1024/fwdbwd", 4.0),
            """{"side":"libtorch-2.10","round":1,"name":"ops/median/1024/fwd","skipped":"no overload"}""",
        };
        var text = CompareTable.Format(lines);
        Assert.Contains("ops vs libtorch-2.10, size 1024 fwd: 3 ops, median fluxion/libtorch-2.10 1.000, 1 above 2x: exp 3.0", text);
        Assert.Contains("ops vs pytorch-1.13, size 1024 fwdbwd: 1 ops, median fluxion/pytorch-1.13 0.250, 0 above 2x", text);
        Assert.Contains("2 cases compared, 1 disagreements", text);
        Assert.Contains("ops/exp/1024/fwd: fluxion 5, libtorch-2.10 6", text);
        Assert.Contains("libtorch-2.10 ops/median/1024/fwd: no overload", text);
        Assert.Matches(@"ops/median/1024/fwd\s+-\s+-\s+-", text);
    }
}
