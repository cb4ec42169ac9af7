"""The Server-Timing header from the generic WSGI and ASGI middleware, in process:
an app's own Server-Timing metrics are kept, ours follow them; off, nothing changes."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from perfdoctor.capture import asgi, server_timing, wsgi
from tests.inprocess import capturing
from tests.live.support import parse_server_timing, queries_in


@pytest.fixture
def switched_on() -> Iterator[None]:
    server_timing.switch.on = True
    try:
        yield
    finally:
        server_timing.switch.on = False


def query(times: int) -> None:
    conn = sqlite3.connect(":memory:")
    for _ in range(times):
        conn.execute("SELECT 1").fetchone()
    conn.close()


def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    query(3)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Server-Timing", "cdn;dur=1.5")])
    return [b"ok"]


def call_wsgi(tmp_path: Path) -> list[tuple[str, str]]:
    sent: list[tuple[str, str]] = []

    def start_response(status: str, headers: list[tuple[str, str]], *exc: Any) -> None:
        sent.extend(headers)

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/page", "QUERY_STRING": ""}
    with capturing(tmp_path / "traces.db"):
        body = wsgi.TraceMiddleware(wsgi_app)(environ, start_response)
        b"".join(body)
        body.close()  # type: ignore[attr-defined]
    return sent


def test_wsgi_keeps_the_apps_metrics_and_adds_ours(tmp_path: Path, switched_on: None) -> None:
    headers = call_wsgi(tmp_path)
    values = [v for k, v in headers if k.lower() == "server-timing"]
    assert len(values) == 1, headers
    metrics = parse_server_timing(values[0])
    assert list(metrics) == ["cdn", "db", "app"]
    assert metrics["cdn"] == {"dur": "1.5"}
    assert queries_in(metrics) == 3


def test_wsgi_off_leaves_the_headers_alone(tmp_path: Path) -> None:
    assert not server_timing.switch.on
    headers = call_wsgi(tmp_path)
    assert [v for k, v in headers if k.lower() == "server-timing"] == ["cdn;dur=1.5"]


async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
    query(2)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    query(1)  # after the headers: not in them
    await send({"type": "http.response.body", "body": b"ok"})


def test_asgi_counts_what_ran_before_the_headers(tmp_path: Path, switched_on: None) -> None:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/stream", "headers": [], "query_string": b""}
    with capturing(tmp_path / "traces.db"):
        asyncio.run(asgi.TraceMiddleware(asgi_app)(scope, receive, send))
    start = sent[0]
    values = [v.decode() for k, v in start["headers"] if k == b"server-timing"]
    assert len(values) == 1
    assert queries_in(parse_server_timing(values[0])) == 2
