using System.Runtime.CompilerServices;

namespace Fluxion.Nn.MixedMode;

/// <summary>
/// An activation of a forward-mode section together with its tangents with respect to every
/// forward-mode "parameter" upstream: <see cref="Primal"/> of shape [N, ...] (dim 0 is the batch) and
/// <see cref="Tangent"/> of shape [K, N, ...] (or [K, 1, ...] while the tangents are the same for every
/// sample), where K is the number of directions carried. Each forward-mode layer maps the K incoming
/// tangents through its Jacobian (one batched call per op) and appends its own directions (or, for the
/// random modes, adds them to the section's shared random directions). Which range of the K directions
/// belongs to which parameter (or to the section's input, see <see cref="Rev2Fwd"/>) is recorded, so that
/// <see cref="Fwd2Rev"/> or a forward-mode loss can turn contracted tangents into gradients.
/// <para>Between layers the mixed tensor travels as an ordinary <see cref="Tensor"/> holding the primal
/// values (so forward-mode layers compose in <see cref="Sequential"/>); <see cref="Of"/> recovers it.
/// Forward-mode layers treat dim 0 as the batch and never mix samples.</para>
/// </summary>
public sealed class MixedTensor
{
    private static readonly ConditionalWeakTable<Tensor, MixedTensor> s_carriers = new();

    internal MixedTensor(Tensor primal, Tensor? tangent, IReadOnlyList<DirectionGroup> groups, bool tracking)
    {
        Primal = primal;
        Tangent = tangent;
        Groups = groups;
        Tracking = tracking;
    }

    /// <summary>The values (no autograd history).</summary>
    public Tensor Primal { get; }

    /// <summary>The tangents [K, N, ...primal.shape[1..]] (batch dim 1 when shared by all samples; [K] for a
    /// loss), or null when no direction is carried (nothing upstream is trainable, or tangents are off).</summary>
    public Tensor? Tangent { get; }

    /// <summary>Number K of directions carried.</summary>
    public int Directions => Tangent?.Size(0) ?? 0;

    /// <summary>False when the section was entered with grad mode off (inference): only primals are computed.</summary>
    public bool Tracking { get; }

    /// <summary>What each range of directions stands for (in order, contiguous).</summary>
    internal IReadOnlyList<DirectionGroup> Groups { get; }

    /// <summary>Per-sample contributions [K, N] to a loss's tangent (set by forward-mode losses when needed).</summary>
    internal Tensor? PerSampleTangent { get; init; }

    /// <summary>True for the output of a forward-mode loss (already differentiable; not an input for Fwd2Rev or layers).</summary>
    internal bool IsLoss { get; init; }

    /// <summary>A short description of the directions, e.g. "K=107: Exact MixedMode.Conv2d (20), Random(k=1) ...".</summary>
    public string DescribeDirections() =>
        $"K={Directions}" + (Groups.Count == 0 ? "" : ": " + string.Join(", ", Groups.Select(g => g.Describe())));

    /// <summary>The mixed tensor that <paramref name="tensor"/> stands for (the output of a forward-mode
    /// layer, of <see cref="Rev2Fwd"/> or of a forward-mode loss), or null for an ordinary tensor.</summary>
    public static MixedTensor? Of(Tensor tensor) => s_carriers.TryGetValue(tensor, out var m) ? m : null;

    /// <summary>The mixed tensor behind <paramref name="input"/>, or a clear error naming <paramref name="layer"/> and the fix.</summary>
    internal static MixedTensor Require(Tensor input, string layer)
    {
        if (Of(input) is { } m) return m;
        throw new AutogradException(
            $"{layer}: the input (shape {ShapeUtil.Format(input.Shape)}) is a plain tensor that carries no forward-mode tangents. " +
            "A forward-mode section must start with MixedMode.Rev2Fwd: put a Rev2Fwd before the first forward-mode layer " +
            "(for data as well as for the output of reverse-mode layers, whose gradients it keeps flowing). " +
            "An ordinary op applied to a forward-mode output also drops its tangents; use the MixedMode layers inside the section.");
    }

    /// <summary>The trainable tensors (parameters, section inputs) the directions stand for, each once.</summary>
    internal Tensor[] Targets()
    {
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        var list = new List<Tensor>();
        foreach (var g in Groups)
            foreach (var t in g.Targets)
                if (seen.Add(t)) list.Add(t);
        return [.. list];
    }

    /// <summary>
    /// The ordinary tensor that carries this mixed tensor between layers: an alias of the primal. When
    /// gradients can be lost (grad mode on and trainable targets upstream), it is attached to a guard node
    /// whose backward throws: reverse-mode ops applied to a forward-mode output without Fwd2Rev would
    /// otherwise silently give no gradient to the forward-mode parameters.
    /// </summary>
    internal Tensor ToCarrier(string layer)
    {
        Tensor carrier;
        using (Autograd.NoGrad()) carrier = Primal.Detach();
        var targets = Targets();
        if (Tracking && Op.ReverseTracking(targets))
        {
            carrier = GraphOps.Guarded(carrier, targets,
                $"{layer}: a forward-mode output reached a reverse-mode backward pass without MixedMode.Fwd2Rev. " +
                "Insert a Fwd2Rev after the last forward-mode layer (it turns the carried tangents into gradients), " +
                "or end the forward-mode section with a forward-mode loss (MixedMode.MSELoss / MixedMode.CrossEntropyLoss).");
        }
        s_carriers.AddOrUpdate(carrier, this);
        return carrier;
    }

    /// <summary>Registers <paramref name="carrier"/> as standing for this mixed tensor.</summary>
    internal void Register(Tensor carrier) => s_carriers.AddOrUpdate(carrier, this);

    /// <summary>A mixed tensor with the same directions and new primal and tangent (parameter-free layers).</summary>
    internal MixedTensor WithValues(Tensor primal, Tensor? tangent) => new(primal, Tracking ? tangent : null, Groups, Tracking);

    /// <summary>
    /// The output of a layer with primal <paramref name="primal"/>: <paramref name="upstream"/> is the
    /// incoming tangent block mapped through the layer's Jacobian wrt its input ([K, n, ...output], null when
    /// K = 0); <paramref name="own"/> the layer's own directions (null when it has none).
    /// </summary>
    internal MixedTensor Next(Tensor primal, Tensor? upstream, OwnDirections? own)
    {
        if (!Tracking) return new MixedTensor(primal, null, Groups, false);
        if (own is null) return new MixedTensor(primal, upstream, Groups, true);
        int kIn = upstream?.Size(0) ?? 0;
        var groups = new List<DirectionGroup>();
        if (own.Random is not { } rnd)
        {
            // exact: one buffer for all directions; the layer writes its (sparse) basis block straight into it
            int n = primal.Size(0);
            int[] rest = primal.ShapeArray[1..];
            var tangent = Tensor.Zeros([kIn + own.Count, n, .. rest], primal.DType);
            if (upstream is not null) tangent.Narrow(0, 0, kIn).CopyRawFrom(upstream.Expand([kIn, n, .. rest]));
            own.Fill!(tangent.Narrow(0, kIn, own.Count));
            groups.AddRange(Groups);
            groups.Add(new ExactParamGroup(kIn, own.Exact!, own.Layer));
            return new MixedTensor(primal, tangent, groups, true);
        }
        var pieces = new List<Tensor>();
        if (Groups.OfType<RandomGroup>().FirstOrDefault(g => g.K == rnd.K) is { } join)
        {
            // add this layer's block to the section's shared random directions
            foreach (var g in Groups)
            {
                groups.Add(ReferenceEquals(g, join) ? join.With(rnd.Blocks) : g);
                var slice = upstream!.Narrow(0, g.Start, g.Count);
                pieces.Add(ReferenceEquals(g, join) ? slice + own.Block! : slice);
            }
        }
        else
        {
            groups.AddRange(Groups);
            if (upstream is not null) pieces.Add(upstream);
            pieces.Add(own.Block!);
            groups.Add(new RandomGroup(kIn, rnd.K, rnd.Blocks));
        }
        return new MixedTensor(primal, CatDirections(pieces, primal), groups, true);
    }

    /// <summary>
    /// A view of <paramref name="t"/> (contiguous) on the diagonal of dims <paramref name="a"/> and
    /// <paramref name="b"/> (equal sizes): dim b is dropped and dim a steps along both. Writing through it
    /// fills a block-diagonal basis block without materializing the identity.
    /// </summary>
    internal static Tensor Diagonal(Tensor t, int a, int b)
    {
        var shape = t.ShapeArray.ToList();
        var strides = t.Strides.ToArray().ToList();
        strides[a] += strides[b];
        shape.RemoveAt(b);
        strides.RemoveAt(b);
        return new Tensor(t.Storage, [.. shape], [.. strides], t.Offset);
    }

    /// <summary>Concatenates tangent pieces [c, n, ...] along the direction dim, expanding a shared batch dim (1) where pieces differ.</summary>
    internal static Tensor CatDirections(List<Tensor> pieces, Tensor primal)
    {
        if (pieces.Count == 1) return pieces[0];
        int nb = pieces.Max(p => p.Size(1));
        var rest = primal.ShapeArray[1..];
        var aligned = pieces.Select(p => p.Size(1) == nb && ShapeUtil.SameShape(p.Shape[2..], rest) ? p : p.Expand([p.Size(0), nb, .. rest])).ToArray();
        return Tensor.Cat(aligned, 0);
    }

    /// <summary>
    /// Contracts the tangents with the cotangent <paramref name="cot"/> (the gradient of a scalar with
    /// respect to the primal): the directional derivatives t[k] = ⟨cot, Tangent[k]⟩, and per sample
    /// tps[k, n] = ⟨cot[n], Tangent[k, n]⟩ when some direction group needs them.
    /// </summary>
    internal (Tensor T, Tensor? PerSample) Contract(Tensor cot)
    {
        var tan = Tangent!;
        int k = tan.Size(0);
        if (Primal.Rank == 0)
            return (tan.Reshape(k, -1).MatMul(cot.Reshape(-1)), null);
        int n = Primal.Size(0);
        bool shared = tan.Size(1) == 1 && n > 1;
        var c = shared ? cot.Sum(0, keepDim: true) : cot;
        var t = tan.Reshape(k, -1).MatMul(c.Reshape(-1));
        Tensor? tps = null;
        foreach (var g in Groups)
        {
            if (!g.NeedsPerSample) continue;
            // per-sample derivatives only where a group needs them (a temporary of that range's size)
            var piece = tan.Narrow(0, g.Start, g.Count);
            var p = piece.Size(1) == 1 && n > 1
                ? piece.Reshape(g.Count, -1).MatMul(cot.Reshape(n, -1).MT)
                : (piece * cot).Reshape(g.Count, n, -1).Sum(-1);
            tps ??= Tensor.Zeros([k, n], tan.DType);
            tps.Narrow(0, g.Start, g.Count).CopyInPlace(p);
        }
        return (t, tps);
    }

    /// <summary>
    /// The gradient of <paramref name="target"/> from the directional derivatives <paramref name="t"/> [K]
    /// (and per sample <paramref name="perSample"/> [K, N]): the sum over the groups that reach it, or null.
    /// Gradients are formed one target at a time, so only one is ever in flight besides those accumulated.
    /// </summary>
    internal Tensor? GradientOf(Tensor target, Tensor t, Tensor? perSample)
    {
        Tensor? sum = null;
        foreach (var g in Groups)
            if (g.Contribution(target, t, perSample) is { } c) sum = sum is null ? c : sum + c;
        return sum;
    }

    /// <summary>
    /// Attaches <paramref name="value"/> to a node whose backward, given the gradient G of
    /// <paramref name="value"/>, writes the gradients of all targets: the directional derivatives come from
    /// <paramref name="directional"/>(G). Used by <see cref="Fwd2Rev"/> and the forward-mode losses.
    /// </summary>
    internal Tensor AttachGradients(Tensor value, Func<Tensor, (Tensor T, Tensor? PerSample)> directional)
    {
        var targets = Targets();
        if (!Op.ReverseTracking(targets)) return value;
        return Op.Record(GraphOps.MixedModeOutput, value, [.. targets], new SectionGradients(this, targets, directional));
    }

    /// <summary>The backward step of a section's end: one contraction of the tangents per pass, shared by all targets.</summary>
    private sealed class SectionGradients(MixedTensor m, Tensor[] targets, Func<Tensor, (Tensor T, Tensor? PerSample)> directional) : IGradientSource
    {
        public Tensor?[] Gradients(Tensor g, bool[] needs)
        {
            var (t, perSample) = directional(g);
            var r = new Tensor?[targets.Length];
            using (Autograd.NoGrad())
                for (int i = 0; i < targets.Length; i++)
                    if (needs[i]) r[i] = m.GradientOf(targets[i], t, perSample) ?? Tensor.ZerosLike(targets[i]);
            return r;
        }
    }
}

/// <summary>A layer's own directions: the tangent block it contributes and what it stands for.</summary>
internal sealed class OwnDirections
{
    /// <summary>Random modes: the block [k, n, ...output] (n = N or 1).</summary>
    public Tensor? Block { get; init; }

    /// <summary>Exact mode: the number of directions.</summary>
    public int Count { get; init; }

    /// <summary>Exact mode: writes the basis block into a zeroed slice [Count, N, ...output] of the tangent buffer.</summary>
    public Action<Tensor>? Fill { get; init; }

    /// <summary>Exact mode: the parameters (basis directions in order, elements row-major).</summary>
    public Tensor[]? Exact { get; init; }

    /// <summary>Random modes: k and the (target, directions [k, ...target]) blocks.</summary>
    public (int K, RandomBlock[] Blocks)? Random { get; init; }

    /// <summary>The layer's name for descriptions and errors.</summary>
    public required string Layer { get; init; }
}

/// <summary>Random directions [k, ...target.shape] (or [k, N, ...sample] per sample) for one target; <paramref name="Directions"/>
/// returns them (kept, or regenerated from a seed).</summary>
internal sealed record RandomBlock(Tensor Target, Func<Tensor> Directions, bool PerSample, string Layer);

/// <summary>A contiguous range of the carried directions and what it stands for.</summary>
internal abstract class DirectionGroup(int start, int count)
{
    /// <summary>First direction.</summary>
    public int Start { get; } = start;

    /// <summary>Number of directions.</summary>
    public int Count { get; } = count;

    /// <summary>True when the gradient needs per-sample directional derivatives.</summary>
    public abstract bool NeedsPerSample { get; }

    /// <summary>The tensors whose gradients this group produces.</summary>
    public abstract IEnumerable<Tensor> Targets { get; }

    /// <summary>This group's contribution to the gradient of <paramref name="target"/> (null when it does not reach it).</summary>
    public abstract Tensor? Contribution(Tensor target, Tensor t, Tensor? perSample);

    /// <summary>One-line description.</summary>
    public abstract string Describe();

}

/// <summary>Exact directions of parameters: one basis direction per element, in parameter order.</summary>
internal sealed class ExactParamGroup(int start, Tensor[] parameters, string layer)
    : DirectionGroup(start, parameters.Sum(p => p.Numel))
{
    public override bool NeedsPerSample => false;

    public override IEnumerable<Tensor> Targets => parameters;

    public override Tensor? Contribution(Tensor target, Tensor t, Tensor? perSample)
    {
        int off = Start;
        foreach (var p in parameters)
        {
            if (ReferenceEquals(p, target)) return t.Narrow(0, off, p.Numel).Reshape(p.ShapeArray);
            off += p.Numel;
        }
        return null;
    }

    public override string Describe() => $"Exact {layer} ({Count})";
}

/// <summary>Exact directions of a section input (see <see cref="Rev2Fwd"/>): one basis direction per element of
/// a sample, shared by all samples (valid because forward-mode layers never mix samples).</summary>
internal sealed class ExactInputGroup(int start, Tensor input)
    : DirectionGroup(start, input.Numel / Math.Max(input.Size(0), 1))
{
    public override bool NeedsPerSample => true;

    public override IEnumerable<Tensor> Targets => [input];

    public override Tensor? Contribution(Tensor target, Tensor t, Tensor? perSample) =>
        ReferenceEquals(target, input) ? perSample!.Narrow(0, Start, Count).T.Reshape(input.ShapeArray) : null;

    public override string Describe() => $"Exact Rev2Fwd input ({Count})";
}

/// <summary>k shared random directions: every block (a parameter, or a section input per sample) has its own
/// independent directions; the estimate for a block is (1/k)·Σᵢ tᵢ·Vᵢ.</summary>
internal sealed class RandomGroup(int start, int count, RandomBlock[] blocks) : DirectionGroup(start, count)
{
    public int K => Count;

    public RandomGroup With(RandomBlock[] more) => new(Start, Count, [.. blocks, .. more]);

    public override bool NeedsPerSample => blocks.Any(b => b.PerSample);

    public override IEnumerable<Tensor> Targets => blocks.Select(b => b.Target);

    public override Tensor? Contribution(Tensor target, Tensor t, Tensor? perSample)
    {
        int k = Count;
        Tensor? sum = null;
        foreach (var b in blocks)
        {
            if (!ReferenceEquals(b.Target, target)) continue;
            var v = b.Directions();
            Tensor g;
            if (b.PerSample)
            {
                var ps = perSample!.Narrow(0, Start, k);                       // [k, N]
                g = (ps.Reshape([k, ps.Size(1), .. Enumerable.Repeat(1, v.Rank - 2)]) * v).Sum(0) / k;
            }
            else if (k == 1)
                g = v.Reshape(target.ShapeArray) * t.Narrow(0, Start, 1);
            else
                g = (t.Narrow(0, Start, k).Unsqueeze(0).MatMul(v.Reshape(k, -1)) / k).Reshape(target.ShapeArray);
            sum = sum is null ? g : sum + g;
        }
        return sum;
    }

    public override string Describe() =>
        $"random k={Count} shared by {string.Join(" + ", blocks.Select(b => b.Layer).Distinct())}";
}
