#!/usr/bin/env python3
"""PyTorch dense particle simulation (the counterpart of `fluxion bench particles`), printing the same JSON lines.

Run with Debian's torch:  /usr/bin/python3 bench/torch/particles.py [--json] [--runs N] [--warmup N] [--steps 10]

Workload "particles/steps_<steps>" (same name as the Fluxion workload, so compare.sh pairs them): float32, 800 particles in 2-D, all pairs (dense [n, n, 2] differences),
Newtonian gravity a_i = sum_j m_j (x_j - x_i) / (r_ij^2 + eps^2)^(3/2) with softening eps = 0.1, velocity
Verlet with h = 0.01, autograd through all steps (no checkpointing); loss = sum of the final positions,
gradients for the initial positions and the masses. Two threads, like the machine's two cores.

Peak extra memory ("peak_bytes"): as in pcn.py, a fresh child process builds the inputs, records its current
RSS (/proc/self/statm), runs one forward plus backward and reports peak RSS (getrusage ru_maxrss) minus that
baseline.
"""
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch

torch.set_num_threads(2)
N, D, H, EPS = 800, 2, 0.01, 0.1


def inputs():
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(N, D, generator=g) * 2 - 1).requires_grad_()
    m = ((torch.rand(N, generator=g) + 0.5) / N).requires_grad_()
    return x, m


def accel(x, m):
    d = x.unsqueeze(0) - x.unsqueeze(1)                 # d[i, j] = x_j - x_i
    r2 = (d * d).sum(-1) + EPS * EPS
    w = m.unsqueeze(0) * r2.pow(-1.5)                   # the diagonal has d = 0
    return (w.unsqueeze(-1) * d).sum(1)


def step(x0, m, steps):
    x, v = x0, torch.zeros_like(x0)
    a = accel(x, m)
    for _ in range(steps):
        x = x + H * v + 0.5 * H * H * a
        a1 = accel(x, m)
        v = v + 0.5 * H * (a + a1)
        a = a1
    x.sum().backward()
    x0.grad = None
    m.grad = None


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child(steps):
    x, m = inputs()
    base = rss_bytes()
    step(x, m, steps)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    print(peak - base)


def main(argv):
    runs, warmup, steps = 15, 3, 10
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--json":
            pass
        elif a in ("--runs", "--warmup", "--steps", "--child"):
            v = int(argv[i + 1])
            i += 1
            if a == "--runs": runs = v
            elif a == "--warmup": warmup = v
            elif a == "--steps": steps = v
            else:
                child(v)
                return
        else:
            sys.exit(f"particles.py: unknown argument {a!r}")
        i += 1
    x, m = inputs()
    for _ in range(warmup):
        step(x, m, steps)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        step(x, m, steps)
        times.append((time.perf_counter() - t0) * 1000)
    peak = int(subprocess.run([sys.executable, __file__, "--child", str(steps)], capture_output=True, text=True, check=True).stdout)
    print(json.dumps({"name": f"particles/steps_{steps}", "median_ms": round(statistics.median(times), 4), "min_ms": round(min(times), 4),
                      "max_ms": round(max(times), 4), "runs": runs, "peak_bytes": peak, "threads": torch.get_num_threads()}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
