using System.Globalization;
using System.Numerics;
using System.Text;

namespace Fluxion;

public partial class Tensor
{
    /// <summary>
    /// The tensor's values as PyTorch prints them, e.g. <c>tensor([[1.0000, 2.5000],\n        [3.0000, 4.0000]])</c>:
    /// 4 decimals, integer-valued floats as <c>1.</c>, scientific notation for wide ranges, aligned
    /// columns, <c>...</c> summaries above 1000 elements, and the suffixes <c>dtype=float64</c> (the dtype's name
    /// without PyTorch's <c>torch.</c> prefix; omitted, as PyTorch does, for the default float32 and for int64 and bool
    /// values, whose dtype shows), <c>requires_grad=True</c> (leaves) or <c>grad_fn=&lt;...&gt;</c> (non-leaves).
    /// </summary>
    public override string ToString() => TensorPrinter.Format(this);
}

/// <summary>
/// Renders tensors the way PyTorch's <c>repr</c> does with its default print options (precision 4,
/// threshold 1000, 3 edge items, line width 80). Numbers are formatted from their exact binary value
/// with round-half-to-even, as Python's <c>format</c> does, so the text matches PyTorch digit for digit.
/// </summary>
internal static class TensorPrinter
{
    public const int Precision = 4;
    public const int Threshold = 1000;
    public const int EdgeItems = 3;
    public const int LineWidth = 80;

    public static string Format(Tensor t)
    {
        const string prefix = "tensor(";
        int indent = prefix.Length;
        var suffixes = new List<string>();
        string body;
        if (t.Numel == 0)
        {
            // nothing to infer the dtype from, so anything but the default float dtype is named
            if (t.Rank != 1) suffixes.Add("size=" + PyTuple(t.Shape));
            if (t.DType != DType.Float32) suffixes.Add("dtype=" + t.DType.Name());
            body = "[]";
        }
        else
        {
            if (t.DType == DType.Float64) suffixes.Add("dtype=float64");
            body = new Renderer(t).Render(indent);
        }
        if (t.GradFnName is { } name) suffixes.Add($"grad_fn=<{PyGradFnName(name)}>");
        else if (t.RequiresGrad) suffixes.Add("requires_grad=True");
        return AddSuffixes(prefix + body, suffixes, indent);
    }

    /// <summary>PyTorch's node classes carry an overload number ("MulBackward0"); ours do not.</summary>
    private static string PyGradFnName(string name) => name.Length > 0 && char.IsDigit(name[^1]) ? name : name + "0";

    private static string PyTuple(ReadOnlySpan<int> shape) =>
        shape.Length == 1 ? $"({shape[0]},)" : "(" + string.Join(", ", shape.ToArray()) + ")";

    /// <summary>Appends ", suffix" to the last line, or starts a new indented line when it would pass the line width.</summary>
    private static string AddSuffixes(string text, List<string> suffixes, int indent)
    {
        var sb = new StringBuilder(text);
        int lastLineLen = text.Length - text.LastIndexOf('\n') + 1;
        foreach (var s in suffixes)
        {
            if (lastLineLen + s.Length + 2 > LineWidth)
            {
                sb.Append(",\n").Append(' ', indent).Append(s);
                lastLineLen = indent + s.Length;
            }
            else
            {
                sb.Append(", ").Append(s);
                lastLineLen += s.Length + 2;
            }
        }
        return sb.Append(')').ToString();
    }

    /// <summary>Walks the (possibly summarized) elements of one tensor in row-major order.</summary>
    private sealed class Renderer
    {
        private readonly int[] _shape;
        private readonly int[] _strides;
        private readonly bool _summarize;
        private readonly double[]? _f;
        private readonly long[]? _i;
        private readonly bool[]? _b;
        private Formatter _fmt = null!;

        public Renderer(Tensor t)
        {
            _shape = t.ShapeArray;
            _strides = ShapeUtil.ContiguousStrides(_shape);
            _summarize = t.Numel > Threshold;
            switch (t.DType)
            {
                case DType.Float32: _f = Array.ConvertAll(t.DenseArray<float>(), v => (double)v); break;
                case DType.Float64: _f = t.DenseArray<double>(); break;
                case DType.Int64: _i = t.DenseArray<long>(); break;
                default: _b = t.DenseArray<bool>(); break;
            }
        }

        public string Render(int indent)
        {
            var shown = new List<int>();
            Collect(0, 0, shown);
            _fmt = new Formatter(this, shown);
            return Render(0, 0, indent);
        }

        /// <summary>Index ranges shown along a dim: all of it, or the edge items at both ends.</summary>
        private IEnumerable<int> Shown(int dim)
        {
            int n = _shape[dim];
            if (_summarize && n > 2 * EdgeItems)
            {
                for (int i = 0; i < EdgeItems; i++) yield return i;
                for (int i = n - EdgeItems; i < n; i++) yield return i;
            }
            else
                for (int i = 0; i < n; i++) yield return i;
        }

        private bool Elided(int dim) => _summarize && _shape[dim] > 2 * EdgeItems;

        private void Collect(int dim, int offset, List<int> shown)
        {
            if (dim == _shape.Length) { shown.Add(offset); return; }
            foreach (int i in Shown(dim)) Collect(dim + 1, offset + i * _strides[dim], shown);
        }

        private string Render(int dim, int offset, int indent)
        {
            int rank = _shape.Length;
            if (rank == 0) return _fmt.Format(offset);
            if (dim == rank - 1) return Vector(dim, offset, indent);
            var slices = new List<string>();
            int k = 0;
            foreach (int i in Shown(dim))
            {
                if (Elided(dim) && k++ == EdgeItems) slices.Add("...");
                slices.Add(Render(dim + 1, offset + i * _strides[dim], indent + 1));
            }
            string sep = "," + new string('\n', rank - dim - 1) + new string(' ', indent + 1);
            return "[" + string.Join(sep, slices) + "]";
        }

        private string Vector(int dim, int offset, int indent)
        {
            int elementLength = _fmt.Width + 2;
            int perLine = Math.Max(1, (LineWidth - indent) / elementLength);
            var data = new List<string>();
            int k = 0;
            foreach (int i in Shown(dim))
            {
                if (Elided(dim) && k++ == EdgeItems) data.Add(" ...");
                data.Add(_fmt.Format(offset + i * _strides[dim]));
            }
            var lines = new List<string>();
            for (int s = 0; s < data.Count; s += perLine)
                lines.Add(string.Join(", ", data.Skip(s).Take(perLine)));
            return "[" + string.Join(",\n" + new string(' ', indent + 1), lines) + "]";
        }

        /// <summary>One number style for the whole tensor, chosen from the values shown.</summary>
        private sealed class Formatter
        {
            private readonly Renderer _r;
            private readonly bool _intMode = true;
            private readonly bool _sciMode;

            public int Width { get; } = 1;

            public Formatter(Renderer r, List<int> shown)
            {
                _r = r;
                if (r._f is not { } f)
                {
                    foreach (int i in shown) Width = Math.Max(Width, Format(i).Length);
                    return;
                }
                var vals = new List<double>();
                foreach (int i in shown)
                    if (double.IsFinite(f[i]) && f[i] != 0) vals.Add(f[i]);
                if (vals.Count == 0) return;
                double min = double.PositiveInfinity, max = 0;
                foreach (var v in vals)
                {
                    min = Math.Min(min, Math.Abs(v));
                    max = Math.Max(max, Math.Abs(v));
                    if (v != Math.Ceiling(v)) _intMode = false;
                }
                _sciMode = max / min > 1000.0 || max > 1.0e8 || (!_intMode && min < 1.0e-4);
                foreach (var v in vals)
                {
                    int len = _sciMode ? Sci(v, Precision).Length : _intMode ? Fixed(v, 0).Length + 1 : Fixed(v, Precision).Length;
                    Width = Math.Max(Width, len);
                }
            }

            public string Format(int index)
            {
                string s;
                if (_r._f is { } f)
                {
                    double v = f[index];
                    if (_sciMode) s = Sci(v, Precision);
                    else if (_intMode) s = double.IsFinite(v) ? Fixed(v, 0) + "." : Fixed(v, 0);
                    else s = Fixed(v, Precision);
                }
                else if (_r._i is { } l) s = l[index].ToString(CultureInfo.InvariantCulture);
                else s = _r._b![index] ? "True" : "False";
                return s.Length >= Width ? s : new string(' ', Width - s.Length) + s;
            }
        }
    }

    // ---- exact decimal formatting (Python's "{:.Nf}" and "{:.Ne}") -----------------------------

    /// <summary>|v| = digits / 10^scale exactly (v finite).</summary>
    private static (BigInteger Digits, int Scale) Exact(double v)
    {
        long bits = BitConverter.DoubleToInt64Bits(Math.Abs(v));
        int exp = (int)((bits >> 52) & 0x7FF);
        long mantissa = bits & 0xF_FFFF_FFFF_FFFFL;
        if (exp == 0) exp = 1; else mantissa |= 1L << 52;
        exp -= 1075; // |v| = mantissa * 2^exp
        if (exp >= 0) return (new BigInteger(mantissa) << exp, 0);
        return (mantissa * BigInteger.Pow(5, -exp), -exp); // m / 2^k = m * 5^k / 10^k
    }

    /// <summary>Rounds digits / 10^drop to an integer, ties to even.</summary>
    private static BigInteger RoundDrop(BigInteger digits, int drop)
    {
        if (drop <= 0) return digits * BigInteger.Pow(10, -drop);
        var div = BigInteger.Pow(10, drop);
        var q = BigInteger.DivRem(digits, div, out var rem);
        int c = (rem * 2).CompareTo(div);
        if (c > 0 || (c == 0 && !q.IsEven)) q += 1;
        return q;
    }

    private static string? NonFinite(double v) =>
        double.IsNaN(v) ? "nan" : double.IsPositiveInfinity(v) ? "inf" : double.IsNegativeInfinity(v) ? "-inf" : null;

    /// <summary>Fixed-point with <paramref name="decimals"/> digits after the point, as Python's <c>"{:.Nf}"</c>.</summary>
    internal static string Fixed(double v, int decimals)
    {
        if (NonFinite(v) is { } nf) return nf;
        var (digits, scale) = Exact(v);
        string s = RoundDrop(digits, scale - decimals).ToString(CultureInfo.InvariantCulture).PadLeft(decimals + 1, '0');
        if (decimals > 0) s = s[..^decimals] + "." + s[^decimals..];
        return double.IsNegative(v) ? "-" + s : s;
    }

    /// <summary>Scientific notation with <paramref name="decimals"/> mantissa decimals, as Python's <c>"{:.Ne}"</c>.</summary>
    internal static string Sci(double v, int decimals)
    {
        if (NonFinite(v) is { } nf) return nf;
        string mant;
        int e;
        if (v == 0)
        {
            mant = "0" + new string('0', decimals);
            e = 0;
        }
        else
        {
            var (digits, scale) = Exact(v);
            int nd = digits.ToString(CultureInfo.InvariantCulture).Length;
            e = nd - 1 - scale;
            mant = RoundDrop(digits, nd - (decimals + 1)).ToString(CultureInfo.InvariantCulture);
            if (mant.Length > decimals + 1) { mant = mant[..(decimals + 1)]; e++; } // 9.99995 -> 10.0000
        }
        var sb = new StringBuilder();
        if (double.IsNegative(v)) sb.Append('-');
        sb.Append(mant[0]);
        if (decimals > 0) sb.Append('.').Append(mant, 1, decimals);
        sb.Append('e').Append(e < 0 ? '-' : '+').Append(Math.Abs(e).ToString("00", CultureInfo.InvariantCulture));
        return sb.ToString();
    }
}
