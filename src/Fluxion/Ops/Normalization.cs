namespace Fluxion;

// Normalizations. One fused primitive, ChannelNorm, standardizes each channel c of a [A, C, S] view
// (batch norm: [N, C, spatial]; layer/group/instance norm: [1, rows, size]) with its batch statistics
// or with given (running) statistics, and applies an optional per-channel affine. Its first-order VJPs
// run fused kernels; when a graph must be recorded (createGraph, or dual tensors) the VJPs and the JVP
// are the same formulas written with differentiable ops, so every order of derivative is exact.
// Running statistics are updated in place without autograd, as PyTorch does.
public partial class Tensor
{
    /// <summary>(x − mean) · rsqrt(var + eps) with the population variance over <paramref name="dims"/> (kept as size 1), by ops.</summary>
    private static (Tensor XHat, Tensor InvStd) Standardize(Tensor x, int[] dims, double eps)
    {
        var mean = x.Mean(dims, keepDim: true);
        var invstd = (x.Var(dims, correction: 0, keepDim: true) + eps).Rsqrt();
        return ((x - mean) * invstd, invstd);
    }

    /// <summary>
    /// The normalization primitive on x3 [A, C, S]: y = (x − mean_c)·invstd_c·w_c + b_c, with the batch
    /// mean and population variance of each channel (over A and S) when <paramref name="fixedMean"/> is
    /// null, otherwise the given statistics (treated as constants). Returns y [A, C, S] and the
    /// statistics used (population variance), as plain tensors of shape [C].
    /// </summary>
    private static (Tensor Y, Tensor Mean, Tensor Var) ChannelNorm(Tensor x3, Tensor? w, Tensor? b, double eps, Tensor? fixedMean = null, Tensor? fixedVar = null)
    {
        int a = x3._shape[0], c = x3._shape[1], s = x3._shape[2];
        var y = Empty([a, c, s], x3.DType);
        Tensor mean, var, invstd, scale;
        if (x3.DType == DType.Float32) (mean, var, invstd, scale) = ChannelNormRaw<float>(x3, w, b, eps, fixedMean, fixedVar, y);
        else (mean, var, invstd, scale) = ChannelNormRaw<double>(x3, w, b, eps, fixedMean, fixedVar, y);
        // inputs at fixed positions: x, w, b (a placeholder for w when only b is given), so the rules know which is which
        Tensor[] inputs = b is not null ? [x3, w ?? (s_noWeight ??= Empty([0], DType.Float32)), b] : w is not null ? [x3, w] : [x3];
        if (!Op.Tracking(inputs)) return (y, mean, var);
        return (Op.Record(ChannelNormOp, y, inputs, new ChannelNormAttr(w is not null, fixedMean is null, eps, mean, invstd, scale)), mean, var);
    }

    /// <summary>Stands in for an absent weight when a bias is given (never requires grad, never read).</summary>
    private static Tensor? s_noWeight;

    /// <summary>ChannelNorm's attributes: whether input 1 is a weight, whether batch statistics were used, eps, and
    /// the statistics the call used (plain [C] tensors: mean, 1/sqrt(var + eps), invstd·w).</summary>
    private sealed record ChannelNormAttr(bool HasW, bool Batch, double Eps, Tensor Mean, Tensor InvStd, Tensor Scale);

    private static readonly int[] s_channelDims = [0, 2];

    // the graph-recording forms of the standardized input and invstd, differentiable in x
    private static (Tensor XHat, Tensor InvStd) ChannelNormStats(in OpCtx c)
    {
        var a = c.A<ChannelNormAttr>();
        var x = c.X(0);
        int[] cs = [1, x._shape[1], 1];
        return a.Batch ? Standardize(x, s_channelDims, a.Eps) : ((x - a.Mean.Reshape(cs)) * a.InvStd.Reshape(cs), a.InvStd.Reshape(cs));
    }

    // inputs: x [A, C, S], then the weight [C] and the bias [C] when given (x and w saved). First order runs fused
    // kernels; when a graph is recorded the same formulas are written with differentiable ops.
    internal static readonly OpDef ChannelNormOp = new("ChannelNorm", OpFamily.NN)
    {
        // vmap: every (example, channel) pair becomes a channel of its own, so batch statistics stay per example;
        // the attribute's statistics (per example in batch mode) are recomputed, running ones repeated per example
        BatchRecomputesAttr = true,
        Batch = c =>
        {
            var a = c.A<ChannelNormAttr>();
            var xb = c.Materialize(0);
            int nb = c.B, rows = xb._shape[1], ch = xb._shape[2], sz = xb._shape[3];
            var xs = xb.Permute(1, 0, 2, 3).Reshape(rows, nb * ch, sz);
            Tensor? w = a.HasW ? c.Materialize(1).Reshape(nb * ch) : null;
            Tensor? bias = c.In.Length > 2 ? c.Materialize(2).Reshape(nb * ch) : null;
            Tensor? fm = null, fv = null;
            if (!a.Batch)
            {
                fm = a.Mean.Repeat(nb);
                fv = (a.InvStd.Square().Reciprocal() - a.Eps).Repeat(nb);
            }
            var (y, _, _) = ChannelNorm(xs, w, bias, a.Eps, fm, fv);
            return [y.Reshape(rows, nb, ch, sz).Permute(1, 0, 2, 3)];
        },
        Vjp = (in OpCtx c, Tensor g, int i) =>
        {
            var a = c.A<ChannelNormAttr>();
            var x = c.X(0);
            var w = a.HasW ? c.X(1) : null;
            bool fast = !Op.Tracking(g) && !Op.Tracking(x) && (w is null || !Op.Tracking(w));
            int[] dims = s_channelDims, cs = [1, x._shape[1], 1];
            switch (i)
            {
                case 0:
                {
                    if (fast) return ChannelNormInputGrad(g, x, a.Mean, a.InvStd, a.Scale, a.Batch);
                    var (xhat, istd) = ChannelNormStats(c);
                    var gw = w is null ? g : g * w.Reshape(cs);
                    return a.Batch ? istd * (gw - gw.Mean(dims, keepDim: true) - xhat * (gw * xhat).Mean(dims, keepDim: true)) : gw * istd;
                }
                case 1: return fast ? ChannelGradSums(g, x, a.Mean).Sgx * a.InvStd : (g * ChannelNormStats(c).XHat).Sum(dims);
                default: return fast ? ChannelGradSums(g, x, a.Mean).Sg : g.Sum(dims);
            }
        },
        Jvp = (in OpCtx c, Tensor?[] t) =>
        {
            var a = c.A<ChannelNormAttr>();
            var x = c.X(0);
            var w = a.HasW ? c.X(1) : null;
            var b = c.Inputs.Length > 2 ? c.X(2) : null;
            int[] dims = s_channelDims, cs = [1, x._shape[1], 1];
            var (xhat, istd) = ChannelNormStats(c);
            Tensor? tx = t[0], tw = w is not null ? t[1] : null, tb = b is not null ? t[2] : null;
            // vector forward mode: tangents carry a [k] prefix; per-channel [C] tangents become [k, 1, C, 1]
            int[] prefix = tx is not null ? TangentBatchShape(tx, x) : tw is not null ? TangentBatchShape(tw, w!) : TangentBatchShape(tb!, b!);
            int[] bcs = [.. prefix, .. cs];
            Tensor? r = null;
            if (tx is not null)
            {
                var tdims = ShiftDims(dims, tx, x);
                var dxhat = a.Batch ? istd * (tx - tx.Mean(tdims, keepDim: true) - xhat * (tx * xhat).Mean(tdims, keepDim: true)) : tx * istd;
                r = w is null ? dxhat : dxhat * w.Reshape(cs);
            }
            if (tw is not null) r = AddTangents(r, xhat * tw.Reshape(bcs));
            if (tb is not null) r = r is null ? tb.Reshape(bcs).Expand([.. prefix, .. c.Y.ShapeRef]) : r + tb.Reshape(bcs);
            return r;
        },
        BatchedJvp = true, Saves = 3u,
        Samples = () =>
        [
            new("batch norm (training), affine", [OpSamples.Make(OpSamples.Domain.Real, 1, 3, 2, 4), OpSamples.Make(OpSamples.Domain.Real, 2, 2), OpSamples.Make(OpSamples.Domain.Real, 3, 2)],
                t => BatchNorm(t[0], null, null, t[1], t[2], training: true)),
            new("batch norm (running stats), affine", [OpSamples.Make(OpSamples.Domain.Real, 4, 3, 2, 2, 2), OpSamples.Make(OpSamples.Domain.Real, 5, 2), OpSamples.Make(OpSamples.Domain.Real, 6, 2)],
                t => BatchNorm(t[0], FromArray(new[] { 0.1, -0.2 }), FromArray(new[] { 0.8, 1.5 }), t[1], t[2], training: false)),
            new("batch norm, bias only", [OpSamples.Make(OpSamples.Domain.Real, 7, 4, 3), OpSamples.Make(OpSamples.Domain.Real, 8, 3)],
                t => BatchNorm(t[0], null, null, null, t[1], training: true)),
            new("layer norm, no affine", [OpSamples.Make(OpSamples.Domain.Real, 9, 3, 5)], t => LayerNorm(t[0], [5])),
            new("group norm, weight only", [OpSamples.Make(OpSamples.Domain.Real, 10, 2, 4, 3), OpSamples.Make(OpSamples.Domain.Real, 11, 4)],
                t => GroupNorm(t[0], 2, t[1])),
        ],
    };

    private static (Tensor Mean, Tensor Var, Tensor InvStd, Tensor Scale) ChannelNormRaw<T>(Tensor x3, Tensor? w, Tensor? b, double eps, Tensor? fixedMean, Tensor? fixedVar, Tensor y)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        int a = x3._shape[0], c = x3._shape[1], s = x3._shape[2];
        var xa = (T[])x3.DenseSpanArray(out int xo);
        T[] mean, var;
        if (fixedMean is null)
        {
            mean = new T[c];
            var = new T[c];
            Kernels.Norm.Stats(xa, xo, a, c, s, mean, var);
        }
        else
        {
            mean = fixedMean.DenseArray<T>();
            var = fixedVar!.DenseArray<T>();
        }
        var invstd = new T[c];
        var scale = new T[c];
        var wa = w?.DenseArray<T>();
        for (int i = 0; i < c; i++)
        {
            invstd[i] = T.CreateTruncating(1 / Math.Sqrt(double.CreateTruncating(var[i]) + eps));
            scale[i] = wa is null ? invstd[i] : invstd[i] * wa[i];
        }
        Kernels.Norm.Apply(xa, xo, y.Storage.As<T>(), a, c, s, mean, scale, b?.DenseArray<T>());
        return (Wrap(mean, [c]), Wrap(var, [c]), Wrap(invstd, [c]), Wrap(scale, [c]));
    }

    /// <summary>Per channel Σ g and Σ g·(x − mean) of [A, C, S] tensors, as plain [C] tensors (fused kernel).</summary>
    private static (Tensor Sg, Tensor Sgx) ChannelGradSums(Tensor g, Tensor x, Tensor mean)
    {
        int a = x._shape[0], c = x._shape[1], s = x._shape[2];
        var sg = Empty([c], x.DType);
        var sgx = Empty([c], x.DType);
        var ga = g.DenseSpanArray(out int go);
        var xa = x.DenseSpanArray(out int xo);
        if (x.DType == DType.Float32)
            Kernels.Norm.GradSums((float[])ga, go, (float[])xa, xo, a, c, s, mean.Storage.As<float>(), sg.Storage.As<float>(), sgx.Storage.As<float>());
        else
            Kernels.Norm.GradSums((double[])ga, go, (double[])xa, xo, a, c, s, mean.Storage.As<double>(), sg.Storage.As<double>(), sgx.Storage.As<double>());
        return (sg, sgx);
    }

    /// <summary>The first-order input gradient of <see cref="ChannelNorm"/> by fused kernels (not recorded).</summary>
    private static Tensor ChannelNormInputGrad(Tensor g, Tensor x, Tensor mean, Tensor invstd, Tensor scale, bool batch)
    {
        int a = x._shape[0], c = x._shape[1], s = x._shape[2];
        var dx = Empty([a, c, s], x.DType);
        if (!batch)
        {
            // dx = g·scale: the "mean" subtracted from g is zero
            if (x.DType == DType.Float32) Kernels.Norm.Apply((float[])g.DenseSpanArray(out int o32), o32, dx.Storage.As<float>(), a, c, s, new float[c], scale.Storage.As<float>(), null);
            else Kernels.Norm.Apply((double[])g.DenseSpanArray(out int o64), o64, dx.Storage.As<double>(), a, c, s, new double[c], scale.Storage.As<double>(), null);
            return dx;
        }
        var (sg, sgx) = ChannelGradSums(g, x, mean);
        double m = (double)a * s;
        var sgd = sg.ToDoubleArray();
        var sgxd = sgx.ToDoubleArray();
        var isd = invstd.ToDoubleArray();
        var scd = scale.ToDoubleArray();
        var beta = new double[c];
        var gamma = new double[c];
        for (int i = 0; i < c; i++)
        {
            beta[i] = -scd[i] * isd[i] * isd[i] * sgxd[i] / m;
            gamma[i] = -scd[i] * sgd[i] / m;
        }
        var ga = g.DenseSpanArray(out int go);
        var xa = x.DenseSpanArray(out int xo);
        if (x.DType == DType.Float32)
            Kernels.Norm.InputGrad((float[])ga, go, (float[])xa, xo, dx.Storage.As<float>(), a, c, s, mean.Storage.As<float>(), scale.Storage.As<float>(),
                Array.ConvertAll(beta, v => (float)v), Array.ConvertAll(gamma, v => (float)v));
        else
            Kernels.Norm.InputGrad((double[])ga, go, (double[])xa, xo, dx.Storage.As<double>(), a, c, s, mean.Storage.As<double>(), scale.Storage.As<double>(), beta, gamma);
        return dx;
    }

    /// <summary>Shape [1, C, 1, ...] matching a [N, C, *] input of rank <paramref name="rank"/>, for per-channel broadcasting.</summary>
    private static int[] ChannelShape(int c, int rank)
    {
        var s = new int[rank];
        Array.Fill(s, 1);
        s[1] = c;
        return s;
    }

    private static void CheckAffine(string op, Tensor x, Tensor? t, string name, int[] shape)
    {
        if (t is null) return;
        if (!ShapeUtil.SameShape(t.Shape, shape))
            throw new ShapeMismatchException($"{op}: {name} must have shape {ShapeUtil.Format(shape)}, got {ShapeUtil.Format(t.Shape)} (input {ShapeUtil.Format(x.Shape)}).");
        CheckSameDType(op, x, t);
    }

    /// <summary>y · weight + bias with optional per-channel (or per-element) affine parameters reshaped to <paramref name="shape"/>.</summary>
    private static Tensor Affine(Tensor y, Tensor? weight, Tensor? bias, int[] shape)
    {
        if (weight is not null) y *= weight.Reshape(shape);
        if (bias is not null) y += bias.Reshape(shape);
        return y;
    }

    /// <summary>
    /// Batch normalization (PyTorch's <c>F.batch_norm</c>) of input [N, C, *] per channel C. In training
    /// mode the batch statistics (mean and population variance over every dim but C) normalize, and the
    /// running statistics, when given, are updated in place: r ← (1 − momentum)·r + momentum·s, with the
    /// unbiased variance for runningVar. Otherwise the running statistics normalize.
    /// y = (x − mean)/sqrt(var + eps)·weight + bias.
    /// </summary>
    public static Tensor BatchNorm(Tensor input, Tensor? runningMean, Tensor? runningVar, Tensor? weight = null, Tensor? bias = null,
        bool training = false, double momentum = 0.1, double eps = 1e-5)
    {
        const string op = "BatchNorm";
        input.CheckFloat(op);
        if (input.Rank < 2)
            throw new ShapeMismatchException($"{op}: expected an input [N, C, *] of rank >= 2, got shape {ShapeUtil.Format(input.Shape)}.");
        int c = input._shape[1];
        CheckAffine(op, input, weight, "weight", [c]);
        CheckAffine(op, input, bias, "bias", [c]);
        CheckAffine(op, input, runningMean, "runningMean", [c]);
        CheckAffine(op, input, runningVar, "runningVar", [c]);
        int n = input._shape[0];
        var x3 = input.Reshape(n, c, n * c == 0 ? 0 : -1);
        if (training)
        {
            int count = input.Numel / Math.Max(c, 1);
            if (count <= 1)
                throw new ShapeMismatchException($"{op}: expected more than 1 value per channel when training, got input of shape {ShapeUtil.Format(input.Shape)}.");
            if ((runningMean is not null || runningVar is not null) && Tracer.Depth > 0 && Tracer.IsTraced(input) && !Tracer.Compiling)
                throw new VmapException($"{op}: in training mode the running statistics are updated in place, but under Vmap each example has its own batch statistics and the running ones are shared by all examples. " +
                    "Call module.Eval() to normalize with the running statistics, or use a BatchNorm without them (trackRunningStats: false) so each example is normalized with its own statistics (as torch.func's replace_all_batch_norm_modules_).");
            var (y, mean, v) = ChannelNorm(x3, weight, bias, eps);
            if (runningMean is not null || runningVar is not null)
                using (Autograd.NoGrad())
                {
                    if (runningMean is not null) UpdateRunning(runningMean, mean, momentum);
                    if (runningVar is not null) UpdateRunning(runningVar, v * ((double)count / (count - 1)), momentum);
                }
            return y.Reshape(input.ShapeArray);
        }
        if (runningMean is null || runningVar is null)
            throw new ArgumentException($"{op}: evaluation mode needs runningMean and runningVar (or pass training: true to use batch statistics).");
        return ChannelNorm(x3, weight, bias, eps, runningMean.Detach(), runningVar.Detach()).Y.Reshape(input.ShapeArray);
    }

    /// <summary>r ← (1 − momentum)·r + momentum·s, in place.</summary>
    private static void UpdateRunning(Tensor r, Tensor s, double momentum)
    {
        r.MulInPlace(1 - momentum);
        r.AddInPlace(s, momentum);
    }

    /// <summary>
    /// Layer normalization (PyTorch's <c>F.layer_norm</c>) over the trailing dims given by
    /// <paramref name="normalizedShape"/>: y = (x − mean)/sqrt(var + eps)·weight + bias, with the mean and
    /// population variance of each trailing block; weight and bias (optional) have shape normalizedShape.
    /// </summary>
    public static Tensor LayerNorm(Tensor input, int[] normalizedShape, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        const string op = "LayerNorm";
        input.CheckFloat(op);
        int k = normalizedShape.Length;
        if (k == 0 || k > input.Rank || !ShapeUtil.SameShape(input.Shape[(input.Rank - k)..], normalizedShape))
            throw new ShapeMismatchException(
                $"{op}: the input's trailing dims must equal normalizedShape {ShapeUtil.Format(normalizedShape)}, but the input has shape {ShapeUtil.Format(input.Shape)}.");
        CheckAffine(op, input, weight, "weight", normalizedShape);
        CheckAffine(op, input, bias, "bias", normalizedShape);
        int size = ShapeUtil.Numel(normalizedShape);
        var y = ChannelNorm(input.Reshape(1, input.Numel / size, size), null, null, eps).Y.Reshape(input.ShapeArray);
        if (weight is not null) y *= weight;
        if (bias is not null) y += bias;
        return y;
    }

    /// <summary>
    /// Group normalization (PyTorch's <c>F.group_norm</c>): the C channels of input [N, C, *] are split into
    /// <paramref name="numGroups"/> groups and each (sample, group) block is standardized with its own mean and
    /// population variance; then per-channel weight and bias (optional, shape [C]) apply.
    /// </summary>
    public static Tensor GroupNorm(Tensor input, int numGroups, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        const string op = "GroupNorm";
        input.CheckFloat(op);
        if (input.Rank < 2)
            throw new ShapeMismatchException($"{op}: expected an input [N, C, *] of rank >= 2, got shape {ShapeUtil.Format(input.Shape)}.");
        int n = input._shape[0], c = input._shape[1];
        if (numGroups <= 0 || c % numGroups != 0)
            throw new ShapeMismatchException($"{op}: the {c} channels of the input (shape {ShapeUtil.Format(input.Shape)}) must be divisible by numGroups = {numGroups}.");
        CheckAffine(op, input, weight, "weight", [c]);
        CheckAffine(op, input, bias, "bias", [c]);
        var y = ChannelNorm(input.Reshape(1, n * numGroups, n == 0 ? 0 : -1), null, null, eps).Y.Reshape(input.ShapeArray);
        return Affine(y, weight, bias, ChannelShape(c, input.Rank));
    }

    /// <summary>
    /// Instance normalization (PyTorch's <c>F.instance_norm</c>): each (sample, channel) plane of input
    /// [N, C, *] is standardized over its spatial dims. With <paramref name="useInputStats"/> false the
    /// running statistics normalize instead; when true and running statistics are given they are updated
    /// in place with the batch average of the per-instance mean and unbiased variance.
    /// </summary>
    public static Tensor InstanceNorm(Tensor input, Tensor? runningMean = null, Tensor? runningVar = null, Tensor? weight = null, Tensor? bias = null,
        bool useInputStats = true, double momentum = 0.1, double eps = 1e-5)
    {
        const string op = "InstanceNorm";
        input.CheckFloat(op);
        if (input.Rank < 3)
            throw new ShapeMismatchException($"{op}: expected an input [N, C, *] with at least one spatial dim, got shape {ShapeUtil.Format(input.Shape)}.");
        int c = input._shape[1];
        CheckAffine(op, input, weight, "weight", [c]);
        CheckAffine(op, input, bias, "bias", [c]);
        CheckAffine(op, input, runningMean, "runningMean", [c]);
        CheckAffine(op, input, runningVar, "runningVar", [c]);
        int n = input._shape[0];
        if (useInputStats)
        {
            int count = input.Numel / Math.Max(1, n * c);
            if (count <= 1)
                throw new ShapeMismatchException($"{op}: expected more than 1 spatial element per channel, got input of shape {ShapeUtil.Format(input.Shape)}.");
            var (y, mean, v) = ChannelNorm(input.Reshape(1, n * c, -1), null, null, eps);
            if (runningMean is not null || runningVar is not null)
                using (Autograd.NoGrad())
                {
                    if (runningMean is not null) UpdateRunning(runningMean, mean.Reshape(n, c).Mean(0), momentum);
                    if (runningVar is not null) UpdateRunning(runningVar, v.Reshape(n, c).Mean(0) * ((double)count / (count - 1)), momentum);
                }
            return Affine(y.Reshape(input.ShapeArray), weight, bias, ChannelShape(c, input.Rank));
        }
        if (runningMean is null || runningVar is null)
            throw new ArgumentException($"{op}: useInputStats: false needs runningMean and runningVar.");
        return ChannelNorm(input.Reshape(n, c, -1), weight, bias, eps, runningMean.Detach(), runningVar.Detach()).Y.Reshape(input.ShapeArray);
    }
}
