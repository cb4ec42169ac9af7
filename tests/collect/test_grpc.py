"""`perfdoctor collect --grpc` receives OTLP/gRPC from the OpenTelemetry SDK's own
gRPC exporter (what the Collector's otlp and loadbalancing exporters speak too)."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from tests.collect.receiver import Receiver
from tests.collect.test_receiver import list_articles
from tests.conftest import findings, report_json, run_perfdoctor


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    started = Receiver(tmp_path, grpc=True)
    yield started
    started.kill()


def _provider(address: str, gzip: bool = False) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    exporter = OTLPSpanExporter(
        endpoint=f"http://{address}",
        insecure=True,
        compression=grpc.Compression.Gzip if gzip else None,
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


@pytest.mark.parametrize("gzip", [False, True])
def test_the_sdk_grpc_exporter_is_received_and_report_finds_the_n_plus_one(
    receiver: Receiver, gzip: bool
) -> None:
    list_articles(_provider(receiver.grpc_address, gzip=gzip), 3)
    code, out, err = receiver.stop()
    assert (code, err) == (0, "")
    assert "received 24 spans" in out and "wrote 3 traces (21 spans)" in out
    [found] = findings(report_json(receiver.store), "n-plus-one-query", "GET /articles")
    assert found["evidence"]["count"] == 6
    assert found["evidence"]["statement"] == "SELECT * FROM authors WHERE id = ?"


def _request(trace_id: bytes) -> trace_service_pb2.ExportTraceServiceRequest:
    request = trace_service_pb2.ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id, span.span_id = trace_id, b"\x01" * 8
    span.name, span.kind = "GET /x", 2  # SERVER
    span.start_time_unix_nano, span.end_time_unix_nano = (
        1_700_000_000_000_000_000,
        1_700_000_000_010_000_000,
    )
    attribute = span.attributes.add()
    attribute.key, attribute.value.string_value = "http.route", "/x"
    return request


def test_a_full_queue_answers_resource_exhausted_with_retry_info(tmp_path: Path) -> None:
    receiver = Receiver(tmp_path, "collect_queue_spans = 2\ncollect_retry_after_s = 3", grpc=True)
    channel = grpc.insecure_channel(receiver.grpc_address)
    stub = trace_service_pb2_grpc.TraceServiceStub(channel)
    try:
        # Another process holds the store: the writer waits, the queue fills.
        lock = sqlite3.connect(receiver.store, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
        accepted = []
        for i in range(30):
            trace_id = (i + 1).to_bytes(16, "big")
            try:
                stub.Export(_request(trace_id), timeout=30)
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                assert "queue is full" in (exc.details() or "")
                trailers = dict(exc.trailing_metadata() or ())
                # The SDKs' place for the delay, and gRPC's rich error model's.
                info = error_details_pb2.RetryInfo.FromString(trailers["google.rpc.retryinfo-bin"])
                assert info.retry_delay.seconds == 3
                status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
                assert status.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
                [detail] = status.details
                unpacked = error_details_pb2.RetryInfo()
                assert detail.Unpack(unpacked) and unpacked.retry_delay.seconds == 3
                break
            accepted.append(trace_id.hex())
        else:
            pytest.fail("the queue never filled")
        lock.execute("ROLLBACK")
        lock.close()
        code, out, _ = receiver.stop()
        assert code == 0
        assert "refused 1 requests while busy" in out
        assert receiver.stored_trace_ids() == set(accepted)
    finally:
        channel.close()
        receiver.kill()


def test_a_bad_grpc_address_or_a_port_in_use_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = run_perfdoctor("collect", "--grpc", "nowhere", "--traces", str(tmp_path / "t.db"))
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "perfdoctor: error: --grpc nowhere: expected HOST:PORT, e.g. 127.0.0.1:4318"
    ]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = run_perfdoctor(
            "collect", "--listen", "127.0.0.1:0", "--grpc", f"127.0.0.1:{port}",
            "--traces", str(tmp_path / "t.db"),
        )  # fmt: skip
    assert busy.returncode == 2
    [line] = busy.stderr.strip().splitlines()
    assert line.startswith(f"perfdoctor: error: --grpc 127.0.0.1:{port}: cannot listen there")
