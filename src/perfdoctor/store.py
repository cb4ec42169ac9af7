"""The trace store: one SQLite file in WAL mode, safe for many writer processes.

Default location ``.perfdoctor/traces.db``; every command takes ``--traces PATH``.
The schema version is SQLite's ``user_version``; a store written by a newer
perfdoctor is refused rather than misread.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

from perfdoctor.errors import StoreError
from perfdoctor.model import Location, Span, Trace

SCHEMA_VERSION = 1
DEFAULT_PATH = Path(".perfdoctor") / "traces.db"
ENV_PATH = "PERFDOCTOR_TRACES"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS traces (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    started_at REAL NOT NULL,
    duration_ms REAL NOT NULL,
    status INTEGER,
    pid INTEGER,
    cpu_ms REAL,
    attrs TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS spans (
    trace_id TEXT NOT NULL REFERENCES traces(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    start_ms REAL NOT NULL,
    duration_ms REAL NOT NULL,
    framework TEXT,
    system TEXT,
    statement TEXT,
    fingerprint TEXT,
    params_digest TEXT,
    rows INTEGER,
    connection_id INTEGER,
    stack TEXT NOT NULL DEFAULT '[]',
    attrs TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (trace_id, seq)
);
CREATE INDEX IF NOT EXISTS traces_name ON traces(name);
"""


def default_path() -> Path:
    env = os.environ.get(ENV_PATH)
    return Path(env) if env else DEFAULT_PATH


def _connect(path: Path) -> sqlite3.Connection:
    # A generous busy timeout: several gunicorn workers flush at the same moment.
    # The class is called directly, not sqlite3.connect: under capture that is
    # patched, and perfdoctor must not trace its own writes.
    # check_same_thread off: the recorder uses it under its lock from its own
    # thread and from flush()/atexit callers.
    conn = sqlite3.Connection(
        str(path), timeout=60.0, isolation_level=None, check_same_thread=False
    )
    conn.execute("PRAGMA busy_timeout = 60000")
    return conn


def _retry(action: Any, attempts: int = 20) -> Any:
    for attempt in range(attempts):
        try:
            return action()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    return None


def open_for_writing(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) a store to write to."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = _connect(path)

    def setup() -> None:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{path} was written by a newer perfdoctor (schema {version}); "
                    "upgrade perfdoctor or choose another file with --traces"
                )
            _create(conn)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    _retry(setup)
    return conn


def _create(conn: sqlite3.Connection) -> None:
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)


def _location_json(loc: Location) -> list[Any]:
    return [loc.path, loc.line, loc.function]


def write_traces(conn: sqlite3.Connection, traces: Iterable[Trace]) -> int:
    """Write a batch of traces in one transaction; returns how many were written."""
    trace_rows: list[tuple[Any, ...]] = []
    span_rows: list[tuple[Any, ...]] = []
    for trace in traces:
        trace_rows.append(
            (
                trace.id,
                trace.name,
                trace.kind,
                trace.started_at,
                trace.duration_ms,
                trace.status,
                trace.pid,
                trace.cpu_ms,
                json.dumps(trace.attrs, default=str),
            )
        )
        for seq, span in enumerate(trace.spans):
            span_rows.append(
                (
                    trace.id,
                    seq,
                    span.kind,
                    span.start_ms,
                    span.duration_ms,
                    span.framework,
                    span.system,
                    span.statement,
                    span.fingerprint,
                    span.params_digest,
                    span.rows,
                    span.connection_id,
                    json.dumps([_location_json(loc) for loc in span.stack]),
                    json.dumps(span.attrs, default=str),
                )
            )
    if not trace_rows:
        return 0

    def write() -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                "INSERT OR REPLACE INTO traces VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", trace_rows
            )
            conn.executemany(
                "INSERT OR REPLACE INTO spans VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                span_rows,
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    _retry(write)
    return len(trace_rows)


def _open_for_reading(path: Path) -> sqlite3.Connection:
    if not path.exists():
        raise StoreError(
            f"no trace store at {path}: capture some traffic first "
            "(perfdoctor run -- COMMAND) or pass --traces PATH"
        )
    try:
        conn = _connect(path)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path} is not a perfdoctor trace store: {exc}") from exc
    if version > SCHEMA_VERSION:
        conn.close()
        raise StoreError(
            f"{path} was written by a newer perfdoctor (schema {version}); upgrade perfdoctor"
        )
    if version == 0:
        conn.close()
        raise StoreError(f"{path} is not a perfdoctor trace store (no schema)")
    return conn


def count_traces(path: Path) -> int:
    with closing(_open_for_reading(path)) as conn:
        return int(conn.execute("SELECT count(*) FROM traces").fetchone()[0])


def _span_from_row(row: sqlite3.Row) -> Span:
    stack = [Location(p, int(line), fn) for p, line, fn in json.loads(row["stack"])]
    return Span(
        kind=row["kind"],
        start_ms=row["start_ms"],
        duration_ms=row["duration_ms"],
        location=stack[0] if stack else None,
        stack=stack,
        framework=row["framework"],
        system=row["system"],
        statement=row["statement"],
        fingerprint=row["fingerprint"],
        params_digest=row["params_digest"],
        rows=row["rows"],
        connection_id=row["connection_id"],
        attrs=json.loads(row["attrs"]),
    )


def iter_traces(path: Path) -> Iterator[Trace]:
    with closing(_open_for_reading(path)) as conn:
        conn.row_factory = sqlite3.Row
        # One read transaction: a batch written between the two SELECTs (the app
        # still running) must not give traces without their spans.
        conn.execute("BEGIN")
        spans: dict[str, list[Span]] = {}
        for row in conn.execute("SELECT * FROM spans ORDER BY trace_id, seq"):
            spans.setdefault(row["trace_id"], []).append(_span_from_row(row))
        trace_rows = conn.execute("SELECT * FROM traces ORDER BY started_at").fetchall()
        conn.execute("COMMIT")
        for row in trace_rows:
            yield Trace(
                id=row["id"],
                name=row["name"],
                kind=row["kind"],
                started_at=row["started_at"],
                duration_ms=row["duration_ms"],
                status=row["status"],
                pid=row["pid"] or 0,
                cpu_ms=row["cpu_ms"],
                spans=spans.get(row["id"], []),
                attrs=json.loads(row["attrs"]),
            )


def load_traces(path: Path) -> list[Trace]:
    """All traces in the store; a missing or empty store is a :class:`StoreError`."""
    traces = list(iter_traces(path))
    if not traces:
        raise StoreError(
            f"the trace store {path} holds no traces yet: run your app under "
            "`perfdoctor run -- COMMAND` and send it some requests"
        )
    return traces


def clear(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        target = Path(str(path) + suffix)
        if target.exists():
            target.unlink()
