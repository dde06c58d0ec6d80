using Fluxion.Kernels;
namespace Fluxion.Tests;

/// <summary>The GEMM profile's counters are process-wide while a measurement runs, so its test runs alone (after the
/// parallel tests): another test's product would otherwise be counted too.</summary>
[CollectionDefinition("GemmProfile", DisableParallelization = true)]
public class GemmProfileCollection;

[Collection("GemmProfile")]
public class GemmProfileTests
{
    [Fact]
    public void ProfileSplitsPackingKernelAndRest()
    {
        var a = Tensor.Randn([300, 310], DType.Float32);
        var b = Tensor.Randn([310, 290], DType.Float32);
        var packed = GemmProfile.Measure(() => a.MatMul(b));
        Assert.Equal(1, packed.Products);
        Assert.Equal(300L * 310 * 290, packed.MultiplyAdds);
        Assert.True(packed.PackBSeconds > 0 && packed.PackASeconds > 0 && packed.KernelSeconds > 0, packed.ToString());
        Assert.True(packed.PackBSeconds + packed.PackASeconds + packed.KernelSeconds <= packed.ThreadSeconds * 1.001, packed.ToString());
        Assert.True(packed.ThreadSeconds >= packed.WallSeconds, packed.ToString());
        var small = GemmProfile.Measure(() => a.Slice(0, 0, 20).MatMul(b.Slice(1, 0, 40)));
        Assert.Equal(20L * 310 * 40, small.MultiplyAdds);
        Assert.Equal(0, small.PackASeconds + small.PackBSeconds);
        Assert.True(small.KernelSeconds > 0);
        Assert.Equal(0, GemmProfile.Measure(() => { }).Products);
        a.MatMul(b); // profile off: counters untouched until the next Measure
        Assert.False(Gemm.Profile.Enabled);
    }
}
