"""``--profile``: where each request's Python time goes (pyinstrument sampling).

A pyinstrument profiler, bound to the request's thread or asyncio context,
runs from a trace's start to its end.  At the end ``trace.attrs["profile"]``
gets the sample count and the top frames in the user's code by total time
(``hotspots``); each endpoint's sessions are combined and written as
speedscope JSON to ``profiles/<endpoint>.speedscope.json`` next to the trace
store (at the first request, then at most once a second, and at exit).
Profiling is opt-in: sampling every millisecond slows requests down.
"""

from __future__ import annotations

import atexit
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from perfdoctor import callsite
from perfdoctor.capture.context import ActiveTrace

TOP_HOTSPOTS = 5
# pyinstrument's own default: fine enough for requests of a few ms.
INTERVAL_S = 0.001
# Rewriting an endpoint's speedscope file on every request would cost more than the request.
WRITE_EVERY_S = 1.0


def slug(endpoint: str) -> str:
    """A file name for an endpoint ("GET /users/<id>" -> "GET_users_id")."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", endpoint).strip("_") or "endpoint"


def hotspots(root: Any, limit: int = TOP_HOTSPOTS) -> list[dict[str, Any]]:
    """The user-code frames of a pyinstrument frame tree with the most total time.

    A function found at several places in the tree has their times summed,
    except where it calls itself (the inner call's time is already counted).
    """
    totals: dict[tuple[str, int, str], float] = {}
    stack: list[tuple[Any, frozenset[tuple[str, int, str]]]] = [(root, frozenset())]
    while stack:
        frame, above = stack.pop()
        path = frame.file_path or ""
        key = (path, frame.line_no or 0, frame.function or "")
        inner = above
        if path and callsite.classify(path) == callsite.USER and key not in above:
            totals[key] = totals.get(key, 0.0) + float(frame.time)
            inner = above | {key}
        stack.extend((child, inner) for child in frame.children)
    top = sorted(totals.items(), key=lambda item: -item[1])[:limit]
    return [
        {"path": callsite.display_path(p), "line": line, "function": fn, "ms": round(s * 1000, 2)}
        for (p, line, fn), s in top
    ]


class Profiling:
    """Starts a profiler per trace and keeps each endpoint's combined session."""

    def __init__(self, folder: Path, interval: float = INTERVAL_S) -> None:
        self.folder = folder
        self.interval = interval
        self._profilers: dict[str, Any] = {}
        self._sessions: dict[str, Any] = {}
        self._written: dict[str, float] = {}
        self._dirty: set[str] = set()
        self._lock = threading.Lock()
        atexit.register(self.write_all)

    def started(self, trace: ActiveTrace) -> None:
        if trace.kind == "script":
            # A whole script or a server's life: too long to hold in memory as samples.
            return
        try:
            from pyinstrument import Profiler

            # "strict": in an event loop, the other requests' work done while this one
            # awaits is left out ("enabled" would count it here).
            profiler = Profiler(interval=self.interval, async_mode="strict")
            profiler.start()
            self._profilers[trace.id] = profiler
        except Exception:
            pass

    def finished(self, trace: ActiveTrace) -> None:
        profiler = self._profilers.pop(trace.id, None)
        if profiler is None:
            return
        try:
            session = profiler.stop()
        except Exception:
            # Ended in another thread or context than it started in: no profile.
            return
        try:
            trace.attrs["profile"] = {
                "samples": int(session.sample_count),
                "hotspots": hotspots(session.root_frame()) if session.sample_count else [],
            }
            self._keep(trace.name, session)
        except Exception:
            pass

    def _keep(self, endpoint: str, session: Any) -> None:
        from pyinstrument.session import Session

        with self._lock:
            previous = self._sessions.get(endpoint)
            self._sessions[endpoint] = (
                session if previous is None else Session.combine(previous, session)
            )
            self._dirty.add(endpoint)
            due = time.monotonic() - self._written.get(endpoint, -WRITE_EVERY_S) >= WRITE_EVERY_S
        if due:
            self.write(endpoint)

    def write(self, endpoint: str) -> Path | None:
        from pyinstrument.renderers import SpeedscopeRenderer

        with self._lock:
            session = self._sessions.get(endpoint)
            self._dirty.discard(endpoint)
            self._written[endpoint] = time.monotonic()
        if session is None:
            return None
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"{slug(endpoint)}.speedscope.json"
        # Written whole then renamed: a reader never sees half a file.
        partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        partial.write_text(SpeedscopeRenderer().render(session), encoding="utf-8")
        os.replace(partial, target)
        return target

    def write_all(self) -> None:
        for endpoint in list(self._dirty):
            try:
                self.write(endpoint)
            except Exception:
                pass


def chain(
    first: Callable[[ActiveTrace], None] | None, second: Callable[[ActiveTrace], None]
) -> Callable[[ActiveTrace], None]:
    """A trace hook calling ``first`` (if any) then ``second``."""
    if first is None:
        return second

    def both(trace: ActiveTrace) -> None:
        first(trace)
        second(trace)

    return both
