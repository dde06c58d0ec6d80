namespace Fluxion.Nn;

/// <summary>
/// An additive coupling block (RevNet, Gomez et al. 2017): the input [N, 2C, ...] is split along dim 1
/// into halves x1, x2 and
/// <para>y1 = x1 + f(x2),  y2 = x2 + g(y1),</para>
/// which is invertible whatever f and g are: x2 = y2 − g(y1), x1 = y1 − f(x2) (<see cref="Inverse"/>).
/// On its own the block records a graph as any module; inside a <see cref="ReversibleSequential"/> its
/// input is reconstructed from its output in the backward pass instead of being stored.
/// </summary>
public sealed class Reversible : Module
{
    /// <summary>The block on the second half (its output is added to the first).</summary>
    public Module F { get; }

    /// <summary>The block on the new first half (its output is added to the second).</summary>
    public Module G { get; }

    /// <summary>A coupling block of <paramref name="f"/> and <paramref name="g"/>; each maps [N, C, ...] to the same shape.</summary>
    public Reversible(Module f, Module g)
    {
        F = RegisterModule("f", f ?? throw new ArgumentNullException(nameof(f)));
        G = RegisterModule("g", g ?? throw new ArgumentNullException(nameof(g)));
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        var (x1, x2) = Halves(input, "Reversible");
        var y1 = x1 + Apply(F, x2, "f");
        var y2 = x2 + Apply(G, y1, "g");
        return Tensor.Cat([y1, y2], 1);
    }

    /// <summary>The block's input from its output: x2 = y2 − g(y1), x1 = y1 − f(x2) (exact up to rounding).</summary>
    public Tensor Inverse(Tensor output)
    {
        var (y1, y2) = Halves(output, "Reversible.Inverse");
        var x2 = y2 - Apply(G, y1, "g");
        var x1 = y1 - Apply(F, x2, "f");
        return Tensor.Cat([x1, x2], 1);
    }

    internal static (Tensor, Tensor) Halves(Tensor x, string what)
    {
        if (x.Shape.Length < 2 || x.Shape[1] % 2 != 0)
            throw new ShapeMismatchException(
                $"{what}: the input must have an even size in dim 1 (the two halves of a coupling), got shape {ShapeUtil.Format(x.Shape)}. Give the layer 2C channels or features.");
        int c = x.Shape[1] / 2;
        return (x.Narrow(1, 0, c), x.Narrow(1, c, c));
    }

    internal static Tensor Apply(Module m, Tensor x, string which)
    {
        var y = m.Forward(x);
        if (!ShapeUtil.SameShape(y.Shape, x.Shape))
            throw new ShapeMismatchException(
                $"Reversible: {which} maps shape {ShapeUtil.Format(x.Shape)} to {ShapeUtil.Format(y.Shape)}; a coupling function must keep its input's shape.");
        return y;
    }
}

/// <summary>What the last forward pass of a <see cref="ReversibleSequential"/> found.</summary>
/// <param name="ReconstructionErrors">Per block: max |x − inverse(block(x))| / max(max |x|, 1e-30), or NaN when not measured on this call.</param>
/// <param name="StoredBlocks">Blocks whose reconstruction error exceeded the tolerance: their inputs are stored for backward instead of reconstructed.</param>
/// <param name="Tolerance">The tolerance used.</param>
public sealed record ReversibleReport(IReadOnlyList<double> ReconstructionErrors, IReadOnlyList<int> StoredBlocks, double Tolerance)
{
    /// <summary>One line per stored block, or a line saying that every block is reconstructed.</summary>
    public override string ToString()
    {
        var measured = ReconstructionErrors.Where(e => !double.IsNaN(e)).DefaultIfEmpty(double.NaN).Max();
        if (StoredBlocks.Count == 0)
            return $"ReversibleSequential: {ReconstructionErrors.Count} blocks reconstructed in backward (largest reconstruction error {measured:G3}, tolerance {Tolerance:G3})";
        return $"ReversibleSequential: {StoredBlocks.Count} of {ReconstructionErrors.Count} blocks store their input (reconstruction error above tolerance {Tolerance:G3}): " +
            string.Join(", ", StoredBlocks.Select(b => $"block {b} ({ReconstructionErrors[b]:G3})"));
    }
}

/// <summary>
/// A chain of <see cref="Reversible"/> blocks whose backward pass reconstructs each block's input from its
/// output (RevNet), so the activations kept for backward do not grow with depth: one node saves the
/// chain's output (and the inputs of blocks that fall back, below), whatever the number of blocks.
/// <para><b>Backward.</b> Block by block from the last: y1 as a leaf, g(y1) recorded, x2 = y2 − g(y1);
/// x2 as a leaf, f(x2) recorded, x1 = y1 − f(x2); backpropagating through the two recorded calls gives
/// the gradients of x1, x2 and of f's and g's parameters. Each of f and g thus runs once more, with
/// recording, as in checkpointing; the gradients equal those of storing everything up to the rounding
/// of the reconstruction.</para>
/// <para><b>Fallback.</b> Every <see cref="CheckInterval"/>-th forward pass (every pass by default) each
/// block's input is reconstructed from its output at once and compared with the true input; a block whose
/// relative error exceeds <see cref="Tolerance"/> keeps its input for backward (the chain is then exact
/// again from that block down), and <see cref="LastReport"/> lists it. The check costs one more call
/// of f and g per block in the forward pass; blocks found unstable keep storing until a later check clears them.</para>
/// <para>The blocks must be deterministic given the default generator's state (saved per block and
/// replayed). The chain is differentiable once (higher-order gradients through it raise).</para>
/// </summary>
public sealed class ReversibleSequential : Module
{
    private readonly Reversible[] _blocks;
    private readonly bool[] _stores;
    private long _calls;

    /// <summary>Chains <paramref name="blocks"/>.</summary>
    public ReversibleSequential(params Reversible[] blocks)
    {
        ArgumentNullException.ThrowIfNull(blocks);
        _blocks = blocks;
        _stores = new bool[blocks.Length];
        for (int i = 0; i < blocks.Length; i++) RegisterModule(i.ToString(), blocks[i] ?? throw new ArgumentNullException(nameof(blocks), $"ReversibleSequential: block {i} is null."));
    }

    /// <summary>The blocks in order.</summary>
    public IReadOnlyList<Reversible> Blocks => _blocks;

    /// <summary>Relative reconstruction error above which a block stores its input (default 1e-4).</summary>
    public double Tolerance { get; set; } = 1e-4;

    /// <summary>Check the reconstruction every this many forward passes with grad (1 = every pass; 0 = never, nothing falls back).</summary>
    public int CheckInterval { get; set; } = 1;

    /// <summary>What the last forward pass with grad found (null before the first).</summary>
    public ReversibleReport? LastReport { get; private set; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var parameters = Parameters().Where(p => p.RequiresGrad).Cast<Tensor>().ToArray();
        if (!GradMode.Enabled || ForwardLevels.ActiveCount > 0 || (!input.RequiresGrad && parameters.Length == 0))
        {
            var y = input;
            foreach (var b in _blocks) y = b.Forward(y);
            return y;
        }
        bool check = CheckInterval > 0 && _calls++ % CheckInterval == 0;
        var errors = new double[_blocks.Length];
        Array.Fill(errors, double.NaN);
        var stored = new Tensor?[_blocks.Length];
        var rngF = new GeneratorState[_blocks.Length];
        var rngG = new GeneratorState[_blocks.Length];
        var gen = Generator.Default;
        var x = input.Detach();
        using (Autograd.NoGrad())
        {
            for (int i = 0; i < _blocks.Length; i++)
            {
                var (x1, x2) = Reversible.Halves(x, $"ReversibleSequential block {i}");
                rngF[i] = gen.GetState();
                var y1 = x1 + Reversible.Apply(_blocks[i].F, x2, "f");
                rngG[i] = gen.GetState();
                var y2 = x2 + Reversible.Apply(_blocks[i].G, y1, "g");
                var after = gen.GetState();
                if (check)
                {
                    gen.SetState(rngG[i]);
                    var r2 = y2 - _blocks[i].G.Forward(y1);
                    gen.SetState(rngF[i]);
                    var r1 = y1 - _blocks[i].F.Forward(r2);
                    gen.SetState(after);
                    double scale = Math.Max(Math.Max(x1.Abs().Max().Item(), x2.Abs().Max().Item()), 1e-30);
                    double err = Math.Max((r1 - x1).Abs().Max().Item(), (r2 - x2).Abs().Max().Item()) / scale;
                    errors[i] = double.IsNaN(err) ? double.PositiveInfinity : err;
                    _stores[i] = !(errors[i] <= Tolerance);
                }
                if (_stores[i]) stored[i] = x;
                x = Tensor.Cat([y1, y2], 1);
            }
        }
        LastReport = new ReversibleReport(errors, Enumerable.Range(0, _blocks.Length).Where(i => _stores[i]).ToArray(), Tolerance);
        var all = new Tensor[1 + parameters.Length];
        all[0] = input;
        parameters.CopyTo(all, 1);
        return new ChainFunction(this, x, stored, rngF, rngG) { OnceDifferentiable = true }.Apply(all)[0];
    }

    /// <summary>The chain's node: saves its output and the stored blocks' inputs.</summary>
    private sealed class ChainFunction(ReversibleSequential chain, Tensor output, Tensor?[] stored, GeneratorState[] rngF, GeneratorState[] rngG) : CustomFunction
    {
        private Tensor? _output = output;
        private int[] _storedIndex = [];

        public override string Name => "ReversibleSequential";

        public override Tensor[] Forward(FunctionContext ctx, Tensor[] inputs)
        {
            var o = _output!;
            _output = null;
            var keep = new List<Tensor> { o };
            _storedIndex = new int[stored.Length];
            for (int i = 0; i < stored.Length; i++)
            {
                _storedIndex[i] = -1;
                if (stored[i] is { } s)
                {
                    _storedIndex[i] = keep.Count;
                    keep.Add(s);
                }
            }
            ctx.SaveForBackward(keep.ToArray());
            for (int i = 0; i < stored.Length; i++) stored[i] = null;
            return [o];
        }

        public override Tensor?[] Backward(FunctionContext ctx, Tensor[] gradOutputs)
        {
            var saved = ctx.SavedTensors;
            var needs = ctx.NeedsInputGrad;
            var blocks = chain._blocks;
            var gen = Generator.Default;
            var now = gen.GetState();
            // parameters: inputs 1.. in the order of chain.Parameters()
            var parameters = chain.Parameters().Where(p => p.RequiresGrad).Cast<Tensor>().ToList();
            var grads = new Tensor?[parameters.Count];
            var y = saved[0];
            var g = gradOutputs[0];
            try
            {
                for (int i = blocks.Length - 1; i >= 0; i--)
                {
                    var fParams = blocks[i].F.Parameters().Where(p => p.RequiresGrad).Cast<Tensor>().ToArray();
                    var gParams = blocks[i].G.Parameters().Where(p => p.RequiresGrad).Cast<Tensor>().ToArray();
                    var (y1v, y2v) = Reversible.Halves(y.Detach(), "ReversibleSequential");
                    var (g1, g2) = Reversible.Halves(g, "ReversibleSequential");
                    Tensor x1, x2, gx1, gx2;
                    var y1 = y1v.Detach();
                    y1.RequiresGrad = true;
                    long b1 = Node.LastSequence;
                    Tensor gy;
                    gen.SetState(rngG[i]);
                    using (Autograd.EnableGrad()) gy = blocks[i].G.Forward(y1);
                    if (_storedIndex[i] >= 0)
                    {
                        var (s1, s2) = Reversible.Halves(saved[_storedIndex[i]], "ReversibleSequential");
                        (x1, x2) = (s1.Detach(), s2.Detach());
                    }
                    else
                    {
                        using (Autograd.NoGrad()) x2 = y2v - gy.Detach();
                        x1 = null!;
                    }
                    // through g: ȳ1 = g1 + J_g(y1)ᵀ g2
                    var rg = Run(gy, g2, y1, gParams, b1);
                    var ybar1 = rg[0] is { } d ? g1 + d : g1;
                    Accumulate(grads, parameters, gParams, rg);
                    var x2l = x2.Detach();
                    x2l.RequiresGrad = true;
                    long b2 = Node.LastSequence;
                    Tensor fx;
                    gen.SetState(rngF[i]);
                    using (Autograd.EnableGrad()) fx = blocks[i].F.Forward(x2l);
                    if (_storedIndex[i] < 0)
                        using (Autograd.NoGrad()) x1 = y1v - fx.Detach();
                    // through f: x̄2 = g2 + J_f(x2)ᵀ ȳ1, x̄1 = ȳ1
                    var rf = Run(fx, ybar1, x2l, fParams, b2);
                    Accumulate(grads, parameters, fParams, rf);
                    gx1 = ybar1;
                    gx2 = rf[0] is { } e ? g2 + e : g2;
                    y = Tensor.Cat([x1, x2], 1);
                    g = Tensor.Cat([gx1, gx2], 1);
                }
            }
            finally
            {
                gen.SetState(now);
            }
            var result = new Tensor?[1 + parameters.Count];
            result[0] = needs[0] ? g : null;
            for (int k = 0; k < parameters.Count; k++)
                result[k + 1] = needs[k + 1] ? grads[k] ?? Tensor.ZerosLike(parameters[k]) : null;
            return result;
        }

        private static Tensor?[] Run(Tensor output, Tensor seed, Tensor leaf, Tensor[] parameters, long boundary)
        {
            if (!output.RequiresGrad) return new Tensor?[1 + parameters.Length];
            var targets = new Tensor[1 + parameters.Length];
            targets[0] = leaf;
            parameters.CopyTo(targets, 1);
            using (Autograd.NoGrad())
                return Engine.Run([output], [seed], retainGraph: false, createGraph: false, targets, allowUnused: true, boundary)!;
        }

        private static void Accumulate(Tensor?[] grads, List<Tensor> all, Tensor[] some, Tensor?[] r)
        {
            for (int k = 0; k < some.Length; k++)
            {
                if (r[k + 1] is not { } gk) continue;
                int j = all.FindIndex(p => ReferenceEquals(p, some[k]));
                grads[j] = grads[j] is { } acc ? acc + gk : gk;
            }
        }
    }
}
