using System.Globalization;
using Fluxion.IO;
using Fluxion.Nn;

namespace Fluxion.Cli;

/// <summary><c>fluxion export CHECKPOINT --onnx FILE</c>: a <c>fluxion train --save</c> checkpoint as an ONNX model.</summary>
internal static class ExportCommand
{
    public const string Usage =
        """
        Usage: fluxion export CHECKPOINT --onnx FILE [--opset N]

        Rebuilds the model of a checkpoint written by 'fluxion train --save' (mlp, cnn or pcn, in any
        --mode), loads its weights and writes it as an ONNX model: input "input" [batch, 1, 28, 28]
        (normalized images, as the trainer feeds them), output "output" [batch, 10] (logits); the batch
        dim is dynamic and the initializers are named by the checkpoint's tensor names.

        Options:
          --onnx <file>   The ONNX file to write (atomically).
          --opset <n>     ONNX opset version, 17 to 21. Default: 17.
          -h, --help      Show this help.
        """;

    // the metadata keys 'fluxion train --save' writes (Trainer)
    private const string KeyModel = "fluxion.model", KeyMode = "fluxion.mode";

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        string? checkpoint = null, onnx = null;
        int opset = 17;
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            switch (a)
            {
                case "-h" or "--help":
                    stdout.WriteLine(Usage);
                    return 0;
                case "--onnx":
                    onnx = i + 1 < args.Length ? args[++i] : null;
                    if (string.IsNullOrEmpty(onnx)) return Bad(stderr, "--onnx needs a file name, e.g. --onnx model.onnx");
                    break;
                case "--opset":
                {
                    var v = i + 1 < args.Length ? args[++i] : null;
                    if (!int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out opset) || opset < 17 || opset > 21)
                        return Bad(stderr, $"--opset needs an integer from 17 to 21{(v is null ? "" : $" (got '{v}')")}");
                    break;
                }
                default:
                    if (a.StartsWith('-') || checkpoint is not null) return Bad(stderr, a.StartsWith('-') ? $"unknown option '{a}'" : $"unexpected argument '{a}'");
                    checkpoint = a;
                    break;
            }
        }
        if (checkpoint is null) return Bad(stderr, "give the checkpoint to export, e.g. fluxion export model.safetensors --onnx model.onnx");
        if (onnx is null) return Bad(stderr, "--onnx FILE is required (the only export format)");
        if (!File.Exists(checkpoint)) return Bad(stderr, $"checkpoint '{checkpoint}' does not exist");
        var dir = Path.GetDirectoryName(Path.GetFullPath(onnx));
        if (dir is not null && !Directory.Exists(dir)) return Bad(stderr, $"--onnx: directory '{dir}' does not exist");

        var data = SafeTensors.Load(checkpoint);
        if (!data.Metadata.TryGetValue(KeyModel, out var model))
            throw new CheckpointMismatchException($"fluxion export: '{checkpoint}' has no '{KeyModel}' metadata: it was not written by 'fluxion train --save', so the model to rebuild is unknown.");
        var mode = data.Metadata.TryGetValue(KeyMode, out var md) ? md : "reverse";
        var net = InferenceModel(model, mode);
        ModelIO.Load(net, null, data, checkpoint); // strict: every tensor of the model, shapes and dtypes checked
        ModelIO.ExportOnnx(net, Tensor.Zeros([1, 1, 28, 28]), onnx, opset);
        stdout.WriteLine($"wrote {onnx}: {model} model ({mode} mode), {net.ParameterCount().ToString("N0", CultureInfo.InvariantCulture)} parameters, ONNX opset {opset}, "
            + "input \"input\" [batch, 1, 28, 28] -> output \"output\" [batch, 10]");
        return 0;
    }

    /// <summary>The reverse-mode twin of the trained model: the same layers under the same state-dict names. The
    /// forward-mode sections of --mode mixed and forward-gradient compute the same values as ordinary layers, and their
    /// glue modules (Rev2Fwd, Fwd2Rev) are identities at inference, kept as Dropout(0) so the layer indices match.</summary>
    internal static Module InferenceModel(string model, string mode)
    {
        var g = new Generator(0);
        Module Id() => new Dropout(0);
        Module[] Features() =>
        [
            new Conv2d(1, 16, 3, padding: 1, generator: g), new ReLU(), new MaxPool2d(2),
            new Conv2d(16, 32, 3, padding: 1, generator: g), new ReLU(), new MaxPool2d(2), new Flatten(),
        ];
        return (model, mode) switch
        {
            (_, "reverse") => Trainer.BuildModel(model, g),
            ("mlp", "mixed") => new Sequential(new Flatten(), new Linear(784, 256, generator: g), new ReLU(), Id(), new Linear(256, 10, generator: g), Id()),
            ("cnn", "mixed") => new Sequential([.. Features(), Id(), new Linear(32 * 7 * 7, 10, generator: g), Id()]),
            ("mlp", "forward-gradient") => new Sequential(Id(), new Flatten(), new Linear(784, 256, generator: g), new ReLU(), new Linear(256, 10, generator: g)),
            ("cnn", "forward-gradient") => new Sequential([Id(), .. Features(), new Linear(32 * 7 * 7, 10, generator: g)]),
            _ => throw new CheckpointMismatchException($"fluxion export: the checkpoint holds a '{model}' model in --mode {mode}; export knows mlp, cnn and pcn (reverse mode) and mlp and cnn in mixed and forward-gradient mode."),
        };
    }

    private static int Bad(TextWriter stderr, string message)
    {
        stderr.WriteLine($"fluxion export: {message}");
        stderr.WriteLine("Run 'fluxion export --help' for the options.");
        return 2;
    }
}
