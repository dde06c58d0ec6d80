namespace Fluxion.Nn;

/// <summary>The activation of an Elman <see cref="RNN"/> or <see cref="RNNCell"/> (PyTorch's <c>nonlinearity</c>).</summary>
public enum RnnNonlinearity
{
    /// <summary>tanh (PyTorch's default).</summary>
    Tanh,
    /// <summary>ReLU.</summary>
    Relu,
}

/// <summary>
/// The recurrences of PyTorch's RNN, LSTM and GRU, one time step each, built from registered ops (Linear, Sigmoid, Tanh,
/// Mul, Add), so every derivative comes from the registry. <c>xp</c> is the input projection x·W_ihᵀ + b_ih (computed for
/// the whole sequence at once by the layers, which for RNN and LSTM also add b_hh there and pass no <c>bhh</c>); gate order as
/// PyTorch: LSTM (i, f, g, o), GRU (r, z, n). The LSTM update runs as one fused op (<c>Tensor.LstmCell</c>).
/// </summary>
internal static class Recurrence
{
    /// <summary>Whether LSTM layers without projection run each layer direction as one <c>Tensor.LstmSequence</c> op (the
    /// default) rather than step by step through <c>Tensor.LstmCell</c>; the switch exists for in-process A/B comparisons and
    /// tests (per thread, so a test that flips it does not change other tests' runs).</summary>
    internal static bool FusedLstmSequence { get => !t_stepByStep; set => t_stepByStep = !value; }

    [ThreadStatic] private static bool t_stepByStep;

    public static Tensor Rnn(Tensor xp, Tensor h, Tensor whh, Tensor? bhh, RnnNonlinearity act)
    {
        var a = xp + Tensor.Linear(h, whh, bhh);
        return act == RnnNonlinearity.Tanh ? a.Tanh() : a.Relu();
    }

    /// <summary>One LSTM step; with <paramref name="whr"/> [proj, hidden] (proj_size) the new h is projected: h' = (σ(o)·tanh(c'))·W_hrᵀ.</summary>
    public static (Tensor H, Tensor C) Lstm(Tensor xp, Tensor h, Tensor c, Tensor whh, Tensor? bhh, Tensor? whr = null)
    {
        var (h2, c2) = Tensor.LstmCell(xp + Tensor.Linear(h, whh, bhh), c);
        return (whr is null ? h2 : Tensor.Linear(h2, whr, null), c2);
    }

    public static Tensor Gru(Tensor xp, Tensor h, Tensor whh, Tensor? bhh)
    {
        var x = xp.Chunk(3, -1);
        var hh = Tensor.Linear(h, whh, bhh).Chunk(3, -1);
        var r = (x[0] + hh[0]).Sigmoid();
        var z = (x[1] + hh[1]).Sigmoid();
        var n = (x[2] + r * hh[2]).Tanh();
        return n + z * (h - n);
    }

    /// <summary>Registers weight_ih{suffix}, weight_hh{suffix}, (with bias) bias_ih{suffix}, bias_hh{suffix} and (with
    /// <paramref name="projSize"/> &gt; 0) weight_hr{suffix} [proj, hidden], each U(±1/√hidden) in that order, as PyTorch's
    /// reset_parameters; weight_hh is [gates·hidden, proj] when projecting.</summary>
    public static void Register(Func<string, Tensor, Parameter> add, string suffix, int gates, int inputSize, int hiddenSize, bool bias, DType dtype, Generator? generator,
        int projSize = 0)
    {
        double k = 1 / Math.Sqrt(hiddenSize);
        add("weight_ih" + suffix, Init.Uniform([gates * hiddenSize, inputSize], k, dtype, generator));
        add("weight_hh" + suffix, Init.Uniform([gates * hiddenSize, projSize > 0 ? projSize : hiddenSize], k, dtype, generator));
        if (bias)
        {
            add("bias_ih" + suffix, Init.Uniform([gates * hiddenSize], k, dtype, generator));
            add("bias_hh" + suffix, Init.Uniform([gates * hiddenSize], k, dtype, generator));
        }
        if (projSize > 0) add("weight_hr" + suffix, Init.Uniform([projSize, hiddenSize], k, dtype, generator));
    }

    public static void CheckSizes(string layer, int inputSize, int hiddenSize)
    {
        if (inputSize <= 0 || hiddenSize <= 0)
            throw new ArgumentException($"{layer}: inputSize and hiddenSize must be positive, got {inputSize} and {hiddenSize}.");
    }
}

/// <summary>The kind of a recurrent layer: its gate count and recurrence.</summary>
internal enum RecurrentKind { Rnn, Lstm, Gru }

/// <summary>
/// Base of the recurrent cells (<see cref="RNNCell"/>, <see cref="LSTMCell"/>, <see cref="GRUCell"/>): parameters weight_ih
/// [gates·hidden, input], weight_hh [gates·hidden, hidden], bias_ih, bias_hh [gates·hidden], initialized U(±1/√hidden) as PyTorch.
/// </summary>
public abstract class RecurrentCellBase : Module
{
    /// <summary>Input features.</summary>
    public int InputSize { get; }

    /// <summary>Hidden features.</summary>
    public int HiddenSize { get; }

    /// <summary>Input-to-hidden weight [gates·hidden, input].</summary>
    public Parameter WeightIh => Param("weight_ih")!;

    /// <summary>Hidden-to-hidden weight [gates·hidden, hidden].</summary>
    public Parameter WeightHh => Param("weight_hh")!;

    /// <summary>Input-to-hidden bias, or null.</summary>
    public Parameter? BiasIh => Param("bias_ih");

    /// <summary>Hidden-to-hidden bias, or null.</summary>
    public Parameter? BiasHh => Param("bias_hh");

    // looked up by name (not cached), so DeepClone and To(dtype) see the module's current parameters
    private Parameter? Param(string name) => NamedParameters(recurse: false).FirstOrDefault(p => p.Name == name).Parameter;

    private protected RecurrentCellBase(string layer, int gates, int inputSize, int hiddenSize, bool bias, DType dtype, Generator? generator)
    {
        Recurrence.CheckSizes(layer, inputSize, hiddenSize);
        (InputSize, HiddenSize) = (inputSize, hiddenSize);
        Recurrence.Register((n, t) => AddParameter(n, t), "", gates, inputSize, hiddenSize, bias, dtype, generator);
    }

    /// <summary>Validates input [N, input] or [input] and the state; returns them batched, a zero state when none is given.</summary>
    private protected (Tensor X, Tensor H, bool Unbatched) Prepare(Tensor input, Tensor? hx, string what = "hx")
    {
        if ((input.Rank != 2 && input.Rank != 1) || input.Size(-1) != InputSize)
            throw new ShapeMismatchException($"{this}: expected input [N, {InputSize}] (or [{InputSize}]), got {ShapeUtil.Format(input.Shape)}.");
        bool unbatched = input.Rank == 1;
        var x = unbatched ? input.Unsqueeze(0) : input;
        var h = hx is null ? Tensor.Zeros([x.Size(0), HiddenSize], x.DType) : unbatched ? hx.Unsqueeze(0) : hx;
        if (h.Rank != 2 || h.Size(0) != x.Size(0) || h.Size(1) != HiddenSize)
            throw new ShapeMismatchException($"{this}: {what} must be [{x.Size(0)}, {HiddenSize}]{(unbatched ? $" (or [{HiddenSize}])" : "")} for input {ShapeUtil.Format(input.Shape)}, got {ShapeUtil.Format(hx!.Shape)}.");
        return (x, h, unbatched);
    }

    private protected Tensor Project(Tensor x) => Tensor.Linear(x, WeightIh, BiasIh);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"{InputSize}, {HiddenSize}" + (BiasIh is null ? ", bias=False" : "");
}

/// <summary>An Elman RNN cell (PyTorch's <c>nn.RNNCell</c>): h' = act(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh).</summary>
public sealed class RNNCell : RecurrentCellBase
{
    /// <summary>The activation.</summary>
    public RnnNonlinearity Nonlinearity { get; }

    /// <summary>Creates the cell with PyTorch's initialization.</summary>
    public RNNCell(int inputSize, int hiddenSize, bool bias = true, RnnNonlinearity nonlinearity = RnnNonlinearity.Tanh, DType dtype = DType.Float32, Generator? generator = null)
        : base("RNNCell", 1, inputSize, hiddenSize, bias, dtype, generator) => Nonlinearity = nonlinearity;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Forward(input, null);

    /// <summary>One step from state <paramref name="hx"/> [N, hidden] (zeros when null); returns h'.</summary>
    public Tensor Forward(Tensor input, Tensor? hx)
    {
        var (x, h, unbatched) = Prepare(input, hx);
        var y = Recurrence.Rnn(Project(x), h, WeightHh, BiasHh, Nonlinearity);
        return unbatched ? y.Squeeze(0) : y;
    }
}

/// <summary>An LSTM cell (PyTorch's <c>nn.LSTMCell</c>), gates (i, f, g, o): c' = σ(f)·c + σ(i)·tanh(g), h' = σ(o)·tanh(c').</summary>
public sealed class LSTMCell : RecurrentCellBase
{
    /// <summary>Creates the cell with PyTorch's initialization.</summary>
    public LSTMCell(int inputSize, int hiddenSize, bool bias = true, DType dtype = DType.Float32, Generator? generator = null)
        : base("LSTMCell", 4, inputSize, hiddenSize, bias, dtype, generator)
    {
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Forward(input, null).H;

    /// <summary>One step from state (h, c) (zeros when null); returns (h', c').</summary>
    public (Tensor H, Tensor C) Forward(Tensor input, (Tensor H, Tensor C)? hx)
    {
        var (x, h, unbatched) = Prepare(input, hx?.H);
        var (_, c, _) = Prepare(input, hx?.C, "the cell state");
        var (h2, c2) = Recurrence.Lstm(Project(x), h, c, WeightHh, BiasHh);
        return unbatched ? (h2.Squeeze(0), c2.Squeeze(0)) : (h2, c2);
    }
}

/// <summary>A GRU cell (PyTorch's <c>nn.GRUCell</c>), gates (r, z, n): n = tanh(x_n + r·(h·W_hnᵀ + b_hn)), h' = (1 − z)·n + z·h.</summary>
public sealed class GRUCell : RecurrentCellBase
{
    /// <summary>Creates the cell with PyTorch's initialization.</summary>
    public GRUCell(int inputSize, int hiddenSize, bool bias = true, DType dtype = DType.Float32, Generator? generator = null)
        : base("GRUCell", 3, inputSize, hiddenSize, bias, dtype, generator)
    {
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Forward(input, null);

    /// <summary>One step from state <paramref name="hx"/> [N, hidden] (zeros when null); returns h'.</summary>
    public Tensor Forward(Tensor input, Tensor? hx)
    {
        var (x, h, unbatched) = Prepare(input, hx);
        var y = Recurrence.Gru(Project(x), h, WeightHh, BiasHh);
        return unbatched ? y.Squeeze(0) : y;
    }
}

/// <summary>
/// Base of the multi-layer recurrent layers (<see cref="RNN"/>, <see cref="LSTM"/>, <see cref="GRU"/>), as PyTorch's RNNBase:
/// input [T, N, input] ([N, T, input] when <see cref="BatchFirst"/>, or unbatched [T, input]); output [T, N, D·hidden] with D = 2
/// when <see cref="Bidirectional"/>; final states [numLayers·D, N, hidden]. Parameters per layer k and direction:
/// weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k} (suffix _reverse for the backward direction), U(±1/√hidden), so
/// PyTorch state dicts load as they are. Dropout (training only) applies to the outputs of every layer but the last.
/// </summary>
public abstract class RecurrentBase : Module
{
    private readonly RecurrentKind _kind;
    private readonly Generator? _generator;

    /// <summary>Input features.</summary>
    public int InputSize { get; }

    /// <summary>Hidden features.</summary>
    public int HiddenSize { get; }

    /// <summary>Stacked layers.</summary>
    public int NumLayers { get; }

    /// <summary>Whether the layers have biases.</summary>
    public bool HasBias { get; }

    /// <summary>Whether the input and output are [N, T, features].</summary>
    public bool BatchFirst { get; }

    /// <summary>Dropout probability between layers (training only).</summary>
    public double Dropout { get; }

    /// <summary>Whether each layer also runs backward in time.</summary>
    public bool Bidirectional { get; }

    /// <summary>LSTM only: the size h is projected to (PyTorch's proj_size), or 0 for no projection.</summary>
    public int ProjSize { get; }

    /// <summary>The size of h: <see cref="ProjSize"/> when projecting, else <see cref="HiddenSize"/>.</summary>
    private int OutSize => ProjSize > 0 ? ProjSize : HiddenSize;

    private protected RnnNonlinearity Nonlinearity { get; init; } = RnnNonlinearity.Tanh;

    private int Directions => Bidirectional ? 2 : 1;

    private protected RecurrentBase(string layer, RecurrentKind kind, int inputSize, int hiddenSize, int numLayers, bool bias, bool batchFirst, double dropout,
        bool bidirectional, DType dtype, Generator? generator, int projSize = 0)
    {
        Recurrence.CheckSizes(layer, inputSize, hiddenSize);
        if (projSize < 0 || (projSize > 0 && projSize >= hiddenSize))
            throw new ArgumentException($"{layer}: projSize must be 0 (no projection) or in [1, hiddenSize) = [1, {hiddenSize}), got {projSize}.", nameof(projSize));
        ProjSize = projSize;
        if (numLayers <= 0) throw new ArgumentException($"{layer}: numLayers must be positive, got {numLayers}.", nameof(numLayers));
        if (!(dropout >= 0 && dropout <= 1)) throw new ArgumentException($"{layer}: dropout must be in [0, 1], got {dropout}.", nameof(dropout));
        (_kind, InputSize, HiddenSize, NumLayers, HasBias, BatchFirst, Dropout, Bidirectional, _generator) =
            (kind, inputSize, hiddenSize, numLayers, bias, batchFirst, dropout, bidirectional, generator);
        int gates = kind switch { RecurrentKind.Lstm => 4, RecurrentKind.Gru => 3, _ => 1 };
        for (int l = 0; l < numLayers; l++)
            for (int d = 0; d < Directions; d++)
                Recurrence.Register((n, t) => AddParameter(n, t), $"_l{l}" + (d == 1 ? "_reverse" : ""), gates,
                    l == 0 ? inputSize : OutSize * Directions, hiddenSize, bias, dtype, generator, projSize);
    }

    /// <summary>Runs the layers: (output, final hidden states, final cell states (LSTM) or null).</summary>
    private protected (Tensor Output, Tensor H, Tensor? C) Run(Tensor input, Tensor? h0, Tensor? c0)
    {
        int feat = input.Rank >= 1 ? input.Size(-1) : -1;
        if ((input.Rank != 3 && input.Rank != 2) || feat != InputSize)
            throw new ShapeMismatchException($"{this}: expected input {(BatchFirst ? "[N, T, " : "[T, N, ")}{InputSize}] (or unbatched [T, {InputSize}]), got {ShapeUtil.Format(input.Shape)}.");
        bool unbatched = input.Rank == 2;
        var x = unbatched ? input.Unsqueeze(1) : BatchFirst ? input.Transpose(0, 1) : input; // [T, N, I]
        int T = x.Size(0), N = x.Size(1), S = NumLayers * Directions;
        Tensor State(Tensor? s, string what, int size)
        {
            if (s is null) return Tensor.Zeros([S, N, size], x.DType);
            var b = unbatched ? s.Unsqueeze(1) : s;
            if (b.Rank != 3 || b.Size(0) != S || b.Size(1) != N || b.Size(2) != size)
                throw new ShapeMismatchException($"{this}: {what} must be [{S}, {N}, {size}] (numLayers·directions, batch, {(size == HiddenSize ? "hidden" : "proj")}){(unbatched ? $" or [{S}, {size}]" : "")}, got {ShapeUtil.Format(s.Shape)}.");
            return b;
        }
        var hs = State(h0, "h0", OutSize);
        var cs = _kind == RecurrentKind.Lstm ? State(c0, "c0", HiddenSize) : null;
        // parameters looked up by name (not cached), so DeepClone and To(dtype) see the module's current ones
        var ps = NamedParameters(recurse: false).ToDictionary(p => p.Name, p => p.Parameter);
        var hN = new Tensor[S];
        var cN = new Tensor[S];
        var layerIn = x;
        for (int l = 0; l < NumLayers; l++)
        {
            if (l > 0 && Dropout > 0 && Training) layerIn = layerIn.Dropout(Dropout, training: true, generator: _generator);
            var dirOut = new Tensor[Directions];
            for (int d = 0; d < Directions; d++)
            {
                int k = l * Directions + d;
                string sfx = $"_l{l}" + (d == 1 ? "_reverse" : "");
                Tensor wih = ps["weight_ih" + sfx], whh = ps["weight_hh" + sfx];
                Tensor? bih = HasBias ? ps["bias_ih" + sfx] : null, bhh = HasBias ? ps["bias_hh" + sfx] : null;
                Tensor? whr = ProjSize > 0 ? ps["weight_hr" + sfx] : null;
                if (_kind == RecurrentKind.Lstm && whr is null && T > 0 && Recurrence.FusedLstmSequence)
                {
                    // cuDNN's layout: x·W_ihᵀ + b_ih + b_hh for all steps as one GEMM, then the recurrence as one op
                    // (per step h·W_hhᵀ and the fused cell; its backward forms ∂W_hh as one GEMM over the sequence)
                    var xpAll = Tensor.Linear(layerIn, wih, bih is null ? null : bih + bhh!);
                    var (ys, cseq) = Tensor.LstmSequence(xpAll, hs.Select(0, k), cs!.Select(0, k), whh, reverse: d == 1);
                    int last = d == 0 ? T - 1 : 0;
                    dirOut[d] = ys;
                    hN[k] = ys.Select(0, last);
                    cN[k] = cseq.Select(0, last);
                    continue;
                }
                var xp = Tensor.Linear(layerIn, wih, bih); // [T, N, gates·H], all steps at once
                if (_kind != RecurrentKind.Gru && bhh is not null)
                {
                    xp = xp + bhh; // both biases once for the whole sequence (GRU's b_hn sits inside r·(…))
                    bhh = null;
                }
                var h = hs.Select(0, k);
                var c = cs?.Select(0, k);
                var steps = new Tensor[T];
                var xs = xp.Unbind(0); // one op: its backward stacks the steps' gradients once
                for (int s = 0; s < T; s++)
                {
                    int t = d == 0 ? s : T - 1 - s;
                    var xt = xs[t];
                    switch (_kind)
                    {
                        case RecurrentKind.Lstm: (h, c) = Recurrence.Lstm(xt, h, c!, whh, bhh, whr); break;
                        case RecurrentKind.Gru: h = Recurrence.Gru(xt, h, whh, bhh); break;
                        default: h = Recurrence.Rnn(xt, h, whh, bhh, Nonlinearity); break;
                    }
                    steps[t] = h;
                }
                dirOut[d] = T > 0 ? Tensor.Stack(steps, 0) : Tensor.Zeros([0, N, OutSize], x.DType);
                hN[k] = h;
                if (c is not null) cN[k] = c;
            }
            layerIn = Directions == 1 ? dirOut[0] : Tensor.Cat(dirOut, -1);
        }
        var output = unbatched ? layerIn.Squeeze(1) : BatchFirst ? layerIn.Transpose(0, 1) : layerIn;
        var hOut = Tensor.Stack(hN, 0);
        var cOut = cs is null ? null : Tensor.Stack(cN, 0);
        if (unbatched) { hOut = hOut.Squeeze(1); cOut = cOut?.Squeeze(1); }
        return (output, hOut, cOut);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr()
    {
        var s = $"{InputSize}, {HiddenSize}";
        if (NumLayers != 1) s += $", num_layers={NumLayers}";
        if (_kind == RecurrentKind.Rnn && Nonlinearity == RnnNonlinearity.Relu) s += ", nonlinearity='relu'";
        if (!HasBias) s += ", bias=False";
        if (BatchFirst) s += ", batch_first=True";
        if (Dropout != 0) s += $", dropout={Dropout}";
        if (Bidirectional) s += ", bidirectional=True";
        if (ProjSize > 0) s += $", proj_size={ProjSize}";
        return s;
    }
}

/// <summary>A multi-layer Elman RNN (PyTorch's <c>nn.RNN</c>); see <see cref="RecurrentBase"/> for shapes and parameter names.</summary>
public sealed class RNN : RecurrentBase
{
    /// <summary>Creates the layer with PyTorch's initialization.</summary>
    public RNN(int inputSize, int hiddenSize, int numLayers = 1, RnnNonlinearity nonlinearity = RnnNonlinearity.Tanh, bool bias = true, bool batchFirst = false,
        double dropout = 0, bool bidirectional = false, DType dtype = DType.Float32, Generator? generator = null)
        : base("RNN", RecurrentKind.Rnn, inputSize, hiddenSize, numLayers, bias, batchFirst, dropout, bidirectional, dtype, generator) => Nonlinearity = nonlinearity;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Forward(input, null).Output;

    /// <summary>Runs the sequence from initial states <paramref name="h0"/> [numLayers·D, N, hidden] (zeros when null).</summary>
    public (Tensor Output, Tensor H) Forward(Tensor input, Tensor? h0)
    {
        var (y, h, _) = Run(input, h0, null);
        return (y, h);
    }
}

/// <summary>
/// A multi-layer LSTM (PyTorch's <c>nn.LSTM</c>); see <see cref="RecurrentBase"/> for shapes and parameter names. With
/// <c>projSize</c> P &gt; 0 (PyTorch's proj_size) each layer projects h by weight_hr_l{k} [P, hidden]: h, the output and the
/// next layer's input have P features (D·P for the output), weight_hh is [4·hidden, P], h0 and hN are [numLayers·D, N, P] and
/// c stays [numLayers·D, N, hidden].
/// </summary>
public sealed class LSTM : RecurrentBase
{
    /// <summary>Creates the layer with PyTorch's initialization.</summary>
    public LSTM(int inputSize, int hiddenSize, int numLayers = 1, bool bias = true, bool batchFirst = false, double dropout = 0, bool bidirectional = false,
        DType dtype = DType.Float32, Generator? generator = null, int projSize = 0)
        : base("LSTM", RecurrentKind.Lstm, inputSize, hiddenSize, numLayers, bias, batchFirst, dropout, bidirectional, dtype, generator, projSize)
    {
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Forward(input, null).Output;

    /// <summary>Runs the sequence from initial states (h0, c0), each [numLayers·D, N, hidden] (zeros when null); returns the
    /// output and the final (h, c).</summary>
    public (Tensor Output, (Tensor H, Tensor C) State) Forward(Tensor input, (Tensor H, Tensor C)? hx)
    {
        var (y, h, c) = Run(input, hx?.H, hx?.C);
        return (y, (h, c!));
    }
}

/// <summary>A multi-layer GRU (PyTorch's <c>nn.GRU</c>); see <see cref="RecurrentBase"/> for shapes and parameter names.</summary>
public sealed class GRU : RecurrentBase
{
    /// <summary>Creates the layer with PyTorch's initialization.</summary>
    public GRU(int inputSize, int hiddenSize, int numLayers = 1, bool bias = true, bool batchFirst = false, double dropout = 0, bool bidirectional = false,
        DType dtype = DType.Float32, Generator? generator = null)
        : base("GRU", RecurrentKind.Gru, inputSize, hiddenSize, numLayers, bias, batchFirst, dropout, bidirectional, dtype, generator)
    {
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Forward(input, null).Output;

    /// <summary>Runs the sequence from initial states <paramref name="h0"/> [numLayers·D, N, hidden] (zeros when null).</summary>
    public (Tensor Output, Tensor H) Forward(Tensor input, Tensor? h0)
    {
        var (y, h, _) = Run(input, h0, null);
        return (y, h);
    }
}
