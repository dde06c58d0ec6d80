using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Fluxion.Kernels;

namespace Fluxion.Micro;

/// <summary>
/// <c>ab fusedchain [rounds] [n]</c>: the compiled 20-op chain of <c>bench compile</c> (4 × ((y·0.5).tanh − y.sigmoid)·y,
/// float32, n elements, default 2^20) on one thread (thread CPU time): a hand-written C# loop over the eager kernels'
/// register formulas (the ideal; also two vectors interleaved), the compiled call with the generated code split into
/// loops of at most N heavy formulas (fN; f99 = one loop for the group), and eager. All are checked bit for bit against eager first. Workloads run in rotating order each round; the table gives
/// the median over rounds of each round's median of 5 runs.
/// </summary>
internal static class FusedChainAb
{
    public static void Run(int rounds, int[] rest)
    {
        int n = rest.Length > 0 ? rest[0] : 1 << 20;
        Console.WriteLine($"fusedchain (hand-written loop, compiled call, eager), n = {n}, float32, one thread");
        Generator.ManualSeed(0);
        var xt = Tensor.Randn(n);
        var x = xt.ToArray<float>();
        var y = new float[n];

        var arrays = new[] { x, null!, y };
        int full = n / 8 * 8;
        Console.WriteLine($"compiled variants: fN = at most N heavy formulas per generated loop (f99: one loop; default f{FusedCode.FormulasPerStage})");
        var variants = new List<(string Name, CompiledFunction F)>();
        foreach (int perStage in new[] { 99, 4, 2, 1 })
        {
            int p0 = FusedCode.FormulasPerStage;
            FusedCode.FormulasPerStage = perStage;
            try
            {
                var c = Functional.Compile(Chain);
                c.Call(xt);
                c.Call(xt);
                if (c.LastGraph!.GeneratedGroups != 1) throw new InvalidOperationException("the chain did not compile to one generated group");
                variants.Add(($"compiled f{perStage}", c));
            }
            finally { FusedCode.FormulasPerStage = p0; }
        }

        // all agree bit for bit with eager (the hand loop on the full vectors)
        HandLoop(x, y, full);
        var eager = Chain(xt).ToArray<float>();
        for (int i = 0; i < full; i++)
            if (BitConverter.SingleToInt32Bits(y[i]) != BitConverter.SingleToInt32Bits(eager[i]))
                throw new InvalidOperationException($"element {i}: hand {y[i]}, eager {eager[i]}");
        foreach (var (name, c) in variants)
        {
            var got = c.Call(xt).ToArray<float>();
            for (int i = 0; i < n; i++)
                if (BitConverter.SingleToInt32Bits(got[i]) != BitConverter.SingleToInt32Bits(eager[i]))
                    throw new InvalidOperationException($"element {i}: {name} {got[i]}, eager {eager[i]}");
        }

        (string Name, Action Run)[] ws =
        [
            ("hand loop", () => HandLoop(x, y, full)),
            ("hand loop 2vec", () => HandLoop2(x, y, full / 16 * 16)),
            .. variants.Select(v => (v.Name, (Action)(() => v.F.Call(xt)))),
            ("eager", () => Chain(xt)),
        ];
        var med = ws.Select(_ => new List<double>()).ToArray();
        foreach (var w in ws) w.Run();
        for (int r = 0; r < rounds; r++)
            for (int j = 0; j < ws.Length; j++)
            {
                int i = (j + r) % ws.Length;
                var t = new double[5];
                for (int k = 0; k < t.Length; k++)
                {
                    double t0 = AbThreadCpu.ThreadCpu();
                    ws[i].Run();
                    t[k] = AbThreadCpu.ThreadCpu() - t0;
                }
                med[i].Add(t.Order().ElementAt(2));
            }
        double hand = Median(med[0]);
        Console.WriteLine($"{"workload",-20}{"ms",10}{"/hand",8}   (thread CPU time, {rounds} rounds of 5, load {File.ReadAllText("/proc/loadavg").Split(' ')[0]})");
        for (int i = 0; i < ws.Length; i++)
            Console.WriteLine($"{ws[i].Name,-20}{Median(med[i]) * 1e3,10:F2}{Median(med[i]) / hand,8:F3}");
    }

    private static Tensor Chain(Tensor x)
    {
        var y = x;
        for (int i = 0; i < 4; i++) y = ((y * 0.5).Tanh() - y.Sigmoid()) * y;
        return y;
    }

    /// <summary>The chain written by hand over the eager kernels' register formulas (the ideal for the generated loop).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void HandLoop(float[] x, float[] y, int stop)
    {
        ref float xr = ref MemoryMarshal.GetArrayDataReference(x);
        ref float yr = ref MemoryMarshal.GetArrayDataReference(y);
        var c = Vector256.Create(0.5f);
        for (int i = 0; i < stop; i += 8)
        {
            var v = Vector256.LoadUnsafe(ref xr, (nuint)i);
            for (int k = 0; k < 4; k++) v = (VecMath32.Tanh(v * c) - VecMath32.Sigmoid(v)) * v;
            v.StoreUnsafe(ref yr, (nuint)i);
        }
    }

    /// <summary>The hand loop on two vectors at a time, interleaved (does instruction-level parallelism pay?).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void HandLoop2(float[] x, float[] y, int stop)
    {
        ref float xr = ref MemoryMarshal.GetArrayDataReference(x);
        ref float yr = ref MemoryMarshal.GetArrayDataReference(y);
        var c = Vector256.Create(0.5f);
        for (int i = 0; i < stop; i += 16)
        {
            var v = Vector256.LoadUnsafe(ref xr, (nuint)i);
            var u = Vector256.LoadUnsafe(ref xr, (nuint)i + 8);
            for (int k = 0; k < 4; k++)
            {
                var tv = VecMath32.Tanh(v * c);
                var tu = VecMath32.Tanh(u * c);
                var sv = VecMath32.Sigmoid(v);
                var su = VecMath32.Sigmoid(u);
                v = (tv - sv) * v;
                u = (tu - su) * u;
            }
            v.StoreUnsafe(ref yr, (nuint)i);
            u.StoreUnsafe(ref yr, (nuint)i + 8);
        }
    }

    private static double Median(List<double> v)
    {
        var s = v.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }
}
