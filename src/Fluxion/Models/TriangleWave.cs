using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

using Fluxion.Kernels;

namespace Fluxion.Models;

/// <summary>
/// The triangle wave f(d) = s·(p/2 − |(d mod 2p) − p|) (period 2p in d, peak s·p/2 at d ≡ p, trough
/// −s·p/2 at d ≡ 0). Its derivative follows the subgradients of the primitive ops it is made of, as in
/// PyTorch: d(mod)/dd = 1 and |u|'(0) = 0, so f'(d) = −s·sign((d mod 2p) − p): 0 at the peaks and +s at
/// the troughs (d mod 2p = 0, including d = 0). The remainder is computed exactly (as fmod).
/// </summary>
internal readonly struct TriangleWave<T> : IRadialFunction<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Vector256<T> _p, _twoP, _halfP, _s, _negS;

    /// <summary>The wave with half-period <paramref name="p"/> (= the PCN's period parameter) and slope <paramref name="s"/>.</summary>
    public TriangleWave(double p, double s)
    {
        _p = Vector256.Create(T.CreateChecked(p));
        _twoP = Vector256.Create(T.CreateChecked(2 * p));
        _halfP = Vector256.Create(T.CreateChecked(p / 2));
        _s = Vector256.Create(T.CreateChecked(s));
        _negS = -_s;
    }

    /// <summary>(d mod 2p) − p, with the remainder exact: r = d − ⌊d/2p⌋·2p by one fused multiply-add,
    /// then corrected into [0, 2p) (both corrections are exact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Vector256<T> Phase(Vector256<T> d)
    {
        var q = PairwiseTiles.Floor(d / _twoP);
        var r = PairwiseTiles.Fma(-q, _twoP, d);
        r += Vector256.LessThan(r, Vector256<T>.Zero) & _twoP;
        r -= Vector256.GreaterThanOrEqual(r, _twoP) & _twoP;
        return r - _p;
    }

    /// <inheritdoc/>
    public Vector256<T> Value(Vector256<T> d) => (_halfP - Vector256.Abs(Phase(d))) * _s;

    /// <inheritdoc/>
    public Vector256<T> Derivative(Vector256<T> d) => _negS * PairwiseTiles.Sign(Phase(d));
}
