"""How busy the machine was: a small sample attached to every finished trace.

A request measured while other work held the CPUs waits for a CPU as well as
for its own work, and its latency says more about the machine than about the
app.  Each trace carries, under ``attrs["machine"]``, what was known about the
machine when it finished (a key is left out where the platform lacks it):

``load1``
    the 1-minute load average (``os.getloadavg``);
``cpus``
    the CPUs this process may run on (its affinity, else the CPU count);
``cpu_pressure``
    Linux PSI, ``some avg10`` of ``/proc/pressure/cpu``: the percentage of the
    last 10 s in which a runnable task waited for a CPU.  It follows a change
    within seconds, where the load average takes a minute;
``steal_pct``
    the percentage of CPU time the hypervisor gave to other guests since the
    previous reading (``/proc/stat``): a virtual machine's noisy neighbours.

Reading ``/proc`` takes tens of microseconds, too much for every request: the
machine is read at most once a second per process, and every trace that
finishes in between shares that reading (the same dict, never changed once
made).  A request pays one comparison; the one that crosses the second pays
the reads.  Nothing here raises.
"""

from __future__ import annotations

import os

# Seconds a reading is reused: the load average moves over a minute and PSI's
# avg10 over ten seconds, so a fresher reading would tell nothing new.
INTERVAL_S = 1.0
PRESSURE_PATH = "/proc/pressure/cpu"
STAT_PATH = "/proc/stat"


def _read_head(path: str, size: int) -> bytes:
    """The first ``size`` bytes of a /proc file (os-level: no buffered file object)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, size)
    finally:
        os.close(fd)


def cpus() -> int | None:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count()


def _pressure_some(key: bytes, path: str | None) -> bytes | None:
    """The value of ``key`` (``b"avg10"``, ``b"total"``) on the "some" line of the CPU
    pressure file, None where the kernel has none."""
    try:
        first = _read_head(path or PRESSURE_PATH, 128).split(b"\n", 1)[0].split()
    except OSError:  # no PSI (old kernel, not Linux) or disabled (psi=0)
        return None
    if not first or first[0] != b"some":
        return None
    prefix = key + b"="
    for field in first[1:]:
        if field.startswith(prefix):
            return field[len(prefix) :]
    return None


def cpu_pressure(path: str | None = None) -> float | None:
    """``some avg10``: % of the last 10 s in which a runnable task waited for a CPU."""
    value = _pressure_some(b"avg10", path)
    try:
        return None if value is None else float(value)
    except ValueError:
        return None


def cpu_stall_us(path: str | None = None) -> int | None:
    """``some total``: microseconds in which a runnable task waited for a CPU, since boot.

    A counter, so two readings give the pressure over exactly the time between them
    (``perfdoctor bench`` reads it around each round)."""
    value = _pressure_some(b"total", path)
    try:
        return None if value is None else int(value)
    except ValueError:
        return None


def cpu_ticks(path: str | None = None) -> list[int] | None:
    """Jiffies of all CPUs from the first line of /proc/stat: user nice system idle
    iowait irq softirq steal (guest time is already counted in user and nice)."""
    try:
        first = _read_head(path or STAT_PATH, 256).split(b"\n", 1)[0].split()
    except OSError:
        return None
    if len(first) < 9 or first[0] != b"cpu":
        return None
    try:
        return [int(value) for value in first[1:9]]
    except ValueError:
        return None


def cpu_times(path: str | None = None) -> tuple[int, int] | None:
    """(steal, total) jiffies of all CPUs."""
    ticks = cpu_ticks(path)
    return None if ticks is None else (ticks[7], sum(ticks))


class Sampler:
    """The last reading of the machine, renewed at most every :data:`INTERVAL_S`."""

    __slots__ = ("_pressure", "_stat", "_steal", "at", "last")

    def __init__(self) -> None:
        self.at = float("-inf")
        self.last: dict[str, float] | None = None
        self._stat: tuple[int, int] | None = None
        # Cleared when the platform turns out not to have it: not tried again.
        self._pressure = True
        self._steal = True

    def prime(self) -> None:
        """Take a first /proc/stat reading, so that the first trace has a steal figure."""
        try:
            if self._steal and self._stat is None:
                self._stat = cpu_times()
                self._steal = self._stat is not None
        except Exception:  # pragma: no cover - defensive
            pass

    def reading(self, now: float) -> dict[str, float] | None:
        """The machine's state at ``now`` (a ``perf_counter`` reading), or None."""
        if now - self.at < INTERVAL_S:
            return self.last
        # Set first: a thread finishing meanwhile reuses the old reading rather
        # than reading /proc again.
        self.at = now
        try:
            self.last = self._read() or None
        except Exception:  # pragma: no cover - defensive: never break the host app
            self.last = None
        return self.last

    def _read(self) -> dict[str, float]:
        out: dict[str, float] = {}
        try:
            out["load1"] = round(os.getloadavg()[0], 2)
        except (AttributeError, OSError):  # Windows; a system that will not say
            pass
        count = cpus()
        if count:
            out["cpus"] = count
        if self._pressure:
            pressure = cpu_pressure()
            if pressure is None:
                self._pressure = False
            else:
                out["cpu_pressure"] = pressure
        if self._steal:
            self._add_steal(out)
        return out

    def _add_steal(self, out: dict[str, float]) -> None:
        times = cpu_times()
        if times is None:
            self._steal = False
            return
        previous, self._stat = self._stat, times
        if previous is None:
            return  # the first reading: nothing to compare with yet
        total = times[1] - previous[1]
        steal = times[0] - previous[0]
        if total > 0 and steal >= 0:
            out["steal_pct"] = round(100.0 * steal / total, 1)


sampler = Sampler()
