namespace Fluxion;

public partial class Tensor
{
    // ---- raw construction ----------------------------------------------------------------------

    /// <summary>A new dense tensor whose contents the caller overwrites completely.</summary>
    internal static Tensor Empty(int[] shape, DType dtype) => new(Storage.AllocateUninitialized(dtype, ShapeUtil.Numel(shape)), shape);

    /// <summary>A new tensor wrapping <paramref name="data"/> (not copied) with the given shape.</summary>
    internal static Tensor Wrap<T>(T[] data, int[] shape) => new(new Storage(data, DTypeOf<T>()), shape);

    internal static DType DTypeOf<T>()
    {
        if (typeof(T) == typeof(float)) return DType.Float32;
        if (typeof(T) == typeof(double)) return DType.Float64;
        if (typeof(T) == typeof(long)) return DType.Int64;
        if (typeof(T) == typeof(bool)) return DType.Bool;
        throw new DTypeMismatchException($"Tensor: element type {typeof(T).Name} is not supported; use float, double, long or bool.");
    }

    private static int[] CheckShape(string op, int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ShapeUtil.CheckedNumel(op, shape);
        return (int[])shape.Clone();
    }

    // ---- creation ------------------------------------------------------------------------------

    /// <summary>A float32 tensor of zeros.</summary>
    public static Tensor Zeros(params int[] shape) => Zeros(shape, DType.Float32);

    /// <summary>A tensor of zeros with the given dtype.</summary>
    public static Tensor Zeros(int[] shape, DType dtype) => new(Storage.Allocate(dtype, ShapeUtil.Numel(CheckShape("Zeros", shape))), (int[])shape.Clone());

    /// <summary>A float32 tensor of ones.</summary>
    public static Tensor Ones(params int[] shape) => Full(shape, 1.0, DType.Float32);

    /// <summary>A tensor of ones with the given dtype.</summary>
    public static Tensor Ones(int[] shape, DType dtype) => Full(shape, 1.0, dtype);

    /// <summary>A tensor filled with <paramref name="value"/>.</summary>
    public static Tensor Full(int[] shape, double value, DType dtype = DType.Float32)
    {
        var t = Empty(CheckShape("Full", shape), dtype);
        t.FillRaw(value);
        return t;
    }

    /// <summary>Zeros with the shape and dtype of <paramref name="t"/>.</summary>
    public static Tensor ZerosLike(Tensor t) => Zeros(t.ShapeArray, t.DType);

    /// <summary>Ones with the shape and dtype of <paramref name="t"/>.</summary>
    public static Tensor OnesLike(Tensor t) => Full(t.ShapeArray, 1.0, t.DType);

    /// <summary>A tensor filled with <paramref name="value"/>, with the shape and dtype of <paramref name="t"/>.</summary>
    public static Tensor FullLike(Tensor t, double value) => Full(t.ShapeArray, value, t.DType);

    /// <summary>A 0-d tensor holding <paramref name="value"/>.</summary>
    public static Tensor Scalar(double value, DType dtype = DType.Float32)
    {
        var t = new Tensor(Storage.AllocateUninitialized(dtype, 1), s_noDims, s_noDims, 0);
        t.SetRaw(0, value);
        return t;
    }

    /// <summary>The shape (and strides) of every 0-d tensor; shape arrays are never mutated, so one instance serves all.</summary>
    private static readonly int[] s_noDims = [];

    /// <summary>A tensor copied from <paramref name="data"/>, shaped as <paramref name="shape"/> (default: 1-D).</summary>
    public static Tensor FromArray(float[] data, params int[] shape) => FromArrayCore(data, shape);

    /// <summary>A float64 tensor copied from <paramref name="data"/>, shaped as <paramref name="shape"/> (default: 1-D).</summary>
    public static Tensor FromArray(double[] data, params int[] shape) => FromArrayCore(data, shape);

    /// <summary>An int64 tensor copied from <paramref name="data"/>, shaped as <paramref name="shape"/> (default: 1-D).</summary>
    public static Tensor FromArray(long[] data, params int[] shape) => FromArrayCore(data, shape);

    /// <summary>A bool tensor copied from <paramref name="data"/>, shaped as <paramref name="shape"/> (default: 1-D).</summary>
    public static Tensor FromArray(bool[] data, params int[] shape) => FromArrayCore(data, shape);

    /// <summary>A float32 matrix copied from a rectangular array.</summary>
    public static Tensor FromArray(float[,] data) => FromArrayCore(Flatten2D(data), [data.GetLength(0), data.GetLength(1)]);

    /// <summary>A float64 matrix copied from a rectangular array.</summary>
    public static Tensor FromArray(double[,] data) => FromArrayCore(Flatten2D(data), [data.GetLength(0), data.GetLength(1)]);

    private static T[] Flatten2D<T>(T[,] data)
    {
        var r = new T[data.Length];
        int k = 0;
        foreach (var v in data) r[k++] = v;
        return r;
    }

    private static Tensor FromArrayCore<T>(T[] data, int[] shape)
    {
        if (shape.Length == 0) shape = [data.Length];
        shape = CheckShape("FromArray", shape);
        int n = ShapeUtil.Numel(shape);
        if (n != data.Length)
            throw new ShapeMismatchException($"FromArray: {data.Length} values cannot fill shape {ShapeUtil.Format(shape)} ({n} elements).");
        return Wrap((T[])data.Clone(), shape);
    }

    /// <summary>Values start, start+step, ... below end (PyTorch's <c>arange</c>).</summary>
    public static Tensor Arange(double start, double end, double step = 1, DType dtype = DType.Float32)
    {
        if (step == 0) throw new ArgumentException("Arange: step must be non-zero.");
        int n = Math.Max(0, (int)Math.Ceiling((end - start) / step));
        var t = Empty([n], dtype);
        switch (dtype)
        {
            case DType.Float32: { var a = t.Storage.As<float>(); for (int i = 0; i < n; i++) a[i] = (float)(start + i * step); break; }
            case DType.Float64: { var a = t.Storage.As<double>(); for (int i = 0; i < n; i++) a[i] = start + i * step; break; }
            case DType.Int64: { var a = t.Storage.As<long>(); for (int i = 0; i < n; i++) a[i] = (long)(start + i * step); break; }
            default: throw new DTypeMismatchException($"Arange: dtype {dtype.Name()} is not supported.");
        }
        return t;
    }

    /// <summary>Values 0, 1, ..., end-1.</summary>
    public static Tensor Arange(double end, DType dtype = DType.Float32) => Arange(0, end, 1, dtype);

    /// <summary><paramref name="steps"/> evenly spaced values from start to end inclusive.</summary>
    public static Tensor Linspace(double start, double end, int steps, DType dtype = DType.Float32)
    {
        if (steps < 0) throw new ArgumentException($"Linspace: steps must be non-negative, got {steps}.");
        var vals = new double[steps];
        double step = steps > 1 ? (end - start) / (steps - 1) : 0;
        // as PyTorch: fill the first half from start, the second half from end, for symmetry
        int half = steps / 2;
        for (int i = 0; i < steps; i++) vals[i] = i < half ? start + step * i : end - step * (steps - 1 - i);
        if (steps == 1) vals[0] = start; // as PyTorch: a single step is the start
        return FromDoubles(vals, [steps], dtype);
    }

    /// <summary>An n-by-m identity matrix (m defaults to n).</summary>
    public static Tensor Eye(int n, int? m = null, DType dtype = DType.Float32)
    {
        int cols = m ?? n;
        var t = Zeros([n, cols], dtype);
        for (int i = 0; i < Math.Min(n, cols); i++) t.SetRaw(i * cols + i, 1.0);
        return t;
    }

    /// <summary>Uniform samples in [0, 1).</summary>
    public static Tensor Rand(int[] shape, DType dtype = DType.Float32, Generator? generator = null)
    {
        var g = generator ?? Generator.Default;
        var vals = new double[ShapeUtil.Numel(CheckShape("Rand", shape))];
        for (int i = 0; i < vals.Length; i++) vals[i] = g.NextDouble();
        return FromDoubles(vals, shape, dtype);
    }

    /// <summary>Uniform float32 samples in [0, 1).</summary>
    public static Tensor Rand(params int[] shape) => Rand(shape, DType.Float32);

    /// <summary>Standard normal samples.</summary>
    public static Tensor Randn(int[] shape, DType dtype = DType.Float32, Generator? generator = null)
    {
        var g = generator ?? Generator.Default;
        int n = ShapeUtil.Numel(CheckShape("Randn", shape));
        if (dtype is DType.Float32 or DType.Float64)
        {
            // one SIMD Box–Muller pass over blocks, straight into the storage (Generator.FillNormal: the NextNormal stream)
            var t = Empty((int[])shape.Clone(), dtype);
            if (dtype == DType.Float32) g.FillNormal<float>(t.Storage.As<float>().AsSpan(0, n));
            else g.FillNormal<double>(t.Storage.As<double>().AsSpan(0, n));
            return t;
        }
        var vals = new double[n];
        for (int i = 0; i < vals.Length; i++) vals[i] = g.NextNormal();
        return FromDoubles(vals, shape, dtype);
    }

    /// <summary>Standard normal float32 samples.</summary>
    public static Tensor Randn(params int[] shape) => Randn(shape, DType.Float32);

    /// <summary>Uniform samples in [low, high).</summary>
    public static Tensor Uniform(int[] shape, double low, double high, DType dtype = DType.Float32, Generator? generator = null)
    {
        var g = generator ?? Generator.Default;
        var vals = new double[ShapeUtil.Numel(CheckShape("Uniform", shape))];
        for (int i = 0; i < vals.Length; i++) vals[i] = low + (high - low) * g.NextDouble();
        return FromDoubles(vals, shape, dtype);
    }

    /// <summary>Uniform integers in [low, high), as int64 by default.</summary>
    public static Tensor RandInt(long low, long high, int[] shape, DType dtype = DType.Int64, Generator? generator = null)
    {
        var g = generator ?? Generator.Default;
        var vals = new double[ShapeUtil.Numel(CheckShape("RandInt", shape))];
        for (int i = 0; i < vals.Length; i++) vals[i] = g.NextInt64(low, high);
        return FromDoubles(vals, shape, dtype);
    }

    /// <summary>A tensor of the given dtype from double values (converted per element).</summary>
    internal static Tensor FromDoubles(double[] vals, int[] shape, DType dtype)
    {
        var t = Empty((int[])shape.Clone(), dtype);
        switch (dtype)
        {
            case DType.Float32: { var a = t.Storage.As<float>(); for (int i = 0; i < vals.Length; i++) a[i] = (float)vals[i]; break; }
            case DType.Float64: vals.CopyTo(t.Storage.As<double>(), 0); break;
            case DType.Int64: { var a = t.Storage.As<long>(); for (int i = 0; i < vals.Length; i++) a[i] = (long)vals[i]; break; }
            case DType.Bool: { var a = t.Storage.As<bool>(); for (int i = 0; i < vals.Length; i++) a[i] = vals[i] != 0; break; }
        }
        return t;
    }

    // ---- raw element access (no autograd, no version bump) ------------------------------------

    internal void SetRaw(int storageIndex, double v)
    {
        switch (DType)
        {
            case DType.Float32: Storage.As<float>()[storageIndex] = (float)v; break;
            case DType.Float64: Storage.As<double>()[storageIndex] = v; break;
            case DType.Int64: Storage.As<long>()[storageIndex] = (long)v; break;
            case DType.Bool: Storage.As<bool>()[storageIndex] = v != 0; break;
        }
    }

    internal double GetRaw(int storageIndex) => DType switch
    {
        DType.Float32 => Storage.As<float>()[storageIndex],
        DType.Float64 => Storage.As<double>()[storageIndex],
        DType.Int64 => Storage.As<long>()[storageIndex],
        DType.Bool => Storage.As<bool>()[storageIndex] ? 1 : 0,
        _ => throw new InvalidOperationException(),
    };

    /// <summary>Fills every element of this view (no version bump; callers decide).</summary>
    internal void FillRaw(double value)
    {
        if (IsContiguous)
        {
            int n = Numel;
            switch (DType)
            {
                case DType.Float32: Storage.As<float>().AsSpan(Offset, n).Fill((float)value); break;
                case DType.Float64: Storage.As<double>().AsSpan(Offset, n).Fill(value); break;
                case DType.Int64: Storage.As<long>().AsSpan(Offset, n).Fill((long)value); break;
                case DType.Bool: Storage.As<bool>().AsSpan(Offset, n).Fill(value != 0); break;
            }
            return;
        }
        var src = Full(ShapeArray, value, DType);
        CopyRawFrom(src);
    }

    /// <summary>Copies the values of <paramref name="src"/> (same shape and dtype) into this view.</summary>
    internal void CopyRawFrom(Tensor src)
    {
        var srcStrides = src._strides;
        var dstStrides = _strides;
        switch (DType)
        {
            case DType.Float32: Kernels.Strided.Copy(src.Storage.As<float>(), src.Offset, srcStrides, Storage.As<float>(), Offset, dstStrides, _shape); break;
            case DType.Float64: Kernels.Strided.Copy(src.Storage.As<double>(), src.Offset, srcStrides, Storage.As<double>(), Offset, dstStrides, _shape); break;
            case DType.Int64: Kernels.Strided.Copy(src.Storage.As<long>(), src.Offset, srcStrides, Storage.As<long>(), Offset, dstStrides, _shape); break;
            case DType.Bool: Kernels.Strided.Copy(src.Storage.As<bool>(), src.Offset, srcStrides, Storage.As<bool>(), Offset, dstStrides, _shape); break;
        }
    }

    /// <summary>The elements in row-major order: the storage itself when contiguous, else a dense copy.</summary>
    internal ReadOnlySpan<T> DenseSpan<T>()
    {
        var data = Storage.As<T>();
        if (IsContiguous) return data.AsSpan(Offset, Numel);
        var dst = new T[Numel];
        Kernels.Strided.Gather(data, Offset, _shape, _strides, dst);
        return dst;
    }

    /// <summary>The elements in row-major order as a dense array: the storage array itself when this
    /// tensor is contiguous, starts at 0 and covers it all, else a copy.</summary>
    internal T[] DenseArray<T>()
    {
        var data = Storage.As<T>();
        if (Offset == 0 && IsContiguous && data.Length == Numel)
        {
            Storage.Escape(); // callers may keep or wrap it: a pooled array must not be recycled under them
            return data;
        }
        return DenseSpan<T>().ToArray();
    }

    // ---- reading values out --------------------------------------------------------------------

    /// <summary>Copies the elements, in row-major order, into a new array of <typeparamref name="T"/>
    /// (float, double, long or bool; must match <see cref="DType"/>).</summary>
    public T[] ToArray<T>()
    {
        if (DTypeOf<T>() != DType)
            throw new DTypeMismatchException($"ToArray<{typeof(T).Name}>: the tensor has dtype {DType.Name()}; call ToArray<{ElementTypeName}>() or convert with To(...) first.");
        return DenseSpan<T>().ToArray();
    }

    /// <summary>The elements converted to double, in row-major order.</summary>
    public double[] ToDoubleArray()
    {
        int n = Numel;
        var r = new double[n];
        switch (DType)
        {
            case DType.Float32: { var s = DenseSpan<float>(); for (int i = 0; i < n; i++) r[i] = s[i]; break; }
            case DType.Float64: DenseSpan<double>().CopyTo(r); break;
            case DType.Int64: { var s = DenseSpan<long>(); for (int i = 0; i < n; i++) r[i] = s[i]; break; }
            case DType.Bool: { var s = DenseSpan<bool>(); for (int i = 0; i < n; i++) r[i] = s[i] ? 1 : 0; break; }
        }
        return r;
    }

    private string ElementTypeName => DType switch { DType.Float32 => "float", DType.Float64 => "double", DType.Int64 => "long", _ => "bool" };

    /// <summary>The value of a one-element tensor, as double.</summary>
    public double Item()
    {
        if (Numel != 1)
            throw new ShapeMismatchException($"Item: only one-element tensors can be converted to a scalar, but this tensor has shape {ShapeUtil.Format(_shape)} ({Numel} elements). Index or reduce it first.");
        if (Tracer.Depth > 0) Tracer.CheckRead("Item", this);
        return GetRaw(Offset);
    }

    /// <summary>The value of a one-element tensor as <typeparamref name="T"/>.</summary>
    public T Item<T>() => (Tracer.Depth > 0 ? Tracer.CheckRead("Item", this) : this).ToArray<T>() is { Length: 1 } a ? a[0]
        : throw new ShapeMismatchException($"Item: only one-element tensors can be converted to a scalar, but this tensor has shape {ShapeUtil.Format(_shape)}.");

    /// <summary>The element at a multi-index (negative indices count from the end), as double.
    /// For inspection and tests; <c>x[i, j]</c> returns a tensor view instead.</summary>
    public double Get(params int[] index)
    {
        if (Tracer.Depth > 0) Tracer.CheckRead("Get", this);
        return GetRaw(StorageIndex(index));
    }
}
