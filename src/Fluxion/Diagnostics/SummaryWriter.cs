using System.Buffers.Binary;
using System.Globalization;
using Fluxion.IO;
using Fluxion.Nn;

namespace Fluxion.Diagnostics;

/// <summary>
/// Writes TensorBoard event files (PyTorch's <c>torch.utils.tensorboard.SummaryWriter</c>): scalars, histograms
/// (e.g. of every parameter and gradient), text and the model graph, each an <c>Event</c> protobuf in a file
/// <c>events.out.tfevents.&lt;time&gt;.&lt;host&gt;.&lt;pid&gt;.&lt;n&gt;</c> in <see cref="LogDir"/>. Records are framed as
/// TensorBoard reads them: uint64 length, masked CRC32C of the length, the data, masked CRC32C of the data.
/// The first record carries <c>file_version "brain.Event:2"</c>. Every record is flushed to the file when written,
/// so TensorBoard sees a run while it trains. Thread-safe.
/// </summary>
/// <example><code>
/// using var tb = new SummaryWriter("runs/mlp");
/// tb.AddScalar("loss/train", loss.Item(), step);
/// tb.AddParameterHistograms(model, epoch);
/// </code></example>
public sealed class SummaryWriter : IDisposable
{
    private static int _counter;
    private readonly FileStream _file;
    private readonly object _lock = new();
    private bool _disposed;

    /// <summary>The directory of the event file (created if needed).</summary>
    public string LogDir { get; }

    /// <summary>The event file being written.</summary>
    public string FilePath { get; }

    /// <summary>Creates <paramref name="logdir"/> if needed and starts a new event file in it.</summary>
    /// <param name="logdir">The run's directory (point TensorBoard's --logdir at it or at its parent).</param>
    public SummaryWriter(string logdir)
    {
        ArgumentException.ThrowIfNullOrEmpty(logdir);
        LogDir = Path.GetFullPath(logdir);
        Directory.CreateDirectory(LogDir);
        var now = DateTimeOffset.UtcNow;
        string host = System.Net.Dns.GetHostName();
        string name = $"events.out.tfevents.{now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)}.{host}.{Environment.ProcessId}.{Interlocked.Increment(ref _counter)}";
        FilePath = Path.Combine(LogDir, name);
        _file = new FileStream(FilePath, FileMode.CreateNew, FileAccess.Write, FileShare.Read);
        Write(e => e.Double(1, WallTime()).Int(2, 0).String(3, "brain.Event:2")); // wall_time, step, file_version
    }

    private static double WallTime() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;

    /// <summary>Logs <paramref name="value"/> under <paramref name="tag"/> at <paramref name="step"/> (a point of a scalar chart).</summary>
    public void AddScalar(string tag, double value, long step) =>
        AddValue(step, v => v.String(1, tag).Float(2, (float)value)); // Summary.Value: tag, simple_value

    /// <summary>Logs the distribution of <paramref name="values"/>'s elements in <paramref name="bins"/> equal-width buckets
    /// (TensorBoard's histogram and distribution charts). Non-finite elements are left out.</summary>
    public void AddHistogram(string tag, Tensor values, long step, int bins = 30)
    {
        ArgumentNullException.ThrowIfNull(values);
        AddHistogram(tag, values.Detach().ToDoubleArray(), step, bins);
    }

    /// <summary>Logs the distribution of <paramref name="values"/> in <paramref name="bins"/> equal-width buckets.</summary>
    public void AddHistogram(string tag, double[] values, long step, int bins = 30)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (bins < 1) throw new ArgumentOutOfRangeException(nameof(bins), $"SummaryWriter.AddHistogram('{tag}'): bins must be positive, got {bins}.");
        var finite = values.Where(double.IsFinite).ToArray();
        double min = finite.Length > 0 ? finite.Min() : 0, max = finite.Length > 0 ? finite.Max() : 0;
        double sum = 0, sumSq = 0;
        foreach (var x in finite)
        {
            sum += x;
            sumSq += x * x;
        }
        // right edges of the buckets; bucket 0 also takes everything below its edge (TensorBoard's convention)
        double width = max > min ? (max - min) / bins : 1;
        var limits = new double[bins];
        var counts = new double[bins];
        for (int i = 0; i < bins; i++) limits[i] = min + (i + 1) * width;
        limits[^1] = Math.Max(limits[^1], max);
        foreach (var x in finite) counts[Math.Clamp((int)((x - min) / width), 0, bins - 1)]++;
        AddValue(step, v => v.String(1, tag).Message(5, h => h                              // tag, histo (HistogramProto)
            .Double(1, min).Double(2, max).Double(3, finite.Length).Double(4, sum).Double(5, sumSq)
            .PackedDoubles(6, limits).PackedDoubles(7, counts)));                           // bucket_limit, bucket
    }

    /// <summary>Logs <paramref name="text"/> (markdown) under <paramref name="tag"/> (TensorBoard's text plugin).</summary>
    public void AddText(string tag, string text, long step)
    {
        ArgumentNullException.ThrowIfNull(text);
        AddValue(step, v => v.String(1, tag)
            .Message(9, m => m.Message(1, p => p.String(1, "text")))                        // metadata.plugin_data.plugin_name
            .Message(8, t => t.Int(1, 7)                                                    // tensor: dtype DT_STRING
                .Message(2, s => s.Message(2, d => d.Int(1, 1)))                            // tensor_shape: one dim of size 1
                .String(8, text)));                                                         // string_val
    }

    /// <summary>
    /// Logs the histograms of every parameter ("parameters/&lt;name&gt;") and of every gradient present
    /// ("gradients/&lt;name&gt;") of <paramref name="module"/>, named by state-dict key.
    /// </summary>
    public void AddParameterHistograms(Module module, long step, int bins = 30)
    {
        ArgumentNullException.ThrowIfNull(module);
        foreach (var (name, p) in module.NamedParameters())
        {
            AddHistogram("parameters/" + name, p, step, bins);
            if (p.Grad is { } g) AddHistogram("gradients/" + name, g, step, bins);
        }
    }

    /// <summary>
    /// Logs the model graph for TensorBoard's graph view: <paramref name="module"/> traced on <paramref name="sampleInput"/>
    /// as for the ONNX export (<see cref="ModelIO.ExportOnnx"/>), one node per ONNX op, grouped by module path, with the
    /// parameters as constant nodes named by state-dict key. A module without an ONNX form raises <see cref="OnnxExportException"/>.
    /// </summary>
    public void AddGraph(Module module, Tensor sampleInput)
    {
        var nodes = OnnxExporter.Trace(module, sampleInput);
        var graph = new ProtoWriter();
        foreach (var (name, op, inputs) in nodes)
            graph.Message(1, n =>                                                           // GraphDef.node (NodeDef)
            {
                n.String(1, name).String(2, op);                                            // name, op
                foreach (var i in inputs) n.String(3, i);                                   // input
            });
        graph.Message(4, v => v.Int(1, 22));                                                // versions.producer
        var bytes = graph.ToArray();
        Write(e => e.Double(1, WallTime()).Int(2, 0).Bytes(4, bytes));                      // graph_def
    }

    private void AddValue(long step, Action<ProtoWriter> value)
    {
        Write(e => e.Double(1, WallTime()).Int(2, step).Message(5, s => s.Message(1, value))); // wall_time, step, summary.value
    }

    private void Write(Action<ProtoWriter> evt)
    {
        var w = new ProtoWriter();
        evt(w);
        var data = w.Written;
        var record = new byte[8 + 4 + data.Length + 4];
        BinaryPrimitives.WriteUInt64LittleEndian(record, (ulong)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(8), Crc32C.Masked(record.AsSpan(0, 8)));
        data.CopyTo(record.AsSpan(12));
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(12 + data.Length), Crc32C.Masked(data));
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _file.Write(record);
            _file.Flush();
        }
    }

    /// <summary>Flushes the file to disk.</summary>
    public void Flush()
    {
        lock (_lock)
        {
            if (!_disposed) _file.Flush(flushToDisk: true);
        }
    }

    /// <summary>Flushes and closes the file.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            _file.Flush(flushToDisk: true);
            _file.Dispose();
        }
    }
}

/// <summary>CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) and TFRecord's masking of it.</summary>
internal static class Crc32C
{
    private static readonly uint[] Table = BuildTable();

    private static uint[] BuildTable()
    {
        var t = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
            t[i] = c;
        }
        return t;
    }

    /// <summary>The CRC-32C of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFFu;
        foreach (var b in data) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return ~crc;
    }

    /// <summary>The masked CRC TFRecord files store: rotate right by 15 bits, add 0xa282ead8.</summary>
    public static uint Masked(ReadOnlySpan<byte> data)
    {
        uint crc = Compute(data);
        return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
    }
}
