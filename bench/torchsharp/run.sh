#!/usr/bin/env bash
# Runs the TorchSharp benchmarks (build first: dotnet build -c Release bench/torchsharp) with the libstdc++
# shim preloaded (README.md: Debian 12 lacks GLIBCXX_3.4.32).
#   bash bench/torchsharp/run.sh <gemm|lstm|mlp|cnn|tiny|jvp|pcn|particles|ops|all> [--runs N] [--warmup N] [--warmup-s S] [--no-rss]
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/bin/Release/net10.0"
if [ ! -x "$out/tsbench" ]; then
  echo "run.sh: $out/tsbench not built; run: dotnet build -c Release $here" >&2
  exit 2
fi
LD_PRELOAD="$out/libiosinit.so${LD_PRELOAD:+:$LD_PRELOAD}" exec "$out/tsbench" "$@"
