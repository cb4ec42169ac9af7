"""Queries run while a response body streams belong to that request's trace.

Each app streams one line per article from a generator that looks the row's
author up as it goes (an N+1 that runs after the view has returned, while the
server sends the body), a fixed twin that joins, and an endless ``tail`` that a
client hangs up on.  Real servers on 127.0.0.1 under ``perfdoctor run``:
werkzeug's development server (Flask), gunicorn (a plain ``yield`` WSGI app),
Django's runserver and uvicorn (FastAPI).
"""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import struct
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from perfdoctor.model import SERVER_KIND, Trace
from tests.capture.apps_support import (
    app_env,
    assert_n_plus_one,
    console_script,
    count_named,
    get_ok,
    gunicorn,
    load,
    wait_for_traces,
)
from tests.conftest import APPS, findings, free_port, report_json, serve_under_perfdoctor

STREAMING = APPS / "streaming"
ARTICLES = 8
PER_ROW = "FROM author WHERE id"


def seed(database: Path) -> None:
    conn = sqlite3.connect(database)
    with conn:
        conn.execute("CREATE TABLE author (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("CREATE TABLE article (id INTEGER PRIMARY KEY, title TEXT, author_id INTEGER)")
        conn.executemany("INSERT INTO author (name) VALUES (?)", [("ada",), ("bob",), ("cy",)])
        conn.executemany(
            "INSERT INTO article (title, author_id) VALUES (?, ?)",
            [(f"title {i}", i % 3 + 1) for i in range(ARTICLES)],
        )
    conn.close()


@contextlib.contextmanager
def streaming(port: int, path: str) -> Iterator[socket.socket]:
    """A client reading the first lines of an endless body; it leaves with a reset."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        received = b""
        while b"\r\n\r\n" not in received or received.split(b"\r\n\r\n", 1)[1].count(b"\n") < 3:
            chunk = sock.recv(4096)
            assert chunk, received
            received += chunk
        assert received.startswith(b"HTTP/1.1 200"), received
        yield sock
        # As a browser tab closed mid-download: a reset, not a polite close.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def serve_streams(
    tmp_path: Path, port: int, command: Sequence[str], health: str, paths: dict[str, str],
    tail: str, *, open_at_exit: bool = False,
) -> list[Trace]:
    """GET each of ``paths`` (path -> trace name) in full, then hang up on ``tail``.

    Each of those traces is waited for while the server runs: none may need the
    process to exit to be stored.  With ``open_at_exit`` a second ``tail`` is
    still streaming when the server is stopped.
    """
    database = tmp_path / "rows.sqlite3"
    seed(database)
    traces = tmp_path / "traces.db"
    base = f"http://127.0.0.1:{port}"
    env = app_env(STREAM_DATABASE=str(database))
    with contextlib.ExitStack() as left_open, serve_under_perfdoctor(
        command, traces, base + health, cwd=STREAMING, env=env
    ) as server:
        for path in paths:
            body = get_ok(base + path)
            assert body.count(b"\n") == ARTICLES, body
        with streaming(port, tail):
            pass
        for name in [*paths.values(), "GET " + tail]:
            wait_for_traces(traces, count_named(name, 1))
        if open_at_exit:
            left_open.enter_context(streaming(port, tail))
    output = server.captured_output  # type: ignore[attr-defined]
    assert "Traceback" not in output, output
    return load(traces)


def only(traces: list[Trace], name: str) -> Trace:
    named = [t for t in traces if t.name == name]
    assert len(named) == 1, (name, sorted(t.name for t in traces))
    return named[0]


def assert_streamed(traces: list[Trace], name: str, per_row: int) -> None:
    """One trace holds the stream's queries, and lasts until the body was done."""
    trace = only(traces, name)
    assert trace.status == 200
    rows = [s for s in trace.db_spans() if PER_ROW in (s.statement or "")]
    assert len(rows) == per_row, [s.statement for s in trace.db_spans()]
    assert max(s.end_ms for s in trace.spans) <= trace.duration_ms
    # The whole body was sent, and counted, before the trace ended.
    assert trace.attrs["response"]["bytes"] > 0
    assert 0 < trace.attrs["response_ms"] <= trace.duration_ms


def assert_ended_by_client(traces: list[Trace], name: str, count: int = 1) -> None:
    """Each endless stream a client left is one trace, with the queries it ran."""
    named = [t for t in traces if t.name == name]
    assert len(named) == count, (name, sorted(t.name for t in traces))
    for trace in named:
        assert trace.status == 200
        assert any(PER_ROW in (s.statement or "") for s in trace.db_spans())


def assert_no_stray_rows(traces: list[Trace]) -> None:
    """No per-row query was left to the server's own trace."""
    for trace in traces:
        if trace.kind == SERVER_KIND:
            assert not [s for s in trace.db_spans() if PER_ROW in (s.statement or "")], trace.name


def assert_report(
    tmp_path: Path, endpoint: str, fixed: str, source: Path, marker: str, function: str,
    framework: str | None,
) -> None:
    report = report_json(tmp_path / "traces.db", cwd=tmp_path)
    found = findings(report, "n-plus-one-query", endpoint)
    assert len(found) == 1, report["findings"]
    assert_n_plus_one(
        found[0], source=source, marker=marker, count=ARTICLES, cwd=tmp_path,
        framework=framework, function=function,
    )
    assert not findings(report, "n-plus-one-query", fixed), report["findings"]


def test_flask_streams_on_werkzeug(tmp_path: Path) -> None:
    port = free_port()
    traces = serve_streams(
        tmp_path, port,
        [console_script("flask"), "--app", "flask_stream", "run", "--port", str(port)],
        "/health",
        {
            "/articles.csv": "GET /articles.csv",
            "/pages/2.csv": "GET /pages/{page}.csv",
            "/articles/fixed.csv": "GET /articles/fixed.csv",
        },
        "/tail",
        open_at_exit=True,
    )
    assert_streamed(traces, "GET /articles.csv", ARTICLES)
    assert_streamed(traces, "GET /pages/{page}.csv", ARTICLES)
    assert_streamed(traces, "GET /articles/fixed.csv", 0)
    # The one hung up on, and the one still streaming when the server stopped.
    assert_ended_by_client(traces, "GET /tail", count=2)
    assert_no_stray_rows(traces)
    assert_report(
        tmp_path, "GET /articles.csv", "GET /articles/fixed.csv", STREAMING / "flask_stream.py",
        "flask_rows", "articles_csv.<locals>.rows", None,
    )


@pytest.mark.parametrize("worker", ["sync", "gthread"])
def test_yield_wsgi_app_on_gunicorn(tmp_path: Path, worker: str) -> None:
    port = free_port()
    traces = serve_streams(
        tmp_path, port,
        gunicorn(port, "-k", worker, "--threads", "2", app="wsgi_stream:app"),
        "/health",
        {"/articles.csv": "GET /articles.csv", "/articles/fixed.csv": "GET /articles/fixed.csv"},
        "/tail",
    )
    assert_streamed(traces, "GET /articles.csv", ARTICLES)
    assert_streamed(traces, "GET /articles/fixed.csv", 0)
    assert_ended_by_client(traces, "GET /tail")
    assert_no_stray_rows(traces)
    assert_report(
        tmp_path, "GET /articles.csv", "GET /articles/fixed.csv", STREAMING / "wsgi_stream.py",
        "wsgi_rows", "rows", None,
    )


def test_django_streaming_http_response_on_runserver(tmp_path: Path) -> None:
    port = free_port()
    traces = serve_streams(
        tmp_path, port,
        [sys.executable, "-m", "django", "runserver", "--noreload", "--settings",
         "django_stream", f"127.0.0.1:{port}"],
        "/health/",
        {"/pages/3.csv": "GET /pages/{page}.csv", "/articles/fixed.csv": "GET /articles/fixed.csv"},
        "/tail/",
        open_at_exit=True,
    )
    assert_streamed(traces, "GET /pages/{page}.csv", ARTICLES)
    assert_streamed(traces, "GET /articles/fixed.csv", 0)
    assert_ended_by_client(traces, "GET /tail/", count=2)
    assert_no_stray_rows(traces)
    assert_report(
        tmp_path, "GET /pages/{page}.csv", "GET /articles/fixed.csv",
        STREAMING / "django_stream.py", "django_rows", "articles_csv.<locals>.rows", "django",
    )


def test_fastapi_streaming_response_on_uvicorn(tmp_path: Path) -> None:
    port = free_port()
    traces = serve_streams(
        tmp_path, port,
        [console_script("uvicorn"), "asgi_stream:app", "--port", str(port)],
        "/health",
        {
            "/articles.csv": "GET /articles.csv",
            "/sync/articles.csv": "GET /sync/articles.csv",
            "/articles/fixed.csv": "GET /articles/fixed.csv",
        },
        "/tail",
    )
    assert_streamed(traces, "GET /articles.csv", ARTICLES)
    assert_streamed(traces, "GET /sync/articles.csv", ARTICLES)
    assert_streamed(traces, "GET /articles/fixed.csv", 0)
    assert_ended_by_client(traces, "GET /tail")
    assert_no_stray_rows(traces)
    assert_report(
        tmp_path, "GET /articles.csv", "GET /articles/fixed.csv", STREAMING / "asgi_stream.py",
        "asgi_rows", "articles_csv.<locals>.rows", None,
    )


def test_django_async_streaming_response_on_uvicorn(tmp_path: Path) -> None:
    port = free_port()
    traces = serve_streams(
        tmp_path, port,
        [console_script("uvicorn"), "django_stream_asgi:application", "--port", str(port)],
        "/health/",
        {"/async/pages/5.csv": "GET /async/pages/{page}.csv"},
        "/async/tail/",
    )
    assert_streamed(traces, "GET /async/pages/{page}.csv", ARTICLES)
    assert_ended_by_client(traces, "GET /async/tail/")
    assert_no_stray_rows(traces)
