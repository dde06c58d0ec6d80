namespace Fluxion.Kernels;

/// <summary>
/// The raw random bits: xoshiro256** (Blackman &amp; Vigna) seeded through SplitMix64. A mutable struct held by a
/// <see cref="Fluxion.Generator"/> (which adds the tensor-level API and tells the tracer that randomness was drawn);
/// kernels that fill buffers take it by reference.
/// </summary>
internal struct Xoshiro256
{
    /// <summary>State words.</summary>
    public ulong S0, S1, S2, S3;

    /// <summary>Resets the state from a seed.</summary>
    public void Seed(long seed)
    {
        ulong x = (ulong)seed;
        S0 = SplitMix(ref x);
        S1 = SplitMix(ref x);
        S2 = SplitMix(ref x);
        S3 = SplitMix(ref x);
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The next 64 random bits.</summary>
    public ulong Next()
    {
        ulong result = ulong.RotateLeft(S1 * 5, 7) * 9;
        ulong t = S1 << 17;
        S2 ^= S0;
        S3 ^= S1;
        S1 ^= S2;
        S0 ^= S3;
        S2 ^= t;
        S3 = ulong.RotateLeft(S3, 45);
        return result;
    }
}
