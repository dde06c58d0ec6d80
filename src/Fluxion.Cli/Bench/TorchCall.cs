using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json.Nodes;

namespace Fluxion.Cli.Bench;

/// <summary>
/// The PyTorch call of each case of <c>fluxion bench ops</c>, written once in Python syntax and carried by
/// <c>fluxion bench ops --spec</c> as a JSON tree, so bench/torch/ops.py and bench/torchsharp's OpsSuite interpret it
/// generically (one source of truth for the three sides).
/// <para>The table (<c>Bench/ops-torch-calls.txt</c>, embedded; the environment variable FLUXION_OPS_CALLS may name
/// another file, to edit it without rebuilding) has one line per PyTorch name: <c>name  call</c>, or
/// <c>name  skip: reason</c> for a call the other sides cannot make. Without a line the call is
/// <c>torch.&lt;name&gt;(x0, ..., xn)</c> over the case's inputs.</para>
/// <para>Call syntax: <c>x0</c>.. the case's inputs; numbers, <c>True</c>, <c>False</c>, <c>None</c>, <c>inf</c>,
/// 'strings', [lists] and (tuples); <c>torch.f(...)</c>, <c>torch.nn.functional.f(...)</c>, <c>torch.linalg.f(...)</c>
/// (any dotted path under torch); methods <c>e.f(...)</c>, attributes <c>e.mT</c>, items <c>e[k]</c> (of a tuple
/// result); keyword arguments <c>k=v</c>; dtypes <c>torch.int64</c>; tensor literals <c>long([..])</c>,
/// <c>bool([..])</c>, <c>float([..])</c> (nested lists); <c>*e</c> spreads a tuple result into positional arguments;
/// the <see cref="Builtins"/>.</para>
/// <para>JSON tree: ints, bools, null, strings and arrays as themselves; <c>{"float": v}</c> (v a number, or "inf",
/// "-inf", "nan"); <c>{"in": i}</c>; <c>{"call": "torch.sum" | ".sum", "args": [...], "kwargs": {...}}</c> (a method
/// call has its object as args[0]; a builtin's name has no prefix); <c>{"star": e}</c> (an argument); <c>{"attr": "mT", "of": e}</c>; <c>{"item": k, "of": e}</c>;
/// <c>{"dtype": "int64"}</c>; <c>{"tensor": nested, "dtype": "int64"}</c>.</para>
/// </summary>
public static class TorchCall
{
    /// <summary>The environment variable naming a calls file to use instead of the embedded one.</summary>
    public const string OverrideVariable = "FLUXION_OPS_CALLS";

    /// <summary>The two calls that are not PyTorch functions, which every side implements: <c>flatcat(tensors)</c>
    /// (torch.cat of the flattened tensors: the split ops' samples) and <c>slice(x, dim, start, end, step)</c>
    /// (x[..., start:end:step] along dim, a view).</summary>
    public static readonly IReadOnlyList<string> Builtins = ["flatcat", "slice"];

    private static readonly string[] DTypes = ["float16", "bfloat16", "float32", "float64", "int8", "uint8", "int16", "int32", "int64", "bool", "float", "double", "long", "int"];

    /// <summary>One entry of the table: the call text, or the reason no call is given.</summary>
    /// <param name="Call">The call text (null when skipped).</param>
    /// <param name="Skip">Why no call is given, or null.</param>
    /// <param name="Check">False for random ops (marked <c>!nocheck</c>): the sides' values are not compared.</param>
    public sealed record Entry(string? Call, string? Skip, bool Check = true);

    private static Dictionary<string, Entry>? s_table;

    /// <summary>The table: PyTorch name → entry.</summary>
    public static IReadOnlyDictionary<string, Entry> Table => s_table ??= Load();

    private static Dictionary<string, Entry> Load()
    {
        string text;
        var path = Environment.GetEnvironmentVariable(OverrideVariable);
        if (!string.IsNullOrEmpty(path)) text = File.ReadAllText(path);
        else
        {
            using var s = Assembly.GetExecutingAssembly().GetManifestResourceStream("Fluxion.Cli.Bench.ops-torch-calls.txt")
                ?? throw new InvalidOperationException("fluxion bench ops: the embedded table ops-torch-calls.txt is missing (rebuild Fluxion.Cli).");
            using var r = new StreamReader(s);
            text = r.ReadToEnd();
        }
        var d = new Dictionary<string, Entry>(StringComparer.Ordinal);
        int lineNo = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNo++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            int sp = line.IndexOfAny([' ', '\t']);
            if (sp < 0) throw new FormatException($"ops-torch-calls.txt line {lineNo}: expected 'name  call', got '{line}'.");
            string name = line[..sp], rest = line[sp..].Trim();
            bool check = !rest.EndsWith("!nocheck", StringComparison.Ordinal);
            if (!check) rest = rest[..^"!nocheck".Length].TrimEnd();
            d[name] = rest.StartsWith("skip:", StringComparison.Ordinal) ? new Entry(null, rest[5..].Trim(), check) : new Entry(rest, null, check);
        }
        return d;
    }

    /// <summary>The call text of the PyTorch op <paramref name="torch"/> with <paramref name="arity"/> inputs (the
    /// table's, or the default), or null with the table's reason.</summary>
    public static string? CallText(string torch, int arity, out string? skip) => CallText(torch, arity, out skip, out _);

    /// <summary>As <see cref="CallText(string, int, out string?)"/>, and whether the op's values are compared
    /// (<paramref name="check"/>: false for random ops).</summary>
    public static string? CallText(string torch, int arity, out string? skip, out bool check)
    {
        skip = null;
        check = true;
        if (Table.TryGetValue(torch, out var e))
        {
            skip = e.Skip;
            check = e.Check;
            return e.Call;
        }
        return $"torch.{torch}({string.Join(", ", Enumerable.Range(0, arity).Select(i => $"x{i}"))})";
    }

    /// <summary>Parses a call written in the table's syntax (see the class remarks) into its JSON tree.</summary>
    /// <exception cref="FormatException">The text is not a valid call.</exception>
    public static JsonNode Parse(string text)
    {
        var p = new Parser(text);
        var e = p.Expr();
        p.SkipWs();
        if (!p.AtEnd) throw p.Error("unexpected text");
        return e ?? throw p.Error("empty");
    }

    private sealed class Parser(string s)
    {
        private int _i;

        public bool AtEnd => _i >= s.Length;

        public FormatException Error(string what) => new($"torch call '{s}': {what} at position {_i}.");

        public void SkipWs()
        {
            while (_i < s.Length && char.IsWhiteSpace(s[_i])) _i++;
        }

        private bool Eat(char c)
        {
            SkipWs();
            if (_i < s.Length && s[_i] == c)
            {
                _i++;
                return true;
            }
            return false;
        }

        private void Expect(char c)
        {
            if (!Eat(c)) throw Error($"expected '{c}'");
        }

        private string Ident()
        {
            SkipWs();
            int st = _i;
            while (_i < s.Length && (char.IsLetterOrDigit(s[_i]) || s[_i] == '_')) _i++;
            if (st == _i) throw Error("expected a name");
            return s[st.._i];
        }

        public JsonNode? Expr()
        {
            var e = Primary();
            while (true)
            {
                SkipWs();
                if (Eat('['))
                {
                    var k = Primary();
                    Expect(']');
                    if (k is not JsonValue v || !v.TryGetValue<long>(out long idx)) throw Error("an item index must be an integer");
                    e = new JsonObject { ["item"] = idx, ["of"] = e };
                }
                else if (_i < s.Length && s[_i] == '.' && !(_i + 1 < s.Length && char.IsDigit(s[_i + 1])))
                {
                    _i++;
                    var name = Ident();
                    SkipWs();
                    if (_i < s.Length && s[_i] == '(')
                    {
                        _i++;
                        var (args, kwargs) = Args(')');
                        args.Insert(0, e);
                        e = new JsonObject { ["call"] = "." + name, ["args"] = args, ["kwargs"] = kwargs };
                    }
                    else e = new JsonObject { ["attr"] = name, ["of"] = e };
                }
                else return e;
            }
        }

        private (JsonArray Args, JsonObject Kwargs) Args(char close)
        {
            var args = new JsonArray();
            var kwargs = new JsonObject();
            if (Eat(close)) return (args, kwargs);
            do
            {
                SkipWs();
                int save = _i;
                if (_i < s.Length && (char.IsLetter(s[_i]) || s[_i] == '_'))
                {
                    var name = Ident();
                    SkipWs();
                    if (_i < s.Length && s[_i] == '=' && !(_i + 1 < s.Length && s[_i + 1] == '='))
                    {
                        _i++;
                        kwargs[name] = Expr();
                        continue;
                    }
                    _i = save;
                }
                if (kwargs.Count > 0) throw Error("a positional argument after a keyword argument");
                args.Add(Eat('*') ? new JsonObject { ["star"] = Expr() } : Expr());
            }
            while (Eat(',') && !PeekClose(close));
            Expect(close);
            return (args, kwargs);
        }

        private bool PeekClose(char close)
        {
            SkipWs();
            return _i < s.Length && s[_i] == close;
        }

        private JsonNode? Primary()
        {
            SkipWs();
            if (AtEnd) throw Error("unexpected end");
            char c = s[_i];
            if (c == '[' || c == '(')
            {
                _i++;
                var (items, kw) = Args(c == '[' ? ']' : ')');
                if (kw.Count > 0) throw Error("keyword in a list");
                return items;
            }
            if (c == '\'' || c == '"')
            {
                int end = s.IndexOf(c, _i + 1);
                if (end < 0) throw Error("unterminated string");
                var str = s[(_i + 1)..end];
                _i = end + 1;
                return JsonValue.Create(str);
            }
            if (char.IsDigit(c) || c == '-' || c == '.')
            {
                int st = _i;
                _i++;
                while (_i < s.Length && (char.IsLetterOrDigit(s[_i]) || s[_i] == '.' || ((s[_i] == '-' || s[_i] == '+') && (s[_i - 1] == 'e' || s[_i - 1] == 'E')))) _i++;
                var num = s[st.._i];
                if (num == "-inf") return new JsonObject { ["float"] = "-inf" };
                if (long.TryParse(num, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) return JsonValue.Create(l);
                if (double.TryParse(num, NumberStyles.Float, CultureInfo.InvariantCulture, out double d)) return new JsonObject { ["float"] = d };
                throw Error($"bad number '{num}'");
            }
            var name = Ident();
            switch (name)
            {
                case "True": return JsonValue.Create(true);
                case "False": return JsonValue.Create(false);
                case "None": return null;
                case "inf": return new JsonObject { ["float"] = "inf" };
                case "nan": return new JsonObject { ["float"] = "nan" };
            }
            if (name.Length > 1 && name[0] == 'x' && int.TryParse(name.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out int input))
                return new JsonObject { ["in"] = input };
            if (name is "long" or "bool" or "float" or "double")
            {
                Expect('(');
                var data = Expr();
                Expect(')');
                return new JsonObject { ["tensor"] = data, ["dtype"] = name switch { "long" => "int64", "bool" => "bool", "float" => "float32", _ => "float64" } };
            }
            if (Builtins.Contains(name))
            {
                Expect('(');
                var (bargs, bkw) = Args(')');
                return new JsonObject { ["call"] = name, ["args"] = bargs, ["kwargs"] = bkw };
            }
            if (name != "torch") throw Error($"unknown name '{name}' (inputs are x0, x1, ...; functions start with torch.)");
            var path = new StringBuilder("torch");
            while (_i < s.Length && s[_i] == '.')
            {
                _i++;
                path.Append('.').Append(Ident());
            }
            SkipWs();
            if (_i < s.Length && s[_i] == '(')
            {
                _i++;
                var (args, kwargs) = Args(')');
                return new JsonObject { ["call"] = path.ToString(), ["args"] = args, ["kwargs"] = kwargs };
            }
            var last = path.ToString()["torch.".Length..];
            if (DTypes.Contains(last)) return new JsonObject { ["dtype"] = last };
            throw Error($"'{path}' is neither a call nor a dtype");
        }
    }
}
