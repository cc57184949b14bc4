#!/usr/bin/env bash
# Runs every kernel at small shapes under oclgrind with its out-of-bounds and data-race
# checks. oclgrind has no failing exit status for a report, so any line in its log fails.
# (--uninitialized is not used: oclgrind 21.10 aborts on LLVM's `freeze` instruction.)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(swift build --show-bin-path)/cyclegan"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
# oclgrind charges every kernel with the __local arrays of all the kernels in its program
# (LLVM makes them module globals): conv2d.cl's two double-buffered tiled kernels take 6.5 KB
# each with the GPU tile's slices of 4 (26 KB at slices of 16, 17 KB in the narrow build), so
# its default 32 KB would refuse even the kernels that use none. 64 KB per program stays
# below what GPUs give one work-group (48 KB and up).
oclgrind() { command oclgrind --local-mem-size 65536 "$@"; }
# oclgrind presents a GPU: the GPU-shaped kernels run by default (gemm_tiled's local-memory
# staging and barriers included); then the CPU-shaped ones (16x16 GEMM tiles, barrier-free
# instance norm) and the direct convolution kernels.
# (reporting 132 compute units, as an H200 has: split-K weight gradients and instance
# norms over several work-groups per plane take their big-device paths)
oclgrind --compute-units 132 --data-races --log "$log" "$bin" check --small > /dev/null || status=$?
# CycleGAN's layers at 32² (ngf 2): planes large enough for several work-group tiles and
# split weight gradients of every layer (conv2d_s1_tiled, conv2d_s1_wgrad_tiled, pad_phases)
[ "$status" = 0 ] && { oclgrind --compute-units 132 --data-races --log "$log.layers" "$bin" check --size 32 --ngf 2 > /dev/null || status=$?; cat "$log.layers" >> "$log"; rm -f "$log.layers"; }
# (with the convolutions' scratch limited to 16 floats: every pass that bands its rows, as a
# photograph's layers do at `test`, runs in bands of one row)
[ "$status" = 0 ] && { CYCLEGAN_KERNEL_SHAPE=cpu CYCLEGAN_SCRATCH_LIMIT=16 oclgrind --data-races --log "$log.cpu" "$bin" check --small > /dev/null || status=$?; cat "$log.cpu" >> "$log"; rm -f "$log.cpu"; }
[ "$status" = 0 ] && { CYCLEGAN_CONV=direct oclgrind --data-races --log "$log.direct" "$bin" check --small > /dev/null || status=$?; cat "$log.direct" >> "$log"; rm -f "$log.direct"; }
# the FP16 programs (-DACT_HALF, --precision mixed) in both kernel shapes (55 s and 4 s here).
# (tf32's programs index exactly as fp32's, rounding values only: not run again, 51 s)
for run in "gpu mixed" "cpu mixed"; do
  set -- $run
  [ "$status" = 0 ] && { CYCLEGAN_KERNEL_SHAPE=$1 oclgrind --data-races --log "$log.prec" "$bin" check --small --precision $2 > /dev/null 2>&1 || status=$?; cat "$log.prec" >> "$log"; rm -f "$log.prec"; }
done
# the benchmark's own kernels (ceilings) and the conv passes at a tiny size, in the CPU
# shape: the GPU shape's kernels ran above, and simulating gemm_tiled's 256-item
# work-groups over the bench's planes costs oclgrind 45 s more
[ "$status" = 0 ] && { CYCLEGAN_KERNEL_SHAPE=cpu oclgrind --data-races --log "$log.bench" "$bin" bench --quick --sizes 32 --ngf 2 --repeats 1 --no-iteration > /dev/null || status=$?; cat "$log.bench" >> "$log"; rm -f "$log.bench"; }
if [ -s "$log" ]; then
  echo "oclgrind reported problems:"; head -50 "$log"; exit 1
fi
if [ "$status" != 0 ]; then echo "cyclegan check failed under oclgrind (exit $status)"; exit 1; fi
echo "oclgrind: every kernel ran clean (bounds, data races)"
