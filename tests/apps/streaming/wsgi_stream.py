"""A plain WSGI app whose body is a generator (``yield``), behind perfdoctor's middleware.

``/articles.csv`` looks each row's author up as it streams (an N+1);
``/articles/fixed.csv`` joins; ``/tail`` streams until the client goes away.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from typing import Any

from perfdoctor.capture.wsgi import TraceMiddleware

DATABASE = os.environ["STREAM_DATABASE"]
ROWS_N_PLUS_ONE = "SELECT name FROM author WHERE id = ?"


def rows(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
    path = environ.get("PATH_INFO", "/")
    if path == "/health":
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"ok"
        return
    start_response("200 OK", [("Content-Type", "text/csv")])
    conn = sqlite3.connect(DATABASE)
    try:
        if path == "/articles.csv":
            articles = conn.execute("SELECT id, author_id FROM article ORDER BY id").fetchall()
            for article_id, author_id in articles:  # loop: wsgi_rows
                name = conn.execute(ROWS_N_PLUS_ONE, (author_id,)).fetchone()[0]  # n+1: wsgi_rows
                yield f"{article_id},{name}\n".encode()
        elif path == "/articles/fixed.csv":
            for article_id, name in conn.execute(
                "SELECT article.id, author.name FROM article"
                " JOIN author ON author.id = article.author_id ORDER BY article.id"
            ):
                yield f"{article_id},{name}\n".encode()
        else:
            for n in itertools.count():
                conn.execute(ROWS_N_PLUS_ONE, (n % 3 + 1,)).fetchone()
                yield f"{n}\n".encode()
                time.sleep(0.01)
    finally:
        conn.close()


app = TraceMiddleware(rows)
