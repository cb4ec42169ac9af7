"""The trace store: one SQLite file in WAL mode, safe for many writer processes.

Default location ``.perfdoctor/traces.db``; every command takes ``--traces PATH``.
The schema version is SQLite's ``user_version``; a store written by a newer
perfdoctor is refused rather than misread.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfdoctor import spool
from perfdoctor.errors import StoreError
from perfdoctor.model import Location, Span, Trace
from perfdoctor.orm import stored as orm_stored

SCHEMA_VERSION = 3
DEFAULT_PATH = Path(".perfdoctor") / "traces.db"
ENV_PATH = "PERFDOCTOR_TRACES"

# What one span is, in stored order: a trace keeps its spans as one JSON array of
# these rows (``traces.spans``), and the ``spans`` view lays them out as a table.
SPAN_FIELDS = (
    "kind",
    "start_ms",
    "duration_ms",
    "framework",
    "system",
    "fingerprint",
    "params_digest",
    "rows",
    "connection_id",
    "stack_id",
    "attrs",
)

# A trace's spans are one JSON value, not a row each: the recorder writes a whole
# batch in a handful of statements, with next to no work for SQLite.  sqlite3
# releases the GIL around every step and SQLite's allocator takes a process-wide
# lock, so a row per span (thousands of steps a batch) slowed the application's
# own queries in the next thread; unpacking JSON arrays inside SQLite did too.
# Call stacks and statements repeat across thousands of spans, so each is stored
# once, under an id derived from its content (equal in every writer process).
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
    attrs TEXT NOT NULL DEFAULT '{}',
    spans TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS stacks (
    id TEXT PRIMARY KEY,
    frames TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS statements (
    fingerprint TEXT PRIMARY KEY,
    statement TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS traces_name ON traces(name);
CREATE TABLE IF NOT EXISTS orm_catalogs (
    id TEXT PRIMARY KEY,
    catalog TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS lost_traces (
    id TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    reason TEXT NOT NULL,
    at REAL NOT NULL
);
"""
# orm_catalogs came after schema 3 without a version bump: an older store lacks
# it (readers check), and the first new writer adds it.  One row per distinct
# set of models (perfdoctor.orm.catalog JSON); a trace names its rows in
# attrs["orm"].  lost_traces came the same way: traces a process could neither
# store nor set aside in the spool, counted for `report` (one row per record,
# its id unique, so a record merged twice counts once).

# For people and tools that query the store with SQL (an SQLite without JSON
# functions simply goes without it).
_SPANS_VIEW = (
    "CREATE VIEW IF NOT EXISTS spans AS SELECT traces.id AS trace_id, "
    "CAST(span.key AS INTEGER) AS seq, "
    + ", ".join(
        f"json_extract(span.value, '$[{i}]') AS {name}" for i, name in enumerate(SPAN_FIELDS)
    )
    + " FROM traces, json_each(traces.spans) AS span"
)


def default_path() -> Path:
    env = os.environ.get(ENV_PATH)
    return Path(env) if env else DEFAULT_PATH


def _connect(path: Path, timeout: float = 60.0) -> sqlite3.Connection:
    # The class is called directly, not sqlite3.connect: under capture that is
    # patched, and perfdoctor must not trace its own writes.
    # check_same_thread off: the recorder uses it under its lock from its own
    # thread and from flush()/atexit callers.
    conn = sqlite3.Connection(
        str(path), timeout=timeout, isolation_level=None, check_same_thread=False
    )
    conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    return conn


def is_busy(exc: BaseException) -> bool:
    """Another connection holds the store: worth trying again later."""
    text = str(exc)
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def _retry(action: Any, attempts: int = 20) -> Any:
    for attempt in range(attempts):
        try:
            return action()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    return None


def _transaction(conn: sqlite3.Connection, body: Callable[[], None]) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        body()
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back what is still open, keeping the error that got us here.

    SQLite rolls back by itself after some errors (a full disk, an I/O error);
    a ROLLBACK then fails with "no transaction is active", which must not
    replace the real error.
    """
    if not conn.in_transaction:
        return
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass


# How long the writer may wait for another process, by default: several gunicorn
# workers flush at the same moment, and a CLI command can afford to wait.  The
# capture runtime passes a short timeout and one attempt, and retries itself.
WRITE_BUSY_TIMEOUT = 60.0


def open_for_writing(
    path: Path, busy_timeout: float = WRITE_BUSY_TIMEOUT, attempts: int = 20
) -> sqlite3.Connection:
    """Open (creating if needed) a store to write to.

    A store of another schema, or a file that is not a store, is a
    :class:`StoreError`; a store held by another process, after ``attempts``
    tries of ``busy_timeout`` seconds each, an ``sqlite3.OperationalError``
    (:func:`is_busy`).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = _connect(path, busy_timeout)

    def setup() -> None:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")

        def create() -> None:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            _check_version(path, version)
            if version == 0:
                _check_empty(conn, path)
            _create(conn)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

        _transaction(conn, create)

    try:
        _retry(setup, attempts)
    except BaseException:
        conn.close()
        raise
    return conn


def check_writable(path: Path, busy_timeout: float = 0.25) -> None:
    """Fail now, with a :class:`StoreError`, if traces cannot be written to ``path``.

    ``perfdoctor run`` calls it before starting the command.  A store that is
    merely held by another process passes when its schema is ours: the
    command's processes wait for it, or set their traces aside.
    """
    try:
        open_for_writing(path, busy_timeout=busy_timeout, attempts=1).close()
    except StoreError:
        raise
    except sqlite3.OperationalError as exc:
        if not is_busy(exc):
            raise _unwritable(path, exc) from exc
        _check_schema_while_busy(path)
    except (sqlite3.Error, OSError) as exc:
        raise _unwritable(path, exc) from exc


def _unwritable(path: Path, exc: BaseException) -> StoreError:
    if isinstance(exc, sqlite3.DatabaseError) and "not a database" in str(exc):
        return StoreError(
            f"{path} is not a perfdoctor trace store ({exc}); choose another file with --traces"
        )
    return StoreError(f"cannot write traces to {path}: {exc}; choose a writable file with --traces")


def _check_schema_while_busy(path: Path) -> None:
    try:
        with closing(_connect(path, 1.0)) as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.Error:
        return  # held too tightly to read: the writers will say what is wrong
    _check_version(path, version)


def _check_empty(conn: sqlite3.Connection, path: Path) -> None:
    """A database without a schema version is a new store only if it is empty:
    one with tables is the app's own, given by mistake, not to be filled with traces."""
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name LIMIT 3"
        )
    ]
    if tables:
        raise StoreError(
            f"{path} is not a perfdoctor trace store (it holds other tables: "
            f"{', '.join(tables)}); choose another file with --traces"
        )


def _create(conn: sqlite3.Connection) -> None:
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    try:
        conn.execute(_SPANS_VIEW)
    except sqlite3.OperationalError:  # no JSON functions in this SQLite
        pass


def _check_version(path: Path, version: int) -> None:
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} was written by a newer perfdoctor (schema {version}); "
            "upgrade perfdoctor or choose another file with --traces"
        )
    if 0 < version < SCHEMA_VERSION:
        raise StoreError(
            f"{path} was written by an older perfdoctor (schema {version}); "
            "capture again into a new file (perfdoctor run --clear, or --traces PATH)"
        )


def content_id(text: str) -> str:
    """The id of a stored stack: equal for equal content, in every process."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


def stack_json(stack: Iterable[Location]) -> str:
    return json.dumps([[loc.path, loc.line, loc.function] for loc in stack])


def attrs_json(attrs: dict[str, Any]) -> str | None:
    return json.dumps(attrs, default=str) if attrs else None


@dataclass
class Batch:
    """Rows ready to write: traces (their spans inside), and the stacks and
    statements the spans refer to that this connection has not written yet."""

    traces: list[tuple[Any, ...]] = field(default_factory=list)
    stacks: dict[str, str] = field(default_factory=dict)
    statements: dict[str, str] = field(default_factory=dict)
    orm_catalogs: dict[str, str] = field(default_factory=dict)


def spans_json(rows: list[tuple[Any, ...]]) -> str:
    """A trace's span rows (:data:`SPAN_FIELDS` order) as stored."""
    return json.dumps(rows, default=str)


def trace_row(
    trace: Trace, spans: str, attrs: dict[str, Any] | None = None
) -> tuple[Any, ...]:
    return (
        trace.id,
        trace.name,
        trace.kind,
        trace.started_at,
        trace.duration_ms,
        trace.status,
        trace.pid,
        trace.cpu_ms,
        json.dumps(trace.attrs if attrs is None else attrs, default=str),
        spans,
    )


def batch_of(traces: Iterable[Trace]) -> Batch:
    """Rows for model traces (imports, tests); capture builds its rows directly."""
    batch = Batch()
    seen: dict[int, str] = {}
    for trace in traces:
        rows: list[tuple[Any, ...]] = []
        for span in trace.spans:
            stack_id = None
            if span.stack:
                frames = stack_json(span.stack)
                stack_id = content_id(frames)
                batch.stacks[stack_id] = frames
            if span.fingerprint is not None and span.statement is not None:
                batch.statements[span.fingerprint] = span.statement
            rows.append(
                (
                    span.kind,
                    span.start_ms,
                    span.duration_ms,
                    span.framework,
                    span.system,
                    span.fingerprint,
                    span.params_digest,
                    span.rows,
                    span.connection_id,
                    stack_id,
                    attrs_json(span.attrs),
                )
            )
        attrs = None
        if trace.orm:  # the catalogs go with the trace (ids as capture gave them)
            ids = orm_stored.catalog_ids(trace.orm, batch.orm_catalogs, seen)
            attrs = {**trace.attrs, "orm": ids}
        batch.traces.append(trace_row(trace, spans_json(rows), attrs))
    return batch


def write_traces(conn: sqlite3.Connection, traces: Iterable[Trace]) -> int:
    """Write a batch of traces in one transaction; returns how many were written."""
    return write_batch(conn, batch_of(traces))


def write_batch(conn: sqlite3.Connection, batch: Batch, attempts: int = 20) -> int:
    """Write ``batch`` in one transaction; returns how many traces were written."""
    if not batch.traces:
        return 0

    def write() -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            if batch.stacks:
                conn.executemany("INSERT OR IGNORE INTO stacks VALUES (?, ?)", batch.stacks.items())
            if batch.statements:
                conn.executemany(
                    "INSERT OR IGNORE INTO statements VALUES (?, ?)", batch.statements.items()
                )
            if batch.orm_catalogs:
                conn.executemany(
                    "INSERT OR IGNORE INTO orm_catalogs VALUES (?, ?)", batch.orm_catalogs.items()
                )
            conn.executemany(
                "INSERT OR REPLACE INTO traces VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                batch.traces,
            )
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise

    _retry(write, attempts)
    return len(batch.traces)


def record_lost(
    conn: sqlite3.Connection, key: str, count: int, reason: str, attempts: int = 20
) -> None:
    """Count ``count`` traces as lost, once per ``key``."""

    def write() -> None:
        conn.execute(
            "INSERT OR IGNORE INTO lost_traces VALUES (?, ?, ?, ?)",
            (key, count, reason, time.time()),
        )

    _retry(lambda: _transaction(conn, write), attempts)


@dataclass
class Spooled:
    """One spool file, read: a batch to add, or traces to count as lost."""

    file: Path
    batch: Batch | None
    lost_reason: str | None = None


def read_spooled(file: Path) -> Spooled | None:
    """Read a spool file (no SQLite: callers read it before they take the store);
    None when another process merged it first.  One that cannot be used
    (unreadable, another schema) is to be counted as lost."""
    try:
        if not spool.is_batch(file):
            return Spooled(file, None, spool.read_lost(file))
        schema, fields = spool.read_batch(file)
        if schema != SCHEMA_VERSION:
            return Spooled(file, None, f"set aside by a perfdoctor of another schema ({schema})")
        return Spooled(file, Batch(**fields))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        return Spooled(file, None, f"a spool file could not be read ({exc})")


def merge_spooled(conn: sqlite3.Connection, spooled: Spooled) -> int:
    """Add a spool file's traces to the store (or count them as lost) and remove
    the file; returns the traces added.  One attempt: a busy store raises
    (:func:`is_busy`) and the file stays."""
    if spooled.batch is not None:
        write_batch(conn, spooled.batch, attempts=1)
    else:
        reason = spooled.lost_reason or "unknown"
        record_lost(conn, spooled.file.name, spool.count(spooled.file), reason, attempts=1)
    spool.discard(spooled.file)
    return len(spooled.batch.traces) if spooled.batch is not None else 0


def merge_spool(path: Path, busy_timeout: float = 1.0) -> int:
    """Add the traces set aside beside ``path`` to it, as far as the store lets us.

    Called by every command that reads the store, before it reads.  Never
    raises, and never waits long: a store still held by another process keeps
    its spool for the next time.  Returns how many traces it added.
    """
    files = spool.files(path)
    if not files:
        return 0
    added = 0
    try:
        conn = open_for_writing(path, busy_timeout=busy_timeout, attempts=1)
    except Exception:
        return 0
    with closing(conn):
        for file in files:
            spooled = read_spooled(file)
            if spooled is None:
                continue
            try:
                added += merge_spooled(conn, spooled)
            except Exception:
                return added  # busy, or the store cannot be written: leave the rest
    spool.tidy(path)
    return added


@dataclass
class Unstored:
    """Traces a store does not hold: counted as lost, or still waiting in its spool."""

    lost: int = 0
    reason: str | None = None
    waiting: int = 0


def unstored(path: Path) -> Unstored:
    """What ``report`` tells about traces it cannot show (never raises)."""
    found = Unstored()
    found.waiting = sum(spool.count(file) for file in spool.files(path) if spool.is_batch(file))
    if not path.is_file():
        return found
    try:
        with closing(_connect(path, 1.0)) as conn:
            found.lost = int(
                conn.execute("SELECT coalesce(sum(count), 0) FROM lost_traces").fetchone()[0]
            )
            reason = conn.execute(
                "SELECT reason FROM lost_traces ORDER BY at DESC LIMIT 1"
            ).fetchone()
    except sqlite3.Error:  # a store from before the table
        return found
    found.reason = reason[0] if reason else None
    return found


def _open_for_reading(path: Path) -> sqlite3.Connection:
    merge_spool(path)
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
    try:
        _check_version(path, version)
    except StoreError:
        conn.close()
        raise
    if version == 0:
        conn.close()
        raise StoreError(f"{path} is not a perfdoctor trace store (no schema)")
    return conn


def count_traces(path: Path) -> int:
    with closing(_open_for_reading(path)) as conn:
        return int(conn.execute("SELECT count(*) FROM traces").fetchone()[0])


def iter_traces(path: Path) -> Iterator[Trace]:
    with closing(_open_for_reading(path)) as conn:
        # One read transaction: a batch written between the SELECTs (the app
        # still running) must not give spans whose stack is not there yet.
        conn.execute("BEGIN")
        stacks: dict[str, list[Location]] = {
            stack_id: [Location(p, int(line), fn) for p, line, fn in json.loads(frames)]
            for stack_id, frames in conn.execute("SELECT id, frames FROM stacks")
        }
        statements = dict(conn.execute("SELECT fingerprint, statement FROM statements"))
        catalogs = orm_stored.texts_in(conn)
        conn.row_factory = sqlite3.Row
        trace_rows = conn.execute("SELECT * FROM traces ORDER BY started_at").fetchall()
        conn.execute("COMMIT")
    for row in trace_rows:
        attrs = json.loads(row["attrs"])
        yield Trace(
            id=row["id"],
            name=row["name"],
            kind=row["kind"],
            started_at=row["started_at"],
            duration_ms=row["duration_ms"],
            status=row["status"],
            pid=row["pid"] or 0,
            cpu_ms=row["cpu_ms"],
            spans=_spans(row["spans"], stacks, statements),
            attrs=attrs,
            orm=orm_stored.catalogs_for(attrs, catalogs),
        )


_NO_STACK: list[Location] = []


def _spans(
    text: str, stacks: dict[str, list[Location]], statements: dict[str, str]
) -> list[Span]:
    spans = []
    for (
        kind,
        start_ms,
        duration_ms,
        framework,
        system,
        fingerprint,
        params_digest,
        rows,
        connection_id,
        stack_id,
        attrs,
    ) in json.loads(text):
        stack = stacks.get(stack_id, _NO_STACK) if stack_id is not None else _NO_STACK
        spans.append(
            Span(
                kind=kind,
                start_ms=start_ms,
                duration_ms=duration_ms,
                location=stack[0] if stack else None,
                # Spans of one call site share the parsed stack: readers never change it.
                stack=stack,
                framework=framework,
                system=system,
                statement=statements.get(fingerprint) if fingerprint else None,
                fingerprint=fingerprint,
                params_digest=params_digest,
                rows=rows,
                connection_id=connection_id,
                attrs=json.loads(attrs) if attrs else {},
            )
        )
    return spans


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
    spool.remove(path)
