#!/bin/sh
# qoda-run --bandwidth: workers in their own namespaces behind tbf can run
# the collectives, and the namespaces are gone afterwards, also after a
# worker failure and after SIGINT. Skipped (77) without root or netns.
# usage: launcher-bandwidth-test.sh QODA_RUN COMM_WORKER
run=$1; worker=$2
[ "$(id -u)" = 0 ] || { echo "not root: skipped"; exit 77; }
probe=qoda-probe-$$
ip netns add "$probe" 2>/dev/null || { echo "ip netns unavailable: skipped"; exit 77; }
ip netns del "$probe"
ours() { ip netns list | grep -c "^qoda-$1-" ; }

"$run" -n 2 --bandwidth 100mbit -- "$worker" collectives || { echo "collectives failed"; exit 1; }

"$run" -n 2 --bandwidth 1gbit -- sh -c 'tc qdisc show dev eth0 | grep -q "tbf.*rate 1Gbit" && test "$MASTER_ADDR" = 10.77.0.1' \
  || { echo "worker does not see its shaped link"; exit 1; }

"$run" -n 2 --bandwidth 1gbit -- sh -c 'exit 5'
[ $? = 5 ] || { echo "failure status not propagated"; exit 1; }

"$run" -n 2 --bandwidth 1gbit -- sleep 30 &
pid=$!
i=0
while [ "$(ours $pid)" -lt 3 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
[ "$(ours $pid)" = 3 ] || { echo "namespaces were not created"; kill -9 $pid; exit 1; }
kill -INT $pid
wait $pid
rc=$?
[ $rc = 130 ] || { echo "SIGINT: expected 130, got $rc"; exit 1; }
[ "$(ours $pid)" = 0 ] || { echo "namespaces left after SIGINT"; exit 1; }
[ "$(ip netns list | grep -c '^qoda-')" = 0 ] || echo "note: other qoda namespaces exist (concurrent runs?)"

"$run" -n 2 --bandwidth 10xbit -- true 2>/dev/null
[ $? = 2 ] || { echo "bad rate accepted"; exit 1; }
echo ok
