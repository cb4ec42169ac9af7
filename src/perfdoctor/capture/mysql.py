"""PyMySQL (also when installed as ``MySQLdb`` for Django's MySQL backend).

Only ``execute`` is wrapped: PyMySQL's ``executemany`` runs through it, so each
statement it sends is one span.
"""

from __future__ import annotations

from types import ModuleType

from perfdoctor.capture.dbapi import wrap_connect, wrap_execute


def install(cursors: ModuleType) -> None:
    # Cursor reads a SELECT's rows in execute; SSCursor (unbuffered) inherits this
    # execute but reports no count until read, which _rows_fetched leaves out.
    wrap_execute(
        cursors.Cursor, "execute", "mysql", "args", lambda c: c.connection, count_rows=True
    )


def install_connect(connections: ModuleType) -> None:
    """A ``db.connect`` span each time a connection is opened (at construction, and
    on ``ping(reconnect=True)``)."""
    wrap_connect(connections.Connection, "connect", "mysql")
