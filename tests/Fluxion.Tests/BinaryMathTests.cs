namespace Fluxion.Tests;

/// <summary>
/// The binary family (atan2, hypot, copysign, fmod, floor_divide, fmax/fmin, clamp_min/max, xlogy, logaddexp(2),
/// heaviside, isclose, logical_xor, lerp, addcmul, addcdiv) against PyTorch (golden/binary.json, made by
/// tests/golden/make_binary.py), and the SIMD fast paths of the comparisons and of fmod/remainder against scalar
/// references on every layout (contiguous, scalar either side, broadcast, strided; NaN, ±0, inf; int64, bool).
/// </summary>
public class BinaryMathTests
{
    /// <summary>The golden ops' calls, generated from the registry (no hand-kept table).</summary>
    private static readonly IReadOnlyDictionary<string, GoldenFamily.OpFn> Ops = GoldenFamily.FromRegistry("binary");

    public static IEnumerable<object[]> Cases() => GoldenFamily.Cases("binary");

    [Fact]
    public void EveryGoldenOpIsMapped() => Assert.Empty(GoldenFamily.Unmapped("binary", Ops));

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorch(string id) => GoldenFamily.Run(id, Ops);

    [Fact]
    public void RegistersTheTorchNames()
    {
        var names = OpRegistry.All.SelectMany(d => d.Torch).ToHashSet();
        foreach (var t in new[] { "atan2", "hypot", "copysign", "fmod", "floor_divide", "fmax", "fmin", "clamp_min", "clamp_max", "xlogy",
                     "heaviside", "isclose", "logical_xor", "logaddexp", "logaddexp2", "lerp", "addcmul", "addcdiv" })
            Assert.Contains(t, names);
        foreach (var n in new[] { "FloorDivide", "Heaviside", "IsClose", "LogicalXor" })
            Assert.False(OpRegistry.Find(n)!.Differentiable);
    }

    // ---- signed zeros, edge values, errors ------------------------------------------------------

    private static bool IsNegZero(double v) => v == 0 && double.IsNegative(v);

    [Fact]
    public void SignedZerosFollowPyTorch()
    {
        foreach (var dt in new[] { DType.Float32, DType.Float64 })
        {
            var a = Tensor.FromArray([-4.0, 4.0, -0.0, 0.0], 4).To(dt);
            var b = Tensor.FromArray([2.0, -2.0, 3.0, -3.0], 4).To(dt);
            // torch.fmod/remainder: [-0, 0, -0, 0] (a zero result keeps the dividend's sign in both)
            var f = Tensor.Fmod(a, b).ToDoubleArray();
            var r = Tensor.Remainder(a, b).ToDoubleArray();
            Assert.True(IsNegZero(f[0]) && !IsNegZero(f[1]) && IsNegZero(f[2]) && !IsNegZero(f[3]));
            Assert.True(IsNegZero(r[0]) && !IsNegZero(r[1]) && IsNegZero(r[2]) && !IsNegZero(r[3]));
            var q = Tensor.FloorDivide(Tensor.FromArray([-0.0, 1.0, -1.0, 0.0], 4).To(dt), Tensor.FromArray([3.0, 0.0, 0.0, 0.0], 4).To(dt)).ToDoubleArray();
            Assert.True(IsNegZero(q[0]));
            Assert.Equal(double.PositiveInfinity, q[1]);
            Assert.Equal(double.NegativeInfinity, q[2]);
            Assert.True(double.IsNaN(q[3]));
            var c = Tensor.Copysign(Tensor.FromArray([1.0, 2.0], 2).To(dt), Tensor.FromArray([-0.0, 0.0], 2).To(dt)).ToDoubleArray();
            Assert.Equal([-1.0, 2.0], c);
            var h = Tensor.Heaviside(Tensor.FromArray([-0.0, double.NaN], 2).To(dt), Tensor.FromArray([0.5, 0.5], 2).To(dt)).ToDoubleArray();
            Assert.Equal([0.5, 0.0], h);
        }
    }

    [Fact]
    public void IntegerForms()
    {
        var a = Tensor.FromArray([7L, -7, 7, -7, long.MinValue, 0], 6);
        var b = Tensor.FromArray([2L, 2, -2, -2, -1, 5], 6);
        Assert.Equal([3L, -4, -4, 3, long.MinValue, 0], Tensor.FloorDivide(a, b).ToArray<long>());
        Assert.Equal([1L, -1, 1, -1, 0, 0], Tensor.Fmod(a, b).ToArray<long>());
        Assert.Equal([1L, 1, -1, -1, 0, 0], Tensor.Remainder(a, b).ToArray<long>());
        Assert.Throws<ArgumentException>(() => Tensor.Remainder(Tensor.FromArray([1L, 2], 2), Tensor.FromArray([1L, 0], 2)));
        var zero = Tensor.FromArray([1L, 0], 2);
        var e1 = Assert.Throws<ArgumentException>(() => Tensor.FloorDivide(Tensor.FromArray([1L, 2], 2), zero));
        Assert.Contains("FloorDivide", e1.Message);
        Assert.Throws<ArgumentException>(() => Tensor.Fmod(Tensor.FromArray([1L, 2], 2), zero));
        Assert.Equal([0L, 9, 1], Tensor.Heaviside(Tensor.FromArray([-3L, 0, 4], 3), Tensor.Scalar(9, DType.Int64)).ToArray<long>());
        Assert.Equal([true, true, false], Tensor.Heaviside(Tensor.FromArray([true, false, false], 3), Tensor.FromArray([false, true, false], 3)).ToArray<bool>());
    }

    [Fact]
    public void BadInputsSayWhatIsWrong()
    {
        var x = Tensor.FromArray([1.0, 2.0], 2);
        Assert.Throws<ArgumentException>(() => Tensor.IsClose(x, x, rtol: -1));
        Assert.Throws<ArgumentException>(() => Tensor.IsClose(x, x, atol: double.NaN));
        Assert.Equal(DType.Float64, Tensor.Atan2(x, x.To(DType.Float32)).DType); // promoted, as PyTorch
        Assert.Throws<DTypeMismatchException>(() => Tensor.Lerp(x, x.To(DType.Float32), x)); // PyTorch's lerp does not promote
        Assert.Throws<DTypeMismatchException>(() => Tensor.Hypot(Tensor.FromArray([1L], 1), Tensor.FromArray([1L], 1)));
        var e = Assert.Throws<ShapeMismatchException>(() => Tensor.Fmax(x, Tensor.FromArray([1.0, 2.0, 3.0], 3)));
        Assert.Contains("Fmax", e.Message);
        Assert.Throws<DTypeMismatchException>(() => Tensor.FromArray([1.0], 1).Gt(0.0) ^ Tensor.FromArray([1.0], 1));
        Assert.Throws<ShapeMismatchException>(() => Tensor.Lerp(x, x, Tensor.FromArray([1.0, 2.0, 3.0], 3)));
    }

    [Fact]
    public void LogicalXorTakesAnyDTypes()
    {
        var a = Tensor.FromArray([0.0, double.NaN, 2.0, -0.0], 4);
        var b = Tensor.FromArray([0L, 0, 1, 1], 4);
        Assert.Equal([false, true, false, true], Tensor.LogicalXor(a, b).ToArray<bool>());
        var p = Tensor.FromArray([true, false], 2, 1);
        var q = Tensor.FromArray([true, false, true], 3);
        Assert.Equal([false, true, false, true, false, true], (p ^ q).ToArray<bool>());
        Assert.Equal([true, false, true, false, false, false], (p & q).ToArray<bool>());
        Assert.Equal([true, true, true, true, false, true], (p | q).ToArray<bool>());
        Assert.Equal([false, true], (!p).ToArray<bool>());
        Assert.Throws<DTypeMismatchException>(() => p & Tensor.FromArray([1.0], 1));
        Assert.Equal([false, false, true, false], Tensor.LogicalAnd(a, b).ToArray<bool>());
        Assert.Equal([true, false, false, true], a.LogicalNot().ToArray<bool>());
    }

    [Fact]
    public void NonDifferentiableOpsGiveNoGradient()
    {
        var a = Tensor.FromArray([1.5, -2.5], 2).RequiresGrad_();
        var b = Tensor.FromArray([0.5, 1.0], 2).RequiresGrad_();
        Assert.False(Tensor.FloorDivide(a, b).RequiresGrad);
        Assert.False(Tensor.Heaviside(a, b).RequiresGrad);
        Assert.Equal(DType.Bool, Tensor.IsClose(a, b).DType);
    }

    [Fact]
    public void CopysignGivesTheSignOperandAZeroGradient()
    {
        var a = Tensor.FromArray([1.0, 0.0, -2.0], 3).RequiresGrad_();
        var b = Tensor.FromArray([-1.0, 1.0, -3.0], 3).RequiresGrad_();
        var g = Autograd.Grad([Tensor.Copysign(a, b).Sum()], [a, b]);
        Assert.Equal([-1.0, 0.0, 1.0], g[0]!.ToDoubleArray());
        Assert.Equal([0.0, 0.0, 0.0], g[1]!.ToDoubleArray());
    }

    /// <summary>Forward mode follows PyTorch's JVP rules, which differ from the reverse ones on ties for fmax
    /// (tangent of b) and send no tangent through NaN for clamp (values from torch.autograd.forward_ad).</summary>
    [Fact]
    public void TangentsAtTiesAndNaNFollowPyTorch()
    {
        double nan = double.NaN;
        (Func<Tensor, Tensor, Tensor> F, double[] Want)[] cases =
        [
            (Tensor.Fmax, [10, 1, 10, 10]),
            (Tensor.Fmin, [1, 1, 10, 1]),
            (Tensor.ClampMin, [1, 10, 10, 10]),
            (Tensor.ClampMax, [1, 10, 10, 1]),
        ];
        foreach (var (f, want) in cases)
        {
            using var level = ForwardAD.Level();
            var a = ForwardAD.MakeDual(Tensor.FromArray([1.0, 2.0, nan, 3.0], 4), Tensor.FromArray([1.0, 1, 1, 1], 4));
            var b = ForwardAD.MakeDual(Tensor.FromArray([1.0, nan, 1.0, 5.0], 4), Tensor.FromArray([10.0, 10, 10, 10], 4));
            Assert.Equal(want, ForwardAD.Unpack(f(a, b)).Tangent!.ToDoubleArray());
        }
        using (ForwardAD.Level())
        {
            var x = ForwardAD.MakeDual(Tensor.FromArray([0.0, 0.0, 2.0], 3), Tensor.FromArray([1.0, 1, 1], 3));
            var y = ForwardAD.MakeDual(Tensor.FromArray([2.0, 0.0, 3.0], 3), Tensor.FromArray([1.0, 1, 1], 3));
            var t = ForwardAD.Unpack(Tensor.Xlogy(x, y)).Tangent!.ToDoubleArray();
            Assert.Equal(Math.Log(2), t[0], 12);
            Assert.True(double.IsNaN(t[1]));
            Assert.Equal(Math.Log(3) + 2.0 / 3, t[2], 12);
        }
        // reverse mode at the same points (PyTorch: fmax ties -> a; clamp: no gradient through NaN)
        var ra = Tensor.FromArray([1.0, 2.0, nan, 3.0], 4).RequiresGrad_();
        var rb = Tensor.FromArray([1.0, nan, 1.0, 5.0], 4).RequiresGrad_();
        var g = Autograd.Grad([Tensor.Fmax(ra, rb).Sum()], [ra, rb]);
        Assert.Equal([1.0, 1, 0, 0], g[0]!.ToDoubleArray());
        Assert.Equal([0.0, 0, 1, 1], g[1]!.ToDoubleArray());
        g = Autograd.Grad([Tensor.ClampMin(ra, rb).Sum()], [ra, rb]);
        Assert.Equal([1.0, 0, 0, 0], g[0]!.ToDoubleArray());
        Assert.Equal([0.0, 0, 0, 1], g[1]!.ToDoubleArray());
    }

    // ---- comparison fast paths against a scalar reference -----------------------------------------

    private static readonly (string Name, Func<Tensor, Tensor, Tensor> Op, Func<double, double, bool> Ref)[] Comparisons =
    [
        ("Gt", (a, b) => a.Gt(b), (p, q) => p > q),
        ("Ge", (a, b) => a.Ge(b), (p, q) => p >= q),
        ("Lt", (a, b) => a.Lt(b), (p, q) => p < q),
        ("Le", (a, b) => a.Le(b), (p, q) => p <= q),
        ("Eq", (a, b) => a.Eq(b), (p, q) => p == q),
        ("Ne", (a, b) => a.Ne(b), (p, q) => p != q),
    ];

    private static double[] Values(int n, int seed, bool special = true)
    {
        var rng = new Random(seed);
        double[] specials = [double.NaN, 0.0, -0.0, double.PositiveInfinity, double.NegativeInfinity, 1.0, -1.0];
        var v = new double[n];
        for (int i = 0; i < n; i++)
            v[i] = special && rng.Next(5) == 0 ? specials[rng.Next(specials.Length)] : Math.Round(rng.NextDouble() * 8 - 4, 1);
        return v;
    }

    /// <summary>The expected result of a broadcast comparison, element by element over logical values.</summary>
    private static bool[] Reference(Tensor a, Tensor b, Func<double, double, bool> f)
    {
        var shape = ShapeUtil.Broadcast("ref", a.ShapeArray, b.ShapeArray);
        var ea = a.Expand(shape).ToDoubleArray();
        var eb = b.Expand(shape).ToDoubleArray();
        return [.. ea.Select((v, i) => f(v, eb[i]))];
    }

    private static void CheckCompare(Tensor a, Tensor b, string what)
    {
        foreach (var (name, op, f) in Comparisons)
        {
            var got = op(a, b).ToArray<bool>();
            var want = Reference(a, b, f);
            Assert.True(want.SequenceEqual(got), $"{name} {what} [{a.DType.Name()}, {ShapeUtil.Format(a.Shape)} vs {ShapeUtil.Format(b.Shape)}]: " +
                $"first difference at {Enumerable.Range(0, want.Length).FirstOrDefault(i => i >= got.Length || want[i] != got[i])}");
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(31)]
    [InlineData(32)]
    [InlineData(33)]
    [InlineData(100)]
    [InlineData(1031)]
    public void ComparisonFastPathsMatchTheScalarDefinition(int n)
    {
        foreach (var dt in new[] { DType.Float32, DType.Float64 })
        {
            var a = Tensor.FromArray(Values(n, 1), n).To(dt);
            var b = Tensor.FromArray(Values(n, 2), n).To(dt);
            var tie = Tensor.Where(Tensor.FromArray(Values(n, 3, special: false), n).Gt(0.0), a, b);
            CheckCompare(a, b, "contiguous");
            CheckCompare(a, tie, "ties");
            foreach (var s in new[] { 0.5, double.NaN, -0.0, double.PositiveInfinity })
            {
                CheckCompare(a, Tensor.Scalar(s, dt), $"scalar {s}");
                CheckCompare(Tensor.Scalar(s, dt), a, $"scalar-left {s}");
                CheckCompare(a, Tensor.Full([1], s, dt), $"one-element {s}");
            }
        }
        var ia = Tensor.FromArray(Values(n, 4, special: false).Select(v => (long)(v * 3)).ToArray(), n);
        var ib = Tensor.FromArray(Values(n, 5, special: false).Select(v => (long)(v * 3)).ToArray(), n);
        CheckCompare(ia, ib, "int64");
        CheckCompare(ia, Tensor.Scalar(2, DType.Int64), "int64 scalar");
        var ba = ia.Gt(0L.ToScalar());
        var bb = ib.Lt(0L.ToScalar());
        CheckCompare(ba, bb, "bool");
        CheckCompare(ba, Tensor.FromArray([true], 1), "bool scalar");
    }

    [Fact]
    public void IntegerTensorsCompareWithFractionalScalarsAsPyTorch()
    {
        var x = Tensor.FromArray([-2L, -1, 0, 1, 2], 5);
        Assert.Equal([false, false, true, true, true], x.Gt(-0.5).ToArray<bool>());
        Assert.Equal([false, false, false, true, true], x.Ge(0.5).ToArray<bool>());
        Assert.Equal([true, true, true, false, false], x.Lt(0.5).ToArray<bool>());
        Assert.Equal([true, true, false, false, false], x.Le(-0.5).ToArray<bool>());
        Assert.Equal(new bool[5], x.Eq(0.5).ToArray<bool>());
        Assert.Equal(new bool[5], x.Lt(double.NaN).ToArray<bool>());
        Assert.Equal([true, true, true, true, true], x.Ne(double.NaN).ToArray<bool>());
        Assert.Equal([true, true, true, true, true], x.Lt(1e30).ToArray<bool>());
        Assert.Equal([false, false, true, false, false], x.Eq(0).ToArray<bool>());
        var b = Tensor.FromArray([true, false], 2);
        Assert.Equal([true, false], b.Gt(0.5).ToArray<bool>());
        Assert.Equal([false, true], b.Lt(1).ToArray<bool>());
    }

    [Fact]
    public void ComparisonBroadcastAndStridedPathsMatch()
    {
        foreach (var dt in new[] { DType.Float32, DType.Float64 })
        {
            var m = Tensor.FromArray(Values(37 * 70, 6), 37, 70).To(dt);
            var n = Tensor.FromArray(Values(70 * 37, 7), 70, 37).To(dt);
            CheckCompare(m, n.T, "transposed");
            CheckCompare(m.Slice(1, 0, null, 2), n.T.Slice(1, 1, null, 2), "step-2 slices");
            CheckCompare(m, Tensor.FromArray(Values(70, 8), 70).To(dt), "row broadcast");
            CheckCompare(Tensor.FromArray(Values(37, 9), 37, 1).To(dt), m, "column broadcast");
            CheckCompare(Tensor.FromArray(Values(37, 10), 37, 1, 1).To(dt), Tensor.FromArray(Values(70, 11), 1, 70).To(dt), "outer");
            CheckCompare(m.Slice(0, 3, 20), Tensor.Scalar(0.5, dt), "offset view vs scalar");
            CheckCompare(Tensor.Zeros([0, 4], dt), Tensor.Zeros([1, 4], dt), "empty");
        }
        var big = Tensor.FromArray([1L << 62, (1L << 53) + 1, long.MinValue, long.MaxValue, -5, 3, 9, 1L << 40, 0], 9);
        var near = Tensor.FromArray([(1L << 62) - 1, 1L << 53, long.MinValue, long.MaxValue - 1, -5, 4, 8, (1L << 40) + 1, 0], 9);
        // exact int64 comparison (through doubles 2^53 + 1 == 2^53 and 2^62 - 1 == 2^62)
        Assert.Equal([true, true, false, true, false, false, true, false, false], big.Gt(near).ToArray<bool>());
        Assert.Equal([false, false, true, false, true, false, false, false, true], big.Eq(near).ToArray<bool>());
        var bigMany = Tensor.Cat([big, big, big, big, big, big, big, big], 0);
        var nearMany = Tensor.Cat([near, near, near, near, near, near, near, near], 0);
        Assert.Equal(Enumerable.Repeat(big.Ne(near).ToArray<bool>(), 8).SelectMany(x => x), bigMany.Ne(nearMany).ToArray<bool>());
        var bools = Tensor.FromArray(Enumerable.Range(0, 200).Select(i => i % 3 == 0).ToArray(), 20, 10);
        CheckCompare(bools, bools.T.Contiguous().T, "bool strided");
        CheckCompare(bools.T, Tensor.FromArray(Enumerable.Range(0, 20).Select(i => i % 2 == 0).ToArray(), 20), "bool broadcast");
    }

    // ---- fmod / remainder fast paths against exact references ---------------------------------------

    private static double RefRemainder(double a, double b)
    {
        double r = a % b; // IEEE fmod, exact
        return r != 0 && (r < 0) != (b < 0) ? r + b : r;
    }

    private static float RefRemainder(float a, float b)
    {
        float r = a % b;
        return r != 0 && (r < 0) != (b < 0) ? r + b : r;
    }

    /// <summary>Dividends and divisors that stress the fast path: random magnitudes over many binades, exact and near
    /// multiples (one ulp either side), huge quotients, zeros of both signs, infinities, NaN and subnormals.</summary>
    private static (double[] A, double[] B) FmodOperands(int n, int seed)
    {
        var rng = new Random(seed);
        double[] specials = [0.0, -0.0, double.PositiveInfinity, double.NegativeInfinity, double.NaN, 5e-324, 1e-310, 1e-45, 3e38, 1e300];
        var a = new double[n];
        var b = new double[n];
        for (int i = 0; i < n; i++)
        {
            double Rand() => (rng.Next(2) == 0 ? -1 : 1) * Math.Pow(2, rng.Next(-30, 40)) * (1 + rng.NextDouble());
            b[i] = rng.Next(12) == 0 ? specials[rng.Next(specials.Length)] * (rng.Next(2) == 0 ? 1 : -1) : Rand();
            switch (rng.Next(6))
            {
                case 0: a[i] = specials[rng.Next(specials.Length)]; break;
                case 1: a[i] = Math.Round(Rand()) * b[i]; break; // exact multiple (when representable)
                case 2: a[i] = Math.BitIncrement(rng.Next(-1000, 1000) * b[i]); break;
                case 3: a[i] = Math.BitDecrement(rng.Next(-1000, 1000) * b[i]); break;
                default: a[i] = Rand(); break;
            }
        }
        return (a, b);
    }

    private static void AssertBitwise(double[] want, double[] got, string what)
    {
        for (int i = 0; i < want.Length; i++)
            Assert.True(BitConverter.DoubleToInt64Bits(want[i]) == BitConverter.DoubleToInt64Bits(got[i]) || (double.IsNaN(want[i]) && double.IsNaN(got[i])),
                $"{what}[{i}]: {got[i]:R}, expected {want[i]:R}");
    }

    [Theory]
    [InlineData(5)]
    [InlineData(64)]
    [InlineData(4099)]
    public void FmodAndRemainderAreExactOnEveryPath(int n)
    {
        var (a, b) = FmodOperands(n, n);
        // float64
        var ta = Tensor.FromArray(a, n);
        var tb = Tensor.FromArray(b, n);
        AssertBitwise([.. a.Select((v, i) => v % b[i])], Tensor.Fmod(ta, tb).ToDoubleArray(), "fmod f64");
        AssertBitwise([.. a.Select((v, i) => RefRemainder(v, b[i]))], Tensor.Remainder(ta, tb).ToDoubleArray(), "remainder f64");
        foreach (double s in new[] { 0.1, -3.0, 1e-300, double.PositiveInfinity, 0.0, 7.5e15 })
        {
            AssertBitwise([.. a.Select(v => v % s)], Tensor.Fmod(ta, Tensor.Scalar(s, DType.Float64)).ToDoubleArray(), $"fmod f64 by {s}");
            AssertBitwise([.. a.Select(v => RefRemainder(v, s))], ta.Remainder(s).ToDoubleArray(), $"remainder f64 by {s}");
            AssertBitwise([.. b.Select(v => RefRemainder(s, v))], Tensor.Remainder(Tensor.Scalar(s, DType.Float64), tb).ToDoubleArray(), $"remainder f64 of {s}");
        }
        // float32 (operands rounded to float; references in float)
        var fa = a.Select(v => (float)v).ToArray();
        var fb = b.Select(v => (float)v).ToArray();
        var ua = Tensor.FromArray(fa, n);
        var ub = Tensor.FromArray(fb, n);
        AssertBitwise([.. fa.Select((v, i) => (double)(v % fb[i]))], Tensor.Fmod(ua, ub).ToDoubleArray(), "fmod f32");
        AssertBitwise([.. fa.Select((v, i) => (double)RefRemainder(v, fb[i]))], Tensor.Remainder(ua, ub).ToDoubleArray(), "remainder f32");
        foreach (float s in new[] { 0.1f, -3f, 1e-40f, float.NegativeInfinity, -0f, 3e7f })
        {
            AssertBitwise([.. fa.Select(v => (double)(v % s))], ua.Fmod(s).ToDoubleArray(), $"fmod f32 by {s}");
            AssertBitwise([.. fa.Select(v => (double)RefRemainder(v, s))], ua.Remainder(s).ToDoubleArray(), $"remainder f32 by {s}");
            AssertBitwise([.. fb.Select(v => (double)RefRemainder(s, v))], Tensor.Remainder(Tensor.Scalar(s), ub).ToDoubleArray(), $"remainder f32 of {s}");
        }
        // strided and broadcast (row kernel with strides 1/0, and the scalar loop)
        if (n >= 64)
        {
            int rows = n / 32;
            var ma = Tensor.FromArray(fa[..(rows * 32)], rows, 32);
            var mb = Tensor.FromArray(fb[..(rows * 32)], rows, 32);
            var viewA = ma.T.Contiguous().T; // same values, column-major
            AssertBitwise(Tensor.Remainder(ma, mb).ToDoubleArray(), Tensor.Remainder(viewA, mb).ToDoubleArray(), "remainder f32 strided");
            var row = mb.Slice(0, 0, 1);
            var want = Tensor.Remainder(ma, row.Expand(rows, 32).Contiguous()).ToDoubleArray();
            AssertBitwise(want, Tensor.Remainder(ma, row).ToDoubleArray(), "remainder f32 broadcast");
            AssertBitwise(want, Tensor.Remainder(ma.Slice(1, 0, null, 1), row.Reshape(32)).ToDoubleArray(), "remainder f32 broadcast 1-d");
        }
    }

    [Fact]
    public void FloorDivideMatchesPythonOnRandomOperands()
    {
        var (a, b) = FmodOperands(2000, 77);
        var q = Tensor.FloorDivide(Tensor.FromArray(a, a.Length), Tensor.FromArray(b, b.Length)).ToDoubleArray();
        for (int i = 0; i < a.Length; i++)
        {
            if (!double.IsFinite(a[i]) || !double.IsFinite(b[i]) || b[i] == 0 || Math.Abs(a[i] / b[i]) > 1e15) continue;
            // Python: a // b == (a - a % b) / b, rounded; for moderate quotients floor(a / b) up to exact-multiple rounding
            double mod = RefRemainder(a[i], b[i]);
            double want = Math.Round((a[i] - mod) / b[i]);
            Assert.True(q[i] == want || (q[i] == 0 && want == 0), $"{a[i]:R} // {b[i]:R}: {q[i]:R}, expected {want:R}");
        }
    }
}

internal static class LongScalarExtensions
{
    /// <summary>A 0-d int64 tensor.</summary>
    public static Tensor ToScalar(this long v) => Tensor.Scalar(v, DType.Int64);
}
