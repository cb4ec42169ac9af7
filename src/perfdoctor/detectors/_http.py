"""Grouping of outbound ``http`` spans shared by the outbound HTTP detectors."""

from __future__ import annotations

from dataclasses import dataclass, field

from perfdoctor.detectors._kinds import of_kind
from perfdoctor.detectors._sites import shown_path
from perfdoctor.model import Location, Span, Trace
from perfdoctor.settings import Settings

ASYNC_SYSTEMS = frozenset({"aiohttp"})


def http_spans(trace: Trace) -> list[Span]:
    return sorted(of_kind(trace, "http"), key=lambda s: s.start_ms)


def site(span: Span) -> str | None:
    loc = span.location
    return f"{shown_path(loc.path)}:{loc.line}" if loc else None


def endpoint_key(span: Span) -> tuple[str, str]:
    return str(span.attrs.get("method") or "GET"), str(span.attrs.get("url") or "")


def is_async(span: Span) -> bool:
    """An awaited call (httpx.AsyncClient, aiohttp), as opposed to a blocking one."""
    return bool(span.attrs.get("async")) or span.system in ASYNC_SYSTEMS


def sequential_count(spans: list[Span]) -> int:
    """How many calls started with none of the others still in flight."""
    count = 0
    busy_until = float("-inf")
    for span in sorted(spans, key=lambda s: s.start_ms):
        if span.start_ms >= busy_until:
            count += 1
        busy_until = max(busy_until, span.end_ms)
    return count


@dataclass
class CallGroup:
    key: tuple[object, ...]
    spans: list[Span] = field(default_factory=list)

    @property
    def first(self) -> Span:
        return self.spans[0]

    @property
    def total_ms(self) -> float:
        return sum(s.duration_ms for s in self.spans)


def n_plus_one_http_groups(trace: Trace, settings: Settings) -> list[CallGroup]:
    """Calls to one endpoint from one line, made one after another, enough to matter.

    Calls to it that overlap (``asyncio.gather``, a thread pool) are the fix,
    not the problem: only calls that waited for the previous one count.
    """
    groups: dict[tuple[object, ...], CallGroup] = {}
    for span in http_spans(trace):
        loc: Location | None = span.location
        key = (*endpoint_key(span), loc.path if loc else None, loc.line if loc else None)
        groups.setdefault(key, CallGroup(key)).spans.append(span)
    found = []
    for group in groups.values():
        if sequential_count(group.spans) < settings.n_plus_one_http_min_repeats:
            continue
        if group.total_ms < settings.n_plus_one_http_min_total_ms:
            continue
        found.append(group)
    return found


def library_fix(system: str | None, *, asynchronous: bool) -> str:
    """How to run calls concurrently with the library that made them."""
    if system == "aiohttp" or asynchronous:
        return (
            "await them together: results = await asyncio.gather(*(fetch(x) for x in items)) "
            "(or an asyncio.TaskGroup), with an asyncio.Semaphore to cap how many are in flight"
        )
    client = {
        "httpx": "httpx.Client (thread-safe; or switch to httpx.AsyncClient and asyncio.gather)",
        "requests": "a requests.Session per worker thread",
        "urllib3": "one urllib3.PoolManager (thread-safe; maxsize= sets its pool per host)",
        "urllib": "urllib.request.urlopen (a new connection per call, safe from any thread)",
        "http.client": "one http.client.HTTPConnection per thread (a connection is not "
        "thread-safe)",
    }.get(system or "", "the same client")
    return (
        "run them in a thread pool: with concurrent.futures.ThreadPoolExecutor(max_workers=8) "
        f"as pool: results = list(pool.map(fetch, items)), using {client}"
    )
