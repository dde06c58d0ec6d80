#!/usr/bin/env bash
# Runs a benchmark in Fluxion and in PyTorch (Debian's python3-torch, 2 threads) in one go and prints,
# per workload, both medians and the ratio Fluxion / PyTorch (below 1: Fluxion is faster).
#   bash bench/compare.sh <gemm|mlp|cnn|lstm|tiny|jvp|pcn|particles|all> [--runs N]
# Suites that exist on only one side are reported as such.
set -euo pipefail
cd "$(dirname "$0")/.."
name="${1:-all}"; shift || true
py=/usr/bin/python3
dotnet build -c Release src/Fluxion.Cli -v q -nologo > /dev/null
flux=$(mktemp); torch=$(mktemp)
trap 'rm -f "$flux" "$torch"' EXIT
dotnet run -c Release --no-build --project src/Fluxion.Cli -- bench "$name" --json "$@" > "$flux"
if [ -f "bench/torch/$name.py" ]; then "$py" "bench/torch/$name.py" --json "$@" > "$torch"
else "$py" bench/torch/bench.py "$name" "$@" > "$torch" 2>/dev/null || true
fi
"$py" - "$flux" "$torch" <<'PY'
import json, sys
def load(p):
    out = {}
    for line in open(p):
        line = line.strip()
        if line.startswith("{"):
            d = json.loads(line); out[d["name"]] = d
    return out
f, t = load(sys.argv[1]), load(sys.argv[2])
print(f"{'workload':<26}{'fluxion ms':>12}{'pytorch ms':>12}{'ratio':>8}")
for k in sorted(set(f) | set(t)):
    a, b = f.get(k), t.get(k)
    fa = f"{a['median_ms']:.3f}" if a else "-"
    tb = f"{b['median_ms']:.3f}" if b else "-"
    r = f"{a['median_ms'] / b['median_ms']:.2f}" if a and b else "-"
    extra = ""
    for key in ("peak_bytes", "ratio_to_primal", "us_per_op", "gflops"):
        if a and key in a: extra += f"  fluxion {key}={a[key]}"
        if b and key in b: extra += f"  torch {key}={b[key]}"
    print(f"{k:<26}{fa:>12}{tb:>12}{r:>8}{extra}")
PY
