namespace Fluxion;

/// <summary>
/// Function transforms in the style of JAX and torch.func: gradients, vector-Jacobian and
/// Jacobian-vector products, Jacobians, Hessians and Hessian-vector products of functions of one or
/// several tensors. The transforms compose (Grad of Grad, Jvp of Grad, ...): when an input is itself
/// part of an outer graph or carries forward tangents, the result stays connected to it.
/// </summary>
public static partial class Functional
{
    /// <summary>
    /// Makes a differentiable stand-in for an input: a graph-connected alias when it already requires
    /// grad (so an outer transform still sees through), otherwise a fresh leaf sharing its storage.
    /// Forward tangents are kept either way.
    /// </summary>
    private static Tensor Track(Tensor x)
    {
        x.CheckFloat("Functional");
        if (Op.ReverseTracking(x)) return x.AliasForDual();
        var leaf = x.Detach();
        leaf.RequiresGrad = true;
        x.CopyTangentsTo(leaf);
        return leaf;
    }

    private static bool Nested(Tensor[] xs) => Op.ReverseTracking(xs);

    /// <summary>Checks the output of a function given to a gradient transform is a scalar.</summary>
    private static void CheckScalar(string op, Tensor y)
    {
        if (y.Numel != 1)
            throw new ShapeMismatchException($"{op}: the function must return a scalar (one element), but it returned shape {ShapeUtil.Format(y.Shape)}. Use Vjp or JacRev for non-scalar outputs.");
    }

    /// <summary>The value and the gradients of a scalar function with respect to each input.</summary>
    public static (Tensor Value, Tensor[] Grads) ValueAndGrad(Func<Tensor[], Tensor> f, params Tensor[] xs)
    {
        bool nested = Nested(xs);
        var ts = xs.Select(Track).ToArray();
        Tensor y;
        using (Autograd.EnableGrad()) y = f(ts);
        CheckScalar("Functional.Grad", y);
        if (!y.RequiresGrad) return (y, ts.Select(Tensor.ZerosLike).ToArray());
        var g = Autograd.Grad([y], ts, createGraph: nested, allowUnused: true);
        return (nested ? y : y.Detach(), g.Select((gi, i) => gi ?? Tensor.ZerosLike(xs[i])).ToArray());
    }

    /// <summary>The gradient function of a scalar function of several tensors.</summary>
    public static Func<Tensor[], Tensor[]> Grad(Func<Tensor[], Tensor> f) => xs => ValueAndGrad(f, xs).Grads;

    /// <summary>The gradient function of a scalar function of one tensor.</summary>
    public static Func<Tensor, Tensor> Grad(Func<Tensor, Tensor> f) => x => ValueAndGrad((Tensor[] t) => f(t[0]), x).Grads[0];

    /// <summary>f(xs) and the vector-Jacobian product v^T J for each input.</summary>
    public static (Tensor Output, Tensor[] Vjp) Vjp(Func<Tensor[], Tensor> f, Tensor[] xs, Tensor v)
    {
        bool nested = Nested(xs) || v.RequiresGrad;
        var ts = xs.Select(Track).ToArray();
        Tensor y;
        using (Autograd.EnableGrad()) y = f(ts);
        if (!ShapeUtil.SameShape(v.Shape, y.Shape))
            throw new ShapeMismatchException($"Functional.Vjp: the cotangent has shape {ShapeUtil.Format(v.Shape)} but the output has shape {ShapeUtil.Format(y.Shape)}.");
        if (!y.RequiresGrad) return (y, ts.Select(Tensor.ZerosLike).ToArray());
        var g = Autograd.Grad([y], ts, [v], createGraph: nested, allowUnused: true);
        return (nested ? y : y.Detach(), g.Select((gi, i) => gi ?? Tensor.ZerosLike(xs[i])).ToArray());
    }

    /// <summary>f(xs) and the Jacobian-vector product J·v in one forward pass (forward mode).</summary>
    public static (Tensor Output, Tensor Jvp) Jvp(Func<Tensor[], Tensor> f, Tensor[] xs, Tensor[] tangents)
    {
        if (tangents.Length != xs.Length)
            throw new ArgumentException($"Functional.Jvp: {xs.Length} inputs but {tangents.Length} tangents; give one tangent per input.");
        using var level = ForwardAD.Level();
        var duals = xs.Select((x, i) => ForwardAD.MakeDual(x, tangents[i], level)).ToArray();
        var (y, t) = ForwardAD.Unpack(f(duals), level);
        return (y, t ?? Tensor.ZerosLike(y));
    }

    /// <summary>Jvp for a function of one tensor.</summary>
    public static (Tensor Output, Tensor Jvp) Jvp(Func<Tensor, Tensor> f, Tensor x, Tensor tangent) => Jvp((Tensor[] t) => f(t[0]), [x], [tangent]);

    /// <summary>
    /// Evaluates f once and returns its value and a reusable linear map v ↦ J·v. The map reuses the
    /// recorded graph (by differentiating the VJP u ↦ J^T u, which is linear in u, with respect to u),
    /// so f is not run again.
    /// </summary>
    public static (Tensor Output, Func<Tensor[], Tensor> JvpFn) Linearize(Func<Tensor[], Tensor> f, params Tensor[] xs)
    {
        var ts = xs.Select(Track).ToArray();
        Tensor y;
        using (Autograd.EnableGrad()) y = f(ts);
        if (!y.RequiresGrad) return (y, _ => Tensor.ZerosLike(y));
        var u = Tensor.Zeros(y.ShapeArray, y.DType).RequiresGrad_();
        Tensor?[] jtU;
        using (Autograd.EnableGrad()) jtU = Autograd.Grad([y], ts, [u], retainGraph: true, createGraph: true, allowUnused: true);
        var yv = y.Detach();
        return (yv, vs =>
        {
            if (vs.Length != xs.Length) throw new ArgumentException($"Linearize: {xs.Length} inputs but {vs.Length} tangents.");
            Tensor s;
            using (Autograd.EnableGrad())
            {
                s = Tensor.Scalar(0, y.DType);
                for (int i = 0; i < xs.Length; i++)
                    if (jtU[i] is { } g) s = s + (g * vs[i]).Sum();
                if (!s.RequiresGrad) return Tensor.ZerosLike(yv);
                return Autograd.Grad([s], [u], retainGraph: true, allowUnused: true)[0] ?? Tensor.ZerosLike(yv);
            }
        });
    }

    /// <summary>
    /// Jacobians of f by reverse mode: f runs once, then the VJPs of all m output elements run as one batched
    /// backward (Vmap over the basis cotangents, like torch.func.jacrev), falling back to one VJP per element
    /// when some op of the backward has no batching rule. Result i has shape out.shape + xs[i].shape.
    /// </summary>
    public static Tensor[] JacRev(Func<Tensor[], Tensor> f, params Tensor[] xs)
    {
        bool nested = Nested(xs);
        var ts = xs.Select(Track).ToArray();
        Tensor y;
        using (Autograd.EnableGrad()) y = f(ts);
        int m = y.Numel;
        if (!y.RequiresGrad || m == 0)
            return xs.Select(x => Tensor.Zeros([.. y.ShapeArray, .. x.ShapeArray], x.DType)).ToArray();
        var basis = Tensor.Eye(m, dtype: y.DType).Reshape([m, .. y.ShapeArray]);
        var rows = Vmap(u =>
        {
            var g = Autograd.Grad([y], ts, [u[0]], retainGraph: true, createGraph: nested, allowUnused: true);
            return g.Select((gi, i) => gi ?? Tensor.ZerosLike(xs[i])).ToArray();
        }, [0])([basis]);
        return rows.Select((r, i) => (nested ? r : r.Detach()).Reshape([.. y.ShapeArray, .. xs[i].ShapeArray])).ToArray();
    }

    /// <summary>Jacobian of a function of one tensor by reverse mode.</summary>
    public static Tensor JacRev(Func<Tensor, Tensor> f, Tensor x) => JacRev((Tensor[] t) => f(t[0]), x)[0];

    /// <summary>
    /// Jacobians of f by forward mode: for each input, all its basis directions are carried at once
    /// (vector forward mode, tangent shape [n_i, ...x_i.shape]), so each input costs one forward pass.
    /// Result i has shape out.shape + xs[i].shape.
    /// </summary>
    public static Tensor[] JacFwd(Func<Tensor[], Tensor> f, params Tensor[] xs) => JacFwdCore(f, f, xs);

    /// <summary>The batched JVP programs of JacFwd, per user function (<c>owner</c>: by its closure object, then its method,
    /// since a local function or method group becomes a new delegate at every call): a later call with the same function
    /// reuses them while nothing the function captures and no input changed (see <see cref="VmapCache"/>).</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<object, Dictionary<System.Reflection.MethodInfo, VmapCache>> s_jacFwdPrograms = new();

    private static readonly Dictionary<System.Reflection.MethodInfo, VmapCache> s_staticJacFwdPrograms = [];

    private static VmapCache JacFwdCache(Delegate owner)
    {
        var map = owner.Target is { } target ? s_jacFwdPrograms.GetValue(target, _ => []) : s_staticJacFwdPrograms;
        lock (map)
        {
            if (!map.TryGetValue(owner.Method, out var cache)) map[owner.Method] = cache = new VmapCache();
            return cache;
        }
    }

    private static Tensor[] JacFwdCore(Func<Tensor[], Tensor> f, Delegate owner, Tensor[] xs)
    {
        var result = new Tensor[xs.Length];
        // inputs in a graph: the program's constants would hold this call's graph, so nothing is kept
        var cache = Nested(xs) ? null : JacFwdCache(owner);
        for (int i = 0; i < xs.Length; i++)
        {
            int n = xs[i].Numel;
            // the JVPs of all n basis directions as one batched program (Vmap over Jvp, as torch.func.jacfwd), when every op of
            // it has a batching rule; otherwise vector forward mode below (also one pass, the directions as [n, ...] tangents)
            if (n > 0 && ForwardLevels.ActiveCount == 0 && TryVmapBatched(v =>
                {
                    var ts = xs.Select((x, j) => j == i ? v[0] : Tensor.ZerosLike(x)).ToArray();
                    return [Jvp(f, xs, ts).Jvp];
                }, [Tensor.Eye(n, dtype: xs[i].DType).Reshape([n, .. xs[i].ShapeArray])], cache, [owner, xs], $"jacfwd {i}/{xs.Length}", identityBasis: true) is [var cols])
            {
                // cols is [n, ...out]: column j of the Jacobian is J·e_j
                int outs = cols.Numel / n;
                // the program's constants include the leaves inner transforms made while tracing: keep the result
                // connected to a graph only when the inputs are part of one
                if (!Nested(xs)) cols = cols.Detach();
                result[i] = cols.Reshape(n, outs).T.Reshape([.. cols.ShapeArray[1..], .. xs[i].ShapeArray]);
                continue;
            }
            var tangents = xs.Select((x, j) => j == i
                ? Tensor.Eye(n, dtype: x.DType).Reshape([n, .. x.ShapeArray])
                : Tensor.Zeros([n, .. x.ShapeArray], x.DType)).ToArray();
            Tensor y;
            Tensor? t;
            using (var level = ForwardAD.Level())
            {
                var duals = xs.Select((x, j) => ForwardAD.MakeDual(x, tangents[j], level)).ToArray();
                (y, t) = ForwardAD.Unpack(f(duals), level);
            }
            var outShape = y.ShapeArray;
            int m = y.Numel;
            var jac = t is null ? Tensor.Zeros([m, n], xs[i].DType) : t.Reshape(n, m).T;
            result[i] = jac.Reshape([.. outShape, .. xs[i].ShapeArray]);
        }
        return result;
    }

    /// <summary>Jacobian of a function of one tensor by forward mode.</summary>
    public static Tensor JacFwd(Func<Tensor, Tensor> f, Tensor x) => JacFwdCore(t => f(t[0]), f, [x])[0];

    /// <summary>Hessian-vector product H·v of a scalar function, by forward-over-reverse (a JVP of the gradient).</summary>
    public static Tensor Hvp(Func<Tensor, Tensor> f, Tensor x, Tensor v) => Jvp(Grad(f), x, v).Jvp;

    /// <summary>Hessian-vector products of a scalar function of several tensors (one result per input).</summary>
    public static Tensor[] Hvp(Func<Tensor[], Tensor> f, Tensor[] xs, Tensor[] vs)
    {
        if (vs.Length != xs.Length)
            throw new ArgumentException($"Functional.Hvp: {xs.Length} inputs but {vs.Length} directions; give one direction per input.");
        // one forward-over-reverse pass: the gradients of the dual inputs carry H·v in their tangents
        using var level = ForwardAD.Level();
        var duals = xs.Select((x, i) => ForwardAD.MakeDual(x, vs[i], level)).ToArray();
        var grads = Grad(f)(duals);
        return grads.Select((g, i) => ForwardAD.Unpack(g, level).Tangent ?? Tensor.ZerosLike(xs[i])).ToArray();
    }

    /// <summary>
    /// Runs <paramref name="module"/> on <paramref name="input"/> with the given tensors in place of its parameters and
    /// buffers (by state-dict name, e.g. "0.weight"; those not given keep their own), as torch.func.functional_call. The
    /// module is restored afterwards. Gradients, tangents and Vmap flow to the given tensors, so a module's parameters
    /// can be differentiated as function inputs (<c>Grad(ps =&gt; loss(Call(model, ps, x)))</c>), per sample under Vmap,
    /// or stacked for an ensemble (Vmap over <see cref="StackModuleState"/>).
    /// </summary>
    public static Tensor Call(Nn.Module module, IReadOnlyDictionary<string, Tensor> parameters, IReadOnlyDictionary<string, Tensor>? buffers, Tensor input)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(parameters);
        var restore = module.Substitute(parameters, buffers);
        try { return module.Forward(input); }
        finally { restore(); }
    }

    /// <summary><see cref="Call(Nn.Module, IReadOnlyDictionary{string, Tensor}, IReadOnlyDictionary{string, Tensor}?, Tensor)"/> without buffers.</summary>
    public static Tensor Call(Nn.Module module, IReadOnlyDictionary<string, Tensor> parameters, Tensor input) => Call(module, parameters, null, input);

    /// <summary>
    /// The parameters of several modules of the same architecture stacked along a new dim 0, by name (as
    /// torch.func.stack_module_state): Vmap over them with <see cref="Call(Nn.Module, IReadOnlyDictionary{string, Tensor}, Tensor)"/>
    /// evaluates the whole ensemble in one batched pass. The stacks are detached copies.
    /// </summary>
    public static Dictionary<string, Tensor> StackModuleState(IReadOnlyList<Nn.Module> modules)
    {
        if (modules is null || modules.Count == 0) throw new ArgumentException("StackModuleState: give at least one module.", nameof(modules));
        var names = modules[0].NamedParameters().Select(p => p.Name).ToArray();
        var result = new Dictionary<string, Tensor>();
        foreach (var name in names)
        {
            var parts = modules.Select((m, i) => m.NamedParameters().FirstOrDefault(p => p.Name == name).Parameter
                ?? throw new ArgumentException($"StackModuleState: module {i} ({m.GetType().Name}) has no parameter '{name}'; the modules must have the same architecture.", nameof(modules))).ToArray();
            result[name] = Tensor.Stack([.. parts.Select(p => p.Detach())], 0);
        }
        return result;
    }

    /// <summary>The Hessian of a scalar function of one tensor, shape x.shape + x.shape, by forward-over-reverse.</summary>
    public static Tensor Hessian(Func<Tensor, Tensor> f, Tensor x) => JacFwd(Grad(f), x);
}
