"""asyncpg: PostgreSQL queries of asyncio apps, directly or under SQLAlchemy's async engine.

Every query reaches the server through the Cython protocol's ``bind_execute``
(or ``query`` for a script without arguments), which cannot be patched; the
narrowest Python entries above it are wrapped instead:

* ``Connection._execute``: ``fetch``, ``fetchrow``, ``fetchval``, ``execute``
  with arguments (and pools, whose proxies forward to the connection);
* ``Connection._executemany``: ``executemany``;
* ``Connection.execute`` without arguments (the simple-query protocol);
* ``PreparedStatement``'s bind-execute and ``executemany``: what SQLAlchemy's
  asyncpg dialect runs every statement through.

Spans are marked ``blocking=False``: awaiting them lets the loop serve others.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any

from perfdoctor.capture.context import _muted as _muted_var
from perfdoctor.capture.context import current, perf_counter, record_connect, record_db

_MARK = "__perfdoctor_original__"
SYSTEM = "postgresql"


def _count(data: Any) -> int | None:
    return len(data) if isinstance(data, list) else None


def _wrap(cls: type, name: str, make: Callable[[Any], Any]) -> None:
    original = cls.__dict__.get(name)
    if original is None or hasattr(original, _MARK):
        return
    traced = functools.wraps(original)(make(original))
    setattr(traced, _MARK, original)
    setattr(cls, name, traced)


def _execute(original: Any) -> Any:
    async def traced(self: Any, query: Any, args: Any, *rest: Any, **kwargs: Any) -> Any:
        trace = current()
        if trace is None:
            return await original(self, query, args, *rest, **kwargs)
        started = perf_counter()
        rows = None
        try:
            result = await original(self, query, args, *rest, **kwargs)
            # ``execute`` with arguments returns (records, status, completed); a
            # command returns no records, which is not a fetch of none.
            status = kwargs.get("return_status")
            rows = (_count(result[0]) or None) if status else _count(result)
            return result
        finally:
            record_db(
                trace, SYSTEM, query, tuple(args), started, perf_counter(), id(self), rows, False
            )

    return traced


def _unparameterized(original: Any, *, only_without_args: bool = False) -> Any:
    """A statement recorded without parameters: ``executemany`` (its many sets are
    not one query's), or a script sent by ``execute`` through the simple-query protocol."""

    async def traced(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        trace = current()
        if trace is None or (only_without_args and args):
            # ``execute`` with arguments runs through _execute, traced there.
            return await original(self, query, *args, **kwargs)
        started = perf_counter()
        try:
            return await original(self, query, *args, **kwargs)
        finally:
            record_db(trace, SYSTEM, query, None, started, perf_counter(), id(self), None, False)

    return traced


def _prepared_bind_execute(original: Any) -> Any:
    async def traced(self: Any, args: Any, *rest: Any, **kwargs: Any) -> Any:
        trace = current()
        if trace is None:
            return await original(self, args, *rest, **kwargs)
        started = perf_counter()
        rows = None
        try:
            data = await original(self, args, *rest, **kwargs)
            rows = _count(data)
            return data
        finally:
            record_db(
                trace,
                SYSTEM,
                getattr(self, "_query", None),
                tuple(args),
                started,
                perf_counter(),
                id(getattr(self, "_connection", None)),
                rows,
                False,
            )

    return traced


def _prepared_executemany(original: Any) -> Any:
    async def traced(self: Any, *args: Any, **kwargs: Any) -> Any:
        trace = current()
        if trace is None:
            return await original(self, *args, **kwargs)
        started = perf_counter()
        try:
            return await original(self, *args, **kwargs)
        finally:
            record_db(
                trace,
                SYSTEM,
                getattr(self, "_query", None),
                None,
                started,
                perf_counter(),
                id(getattr(self, "_connection", None)),
                None,
                False,
            )

    return traced


def _muted(original: Any) -> Any:
    """asyncpg's own bookkeeping (a pool's reset on release, type introspection)
    is not the application's work."""

    async def traced(*args: Any, **kwargs: Any) -> Any:
        token = _muted_var.set(True)
        try:
            return await original(*args, **kwargs)
        finally:
            _muted_var.reset(token)

    return traced


def _connect(original: Any) -> Any:
    async def traced(*args: Any, **kwargs: Any) -> Any:
        trace = current()
        if trace is None:
            return await original(*args, **kwargs)
        started = perf_counter()
        conn = await original(*args, **kwargs)
        record_connect(trace, SYSTEM, started, conn)
        return conn

    return traced


def install(module: ModuleType) -> None:
    from asyncpg import connection, prepared_stmt

    conn_cls = connection.Connection
    _wrap(conn_cls, "_execute", _execute)
    _wrap(conn_cls, "_executemany", _unparameterized)
    _wrap(conn_cls, "execute", functools.partial(_unparameterized, only_without_args=True))
    for bookkeeping in ("reset", "_introspect_types", "_introspect_type"):
        _wrap(conn_cls, bookkeeping, _muted)
    stmt_cls = prepared_stmt.PreparedStatement
    _wrap(stmt_cls, "_PreparedStatement__bind_execute", _prepared_bind_execute)
    _wrap(stmt_cls, "executemany", _prepared_executemany)
    original = connection.connect
    if not hasattr(original, _MARK):
        traced = functools.wraps(original)(_connect(original))
        setattr(traced, _MARK, original)
        # Pools look ``connection.connect`` up when they open a connection.
        connection.connect = traced
        if getattr(module, "connect", None) is original:
            setattr(module, "connect", traced)  # noqa: B010  # ModuleType has no connect
