#!/usr/bin/python3
"""qoda.torchrun: torchrun (torch.distributed.run) itself starts a qoda job.

* Debian's torch 1.13 under Python 3.11 cannot parse torchrun's default
  --redirects/--tee "0" (Std.from_str returns None: Python 3.11 iterates
  an IntFlag without its 0 and multi-bit members); after
  qoda.torchrun.fix_std_from_str() every value and mapping parses to the
  member of that value and bad strings are still a ValueError;
* `python3 -m qoda.torchrun --nproc_per_node 2 --tee 3 WORKER` runs two workers
  through torchrun's real agent and its own store on MASTER_PORT: both
  take a QODA step through qoda (whose store takes MASTER_PORT + 1) and
  end with identical iterates (torchrun_env_test.py's worker).

usage: torchrun_launch_test.py
"""
import os
import re
import socket
import subprocess
import sys
import tempfile

try:
    import torch  # noqa: F401
except ImportError:
    print("skipped: PyTorch is not installed (Debian: python3-torch)")
    sys.exit(77)
from torch.distributed.elastic.multiprocessing.api import Std

import qoda.torchrun

broken = qoda.torchrun.std_from_str_is_broken()
print(f"torch's Std.from_str broken here: {broken}")
fixed = qoda.torchrun.fix_std_from_str()
if fixed != broken:
    sys.exit(f"fix_std_from_str() returned {fixed}, broken was {broken}")
if qoda.torchrun.std_from_str_is_broken():
    sys.exit("Std.from_str still broken after the fix")
for text, want in (("0", Std.NONE), ("1", Std.OUT), ("2", Std.ERR),
                   ("3", Std.ALL),
                   ("0:3,1:0", {0: Std.ALL, 1: Std.NONE})):
    got = Std.from_str(text)
    if got != want or (isinstance(want, Std) and got is not want):
        sys.exit(f"Std.from_str({text!r}) = {got!r}, expected {want!r}")
for bad in ("4", "x", "0:1,", ""):
    try:
        Std.from_str(bad)
        sys.exit(f"Std.from_str({bad!r}) accepted")
    except ValueError:
        pass

s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
worker = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "torchrun_env_test.py")
# --tee 3 (ALL, a value the broken parser loses too): torchrun prints each
# worker's lines whole, prefixed "[default<local rank>]:".
res = subprocess.run(
    [sys.executable, "-m", "qoda.torchrun", "--nproc_per_node", "2",
     "--master_port", str(port), "--tee", "3", "--log_dir",
     tempfile.mkdtemp(prefix="qoda-torchrun-"), worker, "--worker"],
    capture_output=True, text=True, timeout=150)
if res.returncode != 0:
    sys.exit(f"qoda.torchrun failed ({res.returncode}):\n{res.stdout}\n"
             f"{res.stderr[-3000:]}")
lines = sorted(l.split(":", 1)[1].split() for l in res.stdout.splitlines()
               if re.match(r"^\[default[01]\]:\d \d \S+$", l))
if [l[:2] for l in lines] != [["0", "2"], ["1", "2"]] or \
        lines[0][2] != lines[1][2]:
    sys.exit(f"unexpected worker output:\n{res.stdout}\n{res.stderr[-2000:]}")
print("ok")
