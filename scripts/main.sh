#!/usr/bin/env bash
# The README's main command: installs what is missing, fetches the embedded default's assets,
# builds in release mode and runs the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/fetch-assets.sh >/dev/null
swift build -c release
# Until `align demo` lands, the main job is the engine benchmark on the embedded Llama-shaped default.
.build/release/align-bench "$@"
