"""background-job-candidate: a request that waits on outbound writes its response does
not need (a webhook, an email API, a search index update): work for a queue.

Conservative on purpose: only outbound HTTP calls that change something remotely
(POST, PUT, PATCH, DELETE) and whose answer is a mere acknowledgement (202, 204,
or a small body) count as deferrable, and only when they are most of the time of
the median request of an endpoint that is slow at p95.  Calls made
after the response was sent (FastAPI/Starlette BackgroundTasks) do not count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from perfdoctor import timing
from perfdoctor.detectors import register
from perfdoctor.detectors._groups import most_common_location
from perfdoctor.detectors._responses import framework, pick, requests_by_endpoint
from perfdoctor.detectors.base import Detector, finding_fingerprint
from perfdoctor.model import Finding, Span, Trace
from perfdoctor.settings import Settings
from perfdoctor.stats import percentile

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})

FIXES = {
    "django": (
        "Send it from a task queue after the transaction commits: "
        "transaction.on_commit(lambda: notify.delay(obj.pk)) with Celery (or django-rq's "
        "@job, Django-Q's async_task, Django 6's tasks framework), and answer right away."
    ),
    "flask": (
        "Enqueue it and answer right away: a Celery task (notify.delay(id)), an RQ job "
        "(queue.enqueue(notify, id)) or a worker reading from a queue; the job retries on "
        "its own when the remote API fails."
    ),
    "fastapi": (
        "Pass it to BackgroundTasks (background_tasks.add_task(notify, id)), which runs "
        "after the response is sent, or to a queue (Celery, arq, RQ) when it must survive "
        "a restart or be retried."
    ),
}
FIXES["starlette"] = FIXES["fastapi"]
GENERAL = (
    "Move the call to a background job (Celery, RQ, Django-Q, arq, FastAPI "
    "BackgroundTasks) and answer as soon as the data is saved."
)


def _acknowledged(span: Span, settings: Settings) -> bool:
    """The remote only acknowledged the write: nothing in its answer for the response."""
    status, size = span.attrs.get("status"), span.attrs.get("bytes")
    if status in (202, 204):
        return True
    return (
        isinstance(status, int)
        and 200 <= status < 300
        and isinstance(size, int)
        and size <= settings.background_job_max_reply_bytes
    )


def _deferrable(trace: Trace, settings: Settings) -> list[Span]:
    limit = timing.latency_ms(trace)
    return [
        s
        for s in trace.spans
        if s.kind == "http"
        and str(s.attrs.get("method") or "").upper() in WRITES
        and s.start_ms < limit
        and _acknowledged(s, settings)
    ]


@register
class BackgroundJobCandidate(Detector):
    id = "background-job-candidate"
    description = "a slow request waiting on outbound writes its response does not need"

    def analyze(self, traces: Sequence[Trace], settings: Settings) -> list[Finding]:
        found = []
        for endpoint, group in sorted(requests_by_endpoint(traces).items()):
            latencies = [timing.latency_ms(t) for t in group]
            p95 = percentile(latencies, 95)
            if p95 < settings.background_job_min_ms:
                continue
            calls = [_deferrable(t, settings) for t in group]
            deferred_ms = [
                timing.covered_ms((s.start_ms, min(s.end_ms, lat)) for s in spans)
                for spans, lat in zip(calls, latencies)
            ]
            shares = [
                d / lat if lat > 0 else 0.0 for d, lat in zip(deferred_ms, latencies)
            ]
            share = percentile(shares, 50)
            if share < settings.background_job_min_share:
                continue
            spans = [s for spans in calls for s in spans]
            targets = Counter(
                f"{str(s.attrs.get('method')).upper()} {s.attrs.get('url') or s.attrs.get('host')}"
                for s in spans
            )
            found.append(
                Finding(
                    id=self.id,
                    severity="warning",
                    title=(
                        f"{endpoint} waits {percentile(deferred_ms, 50):.0f} ms "
                        f"({share:.0%} of the request) on outbound writes it could hand to a "
                        "background job"
                    ),
                    endpoint=endpoint,
                    location=most_common_location(spans),
                    evidence={
                        "requests": len(group),
                        "p50_ms": round(percentile(latencies, 50), 1),
                        "p95_ms": round(p95, 1),
                        "deferrable_ms": round(percentile(deferred_ms, 50), 1),
                        "share": round(share, 2),
                        "calls_per_request": round(len(spans) / len(group), 2),
                        "calls": [name for name, _ in targets.most_common(5)],
                    },
                    fix=pick(FIXES, framework(group), GENERAL),
                    fingerprint=finding_fingerprint(self.id, endpoint),
                )
            )
        return found
