"""The runner of every PyTorch benchmark script (bench.py, pcn.py, particles.py), as `fluxion bench`'s.

A script hands main() its suites: {suite name: function building the inputs once and returning a list of
workloads (name, run, extra)}; extra(result, results) returns extra JSON fields (or is None). Options:
  <suite|all> [--json] [--runs N] [--warmup N] [--warmup-s S] [--no-rss]   (and --rss-child NAME, internal)
  --list   prints the suite names, one per line
For each suite: warm-up rounds until both --warmup rounds (default 3) and --warmup-s seconds (default 3) have
passed, then --runs timed rounds (default 15); every round runs each workload once, in interleaved order (so
no workload is timed colder than another). Prints one JSON line per workload: name, median_ms, min_ms,
max_ms, runs, gen0_per_run.. (Python's collector), rss_peak_bytes, threads, then the extra fields.

"rss_peak_bytes" (peak extra memory): tracemalloc does not see torch's allocations, so it is measured from the
process's resident set, the same way on every side (`fluxion bench`, bench/torchsharp): a fresh child process
(the script with --rss-child NAME) imports torch, builds the suite's inputs, resets its peak resident set
(`5` into /proc/self/clear_refs), reads VmRSS, runs the workload once, and reports VmHWM minus that VmRSS.
Large tensors are mmap'ed by the allocator and returned on free, so this is the peak of live tensor memory
plus allocator overhead; the baseline already holds torch, the inputs and the thread pool.
"""
import gc
import json
import os
import statistics
import subprocess
import sys
import time

import torch

torch.set_num_threads(2)


def status_bytes(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {key} in /proc/self/status")


def peak_rss_growth(run):
    """Peak resident set during run() minus the resident set just before it."""
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = status_bytes("VmRSS:")
    run()
    return status_bytes("VmHWM:") - before


def rss_in_child(script, suite, name):
    out = subprocess.run([sys.executable, script, suite, "--rss-child", name], capture_output=True, text=True)
    try:
        return int(out.stdout.strip().split("\n")[-1])
    except ValueError:
        print(f"{os.path.basename(script)}: the peak-RSS child of {name} failed: {out.stderr}", file=sys.stderr)
        return -1


def run_suite(script, suite, workloads, runs, warmup, warmup_s, rss):
    t0 = time.perf_counter()
    r = 0
    while r < warmup or time.perf_counter() - t0 < warmup_s:
        for _, run, _ in workloads:
            run()
        r += 1
    gc.collect()
    times = [[] for _ in workloads]
    gcs = [[0, 0, 0] for _ in workloads]
    for _ in range(runs):
        for k, (_, run, _) in enumerate(workloads):
            c0 = [s["collections"] for s in gc.get_stats()]
            t = time.perf_counter()
            run()
            times[k].append((time.perf_counter() - t) * 1000)
            for g, s in enumerate(gc.get_stats()):
                gcs[k][g] += s["collections"] - c0[g]
    results = {}
    for k, (name, _, _) in enumerate(workloads):
        t = times[k]
        results[name] = {"name": name, "median_ms": round(statistics.median(t), 4), "min_ms": round(min(t), 4),
                         "max_ms": round(max(t), 4), "runs": runs,
                         **{f"gen{g}_per_run": round(gcs[k][g] / runs, 3) for g in range(3)}}
    for name, _, extra in workloads:
        out = dict(results[name])
        if rss:
            out["rss_peak_bytes"] = rss_in_child(script, suite, name)
        out["threads"] = torch.get_num_threads()
        if extra:
            out.update(extra(results[name], results))
        print(json.dumps(out), flush=True)
    return results


def main(argv, script, suites):
    runs, warmup, warmup_s, rss, name, child = 15, 3, 3.0, True, None, None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--runs", "--warmup", "--warmup-s", "--rss-child"):
            if i + 1 >= len(argv):
                sys.exit(f"{os.path.basename(script)}: {a} needs a value")
            v = argv[i + 1]
            i += 1
            if a == "--runs": runs = max(1, int(v))
            elif a == "--warmup": warmup = int(v)
            elif a == "--warmup-s": warmup_s = float(v)
            else: child = v
        elif a == "--list":
            print("\n".join(suites))
            return
        elif a == "--no-rss":
            rss = False
        elif a == "--json":
            pass
        elif not a.startswith("-") and name is None:
            name = a
        else:
            sys.exit(f"{os.path.basename(script)}: unknown argument {a!r}")
        i += 1
    if name is None and len(suites) == 1:
        name = next(iter(suites))
    if name != "all" and name not in suites:
        sys.exit(f"usage: {os.path.basename(script)} <{'|'.join(suites)}|all> [--json] [--runs N] [--warmup N] [--warmup-s S] [--no-rss]")
    if child is not None:
        run = next((w[1] for w in suites[name]() if w[0] == child), None)
        if run is None:
            sys.exit(f"{os.path.basename(script)}: no workload {child!r} in suite {name}")
        print(peak_rss_growth(run))
        return
    for key, build in suites.items():
        if name in (key, "all"):
            run_suite(script, key, build(), runs, warmup, warmup_s, rss)
