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

    /// <summary>
    /// Starts an input collection on this thread: until the scope is disposed, ops that would record a node
    /// record nothing and instead report their inputs that require grad to <paramref name="sink"/>.
    /// </summary>
    internal static CollectScope CollectInputs(List<Tensor> sink) => new(sink);

    /// <summary>Restores the previous input collection when disposed.</summary>
    internal readonly struct CollectScope : IDisposable
    {
        private readonly List<Tensor>? _previous;

        public CollectScope(List<Tensor> sink)
        {
            _previous = t_collected;
            t_collected = sink;
        }

        public void Dispose() => t_collected = _previous;
    }

    /// <summary>During a collection: reports <paramref name="x"/> and returns true (the caller records no node).</summary>
    internal static bool TryCollect(Tensor x)
    {
        if (t_collected is not { } sink) return false;
        sink.Add(x);
        return true;
    }

    /// <inheritdoc cref="TryCollect(Tensor[])"/>
    internal static bool TryCollect(Tensor a, Tensor b)
    {
        if (t_collected is not { } sink) return false;
        if (a.RequiresGrad) sink.Add(a);
        if (b.RequiresGrad) sink.Add(b);
        return true;
    }

    /// <summary>During a collection: reports <paramref name="inputs"/> that require grad and returns true
    /// (the caller must then not record a node). Otherwise returns false.</summary>
    internal static bool TryCollect(Tensor[] inputs)
    {
        if (t_collected is not { } sink) return false;
        foreach (var t in inputs) if (t.RequiresGrad) sink.Add(t);
        return true;
    }
}

/// <summary>Anomaly detection switch (see <see cref="Autograd.DetectAnomaly"/>).</summary>
internal static class Anomaly
{
    [ThreadStatic] public static bool Enabled;
}
