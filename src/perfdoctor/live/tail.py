"""Reads the requests the app writes to the store and shows a line for each.

A thread of the ``perfdoctor run`` process: the app's processes write their
traces to the store anyway (every 0.1 s; every second under heavy traffic, see
perfdoctor.capture.recorder), and this thread reads what each poll
finds new, so the app does no more work with ``--live`` than without it, and
every worker of a multi-process server shares one rate limit.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from perfdoctor import store
from perfdoctor.errors import ConfigError
from perfdoctor.live.detect import RequestDetectors
from perfdoctor.live.limiter import Event, Limiter
from perfdoctor.live.line import request_line
from perfdoctor.live.render import Writer
from perfdoctor.model import Trace
from perfdoctor.settings import Settings

# A request trace; a script's, a job's or a server's own start-up work is not a request.
_REQUEST_KIND = "http"


def check(settings: Settings) -> Settings:
    """The ``live_*`` settings, each one line of error when it makes no sense."""
    counts = ("live_max_lines_per_s", "live_max_analysed_per_s", "live_repeat_lines")
    for name in counts:
        value = getattr(settings, name)
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} = {value!r}: expected a whole number, 1 or more")
    for name in ("live_repeat_window_s", "live_poll_s"):
        value = getattr(settings, name)
        if not isinstance(value, (int, float)) or value <= 0:
            raise ConfigError(f"{name} = {value!r}: expected seconds, more than 0")
    return settings


class Tail:
    def __init__(
        self,
        traces: Path,
        settings: Settings,
        stream: TextIO | None = None,
        since: float | None = None,
    ) -> None:
        self.traces = traces
        self.settings = settings
        self.since = time.time() if since is None else since
        out = stream if stream is not None else sys.stderr
        self.writer = Writer(out, settings.slow_endpoint_p95_ms)
        self.limiter = Limiter(
            settings.live_max_lines_per_s,
            settings.live_max_analysed_per_s,
            settings.live_repeat_lines,
            settings.live_repeat_window_s,
            time.monotonic,
        )
        self._last_rowid = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="perfdoctor-live", daemon=True)
        self._detectors: RequestDetectors | None = None
        self._failed = False

    def start(self) -> Tail:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Show what is left (the app's last requests, the pending counts), then end."""
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            stopping = self._stop.wait(self.settings.live_poll_s)
            for trace in self._fresh():
                self._guarded(self._show, trace)
            self._guarded(lambda final: self._emit(self.limiter.tick(final)), stopping)
            if stopping:
                return

    def _guarded(self, action: Callable[[Any], None], argument: Any) -> None:
        """A bug here costs a line, never the run; it is said once."""
        try:
            action(argument)
        except Exception as exc:
            if not self._failed:
                self._failed = True
                self._say(f"perfdoctor: a live line failed: {type(exc).__name__}: {exc}")

    def _fresh(self) -> list[Trace]:
        try:
            recent = store.recent_traces(self.traces, self._last_rowid, self.since)
        except Exception:  # no store yet, or held while being created: next poll
            return []
        self._last_rowid = recent.last_rowid
        return [t for t in recent.traces if t.kind == _REQUEST_KIND]

    def _show(self, trace: Trace) -> None:
        if not self.limiter.may_analyse(trace.name):
            return
        if self._detectors is None:
            # Imports every detector module (a few hundred ms): only once a request
            # came, so a script run under perfdoctor does not wait for it.
            self._detectors = RequestDetectors(self.settings)
        line = request_line(trace, self._detectors.findings(trace))
        self._emit(self.limiter.offer(line))

    def _emit(self, events: list[Event]) -> None:
        for event in events:
            self.writer.write(event)

    def _say(self, text: str) -> None:
        try:
            self.writer.stream.write(text + "\n")
            self.writer.stream.flush()
        except Exception:
            pass
