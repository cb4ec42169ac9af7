"""A store read endpoint by endpoint, a bounded number of traces at a time.

``perfdoctor report`` analyses stores of millions of spans: reading them whole
into model objects costs memory in proportion to the store.  Here SQLite sorts
the rowids by endpoint and start (its sorter spills to a temporary file past
its cache, where a list of them here would grow by 8 bytes a trace), and they
are read off the sorted result a chunk at a time; each chunk's rows are then
read by rowid and decoded, and can be dropped once analysed.  The stacks,
statements and ORM catalogs are read once (one row per distinct one) and shared
by every chunk, as a whole read shares them.

Chunks come endpoint by endpoint, in the order of each endpoint's first trace,
and an endpoint's traces in the order they started: a detector fed every chunk
sees the traces in the order a whole read gives them, grouped by endpoint.

A store SQLite cannot scan (damaged pages) is read whole, around the damage,
as :func:`perfdoctor.store.iter_traces` reads it, and cut into the same chunks.
"""

from __future__ import annotations

import sqlite3
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from perfdoctor.errors import StoreError
from perfdoctor.model import Trace
from perfdoctor.store import (
    _TRACE_COLUMNS,
    _reading,
    _trace,
    iter_traces,
    layout,
    opening,
    salvage,
)
from perfdoctor.store import rows as store_rows

# Bound parameters per statement: SQLite before 3.32 allows 999.
_IDS_PER_QUERY = 500


class Chunk(list[Trace]):
    """A chunk this read made and holds no further use for: its reader may empty
    it once read (:func:`perfdoctor.analysis.analyze.analyze_chunks` does, so that
    the traces are freed before it collects, while this generator still names
    the list)."""


class Reading:
    """The chunks of one store, and what could not be read (filled while reading)."""

    def __init__(self, path: Path, size: int) -> None:
        self.path = path
        self.size = max(1, size)
        self.damage = salvage.Damage(str(path))
        self.traces = 0

    def chunks(self) -> Iterator[list[Trace]]:
        """The traces, chunk by chunk (a :class:`Chunk` each, but for a damaged
        store's, cut from a whole read)."""
        with _reading(self.path) as (conn, notes):
            self.damage.notes.extend(notes)
            conn.execute("BEGIN")  # one snapshot: the app may still be writing
            try:
                yield from self._chunks(conn)
            except sqlite3.DatabaseError as exc:
                raise opening.unreadable(self.path, exc) from None
            finally:
                try:
                    conn.execute("COMMIT")
                except sqlite3.DatabaseError:
                    pass

    def _chunks(self, conn: sqlite3.Connection) -> Iterator[list[Trace]]:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
        if "traces" not in tables:
            raise StoreError(f"{self.path} is not a perfdoctor trace store (no traces table)")
        runs = _endpoint_runs(conn, self.size)
        if runs is None:
            yield from self._whole()
            return
        stacks, statements, catalogs = store_rows.side_tables(conn, tables, self.damage)
        memo = layout.ShapeMemo()
        for rowids in runs:
            rows = _rows(conn, rowids)
            chunk = Chunk()
            for row in rows:
                if row is None:
                    self.damage.traces += 1
                    continue
                try:
                    chunk.append(_trace(row, stacks, statements, catalogs, memo))
                except salvage.DECODE_ERRORS:  # a hand-edited or half-written row
                    self.damage.traces += 1
            if chunk:
                self.traces += len(chunk)
                yield chunk

    def _whole(self) -> Iterator[list[Trace]]:
        from perfdoctor.analysis.analyze import chunks_of

        known = list(self.damage.notes)
        traces = list(iter_traces(self.path, self.damage))
        # That read opened the store again and noted what the first open noted.
        added = self.damage.notes[len(known) :]
        self.damage.notes[:] = known + [note for note in added if note not in known]
        self.traces = len(traces)
        yield from chunks_of(traces, self.size)


def read(path: Path, size: int) -> Reading:
    return Reading(path, size)


# Each endpoint's first start, for the order of the endpoints (one row an
# endpoint, in the connection's own temporary database: the store is not written).
_FIRSTS = (
    "CREATE TEMP TABLE IF NOT EXISTS perfdoctor_firsts (name PRIMARY KEY, first)",
    "DELETE FROM temp.perfdoctor_firsts",
    # A scan of the table rather than of the name index: the index's order would
    # look up every row's start apart (three times the CPU time).
    "INSERT INTO temp.perfdoctor_firsts "
    "SELECT name, MIN(started_at) FROM traces NOT INDEXED GROUP BY name",
)
_ORDER = (
    "SELECT t.rowid, t.name FROM traces AS t NOT INDEXED "
    "JOIN temp.perfdoctor_firsts AS f ON f.name = t.name "
    "ORDER BY f.first, f.name, t.started_at, t.rowid"
)
# Sorted rows fetched from SQLite at a time.
_FETCH = 1000


def _endpoint_runs(conn: sqlite3.Connection, size: int) -> Iterator[array[int]] | None:
    """Each endpoint's rowids in start order, at most ``size`` at a time, endpoints
    in order of their first trace; None when SQLite cannot scan the table (damage)."""
    try:
        for statement in _FIRSTS:
            conn.execute(statement)
        cursor = conn.execute(_ORDER)
        # The sort reads the whole table before its first row: damage shows here.
        first = cursor.fetchmany(_FETCH)
    except sqlite3.DatabaseError as exc:
        if not salvage.is_damage(exc):
            raise
        return None
    return _runs(cursor, first, size)


def _runs(cursor: sqlite3.Cursor, rows: list[Any], size: int) -> Iterator[array[int]]:
    run: array[int] = array("q")
    name: object = None
    while rows:
        for rowid, row_name in rows:
            if len(run) >= size or (run and row_name != name):
                yield run
                run = array("q")
            name = row_name
            run.append(rowid)
        rows = cursor.fetchmany(_FETCH)
    if run:
        yield run


def _rows(conn: sqlite3.Connection, rowids: array[int]) -> list[Any]:
    """The rows of ``rowids`` in that order; None for one SQLite cannot read."""
    found: dict[int, Any] = {}
    for start in range(0, len(rowids), _IDS_PER_QUERY):
        part = rowids[start : start + _IDS_PER_QUERY]
        sql = (
            f"SELECT rowid, {_TRACE_COLUMNS} FROM traces "
            f"WHERE rowid IN ({','.join('?' * len(part))})"
        )
        try:
            for row in conn.execute(sql, tuple(part)):
                found[row[0]] = row[1:]
        except sqlite3.DatabaseError as exc:
            if not salvage.is_damage(exc):
                raise
            found.update(_one_by_one(conn, part))
    return [found.get(rowid) for rowid in rowids]


def _one_by_one(conn: sqlite3.Connection, rowids: array[int]) -> dict[int, Any]:
    found = {}
    for rowid in rowids:
        try:
            row = conn.execute(
                f"SELECT {_TRACE_COLUMNS} FROM traces WHERE rowid = ?", (rowid,)
            ).fetchone()
        except sqlite3.DatabaseError as exc:
            if not salvage.is_damage(exc):
                raise
            continue
        if row is not None:
            found[rowid] = row
    return found
