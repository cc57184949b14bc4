#!/usr/bin/env bash
# The test command: unit, parity and PyTorch-fixture tests (OpenCL runs on PoCL when
# no GPU is present), then every kernel once under oclgrind's bounds and race checks.
set -euo pipefail
cd "$(dirname "$0")/.."

swift build
swift test
bash scripts/oclgrind-check.sh
