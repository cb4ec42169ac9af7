"""cache-candidate: the same expensive read, with the same parameters, request after request.

A query with the same statement and the same parameters that returns the same
rows to every request of an endpoint, with nothing written to its tables in
between, is a result the application could keep instead of recomputing.  Runs
that a cache already guards (a cache miss just before) are not counted: that
read has a cache in front of it.

Outbound GETs repeated across requests are ``uncached-external``'s.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from sqlglot import exp

from perfdoctor.detectors import register
from perfdoctor.detectors._cache import call_site, operations
from perfdoctor.detectors._groups import most_common_location
from perfdoctor.detectors._sql import _parse, is_read
from perfdoctor.detectors.base import Detector, finding_fingerprint
from perfdoctor.model import SERVER_KIND, Finding, Severity, Span, Trace
from perfdoctor.settings import Settings
from perfdoctor.stats import percentile

# From this much time spent on the same result, the finding is a warning.
_WARNING_TOTAL_MS = 1000.0


@lru_cache(maxsize=2048)
def tables_of(statement: str, system: str | None) -> frozenset[str]:
    tree = _parse(statement, system)
    if tree is None:
        return frozenset()
    return frozenset(t.name.lower() for t in tree.find_all(exp.Table) if t.name)


@dataclass
class _Runs:
    spans: list[Span] = field(default_factory=list)
    traces: list[Trace] = field(default_factory=list)

    def times(self) -> tuple[float, float]:
        pairs = zip(self.spans, self.traces)
        at = [t.started_at * 1000.0 + s.start_ms for s, t in pairs]
        return min(at), max(at)


def _guarded(trace: Trace) -> list[float]:
    """Start times of cache misses in ``trace``: reads after one are behind a cache."""
    return [op.span.start_ms for op in operations(trace) if op.is_miss()]


def _writes(traces: Sequence[Trace]) -> list[tuple[float, frozenset[str]]]:
    found = []
    for trace in traces:
        for span in trace.spans:
            if span.kind == "db" and span.statement and not is_read(span.statement):
                tables = tables_of(span.statement, span.system)
                if tables:
                    found.append((trace.started_at * 1000.0 + span.start_ms, tables))
    return found


def _repeated_reads(traces: Sequence[Trace]) -> dict[tuple[object, ...], _Runs]:
    runs: dict[tuple[object, ...], _Runs] = {}
    for trace in traces:
        if trace.kind == SERVER_KIND:
            continue
        misses = _guarded(trace)
        for span in trace.spans:
            if span.kind != "db" or span.params_digest is None or not is_read(span.statement):
                continue
            if any(at <= span.start_ms for at in misses):
                continue
            key = (trace.name, span.fingerprint, span.params_digest)
            group = runs.setdefault(key, _Runs())
            group.spans.append(span)
            group.traces.append(trace)
    return runs


@register
class CacheCandidate(Detector):
    id = "cache-candidate"
    description = "the same expensive read repeated across requests with no cache in front"

    def analyze(self, traces: Sequence[Trace], settings: Settings) -> list[Finding]:
        writes: list[tuple[float, frozenset[str]]] | None = None
        found = []
        for (endpoint, fingerprint, _params), runs in _repeated_reads(traces).items():
            requests = len({t.id for t in runs.traces})
            if requests < settings.cache_candidate_min_traces:
                continue
            durations = [s.duration_ms for s in runs.spans]
            p50 = percentile(durations, 50)
            if p50 < settings.cache_candidate_min_p50_ms:
                continue
            first = runs.spans[0]
            tables = tables_of(first.statement or "", first.system)
            if writes is None:
                writes = _writes(traces)
            start, end = runs.times()
            if any(start <= at <= end and tables & written for at, written in writes):
                continue  # the data changed between runs: a cache would need invalidating
            found.append(
                self._finding(str(endpoint), fingerprint, runs, requests, p50, tables, settings)
            )
        return found

    def _finding(
        self,
        endpoint: str,
        fingerprint: object,
        runs: _Runs,
        requests: int,
        p50: float,
        tables: frozenset[str],
        settings: Settings,
    ) -> Finding:
        spans = runs.spans
        total = sum(s.duration_ms for s in spans)
        location = most_common_location(spans)
        frameworks = Counter(s.framework for s in spans)
        framework = frameworks.most_common(1)[0][0]
        ttl = settings.cache_candidate_suggested_ttl_s
        severity: Severity = "warning" if total >= _WARNING_TOTAL_MS else "info"
        return Finding(
            id=self.id,
            severity=severity,
            title=(
                f"Cache candidate: the same {p50:.0f} ms query with the same parameters ran in "
                f"{requests} requests"
            ),
            endpoint=endpoint,
            location=location,
            evidence={
                "runs": len(spans),
                "traces": requests,
                "requests_affected": requests,
                "total_ms_all_requests": round(total, 3),
                "p50_ms": round(p50, 3),
                "statement": spans[0].statement,
                "system": spans[0].system,
                "tables": sorted(tables),
                "writes_to_tables": 0,
                "suggested_ttl_s": ttl,
                "call_site": call_site(location),
            },
            fix=_fix(framework, ttl),
            fingerprint=finding_fingerprint(self.id, endpoint, fingerprint, location),
        )


def _fix(framework: str | None, ttl: int) -> str:
    if framework == "django":
        first = (
            f'Cache the result: cache.get_or_set("<name>:<parameters>", lambda: '
            f"list(queryset), timeout={ttl}) with django.core.cache, and delete the key "
            "when the rows change (a post_save signal)."
        )
    else:
        first = (
            f"Cache the result with a TTL: in Redis, r.set(key, serialized, ex={ttl}) after a "
            "miss and r.get(key) first (key built from the query's parameters)."
        )
    return first + (
        " For data that does not change while the process runs (reference tables, "
        "settings), functools.lru_cache on the function that loads it is enough."
    )
