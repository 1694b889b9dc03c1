#!/bin/sh
# qoda-run picks MASTER_PORT by binding port 0 and keeps that socket open
# for rank 0's store (QODA_STORE_FD), so no other process can take the port
# between the pick and the store's listen (a concurrent test did, once:
# comm.fault.exit.k2 failed in 0.11 s). Here rank 0 first lets a "thief"
# try to take MASTER_PORT; it must fail and the job must still rendezvous.
# usage: launcher-port-held-test.sh QODA_RUN QODA_COMM_WORKER THIEF_PY
out=$("$1" -n 2 --timeout 15 -- sh -c '
  if [ "$RANK" = 0 ]; then /usr/bin/python3 "$1" "$MASTER_PORT" || exit 3; fi
  exec "$0" collectives' "$2" "$3" 2>&1)
rc=$?
echo "$out"
echo "$out" | grep -q '\[rank 0\] port held' || { echo "FAIL: MASTER_PORT was free before rank 0's store listened"; exit 1; }
test "$rc" = 0 || { echo "FAIL: the job failed (status $rc)"; exit 1; }
echo "$out" | grep -q '\[rank 1\] collectives ok' || { echo "FAIL: no rendezvous"; exit 1; }
