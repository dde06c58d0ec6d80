#!/bin/bash
# Repeats the GEMM throughput comparison whenever the machine looks idle (>= 85% idle over 1 s),
# appending to LOG, for MINUTES. Use on a shared machine; report the best median per case.
# usage: bench/measure-when-idle.sh LOG MINUTES [gemm|sgemm] [KERNEL...]
#   KERNEL: Auto (default), Avx2, Avx512, Portable (sets FLUXION_GEMM_KERNEL)
set -u
LOG=$1; MIN=$2; WL=${3:-sgemm}; shift $(( $# < 3 ? $# : 3 )); KERNELS=${*:-Auto}
cd "$(dirname "$0")/.."
dotnet build -c Release bench/Fluxion.Bench >/dev/null
BENCH=bench/Fluxion.Bench/bin/Release/net10.0/Fluxion.Bench.dll
Q=""; [ "$WL" = sgemm ] && Q="--quick"
idle() {
  read -r _ u n s i w x y z _ < /proc/stat; local t1=$((u+n+s+i+w+x+y+z)) i1=$((i+w))
  sleep 1
  read -r _ u n s i w x y z _ < /proc/stat; local t2=$((u+n+s+i+w+x+y+z)) i2=$((i+w))
  echo $(( 100*(i2-i1)/(t2-t1) ))
}
end=$(( $(date +%s) + MIN*60 ))
while [ "$(date +%s)" -lt $end ]; do
  id=$(idle)
  [ "$id" -ge 85 ] || continue
  for k in $KERNELS; do
    echo "== $(date +%T) idle=$id ours kernel=$k" >> "$LOG"
    FLUXION_GEMM_KERNEL=$k dotnet $BENCH "$WL" 10 512 1024 >> "$LOG" 2>&1
    id=$(idle)
  done
  echo "== $(date +%T) idle=$id torch" >> "$LOG"
  /usr/bin/python3 bench/torch/gemm.py $Q 10 >> "$LOG" 2>&1
done
