// The LibTorch 2.10 side of bench/compare.sh: Fluxion's `fluxion bench` workloads on TorchSharp 0.107.0 +
// libtorch-cpu 2.10.0, printing the same JSON lines (same workload names and fields). See README.md.
//   bash bench/torchsharp/run.sh <suite|all> [--runs N] [--warmup N] [--warmup-s S] [--threads N] [--no-rss] [--json]
// A suite is one class in Suites/ registered with one line below.
using System.Globalization;
using TorchSharp;
using TorchSharpBench;

var suites = new Dictionary<string, Func<ISuite>>
{
    ["gemm"] = () => new GemmSuite(),
    ["mlp"] = () => new MlpSuite(),
    ["cnn"] = () => new CnnSuite(),
    ["tiny"] = () => new TinySuite(),
    ["jvp"] = () => new JvpSuite(),
    ["pcn"] = () => new PcnSuite(),
    ["particles"] = () => new ParticlesSuite(),
    ["lstm"] = () => new LstmSuite(),
};

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
string usage = $"usage: tsbench <{string.Join("|", suites.Keys)}|all> [--runs N] [--warmup N] [--warmup-s S] [--threads N] [--no-rss] [--json] | --list\n" +
    "       tsbench ops [--spec FILE] [--runs N] [--warmup-s S] [--threads N]   (the cases of `fluxion bench ops --spec`; Suites/OpsSuite.cs)";
var o = new Options();
string? name = null, rssChild = null, spec = null;
for (int i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"tsbench: {args[i]} needs a value\n{usage}");
    switch (args[i])
    {
        case "--runs": o.Runs = Math.Max(1, int.Parse(Next(), CultureInfo.InvariantCulture)); break;
        case "--warmup": o.Warmup = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--warmup-s": o.WarmupSeconds = double.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--threads": o.Threads = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--no-rss": o.Rss = false; break;
        case "--rss-child": rssChild = Next(); break;
        case "--spec": spec = Next(); break;
        case "--signatures": OpsSuite.PrintSignatures(Next(), Console.Out); return 0;
        case "--json": break;
        case "--list": Console.WriteLine(string.Join("\n", suites.Keys.Append("ops"))); return 0;
        case "-h" or "--help": Console.WriteLine(usage); return 0;
        default:
            if (args[i].StartsWith('-') || name is not null) { Console.Error.WriteLine($"tsbench: unknown argument '{args[i]}'\n{usage}"); return 2; }
            name = args[i];
            break;
    }
}
if (name is null || (name != "all" && name != "ops" && !suites.ContainsKey(name)))
{
    Console.Error.WriteLine(usage);
    return 2;
}

torch.set_num_threads(o.Threads);
torch.set_num_interop_threads(1);
if (name == "ops")
{
    // its own runner (per-case time boxes, no peak-RSS children): about a thousand workloads
    OpsSuite.Run(spec, o, Console.Out);
    return 0;
}
if (rssChild is not null) return Runner.RssChild(suites[name](), rssChild, Console.Out);
Console.Error.WriteLine($"TorchSharp {typeof(torch).Assembly.GetName().Version}, libtorch threads {torch.get_num_threads()}");
foreach (var (key, make) in suites)
    if (name == "all" || name == key) Runner.Run(key, make(), o, Console.Out);
return 0;
