using System.Globalization;
using System.Numerics;

namespace Fluxion.Optim;

/// <summary>
/// Limited-memory BFGS (PyTorch's <c>torch.optim.LBFGS</c>, after minFunc): each <see cref="Step(Func{Tensor})"/>
/// runs up to max_iter quasi-Newton iterations on the closure's loss, with the inverse Hessian approximated
/// from the last history_size (s, y) pairs by the two-loop recursion, and steps either of fixed size lr
/// (the first one scaled by min(1, 1/‖g‖₁)) or chosen by a strong-Wolfe line search (cubic interpolation,
/// c1 = 1e-4, c2 = 0.9, at most 25 evaluations).
/// <para>All parameters form one group; they are treated as one flat vector (row-major, in order).
/// Internal vectors are kept in float64. Group options: lr, max_iter, max_eval, tolerance_grad,
/// tolerance_change, history_size, line_search_fn (0 = none, 1 = strong_wolfe).</para>
/// </summary>
public sealed class LBFGS : Optimizer
{
    private readonly int _n;

    // global state (PyTorch keeps it as the state of the first parameter)
    private int _funcEvals, _nIter;
    private double[]? _d, _prevFlatGrad;
    private double _t, _hDiag = 1, _prevLoss;
    private readonly List<double[]> _oldDirs = new(), _oldStps = new();
    private readonly List<double> _ro = new();

    /// <summary>L-BFGS over <paramref name="parameters"/>.</summary>
    /// <param name="parameters">The tensors to optimize.</param>
    /// <param name="lr">Learning rate: the step size (fixed steps) or the line search's initial step.</param>
    /// <param name="maxIter">Maximum iterations per <see cref="Step(Func{Tensor})"/>.</param>
    /// <param name="maxEval">Maximum closure evaluations per step (default maxIter·5/4).</param>
    /// <param name="toleranceGrad">Stop when max |gradient| ≤ this (first-order optimality).</param>
    /// <param name="toleranceChange">Stop when the step or the loss change is below this.</param>
    /// <param name="historySize">Number of (s, y) pairs kept.</param>
    /// <param name="lineSearchFn">null (fixed step) or "strong_wolfe".</param>
    public LBFGS(IEnumerable<Tensor> parameters, double lr = 1, int maxIter = 20, int? maxEval = null, double toleranceGrad = 1e-7,
        double toleranceChange = 1e-9, int historySize = 100, string? lineSearchFn = null)
        : base("LBFGS", SingleGroup(parameters), new()
        {
            ["lr"] = lr, ["max_iter"] = maxIter, ["max_eval"] = maxEval ?? maxIter * 5 / 4, ["tolerance_grad"] = toleranceGrad,
            ["tolerance_change"] = toleranceChange, ["history_size"] = historySize, ["line_search_fn"] = LineSearchCode(lineSearchFn),
        })
    {
        foreach (var p in Parameters) _n += p.Numel;
    }

    private static double LineSearchCode(string? fn) => fn switch
    {
        null => 0,
        "strong_wolfe" => 1,
        _ => throw new ArgumentException($"LBFGS: unknown line_search_fn '{fn}'; use null (fixed step) or \"strong_wolfe\".", nameof(fn)),
    };

    private protected override string? AddGroupError(int existingGroups) =>
        existingGroups >= 1 ? "L-BFGS does not support several parameter groups (all parameters form one group)" : null;

    private protected override string? OptionError(string key, double value) => key switch
    {
        "lr" => NonNegative("learning rate lr", value),
        "max_iter" => PositiveInt("max_iter", value),
        "max_eval" => PositiveInt("max_eval", value),
        "history_size" => PositiveInt("history_size", value),
        "tolerance_grad" => NonNegative("tolerance_grad", value),
        "tolerance_change" => NonNegative("tolerance_change", value),
        "line_search_fn" => value is 0 or 1 ? null : $"invalid line_search_fn code {Fmt(value)}; use 0 (none) or 1 (strong_wolfe)",
        _ => null,
    };

    /// <summary>Not available: L-BFGS re-evaluates the loss several times per step; use <see cref="Step(Func{Tensor})"/>.</summary>
    public override void Step() =>
        throw new InvalidOperationException("LBFGS.Step needs a closure that recomputes the loss: call Step(() => { opt.ZeroGrad(); var loss = ...; loss.Backward(); return loss; }).");

    /// <summary>
    /// Runs up to max_iter L-BFGS iterations. <paramref name="closure"/> must zero the gradients, compute
    /// the loss (a one-element tensor), call Backward() and return the loss; it is called with grad mode on.
    /// Returns the loss of the first evaluation.
    /// </summary>
    public override Tensor Step(Func<Tensor> closure)
    {
        ArgumentNullException.ThrowIfNull(closure);
        var o = ParamGroups[0].RawOptions;
        double lr = o["lr"], tolGrad = o["tolerance_grad"], tolChange = o["tolerance_change"];
        int maxIter = (int)o["max_iter"], maxEval = (int)o["max_eval"], historySize = (int)o["history_size"];
        bool strongWolfe = o["line_search_fn"] == 1;

        var origLoss = Evaluate(closure, out double loss);
        int currentEvals = 1;
        _funcEvals++;
        var flatGrad = GatherFlatGrad();
        if (MaxAbs(flatGrad) <= tolGrad) return origLoss;

        var d = _d ?? new double[_n];
        double t = _t;
        int nIter = 0;
        while (nIter < maxIter)
        {
            nIter++;
            _nIter++;

            // direction
            if (_nIter == 1)
            {
                for (int i = 0; i < _n; i++) d[i] = -flatGrad[i];
                _oldDirs.Clear();
                _oldStps.Clear();
                _ro.Clear();
                _hDiag = 1;
            }
            else
            {
                double[] y, s;
                if (_oldDirs.Count == historySize) { y = _oldDirs[0]; s = _oldStps[0]; }  // reused if the pair is dropped
                else { y = new double[_n]; s = new double[_n]; }
                for (int i = 0; i < _n; i++)
                {
                    y[i] = flatGrad[i] - _prevFlatGrad![i];
                    s[i] = d[i] * t;
                }
                double ys = Dot(y, s);
                if (ys > 1e-10)
                {
                    if (_oldDirs.Count == historySize)
                    {
                        _oldDirs.RemoveAt(0);
                        _oldStps.RemoveAt(0);
                        _ro.RemoveAt(0);
                    }
                    _oldDirs.Add(y);
                    _oldStps.Add(s);
                    _ro.Add(1.0 / ys);
                    _hDiag = ys / Dot(y, y);
                }
                int numOld = _oldDirs.Count;
                var al = new double[numOld];
                for (int i = 0; i < _n; i++) d[i] = -flatGrad[i];  // q
                for (int k = numOld - 1; k >= 0; k--)
                {
                    al[k] = Dot(_oldStps[k], d) * _ro[k];
                    Axpy(-al[k], _oldDirs[k], d);
                }
                for (int i = 0; i < _n; i++) d[i] *= _hDiag;  // r = d
                for (int k = 0; k < numOld; k++)
                {
                    double be = Dot(_oldDirs[k], d) * _ro[k];
                    Axpy(al[k] - be, _oldStps[k], d);
                }
            }
            _prevFlatGrad ??= new double[_n];
            Array.Copy(flatGrad, _prevFlatGrad, _n);
            _prevLoss = loss;

            // step length
            if (_nIter == 1)
            {
                double sum = 0;
                foreach (var v in flatGrad) sum += Math.Abs(v);
                t = Math.Min(1.0, 1.0 / sum) * lr;
            }
            else t = lr;

            double gtd = Dot(flatGrad, d);
            if (gtd > -tolChange) break;

            int lsEvals;
            bool optCond = false;
            if (strongWolfe)
            {
                var xInit = SnapshotParams();
                (loss, flatGrad, t, lsEvals) = StrongWolfe(closure, xInit, t, d, loss, flatGrad, gtd, tolChange);
                AddToParams(t, d);
                optCond = MaxAbs(flatGrad) <= tolGrad;
            }
            else
            {
                AddToParams(t, d);
                lsEvals = 0;
                if (nIter != maxIter)
                {
                    Evaluate(closure, out loss);
                    flatGrad = GatherFlatGrad();
                    optCond = MaxAbs(flatGrad) <= tolGrad;
                    lsEvals = 1;
                }
            }
            currentEvals += lsEvals;
            _funcEvals += lsEvals;

            if (nIter == maxIter) break;
            if (currentEvals >= maxEval) break;
            if (optCond) break;
            double maxStep = 0;
            for (int i = 0; i < _n; i++) maxStep = Math.Max(maxStep, Math.Abs(d[i] * t));
            if (maxStep <= tolChange) break;
            if (Math.Abs(loss - _prevLoss) < tolChange) break;
        }
        _d = d;
        _t = t;
        return origLoss;
    }

    // ---- line search ----------------------------------------------------------------------------

    private (double F, double[] G, double T, int Evals) StrongWolfe(Func<Tensor> closure, double[] x, double t, double[] d,
        double f, double[] g, double gtd, double tolChange, double c1 = 1e-4, double c2 = 0.9, int maxLs = 25)
    {
        double dNorm = MaxAbs(d);
        g = (double[])g.Clone();
        var (fNew, gNew) = DirectionalEvaluate(closure, x, t, d);
        int evals = 1;
        double gtdNew = Dot(gNew, d);

        double tPrev = 0, fPrev = f, gtdPrev = gtd;
        double[] gPrev = g;
        bool done = false;
        int lsIter = 0;
        double[] br = new double[2], brF = new double[2], brGtd = new double[2];
        double[][] brG = new double[2][];
        int len = 0;
        while (lsIter < maxLs)
        {
            if (fNew > f + c1 * t * gtd || (lsIter > 1 && fNew >= fPrev))
            {
                (br[0], br[1], brF[0], brF[1], brG[0], brG[1], brGtd[0], brGtd[1]) = (tPrev, t, fPrev, fNew, gPrev, gNew, gtdPrev, gtdNew);
                len = 2;
                break;
            }
            if (Math.Abs(gtdNew) <= -c2 * gtd)
            {
                (br[0], brF[0], brG[0]) = (t, fNew, gNew);
                len = 1;
                done = true;
                break;
            }
            if (gtdNew >= 0)
            {
                (br[0], br[1], brF[0], brF[1], brG[0], brG[1], brGtd[0], brGtd[1]) = (tPrev, t, fPrev, fNew, gPrev, gNew, gtdPrev, gtdNew);
                len = 2;
                break;
            }
            double minStep = t + 0.01 * (t - tPrev), maxStep = t * 10, tmp = t;
            t = CubicInterpolate(tPrev, fPrev, gtdPrev, t, fNew, gtdNew, minStep, maxStep);
            tPrev = tmp;
            fPrev = fNew;
            gPrev = gNew;
            gtdPrev = gtdNew;
            (fNew, gNew) = DirectionalEvaluate(closure, x, t, d);
            evals++;
            gtdNew = Dot(gNew, d);
            lsIter++;
        }
        if (lsIter == maxLs)
        {
            (br[0], br[1], brF[0], brF[1], brG[0], brG[1]) = (0, t, f, fNew, g, gNew);
            len = 2;
        }

        // zoom: refine the bracket until a point satisfies the strong Wolfe conditions
        bool insufProgress = false;
        int low = brF[0] <= brF[len - 1] ? 0 : 1, high = 1 - low;
        while (!done && lsIter < maxLs)
        {
            if (Math.Abs(br[1] - br[0]) * dNorm < tolChange) break;
            double lo = Math.Min(br[0], br[1]), hi = Math.Max(br[0], br[1]);
            t = CubicInterpolate(br[0], brF[0], brGtd[0], br[1], brF[1], brGtd[1], lo, hi);
            double eps = 0.1 * (hi - lo);
            if (Math.Min(hi - t, t - lo) < eps)
            {
                if (insufProgress || t >= hi || t <= lo)
                {
                    t = Math.Abs(t - hi) < Math.Abs(t - lo) ? hi - eps : lo + eps;
                    insufProgress = false;
                }
                else insufProgress = true;
            }
            else insufProgress = false;

            (fNew, gNew) = DirectionalEvaluate(closure, x, t, d);
            evals++;
            gtdNew = Dot(gNew, d);
            lsIter++;

            if (fNew > f + c1 * t * gtd || fNew >= brF[low])
            {
                (br[high], brF[high], brG[high], brGtd[high]) = (t, fNew, gNew, gtdNew);
                (low, high) = brF[0] <= brF[1] ? (0, 1) : (1, 0);
            }
            else
            {
                if (Math.Abs(gtdNew) <= -c2 * gtd) done = true;
                else if (gtdNew * (br[high] - br[low]) >= 0)
                    (br[high], brF[high], brG[high], brGtd[high]) = (br[low], brF[low], brG[low], brGtd[low]);
                (br[low], brF[low], brG[low], brGtd[low]) = (t, fNew, gNew, gtdNew);
            }
        }
        return (brF[low], brG[low], br[low], evals);
    }

    /// <summary>Minimizer of the cubic through (x1, f1, g1) and (x2, f2, g2), clamped to [lo, hi]; the midpoint when it has none.</summary>
    private static double CubicInterpolate(double x1, double f1, double g1, double x2, double f2, double g2, double lo, double hi)
    {
        double d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2);
        double d2Square = d1 * d1 - g1 * g2;
        if (d2Square >= 0)
        {
            double d2 = Math.Sqrt(d2Square);
            double minPos = x1 <= x2
                ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
                : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
            return Math.Min(Math.Max(minPos, lo), hi);
        }
        return (lo + hi) / 2;
    }

    private (double F, double[] G) DirectionalEvaluate(Func<Tensor> closure, double[] x, double t, double[] d)
    {
        AddToParams(t, d);
        Evaluate(closure, out double loss);
        var g = GatherFlatGrad();
        RestoreParams(x);
        return (loss, g);
    }

    // ---- flat-vector helpers --------------------------------------------------------------------

    private Tensor Evaluate(Func<Tensor> closure, out double value)
    {
        Tensor loss;
        using (Autograd.EnableGrad()) loss = closure();
        if (loss is null || loss.Numel != 1)
            throw new ArgumentException($"LBFGS: the closure must return the loss as a one-element tensor, but it returned {(loss is null ? "null" : "a tensor of shape " + ShapeUtil.Format(loss.Shape))}.");
        using (Autograd.NoGrad()) value = loss.Item();
        return loss;
    }

    private double[] GatherFlatGrad()
    {
        var flat = new double[_n];
        int off = 0;
        foreach (var p in Parameters)
        {
            if (p.Grad is { } g)
            {
                if (g.DType == DType.Float32)
                {
                    var s = g.DenseSpan<float>();
                    for (int i = 0; i < s.Length; i++) flat[off + i] = s[i];
                }
                else g.DenseSpan<double>().CopyTo(flat.AsSpan(off));
            }
            off += p.Numel;
        }
        return flat;
    }

    private void AddToParams(double t, double[] d)
    {
        int off = 0;
        foreach (var p in Parameters)
        {
            if (p.DType == DType.Float32) AddTo<float>(p, t, d, off);
            else AddTo<double>(p, t, d, off);
            off += p.Numel;
        }
    }

    private static void AddTo<T>(Tensor p, double t, double[] d, int off) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var ps = BeginParam<T>(p, out var scratch);
        for (int i = 0; i < ps.Length; i++) ps[i] += T.CreateChecked(t * d[off + i]);
        EndParam(p, scratch);
    }

    private double[] SnapshotParams()
    {
        var x = new double[_n];
        int off = 0;
        foreach (var p in Parameters)
        {
            if (p.DType == DType.Float32)
            {
                var s = p.DenseSpan<float>();
                for (int i = 0; i < s.Length; i++) x[off + i] = s[i];
            }
            else p.DenseSpan<double>().CopyTo(x.AsSpan(off));
            off += p.Numel;
        }
        return x;
    }

    private void RestoreParams(double[] x)
    {
        int off = 0;
        foreach (var p in Parameters)
        {
            if (p.DType == DType.Float32) Restore<float>(p, x, off);
            else Restore<double>(p, x, off);
            off += p.Numel;
        }
    }

    private static void Restore<T>(Tensor p, double[] x, int off) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var ps = BeginParam<T>(p, out var scratch);
        for (int i = 0; i < ps.Length; i++) ps[i] = T.CreateChecked(x[off + i]);
        EndParam(p, scratch);
    }

    private static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }

    private static void Axpy(double alpha, double[] x, double[] y)
    {
        for (int i = 0; i < y.Length; i++) y[i] += alpha * x[i];
    }

    private static double MaxAbs(double[] a)
    {
        double m = 0;
        foreach (var v in a)
        {
            double av = Math.Abs(v);
            if (av > m || double.IsNaN(av)) m = av;
        }
        return m;
    }

    // ---- state dict -----------------------------------------------------------------------------

    private static Tensor Vec(double[] v) => Tensor.FromArray((double[])v.Clone(), v.Length);

    private protected override void ExportState(Dictionary<string, Tensor> t, Dictionary<string, double> s)
    {
        if (_funcEvals == 0 && _nIter == 0 && _d is null) return;
        s["state.0.func_evals"] = _funcEvals;
        s["state.0.n_iter"] = _nIter;
        if (_d is null) return;
        t["state.0.d"] = Vec(_d);
        t["state.0.prev_flat_grad"] = Vec(_prevFlatGrad!);
        s["state.0.t"] = _t;
        s["state.0.H_diag"] = _hDiag;
        s["state.0.prev_loss"] = _prevLoss;
        for (int k = 0; k < _oldDirs.Count; k++)
        {
            t[$"state.0.old_dirs.{k}"] = Vec(_oldDirs[k]);
            t[$"state.0.old_stps.{k}"] = Vec(_oldStps[k]);
            s[$"state.0.ro.{k}"] = _ro[k];
        }
    }

    private protected override Action Import(IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, double> scalars,
        IReadOnlyList<Dictionary<string, double>>? groupOptions, List<string> errors)
    {
        double? funcEvals = null, nIter = null, t = null, hDiag = null, prevLoss = null;
        double[]? d = null, prevFlatGrad = null;
        var dirs = new SortedDictionary<int, double[]>();
        var stps = new SortedDictionary<int, double[]>();
        var ros = new SortedDictionary<int, double>();
        static bool Indexed(string field, string prefix, out int k)
        {
            k = -1;
            return field.StartsWith(prefix, StringComparison.Ordinal)
                && int.TryParse(field[prefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out k);
        }
        foreach (var (key, v) in scalars)
        {
            if (key.StartsWith("param_groups.", StringComparison.Ordinal)) continue;
            if (!key.StartsWith("state.0.", StringComparison.Ordinal)) { errors.Add($"'{key}': unexpected key (LBFGS keeps its state under 'state.0.*')"); continue; }
            var field = key["state.0.".Length..];
            switch (field)
            {
                case "func_evals": funcEvals = v; break;
                case "n_iter": nIter = v; break;
                case "t": t = v; break;
                case "H_diag": hDiag = v; break;
                case "prev_loss": prevLoss = v; break;
                default:
                    if (Indexed(field, "ro.", out int k)) ros[k] = v;
                    else errors.Add($"'{key}': LBFGS has no scalar state named '{field}'");
                    break;
            }
        }
        foreach (var (key, tensor) in tensors)
        {
            if (!key.StartsWith("state.0.", StringComparison.Ordinal)) { errors.Add($"'{key}': unexpected tensor key (LBFGS keeps its state under 'state.0.*')"); continue; }
            var field = key["state.0.".Length..];
            if (tensor is null || tensor.Rank != 1 || tensor.Numel != _n || !tensor.DType.IsFloatingPoint())
            {
                errors.Add($"'{key}': expected a float vector of {_n} elements (all parameters flattened), got {(tensor is null ? "null" : $"shape {ShapeUtil.Format(tensor.Shape)} dtype {tensor.DType.Name()}")}");
                continue;
            }
            var values = tensor.ToDoubleArray();
            if (field == "d") d = values;
            else if (field == "prev_flat_grad") prevFlatGrad = values;
            else if (Indexed(field, "old_dirs.", out int k)) dirs[k] = values;
            else if (Indexed(field, "old_stps.", out k)) stps[k] = values;
            else errors.Add($"'{key}': LBFGS has no state tensor named '{field}'");
        }
        static bool Count(double? v) => v is null || (v >= 0 && v == Math.Floor(v.Value) && v <= int.MaxValue);
        if (!Count(funcEvals)) errors.Add($"state.0.func_evals {Fmt(funcEvals!.Value)} must be a non-negative integer");
        if (!Count(nIter)) errors.Add($"state.0.n_iter {Fmt(nIter!.Value)} must be a non-negative integer");
        bool hasDirection = d is not null || prevFlatGrad is not null || t is not null || hDiag is not null || prevLoss is not null
            || dirs.Count + stps.Count + ros.Count > 0;
        if (hasDirection)
        {
            foreach (var (name, present) in new[] { ("d", d is not null), ("prev_flat_grad", prevFlatGrad is not null), ("t", t is not null),
                         ("H_diag", hDiag is not null), ("prev_loss", prevLoss is not null), ("n_iter", nIter is not null) })
                if (!present) errors.Add($"state.0.{name} is missing (the state has other iteration state)");
            int count = dirs.Count;
            if (stps.Count != count || ros.Count != count)
                errors.Add($"history lengths differ: {count} old_dirs, {stps.Count} old_stps, {ros.Count} ro");
            foreach (var keys in new[] { dirs.Keys, stps.Keys, ros.Keys.AsEnumerable() })
                if (keys.Select((k, i) => k != i).Any(x => x)) { errors.Add("history entries must be numbered 0, 1, ... without gaps"); break; }
            if (groupOptions is { Count: 1 } && count > groupOptions[0]["history_size"])
                errors.Add($"the state holds {count} history pairs but history_size is {Fmt(groupOptions[0]["history_size"])}");
        }
        return () =>
        {
            _funcEvals = (int)(funcEvals ?? 0);
            _nIter = (int)(nIter ?? 0);
            _d = d;
            _prevFlatGrad = prevFlatGrad;
            _t = t ?? 0;
            _hDiag = hDiag ?? 1;
            _prevLoss = prevLoss ?? 0;
            _oldDirs.Clear();
            _oldStps.Clear();
            _ro.Clear();
            _oldDirs.AddRange(dirs.Values);
            _oldStps.AddRange(stps.Values);
            _ro.AddRange(ros.Values);
        };
    }
}
