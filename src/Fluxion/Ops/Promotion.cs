namespace Fluxion;

/// <summary>Type promotion of the elementwise ops' operands and their .NET scalar operands (PyTorch's rules, <see cref="DTypes.ResultType(Tensor, Tensor)"/>).</summary>
public partial class Tensor
{
    /// <summary>A 0-d tensor of this tensor's dtype holding <paramref name="v"/> (fills and internal constants; the
    /// scalar operands of the arithmetic take <see cref="ScalarOperand(double)"/>).</summary>
    internal Tensor ScalarLike(double v) => Scalar(v, DType);

    /// <summary>A .NET floating-point scalar as the operand of an op with this tensor: a 0-d tensor of their result dtype
    /// (<see cref="DTypes.ResultType(Tensor, double)"/>: this dtype when floating, else float32).</summary>
    internal Tensor ScalarOperand(double v) => Scalar(v, DTypes.ResultType(this, v));

    /// <summary>A .NET integer scalar as the operand of an op with this tensor: a 0-d tensor of their result dtype
    /// (<see cref="DTypes.ResultType(Tensor, long)"/>: int64 for a bool tensor, else this dtype), exact in int64.</summary>
    internal Tensor ScalarOperand(long v)
    {
        var dt = DTypes.ResultType(this, v);
        if (dt != DType.Int64) return Scalar(v, dt);
        var s = Scalar(0, DType.Int64);
        s.Storage.As<long>()[0] = v;
        return s;
    }

    /// <summary>This tensor converted to <paramref name="dtype"/> (differentiably between float dtypes), or itself when it
    /// has that dtype already.</summary>
    internal Tensor AsDType(DType dtype) => DType == dtype ? this : To(dtype);

    /// <summary>Converts both operands of an elementwise op to their result dtype (<see cref="DTypes.ResultType(Tensor, Tensor)"/>,
    /// PyTorch's type promotion), differentiably: the gradient reaching each input is converted back to its dtype.</summary>
    internal static void Promote(ref Tensor a, ref Tensor b)
    {
        if (a.DType == b.DType) return;
        var dt = DTypes.ResultType(a, b);
        a = a.AsDType(dt);
        b = b.AsDType(dt);
    }
}
