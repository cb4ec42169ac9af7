"""Schedule the requests, record the latencies, build the JSON result.

Fixed concurrency: ``concurrency`` workers each send the next request as soon
as their previous one is answered.  Fixed rate: request ``i`` is due at
``start + i / rate`` and its latency is measured from that intended time, not
from when a worker got round to sending it, so a stalled app shows up in the
percentiles instead of silently slowing the load down (coordinated omission,
as wrk2 and HdrHistogram correct it).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from perfdoctor.bench.spec import Endpoint
from perfdoctor.bench.targets import ASGITarget, HTTPTarget, Result, WSGITarget
from perfdoctor.errors import UsageError

FORMAT_VERSION = 1
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


@dataclass
class Plan:
    endpoints: list[Endpoint]
    requests: int  # per endpoint
    concurrency: int
    rate: float | None  # per endpoint, requests per second
    warmup: int  # per endpoint

    @property
    def jobs(self) -> list[int]:
        """Endpoint index of each measured request, interleaved so every endpoint
        sees the same conditions over the run."""
        return [i % len(self.endpoints) for i in range(self.requests * len(self.endpoints))]

    @property
    def interval(self) -> float | None:
        if self.rate is None:
            return None
        return 1.0 / (self.rate * len(self.endpoints))


@dataclass
class Outcome:
    samples: list[Sample] = field(default_factory=list)
    warmup_traces: set[str] = field(default_factory=set)


Progress = Callable[[], None]


def _histogram() -> Any:
    try:
        from hdrh.histogram import HdrHistogram
    except ImportError:
        raise UsageError(
            "perfdoctor bench needs hdrhistogram: pip install 'perfdoctor[bench-driver]'"
        ) from None
    return HdrHistogram(_HDR_LOWEST_US, _HDR_HIGHEST_US, _HDR_DIGITS)


def run_sync(
    plan: Plan, call: Callable[[Endpoint], Result], progress: Progress, outcome: Outcome
) -> None:
    """Measured requests on ``plan.concurrency`` threads (WSGI in-process, HTTP)."""
    jobs = plan.jobs
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
            status, trace_id = call(plan.endpoints[endpoint])
            ended = time.perf_counter()
            origin = intended if intended is not None else started
            samples[i] = Sample(endpoint, (ended - origin) * 1000.0, status, trace_id)
            progress()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(plan.concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcome.samples = [s for s in samples if s is not None]


async def run_async(plan: Plan, target: ASGITarget, progress: Progress, outcome: Outcome) -> None:
    """Measured requests on ``plan.concurrency`` tasks of one event loop (ASGI in-process)."""
    jobs = plan.jobs
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
            status, trace_id = await target.call(plan.endpoints[endpoint])
            ended = loop.time()
            origin = intended if intended is not None else started
            samples[i] = Sample(endpoint, (ended - origin) * 1000.0, status, trace_id)
            progress()

    await asyncio.gather(*(worker() for _ in range(plan.concurrency)))
    outcome.samples = [s for s in samples if s is not None]


def _check_probe(endpoint: Endpoint, status: int | None, error: str = "") -> None:
    if status is None:
        raise UsageError(f"{endpoint.name} failed: {error or 'no response'}")
    if status in (404, 405):
        raise UsageError(f"{endpoint.name} answered {status}: not an endpoint of the app")


def _warm_sync(
    plan: Plan, call: Callable[[Endpoint], Result], outcome: Outcome, target: Any = None
) -> None:
    # At least one request per endpoint, to refuse a wrong endpoint before measuring.
    for round_ in range(max(plan.warmup, 1)):
        for endpoint in plan.endpoints:
            status, trace_id = call(endpoint)
            if round_ == 0:
                _check_probe(endpoint, status, getattr(target, "last_error", ""))
            if trace_id is not None:
                outcome.warmup_traces.add(trace_id)


async def _warm_async(plan: Plan, target: ASGITarget, outcome: Outcome) -> None:
    for round_ in range(max(plan.warmup, 1)):
        for endpoint in plan.endpoints:
            status, trace_id = await target.call(endpoint)
            if round_ == 0:
                _check_probe(endpoint, status, target.last_error)
            if trace_id is not None:
                outcome.warmup_traces.add(trace_id)


def drive_http(plan: Plan, target: HTTPTarget, progress: Progress) -> Outcome:
    outcome = Outcome()
    for endpoint in plan.endpoints:
        _check_probe(endpoint, target.probe(endpoint))
    _warm_sync(plan, target.call, outcome)
    run_sync(plan, target.call, progress, outcome)
    return outcome


def drive_inprocess(
    plan: Plan, app: Any, progress: Progress, traces: Path, memory: bool
) -> tuple[Outcome, list[Any]]:
    """Call ``app`` under capture; returns the outcome and the measured requests' traces."""
    import perfdoctor
    from perfdoctor import store
    from perfdoctor.bench.targets import is_asgi, watch_traces

    perfdoctor.instrument(traces, memory=memory)
    undo = watch_traces()
    outcome = Outcome()
    try:
        if is_asgi(app):
            asgi = ASGITarget(app)

            async def main() -> None:
                await asgi.startup()
                try:
                    _, trace_id = await asgi.call(plan.endpoints[0])
                    if trace_id is None:
                        asgi.wrap_if_untraced()
                    await _warm_async(plan, asgi, outcome)
                    await run_async(plan, asgi, progress, outcome)
                finally:
                    await asgi.shutdown()

            asyncio.run(main())
        else:
            wsgi = WSGITarget(app)
            if wsgi.call(plan.endpoints[0])[1] is None:
                wsgi.wrap_if_untraced()
            _warm_sync(plan, wsgi.call, outcome, wsgi)
            run_sync(plan, wsgi.call, progress, outcome)
    finally:
        undo()
        perfdoctor.uninstrument()
    wanted = {s.trace_id for s in outcome.samples if s.trace_id is not None}
    measured = [t for t in store.load_traces(traces) if t.id in wanted] if wanted else []
    return outcome, measured


def summarise(
    plan: Plan,
    outcome: Outcome,
    traces: Sequence[Any],
    mode: str,
    settings: dict[str, Any],
    findings: list[dict[str, Any]],
) -> dict[str, Any]:
    """The result document (format version 1) that ``perfdoctor compare`` reads."""
    by_id = {t.id: t for t in traces}
    endpoints: dict[str, Any] = {}
    for index, endpoint in enumerate(plan.endpoints):
        samples = [s for s in outcome.samples if s.endpoint == index]
        histogram = _histogram()
        for sample in samples:
            histogram.record_value(max(_HDR_LOWEST_US, round(sample.latency_ms * 1000.0)))
        errors = sum(1 for s in samples if s.status is None or s.status >= 500)
        captured = [by_id[s.trace_id] for s in samples if s.trace_id in by_id]
        queries = [sum(1 for span in t.spans if span.kind == "db") for t in captured]
        peaks = [
            float(t.attrs["memory"]["peak_kb"])
            for t in captured
            if isinstance(t.attrs.get("memory"), dict) and "peak_kb" in t.attrs["memory"]
        ]

        def pct(p: float, h: Any = histogram, n: int = len(samples)) -> float:
            return round(h.get_value_at_percentile(p) / 1000.0, 3) if n else 0.0

        endpoints[endpoint.name] = {
            "requests": len(samples),
            "errors": errors,
            "latencies_ms": [round(s.latency_ms, 3) for s in samples],
            "p50_ms": pct(50),
            "p95_ms": pct(95),
            "p99_ms": pct(99),
            "max_ms": round(histogram.get_max_value() / 1000.0, 3) if samples else 0.0,
            "queries_per_request": round(sum(queries) / len(queries), 2) if queries else None,
            "memory_peak_kb": round(sum(peaks) / len(peaks), 1) if peaks else None,
            "memory_peak_kb_max": round(max(peaks), 1) if peaks else None,
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
        "endpoints": endpoints,
        "findings": findings,
    }


def bench(
    plan: Plan,
    *,
    app: Any = None,
    url: str | None = None,
    memory: bool = False,
    progress: Progress,
    settings: dict[str, Any],
) -> dict[str, Any]:
    """Drive ``app`` in-process, or the server at ``url``; returns the result document."""
    if url is not None:
        outcome = drive_http(plan, HTTPTarget(url), progress)
        return summarise(plan, outcome, [], "http", settings, [])
    from perfdoctor.analyze import analyze
    from perfdoctor.settings import load_settings

    workdir = Path(tempfile.mkdtemp(prefix="perfdoctor-bench-"))
    try:
        outcome, traces = drive_inprocess(plan, app, progress, workdir / "traces.db", memory)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    findings = [f.to_dict() for f in analyze(traces, load_settings()).findings] if traces else []
    return summarise(plan, outcome, traces, "inprocess", settings, findings)
