"""THE test: an app instrumented with the OpenTelemetry SDK alone, its OTLP JSON imported.

``otel_app.py`` runs under plain ``python`` (not ``perfdoctor run``): Flask,
sqlite3 and requests instrumented by OpenTelemetry's own packages, spans written
by the official ``opentelemetry-exporter-otlp-json-file``.  It is driven over
real HTTP on 127.0.0.1, shut down so the exporter flushes, and its file goes
through ``perfdoctor import otlp`` and ``perfdoctor report``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from perfdoctor import store
from tests.conftest import findings, get, report_json, run_perfdoctor
from tests.otlp.otlp_lines import rounded

APP = Path(__file__).with_name("otel_app.py")
REQUESTS_EACH = 2


def run_app(tmp: Path, opt_in: str | None) -> Path:
    out = tmp / "spans.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PERFDOCTOR"))}
    # Not under perfdoctor run: no capture bootstrap on the path.
    env.pop("PYTHONPATH", None)
    if opt_in:
        env["OTEL_SEMCONV_STABILITY_OPT_IN"] = opt_in
    process = subprocess.Popen(
        [sys.executable, str(APP), str(out), str(tmp / "app.db")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("PORT "), process.stderr.read() if process.stderr else first
        base = f"http://127.0.0.1:{first.split()[1]}"
        for _ in range(REQUESTS_EACH):
            for path in ("/articles", "/articles/fixed", "/dashboard", "/dashboard/fixed"):
                status, _ = get(base + path)
                assert status == 200, path
        with urllib.request.urlopen(urllib.request.Request(base + "/shutdown", method="POST")):
            pass
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""
    return out


@pytest.fixture(scope="module", params=[None, "http,database"], ids=["old-names", "new-names"])
def imported(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("otel")
    spans_file = run_app(tmp, request.param)
    traces = tmp / "traces.db"
    result = run_perfdoctor("import", "otlp", str(spans_file), "--traces", str(traces))
    assert result.returncode == 0, result.stderr
    yield {
        "file": spans_file,
        "traces": traces,
        "stdout": result.stdout,
        "report": report_json(traces),
        "opt_in": request.param,
    }


def test_file_is_what_the_official_exporter_wrote(imported: dict[str, Any]) -> None:
    text = imported["file"].read_text()
    records = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert records and all("resourceSpans" in r for r in records)
    scopes = {
        ss["scope"]["name"] for r in records for rs in r["resourceSpans"] for ss in rs["scopeSpans"]
    }
    assert {
        "opentelemetry.instrumentation.flask",
        "opentelemetry.instrumentation.sqlite3",
        "opentelemetry.instrumentation.requests",
    } <= scopes
    # Each mode is read by the names it really uses.
    if imported["opt_in"]:
        assert '"db.query.text"' in text and '"db.statement"' not in text
        assert '"url.full"' in text and '"http.url"' not in text
    else:
        assert '"db.statement"' in text and '"db.query.text"' not in text
        assert '"http.url"' in text and '"url.full"' not in text


def test_import_summary(imported: dict[str, Any]) -> None:
    # 4 endpoints twice, plus the shutdown request.
    assert imported["stdout"].startswith(f"imported {4 * REQUESTS_EACH + 1} traces (")
    assert "skipped" not in imported["stdout"]


def test_n_plus_one_found_on_the_loop_endpoint(imported: dict[str, Any]) -> None:
    found = findings(imported["report"], "n-plus-one-query", "GET /articles")
    assert len(found) == 1
    evidence = found[0]["evidence"]
    assert evidence["count"] == 8  # one query per article
    assert evidence["statement"] == "SELECT body FROM comments WHERE article_id = ?"
    assert evidence["parent_statement"] == "SELECT id, title FROM articles ORDER BY id"
    assert evidence["system"] == "sqlite"


def test_join_endpoint_has_no_n_plus_one(imported: dict[str, Any]) -> None:
    assert findings(imported["report"], "n-plus-one-query", "GET /articles/fixed") == []


def test_sequential_http_found_on_the_dashboard(imported: dict[str, Any]) -> None:
    found = findings(imported["report"], "sequential-http", "GET /dashboard")
    assert found
    evidence = found[0]["evidence"]
    assert evidence["count"] == 3
    assert evidence["system"] == "requests"
    assert [c.split(" at ")[0] for c in evidence["calls"]] == [
        f"GET http://127.0.0.1:{port}/{name}"
        for port, name in zip(
            [_upstream_port(imported)] * 3, ["users", "orders", "prices"], strict=True
        )
    ]


def test_concurrent_dashboard_has_no_sequential_http(imported: dict[str, Any]) -> None:
    assert findings(imported["report"], "sequential-http", "GET /dashboard/fixed") == []
    # Its three calls are in its trace all the same (the context was carried to the threads).
    fixed = [t for t in store.iter_traces(imported["traces"]) if t.name == "GET /dashboard/fixed"]
    assert fixed and all(len([s for s in t.spans if s.kind == "http"]) == 3 for t in fixed)


def test_no_parameter_values_stored(imported: dict[str, Any]) -> None:
    for trace in store.iter_traces(imported["traces"]):
        for span in trace.spans:
            if span.kind == "db":
                assert span.statement is not None and span.fingerprint
                assert "title 1" not in span.statement
            if span.kind == "http":
                assert "?" not in span.attrs["url"]


def test_export_then_import_gives_the_same_findings(
    imported: dict[str, Any], tmp_path: Path
) -> None:
    exported = tmp_path / "export.jsonl"
    result = run_perfdoctor(
        "export", "otlp", "--traces", str(imported["traces"]), "-o", str(exported)
    )
    assert result.returncode == 0, result.stderr
    again = tmp_path / "again.db"
    result = run_perfdoctor("import", "otlp", str(exported), "--traces", str(again))
    assert result.returncode == 0, result.stderr
    assert _comparable(report_json(again)) == _comparable(imported["report"])


def _upstream_port(imported: dict[str, Any]) -> int:
    for trace in store.iter_traces(imported["traces"]):
        for span in trace.spans:
            if span.kind == "http":
                return int(str(span.attrs["host"]).rsplit(":", 1)[1])
    raise AssertionError("no http span")


def _comparable(report: dict[str, Any]) -> list[Any]:
    return sorted(json.dumps(rounded(f), sort_keys=True) for f in report["findings"])



@pytest.mark.redis
@pytest.mark.parametrize("opt_in", [None, "database"], ids=["old-names", "new-names"])
def test_redis_job_traced_by_opentelemetry(
    tmp_path: Path, redis_url: str, opt_in: str | None
) -> None:
    """No server span: a job named after its root; a SET with no expiry is reported."""
    out = tmp_path / "job.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PERFDOCTOR"))}
    env.pop("PYTHONPATH", None)
    if opt_in:
        env["OTEL_SEMCONV_STABILITY_OPT_IN"] = opt_in
    prefix = f"perfdoctor-otlp-{uuid.uuid4().hex[:8]}:"
    job = Path(__file__).with_name("otel_redis_job.py")
    done = subprocess.run(
        [sys.executable, str(job), str(out), redis_url, prefix],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    traces = tmp_path / "t.db"
    result = run_perfdoctor("import", "otlp", str(out), "--traces", str(traces))
    assert result.returncode == 0, result.stderr
    (job_trace,) = [t for t in store.iter_traces(traces) if t.name == "warm-cache"]
    assert job_trace.kind == "job"
    ops = [(s.kind, s.system, s.attrs["op"]) for s in job_trace.spans]
    assert ops == [("cache", "redis", "set")] * 3 + [("cache", "redis", "get")]
    # The instrumentation hides arguments: no key, no value is known or stored.
    assert all("key" not in s.attrs for s in job_trace.spans)
    assert prefix not in traces.read_bytes().decode("latin-1")
    found = findings(report_json(traces), "cache-no-ttl")
    assert len(found) == 1
    assert found[0]["evidence"]["writes"] == 2
