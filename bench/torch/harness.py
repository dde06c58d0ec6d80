"""The shared harness of bench/torch/pcn.py and bench/torch/particles.py: options, timing and peak memory.

A script calls main(argv, ...) with `make(value)`, which builds its inputs for the size option's value and
returns a function running one forward plus backward. Options: [--json] [--runs N] [--warmup N]
[--<option> V] (and --child V, internal). Prints one JSON line: name, median_ms, min_ms, max_ms, runs,
peak_bytes, threads.

Peak extra memory ("peak_bytes"): tracemalloc does not see torch's allocations, so it is measured from the
process's resident set: a fresh child process (the script with --child V) imports torch, builds the inputs,
records its current RSS (/proc/self/statm), runs one forward plus backward, and reports peak RSS (getrusage
ru_maxrss) minus that baseline. Large tensors are mmap'ed by the allocator and returned on free, so the peak
RSS is the peak of live tensor memory plus allocator overhead; the baseline already holds torch, the inputs
and the thread pool.
"""
import os
import resource
import subprocess
import sys

import torch

import bench


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child(make, value):
    run = make(value)
    base = rss_bytes()
    run()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    print(peak - base)


def main(argv, script, option, default, name, make):
    """script: the calling script's path (re-run as the child); option: its size option ("--n");
    name(value): the workload name; make(value): builds the inputs, returns one forward plus backward."""
    runs, warmup, value = 15, 3, default
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--json":
            pass
        elif a in ("--runs", "--warmup", option, "--child"):
            v = int(argv[i + 1])
            i += 1
            if a == "--runs": runs = v
            elif a == "--warmup": warmup = v
            elif a == option: value = v
            else:
                child(make, v)
                return
        else:
            sys.exit(f"{os.path.basename(script)}: unknown argument {a!r}")
        i += 1

    def peak(_):
        out = subprocess.run([sys.executable, script, "--child", str(value)], capture_output=True, text=True, check=True).stdout
        return {"peak_bytes": int(out), "threads": torch.get_num_threads()}
    bench.measure(name(value), make(value), runs, warmup, peak)
