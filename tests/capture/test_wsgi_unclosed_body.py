"""A WSGI server that drops a response body without closing it still ends the trace.

werkzeug's development server skips ``close()`` when the client hung up before
the server read the rest of the request: the request happened, with its queries,
and must not vanish from the store.  Nor must a body still streaming when the
process ends, and a body closed mid-stream keeps its generator's clean-up.
"""

from __future__ import annotations

import gc
import io
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from perfdoctor.capture.wsgi import TraceMiddleware
from tests.inprocess import capturing, load


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (x INTEGER)")
    for i in range(3):
        conn.execute("SELECT x FROM t WHERE x = ?", (i,)).fetchall()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def rows(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    conn = sqlite3.connect(":memory:")
    try:
        for i in range(5):
            conn.execute("SELECT ? AS row", (i,)).fetchall()
            yield b"row\n"
    finally:
        conn.execute("SELECT 'clean-up'").fetchall()
        conn.close()


def environ(path: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.url_scheme": "http",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
    }


def test_a_body_dropped_unclosed_ends_its_trace(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        wrapped = TraceMiddleware(app)
        body = wrapped(environ("/dropped"), lambda status, headers: None)
        assert b"".join(body) == b"ok"
        del body  # the server's frame is gone, close() never called
        gc.collect()
        closed = wrapped(environ("/closed"), lambda status, headers: None)
        list(closed)
        closed.close()  # type: ignore[attr-defined]
    by_name = {t.name: t for t in load(traces)}
    assert set(by_name) == {"GET /dropped", "GET /closed"}
    assert len(by_name["GET /dropped"].db_spans()) == 4
    assert by_name["GET /dropped"].status == 200
    # Closed by the server, then dropped: one trace, not two.
    assert len(load(traces)) == 2


def test_a_body_closed_mid_stream_keeps_its_clean_up(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        body = TraceMiddleware(rows)(environ("/rows"), lambda status, headers: None)
        chunks = iter(body)
        server_conn = sqlite3.connect(":memory:")
        for _ in range(2):
            next(chunks)
            # The server's own work between two chunks is not the request's.
            server_conn.execute("SELECT 'server'").fetchall()
        body.close()  # type: ignore[attr-defined]
    (trace,) = load(traces)
    statements = [s.statement for s in trace.db_spans()]
    assert statements == ["SELECT ? AS row", "SELECT ? AS row", "SELECT ?"], statements
    assert trace.status == 200
    assert max(s.end_ms for s in trace.spans) <= trace.duration_ms
    assert "response_ms" not in trace.attrs  # the client never had it all


def test_a_body_still_streaming_at_exit_is_stored_once(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        body = TraceMiddleware(rows)(environ("/open"), lambda status, headers: None)
        next(iter(body))
    # capture ended (as at the process's exit) with the body still open
    stored = load(traces)
    assert [(t.name, len(t.db_spans())) for t in stored] == [("GET /open", 1)]
    body.close()  # type: ignore[attr-defined]
    assert [t.id for t in load(traces)] == [stored[0].id]
