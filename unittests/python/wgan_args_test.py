#!/usr/bin/python3
"""examples/wgan/train.py and bench/speedup.py refuse option combinations
they cannot honour, with exit status 2 and a message naming the option
(before any data is loaded or worker started)."""
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.join(here, "..", "..")
train = os.path.join(root, "examples", "wgan", "train.py")
speedup = os.path.join(root, "bench", "speedup.py")
failures = []


def expect_usage_error(cmd, needle):
    r = subprocess.run([sys.executable] + cmd, capture_output=True, text=True,
                       timeout=120)
    if r.returncode != 2 or needle not in r.stderr:
        failures.append(f"{' '.join(cmd)}: exit {r.returncode}, stderr "
                        f"{r.stderr[-500:]!r}; expected exit 2 and {needle!r}")


expect_usage_error([train, "--compressor", "none", "--raw-allreduce-min", "0"],
                   "--raw-allreduce-min applies to --compressor layerwise")
expect_usage_error([train, "--library", "a,b", "--raw-allreduce-min", "64"],
                   "without --library")
expect_usage_error([train, "--raw-allreduce-min", "-1"],
                   "--raw-allreduce-min expects a number of bytes >= 0")
expect_usage_error([train, "--collective", "ring"], "invalid choice: 'ring'")
expect_usage_error([train, "--optimizer", "adam", "--step-sums", "aggregate"],
                   "--step-sums applies to --optimizer qoda")
expect_usage_error([speedup, "--out", "/nonexistent/x", "--quality-target",
                    "300", "--raw-allreduce-min", "-5"],
                   "--raw-allreduce-min expects a number of bytes >= 0")
expect_usage_error([speedup, "--out", "/nonexistent/x", "--quality-target",
                    "300", "--methods", "uncompressed,qoda-auto",
                    "--raw-allreduce-min", "64"],
                   "--raw-allreduce-min applies to qoda-hand and qoda-hand-sr")
if failures:
    sys.exit("\n".join(failures))
print("ok")
