#!/usr/bin/env bash
# Installs the Debian packages the project needs (OpenCL loader and headers, PoCL,
# oclgrind, libpng, libjpeg-turbo, Open MPI for `mpirun -np N cyclegan train`). Swift 6
# must already be installed. (scripts/build-mpi-shim.sh then builds the MPI shim.)
set -euo pipefail
packages="pocl-opencl-icd ocl-icd-opencl-dev opencl-headers clinfo oclgrind libpng-dev libjpeg62-turbo-dev openmpi-bin libopenmpi-dev iproute2"
missing=""
for p in $packages; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y $missing
fi
