namespace Fluxion.Nn;

/// <summary>A module whose forward runs compiled (see <see cref="Module.Compile(CompileOptions?)"/>). Its parameters
/// and buffers are the original module's, registered under "orig_mod" (PyTorch's "_orig_mod").</summary>
public sealed class CompiledModule : Module
{
    private readonly CompiledFunction _compiled;
    private readonly Module _origMod;

    internal CompiledModule(Module original, CompileOptions? options)
    {
        _origMod = original;
        _compiled = new CompiledFunction(xs => [original.Forward(xs[0])], options ?? new CompileOptions())
        {
            ExtraKey = () => original.Training ? 1 : 0,
        };
    }

    /// <summary>The module that was compiled.</summary>
    public Module Original => _origMod;

    /// <summary>The compiled forward (its graph, traces and cache).</summary>
    public CompiledFunction Compiled => _compiled;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => _compiled.Call(input);
}

public abstract partial class Module
{
    /// <summary>This module with its forward compiled (see <see cref="Functional.Compile(Func{Tensor[], Tensor[]}, CompileOptions?)"/>);
    /// the training flag is part of the guard. The returned module shares this module's parameters.</summary>
    public CompiledModule Compile(CompileOptions? options = null) => new(this, options);
}
