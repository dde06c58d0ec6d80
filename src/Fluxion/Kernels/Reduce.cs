using System.Numerics;
using System.Numerics.Tensors;

namespace Fluxion.Kernels;

/// <summary>Row reductions over a dense [rows, inner] layout.</summary>
internal static class Reduce
{
    public static void RowSum<T>(ReadOnlySpan<T> x, int rows, int inner, Span<T> dst) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int r = 0; r < rows; r++) dst[r] = TensorPrimitives.Sum(x.Slice(r * inner, inner));
    }
}
