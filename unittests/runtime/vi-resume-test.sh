#!/bin/sh
# A run resumed from a checkpoint ends bit for bit where the run that was
# never stopped ends (compared by a hash of the final iterate's bytes, and of
# the level tables when levels are re-fitted), and every rank ends the same.
# usage: vi-resume-test.sh QODA_RUN QODA_BENCH K OPTIMIZER [EXTRA ARGS...]
set -u
run=$1; drv=$2; k=$3; opt=$4; shift 4
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
args="--problem blocks --optimizer $opt --steps 40 --noise-abs 0.5 --json $*"
full=$("$run" -n "$k" -- "$drv" vi $args --checkpoint "$dir/ck" --checkpoint-at 17) || exit 1
resumed=$("$run" -n "$k" -- "$drv" vi $args --resume "$dir/ck") || exit 1
a=$(echo "$full" | grep summary | grep -o '"\(x_fnv1a\|levels_hash\)":"[0-9a-f]*"' | tr '\n' ' ')
b=$(echo "$resumed" | grep summary | grep -o '"\(x_fnv1a\|levels_hash\)":"[0-9a-f]*"' | tr '\n' ' ')
echo "uninterrupted $a"
echo "resumed       $b"
# The resumed run must really have started at step 18.
echo "$resumed" | grep -q '"step":1,' && { echo "resumed run restarted from step 1"; exit 1; }
# All ranks end with the same iterate and tables.
for out in "$full" "$resumed"; do
  n=$(echo "$out" | grep '"final":true' | sed 's/.*"rank":[0-9]*,//' | sort -u | wc -l)
  [ "$n" = 1 ] || { echo "ranks ended in different states"; exit 1; }
done
[ -n "$a" ] && [ "$a" = "$b" ]
