"""The traces of the last few minutes, kept between passes."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from perfdoctor import store
from perfdoctor.model import Trace


class SlidingWindow:
    """Each :meth:`advance` adds the rows written since the last one and drops the
    traces that started before the window: a pass costs what was written meanwhile,
    not the size of the store."""

    def __init__(self, path: Path, seconds: float, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.seconds = seconds
        self._clock = clock
        self._last_rowid = 0
        self._traces: dict[str, Trace] = {}

    def advance(self) -> list[Trace]:
        """The new traces (those not seen before); :attr:`traces` is then the window."""
        since = self._clock() - self.seconds
        recent = store.recent_traces(self.path, self._last_rowid, since)
        if recent.last_rowid < self._last_rowid:  # the store was cleared meanwhile
            self._traces.clear()
        self._last_rowid = recent.last_rowid
        fresh = [t for t in recent.traces if t.id not in self._traces]
        for trace in fresh:
            self._traces[trace.id] = trace
        for trace_id in [k for k, t in self._traces.items() if t.started_at < since]:
            del self._traces[trace_id]
        return fresh

    @property
    def traces(self) -> list[Trace]:
        return sorted(self._traces.values(), key=lambda t: t.started_at)
