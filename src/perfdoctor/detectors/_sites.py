"""Runs counted per call site, cheaply.

A location's hash is a Python-level call (a frozen dataclass hashes the tuple of
its fields), and the detectors that count call sites do it once per span.  Spans
of one call stack share their Location object (the store decodes each stack
once), so runs are counted per object first, by its id, and folded into the
counts by value when they are read, or when many objects are pending.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from perfdoctor.callsite import display_path
from perfdoctor.model import Location

# Distinct objects counted before they are folded: traces built in memory can
# hold one Location per span, and the pending counts must stay bounded.
_MOST_PENDING = 4096


class Sites:
    """Counts per location in order of first appearance, as ``counts[loc] =
    counts.get(loc, 0) + 1`` span after span would give them."""

    __slots__ = ("_counts", "_pending")

    def __init__(self) -> None:
        self._counts: dict[Location, int] = {}
        # id -> [the object (held, so that its id is not reused), runs]
        self._pending: dict[int, list[Any]] = {}

    def add(self, location: Location, runs: int = 1) -> None:
        entry = self._pending.get(id(location))
        if entry is not None:
            entry[1] += runs
            return
        if len(self._pending) >= _MOST_PENDING:
            self._fold()
        self._pending[id(location)] = [location, runs]

    def _fold(self) -> None:
        counts = self._counts
        # The objects in order of first appearance: a location's first appearance
        # is that of the first of its objects, so the order by value is kept.
        for location, runs in self._pending.values():
            counts[location] = counts.get(location, 0) + runs
        self._pending = {}

    @property
    def counts(self) -> dict[Location, int]:
        if self._pending:
            self._fold()
        return self._counts

    def __bool__(self) -> bool:
        return bool(self._pending or self._counts)


def shown_path(filename: str) -> str:
    """:func:`perfdoctor.callsite.display_path`, remembered per working directory:
    a per-request finding names its call sites (``os.path.relpath`` each time),
    and most of those findings are merged away."""
    return _shown_in(filename, os.getcwd())


@functools.lru_cache(maxsize=4096)
def _shown_in(filename: str, cwd: str) -> str:
    return display_path(filename)
