"""Python's cyclic garbage collector, paused while a command builds acyclic data.

Parsed JSON, syntax trees and the model's dataclasses hold no reference cycles:
reference counting frees them.  The cyclic collector would only rescan the
growing heap again and again (a third of ``perfdoctor lint``'s time, over 40% of
``perfdoctor import otlp``'s).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# Allocations between two collections of the youngest generation while spaced
# (CPython's default is 700), and how many of those before an older one is.
SPACED_THRESHOLDS = (50_000, 20, 20)


@contextmanager
def gc_spaced() -> Iterator[None]:
    """The cyclic collector run less often, not paused: analysing a store builds
    millions of short-lived acyclic objects (each chunk's spans), and a collection
    every 700 allocations rescans them again and again (~15% of ``report``'s
    time); the few cycles made meanwhile (parse trees evicted from their cache)
    are still collected."""
    before = gc.get_threshold()
    gc.set_threshold(*SPACED_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)


# While collecting at chunk boundaries: the youngest generation once
# TRACES_PER_YOUNG traces have been let go since it was last collected, the
# middle one every TRACES_PER_MIDDLE traces, all of them every TRACES_PER_FULL
# (about the pace SPACED_THRESHOLDS gave on a big store, where a chunk of 500
# traces made four young collections); and, as a safety net, the automatic
# collector for a chunk that allocates far more than most.  Counted in traces,
# not chunks: the pace does not change with the chunk size (a full collection
# scans everything the detectors keep, which grows with the store).
TRACES_PER_YOUNG = 500
TRACES_PER_MIDDLE = 2_500
TRACES_PER_FULL = 50_000
SAFETY_THRESHOLDS = (1_000_000, 20, 20)


class ChunkCollector:
    """Collects when the caller says a chunk is done (:func:`gc_per_chunk`)."""

    def __init__(self) -> None:
        self.traces = 0
        self.young = self.middle = self.full = 0

    def chunk_done(self, traces: int = TRACES_PER_YOUNG) -> None:
        """A chunk of ``traces`` traces has been let go."""
        self.traces += traces
        if self.traces - self.full >= TRACES_PER_FULL:
            gc.collect(2)
            self.young = self.middle = self.full = self.traces
        elif self.traces - self.middle >= TRACES_PER_MIDDLE:
            gc.collect(1)
            self.young = self.middle = self.traces
        elif self.traces - self.young >= TRACES_PER_YOUNG:
            gc.collect(0)
            self.young = self.traces


@contextmanager
def gc_per_chunk() -> Iterator[ChunkCollector]:
    """The cyclic collector run between chunks rather than within them.

    A collection while a chunk is being analysed scans the chunk's spans (alive,
    acyclic, about to be freed) and moves them to an older generation, where the
    next collections of it scan them again: on a big store that was 8% of
    ``report``'s time at :func:`gc_spaced`'s pace.  Once a chunk is let go, its
    objects are freed by reference counting and a collection only sees what the
    detectors kept since, and the cycles made meanwhile (parse trees evicted from
    their cache), which it frees."""
    before = gc.get_threshold()
    gc.set_threshold(*SAFETY_THRESHOLDS)
    try:
        yield ChunkCollector()
    finally:
        gc.set_threshold(*before)
