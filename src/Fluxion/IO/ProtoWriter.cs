using System.Buffers.Binary;
using System.Text;

namespace Fluxion.IO;

/// <summary>
/// A minimal protocol-buffers encoder (wire format only: varints, fixed 32/64-bit and length-delimited
/// fields), enough to write ONNX models and TensorBoard events without a protobuf dependency. Fields are
/// appended in the order they are written; a nested message is written by <see cref="Message"/>.
/// </summary>
internal sealed class ProtoWriter
{
    private byte[] _buf = new byte[256];
    private int _len;

    /// <summary>The bytes written so far.</summary>
    public ReadOnlySpan<byte> Written => _buf.AsSpan(0, _len);

    /// <summary>A copy of the bytes written.</summary>
    public byte[] ToArray() => Written.ToArray();

    private Span<byte> Grow(int n)
    {
        if (_len + n > _buf.Length) Array.Resize(ref _buf, Math.Max(_buf.Length * 2, _len + n));
        var s = _buf.AsSpan(_len, n);
        _len += n;
        return s;
    }

    /// <summary>Appends a base-128 varint.</summary>
    public void Varint(ulong v)
    {
        while (v >= 0x80)
        {
            Grow(1)[0] = (byte)(v | 0x80);
            v >>= 7;
        }
        Grow(1)[0] = (byte)v;
    }

    private void Tag(int field, int wireType) => Varint((ulong)((field << 3) | wireType));

    /// <summary>An int64/int32/enum/bool field (varint; negative values take ten bytes, as protobuf).</summary>
    public ProtoWriter Int(int field, long v)
    {
        Tag(field, 0);
        Varint((ulong)v);
        return this;
    }

    /// <summary>A float field (fixed32).</summary>
    public ProtoWriter Float(int field, float v)
    {
        Tag(field, 5);
        BinaryPrimitives.WriteSingleLittleEndian(Grow(4), v);
        return this;
    }

    /// <summary>A double field (fixed64).</summary>
    public ProtoWriter Double(int field, double v)
    {
        Tag(field, 1);
        BinaryPrimitives.WriteDoubleLittleEndian(Grow(8), v);
        return this;
    }

    /// <summary>A bytes field.</summary>
    public ProtoWriter Bytes(int field, ReadOnlySpan<byte> v)
    {
        Tag(field, 2);
        Varint((ulong)v.Length);
        v.CopyTo(Grow(v.Length));
        return this;
    }

    /// <summary>A string field (UTF-8).</summary>
    public ProtoWriter String(int field, string v) => Bytes(field, Encoding.UTF8.GetBytes(v));

    /// <summary>A nested message field: <paramref name="body"/> writes its fields.</summary>
    public ProtoWriter Message(int field, Action<ProtoWriter> body)
    {
        var inner = new ProtoWriter();
        body(inner);
        return Bytes(field, inner.Written);
    }

    /// <summary>A packed repeated double field.</summary>
    public ProtoWriter PackedDoubles(int field, ReadOnlySpan<double> v)
    {
        var bytes = new byte[v.Length * 8];
        for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(8 * i), v[i]);
        return Bytes(field, bytes);
    }
}

/// <summary>Atomic file writes (a temporary file in the same directory, then a rename).</summary>
internal static class AtomicFile
{
    /// <summary>Writes <paramref name="data"/> to <paramref name="path"/> atomically: readers see the old file or the whole new one.</summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> data)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full) ?? ".";
        var tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                fs.Write(data);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }
}
