using System.Text;

namespace Fluxion;

/// <summary>The outcome of a gradient check: whether it passed, and the worst mismatch found.</summary>
/// <param name="Passed">True when every compared value was within tolerance.</param>
/// <param name="MaxAbsError">Largest |analytic - numeric| seen.</param>
/// <param name="Comparisons">How many values were compared.</param>
/// <param name="Report">Human-readable description of the first mismatches (empty when passed).</param>
public sealed record GradCheckResult(bool Passed, double MaxAbsError, int Comparisons, string Report);

/// <summary>Raised by <see cref="GradCheck.Assert"/> when analytic and numeric derivatives disagree.</summary>
public sealed class GradCheckException : FluxionException
{
    /// <summary>Creates the exception with a message.</summary>
    public GradCheckException(string message) : base(message) { }
}

/// <summary>
/// Compares analytic derivatives with central finite differences (use float64 inputs). For small
/// inputs and outputs the whole Jacobian is compared entry by entry; for larger ones the output is
/// projected on a random vector u and u^T J is compared per input element, or, for very large
/// inputs, along random input directions (the dot-product test). Second order checks the gradient
/// of r · (u^T J) for random r, which exercises every backward rule's own derivative.
/// </summary>
public static class GradCheck
{
    /// <summary>Collects comparisons of analytic against numeric values under one tolerance.</summary>
    private sealed class Tally(double atol, double rtol)
    {
        private readonly List<string> _errors = new();
        private double _maxErr;
        private int _count;

        public void Compare(string what, double analytic, double numeric)
        {
            _count++;
            double err = Math.Abs(analytic - numeric);
            if (double.IsNaN(analytic) != double.IsNaN(numeric)) err = double.PositiveInfinity;
            if (!(double.IsNaN(analytic) && double.IsNaN(numeric))) _maxErr = Math.Max(_maxErr, err);
            if (err > atol + rtol * Math.Abs(numeric) && _errors.Count < 10)
                _errors.Add($"{what}: analytic {analytic:G10}, numeric {numeric:G10}, |diff| {err:G3}");
        }

        public GradCheckResult Result() => new(_errors.Count == 0, _maxErr, _count, string.Join('\n', _errors));
    }

    /// <summary>Above this many input or output elements the full Jacobian is not formed.</summary>
    public const int FullJacobianLimit = 64;

    /// <summary>Above this many input elements, random input directions replace per-element differences.</summary>
    public const int PerElementLimit = 2048;

    /// <summary>Checks the first derivatives of <paramref name="f"/> at <paramref name="inputs"/> (reverse mode).</summary>
    /// <param name="f">The function; it receives fresh leaf copies of the inputs that require grad.</param>
    /// <param name="inputs">Floating-point inputs (float64 recommended); non-contiguous layouts are preserved.</param>
    /// <param name="eps">Finite-difference step.</param>
    /// <param name="atol">Absolute tolerance.</param>
    /// <param name="rtol">Relative tolerance (relative to the numeric value).</param>
    /// <param name="seed">Seed for the random projections.</param>
    public static GradCheckResult Check(Func<Tensor[], Tensor> f, Tensor[] inputs, double eps = 1e-6, double atol = 1e-5, double rtol = 1e-3, int seed = 1234)
    {
        var gen = new Generator(seed);
        var xs = inputs.Select(Copy).ToArray();
        // Evaluated with grad mode on: f may itself differentiate (second-order checks).
        Tensor Eval() => f(xs);
        var y0 = Eval();
        int nOut = y0.Numel;
        int nIn = xs.Sum(x => x.Numel);
        var tally = new Tally(atol, rtol);
        var Compare = tally.Compare;

        if (nOut <= FullJacobianLimit && nIn <= FullJacobianLimit)
        {
            // Full Jacobian: one backward per output element, two evaluations per input element.
            for (int o = 0; o < nOut; o++)
            {
                var u = Tensor.Zeros(y0.ShapeArray, y0.DType);
                u.SetRaw(o, 1);
                var an = Analytic(f, xs, u);
                for (int i = 0; i < xs.Length; i++)
                    for (int e = 0; e < xs[i].Numel; e++)
                    {
                        double num = Numeric(xs[i], e, eps, () => Eval().ToDoubleArray()[o]);
                        Compare($"d out[{o}] / d input{i}[{e}]", an[i]?.ToDoubleArray()[e] ?? 0, num);
                    }
            }
        }
        else
        {
            var u = Tensor.Randn(y0.ShapeArray, y0.DType, gen);
            var ud = u.ToDoubleArray();
            double Proj() => Dot(Eval().ToDoubleArray(), ud);
            var an = Analytic(f, xs, u);
            if (nIn <= PerElementLimit)
            {
                for (int i = 0; i < xs.Length; i++)
                    for (int e = 0; e < xs[i].Numel; e++)
                        Compare($"(u^T J) for input{i}[{e}]", an[i]?.ToDoubleArray()[e] ?? 0, Numeric(xs[i], e, eps, Proj));
            }
            else
            {
                for (int trial = 0; trial < 3; trial++)
                {
                    var dirs = xs.Select(x => Tensor.Randn(x.ShapeArray, x.DType, gen)).ToArray();
                    double analytic = 0;
                    for (int i = 0; i < xs.Length; i++)
                        if (an[i] is { } gi) analytic += Dot(gi.ToDoubleArray(), dirs[i].ToDoubleArray());
                    double numeric = Directional(xs, dirs, eps, Proj);
                    Compare($"<u^T J, v> along random direction {trial}", analytic, numeric);
                }
            }
        }
        return tally.Result();
    }

    /// <summary>
    /// Checks second derivatives: the gradient (reverse over reverse) of s(x) = Σ_i r_i · (u^T ∂f/∂x_i)
    /// against finite differences of s, for random u and r.
    /// </summary>
    public static GradCheckResult CheckSecondOrder(Func<Tensor[], Tensor> f, Tensor[] inputs, double eps = 1e-6, double atol = 1e-5, double rtol = 1e-3, int seed = 4321)
    {
        var gen = new Generator(seed);
        Tensor y0;
        using (Autograd.NoGrad()) y0 = f(inputs.Select(Copy).ToArray());
        var u = Tensor.Randn(y0.ShapeArray, y0.DType, gen);
        var rs = inputs.Select(x => Tensor.Randn(x.ShapeArray, x.DType, gen)).ToArray();
        Tensor S(Tensor[] xs)
        {
            var y = f(xs);
            var grads = Autograd.Grad([y], xs, [u], createGraph: true, allowUnused: true);
            Tensor s = Tensor.Scalar(0, y.DType);
            for (int i = 0; i < xs.Length; i++)
                if (grads[i] is { } g) s = s + (g * rs[i]).Sum();
            return s;
        }
        return Check(S, inputs, eps, atol, rtol, seed + 1);
    }

    /// <summary>
    /// Checks forward mode: the JVP J·v computed with dual tensors for random tangents v is compared
    /// elementwise with the central difference (f(x + εv) - f(x - εv)) / 2ε, and with reverse mode by
    /// the dot-product test &lt;u, J v&gt; = &lt;J^T u, v&gt;; vector forward mode (two directions carried at
    /// once, tangent shape [2, ...]) must reproduce the two single JVPs.
    /// </summary>
    public static GradCheckResult CheckForward(Func<Tensor[], Tensor> f, Tensor[] inputs, double eps = 1e-6, double atol = 1e-5, double rtol = 1e-3, int seed = 99)
    {
        var gen = new Generator(seed);
        var xs = inputs.Select(Copy).ToArray();
        var vs = xs.Select(x => Tensor.Randn(x.ShapeArray, x.DType, gen)).ToArray();
        Tensor? jv;
        using (var level = ForwardAD.Level())
        {
            var duals = xs.Select((x, i) => ForwardAD.MakeDual(x, vs[i])).ToArray();
            jv = ForwardAD.Unpack(f(duals)).Tangent;
        }
        var y0 = f(xs);
        var jvd = jv?.ToDoubleArray() ?? new double[y0.Numel];
        // numeric directional derivative, elementwise over the output
        var orig = xs.Select(x => Enumerable.Range(0, x.Numel).Select(e => x.GetRaw(StorageIndexOf(x, e))).ToArray()).ToArray();
        void Set(double h)
        {
            for (int i = 0; i < xs.Length; i++)
            {
                var d = vs[i].ToDoubleArray();
                for (int e = 0; e < d.Length; e++) xs[i].SetRaw(StorageIndexOf(xs[i], e), orig[i][e] + h * d[e]);
            }
        }
        Set(eps);
        var fp = f(xs).ToDoubleArray();
        Set(-eps);
        var fm = f(xs).ToDoubleArray();
        Set(0);
        var tally = new Tally(atol, rtol);
        var Compare = tally.Compare;
        for (int o = 0; o < fp.Length; o++)
            Compare($"(J v)[{o}]", jvd[o], (fp[o] - fm[o]) / (2 * eps));
        // vector forward mode: directions [v, w] at once must equal the two single JVPs
        var ws = xs.Select(x => Tensor.Randn(x.ShapeArray, x.DType, gen)).ToArray();
        double[] SingleJvp(Tensor[] dirs)
        {
            using var level = ForwardAD.Level();
            var duals = xs.Select((x, i) => ForwardAD.MakeDual(x, dirs[i])).ToArray();
            return ForwardAD.Unpack(f(duals)).Tangent?.ToDoubleArray() ?? new double[y0.Numel];
        }
        var jw = SingleJvp(ws);
        Tensor? jvw;
        using (var level = ForwardAD.Level())
        {
            var duals = xs.Select((x, i) => ForwardAD.MakeDual(x, Tensor.Stack([vs[i], ws[i]], 0))).ToArray();
            jvw = ForwardAD.Unpack(f(duals)).Tangent;
        }
        if (jvw is not null && (jvw.Rank != y0.Rank + 1 || jvw.Shape[0] != 2))
            Compare($"vector-mode tangent shape {ShapeUtil.Format(jvw.Shape)} (expected [2, ...{ShapeUtil.Format(y0.Shape)}])", 0, 1e300);
        else
        {
            var jvwd = jvw?.ToDoubleArray() ?? new double[2 * y0.Numel];
            for (int o = 0; o < jvd.Length; o++)
            {
                Compare($"vector mode (J [v, w])[0][{o}]", jvwd[o], jvd[o]);
                Compare($"vector mode (J [v, w])[1][{o}]", jvwd[jvd.Length + o], jw[o]);
            }
        }
        // dot-product test against reverse mode
        if (y0.RequiresGrad)
        {
            var u = Tensor.Randn(y0.ShapeArray, y0.DType, gen);
            var vjp = Autograd.Grad([y0], xs, [u], allowUnused: true);
            double lhs = Dot(u.ToDoubleArray(), jvd), rhs = 0;
            for (int i = 0; i < xs.Length; i++)
                if (vjp[i] is { } g) rhs += Dot(g.ToDoubleArray(), vs[i].ToDoubleArray());
            Compare("<u, J v> vs <J^T u, v>", lhs, rhs);
        }
        return tally.Result();
    }

    /// <summary>Like <see cref="Check"/> but throws <see cref="GradCheckException"/> on failure; also runs the
    /// second-order check when <paramref name="secondOrder"/> is true and the forward-mode check
    /// (<see cref="CheckForward"/>) when <paramref name="forwardMode"/> is true.</summary>
    public static void Assert(Func<Tensor[], Tensor> f, Tensor[] inputs, bool secondOrder = true, double eps = 1e-6, double atol = 1e-5, double rtol = 1e-3, bool forwardMode = true)
    {
        if (forwardMode)
        {
            var rf = CheckForward(f, inputs, eps, atol, rtol);
            if (!rf.Passed) throw new GradCheckException($"GradCheck (forward mode) failed: max |diff| {rf.MaxAbsError:G3} over {rf.Comparisons} comparisons.\n{rf.Report}");
        }
        var r = Check(f, inputs, eps, atol, rtol);
        if (!r.Passed) throw new GradCheckException($"GradCheck (first order) failed: max |diff| {r.MaxAbsError:G3} over {r.Comparisons} comparisons.\n{r.Report}");
        if (!secondOrder) return;
        var r2 = CheckSecondOrder(f, inputs, eps, atol, rtol);
        if (!r2.Passed) throw new GradCheckException($"GradCheck (second order) failed: max |diff| {r2.MaxAbsError:G3} over {r2.Comparisons} comparisons.\n{r2.Report}");
    }

    /// <summary>A leaf copy with its own storage and the same layout (shape, strides, offset) as <paramref name="t"/>.</summary>
    private static Tensor Copy(Tensor t)
    {
        t.CheckFloat("GradCheck");
        var data = (Array)t.Storage.RawData.Clone();
        var c = new Tensor(new Storage(data, t.DType), t.ShapeArray, t.Strides.ToArray(), t.Offset);
        c.RequiresGrad = true;
        return c;
    }

    private static Tensor?[] Analytic(Func<Tensor[], Tensor> f, Tensor[] xs, Tensor u)
    {
        var y = f(xs);
        if (!y.RequiresGrad) return new Tensor?[xs.Length];
        return Autograd.Grad([y], xs, [u], allowUnused: true);
    }

    /// <summary>Storage index of element <paramref name="e"/> (row-major) of a view.</summary>
    private static int StorageIndexOf(Tensor x, int e)
    {
        int p = x.Offset;
        var shape = x.Shape;
        var strides = x.Strides;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            p += e % shape[d] * strides[d];
            e /= shape[d];
        }
        return p;
    }

    private static double Numeric(Tensor x, int e, double eps, Func<double> eval)
    {
        int si = StorageIndexOf(x, e);
        double orig = x.GetRaw(si);
        x.SetRaw(si, orig + eps);
        double fp = eval();
        x.SetRaw(si, orig - eps);
        double fm = eval();
        x.SetRaw(si, orig);
        return (fp - fm) / (2 * eps);
    }

    private static double Directional(Tensor[] xs, Tensor[] dirs, double eps, Func<double> eval)
    {
        var orig = xs.Select(x => Enumerable.Range(0, x.Numel).Select(e => x.GetRaw(StorageIndexOf(x, e))).ToArray()).ToArray();
        void Set(double h)
        {
            for (int i = 0; i < xs.Length; i++)
            {
                var d = dirs[i].ToDoubleArray();
                for (int e = 0; e < d.Length; e++) xs[i].SetRaw(StorageIndexOf(xs[i], e), orig[i][e] + h * d[e]);
            }
        }
        Set(eps);
        double fp = eval();
        Set(-eps);
        double fm = eval();
        Set(0);
        return (fp - fm) / (2 * eps);
    }

    private static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }
}
