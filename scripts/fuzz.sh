#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/ (AddressSanitizer + libFuzzer, debug, so Swift's own bounds
# and overflow checks stay on) and runs each over its seed corpus for a few seconds. Any crash, leak,
# timeout or out-of-memory fails the script; libFuzzer leaves the input under Fuzz/.build-fuzz/artifacts/.
#
#   bash scripts/fuzz.sh                         # every target, ALIGN_FUZZ_SECONDS (default 6) each
#   bash scripts/fuzz.sh FuzzGGUF -runs=1000000  # one target, extra libFuzzer flags (a long run)
#
# Needs only the Swift toolchain: libFuzzer and ASan ship with it (lib/clang/*/lib/linux).
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=Fuzz/.build-fuzz
# `--sanitize fuzzer` makes SwiftPM leave the entry point to libFuzzer; the sanitizers themselves come
# from one `-sanitize=fuzzer,address` (swiftc keeps only the last -sanitize= it is given, so
# SwiftPM's separate --sanitize fuzzer --sanitize address would silently drop coverage).
flags=(--package-path Fuzz --scratch-path "$scratch" -c debug --sanitize fuzzer -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library)
# (gold warns once per ASan helper symbol at every link; those lines are dropped.)
# ALIGN_FUZZ_NO_BUILD=1 runs the binaries already built (a long campaign while the tree changes).
if [[ -z "${ALIGN_FUZZ_NO_BUILD:-}" ]]; then
    swift build "${flags[@]}" 2>&1 | { grep -v "Cannot export local symbol" || true; } >&2
fi
bin=$(swift build "${flags[@]}" --show-bin-path)

targets=()
extra=()
for arg in "$@"; do
    if [[ "$arg" == -* ]]; then extra+=("$arg"); else targets+=("$arg"); fi
done
if [[ ${#targets[@]} -eq 0 ]]; then
    for dir in Fuzz/Sources/Fuzz*/; do
        name=$(basename "$dir")
        [[ "$name" == FuzzSupport ]] || targets+=("$name")
    done
fi
if [[ ${#extra[@]} -eq 0 ]]; then extra=(-max_total_time="${ALIGN_FUZZ_SECONDS:-6}"); fi

mkdir -p "$scratch/artifacts"
failed=()
for target in "${targets[@]}"; do
    [[ -x "$bin/$target" ]] || { echo "fuzz: $target was not built" >&2; failed+=("$target"); continue; }
    # New inputs go to a scratch corpus; the committed seeds in Fuzz/Corpus are only read.
    mkdir -p "$scratch/corpus/$target"
    echo "fuzz: $target ${extra[*]}" >&2
    # The Swift runtime's own crash reporter would race libFuzzer's handler (and can hang in a
    # sandbox); libFuzzer's report, with ASan's stack, is the one wanted here.
    if ! SWIFT_BACKTRACE=enable=no ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" \
        LSAN_OPTIONS="suppressions=$PWD/Fuzz/lsan.supp:print_suppressions=0" "$bin/$target" \
        -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="$scratch/artifacts/$target-" "${extra[@]}" \
        "$scratch/corpus/$target" "Fuzz/Corpus/$target" 2>"$scratch/$target.log"; then
        tail -60 "$scratch/$target.log" >&2
        failed+=("$target")
    else
        grep -E "^(stat::number_of_executed_units|stat::average_exec_per_sec|Done)" "$scratch/$target.log" | tr '\n' ' ' >&2
        echo >&2
    fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzz: FAILED: ${failed[*]} (inputs in $scratch/artifacts/)" >&2
    exit 1
fi
echo "fuzz: ${#targets[@]} targets ran clean" >&2
