using Fluxion.IO;
using Fluxion.Kernels;
using Fluxion.Nn;

namespace Fluxion.Models;

/// <summary>How a <see cref="PointCloudLinear"/> layer computes (same results, different cost).</summary>
public enum PointCloudMode
{
    /// <summary>
    /// Built from primitive ops (Cdist, Remainder, Abs, MatMul): materializes the N_in × N_out distance and
    /// weight matrices and keeps them for backward. The reference; differentiable to any order.
    /// </summary>
    Naive,

    /// <summary>
    /// A fused custom function: tiles over output neurons, builds each tile's distances and weights in a
    /// small buffer, multiplies and discards them; backward and forward mode (JVP) recompute the tiles.
    /// Only the inputs are saved, so memory is O(B·(N_in + N_out) + k·(N_in + N_out) + tile). Once
    /// differentiable (first-order derivatives only, reverse or forward mode).
    /// </summary>
    Fused,
}

/// <summary>
/// A point-cloud network layer: every neuron has a learned position in R^k and the weight between input
/// neuron i (position p_i) and output neuron j (position q_j) is a triangle wave of their distance,
/// <c>W_ij = tri(‖p_i − q_j‖) / sqrt(N_in)</c> with
/// <c>tri(d) = (A/p)·(p/2 − |(d mod 2p) − p|)</c> (period p, amplitude A), and <c>y = x W + b</c>. The layer
/// has (k + 1)·N_out + k·N_in parameters instead of N_in·N_out + N_out.
/// <para>Subgradients (identical in both modes, chosen as PyTorch's primitives give them:
/// d(a mod c)/da = 1, |u|'(0) = 0, and cdist's gradient 0 at distance 0): at a peak of the wave
/// (d mod 2p = p) tri'(d) = 0; at a trough (d mod 2p = 0) tri'(d) = +A/p, the right derivative; where
/// two positions coincide (d = 0) the distance's gradient is 0, so that pair adds nothing to the
/// positions' gradients (never NaN).</para>
/// </summary>
public sealed class PointCloudLinear : Module, IOnnxExportable
{
    /// <summary>
    /// ONNX: W = tri(‖p_i − q_j‖)·slope from the position initializers (Sub of the broadcast positions, ReduceSum
    /// of squares, Sqrt, Mod, Abs), then MatMul and Add. Unlike the fused kernels this materializes an
    /// [N_in, N_out, k] difference tensor and the [N_in, N_out] weight matrix (O(N_in·N_out·k) memory; the
    /// runtime may constant-fold them once, since they depend on the parameters only).
    /// </summary>
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x)
    {
        var diff = e.Node("Sub", [e.Node("Unsqueeze", [e.Param(InputPositions), e.Ints(1)]), e.Node("Unsqueeze", [e.Param(OutputPositions), e.Ints(0)])]);
        var dist = e.Unary("Sqrt", e.Node("ReduceSum", [e.Node("Mul", [diff, diff]), e.Ints(2)], ("keepdims", 0L)));
        var wave = e.Node("Sub", [e.Scalar(Period / 2), e.Unary("Abs", e.Node("Sub", [e.Node("Mod", [dist, e.Scalar(2 * Period)], ("fmod", 1L)), e.Scalar(Period)]))]);
        var w = e.Node("Mul", [wave, e.Scalar(Slope(InFeatures, Period, Amplitude))]);
        var y = e.Node("MatMul", [x.Name, w]);
        return Bias is null ? y : e.Node("Add", [y, e.Param(Bias)]);
    }

    /// <summary>Default period p of the triangle wave.</summary>
    public const double DefaultPeriod = 0.1;

    /// <summary>Default amplitude A of the triangle wave.</summary>
    public const double DefaultAmplitude = 1.0;

    private double _period = DefaultPeriod, _amplitude = DefaultAmplitude;

    /// <summary>Positions of the input neurons, [inFeatures, k] (shared with the previous layer's outputs in a <see cref="PointCloudNetwork"/>).</summary>
    public Parameter InputPositions { get; }

    /// <summary>Positions of the output neurons, [outFeatures, k].</summary>
    public Parameter OutputPositions { get; }

    /// <summary>Bias, [outFeatures], or null.</summary>
    public Parameter? Bias { get; }

    /// <summary>Input width N_in.</summary>
    public int InFeatures { get; }

    /// <summary>Output width N_out.</summary>
    public int OutFeatures { get; }

    /// <summary>Dimension k of the position space.</summary>
    public int Dim { get; }

    /// <summary>Naive (reference) or Fused (tiled, memory-efficient) computation.</summary>
    public PointCloudMode Mode { get; set; }

    /// <summary>Period p of the triangle wave (&gt; 0).</summary>
    public double Period
    {
        get => _period;
        set => _period = CheckPeriod(Describe(InFeatures, OutFeatures, Dim), value);
    }

    /// <summary>Amplitude A of the triangle wave (finite).</summary>
    public double Amplitude
    {
        get => _amplitude;
        set => _amplitude = CheckAmplitude(Describe(InFeatures, OutFeatures, Dim), value);
    }

    /// <summary>
    /// Creates the layer with positions uniform in [−1, 1] and bias uniform in [−0.1, 0.1].
    /// </summary>
    public PointCloudLinear(int inFeatures, int outFeatures, int k, PointCloudMode mode = PointCloudMode.Fused,
        double period = DefaultPeriod, double amplitude = DefaultAmplitude, bool bias = true, DType dtype = DType.Float32, Generator? generator = null)
        : this(NewPositions(inFeatures, inFeatures, outFeatures, k, dtype, generator),
               NewPositions(outFeatures, inFeatures, outFeatures, k, dtype, generator), mode, period, amplitude, bias, generator)
    {
    }

    /// <summary>
    /// Creates the layer on existing position parameters (e.g. shared with a neighbouring layer):
    /// <paramref name="inputPositions"/> [N_in, k], <paramref name="outputPositions"/> [N_out, k]. The bias
    /// (uniform in [−0.1, 0.1]) gets the positions' dtype.
    /// </summary>
    public PointCloudLinear(Parameter inputPositions, Parameter outputPositions, PointCloudMode mode = PointCloudMode.Fused,
        double period = DefaultPeriod, double amplitude = DefaultAmplitude, bool bias = true, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(inputPositions);
        ArgumentNullException.ThrowIfNull(outputPositions);
        if (inputPositions.Rank != 2 || outputPositions.Rank != 2 || inputPositions.Size(1) != outputPositions.Size(1))
            throw new ShapeMismatchException($"PointCloudLinear: positions must be [N_in, k] and [N_out, k] with the same k, got {ShapeUtil.Format(inputPositions.Shape)} and {ShapeUtil.Format(outputPositions.Shape)}.");
        CheckSizes(inputPositions.Size(0), outputPositions.Size(0), inputPositions.Size(1));
        Tensor.CheckSameDType("PointCloudLinear", inputPositions, outputPositions);
        inputPositions.CheckFloat("PointCloudLinear");
        InFeatures = inputPositions.Size(0);
        OutFeatures = outputPositions.Size(0);
        Dim = inputPositions.Size(1);
        Mode = mode;
        Period = period;
        Amplitude = amplitude;
        InputPositions = RegisterParameter("input_positions", inputPositions)!;
        OutputPositions = RegisterParameter("output_positions", outputPositions)!;
        Bias = bias
            ? AddParameter("bias", Init.Uniform([OutFeatures], 0.1, inputPositions.DType, generator))
            : RegisterParameter("bias", null);
    }

    /// <summary>Positions [n, k] uniform in [−1, 1], after checking the layer's sizes.</summary>
    private static Parameter NewPositions(int n, int nIn, int nOut, int k, DType dtype, Generator? g)
    {
        CheckSizes(nIn, nOut, k);
        return new(Init.Uniform([n, k], 1.0, dtype, g));
    }

    /// <summary>Computes x W + b for x [..., N_in] (see the class summary).</summary>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank == 0 || input.Size(-1) != InFeatures)
            throw new ShapeMismatchException($"{Describe(InFeatures, OutFeatures, Dim)}: the input's last dim must be {InFeatures}, but the input has shape {ShapeUtil.Format(input.Shape)}.");
        return Apply(input, InputPositions, OutputPositions, Bias, Mode, Period, Amplitude);
    }

    /// <summary>
    /// The layer as a function: y = x W + b with W_ij = tri(‖p_i − q_j‖) / sqrt(N_in), for x [..., N_in],
    /// p = <paramref name="inputPositions"/> [N_in, k], q = <paramref name="outputPositions"/> [N_out, k] and
    /// an optional <paramref name="bias"/> [N_out]; the result is [..., N_out].
    /// </summary>
    public static Tensor Apply(Tensor x, Tensor inputPositions, Tensor outputPositions, Tensor? bias = null,
        PointCloudMode mode = PointCloudMode.Fused, double period = DefaultPeriod, double amplitude = DefaultAmplitude)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(inputPositions);
        ArgumentNullException.ThrowIfNull(outputPositions);
        if (inputPositions.Rank != 2 || outputPositions.Rank != 2 || inputPositions.Size(1) != outputPositions.Size(1))
            throw new ShapeMismatchException($"PointCloudLinear: positions must be [N_in, k] and [N_out, k] with the same k, got {ShapeUtil.Format(inputPositions.Shape)} and {ShapeUtil.Format(outputPositions.Shape)}.");
        int nIn = inputPositions.Size(0), nOut = outputPositions.Size(0), k = inputPositions.Size(1);
        string name = Describe(nIn, nOut, k);
        CheckSizes(nIn, nOut, k);
        CheckPeriod(name, period);
        CheckAmplitude(name, amplitude);
        x.CheckFloat(name);
        Tensor.CheckSameDType(name, x, inputPositions);
        Tensor.CheckSameDType(name, x, outputPositions);
        if (x.Rank == 0 || x.Size(-1) != nIn)
            throw new ShapeMismatchException($"{name}: the input's last dim must be {nIn}, but the input has shape {ShapeUtil.Format(x.Shape)}.");
        if (bias is not null)
        {
            Tensor.CheckSameDType(name, x, bias);
            if (bias.Rank != 1 || bias.Size(0) != nOut)
                throw new ShapeMismatchException($"{name}: the bias must have shape [{nOut}], got {ShapeUtil.Format(bias.Shape)}.");
        }
        var lead = x.ShapeArray[..^1];
        var x2 = x.Rank == 2 ? x : x.Reshape(-1, nIn);
        Tensor y;
        if (mode == PointCloudMode.Naive)
        {
            y = x2.MatMul(NaiveWeights(inputPositions, outputPositions, period, amplitude));
            if (bias is not null) y = y + bias;
        }
        else
        {
            y = PointCloudFused.Call(x2.Contiguous(), inputPositions.Contiguous(), outputPositions.Contiguous(), bias, period, Slope(nIn, period, amplitude));
        }
        return x.Rank == 2 ? y : y.Reshape([.. lead, nOut]);
    }

    /// <summary>
    /// The dense weight matrix W [N_in, N_out], W_ij = tri(‖p_i − q_j‖) / sqrt(N_in), built from primitive
    /// ops (this is what <see cref="PointCloudMode.Naive"/> multiplies by).
    /// </summary>
    public static Tensor NaiveWeights(Tensor inputPositions, Tensor outputPositions, double period = DefaultPeriod, double amplitude = DefaultAmplitude)
    {
        var d = Tensor.Cdist(inputPositions, outputPositions);
        return (period / 2 - (d.Remainder(2 * period) - period).Abs()) * Slope(inputPositions.Size(0), period, amplitude);
    }

    /// <summary>A / (p·sqrt(N_in)): the wave's slope including the 1/sqrt(N_in) scale.</summary>
    private static double Slope(int nIn, double period, double amplitude) => amplitude / period / Math.Sqrt(nIn);

    internal static string Describe(int nIn, int nOut, int k) => $"PointCloudLinear({nIn}, {nOut}, k={k})";

    private static string CheckSizes(int nIn, int nOut, int k)
    {
        string name = Describe(nIn, nOut, k);
        if (k < 1) throw new ArgumentException($"{name}: the position dimension k must be at least 1, got {k}.");
        if (nIn < 1 || nOut < 1) throw new ArgumentException($"{name}: inFeatures and outFeatures must be positive, got {nIn} and {nOut}.");
        return name;
    }

    private static double CheckPeriod(string name, double period)
    {
        if (!(period > 0) || !double.IsFinite(period))
            throw new ArgumentException($"{name}: the triangle wave's period must be a positive finite number, got {period}.");
        return period;
    }

    private static double CheckAmplitude(string name, double amplitude)
    {
        if (!double.IsFinite(amplitude))
            throw new ArgumentException($"{name}: the triangle wave's amplitude must be finite, got {amplitude}.");
        return amplitude;
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() =>
        $"in_features={InFeatures}, out_features={OutFeatures}, k={Dim}, period={Period}, amplitude={Amplitude}, mode={Mode}, bias={(Bias is not null ? "True" : "False")}";
}

/// <summary>
/// A point-cloud network: <see cref="PointCloudLinear"/> layers of the given widths with ReLU between them.
/// Adjacent layers share positions: layer l's output positions are layer l+1's input positions (one
/// <see cref="Parameter"/> object), so the network has k·Σ sizes + Σ_{l≥1} sizes[l] parameters.
/// Layers are named "0", "1", ...; a shared position appears once, under the first layer that has it.
/// </summary>
public sealed class PointCloudNetwork : Module, IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxExporter e, OnnxValue x)
    {
        for (int l = 0; l < _layers.Length; l++)
        {
            x = e.Emit(_layers[l], x);
            if (l + 1 < _layers.Length) x = x with { Name = e.Unary("Relu", x.Name), Sample = x.Sample.Relu() };
        }
        return x.Name;
    }

    private readonly Module[] _layers; // Module[] so that Module.DeepClone can re-point it

    /// <summary>Builds the network for widths <paramref name="sizes"/> (at least two: input and output) in R^<paramref name="k"/>.</summary>
    public PointCloudNetwork(int[] sizes, int k, PointCloudMode mode = PointCloudMode.Fused, double period = PointCloudLinear.DefaultPeriod,
        double amplitude = PointCloudLinear.DefaultAmplitude, DType dtype = DType.Float32, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(sizes);
        if (sizes.Length < 2)
            throw new ArgumentException($"PointCloudNetwork: give at least two sizes (input and output widths), got [{string.Join(", ", sizes)}].");
        if (k < 1) throw new ArgumentException($"PointCloudNetwork([{string.Join(", ", sizes)}], k={k}): the position dimension k must be at least 1.");
        foreach (var s in sizes)
            if (s < 1) throw new ArgumentException($"PointCloudNetwork([{string.Join(", ", sizes)}], k={k}): every size must be positive.");
        Sizes = (int[])sizes.Clone();
        Dim = k;
        var positions = new Parameter[sizes.Length];
        for (int l = 0; l < sizes.Length; l++) positions[l] = new Parameter(Init.Uniform([sizes[l], k], 1.0, dtype, generator));
        _layers = new Module[sizes.Length - 1];
        for (int l = 0; l < _layers.Length; l++)
            _layers[l] = RegisterModule(l.ToString(System.Globalization.CultureInfo.InvariantCulture),
                new PointCloudLinear(positions[l], positions[l + 1], mode, period, amplitude, bias: true, generator));
    }

    /// <summary>The layers in order.</summary>
    public IReadOnlyList<PointCloudLinear> Layers => Array.ConvertAll(_layers, l => (PointCloudLinear)l);

    /// <summary>The widths, input first.</summary>
    public IReadOnlyList<int> Sizes { get; }

    /// <summary>Dimension of the position space.</summary>
    public int Dim { get; }

    /// <summary>Sets the mode of every layer (reading gives the first layer's).</summary>
    public PointCloudMode Mode
    {
        get => Layers[0].Mode;
        set
        {
            foreach (var l in Layers) l.Mode = value;
        }
    }

    /// <summary>Parameters of the dense MLP with the same widths (Σ N_in·N_out + N_out), for comparison.</summary>
    public long DenseParameterCount
    {
        get
        {
            long n = 0;
            for (int l = 0; l + 1 < Sizes.Count; l++) n += (long)Sizes[l] * Sizes[l + 1] + Sizes[l + 1];
            return n;
        }
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        var x = input;
        for (int l = 0; l < _layers.Length; l++)
        {
            x = _layers[l].Forward(x);
            if (l + 1 < _layers.Length) x = x.Relu();
        }
        return x;
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"sizes=[{string.Join(", ", Sizes)}], k={Dim}";
}

/// <summary>
/// The fused point-cloud layer as a registry entry of (x [B, N_in], p [N_in, k], q [N_out, k], b [N_out]?):
/// forward, backward and JVP run the tiled kernels of <see cref="PairwiseTiles"/> with the triangle wave, so
/// no N_in × N_out matrix exists at any time; only the inputs are saved. Its backward and JVP are computed by
/// those kernels, not by differentiable ops: differentiating their results again raises, naming the layer
/// (use <see cref="PointCloudMode.Naive"/> for higher orders).
/// Scratch buffers are tensor storages allocated on the calling thread, so <see cref="MemoryTracker"/> counts them.
/// </summary>
[OpTable]
internal static class PointCloudFused
{
    private const string Name = "PointCloudLinearFused";

    /// <summary>The wave's half-period and slope.</summary>
    private sealed record Wave(double Period, double Slope);

    internal static readonly OpDef Op = new(Name, OpFamily.Fused)
    {
        VjpAll = (in OpCtx c, Tensor[] g, bool[] needs) => Backward(c, g[0], needs),
        Jvp = (in OpCtx c, Tensor?[] t) => Tangent(c, t),
        Saves = 0b111, SecondOrder = false,
        Batch = BatchRule,
        Doc = "the point-cloud layer y = x·W + b, W_ij = tri(|p_i − q_j|)/sqrt(N_in), on fused O(N) memory kernels",
        Samples = () =>
        [
            new OpSample("with bias", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 5), OpSamples.Make(OpSamples.Domain.Real, 2, 5, 2),
                OpSamples.Make(OpSamples.Domain.Real, 3, 4, 2), OpSamples.Make(OpSamples.Domain.Real, 4, 4)],
                t => PointCloudLinear.Apply(t[0], t[1], t[2], t[3]), SecondOrder: false),
            new OpSample("no bias", [OpSamples.Make(OpSamples.Domain.Real, 5, 2, 6), OpSamples.Make(OpSamples.Domain.Real, 6, 6, 3),
                OpSamples.Make(OpSamples.Domain.Real, 7, 3, 3)],
                t => PointCloudLinear.Apply(t[0], t[1], t[2]), SecondOrder: false),
        ],
    };

    /// <summary>
    /// Vmap: a batch of examples over the same positions and bias folds into the layer's own batch (one fused call over
    /// B·batch rows, the tiles' distances and weights built once for all examples); per-example positions or biases
    /// (an ensemble of layers) run the fused kernel once per example.
    /// </summary>
    private static Tensor?[] BatchRule(BatchCtx c)
    {
        var w = c.A<Wave>();
        Tensor? Bias(Tensor[] xs) => xs.Length > 3 ? xs[3] : null;
        bool sharedLayer = true;
        for (int i = 1; i < c.In.Length; i++) sharedLayer &= !c.Batched[i];
        if (!sharedLayer) return BatchRules.PerExample(c, (xs, _) => [Call(xs[0].Contiguous(), xs[1].Contiguous(), xs[2].Contiguous(), Bias(xs), w.Period, w.Slope)]);
        var x = c.X(0); // [B, batch, n]
        int b = c.B, batch = x.Size(1), n = x.Size(2);
        var y = Call(x.Reshape(b * batch, n).Contiguous(), c.X(1), c.X(2), Bias(c.In), w.Period, w.Slope);
        return [y.Reshape(b, batch, y.Size(1))];
    }

    /// <summary>Allocates scratch storages and keeps them reachable (and tracked) until disposed.</summary>
    private sealed class Scratch(DType dtype)
    {
        private readonly List<Storage> _keep = new();

        public Func<int, T[]> For<T>() => n =>
        {
            var s = Storage.AllocateUninitialized(dtype, n);
            _keep.Add(s);
            return s.As<T>();
        };

        public void Release() => GC.KeepAlive(_keep);
    }

    /// <summary>Runs the layer on dense inputs and records the call.</summary>
    public static Tensor Call(Tensor x, Tensor p, Tensor q, Tensor? b, double period, double slope)
    {
        int batch = x.Size(0), n = p.Size(0), m = q.Size(0), k = p.Size(1);
        var y = Tensor.Empty([batch, m], x.DType);
        var scratch = new Scratch(x.DType);
        if (x.DType == DType.Float32)
            PairwiseTiles.Forward(new TriangleWave<float>(period, slope), x.DenseSpan<float>(), p.DenseSpan<float>(), q.DenseSpan<float>(),
                b is null ? default : b.DenseSpan<float>(), y.Storage.As<float>(), batch, n, m, k, scratch.For<float>());
        else
            PairwiseTiles.Forward(new TriangleWave<double>(period, slope), x.DenseSpan<double>(), p.DenseSpan<double>(), q.DenseSpan<double>(),
                b is null ? default : b.DenseSpan<double>(), y.Storage.As<double>(), batch, n, m, k, scratch.For<double>());
        scratch.Release();
        return Fluxion.Op.Record(Op, y, b is null ? [x, p, q] : [x, p, q, b], new Wave(period, slope));
    }

    private static Tensor?[] Backward(in OpCtx c, Tensor g, bool[] needs)
    {
        var (x, p, q) = (c.X(0), c.X(1), c.X(2));
        var w = c.A<Wave>();
        int batch = x.Size(0), n = p.Size(0), m = q.Size(0), k = p.Size(1);
        Tensor?[] r = new Tensor?[needs.Length];
        using (Autograd.NoGrad())
        {
            var gx = needs[0] ? Tensor.Empty(x.ShapeArray, x.DType) : null;
            var gp = needs[1] ? Tensor.Empty(p.ShapeArray, p.DType) : null;
            var gq = needs[2] ? Tensor.Empty(q.ShapeArray, q.DType) : null;
            if (gx is not null || gp is not null || gq is not null)
            {
                var scratch = new Scratch(x.DType);
                if (x.DType == DType.Float32)
                    PairwiseTiles.Backward(new TriangleWave<float>(w.Period, w.Slope), x.DenseSpan<float>(), p.DenseSpan<float>(), q.DenseSpan<float>(), g.DenseSpan<float>(),
                        Span<float>(gx), Span<float>(gp), Span<float>(gq), batch, n, m, k, scratch.For<float>());
                else
                    PairwiseTiles.Backward(new TriangleWave<double>(w.Period, w.Slope), x.DenseSpan<double>(), p.DenseSpan<double>(), q.DenseSpan<double>(), g.DenseSpan<double>(),
                        Span<double>(gx), Span<double>(gp), Span<double>(gq), batch, n, m, k, scratch.For<double>());
                scratch.Release();
            }
            (r[0], r[1], r[2]) = (gx, gp, gq);
        }
        if (needs.Length > 3 && needs[3]) r[3] = g.Sum(0); // the bias gradient is an ordinary op
        // the kernels' results are not connected to any graph: differentiating them again must raise, not give 0
        if (GradMode.Enabled)
            for (int i = 0; i < 3; i++)
                if (r[i] is { } gi) r[i] = GraphOps.Guarded(gi, [g, x, p, q], Again("gradient"));
        return r;
    }

    private static Span<T> Span<T>(Tensor? t) => t is null ? default : t.Storage.As<T>();

    private static string Again(string what) =>
        $"{Name} is OnceDifferentiable: the {what} of the fused point-cloud layer is computed by fused kernels and cannot be differentiated again " +
        "(double backward, reverse over forward, or nested forward levels). Use PointCloudMode.Naive for higher-order derivatives.";

    private static Tensor? Tangent(in OpCtx c, Tensor?[] t)
    {
        var (x, p, q) = (c.X(0), c.X(1), c.X(2));
        var w = c.A<Wave>();
        var (tx, tp, tq) = (t[0]?.Contiguous(), t[1]?.Contiguous(), t[2]?.Contiguous());
        var tb = t.Length > 3 ? t[3] : null;
        Tensor? ty = null;
        if (tx is not null || tp is not null || tq is not null)
        {
            int batch = x.Size(0), n = p.Size(0), m = q.Size(0), k = p.Size(1);
            var raw = Tensor.Empty([batch, m], x.DType);
            var scratch = new Scratch(x.DType);
            if (x.DType == DType.Float32)
                PairwiseTiles.Jvp(new TriangleWave<float>(w.Period, w.Slope), x.DenseSpan<float>(), p.DenseSpan<float>(), q.DenseSpan<float>(),
                    tx is null ? default : tx.DenseSpan<float>(), tp is null ? default : tp.DenseSpan<float>(), tq is null ? default : tq.DenseSpan<float>(),
                    raw.Storage.As<float>(), batch, n, m, k, scratch.For<float>());
            else
                PairwiseTiles.Jvp(new TriangleWave<double>(w.Period, w.Slope), x.DenseSpan<double>(), p.DenseSpan<double>(), q.DenseSpan<double>(),
                    tx is null ? default : tx.DenseSpan<double>(), tp is null ? default : tp.DenseSpan<double>(), tq is null ? default : tq.DenseSpan<double>(),
                    raw.Storage.As<double>(), batch, n, m, k, scratch.For<double>());
            scratch.Release();
            var anchors = new List<Tensor> { x, p, q };
            foreach (var a in new[] { tx, tp, tq })
                if (a is not null) anchors.Add(a);
            ty = GraphOps.Guarded(raw, anchors, Again("forward-mode derivative (JVP)"));
        }
        if (tb is not null) ty = ty is null ? tb.Expand([x.Size(0), q.Size(0)]).Contiguous() : ty + tb;
        return ty;
    }
}
