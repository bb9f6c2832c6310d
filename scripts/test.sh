#!/usr/bin/env bash
# The README's test command: installs what is missing, fetches the real assets (tests that need
# them skip with a message if that fails), builds and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/fetch-assets.sh >/dev/null || echo "align: assets unavailable; tests that need them will be skipped" >&2
swift build --build-tests
swift test --skip-build "$@"
