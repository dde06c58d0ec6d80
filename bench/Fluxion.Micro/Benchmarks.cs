using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;
using Fluxion.Kernels;

namespace Fluxion.Micro;

/// <summary>Random float32 inputs made with Fluxion's generator (seeded, so runs compare).</summary>
internal static class Data
{
    public static float[] Randn(int count, int seed)
    {
        Generator.ManualSeed(seed);
        return Tensor.Randn([count], DType.Float32).ToArray<float>();
    }
}

/// <summary>Square float32 GEMM, n³: the internal kernel into a preallocated output, and the public
/// <c>Tensor.MatMul</c> (output allocation and dispatch included).</summary>
public class GemmBenchmarks
{
    private float[] _a = [], _b = [], _c = [];
    private Tensor _ta = null!, _tb = null!;

    /// <summary>Matrix size.</summary>
    [Params(64, 256, 512)] public int N;

    [GlobalSetup]
    public void Setup()
    {
        _a = Data.Randn(N * N, 1);
        _b = Data.Randn(N * N, 2);
        _c = new float[N * N];
        _ta = Tensor.FromArray(_a, [N, N]);
        _tb = Tensor.FromArray(_b, [N, N]);
    }

    [Benchmark(Baseline = true)]
    public void Kernel() => Gemm.MatMul(_a, 0, _b, 0, _c, 0, N, N, N);

    [Benchmark]
    public Tensor MatMul() => _ta.MatMul(_tb);
}

/// <summary>Binary elementwise ops over 2^20 float32: Fluxion's broadcasting kernel into a preallocated
/// output, the public op (no grad; allocates the output), a plain loop and TensorPrimitives.</summary>
public class BinaryBenchmarks
{
    private const int Count = 1 << 20;
    private readonly float[] _a = Data.Randn(Count, 1), _b = Data.Randn(Count, 2), _d = new float[Count];
    private readonly int[] _shape = [Count], _strides = [1];
    private Tensor _ta = null!, _tb = null!;
    private Elementwise.BinaryKernel<float> _kernel = null!;

    /// <summary>The op.</summary>
    [Params("add", "mul")] public string Op = "add";

    [GlobalSetup]
    public void Setup()
    {
        _kernel = Op == "add" ? Elementwise.Ops<float>.Add : Elementwise.Ops<float>.Mul;
        _ta = Tensor.FromArray(_a, [Count]);
        _tb = Tensor.FromArray(_b, [Count]);
    }

    [Benchmark]
    public void FluxionKernel() => Elementwise.Binary(_kernel, _a, 0, _strides, _b, 0, _strides, _d, _shape);

    [Benchmark]
    public Tensor FluxionOp()
    {
        using var _ = Autograd.NoGrad();
        return Op == "add" ? _ta + _tb : _ta * _tb;
    }

    [Benchmark(Baseline = true)]
    public void PlainLoop()
    {
        float[] a = _a, b = _b, d = _d;
        if (Op == "add") for (int i = 0; i < d.Length; i++) d[i] = a[i] + b[i];
        else for (int i = 0; i < d.Length; i++) d[i] = a[i] * b[i];
    }

    [Benchmark]
    public void Primitives()
    {
        if (Op == "add") TensorPrimitives.Add(_a, _b, _d);
        else TensorPrimitives.Multiply(_a, _b, _d);
    }
}

/// <summary>Unary elementwise ops over 2^20 float32: the public op (no grad; its kernel is a
/// TensorPrimitives call on the dense input, into a fresh output), a plain loop and TensorPrimitives.</summary>
public class UnaryBenchmarks
{
    private const int Count = 1 << 20;
    private readonly float[] _a = Data.Randn(Count, 1), _d = new float[Count];
    private Tensor _ta = null!;

    /// <summary>The op.</summary>
    [Params("exp", "relu")] public string Op = "exp";

    [GlobalSetup]
    public void Setup() => _ta = Tensor.FromArray(_a, [Count]);

    [Benchmark]
    public Tensor FluxionOp()
    {
        using var _ = Autograd.NoGrad();
        return Op == "exp" ? _ta.Exp() : _ta.Relu();
    }

    [Benchmark(Baseline = true)]
    public void PlainLoop()
    {
        float[] a = _a, d = _d;
        if (Op == "exp") for (int i = 0; i < d.Length; i++) d[i] = MathF.Exp(a[i]);
        else for (int i = 0; i < d.Length; i++) d[i] = a[i] > 0 ? a[i] : 0;
    }

    [Benchmark]
    public void Primitives()
    {
        if (Op == "exp") TensorPrimitives.Exp(_a, _d);
        else TensorPrimitives.Max(_a, 0f, _d);
    }
}

/// <summary>Row reductions of a [1024, 1024] float32 matrix: sum and max of each row (kernel and plain loop),
/// and the public <c>Sum(1)</c> / <c>Amax(1)</c>.</summary>
public class ReduceBenchmarks
{
    private const int Rows = 1024, Cols = 1024;
    private readonly float[] _x = Data.Randn(Rows * Cols, 1), _d = new float[Rows];
    private readonly Tensor _t;

    public ReduceBenchmarks() => _t = Tensor.FromArray(_x, [Rows, Cols]);

    [Benchmark]
    public void SumKernel() => Reduce.RowSum<float>(_x, Rows, Cols, _d);

    [Benchmark(Baseline = true)]
    public void SumPlainLoop()
    {
        float[] x = _x, d = _d;
        for (int r = 0; r < Rows; r++)
        {
            float s = 0;
            for (int j = r * Cols, e = j + Cols; j < e; j++) s += x[j];
            d[r] = s;
        }
    }

    [Benchmark]
    public Tensor SumOp()
    {
        using var _ = Autograd.NoGrad();
        return _t.Sum(1);
    }

    [Benchmark]
    public void MaxKernel() => Reduce.RowExtreme<float>(_x, Rows, Cols, max: true, _d);

    [Benchmark]
    public void MaxPlainLoop()
    {
        float[] x = _x, d = _d;
        for (int r = 0; r < Rows; r++)
        {
            float m = float.NegativeInfinity;
            for (int j = r * Cols, e = j + Cols; j < e; j++) if (x[j] > m) m = x[j];
            d[r] = m;
        }
    }

    [Benchmark]
    public Tensor MaxOp()
    {
        using var _ = Autograd.NoGrad();
        return _t.Amax(1);
    }
}

/// <summary>Softmax over the rows of a [512, 1024] float32 matrix: Fluxion's kernel, a plain
/// three-pass loop (max, exp and sum, scale) and TensorPrimitives.SoftMax per row.</summary>
public class SoftmaxBenchmarks
{
    private const int Rows = 512, Cols = 1024;
    private readonly float[] _x = Data.Randn(Rows * Cols, 1), _d = new float[Rows * Cols];

    [Benchmark]
    public void Kernel() => Reduce.Softmax(_x, 0, _d, Rows, Cols, 1, log: false);

    [Benchmark(Baseline = true)]
    public void PlainLoop()
    {
        float[] x = _x, d = _d;
        for (int r = 0; r < Rows; r++)
        {
            int o = r * Cols;
            float m = float.NegativeInfinity;
            for (int j = 0; j < Cols; j++) m = Math.Max(m, x[o + j]);
            float s = 0;
            for (int j = 0; j < Cols; j++) s += d[o + j] = MathF.Exp(x[o + j] - m);
            float inv = 1 / s;
            for (int j = 0; j < Cols; j++) d[o + j] *= inv;
        }
    }

    [Benchmark]
    public void Primitives()
    {
        for (int r = 0; r < Rows; r++)
            TensorPrimitives.SoftMax(_x.AsSpan(r * Cols, Cols), _d.AsSpan(r * Cols, Cols));
    }
}

/// <summary>Conv2d forward, 3×3, padding 1: x [8, 16, 28, 28], w [32, 16, 3, 3], bias — the im2col + GEMM
/// kernel into a preallocated output, and the public <c>Conv2d</c> op (no grad).</summary>
public class ConvBenchmarks
{
    private static readonly ConvGeom Geom = new(N: 8, C: 16, H: 28, W: 28, O: 32, Groups: 1, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1);
    private readonly float[] _x = Data.Randn(8 * 16 * 28 * 28, 1), _w = Data.Randn(32 * 16 * 9, 2), _b = Data.Randn(32, 3);
    private readonly float[] _y = new float[8 * 32 * 28 * 28];
    private readonly Tensor _tx, _tw, _tb;

    public ConvBenchmarks()
    {
        _tx = Tensor.FromArray(_x, [8, 16, 28, 28]);
        _tw = Tensor.FromArray(_w, [32, 16, 3, 3]);
        _tb = Tensor.FromArray(_b, [32]);
    }

    [Benchmark(Baseline = true)]
    public void Kernel() => Conv.Forward(_x, 0, _w, 0, _b, 0, _y, Geom);

    [Benchmark]
    public Tensor Op()
    {
        using var _ = Autograd.NoGrad();
        return _tx.Conv2d(_tw, _tb, padding: 1);
    }
}

/// <summary>Per-op overhead on 0-d float32 tensors: one multiplication without a graph, one recorded
/// in the graph (input requires grad), and a recorded one followed by its backward pass.</summary>
public class TinyOpBenchmarks
{
    private readonly Tensor _x = Tensor.Scalar(0.5f).RequiresGrad_(), _c = Tensor.Scalar(0.999f);

    [Benchmark(Baseline = true)]
    public Tensor NoGrad()
    {
        using var _ = Autograd.NoGrad();
        return _x * _c;
    }

    [Benchmark]
    public Tensor Record() => _x * _c;

    [Benchmark]
    public void RecordBackward()
    {
        (_x * _c).Backward();
        _x.Grad = null;
    }
}
