using System.Reflection;
using K = Fluxion.Kernels.Elementwise;

namespace Fluxion.Tests;

/// <summary>
/// The registry's forward kernel tables (<see cref="ForwardKernels"/>): every entry's dtypes are its table's CPU slots,
/// composites say so, the elementwise families' kernels are the ones their public methods run, and
/// <c>fluxion ops --json</c> prints the table.
/// </summary>
public class KernelTableTests
{
    [Fact]
    public void EveryEntryTakesTheDTypesOfItsTable()
    {
        foreach (var d in OpRegistry.All)
        {
            var t = d.Forward;
            Assert.True(d.DTypes == t.DTypes(Device.Cpu) && d.DTypes != DTypeSet.None, $"{d.Name}: dtypes {d.DTypes}, table {t.DTypes(Device.Cpu)}");
            foreach (var dt in Enum.GetValues<DType>())
            {
                var kind = t.Kind(Device.Cpu, dt);
                Assert.True((kind == KernelKind.Kernel) == (t.Kernel(Device.Cpu, dt) is not null), $"{d.Name} {dt.Name()}: {kind} slot and its kernel disagree");
                if (kind == KernelKind.None) continue;
                Assert.True(d.CompositeOf is null ? kind != KernelKind.Composite : kind == KernelKind.Composite,
                    $"{d.Name} {dt.Name()}: {kind} slot, but the entry is {(d.CompositeOf is null ? "not " : "")}a composite");
            }
        }
        // the families fill their slots from their definitions: every unary entry that has span kernels, and the arithmetic
        Assert.True(OpRegistry.All.Count(d => d.Forward.Kernel(Device.Cpu, DType.Float32) is SpanMap<float>) >= 20);
        foreach (var name in new[] { "Add", "Sub", "Mul", "Div" })
        {
            var d = OpRegistry.Find(name)!;
            Assert.Same(name switch { "Add" => K.Ops<double>.Add, "Sub" => K.Ops<double>.Sub, "Mul" => K.Ops<double>.Mul, _ => K.Ops<double>.Div },
                d.Forward.Kernel<K.BinaryKernel<double>>(Device.Cpu, DType.Float64));
            Assert.Equal(KernelKind.Method, d.Forward.Kind(Device.Cpu, DType.Int64)); // integer arithmetic: the method's own loop
        }
        Assert.Equal(KernelKind.Composite, OpRegistry.Find("Rsub")!.Forward.Kind(Device.Cpu, DType.Float32));
    }

    [Fact]
    public void UnaryTableKernelsAreWhatThePublicMethodsRun()
    {
        int checkedOps = 0;
        var x64 = Tensor.FromArray(new[] { 0.3, 0.7, 0.11, 0.9, 0.45 }, 5);
        foreach (var d in OpRegistry.All)
        {
            if (d.Forward.Kernel<SpanMap<double>>(Device.Cpu, DType.Float64) is not { } f64) continue;
            var f32 = d.Forward.Kernel<SpanMap<float>>(Device.Cpu, DType.Float32);
            Assert.True(f32 is not null, $"{d.Name}: a float64 span kernel but no float32 one");
            var method = typeof(Tensor).GetMethod(d.Name, BindingFlags.Public | BindingFlags.Instance, Type.EmptyTypes);
            if (method is null) continue; // e.g. an entry reached through an overload with arguments
            foreach (var x in new[] { x64, x64.To(DType.Float32) })
            {
                var want = new double[x.Numel];
                if (x.DType == DType.Float64) f64(x.ToDoubleArray(), want);
                else
                {
                    var w = new float[x.Numel];
                    f32!(x.ToDoubleArray().Select(v => (float)v).ToArray(), w);
                    want = [.. w.Select(v => (double)v)];
                }
                var got = (Tensor)method.Invoke(x, null)!;
                Assert.True(want.SequenceEqual(got.ToDoubleArray()), $"{d.Name} ({x.DType.Name()}): the public method does not run the table's kernel");
            }
            checkedOps++;
        }
        Assert.True(checkedOps >= 15, $"only {checkedOps} unary entries checked");
    }

    [Fact]
    public void BinaryTableKernelsAreWhatTheOperatorsRun()
    {
        var a = Tensor.FromArray(new[] { 0.5, -1.25, 3.0, 0.75, 2.0, -0.5 }, 2, 3);
        var b = Tensor.FromArray(new[] { 1.5, 0.25, -2.0 }, 3);
        foreach (var (name, op) in new (string, Func<Tensor, Tensor, Tensor>)[] { ("Add", (p, q) => p + q), ("Sub", (p, q) => p - q), ("Mul", (p, q) => p * q), ("Div", (p, q) => p / q) })
        {
            var t = OpRegistry.Find(name)!.Forward;
            var want = Tensor.BinaryRaw(name, a, b, t.Kernel<K.BinaryKernel<float>>(Device.Cpu, DType.Float32)!, t.Kernel<K.BinaryKernel<double>>(Device.Cpu, DType.Float64)!);
            Assert.Equal(want.ToDoubleArray(), op(a, b).ToDoubleArray());
        }
    }

    [Fact]
    public void OpsJsonPrintsTheTable()
    {
        var o = new StringWriter();
        Assert.Equal(0, Fluxion.Cli.Program.Run(["ops", "--json"], o, new StringWriter()));
        var rows = o.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(OpRegistry.All.Count, rows.Count);
        foreach (var r in rows)
        {
            var name = r.GetProperty("name").GetString()!;
            var cpu = r.GetProperty("kernels").GetProperty("cpu");
            var dtypes = r.GetProperty("dtypes").EnumerateArray().Select(e => e.GetString()).ToList();
            Assert.True(dtypes.SequenceEqual(cpu.EnumerateObject().Select(p => p.Name)), $"{name}: dtypes [{string.Join(", ", dtypes)}] are not the table's CPU slots");
            var def = OpRegistry.Find(name)!;
            foreach (var p in cpu.EnumerateObject())
                Assert.Equal(def.Forward.Kind(Device.Cpu, Enum.GetValues<DType>().Single(t => t.Name() == p.Name)).ToString().ToLowerInvariant(), p.Value.GetString());
        }
        string Kind(string op, string dtype) => rows.Single(r => r.GetProperty("name").GetString() == op).GetProperty("kernels").GetProperty("cpu").GetProperty(dtype).GetString()!;
        Assert.Equal("kernel", Kind("Tanh", "float32"));
        Assert.Equal("kernel", Kind("Add", "float64"));
        Assert.Equal("method", Kind("Add", "int64"));
        Assert.Equal("method", Kind("MatMul", "float32"));
        Assert.Equal("composite", Kind("Rsub", "float32"));
    }
}
