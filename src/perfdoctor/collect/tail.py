"""The tail rule in the receiver (``perfdoctor collect --sample RATE``).

The rule of ``perfdoctor run --sample`` (:mod:`perfdoctor.capture.tally`), taken
when a trace's root span has come: a failed trace (an error span, or a 5xx
answer) and a slow one (its root over the endpoint's own ``p95_ms`` budget or
``sample_slow_ms``) are kept, and of the others those the trace id draws.  The
draw is the trace id's lower 64 bits under ``rate`` × 2⁶⁴, as OpenTelemetry's
``TraceIdRatioBased`` sampler draws: every shard of a fleet, and an SDK sampling
at the same rate upstream, keeps the same traces.

Every trace counts as a request seen by its endpoint, kept or not.  A decision
is remembered for a while by trace id: spans that come after their trace was
written (or dropped) follow it, and are not counted again.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from perfdoctor.capture.tally import Tally
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
        self.tally = Tally(rate, slow_ms, slow_by_name)
        self.rate = rate
        self.slow_ms = slow_ms
        self._bound = round(rate * (1 << _DRAW_BITS))
        # trace id -> the sample attributes its trace was kept with, None: dropped.
        self._decided: OrderedDict[str, dict[str, Any] | None] = OrderedDict()
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
        status = sc.integer(top.attrs, sc.HTTP_STATUS) if top.kind == SERVER else None
        failed = (status is not None and status >= 500) or any(span.error for span in group)
        ms = (top.end_ns - top.start_ns) / 1e6
        sample = self.tally.decide(name, failed, ms, self.drawn(trace_id))
        self.seen += 1
        if sample is not None:
            self.kept += 1
        self._decided[trace_id] = sample
        if len(self._decided) > REMEMBERED:
            self._decided.popitem(last=False)
        return sample

    def take_counts(self) -> list[tuple[str, int, int]]:
        """(endpoint, seen, kept) since the last call, for the store's sampling table."""
        return self.tally.take_counts()

    def restore_counts(self, rows: list[tuple[str, int, int]]) -> None:
        """Counts a failed write did not store: added to the next."""
        self.tally.restore_counts(rows)
