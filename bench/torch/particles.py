#!/usr/bin/env python3
"""PyTorch counterpart of `fluxion bench particles` (src/Fluxion.Cli/Bench/ParticlesBench.cs): the same workloads
from the same initial state, printing the same JSON lines (with `loss`, `abs_sum` and `eaten` to check that the
sides compute the same).

Run with Debian's torch:  /usr/bin/python3 bench/torch/particles.py [particles] [--json] [--runs N] [--warmup N] [--warmup-s S] [--no-rss]

- "particles/steps_10", "particles/steps_100": Fluxion's ParticleSimulation written with dense tensor ops:
  784 marbles, 8 nodes, 10 eaters (802 particles, eater radius 0.02), force on i
  sum_{j != i} (1 - s[i, kind_j]) a[j, kind_i] m_i m_j (x_j - x_i) / (|x_j - x_i|^2 + eps^2)^(3/2), eps = 0.1,
  acceleration F_i / |m_i|; velocity Verlet h = 0.01; after each step a live marble within an eater's radius is
  eaten (first eater in index order): it is frozen and neither exerts nor feels force afterwards. The state
  [n, 9] (x, v, a, previous a, tag) goes through ceil(sqrt(T)) segments of (nearly) equal length, each but the
  last checkpointed (torch.utils.checkpoint, non-reentrant) -- Fluxion's Checkpoint.Sequential split. Loss sum of
  final positions; gradients for the initial positions, masses, stiffness s [n, 3] (zeros) and attraction
  a [n, 3] (ones) multipliers.
- "particles/dense_gravity_10": plain dense gravity (what this script ran before): 800 particles,
  a_i = sum_j m_j (x_j - x_i) / (r^2 + eps^2)^(3/2), velocity Verlet, 10 steps stored, grads for x0 and m.

Initial state: ParticlesBench.InitialPositions/InitialMasses (an R2 low-discrepancy sequence, computed in double
and rounded to float32), at rest. Float32, two threads.
"""
import math
import sys

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

import harness

torch.set_num_threads(2)
MARBLES, NODES, EATERS, DENSE_N = 784, 8, 10, 800
H, EPS, EATER_RADIUS = 0.01, 0.1, 0.02


def frac(t):
    return t - math.floor(t)


def initial_positions(n):
    g = 1.32471795724474602596
    a1, a2 = 1 / g, 1 / (g * g)
    return torch.tensor([[frac(0.5 + a1 * (i + 1)) * 2 - 1, frac(0.5 + a2 * (i + 1)) * 2 - 1] for i in range(n)], dtype=torch.float32)


def initial_masses(n):
    return torch.tensor([(0.5 + frac(0.5 + (i + 1) * 0.6180339887498949)) / n for i in range(n)], dtype=torch.float32)


class Simulation:
    def __init__(self):
        n = MARBLES + NODES + EATERS
        self.n = n
        self.kinds = torch.tensor([0] * MARBLES + [1] * NODES + [2] * EATERS)
        self.onehot = F.one_hot(self.kinds, 3).float()                   # [n, 3]
        self.marble = self.kinds == 0
        self.eaters = torch.nonzero(self.kinds == 2).squeeze(1)         # indices, in order

    def accel(self, x, m, s, a, alive=None):
        d = x.unsqueeze(0) - x.unsqueeze(1)                             # d[i, j] = x_j - x_i
        r2 = (d * d).sum(-1) + EPS * EPS
        stiff = s @ self.onehot.T                                       # s[i, kind_j]
        attract = self.onehot @ a.T                                     # a[j, kind_i]
        w = (1 - stiff) * attract * (m.unsqueeze(1) * m.unsqueeze(0)) * r2.pow(-1.5)
        if alive is not None:
            w = w * (alive.unsqueeze(1) * alive.unsqueeze(0))
        acc = (w.unsqueeze(-1) * d).sum(1) / m.abs().unsqueeze(1)
        return acc if alive is None else acc * alive.unsqueeze(1)

    def initial_state(self, x, m, s, a):
        acc = self.accel(x, m, s, a)
        return torch.cat([x, torch.zeros_like(x), acc, acc, torch.zeros(self.n, 1)], 1)

    def step(self, state, m, s, a):
        x, v, acc, tag = state[:, 0:2], state[:, 2:4], state[:, 4:6], state[:, 8:9]
        alive = (tag.detach() == 0).squeeze(1)
        alive_f = alive.float()
        dx = H * v + (H * H / 2) * acc
        if not bool(alive.all()):
            dx = dx * alive_f.unsqueeze(1)
        x1 = x + dx
        a1 = self.accel(x1, m, s, a, alive_f)
        v1 = v + (H / 2) * (acc + a1)
        # eating: a discrete decision on the values, in double as Fluxion
        xv = x1.detach().double()
        d2 = ((xv.unsqueeze(1) - xv[self.eaters].unsqueeze(0)) ** 2).sum(-1)       # [n, eaters]
        hit = (d2 < EATER_RADIUS * EATER_RADIUS) & alive[self.eaters].unsqueeze(0) & (self.marble & alive).unsqueeze(1)
        new_tag = tag.detach().clone()
        eaten = hit.any(1)
        if bool(eaten.any()):
            first = hit.float().argmax(1)                                # first eater in index order
            new_tag[eaten, 0] = (self.eaters[first[eaten]] + 1).float()
        return torch.cat([x1, v1, a1, acc, new_tag], 1)

    def run(self, x, m, s, a, steps):
        """Fluxion's Checkpoint.Sequential: ceil(sqrt(T)) segments, each but the last checkpointed."""
        state = self.initial_state(x, m, s, a)
        segs = min(steps, math.ceil(math.sqrt(steps))) if steps > 0 else 0
        for k in range(segs):
            count = steps // segs + (1 if k < steps % segs else 0)

            def segment(st, count=count):
                for _ in range(count):
                    st = self.step(st, m, s, a)
                return st
            state = checkpoint(segment, state, use_reentrant=False) if k < segs - 1 else segment(state)
        return state


def dense_gravity(x0, m, steps):
    def accel(x):
        d = x.unsqueeze(0) - x.unsqueeze(1)                             # d[i, j] = x_j - x_i
        r2 = (d * d).sum(-1) + EPS * EPS
        w = m.unsqueeze(0) * r2.pow(-1.5)                               # the diagonal has d = 0
        return (w.unsqueeze(-1) * d).sum(1)
    x, v = x0, torch.zeros_like(x0)
    a = accel(x)
    for _ in range(steps):
        x = x + H * v + 0.5 * H * H * a
        a1 = accel(x)
        v = v + 0.5 * H * (a + a1)
        a = a1
    return x


def particles():
    sim = Simulation()
    n = sim.n
    x = initial_positions(n).requires_grad_()
    m = initial_masses(n).requires_grad_()
    s = torch.zeros(n, 3).requires_grad_()
    a = torch.ones(n, 3).requires_grad_()
    ps = (x, m, s, a)

    def workload(steps):
        def run():
            sim.run(x, m, s, a, steps)[:, 0:2].sum().backward()
            for p in ps:
                p.grad = None

        def check(r, _):
            with torch.no_grad():
                final = sim.run(x, m, s, a, steps)
            pos = final[:, 0:2]
            return {"loss": pos.sum().item(), "abs_sum": pos.abs().sum().item(), "eaten": int((final[:, 8] != 0).sum()),
                    "checkpointed": True}
        return (f"particles/steps_{steps}", run, check)

    xd = initial_positions(DENSE_N).requires_grad_()
    md = initial_masses(DENSE_N).requires_grad_()

    def dense():
        dense_gravity(xd, md, 10).sum().backward()
        xd.grad = None
        md.grad = None

    def dense_check(r, _):
        with torch.no_grad():
            final = dense_gravity(xd, md, 10)
        return {"loss": final.sum().item(), "abs_sum": final.abs().sum().item()}
    return [workload(10), workload(100), ("particles/dense_gravity_10", dense, dense_check)]


if __name__ == "__main__":
    harness.main(sys.argv[1:], __file__, {"particles": particles})
