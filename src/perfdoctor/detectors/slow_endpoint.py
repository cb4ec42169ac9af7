"""slow-endpoint: an endpoint whose p95 latency is over the budget, and where its time went.

A queued task's runs (traces of kind ``job``) are judged the same way against
the job budget (the seed's 30 s for background jobs).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from perfdoctor import timing
from perfdoctor.detectors import _machine, register
from perfdoctor.detectors._groups import most_common_location
from perfdoctor.detectors._responses import handler, requests_by_endpoint
from perfdoctor.detectors.base import Detector, finding_fingerprint
from perfdoctor.model import JOB_KIND, Finding, Location, Severity, Trace
from perfdoctor.settings import Settings
from perfdoctor.stats import percentile

FIXES = {
    "db": (
        "Most of the time is in the database ({ms:.0f} ms of {total:.0f} ms): see the query "
        "findings for this endpoint (N+1, duplicates, slow queries), fetch fewer rows, and "
        "index what the slowest statements filter and sort on."
    ),
    "http": (
        "Most of the time is in outbound HTTP calls ({ms:.0f} ms of {total:.0f} ms): run "
        "independent calls concurrently, cache their answers, set tight timeouts, or move "
        "calls the response does not need to a background job."
    ),
    "cache": (
        "Most of the time is in cache calls ({ms:.0f} ms of {total:.0f} ms): batch them "
        "(get_many / MGET, pipelines) and keep cached values small."
    ),
    "python": (
        "Most of the time is in the endpoint's own Python code ({ms:.0f} ms of {total:.0f} ms, "
        "outside any query, HTTP or cache call): profile one request (pyinstrument, "
        "py-spy) and precompute, cache, or move the heavy work out of the request."
    ),
}

# A task is already off the request path: its fixes say how to shorten or split it.
JOB_FIXES = {
    **FIXES,
    "http": (
        "Most of the time is in outbound HTTP calls ({ms:.0f} ms of {total:.0f} ms): run "
        "independent calls concurrently, cache their answers and set tight timeouts."
    ),
    "python": (
        "Most of the time is in the task's own Python code ({ms:.0f} ms of {total:.0f} ms, "
        "outside any query, HTTP or cache call): profile one run (pyinstrument, py-spy), "
        "and precompute, or split the work into smaller tasks that workers run in parallel."
    ),
}


def budgeted_groups(
    traces: Sequence[Trace], settings: Settings
) -> list[tuple[str, list[Trace], float, dict[str, str]]]:
    """Requests per endpoint with the endpoint budget, task runs per task with the job one."""
    jobs: dict[str, list[Trace]] = defaultdict(list)
    for trace in traces:
        if trace.kind == JOB_KIND:
            jobs[trace.name].append(trace)
    requests = requests_by_endpoint(traces)
    return [
        *((name, group, settings.slow_endpoint_p95_ms, FIXES) for name, group in requests.items()),
        *((name, group, settings.slow_job_p95_ms, JOB_FIXES) for name, group in jobs.items()),
    ]


def _location(group: list[Trace], biggest: str) -> Location | None:
    kinds = {"db": ("db", "db.connect"), "http": ("http",), "cache": ("cache",)}.get(biggest)
    if kinds:
        located = most_common_location([s for t in group for s in t.spans if s.kind in kinds])
        if located is not None:
            return located
    return handler(group)


def _machine_evidence(
    group: list[Trace],
    latencies: list[float],
    parts: list[dict[str, float]],
    budget: float,
    settings: Settings,
) -> tuple[dict[str, Any], bool]:
    """CPU time, the machine while measured, and what they explain; and whether it was busy."""
    evidence: dict[str, Any] = {}
    cpus = [cpu for cpu in map(_machine.cpu_ms, group) if cpu is not None]
    if cpus:
        evidence["cpu_p50_ms"] = round(statistics.median(cpus), 1)
    machine = _machine.summary(group)
    if machine is not None:
        evidence["machine"] = machine
    slow = [(latency, t) for t, latency in zip(group, latencies) if latency >= budget]
    busy = _machine.busy_while_slow(slow, budget, settings)
    noun = "runs" if group[0].kind == JOB_KIND else "requests"
    if busy is not None:
        detail = _machine.cpu_detail([t for _, t in slow], noun)
        evidence["busy_machine"] = busy.sentence(settings, f"{noun} over the budget", detail)
    state = "busy" if busy is not None else ("quiet" if machine is not None else None)
    waiting = _machine.off_cpu(group, parts, settings, state)
    if waiting is not None:
        evidence["off_cpu_ms"] = round(waiting[0], 1)
        evidence["off_cpu"] = waiting[1]
    return evidence, busy is not None and busy.explains


@register
class SlowEndpoint(Detector):
    id = "slow-endpoint"
    description = "an endpoint (or a queued task) whose p95 latency is over its budget"

    def analyze(self, traces: Sequence[Trace], settings: Settings) -> list[Finding]:
        found = []
        groups = sorted(budgeted_groups(traces, settings), key=lambda g: g[0])
        for endpoint, group, budget, fixes in groups:
            latencies = [timing.latency_ms(t) for t in group]
            p95 = percentile(latencies, 95)
            if p95 < budget:
                continue
            parts = [timing.breakdown(t) for t in group]
            mean = {name: sum(p[name] for p in parts) / len(parts) for name in timing.NAMES}
            biggest = timing.biggest_share(mean)
            total = sum(latencies) / len(latencies)
            severity: Severity = (
                "error" if p95 >= budget * settings.slow_endpoint_error_factor else "warning"
            )
            statuses = Counter(t.status for t in group)
            machine, busy = _machine_evidence(group, latencies, parts, budget, settings)
            fix = fixes[biggest].format(ms=mean[biggest], total=total)
            found.append(
                Finding(
                    id=self.id,
                    severity=severity,
                    title=(
                        f"{endpoint}: p95 {p95:.0f} ms against a budget of {budget:.0f} ms, "
                        f"mostly {biggest}" + (_machine.TITLE_SUFFIX if busy else "")
                    ),
                    endpoint=endpoint,
                    location=_location(group, biggest),
                    evidence={
                        "requests": len(group),
                        "p50_ms": round(percentile(latencies, 50), 1),
                        "p95_ms": round(p95, 1),
                        "p99_ms": round(percentile(latencies, 99), 1),
                        "budget_ms": budget,
                        "db_ms": round(mean["db"], 1),
                        "http_ms": round(mean["http"], 1),
                        "cache_ms": round(mean["cache"], 1),
                        "python_ms": round(mean["python"], 1),
                        "biggest": biggest,
                        "statuses": {str(k): v for k, v in statuses.items()},
                        **machine,
                    },
                    fix=(_machine.FIX_PREFIX + fix) if busy else fix,
                    fingerprint=finding_fingerprint(self.id, endpoint),
                )
            )
        return found
