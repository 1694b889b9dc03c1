#!/bin/sh
# Builds the CUDA + CPU model library of a schedule with qoda-compile (nvcc
# for sm_80 and sm_90). Exit 77 (skipped) when there is no nvcc.
# usage: cuda_build.sh QODA_COMPILE SCHEDULE.json OUTDIR
set -e
nvcc=/usr/local/cuda/bin/nvcc
[ -x "$nvcc" ] || nvcc=$(command -v nvcc || true)
if [ -z "$nvcc" ]; then
  echo "SKIP: no nvcc (install the CUDA toolkit to build CUDA kernels)"
  exit 77
fi
rm -rf "$3"
"$1" --schedule "$2" -o "$3" --target all --nvcc "$nvcc"
