using System.Collections;
using System.Reflection;

namespace Fluxion.Nn;

public abstract partial class Module
{
    /// <summary>
    /// Substitutes tensors for parameters and buffers (by dotted state-dict name) for the duration of a functional
    /// call; the returned action restores the module. A layer reads its parameters from its own fields, so every
    /// field (or array or list element) of every submodule that holds a substituted tensor is swapped, and a
    /// substituted tensor that no field holds is an error rather than a silently ignored argument.
    /// </summary>
    internal Action Substitute(IReadOnlyDictionary<string, Tensor> parameters, IReadOnlyDictionary<string, Tensor>? buffers)
    {
        var undo = new List<Action>();
        void Restore()
        {
            for (int i = undo.Count - 1; i >= 0; i--) undo[i]();
        }
        try
        {
            var ps = NamedParameters().ToDictionary(p => p.Name, p => (Tensor)p.Parameter);
            var bs = NamedBuffers().ToDictionary(b => b.Name, b => b.Buffer);
            foreach (var (what, given, known) in new[] { ("parameter", parameters, ps), ("buffer", buffers ?? new Dictionary<string, Tensor>(), bs) })
                foreach (var (name, t) in given)
                {
                    if (!known.TryGetValue(name, out var old))
                        throw new ArgumentException($"Functional.Call: {GetType().Name} has no {what} named '{name}'; its {what}s are: {(known.Count == 0 ? "none" : string.Join(", ", known.Keys))}.");
                    ArgumentNullException.ThrowIfNull(t, name);
                    if (!ShapeUtil.SameShape(t.Shape, old.Shape))
                        throw new ShapeMismatchException($"Functional.Call: {what} '{name}' has shape {ShapeUtil.Format(old.Shape)} but the tensor given for it has shape {ShapeUtil.Format(t.Shape)}.");
                    if (t.DType != old.DType)
                        throw new DTypeMismatchException($"Functional.Call: {what} '{name}' has dtype {old.DType.Name()} but the tensor given for it has dtype {t.DType.Name()}.");
                    Tensor stand = old is Parameter ? Parameter.AliasOf(t) : t;
                    int found = 0;
                    foreach (var (_, m) in NamedModules()) found += m.Replace(old, stand, undo);
                    if (found == 0)
                        throw new NotSupportedException($"Functional.Call: no field of the module holds {what} '{name}', so the call cannot substitute it (the layer keeps it somewhere Call does not look).");
                }
            return Restore;
        }
        catch
        {
            Restore();
            throw;
        }
    }

    /// <summary>Replaces <paramref name="old"/> by <paramref name="stand"/> in this module's registry and fields (not
    /// submodules); returns how many fields held it (registry entries not counted).</summary>
    private int Replace(Tensor old, Tensor stand, List<Action> undo)
    {
        for (int i = 0; i < _params.Count; i++)
            if (ReferenceEquals(_params[i].Param, old) && stand is Parameter sp)
            {
                int j = i;
                var prev = _params[j];
                _params[j] = (prev.Name, sp);
                undo.Add(() => _params[j] = prev);
            }
        for (int i = 0; i < _buffers.Count; i++)
            if (ReferenceEquals(_buffers[i].Buffer, old))
            {
                int j = i;
                var prev = _buffers[j];
                _buffers[j] = (prev.Name, stand);
                undo.Add(() => _buffers[j] = prev);
            }
        int found = 0;
        for (var type = GetType(); type is not null && type != typeof(Module); type = type.BaseType)
            foreach (var f in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            {
                var value = f.GetValue(this);
                if (ReferenceEquals(value, old) && f.FieldType.IsInstanceOfType(stand))
                {
                    f.SetValue(this, stand);
                    undo.Add(() => f.SetValue(this, old));
                    found++;
                }
                else if (value is IList list && value is not string)
                    for (int i = 0; i < list.Count; i++)
                        if (ReferenceEquals(list[i], old))
                        {
                            int j = i;
                            list[j] = stand;
                            undo.Add(() => list[j] = old);
                            found++;
                        }
            }
        return found;
    }
}
