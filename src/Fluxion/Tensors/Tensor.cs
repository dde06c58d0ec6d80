namespace Fluxion;

/// <summary>
/// An n-dimensional array of float32, float64, int64 or bool elements: a view (shape, strides,
/// offset) over a <see cref="Fluxion.Storage"/> that it may share with other views. Floating-point
/// tensors take part in automatic differentiation: set <see cref="RequiresGrad"/> on a leaf, compute,
/// then call <see cref="Backward()"/> and read <see cref="Grad"/>.
/// </summary>
public partial class Tensor
{
    private readonly int[] _shape;
    private readonly int[] _strides;
    private bool _requiresGrad;
    private Tensor? _grad;

    /// <summary>The buffer this tensor views.</summary>
    public Storage Storage { get; }

    /// <summary>Index of the first element in <see cref="Storage"/>.</summary>
    public int Offset { get; }

    /// <summary>The node that produced this tensor in the autograd graph; null for leaves.</summary>
    internal Node? GradFn { get; private set; }

    /// <summary>Which output of <see cref="GradFn"/> this tensor is.</summary>
    internal int OutputIndex { get; private set; }

    /// <summary>Accumulates gradients into this leaf; created on first use.</summary>
    internal AccumulateGrad? GradAccumulator;

    /// <summary>Hooks run on this leaf's gradient before it is accumulated.</summary>
    internal List<Func<Tensor, Tensor?>>? LeafHooks;

    /// <summary>Hooks run on this leaf after a backward pass has accumulated into <see cref="Grad"/>.</summary>
    internal List<Action<Tensor>>? PostAccumulateHooks;

    /// <summary>For a view made by a shape op: the tensor it views (in-place checks use it).</summary>
    internal Tensor? ViewBase;

    /// <summary>Whether <see cref="RetainGrad"/> was called on this non-leaf.</summary>
    internal bool RetainsGrad;

    internal Tensor(Storage storage, int[] shape, int[] strides, int offset)
    {
        Storage = storage;
        _shape = shape;
        _strides = strides;
        Offset = offset;
    }

    internal Tensor(Storage storage, int[] shape) : this(storage, shape, ShapeUtil.ContiguousStrides(shape), 0) { }

    /// <summary>The sizes of the dimensions, as a span (no copy). For an array, e.g. for
    /// <c>string.Join("x", t.Size())</c> or LINQ, use <see cref="Size()"/> or <see cref="ShapeArray"/>.</summary>
    public ReadOnlySpan<int> Shape => _shape;

    /// <summary>The sizes of the dimensions, as a new array.</summary>
    public int[] ShapeArray => (int[])_shape.Clone();

    /// <summary>The sizes of the dimensions, as a new array (PyTorch's <c>size()</c>; the same as <see cref="ShapeArray"/>).</summary>
    public int[] Size() => ShapeArray;

    /// <summary>The strides (in elements) of the dimensions.</summary>
    public ReadOnlySpan<int> Strides => _strides;

    internal int[] ShapeRef => _shape;
    internal int[] StridesRef => _strides;

    /// <summary>Number of dimensions.</summary>
    public int Rank => _shape.Length;

    /// <summary>Number of dimensions (PyTorch's <c>dim()</c>).</summary>
    public int Dim => _shape.Length;

    /// <summary>Size of dimension <paramref name="dim"/> (negative dims count from the end).</summary>
    public int Size(int dim) => _shape[ShapeUtil.WrapDim("Size", dim, Rank)];

    /// <summary>Number of elements.</summary>
    public int Numel => ShapeUtil.Numel(_shape);

    /// <summary>The element type.</summary>
    public DType DType => Storage.DType;

    /// <summary>True when the elements are laid out densely in row-major order.</summary>
    public bool IsContiguous => ShapeUtil.IsContiguous(_shape, _strides);

    /// <summary>The version counter of the underlying storage (bumped by every in-place op).</summary>
    public int Version => Storage.Version;

    /// <summary>A leaf is a tensor that no recorded operation produced (user-created, or detached).</summary>
    public bool IsLeaf => GradFn is null;

    /// <summary>
    /// Whether gradients flow to this tensor. Only floating-point leaves may set it; non-leaves
    /// require grad when any input of the operation that made them did.
    /// </summary>
    public bool RequiresGrad
    {
        get => _requiresGrad;
        set
        {
            if (!IsLeaf)
                throw new AutogradException(
                    $"RequiresGrad can only be set on leaf tensors; this tensor of shape {ShapeUtil.Format(_shape)} was produced by {GradFn!.Name}. " +
                    "Use Detach() to make a leaf from it first.");
            if (value && !DType.IsFloatingPoint())
                throw new DTypeMismatchException(
                    $"RequiresGrad: only floating-point tensors can require gradients, but this tensor of shape {ShapeUtil.Format(_shape)} has dtype {DType.Name()}. " +
                    "Convert it with To(DType.Float32) or To(DType.Float64) first.");
            _requiresGrad = value;
        }
    }

    /// <summary>Sets <see cref="RequiresGrad"/> and returns this tensor, for chaining (PyTorch's <c>requires_grad_()</c>: a
    /// flag setter, kept in PyTorch's spelling; methods that modify a tensor's values are named <c>...InPlace</c>).</summary>
    public Tensor RequiresGrad_(bool requiresGrad = true)
    {
        RequiresGrad = requiresGrad;
        return this;
    }

    /// <summary>
    /// The gradient accumulated by backward passes. Populated for leaves that require grad; for a
    /// non-leaf it stays null unless <see cref="RetainGrad"/> was called before the backward pass.
    /// </summary>
    public Tensor? Grad
    {
        get => _grad;
        set
        {
            if (value is not null)
            {
                if (!ShapeUtil.SameShape(value.Shape, _shape))
                    throw new ShapeMismatchException($"Grad: assigned gradient has shape {ShapeUtil.Format(value.Shape)} but the tensor has shape {ShapeUtil.Format(_shape)}.");
                if (value.DType != DType)
                    throw new DTypeMismatchException($"Grad: assigned gradient has dtype {value.DType.Name()} but the tensor has dtype {DType.Name()}.");
            }
            var old = _grad;
            if (ReferenceEquals(old, value)) return;
            // a gradient is kept past its TensorScope while it is some tensor's .Grad (and goes back to the scope when
            // cleared or replaced while the scope is open)
            if (value is not null) TensorScope.HoldAsGrad(value.Storage);
            _grad = value;
            if (old is not null) TensorScope.DropAsGrad(old.Storage);
        }
    }

    /// <summary>The name of the operation that produced this tensor (e.g. "MulBackward"), or null for a leaf.</summary>
    public string? GradFnName => GradFn?.Name;

    /// <summary>Attaches this tensor to the graph as output <paramref name="index"/> of <paramref name="node"/>.</summary>
    internal void SetGradFn(Node node, int index)
    {
        GradFn = node;
        OutputIndex = index;
        _requiresGrad = true;
    }

    /// <summary>Makes this tensor a fresh leaf again (used by in-place ops and Detach).</summary>
    internal void ClearGradFn(bool requiresGrad)
    {
        GradFn = null;
        OutputIndex = 0;
        _requiresGrad = requiresGrad;
    }

    /// <summary>Keeps the gradient of this non-leaf in <see cref="Grad"/> after backward.</summary>
    public void RetainGrad()
    {
        if (!_requiresGrad)
            throw new AutogradException($"RetainGrad: this tensor of shape {ShapeUtil.Format(_shape)} does not require grad, so no gradient will reach it.");
        if (IsLeaf) return;
        if (RetainsGrad) return;
        RetainsGrad = true;
        GradFn!.AddRetainGrad(OutputIndex, this);
    }

    /// <summary>
    /// Registers a hook called with this tensor's gradient during every backward pass. The hook may
    /// return a replacement gradient, or null to keep it. Returns an action that removes the hook.
    /// </summary>
    public Action RegisterHook(Func<Tensor, Tensor?> hook)
    {
        if (!_requiresGrad)
            throw new AutogradException($"RegisterHook: this tensor of shape {ShapeUtil.Format(_shape)} does not require grad, so the hook would never run. Set RequiresGrad = true first.");
        if (IsLeaf)
        {
            (LeafHooks ??= new()).Add(hook);
            return () => LeafHooks.Remove(hook);
        }
        var node = GradFn!;
        node.AddHook(OutputIndex, hook);
        int idx = OutputIndex;
        return () => node.RemoveHook(idx, hook);
    }

    /// <summary>
    /// Registers a hook called with this leaf (PyTorch's <c>register_post_accumulate_grad_hook</c>) every
    /// time a backward pass has accumulated a gradient into its <see cref="Grad"/>, so the hook sees the
    /// summed gradient (data-parallel training starts reducing a parameter's gradient there while the
    /// backward pass continues). Returns an action that removes the hook.
    /// </summary>
    public Action RegisterPostAccumulateGradHook(Action<Tensor> hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        if (!_requiresGrad || !IsLeaf)
            throw new AutogradException($"RegisterPostAccumulateGradHook: this tensor of shape {ShapeUtil.Format(_shape)} is {(IsLeaf ? "a leaf that does not require grad" : "not a leaf")}; the hook needs a leaf with RequiresGrad = true (a parameter).");
        (PostAccumulateHooks ??= new()).Add(hook);
        return () => PostAccumulateHooks.Remove(hook);
    }

    /// <summary>Returns a new leaf sharing this tensor's storage, cut from the graph.</summary>
    public Tensor Detach()
    {
        var d = new Tensor(Storage, _shape, _strides, Offset);
        if (Tracer.Depth > 0) Tracer.Alias(this, d);
        return d;
    }

    /// <summary>Detaches this tensor from the graph in place, making it a leaf that does not require grad
    /// (PyTorch's <c>detach_()</c>; in-place methods are named <c>...InPlace</c>).</summary>
    public Tensor DetachInPlace()
    {
        ClearGradFn(false);
        return this;
    }

    /// <summary>Old spelling of <see cref="DetachInPlace"/>.</summary>
    [Obsolete("Use DetachInPlace(): in-place methods are named ...InPlace.")]
    public Tensor Detach_() => DetachInPlace();

    /// <summary>Returns a view with the given shape/strides/offset over the same storage (no autograd).</summary>
    internal Tensor AsStridedRaw(int[] shape, int[] strides, int offset) => new(Storage, shape, strides, offset);

    internal void CheckFloat(string op)
    {
        if (!DType.IsFloatingPoint())
            throw new DTypeMismatchException($"{op}: expected a floating-point tensor (float32 or float64) but got dtype {DType.Name()} with shape {ShapeUtil.Format(_shape)}. Convert it with To(DType.Float32).");
    }

    internal static void CheckSameDType(string op, Tensor a, Tensor b)
    {
        if (a.DType != b.DType)
            throw new DTypeMismatchException(
                $"{op}: operands have different dtypes, {a.DType.Name()} (shape {ShapeUtil.Format(a.Shape)}) and {b.DType.Name()} (shape {ShapeUtil.Format(b.Shape)}). " +
                $"{op} takes operands of one dtype (as in PyTorch, only the elementwise ops promote dtypes): convert one with To(...).");
    }

    /// <summary>Flat storage index of a multi-index.</summary>
    internal int StorageIndex(ReadOnlySpan<int> index)
    {
        if (index.Length != Rank)
            throw new ShapeMismatchException($"Index: {index.Length} indices given for a tensor of rank {Rank} (shape {ShapeUtil.Format(_shape)}).");
        int p = Offset;
        for (int i = 0; i < index.Length; i++)
        {
            int ix = index[i] < 0 ? index[i] + _shape[i] : index[i];
            if ((uint)ix >= (uint)_shape[i])
                throw new IndexOutOfBoundsException("Index", index[i], _shape[i], i, $"Index: index {index[i]} is out of range for dimension {i} of size {_shape[i]} (shape {ShapeUtil.Format(_shape)}); indices must lie in [{-_shape[i]}, {_shape[i]}).");
            p += ix * _strides[i];
        }
        return p;
    }
}
