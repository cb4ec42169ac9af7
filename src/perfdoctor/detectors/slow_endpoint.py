"""slow-endpoint: an endpoint whose p95 latency is over the budget, and where its time went.

A queued task's runs (traces of kind ``job``) are judged the same way against
the job budget (the seed's 30 s for background jobs).

Read chunk by chunk: per endpoint, a few floats per request (exact
percentiles and means), call-site counts, and the machine facts of the requests
that sampled one or ran over the budget; never the traces.

In a sampled store (``run --sample``) a request counts for as many as its
trace stands for (:func:`perfdoctor.analysis.sampling.weight`): every slow
request was kept and a share of the others, so unweighted, a few slow ones
(a worker's first request, a lock wait) would put the kept traces' p95 over the
budget of an endpoint whose p95 is well under it.  The time by kind is over
the requests whose operations were recorded (not those ``--sample-tail
summary`` kept as timings only, which would all read as Python).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from perfdoctor.analysis import sampling, timing
from perfdoctor.analysis.shapes import shapes
from perfdoctor.analysis.stats import Quantiles, SampledQuantiles
from perfdoctor.detectors import _machine, register
from perfdoctor.detectors._responses import Endpoint
from perfdoctor.detectors._sites import Sites
from perfdoctor.detectors.base import Session, Summarising, finding_fingerprint
from perfdoctor.model import JOB_KIND, Finding, Location, Severity, Trace
from perfdoctor.settings import Settings

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


# Span kinds whose call sites a finding points at, by the bucket the time went to.
_LOCATED = {"db": "db", "db.connect": "db", "http": "http", "cache": "cache"}


class _Group:
    """One endpoint's (or task's) requests so far: a few floats per request (exact
    up to ``exact_percentile_values`` requests, then bounded), the machine facts
    of the sampled and the slow ones, call-site counts per bucket."""

    def __init__(self, kind: str, budget: float, fixes: dict[str, str], settings: Settings) -> None:
        self.kind, self.budget, self.fixes = kind, budget, fixes
        exact = settings.exact_percentile_values
        self.latencies = SampledQuantiles(exact)
        # The latencies' sum, and the time by kind summed over the requests with
        # their operations recorded, each by its weight (and that weight).
        self.latency_sum = 0.0
        self.sums = dict.fromkeys(timing.NAMES, 0.0)
        self.detailed = 0.0
        self.statuses: Counter[int | None] = Counter()
        self.cpus = Quantiles(exact)
        self.waits = Quantiles(exact)
        self.walls = Quantiles(exact)
        self.machines = _machine.MachineSeen()
        self.slow = _machine.SlowSeen(budget, settings, detail=True)
        # Requests over the budget: the ones a user waited too long for.
        self.over = 0.0
        self.locations = {"db": Sites(), "http": Sites(), "cache": Sites()}
        self.endpoint = Endpoint()

    def add(self, trace: Trace) -> None:
        latency = timing.latency_ms(trace)
        weight = sampling.weight(trace)
        self.latencies.add(latency, weight)
        self.latency_sum += latency * weight
        self.statuses[trace.status] += 1
        if sampling.has_detail(trace):
            part = timing.shared_breakdown(trace)
            self.detailed += weight
            sums = self.sums
            for name in timing.NAMES:
                sums[name] += part[name] * weight
            cpu = _machine.cpu_ms(trace)
            if cpu is not None:
                self.cpus.add(cpu)
                self.waits.add(max(0.0, part["python"] - cpu))
                self.walls.add(latency)
        machine = _machine.sample(trace)
        if machine is not None:
            self.machines.add(machine)
        if latency >= self.budget:
            self.over += weight
            self.slow.add(latency, trace, machine)
        # A shape's runs share their kind and call site: counted at once.
        for runs in shapes(trace):
            first = runs[0]
            bucket = _LOCATED.get(first.kind)
            if bucket is not None and first.location is not None:
                self.locations[bucket].add(first.location, len(runs))
        self.endpoint.add(trace)

    def location(self, biggest: str) -> Location | None:
        sites = self.locations.get(biggest)
        counts = sites.counts if sites is not None else None
        if counts:
            # The first of equally common call sites, as most_common_location picks it.
            return max(counts.items(), key=lambda item: item[1])[0]
        return self.endpoint.handler

    def machine_evidence(self, settings: Settings) -> tuple[dict[str, Any], bool]:
        """CPU time, the machine while measured, and what they explain; and whether it was busy."""
        evidence: dict[str, Any] = {}
        if self.cpus:
            evidence["cpu_p50_ms"] = round(self.cpus.median(), 1)
        machine = self.machines.summary()
        if machine is not None:
            evidence["machine"] = machine
        busy = self.slow.busy_machine()
        noun = "runs" if self.kind == JOB_KIND else "requests"
        if busy is not None:
            detail = self.slow.cpu_detail(noun)
            evidence["busy_machine"] = busy.sentence(settings, f"{noun} over the budget", detail)
        state = "busy" if busy is not None else ("quiet" if machine is not None else None)
        waiting = _machine.off_cpu(self.waits, self.walls, settings, state)
        if waiting is not None:
            evidence["off_cpu_ms"] = round(waiting[0], 1)
            evidence["off_cpu"] = waiting[1]
        return evidence, busy is not None and busy.explains


class _Session(Session):
    """Requests per endpoint against the endpoint budget, task runs per task
    against the job one."""

    def __init__(self, detector: SlowEndpoint, settings: Settings) -> None:
        self.detector, self.settings = detector, settings
        self.groups: dict[tuple[str, str], _Group] = {}

    def feed(self, traces: Sequence[Trace]) -> None:
        settings = self.settings
        for trace in traces:
            if trace.kind == "http":
                budget, fixes = settings.slow_endpoint_p95_ms, FIXES
            elif trace.kind == JOB_KIND:
                budget, fixes = settings.slow_job_p95_ms, JOB_FIXES
            else:
                continue
            key = (trace.name, trace.kind)
            group = self.groups.get(key)
            if group is None:
                group = self.groups[key] = _Group(trace.kind, budget, fixes, settings)
            group.add(trace)

    def findings(self) -> list[Finding]:
        # By name, an endpoint's requests before a task's runs of the same name.
        keys = sorted(self.groups, key=lambda key: (key[0], key[1] != "http"))
        found = []
        for key in keys:
            finding = self.detector.judge(key[0], self.groups[key], self.settings)
            if finding is not None:
                found.append(finding)
        return found


@register
class SlowEndpoint(Summarising):
    id = "slow-endpoint"
    description = "an endpoint (or a queued task) whose p95 latency is over its budget"

    def session(self, settings: Settings) -> Session:
        return _Session(self, settings)

    def judge(self, endpoint: str, group: _Group, settings: Settings) -> Finding | None:
        latencies, budget = group.latencies, group.budget
        p95 = latencies.percentile(95)
        if p95 < budget:
            return None
        count = latencies.estimated_count()
        detailed = group.detailed or 1.0
        mean = {name: group.sums[name] / detailed for name in timing.NAMES}
        biggest = timing.biggest_share(mean)
        total = group.latency_sum / count
        severity: Severity = (
            "error" if p95 >= budget * settings.slow_endpoint_error_factor else "warning"
        )
        machine, busy = group.machine_evidence(settings)
        fix = group.fixes[biggest].format(ms=mean[biggest], total=total)
        return Finding(
            id=self.id,
            severity=severity,
            title=(
                f"{endpoint}: p95 {p95:.0f} ms against a budget of {budget:.0f} ms, "
                f"mostly {biggest}" + (_machine.TITLE_SUFFIX if busy else "")
            ),
            endpoint=endpoint,
            location=group.location(biggest),
            evidence={
                "requests": count,
                # Those over the budget: the ones a user waited too long for.
                "requests_affected": round(group.over),
                "p50_ms": round(latencies.percentile(50), 1),
                "p95_ms": round(p95, 1),
                "p99_ms": round(latencies.percentile(99), 1),
                "budget_ms": budget,
                "db_ms": round(mean["db"], 1),
                "http_ms": round(mean["http"], 1),
                "cache_ms": round(mean["cache"], 1),
                "python_ms": round(mean["python"], 1),
                "biggest": biggest,
                "statuses": {str(k): v for k, v in group.statuses.items()},
                **machine,
            },
            fix=(_machine.FIX_PREFIX + fix) if busy else fix,
            fingerprint=finding_fingerprint(self.id, endpoint),
        )
