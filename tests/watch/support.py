"""A small Flask app captured in this process, and a webhook receiver that records POSTs."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.conftest import serving
from tests.inprocess import capturing

SLOW_S = 0.05


def capture(traces: Path, *paths: str, sample: float | None = None) -> None:
    """Send ``paths`` (each a GET) to the shop app with capture on (``sample``: as
    ``run --sample``); the traces are in the store when this returns."""
    with capturing(traces, sample):
        from flask import Flask, jsonify, request

        app = Flask("watched_shop")

        def db() -> sqlite3.Connection:
            conn = sqlite3.connect(":memory:")
            conn.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)")
            conn.executemany("INSERT INTO item (name) VALUES (?)", [(f"i{i}",) for i in range(20)])
            return conn

        @app.get("/items")
        def items() -> object:
            # ?queries=N: N statements of different shapes, so the count is the only problem.
            conn = db()
            count = int(request.args.get("queries", "1"))
            rows = [
                conn.execute(f"SELECT {i} AS n, count(*) FROM item").fetchone()
                for i in range(count)
            ]
            return jsonify(len(rows))

        @app.get("/orders")
        def orders() -> object:
            if request.args.get("fail"):
                return jsonify(error="payment service down"), 503
            return jsonify(db().execute("SELECT count(*) FROM item").fetchone()[0])

        @app.get("/report")
        def report() -> object:
            conn = db()
            ids = [row[0] for row in conn.execute("SELECT id FROM item").fetchall()]
            if request.args.get("loop"):  # an N+1: one query per row
                names = [
                    conn.execute("SELECT name FROM item WHERE id = ?", (i,)).fetchone() for i in ids
                ]
                return jsonify(len(names))
            return jsonify(len(conn.execute("SELECT name FROM item").fetchall()))

        @app.get("/search")
        def search() -> object:
            conn = db()
            # ?slow=1: the statement waits in SQLite (a function it calls), as a
            # query over an unindexed table does, so it is over any budget below SLOW_S.
            conn.create_function("pause", 1, lambda s: time.sleep(s) or 0)
            wait = SLOW_S if request.args.get("slow") else 0
            return jsonify(conn.execute("SELECT pause(?), count(*) FROM item", (wait,)).fetchone())

        client = app.test_client()
        for path in paths:
            # The trace ends when the server closes the body, as a WSGI server does.
            client.get(path).close()


class Webhook:
    """The POSTs received, and the status to answer with."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.status = 200
        self.lock = threading.Lock()

    def texts(self) -> list[str]:
        with self.lock:
            return [str(p["text"]) for p in self.posts]


@contextmanager
def webhook_receiver() -> Iterator[tuple[str, Webhook]]:
    hook = Webhook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if hook.status == 200:
                with hook.lock:
                    hook.posts.append(json.loads(body))
            self.send_response(hook.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as url:
        yield url + "/hook", hook
