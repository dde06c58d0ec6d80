#!/usr/bin/python3
"""Golden data from PyTorch's own OpInfo database, for the registry sweep's comparison with PyTorch.

Run with Debian's PyTorch (python3-torch):  /usr/bin/python3 tests/golden/make_opinfo.py
It rewrites tests/golden/opinfo.jsonl (committed; CI never needs Python).

For every op of the families listed below in ../shared/ops-target.tsv (or the fallback list when that file
is not beside the repository), it takes OpInfo's float64 sample inputs (default variant only) whose extra
arguments are tensors or plain numbers and whose kwargs are empty, runs the op, and records the output and,
for ops PyTorch differentiates, the gradient of sum(output * w) with respect to each floating tensor input
for a fixed random w. One JSON object per line:

  {"torch": name, "sample": k, "inputs": [ARG, ...], "output": TENSOR, "w": TENSOR|null, "grads": [TENSOR|null, ...]}
  ARG    = {"tensor": TENSOR} | {"number": x}      (positional arguments, the op's input first)
  TENSOR = {"shape": [...], "dtype": "float64"|"int64"|"bool", "data": [...]}   logical row-major;
           non-finite floats are the strings "nan", "inf", "-inf".

The OpInfo database imports the module `expecttest`, which Debian lacks; a stub is put on sys.path here.
"""
import json, math, os, sys, tempfile

stub = tempfile.mkdtemp()
with open(os.path.join(stub, "expecttest.py"), "w") as f:
    f.write("ACCEPT = False\nimport unittest\nclass TestCase(unittest.TestCase):\n    pass\n")
sys.path.insert(0, stub)

import torch
from torch.testing._internal.common_methods_invocations import op_db

torch.manual_seed(0)
torch.set_num_threads(1)
here = os.path.dirname(os.path.abspath(__file__))
FAMILIES = {"unary", "binary"}
MAX_SAMPLES = 8       # per op
MAX_NUMEL = 64        # per tensor, to keep the file small (a larger single input is cut to its first elements)

def targets():
    tsv = os.path.join(here, "..", "..", "..", "shared", "ops-target.tsv")
    names = []
    for line in open(tsv):
        if line.startswith("#") or not line.strip():
            continue
        fam, name, grad, fwd = line.rstrip("\n").split("\t")
        if fam in FAMILIES:
            names.append((name, grad == "grad"))
    return names

def num(v):
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v

def tensor(t):
    t = t.detach()
    if t.layout != torch.strided or t.is_meta:
        return None
    if t._is_zerotensor():  # autograd's efficient zero gradient
        t = torch.zeros(t.shape, dtype=t.dtype)
    dtype = {torch.float64: "float64", torch.int64: "int64", torch.bool: "bool"}.get(t.dtype)
    if dtype is None:
        if t.is_floating_point():
            t, dtype = t.double(), "float64"
        elif t.dtype in (torch.int32, torch.int16, torch.int8, torch.uint8):
            t, dtype = t.long(), "int64"
        else:
            return None
    return {"shape": list(t.shape), "dtype": dtype, "data": [num(v) for v in t.reshape(-1).tolist()]}

def main():
    out_path = os.path.join(here, "opinfo.jsonl")
    by_name = {}
    for op in op_db:
        if op.variant_test_name == "":
            by_name.setdefault(op.name, op)
    lines, count = [], {}
    for name, differentiable in targets():
        op = by_name.get(name)
        if op is None:
            continue
        k = 0
        try:
            samples = list(op.sample_inputs("cpu", torch.float64, requires_grad=differentiable))
        except Exception as e:  # an op whose sample generator needs something we lack
            print(f"{name}: no samples ({e})", file=sys.stderr)
            continue
        for s in samples:
            if k >= MAX_SAMPLES:
                break
            if s.kwargs or not torch.is_tensor(s.input):
                continue
            args = [s.input] + list(s.args)
            if len(args) == 1 and args[0].numel() > MAX_NUMEL:  # elementwise unary: the first elements, as a vector
                args = [args[0].detach().reshape(-1)[:MAX_NUMEL].clone().requires_grad_(args[0].requires_grad)]
            if not all(torch.is_tensor(a) or isinstance(a, (int, float)) and not isinstance(a, bool) for a in args):
                continue
            if any(torch.is_tensor(a) and a.numel() > MAX_NUMEL for a in args):
                continue
            if any(torch.is_tensor(a) and tensor(a) is None for a in args):
                continue
            try:
                y = op.op(*args)
            except Exception as e:
                continue
            if not torch.is_tensor(y) or tensor(y) is None:
                continue
            rec = {"torch": name, "sample": k, "inputs": [{"tensor": tensor(a)} if torch.is_tensor(a) else {"number": num(a)} for a in args],
                   "output": tensor(y), "w": None, "grads": None}
            diff = [a for a in args if torch.is_tensor(a) and a.requires_grad]
            if differentiable and y.is_floating_point() and y.requires_grad and diff:
                w = torch.randn(y.shape, dtype=y.dtype)
                gs = torch.autograd.grad((y * w).sum(), diff, allow_unused=True)
                it = iter(gs)
                rec["w"] = tensor(w)
                rec["grads"] = [(lambda g: tensor(g) if g is not None else None)(next(it)) if torch.is_tensor(a) and a.requires_grad else None for a in args]
            lines.append(json.dumps(rec, separators=(",", ":")))
            k += 1
        count[name] = k
    with open(out_path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{len(lines)} cases for {sum(1 for v in count.values() if v)} ops -> {out_path}", file=sys.stderr)
    missing = [n for n, v in count.items() if v == 0]
    if missing:
        print("ops without usable samples: " + " ".join(missing), file=sys.stderr)

main()
