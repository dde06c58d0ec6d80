using System.Text.Json;

namespace Fluxion.Tests;

/// <summary>
/// The reduce/scan/sort ops of Scan.cs, Sort.cs and ReduceMore.cs against PyTorch (golden/scansort.json, made by
/// tests/golden/make_scansort.py: values, positions, ties and NaN handling, and the input gradients of
/// sum_k sum(out_k · w_k)), plus argument validation and cases PyTorch leaves aside.
/// </summary>
public class ScanSortTests
{
    // ---- golden cases ------------------------------------------------------------------------------

    /// <summary>A golden tensor of scansort.json (non-finite values spelled "nan", "inf", "-inf").</summary>
    private static GoldenTensor Parse(JsonElement e) => new()
    {
        Shape = e.GetProperty("shape").EnumerateArray().Select(v => v.GetInt32()).ToArray(),
        DType = e.GetProperty("dtype").GetString()!,
        Data = e.GetProperty("data").EnumerateArray().Select(v => v.ValueKind == JsonValueKind.String
            ? v.GetString() switch { "nan" => double.NaN, "inf" => double.PositiveInfinity, _ => double.NegativeInfinity }
            : v.GetDouble()).ToArray(),
    };

    private static readonly Lazy<Dictionary<string, JsonElement>> Cases = new(() =>
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Golden.Directory, "scansort.json")));
        return doc.RootElement.GetProperty("cases").EnumerateArray().ToDictionary(c => c.GetProperty("name").GetString()!, c => c.Clone());
    });

    public static IEnumerable<object[]> CaseNames() => Cases.Value.Keys.Select(k => new object[] { k });

    private static Tensor[] Pair((Tensor, Tensor) r) => [r.Item1, r.Item2];

    private static QuantileInterpolation Interp(string s) => Enum.Parse<QuantileInterpolation>(s, ignoreCase: true);

    private static Tensor[] Quantile(Tensor x, GoldenArgs a, bool nan)
    {
        var interp = Interp(a.String("interpolation"));
        int? dim = a.IntOrNull("dim");
        bool keep = a.Bool("keepdim");
        using var doc = JsonDocument.Parse(a.ToString());
        var qe = doc.RootElement.GetProperty("q");
        if (qe.ValueKind == JsonValueKind.Number)
            return [nan ? x.NanQuantile(qe.GetDouble(), dim, keep, interp) : x.Quantile(qe.GetDouble(), dim, keep, interp)];
        var qs = qe.EnumerateArray().Select(v => v.GetDouble()).ToArray();
        var qt = Tensor.FromArray(qs, qs.Length).To(x.DType);
        return [nan ? x.NanQuantile(qt, dim, keep, interp) : x.Quantile(qt, dim, keep, interp)];
    }

    /// <summary>The golden ops whose case args a registry binding cannot express (a list of quantiles or a range tuple
    /// for a tensor or tuple parameter, coordinates as tensors); every other op is called through its registry entry
    /// (<see cref="RegistryCall"/>: the entry's public method, args bound by name).</summary>
    private static readonly Dictionary<string, Func<Tensor[], GoldenArgs, Tensor[]>> Special = new()
    {
        ["Quantile"] = (x, a) => a.ToString().Contains("qinput") ? [x[0].Quantile(x[1], a.IntOrNull("dim"), a.Bool("keepdim"))] : Quantile(x[0], a, nan: false),
        ["NanQuantile"] = (x, a) => Quantile(x[0], a, nan: true),
        ["Histogram"] = (x, a) =>
        {
            if (!a.Has("bins")) return Pair(x[0].Histogram(x[1]));
            (double, double)? range = null;
            using var doc = JsonDocument.Parse(a.ToString());
            if (doc.RootElement.GetProperty("range") is { ValueKind: JsonValueKind.Array } r)
                range = (r[0].GetDouble(), r[1].GetDouble());
            return Pair(x[0].Histogram(a.Int("bins"), range, x.Length > 1 ? x[1] : null, a.Bool("density")));
        },
        ["Gradient"] = (x, a) =>
        {
            using var doc = JsonDocument.Parse(a.ToString());
            if (doc.RootElement.TryGetProperty("coordinates", out var co))
                return x[0].Gradient(co.EnumerateArray().Select(c => Tensor.FromArray(c.EnumerateArray().Select(v => v.GetDouble()).ToArray(), c.GetArrayLength())).ToArray(),
                    a.Ints("dims"), a.Int("edge_order"));
            var sp = doc.RootElement.GetProperty("spacing").EnumerateArray().Select(v => v.GetDouble()).ToArray();
            return x[0].Gradient(sp, a.Ints("dims"), a.Int("edge_order"));
        },
    };

    /// <summary>The call of a golden case: its special form, or its registry entry's public method bound to the case's
    /// inputs and args; null when neither applies.</summary>
    private static Func<Tensor[], Tensor[]>? Call(string op, int inputs, GoldenArgs args) =>
        Special.TryGetValue(op, out var f) ? x => f(x, args) : RegistryCall.Bind(op, inputs, RegistryCall.Args(args));

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void MatchesPyTorch(string name)
    {
        var c = Cases.Value[name];
        var op = c.GetProperty("op").GetString()!;
        var args = new GoldenArgs(c.GetProperty("args"));
        var inputs = c.GetProperty("inputs").EnumerateArray().ToArray();
        var leaves = new Tensor[inputs.Length];
        var views = new Tensor[inputs.Length];
        for (int i = 0; i < inputs.Length; i++)
        {
            var g = Parse(inputs[i]);
            bool transposed = inputs[i].GetProperty("layout").GetString() == "transposed";
            leaves[i] = transposed ? g.ToTensor().MT.Contiguous().Detach() : g.ToTensor();
            if (inputs[i].GetProperty("grad").GetBoolean()) leaves[i].RequiresGrad = true;
            views[i] = transposed ? leaves[i].MT : leaves[i];
        }
        var call = Call(op, views.Length, args) ?? throw new InvalidOperationException($"{name}: no public method of {op} binds its inputs and args {args}");
        var outs = call(views);
        var expected = c.GetProperty("outputs").EnumerateArray().Select(Parse).ToArray();
        Assert.Equal(expected.Length, outs.Length);
        bool f64 = expected.All(e => e.DType != "float32");
        for (int k = 0; k < outs.Length; k++)
            Golden.AssertClose($"{name} output {k}", expected[k], outs[k], f64 ? 1e-12 : 1e-5, f64 ? 1e-13 : 1e-6);

        var ws = c.GetProperty("w").EnumerateArray().Select(w => w.ValueKind == JsonValueKind.Null ? null : Parse(w)).ToArray();
        if (ws.All(w => w is null)) return;
        Tensor? loss = null;
        for (int k = 0; k < outs.Length; k++)
            if (ws[k] is { } w)
            {
                var term = (outs[k] * w.ToTensor()).Sum();
                loss = loss is null ? term : loss + term;
            }
        loss!.Backward();
        var grads = c.GetProperty("grads").EnumerateArray().ToArray();
        for (int i = 0; i < inputs.Length; i++)
        {
            if (grads[i].ValueKind == JsonValueKind.Null) continue;
            var g = leaves[i].Grad ?? Tensor.ZerosLike(leaves[i]);
            if (inputs[i].GetProperty("layout").GetString() == "transposed") g = g.MT;
            Golden.AssertClose($"{name} grad of input {i}", Parse(grads[i]), g, f64 ? 1e-10 : 1e-4, f64 ? 1e-12 : 1e-5);
        }
    }

    [Fact]
    public void EveryGoldenOpIsMapped()
    {
        var unmapped = Cases.Value.Values.Where(c => Call(c.GetProperty("op").GetString()!, c.GetProperty("inputs").GetArrayLength(), new GoldenArgs(c.GetProperty("args"))) is null)
            .Select(c => c.GetProperty("name").GetString()!).ToList();
        Assert.True(unmapped.Count == 0, "unmapped: " + string.Join(", ", unmapped));
    }

    // ---- behaviour PyTorch does not pin or that the golden data leaves out ------------------------

    private static Tensor R(params int[] shape) => Tensor.Randn(shape, DType.Float64, new Generator(shape.Sum() * 13 + shape.Length));

    [Fact]
    public void SortMatchesAStableSortOnLongRows()
    {
        var g = new Generator(5);
        var x = Tensor.RandInt(0, 10, [3, 200], DType.Int64, g).To(DType.Float64);
        var (v, idx) = x.Sort(1, descending: true);
        for (int r = 0; r < 3; r++)
        {
            var row = x.Select(0, r).ToDoubleArray();
            var want = Enumerable.Range(0, 200).OrderByDescending(i => row[i]).ToArray(); // LINQ's sort is stable
            Assert.Equal(want.Select(i => (double)i), idx.Select(0, r).ToDoubleArray());
            Assert.Equal(want.Select(i => row[i]), v.Select(0, r).ToDoubleArray());
        }
    }

    [Fact]
    public void ScansOfIntegersAndBoolsGiveInt64()
    {
        var b = Tensor.FromArray([true, false, true, true], 4);
        Assert.Equal(DType.Int64, b.Cumsum(0).DType);
        Assert.Equal([1.0, 1, 2, 3], b.Cumsum(0).ToDoubleArray());
        var i = Tensor.FromArray([2L, -3, 4], 3);
        Assert.Equal([2.0, -6, -24], i.Cumprod(0).ToDoubleArray());
        Assert.Equal(-24.0, i.Prod().Item());
        Assert.Equal([2.0, 2, 4], i.Cummax(0).Values.ToDoubleArray());
    }

    [Fact]
    public void ModeOfLongRowsPicksTheSmallestMostFrequentValue()
    {
        var vals = new double[40];
        for (int k = 0; k < 40; k++) vals[k] = k % 5 == 0 ? 7 : k % 5 == 1 ? 3 : k; // 7 and 3 both appear 8 times
        var (v, i) = Tensor.FromArray(vals, 40).Mode();
        Assert.Equal(3.0, v.Item());
        Assert.Equal(3.0, vals[(int)i.Item()]);
    }

    [Fact]
    public void BadArgumentsRaiseWithTheOpName()
    {
        var x = R(3, 4);
        Assert.Contains("Kthvalue", Assert.Throws<ArgumentOutOfRangeException>(() => x.Kthvalue(5)).Message);
        Assert.Contains("Kthvalue", Assert.Throws<ArgumentOutOfRangeException>(() => x.Kthvalue(0)).Message);
        Assert.Contains("Topk", Assert.Throws<ArgumentOutOfRangeException>(() => x.Topk(5)).Message);
        Assert.Contains("Median", Assert.Throws<ShapeMismatchException>(() => R(2, 0).Median(1)).Message);
        Assert.Contains("Mode", Assert.Throws<ShapeMismatchException>(() => R(0, 2).Mode(0)).Message);
        Assert.Contains("Quantile", Assert.Throws<ArgumentOutOfRangeException>(() => x.Quantile(1.5)).Message);
        Assert.Contains("Quantile", Assert.Throws<DTypeMismatchException>(() => x.Quantile(Tensor.FromArray([0.5f], 1))).Message);
        Assert.Contains("Quantile", Assert.Throws<ShapeMismatchException>(() => R(0).Quantile(0.5)).Message);
        Assert.Contains("Cumsum", Assert.Throws<ArgumentOutOfRangeException>(() => x.Cumsum(2)).Message);
        Assert.Contains("LogCumSumExp", Assert.Throws<DTypeMismatchException>(() => Tensor.FromArray([1L], 1).LogCumSumExp(0)).Message);
        Assert.Contains("Sort", Assert.Throws<DTypeMismatchException>(() => Tensor.FromArray([true], 1).Sort()).Message);
    }

    [Fact]
    public void MedianOfAnEmptyTensorIsNaNAndSortOfEmptyIsEmpty()
    {
        Assert.True(double.IsNaN(R(0, 3).Median().Item()));
        var (v, i) = R(0, 3).Sort(0);
        Assert.Equal([0, 3], v.ShapeArray);
        Assert.Equal(DType.Int64, i.DType);
    }

    [Fact]
    public void CumprodGradientWithZerosMatchesTheProductOfTheOthers()
    {
        // d/dx_k of Σ_i y_i with y = cumprod(x): Σ_{i >= k} Π_{j <= i, j != k} x_j, by brute force
        var xs = new[] { 1.5, 0.0, -2.0, 0.0, 0.5 };
        var x = Tensor.FromArray(xs, 5).RequiresGrad_();
        x.Cumprod(0).Sum().Backward();
        for (int k = 0; k < 5; k++)
        {
            double want = 0;
            for (int i = k; i < 5; i++)
            {
                double p = 1;
                for (int j = 0; j <= i; j++) if (j != k) p *= xs[j];
                want += p;
            }
            Assert.Equal(want, x.Grad!.ToDoubleArray()[k], 12);
        }
    }

    [Fact]
    public void SelectionOpsWorkOnInt64()
    {
        var x = Tensor.FromArray([5L, 1, 4, 1, 3, 9, 2], 7);
        Assert.Equal(3.0, x.Median().Item());
        var (kv, ki) = x.Kthvalue(2);
        Assert.Equal(1.0, kv.Item());
        Assert.Equal(DType.Int64, kv.DType);
        Assert.Equal(1.0, x.Mode().Values.Item());
        Assert.Equal(3.0, x.Mode().Indices.Item()); // the last occurrence, as PyTorch for short rows
        Assert.Equal([9.0, 5, 4], x.Topk(3).Values.ToDoubleArray());
        Assert.Equal([1.0, 1, 2, 3, 4, 5, 9], x.Sort().Values.ToDoubleArray());
        Assert.Equal([1.0, 3, 6, 4, 2, 0, 5], x.Argsort().ToDoubleArray());
        Assert.True(x.Any().Item<bool>());
        Assert.Equal(7L, x.CountNonzero().Item<long>());
        Assert.True(ki.Item() is 1 or 3);
    }

    [Fact]
    public void UniqueOfBoolsAndEmptyTensors()
    {
        var (v, inv, cnt) = Tensor.FromArray([true, false, true], 3).Unique();
        Assert.Equal(DType.Bool, v.DType);
        Assert.Equal([0.0, 1], v.ToDoubleArray());
        Assert.Equal([1.0, 0, 1], inv.ToDoubleArray());
        Assert.Equal([1.0, 2], cnt.ToDoubleArray());
        var (ev, einv, ecnt) = R(0, 3).Unique();
        Assert.Equal([0], ev.ShapeArray);
        Assert.Equal([0, 3], einv.ShapeArray);
        Assert.Equal([0], ecnt.ShapeArray);
    }

    [Fact]
    public void SearchAndCountArgumentsAreChecked()
    {
        var s = Tensor.FromArray([1.0, 2.0, 3.0], 3);
        Assert.Contains("SearchSorted", Assert.Throws<DTypeMismatchException>(() => Tensor.SearchSorted(s, Tensor.FromArray([1f], 1))).Message);
        Assert.Contains("SearchSorted", Assert.Throws<ShapeMismatchException>(() => Tensor.SearchSorted(R(2, 3), R(3, 2))).Message);
        Assert.Contains("Bucketize", Assert.Throws<ShapeMismatchException>(() => Tensor.Bucketize(s, R(2, 2))).Message);
        Assert.Contains("Bincount", Assert.Throws<ArgumentException>(() => Tensor.FromArray([1L, -2], 2).Bincount()).Message);
        Assert.Contains("Bincount", Assert.Throws<DTypeMismatchException>(() => s.Bincount()).Message);
        Assert.Contains("Histc", Assert.Throws<ArgumentException>(() => Tensor.FromArray([1.0, double.NaN], 2).Histc(3)).Message);
        Assert.Contains("Gradient", Assert.Throws<ShapeMismatchException>(() => R(2, 5).Gradient(edgeOrder: 2)).Message);
        Assert.Contains("Diff", Assert.Throws<ShapeMismatchException>(() => R().Diff()).Message);
    }

    [Fact]
    public void SecondDerivativeOfProdWithAZeroIsExact()
    {
        // p = x0·x1·x2 at x1 = 0: ∂²p/∂x0∂x2 = x1 = 0, ∂²p/∂x0∂x1 = x2, ∂²p/∂x1∂x2 = x0
        var x = Tensor.FromArray([2.0, 0.0, 3.0], 3).RequiresGrad_();
        var g = Autograd.Grad([x.Prod()], [x], createGraph: true)[0]!;
        Assert.Equal([0.0, 6, 0], g.ToDoubleArray());
        var h0 = Autograd.Grad([g.Select(0, 0)], [x], retainGraph: true)[0]!;
        Assert.Equal([0.0, 3, 0], h0.ToDoubleArray());
        var h1 = Autograd.Grad([g.Select(0, 1)], [x])[0]!;
        Assert.Equal([3.0, 0, 2], h1.ToDoubleArray());
    }
}
