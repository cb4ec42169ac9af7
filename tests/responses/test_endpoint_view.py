"""The endpoint view: latency percentiles and where the time went, in text and JSON."""

from __future__ import annotations

import json
import time
from pathlib import Path

from rich.console import Console

import perfdoctor
from perfdoctor.analysis.analyze import analyze
from perfdoctor.analysis.timing import breakdown, covered_ms, latency_ms
from perfdoctor.model import Span, Trace
from perfdoctor.report import json_report, text
from perfdoctor.settings import Settings
from tests.inprocess import blog_db, capturing, load


def _capture(traces: Path) -> None:
    with capturing(traces):
        conn = blog_db()
        conn.create_function("pause", 1, lambda ms: time.sleep(ms / 1000.0) or ms)
        for _ in range(4):
            with perfdoctor.trace("GET /authors/{id}/articles/with-a-long-name", "http"):
                conn.execute("SELECT pause(20)").fetchall()
                conn.execute("SELECT * FROM article").fetchall()
                time.sleep(0.03)


def test_endpoint_stats_split_the_time(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    _capture(traces)
    [endpoint] = analyze(load(traces), Settings()).endpoints
    assert endpoint.requests == 4
    assert endpoint.queries_per_request == 2
    assert endpoint.db_ms >= 20
    assert endpoint.python_ms >= 30
    assert endpoint.http_ms == 0 and endpoint.cache_ms == 0
    assert endpoint.p50_ms <= endpoint.p95_ms <= endpoint.p99_ms
    assert endpoint.db_ms + endpoint.python_ms <= endpoint.p99_ms + 0.01


def test_json_keeps_version_1_fields_and_adds_the_split(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    _capture(traces)
    data = json.loads(json.dumps(json_report.to_dict(analyze(load(traces), Settings()))))
    assert data["version"] == 1
    [endpoint] = data["endpoints"]
    assert set(endpoint) == {
        "name",
        "requests",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "queries_per_request",
        "db_ms",
        "http_ms",
        "cache_ms",
        "python_ms",
    }
    assert endpoint["python_ms"] >= 30


def test_the_text_table_fits_100_columns(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    _capture(traces)
    analysis = analyze(load(traces), Settings())
    console = Console(width=100, record=True, highlight=False)
    table, dropped = text._endpoint_table(analysis, console)
    console.print(table)
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 100
    header = next(line for line in lines if "endpoint" in line)
    # The name needs room: a column with nothing but zeros in it goes first.
    assert dropped == ["cache"]
    for column in ("reqs", "p50", "p95", "p99", "q/req", "db", "http", "python"):
        assert column in header
    # The endpoint and all its numbers on one line, its name cut in the middle.
    [row] = [line for line in lines if line.startswith("GET ")]
    assert row.startswith("GET …/") and "with-a-long-name" in row
    assert len(row.split()) == 11


def test_overlapping_spans_are_counted_once() -> None:
    spans = [
        Span("db", 10, 30),  # 10-40
        Span("db", 20, 10),  # inside the first (asyncio.gather)
        Span("http", 50, 20),
        Span("http", 95, 20),  # runs past the response: clipped at 100
    ]
    trace = Trace("t", "GET /x", "http", 0, 120, spans=spans, attrs={"response_ms": 100})
    assert latency_ms(trace) == 100
    assert breakdown(trace) == {"db": 30, "http": 25, "cache": 0, "python": 45}
    assert covered_ms([]) == 0
