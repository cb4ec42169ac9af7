"""psycopg 3: Django's and SQLAlchemy's PostgreSQL backends both go through here."""

from __future__ import annotations

from types import ModuleType

from perfdoctor.capture.dbapi import wrap_execute


def install(psycopg: ModuleType) -> None:
    for cls in (psycopg.Cursor, getattr(psycopg, "ServerCursor", None)):
        if cls is None:
            continue
        wrap_execute(cls, "execute", "postgresql", "params", lambda c: c.connection)
        wrap_execute(
            cls, "executemany", "postgresql", "params_seq", lambda c: c.connection, many=True
        )
