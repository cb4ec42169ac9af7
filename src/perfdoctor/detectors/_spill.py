"""A private temporary SQLite database for what a detector must keep to the end.

Some detectors can only answer once every trace is read (a cache entry's writes
and reads in time order, while the store's chunks come endpoint by endpoint),
and what they keep grows with the traffic.  Kept here, it costs SQLite's page
cache (bounded below) instead of Python objects, whatever the store's size.

An empty file name gives a database of this connection's own, in the system's
temporary directory, deleted when it is closed.  Nothing here raises: a
database that cannot be opened or written (a full disk) answers None or False,
and the detector keeps its rows in memory, as it did before spilling.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from typing import Any

# What can go wrong writing a row: SQLite's errors (a full disk, a read-only
# temporary directory, a type it cannot store), an int past 64 bits, a str
# with a lone surrogate (not UTF-8).
ERRORS = (sqlite3.Error, OverflowError, ValueError)

# SQLite's page cache for the temporary database, in KiB: the memory it costs
# past that is on disk.  The writes are appended in rowid order and read back
# once, so a larger cache barely helps.
_CACHE_KIB = 1024


def temporary() -> sqlite3.Connection:
    conn = sqlite3.connect("", isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    return conn


class Spill:
    """One detector's temporary database, opened at its first write.

    ``schema``: the statements creating its tables.  ``opener``: how the database
    is opened (the tests give one that fills up).
    """

    def __init__(
        self, schema: Iterable[str], opener: Callable[[], sqlite3.Connection] = temporary
    ) -> None:
        self.schema = tuple(schema)
        self.opener = opener
        self.conn: sqlite3.Connection | None = None
        # Once writing failed, never again: the detector keeps its rows in memory.
        self.failed = False
        self.used = False

    def write(self, batches: Iterable[tuple[str, Iterable[Any]]]) -> bool:
        """Each (INSERT statement, rows) in one transaction: all of them or none."""
        if self.failed:
            return False
        try:
            if self.conn is None:
                self.conn = self.opener()
                for statement in self.schema:
                    self.conn.execute(statement)
            conn = self.conn
            conn.execute("BEGIN")
            try:
                for statement, rows in batches:
                    conn.executemany(statement, rows)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except ERRORS:
            self.failed = True
            return False
        self.used = True
        return True

    def rows(self, query: str, parameters: Iterable[Any] = ()) -> Iterator[Any]:
        """The rows of a query (none before the first write)."""
        if self.conn is None or not self.used:
            return iter(())
        return self.conn.execute(query, tuple(parameters))

    def execute(self, statement: str) -> bool:
        if self.conn is None:
            return False
        try:
            self.conn.execute(statement)
        except sqlite3.Error:
            return False
        return True

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except sqlite3.Error:
                pass
            self.conn = None


class Distinct:
    """How many distinct values each group has (the requests or the users of a
    finding, which grow with the traffic): the values in a temporary database
    past a batch, counted there at the end.  In memory if it cannot be written."""

    _BATCH = 4096

    def __init__(self, opener: Callable[[], sqlite3.Connection] = temporary) -> None:
        self.spill = Spill(("CREATE TABLE seen (grp, value)",), opener)
        self.batch: list[tuple[int, object]] = []
        # Each group's values, once the database failed.
        self.sets: dict[int, set[object]] | None = None

    def add(self, group: int, value: object) -> None:
        if self.sets is not None:
            self.sets.setdefault(group, set()).add(value)
            return
        self.batch.append((group, value))
        if len(self.batch) >= self._BATCH:
            self._write()

    def _write(self) -> None:
        if self.spill.write((("INSERT INTO seen VALUES (?, ?)", self.batch),)):
            self.batch.clear()
            return
        self._in_memory()

    def _in_memory(self) -> None:
        sets: dict[int, set[object]] = {}
        for group, value in self.spill.rows("SELECT grp, value FROM seen"):
            sets.setdefault(group, set()).add(value)
        for group, value in self.batch:
            sets.setdefault(group, set()).add(value)
        self.batch.clear()
        self.sets = sets
        self.spill.close()

    def counts(self) -> dict[int, int]:
        try:
            if self.sets is None and self.spill.used:
                if self.batch:
                    self._write()
                if self.sets is None:
                    try:
                        query = "SELECT grp, COUNT(DISTINCT value) FROM seen GROUP BY grp"
                        return dict(self.spill.rows(query))
                    except ERRORS:  # no room to sort them: counted here
                        self._in_memory()
            if self.sets is None:  # a batch at most: never written
                self._in_memory()
            assert self.sets is not None
            return {group: len(values) for group, values in self.sets.items()}
        finally:
            self.spill.close()
