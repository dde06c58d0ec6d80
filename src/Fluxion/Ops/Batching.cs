namespace Fluxion;

/// <summary>A batching rule: computes a registry entry's outputs on inputs of which some carry a leading batch dim.</summary>
internal delegate Tensor?[] BatchRule(BatchCtx c);

/// <summary>
/// What a batching rule sees: the inputs, of which those marked <see cref="Batched"/> carry the batch as their
/// leading (physical) dim 0 while their logical shape (what the op saw when traced) follows it; the others are
/// the same for every example. The rule returns every output with the batch as dim 0. Dims in the call's
/// attributes are logical: <see cref="Dim"/> maps them to physical dims.
/// </summary>
internal sealed class BatchCtx(Tensor[] inputs, bool[] batched, int batch, object? attr, int[][] outShapes, DType[] outDTypes)
{
    /// <summary>The inputs (physical tensors).</summary>
    public Tensor[] In { get; } = inputs;

    /// <summary>Whether input i carries the batch dim (at dim 0).</summary>
    public bool[] Batched { get; } = batched;

    /// <summary>The batch size.</summary>
    public int B { get; } = batch;

    /// <summary>The call's attributes, as recorded.</summary>
    public object? Attr { get; } = attr;

    /// <summary>Whether the attribute is a tensor that carries the batch dim (e.g. a per-example Where condition).</summary>
    public bool AttrBatched { get; init; }

    /// <summary>The logical shapes of the outputs (as traced).</summary>
    public int[][] OutShapes { get; } = outShapes;

    /// <summary>The dtypes of the outputs (as traced).</summary>
    public DType[] OutDTypes { get; } = outDTypes;

    /// <summary>The attribute as <typeparamref name="T"/>.</summary>
    public T A<T>() => (T)Attr!;

    /// <summary>Input <paramref name="i"/> (physical).</summary>
    public Tensor X(int i) => In[i];

    /// <summary>The logical rank of input <paramref name="i"/>.</summary>
    public int Rank(int i) => Batched[i] ? In[i].Rank - 1 : In[i].Rank;

    /// <summary>The logical shape of input <paramref name="i"/>.</summary>
    public int[] Shape(int i) => Batched[i] ? In[i].ShapeArray[1..] : In[i].ShapeArray;

    /// <summary>The physical dim of logical dim <paramref name="d"/> (negative counts from the end) of a batched input of logical rank <paramref name="rank"/>.</summary>
    public static int PhysDim(int d, int rank) => (d < 0 ? d + rank : d) + 1;

    /// <summary>The physical dim of logical dim <paramref name="d"/> of input <paramref name="i"/>.</summary>
    public int Dim(int i, int d) => Batched[i] ? PhysDim(d, Rank(i)) : (d < 0 ? d + Rank(i) : d);

    /// <summary>Input <paramref name="i"/> with the batch dim (an unbatched input is expanded, without copying).</summary>
    public Tensor Materialize(int i)
    {
        if (Batched[i]) return In[i];
        var x = In[i];
        return x.Unsqueeze(0).Expand([B, .. x.ShapeArray]);
    }

    /// <summary>Input <paramref name="i"/> laid out for right-aligned broadcasting against logical rank <paramref name="rank"/>:
    /// a batched input becomes [B, 1, ..., 1, shape] (a view); an unbatched one is unchanged.</summary>
    public Tensor Aligned(int i, int rank) => Batched[i] ? BatchRules.PadBatched(In[i], rank) : In[i];

    /// <summary>The largest logical rank among the inputs.</summary>
    public int MaxRank()
    {
        int r = 0;
        for (int i = 0; i < In.Length; i++) r = Math.Max(r, Rank(i));
        return r;
    }
}

/// <summary>Batching rules shared by many entries (elementwise ops, ops along one dim, reductions).</summary>
internal static class BatchRules
{
    /// <summary>An elementwise (broadcasting) op: inputs aligned to the output's logical rank, then the op itself.</summary>
    public static BatchRule Elementwise(Func<Tensor[], object?, Tensor> f) => c =>
    {
        int r = c.MaxRank();
        var xs = new Tensor[c.In.Length];
        for (int i = 0; i < xs.Length; i++) xs[i] = c.Aligned(i, r);
        return [f(xs, c.Attr)];
    };

    /// <summary>A unary op that works on any shape elementwise (no dims involved).</summary>
    public static BatchRule Unary(Func<Tensor, Tensor> f) => c => [f(c.X(0))];

    /// <summary>A unary op with attributes that works on any shape elementwise.</summary>
    public static BatchRule Unary(Func<Tensor, object?, Tensor> f) => c => [f(c.X(0), c.Attr)];

    /// <summary>A broadcasting binary op.</summary>
    public static BatchRule Binary(Func<Tensor, Tensor, Tensor> f) => Elementwise((x, _) => f(x[0], x[1]));

    /// <summary>An op of one input along one logical dim (the attribute, an int): the dim shifted past the batch.</summary>
    public static BatchRule AlongDim(Func<Tensor, int, Tensor> f) => c => [Along(c, c.A<int>(), f)];

    /// <summary>
    /// <paramref name="f"/> applied along logical dim <paramref name="d"/> of the batched input 0 (physical dim d + 1).
    /// A logical 0-d input is seen as one element along a unit dim, and the result takes output <paramref name="o"/>'s
    /// logical shape (what the op gives for a 0-d input).
    /// </summary>
    public static Tensor Along(BatchCtx c, int d, Func<Tensor, int, Tensor> f, int o = 0)
    {
        var x = c.Materialize(0);
        if (c.Rank(0) == 0) return f(x.Unsqueeze(1), 1).Reshape([c.B, .. c.OutShapes[o]]);
        return f(x, BatchCtx.PhysDim(d, c.Rank(0)));
    }

    /// <summary>
    /// A reduction <paramref name="f"/>(x, dims, keepDim) of the batched input 0 over the logical
    /// <paramref name="dims"/> (as recorded: wrapped; empty: all), shifted past the batch. A logical
    /// 0-d input is reduced as one element along a unit dim.
    /// </summary>
    public static Tensor ReduceOver(BatchCtx c, int[] dims, bool keepDim, Func<Tensor, int[], bool, Tensor> f)
    {
        var x = c.Materialize(0);
        if (c.Rank(0) == 0) return f(x.Unsqueeze(1), [1], false).Reshape([c.B, .. c.OutShapes[0]]);
        return f(x, Dims(dims, c.Rank(0)), keepDim);
    }

    /// <summary>
    /// The op run once per example (slices of the batched inputs and of a batched tensor attribute) and the results
    /// stacked: for the rare cases a rule does not vectorize (e.g. a per-example index into a per-example table).
    /// </summary>
    public static Tensor?[] PerExample(BatchCtx c, Func<Tensor[], object?, Tensor?[]> f)
    {
        List<Tensor>[]? outs = null;
        for (int b = 0; b < c.B; b++)
        {
            var ins = new Tensor[c.In.Length];
            for (int i = 0; i < ins.Length; i++) ins[i] = c.Batched[i] ? c.In[i].Select(0, b) : c.In[i];
            var attr = c.AttrBatched ? ((Tensor)c.Attr!).Select(0, b) : c.Attr;
            var ys = f(ins, attr);
            outs ??= [.. ys.Select(_ => new List<Tensor>())];
            for (int o = 0; o < ys.Length; o++) if (ys[o] is { } y) outs[o].Add(y);
        }
        return [.. outs!.Select(l => l.Count == c.B ? Tensor.Stack([.. l], 0) : null)];
    }

    /// <summary>
    /// The batching rule of a linear entry (<see cref="OpDef.Linear"/>): f(x) = J·x, so the batched result is the
    /// vector-mode JVP with the batched inputs as the k = B tangents (inputs the same for every example are expanded;
    /// since f is jointly linear they contribute like any other). The rule reads its inputs only for their shapes,
    /// so it gets the first example's slice; the outputs are stood in for by expanded scalars of their shapes.
    /// </summary>
    public static Tensor?[] ViaJvp(OpDef def, BatchCtx c)
    {
        int n = c.In.Length;
        var ex = new Tensor?[n];
        var t = new Tensor?[n];
        for (int i = 0; i < n; i++)
        {
            // every input is linear here (shape ops move int64 and bool values as they move floats)
            ex[i] = c.Batched[i] ? c.In[i].Select(0, 0) : c.In[i];
            t[i] = c.Materialize(i);
        }
        var outs = new Tensor[c.OutShapes.Length];
        for (int o = 0; o < outs.Length; o++) outs[o] = Tensor.Zeros([], c.OutDTypes[o]).Expand(c.OutShapes[o]);
        var ctx = new OpCtx(ex, outs.Length == 1 ? outs[0] : null, outs.Length == 1 ? null : outs, c.Attr);
        return def.Tangents(ctx, t);
    }

    /// <summary>
    /// Matrix product of <paramref name="a"/> and <paramref name="b"/> (either may carry the batch at dim 0, as
    /// <paramref name="aB"/>/<paramref name="bB"/> say) with the logical semantics of <see cref="Tensor.MatMul(Tensor, Tensor)"/>:
    /// 1-d operands get a unit dim that is dropped again, the logical batch dims broadcast, and the batch
    /// rides along as one more broadcast batch dim, so the GEMM runs once over all examples.
    /// </summary>
    public static Tensor MatMul(Tensor a, bool aB, Tensor b, bool bB, int batch)
    {
        int ra = aB ? a.Rank - 1 : a.Rank, rb = bB ? b.Rank - 1 : b.Rank;
        if (ra == 1 && rb == 1)
        {
            // dot product per example
            return (a * b).Sum(-1);
        }
        if (ra == 1) return MatMul(a.Unsqueeze(-2), aB, b, bB, batch).Squeeze(-2);
        if (rb == 1) return MatMul(a, aB, b.Unsqueeze(-1), bB, batch).Squeeze(-1);
        int r = Math.Max(ra, rb);
        if (aB) a = PadBatched(a, r);
        if (bB) b = PadBatched(b, r);
        if (aB && !bB && ra == 2 && b.Rank == 2)
        {
            // [B, m, k]·[k, n]: one GEMM with the examples' rows stacked
            int m = a.Shape[1], k = a.Shape[2];
            return a.Reshape(batch * m, k).MatMul(b).Reshape(batch, m, b.Shape[1]);
        }
        if (!aB && bB && ra == 2 && rb == 2 && a.Rank == 2)
        {
            // [m, k]·[B, k, n]: transposed, the examples' columns stack into rows of one GEMM (Bᵀ·Aᵀ)
            int k = b.Shape[1], n = b.Shape[2], m = a.Shape[0];
            return b.MT.Reshape(batch * n, k).MatMul(a.MT).Reshape(batch, n, m).MT;
        }
        return a.MatMul(b);
    }

    /// <summary>A batched tensor [B, ...shape] as [B, 1, ..., 1, ...shape] of logical rank <paramref name="rank"/>.</summary>
    public static Tensor PadBatched(Tensor x, int rank)
    {
        int pad = rank - (x.Rank - 1);
        if (pad <= 0) return x;
        var s = new int[rank + 1];
        s[0] = x.Shape[0];
        for (int d = 1; d <= pad; d++) s[d] = 1;
        for (int d = 1; d < x.Rank; d++) s[pad + d] = x.Shape[d];
        return x.Reshape(s);
    }

    /// <summary>Logical dims (null: all) of a tensor of logical rank <paramref name="rank"/> as physical dims of its batched form.</summary>
    public static int[] Dims(int[]? dims, int rank)
    {
        if (dims is null || dims.Length == 0) return [.. Enumerable.Range(1, rank)];
        return Array.ConvertAll(dims, d => BatchCtx.PhysDim(d, rank));
    }
}
