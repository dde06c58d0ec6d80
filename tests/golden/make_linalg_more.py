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


def main():
    g._gen.manual_seed(1700)
    products()
    if "more" in globals():
        globals()["more"]()
    cases = g.FAMILIES[L]
    path = os.path.join(g.OUT_DIR, L + ".json")
    head = {"format": 1, "family": L, "torch": torch.__version__}
    text = g.dump(head)[:-1] + ',"cases":[\n' + ",\n".join(g.dump(c) for c in cases) + "\n]}\n"
    import json
    json.loads(text)
    with open(path, "w") as fh:
        fh.write(text)
    print(f"{path}: {len(cases)} cases, {len(text)} bytes")


if __name__ == "__main__":
    main()
