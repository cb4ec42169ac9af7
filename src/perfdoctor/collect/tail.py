"""The tail rule in the receiver (``perfdoctor collect --sample RATE``).

The same rule as ``perfdoctor run --sample``, taken when a trace's root span has
come: a failed trace (an error span, or a 5xx answer) and a slow one (its root
over the endpoint's own ``p95_ms`` budget or ``sample_slow_ms``) are kept, and
of the others those the trace id draws.  The draw is the trace id's lower 64
bits under ``rate`` × 2⁶⁴, as OpenTelemetry's ``TraceIdRatioBased`` sampler
draws: every shard of a fleet, and an SDK sampling at the same rate upstream,
keeps the same traces.

Every trace counts as a request seen by its endpoint (the store's ``sampling``
table), kept or not, so reports say "seen in 37 of ~740 requests".  A decision
is remembered for a while by trace id: spans that come after their trace was
written (or dropped) follow it, and are not counted again.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from perfdoctor.otlp import semconv as sc
from perfdoctor.otlp.decode import SERVER, OtlpSpan
from perfdoctor.otlp.mapping import trace_name

_DRAW_BITS = 64
# Decisions remembered, for spans that come late: far more traces than arrive
# within collect_hold_s at any rate one receiver takes.
REMEMBERED = 50_000


class TailRule:
    def __init__(
        self, rate: float, slow_ms: float, slow_by_name: dict[str, float] | None = None
    ) -> None:
        self.rate = rate
        self.slow_ms = slow_ms
        self.slow_by_name = {n: min(ms, slow_ms) for n, ms in (slow_by_name or {}).items()}
        self._bound = round(rate * (1 << _DRAW_BITS))
        # trace id -> the sample attributes its trace was kept with, None: dropped.
        self._decided: OrderedDict[str, dict[str, Any] | None] = OrderedDict()
        # endpoint -> [seen, kept] since the last take_counts().
        self._counts: dict[str, list[int]] = {}
        # endpoint -> requests dropped since its last kept trace ("seen" of the next).
        self._pending: dict[str, int] = {}
        self.seen = 0
        self.kept = 0

    def drawn(self, trace_id: str) -> bool:
        try:
            return int(trace_id[-16:], 16) < self._bound
        except ValueError:
            return False

    def decide(self, group: list[OtlpSpan]) -> dict[str, Any] | None:
        """The ``sample`` attributes of the trace these spans make if kept, else None."""
        trace_id = group[0].trace_id
        if trace_id in self._decided:
            return self._decided[trace_id]
        ids = {span.span_id for span in group}
        top = next((s for s in group if s.parent_id is None), None) or next(
            (s for s in group if s.parent_id not in ids), group[0]
        )
        name = trace_name(top)
        why = self._why(group, top, name)
        counts = self._counts.setdefault(name, [0, 0])
        counts[0] += 1
        self.seen += 1
        sample: dict[str, Any] | None = None
        if why:
            counts[1] += 1
            self.kept += 1
            sample = {"rate": self.rate, "kept": why, "seen": self._pending.pop(name, 0) + 1}
        else:
            self._pending[name] = self._pending.get(name, 0) + 1
        self._decided[trace_id] = sample
        if len(self._decided) > REMEMBERED:
            self._decided.popitem(last=False)
        return sample

    def _why(self, group: list[OtlpSpan], top: OtlpSpan, name: str) -> str:
        status = sc.integer(top.attrs, sc.HTTP_STATUS) if top.kind == SERVER else None
        if (status is not None and status >= 500) or any(span.error for span in group):
            return "error"
        if (top.end_ns - top.start_ns) / 1e6 >= self.slow_by_name.get(name, self.slow_ms):
            return "slow"
        return "head" if self.drawn(top.trace_id) else ""

    def take_counts(self) -> list[tuple[str, int, int]]:
        """(endpoint, seen, kept) since the last call, for the store's sampling table."""
        counts, self._counts = self._counts, {}
        return [(name, seen, kept) for name, (seen, kept) in counts.items()]

    def restore_counts(self, rows: list[tuple[str, int, int]]) -> None:
        """Counts a failed write did not store: added to the next."""
        for name, seen, kept in rows:
            counts = self._counts.setdefault(name, [0, 0])
            counts[0] += seen
            counts[1] += kept
