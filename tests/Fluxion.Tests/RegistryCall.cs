using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Fluxion.Tests;

/// <summary>
/// Calls a registry op the way the golden data names it, so the golden tests keep no op table: the op is a registry
/// entry (by its Fluxion name, a PyTorch name, or XScalar for entry X with a number), called through the public method of
/// <see cref="Tensor"/> (or of a public static class such as <c>Losses</c>) named after the entry or one of its PyTorch names, with the case's tensors in order and
/// its args bound to the method's parameters by name (snake_case = camelCase, e.g. negative_slope = negativeSlope), as
/// <see cref="OpInfoTests"/> calls PyTorch's OpInfo samples. An optional tensor parameter flagged by a boolean arg of its
/// name (e.g. "weight": true) takes the next input when true and stays absent when false.
/// </summary>
internal static class RegistryCall
{
    /// <summary>Arguments a Fluxion method does not take because it computes only that value (the binding checks the value).</summary>
    private static readonly Dictionary<(string Op, string Arg), double> s_fixed = new()
    {
        [("Cdist", "p")] = 2, // Tensor.Cdist is the Euclidean distance
    };

    /// <summary>A golden case's args as JSON.</summary>
    public static JsonElement Args(GoldenArgs a) => JsonDocument.Parse(a.ToString()).RootElement;

    /// <summary>Where an entry's public method is looked for: <see cref="Tensor"/> (instance and static methods) and the
    /// library's public static classes (e.g. <c>Fluxion.Nn.Losses</c>).</summary>
    private static readonly Type[] s_hosts =
        [typeof(Tensor), .. typeof(Tensor).Assembly.GetExportedTypes().Where(t => t.IsAbstract && t.IsSealed && !t.IsNested)];

    private static string Norm(string name) => name.Replace("_", "").ToLowerInvariant();

    private static string Pascal(string torch) => string.Concat(torch.Split('_', '.').Where(p => p.Length > 0).Select(p => char.ToUpperInvariant(p[0]) + p[1..]));

    /// <summary>The call of the entry named <paramref name="op"/> on <paramref name="inputs"/> tensors with <paramref name="args"/>,
    /// or null when no public method binds. Of the methods that bind, the one leaving the fewest args unused wins; an
    /// unused arg must be null or false (absent), or a value in <see cref="s_fixed"/>.</summary>
    public static Func<Tensor[], Tensor[]>? Bind(string op, int inputs, JsonElement args)
    {
        var def = Entry(op);
        if (def is null) return null;
        var names = new[] { op, def.Name }.Concat(def.Torch.Select(t => Pascal(t.Split('.')[^1]))).Concat(def.Torch.Select(Pascal)).ToHashSet();
        var given = args.EnumerateObject().ToDictionary(p => Norm(p.Name), p => (p.Name, p.Value));
        (Func<Tensor[], Tensor[]> Call, int Rank)? best = null;
        foreach (var m in s_hosts.SelectMany(h => h.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly)))
        {
            if (!names.Contains(m.Name) || m.IsDefined(typeof(ObsoleteAttribute)) || m.IsGenericMethod) continue;
            // the method named as the case wins (Max over Amax for "Max"), then the one leaving the fewest args unused
            if (TryBind(op, m, inputs, given) is { } b && (m.Name == op ? 0 : 1000) + b.Unused is var rank && (best is null || rank < best.Value.Rank))
                best = (b.Call, rank);
        }
        return best?.Call;
    }

    /// <summary>The registry entry of a golden op: by Fluxion name, else by PyTorch name (Amax: the Max entry, which
    /// declares amax), else XScalar as entry X called with a number.</summary>
    internal static OpDef? Entry(string op) => OpRegistry.Find(op)
        ?? OpRegistry.All.FirstOrDefault(d => d.Torch.Any(t => Pascal(t) == op))
        ?? (op.EndsWith("Scalar", StringComparison.Ordinal) ? OpRegistry.Find(op[..^"Scalar".Length]) : null);

    private static (Func<Tensor[], Tensor[]> Call, int Unused)? TryBind(string op, MethodInfo m, int inputs, Dictionary<string, (string Name, JsonElement Value)> given)
    {
        var ps = m.GetParameters();
        int next = m.IsStatic ? 0 : 1; // an instance method's receiver is input 0
        var plan = new Func<Tensor[], object?>[ps.Length];
        var used = new HashSet<string>();
        for (int i = 0; i < ps.Length; i++)
        {
            var p = ps[i];
            if (p.ParameterType == typeof(Tensor))
            {
                // an optional tensor the case flags by name ("weight": true / false): the next input, or absent
                if (given.TryGetValue(Norm(p.Name!), out var flag) && flag.Value.ValueKind is JsonValueKind.True or JsonValueKind.False)
                {
                    used.Add(Norm(p.Name!));
                    if (flag.Value.ValueKind == JsonValueKind.False)
                    {
                        if (!p.IsOptional) return null;
                        plan[i] = _ => Type.Missing;
                        continue;
                    }
                }
                if (next >= inputs)
                {
                    if (!p.IsOptional) return null;
                    plan[i] = _ => Type.Missing;
                    continue;
                }
                int k = next++;
                plan[i] = x => x[k];
            }
            else if (p.ParameterType == typeof(Tensor[]))
            {
                if (next != 0 || !m.IsStatic) return null;
                next = inputs;
                plan[i] = x => x;
            }
            else if (given.TryGetValue(Norm(p.Name!), out var arg) && arg.Value.ValueKind != JsonValueKind.Null)
            {
                if (Convert(arg.Value, p.ParameterType) is not { } v) return null;
                used.Add(Norm(p.Name!));
                plan[i] = _ => v.Value;
            }
            else if (given.TryGetValue(Norm(p.Name!), out _) && IsNullable(p.ParameterType))
            {
                used.Add(Norm(p.Name!));
                plan[i] = _ => null;
            }
            else if (p.IsOptional) plan[i] = _ => Type.Missing;
            else return null;
        }
        if (next != inputs) return null;
        int unused = 0;
        foreach (var (key, (name, value)) in given)
        {
            if (used.Contains(key)) continue;
            bool absent = value.ValueKind is JsonValueKind.Null or JsonValueKind.False;
            bool isFixed = s_fixed.TryGetValue((op, name), out var only) && value.ValueKind == JsonValueKind.Number && value.GetDouble() == only;
            if (!absent && !isFixed) return null;
            unused++;
        }
        bool instance = !m.IsStatic;
        return (x =>
        {
            var call = plan.Select(f => f(x)).ToArray();
            var r = m.Invoke(instance ? x[0] : null, BindingFlags.OptionalParamBinding, null, call, null);
            return Outputs(r);
        }, unused);
    }

    private static bool IsNullable(Type t) => !t.IsValueType || Nullable.GetUnderlyingType(t) is not null;

    /// <summary>A JSON arg as a parameter of type <paramref name="t"/>, or null when it does not fit (boxed, so a fitting null is Some(null)).</summary>
    private static StrongBox<object?>? Convert(JsonElement v, Type t)
    {
        var u = Nullable.GetUnderlyingType(t) ?? t;
        switch (v.ValueKind)
        {
            case JsonValueKind.Number when u == typeof(double): return new(v.GetDouble());
            case JsonValueKind.String when u == typeof(double) && v.GetString() is "inf" or "-inf" or "nan": // the golden files' non-finite numbers
                return new(v.GetString() switch { "inf" => double.PositiveInfinity, "-inf" => double.NegativeInfinity, _ => double.NaN });
            case JsonValueKind.Number when u == typeof(int) && v.TryGetInt32(out var i): return new(i);
            case JsonValueKind.Number when u == typeof(long) && v.TryGetInt64(out var l): return new(l);
            case JsonValueKind.True or JsonValueKind.False when u == typeof(bool): return new(v.GetBoolean());
            case JsonValueKind.String when u.IsEnum && Enum.TryParse(u, v.GetString(), ignoreCase: true, out var e): return new(e);
            case JsonValueKind.String when u == typeof(string): return new(v.GetString());
            case JsonValueKind.Array when u == typeof(int[]) && v.EnumerateArray().All(e => e.TryGetInt32(out _)):
                return new(v.EnumerateArray().Select(e => e.GetInt32()).ToArray());
            case JsonValueKind.Array when u == typeof(double[]) && v.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number):
                return new(v.EnumerateArray().Select(e => e.GetDouble()).ToArray());
            case JsonValueKind.Array when u == typeof(int) && v.GetArrayLength() == 1 && v[0].TryGetInt32(out var one): // PyTorch's 1-d sizes as a 1-tuple
                return new(one);
            case JsonValueKind.Array when IntsCtor(u, v.GetArrayLength()) is { } ctor && v.EnumerateArray().All(e => e.TryGetInt32(out _)):
                return new(ctor.Invoke([.. v.EnumerateArray().Select(e => (object)e.GetInt32())])); // Size2, Size3 from a tuple
            default: return null;
        }
    }

    /// <summary>The constructor of a size struct (Size2, Size3) taking <paramref name="n"/> ints, or null.</summary>
    private static ConstructorInfo? IntsCtor(Type t, int n) => t.IsValueType && t.Namespace == typeof(Tensor).Namespace
        ? t.GetConstructors().FirstOrDefault(c => c.GetParameters() is { } ps && ps.Length == n && ps.All(p => p.ParameterType == typeof(int)))
        : null;

    private static Tensor[] Deconstructed(object r, MethodInfo deconstruct)
    {
        var args = new object?[deconstruct.GetParameters().Length];
        deconstruct.Invoke(r, args);
        return [.. args.Cast<Tensor>()];
    }

    /// <summary>A method's result as the case's outputs: a tensor, an array of tensors, a tuple of them, or a result record.</summary>
    private static Tensor[] Outputs(object? r) => r switch
    {
        Tensor t => [t],
        Tensor[] ts => ts,
        System.Runtime.CompilerServices.ITuple tuple => [.. Enumerable.Range(0, tuple.Length).Select(i => (Tensor)tuple[i]!)],
        not null when r.GetType().GetMethod("Deconstruct") is { } d && d.GetParameters().All(p => p.ParameterType == typeof(Tensor).MakeByRefType()) =>
            Deconstructed(r, d), // a result record (QrResult, ...): its tensors in order
        _ => throw new InvalidOperationException($"unexpected result {r?.GetType().Name ?? "null"}"),
    };
}
