#!/usr/bin/env bash
# Runs qoda's whole test suite: installs what is missing, builds, then runs
# ctest (gtest unit tests, multi-process runtime tests, the lit suite).
#
#   scripts/test.sh [ctest args...]     e.g. scripts/test.sh -L lit
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${QODA_BUILD_DIR:-$root/build}
"$root/scripts/setup.sh" --build-dir "$build_dir"
jobs=$(nproc 2>/dev/null || echo 2)
cd "$build_dir"
# ctest ends its output with the list of skipped tests; repeat its summary
# line last so that the last line says how the run went.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
ctest --output-on-failure -j "$jobs" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
grep -E '^[0-9]+% tests passed' "$log" | tail -n 1 || echo "ctest exited with status $status"
exit "$status"
