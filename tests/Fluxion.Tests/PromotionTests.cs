using System.Text.Json;

namespace Fluxion.Tests;

/// <summary>
/// Type promotion as PyTorch's (<see cref="DTypes"/>): every pair of dtypes through Add, Mul, Div, Eq and Where with
/// tensors, 0-d tensors and .NET scalars, against golden/promotion.json (made by tests/golden/make_promotion.py with
/// PyTorch 1.13: torch.result_type and the ops' values); gradients of mixed-dtype ops; in-place casting rules.
/// </summary>
public class PromotionTests
{
    private static readonly Tensor Cond = Tensor.FromArray([true, false, true]);

    /// <summary>An operand of a golden case: a tensor, or a scalar (a double for "float", a long for "int").</summary>
    private sealed record Operand(string Kind, Tensor? T, double D, long L);

    private static Operand Read(JsonElement e)
    {
        var kind = e.GetProperty("kind").GetString()!;
        var v = e.GetProperty("value");
        return kind switch
        {
            "tensor" or "0d" => new(kind, GoldenTensor.Parse(v).ToTensor(), 0, 0),
            "float" => new(kind, null, v.GetDouble(), 0),
            _ => new(kind, null, 0, v.GetInt64()),
        };
    }

    private static DType ParseDType(string name) => name switch
    {
        "float32" => DType.Float32, "float64" => DType.Float64, "int64" => DType.Int64, "bool" => DType.Bool,
        _ => throw new InvalidDataException(name),
    };

    /// <summary>The op of a case as Fluxion spells it, with the scalar overloads a C# user writes.</summary>
    private static Tensor Run(string op, Operand a, Operand b)
    {
        if (a.T is { } ta && b.T is { } tb)
            return op switch
            {
                "add" => ta + tb, "mul" => ta * tb, "div" => ta / tb, "eq" => ta.Eq(tb),
                _ => Tensor.Where(Cond, ta, tb),
            };
        if (a.T is { } t)
            return (op, b.Kind) switch
            {
                ("add", "float") => t + b.D, ("add", _) => t + b.L,
                ("mul", "float") => t * b.D, ("mul", _) => t * b.L,
                ("div", "float") => t / b.D, ("div", _) => t / b.L,
                ("eq", "float") => t.Eq(b.D), ("eq", _) => t.Eq(b.L),
                (_, "float") => Tensor.Where(Cond, t, b.D), _ => Tensor.Where(Cond, t, b.L),
            };
        var s = b.T!;
        return (op, a.Kind) switch
        {
            ("add", "float") => a.D + s, ("add", _) => a.L + s,
            ("mul", "float") => a.D * s, ("mul", _) => a.L * s,
            ("div", "float") => a.D / s, ("div", _) => a.L / s,
            ("eq", "float") => s.Eq(a.D), ("eq", _) => s.Eq(a.L),
            (_, "float") => Tensor.Where(Cond, a.D, s), _ => Tensor.Where(Cond, a.L, s),
        };
    }

    private static DType ResultType(Operand a, Operand b) =>
        a.T is { } ta && b.T is { } tb ? DTypes.ResultType(ta, tb)
        : a.T is { } t ? (b.Kind == "float" ? DTypes.ResultType(t, b.D) : DTypes.ResultType(t, b.L))
        : a.Kind == "float" ? DTypes.ResultType(b.T!, a.D) : DTypes.ResultType(b.T!, a.L);

    private static bool Same(double actual, double expected, DType dtype) =>
        actual.Equals(expected) // NaN, ±inf and exact values
        || Math.Abs(actual - expected) <= (dtype == DType.Float32 ? 1e-6 : 1e-15) * Math.Abs(expected);

    [Fact]
    public void EveryDTypePairPromotesAsPyTorch()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Golden.Directory, "promotion.json")));
        var failures = new List<string>();
        int n = 0;
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            n++;
            var name = c.GetProperty("name").GetString()!;
            var op = c.GetProperty("op").GetString()!;
            Operand a = Read(c.GetProperty("a")), b = Read(c.GetProperty("b"));
            var want = GoldenTensor.Parse(c.GetProperty("output"));
            var wantType = ParseDType(c.GetProperty("result_type").GetString()!);
            if (ResultType(a, b) != wantType)
                failures.Add($"{name}: DTypes.ResultType gives {ResultType(a, b).Name()}, torch.result_type {wantType.Name()}");
            Tensor y;
            try { y = Run(op, a, b); }
            catch (FluxionException e) { failures.Add($"{name}: threw {e.Message}"); continue; }
            var wantDType = ParseDType(want.DType);
            if (y.DType != wantDType || !y.ShapeArray.SequenceEqual(want.Shape))
            {
                failures.Add($"{name}: {y.DType.Name()} {ShapeUtil.Format(y.Shape)}, PyTorch gives {want.DType} {ShapeUtil.Format(want.Shape)}");
                continue;
            }
            var got = y.ToDoubleArray();
            for (int i = 0; i < got.Length; i++)
                if (!Same(got[i], want.Data[i], wantDType))
                {
                    failures.Add($"{name}[{i}]: {got[i]:R}, PyTorch gives {want.Data[i]:R}");
                    break;
                }
        }
        Assert.Equal(440, n);
        Assert.True(failures.Count == 0, $"{failures.Count} of {n} cases differ from PyTorch:\n" + string.Join('\n', failures.Take(40)));
    }

    [Fact]
    public void ScalarsAndZeroDTensorsDoNotWidenATensorOfTheirCategory()
    {
        var f64 = Tensor.FromArray([1.0, 2.0]);
        var f32 = Tensor.FromArray([1f, 2f]);
        var i64 = Tensor.FromArray([1L, 2L]);
        var b = Tensor.FromArray([true, false]);
        Assert.Equal(DType.Float64, (f64 + 1f).DType);
        Assert.Equal(DType.Float32, (f32 + 2.0).DType);
        Assert.Equal(DType.Float32, (f32 + Tensor.Scalar(2.0, DType.Float64)).DType);
        Assert.Equal(DType.Float32, (i64 + 0.5).DType);
        Assert.Equal([1.5f, 2.5f], (i64 + 0.5).ToArray<float>());
        Assert.Equal(DType.Float64, (i64 + Tensor.Scalar(0.5, DType.Float64)).DType);
        Assert.Equal(DType.Int64, (i64 * 3).DType);
        Assert.Equal(DType.Float32, (i64 / 2).DType); // true division
        Assert.Equal(DType.Float32, (i64 + f32).DType);
        Assert.Equal(DType.Int64, (b + i64).DType);
        Assert.Equal(DType.Int64, (b + 1).DType);
        Assert.Equal(DType.Bool, (b + b).DType);
        Assert.Equal(DType.Bool, f32.Lt(f64).DType);
        Assert.Equal(DType.Float32, Tensor.Where(b, 0.5, f32).DType);
        Assert.Equal(DType.Float64, Tensor.Where(b, f32, f64).DType);
        Assert.Equal(DType.Int64, Tensor.Where(b, i64, 0).DType);
        Assert.Equal(DType.Float64, DTypes.Promote(DType.Float32, DType.Float64));
        Assert.Equal(DType.Int64, DTypes.Promote(DType.Bool, DType.Int64));
        Assert.Contains("Sub", Assert.Throws<DTypeMismatchException>(() => b - b).Message);
    }

    [Fact]
    public void SumsProductsAndScansOfIntegersAndBoolsAreInt64()
    {
        var b = Tensor.FromArray([true, false, true, true], 2, 2);
        var i = Tensor.FromArray([3L, -4L, 5L, 6L], 2, 2);
        Assert.Equal(DType.Int64, b.Sum().DType);
        Assert.Equal(3L, b.Sum().ToArray<long>()[0]);
        Assert.Equal([1L, 2L], b.Sum(1).ToArray<long>());
        Assert.Equal([8L, 2L], i.Sum(0).ToArray<long>());
        Assert.Equal(DType.Int64, b.Prod().DType);
        Assert.Equal(-360L, i.Prod().ToArray<long>()[0]);
        Assert.Equal(DType.Int64, b.Cumsum(1).DType);
        Assert.Equal([1L, 1L, 1L, 2L], b.Cumsum(1).ToArray<long>());
        Assert.Equal(DType.Int64, Tensor.Zeros([0], DType.Bool).Sum().DType);
    }

    [Fact]
    public void TheGradientReachingAnInputHasItsDType()
    {
        var a = Tensor.FromArray([0.5f, -1.25f, 2f]).RequiresGrad_();
        var b = Tensor.FromArray([1.5, 0.25, -3.0]).RequiresGrad_();
        var y = a * b + a.Exp() / b;
        Assert.Equal(DType.Float64, y.DType);
        y.Sum().Backward();
        Assert.Equal(DType.Float32, a.Grad!.DType);
        Assert.Equal(DType.Float64, b.Grad!.DType);
        double[] av = [0.5, -1.25, 2], bv = [1.5, 0.25, -3];
        for (int k = 0; k < 3; k++)
        {
            Assert.Equal((float)(bv[k] + Math.Exp((float)av[k]) / bv[k]), a.Grad.ToArray<float>()[k], 5);
            Assert.Equal(av[k] - Math.Exp((float)av[k]) / (bv[k] * bv[k]), b.Grad.ToDoubleArray()[k], 6);
        }
        // integer operands take no gradient; the float operand still does
        var w = Tensor.FromArray([1.0, 2.0, 3.0]).RequiresGrad_();
        (w * Tensor.FromArray([2L, 3L, 4L]) + 1).Sum().Backward();
        Assert.Equal([2.0, 3.0, 4.0], w.Grad!.ToDoubleArray());
    }

    [Fact]
    public void MixedFloat32Float64OpsPassGradCheck()
    {
        // float32 constants are exact in float64, so the checks run at float64 precision through the promoted ops
        var c = Tensor.FromArray([0.75f, -1.5f, 2.25f, 0.5f], 2, 2);
        var s = Tensor.Scalar(1.25f, DType.Float32);
        GradCheck.Assert(t => (t[0] * c + Tensor.Atan2(t[0], c) - Tensor.Where(t[0].Gt(0.0), c, t[0]) / s).Square(),
            [Tensor.FromArray([0.3, -0.8, 1.1, -0.2], 2, 2)]);
        GradCheck.Assert(t => Tensor.Maximum(c, t[0]) * (t[0] + 1f), [Tensor.FromArray([0.35, -0.9, 1.7, 0.1], 2, 2)]);
    }

    [Fact]
    public void InPlaceOpsCastBackOrRefuseAsPyTorch()
    {
        // float64 into a float32 target: computed in float64, written back as float32
        var f = Tensor.FromArray([1f, 2f]);
        f.AddInPlace(Tensor.FromArray([0.5, 0.25]));
        Assert.Equal(DType.Float32, f.DType);
        Assert.Equal([1.5f, 2.25f], f.ToArray<float>());
        // int64 into a float target, and an int scalar into an int64 target, are fine
        f.MulInPlace(Tensor.FromArray([2L, 3L]));
        Assert.Equal([3f, 6.75f], f.ToArray<float>());
        var i = Tensor.FromArray([1L, 2L]);
        i.AddInPlace(3);
        Assert.Equal([4L, 5L], i.ToArray<long>());
        // float into int64: PyTorch's "result type Float can't be cast to the desired output type Long"
        var e = Assert.Throws<DTypeMismatchException>(() => i.AddInPlace(0.5));
        Assert.Contains("AddInPlace", e.Message);
        Assert.Contains("result type float32 can't be cast to the desired output type int64", e.Message);
        Assert.Contains("float64", Assert.Throws<DTypeMismatchException>(() => i.MulInPlace(Tensor.FromArray([1.0, 2.0]))).Message);
        Assert.Throws<DTypeMismatchException>(() => i.DivInPlace(2)); // true division gives float32
        Assert.Throws<DTypeMismatchException>(() => Tensor.FromArray([true]).AddInPlace(1));
        Assert.Equal([4L, 5L], i.ToArray<long>()); // a refused op changes nothing
    }

    [Fact]
    public void InPlaceCastBackKeepsTheGraph()
    {
        var w = Tensor.FromArray([1.0, 2.0]).RequiresGrad_();
        var x = Tensor.FromArray([0.5f, 1.5f]) * 1f; // a float32 non-leaf
        var h = x * w.To(DType.Float32);
        h.AddInPlace(w * w); // float64 added into float32
        Assert.Equal(DType.Float32, h.DType);
        h.Sum().Backward();
        Assert.Equal([0.5 + 2, 1.5 + 4], w.Grad!.ToDoubleArray());
    }
}
