"""Reading what a damaged trace store still holds, and counting what it does not.

A disk error, a copy cut short or a crash leaves pages SQLite refuses ("database
disk image is malformed"); a hand edit leaves rows perfdoctor cannot decode.
Either way the rest of the store is worth reading.  A table scan that SQLite
stops part way is retried by rowid ranges, each range that fails halved down to
single rows; a row that cannot be read or decoded is left out and counted in
:class:`Damage`, and the reports say how many were left out.

Imported by :mod:`perfdoctor.store`, so the standard library only.
"""

from __future__ import annotations

import bisect
import os
import shutil
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# A table damaged high in its tree (an interior page) fails every range that
# crosses it: bisecting down to single rows takes about two queries per row in
# the lost part, each a few microseconds.  Past this many queries the rest of
# the table is counted as lost rather than searched.
MAX_PROBES = 200_000

# What a row that cannot be decoded raises: bad JSON (ValueError), a value of the
# wrong type (TypeError), too many or too few fields (ValueError), JSON nested
# past the recursion limit.
DECODE_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    ArithmeticError,
    RecursionError,
)

# Errors SQLite gives for a busy or interrupted database, a file it may not
# open, or a schema that is not a trace store's: not damage.
_NOT_DAMAGE = ("locked", "busy", "interrupt", "unable to open", "no such")


@dataclass
class Damage:
    """What a read of a store left out: rows SQLite refused or that did not decode.

    A damaged trace is left out of the analysis.  A damaged call stack, statement
    or ORM catalog is left out of the spans and traces that name it (a span with
    no call site, a query with no text, a fix that names no relation)."""

    store: str = ""
    traces: int = 0
    stacks: int = 0
    statements: int = 0
    orm_catalogs: int = 0
    # What the reader could not see at all (a -wal it cannot read), one line each.
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """The JSON report's ``damaged``: how many rows of each table were left out."""
        return {
            "traces": self.traces,
            "stacks": self.stacks,
            "statements": self.statements,
            "orm_catalogs": self.orm_catalogs,
        }

    def line(self) -> str | None:
        """One line for a report, or None when nothing was left out."""
        if not any(self.counts().values()):
            return None
        parts = [
            _plural(n, noun)
            for n, noun in (
                (self.stacks, "call stack"),
                (self.statements, "statement"),
                (self.orm_catalogs, "ORM catalog"),
            )
            if n
        ]
        where = f"in {self.store}"
        text = f"skipped {_plural(self.traces, 'damaged trace')} {where}" if self.traces else ""
        if parts:
            others = f"{', '.join(parts)} damaged"
            text = f"{text} (and {others})" if text else f"{others} {where}"
            text += ": the traces that use them are read without them"
        return text + "; capture again into a new store for complete results"

    def warnings(self) -> list[str]:
        """Lines for stderr: what was skipped, and what could not be seen."""
        line = self.line()
        return ([line] if line else []) + self.notes


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def is_damage(exc: sqlite3.DatabaseError) -> bool:
    """Whether SQLite failed because of the file's content (not a lock)."""
    text = str(exc).lower()
    return not any(word in text for word in _NOT_DAMAGE)


@dataclass
class Rows:
    """A table's rows as read, and how many SQLite would not give back."""

    rows: list[Any]
    lost: int = 0
    # In the order asked for: a salvaged table comes back in rowid order.
    ordered: bool = True


def read_table(conn: sqlite3.Connection, table: str, columns: str, order_by: str = "") -> Rows:
    """``SELECT columns FROM table``, reading around pages SQLite refuses."""
    try:
        return Rows(conn.execute(f"SELECT {columns} FROM {table} {order_by}").fetchall())
    except sqlite3.DatabaseError as exc:
        if not is_damage(exc):
            raise
    return _Salvage(conn, table, columns).run()


class _Salvage:
    """Reads a table by rowid ranges, halving each range SQLite refuses."""

    def __init__(self, conn: sqlite3.Connection, table: str, columns: str) -> None:
        self.conn = conn
        self.sql = f"SELECT rowid, {columns} FROM {table} WHERE rowid BETWEEN ? AND ?"
        # One row alone: a range scan steps on to the next row's page to find
        # the range's end, and that page may be the damaged one.
        self.one = f"SELECT rowid, {columns} FROM {table} WHERE rowid = ?"
        self.found: dict[int, Any] = {}
        self.refused: list[int] = []  # single rowids SQLite would not read
        self.probes = 0
        # The table's rowids as its indexes list them (their own pages, often
        # intact): what to look for, and how many rows there are.
        self.known, self.complete = _indexed_rowids(conn, table)
        ends = [*self.known, *_rowid_ends(conn, table)]
        self.low, self.high = (min(ends), max(ends)) if ends else (1, 0)

    def run(self) -> Rows:
        pending = [(self.low, self.high)]
        while pending and self.probes < MAX_PROBES:
            low, high = pending.pop()
            if self.complete and not self._known_between(low, high):
                continue  # every index says no row lives there
            pending.extend(reversed(self._read(low, high)))
        expected = set(self.known)
        if not self.complete:
            expected.update(self.refused)
        lost = len(expected - self.found.keys())
        if not self.complete:
            # SQLite refused a page of this table and no index says what it
            # held: at least one row is missing.
            lost = max(1, lost)
        rows = [self.found[rowid] for rowid in sorted(self.found)]
        return Rows(rows, lost, ordered=False)

    def _read(self, low: int, high: int) -> list[tuple[int, int]]:
        """Read ``low..high``; the ranges still to read when SQLite stops."""
        self.probes += 1
        last = low - 1
        query = (self.one, (low,)) if low == high else (self.sql, (low, high))
        try:
            for row in self.conn.execute(*query):
                last = row[0]
                self.found[last] = row[1:]
            return []
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc):
                raise
        start = last + 1
        if start > high:
            return []
        if start == high:
            self.refused.append(start)
            return []
        if last >= low:  # got somewhere: the rest may read in one go
            return [(start, high)]
        middle = (start + high) // 2
        return [(start, middle), (middle + 1, high)]

    def _known_between(self, low: int, high: int) -> bool:
        return bisect.bisect_left(self.known, low) < bisect.bisect_right(self.known, high)


def _indexed_rowids(conn: sqlite3.Connection, table: str) -> tuple[list[int], bool]:
    """Rowids every readable index of ``table`` lists; whether one listed all."""
    rowids: set[int] = set()
    complete = False
    try:
        names = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (table,)
            )
        ]
    except sqlite3.DatabaseError:
        return [], False
    for name in names:
        quoted = '"' + name.replace('"', '""') + '"'
        try:
            for (rowid,) in conn.execute(f"SELECT rowid FROM {table} INDEXED BY {quoted}"):
                rowids.add(rowid)
            complete = True
        except sqlite3.DatabaseError:
            continue
    return sorted(rowids), complete


def _rowid_ends(conn: sqlite3.Connection, table: str) -> Iterable[int]:
    for function in ("min", "max"):
        try:
            value = conn.execute(f"SELECT {function}(rowid) FROM {table}").fetchone()[0]
        except sqlite3.DatabaseError:
            continue
        if isinstance(value, int):
            yield value


_HEADER = b"SQLite format 3\x00"


def cut_short(path: Path) -> int | None:
    """The size a store's header says it has, when the file is shorter (a copy
    or download cut short: SQLite then refuses the whole file); else None."""
    try:
        with open(path, "rb") as file:
            header = file.read(100)
        size = path.stat().st_size
    except OSError:
        return None
    if len(header) < 100 or not header.startswith(_HEADER):
        return None
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    # The page count is only kept up to date when these two counters agree.
    if header[24:28] != header[92:96]:
        return None
    expected = page_size * pages
    return expected if size < expected else None


def padded_copy(path: Path, size: int, folder: Path) -> Path:
    """A copy of a store cut short, padded with zeros to ``size``: SQLite reads
    the pages that are there, and refuses (so we count) those that are not."""
    copy = folder / path.name
    shutil.copyfile(path, copy)
    wal = Path(f"{path}-wal")
    if wal.exists():
        shutil.copyfile(wal, Path(f"{copy}-wal"))
    os.truncate(copy, size)
    return copy
