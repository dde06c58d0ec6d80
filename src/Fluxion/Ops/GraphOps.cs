namespace Fluxion;

/// <summary>
/// Registry entries that are graph plumbing rather than math: a guard whose rules raise a recorded message (a
/// value that must not be differentiated again), and the node through which a forward-mode section hands its
/// gradients to reverse mode (these two carry no samples: their own tests cover them), and the identity alias.
/// </summary>
[OpTable]
internal static class GraphOps
{
    /// <summary>Guards a value whose derivative is not available (the gradient of a once-differentiable custom
    /// function, a fused JVP, a forward-mode output used outside its section): differentiating through it raises
    /// the message recorded as the call's attribute.</summary>
    internal static readonly OpDef Guard = new("NotDifferentiable", OpFamily.Fused)
    {
        Vjp = (in OpCtx c, Tensor g, int i) => throw new AutogradException(c.A<string>()),
        Jvp = (in OpCtx c, Tensor?[] t) => throw new AutogradException(c.A<string>()),
        Doc = "a value that must not be differentiated (again); differentiating it raises the recorded message",
    };

    /// <summary>The end of a forward-mode section: its backward turns the carried tangents, contracted with the
    /// incoming gradient, into the gradients of the section's trainable targets (see MixedMode).</summary>
    internal static readonly OpDef MixedModeOutput = new("MixedModeOutput", OpFamily.Fused)
    {
        VjpAll = (in OpCtx c, Tensor[] g, bool[] needs) => c.A<IGradientSource>().Gradients(g[0], needs),
        Doc = "hands a forward-mode section's gradients to reverse mode",
    };

    /// <summary>A graph-connected alias of a tensor (the identity on the same storage): what forward mode's MakeDual/Unpack and
    /// <c>Functional.Call</c>'s parameter stand-ins record, so gradients, tangents and tracing flow through to the source.</summary>
    internal static readonly OpDef Alias = new("Alias", OpFamily.ShapeIndexCreateOther)
    {
        Linear = true,
        Vjp = (in OpCtx c, Tensor g, int i) => g,
        Jvp = (in OpCtx c, Tensor?[] t) => t[0],
        BatchedJvp = true,
        Samples = () =>
        [
            new("2-d", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 4)], t => t[0].AliasForDual()),
            new("noncontiguous", [OpSamples.Make(OpSamples.Domain.Real, 2, 4, 3).T], t => t[0].AliasForDual()),
            new("0-d", [OpSamples.Make(OpSamples.Domain.Real, 3)], t => t[0].AliasForDual()),
        ],
    };

    /// <summary>Records a guard on <paramref name="value"/> over <paramref name="anchors"/> (those requiring grad).</summary>
    internal static Tensor Guarded(Tensor value, IEnumerable<Tensor> anchors, string message) =>
        Op.Record(Guard, value, anchors.Where(t => t.RequiresGrad).Distinct(ReferenceEqualityComparer.Instance).Cast<Tensor>().ToArray(), message);
}

/// <summary>What a <see cref="GraphOps.MixedModeOutput"/> node asks for its gradients.</summary>
internal interface IGradientSource
{
    /// <summary>The gradients of the node's inputs (null where not needed) given the output's gradient.</summary>
    Tensor?[] Gradients(Tensor g, bool[] needs);
}
