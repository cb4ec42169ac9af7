"""A small SQLite blog shared by the bench test apps: 10 authors, 30 articles."""

from __future__ import annotations

import os
import sqlite3
import tempfile

from tests.inprocess import seed_blog

PATH = os.path.join(tempfile.mkdtemp(prefix="perfdoctor-bench-blog-"), "blog.db")


def _seed() -> None:
    conn = sqlite3.connect(PATH)
    seed_blog(conn, articles=30)
    conn.commit()
    conn.close()


_seed()


def articles_n_plus_one() -> list[dict[str, object]]:
    conn = sqlite3.connect(PATH)
    try:
        rows = conn.execute("SELECT id, title, author_id FROM article ORDER BY id").fetchall()
        result = []
        for id_, title, author_id in rows:
            author = conn.execute("SELECT name FROM author WHERE id = ?", (author_id,)).fetchone()
            result.append({"id": id_, "title": title, "author": author[0]})
        return result
    finally:
        conn.close()


def articles_fixed() -> list[dict[str, object]]:
    conn = sqlite3.connect(PATH)
    try:
        rows = conn.execute(
            "SELECT article.id, article.title, author.name FROM article"
            " JOIN author ON author.id = article.author_id ORDER BY article.id"
        ).fetchall()
        return [{"id": i, "title": t, "author": a} for i, t, a in rows]
    finally:
        conn.close()
