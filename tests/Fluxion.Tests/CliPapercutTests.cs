using Fluxion.Cli;
using Fluxion.IO;
using Fluxion.Nn;

namespace Fluxion.Tests;

// The footguns and papercuts of issue 23: graph formats, checkpoints that record what they were trained on,
// resumes with nothing to do, help texts, and library papercuts (Tensor.Size(), Sequential errors, reports).
public class CliPapercutTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fluxion-papercut-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string P(string name) => Path.Combine(_dir, name);

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Program.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    [Fact]
    public void GraphRefusesAnUnknownFormatAndRendersByExtension()
    {
        var (code, _, err) = Run("graph", "--out", P("g.txt"));
        Assert.Equal(2, code);
        Assert.Contains("unknown format '.txt'", err);
        Assert.False(File.Exists(P("g.txt")));

        Assert.Equal(0, Run("graph", "--out", P("g.gv")).Code);
        Assert.StartsWith("digraph autograd {", File.ReadAllText(P("g.gv")));

        // a PNG is rendered by Graphviz or, without it, not written at all (the DOT next to it is, with the command)
        (code, var output, _) = Run("graph", "--out", P("g.png"));
        Assert.Equal(0, code);
        if (File.Exists(P("g.png")))
            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(P("g.png"))[..4]);
        else
        {
            Assert.Contains("dot -Tpng", output);
            Assert.StartsWith("digraph autograd {", File.ReadAllText(P("g.dot")));
        }
    }

    [Fact]
    public void CheckpointsRecordDataModelAndModeAndAResumeThatDiffersSaysWhy()
    {
        var ckpt = P("c.safetensors");
        var (code, _, err) = Run("train", "--epochs", "1", "--limit", "100", "--save", ckpt, "--plain");
        Assert.True(code == 0, err);
        var file = SafeTensors.Load(ckpt);
        Assert.Equal("embedded", file.Metadata["fluxion.data"]);
        Assert.Equal("mlp", file.Metadata["fluxion.model"]);
        Assert.Equal("reverse", file.Metadata["fluxion.mode"]);
        Assert.Equal("100", file.Metadata["fluxion.limit"]);

        // trained on the embedded subset: resuming on other data is refused
        (code, _, err) = Run("train", "--epochs", "2", "--limit", "100", "--resume", ckpt, "--data", _dir);
        Assert.Equal(1, code);
        Assert.Contains("was trained on the embedded subset, but --data", err);
        Assert.Contains("drop --data", err);

        // another number of training images: a warning, and training goes on
        (code, var output, err) = Run("train", "--epochs", "2", "--limit", "120", "--resume", ckpt, "--plain");
        Assert.Equal(0, code);
        Assert.Contains("warning: checkpoint", err);
        Assert.Contains("was trained on 100 training images, this run uses 120", err);
        Assert.Contains("epoch 2/2", output);

        // a checkpoint of a full dataset whose directory is gone: refused rather than silently using the subset
        var meta = new Dictionary<string, string>(file.Metadata) { ["fluxion.data"] = "/no/such/fashion-mnist" };
        SafeTensors.Save(P("full.safetensors"), file.Tensors, meta);
        (code, _, err) = Run("train", "--epochs", "2", "--limit", "100", "--resume", P("full.safetensors"));
        Assert.Equal(1, code);
        Assert.Contains("was trained on Fashion-MNIST from /no/such/fashion-mnist, which does not exist any more", err);
    }

    [Fact]
    public void HelpTextsSayWhatIsTrue()
    {
        var (code, output, _) = Run("complexity", "--help");
        Assert.Equal(0, code);
        Assert.DoesNotContain("about a minute", output);
        Assert.Contains("--small", output);
    }

    [Fact]
    public void TensorSizeIsAnArray()
    {
        var t = Tensor.Zeros(2, 3);
        Assert.Equal("2x3", string.Join("x", t.Size()));
        Assert.Equal(t.ShapeArray, t.Size());
    }

    [Fact]
    public void ErrorsInsideASequentialNameTheLayersPosition()
    {
        var net = new Sequential(new Linear(3, 4), new ReLU(), new Linear(5, 2));
        var e = Assert.Throws<ShapeMismatchException>(() => net.Forward(Tensor.Randn(2, 3)));
        Assert.StartsWith("Sequential: layer 2 of 3, Linear(in_features=5, out_features=2, bias=True), input [2, 4]: ", e.Message);
        Assert.IsType<ShapeMismatchException>(e.InnerException);
    }

    [Fact]
    public void SavedMemoryReportPrintsItsNumbers()
    {
        var w = Tensor.Randn(64, 64).RequiresGrad_();
        var y = Tensor.Randn(8, 64).MatMul(w).Tanh().Sum();
        var text = MemoryTracker.SavedForBackward(y).ToString();
        Assert.StartsWith("saved for backward ", text);
        Assert.Contains(" MB (activations ", text);
        Assert.DoesNotContain("System.Collections", text);
        Assert.True(text.Split('\n').Length >= 2, text); // one line per op that saves something
    }
}
