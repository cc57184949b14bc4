#!/usr/bin/env bash
# The test command: every kernel through the GPU vendors' compilers (scripts/gpu-compilers.sh),
# unit, parity and PyTorch-fixture tests (OpenCL runs on PoCL when no GPU is present), then
# every kernel once under oclgrind's bounds and race checks.
set -euo pipefail
cd "$(dirname "$0")/.."

swift build
# every kernel through NVIDIA's, AMD's and Intel's compilers, checked against Kernels/RESOURCES.md
bash scripts/gpu-compilers.sh
bash scripts/build-mpi-shim.sh   # libcyclegan_mpi.so beside the binary, for the mpirun tests
swift test
bash scripts/fuzz.sh --replay   # the committed fuzz corpus, once per parser (Fuzz/README.md)
# bench smoke test on the default device (PoCL in CI): runs every path, asserts no timing
"$(swift build --show-bin-path)/cyclegan" bench --quick --sizes 32 --ngf 4 --n_blocks 6 --repeats 1 > /dev/null
echo "bench smoke test passed"
bash scripts/oclgrind-check.sh
