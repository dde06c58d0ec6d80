namespace Fluxion;

/// <summary>
/// Builders of the sample calls registry entries carry for the generated test sweep: float64 inputs from a
/// fixed seed over the shapes that catch layout bugs (0-d, 1-d, 2-d, a non-contiguous transposed view,
/// an empty tensor; for binary ops also broadcasting both ways and a 0-d operand).
/// </summary>
internal static class OpSamples
{
    /// <summary>Where sample values are drawn, so gradient checks stay away from poles, kinks and branch cuts.</summary>
    public enum Domain
    {
        /// <summary>Standard normal values.</summary>
        Real,
        /// <summary>Values in [0.2, 3].</summary>
        Positive,
        /// <summary>Values with |v| in [0.1, 2], either sign.</summary>
        AwayFromZero,
        /// <summary>Values in [-0.4, 0.4].</summary>
        Small,
        /// <summary>Values in (-0.9, 0.9) (e.g. asin, atanh).</summary>
        OpenUnit,
        /// <summary>Values in [1.2, 4] (e.g. acosh).</summary>
        AboveOne,
        /// <summary>Values at least 0.15 away from every integer, in [-3, 3] (floor, round, ...).</summary>
        AwayFromIntegers,
        /// <summary>Values in [0.1, 0.9] (e.g. logit, erfinv on (0, 1)).</summary>
        UnitInterval,
    }

    /// <summary>A float64 tensor of <paramref name="shape"/> with values from <paramref name="domain"/>, seeded by <paramref name="seed"/>.</summary>
    public static Tensor Make(Domain domain, int seed, params int[] shape)
    {
        var g = new Generator(seed * 7919 + ShapeUtil.Numel(shape) + 17);
        var v = new double[ShapeUtil.Numel(shape)];
        for (int i = 0; i < v.Length; i++)
        {
            double u = g.NextDouble(), sign = g.NextDouble() < 0.5 ? -1 : 1;
            v[i] = domain switch
            {
                Domain.Real => Math.Sqrt(-2 * Math.Log(1 - u)) * Math.Cos(2 * Math.PI * g.NextDouble()),
                Domain.Positive => 0.2 + 2.8 * u,
                Domain.AwayFromZero => sign * (0.1 + 1.9 * u),
                Domain.Small => -0.4 + 0.8 * u,
                Domain.OpenUnit => -0.9 + 1.8 * u,
                Domain.AboveOne => 1.2 + 2.8 * u,
                Domain.AwayFromIntegers => Math.Floor(-3 + 6 * g.NextDouble()) + 0.15 + 0.7 * u,
                Domain.UnitInterval => 0.1 + 0.8 * u,
                _ => throw new ArgumentOutOfRangeException(nameof(domain)),
            };
        }
        return shape.Length == 0 ? Tensor.Scalar(v[0], DType.Float64) : Tensor.FromArray(v, shape); // FromArray without a shape makes [n]
    }

    /// <summary>Samples of an elementwise unary call: 0-d, [5], [3, 4], a transposed [4, 3] view, and an empty [0, 3].</summary>
    public static IEnumerable<OpSample> Unary(Func<Tensor, Tensor> f, Domain domain = Domain.Real, bool secondOrder = true)
    {
        Tensor Call(Tensor[] t) => f(t[0]);
        yield return new("0-d", [Make(domain, 1)], Call, secondOrder);
        yield return new("1-d", [Make(domain, 2, 5)], Call, secondOrder);
        yield return new("2-d", [Make(domain, 3, 3, 4)], Call, secondOrder);
        yield return new("noncontiguous", [Make(domain, 4, 3, 4).T], Call, secondOrder);
        yield return new("empty", [Make(domain, 5, 0, 3)], Call, secondOrder);
    }

    /// <summary>Samples of a broadcasting binary call: same shape, broadcast both ways, a 0-d operand, a
    /// transposed operand, two 0-d operands and empty operands.</summary>
    public static IEnumerable<OpSample> Binary(Func<Tensor, Tensor, Tensor> f, Domain aDomain = Domain.Real, Domain bDomain = Domain.Real, bool secondOrder = true)
    {
        Tensor Call(Tensor[] t) => f(t[0], t[1]);
        yield return new("same shape", [Make(aDomain, 1, 3, 4), Make(bDomain, 2, 3, 4)], Call, secondOrder);
        yield return new("broadcast", [Make(aDomain, 3, 3, 1), Make(bDomain, 4, 4)], Call, secondOrder);
        yield return new("0-d operand", [Make(aDomain, 5, 2, 3), Make(bDomain, 6)], Call, secondOrder);
        yield return new("noncontiguous", [Make(aDomain, 7, 4, 3).T, Make(bDomain, 8, 3, 4)], Call, secondOrder);
        yield return new("0-d", [Make(aDomain, 9), Make(bDomain, 10)], Call, secondOrder);
        yield return new("empty", [Make(aDomain, 11, 0, 3), Make(bDomain, 12, 1, 3)], Call, secondOrder);
    }
}
