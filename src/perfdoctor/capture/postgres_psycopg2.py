"""psycopg2: every statement run through a connection opened by ``psycopg2.connect``.

psycopg2's connection and cursor are C types whose methods cannot be patched.
``psycopg2._connect`` (what ``psycopg2.connect``, its pool and Django call) is
wrapped to pass a traced subclass as the ``connection_factory``, and that
connection hands out traced cursors through ``cursor_factory``.  A factory of
the caller's own (``RealDictCursor``, ``LoggingConnection``...) is kept: the
traced class goes *after* it in the method order, right above the C type, so
a Python cursor's ``execute`` that ends in ``super().execute`` (the dict and
named-tuple cursors, ``execute_values``/``execute_batch`` through them) is one
span, timed around the round trip alone.

A named (server-side) cursor's ``execute`` only declares it; its rows arrive
with each fetch, so they are counted as they are read.  ``callproc`` and the
``copy_*`` methods are not traced.
"""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any

from perfdoctor.capture.context import (
    current,
    perf_counter,
    record_connect,
    record_db,
)
from perfdoctor.capture.dbapi import MARK, _rows_fetched, _statement

SYSTEM = "postgresql"


def install(psycopg2: ModuleType) -> None:
    original = psycopg2._connect
    if hasattr(original, MARK):
        return
    extensions = psycopg2.extensions
    classes = _Classes(extensions.connection, extensions.cursor)

    @functools.wraps(original)
    def connect(dsn: Any, connection_factory: Any = None, *args: Any, **kwargs: Any) -> Any:
        factory = classes.connection_class(connection_factory)
        if factory is None:  # a factory function of the caller's: left as it is
            return original(dsn, connection_factory, *args, **kwargs)
        trace = current()
        if trace is None:
            return original(dsn, factory, *args, **kwargs)
        started = perf_counter()
        conn = original(dsn, factory, *args, **kwargs)
        record_connect(trace, SYSTEM, started, conn, blocking=True)
        return conn

    setattr(connect, MARK, original)
    psycopg2._connect = connect  # type: ignore[attr-defined]


class _Classes:
    """The traced connection and cursor classes, made per factory class once."""

    def __init__(self, base_connection: type, base_cursor: type) -> None:
        self.base_connection = base_connection
        self.base_cursor = base_cursor
        self.traced_connection = _traced_connection(base_connection, self)
        self.traced_cursor = _traced_cursor(base_cursor)
        self.traced_named_cursor = _traced_named_cursor(self.traced_cursor)
        self._connections: dict[Any, type | None] = {}
        self._cursors: dict[tuple[Any, bool], type | None] = {}

    def connection_class(self, factory: Any) -> type | None:
        """``factory`` with tracing, or None for a factory that is not a connection class."""
        try:
            return self._connections[factory]
        except KeyError:
            pass
        except TypeError:  # unhashable: a callable object of the caller's
            return None
        made: type | None
        if factory is None or factory is self.base_connection:
            made = self.traced_connection
        else:
            made = _subclass(factory, self.base_connection, self.traced_connection)
        self._connections[factory] = made
        return made

    def cursor_class(self, factory: Any, named: bool) -> type | None:
        key = (factory, named)
        try:
            return self._cursors[key]
        except KeyError:
            pass
        except TypeError:
            return None
        traced = self.traced_named_cursor if named else self.traced_cursor
        made: type | None
        if factory is None or factory is self.base_cursor:
            made = traced
        else:
            made = _subclass(factory, self.base_cursor, traced)
        self._cursors[key] = made
        return made


def _subclass(factory: Any, base: type, traced: type) -> type | None:
    """``factory`` with ``traced`` between it and the C ``base``, or None if impossible."""
    if not isinstance(factory, type) or not issubclass(factory, base):
        return None
    if issubclass(factory, traced):
        return factory
    try:
        return type(
            f"Traced{factory.__name__}", (factory, traced), {"__module__": factory.__module__}
        )
    except TypeError:  # a layout or metaclass this cannot mix with
        return None


# connection.cursor(name=None, cursor_factory=None, withhold=False, scrollable=None)
_FACTORY_POSITION = 1


def _traced_connection(base: Any, classes: _Classes) -> type:
    base_cursor_method = base.cursor

    def cursor(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            name = kwargs.get("name", args[0] if args else None)
            if len(args) > _FACTORY_POSITION:
                factory = args[_FACTORY_POSITION]
            else:
                factory = kwargs.get("cursor_factory")
            traced = classes.cursor_class(factory or self.cursor_factory, name is not None)
            if traced is not None:
                if len(args) > _FACTORY_POSITION:
                    args = (*args[:_FACTORY_POSITION], traced, *args[_FACTORY_POSITION + 1 :])
                else:
                    kwargs["cursor_factory"] = traced
        except Exception:  # pragma: no cover - defensive: the app's cursor, untraced
            pass
        return base_cursor_method(self, *args, **kwargs)

    return type("TracedConnection", (base,), {"__module__": base.__module__, "cursor": cursor})


def _record(
    trace: Any, cursor: Any, query: Any, params: Any, started: float, rows: Any = None
) -> None:
    record_db(
        trace, SYSTEM, _statement(query, cursor), params, started, perf_counter(),
        id(cursor.connection), rows,
    )


def _traced_cursor(base: Any) -> type:
    base_execute = base.execute
    base_executemany = base.executemany

    def execute(self: Any, query: Any, vars: Any = None) -> Any:
        trace = current()
        if trace is None:
            return base_execute(self, query, vars)
        started = perf_counter()
        rows = None
        try:
            result = base_execute(self, query, vars)
            rows = _rows_fetched(self)
            return result
        finally:
            _record(trace, self, query, vars, started, rows)

    def executemany(self: Any, query: Any, vars_list: Any) -> Any:
        trace = current()
        if trace is None:
            return base_executemany(self, query, vars_list)
        started = perf_counter()
        try:
            return base_executemany(self, query, vars_list)
        finally:
            _record(trace, self, query, None, started)

    return type(
        "TracedCursor",
        (base,),
        {"__module__": base.__module__, "execute": execute, "executemany": executemany},
    )


def _traced_named_cursor(traced: Any) -> type:
    """A server-side cursor: ``execute`` declares it, the fetches bring its rows."""
    base_execute = traced.__mro__[1].execute

    def execute(self: Any, query: Any, vars: Any = None) -> Any:
        trace = current()
        if trace is None:
            self._pd_rows = None
            return base_execute(self, query, vars)
        started = perf_counter()
        rows: list[int] | None = None
        try:
            result = base_execute(self, query, vars)
            # The span holds this list; each fetch adds to it.
            rows = self._pd_rows = [0]
            return result
        finally:
            _record(trace, self, query, vars, started, rows)

    base = traced.__mro__[1]
    base_fetchone, base_fetchmany, base_fetchall = base.fetchone, base.fetchmany, base.fetchall
    base_next = base.__next__

    def fetchone(self: Any) -> Any:
        row = base_fetchone(self)
        rows = self._pd_rows
        if rows is not None and row is not None:
            rows[0] += 1
        return row

    def fetchmany(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = base_fetchmany(self, *args, **kwargs)
        rows = self._pd_rows
        if rows is not None:
            rows[0] += len(result)
        return result

    def fetchall(self: Any) -> Any:
        result = base_fetchall(self)
        rows = self._pd_rows
        if rows is not None:
            rows[0] += len(result)
        return result

    def next_row(self: Any) -> Any:
        row = base_next(self)
        rows = self._pd_rows
        if rows is not None:
            rows[0] += 1
        return row

    return type(
        "TracedNamedCursor",
        (traced,),
        {
            "__module__": traced.__module__,
            "_pd_rows": None,
            "execute": execute,
            "fetchone": fetchone,
            "fetchmany": fetchmany,
            "fetchall": fetchall,
            "__next__": next_row,
        },
    )
