using System.Runtime.InteropServices;
using Fluxion.Nn;

namespace Fluxion.IO;

/// <summary>A module (or a configuration of one) that the ONNX export does not cover. Nothing was written.</summary>
public class OnnxExportException : FluxionException
{
    /// <summary>Creates the exception with a message.</summary>
    public OnnxExportException(string message) : base(message) { }
}

/// <summary>A value of the exported graph: its name and the tensor it held when the module was traced on the sample input.</summary>
internal readonly record struct OnnxValue(string Name, Tensor Sample)
{
    /// <summary>The traced shape (dim 0 is the dynamic batch dim in the graph).</summary>
    public int[] Shape => Sample.ShapeArray;

    /// <summary>The traced rank.</summary>
    public int Rank => Sample.Rank;
}

/// <summary>A module that writes its inference-mode computation as ONNX nodes.</summary>
internal interface IOnnxExportable
{
    /// <summary>Adds the nodes computing this module's output from <paramref name="x"/> to <paramref name="e"/>
    /// and returns the output's name (<see cref="OnnxExporter.Emit"/> traces the output's shape).</summary>
    string ExportOnnx(OnnxExporter e, OnnxValue x);
}

/// <summary>
/// Builds an ONNX graph by walking a module tree on a sample input: each module emits standard ONNX
/// ops for its inference form (<see cref="IOnnxExportable"/>) while the tree is run on the sample, so
/// every intermediate value has a known shape. Parameters and buffers become initializers named by
/// their state-dict keys; dim 0 of the input and output is the dynamic dim "batch".
/// </summary>
internal sealed class OnnxExporter
{
    /// <summary>The modules the export covers (for error messages).</summary>
    internal const string Supported =
        "Sequential, Linear, Conv2d, ConvTranspose2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, BatchNorm1d, BatchNorm2d, LayerNorm, GroupNorm, " +
        "InstanceNorm2d, Dropout, Flatten, Embedding, MultiheadAttention (batchFirst, self-attention), SinusoidalPositionalEncoding, " +
        "LearnedPositionalEncoding, PointCloudLinear, PointCloudNetwork and the activations ReLU, LeakyReLU, GELU, Tanh, Sigmoid, Softmax, " +
        "ELU, SELU, CELU, SiLU, Mish, Hardswish, Hardsigmoid, Hardtanh, ReLU6, Softsign, Softshrink, Hardshrink, Tanhshrink, LogSigmoid, " +
        "Threshold, Softmin, GLU, PReLU, RReLU";

    private sealed record NodeRec(string Op, string Name, string[] Inputs, string[] Outputs, (string Name, object Value)[] Attrs);

    private sealed record InitRec(string Name, int DataType, long[] Dims, byte[] Raw);

    private readonly List<NodeRec> _nodes = new();
    private readonly List<InitRec> _inits = new();
    private readonly HashSet<string> _names = new();
    private readonly Dictionary<Tensor, string> _stateNames = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<Tensor, string> _emitted = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<Module, string> _paths = new(ReferenceEqualityComparer.Instance);
    private string _scope = "";

    /// <summary>The opset version written.</summary>
    public int Opset { get; }

    /// <summary>The floating dtype of the graph's constants (the parameters' dtype).</summary>
    public DType FloatType { get; }

    private OnnxExporter(Module root, DType floatType, int opset)
    {
        Opset = opset;
        FloatType = floatType;
        foreach (var (k, t) in root.StateDict())
        {
            _stateNames.TryAdd(t, k);
            _names.Add(k);
        }
        foreach (var (n, m) in root.NamedModules()) _paths.TryAdd(m, n);
    }

    /// <summary>Traces <paramref name="module"/> on <paramref name="sample"/> (in eval mode, without a graph) and returns the
    /// serialized ModelProto and the traced output. The module's training flags are restored afterwards.</summary>
    public static (byte[] Model, Tensor Output) Export(Module module, Tensor sample, int opset)
    {
        if (opset < 17 || opset > 21)
            throw new ArgumentOutOfRangeException(nameof(opset), $"ExportOnnx: opset must be in 17..21, got {opset}.");
        return Run(module, sample, opset, (e, y) => (e.Serialize(sample, y.Sample), y.Sample));
    }

    /// <summary>Traces <paramref name="module"/> on <paramref name="sample"/> and returns the graph summary (see <see cref="Summary"/>).</summary>
    internal static List<(string Name, string Op, string[] Inputs)> Trace(Module module, Tensor sample) =>
        Run(module, sample, 17, (e, _) => e.Summary());

    private static T Run<T>(Module module, Tensor sample, int opset, Func<OnnxExporter, OnnxValue, T> result)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(sample);
        if (sample.Rank == 0)
            throw new ShapeMismatchException($"ExportOnnx: the sample input must be batched (dim 0 is the batch), got a 0-d tensor.");
        if (sample.DType == DType.Bool)
            throw new DTypeMismatchException("ExportOnnx: the sample input must be float32, float64 or int64 (indices for Embedding), got bool.");
        var floatType = sample.DType.IsFloatingPoint() ? sample.DType
            : module.Parameters().Select(p => p.DType).FirstOrDefault(d => d.IsFloatingPoint(), DType.Float32);
        var modes = module.NamedModules().Select(m => (m.Module, m.Module.Training)).ToList();
        try
        {
            module.Eval();
            using (Autograd.NoGrad())
            {
                var e = new OnnxExporter(module, floatType, opset);
                e._names.Add("input");
                var y = e.Emit(module, new OnnxValue("input", sample));
                e._nodes.Add(new NodeRec("Identity", "/output/Identity", [y.Name], ["output"], []));
                return result(e, y);
            }
        }
        finally
        {
            foreach (var (m, training) in modes) m.Train(training); // pre-order: a parent's flag first, then each child's own
        }
    }

    /// <summary>Emits <paramref name="module"/> on <paramref name="x"/> and traces its output.</summary>
    public OnnxValue Emit(Module module, OnnxValue x)
    {
        if (module is not IOnnxExportable ex)
            throw new OnnxExportException($"ExportOnnx: {module.GetType().FullName} ('{Path(module)}') cannot be exported to ONNX. Supported modules: {Supported}.");
        var outer = _scope;
        _scope = Path(module);
        try
        {
            var name = ex.ExportOnnx(this, x);
            return new OnnxValue(name, module.Forward(x.Sample));
        }
        finally
        {
            _scope = outer;
        }
    }

    private string Path(Module m) => _paths.TryGetValue(m, out var p) ? p : m.GetType().Name;

    /// <summary>Throws the unsupported-configuration error for <paramref name="m"/>.</summary>
    public OnnxExportException Unsupported(Module m, string why) =>
        new($"ExportOnnx: {m} ('{Path(m)}') cannot be exported: {why}");

    private string Unique(string baseName)
    {
        string name = baseName;
        for (int i = 1; !_names.Add(name); i++) name = $"{baseName}_{i}";
        return name;
    }

    // ---- nodes -----------------------------------------------------------------------------------

    /// <summary>Adds a node with one output and returns the output's name.</summary>
    public string Node(string op, string[] inputs, params (string Name, object Value)[] attrs) => Node(op, inputs, 1, attrs)[0];

    /// <summary>Adds a node with <paramref name="outputs"/> outputs and returns their names.</summary>
    public string[] Node(string op, string[] inputs, int outputs, params (string Name, object Value)[] attrs)
    {
        string prefix = _scope.Length == 0 ? "" : "/" + _scope.Replace('.', '/');
        string name = Unique($"{prefix}/{op}");
        var outs = new string[outputs];
        for (int i = 0; i < outputs; i++) outs[i] = Unique($"{name}_output_{i}");
        _nodes.Add(new NodeRec(op, name, inputs, outs, attrs));
        return outs;
    }

    /// <summary>An elementwise op of one input.</summary>
    public string Unary(string op, string x, params (string Name, object Value)[] attrs) => Node(op, [x], attrs);

    // ---- initializers and constants --------------------------------------------------------------

    /// <summary>The initializer holding <paramref name="t"/> (a parameter or buffer: named by its state-dict key), added once.</summary>
    public string Param(Tensor t)
    {
        if (_emitted.TryGetValue(t, out var n)) return n;
        n = _stateNames.TryGetValue(t, out var key) ? key : Unique($"{(_scope.Length == 0 ? "" : _scope + ".")}const");
        _names.Add(n);
        _emitted[t] = n;
        AddInit(n, t);
        return n;
    }

    private void AddInit(string name, Tensor t)
    {
        var c = t.Detach().Contiguous();
        (int type, byte[] raw) = c.DType switch
        {
            DType.Float32 => (1, MemoryMarshal.AsBytes(c.DenseSpan<float>()).ToArray()),
            DType.Float64 => (11, MemoryMarshal.AsBytes(c.DenseSpan<double>()).ToArray()),
            DType.Int64 => (7, MemoryMarshal.AsBytes(c.DenseSpan<long>()).ToArray()),
            _ => (9, c.DenseSpan<bool>().ToArray().Select(b => b ? (byte)1 : (byte)0).ToArray()),
        };
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ExportOnnx writes little-endian raw data.");
        _inits.Add(new InitRec(name, type, c.ShapeArray.Select(d => (long)d).ToArray(), raw));
    }

    /// <summary>A 1-D int64 constant (shapes, axes).</summary>
    public string Ints(params long[] values)
    {
        var n = Unique($"{(_scope.Length == 0 ? "" : _scope + ".")}ints");
        _inits.Add(new InitRec(n, 7, [values.Length], MemoryMarshal.AsBytes(values.AsSpan()).ToArray()));
        return n;
    }

    /// <summary>A constant of the graph's float dtype with <paramref name="shape"/> (a 0-d scalar by default).</summary>
    public string Floats(double[] values, params int[] shape)
    {
        var n = Unique($"{(_scope.Length == 0 ? "" : _scope + ".")}const");
        AddInit(n, Tensor.FromDoubles(values, shape, FloatType));
        return n;
    }

    /// <summary>A 0-d constant of the graph's float dtype.</summary>
    public string Scalar(double v) => Floats([v]);

    /// <summary><paramref name="n"/> copies of <paramref name="v"/> as a [n] constant (e.g. the unit scale of a norm without affine parameters).</summary>
    public string Filled(int n, double v) => Floats(Enumerable.Repeat(v, n).ToArray(), n);

    // ---- composite helpers -----------------------------------------------------------------------

    /// <summary>Reshape to <paramref name="shape"/> with dim 0 (the batch) inferred.</summary>
    public string ReshapeBatch(string x, int[] shape)
    {
        var s = shape.Select(d => (long)d).ToArray();
        s[0] = -1;
        return Node("Reshape", [x, Ints(s)]);
    }

    /// <summary>x·Wᵀ + b for W [out, in] (Gemm for 2-D inputs, MatMul otherwise).</summary>
    public string Linear(OnnxValue x, Tensor weight, Tensor? bias)
    {
        if (x.Rank == 2)
            return bias is null ? Node("Gemm", [x.Name, Param(weight)], ("transB", 1L)) : Node("Gemm", [x.Name, Param(weight), Param(bias)], ("transB", 1L));
        var y = Node("MatMul", [x.Name, Node("Transpose", [Param(weight)], ("perm", new long[] { 1, 0 }))]);
        return bias is null ? y : Node("Add", [y, Param(bias)]);
    }

    /// <summary>Checks that <paramref name="x"/> has rank <paramref name="rank"/> (batched) for <paramref name="m"/>.</summary>
    public void RequireRank(Module m, OnnxValue x, int rank, string layout)
    {
        if (x.Rank != rank)
            throw Unsupported(m, $"the export needs a batched {layout} input (dim 0 is the dynamic batch dim), but the traced input has shape {ShapeUtil.Format(x.Shape)}.");
    }

    // ---- serialization (onnx.proto field numbers) ------------------------------------------------

    private static int ElemType(DType d) => d switch { DType.Float32 => 1, DType.Float64 => 11, DType.Int64 => 7, _ => 9 };

    private byte[] Serialize(Tensor input, Tensor output)
    {
        var w = new ProtoWriter();
        w.Int(1, Opset <= 18 ? 8 : Opset <= 20 ? 9 : 10);       // ModelProto.ir_version: the one released with the opset
        w.String(2, "Fluxion");                                 // producer_name
        w.String(3, typeof(OnnxExporter).Assembly.GetName().Version?.ToString() ?? "0"); // producer_version
        w.Message(7, WriteGraph(input, output));                // graph
        w.Message(8, o => o.String(1, "").Int(2, Opset));       // opset_import {domain, version}
        return w.ToArray();
    }

    private Action<ProtoWriter> WriteGraph(Tensor input, Tensor output) => g =>
    {
        foreach (var n in _nodes) g.Message(1, WriteNode(n));   // GraphProto.node
        g.String(2, "fluxion");                                 // name
        foreach (var t in _inits)                               // initializer (TensorProto)
            g.Message(5, p =>
            {
                foreach (var d in t.Dims) p.Int(1, d);          // dims
                p.Int(2, t.DataType);                           // data_type
                p.String(8, t.Name);                            // name
                p.Bytes(9, t.Raw);                              // raw_data
            });
        g.Message(11, WriteValueInfo("input", input));          // input
        g.Message(12, WriteValueInfo("output", output));        // output
    };

    private static Action<ProtoWriter> WriteValueInfo(string name, Tensor t) => v =>
    {
        v.String(1, name);                                      // ValueInfoProto.name
        v.Message(2, tp => tp.Message(1, tt =>                  // type: TypeProto.tensor_type
        {
            tt.Int(1, ElemType(t.DType));                       // elem_type
            tt.Message(2, shape =>                              // shape: TensorShapeProto
            {
                for (int i = 0; i < t.Rank; i++)
                    shape.Message(1, d =>                       // dim
                    {
                        if (i == 0) d.String(2, "batch");       // dim_param
                        else d.Int(1, t.Size(i));               // dim_value
                    });
            });
        }));
    };

    private static Action<ProtoWriter> WriteNode(NodeRec n) => w =>
    {
        foreach (var i in n.Inputs) w.String(1, i);             // NodeProto.input
        foreach (var o in n.Outputs) w.String(2, o);            // output
        w.String(3, n.Name);                                    // name
        w.String(4, n.Op);                                      // op_type
        foreach (var (name, value) in n.Attrs)                  // attribute (AttributeProto)
            w.Message(5, a =>
            {
                a.String(1, name);
                switch (value)
                {
                    case long i: a.Int(3, i).Int(20, 2); break;             // i, type INT
                    case int i: a.Int(3, i).Int(20, 2); break;
                    case double f: a.Float(2, (float)f).Int(20, 1); break;  // f, type FLOAT
                    case string s: a.String(4, s).Int(20, 3); break;        // s, type STRING
                    case long[] ints:                                        // ints, type INTS
                        foreach (var i in ints) a.Int(8, i);
                        a.Int(20, 7);
                        break;
                    default: throw new InvalidOperationException($"ONNX attribute '{name}': unsupported value type {value.GetType().Name}.");
                }
            });
    };

    // ---- a summary for TensorBoard's graph view --------------------------------------------------

    /// <summary>The traced graph as (node name, op, input node names) triples: initializers and the input appear as
    /// nodes of their own, so each edge names the node producing the value.</summary>
    internal List<(string Name, string Op, string[] Inputs)> Summary()
    {
        var producer = new Dictionary<string, string> { ["input"] = "input" };
        var list = new List<(string, string, string[])> { ("input", "Input", []) };
        foreach (var t in _inits)
        {
            var name = t.Name.Replace('.', '/');
            producer[t.Name] = name;
            list.Add((name, "Const", []));
        }
        foreach (var n in _nodes)
        {
            var name = n.Name.TrimStart('/');
            list.Add((name, n.Op, n.Inputs.Where(producer.ContainsKey).Select(i => producer[i]).ToArray()));
            foreach (var o in n.Outputs) producer[o] = name;
        }
        return list;
    }
}
