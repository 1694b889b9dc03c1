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
exec ctest --output-on-failure -j "$jobs" "$@"
