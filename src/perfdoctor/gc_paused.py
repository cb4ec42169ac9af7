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
