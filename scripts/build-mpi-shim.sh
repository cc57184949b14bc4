#!/usr/bin/env bash
# Builds libcyclegan_mpi.so (MPIShim/cyclegan_mpi.c, the only code that links MPI) with
# mpicc, beside the cyclegan binary of the given configuration (debug by default), where
# `cyclegan` finds it when it runs under mpirun. Needs Debian's openmpi-bin and
# libopenmpi-dev (scripts/setup.sh installs them). A cyclegan never started by mpirun does
# not need it.  Usage: scripts/build-mpi-shim.sh [debug|release] [output folder]
set -euo pipefail
cd "$(dirname "$0")/.."
config="${1:-debug}"
out="${2:-$(swift build -c "$config" --show-bin-path)}"
mkdir -p "$out"
mpicc -O2 -shared -fPIC -Wall -o "$out/libcyclegan_mpi.so" MPIShim/cyclegan_mpi.c
echo "built $out/libcyclegan_mpi.so"
