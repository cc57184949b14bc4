#!/usr/bin/env bash
# libFuzzer campaigns over the file parsers (see Fuzz/README.md).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]   build (-O), then fuzz each target SECONDS (default 60),
#                                           two at a time; new inputs go to .build-fuzz/corpus/<target>,
#                                           crashes to .build-fuzz/crashes/<target>
#   scripts/fuzz.sh --replay [TARGET...]    build (-Onone), then run every committed input in
#                                           Fuzz/corpus/<target> once (no random search); non-zero on any crash
#
# Targets: safetensors pth_zip pth_legacy image. Each is its Fuzz/targets/<target>.swift
# compiled with only the sources it needs, under -sanitize=fuzzer,address.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(safetensors pth_zip pth_legacy image)
IO=Sources/CycleGAN/IO
DATA=Sources/CycleGAN/Data
FILES="$IO/AtomicFile.swift $DATA/RegularFile.swift"   # reading files, FileError
TENSORS="$IO/SafeTensors.swift Sources/CycleGAN/Tensor/DType.swift"   # HostTensor and its element type
PTH="$IO/Pickle.swift $IO/PyTorchCheckpoint.swift $IO/ZipArchive.swift $TENSORS $FILES"
declare -A SOURCES=(
    [safetensors]="$TENSORS $FILES"
    [pth_zip]="$PTH"
    [pth_legacy]="$PTH"
    [image]="$DATA/ImageIO.swift $DATA/Image.swift $FILES"
)
# Longest input per target: room for a header and a few tensors, a small state dict, a small image.
declare -A MAX_LEN=([safetensors]=16384 [pth_zip]=65536 [pth_legacy]=65536 [image]=65536)

mode=campaign seconds=60
if [[ "${1:-}" == "--replay" ]]; then mode=replay; shift
elif [[ "${1:-}" =~ ^[0-9]+$ ]]; then seconds=$1; shift
fi
(( $# )) && TARGETS=("$@")
for t in "${TARGETS[@]}"; do
    [[ -n "${SOURCES[$t]:-}" ]] || { echo "error: unknown fuzz target $t (known: ${!SOURCES[*]})" >&2; exit 2; }
done

OUT=.build-fuzz/$mode
mkdir -p "$OUT"
opt=$([[ $mode == replay ]] && echo -Onone || echo -O)
# the toolchain's own clang, whose libFuzzer and ASan runtimes match swiftc's
CLANG=$(dirname "$(readlink -f "$(command -v swiftc)")")/clang

# CImageIO: the C decoders, instrumented, and a module map for `import CImageIO`.
build_cimageio() {
    mkdir -p "$OUT/cimageio"
    printf 'module CImageIO {\n    header "%s/Sources/CImageIO/include/cimageio.h"\n    export *\n}\n' "$PWD" > "$OUT/cimageio/module.modulemap"
    "$CLANG" -fsanitize=fuzzer-no-link,address -O1 -g -I Sources/CImageIO/include -c Sources/CImageIO/cimageio.c -o "$OUT/cimageio.o"
}

build() {
    local t=$1 bin=$OUT/$1 extra=()
    # rebuild only when a source is newer than the binary
    if [[ -x $bin ]] && [[ -z $(find Fuzz/targets/$t.swift Fuzz/targets/Support.swift ${SOURCES[$t]} scripts/fuzz.sh $([[ $t == image ]] && echo Sources/CImageIO) -newer "$bin" 2>/dev/null) ]]; then
        return
    fi
    if [[ $t == image ]]; then
        build_cimageio
        extra=(-I "$OUT/cimageio" "$OUT/cimageio.o" -lpng16 -ljpeg)
    fi
    swiftc -sanitize=fuzzer,address -parse-as-library $opt -g -use-ld=lld -module-name CycleGAN \
        Fuzz/targets/$t.swift Fuzz/targets/Support.swift ${SOURCES[$t]} "${extra[@]}" -o "$bin"
}

pids=()
for t in "${TARGETS[@]}"; do build "$t" & pids+=($!); done
for p in "${pids[@]}"; do wait "$p"; done

common=(-rss_limit_mb=2048 -detect_leaks=0)
# a Swift trap reaches libFuzzer's deadly-signal handler, not Swift's backtracer (which ASan trips over)
export SWIFT_BACKTRACE=enable=no

if [[ $mode == replay ]]; then
    failed=0
    for t in "${TARGETS[@]}"; do
        inputs=(Fuzz/corpus/$t/*)
        log=$OUT/$t.log
        if "$OUT/$t" "${common[@]}" -runs=0 -timeout=30 "${inputs[@]}" > "$log" 2>&1; then
            echo "fuzz replay $t: ${#inputs[@]} inputs, no crash"
        else
            echo "fuzz replay $t: FAILED (log: $log)" >&2
            { grep "Running:" "$log" | tail -n 1; grep -E "ERROR|SUMMARY|failed|Fatal error" "$log" | head -n 5; } >&2
            failed=1
        fi
    done
    exit $failed
fi

campaign() {
    local t=$1 log=.build-fuzz/logs/$1.log
    mkdir -p .build-fuzz/corpus/$t .build-fuzz/crashes/$t .build-fuzz/logs
    "$OUT/$t" "${common[@]}" -max_total_time="$seconds" -max_len="${MAX_LEN[$t]}" -timeout=10 \
        -dict=Fuzz/dict/$t.dict -artifact_prefix=.build-fuzz/crashes/$t/ -print_final_stats=1 \
        .build-fuzz/corpus/$t Fuzz/corpus/$t > "$log" 2>&1 || true
}

mkdir -p .build-fuzz/logs
touch .build-fuzz/logs/started   # crashes newer than this are this campaign's
pids=()
for t in "${TARGETS[@]}"; do
    campaign "$t" & pids+=($!)
    if (( ${#pids[@]} == 2 )); then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
done
for p in "${pids[@]}"; do wait "$p"; done

crashes=0
printf '%-12s %12s %8s %8s %8s\n' target executions seconds corpus crashes
for t in "${TARGETS[@]}"; do
    log=.build-fuzz/logs/$t.log
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    secs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | grep -o 'in [0-9]*' | grep -o '[0-9]*' || echo "?")
    found=$(find .build-fuzz/crashes/$t -type f -newer .build-fuzz/logs/started | wc -l)
    printf '%-12s %12s %8s %8s %8s\n' "$t" "$runs" "${secs:-?}" "$(ls .build-fuzz/corpus/$t | wc -l)" "$found"
    crashes=$((crashes + found))
done
(( crashes == 0 )) || { echo "crashing inputs: .build-fuzz/crashes/ (logs: .build-fuzz/logs/)" >&2; exit 1; }
