using System.Reflection;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchSharpBench;

/// <summary>
/// `fluxion bench ops` (src/Fluxion.Cli/Bench/OpsBench.cs) on LibTorch: the cases of
/// <c>fluxion bench ops --spec</c> (a JSON-lines file named by the environment variable FLUXION_OPS_SPEC; optional
/// FLUXION_OPS_FILTER, a substring of the op name, and FLUXION_OPS_SIZE), workloads ops/&lt;pytorch_name&gt;/&lt;size&gt;/fwd
/// and .../fwdbwd, inputs of the spec's shapes with elements drawn from its value pools (as bench/torch/ops.py). The calls
/// are those of bench/torch/ops.py: the explicit table below, else, for unary and binary elementwise ops, the Tensor
/// method of the PyTorch name (reflection). Cases without a call, or whose call fails, are listed on stderr as skipped.
/// This harness measures in interleaved rounds over the whole suite: use few rounds (e.g. --runs 5 --warmup 1) and a
/// filter or one size.
/// </summary>
public sealed class OpsSuite : ISuite
{
    private static readonly Dictionary<string, Func<Tensor[], Tensor>> Calls = new()
    {
        ["argmax"] = t => t[0].argmax(1),
        ["argmin"] = t => t[0].argmin(1),
        ["argsort"] = t => t[0].argsort(1),
        ["count_nonzero"] = t => t[0].count_nonzero(),
        ["nonzero"] = t => t[0].nonzero(),
        ["all"] = t => t[0].all(),
        ["any"] = t => t[0].any(),
        ["matmul"] = t => t[0].matmul(t[1]),
        ["mm"] = t => t[0].mm(t[1]),
        ["cdist"] = t => torch.cdist(t[0], t[1]),
    };

    private static readonly Dictionary<(string, string), Func<Tensor[], Tensor>> SampleCalls = new()
    {
        [("sum", "dims 0, 2")] = t => t[0].sum(new long[] { 0, 2 }),
    };

    private static Func<Tensor[], Tensor>? Resolve(string name, string family, string sample, int arity)
    {
        if (SampleCalls.TryGetValue((name, sample), out var s)) return s;
        if (Calls.TryGetValue(name, out var f)) return f;
        if (family is not ("unary" or "binary") && !sample.StartsWith("[size, size]", StringComparison.Ordinal)) return null;
        if (name.Contains('.')) return null;
        var types = Enumerable.Repeat(typeof(Tensor), arity - 1).ToArray();
        var m = typeof(Tensor).GetMethod(name, BindingFlags.Public | BindingFlags.Instance, types);
        if (m is null || m.ReturnType != typeof(Tensor)) return null;
        return t => (Tensor)m.Invoke(t[0], [.. t.Skip(1)])!;
    }

    /// <inheritdoc/>
    public IEnumerable<Workload> Workloads()
    {
        string path = Environment.GetEnvironmentVariable("FLUXION_OPS_SPEC")
            ?? throw new InvalidOperationException("ops: set FLUXION_OPS_SPEC to the output of `fluxion bench ops --spec`");
        string? filter = Environment.GetEnvironmentVariable("FLUXION_OPS_FILTER");
        string? size = Environment.GetEnvironmentVariable("FLUXION_OPS_SIZE");
        var gen = new Random(0);
        foreach (var line in File.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            var c = JsonDocument.Parse(line).RootElement;
            string torchName = c.GetProperty("torch").GetString()!, op = c.GetProperty("op").GetString()!;
            int sz = c.GetProperty("size").GetInt32();
            if (filter is not null && !torchName.Contains(filter, StringComparison.OrdinalIgnoreCase) && !op.Contains(filter, StringComparison.OrdinalIgnoreCase)) continue;
            if (size is not null && sz.ToString(System.Globalization.CultureInfo.InvariantCulture) != size) continue;
            string sample = c.GetProperty("sample").GetString()!;
            var shapes = c.GetProperty("shapes").EnumerateArray().Select(s => s.EnumerateArray().Select(d => (long)d.GetInt32()).ToArray()).ToArray();
            var f = Resolve(torchName, c.GetProperty("family").GetString()!, sample, shapes.Length);
            if (f is null)
            {
                Console.Error.WriteLine($"skipped ops/{torchName}/{sz}: no call in bench/torchsharp/Suites/OpsSuite.cs for sample '{sample}'");
                continue;
            }
            var type = c.GetProperty("dtype").GetString() == "float32" ? ScalarType.Float32 : ScalarType.Float64;
            var kinds = c.GetProperty("kinds").EnumerateArray().Select(k => k.GetString()!).ToArray();
            var pools = c.GetProperty("pools").EnumerateArray().Select(p => p.EnumerateArray().Select(v => v.GetDouble()).ToArray()).ToArray();
            var xs = new Tensor[shapes.Length];
            for (int i = 0; i < xs.Length; i++)
            {
                long n = shapes[i].Aggregate(1L, (a, b) => a * b);
                var v = new double[n];
                for (long j = 0; j < n; j++) v[j] = pools[i][gen.Next(pools[i].Length)];
                var x = torch.tensor(v, dtype: type).reshape(shapes[i]);
                if (kinds[i] is "spd" or "dominant")
                {
                    long m = shapes[i][^1];
                    var eye = torch.eye(m, dtype: type);
                    x = kinds[i] == "spd" ? x.matmul(x.transpose(-2, -1)) / m + eye : x + eye * (m * pools[i].Average(Math.Abs));
                }
                xs[i] = x.contiguous().DetachFromDisposeScope();
            }
            bool diff = c.GetProperty("differentiable").GetBoolean();
            Tensor[] leaves = [.. xs.Select(x => x.detach().requires_grad_().DetachFromDisposeScope())];
            try
            {
                using (torch.no_grad()) f(xs).Dispose();
                if (diff) FwdBwd(f, leaves);
            }
            catch (Exception e)
            {
                Console.Error.WriteLine($"skipped ops/{torchName}/{sz}: {e.GetType().Name}: {e.Message.Split('\n')[0]}");
                continue;
            }
            var shapeText = string.Join(";", shapes.Select(s => "[" + string.Join(",", s) + "]"));
            var extra = new Dictionary<string, object> { ["op"] = op, ["shapes"] = shapeText, ["dtype"] = c.GetProperty("dtype").GetString()! };
            yield return new Workload($"ops/{torchName}/{sz}/fwd", () =>
            {
                using var _ = torch.no_grad();
                f(xs);
            }, _ => extra);
            if (diff) yield return new Workload($"ops/{torchName}/{sz}/fwdbwd", () => FwdBwd(f, leaves), _ => extra);
        }
    }

    private static void FwdBwd(Func<Tensor[], Tensor> f, Tensor[] leaves)
    {
        var y = f(leaves);
        y.backward([torch.ones_like(y)]);
        foreach (var t in leaves) t.grad = null;
    }
}
