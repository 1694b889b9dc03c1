#!/usr/bin/env bash
# qoda's main job, end to end: installs what is missing, builds qoda, exports
# the bundled WGAN-GP (examples/wgan) from PyTorch to ONNX, compiles the
# generator and the critic with qoda-compile (schedule + generated kernels,
# libqoda_<model>.so), trains it with 4 local workers under QODA through
# qoda-run using the compiled libraries, and prints a summary (layer types,
# bits per coordinate, time per step, quality) and the paths of the plots.
#
#   scripts/quickstart.sh [--minutes M] [--workers K] [OUT_DIR]
#       --minutes M   training time (default 2; evaluations not counted)
#       --workers K   local workers (default 4)
#       OUT_DIR       default ./out
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${QODA_BUILD_DIR:-$root/build}
minutes=2
workers=4
out=
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes=${2:?--minutes needs a number}; shift ;;
    --workers) workers=${2:?--workers needs a number}; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    -*) echo "quickstart.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) [ -z "$out" ] || { echo "quickstart.sh: one OUT_DIR only" >&2; exit 2; }
       out=$1 ;;
  esac
  shift
done
out=${out:-$root/out}
case "$minutes" in ''|*[!0-9.]*|*.*.*)
  echo "quickstart.sh: --minutes: expected a positive number, got '$minutes'" >&2; exit 2 ;; esac
case "$workers" in ''|*[!0-9]*|0)
  echo "quickstart.sh: --workers: expected a positive integer, got '$workers'" >&2; exit 2 ;; esac

"$root/scripts/setup.sh" --build-dir "$build_dir"
bin=$build_dir/bin
py=/usr/bin/python3
export PYTHONPATH=$build_dir/python${PYTHONPATH:+:$PYTHONPATH}
wgan_out=$out/wgan
mkdir -p "$wgan_out"

echo "== exporting the WGAN's generator and critic (PyTorch -> ONNX, training mode)"
"$py" - "$root/examples/wgan" "$wgan_out/onnx" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import wgan
# The same widths as train.py's defaults (--nz 32 --ngf 32 --ndf 32).
paths = wgan.export_onnx(wgan.Generator(32, 32), wgan.Critic(32), sys.argv[2])
print("exported " + ", ".join(paths.values()))
EOF

for m in generator critic; do
  echo
  echo "== qoda-compile $wgan_out/onnx/$m.onnx -o $wgan_out/lib-$m"
  "$bin/qoda-compile" "$wgan_out/onnx/$m.onnx" -o "$wgan_out/lib-$m" \
    --bits-per-coordinate 4 --target cpu
done

# The run stops at the first evaluation after --minutes of training; the
# timeout also covers the classifier (trained once, cached) and evaluations.
limit=$("$py" -c "print(int(60 * float('$minutes')) + 900)")
echo
echo "== training the WGAN-GP: $workers workers, QODA, ${minutes} min, compiled libraries"
"$bin/qoda-run" -n "$workers" --timeout "$limit" -- "$py" "$root/examples/wgan/train.py" \
  --optimizer qoda --compressor layerwise \
  --library "$wgan_out/lib-generator,$wgan_out/lib-critic" \
  --minutes "$minutes" --out "$wgan_out" --run-name qoda-compiled --no-export

echo
echo "== summary"
"$py" - "$wgan_out/qoda-compiled.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"run:               {s['run']} ({s['workers']} workers, {s['optimizer']}, {s['compressor']})")
print(f"libraries:         {', '.join(s['libraries'])}")
print("layer types:")
for how, n in s["layer_types"].items():
    print(f"  {how:<40} {n:>9} coordinates")
k = s["workers"]
print(f"bits per coord:    {s['bits_per_coord']:.2f} put on the wire by rank 0 per coordinate per step "
      f"(all-gather of {k - 1} peer copies; the fp32 ring all-reduce: {64 * (k - 1) / k:.0f})")
print(f"time per step:     {1000 * s['s_per_step']:.0f} ms ({s['steps']} steps in {s['train_s']:.0f} s)")
print(f"quality (FD):      {s['fd_initial']:.1f} at start -> {s['fd_final']:.1f} at end (best {s['fd_best']:.1f}); lower is better")
print(f"samples:           {s['samples']}")
EOF
echo "plots:"
"$py" "$root/examples/wgan/plot.py" --out "$wgan_out" "$wgan_out/qoda-compiled.jsonl"
