using System.Text.Json;
using Fluxion.Nn;

namespace Fluxion.Tests;

/// <summary>
/// Runs the layer cases of golden/layers.json (made by tests/golden/make_golden.py, see its header):
/// builds the Fluxion layer from the PyTorch constructor arguments, copies the stored parameters and
/// buffers into it, runs forward once per step and compares the output, the reported buffers and the
/// gradients of sum(y * w) for the last input and every parameter.
/// </summary>
public static class LayerGolden
{
    /// <summary>The family file name.</summary>
    public const string Family = "layers";

    /// <summary>Case ids whose layer is one of <paramref name="ops"/>.</summary>
    public static IEnumerable<object[]> CasesFor(params string[] ops) =>
        Golden.Load(Family).Where(c => ops.Contains(c.Op)).Select(c => new object[] { c.Id });

    /// <summary>Layers that <see cref="Build"/> knows.</summary>
    public static readonly string[] Known =
        ["Conv2d", "ConvTranspose2d", "Unfold", "Fold", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d",
         "BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm", "InstanceNorm2d"];

    private sealed class Lambda(Func<Tensor, Tensor> f) : Module
    {
        public override Tensor Forward(Tensor input) => f(input);
    }

    private static JsonElement Arg(GoldenCase c, string name) => JsonDocument.Parse(c.Args.ToString()).RootElement.GetProperty(name);

    private static Size2 Size(GoldenCase c, string name)
    {
        var e = Arg(c, name);
        return e.ValueKind == JsonValueKind.Array ? new Size2(e[0].GetInt32(), e[1].GetInt32()) : e.GetInt32();
    }

    private static Size2? SizeOrNull(GoldenCase c, string name) => Arg(c, name).ValueKind == JsonValueKind.Null ? null : Size(c, name);

    private static double? DoubleOrNull(GoldenCase c, string name) => c.Args.DoubleOrNull(name);

    private static string[] Strings(GoldenCase c, string name) => Arg(c, name).EnumerateArray().Select(e => e.GetString()!).ToArray();

    /// <summary>The Fluxion layer for a case (PyTorch constructor arguments by name).</summary>
    public static Module Build(GoldenCase c)
    {
        var a = c.Args;
        var dt = c.IsDouble ? DType.Float64 : DType.Float32;
        return c.Op switch
        {
            "Conv2d" => new Conv2d(a.Int("in_channels"), a.Int("out_channels"), Size(c, "kernel_size"), Size(c, "stride"), Size(c, "padding"),
                Size(c, "dilation"), a.Int("groups"), a.Bool("bias"), dt),
            "ConvTranspose2d" => new ConvTranspose2d(a.Int("in_channels"), a.Int("out_channels"), Size(c, "kernel_size"), Size(c, "stride"),
                Size(c, "padding"), Size(c, "output_padding"), a.Int("groups"), a.Bool("bias"), Size(c, "dilation"), dt),
            "Unfold" => new Lambda(x => Tensor.Unfold(x, Size(c, "kernel_size"), Size(c, "dilation"), Size(c, "padding"), Size(c, "stride"))),
            "Fold" => new Lambda(x => Tensor.Fold(x, Size(c, "output_size"), Size(c, "kernel_size"), Size(c, "dilation"), Size(c, "padding"), Size(c, "stride"))),
            "MaxPool2d" => new MaxPool2d(Size(c, "kernel_size"), SizeOrNull(c, "stride"), Size(c, "padding"), Size(c, "dilation"), a.Bool("ceil_mode")),
            "AvgPool2d" => new AvgPool2d(Size(c, "kernel_size"), SizeOrNull(c, "stride"), Size(c, "padding"), a.Bool("ceil_mode"),
                a.Bool("count_include_pad"), a.IntOrNull("divisor_override")),
            "AdaptiveAvgPool2d" => new AdaptiveAvgPool2d(Size(c, "output_size")),
            "BatchNorm1d" => new BatchNorm1d(a.Int("num_features"), a.Double("eps"), DoubleOrNull(c, "momentum"), a.Bool("affine"), a.Bool("track_running_stats"), dt),
            "BatchNorm2d" => new BatchNorm2d(a.Int("num_features"), a.Double("eps"), DoubleOrNull(c, "momentum"), a.Bool("affine"), a.Bool("track_running_stats"), dt),
            "LayerNorm" => new LayerNorm(a.Ints("normalized_shape")!, a.Double("eps"), a.Bool("elementwise_affine"), dt),
            "GroupNorm" => new GroupNorm(a.Int("num_groups"), a.Int("num_channels"), a.Double("eps"), a.Bool("affine"), dt),
            "InstanceNorm2d" => new InstanceNorm2d(a.Int("num_features"), a.Double("eps"), a.Double("momentum"), a.Bool("affine"), a.Bool("track_running_stats"), dt),
            _ => throw new NotSupportedException($"no Fluxion layer for golden op {c.Op}"),
        };
    }

    /// <summary>Runs case <paramref name="id"/> and asserts that outputs, buffers and gradients match PyTorch.</summary>
    public static void Check(string id)
    {
        var c = Golden.Get(id);
        var m = Build(c);
        m.Train(c.Args.Bool("train"));
        int steps = c.Args.Int("steps");
        var paramNames = Strings(c, "params");
        var buffers = Strings(c, "buffers");
        var state = m.StateDict();
        using (Autograd.NoGrad())
            for (int i = 0; i < paramNames.Length; i++)
                state[paramNames[i]].CopyInPlace(c.Inputs[steps + i].Value.ToTensor());

        var leaves = new Tensor[steps];
        Tensor? y = null;
        for (int s = 0; s < steps; s++)
        {
            (leaves[s], var view) = c.Inputs[s].Materialize();
            y = m.Forward(view);
        }
        Golden.AssertClose($"{id} output", c.Outputs[0], y!, c.IsDouble);
        state = m.StateDict();
        for (int b = 0; b < buffers.Length; b++)
            Golden.AssertClose($"{id} buffer {buffers[b]}", c.Outputs[1 + b], state[buffers[b]], c.IsDouble);

        var wrt = new List<(int Input, Tensor Leaf)>();
        if (c.Inputs[steps - 1].Grad) wrt.Add((steps - 1, leaves[steps - 1]));
        for (int i = 0; i < paramNames.Length; i++)
            if (c.Inputs[steps + i].Grad) wrt.Add((steps + i, state[paramNames[i]]));
        if (wrt.Count == 0) return;
        var grads = Autograd.Grad([y!], wrt.Select(p => p.Leaf).ToArray(), [c.W[0]!.ToTensor()], allowUnused: true);
        for (int j = 0; j < wrt.Count; j++)
        {
            var (i, leaf) = wrt[j];
            var g = grads[j] ?? Tensor.ZerosLike(leaf);
            var name = i < steps ? "input" : paramNames[i - steps];
            Golden.AssertClose($"{id} grad of {name}", c.Grads[i]!, i < steps ? c.Inputs[i].ViewOf(g) : g, c.IsDouble);
        }
    }
}
