using System.Text.RegularExpressions;
using Fluxion.Data;
using Fluxion.IO;
using Fluxion.Nn;
using Fluxion.Optim;
using Fluxion.Training;

namespace Fluxion.Tests;

// The library's training loop (Fluxion.Training.Trainer) and its progress display, on a tiny synthetic
// two-class problem so that each run takes milliseconds.
public class TrainingLoopTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fluxion-loop-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private sealed class TwoLayer : Module
    {
        private readonly Linear _hidden = new(2, 16);
        public Linear Head { get; } = new(16, 2);
        public override Tensor Forward(Tensor input) => Head.Forward(_hidden.Forward(input).Tanh());
    }

    /// <summary>Points in the plane labelled by the sign of x*y (XOR-like), as a loader.</summary>
    private static DataLoader Data(int n, long seed, int batch = 16)
    {
        var g = new Generator(seed);
        var x = Tensor.Rand([n, 2], generator: g) * 2 - 1;
        var y = (x.Select(1, 0) * x.Select(1, 1)).Gt(0).To(DType.Int64);
        return new DataLoader(new TensorDataset(x, y), batch, shuffle: true, seed: seed);
    }

    private static (Trainer Trainer, StringWriter Out) Make(double lr = 0.05, bool interactive = false)
    {
        Generator.ManualSeed(0);
        var model = new TwoLayer();
        var output = new StringWriter();
        var trainer = new Trainer(model, new Adam(model.Parameters(), lr: lr), (o, y) => Losses.CrossEntropy(o, y))
        {
            Metrics = { new Accuracy() },
            Progress = new ProgressDisplay(output, interactive),
        };
        return (trainer, output);
    }

    [Fact]
    public void FitTrainsValidatesAndPrintsPlainProgress()
    {
        var (trainer, output) = Make();
        var history = trainer.Fit(Data(256, 1), epochs: 8, validation: Data(64, 2));
        Assert.Equal(8, history.Epochs.Count);
        Assert.Null(history.StopReason);
        var first = history.Epochs[0];
        var last = history.Epochs[^1];
        Assert.True(last.Loss < first.Loss, $"{first.Loss} -> {last.Loss}");
        Assert.NotNull(last.ValidationLoss);
        Assert.InRange(last.Metrics["val_acc"], 0.75, 1.0);
        Assert.Equal(256, last.Samples);
        Assert.Equal(0.05, last.LearningRate, 12);

        var lines = output.ToString().ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');
        Assert.All(lines, l => Assert.True(l.Length <= 120, l));
        Assert.DoesNotContain("\r", output.ToString());
        // 16 batches per epoch: progress lines at batches 4, 8, 12, then the epoch's summary line
        Assert.Matches(@"^  epoch 1/8  batch 4/16  25%  loss \d\.\d{4}  acc \d+\.\d\d%  lr 0\.05  [\d,]+ samples/s  elapsed \d+:\d\d  eta \d+:\d\d$", lines[0]);
        Assert.Matches(@"^epoch 1/8  loss \d\.\d{4}  acc \d+\.\d\d%  val loss \d\.\d{4}  val acc \d+\.\d\d%  lr 0\.05  \d+\.\d s  [\d,]+ samples/s$", lines[3]);
        Assert.Equal(8, lines.Count(l => l.StartsWith("epoch ")));
    }

    [Fact]
    public void TheLiveDisplayRedrawsOneLineWithinTheWidth()
    {
        var (trainer, output) = Make(interactive: true);
        trainer.Fit(Data(64, 1), epochs: 2, validation: Data(32, 2));
        var text = output.ToString();
        Assert.Contains("\r", text);
        Assert.Contains("\u001b[K", text);
        // every drawn state: carriage return, at most 119 columns, erase to end of line
        var states = Regex.Matches(text, "\r([^\r\u001b]*)\u001b\\[K").Select(m => m.Groups[1].Value).ToList();
        Assert.NotEmpty(states);
        Assert.All(states, s => Assert.True(s.Length <= 119, s));
        Assert.Contains(states, s => s.StartsWith("epoch 1/2 [") && s.Contains("% ") && s.Contains(" samples/s  loss ") && s.Contains("<"));
        Assert.Contains(states, s => s.StartsWith("epoch 2/2  loss ") && s.Contains("val acc"));
        Assert.True(ProgressDisplay.Fit(new string('x', 200), 119).Length == 119);
    }

    [Fact]
    public void EarlyStoppingEndsTrainingAndSaysWhy()
    {
        var (trainer, output) = Make(lr: 1e-12); // the loss cannot improve
        var stop = new EarlyStopping("val_loss", patience: 2, minDelta: 1e-3);
        trainer.Callbacks.Add(stop);
        var history = trainer.Fit(Data(64, 1), epochs: 10, validation: Data(32, 2));
        Assert.Equal(3, history.Epochs.Count); // best at epoch 1, then two epochs without improvement
        Assert.Equal(1, stop.BestEpoch);
        Assert.StartsWith("early stopping: val_loss has not improved for 2 epochs", history.StopReason);
        Assert.Contains(history.StopReason!, output.ToString());
    }

    [Fact]
    public void MonitoringAValueThatIsNotThereNamesTheKeys()
    {
        var (trainer, _) = Make();
        trainer.Callbacks.Add(new EarlyStopping("val_loss"));
        var e = Assert.Throws<FluxionException>(() => trainer.Fit(Data(32, 1), epochs: 1));
        Assert.Contains("no 'val_loss'", e.Message);
        Assert.Contains("acc", e.Message);
        Assert.Contains("pass validation to Trainer.Fit", e.Message);
    }

    [Fact]
    public void SchedulerAndCheckpointsFollowTheEpochs()
    {
        var (trainer, _) = Make(lr: 0.08);
        trainer.Scheduler = new StepLR(trainer.Optimizer, stepSize: 1, gamma: 0.5);
        var path = Path.Combine(_dir, "best.safetensors");
        var checkpoint = new ModelCheckpoint(path, monitor: "loss") { Metadata = r => new Dictionary<string, string> { ["note"] = $"epoch {r.Epoch}" } };
        trainer.Callbacks.Add(checkpoint);
        var history = trainer.Fit(Data(64, 1), epochs: 3);
        Assert.Equal([0.08, 0.04, 0.02], history.Epochs.Select(e => e.LearningRate));
        Assert.Equal(0.01, trainer.LearningRate, 12);
        var saved = SafeTensors.Load(path);
        Assert.Equal(checkpoint.SavedEpoch.ToString(), saved.Metadata["fluxion.epoch"]);
        Assert.Equal($"epoch {checkpoint.SavedEpoch}", saved.Metadata["note"]);
        Assert.Contains("head.weight", saved.Tensors.Keys);

        // resuming: startEpoch counts the epochs already done
        var more = trainer.Fit(Data(64, 1), epochs: 5, startEpoch: 3);
        Assert.Equal([4, 5], more.Epochs.Select(e => e.Epoch));
    }
}
