using System.Collections.Concurrent;
using System.Text.Json;

namespace Fluxion.Tests;

/// <summary>
/// Loads the PyTorch-made reference data under golden/*.json (written by tests/golden/make_golden.py,
/// whose header documents the format) and turns its tensors into Fluxion tensors.
/// </summary>
public static class Golden
{
    /// <summary>The op families, one JSON file each.</summary>
    public static readonly string[] Families = ["elementwise", "reduce", "linalg", "shape", "index", "nn"];

    private static readonly ConcurrentDictionary<string, IReadOnlyList<GoldenCase>> Cache = new();

    /// <summary>The directory holding the data files (copied next to the test assembly).</summary>
    public static string Directory => Path.Combine(AppContext.BaseDirectory, "golden");

    /// <summary>All cases of one family.</summary>
    public static IReadOnlyList<GoldenCase> Load(string family) => Cache.GetOrAdd(family, f =>
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Directory, f + ".json")));
        var root = doc.RootElement;
        if (root.GetProperty("format").GetInt32() != 1)
            throw new InvalidDataException($"golden/{f}.json: unsupported format version.");
        return root.GetProperty("cases").EnumerateArray().Select(c => GoldenCase.Parse(f, c)).ToList();
    });

    /// <summary>All cases of all families.</summary>
    public static IEnumerable<GoldenCase> All() => Families.SelectMany(Load);

    /// <summary>Finds a case by its id "family/name".</summary>
    public static GoldenCase Get(string id)
    {
        var family = id[..id.IndexOf('/')];
        return Load(family).Single(c => c.Id == id);
    }

    /// <summary>
    /// Compares a Fluxion tensor with a golden one: same shape and dtype, then elementwise
    /// |actual - expected| &lt;= atol + rtol·|expected| with rtol 1e-5 (float32) / 1e-12 (float64) and
    /// atol = 1e-6 (float32) / 1e-13 (float64) times max(1, max|expected|), so values near 0 in a tensor
    /// of large values are judged on the tensor's scale. Integer and boolean tensors must match exactly.
    /// </summary>
    public static void AssertClose(string what, GoldenTensor expected, Tensor actual, bool f64)
    {
        Assert.True(expected.Shape.SequenceEqual(actual.ShapeArray),
            $"{what}: shape {ShapeUtil.Format(actual.Shape)}, PyTorch gives {ShapeUtil.Format(expected.Shape)}");
        var a = actual.ToDoubleArray();
        var e = expected.Data;
        if (!expected.IsFloat)
        {
            Assert.False(actual.DType.IsFloatingPoint(), $"{what}: dtype {actual.DType.Name()}, PyTorch gives {expected.DType}");
            for (int i = 0; i < e.Length; i++)
                Assert.True(a[i] == e[i], $"{what}[{i}]: {a[i]}, PyTorch gives {e[i]}");
            return;
        }
        var wantDType = expected.DType == "float64" ? DType.Float64 : DType.Float32;
        Assert.True(actual.DType == wantDType, $"{what}: dtype {actual.DType.Name()}, PyTorch gives {expected.DType}");
        double scale = Math.Max(1.0, e.Where(double.IsFinite).Select(Math.Abs).DefaultIfEmpty(0).Max());
        AssertClose(what, expected, a, rtol: f64 ? 1e-12 : 1e-5, atol: (f64 ? 1e-13 : 1e-6) * scale);
    }

    /// <summary>
    /// Same shape and exactly the same dtype, then elementwise |actual - expected| &lt;= atol·max(1, max|expected|) + rtol·|expected|
    /// (NaN matches NaN, infinities must be equal); integer and boolean values must match exactly.
    /// </summary>
    public static void AssertClose(string what, GoldenTensor expected, Tensor actual, double rtol, double atol)
    {
        Assert.True(expected.Shape.SequenceEqual(actual.ShapeArray),
            $"{what}: shape {ShapeUtil.Format(actual.Shape)}, PyTorch gives {ShapeUtil.Format(expected.Shape)}");
        var want = expected.DType switch { "float32" => Fluxion.DType.Float32, "float64" => Fluxion.DType.Float64, "int64" => Fluxion.DType.Int64, _ => Fluxion.DType.Bool };
        Assert.True(actual.DType == want, $"{what}: dtype {actual.DType.Name()}, PyTorch gives {expected.DType}");
        var a = actual.ToDoubleArray();
        if (!expected.IsFloat)
        {
            for (int i = 0; i < a.Length; i++) Assert.True(a[i] == expected.Data[i], $"{what}[{i}]: {a[i]}, PyTorch gives {expected.Data[i]}");
            return;
        }
        double scale = Math.Max(1.0, expected.Data.Where(double.IsFinite).Select(Math.Abs).DefaultIfEmpty(0).Max());
        AssertClose(what, expected, a, rtol, atol * scale);
    }

    /// <summary>Elementwise |actual - expected| &lt;= atol + rtol·|expected| over values laid out as the golden tensor's.</summary>
    public static void AssertClose(string what, GoldenTensor expected, double[] actual, double rtol, double atol)
    {
        var e = expected.Data;
        Assert.True(actual.Length == e.Length, $"{what}: {actual.Length} values, PyTorch gives {e.Length}");
        for (int i = 0; i < e.Length; i++)
        {
            double tol = atol + rtol * Math.Abs(e[i]);
            if (!double.IsFinite(e[i]))
            {
                Assert.True(double.IsNaN(e[i]) ? double.IsNaN(actual[i]) : actual[i] == e[i],
                    $"{what}[{i}] (shape {ShapeUtil.Format(expected.Shape)}): {actual[i]:R}, PyTorch gives {e[i]:R}");
                continue;
            }
            Assert.True(Math.Abs(actual[i] - e[i]) <= tol,
                $"{what}[{i}] (shape {ShapeUtil.Format(expected.Shape)}): {actual[i]:R}, PyTorch gives {e[i]:R} (|diff| {Math.Abs(actual[i] - e[i]):E2} > tol {tol:E2})");
        }
    }
}

/// <summary>One recorded PyTorch computation: inputs, outputs, loss weights and input gradients.</summary>
public sealed class GoldenCase
{
    /// <summary>"family/name".</summary>
    public required string Id { get; init; }
    /// <summary>Fluxion op name.</summary>
    public required string Op { get; init; }
    /// <summary>"float32" or "float64".</summary>
    public required string DType { get; init; }
    /// <summary>Op parameters.</summary>
    public required GoldenArgs Args { get; init; }
    /// <summary>Positional op inputs.</summary>
    public required GoldenInput[] Inputs { get; init; }
    /// <summary>Expected outputs.</summary>
    public required GoldenTensor[] Outputs { get; init; }
    /// <summary>Loss weights per output (null for integer outputs).</summary>
    public required GoldenTensor?[] W { get; init; }
    /// <summary>Expected d(sum_k sum(out_k * w_k))/d input, per input (null when the input takes no gradient).</summary>
    public required GoldenTensor?[] Grads { get; init; }

    /// <summary>True for float64 cases.</summary>
    public bool IsDouble => DType == "float64";

    /// <inheritdoc/>
    public override string ToString() => Id;

    internal static GoldenCase Parse(string family, JsonElement c)
    {
        static GoldenTensor? Opt(JsonElement e) => e.ValueKind == JsonValueKind.Null ? null : GoldenTensor.Parse(e);
        return new GoldenCase
        {
            Id = family + "/" + c.GetProperty("name").GetString(),
            Op = c.GetProperty("op").GetString()!,
            DType = c.GetProperty("dtype").GetString()!,
            Args = new GoldenArgs(c.GetProperty("args").Clone()),
            Inputs = c.GetProperty("inputs").EnumerateArray().Select(e => new GoldenInput(
                GoldenTensor.Parse(e), e.GetProperty("grad").GetBoolean(), e.GetProperty("layout").GetString()!)).ToArray(),
            Outputs = c.GetProperty("outputs").EnumerateArray().Select(GoldenTensor.Parse).ToArray(),
            W = c.GetProperty("w").EnumerateArray().Select(Opt).ToArray(),
            Grads = c.GetProperty("grads").EnumerateArray().Select(Opt).ToArray(),
        };
    }
}

/// <summary>A tensor from the data file: logical shape, dtype and row-major elements.</summary>
public sealed class GoldenTensor
{
    /// <summary>Logical shape.</summary>
    public required int[] Shape { get; init; }
    /// <summary>"float32", "float64", "int64" or "bool".</summary>
    public required string DType { get; init; }
    /// <summary>Elements as read (float32 parsed as float, then widened exactly).</summary>
    public required double[] Data { get; init; }

    /// <summary>True for float32/float64.</summary>
    public bool IsFloat => DType is "float32" or "float64";

    internal static GoldenTensor Parse(JsonElement e)
    {
        var dtype = e.GetProperty("dtype").GetString()!;
        var data = e.GetProperty("data").EnumerateArray().Select(v => v.ValueKind == JsonValueKind.String
            ? v.GetString() switch // non-finite values (binary.json): a NaN's sign bit is kept, for copysign
            {
                "NaN" => BitConverter.Int64BitsToDouble(0x7FF8000000000000),
                "-NaN" => BitConverter.Int64BitsToDouble(unchecked((long)0xFFF8000000000000)),
                var text => double.Parse(text!, System.Globalization.CultureInfo.InvariantCulture), // "Infinity", "-Infinity"
            }
            : dtype switch
        {
            "float32" => (double)v.GetSingle(),
            "float64" => v.GetDouble(),
            "int64" => v.GetInt64(),
            "bool" => v.GetInt32(),
            _ => throw new InvalidDataException($"unknown dtype {dtype}"),
        }).ToArray();
        return new GoldenTensor { Shape = e.GetProperty("shape").EnumerateArray().Select(v => v.GetInt32()).ToArray(), DType = dtype, Data = data };
    }

    /// <summary>A fresh contiguous Fluxion tensor with these values.</summary>
    public Tensor ToTensor()
    {
        var t = Build();
        // FromArray reads an empty shape as 1-D; 0-d tensors are made by reshaping
        return Shape.Length == 0 ? t.Reshape().Detach() : t;
    }

    private Tensor Build() => DType switch
    {
        "float32" => Tensor.FromArray(Data.Select(v => (float)v).ToArray(), Shape),
        "float64" => Tensor.FromArray(Data, Shape),
        "int64" => Tensor.FromArray(Data.Select(v => (long)v).ToArray(), Shape),
        "bool" => Tensor.FromArray(Data.Select(v => v != 0).ToArray(), Shape),
        _ => throw new InvalidDataException($"unknown dtype {DType}"),
    };
}

/// <summary>An op input: its value, whether it takes a gradient, and its memory layout.</summary>
public sealed record GoldenInput(GoldenTensor Value, bool Grad, string Layout)
{
    /// <summary>
    /// Builds the leaf tensor (which receives the gradient) and the view the op sees:
    /// "contiguous" (the leaf itself), "transposed" (leaf.MT of a contiguous tensor with the last two dims
    /// swapped) or "strided" (leaf[..., ::2] of a leaf whose last dim is doubled).
    /// </summary>
    public (Tensor Leaf, Tensor View) Materialize()
    {
        var logical = Value.ToTensor();
        Tensor leaf;
        switch (Layout)
        {
            case "contiguous":
                leaf = logical;
                break;
            case "transposed":
                leaf = logical.MT.Contiguous().Detach();
                break;
            case "strided":
                var shape = Value.Shape.ToArray();
                shape[^1] *= 2;
                leaf = Tensor.Full(shape, 7.25, logical.DType);
                leaf.Slice(-1, 0, null, 2).CopyInPlace(logical);
                break;
            default:
                throw new InvalidDataException($"unknown layout {Layout}");
        }
        if (Grad) leaf.RequiresGrad = true;
        return (leaf, ViewOf(leaf));
    }

    /// <summary>Applies this input's layout view to a tensor shaped like the leaf (e.g. the leaf's gradient).</summary>
    public Tensor ViewOf(Tensor leafShaped) => Layout switch
    {
        "transposed" => leafShaped.MT,
        "strided" => leafShaped.Slice(-1, 0, null, 2),
        _ => leafShaped,
    };
}

/// <summary>Typed access to a case's "args" object.</summary>
public sealed class GoldenArgs(JsonElement args)
{
    private JsonElement Get(string name) => args.TryGetProperty(name, out var v)
        ? v : throw new KeyNotFoundException($"golden case has no arg '{name}'");

    /// <summary>True when the arg exists and is not null.</summary>
    public bool Has(string name) => args.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null;

    /// <summary>An integer arg.</summary>
    public int Int(string name) => Get(name).GetInt32();

    /// <summary>An integer arg that may be null.</summary>
    public int? IntOrNull(string name) => Has(name) ? Get(name).GetInt32() : null;

    /// <summary>An integer-list arg that may be null.</summary>
    public int[]? Ints(string name) => Has(name) ? Get(name).EnumerateArray().Select(v => v.GetInt32()).ToArray() : null;

    /// <summary>A number arg.</summary>
    public double Double(string name) => Get(name).GetDouble();

    /// <summary>A list of strings, or null when absent.</summary>
    public string[]? Strings(string name) => Has(name) ? Get(name).EnumerateArray().Select(v => v.GetString()!).ToArray() : null;

    /// <summary>A list of doubles, or null when absent.</summary>
    public double[]? Doubles(string name) => Has(name) ? Get(name).EnumerateArray().Select(v => v.GetDouble()).ToArray() : null;

    /// <summary>A number arg that may be null.</summary>
    public double? DoubleOrNull(string name) => Has(name) ? Get(name).GetDouble() : null;

    /// <summary>A boolean arg.</summary>
    public bool Bool(string name) => Get(name).GetBoolean();

    /// <summary>A string arg.</summary>
    public string String(string name) => Get(name).GetString()!;

    /// <inheritdoc/>
    public override string ToString() => args.GetRawText();
}

/// <summary>
/// Runs the golden cases of one family (GoldenTests, LossTests, AttentionTests): outputs and d(sum_k sum(out_k * w_k))/d input compared with PyTorch. An op
/// may redirect an input's gradient to another tensor (e.g. a module parameter loaded from that input).
/// </summary>
internal static class GoldenFamily
{
    /// <summary>The call under test. Setting gradWrt[i] makes input i's gradient be taken with respect to that tensor.</summary>
    public delegate Tensor[] OpFn(Tensor[] x, GoldenArgs a, Tensor?[] gradWrt);

    public static IEnumerable<object[]> Cases(string family) => Golden.Load(family).Select(c => new object[] { c.Id });

    private static readonly ConcurrentDictionary<string, IReadOnlyDictionary<string, OpFn>> s_fromRegistry = new();

    /// <summary>The calls of a family's golden ops generated from the registry (<see cref="RegistryCall"/>): every op of the
    /// family whose cases bind (<see cref="Unmapped"/> lists the others), with <paramref name="special"/> taking precedence.</summary>
    public static IReadOnlyDictionary<string, OpFn> FromRegistry(string family, IReadOnlyDictionary<string, OpFn>? special = null)
    {
        var generated = s_fromRegistry.GetOrAdd(family, f =>
        {
            var ops = new Dictionary<string, OpFn>();
            foreach (var op in Golden.Load(f).Select(c => c.Op).Distinct())
                if (RegistryCall.Entry(op) is not null)
                    ops[op] = (x, a, _) => (RegistryCall.Bind(op, x.Length, RegistryCall.Args(a))
                        ?? throw new InvalidOperationException($"{op}: no public Tensor method binds {x.Length} tensor(s) and args {a}"))(x);
            return ops;
        });
        if (special is null) return generated;
        var all = new Dictionary<string, OpFn>(generated);
        foreach (var (k, v) in special) all[k] = v;
        return all;
    }

    public static string[] Unmapped(string family, IReadOnlyDictionary<string, OpFn> ops) =>
        Golden.Load(family).Select(c => c.Op).Distinct().Where(op => !ops.ContainsKey(op)).ToArray();

    public static void Run(string id, IReadOnlyDictionary<string, OpFn> ops)
    {
        var c = Golden.Get(id);
        var leaves = new Tensor[c.Inputs.Length];
        var views = new Tensor[c.Inputs.Length];
        for (int i = 0; i < c.Inputs.Length; i++)
            (leaves[i], views[i]) = c.Inputs[i].Materialize();
        var gradWrt = new Tensor?[c.Inputs.Length];
        var outs = ops[c.Op](views, c.Args, gradWrt);
        Assert.True(outs.Length == c.Outputs.Length, $"{id}: {outs.Length} outputs, PyTorch gives {c.Outputs.Length}");
        for (int k = 0; k < outs.Length; k++)
            Golden.AssertClose($"{id} output {k}", c.Outputs[k], outs[k], c.IsDouble);

        var gradInputs = Enumerable.Range(0, c.Inputs.Length).Where(i => c.Inputs[i].Grad).ToArray();
        if (gradInputs.Length == 0) return;
        var floatOuts = Enumerable.Range(0, outs.Length).Where(k => c.W[k] is not null).ToArray();
        var grads = Autograd.Grad(
            floatOuts.Select(k => outs[k]).ToArray(),
            gradInputs.Select(i => gradWrt[i] ?? leaves[i]).ToArray(),
            floatOuts.Select(k => (Tensor?)c.W[k]!.ToTensor()).ToArray(),
            allowUnused: true);
        for (int j = 0; j < gradInputs.Length; j++)
        {
            int i = gradInputs[j];
            if (gradWrt[i] is { } target)
            {
                Golden.AssertClose($"{id} grad of input {i}", c.Grads[i]!, grads[j] ?? Tensor.ZerosLike(target), c.IsDouble);
                continue;
            }
            var leafGrad = grads[j] ?? Tensor.ZerosLike(leaves[i]);
            Assert.Equal(leaves[i].ShapeArray, leafGrad.ShapeArray);
            Golden.AssertClose($"{id} grad of input {i}", c.Grads[i]!, c.Inputs[i].ViewOf(leafGrad), c.IsDouble);
            if (c.Inputs[i].Layout == "strided")
            {
                var gaps = leafGrad.Slice(-1, 1, null, 2).ToDoubleArray();
                Assert.True(gaps.All(v => v == 0), $"{id} grad of input {i}: nonzero gradient outside the strided view");
            }
        }
    }
}
