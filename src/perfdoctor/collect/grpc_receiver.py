"""The OTLP/gRPC side of ``perfdoctor collect``: the TraceService ``Export`` call.

The Collector's ``otlp`` exporter (and its ``loadbalancing`` exporter, which
speaks nothing else) and the SDKs' default exporters send gRPC on port 4317.
Each call is decoded as an OTLP/HTTP protobuf body is, into the same bounded
queue and the same one writer; a full queue or too many calls at once answer
RESOURCE_EXHAUSTED / UNAVAILABLE with a RetryInfo, which the SDKs and the
Collector honour as HTTP's Retry-After.
"""

from __future__ import annotations

import os
from concurrent import futures
from typing import TYPE_CHECKING, Any, NoReturn

from perfdoctor.errors import UsageError
from perfdoctor.otlp import decode
from perfdoctor.otlp.decode import Skips

from . import body

if TYPE_CHECKING:
    from .server import Receiver


def require_grpc() -> None:
    # gRPC's C core logs its own errors to stderr; perfdoctor says them in one line.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    try:
        import grpc  # noqa: F401
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc  # noqa: F401
    except ImportError as exc:
        raise UsageError(
            "perfdoctor collect --grpc needs grpcio, which is not installed: "
            "pip install 'perfdoctor[collect-grpc]'"
        ) from exc


class GrpcReceiver:
    """A gRPC server sharing ``shared``'s queue, in-flight limit and counters."""

    def __init__(self, host: str, port: int, shared: Receiver) -> None:
        import grpc
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

        limit = shared.settings.collect_max_body_bytes
        self._server = grpc.server(
            # One more thread than calls decoded at once, so that a call over the
            # limit is answered UNAVAILABLE at once rather than left waiting.
            futures.ThreadPoolExecutor(
                max_workers=shared.settings.collect_max_inflight + 1,
                thread_name_prefix="perfdoctor-collect-grpc",
            ),
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.so_reuseport", 0),
            ],
        )
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(  # type: ignore[no-untyped-call]
            _TraceService(shared), self._server
        )
        shown = f"[{host}]" if ":" in host else host
        try:
            self.port = self._server.add_insecure_port(f"{shown}:{port}")
        except RuntimeError:
            self.port = 0
        if not self.port:
            raise UsageError(
                f"--grpc {shown}:{port}: cannot listen there (the port may be in use "
                "by another program, or the address is not this machine's)"
            )
        self.address = f"{shown}:{self.port}"

    def start(self) -> None:
        self._server.start()

    def stop(self, grace_s: float) -> None:
        """Refuse new calls; calls under way get ``grace_s`` to reach the queue."""
        self._server.stop(grace_s).wait(grace_s + 1.0)


class _TraceService:
    """trace_service_pb2_grpc.TraceServiceServicer, without subclassing a generated
    class that needs grpcio at import time."""

    def __init__(self, shared: Receiver) -> None:
        self.shared = shared

    def Export(self, request: Any, context: Any) -> Any:
        shared = self.shared
        with shared.busy_lock:
            shared.busy += 1
        try:
            return self._export(request, context)
        finally:
            with shared.busy_lock:
                shared.busy -= 1

    def _export(self, request: Any, context: Any) -> Any:
        import grpc

        shared = self.shared
        if shared.queue.full():
            self._busy(context, grpc.StatusCode.RESOURCE_EXHAUSTED, "the receiver's queue is full")
        if not shared.inflight.acquire(blocking=False):
            self._busy(context, grpc.StatusCode.UNAVAILABLE, "too many requests at once")
        try:
            skips = Skips()
            spans = list(decode.spans(body.as_json(request), 1, skips))
        finally:
            shared.inflight.release()
        if spans and not shared.queue.offer(spans):
            self._busy(context, grpc.StatusCode.RESOURCE_EXHAUSTED, "the receiver's queue is full")
        return body.response_message(skips)

    def _busy(self, context: Any, code: Any, message: str) -> NoReturn:
        """Abort the call, retryable after ``collect_retry_after_s``."""
        self.shared.refused += 1
        delay = retry_info(self.shared.settings.collect_retry_after_s)
        context.set_trailing_metadata(
            (
                # Where the OpenTelemetry SDKs look for it...
                ("google.rpc.retryinfo-bin", delay),
                # ...and where gRPC's rich error model (the Collector) does.
                ("grpc-status-details-bin", _status(code.value[0], message, delay)),
            )
        )
        context.abort(code, message)
        raise AssertionError("grpc's abort raises")  # pragma: no cover


# Hand-encoded google.rpc messages: they are not in opentelemetry-proto, and two
# small messages do not justify another dependency.
_RETRY_INFO_TYPE = b"type.googleapis.com/google.rpc.RetryInfo"


def retry_info(seconds: float) -> bytes:
    """A google.rpc.RetryInfo whose retry_delay (a google.protobuf.Duration) is ``seconds``."""
    whole = int(seconds)
    nanos = round((seconds - whole) * 1e9)
    duration = b""
    if whole:
        duration += b"\x08" + body.varint(whole)
    if nanos:
        duration += b"\x10" + body.varint(nanos)
    return b"\x0a" + body.varint(len(duration)) + duration


def _status(code: int, message: str, detail: bytes) -> bytes:
    """A google.rpc.Status with one detail, a RetryInfo packed in a google.protobuf.Any."""
    packed = (
        b"\x0a" + body.varint(len(_RETRY_INFO_TYPE)) + _RETRY_INFO_TYPE
        + b"\x12" + body.varint(len(detail)) + detail
    )  # fmt: skip
    text = message.encode()
    return (
        b"\x08" + body.varint(code)
        + b"\x12" + body.varint(len(text)) + text
        + b"\x1a" + body.varint(len(packed)) + packed
    )  # fmt: skip
