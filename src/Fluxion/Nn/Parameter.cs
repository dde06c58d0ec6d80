namespace Fluxion.Nn;

/// <summary>
/// A tensor that is a module's learnable state: a leaf that requires grad (unless told otherwise)
/// and is listed by <see cref="Module.Parameters"/>. It shares storage with the tensor it wraps.
/// </summary>
public sealed class Parameter : Tensor
{
    /// <summary>Wraps <paramref name="data"/> (detached: a parameter is always a leaf).</summary>
    public Parameter(Tensor data, bool requiresGrad = true)
        : base(data.Storage, data.ShapeArray, data.Strides.ToArray(), data.Offset)
    {
        data.Storage.Keep(); // a module's state: never released by a TensorScope
        RequiresGrad = requiresGrad;
    }

    /// <summary>A parameter standing in for <paramref name="source"/> during <see cref="Functional.Call(Module, IReadOnlyDictionary{string, Tensor}, IReadOnlyDictionary{string, Tensor}?, Tensor)"/>:
    /// the same values, and gradients, tangents and vmap's tracing flow through to the source (a recorded alias).</summary>
    /// <remarks>A factory, not a one-argument constructor: inside this assembly and its friends, <c>new Parameter(t)</c>
    /// would bind to such a constructor instead of the public one (and make an alias instead of a leaf).</remarks>
    internal static Parameter AliasOf(Tensor source) => new(source, AliasTag.Instance);

    private Parameter(Tensor source, AliasTag _)
        : base(source.Storage, source.ShapeArray, source.Strides.ToArray(), source.Offset)
    {
        Op.Record(GraphOps.Alias, this, [source]);
    }

    private sealed class AliasTag
    {
        public static readonly AliasTag Instance = new();
    }
}
