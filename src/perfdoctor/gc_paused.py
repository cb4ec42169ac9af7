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
