#!/usr/bin/env bash
# A newcomer's first run: installs what is missing, builds qoda, exports the
# bundled example models from PyTorch and runs qoda's main job on them
# (inspect the model, import it into the qoda MLIR dialect).
#
#   scripts/quickstart.sh [OUT_DIR]      (default: ./out)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${QODA_BUILD_DIR:-$root/build}
out=${1:-$root/out}
"$root/scripts/setup.sh" --build-dir "$build_dir"
bin=$build_dir/bin
mkdir -p "$out"

echo "== exporting the bundled DCGAN (PyTorch -> ONNX, training-mode recipe)"
/usr/bin/python3 "$root/examples/models/export_models.py" --mode train \
  --out "$out" dcgan_generator dcgan_discriminator

for m in dcgan_generator dcgan_discriminator; do
  echo
  echo "== qoda-inspect $out/$m.onnx"
  "$bin/qoda-inspect" "$out/$m.onnx"
  "$bin/qoda-opt" "$out/$m.onnx" -o "$out/$m.mlir"
  echo "imported into the qoda dialect: $out/$m.mlir ($(wc -l < "$out/$m.mlir") lines)"
done
