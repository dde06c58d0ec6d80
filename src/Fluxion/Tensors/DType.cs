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
