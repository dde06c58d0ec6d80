#!/usr/bin/python3
"""Golden reference data for the linalg family beyond matmul (linalg_more.json), computed with PyTorch.

Run with Debian's PyTorch (python3-torch):  /usr/bin/python3 tests/golden/make_linalg_more.py
Same format as make_golden.py (whose header documents it); read by tests/Fluxion.Tests/LinalgMoreTests.cs.
Each case's "op" names the Fluxion call (see the Ops table in LinalgMoreTests.cs), "args" its attributes.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
import make_golden as g  # noqa: E402
from make_golden import F32, F64, In, S, T, ng, randn, positive  # noqa: E402

L = "linalg_more"

# non-finite values (which JSON lacks) are written as the strings "NaN", "Infinity", "-Infinity" (as make_binary.py)
_tensor_json = g.tensor_json
_NONFINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _tensor_json_nonfinite(x):
    r = _tensor_json(x)
    r["data"] = [_NONFINITE.get(v.text, v) if isinstance(v, g.Num) else v for v in r["data"]]
    return r


g.tensor_json = _tensor_json_nonfinite


def case(name, op, fn, inputs, args=None):
    g.case(L, name, op, fn, inputs, args)


def spd(n, dtype=F64, batch=()):
    a = randn(*batch, n, n, dtype=dtype)
    return a @ a.transpose(-1, -2) + n * torch.eye(n, dtype=dtype)


def well(n, dtype=F64, batch=()):
    return randn(*batch, n, n, dtype=dtype) + 3 * torch.eye(n, dtype=dtype)


def products():
    for dt, sfx in ((F32, ""), (F64, ".f64")):
        case("Mm" + sfx, "Mm", torch.mm, [randn(3, 4, dtype=dt), T(randn(4, 2, dtype=dt))])
        case("Bmm" + sfx, "Bmm", torch.bmm, [randn(2, 3, 4, dtype=dt), randn(2, 4, 5, dtype=dt)])
        case("Mv" + sfx, "Mv", torch.mv, [randn(3, 4, dtype=dt), S(randn(4, 2, dtype=dt)[:, 0].contiguous())])
        case("Dot" + sfx, "Dot", torch.dot, [randn(6, dtype=dt), randn(6, dtype=dt)])
        case("Vdot" + sfx, "Vdot", torch.vdot, [randn(6, dtype=dt), randn(6, dtype=dt)])
        case("Inner" + sfx, "Inner", torch.inner, [randn(2, 3, 4, dtype=dt), randn(5, 4, dtype=dt)])
        case("Outer" + sfx, "Outer", torch.outer, [randn(3, dtype=dt), randn(4, dtype=dt)])
        case("Kron" + sfx, "Kron", torch.kron, [randn(2, 3, dtype=dt), randn(2, 2, 2, dtype=dt)])
        case("Trace" + sfx, "Trace", torch.trace, [randn(3, 5, dtype=dt)])
    case("Inner.scalar", "Inner", torch.inner, [randn(), randn(2, 3)])
    for beta, alpha in ((1.0, 1.0), (0.5, -2.0), (0.0, 1.5)):
        a = {"beta": beta, "alpha": alpha}
        case(f"Addmm.{beta}.{alpha}", "Addmm", lambda x, m1, m2: torch.addmm(x, m1, m2, **a), [randn(4), randn(3, 5), randn(5, 4)], a)
        case(f"Addmv.{beta}.{alpha}", "Addmv", lambda x, m, v: torch.addmv(x, m, v, **a), [randn(3, dtype=F64), randn(3, 5, dtype=F64), randn(5, dtype=F64)], a)
        case(f"Addr.{beta}.{alpha}", "Addr", lambda x, u, v: torch.addr(x, u, v, **a), [randn(3, 1), randn(3), randn(4)], a)
        case(f"Addbmm.{beta}.{alpha}", "Addbmm", lambda x, b1, b2: torch.addbmm(x, b1, b2, **a), [randn(3, 4), randn(2, 3, 5), randn(2, 5, 4)], a)
        case(f"Baddbmm.{beta}.{alpha}", "Baddbmm", lambda x, b1, b2: torch.baddbmm(x, b1, b2, **a), [randn(1, 3, 4, dtype=F64), randn(2, 3, 5, dtype=F64), randn(2, 5, 4, dtype=F64)], a)
    case("Cross.dim", "Cross", lambda a, b: torch.linalg.cross(a, b, dim=0), [randn(3, 4), randn(3, 4)], {"dim": 0})
    case("Cross.bcast", "Cross", lambda a, b: torch.linalg.cross(a, b), [randn(2, 1, 3, dtype=F64), randn(1, 4, 3, dtype=F64)], {"dim": -1})
    case("CrossFirst3", "CrossFirst3", lambda a, b: torch.cross(a, b), [randn(2, 3, 3), randn(2, 3, 3)])
    case("BlockDiag", "BlockDiag", lambda *t: torch.block_diag(*t), [randn(2, 3), randn(), randn(4), randn(3, 1)])
    case("Tensordot.2", "Tensordot", lambda a, b: torch.tensordot(a, b, 2), [randn(2, 3, 4), randn(3, 4, 5)], {"dims": 2})
    case("Tensordot.pairs", "TensordotPairs", lambda a, b: torch.tensordot(a, b, ([0, 2], [2, 0])), [randn(3, 2, 4, dtype=F64), randn(4, 5, 3, dtype=F64)], {"a": [0, 2], "b": [2, 0]})
    case("Vecdot", "Vecdot", lambda a, b: torch.linalg.vecdot(a, b, dim=0), [randn(3, 2), randn(3, 1)], {"dim": 0})
    case("MultiDot.vecs", "MultiDot", lambda *t: torch.linalg.multi_dot(t), [randn(4, dtype=F64), randn(4, 2, dtype=F64), randn(2, 6, dtype=F64), randn(6, 3, dtype=F64), randn(3, dtype=F64)])
    case("MultiDot.mats", "MultiDot", lambda *t: torch.linalg.multi_dot(t), [randn(2, 6), randn(6, 2), randn(2, 5)])
    case("Cov", "Cov", lambda x: torch.cov(x), [randn(3, 7, dtype=F64)], {"correction": 1})
    case("Cov.c0", "Cov", lambda x: torch.cov(x, correction=0), [randn(5)], {"correction": 0})
    case("Corrcoef", "Corrcoef", torch.corrcoef, [randn(4, 6, dtype=F64)])
    case("Vander", "Vander", lambda x: torch.linalg.vander(x), [randn(4, dtype=F64)])
    case("Vander.N", "Vander", lambda x: torch.linalg.vander(x, N=5), [randn(2, 3)], {"N": 5})


def sym(a):
    return a + a.transpose(-1, -2)


def more():
    for dt, sfx in ((F64, ""), (F32, ".f32")):
        case("Inv" + sfx, "Inv", torch.linalg.inv, [well(4, dt, (2,))])
        case("Det" + sfx, "Det", torch.linalg.det, [well(3, dt, (2,))])
        case("Slogdet" + sfx, "Slogdet", lambda a: torch.linalg.slogdet(a), [-well(3, dt)])
        case("Solve" + sfx, "Solve", torch.linalg.solve, [well(3, dt, (2,)), randn(2, 3, 2, dtype=dt)])
        case("Cholesky" + sfx, "Cholesky", lambda a: torch.linalg.cholesky(sym(a) / 2), [spd(4, dt, (2,))])
        case("Qr" + sfx, "Qr", lambda a: torch.linalg.qr(a), [randn(5, 3, dtype=dt)])
        case("Eigh" + sfx, "Eigh", lambda a: (lambda l, v: (l, v * v))(*torch.linalg.eigh(sym(a))), [randn(2, 4, 4, dtype=dt)])
        case("Svd" + sfx, "Svd", lambda a: (lambda u, s, vh: (s, u @ torch.diag_embed(s * s) @ vh, u * u, vh * vh))(*torch.linalg.svd(a, full_matrices=False)), [randn(4, 3, dtype=dt)])
    case("Solve.vec", "Solve", torch.linalg.solve, [well(3, F64, (2,)), randn(2, 3, dtype=F64)])
    case("Solve.bcast", "Solve", torch.linalg.solve, [well(3, F64), randn(2, 3, 4, dtype=F64)])
    case("Logdet", "Logdet", torch.logdet, [well(3, F64, (2,))])
    case("Logdet.neg", "Logdet", torch.logdet, [ng(-well(3, F64))])
    case("Det.singular", "Det", torch.linalg.det, [ng(torch.tensor([[1.0, 2.0], [2.0, 4.0]], dtype=F64))])
    case("Cholesky.upper", "CholeskyUpper", lambda a: torch.cholesky(sym(a) / 2, upper=True), [spd(3, F64)])
    case("CholeskySolve", "CholeskySolve", lambda b, a: torch.cholesky_solve(b, torch.linalg.cholesky(sym(a) / 2)), [randn(3, 2, dtype=F64), spd(3, F64)])
    case("CholeskyInverse", "CholeskyInverse", lambda a: torch.cholesky_inverse(torch.linalg.cholesky(sym(a) / 2)), [spd(3, F64)])
    for upper in (False, True):
        for left in (False, True):
            for unit in (False, True):
                a = {"upper": upper, "left": left, "unit": unit}
                b = randn(3, 2, dtype=F64) if left else randn(2, 3, dtype=F64)
                case(f"SolveTriangular.{upper}.{left}.{unit}", "SolveTriangular",
                     lambda t, x, a=a: torch.linalg.solve_triangular(t, x, upper=a["upper"], left=a["left"], unitriangular=a["unit"]), [well(3, F64), b], a)
    case("TriangularSolve", "TriangularSolve", lambda b, t: torch.triangular_solve(b, t, upper=True, transpose=True)[0], [randn(3, 2, dtype=F64), well(3, F64)])
    case("Qr.wide_values", "Qr", lambda a: torch.linalg.qr(a), [ng(randn(3, 5, dtype=F64))])
    case("Qr.complete", "QrComplete", lambda a: torch.linalg.qr(a, mode="complete"), [ng(randn(4, 2, dtype=F64))])
    case("Eigvalsh", "Eigvalsh", lambda a: torch.linalg.eigvalsh(sym(a)), [randn(3, 5, 5, dtype=F64)])
    case("Svdvals", "Svdvals", torch.linalg.svdvals, [randn(2, 3, 5, dtype=F64)])
    case("Svd.wide", "Svd", lambda a: (lambda u, s, vh: (s, u @ torch.diag_embed(s * s) @ vh, u * u, vh * vh))(*torch.linalg.svd(a, full_matrices=False)), [randn(2, 3, 5, dtype=F64)])
    case("Svd.full", "SvdFull", lambda a: (lambda u, s, vh: (s, u.mT @ u, vh.mT @ vh, (u[:, :3] @ torch.diag(s) @ vh[:3]))) (*torch.linalg.svd(a)), [ng(randn(5, 3, dtype=F64))])
    case("Pinv", "Pinv", torch.linalg.pinv, [randn(4, 3, dtype=F64)])
    case("Pinv.rankdef", "Pinv", torch.linalg.pinv, [ng(torch.tensor([[1.0, 2.0], [2.0, 4.0], [0.0, 0.0]], dtype=F64))])
    case("Pinverse", "Pinv", torch.pinverse, [randn(2, 5, dtype=F64)])
    case("MatrixRank", "MatrixRank", torch.linalg.matrix_rank, [ng(torch.tensor([[[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 1.0, 0.0]], [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]], dtype=F64))])
    for p in (0, 1, 3, -2):
        case(f"MatrixPower.{p}", "MatrixPower", lambda a, p=p: torch.linalg.matrix_power(a, p), [well(3, F64, (2,)) * 0.5], {"n": p})
    case("MatrixExp", "MatrixExp", torch.matrix_exp, [randn(3, 3, dtype=F64)])
    case("MatrixExp.big", "MatrixExp", torch.matrix_exp, [randn(2, 4, 4, dtype=F64) * 4])
    case("MatrixExp.f32", "MatrixExp", torch.matrix_exp, [randn(3, 3)])
    case("Lstsq", "Lstsq", lambda a, b: torch.linalg.lstsq(a, b).solution, [randn(5, 3, dtype=F64), randn(5, 2, dtype=F64)])
    case("Tensorinv", "Tensorinv", lambda a: torch.linalg.tensorinv(a, ind=1), [well(4, F64).reshape(4, 2, 2)], {"ind": 1})
    case("Tensorsolve", "Tensorsolve", torch.linalg.tensorsolve, [well(6, F64).reshape(2, 3, 6), randn(2, 3, dtype=F64)])

    inf = float("inf")
    for o in (2, 1, 3, 0.5, inf, -inf, 0):
        case(f"VectorNorm.{o}", "VectorNorm", lambda x, o=o: torch.linalg.vector_norm(x, ord=o), [randn(3, 4, dtype=F64) if o != 0 else ng(randn(3, 4, dtype=F64))], {"ord": o if o not in (inf, -inf) else str(o)})
    case("VectorNorm.dim", "VectorNorm", lambda x: torch.linalg.vector_norm(x, ord=3, dim=(0, 2), keepdim=True), [randn(2, 3, 4)], {"ord": 3, "dims": [0, 2], "keepdim": True})
    case("VectorNorm.zero", "VectorNorm", lambda x: torch.linalg.vector_norm(x, dim=1), [torch.tensor([[0.0, 0.0], [3.0, 4.0]], dtype=F64)], {"ord": 2, "dims": [1]})
    case("Norm.p", "Norm", lambda x: torch.norm(x, p=3, dim=1), [randn(3, 4)], {"ord": 3, "dims": [1]})
    for o in ("fro", "nuc", 1, -1, 2, -2, inf, -inf):
        case(f"MatrixNorm.{o}", "MatrixNorm", lambda x, o=o: torch.linalg.matrix_norm(x, ord=o), [randn(2, 3, 4, dtype=F64)], {"ord": str(o)})
    case("LinalgNorm.none", "LinalgNorm", lambda x: torch.linalg.norm(x), [randn(2, 3, 4, dtype=F64)], {})
    case("LinalgNorm.vec", "LinalgNorm", lambda x: torch.linalg.norm(x, ord=3), [randn(5, dtype=F64)], {"ord": 3})
    case("LinalgNorm.mat", "LinalgNorm", lambda x: torch.linalg.norm(x, ord=-1), [randn(3, 4, dtype=F64)], {"ord": -1})
    case("Cond", "Cond", lambda x: torch.linalg.cond(x), [randn(2, 3, 3, dtype=F64)], {"ord": "2"})
    # (torch 1.13's cond(ord='fro') backward fails with an in-place error: values only; gradients by the sweep)
    case("Cond.fro", "Cond", lambda x: torch.linalg.cond(x, "fro"), [ng(well(3, F64))], {"ord": "fro"})

    es = [
        ("ij,jk->ik", [(3, 4), (4, 2)]), ("ii->i", [(3, 3)]), ("ii", [(4, 4)]), ("ij->", [(2, 3)]), ("ij->ji", [(2, 3)]),
        ("bij,bkj->bik", [(2, 3, 4), (2, 5, 4)]), ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]), ("i,j->ij", [(3,), (4,)]),
        ("ab,bc,cd,d->a", [(2, 3), (3, 4), (4, 2), (2,)]), ("iij,k", [(3, 3, 2), (4,)]), ("ba,ca", [(2, 3), (4, 3)]),
        ("i...->...", [(3, 2, 2)]), ("ijk,ikj->i", [(2, 3, 3), (2, 3, 3)]), ("Ab,bA->A", [(3, 2), (2, 3)]),
        ("ij,ij,ij->i", [(2, 3), (2, 3), (2, 3)]), ("i,i->", [(5,), (5,)]), ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),
    ]
    for k, (e, shapes) in enumerate(es):
        case(f"Einsum.{k}", "Einsum", lambda *t, e=e: torch.einsum(e, *t), [randn(*sh, dtype=F64) for sh in shapes], {"eq": e})
    case("Einsum.f32", "Einsum", lambda a, b: torch.einsum("ij,kj->ik", a, b), [T(randn(3, 4)), randn(2, 4)], {"eq": "ij,kj->ik"})

    case("LuFactor", "LuFactor", lambda a: torch.linalg.lu_factor(a).LU, [randn(2, 4, 4, dtype=F64)])
    case("LuFactor.f32", "LuFactor", lambda a: torch.linalg.lu_factor(a).LU, [randn(3, 3)])
    case("LuPivots", "LuPivots", lambda a: torch.linalg.lu_factor(a).pivots.to(torch.int64), [ng(randn(2, 4, 4, dtype=F64))])
    case("Lu", "Lu", lambda a: torch.linalg.lu(a), [randn(4, 4, dtype=F64)])
    case("LuSolve", "LuSolve", lambda a, b: torch.linalg.lu_solve(*torch.linalg.lu_factor(a), b), [well(3, F64, (2,)), randn(2, 3, 2, dtype=F64)])


def main():
    g._gen.manual_seed(1700)
    products()
    if "more" in globals():
        globals()["more"]()
    g.write_family(L)


if __name__ == "__main__":
    main()
