using System.Numerics;
using System.Numerics.Tensors;

namespace Fluxion.Optim;

/// <summary>Gradient clipping (PyTorch's <c>torch.nn.utils.clip_grad_norm_</c> / <c>clip_grad_value_</c>).
/// Gradients are modified in place; parameters without a gradient are skipped.</summary>
public static class Clipping
{
    /// <summary>
    /// Scales all gradients together so that their joint <paramref name="normType"/>-norm (as if
    /// concatenated into one vector) is at most <paramref name="maxNorm"/>: each gradient is multiplied by
    /// min(1, maxNorm / (total + 1e-6)). Returns the total norm before clipping (0 when no parameter has a
    /// gradient). <paramref name="normType"/> may be any positive number or <see cref="double.PositiveInfinity"/>
    /// (max |g|).
    /// </summary>
    /// <param name="parameters">The parameters whose gradients to clip, e.g. <c>model.Parameters()</c>.</param>
    /// <param name="maxNorm">The largest allowed norm (≥ 0).</param>
    /// <param name="normType">The p of the p-norm (&gt; 0, or +∞).</param>
    /// <param name="errorIfNonfinite">Throw when the total norm is NaN or infinite instead of scaling by it.</param>
    public static double ClipGradNorm(IEnumerable<Tensor> parameters, double maxNorm, double normType = 2, bool errorIfNonfinite = false)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(maxNorm >= 0))
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "ClipGradNorm: maxNorm must be a number >= 0.");
        if (!(normType > 0))
            throw new ArgumentOutOfRangeException(nameof(normType), normType, "ClipGradNorm: normType must be positive (e.g. 1, 2) or double.PositiveInfinity.");
        var grads = Grads(parameters);
        if (grads.Count == 0) return 0;
        double total;
        if (double.IsPositiveInfinity(normType))
        {
            total = 0;
            foreach (var g in grads)
            {
                double m = g.DType == DType.Float32 ? MaxAbs(g.DenseSpan<float>()) : MaxAbs(g.DenseSpan<double>());
                if (m > total || double.IsNaN(m)) total = m;
                if (double.IsNaN(total)) break;
            }
        }
        else
        {
            double sum = 0;
            foreach (var g in grads)
                sum += g.DType == DType.Float32 ? PowSum(g.DenseSpan<float>(), normType) : PowSum(g.DenseSpan<double>(), normType);
            total = normType == 2 ? Math.Sqrt(sum) : normType == 1 ? sum : Math.Pow(sum, 1 / normType);
        }
        if (errorIfNonfinite && !double.IsFinite(total))
            throw new ArithmeticException($"ClipGradNorm: the total {normType}-norm of the gradients is {total}, so they cannot be clipped. " +
                "Find where the NaN/Inf comes from (Autograd.DetectAnomaly()), or pass errorIfNonfinite: false to scale by it anyway.");
        double coef = maxNorm / (total + 1e-6);
        if (!(coef >= 1))  // also scales by NaN, as PyTorch does
            foreach (var g in grads)
            {
                if (g.DType == DType.Float32) Scale(g, (float)coef);
                else Scale(g, coef);
            }
        return total;
    }

    /// <summary>Clamps every gradient element into [−<paramref name="clipValue"/>, <paramref name="clipValue"/>], in place.</summary>
    /// <param name="parameters">The parameters whose gradients to clip.</param>
    /// <param name="clipValue">The largest allowed magnitude (≥ 0).</param>
    public static void ClipGradValue(IEnumerable<Tensor> parameters, double clipValue)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(clipValue >= 0))
            throw new ArgumentOutOfRangeException(nameof(clipValue), clipValue, "ClipGradValue: clipValue must be a number >= 0.");
        foreach (var g in Grads(parameters))
        {
            if (g.DType == DType.Float32) Clamp(g, (float)clipValue);
            else Clamp(g, clipValue);
        }
    }

    private static List<Tensor> Grads(IEnumerable<Tensor> parameters)
    {
        var list = new List<Tensor>();
        foreach (var p in parameters)
        {
            if (p?.Grad is not { } g) continue;
            if (!g.DType.IsFloatingPoint())
                throw new DTypeMismatchException($"Clipping: a gradient of shape {ShapeUtil.Format(g.Shape)} has dtype {g.DType.Name()}; only float gradients can be clipped.");
            list.Add(g);
        }
        return list;
    }

    private static double MaxAbs<T>(ReadOnlySpan<T> s) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double m = 0;
        foreach (var v in s)
        {
            double a = double.CreateChecked(T.Abs(v));
            if (a > m || double.IsNaN(a)) m = a;
        }
        return m;
    }

    private static double PowSum<T>(ReadOnlySpan<T> s, double p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double sum = 0;
        if (p == 2) foreach (var v in s) { double d = double.CreateChecked(v); sum += d * d; }
        else if (p == 1) foreach (var v in s) sum += Math.Abs(double.CreateChecked(v));
        else foreach (var v in s) sum += Math.Pow(Math.Abs(double.CreateChecked(v)), p);
        return sum;
    }

    private static void Scale<T>(Tensor g, T coef) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (g.IsContiguous)
        {
            var s = g.Storage.As<T>().AsSpan(g.Offset, g.Numel);
            TensorPrimitives.Multiply(s, coef, s);
        }
        else
        {
            var a = g.DenseSpan<T>().ToArray();
            TensorPrimitives.Multiply(a, coef, a);
            g.CopyRawFrom(Tensor.Wrap(a, g.ShapeArray));
        }
        g.Storage.BumpVersion();
    }

    private static void Clamp<T>(Tensor g, T c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T[]? scratch = null;
        Span<T> s;
        if (g.IsContiguous) s = g.Storage.As<T>().AsSpan(g.Offset, g.Numel);
        else s = scratch = g.DenseSpan<T>().ToArray();
        for (int i = 0; i < s.Length; i++)
        {
            // NaN stays NaN, as torch.clamp does
            if (s[i] > c) s[i] = c;
            else if (s[i] < -c) s[i] = -c;
        }
        if (scratch is not null) g.CopyRawFrom(Tensor.Wrap(scratch, g.ShapeArray));
        g.Storage.BumpVersion();
    }
}
