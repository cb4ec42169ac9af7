"""``--memory``: how much memory each request allocated, and where (tracemalloc).

At a request's start the tracemalloc peak is reset and the memory in use noted;
at its end ``trace.attrs["memory"]`` gets ``peak_kb`` (the growth from that
baseline to the highest point) and ``top``: the five allocation sites in the
user's code holding the most memory at that point.  Sites come from a sampler
thread that checks the traced total every ``memory_sample_interval_ms`` while
requests run and takes a snapshot at each new high of at least
``memory_sites_min_kb`` over the baseline; a peak shorter than the interval has
its size but may have no sites.

tracemalloc is process-wide: requests served at the same time (threads, an
event loop) share one counter, so each one's peak includes the others'
allocations, and a request starting resets the peak for those in flight: their
peak is then the highest level the sampler read (a spike shorter than the
interval is missed).  A request stops counting once its response is sent (the
server closing it later is not its work).  Use one worker thread, one request
at a time, when the figures must be exact.  Tracing slows allocations down (2-4x),
which is why it is opt-in.
"""

from __future__ import annotations

import os
import threading
import time
import tracemalloc
from collections import defaultdict
from typing import Any

from perfdoctor import callsite
from perfdoctor.capture.context import ActiveTrace, perf_counter

TOP_SITES = 5


class _Watch:
    __slots__ = ("attrs", "baseline", "generation", "level", "pending", "sites_level", "top")

    def __init__(self, baseline: int, generation: int, attrs: dict[str, Any]) -> None:
        self.baseline = baseline
        # Which request start this was: a later one resets tracemalloc's peak.
        self.generation = generation
        # The trace's attrs: "response_ms" there means the response is sent.
        self.attrs = attrs
        self.level = baseline
        self.sites_level = 0
        # A snapshot for this request is being read: its end waits for the sites.
        self.pending = False
        self.top: list[dict[str, Any]] = []


# How long a request's end waits for a snapshot taken at its peak to be read.
SITES_WAIT = 5.0


class MemoryTracker:
    def __init__(self, sites_min_kb: int, interval_ms: float, frames: int = 1) -> None:
        self.frames = max(1, frames)
        self.sites_min = sites_min_kb * 1024
        self.interval = interval_ms / 1000.0
        self._watches: dict[str, _Watch] = {}
        self._lock = threading.Lock()
        self._sites_read = threading.Condition(self._lock)
        self._wake = threading.Event()
        self._thread_pid = 0
        self._generation = 0
        self._started_tracing = False
        # The sampler is reading a snapshot: seconds of GIL-holding work that
        # would otherwise be timed as the next request's own.
        self._reading = False

    def start(self) -> None:
        if not tracemalloc.is_tracing():
            tracemalloc.start(self.frames)
            self._started_tracing = True

    def stop(self) -> None:
        """Stop tracing if this tracker started it (the app may trace on its own)."""
        if self._started_tracing and tracemalloc.is_tracing():
            tracemalloc.stop()
        self._started_tracing = False

    def request_started(self, trace: ActiveTrace) -> None:
        try:
            if not tracemalloc.is_tracing():
                return
            with self._lock:
                if self._reading:
                    # A client that got the last response sends its next request
                    # while that request's sites are still being read: start the
                    # clock when perfdoctor's own work is done.
                    self._sites_read.wait_for(lambda: not self._reading, SITES_WAIT)
                    trace.started_at = time.time()
                    trace.start = perf_counter()
                    trace.cpu0 = time.thread_time()
            tracemalloc.reset_peak()
            current = tracemalloc.get_traced_memory()[0]
            with self._lock:
                self._generation += 1
                self._watches[trace.id] = _Watch(current, self._generation, trace.attrs)
            self._ensure_sampler()
            self._wake.set()
        except Exception:
            pass

    def request_finished(self, trace: ActiveTrace) -> None:
        try:
            with self._lock:
                watch = self._watches.pop(trace.id, None)
                if watch is not None and watch.pending:
                    self._sites_read.wait_for(lambda: not watch.pending, SITES_WAIT)
            if watch is None or not tracemalloc.is_tracing():
                return
            peak = watch.level
            if watch.generation == self._generation:
                # No request started since this one: tracemalloc's peak is its own.
                peak = max(peak, tracemalloc.get_traced_memory()[1])
            trace.attrs["memory"] = {
                "peak_kb": round(max(0, peak - watch.baseline) / 1024),
                "top": watch.top,
            }
        except Exception:
            pass

    def _ensure_sampler(self) -> None:
        # One thread per process; a forked worker (gunicorn) starts its own.
        if self._thread_pid == os.getpid():
            return
        self._thread_pid = os.getpid()
        threading.Thread(target=self._run, name="perfdoctor-memory", daemon=True).start()

    def _run(self) -> None:
        while True:
            if not self._watches:
                self._wake.wait()
                self._wake.clear()
                continue
            time.sleep(self.interval)
            try:
                self._sample()
            except Exception:
                pass

    def _sample(self) -> None:
        current = tracemalloc.get_traced_memory()[0]
        with self._lock:
            # A request whose response is sent no longer counts what others allocate.
            watches = [w for w in self._watches.values() if "response_ms" not in w.attrs]
            for watch in watches:
                watch.level = max(watch.level, current)
            # A snapshot only well over a request's baseline and 25% over the last
            # one taken for it: its cost grows with everything the process holds.
            wanted = [
                w
                for w in watches
                if current - w.baseline >= self.sites_min and current >= w.sites_level * 1.25
            ]
            for watch in wanted:
                watch.pending = True
            self._reading = bool(wanted)
        if not wanted:
            return
        top: list[dict[str, Any]] = []
        try:
            # Sites under 1% of the growth are noise (start-up allocations).
            floor = (current - min(w.baseline for w in wanted)) // 100
            top = top_sites(tracemalloc.take_snapshot(), min_bytes=floor)
        finally:
            with self._lock:
                for watch in wanted:
                    if top:
                        watch.top = top
                    watch.sites_level = current
                    watch.pending = False
                self._reading = False
                self._sites_read.notify_all()


def top_sites(
    snapshot: tracemalloc.Snapshot, limit: int = TOP_SITES, min_bytes: int = 0
) -> list[dict[str, Any]]:
    """The user-code lines holding the most memory: the innermost user frame of each block."""
    sizes: dict[tuple[str, int], int] = defaultdict(int)
    classify = callsite.classify
    # The raw (domain, size, frames, nframe) tuples: building a Trace object per
    # block would multiply the cost of a snapshot of a large process.
    raw = getattr(snapshot.traces, "_traces", None)
    if isinstance(raw, list):
        blocks = raw
    else:
        blocks = [
            (0, t.size, tuple((f.filename, f.lineno) for f in reversed(t.traceback)), 0)
            for t in snapshot.traces
        ]
    for block in blocks:
        for filename, lineno in block[2]:
            if classify(filename) == callsite.USER:
                sizes[(filename, lineno)] += block[1]
                break
    ranked = sorted(sizes.items(), key=lambda item: -item[1])[:limit]
    return [
        {"path": os.path.abspath(path), "line": line, "kb": round(size / 1024)}
        for (path, line), size in ranked
        if size >= min_bytes
    ]
