"""psycopg 3: Django's and SQLAlchemy's PostgreSQL backends both go through here."""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any

from perfdoctor.capture.context import current, perf_counter, record_connect
from perfdoctor.capture.dbapi import MARK, wrap_execute


def install(psycopg: ModuleType) -> None:
    for cls in (psycopg.Cursor, getattr(psycopg, "ServerCursor", None)):
        if cls is None:
            continue
        # A server-side cursor fetches later, in batches: its rowcount is not the rows.
        wrap_execute(
            cls,
            "execute",
            "postgresql",
            "params",
            lambda c: c.connection,
            count_rows=cls is psycopg.Cursor,
        )
        wrap_execute(
            cls, "executemany", "postgresql", "params_seq", lambda c: c.connection, many=True
        )
    _wrap_connect(psycopg)


def _wrap_connect(psycopg: ModuleType) -> None:
    """A ``db.connect`` span for each new connection (``psycopg.connect`` and
    ``Connection.connect``, which Django and SQLAlchemy call)."""
    connection_cls = psycopg.Connection
    descriptor = connection_cls.__dict__.get("connect")
    original = getattr(descriptor, "__func__", None)
    if original is None or hasattr(original, MARK):
        return

    @functools.wraps(original)
    def connect(cls: type, *args: Any, **kwargs: Any) -> Any:
        trace = current()
        if trace is None:
            return original(cls, *args, **kwargs)
        started = perf_counter()
        conn = original(cls, *args, **kwargs)
        record_connect(trace, "postgresql", started, conn, blocking=True)
        return conn

    setattr(connect, MARK, original)
    connection_cls.connect = classmethod(connect)
    # ``psycopg.connect`` is an alias bound when psycopg was imported.
    if getattr(psycopg.connect, "__func__", None) is original:
        psycopg.connect = connection_cls.connect  # type: ignore[attr-defined]
