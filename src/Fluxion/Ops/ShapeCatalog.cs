namespace Fluxion;

/// <summary>
/// Registry entries of the public shape, indexing and creation methods that are built from other entries
/// (composites: views through Reshape/Permute/Slice/Expand, joins through Cat, fills through Where) or create
/// tensors without a gradient. Their forwards live in Shape.cs, Index.cs and Creation.cs; their derivatives are
/// those of the entries they are built from.
/// </summary>
[OpTable]
internal static class ShapeCatalog
{
    private static Tensor R(int seed, params int[] shape) => OpSamples.Make(OpSamples.Domain.Real, seed, shape);

    private static OpDef Composite(string name, string[] of, string[] torch, Func<IEnumerable<OpSample>> samples) =>
        new(name, OpFamily.ShapeIndexCreateOther, torch) { CompositeOf = of, Samples = samples, DTypes = DTypeSet.All };

    private static OpDef Creation(string name, string torch, DTypeSet dtypes = DTypeSet.All) =>
        new(name, OpFamily.ShapeIndexCreateOther, torch) { Differentiable = false, DTypes = dtypes };

    private static Tensor CatFlat(Tensor[] parts) => Tensor.Cat(Array.ConvertAll(parts, p => p.Reshape(-1)), 0);

    // ---- views and reshapes (Shape.cs) -------------------------------------------------------------

    internal static readonly OpDef View = Composite("View", ["Reshape"], ["view"], () =>
        [new("2-d", [R(1, 2, 6)], t => t[0].View(3, -1)), new("0-d", [R(2)], t => t[0].View(1, 1))]);
    internal static readonly OpDef Flatten = Composite("Flatten", ["Reshape"], ["flatten"], () =>
        [new("middle", [R(1, 2, 3, 2)], t => t[0].Flatten(1, 2)), new("noncontiguous", [R(2, 3, 2).T], t => t[0].Flatten()), new("0-d", [R(3)], t => t[0].Flatten())]);
    internal static readonly OpDef Squeeze = Composite("Squeeze", ["Reshape"], ["squeeze"], () =>
        [new("all", [R(1, 1, 3, 1)], t => t[0].Squeeze()), new("one dim", [R(2, 1, 3, 1)], t => t[0].Squeeze(-1)), new("not 1", [R(3, 2, 3)], t => t[0].Squeeze(0))]);
    internal static readonly OpDef Unsqueeze = Composite("Unsqueeze", ["Reshape"], ["unsqueeze"], () =>
        [new("front", [R(1, 2, 3)], t => t[0].Unsqueeze(0)), new("back", [R(2, 2, 3).T], t => t[0].Unsqueeze(-1))]);
    internal static readonly OpDef Transpose = Composite("Transpose", ["Permute"], ["transpose"], () =>
        [new("3-d", [R(1, 2, 3, 4)], t => t[0].Transpose(0, 2)), new("1-d", [R(2, 3)], t => t[0].Transpose(0, -1))]);
    // PyTorch's t() (rank <= 2) and .T (all dims reversed, as PyTorch 1.13 does for any rank)
    internal static readonly OpDef TransposeMatrix = Composite("TransposeMatrix", ["Permute"], ["t", "T"], () =>
        [new("2-d", [R(1, 2, 3)], t => t[0].T), new("1-d", [R(2, 3)], t => t[0].T), new("3-d", [R(3, 2, 3, 4)], t => t[0].T)]);
    internal static readonly OpDef MatrixTranspose = Composite("MatrixTranspose", ["Permute"], ["mT"], () =>
        [new("batched", [R(1, 2, 3, 4)], t => t[0].MT)]);
    internal static readonly OpDef Narrow = Composite("Narrow", ["Slice"], ["narrow"], () =>
        [new("2-d", [R(1, 3, 4)], t => t[0].Narrow(1, 1, 2)), new("negative start", [R(2, 5)], t => t[0].Narrow(0, -3, 2))]);
    internal static readonly OpDef Select = Composite("Select", ["Slice", "Reshape"], ["select"], () =>
        [new("2-d", [R(1, 3, 4)], t => t[0].Select(1, 2)), new("negative", [R(2, 3, 4).T], t => t[0].Select(0, -1))]);
    internal static readonly OpDef ExpandAs = Composite("ExpandAs", ["Expand"], ["expand_as"], () =>
        [new("broadcast", [R(1, 3, 1)], t => t[0].ExpandAs(Tensor.Zeros(2, 3, 4)))]);
    internal static readonly OpDef SumToSize = Composite("SumToSize", ["Sum", "Reshape"], ["sum_to_size"], () =>
        [new("2-d", [R(1, 3, 4)], t => t[0].SumTo([1, 4])), new("drop lead", [R(2, 2, 3, 4)], t => t[0].SumTo([3, 1]))]);

    // ---- joins and splits (Index.cs) ---------------------------------------------------------------

    internal static readonly OpDef Stack = Composite("Stack", ["Reshape", "Cat"], ["stack"], () =>
        [new("dim 0", [R(1, 2, 3), R(2, 2, 3)], t => Tensor.Stack(t)), new("last dim", [R(3, 3), R(4, 3), R(5, 3)], t => Tensor.Stack(t, -1))]);
    internal static readonly OpDef Chunk = Composite("Chunk", ["Split"], ["chunk"], () =>
        [new("uneven", [R(1, 5, 2)], t => CatFlat(t[0].Chunk(2))), new("dim 1", [R(2, 2, 6)], t => CatFlat(t[0].Chunk(3, 1)))]);
    internal static readonly OpDef MaskedFill = Composite("MaskedFill", ["Where"], ["masked_fill"], () =>
        [new("broadcast mask", [R(1, 3, 4)], t => t[0].MaskedFill(Tensor.FromArray([true, false, true, false], 4), -2.5))]);

    // ---- in-place fills (Elementwise.cs) -----------------------------------------------------------

    internal static readonly OpDef ZeroInPlace = Composite("ZeroInPlace", ["Where"], ["zero_"], () =>
        [new("2-d", [R(1, 3, 4)], t => (t[0] * 1.0).ZeroInPlace() + t[0])]);

    // ---- creation (Creation.cs): no gradient, as in PyTorch --------------------------------------------

    internal static readonly OpDef Zeros = Creation("Zeros", "zeros");
    internal static readonly OpDef Ones = Creation("Ones", "ones");
    internal static readonly OpDef ZerosLike = Creation("ZerosLike", "zeros_like");
    internal static readonly OpDef OnesLike = Creation("OnesLike", "ones_like");
    internal static readonly OpDef FullLike = Creation("FullLike", "full_like");
    internal static readonly OpDef Arange = Creation("Arange", "arange", DTypeSet.Floats | DTypeSet.Int64);
    internal static readonly OpDef Linspace = Creation("Linspace", "linspace");
    internal static readonly OpDef Eye = Creation("Eye", "eye");
    internal static readonly OpDef Randn = Creation("Randn", "randn");
    internal static readonly OpDef Uniform = Creation("Uniform", "uniform");
}
