"""How busy the machine was while a round ran.

Two measures, read before and after each round so they cover exactly that round:

- **other work**: the share of all CPUs busy with processes other than the bench
  and its workers (``/proc/stat`` minus their own ``/proc/PID/stat``). A
  CPU-bound neighbour on this 2-CPU machine slowed unchanged code by up to 60%
  from one run to the next while no task waited for a CPU: it ran on the other
  CPU and shared the core, caches and memory bandwidth.
- **CPU pressure**: Linux's PSI "some" counter
  (:func:`perfdoctor.capture.machine.cpu_stall_us`), the share of the round in
  which a runnable task waited for a CPU.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from perfdoctor.capture.machine import cpu_stall_us, cpu_ticks
from perfdoctor.capture.machine import cpus as _cpus

_IDLE = (3, 4)  # idle, iowait


def cpus() -> int:
    return _cpus() or 1


def load1() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def _canary_work(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def canary_ms() -> float:
    """How long a fixed piece of pure-Python work takes now (the best of three, ms).

    The same code on the same CPU: when it takes longer, the machine is slower
    (another guest on the core, a lower clock), whatever the app did.
    """
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        _canary_work(20_000)
        best = min(best, time.perf_counter() - started)
    return round(best * 1000.0, 4)


def _busy_ticks() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs."""
    ticks = cpu_ticks()
    if ticks is None:
        return None
    return sum(t for i, t in enumerate(ticks) if i not in _IDLE), sum(ticks)


def _own_ticks(pids: Sequence[int]) -> int | None:
    """User + system jiffies of ``pids`` (all their threads), from /proc/PID/stat."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                # Fields after the command name, which may hold spaces: utime and stime
                # are the 12th and 13th of them.
                fields = stat.read().rsplit(b")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            return None
    return total


@dataclass
class Meter:
    """Started before a round; :meth:`pressure_pct` and :meth:`other_pct` after it."""

    pids: list[int]
    stall0: int | None = None
    busy0: tuple[int, int] | None = None
    own0: int | None = None
    wall0: float = field(default_factory=time.perf_counter)

    @classmethod
    def start(cls, pids: Sequence[int] = ()) -> Meter:
        """``pids``: the bench's own worker processes (this process is always counted)."""
        meter = cls([os.getpid(), *pids])
        meter.stall0 = cpu_stall_us()
        meter.busy0 = _busy_ticks()
        meter.own0 = _own_ticks(meter.pids)
        meter.wall0 = time.perf_counter()
        return meter

    def pressure_pct(self) -> float | None:
        """% of the round's wall time some task waited for a CPU (None without PSI)."""
        stall = cpu_stall_us()
        wall_us = (time.perf_counter() - self.wall0) * 1e6
        if stall is None or self.stall0 is None or wall_us <= 0:
            return None
        return round(min(100.0, max(0.0, (stall - self.stall0) / wall_us * 100.0)), 1)

    def other_pct(self) -> float | None:
        """% of all CPUs' time during the round spent on other processes."""
        busy, own = _busy_ticks(), _own_ticks(self.pids)
        if busy is None or own is None or self.busy0 is None or self.own0 is None:
            return None
        total = busy[1] - self.busy0[1]
        if total <= 0:
            return None
        other = (busy[0] - self.busy0[0]) - (own - self.own0)
        return round(min(100.0, max(0.0, other / total * 100.0)), 1)
