using System.Reflection;

namespace Fluxion.Nn;

/// <summary>
/// Base class of every layer and model. Submodules, parameters and buffers are registered by name
/// (PyTorch's names: "weight", "bias", "0", "1", ...), so <see cref="StateDict"/> keys match PyTorch's.
/// A subclass's fields and auto-properties that hold a <see cref="Module"/> or a <see cref="Parameter"/>
/// are registered automatically, in declaration order, under their names in snake_case (<c>_fc1</c> and
/// <c>Fc1</c> become "fc1", <c>OutProj</c> "out_proj"); <see cref="RegisterModule{T}"/> and
/// <see cref="RegisterParameter"/> register members held elsewhere (e.g. in a list) and choose the name.
/// </summary>
public abstract partial class Module
{
    private List<(string Name, Parameter? Param)> _params = new();
    private List<(string Name, Module Module)> _modules = new();
    private List<(string Name, Tensor Buffer)> _buffers = new();

    /// <summary>True in training mode (the default); affects Dropout and BatchNorm.</summary>
    public bool Training { get; private set; } = true;

    /// <summary>Computes the module's output for one input tensor.</summary>
    public abstract Tensor Forward(Tensor input);

    /// <summary>Runs <see cref="Forward"/> (PyTorch's <c>module(x)</c>).</summary>
    public Tensor Call(Tensor input) => Forward(input);

    /// <summary>Registers a parameter under <paramref name="name"/> and returns it. A null parameter is
    /// recorded as absent (e.g. a layer without bias).</summary>
    protected Parameter? RegisterParameter(string name, Parameter? parameter)
    {
        CheckName(name);
        _params.Add((name, parameter));
        return parameter;
    }

    /// <summary>Registers a non-optional parameter and returns it.</summary>
    protected Parameter AddParameter(string name, Tensor data, bool requiresGrad = true) =>
        RegisterParameter(name, new Parameter(data, requiresGrad))!;

    /// <summary>Registers "weight" and "bias" (absent when <paramref name="bias"/> is false) with PyTorch's default
    /// initialization of Linear and convolution layers: both U(±1/sqrt(fanIn)), the weight drawn first.</summary>
    private protected (Parameter Weight, Parameter? Bias) AddWeightAndBias(int[] weightShape, int fanIn, int biasSize, bool bias, DType dtype, Generator? generator)
    {
        var weight = AddParameter("weight", Init.KaimingUniformDefault(weightShape, fanIn, dtype, generator));
        var b = bias ? AddParameter("bias", Init.Uniform([biasSize], 1 / Math.Sqrt(fanIn), dtype, generator)) : RegisterParameter("bias", null);
        return (weight, b);
    }

    /// <summary>Registers a submodule under <paramref name="name"/> and returns it.</summary>
    protected T RegisterModule<T>(string name, T module) where T : Module
    {
        CheckName(name);
        _modules.Add((name, module));
        return module;
    }

    /// <summary>Registers a buffer: state that is saved in the state dict but not trained (e.g. running statistics).</summary>
    protected Tensor RegisterBuffer(string name, Tensor buffer)
    {
        CheckName(name);
        buffer.Storage.Keep(); // a module's state: never released by a TensorScope
        _buffers.Add((name, buffer));
        return buffer;
    }

    /// <summary>Replaces a registered buffer's tensor (e.g. after computing new running statistics out of place).</summary>
    protected void SetBuffer(string name, Tensor buffer)
    {
        int i = _buffers.FindIndex(b => b.Name == name);
        if (i < 0) throw new ArgumentException($"{GetType().Name}: no buffer named '{name}'.");
        buffer.Storage.Keep();
        _buffers[i] = (name, buffer);
    }

    private void CheckName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('.'))
            throw new ArgumentException($"{GetType().Name}: invalid member name '{name}' (must be non-empty and contain no '.').");
        if (NameTaken(name))
            throw new ArgumentException($"{GetType().Name}: a member named '{name}' is already registered.");
    }

    /// <summary>The direct submodules with their names.</summary>
    public IEnumerable<(string Name, Module Module)> NamedChildren()
    {
        SyncAutoMembers();
        return _modules.ToArray();
    }

    /// <summary>This module and all submodules, depth first, with dotted names ("" for this one).</summary>
    public IEnumerable<(string Name, Module Module)> NamedModules(string prefix = "")
    {
        SyncAutoMembers();
        yield return (prefix, this);
        foreach (var (n, m) in _modules.ToArray())
            foreach (var x in m.NamedModules(prefix.Length == 0 ? n : prefix + "." + n))
                yield return x;
    }

    /// <summary>All parameters with dotted names (e.g. "0.weight"), each listed once.</summary>
    public IEnumerable<(string Name, Parameter Parameter)> NamedParameters(bool recurse = true)
    {
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        if (!recurse) SyncAutoMembers();
        foreach (var (prefix, m) in recurse ? NamedModules() : [("", this)])
            foreach (var (n, p) in m._params)
                if (p is not null && seen.Add(p))
                    yield return (prefix.Length == 0 ? n : prefix + "." + n, p);
    }

    /// <summary>All parameters, each once.</summary>
    public IEnumerable<Parameter> Parameters(bool recurse = true) => NamedParameters(recurse).Select(p => p.Parameter);

    /// <summary>All buffers with dotted names.</summary>
    public IEnumerable<(string Name, Tensor Buffer)> NamedBuffers()
    {
        foreach (var (prefix, m) in NamedModules())
            foreach (var (n, b) in m._buffers)
                yield return (prefix.Length == 0 ? n : prefix + "." + n, b);
    }

    /// <summary>Number of scalar parameters.</summary>
    public long ParameterCount() => Parameters().Sum(p => (long)p.Numel);

    /// <summary>Sets training mode on this module and all submodules.</summary>
    public Module Train(bool mode = true)
    {
        foreach (var (_, m) in NamedModules()) m.Training = mode;
        return this;
    }

    /// <summary>Sets evaluation mode (Dropout off, BatchNorm uses running statistics).</summary>
    public Module Eval() => Train(false);

    /// <summary>Clears the gradients of all parameters (sets them to null, as PyTorch's default).</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters()) p.Grad = null;
    }

    /// <summary>Parameters and buffers by dotted name, in registration order. The tensors are the live ones (detach/clone to snapshot).</summary>
    public IReadOnlyDictionary<string, Tensor> StateDict()
    {
        var d = new Dictionary<string, Tensor>();
        foreach (var (n, p) in NamedParameters()) d[n] = p;
        foreach (var (n, b) in NamedBuffers()) d[n] = b;
        return d;
    }

    /// <summary>
    /// Copies values from <paramref name="state"/> into this module's parameters and buffers. Every
    /// entry is validated first (missing or unexpected keys when strict, shape and dtype mismatches),
    /// so a failed load leaves the module unchanged.
    /// </summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state, bool strict = true) => PrepareLoad(state, strict)();

    /// <summary>
    /// Checks <paramref name="state"/> against this module (see <see cref="LoadStateDict"/>) without changing
    /// anything and returns the action that copies the values in. The action copies raw values (no arithmetic,
    /// so NaN or Inf in the module cannot survive and int64 buffers copy like the rest) and cannot fail.
    /// </summary>
    /// <exception cref="ShapeMismatchException">The state does not fit; the message lists every problem.</exception>
    internal Action PrepareLoad(IReadOnlyDictionary<string, Tensor> state, bool strict)
    {
        ArgumentNullException.ThrowIfNull(state);
        var mine = StateDict();
        var errors = new List<string>();
        if (strict)
        {
            foreach (var k in mine.Keys) if (!state.ContainsKey(k)) errors.Add($"missing key '{k}'");
            foreach (var k in state.Keys) if (!mine.ContainsKey(k)) errors.Add($"unexpected key '{k}'");
        }
        foreach (var (k, t) in mine)
        {
            if (!state.TryGetValue(k, out var src)) continue;
            if (src is null) errors.Add($"'{k}': the state dict's tensor is null");
            else if (!ShapeUtil.SameShape(src.Shape, t.Shape))
                errors.Add($"'{k}': shape {ShapeUtil.Format(src.Shape)} in the state dict, {ShapeUtil.Format(t.Shape)} in the model");
            else if (src.DType != t.DType)
                errors.Add($"'{k}': dtype {src.DType.Name()} in the state dict, {t.DType.Name()} in the model");
        }
        if (errors.Count > 0)
            throw new ShapeMismatchException($"LoadStateDict ({GetType().Name}): the state dict does not fit the model; nothing was loaded:\n  " + string.Join("\n  ", errors));
        // sources that share storage with this module (a state dict of itself, or of a module sharing weights)
        // are copied first, so that no copy reads values an earlier one overwrote
        var storages = new HashSet<Storage>(mine.Values.Select(t => t.Storage), ReferenceEqualityComparer.Instance);
        var plan = new List<(Tensor Target, Tensor Source)>();
        foreach (var (k, t) in mine)
            if (state.TryGetValue(k, out var src))
                plan.Add((t, storages.Contains(src.Storage) ? src.Detach().Clone() : src));
        return () =>
        {
            foreach (var (t, src) in plan)
            {
                t.CopyRawFrom(src);
                t.Storage.BumpVersion();
            }
        };
    }

    /// <summary>
    /// A deep copy: new storage for every parameter and buffer (gradients copied too), the same
    /// structure, and every field of the copy that referred to a member of the original now refers to
    /// the copy's member. Training the copy never affects the original.
    /// </summary>
    public Module DeepClone()
    {
        foreach (var _ in NamedModules()) { } // registers every module's fields first
        var map = new Dictionary<object, object>(ReferenceEqualityComparer.Instance);
        using (TensorScope.Suspend()) return CloneInto(map); // the copy's state: no TensorScope releases it
    }

    private Module CloneInto(Dictionary<object, object> map)
    {
        if (map.TryGetValue(this, out var done)) return (Module)done;
        var c = (Module)MemberwiseClone();
        map[this] = c;
        c._autoNames = _autoNames is null ? null : new HashSet<string>(_autoNames);
        c._params = _params.Select(p => (p.Name, p.Param is null ? null : (Parameter?)CloneParam(p.Param, map))).ToList();
        c._buffers = _buffers.Select(b => (b.Name, CloneTensor(b.Buffer, map))).ToList();
        c._modules = _modules.Select(m => (m.Name, m.Module.CloneInto(map))).ToList();
        // re-point the copy's own fields (e.g. a Weight property's backing field) at the copied members
        for (var type = GetType(); type is not null && type != typeof(Module); type = type.BaseType)
            foreach (var f in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            {
                var v = f.GetValue(c);
                if (v is null) continue;
                if (map.TryGetValue(v, out var nv)) f.SetValue(c, nv);
                else if (v is Module sub) f.SetValue(c, sub.CloneInto(map));
                else if (v is Tensor t) f.SetValue(c, CloneTensor(t, map));
                else if (v is Module[] arr)
                {
                    // an array of the field's own element type (a Linear[] field cannot hold a Module[])
                    var copy = Array.CreateInstance(arr.GetType().GetElementType()!, arr.Length);
                    for (int i = 0; i < arr.Length; i++) copy.SetValue(arr[i].CloneInto(map), i);
                    f.SetValue(c, copy);
                }
                else if (v is List<Module> list) f.SetValue(c, list.Select(m => m.CloneInto(map)).ToList());
            }
        return c;
    }

    private static Parameter CloneParam(Parameter p, Dictionary<object, object> map)
    {
        if (map.TryGetValue(p, out var done)) return (Parameter)done;
        Parameter c;
        using (Autograd.NoGrad()) c = new Parameter(p.Detach().Clone(), p.RequiresGrad);
        if (p.Grad is { } g) c.Grad = g.Detach().Clone();
        map[p] = c;
        return c;
    }

    private static Tensor CloneTensor(Tensor t, Dictionary<object, object> map)
    {
        if (t is Parameter p) return CloneParam(p, map);
        if (map.TryGetValue(t, out var done)) return (Tensor)done;
        Tensor c;
        using (Autograd.NoGrad()) c = t.Detach().Clone();
        map[t] = c;
        return c;
    }

    /// <summary>Moves all parameters and buffers to <paramref name="dtype"/> (e.g. Float64 for gradient checks).</summary>
    public Module To(DType dtype)
    {
        // a parameter shared by several modules is converted once, so it stays shared
        var converted = new Dictionary<Parameter, Parameter>(ReferenceEqualityComparer.Instance);
        foreach (var (_, m) in NamedModules())
        {
            for (int i = 0; i < m._params.Count; i++)
                if (m._params[i].Param is { } p && p.DType != dtype)
                {
                    if (!converted.TryGetValue(p, out var np))
                        using (Autograd.NoGrad()) converted[p] = np = new Parameter(p.To(dtype), p.RequiresGrad);
                    m._params[i] = (m._params[i].Name, np);
                    m.RepointFields(p, np);
                }
            for (int i = 0; i < m._buffers.Count; i++)
                if (m._buffers[i].Buffer is { } b && b.DType != dtype && b.DType.IsFloatingPoint())
                {
                    var nb = b.To(dtype);
                    nb.Storage.Keep();
                    m._buffers[i] = (m._buffers[i].Name, nb);
                    m.RepointFields(b, nb);
                }
        }
        return this;
    }

    private void RepointFields(object old, object replacement)
    {
        for (var type = GetType(); type is not null && type != typeof(Module); type = type.BaseType)
            foreach (var f in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                if (ReferenceEquals(f.GetValue(this), old)) f.SetValue(this, replacement);
    }

    /// <summary>A one-line description of the module (PyTorch's extra_repr), shown by <see cref="ToString"/>.</summary>
    protected virtual string ExtraRepr() => "";

    /// <summary>The module tree, one submodule per line, as PyTorch prints it.</summary>
    public override string ToString()
    {
        SyncAutoMembers();
        if (_modules.Count == 0) return $"{GetType().Name}({ExtraRepr()})";
        var sb = new System.Text.StringBuilder();
        sb.Append(GetType().Name).Append("(\n");
        foreach (var (n, m) in _modules)
            sb.Append("  (").Append(n).Append("): ").Append(m.ToString().Replace("\n", "\n  ")).Append('\n');
        return sb.Append(')').ToString();
    }
}
