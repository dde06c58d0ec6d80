using Fluxion.Nn;

namespace Fluxion.Tests;

public class ReversibleTests
{
    private static Reversible Block(int d, DType dtype, int seed, double scale = 1.0)
    {
        var gen = new Generator(seed);
        return new Reversible(
            new Sequential(new Linear(d, d, dtype: dtype, generator: gen), new Tanh(), new Scale(scale)),
            new Sequential(new Linear(d, d, dtype: dtype, generator: gen), new Tanh()));
    }

    /// <summary>Multiplies by a constant (to make a block badly conditioned).</summary>
    private sealed class Scale(double s) : Module
    {
        public override Tensor Forward(Tensor input) => s == 1 ? input : input * s;
    }

    private static double[][] Gradients(Module model, Tensor x0)
    {
        foreach (var p in model.Parameters()) p.Grad = null;
        var x = x0.Clone().RequiresGrad_();
        model.Forward(x).Square().Sum().Backward();
        return new[] { x.Grad!.ToDoubleArray() }.Concat(model.Parameters().Select(p => p.Grad!.ToDoubleArray())).ToArray();
    }

    [Fact]
    public void InverseRecoversTheInput()
    {
        var b = Block(3, DType.Float64, 1);
        var x = Tensor.Randn([4, 6], DType.Float64, new Generator(2));
        TensorAssert.Close(x, b.Inverse(b.Forward(x)), 1e-12, 1e-12);
    }

    [Fact]
    public void ReversibleChainGradientsEqualThePlainNetwork()
    {
        var blocks = Enumerable.Range(0, 6).Select(i => Block(4, DType.Float64, 10 + i)).ToArray();
        var x0 = Tensor.Randn([5, 8], DType.Float64, new Generator(3));
        var plain = Gradients(new Sequential(blocks), x0);
        var rev = new ReversibleSequential(blocks);
        var got = Gradients(rev, x0);
        Assert.Equal(plain.Length, got.Length);
        for (int k = 0; k < plain.Length; k++) TensorAssert.Close(plain[k], got[k], 1e-9, 1e-11, $"gradient {k}");
        Assert.Empty(rev.LastReport!.StoredBlocks);
        Assert.All(rev.LastReport.ReconstructionErrors, e => Assert.True(e < 1e-12, $"error {e}"));
    }

    [Fact]
    public void ActivationMemoryDoesNotGrowWithDepth()
    {
        long Activations(Module m)
        {
            var x = Tensor.Randn([16, 32], DType.Float32, new Generator(4));
            var y = m.Forward(x);
            return MemoryTracker.SavedForBackward(y).ActivationBytes;
        }
        ReversibleSequential Rev(int n) => new(Enumerable.Range(0, n).Select(i => Block(16, DType.Float32, i)).ToArray());
        long rev8 = Activations(Rev(8)), rev64 = Activations(Rev(64));
        Assert.Equal(rev8, rev64);
        Assert.Equal(16 * 32 * 4, rev8); // the chain's output only
        long plain8 = Activations(new Sequential(Rev(8).Blocks.ToArray()));
        long plain64 = Activations(new Sequential(Rev(64).Blocks.ToArray()));
        Assert.True(plain64 > 7 * plain8, $"plain network: {plain8} B at 8 blocks, {plain64} B at 64");
    }

    [Fact]
    public void AnUnstableBlockFallsBackToStoringItsInput()
    {
        // block 2 adds 1e8·tanh(...) to O(1) values in float32: x1 is lost to rounding in y1
        var blocks = Enumerable.Range(0, 4).Select(i => Block(3, DType.Float32, 20 + i, i == 2 ? 1e8 : 1.0)).ToArray();
        var x0 = Tensor.Randn([2, 6], DType.Float32, new Generator(5));
        var rev = new ReversibleSequential(blocks);
        var got = Gradients(rev, x0);
        var report = rev.LastReport!;
        Assert.Equal(new[] { 2 }, report.StoredBlocks);
        Assert.True(report.ReconstructionErrors[2] > report.Tolerance);
        Assert.Contains("block 2", report.ToString());
        var plain = Gradients(new Sequential(blocks), x0);
        for (int k = 0; k < plain.Length; k++) TensorAssert.CloseToScale(plain[k], got[k], 1e-3, $"gradient {k}");
        // the stored input counts as an activation
        var y = rev.Forward(x0.Clone().RequiresGrad_());
        Assert.Equal(2 * 6 * 4 * 2, MemoryTracker.SavedForBackward(y).ActivationBytes);
    }

    [Fact]
    public void OddWidthIsRejected()
    {
        var rev = new ReversibleSequential(Block(3, DType.Float32, 1));
        var e = Assert.Throws<ShapeMismatchException>(() => rev.Forward(Tensor.Ones([2, 5]).RequiresGrad_()));
        Assert.Contains("even size in dim 1", e.Message);
    }
}
