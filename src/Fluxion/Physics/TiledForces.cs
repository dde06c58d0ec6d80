using System.Numerics;
using System.Runtime.Intrinsics;
using Fluxion.Kernels;

namespace Fluxion.Physics;

/// <summary>
/// The pair forces, their gradients and their tangents on the row-block kernels of
/// <see cref="ParticlePairs{T}"/> (Kernels/PairwiseTiles.cs: O(n²) work, O(n) memory, vectorized over the
/// sources, both cores over blocks of targets, the kinds through one-hot columns). This class only picks
/// the element type (float32 when every tensor is float32, else float64), converts the tensors and picks
/// the force law's φ(r) = g(r)/r and χ(r) = φ'(r)/r.
/// </summary>
internal sealed class TiledForces
{
    private readonly ParticlePairs<float>? _f32;
    private readonly ParticlePairs<double>? _f64;
    private readonly ForceSpec _spec;
    private readonly DType _dtype;

    public int N { get; }
    public int Dim { get; }

    /// <summary>The system's number of kinds: the columns of s and a.</summary>
    public int Kinds { get; }

    public TiledForces(int[] kinds, bool[]? alive, ForceSpec spec, Tensor x, Tensor m, Tensor s, Tensor a)
    {
        N = x.Shape[0];
        Dim = x.Shape[1];
        Kinds = s.Rank == 2 ? s.Shape[1] : 0;
        Check(kinds, alive, x, m, s, a);
        _spec = spec;
        _dtype = x.DType;
        double eps2 = spec.Softening * spec.Softening;
        if (new[] { x, m, s, a }.All(t => t.DType == DType.Float32))
            _f32 = new ParticlePairs<float>(Arr<float>(x), Arr<float>(m), Pad(Arr<float>(s)), Pad(Arr<float>(a)), kinds, alive, N, Dim, eps2);
        else
            _f64 = new ParticlePairs<double>(x.ToDoubleArray(), m.ToDoubleArray(), Pad(s.ToDoubleArray()), Pad(a.ToDoubleArray()), kinds, alive, N, Dim, eps2);
    }

    private T[] Pad<T>(T[] v) where T : unmanaged, IFloatingPointIeee754<T> => ParticlePairs<T>.Pad(v, N, Kinds);

    /// <summary>x [n, D], m [n], s and a [n, kinds] with 1 &lt;= kinds &lt;= <see cref="ParticlePairs{T}.K"/>, kinds[i] in
    /// [0, kinds), alive null or [n].</summary>
    private void Check(int[] kinds, bool[]? alive, Tensor x, Tensor m, Tensor s, Tensor a)
    {
        const int max = ParticlePairs<double>.K;
        string shapes = $"x {ShapeUtil.Format(x.ShapeArray)}, m {ShapeUtil.Format(m.ShapeArray)}, s {ShapeUtil.Format(s.ShapeArray)}, a {ShapeUtil.Format(a.ShapeArray)}";
        if (x.Rank != 2 || m.Rank != 1 || m.Shape[0] != N || s.Rank != 2 || s.Shape[0] != N || !a.ShapeArray.SequenceEqual(s.ShapeArray))
            throw new ShapeMismatchException($"PairForces: expected x [n, D], m [n], s and a [n, kinds]; got {shapes}. Pass one row per particle and one column per kind in s and a.");
        if (Kinds < 1 || Kinds > max)
            throw new ShapeMismatchException($"PairForces: {Kinds} kinds (s and a have {Kinds} columns: {shapes}); the fused pair kernels take 1 to {max} kinds. Merge kinds, or build the forces from tensor ops for more.");
        if (kinds.Length != N || alive is not null && alive.Length != N)
            throw new ShapeMismatchException($"PairForces: {kinds.Length} kind labels{(alive is null ? "" : $" and {alive.Length} liveness flags")} for {N} particles ({shapes}). Give one per particle.");
        for (int i = 0; i < N; i++)
            if ((uint)kinds[i] >= (uint)Kinds)
                throw new ShapeMismatchException($"PairForces: particle {i} has kind {kinds[i]}, but s and a have {Kinds} columns ({shapes}). Kinds are 0 to {Kinds - 1}.");
    }

    private static T[] Arr<T>(Tensor t) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(double)) return (T[])(object)t.ToDoubleArray();
        if (t.DType == DType.Float32) return t.DenseArray<T>();
        return t.ToDoubleArray().Select(T.CreateTruncating).ToArray();
    }

    private Tensor Out<T>(T[] data, int[] shape) where T : unmanaged, IFloatingPointIeee754<T> =>
        typeof(T) == typeof(float) ? Tensor.Wrap(data, shape) : Tensor.FromDoubles((double[])(object)data, shape, _dtype);

    /// <summary>The forces [n, D].</summary>
    public Tensor Forces() => _f32 is { } p ? Out(Forces(p), [N, Dim]) : Out(Forces(_f64!), [N, Dim]);

    private T[] Forces<T>(ParticlePairs<T> p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var f = new T[N * Dim];
        switch (_spec.Law)
        {
            case ForceLaw.NewtonianGravity: p.Forces(new Newton<T>(double.PositiveInfinity), f); break;
            case ForceLaw.ThresholdGravity: p.Forces(new Newton<T>(_spec.Threshold), f); break;
            default: p.Forces(new Gratan<T>(_spec.K), f); break;
        }
        return f;
    }

    /// <summary>Gradients of L = Σ_i U_i·F_i for x, m, s, a (see <see cref="ParticlePairs{T}.Backward"/>).</summary>
    public (Tensor Gx, Tensor Gm, Tensor Gs, Tensor Ga) Backward(Tensor u) => _f32 is { } p ? Backward(p, Arr<float>(u)) : Backward(_f64!, Arr<double>(u));

    private (Tensor, Tensor, Tensor, Tensor) Backward<T>(ParticlePairs<T> p, T[] u) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int k = ParticlePairs<T>.K;
        T[] gx = new T[N * Dim], gm = new T[N], gs = new T[N * k], ga = new T[N * k]; // padded to K columns, narrowed below
        switch (_spec.Law)
        {
            case ForceLaw.NewtonianGravity: p.Backward(new Newton<T>(double.PositiveInfinity), u, gx, gm, gs, ga); break;
            case ForceLaw.ThresholdGravity: p.Backward(new Newton<T>(_spec.Threshold), u, gx, gm, gs, ga); break;
            default: p.Backward(new Gratan<T>(_spec.K), u, gx, gm, gs, ga); break;
        }
        return (Out(gx, [N, Dim]), Out(gm, [N]), Out(ParticlePairs<T>.Unpad(gs, N, Kinds), [N, Kinds]), Out(ParticlePairs<T>.Unpad(ga, N, Kinds), [N, Kinds]));
    }

    /// <summary>The forces' tangent [n, D] for tangents of x, m, s, a (null = 0).</summary>
    public Tensor Jvp(Tensor? tx, Tensor? tm, Tensor? ts, Tensor? ta) => _f32 is { } p ? Jvp(p, tx, tm, ts, ta) : Jvp(_f64!, tx, tm, ts, ta);

    private Tensor Jvp<T>(ParticlePairs<T> p, Tensor? tx, Tensor? tm, Tensor? ts, Tensor? ta) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var tf = new T[N * Dim];
        T[]? A(Tensor? t) => t is null ? null : Arr<T>(t);
        var (x, m, s, a) = (A(tx), A(tm), A(ts) is { } ps ? Pad(ps) : null, A(ta) is { } pa ? Pad(pa) : null);
        switch (_spec.Law)
        {
            case ForceLaw.NewtonianGravity: p.Jvp(new Newton<T>(double.PositiveInfinity), x, m, s, a, tf); break;
            case ForceLaw.ThresholdGravity: p.Jvp(new Newton<T>(_spec.Threshold), x, m, s, a, tf); break;
            default: p.Jvp(new Gratan<T>(_spec.K), x, m, s, a, tf); break;
        }
        return Out(tf, [N, Dim]);
    }

    /// <summary>g = 1/r² (0 for r ≥ threshold): φ = 1/r³, χ = −3/r⁵.</summary>
    private readonly struct Newton<T>(double threshold) : IPairLaw<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly bool _cut = !double.IsPositiveInfinity(threshold);
        private readonly T _t2 = T.CreateSaturating(threshold * threshold);

        public void Eval(Vector256<T> r2, out Vector256<T> phi, out Vector256<T> chi)
        {
            var inv = Vector256<T>.One / Vector256.Sqrt(r2);
            var inv2 = inv * inv;
            phi = inv2 * inv;
            chi = Vector256.Create(T.CreateTruncating(-3.0)) * phi * inv2;
            if (_cut)
            {
                var inside = Vector256.LessThan(r2, Vector256.Create(_t2));
                phi &= inside;
                chi &= inside;
            }
        }
    }

    /// <summary>g = k (1 − tanh r) (r ≥ 0): φ = g/r, χ = (g' − φ)/r² with g' = −k (1 − tanh² r).</summary>
    private readonly struct Gratan<T>(double k) : IPairLaw<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly T _k = T.CreateTruncating(k);

        private static Vector256<T> Exp(Vector256<T> v) => typeof(T) == typeof(float)
            ? Vector256.Exp(v.As<T, float>()).As<float, T>()
            : Vector256.Exp(v.As<T, double>()).As<double, T>();

        public void Eval(Vector256<T> r2, out Vector256<T> phi, out Vector256<T> chi)
        {
            var r = Vector256.Sqrt(r2);
            var two = Vector256.Create(T.CreateTruncating(2.0));
            // 1 − tanh r = 2 / (e^{2r} + 1) (→ 0 without overflow trouble)
            var omt = two / (Exp(r + r) + Vector256<T>.One);
            var kv = Vector256.Create(_k);
            var g = kv * omt;
            var dg = -kv * omt * (two - omt);
            phi = g / r;
            chi = (dg - phi) / r2;
        }
    }
}
