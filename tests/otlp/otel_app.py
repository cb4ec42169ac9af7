"""An app instrumented with OpenTelemetry alone: no perfdoctor in this process.

Flask (opentelemetry-instrumentation-flask) on a real port, SQLite through the
sqlite3 instrumentation, outbound calls through the requests instrumentation to
an upstream ``http.server`` in the same process, and the official OTLP JSON
file exporter writing the spans.  Run as ``python otel_app.py OUT.jsonl DB``;
it prints ``PORT <n>`` when it serves and flushes the exporter on ``/shutdown``.
"""

from __future__ import annotations

import contextvars
import json
import sqlite3
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests
from flask import Flask, jsonify
from opentelemetry import trace
from opentelemetry.exporter.otlp.json.file import FileSpanExporter
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from werkzeug.serving import make_server

# The upstream answers slowly enough that overlapping three calls saves a
# noticeable share of the request (sequential-http reports the time saved).
UPSTREAM_DELAY_S = 0.04
ARTICLES = 8


class Upstream(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(UPSTREAM_DELAY_S)
        body = json.dumps({"path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def create_db(path: str) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS articles (id INTEGER PRIMARY KEY, title TEXT)")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS comments "
            "(id INTEGER PRIMARY KEY, article_id INTEGER, body TEXT)"
        )
        conn.execute("DELETE FROM articles")
        conn.execute("DELETE FROM comments")
        for i in range(1, ARTICLES + 1):
            conn.execute("INSERT INTO articles VALUES (?, ?)", (i, f"title {i}"))
            for j in range(2):
                conn.execute(
                    "INSERT INTO comments (article_id, body) VALUES (?, ?)", (i, f"c{i}.{j}")
                )


def build_app(db_path: str, upstream: str) -> Flask:
    app = Flask(__name__)
    session = requests.Session()

    @app.get("/articles")
    def articles() -> Any:
        # Through a cursor: OpenTelemetry's DB-API instrumentation traces
        # cursor.execute, not sqlite3's Connection.execute shortcut.
        conn = sqlite3.connect(db_path)
        cur = conn.cursor()
        try:
            rows = cur.execute("SELECT id, title FROM articles ORDER BY id").fetchall()
            out = []
            for article_id, title in rows:
                comments = cur.execute(
                    "SELECT body FROM comments WHERE article_id = ?", (article_id,)
                ).fetchall()
                out.append({"title": title, "comments": [c[0] for c in comments]})
        finally:
            conn.close()
        return jsonify(out)

    @app.get("/articles/fixed")
    def articles_fixed() -> Any:
        conn = sqlite3.connect(db_path)
        try:
            rows = (
                conn.cursor()
                .execute(
                    "SELECT a.id, a.title, c.body FROM articles a "
                    "LEFT JOIN comments c ON c.article_id = a.id ORDER BY a.id"
                )
                .fetchall()
            )
        finally:
            conn.close()
        grouped: dict[int, dict[str, Any]] = {}
        for article_id, title, body in rows:
            grouped.setdefault(article_id, {"title": title, "comments": []})["comments"].append(
                body
            )
        return jsonify(list(grouped.values()))

    @app.get("/dashboard")
    def dashboard() -> Any:
        users = session.get(f"{upstream}/users", timeout=5).json()
        orders = session.get(f"{upstream}/orders", timeout=5).json()
        prices = session.get(f"{upstream}/prices", timeout=5).json()
        return jsonify([users, orders, prices])

    @app.get("/dashboard/fixed")
    def dashboard_fixed() -> Any:
        def fetch(name: str) -> Any:
            return requests.get(f"{upstream}/{name}", timeout=5).json()

        # Each worker runs in a copy of this context so its span stays in this trace.
        with ThreadPoolExecutor(max_workers=3) as pool:
            futures = [
                pool.submit(contextvars.copy_context().run, fetch, name)
                for name in ("users", "orders", "prices")
            ]
            return jsonify([f.result() for f in futures])

    return app


def main() -> None:
    out_path, db_path = sys.argv[1], sys.argv[2]
    provider = TracerProvider(resource=Resource.create({"service.name": "otel-only-app"}))
    provider.add_span_processor(BatchSpanProcessor(FileSpanExporter(out_path)))
    trace.set_tracer_provider(provider)
    SQLite3Instrumentor().instrument()
    RequestsInstrumentor().instrument()

    create_db(db_path)
    upstream_server = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream_server.serve_forever, daemon=True).start()
    upstream = f"http://127.0.0.1:{upstream_server.server_address[1]}"

    app = build_app(db_path, upstream)
    FlaskInstrumentor().instrument_app(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)

    @app.post("/shutdown")
    def shutdown() -> Any:
        threading.Thread(target=server.shutdown, daemon=True).start()
        return "bye"

    # The point of this app: OpenTelemetry alone, no perfdoctor in the process.
    assert not [name for name in sys.modules if name.startswith("perfdoctor")]
    print(f"PORT {server.server_port}", flush=True)
    server.serve_forever()
    upstream_server.shutdown()
    # Flushes the batch processor and closes the exporter's file.
    provider.shutdown()


if __name__ == "__main__":
    main()
