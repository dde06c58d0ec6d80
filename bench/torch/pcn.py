#!/usr/bin/env python3
"""PyTorch naive point-cloud layer (the counterpart of `fluxion bench pcn`), printing the same JSON lines.

Run with Debian's torch:  /usr/bin/python3 bench/torch/pcn.py [--json] [--runs N] [--warmup N] [--n 4096]

Workload "pcn/naive_<n>": float32, B = 64, N_in = N_out = n, k = 16, forward plus backward of
y = x W + b with W = tri(cdist(P, Q)) / sqrt(N_in), tri(d) = (A/p)(p/2 - |(d mod 2p) - p|), p = 0.1, A = 1,
gradients for x, P, Q and b (loss y.sum()). Two threads, like the machine's two cores.

Peak extra memory ("peak_bytes"): tracemalloc does not see torch's allocations, so it is measured from the
process's resident set: a fresh child process imports torch, builds the inputs, records its current RSS
(/proc/self/statm), runs one forward plus backward, and reports peak RSS (getrusage ru_maxrss) minus that
baseline. Large tensors are mmap'ed by the allocator and returned on free, so the peak RSS is the peak of
live tensor memory plus allocator overhead; the baseline already holds torch, the inputs and the thread pool.
"""
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time

import torch

torch.set_num_threads(2)
B, K, PERIOD, AMPLITUDE = 64, 16, 0.1, 1.0


def inputs(n):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(B, n, generator=g)
    p = (torch.rand(n, K, generator=g) * 2 - 1).requires_grad_()
    q = (torch.rand(n, K, generator=g) * 2 - 1).requires_grad_()
    b = (torch.rand(n, generator=g) * 0.2 - 0.1).requires_grad_()
    return x, p, q, b


def layer(x, p, q, b):
    d = torch.cdist(p, q)
    w = (AMPLITUDE / PERIOD) * (PERIOD / 2 - torch.abs(torch.remainder(d, 2 * PERIOD) - PERIOD)) / math.sqrt(p.shape[0])
    return x @ w + b


def step(x, p, q, b):
    xx = x.detach().requires_grad_()
    layer(xx, p, q, b).sum().backward()
    for t in (p, q, b):
        t.grad = None


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child(n):
    args = inputs(n)
    base = rss_bytes()
    step(*args)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    print(peak - base)


def main(argv):
    runs, warmup, n = 15, 3, 4096
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--json":
            pass
        elif a in ("--runs", "--warmup", "--n", "--child"):
            v = int(argv[i + 1])
            i += 1
            if a == "--runs": runs = v
            elif a == "--warmup": warmup = v
            elif a == "--n": n = v
            else:
                child(v)
                return
        else:
            sys.exit(f"pcn.py: unknown argument {a!r}")
        i += 1
    args = inputs(n)
    for _ in range(warmup):
        step(*args)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        step(*args)
        times.append((time.perf_counter() - t0) * 1000)
    peak = int(subprocess.run([sys.executable, __file__, "--child", str(n)], capture_output=True, text=True, check=True).stdout)
    print(json.dumps({"name": f"pcn/naive_{n}", "median_ms": round(statistics.median(times), 4), "min_ms": round(min(times), 4),
                      "max_ms": round(max(times), 4), "runs": runs, "peak_bytes": peak, "threads": torch.get_num_threads()}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
