namespace Fluxion.Nn.MixedMode;

/// <summary>
/// Base of the forward-mode layers. <see cref="Forward(Tensor)"/> takes the carrier tensor of a
/// <see cref="MixedTensor"/> (the output of <see cref="Rev2Fwd"/> or of another forward-mode layer) and
/// returns the carrier of the result, so forward-mode layers compose in <see cref="Sequential"/> like any
/// module. The values and tangents are computed without recording a reverse-mode graph: a forward-mode
/// section stores no activations for a backward pass.
/// </summary>
public abstract class ForwardModule : Module
{
    /// <summary>The layer's name in messages ("MixedMode.Linear").</summary>
    protected string LayerName => $"MixedMode.{GetType().Name}";

    /// <summary>Runs the layer on the mixed tensor carried by <paramref name="input"/>; throws a clear error
    /// when <paramref name="input"/> is a plain tensor (no Rev2Fwd before the section).</summary>
    public sealed override Tensor Forward(Tensor input) => Forward(MixedTensor.Require(input, LayerName)).ToCarrier(LayerName);

    /// <summary>Maps the primal and its tangents through the layer and adds the layer's own directions.</summary>
    public MixedTensor Forward(MixedTensor input)
    {
        using (Autograd.NoGrad()) return ForwardCore(input);
    }

    /// <summary>The layer's computation (runs with grad mode off).</summary>
    protected abstract MixedTensor ForwardCore(MixedTensor input);

    /// <summary>
    /// Maps the primal and its K tangents through <paramref name="f"/> with vector forward mode: the values and
    /// all K directions go through the ops' own JVPs (from the op registry) in one pass, so a layer restates
    /// no derivative. A tangent shared by the batch ([K, 1, ...]) is broadcast to the batch first.
    /// </summary>
    internal static MixedTensor Lift(MixedTensor input, Func<Tensor, Tensor> f)
    {
        var (y, ty) = LiftValues(input, f);
        return input.WithValues(y, ty);
    }

    /// <summary>The value of <paramref name="f"/> at the input's primal and, when the input carries K tangents, their
    /// images under f's JVP (from the op registry), [K, ...output shape]; null without tangents.</summary>
    internal static (Tensor Y, Tensor? Tangent) LiftValues(MixedTensor input, Func<Tensor, Tensor> f)
    {
        var x = input.Primal;
        if (!input.Tracking || input.Tangent is not { } t) return (f(x), null);
        var tan = ShapeUtil.SameShape(t.Shape[1..], x.Shape) ? t : t.Expand([t.Size(0), .. x.ShapeArray]);
        using var level = ForwardAD.Level();
        var (y, ty) = ForwardAD.Unpack(f(ForwardAD.MakeDual(x, tan, level)), level);
        return (y.Detach(), ty ?? Tensor.Zeros([t.Size(0), .. y.ShapeArray], y.DType));
    }

    /// <summary>The JVP of <paramref name="f"/> (a function of the layer's parameters) along K directions per parameter
    /// (tangents [K, ...parameter shape], from the op registry's JVPs in one vector-mode pass), [K, ...output shape].</summary>
    internal static Tensor ParameterJvp(Tensor[] parameters, Tensor[] directions, Func<Tensor[], Tensor> f)
    {
        using var level = ForwardAD.Level();
        var duals = parameters.Select((p, i) => ForwardAD.MakeDual(p.Detach(), directions[i], level)).ToArray();
        var (y, ty) = ForwardAD.Unpack(f(duals), level);
        return ty ?? Tensor.Zeros([directions[0].Size(0), .. y.ShapeArray], y.DType);
    }

    /// <summary>Checks that the input is batched with the expected rank.</summary>
    protected void CheckRank(Tensor x, int rank, string expected)
    {
        if (x.Rank != rank)
            throw new ShapeMismatchException($"{this}: expected a batched input {expected}, got shape {ShapeUtil.Format(x.Shape)}. Forward-mode layers need dim 0 to be the batch.");
    }
}

/// <summary>Base of forward-mode layers with parameters: the <see cref="Mode"/> of their own directions.</summary>
public abstract class ForwardParameterModule : ForwardModule
{
    /// <summary>How this layer's parameters are differentiated (default <see cref="ForwardMode.Exact"/>).</summary>
    public ForwardMode Mode { get; set; } = ForwardMode.Exact;

    /// <summary>Generator for random directions (default: the thread's default generator).</summary>
    public Generator? DirectionGenerator { get; set; }

    /// <summary>The trainable parameters, in direction order.</summary>
    protected Tensor[] Trainable(params Tensor?[] ps) => ps.Where(p => p is { RequiresGrad: true }).Select(p => p!).ToArray();
}

/// <summary>
/// Forward-mode linear layer y = x·Wᵀ + b (weight [out, in], bias [out], PyTorch's initialization and
/// parameter names, so state dicts are interchangeable with <see cref="Nn.Linear"/>). Input [N, ..., in].
/// Tangents: upstream T·Wᵀ (one matrix product for all K directions); Exact: the basis directions of W
/// give x in the matching output unit (a block [out·in, N, ..., out]) and those of b a one-hot; random modes:
/// x·Vᵂᵀ + Vᵇ for the k sampled directions.
/// </summary>
public sealed class Linear : ForwardParameterModule
{
    /// <summary>Weight [out, in].</summary>
    public Parameter Weight { get; }

    /// <summary>Bias [out] or null.</summary>
    public Parameter? Bias { get; }

    /// <summary>Input features.</summary>
    public int InFeatures { get; }

    /// <summary>Output features.</summary>
    public int OutFeatures { get; }

    /// <summary>Creates the layer with U(±1/sqrt(in)) weights and bias, as PyTorch.</summary>
    public Linear(int inFeatures, int outFeatures, bool bias = true, ForwardMode? mode = null, DType dtype = DType.Float32, Generator? generator = null)
    {
        if (inFeatures <= 0 || outFeatures <= 0)
            throw new ArgumentException($"MixedMode.Linear: inFeatures and outFeatures must be positive, got {inFeatures} and {outFeatures}.");
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        (Weight, Bias) = AddWeightAndBias([outFeatures, inFeatures], inFeatures, outFeatures, bias, dtype, generator);
        Mode = mode ?? ForwardMode.Exact;
    }

    /// <inheritdoc/>
    protected override MixedTensor ForwardCore(MixedTensor input)
    {
        var x = input.Primal;
        if (x.Rank < 2 || x.Size(-1) != InFeatures)
            throw new ShapeMismatchException($"{this}: expected a batched input [N, ..., {InFeatures}], got shape {ShapeUtil.Format(x.Shape)}. Forward-mode layers need dim 0 to be the batch.");
        // the value and the upstream directions through Linear's own JVP
        var (y, up) = LiftValues(input, v => Tensor.Linear(v, Weight, Bias));
        if (!input.Tracking) return input.Next(y, null, null);
        var ps = Trainable(Weight, Bias);
        if (ps.Length == 0) return input.Next(y, up, null);
        int o = OutFeatures, inF = InFeatures, r = x.Rank;
        if (!Mode.IsRandom)
        {
            int count = ps.Sum(p => p.Numel);
            void Fill(Tensor slice)
            {
                int off = 0;
                if (Weight.RequiresGrad)
                {
                    // direction (i, j) of W: x[..., j] in output unit i, zero elsewhere
                    var perm = new int[r];
                    perm[0] = r - 1;
                    for (int d = 1; d < r; d++) perm[d] = d - 1;
                    var block = slice.Narrow(0, 0, o * inF).View([o, inF, .. x.ShapeArray[..^1], o]);
                    var diag = MixedTensor.Diagonal(block, 0, r + 1);               // [o, in, N, ...]
                    diag.CopyRawFrom(x.Permute(perm).Unsqueeze(0).Expand(diag.ShapeArray));
                    off = o * inF;
                }
                if (Bias is { RequiresGrad: true })
                {
                    var diag = MixedTensor.Diagonal(slice.Narrow(0, off, o).View([o, .. x.ShapeArray[..^1], o]), 0, r);
                    diag.CopyRawFrom(Tensor.Scalar(1, x.DType).Expand(diag.ShapeArray));
                }
            }
            return input.Next(y, up, new OwnDirections { Count = count, Fill = Fill, Exact = ps, Layer = LayerName });
        }
        var dirs = Mode.SampleParameters(ps.Select(p => p.ShapeArray).ToArray(), x.DType, DirectionGenerator);
        // the k sampled directions of the trainable parameters through Linear's own JVP (one vector-mode pass)
        bool w = Weight.RequiresGrad;
        var own = ParameterJvp(ps, [.. dirs.Select(d => d.V)], q => Tensor.Linear(x, w ? q[0] : Weight, Bias is { RequiresGrad: true } ? q[^1] : Bias));
        var rb = ps.Select((p, i) => new RandomBlock(p, dirs[i].Again, false, LayerName)).ToArray();
        return input.Next(y, up, new OwnDirections { Block = own!, Random = (Mode.Tangents, rb), Layer = LayerName });
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"in_features={InFeatures}, out_features={OutFeatures}, bias={(Bias is not null ? "True" : "False")}, mode={Mode}";
}

/// <summary>
/// Forward-mode 2-D convolution (as <see cref="Nn.Conv2d"/>: weight [out, in/groups, kH, kW], bias [out],
/// same initialization and names). Input [N, in, H, W]. Tangents: the upstream directions go through the
/// same convolution in one call (the K directions folded into the batch); Exact: the basis directions
/// of W give the im2col columns of x (<see cref="Tensor.Unfold"/>) in the matching output channel, those
/// of b a one-hot channel; random modes: one convolution of x with the k·out sampled filters.
/// </summary>
public sealed class Conv2d : ForwardParameterModule
{
    /// <summary>Weight [out, in/groups, kH, kW].</summary>
    public Parameter Weight { get; }

    /// <summary>Bias [out] or null.</summary>
    public Parameter? Bias { get; }

    /// <summary>Input channels.</summary>
    public int InChannels { get; }

    /// <summary>Output channels.</summary>
    public int OutChannels { get; }

    /// <summary>Kernel size.</summary>
    public Size2 KernelSize { get; }

    /// <summary>Stride.</summary>
    public Size2 Stride { get; }

    /// <summary>Zero padding on each side.</summary>
    public Size2 Padding { get; }

    /// <summary>Spacing between kernel elements.</summary>
    public Size2 Dilation { get; }

    /// <summary>Channel groups.</summary>
    public int Groups { get; }

    /// <summary>Creates the layer with PyTorch's default initialization.</summary>
    public Conv2d(int inChannels, int outChannels, Size2 kernelSize, Size2? stride = null, Size2? padding = null, Size2? dilation = null,
        int groups = 1, bool bias = true, ForwardMode? mode = null, DType dtype = DType.Float32, Generator? generator = null)
    {
        var c = ConvSpec.Create(LayerName, inChannels, outChannels, kernelSize, stride, padding, dilation, groups, checkSteps: true);
        (InChannels, OutChannels, KernelSize, Stride, Padding, Dilation, Groups) = c;
        (Weight, Bias) = AddWeightAndBias(c.WeightShape(transposed: false), c.FanIn(transposed: false), outChannels, bias, dtype, generator);
        Mode = mode ?? ForwardMode.Exact;
    }

    private Tensor Conv(Tensor x, Tensor w, Tensor? b = null) => Tensor.Conv2d(x, w, b, Stride, Padding, Dilation, Groups);

    /// <inheritdoc/>
    protected override MixedTensor ForwardCore(MixedTensor input)
    {
        var x = input.Primal;
        if (x.Rank != 4 || x.Size(1) != InChannels)
            throw new ShapeMismatchException($"{this}: expected a batched input [N, {InChannels}, H, W], got shape {ShapeUtil.Format(x.Shape)}. Forward-mode layers need dim 0 to be the batch.");
        // the value and the upstream directions through the convolution's own JVP
        var (y, up) = LiftValues(input, v => Conv(v, Weight, Bias));
        if (!input.Tracking) return input.Next(y, null, null);
        int n = x.Size(0), o = OutChannels, oh = y.Size(2), ow = y.Size(3), g = Groups, og = o / g;
        var ps = Trainable(Weight, Bias);
        if (ps.Length == 0) return input.Next(y, up, null);
        if (!Mode.IsRandom)
        {
            int q = InChannels / g * KernelSize.H * KernelSize.W, l = oh * ow;
            int count = ps.Sum(p => p.Numel);
            void Fill(Tensor slice)
            {
                int off = 0;
                if (Weight.RequiresGrad)
                {
                    // direction (o, c, i, j) of W: the im2col row (c, i, j) of x in output channel o
                    var cols = Tensor.Unfold(x, KernelSize, Dilation, Padding, Stride);   // [N, in·kH·kW, L], rows (c, i, j)
                    Tensor src;                                                              // [o, q, N, L]: the rows of o's group
                    if (g == 1) src = cols.Permute(1, 0, 2).Unsqueeze(0).Expand(o, q, n, l);
                    else
                    {
                        var group = Tensor.FromArray(Enumerable.Range(0, o).Select(i => (long)(i / og)).ToArray(), o);
                        src = cols.Reshape(n, g, q, l).IndexSelect(1, group).Permute(1, 2, 0, 3);
                    }
                    var diag = MixedTensor.Diagonal(slice.Narrow(0, 0, o * q).View(o, q, n, o, l), 0, 3);
                    diag.CopyRawFrom(src);
                    off = o * q;
                }
                if (Bias is { RequiresGrad: true })
                {
                    var diag = MixedTensor.Diagonal(slice.Narrow(0, off, o).View(o, n, o, l), 0, 2);
                    diag.CopyRawFrom(Tensor.Scalar(1, x.DType).Expand(diag.ShapeArray));
                }
            }
            return input.Next(y, up, new OwnDirections { Count = count, Fill = Fill, Exact = ps, Layer = LayerName });
        }
        var dirs = Mode.SampleParameters(ps.Select(p => p.ShapeArray).ToArray(), x.DType, DirectionGenerator);
        // the k sampled directions of the trainable parameters through the convolution's own JVP (one vector-mode pass)
        bool w = Weight.RequiresGrad;
        var own = ParameterJvp(ps, [.. dirs.Select(d => d.V)], q => Conv(x, w ? q[0] : Weight, Bias is { RequiresGrad: true } ? q[^1] : Bias));
        var rb = ps.Select((p, i) => new RandomBlock(p, dirs[i].Again, false, LayerName)).ToArray();
        return input.Next(y, up, new OwnDirections { Block = own!, Random = (Mode.Tangents, rb), Layer = LayerName });
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => ConvRepr.Format(InChannels, OutChannels, KernelSize, Stride, Padding, Dilation, null, Groups, Bias is not null) + $", mode={Mode}";
}

/// <summary>Forward-mode tanh (the op's own JVP carries the tangents).</summary>
public sealed class Tanh : ForwardModule
{
    /// <inheritdoc/>
    protected override MixedTensor ForwardCore(MixedTensor input) => Lift(input, x => x.Tanh());
}

/// <summary>Forward-mode sigmoid (the op's own JVP carries the tangents).</summary>
public sealed class Sigmoid : ForwardModule
{
    /// <inheritdoc/>
    protected override MixedTensor ForwardCore(MixedTensor input) => Lift(input, x => x.Sigmoid());
}

/// <summary>Forward-mode ReLU (the op's own JVP: tangents selected where x &gt; 0, so a non-finite tangent on an
/// inactive unit gives 0, and the subgradient at 0 is 0, as PyTorch).</summary>
public sealed class ReLU : ForwardModule
{
    /// <inheritdoc/>
    protected override MixedTensor ForwardCore(MixedTensor input) => Lift(input, x => x.Relu());
}

/// <summary>
/// Runs any module in a forward-mode section by lifting it onto vector forward mode: its values and the K carried
/// tangents go through the ops' own JVPs. The wrapped module's parameters are constants here (they contribute
/// no directions of their own; use the MixedMode layers for trainable forward-mode parameters).
/// </summary>
/// <param name="inner">The module to lift (e.g. a <see cref="Nn.GELU"/>, a <see cref="Nn.LayerNorm"/> with frozen
/// affine parameters, or a whole parameter-free block).</param>
public sealed class Lifted(Module inner) : ForwardModule
{
    /// <summary>The wrapped module.</summary>
    public Module Inner { get; } = inner;

    /// <inheritdoc/>
    protected override MixedTensor ForwardCore(MixedTensor input) => Lift(input, Inner.Forward);

    /// <inheritdoc/>
    protected override string ExtraRepr() => Inner.ToString() ?? "";
}

/// <summary>
/// Forward-mode dropout (training mode only): the same mask (drawn as <see cref="Nn.Dropout"/> draws it,
/// from <see cref="Generator"/> or the default generator) scales the values and every tangent.
/// </summary>
public sealed class Dropout : ForwardModule
{
    private readonly Generator? _generator;

    /// <summary>Drop probability.</summary>
    public double P { get; }

    /// <summary>Creates the layer.</summary>
    public Dropout(double p = 0.5, Generator? generator = null)
    {
        P = Nn.Dropout.CheckP(LayerName, p);
        _generator = generator;
    }

    /// <inheritdoc/>
    protected override MixedTensor ForwardCore(MixedTensor input)
    {
        var x = input.Primal;
        if (!Training || P == 0) return input;
        var scale = P == 1 ? Tensor.ZerosLike(x) : Nn.Dropout.Scale(x, P, _generator);
        return Lift(input, v => v * scale);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"p={P}";
}

/// <summary>Forward-mode 2-D average pooling (the pooling entry's JVP carries all K tangents in one call).</summary>
public sealed class AvgPool2d : ForwardModule
{
    private readonly Nn.AvgPool2d _pool;   // the hyper-parameters and the op, as the reverse-mode layer

    /// <summary>Window size.</summary>
    public Size2 KernelSize => _pool.KernelSize;

    /// <summary>Window step.</summary>
    public Size2 Stride => _pool.Stride;

    /// <summary>Zero padding on each side.</summary>
    public Size2 Padding => _pool.Padding;

    /// <summary>Rounds the output size up.</summary>
    public bool CeilMode => _pool.CeilMode;

    /// <summary>Whether the zero padding counts in the divisor.</summary>
    public bool CountIncludePad => _pool.CountIncludePad;

    /// <summary>Creates the layer (stride defaults to the kernel size).</summary>
    public AvgPool2d(Size2 kernelSize, Size2? stride = null, Size2? padding = null, bool ceilMode = false, bool countIncludePad = true) =>
        _pool = new Nn.AvgPool2d(kernelSize, stride, padding, ceilMode, countIncludePad);

    private Tensor Pool(Tensor x) => _pool.Forward(x);

    /// <inheritdoc/>
    protected override MixedTensor ForwardCore(MixedTensor input)
    {
        CheckRank(input.Primal, 4, "[N, C, H, W]");
        return Lift(input, Pool); // the pooling entry's batched JVP pools all K directions in one call
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"kernel_size={KernelSize}, stride={Stride}, padding={Padding}";
}

/// <summary>Forward-mode 2-D max pooling: each tangent is gathered at the position of its window's maximum by the
/// pooling entry's JVP, all K directions in one call.</summary>
public sealed class MaxPool2d : ForwardModule
{
    private readonly Nn.MaxPool2d _pool;   // the hyper-parameters and the op, as the reverse-mode layer

    /// <summary>Window size.</summary>
    public Size2 KernelSize => _pool.KernelSize;

    /// <summary>Window step.</summary>
    public Size2 Stride => _pool.Stride;

    /// <summary>−∞ padding on each side.</summary>
    public Size2 Padding => _pool.Padding;

    /// <summary>Spacing between window elements.</summary>
    public Size2 Dilation => _pool.Dilation;

    /// <summary>Rounds the output size up.</summary>
    public bool CeilMode => _pool.CeilMode;

    /// <summary>Creates the layer (stride defaults to the kernel size).</summary>
    public MaxPool2d(Size2 kernelSize, Size2? stride = null, Size2? padding = null, Size2? dilation = null, bool ceilMode = false) =>
        _pool = new Nn.MaxPool2d(kernelSize, stride, padding, dilation, ceilMode);

    /// <inheritdoc/>
    protected override MixedTensor ForwardCore(MixedTensor input)
    {
        CheckRank(input.Primal, 4, "[N, C, H, W]");
        return Lift(input, _pool.Forward); // each direction gathered at the primal's argmax positions, all K in one call
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"kernel_size={KernelSize}, stride={Stride}, padding={Padding}, dilation={Dilation}, ceil_mode={CeilMode}";
}

/// <summary>Forward-mode flatten of dims <c>startDim..endDim</c> (startDim ≥ 1: the batch dim stays).</summary>
public sealed class Flatten : ForwardModule
{
    /// <summary>First dim to flatten (≥ 1).</summary>
    public int StartDim { get; }

    /// <summary>Last dim to flatten.</summary>
    public int EndDim { get; }

    /// <summary>Creates the layer.</summary>
    public Flatten(int startDim = 1, int endDim = -1)
    {
        if (startDim == 0) throw new ArgumentException("MixedMode.Flatten: startDim must be at least 1; forward-mode layers keep dim 0 as the batch.");
        StartDim = startDim;
        EndDim = endDim;
    }

    /// <inheritdoc/>
    protected override MixedTensor ForwardCore(MixedTensor input)
    {
        var x = input.Primal;
        int s = ShapeUtil.WrapDim(LayerName, StartDim, x.Rank), e = ShapeUtil.WrapDim(LayerName, EndDim, x.Rank);
        if (s == 0) throw new ArgumentException($"{LayerName}: startDim resolves to 0 for input {ShapeUtil.Format(x.Shape)}; forward-mode layers keep dim 0 as the batch.");
        return Lift(input, v => v.Flatten(s, e));
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"start_dim={StartDim}, end_dim={EndDim}";
}
