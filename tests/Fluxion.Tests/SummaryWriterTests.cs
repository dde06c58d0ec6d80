using System.Buffers.Binary;
using System.Text;
using Fluxion.Diagnostics;
using Fluxion.Nn;

namespace Fluxion.Tests;

/// <summary>TensorBoard event files read back with an independent parser: the record framing (every CRC checked
/// with a bitwise CRC-32C written here), then the Event / Summary protobufs field by field.</summary>
public class SummaryWriterTests
{
    // ---- an independent reader ------------------------------------------------------------------

    /// <summary>Bitwise CRC-32C (no table), so the check does not share code with the writer.</summary>
    private static uint Crc32C(ReadOnlySpan<byte> data)
    {
        uint crc = ~0u;
        foreach (var b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0x82F63B78u & (uint)-(int)(crc & 1));
        }
        return ~crc;
    }

    private static uint Mask(uint crc) => unchecked(((crc >> 15) | (crc << 17)) + 0xa282ead8u);

    /// <summary>The records of an event file; asserts both CRCs of each and that nothing trails.</summary>
    internal static List<byte[]> ReadRecords(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var records = new List<byte[]>();
        int pos = 0;
        while (pos < bytes.Length)
        {
            Assert.True(pos + 12 <= bytes.Length, "truncated record header");
            ulong len = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(pos));
            Assert.Equal(Mask(Crc32C(bytes.AsSpan(pos, 8))), BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(pos + 8)));
            int n = checked((int)len);
            Assert.True(pos + 12 + n + 4 <= bytes.Length, "truncated record data");
            var data = bytes.AsSpan(pos + 12, n);
            Assert.Equal(Mask(Crc32C(data)), BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(pos + 12 + n)));
            records.Add(data.ToArray());
            pos += 12 + n + 4;
        }
        return records;
    }

    /// <summary>A decoded protobuf field: varint value, fixed64/fixed32 bits, or the bytes of a length-delimited field.</summary>
    internal sealed record Field(int Number, int WireType, ulong Varint, byte[] Bytes)
    {
        public double Double => BitConverter.Int64BitsToDouble((long)Varint);
        public float Float => BitConverter.Int32BitsToSingle((int)(uint)Varint);
        public string String => Encoding.UTF8.GetString(Bytes);
        public List<Field> Message => Parse(Bytes);
    }

    internal static List<Field> Parse(byte[] msg)
    {
        var fields = new List<Field>();
        int pos = 0;
        ulong ReadVarint()
        {
            ulong v = 0;
            for (int shift = 0; ; shift += 7)
            {
                byte b = msg[pos++];
                v |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80) return v;
            }
        }
        while (pos < msg.Length)
        {
            ulong key = ReadVarint();
            int number = (int)(key >> 3), wire = (int)(key & 7);
            switch (wire)
            {
                case 0: fields.Add(new Field(number, 0, ReadVarint(), [])); break;
                case 1: fields.Add(new Field(number, 1, BinaryPrimitives.ReadUInt64LittleEndian(msg.AsSpan(pos)), [])); pos += 8; break;
                case 5: fields.Add(new Field(number, 5, BinaryPrimitives.ReadUInt32LittleEndian(msg.AsSpan(pos)), [])); pos += 4; break;
                case 2:
                {
                    int n = (int)ReadVarint();
                    fields.Add(new Field(number, 2, 0, msg.AsSpan(pos, n).ToArray()));
                    pos += n;
                    break;
                }
                default: throw new InvalidDataException($"wire type {wire}");
            }
        }
        Assert.Equal(msg.Length, pos);
        return fields;
    }

    private static Field One(List<Field> fields, int number) => Assert.Single(fields, f => f.Number == number);

    private static double[] PackedDoubles(Field f) =>
        Enumerable.Range(0, f.Bytes.Length / 8).Select(i => BinaryPrimitives.ReadDoubleLittleEndian(f.Bytes.AsSpan(8 * i))).ToArray();

    /// <summary>The summary values of the file's events: (step, Value fields).</summary>
    internal static List<(long Step, List<Field> Value)> Values(string path) =>
        ReadRecords(path).Skip(1).Select(Parse).Where(e => e.Any(f => f.Number == 5))
            .Select(e => ((long)One(e, 2).Varint, One(One(e, 5).Message, 1).Message)).ToList();

    // ---- tests ---------------------------------------------------------------------------------

    [Fact]
    public void Crc32C_MatchesTheStandardCheckValue() =>
        Assert.Equal(0xE3069283u, Crc32C("123456789"u8));

    [Fact]
    public void EventFile_RecordsAndValuesReadBack()
    {
        var dir = Directory.CreateTempSubdirectory("fluxion-tb-").FullName;
        try
        {
            var model = new Sequential(new Linear(3, 4), new ReLU(), new Linear(4, 2));
            model.Forward(Tensor.Randn([5, 3])).Sum().Backward();
            string file;
            using (var tb = new SummaryWriter(dir))
            {
                file = tb.FilePath;
                tb.AddScalar("loss/train", 0.625, 3);
                tb.AddScalar("loss/train", -1.5, 4);
                tb.AddHistogram("h", Tensor.FromArray(new float[] { 1, 2, 2, 3, 10, float.NaN }, 6), 7, bins: 3);
                tb.AddText("notes", "hello *TensorBoard*", 1);
                tb.AddParameterHistograms(model, 2);
                tb.AddGraph(model, Tensor.Zeros([1, 3]));
            }
            Assert.Matches(@"^events\.out\.tfevents\.\d+\.", Path.GetFileName(file));
            Assert.Equal(dir, Path.GetDirectoryName(file));

            var events = ReadRecords(file).Select(Parse).ToList();
            Assert.Equal("brain.Event:2", One(events[0], 3).String);
            Assert.True(One(events[0], 1).Double > 1.6e9); // wall_time in seconds since 1970
            Assert.All(events, e => Assert.Equal(1, One(e, 1).WireType));

            var values = Values(file);
            // scalars
            Assert.Equal(3, values[0].Step);
            Assert.Equal("loss/train", One(values[0].Value, 1).String);
            Assert.Equal(0.625f, One(values[0].Value, 2).Float);
            Assert.Equal(4, values[1].Step);
            Assert.Equal(-1.5f, One(values[1].Value, 2).Float);
            // histogram of [1, 2, 2, 3, 10] (NaN left out) in 3 buckets of width 3: 4, 0, 1
            var h = One(values[2].Value, 5).Message;
            Assert.Equal(7, values[2].Step);
            Assert.Equal([1.0, 10, 5, 18, 118], new[] { 1, 2, 3, 4, 5 }.Select(k => One(h, k).Double));
            Assert.Equal([4.0, 7, 10], PackedDoubles(One(h, 6)));
            Assert.Equal([4.0, 0, 1], PackedDoubles(One(h, 7)));
            // text: plugin "text", a DT_STRING tensor of shape [1]
            var text = values[3].Value;
            Assert.Equal("notes", One(text, 1).String);
            Assert.Equal("text", One(One(One(text, 9).Message, 1).Message, 1).String);
            var tensor = One(text, 8).Message;
            Assert.Equal(7UL, One(tensor, 1).Varint);
            Assert.Equal(1UL, One(One(One(tensor, 2).Message, 2).Message, 1).Varint);
            Assert.Equal("hello *TensorBoard*", One(tensor, 8).String);
            // a histogram per parameter and per gradient, named by state-dict key
            var tags = values.Skip(4).Select(v => One(v.Value, 1).String).ToList();
            Assert.Equal(model.NamedParameters().Select(p => "parameters/" + p.Name).Concat(model.NamedParameters().Select(p => "gradients/" + p.Name)).Order(), tags.Order());
            var w0 = values.Skip(4).First(v => One(v.Value, 1).String == "gradients/0.weight").Value;
            var hw = One(w0, 5).Message;
            Assert.Equal(12.0, One(hw, 3).Double);
            Assert.Equal(12.0, PackedDoubles(One(hw, 7)).Sum());
            Assert.Equal(model.NamedParameters().First().Parameter.Grad!.Sum().Item(), One(hw, 4).Double, 5);
            // the graph: NodeDefs with the ops and the parameters as Const nodes named by their keys
            var graph = Parse(Assert.Single(events, e => e.Any(f => f.Number == 4)).Single(f => f.Number == 4).Bytes);
            var nodes = graph.Where(f => f.Number == 1).Select(f => f.Message).ToList();
            var byName = nodes.ToDictionary(n => One(n, 1).String, n => One(n, 2).String);
            Assert.Equal("Const", byName["0/weight"]);
            Assert.Equal("Gemm", byName["0/Gemm"]);
            Assert.Equal("Relu", byName["1/Relu"]);
            var gemm = nodes.Single(n => One(n, 1).String == "0/Gemm");
            Assert.Equal(["input", "0/weight", "0/bias"], gemm.Where(f => f.Number == 3).Select(f => f.String));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
