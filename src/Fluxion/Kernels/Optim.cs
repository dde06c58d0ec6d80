using System.Numerics;

namespace Fluxion.Kernels;

/// <summary>
/// Fused, allocation-free update kernels for the optimizers: each reads the gradient once and updates
/// the parameter and its state buffers in one pass (SIMD main loop, scalar tail). The arithmetic follows
/// PyTorch's single-tensor implementations operation by operation, so results agree to rounding.
/// </summary>
internal static class OptimKernels
{
    /// <summary>
    /// SGD: d = ±g (+ wd·p); with momentum, buf = d on the first step, else buf = m·buf + (1−dampening)·d,
    /// and d = d + m·buf (Nesterov) or d = buf; finally p = p − lr·d.
    /// Pass an empty <paramref name="buf"/> for momentum 0.
    /// </summary>
    public static void Sgd<T>(Span<T> p, ReadOnlySpan<T> g, Span<T> buf, bool firstStep,
        T lr, T weightDecay, T momentum, T oneMinusDampening, bool nesterov, bool maximize)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = p.Length, i = 0;
        bool wd = weightDecay != T.Zero, mom = !buf.IsEmpty;
        T negLr = -lr;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported && n >= Vector<T>.Count)
        {
            var vWd = new Vector<T>(weightDecay);
            var vM = new Vector<T>(momentum);
            var vD = new Vector<T>(oneMinusDampening);
            var vLr = new Vector<T>(negLr);
            for (int w = Vector<T>.Count; i <= n - w; i += w)
            {
                var pv = new Vector<T>(p[i..]);
                var d = new Vector<T>(g[i..]);
                if (maximize) d = -d;
                if (wd) d += vWd * pv;
                if (mom)
                {
                    Vector<T> b = firstStep ? d : new Vector<T>(buf[i..]) * vM + vD * d;
                    b.CopyTo(buf[i..]);
                    d = nesterov ? d + vM * b : b;
                }
                (pv + vLr * d).CopyTo(p[i..]);
            }
        }
        for (; i < n; i++)
        {
            T d = maximize ? -g[i] : g[i];
            if (wd) d += weightDecay * p[i];
            if (mom)
            {
                T b = firstStep ? d : buf[i] * momentum + oneMinusDampening * d;
                buf[i] = b;
                d = nesterov ? d + momentum * b : b;
            }
            p[i] += negLr * d;
        }
    }

    /// <summary>
    /// Adam / AdamW: p = decay·p (AdamW's decoupled decay, 1 for Adam); d = ±g (+ l2·p for Adam's
    /// coupled decay); m = β1·m + (1−β1)·d; v = β2·v + (1−β2)·d·d; with AMSGrad vmax = max(vmax, v)
    /// and v̂ = vmax; p = p − stepSize·m / (sqrt(v̂)/bc2Sqrt + eps). Pass an empty <paramref name="vmax"/>
    /// without AMSGrad.
    /// </summary>
    public static void Adam<T>(Span<T> p, ReadOnlySpan<T> g, Span<T> m, Span<T> v, Span<T> vmax,
        T decay, T l2, T beta1, T oneMinusBeta1, T beta2, T oneMinusBeta2, T eps, T bc2Sqrt, T stepSize, bool maximize)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = p.Length, i = 0;
        bool decoupled = decay != T.One, coupled = l2 != T.Zero, ams = !vmax.IsEmpty;
        T negStep = -stepSize;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported && n >= Vector<T>.Count)
        {
            var vDecay = new Vector<T>(decay);
            var vL2 = new Vector<T>(l2);
            var vB1 = new Vector<T>(beta1);
            var vOB1 = new Vector<T>(oneMinusBeta1);
            var vB2 = new Vector<T>(beta2);
            var vOB2 = new Vector<T>(oneMinusBeta2);
            var vEps = new Vector<T>(eps);
            var vBc2 = new Vector<T>(bc2Sqrt);
            var vStep = new Vector<T>(negStep);
            for (int w = Vector<T>.Count; i <= n - w; i += w)
            {
                var pv = new Vector<T>(p[i..]);
                if (decoupled) pv *= vDecay;
                var d = new Vector<T>(g[i..]);
                if (maximize) d = -d;
                if (coupled) d += vL2 * pv;
                var mv = new Vector<T>(m[i..]) * vB1 + d * vOB1;
                var vv = new Vector<T>(v[i..]) * vB2 + vOB2 * d * d;
                mv.CopyTo(m[i..]);
                vv.CopyTo(v[i..]);
                if (ams)
                {
                    vv = Vector.Max(new Vector<T>(vmax[i..]), vv);
                    vv.CopyTo(vmax[i..]);
                }
                var denom = Vector.SquareRoot(vv) / vBc2 + vEps;
                (pv + vStep * (mv / denom)).CopyTo(p[i..]);
            }
        }
        for (; i < n; i++)
        {
            T pv = p[i];
            if (decoupled) pv *= decay;
            T d = maximize ? -g[i] : g[i];
            if (coupled) d += l2 * pv;
            T mv = m[i] * beta1 + d * oneMinusBeta1;
            T vv = v[i] * beta2 + oneMinusBeta2 * d * d;
            m[i] = mv;
            v[i] = vv;
            if (ams)
            {
                vv = T.Max(vmax[i], vv);
                vmax[i] = vv;
            }
            T denom = T.Sqrt(vv) / bc2Sqrt + eps;
            p[i] = pv + negStep * (mv / denom);
        }
    }

    /// <summary>Elements below which an update stays on the calling thread (the split costs more than it saves).</summary>
    internal static int ParallelThreshold = 1 << 17;

    /// <summary>
    /// <see cref="Adam{T}"/> over dense arrays (each at its offset, <paramref name="n"/> elements), split into
    /// contiguous chunks over the cores when large: elementwise, so the result is bit-identical to the serial
    /// update. Pass null <paramref name="vmax"/> without AMSGrad.
    /// </summary>
    public static void AdamChunked<T>(T[] p, int pOff, T[] g, int gOff, T[] m, int mOff, T[] v, int vOff, T[]? vmax, int vmaxOff, int n,
        T decay, T l2, T beta1, T oneMinusBeta1, T beta2, T oneMinusBeta2, T eps, T bc2Sqrt, T stepSize, bool maximize)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int threads = Parallelism.Available;
        if (n < ParallelThreshold || threads < 2)
        {
            Adam<T>(p.AsSpan(pOff, n), g.AsSpan(gOff, n), m.AsSpan(mOff, n), v.AsSpan(vOff, n), vmax is null ? default : vmax.AsSpan(vmaxOff, n),
                decay, l2, beta1, oneMinusBeta1, beta2, oneMinusBeta2, eps, bc2Sqrt, stepSize, maximize);
            return;
        }
        AdamParallel(p, pOff, g, gOff, m, mOff, v, vOff, vmax, vmaxOff, n, 2 * threads, threads,
            decay, l2, beta1, oneMinusBeta1, beta2, oneMinusBeta2, eps, bc2Sqrt, stepSize, maximize);
    }

    /// <summary>The parallel part of <see cref="AdamChunked{T}"/>, apart so the serial path allocates no closure.</summary>
    private static void AdamParallel<T>(T[] p, int pOff, T[] g, int gOff, T[] m, int mOff, T[] v, int vOff, T[]? vmax, int vmaxOff, int n,
        int chunks, int threads, T decay, T l2, T beta1, T oneMinusBeta1, T beta2, T oneMinusBeta2, T eps, T bc2Sqrt, T stepSize, bool maximize)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // chunk bounds on multiples of 64 elements: whole vectors and cache lines per chunk
        int per = (n / chunks + 63) & ~63;
        Parallelism.For(chunks, chunks, threads, (ch, _, _) =>
        {
            int s = Math.Min(n, ch * per), e = ch == chunks - 1 ? n : Math.Min(n, (ch + 1) * per), len = e - s;
            if (len <= 0) return;
            Adam<T>(p.AsSpan(pOff + s, len), g.AsSpan(gOff + s, len), m.AsSpan(mOff + s, len), v.AsSpan(vOff + s, len),
                vmax is null ? default : vmax.AsSpan(vmaxOff + s, len),
                decay, l2, beta1, oneMinusBeta1, beta2, oneMinusBeta2, eps, bc2Sqrt, stepSize, maximize);
        });
    }

    /// <summary>
    /// RMSprop: d = ±g (+ wd·p); s = α·s + (1−α)·d·d; centered: a = α·a + (1−α)·d, avg = sqrt(s − a·a),
    /// else avg = sqrt(s); avg += eps; with momentum buf = μ·buf + d/avg and p −= lr·buf, else
    /// p −= lr·d/avg. Empty <paramref name="gradAvg"/> / <paramref name="buf"/> turn those parts off.
    /// </summary>
    public static void RmsProp<T>(Span<T> p, ReadOnlySpan<T> g, Span<T> squareAvg, Span<T> gradAvg, Span<T> buf,
        T lr, T alpha, T oneMinusAlpha, T eps, T weightDecay, T momentum, bool maximize)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = p.Length, i = 0;
        bool wd = weightDecay != T.Zero, centered = !gradAvg.IsEmpty, mom = !buf.IsEmpty;
        T negLr = -lr;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported && n >= Vector<T>.Count)
        {
            var vWd = new Vector<T>(weightDecay);
            var vA = new Vector<T>(alpha);
            var vOA = new Vector<T>(oneMinusAlpha);
            var vEps = new Vector<T>(eps);
            var vM = new Vector<T>(momentum);
            var vLr = new Vector<T>(negLr);
            for (int w = Vector<T>.Count; i <= n - w; i += w)
            {
                var pv = new Vector<T>(p[i..]);
                var d = new Vector<T>(g[i..]);
                if (maximize) d = -d;
                if (wd) d += vWd * pv;
                var s = new Vector<T>(squareAvg[i..]) * vA + vOA * d * d;
                s.CopyTo(squareAvg[i..]);
                Vector<T> avg;
                if (centered)
                {
                    var a = new Vector<T>(gradAvg[i..]) * vA + d * vOA;
                    a.CopyTo(gradAvg[i..]);
                    avg = Vector.SquareRoot(s - a * a);
                }
                else avg = Vector.SquareRoot(s);
                avg += vEps;
                if (mom)
                {
                    var b = new Vector<T>(buf[i..]) * vM + d / avg;
                    b.CopyTo(buf[i..]);
                    (pv + vLr * b).CopyTo(p[i..]);
                }
                else (pv + vLr * (d / avg)).CopyTo(p[i..]);
            }
        }
        for (; i < n; i++)
        {
            T pv = p[i];
            T d = maximize ? -g[i] : g[i];
            if (wd) d += weightDecay * pv;
            T s = squareAvg[i] * alpha + oneMinusAlpha * d * d;
            squareAvg[i] = s;
            T avg;
            if (centered)
            {
                T a = gradAvg[i] * alpha + d * oneMinusAlpha;
                gradAvg[i] = a;
                avg = T.Sqrt(s - a * a);
            }
            else avg = T.Sqrt(s);
            avg += eps;
            if (mom)
            {
                T b = buf[i] * momentum + d / avg;
                buf[i] = b;
                p[i] = pv + negLr * b;
            }
            else p[i] = pv + negLr * (d / avg);
        }
    }
}
