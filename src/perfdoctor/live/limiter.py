"""Keeps a busy app's live lines readable.

Two rules, both from ``settings.py``:

- Repeats collapse. A line identical to one shown for the same endpoint
  (status, queries and findings alike; only the time differs) is shown at most
  ``live_repeat_lines`` times per ``live_repeat_window_s``; the rest become one
  "×57 more like this" line when the window ends.  A changed line (a fixed N+1,
  a new status) shows at once.
- At most ``live_max_lines_per_s`` request lines a second, and at most
  ``live_max_analysed_per_s`` requests analysed a second (the detectors' CPU);
  past either, requests are counted, and a "… 250 more requests" line per second
  sums them up by endpoint.

Every request ends up in exactly one place: its line, a repeat count or an
overflow count.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Union

from perfdoctor.live.line import RequestLine


@dataclass
class Repeat:
    """Lines like ``line`` not shown during ``seconds``."""

    line: RequestLine
    count: int
    median_ms: float
    seconds: float


@dataclass
class Overflow:
    """Requests past the per-second budget, by endpoint."""

    count: int
    endpoints: Counter[str]


Event = Union[RequestLine, Repeat, Overflow]


@dataclass
class _Seen:
    since: float
    line: RequestLine
    shown: int = 0
    hidden_ms: list[float] = field(default_factory=list)


class Limiter:
    def __init__(
        self,
        max_lines_per_s: int,
        max_analysed_per_s: int,
        repeat_lines: int,
        repeat_window_s: float,
        clock: Callable[[], float],
    ) -> None:
        self.max_lines = max_lines_per_s
        self.max_analysed = max_analysed_per_s
        self.repeat_lines = repeat_lines
        self.repeat_window = repeat_window_s
        self._clock = clock
        self._second: float | None = None
        self._lines = 0
        self._analysed = 0
        self._overflow: Counter[str] = Counter()
        self._seen: dict[tuple[object, ...], _Seen] = {}

    def _budget(self, now: float) -> None:
        if self._second is None or now - self._second >= 1.0:
            self._second, self._lines, self._analysed = now, 0, 0

    def may_analyse(self, endpoint: str) -> bool:
        """Whether this request is analysed; if not, it is counted in the overflow."""
        self._budget(self._clock())
        if self._analysed >= self.max_analysed:
            self._overflow[endpoint] += 1
            return False
        self._analysed += 1
        return True

    def offer(self, line: RequestLine) -> list[Event]:
        """What to show now for an analysed request (its line, or nothing)."""
        now = self._clock()
        self._budget(now)
        seen = self._seen.get(line.key)
        if seen is not None and now - seen.since >= self.repeat_window:
            seen = None  # the window ended: tick() reports what it hid
        if seen is None:
            seen = self._seen[line.key] = _Seen(now, line)
        elif seen.shown >= self.repeat_lines:
            seen.hidden_ms.append(line.ms)
            return []
        if self._lines >= self.max_lines:
            self._overflow[line.endpoint] += 1
            return []
        self._lines += 1
        seen.shown += 1
        return [line]

    def tick(self, final: bool = False) -> list[Event]:
        """The summaries due now (all of them when ``final``)."""
        now = self._clock()
        out: list[Event] = []
        for key, seen in list(self._seen.items()):
            if final or now - seen.since >= self.repeat_window:
                if seen.hidden_ms:
                    median = statistics.median(seen.hidden_ms)
                    out.append(Repeat(seen.line, len(seen.hidden_ms), median, now - seen.since))
                del self._seen[key]
        if self._overflow and (final or self._second is None or now - self._second >= 1.0):
            out.append(Overflow(sum(self._overflow.values()), self._overflow))
            self._overflow = Counter()
        return out
