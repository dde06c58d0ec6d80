using Fluxion.Diagnostics;
using Fluxion.IO;
using Fluxion.Nn;

namespace Fluxion.Cli;

/// <summary><c>fluxion train --logdir</c>: what a run writes to TensorBoard, through <see cref="SummaryWriter"/>.</summary>
internal sealed class TrainLog(string logDir, Module net, string description) : IDisposable
{
    private readonly SummaryWriter _writer = Start(new SummaryWriter(logDir), net, description);

    private static SummaryWriter Start(SummaryWriter w, Module net, string description)
    {
        w.AddText("run", description, 0);
        try
        {
            w.AddGraph(net, Tensor.Zeros([1, 1, 28, 28]));
        }
        catch (OnnxExportException e) // the forward-mode layers of --mode mixed and forward-gradient have no graph form
        {
            w.AddText("graph", $"no graph: {e.Message}", 0);
        }
        return w;
    }

    /// <summary>The loss of one optimizer step (global step = batches done so far).</summary>
    public void Step(long step, double loss) => _writer.AddScalar("train/loss", loss, step);

    /// <summary>The epoch's statistics and the histograms of the parameters and of the last step's gradients.</summary>
    public void Epoch(EpochStats s, Module net)
    {
        _writer.AddScalar("epoch/train_loss", s.TrainLoss, s.Epoch);
        _writer.AddScalar("epoch/train_accuracy", s.TrainAccuracy, s.Epoch);
        _writer.AddScalar("epoch/test_accuracy", s.TestAccuracy, s.Epoch);
        _writer.AddScalar("epoch/samples_per_second", s.SamplesPerSecond, s.Epoch);
        _writer.AddParameterHistograms(net, s.Epoch);
    }

    public void Dispose() => _writer.Dispose();
}
