using System.Globalization;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Fluxion.Cli;
using Fluxion.IO;

namespace Fluxion.Tests;

// `fluxion train` end to end, in process, on a reduced subset (hidden option --limit) so each run takes
// a second or two. The full default run (10 epochs on the 10,000-image subset) is not a unit test.
public class TrainTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fluxion-train-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string P(string name) => Path.Combine(_dir, name);

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Program.Run(["train", .. args], o, e);
        return (code, o.ToString(), e.ToString());
    }

    // "epoch 2/3  loss 0.6120  train acc ..." -> the loss of each epoch line
    private static double[] Losses(string output) =>
        Regex.Matches(output, @"^epoch \d+/\d+  loss (\S+)", RegexOptions.Multiline)
            .Select(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToArray();

    private static string[] EpochLinesWithoutTimings(string output) =>
        output.Split('\n').Where(l => l.StartsWith("epoch ")).Select(l => Regex.Replace(Regex.Replace(l, @"  [\d.,]+ s  .*$", ""), @"^epoch (\d+)/\d+", "epoch $1")).ToArray();

    [Fact]
    public void OneEpochEndToEnd()
    {
        var (code, output, err) = Run("--epochs", "1", "--limit", "1000", "--plain");
        Assert.True(code == 0, err);
        Assert.Equal("", err);
        Assert.Contains("MLP on the embedded Fashion-MNIST subset: 1000 train / 200 test images, 203,530 parameters", output);
        Assert.Contains("epoch 1/1  batch 4/16", output);
        Assert.Single(Losses(output));
        Assert.Matches(@"test accuracy:\s+\d+\.\d\d% \(200 test images\)", output);
        Assert.Matches(@"parameters:\s+203,530", output);
        Assert.Matches(@"wall time:\s+\d+\.\d s", output);
        Assert.Matches(@"peak memory:\s+\d+\.\d MiB working set, \d+\.\d MiB managed heap", output);
        var acc = double.Parse(Regex.Match(output, @"test accuracy:\s+(\S+)%").Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.InRange(acc, 55, 100); // one epoch on 1000 images already learns (chance is 10%)
    }

    [Fact]
    public void TrainsThePointCloudNetwork()
    {
        var (code, output, err) = Run("--model", "pcn", "--epochs", "1", "--limit", "300", "--plain");
        Assert.True(code == 0, err);
        Assert.Contains("PCN on the embedded Fashion-MNIST subset: 300 train / 60 test images, 33,866 parameters\ndense MLP of the same widths: 203,530 parameters; adam", output.ReplaceLineEndings("\n"));
        Assert.Matches(@"parameters:\s+33,866 \(a dense MLP of the same widths has 203,530\)", output);
        Assert.Single(Losses(output));
    }

    [Fact]
    public void TrainsTheParticleModel()
    {
        var (code, output, err) = Run("--model", "particles", "--epochs", "2", "--limit", "32", "--batch-size", "8", "--plain");
        Assert.True(code == 0, err);
        Assert.Equal("", err);
        Assert.Contains("PARTICLES on the embedded Fashion-MNIST subset, classes 0 T-shirt/top vs 1 Trouser: 32 train / 10 test images (14x14)\n88 parameters", output.ReplaceLineEndings("\n"));
        var losses = Losses(output);
        Assert.Equal(2, losses.Length);
        Assert.All(losses, l => Assert.True(double.IsFinite(l) && l >= 0));
        Assert.Matches(@"test accuracy:\s+\d+\.\d\d% \(10 test images\)", output);
        var other = Run("--model", "particles", "--classes", "1,5", "--epochs", "1", "--limit", "8", "--plain");
        Assert.True(other.Code == 0, other.Err);
        Assert.Contains("classes 1 Trouser vs 5 Sandal", other.Out);
    }

    [Fact]
    public void TrainsTheCnn()
    {
        var (code, output, err) = Run("--model", "cnn", "--epochs", "1", "--limit", "200");
        Assert.True(code == 0, err);
        Assert.Contains("CNN on the embedded Fashion-MNIST subset: 200 train / 40 test images, 20,490 parameters", output);
        Assert.Single(Losses(output));
    }

    [Fact]
    public void TheSameSeedGivesTheSameLossCurve()
    {
        string[] args = ["--epochs", "2", "--limit", "300", "--batch-size", "50", "--seed", "7"];
        var a = Run(args);
        var b = Run(args);
        Assert.Equal(0, a.Code);
        Assert.Equal(2, Losses(a.Out).Length);
        Assert.Equal(EpochLinesWithoutTimings(a.Out), EpochLinesWithoutTimings(b.Out));
        var c = Run("--epochs", "2", "--limit", "300", "--batch-size", "50", "--seed", "8");
        Assert.NotEqual(Losses(a.Out), Losses(c.Out));
    }

    [Fact]
    public void SavesACheckpointResumesAndPlots()
    {
        var ckpt = P("model.safetensors");
        var (code, output, err) = Run("--epochs", "1", "--limit", "400", "--save", ckpt, "--optimizer", "sgd", "--lr", "0.05");
        Assert.True(code == 0, err);
        Assert.Contains($"checkpoint:      {ckpt}", output);
        var file = SafeTensors.Load(ckpt);
        Assert.Equal(["1.bias", "1.weight", "3.bias", "3.weight"], file.Tensors.Keys.Where(k => !k.StartsWith("optimizer.")).Order());
        Assert.Equal("mlp", file.Metadata["fluxion.model"]);
        Assert.Equal("1", file.Metadata["fluxion.epoch"]);

        // resume up to 3 epochs in total: runs epochs 2 and 3 only; the plot covers all three
        var svg = P("curve.svg");
        (code, output, err) = Run("--epochs", "3", "--limit", "400", "--resume", ckpt, "--save", ckpt, "--plot", svg, "--optimizer", "sgd", "--lr", "0.05");
        Assert.True(code == 0, err);
        Assert.Contains("resuming after epoch 1", output);
        Assert.DoesNotContain("epoch 1/3", output);
        Assert.Equal(2, Losses(output).Length);
        Assert.Equal("3", SafeTensors.Load(ckpt).Metadata["fluxion.epoch"]);
        var doc = XDocument.Load(svg); // well-formed SVG
        Assert.Equal("svg", doc.Root!.Name.LocalName);
        Assert.Equal(2, doc.Descendants().Count(e => e.Name.LocalName == "polyline" && e.Parent!.Attribute("aria-label")?.Value == "accuracy"));
        Assert.Equal(2, doc.Descendants().Count(e => e.Name.LocalName == "polyline" && e.Parent!.Attribute("aria-label")?.Value == "loss")); // train and test
        Assert.Equal(12, doc.Descendants().Count(e => e.Name.LocalName == "circle")); // 3 epochs x (train loss, test loss, train acc, test acc)

        // a finished run resumed again just evaluates, and says so
        (code, output, err) = Run("--epochs", "3", "--limit", "400", "--resume", ckpt);
        Assert.Equal(0, code);
        Assert.Empty(Losses(output));
        Assert.Contains("test accuracy:", output);
        Assert.Contains("is already at epoch 3 and --epochs is 3 (a total, not a count): nothing to train", err);
        Assert.Contains("pass --epochs 4 or more", err);
    }

    [Fact]
    public void ResumingContinuesExactlyWhereTheRunStopped()
    {
        // 3 epochs straight == 1 epoch, save, resume up to 3 (model, Adam moments and step, shuffling state restored)
        string[] common = ["--limit", "300", "--batch-size", "50", "--seed", "3"];
        var straight = Run(["--epochs", "3", .. common]);
        var ckpt = P("r.safetensors");
        var first = Run(["--epochs", "1", "--save", ckpt, .. common]);
        var rest = Run(["--epochs", "3", "--resume", ckpt, .. common]);
        Assert.Equal(0, rest.Code);
        var all = EpochLinesWithoutTimings(straight.Out);
        Assert.Equal(3, all.Length);
        Assert.Equal(all[..1], EpochLinesWithoutTimings(first.Out));
        Assert.Equal(all[1..], EpochLinesWithoutTimings(rest.Out));
        Assert.Equal(Regex.Match(straight.Out, "test accuracy:.*").Value, Regex.Match(rest.Out, "test accuracy:.*").Value);

        // the checkpoint decides the optimizer; contradicting it is a clear error
        var (code, _, err) = Run(["--epochs", "3", "--resume", ckpt, "--optimizer", "sgd", .. common]);
        Assert.Equal(1, code);
        Assert.Contains("holds Adam optimizer state, but --optimizer sgd was given", err);
        Assert.DoesNotContain("   at ", err);
    }

    [Fact]
    public void ResumingFromABadCheckpointIsAClearError()
    {
        File.WriteAllBytes(P("bad.safetensors"), [1, 2, 3]);
        var (code, _, err) = Run("--resume", P("bad.safetensors"), "--limit", "100");
        Assert.Equal(1, code);
        Assert.Contains("fluxion: error: safetensors file", err);
        Assert.Contains("truncated file", err);
        Assert.DoesNotContain("   at ", err);
    }

    [Fact]
    public void RichOutputRendersProgress()
    {
        var o = new StringWriter();
        Assert.Equal(0, Program.Run(["train", "--epochs", "1", "--limit", "200"], o, new StringWriter(), rich: true));
        Assert.True(o.ToString().Contains("epoch 1/1"), o.ToString());
        Assert.Contains("test accuracy:", o.ToString());
    }

    [Theory]
    [InlineData("--epochs", "0", "--epochs needs a positive integer")]
    [InlineData("--epochs", "x", "--epochs needs a positive integer")]
    [InlineData("--batch-size", "-3", "--batch-size needs a positive integer")]
    [InlineData("--lr", "0", "--lr needs a positive number")]
    [InlineData("--lr", "nan", "--lr needs a positive number")]
    [InlineData("--optimizer", "rmsprop", "--optimizer needs one of: adam, sgd, adamw")]
    [InlineData("--model", "resnet", "--model needs one of:")]
    [InlineData("--classes", "3", "--classes needs two different class indices")]
    [InlineData("--seed", "1.5", "--seed needs an integer")]
    [InlineData("--data", "/no/such/dir", "directory '/no/such/dir' does not exist")]
    [InlineData("--resume", "/no/such/file", "file '/no/such/file' does not exist")]
    [InlineData("--save", "/no/such/dir/x", "--save: directory")]
    [InlineData("--frobnicate", "1", "unknown option '--frobnicate'")]
    [InlineData("extra", "1", "unexpected argument 'extra'")]
    public void BadOptionsExit2WithAClearMessage(string option, string value, string message)
    {
        var (code, output, err) = Run(option, value);
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Contains(message, err);
        Assert.Contains("fluxion train --help", err);
        Assert.DoesNotContain("   at ", err);
    }

    [Fact]
    public void MissingOptionValueAndHelp()
    {
        var (code, _, err) = Run("--epochs");
        Assert.Equal(2, code);
        Assert.Contains("--epochs needs a positive integer", err);
        var (code2, output, _) = Run("--help");
        Assert.Equal(0, code2);
        Assert.Contains("Usage: fluxion train", output);
        Assert.DoesNotContain("--limit", output); // hidden test option
    }
}
