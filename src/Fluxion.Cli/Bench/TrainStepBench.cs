using Fluxion.Nn;
using Fluxion.Optim;

namespace Fluxion.Cli.Bench;

/// <summary>
/// Training steps as in the performance issue: the MLP 784-512-256-10 (batch 128) and the CNN
/// conv3x3(32, pad 1)-ReLU-maxpool2-conv3x3(64, pad 1)-ReLU-maxpool2-fc128-ReLU-fc10 (batch 64, 1x28x28),
/// each with Adam and cross-entropy: zero grad, forward, loss, backward, step.
/// </summary>
public static class TrainStepBench
{
    /// <summary>The MLP step.</summary>
    public static IEnumerable<Workload> Mlp()
    {
        Generator.ManualSeed(0);
        var model = new Sequential(new Linear(784, 512), new ReLU(), new Linear(512, 256), new ReLU(), new Linear(256, 10));
        var opt = new Adam(model.Parameters(), lr: 1e-3);
        var x = Tensor.Randn(128, 784);
        var y = Tensor.RandInt(0, 10, [128]);
        yield return new Workload("mlp/train_step", () => Step(model, opt, x, y));
    }

    /// <summary>Minimum warm-up time of the CNN step (seconds): with the default 3 warm-up steps the measured
    /// steps still ran tier-0 JIT code and missed the storage pool (median ≈ 2× the steady state, 22 MB
    /// allocated per step instead of ≈ 3); 1 s was not enough either (tier-up competes with the step for
    /// the 2 cores). <c>bench/torch/bench.py cnn</c> warms up as long.</summary>
    public const double CnnWarmupSeconds = 3.0;

    /// <summary>The CNN step.</summary>
    public static IEnumerable<Workload> Cnn()
    {
        Generator.ManualSeed(0);
        var model = new Sequential(
            new Conv2d(1, 32, 3, padding: 1), new ReLU(), new MaxPool2d(2),
            new Conv2d(32, 64, 3, padding: 1), new ReLU(), new MaxPool2d(2),
            new Flatten(), new Linear(64 * 7 * 7, 128), new ReLU(), new Linear(128, 10));
        var opt = new Adam(model.Parameters(), lr: 1e-3);
        var x = Tensor.Randn(64, 1, 28, 28);
        var y = Tensor.RandInt(0, 10, [64]);
        yield return new Workload("cnn/train_step", () => Step(model, opt, x, y), WarmupSeconds: CnnWarmupSeconds);
    }

    private static void Step(Module model, Optimizer opt, Tensor x, Tensor y)
    {
        opt.ZeroGrad();
        var loss = Losses.CrossEntropy(model.Forward(x), y);
        loss.Backward();
        opt.Step();
    }
}
