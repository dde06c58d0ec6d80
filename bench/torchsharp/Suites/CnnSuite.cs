using TorchSharp;
using static TorchSharp.torch;

namespace TorchSharpBench;

/// <summary>`fluxion bench cnn`: conv3x3(1→32, pad 1)-ReLU-maxpool2-conv3x3(32→64, pad 1)-ReLU-maxpool2-flatten-fc(3136→128)-ReLU-fc(128→10),
/// batch 64×1×28×28, Adam, cross-entropy ("cnn/train_step").</summary>
public sealed class CnnSuite : ISuite
{
    /// <inheritdoc/>
    public IEnumerable<Workload> Workloads()
    {
        torch.manual_seed(0);
        var model = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding: 1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding: 1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10));
        var opt = optim.Adam(model.parameters(), lr: 1e-3);
        var x = torch.randn(64, 1, 28, 28);
        var y = torch.randint(0, 10, [64], dtype: ScalarType.Int64);
        yield return new Workload("cnn/train_step", () => TrainStep.Run(model, opt, x, y));
    }
}
