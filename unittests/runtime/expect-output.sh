#!/bin/sh
# usage: expect-output.sh RC PATTERN CMD ARGS...
# Runs CMD; passes when it exits with RC ("nonzero" for any failure) and its
# combined output matches the extended regular expression PATTERN.
want=$1; pattern=$2; shift 2
out=$("$@" 2>&1)
rc=$?
echo "$out"
if [ "$want" = nonzero ]; then
  [ "$rc" != 0 ] || { echo "expected a non-zero exit status"; exit 1; }
else
  [ "$rc" = "$want" ] || { echo "expected exit status $want, got $rc"; exit 1; }
fi
echo "$out" | grep -Eq -- "$pattern" || { echo "output does not match: $pattern"; exit 1; }
