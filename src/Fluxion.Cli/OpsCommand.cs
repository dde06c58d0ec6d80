using System.Text;
using System.Text.Json;

namespace Fluxion.Cli;

/// <summary><c>fluxion ops [--json | --markdown]</c>: the op registry, i.e. what Fluxion can differentiate and how.</summary>
public static class OpsCommand
{
    /// <summary>Help text.</summary>
    public const string Usage =
        """
        Usage: fluxion ops [--json | --markdown] [--family NAME]

        Lists every op of the registry: its name, the PyTorch name(s) it matches, the dtypes its kernels take,
        and what Fluxion can do with it: reverse mode (VJP), forward mode (JVP), vector forward mode (batched
        JVP over k directions), a fused first-order backward, second order, and a vmap batching rule.

        Options:
          --json         One JSON object per op per line (fields: name, torch, family, dtypes, kernels,
                         differentiable, vjp, jvp, batched_jvp, fused_backward, second_order, vmap, composite_of,
                         samples). kernels: the forward's kernel table, device -> dtype -> "kernel" (the entry
                         holds the kernel), "method" (its Tensor method picks one) or "composite" (built from
                         other ops); dtypes lists the CPU's.
          --markdown     A Markdown table.
          --family NAME  Only one family: unary, binary, reduce-scan-sort, shape-index-create-other, linalg, nn, fused.
          -h, --help     Show this help.
        """;

    /// <summary>The family's name as in PyTorch's OpInfo grouping (ops-target.tsv).</summary>
    public static string FamilyName(OpFamily f) => f switch
    {
        OpFamily.Unary => "unary",
        OpFamily.Binary => "binary",
        OpFamily.ReduceScanSort => "reduce-scan-sort",
        OpFamily.ShapeIndexCreateOther => "shape-index-create-other",
        OpFamily.Linalg => "linalg",
        OpFamily.NN => "nn",
        _ => "fused",
    };

    private static string[] DTypeNames(DTypeSet s)
    {
        var r = new List<string>();
        if (s.HasFlag(DTypeSet.Float32)) r.Add("float32");
        if (s.HasFlag(DTypeSet.Float64)) r.Add("float64");
        if (s.HasFlag(DTypeSet.Int64)) r.Add("int64");
        if (s.HasFlag(DTypeSet.Bool)) r.Add("bool");
        return [.. r];
    }

    /// <summary>Runs the command; returns the exit code.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        string format = "text";
        string? family = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "-h" or "--help": stdout.WriteLine(Usage); return 0;
                case "--json": format = "json"; break;
                case "--markdown": format = "markdown"; break;
                case "--family" when i + 1 < args.Length: family = args[++i]; break;
                default:
                    stderr.WriteLine($"fluxion ops: unknown or incomplete argument '{args[i]}'\n\n{Usage}");
                    return 2;
            }
        }
        var ops = OpCatalog.All.Where(o => family is null || FamilyName(o.Family) == family).ToList();
        if (family is not null && ops.Count == 0)
        {
            stderr.WriteLine($"fluxion ops: no op in family '{family}' (families: unary, binary, reduce-scan-sort, shape-index-create-other, linalg, nn, fused).");
            return 2;
        }
        switch (format)
        {
            case "json":
                foreach (var o in ops) stdout.WriteLine(Json(o));
                break;
            case "markdown":
                stdout.Write(Markdown(ops));
                break;
            default:
                stdout.Write(Text(ops));
                break;
        }
        return 0;
    }

    /// <summary>One op as a JSON object on one line.</summary>
    public static string Json(OpInfo o)
    {
        var buf = new MemoryStream();
        using (var w = new Utf8JsonWriter(buf))
        {
            w.WriteStartObject();
            w.WriteString("name", o.Name);
            w.WriteStartArray("torch");
            foreach (var t in o.Torch) w.WriteStringValue(t);
            w.WriteEndArray();
            w.WriteString("family", FamilyName(o.Family));
            w.WriteStartArray("dtypes");
            foreach (var t in DTypeNames(o.DTypes)) w.WriteStringValue(t);
            w.WriteEndArray();
            // the forward's kernel table: device -> dtype -> kernel | method | composite (the dtypes above are the CPU's)
            w.WriteStartObject("kernels");
            foreach (var (device, byType) in o.Kernels.OrderBy(kv => kv.Key))
            {
                w.WriteStartObject(device.ToString().ToLowerInvariant());
                foreach (var (dtype, kind) in byType.OrderBy(kv => kv.Key)) w.WriteString(dtype.Name(), kind.ToString().ToLowerInvariant());
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteBoolean("differentiable", o.Differentiable);
            w.WriteBoolean("vjp", o.Vjp);
            w.WriteBoolean("jvp", o.Jvp);
            w.WriteBoolean("batched_jvp", o.BatchedJvp);
            if (o.FusedBackward is { } f) w.WriteString("fused_backward", f); else w.WriteNull("fused_backward");
            w.WriteBoolean("second_order", o.SecondOrder);
            w.WriteBoolean("vmap", o.Vmap);
            if (o.CompositeOf is { } c)
            {
                w.WriteStartArray("composite_of");
                foreach (var t in c) w.WriteStringValue(t);
                w.WriteEndArray();
            }
            else w.WriteNull("composite_of");
            w.WriteNumber("samples", o.Samples);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buf.ToArray());
    }

    private static string Mark(bool b) => b ? "yes" : "-";

    /// <summary>The registry as a Markdown table, with a summary line.</summary>
    public static string Markdown(IReadOnlyList<OpInfo> ops)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# Fluxion ops");
        sb.AppendLine();
        sb.AppendLine($"{ops.Count} ops ({ops.Count(o => o.Vjp)} with reverse mode, {ops.Count(o => o.Jvp)} with forward mode). Generated by `fluxion ops --markdown`.");
        sb.AppendLine();
        sb.AppendLine("| op | PyTorch | family | dtypes | VJP | JVP | batched JVP | fused backward | 2nd order | vmap | composite of |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var o in ops)
            sb.AppendLine($"| {o.Name} | {string.Join(", ", o.Torch.Select(t => $"`{t}`"))} | {FamilyName(o.Family)} | {string.Join(", ", DTypeNames(o.DTypes))} | " +
                $"{(o.Differentiable ? Mark(o.Vjp) : "n/a")} | {(o.Differentiable ? Mark(o.Jvp) : "n/a")} | {(o.Differentiable ? Mark(o.BatchedJvp) : "n/a")} | {o.FusedBackward ?? "-"} | " +
                $"{(o.Differentiable ? Mark(o.SecondOrder) : "n/a")} | {Mark(o.Vmap)} | {(o.CompositeOf is { } c ? string.Join(", ", c) : "-")} |");
        return sb.ToString();
    }

    private static string Text(IReadOnlyList<OpInfo> ops)
    {
        var sb = new StringBuilder();
        int w = Math.Max(4, ops.Count == 0 ? 0 : ops.Max(o => o.Name.Length));
        sb.AppendLine($"{"op".PadRight(w)}  {"family",-24}  vjp  jvp  k-jvp  fused  2nd  pytorch");
        foreach (var o in ops)
        {
            string M(bool b) => !o.Differentiable ? "n/a" : b ? "yes" : "-";
            sb.AppendLine($"{o.Name.PadRight(w)}  {FamilyName(o.Family),-24}  {M(o.Vjp),-3}  {M(o.Jvp),-3}  {M(o.BatchedJvp),-5}  {(o.FusedBackward is null ? "-" : "yes"),-5}  {M(o.SecondOrder),-3}  {string.Join(", ", o.Torch)}");
        }
        sb.AppendLine($"{ops.Count} ops; {ops.Count(o => o.Vjp)} with reverse mode, {ops.Count(o => o.Jvp)} with forward mode, {ops.Sum(o => o.Torch.Length)} PyTorch names.");
        return sb.ToString();
    }
}
