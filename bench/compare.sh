#!/usr/bin/env bash
# Fluxion against PyTorch 1.13 (Debian's python3-torch, bench/torch) and LibTorch 2.10 (TorchSharp 0.107,
# bench/torchsharp), in alternating rounds, and one table of medians of per-round medians:
#   bash bench/compare.sh <suite|all> [--rounds N] [--runs N] [--warmup N] [--warmup-s S] [--no-rss] [--keep DIR]
#   bash bench/compare.sh ops [--filter a,b] [--size N] [--no-scope] [--rounds N] [--runs N] [--warmup-s S] [--keep DIR]
# Each round runs every side once per suite, the sides in rotating order (round 1: fluxion, pytorch, libtorch;
# round 2: pytorch, libtorch, fluxion; ...), so none always runs first. Default 3 rounds; the other options go to
# every side (defaults there: 15 timed runs after >= 3 s of warm-up, each suite's workloads interleaved).
# Output: the columns `workload fluxion pytorch-1.13 libtorch-2.10 fluxion/pytorch-1.13 fluxion/libtorch-2.10`
# (ms; time ratios, below 1 = Fluxion faster; '-' where a side lacks the workload), the memory figures
# (fresh-process peak RSS growth on every side, Fluxion's tensor-storage peak), the values that check the sides
# compute the same (loss, ...), and the 1-minute load average before and after.
#
# Dispatch by suite name, so a new suite needs no change here:
#   fluxion:        fluxion bench <suite> --json ...          (the suites of `fluxion bench --list`)
#   pytorch-1.13:   /usr/bin/python3 bench/torch/<suite>.py --json ...  if that file exists,
#                   else /usr/bin/python3 bench/torch/bench.py <suite> --json ...  if `bench.py --list` has it
#   libtorch-2.10:  bash bench/torchsharp/run.sh <suite> --json ...  if `run.sh --list` has it
# Each side prints JSON lines with at least "name" and "median_ms" (workload names as `fluxion bench` prints them)
# and accepts --json, --runs, --warmup, --warmup-s and --no-rss. `all` covers every Fluxion suite that exists on
# at least one other side. The TorchSharp side is built here (dotnet build -c Release bench/torchsharp; NuGet
# restores TorchSharp-cpu once); if it cannot be built, its column stays '-'.
#
# The op sweep (`ops`, not part of `all`): `fluxion bench ops --spec` writes the cases once (each with its PyTorch
# call, inputs and value check; --filter/--size select them), the other two sides interpret that file
# (FLUXION_OPS_SPEC). Default one round (the sweep is ~1,000 workloads per side: about 15 minutes for the three
# sides at both sizes on 2 cores); after the table, per size and mode the median ratio Fluxion / other and the ops
# above 2x, the cases whose values disagree, and every skipped case with its reason. Fluxion runs each repetition
# inside a TensorScope, as the LibTorch side runs each inside torch.NewDisposeScope(); --no-scope runs them without.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
py=/usr/bin/python3
rounds=3
keep=""
suite=""
args=()
ops_args=()
rounds_set=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; rounds_set=1; shift 2 ;;
    --filter|--size) ops_args+=("$1" "$2"); shift 2 ;;
    --no-scope) ops_args+=("$1"); shift ;;
    --keep) keep="$2"; shift 2 ;;
    --runs|--warmup|--warmup-s) args+=("$1" "$2"); shift 2 ;;
    --no-rss|--json) [ "$1" = --no-rss ] && args+=("$1"); shift ;;
    -h|--help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
    *) if [ -n "$suite" ]; then echo "compare.sh: one suite or all" >&2; exit 2; fi; suite="$1"; shift ;;
  esac
done
[ -n "$suite" ] || { echo "usage: bash bench/compare.sh <suite|all> [--rounds N] [--runs N] [--warmup N] [--warmup-s S] [--no-rss]" >&2; exit 2; }

dotnet build -c Release src/Fluxion.Cli -v q -nologo > /dev/null
bash tools/install-openblas.sh || echo "compare.sh: PyTorch runs on the reference BLAS; its GEMM-bound figures are not comparable" >&2
flux_dll="$root/src/Fluxion.Cli/bin/Release/net10.0/Fluxion.Cli.dll"
ts_ok=0
if dotnet build -c Release bench/torchsharp -v q -nologo > /tmp/compare-tsbuild.$$.log 2>&1; then ts_ok=1
else echo "compare.sh: bench/torchsharp did not build (log: /tmp/compare-tsbuild.$$.log); no libtorch-2.10 column" >&2
fi

py_cmd() {  # the PyTorch command of a suite, or nothing
  if [ -f "bench/torch/$1.py" ] && [ "$1" != bench ] && [ "$1" != harness ]; then echo "bench/torch/$1.py"
  elif "$py" bench/torch/bench.py --list 2>/dev/null | grep -qx "$1"; then echo "bench/torch/bench.py $1"
  fi
}
ts_has() { [ "$ts_ok" = 1 ] && bash bench/torchsharp/run.sh --list 2>/dev/null | grep -qx "$1"; }

fsuites=$(dotnet "$flux_dll" bench --list)
if [ "$suite" = all ]; then
  suites=()
  for s in $fsuites; do
    if [ -n "$(py_cmd "$s")" ] || ts_has "$s"; then suites+=("$s"); fi
  done
else
  [ "$suite" = ops ] || echo "$fsuites" | grep -qx "$suite" || { echo "compare.sh: fluxion bench has no suite '$suite' (fluxion bench --list)" >&2; exit 2; }
  suites=("$suite")
fi

out=${keep:-$(mktemp -d)}
mkdir -p "$out"
[ -n "$keep" ] || trap 'rm -rf "$out"' EXIT
if [ "$suite" = ops ]; then
  [ "$rounds_set" = 1 ] || rounds=1
  dotnet "$flux_dll" bench ops --spec "${ops_args[@]}" > "$out/ops-spec.jsonl" 2> "$out/ops-spec.err"
  export FLUXION_OPS_SPEC="$out/ops-spec.jsonl"
  echo "ops: $(wc -l < "$out/ops-spec.jsonl") cases in the spec ($out/ops-spec.jsonl)" >&2
elif [ ${#ops_args[@]} -gt 0 ]; then
  echo "compare.sh: --filter and --size apply to the ops suite only" >&2; exit 2
fi
results="$out/results.jsonl"
: > "$results"
load_before=$(cut -d' ' -f1 /proc/loadavg)
echo "suites: ${suites[*]}; rounds: $rounds; options: ${args[*]:-(defaults)}; load before: $load_before" >&2

run_side() {  # side round suite
  local side=$1 round=$2 s=$3 cmd
  case "$side" in
    fluxion) cmd=(dotnet "$flux_dll" bench "$s"); [ "$s" = ops ] && cmd+=("${ops_args[@]}") ;;
    pytorch-1.13) cmd=$(py_cmd "$s"); [ -n "$cmd" ] || return 0; read -r -a cmd <<< "$py $cmd" ;;
    libtorch-2.10) ts_has "$s" || return 0; cmd=(bash bench/torchsharp/run.sh "$s") ;;
  esac
  echo "round $round: $side $s (load $(cut -d' ' -f1 /proc/loadavg))" >&2
  "${cmd[@]}" --json "${args[@]}" 2>> "$out/$side.err" | grep '^{' \
    | sed "s/^{/{\"side\":\"$side\",\"round\":$round,\"suite\":\"$s\",/" >> "$results" \
    || echo "compare.sh: $side $s failed in round $round (see $out/$side.err)" >&2
}

sides=(fluxion pytorch-1.13 libtorch-2.10)
for r in $(seq 1 "$rounds"); do
  for s in "${suites[@]}"; do
    for k in 0 1 2; do
      run_side "${sides[$(( (k + r - 1) % 3 ))]}" "$r" "$s"
    done
  done
done
load_after=$(cut -d' ' -f1 /proc/loadavg)
dotnet "$flux_dll" bench --table "$results"
echo
echo "load (1-minute average): before $load_before, after $load_after; $rounds rounds; $(date -u '+%Y-%m-%d %H:%M UTC')"
