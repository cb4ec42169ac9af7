"""sqlite3: every statement run through a connection made by ``sqlite3.connect``.

sqlite3's classes are C types whose methods cannot be patched, so ``connect``
is wrapped to pass a traced ``Connection`` subclass as its factory, and that
connection hands out traced cursors.  A cursor factory of the caller's own
(Django passes one) is kept: the traced class is mixed in front of it.
"""

from __future__ import annotations

import functools
import sqlite3
import sqlite3.dbapi2
from typing import Any

from perfdoctor.capture.context import current, perf_counter, record_db

# sqlite3.connect(database, timeout, detect_types, isolation_level, check_same_thread, factory)
_FACTORY_POSITION = 5
_NO_PARAMETERS: Any = object()


class _TracedCursorMixin:
    connection: sqlite3.Connection  # provided by sqlite3.Cursor

    def execute(self, sql: str, parameters: Any = _NO_PARAMETERS, /) -> Any:
        # A call without parameters is passed on without them: a cursor subclass may
        # treat the two differently (Django's reads %s placeholders only when given some).
        args = (sql,) if parameters is _NO_PARAMETERS else (sql, parameters)
        trace = current()
        if trace is None:
            return super().execute(*args)  # type: ignore[misc]
        started = perf_counter()
        try:
            return super().execute(*args)  # type: ignore[misc]
        finally:
            params = None if parameters is _NO_PARAMETERS else parameters
            record_db(trace, "sqlite", sql, params, started, perf_counter(), id(self.connection))

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> Any:
        trace = current()
        if trace is None:
            return super().executemany(sql, seq_of_parameters)  # type: ignore[misc]
        started = perf_counter()
        try:
            return super().executemany(sql, seq_of_parameters)  # type: ignore[misc]
        finally:
            record_db(trace, "sqlite", sql, None, started, perf_counter(), id(self.connection))


@functools.cache
def traced_cursor_class(base: type) -> type:
    if issubclass(base, _TracedCursorMixin):
        return base
    return type(
        f"Traced{base.__name__}", (_TracedCursorMixin, base), {"__module__": base.__module__}
    )


class _TracedConnectionMixin:
    def cursor(self, factory: type = sqlite3.Cursor) -> Any:
        return super().cursor(traced_cursor_class(factory))  # type: ignore[misc]

    def execute(self, sql: str, parameters: Any = _NO_PARAMETERS, /) -> Any:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> Any:
        return self.cursor().executemany(sql, seq_of_parameters)


@functools.cache
def traced_connection_class(base: type) -> type:
    if issubclass(base, _TracedConnectionMixin):
        return base
    return type(
        f"Traced{base.__name__}", (_TracedConnectionMixin, base), {"__module__": base.__module__}
    )


_original_connect = sqlite3.dbapi2.connect


def _traced_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
    if len(args) > _FACTORY_POSITION:
        args = (
            *args[:_FACTORY_POSITION],
            traced_connection_class(args[_FACTORY_POSITION]),
            *args[_FACTORY_POSITION + 1 :],
        )
    else:
        kwargs["factory"] = traced_connection_class(kwargs.get("factory") or sqlite3.Connection)
    conn: sqlite3.Connection = _original_connect(*args, **kwargs)
    return conn


def install() -> None:
    if sqlite3.dbapi2.connect is _traced_connect:
        return
    # The stub types connect as an overload; ours accepts the same arguments.
    sqlite3.dbapi2.connect = _traced_connect  # type: ignore[assignment]
    sqlite3.connect = _traced_connect  # type: ignore[assignment]


def uninstall() -> None:
    sqlite3.dbapi2.connect = _original_connect
    sqlite3.connect = _original_connect
