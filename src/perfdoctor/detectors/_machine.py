"""How busy the machine was while a group of traces was measured, and what that explains.

Capture attaches a machine sample to each trace (:mod:`perfdoctor.capture.machine`:
``load1``, ``cpus``, ``cpu_pressure``, ``steal_pct``).  Traces from other
producers (an OTLP import) and older stores have none: then nothing is said
either way.  slow-endpoint and slow-query use this to say when their slow
requests were measured on a busy machine, where the latency is partly the
machine's and a quiet re-run may tell a different story.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from perfdoctor.analysis import timing
from perfdoctor.analysis.stats import Quantiles
from perfdoctor.model import Trace
from perfdoctor.settings import Settings

KEYS = ("load1", "cpus", "cpu_pressure", "steal_pct")
TITLE_SUFFIX = " (machine busy)"
FIX_PREFIX = (
    "Measure again on a quiet machine first: this was measured while the machine was "
    "busy, which alone can make it slow. "
)
_AGAIN = "measure again on a quiet machine before acting"
_STANDS = "the time on the CPU alone is over the budget, so it is slow on a quiet machine too"


def sample(trace: Trace) -> dict[str, float] | None:
    """The trace's machine sample, its numbers only (imported attrs may hold anything)."""
    raw = trace.attrs.get("machine")
    if not isinstance(raw, dict):
        return None
    out = {}
    for key in KEYS:
        value = raw.get(key)
        if (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and math.isfinite(value)
            and value >= 0
        ):
            out[key] = float(value)
    return out or None


def is_busy(machine: dict[str, float], settings: Settings) -> bool:
    load, cpus = machine.get("load1"), machine.get("cpus")
    return (
        (load is not None and cpus and load >= settings.machine_busy_load_per_cpu * cpus)
        or machine.get("cpu_pressure", 0.0) >= settings.machine_busy_cpu_pressure_pct
        or machine.get("steal_pct", 0.0) >= settings.machine_busy_steal_pct
    )


class MachineSeen:
    """The machine over the traces that carry a sample, gathered one sample at a
    time: counts, maxima and the load averages seen (each distinct one once, with
    how often: capture reads the load once a second, to two decimals), never the
    traces, so a store's millionth trace costs what its first did."""

    __slots__ = ("cpus", "loads", "most", "samples")

    def __init__(self) -> None:
        self.samples = 0
        self.loads: dict[float, int] = {}
        self.cpus: Counter[int] = Counter()
        self.most: dict[str, float] = {}

    def add(self, machine: dict[str, float]) -> None:
        """One trace's :func:`sample`."""
        self.samples += 1
        load = machine.get("load1")
        if load is not None:
            self.loads[load] = self.loads.get(load, 0) + 1
        cpus = machine.get("cpus")
        if cpus is not None:
            self.cpus[int(cpus)] += 1
        most = self.most
        for key in _MAXED:
            value = machine.get(key)
            if value is not None and (key not in most or value > most[key]):
                most[key] = value

    def summary(self) -> dict[str, Any] | None:
        """Evidence: the machine over the samples added; None when none was."""
        if not self.samples:
            return None
        out: dict[str, Any] = {"samples": self.samples}
        if self.loads:
            out["load1_max"] = round(self.most["load1"], 2)
            out["load1_median"] = round(_median_of_counts(self.loads), 2)
        if self.cpus:
            out["cpus"] = self.cpus.most_common(1)[0][0]
        for key, digits in (("cpu_pressure", 2), ("steal_pct", 1)):
            if key in self.most:
                out[f"{key}_max"] = round(self.most[key], digits)
        return out


_MAXED = ("load1", "cpu_pressure", "steal_pct")


def _median_of_counts(counts: dict[float, int]) -> float:
    """``statistics.median`` of the values each counted as often as ``counts`` says."""
    size = sum(counts.values())
    wanted = (size // 2,) if size % 2 else (size // 2 - 1, size // 2)
    found: list[float] = []
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        while len(found) < len(wanted) and seen > wanted[len(found)]:
            found.append(value)
        if len(found) == len(wanted):
            break
    return found[0] if size % 2 else (found[0] + found[1]) / 2


def cpu_ms(trace: Trace) -> float | None:
    """The request thread's CPU time, where it is the request's own.

    An async request's figure is its event loop thread's, shared with every
    request the loop served meanwhile and missing work sent to a thread pool;
    a figure over the wall time (a trace ended in another thread) means nothing.
    """
    cpu = trace.cpu_ms
    if cpu is None or trace.attrs.get("async") or not math.isfinite(cpu):
        return None
    if cpu < 0 or cpu > trace.duration_ms + 1.0:
        return None
    return cpu


def quiet_floor(duration_ms: float, trace: Trace) -> float:
    """The least ``duration_ms`` (of ``trace``, or of a span in it) could take on a quiet machine.

    Waiting for a CPU is time the request's thread spends off it, so at best a
    quiet machine saves all of the trace's off-CPU time; 0 when its CPU time is
    unknown (then a quiet machine might save anything).
    """
    cpu = cpu_ms(trace)
    if cpu is None:
        return 0.0
    return max(0.0, duration_ms - max(0.0, trace.duration_ms - cpu))


@dataclass(frozen=True)
class Busy:
    """The slow traces measured on a busy machine, and how busy it was then."""

    busy: int
    sampled: int
    # Whether a quiet machine could bring enough of them under the budget: when
    # not, their time on the CPU alone is over it and the finding stands anyway.
    explains: bool
    load1: float | None
    cpus: int | None
    cpu_pressure: float | None
    steal_pct: float | None

    def conditions(self, settings: Settings) -> str:
        """What the busy machine looked like: "load average up to 4.6 on 2 CPUs, ..."."""
        parts = []
        if self.load1 is not None:
            parts.append(
                f"load average up to {self.load1:.1f}"
                + (f" on {self.cpus} CPU{'s' if self.cpus != 1 else ''}" if self.cpus else "")
            )
        if self.cpu_pressure is not None:
            parts.append(f"CPU pressure up to {self.cpu_pressure:.0f} %")
        # Steal is 0 on most machines: named only when it is part of the story.
        if self.steal_pct is not None and self.steal_pct >= settings.machine_busy_steal_pct:
            parts.append(f"CPU steal up to {self.steal_pct:.0f} %")
        return ", ".join(parts)

    def sentence(self, settings: Settings, counted: str, detail: str = "") -> str:
        """The busy-machine evidence line; ``counted`` names what :attr:`sampled` counts."""
        head = f"measured while the machine was busy ({self.conditions(settings)}; "
        head += f"{self.busy} of {self.sampled} {counted})"
        return head + (f": {detail}; " if detail else ": ") + (_AGAIN if self.explains else _STANDS)


class SlowSeen:
    """The slow traces (each with its duration over ``budget``) gathered one at a
    time for what the evidence says of them: how busy the machine was while they
    ran, and (``detail``) their median wall and CPU times.  Counts, maxima and
    bounded values (:class:`Quantiles`, exact up to ``exact_percentile_values``
    traces), never the traces."""

    __slots__ = ("blamed", "budget", "busy", "cpus", "sampled", "settings", "walls")

    def __init__(self, budget: float, settings: Settings, detail: bool = False) -> None:
        self.budget, self.settings = budget, settings
        self.sampled = 0
        self.blamed = 0
        # The samples of the slow traces measured on a busy machine.
        self.busy = MachineSeen()
        exact = settings.exact_percentile_values
        self.walls = Quantiles(exact) if detail else None
        self.cpus = Quantiles(exact) if detail else None

    def add(self, duration_ms: float, trace: Trace, machine: dict[str, float] | None) -> None:
        """One slow trace, with its :func:`sample` (the caller has read it already)."""
        if self.walls is not None and self.cpus is not None:
            cpu = cpu_ms(trace)
            if cpu is not None:
                self.walls.add(timing.latency_ms(trace))
                self.cpus.add(cpu)
        if machine is None:
            return
        self.sampled += 1
        if not is_busy(machine, self.settings):
            return
        self.busy.add(machine)
        if quiet_floor(duration_ms, trace) < self.budget:
            self.blamed += 1

    def busy_machine(self) -> Busy | None:
        """How busy the machine was for the slow traces, when enough of them were
        measured on a busy machine."""
        busy = self.busy
        enough = self.settings.machine_busy_min_share * self.sampled
        if not busy.samples or busy.samples < enough:
            return None
        most = busy.most.get
        return Busy(
            busy=busy.samples,
            sampled=self.sampled,
            explains=self.blamed > 0 and self.blamed >= enough,
            load1=most("load1"),
            cpus=busy.cpus.most_common(1)[0][0] if busy.cpus else None,
            cpu_pressure=most("cpu_pressure"),
            steal_pct=most("steal_pct"),
        )

    def cpu_detail(self, noun: str) -> str:
        """How the slow traces spent their time: "those requests took 520 ms with 78 ms
        of CPU time (medians)", or "" when none has a CPU time of its own."""
        if not self.walls or self.cpus is None:
            return ""
        wall, cpu = self.walls.median(), self.cpus.median()
        return f"those {noun} took {wall:.0f} ms with {cpu:.0f} ms of CPU time (medians)"


def off_cpu(
    waits: Quantiles, walls: Quantiles, settings: Settings, machine: str | None
) -> tuple[float, str] | None:
    """The median request's time outside every span and off the CPU, when it is most of it.

    ``waits`` and ``walls``: each request's wait off the CPU and wall time (the
    requests with a CPU time of their own); ``machine``: "busy", "quiet", or None
    when no trace says.  The request thread's CPU time covers the driver's work
    inside spans too, so what is left is, if anything, less than the real wait.
    """
    if not waits:
        return None
    wait, wall = waits.median(), walls.median()
    if wall <= 0 or wait < settings.off_cpu_min_share * wall:
        return None
    text = (
        f"{wait:.0f} ms of a request's {wall:.0f} ms (medians) was outside any query, HTTP "
        "or cache call and off the CPU: "
    )
    uncaptured = (
        "something perfdoctor does not capture (a sleep, a lock, a thread or subprocess, "
        "file or socket I/O of an unsupported library)"
    )
    if machine == "busy":
        # A thread waiting for a CPU is off it too: on a busy machine the two look alike.
        text += f"on a busy machine that is waiting for a CPU, or for {uncaptured}"
    elif machine == "quiet":
        text += f"the machine was not busy, so it waited for {uncaptured}"
    else:
        text += f"it waited for a CPU or for {uncaptured}"
    return wait, text
