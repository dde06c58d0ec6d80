using System.Runtime.InteropServices;
using System.Numerics.Tensors;

namespace Fluxion.Kernels;

/// <summary>
/// Bulk random fills for hot paths (forward-gradient directions are drawn at every step for every
/// parameter). The raw bits come from a <see cref="Xoshiro256"/> (a generator's state), the transforms are vectorized.
/// </summary>
internal static class Sampling
{
    private const double TwoPi = 2 * Math.PI;
    private const double Inv53 = 1.0 / (1UL << 53);
    private const float Inv24 = 1f / (1 << 24);

    /// <summary>Standard normal values (vectorized Box–Muller on 53-bit uniforms: the first half of each chunk takes r·cos θ, the second r·sin θ).</summary>
    public static void Normal(Span<double> dst, ref Xoshiro256 g)
    {
        const int chunk = 2048;
        Span<double> u1 = stackalloc double[chunk / 2];
        Span<double> u2 = stackalloc double[chunk / 2];
        Span<double> sin = stackalloc double[chunk / 2];
        Span<double> cos = stackalloc double[chunk / 2];
        for (int start = 0; start < dst.Length; start += chunk)
        {
            int n = Math.Min(chunk, dst.Length - start);
            int pairs = (n + 1) / 2;
            var a = u1[..pairs];
            var b = u2[..pairs];
            for (int i = 0; i < pairs; i++)
            {
                a[i] = ((g.Next() >> 11) + 1) * Inv53;  // (0, 1]: the log is finite
                b[i] = (g.Next() >> 11) * Inv53;
            }
            BoxMuller(a, b, sin[..pairs], cos[..pairs], dst.Slice(start, n));
        }
    }

    /// <summary>Standard normal float values (as the double overload, on 24-bit uniforms: one generator draw per pair).</summary>
    public static void Normal(Span<float> dst, ref Xoshiro256 g)
    {
        const int chunk = 2048;
        Span<float> u1 = stackalloc float[chunk / 2];
        Span<float> u2 = stackalloc float[chunk / 2];
        Span<float> sin = stackalloc float[chunk / 2];
        Span<float> cos = stackalloc float[chunk / 2];
        for (int start = 0; start < dst.Length; start += chunk)
        {
            int n = Math.Min(chunk, dst.Length - start);
            int pairs = (n + 1) / 2;
            var a = u1[..pairs];
            var b = u2[..pairs];
            for (int i = 0; i < pairs; i++)
            {
                ulong r = g.Next();
                a[i] = ((uint)(r >> 40) + 1) * Inv24;          // (0, 1]
                b[i] = ((uint)(r >> 8) & 0xFFFFFF) * Inv24;    // [0, 1)
            }
            BoxMuller(a, b, sin[..pairs], cos[..pairs], dst.Slice(start, n));
        }
    }

    /// <summary>d[..pairs] = √(−2 ln a)·cos 2πb, d[pairs..] = √(−2 ln a)·sin 2πb (a, b overwritten).</summary>
    private static void BoxMuller<T>(Span<T> a, Span<T> b, Span<T> sin, Span<T> cos, Span<T> d)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        int pairs = a.Length;
        TensorPrimitives.Log<T>(a, a);
        TensorPrimitives.Multiply<T>(a, T.CreateTruncating(-2.0), a);
        TensorPrimitives.Sqrt<T>(a, a);
        TensorPrimitives.Multiply<T>(b, T.CreateTruncating(TwoPi), b);
        if (typeof(T) == typeof(double))
        {
            // float64: VecMath's Vector256.Sin/Cos (TensorPrimitives' float64 Sin/Cos change in the last bit when the JIT
            // re-tiers them, which would make seeded samples irreproducible)
            VecMath.Map<VecMath.SinF>(MemoryMarshal.Cast<T, double>(b), MemoryMarshal.Cast<T, double>(sin));
            VecMath.Map<VecMath.CosF>(MemoryMarshal.Cast<T, double>(b), MemoryMarshal.Cast<T, double>(cos));
        }
        else
        {
            TensorPrimitives.Sin<T>(b, sin); // vectorized, unlike SinCos
            TensorPrimitives.Cos<T>(b, cos);
        }
        TensorPrimitives.Multiply<T>(a, cos, d[..pairs]);
        int rest = d.Length - pairs;
        if (rest > 0) TensorPrimitives.Multiply<T>(a[..rest], sin[..rest], d[pairs..]);
    }

    /// <summary>Independent ±1 values, 64 per draw of the generator.</summary>
    public static void Rademacher<T>(Span<T> dst, ref Xoshiro256 g) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        ulong bits = 0;
        for (int i = 0; i < dst.Length; i++)
        {
            if ((i & 63) == 0) bits = g.Next();
            dst[i] = (bits & 1) == 0 ? -T.One : T.One;
            bits >>= 1;
        }
    }
}
