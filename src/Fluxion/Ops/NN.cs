using Fluxion.Kernels;

namespace Fluxion;

// Neural-network primitives with fused kernels: each op's forward, VJP and JVP side by side.
public partial class Tensor
{
    /// <summary>
    /// Softmax along <paramref name="dim"/>: exp(x − max) / Σ exp(x − max), so large inputs do not
    /// overflow. A slice that is all -inf gives NaN (as PyTorch). VJP: y·(g − Σ g·y).
    /// </summary>
    public Tensor Softmax(int dim)
    {
        var (y, d) = SoftmaxRaw("Softmax", dim, log: false);
        var x = this;
        return Op.Record("Softmax", y, [x],
            [g => y * (g - (g * y).Sum(d, keepDim: true))],
            jvp: t => t[0] is { } tx ? y * (tx - (tx * y).Sum(d + TangentBatchDims(tx, x), keepDim: true)) : null,
            save: [y], batchedJvp: true);
    }

    /// <summary>
    /// Log-softmax along <paramref name="dim"/>: (x − max) − log Σ exp(x − max), stable for large
    /// inputs. VJP: g − exp(y)·Σ g.
    /// </summary>
    public Tensor LogSoftmax(int dim)
    {
        var (y, d) = SoftmaxRaw("LogSoftmax", dim, log: true);
        var x = this;
        return Op.Record("LogSoftmax", y, [x],
            [g => g - y.Exp() * g.Sum(d, keepDim: true)],
            jvp: t => t[0] is { } tx ? tx - (y.Exp() * tx).Sum(d + TangentBatchDims(tx, x), keepDim: true) : null,
            save: [y], batchedJvp: true);
    }

    /// <summary>Runs the fused (log-)softmax kernel over the dense [outer, n, inner] layout of this tensor.</summary>
    private (Tensor Y, int Dim) SoftmaxRaw(string name, int dim, bool log)
    {
        CheckFloat(name);
        int d = ShapeUtil.WrapDim(name, dim, Rank);
        int outer = 1, n = 1, inner = 1;
        if (Rank > 0)
        {
            for (int i = 0; i < d; i++) outer *= _shape[i];
            n = _shape[d];
            for (int i = d + 1; i < Rank; i++) inner *= _shape[i];
        }
        var y = Empty(ShapeArray, DType);
        var src = DenseSpanArray(out int off);
        if (DType == DType.Float32) Reduce.Softmax((float[])src, off, y.Storage.As<float>(), outer, n, inner, log);
        else Reduce.Softmax((double[])src, off, y.Storage.As<double>(), outer, n, inner, log);
        return (y, d);
    }
}
