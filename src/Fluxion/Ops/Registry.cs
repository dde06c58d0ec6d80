using System.Reflection;
using System.Runtime.CompilerServices;

namespace Fluxion;

/// <summary>The family an op belongs to, as PyTorch's OpInfo database groups them (see <c>fluxion ops</c>).</summary>
public enum OpFamily
{
    /// <summary>Elementwise functions of one tensor (sin, exp, relu as a math function, ...).</summary>
    Unary,
    /// <summary>Elementwise functions of two tensors with broadcasting (add, pow, atan2, comparisons, ...).</summary>
    Binary,
    /// <summary>Reductions, scans and sorting (sum, cumsum, sort, topk, ...).</summary>
    ReduceScanSort,
    /// <summary>Shape, indexing, creation and everything else (reshape, gather, cat, where, ...).</summary>
    ShapeIndexCreateOther,
    /// <summary>Linear algebra (matmul, solve, svd, ...).</summary>
    Linalg,
    /// <summary>Neural-network functions and losses (conv, pooling, normalization, cross entropy, ...).</summary>
    NN,
    /// <summary>Fluxion's own fused ops (point-cloud layer, particle forces, fused layers).</summary>
    Fused,
}

/// <summary>Which dtypes an op's forward kernels accept.</summary>
[Flags]
public enum DTypeSet
{
    /// <summary>None.</summary>
    None = 0,
    /// <summary>float32.</summary>
    Float32 = 1,
    /// <summary>float64.</summary>
    Float64 = 2,
    /// <summary>int64.</summary>
    Int64 = 4,
    /// <summary>bool.</summary>
    Bool = 8,
    /// <summary>float32 and float64.</summary>
    Floats = Float32 | Float64,
    /// <summary>Every dtype.</summary>
    All = Floats | Int64 | Bool,
}

/// <summary>Where a forward kernel runs. Only the CPU today: a GPU backend adds a member and fills the entries' kernel
/// tables (<c>fluxion ops --json</c>, field <c>kernels</c>) without touching any VJP or JVP.</summary>
public enum Device
{
    /// <summary>The CPU (managed arrays, SIMD through System.Numerics, threads through the kernels' parallel helper).</summary>
    Cpu,
}

/// <summary>How an op's forward is provided for one (device, dtype) of its kernel table.</summary>
public enum KernelKind
{
    /// <summary>The op does not take this dtype on this device.</summary>
    None,
    /// <summary>A kernel held by the entry's table, declared once by its family (the elementwise span maps and broadcast
    /// kernels): the op runs it and compilation's elementwise fusion reads it from the table.</summary>
    Kernel,
    /// <summary>The op's Tensor method picks its kernels for this dtype itself (reductions, shapes, linear algebra, ...).</summary>
    Method,
    /// <summary>A composite: computed by other entries (<see cref="OpInfo.CompositeOf"/>), no kernel of its own.</summary>
    Composite,
}

/// <summary>
/// An entry's forward kernels by (device, dtype): one slot per pair in a flat array indexed by
/// <c>device · 4 + dtype</c> (no dictionary). A family fills the slots from its definition (<see cref="UnaryDef{TD}"/>:
/// its span maps; <see cref="BinaryDef{TR}"/>: its broadcast kernels) and resolves its typed kernels from them once,
/// when the entry is built, so the per-call path reads a field. Every other entry declares the dtypes its Tensor
/// method accepts (<see cref="KernelKind.Method"/>), and a composite the dtypes it accepts (<see cref="KernelKind.Composite"/>).
/// The dtypes <c>fluxion ops</c> shows are the CPU slots in use.
/// </summary>
internal sealed class ForwardKernels
{
    private const int DTypeCount = 4;
    private static readonly int s_devices = Enum.GetValues<Device>().Length;
    private readonly object?[] _kernels = new object?[s_devices * DTypeCount];
    private readonly KernelKind[] _kinds = new KernelKind[s_devices * DTypeCount];

    private static int Slot(Device device, DType dtype) => (int)device * DTypeCount + (int)dtype;

    /// <summary>Puts <paramref name="kernel"/> (a span map, a broadcast kernel, ...: the family knows its type) in the (device, dtype) slot.</summary>
    public void Set(Device device, DType dtype, object kernel)
    {
        _kernels[Slot(device, dtype)] = kernel;
        _kinds[Slot(device, dtype)] = KernelKind.Kernel;
    }

    /// <summary>Marks the slots of <paramref name="dtypes"/> on <paramref name="device"/> that hold no kernel as <paramref name="kind"/>.</summary>
    public void Declare(Device device, DTypeSet dtypes, KernelKind kind)
    {
        for (int t = 0; t < DTypeCount; t++)
            if (((int)dtypes & (1 << t)) != 0 && _kinds[Slot(device, (DType)t)] == KernelKind.None)
                _kinds[Slot(device, (DType)t)] = kind;
    }

    private readonly MethodInfo?[] _registers = new MethodInfo?[DTypeCount];

    /// <summary>Registers the op's CPU register formula for <paramref name="dtype"/>: a static method from one
    /// <see cref="System.Runtime.Intrinsics.Vector256{T}"/> to one, giving on each lane the bits the (device-CPU, dtype)
    /// kernel gives; compiled fused loops call it (<see cref="FusedCode"/>).</summary>
    public void SetRegister(DType dtype, MethodInfo formula)
    {
        if (!formula.IsStatic || formula.GetParameters().Length != 1 || formula.ReturnType != formula.GetParameters()[0].ParameterType)
            throw new ArgumentException($"a register formula is a static method from one vector to one; {formula.DeclaringType?.Name}.{formula.Name} is not", nameof(formula));
        _registers[(int)dtype] = formula;
    }

    /// <summary>The CPU register formula for <paramref name="dtype"/> (null when the op has none).</summary>
    public MethodInfo? Register(DType dtype) => _registers[(int)dtype];

    /// <summary>The kernel of a slot (null unless its kind is <see cref="KernelKind.Kernel"/>).</summary>
    public object? Kernel(Device device, DType dtype) => _kernels[Slot(device, dtype)];

    /// <summary>The kernel of a slot as <typeparamref name="T"/> (null when the slot holds none or another type).</summary>
    public T? Kernel<T>(Device device, DType dtype) where T : class => _kernels[Slot(device, dtype)] as T;

    /// <summary>How the slot is provided.</summary>
    public KernelKind Kind(Device device, DType dtype) => _kinds[Slot(device, dtype)];

    /// <summary>The dtypes with a slot in use on <paramref name="device"/>.</summary>
    public DTypeSet DTypes(Device device)
    {
        int s = 0;
        for (int t = 0; t < DTypeCount; t++)
            if (_kinds[Slot(device, (DType)t)] != KernelKind.None) s |= 1 << t;
        return (DTypeSet)s;
    }

    /// <summary>The slots in use, by device then dtype (what <c>fluxion ops --json</c> prints as <c>kernels</c>).</summary>
    public IReadOnlyDictionary<Device, IReadOnlyDictionary<DType, KernelKind>> Describe()
    {
        var r = new Dictionary<Device, IReadOnlyDictionary<DType, KernelKind>>();
        foreach (var d in Enum.GetValues<Device>())
        {
            var byType = new Dictionary<DType, KernelKind>();
            for (int t = 0; t < DTypeCount; t++)
                if (Kind(d, (DType)t) is var k and not KernelKind.None) byType[(DType)t] = k;
            if (byType.Count > 0) r[d] = byType;
        }
        return r;
    }
}

/// <summary>
/// What a derivative rule may read of one call of an op: its inputs, its output(s) and the op's
/// attributes (dims, flags, index tensors: whatever the call was given besides its differentiable inputs).
/// In backward, inputs and outputs the op did not declare as saved are null.
/// </summary>
internal readonly struct OpCtx(Tensor?[] inputs, Tensor? output, Tensor?[]? outputs, object? attr, Node? node = null)
{
    /// <summary>The inputs (null where not saved).</summary>
    public readonly Tensor?[] Inputs = inputs;

    /// <summary>Input <paramref name="i"/>.</summary>
    public Tensor X(int i) => Inputs[i]!;

    /// <summary>The shape of input <paramref name="i"/> (known even when the input itself was not saved).</summary>
    public int[] Shape(int i) => Inputs[i]?.ShapeRef ?? node!.InputShape(i);

    /// <summary>The output (output 0 of a multi-output op).</summary>
    public Tensor Y => output ?? outputs![0]!;

    /// <summary>Output <paramref name="o"/>.</summary>
    public Tensor Out(int o) => o == 0 && output is not null ? output : outputs![o]!;

    /// <summary>The call's attributes.</summary>
    public T A<T>() => (T)attr!;

    /// <summary>The call's attributes (untyped).</summary>
    public object? Attr => attr;
}

/// <summary>Single-output VJP for one input: g·∂y/∂x_i, already of x_i's shape.</summary>
internal delegate Tensor? VjpRule(in OpCtx c, Tensor g, int input);

/// <summary>VJP over all outputs and inputs at once (multi-output ops, or inputs whose gradients share work).</summary>
internal delegate Tensor?[] VjpAllRule(in OpCtx c, Tensor[] gradOutputs, bool[] needs);

/// <summary>Single-output JVP: the output tangent from the inputs' tangents (null where zero).</summary>
internal delegate Tensor? JvpRule(in OpCtx c, Tensor?[] tangents);

/// <summary>Multi-output JVP: one tangent (or null) per output.</summary>
internal delegate Tensor?[] JvpAllRule(in OpCtx c, Tensor?[] tangents);

/// <summary>One sample call of an op for the generated test sweep (float64 inputs).</summary>
/// <param name="Label">What the sample exercises (e.g. "broadcast", "noncontiguous", "0-d", "empty").</param>
/// <param name="Inputs">The differentiable inputs (float64).</param>
/// <param name="Call">Calls the op through its public API on the inputs (attributes bound).</param>
/// <param name="SecondOrder">Whether the sweep also checks second order (false for ops whose VJP is not differentiable again, or at kinks).</param>
internal sealed record OpSample(string Label, Tensor[] Inputs, Func<Tensor[], Tensor> Call, bool SecondOrder = true);

/// <summary>
/// One differentiable primitive of the op registry: its name, the PyTorch name(s) it matches, the dtypes
/// its kernels take, its VJP, its JVP (and whether that JVP handles vector-mode tangents [k, ...] in one
/// call), an optional fused first-order backward, which tensors its rules read, and sample inputs for
/// the test sweep. The rules are written with tensor ops, so they are differentiable again.
/// <para>An op computes its value with kernels and calls <see cref="Op.Record(OpDef, Tensor, Tensor[], object?)"/>
/// with this entry; reverse mode, forward mode, <c>fluxion ops</c> and the test sweep all read the entry.
/// Entries are static fields (of any type in the library); <see cref="OpRegistry"/> finds them.</para>
/// </summary>
internal class OpDef
{
    /// <summary>Save-mask bit of the output(s).</summary>
    public const uint SaveOutput = 1u << 31;
    /// <summary>Save-mask bits of every input.</summary>
    public const uint SaveInputs = (1u << 31) - 1;

    /// <summary>Creates an entry.</summary>
    public OpDef(string name, OpFamily family, params string[] torch)
    {
        Name = name;
        Family = family;
        Torch = torch;
    }

    /// <summary>Fluxion's name of the op (the node is named Name + "Backward").</summary>
    public string Name { get; }

    /// <summary>The family, as in PyTorch's OpInfo database.</summary>
    public OpFamily Family { get; init; }

    /// <summary>The PyTorch OpInfo name(s) this op implements (as spelled in ops-target.tsv).</summary>
    public string[] Torch { get; }

    private readonly ForwardKernels _forward = new();
    private DTypeSet _declared = DTypeSet.Floats;
    private volatile bool _forwardComplete;

    /// <summary>The dtypes the forward takes on the CPU: the CPU slots of <see cref="Forward"/> in use. Setting it declares
    /// the dtypes the op's Tensor method accepts (float32 and float64 unless set) for the slots its family did not fill
    /// with kernels (<see cref="KernelKind.Method"/>; <see cref="KernelKind.Composite"/> for a composite).</summary>
    public DTypeSet DTypes { get => Forward.DTypes(Device.Cpu); init => _declared = value; }

    /// <summary>The entry's forward kernels by (device, dtype).</summary>
    public ForwardKernels Forward
    {
        get
        {
            if (!_forwardComplete)
                lock (_forward)
                {
                    if (!_forwardComplete)
                    {
                        _forward.Declare(Device.Cpu, _declared, CompositeOf is null ? KernelKind.Method : KernelKind.Composite);
                        _forwardComplete = true;
                    }
                }
            return _forward;
        }
    }

    /// <summary>The kernel table as the family fills it while the entry is built (before the declared dtypes are added).</summary>
    protected ForwardKernels KernelSlots => _forward;

    /// <summary>One-line description for <c>fluxion ops</c>.</summary>
    public string? Doc { get; init; }

    /// <summary>False for ops that have no derivative (comparisons, argsort, ...): asking for one raises.</summary>
    public bool Differentiable { get; init; } = true;

    /// <summary>The batching rule (vmap): computes the op on inputs of which some carry a leading batch dim.</summary>
    public BatchRule? Batch { get; init; }

    /// <summary>The op is linear in its floating-point inputs jointly (f(x) = J·x, e.g. reshapes, sums, slices): its
    /// vector-mode JVP applied to the batched inputs is then its batching rule, and no other is declared.</summary>
    public bool Linear { get; init; }

    /// <summary>The batching rule recomputes whatever attributes the call derived from its inputs' values (argmax
    /// positions, counts), so two traced examples may differ there (otherwise such a difference forces the per-example loop).</summary>
    public bool BatchRecomputesAttr { get; init; }

    /// <summary>True when the entry has a batching rule.</summary>
    public virtual bool HasBatchRule => Batch is not null || (Linear && HasBatchedJvp && (Jvp is not null || JvpAll is not null))
        || (CompositeOf is { } parts && parts.All(p => OpRegistry.Find(p) is { } d && d != this && d.HasBatchRule));

    /// <summary>Runs the batching rule (see <see cref="BatchCtx"/>).</summary>
    internal virtual Tensor?[] RunBatch(BatchCtx c) =>
        Batch is { } b ? b(c) : HasBatchRule ? BatchRules.ViaJvp(this, c) : throw new InvalidOperationException($"{Name} has no batching rule.");

    /// <summary>Compile's replay of one call: the outputs from the inputs and the recorded attributes. Needed where the
    /// batching rule run with no batched input would not reproduce the eager call bit for bit, or where an attribute was
    /// derived from the inputs' values (it is recomputed here). Null: the batching rule replays the call.</summary>
    public Func<Tensor[], object?, Tensor?[]>? Replay { get; init; }

    /// <summary>A replay that also recomputes the call's attribute from the values (e.g. max pooling's argmax positions);
    /// later calls whose traced attribute is the same object (the backward's) read the recomputed one.</summary>
    public Func<Tensor[], object?, (Tensor?[] Outputs, object? Attr)>? ReplayAttr { get; init; }

    /// <summary>Per-input VJP (single-output ops).</summary>
    public VjpRule? Vjp { get; init; }

    /// <summary>All-at-once VJP (multi-output ops, or shared work); used instead of <see cref="Vjp"/> when set.</summary>
    public VjpAllRule? VjpAll { get; init; }

    /// <summary>Single-output JVP.</summary>
    public JvpRule? Jvp { get; init; }

    /// <summary>Multi-output JVP; used instead of <see cref="Jvp"/> when set.</summary>
    public JvpAllRule? JvpAll { get; init; }

    /// <summary>True when the JVP handles vector-mode tangents [k, ...] in one call (else it runs per direction).</summary>
    public bool BatchedJvp { get; init; }

    /// <summary>Which tensors the rules read in backward: bit i for input i, <see cref="SaveOutput"/> for the output(s).
    /// In-place changes to them after the call are detected.</summary>
    public uint Saves { get; init; }

    /// <summary>A per-call refinement of <see cref="Saves"/> (e.g. Mul reads b only when a needs a gradient).</summary>
    public Func<Tensor[], uint>? SavesFor { get; init; }

    /// <summary>Sample calls for the generated test sweep.</summary>
    public Func<IEnumerable<OpSample>>? Samples { get; init; }

    /// <summary>For a composite op (built from other entries, as PyTorch's CompositeImplicitAutograd ops): the entries it
    /// is built from. Its derivatives are theirs, so it declares no rules of its own.</summary>
    public string[]? CompositeOf { get; init; }

    /// <summary>True when the op's VJP is differentiable again (createGraph works through it).</summary>
    public bool SecondOrder { get; init; } = true;

    /// <summary>Describes the fused first-order backward, if the entry has one (shown by <c>fluxion ops</c>).</summary>
    public virtual string? FusedBackward => null;

    /// <summary>Whether reverse mode is declared.</summary>
    public virtual bool HasVjp => Differentiable && (Vjp is not null || VjpAll is not null || CompositeOf is not null);

    /// <summary>Whether forward mode is declared.</summary>
    public virtual bool HasJvp => Differentiable && (Jvp is not null || JvpAll is not null || CompositeOf is not null);

    /// <summary>Whether the JVP handles k directions at once.</summary>
    public virtual bool HasBatchedJvp => HasJvp && (BatchedJvp || CompositeOf is not null);

    /// <summary>The save mask for one call.</summary>
    internal virtual uint SaveMask(Tensor[] inputs) => SavesFor?.Invoke(inputs) ?? Saves;

    /// <summary>The gradients of the inputs. <paramref name="firstOrder"/>: the engine runs a first-order pass
    /// (no graph recorded, no forward level active), so a fused raw backward may be used.</summary>
    internal virtual Tensor?[] Backward(in OpCtx c, Tensor[] gradOutputs, bool[] needs, bool firstOrder, Tensor?[] result)
    {
        if (VjpAll is { } all) return all(c, gradOutputs, needs);
        var vjp = Vjp ?? throw NoVjp();
        var g = gradOutputs[0];
        for (int i = 0; i < needs.Length; i++)
            if (needs[i]) result[i] = vjp(c, g, i);
        return result;
    }

    /// <summary>The output tangents (null where zero) from the inputs' tangents.</summary>
    internal virtual Tensor?[] Tangents(in OpCtx c, Tensor?[] tangents)
    {
        if (JvpAll is { } all) return all(c, tangents);
        if (Jvp is { } jvp) return [jvp(c, tangents)];
        throw NoJvp();
    }

    internal AutogradException NoVjp() => new(Differentiable
        ? $"{Name}: this op has no reverse-mode (VJP) rule yet."
        : $"{Name}: this op is not differentiable (as in PyTorch); detach its inputs or compute it under Autograd.NoGrad().");

    internal AutogradException NoJvp() => new(Differentiable
        ? $"{Name}: this op has no forward-mode (JVP) rule, so it cannot be used on dual tensors. Compute this part outside ForwardAD."
        : $"{Name}: this op is not differentiable (as in PyTorch), so it cannot take dual tensors with tangents; pass the primal values instead.");

    /// <inheritdoc/>
    public override string ToString() => Name;
}

/// <summary>What <c>fluxion ops</c> shows of one registry entry.</summary>
/// <param name="Name">Fluxion's name of the op.</param>
/// <param name="Torch">The PyTorch OpInfo name(s) it implements.</param>
/// <param name="Family">Its family.</param>
/// <param name="DTypes">The dtypes its kernels take.</param>
/// <param name="Differentiable">False for ops PyTorch does not differentiate either.</param>
/// <param name="Vjp">Reverse mode is declared.</param>
/// <param name="Jvp">Forward mode is declared.</param>
/// <param name="BatchedJvp">The JVP computes k directions at once (vector forward mode).</param>
/// <param name="FusedBackward">The fused first-order backward and when it applies, or null.</param>
/// <param name="SecondOrder">Its derivatives differentiate again.</param>
/// <param name="Vmap">A batching rule is declared (vmap).</param>
/// <param name="CompositeOf">For a composite, the entries it is built from.</param>
/// <param name="Samples">How many sample calls the test sweep runs.</param>
/// <param name="Doc">One line of description.</param>
public sealed record OpInfo(string Name, string[] Torch, OpFamily Family, DTypeSet DTypes, bool Differentiable, bool Vjp, bool Jvp,
    bool BatchedJvp, string? FusedBackward, bool SecondOrder, bool Vmap, string[]? CompositeOf, int Samples, string? Doc)
{
    /// <summary>The forward's kernel table: for each device, how each dtype it takes is provided (<see cref="DTypes"/> are the CPU's).</summary>
    public IReadOnlyDictionary<Device, IReadOnlyDictionary<DType, KernelKind>> Kernels { get; init; } =
        new Dictionary<Device, IReadOnlyDictionary<DType, KernelKind>>();
}

/// <summary>The public view of the op registry: every op Fluxion declares, with what it can differentiate.</summary>
public static class OpCatalog
{
    /// <summary>Every registered op, sorted by name.</summary>
    public static IReadOnlyList<OpInfo> All => s_all.Value;

    /// <summary>The sample calls the registry declares for the op named <paramref name="name"/> (Fluxion name; empty when it
    /// has none). Fresh inputs on every call.</summary>
    /// <exception cref="ArgumentException">No op has that name.</exception>
    public static IReadOnlyList<OpSampleCall> SampleCalls(string name)
    {
        var d = OpRegistry.Find(name) ?? throw new ArgumentException($"OpCatalog.SampleCalls: no op is named '{name}' (see `fluxion ops`).", nameof(name));
        return d.Samples is null ? [] : [.. d.Samples().Select(s => new OpSampleCall(s.Label, s.Inputs, s.Call))];
    }

    private static readonly Lazy<OpInfo[]> s_all = new(() => [.. OpRegistry.All.Select(d => new OpInfo(
        d.Name, d.Torch, d.Family, d.DTypes, d.Differentiable, d.HasVjp, d.HasJvp, d.HasBatchedJvp, d.FusedBackward,
        d.Differentiable && d.SecondOrder, d.HasBatchRule, d.CompositeOf, d.Samples?.Invoke().Count() ?? 0, d.Doc) { Kernels = d.Forward.Describe() })]);
}

/// <summary>One sample call of a registry op (as the generated test sweep runs it), for tools such as <c>fluxion bench ops</c>.</summary>
/// <param name="Label">What the sample exercises ("2-d", "same shape", "broadcast", ...).</param>
/// <param name="Inputs">The differentiable inputs (float64, small).</param>
/// <param name="Call">Calls the op through its public API on inputs of the sample's shapes (attributes bound); it may
/// also accept other shapes and dtypes when the op's attributes allow.</param>
public sealed record OpSampleCall(string Label, Tensor[] Inputs, Func<Tensor[], Tensor> Call);

/// <summary>Marks a type whose static <see cref="OpDef"/> fields are registry entries (so the registry need not scan every type).</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
internal sealed class OpTableAttribute : Attribute;

/// <summary>
/// The op registry: every <see cref="OpDef"/> declared as a static field of a type marked <see cref="OpTableAttribute"/>.
/// </summary>
internal static class OpRegistry
{
    private static readonly Lazy<OpDef[]> s_all = new(Discover);

    /// <summary>Every registered op, sorted by name.</summary>
    public static IReadOnlyList<OpDef> All => s_all.Value;

    /// <summary>The entry named <paramref name="name"/> (Fluxion name), or null.</summary>
    public static OpDef? Find(string name) => s_byName.Value.GetValueOrDefault(name);

    private static readonly Lazy<Dictionary<string, OpDef>> s_byName = new(() => All.ToDictionary(d => d.Name));

    private static OpDef[] Discover()
    {
        var found = new List<OpDef>();
        var seen = new HashSet<OpDef>(ReferenceEqualityComparer.Instance);
        foreach (var type in typeof(OpDef).Assembly.GetTypes())
        {
            if (!type.IsDefined(typeof(OpTableAttribute), false)) continue;
            RuntimeHelpers.RunClassConstructor(type.TypeHandle);
            foreach (var f in type.GetFields(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic))
                if (typeof(OpDef).IsAssignableFrom(f.FieldType) && f.GetValue(null) is OpDef d && seen.Add(d))
                    found.Add(d);
        }
        var dup = found.GroupBy(d => d.Name).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new InvalidOperationException($"Op registry: two entries are named {dup.Key}.");
        found.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return [.. found];
    }
}
