using System.Text.Json;

namespace Fluxion.Tests;

/// <summary>
/// The ops of ShapeMore.cs, IndexMore.cs and CreationMore.cs against PyTorch (golden/shape_more.json, written by
/// tests/golden/make_shape_more.py): values and the gradients of sum(out · w); plus edge cases and error messages.
/// (Gradient checks of every entry run in <see cref="RegistrySweepTests"/>.)
/// </summary>
public class ShapeMoreTests
{
    private static Tensor CatFlat(Tensor[] parts) => Tensor.Cat(Array.ConvertAll(parts, p => p.Reshape(-1)), 0);

    /// <summary>The Fluxion call of each golden case (inputs as in the Python script).</summary>
    private static readonly Dictionary<string, Func<Tensor[], Tensor>> Calls = new()
    {
        ["flip"] = t => t[0].Flip(0, 2),
        ["fliplr"] = t => t[0].FlipLr(),
        ["flipud"] = t => t[0].FlipUd(),
        ["roll"] = t => t[0].Roll([1, -5], [0, 1]),
        ["roll_flat"] = t => t[0].Roll(5),
        ["rot90_1"] = t => t[0].Rot90(),
        ["rot90_3"] = t => t[0].Rot90(3, 2, 0),
        ["repeat"] = t => t[0].Repeat(2, 1, 3),
        ["tile"] = t => t[0].Tile(2),
        ["tril"] = t => t[0].Tril(1),
        ["triu"] = t => t[0].Triu(-1),
        ["movedim"] = t => t[0].Movedim([0, 3], [2, 0]),
        ["diagonal"] = t => t[0].Diagonal(1),
        ["diagonal_neg"] = t => t[0].Diagonal(-2, 1, 2),
        ["diagonal_dims"] = t => t[0].Diagonal(0, 2, 0),
        ["diagonal_empty"] = t => t[0].Diagonal(5),
        ["diag_embed"] = t => t[0].DiagEmbed(1, 0, 2),
        ["diag_vec"] = t => t[0].Diag(-1),
        ["diag_mat"] = t => t[0].Diag(2),
        ["diagflat"] = t => t[0].DiagFlat(-1),
        ["diagonal_scatter"] = t => t[0].DiagonalScatter(t[1], 1),
        ["diagonal_scatter_dims"] = t => t[0].DiagonalScatter(t[1], -1, 0, 2),
        ["select_scatter"] = t => t[0].SelectScatter(t[1], 1, -1),
        ["atleast_3d_1"] = t => t[0].AtLeast3d(),
        ["atleast_3d_2"] = t => t[0].AtLeast3d(),
        ["atleast_2d"] = t => t[0].AtLeast2d(),
        ["hstack"] = t => Tensor.HStack(t),
        ["vstack"] = t => Tensor.VStack(t),
        ["dstack"] = t => Tensor.DStack(t),
        ["column_stack"] = t => Tensor.ColumnStack(t),
        ["tensor_split_n"] = t => CatFlat(t[0].TensorSplit(3)),
        ["tensor_split_idx"] = t => CatFlat(t[0].TensorSplit([1, 4, 3, -1], 1)),
        ["hsplit"] = t => CatFlat(t[0].HSplit(2)),
        ["vsplit"] = t => CatFlat(t[0].VSplit([1, 3])),
        ["dsplit"] = t => CatFlat(t[0].DSplit(2)),
        ["unflatten"] = t => t[0].Unflatten(1, 3, -1),
        ["ravel"] = t => t[0].Ravel(),
        ["constant_pad_nd"] = t => t[0].ConstantPadNd([-1, 2, 1, 0], 0.5),
        ["meshgrid_xy"] = t => Tensor.Stack(Tensor.Meshgrid(t, MeshgridIndexing.Xy)),
        ["cartesian_prod"] = t => Tensor.CartesianProd(t),
        ["combinations"] = t => t[0].Combinations(3),
        ["combinations_repl"] = t => t[0].Combinations(2, withReplacement: true),
        ["tril_indices"] = _ => Tensor.TrilIndices(3, 4, 1),
        ["triu_indices"] = _ => Tensor.TriuIndices(4, 3, -1),
        ["nonzero"] = t => t[0].Nonzero(),
        ["masked_select"] = t => t[0].MaskedSelect(t[1]),
        ["masked_scatter"] = t => t[0].MaskedScatter(t[2], t[1]),
        ["index_fill"] = t => t[0].IndexFill(1, t[1], -1.5),
        ["index_copy"] = t => t[0].IndexCopy(1, t[2], t[1]),
        ["index_put"] = t => t[0].IndexPut([t[2], t[3]], t[1]),
        ["index_put_acc"] = t => t[0].IndexPut([t[2]], t[1], accumulate: true),
        ["index_put_bcast"] = t => t[0].IndexPut([t[2]], t[1]),
        ["index_put_mask"] = t => t[0].IndexPut([t[2]], t[1]),
        ["put"] = t => t[0].Put(t[2], t[1]),
        ["put_acc"] = t => t[0].Put(t[2], t[1], accumulate: true),
        ["take"] = t => t[0].Take(t[1]),
        ["take_along_dim"] = t => t[0].TakeAlongDim(t[1], 1),
        ["take_along_dim_bcast"] = t => t[0].TakeAlongDim(t[1], 2),
        ["take_along_dim_flat"] = t => t[0].TakeAlongDim(t[1]),
        ["scatter"] = t => t[0].Scatter(0, t[2], t[1]),
        ["scatter_value"] = t => t[0].Scatter(1, t[1], 0.5),
        ["scatter_reduce_amax_ties"] = t => t[0].ScatterReduce(0, t[2], t[1], ScatterReduction.Amax),
        ["scatter_reduce_prod_zero"] = t => t[0].ScatterReduce(0, t[2], t[1], ScatterReduction.Prod),
        ["index_reduce_prod_1"] = t => t[0].IndexReduce(1, t[2], t[1], ScatterReduction.Prod, includeSelf: true),
        ["index_reduce_prod_0"] = t => t[0].IndexReduce(1, t[2], t[1], ScatterReduction.Prod, includeSelf: false),
        ["index_reduce_mean_1"] = t => t[0].IndexReduce(1, t[2], t[1], ScatterReduction.Mean, includeSelf: true),
        ["index_reduce_mean_0"] = t => t[0].IndexReduce(1, t[2], t[1], ScatterReduction.Mean, includeSelf: false),
        ["index_reduce_amax_1"] = t => t[0].IndexReduce(1, t[2], t[1], ScatterReduction.Amax, includeSelf: true),
        ["index_reduce_amax_0"] = t => t[0].IndexReduce(1, t[2], t[1], ScatterReduction.Amax, includeSelf: false),
        ["index_reduce_amin_1"] = t => t[0].IndexReduce(1, t[2], t[1], ScatterReduction.Amin, includeSelf: true),
        ["index_reduce_amin_0"] = t => t[0].IndexReduce(1, t[2], t[1], ScatterReduction.Amin, includeSelf: false),
        ["isin"] = t => t[0].Detach().IsIn(t[1].Detach()),
        ["isin_invert"] = t => t[0].IsIn(t[1], invert: true),
        ["native_layer_norm"] = t => { var (o, m, r) = Tensor.NativeLayerNorm(t[0], [4], t[1], t[2]); return CatFlat([o, m, r]); },
        ["native_layer_norm_2d"] = t => { var (o, m, r) = Tensor.NativeLayerNorm(t[0], [2, 3]); return CatFlat([o, m, r]); },
        ["native_batch_norm"] = t =>
        {
            var rm = Tensor.Zeros([2], DType.Float64);
            var rv = Tensor.Ones([2], DType.Float64);
            var (o, m, i) = Tensor.NativeBatchNorm(t[0], t[1], t[2], rm, rv, training: true);
            return CatFlat([o, m, i, rm, rv]);
        },
        ["native_batch_norm_eval"] = t =>
        {
            var (o, m, i) = Tensor.NativeBatchNorm(t[0], null, null, Tensor.Full([2], 0.5, DType.Float64), Tensor.Full([2], 2.0, DType.Float64), training: false);
            return CatFlat([o, m, i]);
        },
        ["repeat_interleave"] = t => t[0].RepeatInterleave(t[1], 0),
        ["repeat_interleave_flat"] = t => t[0].RepeatInterleave(2),
        ["repeat_interleave_idx"] = t => Tensor.RepeatInterleave(t[0]),
        ["unfold"] = t => t[0].UnfoldDim(1, 3, 2),
        ["unfold_0d"] = t => t[0].UnfoldDim(0, 1, 1),
        ["scatter_reduce_sum_1"] = t => t[0].ScatterReduce(0, t[2], t[1], ScatterReduction.Sum, includeSelf: true),
        ["scatter_reduce_sum_0"] = t => t[0].ScatterReduce(0, t[2], t[1], ScatterReduction.Sum, includeSelf: false),
        ["scatter_reduce_prod_1"] = t => t[0].ScatterReduce(0, t[2], t[1], ScatterReduction.Prod, includeSelf: true),
        ["scatter_reduce_prod_0"] = t => t[0].ScatterReduce(0, t[2], t[1], ScatterReduction.Prod, includeSelf: false),
        ["scatter_reduce_mean_1"] = t => t[0].ScatterReduce(0, t[2], t[1], ScatterReduction.Mean, includeSelf: true),
        ["scatter_reduce_mean_0"] = t => t[0].ScatterReduce(0, t[2], t[1], ScatterReduction.Mean, includeSelf: false),
        ["scatter_reduce_amax_1"] = t => t[0].ScatterReduce(0, t[2], t[1], ScatterReduction.Amax, includeSelf: true),
        ["scatter_reduce_amax_0"] = t => t[0].ScatterReduce(0, t[2], t[1], ScatterReduction.Amax, includeSelf: false),
        ["scatter_reduce_amin_1"] = t => t[0].ScatterReduce(0, t[2], t[1], ScatterReduction.Amin, includeSelf: true),
        ["scatter_reduce_amin_0"] = t => t[0].ScatterReduce(0, t[2], t[1], ScatterReduction.Amin, includeSelf: false),
    };

    public static TheoryData<string> Cases()
    {
        var d = new TheoryData<string>();
        foreach (var c in Load()) d.Add(c.GetProperty("name").GetString()!);
        return d;
    }

    private static List<JsonElement> Load()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Golden.Directory, "shape_more.json")));
        return doc.RootElement.GetProperty("cases").EnumerateArray().Select(e => e.Clone()).ToList();
    }

    private static Tensor ToTensor(JsonElement e)
    {
        var shape = e.GetProperty("shape").EnumerateArray().Select(v => v.GetInt32()).ToArray();
        var dtype = e.GetProperty("dtype").GetString();
        var raw = e.GetProperty("data").EnumerateArray().Select(v => v.ValueKind == JsonValueKind.String ? double.Parse(v.GetString()!.Replace("inf", "Infinity").Replace("nan", "NaN"), System.Globalization.CultureInfo.InvariantCulture) : v.GetDouble()).ToArray();
        Tensor t = dtype switch
        {
            "float64" => Tensor.FromArray(raw, shape.Length == 0 ? [1] : shape),
            "float32" => Tensor.FromArray(raw.Select(v => (float)v).ToArray(), shape.Length == 0 ? [1] : shape),
            "int64" => Tensor.FromArray(raw.Select(v => (long)v).ToArray(), shape.Length == 0 ? [1] : shape),
            _ => Tensor.FromArray(raw.Select(v => v != 0).ToArray(), shape.Length == 0 ? [1] : shape),
        };
        return shape.Length == 0 ? t.Reshape().Detach() : t;
    }

    private static void AssertClose(string what, Tensor expected, Tensor actual)
    {
        Assert.True(expected.DType == actual.DType, $"{what}: dtype {actual.DType}, PyTorch gives {expected.DType}");
        TensorAssert.Close(expected, actual, rtol: 1e-12, atol: 1e-12, what: what);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorch(string name)
    {
        var c = Load().Single(e => e.GetProperty("name").GetString() == name);
        Assert.True(Calls.TryGetValue(name, out var call), $"no Fluxion call for golden case {name}");
        var inputs = c.GetProperty("inputs").EnumerateArray().Select(ToTensor).ToArray();
        foreach (var x in inputs)
            if (x.DType == DType.Float64) x.RequiresGrad = true;
        var y = call(inputs);
        AssertClose(name, ToTensor(c.GetProperty("output")), y);
        if (c.GetProperty("w").ValueKind == JsonValueKind.Null) return;
        (y * ToTensor(c.GetProperty("w"))).Sum().Backward();
        var grads = c.GetProperty("grads").EnumerateArray().ToArray();
        for (int i = 0; i < inputs.Length; i++)
        {
            if (grads[i].ValueKind == JsonValueKind.Null) continue;
            AssertClose($"{name} grad {i}", ToTensor(grads[i]), inputs[i].Grad ?? Tensor.ZerosLike(inputs[i]));
        }
    }

    // ---- edge cases and errors ---------------------------------------------------------------------

    [Fact]
    public void FlipKeepsNaNAndInfAndWorksOnIntsAndBools()
    {
        var x = Tensor.FromArray([double.NaN, double.PositiveInfinity, -0.0, 1]);
        var y = x.Flip(0).ToDoubleArray();
        Assert.Equal(1, y[0]);
        Assert.True(double.IsNegative(y[1]) && y[1] == 0);
        Assert.Equal(double.PositiveInfinity, y[2]);
        Assert.True(double.IsNaN(y[3]));
        Assert.Equal([3L, 2, 1], Tensor.FromArray([1L, 2, 3]).Flip(0).ToArray<long>());
        Assert.Equal([false, true], Tensor.FromArray([true, false]).Flip(-1).ToArray<bool>());
    }

    [Fact]
    public void TrilZeroesNaNOutsideTheTriangle()
    {
        var x = Tensor.Full([2, 2], double.NaN, DType.Float64);
        var y = x.Tril().ToDoubleArray();
        Assert.True(double.IsNaN(y[0]) && y[1] == 0 && double.IsNaN(y[2]) && double.IsNaN(y[3]));
    }

    [Fact]
    public void RepeatAndRollReturnCopies()
    {
        var x = Tensor.FromArray([1.0, 2.0]);
        Assert.NotSame(x.Storage, x.Repeat(1).Storage);
        Assert.NotSame(x.Storage, x.Roll(2, 0).Storage);
        Assert.Equal([2.0, 1.0], x.Roll(-1, 0).ToArray<double>());
    }

    [Fact]
    public void BadArgumentsNameTheOp()
    {
        var x = Tensor.Zeros(2, 3);
        Assert.Contains("Flip", Assert.Throws<ArgumentException>(() => x.Flip(0, -2)).Message);
        Assert.Contains("Repeat", Assert.Throws<ArgumentException>(() => x.Repeat(2)).Message);
        Assert.Contains("Tril", Assert.Throws<ShapeMismatchException>(() => Tensor.Zeros(3).Tril()).Message);
        Assert.Contains("HSplit", Assert.Throws<ArgumentException>(() => x.HSplit(2)).Message);
        Assert.Contains("DiagonalScatter", Assert.Throws<ShapeMismatchException>(() => x.DiagonalScatter(Tensor.Zeros(3))).Message);
        Assert.Contains("Rot90", Assert.Throws<ArgumentException>(() => x.Rot90(1, 0, 0)).Message);
        Assert.Contains("ConstantPadNd", Assert.Throws<ArgumentException>(() => x.ConstantPadNd([1])).Message);
        Assert.Contains("Movedim", Assert.Throws<ArgumentException>(() => x.Movedim([0], [0, 1])).Message);
    }

    [Fact]
    public void DiagonalIsAView()
    {
        var x = Tensor.FromArray([1.0, 2, 3, 4, 5, 6], 2, 3);
        var d = x.Diagonal(1);
        Assert.Same(x.Storage, d.Storage);
        Assert.Equal([2.0, 6.0], d.ToArray<double>());
        Assert.Equal([4.0], x.Diagonal(-1).ToArray<double>());
    }

    [Fact]
    public void BroadcastShapesAndNonzeroTuple()
    {
        Assert.Equal([2, 3, 4], Tensor.BroadcastShapes([3, 1], [2, 1, 4]));
        var parts = Tensor.FromArray([0.0, 1, 1, 0], 2, 2).NonzeroTuple();
        Assert.Equal([0L, 1], parts[0].ToArray<long>());
        Assert.Equal([1L, 0], parts[1].ToArray<long>());
        Assert.Equal([1, 0], Tensor.Scalar(2).Nonzero().ShapeArray);
    }

    [Fact]
    public void AllCloseAndEqual()
    {
        var a = Tensor.FromArray([1.0, double.NaN, double.PositiveInfinity]);
        var b = Tensor.FromArray([1.0 + 1e-9, double.NaN, double.PositiveInfinity]);
        Assert.False(a.AllClose(b));
        Assert.True(a.AllClose(b, equalNan: true));
        Assert.False(Tensor.FromArray([1.0]).AllClose(Tensor.FromArray([1.1])));
        Assert.True(Tensor.FromArray([1.0, 1.0]).AllClose(Tensor.Scalar(1.0, DType.Float64)));
        Assert.False(Tensor.FromArray([double.PositiveInfinity]).AllClose(Tensor.FromArray([double.NegativeInfinity]), atol: 1e300));
        Assert.True(Tensor.FromArray([1L, 2]).Equal(Tensor.FromArray([1L, 2])));
        Assert.False(Tensor.FromArray([1.0, 2]).Equal(Tensor.FromArray([1.0, 2], 1, 2)));
        Assert.False(a.Equal(a));
    }

    [Fact]
    public void CreationAndSampling()
    {
        // torch.logspace(0, 2, 5, base=2)
        var ls = Tensor.Logspace(0, 2, 5, 2, DType.Float64).ToDoubleArray();
        Assert.Equal([1.0, Math.Sqrt(2), 2.0, 2 * Math.Sqrt(2), 4.0], ls, (a, b) => Math.Abs(a - b) < 1e-15);
        Assert.Equal([0.0], Tensor.Linspace(0, 1, 1, DType.Float64).ToArray<double>()); // torch.linspace(0, 1, 1)
        var x = Tensor.Zeros([3, 4], DType.Float64);
        Assert.Equal(DType.Float64, Tensor.RandLike(x).DType);
        Assert.Equal([3, 4], Tensor.RandnLike(x).ShapeArray);
        var ri = Tensor.RandIntLike(Tensor.Zeros([50], DType.Int64), -2, 3, new Generator(1)).ToArray<long>();
        Assert.All(ri, v => Assert.InRange(v, -2, 2));
        // multinomial: zero weights are never drawn; without replacement the draws are distinct
        var w = Tensor.FromArray([0.0, 1, 0, 3, 2], 5);
        for (int s = 0; s < 20; s++)
        {
            var d = w.Multinomial(3, generator: new Generator(s)).ToArray<long>();
            Assert.Equal(3, d.Distinct().Count());
            Assert.DoesNotContain(0L, d);
            Assert.DoesNotContain(2L, d);
        }
        Assert.Equal([2, 7], Tensor.FromArray([1.0, 1, 1, 1], 2, 2).Multinomial(7, replacement: true).ShapeArray);
        Assert.Throws<ArgumentException>(() => w.Multinomial(4));
        // bernoulli: p = 0 and 1 are certain; the gradient is zero
        var p = Tensor.FromArray([0.0, 1.0, 0.0, 1.0]).RequiresGrad_();
        var b = p.Bernoulli(new Generator(3));
        Assert.Equal([0.0, 1.0, 0.0, 1.0], b.ToArray<double>());
        b.Sum().Backward();
        Assert.Equal([0.0, 0, 0, 0], p.Grad!.ToArray<double>());
        Assert.Throws<ArgumentException>(() => Tensor.FromArray([1.5]).Bernoulli());
    }

    [Fact]
    public void IndexOpsOnIntsBoolsAndEmpties()
    {
        var x = Tensor.FromArray([1L, 2, 3, 4], 2, 2);
        Assert.Equal([7L, 8, 3, 4], x.IndexPut([Tensor.FromArray([0L, 0])], Tensor.FromArray([7L, 8])).ToArray<long>());
        Assert.Equal([true, true, true], Tensor.FromArray([true, false, true]).Scatter(0, Tensor.FromArray([1L]), Tensor.FromArray([true])).ToArray<bool>());
        var amax = Tensor.FromArray([1.0, 2.0]).ScatterReduce(0, Tensor.FromArray([0L, 0]), Tensor.FromArray([double.NaN, 5.0]), ScatterReduction.Amax).ToArray<double>();
        Assert.True(double.IsNaN(amax[0]) && amax[1] == 2.0);
        Assert.Equal([3L, 2], Tensor.FromArray([1L, 5]).ScatterReduce(0, Tensor.FromArray([0L, 0, 1]), Tensor.FromArray([3L, 9, 2]), ScatterReduction.Amin, includeSelf: false).ToArray<long>());
        Assert.Equal([2, 0], Tensor.Zeros(2, 0).Flip(1).ShapeArray);
        Assert.Equal([1f, 1, 1], Tensor.Ones(3).IndexFill(0, Tensor.FromArray(Array.Empty<long>()), 2).ToArray<float>());
        Assert.Equal([3L, 2], Tensor.FromArray([3L, 1, 2]).MaskedSelect(Tensor.FromArray([true, false, true])).ToArray<long>());
        Assert.Equal([2L, 3], Tensor.Arange(6, DType.Int64).Reshape(2, 3).TakeAlongDim(Tensor.FromArray([2L, 0], 2, 1), 1).ToArray<long>());
        // the last write wins on repeated targets
        Assert.Equal([9.0, 0], Tensor.Zeros([2], DType.Float64).Scatter(0, Tensor.FromArray([0L, 0]), Tensor.FromArray([5.0, 9.0])).ToArray<double>());
        Assert.Equal([0.0, 6, 0], Tensor.Zeros([3], DType.Float64).IndexCopy(0, Tensor.FromArray([1L, 1]), Tensor.FromArray([4.0, 6.0])).ToArray<double>());
    }

    [Fact]
    public void IndexOpErrorsNameTheOpAndTheFix()
    {
        var x = Tensor.Zeros(2, 3);
        Assert.Contains("Take", Assert.Throws<IndexOutOfBoundsException>(() => x.Take(Tensor.FromArray([6L]))).Message);
        Assert.Contains("[2, 2]", Assert.Throws<ShapeMismatchException>(() => x.IndexCopy(1, Tensor.FromArray([0L, 1]), Tensor.Zeros(2, 3))).Message);
        Assert.Contains("MaskedScatter", Assert.Throws<ShapeMismatchException>(() => x.MaskedScatter(Tensor.FromArray([true, true, false]), Tensor.Zeros(3))).Message);
        Assert.Contains("same rank", Assert.Throws<ShapeMismatchException>(() => x.Scatter(0, Tensor.FromArray([0L]), Tensor.Zeros(1))).Message);
        Assert.Contains("int64", Assert.Throws<DTypeMismatchException>(() => x.IndexFill(0, Tensor.FromArray([0.0]), 1)).Message);
        Assert.Contains("IndexPut", Assert.Throws<IndexOutOfBoundsException>(() => x.IndexPut([Tensor.FromArray([2L])], Tensor.Zeros(3))).Message);
        Assert.Contains("Multinomial", Assert.Throws<ArgumentException>(() => Tensor.FromArray([0.0, 0.0]).Multinomial(1)).Message);
    }
}
