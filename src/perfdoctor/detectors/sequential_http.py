"""sequential-http: independent outbound calls made one after another in one request."""

from __future__ import annotations

from collections.abc import Iterable

from perfdoctor.detectors import register
from perfdoctor.detectors._http import (
    endpoint_key,
    http_spans,
    is_async,
    n_plus_one_http_groups,
    site,
)
from perfdoctor.detectors._kinds import of_kind
from perfdoctor.detectors.base import PerTraceDetector, finding_fingerprint
from perfdoctor.model import Finding, Span, Trace
from perfdoctor.settings import Settings


def sequential_runs(spans: list[Span], max_gap_ms: float) -> list[list[Span]]:
    """Runs of calls (in start order) where each starts soon after the previous ended.

    A call that overlaps another already runs concurrently: it ends a run.
    """
    concurrent: set[int] = set()
    busy_until, holder = float("-inf"), None
    for span in spans:
        if span.start_ms < busy_until and holder is not None:
            concurrent.update((id(span), id(holder)))
        if span.end_ms > busy_until:
            busy_until, holder = span.end_ms, span
    runs: list[list[Span]] = []
    current: list[Span] = []
    for span in spans:
        if id(span) in concurrent:
            runs.append(current)
            current = []
            continue
        if current and span.start_ms - current[-1].end_ms > max_gap_ms:
            runs.append(current)
            current = []
        current.append(span)
    runs.append(current)
    return [run for run in runs if len(run) > 1]


def _fix(run: list[Span]) -> str:
    if any(is_async(s) for s in run):
        return (
            "If no call needs another's answer, start them together: "
            "a, b, c = await asyncio.gather(fetch_a(), fetch_b(), fetch_c()) "
            "(or create them in an asyncio.TaskGroup); the request then waits for the "
            "slowest call only."
        )
    return (
        "If no call needs another's answer, overlap them: with "
        "concurrent.futures.ThreadPoolExecutor(max_workers=len(calls)) as pool: "
        "futures = [pool.submit(fetch_a), pool.submit(fetch_b), pool.submit(fetch_c)]; "
        "results = [f.result() for f in futures]. In async code, await asyncio.gather(...) "
        "of the calls through httpx.AsyncClient or aiohttp."
    )


@register
class SequentialHttp(PerTraceDetector):
    id = "sequential-http"
    description = "independent outbound calls awaited one after another"

    def visit(self, trace: Trace, settings: Settings) -> Iterable[Finding]:
        if len(of_kind(trace, "http")) < settings.sequential_http_min_calls:
            return  # too few calls for a run (most requests make none)
        looped = {id(s) for g in n_plus_one_http_groups(trace, settings) for s in g.spans}
        spans = [s for s in http_spans(trace) if id(s) not in looped]
        for run in sequential_runs(spans, settings.sequential_http_max_gap_ms):
            if len(run) < settings.sequential_http_min_calls:
                continue
            keys = {(endpoint_key(s), site(s)) for s in run}
            if len(keys) < 2:
                continue  # one call repeated from one line: a loop, not independent calls
            total = sum(s.duration_ms for s in run)
            slowest = max(s.duration_ms for s in run)
            saved = total - slowest
            if saved < settings.sequential_http_min_saved_ms:
                continue
            first = run[0]
            yield Finding(
                id=self.id,
                severity="warning",
                title=(
                    f"Sequential HTTP calls: {len(run)} outbound calls waited for one another; "
                    f"running them together would save about {saved:.0f} ms"
                ),
                endpoint=trace.name,
                location=first.location,
                evidence={
                    "count": len(run),
                    "total_ms": round(total, 3),
                    "saved_ms": round(saved, 3),
                    "wasted_ms": round(saved, 3),
                    # In order, each as "METHOD url at path:line (ms)".
                    "calls": [
                        f"{s.attrs.get('method')} {s.attrs.get('url')} at {site(s)} "
                        f"({s.duration_ms:.1f} ms)"
                        for s in run
                    ],
                    "system": first.system,
                },
                fix=_fix(run),
                fingerprint=finding_fingerprint(self.id, trace.name, *sorted(str(k) for k in keys)),
            )
