"""The HTTP side of ``perfdoctor collect`` and the command itself."""

from __future__ import annotations

import errno
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import TextIO
from urllib.parse import urlsplit

from perfdoctor.errors import UsageError
from perfdoctor.otlp import command
from perfdoctor.otlp.decode import size_text
from perfdoctor.settings import Settings

from . import body
from .queue import SpanQueue
from .tail import TailRule
from .writer import Writer

PATH = "/v1/traces"
# At shutdown, requests being decoded get this long to reach the queue.
_DRAIN_S = 5.0


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], family: int, settings: Settings) -> None:
        self.address_family = family
        super().__init__(address, _Handler)
        self.settings = settings
        self.queue = SpanQueue(settings.collect_queue_spans)
        self.inflight = threading.BoundedSemaphore(settings.collect_max_inflight)
        self.busy = 0
        self.busy_lock = threading.Lock()
        self.refused = 0

    def url(self) -> str:
        host, port = self.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else host
        shown = f"[{name}]" if ":" in name else name
        return f"http://{shown}:{port}{PATH}"


class _Handler(BaseHTTPRequestHandler):
    # Keep-alive: SDK exporters and the Collector reuse their connection.
    protocol_version = "HTTP/1.1"
    server: Receiver

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per export would drown the terminal

    def do_POST(self) -> None:
        with self.server.busy_lock:
            self.server.busy += 1
        try:
            self._post()
        finally:
            with self.server.busy_lock:
                self.server.busy -= 1

    def _post(self) -> None:
        kind = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        answer = kind if kind in (body.PROTOBUF, body.JSON) else body.JSON
        if urlsplit(self.path).path != PATH:
            return self._fail(404, answer, body.INVALID_ARGUMENT, f"traces go to {PATH}")
        if kind not in (body.PROTOBUF, body.JSON):
            why = f"Content-Type must be {body.PROTOBUF} or {body.JSON}"
            return self._fail(415, answer, body.INVALID_ARGUMENT, why)
        encoding = (self.headers.get("Content-Encoding") or "identity").strip().lower()
        if encoding not in ("gzip", "identity"):
            why = f"Content-Encoding {encoding} is not supported (gzip is)"
            return self._fail(415, answer, body.INVALID_ARGUMENT, why)
        # OpenTelemetry JS's exporter streams its body (chunked, no Content-Length),
        # as HTTP/1.1 allows and the Collector accepts.
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        try:
            length = -1 if chunked else int(self.headers.get("Content-Length") or "")
        except ValueError:
            why = "Content-Length (or Transfer-Encoding: chunked) is required"
            return self._fail(411, answer, body.INVALID_ARGUMENT, why)
        limit = self.server.settings.collect_max_body_bytes
        if length > limit:
            why = f"the body is over the {size_text(limit)} limit"
            return self._fail(413, answer, body.INVALID_ARGUMENT, why)
        if self.server.queue.full():
            return self._busy(429, answer, body.RESOURCE_EXHAUSTED, "the receiver's queue is full")
        if not self.server.inflight.acquire(blocking=False):
            return self._busy(503, answer, body.UNAVAILABLE, "too many requests at once")
        try:
            if chunked:
                read = body.read_chunked(self.rfile, limit)
                if read is None:
                    self.close_connection = True
                    return None
                data = read
            else:
                data = self.rfile.read(length)
                if len(data) < length:
                    self.close_connection = True
                    return None
            if encoding == "gzip":
                data = body.gunzip(data, limit)
            spans, skips = body.spans(data, kind)
        except body.TooLarge as exc:
            return self._fail(413, answer, body.INVALID_ARGUMENT, str(exc))
        except body.BadBody as exc:
            return self._fail(400, answer, body.INVALID_ARGUMENT, str(exc))
        finally:
            self.server.inflight.release()
        if spans and not self.server.queue.offer(spans):
            return self._busy(429, answer, body.RESOURCE_EXHAUSTED, "the receiver's queue is full")
        self._send(200, answer, body.success(answer, skips))
        return None

    def _busy(self, code: int, kind: str, status: int, message: str) -> None:
        self.server.refused += 1
        retry = str(self.server.settings.collect_retry_after_s)
        self._fail(code, kind, status, message, retry_after=retry)

    def _fail(
        self, code: int, kind: str, status: int, message: str, retry_after: str | None = None
    ) -> None:
        # The body may be unread: the connection cannot carry another request.
        self.close_connection = True
        extra = {"Connection": "close"}
        if retry_after is not None:
            extra["Retry-After"] = retry_after
        self._send(code, kind, body.status(kind, status, message), extra)

    def _send(
        self, code: int, kind: str, payload: bytes, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


def parse_listen(text: str, option: str = "--listen") -> tuple[str, int, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) as host, port and address family."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise UsageError(f"{option} {text}: expected HOST:PORT, e.g. 127.0.0.1:4318")
    if host.startswith("[") and host.endswith("]"):
        return host[1:-1], int(port_text), socket.AF_INET6
    if ":" in host:
        raise UsageError(f"{option} {text}: write an IPv6 address in brackets, e.g. [::1]:4318")
    return host, int(port_text), socket.AF_INET


def bind(listen: str, settings: Settings) -> Receiver:
    host, port, family = parse_listen(listen)
    try:
        return Receiver((host, port), family, settings)
    except socket.gaierror as exc:
        raise UsageError(f"--listen {listen}: unknown host {host} ({exc.strerror})") from exc
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(
                f"--listen {listen}: the port is in use by another program; "
                "stop it or choose another port"
            ) from exc
        why = exc.strerror or str(exc)
        raise UsageError(f"--listen {listen}: cannot listen there ({why})") from exc


def run(
    listen: str,
    store_path: Path,
    settings: Settings,
    out: TextIO,
    grpc: str | None = None,
    tail: TailRule | None = None,
) -> int:
    """``grpc``: also receive OTLP/gRPC there (``HOST:PORT``), into the same store;
    ``tail``: keep only the traces it keeps (``--sample``)."""
    body.require_protobuf()
    if grpc is not None:
        from .grpc_receiver import require_grpc

        require_grpc()
        grpc_host, grpc_port, _ = parse_listen(grpc, "--grpc")
    target = command.StoreTarget(store_path)
    target.conn()  # a store that cannot be written fails now, not at the first request
    server = bind(listen, settings)
    receiver_grpc = None
    if grpc is not None:
        from .grpc_receiver import GrpcReceiver

        try:
            receiver_grpc = GrpcReceiver(grpc_host, grpc_port, server)
        except BaseException:
            server.server_close()
            raise
    writer = Writer(server.queue, target, settings, tail=tail)
    writer.start()
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    serving = threading.Thread(target=server.serve_forever, name="perfdoctor-collect", daemon=True)
    serving.start()
    out.write(f"perfdoctor: receiving OTLP/HTTP traces on {server.url()} into {store_path}\n")
    if receiver_grpc is not None:
        receiver_grpc.start()
        out.write(f"perfdoctor: receiving OTLP/gRPC traces on {receiver_grpc.address}\n")
    if tail is not None:
        out.write(
            f"perfdoctor: keeping {tail.rate:.0%} of traces (by trace id) and every failed "
            f"one or one over {tail.slow_ms:g} ms or its endpoint's p95 budget\n"
        )
    out.flush()
    started = time.monotonic()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.shutdown()
        server.server_close()
        if receiver_grpc is not None:
            receiver_grpc.stop(_DRAIN_S)
        _drain(server)
        server.queue.close()
        writer.join()
        target.close()
    seconds = time.monotonic() - started
    out.write(
        f"perfdoctor: received {writer.received} spans in {seconds:.0f} s; wrote "
        f"{writer.traces_written} traces ({writer.spans_written} spans) to {store_path}"
        + (f"; kept {tail.kept} of {tail.seen} traces seen" if tail is not None else "")
        + (
            f"; {writer.layered} queries sent by both the ORM's and the driver's "
            "instrumentation counted once"
            if writer.layered
            else ""
        )
        + (f"; refused {server.refused} requests while busy" if server.refused else "")
        + "\n"
    )
    if writer.dropped:
        sys.stderr.write(f"perfdoctor: error: {writer.dropped} spans could not be written\n")
        return 2
    return 0


def _drain(server: Receiver) -> None:
    deadline = time.monotonic() + _DRAIN_S
    while server.busy and time.monotonic() < deadline:
        time.sleep(0.05)
