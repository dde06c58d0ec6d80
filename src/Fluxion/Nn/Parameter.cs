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
        RequiresGrad = requiresGrad;
    }

    /// <summary>A parameter standing in for <paramref name="source"/> during <see cref="Functional.Call(Module, IReadOnlyDictionary{string, Tensor}, IReadOnlyDictionary{string, Tensor}?, Tensor)"/>:
    /// the same values, and gradients, tangents and vmap's tracing flow through to the source (a recorded alias).</summary>
    internal Parameter(Tensor source)
        : base(source.Storage, source.ShapeArray, source.Strides.ToArray(), source.Offset)
    {
        Op.Record(AliasOp, this, [source]);
    }
}
