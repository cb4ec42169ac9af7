"""How busy the machine was while a round ran: CPU pressure and load average.

CPU pressure is Linux's PSI "some" counter (:func:`perfdoctor.capture.machine.cpu_stall_us`),
read before and after a round, so it covers exactly that round, where the
1-minute load average lags by a minute.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from perfdoctor.capture.machine import cpu_stall_us
from perfdoctor.capture.machine import cpus as _cpus


def cpus() -> int:
    return _cpus() or 1


def load1() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


@dataclass
class Meter:
    """Started before a round; :meth:`pressure_pct` after it."""

    stall0: int | None
    wall0: float

    @classmethod
    def start(cls) -> Meter:
        return cls(cpu_stall_us(), time.perf_counter())

    def pressure_pct(self) -> float | None:
        """% of the round's wall time some task waited for a CPU (None without PSI)."""
        stall = cpu_stall_us()
        wall_us = (time.perf_counter() - self.wall0) * 1e6
        if stall is None or self.stall0 is None or wall_us <= 0:
            return None
        return round(min(100.0, max(0.0, (stall - self.stall0) / wall_us * 100.0)), 1)
