namespace Fluxion.Cli;

/// <summary>The <c>fluxion</c> command.</summary>
public static class Program
{
    /// <summary>Entry point.</summary>
    public static int Main(string[] args)
    {
        Console.WriteLine("fluxion");
        return 0;
    }
}
