using Fluxion.Kernels;

namespace Fluxion;

// The algebra elementwise derivative rules are written in once: tensors (differentiable VJPs/JVPs) and raw
// scalars (the fused first-order backward) implement it.

public partial class Tensor : IAlgebra<Tensor>
{
    // IAlgebra<Tensor>: the arithmetic operators are the public ones; the functions map to the differentiable ops.
    static Tensor IAlgebra<Tensor>.Exp(Tensor x) => x.Exp();
    static Tensor IAlgebra<Tensor>.Sin(Tensor x) => x.Sin();
    static Tensor IAlgebra<Tensor>.Cos(Tensor x) => x.Cos();
    static Tensor IAlgebra<Tensor>.Sinh(Tensor x) => x.Sinh();
    static Tensor IAlgebra<Tensor>.Cosh(Tensor x) => x.Cosh();
    static Tensor IAlgebra<Tensor>.Tanh(Tensor x) => x.Tanh();
    static Tensor IAlgebra<Tensor>.Digamma(Tensor x) => x.Digamma();
    static Tensor IAlgebra<Tensor>.Trigamma(Tensor x) => x.Polygamma(1);
    static Tensor IAlgebra<Tensor>.Sign(Tensor x) => x.Sign();
    static Tensor IAlgebra<Tensor>.Erf(Tensor x) => x.Erf();
    static Tensor IAlgebra<Tensor>.Pow(Tensor x, double exponent) => x.Pow(exponent);
    static Tensor IAlgebra<Tensor>.ZerosLike(Tensor x) => ZerosLike(x);
    static Tensor IAlgebra<Tensor>.Above(Tensor x, double c) => Where(x.Gt(c), 1.0, 0.0, x.DType);
    static Tensor IAlgebra<Tensor>.IfLe(Tensor x, double c, Tensor a, Tensor b) => Where(x.Le(c), a, b);
    static Tensor IAlgebra<Tensor>.IfLt(Tensor x, double c, Tensor a, Tensor b) => Where(x.Lt(c), a, b);
}

/// <summary>
/// The arithmetic an elementwise derivative rule may use. Implemented by <see cref="Tensor"/> (differentiable
/// ops, for VJPs/JVPs that can be differentiated again) and by the raw scalars <see cref="R32"/> and
/// <see cref="R64"/> (for the fused first-order backward), so each rule is written once.
/// Constants are doubles; on float32 they are rounded to float first, as <c>x.ScalarLike(c)</c> does.
/// </summary>
internal interface IAlgebra<T> where T : IAlgebra<T>
{
    static abstract T operator +(T a, T b);
    static abstract T operator -(T a, T b);
    static abstract T operator *(T a, T b);
    static abstract T operator /(T a, T b);
    static abstract T operator -(T a);
    static abstract T operator +(double a, T b);
    static abstract T operator -(double a, T b);
    static abstract T operator *(double a, T b);
    static abstract T operator /(double a, T b);
    static abstract T operator +(T a, double b);
    static abstract T operator -(T a, double b);
    static abstract T operator *(T a, double b);
    static abstract T operator /(T a, double b);
    static abstract T Exp(T x);
    static abstract T Sin(T x);
    static abstract T Cos(T x);
    static abstract T Sinh(T x);
    static abstract T Cosh(T x);
    static abstract T Tanh(T x);
    /// <summary>ψ(x) (the float32 kernels' lanes; float64 Kernels.Special's).</summary>
    static abstract T Digamma(T x);
    /// <summary>ψ'(x) = polygamma(1, x).</summary>
    static abstract T Trigamma(T x);
    /// <summary>-1, 0 or 1 (NaN stays NaN).</summary>
    static abstract T Sign(T x);
    static abstract T Erf(T x);
    static abstract T Pow(T x, double exponent);
    static abstract T ZerosLike(T x);
    /// <summary>1 where x &gt; c, else 0 (NaN gives 0): the step of a piecewise rule (its derivative is 0).</summary>
    static abstract T Above(T x, double c);
    /// <summary>a where x ≤ c, else b (NaN gives b): a piecewise rule's branches (each branch differentiable where chosen).</summary>
    static abstract T IfLe(T x, double c, T a, T b);
    /// <summary>a where x &lt; c, else b (NaN gives b).</summary>
    static abstract T IfLt(T x, double c, T a, T b);
}

/// <summary>The derivative f'(x, y) of an elementwise op y = f(x), written once for every <see cref="IAlgebra{T}"/>.</summary>
internal interface IDerivative
{
    /// <summary>f'(x) given the input <paramref name="x"/> and the output <paramref name="y"/>.</summary>
    T Eval<T>(T x, T y) where T : IAlgebra<T>;
}

/// <summary>
/// The derivative rule of a binary elementwise op y = f(a, b), written once for every <see cref="IAlgebra{T}"/>:
/// the output gradient (or tangent) <c>g</c> times ∂y/∂a and times ∂y/∂b, at y's (broadcast) shape.
/// </summary>
internal interface IBinaryRule
{
    /// <summary>True when g·∂y/∂a is g itself (e.g. addition): nothing to compute.</summary>
    bool IdentityA { get; }

    /// <summary>True when g·∂y/∂b is g itself.</summary>
    bool IdentityB { get; }

    /// <summary>g·∂y/∂a.</summary>
    T Da<T>(T g, T a, T b, T y) where T : IAlgebra<T>;

    /// <summary>g·∂y/∂b.</summary>
    T Db<T>(T g, T a, T b, T y) where T : IAlgebra<T>;
}

/// <summary>A float32 value under <see cref="IAlgebra{T}"/> (float arithmetic, constants rounded to float).</summary>
internal readonly struct R32(float v) : IAlgebra<R32>
{
    public readonly float V = v;
    public static R32 operator +(R32 a, R32 b) => new(a.V + b.V);
    public static R32 operator -(R32 a, R32 b) => new(a.V - b.V);
    public static R32 operator *(R32 a, R32 b) => new(a.V * b.V);
    public static R32 operator /(R32 a, R32 b) => new(a.V / b.V);
    public static R32 operator -(R32 a) => new(-a.V);
    public static R32 operator +(double a, R32 b) => new((float)a + b.V);
    public static R32 operator -(double a, R32 b) => new((float)a - b.V);
    public static R32 operator *(double a, R32 b) => new((float)a * b.V);
    public static R32 operator /(double a, R32 b) => new((float)a / b.V);
    public static R32 operator +(R32 a, double b) => new(a.V + (float)b);
    public static R32 operator -(R32 a, double b) => new(a.V - (float)b);
    public static R32 operator *(R32 a, double b) => new(a.V * (float)b);
    public static R32 operator /(R32 a, double b) => new(a.V / (float)b);
    public static R32 Exp(R32 x) => new(MathF.Exp(x.V));
    public static R32 Sin(R32 x) => new(MathF.Sin(x.V));
    public static R32 Cos(R32 x) => new(MathF.Cos(x.V));
    public static R32 Sinh(R32 x) => new(MathF.Sinh(x.V));
    public static R32 Cosh(R32 x) => new(MathF.Cosh(x.V));
    public static R32 Tanh(R32 x) => new(MathF.Tanh(x.V));
    public static R32 Digamma(R32 x) => new(V32.Lane1(VecMath.Digamma, x.V));
    public static R32 Trigamma(R32 x) => new(V32.Lane1(VecMath.Trigamma, x.V));
    public static R32 Sign(R32 x) => new(float.IsNaN(x.V) ? x.V : MathF.Sign(x.V));
    public static R32 Erf(R32 x) => new((float)Special.Erf(x.V));
    public static R32 Pow(R32 x, double exponent) => new(MathF.Pow(x.V, (float)exponent));
    public static R32 ZerosLike(R32 x) => new(0f);
    public static R32 Above(R32 x, double c) => new(x.V > (float)c ? 1f : 0f);
    public static R32 IfLe(R32 x, double c, R32 a, R32 b) => x.V <= (float)c ? a : b;
    public static R32 IfLt(R32 x, double c, R32 a, R32 b) => x.V < (float)c ? a : b;
}

/// <summary>A float64 value under <see cref="IAlgebra{T}"/>.</summary>
internal readonly struct R64(double v) : IAlgebra<R64>
{
    public readonly double V = v;
    public static R64 operator +(R64 a, R64 b) => new(a.V + b.V);
    public static R64 operator -(R64 a, R64 b) => new(a.V - b.V);
    public static R64 operator *(R64 a, R64 b) => new(a.V * b.V);
    public static R64 operator /(R64 a, R64 b) => new(a.V / b.V);
    public static R64 operator -(R64 a) => new(-a.V);
    public static R64 operator +(double a, R64 b) => new(a + b.V);
    public static R64 operator -(double a, R64 b) => new(a - b.V);
    public static R64 operator *(double a, R64 b) => new(a * b.V);
    public static R64 operator /(double a, R64 b) => new(a / b.V);
    public static R64 operator +(R64 a, double b) => new(a.V + b);
    public static R64 operator -(R64 a, double b) => new(a.V - b);
    public static R64 operator *(R64 a, double b) => new(a.V * b);
    public static R64 operator /(R64 a, double b) => new(a.V / b);
    public static R64 Exp(R64 x) => new(Math.Exp(x.V));
    public static R64 Sin(R64 x) => new(Math.Sin(x.V));
    public static R64 Cos(R64 x) => new(Math.Cos(x.V));
    public static R64 Sinh(R64 x) => new(Math.Sinh(x.V));
    public static R64 Cosh(R64 x) => new(Math.Cosh(x.V));
    public static R64 Tanh(R64 x) => new(Math.Tanh(x.V));
    public static R64 Digamma(R64 x) => new(Special.Digamma(x.V));
    public static R64 Trigamma(R64 x) => new(Special.Polygamma(1, x.V));
    public static R64 Sign(R64 x) => new(double.IsNaN(x.V) ? x.V : Math.Sign(x.V));
    public static R64 Erf(R64 x) => new(Special.Erf(x.V));
    public static R64 Pow(R64 x, double exponent) => new(Math.Pow(x.V, exponent));
    public static R64 ZerosLike(R64 x) => new(0.0);
    public static R64 Above(R64 x, double c) => new(x.V > c ? 1.0 : 0.0);
    public static R64 IfLe(R64 x, double c, R64 a, R64 b) => x.V <= c ? a : b;
    public static R64 IfLt(R64 x, double c, R64 a, R64 b) => x.V < c ? a : b;
}

/// <summary>Eight float32 lanes under <see cref="IAlgebra{T}"/> (the vectorized fused first-order backward); the
/// transcendental functions are the float32-lane kernels of <see cref="VecMath32"/> (sin and cos the runtime's, as
/// the eager float32 sin and cos), pow is evaluated in double and rounded once.</summary>
internal readonly struct V32(System.Runtime.Intrinsics.Vector256<float> v) : IAlgebra<V32>
{
    public readonly System.Runtime.Intrinsics.Vector256<float> V = v;
    private static System.Runtime.Intrinsics.Vector256<float> S(double c) => System.Runtime.Intrinsics.Vector256.Create((float)c);
    public static V32 operator +(V32 a, V32 b) => new(a.V + b.V);
    public static V32 operator -(V32 a, V32 b) => new(a.V - b.V);
    public static V32 operator *(V32 a, V32 b) => new(a.V * b.V);
    public static V32 operator /(V32 a, V32 b) => new(a.V / b.V);
    public static V32 operator -(V32 a) => new(-a.V);
    public static V32 operator +(double a, V32 b) => new(S(a) + b.V);
    public static V32 operator -(double a, V32 b) => new(S(a) - b.V);
    public static V32 operator *(double a, V32 b) => new(S(a) * b.V);
    public static V32 operator /(double a, V32 b) => new(S(a) / b.V);
    public static V32 operator +(V32 a, double b) => new(a.V + S(b));
    public static V32 operator -(V32 a, double b) => new(a.V - S(b));
    public static V32 operator *(V32 a, double b) => new(a.V * S(b));
    public static V32 operator /(V32 a, double b) => new(a.V / S(b));
    public static V32 Exp(V32 x) => new(VecMath32.Exp(x.V));
    public static V32 Sin(V32 x) => new(System.Runtime.Intrinsics.Vector256.Sin(x.V));
    public static V32 Cos(V32 x) => new(System.Runtime.Intrinsics.Vector256.Cos(x.V));
    public static V32 Sinh(V32 x) => new(VecMath32.Sinh(x.V));
    public static V32 Cosh(V32 x) => new(VecMath32.Cosh(x.V));
    public static V32 Tanh(V32 x) => new(VecMath32.Tanh(x.V));
    public static V32 Digamma(V32 x) => new(ViaDouble(VecMath.Digamma, x.V));
    public static V32 Trigamma(V32 x) => new(ViaDouble(VecMath.Trigamma, x.V));

    /// <summary>A double-lane function on 8 float lanes (widened, rounded once): the float32 kernels of the gamma family.</summary>
    internal static System.Runtime.Intrinsics.Vector256<float> ViaDouble(Func<System.Runtime.Intrinsics.Vector256<double>, System.Runtime.Intrinsics.Vector256<double>> f, System.Runtime.Intrinsics.Vector256<float> x)
    {
        var (lo, hi) = System.Runtime.Intrinsics.Vector256.Widen(x);
        return System.Runtime.Intrinsics.Vector256.Narrow(f(lo), f(hi));
    }

    /// <summary>A double-lane function on one float (the float32 kernel's value for that element).</summary>
    internal static float Lane1(Func<System.Runtime.Intrinsics.Vector256<double>, System.Runtime.Intrinsics.Vector256<double>> f, float x) =>
        (float)System.Runtime.Intrinsics.Vector256.ToScalar(f(System.Runtime.Intrinsics.Vector256.Create((double)x)));
    public static V32 Sign(V32 x) => new(VecMath.Sign(x.V));
    public static V32 Erf(V32 x) => new(VecMath32.Erf(x.V));
    public static V32 Pow(V32 x, double exponent)
    {
        var (lo, hi) = System.Runtime.Intrinsics.Vector256.Widen(x.V);
        return new(System.Runtime.Intrinsics.Vector256.Narrow(VecMath.Pow(lo, exponent), VecMath.Pow(hi, exponent)));
    }
    public static V32 ZerosLike(V32 x) => default;
    public static V32 Above(V32 x, double c) => new(System.Runtime.Intrinsics.Vector256.GreaterThan(x.V, S(c)) & System.Runtime.Intrinsics.Vector256<float>.One);
    public static V32 IfLe(V32 x, double c, V32 a, V32 b) => new(System.Runtime.Intrinsics.Vector256.ConditionalSelect(System.Runtime.Intrinsics.Vector256.LessThanOrEqual(x.V, S(c)), a.V, b.V));
    public static V32 IfLt(V32 x, double c, V32 a, V32 b) => new(System.Runtime.Intrinsics.Vector256.ConditionalSelect(System.Runtime.Intrinsics.Vector256.LessThan(x.V, S(c)), a.V, b.V));
}

/// <summary>Four float64 lanes under <see cref="IAlgebra{T}"/> (the vectorized fused first-order backward).</summary>
internal readonly struct V64(System.Runtime.Intrinsics.Vector256<double> v) : IAlgebra<V64>
{
    public readonly System.Runtime.Intrinsics.Vector256<double> V = v;
    private static System.Runtime.Intrinsics.Vector256<double> S(double c) => System.Runtime.Intrinsics.Vector256.Create(c);
    public static V64 operator +(V64 a, V64 b) => new(a.V + b.V);
    public static V64 operator -(V64 a, V64 b) => new(a.V - b.V);
    public static V64 operator *(V64 a, V64 b) => new(a.V * b.V);
    public static V64 operator /(V64 a, V64 b) => new(a.V / b.V);
    public static V64 operator -(V64 a) => new(-a.V);
    public static V64 operator +(double a, V64 b) => new(S(a) + b.V);
    public static V64 operator -(double a, V64 b) => new(S(a) - b.V);
    public static V64 operator *(double a, V64 b) => new(S(a) * b.V);
    public static V64 operator /(double a, V64 b) => new(S(a) / b.V);
    public static V64 operator +(V64 a, double b) => new(a.V + S(b));
    public static V64 operator -(V64 a, double b) => new(a.V - S(b));
    public static V64 operator *(V64 a, double b) => new(a.V * S(b));
    public static V64 operator /(V64 a, double b) => new(a.V / S(b));
    public static V64 Exp(V64 x) => new(VecMath.Exp(x.V));
    public static V64 Sin(V64 x) => new(System.Runtime.Intrinsics.Vector256.Sin(x.V));
    public static V64 Cos(V64 x) => new(System.Runtime.Intrinsics.Vector256.Cos(x.V));
    public static V64 Sinh(V64 x) => new(VecMath.Sinh(x.V));
    public static V64 Cosh(V64 x) => new(VecMath.Cosh(x.V));
    public static V64 Tanh(V64 x) => new(Special.Tanh(x.V));
    public static V64 Digamma(V64 x) => new(System.Runtime.Intrinsics.Vector256.Create(Special.Digamma(x.V[0]), Special.Digamma(x.V[1]), Special.Digamma(x.V[2]), Special.Digamma(x.V[3])));
    public static V64 Trigamma(V64 x) => new(System.Runtime.Intrinsics.Vector256.Create(Special.Polygamma(1, x.V[0]), Special.Polygamma(1, x.V[1]), Special.Polygamma(1, x.V[2]), Special.Polygamma(1, x.V[3])));
    public static V64 Sign(V64 x) => new(VecMath.Sign(x.V));
    public static V64 Erf(V64 x) => new(VecMath.Erf(x.V));
    public static V64 Pow(V64 x, double exponent) => new(VecMath.Pow(x.V, exponent));
    public static V64 ZerosLike(V64 x) => default;
    public static V64 Above(V64 x, double c) => new(System.Runtime.Intrinsics.Vector256.GreaterThan(x.V, S(c)) & System.Runtime.Intrinsics.Vector256<double>.One);
    public static V64 IfLe(V64 x, double c, V64 a, V64 b) => new(System.Runtime.Intrinsics.Vector256.ConditionalSelect(System.Runtime.Intrinsics.Vector256.LessThanOrEqual(x.V, S(c)), a.V, b.V));
    public static V64 IfLt(V64 x, double c, V64 a, V64 b) => new(System.Runtime.Intrinsics.Vector256.ConditionalSelect(System.Runtime.Intrinsics.Vector256.LessThan(x.V, S(c)), a.V, b.V));
}
