#!/bin/sh
# qoda-run must exit with the failing worker's status and name its rank.
# usage: launcher-exit-code.sh QODA_RUN
out=$("$1" -n 3 -- sh -c 'test "$RANK" != 2 || exit 7; sleep 30' 2>&1)
rc=$?
echo "$out"
test "$rc" = 7 || { echo "expected exit status 7, got $rc"; exit 1; }
echo "$out" | grep -q 'rank 2 exited with status 7' || { echo "rank not named"; exit 1; }
