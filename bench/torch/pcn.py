#!/usr/bin/env python3
"""PyTorch naive point-cloud layer (the counterpart of `fluxion bench pcn`), printing the same JSON lines.

Run with Debian's torch:  /usr/bin/python3 bench/torch/pcn.py [pcn] [--json] [--runs N] [--warmup N] [--warmup-s S] [--no-rss]

Workload "pcn/naive_<n>": float32, B = 64, N_in = N_out = n, k = 16, forward plus backward of
y = x W + b with W = tri(cdist(P, Q)) / sqrt(N_in), tri(d) = (A/p)(p/2 - |(d mod 2p) - p|), p = 0.1, A = 1,
gradients for x, P, Q and b (loss y.sum()). Two threads, like the machine's two cores.

Peak extra memory ("rss_peak_bytes"): peak RSS growth of one run in a fresh child process (see harness.py).
"""
import math
import sys

import torch

import harness

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


def pcn(n=4096):
    args = inputs(n)
    return [(f"pcn/naive_{n}", lambda: step(*args), None)]


if __name__ == "__main__":
    harness.main(sys.argv[1:], __file__, {"pcn": pcn})
