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
}
