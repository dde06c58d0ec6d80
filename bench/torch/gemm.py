"""PyTorch SGEMM/DGEMM reference for bench/RESULTS.md.

Usage: /usr/bin/python3 bench/torch/gemm.py [--quick] [runs] [sizes...]   (--quick: float32 a @ b only)
Prints the median GFLOP/s over `runs` timed a @ b calls (after >= 0.5 s of warm-up) on 2 threads.
"""
import sys
import time

import torch

torch.set_num_threads(2)
quick = "--quick" in sys.argv
argv = [a for a in sys.argv[1:] if a != "--quick"]
runs = int(argv[0]) if argv else 10
sizes = [int(s) for s in argv[1:]] or [512, 1024]
print(f"torch {torch.__version__} threads={torch.get_num_threads()}")
for dtype in (torch.float32,) if quick else (torch.float32, torch.float64):
    for s in sizes:
        a = torch.randn(s, s, dtype=dtype)
        b = torch.randn(s, s, dtype=dtype)
        cases = [("NN", lambda: a @ b)]
        if dtype == torch.float32 and not quick:
            cases += [("NT (a @ b.T)", lambda: a @ b.T), ("TN (a.T @ b)", lambda: a.T @ b)]
        for name, f in cases:
            # warm up for at least 0.5 s (as the Fluxion bench does): the first case otherwise
            # pays for OpenBLAS's thread start-up and first-touch page faults
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < 0.5:
                f()
            times = []
            for _ in range(runs):
                t = time.perf_counter()
                f()
                times.append(time.perf_counter() - t)
            times.sort()
            med, best = times[runs // 2], times[0]
            flop = 2.0 * s ** 3
            label = f"{str(dtype).replace('torch.', '')} {s}^3 {name}"
            print(f"{label:<28} median {flop / med / 1e9:7.1f} GFLOP/s  best {flop / best / 1e9:7.1f} GFLOP/s  ({med * 1e3:.2f} ms)")
