"""uncached-external: the same external GET, with the same answer, fetched request after request."""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Sequence

from perfdoctor.analysis.stats import percentile
from perfdoctor.detectors import register
from perfdoctor.detectors._kinds import of_kind
from perfdoctor.detectors.base import Session, Summarising, finding_fingerprint
from perfdoctor.model import Finding, Location, Span, Trace
from perfdoctor.settings import Settings


class _Fetches:
    """Calls of one full URL from one call site so far: durations (8 bytes a
    call), what their answers were known by, and the requests they came from."""

    def __init__(self, span: Span) -> None:
        self.durations = array("d")
        self.system = span.system
        self.digests: set[object] = set()
        self.sizes: set[object] = set()
        # The requests it came from, by their number in the session (8 bytes each).
        self.requests = array("q")
        self.endpoints: Counter[str] = Counter()

    def add(self, span: Span, trace: Trace, number: int) -> None:
        self.durations.append(span.duration_ms)
        self.digests.add(span.attrs.get("response_digest"))
        self.sizes.add(span.attrs.get("bytes"))
        # A trace's calls come one after another.
        if not self.requests or self.requests[-1] != number:
            self.requests.append(number)
        self.endpoints[trace.name] += 1

    def identical(self) -> str | None:
        """How the answers are known to be the same ("body", "size"), None if they differ."""
        digests = self.digests
        if None not in digests:
            return "body" if len(digests) == 1 else None
        if len(digests) > 1:
            return None  # some bodies seen, and they differ
        # Bodies not read by the client at call time (aiohttp, streams): the size must agree.
        sizes = self.sizes
        return "size" if len(sizes) == 1 and None not in sizes else None


def _cacheable(span: Span) -> bool:
    status = span.attrs.get("status")
    return (
        span.attrs.get("method") == "GET"
        and isinstance(status, int)
        and 200 <= status < 300
        and span.attrs.get("url_digest") is not None
    )


class _Session(Session):
    def __init__(self, detector: UncachedExternal, settings: Settings) -> None:
        self.detector, self.settings = detector, settings
        self.by_request: dict[tuple[object, ...], _Fetches] = {}
        self.seen = 0

    def feed(self, traces: Sequence[Trace]) -> None:
        for trace in traces:
            self.seen += 1
            for span in of_kind(trace, "http"):
                if _cacheable(span):
                    key = (span.attrs.get("url"), span.attrs.get("url_digest"), span.location)
                    fetches = self.by_request.get(key)
                    if fetches is None:
                        fetches = self.by_request[key] = _Fetches(span)
                    fetches.add(span, trace, self.seen)

    def findings(self) -> list[Finding]:
        settings = self.settings
        # Fetches of one URL template (one query string or several) from one call
        # site make one finding.
        merged: dict[tuple[object, ...], list[_Fetches]] = {}
        for (url, _digest, location), fetches in self.by_request.items():
            if len(fetches.durations) < settings.uncached_external_min_calls:
                continue
            if len(fetches.requests) < settings.uncached_external_min_traces:
                continue
            if fetches.identical() is None:
                continue
            merged.setdefault((url, location), []).append(fetches)
        return [self.detector._finding(url, loc, groups) for (url, loc), groups in merged.items()]


@register
class UncachedExternal(Summarising):
    id = "uncached-external"
    description = "the same external GET with the same answer, repeated across requests"

    def session(self, settings: Settings) -> Session:
        return _Session(self, settings)

    def _finding(self, url: object, location: object, groups: list[_Fetches]) -> Finding:
        durations = [d for g in groups for d in g.durations]
        requests = len({number for g in groups for number in g.requests})
        endpoints: Counter[str] = Counter()
        for group in groups:
            endpoints.update(group.endpoints)
        known_by = {g.identical() for g in groups}
        wasted = sum(durations) - sum(g.durations[0] for g in groups)
        loc = location if isinstance(location, Location) else None
        return Finding(
            id=self.id,
            severity="warning",
            title=(
                f"Uncached external call: GET {url} fetched {len(durations)} times in "
                f"{requests} requests with the same answer each time"
            ),
            endpoint=endpoints.most_common(1)[0][0],
            location=loc,
            evidence={
                "calls": len(durations),
                "traces": requests,
                "requests_affected": requests,
                "distinct_requests": len(groups),
                "total_ms": round(sum(durations), 3),
                # Per request, as every detector's wasted_ms: the ranking multiplies
                # it by the requests affected.
                "wasted_ms": round(wasted / requests, 3),
                "p50_ms": round(percentile(durations, 50), 3),
                "url": url,
                "system": groups[0].system,
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
