#!/usr/bin/env python3
"""PyTorch side of `fluxion bench ops`: the cases of `fluxion bench ops --spec`, interpreted, printing the same JSON lines.

    fluxion bench ops --spec [--filter S] [--size N] > /tmp/ops-spec.jsonl
    /usr/bin/python3 bench/torch/ops.py --spec /tmp/ops-spec.jsonl [--json] [--runs N] [--warmup-s S] [--check]
    (or FLUXION_OPS_SPEC=/tmp/ops-spec.jsonl; bench/compare.sh ops does both)

One source of truth: every case of the spec carries the PyTorch call as a JSON tree (src/Fluxion.Cli/Bench/TorchCall.cs
documents it; the calls are written in src/Fluxion.Cli/Bench/ops-torch-calls.txt), its inputs' shapes, dtype, kinds and
value pools (element j of input i is pool[PoolIndex(j, i, len(pool))], the integer hash OpsBench.PoolIndex also uses,
so all sides get identical inputs; "spd": R R^T/n + I; "dominant": n*mean|pool| added to the diagonal), and which
inputs require grad. This file only interprets: no per-op code. Workloads ops/<torch>/<size>/fwd and .../fwdbwd
(forward, then backward of the output against a ones gradient). A case this side cannot run (no call in the spec,
or the call fails) prints {"name": ..., "skipped": reason}, never dropped. The fwd line carries abs_sum (sum of |y| in
float64; bench/compare.sh compares it with Fluxion's: the same call on the same inputs). --check only builds every
case and prints, per case, whether its abs_sum agrees with Fluxion's (relative 1e-3): the way to check a new call.

Timing (as Fluxion's OpsBench): a global warm-up of --warmup-s seconds (default 3) running every size-32 case in turn,
then per case 0.05 s of warm-up (at least one run) and up to --runs runs (default 15) within 0.15 s (at least 3).
Two threads (the machine's cores).
"""
import json
import os
import statistics
import sys
import time

import torch

torch.set_num_threads(2)

CASE_WARMUP_S, CASE_MEASURE_S = 0.05, 0.15
M = 2147483647


def pool_index(n, inp, length):
    """OpsBench.PoolIndex for j = 0..n-1, vectorized (int64, no overflow)."""
    j = torch.arange(n, dtype=torch.int64)
    a = ((j + 1) * 48271 + (inp + 1) * 16807) % M
    b = a * a % M
    c = b * b % M
    return c % length


def build_inputs(case):
    dtype = getattr(torch, case["dtype"])
    xs = []
    for i, (shape, kind, pool) in enumerate(zip(case["shapes"], case["kinds"], case["pools"])):
        p = torch.tensor(pool, dtype=torch.float64).to(dtype)
        n = 1
        for d in shape:
            n *= d
        x = p[pool_index(n, i, len(pool))].reshape(shape)
        if kind in ("spd", "dominant"):
            m = shape[-1]
            eye = torch.eye(m, dtype=dtype)
            x = x @ x.mT / m + eye if kind == "spd" else x + eye * (m * torch.tensor(pool, dtype=torch.float64).abs().mean().item())
        xs.append(x.contiguous())
    return xs


def flatcat(ts):
    return torch.cat([t.reshape(-1) for t in ts])


def slice_(x, dim, start, end, step=1):
    dim = dim % x.dim()
    return x[(slice(None),) * dim + (slice(start, end, step),)]


BUILTINS = {"flatcat": flatcat, "slice": slice_}


def resolve(path):
    obj = torch
    for part in path.split(".")[1:]:
        obj = getattr(obj, part)
    return obj


def compile_node(n):
    """The JSON tree of a call as a function of the inputs (functions resolved once)."""
    if n is None or isinstance(n, (bool, int, str)):
        return lambda xs: n
    if isinstance(n, list):
        parts = [compile_node(a) for a in n]
        return lambda xs: [p(xs) for p in parts]
    if "float" in n:
        v = float(n["float"])
        return lambda xs: v
    if "in" in n:
        i = n["in"]
        return lambda xs: xs[i]
    if "dtype" in n and "tensor" not in n:
        d = getattr(torch, n["dtype"])
        return lambda xs: d
    if "tensor" in n:
        t = torch.tensor(n["tensor"], dtype=getattr(torch, n["dtype"]))
        return lambda xs: t
    if "attr" in n:
        of, name = compile_node(n["of"]), n["attr"]
        return lambda xs: getattr(of(xs), name)
    if "item" in n:
        of, k = compile_node(n["of"]), n["item"]
        return lambda xs: of(xs)[k]
    if "call" in n:
        fn = n["call"]
        args = [(True, compile_node(a["star"])) if isinstance(a, dict) and "star" in a else (False, compile_node(a)) for a in n["args"]]
        kw = {k: compile_node(v) for k, v in n.get("kwargs", {}).items()}

        def argv(xs):
            out = []
            for star, a in args:
                if star:
                    out.extend(a(xs))
                else:
                    out.append(a(xs))
            return out, {k: v(xs) for k, v in kw.items()}

        if fn.startswith("."):
            name = fn[1:]

            def method(xs):
                a, k = argv(xs)
                return getattr(a[0], name)(*a[1:], **k)
            return method
        f = BUILTINS[fn] if fn in BUILTINS else resolve(fn)

        def call(xs):
            a, k = argv(xs)
            return f(*a, **k)
        return call
    raise ValueError(f"unknown node {n}")


def runner(f, xs, requires_grad, backward):
    if not backward:
        def fwd():
            with torch.no_grad():
                f(xs)
        return fwd
    leaves = [x.detach().requires_grad_(bool(r)) for x, r in zip(xs, requires_grad)]
    ones = [None]

    def fwdbwd():
        y = f(leaves)
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


def short(e):
    return f"{type(e).__name__}: {(str(e).splitlines() or [''])[0][:200]}"


def main(argv):
    spec, runs, warmup_s, as_json, check_only = os.environ.get("FLUXION_OPS_SPEC"), 15, 3.0, False, False
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--spec", "--runs", "--warmup-s", "--warmup") and i + 1 < len(argv):
            v = argv[i + 1]
            if a == "--spec": spec = v
            elif a == "--runs": runs = max(1, int(v))
            elif a == "--warmup-s": warmup_s = float(v)
            i += 2
            continue
        if a == "--json":
            as_json = True
        elif a == "--check":
            check_only = True
        elif a == "--list":
            print("ops")
            return
        elif a not in ("--no-rss", "ops"):
            sys.exit(__doc__)
        i += 1
    if spec is None:
        sys.exit("ops.py: --spec FILE (or FLUXION_OPS_SPEC) is required: the output of `fluxion bench ops --spec`")

    def emit(row):
        if as_json:
            print(json.dumps(row), flush=True)
        elif "skipped" in row:
            print(f"{row['name']:<48} skipped: {row['skipped']}", flush=True)
        else:
            print(f"{row['name']:<48} median {row['median_ms']:9.3f} ms  min {row['min_ms']:9.3f}  runs {row['runs']}", flush=True)

    ready = []
    for line in open(spec):
        if not line.strip():
            continue
        c = json.loads(line)
        name = f"ops/{c['torch']}/{c['size']}"
        if c.get("call") is None:
            emit({"name": name + "/fwd", "skipped": "no PyTorch call: " + (c.get("call_skip") or "none given")})
            continue
        try:
            f = compile_node(c["call"])
            xs = build_inputs(c)
            with torch.no_grad():
                y = f(xs)
            abs_sum = float(y.detach().double().abs().sum()) if isinstance(y, torch.Tensor) else abs(float(y))  # equal, allclose: a bool
        except Exception as e:  # noqa: BLE001 - a failing case is reported, not fatal
            emit({"name": name + "/fwd", "skipped": f"{c['call_text']}: {short(e)}"})
            continue
        rg = None  # fwdbwd: the spec's requires_grad, else (where PyTorch refuses a gradient for some input) x0's only
        if c["differentiable"]:
            for cand in (c["requires_grad"], [True] + [False] * (len(xs) - 1)):
                try:
                    runner(f, xs, cand, True)()
                    rg = cand
                    break
                except Exception as e:  # noqa: BLE001
                    err = err if cand is not c["requires_grad"] else short(e)
            if rg is None:
                emit({"name": name + "/fwdbwd", "skipped": f"{c['call_text']}: backward: {err}"})
        c["rg"] = rg
        ready.append((c, f, xs, abs_sum))
        if check_only and c.get("check", True):
            want = c["abs_sum"]
            want = float(want) if isinstance(want, str) else want
            rel = abs(abs_sum - want) / max(abs(want), 1e-30) if want == want else 0.0
            print(f"{'ok      ' if rel <= 1e-3 or abs_sum == want else 'MISMATCH'} {name:<48} fluxion {want:.8g} pytorch {abs_sum:.8g}  {c['call_text']}")
    if check_only:
        return

    small = [r for r in ready if r[0]["size"] == 32]
    t0 = time.perf_counter()
    while small and time.perf_counter() - t0 < warmup_s:
        for c, f, xs, _ in small:
            runner(f, xs, c["requires_grad"], False)()
            if c["rg"] is not None:
                runner(f, xs, c["rg"], True)()
    for c, f, xs, abs_sum in ready:
        for mode, bwd in (("fwd", False), ("fwdbwd", True)) if c["rg"] is not None else (("fwd", False),):
            t = sorted(measure(runner(f, xs, c["rg"] if bwd else None, bwd), runs))
            row = {"name": f"ops/{c['torch']}/{c['size']}/{mode}", "median_ms": round(statistics.median(t), 4),
                   "min_ms": round(t[0], 4), "max_ms": round(t[-1], 4), "runs": len(t), "threads": torch.get_num_threads(),
                   "shapes": ";".join("[" + ",".join(map(str, s)) + "]" for s in c["shapes"]), "dtype": c["dtype"]}
            if bwd and c["rg"] is not c["requires_grad"]:
                row["grad_inputs"] = "x0 only (PyTorch refuses gradients for the others)"
            if mode == "fwd" and c.get("check", True):
                row["abs_sum"] = abs_sum if abs_sum == abs_sum and abs(abs_sum) != float("inf") else str(abs_sum)
            emit(row)


if __name__ == "__main__":
    main(sys.argv[1:])
