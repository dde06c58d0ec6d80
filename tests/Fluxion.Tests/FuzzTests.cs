using Fluxion.Cli;

namespace Fluxion.Tests;

// Property-based tests of the file readers (issue 21): seeded mutations of valid safetensors and IDX files
// (Fuzzer in src/Fluxion.Cli/FuzzCommand.cs). Every case must end in a valid load whose values are the
// file's, or a FluxionException that left the model and optimizer unchanged; never an untyped exception,
// never more than the case's allocation bound or a second. A bounded number of cases runs here; long runs
// are `fluxion fuzz safetensors --cases 100000` and `fluxion fuzz idx --cases 25000`.
public class FuzzTests
{
    private static void AssertClean(FuzzReport r, int cases)
    {
        Assert.True(r.Bad == 0, $"{r.Bad} of {cases} case(s) failed:\n" + string.Join("\n", r.Failures.Select(c => $"case {c.Index}: {c.Outcome}: {c.Error} [{c.Mutation}]")));
        Assert.Equal(cases, r.Counts.Values.Sum());
        // both kinds of acceptable outcome occur, so the oracle checks loads as well as rejections
        Assert.True(r.Counts[FuzzOutcome.Loaded] > cases / 100, $"only {r.Counts[FuzzOutcome.Loaded]} loads");
        Assert.True(r.Counts[FuzzOutcome.TypedError] > cases / 10, $"only {r.Counts[FuzzOutcome.TypedError]} typed errors");
        Assert.True(r.MaxSeconds <= Fuzzer.MaxSecondsPerCase);
        Assert.True(r.MaxAllocationRatio <= 1);
    }

    [Fact]
    public void MutatedSafeTensorsFilesLoadOrFailCleanly()
    {
        const int cases = 1500;
        AssertClean(Fuzzer.Run(FuzzFormat.SafeTensors, cases, seed: 21), cases);
    }

    [Fact]
    public void MutatedIdxFilesLoadOrFailCleanly()
    {
        const int cases = 1000;
        AssertClean(Fuzzer.Run(FuzzFormat.Idx, cases, seed: 21), cases);
    }

    [Fact]
    public void CasesAreReproducibleFromSeedAndIndex()
    {
        for (int i = 0; i < 4; i++)
        {
            var a = Fuzzer.RunCase(FuzzFormat.SafeTensors, 7, i);
            var b = Fuzzer.RunCase(FuzzFormat.SafeTensors, 7, i);
            Assert.Equal((a.Mutation, a.Outcome, a.FileBytes), (b.Mutation, b.Outcome, b.FileBytes));
            var c = Fuzzer.RunCase(FuzzFormat.Idx, 7, i);
            var d = Fuzzer.RunCase(FuzzFormat.Idx, 7, i);
            Assert.Equal((c.Mutation, c.Outcome, c.FileBytes), (d.Mutation, d.Outcome, d.FileBytes));
        }
    }

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Program.Run(["fuzz", .. args], o, e);
        return (code, o.ToString(), e.ToString());
    }

    [Fact]
    public void FuzzCommandPrintsTheCountOfEachOutcome()
    {
        var (code, output, err) = Run("idx", "--cases", "60", "--seed", "3");
        Assert.True(code == 0, output + err);
        Assert.Contains("fuzz idx: 60 cases, seed 3", output);
        foreach (var label in new[] { "loaded", "typed error", "untyped exception", "partial change", "wrong values", "oversized allocation", "slow (> 1 s)" })
            Assert.Contains(label, output);
        Assert.Matches(@"untyped exception\s+0\n", output.ReplaceLineEndings("\n"));

        (code, output, _) = Run("safetensors", "--seed", "3", "--case", "5");
        Assert.Equal(0, code);
        Assert.Contains("case 5 (seed 3):", output);
    }

    [Theory]
    [InlineData(new string[0], "give the format to fuzz")]
    [InlineData(new[] { "pickle" }, "unknown format 'pickle'")]
    [InlineData(new[] { "idx", "--cases", "0" }, "--cases needs a positive integer")]
    [InlineData(new[] { "idx", "--cases" }, "--cases needs a positive integer")]
    [InlineData(new[] { "idx", "--seed", "x" }, "--seed needs an integer")]
    [InlineData(new[] { "idx", "--frobnicate" }, "unknown option '--frobnicate'")]
    [InlineData(new[] { "idx", "idx" }, "unexpected argument 'idx'")]
    public void FuzzCommandRejectsBadArguments(string[] args, string message)
    {
        var (code, output, err) = Run(args);
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Contains(message, err);
    }
}
