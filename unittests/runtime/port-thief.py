"""Tries to take 127.0.0.1:PORT the way a concurrent job would (bind and
listen); on success keeps it for 10 s in a detached child.

Prints "port held" when the port cannot be taken (what qoda-run must
guarantee for MASTER_PORT until rank 0's store listens) or "stole the port".
usage: port-thief.py PORT
"""
import os
import socket
import sys

s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
    s.listen()
except OSError as e:
    print("port held:", e.strerror)
    sys.exit(0)
print("stole the port", flush=True)
if os.fork() == 0:
    os.setsid()
    for fd in (0, 1, 2):
        os.close(fd)
    import time
    time.sleep(10)
