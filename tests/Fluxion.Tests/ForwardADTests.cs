namespace Fluxion.Tests;

public class ForwardADTests
{
    private static Tensor S(double v) => Tensor.Scalar(v, DType.Float64);

    [Fact]
    public void JvpOfSimpleFunction()
    {
        var x = Tensor.FromArray(new[] { 0.5, 1.0, 2.0 });
        var v = Tensor.FromArray(new[] { 1.0, 0.0, 2.0 });
        using var level = ForwardAD.Level();
        var (y, t) = ForwardAD.Unpack((ForwardAD.MakeDual(x, v).Sin() * 3.0));
        var want = x.Cos().Mul(v).Mul(Tensor.Scalar(3.0, DType.Float64)).ToArray<double>();
        Assert.Equal(want, t!.ToArray<double>());
        Assert.Null(y.GradFnName is null ? null : ForwardAD.Unpack(y).Tangent);
    }

    // d/dx [ x * d/dy (x + y) ] = 1 in all four combinations (no perturbation confusion).

    [Fact]
    public void ForwardOverForward()
    {
        using var outer = ForwardAD.Level();
        var x = ForwardAD.MakeDual(S(2), S(1), outer);
        Tensor r;
        using (var inner = ForwardAD.Level())
        {
            var y = ForwardAD.MakeDual(S(3), S(1), inner);
            var dz = ForwardAD.Unpack(x + y, inner).Tangent!;
            r = x * dz;
        }
        Assert.Equal(1.0, ForwardAD.Unpack(r, outer).Tangent!.Item());
    }

    [Fact]
    public void ForwardOverReverse()
    {
        using var outer = ForwardAD.Level();
        var x = ForwardAD.MakeDual(S(2), S(1), outer);
        var y = S(3).RequiresGrad_();
        var dz = Autograd.Grad(x + y, y, createGraph: true);
        var r = x * dz;
        Assert.Equal(1.0, ForwardAD.Unpack(r, outer).Tangent!.Item());
    }

    [Fact]
    public void ReverseOverForward()
    {
        var x = S(2).RequiresGrad_();
        Tensor r;
        using (var inner = ForwardAD.Level())
        {
            var y = ForwardAD.MakeDual(S(3), S(1), inner);
            var dz = ForwardAD.Unpack(x + y, inner).Tangent!;
            r = x * dz;
        }
        Assert.Equal(1.0, Autograd.Grad(r, x).Item());
    }

    [Fact]
    public void ReverseOverReverse()
    {
        var x = S(2).RequiresGrad_();
        var y = S(3).RequiresGrad_();
        var dz = Autograd.Grad(x + y, y, createGraph: true);
        Assert.Equal(1.0, Autograd.Grad(x * dz, x).Item());
    }

    [Fact]
    public void SecondDerivativeByForwardOverForward()
    {
        // f = x^3: inner tangent 3x^2, its outer tangent 6x
        using var outer = ForwardAD.Level();
        var x0 = ForwardAD.MakeDual(S(2), S(1), outer);
        using var inner = ForwardAD.Level();
        var x = ForwardAD.MakeDual(x0, S(1), inner);
        var d1 = ForwardAD.Unpack(x * x * x, inner).Tangent!;
        Assert.Equal(12.0, d1.Item(), 12);
        Assert.Equal(12.0, ForwardAD.Unpack(d1, outer).Tangent!.Item(), 12);
    }

    [Fact]
    public void ForwardOverReverseHvpEqualsReverseOverReverse()
    {
        var x0 = Tensor.Randn([5], DType.Float64);
        var v = Tensor.Randn([5], DType.Float64);
        static Tensor F(Tensor x) => (x.Sin() * x.Pow(2)).Sum() + x.Exp().Sum().Log();
        // reverse over reverse
        var x = x0.Detach().RequiresGrad_();
        var g = Autograd.Grad(F(x), x, createGraph: true);
        var hvpRR = Autograd.Grad((g * v).Sum(), x);
        // forward over reverse
        Tensor hvpFR;
        using (var level = ForwardAD.Level())
        {
            var xr = x0.Detach().RequiresGrad_();
            var xd = ForwardAD.MakeDual(xr, v);
            var gd = Autograd.Grad(F(xd), xd, createGraph: true);
            hvpFR = ForwardAD.Unpack(gd).Tangent!;
        }
        var a = hvpRR.ToArray<double>();
        var b = hvpFR.ToArray<double>();
        for (int i = 0; i < a.Length; i++) Assert.Equal(a[i], b[i], 10);
    }

    [Fact]
    public void MisuseIsReported()
    {
        var x = Tensor.Zeros(3);
        Assert.Throws<AutogradException>(() => ForwardAD.MakeDual(x, Tensor.Zeros(3)));
        DualLevel lv;
        Tensor d;
        using (lv = ForwardAD.Level())
        {
            Assert.Throws<ShapeMismatchException>(() => ForwardAD.MakeDual(x, Tensor.Zeros(4)));
            d = ForwardAD.MakeDual(x, Tensor.Ones(3)) * 2.0;
        }
        var ex = Assert.Throws<AutogradException>(() => ForwardAD.Unpack(d, lv));
        Assert.Contains("exited", ex.Message);
    }

    [Fact]
    public void InPlaceOpsKeepPrimalAndTangentConsistent()
    {
        using var level = ForwardAD.Level();
        var x = ForwardAD.MakeDual(Tensor.FromArray(new[] { 1.0, 2.0 }), Tensor.FromArray(new[] { 1.0, 1.0 }));
        var y = x * 1.0;
        y.MulInPlace(3.0);
        y.AddInPlace(x);
        var (p, t) = ForwardAD.Unpack(y);
        Assert.Equal(new[] { 4.0, 8.0 }, p.ToArray<double>());
        Assert.Equal(new[] { 4.0, 4.0 }, t!.ToArray<double>());
    }
}

public class VectorForwardModeTests
{
    [Fact]
    public void KTangentsInOnePassEqualKSinglePasses()
    {
        var x = Tensor.Randn([3, 4], DType.Float64);
        var w = Tensor.Randn([4, 2], DType.Float64);
        var v = Tensor.Randn([5, 3, 4], DType.Float64);
        static Tensor F(Tensor x, Tensor w) => (x.MatMul(w).Tanh() + x.Sum(1, keepDim: true)).Softmax(-1).Log().Mean(0);
        Tensor batched;
        using (var level = ForwardAD.Level())
        {
            var (_, t) = ForwardAD.Unpack(F(ForwardAD.MakeDual(x, v), w));
            batched = t!;
            Assert.Equal(5, level.BatchSize);
        }
        Assert.Equal(new[] { 5, 2 }, batched.ShapeArray);
        for (int j = 0; j < 5; j++)
        {
            var single = Functional.Jvp(t => F(t, w), x, v.Select(0, j)).Jvp.ToArray<double>();
            var got = batched.Select(0, j).ToArray<double>();
            for (int o = 0; o < single.Length; o++) Assert.Equal(single[o], got[o], 12);
        }
    }

    [Fact]
    public void MixingBatchedAndPlainDualsInOneLevelIsAnError()
    {
        using var level = ForwardAD.Level();
        ForwardAD.MakeDual(Tensor.Zeros(3), Tensor.Ones(2, 3));
        var ex = Assert.Throws<ShapeMismatchException>(() => ForwardAD.MakeDual(Tensor.Zeros(3), Tensor.Ones(3)));
        Assert.Contains("same number of directions", ex.Message);
    }

    [Fact]
    public void JacFwdUsesOnePassPerInput()
    {
        var x = Tensor.Randn([4], DType.Float64);
        var jf = Functional.JacFwd((Tensor t) => t.Sin() * t.Sum(), x);
        var jr = Functional.JacRev((Tensor t) => t.Sin() * t.Sum(), x);
        Assert.Equal(new[] { 4, 4 }, jf.ShapeArray);
        var a = jf.ToArray<double>();
        var b = jr.ToArray<double>();
        for (int i = 0; i < a.Length; i++) Assert.Equal(b[i], a[i], 12);
    }
}

public class BroadcastTangentTests
{
    public static TheoryData<string> Ops => new() { "Add", "Sub", "Mul", "Div", "Remainder", "Maximum", "Pow" };

    private static Tensor Apply(string op, Tensor a, Tensor b) => op switch
    {
        "Add" => a + b,
        "Sub" => a - b,
        "Mul" => a * b,
        "Div" => a / b,
        "Remainder" => a % b,
        "Maximum" => Tensor.Maximum(a, b),
        _ => a.Pow(b),
    };

    /// <summary>Only the broadcast operand carries a tangent: the output tangent still has the output's shape.</summary>
    [Theory]
    [MemberData(nameof(Ops))]
    public void TangentOfTheBroadcastOperandOnly(string op)
    {
        var big = Tensor.Uniform([3, 4], 2.0, 3.0, DType.Float64);
        var small = Tensor.Uniform([4], 0.5, 1.5, DType.Float64);
        var r1 = GradCheck.CheckForward(t => Apply(op, big, t[0]), [small]);
        Assert.True(r1.Passed, r1.Report);
        var r2 = GradCheck.CheckForward(t => Apply(op, t[0], big), [small]);
        Assert.True(r2.Passed, r2.Report);
    }
}
