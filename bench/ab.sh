#!/usr/bin/env bash
# A/B of two builds of Fluxion in the same run, alternating rounds: for each suite, round r runs
# A then B (B then A on odd rounds), and the table gives per workload the median of the per-round
# medians of each side, their ratio B/A, and the 1-minute load average seen before each round.
#   bash bench/ab.sh <dir-A> <dir-B> "<suite> [bench options]" ["<suite> [options]" ...]
# dir-A/dir-B are checkouts whose src/Fluxion.Cli is built in Release (the script builds them if needed).
# Environment: ROUNDS (default 5).
# Example (the op-registry change against the commit before it):
#   git worktree add /tmp/before 449b130
#   bash bench/ab.sh /tmp/before . "tiny" "mlp --warmup 1000" "cnn"
set -euo pipefail
a="$(cd "$1" && pwd)"; b="$(cd "$2" && pwd)"; shift 2
rounds="${ROUNDS:-5}"
for d in "$a" "$b"; do
  [ -f "$d/src/Fluxion.Cli/bin/Release/net10.0/Fluxion.Cli.dll" ] || dotnet build -c Release "$d/src/Fluxion.Cli" -v q -nologo > /dev/null
done
out=$(mktemp -d)
for suite in "$@"; do
  for r in $(seq 1 "$rounds"); do
    order=("$a" "$b"); [ $((r % 2)) -eq 0 ] && order=("$b" "$a")
    for d in "${order[@]}"; do
      side=A; [ "$d" = "$b" ] && side=B
      load=$(cut -d' ' -f1 /proc/loadavg)
      # shellcheck disable=SC2086
      dotnet "$d/src/Fluxion.Cli/bin/Release/net10.0/Fluxion.Cli.dll" bench $suite --json 2>/dev/null \
        | sed "s/^{/{\"side\":\"$side\",\"round\":$r,\"load\":$load,/" >> "$out/results.jsonl"
    done
  done
done
python3 - "$out/results.jsonl" <<'PY'
import json, sys, statistics, collections
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
per = collections.defaultdict(lambda: collections.defaultdict(list))
loads = [r["load"] for r in rows]
for r in rows: per[r["name"]][r["side"]].append(r["median_ms"])
print(f"{'workload':<28}{'A ms':>10}{'B ms':>10}{'B/A':>7}   rounds A/B   (load {min(loads):.2f}-{max(loads):.2f})")
for k in per:
    a, b = per[k]["A"], per[k]["B"]
    if not a or not b: continue
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"{k:<28}{ma:>10.4f}{mb:>10.4f}{mb/ma:>7.2f}   {len(a)}/{len(b)}  A {min(a):.4f}-{max(a):.4f}  B {min(b):.4f}-{max(b):.4f}")
PY
