namespace Fluxion;

/// <summary>A scope that restores the previous grad mode when disposed.</summary>
public readonly struct GradModeScope : IDisposable
{
    private readonly bool _previous;

    internal GradModeScope(bool enabled)
    {
        _previous = GradMode.Enabled;
        GradMode.Enabled = enabled;
    }

    /// <summary>Restores the grad mode that was in force when the scope was opened.</summary>
    public void Dispose() => GradMode.Enabled = _previous;
}

/// <summary>Thread-local switch that decides whether operations are recorded for backward.</summary>
internal static class GradMode
{
    [ThreadStatic] private static bool _disabled;

    public static bool Enabled
    {
        get => !_disabled;
        set => _disabled = !value;
    }
}
