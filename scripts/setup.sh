#!/usr/bin/env bash
# Installs every Debian package qoda's build, tests and examples need, then
# configures and builds qoda. Idempotent: when everything is present it only
# runs an incremental build.
#
#   scripts/setup.sh [--deps-only] [--build-dir DIR] [-- extra cmake args]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${QODA_BUILD_DIR:-$root/build}
deps_only=0
cmake_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --deps-only) deps_only=1 ;;
    --build-dir) build_dir=$2; shift ;;
    --) shift; cmake_args=("$@"); break ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

packages=(
  # toolchain
  build-essential cmake ninja-build git pkg-config
  # compiler: LLVM/MLIR 16 (libzstd-dev is needed by find_package(MLIR)), ONNX
  llvm-16-dev llvm-16-tools libmlir-16-dev mlir-16-tools libzstd-dev
  libonnx-dev libprotobuf-dev protobuf-compiler libonnx-testdata
  # runtime: collectives, tests, benchmarks, Python binding
  libgloo-dev libgtest-dev libgmock-dev libbenchmark-dev pybind11-dev python3-dev
  nlohmann-json3-dev
  iproute2
  # models, examples, plots
  python3 python3-numpy python3-onnx python3-torch python3-torchvision
  # an optimised BLAS for torch (Debian's alternatives switch libblas.so.3
  # to it): its convolutions ran 3.5x faster than on the reference BLAS
  # (docs/perf.md); serial, because workers run one thread each
  libopenblas0-serial
  python3-matplotlib dataset-fashion-mnist graphviz
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
fi
[ "$deps_only" -eq 1 ] && exit 0

if [ ! -f "$build_dir/build.ninja" ]; then
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "${cmake_args[@]}"
elif [ ${#cmake_args[@]} -gt 0 ]; then
  cmake "$build_dir" "${cmake_args[@]}"
fi
cmake --build "$build_dir"
