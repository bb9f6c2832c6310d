#!/usr/bin/env bash
# The README's test command: installs what is missing, fetches the real assets (tests that need
# them skip with a message if that fails), builds and runs the whole test suite, then runs every
# fuzz target for a few seconds (scripts/fuzz.sh, about a minute; ALIGN_SKIP_FUZZ=1 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/fetch-assets.sh >/dev/null || echo "align: assets unavailable; tests that need them will be skipped" >&2
swift build --build-tests
swift test --skip-build "$@"
if [[ -z "${ALIGN_SKIP_FUZZ:-}" ]]; then
    bash scripts/fuzz.sh
fi
