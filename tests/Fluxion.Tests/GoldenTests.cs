namespace Fluxion.Tests;

/// <summary>
/// Compares the primitives' outputs and input gradients with PyTorch (golden/*.json, made by
/// tests/golden/make_golden.py). The gradient is of loss = sum_k sum(out_k * w_k) for the stored w.
/// No hand-kept op table: each case's op is called through its registry entry (<see cref="RegistryCall"/>).
/// </summary>
public class GoldenTests
{
    /// <summary>Ids of all golden cases.</summary>
    public static IEnumerable<object[]> Cases() => Golden.All().Select(c => new object[] { c.Id });

    [Fact]
    public void EveryGoldenOpIsARegistryEntryWithABindableMethod()
    {
        var problems = new List<string>();
        foreach (var c in Golden.All())
        {
            if (RegistryCall.Entry(c.Op) is null) problems.Add($"{c.Id}: no registry entry for {c.Op}");
            else if (RegistryCall.Bind(c.Op, c.Inputs.Length, RegistryCall.Args(c.Args)) is null) problems.Add($"{c.Id}: no public Tensor method of {c.Op} takes these inputs and args {c.Args}");
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorch(string id) => GoldenFamily.Run(id, GoldenFamily.FromRegistry(id[..id.IndexOf('/')]));
}
