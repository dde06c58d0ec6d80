using System.Linq.Expressions;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Fluxion;

/// <summary>
/// Generated code for a fused elementwise group: one loop over <see cref="Vector256{T}"/> registers per group, built
/// with System.Linq.Expressions and compiled once per graph by the JIT. Every op of the group is a register operation
/// inside the loop (values made and consumed inside the group never touch memory); each op's vector formula is the one
/// its eager kernel uses: IEEE-exact arithmetic for the binary ops, and for a unary op the static register formula
/// registered on its entry (<see cref="ForwardKernels.Register"/>), which its eager kernel loops over, so results equal
/// eager's bit for bit by construction. Loads and stores skip bounds checks (the runner checks each slot's range once).
/// Chosen over the block interpreter by an in-process A/B (thread CPU time).
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

    /// <summary>The static method computing a unary op on one register: the formula registered on the op's entry
    /// (<see cref="ForwardKernels.Register"/>, e.g. <see cref="UnaryDef{TD}.Register32"/>), which its eager kernel
    /// loops over; null when the entry registers none for the dtype.</summary>
    private static MethodInfo? UnaryFormula(OpDef def, DType dtype) => def.Forward.Register(dtype);

    /// <summary>Loads the vector at element <paramref name="i"/> of <paramref name="a"/> without a bounds check (the
    /// runner checks every slot's range once per run).</summary>
    internal static Vector256<T> Load<T>(T[] a, int i) => Vector256.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(a), (nuint)(uint)i);

    /// <summary>Stores <paramref name="v"/> at element <paramref name="i"/> of <paramref name="a"/> without a bounds check.</summary>
    internal static void Store<T>(Vector256<T> v, T[] a, int i) => v.StoreUnsafe(ref MemoryMarshal.GetArrayDataReference(a), (nuint)(uint)i);

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
        var create = typeof(FusedCode).GetMethod(nameof(Load), BindingFlags.Static | BindingFlags.NonPublic)!.MakeGenericMethod(typeof(T));
        var copyTo = typeof(FusedCode).GetMethod(nameof(Store), BindingFlags.Static | BindingFlags.NonPublic)!.MakeGenericMethod(typeof(T));
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
