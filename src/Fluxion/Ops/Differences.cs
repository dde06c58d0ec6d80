namespace Fluxion;

// Finite differences and integration along a dim (diff, gradient, trapezoid) and renorm: composites of
// Slice, Cat, Sub, Mul, Div, Sum and Where, so their derivatives are those entries'.
public partial class Tensor
{
    internal static readonly OpDef DiffOp = Composite("Diff", ["Slice", "Sub", "Cat"], ["diff"], () =>
    [
        new("1-d", [SampleReal(1, 5)], t => t[0].Diff()),
        new("n=2 dim 0", [SampleReal(2, 4, 3)], t => t[0].Diff(2, 0)),
        new("prepend append", [SampleReal(3, 2, 3), SampleReal(4, 2, 1), SampleReal(5, 2, 2)], t => t[0].Diff(1, -1, t[1], t[2])),
    ], OpFamily.ReduceScanSort, DTypeSet.Floats | DTypeSet.Int64);

    /// <summary>
    /// The <paramref name="n"/>-th forward difference out[i] = x[i+1] - x[i] along <paramref name="dim"/>, after
    /// concatenating <paramref name="prepend"/> before and <paramref name="append"/> after the input along it (PyTorch's <c>diff</c>).
    /// </summary>
    public Tensor Diff(int n = 1, int dim = -1, Tensor? prepend = null, Tensor? append = null)
    {
        const string op = "Diff";
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), $"{op}: n must be non-negative, got {n}.");
        if (DType == DType.Bool) throw new DTypeMismatchException($"{op}: bool tensors are not supported (shape {ShapeUtil.Format(_shape)}); convert with To(...) first.");
        int d = WrapIndexDim(op, dim);
        var x = this;
        if (prepend is not null || append is not null)
        {
            var parts = new List<Tensor>();
            if (prepend is not null) parts.Add(prepend.Rank == 0 ? prepend.Expand(DimSized(d, 1)) : prepend);
            parts.Add(x);
            if (append is not null) parts.Add(append.Rank == 0 ? append.Expand(DimSized(d, 1)) : append);
            x = Cat([.. parts], d);
        }
        for (int k = 0; k < n; k++)
        {
            int len = x._shape[d];
            if (len == 0) break;
            x = x.DType == DType.Int64 ? SubLongs(x.Narrow(d, 1, len - 1), x.Narrow(d, 0, len - 1)) : x.Narrow(d, 1, len - 1) - x.Narrow(d, 0, len - 1);
        }
        return x;
    }

    /// <summary>a - b for int64 tensors of one shape (exact; integers take no gradient).</summary>
    private static Tensor SubLongs(Tensor a, Tensor b)
    {
        var x = a.DenseSpan<long>();
        var y = b.DenseSpan<long>();
        var r = new long[x.Length];
        for (int i = 0; i < r.Length; i++) r[i] = unchecked(x[i] - y[i]);
        return Wrap(r, a.ShapeArray);
    }

    /// <summary>This tensor's shape with dim <paramref name="d"/> set to <paramref name="size"/>.</summary>
    private int[] DimSized(int d, int size)
    {
        var s = ShapeArray;
        s[d] = size;
        return s;
    }

    internal static readonly OpDef GradientOp = Composite("Gradient", ["Slice", "Sub", "Mul", "Cat"], ["gradient"], () =>
    [
        new("1-d", [SampleReal(1, 5)], t => t[0].Gradient()[0]),
        new("2-d spacing", [SampleReal(2, 3, 4)], t => Stack(t[0].Gradient([0.5, 2.0]))),
        new("edge order 2", [SampleReal(3, 4, 3)], t => t[0].Gradient([1.5], dims: [0], edgeOrder: 2)[0]),
    ], OpFamily.ReduceScanSort, DTypeSet.Floats);

    /// <summary>
    /// Estimates the derivative along each of <paramref name="dims"/> (default: every dim) from samples
    /// <paramref name="spacing"/> apart (one spacing, or one per dim; default 1): central differences inside,
    /// one-sided differences of accuracy order <paramref name="edgeOrder"/> (1 or 2) at the ends (PyTorch's <c>gradient</c>
    /// with scalar spacings). Returns one tensor per dim.
    /// </summary>
    public Tensor[] Gradient(double[]? spacing = null, int[]? dims = null, int edgeOrder = 1)
    {
        const string op = "Gradient";
        CheckFloat(op);
        if (edgeOrder is not (1 or 2)) throw new ArgumentException($"{op}: edgeOrder must be 1 or 2, got {edgeOrder}.", nameof(edgeOrder));
        var ds = dims is null ? Enumerable.Range(0, Rank).ToArray() : WrapDims(op, dims);
        if (Rank == 0) throw new ShapeMismatchException($"{op}: the input is 0-d; it needs at least one dim.");
        spacing ??= [1.0];
        if (spacing.Length != 1 && spacing.Length != ds.Length)
            throw new ArgumentException($"{op}: give one spacing or one per dim ({ds.Length}), got {spacing.Length}.", nameof(spacing));
        var r = new Tensor[ds.Length];
        for (int k = 0; k < ds.Length; k++)
        {
            int d = ds[k], n = _shape[d];
            double h = spacing.Length == 1 ? spacing[0] : spacing[k];
            if (n < edgeOrder + 1)
                throw new ArgumentException($"{op}: dim {d} has size {n} (shape {ShapeUtil.Format(_shape)}); edgeOrder {edgeOrder} needs at least {edgeOrder + 1} samples.");
            Tensor At(int start, int len) => Narrow(d, start, len);
            var inner = (At(2, n - 2) - At(0, n - 2)) * (1 / (2 * h));
            Tensor first, last;
            if (edgeOrder == 1)
            {
                first = (At(1, 1) - At(0, 1)) * (1 / h);
                last = (At(n - 1, 1) - At(n - 2, 1)) * (1 / h);
            }
            else
            {
                first = (At(0, 1) * -1.5 + At(1, 1) * 2.0 - At(2, 1) * 0.5) * (1 / h);
                last = (At(n - 3, 1) * 0.5 - At(n - 2, 1) * 2.0 + At(n - 1, 1) * 1.5) * (1 / h);
            }
            r[k] = Cat([first, inner, last], d);
        }
        return r;
    }

    internal static readonly OpDef TrapezoidOp = Composite("Trapezoid", ["Slice", "Add", "Mul", "Sum"], ["trapezoid", "trapz"], () =>
    [
        new("dx", [SampleReal(1, 3, 5)], t => t[0].Trapezoid(dx: 0.5)),
        new("x vector", [SampleReal(2, 4, 3), SampleReal(3, 4)], t => t[0].Trapezoid(t[1], dim: 0)),
        new("x same shape", [SampleReal(4, 2, 4), SampleReal(5, 2, 4)], t => t[0].Trapezoid(t[1])),
    ], OpFamily.ReduceScanSort, DTypeSet.Floats);

    /// <summary>The trapezoidal rule along <paramref name="dim"/> for samples <paramref name="dx"/> apart (PyTorch's <c>trapezoid</c> / <c>trapz</c>).</summary>
    public Tensor Trapezoid(double dx = 1, int dim = -1)
    {
        int d = WrapIndexDim("Trapezoid", dim);
        int n = _shape[d];
        if (n <= 1) return Sum(d) * 0.0;
        return (Narrow(d, 1, n - 1) + Narrow(d, 0, n - 1)).Sum(d) * (dx / 2);
    }

    /// <summary>The trapezoidal rule along <paramref name="dim"/> for samples at coordinates <paramref name="x"/> (a vector
    /// along that dim, or a tensor broadcasting with the input), as PyTorch's <c>trapezoid(y, x)</c>.</summary>
    public Tensor Trapezoid(Tensor x, int dim = -1)
    {
        const string op = "Trapezoid";
        ArgumentNullException.ThrowIfNull(x);
        CheckSameDType(op, this, x);
        int d = WrapIndexDim(op, dim);
        int n = _shape[d];
        Tensor dxs;
        if (x.Rank == 1)
        {
            if (x.Numel != n) throw new ShapeMismatchException($"{op}: x has {x.Numel} coordinates but dim {d} of the input (shape {ShapeUtil.Format(_shape)}) has {n} samples.");
            if (n <= 1) return Sum(d) * 0.0;
            var shape = Enumerable.Repeat(1, Rank).ToArray();
            shape[d] = n - 1;
            dxs = (x.Narrow(0, 1, n - 1) - x.Narrow(0, 0, n - 1)).Reshape(shape);
        }
        else
        {
            int xd = ShapeUtil.WrapDim(op, dim, x.Rank);
            if (n <= 1) return Sum(d) * 0.0;
            dxs = x.Diff(1, xd);
        }
        return ((Narrow(d, 1, n - 1) + Narrow(d, 0, n - 1)) * dxs).Sum(d) * 0.5;
    }

    internal static readonly OpDef RenormOp = Composite("Renorm", ["Abs", "PowScalar", "Sum", "Where", "Div", "Mul"], ["renorm"], () =>
    [
        new("p=2", [OpSamples.Make(OpSamples.Domain.AwayFromZero, 1, 3, 4)], t => t[0].Renorm(2, 0, 1.2)),
        new("p=1 dim 1", [OpSamples.Make(OpSamples.Domain.AwayFromZero, 2, 2, 3, 2)], t => t[0].Renorm(1, 1, 2.0)),
    ], OpFamily.ReduceScanSort, DTypeSet.Floats);

    /// <summary>
    /// Rescales each slice along <paramref name="dim"/> whose p-norm (over the other dims) exceeds <paramref name="maxnorm"/>
    /// by maxnorm / (norm + 1e-7); other slices are unchanged (PyTorch's <c>renorm</c>).
    /// </summary>
    public Tensor Renorm(double p, int dim, double maxnorm)
    {
        const string op = "Renorm";
        CheckFloat(op);
        if (!(p > 0) || double.IsInfinity(p)) throw new ArgumentException($"{op}: p must be a positive finite number, got {p}.", nameof(p));
        if (maxnorm < 0) throw new ArgumentException($"{op}: maxnorm must be non-negative, got {maxnorm}.", nameof(maxnorm));
        int d = WrapIndexDim(op, dim);
        var others = Enumerable.Range(0, Rank).Where(k => k != d).ToArray();
        var a = Abs();
        var powered = p == 1 ? a : p == 2 ? a * a : a.Pow(p);
        var s = others.Length == 0 ? powered : powered.Sum(others, keepDim: true);
        var mask = s.Detach().Pow(1 / p).Gt(maxnorm);
        // unscaled slices see a constant in place of their norm, so a zero slice gives no 0^(1/p - 1) in the gradient
        var norm = Where(mask, s, ScalarLike(1)).Pow(1 / p);
        return this * Where(mask, maxnorm / (norm + 1e-7), ScalarLike(1));
    }
}
