using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using Fluxion.Data;
using Fluxion.IO;
using Fluxion.Nn;
using Fluxion.Optim;

namespace Fluxion.Cli;

/// <summary>The file formats <see cref="Fuzzer"/> mutates.</summary>
public enum FuzzFormat
{
    /// <summary>Safetensors checkpoints, read with <see cref="SafeTensors.Parse"/> and loaded with <see cref="ModelIO"/>.</summary>
    SafeTensors,

    /// <summary>IDX files (plain and gzip-compressed), read with <see cref="Idx.Read(Stream, string)"/>.</summary>
    Idx,
}

/// <summary>What happened to one mutated file. The first two are the only acceptable outcomes.</summary>
public enum FuzzOutcome
{
    /// <summary>The file was read (and loaded) and the values are the file's.</summary>
    Loaded,

    /// <summary>A <see cref="FluxionException"/> rejected the file and nothing changed.</summary>
    TypedError,

    /// <summary>An exception that is not a <see cref="FluxionException"/> escaped.</summary>
    UntypedException,

    /// <summary>A failed load changed the model or the optimizer.</summary>
    PartialChange,

    /// <summary>A load reported success but the values are not the file's.</summary>
    WrongValues,

    /// <summary>The reader allocated more than the case's bound (see <see cref="FuzzCase.AllocationBound"/>).</summary>
    OversizedAllocation,

    /// <summary>The case took more than <see cref="Fuzzer.MaxSecondsPerCase"/>.</summary>
    Slow,
}

/// <summary>One fuzz case: its index, the mutations applied, the outcome and what it cost.</summary>
/// <param name="Index">The case's index (with the run's seed it reproduces the case).</param>
/// <param name="Mutation">The mutations applied to the seed file, in order.</param>
/// <param name="Outcome">What happened.</param>
/// <param name="Error">The exception's type and message, or the problem found, or null.</param>
/// <param name="FileBytes">Size of the mutated file.</param>
/// <param name="AllocatedBytes">Bytes the reader allocated on the calling thread.</param>
/// <param name="AllocationBound">The most it may allocate: for safetensors 1 MiB plus 32 times the file's size; for
/// IDX 2 MiB plus 4 times the file's size plus twice the data its header describes (counting no more than the data
/// actually present).</param>
/// <param name="Seconds">Wall time of the read (and load).</param>
public sealed record FuzzCase(int Index, string Mutation, FuzzOutcome Outcome, string? Error, long FileBytes, long AllocatedBytes, long AllocationBound, double Seconds);

/// <summary>The counts of a fuzz run and its worst cases.</summary>
public sealed class FuzzReport
{
    /// <summary>Number of cases per outcome (every outcome present, zero when none).</summary>
    public Dictionary<FuzzOutcome, int> Counts { get; } = Enum.GetValues<FuzzOutcome>().ToDictionary(o => o, _ => 0);

    /// <summary>The first cases with an unacceptable outcome (at most 20).</summary>
    public List<FuzzCase> Failures { get; } = new();

    /// <summary>The slowest case's wall time.</summary>
    public double MaxSeconds { get; internal set; }

    /// <summary>The largest ratio of allocated bytes to the case's bound.</summary>
    public double MaxAllocationRatio { get; internal set; }

    /// <summary>The largest allocation of one case, in bytes.</summary>
    public long MaxAllocatedBytes { get; internal set; }

    /// <summary>Number of cases with an unacceptable outcome.</summary>
    public int Bad => Counts.Where(kv => kv.Key is not (FuzzOutcome.Loaded or FuzzOutcome.TypedError)).Sum(kv => kv.Value);
}

/// <summary>
/// A seeded mutation fuzzer for the file readers. It starts from valid files (a checkpoint of a Linear +
/// BatchNorm1d model with Adam state and a file of every dtype; IDX images and labels, plain and gzip) and
/// applies 1 to 3 mutations: bit flips, byte overwrites, truncations, appended bytes, header length fields,
/// JSON edits (numbers and strings replaced by interesting values, lone surrogate escapes, deep nesting, huge
/// shapes and offsets, inserted or deleted characters, duplicated tokens), IDX dims and type bytes, gzip bombs
/// and corrupted compressed streams. Each case must end with a valid load (values checked) or a
/// <see cref="FluxionException"/> that left the model and optimizer unchanged, within an allocation bound and
/// <see cref="MaxSecondsPerCase"/>. The same seed and index give the same case.
/// </summary>
public static class Fuzzer
{
    /// <summary>The most time one case may take.</summary>
    public const double MaxSecondsPerCase = 1.0;

    private const long BaseAllocation = 1 << 20;

    /// <summary>Runs <paramref name="cases"/> cases (indices 0, 1, ...) with <paramref name="seed"/>. A case that takes
    /// longer than <see cref="MaxSecondsPerCase"/> is run again and counts as slow only if it is slow again.</summary>
    public static FuzzReport Run(FuzzFormat format, int cases, int seed)
    {
        var report = new FuzzReport();
        var state = new Target(format);
        for (int i = 0; i < cases; i++)
        {
            FuzzCase c;
            try
            {
                c = RunCase(state, seed, i);
                // a pause of the machine (a collection, another process) is not the reader's: a case is slow only
                // when it is slow twice in a row
                if (c.Outcome == FuzzOutcome.Slow && RunCase(state, seed, i) is { Outcome: not FuzzOutcome.Slow } again) c = again;
            }
            catch (Exception e) { throw new InvalidOperationException($"fuzz case {i} (seed {seed}): the fuzzer itself failed: {e}", e); }
            Record(report, c);
        }
        return report;
    }

    /// <summary>Runs the single case <paramref name="index"/> of the run with <paramref name="seed"/> (once: see
    /// <see cref="Run"/> for how a slow case is confirmed).</summary>
    public static FuzzCase RunCase(FuzzFormat format, int seed, int index) => RunCase(new Target(format), seed, index);

    private static void Record(FuzzReport r, FuzzCase c)
    {
        r.Counts[c.Outcome]++;
        if (c.Outcome is not (FuzzOutcome.Loaded or FuzzOutcome.TypedError) && r.Failures.Count < 20) r.Failures.Add(c);
        r.MaxSeconds = Math.Max(r.MaxSeconds, c.Seconds);
        r.MaxAllocatedBytes = Math.Max(r.MaxAllocatedBytes, c.AllocatedBytes);
        r.MaxAllocationRatio = Math.Max(r.MaxAllocationRatio, (double)c.AllocatedBytes / c.AllocationBound);
    }

    private static Random CaseRandom(int seed, int index) => new(unchecked(seed * 1_000_003 + index * 7919 + 17));

    // ---- the targets: seed files, and the model and optimizer to load into ---------------------------

    private sealed class Target
    {
        public readonly FuzzFormat Format;
        public readonly List<(string Name, byte[] Bytes)> Seeds = new();
        public Module? Model;
        public Optimizer? Optimizer;

        public Target(FuzzFormat format)
        {
            Format = format;
            if (format == FuzzFormat.SafeTensors)
            {
                Seeds.Add(("checkpoint", Bytes(path => { var (m, o) = Trained(1); ModelIO.Save(m, o, path, new Dictionary<string, string> { ["epoch"] = "2" }); })));
                Seeds.Add(("model-only", Bytes(path => ModelIO.Save(Trained(3).Model, path))));
                Seeds.Add(("dtypes", Bytes(path => SafeTensors.Save(path, new Dictionary<string, Tensor>
                {
                    ["a"] = Tensor.FromArray([1f, -2f, 3.5f, float.NaN, 0f, 1e-30f], 2, 3),
                    ["b"] = Tensor.FromArray([1.0, double.NegativeInfinity], 2),
                    ["c"] = Tensor.FromArray([1L, long.MinValue, 7L], 3),
                    ["d"] = Tensor.FromArray([true, false, true, true], 4),
                    ["e"] = Tensor.Zeros(0, 3),
                    ["s"] = Tensor.Scalar(2.5, DType.Float64),
                }, new Dictionary<string, string> { ["note"] = "every dtype", ["empty"] = "" }))));
                Reset();
            }
            else
            {
                var g = new Random(5);
                byte[] Pixels(int n) { var b = new byte[n]; g.NextBytes(b); return b; }
                Seeds.Add(("images", IdxFile([6, 5, 4], Pixels(120))));
                Seeds.Add(("labels", IdxFile([6], [3, 1, 4, 1, 5, 9])));
                Seeds.Add(("images4d", IdxFile([2, 1, 3, 3], Pixels(18))));
                Seeds.Add(("empty", IdxFile([0, 28, 28], [])));
            }
        }

        /// <summary>A fresh model and optimizer to load into (different values from every seed file's).</summary>
        public void Reset() => (Model, Optimizer) = Trained(2);

        private static (Module Model, Optimizer Optimizer) Trained(int seed)
        {
            var m = new Sequential(new Linear(4, 3, generator: new Generator(seed)), new BatchNorm1d(3));
            var opt = new Adam(m.Parameters(), lr: 0.01 * seed);
            var g = new Generator(seed + 10);
            for (int i = 0; i < 2; i++)
            {
                var loss = m.Forward(Tensor.Randn([5, 4], generator: g)).Square().Mean();
                opt.ZeroGrad();
                loss.Backward();
                opt.Step();
            }
            return (m, opt);
        }

        private static byte[] Bytes(Action<string> save)
        {
            var dir = Directory.CreateTempSubdirectory("fluxion-fuzz-").FullName;
            try
            {
                var path = Path.Combine(dir, "seed.safetensors");
                save(path);
                return File.ReadAllBytes(path);
            }
            finally { Directory.Delete(dir, recursive: true); }
        }
    }

    private static byte[] IdxFile(int[] dims, byte[] data)
    {
        var b = new byte[4 + 4 * dims.Length + data.Length];
        b[2] = 0x08;
        b[3] = (byte)dims.Length;
        for (int i = 0; i < dims.Length; i++) BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(4 + 4 * i), dims[i]);
        data.CopyTo(b, 4 + 4 * dims.Length);
        return b;
    }

    private static byte[] Gzip(byte[] plain, CompressionLevel level = CompressionLevel.Fastest)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, level)) gz.Write(plain);
        return ms.ToArray();
    }

    // ---- one case -------------------------------------------------------------------------------------

    private static FuzzCase RunCase(Target t, int seed, int index)
    {
        var rng = CaseRandom(seed, index);
        return t.Format == FuzzFormat.SafeTensors ? SafeTensorsCase(t, rng, index) : IdxCase(t, rng, index);
    }

    private static string Describe(Exception e) => $"{e.GetType().Name}: {e.Message}";

    private static FuzzCase Finish(int index, List<string> log, FuzzOutcome outcome, string? error, long fileBytes, long allocated, long bound, double seconds)
    {
        if (outcome is FuzzOutcome.Loaded or FuzzOutcome.TypedError)
        {
            if (seconds > MaxSecondsPerCase) (outcome, error) = (FuzzOutcome.Slow, $"{seconds:F3} s");
            else if (allocated > bound) (outcome, error) = (FuzzOutcome.OversizedAllocation, $"allocated {allocated} bytes, bound {bound}");
        }
        return new FuzzCase(index, string.Join("; ", log), outcome, error, fileBytes, allocated, bound, seconds);
    }

    // ---- safetensors ------------------------------------------------------------------------------------

    private static FuzzCase SafeTensorsCase(Target t, Random rng, int index)
    {
        var (seedName, seedBytes) = t.Seeds[rng.Next(t.Seeds.Count)];
        var log = new List<string> { seedName };
        var bytes = seedBytes;
        int n = rng.Next(3) == 0 ? 2 + rng.Next(2) : 1;
        for (int k = 0; k < n; k++) bytes = MutateSafeTensors(bytes, rng, log);
        bool withOptimizer = rng.Next(3) != 0, strict = rng.Next(4) != 0;
        log.Add(withOptimizer ? "load model+optimizer" : "load model");
        if (!strict) log.Add("non-strict");

        var model = t.Model!;
        var opt = t.Optimizer!;
        var before = Snapshot(model, opt);
        long bound = BaseAllocation + 32L * bytes.Length;
        var sw = Stopwatch.StartNew();
        long a0 = GC.GetAllocatedBytesForCurrentThread();
        SafeTensorsData? data = null;
        Exception? error = null;
        try
        {
            data = SafeTensors.Parse(bytes, "fuzz.safetensors");
            ModelIO.Load(model, withOptimizer ? opt : null, data, "fuzz.safetensors", strict);
        }
        catch (Exception e) { error = e; }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - a0;
        double seconds = sw.Elapsed.TotalSeconds;

        if (error is not null)
        {
            var outcome = error is FluxionException ? FuzzOutcome.TypedError : FuzzOutcome.UntypedException;
            string? problem = outcome == FuzzOutcome.UntypedException ? Describe(error) : null;
            if (!Snapshot(model, opt).SequenceEqual(before))
            {
                outcome = FuzzOutcome.PartialChange;
                problem = "the model or optimizer changed: " + Describe(error);
            }
            if (outcome == FuzzOutcome.UntypedException || outcome == FuzzOutcome.PartialChange)
                t.Reset(); // keep later cases independent of this one
            return Finish(index, log, outcome, problem, bytes.Length, allocated, bound, seconds);
        }
        var wrong = CheckLoaded(model, withOptimizer ? opt : null, data!, before);
        return Finish(index, log, wrong is null ? FuzzOutcome.Loaded : FuzzOutcome.WrongValues, wrong, bytes.Length, allocated, bound, seconds);
    }

    /// <summary>Every value of the model and the optimizer, as text (exact, NaN-aware), in a fixed order.</summary>
    private static List<string> Snapshot(Module m, Optimizer o)
    {
        var s = new List<string>();
        foreach (var (k, v) in m.StateDict()) s.Add(k + "=" + Values(v));
        var st = o.StateDict();
        foreach (var (k, v) in st.Tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal)) s.Add("opt." + k + "=" + Values(v));
        foreach (var (k, v) in st.Scalars.OrderBy(kv => kv.Key, StringComparer.Ordinal)) s.Add("opt." + k + "=" + v.ToString("R", CultureInfo.InvariantCulture));
        return s;
    }

    private static string Values(Tensor t) =>
        t.DType.Name() + ShapeText(t.Shape) + string.Join(",", t.ToDoubleArray().Select(v => BitConverter.DoubleToInt64Bits(v).ToString("x", CultureInfo.InvariantCulture)));

    private static string ShapeText(ReadOnlySpan<int> shape) => "[" + string.Join(",", shape.ToArray()) + "]";

    /// <summary>Null when the model holds the file's values (and its own for keys the file lacks), and the
    /// optimizer the file's optimizer tensors; else the first difference.</summary>
    private static string? CheckLoaded(Module m, Optimizer? o, SafeTensorsData data, List<string> before)
    {
        var beforeByKey = before.Select(s => (Key: s[..s.IndexOf('=')], Value: s)).GroupBy(x => x.Key).ToDictionary(g => g.Key, g => g.First().Value);
        foreach (var (k, v) in m.StateDict())
        {
            var now = k + "=" + Values(v);
            var want = data.Tensors.TryGetValue(k, out var f) ? k + "=" + Values(f) : beforeByKey[k];
            if (now != want) return $"'{k}' holds {now}, expected {want}";
        }
        if (o is null) return null;
        var st = o.StateDict().Tensors;
        foreach (var (k, f) in data.Tensors)
        {
            if (!k.StartsWith(ModelIO.OptimizerPrefix, StringComparison.Ordinal)) continue;
            var key = k[ModelIO.OptimizerPrefix.Length..];
            if (!st.TryGetValue(key, out var v)) return $"optimizer state '{key}' is missing after the load";
            if (Values(v) != Values(f)) return $"optimizer state '{key}' differs from the file";
        }
        return null;
    }

    private static readonly string[] InterestingNumbers =
    [
        "0", "1", "-1", "2", "3", "4", "7", "8", "12", "48", "255", "256", "65535", "65536", "2147483647", "2147483648", "-2147483648",
        "4294967295", "4294967296", "1073741824", "9007199254740993", "9223372036854775807", "9223372036854775808",
        "18446744073709551615", "99999999999999999999999999", "-0", "1.5", "1e3", "1e308", "-1e308", "0.0", "1E+2", "NaN", "Infinity", "0x10", "00",
    ];

    private static readonly string[] InterestingStrings =
    [
        "", "F32", "F64", "I64", "BOOL", "F16", "BF16", "U8", "I32", "C64", "f32", "__metadata__", "dtype", "shape", "data_offsets",
        "\\ud800", "a\\udc00b", "\\udfff\\ud800", "\\ud83d", "\\ud83d\\ude00", "\\u0000", "\\x41", "\\", "\\\"", "optimizer.state.0.exp_avg",
        "optimizer.param_groups.0.lr", "fluxion.optimizer", "Adam", "SGD", "nan", "1e999", "0.weight", "1.num_batches_tracked",
    ];

    private static byte[] MutateSafeTensors(byte[] file, Random rng, List<string> log)
    {
        // split into the length field, the JSON header and the data (when the length field still fits)
        ulong n = file.Length >= 8 ? BinaryPrimitives.ReadUInt64LittleEndian(file) : ulong.MaxValue;
        bool structured = file.Length >= 8 && n <= (ulong)(file.Length - 8);
        int choice = rng.Next(structured ? 14 : 5);
        switch (choice)
        {
            case 0: return BitFlips(file, rng, log);
            case 1: return ByteSets(file, rng, log, "{}[]\":,\\ 0-9eE.\0\xff\x80");
            case 2: return Truncate(file, rng, log);
            case 3: return Extend(file, rng, log);
            case 4: return LengthField(file, rng, log);
        }
        var header = Encoding.UTF8.GetString(file, 8, (int)n);
        var data = file.AsSpan(8 + (int)n).ToArray();
        switch (choice)
        {
            case 5 or 6: header = ReplaceToken(header, rng, log, number: true); break;
            case 7: header = ReplaceToken(header, rng, log, number: false); break;
            case 8: header = InsertSurrogate(header, rng, log); break;
            case 9: header = DeepNesting(header, rng, log); break;
            case 10: header = EditText(header, rng, log); break;
            case 11: header = HugeClaim(header, rng, log); break;
            case 12:
                data = BitFlips(data, rng, log);
                log[^1] = "data " + log[^1];
                break;
            default:
            {
                int len = rng.Next(3) == 0 ? 0 : rng.Next(1, 64);
                data = rng.Next(2) == 0 ? data[..Math.Max(0, data.Length - len)] : [.. data, .. new byte[len]];
                log.Add($"data length {data.Length}");
                break;
            }
        }
        return SafeTensorsBytes(header, data, pad: rng.Next(2) == 0);
    }

    private static byte[] SafeTensorsBytes(string header, byte[] data, bool pad)
    {
        var h = Encoding.UTF8.GetBytes(header);
        if (pad && h.Length % 8 != 0) h = [.. h, .. Enumerable.Repeat((byte)' ', 8 - h.Length % 8)];
        var file = new byte[8 + h.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)h.Length);
        h.CopyTo(file, 8);
        data.CopyTo(file, 8 + h.Length);
        return file;
    }

    private static byte[] BitFlips(byte[] b, Random rng, List<string> log)
    {
        if (b.Length == 0) { log.Add("bit flip (empty)"); return b; }
        var r = (byte[])b.Clone();
        int k = 1 + rng.Next(8);
        for (int i = 0; i < k; i++)
        {
            int p = rng.Next(r.Length);
            r[p] ^= (byte)(1 << rng.Next(8));
        }
        log.Add($"{k} bit flip(s)");
        return r;
    }

    private static byte[] ByteSets(byte[] b, Random rng, List<string> log, string alphabet)
    {
        if (b.Length == 0) { log.Add("byte set (empty)"); return b; }
        var r = (byte[])b.Clone();
        int k = 1 + rng.Next(4);
        for (int i = 0; i < k; i++) r[rng.Next(r.Length)] = rng.Next(3) == 0 ? (byte)rng.Next(256) : (byte)alphabet[rng.Next(alphabet.Length)];
        log.Add($"{k} byte(s) set");
        return r;
    }

    private static byte[] Truncate(byte[] b, Random rng, List<string> log)
    {
        int len = rng.Next(2) == 0 ? rng.Next(b.Length + 1) : Math.Max(0, b.Length - 1 - rng.Next(16));
        log.Add($"truncate to {len}");
        return b[..len];
    }

    private static byte[] Extend(byte[] b, Random rng, List<string> log)
    {
        var extra = new byte[1 + rng.Next(rng.Next(2) == 0 ? 16 : 4096)];
        if (rng.Next(2) == 0) rng.NextBytes(extra);
        log.Add($"append {extra.Length} byte(s)");
        return [.. b, .. extra];
    }

    private static byte[] LengthField(byte[] b, Random rng, List<string> log)
    {
        if (b.Length < 8) return Extend(b, rng, log);
        var r = (byte[])b.Clone();
        ulong old = BinaryPrimitives.ReadUInt64LittleEndian(r);
        ulong[] choices = [0, 1, 2, old - 1, old + 1, old + 8, old - 8, (ulong)r.Length, (ulong)r.Length - 8, (ulong)r.Length - 7, 100_000_000, 100_000_001,
            int.MaxValue, (ulong)int.MaxValue + 1, uint.MaxValue, long.MaxValue, ulong.MaxValue, (ulong)rng.NextInt64()];
        ulong v = choices[rng.Next(choices.Length)];
        BinaryPrimitives.WriteUInt64LittleEndian(r, v);
        log.Add($"header length {v}");
        return r;
    }

    /// <summary>Spans of the JSON strings (with quotes) or numbers in <paramref name="json"/>.</summary>
    private static List<(int Start, int Length)> Tokens(string json, bool numbers)
    {
        var r = new List<(int, int)>();
        for (int i = 0; i < json.Length; i++)
        {
            if (json[i] == '"')
            {
                int j = i + 1;
                while (j < json.Length && json[j] != '"') j += json[j] == '\\' ? 2 : 1;
                if (!numbers) r.Add((i, Math.Min(j + 1, json.Length) - i));
                i = j;
            }
            else if (json[i] == '-' || char.IsAsciiDigit(json[i]))
            {
                int j = i + 1;
                while (j < json.Length && (char.IsAsciiDigit(json[j]) || json[j] is '.' or 'e' or 'E' or '+' or '-')) j++;
                if (numbers) r.Add((i, j - i));
                i = j - 1;
            }
        }
        return r;
    }

    private static string ReplaceToken(string json, Random rng, List<string> log, bool number)
    {
        var tokens = Tokens(json, number);
        if (tokens.Count == 0) return EditText(json, rng, log);
        var (s, l) = tokens[rng.Next(tokens.Count)];
        string with = number
            ? (rng.Next(4) == 0 ? rng.NextInt64(-1000, 1_000_000).ToString(CultureInfo.InvariantCulture) : InterestingNumbers[rng.Next(InterestingNumbers.Length)])
            : rng.Next(6) == 0 ? "\"" + new string('x', rng.Next(1, 5000)) + "\""
            : rng.Next(8) == 0 ? (rng.Next(2) == 0 ? "123" : rng.Next(2) == 0 ? "null" : "[]")
            : "\"" + InterestingStrings[rng.Next(InterestingStrings.Length)] + "\"";
        log.Add($"{(number ? "number" : "string")} {json.Substring(s, Math.Min(l, 40))} -> {with[..Math.Min(with.Length, 40)]}");
        return json[..s] + with + json[(s + l)..];
    }

    private static string InsertSurrogate(string json, Random rng, List<string> log)
    {
        var tokens = Tokens(json, numbers: false);
        if (tokens.Count == 0) return EditText(json, rng, log);
        var (s, l) = tokens[rng.Next(tokens.Count)];
        string[] lone = ["\\ud800", "\\udbff", "\\udc00", "\\udfff", "\\ud800\\ud800", "\\udc00\\ud800", "\\uD834"];
        var sur = lone[rng.Next(lone.Length)];
        int at = s + 1 + rng.Next(Math.Max(1, l - 1));
        if (at > s + l - 1) at = s + l - 1;
        if (at <= s) at = s + 1;
        log.Add($"lone surrogate {sur} in {json.Substring(s, Math.Min(l, 40))}");
        return json[..at] + sur + json[at..];
    }

    private static string DeepNesting(string json, Random rng, List<string> log)
    {
        int[] depths = [2, 8, 15, 16, 17, 64, 1000, 100_000];
        int d = depths[rng.Next(depths.Length)];
        bool arrays = rng.Next(2) == 0;
        var sb = new StringBuilder();
        for (int i = 0; i < d; i++) sb.Append(arrays ? "[" : "{\"a\":");
        sb.Append('1');
        for (int i = 0; i < d; i++) sb.Append(arrays ? ']' : '}');
        // replace a value: after a ':' or '[' or ','
        var spots = new List<int>();
        for (int i = 0; i < json.Length; i++) if (json[i] is ':' or '[') spots.Add(i + 1);
        if (spots.Count == 0) { log.Add($"nesting {d} (whole header)"); return sb.ToString(); }
        int at = spots[rng.Next(spots.Count)];
        log.Add($"nesting {(arrays ? "arrays" : "objects")} depth {d} at {at}");
        return json[..at] + sb + (rng.Next(2) == 0 ? "," : "") + json[at..];
    }

    private static string EditText(string json, Random rng, List<string> log)
    {
        if (json.Length == 0) return "{";
        int at = rng.Next(json.Length);
        switch (rng.Next(4))
        {
            case 0:
            {
                const string chars = "{}[],:\" \\0123456789-.eEntf";
                char c = chars[rng.Next(chars.Length)];
                log.Add($"insert '{c}' at {at}");
                return json.Insert(at, c.ToString());
            }
            case 1:
            {
                int len = Math.Min(json.Length - at, 1 + rng.Next(12));
                log.Add($"delete {len} char(s) at {at}");
                return json.Remove(at, len);
            }
            case 2:
            {
                var tokens = Tokens(json, rng.Next(2) == 0);
                if (tokens.Count == 0) goto default;
                var (s, l) = tokens[rng.Next(tokens.Count)];
                var tok = json.Substring(s, l);
                // a duplicated key or value: "k":{...},"k":{...} or [a, a]
                log.Add($"duplicate {tok[..Math.Min(tok.Length, 40)]}");
                return json[..(s + l)] + (rng.Next(2) == 0 ? "," : ":") + tok + json[(s + l)..];
            }
            default:
            {
                var numbers = Tokens(json, numbers: true);
                if (numbers.Count < 2) { log.Add("swap (none)"); return json; }
                var a = numbers[rng.Next(numbers.Count)];
                var b = numbers[rng.Next(numbers.Count)];
                if (a.Start > b.Start) (a, b) = (b, a);
                if (a.Start == b.Start) { log.Add("swap (same)"); return json; }
                log.Add($"swap numbers at {a.Start} and {b.Start}");
                return json[..a.Start] + json.Substring(b.Start, b.Length) + json[(a.Start + a.Length)..b.Start] + json.Substring(a.Start, a.Length) + json[(b.Start + b.Length)..];
            }
        }
    }

    private static string HugeClaim(string json, Random rng, List<string> log)
    {
        // a shape or data_offsets array replaced with big numbers, or a dim added
        string key = rng.Next(2) == 0 ? "\"shape\":[" : "\"data_offsets\":[";
        var spots = new List<int>();
        for (int i = json.IndexOf(key, StringComparison.Ordinal); i >= 0; i = json.IndexOf(key, i + 1, StringComparison.Ordinal)) spots.Add(i + key.Length);
        if (spots.Count == 0) return ReplaceToken(json, rng, log, number: true);
        int at = spots[rng.Next(spots.Count)];
        int end = json.IndexOf(']', at);
        if (end < 0) return json;
        string[] big = ["1073741824", "2147483647", "2147483648", "4294967296", "1099511627776", "100000", "65536", "0", "9223372036854775807"];
        int count = 1 + rng.Next(4);
        var vals = Enumerable.Range(0, count).Select(_ => big[rng.Next(big.Length)]);
        string with = rng.Next(3) == 0 ? json[at..end] + (end > at ? "," : "") + big[rng.Next(big.Length)] : string.Join(",", vals);
        log.Add($"{key.Trim('"', ':', '[')} [{json[at..end]}] -> [{with}]");
        return json[..at] + with + json[end..];
    }

    // ---- IDX --------------------------------------------------------------------------------------------

    private static FuzzCase IdxCase(Target t, Random rng, int index)
    {
        var (seedName, seedBytes) = t.Seeds[rng.Next(t.Seeds.Count)];
        var log = new List<string> { seedName };
        byte[]? content = seedBytes;
        int n = 1 + rng.Next(3);
        for (int k = 0; k < n; k++) content = MutateIdx(content, rng, log);

        byte[] file;
        bool gzip = rng.Next(3) != 0;
        if (!gzip) file = content;
        else
        {
            file = Gzip(content);
            switch (rng.Next(8))
            {
                case 0:
                {
                    // a gzip bomb: the content followed by many zeros, in a file of a few KB
                    int zeros = 1 << rng.Next(10, 24);
                    file = Gzip([.. content, .. new byte[zeros]]);
                    content = null;
                    log.Add($"gzip bomb +{zeros} zero bytes");
                    break;
                }
                case 1:
                    file = BitFlips(file, rng, log);
                    log[^1] = "gzip " + log[^1];
                    content = null;
                    break;
                case 2:
                    file = Truncate(file, rng, log);
                    log[^1] = "gzip " + log[^1];
                    content = null;
                    break;
                case 3:
                    file = [.. file, .. Gzip(Enumerable.Repeat((byte)7, rng.Next(1, 100)).ToArray())];
                    content = null;
                    log.Add("second gzip member");
                    break;
                default:
                    log.Add("gzip");
                    break;
            }
            content ??= Inflate(file);
        }
        bool seekable = rng.Next(4) != 0;
        if (!seekable) log.Add("non-seekable stream");

        long claimed = ClaimedData(content, out int headerLen);
        long present = Math.Max(0, content.Length - headerLen);
        long bound = 2 * BaseAllocation + 4L * file.Length + 2 * Math.Min(claimed, present);
        var sw = Stopwatch.StartNew();
        long a0 = GC.GetAllocatedBytesForCurrentThread();
        IdxArray? result = null;
        Exception? error = null;
        try
        {
            Stream s = seekable ? new MemoryStream(file, writable: false) : new ForwardOnlyStream(file);
            result = Idx.Read(s, "fuzz.idx");
        }
        catch (Exception e) { error = e; }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - a0;
        double seconds = sw.Elapsed.TotalSeconds;
        if (error is not null)
            return Finish(index, log, error is FluxionException ? FuzzOutcome.TypedError : FuzzOutcome.UntypedException,
                error is FluxionException ? null : Describe(error), file.Length, allocated, bound, seconds);
        // a valid load: the header's shape and exactly the bytes after it
        string? wrong = null;
        if (claimed != present || claimed < 0) wrong = $"loaded a file whose header describes {claimed} bytes but {present} follow";
        else if (!result!.Data.AsSpan().SequenceEqual(content.AsSpan(headerLen))) wrong = "the data differ from the file's";
        else if (result.Shape.Length != content[3]) wrong = "the rank differs from the header's";
        return Finish(index, log, wrong is null ? FuzzOutcome.Loaded : FuzzOutcome.WrongValues, wrong, file.Length, allocated, bound, seconds);
    }

    /// <summary>The decompressed bytes, as far as they go (up to 64 MiB; a corrupt stream gives what came before the error).</summary>
    private static byte[] Inflate(byte[] gz)
    {
        var o = new MemoryStream();
        try
        {
            using var s = new GZipStream(new MemoryStream(gz), CompressionMode.Decompress);
            var buf = new byte[81920];
            int r;
            while (o.Length < 64 << 20 && (r = s.Read(buf)) > 0) o.Write(buf, 0, r);
        }
        catch (Exception e) when (e is InvalidDataException or IOException) { }
        return o.ToArray();
    }

    /// <summary>The data size an IDX header describes (-1 when it has none or is malformed).</summary>
    private static long ClaimedData(byte[] c, out int headerLen)
    {
        headerLen = 0;
        if (c.Length < 4 || c[0] != 0 || c[1] != 0 || c[2] != 8 || c[3] is < 1 or > 8) return -1;
        headerLen = 4 + 4 * c[3];
        if (c.Length < headerLen) { headerLen = c.Length; return -1; }
        long n = 1;
        for (int d = 0; d < c[3]; d++)
        {
            uint v = BinaryPrimitives.ReadUInt32BigEndian(c.AsSpan(4 + 4 * d));
            n = (long)Math.Min((double)n * v, long.MaxValue / 2);
        }
        return n;
    }

    private static byte[] MutateIdx(byte[] b, Random rng, List<string> log)
    {
        switch (rng.Next(9))
        {
            case 0: return BitFlips(b, rng, log);
            case 1: return ByteSets(b, rng, log, "\0\x01\x08\x03\xff\x7f\x80");
            case 2: return Truncate(b, rng, log);
            case 3: return Extend(b, rng, log);
            case 4 or 5:
            {
                // a dimension set to an interesting value
                if (b.Length < 8) return Extend(b, rng, log);
                var r = (byte[])b.Clone();
                int dims = Math.Max(1, Math.Min(r[3], (r.Length - 4) / 4));
                int d = rng.Next(dims);
                uint[] vals = [0, 1, 2, 3, 5, 6, 7, 255, 256, 65536, 1u << 30, int.MaxValue, 1u << 31, uint.MaxValue, (uint)rng.Next()];
                uint v = vals[rng.Next(vals.Length)];
                BinaryPrimitives.WriteUInt32BigEndian(r.AsSpan(4 + 4 * d), v);
                log.Add($"dim {d} = {v}");
                return r;
            }
            case 6:
            {
                if (b.Length < 4) return Extend(b, rng, log);
                var r = (byte[])b.Clone();
                byte[] vals = [0, 1, 2, 3, 4, 8, 9, 255, (byte)rng.Next(256)];
                int at = rng.Next(2) == 0 ? 3 : 2;
                r[at] = vals[rng.Next(vals.Length)];
                log.Add($"{(at == 3 ? "ndim" : "type")} byte = {r[at]}");
                return r;
            }
            case 7:
            {
                // huge claimed size: every dim large
                if (b.Length < 8) return Extend(b, rng, log);
                var r = (byte[])b.Clone();
                int dims = Math.Max(1, Math.Min(r[3], (r.Length - 4) / 4));
                for (int d = 0; d < dims; d++) BinaryPrimitives.WriteUInt32BigEndian(r.AsSpan(4 + 4 * d), (uint)(1 << rng.Next(8, 31)));
                log.Add("huge dims");
                return r;
            }
            default:
            {
                // a consistent file of another shape: header and data agree
                int n0 = rng.Next(0, 50), n1 = 1 + rng.Next(8);
                var data = new byte[n0 * n1];
                rng.NextBytes(data);
                log.Add($"consistent [{n0}, {n1}]");
                return IdxFile([n0, n1], data);
            }
        }
    }

    /// <summary>A stream that cannot seek (a pipe).</summary>
    private sealed class ForwardOnlyStream(byte[] data) : Stream
    {
        private int _pos;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = Math.Min(count, data.Length - _pos);
            Array.Copy(data, _pos, buffer, offset, n);
            _pos += n;
            return n;
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

/// <summary><c>fluxion fuzz &lt;safetensors|idx&gt; [--cases N] [--seed S] [--case K]</c>: runs <see cref="Fuzzer"/>.</summary>
public static class FuzzCommand
{
    /// <summary>Help text.</summary>
    public const string Usage =
        """
        Usage: fluxion fuzz <safetensors|idx> [--cases N] [--seed S] [--case K]

        Mutates valid files (bit flips, truncations, length fields, JSON edits, lone surrogates, deep nesting,
        huge claimed sizes, gzip bombs, ...) and reads each: every case must end in a valid load (values
        checked) or a Fluxion error that changed nothing, within an allocation bound and 1 s. Prints the count
        of each outcome; exits with 1 if any case failed, listing the first ones.

        Options:
          --cases N   Number of cases (default 10000).
          --seed S    Seed of the run (default 1); the same seed gives the same cases.
          --case K    Run only case K of the run (to reproduce a failure) and describe it.
          -h, --help  Show this help.
        """;

    /// <summary>Runs the command; returns the exit code.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        FuzzFormat? format = null;
        int cases = 10_000, seed = 1;
        int? single = null;
        int Bad(string message)
        {
            stderr.WriteLine($"fluxion fuzz: {message}");
            stderr.WriteLine("Run 'fluxion fuzz --help' for usage.");
            return 2;
        }
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string? Value() => i + 1 < args.Length ? args[++i] : null;
            switch (a)
            {
                case "-h" or "--help":
                    stdout.WriteLine(Usage);
                    return 0;
                case "safetensors" when format is null: format = FuzzFormat.SafeTensors; break;
                case "idx" when format is null: format = FuzzFormat.Idx; break;
                case "--cases":
                    if (!int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out cases) || cases < 1)
                        return Bad("--cases needs a positive integer");
                    break;
                case "--seed":
                    if (!int.TryParse(Value(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out seed))
                        return Bad("--seed needs an integer");
                    break;
                case "--case":
                    if (!int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out int k))
                        return Bad("--case needs a non-negative integer");
                    single = k;
                    break;
                default:
                    return Bad(a.StartsWith('-') ? $"unknown option '{a}'" : format is null ? $"unknown format '{a}' (expected safetensors or idx)" : $"unexpected argument '{a}'");
            }
        }
        if (format is not { } f) return Bad("give the format to fuzz: safetensors or idx");
        string name = f == FuzzFormat.SafeTensors ? "safetensors" : "idx";

        if (single is int only)
        {
            var c = Fuzzer.RunCase(f, seed, only);
            stdout.WriteLine($"case {c.Index} (seed {seed}): {c.Mutation}");
            stdout.WriteLine($"  outcome {c.Outcome}{(c.Error is null ? "" : ": " + c.Error)}");
            stdout.WriteLine($"  file {c.FileBytes} bytes, allocated {c.AllocatedBytes} (bound {c.AllocationBound}), {c.Seconds:F3} s");
            return c.Outcome is FuzzOutcome.Loaded or FuzzOutcome.TypedError ? 0 : 1;
        }

        var r = Fuzzer.Run(f, cases, seed);
        stdout.WriteLine($"fuzz {name}: {cases} cases, seed {seed}");
        foreach (var (o, n) in r.Counts) stdout.WriteLine($"  {Label(o),-22}{n,9}");
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  slowest case {r.MaxSeconds:F3} s; largest allocation {r.MaxAllocatedBytes} bytes; at most {r.MaxAllocationRatio:P1} of a case's bound"));
        if (r.Bad == 0) return 0;
        stdout.WriteLine($"{r.Bad} case(s) failed; the first:");
        foreach (var c in r.Failures)
            stdout.WriteLine($"  case {c.Index}: {c.Outcome}: {c.Error} [{c.Mutation}]  (fluxion fuzz {name} --seed {seed} --case {c.Index})");
        return 1;
    }

    private static string Label(FuzzOutcome o) => o switch
    {
        FuzzOutcome.Loaded => "loaded",
        FuzzOutcome.TypedError => "typed error",
        FuzzOutcome.UntypedException => "untyped exception",
        FuzzOutcome.PartialChange => "partial change",
        FuzzOutcome.WrongValues => "wrong values",
        FuzzOutcome.OversizedAllocation => "oversized allocation",
        _ => "slow (> 1 s)",
    };
}
