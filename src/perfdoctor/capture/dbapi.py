"""Wrapping of pure-Python DB-API cursor classes (psycopg 3, PyMySQL).

The class's ``execute`` is replaced in place, so every cursor of the driver is
traced, whoever made it: the user, Django or SQLAlchemy.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from perfdoctor.capture.context import current, perf_counter, record_connect, record_db

MARK = "__perfdoctor_original__"


def _statement(query: Any, cursor: Any) -> Any:
    if isinstance(query, (str, bytes)):
        return query
    if isinstance(query, (bytearray, memoryview)):
        # PyMySQL's executemany sends each multi-row INSERT as a bytearray.
        return bytes(query)
    # psycopg's sql.Composed and friends need the connection to render.
    try:
        return query.as_string(cursor.connection)
    except Exception:
        return str(query)


# An unbuffered cursor reports -1 (or its unsigned form) until it has read everything.
_MAX_ROWCOUNT = 1 << 62


def _rows_fetched(cursor: Any) -> int | None:
    """Rows a statement returned, None for one that returns none (INSERT, UPDATE...)."""
    try:
        if cursor.description is None:
            return None
        count = cursor.rowcount
        return count if type(count) is int and 0 <= count < _MAX_ROWCOUNT else None
    except Exception:
        return None


def wrap_execute(
    cls: type,
    name: str,
    system: str,
    params_name: str,
    connection_of: Callable[[Any], Any],
    many: bool = False,
    count_rows: bool = False,
) -> None:
    """Replace ``cls.name`` with a traced version (idempotent).

    ``count_rows``: the driver has fetched a SELECT's rows by the time ``execute``
    returns, so ``rowcount`` is the number of rows fetched (psycopg's and
    PyMySQL's client-side cursors).
    """
    original = cls.__dict__.get(name)
    if original is None or hasattr(original, MARK):
        return

    @functools.wraps(original)
    def traced(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        trace = current()
        if trace is None:
            return original(self, query, *args, **kwargs)
        started = perf_counter()
        rows = None
        try:
            result = original(self, query, *args, **kwargs)
            if count_rows:
                rows = _rows_fetched(self)
            return result
        finally:
            params = None if many else (args[0] if args else kwargs.get(params_name))
            try:
                conn_id = id(connection_of(self))
            except Exception:
                conn_id = None
            record_db(
                trace,
                system,
                _statement(query, self),
                params,
                started,
                perf_counter(),
                conn_id,
                rows,
            )

    setattr(traced, MARK, original)
    setattr(cls, name, traced)


def unwrap(cls: type, name: str) -> None:
    current_value = cls.__dict__.get(name)
    original = getattr(current_value, MARK, None)
    if original is not None:
        setattr(cls, name, original)


def wrap_connect(cls: type, name: str, system: str) -> None:
    """A ``db.connect`` span each time the method ``name`` of a connection class
    opens the connection (``connect``, or ``__init__`` where the constructor does)."""
    original = cls.__dict__.get(name)
    if original is None or hasattr(original, MARK):
        return

    @functools.wraps(original)
    def connect(self: Any, *args: Any, **kwargs: Any) -> Any:
        trace = current()
        if trace is None:
            return original(self, *args, **kwargs)
        started = perf_counter()
        result = original(self, *args, **kwargs)
        record_connect(trace, system, started, self, blocking=True)
        return result

    setattr(connect, MARK, original)
    setattr(cls, name, connect)
