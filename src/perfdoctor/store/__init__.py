"""The trace store: one SQLite file in WAL mode, safe for many writer processes.

Default location ``.perfdoctor/traces.db``; every command takes ``--traces PATH``.
The schema version is SQLite's ``user_version``; a store written by a newer
perfdoctor is refused rather than misread, one from schema 3 is read as it is and
upgraded when opened for writing.  How spans are stored: :mod:`perfdoctor.store.layout`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from perfdoctor.errors import StoreError
from perfdoctor.model import Location, Trace
from perfdoctor.orm import stored as orm_stored
from perfdoctor.store import layout, opening, rows, salvage, spool

SCHEMA_VERSION = 4
# The oldest schema still read (and upgraded when opened for writing).
OLDEST_READABLE = 3
DEFAULT_PATH = Path(".perfdoctor") / "traces.db"
ENV_PATH = "PERFDOCTOR_TRACES"

# What one span is: the columns of the ``spans`` view, which lays out each trace's
# spans value (``traces.spans``, see perfdoctor.store.layout) as a table.
SPAN_FIELDS = layout.SPAN_FIELDS

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
CREATE TABLE IF NOT EXISTS retention (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    dropped INTEGER NOT NULL DEFAULT 0,
    max_bytes INTEGER,
    since_sweep INTEGER NOT NULL DEFAULT 0,
    sweeps INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sampling (
    name TEXT PRIMARY KEY,
    seen INTEGER NOT NULL DEFAULT 0,
    kept INTEGER NOT NULL DEFAULT 0
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
# attrs["orm"].  retention (schema 4) has at most one row, written when traces
# are dropped to keep the store under its size cap (perfdoctor.store.retention).
# lost_traces came after schema 4 as orm_catalogs did: traces a process could
# neither store nor set aside in the spool, counted for `report` (one row per
# record, its id unique, so a record merged twice counts once).
# sampling came after schema 4 the same way: per endpoint, the requests a
# sampled run (`run --sample`) saw and the traces it kept; a kept trace says so
# in attrs["sample"] (its rate, and why: head, slow or error).

# For people and tools that query the store with SQL (an SQLite without JSON
# functions simply goes without it).
_SPANS_VIEW = layout.SPANS_VIEW


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
        if _is_current(conn):
            # Nothing to create: no write transaction, which every worker or
            # forked child opening the store would otherwise queue up for.
            return

        def create() -> None:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            _check_version(path, version)
            if version == 0:
                _check_empty(conn, path)
            _create(conn)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

        _transaction(conn, create)

    try:
        _retry(lambda: _prepare(conn), attempts)
        _retry(setup, attempts)
    except BaseException:
        conn.close()
        raise
    return conn


# What a store of this schema holds (the spans view is left out: an SQLite
# without JSON functions has none).
_SCHEMA_NAMES = frozenset(re.findall(r"IF NOT EXISTS (\w+)", _SCHEMA))


def _is_current(conn: sqlite3.Connection) -> bool:
    """A store of this schema with every table and index of it."""
    if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
        return False
    names = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    return names >= _SCHEMA_NAMES


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


# A trace's row is a few hundred bytes to tens of kB.  SQLite appends a row that
# does not fit on the last page to a new one, so on 4 kB pages rows of a kB or
# more leave a third of each page empty (benchmarks/store_size.py); 16 kB pages
# waste a few percent, for about 2.5 times the WAL bytes per commit.
PAGE_SIZE = 16384


def _prepare(conn: sqlite3.Connection) -> None:
    """Before a writer's setup: a new file gets its page size and incremental
    auto-vacuum (both only settable before its first table; retention hands free
    pages back with the latter), and a schema-3 store is upgraded, then compacted."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == 0:
        if not conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    elif version == OLDEST_READABLE and _upgrade(conn):
        try:
            # Upgraded spans take a fraction of the pages: give the rest back, once.
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            conn.execute("VACUUM")
        except sqlite3.Error:  # another process is reading: the pages get reused instead
            pass


def _upgrade(conn: sqlite3.Connection) -> bool:
    """Schema 3 -> 4 in one transaction: every trace's spans in the new form.

    False when another process upgraded it first.  A value that cannot be read is
    left as it is (readers tell it apart, and skip it as they would have)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if conn.execute("PRAGMA user_version").fetchone()[0] != OLDEST_READABLE:
            conn.execute("ROLLBACK")
            return False
        last = -1
        while True:
            chunk = conn.execute(
                "SELECT rowid, spans FROM traces WHERE rowid > ? ORDER BY rowid LIMIT 500",
                (last,),
            ).fetchall()
            if not chunk:
                break
            last = chunk[-1][0]
            conn.executemany("UPDATE traces SET spans = ? WHERE rowid = ?", _upgraded(chunk))
        conn.execute("DROP VIEW IF EXISTS spans")
        _create(conn)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
        return True
    except BaseException:
        _rollback(conn)
        raise


def _upgraded(rows: list[tuple[int, Any]]) -> Iterator[tuple[str, int]]:
    for rowid, text in rows:
        try:
            if isinstance(text, str) and text.lstrip().startswith("["):
                yield layout.from_schema3(text), rowid
        except (ValueError, TypeError, IndexError):
            continue


def _check_version(path: Path, version: int) -> None:
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} was written by a newer perfdoctor (schema {version}); "
            "upgrade perfdoctor or choose another file with --traces"
        )
    if 0 < version < OLDEST_READABLE:
        raise StoreError(
            f"{path} was written by an older perfdoctor (schema {version}); "
            "capture again into a new file (perfdoctor run --clear, or --traces PATH)"
        )


def content_id(text: str) -> str:
    """The id of a stored stack: equal for equal content, in every process."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


def stack_json(stack: Iterable[Location]) -> str:
    return json.dumps([[loc.path, loc.line, loc.function] for loc in stack])


attrs_json = layout.attrs_json


@dataclass
class Batch:
    """Rows ready to write: traces (their spans inside), and the stacks and
    statements the spans refer to that this connection has not written yet."""

    traces: list[tuple[Any, ...]] = field(default_factory=list)
    stacks: dict[str, str] = field(default_factory=dict)
    statements: dict[str, str] = field(default_factory=dict)
    orm_catalogs: dict[str, str] = field(default_factory=dict)
    # (endpoint, requests seen, traces kept) of a sampled run, added to the store's counts.
    sampling: list[tuple[str, int, int]] = field(default_factory=list)


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
        attrs_json(trace.attrs if attrs is None else attrs) or "{}",
        spans,
    )


def batch_of(traces: Iterable[Trace]) -> Batch:
    """Rows for model traces (imports, tests); capture builds its rows directly."""
    batch = Batch()
    seen: dict[int, str] = {}
    for trace in traces:
        table = layout.SpanTable()
        for span in trace.spans:
            stack_id = None
            if span.stack:
                frames = stack_json(span.stack)
                stack_id = content_id(frames)
                batch.stacks[stack_id] = frames
            if span.fingerprint is not None and span.statement is not None:
                batch.statements[span.fingerprint] = span.statement
            table.add(
                span.kind,
                *layout.micros(span.start_ms, span.duration_ms, 1e3),
                span.framework,
                span.system,
                span.fingerprint,
                span.params_digest,
                span.rows,
                span.connection_id,
                stack_id,
                attrs_json(span.attrs),
            )
        attrs = None
        if trace.orm:  # the catalogs go with the trace (ids as capture gave them)
            ids = orm_stored.catalog_ids(trace.orm, batch.orm_catalogs, seen)
            attrs = {**trace.attrs, "orm": ids}
        batch.traces.append(trace_row(trace, table.json(), attrs))
    return batch


def write_traces(
    conn: sqlite3.Connection,
    traces: Iterable[Trace],
    also: Callable[[sqlite3.Connection], None] | None = None,
) -> int:
    """Write a batch of traces in one transaction; returns how many were written."""
    return write_batch(conn, batch_of(traces), also)


def write_batch(
    conn: sqlite3.Connection,
    batch: Batch,
    also: Callable[[sqlite3.Connection], None] | None = None,
    attempts: int = 20,
) -> int:
    """Write ``batch`` in one transaction; returns how many traces were written.

    ``also`` runs inside the same transaction, for a writer's own rows that must
    land with the traces or not at all (an importer's bookkeeping)."""
    if not batch.traces and not batch.sampling and also is None:
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
            if batch.sampling:
                conn.executemany(
                    "INSERT INTO sampling (name, seen, kept) VALUES (?, ?, ?) ON CONFLICT(name) "
                    "DO UPDATE SET seen = seen + excluded.seen, kept = kept + excluded.kept",
                    batch.sampling,
                )
            if also is not None:
                also(conn)
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
    try:
        with opening.reading(path) as (conn, _, _):
            found.lost = int(
                conn.execute("SELECT coalesce(sum(count), 0) FROM lost_traces").fetchone()[0]
            )
            reason = conn.execute(
                "SELECT reason FROM lost_traces ORDER BY at DESC LIMIT 1"
            ).fetchone()
    except (StoreError, sqlite3.Error):  # no store, or one from before the table
        return found
    found.reason = reason[0] if reason else None
    return found


def sampling_counts(path: Path) -> dict[str, tuple[int, int]]:
    """Per endpoint, (requests seen, traces kept) by sampled runs; {} for a store
    without any (never raises: a store from before the table has none)."""
    try:
        with opening.reading(path) as (conn, _, _):
            rows = conn.execute("SELECT name, seen, kept FROM sampling").fetchall()
    except (StoreError, sqlite3.Error):
        return {}
    return {
        name: (int(seen), int(kept))
        for name, seen, kept in rows
        if isinstance(name, str) and isinstance(seen, int) and isinstance(kept, int)
    }


@contextmanager
def _reading(path: Path) -> Iterator[tuple[sqlite3.Connection, list[str]]]:
    """A read-only connection to a store, and notes on what it cannot see."""
    merge_spool(path)
    with opening.reading(path) as (conn, version, notes):
        _check_version(path, version)
        if version == 0:
            raise StoreError(f"{path} is not a perfdoctor trace store (no schema)")
        yield conn, notes


def count_traces(path: Path) -> int:
    with _reading(path) as (conn, _):
        try:
            return int(conn.execute("SELECT count(*) FROM traces").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            if not salvage.is_damage(exc):
                raise opening.unreadable(path, exc) from None
            return len(salvage.read_table(conn, "traces", "id").rows)


@dataclass
class Loaded:
    """The traces a store gave back, and what it could not."""

    traces: list[Trace]
    damage: salvage.Damage


_TRACE_COLUMNS = "id, name, kind, started_at, duration_ms, status, pid, cpu_ms, attrs, spans"


def iter_traces(path: Path, damage: salvage.Damage | None = None) -> Iterator[Trace]:
    """The store's traces, oldest first; rows that cannot be read are left out
    and counted in ``damage``."""
    damage = salvage.Damage(str(path)) if damage is None else damage
    with _reading(path) as (conn, notes):
        damage.notes.extend(notes)
        try:
            trace_rows, ordered, stacks, statements, catalogs = _read_all(path, conn, damage)
        except sqlite3.DatabaseError as exc:
            raise opening.unreadable(path, exc) from None
    traces = _decoded(trace_rows, stacks, statements, catalogs, damage)
    if not ordered:  # salvaged in rowid order
        traces = iter(sorted(traces, key=lambda t: t.started_at))
    yield from traces


def _read_all(
    path: Path, conn: sqlite3.Connection, damage: salvage.Damage
) -> tuple[list[Any], bool, dict[str, list[Location]], dict[str, str], dict[str, str]]:
    # One read transaction: a batch written between the SELECTs (the app
    # still running) must not give spans whose stack is not there yet.
    conn.execute("BEGIN")
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    if "traces" not in tables:
        raise StoreError(f"{path} is not a perfdoctor trace store (no traces table)")
    stacks, statements, catalogs = rows.side_tables(conn, tables, damage)
    traces = salvage.read_table(conn, "traces", _TRACE_COLUMNS, "ORDER BY started_at")
    damage.traces += traces.lost
    try:
        conn.execute("COMMIT")
    except sqlite3.DatabaseError:  # after SQLite refused a page; nothing to keep
        pass
    return traces.rows, traces.ordered, stacks, statements, catalogs


def _decoded(
    rows: list[Any],
    stacks: dict[str, list[Location]],
    statements: dict[str, str],
    catalogs: dict[str, str],
    damage: salvage.Damage,
) -> Iterator[Trace]:
    memo = layout.ShapeMemo()
    for row in rows:
        try:
            trace = _trace(row, stacks, statements, catalogs, memo)
        except salvage.DECODE_ERRORS:  # a hand-edited or half-written row
            damage.traces += 1
            continue
        yield trace


def _trace(
    row: Any,
    stacks: dict[str, list[Location]],
    statements: dict[str, str],
    catalogs: dict[str, str],
    memo: layout.ShapeMemo | None = None,
) -> Trace:
    trace_id, name, kind, started_at, duration_ms, status, pid, cpu_ms, attrs_text, spans = row
    attrs = layout.loads(attrs_text)
    decoded, checked = layout.decode_checked(spans, stacks, statements, memo)
    trace = Trace(
        id=trace_id,
        name=name,
        kind=kind,
        started_at=started_at,
        duration_ms=duration_ms,
        status=status,
        pid=pid or 0,
        cpu_ms=cpu_ms,
        spans=decoded,
        attrs=attrs,
        orm=orm_stored.catalogs_for(attrs, catalogs),
    )
    rows.check_trace(trace, spans=not checked)
    return trace


# A stored spans value (either schema) as model spans.
_spans = layout.decode


def traces_by_id(conn: sqlite3.Connection, ids: Iterable[str]) -> dict[str, Trace]:
    """The stored traces with these ids, read on a writer's connection (an importer
    adding spans to traces it wrote before); absent and unreadable ones are left out.
    Only the stacks and statements their spans name are read."""
    wanted = list(dict.fromkeys(ids))
    stacks = _Lookup(conn, "SELECT frames FROM stacks WHERE id = ?", _frames)
    statements = _Lookup(conn, "SELECT statement FROM statements WHERE fingerprint = ?", str)
    found: dict[str, Trace] = {}
    for start in range(0, len(wanted), _IDS_PER_QUERY):
        chunk = wanted[start : start + _IDS_PER_QUERY]
        marks = ",".join("?" * len(chunk))
        sql = (
            "SELECT id, name, kind, started_at, duration_ms, status, pid, cpu_ms, attrs, spans "
            f"FROM traces WHERE id IN ({marks})"
        )
        for row in conn.execute(sql, chunk).fetchall():
            try:
                found[row[0]] = _trace(row, stacks, statements, {})
            except (ValueError, TypeError, KeyError, IndexError):
                continue  # a damaged row: as if it were not there
    return found


# Bound parameters per statement: SQLite before 3.32 allows 999.
_IDS_PER_QUERY = 500


def _frames(text: str) -> list[Location]:
    return [Location(p, int(line), fn) for p, line, fn in json.loads(text)]


class _Lookup(dict[str, Any]):
    """Rows of a side table by id, read when first asked for: a few traces need a
    few of the store's stacks and statements, not all of them."""

    def __init__(self, conn: sqlite3.Connection, sql: str, parse: Any) -> None:
        super().__init__()
        self._conn, self._sql, self._parse = conn, sql, parse

    def get(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            row = self._conn.execute(self._sql, (key,)).fetchone()
            if row is None:
                return default
            self[key] = self._parse(row[0])
        return self[key]


def read_traces(path: Path, each: Callable[[], None] | None = None) -> Loaded:
    """Every trace that can be read, and what could not; a missing store, or one
    with no trace to read, is a :class:`StoreError`.  ``each``: called per trace read
    (progress)."""
    damage = salvage.Damage(str(path))
    read = iter_traces(path, damage)
    traces = list(read if each is None else _calling(read, each))
    check_read(path, len(traces), damage)
    return Loaded(traces, damage)


def check_read(path: Path, traces: int, damage: salvage.Damage) -> None:
    """A :class:`StoreError` when a read gave no trace at all."""
    if not traces and damage.traces:
        raise StoreError(
            f"{path} is damaged: none of its traces can be read; "
            "capture again into a new file (perfdoctor run --clear -- COMMAND)"
        )
    if not traces:
        raise StoreError(
            f"the trace store {path} holds no traces yet: run your app under "
            "`perfdoctor run -- COMMAND` and send it some requests"
        )


def _calling(traces: Iterator[Trace], each: Callable[[], None]) -> Iterator[Trace]:
    for trace in traces:
        yield trace
        each()


def load_traces(path: Path, warn: TextIO | None = None) -> list[Trace]:
    """All traces in the store that can be read; what could not is written to
    ``warn`` (:func:`read_traces` gives it instead).  A missing or empty store
    is a :class:`StoreError`."""
    loaded = read_traces(path)
    if warn is not None:
        for line in loaded.damage.warnings():
            warn.write(f"perfdoctor: warning: {line}\n")
    return loaded.traces


def clear(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        target = Path(str(path) + suffix)
        if target.exists():
            target.unlink()
    spool.remove(path)


@dataclass
class Recent:
    """Traces written since a reader's last look, and where to look from next time."""

    traces: list[Trace]
    last_rowid: int


def recent_traces(path: Path, after_rowid: int, started_since: float) -> Recent:
    """The traces written after row ``after_rowid`` that started at ``started_since``
    (epoch seconds) or later, oldest first: what a reader that keeps the traces it
    has seen (``perfdoctor watch``) needs, without reading the whole store again.
    Rows are numbered in the order they were written, so a request that started
    early but finished late is still found; damaged rows are left out."""
    with _reading(path) as (conn, _):
        conn.execute("BEGIN")
        try:
            top = int(conn.execute("SELECT coalesce(max(rowid), 0) FROM traces").fetchone()[0])
            # A store cleared since (or trimmed to its newest rows) numbers from lower again.
            start = after_rowid if top >= after_rowid else 0
            found = conn.execute(
                f"SELECT {_TRACE_COLUMNS} FROM traces WHERE rowid > ? AND rowid <= ? "
                "AND started_at >= ? ORDER BY started_at",
                (start, top, started_since),
            ).fetchall()
            stacks = _Lookup(conn, "SELECT frames FROM stacks WHERE id = ?", _frames)
            statements = _Lookup(
                conn, "SELECT statement FROM statements WHERE fingerprint = ?", str
            )
            traces: list[Trace] = []
            for row in found:
                try:
                    traces.append(_trace(row, stacks, statements, {}))
                except salvage.DECODE_ERRORS:
                    continue
        except sqlite3.DatabaseError as exc:
            raise opening.unreadable(path, exc) from None
        finally:
            conn.execute("COMMIT")
    return Recent(traces, top)
