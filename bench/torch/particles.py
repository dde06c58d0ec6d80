#!/usr/bin/env python3
"""PyTorch dense particle simulation (the counterpart of `fluxion bench particles`), printing the same JSON lines.

Run with Debian's torch:  /usr/bin/python3 bench/torch/particles.py [--json] [--runs N] [--warmup N] [--steps 10]

Workload "particles/steps_<steps>" (same name as the Fluxion workload, so compare.sh pairs them): float32, 800 particles in 2-D, all pairs (dense [n, n, 2] differences),
Newtonian gravity a_i = sum_j m_j (x_j - x_i) / (r_ij^2 + eps^2)^(3/2) with softening eps = 0.1, velocity
Verlet with h = 0.01, autograd through all steps (no checkpointing); loss = sum of the final positions,
gradients for the initial positions and the masses. Two threads, like the machine's two cores.

Peak extra memory ("peak_bytes"): peak RSS of a fresh child process minus its baseline (see harness.py).
"""
import sys

import torch

import harness

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


def make(steps):
    x, m = inputs()
    return lambda: step(x, m, steps)


def main(argv):
    harness.main(argv, __file__, "--steps", 10, lambda steps: f"particles/steps_{steps}", make)


if __name__ == "__main__":
    main(sys.argv[1:])
