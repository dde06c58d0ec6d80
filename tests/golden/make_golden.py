#!/usr/bin/python3
"""Golden reference data for Fluxion's primitives, computed with PyTorch.

Run with Debian's PyTorch (python3-torch):  /usr/bin/python3 tests/golden/make_golden.py
It rewrites tests/golden/<family>.json. The files are committed; the C# tests
(tests/Fluxion.Tests/GoldenTests.cs) read them, so CI never needs Python.
The output is deterministic (fixed seeds, CPU, single thread).

FORMAT (one JSON file per op family: elementwise, reduce, linalg, shape, index, nn, losses, attention)

  {
    "format": 1,
    "family": "elementwise",
    "torch": "<torch version that made the file>",
    "cases": [ CASE, ... ]
  }

  CASE = {
    "name":    unique id, "<Op>.<variant>",
    "op":      the Fluxion op name (Add, PowScalar, Max, MatMul, Gather, ...),
    "dtype":   "float32" or "float64" (the floating dtype the case runs in),
    "args":    op parameters (dim, dims, keepdim, exponent, ...; null = not given), see below,
    "inputs":  [ TENSOR + {"grad": bool, "layout": LAYOUT}, ... ]   positional op inputs,
    "outputs": [ TENSOR, ... ]      the op's outputs (e.g. Max over a dim: values, indices),
    "w":       [ TENSOR or null ]   one per output; the fixed random weights of the loss
                                    (null for integer outputs, which take no part in it),
    "grads":   [ TENSOR or null ]   one per input: d loss / d input, where
                                    loss = sum_k sum(outputs[k] * w[k]); null when "grad" is false.
  }
  TENSOR = {"shape": [d0, d1, ...], "dtype": "float32"|"float64"|"int64"|"bool",
            "data": [ ...row-major elements of the LOGICAL tensor... ]}
            float32 numbers are written in the shortest form that round-trips as float32
            (parse them as float32), float64 as shortest round-trip doubles, bool as 0/1.

  LAYOUT says how the input tensor is laid out in memory (the data is always logical row-major):
    "contiguous" - a plain contiguous tensor (the leaf is the input itself);
    "transposed" - the leaf is a contiguous tensor whose last two dims are swapped, and the input
                   is its transpose view leaf.mT (non-contiguous); grads are reported for the view,
                   i.e. compare leaf.grad.mT;
    "strided"    - the leaf has its last dim doubled and the input is the view leaf[..., ::2]
                   (odd positions hold arbitrary filler); compare leaf.grad[..., ::2] (the odd
                   positions of leaf.grad must be 0).

  args by op (PyTorch call in brackets):
    PowScalar {exponent}                 [x ** exponent]
    RemainderScalar {divisor}            [torch.remainder(x, divisor)]
    LeakyRelu {negative_slope}           Gelu {approximate: "none"|"tanh"}
    Softplus {beta, threshold}           Clamp {min, max}  (either may be null)
    Sum, Mean {dims (null = all), keepdim}
    Var, Std {dims (null = all), correction, keepdim}
    LogSumExp {dims (list), keepdim}
    Max, Min {dim, keepdim}: dim null = full reduction to a 0-d tensor (one output);
                             otherwise two outputs (values, int64 indices)
    ArgMax {dim (null = flattened), keepdim}
    Reshape {shape}  Permute {dims}  Expand {shape}  Slice {dim, start, end, step}
    Cat, Stack {dim} (inputs = the tensors)
    Gather {dim} inputs (x, index)       IndexSelect {dim} inputs (x, index)
    ScatterAdd {dim} inputs (x, index, src)      [x.scatter_add(dim, index, src)]
    IndexAdd {dim, alpha} inputs (x, index, source)   [x.index_add(dim, index, source, alpha=alpha)]
    MaskedFill {value} inputs (x, mask)  [x.masked_fill(mask, value)]
    Amax, Amin {dims (null = all), keepdim}      ArgMin {dim, keepdim} (as ArgMax)
    Softmax, LogSoftmax {dim}            Cdist {p} inputs (x1, x2)
    Unary/binary elementwise ops, Where (cond, a, b) and MatMul take no args.

LAYERS FAMILY (layers.json): the same case format, but "op" names a layer (PyTorch module) and
  the case runs the module itself:
    inputs  = [x_1 .. x_steps, p_1 .. p_m]: the data fed to forward() in turn (only the last one takes a
              gradient), then the values of the parameters/buffers named args["params"] (in that order),
              copied into the module before the first forward;
    args    = the module's constructor arguments by PyTorch name (kernel_size, stride, ... as lists or
              ints), plus "params" (names of p_1..p_m), "train" (training mode), "steps" (number of
              forward calls) and "buffers" (names of buffers reported after the last step);
    outputs = [y of the last forward call, then the buffers named in args["buffers"]];
    w       = [weights for y, null for each buffer];
    grads   = d sum(y * w) / d input for x_steps and every parameter (null for buffers and earlier x).

Inputs are seeded and kept away from kinks and discontinuities (|x| >= 0.1 for Abs/Relu/...,
positive bases for Log/Sqrt/Pow, no ties for Max/Min), except a few cases named "*.kink*" / "*.tie*"
that pin PyTorch's subgradient conventions with exactly representable values.
"""

import json
import math
import os
import sys

import torch

torch.manual_seed(0)
torch.set_num_threads(1)

OUT_DIR = os.path.dirname(os.path.abspath(__file__))
F32, F64 = torch.float32, torch.float64
DT_NAME = {torch.float32: "float32", torch.float64: "float64", torch.int64: "int64", torch.bool: "bool"}

_gen = torch.Generator().manual_seed(1234)


# ---- number formatting ------------------------------------------------------------------------

class Num:
    """A float already formatted as the exact JSON text to emit."""

    def __init__(self, text):
        self.text = text


def _fmt32(v):
    s = repr(float(v))
    # shortest representation that round-trips as float32
    for digits in range(6, 10):
        t = "%.*g" % (digits, v)
        if torch.tensor(float(t), dtype=F32).item() == v:
            s = t
            break
    return s


def tensor_json(t):
    t = t.detach().contiguous()
    dt = t.dtype
    flat = t.reshape(-1).tolist()
    if dt == F32:
        data = [Num(_fmt32(v)) for v in flat]
    elif dt == F64:
        data = [Num(repr(float(v))) for v in flat]
    elif dt == torch.int64:
        data = [int(v) for v in flat]
    elif dt == torch.bool:
        data = [1 if v else 0 for v in flat]
    else:
        raise ValueError(dt)
    return {"shape": list(t.shape), "dtype": DT_NAME[dt], "data": data}


def dump(obj):
    """Compact JSON with pre-formatted numbers; one case per line."""
    if isinstance(obj, Num):
        return obj.text
    if isinstance(obj, dict):
        return "{" + ",".join(json.dumps(k) + ":" + dump(v) for k, v in obj.items()) + "}"
    if isinstance(obj, (list, tuple)):
        return "[" + ",".join(dump(v) for v in obj) + "]"
    if isinstance(obj, float):
        return repr(obj)
    return json.dumps(obj)


# ---- input builders ---------------------------------------------------------------------------

def randn(*shape, dtype=F32, scale=1.0):
    return (torch.randn(shape, generator=_gen, dtype=F64) * scale).to(dtype)


def uniform(lo, hi, *shape, dtype=F32):
    return (torch.rand(shape, generator=_gen, dtype=F64) * (hi - lo) + lo).to(dtype)


def away(*shape, dtype=F32, gap=0.1, scale=1.5):
    """Random values with |x| >= gap (away from the kink at 0)."""
    u = torch.rand(shape, generator=_gen, dtype=F64) * 2 - 1
    return (torch.sign(u) * (gap + u.abs() * scale)).to(dtype)


def positive(*shape, dtype=F32, lo=0.5, hi=3.0):
    return uniform(lo, hi, *shape, dtype=dtype)


def distinct(*shape, dtype=F32):
    """Values without ties (gaps >= 0.05): a random permutation of a spread grid."""
    n = 1
    for s in shape:
        n *= s
    perm = torch.randperm(n, generator=_gen).to(F64)
    return ((perm - n / 2) * 0.37 + torch.rand(n, generator=_gen, dtype=F64) * 0.1).reshape(shape).to(dtype)


def index(high, *shape):
    return torch.randint(0, high, shape, generator=_gen, dtype=torch.int64)


class In:
    """A case input: logical value, whether it takes a gradient, and its memory layout."""

    def __init__(self, value, grad=True, layout="contiguous"):
        if not value.is_floating_point():
            grad = False
        self.value, self.grad, self.layout = value, grad, layout

    def materialize(self):
        """The tensor the op sees (a view of a leaf for non-contiguous layouts)."""
        v = self.value
        if self.layout == "contiguous":
            leaf = v.clone().requires_grad_(self.grad)
            return leaf, leaf
        if self.layout == "transposed":
            leaf = v.mT.contiguous().requires_grad_(self.grad)
            view = leaf.mT
            assert not view.is_contiguous() or v.shape[-1] == 1 or v.shape[-2] == 1
            return leaf, view
        if self.layout == "strided":
            shape = list(v.shape)
            shape[-1] *= 2
            base = torch.full(shape, 7.25, dtype=v.dtype)
            base[..., ::2] = v
            leaf = base.requires_grad_(self.grad)
            return leaf, leaf[..., ::2]
        raise ValueError(self.layout)


def T(value):
    return In(value, layout="transposed")


def S(value):
    return In(value, layout="strided")


def ng(value):
    return In(value, grad=False)


# ---- case recording ---------------------------------------------------------------------------

FAMILIES = {}


def case(family, name, op, fn, inputs, args=None):
    inputs = [x if isinstance(x, In) else In(x) for x in inputs]
    float_dtypes = {x.value.dtype for x in inputs if x.value.is_floating_point()}
    assert len(float_dtypes) == 1, (name, float_dtypes)
    dtype = float_dtypes.pop()
    views = []
    for x in inputs:
        _, view = x.materialize()
        views.append(view)
    outs = fn(*views)
    if isinstance(outs, torch.Tensor):
        outs = [outs]
    outs = list(outs)
    ws = []
    loss = None
    for o in outs:
        if o.is_floating_point():
            w = randn(*o.shape, dtype=o.dtype)
            ws.append(w)
            term = (o * w).sum()
            loss = term if loss is None else loss + term
        else:
            ws.append(None)
    if loss is None:  # no floating output (ArgMax): nothing to differentiate
        for x in inputs:
            x.grad = False
    grads = [None] * len(inputs)
    want = [i for i, x in enumerate(inputs) if x.grad]
    if want and loss is not None and loss.requires_grad:
        gs = torch.autograd.grad(loss, [views[i] for i in want], allow_unused=True)
        for i, g in zip(want, gs):
            grads[i] = torch.zeros_like(inputs[i].value) if g is None else g
    else:
        for i in want:
            grads[i] = torch.zeros_like(inputs[i].value)
    entry = {
        "name": name,
        "op": op,
        "dtype": DT_NAME[dtype],
        "args": args or {},
        "inputs": [dict(tensor_json(x.value), grad=x.grad, layout=x.layout) for x in inputs],
        "outputs": [tensor_json(o) for o in outs],
        "w": [None if w is None else tensor_json(w) for w in ws],
        "grads": [None if g is None else tensor_json(g) for g in grads],
    }
    cases = FAMILIES.setdefault(family, [])
    assert all(c["name"] != name for c in cases), name
    cases.append(entry)


# ---- elementwise ------------------------------------------------------------------------------

def elementwise():
    E = "elementwise"
    binary = {
        "Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": torch.div,
        "Maximum": torch.maximum, "Minimum": torch.minimum,
    }
    for op, f in binary.items():
        b_gen = (lambda *s, dtype=F32: away(*s, dtype=dtype, gap=0.5)) if op == "Div" else randn
        case(E, f"{op}.same", op, f, [randn(3, 4), b_gen(3, 4)])
        case(E, f"{op}.bcast_row", op, f, [randn(3, 4), b_gen(4)])
        case(E, f"{op}.bcast_both", op, f, [randn(2, 1, 4), b_gen(3, 1)])
        case(E, f"{op}.scalar_tensor", op, f, [randn(3, 4), b_gen()])
        case(E, f"{op}.noncontig", op, f, [T(randn(4, 3)), S(b_gen(4, 3))])
    case(E, "Add.f64", "Add", torch.add, [randn(2, 3, dtype=F64), randn(3, dtype=F64)])
    case(E, "Mul.f64", "Mul", torch.mul, [randn(2, 3, dtype=F64), randn(2, 1, dtype=F64)])
    case(E, "Div.f64", "Div", torch.div, [randn(2, 3, dtype=F64), away(3, dtype=F64, gap=0.5)])
    # ties: PyTorch splits the gradient evenly between equal operands
    tie_a = torch.tensor([[1.0, -2.0, 0.5], [3.0, 0.25, -1.0]])
    tie_b = torch.tensor([[1.0, -1.0, 0.5], [2.0, 0.25, -1.5]])
    case(E, "Maximum.tie", "Maximum", torch.maximum, [tie_a, tie_b])
    case(E, "Minimum.tie", "Minimum", torch.minimum, [tie_a.clone(), tie_b.clone()])

    # Remainder: Python-style (result has the sign of the divisor); keep a/b away from integers
    def rem_inputs(shape_a, shape_b, dtype=F32):
        b = away(*shape_b, dtype=F64, gap=0.5, scale=1.5)
        q = torch.floor(uniform(-4, 4, *torch.broadcast_shapes(shape_a, shape_b), dtype=F64))
        frac = uniform(0.15, 0.85, *q.shape, dtype=F64)
        a = (q + frac) * b
        # reduce a back to shape_a when b broadcasts over it (a must not be broadcast)
        assert tuple(a.shape) == tuple(shape_a)
        return a.to(dtype), b.to(dtype)

    a, b = rem_inputs((3, 4), (3, 4))
    case(E, "Remainder.same", "Remainder", torch.remainder, [a, b])
    a, b = rem_inputs((3, 4), (4,))
    case(E, "Remainder.bcast", "Remainder", torch.remainder, [a, b])
    a, b = rem_inputs((3, 4), (3, 4), dtype=F64)
    case(E, "Remainder.f64", "Remainder", torch.remainder, [a, b])
    for d in (1.5, -0.75):
        x = uniform(-4, 4, 3, 4, dtype=F64)
        q = torch.floor(x)
        x = ((q + 0.15 + (x - q) * 0.7) * d).to(F32)
        case(E, f"RemainderScalar.d{d}", "RemainderScalar", lambda t, d=d: torch.remainder(t, d), [x], {"divisor": d})

    # Pow with a tensor exponent (positive bases)
    case(E, "Pow.same", "Pow", torch.pow, [positive(3, 4), randn(3, 4)])
    case(E, "Pow.bcast", "Pow", torch.pow, [positive(2, 3, 4), randn(4)])
    case(E, "Pow.noncontig", "Pow", torch.pow, [T(positive(4, 3)), randn(4, 3)])
    case(E, "Pow.f64", "Pow", torch.pow, [positive(3, 4, dtype=F64), randn(3, 4, dtype=F64)])
    # Pow with a scalar exponent
    for e in (2.0, 3.0, -1.0):  # integer exponents: any sign of base (away from 0)
        case(E, f"PowScalar.e{e}", "PowScalar", lambda t, e=e: t ** e, [away(3, 4, gap=0.3)], {"exponent": e})
    for e in (0.5, -1.5, 2.5):
        case(E, f"PowScalar.e{e}", "PowScalar", lambda t, e=e: t ** e, [positive(3, 4)], {"exponent": e})
    case(E, "PowScalar.e0", "PowScalar", lambda t: t ** 0.0, [away(3, 4)], {"exponent": 0.0})
    case(E, "PowScalar.f64", "PowScalar", lambda t: t ** 1.7, [positive(3, 4, dtype=F64)], {"exponent": 1.7})

    unary = [
        ("Neg", torch.neg, randn),
        ("Exp", torch.exp, randn),
        ("Log", torch.log, positive),
        ("Sqrt", torch.sqrt, positive),
        ("Rsqrt", torch.rsqrt, positive),
        ("Abs", torch.abs, away),
        ("Sign", torch.sign, away),
        ("Sin", torch.sin, lambda *s, dtype=F32: randn(*s, dtype=dtype, scale=2.0)),
        ("Cos", torch.cos, lambda *s, dtype=F32: randn(*s, dtype=dtype, scale=2.0)),
        ("Tanh", torch.tanh, randn),
        ("Sigmoid", torch.sigmoid, lambda *s, dtype=F32: randn(*s, dtype=dtype, scale=2.0)),
        ("Relu", torch.relu, away),
        ("Erf", torch.erf, lambda *s, dtype=F32: randn(*s, dtype=dtype, scale=1.2)),
    ]
    for op, f, gen in unary:
        case(E, f"{op}.basic", op, f, [gen(3, 5)])
        case(E, f"{op}.noncontig", op, f, [T(gen(4, 3))])
    for op, f, gen in unary:
        if op in ("Exp", "Log", "Tanh", "Sigmoid", "Erf", "Sin", "Rsqrt"):
            case(E, f"{op}.f64", op, f, [gen(2, 5, dtype=F64)])

    F = torch.nn.functional
    case(E, "LeakyRelu.default", "LeakyRelu", F.leaky_relu, [away(3, 5)], {"negative_slope": 0.01})
    case(E, "LeakyRelu.slope0.2", "LeakyRelu", lambda t: F.leaky_relu(t, 0.2), [S(away(3, 4))], {"negative_slope": 0.2})
    for approx in ("none", "tanh"):
        case(E, f"Gelu.{approx}", "Gelu", lambda t, a=approx: F.gelu(t, approximate=a),
             [randn(3, 5, scale=2.0)], {"approximate": approx})
        case(E, f"Gelu.{approx}.noncontig", "Gelu", lambda t, a=approx: F.gelu(t, approximate=a),
             [T(randn(4, 3, scale=2.0))], {"approximate": approx})
        case(E, f"Gelu.{approx}.f64", "Gelu", lambda t, a=approx: F.gelu(t, approximate=a),
             [randn(3, 4, dtype=F64, scale=2.0)], {"approximate": approx})
    case(E, "Softplus.default", "Softplus", F.softplus, [randn(3, 5, scale=3.0)], {"beta": 1.0, "threshold": 20.0})
    # beta*x crosses the threshold for some entries (linear region); keep away from the switch point
    sp = away(4, 5, gap=0.2, scale=2.0) + 0.5  # beta*x stays >= 0.2 away from the threshold
    case(E, "Softplus.beta2_thr1", "Softplus", lambda t: F.softplus(t, beta=2.0, threshold=1.0), [sp],
         {"beta": 2.0, "threshold": 1.0})
    case(E, "Softplus.f64", "Softplus", lambda t: F.softplus(t, beta=0.5, threshold=20.0),
         [randn(3, 4, dtype=F64, scale=3.0)], {"beta": 0.5, "threshold": 20.0})

    def clamp_input(*s):
        x = uniform(-2, 2, *s, dtype=F64)
        for bound in (-0.5, 0.8):  # keep away from the bounds
            x = torch.where((x - bound).abs() < 0.05, x + 0.1, x)
        return x.to(F32)

    case(E, "Clamp.both", "Clamp", lambda t: torch.clamp(t, -0.5, 0.8), [clamp_input(4, 5)], {"min": -0.5, "max": 0.8})
    case(E, "Clamp.min", "Clamp", lambda t: torch.clamp(t, min=-0.5), [clamp_input(4, 5)], {"min": -0.5, "max": None})
    case(E, "Clamp.max", "Clamp", lambda t: torch.clamp(t, max=0.8), [T(clamp_input(5, 4))], {"min": None, "max": 0.8})

    # where: condition broadcasting over both branches
    cond = torch.rand(3, 4, generator=_gen) > 0.5
    case(E, "Where.same", "Where", torch.where, [ng(cond), randn(3, 4), randn(3, 4)])
    cond = torch.rand(3, 1, generator=_gen) > 0.5
    case(E, "Where.bcast", "Where", torch.where, [ng(cond), randn(1, 4), randn(3, 4)])
    cond = torch.rand(2, 3, 4, generator=_gen) > 0.5
    case(E, "Where.bcast3", "Where", torch.where, [ng(cond), randn(4), T(randn(3, 4))])

    # kinks: PyTorch's subgradient conventions at exactly 0 / at the bounds
    k = torch.tensor([[-1.5, 0.0, 2.0], [0.0, -0.25, 0.75]])
    case(E, "Relu.kink", "Relu", torch.relu, [k.clone()])
    case(E, "Abs.kink", "Abs", torch.abs, [k.clone()])
    case(E, "LeakyRelu.kink", "LeakyRelu", lambda t: F.leaky_relu(t, 0.2), [k.clone()], {"negative_slope": 0.2})
    kc = torch.tensor([[-0.5, 0.75, 0.0], [-1.0, 1.0, 0.75]])
    case(E, "Clamp.kink", "Clamp", lambda t: torch.clamp(t, -0.5, 0.75), [kc], {"min": -0.5, "max": 0.75})


# ---- reductions -------------------------------------------------------------------------------

def reduce():
    R = "reduce"
    for op, f in (("Sum", torch.sum), ("Mean", torch.mean)):
        case(R, f"{op}.all", op, lambda t, f=f: f(t), [randn(2, 3, 4)], {"dims": None, "keepdim": False})
        case(R, f"{op}.dim1", op, lambda t, f=f: f(t, dim=1), [randn(2, 3, 4)], {"dims": [1], "keepdim": False})
        case(R, f"{op}.dim1_keep", op, lambda t, f=f: f(t, dim=1, keepdim=True), [randn(2, 3, 4)], {"dims": [1], "keepdim": True})
        case(R, f"{op}.dims02", op, lambda t, f=f: f(t, dim=(0, 2)), [randn(2, 3, 4)], {"dims": [0, 2], "keepdim": False})
        case(R, f"{op}.dims_neg_keep", op, lambda t, f=f: f(t, dim=(-1, -3), keepdim=True), [randn(2, 3, 4)], {"dims": [-1, -3], "keepdim": True})
        case(R, f"{op}.noncontig", op, lambda t, f=f: f(t, dim=0), [T(randn(2, 5, 3))], {"dims": [0], "keepdim": False})
        case(R, f"{op}.strided", op, lambda t, f=f: f(t, dim=-1, keepdim=True), [S(randn(3, 4))], {"dims": [-1], "keepdim": True})
        case(R, f"{op}.f64", op, lambda t, f=f: f(t, dim=1), [randn(3, 6, dtype=F64)], {"dims": [1], "keepdim": False})

    for op, f in (("Max", torch.max), ("Min", torch.min)):
        case(R, f"{op}.all", op, lambda t, f=f: f(t), [distinct(3, 4)], {"dim": None, "keepdim": False})
        case(R, f"{op}.dim1", op, lambda t, f=f: tuple(f(t, dim=1)), [distinct(3, 4)], {"dim": 1, "keepdim": False})
        case(R, f"{op}.dim0_keep", op, lambda t, f=f: tuple(f(t, dim=0, keepdim=True)), [distinct(2, 3, 4)], {"dim": 0, "keepdim": True})
        case(R, f"{op}.dim_neg", op, lambda t, f=f: tuple(f(t, dim=-1)), [distinct(2, 3, 4)], {"dim": -1, "keepdim": False})
        case(R, f"{op}.noncontig", op, lambda t, f=f: tuple(f(t, dim=1)), [T(distinct(4, 3))], {"dim": 1, "keepdim": False})
        case(R, f"{op}.f64", op, lambda t, f=f: tuple(f(t, dim=1)), [distinct(3, 5, dtype=F64)], {"dim": 1, "keepdim": False})
        # ties: full reduction spreads the gradient evenly; over a dim the first index wins
        tie = torch.tensor([[1.0, 3.0, 3.0, -2.0], [-2.0, 0.5, -2.0, 3.0]])
        case(R, f"{op}.all_tie", op, lambda t, f=f: f(t), [tie.clone()], {"dim": None, "keepdim": False})
        case(R, f"{op}.dim_tie", op, lambda t, f=f: tuple(f(t, dim=1)), [tie.clone()], {"dim": 1, "keepdim": False})

    case(R, "ArgMax.all", "ArgMax", lambda t: torch.argmax(t), [distinct(3, 4)], {"dim": None, "keepdim": False})
    case(R, "ArgMax.all_keep", "ArgMax", lambda t: torch.argmax(t, dim=None, keepdim=True), [distinct(3, 4)], {"dim": None, "keepdim": True})
    case(R, "ArgMax.dim1", "ArgMax", lambda t: torch.argmax(t, dim=1), [distinct(2, 3, 4)], {"dim": 1, "keepdim": False})
    case(R, "ArgMax.dim_neg_keep", "ArgMax", lambda t: torch.argmax(t, dim=-1, keepdim=True), [distinct(2, 3, 4)], {"dim": -1, "keepdim": True})
    case(R, "ArgMax.noncontig", "ArgMax", lambda t: torch.argmax(t, dim=0), [T(distinct(4, 3))], {"dim": 0, "keepdim": False})
    case(R, "ArgMax.tie", "ArgMax", lambda t: torch.argmax(t, dim=1),
         [torch.tensor([[1.0, 3.0, 3.0, -2.0], [3.0, 0.5, -2.0, 3.0]])], {"dim": 1, "keepdim": False})

    for op, f in (("Var", torch.var), ("Std", torch.std)):
        case(R, f"{op}.all", op, lambda t, f=f: f(t), [randn(3, 4)], {"dims": None, "correction": 1, "keepdim": False})
        case(R, f"{op}.all_c0", op, lambda t, f=f: f(t, None, correction=0), [randn(3, 4)], {"dims": None, "correction": 0, "keepdim": False})
        case(R, f"{op}.dim1", op, lambda t, f=f: f(t, dim=1), [randn(2, 3, 5)], {"dims": [1], "correction": 1, "keepdim": False})
        case(R, f"{op}.dim1_keep_c0", op, lambda t, f=f: f(t, dim=1, correction=0, keepdim=True), [randn(2, 3, 5)], {"dims": [1], "correction": 0, "keepdim": True})
        case(R, f"{op}.dims02_c2", op, lambda t, f=f: f(t, dim=(0, 2), correction=2), [randn(2, 3, 5)], {"dims": [0, 2], "correction": 2, "keepdim": False})
        case(R, f"{op}.noncontig", op, lambda t, f=f: f(t, dim=-1), [T(randn(5, 3))], {"dims": [-1], "correction": 1, "keepdim": False})
        case(R, f"{op}.f64", op, lambda t, f=f: f(t, dim=0, keepdim=True), [randn(6, 3, dtype=F64)], {"dims": [0], "correction": 1, "keepdim": True})

    for op, f in (("Amax", torch.amax), ("Amin", torch.amin)):
        case(R, f"{op}.all", op, lambda t, f=f: f(t, dim=(0, 1)), [distinct(3, 4)], {"dims": None, "keepdim": False})
        case(R, f"{op}.dims02_keep", op, lambda t, f=f: f(t, dim=(0, 2), keepdim=True), [distinct(2, 3, 4)], {"dims": [0, 2], "keepdim": True})
        case(R, f"{op}.noncontig", op, lambda t, f=f: f(t, dim=-1), [T(distinct(4, 3))], {"dims": [-1], "keepdim": False})
        # ties: amax/amin spread the gradient evenly over the tied entries of each slice
        tie = torch.tensor([[1.0, 3.0, 3.0, -2.0], [-2.0, 0.5, -2.0, 3.0]])
        case(R, f"{op}.tie", op, lambda t, f=f: f(t, dim=1), [tie.clone()], {"dims": [1], "keepdim": False})
    case(R, "ArgMin.all", "ArgMin", lambda t: torch.argmin(t), [distinct(3, 4)], {"dim": None, "keepdim": False})
    case(R, "ArgMin.dim1_keep", "ArgMin", lambda t: torch.argmin(t, dim=1, keepdim=True), [distinct(2, 3, 4)], {"dim": 1, "keepdim": True})
    case(R, "ArgMin.tie", "ArgMin", lambda t: torch.argmin(t, dim=1),
         [torch.tensor([[1.0, -3.0, -3.0, 2.0], [-3.0, 0.5, 2.0, -3.0]])], {"dim": 1, "keepdim": False})

    L = "LogSumExp"
    case(R, f"{L}.dim1", L, lambda t: torch.logsumexp(t, dim=1), [randn(3, 5)], {"dims": [1], "keepdim": False})
    case(R, f"{L}.dim0_keep", L, lambda t: torch.logsumexp(t, dim=0, keepdim=True), [randn(3, 5)], {"dims": [0], "keepdim": True})
    case(R, f"{L}.dims02", L, lambda t: torch.logsumexp(t, dim=(0, 2)), [randn(2, 3, 4)], {"dims": [0, 2], "keepdim": False})
    case(R, f"{L}.large", L, lambda t: torch.logsumexp(t, dim=-1), [randn(3, 4, scale=40.0) + 60.0], {"dims": [-1], "keepdim": False})
    case(R, f"{L}.noncontig", L, lambda t: torch.logsumexp(t, dim=1), [T(randn(4, 3))], {"dims": [1], "keepdim": False})
    case(R, f"{L}.f64", L, lambda t: torch.logsumexp(t, dim=1, keepdim=True), [randn(3, 5, dtype=F64)], {"dims": [1], "keepdim": True})


# ---- linear algebra ---------------------------------------------------------------------------

def linalg():
    A = "linalg"
    mm = torch.matmul
    case(A, "MatMul.2d", "MatMul", mm, [randn(3, 4), randn(4, 5)])
    case(A, "MatMul.batched", "MatMul", mm, [randn(2, 3, 4), randn(2, 4, 5)])
    case(A, "MatMul.bcast_batch", "MatMul", mm, [randn(2, 1, 3, 4), randn(3, 4, 2)])
    case(A, "MatMul.bcast_2d_rhs", "MatMul", mm, [randn(2, 3, 4), randn(4, 5)])
    case(A, "MatMul.bcast_2d_lhs", "MatMul", mm, [randn(3, 4), randn(2, 4, 5)])
    case(A, "MatMul.vec_mat", "MatMul", mm, [randn(4), randn(4, 5)])
    case(A, "MatMul.mat_vec", "MatMul", mm, [randn(3, 4), randn(4)])
    case(A, "MatMul.vec_vec", "MatMul", mm, [randn(4), randn(4)])
    case(A, "MatMul.vec_batch", "MatMul", mm, [randn(4), randn(2, 4, 3)])
    case(A, "MatMul.batch_vec", "MatMul", mm, [randn(2, 3, 4), randn(4)])
    case(A, "MatMul.transposed", "MatMul", mm, [T(randn(3, 4)), T(randn(4, 5))])
    case(A, "MatMul.strided", "MatMul", mm, [randn(2, 3, 4), S(randn(2, 4, 3))])
    case(A, "MatMul.larger", "MatMul", mm, [randn(9, 17), randn(17, 7)])
    case(A, "MatMul.f64", "MatMul", mm, [randn(2, 3, 4, dtype=F64), randn(4, 5, dtype=F64)])
    case(A, "MatMul.f64_vec", "MatMul", mm, [randn(4, dtype=F64), randn(3, 4, 2, dtype=F64)])

    cd = torch.cdist
    case(A, "Cdist.2d", "Cdist", cd, [randn(5, 3), randn(4, 3)], {"p": 2.0})
    case(A, "Cdist.batched", "Cdist", cd, [randn(2, 5, 3), randn(2, 4, 3)], {"p": 2.0})
    case(A, "Cdist.bcast_batch", "Cdist", cd, [randn(1, 3, 2), randn(2, 4, 2)], {"p": 2.0})
    case(A, "Cdist.noncontig", "Cdist", cd, [T(randn(5, 3)), randn(4, 3)], {"p": 2.0})
    case(A, "Cdist.f64", "Cdist", cd, [randn(4, 3, dtype=F64), randn(6, 3, dtype=F64)], {"p": 2.0})


# ---- shape ------------------------------------------------------------------------------------

def shape():
    S_ = "shape"
    case(S_, "Reshape.basic", "Reshape", lambda t: t.reshape(6, 4), [randn(2, 3, 4)], {"shape": [6, 4]})
    case(S_, "Reshape.infer", "Reshape", lambda t: t.reshape(4, -1), [randn(2, 3, 4)], {"shape": [4, -1]})
    case(S_, "Reshape.noncontig", "Reshape", lambda t: t.reshape(-1), [T(randn(3, 4))], {"shape": [-1]})
    case(S_, "Reshape.split", "Reshape", lambda t: t.reshape(2, 2, 3), [S(randn(4, 3))], {"shape": [2, 2, 3]})
    case(S_, "Permute.basic", "Permute", lambda t: t.permute(2, 0, 1), [randn(2, 3, 4)], {"dims": [2, 0, 1]})
    case(S_, "Permute.neg", "Permute", lambda t: t.permute(-1, 0, -2), [T(randn(2, 4, 3))], {"dims": [-1, 0, -2]})
    case(S_, "Expand.basic", "Expand", lambda t: t.expand(2, 3, 4), [randn(3, 1)], {"shape": [2, 3, 4]})
    case(S_, "Expand.keep", "Expand", lambda t: t.expand(3, -1, 5), [randn(1, 2, 1)], {"shape": [3, -1, 5]})
    case(S_, "Expand.noncontig", "Expand", lambda t: t.expand(2, 3, 4), [S(randn(3, 1))], {"shape": [2, 3, 4]})

    def sl(dim, start, end, step):
        def f(t):
            idx = [slice(None)] * t.dim()
            idx[dim] = slice(start, end, step)
            return t[tuple(idx)]
        return f, {"dim": dim, "start": start, "end": end, "step": step}

    for name, shp, (dim, start, end, step), lay in (
        ("Slice.basic", (3, 6), (1, 1, 5, 1), None),
        ("Slice.step", (3, 7), (1, 1, None, 2), None),
        ("Slice.neg", (5, 3), (0, -3, None, 1), None),
        ("Slice.neg_end_step", (2, 7, 2), (1, 0, -1, 3), None),
        ("Slice.negdim", (2, 3, 5), (-1, 1, 4, 2), None),
        ("Slice.noncontig", (4, 5), (0, 1, 4, 2), "T"),
    ):
        f, args = sl(dim if dim >= 0 else dim, start, end, step)
        x = randn(*shp)
        case(S_, name, "Slice", f, [T(x) if lay == "T" else x], args)

    case(S_, "Cat.dim0", "Cat", lambda *ts: torch.cat(ts, 0), [randn(2, 3), randn(1, 3), randn(3, 3)], {"dim": 0})
    case(S_, "Cat.dim1", "Cat", lambda *ts: torch.cat(ts, 1), [randn(2, 3), randn(2, 1)], {"dim": 1})
    case(S_, "Cat.neg", "Cat", lambda *ts: torch.cat(ts, -1), [randn(2, 2, 3), T(randn(2, 2, 2)), randn(2, 2, 1)], {"dim": -1})
    case(S_, "Cat.mid", "Cat", lambda *ts: torch.cat(ts, 1), [randn(2, 1, 3), S(randn(2, 2, 3))], {"dim": 1})
    case(S_, "Cat.f64", "Cat", lambda *ts: torch.cat(ts, 0), [randn(2, 3, dtype=F64), randn(1, 3, dtype=F64)], {"dim": 0})
    case(S_, "Stack.dim0", "Stack", lambda *ts: torch.stack(ts, 0), [randn(2, 3), randn(2, 3), randn(2, 3)], {"dim": 0})
    case(S_, "Stack.dim1", "Stack", lambda *ts: torch.stack(ts, 1), [randn(2, 3), T(randn(2, 3))], {"dim": 1})
    case(S_, "Stack.last", "Stack", lambda *ts: torch.stack(ts, -1), [randn(2, 3), randn(2, 3)], {"dim": -1})
    case(S_, "Stack.single", "Stack", lambda *ts: torch.stack(ts, 0), [randn(4)], {"dim": 0})


# ---- indexing ---------------------------------------------------------------------------------

def indexing():
    I = "index"
    # duplicates in the index make the gradients accumulate
    case(I, "Gather.dim1", "Gather", lambda x, i: torch.gather(x, 1, i),
         [randn(3, 4), torch.tensor([[0, 0, 3], [1, 2, 1], [3, 3, 3]])], {"dim": 1})
    case(I, "Gather.dim0", "Gather", lambda x, i: torch.gather(x, 0, i), [randn(3, 4), index(3, 5, 4)], {"dim": 0})
    case(I, "Gather.smaller", "Gather", lambda x, i: torch.gather(x, 1, i), [randn(4, 5), index(5, 2, 3)], {"dim": 1})
    case(I, "Gather.3d_neg", "Gather", lambda x, i: torch.gather(x, -1, i), [randn(2, 3, 4), index(4, 2, 3, 6)], {"dim": -1})
    case(I, "Gather.noncontig", "Gather", lambda x, i: torch.gather(x, 0, i), [T(randn(4, 3)), index(4, 2, 3)], {"dim": 0})
    case(I, "Gather.f64", "Gather", lambda x, i: torch.gather(x, 1, i), [randn(3, 4, dtype=F64), index(4, 3, 2)], {"dim": 1})

    case(I, "IndexSelect.dim0", "IndexSelect", lambda x, i: torch.index_select(x, 0, i),
         [randn(4, 3), torch.tensor([2, 0, 2, 3])], {"dim": 0})
    case(I, "IndexSelect.dim1", "IndexSelect", lambda x, i: torch.index_select(x, 1, i), [randn(2, 5, 3), index(5, 7)], {"dim": 1})
    case(I, "IndexSelect.neg", "IndexSelect", lambda x, i: torch.index_select(x, -1, i), [randn(3, 4), index(4, 2)], {"dim": -1})
    case(I, "IndexSelect.noncontig", "IndexSelect", lambda x, i: torch.index_select(x, 0, i), [T(randn(3, 4)), index(3, 5)], {"dim": 0})
    case(I, "IndexSelect.f64", "IndexSelect", lambda x, i: torch.index_select(x, 0, i), [randn(4, 2, dtype=F64), index(4, 3)], {"dim": 0})

    sa = lambda d: (lambda x, i, s: x.scatter_add(d, i, s))
    case(I, "ScatterAdd.dim1", "ScatterAdd", sa(1),
         [randn(3, 5), torch.tensor([[0, 4, 0], [1, 1, 2], [3, 2, 4]]), randn(3, 3)], {"dim": 1})
    case(I, "ScatterAdd.dim0", "ScatterAdd", sa(0), [randn(3, 4), index(3, 5, 4), randn(5, 4)], {"dim": 0})
    case(I, "ScatterAdd.3d_neg", "ScatterAdd", sa(-1), [randn(2, 3, 4), index(4, 2, 3, 5), randn(2, 3, 5)], {"dim": -1})
    case(I, "ScatterAdd.noncontig", "ScatterAdd", sa(0), [T(randn(4, 3)), index(4, 2, 3), S(randn(2, 3))], {"dim": 0})
    case(I, "ScatterAdd.f64", "ScatterAdd", sa(0), [randn(3, 2, dtype=F64), index(3, 4, 2), randn(4, 2, dtype=F64)], {"dim": 0})


    ia = lambda d, alpha: (lambda x, i, s: x.index_add(d, i, s, alpha=alpha))
    case(I, "IndexAdd.dim0", "IndexAdd", ia(0, 1.0), [randn(4, 3), torch.tensor([3, 0, 3]), randn(3, 3)], {"dim": 0, "alpha": 1.0})
    case(I, "IndexAdd.dim1_alpha", "IndexAdd", ia(1, -0.5), [randn(2, 4, 3), index(4, 6), randn(2, 6, 3)], {"dim": 1, "alpha": -0.5})
    case(I, "IndexAdd.noncontig", "IndexAdd", ia(-1, 2.0), [T(randn(3, 4)), index(4, 5), S(randn(3, 5))], {"dim": -1, "alpha": 2.0})

    mf = lambda v: (lambda x, m: x.masked_fill(m, v))
    case(I, "MaskedFill.same", "MaskedFill", mf(-1.5), [randn(3, 4), torch.rand(3, 4, generator=_gen) > 0.5], {"value": -1.5})
    case(I, "MaskedFill.bcast", "MaskedFill", mf(2.0), [T(randn(2, 4, 3)), torch.rand(4, 1, generator=_gen) > 0.5], {"value": 2.0})


# ---- nn ---------------------------------------------------------------------------------------

def nn():
    N = "nn"
    for op, f in (("Softmax", torch.softmax), ("LogSoftmax", torch.log_softmax)):
        case(N, f"{op}.dim1", op, lambda t, f=f: f(t, 1), [randn(3, 5)], {"dim": 1})
        case(N, f"{op}.dim0", op, lambda t, f=f: f(t, 0), [randn(3, 5)], {"dim": 0})
        case(N, f"{op}.dim_neg_3d", op, lambda t, f=f: f(t, -1), [randn(2, 3, 4)], {"dim": -1})
        case(N, f"{op}.mid_3d", op, lambda t, f=f: f(t, 1), [randn(2, 3, 4)], {"dim": 1})
        case(N, f"{op}.large", op, lambda t, f=f: f(t, -1), [randn(3, 4, scale=40.0) + 80.0], {"dim": -1})
        case(N, f"{op}.noncontig", op, lambda t, f=f: f(t, 1), [T(randn(4, 3))], {"dim": 1})
        case(N, f"{op}.f64", op, lambda t, f=f: f(t, 1), [randn(3, 5, dtype=F64, scale=2.0)], {"dim": 1})


# ---- optim ------------------------------------------------------------------------------------
# Family "optim" (optim.json) records optimizer trajectories, scheduler lr sequences and gradient
# clipping; its cases use the same CASE layout with these conventions (all inputs "grad": false,
# "w" and "grads" all null):
#
#   op = an optimizer name (SGD, Adam, AdamW, RMSprop, LBFGS):
#     inputs  = [A (3x3), bq (3), X (5x3), Y (5x2), w0 (3), W0 (2x3), b0 (2)]
#     the problem: loss(w, W, b) = 0.5*sum(w*(A@w)) - sum(bq*w) + 0.05*sum(w**4)
#                                  + mean((X@W.T + b - Y)**2)
#     args    = {"hyper": optimizer kwargs (betas as beta1/beta2, line_search_fn as string or null),
#                "groups": per-group overrides or null (params [w, W] in group 0 and [b] in group 1),
#                "steps": 10, "scheduler": null or {"name": ..., kwargs}}
#     outputs = [w trajectory (11x3), W trajectory (11x2x3), b trajectory (11x2), losses (10)]:
#               row 0 holds the initial values, row k the values after step k; losses[k] is the
#               loss returned by step k+1 (the loss at the start of that step). Each step is
#               zero_grad, loss, backward, step (LBFGS: step(closure) with that closure), then
#               scheduler.step() when a scheduler is given.
#   op = a scheduler name (StepLR, CosineAnnealingLR, OneCycleLR):
#     inputs  = []
#     args    = {"optimizer": "SGD"|"Adam", "lrs": [lr per group], "momentum": SGD momentum,
#                "kwargs": scheduler kwargs, "steps": number of scheduler.step() calls}
#     outputs = [lr (groups x steps+1), momentum or beta1 (groups x steps+1)]; column 0 is
#               get_last_lr() right after construction, column k after the k-th step.
#   op = ClipGradNorm {max_norm, norm_type ("inf" for infinity)} / ClipGradValue {clip_value}:
#     inputs  = the gradients (one per parameter)
#     outputs = the clipped gradients, then (ClipGradNorm only) the returned total norm (0-d).

def _problem(dtype):
    m = randn(3, 3, dtype=F64)
    a = (m @ m.T / 3 + 0.5 * torch.eye(3, dtype=F64)).to(dtype)
    return [a, randn(3, dtype=dtype), randn(5, 3, dtype=dtype), randn(5, 2, dtype=dtype),
            randn(3, dtype=dtype, scale=0.8), randn(2, 3, dtype=dtype, scale=0.5), randn(2, dtype=dtype, scale=0.5)]


def _loss(data, w, W, b):
    a, bq, x, y = data
    return 0.5 * (w * (a @ w)).sum() - (bq * w).sum() + 0.05 * (w ** 4).sum() + ((x @ W.T + b - y) ** 2).mean()


def _torch_kwargs(hyper):
    h = dict(hyper)
    if "beta1" in h:
        h["betas"] = (h.pop("beta1"), h.pop("beta2"))
    return h


def _make_opt(name, params_groups, hyper):
    return getattr(torch.optim, name)(params_groups, **_torch_kwargs(hyper))


def _make_sched(opt, spec):
    spec = dict(spec)
    name = spec.pop("name")
    return getattr(torch.optim.lr_scheduler, name)(opt, **spec)


def optim_case(name, opt_name, hyper, dtype=F64, groups=None, scheduler=None, steps=10):
    inputs = _problem(dtype)
    data = inputs[:4]
    w, W, b = (t.clone().requires_grad_(True) for t in inputs[4:])
    if groups is None:
        pg = [w, W, b]
    else:
        pg = [dict(params=[w, W], **_torch_kwargs(groups[0])), dict(params=[b], **_torch_kwargs(groups[1]))]
    opt = _make_opt(opt_name, pg, hyper)
    sched = None if scheduler is None else _make_sched(opt, scheduler)
    traj = [[w.detach().clone()], [W.detach().clone()], [b.detach().clone()]]
    losses = []

    def closure():
        opt.zero_grad()
        loss = _loss(data, w, W, b)
        loss.backward()
        return loss

    for _ in range(steps):
        if opt_name == "LBFGS":
            loss = opt.step(closure)
        else:
            loss = closure()
            opt.step()
        losses.append(float(loss))
        if sched is not None:
            sched.step()
        for k, t in enumerate((w, W, b)):
            traj[k].append(t.detach().clone())
    outs = [torch.stack(t) for t in traj] + [torch.tensor(losses, dtype=dtype)]
    _raw_case(name, opt_name, dtype, {"hyper": hyper, "groups": groups, "steps": steps, "scheduler": scheduler},
              inputs, outs)


def _raw_case(name, op, dtype, args, inputs, outs):
    cases = FAMILIES.setdefault("optim", [])
    assert all(c["name"] != name for c in cases), name
    cases.append({
        "name": name,
        "op": op,
        "dtype": DT_NAME[dtype],
        "args": args,
        "inputs": [dict(tensor_json(x), grad=False, layout="contiguous") for x in inputs],
        "outputs": [tensor_json(o) for o in outs],
        "w": [None] * len(outs),
        "grads": [None] * len(inputs),
    })


def sched_case(name, sched_name, opt_name, lrs, kwargs, steps=20, momentum=0.0):
    params = [torch.zeros(1, requires_grad=True) for _ in lrs]
    groups = [dict(params=[p], lr=lr) for p, lr in zip(params, lrs)]
    opt = torch.optim.SGD(groups, lr=lrs[0], momentum=momentum) if opt_name == "SGD" else torch.optim.Adam(groups, lr=lrs[0])
    sched = getattr(torch.optim.lr_scheduler, sched_name)(opt, **kwargs)

    def mom(g):
        return g["betas"][0] if "betas" in g else g["momentum"]

    lr_seq = [list(sched.get_last_lr())]
    m_seq = [[mom(g) for g in opt.param_groups]]
    for _ in range(steps):
        opt.step()
        sched.step()
        lr_seq.append(list(sched.get_last_lr()))
        m_seq.append([mom(g) for g in opt.param_groups])
    outs = [torch.tensor(lr_seq, dtype=F64).T.contiguous(), torch.tensor(m_seq, dtype=F64).T.contiguous()]
    _raw_case(name, sched_name, F64, {"optimizer": opt_name, "lrs": lrs, "momentum": momentum,
                                      "kwargs": kwargs, "steps": steps}, [], outs)


def clip_case(name, op, args, dtype=F64):
    grads = [randn(3, dtype=dtype), randn(2, 3, dtype=dtype, scale=2.0), randn(2, dtype=dtype)]
    params = [torch.zeros_like(g, requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.clone()
    if op == "ClipGradNorm":
        nt = float("inf") if args["norm_type"] == "inf" else args["norm_type"]
        total = torch.nn.utils.clip_grad_norm_(params, args["max_norm"], nt)
        outs = [p.grad for p in params] + [total.to(dtype)]
    else:
        torch.nn.utils.clip_grad_value_(params, args["clip_value"])
        outs = [p.grad for p in params]
    _raw_case(name, op, dtype, args, grads, outs)


def optim():
    optim_case("SGD.plain", "SGD", {"lr": 0.05})
    optim_case("SGD.momentum", "SGD", {"lr": 0.05, "momentum": 0.9})
    optim_case("SGD.dampening", "SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3})
    optim_case("SGD.nesterov", "SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True})
    optim_case("SGD.weight_decay", "SGD", {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.1})
    optim_case("SGD.maximize", "SGD", {"lr": 0.01, "momentum": 0.5, "maximize": True})
    optim_case("SGD.f32", "SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}, dtype=F32)
    optim_case("SGD.groups", "SGD", {"lr": 0.05, "momentum": 0.9}, groups=[{}, {"lr": 0.2, "momentum": 0.0}])
    optim_case("Adam.default", "Adam", {"lr": 0.05})
    optim_case("Adam.weight_decay", "Adam", {"lr": 0.05, "weight_decay": 0.1})
    optim_case("Adam.amsgrad", "Adam", {"lr": 0.05, "amsgrad": True})
    optim_case("Adam.betas_eps", "Adam", {"lr": 0.05, "beta1": 0.8, "beta2": 0.99, "eps": 1e-3})
    optim_case("Adam.maximize", "Adam", {"lr": 0.01, "maximize": True})
    optim_case("Adam.f32", "Adam", {"lr": 0.05, "weight_decay": 0.05, "amsgrad": True}, dtype=F32)
    optim_case("Adam.groups", "Adam", {"lr": 0.05}, groups=[{"beta1": 0.5, "beta2": 0.9}, {"lr": 0.1, "weight_decay": 0.2}])
    optim_case("AdamW.default", "AdamW", {"lr": 0.05})
    optim_case("AdamW.decay_amsgrad", "AdamW", {"lr": 0.05, "weight_decay": 0.5, "amsgrad": True})
    optim_case("RMSprop.default", "RMSprop", {"lr": 0.01})
    optim_case("RMSprop.momentum", "RMSprop", {"lr": 0.01, "momentum": 0.9, "alpha": 0.9})
    optim_case("RMSprop.centered", "RMSprop", {"lr": 0.01, "centered": True})
    optim_case("RMSprop.centered_momentum_wd", "RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5, "weight_decay": 0.1, "eps": 1e-4})
    optim_case("LBFGS.strong_wolfe", "LBFGS", {"lr": 1.0, "max_iter": 3, "history_size": 3, "line_search_fn": "strong_wolfe"})
    optim_case("LBFGS.strong_wolfe_long", "LBFGS", {"lr": 1.0, "max_iter": 20, "history_size": 5, "line_search_fn": "strong_wolfe"}, steps=3)
    optim_case("LBFGS.fixed_step", "LBFGS", {"lr": 0.2, "max_iter": 4, "history_size": 4, "line_search_fn": None})
    optim_case("SGD.onecycle", "SGD", {"lr": 0.05, "momentum": 0.9}, scheduler={"name": "OneCycleLR", "max_lr": 0.1, "total_steps": 12})
    optim_case("Adam.onecycle", "Adam", {"lr": 0.05}, scheduler={"name": "OneCycleLR", "max_lr": 0.1, "total_steps": 10})
    optim_case("Adam.steplr", "Adam", {"lr": 0.05}, scheduler={"name": "StepLR", "step_size": 3, "gamma": 0.5})

    sched_case("StepLR.basic", "StepLR", "SGD", [0.1], {"step_size": 3, "gamma": 0.5})
    sched_case("StepLR.groups", "StepLR", "SGD", [0.1, 0.02], {"step_size": 4})
    sched_case("CosineAnnealingLR.eta_min", "CosineAnnealingLR", "SGD", [0.1], {"T_max": 8, "eta_min": 0.001})
    sched_case("CosineAnnealingLR.groups", "CosineAnnealingLR", "Adam", [0.1, 0.05], {"T_max": 5})
    sched_case("OneCycleLR.sgd", "OneCycleLR", "SGD", [0.1], {"max_lr": 0.5, "total_steps": 20}, steps=19, momentum=0.9)
    sched_case("OneCycleLR.adam", "OneCycleLR", "Adam", [0.1], {"max_lr": 0.01, "total_steps": 21}, steps=20)
    sched_case("OneCycleLR.three_phase_linear", "OneCycleLR", "Adam", [0.1, 0.1],
               {"max_lr": [0.5, 0.2], "total_steps": 20, "three_phase": True, "anneal_strategy": "linear",
                "pct_start": 0.25, "div_factor": 10.0, "final_div_factor": 100.0, "base_momentum": 0.8, "max_momentum": 0.9}, steps=20)
    sched_case("OneCycleLR.no_cycle_momentum", "OneCycleLR", "SGD", [0.1], {"max_lr": 0.3, "epochs": 4, "steps_per_epoch": 5,
               "cycle_momentum": False}, steps=20, momentum=0.5)

    clip_case("ClipGradNorm.l2_clips", "ClipGradNorm", {"max_norm": 1.0, "norm_type": 2.0})
    clip_case("ClipGradNorm.l2_no_clip", "ClipGradNorm", {"max_norm": 100.0, "norm_type": 2.0})
    clip_case("ClipGradNorm.l1", "ClipGradNorm", {"max_norm": 2.0, "norm_type": 1.0})
    clip_case("ClipGradNorm.l3", "ClipGradNorm", {"max_norm": 0.5, "norm_type": 3.0})
    clip_case("ClipGradNorm.inf", "ClipGradNorm", {"max_norm": 0.7, "norm_type": "inf"})
    clip_case("ClipGradNorm.f32", "ClipGradNorm", {"max_norm": 1.5, "norm_type": 2.0}, dtype=F32)
    clip_case("ClipGradValue.basic", "ClipGradValue", {"clip_value": 0.4})

# ---- losses (family "losses") -----------------------------------------------------------------
#
# args by op (inputs in brackets; "weight"/"pos_weight" flags say whether the optional inputs follow):
#   MseLoss, L1Loss {reduction}                                   [input, target]
#   CrossEntropy {reduction, ignore_index, label_smoothing, weight} [logits, target (int64 indices or
#                                                                 float probabilities), weight?]
#   NllLoss {reduction, ignore_index, weight}                     [log-probabilities, target, weight?]
#   BceWithLogits {reduction, weight, pos_weight}                 [logits, target, weight?, pos_weight?]
#   KlDiv {reduction ("mean"|"sum"|"none"|"batchmean"), log_target} [input (log-probs), target]
#   SigmoidFocalLoss {alpha, gamma, reduction}                    [logits, target]  (torchvision's formula)
# Class weights and pos_weight take no gradient (PyTorch does not differentiate them).

def sigmoid_focal_loss(inputs, targets, alpha, gamma, reduction):
    # torchvision.ops.sigmoid_focal_loss (torchvision is not installed here; same formula)
    F = torch.nn.functional
    p = torch.sigmoid(inputs)
    ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    if reduction == "mean":
        loss = loss.mean()
    elif reduction == "sum":
        loss = loss.sum()
    return loss


def losses():
    L = "losses"
    F = torch.nn.functional
    reds = ("mean", "sum", "none")

    for op, f in (("MseLoss", F.mse_loss), ("L1Loss", F.l1_loss)):
        for r in reds:
            case(L, f"{op}.{r}", op, lambda a, b, f=f, r=r: f(a, b, reduction=r), [randn(3, 4), randn(3, 4)], {"reduction": r})
        case(L, f"{op}.noncontig", op, lambda a, b, f=f: f(a, b), [T(randn(4, 3)), randn(4, 3)], {"reduction": "mean"})
        case(L, f"{op}.f64", op, lambda a, b, f=f: f(a, b), [randn(2, 5, dtype=F64), randn(2, 5, dtype=F64)], {"reduction": "mean"})

    # ---- cross entropy with class indices
    def ce(reduction="mean", ignore_index=-100, label_smoothing=0.0, weight=False):
        args = {"reduction": reduction, "ignore_index": ignore_index, "label_smoothing": label_smoothing, "weight": weight}
        if weight:
            fn = lambda x, t, w: F.cross_entropy(x, t, weight=w, reduction=reduction, ignore_index=ignore_index, label_smoothing=label_smoothing)
        else:
            fn = lambda x, t: F.cross_entropy(x, t, reduction=reduction, ignore_index=ignore_index, label_smoothing=label_smoothing)
        return fn, args

    def with_ignored(t, value=-100, every=3):
        t = t.clone()
        t.view(-1)[::every] = value
        return t

    C = 5
    for r in reds:
        fn, a = ce(r)
        case(L, f"CrossEntropy.{r}", "CrossEntropy", fn, [randn(4, C), index(C, 4)], a)
        fn, a = ce(r, weight=True)
        case(L, f"CrossEntropy.weight_{r}", "CrossEntropy", fn, [randn(4, C), index(C, 4), ng(positive(C, lo=0.2, hi=2.0))], a)
        fn, a = ce(r, weight=True)
        case(L, f"CrossEntropy.weight_ignore_{r}", "CrossEntropy", fn,
             [randn(6, C), with_ignored(index(C, 6)), ng(positive(C, lo=0.2, hi=2.0))], a)
        fn, a = ce(r, label_smoothing=0.1)
        case(L, f"CrossEntropy.smooth_{r}", "CrossEntropy", fn, [randn(4, C), index(C, 4)], a)
        fn, a = ce(r, label_smoothing=0.2, weight=True)
        case(L, f"CrossEntropy.smooth_weight_ignore_{r}", "CrossEntropy", fn,
             [randn(6, C), with_ignored(index(C, 6)), ng(positive(C, lo=0.2, hi=2.0))], a)
    fn, a = ce("mean")
    case(L, "CrossEntropy.ignore_mean", "CrossEntropy", fn, [randn(6, C), with_ignored(index(C, 6), every=2)], a)
    fn, a = ce("mean", ignore_index=2)
    case(L, "CrossEntropy.ignore_class2", "CrossEntropy", fn, [randn(6, C), torch.tensor([2, 0, 2, 4, 1, 3])], a)
    fn, a = ce("mean", ignore_index=1, label_smoothing=0.3)
    case(L, "CrossEntropy.ignore_class1_smooth", "CrossEntropy", fn, [randn(6, C), torch.tensor([1, 0, 2, 1, 4, 3])], a)
    fn, a = ce("mean", label_smoothing=1.0)
    case(L, "CrossEntropy.smooth1", "CrossEntropy", fn, [randn(3, C), index(C, 3)], a)
    fn, a = ce("mean", weight=True, label_smoothing=0.1)
    case(L, "CrossEntropy.nd_weight_smooth_ignore", "CrossEntropy", fn,
         [randn(2, C, 3), with_ignored(index(C, 2, 3), every=4), ng(positive(C, lo=0.2, hi=2.0))], a)
    fn, a = ce("none", weight=True, label_smoothing=0.1)
    case(L, "CrossEntropy.nd4_none", "CrossEntropy", fn,
         [randn(2, 3, 2, 2), with_ignored(index(3, 2, 2, 2), every=5), ng(positive(3, lo=0.2, hi=2.0))], a)
    fn, a = ce("sum")
    case(L, "CrossEntropy.nd_sum", "CrossEntropy", fn, [randn(2, C, 4), index(C, 2, 4)], a)
    fn, a = ce("mean", weight=True, label_smoothing=0.05)
    case(L, "CrossEntropy.unbatched", "CrossEntropy", fn, [randn(C), torch.tensor(3), ng(positive(C, lo=0.2, hi=2.0))], a)
    fn, a = ce("mean")
    case(L, "CrossEntropy.noncontig", "CrossEntropy", fn, [T(randn(4, C)), index(C, 4)], a)
    fn, a = ce("mean")
    case(L, "CrossEntropy.large", "CrossEntropy", fn, [randn(3, C, scale=30.0) + 50.0, index(C, 3)], a)
    fn, a = ce("mean", weight=True, label_smoothing=0.1)
    case(L, "CrossEntropy.f64", "CrossEntropy", fn,
         [randn(5, C, dtype=F64), with_ignored(index(C, 5)), ng(positive(C, lo=0.2, hi=2.0, dtype=F64))], a)

    # ---- cross entropy with class probabilities (the target takes a gradient too)
    def probs(*shape, dim=1, dtype=F32):
        return torch.softmax(randn(*shape, dtype=F64), dim).to(dtype)

    for r in reds:
        fn, a = ce(r)
        case(L, f"CrossEntropy.prob_{r}", "CrossEntropy", fn, [randn(4, C), probs(4, C)], a)
        fn, a = ce(r, weight=True, label_smoothing=0.15)
        case(L, f"CrossEntropy.prob_weight_smooth_{r}", "CrossEntropy", fn,
             [randn(4, C), probs(4, C), ng(positive(C, lo=0.2, hi=2.0))], a)
    fn, a = ce("mean", weight=True)
    case(L, "CrossEntropy.prob_nd_weight", "CrossEntropy", fn, [randn(2, C, 3), probs(2, C, 3), ng(positive(C, lo=0.2, hi=2.0))], a)
    fn, a = ce("mean", label_smoothing=0.1)
    case(L, "CrossEntropy.prob_unbatched", "CrossEntropy", fn, [randn(C), probs(C, dim=0)], a)
    fn, a = ce("sum", weight=True, label_smoothing=0.1)
    case(L, "CrossEntropy.prob_f64", "CrossEntropy", fn,
         [randn(3, C, dtype=F64), probs(3, C, dtype=F64), ng(positive(C, lo=0.2, hi=2.0, dtype=F64))], a)

    # ---- nll
    def nll(reduction="mean", ignore_index=-100, weight=False):
        args = {"reduction": reduction, "ignore_index": ignore_index, "weight": weight}
        if weight:
            return (lambda x, t, w: F.nll_loss(x, t, weight=w, reduction=reduction, ignore_index=ignore_index)), args
        return (lambda x, t: F.nll_loss(x, t, reduction=reduction, ignore_index=ignore_index)), args

    def logp(*shape, dtype=F32):
        return torch.log_softmax(randn(*shape, dtype=F64), 1 if len(shape) > 1 else 0).to(dtype)

    for r in reds:
        fn, a = nll(r)
        case(L, f"NllLoss.{r}", "NllLoss", fn, [logp(4, C), index(C, 4)], a)
        fn, a = nll(r, weight=True)
        case(L, f"NllLoss.weight_ignore_{r}", "NllLoss", fn, [logp(6, C), with_ignored(index(C, 6)), ng(positive(C, lo=0.2, hi=2.0))], a)
    fn, a = nll("mean", weight=True, ignore_index=0)
    case(L, "NllLoss.nd_weight_ignore0", "NllLoss", fn, [logp(2, C, 3), index(C, 2, 3), ng(positive(C, lo=0.2, hi=2.0))], a)
    fn, a = nll("mean")
    case(L, "NllLoss.unbatched", "NllLoss", fn, [logp(C), torch.tensor(1)], a)
    fn, a = nll("sum", weight=True)
    case(L, "NllLoss.f64", "NllLoss", fn, [logp(4, C, dtype=F64), index(C, 4), ng(positive(C, lo=0.2, hi=2.0, dtype=F64))], a)

    # ---- binary cross entropy with logits (targets in [0, 1], differentiable)
    def bce(reduction="mean", weight=False, pos_weight=False):
        args = {"reduction": reduction, "weight": weight, "pos_weight": pos_weight}
        def fn(x, t, *rest):
            rest = list(rest)
            w = rest.pop(0) if weight else None
            pw = rest.pop(0) if pos_weight else None
            return F.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=pw, reduction=reduction)
        return fn, args

    for r in reds:
        fn, a = bce(r)
        case(L, f"BceWithLogits.{r}", "BceWithLogits", fn, [randn(3, 4, scale=2.0), uniform(0, 1, 3, 4)], a)
        fn, a = bce(r, weight=True, pos_weight=True)
        case(L, f"BceWithLogits.weight_pos_{r}", "BceWithLogits", fn,
             [randn(3, 4, scale=2.0), uniform(0, 1, 3, 4), ng(positive(3, 1, lo=0.2, hi=2.0)), ng(positive(4, lo=0.2, hi=3.0))], a)
    fn, a = bce("mean", weight=True)
    case(L, "BceWithLogits.weight", "BceWithLogits", fn, [randn(2, 3, 4), uniform(0, 1, 2, 3, 4), ng(positive(3, 4, lo=0.2, hi=2.0))], a)
    fn, a = bce("mean", pos_weight=True)
    case(L, "BceWithLogits.pos", "BceWithLogits", fn, [randn(2, 3, 4), (uniform(0, 1, 2, 3, 4) > 0.5).float(), ng(positive(4, lo=0.2, hi=3.0))], a)
    fn, a = bce("none", pos_weight=True)
    case(L, "BceWithLogits.large", "BceWithLogits", fn,
         [torch.tensor([[-120.0, -35.0, -3.0, 0.0], [0.5, 4.0, 40.0, 150.0]]), torch.tensor([[1.0, 0.0, 0.3, 1.0], [0.0, 0.7, 1.0, 0.0]]),
          ng(torch.tensor([2.0, 0.5, 1.0, 3.0]))], a)
    fn, a = bce("sum", weight=True, pos_weight=True)
    case(L, "BceWithLogits.f64", "BceWithLogits", fn,
         [randn(3, 4, dtype=F64, scale=2.0), uniform(0, 1, 3, 4, dtype=F64), ng(positive(4, lo=0.2, hi=2.0, dtype=F64)), ng(positive(4, lo=0.2, hi=3.0, dtype=F64))], a)

    # ---- KL divergence
    for lt in (False, True):
        for r in ("mean", "sum", "none", "batchmean"):
            tgt = logp(3, C) if lt else torch.exp(logp(3, C))
            case(L, f"KlDiv.{'log_' if lt else ''}{r}", "KlDiv",
                 lambda x, t, r=r, lt=lt: F.kl_div(x, t, reduction=r, log_target=lt), [logp(3, C), tgt],
                 {"reduction": r, "log_target": lt})
    case(L, "KlDiv.batchmean_3d", "KlDiv", lambda x, t: F.kl_div(x, t, reduction="batchmean"),
         [logp(2, 3, 4), torch.exp(logp(2, 3, 4))], {"reduction": "batchmean", "log_target": False})
    case(L, "KlDiv.f64", "KlDiv", lambda x, t: F.kl_div(x, t, reduction="batchmean", log_target=True),
         [logp(3, C, dtype=F64), logp(3, C, dtype=F64)], {"reduction": "batchmean", "log_target": True})
    # zero target entries contribute 0 (PyTorch's target gradient there is NaN, so the target takes none here)
    zt = torch.exp(logp(3, C))
    zt[0, 1] = 0.0
    zt[2, 4] = 0.0
    case(L, "KlDiv.zero_target", "KlDiv", lambda x, t: F.kl_div(x, t, reduction="sum"), [logp(3, C), ng(zt)],
         {"reduction": "sum", "log_target": False})

    # ---- sigmoid focal loss
    for alpha, gamma, r in ((0.25, 2.0, "none"), (0.25, 2.0, "mean"), (0.25, 2.0, "sum"), (-1.0, 2.0, "mean"),
                            (0.5, 0.0, "sum"), (0.75, 1.5, "mean"), (0.25, 3.0, "none")):
        case(L, f"SigmoidFocalLoss.a{alpha}_g{gamma}_{r}", "SigmoidFocalLoss",
             lambda x, t, alpha=alpha, gamma=gamma, r=r: sigmoid_focal_loss(x, t, alpha, gamma, r),
             [randn(3, 4, scale=2.0), (uniform(0, 1, 3, 4) > 0.6).float()], {"alpha": alpha, "gamma": gamma, "reduction": r})
    case(L, "SigmoidFocalLoss.soft_target", "SigmoidFocalLoss", lambda x, t: sigmoid_focal_loss(x, t, 0.25, 2.0, "sum"),
         [randn(2, 5, scale=2.0), uniform(0, 1, 2, 5)], {"alpha": 0.25, "gamma": 2.0, "reduction": "sum"})
    case(L, "SigmoidFocalLoss.f64", "SigmoidFocalLoss", lambda x, t: sigmoid_focal_loss(x, t, 0.25, 2.0, "mean"),
         [randn(3, 4, dtype=F64, scale=2.0), (uniform(0, 1, 3, 4, dtype=F64) > 0.5).to(F64)], {"alpha": 0.25, "gamma": 2.0, "reduction": "mean"})


# ---- attention layers (family "attention") ----------------------------------------------------
#
#   Embedding {padding_idx}                       [weight, indices]        [F.embedding / nn.Embedding]
#   MultiheadAttention {embed_dim, num_heads, batch_first, bias, self, average, attn_mask, key_padding_mask}
#       inputs: query, key and value (only the query when "self": the module is called as m(x, x, x)),
#       in_proj_weight, in_proj_bias (if bias), out_proj.weight, out_proj.bias (if bias), then the attn
#       mask if "attn_mask" is "bool" or "float" and the key padding mask if "key_padding_mask" is "bool"
#       (bool: true = masked). The parameters are loaded into nn.MultiheadAttention (dropout 0) and
#       their gradients recorded. outputs: attn_output, attn_output_weights.
#   ScaledDotProduct {mask: null|"bool"|"float", is_causal}   [q, k, v, mask?]
#       softmax(q/sqrt(D) @ k^T + mask) @ v; a bool mask is true where attention is ALLOWED (the
#       convention of torch 2's F.scaled_dot_product_attention). outputs: output, weights.
#   SinusoidalPE {max_len, batch_first}           [x]       x + PE[:L] ("Attention is all you need")
#   LearnedPE {batch_first}                       [x, weight]   x + weight[:L]

def sinusoidal_table(max_len, d_model):
    position = torch.arange(max_len, dtype=F64).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d_model, 2, dtype=F64) * (-math.log(10000.0) / d_model))
    pe = torch.zeros(max_len, d_model, dtype=F64)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term[: d_model // 2])
    return pe


def attention():
    A = "attention"
    F = torch.nn.functional
    from torch.nn.utils import stateless

    emb = lambda pad: (lambda w, i: F.embedding(i, w, padding_idx=pad))
    case(A, "Embedding.basic", "Embedding", emb(None), [randn(5, 3), torch.tensor([[0, 2, 2], [4, 1, 0]])], {"padding_idx": None})
    case(A, "Embedding.1d", "Embedding", emb(None), [randn(6, 4), index(6, 7)], {"padding_idx": None})
    case(A, "Embedding.scalar", "Embedding", emb(None), [randn(4, 3), torch.tensor(2)], {"padding_idx": None})
    case(A, "Embedding.padding", "Embedding", emb(1), [randn(5, 3), torch.tensor([[1, 2, 1], [4, 1, 0]])], {"padding_idx": 1})
    case(A, "Embedding.padding_neg", "Embedding", emb(-1), [randn(5, 3), torch.tensor([[4, 2], [3, 4]])], {"padding_idx": -1})
    case(A, "Embedding.f64", "Embedding", emb(0), [randn(4, 2, dtype=F64), torch.tensor([[0, 3, 1, 0]])], {"padding_idx": 0})

    def mha(name, E, H, L, S, N, batch_first=False, bias=True, self_attn=False, average=True,
            attn_mask=None, kpm=False, dtype=F32, batched=True):
        m = torch.nn.MultiheadAttention(E, H, bias=bias, batch_first=batch_first, dtype=dtype)
        names = [n for n, _ in m.named_parameters()]
        def shape(length):
            if not batched:
                return (length, E)
            return (N, length, E) if batch_first else (length, N, E)
        ins = [randn(*shape(L), dtype=dtype)]
        if not self_attn:
            ins += [randn(*shape(S), dtype=dtype), randn(*shape(S), dtype=dtype)]
        params = {"in_proj_weight": randn(3 * E, E, dtype=dtype, scale=0.5), "in_proj_bias": randn(3 * E, dtype=dtype, scale=0.2),
                  "out_proj.weight": randn(E, E, dtype=dtype, scale=0.5), "out_proj.bias": randn(E, dtype=dtype, scale=0.2)}
        ins += [params[n] for n in names]
        nb = N if batched else 1
        if attn_mask == "bool":
            am = torch.rand(L, S, generator=_gen) > 0.6
            am[:, 0] = False  # every query keeps at least one key
            ins.append(am)
        elif attn_mask == "bool3d":
            am = torch.rand(nb * H, L, S, generator=_gen) > 0.6
            am[:, :, 0] = False
            ins.append(am)
        elif attn_mask == "float":
            ins.append(randn(L, S, dtype=dtype))
        if kpm:
            kp = torch.rand(nb, S, generator=_gen) > 0.6
            kp[:, 0] = False  # the key every query keeps (see the attn masks)
            kp[0, -1] = True
            ins.append(kp if batched else kp[0])
        n_qkv = 1 if self_attn else 3

        def fn(*xs):
            xs = list(xs)
            q = xs[0]
            k, v = (q, q) if self_attn else (xs[1], xs[2])
            ps = dict(zip(names, xs[n_qkv:n_qkv + len(names)]))
            rest = xs[n_qkv + len(names):]
            am_ = rest.pop(0) if attn_mask else None
            kp_ = rest.pop(0) if kpm else None
            return stateless.functional_call(m, ps, (q, k, v), {"key_padding_mask": kp_, "need_weights": True,
                                                                "attn_mask": am_, "average_attn_weights": average})
        args = {"embed_dim": E, "num_heads": H, "batch_first": batch_first, "bias": bias, "self": self_attn,
                "average": average, "attn_mask": {"bool3d": "bool"}.get(attn_mask, attn_mask), "key_padding_mask": "bool" if kpm else None}
        case(A, name, "MultiheadAttention", fn, ins, args)

    mha("MultiheadAttention.self", 6, 2, 3, 3, 2, self_attn=True)
    mha("MultiheadAttention.cross_batch_first_masks", 4, 2, 3, 4, 2, batch_first=True, attn_mask="bool", kpm=True)
    mha("MultiheadAttention.float_mask_kpm", 4, 2, 2, 3, 2, attn_mask="float", kpm=True)
    mha("MultiheadAttention.mask3d_per_head", 4, 2, 3, 3, 2, attn_mask="bool3d", average=False)
    mha("MultiheadAttention.unbatched_kpm", 6, 3, 2, 4, 1, attn_mask="float", kpm=True, batched=False)
    mha("MultiheadAttention.no_bias", 4, 1, 2, 3, 2, bias=False, batch_first=True)
    mha("MultiheadAttention.f64", 4, 2, 3, 3, 2, self_attn=True, attn_mask="bool", dtype=F64)

    def sdpa(mask_kind, causal):
        def fn(q, k, v, *m):
            s = (q / math.sqrt(q.shape[-1])) @ k.transpose(-2, -1)
            if mask_kind == "bool":
                s = s.masked_fill(~m[0], float("-inf"))
            elif mask_kind == "float":
                s = s + m[0]
            if causal:
                Lq, Sk = s.shape[-2], s.shape[-1]
                s = s.masked_fill(torch.ones(Lq, Sk, dtype=torch.bool).triu(1), float("-inf"))
            w = torch.softmax(s, -1)
            return w @ v, w
        return fn, {"mask": mask_kind, "is_causal": causal}

    fn, a = sdpa(None, False)
    case(A, "ScaledDotProduct.plain", "ScaledDotProduct", fn, [randn(2, 3, 4), randn(2, 5, 4), randn(2, 5, 3)], a)
    keep = torch.rand(3, 5, generator=_gen) > 0.4
    keep[:, 0] = True
    fn, a = sdpa("bool", False)
    case(A, "ScaledDotProduct.bool_mask", "ScaledDotProduct", fn, [randn(2, 2, 3, 4), randn(2, 2, 5, 4), randn(2, 2, 5, 2), keep], a)
    fn, a = sdpa("float", True)
    case(A, "ScaledDotProduct.float_causal", "ScaledDotProduct", fn, [randn(2, 4, 3), randn(2, 4, 3), randn(2, 4, 3), randn(4, 4)], a)
    fn, a = sdpa(None, True)
    case(A, "ScaledDotProduct.f64_causal", "ScaledDotProduct", fn, [randn(3, 4, dtype=F64), randn(5, 4, dtype=F64), randn(5, 2, dtype=F64)], a)

    for bf, shape in ((False, (4, 2, 6)), (True, (2, 4, 6)), (False, (3, 5))):
        x = randn(*shape)
        d = shape[-1]
        pe = sinusoidal_table(16, d)
        def fn(t, pe=pe, bf=bf):
            if t.dim() == 2:
                return t + pe[: t.shape[0]].to(t.dtype)
            if bf:
                return t + pe[: t.shape[1]].to(t.dtype).unsqueeze(0)
            return t + pe[: t.shape[0]].to(t.dtype).unsqueeze(1)
        case(A, f"SinusoidalPE.{'bf' if bf else 'sf'}{len(shape)}d_{d}", "SinusoidalPE", fn, [x], {"max_len": 16, "batch_first": bf})
    case(A, "SinusoidalPE.odd_f64", "SinusoidalPE", lambda t: t + sinusoidal_table(50, 5)[: t.shape[0]].unsqueeze(1),
         [randn(7, 2, 5, dtype=F64)], {"max_len": 50, "batch_first": False})
    case(A, "LearnedPE.sf", "LearnedPE", lambda t, w: t + w[: t.shape[0]].unsqueeze(1), [randn(3, 2, 4), randn(6, 4)], {"batch_first": False})
    case(A, "LearnedPE.bf", "LearnedPE", lambda t, w: t + w[: t.shape[1]].unsqueeze(0), [randn(2, 3, 4), randn(5, 4)], {"batch_first": True})


# ---- layers -----------------------------------------------------------------------------------

def layer_case(name, op, make, args, xs, params=(), train=True, buffers=()):
    """Runs the module make() on xs in turn (training mode = train) after copying params into it."""
    F = "layers"
    xs = [x if isinstance(x, In) else In(x) for x in xs]
    for x in xs[:-1]:
        x.grad = False
    module = make()
    module.train(train)
    state = dict(module.named_parameters())
    state.update(module.named_buffers())
    with torch.no_grad():
        for pname, value in params:
            state[pname].copy_(value)
    views = [x.materialize()[1] for x in xs]
    y = None
    for v in views:
        y = module(v)
    outs = [y] + [module.get_buffer(b).detach().clone() for b in buffers]
    w = randn(*y.shape, dtype=y.dtype)
    loss = (y * w).sum()
    wrt = [views[-1]] if xs[-1].grad else []
    pgrad = [isinstance(state[pname], torch.nn.Parameter) for pname, _ in params]
    wrt += [state[pname] for (pname, _), g in zip(params, pgrad) if g]
    gs = list(torch.autograd.grad(loss, wrt, allow_unused=True)) if wrt else []
    grads = [None] * (len(xs) - 1)
    grads.append(gs.pop(0) if xs[-1].grad else None)
    for (pname, value), g in zip(params, pgrad):
        grads.append((gs.pop(0) if g else None))
    grads = [None if g is None else g for g in grads]
    for i, ((pname, value), g) in enumerate(zip(params, pgrad)):
        if g and grads[len(xs) + i] is None:
            grads[len(xs) + i] = torch.zeros_like(value)
    inputs = [dict(tensor_json(x.value), grad=x.grad, layout=x.layout) for x in xs]
    inputs += [dict(tensor_json(value), grad=g, layout="contiguous") for (_, value), g in zip(params, pgrad)]
    full_args = dict(args)
    full_args.update({"params": [pname for pname, _ in params], "train": train, "steps": len(xs), "buffers": list(buffers)})
    entry = {
        "name": name,
        "op": op,
        "dtype": DT_NAME[xs[-1].value.dtype],
        "args": full_args,
        "inputs": inputs,
        "outputs": [tensor_json(o) for o in outs],
        "w": [tensor_json(w)] + [None] * len(buffers),
        "grads": [None if g is None else tensor_json(g) for g in grads],
    }
    cases = FAMILIES.setdefault(F, [])
    assert all(c["name"] != name for c in cases), name
    cases.append(entry)


def layers():
    nn_ = torch.nn

    def conv(name, n, cin, h, w, cout, k, stride=1, padding=0, dilation=1, groups=1, bias=True, dtype=F32, layout=None, unbatched=False):
        kh, kw = (k, k) if isinstance(k, int) else k
        args = {"in_channels": cin, "out_channels": cout, "kernel_size": [kh, kw], "stride": stride, "padding": padding,
                "dilation": dilation, "groups": groups, "bias": bias}
        make = lambda: nn_.Conv2d(cin, cout, (kh, kw), stride=stride, padding=padding, dilation=dilation, groups=groups, bias=bias, dtype=dtype)
        shape = (cin, h, w) if unbatched else (n, cin, h, w)
        x = randn(*shape, dtype=dtype)
        x = In(x, layout=layout) if layout else x
        params = [("weight", randn(cout, cin // groups, kh, kw, dtype=dtype, scale=0.5))]
        if bias:
            params.append(("bias", randn(cout, dtype=dtype)))
        layer_case(name, "Conv2d", make, args, [x], params)

    conv("Conv2d.basic", 2, 3, 7, 6, 4, 3)
    conv("Conv2d.stride_pad", 2, 3, 8, 7, 5, (3, 2), stride=[2, 1], padding=[1, 0])
    conv("Conv2d.dilation", 1, 2, 9, 9, 3, 3, dilation=2, padding=2)
    conv("Conv2d.dilation_stride_rect", 2, 2, 10, 9, 3, (2, 3), stride=[3, 2], padding=[1, 2], dilation=[2, 1])
    conv("Conv2d.groups", 2, 4, 6, 6, 6, 3, stride=2, padding=1, groups=2)
    conv("Conv2d.depthwise", 2, 3, 5, 5, 3, 3, padding=1, groups=3)
    conv("Conv2d.pointwise_nobias", 2, 3, 4, 5, 4, 1, bias=False)
    conv("Conv2d.pointwise_stride", 1, 3, 5, 5, 2, 1, stride=2)
    conv("Conv2d.noncontig", 2, 2, 5, 6, 3, 3, padding=1, layout="transposed")
    conv("Conv2d.unbatched", 1, 3, 5, 5, 2, 3, unbatched=True)
    conv("Conv2d.f64", 2, 3, 6, 6, 4, 3, stride=2, padding=1, dtype=F64)
    conv("Conv2d.large", 2, 16, 8, 8, 8, 3, padding=1)

    def convt(name, n, cin, h, w, cout, k, stride=1, padding=0, output_padding=0, groups=1, dilation=1, bias=True):
        kh, kw = (k, k) if isinstance(k, int) else k
        args = {"in_channels": cin, "out_channels": cout, "kernel_size": [kh, kw], "stride": stride, "padding": padding,
                "output_padding": output_padding, "groups": groups, "bias": bias, "dilation": dilation}
        make = lambda: nn_.ConvTranspose2d(cin, cout, (kh, kw), stride=stride, padding=padding, output_padding=output_padding,
                                           groups=groups, bias=bias, dilation=dilation)
        params = [("weight", randn(cin, cout // groups, kh, kw, scale=0.5))]
        if bias:
            params.append(("bias", randn(cout)))
        layer_case(name, "ConvTranspose2d", make, args, [randn(n, cin, h, w)], params)

    convt("ConvTranspose2d.basic", 2, 3, 4, 5, 2, 3)
    convt("ConvTranspose2d.stride_outpad", 2, 4, 4, 3, 3, 3, stride=2, padding=1, output_padding=1)
    convt("ConvTranspose2d.groups_dilation", 1, 4, 3, 4, 6, (2, 3), stride=[1, 2], padding=[0, 1], groups=2, dilation=2, bias=False)

    def unfold(name, shape, k, dilation=1, padding=0, stride=1):
        args = {"kernel_size": k, "dilation": dilation, "padding": padding, "stride": stride}
        layer_case(name, "Unfold", lambda: nn_.Unfold(k, dilation, padding, stride), args, [randn(*shape)])

    unfold("Unfold.basic", (2, 3, 5, 4), [2, 3])
    unfold("Unfold.all", (1, 2, 7, 6), [3, 2], dilation=[2, 1], padding=[1, 2], stride=[2, 3])

    def fold(name, shape, out, k, dilation=1, padding=0, stride=1):
        args = {"output_size": out, "kernel_size": k, "dilation": dilation, "padding": padding, "stride": stride}
        layer_case(name, "Fold", lambda: nn_.Fold(out, k, dilation, padding, stride), args, [randn(*shape)])

    fold("Fold.basic", (2, 12, 12), [5, 4], [2, 2])
    fold("Fold.all", (1, 12, 9), [7, 6], [3, 2], dilation=[2, 1], padding=[1, 2], stride=[2, 3])

    def maxpool(name, x, k, stride=None, padding=0, dilation=1, ceil_mode=False):
        args = {"kernel_size": k, "stride": stride, "padding": padding, "dilation": dilation, "ceil_mode": ceil_mode}
        layer_case(name, "MaxPool2d", lambda: nn_.MaxPool2d(k, stride, padding, dilation, ceil_mode=ceil_mode), args, [x])

    maxpool("MaxPool2d.k2", distinct(2, 3, 6, 6), 2)
    maxpool("MaxPool2d.k3_s2_p1", distinct(2, 2, 7, 6), 3, stride=2, padding=1)
    maxpool("MaxPool2d.rect_dilation", distinct(1, 2, 9, 8), [3, 2], stride=[2, 1], padding=[1, 1], dilation=[2, 3])
    maxpool("MaxPool2d.ceil", distinct(1, 2, 7, 7), 2, ceil_mode=True)
    maxpool("MaxPool2d.ceil_pad", distinct(1, 1, 8, 6), 3, stride=2, padding=1, ceil_mode=True)
    maxpool("MaxPool2d.noncontig", In(distinct(2, 2, 5, 6), layout="transposed"), 2, stride=1)
    maxpool("MaxPool2d.unbatched", distinct(3, 4, 4), 2)
    maxpool("MaxPool2d.f64", distinct(2, 2, 5, 5, dtype=F64), 3, stride=1, padding=1)
    # ties (small integers): the gradient goes to the first maximum in each window; windows overlap
    ties = torch.randint(0, 3, (2, 2, 6, 6), generator=_gen).to(F32)
    maxpool("MaxPool2d.tie_overlap", ties, 3, stride=1, padding=1)
    maxpool("MaxPool2d.tie_k2", ties.clone(), 2)

    def avgpool(name, x, k, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None):
        args = {"kernel_size": k, "stride": stride, "padding": padding, "ceil_mode": ceil_mode,
                "count_include_pad": count_include_pad, "divisor_override": divisor_override}
        make = lambda: nn_.AvgPool2d(k, stride, padding, ceil_mode, count_include_pad, divisor_override)
        layer_case(name, "AvgPool2d", make, args, [x])

    avgpool("AvgPool2d.k2", randn(2, 3, 6, 6), 2)
    avgpool("AvgPool2d.k3_s2_p1", randn(2, 2, 7, 6), 3, stride=2, padding=1)
    avgpool("AvgPool2d.k3_s2_p1_nopad", randn(2, 2, 7, 6), 3, stride=2, padding=1, count_include_pad=False)
    avgpool("AvgPool2d.ceil", randn(1, 2, 7, 5), [3, 2], stride=[2, 2], padding=[1, 1], ceil_mode=True)
    avgpool("AvgPool2d.ceil_nopad", randn(1, 2, 7, 5), [3, 2], stride=[2, 2], padding=[1, 1], ceil_mode=True, count_include_pad=False)
    avgpool("AvgPool2d.divisor", randn(2, 2, 5, 5), 2, stride=1, padding=1, divisor_override=3)
    avgpool("AvgPool2d.noncontig", T(randn(2, 2, 6, 5)), 2, stride=[1, 2])
    avgpool("AvgPool2d.f64", randn(2, 2, 5, 6, dtype=F64), 3, stride=2, padding=1)

    def adaptive(name, x, out):
        layer_case(name, "AdaptiveAvgPool2d", lambda: nn_.AdaptiveAvgPool2d(out), {"output_size": out}, [x])

    adaptive("AdaptiveAvgPool2d.7x5_to_3x2", randn(2, 3, 7, 5), [3, 2])
    adaptive("AdaptiveAvgPool2d.global", randn(2, 4, 5, 6), [1, 1])
    adaptive("AdaptiveAvgPool2d.upsample", randn(1, 2, 3, 4), [5, 6])
    adaptive("AdaptiveAvgPool2d.unbatched", randn(3, 6, 6), [2, 3])

    def bn(name, cls, shape, train=True, affine=True, momentum=0.1, track=True, steps=1, eps=1e-5, dtype=F32, layout=None):
        c = shape[1]
        op = cls.__name__
        args = {"num_features": c, "eps": eps, "momentum": momentum, "affine": affine, "track_running_stats": track}
        make = lambda: cls(c, eps=eps, momentum=momentum, affine=affine, track_running_stats=track, dtype=dtype)
        params = []
        if affine:
            params += [("weight", randn(c, dtype=dtype) * 0.5 + 1), ("bias", randn(c, dtype=dtype))]
        if track and (not train or steps > 1):
            params += [("running_mean", randn(c, dtype=dtype)), ("running_var", uniform(0.5, 2.0, c, dtype=dtype))]
        xs = [randn(*shape, dtype=dtype, scale=2.0) + 0.5 for _ in range(steps)]
        if layout:
            xs[-1] = In(xs[-1], layout=layout)
        buffers = ("running_mean", "running_var", "num_batches_tracked") if track else ()
        layer_case(name, op, make, args, xs, params, train=train, buffers=buffers)

    bn("BatchNorm2d.train", nn_.BatchNorm2d, (4, 3, 5, 5))
    bn("BatchNorm2d.train_2steps", nn_.BatchNorm2d, (3, 3, 4, 5), steps=2)
    bn("BatchNorm2d.cumulative_2steps", nn_.BatchNorm2d, (3, 2, 4, 4), steps=2, momentum=None)
    bn("BatchNorm2d.eval", nn_.BatchNorm2d, (2, 3, 4, 4), train=False)
    bn("BatchNorm2d.no_affine", nn_.BatchNorm2d, (3, 2, 3, 3), affine=False)
    bn("BatchNorm2d.no_stats_eval", nn_.BatchNorm2d, (3, 2, 3, 3), track=False, train=False)
    bn("BatchNorm2d.noncontig", nn_.BatchNorm2d, (2, 3, 4, 5), layout="transposed")
    bn("BatchNorm2d.f64", nn_.BatchNorm2d, (3, 2, 3, 4), dtype=F64, steps=2)
    bn("BatchNorm1d.2d", nn_.BatchNorm1d, (6, 4))
    bn("BatchNorm1d.3d_2steps", nn_.BatchNorm1d, (4, 3, 5), steps=2, momentum=0.3, eps=1e-3)
    bn("BatchNorm1d.eval", nn_.BatchNorm1d, (5, 4), train=False)

    def ln(name, shape, norm, affine=True, eps=1e-5, dtype=F32):
        args = {"normalized_shape": norm, "eps": eps, "elementwise_affine": affine}
        params = [("weight", randn(*norm, dtype=dtype) * 0.5 + 1), ("bias", randn(*norm, dtype=dtype))] if affine else []
        layer_case(name, "LayerNorm", lambda: nn_.LayerNorm(norm, eps=eps, elementwise_affine=affine, dtype=dtype), args,
                   [randn(*shape, dtype=dtype, scale=2.0) + 0.3], params)

    ln("LayerNorm.last", (3, 4, 5), [5])
    ln("LayerNorm.last2", (2, 3, 4, 5), [4, 5])
    ln("LayerNorm.no_affine", (3, 6), [6], affine=False)
    ln("LayerNorm.eps_f64", (4, 5), [5], eps=1e-3, dtype=F64)

    def gn(name, shape, groups, affine=True, eps=1e-5):
        c = shape[1]
        args = {"num_groups": groups, "num_channels": c, "eps": eps, "affine": affine}
        params = [("weight", randn(c) * 0.5 + 1), ("bias", randn(c))] if affine else []
        layer_case(name, "GroupNorm", lambda: nn_.GroupNorm(groups, c, eps=eps, affine=affine), args, [randn(*shape, scale=2.0) - 0.4], params)

    gn("GroupNorm.g3", (2, 6, 4, 3), 3)
    gn("GroupNorm.g1", (3, 4, 5), 1)
    gn("GroupNorm.g6_no_affine", (2, 6, 3, 3), 6, affine=False)

    def inorm(name, shape, affine=False, track=False, train=True, steps=1):
        c = shape[-3]
        args = {"num_features": c, "eps": 1e-5, "momentum": 0.1, "affine": affine, "track_running_stats": track}
        params = [("weight", randn(c) * 0.5 + 1), ("bias", randn(c))] if affine else []
        if track and (not train or steps > 1):
            params += [("running_mean", randn(c)), ("running_var", uniform(0.5, 2.0, c))]
        buffers = ("running_mean", "running_var", "num_batches_tracked") if track else ()
        make = lambda: nn_.InstanceNorm2d(c, affine=affine, track_running_stats=track)
        layer_case(name, "InstanceNorm2d", make, args, [randn(*shape, scale=2.0) + 1.0 for _ in range(steps)], params, train=train, buffers=buffers)

    inorm("InstanceNorm2d.default", (2, 3, 4, 5))
    inorm("InstanceNorm2d.affine", (2, 3, 4, 4), affine=True)
    inorm("InstanceNorm2d.track_2steps", (3, 2, 3, 4), affine=True, track=True, steps=2)
    inorm("InstanceNorm2d.track_eval", (2, 2, 3, 3), track=True, train=False)
    inorm("InstanceNorm2d.unbatched", (3, 4, 4), affine=True)


def write_family(family):
    """Writes the recorded cases of `family` to <family>.json beside this script; returns the file's size."""
    cases = FAMILIES[family]
    path = os.path.join(OUT_DIR, family + ".json")
    head = {"format": 1, "family": family, "torch": torch.__version__}
    text = dump(head)[:-1] + ',"cases":[\n' + ",\n".join(dump(c) for c in cases) + "\n]}\n"
    json.loads(text)  # sanity: valid JSON
    with open(path, "w") as fh:
        fh.write(text)
    print(f"{path}: {len(cases)} cases, {len(text)} bytes")
    return len(text)


def main():
    # each family draws from its own seed, so adding cases to one family leaves the others unchanged
    for seed, family in enumerate((elementwise, reduce, linalg, shape, indexing, nn)):
        _gen.manual_seed(1000 + seed)
        family()
    # later families have fixed seeds of their own, so families added elsewhere cannot shift them
    for seed, family in ((2000, losses), (2001, attention), (2002, optim), (2006, layers)):
        _gen.manual_seed(seed)
        family()
    total = sum(write_family(family) for family in FAMILIES)
    print(f"total {total} bytes")
    if total > 2_000_000:
        sys.exit("golden data too large")


if __name__ == "__main__":
    main()
