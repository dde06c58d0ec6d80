using Xunit.Abstractions;

namespace Fluxion.Tests;

public class ComplexityTests
{
    private readonly ITestOutputHelper _out;

    public ComplexityTests(ITestOutputHelper output) => _out = output;

    public static TheoryData<ComplexityCase, SweepParameter> Cases()
    {
        var data = new TheoryData<ComplexityCase, SweepParameter>();
        foreach (var c in Enum.GetValues<ComplexityCase>())
            foreach (var p in Enum.GetValues<SweepParameter>())
                data.Add(c, p);
        return data;
    }

    /// <summary>Small sweeps (a few seconds in all); fitted memory exponents within ±0.25 of the model's.</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void MemoryExponentsMatchTheModel(ComplexityCase c, SweepParameter p)
    {
        var sweep = Complexity.DefaultSweeps(small: true).Single(s => s.Parameter == p);
        var fit = Complexity.Sweep(c, sweep, timedRuns: 1);
        _out.WriteLine($"{c} over {p}: fitted {fit.MemoryExponent:F3}, expected {fit.ExpectedMemoryExponent:F3}; peaks " +
            string.Join(", ", fit.Points.Select(q => q.PeakBytes)));
        Assert.InRange(fit.MemoryExponent, fit.ExpectedMemoryExponent - 0.25, fit.ExpectedMemoryExponent + 0.25);
    }

    [Fact]
    public void LogLogSlopeRecoversAPowerLaw()
    {
        var xs = new double[] { 1, 2, 4, 8 };
        Assert.Equal(1.5, Complexity.LogLogSlope(xs, xs.Select(x => 3 * Math.Pow(x, 1.5)).ToList()), 12);
    }
}
