"""In-process capture for unit and detector tests: real sqlite3, a real store."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import perfdoctor
from perfdoctor import store
from perfdoctor.capture import context
from perfdoctor.capture import sqlite as sqlite_capture
from perfdoctor.model import Trace


@contextmanager
def capturing(traces: Path, sample: float | None = None) -> Iterator[Path]:
    """Capture into ``traces`` for the duration of the block, then switch off
    (``sample``: as ``run --sample``)."""
    perfdoctor.instrument(traces, sample=sample)
    try:
        yield traces
    finally:
        perfdoctor.uninstrument()
        sqlite_capture.uninstall()


@contextmanager
def capturing_kept(traces: Path) -> Iterator[list[context.ActiveTrace]]:
    """:func:`capturing`, and every finished trace also put in the list yielded,
    as the recorder was handed it (the recorder still writes it)."""
    kept: list[context.ActiveTrace] = []
    with capturing(traces):
        submit = context.state.on_finish
        assert submit is not None

        def keep(trace: context.ActiveTrace) -> None:
            kept.append(trace)
            submit(trace)

        context.state.on_finish = keep
        yield kept


def load(traces: Path) -> list[Trace]:
    return store.load_traces(traces)


def blog_db() -> sqlite3.Connection:
    """A small blog schema: 10 authors, 20 articles. Call inside ``capturing``."""
    conn = sqlite3.connect(":memory:")
    seed_blog(conn, articles=20)
    return conn


def seed_blog(conn: sqlite3.Connection, articles: int) -> None:
    """10 authors and ``articles`` articles spread over them."""
    conn.execute("CREATE TABLE author (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("CREATE TABLE article (id INTEGER PRIMARY KEY, title TEXT, author_id INTEGER)")
    conn.executemany("INSERT INTO author (name) VALUES (?)", [(f"author {i}",) for i in range(10)])
    conn.executemany(
        "INSERT INTO article (title, author_id) VALUES (?, ?)",
        [(f"title {i}", i % 10 + 1) for i in range(articles)],
    )
