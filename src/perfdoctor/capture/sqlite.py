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

from perfdoctor.capture.context import (
    _current,
    current,
    perf_counter,
    record_connect,
    record_db,
    state,
)

# sqlite3.connect(database, timeout, detect_types, isolation_level, check_same_thread, factory)
_FACTORY_POSITION = 5
_NO_PARAMETERS: Any = object()


class _TracedCursorMixin:
    connection: sqlite3.Connection  # provided by sqlite3.Cursor
    description: Any  # provided by sqlite3.Cursor
    # Rows fetched since the last traced query: a one-item list that query's span
    # holds too, so the count lands in the span whenever the rows are read.
    # sqlite3 has no rowcount for a SELECT; counting in the fetch calls is the
    # only way, and an increment of a list item is the cheapest one.
    _pd_rows: list[int] | None = None
    # The wrapped class's own methods, looked up once per class rather than
    # through super() on every call (see traced_cursor_class).
    _pd_execute: Any
    _pd_fetchone: Any
    _pd_fetchmany: Any
    _pd_fetchall: Any
    _pd_next: Any

    def execute(self, sql: str, parameters: Any = _NO_PARAMETERS, /) -> Any:
        # The hot path of every captured query: no call that can be avoided.
        trace = _current.get()
        if trace is None and state.process_trace_name is not None:
            trace = current()
        if trace is None:
            self._pd_rows = None
            if parameters is _NO_PARAMETERS:
                return self._pd_execute(sql)
            return self._pd_execute(sql, parameters)
        rows = None
        started = perf_counter()
        try:
            # A call without parameters is passed on without them: a cursor subclass
            # may treat the two differently (Django's reads %s placeholders only
            # when given some).
            if parameters is _NO_PARAMETERS:
                parameters = None
                result = self._pd_execute(sql)
            else:
                result = self._pd_execute(sql, parameters)
            # Only a statement that returns rows gets a count (not an INSERT's 0).
            rows = self._pd_rows = [0] if self.description is not None else None
            return result
        finally:
            record_db(
                trace, "sqlite", sql, parameters, started, perf_counter(), id(self.connection), rows
            )

    def fetchone(self) -> Any:
        row = self._pd_fetchone()
        if row is not None:
            rows = self._pd_rows
            if rows is not None:
                rows[0] += 1
        return row

    def fetchmany(self, size: Any = _NO_PARAMETERS) -> Any:
        # Django reads each query's rows in chunks until one comes back empty: that
        # last call (one per query) touches nothing.
        result = self._pd_fetchmany() if size is _NO_PARAMETERS else self._pd_fetchmany(size)
        if result:
            rows = self._pd_rows
            if rows is not None:
                rows[0] += len(result)
        return result

    def fetchall(self) -> Any:
        result = self._pd_fetchall()
        rows = self._pd_rows
        if rows is not None:
            rows[0] += len(result)
        return result

    def __next__(self) -> Any:
        row = self._pd_next()
        rows = self._pd_rows
        if rows is not None:
            rows[0] += 1
        return row

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
def traced_cursor_class(base: type[sqlite3.Cursor]) -> type:
    if issubclass(base, _TracedCursorMixin):
        return base
    return type(
        f"Traced{base.__name__}",
        (_TracedCursorMixin, base),
        {
            "__module__": base.__module__,
            "_pd_execute": base.execute,
            "_pd_fetchone": base.fetchone,
            "_pd_fetchmany": base.fetchmany,
            "_pd_fetchall": base.fetchall,
            "_pd_next": base.__next__,
        },
    )


class _TracedConnectionMixin:
    # The wrapped class's own cursor(), looked up once per class (as the cursor's
    # methods are): Django opens a cursor for every query.
    _pd_cursor: Any

    def cursor(self, factory: type = sqlite3.Cursor) -> Any:
        trace = _current.get()
        if trace is not None and not trace.detail:
            # A request that records nothing (``--sample-tail summary``): the
            # driver's own cursor, whose calls then pass through no Python code.
            return self._pd_cursor(factory)
        return self._pd_cursor(traced_cursor_class(factory))

    def execute(self, sql: str, parameters: Any = _NO_PARAMETERS, /) -> Any:
        trace = _current.get()
        if trace is not None and not trace.detail:
            # As cursor() above, without the call to it the driver's own
            # Connection.execute would make.
            cursor = self._pd_cursor()
            if parameters is _NO_PARAMETERS:
                return cursor.execute(sql)
            return cursor.execute(sql, parameters)
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> Any:
        return self.cursor().executemany(sql, seq_of_parameters)


@functools.cache
def traced_connection_class(base: type) -> type:
    if issubclass(base, _TracedConnectionMixin):
        return base
    connection: Any = base
    return type(
        f"Traced{base.__name__}",
        (_TracedConnectionMixin, base),
        {"__module__": base.__module__, "_pd_cursor": connection.cursor},
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
    trace = current()
    if trace is None:
        conn: sqlite3.Connection = _original_connect(*args, **kwargs)
        return conn
    started = perf_counter()
    conn = _original_connect(*args, **kwargs)
    record_connect(trace, "sqlite", started, conn, blocking=True)
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
