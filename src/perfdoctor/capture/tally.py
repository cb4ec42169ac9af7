"""The tail rule: which requests a sampled run keeps, and the count of what it saw.

One rule for both places that sample: ``perfdoctor run --sample`` (per request,
in :func:`perfdoctor.capture.context.finish`, inside the user's app) and
``perfdoctor collect --sample`` (per trace, in :mod:`perfdoctor.collect.tail`).
A failed request is kept (``"error"``), so is a slow one: at or over its
endpoint's own threshold (its p95 budget, when under the global one) or the
global ``slow_ms`` (``"slow"``); of the others, those the head draw chose
(``"head"``), each standing for 1/rate requests.  The caller says whether the
request failed and was drawn: how it knows differs (a status and an exception
in the app; a span's status and the trace id's bits in the receiver).

Every request counts as seen by its endpoint, kept or not (the store's
``sampling`` table), so reports say "seen in 37 of ~740 requests".  A kept
trace's ``seen`` is itself and the requests of its endpoint dropped since the
last kept one, so the store's retention, dropping that trace, can take exactly
those requests out of the counts.

Runs inside the user's app, per request: standard library only, Python 3.9,
and as few steps as the rule needs.
"""

from __future__ import annotations

from typing import Any

ERROR = "error"
SLOW = "slow"
HEAD = "head"


class Tally:
    __slots__ = ("counts", "pending", "rate", "slow_by_name", "slow_ms")

    def __init__(
        self, rate: float, slow_ms: float, slow_by_name: dict[str, float] | None = None
    ) -> None:
        self.rate = rate
        self.slow_ms = slow_ms
        # An endpoint's budget lowers its own threshold, never raises it.
        self.slow_by_name = {n: min(ms, slow_ms) for n, ms in (slow_by_name or {}).items()}
        # endpoint -> [requests seen, traces kept] since the last take_counts().
        self.counts: dict[str, list[int]] = {}
        # endpoint -> requests dropped since its last kept one ("seen" of the next).
        self.pending: dict[str, int] = {}

    def decide(self, name: str, failed: bool, ms: float, drawn: bool) -> dict[str, Any] | None:
        """Count the request; if kept, its trace's ``sample`` attributes.

        One call, not a decision and a count: it runs per request in the app.
        """
        counts = self.counts.get(name)
        if counts is None:
            counts = self.counts[name] = [0, 0]
        counts[0] += 1
        if failed:
            why = ERROR
        elif ms >= self.slow_by_name.get(name, self.slow_ms):
            why = SLOW
        elif drawn:
            why = HEAD
        else:
            pending = self.pending
            pending[name] = pending.get(name, 0) + 1
            return None
        counts[1] += 1
        return {"rate": self.rate, "kept": why, "seen": self.pending.pop(name, 0) + 1}

    def take_counts(self) -> list[tuple[str, int, int]]:
        """(endpoint, seen, kept) since the last call, for the store's sampling table."""
        counts = self.counts
        if not counts:
            return []
        # Swapped, not cleared: a request finishing meanwhile counts into the new one.
        self.counts = {}
        return [(name, seen, kept) for name, (seen, kept) in counts.items()]

    def restore_counts(self, rows: list[tuple[str, int, int]]) -> None:
        """Counts a failed write did not store: added to the next."""
        for name, seen, kept in rows:
            counts = self.counts.setdefault(name, [0, 0])
            counts[0] += seen
            counts[1] += kept

    def forget(self) -> None:
        """Start from nothing (a forked worker counts its own requests)."""
        self.counts = {}
        self.pending = {}
