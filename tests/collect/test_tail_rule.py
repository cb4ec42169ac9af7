"""`perfdoctor collect --sample`: the tail rule in the receiver, fed by the
OpenTelemetry SDK's own exporter.  The draw is the trace id's, so which traces
are kept is known here exactly."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Tracer

from tests.collect.receiver import Receiver
from tests.conftest import report_json
from tests.otlp.otlp_lines import request, span

RATE = 0.25
BUDGETS = '[tool.perfdoctor.budgets]\n"GET /cart" = { p95_ms = 50 }\n'


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    started = Receiver(
        tmp_path,
        settings="sample_slow_ms = 300\ncollect_hold_s = 0.5",
        options=("--sample", str(RATE)),
        pyproject_tail=BUDGETS,
    )
    yield started
    started.kill()


def drawn(trace_id: int) -> bool:
    """OpenTelemetry's TraceIdRatioBased: the lower 64 bits under rate x 2^64."""
    return trace_id & (2**64 - 1) < round(RATE * 2**64)


def one_request(tracer: Tracer, route: str, ms: float, status: int) -> str:
    start = time.time_ns()
    attrs = {"http.request.method": "GET", "http.route": route}
    root = tracer.start_span(
        f"GET {route}", kind=SpanKind.SERVER, attributes=attrs, start_time=start
    )
    child = tracer.start_span(
        "SELECT",
        kind=SpanKind.CLIENT,
        attributes={"db.system.name": "postgresql", "db.query.text": "SELECT 1"},
        start_time=start + 1_000_000,
        context=_context(root),
    )
    child.end(end_time=start + 2_000_000)
    root.set_attribute("http.response.status_code", status)
    root.end(end_time=start + int(ms * 1e6))
    return f"{root.get_span_context().trace_id:032x}"


def _context(parent: object) -> object:
    from opentelemetry import trace

    return trace.set_span_in_context(parent)  # type: ignore[arg-type]


def test_kept_are_the_drawn_the_slow_and_the_failed_and_every_request_is_counted(
    receiver: Receiver,
) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=receiver.url)))
    tracer = provider.get_tracer("shop")
    fast = [one_request(tracer, "/articles", 5, 200) for _ in range(80)]
    slow = [one_request(tracer, "/articles", 400, 200) for _ in range(4)]
    failed = [one_request(tracer, "/articles", 5, 503) for _ in range(3)]
    # Under the global 300 ms but over its own p95 budget of 50 ms.
    over_budget = [one_request(tracer, "/cart", 80, 200) for _ in range(5)]
    cart_fast = [one_request(tracer, "/cart", 10, 200) for _ in range(20)]
    assert provider.force_flush(30_000)
    provider.shutdown()
    # An endpoint none of whose requests is kept: its rate is the run's all the same.
    for n in range(3):
        trace = f"{n:016x}" + "f" * 16  # lower 64 bits all ones: never drawn
        health = {"http.request.method": "GET", "http.route": "/health"}
        root = span("1" * 16, "GET /health", 2, 0, 1, health, parent=None, trace=trace)
        assert receiver.post_json(request([root])) == 200
    code, out, err = receiver.stop()
    assert (code, err) == (0, "")

    expected = {t for t in fast + cart_fast if drawn(int(t, 16))}
    expected |= set(slow + failed + over_budget)
    # Neither none nor all of the draws: the rule is the trace id's, not a coin's.
    assert 0 < len(expected - set(slow + failed + over_budget)) < 100
    with sqlite3.connect(receiver.store) as conn:
        stored = {row[0] for row in conn.execute("SELECT id FROM traces")}
        counts = dict(
            (name, (seen, kept))
            for name, seen, kept in conn.execute("SELECT name, seen, kept FROM sampling")
        )
    assert stored == expected
    kept_articles = len([t for t in fast if drawn(int(t, 16))]) + 4 + 3
    assert counts["GET /articles"] == (87, kept_articles)
    assert counts["GET /cart"] == (25, len(expected & set(over_budget + cart_fast)))
    assert f"kept {len(expected)} of 115 traces seen" in out

    report = report_json(receiver.store)
    sampled = report["sampled"]["GET /articles"]
    assert (sampled["seen"], sampled["kept"], sampled["rate"]) == (87, kept_articles, RATE)
    assert report["sampled"]["GET /health"] == {"seen": 3, "kept": 0, "rate": RATE}


def test_spans_that_come_after_their_trace_was_dropped_are_dropped_too(
    receiver: Receiver,
) -> None:
    # The lower 64 bits all ones: no draw keeps it.
    trace = "ab" * 8 + "f" * 16
    root = "1" * 16
    attrs = {"http.request.method": "GET", "http.route": "/articles"}
    first = [
        span(root, "GET /articles", 2, 0, 5, attrs, parent=None, trace=trace),
        span("2" * 16, "SELECT", 3, 1, 1, {"db.query.text": "SELECT 1"}, root, trace),
    ]
    assert receiver.post_json(request(first)) == 200
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not _counted(receiver.store):
        time.sleep(0.1)
    assert _counted(receiver.store) == (1, 0)
    late = [span("3" * 16, "SELECT", 3, 2, 1, {"db.query.text": "SELECT 2"}, root, trace)]
    assert receiver.post_json(request(late)) == 200
    code, out, _ = receiver.stop()
    assert code == 0 and "kept 0 of 1 traces seen" in out
    with sqlite3.connect(receiver.store) as conn:
        assert conn.execute("SELECT count(*) FROM traces").fetchone() == (0,)
    assert _counted(receiver.store) == (1, 0)


def _counted(store: Path) -> tuple[int, int] | None:
    try:
        with sqlite3.connect(store) as conn:
            row = conn.execute(
                "SELECT seen, kept FROM sampling WHERE name = 'GET /articles'"
            ).fetchone()
    except sqlite3.Error:
        return None
    return None if row is None else (row[0], row[1])
