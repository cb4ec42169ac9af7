"""slow-query: a query shape whose p95 duration is over the budget."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from perfdoctor.detectors import register
from perfdoctor.detectors._groups import most_common_location
from perfdoctor.detectors.base import Detector, finding_fingerprint
from perfdoctor.model import Finding, Severity, Span, Trace
from perfdoctor.settings import Settings
from perfdoctor.stats import percentile


@register
class SlowQuery(Detector):
    id = "slow-query"
    description = "a query whose p95 duration is over the budget"

    def analyze(self, traces: Sequence[Trace], settings: Settings) -> list[Finding]:
        by_shape: dict[str | None, list[tuple[Span, str]]] = {}
        for trace in traces:
            for span in trace.spans:
                if span.kind == "db":
                    by_shape.setdefault(span.fingerprint, []).append((span, trace.name))
        found = []
        budget = settings.slow_query_p95_ms
        for fingerprint, runs in by_shape.items():
            durations = [span.duration_ms for span, _ in runs]
            p95 = percentile(durations, 95)
            if p95 < budget:
                continue
            spans = [span for span, _ in runs]
            endpoints = Counter(name for _, name in runs)
            endpoint = endpoints.most_common(1)[0][0]
            location = most_common_location(spans)
            too_slow = p95 >= budget * settings.slow_query_error_factor
            severity: Severity = "error" if too_slow else "warning"
            found.append(
                Finding(
                    id=self.id,
                    severity=severity,
                    title=f"Slow query: p95 {p95:.0f} ms against a budget of {budget:.0f} ms",
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
                    },
                    fix=(
                        "Look at its plan (EXPLAIN ANALYZE on PostgreSQL/MySQL, EXPLAIN QUERY PLAN "
                        "on SQLite): index the filtered, joined and sorted columns, fetch fewer "
                        "rows or columns, or precompute and cache the result."
                    ),
                    fingerprint=finding_fingerprint(self.id, fingerprint),
                )
            )
        return found
