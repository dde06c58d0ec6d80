using System.Collections;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchSharpBench;

/// <summary>
/// `fluxion bench ops` (src/Fluxion.Cli/Bench/OpsBench.cs) on LibTorch: the cases of <c>fluxion bench ops --spec</c> (a
/// JSON-lines file named by --spec or the environment variable FLUXION_OPS_SPEC), interpreted: each case carries its
/// PyTorch call as a JSON tree (src/Fluxion.Cli/Bench/TorchCall.cs), which is bound here by reflection to TorchSharp's
/// torch.*, torch.nn.functional.*, torch.linalg.* functions and Tensor methods (keyword arguments by parameter name, case
/// and underscores ignored; lists to arrays, strings to enums), and its inputs (identical to Fluxion's: element j of
/// input i is pool[PoolIndex(j, i, n)]). No per-op code; a call TorchSharp cannot bind, or that fails, prints
/// {"name": ..., "skipped": reason}. Workloads ops/&lt;torch&gt;/&lt;size&gt;/fwd and .../fwdbwd; the fwd line carries abs_sum.
/// Timing as Fluxion's OpsBench (not the interleaved rounds of the other suites): a global warm-up of --warmup-s seconds
/// running every size-32 case in turn, then per case 0.05 s of warm-up (at least one run) and up to --runs runs within
/// 0.15 s (at least three); no peak-RSS children.
/// </summary>
public static class OpsSuite
{
    private const double CaseWarmupSeconds = 0.05, CaseMeasureSeconds = 0.15;

    /// <summary>OpsBench.PoolIndex: the same integer hash on every side.</summary>
    private static int PoolIndex(long j, int input, int n)
    {
        const long M = 2147483647;
        long a = ((j + 1) * 48271 + (input + 1) * 16807L) % M;
        long b = a * a % M;
        long c = b * b % M;
        return (int)(c % n);
    }

    private sealed record Case(string Name, JsonObject Spec, Func<Tensor[], object?> Call, Tensor[] Inputs, bool[]? Grad, bool GradX0Only, double? AbsSum);

    /// <summary>Runs the suite; prints one JSON line per workload (and per skipped case).</summary>
    public static void Run(string? specPath, Options o, TextWriter output)
    {
        specPath ??= Environment.GetEnvironmentVariable("FLUXION_OPS_SPEC")
            ?? throw new InvalidOperationException("ops: give --spec FILE or set FLUXION_OPS_SPEC (the output of `fluxion bench ops --spec`)");
        void Emit(Dictionary<string, object> row)
        {
            output.WriteLine(JsonSerializer.Serialize(row));
            output.Flush();
        }
        var cases = new List<Case>();
        foreach (var line in File.ReadLines(specPath))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            var c = JsonNode.Parse(line)!.AsObject();
            string name = $"ops/{(string)c["torch"]!}/{(int)c["size"]!}";
            string text = (string?)c["call_text"] ?? "";
            if (c["call"] is not JsonNode callNode)
            {
                Emit(new() { ["name"] = name + "/fwd", ["skipped"] = "no PyTorch call: " + ((string?)c["call_skip"] ?? "none given") });
                continue;
            }
            Func<Tensor[], object?> f;
            Tensor[] xs;
            double? absSum;
            try
            {
                f = Compile(callNode);
                xs = Inputs(c);
                using var scope = torch.NewDisposeScope();
                using (torch.no_grad())
                {
                    absSum = f(xs) switch
                    {
                        Tensor y => y.to_type(ScalarType.Float64).abs().sum().item<double>(),
                        bool b => b ? 1 : 0, // equal, allclose
                        var other => throw new InvalidOperationException($"the call returns a {other?.GetType().Name ?? "null"}, not a tensor"),
                    };
                }
            }
            catch (Exception e)
            {
                Emit(new() { ["name"] = name + "/fwd", ["skipped"] = $"{text}: {Short(e)}" });
                continue;
            }
            bool[]? grad = null;
            bool x0Only = false;
            if ((bool)c["differentiable"]!)
            {
                var wanted = c["requires_grad"]!.AsArray().Select(v => (bool)v!).ToArray();
                string? err = null;
                foreach (var cand in new[] { wanted, [true, .. Enumerable.Repeat(false, xs.Length - 1)] })
                {
                    try
                    {
                        FwdBwd(f, Leaves(xs, cand))();
                        grad = cand;
                        x0Only = cand != wanted;
                        break;
                    }
                    catch (Exception e) { err ??= Short(e); }
                }
                if (grad is null) Emit(new() { ["name"] = name + "/fwdbwd", ["skipped"] = $"{text}: backward: {err}" });
            }
            cases.Add(new Case(name, c, f, xs, grad, x0Only, (bool?)c["check"] ?? true ? absSum : null));
        }

        var small = cases.Where(c => (int)c.Spec["size"]! == 32).ToList();
        var warm = Stopwatch.StartNew();
        while (small.Count > 0 && warm.Elapsed.TotalSeconds < o.WarmupSeconds)
            foreach (var c in small)
            {
                Once(Fwd(c.Call, c.Inputs));
                if (c.Grad is not null) Once(FwdBwd(c.Call, Leaves(c.Inputs, c.Grad)));
            }
        foreach (var c in cases)
            foreach (bool bwd in c.Grad is null ? [false] : new[] { false, true })
            {
                var run = bwd ? FwdBwd(c.Call, Leaves(c.Inputs, c.Grad!)) : Fwd(c.Call, c.Inputs);
                var t = Measure(run, o.Runs);
                var row = new Dictionary<string, object>
                {
                    ["name"] = c.Name + (bwd ? "/fwdbwd" : "/fwd"),
                    ["median_ms"] = Math.Round(Runner.Median(t), 4),
                    ["min_ms"] = Math.Round(t[0], 4),
                    ["max_ms"] = Math.Round(t[^1], 4),
                    ["runs"] = t.Length,
                    ["impl"] = "torchsharp-0.107.0/libtorch-2.10.0",
                    ["threads"] = torch.get_num_threads(),
                    ["dtype"] = (string)c.Spec["dtype"]!,
                };
                if (bwd && c.GradX0Only) row["grad_inputs"] = "x0 only (LibTorch refuses gradients for the others)";
                if (!bwd && c.AbsSum is { } s) row["abs_sum"] = double.IsFinite(s) ? s : double.IsNaN(s) ? "nan" : s > 0 ? "inf" : "-inf";
                Emit(row);
            }
    }

    private static string Short(Exception e)
    {
        while (e is TargetInvocationException { InnerException: { } inner }) e = inner;
        var m = e.Message.Split('\n')[0];
        return $"{e.GetType().Name}: {(m.Length > 200 ? m[..200] + "..." : m)}";
    }

    private static void Once(Action run)
    {
        using var scope = torch.NewDisposeScope();
        run();
    }

    private static double[] Measure(Action run, int maxRuns)
    {
        var warm = Stopwatch.StartNew();
        do Once(run); while (warm.Elapsed.TotalSeconds < CaseWarmupSeconds);
        var times = new List<double>();
        var box = Stopwatch.StartNew();
        var sw = new Stopwatch();
        while (times.Count < Math.Max(1, maxRuns) && (times.Count < Math.Min(3, maxRuns) || box.Elapsed.TotalSeconds < CaseMeasureSeconds))
        {
            sw.Restart();
            Once(run);
            sw.Stop();
            times.Add(sw.Elapsed.TotalMilliseconds);
        }
        var t = times.ToArray();
        Array.Sort(t);
        return t;
    }

    private static Action Fwd(Func<Tensor[], object?> f, Tensor[] xs) => () =>
    {
        using var _ = torch.no_grad();
        f(xs);
    };

    private static Tensor[] Leaves(Tensor[] xs, bool[] grad) =>
        [.. xs.Select((x, i) => x.detach().requires_grad_(grad[i]).DetachFromDisposeScope())];

    private static Action FwdBwd(Func<Tensor[], object?> f, Tensor[] leaves)
    {
        Tensor? ones = null;
        return () =>
        {
            var y = (Tensor)f(leaves)!;
            ones ??= torch.ones_like(y).DetachFromDisposeScope();
            y.backward([ones]);
            foreach (var t in leaves) t.grad = null;
        };
    }

    private static Tensor[] Inputs(JsonObject c)
    {
        var type = (string)c["dtype"]! == "float32" ? ScalarType.Float32 : ScalarType.Float64;
        var shapes = c["shapes"]!.AsArray().Select(s => s!.AsArray().Select(d => (long)d!).ToArray()).ToArray();
        var kinds = c["kinds"]!.AsArray().Select(k => (string)k!).ToArray();
        var pools = c["pools"]!.AsArray().Select(p => p!.AsArray().Select(v => (double)v!).ToArray()).ToArray();
        var xs = new Tensor[shapes.Length];
        for (int i = 0; i < xs.Length; i++)
        {
            long n = shapes[i].Aggregate(1L, (a, b) => a * b);
            Tensor x;
            if (type == ScalarType.Float32)
            {
                var v = new float[n];
                for (long j = 0; j < n; j++) v[j] = (float)pools[i][PoolIndex(j, i, pools[i].Length)];
                x = torch.tensor(v, shapes[i]);
            }
            else
            {
                var v = new double[n];
                for (long j = 0; j < n; j++) v[j] = pools[i][PoolIndex(j, i, pools[i].Length)];
                x = torch.tensor(v, shapes[i]);
            }
            if (kinds[i] is "spd" or "dominant")
            {
                long m = shapes[i][^1];
                var eye = torch.eye(m, dtype: type);
                x = kinds[i] == "spd" ? x.matmul(x.transpose(-2, -1)) / m + eye : x + eye * (m * pools[i].Average(Math.Abs));
            }
            xs[i] = x.contiguous().DetachFromDisposeScope();
        }
        return xs;
    }

    /// <summary>Prints TorchSharp's overloads of a PyTorch-style name ("torch.nn.functional.elu", ".expand"), for
    /// writing calls TorchSharp can bind (<c>tsbench --signatures NAME</c>).</summary>
    public static void PrintSignatures(string fn, TextWriter o)
    {
        var (types, name, _) = Target(fn);
        foreach (var t in types)
            foreach (var m in t.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.Instance).Where(m => m.Name == name))
                o.WriteLine($"{t.Name}.{m.Name}({string.Join(", ", m.GetParameters().Select(p => $"{p.ParameterType.Name} {p.Name}{(p.HasDefaultValue ? " = " + (p.DefaultValue ?? "null") : "")}"))}) -> {m.ReturnType.Name}");
    }

    /// <summary>Where a call's name is looked up: torch.a.b.f → the nested type torch.a.b (then Tensor's methods, with the
    /// first argument as the object); .f → Tensor's methods (then torch's static ones).</summary>
    private static (Type[] Types, string Name, bool Instance) Target(string fn)
    {
        if (fn.StartsWith('.')) return ([typeof(Tensor), typeof(torch)], fn[1..], true);
        var parts = fn.Split('.');
        Type t = typeof(torch);
        for (int i = 1; i < parts.Length - 1; i++)
            t = t.GetNestedType(parts[i], BindingFlags.Public) ?? throw new MissingMemberException($"TorchSharp has no {string.Join('.', parts[..(i + 1)])}");
        return ([t, typeof(Tensor)], parts[^1], false);
    }

    // ---- the interpreter of the call tree ----

    private static Func<Tensor[], object?> Compile(JsonNode? n)
    {
        switch (n)
        {
            case null: return _ => null;
            case JsonValue v:
                if (v.TryGetValue<bool>(out bool b)) return _ => b;
                if (v.TryGetValue<long>(out long l)) return _ => l;
                if (v.TryGetValue<string>(out string? s)) return _ => s;
                throw new FormatException($"unknown value {v}");
            case JsonArray a:
            {
                var parts = a.Select(Compile).ToArray();
                return xs => parts.Select(p => p(xs)).ToList();
            }
        }
        var o = n.AsObject();
        if (o["float"] is JsonNode fl)
        {
            double d = fl.GetValueKind() == JsonValueKind.String
                ? (string)fl! switch { "inf" => double.PositiveInfinity, "-inf" => double.NegativeInfinity, _ => double.NaN }
                : (double)fl;
            return _ => d;
        }
        if (o["in"] is JsonNode inp)
        {
            int i = (int)inp;
            return xs => xs[i];
        }
        if (o["tensor"] is JsonNode data)
        {
            var t = Literal(data, (string)o["dtype"]!).DetachFromDisposeScope();
            return _ => t;
        }
        if (o["dtype"] is JsonNode dt)
        {
            var st = DType((string)dt!);
            return _ => st;
        }
        if (o["attr"] is JsonNode attr)
        {
            var of = Compile(o["of"]);
            string name = (string)attr!;
            return xs =>
            {
                var x = of(xs)!;
                var p = x.GetType().GetProperty(name, BindingFlags.Public | BindingFlags.Instance)
                    ?? throw new MissingMemberException($"TorchSharp's Tensor has no property {name}");
                return p.GetValue(x);
            };
        }
        if (o["item"] is JsonNode item)
        {
            var of = Compile(o["of"]);
            int k = (int)item;
            return xs => Items(of(xs))[k];
        }
        string fn = (string)o["call"]!;
        var args = o["args"]!.AsArray().Select(a => a is JsonObject ao && ao["star"] is JsonNode star ? (Star: true, F: Compile(star)) : (Star: false, F: Compile(a))).ToArray();
        var kwargs = (o["kwargs"]?.AsObject() ?? []).Select(kv => (Name: kv.Key, F: Compile(kv.Value))).ToArray();
        List<object?> Positional(Tensor[] xs)
        {
            var list = new List<object?>();
            foreach (var (star, f) in args)
                if (star) list.AddRange(Items(f(xs)));
                else list.Add(f(xs));
            return list;
        }
        if (fn == "flatcat")
            return xs => torch.cat(Items(Positional(xs)[0]).Cast<Tensor>().Select(t => t.reshape(-1)).ToList(), 0);
        if (fn == "slice")
            return xs =>
            {
                var a = Positional(xs);
                var x = (Tensor)a[0]!;
                long dim = (long)a[1]!;
                if (dim < 0) dim += x.dim();
                return x.slice(dim, (long)a[2]!, (long)a[3]!, a.Count > 4 ? (long)a[4]! : 1);
            };
        var (types, mname, _) = Target(fn);
        var binder = new Binder(types, mname);
        return xs => binder.Invoke(Positional(xs), kwargs.Select(k => (k.Name, k.F(xs))).ToList());
    }

    private static ScalarType DType(string name) => name switch
    {
        "float32" or "float" => ScalarType.Float32,
        "float64" or "double" => ScalarType.Float64,
        "int64" or "long" => ScalarType.Int64,
        "int32" or "int" => ScalarType.Int32,
        "bool" => ScalarType.Bool,
        "float16" => ScalarType.Float16,
        "bfloat16" => ScalarType.BFloat16,
        "int8" => ScalarType.Int8,
        "uint8" => ScalarType.Byte,
        "int16" => ScalarType.Int16,
        _ => throw new FormatException($"unknown dtype {name}"),
    };

    private static Tensor Literal(JsonNode data, string dtype)
    {
        var shape = new List<long>();
        var flat = new List<JsonNode>();
        void Walk(JsonNode node, int depth)
        {
            if (node is JsonArray a)
            {
                if (shape.Count == depth) shape.Add(a.Count);
                foreach (var e in a) Walk(e!, depth + 1);
            }
            else flat.Add(node);
        }
        Walk(data, 0);
        var dims = shape.ToArray();
        return dtype switch
        {
            "int64" => torch.tensor(flat.Select(v => (long)v).ToArray(), dims),
            "bool" => torch.tensor(flat.Select(v => (bool)v).ToArray(), dims),
            "float32" => torch.tensor(flat.Select(v => (float)(double)v).ToArray(), dims),
            _ => torch.tensor(flat.Select(v => (double)v).ToArray(), dims),
        };
    }

    /// <summary>The elements of a tuple result, an array or a list.</summary>
    private static IReadOnlyList<object?> Items(object? v) => v switch
    {
        ITuple t => [.. Enumerable.Range(0, t.Length).Select(i => t[i])],
        IList l => [.. l.Cast<object?>()],
        IEnumerable e when v is not Tensor => [.. e.Cast<object?>()],
        _ => throw new InvalidCastException($"{v?.GetType().Name ?? "null"} is not a tuple"),
    };

    /// <summary>Binds a call by name to the first overload whose parameters the arguments convert to; remembers it.</summary>
    private sealed class Binder(Type[] types, string name)
    {
        private MethodInfo? _method;

        private static string Norm(string s) => s.Replace("_", "", StringComparison.Ordinal).ToLowerInvariant();

        public object? Invoke(List<object?> args, List<(string Name, object? Value)> kwargs)
        {
            if (_method is { } m && TryBind(m, args, kwargs, out var bound)) return Call(m, args, bound!);
            string? why = null;
            foreach (var type in types)
            {
                var flags = BindingFlags.Public | (type == typeof(Tensor) ? BindingFlags.Instance : BindingFlags.Static);
                foreach (var cand in type.GetMethods(flags).Where(x => x.Name == name && !x.IsGenericMethodDefinition).OrderBy(x => x.GetParameters().Length))
                    if (TryBind(cand, args, kwargs, out var b))
                    {
                        _method = cand;
                        return Call(cand, args, b!);
                    }
                    else why = $"no overload of {type.Name}.{name} takes ({string.Join(", ", args.Select(a => a?.GetType().Name ?? "null"))}{string.Concat(kwargs.Select(k => $", {k.Name}="))})";
            }
            throw new MissingMethodException(why ?? $"TorchSharp has no {name}");
        }

        private static object? Call(MethodInfo m, List<object?> args, object?[] bound) =>
            m.IsStatic ? m.Invoke(null, bound) : m.Invoke(args[0], bound);

        private static bool IsCollection(Type t) =>
            t.IsArray || (t.IsGenericType && t.GetGenericTypeDefinition() is var g && (g == typeof(IEnumerable<>) || g == typeof(IList<>) || g == typeof(IReadOnlyList<>) || g == typeof(List<>)));

        private static bool TryBind(MethodInfo m, List<object?> args, List<(string Name, object? Value)> kwargs, out object?[]? bound)
        {
            var ps = m.GetParameters();
            int skip = m.IsStatic ? 0 : 1;
            bound = null;
            var vals = new object?[ps.Length];
            var set = new bool[ps.Length];
            for (int i = skip; i < args.Count; i++)
            {
                int pi = i - skip;
                if (pi >= ps.Length) return false;
                var pt = ps[pi].ParameterType;
                // PyTorch's varargs (x.expand(3, -1), torch.einsum(eq, a, b)) fill TorchSharp's trailing array parameter
                if (IsCollection(pt) && args[i] is not (List<object?> or Array or ITuple) && (args.Count - i > 1 || ps[pi].IsDefined(typeof(ParamArrayAttribute))))
                {
                    if (!Convert(args.Skip(i).ToList(), pt, out vals[pi])) return false;
                    set[pi] = true;
                    break;
                }
                if (!Convert(args[i], pt, out vals[pi])) return false;
                set[pi] = true;
            }
            foreach (var (kname, kv) in kwargs)
            {
                int k = Array.FindIndex(ps, p => Norm(p.Name!) == Norm(kname) || Norm(p.Name!) == Norm(kname) + "s");
                if (k < 0 || set[k] || !Convert(kv, ps[k].ParameterType, out vals[k])) return false;
                set[k] = true;
            }
            for (int i = 0; i < ps.Length; i++)
                if (!set[i])
                {
                    if (!ps[i].HasDefaultValue) return false;
                    vals[i] = ps[i].DefaultValue;
                }
            bound = vals;
            return true;
        }

        private static bool Convert(object? v, Type t, out object? r)
        {
            r = null;
            var u = Nullable.GetUnderlyingType(t);
            if (v is null) return !t.IsValueType || u is not null;
            t = u ?? t;
            if (t.IsInstanceOfType(v) && !(v is long && t == typeof(object))) { r = v; return true; }
            switch (v)
            {
                case long l:
                    if (t == typeof(long)) r = l;
                    else if (t == typeof(int)) r = (int)l;
                    else if (t == typeof(double)) r = (double)l;
                    else if (t == typeof(float)) r = (float)l;
                    else if (t == typeof(Scalar)) r = (Scalar)l;
                    else if (t == typeof(long[])) r = new[] { l };
                    else return false;
                    return true;
                case double d:
                    if (t == typeof(double)) r = d;
                    else if (t == typeof(float)) r = (float)d;
                    else if (t == typeof(Scalar)) r = (Scalar)d;
                    else return false;
                    return true;
                case bool b:
                    if (t == typeof(bool)) { r = b; return true; }
                    return false;
                case string s:
                    if (t.IsEnum)
                    {
                        var e = Enum.GetNames(t).FirstOrDefault(x => Norm(x) == Norm(s));
                        if (e is null) return false;
                        r = Enum.Parse(t, e);
                        return true;
                    }
                    return false;
                case Tensor[] ts:
                    return Convert(ts.Cast<object?>().ToList(), t, out r);
                case ITuple tu:
                    return Convert(Enumerable.Range(0, tu.Length).Select(i => tu[i]).ToList(), t, out r);
                case IEnumerable<Tensor> et when v is not Tensor:
                    return Convert(et.Cast<object?>().ToList(), t, out r);
            }
            if (v is List<object?> list)
            {
                if (list.All(x => x is long))
                {
                    var ls = list.Cast<long>().ToArray();
                    if (t == typeof(long[])) r = ls;
                    else if (t == typeof(int[])) r = ls.Select(x => (int)x).ToArray();
                    else if (t == typeof(double[])) r = ls.Select(x => (double)x).ToArray();
                    else if (t == typeof(ValueTuple<long, long>) && ls.Length == 2) r = (ls[0], ls[1]);
                    else if (t == typeof(ValueTuple<long, long, long>) && ls.Length == 3) r = (ls[0], ls[1], ls[2]);
                    else return false;
                    return true;
                }
                if (list.All(x => x is Tensor))
                {
                    var ts2 = list.Cast<Tensor>().ToArray();
                    if (t.IsAssignableFrom(typeof(Tensor[]))) r = ts2;
                    else if (t == typeof(IList<Tensor>) || t == typeof(IEnumerable<Tensor>) || t == typeof(IReadOnlyList<Tensor>)) r = ts2;
                    else if (t.IsAssignableFrom(typeof(List<Tensor>))) r = ts2.ToList();
                    else return false;
                    return true;
                }
                if (list.Count == 2 && list.All(x => x is List<object?> l2 && l2.All(e => e is long)) && t == typeof((long, long)[]))
                {
                    // tensordot's dims ([a dims], [b dims]) as TorchSharp's pairs
                    var a = ((List<object?>)list[0]!).Cast<long>().ToArray();
                    var b = ((List<object?>)list[1]!).Cast<long>().ToArray();
                    if (a.Length != b.Length) return false;
                    r = a.Zip(b, (x, y) => (x, y)).ToArray();
                    return true;
                }
            }
            return false;
        }
    }
}
