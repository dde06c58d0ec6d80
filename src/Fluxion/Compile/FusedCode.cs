using System.Linq.Expressions;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Fluxion;

/// <summary>
/// Generated code for a fused elementwise group: loops over <see cref="Vector256{T}"/> registers, built with
/// System.Linq.Expressions and compiled once per graph by the JIT: one loop per stage of at most
/// <see cref="FormulasPerStage"/> transcendental formulas (a short group is one loop), the stages run block by block.
/// Every op of a stage is a register operation inside its loop (values made and consumed inside a stage never touch
/// memory; values passed to a later stage go through an L1-sized scratch block); each op's vector formula is the one
/// its eager kernel uses: IEEE-exact arithmetic for the binary ops, and for a unary op the static register formula
/// registered on its entry (<see cref="ForwardKernels.Register"/>), which its eager kernel loops over, so results equal
/// eager's bit for bit by construction. Loads and stores skip bounds checks (the runner checks each slot's range once).
/// Chosen over the block interpreter by an in-process A/B (thread CPU time).
/// </summary>
internal static class FusedCode
{
    /// <summary>The loop of a stage over the full vectors in [start, stop): arrays and offsets per slot (the memory
    /// slots: inputs, outputs, scratch), the scalar inputs' values (by slot).</summary>
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

    /// <summary>Where a slot's value lives: a register only, an array (loaded where first read, stored where made), or a
    /// single element broadcast from the scalars array.</summary>
    internal enum SlotKind : byte { Register, Memory, Scalar }

    /// <summary>Whether the op's vector formula is a call of its own (a transcendental register formula: tens of
    /// instructions and constants) rather than one instruction (arithmetic, or one of <see cref="Vector256"/>'s own).</summary>
    internal static bool IsHeavy(OpDef def, DType dtype) => UnaryFormula(def, dtype) is { } f && f.DeclaringType != typeof(Vector256);

    /// <summary>The heavy formulas one generated loop holds at most (<see cref="Stages"/>). One JIT-compiled method
    /// with many inlined formulas loses: the JIT keeps their shared constants alive across the whole body and spills
    /// registers on the dependency chains (A/B, thread CPU time: the 20-op chain's single loop 1.8-2.2x slower than a
    /// hand-written loop; split into loops of at most two formulas, 3x faster than the single loop and 1.4x faster than
    /// the hand-written one; one formula per loop about as fast; computing two vectors per iteration, interleaved, was slower).</summary>
    internal static int FormulasPerStage = 2;

    /// <summary>Splits a group's instructions into stages of at most <see cref="FormulasPerStage"/> heavy formulas
    /// each (in order); a group without heavy formulas is one stage.</summary>
    internal static List<Instr[]> Stages(Instr[] code, DType dtype)
    {
        var stages = new List<Instr[]>();
        var cur = new List<Instr>();
        int heavy = 0;
        foreach (var c in code)
        {
            bool h = c.B < 0 && IsHeavy(c.Def, dtype);
            if (h && heavy == FormulasPerStage)
            {
                stages.Add([.. cur]);
                cur.Clear();
                heavy = 0;
            }
            if (h) heavy++;
            cur.Add(c);
        }
        if (cur.Count > 0) stages.Add([.. cur]);
        return stages;
    }

    /// <summary>Builds and compiles the loop of one stage of a group over the element range [start, stop) (a multiple
    /// of the vector width): per vector, every <see cref="SlotKind.Memory"/> slot the stage reads before making it is
    /// loaded from its array (at its offset plus the index), every op computed into a register, and every memory slot
    /// it makes stored.</summary>
    internal static Loop<T> Build<T>(Instr[] code, SlotKind[] kinds) where T : struct
    {
        var vt = typeof(Vector256<T>);
        int w = Vector256<T>.Count;
        var dtype = typeof(T) == typeof(float) ? DType.Float32 : DType.Float64;
        var arrays = Expression.Parameter(typeof(T[][]), "arrays");
        var offsets = Expression.Parameter(typeof(int[]), "offsets");
        var scalars = Expression.Parameter(typeof(T[]), "scalars");
        var start = Expression.Parameter(typeof(int), "start");
        var stop = Expression.Parameter(typeof(int), "stop");
        var i = Expression.Variable(typeof(int), "i");
        var locals = new List<ParameterExpression> { i };
        var setup = new List<Expression>();
        int slots = kinds.Length;
        var arr = new ParameterExpression?[slots];
        var off = new ParameterExpression?[slots];
        var scalar = new ParameterExpression?[slots];
        var load = typeof(FusedCode).GetMethod(nameof(Load), BindingFlags.Static | BindingFlags.NonPublic)!.MakeGenericMethod(typeof(T));
        var store = typeof(FusedCode).GetMethod(nameof(Store), BindingFlags.Static | BindingFlags.NonPublic)!.MakeGenericMethod(typeof(T));
        var broadcast = typeof(Vector256).GetMethod(nameof(Vector256.Create), [typeof(T)])!;
        var used = new HashSet<int>(code.SelectMany(c => new[] { c.A, c.B, c.Dst }).Where(s => s >= 0));
        foreach (int s in used.Order())
        {
            if (kinds[s] == SlotKind.Scalar)
            {
                scalar[s] = Expression.Variable(vt, $"s{s}");
                locals.Add(scalar[s]!);
                setup.Add(Expression.Assign(scalar[s]!, Expression.Call(broadcast, Expression.ArrayIndex(scalars, Expression.Constant(s)))));
            }
            else if (kinds[s] == SlotKind.Memory)
            {
                arr[s] = Expression.Variable(typeof(T[]), $"a{s}");
                off[s] = Expression.Variable(typeof(int), $"o{s}");
                locals.Add(arr[s]!);
                locals.Add(off[s]!);
                setup.Add(Expression.Assign(arr[s]!, Expression.ArrayIndex(arrays, Expression.Constant(s))));
                setup.Add(Expression.Assign(off[s]!, Expression.ArrayIndex(offsets, Expression.Constant(s))));
            }
        }

        // the body for the vector at i: every op into a register
        var regs = new List<ParameterExpression>();
        var body = new List<Expression>();
        var reg = new ParameterExpression?[slots];
        Expression Operand(int s)
        {
            if (kinds[s] == SlotKind.Scalar) return scalar[s]!;
            if (reg[s] is { } r) return r;
            // a memory slot read before this stage makes it: loaded once
            var x = Expression.Variable(vt, $"x{s}");
            regs.Add(x);
            reg[s] = x;
            body.Add(Expression.Assign(x, Expression.Call(load, arr[s]!, Expression.Add(off[s]!, i))));
            return x;
        }
        foreach (var c in code)
        {
            var a = Operand(c.A);
            Expression value;
            if (c.B >= 0)
            {
                var b = Operand(c.B);
                value = c.Def switch
                {
                    _ when ReferenceEquals(c.Def, Tensor.AddOp) => Expression.Add(a, b),
                    _ when ReferenceEquals(c.Def, Tensor.SubOp) => Expression.Subtract(a, b),
                    _ when ReferenceEquals(c.Def, Tensor.MulOp) => Expression.Multiply(a, b),
                    _ => Expression.Divide(a, b),
                };
            }
            else value = Expression.Call(UnaryFormula(c.Def, dtype)!, a);
            var r = Expression.Variable(vt, $"r{c.Dst}");
            regs.Add(r);
            reg[c.Dst] = r;
            body.Add(Expression.Assign(r, value));
            if (kinds[c.Dst] == SlotKind.Memory) body.Add(Expression.Call(store, r, arr[c.Dst]!, Expression.Add(off[c.Dst]!, i)));
        }
        body.Add(Expression.AddAssign(i, Expression.Constant(w)));
        var done = Expression.Label("done");
        setup.Add(Expression.Assign(i, start));
        setup.Add(Expression.Loop(Expression.IfThenElse(Expression.LessThan(i, stop), Expression.Block(regs, body), Expression.Break(done)), done));
        var lambda = Expression.Lambda<Loop<T>>(Expression.Block(locals, setup), arrays, offsets, scalars, start, stop);
        return lambda.Compile();
    }
}
