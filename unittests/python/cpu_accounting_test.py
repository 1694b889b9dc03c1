#!/usr/bin/python3
"""CPU accounting of the speedup table, on fixed inputs:

* examples/wgan/cpu_usage.py: CoreBusy counts only the given cores' lines
  of a /proc/stat-format file, busy = user + nice + system + irq + softirq
  against all ticks including idle, iowait and steal, summed over
  start()/stop() spans only; a missing file means "not available" and a
  fraction of None, not an error; ProcessCpu sums process time over its
  spans and nothing outside them;
* bench/speedup_report.cpu_markdown: the CPU bound K x CPU / cores, its
  share of the step and the free-communication ceiling (the baseline's
  s/step over K x model CPU / cores), and no rows for runs recorded
  before CPU accounting existed.
"""
import os
import sys
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.join(here, "..", "..")
sys.path.insert(0, os.path.join(root, "examples", "wgan"))
sys.path.insert(0, os.path.join(root, "bench"))
import cpu_usage  # noqa: E402
import speedup_report  # noqa: E402

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


def spin(seconds, clock):
    """Busy-waits until `clock` has advanced by `seconds`."""
    t = clock()
    while clock() - t < seconds:
        pass


def stat_file(path, cpu0, cpu1, cpu2):
    """user nice system idle iowait irq softirq steal per CPU."""
    with open(path, "w") as f:
        f.write("cpu  1 2 3 4 5 6 7 8 0 0\n")
        for n, v in enumerate((cpu0, cpu1, cpu2)):
            f.write(f"cpu{n} " + " ".join(map(str, v)) + " 0 0\n")
        f.write("intr 1 2 3\nctxt 5\n")


tmp = tempfile.mkdtemp(prefix="qoda-cpu-")
stat = os.path.join(tmp, "stat")
stat_file(stat, [0] * 8, [0] * 8, [0] * 8)
busy = cpu_usage.CoreBusy(stat, cpus={0, 2})
check(busy.available, "a readable stat file is available")
check(busy.fraction() is None, "no span yet: fraction None")
busy.start()
# cpu0: 10 user + 5 system + 1 irq + 4 softirq busy, 20 idle, 5 steal;
# cpu2: 30 idle, 10 iowait; cpu1 is not ours (all busy).
stat_file(stat, [10, 0, 5, 20, 0, 1, 4, 5], [100, 0, 0, 0, 0, 0, 0, 0],
          [0, 0, 0, 30, 10, 0, 0, 0])
busy.stop()
check(busy.busy == 20 and busy.total == 85,
      f"first span: busy {busy.busy}, total {busy.total}, expected 20 / 85")
# Outside a span nothing counts: cpu0 gains 50 busy ticks, then a span in
# which it gains 15 nice ticks against 15 idle.
stat_file(stat, [60, 0, 5, 20, 0, 1, 4, 5], [100] * 8,
          [0, 0, 0, 30, 10, 0, 0, 0])
busy.start()
stat_file(stat, [60, 15, 5, 35, 0, 1, 4, 5], [200] * 8,
          [0, 0, 0, 30, 10, 0, 0, 0])
busy.stop()
busy.stop()  # a second stop without a start changes nothing
check(busy.busy == 35 and busy.total == 115,
      f"two spans: busy {busy.busy}, total {busy.total}, expected 35 / 115")
check(abs(busy.fraction() - 35 / 115) < 1e-12, f"fraction {busy.fraction()}")

missing = cpu_usage.CoreBusy(os.path.join(tmp, "no-such-file"))
missing.start()
missing.stop()
check(not missing.available and missing.fraction() is None,
      "a missing stat file: not available, fraction None")
with open(os.path.join(tmp, "garbled"), "w") as f:
    f.write("cpu0 x y z\n")
check(not cpu_usage.CoreBusy(os.path.join(tmp, "garbled"), cpus={0}).available,
      "a garbled stat file is not available")
# This machine's own /proc/stat: a span of work is partly busy.
if os.path.exists("/proc/stat"):
    real = cpu_usage.CoreBusy()
    real.start()
    spin(0.1, time.perf_counter)
    real.stop()
    check(real.fraction() is not None and 0 < real.fraction() <= 1,
          f"/proc/stat over 0.1 s of spinning: {real.fraction()}")

cpu = cpu_usage.ProcessCpu()
cpu.start()
spin(0.05, time.process_time)
cpu.stop()
inside = cpu.seconds
spin(0.05, time.process_time)  # outside any span
cpu.stop()
check(0.05 <= inside < 0.5 and cpu.seconds == inside,
      f"process CPU {inside} then {cpu.seconds}")


def record(method, s_per_step, cpu_s, model_s, cores=2, busy=0.9):
    return {"workers": 4, "link": "1gbit", "method": method, "status": "ok",
            "s_per_step": s_per_step, "cpu_s_per_step": cpu_s,
            "compute_cpu_s_per_step": model_s, "cores": cores,
            "cores_busy": busy}


rows = [record("uncompressed", 0.050, 0.021, 0.0135),
        record("qoda-auto", 0.040, 0.019, 0.0135, busy=None),
        {"workers": 4, "link": "1gbit", "method": "qoda-hand", "status": "ok",
         "s_per_step": 0.045}]  # recorded before CPU accounting
md = speedup_report.cpu_markdown(rows)
lines = [l for l in md.splitlines() if l.startswith("| 4 |")]
check(len(lines) == 2, f"rows for the runs with CPU accounting:\n{md}")
# uncompressed: bound 4 x 21 / 2 = 42 ms, 84% of 50; ceiling 50 / 27 ms.
check(lines and lines[0] == "| 4 | 1gbit | uncompressed | 50.0 | 13.5 / 7.5 "
      "| 2 | 90% | 42.0 (84%) | 1.85x |", f"baseline row: {lines[:1]}")
check(len(lines) > 1 and lines[1] == "| 4 | 1gbit | qoda-auto | 40.0 | "
      "13.5 / 5.5 | 2 | - | 38.0 (95%) | 1.85x |", f"method row: {lines[1:]}")
check(speedup_report.cpu_markdown(rows[2:]) == "",
      "no CPU table without CPU accounting")
check(speedup_report.cpu_bound_s(rows[0]) == 4 * 0.021 / 2, "cpu_bound_s")

if failures:
    sys.exit("\n".join(failures))
print("ok")
