namespace Fluxion;

/// <summary>The thread's stack of forward-AD levels and which of them are currently suspended.</summary>
internal static class ForwardLevels
{
    [ThreadStatic] private static List<DualLevel>? t_stack;
    [ThreadStatic] private static int t_suspendFrom;
    [ThreadStatic] private static bool t_suspendSet;

    public static List<DualLevel> Stack => t_stack ??= new();

    /// <summary>Number of levels whose tangents ops propagate now (outermost first).</summary>
    public static int ActiveCount
    {
        get
        {
            int n = t_stack?.Count ?? 0;
            return t_suspendSet ? Math.Min(n, t_suspendFrom) : n;
        }
    }

    /// <summary>
    /// While computing the tangent of level <paramref name="index"/> (in the stack), that level and all
    /// inner ones are suspended: the JVP's own ops must not propagate their tangents, only outer
    /// levels' (which gives the correct nested derivatives without perturbation confusion).
    /// </summary>
    public static SuspendScope Suspend(int index) => new(index);

    public readonly struct SuspendScope : IDisposable
    {
        private readonly int _prev;
        private readonly bool _prevSet;

        public SuspendScope(int index)
        {
            _prev = t_suspendFrom;
            _prevSet = t_suspendSet;
            t_suspendFrom = t_suspendSet ? Math.Min(t_suspendFrom, index) : index;
            t_suspendSet = true;
        }

        public void Dispose()
        {
            t_suspendFrom = _prev;
            t_suspendSet = _prevSet;
        }
    }
}
