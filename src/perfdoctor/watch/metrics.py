"""``--metrics``: the window's figures for Prometheus, with the official client.

Histograms and counters take each trace once, when a pass first reads it, so
Prometheus's ``rate()`` and ``histogram_quantile()`` work on them as on any
exporter's; the findings and alerts are gauges of the current window.

A trace of a sampled run (``run --sample``) counts as the requests it stands
for (:func:`perfdoctor.analysis.sampling.weight`: 20 at a rate of 0.05, one
for a slow or failed request, which is always kept), so the request rate is
the app's and the latency quantiles are not pulled up by the slow requests
the tail rule keeps.  A weight that is not whole is carried over per endpoint
(a rate of 0.03: 33, 33, 34, ...).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from perfdoctor.analysis import sampling, timing
from perfdoctor.errors import UsageError
from perfdoctor.model import SERVER_KIND, Finding, Trace
from perfdoctor.watch.problems import Problem

# Seconds: from a cache hit to a request that timed out behind a proxy.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Queries: one or two is a healthy endpoint, tens an N+1 on a page, hundreds a big one.
_QUERY_BUCKETS = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500)


def _client() -> Any:
    try:
        import prometheus_client
    except ImportError:
        raise UsageError(
            "--metrics needs the Prometheus client: pip install 'perfdoctor[watch]'"
        ) from None
    return prometheus_client


class Metrics:
    def __init__(self) -> None:
        client = _client()
        self._client = client
        self.registry = client.CollectorRegistry()
        self.latency = client.Histogram(
            "perfdoctor_request_duration_seconds",
            "Request latency per endpoint, from the captured traces.",
            ["endpoint"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queries = client.Histogram(
            "perfdoctor_queries_per_request",
            "Database queries per request, per endpoint.",
            ["endpoint"],
            buckets=_QUERY_BUCKETS,
            registry=self.registry,
        )
        self.requests = client.Counter(
            "perfdoctor_requests",
            "Requests captured, per endpoint.",
            ["endpoint"],
            registry=self.registry,
        )
        self.errors = client.Counter(
            "perfdoctor_request_errors",
            "Requests answered with a 5xx status, per endpoint.",
            ["endpoint"],
            registry=self.registry,
        )
        self.findings = client.Gauge(
            "perfdoctor_findings",
            "Findings in the current window, by detector id.",
            ["id"],
            registry=self.registry,
        )
        self.alerts = client.Gauge(
            "perfdoctor_alerts_active",
            "Problems alerting in the current window, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self._server: Any = None
        # Per endpoint, the part of a request the weights so far left over.
        self._carried: dict[str, float] = {}

    def observe(self, fresh: Sequence[Trace]) -> None:
        for trace in fresh:
            if trace.kind == SERVER_KIND:
                # A server process's own work outside requests, over its whole life
                # (gunicorn's 2-minute trace on the bakery demo): no request.
                continue
            times = self._requests(trace)
            if not times:
                continue
            latency = self.latency.labels(trace.name)
            seconds = timing.latency_ms(trace) / 1000
            for _ in range(times):
                latency.observe(seconds)
            if sampling.has_detail(trace):  # a summary's queries were not recorded
                queries = self.queries.labels(trace.name)
                count = sum(1 for s in trace.spans if s.kind == "db")
                for _ in range(times):
                    queries.observe(count)
            self.requests.labels(trace.name).inc(times)
            if (trace.status or 0) >= 500:
                self.errors.labels(trace.name).inc(times)

    def _requests(self, trace: Trace) -> int:
        """How many requests ``trace`` counts for, whole."""
        carried = self._carried.get(trace.name, 0.0) + sampling.weight(trace)
        times = int(carried)
        self._carried[trace.name] = carried - times
        return times

    def judge(self, findings: Sequence[Finding], problems: Sequence[Problem]) -> None:
        self.findings.clear()
        for detector, count in Counter(f.id for f in findings).items():
            self.findings.labels(detector).set(count)
        self.alerts.clear()
        for kind, count in Counter(p.kind for p in problems).items():
            self.alerts.labels(kind).set(count)

    def serve(self, host: str, port: int) -> int:
        """Serve /metrics; the port it listens on (``port`` 0: a free one)."""
        self._server, _ = self._client.start_http_server(port, addr=host, registry=self.registry)
        return int(self._server.server_address[1])

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
