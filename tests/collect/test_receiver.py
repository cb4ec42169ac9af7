"""`perfdoctor collect` receives OTLP/HTTP from the OpenTelemetry SDK's own exporter
and from plain JSON posts, and `perfdoctor report` finds what they carried."""

from __future__ import annotations

import json
import socket
import sqlite3
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind

from tests.collect.receiver import Receiver
from tests.conftest import findings, report_json, run_perfdoctor
from tests.otlp.otlp_lines import n_plus_one, request


def send_with_sdk(
    url: str, requests: int, compression: Compression = Compression.NoCompression
) -> None:
    """An app instrumented by hand with the SDK, exporting OTLP/HTTP protobuf."""
    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=url, compression=compression))
    )
    list_articles(provider, requests)


def list_articles(provider: TracerProvider, requests: int) -> None:
    """Each request lists articles, then loads each one's author with its own query."""
    tracer = provider.get_tracer("shop")
    for _ in range(requests):
        attrs = {"http.request.method": "GET", "http.route": "/articles"}
        with tracer.start_as_current_span(
            "GET /articles", kind=SpanKind.SERVER, attributes=attrs
        ) as root:
            db = {"db.system.name": "postgresql", "db.query.text": "SELECT id FROM articles"}
            with tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT, attributes=db):
                pass
            for i in range(6):
                db = {
                    "db.system.name": "postgresql",
                    "db.query.text": f"SELECT * FROM authors WHERE id = {i}",
                }
                with tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT, attributes=db):
                    pass
            root.set_attribute("http.response.status_code", 200)
    assert provider.force_flush(30_000)
    provider.shutdown()


def test_the_sdk_exporter_sends_protobuf_and_report_finds_the_n_plus_one(
    receiver: Receiver,
) -> None:
    send_with_sdk(receiver.url, requests=3)
    code, out, err = receiver.stop()
    assert (code, err) == (0, "")
    assert "received 24 spans" in out and "wrote 3 traces (21 spans)" in out
    found = findings(report_json(receiver.store), "n-plus-one-query", "GET /articles")
    assert len(found) == 1


@pytest.mark.parametrize("gzipped", [False, True])
def test_a_json_post_plain_or_gzipped_is_stored(receiver: Receiver, gzipped: bool) -> None:
    trace = "c0" * 16
    status, headers, body = receiver.post(
        json.dumps(request(n_plus_one(trace))).encode(), gzipped=gzipped
    )
    assert (status, body) == (200, b"{}")
    assert headers["Content-Type"] == "application/json"
    assert receiver.stop()[0] == 0
    assert receiver.stored_trace_ids() == {trace}
    assert findings(report_json(receiver.store), "n-plus-one-query")


def test_spans_of_a_trace_sent_in_two_posts_make_one_trace(receiver: Receiver) -> None:
    trace = "c1" * 16
    spans = n_plus_one(trace)
    # The SDK exports children as they end, the root (which ends last) after them.
    assert receiver.post_json(request(spans[1:])) == 200
    assert receiver.post_json(request(spans[:1])) == 200
    assert receiver.stop()[0] == 0
    report = report_json(receiver.store)
    assert [f["endpoint"] for f in findings(report, "n-plus-one-query")] == ["GET /articles/{id}"]
    with sqlite3.connect(receiver.store) as conn:
        assert conn.execute("SELECT count(*) FROM traces").fetchone() == (1,)


def test_shutdown_writes_spans_still_waiting_for_their_root(receiver: Receiver) -> None:
    trace = "c2" * 16
    assert receiver.post_json(request(n_plus_one(trace)[1:])) == 200
    code, out, _ = receiver.stop()
    assert code == 0
    assert "received 7 spans" in out
    assert receiver.stored_trace_ids() == {trace}


def test_a_full_queue_answers_429_with_retry_after_and_nothing_accepted_is_lost(
    tmp_path: Path,
) -> None:
    receiver = Receiver(tmp_path, "collect_queue_spans = 8\ncollect_retry_after_s = 3")
    try:
        # Another process holds the store: the writer waits, the queue fills.
        lock = sqlite3.connect(receiver.store, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
        accepted, refused = [], []
        for i in range(30):
            trace = f"{i + 1:032x}"
            status, headers, body = receiver.post(json.dumps(request(n_plus_one(trace))).encode())
            if status == 429:
                refused.append(trace)
                assert headers["Retry-After"] == "3"
                assert b"queue is full" in body
                break
            assert status == 200
            accepted.append(trace)
        assert refused, "the queue never filled"
        lock.execute("ROLLBACK")
        lock.close()
        code, out, _ = receiver.stop()
        assert code == 0
        assert "refused 1 requests while busy" in out
        assert receiver.stored_trace_ids() == set(accepted)
    finally:
        receiver.kill()


def test_a_body_over_the_limit_answers_413(tmp_path: Path) -> None:
    receiver = Receiver(tmp_path, "collect_max_body_bytes = 1000")
    try:
        status, _, body = receiver.post(b"{" + b" " * 2000 + b"}")
        assert status == 413 and b"limit" in body
        # Unzipped past the limit too: a small gzip body is no way around it.
        status, _, _ = receiver.post(b'{"resourceSpans": []' + b" " * 5000 + b"}", gzipped=True)
        assert status == 413
        assert receiver.post_json(request([])) == 200
    finally:
        receiver.kill()


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        (b"\xff\xfe not protobuf", "application/x-protobuf", 400),
        (b"not json", "application/json", 400),
        (b'{"resourceLogs": []}', "application/json", 400),
        (b"garbage", "application/json; charset=utf-8", 400),
        (b"{}", "text/plain", 415),
    ],
)
def test_a_bad_body_answers_4xx_and_the_receiver_goes_on(
    receiver: Receiver, data: bytes, content_type: str, status: int
) -> None:
    assert receiver.post(data, content_type)[0] == status
    assert receiver.post(data, content_type, gzipped=True)[0] == status
    assert receiver.post_json(request(n_plus_one("c3" * 16))) == 200
    assert receiver.stop()[0] == 0


def test_a_bad_listen_address_or_a_port_in_use_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for listen, says in [
            (f"127.0.0.1:{port}", "the port is in use"),
            ("localhost", "expected HOST:PORT"),
            ("127.0.0.1:99999", "expected HOST:PORT"),
            ("::1:4318", "IPv6 address in brackets"),
        ]:
            result = run_perfdoctor(
                "collect", "--listen", listen, "--traces", str(tmp_path / "t.db")
            )
            assert result.returncode == 2
            assert result.stderr.count("\n") == 1 and says in result.stderr, result.stderr


def test_spans_without_valid_ids_are_named_in_a_partial_success(receiver: Receiver) -> None:
    spans = n_plus_one("c4" * 16)
    spans[2]["spanId"] = "not an id"
    status, _, body = receiver.post(json.dumps(request(spans)).encode())
    assert status == 200
    partial = json.loads(body)["partialSuccess"]
    assert partial["rejectedSpans"] == "1" and "without valid ids" in partial["errorMessage"]
    code, out, _ = receiver.stop()
    assert code == 0 and "received 7 spans" in out
