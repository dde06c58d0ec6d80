#!/usr/bin/env bash
# Debian's python3-torch 1.13 links the generic libblas.so.3, which is the slow reference BLAS unless OpenBLAS
# provides it (SGEMM 1024³ at ~4 GFLOP/s instead of ~200; an MLP step 110 ms instead of 8). bench/compare.sh
# calls this before timing PyTorch: it installs libopenblas0-pthread when missing (needs root or sudo; apt-get).
set -euo pipefail
if [ -e /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 ] || ldconfig -p 2>/dev/null | grep -q libopenblas; then exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-openblas.sh: OpenBLAS is missing and apt-get is not available; PyTorch's figures will use the reference BLAS" >&2
    exit 1
fi
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get install -y -qq libopenblas0-pthread >/dev/null 2>&1 || { $sudo apt-get update -qq && $sudo apt-get install -y -qq libopenblas0-pthread >/dev/null; }
echo "install-openblas.sh: installed libopenblas0-pthread (libblas.so.3 now points to OpenBLAS)" >&2
