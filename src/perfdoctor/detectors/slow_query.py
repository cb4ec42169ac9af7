"""slow-query: a query shape whose p95 duration is over the budget."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from perfdoctor.detectors import _machine, register
from perfdoctor.detectors._groups import most_common_location
from perfdoctor.detectors.base import Detector, finding_fingerprint
from perfdoctor.model import Finding, Severity, Span, Trace
from perfdoctor.settings import Settings
from perfdoctor.stats import percentile

FIX = (
    "Look at its plan (EXPLAIN ANALYZE on PostgreSQL/MySQL, EXPLAIN QUERY PLAN on SQLite): "
    "index the filtered, joined and sorted columns, fetch fewer rows or columns, or "
    "precompute and cache the result."
)


def _unique(traces: Iterable[Trace]) -> list[Trace]:
    return list({id(t): t for t in traces}.values())


def _machine_evidence(
    runs: list[tuple[Span, Trace]], budget: float, settings: Settings
) -> tuple[dict[str, Any], bool]:
    """The machine while the requests that ran the query were measured; whether it was busy."""
    evidence: dict[str, Any] = {}
    machine = _machine.summary(_unique(trace for _, trace in runs))
    if machine is None:
        return evidence, False
    evidence["machine"] = machine
    # Per request, its slowest run over the budget.
    slowest: dict[int, tuple[float, Trace]] = {}
    for span, trace in runs:
        if span.duration_ms >= budget and span.duration_ms > slowest.get(id(trace), (0.0,))[0]:
            slowest[id(trace)] = (span.duration_ms, trace)
    busy = _machine.busy_while_slow(list(slowest.values()), budget, settings)
    if busy is not None:
        evidence["busy_machine"] = busy.sentence(settings, "requests where it ran over the budget")
    return evidence, busy is not None and busy.explains


@register
class SlowQuery(Detector):
    id = "slow-query"
    description = "a query whose p95 duration is over the budget"

    def analyze(self, traces: Sequence[Trace], settings: Settings) -> list[Finding]:
        by_shape: dict[str | None, list[tuple[Span, Trace]]] = {}
        for trace in traces:
            for span in trace.spans:
                if span.kind == "db":
                    by_shape.setdefault(span.fingerprint, []).append((span, trace))
        found = []
        budget = settings.slow_query_p95_ms
        for fingerprint, runs in by_shape.items():
            durations = [span.duration_ms for span, _ in runs]
            p95 = percentile(durations, 95)
            if p95 < budget:
                continue
            spans = [span for span, _ in runs]
            endpoints = Counter(trace.name for _, trace in runs)
            endpoint = endpoints.most_common(1)[0][0]
            location = most_common_location(spans)
            too_slow = p95 >= budget * settings.slow_query_error_factor
            severity: Severity = "error" if too_slow else "warning"
            machine, busy = _machine_evidence(runs, budget, settings)
            title = f"Slow query: p95 {p95:.0f} ms against a budget of {budget:.0f} ms"
            found.append(
                Finding(
                    id=self.id,
                    severity=severity,
                    title=title + (_machine.TITLE_SUFFIX if busy else ""),
                    endpoint=endpoint,
                    location=location,
                    evidence={
                        "runs": len(runs),
                        "p50_ms": round(percentile(durations, 50), 3),
                        "p95_ms": round(p95, 3),
                        "max_ms": round(max(durations), 3),
                        "budget_ms": budget,
                        "statement": spans[0].statement,
                        "system": spans[0].system,
                        "endpoints": sorted(endpoints),
                        **machine,
                    },
                    fix=(_machine.FIX_PREFIX + FIX) if busy else FIX,
                    fingerprint=finding_fingerprint(self.id, fingerprint),
                )
            )
        return found
