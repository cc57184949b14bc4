#!/usr/bin/env bash
# The GPU machine's check, in two halves.
#
#   scripts/gpu-check.sh build         here: a static release binary (--static-swift-stdlib,
#                                      stripped and gzipped), the OpenCL ICD loader and every
#                                      other non-glibc library it needs, in .gpu/ (24 MB: pass
#                                      it to the device tool as carry [".gpu"])
#   scripts/gpu-check.sh run [SECONDS] there (or here, against PoCL): the stages below, each
#                                      under its own timeout, within SECONDS in all (default
#                                      240), every stage's output written to $OUT (default
#                                      .gpu/out) as soon as it ends, so a stage that hangs
#                                      loses nothing before it
#
# Stages: where NVIDIA's OpenCL library is (libnvidia-opencl.so.1, /etc/OpenCL/vendors, the
# driver's folders), `devices`, `programs --build` (every program of the device's list built
# by its driver, with its build log, binary and kernel limits), `check --small` then `check` (every op against the CPU
# reference, on the first GPU or else the default device), `check --fixtures` (against
# PyTorch's values: ops, two training steps), `check --small` in `--precision tf32` and
# `mixed`, `tune` (its cache kept in $OUT/cache), `bench --sizes 128,256` (JSON, with the
# tuned tiling) and the residual conv's passes at 256² in tf32 and mixed,
# and PyTorch's reference on CUDA with TF32 off, with PyTorch's default and with AMP. Where no NVIDIA
# library or no CUDA PyTorch is found, those parts say so and are skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
dir=.gpu

build() {
  set -e
  rm -rf "$dir"; mkdir -p "$dir"  # ignored by git (.gitignore), carried to the device by name
  swift build -c release --static-swift-stdlib --scratch-path .build-static
  cp "$(swift build -c release --static-swift-stdlib --scratch-path .build-static --show-bin-path)/cyclegan" "$dir/"
  strip "$dir/cyclegan"  # symbols off; still 60 MB (Foundation's ICU data), so it travels
  gzip -f "$dir/cyclegan"  # gzipped (23 MB): the device tool carries at most 64 MiB in all
  # the ICD loader and what else the binary links that is not glibc's
  cp -L /usr/lib/x86_64-linux-gnu/libOpenCL.so.1 "$dir/"
  ldd "$(swift build -c release --static-swift-stdlib --scratch-path .build-static --show-bin-path)/cyclegan" | awk '/=> \// { print $3 }' | while read -r lib; do
    case "$(basename "$lib")" in
      libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*|libgcc_s.so*|libstdc++.so*|libOpenCL.so*) ;;
      *) cp -L "$lib" "$dir/" ;;
    esac
  done
  ls -la "$dir"
  du -sh "$dir"
}

# stage NAME SECONDS COMMAND...: runs COMMAND with its output in $OUT/NAME.txt, at most
# SECONDS (and never past the overall deadline); records its status and time.
stage() {
  local name=$1 limit=$2; shift 2
  local left=$(( deadline - $(date +%s) ))
  (( left < limit )) && limit=$left
  if (( limit <= 5 )); then echo "$name: skipped (no time left)" | tee -a "$OUT/summary.txt"; return; fi
  local t0; t0=$(date +%s)
  timeout --kill-after=5 "$limit" "$@" > "$OUT/$name.txt" 2>&1
  local rc=$?
  echo "$name: exit $rc in $(( $(date +%s) - t0 )) s (limit $limit s)" | tee -a "$OUT/summary.txt"
  tail -3 "$OUT/$name.txt"
}

run() {
  local budget=${1:-240}
  deadline=$(( $(date +%s) + budget ))
  OUT=${OUT:-$dir/out}
  mkdir -p "$OUT"
  : > "$OUT/summary.txt"
  local bin=$dir/cyclegan
  [ -f "$bin.gz" ] && [ ! -x "$bin" ] && gunzip -k "$bin.gz"
  [ -x "$bin" ] || { echo "no $bin: run scripts/gpu-check.sh build first"; exit 1; }
  export LD_LIBRARY_PATH="$PWD/$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

  {
    echo "== nvidia-smi"; nvidia-smi 2>&1 | head -15
    echo "== /etc/OpenCL/vendors"; ls -la /etc/OpenCL/vendors 2>&1; cat /etc/OpenCL/vendors/*.icd 2>/dev/null
    echo "== libnvidia-opencl"
    find / -xdev \( -name 'libnvidia-opencl.so*' -o -name 'libOpenCL.so*' \) 2>/dev/null | head -20
  } > "$OUT/locate.txt" 2>&1
  local nv
  nv=$(grep -m1 'libnvidia-opencl.so' "$OUT/locate.txt" | grep '^/' || true)
  if [ -n "$nv" ]; then
    export OCL_ICD_FILENAMES="$nv"
    echo "NVIDIA OpenCL library: $nv" | tee -a "$OUT/summary.txt"
  else
    echo "no libnvidia-opencl.so found: the stages run on whatever OpenCL platform the loader finds" | tee -a "$OUT/summary.txt"
  fi

  stage devices 20 "$bin" devices
  local device=auto
  grep -q "type GPU" "$OUT/devices.txt" && device=gpu
  # Every program of the device's list (`cyclegan programs`: every precision, the narrow build) built by
  # the driver itself: build logs (NVIDIA: -cl-nv-verbose, ptxas's registers and spills),
  # binaries (NVIDIA: its PTX, which `scripts/gpu-compilers.sh --ptx DIR` assembles here) and
  # the driver's kernel limits in programs/kernels.tsv. The driver's compile cache is off, so
  # every log is a fresh build's.
  CUDA_CACHE_DISABLE=1 stage programs 60 "$bin" programs --device "$device" --build "$OUT/programs"
  stage check-small 30 "$bin" check --small --device "$device"
  stage check 60 "$bin" check --device "$device"
  stage check-fixtures 30 "$bin" check --device "$device" --fixtures Tests/Fixtures
  stage check-tf32 30 "$bin" check --small --device "$device" --precision tf32
  stage check-mixed 30 "$bin" check --small --device "$device" --precision mixed
  # tune caches its winner under $XDG_CACHE_HOME, which bench then uses (and saves with $OUT)
  export XDG_CACHE_HOME="$OUT/cache"
  stage tune 60 "$bin" tune --device "$device" --size 128 --repeats 3
  # parity was the check stages' job: bench times only
  stage bench 100 "$bin" bench --device "$device" --sizes 128,256 --repeats 5 --no-check --json "$OUT/bench.json"
  stage bench-tf32 40 "$bin" bench --device "$device" --sizes 256 --repeats 5 --no-check --ops "k3x3 s1" --precision tf32 --json "$OUT/bench-tf32.json"
  stage bench-mixed 40 "$bin" bench --device "$device" --sizes 256 --repeats 5 --no-check --ops "k3x3 s1" --precision mixed --json "$OUT/bench-mixed.json"

  if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    stage pytorch-fp32 45 python3 benchmarks/pytorch_reference.py --device cuda --tf32 off --sizes 128,256
    stage pytorch-default 45 python3 benchmarks/pytorch_reference.py --device cuda --tf32 default --sizes 128,256
    stage pytorch-amp 45 python3 benchmarks/pytorch_reference.py --device cuda --amp --sizes 128,256
  else
    echo "pytorch: no CUDA PyTorch here, skipped" | tee -a "$OUT/summary.txt"
  fi
  echo "outputs in $OUT"
}

case "${1:-}" in
  build) build ;;
  run) shift; run "$@" ;;
  *) echo "usage: scripts/gpu-check.sh build | run [SECONDS]"; exit 2 ;;
esac
