using System.Buffers.Binary;
using System.IO.Compression;

namespace Fluxion.Data;

/// <summary>A data file that is malformed: wrong magic number, truncated, inconsistent counts, and so on.
/// The message names the file and the problem.</summary>
public class DataFormatException : FluxionException
{
    /// <summary>Creates the exception with a message.</summary>
    public DataFormatException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the underlying error.</summary>
    public DataFormatException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>The contents of an IDX file of unsigned bytes: its dimensions and its data.</summary>
/// <param name="Shape">The dimensions from the header (e.g. [60000, 28, 28] or [60000]).</param>
/// <param name="Data">The elements, row-major, one byte each.</param>
public sealed record IdxArray(int[] Shape, byte[] Data);

/// <summary>
/// Reader for the IDX format of the MNIST family (LeCun's format): a big-endian header
/// <c>0x00 0x00 type ndim</c>, then <c>ndim</c> 32-bit big-endian dimensions, then the data. Only the
/// unsigned-byte type (0x08), which MNIST, Fashion-MNIST and KMNIST use, is supported. Files may be
/// plain or gzip-compressed; gzip is detected from its magic bytes (0x1f 0x8b), not from the name.
/// </summary>
public static class Idx
{
    private const int MaxNdim = 8;

    /// <summary>Reads an IDX file from <paramref name="path"/>.</summary>
    /// <exception cref="DataFormatException">The file is not a well-formed IDX file of unsigned bytes.</exception>
    public static IdxArray Read(string path)
    {
        using var s = File.OpenRead(path);
        return Read(s, path);
    }

    /// <summary>
    /// Reads an IDX file from a stream; <paramref name="name"/> is used in error messages. The header is read
    /// first and the data never beyond what it describes: a plain file whose size disagrees with its header is
    /// rejected before the data is allocated, and a gzip-compressed one is inflated only up to the header's
    /// size (plus a probe of 256 bytes for extra data), in chunks of what actually arrives, so a small
    /// compressed file cannot make the reader allocate more than twice the data its header describes and
    /// its stream really holds.
    /// </summary>
    /// <exception cref="DataFormatException">The data is not a well-formed IDX file of unsigned bytes.</exception>
    public static IdxArray Read(Stream stream, string name)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanSeek)
        {
            // the compressed (or plain) bytes as they are: their size is the stream's, not amplified
            var copy = new MemoryStream();
            stream.CopyTo(copy);
            copy.Position = 0;
            stream = copy;
        }
        long start = stream.Position, size = stream.Length - start;
        Span<byte> probe = stackalloc byte[2];
        int p = ReadAtMost(stream, probe, name, gzip: false);
        stream.Position = start;
        bool gzip = p == 2 && probe[0] == 0x1f && probe[1] == 0x8b;
        if (!gzip) return ReadBody(stream, name, plainSize: size, compressedSize: 0);
        using var gz = new GZipStream(stream, CompressionMode.Decompress, leaveOpen: true);
        return ReadBody(gz, name, plainSize: null, compressedSize: size);
    }

    /// <summary>The most bytes deflate can expand one compressed byte to (its maximum ratio is about 1032:1).</summary>
    private const long MaxDeflateRatio = 1032;

    private static IdxArray ReadBody(Stream s, string name, long? plainSize, long compressedSize)
    {
        bool gzip = plainSize is null;
        var magic = new byte[4];
        int got = ReadAtMost(s, magic, name, gzip);
        if (got < 4)
            throw new DataFormatException($"IDX file '{name}': truncated header: {got} byte(s), need at least 4 for the magic number.");
        if (magic[0] != 0 || magic[1] != 0)
            throw new DataFormatException($"IDX file '{name}': bad magic number 0x{magic[0]:x2}{magic[1]:x2}{magic[2]:x2}{magic[3]:x2}: an IDX file starts with two zero bytes, a type byte and a dimension count (e.g. 0x00000803 for images, 0x00000801 for labels).");
        if (magic[2] != 0x08)
            throw new DataFormatException($"IDX file '{name}': unsupported element type 0x{magic[2]:x2}: only unsigned bytes (0x08) are supported.");
        int ndim = magic[3];
        if (ndim < 1 || ndim > MaxNdim)
            throw new DataFormatException($"IDX file '{name}': bad dimension count {ndim} in the magic number (expected 1 to {MaxNdim}).");
        int headerLen = 4 + 4 * ndim;
        var dims = new byte[4 * ndim];
        got = ReadAtMost(s, dims, name, gzip);
        if (got < dims.Length)
            throw new DataFormatException($"IDX file '{name}': truncated header: {ndim} dimensions need {headerLen} bytes, the file has {4 + got}.");
        var shape = new int[ndim];
        long numel = 1, span = 1;
        for (int d = 0; d < ndim; d++)
        {
            uint v = BinaryPrimitives.ReadUInt32BigEndian(dims.AsSpan(4 * d));
            if (v > int.MaxValue)
                throw new DataFormatException($"IDX file '{name}': dimension {d} is {v}, too large.");
            shape[d] = (int)v;
            numel = checked(numel * v); // both factors are below 2^31 and numel <= span <= Array.MaxLength: no overflow
            span = checked(span * Math.Max(v, 1u));
            if (span > Array.MaxLength)
                throw new DataFormatException(
                    $"IDX file '{name}': the dimensions [{string.Join(", ", shape[..(d + 1)])}{(d + 1 < ndim ? ", ..." : "")}] are too large: their product{(numel == 0 ? " (zero dims counted as one)" : "")} exceeds {Array.MaxLength}, the most elements one array can hold.");
        }
        string Dims() => "[" + string.Join(", ", shape) + "]";
        if (plainSize is long total)
        {
            long have = total - headerLen;
            if (have < numel)
                throw new DataFormatException($"IDX file '{name}': truncated data: the header {Dims()} needs {numel} bytes of data, the file has {have}.");
            if (have > numel)
                throw new DataFormatException($"IDX file '{name}': wrong counts: the header {Dims()} describes {numel} bytes of data, but the file has {have} ({have - numel} extra).");
        }
        else if (numel > checked(compressedSize * MaxDeflateRatio))
            throw new DataFormatException(
                $"IDX file '{name}': truncated data or a corrupt header: the header {Dims()} needs {numel} bytes of data, more than a gzip file of {compressedSize} bytes can hold (at most about {MaxDeflateRatio} times its size).");

        byte[] data;
        long filled;
        if (!gzip)
        {
            // the size was checked against the header: read it in one piece
            data = new byte[numel];
            filled = ReadAtMost(s, data, name, gzip);
        }
        else
        {
            // inflate in chunks of what actually arrives (never beyond numel), so that a header that claims more
            // than the stream holds costs no more than the stream's real content
            var chunks = new List<byte[]>();
            filled = 0;
            while (filled < numel)
            {
                var chunk = new byte[(int)Math.Min(1 << 20, numel - filled)];
                int n = ReadAtMost(s, chunk, name, gzip);
                filled += n;
                if (n < chunk.Length) break;
                chunks.Add(chunk);
            }
            data = filled < numel ? [] : new byte[numel];
            if (filled == numel)
            {
                long at = 0;
                foreach (var c in chunks)
                {
                    c.CopyTo(data, at);
                    at += c.Length;
                }
            }
        }
        if (filled < numel)
            throw new DataFormatException($"IDX file '{name}': truncated data: the header {Dims()} needs {numel} bytes of data, the {(gzip ? "decompressed " : "")}file has {filled}.");
        if (gzip)
        {
            Span<byte> extra = stackalloc byte[256];
            int more = ReadAtMost(s, extra, name, gzip);
            if (more > 0)
                throw new DataFormatException(
                    $"IDX file '{name}': wrong counts: the header {Dims()} describes {numel} bytes of data, but the decompressed file has more ({(more < extra.Length ? more.ToString(System.Globalization.CultureInfo.InvariantCulture) : "at least " + more)} extra); it was not decompressed further.");
        }
        return new IdxArray(shape, data);
    }

    /// <summary>Reads until <paramref name="buffer"/> is full or the stream ends; returns the count. Errors of
    /// the gzip decoder become a <see cref="DataFormatException"/> naming the file.</summary>
    private static int ReadAtMost(Stream s, Span<byte> buffer, string name, bool gzip)
    {
        int total = 0;
        try
        {
            while (total < buffer.Length)
            {
                int n = s.Read(buffer[total..]);
                if (n == 0) break;
                total += n;
            }
        }
        catch (InvalidDataException e) when (gzip)
        {
            throw new DataFormatException($"IDX file '{name}': corrupt gzip data ({e.Message}).", e);
        }
        catch (IOException e) when (gzip)
        {
            throw new DataFormatException($"IDX file '{name}': truncated or unreadable gzip data ({e.Message}).", e);
        }
        return total;
    }

    /// <summary>
    /// Reads a pair of IDX files, images [N, H, W] (or [N, C, H, W]) and labels [N], into a
    /// <see cref="ByteImageDataset"/> with samples of shape [1, H, W] (or [C, H, W]).
    /// </summary>
    /// <param name="images">The images stream.</param>
    /// <param name="imagesName">Name of the images file, for messages.</param>
    /// <param name="labels">The labels stream.</param>
    /// <param name="labelsName">Name of the labels file, for messages.</param>
    /// <param name="classes">Number of classes: every label must be below it.</param>
    /// <exception cref="DataFormatException">A file is malformed or the two do not match.</exception>
    public static ByteImageDataset ReadImageDataset(Stream images, string imagesName, Stream labels, string labelsName, int classes = 10)
    {
        var img = Read(images, imagesName);
        var lab = Read(labels, labelsName);
        if (img.Shape.Length is not (3 or 4))
            throw new DataFormatException($"IDX file '{imagesName}': images must have 3 dimensions [N, rows, columns] (or 4 with channels), the header has {img.Shape.Length}: [{string.Join(", ", img.Shape)}].");
        if (lab.Shape.Length != 1)
            throw new DataFormatException($"IDX file '{labelsName}': labels must have 1 dimension [N], the header has {lab.Shape.Length}: [{string.Join(", ", lab.Shape)}].");
        if (img.Shape[0] != lab.Shape[0])
            throw new DataFormatException($"IDX files '{imagesName}' and '{labelsName}': count mismatch: {img.Shape[0]} images but {lab.Shape[0]} labels.");
        for (int i = 0; i < lab.Data.Length; i++)
            if (lab.Data[i] >= classes)
                throw new DataFormatException($"IDX file '{labelsName}': label {lab.Data[i]} at index {i} is out of range (expected 0 to {classes - 1}).");
        int[] sample = img.Shape.Length == 3 ? [1, img.Shape[1], img.Shape[2]] : img.Shape[1..];
        return new ByteImageDataset(img.Data, lab.Data, sample);
    }

    /// <summary>Reads an images file and a labels file from disk (see <see cref="ReadImageDataset(Stream, string, Stream, string, int)"/>).</summary>
    public static ByteImageDataset ReadImageDataset(string imagesPath, string labelsPath, int classes = 10)
    {
        using var i = File.OpenRead(imagesPath);
        using var l = File.OpenRead(labelsPath);
        return ReadImageDataset(i, imagesPath, l, labelsPath, classes);
    }
}
