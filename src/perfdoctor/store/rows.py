"""Decoding a store's rows, leaving out and counting those that do not decode.

A store can be edited by hand (it is a plain SQLite file) or half written: a row
with bad JSON or a value of the wrong type is counted in
:class:`perfdoctor.store.salvage.Damage` rather than failing the whole read, or
the analysis far from the store.  Imported by :mod:`perfdoctor.store`, so the
standard library and the capture-safe modules only.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from perfdoctor.model import Location, Trace
from perfdoctor.orm import stored as orm_stored
from perfdoctor.store import salvage


def side_tables(
    conn: sqlite3.Connection, tables: set[str], damage: salvage.Damage
) -> tuple[dict[str, list[Location]], dict[str, str], dict[str, str]]:
    """The call stacks, statements and ORM catalogs the traces refer to, by id.

    A table may be missing: ``orm_catalogs`` came after schema 3 without a
    version bump, and an older store has none."""
    stacks, lost = _table(conn, tables, "stacks", "id, frames", _stack)
    damage.stacks += lost
    statements, lost = _table(conn, tables, "statements", "fingerprint, statement", _statement)
    damage.statements += lost
    catalogs, lost = _table(conn, tables, "orm_catalogs", "id, catalog", _catalog)
    damage.orm_catalogs += lost
    return stacks, statements, catalogs


T = TypeVar("T")


def _table(
    conn: sqlite3.Connection,
    tables: set[str],
    table: str,
    columns: str,
    decode: Callable[[str, Any], T | None],
) -> tuple[dict[str, T], int]:
    """id -> decoded value of each row of ``table`` (id, value), and how many
    rows SQLite could not read or ``decode`` refused."""
    if table not in tables:
        return {}, 0
    read = salvage.read_table(conn, table, columns)
    found: dict[str, T] = {}
    lost = read.lost
    for key, value in read.rows:
        try:
            decoded = decode(key, value)
        except salvage.DECODE_ERRORS:
            decoded = None
        if decoded is None:
            lost += 1
        else:
            found[key] = decoded
    return found, lost


def _stack(_: str, frames: Any) -> list[Location] | None:
    stack = [Location(p, int(line), fn) for p, line, fn in json.loads(frames)]
    if all(isinstance(f.path, str) and isinstance(f.function, str) for f in stack):
        return stack
    return None


def _statement(_: str, statement: Any) -> str | None:
    return statement if isinstance(statement, str) else None


def _catalog(catalog_id: str, text: Any) -> str | None:
    # Parsed now (once per id, and kept for the traces that name it) to count
    # the catalogs that do not parse.
    return text if orm_stored.catalogs_for({"orm": [catalog_id]}, {catalog_id: text}) else None


def _number(value: object) -> bool:
    return isinstance(value, (int, float))


_NUMBER = (int, float)
_TEXT = (str, type(None))
# The types a span's fields may hold, in Span's order, as one set of every
# allowed combination: a span is checked with one look-up (a report reads
# hundreds of thousands of spans).
_SPAN_TYPES = frozenset(
    itertools.product(
        (str,),  # kind
        _NUMBER,  # start_ms
        _NUMBER,  # duration_ms
        _TEXT,  # framework
        _TEXT,  # system
        _TEXT,  # fingerprint
        _TEXT,  # params_digest
        (*_NUMBER, type(None)),  # rows
        (*_NUMBER, *_TEXT),  # connection_id: grouped by, so any JSON scalar
        (dict,),  # attrs
    )
)


def check_trace(trace: Trace, spans: bool = True) -> None:
    """Raise TypeError when a decoded trace holds a value of the wrong type (a
    text duration, a list for a status): the analysis would fail on it later.
    ``spans=False``: its spans were checked as they were decoded."""
    if not (
        isinstance(trace.id, str)
        and isinstance(trace.name, str)
        and isinstance(trace.kind, str)
        and _number(trace.started_at)
        and _number(trace.duration_ms)
        and (trace.status is None or isinstance(trace.status, int))
        and isinstance(trace.pid, int)
        and (trace.cpu_ms is None or _number(trace.cpu_ms))
        and isinstance(trace.attrs, dict)
    ):
        raise TypeError(f"trace {trace.id!r}: a column holds a value of the wrong type")
    if not spans:
        return
    allowed = _SPAN_TYPES
    for span in trace.spans:
        types = (
            type(span.kind),
            type(span.start_ms),
            type(span.duration_ms),
            type(span.framework),
            type(span.system),
            type(span.fingerprint),
            type(span.params_digest),
            type(span.rows),
            type(span.connection_id),
            type(span.attrs),
        )
        if types not in allowed:
            raise TypeError(f"trace {trace.id!r}: a span holds a value of the wrong type")
