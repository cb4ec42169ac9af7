"""Flask responses streamed from generators that query as they go.

``/articles.csv`` streams one line per article and looks its author up per row
(an N+1 inside ``stream_with_context``); ``/articles/fixed.csv`` joins instead.
``/pages/<page>.csv`` is a plain generator body (no request context kept) and
``/tail`` streams until the client goes away.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import time

from flask import Flask, Response, stream_with_context

app = Flask(__name__)
DATABASE = os.environ["STREAM_DATABASE"]


@app.get("/health")
def health() -> str:
    return "ok"


@app.get("/articles.csv")
def articles_csv() -> Response:
    @stream_with_context
    def rows():
        conn = sqlite3.connect(DATABASE)
        try:
            articles = conn.execute("SELECT id, title, author_id FROM article ORDER BY id")
            for article_id, title, author_id in articles.fetchall():  # loop: flask_rows
                author = conn.execute("SELECT name FROM author WHERE id = ?", (author_id,))  # n+1: flask_rows
                yield f"{article_id},{title},{author.fetchone()[0]}\n"
        finally:
            conn.close()

    return Response(rows(), mimetype="text/csv")


@app.get("/articles/fixed.csv")
def articles_fixed_csv() -> Response:
    @stream_with_context
    def rows():
        conn = sqlite3.connect(DATABASE)
        try:
            joined = conn.execute(
                "SELECT article.id, article.title, author.name FROM article"
                " JOIN author ON author.id = article.author_id ORDER BY article.id"
            )
            for article_id, title, name in joined:
                yield f"{article_id},{title},{name}\n"
        finally:
            conn.close()

    return Response(rows(), mimetype="text/csv")


@app.get("/pages/<int:page>.csv")
def page_csv(page: int) -> Response:
    def rows():
        conn = sqlite3.connect(DATABASE)
        try:
            articles = conn.execute("SELECT id, author_id FROM article ORDER BY id").fetchall()
            for article_id, author_id in articles:  # loop: flask_plain
                author = conn.execute("SELECT name FROM author WHERE id = ?", (author_id,))  # n+1: flask_plain
                yield f"{page},{article_id},{author.fetchone()[0]}\n"
        finally:
            conn.close()

    return Response(rows(), mimetype="text/csv")


@app.get("/tail")
def tail() -> Response:
    @stream_with_context
    def rows():
        conn = sqlite3.connect(DATABASE)
        try:
            for n in itertools.count():
                conn.execute("SELECT name FROM author WHERE id = ?", (n % 3 + 1,)).fetchone()
                yield f"{n}\n"
                time.sleep(0.01)
        finally:
            conn.close()

    return Response(rows(), mimetype="text/plain")
