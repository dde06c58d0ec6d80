namespace Fluxion;

// PyTorch's native_layer_norm and native_batch_norm: the normalization together with the statistics it used.
// As in PyTorch the statistics are outputs that take no gradient; the normalized output is LayerNorm's / BatchNorm's.
public partial class Tensor
{
    internal static readonly OpDef NativeLayerNormOp = Composite("NativeLayerNorm", ["ChannelNorm", "Reshape", "Mul", "Add"], ["native_layer_norm"], () =>
    [
        new("affine", [SampleReal(1, 3, 4), SampleReal(2, 4), SampleReal(3, 4)], t => NativeLayerNorm(t[0], [4], t[1], t[2]).Output),
        new("two dims", [SampleReal(4, 2, 2, 3)], t => NativeLayerNorm(t[0], [2, 3]).Output),
    ], dtypes: DTypeSet.Floats);

    /// <summary>
    /// Layer normalization over the trailing <paramref name="normalizedShape"/> dims (as <see cref="LayerNorm"/>), also returning
    /// the mean and 1/sqrt(var + eps) of each normalized block, shaped as the input with those dims set to 1 (PyTorch's
    /// <c>native_layer_norm</c>; the statistics take no gradient).
    /// </summary>
    public static (Tensor Output, Tensor Mean, Tensor Rstd) NativeLayerNorm(Tensor input, int[] normalizedShape, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(normalizedShape);
        var y = LayerNorm(input, normalizedShape, weight, bias, eps);
        var dims = Enumerable.Range(input.Rank - normalizedShape.Length, normalizedShape.Length).ToArray();
        var x = input.Detach();
        return (y, x.Mean(dims, keepDim: true), (x.Var(dims, correction: 0, keepDim: true) + eps).Rsqrt());
    }

    internal static readonly OpDef NativeBatchNormOp = Composite("NativeBatchNorm", ["ChannelNorm", "Reshape"], ["native_batch_norm"], () =>
    [
        new("training affine", [SampleReal(1, 3, 2, 4), SampleReal(2, 2), SampleReal(3, 2)], t => NativeBatchNorm(t[0], t[1], t[2], null, null, training: true).Output),
        new("running stats", [SampleReal(4, 3, 2)], t => NativeBatchNorm(t[0], null, null, Zeros([2], DType.Float64), Ones([2], DType.Float64), training: false).Output),
    ], dtypes: DTypeSet.Floats);

    /// <summary>
    /// Batch normalization of input [N, C, *] (as <see cref="BatchNorm"/>, updating the running statistics in place when
    /// training), also returning the batch mean and 1/sqrt(var + eps) per channel when training, or empty tensors when the
    /// running statistics normalize (PyTorch's <c>native_batch_norm</c>; the statistics take no gradient).
    /// </summary>
    public static (Tensor Output, Tensor SaveMean, Tensor SaveInvstd) NativeBatchNorm(Tensor input, Tensor? weight, Tensor? bias,
        Tensor? runningMean, Tensor? runningVar, bool training, double momentum = 0.1, double eps = 1e-5)
    {
        ArgumentNullException.ThrowIfNull(input);
        var y = BatchNorm(input, runningMean, runningVar, weight, bias, training, momentum, eps);
        if (!training) return (y, Zeros([0], input.DType), Zeros([0], input.DType));
        var dims = Enumerable.Range(0, input.Rank).Where(d => d != 1).ToArray();
        var x = input.Detach();
        return (y, x.Mean(dims), (x.Var(dims, correction: 0) + eps).Rsqrt());
    }
}
