using Fluxion.Kernels;

namespace Fluxion;

// Reductions over dims (keepDim as PyTorch). VJPs broadcast the output gradient back.
public sealed partial class Tensor
{
    /// <summary>The reduced dims of a reduction, sorted and de-duplicated; null or empty means all dims.</summary>
    internal int[] ReduceDims(string op, int[]? dims)
    {
        if (dims is null || dims.Length == 0) return Enumerable.Range(0, Rank).ToArray();
        var set = new SortedSet<int>();
        foreach (var d in dims)
            if (!set.Add(ShapeUtil.WrapDim(op, d, Rank)))
                throw new ArgumentException($"{op}: dim {d} appears more than once in {ShapeUtil.Format(dims)}.");
        return Rank == 0 ? [] : [.. set];
    }

    /// <summary>Output shapes of a reduction: with the reduced dims kept as 1, and as requested.</summary>
    internal (int[] KeepShape, int[] OutShape) ReduceShapes(int[] dims, bool keepDim)
    {
        var keep = ShapeArray;
        foreach (var d in dims) keep[d] = 1;
        var outShape = keepDim ? keep : _shape.Where((_, i) => Array.IndexOf(dims, i) < 0).ToArray();
        return (keep, outShape);
    }

    /// <summary>
    /// Lays the input out densely as [rows, inner] with the reduced dims last (inner = their total
    /// size), so a reduction is a per-row loop. Returns a dense copy or the storage itself.
    /// </summary>
    internal ReadOnlySpan<T> ReduceLayout<T>(int[] dims, out int rows, out int inner)
    {
        inner = 1;
        foreach (var d in dims) inner *= _shape[d];
        rows = inner == 0 ? 0 : Numel / Math.Max(inner, 1);
        if (inner == 0) rows = ShapeUtil.Numel(ReduceShapes(dims, true).KeepShape);
        var perm = Enumerable.Range(0, Rank).Where(i => Array.IndexOf(dims, i) < 0).Concat(dims).ToArray();
        var sh = Array.ConvertAll(perm, i => _shape[i]);
        var st = Array.ConvertAll(perm, i => _strides[i]);
        var data = Storage.As<T>();
        if (ShapeUtil.IsContiguous(sh, st)) return data.AsSpan(Offset, Numel);
        var dst = new T[Numel];
        Strided.Gather(data, Offset, sh, st, dst);
        return dst;
    }

    /// <summary>Sum of all elements (a 0-d tensor).</summary>
    public Tensor Sum() => Sum(null, false);

    /// <summary>Sum over one dim.</summary>
    public Tensor Sum(int dim, bool keepDim = false) => Sum([dim], keepDim);

    /// <summary>Sum over <paramref name="dims"/> (all dims when null).</summary>
    public Tensor Sum(int[]? dims, bool keepDim = false)
    {
        CheckFloat("Sum");
        var d = ReduceDims("Sum", dims);
        var (keep, outShape) = ReduceShapes(d, keepDim);
        var y = Empty(outShape, DType);
        if (DType == DType.Float32)
            Reduce.RowSum(ReduceLayout<float>(d, out int rows, out int inner), rows, inner, y.Storage.As<float>());
        else
            Reduce.RowSum(ReduceLayout<double>(d, out int rows, out int inner), rows, inner, y.Storage.As<double>());
        var x = this;
        var inShape = _shape;
        return Op.Record("Sum", y, [x], [g => g.Reshape(keep).Expand(inShape)], jvp: t => t[0]?.Sum(d, keepDim));
    }

    /// <summary>Mean of all elements (a 0-d tensor).</summary>
    public Tensor Mean() => Mean(null, false);

    /// <summary>Mean over one dim.</summary>
    public Tensor Mean(int dim, bool keepDim = false) => Mean([dim], keepDim);

    /// <summary>Mean over <paramref name="dims"/> (all dims when null).</summary>
    public Tensor Mean(int[]? dims, bool keepDim = false)
    {
        var d = ReduceDims("Mean", dims);
        int n = 1;
        foreach (var i in d) n *= _shape[i];
        return Sum(d, keepDim) / n;
    }
}
