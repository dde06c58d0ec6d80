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

    /// <summary>Reads an IDX file from a stream; <paramref name="name"/> is used in error messages.</summary>
    /// <exception cref="DataFormatException">The data is not a well-formed IDX file of unsigned bytes.</exception>
    public static IdxArray Read(Stream stream, string name)
    {
        var bytes = ReadAll(stream, name);
        if (bytes.Length < 4)
            throw new DataFormatException($"IDX file '{name}': truncated header: {bytes.Length} byte(s), need at least 4 for the magic number.");
        if (bytes[0] != 0 || bytes[1] != 0)
            throw new DataFormatException($"IDX file '{name}': bad magic number 0x{bytes[0]:x2}{bytes[1]:x2}{bytes[2]:x2}{bytes[3]:x2}: an IDX file starts with two zero bytes, a type byte and a dimension count (e.g. 0x00000803 for images, 0x00000801 for labels).");
        if (bytes[2] != 0x08)
            throw new DataFormatException($"IDX file '{name}': unsupported element type 0x{bytes[2]:x2}: only unsigned bytes (0x08) are supported.");
        int ndim = bytes[3];
        if (ndim < 1 || ndim > MaxNdim)
            throw new DataFormatException($"IDX file '{name}': bad dimension count {ndim} in the magic number (expected 1 to {MaxNdim}).");
        int headerLen = 4 + 4 * ndim;
        if (bytes.Length < headerLen)
            throw new DataFormatException($"IDX file '{name}': truncated header: {ndim} dimensions need {headerLen} bytes, the file has {bytes.Length}.");
        var shape = new int[ndim];
        long numel = 1;
        for (int d = 0; d < ndim; d++)
        {
            uint v = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(4 + 4 * d));
            if (v > int.MaxValue)
                throw new DataFormatException($"IDX file '{name}': dimension {d} is {v}, too large.");
            shape[d] = (int)v;
            numel *= v;
            if (numel > Array.MaxLength)
                throw new DataFormatException($"IDX file '{name}': the dimensions [{string.Join(", ", shape[..(d + 1)])}...] describe more than {Array.MaxLength} elements.");
        }
        long have = bytes.Length - headerLen;
        if (have < numel)
            throw new DataFormatException($"IDX file '{name}': truncated data: the header [{string.Join(", ", shape)}] needs {numel} bytes of data, the file has {have}.");
        if (have > numel)
            throw new DataFormatException($"IDX file '{name}': wrong counts: the header [{string.Join(", ", shape)}] describes {numel} bytes of data, but the file has {have} ({have - numel} extra).");
        return new IdxArray(shape, bytes.AsSpan(headerLen).ToArray());
    }

    private static byte[] ReadAll(Stream stream, string name)
    {
        var raw = new MemoryStream();
        stream.CopyTo(raw);
        var buf = raw.GetBuffer().AsSpan(0, (int)raw.Length);
        if (buf.Length >= 2 && buf[0] == 0x1f && buf[1] == 0x8b)
        {
            raw.Position = 0;
            var plain = new MemoryStream();
            try
            {
                using var gz = new GZipStream(raw, CompressionMode.Decompress);
                gz.CopyTo(plain);
            }
            catch (InvalidDataException e)
            {
                throw new DataFormatException($"IDX file '{name}': corrupt gzip data ({e.Message}).", e);
            }
            catch (EndOfStreamException e)
            {
                throw new DataFormatException($"IDX file '{name}': truncated gzip data ({e.Message}).", e);
            }
            return plain.ToArray();
        }
        return buf.ToArray();
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
