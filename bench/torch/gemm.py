"""PyTorch SGEMM/DGEMM reference for bench/RESULTS.md.

Usage: /usr/bin/python3 bench/torch/gemm.py [--quick] [runs] [sizes...]   (--quick: float32 a @ b only)
Prints the median GFLOP/s over `runs` timed a @ b calls (after >= 0.5 s of warm-up) on 2 threads.
       /usr/bin/python3 bench/torch/gemm.py --json [--runs N] [--warmup N]
prints the JSON lines of `bench.py gemm` (the cases of `fluxion bench gemm`; used by bench/compare.sh).
The cases, timing and warm-up are bench.py's.
"""
import sys

import torch

import bench

if "--json" in sys.argv:
    bench.main(["gemm"] + sys.argv[1:])
    sys.exit(0)
quick = "--quick" in sys.argv
argv = [a for a in sys.argv[1:] if a != "--quick"]
runs = int(argv[0]) if argv else 10
sizes = [int(s) for s in argv[1:]] or [512, 1024]
print(f"torch {torch.__version__} threads={torch.get_num_threads()}")
for dtype in (torch.float32,) if quick else (torch.float32, torch.float64):
    for s in sizes:
        for form in ("ab",) if quick or dtype != torch.float32 else ("ab", "abT", "aTb"):
            _, f = bench.gemm_case(dtype, s, form)
            times = sorted(bench.time_runs(f, runs, 0, bench.GEMM_WARMUP_S))
            med, best = times[runs // 2], times[0]
            label = f"{str(dtype).replace('torch.', '')} {s}^3 {bench.GEMM_FORMS[form][0]}"
            print(f"{label:<28} median {bench.gflops(s, med):7.1f} GFLOP/s  best {bench.gflops(s, best):7.1f} GFLOP/s  ({med:.2f} ms)")
