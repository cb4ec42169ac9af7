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


def _samples(metrics: Metrics) -> dict[tuple[str, str | None], float]:
    return {
        (s.name, s.labels.get("le") or s.labels.get("endpoint")): s.value
        for family in text_string_to_metric_families(generate_latest(metrics.registry).decode())
        for s in family.samples
    }


def test_a_summary_counts_as_a_request_but_not_as_one_without_queries() -> None:
    metrics = Metrics()
    metrics.observe([_trace(1, 9, False), _trace(2, 0, True), _trace(3, 9, False)])
    samples = _samples(metrics)
    # Two drawn at a rate of 0.1 stand for ten requests each; the slow one for itself.
    assert samples[("perfdoctor_request_duration_seconds_count", "GET /items")] == 21
    assert samples[("perfdoctor_requests_total", "GET /items")] == 21
    # Its queries were not recorded: the histogram has the requests that were.
    assert samples[("perfdoctor_queries_per_request_count", "GET /items")] == 20
    assert samples[("perfdoctor_queries_per_request_sum", "GET /items")] == 180


def _request(n: int, ms: float, kept: str, rate: float, status: int = 200) -> Trace:
    return Trace(
        f"r{n}", "GET /page", "http", float(n), ms, status,
        attrs={"sample": {"rate": rate, "kept": kept}},
    )  # fmt: skip


def test_sampled_requests_count_as_the_requests_they_stand_for() -> None:
    """Seen on a real CMS under ``run --sample 0.05``: 35 kept traces of 613
    requests were exported as 35 requests, and the two slow first requests of
    the workers, always kept, were 6% of the histogram."""
    metrics = Metrics()
    drawn = [_request(n, 50.0, "head", 0.05) for n in range(30)]
    slow = [_request(100 + n, 3000.0, "slow", 0.05) for n in range(2)]
    failed = [_request(200, 40.0, "error", 0.05, status=500)]
    metrics.observe([*drawn[:15], *slow, *failed, *drawn[15:]])
    samples = _samples(metrics)
    assert samples[("perfdoctor_requests_total", "GET /page")] == 30 * 20 + 2 + 1
    assert samples[("perfdoctor_request_errors_total", "GET /page")] == 1
    count = samples[("perfdoctor_request_duration_seconds_count", "GET /page")]
    assert count == 603
    # Under 0.1 s: all but the two slow ones, so histogram_quantile(0.95) is fast.
    assert samples[("perfdoctor_request_duration_seconds_bucket", "0.1")] == 601
    assert samples[("perfdoctor_request_duration_seconds_bucket", "0.1")] / count > 0.95


def test_a_weight_that_is_not_whole_is_carried_over() -> None:
    metrics = Metrics()
    metrics.observe([_request(n, 50.0, "head", 0.03) for n in range(3)])
    # 33.3 each: 33, 33, 34.
    assert _samples(metrics)[("perfdoctor_requests_total", "GET /page")] == 100


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
