using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Fluxion.IO;

/// <summary>A malformed safetensors file (truncated, bad header, bad offsets, unknown dtype, ...).
/// The message names the file and the problem.</summary>
public class SafeTensorsFormatException : FluxionException
{
    /// <summary>Creates the exception with a message.</summary>
    public SafeTensorsFormatException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the underlying error.</summary>
    public SafeTensorsFormatException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>The contents of a safetensors file.</summary>
/// <param name="Tensors">The tensors by name, in the order of their data in the file.</param>
/// <param name="Metadata">The free-form string map stored under "__metadata__" (empty when absent).</param>
public sealed record SafeTensorsData(IReadOnlyDictionary<string, Tensor> Tensors, IReadOnlyDictionary<string, string> Metadata);

/// <summary>
/// Reader and writer for the safetensors format (Hugging Face): an 8-byte little-endian header length
/// N, N bytes of UTF-8 JSON mapping each tensor name to <c>{"dtype", "shape", "data_offsets": [begin, end)}</c>
/// (offsets relative to the data section) plus an optional <c>"__metadata__"</c> string map, padded
/// with spaces so the data section starts at a multiple of 8; then the raw little-endian tensor data.
/// Fluxion reads and writes the dtypes F32, F64, I64 and BOOL.
/// </summary>
public static class SafeTensors
{
    /// <summary>Largest header accepted (the reference implementation's limit).</summary>
    public const int MaxHeaderBytes = 100_000_000;

    private const string MetadataKey = "__metadata__";

    /// <summary>Test hook: called with the temporary file's path after it is written and before it
    /// replaces the destination. Lets tests simulate a failure at the last moment.</summary>
    internal static Action<string>? BeforeCommit;

    /// <summary>The safetensors name of a dtype ("F32", "F64", "I64", "BOOL").</summary>
    public static string DTypeCode(DType dtype) => dtype switch
    {
        DType.Float32 => "F32",
        DType.Float64 => "F64",
        DType.Int64 => "I64",
        DType.Bool => "BOOL",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    private static DType? ParseDType(string code) => code switch
    {
        "F32" => DType.Float32,
        "F64" => DType.Float64,
        "I64" => DType.Int64,
        "BOOL" => DType.Bool,
        _ => null,
    };

    private static readonly HashSet<string> OtherKnownDTypes =
        ["F16", "BF16", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "I8", "U8", "I16", "U16", "I32", "U32", "U64", "C64"];

    // ---- writing ---------------------------------------------------------------------------------

    /// <summary>
    /// Writes <paramref name="tensors"/> (and optional <paramref name="metadata"/>) to <paramref name="path"/>
    /// atomically: the file is written to a temporary file in the same directory, flushed to disk and
    /// then moved over <paramref name="path"/>, so a failure at any point leaves an existing file intact.
    /// Tensors are stored by dtype size (largest first) and then by name, as the reference implementation does.
    /// Temporary files that earlier saves of the same <paramref name="path"/> left behind when they were killed
    /// (named <c>.{file name}.{32 hex digits}.tmp</c>, in the same directory, and not open in another save) are
    /// deleted after a successful save; no other file is touched.
    /// </summary>
    /// <exception cref="ArgumentException">A name is empty or "__metadata__".</exception>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(tensors);
        foreach (var (name, t) in tensors)
        {
            if (string.IsNullOrEmpty(name) || name == MetadataKey)
                throw new ArgumentException($"SafeTensors.Save: invalid tensor name '{name}' (must be non-empty and not \"{MetadataKey}\").", nameof(tensors));
            ArgumentNullException.ThrowIfNull(t, $"tensors[\"{name}\"]");
        }
        if (metadata is not null)
            foreach (var (k, v) in metadata)
                if (k is null || v is null) throw new ArgumentException("SafeTensors.Save: metadata keys and values must not be null.", nameof(metadata));

        var order = tensors.OrderByDescending(kv => kv.Value.DType.ElementSize()).ThenBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        var header = BuildHeader(order, metadata);

        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full) ?? ".";
        var tmp = Path.Combine(dir, TempPrefix(full) + $"{Guid.NewGuid():N}" + TempSuffix);
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                Span<byte> len = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Length);
                fs.Write(len);
                fs.Write(header);
                foreach (var (_, t) in order) WriteData(fs, t);
                fs.Flush(flushToDisk: true);
            }
            BeforeCommit?.Invoke(tmp);
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
        RemoveStaleTemps(full);
    }

    private const string TempSuffix = ".tmp";

    private static string TempPrefix(string fullPath) => $".{Path.GetFileName(fullPath)}.";

    /// <summary>The temporary files of earlier saves of <paramref name="fullPath"/>: exactly the names
    /// <see cref="Save"/> gives them (the prefix, 32 lowercase hex digits, ".tmp").</summary>
    internal static IEnumerable<string> TempFiles(string fullPath)
    {
        var dir = Path.GetDirectoryName(fullPath) ?? ".";
        var prefix = TempPrefix(fullPath);
        IEnumerable<string> names;
        try { names = Directory.EnumerateFiles(dir, "*" + TempSuffix).ToList(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { yield break; }
        foreach (var f in names)
        {
            var name = Path.GetFileName(f);
            if (name.Length != prefix.Length + 32 + TempSuffix.Length
                || !name.StartsWith(prefix, StringComparison.Ordinal) || !name.EndsWith(TempSuffix, StringComparison.Ordinal))
                continue;
            var id = name.AsSpan(prefix.Length, 32);
            bool hex = true;
            foreach (var c in id) hex &= c is >= '0' and <= '9' or >= 'a' and <= 'f';
            if (hex) yield return f;
        }
    }

    /// <summary>Deletes the temporary files of earlier, interrupted saves of <paramref name="fullPath"/>. A file
    /// another save still has open (it holds it with FileShare.None) is skipped; errors are ignored (the save
    /// itself has succeeded, and the next one tries again).</summary>
    private static void RemoveStaleTemps(string fullPath)
    {
        foreach (var f in TempFiles(fullPath))
        {
            try
            {
                using (new FileStream(f, FileMode.Open, FileAccess.ReadWrite, FileShare.None)) { } // fails while a live save writes it
                File.Delete(f);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
    }

    private static byte[] BuildHeader(List<KeyValuePair<string, Tensor>> order, IReadOnlyDictionary<string, string>? metadata)
    {
        var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject(MetadataKey);
                foreach (var (k, v) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, t) in order)
            {
                long bytes = (long)t.Numel * t.DType.ElementSize();
                w.WriteStartObject(name);
                w.WriteString("dtype", DTypeCode(t.DType));
                w.WriteStartArray("shape");
                foreach (var d in t.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + bytes);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += bytes;
            }
            w.WriteEndObject();
        }
        int n = (int)ms.Length;
        int padded = (n + 7) / 8 * 8; // the data section starts at 8 + padded, a multiple of 8
        for (int i = n; i < padded; i++) ms.WriteByte((byte)' ');
        return ms.ToArray();
    }

    private static void WriteData(Stream s, Tensor t)
    {
        switch (t.DType)
        {
            case DType.Float32: WriteLE(s, MemoryMarshal.Cast<float, int>(t.DenseSpan<float>())); break;
            case DType.Float64: WriteLE(s, MemoryMarshal.Cast<double, long>(t.DenseSpan<double>())); break;
            case DType.Int64: WriteLE(s, t.DenseSpan<long>()); break;
            case DType.Bool: s.Write(MemoryMarshal.AsBytes(t.DenseSpan<bool>())); break; // .NET bools are one byte, 0 or 1
        }
    }

    private static void WriteLE<T>(Stream s, ReadOnlySpan<T> data) where T : unmanaged
    {
        if (BitConverter.IsLittleEndian) { s.Write(MemoryMarshal.AsBytes(data)); return; }
        var copy = data.ToArray();
        ReverseEndianness<T>(copy);
        s.Write(MemoryMarshal.AsBytes(copy.AsSpan()));
    }

    private static void ReverseEndianness<T>(Span<T> data) where T : unmanaged
    {
        if (typeof(T) == typeof(int)) BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<T, int>(data), MemoryMarshal.Cast<T, int>(data));
        else if (typeof(T) == typeof(long)) BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<T, long>(data), MemoryMarshal.Cast<T, long>(data));
    }

    // ---- reading ---------------------------------------------------------------------------------

    /// <summary>Reads a safetensors file, validating all of it before returning.</summary>
    /// <exception cref="SafeTensorsFormatException">The file is malformed or uses a dtype Fluxion does not have.</exception>
    public static SafeTensorsData Load(string path)
    {
        byte[] file = File.ReadAllBytes(path);
        return Parse(file, path);
    }

    /// <summary>Parses the bytes of a safetensors file; <paramref name="name"/> is used in error messages.</summary>
    /// <exception cref="SafeTensorsFormatException">The data is malformed or uses a dtype Fluxion does not have.</exception>
    public static SafeTensorsData Parse(ReadOnlySpan<byte> file, string name)
    {
        SafeTensorsFormatException Fail(string problem) => new($"safetensors file '{name}': {problem}");

        if (file.Length < 8)
            throw Fail($"truncated file: {file.Length} byte(s), need at least 8 for the header length.");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(file);
        if (n > (ulong)(file.Length - 8))
            throw Fail($"header length {n} goes beyond the end of the file ({file.Length - 8} bytes follow the 8-byte length); the file is truncated or not a safetensors file.");
        if (n > MaxHeaderBytes)
            throw Fail($"header length {n} exceeds the limit of {MaxHeaderBytes} bytes.");
        var headerBytes = file.Slice(8, (int)n);
        var data = file[(8 + (int)n)..];

        if (headerBytes.Length == 0 || headerBytes[0] != (byte)'{')
            throw Fail("bad header: the JSON header must start with '{'.");
        JsonDocument doc;
        try
        {
            _ = new UTF8Encoding(false, throwOnInvalidBytes: true).GetCharCount(headerBytes);
            doc = JsonDocument.Parse(headerBytes.ToArray(), new JsonDocumentOptions { AllowDuplicateProperties = false, MaxDepth = 16 });
        }
        catch (Exception e) when (e is JsonException or DecoderFallbackException or ArgumentException or InvalidOperationException)
        {
            throw new SafeTensorsFormatException($"safetensors file '{name}': bad JSON header: {e.Message}", e);
        }

        var metadata = new Dictionary<string, string>();
        var entries = new List<(string Name, DType DType, int[] Shape, long Begin, long End)>();
        using (doc)
        try
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw Fail($"bad header: the JSON header must be an object, got {doc.RootElement.ValueKind}.");
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == MetadataKey)
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object)
                        throw Fail($"bad header: \"{MetadataKey}\" must be an object of strings.");
                    foreach (var m in prop.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String)
                            throw Fail($"bad header: metadata value of '{m.Name}' must be a string, got {m.Value.ValueKind}.");
                        metadata[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                entries.Add(ParseEntry(prop, Fail));
            }
        }
        catch (InvalidOperationException e)
        {
            // System.Text.Json accepts escapes such as "\ud800" (a lone surrogate) but cannot turn them into a string
            throw new SafeTensorsFormatException(
                $"safetensors file '{name}': bad JSON header: a name or string is not valid Unicode (a lone surrogate escape such as \\ud800?): {e.Message}", e);
        }

        // offsets: in range, sized by dtype and shape, contiguous, no overlap, covering the data section
        foreach (var e in entries)
        {
            if (e.End > data.Length)
                throw Fail($"tensor '{e.Name}': data_offsets [{e.Begin}, {e.End}) are out of range: the data section has {data.Length} bytes.");
            long numel = 1;
            foreach (var d in e.Shape) numel = checked(numel * d); // bounded by ParseEntry: cannot overflow
            long expected = checked(numel * e.DType.ElementSize());
            if (e.End - e.Begin != expected)
                throw Fail($"tensor '{e.Name}': shape {ShapeUtil.Format(e.Shape)} of {DTypeCode(e.DType)} needs {expected} bytes, but data_offsets [{e.Begin}, {e.End}) span {e.End - e.Begin}.");
        }
        var sorted = entries.OrderBy(e => e.Begin).ThenBy(e => e.End).ToList();
        long pos = 0;
        string? prev = null;
        foreach (var e in sorted)
        {
            if (e.Begin < pos)
                throw Fail($"tensor '{e.Name}': data_offsets [{e.Begin}, {e.End}) overlap tensor '{prev}' (which ends at {pos}).");
            if (e.Begin > pos)
                throw Fail($"data_offsets do not cover the data section: bytes [{pos}, {e.Begin}) belong to no tensor (before '{e.Name}').");
            pos = e.End;
            prev = e.Name;
        }
        if (pos != data.Length)
            throw Fail($"data_offsets do not cover the data section: the tensors end at byte {pos}, the data section has {data.Length} bytes.");

        var tensors = new Dictionary<string, Tensor>(sorted.Count);
        foreach (var e in sorted)
            tensors[e.Name] = MakeTensor(data.Slice((int)e.Begin, (int)(e.End - e.Begin)), e.DType, e.Shape);
        return new SafeTensorsData(tensors, metadata);
    }

    private static (string Name, DType DType, int[] Shape, long Begin, long End) ParseEntry(JsonProperty prop, Func<string, SafeTensorsFormatException> fail)
    {
        string name = prop.Name;
        var v = prop.Value;
        if (v.ValueKind != JsonValueKind.Object)
            throw fail($"bad header: entry '{name}' must be an object with dtype, shape and data_offsets.");
        if (!v.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String)
            throw fail($"bad header: tensor '{name}' has no \"dtype\" string.");
        if (!v.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array)
            throw fail($"bad header: tensor '{name}' has no \"shape\" array.");
        if (!v.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array)
            throw fail($"bad header: tensor '{name}' has no \"data_offsets\" array.");

        string code = dt.GetString()!;
        var dtype = ParseDType(code) ?? throw fail(OtherKnownDTypes.Contains(code)
            ? $"tensor '{name}': dtype {code} is not supported (Fluxion reads F32, F64, I64 and BOOL); convert it before saving."
            : $"tensor '{name}': unknown dtype \"{code}\".");

        var shape = new int[sh.GetArrayLength()];
        long numel = 1;
        int k = 0;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long dim) || dim < 0)
                throw fail($"bad header: tensor '{name}': shape entries must be non-negative integers, got {d.GetRawText()}.");
            if (dim > int.MaxValue || (numel *= Math.Max(dim, 1)) > Array.MaxLength)
                throw fail($"tensor '{name}': shape {sh.GetRawText()} is too large.");
            shape[k++] = (int)dim;
        }

        if (off.GetArrayLength() != 2)
            throw fail($"bad header: tensor '{name}': data_offsets must be [begin, end], got {off.GetRawText()}.");
        var o = new long[2];
        k = 0;
        foreach (var d in off.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out o[k]) || o[k] < 0)
                throw fail($"bad header: tensor '{name}': data_offsets must be non-negative integers, got {off.GetRawText()}.");
            k++;
        }
        if (o[1] < o[0])
            throw fail($"tensor '{name}': data_offsets [{o[0]}, {o[1]}) end before they begin.");
        return (name, dtype, shape, o[0], o[1]);
    }

    private static Tensor MakeTensor(ReadOnlySpan<byte> bytes, DType dtype, int[] shape)
    {
        switch (dtype)
        {
            case DType.Float32:
            {
                var a = MemoryMarshal.Cast<byte, float>(bytes).ToArray();
                if (!BitConverter.IsLittleEndian) ReverseEndianness(MemoryMarshal.Cast<float, int>(a.AsSpan()));
                return Tensor.Wrap(a, shape);
            }
            case DType.Float64:
            {
                var a = MemoryMarshal.Cast<byte, double>(bytes).ToArray();
                if (!BitConverter.IsLittleEndian) ReverseEndianness(MemoryMarshal.Cast<double, long>(a.AsSpan()));
                return Tensor.Wrap(a, shape);
            }
            case DType.Int64:
            {
                var a = MemoryMarshal.Cast<byte, long>(bytes).ToArray();
                if (!BitConverter.IsLittleEndian) ReverseEndianness(a.AsSpan());
                return Tensor.Wrap(a, shape);
            }
            default:
            {
                var a = new bool[bytes.Length];
                for (int i = 0; i < a.Length; i++) a[i] = bytes[i] != 0;
                return Tensor.Wrap(a, shape);
            }
        }
    }
}
