"""mysql-connector-python (``mysql.connector``): its pure-Python and C-extension cursors.

Both kinds of cursor are Python classes.  ``execute`` is wrapped in place on
each class that defines its own (the plain and the prepared cursor of either
kind); ``executemany`` runs through it, so each statement sent is one span.

The default cursor is unbuffered: when ``execute`` returns, the rows are still
on the wire.  A SELECT's span holds a one-item list, and each fetch sets it to
the cursor's own count of rows read (``rowcount``), so nested fetches (a dict
cursor's ``fetchone`` over the plain one's) cannot count a row twice.  A
buffered cursor has its count when ``execute`` returns.

The connection is timed in ``connect`` (called by the constructor, and again
by ``reconnect``).  The pure connection reads its ``sql_mode`` through a cursor
the first time a statement has parameters: the driver's bookkeeping, left out
as Django's ``SELECT QUOTE`` is.  The asyncio package (``mysql.connector.aio``)
is not traced.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any

from perfdoctor.capture.context import current, muted, perf_counter, record_db
from perfdoctor.capture.dbapi import MARK, _statement, wrap_connect

SYSTEM = "mysql"
_EXECUTE = "execute"
_FETCHES = ("fetchone", "fetchmany", "fetchall")


def install_cursors(module: ModuleType) -> None:
    """Trace the cursor classes defined in ``mysql.connector.cursor`` or ``.cursor_cext``."""
    for cls in list(vars(module).values()):
        if not isinstance(cls, type) or cls.__module__ != module.__name__:
            continue
        if _EXECUTE in cls.__dict__:
            _wrap_execute(cls)
        for name in _FETCHES:
            if name in cls.__dict__:
                _wrap_fetch(cls, name)


def _connection_id(cursor: Any) -> int | None:
    # The cursor holds a weakref.proxy; get_self() is the connection the
    # db.connect span names.
    try:
        return id(cursor._connection.get_self())
    except Exception:
        return None


def _wrap_execute(cls: type) -> None:
    original = cls.__dict__[_EXECUTE]
    if hasattr(original, MARK):
        return

    @functools.wraps(original)
    def execute(self: Any, operation: Any, *args: Any, **kwargs: Any) -> Any:
        self._pd_rows = None
        trace = current()
        if trace is None:
            return original(self, operation, *args, **kwargs)
        started = perf_counter()
        rows: list[int] | None = None
        try:
            result = original(self, operation, *args, **kwargs)
            rows = self._pd_rows = _rows_so_far(self)
            return result
        finally:
            record_db(
                trace,
                SYSTEM,
                _statement(operation, self),
                args[0] if args else kwargs.get("params"),
                started,
                perf_counter(),
                _connection_id(self),
                rows,
            )

    setattr(execute, MARK, original)
    setattr(cls, _EXECUTE, execute)


def _rows_so_far(cursor: Any) -> list[int] | None:
    """None for a statement without a result set; else the rows read, counted on."""
    try:
        if cursor.description is None:
            return None
        count = cursor.rowcount
        return [count if type(count) is int and count > 0 else 0]
    except Exception:
        return None


def _wrap_fetch(cls: type, name: str) -> None:
    original: Callable[..., Any] = cls.__dict__[name]
    if hasattr(original, MARK):
        return

    @functools.wraps(original)
    def fetch(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        rows = getattr(self, "_pd_rows", None)
        if rows is not None:
            try:
                count = self.rowcount
                if type(count) is int and count > rows[0]:
                    rows[0] = count
            except Exception:  # pragma: no cover - defensive
                pass
        return result

    setattr(fetch, MARK, original)
    setattr(cls, name, fetch)


def install_connection(connection: ModuleType) -> None:
    """A ``db.connect`` span each time a connection (pure or C) is opened; the pure
    connection's own ``SELECT @@session.sql_mode`` (``info_query``) left out."""
    wrap_connect(connection.MySQLConnectionAbstract, "connect", SYSTEM)
    pure = connection.MySQLConnection
    info_query = pure.__dict__.get("info_query")
    if info_query is not None:
        pure.info_query = muted(info_query)
