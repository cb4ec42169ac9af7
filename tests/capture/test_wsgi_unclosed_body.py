"""A WSGI server that drops a response body without closing it still ends the trace.

werkzeug's development server skips ``close()`` when the client hung up before
the server read the rest of the request: the request happened, with its queries,
and must not vanish from the store.
"""

from __future__ import annotations

import gc
import io
import sqlite3
from collections.abc import Callable, Iterable
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
