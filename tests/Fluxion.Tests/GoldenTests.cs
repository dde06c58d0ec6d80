namespace Fluxion.Tests;

/// <summary>
/// Compares every primitive's outputs and input gradients with PyTorch (golden/*.json, made by
/// tests/golden/make_golden.py). The gradient is of loss = sum_k sum(out_k * w_k) for the stored w.
/// </summary>
public class GoldenTests
{
    private delegate Tensor[] OpFn(Tensor[] x, GoldenArgs a);

    private static OpFn One(Func<Tensor[], GoldenArgs, Tensor> f) => (x, a) => [f(x, a)];

    private static OpFn Unary(Func<Tensor, Tensor> f) => (x, _) => [f(x[0])];

    private static Tensor[] Pair((Tensor Values, Tensor Indices) r) => [r.Values, r.Indices];

    private static OpFn Binary(Func<Tensor, Tensor, Tensor> f) => (x, _) => [f(x[0], x[1])];

    /// <summary>Fluxion op name (as in the data files) -> the call under test.</summary>
    private static readonly Dictionary<string, OpFn> Ops = new()
    {
        // elementwise
        ["Add"] = Binary(Tensor.Add),
        ["Sub"] = Binary(Tensor.Sub),
        ["Mul"] = Binary(Tensor.Mul),
        ["Div"] = Binary(Tensor.Div),
        ["Pow"] = Binary(Tensor.Pow),
        ["Maximum"] = Binary(Tensor.Maximum),
        ["Minimum"] = Binary(Tensor.Minimum),
        ["Remainder"] = Binary(Tensor.Remainder),
        ["PowScalar"] = One((x, a) => x[0].Pow(a.Double("exponent"))),
        ["RemainderScalar"] = One((x, a) => x[0].Remainder(a.Double("divisor"))),
        ["Neg"] = Unary(t => t.Neg()),
        ["Exp"] = Unary(t => t.Exp()),
        ["Log"] = Unary(t => t.Log()),
        ["Sqrt"] = Unary(t => t.Sqrt()),
        ["Rsqrt"] = Unary(t => t.Rsqrt()),
        ["Abs"] = Unary(t => t.Abs()),
        ["Sign"] = Unary(t => t.Sign()),
        ["Sin"] = Unary(t => t.Sin()),
        ["Cos"] = Unary(t => t.Cos()),
        ["Tanh"] = Unary(t => t.Tanh()),
        ["Sigmoid"] = Unary(t => t.Sigmoid()),
        ["Relu"] = Unary(t => t.Relu()),
        ["Erf"] = Unary(t => t.Erf()),
        ["LeakyRelu"] = One((x, a) => x[0].LeakyRelu(a.Double("negative_slope"))),
        ["Gelu"] = One((x, a) => x[0].Gelu(a.String("approximate") == "tanh" ? GeluApproximation.Tanh : GeluApproximation.None)),
        ["Softplus"] = One((x, a) => x[0].Softplus(a.Double("beta"), a.Double("threshold"))),
        ["Clamp"] = One((x, a) => x[0].Clamp(a.DoubleOrNull("min"), a.DoubleOrNull("max"))),
        ["Where"] = One((x, _) => Tensor.Where(x[0], x[1], x[2])),
        // reductions
        ["Sum"] = One((x, a) => x[0].Sum(a.Ints("dims"), a.Bool("keepdim"))),
        ["Mean"] = One((x, a) => x[0].Mean(a.Ints("dims"), a.Bool("keepdim"))),
        ["Max"] = (x, a) => a.IntOrNull("dim") is int d ? Pair(x[0].Max(d, a.Bool("keepdim"))) : [x[0].Max()],
        ["Min"] = (x, a) => a.IntOrNull("dim") is int d ? Pair(x[0].Min(d, a.Bool("keepdim"))) : [x[0].Min()],
        ["Amax"] = One((x, a) => x[0].Amax(a.Ints("dims"), a.Bool("keepdim"))),
        ["Amin"] = One((x, a) => x[0].Amin(a.Ints("dims"), a.Bool("keepdim"))),
        ["ArgMax"] = One((x, a) => x[0].ArgMax(a.IntOrNull("dim"), a.Bool("keepdim"))),
        ["ArgMin"] = One((x, a) => x[0].ArgMin(a.IntOrNull("dim"), a.Bool("keepdim"))),
        ["Var"] = One((x, a) => x[0].Var(a.Ints("dims"), a.Int("correction"), a.Bool("keepdim"))),
        ["Std"] = One((x, a) => x[0].Std(a.Ints("dims"), a.Int("correction"), a.Bool("keepdim"))),
        ["LogSumExp"] = One((x, a) => a.Ints("dims")! is [int d] ? x[0].LogSumExp(d, a.Bool("keepdim")) : x[0].LogSumExp(a.Ints("dims")!, a.Bool("keepdim"))),
        // nn
        ["Softmax"] = One((x, a) => x[0].Softmax(a.Int("dim"))),
        ["LogSoftmax"] = One((x, a) => x[0].LogSoftmax(a.Int("dim"))),
        ["Cdist"] = One((x, a) => a.Double("p") == 2 ? Tensor.Cdist(x[0], x[1]) : throw new NotSupportedException("Cdist: only p = 2")),
        // linear algebra
        ["MatMul"] = Binary(Tensor.MatMul),
        // shape
        ["Reshape"] = One((x, a) => x[0].Reshape(a.Ints("shape")!)),
        ["Permute"] = One((x, a) => x[0].Permute(a.Ints("dims")!)),
        ["Expand"] = One((x, a) => x[0].Expand(a.Ints("shape")!)),
        ["Slice"] = One((x, a) => x[0].Slice(a.Int("dim"), a.IntOrNull("start"), a.IntOrNull("end"), a.Int("step"))),
        ["Cat"] = One((x, a) => Tensor.Cat(x, a.Int("dim"))),
        ["Stack"] = One((x, a) => Tensor.Stack(x, a.Int("dim"))),
        // indexing
        ["Gather"] = One((x, a) => x[0].Gather(a.Int("dim"), x[1])),
        ["IndexSelect"] = One((x, a) => x[0].IndexSelect(a.Int("dim"), x[1])),
        ["ScatterAdd"] = One((x, a) => x[0].ScatterAdd(a.Int("dim"), x[1], x[2])),
        ["IndexAdd"] = One((x, a) => x[0].IndexAdd(a.Int("dim"), x[1], x[2], a.Double("alpha"))),
        ["MaskedFill"] = One((x, a) => x[0].MaskedFill(x[1], a.Double("value"))),
    };

    /// <summary>Ids of all golden cases whose op has a mapping above.</summary>
    public static IEnumerable<object[]> Cases() =>
        Golden.All().Where(c => Ops.ContainsKey(c.Op)).Select(c => new object[] { c.Id });

    [Fact]
    public void EveryGoldenOpIsMapped()
    {
        var unmapped = Golden.All().Select(c => c.Op).Distinct().Where(op => !Ops.ContainsKey(op)).ToList();
        Assert.True(unmapped.Count == 0, "golden ops without a C# call in GoldenTests.Ops: " + string.Join(", ", unmapped));
    }

    /// <summary><see cref="Ops"/> in the shared runner's form (no gradient redirection).</summary>
    private static readonly Dictionary<string, GoldenFamily.OpFn> RunnerOps =
        Ops.ToDictionary(kv => kv.Key, kv => (GoldenFamily.OpFn)((x, a, _) => kv.Value(x, a)));

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorch(string id) => GoldenFamily.Run(id, RunnerOps);
}
