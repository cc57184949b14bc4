#!/usr/bin/env bash
# The GPU compilers' check: every program the backend builds for an H100, A100, MI250, RDNA3,
# Arc and Max GPU (`cyclegan programs --profile P`), compiled offline by NVIDIA's ptxas, AMD's
# LLVM back end and Intel's ocloc, each kernel's registers, stack or scratch, spills, local
# memory and occupancy checked (scripts/gpu_compilers.py says what fails) and tabled in
# Kernels/RESOURCES.md.
#
#   bash scripts/gpu-compilers.sh           check, and compare with Kernels/RESOURCES.md when
#                                           the tools' versions are the same (run by scripts/test.sh)
#   bash scripts/gpu-compilers.sh --write   check and rewrite Kernels/RESOURCES.md
#   bash scripts/gpu-compilers.sh --ptx DIR the PTX NVIDIA's driver made on the GPU machine
#                                           (scripts/gpu-check.sh's programs/) through ptxas here
#
# Tools (about 350 MB, cached in $GPU_COMPILERS_CACHE, default ~/.cache/gpu-compilers):
# Debian's clang-16, libclc-16, rocm-device-libs and lld-15 (llvm-15's nm and readelf come with
# PoCL); ptxas from the PyPI wheel nvidia-cuda-nvcc-cu12 (pinned below); ocloc from Debian's
# intel-opencl-icd and its libraries, unpacked (not installed: its ICD would add a platform
# to every OpenCL program on the machine).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=--compare target=Kernels/RESOURCES.md
case "${1:-}" in
  --write) mode=--write ;;
  --ptx) mode=--ptx target=${2:?usage: scripts/gpu-compilers.sh --ptx DIR} ;;
  "") ;;
  *) echo "usage: scripts/gpu-compilers.sh [--write | --ptx DIR]" >&2; exit 2 ;;
esac
cache=${GPU_COMPILERS_CACHE:-$HOME/.cache/gpu-compilers}
mkdir -p "$cache"
t0=$(date +%s)

PTXAS_WHEEL=nvidia-cuda-nvcc-cu12==12.9.86
apt_packages="clang-16 libclc-16 rocm-device-libs lld-15 llvm-15"
intel_packages="intel-opencl-icd libigc1 libigdfcl1 libigdgmm12 libllvmspirvlib14 libopencl-clang14"

missing=""
for p in $apt_packages; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
if [ ! -x "$cache/intel/usr/bin/ocloc" ]; then
  rm -rf "$cache/debs" "$cache/intel"; mkdir -p "$cache/debs"
  (cd "$cache/debs" && apt-get download $intel_packages 2>&1 | grep -v "^W: Download is performed unsandboxed" || true)
  for d in "$cache"/debs/*.deb; do dpkg-deb -x "$d" "$cache/intel"; done
fi
ptxas=$cache/nvcc/nvidia/cuda_nvcc/bin/ptxas
if [ ! -x "$ptxas" ]; then
  rm -rf "$cache/wheels"; mkdir -p "$cache/wheels"
  python3 -m pip download -q --no-deps "$PTXAS_WHEEL" -d "$cache/wheels"
  python3 -m zipfile -e "$cache"/wheels/nvidia_cuda_nvcc_cu12-*.whl "$cache/wheel"
  mkdir -p "$(dirname "$ptxas")" && cp "$cache/wheel/nvidia/cuda_nvcc/bin/ptxas" "$ptxas" && chmod +x "$ptxas"
  rm -rf "$cache/wheel"
fi
if ldd "$cache/intel/usr/bin/ocloc" 2>/dev/null | grep -v libocloc.so | grep -q "not found"; then
  echo "gpu-compilers: ocloc lacks libraries:"; ldd "$cache/intel/usr/bin/ocloc" | grep "not found"; exit 1
fi

version() { dpkg-deb -f "$cache"/debs/"$1"_*.deb Version; }
versions="clang-16 $(dpkg-query -W -f '${Version}' clang-16), libclc-16 $(dpkg-query -W -f '${Version}' libclc-16)
rocm-device-libs $(dpkg-query -W -f '${Version}' rocm-device-libs), lld-15 $(dpkg-query -W -f '${Version}' lld-15)
ptxas $("$ptxas" --version | sed -n 's/.*release \([0-9.]*\), V\([0-9.]*\).*/\2/p') ($PTXAS_WHEEL)
ocloc: intel-opencl-icd $(version intel-opencl-icd), libigc1 $(version libigc1)"

swift build >/dev/null  # up to date after scripts/test.sh's build: a no-op there
bin=$(swift build --show-bin-path)/cyclegan
out=$cache/out
rm -rf "$out"
t1=$(date +%s)
echo "gpu-compilers: tools ready in $((t1 - t0)) s"
nice -n 5 python3 scripts/gpu_compilers.py --cyclegan "$bin" --kernels Kernels --tools "$cache" --out "$out" \
  --versions "$versions" "$mode" "$target"
