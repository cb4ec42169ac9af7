"""Schedule the requests in rounds, record the latencies, build the JSON result.

Fixed concurrency: ``concurrency`` workers each send the next request as soon
as their previous one is answered.  Fixed rate: request ``i`` of a round is due
at ``round start + i / rate`` and its latency is measured from that intended
time, not from when a worker got round to sending it, so a stalled app shows up
in the percentiles instead of silently slowing the load down (coordinated
omission, as wrk2 and HdrHistogram correct it).

A run is ``rounds`` rounds; each round sends its share of every endpoint's
requests and notes how busy the machine was (:mod:`perfdoctor.bench.machine`).
``perfdoctor compare`` judges on round medians (:mod:`perfdoctor.bench.verdict`).
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from perfdoctor.bench import machine
from perfdoctor.bench.spec import Endpoint
from perfdoctor.bench.targets import ASGITarget, Headers, Result
from perfdoctor.errors import UsageError

FORMAT_VERSION = 2
# Values are recorded in microseconds: 1 µs to one hour, 3 significant digits
# (HdrHistogram's usual precision: 0.1% error on any percentile).
_HDR_LOWEST_US = 1
_HDR_HIGHEST_US = 3_600_000_000
_HDR_DIGITS = 3


@dataclass
class Sample:
    endpoint: int
    latency_ms: float
    status: int | None
    trace_id: str | None
    round: int = 0
    nbytes: int | None = None


@dataclass
class Plan:
    endpoints: list[Endpoint]
    requests: int  # per endpoint
    concurrency: int
    rate: float | None  # per endpoint, requests per second
    warmup: int  # per endpoint
    rounds: int = 1
    headers: Headers = ()

    def round_jobs(self, index: int) -> list[int]:
        """Endpoint index of each request of round ``index``: one block per endpoint.

        Rounds are short, so every endpoint still sees the same conditions; within a
        block a request follows one of its own endpoint. Alternating request by
        request, an unchanged endpoint of microblog measured 9-19% slower next to a
        changed one (the one before it warmed the caches differently), and 1%
        faster alone.
        """
        per_round, extra = divmod(self.requests, self.rounds)
        count = per_round + (1 if index < extra else 0)
        if self.rate is not None:
            # At a fixed rate every endpoint gets its rate all the time: interleaved.
            return [i % len(self.endpoints) for i in range(count * len(self.endpoints))]
        return [e for e in range(len(self.endpoints)) for _ in range(count)]

    @property
    def interval(self) -> float | None:
        if self.rate is None:
            return None
        return 1.0 / (self.rate * len(self.endpoints))


@dataclass
class Outcome:
    samples: list[Sample] = field(default_factory=list)
    warmup_traces: set[str] = field(default_factory=set)
    pressure: list[float | None] = field(default_factory=list)  # per round
    other: list[float | None] = field(default_factory=list)  # per round: other processes' CPU
    canary: list[float | None] = field(default_factory=list)  # per round: machine.canary_ms
    load1: list[float | None] = field(default_factory=list)  # at start and end


Progress = Callable[[], None]
Call = Callable[[Endpoint], Result]


def require_driver() -> Any:
    """The histogram class the results are summarised with; checked before a run
    too (UsageError), so that minutes of requests are not lost to a missing package."""
    try:
        from hdrh.histogram import HdrHistogram
    except ImportError:
        raise UsageError(
            "perfdoctor bench needs hdrhistogram: pip install 'perfdoctor[bench-driver]'"
        ) from None
    return HdrHistogram


def _histogram() -> Any:
    return require_driver()(_HDR_LOWEST_US, _HDR_HIGHEST_US, _HDR_DIGITS)


def run_sync(
    plan: Plan, jobs: list[int], round_: int, call: Call, progress: Progress
) -> list[Sample]:
    """One round's requests on ``plan.concurrency`` threads (WSGI in-process, HTTP)."""
    interval = plan.interval
    lock = threading.Lock()
    next_job = [0]
    samples: list[Sample | None] = [None] * len(jobs)
    t0 = time.perf_counter()

    def worker() -> None:
        while True:
            with lock:
                i = next_job[0]
                if i >= len(jobs):
                    return
                next_job[0] += 1
            intended = None
            if interval is not None:
                intended = t0 + i * interval
                delay = intended - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            endpoint = jobs[i]
            started = time.perf_counter()
            status, trace_id, nbytes = call(plan.endpoints[endpoint])
            ended = time.perf_counter()
            origin = intended if intended is not None else started
            latency = (ended - origin) * 1000.0
            samples[i] = Sample(endpoint, latency, status, trace_id, round_, nbytes)
            progress()

    if plan.concurrency == 1:
        worker()
    else:
        threads = [threading.Thread(target=worker, daemon=True) for _ in range(plan.concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return [s for s in samples if s is not None]


async def run_async(
    plan: Plan, jobs: list[int], round_: int, target: ASGITarget, progress: Progress
) -> list[Sample]:
    """One round's requests on ``plan.concurrency`` tasks of one event loop (ASGI)."""
    interval = plan.interval
    next_job = 0
    samples: list[Sample | None] = [None] * len(jobs)
    loop = asyncio.get_running_loop()
    t0 = loop.time()

    async def worker() -> None:
        nonlocal next_job
        while next_job < len(jobs):
            i = next_job
            next_job += 1
            intended = None
            if interval is not None:
                intended = t0 + i * interval
                delay = intended - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            endpoint = jobs[i]
            started = loop.time()
            status, trace_id, nbytes = await target.call(plan.endpoints[endpoint])
            ended = loop.time()
            origin = intended if intended is not None else started
            latency = (ended - origin) * 1000.0
            samples[i] = Sample(endpoint, latency, status, trace_id, round_, nbytes)
            progress()

    await asyncio.gather(*(worker() for _ in range(plan.concurrency)))
    return [s for s in samples if s is not None]


def check_probe(endpoint: Endpoint, status: int | None, error: str = "") -> None:
    if status is None:
        raise UsageError(f"{endpoint.name} failed: {error or 'no response'}")
    if status in (404, 405):
        raise UsageError(f"{endpoint.name} answered {status}: not an endpoint of the app")


def warm_sync(plan: Plan, call: Call, warmup_traces: set[str], target: Any = None) -> None:
    # At least one request per endpoint, to refuse a wrong endpoint before measuring.
    for round_ in range(max(plan.warmup, 1)):
        for endpoint in plan.endpoints:
            status, trace_id, _ = call(endpoint)
            if round_ == 0:
                check_probe(endpoint, status, getattr(target, "last_error", ""))
            if trace_id is not None:
                warmup_traces.add(trace_id)


async def warm_async(plan: Plan, target: ASGITarget, warmup_traces: set[str]) -> None:
    for round_ in range(max(plan.warmup, 1)):
        for endpoint in plan.endpoints:
            status, trace_id, _ = await target.call(endpoint)
            if round_ == 0:
                check_probe(endpoint, status, target.last_error)
            if trace_id is not None:
                warmup_traces.add(trace_id)


def _spread(values: list[float]) -> dict[str, float] | None:
    """What every request of an endpoint did, when it is a count: min, median, max."""
    if not values:
        return None
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def summarise(
    plan: Plan,
    outcome: Outcome,
    facts: dict[str, dict[str, Any]],
    mode: str,
    settings: dict[str, Any],
    findings: list[dict[str, Any]],
) -> dict[str, Any]:
    """The result document (format version 2) that ``perfdoctor compare`` reads.

    ``facts``: per measured trace id, what the capture counted (queries, rows,
    cpu_ms, memory_kb); empty over HTTP.
    """
    endpoints: dict[str, Any] = {}
    for index, endpoint in enumerate(plan.endpoints):
        samples = sorted((s for s in outcome.samples if s.endpoint == index), key=lambda s: s.round)
        histogram = _histogram()
        for sample in samples:
            histogram.record_value(max(_HDR_LOWEST_US, round(sample.latency_ms * 1000.0)))
        errors = sum(1 for s in samples if s.status is None or s.status >= 500)
        captured = [facts[s.trace_id] for s in samples if s.trace_id in facts]
        queries = [float(f["queries"]) for f in captured]
        peaks = [float(f["memory_kb"]) for f in captured if f.get("memory_kb") is not None]
        cpu = [float(f["cpu_ms"]) for f in captured if f.get("cpu_ms") is not None]
        sizes = [0] * plan.rounds
        for sample in samples:
            sizes[sample.round] += 1

        def pct(p: float, h: Any = histogram, n: int = len(samples)) -> float:
            return round(h.get_value_at_percentile(p) / 1000.0, 3) if n else 0.0

        endpoints[endpoint.name] = {
            "requests": len(samples),
            "errors": errors,
            "latencies_ms": [round(s.latency_ms, 3) for s in samples],
            "round_sizes": sizes,
            "p50_ms": pct(50),
            "p95_ms": pct(95),
            "p99_ms": pct(99),
            "max_ms": round(histogram.get_max_value() / 1000.0, 3) if samples else 0.0,
            "queries_per_request": round(sum(queries) / len(queries), 2) if queries else None,
            "memory_peak_kb": round(sum(peaks) / len(peaks), 1) if peaks else None,
            "memory_peak_kb_max": round(max(peaks), 1) if peaks else None,
            "cpu_ms_p50": round(statistics.median(cpu), 3) if cpu else None,
            # Exact counts per request: the same code on the same data gives the same
            # numbers, so a change in them needs no statistics.
            "per_request": {
                "queries": _spread(queries),
                "rows": _spread([float(f["rows"]) for f in captured if f.get("rows") is not None]),
                "bytes": _spread([float(s.nbytes) for s in samples if s.nbytes is not None]),
            },
            "captured": len(captured),
        }
    return {
        "version": FORMAT_VERSION,
        "tool": "perfdoctor bench",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "mode": mode,
        "engine": "builtin",
        "settings": settings,
        "latency_origin": "intended start (coordinated omission corrected)"
        if plan.rate is not None
        else "send time",
        "rounds": plan.rounds,
        "machine": {
            "cpus": machine.cpus(),
            "load1": outcome.load1,
            "cpu_pressure_pct": outcome.pressure,
            "other_cpu_pct": outcome.other,
            "canary_ms": outcome.canary,
        },
        "endpoints": endpoints,
        "findings": findings,
    }


def trace_facts(traces: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """What each captured request did, as counts (see :func:`summarise`)."""
    facts = {}
    for trace in traces:
        db = [span for span in trace.spans if span.kind == "db"]
        rows = [span.rows for span in db if span.rows is not None]
        memory = trace.attrs.get("memory")
        facts[trace.id] = {
            "queries": len(db),
            "rows": sum(rows) if rows else None,
            "cpu_ms": trace.cpu_ms,
            "memory_kb": memory.get("peak_kb") if isinstance(memory, dict) else None,
        }
    return facts
