namespace Fluxion;

/// <summary>
/// Recording observers: code that wants to see which tensors requiring grad an op would record a node for,
/// instead of the node (checkpointing collects the inputs of a segment this way). Per thread; scopes nest and
/// the innermost one receives the inputs.
/// </summary>
internal static class Recording
{
    /// <summary>Tensors requiring grad reported by recording ops while a collection is active.</summary>
    [ThreadStatic] private static List<Tensor>? t_collected;

    /// <summary>Whether the active collection only observes (ops still record their nodes).</summary>
    [ThreadStatic] private static bool t_observeOnly;

    /// <summary>
    /// Starts an input collection on this thread: until the scope is disposed, ops that would record a node
    /// record nothing and instead report their inputs that require grad to <paramref name="sink"/>.
    /// </summary>
    internal static CollectScope CollectInputs(List<Tensor> sink) => new(sink, false);

    /// <summary>
    /// Like <see cref="CollectInputs"/>, but ops still record their nodes: they report their inputs that
    /// require grad to <paramref name="sink"/> and record as usual (a loop step that must keep its graph
    /// and also tell which captured tensors it used).
    /// </summary>
    internal static CollectScope ObserveInputs(List<Tensor> sink) => new(sink, true);

    /// <summary>Restores the previous input collection when disposed.</summary>
    internal readonly struct CollectScope : IDisposable
    {
        private readonly List<Tensor>? _previous;
        private readonly bool _previousObserve;

        public CollectScope(List<Tensor> sink, bool observeOnly)
        {
            _previous = t_collected;
            _previousObserve = t_observeOnly;
            t_collected = sink;
            t_observeOnly = observeOnly;
        }

        public void Dispose()
        {
            t_collected = _previous;
            t_observeOnly = _previousObserve;
        }
    }

    /// <summary>During a collection: reports <paramref name="x"/> and returns true (the caller records no node).</summary>
    internal static bool TryCollect(Tensor x)
    {
        if (t_collected is not { } sink) return false;
        sink.Add(x);
        return !t_observeOnly;
    }

    /// <inheritdoc cref="TryCollect(Tensor[])"/>
    internal static bool TryCollect(Tensor a, Tensor b)
    {
        if (t_collected is not { } sink) return false;
        if (a.RequiresGrad) sink.Add(a);
        if (b.RequiresGrad) sink.Add(b);
        return !t_observeOnly;
    }

    /// <summary>During a collection: reports <paramref name="inputs"/> that require grad and returns true
    /// (the caller must then not record a node). Otherwise returns false.</summary>
    internal static bool TryCollect(Tensor[] inputs)
    {
        if (t_collected is not { } sink) return false;
        foreach (var t in inputs) if (t.RequiresGrad) sink.Add(t);
        return !t_observeOnly;
    }
}

/// <summary>Anomaly detection switch (see <see cref="Autograd.DetectAnomaly"/>).</summary>
internal static class Anomaly
{
    [ThreadStatic] public static bool Enabled;
}
