"""background-job-candidate: a request that waits on outbound writes its response does
not need (a webhook, an email API, a search index update): work for a queue.

Conservative on purpose: only outbound HTTP calls that change something remotely
(POST, PUT, PATCH, DELETE) and whose answer is a mere acknowledgement (202, 204,
or a small body) count as deferrable, and only when they are most of the time of
the median request of an endpoint that is slow at p95.  Calls made
after the response was sent (FastAPI/Starlette BackgroundTasks) do not count.
"""

from __future__ import annotations

import functools
from collections import Counter

from perfdoctor.analysis import sampling, timing
from perfdoctor.analysis.stats import SampledQuantiles
from perfdoctor.detectors import register
from perfdoctor.detectors._kinds import of_kind
from perfdoctor.detectors._responses import Endpoint, pick
from perfdoctor.detectors.base import (
    JudgedEndpoints,
    Session,
    Summarising,
    finding_fingerprint,
)
from perfdoctor.model import Finding, Location, Span, Trace
from perfdoctor.settings import Settings

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
        for s in of_kind(trace, "http")
        if str(s.attrs.get("method") or "").upper() in WRITES
        and s.start_ms < limit
        and _acknowledged(s, settings)
    ]


class _Endpoint:
    """One endpoint's requests so far: per request its latency and the time spent
    on deferrable calls (floats, exact up to ``exact`` requests, then bounded), and
    those calls' targets and call sites (counts)."""

    def __init__(self, exact: int) -> None:
        self.endpoint = Endpoint()
        # Each request weighed as its trace stands for in a sampled store (every
        # slow request is kept: a remote slow now and then would otherwise make
        # the kept requests' p95 and median share its); the time on deferrable
        # calls over the requests whose calls were recorded.
        self.latencies = SampledQuantiles(exact)
        self.deferred = SampledQuantiles(exact)
        self.shares = SampledQuantiles(exact)
        self.detailed = 0
        self.calls = 0
        self.targets: Counter[str] = Counter()
        self.locations: dict[Location, int] = {}

    def add(self, trace: Trace, settings: Settings) -> None:
        self.endpoint.add(trace)
        latency = timing.latency_ms(trace)
        spans = _deferrable(trace, settings)
        deferred = (
            timing.covered_ms((s.start_ms, min(s.end_ms, latency)) for s in spans)
            if spans
            else 0.0  # what covered_ms gives for none, without sorting nothing
        )
        weight = sampling.weight(trace)
        self.latencies.add(latency, weight)
        if not sampling.has_detail(trace):
            return
        self.detailed += 1
        self.deferred.add(deferred, weight)
        self.shares.add(deferred / latency if latency > 0 else 0.0, weight)
        for span in spans:
            self.calls += 1
            target = span.attrs.get("url") or span.attrs.get("host")
            self.targets[f"{str(span.attrs.get('method')).upper()} {target}"] += 1
            if span.location is not None:
                self.locations[span.location] = self.locations.get(span.location, 0) + 1


class _Session(JudgedEndpoints[_Endpoint]):
    def add(self, summary: _Endpoint, trace: Trace) -> None:
        summary.add(trace, self.settings)


@register
class BackgroundJobCandidate(Summarising):
    id = "background-job-candidate"
    description = "a slow request waiting on outbound writes its response does not need"

    def session(self, settings: Settings) -> Session:
        return _Session(
            self.judge, settings, functools.partial(_Endpoint, settings.exact_percentile_values)
        )

    def judge(self, endpoint: str, seen: _Endpoint, settings: Settings) -> Finding | None:
        latencies = seen.latencies
        p95 = latencies.percentile(95)
        if p95 < settings.background_job_min_ms:
            return None
        if not seen.shares:
            return None  # only requests kept without their calls
        share = seen.shares.percentile(50)
        if share < settings.background_job_min_share:
            return None
        requests = latencies.estimated_count()
        location = (
            max(seen.locations.items(), key=lambda item: item[1])[0] if seen.locations else None
        )
        return Finding(
            id=self.id,
            severity="warning",
            title=(
                f"{endpoint} waits {seen.deferred.percentile(50):.0f} ms "
                f"({share:.0%} of the request) on outbound writes it could hand to a "
                "background job"
            ),
            endpoint=endpoint,
            location=location,
            evidence={
                "requests": requests,
                "requests_affected": requests,
                "p50_ms": round(latencies.percentile(50), 1),
                "p95_ms": round(p95, 1),
                "deferrable_ms": round(seen.deferred.percentile(50), 1),
                "share": round(share, 2),
                "calls_per_request": round(seen.calls / seen.detailed, 2),
                "calls": [name for name, _ in seen.targets.most_common(5)],
            },
            fix=pick(FIXES, seen.endpoint.framework(), GENERAL),
            fingerprint=finding_fingerprint(self.id, endpoint),
        )
