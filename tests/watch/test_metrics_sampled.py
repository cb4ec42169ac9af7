"""The Prometheus metrics of ``perfdoctor watch`` over a ``--sample-tail summary`` store."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from perfdoctor.model import Span, Trace
from perfdoctor.watch.metrics import Metrics


def _trace(n: int, queries: int, summary: bool) -> Trace:
    sample = {"rate": 0.1, "kept": "slow" if summary else "head", "seen": 1}
    if summary:
        sample["summary"] = True
    spans = [Span(kind="db", start_ms=float(i), duration_ms=1.0) for i in range(queries)]
    return Trace(f"t{n}", "GET /items", "http", 0.0, 80.0, 200, spans=spans, attrs={"sample": sample})


def test_a_summary_counts_as_a_request_but_not_as_one_without_queries() -> None:
    metrics = Metrics()
    metrics.observe([_trace(1, 9, False), _trace(2, 0, True), _trace(3, 9, False)])
    samples = {
        (s.name, s.labels.get("endpoint")): s.value
        for family in text_string_to_metric_families(generate_latest(metrics.registry).decode())
        for s in family.samples
    }
    assert samples[("perfdoctor_request_duration_seconds_count", "GET /items")] == 3
    assert samples[("perfdoctor_requests_total", "GET /items")] == 3
    # Its queries were not recorded: the histogram has the two requests that were.
    assert samples[("perfdoctor_queries_per_request_count", "GET /items")] == 2
    assert samples[("perfdoctor_queries_per_request_sum", "GET /items")] == 18


def test_a_server_process_own_trace_is_no_request() -> None:
    """gunicorn's worker leaves a trace of its own work outside requests (its
    startup's queries), as long as the process lived: not a request to count."""
    metrics = Metrics()
    process = Trace("p1", "gunicorn", "server", 0.0, 122_000.0, None)
    metrics.observe([_trace(1, 9, False), process])
    samples = {
        (s.name, s.labels.get("endpoint"))
        for family in text_string_to_metric_families(generate_latest(metrics.registry).decode())
        for s in family.samples
    }
    assert ("perfdoctor_requests_total", "GET /items") in samples
    assert not any(endpoint == "gunicorn" for _, endpoint in samples)
