namespace Fluxion;

/// <summary>The element type of a tensor.</summary>
public enum DType
{
    /// <summary>32-bit IEEE float: the working type.</summary>
    Float32,
    /// <summary>64-bit IEEE float: for gradient checks and users who need precision.</summary>
    Float64,
    /// <summary>64-bit signed integer: indices.</summary>
    Int64,
    /// <summary>Boolean: masks.</summary>
    Bool,
}

/// <summary>Helpers for <see cref="DType"/>.</summary>
public static class DTypeExtensions
{
    /// <summary>True for <see cref="DType.Float32"/> and <see cref="DType.Float64"/>.</summary>
    public static bool IsFloatingPoint(this DType d) => d is DType.Float32 or DType.Float64;

    /// <summary>Size of one element in bytes.</summary>
    public static int ElementSize(this DType d) => d switch
    {
        DType.Float32 => 4,
        DType.Float64 => 8,
        DType.Int64 => 8,
        DType.Bool => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(d)),
    };

    /// <summary>The lower-case name used in messages and printing, as PyTorch spells it.</summary>
    public static string Name(this DType d) => d switch
    {
        DType.Float32 => "float32",
        DType.Float64 => "float64",
        DType.Int64 => "int64",
        DType.Bool => "bool",
        _ => d.ToString(),
    };
}

/// <summary>
/// Type promotion, as PyTorch's <c>torch.result_type</c> and <c>torch.promote_types</c>: the dtype an op computes
/// in and returns when its operands' dtypes differ. Every mixed-dtype elementwise op (the arithmetic operators and
/// their scalar forms, the binary math ops, comparisons, <see cref="Tensor.Where(Tensor, Tensor, Tensor)"/>, the
/// in-place forms) takes its dtype from here.
/// <list type="bullet">
/// <item>The dtypes are ordered bool &lt; int64 &lt; float32 &lt; float64 and fall into three categories,
/// bool &lt; integer &lt; floating; <see cref="Promote"/> takes the larger of two dtypes.</item>
/// <item>Operands take part in three priority classes: tensors with dimensions, 0-d tensors, and .NET scalars.
/// A lower class changes the result only when its category is higher: a 0-d tensor or a scalar never widens a
/// dimensioned tensor of the same category (<c>float32 tensor + 2.0</c> and <c>float32 tensor + 0-d float64</c>
/// stay float32; <c>float64 tensor + 1f</c> stays float64), but an integer tensor with a float scalar becomes
/// floating.</item>
/// <item>A .NET <see cref="double"/> (or <see cref="float"/>) scalar counts as the default float dtype, float32
/// (<c>int64 tensor + 0.5</c> is float32); a <see cref="long"/> (or <see cref="int"/>) scalar counts as int64
/// (<c>bool tensor + 1</c> is int64).</item>
/// <item>Ops then choose their own output: comparisons give bool, true division of integers gives float32, the
/// sums and products of bool or integer tensors give int64.</item>
/// <item>The inputs are converted to the result dtype differentiably, so the gradient reaching an input has that
/// input's dtype (the float32 operand of a float64 product gets a float32 gradient), as in PyTorch. Integer and
/// bool inputs never require grad.</item>
/// <item>An in-place op writes the result dtype back into its target's dtype when PyTorch's casting rule allows it
/// (<see cref="CanCast"/>: not floating into integer or bool, not integer into bool); otherwise it throws a
/// <see cref="DTypeMismatchException"/> ("result type float32 can't be cast to the desired output type int64").</item>
/// </list>
/// </summary>
public static class DTypes
{
    /// <summary>The category of a dtype: 0 bool, 1 integer, 2 floating.</summary>
    private static int Category(DType d) => d switch { DType.Bool => 0, DType.Int64 => 1, _ => 2 };

    /// <summary>The position of a dtype in the promotion order bool &lt; int64 &lt; float32 &lt; float64.</summary>
    private static int Order(DType d) => d switch { DType.Bool => 0, DType.Int64 => 1, DType.Float32 => 2, _ => 3 };

    /// <summary>The smallest dtype both <paramref name="a"/> and <paramref name="b"/> convert to (PyTorch's
    /// <c>torch.promote_types</c>): the larger of the two in the order bool &lt; int64 &lt; float32 &lt; float64.</summary>
    public static DType Promote(DType a, DType b) => Order(a) >= Order(b) ? a : b;

    /// <summary>Whether a value of dtype <paramref name="from"/> may be written into a tensor of dtype <paramref name="to"/>
    /// by an in-place op (PyTorch's <c>torch.can_cast</c>): anything but floating into integer or bool, or integer into bool.</summary>
    public static bool CanCast(DType from, DType to) => Category(from) <= Category(to);

    /// <summary>The result dtype of an op on two tensors (PyTorch's <c>torch.result_type(a, b)</c>): 0-d tensors take part
    /// by category only (see <see cref="DTypes"/>).</summary>
    public static DType ResultType(Tensor a, Tensor b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.DType == b.DType) return a.DType;
        DType? dim = null, zero = null;
        foreach (var t in (ReadOnlySpan<Tensor>)[a, b])
        {
            if (t.Rank == 0) zero = zero is { } z ? Promote(z, t.DType) : t.DType;
            else dim = dim is { } d ? Promote(d, t.DType) : t.DType;
        }
        return Combine(dim, zero, null);
    }

    /// <summary>The result dtype of an op on a tensor and a .NET floating-point scalar, which counts as the default
    /// float dtype float32 (PyTorch's <c>torch.result_type(t, 0.5)</c>): floating tensors keep their dtype, integer and
    /// bool tensors give float32.</summary>
    public static DType ResultType(Tensor tensor, double scalar)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        return ResultType(tensor, DType.Float32);
    }

    /// <summary>The result dtype of an op on a tensor and a .NET integer scalar, which counts as int64 (PyTorch's
    /// <c>torch.result_type(t, 2)</c>): bool tensors give int64, the others keep their dtype.</summary>
    public static DType ResultType(Tensor tensor, long scalar)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        return ResultType(tensor, DType.Int64);
    }

    /// <summary>A tensor against a scalar whose dtype counts as <paramref name="scalar"/>.</summary>
    private static DType ResultType(Tensor tensor, DType scalar) =>
        tensor.Rank == 0 ? Combine(null, tensor.DType, scalar) : Combine(tensor.DType, null, scalar);

    /// <summary>PyTorch's <c>result_type(ResultTypeState)</c>: the dimensioned tensors' dtype, widened by the 0-d
    /// tensors' and then the scalars' only where those are of a higher category.</summary>
    private static DType Combine(DType? dim, DType? zero, DType? wrapped) =>
        CombineCategories(dim, CombineCategories(zero, wrapped)) ?? throw new ArgumentException("ResultType: no operands.");

    private static DType? CombineCategories(DType? higher, DType? lower) =>
        higher is not { } h ? lower
        : lower is not { } l ? h
        : Category(l) > Category(h) ? Promote(h, l) : h;
}
