namespace Fluxion.Tests;

/// <summary>
/// The linalg family beyond matmul (mm, bmm, mv, dot, inner, outer, add*, trace, kron, cross, block_diag, tensordot,
/// einsum, vecdot, multi_dot, norms, cov, corrcoef, vander, and the factorizations) against PyTorch
/// (golden/linalg_more.json, made by tests/golden/make_linalg_more.py): values and gradients.
/// </summary>
public class LinalgMoreTests
{
    /// <summary>The golden ops called through the registry (<see cref="RegistryCall"/>: the entry's public method, args bound by
    /// name), except these, which need a bespoke call: symmetric positive-definite or symmetric inputs built from the case's
    /// matrix (CholeskyUpper/Solve/Inverse, Eigh, Eigvalsh), outputs made gauge-invariant or given a zero-gradient path as PyTorch's (Svd, SvdFull,
    /// Eigh's vectors, Slogdet's sign, Lu's permutation, MatrixPower at n = 0), a part of a factorization (LuFactor, LuPivots,
    /// LuSolve), PyTorch's argument spellings that are not Fluxion's parameters (TriangularSolve's swapped operands,
    /// SolveTriangular's unit, Einsum's eq, TensordotPairs' a/b, MatrixNorm and Cond's ord strings, QrComplete,
    /// CrossFirst3 = torch.cross's deprecated default).</summary>
    private static readonly IReadOnlyDictionary<string, GoldenFamily.OpFn> Ops = GoldenFamily.FromRegistry("linalg_more", new Dictionary<string, GoldenFamily.OpFn>
    {
        ["CrossFirst3"] = (x, _, _) => [Tensor.CrossFirst3(x[0], x[1])],
        ["TensordotPairs"] = (x, a, _) => [Tensor.Tensordot(x[0], x[1], a.Ints("a")!, a.Ints("b")!)],
        ["Slogdet"] = (x, _, _) => { var (s, l) = Tensor.Slogdet(x[0]); return [s + l * 0, l]; /* the sign has no gradient (zero in PyTorch) */ },
        ["CholeskyUpper"] = (x, _, _) => [Tensor.Cholesky(Sym(x[0]) * 0.5, upper: true)],
        ["CholeskySolve"] = (x, _, _) => [Tensor.CholeskySolve(x[0], Tensor.Cholesky(Sym(x[1]) * 0.5))],
        ["CholeskyInverse"] = (x, _, _) => [Tensor.CholeskyInverse(Tensor.Cholesky(Sym(x[0]) * 0.5))],
        ["SolveTriangular"] = (x, a, _) => [Tensor.SolveTriangular(x[0], x[1], a.Bool("upper"), a.Bool("left"), a.Bool("unit"))],
        ["TriangularSolve"] = (x, _, _) => [Tensor.SolveTriangular(x[1].MT, x[0], upper: false)],
        ["QrComplete"] = (x, _, _) => { var (q, r) = Tensor.Qr(x[0], complete: true); return [q, r]; },
        ["Eigh"] = (x, _, _) => { var (l, v) = Tensor.Eigh(Sym(x[0])); return [l, v * v]; },
        ["Eigvalsh"] = (x, _, _) => [Tensor.Eigvalsh(Sym(x[0]))],
        ["Svd"] = (x, _, _) =>
        {
            var (u, s, vh) = Tensor.Svd(x[0], fullMatrices: false);
            return [s, u.MatMul(Tensor.DiagEmbed(s * s)).MatMul(vh), u * u, vh * vh];
        },
        ["SvdFull"] = (x, _, _) =>
        {
            var (u, s, vh) = Tensor.Svd(x[0]);
            return [s, u.MT.MatMul(u), vh.MT.MatMul(vh), u.Narrow(-1, 0, 3).MatMul(Tensor.DiagEmbed(s)).MatMul(vh.Narrow(-2, 0, 3))];
        },
        ["MatrixPower"] = (x, a, _) => [Tensor.MatrixPower(x[0], a.Int("n")) + x[0] * 0], // n = 0: the identity, gradient zero as in PyTorch
        ["MatrixNorm"] = (x, a, _) => [Tensor.MatrixNorm(x[0], Kind(a.String("ord")))],
        ["Einsum"] = (x, a, _) => [Tensor.Einsum(a.String("eq"), x)],
        ["LuFactor"] = (x, _, _) => [Tensor.LuFactor(x[0]).LU],
        ["LuPivots"] = (x, _, _) => [Tensor.LuFactor(x[0]).Pivots],
        ["Lu"] = (x, _, _) => { var (p, l, u) = Tensor.Lu(x[0]); return [p + l * 0, l, u]; }, // P is constant (zero gradient in PyTorch)
        ["LuSolve"] = (x, _, _) => { var (lu, piv) = Tensor.LuFactor(x[0]); return [Tensor.LuSolve(lu, piv, x[1])]; },
        ["Cond"] = (x, a, _) => [Tensor.Cond(x[0], Kind(a.String("ord")))],
    });

    private static Tensor Sym(Tensor a) => a + a.MT;

    private static MatrixNormKind Kind(string ord) => ord switch
    {
        "fro" => MatrixNormKind.Frobenius, "nuc" => MatrixNormKind.Nuclear, "1" => MatrixNormKind.One, "-1" => MatrixNormKind.NegOne,
        "2" => MatrixNormKind.Two, "-2" => MatrixNormKind.NegTwo, "inf" => MatrixNormKind.Inf, "-inf" => MatrixNormKind.NegInf,
        _ => throw new ArgumentException(ord),
    };

    public static IEnumerable<object[]> Cases() => GoldenFamily.Cases("linalg_more");

    [Fact]
    public void EveryGoldenOpIsMapped() => Assert.Empty(GoldenFamily.Unmapped("linalg_more", Ops));

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorch(string id) => GoldenFamily.Run(id, Ops);

    [Fact]
    public void AddmmWithBetaZeroIgnoresNaNInput()
    {
        var x = Tensor.Full([2, 2], double.NaN, DType.Float64);
        var m = Tensor.FromArray([1.0, 2, 3, 4], [2, 2]);
        Assert.Equal(new[] { 7.0, 10, 15, 22 }, Tensor.Addmm(x, m, m, beta: 0).ToDoubleArray());
    }

    [Fact]
    public void RepeatedSingularValues_ValuesGradientFine_VectorsGradientNonFinite()
    {
        // the identity has one repeated singular value: svdvals' gradient is U·Vh, but a loss reading U has an ill-defined
        // gradient, which (as in PyTorch) shows up as non-finite entries instead of an exception
        var a = Tensor.Eye(3, null, DType.Float64).RequiresGrad_();
        var g = Autograd.Grad([Tensor.Svdvals(a).Sum()], [a])[0]!;
        Assert.Equal(Tensor.Eye(3, null, DType.Float64).ToDoubleArray(), g.ToDoubleArray());
        var b = Tensor.Eye(3, null, DType.Float64).RequiresGrad_();
        var (u, _, _) = Tensor.Svd(b, fullMatrices: false);
        var gu = Autograd.Grad([(u * Tensor.FromArray([1.0, 2, 3, 4, 5, 6, 7, 8, 9], 3, 3)).Sum()], [b])[0]!;
        Assert.Contains(gu.ToDoubleArray(), v => !double.IsFinite(v));
    }

    [Fact]
    public void SingularAndIndefiniteInputsThrow()
    {
        var s = Tensor.FromArray([1.0, 2, 2, 4], 2, 2);
        Assert.Contains("singular", Assert.Throws<ArgumentException>(() => Tensor.Inv(s)).Message);
        Assert.Contains("positive-definite", Assert.Throws<ArgumentException>(() => Tensor.Cholesky(s * -1)).Message);
        Assert.Equal(1L, (long)Tensor.MatrixRank(s).ToDoubleArray()[0]);
    }

    [Fact]
    public void BadShapesThrowNamedErrors()
    {
        var a = Tensor.Randn(3, 4);
        Assert.Contains("Mm", Assert.Throws<ShapeMismatchException>(() => Tensor.Mm(a, a)).Message);
        Assert.Contains("Bmm", Assert.Throws<ShapeMismatchException>(() => Tensor.Bmm(a, a)).Message);
        Assert.Contains("Cross", Assert.Throws<ShapeMismatchException>(() => Tensor.Cross(a, a)).Message);
    }

    [Fact]
    public void RegistersTheTorchNames()
    {
        var names = OpRegistry.All.SelectMany(d => d.Torch).ToHashSet();
        foreach (var t in Registered)
            Assert.True(names.Contains(t), t);
    }

    internal static readonly string[] Registered =
    [
        "mm", "bmm", "mv", "dot", "vdot", "inner", "outer", "addmm", "addmv", "addr", "addbmm", "baddbmm", "trace", "kron",
        "cross", "linalg.cross", "block_diag", "tensordot", "linalg.vecdot", "linalg.multi_dot", "cov", "corrcoef", "linalg.vander",
        "linalg.inv", "linalg.det", "linalg.slogdet", "logdet", "linalg.solve", "linalg.solve_triangular", "triangular_solve",
        "linalg.cholesky", "cholesky", "cholesky_solve", "cholesky_inverse", "linalg.qr", "qr", "linalg.eigh", "linalg.eigvalsh",
        "linalg.svd", "svd", "linalg.svdvals", "linalg.pinv", "pinverse", "linalg.matrix_rank", "linalg.matrix_power", "matrix_exp",
        "linalg.lstsq", "linalg.tensorinv", "linalg.tensorsolve",
        "einsum", "linalg.lu_factor", "linalg.lu", "linalg.lu_solve", "linalg.vector_norm", "norm", "linalg.matrix_norm", "linalg.norm", "linalg.cond",
    ];
}
