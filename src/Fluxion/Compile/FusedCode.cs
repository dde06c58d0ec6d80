using System.Linq.Expressions;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Fluxion;

/// <summary>
/// Generated code for a fused elementwise group: one loop over <see cref="Vector256{T}"/> registers per group, built
/// with System.Linq.Expressions and compiled once per graph by the JIT. Every op of the group is a register operation
/// inside the loop (values made and consumed inside the group never touch memory); each op's vector formula is the one
/// its eager kernel uses (IEEE-exact arithmetic, or the same formula as the kernel), so float64 results equal eager's
/// bit for bit and float32 ones within rounding (the lanes of a vector tail may take the vector formula where the
/// eager kernel takes a scalar one). Chosen over the block interpreter by an in-process A/B (thread CPU time).
/// </summary>
internal static class FusedCode
{
    /// <summary>The loop of a group over the full vectors in [start, stop): arrays and offsets per slot (inputs,
    /// then outputs), the scalar inputs' values.</summary>
    internal delegate void Loop<T>(T[][] arrays, int[] offsets, T[] scalars, int start, int stop);

    /// <summary>Whether generated code can run: dynamic code is compiled (not interpreted) and 256-bit vectors are hardware accelerated.</summary>
    internal static bool Available => RuntimeFeature.IsDynamicCodeCompiled && Vector256.IsHardwareAccelerated;

    /// <summary>Whether the op has a register formula equal to its eager kernel for the element type.</summary>
    internal static bool Supports(OpDef def, DType dtype) => def switch
    {
        _ when ReferenceEquals(def, Tensor.AddOp) || ReferenceEquals(def, Tensor.SubOp) || ReferenceEquals(def, Tensor.MulOp) || ReferenceEquals(def, Tensor.DivOp) => true,
        _ => UnaryFormula(def, dtype) is not null,
    };

    /// <summary>The static method computing a unary op on one register, or null.</summary>
    private static MethodInfo? UnaryFormula(OpDef def, DType dtype)
    {
        string? name = def.Name switch
        {
            "Sqrt" or "Abs" or "Floor" or "Ceil" or "Trunc" or "Tanh" => def.Name,
            // float32: the same vector formulas as TensorPrimitives'; float64 goes through the kernels (not verified bit-equal)
            "Exp" or "Sigmoid" when dtype == DType.Float32 => def.Name,
            _ => null,
        };
        if (name is null || !ReferenceEquals(def, KnownUnary(name))) return null;
        return typeof(VectorMath).GetMethod(name, BindingFlags.Static | BindingFlags.NonPublic, [dtype == DType.Float32 ? typeof(Vector256<float>) : typeof(Vector256<double>)]);
    }

    private static OpDef? KnownUnary(string name) => name switch
    {
        "Sqrt" => Tensor.SqrtOp,
        "Abs" => Tensor.AbsOp,
        "Floor" => Tensor.FloorOp,
        "Ceil" => Tensor.CeilOp,
        "Trunc" => Tensor.TruncOp,
        "Tanh" => Tensor.TanhOp,
        "Exp" => Tensor.ExpOp,
        "Sigmoid" => Tensor.SigmoidOp,
        _ => null,
    };

    /// <summary>One instruction of a group: the op, its operand slots (-1 for none) and its destination slot.</summary>
    internal readonly record struct Instr(OpDef Def, int A, int B, int Dst);

    /// <summary>Builds and compiles the loop of a group. Slots below <paramref name="nIn"/> are inputs
    /// (<paramref name="scalarIn"/> marks single elements, read from the scalars array), the next
    /// <paramref name="nOut"/> outputs (stored as they are made), the rest registers only.</summary>
    internal static Loop<T> Build<T>(Instr[] code, int nIn, int nOut, bool[] scalarIn) where T : struct
    {
        var vt = typeof(Vector256<T>);
        int w = Vector256<T>.Count;
        var arrays = Expression.Parameter(typeof(T[][]), "arrays");
        var offsets = Expression.Parameter(typeof(int[]), "offsets");
        var scalars = Expression.Parameter(typeof(T[]), "scalars");
        var start = Expression.Parameter(typeof(int), "start");
        var stop = Expression.Parameter(typeof(int), "stop");
        var i = Expression.Variable(typeof(int), "i");
        var locals = new List<ParameterExpression> { i };
        var setup = new List<Expression>();
        int slots = Math.Max(nIn + nOut, code.Length == 0 ? 0 : code.Max(c => c.Dst) + 1);
        var arr = new ParameterExpression?[slots];
        var off = new ParameterExpression?[slots];
        var reg = new ParameterExpression?[slots];
        var create = typeof(Vector256).GetMethods().Single(m => m.Name == nameof(Vector256.Create) && m.IsGenericMethodDefinition
            && m.GetParameters() is { Length: 2 } p && p[0].ParameterType.IsArray && p[1].ParameterType == typeof(int)).MakeGenericMethod(typeof(T));
        var copyTo = typeof(Vector256).GetMethods().Single(m => m.Name == nameof(Vector256.CopyTo) && m.IsGenericMethodDefinition
            && m.GetParameters() is { Length: 3 } p && p[1].ParameterType.IsArray).MakeGenericMethod(typeof(T));
        var broadcast = typeof(Vector256).GetMethod(nameof(Vector256.Create), [typeof(T)])!;
        for (int s = 0; s < nIn + nOut; s++)
        {
            if (s < nIn && scalarIn[s])
            {
                reg[s] = Expression.Variable(vt, $"s{s}");
                locals.Add(reg[s]!);
                setup.Add(Expression.Assign(reg[s]!, Expression.Call(broadcast, Expression.ArrayIndex(scalars, Expression.Constant(s)))));
                continue;
            }
            arr[s] = Expression.Variable(typeof(T[]), $"a{s}");
            off[s] = Expression.Variable(typeof(int), $"o{s}");
            locals.Add(arr[s]!);
            locals.Add(off[s]!);
            setup.Add(Expression.Assign(arr[s]!, Expression.ArrayIndex(arrays, Expression.Constant(s))));
            setup.Add(Expression.Assign(off[s]!, Expression.ArrayIndex(offsets, Expression.Constant(s))));
        }
        // the loop body: load the vector inputs it reads, then every op into a register (stored when it is an output)
        var body = new List<Expression>();
        var loopRegs = new List<ParameterExpression>();
        for (int s = 0; s < nIn; s++)
        {
            if (scalarIn[s] || !code.Any(c => c.A == s || c.B == s)) continue;
            reg[s] = Expression.Variable(vt, $"x{s}");
            loopRegs.Add(reg[s]!);
            body.Add(Expression.Assign(reg[s]!, Expression.Call(create, arr[s]!, Expression.Add(off[s]!, i))));
        }
        foreach (var c in code)
        {
            var a = reg[c.A]!;
            Expression value;
            if (c.B >= 0)
            {
                var b = reg[c.B]!;
                value = c.Def switch
                {
                    _ when ReferenceEquals(c.Def, Tensor.AddOp) => Expression.Add(a, b),
                    _ when ReferenceEquals(c.Def, Tensor.SubOp) => Expression.Subtract(a, b),
                    _ when ReferenceEquals(c.Def, Tensor.MulOp) => Expression.Multiply(a, b),
                    _ => Expression.Divide(a, b),
                };
            }
            else value = Expression.Call(UnaryFormula(c.Def, typeof(T) == typeof(float) ? DType.Float32 : DType.Float64)!, a);
            var r = Expression.Variable(vt, $"r{c.Dst}");
            loopRegs.Add(r);
            reg[c.Dst] = r;
            body.Add(Expression.Assign(r, value));
            if (c.Dst >= nIn && c.Dst < nIn + nOut)
                body.Add(Expression.Call(copyTo, r, arr[c.Dst]!, Expression.Add(off[c.Dst]!, i)));
        }
        body.Add(Expression.AddAssign(i, Expression.Constant(w)));
        var brk = Expression.Label("done");
        setup.Add(Expression.Assign(i, start));
        setup.Add(Expression.Loop(
            Expression.IfThenElse(Expression.LessThan(i, stop), Expression.Block(loopRegs, body), Expression.Break(brk)), brk));
        var lambda = Expression.Lambda<Loop<T>>(Expression.Block(locals, setup), arrays, offsets, scalars, start, stop);
        return lambda.Compile();
    }
}

/// <summary>Register formulas of the fused ops, each the formula of the op's eager kernel.</summary>
internal static class VectorMath
{
    private static Vector256<float> Sqrt(Vector256<float> x) => Vector256.Sqrt(x);
    private static Vector256<double> Sqrt(Vector256<double> x) => Vector256.Sqrt(x);
    private static Vector256<float> Abs(Vector256<float> x) => Vector256.Abs(x);
    private static Vector256<double> Abs(Vector256<double> x) => Vector256.Abs(x);
    private static Vector256<float> Floor(Vector256<float> x) => Vector256.Floor(x);
    private static Vector256<double> Floor(Vector256<double> x) => Vector256.Floor(x);
    private static Vector256<float> Ceil(Vector256<float> x) => Vector256.Ceiling(x);
    private static Vector256<double> Ceil(Vector256<double> x) => Vector256.Ceiling(x);
    private static Vector256<float> Trunc(Vector256<float> x) => Vector256.Truncate(x);
    private static Vector256<double> Trunc(Vector256<double> x) => Vector256.Truncate(x);

    /// <summary>e^x: the eager float32 kernel's register function.</summary>
    private static Vector256<float> Exp(Vector256<float> x) => Kernels.VecMath32.Exp(x);

    /// <summary>The logistic sigmoid: the eager float32 kernel's register function.</summary>
    private static Vector256<float> Sigmoid(Vector256<float> x) => Kernels.VecMath32.Sigmoid(x);

    /// <summary>tanh: the eager float32 kernel's register function.</summary>
    private static Vector256<float> Tanh(Vector256<float> x) => Kernels.VecMath32.Tanh(x);

    /// <summary>Math.Tanh per lane (the float64 kernel).</summary>
    private static Vector256<double> Tanh(Vector256<double> x) =>
        Vector256.Create(Math.Tanh(x.GetElement(0)), Math.Tanh(x.GetElement(1)), Math.Tanh(x.GetElement(2)), Math.Tanh(x.GetElement(3)));
}
