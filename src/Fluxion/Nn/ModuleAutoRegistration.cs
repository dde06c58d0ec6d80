using System.Collections.Concurrent;
using System.Reflection;
using System.Text;

namespace Fluxion.Nn;

// Automatic registration of the Module and Parameter members a subclass declares, as PyTorch's
// nn.Module.__setattr__ does: a custom model needs no RegisterModule/RegisterParameter calls.
public abstract partial class Module
{
    /// <summary>One instance field of a Module type that may hold a submodule or a parameter.</summary>
    private sealed record AutoMember(string Name, FieldInfo Field, bool IsModule);

    /// <summary>The candidate fields of each type, found by reflection once per type.</summary>
    private static readonly ConcurrentDictionary<Type, AutoMember[]> AutoMembersByType = new();

    /// <summary>Names of the members this instance registered automatically (null: none).</summary>
    private HashSet<string>? _autoNames;

    /// <summary>
    /// The fields of <paramref name="type"/> and its bases (up to <see cref="Module"/>) whose declared type is a
    /// Module, a Parameter or a Tensor (which may hold a Parameter), base classes first, each in declaration
    /// order. Auto-properties count through their backing fields; computed properties are not called.
    /// </summary>
    private static AutoMember[] AutoMembersOf(Type type) => AutoMembersByType.GetOrAdd(type, static t =>
    {
        var chain = new List<Type>();
        for (var c = t; c is not null && c != typeof(Module); c = c.BaseType) chain.Add(c);
        chain.Reverse();
        var members = new List<AutoMember>();
        foreach (var c in chain)
            foreach (var f in c.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly)
                         .OrderBy(f => f.MetadataToken))
            {
                bool isModule = typeof(Module).IsAssignableFrom(f.FieldType);
                if (!isModule && !typeof(Tensor).IsAssignableFrom(f.FieldType)) continue;
                members.Add(new AutoMember(PyTorchName(f.Name), f, isModule));
            }
        return members.ToArray();
    });

    /// <summary>
    /// The PyTorch-style name of a C# field or auto-property: the compiler's backing-field mangling
    /// (<c>&lt;Encoder&gt;k__BackingField</c>) and leading underscores removed, then snake_case, so that
    /// <c>_outProj</c>, <c>OutProj</c> and <c>out_proj</c> all give "out_proj" and <c>Fc1</c> gives "fc1".
    /// </summary>
    internal static string PyTorchName(string fieldName)
    {
        var name = fieldName;
        if (name.StartsWith('<') && name.IndexOf('>') is var close and > 1) name = name[1..close];
        name = name.TrimStart('_');
        var sb = new StringBuilder(name.Length + 4);
        for (int i = 0; i < name.Length; i++)
        {
            char ch = name[i];
            if (char.IsUpper(ch))
            {
                bool afterLowerOrDigit = i > 0 && (char.IsLower(name[i - 1]) || char.IsDigit(name[i - 1]));
                bool acronymEnd = i > 0 && char.IsUpper(name[i - 1]) && i + 1 < name.Length && char.IsLower(name[i + 1]);
                if ((afterLowerOrDigit || acronymEnd) && sb.Length > 0 && sb[^1] != '_') sb.Append('_');
                sb.Append(char.ToLowerInvariant(ch));
            }
            else sb.Append(ch);
        }
        return sb.Length == 0 ? fieldName : sb.ToString();
    }

    /// <summary>
    /// Brings this module's automatically registered members up to date with its fields: a Module or
    /// Parameter held by a field and not registered yet (under any name) is registered under the field's
    /// PyTorch name; a field that now holds another value or null updates or drops its entry. Names
    /// registered explicitly are never touched. Runs before every listing of the module's members.
    /// </summary>
    private void SyncAutoMembers()
    {
        var members = AutoMembersOf(GetType());
        foreach (var m in members)
        {
            var value = m.Field.GetValue(this);
            bool auto = _autoNames?.Contains(m.Name) == true;
            if (m.IsModule)
            {
                int i = _modules.FindIndex(x => x.Name == m.Name);
                if (i >= 0 && !auto) continue; // registered explicitly
                var module = value as Module;
                if (i >= 0)
                {
                    if (ReferenceEquals(_modules[i].Module, module)) continue;
                    _modules.RemoveAt(i);
                    _autoNames!.Remove(m.Name);
                }
                if (module is null || ReferenceEquals(module, this) || _modules.Any(x => ReferenceEquals(x.Module, module)) || NameTaken(m.Name)) continue;
                _modules.Add((m.Name, module));
                (_autoNames ??= new()).Add(m.Name);
            }
            else
            {
                int i = _params.FindIndex(x => x.Name == m.Name);
                if (i >= 0 && !auto) continue;
                var parameter = value as Parameter;
                if (i >= 0)
                {
                    if (ReferenceEquals(_params[i].Param, parameter)) continue;
                    _params.RemoveAt(i);
                    _autoNames!.Remove(m.Name);
                }
                if (parameter is null || _params.Any(x => ReferenceEquals(x.Param, parameter)) || NameTaken(m.Name)) continue;
                _params.Add((m.Name, parameter));
                (_autoNames ??= new()).Add(m.Name);
            }
        }
    }

    private bool NameTaken(string name) =>
        _params.Any(p => p.Name == name) || _modules.Any(x => x.Name == name) || _buffers.Any(b => b.Name == name);
}
