"""What OpenTelemetry's Node.js SDK sends, received the way it sends it.

Seen with an Express app on node-postgres under
``@opentelemetry/auto-instrumentations-node`` (sdk-node 0.223, instrumentation-pg
0.76) exporting to ``perfdoctor collect``: its exporter streams each body
(``Transfer-Encoding: chunked``, no Content-Length), which the receiver answered
with 411, so nothing arrived; its queries carry ``$1`` placeholders and no
values, which made an N+1 read as one query run 30 times with the same
parameters; each query's pool checkout (``pg-pool.connect``, a db span with no
statement) counted as a query; and the DNS lookup of the pool's first connection
became an endpoint.  The spans below have the attributes that SDK sent.
"""

from __future__ import annotations

import gzip
import http.client
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from perfdoctor import store
from tests.collect.receiver import Receiver
from tests.conftest import findings, report_json
from tests.otlp.otlp_lines import request, span

BOOKS = 30
REQUESTS = 3
LIST = "SELECT id, title, author_id FROM book ORDER BY id LIMIT 30"
AUTHOR = "SELECT name FROM author WHERE id = $1"
PG = {"db.system.name": "postgresql", "db.namespace": "nodeshop", "server.address": "127.0.0.1"}
CLIENT, SERVER = 3, 2


def _request_spans(trace: str, first: bool) -> list[dict[str, Any]]:
    """GET /books: the list, then each book's author with a query of its own, every
    query after a pool checkout; the first request's checkout opens the connection."""
    root = "e" + trace[17:]
    server = {
        "http.request.method": "GET",
        "http.route": "/books",
        "http.response.status_code": 200,
    }
    spans = [span(root, "GET /books", SERVER, 0.0, 80.0, server, parent=None, trace=trace)]
    at = 1.0
    for n, text in enumerate([LIST] + [AUTHOR] * BOOKS):
        checkout = f"{2 * n + 1:016x}"
        spans.append(span(checkout, "pg-pool.connect", CLIENT, at, 0.3, PG, root, trace))
        if first and n == 0:
            spans.append(
                span(
                    "c" * 16,
                    "pg.connect",
                    CLIENT,
                    at,
                    0.2,
                    {**PG, "server.port": 5432},
                    checkout,
                    trace,
                )
            )
        query = {**PG, "server.port": 5432, "db.query.text": text}
        spans.append(
            span(
                f"{2 * n + 2:016x}",
                "pg.query:SELECT nodeshop",
                CLIENT,
                at + 0.4,
                1.5,
                query,
                root,
                trace,
            )
        )
        at += 2.0
    return spans


def _dns_lookup(trace: str) -> dict[str, Any]:
    return span("d" * 16, "dns.lookup", CLIENT, 0.0, 0.8, {"peer.ipv4": "127.0.0.1"}, None, trace)


def _streamed(url: str, body: bytes, pieces: int = 4, gzipped: bool = True) -> int:
    """POSTs ``body`` as the Node exporter does: chunked, no Content-Length."""
    data = gzip.compress(body) if gzipped else body
    step = max(1, len(data) // pieces)
    chunks = [data[i : i + step] for i in range(0, len(data), step)]
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        headers = {"Content-Type": "application/json"}
        if gzipped:
            headers["Content-Encoding"] = "gzip"
        conn.request("POST", parts.path, body=iter(chunks), headers=headers, encode_chunked=True)
        return conn.getresponse().status
    finally:
        conn.close()


def test_a_streamed_export_of_node_postgres_spans_is_read_as_node_ran_it(
    receiver: Receiver,
) -> None:
    traces = [f"{i + 1:032x}" for i in range(REQUESTS)]
    spans = [s for i, t in enumerate(traces) for s in _request_spans(t, first=i == 0)]
    spans.append(_dns_lookup("f" * 32))
    body = json.dumps(request(spans, scope="@opentelemetry/instrumentation-pg")).encode()
    assert _streamed(receiver.url, body) == 200
    assert receiver.stop()[0] == 0

    report = report_json(receiver.store)
    assert [e["name"] for e in report["endpoints"]] == ["GET /books"]
    assert report["endpoints"][0]["queries_per_request"] == BOOKS + 1
    [n_plus_one] = findings(report, "n-plus-one-query", "GET /books")
    assert n_plus_one["evidence"]["count"] == BOOKS
    assert n_plus_one["evidence"]["statement"] == "SELECT name FROM author WHERE id = ?"
    assert n_plus_one["evidence"]["parent_statement"] == LIST.replace("30", "?")
    # No values recorded: nothing says two runs had the same parameters.
    assert not findings(report, "duplicate-query")
    connects = {
        t.id: sum(s.kind == "db.connect" for s in t.spans)
        for t in store.iter_traces(receiver.store)
    }
    assert connects == {traces[0]: 1, traces[1]: 0, traces[2]: 0}


def test_a_streamed_body_over_the_limit_answers_413(tmp_path: Path) -> None:
    receiver = Receiver(tmp_path, "collect_max_body_bytes = 4000")
    try:
        assert _streamed(receiver.url, b"{" + b" " * 9000 + b"}", gzipped=False) == 413
        small = json.dumps(request(_request_spans("a" * 32, first=False)[:3])).encode()
        assert _streamed(receiver.url, small, gzipped=False) == 200
    finally:
        receiver.kill()
