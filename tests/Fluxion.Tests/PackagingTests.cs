using System.Reflection;
using System.Xml.Linq;
using Fluxion.Data;

namespace Fluxion.Tests;

// What a consumer of the NuGet packages gets: a licence, complete metadata, a small core library with the
// dataset in its own assembly, and the fluxion command as a .NET tool.
public class PackagingTests
{
    private static string Root => ReadmeTests.RepoRoot();

    [Fact]
    public void TheRepositoryIsMitLicensedAndTheDatasetKeepsItsLicence()
    {
        var license = File.ReadAllText(Path.Combine(Root, "LICENSE"));
        Assert.StartsWith("MIT License", license);
        Assert.Contains("The Fluxion authors", license);
        var data = File.ReadAllText(Path.Combine(Root, "src", "Fluxion.Datasets", "FashionMnist", "LICENSE.md"));
        Assert.Contains("Zalando SE", data);
    }

    [Fact]
    public void TheCoreLibraryIsSmallAndTheDatasetLivesInItsOwnAssembly()
    {
        var core = typeof(Tensor).Assembly;
        Assert.True(new FileInfo(core.Location).Length < 1_600_000, // no embedded dataset (that is several MB); code alone is ~1.5 MB
            $"Fluxion.dll is {new FileInfo(core.Location).Length} bytes");
        Assert.DoesNotContain(core.GetManifestResourceNames(), n => n.EndsWith(".gz", StringComparison.Ordinal));
        var datasets = Assembly.Load(FashionMnist.DatasetsAssembly);
        Assert.Equal(4, datasets.GetManifestResourceNames().Count(n => n.StartsWith("Fluxion.Data.Embedded.", StringComparison.Ordinal)));
    }

    /// <summary>The value of an MSBuild property in a project file or the shared Directory.Build.props.</summary>
    private static string? Property(string project, string name)
    {
        foreach (var file in new[] { Path.Combine(Root, project), Path.Combine(Root, "Directory.Build.props") })
            if (XDocument.Load(file).Descendants(name).FirstOrDefault() is { } e)
                return e.Value;
        return null;
    }

    [Theory]
    [InlineData("src/Fluxion/Fluxion.csproj", "Fluxion")]
    [InlineData("src/Fluxion.Datasets/Fluxion.Datasets.csproj", "Fluxion.Datasets")]
    [InlineData("src/Fluxion.Cli/Fluxion.Cli.csproj", "Fluxion.Cli")]
    [InlineData("src/Fluxion.Distributed/Fluxion.Distributed.csproj", "Fluxion.Distributed")]
    public void EveryPackageHasCompleteMetadata(string project, string id)
    {
        Assert.Equal(id, Property(project, "PackageId"));
        Assert.Matches(@"^0\.\d+\.\d+$", Property(project, "Version")); // 0.x until the API is stable
        Assert.Equal("MIT", Property(project, "PackageLicenseExpression"));
        Assert.Equal("README.md", Property(project, "PackageReadmeFile"));
        Assert.Equal("git", Property(project, "RepositoryType"));
        Assert.Equal("snupkg", Property(project, "SymbolPackageFormat"));
        Assert.Equal("true", Property(project, "IncludeSymbols"));
        Assert.False(string.IsNullOrWhiteSpace(Property(project, "Authors")));
        Assert.True(Property(project, "Description")?.Length > 40);
        Assert.False(string.IsNullOrWhiteSpace(Property(project, "PackageTags")));
    }

    [Fact]
    public void TheCliPacksAsTheFluxionTool()
    {
        Assert.Equal("true", Property("src/Fluxion.Cli/Fluxion.Cli.csproj", "PackAsTool"));
        Assert.Equal("fluxion", Property("src/Fluxion.Cli/Fluxion.Cli.csproj", "ToolCommandName"));
        Assert.NotNull(typeof(Tensor).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>());
    }
}
