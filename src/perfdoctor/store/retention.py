"""Keep the trace store under a size cap: the oldest traces go first.

Runs in the recorder's thread inside the user's app, after each batch is
written.  The check is five PRAGMA reads (each an SQLite call, a GIL hand-off
in the app's process); it runs once this writer has written a share of the room
left under the cap (:data:`CHECK_SHARE`, the bytes counted twice: pages hold more
than the rows' text), after :data:`CHECK_EVERY` batches at most, and at every
flush (exit included), so a store ends a run under its cap.  Only past the cap does a
pass delete, in one transaction: the oldest traces (lowest rowids: rowids grow
in the order writes commit) until the store is at :data:`TRIM_TO` of its cap,
so a pass runs once per tenth of the cap written, not once per batch.  Freed
pages are reused by later traces; a store created with incremental auto-vacuum
also hands back any pages past the cap (a full VACUUM would block writers for
seconds).  The size is the database's pages, not its WAL file, which SQLite
keeps to about 4 MB by checkpointing.

Stacks, statements and ORM catalogs are stored once and referred to by id, so
deleting traces can leave some unreferenced.  They are swept once as many
traces were dropped since the last sweep as the store still holds: finding
what is referenced reads every trace, which only pays that rarely.  A sweep
bumps ``retention.sweeps``: every writer keeps the ids it has written in memory
and does not send them again, so a writer that sees the count change writes
what it had written once more (its last batch may refer to a swept row).

This module is imported inside the user's app: standard library only.
"""

from __future__ import annotations

import math
import os
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from perfdoctor.store import Batch

# A pass deletes down to this share of the cap.
TRIM_TO = 0.9
# Deleting the oldest traces assumes they are of average size; a pass corrects
# a wrong guess this many times at most before the next batch tries again.
_MAX_ROUNDS = 8
# The size check runs once a writer has written this share of the room left under
# the cap since the last one (several processes writing to one store pass the cap
# by at most their number times this share of the room, until their next check)...
CHECK_SHARE = 1 / 16
# ... or this many batches, whichever comes first.
CHECK_EVERY = 8
# `perfdoctor run --max-store-mb` reaches every process of the run through this.
ENV_MAX_STORE_MB = "PERFDOCTOR_MAX_STORE_MB"
_INCREMENTAL = 2  # PRAGMA auto_vacuum's value for INCREMENTAL


class Writer(Protocol):
    """What a writer does when stacks, statements or catalogs it counts as written
    (and so does not send again) were swept: by another process, then its last
    batch may refer to them, or by itself."""

    def written_refs(self) -> Batch: ...

    def forget_written(self) -> None: ...


def cap_bytes(max_store_mb: float | None) -> int | None:
    """A cap in MB (0 or None: none) in bytes."""
    if not max_store_mb or max_store_mb <= 0:
        return None
    return int(max_store_mb * 1024 * 1024)


def cap_from_env(default_mb: float | None) -> int | None:
    """The cap ``perfdoctor run`` asked for, else ``default_mb``."""
    value = os.environ.get(ENV_MAX_STORE_MB)
    if value:
        try:
            return cap_bytes(float(value))
        except ValueError:
            pass
    return cap_bytes(default_mb)


class Retention:
    """One writer's retention: call :meth:`after_write` after each committed batch."""

    def __init__(self, max_bytes: int | None) -> None:
        self.max_bytes = max_bytes
        self.dropped = 0  # traces this writer deleted
        self._conn: sqlite3.Connection | None = None
        self._sweeps = 0
        # Since the last size check: batches, and bytes written (counted twice);
        # the bytes that bring on the next check (0: the next batch checks).
        self._batches = 0
        self._written = 0
        self._budget = 0

    def fresh(self) -> Retention:
        """The same cap, nothing else: for a forked child, which has no connection yet."""
        return Retention(self.max_bytes)

    def after_write(
        self, conn: sqlite3.Connection, writer: Writer, written: int = 0, check: bool = True
    ) -> None:
        """Enforce the cap; never raises (a failed pass is tried again next batch).

        ``written``: about how many bytes of text the batch held; with ``check``
        false the size is checked only once enough was written since the last
        check (:data:`CHECK_SHARE`, :data:`CHECK_EVERY`)."""
        try:
            self._follow_sweeps(conn, writer)
            if self.max_bytes is not None:
                self._batches += 1
                self._written += 2 * written
                if check or self._batches >= CHECK_EVERY or self._written >= self._budget:
                    # A budget of 0 until the check is done: one that fails is
                    # tried again at the next batch.
                    self._batches = self._written = self._budget = 0
                    self._budget = self._enforce(conn, self.max_bytes, writer)
        except Exception:
            try:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            except Exception:
                pass

    @property
    def unchecked(self) -> bool:
        """Whether batches were written since the last size check."""
        return self._batches > 0

    def _follow_sweeps(self, conn: sqlite3.Connection, writer: Writer) -> None:
        sweeps = _sweeps(conn)
        if conn is not self._conn:
            # A new connection sent everything its first batch referred to.
            self._conn, self._sweeps = conn, sweeps
        elif sweeps != self._sweeps:
            self._sweeps = sweeps
            _write_refs(conn, writer.written_refs())
            writer.forget_written()

    def _enforce(self, conn: sqlite3.Connection, max_bytes: int, writer: Writer) -> int:
        """Trim to the cap if past it; returns the bytes this writer may write before
        the next check."""
        page_size = _pragma(conn, "page_size")
        if _used_pages(conn) * page_size > max_bytes:
            self._trim(conn, max_bytes, page_size, writer)
        pages = _pragma(conn, "page_count")
        free = _pragma(conn, "freelist_count")
        over = pages - max_bytes // page_size
        if over > 0 and free and _pragma(conn, "auto_vacuum") == _INCREMENTAL:
            # A script: sqlite3's execute steps this pragma once, freeing one page.
            conn.executescript(f"PRAGMA incremental_vacuum({min(over, free)});")
        return max(0, int((max_bytes - (pages - free) * page_size) * CHECK_SHARE))

    def _trim(
        self, conn: sqlite3.Connection, max_bytes: int, page_size: int, writer: Writer
    ) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            target = max_bytes * TRIM_TO
            dropped = 0
            kept = 0
            for _ in range(_MAX_ROUNDS):
                used = _used_pages(conn) * page_size
                # Checked again inside the transaction: another writer may have trimmed.
                if used <= (max_bytes if not dropped else target):
                    break
                oldest, newest = conn.execute(
                    "SELECT min(rowid), max(rowid) FROM traces"
                ).fetchone()
                if oldest is None:
                    break
                span = newest - oldest + 1
                cutoff = oldest + max(1, math.ceil(span * (used - target) / used))
                _forget_sampled(conn, cutoff)
                dropped += conn.execute("DELETE FROM traces WHERE rowid < ?", (cutoff,)).rowcount
                kept = max(0, newest - cutoff + 1)
            if dropped:
                self.dropped += dropped
                self._record(conn, dropped, kept, max_bytes, writer)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _record(
        self, conn: sqlite3.Connection, dropped: int, kept: int, max_bytes: int, writer: Writer
    ) -> None:
        conn.execute("INSERT OR IGNORE INTO retention (id) VALUES (1)")
        since, sweeps = conn.execute("SELECT since_sweep, sweeps FROM retention").fetchone()
        since += dropped
        if since >= kept:
            if _sweep(conn):
                sweeps += 1
                self._sweeps = sweeps
                # Its last batch's rows are in use, so kept: sending anew what the
                # next batches refer to is enough.
                writer.forget_written()
            since = 0
        conn.execute(
            "UPDATE retention SET dropped = dropped + ?, max_bytes = ?, since_sweep = ?, "
            "sweeps = ? WHERE id = 1",
            (dropped, max_bytes, since, sweeps),
        )


# Per endpoint, the sampled traces about to be dropped: how many, and how many
# requests they account for (each kept trace counts itself and the requests
# dropped just before it; a trace without that count, 1/rate for the head draw).
_SAMPLED_BEFORE = """
SELECT name, count(*), sum(coalesce(json_extract(attrs, '$.sample.seen'),
                           CASE json_extract(attrs, '$.sample.kept')
                           WHEN 'head' THEN 1.0 / json_extract(attrs, '$.sample.rate')
                           ELSE 1.0 END))
FROM traces
WHERE rowid < ? AND json_valid(attrs) AND json_type(attrs, '$.sample') = 'object'
GROUP BY name
"""


def _forget_sampled(conn: sqlite3.Connection, cutoff: int) -> None:
    """Take the dropped sampled traces out of the sampling counts, so that "seen in
    37 of ~740 requests" stays out of the requests whose traces the store still
    holds, not of every request since the store began."""
    try:
        rows = conn.execute(_SAMPLED_BEFORE, (cutoff,)).fetchall()
        conn.executemany(
            "UPDATE sampling SET seen = max(0, seen - ?), kept = max(0, kept - ?) WHERE name = ?",
            [(round(stood_for or 0), count, name) for name, count, stood_for in rows],
        )
    except sqlite3.OperationalError:
        # An SQLite without JSON functions: the counts stay as they are; the cap
        # matters more than them.
        pass


# --------------------------------------------------------------------------- sweeping

# Every stack id and fingerprint the stored traces refer to, in either schema's
# spans value (schema 3: rows of 11 fields; schema 4: shapes).  A value that is
# not JSON refers to nothing readable.  Nulls (a span with no statement) are left
# out: one NULL in its list makes NOT IN true for nothing.
_REFERENCED = """
SELECT ref FROM (
  SELECT json_extract(item.value, CASE json_type(traces.spans)
                                  WHEN 'array' THEN '$[{old}]' ELSE '$[{new}]' END) AS ref
  FROM traces, json_each(traces.spans, CASE json_type(traces.spans)
                                       WHEN 'array' THEN '$' ELSE '$.shapes' END) AS item
  WHERE json_valid(traces.spans)
) WHERE ref IS NOT NULL
"""
_SWEEPS = (
    f"DELETE FROM stacks WHERE id NOT IN ({_REFERENCED.format(old=9, new=5)})",
    f"DELETE FROM statements WHERE fingerprint NOT IN ({_REFERENCED.format(old=5, new=3)})",
    "DELETE FROM orm_catalogs WHERE id NOT IN (SELECT item.value FROM traces, "
    "json_each(traces.attrs, '$.orm') AS item "
    "WHERE json_valid(traces.attrs) AND item.value IS NOT NULL)",
)


def _write_refs(conn: sqlite3.Connection, refs: Batch) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany("INSERT OR IGNORE INTO stacks VALUES (?, ?)", refs.stacks.items())
        conn.executemany("INSERT OR IGNORE INTO statements VALUES (?, ?)", refs.statements.items())
        conn.executemany(
            "INSERT OR IGNORE INTO orm_catalogs VALUES (?, ?)", refs.orm_catalogs.items()
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _sweep(conn: sqlite3.Connection) -> bool:
    """Delete the stacks, statements and catalogs no trace refers to; whether any went."""
    deleted = 0
    for statement in _SWEEPS:
        try:
            deleted += conn.execute(statement).rowcount
        except sqlite3.OperationalError:  # no JSON functions in this SQLite: keep them
            return False
    return deleted > 0


# --------------------------------------------------------------------------- reading


def _pragma(conn: sqlite3.Connection, name: str) -> int:
    return int(conn.execute(f"PRAGMA {name}").fetchone()[0])


def _used_pages(conn: sqlite3.Connection) -> int:
    return _pragma(conn, "page_count") - _pragma(conn, "freelist_count")


def _sweeps(conn: sqlite3.Connection) -> int:
    try:
        row = conn.execute("SELECT sweeps FROM retention").fetchone()
    except sqlite3.OperationalError:  # a store from before retention
        return 0
    return int(row[0]) if row else 0


def dropped(conn: sqlite3.Connection) -> tuple[int, int | None]:
    """(traces dropped so far, the cap in bytes they were dropped under) of a store."""
    try:
        row = conn.execute("SELECT dropped, max_bytes FROM retention").fetchone()
    except sqlite3.DatabaseError:  # a store from before retention, or a damaged page
        return 0, None
    return (int(row[0]), row[1]) if row else (0, None)


def describe(path: Path, oldest_kept: float | None) -> str | None:
    """What ``report`` says about the traces retention dropped; None when none were."""
    from perfdoctor.store import opening

    with opening.reading(path) as (conn, _, _):
        count, max_bytes = dropped(conn)
    if not count:
        return None
    cap = f" to keep it under {max_bytes / 1024 / 1024:g} MB" if max_bytes else ""
    oldest = ""
    if oldest_kept is not None:
        oldest = "; the oldest trace kept started " + time.strftime(
            "%Y-%m-%d %H:%M:%S", time.localtime(oldest_kept)
        )
    return (
        f"{count:,} older traces were dropped from {path}{cap}{oldest} "
        "(perfdoctor run --max-store-mb sets the cap, 0 for none)"
    )
