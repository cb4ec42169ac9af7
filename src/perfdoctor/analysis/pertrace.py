"""Per-trace results that several readers of one chunk need, computed once.

Two detectors group a request's queries the same way (n-plus-one-query, and
duplicate-query to leave those groups out), and slow-endpoint and the endpoint
statistics both split its time into db/http/cache/python: each is computed for
the first reader and handed to the next.  :func:`forget` is called at each new
chunk, so what is remembered is one chunk's worth, never the store's.  Readers
must not change what they are given.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

from perfdoctor.model import Trace

T = TypeVar("T")

_MEMOS: list[PerTrace[object]] = []
# Traces remembered at most: a chunk's (settings.analysis_chunk_traces, 100 by
# default) with room to spare; a larger chunk is only computed twice more often.
_MOST = 2048


class PerTrace(Generic[T]):
    """``compute(trace, *args)`` remembered per trace object and the very same
    ``args`` (both checked by identity: a trace freed and another allocated at
    its address is computed afresh)."""

    def __init__(self, compute: Callable[..., T]) -> None:
        self.compute = compute
        self.memo: dict[int, tuple[weakref.ref[Trace], tuple[object, ...], T]] = {}
        _MEMOS.append(self)  # type: ignore[arg-type]

    def __call__(self, trace: Trace, *args: object) -> T:
        hit = self.memo.get(id(trace))
        if hit is not None and hit[0]() is trace:
            kept = hit[1]
            # Asked many times per trace: no generator for the usual zero or one
            # argument (no argument at all: both are the one empty tuple).
            if kept is args or (
                len(kept) == len(args)
                and (
                    not args
                    or (
                        kept[0] is args[0]
                        and (len(args) == 1 or all(a is b for a, b in zip(kept, args)))
                    )
                )
            ):
                return hit[2]
        value = self.compute(trace, *args)
        if len(self.memo) >= _MOST:  # a caller outside analyze_chunks never forgets
            self.memo.clear()
        self.memo[id(trace)] = (weakref.ref(trace), args, value)
        return value


def forget() -> None:
    """Drop what was remembered (a new chunk starts)."""
    for memo in _MEMOS:
        memo.memo.clear()
