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
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from perfdoctor.analysis import timing
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


def summary(traces: Iterable[Trace]) -> dict[str, Any] | None:
    """Evidence: the machine over the traces that carry a sample; None when none does."""
    samples = [s for s in map(sample, traces) if s is not None]
    if not samples:
        return None
    out: dict[str, Any] = {"samples": len(samples)}
    loads = [s["load1"] for s in samples if "load1" in s]
    if loads:
        out["load1_max"] = round(max(loads), 2)
        out["load1_median"] = round(statistics.median(loads), 2)
    cpus = Counter(int(s["cpus"]) for s in samples if "cpus" in s)
    if cpus:
        out["cpus"] = cpus.most_common(1)[0][0]
    for key, digits in (("cpu_pressure", 2), ("steal_pct", 1)):
        values = [s[key] for s in samples if key in s]
        if values:
            out[f"{key}_max"] = round(max(values), digits)
    return out


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


def busy_while_slow(
    slow: Sequence[tuple[float, Trace]], budget: float, settings: Settings
) -> Busy | None:
    """How busy the machine was for the slow traces (each with its duration over
    ``budget``), when enough of them were measured on a busy machine."""
    sampled = [(ms, t, s) for ms, t in slow if (s := sample(t)) is not None]
    busy = [(ms, t, s) for ms, t, s in sampled if is_busy(s, settings)]
    enough = settings.machine_busy_min_share * len(sampled)
    if not busy or len(busy) < enough:
        return None
    blamed = sum(1 for ms, t, _ in busy if quiet_floor(ms, t) < budget)

    def most(key: str) -> float | None:
        values = [s[key] for _, _, s in busy if key in s]
        return max(values) if values else None

    cpus = Counter(int(s["cpus"]) for _, _, s in busy if "cpus" in s)
    return Busy(
        busy=len(busy),
        sampled=len(sampled),
        explains=blamed > 0 and blamed >= enough,
        load1=most("load1"),
        cpus=cpus.most_common(1)[0][0] if cpus else None,
        cpu_pressure=most("cpu_pressure"),
        steal_pct=most("steal_pct"),
    )


def cpu_detail(slow: Sequence[Trace], noun: str) -> str:
    """How the slow traces spent their time: "those requests took 520 ms with 78 ms of CPU
    time (medians)", or "" when none has a CPU time of its own."""
    pairs = [(timing.latency_ms(t), cpu) for t in slow if (cpu := cpu_ms(t)) is not None]
    if not pairs:
        return ""
    wall = statistics.median(p[0] for p in pairs)
    cpu = statistics.median(p[1] for p in pairs)
    return f"those {noun} took {wall:.0f} ms with {cpu:.0f} ms of CPU time (medians)"


def off_cpu(
    group: Sequence[Trace],
    parts: Sequence[dict[str, float]],
    settings: Settings,
    machine: str | None,
) -> tuple[float, str] | None:
    """The median request's time outside every span and off the CPU, when it is most of it.

    ``parts``: :func:`perfdoctor.analysis.timing.breakdown` of each trace of ``group``;
    ``machine``: "busy", "quiet", or None when no trace says.  The request
    thread's CPU time covers the driver's work inside spans too, so what is left
    is, if anything, less than the real wait.
    """
    waits, walls = [], []
    for trace, part in zip(group, parts):
        cpu = cpu_ms(trace)
        if cpu is not None:
            waits.append(max(0.0, part["python"] - cpu))
            walls.append(timing.latency_ms(trace))
    return off_cpu_of(waits, walls, settings, machine)


def off_cpu_of(
    waits: Sequence[float], walls: Sequence[float], settings: Settings, machine: str | None
) -> tuple[float, str] | None:
    """:func:`off_cpu` from each request's wait off the CPU and wall time (the
    requests with a CPU time of their own)."""
    if not waits:
        return None
    wait, wall = statistics.median(waits), statistics.median(walls)
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


def shell(trace: Trace, keys: tuple[str, ...] = ("machine", "async")) -> Trace:
    """What the machine evidence reads of a trace (latency, CPU time, the ``keys``
    of its attrs): kept for a finding's evidence instead of the whole trace."""
    attrs: dict[str, Any] = {k: trace.attrs[k] for k in keys if k in trace.attrs}
    return Trace(
        trace.id,
        trace.name,
        trace.kind,
        trace.started_at,
        trace.duration_ms,
        cpu_ms=trace.cpu_ms,
        attrs=attrs,
    )
