"""Where a training step's time goes on a machine whose cores the workers
share: each worker's CPU time, and how busy the cores were.

When K workers share fewer than K cores, a step cannot take less wall time
than K x (CPU per worker-step) / cores, whatever the link: the collective's
wire time only matters while cores idle. train.py measures both sides of
that bound so that the speedup table can say which one a run hit:

  ProcessCpu   this process's CPU time (user + system, all its threads:
               torch, the optimiser, Gloo's transport) over the timed spans
  CoreBusy     the fraction of the cores this process may run on that were
               busy (not idle, not stolen by the hypervisor) over the timed
               spans, from /proc/stat; None where /proc/stat is missing
"""

import os
import time


class ProcessCpu:
    """Sums time.process_time() over start()/stop() spans."""

    def __init__(self):
        self.seconds = 0.0
        self._t0 = None

    def start(self):
        self._t0 = time.process_time()

    def stop(self):
        if self._t0 is not None:
            self.seconds += time.process_time() - self._t0
            self._t0 = None


def _read_ticks(path, cpus):
    """{cpu index: (busy ticks, all ticks)} of the lines "cpuN ..." of a
    /proc/stat-format file for N in cpus. Busy is user + nice + system +
    irq + softirq; all adds idle, iowait and steal (guest time is already
    inside user and nice)."""
    out = {}
    with open(path) as f:
        for line in f:
            if not line.startswith("cpu") or line.startswith("cpu "):
                continue
            name, *fields = line.split()
            n = int(name[3:])
            if n not in cpus:
                continue
            v = [int(x) for x in fields[:8]] + [0] * (8 - len(fields[:8]))
            user, nice, system, idle, iowait, irq, softirq, steal = v
            busy = user + nice + system + irq + softirq
            out[n] = (busy, busy + idle + iowait + steal)
    return out


class CoreBusy:
    """Busy fraction of this process's cores over start()/stop() spans."""

    def __init__(self, path="/proc/stat", cpus=None):
        self.path = path
        self.cpus = set(os.sched_getaffinity(0) if cpus is None else cpus)
        self.busy = 0
        self.total = 0
        self._t0 = None
        try:
            self.available = bool(_read_ticks(path, self.cpus))
        except (OSError, ValueError):
            self.available = False

    def _sum(self):
        ticks = _read_ticks(self.path, self.cpus)
        return (sum(b for b, _ in ticks.values()),
                sum(t for _, t in ticks.values()))

    def start(self):
        if self.available:
            self._t0 = self._sum()

    def stop(self):
        if self.available and self._t0 is not None:
            busy, total = self._sum()
            self.busy += busy - self._t0[0]
            self.total += total - self._t0[1]
            self._t0 = None

    def fraction(self):
        """Busy / all ticks over the spans, or None (no /proc/stat, or the
        spans were shorter than one tick)."""
        return self.busy / self.total if self.total > 0 else None
