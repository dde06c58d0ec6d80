using Fluxion.Cli;

namespace Fluxion.Tests;

public class CliTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Program.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    [Fact]
    public void BenchAllIncludesGemm()
    {
        Assert.Contains("gemm", Fluxion.Cli.Bench.BenchCommand.Suites.Keys);
        Assert.DoesNotContain("gemm", Fluxion.Cli.Bench.BenchCommand.SlowSuites);
        var w = Fluxion.Cli.Bench.GemmBench.Case(DType.Float64, 8, Fluxion.Cli.Bench.GemmForm.ABt);
        Assert.Equal("gemm/float64/8/abT", w.Name);
        Assert.True(w.WarmupSeconds >= 0.5);
        Assert.Equal(2 * 8 * 8 * 8 / 1e-3 / 1e9, Fluxion.Cli.Bench.GemmBench.GFlops(8, 1.0), 12); // 1024 flops in 1 ms
    }

    [Fact]
    public void GemmReportsItsFractionOfTheFmaCeilingMeasuredInTheSameRun()
    {
        Assert.Contains("fma", Fluxion.Cli.Bench.BenchCommand.Suites.Keys);
        string fma = Fluxion.Cli.Bench.FmaBench.AllCoresName;
        Assert.Contains(fma, Fluxion.Cli.Bench.GemmBench.Workloads().Take(2).Select(w => w.Name));
        Fluxion.Cli.Bench.FmaBench.Run(2, 1000); // the loop runs on two threads
        // a 100³ product in 1 ms is 2 GFLOP/s; an FMA run taking this long is a 4 GFLOP/s ceiling
        double fmaMs = Fluxion.Cli.Bench.FmaBench.FlopsPerThread * Environment.ProcessorCount / 4e9 * 1e3;
        var results = new Dictionary<string, Fluxion.Cli.Bench.BenchResult>
        {
            ["g"] = new("g", 1.0, 1.0, 1.0, 1, 0, 0, 0, 0),
            [fma] = new(fma, fmaMs, fmaMs, fmaMs, 1, 0, 0, 0, 0),
        };
        var f32 = Fluxion.Cli.Bench.GemmBench.Throughput("g", 100, () => { }).Extra!(results);
        Assert.Equal(4.0, (double)f32["ceiling_gflops"], 6);
        Assert.Equal(0.5, (double)f32["ceiling_fraction"], 6);
        var f64 = Fluxion.Cli.Bench.GemmBench.Throughput("g", 100, () => { }, float64: true).Extra!(results);
        Assert.Equal(1.0, (double)f64["ceiling_fraction"], 6); // float64's ceiling is half
        results.Remove(fma); // without the FMA workload (a case measured alone): no ceiling fields
        Assert.False(Fluxion.Cli.Bench.GemmBench.Throughput("g", 100, () => { }).Extra!(results).ContainsKey("ceiling_fraction"));
    }

    [Fact]
    public void DemoPrintsEveryNodeAndPasses()
    {
        var (code, output, err) = Run("demo");
        Assert.Equal(0, code);
        Assert.Equal("", err);
        foreach (var node in new[] { "e^x", "e^-x", "s = e^x + e^-x", "cosh = s / 2", "tanh = d / s", "ExpBackward", "DivBackward" })
            Assert.Contains(node, output);
        Assert.Contains("OK    d cosh/dx = sinh(x)", output);
        Assert.Contains("OK    d tanh/dx = 1 - tanh(x)^2", output);
        Assert.DoesNotContain("FAIL", output);
        Assert.Contains("0.750000000000", output); // sinh(ln 2)
        Assert.Contains("0.640000000000", output); // 1 - tanh(ln 2)^2
    }

    [Fact]
    public void DemoRichRendersATable()
    {
        var o = new StringWriter();
        Assert.Equal(0, Program.Run(["demo"], o, new StringWriter(), rich: true));
        Assert.Contains("dcosh/dnode", o.ToString());
        Assert.Contains("OK", o.ToString());
    }

    [Fact]
    public void DemoAcceptsAnotherPoint()
    {
        var (code, output, _) = Run("demo", "--x", "0.5");
        Assert.Equal(0, code);
        Assert.Contains("x = 0.500000000000", output);
        Assert.Equal(2, Run("demo", "--x").Code);
        Assert.Equal(2, Run("demo", "--x", "abc").Code);
    }

    [Theory]
    [InlineData("frobnicate")]
    [InlineData("--bogus")]
    public void UnknownCommandPrintsUsageAndExits2(string arg)
    {
        var (code, output, err) = Run(arg);
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Contains("Usage: fluxion", err);
        Assert.Contains(arg, err);
        Assert.DoesNotContain("   at ", err); // no stack trace
    }

    [Fact]
    public void UnknownDemoArgumentPrintsDemoUsage()
    {
        var (code, _, err) = Run("demo", "--fast");
        Assert.Equal(2, code);
        Assert.Contains("unknown argument '--fast'", err);
        Assert.Contains("Usage: fluxion demo", err);
    }

    [Fact]
    public void HelpAndNoArguments()
    {
        var (code, output, _) = Run("--help");
        Assert.Equal(0, code);
        Assert.Contains("demo", output);
        Assert.Contains("train", output);
        Assert.Equal(0, Run("demo", "--help").Code);
        var (code2, _, err2) = Run();
        Assert.Equal(2, code2);
        Assert.Contains("Usage: fluxion", err2);
    }
}
