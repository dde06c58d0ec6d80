using TorchSharp;
using static TorchSharp.torch;

namespace TorchSharpBench;

/// <summary>`fluxion bench mlp`: the MLP 784-512-256-10 (ReLU), batch 128, Adam, cross-entropy ("mlp/train_step").</summary>
public sealed class MlpSuite : ISuite
{
    /// <inheritdoc/>
    public IEnumerable<Workload> Workloads()
    {
        torch.manual_seed(0);
        var model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10));
        var opt = optim.Adam(model.parameters(), lr: 1e-3);
        var x = torch.randn(128, 784);
        var y = torch.randint(0, 10, [128], dtype: ScalarType.Int64);
        yield return new Workload("mlp/train_step", () => TrainStep.Run(model, opt, x, y));
    }
}
