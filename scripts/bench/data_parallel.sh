#!/usr/bin/env bash
# One rank × 2 threads against 2 ranks × 1 thread (and 2 ranks with the gradient overlap off), same
# global batch, on SmolLM2-135M-Instruct (the fetched GGUF, dequantised to fp32) with DPO on
# Tests/Fixtures/dpo/pairs.jsonl: 8 pairs per step, AdamW, a frozen reference.
# Prints per configuration: mean seconds per step over steps 2..N (from metrics.jsonl's
# seconds_per_step, logged every step), the peak RSS of each process (GNU time) and rank 0's peak
# tensor memory; the last metric row's loss for a sanity check.
# Usage: bash scripts/bench/data_parallel.sh [STEPS]   (release build: swift build -c release --product align)
set -euo pipefail
cd "$(dirname "$0")/../.."
steps="${1:-5}"
align=.build/release/align
model="${ALIGN_CACHE:-$HOME/.cache/align}/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
data=Tests/Fixtures/dpo/pairs.jsonl
root=()
[ "$(id -u)" -eq 0 ] && root=(--allow-run-as-root)
args=(dpo --model "$model" --data "$data" --batch-size 4 --gradient-accumulation-steps 2 --max-steps "$steps"
      --logging-steps 1 --learning-rate 1e-6 --lr-scheduler constant --no-shuffle)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

report() {  # name folder rss-file
    awk -v name="$1" -v steps="$steps" '
        /"seconds_per_step"/ { n++; match($0, /"seconds_per_step": [0-9.e+-]+/); v = substr($0, RSTART + 20, RLENGTH - 20);
                               if (n >= 2) { sum += v; k++ } }
        /"peak_memory_mb"/ { match($0, /"peak_memory_mb": [0-9.e+-]+/); mem = substr($0, RSTART + 18, RLENGTH - 18) }
        /"loss"/ { match($0, /"loss": [0-9.e+-]+/); loss = substr($0, RSTART + 8, RLENGTH - 8) }
        END { printf "%-34s %.3f s/step (steps 2-%d), tensor peak %.0f MB (rank 0), last loss %s\n", name, sum / k, steps, mem, loss }' "$2/metrics.jsonl"
    sed 's/^/    /' "$3"
}

ALIGN_NUM_THREADS= /usr/bin/time -f "RSS %M KB (one process)" -o "$out/rss1" \
    "$align" "${args[@]}" --threads 2 --output "$out/one" 2> "$out/log1"
report "1 rank x 2 threads" "$out/one" "$out/rss1"

mpirun "${root[@]}" --oversubscribe -np 2 /usr/bin/time -f "RSS %M KB (a rank)" -a -o "$out/rss2" \
    "$align" "${args[@]}" --threads 1 --output "$out/two" 2> "$out/log2"
report "2 ranks x 1 thread, overlap on" "$out/two" "$out/rss2"
grep "waited" "$out/log2" | sed 's/^/    /'

mpirun "${root[@]}" --oversubscribe -np 2 -x ALIGN_DDP_OVERLAP=0 /usr/bin/time -f "RSS %M KB (a rank)" -a -o "$out/rss3" \
    "$align" "${args[@]}" --threads 1 --output "$out/three" 2> "$out/log3"
report "2 ranks x 1 thread, overlap off" "$out/three" "$out/rss3"
grep "waited" "$out/log3" | sed 's/^/    /'
