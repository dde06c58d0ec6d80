using Fluxion.Nn;

namespace Fluxion.IO;

/// <summary>A checkpoint that does not fit the model (missing or unexpected keys, other shapes or dtypes).
/// Nothing was loaded when this is thrown.</summary>
public class CheckpointMismatchException : FluxionException
{
    /// <summary>Creates the exception with a message.</summary>
    public CheckpointMismatchException(string message) : base(message) { }
}

/// <summary>
/// Saving and loading a module's state dict (parameters and buffers, with PyTorch's dotted names) as a
/// safetensors file, which PyTorch reads with <c>safetensors.torch.load_file</c> and
/// <c>model.load_state_dict</c>.
/// </summary>
public static class ModelIO
{
    /// <summary>Writes <paramref name="module"/>'s state dict to <paramref name="path"/> (atomically; see
    /// <see cref="SafeTensors.Save"/>). The metadata gets <c>"format": "pt"</c>, as PyTorch's writers add.</summary>
    public static void Save(Module module, string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        var meta = new Dictionary<string, string> { ["format"] = "pt" };
        if (metadata is not null) foreach (var (k, v) in metadata) meta[k] = v;
        SafeTensors.Save(path, module.StateDict(), meta);
    }

    /// <summary>
    /// Loads a state dict written by <see cref="Save(Module, string, IReadOnlyDictionary{string, string}?)"/>
    /// (or by PyTorch) into <paramref name="module"/>. The file and its fit to the model are checked
    /// completely first (every key, shape and dtype), so on any error the module is unchanged.
    /// Returns the file's metadata.
    /// </summary>
    /// <param name="module">The model to load into.</param>
    /// <param name="path">The safetensors file.</param>
    /// <param name="strict">Require the file's keys to match the model's exactly; when false, keys
    /// missing on either side are skipped.</param>
    /// <exception cref="SafeTensorsFormatException">The file is malformed.</exception>
    /// <exception cref="CheckpointMismatchException">The file does not fit the model.</exception>
    public static IReadOnlyDictionary<string, string> Load(Module module, string path, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(module);
        return Load(module, SafeTensors.Load(path), path, strict);
    }

    /// <summary>
    /// Loads the model part of an already read checkpoint (every tensor whose name does not start with
    /// <c>"optimizer."</c>) into <paramref name="module"/>, checking everything first so that on any error
    /// the module is unchanged. Returns the checkpoint's metadata.
    /// </summary>
    /// <param name="module">The model to load into.</param>
    /// <param name="checkpoint">The file's contents (from <see cref="SafeTensors.Load"/>).</param>
    /// <param name="source">The file name, for messages.</param>
    /// <param name="strict">Require the keys to match the model's exactly.</param>
    /// <exception cref="CheckpointMismatchException">The checkpoint does not fit the model.</exception>
    public static IReadOnlyDictionary<string, string> Load(Module module, SafeTensorsData checkpoint, string source, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(checkpoint);
        var tensors = checkpoint.Tensors.Where(kv => !kv.Key.StartsWith(OptimizerPrefix, StringComparison.Ordinal)).ToDictionary();
        var errors = Mismatches(module.StateDict(), tensors, strict);
        if (errors.Count > 0)
            throw new CheckpointMismatchException($"checkpoint '{source}' does not fit {module.GetType().Name}; nothing was loaded:\n  " + string.Join("\n  ", errors));
        module.LoadStateDict(tensors, strict);
        return checkpoint.Metadata;
    }

    /// <summary>The prefix of optimizer-state tensor names in a checkpoint.</summary>
    public const string OptimizerPrefix = "optimizer.";

    internal static List<string> Mismatches(IReadOnlyDictionary<string, Tensor> model, IReadOnlyDictionary<string, Tensor> file, bool strict)
    {
        var errors = new List<string>();
        if (strict)
        {
            foreach (var k in model.Keys) if (!file.ContainsKey(k)) errors.Add($"missing key '{k}' (the model has it, the file does not)");
            foreach (var k in file.Keys) if (!model.ContainsKey(k)) errors.Add($"unexpected key '{k}' (the file has it, the model does not)");
        }
        foreach (var (k, t) in model)
        {
            if (!file.TryGetValue(k, out var src)) continue;
            if (src.DType != t.DType)
                errors.Add($"'{k}': dtype {src.DType.Name()} in the file, {t.DType.Name()} in the model");
            if (!ShapeUtil.SameShape(src.Shape, t.Shape))
                errors.Add($"'{k}': shape {ShapeUtil.Format(src.Shape)} in the file, {ShapeUtil.Format(t.Shape)} in the model");
        }
        return errors;
    }
}
