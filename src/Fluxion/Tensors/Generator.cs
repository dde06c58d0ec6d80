using System.Numerics;
using Fluxion.Kernels;

namespace Fluxion;

/// <summary>
/// A seedable pseudo-random generator (xoshiro256** seeded through SplitMix64). Its state can be
/// read and restored, so a computation that draws random numbers (dropout) can be replayed exactly.
/// </summary>
public sealed class Generator
{
    private Xoshiro256 _rng;
    private double? _spareNormal;

    [ThreadStatic] private static Generator? t_default;

    /// <summary>The default generator of the current thread, used when no generator is passed.</summary>
    public static Generator Default => t_default ??= new Generator(0x5EED);

    /// <summary>Re-seeds the current thread's default generator (PyTorch's <c>torch.manual_seed</c>).</summary>
    public static void ManualSeed(long seed) => Default.Seed(seed);

    /// <summary>Creates a generator with the given seed.</summary>
    public Generator(long seed) => Seed(seed);

    /// <summary>Resets the state from a seed.</summary>
    public void Seed(long seed)
    {
        _rng.Seed(seed);
        _spareNormal = null;
    }

    /// <summary>The raw bits for a kernel that fills a buffer (noted as randomness drawn, as <see cref="NextUInt64"/> does).</summary>
    internal ref Xoshiro256 Raw
    {
        get
        {
            if (Tracer.Depth > 0) Tracer.NoteRandom();
            return ref _rng;
        }
    }

    /// <summary>The full state, to restore later with <see cref="SetState"/>.</summary>
    public GeneratorState GetState() => new(_rng.S0, _rng.S1, _rng.S2, _rng.S3, _spareNormal);

    /// <summary>Restores a state captured by <see cref="GetState"/>.</summary>
    public void SetState(GeneratorState state)
    {
        (_rng.S0, _rng.S1, _rng.S2, _rng.S3, _spareNormal) = (state.S0, state.S1, state.S2, state.S3, state.SpareNormal);
    }

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        if (Tracer.Depth > 0) Tracer.NoteRandom();
        return _rng.Next();
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Standard normal (Box-Muller; the second value of each pair is kept for the next call).</summary>
    public double NextNormal()
    {
        if (_spareNormal is { } s)
        {
            _spareNormal = null;
            return s;
        }
        double u1;
        do u1 = NextDouble(); while (u1 <= double.Epsilon);
        double u2 = NextDouble();
        double r = Math.Sqrt(-2.0 * Math.Log(u1));
        _spareNormal = r * Math.Sin(2 * Math.PI * u2);
        return r * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>
    /// Fills <paramref name="dst"/> with standard normals: the same stream as <see cref="NextNormal"/> called once per element
    /// (the same uniforms drawn in the same order, a pending spare first, the last pair's second value kept as the spare), with
    /// the Box–Muller transcendentals computed over blocks by SIMD (System.Numerics.Tensors) instead of one Math call each; values
    /// may differ from the scalar path in the last bit of the double (float32 results almost always equal).
    /// </summary>
    internal void FillNormal<T>(Span<T> dst) where T : unmanaged, INumberBase<T>
    {
        int n = dst.Length, i = 0;
        if (n == 0) return;
        if (Tracer.Depth > 0) Tracer.NoteRandom();
        if (_spareNormal is { } s)
        {
            _spareNormal = null;
            dst[i++] = T.CreateTruncating(s);
        }
        const int Block = 512;
        var u1 = new double[Block];
        var u2 = new double[Block];
        var c = new double[Block];
        while (i < n)
        {
            int pairs = Math.Min(Block, (n - i + 1) / 2);
            for (int k = 0; k < pairs; k++)
            {
                double a;
                do a = (_rng.Next() >> 11) * (1.0 / (1UL << 53)); while (a <= double.Epsilon);
                u1[k] = a;
                u2[k] = (_rng.Next() >> 11) * (1.0 / (1UL << 53));
            }
            Span<double> r = u1.AsSpan(0, pairs), th = u2.AsSpan(0, pairs), cs = c.AsSpan(0, pairs);
            System.Numerics.Tensors.TensorPrimitives.Log(r, r);
            System.Numerics.Tensors.TensorPrimitives.Multiply(r, -2.0, r);
            System.Numerics.Tensors.TensorPrimitives.Sqrt(r, r);
            System.Numerics.Tensors.TensorPrimitives.Multiply(th, 2 * Math.PI, th);
            // VecMath's Vector256.Cos/Sin rather than TensorPrimitives.Cos/Sin: the latter's float64 results change in the last
            // bit when the JIT re-tiers them, so one seed gave different normals on later calls (RandnIsReproducibleAcrossJitTiers)
            Kernels.VecMath.Map<Kernels.VecMath.CosF>(th, cs);
            Kernels.VecMath.Map<Kernels.VecMath.SinF>(th, th);
            for (int k = 0; k < pairs; k++)
            {
                dst[i++] = T.CreateTruncating(r[k] * cs[k]);
                if (i < n) dst[i++] = T.CreateTruncating(r[k] * th[k]);
                else _spareNormal = r[k] * th[k];
            }
        }
    }

    /// <summary>Uniform integer in [low, high).</summary>
    public long NextInt64(long low, long high)
    {
        if (high <= low) throw new ArgumentException($"RandInt: high ({high}) must be greater than low ({low}).");
        ulong range = (ulong)(high - low);
        // rejection sampling to avoid modulo bias
        ulong limit = ulong.MaxValue - ulong.MaxValue % range;
        ulong v;
        do v = NextUInt64(); while (v >= limit);
        return low + (long)(v % range);
    }
}

/// <summary>A snapshot of a <see cref="Generator"/>'s state.</summary>
/// <param name="S0">State word 0.</param>
/// <param name="S1">State word 1.</param>
/// <param name="S2">State word 2.</param>
/// <param name="S3">State word 3.</param>
/// <param name="SpareNormal">The cached second normal of a Box-Muller pair, if any.</param>
public readonly record struct GeneratorState(ulong S0, ulong S1, ulong S2, ulong S3, double? SpareNormal);
