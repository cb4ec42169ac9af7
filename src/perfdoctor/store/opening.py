"""Opening a trace store to read it, without changing it.

``mode=ro``: a reader never checkpoints a WAL into the file or deletes it, so
reading leaves the store as it found it.  On a read-only mount a WAL reader
cannot create the -shm index it needs; ``immutable=1`` then reads the main file
alone (nothing can be writing to it there).  A file cut short, which SQLite
refuses whole, is read from a copy padded to its size.

Imported by :mod:`perfdoctor.store`, so the standard library only.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from perfdoctor.errors import StoreError
from perfdoctor.store import salvage


@contextmanager
def reading(path: Path) -> Iterator[tuple[sqlite3.Connection, int, list[str]]]:
    """A read-only connection to the store at ``path``, its schema version, and
    notes on what it cannot see; unreadable is a :class:`StoreError`."""
    if not path.exists():
        raise StoreError(
            f"no trace store at {path}: capture some traffic first "
            "(perfdoctor run -- COMMAND) or pass --traces PATH"
        )
    notes: list[str] = []
    with ExitStack() as cleanup:
        try:
            conn, version = _read_only(path, notes)
        except sqlite3.DatabaseError as exc:
            conn, version = _cut_short(path, exc, notes, cleanup)
        cleanup.callback(conn.close)  # before a copy's folder goes
        yield conn, version, notes


def _read_only(path: Path, notes: list[str]) -> tuple[sqlite3.Connection, int]:
    uri = path.absolute().as_uri()
    try:
        return _version(_connect(uri + "?mode=ro"))
    except sqlite3.OperationalError as exc:
        if "unable to open" not in str(exc):
            raise
    wal = Path(f"{path}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        notes.append(
            f"{wal} may hold traces not yet moved into {path}; SQLite cannot read it "
            f"where {path.name}-shm cannot be created (a read-only mount), so they are "
            "left out: copy the store and its -wal file to a writable folder to read them"
        )
    return _version(_connect(uri + "?immutable=1"))


def _cut_short(
    path: Path, exc: sqlite3.DatabaseError, notes: list[str], cleanup: ExitStack
) -> tuple[sqlite3.Connection, int]:
    """SQLite refuses a file shorter than its header says: read a copy padded
    to that size instead, its missing part counted as damaged."""
    size = salvage.cut_short(path)
    if size is None or not salvage.is_damage(exc):
        raise unreadable(path, exc) from None
    folder = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="perfdoctor-")))
    try:
        copy = salvage.padded_copy(path, size, folder)
        conn, version = _version(_connect(copy.as_uri() + "?mode=ro"))
    except (OSError, sqlite3.DatabaseError):
        raise unreadable(path, exc) from None
    notes.append(
        f"{path} is cut short ({path.stat().st_size} of {size} bytes): "
        "the traces in its missing part are counted as damaged"
    )
    return conn, version


def _connect(uri: str) -> sqlite3.Connection:
    # The class, not sqlite3.connect: under capture that is patched, and
    # perfdoctor must not trace its own reads.
    return sqlite3.Connection(uri, uri=True, timeout=60.0, isolation_level=None)


def _version(conn: sqlite3.Connection) -> tuple[sqlite3.Connection, int]:
    try:
        # The first statement opens the file (and its WAL index).
        return conn, int(conn.execute("PRAGMA user_version").fetchone()[0])
    except BaseException:
        conn.close()
        raise


def unreadable(path: Path, exc: sqlite3.DatabaseError) -> StoreError:
    """The one line for a store SQLite will not read."""
    if "no such" in str(exc):  # a table or column a trace store has
        return StoreError(f"{path} is not a perfdoctor trace store ({exc})")
    if not salvage.is_damage(exc):
        return StoreError(f"cannot read the trace store {path}: {exc}")
    return StoreError(
        f"{path} is damaged or not a trace store: SQLite cannot read it ({exc}); "
        "capture again into a new file (perfdoctor run --clear -- COMMAND)"
    )
