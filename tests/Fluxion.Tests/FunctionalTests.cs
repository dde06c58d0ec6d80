namespace Fluxion.Tests;

public class FunctionalTests
{
    private static Tensor D(params double[] v) => Tensor.FromArray(v);

    private static Tensor Rosenbrock(Tensor x)
    {
        var a = x.Slice(0, 0, -1);
        var b = x.Slice(0, 1);
        return (100.0 * (b - a * a).Square() + (1.0 - a).Square()).Sum();
    }

    /// <summary>Hessian by central differences of the reverse-mode gradient.</summary>
    private static double[,] FiniteDifferenceHessian(Func<Tensor, Tensor> f, Tensor x, double eps = 1e-5)
    {
        int n = x.Numel;
        var h = new double[n, n];
        var grad = Functional.Grad(f);
        for (int j = 0; j < n; j++)
        {
            var xp = x.Clone();
            xp.SetRaw(j, x.Get(j) + eps);
            var xm = x.Clone();
            xm.SetRaw(j, x.Get(j) - eps);
            var gp = grad(xp).ToArray<double>();
            var gm = grad(xm).ToArray<double>();
            for (int i = 0; i < n; i++) h[i, j] = (gp[i] - gm[i]) / (2 * eps);
        }
        return h;
    }

    private static void AssertHessian(Func<Tensor, Tensor> f, Tensor x, double tol)
    {
        var hess = Functional.Hessian(f, x);
        int n = x.Numel;
        Assert.Equal(new[] { n, n }, hess.ShapeArray);
        var fd = FiniteDifferenceHessian(f, x);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                Assert.True(Math.Abs(hess.Get(i, j) - fd[i, j]) <= tol * (1 + Math.Abs(fd[i, j])), $"H[{i},{j}] = {hess.Get(i, j)} vs {fd[i, j]}");
    }

    [Fact]
    public void RosenbrockHessianMatchesFiniteDifferences()
    {
        AssertHessian(Rosenbrock, D(-1.2, 1.0, 0.5, 0.8), 1e-5);
        // closed form at the minimum (1, 1): [[802, -400], [-400, 200]]
        var h = Functional.Hessian(Rosenbrock, D(1, 1));
        Assert.Equal(new[] { 802.0, -400, -400, 200 }, h.ToArray<double>().Select(v => Math.Round(v, 9)).ToArray());
    }

    [Fact]
    public void MlpLossHessianMatchesFiniteDifferences()
    {
        var gen = new Generator(3);
        var xb = Tensor.Randn([5, 3], DType.Float64, gen);
        var target = Tensor.Randn([5, 2], DType.Float64, gen);
        var w2 = Tensor.Randn([4, 2], DType.Float64, gen);
        // parameters of the first layer flattened into one vector: W1 (3x4) and b1 (4)
        Tensor Loss(Tensor p)
        {
            var w1 = p.Slice(0, 0, 12).Reshape(3, 4);
            var b1 = p.Slice(0, 12, 16);
            var hdn = (xb.MatMul(w1) + b1).Tanh();
            return (hdn.MatMul(w2) - target).Square().Mean();
        }
        AssertHessian(Loss, Tensor.Randn([16], DType.Float64, gen) * 0.5, 1e-5);
    }

    [Fact]
    public void TransformsOnFunctionsOfSeveralTensors()
    {
        var a = D(1, 2, 3);
        var b = D(0.5, -1, 2);
        static Tensor F(Tensor[] t) => (t[0] * t[1].Exp()).Sum();
        var (value, grads) = Functional.ValueAndGrad(F, a, b);
        Assert.Equal((a * b.Exp()).Sum().Item(), value.Item(), 12);
        Assert.Equal(b.Exp().ToArray<double>(), grads[0].ToArray<double>());
        Assert.Equal((a * b.Exp()).ToArray<double>(), grads[1].ToArray<double>());

        static Tensor G(Tensor[] t) => t[0] * t[1].Sin();
        var v = D(1, 1, 1);
        var (_, vjp) = Functional.Vjp(G, [a, b], v);
        Assert.Equal(b.Sin().ToArray<double>(), vjp[0].ToArray<double>());
        var (_, jvp) = Functional.Jvp(G, [a, b], [D(1, 0, 0), D(0, 1, 0)]);
        Assert.Equal(new[] { Math.Sin(0.5), 2 * Math.Cos(-1), 0 }, jvp.ToArray<double>());

        var jr = Functional.JacRev(G, a, b);
        var jf = Functional.JacFwd(G, a, b);
        Assert.Equal(new[] { 3, 3 }, jr[1].ShapeArray);
        Assert.Equal(jr[0].ToArray<double>(), jf[0].ToArray<double>());
        for (int i = 0; i < 9; i++) Assert.Equal(jr[1].ToArray<double>()[i], jf[1].ToArray<double>()[i], 12);
    }

    [Fact]
    public void LinearizeReusesTheGraph()
    {
        var x = D(0.3, -0.7, 1.1);
        int calls = 0;
        Tensor F(Tensor[] t) { calls++; return t[0].Tanh() * t[0]; }
        var (y, jvpFn) = Functional.Linearize(F, x);
        Assert.Equal(1, calls);
        for (int k = 0; k < 3; k++)
        {
            var v = Tensor.Randn([3], DType.Float64);
            var want = Functional.Jvp(t => F([t]), x, v).Jvp.ToArray<double>();
            var got = jvpFn([v]).ToArray<double>();
            for (int i = 0; i < 3; i++) Assert.Equal(want[i], got[i], 12);
        }
        Assert.Equal(x.Tanh().Mul(x).ToArray<double>(), y.ToArray<double>());
    }

    [Fact]
    public void HvpForwardOverReverseEqualsReverseOverReverse()
    {
        var x = Tensor.Randn([6], DType.Float64);
        var v = Tensor.Randn([6], DType.Float64);
        var fr = Functional.Hvp(Rosenbrock, x, v).ToArray<double>();
        var xr = x.Detach().RequiresGrad_();
        var g = Autograd.Grad(Rosenbrock(xr), xr, createGraph: true);
        var rr = Autograd.Grad((g * v).Sum(), xr).ToArray<double>();
        for (int i = 0; i < 6; i++) Assert.Equal(rr[i], fr[i], 9);
    }

    [Fact]
    public void GradOfGradComposes()
    {
        var d1 = Functional.Grad((Tensor x) => (x * x * x).Sum());
        var d2 = Functional.Grad((Tensor x) => d1(x).Sum());
        Assert.Equal(new[] { 12.0, -6.0 }, d2(D(2, -1)).ToArray<double>());
    }

    [Fact]
    public void NewtonsMethodConvergesInAFewSteps()
    {
        // strictly convex: f(x) = sum(log(1 + exp(a_i . x))) + 0.5 |x|^2 - c . x over 10 variables
        var gen = new Generator(11);
        var a = Tensor.Randn([20, 10], DType.Float64, gen) * 0.5;
        var c = Tensor.Randn([10], DType.Float64, gen);
        Tensor F(Tensor x) => a.MatMul(x).Softplus().Sum() + 0.5 * (x * x).Sum() - (c * x).Sum();
        var x = Tensor.Zeros([10], DType.Float64);
        var grad = Functional.Grad(F);
        double gnorm = double.MaxValue;
        for (int it = 0; it < 6 && gnorm > 1e-12; it++)
        {
            var g = grad(x).ToArray<double>();
            var h = Functional.Hessian(F, x);
            var step = Solve(h, g);
            x = x - Tensor.FromArray(step);
            gnorm = Math.Sqrt(grad(x).ToArray<double>().Sum(v => v * v));
        }
        Assert.True(gnorm < 1e-10, $"gradient norm after Newton steps: {gnorm}");
    }

    /// <summary>Gaussian elimination with partial pivoting: solves H s = g.</summary>
    private static double[] Solve(Tensor h, double[] g)
    {
        int n = g.Length;
        var m = new double[n, n + 1];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++) m[i, j] = h.Get(i, j);
            m[i, n] = g[i];
        }
        for (int col = 0; col < n; col++)
        {
            int piv = col;
            for (int r = col + 1; r < n; r++) if (Math.Abs(m[r, col]) > Math.Abs(m[piv, col])) piv = r;
            for (int j = 0; j <= n; j++) (m[col, j], m[piv, j]) = (m[piv, j], m[col, j]);
            for (int r = 0; r < n; r++)
            {
                if (r == col) continue;
                double f = m[r, col] / m[col, col];
                for (int j = col; j <= n; j++) m[r, j] -= f * m[col, j];
            }
        }
        return Enumerable.Range(0, n).Select(i => m[i, n] / m[i, i]).ToArray();
    }
}
