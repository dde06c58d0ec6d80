using Fluxion.Nn;

namespace Fluxion.Cli;

// TEMPORARY: a minimal Adam/SGD until the real optimizers (Fluxion.Optim, branch h-optim) are merged.
// Delete this file then.
internal sealed class LocalOptimizer
{
    private readonly Parameter[] _params;
    private readonly Tensor?[] _m, _v;
    private readonly string _kind;
    private readonly double _lr;
    private int _t;

    public LocalOptimizer(IEnumerable<Parameter> parameters, string kind, double lr)
    {
        _params = parameters.ToArray();
        _m = new Tensor?[_params.Length];
        _v = new Tensor?[_params.Length];
        _kind = kind;
        _lr = lr;
    }

    public void ZeroGrad()
    {
        foreach (var p in _params) p.Grad = null;
    }

    public void Step()
    {
        _t++;
        using var _ = Autograd.NoGrad();
        for (int i = 0; i < _params.Length; i++)
        {
            var p = _params[i];
            if (p.Grad is not { } g) continue;
            if (_kind == "sgd")
            {
                p.SubInPlace(g * _lr);
                continue;
            }
            if (_kind == "adamw") p.MulInPlace(1 - _lr * 0.01);
            var m = _m[i] ??= Tensor.ZerosLike(p);
            var v = _v[i] ??= Tensor.ZerosLike(p);
            m.MulInPlace(0.9).AddInPlace(g * 0.1);
            v.MulInPlace(0.999).AddInPlace(g * g * 0.001);
            double bc1 = 1 - Math.Pow(0.9, _t), bc2 = 1 - Math.Pow(0.999, _t);
            p.SubInPlace(m / bc1 / ((v / bc2).Sqrt() + 1e-8) * _lr);
        }
    }
}
