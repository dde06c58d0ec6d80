namespace Fluxion.Nn.MixedMode;

/// <summary>The kinds of tangent directions a forward-mode layer can carry for its parameters.</summary>
public enum ForwardModeKind
{
    /// <summary>One basis direction per parameter element: the exact gradient (the full Jacobian is carried).</summary>
    Exact,

    /// <summary>Gaussian directions v ~ N(0, I): the forward gradient (∇f·v)·v, an unbiased estimate.</summary>
    Random,

    /// <summary>Rademacher directions (entries ±1 with equal probability): E[v·vᵀ] = I, so (∇f·v)·v is unbiased too.</summary>
    Rademacher,

    /// <summary>k Gaussian directions orthogonalized (Gram–Schmidt) and scaled to norm √P; the k estimates are averaged.</summary>
    MultiTangent,
}

/// <summary>
/// How a forward-mode layer of <see cref="Fluxion.Nn.MixedMode"/> differentiates its own parameters
/// (and how <see cref="Rev2Fwd"/> differentiates its input).
/// <list type="bullet">
/// <item><see cref="Exact"/>: one basis direction per trainable parameter element (P directions for P
/// elements), all evaluated in one batched call per op; the gradient is exact.</item>
/// <item><see cref="Random"/>, <see cref="Rademacher"/>, <see cref="MultiTangent"/>(k): k random directions
/// v₁..v_k (k = 1 for the first two) with E[v·vᵀ] = I; the gradient estimate is (1/k)·Σᵢ (∇f·vᵢ)·vᵢ, unbiased,
/// with a variance that falls as 1/k. Fresh directions are drawn at every forward pass. The random
/// directions of all layers of a forward-mode section that use the same k are one shared set of k tangents
/// (each layer adds its own independent block to them, as in the forward gradient of Baydin et al.), so the
/// tangent block does not grow with depth: memory stays that of a few activations whatever the depth.</item>
/// </list>
/// </summary>
public sealed class ForwardMode
{
    private ForwardMode(ForwardModeKind kind, int tangents)
    {
        Kind = kind;
        Tangents = tangents;
    }

    /// <summary>The kind of directions.</summary>
    public ForwardModeKind Kind { get; }

    /// <summary>Number k of random directions (0 for <see cref="ForwardModeKind.Exact"/>, whose count is the number of parameter elements).</summary>
    public int Tangents { get; }

    /// <summary>Exact gradients: one basis direction per parameter element.</summary>
    public static ForwardMode Exact { get; } = new(ForwardModeKind.Exact, 0);

    /// <summary>One Gaussian direction (the forward gradient).</summary>
    public static ForwardMode Random { get; } = new(ForwardModeKind.Random, 1);

    /// <summary>One Rademacher (±1) direction.</summary>
    public static ForwardMode Rademacher { get; } = new(ForwardModeKind.Rademacher, 1);

    /// <summary><paramref name="k"/> orthogonalized Gaussian directions, averaged; the variance falls roughly as 1/k.</summary>
    public static ForwardMode MultiTangent(int k)
    {
        if (k <= 0) throw new ArgumentOutOfRangeException(nameof(k), $"ForwardMode.MultiTangent: k must be positive, got {k}.");
        return new(ForwardModeKind.MultiTangent, k);
    }

    /// <summary>True for the random modes (Random, Rademacher, MultiTangent).</summary>
    public bool IsRandom => Kind != ForwardModeKind.Exact;

    /// <inheritdoc/>
    public override string ToString() => Kind switch
    {
        ForwardModeKind.MultiTangent => $"MultiTangent({Tangents})",
        _ => Kind.ToString(),
    };

    /// <summary>
    /// k directions [k, ...shape] for each of the given parameter shapes, and for each a function that
    /// returns the same directions again when the gradient is formed. For MultiTangent the k directions are
    /// orthogonal over the concatenation of the shapes (each of norm √P) and are kept; Random and Rademacher
    /// directions are drawn per tensor from a seed taken from <paramref name="generator"/>, and only the seed
    /// is kept: they are regenerated, so a forward-gradient step stores neither activations nor directions.
    /// </summary>
    internal (Tensor V, Func<Tensor> Again)[] SampleParameters(int[][] shapes, DType dtype, Generator? generator)
    {
        int k = Tangents;
        var result = new (Tensor, Func<Tensor>)[shapes.Length];
        var g = generator ?? Generator.Default;
        if (Kind != ForwardModeKind.MultiTangent)
        {
            for (int i = 0; i < shapes.Length; i++)
            {
                long seed = (long)g.NextUInt64();
                int[] shape = [k, .. shapes[i]];
                int n = ShapeUtil.Numel(shapes[i]);
                Tensor Draw() => Sample(k, 1, n, dtype, new Generator(seed)).Reshape(shape);
                result[i] = (Draw(), Draw);
            }
            return result;
        }
        int total = 0;
        foreach (var s in shapes) total += ShapeUtil.Numel(s);
        var all = Sample(k, 1, total, dtype, g).Reshape(k, total);
        int off = 0;
        for (int i = 0; i < shapes.Length; i++)
        {
            int n = ShapeUtil.Numel(shapes[i]);
            var v = all.Narrow(1, off, n).Reshape([k, .. shapes[i]]);
            result[i] = (v, () => v);
            off += n;
        }
        return result;
    }

    /// <summary>k directions per sample for an input of shape [n, ...sampleShape]: a tensor [k, n, ...sampleShape]
    /// (for MultiTangent orthogonal within each sample).</summary>
    internal Tensor SamplePerSample(int[] shape, DType dtype, Generator? generator)
    {
        int n = shape[0], d = ShapeUtil.Numel(shape) / Math.Max(n, 1);
        return Sample(Tangents, n, d, dtype, generator).Reshape([Tangents, .. shape]);
    }

    /// <summary>Draws [k, blocks, p] values; MultiTangent orthogonalizes the k rows within each block.</summary>
    private Tensor Sample(int k, int blocks, int p, DType dtype, Generator? generator)
    {
        var g = generator ?? Generator.Default;
        int count = k * blocks * p;
        if (Kind == ForwardModeKind.MultiTangent)
        {
            var v = new double[count];
            Kernels.Sampling.Normal(v, ref g.Raw);
            if (p > 0) Orthogonalize(v, k, blocks, p);
            return Tensor.FromDoubles(v, [count], dtype);
        }
        var t = Tensor.Empty([count], dtype);
        bool rademacher = Kind == ForwardModeKind.Rademacher;
        if (dtype == DType.Float32)
        {
            var a = t.Storage.As<float>();
            if (rademacher) Kernels.Sampling.Rademacher<float>(a, ref g.Raw); else Kernels.Sampling.Normal(a.AsSpan(), ref g.Raw);
        }
        else
        {
            var a = t.Storage.As<double>();
            if (rademacher) Kernels.Sampling.Rademacher<double>(a, ref g.Raw); else Kernels.Sampling.Normal(a.AsSpan(), ref g.Raw);
        }
        return t;
    }

    /// <summary>
    /// Modified Gram–Schmidt on the k rows of each block (layout [k, blocks, p]), each row then scaled to
    /// norm √p, so that E[v·vᵀ] = I still holds. With k &gt; p the rows are orthogonalized in chunks of p.
    /// </summary>
    private static void Orthogonalize(double[] v, int k, int blocks, int p)
    {
        int stride = blocks * p;
        double scale = Math.Sqrt(p);
        for (int b = 0; b < blocks; b++)
        {
            for (int i = 0; i < k; i++)
            {
                var vi = v.AsSpan(i * stride + b * p, p);
                int chunkStart = i / p * p;
                for (int j = chunkStart; j < i; j++)
                {
                    var vj = v.AsSpan(j * stride + b * p, p); // already of norm √p
                    double dot = 0;
                    for (int e = 0; e < p; e++) dot += vi[e] * vj[e];
                    double c = dot / p;
                    for (int e = 0; e < p; e++) vi[e] -= c * vj[e];
                }
                double norm = 0;
                for (int e = 0; e < p; e++) norm += vi[e] * vi[e];
                norm = Math.Sqrt(norm);
                if (norm == 0) continue;
                double f = scale / norm;
                for (int e = 0; e < p; e++) vi[e] *= f;
            }
        }
    }
}
