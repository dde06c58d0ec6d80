#!/usr/bin/env python3
"""PyTorch versions of the `fluxion bench` workloads, printing the same JSON lines.

Run with Debian's torch:
  /usr/bin/python3 bench/torch/bench.py <gemm|mlp|cnn|tiny|jvp|vmap|all> [--runs N] [--warmup N] [--warmup-s S] [--no-rss]
Two threads, like the machine's two cores. A suite function builds its inputs once and returns its workloads
(name, run, extra); harness.py times them (interleaved rounds after >= 3 s of warm-up) and measures each one's
fresh-process peak RSS growth. Each line: name, median_ms, min_ms, max_ms, runs, rss_peak_bytes, ...
"""
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

import harness

torch.set_num_threads(2)


def time_runs(fn, runs, warmup, warmup_s=0.0):
    """Wall times (ms) of `runs` calls of fn after `warmup` calls, continued until warmup_s seconds have passed
    (gemm.py's table; the suites below run through harness.py)."""
    t0 = time.perf_counter()
    i = 0
    while i < warmup or time.perf_counter() - t0 < warmup_s:
        fn()
        i += 1
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return times


# GEMM cases, as src/Fluxion.Cli/Bench/GemmBench.cs: form -> (label, product)
GEMM_FORMS = {"ab": ("NN", lambda a, b: a @ b),
              "abT": ("NT (a @ b.T)", lambda a, b: a @ b.T),
              "aTb": ("TN (a.T @ b)", lambda a, b: a.T @ b)}
# warm up each GEMM case for >= 0.5 s: the first one otherwise pays for OpenBLAS's thread start-up
# and first-touch page faults
GEMM_WARMUP_S = 0.5


def gemm_case(dtype, n, form):
    """(name, fn) of one n^3 product of random normal matrices, named as in `fluxion bench gemm`."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    product = GEMM_FORMS[form][1]
    return f"gemm/{str(dtype).replace('torch.', '')}/{n}/{form}", lambda: product(a, b)


def gflops(n, ms):
    return 2.0 * n ** 3 / (ms * 1e-3) / 1e9


def gemm():
    """The cases of `fluxion bench gemm`: float32 a @ b at 128..2048, a @ b.T at 512 and 1024; float64 both at 512 and 1024."""
    cases = []
    for n in (128, 256, 512, 1024, 2048):
        cases.append((torch.float32, n, "ab"))
        if n in (512, 1024):
            cases.append((torch.float32, n, "abT"))
    cases += [(torch.float64, n, form) for n in (512, 1024) for form in ("ab", "abT")]
    out = []
    for dtype, n, form in cases:
        name, fn = gemm_case(dtype, n, form)
        out.append((name, fn, lambda r, _, n=n: {"gflops": round(gflops(n, r["median_ms"]), 1),
                                                 "gflops_best": round(gflops(n, r["min_ms"]), 1)}))
    return out


def step(model, opt, x, y):
    opt.zero_grad()
    F.cross_entropy(model(x), y).backward()
    opt.step()


def mlp():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.randn(128, 784), torch.randint(0, 10, (128,))
    return [("mlp/train_step", lambda: step(model, opt, x, y), None)]


def cnn():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
    return [("cnn/train_step", lambda: step(model, opt, x, y), None)]


def tiny():
    """The four chains of `fluxion bench tiny` on 0-d float32 tensors (1,000 ops each)."""
    ops = 1000
    x = torch.tensor(0.5, requires_grad=True)
    c = torch.tensor(0.999)

    def chain():
        y = x
        for _ in range(ops // 4):
            y = torch.sin(torch.tanh(y * c + c))
        return y

    def forward_nograd():
        with torch.no_grad():
            chain()

    def add_chain():
        y = x
        for _ in range(ops):
            y = y + c
        y.backward()
        x.grad = None

    def full_chain():
        chain().backward()
        x.grad = None

    per_op = lambda r, _: {"us_per_op": round(r["median_ms"] * 1000 / ops, 3)}
    return [("tiny/forward_nograd", forward_nograd, per_op), ("tiny/forward_graph", chain, per_op),
            ("tiny/add_chain1000", add_chain, per_op), ("tiny/chain1000", full_chain, per_op)]


def jvp():
    import torch.autograd.forward_ad as fwAD
    torch.manual_seed(0)
    shapes = [(512, 784), (512,), (256, 512), (256,), (10, 256), (10,)]
    ps = [torch.empty(s).uniform_(-0.05, 0.05) for s in shapes]
    dirs = [torch.randn(s) for s in shapes]
    x, y = torch.randn(128, 784), torch.randint(0, 10, (128,))

    onehot = F.one_hot(y, 10).float()

    def loss(w):
        # cross-entropy written out: torch 1.13's nll_loss has no forward-over-reverse rule
        h = F.relu(x @ w[0].T + w[1])
        h = F.relu(h @ w[2].T + w[3])
        z = h @ w[4].T + w[5]
        return (torch.logsumexp(z, 1) - (z * onehot).sum(1)).mean()

    def primal():
        with torch.no_grad():
            loss(ps)

    def fwd():
        with torch.no_grad(), fwAD.dual_level():
            fwAD.unpack_dual(loss([fwAD.make_dual(p, d) for p, d in zip(ps, dirs)])).tangent

    def vjp():
        w = [p.clone().requires_grad_() for p in ps]
        torch.autograd.grad(loss(w), w)

    def hvp():
        with fwAD.dual_level():
            w = [fwAD.make_dual(p.clone().requires_grad_(), d) for p, d in zip(ps, dirs)]
            g = torch.autograd.grad(loss(w), w)
            [fwAD.unpack_dual(gi).tangent for gi in g]

    ratio = lambda r, rs: {"ratio_to_primal": round(r["median_ms"] / rs["jvp/primal"]["median_ms"], 3)}
    return [("jvp/primal", primal, None), ("jvp/jvp", fwd, ratio), ("jvp/vjp", vjp, ratio), ("jvp/hvp", hvp, ratio)]


def vmap():
    """functorch 1.13: per-sample gradients of the 784-512-256-10 MLP (batch 128) and Jacobians of a 256->256 tanh MLP."""
    import functorch
    torch.manual_seed(0)
    shapes = [(512, 784), (512,), (256, 512), (256,), (10, 256), (10,)]
    ps = [torch.empty(s).uniform_(-0.05, 0.05) for s in shapes]
    x, y = torch.randn(128, 784), torch.randint(0, 10, (128,))

    def loss(w, xi, yi):
        h = F.relu(F.linear(xi, w[0], w[1]))
        h = F.relu(F.linear(h, w[2], w[3]))
        return F.cross_entropy(F.linear(h, w[4], w[5]).unsqueeze(0), yi.unsqueeze(0))

    per_sample = functorch.vmap(functorch.grad(loss), in_dims=(None, 0, 0))

    def loop():
        # like for like: the per-sample gradients end up stacked, as vmap returns them
        each = []
        for b in range(128):
            w = [p.clone().requires_grad_() for p in ps]
            each.append(torch.autograd.grad(loss(w, x[b], y[b]), w))
        [torch.stack([g[k] for g in each]) for k in range(len(ps))]

    w1, w2, x0 = torch.randn(256, 256) / 16, torch.randn(256, 256) / 16, torch.randn(256)
    f = lambda v: torch.tanh(w2 @ torch.tanh(w1 @ v))
    return [("vmap/per_sample_loop", loop, None), ("vmap/per_sample_grads", lambda: per_sample(ps, x, y), None),
            ("vmap/jacrev", lambda: functorch.jacrev(f)(x0), None), ("vmap/jacfwd", lambda: functorch.jacfwd(f)(x0), None)]


SUITES = {"gemm": gemm, "mlp": mlp, "cnn": cnn, "tiny": tiny, "jvp": jvp, "vmap": vmap}


def main(args):
    harness.main(args, __file__, SUITES)


if __name__ == "__main__":
    main(sys.argv[1:])
