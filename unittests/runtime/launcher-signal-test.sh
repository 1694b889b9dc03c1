#!/bin/sh
# qoda-run forwards SIGTERM to every worker (which may clean up) and exits
# 128+15. usage: launcher-signal-test.sh QODA_RUN
out=$(mktemp); trap 'rm -f "$out"' EXIT
"$1" -n 2 -- sh -c 'trap "echo got-TERM; exit 0" TERM; echo ready; sleep 30 & wait' >"$out" 2>&1 &
pid=$!
i=0
while [ "$(grep -c ready "$out")" -lt 2 ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
kill -TERM $pid
wait $pid
rc=$?
cat "$out"
[ $rc = 143 ] || { echo "expected exit 143, got $rc"; exit 1; }
grep -q '^\[rank 0\] got-TERM' "$out" && grep -q '^\[rank 1\] got-TERM' "$out" \
  || { echo "SIGTERM was not forwarded to both workers"; exit 1; }

# A SIGKILLed qoda-run takes its workers with it (PR_SET_PDEATHSIG).
pids=$(mktemp)
"$1" -n 2 -- sh -c 'echo $$ >> '"$pids"'; exec sleep 30' &
pid=$!
i=0
while [ "$(wc -l < "$pids")" -lt 2 ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
kill -KILL $pid
wait $pid 2>/dev/null
sleep 0.3
survived=0
for w in $(cat "$pids"); do
  # A zombie (state Z, waiting for a reaper) has been killed.
  state=$(sed -n 's/^[0-9]* ([^)]*) \(.\).*/\1/p' /proc/$w/stat 2>/dev/null)
  if [ -n "$state" ] && [ "$state" != Z ]; then
    echo "worker $w survived qoda-run's SIGKILL"
    kill -9 "$w"
    survived=1
  fi
done
rm -f "$pids"
exit $survived
