"""slow-query: a query shape whose p95 duration is over the budget.

A store is read in chunks: per shape, what is kept is its durations (exact
percentiles up to ``exact_percentile_values`` runs, then a histogram), counts
per endpoint and call site, and what the evidence says of the machine while
the traces that ran it were measured (counts and maxima), never the traces.

In a sampled store (``run --sample``) each run counts for the requests its
trace stands for: every slow request was kept, a share of the others, and the
slow ones' runs would otherwise make a query that is slow now and then look
slow at p95.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from perfdoctor.analysis import sampling
from perfdoctor.analysis.shapes import shapes as by_shape
from perfdoctor.analysis.stats import SampledQuantiles
from perfdoctor.detectors import _machine, register
from perfdoctor.detectors._kinds import of_kind
from perfdoctor.detectors._sites import Sites
from perfdoctor.detectors.base import Session, Summarising, finding_fingerprint
from perfdoctor.model import Finding, Severity, Span, Trace
from perfdoctor.settings import Settings

FIX = (
    "Look at its plan (EXPLAIN ANALYZE on PostgreSQL/MySQL, EXPLAIN QUERY PLAN on SQLite): "
    "index the filtered, joined and sorted columns, fetch fewer rows or columns, or "
    "precompute and cache the result."
)


class _Shape:
    """One query shape's runs so far: durations (bounded), where and from
    which endpoints it ran, and the machine of the runs' traces that sampled one."""

    __slots__ = ("durations", "endpoints", "first", "last", "locations", "machines", "slow")

    def __init__(self, span: Span, settings: Settings) -> None:
        self.durations = SampledQuantiles(settings.exact_percentile_values)
        self.endpoints: Counter[str] = Counter()
        self.locations = Sites()
        self.first = (span.statement, span.system)
        # The machine samples of the traces that ran it, once each.
        self.machines = _machine.MachineSeen()
        self.last: str | None = None
        # Per trace with a sample, its slowest run over the budget.
        self.slow = _machine.SlowSeen(settings.slow_query_p95_ms, settings)


class _Session(Session):
    def __init__(self, detector: SlowQuery, settings: Settings) -> None:
        self.detector, self.settings = detector, settings
        self.shapes: dict[str | None, _Shape] = {}

    def feed(self, traces: Sequence[Trace]) -> None:
        settings = self.settings
        shapes, budget = self.shapes, settings.slow_query_p95_ms
        for trace in traces:
            spans = of_kind(trace, "db")
            if not spans:
                continue
            machine = _machine.sample(trace)
            weight = sampling.weight(trace)
            name, trace_id = trace.name, trace.id
            # Each shape's slowest run over the budget in this trace.
            slowest: dict[_Shape, float] = {}
            # A shape's runs share their fingerprint and call site: counted at once.
            for runs in by_shape(trace):
                first = runs[0]
                if first.kind != "db":
                    continue
                shape = shapes.get(first.fingerprint)
                if shape is None:
                    shape = shapes[first.fingerprint] = _Shape(first, settings)
                durations = [span.duration_ms for span in runs]
                shape.durations.extend(durations, weight)
                shape.endpoints[name] += len(runs)
                if first.location is not None:
                    shape.locations.add(first.location, len(runs))
                if machine is None:
                    continue
                if shape.last != trace_id:  # (one query from two call sites: two shapes)
                    shape.last = trace_id
                    shape.machines.add(machine)
                top = max(durations)
                if top >= budget and top > slowest.get(shape, 0.0):
                    slowest[shape] = top
            for shape, duration in slowest.items():
                shape.slow.add(duration, trace, machine)

    def findings(self) -> list[Finding]:
        return [
            finding
            for fingerprint, shape in self.shapes.items()
            if (finding := self.detector.judge(fingerprint, shape, self.settings)) is not None
        ]


def _machine_evidence(shape: _Shape, settings: Settings) -> tuple[dict[str, Any], bool]:
    """The machine while the requests that ran the query were measured; whether it was busy."""
    evidence: dict[str, Any] = {}
    machine = shape.machines.summary()
    if machine is None:
        return evidence, False
    evidence["machine"] = machine
    busy = shape.slow.busy_machine()
    if busy is not None:
        evidence["busy_machine"] = busy.sentence(settings, "requests where it ran over the budget")
    return evidence, busy is not None and busy.explains


@register
class SlowQuery(Summarising):
    id = "slow-query"
    description = "a query whose p95 duration is over the budget"

    def session(self, settings: Settings) -> Session:
        return _Session(self, settings)

    def judge(self, fingerprint: str | None, shape: _Shape, settings: Settings) -> Finding | None:
        budget = settings.slow_query_p95_ms
        durations = shape.durations
        p95 = durations.percentile(95)
        if p95 < budget:
            return None
        endpoint = shape.endpoints.most_common(1)[0][0]
        # The first of equally common call sites, as most_common_location picks it.
        location = (
            max(shape.locations.counts.items(), key=lambda item: item[1])[0]
            if shape.locations
            else None
        )
        too_slow = p95 >= budget * settings.slow_query_error_factor
        severity: Severity = "error" if too_slow else "warning"
        machine, busy = _machine_evidence(shape, settings)
        title = f"Slow query: p95 {p95:.0f} ms against a budget of {budget:.0f} ms"
        statement, system = shape.first
        return Finding(
            id=self.id,
            severity=severity,
            title=title + (_machine.TITLE_SUFFIX if busy else ""),
            endpoint=endpoint,
            location=location,
            evidence={
                # As many as the kept runs stand for, in a sampled store.
                "runs": durations.estimated_count(),
                "p50_ms": round(durations.percentile(50), 3),
                "p95_ms": round(p95, 3),
                "max_ms": round(durations.largest, 3),
                "budget_ms": budget,
                "statement": statement,
                "system": system,
                "endpoints": sorted(shape.endpoints),
                **machine,
            },
            fix=(_machine.FIX_PREFIX + FIX) if busy else FIX,
            fingerprint=finding_fingerprint(self.id, fingerprint),
        )
