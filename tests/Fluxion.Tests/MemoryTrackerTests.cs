namespace Fluxion.Tests;


public class MemoryTrackerTests
{
    private const long MB = 1 << 20;

    [Fact]
    public void KeptTensorsCountTowardsLiveAndPeak()
    {
        var (kept, r) = MemoryTracker.Measure(() =>
        {
            var list = new List<Tensor>();
            for (int i = 0; i < 10; i++) list.Add(Tensor.Zeros((int)(MB / 4))); // 1 MiB each
            return list;
        });
        Assert.Equal(10, kept.Count);
        Assert.InRange(r.LiveBytesAtEnd, 10 * MB, 10 * MB + 64 * 1024);
        Assert.InRange(r.PeakBytes, 10 * MB, (long)(10 * MB * 1.03) + 64 * 1024);
        Assert.Equal(10 * MB, r.AllocatedBytes);
    }

    [Fact]
    public void DroppedTensorsDoNotAccumulateInThePeak()
    {
        var r = MemoryTracker.Measure(() =>
        {
            for (int i = 0; i < 20; i++)
            {
                var t = Tensor.Zeros((int)(MB / 4));
                GC.KeepAlive(t);
            }
        });
        Assert.Equal(20 * MB, r.AllocatedBytes);
        Assert.Equal(0, r.LiveBytesAtEnd);
        Assert.InRange(r.PeakBytes, MB, 3 * MB);
    }

    [Fact]
    public void GraphMemoryGrowsLinearlyWithDepth()
    {
        long Peak(int depth)
        {
            var w = Tensor.Randn([256, 256]).RequiresGrad_();
            var x = Tensor.Randn([64, 256]);
            var (y, r) = MemoryTracker.Measure(() =>
            {
                var h = x;
                for (int i = 0; i < depth; i++) h = h.MatMul(w).Tanh();
                return h.Sum();
            });
            GC.KeepAlive(y);
            return r.LiveBytesAtEnd;
        }
        long p4 = Peak(4), p16 = Peak(16);
        // each layer keeps its tanh output (64x256 floats = 64 KiB) and the matmul input it saved
        double ratio = (double)p16 / p4;
        Assert.InRange(ratio, 3.0, 5.0);
    }
}

public class SavedMemoryTests
{
    [Fact]
    public void SavedBytesOfASmallNetworkAreExact()
    {
        // 2-layer MLP, batch 8: x[8,16] -> W1[16,32] -> tanh -> W2[32,4] -> sum of squares
        var x = Tensor.Randn(8, 16);
        var w1 = Tensor.Randn(16, 32).RequiresGrad_();
        var w2 = Tensor.Randn(32, 4).RequiresGrad_();
        var z1 = x.MatMul(w1);     // saves x (only w1 needs grad, and its gradient reads x)
        var h = z1.Tanh();         // saves h
        var z2 = h.MatMul(w2);     // saves h and w2
        var loss = (z2 * z2).Sum(); // saves z2
        var r = MemoryTracker.SavedForBackward(loss);
        long f = 4;
        // h is saved by both Tanh and the second MatMul: it counts once, for the later node (MatMul)
        Assert.Equal(8 * 16 * f + 8 * 32 * f + 32 * 4 * f, r.BytesByOp["MatMul"]);
        Assert.False(r.BytesByOp.ContainsKey("Tanh"));
        Assert.Equal(8 * 4 * f, r.BytesByOp["Mul"]);
        Assert.Equal(r.BytesByOp.Values.Sum(), r.SavedBytes);
        Assert.Equal(r.SavedBytes - 32 * 4 * f, r.ActivationBytes);
    }
}
