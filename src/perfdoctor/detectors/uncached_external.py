"""uncached-external: the same external GET, with the same answer, fetched request after request."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from perfdoctor.detectors import register
from perfdoctor.detectors.base import Detector, finding_fingerprint
from perfdoctor.model import Finding, Location, Span, Trace
from perfdoctor.settings import Settings
from perfdoctor.stats import percentile


@dataclass
class _Fetches:
    spans: list[Span] = field(default_factory=list)
    traces: list[Trace] = field(default_factory=list)


def _identical(spans: list[Span]) -> str | None:
    """How the answers are known to be the same ("body", "size"), None if they differ."""
    digests = {s.attrs.get("response_digest") for s in spans}
    if None not in digests:
        return "body" if len(digests) == 1 else None
    if len(digests) > 1:
        return None  # some bodies seen, and they differ
    # Bodies not read by the client at call time (aiohttp, streams): the size must agree.
    sizes = {s.attrs.get("bytes") for s in spans}
    return "size" if len(sizes) == 1 and None not in sizes else None


def _cacheable(span: Span) -> bool:
    status = span.attrs.get("status")
    return (
        span.attrs.get("method") == "GET"
        and isinstance(status, int)
        and 200 <= status < 300
        and span.attrs.get("url_digest") is not None
    )


@register
class UncachedExternal(Detector):
    id = "uncached-external"
    description = "the same external GET with the same answer, repeated across requests"
    reads = frozenset({"http"})

    def analyze(self, traces: Sequence[Trace], settings: Settings) -> list[Finding]:
        by_request: dict[tuple[object, ...], _Fetches] = {}
        for trace in traces:
            for span in trace.spans:
                if span.kind == "http" and _cacheable(span):
                    key = (span.attrs.get("url"), span.attrs.get("url_digest"), span.location)
                    fetches = by_request.setdefault(key, _Fetches())
                    fetches.spans.append(span)
                    fetches.traces.append(trace)
        # Fetches of one URL template (one query string or several) from one call
        # site make one finding.
        merged: dict[tuple[object, ...], list[_Fetches]] = {}
        for (url, _digest, location), fetches in by_request.items():
            if len(fetches.spans) < settings.uncached_external_min_calls:
                continue
            if len({id(t) for t in fetches.traces}) < settings.uncached_external_min_traces:
                continue
            if _identical(fetches.spans) is None:
                continue
            merged.setdefault((url, location), []).append(fetches)
        return [self._finding(url, loc, groups) for (url, loc), groups in merged.items()]

    def _finding(self, url: object, location: object, groups: list[_Fetches]) -> Finding:
        spans = [s for g in groups for s in g.spans]
        traces = {id(t): t for g in groups for t in g.traces}
        durations = [s.duration_ms for s in spans]
        endpoints = Counter(t.name for g in groups for t in g.traces)
        known_by = {_identical(g.spans) for g in groups}
        wasted = sum(durations) - sum(g.spans[0].duration_ms for g in groups)
        loc = location if isinstance(location, Location) else None
        return Finding(
            id=self.id,
            severity="warning",
            title=(
                f"Uncached external call: GET {url} fetched {len(spans)} times in "
                f"{len(traces)} requests with the same answer each time"
            ),
            endpoint=endpoints.most_common(1)[0][0],
            location=loc,
            evidence={
                "calls": len(spans),
                "traces": len(traces),
                "distinct_requests": len(groups),
                "total_ms": round(sum(durations), 3),
                "wasted_ms": round(wasted, 3),
                "p50_ms": round(percentile(durations, 50), 3),
                "url": url,
                "system": spans[0].system,
                "identical": "body" if known_by == {"body"} else "size",
                "endpoints": sorted(endpoints),
            },
            fix=(
                "Cache the answer with a time-to-live instead of fetching it on every request: "
                "Django's cache.get_or_set(key, fetch, timeout=60), Redis SET key value EX 60, "
                "or a small in-process TTL cache (cachetools.TTLCache; functools.lru_cache has "
                "no expiry, so key it on int(time.time() // 60) if you use it). Honour the "
                "upstream's Cache-Control max-age (and revalidate with its ETag) when it sends one."
            ),
            fingerprint=finding_fingerprint(self.id, url, loc),
        )
