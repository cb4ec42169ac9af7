"""How busy the machine was while a round ran: CPU pressure, load average, CPUs.

CPU pressure is Linux's PSI (``/proc/pressure/cpu``, "some" line): the share of
wall time in which at least one runnable task waited for a CPU. It is read as a
cumulative counter before and after a round, so it covers exactly that round,
and it reacts at once where the 1-minute load average lags by a minute.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

_PSI = "/proc/pressure/cpu"


def cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def load1() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def _stall_us() -> int | None:
    try:
        with open(_PSI, encoding="ascii") as psi:
            line = psi.readline()
        return int(line.rsplit("total=", 1)[1])
    except (OSError, IndexError, ValueError):
        return None


@dataclass
class Meter:
    """Started before a round; :meth:`pressure_pct` after it."""

    stall0: int | None
    wall0: float

    @classmethod
    def start(cls) -> Meter:
        return cls(_stall_us(), time.perf_counter())

    def pressure_pct(self) -> float | None:
        """% of the round's wall time some task waited for a CPU (None without PSI)."""
        stall = _stall_us()
        wall_us = (time.perf_counter() - self.wall0) * 1e6
        if stall is None or self.stall0 is None or wall_us <= 0:
            return None
        return round(min(100.0, max(0.0, (stall - self.stall0) / wall_us * 100.0)), 1)
