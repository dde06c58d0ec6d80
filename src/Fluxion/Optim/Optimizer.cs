using System.Globalization;
using System.Numerics;

namespace Fluxion.Optim;

/// <summary>
/// A group of parameters that share hyperparameters (PyTorch's <c>param_groups</c> entry). Every
/// option is a number: booleans are stored as 0/1 (e.g. <c>group["nesterov"]</c>), Adam's betas as
/// <c>beta1</c>/<c>beta2</c>. Schedulers may add keys of their own (<c>initial_lr</c>, <c>max_lr</c>, ...).
/// Once the group belongs to an optimizer, setting a known option checks its value.
/// </summary>
public sealed class ParamGroup
{
    private readonly List<Tensor> _params;
    private Dictionary<string, double> _options;
    internal Optimizer? Owner;

    /// <summary>
    /// A group of <paramref name="parameters"/>. Options not given here take the optimizer's defaults
    /// (the named arguments of its constructor); <paramref name="lr"/> is a shortcut for the "lr" option.
    /// </summary>
    public ParamGroup(IEnumerable<Tensor> parameters, double? lr = null, IEnumerable<KeyValuePair<string, double>>? options = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _params = parameters.ToList();
        _options = new Dictionary<string, double>();
        if (options is not null)
            foreach (var (k, v) in options) _options[k] = v;
        if (lr is { } l) _options["lr"] = l;
    }

    /// <summary>The parameters of this group, in order.</summary>
    public IReadOnlyList<Tensor> Params => _params;

    internal List<Tensor> ParamList => _params;

    /// <summary>The learning rate of this group (the "lr" option).</summary>
    public double Lr
    {
        get => this["lr"];
        set => this["lr"] = value;
    }

    /// <summary>All options of this group.</summary>
    public IReadOnlyDictionary<string, double> Options => _options;

    /// <summary>True when the group has an option named <paramref name="key"/>.</summary>
    public bool Has(string key) => _options.ContainsKey(key);

    /// <summary>
    /// Reads or sets an option. Setting a hyperparameter the optimizer knows checks its value
    /// (e.g. a negative learning rate throws <see cref="ArgumentOutOfRangeException"/>).
    /// </summary>
    public double this[string key]
    {
        get => _options.TryGetValue(key, out var v) ? v
            : throw new KeyNotFoundException($"ParamGroup: no option named '{key}'. It has: {string.Join(", ", _options.Keys)}.");
        set
        {
            Owner?.CheckOption(key, value, Owner.IndexOfGroup(this));
            _options[key] = value;
        }
    }

    /// <summary>A boolean option (stored as 0/1).</summary>
    internal bool Flag(string key) => _options[key] != 0;

    internal Dictionary<string, double> RawOptions => _options;

    internal void ReplaceOptions(Dictionary<string, double> options) => _options = options;
}

/// <summary>An optimizer's state as plain data: tensors and numbers under string keys (see <see cref="Optimizer.StateTensors"/>).</summary>
/// <param name="Tensors">The state tensors, e.g. "state.0.exp_avg".</param>
/// <param name="Scalars">The state numbers and hyperparameters, e.g. "state.0.step", "param_groups.0.lr".</param>
public sealed record OptimizerState(IReadOnlyDictionary<string, Tensor> Tensors, IReadOnlyDictionary<string, double> Scalars);

/// <summary>Per-parameter state: a step counter and the optimizer's named buffers (shaped like the parameter).</summary>
internal sealed class ParamState(int buffers)
{
    public double Step;
    public bool HasStep;
    public readonly Tensor?[] Buffers = new Tensor?[buffers];
}

/// <summary>
/// Base class of the optimizers: holds the parameter groups and the per-parameter state, and does
/// the bookkeeping shared by all (zeroing gradients, state dicts). Subclasses implement <see cref="Step()"/>.
/// <para>Parameters are numbered across groups in order (0, 1, ...), as in PyTorch's state dicts.</para>
/// </summary>
public abstract class Optimizer
{
    private readonly List<ParamGroup> _groups = new();
    private readonly List<Tensor> _allParams = new();
    private readonly List<ParamState?> _state = new();
    private readonly Dictionary<string, double> _defaults;

    private protected Optimizer(string name, IEnumerable<ParamGroup> groups, Dictionary<string, double> defaults)
    {
        ArgumentNullException.ThrowIfNull(groups);
        Name = name;
        _defaults = defaults;
        foreach (var (k, v) in defaults) CheckOption(k, v, null);
        var list = groups.ToList();
        if (list.Count == 0)
            throw new ArgumentException($"{name}: got an empty list of parameter groups; pass at least one parameter (e.g. model.Parameters()).");
        foreach (var g in list) AddParamGroup(g);
    }

    private protected static IEnumerable<ParamGroup> SingleGroup(IEnumerable<Tensor> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return [new ParamGroup(parameters)];
    }

    /// <summary>The optimizer's name (e.g. "Adam"), used in messages.</summary>
    public string Name { get; }

    /// <summary>The parameter groups, in order.</summary>
    public IReadOnlyList<ParamGroup> ParamGroups => _groups;

    /// <summary>The default hyperparameters, taken by groups that do not set their own.</summary>
    public IReadOnlyDictionary<string, double> Defaults => _defaults;

    /// <summary>All parameters across groups, in state-dict order.</summary>
    public IReadOnlyList<Tensor> Parameters => _allParams;

    /// <summary>
    /// Adds a parameter group (e.g. to start training a frozen layer). Options it does not set take
    /// the defaults. Its parameters must be floating-point leaves not already in this optimizer.
    /// </summary>
    public void AddParamGroup(ParamGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);
        if (group.Owner is not null)
            throw new ArgumentException($"{Name}: this ParamGroup already belongs to an optimizer; create a new ParamGroup.");
        int gi = _groups.Count;
        if (AddGroupError(gi) is { } addErr) throw new ArgumentException($"{Name}: {addErr}.");
        if (group.Params.Count == 0)
            throw new ArgumentException($"{Name}: parameter group {gi} has no parameters. If they come from model.Parameters(), "
                + "were the layers registered? A Module lists the Module and Parameter fields and properties it declares, and "
                + "those it registers with RegisterModule/RegisterParameter; layers kept in an array or list are not found: "
                + "hold them in a Sequential or register each one.");
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var p in _allParams) seen.Add(p);
        for (int i = 0; i < group.Params.Count; i++)
        {
            var p = group.Params[i] ?? throw new ArgumentException($"{Name}: parameter {i} of group {gi} is null.");
            if (!p.DType.IsFloatingPoint())
                throw new DTypeMismatchException($"{Name}: parameter {i} of group {gi} (shape {ShapeUtil.Format(p.Shape)}) has dtype {p.DType.Name()}; only float32/float64 tensors can be optimized.");
            if (!p.IsLeaf)
                throw new AutogradException($"{Name}: parameter {i} of group {gi} (shape {ShapeUtil.Format(p.Shape)}) is not a leaf (it was produced by {p.GradFnName}); optimize leaves, e.g. a Parameter or x.Detach().RequiresGrad_().");
            if (!seen.Add(p))
                throw new ArgumentException($"{Name}: parameter {i} of group {gi} (shape {ShapeUtil.Format(p.Shape)}) appears more than once (in this group or an earlier one); each parameter may be in one group only.");
        }
        foreach (var key in group.RawOptions.Keys)
            if (!_defaults.ContainsKey(key))
                throw new ArgumentException($"{Name}: parameter group {gi} sets unknown option '{key}'. Known options: {string.Join(", ", _defaults.Keys)}.");
        foreach (var (k, v) in group.RawOptions) CheckOption(k, v, gi);
        var merged = new Dictionary<string, double>(_defaults);
        foreach (var (k, v) in group.RawOptions) merged[k] = v;
        CheckGroup(merged, gi);
        group.ReplaceOptions(merged);
        group.Owner = this;
        _groups.Add(group);
        foreach (var p in group.Params)
        {
            _allParams.Add(p);
            _state.Add(null);
        }
    }

    /// <summary>An error message when no further group may be added, or null.</summary>
    private protected virtual string? AddGroupError(int existingGroups) => null;

    internal int IndexOfGroup(ParamGroup g) => _groups.IndexOf(g);

    /// <summary>Performs one optimization step with the gradients in each parameter's <see cref="Tensor.Grad"/>
    /// (parameters without a gradient are skipped).</summary>
    public abstract void Step();

    /// <summary>
    /// Calls <paramref name="closure"/> (with grad mode on) to recompute the loss and gradients, then
    /// performs a step; returns the closure's loss. The closure usually zeroes the gradients, computes
    /// the loss and calls Backward().
    /// </summary>
    public virtual Tensor Step(Func<Tensor> closure)
    {
        ArgumentNullException.ThrowIfNull(closure);
        Tensor loss;
        using (Autograd.EnableGrad()) loss = closure();
        Step();
        return loss;
    }

    /// <summary>
    /// Clears the gradients of all parameters: sets them to null (the default, as PyTorch does), or
    /// with <paramref name="setToNone"/> false zeroes them in place.
    /// </summary>
    public void ZeroGrad(bool setToNone = true)
    {
        foreach (var p in _allParams)
        {
            if (p.Grad is not { } g) continue;
            if (setToNone) p.Grad = null;
            else
            {
                if (g.RequiresGrad) p.Grad = g = g.Detach();
                g.FillRaw(0);
                g.Storage.BumpVersion();
            }
        }
    }

    // ---- hyperparameter checks ------------------------------------------------------------------

    /// <summary>Returns an error message for a bad value of a known option, or null when it is fine
    /// (unknown keys are not checked).</summary>
    private protected abstract string? OptionError(string key, double value);

    /// <summary>Returns an error message when a group's options do not fit together, or null.</summary>
    private protected virtual string? GroupError(IReadOnlyDictionary<string, double> options) => null;

    internal void CheckOption(string key, double value, int? group)
    {
        if (!_defaults.ContainsKey(key)) return;
        var err = OptionError(key, value);
        if (err is not null)
            throw new ArgumentOutOfRangeException(key, value, $"{Name}: {err}{(group is { } g ? $" (parameter group {g})" : "")}.");
    }

    private void CheckGroup(IReadOnlyDictionary<string, double> options, int group)
    {
        var err = GroupError(options);
        if (err is not null) throw new ArgumentException($"{Name}: {err} (parameter group {group}).");
    }

    private protected static string? NonNegative(string what, double v) =>
        double.IsFinite(v) && v >= 0 ? null : $"invalid {what} {Fmt(v)}; it must be a finite number >= 0";

    private protected static string? Flag(string what, double v) =>
        v is 0 or 1 ? null : $"invalid {what} {Fmt(v)}; it is a boolean option and must be 0 or 1";

    private protected static string? Beta(string what, double v) =>
        v >= 0 && v < 1 ? null : $"invalid {what} {Fmt(v)}; it must be in [0, 1)";

    private protected static string? PositiveInt(string what, double v) =>
        v >= 1 && v == Math.Floor(v) && v <= int.MaxValue ? null : $"invalid {what} {Fmt(v)}; it must be a positive integer";

    private protected static string Fmt(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    // ---- per-parameter state --------------------------------------------------------------------

    /// <summary>Names of the per-parameter state buffers ("exp_avg", ...), in slot order.</summary>
    private protected virtual string[] BufferNames => [];

    /// <summary>Whether per-parameter state has a "step" counter.</summary>
    private protected virtual bool HasStepCounter => false;

    /// <summary>Buffer slots that must be present when a parameter has state, given its group's options.</summary>
    private protected virtual IEnumerable<int> RequiredBuffers(IReadOnlyDictionary<string, double> options) => [];

    /// <summary>The state of parameter <paramref name="index"/>, created empty on first use.</summary>
    private protected ParamState StateAt(int index) => _state[index] ??= new ParamState(BufferNames.Length);

    /// <summary>A zero-filled state buffer shaped like <paramref name="p"/>, created on first use.</summary>
    private protected static Tensor Buffer(ParamState st, int slot, Tensor p)
    {
        if (st.Buffers[slot] is { } b) return b;
        b = Tensor.Zeros(p.ShapeArray, p.DType);
        b.Storage.Keep(); // optimizer state: never released by a TensorScope
        return st.Buffers[slot] = b;
    }

    /// <summary>The contiguous elements of a state buffer.</summary>
    private protected static Span<T> Span<T>(Tensor buffer) => buffer.Storage.As<T>().AsSpan(buffer.Offset, buffer.Numel);

    /// <summary>
    /// The elements of parameter <paramref name="p"/> to update in place: its storage when contiguous,
    /// else a dense copy in <paramref name="scratch"/> that <see cref="EndParam"/> writes back.
    /// </summary>
    private protected static Span<T> BeginParam<T>(Tensor p, out T[]? scratch)
    {
        if (p.IsContiguous)
        {
            scratch = null;
            return p.Storage.As<T>().AsSpan(p.Offset, p.Numel);
        }
        scratch = p.DenseSpan<T>().ToArray();
        return scratch;
    }

    /// <summary>Finishes an update begun by <see cref="BeginParam"/>: writes back a scratch copy and bumps the version.</summary>
    private protected static void EndParam<T>(Tensor p, T[]? scratch)
    {
        if (scratch is not null) p.CopyRawFrom(Tensor.Wrap(scratch, p.ShapeArray));
        p.Storage.BumpVersion();
    }

    /// <summary>Converts a hyperparameter to the element type.</summary>
    private protected static T C<T>(double v) where T : IFloatingPointIeee754<T> => T.CreateChecked(v);

    // ---- state dicts ----------------------------------------------------------------------------

    /// <summary>
    /// The state tensors, as copies: "state.{i}.{buffer}" for parameter i (numbered across groups),
    /// e.g. "state.0.exp_avg", "state.3.momentum_buffer".
    /// </summary>
    public IReadOnlyDictionary<string, Tensor> StateTensors()
    {
        var t = new Dictionary<string, Tensor>();
        var s = new Dictionary<string, double>();
        Export(t, s);
        return t;
    }

    /// <summary>
    /// The state numbers: per-parameter counters ("state.{i}.step") and every group's options
    /// ("param_groups.{g}.lr", "param_groups.{g}.momentum", ...) with "param_groups.{g}.num_params".
    /// </summary>
    public IReadOnlyDictionary<string, double> StateScalars()
    {
        var t = new Dictionary<string, Tensor>();
        var s = new Dictionary<string, double>();
        Export(t, s);
        return s;
    }

    /// <summary>Both parts of the state (<see cref="StateTensors"/> and <see cref="StateScalars"/>).</summary>
    public OptimizerState StateDict()
    {
        var t = new Dictionary<string, Tensor>();
        var s = new Dictionary<string, double>();
        Export(t, s);
        return new OptimizerState(t, s);
    }

    /// <summary>Loads a state made by <see cref="StateDict"/>; see <see cref="LoadStateDict(IReadOnlyDictionary{string, Tensor}, IReadOnlyDictionary{string, double})"/>.</summary>
    public void LoadStateDict(OptimizerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        LoadStateDict(state.Tensors, state.Scalars);
    }

    /// <summary>
    /// Loads a state made by <see cref="StateTensors"/> and <see cref="StateScalars"/> of an optimizer of the
    /// same kind over parameters of the same shapes and grouping. Everything is checked first; on any
    /// problem an <see cref="ArgumentException"/> lists them all and nothing is changed. Group options are
    /// replaced by the loaded ones; tensors are copied (converted to each parameter's dtype).
    /// </summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, double> scalars) =>
        PrepareLoad(tensors, scalars)();

    /// <summary>
    /// Checks a state and prepares everything it needs (copies of its tensors included) without changing the
    /// optimizer; returns the action that installs it, which only assigns and cannot fail. Lets a caller
    /// (<see cref="IO.ModelIO"/>) validate the model and the optimizer before committing either.
    /// </summary>
    /// <exception cref="ArgumentException">The state does not fit; the message lists every problem.</exception>
    internal Action PrepareLoad(IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, double> scalars)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentNullException.ThrowIfNull(scalars);
        var errors = new List<string>();
        var groupOptions = ParseGroups(scalars, errors);
        var commit = Import(tensors, scalars, groupOptions, errors);
        if (errors.Count > 0)
            throw new ArgumentException($"{Name}.LoadStateDict: the state does not fit this optimizer; nothing was loaded:\n  " + string.Join("\n  ", errors));
        return () =>
        {
            for (int g = 0; g < _groups.Count; g++) _groups[g].ReplaceOptions(groupOptions![g]);
            commit();
        };
    }

    private void ExportGroups(Dictionary<string, double> s)
    {
        for (int g = 0; g < _groups.Count; g++)
        {
            foreach (var (k, v) in _groups[g].RawOptions) s[$"param_groups.{g}.{k}"] = v;
            s[$"param_groups.{g}.num_params"] = _groups[g].Params.Count;
        }
    }

    private void Export(Dictionary<string, Tensor> t, Dictionary<string, double> s)
    {
        ExportState(t, s);
        ExportGroups(s);
    }

    /// <summary>Writes the per-parameter state (default: buffers and step counters).</summary>
    private protected virtual void ExportState(Dictionary<string, Tensor> t, Dictionary<string, double> s)
    {
        var names = BufferNames;
        for (int i = 0; i < _state.Count; i++)
        {
            if (_state[i] is not { } st) continue;
            if (st.HasStep) s[$"state.{i}.step"] = st.Step;
            for (int b = 0; b < names.Length; b++)
                if (st.Buffers[b] is { } buf) t[$"state.{i}.{names[b]}"] = buf.Clone().Detach();
        }
    }

    /// <summary>Parses and checks "param_groups.*" keys; returns the new options of every group.</summary>
    private List<Dictionary<string, double>>? ParseGroups(IReadOnlyDictionary<string, double> scalars, List<string> errors)
    {
        var loaded = new SortedDictionary<int, Dictionary<string, double>>();
        foreach (var (key, v) in scalars)
        {
            if (!key.StartsWith("param_groups.", StringComparison.Ordinal)) continue;
            var rest = key["param_groups.".Length..];
            int dot = rest.IndexOf('.');
            if (dot <= 0 || !int.TryParse(rest[..dot], NumberStyles.None, CultureInfo.InvariantCulture, out int g) || dot == rest.Length - 1)
            {
                errors.Add($"'{key}': expected 'param_groups.<group>.<option>'");
                continue;
            }
            if (!loaded.TryGetValue(g, out var d)) loaded[g] = d = new();
            d[rest[(dot + 1)..]] = v;
        }
        if (loaded.Count != _groups.Count || (loaded.Count > 0 && loaded.Keys.Last() != loaded.Count - 1))
        {
            errors.Add($"the state has {loaded.Count} parameter group(s) ({string.Join(", ", loaded.Keys)}) but this optimizer has {_groups.Count}");
            return null;
        }
        var result = new List<Dictionary<string, double>>();
        for (int g = 0; g < _groups.Count; g++)
        {
            var d = loaded[g];
            if (!d.TryGetValue("num_params", out var np))
                errors.Add($"param_groups.{g}.num_params is missing");
            else if (np != _groups[g].Params.Count)
                errors.Add($"parameter group {g} has {_groups[g].Params.Count} parameter(s) but the state's group has {Fmt(np)}");
            var merged = new Dictionary<string, double>();
            foreach (var k in _defaults.Keys) merged[k] = _groups[g].RawOptions[k];
            foreach (var (k, v) in d)
            {
                if (k == "num_params") continue;
                if (_defaults.ContainsKey(k) && OptionError(k, v) is { } err) errors.Add($"param_groups.{g}.{k}: {err}");
                merged[k] = v;
            }
            if (GroupError(merged) is { } gerr) errors.Add($"parameter group {g}: {gerr}");
            result.Add(merged);
        }
        return result;
    }

    /// <summary>
    /// Checks the "state.*" keys and prepares the new state without changing anything; returns the
    /// action that installs it (run only when no error was found).
    /// </summary>
    private protected virtual Action Import(IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, double> scalars,
        IReadOnlyList<Dictionary<string, double>>? groupOptions, List<string> errors)
    {
        var names = BufferNames;
        var fresh = new ParamState?[_allParams.Count];
        bool Parse(string key, out int index, out string field)
        {
            index = -1;
            field = "";
            var rest = key["state.".Length..];
            int dot = rest.IndexOf('.');
            if (dot <= 0 || !int.TryParse(rest[..dot], NumberStyles.None, CultureInfo.InvariantCulture, out index))
            {
                errors.Add($"'{key}': expected 'state.<parameter index>.<name>'");
                return false;
            }
            field = rest[(dot + 1)..];
            if (index >= _allParams.Count)
            {
                errors.Add($"'{key}': parameter index {index} is out of range; this optimizer has {_allParams.Count} parameter(s)");
                return false;
            }
            return true;
        }
        foreach (var (key, v) in scalars)
        {
            if (key.StartsWith("param_groups.", StringComparison.Ordinal)) continue;
            if (!key.StartsWith("state.", StringComparison.Ordinal)) { errors.Add($"'{key}': unexpected key (expected 'state.*' or 'param_groups.*')"); continue; }
            if (!Parse(key, out int i, out var field)) continue;
            if (field != "step" || !HasStepCounter) { errors.Add($"'{key}': {Name} has no scalar state named '{field}'"); continue; }
            if (!(v >= 0 && v == Math.Floor(v) && double.IsFinite(v))) { errors.Add($"'{key}': step {Fmt(v)} must be a non-negative integer"); continue; }
            var st = fresh[i] ??= new ParamState(names.Length);
            st.Step = v;
            st.HasStep = true;
        }
        foreach (var (key, t) in tensors)
        {
            if (!key.StartsWith("state.", StringComparison.Ordinal)) { errors.Add($"'{key}': unexpected tensor key (expected 'state.*')"); continue; }
            if (!Parse(key, out int i, out var field)) continue;
            int slot = Array.IndexOf(names, field);
            if (slot < 0) { errors.Add($"'{key}': {Name} has no state buffer named '{field}' (it has: {string.Join(", ", names)})"); continue; }
            var p = _allParams[i];
            if (t is null) { errors.Add($"'{key}': the tensor is null"); continue; }
            if (!ShapeUtil.SameShape(t.Shape, p.Shape)) { errors.Add($"'{key}': shape {ShapeUtil.Format(t.Shape)} does not match parameter {i}'s shape {ShapeUtil.Format(p.Shape)}"); continue; }
            if (!t.DType.IsFloatingPoint()) { errors.Add($"'{key}': dtype {t.DType.Name()} is not floating-point"); continue; }
            var st = fresh[i] ??= new ParamState(names.Length);
            Tensor copy; // copied now, so that the commit below only assigns
            using (Autograd.NoGrad()) copy = (t.DType == p.DType ? t.Clone() : t.To(p.DType)).Contiguous().Detach();
            copy.Storage.Keep(); // optimizer state: never released by a TensorScope
            st.Buffers[slot] = copy;
        }
        if (groupOptions is not null)
        {
            int index = 0;
            for (int g = 0; g < _groups.Count; g++)
            {
                var required = RequiredBuffers(groupOptions[g]).ToArray();
                for (int k = 0; k < _groups[g].Params.Count; k++, index++)
                {
                    if (fresh[index] is not { } st) continue;
                    if (HasStepCounter && !st.HasStep) errors.Add($"state.{index}.step is missing (parameter {index} has other state)");
                    foreach (var slot in required)
                        if (st.Buffers[slot] is null) errors.Add($"state.{index}.{names[slot]} is missing (required by the options of parameter group {g})");
                }
            }
        }
        return () =>
        {
            for (int i = 0; i < fresh.Length; i++) _state[i] = fresh[i];
        };
    }

    /// <summary>Enumerates (group, global parameter index, parameter) for parameters that have a gradient.</summary>
    private protected GradEnumerator WithGrads() => new(_groups);

    /// <summary>Allocation-free enumeration of the parameters that have a gradient.</summary>
    private protected struct GradEnumerator(List<ParamGroup> groups)
    {
        private int _g = 0, _k = -1, _index = -1;

        /// <summary>The current (group, parameter index, parameter).</summary>
        public readonly (ParamGroup Group, int Index, Tensor Param) Current => (groups[_g], _index, groups[_g].ParamList[_k]);

        /// <summary>Moves to the next parameter with a gradient.</summary>
        public bool MoveNext()
        {
            while (_g < groups.Count)
            {
                var list = groups[_g].ParamList;
                while (++_k < list.Count)
                {
                    _index++;
                    if (list[_k].Grad is not null) return true;
                }
                _g++;
                _k = -1;
            }
            return false;
        }

        /// <summary>The enumerator itself (for foreach).</summary>
        public readonly GradEnumerator GetEnumerator() => this;
    }
}
