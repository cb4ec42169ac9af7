"""``perfdoctor export otlp``: valid OTLP JSON, and export → import gives the same findings."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto_json.collector.trace.v1.trace_service import ExportTraceServiceRequest

from perfdoctor import store
from perfdoctor.model import Location, Span, Trace
from tests.conftest import report_json, run_perfdoctor
from tests.otlp.otlp_lines import rounded


def sample_store(path: Path) -> Path:
    loop_site = Location(str(Path(__file__)), 20, "view")
    spans = [
        Span(
            kind="db",
            start_ms=1.0,
            duration_ms=2.0,
            system="postgresql",
            statement="SELECT * FROM articles",
            fingerprint="a" * 16,
            params_digest="p0",
            connection_id=7,
            rows=10,
        )
    ]
    spans += [
        Span(
            kind="db",
            start_ms=4.0 + i,
            duration_ms=0.5,
            system="postgresql",
            statement="SELECT * FROM authors WHERE id = ?",
            fingerprint="b" * 16,
            params_digest=f"p{i + 1}",
            connection_id=7,
            location=loop_site,
            stack=[loop_site],
        )
        for i in range(6)
    ]
    spans.append(
        Span(
            kind="http",
            start_ms=20.0,
            duration_ms=30.0,
            system="requests",
            attrs={
                "method": "GET",
                "host": "api.example.com:443",
                "url": "https://api.example.com/users/{id}",
                "status": 200,
                "timeout": None,
                "url_digest": "d1",
            },
        )
    )
    spans.append(
        Span(
            kind="cache",
            start_ms=60.0,
            duration_ms=0.2,
            system="redis",
            attrs={"system": "redis", "op": "set", "key": "user:{id}", "ttl": None},
        )
    )
    trace = Trace(
        id="0af7651916cd43dd8448eb211c80319c",
        name="GET /articles",
        kind="http",
        started_at=1_700_000_000.5,
        duration_ms=80.0,
        status=200,
        pid=42,
        cpu_ms=12.5,
        spans=spans,
        attrs={"framework": "django", "query_names": ["page"]},
    )
    job = Trace(
        id="job-7",
        name="nightly",
        kind="job",
        started_at=1_700_000_100.0,
        duration_ms=10.0,
        spans=[],
    )
    conn = store.open_for_writing(path)
    store.write_traces(conn, [trace, job])
    conn.close()
    return path


def exported_lines(tmp_path: Path, *options: str) -> list[dict[str, Any]]:
    traces = sample_store(tmp_path / "t.db")
    result = run_perfdoctor("export", "otlp", "--traces", str(traces), *options)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_export_is_otlp_json_the_official_decoder_reads(tmp_path: Path) -> None:
    (record,) = exported_lines(tmp_path)
    decoded = ExportTraceServiceRequest.from_dict(record)
    spans = [s for rs in decoded.resource_spans for ss in rs.scope_spans for s in ss.spans]
    assert len(spans) == 2 + 9
    assert all(len(s.trace_id) == 16 and len(s.span_id) == 8 for s in spans)
    raw = [s for rs in record["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
    # The trace's own id when it is one already; hex, as OTLP JSON requires.
    assert raw[0]["traceId"] == "0af7651916cd43dd8448eb211c80319c"
    assert all(len(s["spanId"]) == 16 and s["spanId"] == s["spanId"].lower() for s in raw)
    root = raw[0]
    assert root["kind"] == 2 and "parentSpanId" not in root
    assert all(s["parentSpanId"] == root["spanId"] for s in raw[1:9])
    names = {a["key"] for s in raw for a in s["attributes"]}
    # Stable semantic-convention names only.
    assert {
        "http.request.method",
        "http.route",
        "http.response.status_code",
        "db.system.name",
        "db.query.text",
        "url.full",
        "server.address",
        "code.file.path",
    } <= names
    assert not names & {"http.method", "db.statement", "db.system", "http.url", "code.filepath"}


def test_export_to_gzip_file_and_reimport(tmp_path: Path) -> None:
    traces = sample_store(tmp_path / "t.db")
    out = tmp_path / "export.jsonl.gz"
    result = run_perfdoctor("export", "otlp", "--traces", str(traces), "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert "wrote 2 traces" in result.stderr
    assert gzip.decompress(out.read_bytes()).count(b"\n") == 1
    again = tmp_path / "again.db"
    assert run_perfdoctor("import", "otlp", str(out), "--traces", str(again)).returncode == 0
    before = {t.id: t for t in store.iter_traces(traces)}
    after = {t.id: t for t in store.iter_traces(again)}
    assert before.keys() == after.keys()
    for trace_id, trace in before.items():
        other = after[trace_id]
        assert (other.name, other.kind, other.status, other.pid, other.cpu_ms, other.attrs) == (
            trace.name,
            trace.kind,
            trace.status,
            trace.pid,
            trace.cpu_ms,
            trace.attrs,
        )
        assert other.started_at == pytest.approx(trace.started_at)
        assert len(other.spans) == len(trace.spans)
        for a, b in zip(trace.spans, other.spans, strict=True):
            assert (
                a.kind,
                a.system,
                a.statement,
                a.fingerprint,
                a.params_digest,
                a.rows,
                a.connection_id,
                a.attrs,
                a.stack,
                a.location,
            ) == (
                b.kind,
                b.system,
                b.statement,
                b.fingerprint,
                b.params_digest,
                b.rows,
                b.connection_id,
                b.attrs,
                b.stack,
                b.location,
            )
            assert b.start_ms == pytest.approx(a.start_ms, abs=1e-5)
            assert b.duration_ms == pytest.approx(a.duration_ms, abs=1e-5)


def test_export_errors_are_one_line(tmp_path: Path) -> None:
    missing = run_perfdoctor("export", "otlp", "--traces", str(tmp_path / "none.db"))
    assert missing.returncode == 2 and missing.stderr.startswith(
        "perfdoctor: error: no trace store"
    )
    traces = sample_store(tmp_path / "t.db")
    bad = run_perfdoctor(
        "export", "otlp", "--traces", str(traces), "-o", str(tmp_path / "no/x.jsonl")
    )
    assert bad.returncode == 2 and "does not exist" in bad.stderr
    assert "Traceback" not in missing.stderr + bad.stderr


def test_round_trip_of_a_real_capture_gives_the_same_report(tmp_path: Path) -> None:
    """The demo app captured by perfdoctor (every detector area), exported and imported."""
    captured = tmp_path / "audit.db"
    audit = run_perfdoctor(
        "audit", "--format", "json", "--rounds", "1", "--traces", str(captured), timeout=300
    )
    assert audit.returncode in (0, 1), audit.stderr
    exported = tmp_path / "audit.jsonl"
    result = run_perfdoctor("export", "otlp", "--traces", str(captured), "-o", str(exported))
    assert result.returncode == 0, result.stderr
    again = tmp_path / "again.db"
    result = run_perfdoctor("import", "otlp", str(exported), "--traces", str(again))
    assert result.returncode == 0, result.stderr
    before, after = report_json(captured), report_json(again)
    assert len({f["id"] for f in before["findings"]}) > 10
    assert rounded(after["findings"]) == rounded(before["findings"])
    assert rounded(after["endpoints"]) == rounded(before["endpoints"])

