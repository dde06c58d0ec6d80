#!/usr/bin/env python3
"""PyTorch side of `fluxion bench ops`: the same op sweep, printing the same JSON lines.

    fluxion bench ops --spec > /tmp/ops-spec.jsonl          # the cases: names, shapes, value pools
    /usr/bin/python3 bench/torch/ops.py --spec /tmp/ops-spec.jsonl [--json] [--runs N] [--warmup-s S] [--filter S] [--size N]

Workloads ops/<pytorch_name>/<size>/fwd and .../fwdbwd. Inputs: the shapes of Fluxion's spec, float32 (or the spec's
dtype), elements drawn uniformly from the same value pools ("spd": R R^T/n + I; "dominant": n*mean|pool| added to the
diagonal), as Fluxion builds them. fwdbwd: forward, then backward of the output against a ones gradient, gradients for
every input. Design (the same as Fluxion's): a global warm-up of --warmup-s seconds (default 3) running every size-32
case in turn, then per case 0.2 s of warm-up and up to --runs runs (default 15) within 0.5 s (at least 3).

The calls: OPS below maps a PyTorch name to a lambda over the inputs, with the same attributes as Fluxion's registry
sample (or bench-only call) for that op. Elementwise unary and binary ops default to torch.<name>(*inputs). A case
with no lambda, or whose lambda fails, is listed on stderr as skipped with the reason. Two threads (the machine's cores).
"""
import json
import statistics
import sys
import time

import torch

torch.set_num_threads(2)

CASE_WARMUP_S, CASE_MEASURE_S = 0.2, 0.5

# Calls that are not torch.<name>(*inputs), or that carry attributes (as Fluxion's samples / bench-only calls).
OPS = {
    "argmax": lambda x: torch.argmax(x, 1),
    "argmin": lambda x: torch.argmin(x, 1),
    "argsort": lambda x: torch.argsort(x, 1),
    "count_nonzero": lambda x: torch.count_nonzero(x),
    "nonzero": lambda x: torch.nonzero(x),
    "all": lambda x: torch.all(x),
    "any": lambda x: torch.any(x),
    "matmul": lambda a, b: a @ b,
    "mm": lambda a, b: a @ b,
    "cdist": lambda a, b: torch.cdist(a, b),
}

# (pytorch name, Fluxion sample label) -> lambda, for samples with attributes
SAMPLE_OPS = {
    ("sum", "dims 0, 2"): lambda x: x.sum((0, 2)),
}

UNARY_BINARY = ("unary", "binary")


def resolve(name, family, sample, arity):
    f = SAMPLE_OPS.get((name, sample))
    if f is not None:
        return f
    f = OPS.get(name, "default")
    if f is None:
        return None
    if f != "default":
        return f
    if family not in UNARY_BINARY and not sample.startswith("[size, size]"):
        return None
    obj = torch
    for part in name.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return lambda *xs: obj(*xs)


def build_inputs(case, gen):
    dtype = torch.float32 if case["dtype"] == "float32" else torch.float64
    xs = []
    for shape, kind, pool in zip(case["shapes"], case["kinds"], case["pools"]):
        p = torch.tensor(pool, dtype=dtype)
        idx = torch.randint(len(pool), tuple(shape) if shape else (), generator=gen)
        x = p[idx]
        if kind in ("spd", "dominant"):
            n = shape[-1]
            eye = torch.eye(n, dtype=dtype)
            x = x @ x.mT / n + eye if kind == "spd" else x + eye * (n * p.abs().mean())
        xs.append(x.contiguous())
    return xs


def runner(f, xs, backward):
    if not backward:
        def fwd():
            with torch.no_grad():
                f(*xs)
        return fwd
    leaves = [x.detach().requires_grad_() for x in xs]
    ones = [None]

    def fwdbwd():
        y = f(*leaves)
        if ones[0] is None:
            ones[0] = torch.ones_like(y)
        y.backward(ones[0])
        for t in leaves:
            t.grad = None
    return fwdbwd


def measure(run, max_runs):
    t0 = time.perf_counter()
    run()
    while time.perf_counter() - t0 < CASE_WARMUP_S:
        run()
    times = []
    box = time.perf_counter()
    while len(times) < max(1, max_runs) and (len(times) < min(3, max_runs) or time.perf_counter() - box < CASE_MEASURE_S):
        s = time.perf_counter()
        run()
        times.append((time.perf_counter() - s) * 1e3)
    return times


def main(argv):
    spec, runs, warmup_s, filt, size, as_json = None, 15, 3.0, None, None, False
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--spec", "--runs", "--warmup-s", "--filter", "--size") and i + 1 < len(argv):
            v = argv[i + 1]
            if a == "--spec": spec = v
            elif a == "--runs": runs = max(1, int(v))
            elif a == "--warmup-s": warmup_s = float(v)
            elif a == "--filter": filt = v.lower()
            else: size = int(v)
            i += 2
            continue
        if a == "--json":
            as_json = True
        elif a in ("--no-rss", "--warmup"):
            i += 2 if a == "--warmup" else 1
            continue
        else:
            sys.exit(__doc__)
        i += 1
    if spec is None:
        sys.exit("ops.py: --spec FILE is required (the output of `fluxion bench ops --spec`)")
    cases = [json.loads(l) for l in open(spec) if l.strip()]
    if filt:
        cases = [c for c in cases if filt in c["torch"].lower() or filt in c["op"].lower()]
    gen = torch.Generator().manual_seed(0)
    ready = []
    for c in cases:
        f = resolve(c["torch"], c["family"], c["sample"], len(c["shapes"]))
        if f is None:
            print(f"skipped ops/{c['torch']}/{c['size']}: no call in bench/torch/ops.py for sample '{c['sample']}'", file=sys.stderr)
            continue
        try:
            xs = build_inputs(c, gen)
            with torch.no_grad():
                f(*xs)
            if c["differentiable"]:
                runner(f, xs, True)()
        except Exception as e:  # noqa: BLE001 - a failing case is reported, not fatal
            print(f"skipped ops/{c['torch']}/{c['size']}: {type(e).__name__}: {str(e).splitlines()[0][:200]}", file=sys.stderr)
            continue
        ready.append((c, f, xs))
    # global JIT/allocator warm-up over the size-32 cases
    small = [(c, f, xs) for c, f, xs in ready if c["size"] == 32]
    t0 = time.perf_counter()
    while small and time.perf_counter() - t0 < warmup_s:
        for c, f, xs in small:
            runner(f, xs, False)()
            if c["differentiable"]:
                runner(f, xs, True)()
    for c, f, xs in ready:
        if size is not None and c["size"] != size:
            continue
        for mode in (("fwd", False), ("fwdbwd", True)) if c["differentiable"] else (("fwd", False),):
            t = sorted(measure(runner(f, xs, mode[1]), runs))
            row = {"name": f"ops/{c['torch']}/{c['size']}/{mode[0]}", "median_ms": round(statistics.median(t), 4),
                   "min_ms": round(t[0], 4), "max_ms": round(t[-1], 4), "runs": len(t),
                   "shapes": ";".join("[" + ",".join(map(str, s)) + "]" for s in c["shapes"]), "dtype": c["dtype"]}
            print(json.dumps(row) if as_json else f"{row['name']:<40} median {row['median_ms']:9.3f} ms  min {row['min_ms']:9.3f}  runs {row['runs']}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
