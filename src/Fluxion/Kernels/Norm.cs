using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;

namespace Fluxion.Kernels;

/// <summary>
/// Per-channel normalization over a dense [A, C, S] layout: channel c owns the A rows of length S at
/// (a·C + c)·S. Batch norm is A = N, S = spatial size; layer, group and instance norm reshape to A = 1.
/// </summary>
internal static class Norm
{
    private static void For(int count, long work, Action<int, int> body) => Reduce.For(count, work, body);

    /// <summary>Mean and population variance of each channel (two passes, the second corrected by the
    /// rounding error of the mean), accumulated in double.</summary>
    public static void Stats<T>(T[] x, int xOff, int a, int c, int s, T[] mean, T[] var) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double m = (double)a * s;
        For(c, (long)a * c * s, (c0, c1) =>
        {
            var tmp = ArrayPool<T>.Shared.Rent(Math.Max(1, s));
            for (int ch = c0; ch < c1; ch++)
            {
                double sum = 0;
                for (int i = 0; i < a; i++) sum += double.CreateTruncating(TensorPrimitives.Sum<T>(x.AsSpan(xOff + (i * c + ch) * s, s)));
                T mu = T.CreateTruncating(sum / m);
                double ss = 0, comp = 0;
                var t = tmp.AsSpan(0, s);
                for (int i = 0; i < a; i++)
                {
                    TensorPrimitives.Subtract(x.AsSpan(xOff + (i * c + ch) * s, s), mu, t);
                    comp += double.CreateTruncating(TensorPrimitives.Sum<T>(t));
                    ss += double.CreateTruncating(TensorPrimitives.SumOfSquares<T>(t));
                }
                mean[ch] = mu;
                var[ch] = T.CreateTruncating(Math.Max(0, (ss - comp * comp / m) / m));
            }
            ArrayPool<T>.Shared.Return(tmp);
        });
    }

    /// <summary>y = (x − mean[c])·scale[c] + shift[c] (shift may be null) for every row of channel c; y is dense.</summary>
    public static void Apply<T>(T[] x, int xOff, T[] y, int a, int c, int s, T[] mean, T[] scale, T[]? shift) where T : unmanaged, IFloatingPointIeee754<T>
    {
        For(a * c, (long)a * c * s, (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
            {
                int ch = r % c;
                var dst = y.AsSpan(r * s, s);
                TensorPrimitives.Subtract(x.AsSpan(xOff + r * s, s), mean[ch], dst);
                TensorPrimitives.Multiply(dst, scale[ch], dst);
                if (shift is not null) TensorPrimitives.Add(dst, shift[ch], dst);
            }
        });
    }

    /// <summary>Per channel: sg = Σ g and sgx = Σ g·(x − mean), accumulated in double.</summary>
    public static void GradSums<T>(T[] g, int gOff, T[] x, int xOff, int a, int c, int s, T[] mean, T[] sg, T[] sgx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        For(c, (long)a * c * s * 2, (c0, c1) =>
        {
            var tmp = ArrayPool<T>.Shared.Rent(Math.Max(1, s));
            var t = tmp.AsSpan(0, s);
            for (int ch = c0; ch < c1; ch++)
            {
                double s1 = 0, s2 = 0;
                for (int i = 0; i < a; i++)
                {
                    int off = (i * c + ch) * s;
                    var gr = g.AsSpan(gOff + off, s);
                    s1 += double.CreateTruncating(TensorPrimitives.Sum<T>(gr));
                    TensorPrimitives.Subtract(x.AsSpan(xOff + off, s), mean[ch], t);
                    s2 += double.CreateTruncating(TensorPrimitives.Dot<T>(gr, t));
                }
                sg[ch] = T.CreateTruncating(s1);
                sgx[ch] = T.CreateTruncating(s2);
            }
            ArrayPool<T>.Shared.Return(tmp);
        });
    }

    /// <summary>
    /// The batch-statistics input gradient dx = α[c]·g + β[c]·(x − mean[c]) + γ[c] with α = scale,
    /// β = −scale·invstd²·sgx/M, γ = −scale·sg/M (M = A·S); dx is dense.
    /// </summary>
    public static void InputGrad<T>(T[] g, int gOff, T[] x, int xOff, T[] dx, int a, int c, int s, T[] mean, T[] alpha, T[] beta, T[] gamma) where T : unmanaged, IFloatingPointIeee754<T>
    {
        For(a * c, (long)a * c * s * 2, (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
            {
                int ch = r % c;
                var dst = dx.AsSpan(r * s, s);
                TensorPrimitives.Subtract(x.AsSpan(xOff + r * s, s), mean[ch], dst);
                TensorPrimitives.Multiply(dst, beta[ch], dst);
                TensorPrimitives.Add(dst, gamma[ch], dst);
                TensorPrimitives.MultiplyAdd(g.AsSpan(gOff + r * s, s), alpha[ch], dst, dst);
            }
        });
    }
}
