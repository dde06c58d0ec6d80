using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace TorchSharpBench;

/// <summary>The training step of `fluxion bench mlp`/`cnn`: zero grad, forward, cross-entropy, backward, Adam step (lr 1e-3).</summary>
public static class TrainStep
{
    /// <summary>One step.</summary>
    public static void Run(nn.Module<Tensor, Tensor> model, optim.Optimizer opt, Tensor x, Tensor y)
    {
        opt.zero_grad();
        var loss = F.cross_entropy(model.forward(x), y);
        loss.backward();
        opt.step();
    }
}
