namespace Fluxion;

/// <summary>Shape arithmetic: element counts, contiguous strides, broadcasting, dim wrapping.</summary>
internal static class ShapeUtil
{
    /// <summary>The largest element count of one tensor (the largest .NET array).</summary>
    public static int MaxElements => Array.MaxLength;

    public static int Numel(ReadOnlySpan<int> shape) => CheckedNumel("Tensor", shape);

    /// <summary>
    /// The element count of <paramref name="shape"/>, computed without overflow. Throws a
    /// <see cref="ShapeMismatchException"/> naming <paramref name="op"/> when a dim is negative or the
    /// product of the dims (zeros counted as ones, so that the strides fit too) exceeds <see cref="MaxElements"/>.
    /// </summary>
    public static int CheckedNumel(string op, ReadOnlySpan<int> shape)
    {
        long n = 1, strideSpan = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ShapeMismatchException($"{op}: negative dimension {d} in shape {Format(shape)}.");
            n *= d; // both stay <= MaxElements before each multiply, so no long overflow
            strideSpan *= Math.Max(d, 1);
            if (strideSpan > MaxElements)
                throw new ShapeMismatchException(
                    $"{op}: shape {Format(shape)} is too large: the product of its dims{(n == 0 ? " (ignoring the zero ones, which the strides still span)" : "")} exceeds {MaxElements}, the most elements one tensor can hold.");
        }
        return (int)n;
    }

    public static int[] ContiguousStrides(ReadOnlySpan<int> shape)
    {
        var s = new int[shape.Length];
        int acc = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            s[i] = acc;
            acc *= Math.Max(shape[i], 1);
        }
        return s;
    }

    public static bool IsContiguous(ReadOnlySpan<int> shape, ReadOnlySpan<int> strides)
    {
        // an empty tensor has no elements to be out of place (without this, Full([2, 0]) recursed forever)
        foreach (var d in shape) if (d == 0) return true;
        int acc = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            if (shape[i] == 1) continue;
            if (strides[i] != acc) return false;
            acc *= shape[i];
        }
        return true;
    }

    public static string Format(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";

    public static bool SameShape(ReadOnlySpan<int> a, ReadOnlySpan<int> b) => a.SequenceEqual(b);

    /// <summary>NumPy broadcasting of two shapes; throws naming the op and both shapes.</summary>
    public static int[] Broadcast(string op, ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        int n = Math.Max(a.Length, b.Length);
        var r = new int[n];
        for (int i = 0; i < n; i++)
        {
            int da = i < n - a.Length ? 1 : a[i - (n - a.Length)];
            int db = i < n - b.Length ? 1 : b[i - (n - b.Length)];
            if (da == db || db == 1) r[i] = da;
            else if (da == 1) r[i] = db;
            else
                throw new ShapeMismatchException(
                    $"{op}: shapes {Format(a)} and {Format(b)} cannot be broadcast together: dimension {i - n} is {da} in one and {db} in the other. " +
                    "Broadcasting aligns shapes from the right; each pair of sizes must be equal or one of them 1. Reshape or Unsqueeze one operand.");
        }
        return r;
    }

    /// <summary>Wraps a possibly negative dim into [0, rank).</summary>
    public static int WrapDim(string op, int dim, int rank)
    {
        int r = Math.Max(rank, 1);
        if (dim < -r || dim >= r)
            throw new ArgumentOutOfRangeException(nameof(dim), $"{op}: dimension {dim} is out of range for a tensor of rank {rank} (expected a dim in [{-r}, {r - 1}]).");
        return dim < 0 ? dim + r : dim;
    }
}
