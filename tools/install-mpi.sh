#!/usr/bin/env bash
# Installs Open MPI (mpirun and libmpi.so.40), which Fluxion.Distributed and its tests need, when it is
# missing. Debian/Ubuntu only (apt-get); needs root or sudo. Called by .ci/run before the tests.
set -euo pipefail
if command -v mpirun >/dev/null 2>&1 && [ -n "$(ldconfig -p 2>/dev/null | grep 'libmpi\.so\.40' || true)" ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-mpi.sh: Open MPI is missing and apt-get is not available; install Open MPI 4.x (mpirun, libmpi.so.40) by hand." >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "install-mpi.sh: installing Open MPI (openmpi-bin, libopenmpi-dev)"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq openmpi-bin libopenmpi-dev >/dev/null
mpirun --version | head -n 1
