using System.Globalization;
using Fluxion.Nn;
using Fluxion.Optim;

namespace Fluxion.IO;

/// <summary>A checkpoint that does not fit the model or optimizer (missing or unexpected keys, other
/// shapes or dtypes, another optimizer kind). Nothing was loaded when this is thrown.</summary>
public class CheckpointMismatchException : FluxionException
{
    /// <summary>Creates the exception with a message.</summary>
    public CheckpointMismatchException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the underlying error.</summary>
    public CheckpointMismatchException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>
/// Checkpoints as safetensors files: a module's state dict (parameters and buffers under PyTorch's
/// dotted names, so PyTorch reads them with <c>safetensors.torch.load_file</c> and
/// <c>model.load_state_dict</c>) and optionally an optimizer's state. Optimizer state tensors are stored
/// under <c>"optimizer." + name</c> (e.g. <c>optimizer.state.0.exp_avg</c>), its numbers (step counts,
/// learning rates, ...) as metadata strings under the same prefix, and its kind under
/// <c>"fluxion.optimizer"</c>. Saving is atomic and loading all-or-nothing.
/// </summary>
public static class ModelIO
{
    /// <summary>The prefix of optimizer-state tensor names and metadata keys in a checkpoint.</summary>
    public const string OptimizerPrefix = "optimizer.";

    /// <summary>The metadata key holding the optimizer's kind (<see cref="Optimizer.Name"/>).</summary>
    public const string OptimizerKindKey = "fluxion.optimizer";

    /// <summary>
    /// Exports <paramref name="module"/>'s inference form (eval mode: dropout off, normalization by running
    /// statistics) as an ONNX model: the module tree is traced on <paramref name="sampleInput"/> (batched; dim 0 is
    /// written as the dynamic dim "batch", the other dims as traced) and each layer becomes standard ONNX ops
    /// (ir_version 8 for opsets 17 and 18, 9 for 19 and 20, 10 for 21; default domain at <paramref name="opset"/>). Parameters and buffers are initializers named by
    /// their state-dict keys; the graph's input is "input" and its output "output". Training flags are restored
    /// afterwards and the file is written atomically. A module without an ONNX form raises
    /// <see cref="OnnxExportException"/> naming it and listing the supported ones; nothing is written then.
    /// </summary>
    /// <param name="module">The model.</param>
    /// <param name="sampleInput">A batched input (float, or int64 indices for an Embedding model).</param>
    /// <param name="path">The .onnx file to write.</param>
    /// <param name="opset">The ONNX opset version, 17 to 21.</param>
    public static void ExportOnnx(Module module, Tensor sampleInput, string path, int opset = 17)
    {
        ArgumentNullException.ThrowIfNull(path);
        var (model, _) = OnnxExporter.Export(module, sampleInput, opset);
        AtomicFile.WriteAllBytes(path, model);
    }

    /// <summary>Writes <paramref name="module"/>'s state dict to <paramref name="path"/> (atomically; see
    /// <see cref="SafeTensors.Save"/>). The metadata gets <c>"format": "pt"</c>, as PyTorch's writers add.</summary>
    public static void Save(Module module, string path, IReadOnlyDictionary<string, string>? metadata = null) =>
        Save(module, null, path, metadata);

    /// <summary>Writes <paramref name="module"/>'s state dict and, when given, <paramref name="optimizer"/>'s
    /// state to <paramref name="path"/> in one atomic write.</summary>
    /// <param name="module">The model.</param>
    /// <param name="optimizer">The optimizer whose state to include, or null.</param>
    /// <param name="path">The file to write (replaced atomically if it exists).</param>
    /// <param name="metadata">Extra string metadata; keys starting with "optimizer." are reserved.</param>
    public static void Save(Module module, Optimizer? optimizer, string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        var meta = new Dictionary<string, string> { ["format"] = "pt" };
        if (metadata is not null)
            foreach (var (k, v) in metadata)
            {
                if (k.StartsWith(OptimizerPrefix, StringComparison.Ordinal) || k == OptimizerKindKey)
                    throw new ArgumentException($"ModelIO.Save: metadata key '{k}' is reserved for the optimizer state.", nameof(metadata));
                meta[k] = v;
            }
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (k, t) in module.StateDict())
        {
            if (optimizer is not null && k.StartsWith(OptimizerPrefix, StringComparison.Ordinal))
                throw new ArgumentException($"ModelIO.Save: the model's state key '{k}' clashes with the optimizer prefix '{OptimizerPrefix}'.", nameof(module));
            tensors[k] = t;
        }
        if (optimizer is not null)
        {
            var state = optimizer.StateDict();
            foreach (var (k, t) in state.Tensors) tensors[OptimizerPrefix + k] = t;
            foreach (var (k, v) in state.Scalars) meta[OptimizerPrefix + k] = v.ToString("R", CultureInfo.InvariantCulture);
            meta[OptimizerKindKey] = optimizer.Name;
        }
        SafeTensors.Save(path, tensors, meta);
    }

    /// <summary>
    /// Loads a state dict written by <see cref="Save(Module, string, IReadOnlyDictionary{string, string}?)"/>
    /// (or by PyTorch) into <paramref name="module"/>. The file and its fit to the model are checked
    /// completely first (every key, shape and dtype), so on any error the module is unchanged.
    /// Optimizer state in the file, if any, is ignored. Returns the file's metadata.
    /// </summary>
    /// <param name="module">The model to load into.</param>
    /// <param name="path">The safetensors file.</param>
    /// <param name="strict">Require the file's model keys to match the model's exactly; when false, keys
    /// missing on either side are skipped.</param>
    /// <exception cref="SafeTensorsFormatException">The file is malformed.</exception>
    /// <exception cref="CheckpointMismatchException">The file does not fit the model.</exception>
    public static IReadOnlyDictionary<string, string> Load(Module module, string path, bool strict = true) =>
        Load(module, null, SafeTensors.Load(path), path, strict);

    /// <summary>Loads a model and its optimizer's state from a checkpoint written by
    /// <see cref="Save(Module, Optimizer?, string, IReadOnlyDictionary{string, string}?)"/>. Everything is
    /// checked before anything changes: on any error both are unchanged.</summary>
    /// <exception cref="SafeTensorsFormatException">The file is malformed.</exception>
    /// <exception cref="CheckpointMismatchException">The file does not fit the model or the optimizer.</exception>
    public static IReadOnlyDictionary<string, string> Load(Module module, Optimizer optimizer, string path, bool strict = true) =>
        Load(module, optimizer, SafeTensors.Load(path), path, strict);

    /// <summary>
    /// Loads an already read checkpoint into <paramref name="module"/> and, when given, its optimizer
    /// state into <paramref name="optimizer"/>. The fit of the model part (every tensor whose name does
    /// not start with "optimizer.") and of the optimizer part is checked first, so on any error neither
    /// is changed. Returns the checkpoint's metadata.
    /// </summary>
    /// <param name="module">The model to load into.</param>
    /// <param name="optimizer">The optimizer to restore, or null to ignore optimizer state.</param>
    /// <param name="checkpoint">The file's contents (from <see cref="SafeTensors.Load"/>).</param>
    /// <param name="source">The file name, for messages.</param>
    /// <param name="strict">Require the model keys to match the model's exactly.</param>
    /// <exception cref="CheckpointMismatchException">The checkpoint does not fit.</exception>
    public static IReadOnlyDictionary<string, string> Load(Module module, Optimizer? optimizer, SafeTensorsData checkpoint, string source, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(checkpoint);
        var model = new Dictionary<string, Tensor>();
        var optTensors = new Dictionary<string, Tensor>();
        foreach (var (k, t) in checkpoint.Tensors)
            if (k.StartsWith(OptimizerPrefix, StringComparison.Ordinal)) optTensors[k[OptimizerPrefix.Length..]] = t;
            else model[k] = t;

        var errors = Mismatches(module.StateDict(), model, strict);
        if (errors.Count > 0)
            throw new CheckpointMismatchException($"checkpoint '{source}' does not fit {module.GetType().Name}; nothing was loaded:\n  " + string.Join("\n  ", errors));

        Action? commitOptimizer = null;
        if (optimizer is not null)
        {
            var scalars = new Dictionary<string, double>();
            foreach (var (k, v) in checkpoint.Metadata)
            {
                if (!k.StartsWith(OptimizerPrefix, StringComparison.Ordinal)) continue;
                if (!double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d))
                    throw new CheckpointMismatchException($"checkpoint '{source}': optimizer value '{k}' = '{v}' is not a number; nothing was loaded.");
                scalars[k[OptimizerPrefix.Length..]] = d;
            }
            if (scalars.Count == 0 && optTensors.Count == 0)
                throw new CheckpointMismatchException($"checkpoint '{source}' holds no optimizer state (it was saved without an optimizer); nothing was loaded.");
            if (checkpoint.Metadata.TryGetValue(OptimizerKindKey, out var kind) && kind != optimizer.Name)
                throw new CheckpointMismatchException($"checkpoint '{source}' holds {kind} optimizer state, but the optimizer is {optimizer.Name}; nothing was loaded.");
            try
            {
                commitOptimizer = optimizer.PrepareLoad(optTensors, scalars); // checks and copies; changes nothing yet
            }
            catch (ArgumentException e)
            {
                throw new CheckpointMismatchException($"checkpoint '{source}': the optimizer state does not fit; nothing was loaded: {e.Message}", e);
            }
        }
        Action commitModel;
        try
        {
            commitModel = module.PrepareLoad(model, strict); // checked above; changes nothing yet
        }
        catch (ShapeMismatchException e)
        {
            throw new CheckpointMismatchException($"checkpoint '{source}' does not fit {module.GetType().Name}; nothing was loaded: {e.Message}", e);
        }
        // everything is checked and prepared: the commits only copy and assign, and cannot fail
        commitModel();
        commitOptimizer?.Invoke();
        return checkpoint.Metadata;
    }

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
