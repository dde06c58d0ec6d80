#!/usr/bin/python3
"""Golden values for the shape/index/creation ops of ShapeMore.cs, IndexMore.cs and CreationMore.cs.

Run: /usr/bin/python3 tests/golden/make_shape_more.py  (rewrites tests/golden/shape_more.json).
Format: {"torch": version, "cases": [{"name", "inputs": [T], "output": T, "w": T|null, "grads": [T|null]}]}
with T = {"shape", "dtype", "data"} (row-major logical data). Inputs are float64 leaves (grad taken) or
int64/bool tensors (no grad); loss = sum(output * w) for floating outputs. Tuple outputs are concatenated
flattened (as the C# side does). The C# test (ShapeMoreTests.cs) maps each name to the same Fluxion call.
"""
import json
import torch

torch.manual_seed(0)
g = torch.Generator().manual_seed(1234)


def rn(*shape):
    return torch.randn(tuple(shape), generator=g, dtype=torch.float64)


def T(t):
    t = t.detach()
    dt = {torch.float64: "float64", torch.float32: "float32", torch.int64: "int64", torch.bool: "bool"}[t.dtype]
    data = t.reshape(-1).tolist()
    if dt == "bool":
        data = [int(v) for v in data]
    if dt in ("float64", "float32"):
        data = [v if v == v and abs(v) != float("inf") else str(v) for v in data]
    return {"shape": list(t.shape), "dtype": dt, "data": data}


def flat(ts):
    return torch.cat([t.reshape(-1) for t in ts])


cases = []


def case(name, inputs, fn):
    ins = [x.clone().requires_grad_(x.dtype == torch.float64) for x in inputs]
    out = fn(*ins)
    if isinstance(out, (tuple, list)):
        out = flat(out)
    rec = {"name": name, "inputs": [T(x) for x in ins], "output": T(out), "w": None, "grads": [None] * len(ins)}
    if out.dtype == torch.float64 and out.requires_grad:
        w = rn(*out.shape)
        (out * w).sum().backward()
        rec["w"] = T(w)
        rec["grads"] = [T(x.grad) if x.grad is not None else (T(torch.zeros_like(x)) if x.requires_grad else None) for x in ins]
    cases.append(rec)


i64 = lambda *v: torch.tensor(v, dtype=torch.int64)

# shape
case("flip", [rn(2, 3, 4)], lambda x: x.flip(0, 2))
case("fliplr", [rn(3, 4)], lambda x: torch.fliplr(x))
case("flipud", [rn(3, 4)], lambda x: torch.flipud(x))
case("roll", [rn(3, 4)], lambda x: torch.roll(x, (1, -5), (0, 1)))
case("roll_flat", [rn(3, 4)], lambda x: torch.roll(x, 5))
case("rot90_1", [rn(3, 4)], lambda x: torch.rot90(x))
case("rot90_3", [rn(2, 3, 4)], lambda x: torch.rot90(x, 3, (2, 0)))
case("repeat", [rn(2, 3)], lambda x: x.repeat(2, 1, 3))
case("tile", [rn(2, 3)], lambda x: x.tile((2,)))
case("tril", [rn(2, 3, 4)], lambda x: x.tril(1))
case("triu", [rn(4, 3)], lambda x: x.triu(-1))
case("movedim", [rn(2, 3, 4, 5)], lambda x: torch.movedim(x, (0, 3), (2, 0)))
case("diagonal", [rn(3, 4)], lambda x: torch.diagonal(x, 1))
case("diagonal_neg", [rn(2, 5, 3)], lambda x: torch.diagonal(x, -2, 1, 2))
case("diagonal_dims", [rn(3, 2, 4)], lambda x: torch.diagonal(x, 0, 2, 0))
case("diagonal_empty", [rn(3, 4)], lambda x: torch.diagonal(x, 5))
case("diag_embed", [rn(2, 3)], lambda x: torch.diag_embed(x, 1, 0, 2))
case("diag_vec", [rn(3)], lambda x: torch.diag(x, -1))
case("diag_mat", [rn(3, 4)], lambda x: torch.diag(x, 2))
case("diagflat", [rn(2, 2)], lambda x: torch.diagflat(x, -1))
case("diagonal_scatter", [rn(3, 4), rn(3)], lambda x, s: torch.diagonal_scatter(x, s, 1))
case("diagonal_scatter_dims", [rn(4, 2, 3), rn(2, 3)], lambda x, s: torch.diagonal_scatter(x, s, -1, 0, 2))
case("select_scatter", [rn(3, 4), rn(3)], lambda x, s: torch.select_scatter(x, s, 1, -1))
case("atleast_3d_1", [rn(3)], lambda x: torch.atleast_3d(x))
case("atleast_3d_2", [rn(2, 3)], lambda x: torch.atleast_3d(x))
case("atleast_2d", [rn(3)], lambda x: torch.atleast_2d(x))
case("hstack", [rn(2, 3), rn(2, 1)], lambda a, b: torch.hstack((a, b)))
case("vstack", [rn(3), rn(2, 3)], lambda a, b: torch.vstack((a, b)))
case("dstack", [rn(3), rn(3)], lambda a, b: torch.dstack((a, b)))
case("column_stack", [rn(3), rn(3, 2)], lambda a, b: torch.column_stack((a, b)))
case("tensor_split_n", [rn(7, 2)], lambda x: torch.tensor_split(x, 3))
case("tensor_split_idx", [rn(2, 6)], lambda x: torch.tensor_split(x, [1, 4, 3, -1], 1))
case("hsplit", [rn(2, 4)], lambda x: torch.hsplit(x, 2))
case("vsplit", [rn(5, 2)], lambda x: torch.vsplit(x, [1, 3]))
case("dsplit", [rn(1, 2, 4)], lambda x: torch.dsplit(x, 2))
case("unflatten", [rn(2, 6)], lambda x: x.unflatten(1, (3, -1)))
case("ravel", [rn(3, 2).t()], lambda x: x.ravel())
case("constant_pad_nd", [rn(3, 4)], lambda x: torch.constant_pad_nd(x, [-1, 2, 1, 0], 0.5))
case("meshgrid_xy", [rn(3), rn(2)], lambda a, b: torch.stack(torch.meshgrid(a, b, indexing="xy")))
case("cartesian_prod", [rn(3), rn(2)], lambda a, b: torch.cartesian_prod(a, b))
case("combinations", [rn(4)], lambda x: torch.combinations(x, 3))
case("combinations_repl", [rn(3)], lambda x: torch.combinations(x, 2, with_replacement=True))
case("tril_indices", [], lambda: torch.tril_indices(3, 4, 1))
case("triu_indices", [], lambda: torch.triu_indices(4, 3, -1))
case("nonzero", [torch.tensor([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]], dtype=torch.float64)], lambda x: torch.nonzero(x.detach()))

# index
case("masked_select", [rn(3, 4), torch.tensor([True, False, True, True])], lambda x, m: torch.masked_select(x, m))
case("masked_scatter", [rn(3, 4), rn(10), torch.tensor([[True], [False], [True]])], lambda x, s, m: x.masked_scatter(m, s))
case("index_fill", [rn(3, 4), i64(0, -1, 0)], lambda x, i: x.index_fill(1, i, -1.5))
case("index_copy", [rn(3, 4), rn(3, 2), i64(3, 1)], lambda x, s, i: x.index_copy(1, i, s))
case("index_put", [rn(3, 4), rn(2), i64(0, 2), i64(1, -1)], lambda x, v, a, b: x.index_put((a, b), v))
case("index_put_acc", [rn(3, 4), rn(3, 4), i64(1, 0, 1)], lambda x, v, a: x.index_put((a,), v, accumulate=True))
case("index_put_bcast", [rn(3, 4), rn(4), i64(2, 0)], lambda x, v, a: x.index_put((a,), v))
case("index_put_mask", [rn(2, 3), rn(3), torch.tensor([[True, False, True], [False, False, True]])], lambda x, v, m: x.index_put((m,), v))
case("put", [rn(3, 4), rn(3), i64(0, -1, 5)], lambda x, s, i: x.put(i, s))
case("put_acc", [rn(2, 3), rn(2, 2), torch.tensor([[1, 1], [4, 0]])], lambda x, s, i: x.put(i, s, accumulate=True))
case("take", [rn(3, 4), torch.tensor([[0, 11], [-1, 5]])], lambda x, i: torch.take(x, i))
case("take_along_dim", [rn(3, 4), torch.tensor([[0, 3], [1, 2], [2, 0]])], lambda x, i: torch.take_along_dim(x, i, 1))
case("take_along_dim_bcast", [rn(2, 3, 1), torch.tensor([[[0, 0, 0, 0]]])], lambda x, i: torch.take_along_dim(x, i, 2))
case("take_along_dim_flat", [rn(2, 3), i64(5, 0)], lambda x, i: torch.take_along_dim(x, i))
SIDX = torch.tensor([[0, 2, 1, 0], [2, 2, 0, 1]])
case("scatter", [rn(3, 4), rn(2, 4), torch.tensor([[0, 2, 1, 0], [2, 1, 0, 1]])], lambda x, s, i: x.scatter(0, i, s))
case("scatter_value", [rn(3, 4), torch.tensor([[3], [0], [1]])], lambda x, i: x.scatter(1, i, 0.5))
RIDX = torch.tensor([[0, 2, 0, 0], [2, 2, 0, 1]])
for red in ["sum", "prod", "mean", "amax", "amin"]:
    for inc in [True, False]:
        case(f"scatter_reduce_{red}_{int(inc)}", [rn(3, 4), rn(2, 4), RIDX], lambda x, s, i, red=red, inc=inc: x.scatter_reduce(0, i, s, red, include_self=inc))
case("scatter_reduce_amax_ties", [torch.tensor([[1.0, 2.0], [3.0, 0.0]], dtype=torch.float64), torch.tensor([[1.0, 5.0], [1.0, 2.0]], dtype=torch.float64), torch.tensor([[0, 0], [0, 0]])],
     lambda x, s, i: x.scatter_reduce(0, i, s, "amax"))
case("scatter_reduce_prod_zero", [torch.tensor([[1.5, 0.0], [3.0, 2.0]], dtype=torch.float64), torch.tensor([[0.0, 5.0], [2.0, 2.0]], dtype=torch.float64), torch.tensor([[0, 0], [0, 0]])],
     lambda x, s, i: x.scatter_reduce(0, i, s, "prod"))
for red in ["prod", "mean", "amax", "amin"]:
    for inc in [True, False]:
        case(f"index_reduce_{red}_{int(inc)}", [rn(3, 4), rn(3, 3), i64(0, 2, 0)], lambda x, s, i, red=red, inc=inc: x.index_reduce(1, i, s, red, include_self=inc))
case("isin", [torch.tensor([1.0, float("nan"), -0.0, 3.0], dtype=torch.float64), torch.tensor([0.0, 3.0, float("nan")], dtype=torch.float64)], lambda a, b: torch.isin(a.detach(), b.detach()))
case("isin_invert", [i64(1, 5, 2), i64(2, 7)], lambda a, b: torch.isin(a, b, invert=True))
case("repeat_interleave", [rn(3, 2), i64(1, 0, 3)], lambda x, r: x.repeat_interleave(r, 0))
case("repeat_interleave_flat", [rn(2, 2)], lambda x: x.repeat_interleave(2))
case("repeat_interleave_idx", [i64(2, 0, 1)], lambda r: torch.repeat_interleave(r))
case("unfold", [rn(3, 7)], lambda x: x.unfold(1, 3, 2))
case("unfold_0d", [rn()], lambda x: x.unfold(0, 1, 1))


# native norms (the statistics take no gradient)
case("native_layer_norm", [rn(3, 2, 4), rn(4), rn(4)], lambda x, w, b: torch.native_layer_norm(x, [4], w, b, 1e-5))
case("native_layer_norm_2d", [rn(2, 2, 3)], lambda x: torch.native_layer_norm(x, [2, 3], None, None, 1e-5))
RM = {}
def nbn(x, w, b):
    rm = torch.zeros(2, dtype=torch.float64); rv = torch.ones(2, dtype=torch.float64)
    o = torch.native_batch_norm(x, w, b, rm, rv, True, 0.1, 1e-5)
    return list(o) + [rm, rv]
case("native_batch_norm", [rn(3, 2, 4), rn(2), rn(2)], nbn)
case("native_batch_norm_eval", [rn(3, 2)], lambda x: torch.native_batch_norm(x, None, None, torch.full((2,), 0.5, dtype=torch.float64), torch.full((2,), 2.0, dtype=torch.float64), False, 0.1, 1e-5))

with open(__file__.rsplit("/", 1)[0] + "/shape_more.json", "w") as f:
    json.dump({"torch": torch.__version__, "cases": cases}, f, separators=(",", ":"))
print(len(cases), "cases")
