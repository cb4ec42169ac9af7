"""aiosqlite: SQLite queries of asyncio apps (directly, or under SQLAlchemy's async engine).

aiosqlite runs every sqlite3 call on a worker thread of its own, where the
request's context variable is not set, so the queries are recorded here, in the
event loop, when ``Connection._execute`` hands a call to that thread and gets
its answer; the worker thread's own sqlite3 calls are muted so that nothing is
recorded twice (or into the server's process trace).  The sqlite3 cursor the
query ran on still counts the rows fetched from it, into this span.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any

from perfdoctor.capture.context import current, muted, perf_counter, record_connect, record_db

_MARK = "__perfdoctor_original__"
# sqlite3 calls (by name) that run a statement; their first argument is the SQL.
_QUERIES = frozenset({"execute", "executemany", "executescript", "_execute_fetchall"})
_WITH_PARAMETERS = frozenset({"execute", "_execute_fetchall"})


def _traced_execute(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def _execute(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        trace = current()
        name = getattr(fn, "__name__", "")
        if trace is None or name not in _QUERIES or not args:
            return await original(self, fn, *args, **kwargs)
        started = perf_counter()
        rows: int | list[int] | None = None
        try:
            result = await original(self, fn, *args, **kwargs)
            rows = _rows_of(name, result)
            return result
        finally:
            params = args[1] if name in _WITH_PARAMETERS and len(args) > 1 else None
            record_db(
                trace, "sqlite", args[0], params, started, perf_counter(), id(self), rows, False
            )

    setattr(_execute, _MARK, original)
    return _execute


def _rows_of(name: str, result: Any) -> int | list[int] | None:
    try:
        if name == "_execute_fetchall":
            return len(result)
        if getattr(result, "description", None) is None:
            return None
        # The sqlite3 cursor's own running count (see capture.sqlite), from now on
        # kept for this span; its fetches run on the worker thread.
        counter = [0]
        result._pd_rows = counter
        return counter
    except Exception:
        return None


def _traced_connect(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def _connect(self: Any) -> Any:
        trace = current()
        if trace is None or getattr(self, "_connection", None) is not None:
            return await original(self)
        started = perf_counter()
        result = await original(self)
        record_connect(trace, "sqlite", started, self)
        return result

    setattr(_connect, _MARK, original)
    return _connect


def install(module: ModuleType) -> None:
    core = getattr(module, "core", None)
    connection = getattr(core, "Connection", None)
    if core is None or connection is None or hasattr(connection.__dict__.get("_execute"), _MARK):
        return
    connection._execute = _traced_execute(connection._execute)
    connection._connect = _traced_connect(connection._connect)
    worker = getattr(core, "_connection_worker_thread", None)
    if worker is not None:
        # The thread's target is looked up when a Connection is made.
        core._connection_worker_thread = muted(worker)
