"""duplicate-query: the identical statement with identical parameters, twice in one request."""

from __future__ import annotations

from collections.abc import Iterable

from perfdoctor.callsite import display_path
from perfdoctor.detectors import register
from perfdoctor.detectors._groups import most_common_location, n_plus_one_groups
from perfdoctor.detectors._sql import is_read
from perfdoctor.detectors.base import PerTraceDetector, finding_fingerprint
from perfdoctor.model import Finding, Span, Trace
from perfdoctor.settings import Settings


@register
class DuplicateQuery(PerTraceDetector):
    id = "duplicate-query"
    description = "identical statement and parameters run more than once in one request"

    def visit(self, trace: Trace, settings: Settings) -> Iterable[Finding]:
        # Spans already reported as an N+1 are not reported twice.
        in_n_plus_one = {id(s) for g in n_plus_one_groups(trace, settings) for s in g.spans}
        groups: dict[tuple[str | None, str | None], list[Span]] = {}
        for span in trace.spans:
            if span.kind != "db" or id(span) in in_n_plus_one or not is_read(span.statement):
                continue
            if span.params_digest is None:
                continue
            groups.setdefault((span.fingerprint, span.params_digest), []).append(span)
        for (fingerprint, _), spans in groups.items():
            if len(spans) < settings.duplicate_min_count:
                continue
            total = sum(s.duration_ms for s in spans)
            wasted = total - spans[0].duration_ms
            sites = sorted(
                {f"{display_path(s.location.path)}:{s.location.line}" for s in spans if s.location}
            )
            location = most_common_location(spans)
            yield Finding(
                id=self.id,
                severity="warning",
                title=(
                    f"Duplicate query: the same query with the same parameters "
                    f"ran {len(spans)} times"
                ),
                endpoint=trace.name,
                location=location,
                evidence={
                    "count": len(spans),
                    "total_ms": round(total, 3),
                    "wasted_ms": round(wasted, 3),
                    "statement": spans[0].statement,
                    "call_sites": sites,
                },
                fix=(
                    "Run it once and reuse the result: keep the row in a local variable or pass "
                    "it to the helpers that need it (in Django, reuse the object or the queryset's "
                    "cache; in SQLAlchemy, session.get() answers from the identity map)."
                ),
                fingerprint=finding_fingerprint(self.id, trace.name, fingerprint, location),
            )
