"""PyMySQL (also when installed as ``MySQLdb`` for Django's MySQL backend).

Only ``execute`` is wrapped: PyMySQL's ``executemany`` runs through it, so each
statement it sends is one span.
"""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any

from perfdoctor.capture.context import current, perf_counter, record_connect
from perfdoctor.capture.dbapi import MARK, wrap_execute


def install(cursors: ModuleType) -> None:
    # Cursor reads a SELECT's rows in execute; SSCursor (unbuffered) inherits this
    # execute but reports no count until read, which _rows_fetched leaves out.
    wrap_execute(
        cursors.Cursor, "execute", "mysql", "args", lambda c: c.connection, count_rows=True
    )


def install_connect(connections: ModuleType) -> None:
    """A ``db.connect`` span each time a connection is opened (at construction, and
    on ``ping(reconnect=True)``)."""
    connection_cls = connections.Connection
    original = connection_cls.__dict__.get("connect")
    if original is None or hasattr(original, MARK):
        return

    @functools.wraps(original)
    def connect(self: Any, *args: Any, **kwargs: Any) -> Any:
        trace = current()
        if trace is None:
            return original(self, *args, **kwargs)
        started = perf_counter()
        result = original(self, *args, **kwargs)
        record_connect(trace, "mysql", started, self, blocking=True)
        return result

    setattr(connect, MARK, original)
    connection_cls.connect = connect
