#!/usr/bin/python3
"""Golden reference data for Fluxion's reduce/scan/sort ops (Scan.cs, Sort.cs, ReduceMore.cs), made with PyTorch.

Run with Debian's PyTorch (python3-torch):  /usr/bin/python3 tests/golden/make_scansort.py
It rewrites tests/golden/scansort.json (read by tests/Fluxion.Tests/ScanSortTests.cs).

Format: {"format": 1, "torch": version, "cases": [CASE, ...]} with
  CASE = {"name", "op", "args", "inputs": [TENSOR + {"grad": bool, "layout": "contiguous"|"transposed"}],
          "outputs": [TENSOR], "w": [TENSOR or null], "grads": [TENSOR or null]}
  TENSOR = {"shape", "dtype": "float32"|"float64"|"int64"|"bool", "data": [...]}: float numbers are written as
  shortest round-trip doubles (float32 values are exact doubles), non-finite ones as the strings "nan", "inf", "-inf".
  grads are d sum_k sum(outputs[k] * w[k]) / d input (w null for integer outputs and for ops without a gradient).
"""
import json
import math
import torch

torch.manual_seed(0)
G = torch.Generator().manual_seed(1234)
F32, F64 = torch.float32, torch.float64
NAN, INF = float("nan"), float("inf")
CASES = []


def enc(t):
    t = t.detach().contiguous()
    flat = t.reshape(-1).tolist()
    if t.dtype in (F32, F64):
        data = [("nan" if math.isnan(v) else "inf" if v == INF else "-inf" if v == -INF else float(v)) for v in flat]
    elif t.dtype == torch.bool:
        data = [1 if v else 0 for v in flat]
    else:
        data = [int(v) for v in flat]
    return {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""), "data": data}


def randn(*shape, dtype=F64):
    return torch.randn(shape, generator=G, dtype=F64).to(dtype)


def ints(lo, hi, *shape, dtype=F64):
    """Small integer values: many ties."""
    return torch.randint(lo, hi, shape, generator=G).to(dtype)


def case(name, op, fn, inputs, args=None, grad=True):
    """inputs: tensors, or (tensor, layout) pairs; float inputs take a gradient when grad is true."""
    ins = []
    for x in inputs:
        layout = "contiguous"
        if isinstance(x, tuple):
            x, layout = x
        ins.append((x, layout, grad and x.is_floating_point()))
    views, leaves = [], []
    for x, layout, g in ins:
        if layout == "transposed":
            leaf = x.mT.contiguous().requires_grad_(g)
            views.append(leaf.mT)
        else:
            leaf = x.clone().requires_grad_(g)
            views.append(leaf)
        leaves.append(leaf)
    outs = fn(*views)
    if isinstance(outs, torch.Tensor):
        outs = [outs]
    outs = list(outs)
    ws = [randn(*o.shape, dtype=o.dtype) if (grad and o.is_floating_point() and o.requires_grad) else None for o in outs]
    grads = [None] * len(ins)
    if any(w is not None for w in ws):
        loss = sum((o * w).sum() for o, w in zip(outs, ws) if w is not None)
        gs = torch.autograd.grad(loss, [l for l, (_, _, g) in zip(leaves, ins) if g], allow_unused=True)
        k = 0
        for i, (_, layout, g) in enumerate(ins):
            if g:
                gi = gs[k]
                k += 1
                if gi is None:
                    gi = torch.zeros_like(leaves[i])
                grads[i] = gi.mT if layout == "transposed" else gi
    CASES.append({
        "name": name, "op": op, "args": args or {},
        "inputs": [dict(enc(x), grad=g, layout=layout) for x, layout, g in ins],
        "outputs": [enc(o) for o in outs],
        "w": [None if w is None else enc(w) for w in ws],
        "grads": [None if g is None else enc(g) for g in grads],
    })


# ---- scans ------------------------------------------------------------------------------------
for dt in (F64, F32):
    s = "f64" if dt == F64 else "f32"
    case(f"Cumsum.dim1.{s}", "Cumsum", lambda x: torch.cumsum(x, 1), [randn(3, 5, dtype=dt)], {"dim": 1})
    case(f"Cumprod.dim0.{s}", "Cumprod", lambda x: torch.cumprod(x, 0), [randn(4, 3, dtype=dt)], {"dim": 0})
    case(f"LogCumSumExp.dim-1.{s}", "LogCumSumExp", lambda x: torch.logcumsumexp(x, -1), [randn(3, 6, dtype=dt) * 4], {"dim": -1})
case("Cumsum.long.f32", "Cumsum", lambda x: torch.cumsum(x, 0), [randn(3000, dtype=F32) + 0.3], {"dim": 0})
case("Cumsum.transposed", "Cumsum", lambda x: torch.cumsum(x, 0), [(randn(4, 3), "transposed")], {"dim": 0})
case("Cumsum.0d", "Cumsum", lambda x: torch.cumsum(x, 0), [randn()], {"dim": 0})
case("Cumsum.int64", "Cumsum", lambda x: torch.cumsum(x, 0), [ints(-5, 5, 6, dtype=torch.int64)], {"dim": 0})
case("Cumprod.zeros", "Cumprod", lambda x: torch.cumprod(x, 1),
     [torch.tensor([[0.7, -1.3, 0.0, 0.9, 1.1], [0.0, 1.4, 0.8, -0.6, 1.2], [1.5, 0.0, 2.0, 0.0, 0.5]], dtype=F64)], {"dim": 1})
case("Cumprod.3d", "Cumprod", lambda x: torch.cumprod(x, 1), [randn(2, 4, 3)], {"dim": 1})
for op, f in (("Cummax", torch.cummax), ("Cummin", torch.cummin)):
    case(f"{op}.ties", op, lambda x, f=f: f(x, 1), [ints(0, 3, 3, 7)], {"dim": 1})
    case(f"{op}.nan", op, lambda x, f=f: f(x, 0),
         [torch.tensor([1.0, 3.0, 3.0, NAN, 2.0, 3.0, NAN, 0.0], dtype=F64)], {"dim": 0})
    case(f"{op}.transposed", op, lambda x, f=f: f(x, 0), [(randn(5, 3), "transposed")], {"dim": 0})
case("LogCumSumExp.inf", "LogCumSumExp", lambda x: torch.logcumsumexp(x, 0),
     [torch.tensor([-INF, 0.0, -INF, 1000.0, 999.0], dtype=F64)], {"dim": 0}, grad=False)
case("LogCumSumExp.large", "LogCumSumExp", lambda x: torch.logcumsumexp(x, 1),
     [torch.tensor([[800.0, -700.0, 801.0], [1e-3, 2e-3, -5.0]], dtype=F64)], {"dim": 1})
case("Prod.all", "Prod", lambda x: torch.prod(x), [randn(3, 4)], {"dim": None, "keepdim": False})
case("Prod.dim.keepdim", "Prod", lambda x: torch.prod(x, 1, keepdim=True), [randn(3, 4)], {"dim": 1, "keepdim": True})
case("Prod.onezero", "Prod", lambda x: torch.prod(x, 1),
     [torch.tensor([[0.7, 0.0, 1.3, -0.9], [1.1, 0.8, 0.5, 2.0], [0.0, 1.0, 0.0, 3.0]], dtype=F64)], {"dim": 1, "keepdim": False})
case("Prod.allzero", "Prod", lambda x: torch.prod(x), [torch.tensor([2.0, 0.0, -3.0, 0.5], dtype=F64)], {"dim": None, "keepdim": False})
case("Prod.empty", "Prod", lambda x: torch.prod(x, 1), [randn(2, 0)], {"dim": 1, "keepdim": False})
case("Prod.int64", "Prod", lambda x: torch.prod(x, 0), [ints(-3, 4, 5, dtype=torch.int64)], {"dim": 0, "keepdim": False})

# ---- sorting and selection --------------------------------------------------------------------
x_nan = torch.tensor([1.0, 3.0, 3.0, NAN, 2.0, 3.0, NAN, 0.0, -1.0, 2.0], dtype=F64)
for desc in (False, True):
    d = "desc" if desc else "asc"
    case(f"Sort.ties.{d}", "Sort", lambda x, desc=desc: torch.sort(x, dim=1, descending=desc, stable=True), [ints(0, 4, 3, 9)], {"dim": 1, "descending": desc})
    case(f"Sort.nan.{d}", "Sort", lambda x, desc=desc: torch.sort(x, dim=0, descending=desc, stable=True), [x_nan], {"dim": 0, "descending": desc})
    case(f"Argsort.ties.{d}", "Argsort", lambda x, desc=desc: torch.sort(x, dim=0, descending=desc, stable=True).indices, [ints(0, 3, 8, 2)], {"dim": 0, "descending": desc})
case("Sort.transposed.f32", "Sort", lambda x: torch.sort(x, 0), [(randn(5, 3, dtype=F32), "transposed")], {"dim": 0, "descending": False})
case("Sort.0d", "Sort", lambda x: torch.sort(x, 0), [randn()], {"dim": 0, "descending": False})
case("Msort", "Msort", torch.msort, [randn(5, 3)])
case("Topk.largest", "Topk", lambda x: torch.topk(x, 3, 1), [randn(4, 7)], {"k": 3, "dim": 1, "largest": True})
case("Topk.smallest", "Topk", lambda x: torch.topk(x, 2, 0, largest=False), [randn(5, 3)], {"k": 2, "dim": 0, "largest": False})
case("Topk.nan", "Topk", lambda x: torch.topk(x, 4), [torch.tensor([1.0, NAN, 3.0, 2.0, -1.0, 4.0], dtype=F64)], {"k": 4, "dim": -1, "largest": True})
case("Topk.nan.smallest", "Topk", lambda x: torch.topk(x, 6, largest=False), [torch.tensor([1.0, NAN, 3.0, 2.0, -1.0, 4.0], dtype=F64)], {"k": 6, "dim": -1, "largest": False})
for k in (1, 3, 7, 12, 20):
    case(f"Kthvalue.ties.k{k}", "Kthvalue", lambda x, k=k: torch.kthvalue(x, k, 1), [ints(0, 5, 4, 20)], {"k": k, "dim": 1, "keepdim": False})
case("Kthvalue.nan", "Kthvalue", lambda x: torch.kthvalue(x, 9, 0), [x_nan], {"k": 9, "dim": 0, "keepdim": False})
case("Kthvalue.keepdim.transposed", "Kthvalue", lambda x: torch.kthvalue(x, 2, 0, keepdim=True), [(randn(5, 3), "transposed")], {"k": 2, "dim": 0, "keepdim": True})
case("Median.all.odd", "Median", lambda x: torch.median(x), [randn(3, 5)], {"dim": None, "keepdim": False})
case("Median.all.ties", "Median", lambda x: torch.median(x), [ints(0, 3, 10)], {"dim": None, "keepdim": False})
case("Median.all.nan", "Median", lambda x: torch.median(x), [x_nan], {"dim": None, "keepdim": False})
case("Median.dim.ties", "Median", lambda x: torch.median(x, 1), [ints(0, 4, 5, 8)], {"dim": 1, "keepdim": False})
case("Median.dim.nan", "Median", lambda x: torch.median(x, 0, keepdim=True), [x_nan], {"dim": 0, "keepdim": True})
case("Median.dim.transposed", "Median", lambda x: torch.median(x, 0), [(randn(6, 3), "transposed")], {"dim": 0, "keepdim": False})
case("Median.0d", "Median", lambda x: torch.median(x, 0), [randn()], {"dim": 0, "keepdim": False})
case("NanMedian.all.nan", "NanMedian", lambda x: torch.nanmedian(x), [x_nan], {"dim": None, "keepdim": False})
case("NanMedian.dim.nan", "NanMedian", lambda x: torch.nanmedian(x, 1),
     [torch.tensor([[1.0, NAN, 3.0, 2.0], [NAN, NAN, 5.0, -1.0], [2.0, 2.0, NAN, 2.0]], dtype=F64)], {"dim": 1, "keepdim": False})
case("NanMedian.dim.ties", "NanMedian", lambda x: torch.nanmedian(x, 1), [ints(0, 4, 5, 8)], {"dim": 1, "keepdim": False})
case("Mode.ties", "Mode", lambda x: torch.mode(x, 1), [ints(0, 4, 6, 9)], {"dim": 1, "keepdim": False})
case("Mode.dim0.keepdim", "Mode", lambda x: torch.mode(x, 0, keepdim=True), [ints(0, 3, 7, 3)], {"dim": 0, "keepdim": True})
case("Mode.nan", "Mode", lambda x: torch.mode(x, 1),
     [torch.tensor([[NAN, 1.0, NAN, 2.0], [NAN, NAN, 1.0, 1.0], [3.0, NAN, 3.0, NAN]], dtype=F64)], {"dim": 1, "keepdim": False})
for dt in (F64, F32):
    s = "f64" if dt == F64 else "f32"
    for interp in ("linear", "lower", "higher", "midpoint", "nearest"):
        case(f"Quantile.{interp}.{s}", "Quantile", lambda x, interp=interp, dt=dt: torch.quantile(x, torch.tensor([0.0, 0.25, 0.5, 0.8, 1.0], dtype=dt), 1, interpolation=interp),
             [randn(3, 7, dtype=dt)], {"q": [0.0, 0.25, 0.5, 0.8, 1.0], "dim": 1, "keepdim": False, "interpolation": interp})
case("Quantile.all.scalar", "Quantile", lambda x: torch.quantile(x, 0.3), [randn(4, 5)], {"q": 0.3, "dim": None, "keepdim": False, "interpolation": "linear"})
case("Quantile.all.keepdim", "Quantile", lambda x: torch.quantile(x, 0.6, keepdim=True), [randn(4, 5)], {"q": 0.6, "dim": None, "keepdim": True, "interpolation": "linear"})
case("Quantile.dim0.keepdim.transposed", "Quantile", lambda x: torch.quantile(x, torch.tensor([0.1, 0.9], dtype=F64), 0, keepdim=True),
     [(randn(6, 3), "transposed")], {"q": [0.1, 0.9], "dim": 0, "keepdim": True, "interpolation": "linear"})
case("Quantile.middle.dim", "Quantile", lambda x: torch.quantile(x, 0.35, 1), [randn(2, 5, 3)], {"q": 0.35, "dim": 1, "keepdim": False, "interpolation": "linear"})
case("Quantile.qgrad", "Quantile", lambda x, q: torch.quantile(x, q, 1), [randn(3, 6), torch.tensor([0.13, 0.52, 0.91], dtype=F64)],
     {"qinput": True, "dim": 1, "keepdim": False, "interpolation": "linear"})
x_nan2 = torch.tensor([[1.0, NAN, 3.0, 2.0, 0.5], [NAN, NAN, NAN, NAN, NAN], [2.0, -1.0, 4.0, 0.0, 3.0]], dtype=F64)
case("Quantile.nan", "Quantile", lambda x: torch.quantile(x, 0.4, 1), [x_nan2], {"q": 0.4, "dim": 1, "keepdim": False, "interpolation": "linear"})
case("NanQuantile.nan", "NanQuantile", lambda x: torch.nanquantile(x, torch.tensor([0.25, 0.75], dtype=F64), 1), [x_nan2],
     {"q": [0.25, 0.75], "dim": 1, "keepdim": False, "interpolation": "linear"})
case("NanQuantile.all", "NanQuantile", lambda x: torch.nanquantile(x, 0.5), [x_nan2], {"q": 0.5, "dim": None, "keepdim": False, "interpolation": "linear"})

# ---- reductions -------------------------------------------------------------------------------
case("Mean.dims.keepdim", "Mean", lambda x: torch.mean(x, (0, 2), keepdim=True), [randn(2, 3, 4)], {"dims": [0, 2], "keepdim": True})
case("Mean.empty", "Mean", lambda x: torch.mean(x, 0), [randn(0, 3)], {"dims": [0], "keepdim": False})
mixed = torch.tensor([[0.0, 1.5, NAN, 0.0], [2.0, 0.0, -0.0, 3.0], [0.0, 0.0, 0.0, 0.0]], dtype=F64)
for op, f in (("All", torch.all), ("Any", torch.any)):
    case(f"{op}.all", op, lambda x, f=f: f(x), [mixed], {"dim": None, "keepdim": False})
    case(f"{op}.dim", op, lambda x, f=f: f(x, 1), [mixed], {"dim": 1, "keepdim": False})
    case(f"{op}.dim0.keepdim", op, lambda x, f=f: f(x, 0, keepdim=True), [mixed], {"dim": 0, "keepdim": True})
    case(f"{op}.empty", op, lambda x, f=f: f(x), [randn(0, 2)], {"dim": None, "keepdim": False})
    case(f"{op}.bool", op, lambda x, f=f: f(x, 0), [torch.tensor([[True, False], [True, True]])], {"dim": 0, "keepdim": False})
case("CountNonzero.all", "CountNonzero", lambda x: torch.count_nonzero(x), [mixed], {"dims": None})
case("CountNonzero.dims", "CountNonzero", lambda x: torch.count_nonzero(x, (1,)), [mixed], {"dims": [1]})
case("NanSum.dim", "NanSum", lambda x: torch.nansum(x, 1), [x_nan2], {"dims": [1], "keepdim": False})
case("NanSum.all", "NanSum", lambda x: torch.nansum(x), [x_nan2], {"dims": None, "keepdim": False})
# (no row of NaNs only: there PyTorch's gradient is NaN (inf·0 in its backward), Fluxion's 0)
case("NanMean.dim", "NanMean", lambda x: torch.nanmean(x, 1, keepdim=True), [x_nan2[[0, 2]]], {"dims": [1], "keepdim": True})
case("StdMean.dim", "StdMean", lambda x: torch.std_mean(x, 1), [randn(3, 5)], {"dims": [1], "correction": 1, "keepdim": False})
case("VarMean.all", "VarMean", lambda x: torch.var_mean(x, unbiased=False), [randn(3, 5)], {"dims": None, "correction": 0, "keepdim": False})
case("Aminmax.all", "Aminmax", lambda x: torch.aminmax(x), [randn(3, 5)], {"dim": None, "keepdim": False}, grad=False)
case("Aminmax.dim", "Aminmax", lambda x: torch.aminmax(x, dim=0, keepdim=True), [x_nan2], {"dim": 0, "keepdim": True}, grad=False)
case("ArgMax.nan", "ArgMax", lambda x: torch.argmax(x, 1), [x_nan2], {"dim": 1, "keepdim": False})
case("ArgMin.nan", "ArgMin", lambda x: torch.argmin(x, 1), [x_nan2], {"dim": 1, "keepdim": False})

# ---- searching, counting, distinct values (not differentiable) -----------------------------------
bnd = torch.tensor([1.0, 3.0, 5.0, 7.0], dtype=F64)
vals = torch.tensor([[0.0, 1.0, 3.5, 7.0, 9.0, NAN], [5.0, 5.0, -1.0, 2.0, 8.0, 6.0]], dtype=F64)
for right in (False, True):
    r = "right" if right else "left"
    case(f"SearchSorted.1d.{r}", "SearchSorted", lambda s, v, right=right: torch.searchsorted(s, v, right=right), [bnd, vals], {"right": right})
    case(f"SearchSorted.rows.{r}", "SearchSorted", lambda s, v, right=right: torch.searchsorted(s, v, right=right),
         [torch.tensor([[1.0, 2.0, 3.0], [0.0, 5.0, NAN]], dtype=F64), torch.tensor([[2.0, 2.5], [5.0, NAN]], dtype=F64)], {"right": right})
    case(f"Bucketize.{r}", "Bucketize", lambda v, s, right=right: torch.bucketize(v, s, right=right), [vals, bnd], {"right": right})
unsorted = torch.tensor([5.0, 1.0, 3.0, 7.0, 3.0], dtype=F64)
case("SearchSorted.sorter", "SearchSorted", lambda s, v, o: torch.searchsorted(s, v, sorter=o),
     [unsorted, torch.tensor([3.0, 0.0, 6.0, 7.0], dtype=F64), torch.argsort(unsorted)], {"right": False})
case("SearchSorted.int64", "SearchSorted", lambda s, v: torch.searchsorted(s, v, right=True),
     [torch.tensor([1, 3, 3, 8]), torch.tensor([[3, 0], [9, 4]])], {"right": True})
bc = torch.tensor([0, 1, 1, 3, 5, 1])
case("Bincount.plain", "Bincount", lambda x: torch.bincount(x), [bc], {"minlength": 0})
case("Bincount.minlength", "Bincount", lambda x: torch.bincount(x, minlength=9), [bc], {"minlength": 9})
case("Bincount.weights", "Bincount", lambda x, w: torch.bincount(x, w), [bc, randn(6)], {"minlength": 0}, grad=False)
case("Bincount.empty", "Bincount", lambda x: torch.bincount(x), [torch.tensor([], dtype=torch.int64)], {"minlength": 0})
# (no NaN: PyTorch 1.13 counts a NaN in the first bin, Fluxion does not count it)
hx = torch.tensor([1.0, 2.0, 1.0, 4.0, 2.5, -0.5, 10.0, 0.0, 3.0, 1.5], dtype=F64)
case("Histc.range", "Histc", lambda x: torch.histc(x, bins=4, min=0, max=3), [hx], {"bins": 4, "min": 0, "max": 3}, grad=False)
case("Histc.auto.f32", "Histc", lambda x: torch.histc(x, bins=7), [randn(50, dtype=F32)], {"bins": 7, "min": 0, "max": 0}, grad=False)
case("Histc.single", "Histc", lambda x: torch.histc(x, bins=3), [torch.tensor([2.0, 2.0], dtype=F64)], {"bins": 3, "min": 0, "max": 0}, grad=False)
case("Histc.edges", "Histc", lambda x: torch.histc(x, bins=10, min=0, max=1),
     [torch.linspace(0, 1, 41, dtype=F64)], {"bins": 10, "min": 0, "max": 1}, grad=False)
def uniq(x, dim=None):
    return torch.unique(x, sorted=True, return_inverse=True, return_counts=True, dim=dim)
case("Unique.flat", "Unique", uniq, [ints(0, 6, 3, 5)], {"dim": None}, grad=False)
case("Unique.int64", "Unique", uniq, [ints(-3, 3, 10, dtype=torch.int64)], {"dim": None}, grad=False)
case("Unique.dim0", "Unique", lambda x: uniq(x, 0), [torch.tensor([[1, 2], [1, 2], [0, 5], [1, 1]], dtype=F64)], {"dim": 0}, grad=False)
case("Unique.dim1", "Unique", lambda x: uniq(x, 1), [torch.tensor([[1, 2, 1], [3, 0, 3]])], {"dim": 1}, grad=False)
def uc(x, dim=None):
    return torch.unique_consecutive(x, return_inverse=True, return_counts=True, dim=dim)
case("UniqueConsecutive.flat", "UniqueConsecutive", uc, [torch.tensor([1.0, 1.0, 2.0, 2.0, 3.0, 1.0, 1.0, NAN, NAN], dtype=F64)], {"dim": None}, grad=False)
case("UniqueConsecutive.2d", "UniqueConsecutive", uc, [ints(0, 2, 3, 4)], {"dim": None}, grad=False)
case("UniqueConsecutive.dim0", "UniqueConsecutive", lambda x: uc(x, 0), [torch.tensor([[1, 2], [1, 2], [0, 5], [1, 2]])], {"dim": 0}, grad=False)

# ---- differences and integrals ----------------------------------------------------------------
case("Diff.default", "Diff", lambda x: torch.diff(x), [randn(3, 5)], {"n": 1, "dim": -1})
case("Diff.n2.dim0.transposed", "Diff", lambda x: torch.diff(x, n=2, dim=0), [(randn(5, 3), "transposed")], {"n": 2, "dim": 0})
case("Diff.prepend.append", "Diff", lambda x, p, a: torch.diff(x, n=2, dim=1, prepend=p, append=a), [randn(2, 3), randn(2, 1), randn(2, 2)], {"n": 2, "dim": 1})
case("Diff.pastlength", "Diff", lambda x: torch.diff(x, n=5), [randn(2, 3)], {"n": 5, "dim": -1})
case("Trapezoid.dx", "Trapezoid", lambda y: torch.trapezoid(y, dx=0.5, dim=0), [randn(4, 3)], {"dx": 0.5, "dim": 0})
case("Trapezoid.x1d", "Trapezoid", lambda y, x: torch.trapezoid(y, x), [randn(2, 5), torch.tensor([0.0, 0.5, 1.5, 1.7, 3.0], dtype=F64)], {"dim": -1})
case("Trapezoid.xfull", "Trapezoid", lambda y, x: torch.trapezoid(y, x, dim=0), [randn(4, 3), randn(4, 3)], {"dim": 0})
case("Trapz.dx", "Trapz", lambda y: torch.trapz(y, dx=2.0), [randn(3, 4)], {"dx": 2.0, "dim": -1})
case("CumulativeTrapezoid.dx", "CumulativeTrapezoid", lambda y: torch.cumulative_trapezoid(y, dx=0.3), [randn(2, 6)], {"dx": 0.3, "dim": -1})
case("CumulativeTrapezoid.x", "CumulativeTrapezoid", lambda y, x: torch.cumulative_trapezoid(y, x, dim=0), [randn(4, 2), torch.tensor([0.0, 1.0, 1.5, 4.0], dtype=F64)], {"dim": 0})
case("Histogram.range.weight.density", "Histogram", lambda x, w: torch.histogram(x, bins=4, range=(0.0, 3.0), weight=w, density=True),
     [torch.tensor([1.0, 2.0, 1.0, 4.0, 0.0, 3.0, 2.9], dtype=F64), torch.tensor([1.0, 2.0, 3.0, 4.0, 0.5, 1.5, 2.5], dtype=F64)], {"bins": 4, "range": [0.0, 3.0], "density": True}, grad=False)
case("Histogram.auto.f32", "Histogram", lambda x: torch.histogram(x, bins=6), [randn(40, dtype=F32)], {"bins": 6, "range": None, "density": False}, grad=False)
case("Histogram.single", "Histogram", lambda x: torch.histogram(x, bins=3), [torch.tensor([2.0, 2.0], dtype=F64)], {"bins": 3, "range": None, "density": False}, grad=False)
case("Histogram.edges", "Histogram", lambda x, e: torch.histogram(x, bins=e), [torch.tensor([1.0, 2.0, 1.0, 4.0, 2.5, -1.0], dtype=F64), torch.tensor([0.0, 1.0, 2.5, 4.0], dtype=F64)], {"bins": None}, grad=False)

# ---- norms ------------------------------------------------------------------------------------
zrow = torch.tensor([[0.0, 0.0, 0.0], [1.0, -2.0, 2.0], [3.0, -3.0, 1.0]], dtype=F64)
for p in (2, 1, 3, 1.5, 0.5, 0, INF, -INF):
    name = {INF: "inf", -INF: "-inf"}.get(p, str(p))
    case(f"Norm.p{name}.dim1", "Norm", lambda x, p=p: torch.norm(x, p, 1), [randn(3, 4) if p in (0.5, -INF) else zrow], {"p": p if math.isfinite(p) else str(p), "dims": [1], "keepdim": False})
case("Norm.fro.all.f32", "Norm", lambda x: torch.norm(x), [randn(3, 4, dtype=F32)], {"p": 2, "dims": None, "keepdim": False})
case("Norm.dims.keepdim", "Norm", lambda x: torch.norm(x, 3, (0, 2), keepdim=True), [randn(2, 3, 2)], {"p": 3, "dims": [0, 2], "keepdim": True})
case("Dist.p2", "Dist", lambda a, b: torch.dist(a, b), [randn(3, 4), randn(4)], {"p": 2})
case("Dist.pinf", "Dist", lambda a, b: torch.dist(a, b, INF), [randn(3, 4), randn(3, 4)], {"p": "inf"})
case("Renorm.dim0", "Renorm", lambda x: torch.renorm(x, 2, 0, 1.5), [randn(3, 4)], {"p": 2, "dim": 0, "maxnorm": 1.5})
case("Renorm.dim1.p1", "Renorm", lambda x: torch.renorm(x, 1, 1, 1.0), [randn(3, 4)], {"p": 1, "dim": 1, "maxnorm": 1.0})

case("Gradient.all", "Gradient", lambda x: torch.gradient(x), [randn(4, 5)], {"spacing": [1.0, 1.0], "dims": None, "edge_order": 1})
case("Gradient.dim1.order2", "Gradient", lambda x: torch.gradient(x, spacing=0.5, dim=1, edge_order=2), [randn(3, 4)], {"spacing": [0.5], "dims": [1], "edge_order": 2})
case("Gradient.two.spacings.transposed", "Gradient", lambda x: torch.gradient(x, spacing=[2.0, 0.25]), [(randn(3, 4), "transposed")], {"spacing": [2.0, 0.25], "dims": None, "edge_order": 1})

cx = torch.tensor([0.0, 0.5, 1.5, 1.75, 3.0], dtype=F64)
case("Gradient.coords.order1", "Gradient", lambda x: torch.gradient(x, spacing=[cx], dim=1), [randn(3, 5)], {"coordinates": [cx.tolist()], "dims": [1], "edge_order": 1})
case("Gradient.coords.order2", "Gradient", lambda x: torch.gradient(x, spacing=[cx, torch.tensor([1.0, 1.5, 3.0], dtype=F64)], dim=[1, 0], edge_order=2),
     [randn(3, 5)], {"coordinates": [cx.tolist(), [1.0, 1.5, 3.0]], "dims": [1, 0], "edge_order": 2})

with open(__file__.replace("make_scansort.py", "scansort.json"), "w") as f:
    f.write('{"format":1,"torch":' + json.dumps(torch.__version__) + ',"cases":[\n')
    f.write(",\n".join(json.dumps(c, separators=(",", ":")) for c in CASES))
    f.write("\n]}\n")
print(len(CASES), "cases")
