#!/usr/bin/env bash
# Installs the Debian packages the project needs (OpenCL loader and headers, PoCL,
# oclgrind, libpng, libjpeg-turbo). Swift 6 must already be installed.
set -euo pipefail
packages="pocl-opencl-icd ocl-icd-opencl-dev opencl-headers clinfo oclgrind libpng-dev libjpeg62-turbo-dev"
missing=""
for p in $packages; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y $missing
fi
