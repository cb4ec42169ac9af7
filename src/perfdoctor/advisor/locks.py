"""What trying candidate indexes for real would lock, and for how long: asked before it happens.

Without HypoPG a candidate is tried by building it (``CREATE INDEX`` inside a
transaction that is rolled back).  On PostgreSQL that build takes a SHARE lock on
its table and keeps it until the rollback: SELECTs go on, INSERT/UPDATE/DELETE
wait.  On SQLite it takes the database's write lock.  So unless the user said
``--allow-locks``, the advisor stops before the first build and says which tables
would be locked, their rows, and how long each build would hold the lock.

That time is measured, not guessed: the same index is built on a sample of the
table copied to a temporary table (the table itself is only read), and the time
is scaled to the table's rows as a sort grows, n log n.

>>> round(_scaled(10.0, sample=10_000, rows=200_000))
265
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from perfdoctor.advisor import verify
from perfdoctor.advisor.candidates import Candidate
from perfdoctor.advisor.connection import PostgresSession, Session, SQLiteSession
from perfdoctor.advisor.stats import Stats, quote
from perfdoctor.errors import DatabaseError
from perfdoctor.settings import Settings

_SAMPLE = "perfdoctor_build_sample"
_MIN_SAMPLE = 100  # fewer rows time the statement's overhead, not the build


class LocksNeeded(DatabaseError):
    """Trying the candidates would lock the user's tables and the user has not agreed."""

    def __init__(self, what: str, bounds: str, remedy: str) -> None:
        self.what = what  # what would be locked, how and for how long
        self.remedy = remedy  # how to try them without locks ("" when there is none)
        other = f", or {remedy}" if remedy else ""
        super().__init__(f"{what}. Re-run with --allow-locks to accept this ({bounds}){other}")


@dataclass(frozen=True)
class TableLock:
    table: str
    rows: int | None
    at_least: bool  # the rows were counted up to a cap and reached it
    size_bytes: int | None
    builds: int  # candidates on this table: one trial build each
    build_ms: float | None  # the longest of those builds, estimated


def ask_first(
    session: Session,
    stats: Stats,
    pool: Sequence[Candidate],
    method: str,
    no_hypopg: verify.NoHypoPG | None,
    settings: Settings,
) -> None:
    """Raise :class:`LocksNeeded` when trying ``pool`` would lock the user's tables."""
    if not pool:
        return
    if isinstance(session, PostgresSession):
        if method != verify.ROLLBACK or no_hypopg is None:
            return  # HypoPG: nothing is built
        why, remedy = no_hypopg.why, no_hypopg.remedy
    elif isinstance(session, SQLiteSession):
        big = [t for t in _tables(pool) if _big_for_sqlite(stats, t, settings)]
        if not big:
            return
        top = max(big, key=lambda t: stats.table_rows(t) or 0)
        rows = _rows_text(stats.table_rows(top), stats.at_least(top))
        limit = settings.advisor_sqlite_ask_rows
        why = f"{top} has {rows} rows (advisor_sqlite_ask_rows={limit:,})"
        remedy = ""
    else:
        return  # MySQL/MariaDB: candidates are estimated, never built
    tables = estimate(session, stats, pool, settings)
    raise LocksNeeded(
        _what(session, why, tables, len(pool), settings), _bounds(session, settings), remedy
    )


def _tables(pool: Sequence[Candidate]) -> list[str]:
    return list(dict.fromkeys(c.table for c in pool))


def _big_for_sqlite(stats: Stats, table: str, settings: Settings) -> bool:
    rows = stats.table_rows(table) or 0
    return rows >= settings.advisor_sqlite_ask_rows or stats.at_least(table)


def estimate(
    session: Session, stats: Stats, pool: Sequence[Candidate], settings: Settings
) -> list[TableLock]:
    """Per table the candidates would be built on: its rows, size and build time."""
    found = []
    for table in _tables(pool):
        cands = [c for c in pool if c.table == table]
        rows = stats.table_rows(table)
        size = _size_bytes(session, table)
        found.append(
            TableLock(
                table,
                rows,
                stats.at_least(table),
                size if isinstance(session, PostgresSession) else None,
                len(cands),
                _build_ms(session, table, cands, rows, size, settings),
            )
        )
    return sorted(found, key=lambda t: -(t.rows or 0))


def _size_bytes(session: Session, table: str) -> int | None:
    """PostgreSQL: the table's size.  SQLite: the file's, an upper bound for the table."""
    try:
        if isinstance(session, PostgresSession):
            found = session.query(
                "SELECT pg_table_size(to_regclass(%s))", [quote(session.dialect, table)]
            )
        else:
            found = session.query(
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
            )
    except Exception:  # a catalog function this server lacks: the row bound alone then
        return None
    return int(found[0][0]) if found and found[0][0] is not None else None


def _sample_rows(rows: int, size: int | None, settings: Settings) -> int:
    wanted = settings.advisor_build_sample_rows
    if size and rows:
        wanted = min(wanted, settings.advisor_build_sample_bytes * rows // size)
    return max(_MIN_SAMPLE, min(wanted, rows))


def _copy_sample(session: Session, table: str, rows: int, n: int) -> str:
    source = quote(session.dialect, table)
    if isinstance(session, PostgresSession):
        if rows > 4 * n:
            # Whole pages at random, twice the share needed: reads a sliver of the table.
            source += f" TABLESAMPLE SYSTEM ({min(100.0, 200.0 * n / rows):.6f})"
    else:
        source = "main." + source  # a temporary table of the same name would hide it
    return f"CREATE TEMP TABLE {_SAMPLE} AS SELECT * FROM {source} LIMIT {n}"


def _build_ms(
    session: Session,
    table: str,
    cands: Sequence[Candidate],
    rows: int | None,
    size: int | None,
    settings: Settings,
) -> float | None:
    """The longest build of ``cands``, timed on a temporary sample and scaled to ``rows``."""
    if not rows or rows < 2:
        return None
    index_schema = "temp." if isinstance(session, SQLiteSession) else ""
    try:
        with session.scratch():
            session.query(_copy_sample(session, table, rows, _sample_rows(rows, size, settings)))
            copied = int(session.query(f"SELECT COUNT(*) FROM {_SAMPLE}")[0][0])
            if copied < 2:
                return None
            longest = 0.0
            for n, cand in enumerate(cands):
                cols = ", ".join(quote(session.dialect, c) for c in cand.columns)
                took = []
                # The faster of two: a build of milliseconds, scaled up, magnifies any
                # moment the server spent elsewhere.
                for again in range(2):
                    name = f"{index_schema}{_SAMPLE}_ix{n}_{again}"
                    started = time.perf_counter()
                    session.query(f"CREATE INDEX {name} ON {_SAMPLE} ({cols})")
                    took.append(time.perf_counter() - started)
                longest = max(longest, min(took))
    except Exception:  # a read-only standby, no TEMP privilege: rows and size still say a lot
        return None
    return _scaled(longest * 1000, copied, rows)


def _scaled(ms: float, sample: int, rows: int) -> float:
    if rows <= sample:
        return ms
    return ms * (rows * math.log(rows)) / (sample * math.log(sample))


def _rows_text(rows: int | None, at_least: bool) -> str:
    if rows is None:
        return "?"
    return f"{rows:,}+" if at_least else f"{rows:,}"


def _duration(ms: float) -> str:
    if ms < 1:
        return "<1 ms"
    if ms < 1000:
        return f"~{ms:.0f} ms"
    if ms < 60_000:
        return f"~{ms / 1000:.1f} s"
    return f"~{ms / 60_000:.0f} min"


def _megabytes(size: int) -> str:
    mb = size / (1024 * 1024)
    return f"{mb:.0f} MB" if mb >= 10 else f"{mb:.1f} MB"


def _table_text(lock: TableLock, settings: Settings) -> str:
    facts = [f"{_rows_text(lock.rows, lock.at_least)} rows"]
    if lock.size_bytes is not None:
        facts.append(_megabytes(lock.size_bytes))
    builds = f"{lock.builds} build{'s' if lock.builds > 1 else ''}"
    if lock.build_ms is None:
        length = " of a length not timed (no temporary table could be made here)"
    else:
        length = f" of {'at least ' if lock.at_least else ''}{_duration(lock.build_ms)}"
        length += " each" if lock.builds > 1 else ""
        if lock.build_ms > settings.advisor_statement_timeout_ms:
            length += (
                f", over the {settings.advisor_statement_timeout_ms:,} ms statement timeout: "
                "each would hold the lock that long, then fail"
            )
    return f"{lock.table} ({', '.join(facts)}) for {builds}{length}"


def _what(
    session: Session, why: str, tables: list[TableLock], count: int, settings: Settings
) -> str:
    many = f"the {count} candidate indexes" if count > 1 else "the candidate index"
    if isinstance(session, PostgresSession):
        held = (
            "a SHARE lock on its table until the rollback "
            "(SELECT goes on; INSERT, UPDATE and DELETE wait)"
        )
    else:
        held = (
            "the database's write lock until the rollback (writers wait, and fail with "
            '"database is locked" after their busy timeout'
        )
        if not _wal(session):
            held += "; in rollback-journal mode readers too, once it outgrows the page cache"
        held += ")"
    parts = [_table_text(t, settings) for t in tables]
    listed = " and ".join([", ".join(parts[:-1]), parts[-1]] if len(parts) > 1 else parts)
    how = "them for real, each" if count > 1 else "it for real"
    return (
        f"{why}, so {many} can only be tried by building {how} in a transaction that is "
        f"rolled back; a build holds {held}. "
        f"It would lock {listed} (build times from the same index built on a sample of up "
        f"to {settings.advisor_build_sample_rows:,} rows in a temporary table, on a quiet "
        "server; a join may add a few builds)"
    )


def _wal(session: Session) -> bool:
    found = session.query("PRAGMA journal_mode")
    return bool(found) and str(found[0][0]).lower() == "wal"


def _bounds(session: Session, settings: Settings) -> str:
    build = f"each build stops at {settings.advisor_statement_timeout_ms:,} ms"
    if isinstance(session, PostgresSession):
        # A lock request queues the writers that come after it: they wait out the wait too.
        return (
            f"the advisor waits at most {settings.advisor_lock_timeout_ms:,} ms for each "
            f"lock, writers queueing behind that wait, and {build}"
        )
    return build
