namespace Fluxion.Tests;

/// <summary>The one tolerance comparison of the tests: |expected − actual| ≤ atol + rtol·|expected| elementwise
/// (NaN matches NaN, infinities must be equal), with messages that name what is compared and where.</summary>
public static class TensorAssert
{
    /// <summary>Same shape and close values.</summary>
    public static void Close(Tensor expected, Tensor? actual, double rtol = 1e-10, double atol = 1e-10, string what = "value")
    {
        Assert.NotNull(actual);
        Assert.True(ShapeUtil.SameShape(expected.Shape, actual!.Shape),
            $"{what}: expected shape {ShapeUtil.Format(expected.Shape)}, got {ShapeUtil.Format(actual.Shape)}");
        Close(expected.ToDoubleArray(), actual.ToDoubleArray(), rtol, atol, what);
    }

    /// <summary>Close values, element by element.</summary>
    public static void Close(double[] expected, double[] actual, double rtol = 1e-10, double atol = 1e-10, string what = "value")
    {
        Assert.True(expected.Length == actual.Length, $"{what}: expected {expected.Length} elements, got {actual.Length}");
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            if (double.IsNaN(e) && double.IsNaN(a)) continue;
            if (double.IsInfinity(e) || double.IsInfinity(a))
            {
                Assert.True(e == a, $"{what}[{i}]: expected {e}, got {a}");
                continue;
            }
            Assert.True(Math.Abs(e - a) <= atol + rtol * Math.Abs(e),
                $"{what}[{i}]: expected {e:G17}, got {a:G17} (|diff| {Math.Abs(e - a):G3}, rtol {rtol:G2}, atol {atol:G2})");
        }
    }

    /// <summary>Close relative to the largest magnitude of <paramref name="expected"/> (for sums whose small entries
    /// are differences of large terms), or to <paramref name="minScale"/> when that is larger; every actual value must be finite.</summary>
    public static void CloseToScale(double[] expected, double[] actual, double rtol, string what = "value", double minScale = 1e-30)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = Math.Max(expected.Select(Math.Abs).DefaultIfEmpty(0).Max(), minScale);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(double.IsFinite(actual[i]), $"{what}[{i}] is {actual[i]}");
            Assert.True(Math.Abs(expected[i] - actual[i]) <= rtol * scale,
                $"{what}[{i}]: expected {expected[i]:G17}, got {actual[i]:G17} (scale {scale:G3}, rtol {rtol:G2})");
        }
    }
}
