namespace Fluxion;

/// <summary>A vector-Jacobian product for one input: maps the output's gradient to that input's gradient.</summary>
internal delegate Tensor Vjp(Tensor gradOutput);

/// <summary>A Jacobian-vector product: maps the inputs' tangents (null where zero) to the output's tangent.</summary>
internal delegate Tensor? Jvp(Tensor?[] tangents);

/// <summary>
/// Records differentiable primitives. Every op computes its value with kernels and then calls
/// <see cref="Record"/> with one VJP per input and its JVP, side by side: the single place where
/// the op's derivatives live. VJPs are written with tensor ops, so a backward pass run with
/// createGraph records a graph of its own and higher derivatives follow.
/// </summary>
internal static class Op
{
    /// <summary>True when grad mode is on and some input requires grad.</summary>
    public static bool Tracking(Tensor a) => a.RequiresGrad && GradMode.Enabled;

    /// <inheritdoc cref="Tracking(Tensor)"/>
    public static bool Tracking(Tensor a, Tensor b) => (a.RequiresGrad || b.RequiresGrad) && GradMode.Enabled;

    /// <inheritdoc cref="Tracking(Tensor)"/>
    public static bool Tracking(ReadOnlySpan<Tensor> inputs)
    {
        if (!GradMode.Enabled) return false;
        foreach (var t in inputs) if (t.RequiresGrad) return true;
        return false;
    }

    /// <summary>
    /// Attaches <paramref name="output"/> to a new node when grad mode is on and an input requires grad.
    /// <paramref name="vjps"/>[i] is only called when input i needs a gradient.
    /// <paramref name="save"/> lists the tensors the VJPs read, so in-place changes to them are caught.
    /// <paramref name="jvp"/> is the forward-mode rule (used by forward-mode AD).
    /// </summary>
    public static Tensor Record(string name, Tensor output, Tensor[] inputs, Vjp?[] vjps, Jvp? jvp = null, Tensor[]? save = null)
    {
        _ = jvp;
        RecordHook?.Invoke(name, inputs, output, jvp);
        if (!Tracking(inputs)) return output;
        var next = new Edge?[inputs.Length];
        var shapes = new int[inputs.Length][];
        for (int i = 0; i < inputs.Length; i++)
        {
            var t = inputs[i];
            shapes[i] = t.ShapeRef;
            if (!t.RequiresGrad || vjps[i] is null) continue;
            next[i] = t.IsLeaf ? new Edge(AccumulateGrad.For(t), 0) : new Edge(t.GradFn!, t.OutputIndex);
        }
        var saved = save is null ? [] : Array.ConvertAll(save, s => new SavedTensor(s, s.Version));
        BackwardFn backward = (grads, needs) =>
        {
            var result = new Tensor?[vjps.Length];
            for (int i = 0; i < vjps.Length; i++)
                if (needs[i]) result[i] = vjps[i]!(grads[0]);
            return result;
        };
        var node = new Node(name + "Backward", next, shapes, [(output.ShapeRef, output.DType)], backward, saved);
        if (Anomaly.Enabled) node.ForwardTrace = Environment.StackTrace;
        output.SetGradFn(node, 0);
        return output;
    }

    /// <summary>Test hook (per thread): sees every recorded op with its inputs, output and JVP rule,
    /// so JVP rules can be checked before forward-mode AD uses them.</summary>
    [ThreadStatic] internal static Action<string, Tensor[], Tensor, Jvp?>? RecordHook;

    /// <summary>Reduces a broadcast gradient back to <paramref name="shape"/> by summing the broadcast dims.</summary>
    public static Tensor SumTo(Tensor g, ReadOnlySpan<int> shape) => g.SumTo(shape);
}

/// <summary>Anomaly detection switch (see <see cref="Autograd.DetectAnomaly"/>).</summary>
internal static class Anomaly
{
    [ThreadStatic] public static bool Enabled;
}
