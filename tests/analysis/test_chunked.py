"""A store analysed chunk by chunk gives the report a whole read gives.

The store is written by the real writer; ``report`` reads it one endpoint at a
time, ``analysis_chunk_traces`` traces at a time.  What must not change with
the chunk size: the findings (with their counts across chunks), the endpoint
figures, the budgets; and no chunk may outlive the next ones (memory bounded by
a chunk, not by the store).
"""

from __future__ import annotations

import gc
import json
import statistics
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from perfdoctor import store
from perfdoctor.analysis.analyze import Analysis, analyze_chunks
from perfdoctor.model import Location, Span, Trace
from perfdoctor.report import json_report
from perfdoctor.settings import Settings
from perfdoctor.store import chunks
from tests.conftest import run_perfdoctor

APP = "/srv/shop"
LIST = Location(f"{APP}/views.py", 20, "items")
LOOP = Location(f"{APP}/models.py", 41, "owner")
CONNECT = Location(f"{APP}/db.py", 7, "connect")
WEBHOOK = Location(f"{APP}/hooks.py", 12, "notify")
REPORT = Location(f"{APP}/reports.py", 30, "build")
PRICES = Location(f"{APP}/prices.py", 9, "rates")
SETTINGS_ROW = Location(f"{APP}/config.py", 5, "load")
HANDLER = {"path": f"{APP}/views.py", "line": 18, "function": "items"}


def _db(sql: str, at: float, ms: float, where: Location, params: str, rows: int = 1) -> Span:
    from perfdoctor.fingerprint import normalize

    shape = normalize(sql)
    return Span(
        kind="db",
        start_ms=at,
        duration_ms=ms,
        location=where,
        stack=[where, LIST],
        framework="sqlalchemy",
        system="postgresql",
        statement=shape.statement,
        fingerprint=shape.fingerprint,
        params_digest=params,
        rows=rows,
        connection_id=1,
    )


def items(i: int) -> Trace:
    """An N+1 over 6 rows, a slow report query every 4th request, a new connection,
    the same cached-worthy settings read, and an unpaged list with no cache headers."""
    spans = [
        Span(
            kind="db.connect",
            start_ms=0.1,
            duration_ms=2.0,
            location=CONNECT,
            stack=[CONNECT],
            system="postgresql",
            connection_id=1,
        ),
        _db("SELECT * FROM settings WHERE site = 1", 2.5, 12.0 + i % 3, SETTINGS_ROW, "same"),
        _db("SELECT * FROM items LIMIT 6", 15.0, 1.0, LIST, f"l{i}", rows=6),
    ]
    at = 17.0
    for row in range(6):
        spans.append(_db(f"SELECT * FROM owners WHERE id = {row}", at, 0.5, LOOP, f"o{row}"))
        at += 1.0
    if i % 4 == 0:
        spans.append(
            _db(f"SELECT sum(total) FROM orders WHERE day > {i}", at, 600.0 + i, REPORT, f"r{i}")
        )
        at += 610.0 + i
    return Trace(
        id=f"items-{i:04d}",
        name="GET /items",
        kind="http",
        started_at=1_700_000_000.0 + i,
        duration_ms=at + 2.0,
        status=200,
        cpu_ms=at / 2,
        spans=spans,
        attrs={
            "framework": "flask",
            "handler": HANDLER,
            "response": {"bytes": 40_000, "items": 500, "body_digest": "b1"},
            "response_headers": {"content-type": "application/json"},
            "machine": {"load1": 4.0 if i % 2 else 0.5, "cpus": 2},
        },
    )


def order(i: int) -> Trace:
    """A POST that waits on a webhook whose answer it does not need, and a GET of
    the same exchange rates with the same answer."""
    spans = [
        Span(
            kind="http",
            start_ms=1.0,
            duration_ms=400.0 + i,
            location=WEBHOOK,
            stack=[WEBHOOK],
            system="requests",
            attrs={
                "method": "POST",
                "url": "https://hooks.example/n",
                "host": "hooks.example",
                "status": 202,
                "bytes": 0,
                "timeout": 5,
            },
        ),
        Span(
            kind="http",
            start_ms=402.0 + i,
            duration_ms=30.0,
            location=PRICES,
            stack=[PRICES],
            system="requests",
            attrs={
                "method": "GET",
                "url": "https://rates.example/eur",
                "host": "rates.example",
                "status": 200,
                "bytes": 300,
                "url_digest": "u1",
                "response_digest": "r1",
                "timeout": 5,
            },
        ),
    ]
    return Trace(
        id=f"order-{i:04d}",
        name="POST /orders",
        kind="http",
        started_at=1_700_000_000.5 + i,
        duration_ms=440.0 + i,
        status=201,
        spans=spans,
        attrs={"framework": "flask", "handler": {**HANDLER, "function": "order"}},
    )


def slow_job(i: int) -> Trace:
    return Trace(
        id=f"job-{i:04d}",
        name="task shop.tasks.rebuild",
        kind="job",
        started_at=1_700_000_000.7 + i * 3,
        duration_ms=45_000.0 + i,
        status=None,
        spans=[_db("SELECT * FROM items", 1.0, 30.0, REPORT, "all", rows=5000)],
    )


def server(i: int) -> Trace:
    return Trace(
        id=f"server-{i}",
        name="server start",
        kind="server",
        started_at=1_699_999_999.0 + i,
        duration_ms=5.0,
        spans=[_db("SELECT 1", 0.5, 0.2, CONNECT, "one")],
    )


def all_traces(requests: int = 23) -> list[Trace]:
    traces = [server(0)]
    traces += [items(i) for i in range(requests)]
    traces += [order(i) for i in range(11)]
    traces += [slow_job(i) for i in range(3)]
    return traces


@pytest.fixture
def shop_store(tmp_path: Path) -> Path:
    path = tmp_path / "traces.db"
    conn = store.open_for_writing(path)
    traces = all_traces()
    for start in range(0, len(traces), 7):  # several batches, as the recorder writes
        store.write_traces(conn, traces[start : start + 7])
    conn.close()
    return path


def report_of(analysis: Analysis) -> dict[str, Any]:
    import io

    out = io.StringIO()
    json_report.render(analysis, out)
    data: dict[str, Any] = json.loads(out.getvalue())
    data.pop("generated", None)
    return data


def by_id(report: dict[str, Any], detector: str) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["id"] == detector]


def test_chunks_of_any_size_give_the_report_of_one_piece(shop_store: Path) -> None:
    settings = Settings()
    whole = store.read_traces(shop_store)
    # One piece: every trace in one chunk, in start order, endpoints interleaved.
    expected = report_of(analyze_chunks([whole.traces], settings))
    for size in (1, 4, 500):
        reading = chunks.read(shop_store, size)
        assert report_of(analyze_chunks(reading.chunks(), settings)) == expected, size
    # What the store holds shows up: the detectors read every chunk.
    found = {f["id"] for f in expected["findings"]}
    assert {
        "n-plus-one-query",
        "slow-query",
        "slow-endpoint",
        "cache-candidate",
        "no-connection-reuse",
        "missing-pagination",
        "missing-http-cache",
        "background-job-candidate",
        "uncached-external",
    } <= found


def test_counts_stay_right_across_chunks(shop_store: Path) -> None:
    reading = chunks.read(shop_store, 4)  # 23 requests of GET /items: 6 chunks
    analysis = analyze_chunks(reading.chunks(), Settings())
    assert analysis.traces == reading.traces == 1 + 23 + 11 + 3
    report = report_of(analysis)
    (n_plus_one,) = by_id(report, "n-plus-one-query")
    assert n_plus_one["evidence"]["requests_affected"] == 23
    (slow,) = by_id(report, "slow-query")
    assert slow["evidence"]["runs"] == 6  # i = 0, 4, ..., 20
    (cached,) = [f for f in by_id(report, "cache-candidate") if f["endpoint"] == "GET /items"]
    assert cached["evidence"]["requests_affected"] == 23
    assert cached["evidence"]["runs"] == 23
    (reuse,) = by_id(report, "no-connection-reuse")
    assert reuse["evidence"]["requests"] == 23
    assert reuse["evidence"]["requests_with_connect"] == 23
    # The requests that showed it, not the one finding the detector made.
    assert reuse["evidence"]["requests_affected"] == 23
    (external,) = by_id(report, "uncached-external")
    assert external["evidence"]["calls"] == 11
    (slow_items,) = [f for f in by_id(report, "slow-endpoint") if f["endpoint"] == "GET /items"]
    assert slow_items["evidence"]["requests"] == 23
    assert slow_items["evidence"]["machine"]["samples"] == 23
    endpoints = {e["name"]: e for e in report["endpoints"]}
    assert endpoints["GET /items"]["requests"] == 23
    assert "server start" not in endpoints
    # A trace that shows each per-request finding is named, and is in the store.
    ids = {t.id for t in store.read_traces(shop_store).traces}
    assert n_plus_one["trace_id"] in ids


def test_endpoint_figures_are_exact_percentiles_and_means(shop_store: Path) -> None:
    reading = chunks.read(shop_store, 3)
    report = report_of(analyze_chunks(reading.chunks(), Settings()))
    figures = {e["name"]: e for e in report["endpoints"]}["GET /items"]
    latencies = [t.duration_ms for t in all_traces() if t.name == "GET /items"]
    # Linear interpolation between closest ranks, numpy's default.
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    assert figures["p50_ms"] == round(cuts[49], 2)
    assert figures["p95_ms"] == round(cuts[94], 2)
    assert figures["p99_ms"] == round(cuts[98], 2)
    assert figures["queries_per_request"] == round(
        sum(
            sum(1 for s in t.spans if s.kind == "db")
            for t in all_traces()
            if t.name == "GET /items"
        )
        / 23,
        2,
    )


def test_a_store_is_read_one_endpoint_and_a_few_traces_at_a_time(shop_store: Path) -> None:
    reading = chunks.read(shop_store, 5)
    seen = [(len(chunk), {t.name for t in chunk}) for chunk in reading.chunks()]
    assert all(size <= 5 and len(names) == 1 for size, names in seen)
    # Endpoints in the order of their first trace, each one's traces together.
    order = [next(iter(names)) for _, names in seen]
    assert order == ["server start"] + ["GET /items"] * 5 + ["POST /orders"] * 3 + [
        "task shop.tasks.rebuild"
    ]
    assert reading.traces == 38


def test_no_chunk_outlives_the_next_ones(shop_store: Path) -> None:
    """What the detectors and summaries keep is not the traces: once a later chunk
    is read, an earlier one's traces are gone."""
    alive: list[list[weakref.ref[Trace]]] = []
    most = 0

    def watched() -> Iterator[list[Trace]]:
        nonlocal most
        for chunk in chunks.read(shop_store, 3).chunks():
            gc.collect()
            living = sum(1 for refs in alive for ref in refs if ref() is not None)
            most = max(most, living)
            alive.append([weakref.ref(t) for t in chunk])
            yield chunk

    analysis = analyze_chunks(watched(), Settings())
    assert analysis.traces == 38
    assert len(alive) > 10
    # The chunk being analysed and the one before it (still named by the loop).
    assert most <= 6


def test_report_reads_in_chunks_and_prints_the_same(shop_store: Path, tmp_path: Path) -> None:
    default = run_perfdoctor(
        "report", "--traces", str(shop_store), "--format", "json", cwd=tmp_path
    )
    small = tmp_path / "small"
    small.mkdir()
    (small / "pyproject.toml").write_text("[tool.perfdoctor]\nanalysis_chunk_traces = 2\n")
    chunked = run_perfdoctor("report", "--traces", str(shop_store), "--format", "json", cwd=small)
    assert default.returncode == chunked.returncode == 0, default.stderr + chunked.stderr
    first, second = json.loads(default.stdout), json.loads(chunked.stdout)
    first.pop("generated", None)
    second.pop("generated", None)
    assert first == second
    assert first["findings"]


def test_sampled_counts_are_out_of_every_request_seen(tmp_path: Path) -> None:
    path = tmp_path / "sampled.db"
    conn = store.open_for_writing(path)
    traces = [items(i) for i in range(10)]
    for trace in traces:
        trace.attrs["sample"] = {"rate": 0.1, "kept": "head"}
    batch = store.batch_of(traces)
    batch.sampling.append(("GET /items", 100, 10))
    store.write_batch(conn, batch)
    conn.close()
    result = run_perfdoctor("report", "--traces", str(path), "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    (n_plus_one,) = by_id(report, "n-plus-one-query")
    assert n_plus_one["evidence"]["requests_affected"] == 10
    assert n_plus_one["evidence"]["sampled"] == "seen in 10 of ~100 requests"
    assert {e["name"]: e for e in report["endpoints"]}["GET /items"]["requests"] == 100
