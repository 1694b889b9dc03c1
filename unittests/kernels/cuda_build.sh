#!/bin/sh
# Builds the CUDA + CPU model library of a schedule with qoda-compile (nvcc
# for sm_80 and sm_90), then checks the library's CPU path (its C++ half is
# compiled with QODA_MODELLIB_CUDA=1) against the reference. Exit 77
# (skipped) when there is no nvcc.
# usage: cuda_build.sh QODA_COMPILE SCHEDULE.json OUTDIR MODELLIB_CHECK
set -e
nvcc=/usr/local/cuda/bin/nvcc
[ -x "$nvcc" ] || nvcc=$(command -v nvcc || true)
if [ -z "$nvcc" ]; then
  echo "SKIP: no nvcc (install the CUDA toolkit to build CUDA kernels)"
  exit 77
fi
rm -rf "$3"
"$1" --schedule "$2" -o "$3" --target all --nvcc "$nvcc"
lib=$(ls "$3"/libqoda_*.so)
"$4" "$lib" "$2" --device cpu --k 2 --inputs 2
