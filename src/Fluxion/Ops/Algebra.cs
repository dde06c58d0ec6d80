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
    static Tensor IAlgebra<Tensor>.Sign(Tensor x) => x.Sign();
    static Tensor IAlgebra<Tensor>.Erf(Tensor x) => x.Erf();
    static Tensor IAlgebra<Tensor>.Pow(Tensor x, double exponent) => x.Pow(exponent);
    static Tensor IAlgebra<Tensor>.ZerosLike(Tensor x) => ZerosLike(x);
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
    /// <summary>-1, 0 or 1 (NaN stays NaN).</summary>
    static abstract T Sign(T x);
    static abstract T Erf(T x);
    static abstract T Pow(T x, double exponent);
    static abstract T ZerosLike(T x);
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
    public static R32 Sign(R32 x) => new(float.IsNaN(x.V) ? x.V : MathF.Sign(x.V));
    public static R32 Erf(R32 x) => new((float)Special.Erf(x.V));
    public static R32 Pow(R32 x, double exponent) => new(MathF.Pow(x.V, (float)exponent));
    public static R32 ZerosLike(R32 x) => new(0f);
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
    public static R64 Sign(R64 x) => new(double.IsNaN(x.V) ? x.V : Math.Sign(x.V));
    public static R64 Erf(R64 x) => new(Special.Erf(x.V));
    public static R64 Pow(R64 x, double exponent) => new(Math.Pow(x.V, exponent));
    public static R64 ZerosLike(R64 x) => new(0.0);
}
