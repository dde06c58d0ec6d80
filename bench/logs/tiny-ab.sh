#!/bin/bash
# A/B: old vs new library, cold (runner's 3 warm-up runs only) vs warm (TinyBench JIT warm-up), and torch; alternating rounds.
# Builds (each: dotnet build -c Release src/Fluxion.Cli):
#   /tmp/base      git archive 1302c34 (library and TinyBench before this work)
#   /tmp/newcold   this branch, with TinyBench.cs from 1302c34 (no JIT warm-up)
#   /tmp/basewarm  1302c34 with this branch's TinyBench.cs (JIT warm-up)
#   /work/wt/tiny  this branch
LOG=$1; ROUNDS=${2:-4}
for r in $(seq 1 $ROUNDS); do
  for cfg in base:/tmp/base newcold:/tmp/newcold basewarm:/tmp/basewarm new:/work/wt/tiny; do
    name=${cfg%%:*}; dir=${cfg#*:}
    echo "== round $r $name $(date +%T) load $(cut -d' ' -f1 /proc/loadavg)" >> $LOG
    (cd $dir && dotnet run -c Release --no-build --project src/Fluxion.Cli -- bench tiny --json) >> $LOG 2>&1
  done
  echo "== round $r torch $(date +%T) load $(cut -d' ' -f1 /proc/loadavg)" >> $LOG
  /usr/bin/python3 /work/wt/tiny/bench/torch/bench.py tiny >> $LOG 2>&1
done
